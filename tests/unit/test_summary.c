/* --summary: scripted events in, numbers out.  Percentiles are checked
 * exactly on small sets and within the documented 1/32 past them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "report/summary.h"

#define S(lit) ((struct buf_slice){ (const uint8_t *)(lit), sizeof(lit) - 1 })
#define T0 1795255200000000LL	/* 2026-11-21T10:00:00Z */
#define MAX_EVENTS 4096

#define SESSIONS 16		/* session ids of a script, mod this */

/* Events as a session makes them: each points at the session's facts as
 * they were after it (a copy per event); a command at its decoded
 * arguments, and its response at the same. */
struct script {
	struct event ev[MAX_EVENTS];
	struct session_facts facts[MAX_EVENTS];
	struct command_facts cmd[MAX_EVENTS];
	struct session_facts cur[SESSIONS];	/* the sessions' facts now */
	size_t n;
};

static struct event *add(struct script *sc, enum event_type t, uint64_t session, int64_t ts)
{
	struct event *e;

	assert_true(sc->n < MAX_EVENTS);
	if (t == EV_SESSION_START)
		memset(&sc->cur[session % SESSIONS], 0, sizeof sc->cur[0]);
	e = &sc->ev[sc->n];
	memset(e, 0, sizeof *e);
	memset(&sc->cmd[sc->n], 0, sizeof sc->cmd[0]);
	sc->facts[sc->n] = sc->cur[session % SESSIONS];
	e->facts = &sc->facts[sc->n];
	if (t == EV_COMMAND)
		e->u.command.facts = &sc->cmd[sc->n];
	e->type = t;
	e->session = session;
	e->ts_us = ts;
	e->client = session % 2 == 1 ? "192.0.2.1:50000" : "[2001:db8::7]:40000";
	e->server = "192.0.2.2:143";
	sc->n++;
	return e;
}

/* TLS begins: the session's transport by the phase, as the session has it. */
static struct event *tls(struct script *sc, uint64_t sess, int64_t ts, const char *phase)
{
	struct event *e;

	sc->cur[sess % SESSIONS].transport = strcmp(phase, "implicit") == 0
					     ? TRANSPORT_IMPLICIT_TLS : TRANSPORT_STARTTLS;
	e = add(sc, EV_TLS, sess, ts);
	e->u.tls.phase = phase;
	return e;
}

static enum imap_cmd_id command_id(const char *name)
{
	static const struct { const char *name; enum imap_cmd_id id; } ids[] = {
		{ "SELECT", IMAP_CMD_SELECT }, { "EXAMINE", IMAP_CMD_EXAMINE },
		{ "LOGIN", IMAP_CMD_LOGIN }, { "NOOP", IMAP_CMD_NOOP },
		{ "STARTTLS", IMAP_CMD_STARTTLS }, { "FETCH", IMAP_CMD_FETCH },
	};

	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		if (strcmp(name, ids[i].name) == 0)
			return ids[i].id;
	return IMAP_CMD_UNKNOWN;
}

/* A command; mailbox is its decoded mailbox argument (NULL: none). */
static void command_mbox(struct script *sc, uint64_t sess, int64_t ts, const char *tag,
			 const char *name, const char *args, const char *mailbox, size_t mlen)
{
	struct event *e = add(sc, EV_COMMAND, sess, ts);
	struct command_facts *cf = &sc->cmd[sc->n - 1];

	e->u.command.tag = (struct buf_slice){ (const uint8_t *)tag, strlen(tag) };
	e->u.command.name = (struct buf_slice){ (const uint8_t *)name, strlen(name) };
	e->u.command.args = (struct buf_slice){ (const uint8_t *)args, strlen(args) };
	cf->id = command_id(name);
	if (mailbox != NULL)
		cf->mailbox = (struct buf_slice){ (const uint8_t *)mailbox, mlen };
}

static void command(struct script *sc, uint64_t sess, int64_t ts, const char *tag,
		    const char *name, const char *args)
{
	command_mbox(sc, sess, ts, tag, name, args, NULL, 0);
}

