/* Decoders of command arguments and response data (imap/imap_args.h):
 * modified UTF-7, mailbox tokens, the per-command argument table, sequence
 * sets, flag lists, capability lists and untagged FETCH, hostile input
 * included.  Lines are made by the real lexer, so literals are what the
 * session sees. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_args.h"
#include "imap/imap_sasl.h"

/* The command table below names only the fields a case expects; the rest
 * are null. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define TEXT 4096

/* --- lines from the lexer ------------------------------------------------ */

typedef void line_fn(const struct imap_line *line, void *ctx);

struct line_ctx {
	line_fn *fn;
	void *ctx;
	int lines;
};

static void on_line(void *ctx, const struct imap_line *line)
{
	struct line_ctx *lc = ctx;

	lc->lines++;
	lc->fn(line, lc->ctx);
}

/* Feed wire bytes (one whole logical line) and call fn with the line. */
static void with_line(enum stream_dir dir, const char *wire, size_t keep, line_fn *fn, void *ctx)
{
	struct line_ctx lc = { fn, ctx, 0 };
	struct imap_lexer_hooks h = { .ctx = &lc, .line = on_line };
	struct imap_lexer *lx = imap_lexer_new(dir, false, keep, NULL, &h);

	assert_non_null(lx);
	imap_lexer_feed(lx, (const uint8_t *)wire, strlen(wire), 1);
	imap_lexer_free(&lx);
	assert_int_equal(lc.lines, 1);
}

static struct buf_slice cs(const char *s)
{
	return (struct buf_slice){ (const uint8_t *)s, strlen(s) };
}

static void assert_slice(struct buf_slice got, const char *want)
{
	if (want == NULL) {
		if (got.ptr != NULL)
			fail_msg("want null, got \"%.*s\"", (int)got.len, (const char *)got.ptr);
		return;
	}
	if (got.ptr == NULL)
		fail_msg("want \"%s\", got null", want);
	if (got.len != strlen(want) || memcmp(got.ptr, want, got.len) != 0)
		fail_msg("want \"%s\", got \"%.*s\"", want, (int)got.len, (const char *)got.ptr);
}

/* --- modified UTF-7 ------------------------------------------------------ */

