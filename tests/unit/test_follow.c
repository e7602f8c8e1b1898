/* --follow: tap calls and events in, text and JSON out.  Secrets told
 * after their bytes are still redacted; literals past the limit become a
 * size; gaps are marked; other sessions are ignored. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/follow.h"

#define T0 1795255200000000LL	/* 2026-11-21T10:00:00Z */
#define FRAME(n) ((uint64_t)(n))

struct fx {
	FILE *fp;
	char *text;
	size_t len;
	struct output out;
	struct follow *f;
	struct session_facts facts;
	struct event_flow flow;
};

static void fx_open(struct fx *x, bool json, uint64_t max_literal, bool show)
{
	struct follow_opts o = { .session = 2, .json = json, .max_literal = max_literal,
				 .show_secrets = show };

	memset(x, 0, sizeof *x);
	x->fp = open_memstream(&x->text, &x->len);
	assert_non_null(x->fp);
	assert_int_equal(output_follow_new(&x->out, x->fp, &o, &x->f), 0);
}

static void fx_event(struct fx *x, enum event_type t, uint64_t session)
{
	struct event ev = { .type = t, .ts_us = T0, .session = session, .facts = &x->facts,
			    .client = "192.0.2.1:50000", .server = "192.0.2.2:143" };

	if (t == EV_SESSION_END)
		ev.u.end.reason = END_FIN;
	x->out.ops->event(x->out.ctx, &ev);
}

static const char *fx_close(struct fx *x)
{
	assert_int_equal(x->out.ops->finish(x->out.ctx), 0);
	x->out.ops->free(x->out.ctx);
	fclose(x->fp);
	return x->text;
}

static void data(struct fx *x, uint64_t sess, enum stream_dir d, const char *s)
{
	follow_data(x->f, sess, d, (const uint8_t *)s, strlen(s), T0, FRAME(4));
}

static void mark(struct fx *x, enum imap_tap_mark_kind k, enum stream_dir d, uint64_t off,
		 uint64_t len)
{
	struct imap_tap_mark m = { k, d, off, len };

	follow_mark(x->f, 2, &m);
}

/* The secret is told after its bytes (the session parsed the line), and
 * before they settle: written redacted, once, even across two chunks. */
static void test_secret_after_bytes(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, false, FOLLOW_DEFAULT_MAX_LITERAL, false);
	fx_event(&x, EV_SESSION_START, 2);
	data(&x, 2, DIR_S2C, "* OK ready\r\n");
	mark(&x, IMAP_TAP_SETTLED, DIR_S2C, 12, 0);
	data(&x, 2, DIR_C2S, "a1 LOGIN bob \"se");
	data(&x, 2, DIR_C2S, "cret\"\r\n");
	data(&x, 1, DIR_C2S, "secret of another session\r\n");
	mark(&x, IMAP_TAP_SECRET, DIR_C2S, 13, 8);
	mark(&x, IMAP_TAP_SETTLED, DIR_C2S, 23, 0);
	data(&x, 2, DIR_S2C, "a1 NO nope\r\n");
	fx_event(&x, EV_SESSION_END, 2);
	assert_string_equal(fx_close(&x),
			    "== session 2 2026-11-21T10:00:00.000000Z 192.0.2.1:50000 -> 192.0.2.2:143\n"
			    "S: * OK ready\n"
			    "C: a1 LOGIN bob ***\n"
			    "S: a1 NO nope\n"
			    "== end (fin)\n");
	free(x.text);
}

/* A line broken off by the other side goes on as "C+"; controls escaped. */
static void test_interleave_escape(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, false, FOLLOW_DEFAULT_MAX_LITERAL, false);
	data(&x, 2, DIR_C2S, "a1 NOOP");
	data(&x, 2, DIR_S2C, "* 1 EXISTS\x1b[2J\r\n");
	data(&x, 2, DIR_C2S, "\r\n");
	mark(&x, IMAP_TAP_SETTLED, DIR_C2S, 9, 0);
	follow_end(x.f, 2);
	assert_string_equal(fx_close(&x), "C: a1 NOOP\nS: * 1 EXISTS\\x1b[2J\nC+ \n");
	free(x.text);
}

/* A literal past the limit is its size; the line goes on after it; a gap
 * is marked with its offset. */
