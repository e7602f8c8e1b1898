/* IMAP line grammar: commands, responses and the resync plausibility test.
 * Each case's bytes go through the lexer whole, byte by byte and split at
 * every position, and every way must parse to the same results. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"

struct plog {
	char s[8192];
	size_t len;
};

static void put(struct plog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct plog *l, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(l->s + l->len, sizeof l->s - l->len, fmt, ap);
	va_end(ap);
	assert_true(k >= 0 && (size_t)k < sizeof l->s - l->len);
	l->len += (size_t)k;
}

static void put_slice(struct plog *l, const char *key, struct buf_slice s)
{
	put(l, " %s=", key);
	if (s.ptr == NULL) {
		put(l, "-");
		return;
	}
	put(l, "<");
	for (size_t i = 0; i < s.len; i++)
		put(l, s.ptr[i] >= 0x20 && s.ptr[i] < 0x7f ? "%c" : "\\x%02x", s.ptr[i]);
	put(l, ">");
}

/* One line per logical line: the parse, and "p" if it is plausible. */
static void on_line(void *ctx, const struct imap_line *line)
{
	struct plog *l = ctx;
	bool plaus = imap_line_plausible(line->dir, line->text.ptr, line->text.len);

	if (line->dir == DIR_C2S) {
		struct imap_command c;

		if (imap_parse_command(line, &c) != 0) {
			put(l, "C-1%s\n", plaus ? " p" : "");
			return;
		}
		put(l, "C %s%s", c.name, c.id != IMAP_CMD_UNKNOWN ? "" : "?");
		put_slice(l, "tag", c.tag);
		put_slice(l, "args", c.args);
		assert_ptr_equal(c.args.ptr, line->text.ptr + c.args_off);
	} else {
		struct imap_response r;
		static const char kinds[] = "TU+";

		if (imap_parse_response(line, &r) != 0) {
			put(l, "R-1%s\n", plaus ? " p" : "");
			return;
		}
		put(l, "R%c %s%s", kinds[r.kind], r.name, r.is_status ? "!" : "");
		if (r.has_number)
			put(l, " n=%llu", (unsigned long long)r.number);
		if (r.kind == IMAP_RESP_TAGGED)
			put_slice(l, "tag", r.tag);
		if (r.code.ptr != NULL)
			put_slice(l, "code", r.code);
		put_slice(l, "text", r.text);
		assert_ptr_equal(r.text.ptr, line->text.ptr + r.text_off);
	}
	put(l, "%s\n", plaus ? " p" : "");
}

static void run(enum stream_dir dir, const char *in, size_t split, int mode, struct plog *l)
{
	struct imap_lexer_hooks h = { .ctx = l, .line = on_line };
	struct imap_lexer *lx = imap_lexer_new(dir, false, 1024, NULL, &h);
	const uint8_t *p = (const uint8_t *)in;
	size_t n = strlen(in);

	memset(l, 0, sizeof *l);
	assert_non_null(lx);
	if (mode == 0) {
		imap_lexer_feed(lx, p, n, 0);
	} else if (mode == 1) {
		for (size_t i = 0; i < n; i++)
			imap_lexer_feed(lx, p + i, 1, 0);
	} else {
		imap_lexer_feed(lx, p, split, 0);
		imap_lexer_feed(lx, p + split, n - split, 0);
	}
	imap_lexer_free(&lx);
}

static void check(enum stream_dir dir, const char *in, const char *want)
{
	static struct plog l;

	run(dir, in, 0, 0, &l);
	if (strcmp(l.s, want) != 0)
		fail_msg("whole:\n--- got\n%s--- want\n%s", l.s, want);
	run(dir, in, 0, 1, &l);
	if (strcmp(l.s, want) != 0)
		fail_msg("bytewise:\n--- got\n%s--- want\n%s", l.s, want);
	for (size_t i = 1; i < strlen(in); i++) {
		run(dir, in, i, 2, &l);
		if (strcmp(l.s, want) != 0)
			fail_msg("split at %zu:\n--- got\n%s--- want\n%s", i, l.s, want);
	}
}