static void test_mutf7(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} cases[] = {
		{ "INBOX", 0, "INBOX" },
		{ "", 0, "" },
		{ "&AOk-t&AOk-", 0, "\xc3\xa9t\xc3\xa9" },
		{ "&-", 0, "&" },
		{ "A&-B&-", 0, "A&B&" },
		{ "&Jjo-!", 0, "\xe2\x98\xba!" },
		{ "&2D3eAQ-", 0, "\xf0\x9f\x98\x81" },		/* a surrogate pair */
		{ "Entw&APw-rfe/&ZeVnLIqe-", 0, "Entw\xc3\xbcrfe/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
		/* not modified UTF-7: kept as sent by the caller */
		{ "&AOk", 1, NULL },			/* no "-" */
		{ "&AGE-", 1, NULL },			/* "a" needlessly encoded */
		{ "&2D0-", 1, NULL },			/* a lone high surrogate */
		{ "&3gE-", 1, NULL },			/* a lone low surrogate */
		{ "&2D3YPQ-", 1, NULL },		/* high after high */
		{ "caf\xc3\xa9", 1, NULL },		/* UTF-8 (UTF8=ACCEPT) */
		{ "&A-", 1, NULL },			/* not a whole unit */
		{ "&AOl-", 1, NULL },			/* padding bits set */
		{ "&AOk/-", 1, NULL },			/* "/" is not modified base64 */
		{ "&&-", 1, NULL },
		{ "&AAA-", 1, NULL },			/* NUL */
		{ "a\x01", 1, NULL },
		{ "&", 1, NULL },
		{ "&AOkA6QDp-x", 0, "\xc3\xa9\xc3\xa9\xc3\xa9x" },
	};
	struct buf b;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		int rc;

		buf_init(&b, 256, NULL);
		assert_int_equal(buf_append(&b, "x", 1), 0);
		rc = imap_mutf7_decode(&b, (const uint8_t *)cases[i].in, strlen(cases[i].in));
		if (rc != cases[i].rc)
			fail_msg("case %zu \"%s\": rc %d", i, cases[i].in, rc);
		if (rc == 0) {
			assert_int_equal(b.len, 1 + strlen(cases[i].out));
			assert_memory_equal(b.data + 1, cases[i].out, b.len - 1);
		} else {
			assert_int_equal(b.len, 1);	/* unchanged */
		}
		buf_free(&b);
	}
	/* a buffer that cannot grow says so */
	buf_init(&b, 2, NULL);
	assert_int_equal(imap_mutf7_decode(&b, (const uint8_t *)"&AOk-&AOk-", 10), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* --- mailbox tokens ------------------------------------------------------ */

struct mb_case {
	int rc;
	const char *want;
};

static void mb_line(const struct imap_line *line, void *ctx)
{
	struct mb_case *c = ctx;
	struct imap_tok_cursor cur;
	struct imap_tok t;
	struct buf b;

	buf_init(&b, 4 * IMAP_ARGS_MAX_MAILBOX, NULL);
	imap_tok_init(&cur, line, 0);
	imap_tok_next(&cur, &t);	/* the tag */
	imap_tok_next(&cur, &t);
	c->rc = imap_args_mailbox(&b, &t);
	if (c->rc == 0) {
		assert_int_equal(b.len, strlen(c->want));
		assert_memory_equal(b.data ? b.data : (const uint8_t *)"", c->want, b.len);
	} else {
		assert_int_equal(b.len, 0);
	}
	buf_free(&b);
}

static void test_mailbox_tokens(void **state)
{
	static const struct {
		const char *wire;
		size_t keep;
		int rc;
		const char *want;
	} cases[] = {
		{ "a INBOX\r\n", 64, 0, "INBOX" },
		{ "a \"IN\\\"BO\\\\X\"\r\n", 64, 0, "IN\"BO\\X" },
		{ "a \"&AOk-t&AOk-\"\r\n", 64, 0, "\xc3\xa9t\xc3\xa9" },
		{ "a \"&AOk\"\r\n", 64, 0, "&AOk" },		/* invalid: as sent */
		{ "a {5+}\r\nINBOX\r\n", 64, 0, "INBOX" },
		{ "a {7}\r\n&AOk-x!\r\n", 64, 0, "\xc3\xa9x!" },
		{ "a {5}\r\nINBOX\r\n", 0, -1, NULL },	/* not kept */
		{ "a \"\"\r\n", 64, 0, "" },
		{ "a \"bad\\x\"\r\n", 64, -1, NULL },	/* a bad escape */
		{ "a (INBOX)\r\n", 64, -1, NULL },
		{ "a\r\n", 64, -1, NULL },
	};
	char big[IMAP_ARGS_MAX_MAILBOX + 16];
	struct mb_case c;

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		c = (struct mb_case){ 0, cases[i].want };
		with_line(DIR_C2S, cases[i].wire, cases[i].keep, mb_line, &c);
		if (c.rc != cases[i].rc)
			fail_msg("case %zu: rc %d", i, c.rc);
	}
	/* the longest name kept, and one byte more (unknown, not cut) */
	memset(big, 'x', sizeof big);
	memcpy(big, "a ", 2);
	memcpy(big + 2 + IMAP_ARGS_MAX_MAILBOX, "\r\n", 3);
	c = (struct mb_case){ 0, big + 2 };
	big[2 + IMAP_ARGS_MAX_MAILBOX] = '\0';
	{
		char wire[sizeof big + 4];

		snprintf(wire, sizeof wire, "%s\r\n", big);
		with_line(DIR_C2S, wire, 64, mb_line, &c);
		assert_int_equal(c.rc, 0);
		snprintf(wire, sizeof wire, "%sy\r\n", big);
		c = (struct mb_case){ 0, NULL };
		with_line(DIR_C2S, wire, 64, mb_line, &c);
		assert_int_equal(c.rc, -1);
	}
}

/* --- command arguments --------------------------------------------------- */

struct cmd_want {
	const char *wire;
	enum imap_cmd_id id;
	const char *mailbox, *mailbox2, *seqset, *items, *flags, *date, *mechanism;
};

static void cmd_line(const struct imap_line *line, void *ctx)
{
	const struct cmd_want *w = ctx;
	struct command_facts f;
	struct buf names;
	struct imap_tok_cursor c;
	struct imap_tok t;

	/* args start after "tag NAME" (or "tag UID NAME") */
	imap_tok_init(&c, line, 0);
	imap_tok_next(&c, &t);
	imap_tok_next(&c, &t);
	if (buf_slice_ieq(t.value, "UID"))
		imap_tok_next(&c, &t);
	buf_init(&names, IMAP_ARGS_NAMES_MAX, NULL);
	imap_args_command(w->id, line, c.pos, &names, &f);
	assert_int_equal(f.id, w->id);
	assert_slice(f.mailbox, w->mailbox);
	assert_slice(f.mailbox2, w->mailbox2);
	assert_slice(f.seqset, w->seqset);
	assert_slice(f.items, w->items);
	assert_slice(f.flags, w->flags);
	assert_slice(f.date, w->date);
	assert_slice(f.mechanism, w->mechanism);
	buf_free(&names);
}

