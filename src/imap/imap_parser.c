/* The IMAP line grammar: what a finished logical line says.
 *
 * Only the head of a line is parsed here (tag, command or response name,
 * number, response code); arguments are left to the tokenizer, so that one
 * unusual argument never costs a whole line. */
#include "imap/imap_parser.h"

#include <stdlib.h>
#include <string.h>

/* Tags of real clients are short; longer first words are body text. */
#define PLAUSIBLE_TAG_MAX 32

enum cmd_args {
	ARGS_NONE,	/* the command is alone on its line */
	ARGS_SOME,	/* it needs arguments */
	ARGS_ANY,
};

struct cmd_def {
	const char *name;
	enum cmd_args args;
};

/* Sorted by strcmp for bsearch: RFC 9051, RFC 3501 and the extensions
 * clients use (ACL 4314, QUOTA 9208, METADATA 5464, NOTIFY 5465, SORT and
 * THREAD 5256, MOVE 6851, UIDPLUS 4315, ID 2971, COMPRESS 4978, UNSELECT
 * 3691, REPLACE 8508, URLAUTH 4467, I18NLEVEL 5255, CONVERT 5259, CONTEXT
 * 5267, MULTISEARCH 7377, ANNOTATE 5257, Gmail XLIST, Apple push). */
static const struct cmd_def cmd_table[] = {
	{ "APPEND", ARGS_SOME },
	{ "AUTHENTICATE", ARGS_SOME },
	{ "CANCELUPDATE", ARGS_SOME },
	{ "CAPABILITY", ARGS_NONE },
	{ "CHECK", ARGS_NONE },
	{ "CLOSE", ARGS_NONE },
	{ "COMPARATOR", ARGS_ANY },
	{ "COMPRESS", ARGS_SOME },
	{ "CONVERT", ARGS_SOME },
	{ "COPY", ARGS_SOME },
	{ "CREATE", ARGS_SOME },
	{ "DELETE", ARGS_SOME },
	{ "DELETEACL", ARGS_SOME },
	{ "ENABLE", ARGS_SOME },
	{ "ESEARCH", ARGS_SOME },
	{ "EXAMINE", ARGS_SOME },
	{ "EXPUNGE", ARGS_NONE },
	{ "FETCH", ARGS_SOME },
	{ "GENURLAUTH", ARGS_SOME },
	{ "GETACL", ARGS_SOME },
	{ "GETANNOTATION", ARGS_SOME },
	{ "GETMETADATA", ARGS_SOME },
	{ "GETQUOTA", ARGS_SOME },
	{ "GETQUOTAROOT", ARGS_SOME },
	{ "ID", ARGS_SOME },
	{ "IDLE", ARGS_NONE },
	{ "LANGUAGE", ARGS_ANY },
	{ "LIST", ARGS_SOME },
	{ "LISTRIGHTS", ARGS_SOME },
	{ "LOGIN", ARGS_SOME },
	{ "LOGOUT", ARGS_NONE },
	{ "LSUB", ARGS_SOME },
	{ "MOVE", ARGS_SOME },
	{ "MYRIGHTS", ARGS_SOME },
	{ "NAMESPACE", ARGS_NONE },
	{ "NOOP", ARGS_NONE },
	{ "NOTIFY", ARGS_SOME },
	{ "RENAME", ARGS_SOME },
	{ "REPLACE", ARGS_SOME },
	{ "RESETKEY", ARGS_ANY },
	{ "SEARCH", ARGS_SOME },
	{ "SELECT", ARGS_SOME },
	{ "SETACL", ARGS_SOME },
	{ "SETANNOTATION", ARGS_SOME },
	{ "SETMETADATA", ARGS_SOME },
	{ "SETQUOTA", ARGS_SOME },
	{ "SORT", ARGS_SOME },
	{ "STARTTLS", ARGS_NONE },
	{ "STATUS", ARGS_SOME },
	{ "STORE", ARGS_SOME },
	{ "SUBSCRIBE", ARGS_SOME },
	{ "THREAD", ARGS_SOME },
	{ "UID", ARGS_SOME },
	{ "UID COPY", ARGS_SOME },
	{ "UID EXPUNGE", ARGS_SOME },
	{ "UID FETCH", ARGS_SOME },
	{ "UID MOVE", ARGS_SOME },
	{ "UID REPLACE", ARGS_SOME },
	{ "UID SEARCH", ARGS_SOME },
	{ "UID SORT", ARGS_SOME },
	{ "UID STORE", ARGS_SOME },
	{ "UID THREAD", ARGS_SOME },
	{ "UNAUTHENTICATE", ARGS_NONE },
	{ "UNSELECT", ARGS_NONE },
	{ "UNSUBSCRIBE", ARGS_SOME },
	{ "URLFETCH", ARGS_SOME },
	{ "XAPPLEPUSHSERVICE", ARGS_SOME },
	{ "XLIST", ARGS_SOME },
};