static void test_commands(void **state)
{
	(void)state;
	/* RFC 9051 examples, lower and upper case, literals, "." tags. */
	check(DIR_C2S,
	      "a001 LOGIN SMITH SESAME\r\n"
	      "A142 uid fetch 1:* (FLAGS)\r\n"
	      "A1 UID EXPUNGE 3000:3002\r\n"
	      ". list \"\" *\r\n"
	      "a002 NOOP\r\n"
	      "a8 login {5}\r\nalice {6}\r\nsecret\r\n"
	      "7 APPEND INBOX (\\Seen) {4+}\r\nabcd\r\n"
	      "a3 XAPPLEPUSHSERVICE aps-version 2\r\n"
	      "a4 frobnicate x\r\n"
	      "a5 UID\r\n"
	      "a6 UID FROB 1\r\n"
	      "a7 uid move 1 Trash\r\n"
	      "a9 ID (\"name\" \"x\")\r\n"
	      "a10 UID REPLACE 1 INBOX {1+}\r\nx\r\n",
	      "C LOGIN tag=<a001> args=<SMITH SESAME> p\n"
	      "C UID FETCH tag=<A142> args=<1:* (FLAGS)> p\n"
	      "C UID EXPUNGE tag=<A1> args=<3000:3002> p\n"
	      "C LIST tag=<.> args=<\"\" *> p\n"
	      "C NOOP tag=<a002> args=<> p\n"
	      "C LOGIN tag=<a8> args=<{5} {6}> p\n"
	      "C APPEND tag=<7> args=<INBOX (\\Seen) {4+}> p\n"
	      "C XAPPLEPUSHSERVICE tag=<a3> args=<aps-version 2> p\n"
	      "C FROBNICATE? tag=<a4> args=<x>\n"
	      "C UID tag=<a5> args=<>\n"
	      "C UID FROB? tag=<a6> args=<1>\n"
	      "C UID MOVE tag=<a7> args=<1 Trash> p\n"
	      "C ID tag=<a9> args=<(\"name\" \"x\")> p\n"
	      "C UID REPLACE tag=<a10> args=<1 INBOX {1+}> p\n");
	/* Not commands; the tag excludes "+" and "*". */
	check(DIR_C2S, "DONE\r\n+ abc\r\n* x\r\n\r\na9  NOOP\r\nYWxpY2U=\r\n",
	      "C-1 p\nC-1\nC-1\nC-1\nC-1\nC-1\n");
	/* A name longer than IMAP_MAX_NAME keeps a prefix and is unknown. */
	check(DIR_C2S, "a1 ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ x\r\n",
	      "C ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE? tag=<a1> args=<x>\n");
}

static void test_command_table(void **state)
{
	static const char *const names[] = {
		"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN",
		"ENABLE", "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME",
		"SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "NAMESPACE", "STATUS",
		"APPEND", "IDLE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH",
		"FETCH", "STORE", "COPY", "MOVE", "UID", "ID", "COMPRESS", "SORT",
		"THREAD", "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "GETMETADATA",
		"SETMETADATA", "NOTIFY", "XLIST", "GETACL", "SETACL", "DELETEACL",
		"LISTRIGHTS", "MYRIGHTS", "ESEARCH", "XAPPLEPUSHSERVICE",
		"CANCELUPDATE", "REPLACE", "UNAUTHENTICATE", "UID FETCH", "UID STORE",
		"UID COPY", "UID MOVE", "UID SEARCH", "UID EXPUNGE", "UID SORT",
		"UID THREAD", "UID REPLACE",
	};

	(void)state;
	/* bsearch finds every one only if the table is sorted. */
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!imap_command_known(names[i]))
			fail_msg("%s not known", names[i]);
	assert_false(imap_command_known("X-GM-RAW"));
	assert_false(imap_command_known("login"));
	assert_false(imap_command_known(""));
}