static void test_command_args(void **state)
{
	static const struct cmd_want cases[] = {
		{ "a2 SELECT {5+}\r\nINBOX\r\n", IMAP_CMD_SELECT, "INBOX" },
		{ "a EXAMINE \"Sent Items\" (CONDSTORE)\r\n", IMAP_CMD_EXAMINE, "Sent Items" },
		{ "a CREATE &AOk-t&AOk-\r\n", IMAP_CMD_CREATE, "\xc3\xa9t\xc3\xa9" },
		{ "a DELETE \"&Jjo\"\r\n", IMAP_CMD_DELETE, "&Jjo" },
		{ "a SUBSCRIBE News\r\n", IMAP_CMD_SUBSCRIBE, "News" },
		{ "a UNSUBSCRIBE News\r\n", IMAP_CMD_UNSUBSCRIBE, "News" },
		{ "a RENAME \"Old\" &AOk-\r\n", IMAP_CMD_RENAME, "Old", "\xc3\xa9" },
		{ "a RENAME Old\r\n", IMAP_CMD_RENAME, "Old" },
		{ "a STATUS INBOX (MESSAGES UNSEEN)\r\n", IMAP_CMD_STATUS, "INBOX", NULL, NULL,
		  "MESSAGES UNSEEN" },
		{ "a LIST \"\" *\r\n", IMAP_CMD_LIST, "", "*" },
		{ "a LIST (SUBSCRIBED) \"\" (\"INBOX\" \"Sent\") RETURN (CHILDREN)\r\n",
		  IMAP_CMD_LIST, "", "INBOX" },
		{ "a LSUB \"\" %\r\n", IMAP_CMD_LSUB, "", "%" },
		{ "a APPEND Drafts (\\Seen \\Draft) \"05-Dec-2026 03:00:00 +0000\" {3}\r\nabc\r\n",
		  IMAP_CMD_APPEND, "Drafts", NULL, NULL, NULL, "\\Seen \\Draft",
		  "05-Dec-2026 03:00:00 +0000" },
		{ "a APPEND Drafts {3}\r\nabc\r\n", IMAP_CMD_APPEND, "Drafts" },
		{ "a APPEND Drafts () {0}\r\n\r\n", IMAP_CMD_APPEND, "Drafts", NULL, NULL, NULL, "" },
		{ "a APPEND Drafts UTF8 (~{3}\r\nabc)\r\n", IMAP_CMD_APPEND, "Drafts" },
		{ "a REPLACE 4 Drafts (\\Seen) {3}\r\nabc\r\n", IMAP_CMD_REPLACE, "Drafts", NULL,
		  "4", NULL, "\\Seen" },
		{ "a UID COPY 1:3,7 \"Archive\"\r\n", IMAP_CMD_UID_COPY, "Archive", NULL, "1:3,7" },
		{ "a COPY 2 Trash\r\n", IMAP_CMD_COPY, "Trash", NULL, "2" },
		{ "a UID MOVE 1:* Trash\r\n", IMAP_CMD_UID_MOVE, "Trash", NULL, "1:*" },
		{ "a MOVE $ Junk\r\n", IMAP_CMD_MOVE, "Junk", NULL, "$" },
		{ "a FETCH 1:4 (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM)])\r\n", IMAP_CMD_FETCH,
		  NULL, NULL, "1:4", "UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM)]" },
		{ "a UID FETCH 7 BODY[]\r\n", IMAP_CMD_UID_FETCH, NULL, NULL, "7", "BODY[]" },
		{ "a FETCH 1 (FLAGS) (CHANGEDSINCE 12)\r\n", IMAP_CMD_FETCH, NULL, NULL, "1", "FLAGS" },
		{ "a FETCH 1 FAST\r\n", IMAP_CMD_FETCH, NULL, NULL, "1", "FAST" },
		{ "a STORE 2 +FLAGS.SILENT (\\Deleted)\r\n", IMAP_CMD_STORE, NULL, NULL, "2",
		  "+FLAGS.SILENT", "\\Deleted" },
		{ "a UID STORE 2 (UNCHANGEDSINCE 5) -FLAGS \\Seen \\Flagged\r\n", IMAP_CMD_UID_STORE,
		  NULL, NULL, "2", "-FLAGS", "\\Seen \\Flagged" },
		{ "a STORE 2 FLAGS ()\r\n", IMAP_CMD_STORE, NULL, NULL, "2", "FLAGS", "" },
		{ "a SEARCH UNSEEN FROM \"bob\"\r\n", IMAP_CMD_SEARCH, NULL, NULL, NULL,
		  "UNSEEN FROM \"bob\"" },
		{ "a UID SEARCH RETURN (ALL) 1:*\r\n", IMAP_CMD_UID_SEARCH, NULL, NULL, NULL,
		  "RETURN (ALL) 1:*" },
		{ "a UID SORT (DATE) UTF-8 ALL\r\n", IMAP_CMD_UID_SORT, NULL, NULL, NULL,
		  "(DATE) UTF-8 ALL" },
		{ "a ENABLE QRESYNC CONDSTORE\r\n", IMAP_CMD_ENABLE, NULL, NULL, NULL,
		  "QRESYNC CONDSTORE" },
		{ "a SEARCH\r\n", IMAP_CMD_SEARCH },
		{ "a UID EXPUNGE 3:5\r\n", IMAP_CMD_UID_EXPUNGE, NULL, NULL, "3:5" },
		{ "a AUTHENTICATE PLAIN AGFsaWNl\r\n", IMAP_CMD_AUTHENTICATE, NULL, NULL, NULL,
		  NULL, NULL, NULL, "PLAIN" },
		{ "a GETQUOTAROOT INBOX\r\n", IMAP_CMD_GETQUOTAROOT, "INBOX" },
		{ "a NOOP\r\n", IMAP_CMD_NOOP },
		{ "a LOGIN alice secret\r\n", IMAP_CMD_LOGIN },
		{ "a XYZZY foo\r\n", IMAP_CMD_UNKNOWN },
		/* hostile or broken: what cannot be read stays null */
		{ "a SELECT\r\n", IMAP_CMD_SELECT },
		{ "a SELECT (\r\n", IMAP_CMD_SELECT },
		{ "a SELECT \"unterminated\r\n", IMAP_CMD_SELECT },
		{ "a FETCH 1 (((((\r\n", IMAP_CMD_FETCH, NULL, NULL, "1" },
		{ "a STORE 1 +FLAGS (\\Seen\r\n", IMAP_CMD_STORE, NULL, NULL, "1", "+FLAGS" },
		{ "a STORE 1 (UNCHANGEDSINCE\r\n", IMAP_CMD_STORE, NULL, NULL, "1" },
		{ "a LIST (\r\n", IMAP_CMD_LIST },
		{ "a COPY (1) x\r\n", IMAP_CMD_COPY },	/* no guessing past it */
		{ "a RENAME (x) y\r\n", IMAP_CMD_RENAME },
		{ "a STATUS \x01\r\n", IMAP_CMD_STATUS },
		{ "a APPEND x (\\Seen \"d\" {1}\r\nz)\r\n", IMAP_CMD_APPEND, "x" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		print_message("case %zu: %s", i, cases[i].wire);
		with_line(DIR_C2S, cases[i].wire, 1024, cmd_line, (void *)&cases[i]);
	}
}

/* Nesting far past the depth cap, and an id out of range: no crash, nulls. */
static void test_command_args_hostile(void **state)
{
	char wire[2 * IMAP_MAX_DEPTH + 64];
	struct cmd_want w = { wire, IMAP_CMD_FETCH, NULL, NULL, "1" };
	size_t k = (size_t)snprintf(wire, sizeof wire, "a FETCH 1 ");
	struct imap_line line = { .text = cs("a SELECT INBOX") };
	struct command_facts f;
	struct buf names;

	(void)state;
	for (int i = 0; i < IMAP_MAX_DEPTH + 20; i++)
		wire[k++] = '(';
	memcpy(wire + k, "\r\n", 3);
	with_line(DIR_C2S, wire, 64, cmd_line, &w);
	buf_init(&names, IMAP_ARGS_NAMES_MAX, NULL);
	imap_args_command(IMAP_CMD_N, &line, 9, &names, &f);
	assert_null(f.mailbox.ptr);
	imap_args_command(IMAP_CMD_SELECT, &line, 999, &names, &f);
	assert_null(f.mailbox.ptr);
	imap_args_command(IMAP_CMD_SELECT, &line, 9, &names, &f);
	assert_slice(f.mailbox, "INBOX");
	buf_free(&names);
	/* names that cannot grow: the name is unknown */
	buf_init(&names, 2, NULL);
	imap_args_command(IMAP_CMD_SELECT, &line, 9, &names, &f);
	assert_null(f.mailbox.ptr);
	buf_free(&names);
}

/* --- sequence sets and flags -------------------------------------------- */

static void test_seqset(void **state)
{
	static const struct {
		const char *set;
		const char *want;	/* "lo-hi ..." and "!" for an error */
	} cases[] = {
		{ "1:4,7,9:*,*", "1-4 7-7 9-S S-S" },
		{ "5:3", "3-5" },
		{ "*:4", "4-S" },
		{ "", "" },
		{ "0", "!" },
		{ "1,,2", "1-1 !" },
		{ "1,", "!" },
		{ "$", "!" },
		{ "1:", "!" },
		{ "4294967295", "4294967295-4294967295" },
		{ "4294967296", "!" },
		{ "18446744073709551615", "!" },
		{ "4 5", "!" },
		{ "3:0", "!" },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct imap_seq_iter it;
		struct imap_seq_range r;
		size_t k = 0;
		int rc;

		out[0] = '\0';
		imap_seqset_init(&it, cs(cases[i].set));
		while ((rc = imap_seqset_next(&it, &r)) == 1) {
			char lo[24], hi[24];

			snprintf(lo, sizeof lo, "%llu", (unsigned long long)r.lo);
			snprintf(hi, sizeof hi, "%llu", (unsigned long long)r.hi);
			k += (size_t)snprintf(out + k, sizeof out - k, "%s%s-%s", k ? " " : "",
					      r.lo == IMAP_SEQ_STAR ? "S" : lo,
					      r.hi == IMAP_SEQ_STAR ? "S" : hi);
		}
		if (rc < 0)
			k += (size_t)snprintf(out + k, sizeof out - k, "%s!", k ? " " : "");
		if (strcmp(out, cases[i].want) != 0)
			fail_msg("\"%s\": want \"%s\", got \"%s\"", cases[i].set, cases[i].want, out);
		assert_int_equal(imap_seqset_next(&it, &r), 0);	/* stays stopped */
	}
	{
		struct imap_seq_iter it;
		struct imap_seq_range r;

		imap_seqset_init(&it, SLICE_NULL);
		assert_int_equal(imap_seqset_next(&it, &r), 0);
	}
}

static void test_flags(void **state)
{
	static const struct {
		const char *list;
		const char *want;
	} cases[] = {
		{ "(\\Seen $Junk)", "\\Seen|$Junk|" },
		{ "\\Seen \\Flagged", "\\Seen|\\Flagged|" },
		{ "  \\Answered  ", "\\Answered|" },
		{ "", "" },
		{ "()", "" },
		{ "\\Seen\x01x", "\\Seen|" },	/* a control byte ends the walk */
	};
	char out[128];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct imap_flag_iter it;
		struct buf_slice f;
		size_t k = 0;

		out[0] = '\0';
		imap_flags_init(&it, cs(cases[i].list));
		while (imap_flags_next(&it, &f))
			k += (size_t)snprintf(out + k, sizeof out - k, "%.*s|", (int)f.len,
					      (const char *)f.ptr);
		assert_string_equal(out, cases[i].want);
	}
	{
		struct imap_flag_iter it;
		struct buf_slice f;

		imap_flags_init(&it, SLICE_NULL);
		assert_false(imap_flags_next(&it, &f));
	}
}

