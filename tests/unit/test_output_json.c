/* -F json: every line parses, every key of the contract is there, and
 * hostile wire bytes come back as what escape_json promises. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "report/logins.h"
#include "report/output_json.h"
#include "util/escape.h"

#define S(lit) ((struct buf_slice){ (const uint8_t *)(lit), sizeof(lit) - 1 })

/* NUL, ESC, invalid UTF-8, quote, backslash, DEL, a C1 control, U+2028,
 * an overlong '/', a surrogate, a truncated sequence at the end. */
static const char hostile_raw[] =
	"a\0b\x1b[31m\"q\"\\\x7f\xc2\x85\xe2\x80\xa8\xc0\xaf\xed\xa0\x80\xff\xfe\r\n\t\x01z\xe2\x82";
#define HOSTILE ((struct buf_slice){ (const uint8_t *)hostile_raw, sizeof hostile_raw - 1 })

/* What a JSON parser must give back for wire bytes: the escaped form of
 * escape.h, which is also what the text output shows. */
static char *expected_utf8(struct buf_slice s, size_t *len_r)
{
	struct buf b;
	char *out;

	buf_init(&b, SIZE_MAX, NULL);
	assert_int_equal(escape_text(&b, s.ptr, s.len), 0);
	out = malloc(b.len + 1);
	assert_non_null(out);
	memcpy(out, b.data ? (const char *)b.data : "", b.len);
	*len_r = b.len;
	buf_free(&b);
	return out;
}

/* Run events through a fresh json output; returns the bytes written. */
static char *run_events(const struct event *evs, size_t n, size_t *len_r)
{
	struct output out;
	char *data = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&data, &len);

	assert_non_null(fp);
	assert_int_equal(output_json_new(&out, fp), 0);
	for (i = 0; i < n; i++)
		out.ops->event(out.ctx, &evs[i]);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
	*len_r = len;
	return data;
}

/* Parse line number k (0-based) of data; NULL if there is no such line. */
static struct json_object *line_at(const char *data, size_t len, size_t k)
{
	const char *p = data, *end = data + len, *nl;
	struct json_tokener *tok;
	struct json_object *obj;

	while (k-- > 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return NULL;
		p = nl + 1;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL)
		return NULL;
	/* json_tokener_parse would stop at an embedded NUL; there must be none,
	 * and the whole line must be one object. */
	assert_null(memchr(p, '\0', (size_t)(nl - p)));
	tok = json_tokener_new();
	obj = json_tokener_parse_ex(tok, p, (int)(nl - p));
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_int_equal(json_tokener_get_parse_end(tok), (size_t)(nl - p));
	json_tokener_free(tok);
	assert_non_null(obj);
	assert_true(json_object_is_type(obj, json_type_object));
	return obj;
}

static size_t count_lines(const char *data, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += data[i] == '\n';
	return n;
}

static struct json_object *key(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("missing key %s in %s", k, json_object_to_json_string(o));
	return v;
}

static void assert_str(struct json_object *o, const char *k, const char *want)
{
	struct json_object *v = key(o, k);

	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), want);
}

static void assert_null_key(struct json_object *o, const char *k)
{
	assert_true(json_object_is_type(key(o, k), json_type_null));
}

static void assert_int_key(struct json_object *o, const char *k, int64_t want)
{
	struct json_object *v = key(o, k);

	assert_true(json_object_is_type(v, json_type_int));
	assert_true(json_object_get_int64(v) == want);
}

static void assert_bool_key(struct json_object *o, const char *k, bool want)
{
	struct json_object *v = key(o, k);

	assert_true(json_object_is_type(v, json_type_boolean));
	assert_int_equal(json_object_get_boolean(v), want);
}

