/* IMAP lexer: framing and tokens.  Every framing case is run whole, byte by
 * byte, and split in two at every position, and must give the same events;
 * fed byte by byte, a line event may only fire on the byte that ends it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_lexer.h"

/* --- an event recorder -------------------------------------------------- */

struct rec {
	char log[1 << 16];
	size_t len;
	uint64_t data_pending;	/* literal_data bytes not yet logged */
	bool bytewise;
	uint8_t cur_byte;	/* the byte being fed, in bytewise mode */
	bool in_op;		/* inside a gap/refuse/finish call */
	bool bad_timing;	/* a line fired before its last byte */
	uint64_t abandon_lost;	/* what imap_lexer_literal_abandon returned */
};

static void rec_put(struct rec *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void rec_put(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(r->log + r->len, sizeof r->log - r->len, fmt, ap);
	va_end(ap);
	assert_true(k >= 0 && (size_t)k < sizeof r->log - r->len);
	r->len += (size_t)k;
}

static void rec_bytes(struct rec *r, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			rec_put(r, "%c", p[i]);
		else
			rec_put(r, "\\x%02x", p[i]);
	}
}

static void rec_flush_data(struct rec *r)
{
	if (r->data_pending != 0)
		rec_put(r, "D%llu\n", (unsigned long long)r->data_pending);
	r->data_pending = 0;
}

static void rec_line(void *ctx, const struct imap_line *l)
{
	static const char kinds[] = "spmb";
	struct rec *r = ctx;

	rec_flush_data(r);
	if (r->bytewise && !r->in_op && r->cur_byte != '\n')
		r->bad_timing = true;
	rec_put(r, "L%s%s%s%s%s:", l->bare_lf ? "b" : "", l->overlong ? "o" : "",
		l->damaged ? "d" : "", l->cut ? "c" : "", l->at_boundary ? "s" : "");
	if (l->text.len > 200) {
		rec_put(r, "[%zu bytes]", l->text.len);
	} else {
		rec_bytes(r, l->text.ptr, l->text.len);
	}
	for (size_t i = 0; i < l->n_lits; i++) {
		const struct imap_literal *lit = &l->lits[i];

		rec_put(r, " <%llu/%llu %c%s@%zu ", (unsigned long long)lit->size,
			(unsigned long long)lit->received, kinds[lit->kind],
			lit->truncated ? "T" : "", lit->text_off);
		if (lit->kept.ptr == NULL)
			rec_put(r, "->");
		else
			rec_put(r, "k="), rec_bytes(r, lit->kept.ptr, lit->kept.len), rec_put(r, ">");
	}
	rec_put(r, "\n");
}

static void rec_begin(void *ctx, const struct imap_line *partial)
{
	struct rec *r = ctx;

	rec_flush_data(r);
	if (r->bytewise && r->cur_byte != '\n')
		r->bad_timing = true;
	rec_put(r, "B%zu\n", partial->n_lits);
}

static void rec_data(void *ctx, const uint8_t *p, size_t n)
{
	struct rec *r = ctx;

	(void)p;
	r->data_pending += n;
}

static void rec_notice(void *ctx, const struct notice *n)
{
	struct rec *r = ctx;

	assert_string_not_equal(notice_kind_name(n->kind), "other");

	rec_flush_data(r);
	rec_put(r, "N:%s\n", n->text);
}

/* --- frames ---------------------------------------------------------------- */

struct frames_rec {
	uint64_t first[4], last[4];
	size_t n;
};

static void frames_line(void *ctx, const struct imap_line *l)
{
	struct frames_rec *r = ctx;

	assert_true(r->n < 4);
	r->first[r->n] = l->frame_first;
	r->last[r->n] = l->frame_last;
	r->n++;
}

/* A line names the records of its first and last byte, its literals'
 * included: whatever the source says when they are fed. */
static void test_frames(void **state)
{
	struct frames_rec r = { 0 };
	struct imap_lexer_hooks h = { .ctx = &r, .line = frames_line };
	struct imap_lexer *lx = imap_lexer_new(DIR_C2S, false, 64, NULL, &h);
	uint64_t frame = 3;

	(void)state;
	imap_lexer_frames(lx, &frame);
	imap_lexer_feed(lx, (const uint8_t *)"A1 LO", 5, 1);
	frame = 4;
	imap_lexer_feed(lx, (const uint8_t *)"GIN a b\r\nA2 NOOP\r\nA3 APPEND m {3}\r\n", 35, 2);
	frame = 6;
	imap_lexer_feed(lx, (const uint8_t *)"abc", 3, 3);
	frame = 7;
	imap_lexer_feed(lx, (const uint8_t *)"\r\n", 2, 4);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.first[0], 3);
	assert_int_equal(r.last[0], 4);
	assert_int_equal(r.first[1], 4);
	assert_int_equal(r.last[1], 4);
	assert_int_equal(r.first[2], 4);
	assert_int_equal(r.last[2], 7);
	imap_lexer_free(&lx);
}

