/* The IMAP line grammar: what a finished logical line says.
 *
 * Only the head of a line is parsed here (tag, command or response name,
 * number, response code); arguments are left to the tokenizer, so that one
 * unusual argument never costs a whole line. */
#include "imap/imap_parser.h"

#include "imap/imap_chars.h"

#include <string.h>

/* Tags of real clients are short; longer first words are body text. */
#define PLAUSIBLE_TAG_MAX 32

bool imap_command_known(const char *name)
{
	return imap_vocab_command(name) != NULL;
}

static enum imap_cmd_id cmd_id(const char *name)
{
	const struct imap_cmd_def *def = imap_vocab_command(name);

	return def != NULL ? def->id : IMAP_CMD_UNKNOWN;
}

static enum imap_resp_id resp_id(const char *name)
{
	const struct imap_resp_def *def = imap_vocab_untagged(name);

	return def != NULL ? def->id : IMAP_R_UNKNOWN;
}

static inline uint8_t upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* Length of the run of bytes from p[pos] in the classes (imap_chars.h). */
static size_t run_len(const uint8_t *p, size_t n, size_t pos, unsigned classes)
{
	return imap_chars_span(p, n, pos, classes);
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
	len = run_len(p, n, 0, IMAP_CH_TAG);
	if (len == 0 || len >= n || p[len] != ' ')
		return -1;
	cmd->tag = slice(p, len);
	pos = len + 1;
	len = run_len(p, n, pos, IMAP_CH_ATOM);
	if (len == 0 || (pos + len < n && p[pos + len] != ' '))
		return -1;
	if (!name_add(cmd->name, p + pos, len))	/* too long: keep a prefix */
		(void)name_add(cmd->name, p + pos, IMAP_MAX_NAME - 1);
	cmd->id = len < IMAP_MAX_NAME ? cmd_id(cmd->name) : IMAP_CMD_UNKNOWN;
	pos += len;
	if (cmd->id == IMAP_CMD_UID && pos + 1 < n) {
		size_t sub = run_len(p, n, pos + 1, IMAP_CH_ATOM);

		if (sub != 0 && (pos + 1 + sub == n || p[pos + 1 + sub] == ' ') &&
		    name_add(cmd->name, (const uint8_t *)" ", 1) &&
		    name_add(cmd->name, p + pos + 1, sub)) {
			pos += 1 + sub;
			cmd->id = cmd_id(cmd->name);
		} else {
			cmd->name[3] = '\0';
		}
	}
	while (pos < n && p[pos] == ' ')
		pos++;
	cmd->args = slice(p + pos, n - pos);
	cmd->args_off = pos;
	return 0;
}

/* --- server lines ----------------------------------------------------- */

/* resp-cond-state / resp-cond-bye / resp-cond-auth */
static bool is_status_id(enum imap_resp_id id)
{
	switch (id) {
	case IMAP_R_OK: case IMAP_R_NO: case IMAP_R_BAD: case IMAP_R_BYE: case IMAP_R_PREAUTH:
		return true;
	default:
		return false;
	}
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

/* resp-text-code = ... / atom [SP 1*<any TEXT-CHAR except "]">]
 * The name is the first word; the arguments, if any, follow a space. */
static struct resp_code parse_code(struct buf_slice code)
{
	struct resp_code rc = { IMAP_CODE_OTHER, { NULL, 0 } };
	const uint8_t *sp = code.len ? memchr(code.ptr, ' ', code.len) : NULL;
	size_t name_len = sp != NULL ? (size_t)(sp - code.ptr) : code.len;

	if (name_len != 0)
		rc.id = imap_vocab_code(code.ptr, name_len);
	if (sp != NULL)
		rc.args = slice(sp + 1, code.len - name_len - 1);
	return rc;
}

/* resp-text after a status name at p[pos] (just past the name). */
static void resp_text(struct imap_response *r, const uint8_t *p, size_t n, size_t pos)
{
	size_t end;

	if (pos < n && p[pos] == ' ')
		pos++;
	if (r->is_status && pos < n && p[pos] == '[' && (end = code_end(p, n, pos)) != 0) {
		r->code = slice(p + pos + 1, end - pos - 1);
		r->rcode = parse_code(r->code);
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
	len = run_len(p, n, pos, IMAP_CH_DIGIT);
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
	len = run_len(p, n, pos, IMAP_CH_ATOM);
	if (len == 0 || !name_add(r->name, p + pos, len))
		return -1;
	r->id = resp_id(r->name);
	r->is_status = !r->has_number && is_status_id(r->id);
	resp_text(r, p, n, pos + len);
	return 0;
}

/* response-tagged = tag SP resp-cond-state CRLF
 * resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text */
static int parse_tagged(const uint8_t *p, size_t n, struct imap_response *r)
{
	size_t len = run_len(p, n, 0, IMAP_CH_TAG), pos;

	r->kind = IMAP_RESP_TAGGED;
	if (len == 0 || len >= n || p[len] != ' ')
		return -1;
	r->tag = slice(p, len);
	pos = len + 1;
	len = run_len(p, n, pos, IMAP_CH_ATOM);
	if (len == 0 || !name_add(r->name, p + pos, len))
		return -1;
	r->id = resp_id(r->name);
	if (r->id != IMAP_R_OK && r->id != IMAP_R_NO && r->id != IMAP_R_BAD)
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
		if (imap_char_is_digit(p[i]))
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
	size_t len = run_len(p, n, 0, IMAP_CH_TAG);

	*len_r = len;
	return len != 0 && len < n && p[len] == ' ' && len <= PLAUSIBLE_TAG_MAX &&
	       (has_digit(p, len) || (len == 1 && !is_letter(p[0])));
}

static bool plausible_c2s(const uint8_t *p, size_t n)
{
	struct imap_line line = { .text = { p, n } };
	struct imap_command cmd;
	size_t tag_len, name_end;
	const struct imap_cmd_def *def;

	if (n == 4 && memcmp(p, "DONE", 4) == 0)
		return true;
	if (!plausible_tag(p, n, &tag_len) || imap_parse_command(&line, &cmd) != 0)
		return false;
	name_end = cmd.args_off;
	while (name_end > tag_len + 1 && p[name_end - 1] == ' ')
		name_end--;
	if (!one_case(p + tag_len + 1, name_end - tag_len - 1) ||
	    cmd.id == IMAP_CMD_UNKNOWN)
		return false;
	def = imap_vocab_command_def(cmd.id);
	if (def->args == ARGS_NONE)
		return cmd.args.len == 0;
	if (def->args == ARGS_SOME)
		return cmd.args.len != 0 && cmd.id != IMAP_CMD_UID;
	return true;
}

static bool plausible_s2c(const uint8_t *p, size_t n)
{
	struct imap_line line = { .text = { p, n } };
	struct imap_response r;
	const struct imap_resp_def *def;
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
	def = imap_vocab_untagged_def(r.id);
	if (r.id == IMAP_R_UNKNOWN || def->numbered != r.has_number)
		return false;
	/* "* OK" is a greeting or status; anything else has data after it. */
	return r.is_status || r.text.len != 0 || r.id == IMAP_R_SEARCH ||
	       r.has_number;
}

bool imap_line_plausible(enum stream_dir dir, const uint8_t *p, size_t n)
{
	return dir == DIR_C2S ? plausible_c2s(p, n) : plausible_s2c(p, n);
}