/* The string value at k equals the wire bytes s as escape.h maps them. */
static void assert_wire(struct json_object *o, const char *k, struct buf_slice s)
{
	struct json_object *v = key(o, k);
	size_t want_len;
	char *want = expected_utf8(s, &want_len);

	assert_true(json_object_is_type(v, json_type_string));
	assert_int_equal((size_t)json_object_get_string_len(v), want_len);
	assert_memory_equal(json_object_get_string(v), want, want_len);
	free(want);
}

static size_t n_keys(struct json_object *o)
{
	return (size_t)json_object_object_length(o);
}

/* 2026-11-21T10:00:00.123456Z in microseconds. */
static int64_t ts_example(void)
{
	struct tm tm = { 0 };

	tm.tm_year = 2026 - 1900;
	tm.tm_mon = 10;
	tm.tm_mday = 21;
	tm.tm_hour = 10;
	return (int64_t)timegm(&tm) * 1000000 + 123456;
}

static void test_json_every_type(void **state)
{
	static const struct session_summary sum = {
		.commands = 12, .responses_ok = 10, .responses_no = 1, .responses_bad = 1,
		.untagged = 30, .bytes_c2s = 1234, .bytes_s2c = 56789, .gaps = 2,
		.gap_bytes = 2896, .notices = 3, .duration_us = 3204567,
	};
	struct event evs[12];
	struct json_object *o, *s;
	size_t len, i;
	char *data;

	(void)state;
	memset(evs, 0, sizeof evs);
	for (i = 0; i < 12; i++) {
		evs[i].ts_us = ts_example();
		evs[i].session = 7;
		evs[i].client = "192.0.2.1:50000";
		evs[i].server = "[2001:db8::1]:143";
	}
	evs[0].type = EV_SESSION_START;
	evs[0].u.start.mid_stream = true;
	evs[1].type = EV_GREETING;
	evs[1].u.greeting.status = S("OK");
	evs[1].u.greeting.code = SLICE_NULL;
	evs[1].u.greeting.text = HOSTILE;
	evs[2].type = EV_COMMAND;
	evs[2].u.command.tag = S("a001");
	evs[2].u.command.name = S("UID FETCH");
	evs[2].u.command.args = HOSTILE;
	evs[2].u.command.literal_bytes = 452;
	evs[3].type = EV_CONTINUATION;
	evs[3].u.continuation.dir = DIR_C2S;
	evs[3].u.continuation.text = S("***");
	evs[4].type = EV_UNTAGGED;
	evs[4].u.untagged.name = S("FETCH");
	evs[4].u.untagged.text = S("3 FETCH (BODY[] {12})");
	evs[4].u.untagged.tag = S("a001");
	evs[5].type = EV_RESPONSE;
	evs[5].u.response.tag = S("a001");
	evs[5].u.response.status = S("NO");
	evs[5].u.response.code = S("AUTHENTICATIONFAILED");
	evs[5].u.response.text = HOSTILE;
	evs[5].u.response.command = SLICE_NULL;
	evs[5].u.response.latency_ms = 1.5634;
	evs[6].type = EV_LOGIN;
	evs[6].u.login.user = HOSTILE;
	evs[6].u.login.mechanism = S("PLAIN");
	evs[6].u.login.result = LOGIN_FAIL;
	evs[6].u.login.transport = TRANSPORT_STARTTLS;
	evs[6].u.login.cleartext_secret = true;
	evs[6].u.login.code = S("AUTHENTICATIONFAILED");
	evs[7].type = EV_TLS;
	evs[7].u.tls.phase = "starttls";
	evs[7].u.tls.version = "TLS 1.3";
	evs[7].u.tls.reason = "no key";
	evs[8].type = EV_COMPRESS;
	evs[8].u.compress.algorithm = "DEFLATE";
	evs[8].u.compress.decoded = true;
	evs[9].type = EV_GAP;
	evs[9].u.gap.dir = DIR_S2C;
	evs[9].u.gap.bytes = 1448;
	evs[9].u.gap.offset = 5000000000ULL;
	evs[10].type = EV_SESSION_END;
	evs[10].u.end.reason = END_EVICTED;
	evs[10].u.end.summary = &sum;
	evs[11].type = EV_RESPONSE;	/* the all-null response */
	evs[11].u.response.latency_ms = -1;

	data = run_events(evs, 12, &len);
	assert_int_equal(count_lines(data, len), 12);
	assert_true(len > 0 && data[len - 1] == '\n');
	for (i = 0; i < 12; i++) {
		o = line_at(data, len, i);
		assert_str(o, "ts", "2026-11-21T10:00:00.123456Z");
		assert_int_key(o, "session", 7);
		json_object_put(o);
	}

	o = line_at(data, len, 0);
	assert_str(o, "type", "session_start");
	assert_str(o, "client", "192.0.2.1:50000");
	assert_str(o, "server", "[2001:db8::1]:143");
	assert_bool_key(o, "mid_stream", true);
	assert_bool_key(o, "implicit_tls", false);
	json_object_put(o);

	o = line_at(data, len, 1);
	assert_str(o, "type", "greeting");
	assert_str(o, "status", "OK");
	assert_wire(o, "text", HOSTILE);
	json_object_put(o);

	o = line_at(data, len, 2);
	assert_str(o, "type", "command");
	assert_str(o, "tag", "a001");
	assert_str(o, "command", "UID FETCH");
	assert_wire(o, "args", HOSTILE);
	assert_int_key(o, "literal_bytes", 452);
	json_object_put(o);

	o = line_at(data, len, 3);
	assert_str(o, "type", "continuation");
	assert_str(o, "dir", "c2s");
	assert_str(o, "text", "***");
	json_object_put(o);

	o = line_at(data, len, 4);
	assert_str(o, "type", "untagged");
	assert_str(o, "name", "FETCH");
	assert_str(o, "text", "3 FETCH (BODY[] {12})");
	assert_str(o, "tag", "a001");
	json_object_put(o);

	o = line_at(data, len, 5);
	assert_str(o, "type", "response");
	assert_str(o, "status", "NO");
	assert_str(o, "code", "AUTHENTICATIONFAILED");
	assert_wire(o, "text", HOSTILE);
	assert_null_key(o, "command");
	assert_true(json_object_is_type(key(o, "latency_ms"), json_type_double));
	assert_true(fabs(json_object_get_double(key(o, "latency_ms")) - 1.563) < 1e-9);
	json_object_put(o);

	o = line_at(data, len, 6);
	assert_str(o, "type", "login");
	assert_wire(o, "user", HOSTILE);
	assert_str(o, "mechanism", "PLAIN");
	assert_str(o, "result", "fail");
	assert_str(o, "transport", "starttls");
	assert_bool_key(o, "cleartext_secret", true);
	assert_str(o, "client", "192.0.2.1:50000");
	assert_null_key(o, "tag");
	assert_null_key(o, "text");
	assert_false(json_object_object_get_ex(o, "secret", NULL));
	json_object_put(o);

	o = line_at(data, len, 7);
	assert_str(o, "type", "tls");
	assert_str(o, "phase", "starttls");
	assert_str(o, "version", "TLS 1.3");
	assert_null_key(o, "cipher");
	assert_null_key(o, "sni");
	assert_bool_key(o, "decrypted", false);
	assert_str(o, "reason", "no key");
	json_object_put(o);

	o = line_at(data, len, 8);
	assert_str(o, "type", "compress");
	assert_str(o, "algorithm", "DEFLATE");
	assert_bool_key(o, "decoded", true);
	json_object_put(o);

	o = line_at(data, len, 9);
	assert_str(o, "type", "gap");
	assert_str(o, "dir", "s2c");
	assert_int_key(o, "bytes", 1448);
	assert_int_key(o, "offset", 5000000000LL);
	json_object_put(o);

	o = line_at(data, len, 10);
	assert_str(o, "type", "session_end");
	assert_str(o, "reason", "timeout");
	s = key(o, "summary");
	assert_int_key(s, "commands", 12);
	assert_int_key(key(s, "responses"), "OK", 10);
	assert_int_key(key(s, "responses"), "NO", 1);
	assert_int_key(key(s, "responses"), "BAD", 1);
	assert_int_key(s, "untagged", 30);
	assert_int_key(s, "bytes_c2s", 1234);
	assert_int_key(s, "bytes_s2c", 56789);
	assert_int_key(s, "gaps", 2);
	assert_int_key(s, "gap_bytes", 2896);
	assert_int_key(s, "notices", 3);
	assert_true(fabs(json_object_get_double(key(s, "duration_ms")) - 3204.567) < 1e-9);
	json_object_put(o);

	o = line_at(data, len, 11);
	assert_null_key(o, "tag");
	assert_null_key(o, "status");
	assert_null_key(o, "code");
	assert_null_key(o, "text");
	assert_null_key(o, "latency_ms");
	assert_int_equal(n_keys(o), 10);	/* v, ts, session, type and 6 */
	json_object_put(o);
	free(data);
}