static void test_capset(void **state)
{
	struct imap_capset c;
	const char *list = "IMAP4rev1 IDLE AUTH=PLAIN AUTH=XOAUTH2 auth=scram-sha-256 "
			   "X-FOO literal+ AUTH=WEIRD COMPRESS=DEFLATE STATUS=SIZE";

	(void)state;
	imap_args_capset(&c, cs(list));
	assert_true(c.known);
	assert_true(capset_has(&c, IMAP_CAP_IMAP4REV1));
	assert_true(capset_has(&c, IMAP_CAP_IDLE));
	assert_true(capset_has(&c, IMAP_CAP_LITERAL_PLUS));
	assert_true(capset_has(&c, IMAP_CAP_COMPRESS_DEFLATE));
	assert_true(capset_has(&c, IMAP_CAP_STATUS_SIZE));
	assert_false(capset_has(&c, IMAP_CAP_STARTTLS));
	assert_false(capset_has(&c, IMAP_CAP_LITERAL_MINUS));
	assert_int_equal(c.auth, 1u << IMAP_SASL_PLAIN | 1u << IMAP_SASL_XOAUTH2 |
			 1u << IMAP_SASL_SCRAM | 1u << IMAP_SASL_OTHER);
	assert_slice(c.text, list);
	imap_args_capset(&c, SLICE_NULL);
	assert_true(c.known);
	assert_int_equal(c.caps, 0);
	assert_slice(c.text, "");
	/* "AUTH=" alone names no known mechanism */
	imap_args_capset(&c, cs("AUTH= IMAP4"));
	assert_int_equal(c.auth, 1u << IMAP_SASL_OTHER);
	assert_int_equal(c.caps, 0);
}