static void test_literal_and_gap(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, false, 4, false);
	data(&x, 2, DIR_S2C, "* 1 FETCH (BODY[] {10}\r\n");
	mark(&x, IMAP_TAP_LITERAL, DIR_S2C, 24, 10);
	data(&x, 2, DIR_S2C, "0123456789)\r\n");
	follow_gap(x.f, 2, DIR_S2C, 7, T0, 0);
	data(&x, 2, DIR_S2C, "* 2 FETCH (BODY[] {3}\r\nabc)\r\n");
	mark(&x, IMAP_TAP_LITERAL, DIR_S2C, 67, 3);	/* not over the limit */
	mark(&x, IMAP_TAP_SETTLED, DIR_S2C, 75, 0);
	follow_end(x.f, 2);
	assert_string_equal(fx_close(&x),
			    "S: * 1 FETCH (BODY[] {10}\n"
			    "S! [literal of 10 bytes not shown (over 4)]\n"
			    "S+ )\n"
			    "S! [7 bytes lost at offset 37]\n"
			    "S: * 2 FETCH (BODY[] {3}\n"
			    "S: abc)\n");
	free(x.text);
}

/* JSON: text when UTF-8, base64 otherwise; redacted and omitted said. */
static void test_json(void **state)
{
	struct fx x;
	const char *out;

	(void)state;
	fx_open(&x, true, 2, false);
	data(&x, 2, DIR_C2S, "a1 LOGIN bob pw\r\n");
	mark(&x, IMAP_TAP_SECRET, DIR_C2S, 13, 2);
	mark(&x, IMAP_TAP_SETTLED, DIR_C2S, 17, 0);
	follow_data(x.f, 2, DIR_S2C, (const uint8_t *)"\xff\x00", 2, T0, 0);
	mark(&x, IMAP_TAP_LITERAL, DIR_S2C, 2, 3);
	data(&x, 2, DIR_S2C, "abc");
	follow_gap(x.f, 2, DIR_S2C, 5, T0, FRAME(9));
	follow_end(x.f, 2);
	out = fx_close(&x);
	assert_string_equal(out,
		"{\"v\":2,\"ts\":\"2026-11-21T10:00:00.000000Z\",\"session\":2,\"type\":\"chunk\","
		"\"dir\":\"c2s\",\"offset\":0,\"bytes\":17,\"text\":\"a1 LOGIN bob ***\\r\\n\","
		"\"redacted\":true,\"frame\":4}\n"
		"{\"v\":2,\"ts\":\"2026-11-21T10:00:00.000000Z\",\"session\":2,\"type\":\"chunk\","
		"\"dir\":\"s2c\",\"offset\":0,\"bytes\":2,\"base64\":\"/wA=\"}\n"
		"{\"v\":2,\"ts\":\"2026-11-21T10:00:00.000000Z\",\"session\":2,\"type\":\"chunk\","
		"\"dir\":\"s2c\",\"offset\":2,\"bytes\":3,\"omitted\":\"literal\",\"frame\":4}\n"
		"{\"v\":2,\"ts\":\"2026-11-21T10:00:00.000000Z\",\"session\":2,\"type\":\"chunk\","
		"\"dir\":\"s2c\",\"offset\":5,\"bytes\":5,\"omitted\":\"gap\",\"frame\":9}\n");
	free(x.text);
}

/* --show-secrets: the marks change nothing. */
static void test_show_secrets(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, false, FOLLOW_DEFAULT_MAX_LITERAL, true);
	data(&x, 2, DIR_C2S, "a1 LOGIN bob pw\r\n");
	mark(&x, IMAP_TAP_SECRET, DIR_C2S, 13, 2);
	mark(&x, IMAP_TAP_SETTLED, DIR_C2S, 17, 0);
	assert_string_equal(fx_close(&x), "C: a1 LOGIN bob pw\n");
	free(x.text);
}

/* A client line the stream ended in was never read: hidden, since a
 * secret in it was never found; the server's is shown. */
static void test_end_unread(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, false, FOLLOW_DEFAULT_MAX_LITERAL, false);
	data(&x, 2, DIR_C2S, "a1 LOGIN bob pw");
	data(&x, 2, DIR_S2C, "* BYE");
	follow_end(x.f, 2);
	assert_string_equal(fx_close(&x), "C: ***\nS: * BYE\n");
	free(x.text);
}

/* Bytes never settled (a line of a megabyte) are written past the cap, and
 * the end says so. */
static void test_pending_cap(void **state)
{
	struct fx x;
	char *big = malloc(FOLLOW_PENDING_MAX + 2);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', FOLLOW_PENDING_MAX + 1);
	big[FOLLOW_PENDING_MAX + 1] = '\0';
	fx_open(&x, false, FOLLOW_DEFAULT_MAX_LITERAL, false);
	data(&x, 2, DIR_C2S, "a1 ");
	data(&x, 2, DIR_C2S, big);
	fx_event(&x, EV_SESSION_END, 2);
	fx_close(&x);
	assert_non_null(strstr(x.text, "bytes were written before the session had parsed them"));
	free(x.text);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_after_bytes),
		cmocka_unit_test(test_interleave_escape),
		cmocka_unit_test(test_literal_and_gap),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_show_secrets),
		cmocka_unit_test(test_end_unread),
		cmocka_unit_test(test_pending_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