/* --- cases ---------------------------------------------------------------- */

enum step_op { S_END = 0, S_DATA, S_GAP, S_REFUSE, S_FINISH, S_BOUND, S_ABANDON };

struct step {
	enum step_op op;
	const char *data;
	size_t len;		/* 0: strlen(data) */
	uint64_t gap;
};

#define D(s)		{ S_DATA, (s), 0, 0 }
#define DS(s)		{ S_DATA, (s), sizeof(s) - 1, 0 }	/* NULs inside */
#define GAP(n)		{ S_GAP, NULL, 0, (n) }
#define REFUSE		{ S_REFUSE, NULL, 0, 0 }
#define FINISH		{ S_FINISH, NULL, 0, 0 }
#define BOUND		{ S_BOUND, NULL, 0, 0 }	/* a segment starts */
#define ABANDON		{ S_ABANDON, NULL, 0, 0 }	/* the literal did not happen */

#define MAX_STEPS 8

struct lcase {
	const char *name;
	enum stream_dir dir;
	bool mid_stream;
	size_t keep;		/* 0: IMAP_DEFAULT_LITERAL_KEEP; SIZE_MAX: 0 */
	struct step steps[MAX_STEPS];
	const char *expect;
};

static size_t step_len(const struct step *s)
{
	return s->len != 0 ? s->len : strlen(s->data);
}

enum mode { M_WHOLE, M_BYTES, M_SPLIT };

/* Run c; in M_SPLIT, data step split_step is fed as [0,pos) and [pos,len). */
static void run_case(const struct lcase *c, enum mode m, size_t split_step, size_t pos,
		     struct rec *r)
{
	struct imap_lexer_hooks h = {
		.ctx = r, .line = rec_line, .literal_begin = rec_begin,
		.literal_data = rec_data, .notice = rec_notice,
	};
	struct imap_lexer *lx;
	int64_t ts = 0;

	memset(r, 0, sizeof *r);
	r->bytewise = m == M_BYTES;
	lx = imap_lexer_new(c->dir, c->mid_stream,
			    c->keep == SIZE_MAX ? 0 : c->keep ? c->keep : IMAP_DEFAULT_LITERAL_KEEP,
			    NULL, &h);
	assert_non_null(lx);
	for (size_t i = 0; i < MAX_STEPS && c->steps[i].op != S_END; i++) {
		const struct step *s = &c->steps[i];
		const uint8_t *p = (const uint8_t *)s->data;

		r->in_op = s->op != S_DATA;
		if (s->op == S_GAP)
			imap_lexer_gap(lx, s->gap, ts);
		else if (s->op == S_REFUSE)
			imap_lexer_literal_refused(lx);
		else if (s->op == S_FINISH)
			imap_lexer_finish(lx);
		else if (s->op == S_BOUND)
			imap_lexer_boundary(lx);
		else if (s->op == S_ABANDON)
			r->abandon_lost = imap_lexer_literal_abandon(lx);
		else if (m == M_BYTES)
			for (size_t k = 0; k < step_len(s); k++) {
				r->cur_byte = p[k];
				imap_lexer_feed(lx, p + k, 1, ts++);
			}
		else if (m == M_SPLIT && i == split_step) {
			imap_lexer_feed(lx, p, pos, ts++);
			imap_lexer_feed(lx, p + pos, step_len(s) - pos, ts++);
		} else {
			imap_lexer_feed(lx, p, step_len(s), ts++);
		}
	}
	rec_flush_data(r);
	imap_lexer_free(&lx);
	assert_null(lx);
}

/* Runs c every way; prints what differs and returns false on a failure. */
static bool check_case(const struct lcase *c, size_t stride)
{
	static struct rec r;

	run_case(c, M_WHOLE, 0, 0, &r);
	if (strcmp(r.log, c->expect) != 0) {
		print_error("%s whole:\n--- got\n%s--- want\n%s", c->name, r.log, c->expect);
		return false;
	}
	run_case(c, M_BYTES, 0, 0, &r);
	if (strcmp(r.log, c->expect) != 0 || r.bad_timing) {
		print_error("%s bytewise (timing %s):\n--- got\n%s--- want\n%s", c->name,
			    r.bad_timing ? "BAD" : "ok", r.log, c->expect);
		return false;
	}
	for (size_t i = 0; i < MAX_STEPS && c->steps[i].op != S_END; i++) {
		if (c->steps[i].op != S_DATA)
			continue;
		for (size_t pos = 1; pos < step_len(&c->steps[i]); pos += stride) {
			run_case(c, M_SPLIT, i, pos, &r);
			if (strcmp(r.log, c->expect) != 0) {
				print_error("%s split step %zu at %zu:\n--- got\n%s--- want\n%s",
					    c->name, i, pos, r.log, c->expect);
				return false;
			}
		}
	}
	return true;
}