/* Untagged response names (RFC 9051 section 7 and the same extensions),
 * sorted; the ones that follow a number are marked. */
struct untagged_def {
	const char *name;
	bool numbered;
};

static const struct untagged_def untagged_table[] = {
	{ "ACL", false },
	{ "ANNOTATION", false },
	{ "BAD", false },
	{ "BYE", false },
	{ "CAPABILITY", false },
	{ "COMPARATOR", false },
	{ "CONVERTED", false },
	{ "ENABLED", false },
	{ "ESEARCH", false },
	{ "EXISTS", true },
	{ "EXPUNGE", true },
	{ "FETCH", true },
	{ "FLAGS", false },
	{ "GENURLAUTH", false },
	{ "ID", false },
	{ "LANGUAGE", false },
	{ "LIST", false },
	{ "LISTRIGHTS", false },
	{ "LSUB", false },
	{ "METADATA", false },
	{ "MYRIGHTS", false },
	{ "NAMESPACE", false },
	{ "NO", false },
	{ "OK", false },
	{ "PREAUTH", false },
	{ "QUOTA", false },
	{ "QUOTAROOT", false },
	{ "RECENT", true },
	{ "SEARCH", false },
	{ "SORT", false },
	{ "STATUS", false },
	{ "THREAD", false },
	{ "URLFETCH", false },
	{ "VANISHED", false },
	{ "XLIST", false },
};

#define N_CMDS (sizeof cmd_table / sizeof cmd_table[0])
#define N_UNTAGGED (sizeof untagged_table / sizeof untagged_table[0])

static int cmd_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cmd_def *)elem)->name);
}

static int untagged_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct untagged_def *)elem)->name);
}

static const struct cmd_def *cmd_find(const char *name)
{
	return bsearch(name, cmd_table, N_CMDS, sizeof cmd_table[0], cmd_cmp);
}

static const struct untagged_def *untagged_find(const char *name)
{
	return bsearch(name, untagged_table, N_UNTAGGED, sizeof untagged_table[0],
		       untagged_cmp);
}

bool imap_command_known(const char *name)
{
	return cmd_find(name) != NULL;
}

/* --- character classes (RFC 9051 section 9) --------------------------- */

/* ATOM-CHAR     = <any CHAR except atom-specials>
 * atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                 quoted-specials / resp-specials
 * list-wildcards = "%" / "*";  quoted-specials = DQUOTE / "\";
 * resp-specials = "]";  CHAR = %x01-7F;  CTL = %x00-1F / %x7F */
static inline bool is_atom_char(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']':
		return false;
	default:
		return true;
	}
}

/* tag = 1*<any ASTRING-CHAR except "+">;  ASTRING-CHAR = ATOM-CHAR / "]" */
static inline bool is_tag_char(uint8_t c)
{
	return (is_atom_char(c) || c == ']') && c != '+';
}

static inline uint8_t upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* Length of the run of bytes from p[pos] that pass cls. */
static size_t run_len(const uint8_t *p, size_t n, size_t pos, bool (*cls)(uint8_t))
{
	size_t i = pos;

	while (i < n && cls(p[i]))
		i++;
	return i - pos;
}

/* Append p..n upper-cased to the NUL-terminated name (size IMAP_MAX_NAME);
 * false if it did not fit. */