/* The latest command of sess with this tag (the one a response completes). */
static const struct command_facts *find_command(const struct script *sc, uint64_t sess,
						const char *tag)
{
	for (size_t i = sc->n; i-- > 0;) {
		const struct event *e = &sc->ev[i];

		if (e->type == EV_COMMAND && e->session == sess &&
		    e->u.command.tag.len == strlen(tag) &&
		    memcmp(e->u.command.tag.ptr, tag, strlen(tag)) == 0)
			return &sc->cmd[i];
	}
	return NULL;
}

static enum imap_resp_id status_id(const char *status)
{
	return strcmp(status, "OK") == 0 ? IMAP_R_OK : strcmp(status, "NO") == 0 ? IMAP_R_NO
	       : strcmp(status, "BAD") == 0 ? IMAP_R_BAD : IMAP_R_UNKNOWN;
}

static void response(struct script *sc, uint64_t sess, int64_t ts, const char *tag,
		     const char *status, const char *cmd, double ms)
{
	const struct command_facts *cf = find_command(sc, sess, tag);
	struct event *e = add(sc, EV_RESPONSE, sess, ts);

	e->u.response.tag = (struct buf_slice){ (const uint8_t *)tag, strlen(tag) };
	e->u.response.status = (struct buf_slice){ (const uint8_t *)status, strlen(status) };
	e->u.response.id = status_id(status);
	e->u.response.text = S("done");
	e->u.response.command = (struct buf_slice){ (const uint8_t *)cmd, strlen(cmd) };
	e->u.response.cmd = cf;
	e->u.response.latency_ms = ms;
}

static void login(struct script *sc, uint64_t sess, int64_t ts, const char *user,
		  enum login_result r)
{
	struct event *e = add(sc, EV_LOGIN, sess, ts);

	e->u.login.user = (struct buf_slice){ (const uint8_t *)user, strlen(user) };
	e->u.login.mechanism = S("LOGIN");
	e->u.login.result = r;
}

static void session_end(struct script *sc, uint64_t sess, int64_t ts,
			const struct session_summary *sum)
{
	struct event *e = add(sc, EV_SESSION_END, sess, ts);

	e->u.end.reason = END_FIN;
	e->u.end.summary = sum;
}

static char *run_budget(const struct script *sc, bool json, struct mem_budget *mb,
			size_t *len_r)
{
	struct output out;
	char *data = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&data, &len);

	assert_non_null(fp);
	assert_int_equal(output_summary_new(&out, fp, json, mb), 0);
	for (i = 0; i < sc->n; i++)
		out.ops->event(out.ctx, &sc->ev[i]);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
	*len_r = len;
	return data;
}

static char *run(const struct script *sc, bool json, size_t *len_r)
{
	return run_budget(sc, json, NULL, len_r);
}

/* All lines of data parsed; returns the count. */
static size_t parse_lines(const char *data, size_t len, struct json_object **objs, size_t max)
{
	const char *p = data, *end = data + len;
	size_t n = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct json_tokener *tok = json_tokener_new();

		assert_non_null(nl);
		assert_true(n < max);
		objs[n] = json_tokener_parse_ex(tok, p, (int)(nl - p));
		assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
		assert_int_equal(json_tokener_get_parse_end(tok), (size_t)(nl - p));
		json_tokener_free(tok);
		assert_non_null(objs[n]);
		n++;
		p = nl + 1;
	}
	return n;
}

static void put_all(struct json_object **objs, size_t n)
{
	while (n-- > 0)
		json_object_put(objs[n]);
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char buf[128], *save = NULL, *k;
	struct json_object *v = o;

	snprintf(buf, sizeof buf, "%s", path);
	for (k = strtok_r(buf, ".", &save); k != NULL; k = strtok_r(NULL, ".", &save)) {
		if (!json_object_object_get_ex(v, k, &v)) {
			print_error("missing key %s in %s\n", k, path);
			fail();
		}
	}
	return v;
}

static int64_t num(struct json_object *o, const char *path)
{
	return json_object_get_int64(get(o, path));
}

static double dbl(struct json_object *o, const char *path)
{
	return json_object_get_double(get(o, path));
}

static const char *str(struct json_object *o, const char *path)
{
	return json_object_get_string(get(o, path));
}