#define HDR120 "Date: Wed, 17 Jul 1996 02:44:25 -0700\r\n" \
	"From: Terry Gray <gray@cac.washington.edu>\r\n" \
	"Subject: IMAP4rev2 WG mtg summary\r\n\r\n"
#define HDR120_ESC "Date: Wed, 17 Jul 1996 02:44:25 -0700\\x0d\\x0a" \
	"From: Terry Gray <gray@cac.washington.edu>\\x0d\\x0a" \
	"Subject: IMAP4rev2 WG mtg summary\\x0d\\x0a\\x0d\\x0a"
/* 35 bytes of body that look like IMAP lines, ending in a literal marker */
#define TRAP35 "A003 OK done\r\n* BYE bye\r\nsee {10}\r\n"
#define TRAP35_ESC "A003 OK done\\x0d\\x0a* BYE bye\\x0d\\x0asee {10}\\x0d\\x0a"

static const struct lcase lexer_cases[] = {
	{ "rfc9051 section 8, client", DIR_C2S, false, 0, {
		D("a001 login mrc secret\r\na002 select inbox\r\na003 fetch 12 full\r\n"
		  "a004 fetch 12 body[header]\r\na005 store 12 +flags \\deleted\r\n"
		  "a006 logout\r\n") },
	  "L:a001 login mrc secret\nL:a002 select inbox\nL:a003 fetch 12 full\n"
	  "L:a004 fetch 12 body[header]\nL:a005 store 12 +flags \\x5cdeleted\n"
	  "L:a006 logout\n" },
	{ "rfc9051 section 8, server", DIR_S2C, false, 0, {
		D("* OK IMAP4rev2 Service Ready\r\na001 OK LOGIN completed\r\n"
		  "* 18 EXISTS\r\n* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
		  "* 12 FETCH (BODY[HEADER] {120}\r\n" HDR120 ")\r\n"
		  "a004 OK FETCH completed\r\n"
		  "* BYE IMAP4rev2 server terminating connection\r\n") },
	  "L:* OK IMAP4rev2 Service Ready\nL:a001 OK LOGIN completed\n"
	  "L:* 18 EXISTS\nL:* OK [UIDVALIDITY 3857529045] UIDs valid\n"
	  "B1\nD120\nL:* 12 FETCH (BODY[HEADER] {120}) <120/120 s@30 k=" HDR120_ESC ">\n"
	  "L:a004 OK FETCH completed\n"
	  "L:* BYE IMAP4rev2 server terminating connection\n" },
	{ "LOGIN with two literals", DIR_C2S, false, 0, {
		D("A1 LOGIN {5}\r\nalice {6}\r\nsecret\r\nA2 NOOP\r\n") },
	  "B1\nD5\nB2\nD6\n"
	  "L:A1 LOGIN {5} {6} <5/5 s@12 k=alice> <6/6 s@16 k=secret>\nL:A2 NOOP\n" },
	{ "APPEND {n+} whose body looks like IMAP (Thunderbird)", DIR_C2S, false, 0, {
		D("5 append \"INBOX\" (\\Seen) {35+}\r\n" TRAP35 "\r\n6 noop\r\n") },
	  "B1\nD35\nL:5 append \"INBOX\" (\\x5cSeen) {35+} <35/35 p@30 k=" TRAP35_ESC ">\n"
	  "L:6 noop\n" },
	{ "FETCH body that looks like IMAP, server side", DIR_S2C, false, 0, {
		D("* 1 FETCH (UID 7 BODY[] {35}\r\n" TRAP35 " FLAGS (\\Seen))\r\n"
		  "A5 OK done\r\n") },
	  "B1\nD35\nL:* 1 FETCH (UID 7 BODY[] {35} FLAGS (\\x5cSeen)) <35/35 s@28 k="
	  TRAP35_ESC ">\nL:A5 OK done\n" },
	{ "status and continuation lines never announce literals", DIR_S2C, false, 0, {
		D("* OK see {5}\r\nA1 NO [TRYCREATE] no {3}\r\n+ go {2}\r\n+\r\n"
		  "* BYE {1}\r\n* PREAUTH {1}\r\nA2 bad {0}\r\n") },
	  "L:* OK see {5}\nL:A1 NO [TRYCREATE] no {3}\nL:+ go {2}\nL:+\n"
	  "L:* BYE {1}\nL:* PREAUTH {1}\nL:A2 bad {0}\n" },
	{ "bare LF and the \".\" tag", DIR_C2S, false, 0, {
		D("a1 NOOP\n. LIST \"\" *\r\na2 LOGIN {2}\nab\n") },
	  "Lb:a1 NOOP\nL:. LIST \"\" *\nB1\nD2\nLb:a2 LOGIN {2} <2/2 s@12 k=ab>\n" },
	{ "refused APPEND: the sync literal never comes", DIR_C2S, false, 0, {
		D("A1 APPEND foo {100}\r\n"), REFUSE, D("A2 CREATE foo\r\n") },
	  "B1\nL:A1 APPEND foo {100} <100/0 sT@19 ->\nL:A2 CREATE foo\n" },
	{ "refusal after literal bytes arrived is ignored", DIR_C2S, false, 0, {
		D("A1 APPEND foo {3}\r\nab"), REFUSE, D("c\r\n") },
	  "B1\nD3\nL:A1 APPEND foo {3} <3/3 s@17 k=abc>\n" },
	{ "gap inside a literal keeps sync", DIR_C2S, false, 0, {
		D("A1 APPEND f {10}\r\nabc"), GAP(4), D("xyz)\r\nA2 NOOP\r\n") },
	  "B1\nD6\nLd:A1 APPEND f {10}) <10/6 sT@16 ->\nL:A2 NOOP\n" },
	{ "gap running past a literal's end resyncs", DIR_S2C, false, 0, {
		D("* 1 FETCH (BODY[] {10}\r\nabc"), GAP(40), D("lo world\r\n* 2 EXISTS\r\n") },
	  "B1\nD3\nLdc:* 1 FETCH (BODY[] {10} <10/3 sT@22 ->\n"
	  "N:resynchronised after skipping 10 bytes\nL:* 2 EXISTS\n" },
	{ "gap in line text: resync on a plausible line", DIR_C2S, false, 0, {
		D("A1 LOGIN al"), GAP(5), D("ice pw\r\nHello world\r\nFrom: x\r\nA2 NOOP\r\n") },
	  "Lc:A1 LOGIN al\n"
	  "N:resynchronised after skipping 30 bytes\nL:A2 NOOP\n" },
	{ "abandoned literal: its bytes are read again as lines", DIR_C2S, false, 0, {
		D("a1 APPEND x {99999+}\r\na2 NOOP\r\na3 NO"), ABANDON, D("OP\r\n") },
	  "B1\nD14\nL:a1 APPEND x {99999+} <99999/14 pT@20 ->\nL:a2 NOOP\nL:a3 NOOP\n" },
	{ "abandoned literal after a hole: the prefix, then resync", DIR_C2S, false, 0, {
		D("a1 APPEND x {99999}\r\na2 NOOP\r\na3 "), GAP(5), D("x\r\na4 NOOP\r\n"),
		ABANDON, D("a5 NOOP\r\n") },
	  "B1\nD24\nLd:a1 APPEND x {99999} <99999/24 sT@19 ->\nL:a2 NOOP\nLc:a3 \n"
	  "L:a5 NOOP\n" },
	{ "abandon outside a literal does nothing", DIR_C2S, false, 0, {
		D("a1 NOOP\r\n"), ABANDON, D("a2 NOOP\r\n") },
	  "L:a1 NOOP\nL:a2 NOOP\n" },
	{ "a cut line's CR is not text", DIR_S2C, false, 0, {
		D("A1 OK done\r"), GAP(3), D("* 2 EXISTS\r\n") },
	  "Lc:A1 OK done\nL:* 2 EXISTS\n" },
	{ "resync candidate at a segment start, cut: handed up", DIR_S2C, true, 0, {
		BOUND, D("a001 OK [CAPABILITY IMAP4rev1 SASL"), GAP(30), BOUND,
		D("a002 OK done\r\n") },
	  "Lcs:a001 OK [CAPABILITY IMAP4rev1 SASL\nLs:a002 OK done\n" },
	{ "resync candidate mid-segment, cut: skipped", DIR_S2C, true, 0, {
		D("a001 OK [CAPABILITY IMAP4rev1 SASL"), GAP(30), BOUND, D("a002 OK done\r\n") },
	  "N:resynchronised after skipping 34 bytes\nLs:a002 OK done\n" },
	{ "only a line's first byte takes the segment mark", DIR_S2C, false, 0, {
		D("* 1 EXISTS\r\n* 2 EX"), BOUND, D("ISTS\r\n"), BOUND, D("* 3 EXISTS\r\n* 4 EXISTS\r\n") },
	  "L:* 1 EXISTS\nL:* 2 EXISTS\nLs:* 3 EXISTS\nL:* 4 EXISTS\n" },
	{ "mid-stream start inside a literal", DIR_S2C, true, 0, {
		D("lo world\r\n* BAD\r\nA003 OK\r\n* 3 EXISTS\r\n* 4 FETCH (BODY[] {2}\r\nhi)\r\n") },
	  "N:resynchronised after skipping 26 bytes\nL:* 3 EXISTS\n"
	  "B1\nD2\nL:* 4 FETCH (BODY[] {2}) <2/2 s@21 k=hi>\n" },
	{ "4 GB literal: counted, streamed, not kept", DIR_S2C, false, 0, {
		D("* 1 FETCH (BODY[] {4294967296}\r\nhello"), GAP(4294967291ULL),
		D(")\r\nA1 OK\r\n") },
	  "B1\nD5\nLd:* 1 FETCH (BODY[] {4294967296}) <4294967296/5 sT@30 ->\nL:A1 OK\n" },
	{ "literal size past 64 bits", DIR_S2C, false, 0, {
		D("* 1 FETCH (BODY[] {99999999999999999999999}\r\nHello\r\n* 2 EXISTS\r\n") },
	  "N:literal size does not fit in 64 bits: resynchronising\n"
	  "Ld:* 1 FETCH (BODY[] {99999999999999999999999}\n"
	  "N:resynchronised after skipping 7 bytes\nL:* 2 EXISTS\n" },
	{ "zero-length sync literal, then another", DIR_C2S, false, 0, {
		D("a LOGIN {0}\r\n {2}\r\npw\r\n") },
	  "B1\nB2\nD2\nL:a LOGIN {0} {2} <0/0 s@11 k=> <2/2 s@15 k=pw>\n" },
	{ "literal8, LITERAL- and NUL bytes", DIR_C2S, false, 0, {
		DS("A1 APPEND x ~{3}\r\n\0\1\0 {2-}\r\n\r\n\r\nA2 X \"a\0b\"\r\n") },
	  "B1\nD3\nB2\nD2\nL:A1 APPEND x ~{3} {2-} <3/3 b@16 k=\\x00\\x01\\x00> "
	  "<2/2 m@21 k=\\x0d\\x0a>\nL:A2 X \"a\\x00b\"\n" },
	{ "literal larger than the keep limit is streamed only", DIR_S2C, false, 4, {
		D("* 1 FETCH (BODY[] {5}\r\n12345 BODY[1] {4}\r\nabcd)\r\n") },
	  "B1\nD5\nB2\nD4\nL:* 1 FETCH (BODY[] {5} BODY[1] {4}) <5/5 s@21 -> <4/4 s@33 k=abcd>\n" },
	{ "keep limit 0: nothing kept, an empty literal still is", DIR_C2S, false, SIZE_MAX, {
		D("a LOGIN {0}\r\n {1}\r\nx\r\n") },
	  "B1\nB2\nD1\nL:a LOGIN {0} {1} <0/0 s@11 k=> <1/1 s@15 ->\n" },
	{ "end of stream inside a line", DIR_C2S, false, 0, {
		D("A1 NOOP\r\nA2 NOO"), FINISH },
	  "L:A1 NOOP\nN:stream ended inside a line: 6 bytes dropped\n" },
	{ "end of stream inside a 4 GB literal says what the literal lost", DIR_S2C, false, 0, {
		D("* 1 FETCH (BODY[] {4294967296}\r\nhello"), FINISH },
	  "B1\nD5\nN:stream ended inside a literal of 4294967296 bytes after 5: "
	  "line of 30 bytes dropped\n" },
	{ "empty lines are lines", DIR_S2C, false, 0, {
		D("\r\n\n* OK\r\n") },
	  "L:\nLb:\nL:* OK\n" },
};

