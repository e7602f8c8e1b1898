/* -F text: the exact lines people read, escaping of hostile bytes, colour
 * only when asked, date lines when the day changes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report/logins.h"
#include "report/output_text.h"

#define S(lit) ((struct buf_slice){ (const uint8_t *)(lit), sizeof(lit) - 1 })

static const char hostile_raw[] =
	"a\0b\x1b[31m\"q\"\\\x7f\xc2\x85\xe2\x80\xa8\xc0\xaf\xff\r\n\x9b" "2J";
#define HOSTILE ((struct buf_slice){ (const uint8_t *)hostile_raw, sizeof hostile_raw - 1 })

/* 2026-11-21T10:00:00Z in microseconds. */
static int64_t t0(void)
{
	struct tm tm = { 0 };

	tm.tm_year = 2026 - 1900;
	tm.tm_mon = 10;
	tm.tm_mday = 21;
	tm.tm_hour = 10;
	return (int64_t)timegm(&tm) * 1000000;
}

static char *run_text_opts(const struct event *evs, size_t n,
			   const struct output_text_opts *o, size_t *len_r)
{
	struct output_text_opts opts = *o;
	struct output out;
	char *data = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&data, &len);

	assert_non_null(fp);
	assert_int_equal(output_text_new(&out, fp, &opts), 0);
	for (i = 0; i < n; i++)
		out.ops->event(out.ctx, &evs[i]);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
	*len_r = len;
	return data;
}

static char *run_text(const struct event *evs, size_t n, bool color, size_t *len_r)
{
	struct output_text_opts opts = { .color = color };

	return run_text_opts(evs, n, &opts, len_r);
}

/* What the session knows: nothing yet, or that the client sent LOGOUT. */
static const struct session_facts no_facts;
static const struct session_facts logout_facts = { .logout_sent = true };
static const struct command_facts no_command_facts;

static struct event base_event(enum event_type type, int64_t dt_us)
{
	struct event ev;

	memset(&ev, 0, sizeof ev);
	ev.type = type;
	ev.facts = &no_facts;
	if (type == EV_COMMAND)
		ev.u.command.facts = &no_command_facts;
	ev.ts_us = t0() + dt_us;
	ev.session = 1;
	ev.client = "192.0.2.1:50000";
	ev.server = "192.0.2.2:143";
	return ev;
}