/* Latencies 1..10 ms: nearest rank gives p50 = 5, p95 = 10, exactly. */
static void test_summary_percentiles_exact(void **state)
{
	static struct script sc;
	struct json_object *o[4];
	size_t len, n, i;
	char *data;

	(void)state;
	sc.n = 0;
	add(&sc, EV_SESSION_START, 1, T0);
	for (i = 1; i <= 10; i++) {
		/* out of order, so sorting matters */
		size_t ms = (i * 7) % 10 + 1;

		command(&sc, 1, T0 + (int64_t)i * 1000000, "a1", "NOOP", "");
		response(&sc, 1, T0 + (int64_t)i * 1000000 + 1, "a1", "OK", "NOOP", (double)ms);
	}
	session_end(&sc, 1, T0 + 20000000, NULL);
	data = run(&sc, true, &len);
	n = parse_lines(data, len, o, 4);
	assert_int_equal(n, 2);
	assert_string_equal(str(o[0], "type"), "session_summary");
	assert_int_equal(num(o[0], "latency.NOOP.count"), 10);
	assert_true(dbl(o[0], "latency.NOOP.p50_ms") == 5.0);
	assert_true(dbl(o[0], "latency.NOOP.p95_ms") == 10.0);
	assert_true(dbl(o[0], "latency.NOOP.max_ms") == 10.0);
	assert_true(json_object_get_boolean(get(o[0], "latency.NOOP.exact")));
	assert_string_equal(str(o[1], "type"), "capture_summary");
	assert_true(dbl(o[1], "latency.NOOP.p50_ms") == 5.0);
	/* three samples: p50 is the 2nd, p95 the 3rd */
	put_all(o, n);
	free(data);
	sc.n = 0;
	add(&sc, EV_SESSION_START, 1, T0);
	response(&sc, 1, T0 + 1, "a", "OK", "X", 0.250);
	response(&sc, 1, T0 + 2, "b", "OK", "X", 3.0);
	response(&sc, 1, T0 + 3, "c", "OK", "X", 1.5);
	data = run(&sc, true, &len);
	n = parse_lines(data, len, o, 4);
	assert_int_equal(n, 2);
	assert_true(dbl(o[0], "latency.X.p50_ms") == 1.5);
	assert_true(dbl(o[0], "latency.X.p95_ms") == 3.0);
	assert_null(json_object_get_string(get(o[0], "end_reason")));	/* open at the end */
	put_all(o, n);
	free(data);
}

/* 1000 samples of 1..1000 ms: past SUMMARY_LAT_EXACT, within 1/32. */
static void test_summary_percentiles_histogram(void **state)
{
	static struct script sc;
	struct json_object *o[4];
	size_t len, n, i;
	char *data;
	double p50, p95;

	(void)state;
	sc.n = 0;
	add(&sc, EV_SESSION_START, 1, T0);
	for (i = 1; i <= 1000; i++)
		response(&sc, 1, T0 + (int64_t)i, "a", i % 10 == 0 ? "NO" : "OK", "FETCH",
			 (double)((i * 389) % 1000 + 1));
	session_end(&sc, 1, T0 + 5000, NULL);
	data = run(&sc, true, &len);
	n = parse_lines(data, len, o, 4);
	assert_int_equal(n, 2);
	p50 = dbl(o[0], "latency.FETCH.p50_ms");
	p95 = dbl(o[0], "latency.FETCH.p95_ms");
	assert_true(p50 >= 500.0 * (1 - 1.0 / 32) && p50 <= 500.0 * (1 + 1.0 / 32));
	assert_true(p95 >= 950.0 * (1 - 1.0 / 32) && p95 <= 950.0 * (1 + 1.0 / 32));
	assert_true(dbl(o[0], "latency.FETCH.max_ms") == 1000.0);
	assert_int_equal(num(o[0], "latency.FETCH.count"), 1000);
	assert_false(json_object_get_boolean(get(o[0], "latency.FETCH.exact")));
	assert_int_equal(num(o[0], "responses.NO"), 100);
	assert_int_equal(num(o[1], "errors_by_command.FETCH.NO"), 100);
	assert_true(dbl(o[1], "errors_by_command.FETCH.error_rate") == 0.1);
	assert_true(dbl(o[1], "error_rate") == 0.1);
	put_all(o, n);
	free(data);
}