/* The session's flow on an event: v first, the flow keys with the
 * client as src and IPv6 bare; an event without a flow has no such key
 * (and still its v). */
static void test_json_flow_keys(void **state)
{
	struct event ev[2] = { { .type = EV_GAP, .session = 3 }, { .type = EV_GAP, .session = 4 } };
	struct event_flow f = { .af = 6, .client_port = 40000, .server_port = 993,
				.flow_id = (1ull << 53) - 1,
				.community_id = "1:wC0BD+nXQsgzzz2atAyZLHyMhl0=" };
	struct json_object *o;
	size_t len;
	char *data;

	(void)state;
	f.client_ip[0] = 0x20, f.client_ip[1] = 0x01, f.client_ip[15] = 2;
	f.server_ip[0] = 0x20, f.server_ip[1] = 0x01, f.server_ip[15] = 1;
	event_flow_format(&f);
	ev[0].flow = &f;
	data = run_events(ev, 2, &len);
	assert_memory_equal(data, "{\"v\":2,", 7);
	o = line_at(data, len, 0);
	assert_int_key(o, "v", 2);
	assert_int_key(o, "flow_id", (int64_t)((1ull << 53) - 1));
	assert_str(o, "community_id", "1:wC0BD+nXQsgzzz2atAyZLHyMhl0=");
	assert_str(o, "src_ip", "2001::2");
	assert_int_key(o, "src_port", 40000);
	assert_str(o, "dest_ip", "2001::1");
	assert_int_key(o, "dest_port", 993);
	json_object_put(o);
	o = line_at(data, len, 1);
	assert_int_key(o, "v", 2);
	assert_false(json_object_object_get_ex(o, "src_ip", NULL));
	assert_false(json_object_object_get_ex(o, "community_id", NULL));
	assert_false(json_object_object_get_ex(o, "flow_id", NULL));
	json_object_put(o);
	free(data);
}