static void test_text_session(void **state)
{
	static const struct session_summary sum = {
		.commands = 3, .responses_ok = 2, .responses_no = 1, .untagged = 4,
		.bytes_c2s = 120, .bytes_s2c = 123456, .gaps = 1, .gap_bytes = 1448,
		.duration_us = 3204567,
	};
	struct event e[13];
	size_t len;
	char *data;
	static const char want[] =
		"--- 2026-11-21 (UTC) ---\n"
		"10:00:00.000000 #1 session 192.0.2.1:50000 -> 192.0.2.2:143 (picked up mid-stream)\n"
		"10:00:00.001000 #1 S * OK [CAPABILITY IMAP4rev1] ready\n"
		"10:00:00.123456 #1 C a001 LOGIN alice ***\n"
		"10:00:00.125019 #1 S a001 OK [CAPABILITY IMAP4rev1] Logged in   (1.563 ms)\n"
		"10:00:00.125019 #1 LOGIN alice via LOGIN: ok (secret sent in cleartext)\n"
		"10:00:00.200000 #1 C a002 APPEND INBOX {452 bytes}\n"
		"10:00:00.200100 #1 S + Ready\n"
		"10:00:00.300000 #1 S   * 3 FETCH (BODY[] {12 bytes})\n"
		"10:00:00.300000 #1 S * CAPABILITY IMAP4rev1\n"
		"10:00:00.300000 #1 S a002 NO [TRYCREATE] no such mailbox   (99.960 ms)\n"
		"10:00:00.400000 #1 GAP c2s 1448 bytes missing at offset 77\n"
		"10:00:00.500000 #1 TLS (starttls) TLS 1.3, cipher unknown, SNI mail.example: not decrypted (no key)\n"
		"10:00:03.204567 #1 end (fin) after 3.204 s: 3 commands (2 OK, 1 NO, 0 BAD), 4 untagged, "
		"c2s 120 B, s2c 120.5 KiB, 1 gap (1448 B missing)\n";

	(void)state;
	e[0] = base_event(EV_SESSION_START, 0);
	e[0].u.start.mid_stream = true;
	e[1] = base_event(EV_GREETING, 1000);
	e[1].u.greeting.status = S("OK");
	e[1].u.greeting.id = IMAP_R_OK;
	e[1].u.greeting.code = S("CAPABILITY IMAP4rev1");
	e[1].u.greeting.text = S("ready");
	e[2] = base_event(EV_COMMAND, 123456);
	e[2].u.command.tag = S("a001");
	e[2].u.command.name = S("LOGIN");
	e[2].u.command.args = S("alice ***");
	e[3] = base_event(EV_RESPONSE, 125019);
	e[3].u.response.tag = S("a001");
	e[3].u.response.status = S("OK");
	e[3].u.response.id = IMAP_R_OK;
	e[3].u.response.code = S("CAPABILITY IMAP4rev1");
	e[3].u.response.text = S("Logged in");
	e[3].u.response.latency_ms = 1.563;
	e[4] = base_event(EV_LOGIN, 125019);
	e[4].u.login.user = S("alice");
	e[4].u.login.mechanism = S("LOGIN");
	e[4].u.login.result = LOGIN_OK;
	e[4].u.login.cleartext_secret = true;
	e[5] = base_event(EV_COMMAND, 200000);
	e[5].u.command.tag = S("a002");
	e[5].u.command.name = S("APPEND");
	e[5].u.command.args = S("INBOX {452+}");
	e[6] = base_event(EV_CONTINUATION, 200100);
	e[6].u.continuation.dir = DIR_S2C;
	e[6].u.continuation.text = S("Ready");
	e[7] = base_event(EV_UNTAGGED, 300000);
	e[7].u.untagged.name = S("FETCH");
	e[7].u.untagged.text = S("3 FETCH (BODY[] {12})");
	e[7].u.untagged.tag = S("a002");
	e[8] = base_event(EV_UNTAGGED, 300000);	/* text without its name */
	e[8].u.untagged.name = S("CAPABILITY");
	e[8].u.untagged.text = S("IMAP4rev1");
	e[9] = base_event(EV_RESPONSE, 300000);
	e[9].u.response.tag = S("a002");
	e[9].u.response.status = S("NO");
	e[9].u.response.id = IMAP_R_NO;
	e[9].u.response.code = S("TRYCREATE");
	e[9].u.response.text = S("no such mailbox");
	e[9].u.response.latency_ms = 99.96;
	e[10] = base_event(EV_GAP, 400000);
	e[10].u.gap.bytes = 1448;
	e[10].u.gap.offset = 77;
	e[11] = base_event(EV_TLS, 500000);
	e[11].u.tls.phase = "starttls";
	e[11].u.tls.version = "TLS 1.3";
	e[11].u.tls.sni = S("mail.example");
	e[11].u.tls.reason = "no key";
	e[12] = base_event(EV_SESSION_END, 3204567);
	e[12].u.end.summary = &sum;

	data = run_text(e, 13, false, &len);
	if (len != strlen(want) || memcmp(data, want, len) != 0)
		fwrite(data, 1, len, stderr);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	free(data);
}

/* Nothing the wire sends reaches the terminal raw: no ESC, no C1 CSI, no
 * CR, no NUL, and no colour codes when colour is off. */