/* One full session: every per-session field. */
/* Under --max-memory: with no budget, no session is tracked and the capture
 * says how many events found no state ("sessions_untracked"); at every
 * limit the output is valid JSON ending in the capture summary, the budget
 * is never passed, and the memory charged returns to 0 at free. */
static void test_summary_budget(void **state)
{
	static struct script sc;
	static struct json_object *o[16];
	struct mem_budget mb;
	size_t len, n, i, limit, full;
	uint64_t s;
	char *data;

	(void)state;
	sc.n = 0;
	for (s = 1; s <= 3; s++) {
		add(&sc, EV_SESSION_START, s, T0);
		command_mbox(&sc, s, T0 + 1, "a0", "SELECT", "INBOX", "INBOX", 5);
		response(&sc, s, T0 + 2, "a0", "OK", "SELECT", 1.0);
		login(&sc, s, T0 + 3, s == 2 ? "bob" : "alice", LOGIN_OK);
		for (i = 0; i < SUMMARY_LAT_EXACT + 6; i++) {	/* into the histogram */
			command(&sc, s, T0 + 10 + (int64_t)i, "a1", "NOOP", "");
			response(&sc, s, T0 + 10 + (int64_t)i, "a1", "OK", "NOOP", (double)i);
		}
	}
	for (s = 1; s <= 3; s++)
		session_end(&sc, s, T0 + 1000, NULL);

	mb = (struct mem_budget){ .limit = 1 };
	data = run_budget(&sc, true, &mb, &len);
	n = parse_lines(data, len, o, 16);
	assert_int_equal(n, 1);
	assert_string_equal(str(o[0], "type"), "capture_summary");
	assert_int_equal(num(o[0], "sessions_untracked"), (int64_t)sc.n);
	assert_true(mb.refused > 0);
	assert_int_equal(mb.used, 0);
	put_all(o, n);
	free(data);

	mb = (struct mem_budget){ .limit = SIZE_MAX };
	data = run_budget(&sc, true, &mb, &len);
	n = parse_lines(data, len, o, 16);
	assert_int_equal(n, 4);
	assert_int_equal(num(o[3], "sessions_untracked"), 0);
	assert_int_equal(mb.refused, 0);
	assert_int_equal(mb.used, 0);
	full = mb.peak;
	put_all(o, n);
	free(data);

	for (limit = 1; limit <= full; limit += 256) {
		mb = (struct mem_budget){ .limit = limit };
		data = run_budget(&sc, true, &mb, &len);
		n = parse_lines(data, len, o, 16);
		assert_true(n >= 1 && n <= 4);
		assert_string_equal(str(o[n - 1], "type"), "capture_summary");
		assert_true(mb.peak <= limit);
		assert_int_equal(mb.used, 0);
		put_all(o, n);
		free(data);
	}
}

static const struct buf_slice fetch_sections[] = {
	{ (const uint8_t *)"BODY[HEADER]", 12 }, { (const uint8_t *)"BODY[TEXT]", 10 },
};
static const uint64_t fetch_sizes[] = { 100, 2000 }, fetch_nil[] = { FACT_NONE };
static const struct buf_slice fetch_values[2];
static const struct fetch_facts fetches[] = {
	{ .seq = 1, .uid = FACT_NONE, .n_sections = 1, .sections = &fetch_sections[0],
	  .section_sizes = &fetch_sizes[0], .section_values = fetch_values },
	{ .seq = 1, .uid = 7, .n_sections = 1, .sections = &fetch_sections[1],
	  .section_sizes = &fetch_sizes[1], .section_values = fetch_values },
	{ .seq = 2, .uid = FACT_NONE, .n_sections = 2, .sections = fetch_sections,
	  .section_sizes = fetch_sizes, .section_values = fetch_values },
	{ .seq = 3, .uid = FACT_NONE },
	{ .seq = 4, .uid = FACT_NONE, .n_sections = 1, .sections = fetch_sections,
	  .section_sizes = fetch_nil, .section_values = fetch_values },
};