static void test_responses(void **state)
{
	(void)state;
	/* RFC 9051 section 8 and the extensions' responses. */
	check(DIR_S2C,
	      "* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN] Server ready\r\n"
	      "a001 OK [READ-WRITE] SELECT completed\r\n"
	      "a2 NO [BADCHARSET (UTF-8)] bad charset\r\n"
	      "A3 BAD see [this] later\r\n"
	      "a4 ok done\r\n"
	      "* 18 EXISTS\r\n"
	      "* 12 FETCH (FLAGS (\\Seen) BODY[] {5}\r\nhello)\r\n"
	      "* VANISHED (EARLIER) 1:5\r\n"
	      "* ESEARCH (TAG \"a1\") UID COUNT 5\r\n"
	      "* QUOTA \"\" (STORAGE 10 512)\r\n"
	      "* METADATA INBOX (/private/comment \"x\")\r\n"
	      "* CAPABILITY IMAP4rev2 IDLE\r\n"
	      "* BYE Autologout; idle for too long\r\n"
	      "* PREAUTH [CAPABILITY x] hi\r\n"
	      "+ Ready for literal data\r\n"
	      "+\r\n"
	      "+ \r\n"
	      "* OK [ALERT unterminated\r\n"
	      "* OK [REFERRAL \"a]b\"] x\r\n"
	      "* NO [A [B] C] nested\r\n"
	      "* SEARCH\r\n",
	      "RU OK! code=<CAPABILITY IMAP4rev2 AUTH=PLAIN> text=<Server ready> p\n"
	      "RT OK! tag=<a001> code=<READ-WRITE> text=<SELECT completed> p\n"
	      "RT NO! tag=<a2> code=<BADCHARSET (UTF-8)> text=<bad charset> p\n"
	      "RT BAD! tag=<A3> text=<see [this] later> p\n"
	      "RT OK! tag=<a4> text=<done> p\n"
	      "RU EXISTS n=18 text=<> p\n"
	      "RU FETCH n=12 text=<(FLAGS (\\Seen) BODY[] {5})> p\n"
	      "RU VANISHED text=<(EARLIER) 1:5> p\n"
	      "RU ESEARCH text=<(TAG \"a1\") UID COUNT 5> p\n"
	      "RU QUOTA text=<\"\" (STORAGE 10 512)> p\n"
	      "RU METADATA text=<INBOX (/private/comment \"x\")> p\n"
	      "RU CAPABILITY text=<IMAP4rev2 IDLE> p\n"
	      "RU BYE! text=<Autologout; idle for too long> p\n"
	      "RU PREAUTH! code=<CAPABILITY x> text=<hi> p\n"
	      "R+  text=<Ready for literal data> p\n"
	      "R+  text=<> p\n"
	      "R+  text=<> p\n"
	      "RU OK! text=<[ALERT unterminated> p\n"
	      "RU OK! code=<REFERRAL \"a]b\"> text=<x> p\n"
	      "RU NO! code=<A [B] C> text=<nested> p\n"
	      "RU SEARCH text=<> p\n");
	/* Not responses, or not plausible ones. */
	check(DIR_S2C,
	      "a1 FOO bar\r\n*\r\n* \r\n* 99999999999999999999999 EXISTS\r\nHello world\r\n"
	      "* 3 apples\r\nA003 OK\r\n* BAD\r\n* FOO x\r\nFrom: x\r\n* 3\r\n",
	      "R-1\nR-1\nR-1\nR-1\nR-1\n"
	      "RU APPLES n=3 text=<>\nRT OK! tag=<A003> text=<>\nRU BAD! text=<>\n"
	      "RU FOO text=<x>\nR-1\nR-1\n");
}