static void test_lexer_cases(void **state)
{
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof lexer_cases / sizeof lexer_cases[0]; i++)
		failed += !check_case(&lexer_cases[i], 1);
	assert_int_equal(failed, 0);
}

/* Lines past IMAP_MAX_LINE are cut and the lexer goes on at the next LF,
 * still seeing a literal announced at the end of the cut line. */
static void test_lexer_overlong(void **state)
{
	size_t body = IMAP_MAX_LINE + 5000;
	char *a = malloc(body + 64), *b = malloc(body + 64), *e = malloc(3 * body);
	char want_a[256], want_b[256];
	struct lcase c1 = { "overlong line", DIR_C2S, false, 0, { { S_DATA, a, 0, 0 } }, want_a };
	struct lcase c2 = { "overlong line ending in a literal", DIR_S2C, false, 0,
			    { { S_DATA, b, 0, 0 } }, want_b };
	struct lcase c3 = { "endless line", DIR_S2C, false, 0,
			    { { S_DATA, e, 0, 0 }, FINISH },
			    "N:line longer than 65536 bytes (or out of memory): cut\n"
			    "N:stream ended inside a line: 65536 bytes dropped\n" };

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(e);
	memcpy(a, "A1 ", 3);
	memset(a + 3, 'x', body);
	strcpy(a + 3 + body, "\r\nA2 NOOP\r\n");
	snprintf(want_a, sizeof want_a, "N:line longer than %d bytes (or out of memory): cut\n"
		 "Lo:[%d bytes]\nL:A2 NOOP\n", IMAP_MAX_LINE, IMAP_MAX_LINE);
	memcpy(b, "* 1 FETCH (", 11);
	memset(b + 11, 'y', body);
	strcpy(b + 11 + body, " BODY[] {3}\r\nabc)\r\n* 2 EXISTS\r\n");
	snprintf(want_b, sizeof want_b, "N:line longer than %d bytes (or out of memory): cut\n"
		 "B1\nD3\nLo:[%d bytes] <3/3 s@%d k=abc>\nL:* 2 EXISTS\n",
		 IMAP_MAX_LINE, IMAP_MAX_LINE + 3, IMAP_MAX_LINE + 3);
	memset(e, 'z', 3 * body - 1);
	e[3 * body - 1] = '\0';
	/* Split at every 997th position: every position would take minutes. */
	assert_true(check_case(&c1, 997));
	assert_true(check_case(&c2, 997));
	assert_true(check_case(&c3, 4999));
	free(a);
	free(b);
	free(e);
}