static void test_summary_session_fields(void **state)
{
	static struct script sc;
	static const struct session_summary sum = {
		.commands = 7, .bytes_c2s = 300, .bytes_s2c = 9000, .wire_bytes_c2s = 350,
		.wire_bytes_s2c = 9100, .gaps = 1, .gap_bytes = 40, .notices = 2,
		.literals_fetched = 3, .literals_appended = 1, .duration_us = 2500000,
	};
	struct json_object *o[4], *mb;
	struct event *e;
	size_t len, n;
	char *data;

	(void)state;
	sc.n = 0;
	add(&sc, EV_SESSION_START, 1, T0);
	command(&sc, 1, T0 + 10, "s1", "STARTTLS", "");
	response(&sc, 1, T0 + 20, "s1", "OK", "STARTTLS", 1.0);
	e = tls(&sc, 1, T0 + 30, "starttls");
	e->u.tls.version = "TLS 1.3";
	e->u.tls.reason = "no key for this session";
	command(&sc, 1, T0 + 40, "a1", "LOGIN", "bob ***");
	response(&sc, 1, T0 + 50, "a1", "NO", "LOGIN", 2.0);
	login(&sc, 1, T0 + 50, "bob", LOGIN_FAIL);
	command(&sc, 1, T0 + 60, "a2", "LOGIN", "alice ***");
	response(&sc, 1, T0 + 70, "a2", "OK", "LOGIN", 2.0);
	login(&sc, 1, T0 + 70, "alice", LOGIN_OK);
	command_mbox(&sc, 1, T0 + 80, "a3", "SELECT", "\"Sent \\\"Items\\\"\" (CONDSTORE)",
		     "Sent \"Items\"", 12);
	response(&sc, 1, T0 + 90, "a3", "OK", "SELECT", 1.0);
	command_mbox(&sc, 1, T0 + 100, "a4", "EXAMINE", "Nope", "Nope", 4);
	response(&sc, 1, T0 + 110, "a4", "NO", "EXAMINE", 1.0);
	command_mbox(&sc, 1, T0 + 120, "a5", "EXAMINE", "INBOX", "INBOX", 5);
	e = add(&sc, EV_UNTAGGED, 1, T0 + 125);
	e->u.untagged.name = S("EXISTS");
	/* a header and a body of message 1 are one message; 2 is another;
	 * FLAGS alone and a NIL section fetch nothing */
	for (size_t i = 0; i < sizeof fetches / sizeof fetches[0]; i++) {
		e = add(&sc, EV_UNTAGGED, 1, T0 + 126);
		e->u.untagged.name = S("FETCH");
		e->u.untagged.id = IMAP_R_FETCH;
		e->u.untagged.fetch = &fetches[i];
	}
	response(&sc, 1, T0 + 130, "a5", "OK", "EXAMINE", 1.0);
	command_mbox(&sc, 1, T0 + 140, "a6", "SELECT", "INBOX", "INBOX", 5);
	response(&sc, 1, T0 + 150, "a6", "BAD", "SELECT", 1.0);
	e = add(&sc, EV_COMPRESS, 1, T0 + 160);
	e->u.compress.algorithm = "DEFLATE";
	e = add(&sc, EV_GAP, 1, T0 + 170);
	e->u.gap.bytes = 40;
	session_end(&sc, 1, T0 + 2500000, &sum);
	data = run(&sc, true, &len);
	n = parse_lines(data, len, o, 4);
	assert_int_equal(n, 2);
	assert_int_equal(num(o[0], "session"), 1);
	assert_string_equal(str(o[0], "client"), "192.0.2.1:50000");
	assert_string_equal(str(o[0], "server"), "192.0.2.2:143");
	assert_string_equal(str(o[0], "end_reason"), "fin");
	assert_string_equal(str(o[0], "ts"), "2026-11-21T10:00:02.500000Z");
	assert_true(dbl(o[0], "duration_ms") == 2500.0);
	assert_string_equal(str(o[0], "user"), "alice");
	assert_int_equal(num(o[0], "logins.ok"), 1);
	assert_int_equal(num(o[0], "logins.fail"), 1);
	assert_string_equal(str(o[0], "transport"), "starttls");
	assert_false(json_object_get_boolean(get(o[0], "tls.decrypted")));
	assert_string_equal(str(o[0], "tls.reason"), "no key for this session");
	assert_string_equal(str(o[0], "compression.algorithm"), "DEFLATE");
	mb = get(o[0], "mailboxes");
	assert_int_equal(json_object_array_length(mb), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(mb, 0)),
			    "Sent \"Items\"");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(mb, 1)), "INBOX");
	assert_int_equal(num(o[0], "selects"), 2);
	assert_int_equal(num(o[0], "commands"), 7);
	assert_int_equal(num(o[0], "commands_by_name.LOGIN"), 2);
	assert_int_equal(num(o[0], "commands_by_name.EXAMINE"), 2);
	assert_int_equal(num(o[0], "responses.OK"), 4);
	assert_int_equal(num(o[0], "responses.NO"), 2);
	assert_int_equal(num(o[0], "responses.BAD"), 1);
	assert_int_equal(num(o[0], "untagged"), 6);
	assert_int_equal(num(o[0], "bytes_c2s"), 300);
	assert_int_equal(num(o[0], "bytes_s2c"), 9000);
	assert_int_equal(num(o[0], "messages_fetched"), 2);	/* not the 3 literals */
	assert_int_equal(num(o[0], "messages_appended"), 1);
	assert_int_equal(num(o[0], "gaps"), 1);
	assert_int_equal(num(o[0], "gap_bytes"), 40);
	assert_int_equal(num(o[0], "notices"), 2);
	assert_int_equal(num(o[0], "latency.LOGIN.count"), 2);
	assert_int_equal(num(o[1], "tls.sessions"), 1);
	assert_int_equal(num(o[1], "tls.not_decrypted"), 1);
	assert_int_equal(num(o[1], "tls.reasons.no key for this session"), 1);
	put_all(o, n);
	free(data);
}