/* --show-secrets: the secret key appears, bytes intact. */
static void test_json_secret_shown(void **state)
{
	struct event ev = { .type = EV_LOGIN, .ts_us = 0, .session = 1 };
	struct json_object *o;
	size_t len;
	char *data;

	(void)state;
	ev.u.login.user = S("alice");
	ev.u.login.mechanism = S("LOGIN");
	ev.u.login.secret = HOSTILE;
	data = run_events(&ev, 1, &len);
	o = line_at(data, len, 0);
	assert_str(o, "ts", "1970-01-01T00:00:00.000000Z");
	assert_str(o, "result", "unknown");
	assert_null_key(o, "client");
	assert_wire(o, "secret", HOSTILE);
	json_object_put(o);
	free(data);
}

/* frame always (when known), frame_last only for a span, pcap only when
 * the event names its file; none when the record is not known. */
static void test_json_frames(void **state)
{
	struct event evs[3] = {
		{ .type = EV_GAP, .session = 1, .frame = 7 },
		{ .type = EV_GAP, .session = 1, .frame = 7, .frame_last = 9, .pcap = "a\"b.pcap" },
		{ .type = EV_GAP, .session = 1 },
	};
	struct json_object *o;
	size_t len;
	char *data;

	(void)state;
	data = run_events(evs, 3, &len);
	o = line_at(data, len, 0);
	assert_int_key(o, "frame", 7);
	assert_false(json_object_object_get_ex(o, "frame_last", NULL));
	assert_false(json_object_object_get_ex(o, "pcap", NULL));
	json_object_put(o);
	o = line_at(data, len, 1);
	assert_int_key(o, "frame", 7);
	assert_int_key(o, "frame_last", 9);
	assert_str(o, "pcap", "a\"b.pcap");
	json_object_put(o);
	o = line_at(data, len, 2);
	assert_false(json_object_object_get_ex(o, "frame", NULL));
	json_object_put(o);
	free(data);
}