/* --- untagged FETCH ------------------------------------------------------ */

struct fetch_case {
	int rc;
	struct fetch_facts f;
	char sections[TEXT];
	struct imap_address from;
	bool have_from;
	char date[256], subject[256], msgid[256], flags[256], from_raw[256];
};

static void copy_slice(char *dst, size_t cap, struct buf_slice s)
{
	if (s.ptr == NULL)
		snprintf(dst, cap, "(null)");
	else
		snprintf(dst, cap, "%.*s", (int)s.len, (const char *)s.ptr);
}

static void same_slice(struct buf_slice a, struct buf_slice b)
{
	assert_ptr_equal(a.ptr, b.ptr);
	assert_int_equal(a.len, b.len);
}

/* The byte fast path and the token walk give the same facts. */
static void fetch_agree(const struct imap_line *line)
{
	struct imap_fetch_store s1, s2;
	struct fetch_facts a, b;
	int rc1 = imap_args_fetch(line, &a, &s1), rc2 = imap_args_fetch_walk(line, &b, &s2);

	assert_int_equal(rc1, rc2);
	assert_int_equal(a.seq, b.seq);
	assert_int_equal(a.uid, b.uid);
	assert_int_equal(a.size, b.size);
	assert_int_equal(a.modseq, b.modseq);
	same_slice(a.flags, b.flags);
	same_slice(a.date, b.date);
	same_slice(a.subject, b.subject);
	same_slice(a.from, b.from);
	same_slice(a.message_id, b.message_id);
	assert_int_equal(a.n_sections, b.n_sections);
	for (size_t i = 0; i < a.n_sections; i++) {
		same_slice(a.sections[i], b.sections[i]);
		assert_int_equal(a.section_sizes[i], b.section_sizes[i]);
	}
}