/* Three sessions, interleaved, from two clients: capture totals. */
static void test_summary_capture(void **state)
{
	static struct script sc;
	static const struct session_summary sum = { .bytes_c2s = 10, .bytes_s2c = 90 };
	struct json_object *o[8], *busy;
	struct event *e;
	size_t len, n;
	char *data;

	(void)state;
	sc.n = 0;
	add(&sc, EV_SESSION_START, 1, T0);
	add(&sc, EV_SESSION_START, 2, T0 + 1);
	e = tls(&sc, 2, T0 + 2, "implicit");
	e->u.tls.decrypted = true;
	add(&sc, EV_SESSION_START, 3, T0 + 3);
	e = tls(&sc, 3, T0 + 4, "starttls");
	e->u.tls.reason = "no key";
	login(&sc, 1, T0 + 5, "alice", LOGIN_OK);
	login(&sc, 2, T0 + 6, "bob", LOGIN_FAIL);
	login(&sc, 3, T0 + 7, "alice", LOGIN_OK);
	command(&sc, 3, T0 + 8, "x", "NOOP", "");
	command(&sc, 3, T0 + 9, "y", "NOOP", "");
	session_end(&sc, 2, T0 + 10, &sum);
	session_end(&sc, 1, T0 + 11, &sum);
	session_end(&sc, 3, T0 + 12, &sum);
	data = run(&sc, true, &len);
	n = parse_lines(data, len, o, 8);
	assert_int_equal(n, 4);
	assert_int_equal(num(o[0], "session"), 2);	/* in order of ending */
	assert_string_equal(str(o[0], "transport"), "implicit_tls");
	assert_int_equal(num(o[3], "session"), 0);
	assert_int_equal(num(o[3], "sessions"), 3);
	assert_int_equal(num(o[3], "sessions_ended"), 3);
	assert_int_equal(num(o[3], "clients"), 2);
	assert_int_equal(num(o[3], "servers"), 1);
	assert_int_equal(num(o[3], "users"), 2);
	assert_int_equal(num(o[3], "logins.ok"), 2);
	assert_int_equal(num(o[3], "transport.plain"), 1);
	assert_int_equal(num(o[3], "transport.starttls"), 1);
	assert_int_equal(num(o[3], "transport.implicit_tls"), 1);
	assert_int_equal(num(o[3], "tls.sessions"), 2);
	assert_int_equal(num(o[3], "tls.decrypted"), 1);
	assert_int_equal(num(o[3], "tls.reasons.no key"), 1);
	assert_int_equal(num(o[3], "bytes_s2c"), 270);
	assert_null(json_object_get_string(get(o[3], "error_rate")));
	busy = get(o[3], "busiest_clients");
	assert_int_equal(json_object_array_length(busy), 2);
	assert_string_equal(str(json_object_array_get_idx(busy, 0), "client"), "192.0.2.1");
	assert_int_equal(num(json_object_array_get_idx(busy, 0), "sessions"), 2);
	assert_int_equal(num(json_object_array_get_idx(busy, 0), "commands"), 2);
	assert_int_equal(num(json_object_array_get_idx(busy, 0), "bytes"), 200);
	assert_string_equal(str(json_object_array_get_idx(busy, 1), "client"), "2001:db8::7");
	put_all(o, n);
	free(data);
}