static void assert_ts(int64_t ts_us, const char *want)
{
	struct buf b;
	struct output_time tc = { 0 };

	buf_init(&b, 1024, NULL);
	assert_int_equal(output_time_append_rfc3339(&b, &tc, ts_us), 0);
	assert_int_equal(b.len, OUTPUT_TIME_RFC3339_LEN);
	assert_memory_equal(b.data, want, OUTPUT_TIME_RFC3339_LEN);
	/* The cached second must not leak into the next call. */
	buf_reset(&b);
	assert_int_equal(output_time_append_rfc3339(&b, &tc, ts_us), 0);
	assert_memory_equal(b.data, want, OUTPUT_TIME_RFC3339_LEN);
	buf_reset(&b);
	assert_int_equal(output_time_append_rfc3339(&b, NULL, ts_us), 0);
	assert_memory_equal(b.data, want, OUTPUT_TIME_RFC3339_LEN);
	buf_free(&b);
}

static void test_json_timestamps(void **state)
{
	(void)state;
	assert_ts(0, "1970-01-01T00:00:00.000000Z");
	assert_ts(1, "1970-01-01T00:00:00.000001Z");
	assert_ts(-1, "1969-12-31T23:59:59.999999Z");
	assert_ts(-1000000, "1969-12-31T23:59:59.000000Z");
	assert_ts(-1000001, "1969-12-31T23:59:58.999999Z");
	assert_ts(ts_example(), "2026-11-21T10:00:00.123456Z");
	assert_ts(951782400LL * 1000000, "2000-02-29T00:00:00.000000Z");
	assert_ts(INT64_MAX, "9999-12-31T23:59:59.999999Z");
	assert_ts(INT64_MIN, "0000-01-01T00:00:00.000000Z");
	assert_ts(INT64_MIN + 1, "0000-01-01T00:00:00.000000Z");
}

/* The same clock going back and forth between seconds stays right. */
static void test_json_clock_cache(void **state)
{
	struct output_time tc = { 0 };
	const struct tm *tm;
	uint32_t usec;
	int64_t base = ts_example();

	(void)state;
	output_time_split(&tc, base, &tm, &usec);
	assert_int_equal(tm->tm_hour, 10);
	assert_int_equal(usec, 123456);
	output_time_split(&tc, base + 3600LL * 1000000, &tm, &usec);
	assert_int_equal(tm->tm_hour, 11);
	output_time_split(&tc, base + 999, &tm, &usec);
	assert_int_equal(tm->tm_hour, 10);
	assert_int_equal(usec, 124455);
}