static void test_text_hostile(void **state)
{
	struct event e[5];
	size_t len, i;
	char *data;

	(void)state;
	e[0] = base_event(EV_COMMAND, 0);
	e[0].u.command.tag = HOSTILE;
	e[0].u.command.name = HOSTILE;
	e[0].u.command.args = HOSTILE;
	e[1] = base_event(EV_UNTAGGED, 0);
	e[1].u.untagged.name = HOSTILE;
	e[1].u.untagged.text = HOSTILE;
	e[2] = base_event(EV_LOGIN, 0);
	e[2].u.login.user = HOSTILE;
	e[2].u.login.mechanism = HOSTILE;
	e[2].u.login.secret = HOSTILE;
	e[3] = base_event(EV_SESSION_START, 0);
	e[3].client = "\x1b]0;owned\x07";
	e[4] = base_event(EV_TLS, 0);
	e[4].u.tls.cipher = "\x1b[2J";
	e[4].u.tls.sni = HOSTILE;

	data = run_text(e, 5, false, &len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		assert_true(c == '\n' || (c >= 0x20 && c != 0x7f));
		/* A C1 control encoded in UTF-8 (U+0080..U+009F). */
		if (c == 0xc2 && i + 1 < len)
			assert_true((unsigned char)data[i + 1] >= 0xa0);
	}
	assert_int_equal(memchr(data, '\n', len) != NULL, 1);
	/* The escaped form of the bytes is what a reader sees. */
	assert_non_null(strstr(data, "a\\x00b\\x1b[31m\"q\"\\\\x7f\\u{0085}\\u{2028}"));
	assert_non_null(strstr(data, "\\x1b]0;owned\\x07"));
	free(data);
}

/* Colour: SGR codes around the lines, but the wire bytes still escaped. */
static void test_text_color(void **state)
{
	struct event e[3];
	size_t len;
	char *data;

	(void)state;
	e[0] = base_event(EV_COMMAND, 0);
	e[0].u.command.tag = S("a1");
	e[0].u.command.name = S("NOOP");
	e[1] = base_event(EV_RESPONSE, 10);
	e[1].u.response.tag = S("a1");
	e[1].u.response.status = S("BAD");
	e[1].u.response.id = IMAP_R_BAD;
	e[1].u.response.text = S("\x1b[2J");
	e[1].u.response.latency_ms = -1;
	e[2] = base_event(EV_GAP, 20);
	e[2].u.gap.bytes = 5;

	data = run_text(e, 3, true, &len);
	assert_non_null(strstr(data, "\x1b[36mC a1 NOOP\x1b[0m\n"));
	assert_non_null(strstr(data, "\x1b[1;31mS a1 BAD \\x1b[2J\x1b[0m\n"));
	assert_non_null(strstr(data, "\x1b[33mGAP c2s 5 bytes missing at offset 0\x1b[0m\n"));
	free(data);

	data = run_text(e, 3, false, &len);
	assert_null(memchr(data, 0x1b, len));
	free(data);
}

/* "* BYE" answering the session's LOGOUT is the expected goodbye, not an
 * error; a BYE in another session, or before any LOGOUT, still is. */
static void test_text_bye_after_logout(void **state)
{
	struct event e[4];
	size_t len;
	char *data;

	(void)state;
	e[0] = base_event(EV_UNTAGGED, 0);
	e[0].u.untagged.name = S("BYE");
	e[0].u.untagged.id = IMAP_R_BYE;
	e[0].u.untagged.text = S("shutting down");
	e[1] = base_event(EV_COMMAND, 10);
	e[1].u.command.tag = S("a9");
	e[1].u.command.name = S("LOGOUT");
	e[1].facts = &logout_facts;
	e[2] = base_event(EV_UNTAGGED, 20);
	e[2].u.untagged.name = S("BYE");
	e[2].u.untagged.id = IMAP_R_BYE;
	e[2].u.untagged.text = S("Logging out");
	e[2].u.untagged.tag = S("a9");
	e[2].facts = &logout_facts;
	e[3] = e[2];
	e[3].session = 2;
	e[3].facts = &no_facts;
	data = run_text(e, 4, true, &len);
	assert_non_null(strstr(data, "\x1b[1;31mS * BYE shutting down\x1b[0m\n"));
	assert_non_null(strstr(data, "#1 \x1b[32mS   * BYE Logging out\x1b[0m\n"));
	assert_non_null(strstr(data, "#2 \x1b[1;31mS   * BYE Logging out\x1b[0m\n"));
	free(data);
}