/* Text: readable blocks, hostile bytes escaped. */
static void test_summary_text(void **state)
{
	static struct script sc;
	size_t len;
	char *data;

	(void)state;
	sc.n = 0;
	add(&sc, EV_SESSION_START, 1, T0);
	login(&sc, 1, T0 + 5, "ev\x1bil", LOGIN_OK);
	command_mbox(&sc, 1, T0 + 6, "a", "SELECT", "INBOX", "INBOX", 5);
	response(&sc, 1, T0 + 7, "a", "OK", "SELECT", 1.25);
	session_end(&sc, 1, T0 + 1000000, NULL);
	data = run(&sc, false, &len);
	assert_null(memchr(data, '\x1b', len));
	assert_non_null(strstr(data, "session #1  192.0.2.1:50000 -> 192.0.2.2:143  (fin)"));
	assert_non_null(strstr(data, "ev\\x1bil"));
	assert_non_null(strstr(data, "mailboxes    INBOX  (1 selected)"));
	assert_non_null(strstr(data, "SELECT           n=1  p50 1.250 ms  p95 1.250 ms  max 1.250 ms"));
	assert_non_null(strstr(data, "\ncapture\n"));
	free(data);
}

/* Many sessions that each end: state is freed as they go (ASan checks),
 * and command names past the cap share one entry. */
static void test_summary_many(void **state)
{
	static struct script sc;
	static char names[SUMMARY_CMDS_MAX + 10][16];
	struct json_object **o = calloc(600, sizeof *o);
	size_t len, n, i;
	char *data;

	(void)state;
	assert_non_null(o);
	sc.n = 0;
	add(&sc, EV_SESSION_START, 1, T0);
	for (i = 0; i < SUMMARY_CMDS_MAX + 10; i++) {
		snprintf(names[i], sizeof names[i], "X%zu", i);
		command(&sc, 1, T0 + (int64_t)i, "t", names[i], "");
	}
	session_end(&sc, 1, T0 + 1000, NULL);
	for (i = 2; i < 500; i++) {
		add(&sc, EV_SESSION_START, i, T0 + 2000 + (int64_t)i);
		session_end(&sc, i, T0 + 2000 + (int64_t)i, NULL);
	}
	data = run(&sc, true, &len);
	n = parse_lines(data, len, o, 600);
	assert_int_equal(n, 500);
	assert_int_equal(json_object_object_length(get(o[0], "commands_by_name")),
			 SUMMARY_CMDS_MAX + 1);
	assert_int_equal(num(o[0], "commands_by_name.X63"), 1);
	assert_int_equal(num(o[0], "commands_by_name.(other)"), 10);
	assert_int_equal(num(o[499], "sessions"), 499);
	assert_int_equal(num(o[499], "clients"), 2);
	put_all(o, n);
	free(o);
	free(data);
}

/* The mailboxes come from the session's facts, decoded, never from the
 * command's text: a literal ("{5+}" in the args) lists its contents, a
 * modified UTF-7 name its UTF-8; an OK that completes no captured command
 * lists nothing; a name is cut at SUMMARY_MAILBOX_MAX bytes; one the
 * session could not keep is counted, not listed as "". */