static void fetch_line(const struct imap_line *line, void *ctx)
{
	struct fetch_case *fc = ctx;
	struct imap_fetch_store st;
	size_t k = 0;

	fetch_agree(line);
	fc->rc = imap_args_fetch(line, &fc->f, &st);
	fc->sections[0] = '\0';
	for (size_t i = 0; fc->rc == 0 && i < fc->f.n_sections; i++) {
		char sz[24];

		snprintf(sz, sizeof sz, "%llu", (unsigned long long)fc->f.section_sizes[i]);
		k += (size_t)snprintf(fc->sections + k, sizeof fc->sections - k, "%.*s=%s ",
				      (int)fc->f.sections[i].len, (const char *)fc->f.sections[i].ptr,
				      fc->f.section_sizes[i] == FACT_NONE ? "none" : sz);
	}
	copy_slice(fc->date, sizeof fc->date, fc->f.date);
	copy_slice(fc->subject, sizeof fc->subject, fc->f.subject);
	copy_slice(fc->msgid, sizeof fc->msgid, fc->f.message_id);
	copy_slice(fc->flags, sizeof fc->flags, fc->f.flags);
	copy_slice(fc->from_raw, sizeof fc->from_raw, fc->f.from);
	fc->have_from = imap_args_first_address(fc->f.from, &fc->from);
	if (fc->have_from) {
		/* slices into the line: check them now */
		assert_slice(fc->from.name, "Alice");
		assert_slice(fc->from.mailbox, "alice");
		assert_slice(fc->from.host, "example.com");
	}
	fc->f.sections = NULL;
	fc->f.section_sizes = NULL;
}

static void run_fetch(struct fetch_case *fc, const char *wire)
{
	memset(fc, 0, sizeof *fc);
	with_line(DIR_S2C, wire, 1024, fetch_line, fc);
}

static void test_fetch_basic(void **state)
{
	struct fetch_case fc;

	(void)state;
	run_fetch(&fc, "* 12 FETCH (UID 100 RFC822.SIZE 2048 FLAGS (\\Seen $Junk) MODSEQ (77) "
		  "BODY[] {5}\r\nhello)\r\n");
	assert_int_equal(fc.rc, 0);
	assert_int_equal(fc.f.seq, 12);
	assert_int_equal(fc.f.uid, 100);
	assert_int_equal(fc.f.size, 2048);
	assert_int_equal(fc.f.modseq, 77);
	assert_string_equal(fc.flags, "\\Seen $Junk");
	assert_string_equal(fc.sections, "BODY[]=5 ");
	assert_string_equal(fc.date, "(null)");

	/* the UID after the body, sections of every kind, NIL, quoted */
	run_fetch(&fc, "* 3 FETCH (BODY[HEADER.FIELDS (FROM SUBJECT)] {4}\r\nab\r\n "
		  "BINARY[1]<0> ~{3}\r\nxyz RFC822.HEADER \"hdr\" BODY[TEXT] NIL "
		  "BINARY.SIZE[1] 40 RFC822 {0}\r\n UID 9 FLAGS ())\r\n");
	assert_int_equal(fc.rc, 0);
	assert_int_equal(fc.f.seq, 3);
	assert_int_equal(fc.f.uid, 9);
	assert_int_equal(fc.f.size, FACT_NONE);
	assert_int_equal(fc.f.modseq, FACT_NONE);
	assert_string_equal(fc.sections, "BODY[HEADER.FIELDS (FROM SUBJECT)]=4 BINARY[1]<0>=3 "
			    "RFC822.HEADER=3 BODY[TEXT]=none RFC822=0 ");
	assert_string_equal(fc.flags, "");

	/* BODYSTRUCTURE's deep lists are skipped whole */
	run_fetch(&fc, "* 4 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
		  "NIL \"7bit\" 3 1)(\"text\" \"html\" NIL NIL NIL \"7bit\" 5 1) \"alternative\") "
		  "UID 44)\r\n");
	assert_int_equal(fc.rc, 0);
	assert_int_equal(fc.f.uid, 44);
	assert_int_equal(fc.f.n_sections, 0);
}

static void test_fetch_envelope(void **state)
{
	struct fetch_case fc;

	(void)state;
	run_fetch(&fc, "* 1 FETCH (ENVELOPE (\"Wed, 1 Jan 2025 00:00:00 +0000\" \"Hi \\\"x\\\"\" "
		  "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" "
		  "\"example.com\")) NIL NIL NIL NIL NIL \"<id@x>\") UID 5)\r\n");
	assert_int_equal(fc.rc, 0);
	assert_int_equal(fc.f.uid, 5);
	assert_string_equal(fc.date, "Wed, 1 Jan 2025 00:00:00 +0000");
	assert_string_equal(fc.subject, "Hi \\\"x\\\"");	/* escapes as sent */
	assert_string_equal(fc.msgid, "<id@x>");
	assert_string_equal(fc.from_raw, "((\"Alice\" NIL \"alice\" \"example.com\"))");
	assert_true(fc.have_from);

	/* a literal subject, NIL fields, a group of addresses */
	run_fetch(&fc, "* 2 FETCH (UID 6 ENVELOPE (NIL {5}\r\nhello NIL NIL NIL NIL NIL NIL NIL "
		  "NIL))\r\n");
	assert_int_equal(fc.rc, 0);
	assert_int_equal(fc.f.uid, 6);
	assert_string_equal(fc.date, "(null)");
	assert_string_equal(fc.subject, "hello");
	assert_string_equal(fc.msgid, "(null)");
	assert_string_equal(fc.from_raw, "(null)");
	assert_false(fc.have_from);

	/* a short envelope: what it has */
	run_fetch(&fc, "* 2 FETCH (ENVELOPE (\"d\") UID 8)\r\n");
	assert_string_equal(fc.date, "d");
	assert_int_equal(fc.f.uid, 8);
}