/* A new date line when the UTC day changes, also backwards, and for times
 * before 1970. */
static void test_text_dates(void **state)
{
	struct event e[4];
	size_t len;
	char *data;
	static const char want[] =
		"--- 2026-11-21 (UTC) ---\n"
		"23:59:59.999999 #1 GAP c2s 1 bytes missing at offset 0\n"
		"--- 2026-11-22 (UTC) ---\n"
		"00:00:00.000000 #1 GAP c2s 1 bytes missing at offset 0\n"
		"--- 1969-12-31 (UTC) ---\n"
		"23:59:59.999999 #1 GAP c2s 1 bytes missing at offset 0\n"
		"--- 9999-12-31 (UTC) ---\n"
		"23:59:59.999999 #1 GAP c2s 1 bytes missing at offset 0\n";
	int64_t midnight = t0() + 14LL * 3600 * 1000000;

	(void)state;
	e[0] = base_event(EV_GAP, 14LL * 3600 * 1000000 - 1);
	e[1] = base_event(EV_GAP, 14LL * 3600 * 1000000);
	e[2] = base_event(EV_GAP, 0);
	e[2].ts_us = -1;
	e[3] = base_event(EV_GAP, 0);
	e[3].ts_us = INT64_MAX;
	(void)midnight;
	for (size_t i = 0; i < 4; i++)
		e[i].u.gap.bytes = 1;
	data = run_text(e, 4, false, &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	free(data);
}

static void assert_wire(const char *in, size_t n, const char *want)
{
	struct buf b;

	buf_init(&b, 4096, NULL);
	assert_int_equal(output_text_append_wire(&b, (struct buf_slice){ (const uint8_t *)in, n }), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

/* --frames: the records after the session number, a span as a range,
 * the file when the event names one (escaped like wire text). */
static void test_text_frames(void **state)
{
	struct output_text_opts opts = { .frames = true };
	struct event evs[3];
	size_t len;
	char *out;

	(void)state;
	evs[0] = base_event(EV_GAP, 0);
	evs[0].frame = 12;
	evs[0].u.gap.bytes = 5;
	evs[1] = base_event(EV_GAP, 1);
	evs[1].frame = 12;
	evs[1].frame_last = 15;
	evs[1].u.gap.bytes = 5;
	evs[2] = base_event(EV_GAP, 2);
	evs[2].frame = 3;
	evs[2].pcap = "b\x1b.pcap";
	evs[2].u.gap.bytes = 5;
	out = run_text_opts(evs, 3, &opts, &len);
	assert_non_null(strstr(out, "#1 [f12] GAP"));
	assert_non_null(strstr(out, "#1 [f12-f15] GAP"));
	assert_non_null(strstr(out, "#1 [b\\x1b.pcap:f3] GAP"));
	free(out);
	out = run_text(evs, 3, false, &len);
	assert_null(strstr(out, "[f"));
	free(out);
}

static void test_text_literal_markers(void **state)
{
	(void)state;
	assert_wire("{5}", 3, "{5 bytes}");
	assert_wire("x {12+} y ~{7} {0-}", 19, "x {12 bytes} y ~{7 bytes} {0 bytes}");
	assert_wire("{} {x} {5 {5", 12, "{} {x} {5 {5");
	assert_wire("{123456789012345678901234}", 26, "{123456789012345678901234}");
	assert_wire("{1}\x1b{2}", 7, "{1 bytes}\\x1b{2 bytes}");
	assert_wire("{5+", 3, "{5+");
	assert_wire("", 0, "");
}

/* Latencies in one style, whatever their size: milliseconds, three
 * decimals, as latency_ms in the JSON. */
static void test_text_latency(void **state)
{
	static const struct { double ms; const char *want; } cases[] = {
		{ 0.4123, "   (0.412 ms)" }, { 1.563, "   (1.563 ms)" }, { 99.94, "   (99.940 ms)" },
		{ 99.9996, "   (100.000 ms)" }, { 0.0004, "   (0.000 ms)" }, { 234.4, "   (234.400 ms)" },
		{ 12345, "   (12345.000 ms)" }, { 0, "   (0.000 ms)" }, { -1, "" },
	};
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct event e = base_event(EV_RESPONSE, 0);
		char *data, want[128];

		e.u.response.tag = S("a");
		e.u.response.status = S("OK");
		e.u.response.id = IMAP_R_OK;
		e.u.response.latency_ms = cases[i].ms;
		data = run_text(&e, 1, false, &len);
		snprintf(want, sizeof want, "#1 S a OK%s\n", cases[i].want);
		assert_non_null(strstr(data, want));
		free(data);
	}
}

static void test_text_closed_pipe(void **state)
{
	struct event e = base_event(EV_COMMAND, 0);
	struct output_text_opts opts = { .color = false };
	struct output out;
	int fds[2];
	FILE *fp;
	size_t i;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	e.u.command.tag = S("a1");
	e.u.command.name = S("NOOP");
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	fp = fdopen(fds[1], "w");
	assert_non_null(fp);
	assert_int_equal(output_text_new(&out, fp, &opts), 0);
	for (i = 0; i < 100000; i++)
		out.ops->event(out.ctx, &e);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
}

/* --logins as a table: a header, one row per login event, nothing else. */
static void test_logins_table(void **state)
{
	struct event e[3];
	struct output out;
	char *data = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&data, &len);
	static const char want[] =
		"TIME     SESS  CLIENT          SERVER          USER             MECH      "
		"RESULT  TRANSPORT FLAGS RESPONSE\n"
		"--- 2026-11-21 (UTC) ---\n"
		"10:00:00 #1    192.0.2.1       192.0.2.2       alice\\x1b        PLAIN     "
		"FAIL    starttls  C     Invalid credentials\n"
		"10:00:00 #1    192.0.2.1       192.0.2.2       -                XOAUTH2   "
		"unknown plain     -\n"
		"flags: C secret sent in cleartext\n"
		"\n"
		"USER                     ATTEMPTS FAILURES FIRST SEEN (UTC)    LAST SEEN (UTC)     "
		"SUCCESS AFTER FAILURES\n"
		"alice\\x1b                       1        1 2026-11-21 10:00:00 2026-11-21 10:00:00 no\n"
		"\n"
		"CLIENT                   ATTEMPTS FAILURES FIRST SEEN (UTC)    LAST SEEN (UTC)     "
		"SUCCESS AFTER FAILURES\n"
		"192.0.2.1                       2        1 2026-11-21 10:00:00 2026-11-21 10:00:00 no\n";

	(void)state;
	e[0] = base_event(EV_LOGIN, 5);
	e[0].u.login.user = S("alice\x1b");
	e[0].u.login.mechanism = S("PLAIN");
	e[0].u.login.result = LOGIN_FAIL;
	e[0].u.login.transport = TRANSPORT_STARTTLS;
	e[0].u.login.cleartext_secret = true;
	e[0].u.login.code = S("AUTHENTICATIONFAILED");
	e[0].u.login.text = S("Invalid credentials");
	e[1] = base_event(EV_COMMAND, 5);
	e[1].u.command.tag = S("a1");
	e[2] = base_event(EV_LOGIN, 5);
	e[2].u.login.mechanism = S("XOAUTH2");
	assert_non_null(fp);
	assert_int_equal(output_logins_new(&out, fp, false), 0);
	for (i = 0; i < 3; i++)
		out.ops->event(out.ctx, &e[i]);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
	if (len != strlen(want) || memcmp(data, want, len) != 0)
		fwrite(data, 1, len, stderr);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	free(data);
}

/* The BYE's colour reads the session's facts: however many sessions sent
 * LOGOUT since (the old ring remembered 16), the goodbye of one that did is
 * not an error; nor is an OK coloured by its text, but by its id. */
static void test_text_bye_facts(void **state)
{
	enum { N = 40 };
	static struct event e[N + 2];
	size_t len, i;
	char *data;

	(void)state;
	for (i = 0; i < N; i++) {
		e[i] = base_event(EV_COMMAND, (int64_t)i);
		e[i].session = i + 1;
		e[i].u.command.tag = S("z");
		e[i].u.command.name = S("LOGOUT");
		e[i].facts = &logout_facts;
	}
	e[N] = base_event(EV_UNTAGGED, N);
	e[N].u.untagged.name = S("BYE");
	e[N].u.untagged.id = IMAP_R_BYE;
	e[N].u.untagged.text = S("Logging out");
	e[N].facts = &logout_facts;
	e[N + 1] = base_event(EV_RESPONSE, N + 1);
	e[N + 1].u.response.tag = S("z");
	e[N + 1].u.response.status = S("ok");	/* how it was sent: the id decides */
	e[N + 1].u.response.id = IMAP_R_OK;
	e[N + 1].u.response.latency_ms = -1;
	data = run_text(e, N + 2, true, &len);
	assert_non_null(strstr(data, "#1 \x1b[32mS * BYE Logging out\x1b[0m\n"));
	assert_non_null(strstr(data, "#1 \x1b[32mS z ok\x1b[0m\n"));
	free(data);
}

/* Display columns of each line of data (after the date line). */
static void assert_fits(const char *data, size_t len, size_t width)
{
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		assert_non_null(nl);
		if (output_text_columns((const uint8_t *)p, (size_t)(nl - p)) > width) {
			fprintf(stderr, "too wide: %.*s\n", (int)(nl - p), p);
			fail();
		}
		p = nl + 1;
	}
}

