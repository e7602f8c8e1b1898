/* --check (src/report/check.c) on the real session: scripted byte streams
 * of both directions go through a session whose output is the checker in
 * front of a recorder, and the findings are compared.  Every rule has a
 * case that breaks it and one that comes close without breaking it; each
 * script runs whole and byte by byte, and both runs must agree. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "imap/imap_session.h"
#include "report/check.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define REC_MAX 4096

struct rec {
	char found[REC_MAX];	/* "rule/side rule/side" */
	size_t events;		/* events other than findings */
	char line[512];		/* the first finding's line */
};

static void rec_event(void *ctx, const struct event *ev)
{
	struct rec *r = ctx;
	size_t k = strlen(r->found);

	if (ev->type != EV_FINDING) {
		r->events++;
		return;
	}
	assert_non_null(ev->u.finding.rule);
	assert_non_null(ev->u.finding.rfc);
	assert_non_null(ev->u.finding.explanation);
	snprintf(r->found + k, sizeof r->found - k, "%s%s/%s", k ? " " : "", ev->u.finding.rule,
		 ev->u.finding.side);
	if (r->line[0] == '\0' && ev->u.finding.line.ptr != NULL)
		snprintf(r->line, sizeof r->line, "%.*s", (int)ev->u.finding.line.len,
			 (const char *)ev->u.finding.line.ptr);
}

static int rec_finish(void *ctx)
{
	(void)ctx;
	return 0;
}

static void rec_free(void *ctx)
{
	(void)ctx;
}

static const struct output_ops rec_ops = { .event = rec_event, .finish = rec_finish,
					   .free = rec_free };

struct step {
	enum stream_dir dir;
	const char *data;
	size_t len;
};

#define C_(s) { DIR_C2S, s, sizeof(s) - 1 }
#define S_(s) { DIR_S2C, s, sizeof(s) - 1 }
#define GAP_(d, n) { d, NULL, n }	/* n bytes of direction d lost */

static void run(struct rec *r, const struct step *steps, size_t n, bool bytewise, bool mid)
{
	struct imap_session_config cfg = { 0 };
	struct imap_session_info info = { .id = 3, .client = "192.0.2.1:50000",
					  .server = "198.51.100.2:143", .first_ts_us = 1000,
					  .mid_stream = mid };
	struct check_opts copts = { .findings_only = false };
	struct output inner = { &rec_ops, r }, out;
	struct imap_session *s;

	memset(r, 0, sizeof *r);
	assert_int_equal(check_new(&out, inner, &copts), 0);
	cfg.out = out;
	cfg.facts = out.ops->facts;
	assert_true(cfg.facts & IMAP_FACTS_WIRE);
	s = imap_session_new(&cfg, &info);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *)steps[i].data;
		int64_t ts = 2000 + (int64_t)i * 1000;

		if (p == NULL)
			imap_session_ops.gap(s, steps[i].dir, steps[i].len, ts);
		else if (!bytewise)
			imap_session_ops.feed(s, steps[i].dir, p, steps[i].len, ts);
		else
			for (size_t k = 0; k < steps[i].len; k++)
				imap_session_ops.feed(s, steps[i].dir, p + k, 1, ts);
	}
	imap_session_ops.end(s, END_FIN, 100000);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
}

static void expect_mode(const struct step *steps, size_t n, const char *want, bool mid)
{
	static struct rec r;

	run(&r, steps, n, false, mid);
	if (strcmp(r.found, want) != 0)
		fail_msg("whole: want \"%s\", got \"%s\"", want, r.found);
	run(&r, steps, n, true, mid);
	if (strcmp(r.found, want) != 0)
		fail_msg("byte by byte: want \"%s\", got \"%s\"", want, r.found);
}

static void expect(const struct step *steps, size_t n, const char *want)
{
	expect_mode(steps, n, want, false);
}

#define GREET(caps) S_("* OK [CAPABILITY " caps "] ready\r\n")
#define LOGGED_IN(caps) C_("a0 LOGIN alice secret\r\n"), \
			S_("a0 OK [CAPABILITY " caps "] in\r\n")
#define SELECTED C_("s1 SELECT INBOX\r\n"), S_("* 3 EXISTS\r\ns1 OK [READ-WRITE] done\r\n")

/* --- literals ------------------------------------------------------------ */