static void test_fetch_hostile(void **state)
{
	static const char *const not_fetch[] = {
		"* 3 EXISTS\r\n", "* FETCH (UID 1)\r\n", "* 1 FETCH UID 1\r\n",
		"a1 OK FETCH done\r\n", "* 0x1 FETCH (UID 1)\r\n",
		"* 99999999999999999999 FETCH (UID 1)\r\n",
	};
	struct fetch_case fc;
	char wire[4 * IMAP_MAX_DEPTH + 64];
	size_t k;

	(void)state;
	for (size_t i = 0; i < N(not_fetch); i++) {
		run_fetch(&fc, not_fetch[i]);
		assert_int_equal(fc.rc, -1);
		assert_int_equal(fc.f.seq, 0);
	}
	/* unterminated: what came before is kept */
	run_fetch(&fc, "* 1 FETCH (UID 7 FLAGS (\\Seen\r\n");
	assert_int_equal(fc.rc, 0);
	assert_int_equal(fc.f.uid, 7);
	assert_string_equal(fc.flags, "(null)");
	/* numbers that do not fit, a name without a value */
	run_fetch(&fc, "* 1 FETCH (UID 99999999999999999999 RFC822.SIZE -1 MODSEQ (x) UID)\r\n");
	assert_int_equal(fc.rc, 0);
	assert_int_equal(fc.f.uid, FACT_NONE);
	assert_int_equal(fc.f.size, FACT_NONE);
	assert_int_equal(fc.f.modseq, FACT_NONE);
	/* nesting past the cap */
	k = (size_t)snprintf(wire, sizeof wire, "* 1 FETCH (UID 3 X ");
	for (int i = 0; i < IMAP_MAX_DEPTH + 10; i++)
		wire[k++] = '(';
	memcpy(wire + k, " UID 4\r\n", 9);
	run_fetch(&fc, wire);
	assert_int_equal(fc.rc, 0);
	assert_int_equal(fc.f.uid, 3);
	/* more sections than described */
	k = (size_t)snprintf(wire, sizeof wire, "* 1 FETCH (");
	for (int i = 0; i < IMAP_FETCH_MAX_SECTIONS + 4; i++)
		k += (size_t)snprintf(wire + k, sizeof wire - k, "BODY[%d] \"x\" ", i + 1);
	snprintf(wire + k, sizeof wire - k, "UID 12)\r\n");
	run_fetch(&fc, wire);
	assert_int_equal(fc.f.n_sections, IMAP_FETCH_MAX_SECTIONS);
	assert_int_equal(fc.f.uid, 12);
	/* an envelope cut short, then more items */
	run_fetch(&fc, "* 1 FETCH (ENVELOPE (\"d\" \"s\" ((\"Alice\" NIL \"a\"\r\n");
	assert_int_equal(fc.rc, 0);
	assert_string_equal(fc.subject, "s");
	assert_string_equal(fc.from_raw, "(null)");
}

/* Lines where the fast path must give up or read exactly as the tokens. */
static void test_fetch_fast_agrees(void **state)
{
	static const char *const lines[] = {
		"* 1 FETCH (UID 1 RFC822.SIZE 15522 FLAGS (\\Seen) BODY[] {3}\r\nabc)\r\n",
		"* 1 FETCH (FLAGS(\\Seen)UID 4)\r\n",
		"* 1 FETCH (MODSEQ (12[]) UID 4)\r\n",
		"* 1 FETCH (MODSEQ ( 12 ) UID 4)\r\n",
		"* 1 FETCH (MODSEQ ((1)) UID 4)\r\n",
		"* 1 FETCH (~{3}\r\nabc UID 4)\r\n",
		"* 1 FETCH (UID ~{3}\r\n123)\r\n",
		"* 1 FETCH (BODY[]<0> {3}\r\nabc UID 4)\r\n",
		"* 1 FETCH (BODY[HEADER.FIELDS (A (B))] \"x\\\"y\" UID 4)\r\n",
		"* 1 FETCH (BODY[)] NIL UID 4)\r\n",
		"* 1 FETCH (BODY[(] NIL UID 4)\r\n",
		"* 1 FETCH (X[]Y UID 4)\r\n",
		"* 1 FETCH (UID 4[] RFC822.SIZE 9)\r\n",
		"* 1 FETCH (UID \"5\" RFC822 {2}\r\nab)\r\n",
		"* 1 FETCH (UID {1}\r\n5 X {2}\r\n\"a)\r\n",
		"* 1 FETCH (\"a\" 1 UID 2)\r\n",
		"* 1 FETCH (UID 2 \x01 3)\r\n",
		"* 1 FETCH (UID 2 X {99)\r\n",
		"* 1 FETCH (FLAGS (\"a\") UID 2)\r\n",
		"* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) UID 2)\r\n",
		"* 1 FETCH (UID 1 FLAGS (\\Seen\r\n",
		"* 1 FETCH UID\r\n",
		"* 1 FETCH (\r\n",
		"* 1 FETCH ()\r\n",
		"* 1 FETCH (UID)\r\n",
		"* 1 FETCH (UID 5) trailing (x\r\n",
	};
	struct fetch_case fc;

	(void)state;
	for (size_t i = 0; i < N(lines); i++) {
		print_message("fetch %zu: %s", i, lines[i]);
		run_fetch(&fc, lines[i]);
	}
	/* every byte inside an item name, a value and a FLAGS list */
	for (int b = 1; b < 256; b++) {
		char wire[128];

		if (b == '\r' || b == '\n')
			continue;
		snprintf(wire, sizeof wire, "* 1 FETCH (UID 1%c2 FLAGS (a%cb) X%c 7 RFC822.SIZE 3)\r\n",
			 b, b, b);
		run_fetch(&fc, wire);
	}
}