/* --- tokens ----------------------------------------------------------- */

/* Feed text (whole) and tokenize the one logical line it makes, into out. */
struct tok_ctx {
	char out[4096];
	size_t len;
	size_t pos;
};

static void tok_put(struct tok_ctx *t, const char *pfx, struct buf_slice s)
{
	int k = snprintf(t->out + t->len, sizeof t->out - t->len, "%s%.*s ", pfx,
			 (int)s.len, (const char *)s.ptr);

	assert_true(k > 0 && (size_t)k < sizeof t->out - t->len);
	t->len += (size_t)k;
}

static void tok_line(void *ctx, const struct imap_line *line)
{
	struct tok_ctx *t = ctx;
	struct imap_tok_cursor c;
	struct imap_tok tok;
	static const char *names[] = { "E", "A:", "Q:", "L", "(", ")", "S:", "ERR" };

	imap_tok_init(&c, line, t->pos);
	while (imap_tok_next(&c, &tok) != IMAP_TOK_END && tok.type != IMAP_TOK_ERROR) {
		if (tok.type == IMAP_TOK_LITERAL) {
			assert_non_null(tok.lit);
			tok_put(t, "L:", tok.lit->kept);
		} else if (tok.type == IMAP_TOK_LPAREN || tok.type == IMAP_TOK_RPAREN) {
			tok_put(t, names[tok.type], tok.value);
		} else {
			tok_put(t, names[tok.type],
				tok.type == IMAP_TOK_QUOTED ? tok.value : tok.raw);
		}
	}
	/* DEEP: the error is the depth cap (the cursor says which). */
	if (tok.type == IMAP_TOK_ERROR)
		tok_put(t, c.too_deep ? "DEEP" : "ERR", tok.raw), t->out[t->len++] = '\0', t->len--;
}