static void test_summary_mailbox_facts(void **state)
{
	static struct script sc;
	static char longname[SUMMARY_MAILBOX_MAX + 10];
	static const char utf8[] = "Entw\xc3\xbcrfe";
	struct json_object *o[4], *mb;
	size_t len, n;
	char *data;

	(void)state;
	memset(longname, 'x', sizeof longname);
	sc.n = 0;
	add(&sc, EV_SESSION_START, 1, T0);
	command_mbox(&sc, 1, T0 + 1, "a2", "SELECT", "{5+}", "INBOX", 5);
	response(&sc, 1, T0 + 2, "a2", "OK", "SELECT", 1.0);
	command_mbox(&sc, 1, T0 + 3, "a3", "EXAMINE", "Entw&APw-rfe", utf8, sizeof utf8 - 1);
	response(&sc, 1, T0 + 4, "a3", "OK", "EXAMINE", 1.0);
	response(&sc, 1, T0 + 5, "zz", "OK", "", -1);	/* answers nothing captured */
	command_mbox(&sc, 1, T0 + 6, "a4", "SELECT", "{300}", longname, sizeof longname);
	response(&sc, 1, T0 + 7, "a4", "OK", "SELECT", 1.0);
	/* the session kept the id but not the name (out of memory) */
	command(&sc, 1, T0 + 8, "a5", "SELECT", "Kept");
	response(&sc, 1, T0 + 9, "a5", "OK", "SELECT", 1.0);
	session_end(&sc, 1, T0 + 10, NULL);
	data = run(&sc, true, &len);
	n = parse_lines(data, len, o, 4);
	assert_int_equal(n, 2);
	mb = get(o[0], "mailboxes");
	assert_int_equal(json_object_array_length(mb), 3);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(mb, 0)), "INBOX");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(mb, 1)), utf8);
	assert_int_equal(strlen(json_object_get_string(json_object_array_get_idx(mb, 2))),
			 SUMMARY_MAILBOX_MAX);
	assert_int_equal(num(o[0], "selects"), 4);
	put_all(o, n);
	free(data);
	data = run(&sc, false, &len);
	assert_non_null(strstr(data, "mailboxes    INBOX, Entw\xc3\xbcrfe, xxx"));
	assert_null(strstr(data, "{5+}"));
	free(data);
}

/* Responses are counted by the status the session identified, not by
 * the text (here left out). */
static void test_summary_status_ids(void **state)
{
	static struct script sc;
	struct json_object *o[4];
	size_t len, n;
	char *data;

	(void)state;
	sc.n = 0;
	add(&sc, EV_SESSION_START, 1, T0);
	command(&sc, 1, T0 + 1, "a1", "NOOP", "");
	response(&sc, 1, T0 + 2, "a1", "OK", "NOOP", 1.0);
	command(&sc, 1, T0 + 3, "a2", "NOOP", "");
	response(&sc, 1, T0 + 4, "a2", "NO", "NOOP", 1.0);
	command(&sc, 1, T0 + 5, "a3", "NOOP", "");
	response(&sc, 1, T0 + 6, "a3", "BAD", "NOOP", 1.0);
	for (size_t i = 0; i < sc.n; i++)
		if (sc.ev[i].type == EV_RESPONSE)
			sc.ev[i].u.response.status = SLICE_NULL;
	session_end(&sc, 1, T0 + 8, NULL);
	data = run(&sc, true, &len);
	n = parse_lines(data, len, o, 4);
	assert_int_equal(n, 2);
	assert_int_equal(num(o[0], "responses.OK"), 1);
	assert_int_equal(num(o[0], "responses.NO"), 1);
	assert_int_equal(num(o[0], "responses.BAD"), 1);
	assert_int_equal(num(o[0], "commands_by_name.NOOP"), 3);
	put_all(o, n);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summary_percentiles_exact),
		cmocka_unit_test(test_summary_percentiles_histogram),
		cmocka_unit_test(test_summary_session_fields),
		cmocka_unit_test(test_summary_capture),
		cmocka_unit_test(test_summary_text),
		cmocka_unit_test(test_summary_many),
		cmocka_unit_test(test_summary_budget),
		cmocka_unit_test(test_summary_mailbox_facts),
		cmocka_unit_test(test_summary_status_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