/* The resync test turns away mail text and keeps real traffic. */
static void test_plausible(void **state)
{
	static const struct { enum stream_dir dir; const char *line; bool want; } cases[] = {
		{ DIR_C2S, "Hello world", false },
		{ DIR_C2S, "From: x", false },
		{ DIR_C2S, "Please check", false },
		{ DIR_C2S, "Please check the attachment", false },
		{ DIR_C2S, "a list of things", false },
		{ DIR_C2S, "a1 Login x y", false },
		{ DIR_C2S, "a1 check", true },
		{ DIR_C2S, "a1 check now", false },
		{ DIR_C2S, "a1 select", false },
		{ DIR_C2S, "DONE", true },
		{ DIR_C2S, ". select INBOX", true },
		{ DIR_C2S, "1 uid fetch 1:* FLAGS", true },
		{ DIR_C2S, "a UID", false },
		{ DIR_S2C, "* 3 EXISTS", true },
		{ DIR_S2C, "* 3 FETCH (UID 4)", true },
		{ DIR_S2C, "* 3 apples", false },
		{ DIR_S2C, "* LIST (\\HasNoChildren) \"/\" INBOX", true },
		{ DIR_S2C, "* EXISTS", false },
		{ DIR_S2C, "* FOO x", false },
		{ DIR_S2C, "+ go ahead", true },
		{ DIR_S2C, "+", true },
		{ DIR_S2C, "+1 for this", false },
		{ DIR_S2C, "a1 OK done", true },
		{ DIR_S2C, "Hello OK there", false },
		{ DIR_S2C, "A003 OK", false },
		{ DIR_S2C, "* BYE", false },
		{ DIR_S2C, "", false },
		{ DIR_C2S, "", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *s = cases[i].line;

		if (imap_line_plausible(cases[i].dir, (const uint8_t *)s, strlen(s)) != cases[i].want)
			fail_msg("\"%s\": want %d", s, cases[i].want);
	}
}

/* --- ids from the vocabulary ------------------------------------------- */

static struct imap_line text_line(enum stream_dir dir, const char *text)
{
	struct imap_line l = { .dir = dir };

	l.text.ptr = (const uint8_t *)text;
	l.text.len = strlen(text);
	return l;
}

/* A command's id is its row's, whatever the case it was sent in; an
 * unknown command keeps its own name with IMAP_CMD_UNKNOWN. */
static void test_command_ids(void **state)
{
	static const struct { const char *line; enum imap_cmd_id id; const char *name; } cases[] = {
		{ "a1 LOGIN a b", IMAP_CMD_LOGIN, "LOGIN" },
		{ "a2 select INBOX", IMAP_CMD_SELECT, "SELECT" },
		{ "a3 uid fetch 1:* FLAGS", IMAP_CMD_UID_FETCH, "UID FETCH" },
		{ "a4 UID EXPUNGE 1", IMAP_CMD_UID_EXPUNGE, "UID EXPUNGE" },
		{ "a5 UID", IMAP_CMD_UID, "UID" },
		{ "a6 UID FOO 1", IMAP_CMD_UNKNOWN, "UID FOO" },
		{ "a7 unauthenticate", IMAP_CMD_UNAUTHENTICATE, "UNAUTHENTICATE" },
		{ "a8 X-GM-RAW x", IMAP_CMD_UNKNOWN, "X-GM-RAW" },
		{ "a9 XAPPLEPUSHSERVICE aps-version 2", IMAP_CMD_XAPPLEPUSHSERVICE,
		  "XAPPLEPUSHSERVICE" },
		/* a name too long to keep is never a known one */
		{ "b1 LOGINLOGINLOGINLOGINLOGINLOGINLOGIN x", IMAP_CMD_UNKNOWN,
		  "LOGINLOGINLOGINLOGINLOGINLOGINL" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct imap_line l = text_line(DIR_C2S, cases[i].line);
		struct imap_command c;

		assert_int_equal(imap_parse_command(&l, &c), 0);
		if (c.id != cases[i].id || strcmp(c.name, cases[i].name) != 0)
			fail_msg("\"%s\": got %d %s", cases[i].line, c.id, c.name);
		assert_int_equal(imap_command_known(c.name), c.id != IMAP_CMD_UNKNOWN);
	}
}

/* Responses get the untagged row's id (tagged ones OK/NO/BAD), and their
 * code its id and arguments. */
static void test_response_ids_and_codes(void **state)
{
	static const struct {
		const char *line;
		enum imap_resp_id id;
		enum imap_code_id code;
		const char *args;	/* NULL: none */
	} cases[] = {
		{ "* OK [CAPABILITY IMAP4rev1 IDLE] hi", IMAP_R_OK, IMAP_CODE_CAPABILITY,
		  "IMAP4rev1 IDLE" },
		{ "a1 OK [read-write] done", IMAP_R_OK, IMAP_CODE_READ_WRITE, NULL },
		{ "a2 NO [BADCHARSET (UTF-8)] no", IMAP_R_NO, IMAP_CODE_BADCHARSET, "(UTF-8)" },
		{ "a3 bad [] what", IMAP_R_BAD, IMAP_CODE_OTHER, NULL },
		{ "* NO [REFERRAL \"a]b\"] x", IMAP_R_NO, IMAP_CODE_OTHER, "\"a]b\"" },
		{ "* OK [COPYUID 38 1:3 100:102] moved", IMAP_R_OK, IMAP_CODE_COPYUID,
		  "38 1:3 100:102" },
		{ "* BYE bye", IMAP_R_BYE, IMAP_CODE_NONE, NULL },
		{ "* PREAUTH [ALERT] x", IMAP_R_PREAUTH, IMAP_CODE_ALERT, NULL },
		{ "* 3 EXISTS", IMAP_R_EXISTS, IMAP_CODE_NONE, NULL },
		{ "* 1 fetch (UID 5)", IMAP_R_FETCH, IMAP_CODE_NONE, NULL },
		{ "* CAPABILITY IMAP4rev1", IMAP_R_CAPABILITY, IMAP_CODE_NONE, NULL },
		{ "* FOO bar", IMAP_R_UNKNOWN, IMAP_CODE_NONE, NULL },
		/* a code only follows a status */
		{ "* LIST [x] y", IMAP_R_LIST, IMAP_CODE_NONE, NULL },
		{ "+ go", IMAP_R_UNKNOWN, IMAP_CODE_NONE, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct imap_line l = text_line(DIR_S2C, cases[i].line);
		struct imap_response r;

		assert_int_equal(imap_parse_response(&l, &r), 0);
		if (r.id != cases[i].id || r.rcode.id != cases[i].code)
			fail_msg("\"%s\": got id %d code %d", cases[i].line, r.id, r.rcode.id);
		if (cases[i].args == NULL) {
			assert_null(r.rcode.args.ptr);
		} else {
			assert_int_equal(r.rcode.args.len, strlen(cases[i].args));
			assert_memory_equal(r.rcode.args.ptr, cases[i].args, r.rcode.args.len);
		}
	}
	/* a tagged line that is not OK, NO or BAD is no response */
	{
		struct imap_line l = text_line(DIR_S2C, "a1 BYE x");
		struct imap_response r;

		assert_int_equal(imap_parse_response(&l, &r), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_command_table),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_plausible),
		cmocka_unit_test(test_command_ids),
		cmocka_unit_test(test_response_ids_and_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