static const char *tokens(struct tok_ctx *t, enum stream_dir dir, const char *text, size_t pos)
{
	struct imap_lexer_hooks h = { .ctx = t, .line = tok_line };
	struct imap_lexer *lx = imap_lexer_new(dir, false, 1024, NULL, &h);

	memset(t, 0, sizeof *t);
	t->pos = pos;
	assert_non_null(lx);
	imap_lexer_feed(lx, (const uint8_t *)text, strlen(text), 0);
	imap_lexer_free(&lx);
	return t->out;
}

static void test_tok(void **state)
{
	static struct tok_ctx t;
	static const struct { enum stream_dir dir; const char *in; size_t pos; const char *want; } cases[] = {
		{ DIR_C2S, "a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)\r\n", 0,
		  "A:a1 A:FETCH A:1:* (( A:FLAGS S:BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> )) " },
		{ DIR_C2S, "a2 LOGIN \"fred \\\"x\\\\\" {3}\r\nabc NIL\r\n", 0,
		  "A:a2 A:LOGIN Q:fred \\\"x\\\\ L:abc A:NIL " },
		{ DIR_C2S, "a2 LOGIN {3}\r\nabc {2}\r\nde\r\n", 9,	/* from the args */
		  "L:abc L:de " },
		{ DIR_C2S, "a2 LOGIN {3}\r\nabc {2}\r\nde\r\n", 13,	/* past the first */
		  "L:de " },
		{ DIR_S2C, "* 1 FETCH (BODY[1.2.MIME] {2}\r\nhi BINARY[1] ~{1}\r\nx BODY[] \"\")\r\n", 0,
		  "A:* A:1 A:FETCH (( S:BODY[1.2.MIME] L:hi S:BINARY[1] L:x S:BODY[] Q: )) " },
		{ DIR_S2C, "* OK [BADCHARSET (UTF-8)] see {5}\r\n", 0,
		  "A:* A:OK S:[BADCHARSET (UTF-8)] A:see A:{5} " },
		{ DIR_S2C, "* FLAGS (\\Answered \\Seen $Junk \\*)\r\n", 0,
		  "A:* A:FLAGS (( A:\\Answered A:\\Seen A:$Junk A:\\* )) " },
		{ DIR_S2C, "* LIST () \"/\" INBOX]x %\r\n", 0,
		  "A:* A:LIST (( )) Q:/ A:INBOX]x A:% " },
		{ DIR_C2S, "a \"unterminated\r\n", 0, "A:a ERR\"unterminated " },
		{ DIR_C2S, "a BODY[1 2\r\n", 0, "A:a ERRBODY[1 2 " },
		{ DIR_C2S, "a x\x01y\r\n", 0, "A:a A:x ERR\x01y " },
		{ DIR_C2S, "a ((x) ) (y)\r\n", 0, "A:a (( (( A:x )) )) (( A:y )) " },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = tokens(&t, cases[i].dir, cases[i].in, cases[i].pos);

		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got [%s] want [%s]", i, got, cases[i].want);
	}
}