static void assert_latency(double ms, const char *want)
{
	struct event ev = { .type = EV_RESPONSE };
	struct json_object *o;
	size_t len;
	char *data, *p;

	ev.u.response.latency_ms = ms;
	data = run_events(&ev, 1, &len);
	o = line_at(data, len, 0);
	json_object_put(o);
	p = strstr(data, "\"latency_ms\":");
	assert_non_null(p);
	p += strlen("\"latency_ms\":");
	assert_memory_equal(p, want, strlen(want));
	assert_int_equal(p[strlen(want)], '}');
	free(data);
}

static void test_json_latency(void **state)
{
	(void)state;
	assert_latency(-1, "null");
	assert_latency(-0.0001, "null");
	assert_latency(NAN, "null");
	assert_latency(INFINITY, "null");
	assert_latency(0, "0.000");
	assert_latency(0.0004, "0.000");
	assert_latency(0.0005, "0.001");
	assert_latency(1.5634, "1.563");
	assert_latency(1234567.891, "1234567.891");
}

/* More than the flush size: still whole lines, in order, none lost. */
static void test_json_many_events(void **state)
{
	enum { N = 20000 };
	struct event *evs = calloc(N, sizeof *evs);
	struct json_object *o;
	size_t len, i;
	char *data;

	(void)state;
	assert_non_null(evs);
	for (i = 0; i < N; i++) {
		evs[i].type = EV_COMMAND;
		evs[i].ts_us = ts_example() + (int64_t)i * 1500;
		evs[i].session = i % 13;
		evs[i].u.command.tag = S("t1");
		evs[i].u.command.name = S("NOOP");
		evs[i].u.command.args = HOSTILE;
	}
	data = run_events(evs, N, &len);
	assert_true(len > 4 * OUTPUT_SINK_FLUSH_BYTES);
	assert_int_equal(count_lines(data, len), N);
	for (i = 0; i < N; i += 997) {
		o = line_at(data, len, i);
		assert_int_key(o, "session", (int64_t)(i % 13));
		assert_wire(o, "args", HOSTILE);
		json_object_put(o);
	}
	free(data);
	free(evs);
}

/* | head: the reader goes away; writing stops quietly, finish says 0. */
static void test_json_closed_pipe(void **state)
{
	struct event ev = { .type = EV_COMMAND, .session = 1 };
	struct output out;
	int fds[2];
	FILE *fp;
	size_t i;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	ev.u.command.tag = S("a1");
	ev.u.command.name = S("NOOP");
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	fp = fdopen(fds[1], "w");
	assert_non_null(fp);
	assert_int_equal(output_json_new(&out, fp), 0);
	for (i = 0; i < 100000; i++)
		out.ops->event(out.ctx, &ev);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
}

/* A full disk is an error, reported by finish. */
static void test_json_write_error(void **state)
{
	struct event ev = { .type = EV_GAP, .session = 1 };
	struct output out;
	FILE *fp = fopen("/dev/full", "w");

	(void)state;
	if (fp == NULL)
		skip();
	assert_int_equal(output_json_new(&out, fp), 0);
	out.ops->event(out.ctx, &ev);
	assert_int_equal(out.ops->finish(out.ctx), -1);
	out.ops->free(out.ctx);
	fclose(fp);
}

/* Nothing reaches the FILE before a flush point: no half line can be
 * seen by a reader while the run goes on. */
static void test_json_whole_lines_only(void **state)
{
	struct event ev = { .type = EV_COMMAND, .session = 1 };
	struct output out;
	char *data = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&data, &len);

	(void)state;
	ev.u.command.tag = S("a1");
	ev.u.command.name = S("NOOP");
	ev.u.command.args = HOSTILE;
	assert_int_equal(output_json_new(&out, fp), 0);
	for (i = 0; i < 5000; i++) {
		out.ops->event(out.ctx, &ev);
		fflush(fp);
		assert_true(len == 0 || data[len - 1] == '\n');
	}
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
	assert_int_equal(count_lines(data, len), 5000);
	free(data);
}