static bool name_add(char *name, const uint8_t *p, size_t n)
{
	size_t have = strlen(name);

	if (have + n >= IMAP_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		name[have + i] = (char)upper(p[i]);
	name[have + n] = '\0';
	return true;
}

static bool is_digit_c(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static struct buf_slice slice(const uint8_t *p, size_t n)
{
	struct buf_slice s = { p, n };

	return s;
}

/* --- client lines ----------------------------------------------------- */

/* command = tag SP (command-any / command-auth / command-nonauth /
 *           command-select) CRLF
 * Lower-case names are normal traffic; "UID FETCH" etc. is one name. */
int imap_parse_command(const struct imap_line *line, struct imap_command *cmd)
{
	const uint8_t *p = line->text.ptr;
	size_t n = line->text.len, pos, len;

	memset(cmd, 0, sizeof *cmd);
	len = run_len(p, n, 0, is_tag_char);
	if (len == 0 || len >= n || p[len] != ' ')
		return -1;
	cmd->tag = slice(p, len);
	pos = len + 1;
	len = run_len(p, n, pos, is_atom_char);
	if (len == 0 || (pos + len < n && p[pos + len] != ' '))
		return -1;
	if (!name_add(cmd->name, p + pos, len))	/* too long: keep a prefix */
		(void)name_add(cmd->name, p + pos, IMAP_MAX_NAME - 1);
	pos += len;
	if (strcmp(cmd->name, "UID") == 0 && pos + 1 < n) {
		size_t sub = run_len(p, n, pos + 1, is_atom_char);

		if (sub != 0 && (pos + 1 + sub == n || p[pos + 1 + sub] == ' ') &&
		    name_add(cmd->name, (const uint8_t *)" ", 1) &&
		    name_add(cmd->name, p + pos + 1, sub))
			pos += 1 + sub;
		else
			cmd->name[3] = '\0';
	}
	while (pos < n && p[pos] == ' ')
		pos++;
	cmd->args = slice(p + pos, n - pos);
	cmd->args_off = pos;
	cmd->known = len < IMAP_MAX_NAME && imap_command_known(cmd->name);
	return 0;
}

/* --- server lines ----------------------------------------------------- */

static bool is_status_name(const char *name)
{
	return strcmp(name, "OK") == 0 || strcmp(name, "NO") == 0 ||
	       strcmp(name, "BAD") == 0 || strcmp(name, "BYE") == 0 ||
	       strcmp(name, "PREAUTH") == 0;
}

/* End of the response code that opens at p[pos] == "[": the index of its
 * "]", or 0 if it does not close.  Brackets nest and quoted strings are
 * skipped, so [BADCHARSET (UTF-8)] and [REFERRAL "x]"] are whole:
 *   resp-text = ["[" resp-text-code "]" SP] [text] */
static size_t code_end(const uint8_t *p, size_t n, size_t pos)
{
	int depth = 0;

	for (size_t i = pos; i < n; i++) {
		if (p[i] == '"') {
			for (i++; i < n && p[i] != '"'; i++)
				if (p[i] == '\\')
					i++;
			if (i >= n)
				return 0;
		} else if (p[i] == '[') {
			if (++depth > IMAP_MAX_DEPTH)
				return 0;
		} else if (p[i] == ']' && --depth == 0) {
			return i;
		}
	}
	return 0;
}

/* resp-text after a status name at p[pos] (just past the name). */
static void resp_text(struct imap_response *r, const uint8_t *p, size_t n, size_t pos)
{
	size_t end;

	if (pos < n && p[pos] == ' ')
		pos++;
	if (r->is_status && pos < n && p[pos] == '[' && (end = code_end(p, n, pos)) != 0) {
		r->code = slice(p + pos + 1, end - pos - 1);
		pos = end + 1;
		if (pos < n && p[pos] == ' ')
			pos++;
	}
	r->text = slice(p + pos, n - pos);
	r->text_off = pos;
}

/* response-data = "*" SP (resp-cond-state / resp-cond-bye /
 *                 mailbox-data / message-data / capability-data /
 *                 enable-data) CRLF
 * message-data  = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att)) */
static int parse_untagged(const uint8_t *p, size_t n, struct imap_response *r)
{
	size_t pos = 2, len;

	r->kind = IMAP_RESP_UNTAGGED;
	len = run_len(p, n, pos, is_digit_c);
	if (len != 0) {
		for (size_t i = pos; i < pos + len; i++) {
			if (__builtin_mul_overflow(r->number, 10, &r->number) ||
			    __builtin_add_overflow(r->number, (uint64_t)(p[i] - '0'), &r->number))
				return -1;
		}
		r->has_number = true;
		pos += len;
		if (pos >= n || p[pos] != ' ')
			return -1;
		pos++;
	}
	len = run_len(p, n, pos, is_atom_char);
	if (len == 0 || !name_add(r->name, p + pos, len))
		return -1;
	r->is_status = !r->has_number && is_status_name(r->name);
	resp_text(r, p, n, pos + len);
	return 0;
}

/* response-tagged = tag SP resp-cond-state CRLF
 * resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text */
static int parse_tagged(const uint8_t *p, size_t n, struct imap_response *r)
{
	size_t len = run_len(p, n, 0, is_tag_char), pos;

	r->kind = IMAP_RESP_TAGGED;
	if (len == 0 || len >= n || p[len] != ' ')
		return -1;
	r->tag = slice(p, len);
	pos = len + 1;
	len = run_len(p, n, pos, is_atom_char);
	if (len == 0 || !name_add(r->name, p + pos, len))
		return -1;
	if (strcmp(r->name, "OK") != 0 && strcmp(r->name, "NO") != 0 &&
	    strcmp(r->name, "BAD") != 0)
		return -1;
	r->is_status = true;
	resp_text(r, p, n, pos + len);
	return 0;
}

int imap_parse_response(const struct imap_line *line, struct imap_response *r)
{
	const uint8_t *p = line->text.ptr;
	size_t n = line->text.len;

	memset(r, 0, sizeof *r);
	if (n == 0)
		return -1;
	if (p[0] == '+') {
		/* continue-req = "+" SP (resp-text / base64) CRLF; "+" alone
		 * is common (it has no SP) and means the same. */
		size_t pos = n > 1 && p[1] == ' ' ? 2 : 1;

		r->kind = IMAP_RESP_CONTINUATION;
		r->text = slice(p + pos, n - pos);
		r->text_off = pos;
		return 0;
	}
	if (n >= 2 && p[0] == '*' && p[1] == ' ')
		return parse_untagged(p, n, r);
	return parse_tagged(p, n, r);
}

/* --- resynchronisation ------------------------------------------------ */

static bool is_letter(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool has_digit(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_digit_c(p[i]))
			return true;
	return false;
}

/* A word written all upper or all lower case, as clients and servers do;
 * "Please Check" in a body is neither. */
static bool one_case(const uint8_t *p, size_t n)
{
	bool up = false, low = false;

	for (size_t i = 0; i < n; i++) {
		up |= p[i] >= 'A' && p[i] <= 'Z';
		low |= p[i] >= 'a' && p[i] <= 'z';
	}
	return !(up && low);
}

/* A tag as real clients write them: short, with a digit ("a001", "1",
 * "A00001"), or one non-letter ("."); "Hello", "From:" and the "a" of
 * "a list of things" are body text. */
static bool plausible_tag(const uint8_t *p, size_t n, size_t *len_r)
{
	size_t len = run_len(p, n, 0, is_tag_char);

	*len_r = len;
	return len != 0 && len < n && p[len] == ' ' && len <= PLAUSIBLE_TAG_MAX &&
	       (has_digit(p, len) || (len == 1 && !is_letter(p[0])));
}

static bool plausible_c2s(const uint8_t *p, size_t n)
{
	struct imap_line line = { .text = { p, n } };
	struct imap_command cmd;
	size_t tag_len, name_end;
	const struct cmd_def *def;

	if (n == 4 && memcmp(p, "DONE", 4) == 0)
		return true;
	if (!plausible_tag(p, n, &tag_len) || imap_parse_command(&line, &cmd) != 0)
		return false;
	name_end = cmd.args_off;
	while (name_end > tag_len + 1 && p[name_end - 1] == ' ')
		name_end--;
	if (!one_case(p + tag_len + 1, name_end - tag_len - 1) ||
	    (def = cmd_find(cmd.name)) == NULL)
		return false;
	if (def->args == ARGS_NONE)
		return cmd.args.len == 0;
	if (def->args == ARGS_SOME)
		return cmd.args.len != 0 && strcmp(cmd.name, "UID") != 0;
	return true;
}

static bool plausible_s2c(const uint8_t *p, size_t n)
{
	struct imap_line line = { .text = { p, n } };
	struct imap_response r;
	const struct untagged_def *def;
	size_t tag_len;

	if (n >= 1 && p[0] == '+')
		return n == 1 || p[1] == ' ';
	if (imap_parse_response(&line, &r) != 0)
		return false;
	/* A status with neither code nor text ("* BAD", "A003 OK") is as
	 * likely a body line as a response; real servers always add text. */
	if (r.is_status && r.code.ptr == NULL && r.text.len == 0)
		return false;
	if (r.kind == IMAP_RESP_TAGGED)
		return plausible_tag(p, n, &tag_len);
	def = untagged_find(r.name);
	if (def == NULL || def->numbered != r.has_number)
		return false;
	/* "* OK" is a greeting or status; anything else has data after it. */
	return r.is_status || r.text.len != 0 || strcmp(r.name, "SEARCH") == 0 ||
	       r.has_number;
}

bool imap_line_plausible(enum stream_dir dir, const uint8_t *p, size_t n)
{
	return dir == DIR_C2S ? plausible_c2s(p, n) : plausible_s2c(p, n);
}