/* Nesting past IMAP_MAX_DEPTH is an error token, not a deeper recursion;
 * exactly IMAP_MAX_DEPTH levels are fine. */
static void test_tok_depth(void **state)
{
	static char line[3 * IMAP_MAX_DEPTH + 16];
	static struct tok_ctx t;
	static char want[8 * IMAP_MAX_DEPTH + 16];
	size_t n = 0, w = 0;

	(void)state;
	for (int depth = IMAP_MAX_DEPTH; depth <= IMAP_MAX_DEPTH + 1; depth++) {
		n = w = 0;
		memcpy(line, "a ", 2), n = 2;
		w += (size_t)sprintf(want + w, "A:a ");
		for (int i = 0; i < depth; i++) {
			line[n++] = '(';
			if (i < IMAP_MAX_DEPTH)
				w += (size_t)sprintf(want + w, "(( ");
		}
		if (depth > IMAP_MAX_DEPTH) {
			for (int i = 0; i < depth; i++)
				line[n++] = ')';
			w += (size_t)sprintf(want + w, "DEEP(");
			for (int i = 0; i < depth; i++)
				want[w++] = ')';
			want[w++] = ' ';
		} else {
			for (int i = 0; i < depth; i++)
				line[n++] = ')', w += (size_t)sprintf(want + w, ")) ");
		}
		memcpy(line + n, "\r\n", 3);
		want[w] = '\0';
		assert_string_equal(tokens(&t, DIR_C2S, line, 0), want);
	}
	/* The same cap inside a section. */
	n = 0;
	memcpy(line, "a BODY[", 7), n = 7;
	for (int i = 0; i < IMAP_MAX_DEPTH; i++)
		line[n++] = '[';
	memcpy(line + n, "\r\n", 3);
	assert_non_null(strstr(tokens(&t, DIR_C2S, line, 0), "DEEPBODY["));
}

static void test_unquote(void **state)
{
	struct buf out;
	struct buf_slice ok = { (const uint8_t *)"a\\\"b\\\\c\0d", 9 };
	struct buf_slice bad1 = { (const uint8_t *)"a\\nb", 4 };
	struct buf_slice bad2 = { (const uint8_t *)"ab\\", 3 };

	(void)state;
	buf_init(&out, 100, NULL);
	assert_int_equal(imap_unquote(&out, ok), 0);
	assert_int_equal(out.len, 7);
	assert_memory_equal(out.data, "a\"b\\c\0d", 7);
	buf_reset(&out);
	assert_int_equal(imap_unquote(&out, bad1), -1);
	buf_reset(&out);
	assert_int_equal(imap_unquote(&out, bad2), -1);
	buf_free(&out);
}

/* ts_first is the first byte of the logical line, ts_last its last. */
static void ts_line(void *ctx, const struct imap_line *l)
{
	int64_t *ts = ctx;

	ts[0] = l->ts_first_us;
	ts[1] = l->ts_last_us;
}