static const char caps_code[] =
	"CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
	"AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5 AUTH=DIGEST-MD5 AUTH=SCRAM-SHA-1 "
	"AUTH=SCRAM-SHA-256 AUTH=ANONYMOUS";

/* --width: a capability list keeps its first items and a count, texts
 * are cut with a marker, the latency after them stays; --width 0 (the
 * default) keeps every line whole. */
static void test_text_width(void **state)
{
	struct event e[5];
	struct output_text_opts opts = { .width = 80 };
	struct buf_slice code = S(caps_code);
	char *data;
	size_t len;

	(void)state;
	e[0] = base_event(EV_GREETING, 0);
	e[0].u.greeting.status = S("OK");
	e[0].u.greeting.code = code;
	e[0].u.greeting.rcode.id = IMAP_CODE_CAPABILITY;
	e[0].u.greeting.rcode.args = (struct buf_slice){ code.ptr + 11, code.len - 11 };
	e[0].u.greeting.text = S("Dovecot ready.");
	e[1] = base_event(EV_UNTAGGED, 1);
	e[1].u.untagged.name = S("CAPABILITY");
	e[1].u.untagged.id = IMAP_R_CAPABILITY;
	e[1].u.untagged.text = code;
	e[2] = base_event(EV_COMMAND, 2);
	e[2].u.command.tag = S("a1");
	e[2].u.command.name = S("UID FETCH");
	e[2].u.command.args = S("1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS "
				"(DATE FROM SUBJECT TO CC MESSAGE-ID REFERENCES)])");
	e[3] = base_event(EV_RESPONSE, 3);
	e[3].u.response.tag = S("a1");
	e[3].u.response.status = S("OK");
	e[3].u.response.id = IMAP_R_OK;
	e[3].u.response.code = code;
	e[3].u.response.rcode = e[0].u.greeting.rcode;
	e[3].u.response.text = S("Logged in, and a long text after the list of capabilities");
	e[3].u.response.latency_ms = 1.5;
	e[4] = base_event(EV_LOGIN, 3);
	e[4].u.login.user = S("alice");
	e[4].u.login.mechanism = S("LOGIN");
	e[4].u.login.result = LOGIN_OK;
	e[4].u.login.code = code;
	e[4].u.login.text = S("Logged in");
	data = run_text_opts(e, 5, &opts, &len);
	assert_fits(data, len, 80);
	/* as many items as fit, then how many are left out */
	assert_non_null(strstr(data, "#1 S * OK [CAPABILITY IMAP4rev1 SASL-IR \xe2\x80\xa6 +13] "
				     "Dovecot ready.\n"));
	assert_non_null(strstr(data, "#1 S * CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID "
				     "\xe2\x80\xa6 +11\n"));
	assert_non_null(strstr(data, "#1 C a1 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE "
				     "BODY.\xe2\x80\xa6\n"));
	/* the list first, then the text; the latency stays */
	assert_non_null(strstr(data, "#1 S a1 OK [CAPABILITY IMAP4rev1 \xe2\x80\xa6 +14] "
				     "Logged in,\xe2\x80\xa6   (1.500 ms)\n"));
	/* the LOGIN line does not say the list again */
	assert_non_null(strstr(data, "LOGIN alice via LOGIN: ok Logged in\n"));
	free(data);

	opts.width = 0;
	data = run_text_opts(e, 5, &opts, &len);
	assert_non_null(strstr(data, "AUTH=ANONYMOUS] Dovecot ready.\n"));
	assert_non_null(strstr(data, "LOGIN alice via LOGIN: ok [CAPABILITY IMAP4rev1"));
	free(data);

	opts.width = 1;	/* raised to OUTPUT_TEXT_MIN_WIDTH */
	data = run_text_opts(e, 5, &opts, &len);
	assert_fits(data, len, OUTPUT_TEXT_MIN_WIDTH);
	free(data);
}