static void test_literal_before_continuation(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"),
		C_("a1 LOGIN {5}\r\nalice secret\r\n"),
		S_("+ late\r\na1 OK in\r\n"),	/* the "+" still due: no finding */
	};
	static const struct step good[] = {
		GREET("IMAP4rev1"),
		C_("a1 LOGIN {5}\r\n"),
		S_("+ go\r\n"),
		C_("alice {6}\r\n"),
		S_("+ go\r\n"),
		C_("secret\r\n"),
		S_("a1 OK in\r\n"),
	};
	static const struct step second[] = {
		GREET("IMAP4rev1"),
		C_("a1 LOGIN {5}\r\n"),
		S_("+ go\r\n"),
		C_("alice {6}\r\nsecret\r\n"),
		S_("+ go\r\na1 OK in\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "literal-before-continuation/client");
	expect(good, N(good), "");
	expect(second, N(second), "literal-before-continuation/client");
}

static void test_literal_plus(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"),
		C_("a1 LOGIN {5+}\r\nalice secret\r\n"),
		S_("a1 OK in\r\n"),
	};
	static const struct step minus_syntax[] = {
		GREET("IMAP4rev1"),
		C_("a1 LOGIN {5-}\r\nalice secret\r\n"),
		S_("a1 OK in\r\n"),
	};
	static const struct step plus[] = {
		GREET("IMAP4rev1 LITERAL+"),
		C_("a1 LOGIN {5+}\r\nalice secret\r\n"),
		S_("a1 OK in\r\n"),
	};
	static const struct step minus[] = {
		GREET("IMAP4rev1 LITERAL-"),
		C_("a1 LOGIN {5+}\r\nalice secret\r\n"),
		S_("a1 OK in\r\n"),
	};
	static const struct step unknown[] = {	/* no list seen: not judged */
		S_("* OK ready\r\n"),
		C_("a1 LOGIN {5+}\r\nalice secret\r\n"),
		S_("a1 OK in\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "literal-plus-not-advertised/client");
	expect(minus_syntax, N(minus_syntax), "literal-plus-not-advertised/client");
	expect(plus, N(plus), "");
	expect(minus, N(minus), "");
	expect(unknown, N(unknown), "");
}

/* A LOGIN whose password is a {size+} literal of size bytes. */
static void big_literal(const char *caps, size_t size, const char *want)
{
	char greet[128], head[64];
	char *data = malloc(size + 2);
	struct step steps[4];

	assert_non_null(data);
	memset(data, 'x', size);
	memcpy(data + size, "\r\n", 2);
	snprintf(greet, sizeof greet, "* OK [CAPABILITY %s] ready\r\n", caps);
	snprintf(head, sizeof head, "a1 LOGIN alice {%zu+}\r\n", size);
	steps[0] = (struct step){ DIR_S2C, greet, strlen(greet) };
	steps[1] = (struct step){ DIR_C2S, head, strlen(head) };
	steps[2] = (struct step){ DIR_C2S, data, size + 2 };
	steps[3] = (struct step){ DIR_S2C, "a1 OK in\r\n", 10 };
	expect(steps, N(steps), want);
	free(data);
}

static void test_literal_minus_too_large(void **state)
{
	(void)state;
	big_literal("IMAP4rev1 LITERAL-", 4097, "literal-minus-too-large/client");
	big_literal("IMAP4rev2", 5000, "literal-minus-too-large/client");
	big_literal("IMAP4rev1 LITERAL-", 4096, "");
	big_literal("IMAP4rev1 LITERAL+", 5000, "");
}

static void test_literal_size_mismatch(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 FETCH 1 BODY[]\r\n"),
		S_("* 1 FETCH (BODY[] {3}\r\nhello)\r\na2 OK done\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 FETCH 1 (BODY[] UID)\r\n"),
		S_("* 1 FETCH (BODY[] {5}\r\nhello UID 4)\r\na2 OK done\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "literal-size-mismatch/server");
	expect(good, N(good), "");
}

/* --- state and capabilities ----------------------------------------------- */

static void test_command_wrong_state(void **state)
{
	static const struct step before_login[] = {
		GREET("IMAP4rev1"),
		C_("a1 SELECT INBOX\r\n"),
		S_("a1 BAD not yet\r\n"),
	};
	static const struct step nothing_selected[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"),
		C_("a2 FETCH 1 FLAGS\r\n"),
		S_("a2 BAD no mailbox\r\n"),
	};
	static const struct step login_again[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"),
		C_("a2 LOGIN bob x\r\n"),
		S_("a2 BAD already\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 FETCH 1 FLAGS\r\n"),
		S_("* 1 FETCH (FLAGS ())\r\na2 OK done\r\n"),
	};
	/* pipelined behind the LOGIN that makes it valid */
	static const struct step pipelined[] = {
		GREET("IMAP4rev1"),
		C_("a1 LOGIN alice secret\r\na2 SELECT INBOX\r\n"),
		S_("a1 OK in\r\n* 1 EXISTS\r\na2 OK done\r\n"),
	};

	(void)state;
	expect(before_login, N(before_login), "command-wrong-state/client");
	expect(nothing_selected, N(nothing_selected), "command-wrong-state/client");
	expect(login_again, N(login_again), "command-wrong-state/client");
	expect(good, N(good), "");
	expect(pipelined, N(pipelined), "");
	/* picked up mid-stream, the state is not known */
	expect_mode(nothing_selected + 3, 2, "", true);
}

static void test_capability_not_advertised(void **state)
{
	static const struct step idle[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"),
		C_("a2 IDLE\r\n"),
		S_("a2 BAD unknown\r\n"),
	};
	static const struct step idle_ok[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1 IDLE"),
		C_("a2 IDLE\r\n"),
		S_("+ idling\r\n"),
		C_("DONE\r\n"),
		S_("a2 OK done\r\n"),
	};
	static const struct step rev2_move[] = {
		GREET("IMAP4rev2"), LOGGED_IN("IMAP4rev2"), SELECTED,
		C_("a2 MOVE 1 Trash\r\n"),
		S_("* 1 EXPUNGE\r\na2 OK done\r\n"),
	};
	static const struct step uid_expunge[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 UID EXPUNGE 4\r\n"),
		S_("a2 BAD unknown\r\n"),
	};
	static const struct step caps_void[] = {	/* the OK to LOGIN named none */
		GREET("IMAP4rev1"),
		C_("a0 LOGIN alice secret\r\n"),
		S_("a0 OK in\r\n"),
		C_("a2 NAMESPACE\r\n"),
		S_("* NAMESPACE NIL NIL NIL\r\na2 OK done\r\n"),
	};
	static const struct step esearch[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 SEARCH RETURN (MIN) ALL\r\n"),
		S_("a2 BAD unknown\r\n"),
	};
	static const struct step esearch_ok[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1 ESEARCH"), SELECTED,
		C_("a2 SEARCH RETURN (MIN) ALL\r\n"),
		S_("* ESEARCH (TAG \"a2\") MIN 1\r\na2 OK done\r\n"),
	};
	static const struct step sasl_ir[] = {
		GREET("IMAP4rev1 AUTH=PLAIN"),
		C_("a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
		S_("a1 OK in\r\n"),
	};
	static const struct step sasl_ir_ok[] = {
		GREET("IMAP4rev1 SASL-IR AUTH=PLAIN"),
		C_("a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
		S_("a1 OK in\r\n"),
	};

	static const struct step condstore[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n"),
		S_("a2 BAD unknown\r\n"),
	};
	static const struct step condstore_ok[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1 QRESYNC"), SELECTED,
		C_("a2 UID STORE 1 (UNCHANGEDSINCE 5) +FLAGS (\\Seen)\r\n"),
		S_("a2 OK done\r\n"),
	};
	static const struct step qresync[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1 CONDSTORE"),
		C_("a2 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n"),
		S_("a2 BAD unknown\r\n"),
	};
	static const struct step select_condstore[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"),
		C_("a2 SELECT CONDSTORE\r\n"),	/* a mailbox so named */
		S_("a2 NO no such mailbox\r\n"),
	};

	(void)state;
	expect(condstore, N(condstore), "capability-not-advertised/client");
	expect(condstore_ok, N(condstore_ok), "");
	expect(qresync, N(qresync), "capability-not-advertised/client");
	expect(select_condstore, N(select_condstore), "");
	expect(idle, N(idle), "capability-not-advertised/client");
	expect(idle_ok, N(idle_ok), "");
	expect(rev2_move, N(rev2_move), "");
	expect(uid_expunge, N(uid_expunge), "capability-not-advertised/client");
	expect(caps_void, N(caps_void), "");
	expect(esearch, N(esearch), "capability-not-advertised/client");
	expect(esearch_ok, N(esearch_ok), "");
	expect(sasl_ir, N(sasl_ir), "capability-not-advertised/client");
	expect(sasl_ir_ok, N(sasl_ir_ok), "");
}

static void test_login_disabled(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1 STARTTLS LOGINDISABLED"),
		C_("a1 LOGIN alice secret\r\n"),
		S_("a1 NO use TLS\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1 STARTTLS"),
		C_("a1 LOGIN alice secret\r\n"),
		S_("a1 OK in\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "login-disabled/client");
	expect(good, N(good), "");
}

static void test_auth_mechanism(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1 AUTH=PLAIN"),
		C_("a1 AUTHENTICATE CRAM-MD5\r\n"),
		S_("a1 NO unsupported\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1 AUTH=PLAIN AUTH=CRAM-MD5"),
		C_("a1 AUTHENTICATE CRAM-MD5\r\n"),
		S_("a1 NO no thanks\r\n"),
	};
	static const struct step other[] = {	/* a mechanism without a bit */
		GREET("IMAP4rev1 AUTH=PLAIN"),
		C_("a1 AUTHENTICATE X-WEIRD\r\n"),
		S_("a1 NO unsupported\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "auth-mechanism-not-advertised/client");
	expect(good, N(good), "");
	expect(other, N(other), "");
}

static void test_compress(void **state)
{
	static const struct step before_auth[] = {
		GREET("IMAP4rev1 COMPRESS=DEFLATE"),
		C_("a1 COMPRESS DEFLATE\r\n"),
		S_("a1 NO log in first\r\n"),
	};
	static const struct step after_auth[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1 COMPRESS=DEFLATE"),
		C_("a1 COMPRESS DEFLATE\r\n"),
		S_("a1 NO not today\r\n"),
	};

	(void)state;
	expect(before_auth, N(before_auth), "compress-before-auth/client");
	expect(after_auth, N(after_auth), "");
}

/* Raw deflate of text, flushed to a byte boundary, as COMPRESS sends it. */
static size_t deflated(z_stream *z, const char *text, uint8_t *out, size_t cap)
{
	z->next_in = (Bytef *)(uintptr_t)text;
	z->avail_in = (uInt)strlen(text);
	z->next_out = out;
	z->avail_out = (uInt)cap;
	assert_int_equal(deflate(z, Z_SYNC_FLUSH), Z_OK);
	return cap - z->avail_out;
}

static void test_compress_twice(void **state)
{
	uint8_t c2s[256], s2c[256];
	z_stream zc = { 0 }, zs = { 0 };
	size_t nc, ns;
	struct step steps[7] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1 COMPRESS=DEFLATE"),
		C_("a1 COMPRESS DEFLATE\r\n"),
		S_("a1 OK on\r\n"),
	};

	(void)state;
	assert_int_equal(deflateInit2(&zc, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	nc = deflated(&zc, "a2 COMPRESS DEFLATE\r\n", c2s, sizeof c2s);
	ns = deflated(&zs, "a2 NO [COMPRESSIONACTIVE] already\r\n", s2c, sizeof s2c);
	steps[5] = (struct step){ DIR_C2S, (const char *)c2s, nc };
	steps[6] = (struct step){ DIR_S2C, (const char *)s2c, ns };
	expect(steps, N(steps), "compress-twice/client");
	expect(steps, 5, "");
	deflateEnd(&zc);
	deflateEnd(&zs);
}

/* --- tags ------------------------------------------------------------------ */

static void test_tag_reused(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"),
		C_("a1 NOOP\r\na1 NOOP\r\n"),
		S_("a1 OK done\r\na1 OK done\r\n"),
	};
	static const struct step good[] = {	/* again once completed: fine */
		GREET("IMAP4rev1"),
		C_("a1 NOOP\r\n"),
		S_("a1 OK done\r\n"),
		C_("a1 NOOP\r\n"),
		S_("a1 OK done\r\n"),
	};

	/* the first a1's completion was lost: it may have come */
	static const struct step lost[] = {
		GREET("IMAP4rev1"),
		C_("a1 NOOP\r\n"),
		GAP_(DIR_S2C, 12),
		C_("a1 NOOP\r\n"),
		S_("a1 OK done\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "tag-reused/client");
	expect(good, N(good), "");
	expect(lost, N(lost), "");
}

static void test_tag_invalid(void **state)
{
	static const struct step bad[] = {	/* the server echoes the tag */
		GREET("IMAP4rev1"),
		C_("a+1 NOOP\r\n"),
		S_("a+1 BAD bad tag\r\n"),
	};
	static const struct step star[] = {	/* (a first line like it is no IMAP) */
		GREET("IMAP4rev1"),
		C_("a0 NOOP\r\n"),
		S_("a0 OK done\r\n"),
		C_("a*1 NOOP\r\n"),
		S_("* BAD bad tag\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1"),
		C_("A.1-x_y NOOP\r\n"),
		S_("A.1-x_y OK done\r\n"),
	};
	static const struct step junk[] = {	/* not shaped like a command */
		GREET("IMAP4rev1"),
		C_("hello, world!\r\n"),
		S_("* BAD what\r\n"),
	};

	(void)state;
	/* the server's answer to a line nobody could read is no unknown tag */
	expect(bad, N(bad), "tag-invalid/client");
	expect(star, N(star), "tag-invalid/client");
	expect(good, N(good), "");
	expect(junk, N(junk), "");
}

static void test_tagged_unknown_tag(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"),
		C_("a1 NOOP\r\n"),
		S_("a1 OK done\r\na1 OK again\r\n"),
	};
	static const struct step never[] = {
		GREET("IMAP4rev1"),
		C_("a1 NOOP\r\n"),
		S_("b7 OK what\r\na1 OK done\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1"),
		C_("a1 NOOP\r\na2 NOOP\r\n"),
		S_("a2 OK done\r\na1 OK done\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "tagged-unknown-tag/server");
	expect(never, N(never), "tagged-unknown-tag/server");
	expect(good, N(good), "");
	/* mid-stream, a completion of an earlier command is normal */
	expect_mode(never + 1, 2, "", true);
}

/* --- continuations and IDLE -------------------------------------------------- */

static void test_continuation_unexpected(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"),
		C_("a1 NOOP\r\n"),
		S_("+ go ahead\r\na1 OK done\r\n"),
	};
	static const struct step sasl[] = {
		GREET("IMAP4rev1 AUTH=PLAIN"),
		C_("a1 AUTHENTICATE PLAIN\r\n"),
		S_("+ \r\n"),
		C_("AGFsaWNlAHNlY3JldA==\r\n"),
		S_("a1 OK in\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "continuation-unexpected/server");
	expect(sasl, N(sasl), "");
}

static void test_idle_not_done(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1 IDLE"),
		C_("a2 IDLE\r\n"),
		S_("+ idling\r\n"),
		C_("a3 NOOP\r\n"),
		S_("a2 BAD expected DONE\r\na3 OK done\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1 IDLE"),
		C_("a2 IDLE\r\n"),
		S_("+ idling\r\n* 4 EXISTS\r\n"),
		C_("DONE\r\n"),
		S_("a2 OK done\r\n"),
		C_("a3 NOOP\r\n"),
		S_("a3 OK done\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "idle-not-done/client");
	expect(good, N(good), "");
}

/* --- lines ------------------------------------------------------------------ */

static void test_bare_newline(void **state)
{
	static const struct step server_lf[] = {
		S_("* OK ready\n"),
		C_("a1 NOOP\r\n"),
		S_("a1 OK done\r\n"),
	};
	static const struct step client_lf[] = {
		S_("* OK ready\r\n"),
		C_("a1 NOOP\n"),
		S_("a1 OK done\r\n"),
	};
	static const struct step client_cr[] = {
		S_("* OK ready\r\n"),
		C_("a1 LOGIN alice se\rcret\r\n"),
		S_("a1 OK done\r\n"),
	};
	static const struct step good[] = {	/* a CR inside a literal is data */
		S_("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
		C_("a1 LOGIN alice {6+}\r\nse\rcre\r\n"),
		S_("a1 OK done\r\n"),
	};

	(void)state;
	expect(server_lf, N(server_lf), "bare-newline/server");
	expect(client_lf, N(client_lf), "bare-newline/client");
	expect(client_cr, N(client_cr), "bare-newline/client");
	expect(good, N(good), "");
}

static void test_nul_in_line(void **state)
{
	static const struct step bad[] = {
		S_("* OK ready\r\n"),
		C_("a1 LOGIN alice se\0cret\r\n"),
		S_("a1 OK done\r\n"),
	};
	static const struct step server[] = {
		S_("* OK re\0ady\r\n"),
	};
	static const struct step good[] = {
		S_("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
		C_("a1 LOGIN alice {6+}\r\nse\0cre\r\n"),
		S_("a1 OK done\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "nul-in-line/client");
	expect(server, N(server), "nul-in-line/server");
	expect(good, N(good), "");
}

/* A line of "a1 NOOP " and pad bytes from dir, after a greeting. */
static void long_line(enum stream_dir dir, size_t pad, const char *want)
{
	const char *head = dir == DIR_C2S ? "a1 LOGIN alice " : "* SEARCH ";
	size_t h = strlen(head);
	char *line = malloc(h + pad + 2);
	struct step steps[4] = {
		S_("* OK ready\r\n"), C_("s NOOP\r\n"), S_("s OK done\r\n"),
	};

	assert_non_null(line);
	memcpy(line, head, h);
	memset(line + h, dir == DIR_C2S ? 'x' : '1', pad);
	memcpy(line + h + pad, "\r\n", 2);
	steps[3] = (struct step){ dir, line, h + pad + 2 };
	expect(steps, N(steps), want);
	free(line);
}

static void test_line_too_long(void **state)
{
	(void)state;
	long_line(DIR_C2S, 9000, "line-too-long/client");
	long_line(DIR_C2S, 8000, "");
	/* a long response (a SEARCH of many messages) is ordinary */
	long_line(DIR_S2C, 9000, "");
}

/* --- server responses ----------------------------------------------------------- */

static void test_fetch_without_uid(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 UID FETCH 7 FLAGS\r\n"),
		S_("* 3 FETCH (FLAGS (\\Seen))\r\na2 OK done\r\n"),
	};
	static const struct step store[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 UID STORE 7 +FLAGS (\\Seen)\r\n"),
		S_("* 3 FETCH (FLAGS (\\Seen))\r\na2 OK done\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 UID FETCH 7 FLAGS\r\n"),
		S_("* 3 FETCH (UID 7 FLAGS (\\Seen))\r\na2 OK done\r\n"),
	};
	static const struct step silent[] = {	/* another client's change */
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 UID STORE 7 +FLAGS.SILENT (\\Seen)\r\n"),
		S_("* 2 FETCH (FLAGS (\\Answered))\r\na2 OK done\r\n"),
	};
	static const struct step plain[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 FETCH 3 FLAGS\r\n"),
		S_("* 3 FETCH (FLAGS (\\Seen))\r\na2 OK done\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "fetch-without-uid/server");
	expect(store, N(store), "fetch-without-uid/server");
	expect(good, N(good), "");
	expect(silent, N(silent), "");
	expect(plain, N(plain), "");
}

static void test_expunge_during_command(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 FETCH 1:* FLAGS\r\n"),
		S_("* 1 FETCH (FLAGS ())\r\n* 2 EXPUNGE\r\na2 OK done\r\n"),
	};
	static const struct step uid[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 UID FETCH 1:* FLAGS\r\n"),
		S_("* 2 EXPUNGE\r\na2 OK done\r\n"),
	};
	static const struct step noop[] = {
		GREET("IMAP4rev1"), LOGGED_IN("IMAP4rev1"), SELECTED,
		C_("a2 FETCH 1 FLAGS\r\na3 NOOP\r\n"),
		S_("* 1 FETCH (FLAGS ())\r\n* 2 EXPUNGE\r\na2 OK done\r\na3 OK done\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "expunge-during-command/server");
	expect(uid, N(uid), "");
	expect(noop, N(noop), "");
}

static void test_untagged_malformed(void **state)
{
	static const struct step bad[] = {
		GREET("IMAP4rev1"),
		C_("a1 NOOP\r\n"),
		S_("* \r\na1 OK done\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1"),
		C_("a1 NOOP\r\n"),
		S_("* 4 EXISTS\r\na1 OK done\r\n"),
	};

	(void)state;
	expect(bad, N(bad), "untagged-malformed/server");
	expect(good, N(good), "");
}

/* --- STARTTLS ------------------------------------------------------------------- */

static void test_starttls(void **state)
{
	static const struct step injected[] = {
		GREET("IMAP4rev1 STARTTLS"),
		C_("a1 STARTTLS\r\na2 LOGIN alice secret\r\n"),
		S_("a1 OK begin TLS\r\n"),
		C_("\x16\x03\x01\x00\x05hello"),
	};
	static const struct step plaintext[] = {
		GREET("IMAP4rev1 STARTTLS"),
		C_("a1 STARTTLS\r\n"),
		S_("a1 OK begin TLS\r\n"),
		C_("a2 LOGIN alice secret\r\n"),
		S_("a2 OK in\r\n"),
	};
	static const struct step good[] = {
		GREET("IMAP4rev1 STARTTLS"),
		C_("a1 STARTTLS\r\n"),
		S_("a1 OK begin TLS\r\n"),
		C_("\x16\x03\x01\x00\x05hello"),
	};

	(void)state;
	expect(injected, N(injected), "injected-before-tls/client");
	expect(plaintext, N(plaintext), "plaintext-after-starttls/client");
	expect(good, N(good), "");
}

/* --- the catalogue and the stage ------------------------------------------------- */

static void test_catalogue(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	(void)state;
	assert_non_null(fp);
	assert_int_equal(check_print_catalogue(fp), 0);
	fclose(fp);
	for (size_t i = 0; i < CHECK_N_RULES; i++) {
		const struct check_rule_def *d = check_rule((enum check_rule)i);
		char head[160];

		assert_non_null(d);
		/* ids are kebab-case and distinct */
		for (const char *p = d->id; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '-');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(d->id, check_rule((enum check_rule)j)->id);
		assert_true(strncmp(d->rfc, "RFC ", 4) == 0);
		snprintf(head, sizeof head, "\n%s  %s  %s  %s\n", d->id, check_side_name(d->side),
			 check_severity_name(d->severity), d->rfc);
		assert_non_null(strstr(text, head));
	}
	assert_null(check_rule(CHECK_N_RULES));
	free(text);
}

/* The finding follows its event and names the line; at most
 * CHECK_PER_RULE_SHOWN of one rule are shown per session, all counted. */
static void test_stage(void **state)
{
	static struct rec r;
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	struct check_opts copts = { .findings_only = true, .counts_fp = fp };
	struct output inner = { &rec_ops, &r }, out;
	struct imap_session_config cfg = { 0 };
	struct imap_session_info info = { .id = 9, .client = "192.0.2.1:1",
					  .server = "192.0.2.2:143" };
	struct imap_session *s;
	static const char cmd[] = "a1 SELECT INBOX\r\n";

	(void)state;
	memset(&r, 0, sizeof r);
	assert_non_null(fp);
	assert_int_equal(check_new(&out, inner, &copts), 0);
	cfg.out = out;
	cfg.facts = out.ops->facts;
	s = imap_session_new(&cfg, &info);
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)"* OK ready\r\n", 12, 10);
	for (int i = 0; i < 12; i++) {
		imap_session_ops.feed(s, DIR_C2S, (const uint8_t *)cmd, sizeof cmd - 1, 20 + i);
		imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)"a1 BAD no\r\n", 11, 30 + i);
	}
	imap_session_ops.end(s, END_FIN, 100);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
	assert_int_equal(r.events, 0);	/* findings only */
	assert_string_equal(r.line, "a1 SELECT INBOX");
	assert_non_null(strstr(text, "-- checks: 12 findings (12 errors, 0 warnings) in 1 of 1 session, "
				     "12 commands\n"));
	assert_non_null(strstr(text, "#9: 12 findings (12 errors) in 12 commands: command-wrong-state 12\n"));
	assert_non_null(strstr(text, "2 findings not shown"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_before_continuation),
		cmocka_unit_test(test_literal_plus),
		cmocka_unit_test(test_literal_minus_too_large),
		cmocka_unit_test(test_literal_size_mismatch),
		cmocka_unit_test(test_command_wrong_state),
		cmocka_unit_test(test_capability_not_advertised),
		cmocka_unit_test(test_login_disabled),
		cmocka_unit_test(test_auth_mechanism),
		cmocka_unit_test(test_compress),
		cmocka_unit_test(test_compress_twice),
		cmocka_unit_test(test_tag_reused),
		cmocka_unit_test(test_tag_invalid),
		cmocka_unit_test(test_tagged_unknown_tag),
		cmocka_unit_test(test_continuation_unexpected),
		cmocka_unit_test(test_idle_not_done),
		cmocka_unit_test(test_bare_newline),
		cmocka_unit_test(test_nul_in_line),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_fetch_without_uid),
		cmocka_unit_test(test_expunge_during_command),
		cmocka_unit_test(test_untagged_malformed),
		cmocka_unit_test(test_starttls),
		cmocka_unit_test(test_catalogue),
		cmocka_unit_test(test_stage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