static void test_first_address(void **state)
{
	struct imap_address a;

	(void)state;
	assert_true(imap_args_first_address(cs("((\"Bob B\" NIL \"bob\" \"ex.org\")(\"C\" NIL \"c\" "
					       "\"d\"))"), &a));
	assert_slice(a.name, "Bob B");
	assert_slice(a.mailbox, "bob");
	assert_slice(a.host, "ex.org");
	assert_true(imap_args_first_address(cs("((NIL NIL \"bob\" \"ex.org\"))"), &a));
	assert_null(a.name.ptr);
	assert_false(imap_args_first_address(cs("NIL"), &a));
	assert_false(imap_args_first_address(cs("((\"a\" NIL \"b\"))"), &a));
	assert_false(imap_args_first_address(cs("(("), &a));
	assert_false(imap_args_first_address(SLICE_NULL, &a));
}

/* --- UIDPLUS codes ------------------------------------------------------ */

static void test_appenduid(void **state)
{
	struct imap_uidplus u;

	(void)state;
	assert_true(imap_args_appenduid(cs("38505 3955"), &u));
	assert_int_equal(u.uidvalidity, 38505);
	assert_null(u.src.ptr);
	assert_int_equal(u.dst.len, 4);
	assert_memory_equal(u.dst.ptr, "3955", 4);
	/* MULTIAPPEND: a set */
	assert_true(imap_args_appenduid(cs("1 7:9,12"), &u));
	assert_int_equal(u.dst.len, 6);
	assert_false(imap_args_appenduid(cs("38505"), &u));
	assert_int_equal(u.uidvalidity, 0);
	assert_false(imap_args_appenduid(cs("0 5"), &u));
	assert_false(imap_args_appenduid(cs("x 5"), &u));
	assert_false(imap_args_appenduid(cs("1 5:*"), &u));
	assert_false(imap_args_appenduid(cs("1 5 6"), &u));
	assert_false(imap_args_appenduid((struct buf_slice){ NULL, 0 }, &u));
}

static void test_copyuid(void **state)
{
	struct imap_uidplus u;
	struct imap_uidpair_iter it;
	uint64_t s, d;
	static const uint64_t want[][2] = { { 304, 3956 }, { 319, 3957 }, { 320, 3958 } };
	size_t n = 0;

	(void)state;
	assert_true(imap_args_copyuid(cs("38505 304,319:320 3956:3958"), &u));
	assert_int_equal(u.uidvalidity, 38505);
	imap_uidpair_init(&it, &u);
	while (imap_uidpair_next(&it, &s, &d) == 1) {
		assert_true(n < 3);
		assert_int_equal(s, want[n][0]);
		assert_int_equal(d, want[n][1]);
		n++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(imap_uidpair_next(&it, &s, &d), 0);

	/* sets of different sizes: the walk says so, and stops */
	assert_true(imap_args_copyuid(cs("9 1:3 10:11"), &u));
	imap_uidpair_init(&it, &u);
	assert_int_equal(imap_uidpair_next(&it, &s, &d), 1);
	assert_int_equal(imap_uidpair_next(&it, &s, &d), 1);
	assert_int_equal(imap_uidpair_next(&it, &s, &d), -1);
	assert_int_equal(imap_uidpair_next(&it, &s, &d), 0);

	assert_false(imap_args_copyuid(cs("9 1:3"), &u));
	assert_false(imap_args_copyuid(cs("9 1,,3 4:6"), &u));
	assert_false(imap_args_copyuid(cs("9 * 4"), &u));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutf7),
		cmocka_unit_test(test_mailbox_tokens),
		cmocka_unit_test(test_command_args),
		cmocka_unit_test(test_command_args_hostile),
		cmocka_unit_test(test_seqset),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_capset),
		cmocka_unit_test(test_fetch_basic),
		cmocka_unit_test(test_fetch_envelope),
		cmocka_unit_test(test_fetch_hostile),
		cmocka_unit_test(test_fetch_fast_agrees),
		cmocka_unit_test(test_first_address),
		cmocka_unit_test(test_appenduid),
		cmocka_unit_test(test_copyuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