static void test_lexer_times(void **state)
{
	int64_t ts[2] = { -1, -1 };
	struct imap_lexer_hooks h = { .ctx = ts, .line = ts_line };
	struct imap_lexer *lx = imap_lexer_new(DIR_C2S, false, 16, NULL, &h);

	(void)state;
	imap_lexer_feed(lx, (const uint8_t *)"A1 LOGIN {2}\r\n", 14, 100);
	imap_lexer_feed(lx, (const uint8_t *)"ab", 2, 200);
	assert_true(imap_lexer_in_sync_literal(lx) == false);
	imap_lexer_feed(lx, (const uint8_t *)" x\r", 3, 300);
	assert_int_equal(ts[0], -1);
	imap_lexer_feed(lx, (const uint8_t *)"\nA2 APPEND {9}\r\n", 16, 400);
	assert_int_equal(ts[0], 100);
	assert_int_equal(ts[1], 400);
	assert_true(imap_lexer_in_sync_literal(lx));
	imap_lexer_free(&lx);
}

/* --- random streams, random chunks -------------------------------------- */

static uint32_t rnd(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return *st;
}

/* A stream of IMAP-ish lines with literals whose bodies look like IMAP. */
static size_t gen_stream(uint32_t *st, enum stream_dir dir, char *out, size_t cap)
{
	static const char *const bodies[] = { "A003 OK done\r\n", "* BYE x\r\n", "{10}\r\n",
					      "+ go\r\n", "\r\n", "x\n", "~{3}\r\n" };
	static const char *const marks[] = { "{%u}", "{%u+}", "{%u-}", "~{%u}" };
	size_t n = 0;

	while (n + 400 < cap) {
		unsigned nlit = rnd(st) % 3;

		n += (size_t)sprintf(out + n, dir == DIR_C2S ? "a%u APPEND x" : "* %u FETCH (BODY[]",
				     rnd(st) % 1000);
		for (unsigned i = 0; i < nlit; i++) {
			unsigned len = 0;
			char body[200];

			while (len < 120 && rnd(st) % 4 != 0) {
				const char *b = bodies[rnd(st) % 7];

				memcpy(body + len, b, strlen(b));
				len += (unsigned)strlen(b);
			}
			n += (size_t)sprintf(out + n, " ");
			n += (size_t)sprintf(out + n, marks[rnd(st) % 4], len);
			n += (size_t)sprintf(out + n, rnd(st) % 5 ? "\r\n" : "\n");
			memcpy(out + n, body, len);
			n += len;
		}
		n += (size_t)sprintf(out + n, "%s", rnd(st) % 5 ? ")\r\n" : ")\n");
	}
	return n;
}

static void run_chunks(enum stream_dir dir, const char *p, size_t n, uint32_t *st,
		       struct rec *r)
{
	struct imap_lexer_hooks h = {
		.ctx = r, .line = rec_line, .literal_begin = rec_begin,
		.literal_data = rec_data, .notice = rec_notice,
	};
	struct imap_lexer *lx = imap_lexer_new(dir, false, 64, NULL, &h);
	size_t pos = 0;

	memset(r, 0, sizeof *r);
	assert_non_null(lx);
	while (pos < n) {
		size_t k = st != NULL ? 1 + rnd(st) % 40 : n;

		if (k > n - pos)
			k = n - pos;
		imap_lexer_feed(lx, (const uint8_t *)p + pos, k, 0);
		pos += k;
	}
	rec_flush_data(r);
	imap_lexer_free(&lx);
}

/* Any chunking gives the events of feeding the stream whole, and nothing
 * inside a literal ever becomes a line. */
static void test_lexer_random(void **state)
{
	static char stream[1 << 14];
	static struct rec whole, chunked;
	uint32_t st = 12345;

	(void)state;
	for (int round = 0; round < 40; round++) {
		enum stream_dir dir = round % 2 ? DIR_S2C : DIR_C2S;
		size_t n = gen_stream(&st, dir, stream, sizeof stream);

		run_chunks(dir, stream, n, NULL, &whole);
		assert_null(strstr(whole.log, "L:A003"));
		assert_null(strstr(whole.log, "L:* BYE"));
		assert_null(strstr(whole.log, "N:"));
		assert_non_null(strstr(whole.log, "B1\n"));
		for (int k = 0; k < 20; k++) {
			run_chunks(dir, stream, n, &st, &chunked);
			assert_string_equal(chunked.log, whole.log);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lexer_cases),
		cmocka_unit_test(test_lexer_overlong),
		cmocka_unit_test(test_lexer_random),
		cmocka_unit_test(test_lexer_times),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_tok),
		cmocka_unit_test(test_tok_depth),
		cmocka_unit_test(test_unquote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