static void test_json_numbers(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024, NULL);
	assert_int_equal(output_append_u64(&b, 0) | output_append_u64(&b, UINT64_MAX) |
			 output_append_i64(&b, INT64_MIN) | output_append_i64(&b, -5) |
			 output_append_milli(&b, -1) | output_append_milli(&b, 1234), 0);
	assert_int_equal(b.len, strlen("018446744073709551615-9223372036854775808-5-0.0011.234"));
	assert_memory_equal(b.data, "018446744073709551615-9223372036854775808-5-0.0011.234", b.len);
	buf_free(&b);
}

/* --logins -F json: only the login events, the same bytes as -F json. */
static void test_logins_json(void **state)
{
	static const struct session_facts facts;
	static const struct command_facts cmd;
	struct event e[3];
	struct output out;
	struct json_object *o;
	char *data = NULL, *whole;
	size_t len = 0, wlen, i;
	FILE *fp = open_memstream(&data, &len);

	(void)state;
	memset(e, 0, sizeof e);
	for (i = 0; i < 3; i++)
		e[i].facts = &facts;
	e[0].type = EV_COMMAND;
	e[0].u.command.facts = &cmd;
	e[1].type = EV_LOGIN;
	e[1].session = 4;
	e[1].client = "[2001:db8::2]:40000";
	e[1].server = "[2001:db8::1]:993";
	e[1].u.login.user = HOSTILE;
	e[1].u.login.mechanism = S("NTLM");
	e[1].u.login.result = LOGIN_OK;
	e[1].u.login.transport = TRANSPORT_IMPLICIT_TLS;
	e[2].type = EV_SESSION_END;
	assert_non_null(fp);
	assert_int_equal(output_logins_new(&out, fp, true), 0);
	for (i = 0; i < 3; i++)
		out.ops->event(out.ctx, &e[i]);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
	assert_int_equal(count_lines(data, len), 3);	/* the row, then the roll-up */
	o = line_at(data, len, 0);
	assert_str(o, "type", "login");
	assert_int_key(o, "session", 4);
	assert_str(o, "client", "[2001:db8::2]:40000");
	assert_str(o, "server", "[2001:db8::1]:993");
	assert_wire(o, "user", HOSTILE);
	assert_str(o, "transport", "implicit_tls");
	json_object_put(o);
	o = line_at(data, len, 1);
	assert_str(o, "type", "login_summary");
	assert_str(o, "by", "user");
	assert_wire(o, "key", HOSTILE);
	assert_int_key(o, "session", 0);
	assert_int_key(o, "attempts", 1);
	json_object_put(o);
	o = line_at(data, len, 2);
	assert_str(o, "by", "client");
	assert_str(o, "key", "[2001:db8::2]");
	json_object_put(o);
	/* A --logins line is the -F json line plus the audit flags. */
	whole = run_events(&e[1], 1, &wlen);
	{
		static const char flags[] = ",\"flags\":[],\"brute_force\":false,"
			"\"brute_force_by\":[],\"cleartext_despite_starttls\":false,"
			"\"login_despite_logindisabled\":false}\n";

		assert_true(wlen > 2);
		assert_true(len > wlen - 2 + strlen(flags));	/* the roll-up follows */
		assert_int_equal(data[wlen - 2 + strlen(flags) - 1], '\n');
		assert_memory_equal(data, whole, wlen - 2);
		assert_memory_equal(data + wlen - 2, flags, strlen(flags));
	}
	free(whole);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_every_type),
		cmocka_unit_test(test_json_flow_keys),
		cmocka_unit_test(test_json_secret_shown),
		cmocka_unit_test(test_json_frames),
		cmocka_unit_test(test_json_timestamps),
		cmocka_unit_test(test_json_clock_cache),
		cmocka_unit_test(test_json_latency),
		cmocka_unit_test(test_json_many_events),
		cmocka_unit_test(test_json_closed_pipe),
		cmocka_unit_test(test_json_write_error),
		cmocka_unit_test(test_json_whole_lines_only),
		cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_logins_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