/* Columns: colours take none, a UTF-8 character one, a wide one two,
 * a byte that is not UTF-8 one; a cut never splits a character. */
static void test_text_columns(void **state)
{
	static const uint8_t s[] = "\x1b[1;31ma\xc3\xa9\xe4\xb8\xad\xff\x1b[0m";
	struct output_text_opts opts = { .width = 40, .color = true };
	struct event e = base_event(EV_NOTICE, 0);
	size_t cols, n, len;
	char *data, *line;

	(void)state;
	assert_int_equal(output_text_columns(s, sizeof s - 1), 5);
	n = output_text_fit(s, sizeof s - 1, 3, &cols);
	assert_int_equal(cols, 2);	/* the wide one does not fit in the third */
	assert_int_equal(n, 10);
	/* nothing to collapse: the line's end is cut, the colour reset kept */
	e.u.notice.text = "a notice that is much longer than forty columns, in \xe4\xb8\xad";
	data = run_text_opts(&e, 1, &opts, &len);
	assert_fits(data, len, 40);
	line = strstr(data, "NOTICE a notice");
	assert_non_null(line);
	assert_non_null(strstr(line, "\xe2\x80\xa6\x1b[0m\n"));
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_session),
		cmocka_unit_test(test_text_hostile),
		cmocka_unit_test(test_text_color),
		cmocka_unit_test(test_text_bye_after_logout),
		cmocka_unit_test(test_text_bye_facts),
		cmocka_unit_test(test_text_dates),
		cmocka_unit_test(test_text_literal_markers),
		cmocka_unit_test(test_text_frames),
		cmocka_unit_test(test_text_latency),
		cmocka_unit_test(test_text_closed_pipe),
		cmocka_unit_test(test_logins_table),
		cmocka_unit_test(test_text_width),
		cmocka_unit_test(test_text_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
