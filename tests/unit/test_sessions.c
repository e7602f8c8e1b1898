/* --sessions: scripted events in, rows out: the counts from session_end,
 * the user and TLS from their events, sorting, cutting, the budget. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/sessions.h"

#define S(lit) ((struct buf_slice){ (const uint8_t *)(lit), sizeof(lit) - 1 })
#define T0 1795255200000000LL	/* 2026-11-21T10:00:00Z */

struct fx {
	FILE *fp;
	char *text;
	size_t len;
	struct output out;
	struct session_facts facts;
};

static void fx_open(struct fx *x, bool json, enum sessions_col sort, struct mem_budget *mb)
{
	memset(x, 0, sizeof *x);
	x->fp = open_memstream(&x->text, &x->len);
	assert_non_null(x->fp);
	assert_int_equal(output_sessions_new(&x->out, x->fp, json, sort, mb), 0);
}

static const char *fx_close(struct fx *x)
{
	assert_int_equal(x->out.ops->finish(x->out.ctx), 0);
	x->out.ops->free(x->out.ctx);
	fclose(x->fp);
	return x->text;
}

static struct event ev_of(struct fx *x, enum event_type t, uint64_t sess, int64_t ts)
{
	struct event ev = { .type = t, .ts_us = ts, .session = sess, .facts = &x->facts,
			    .client = "192.0.2.1:50000", .server = "192.0.2.2:143" };

	return ev;
}

/* One session: start, optional TLS and login, end with these counts. */
static void session(struct fx *x, uint64_t id, int64_t start, const char *user, bool ok,
		    const char *tls, bool decrypted, uint64_t commands, uint64_t bytes)
{
	struct session_summary sum = { .commands = commands, .responses_no = id,
				       .responses_bad = 1, .bytes_c2s = bytes, .bytes_s2c = 2 * bytes,
				       .gaps = id == 3, .gap_bytes = id == 3 ? 100 : 0,
				       .duration_us = 1000000 * (int64_t)id };
	struct event ev = ev_of(x, EV_SESSION_START, id, start);

	memset(&x->facts, 0, sizeof x->facts);
	x->out.ops->event(x->out.ctx, &ev);
	if (tls != NULL) {
		x->facts.transport = TRANSPORT_STARTTLS;
		ev = ev_of(x, EV_TLS, id, start + 1);
		ev.u.tls.version = tls;
		ev.u.tls.decrypted = decrypted;
		x->out.ops->event(x->out.ctx, &ev);
	}
	if (user != NULL) {
		ev = ev_of(x, EV_LOGIN, id, start + 2);
		ev.u.login.user = (struct buf_slice){ (const uint8_t *)user, strlen(user) };
		ev.u.login.result = ok ? LOGIN_OK : LOGIN_FAIL;
		x->out.ops->event(x->out.ctx, &ev);
	}
	ev = ev_of(x, EV_SESSION_END, id, start + 3);
	ev.u.end.reason = END_FIN;
	ev.u.end.summary = &sum;
	x->out.ops->event(x->out.ctx, &ev);
}

static void test_text(void **state)
{
	struct fx x;

	(void)state;
	fx_open(&x, false, SESSIONS_COL_ID, NULL);
	session(&x, 1, T0, "alice", true, NULL, false, 12, 1500);
	session(&x, 2, T0 + 5000000, "a-very-long-user-name@example.com", false, "TLS 1.3",
		false, 3, 200);
	assert_string_equal(fx_close(&x),
		"  ID START       DUR CLIENT                SERVER                USER      "
		"TRANSPORT     Z CMD NO BAD  C2S  S2C GAP NOTE\n"
		"   1 10:00:00 1.000s 192.0.2.1:50000       192.0.2.2:143         alice     "
		"plain            12  1   1 1.5K 2.9K   0    0\n"
		"   2 10:00:05 2.000s 192.0.2.1:50000       192.0.2.2:143         a-very-l\xe2\x80\xa6 "
		"starttls 1.3*     3  2   1  200  400   0    0\n"
		"(*: TLS not decrypted)\n");
	free(x.text);
}

/* The user that logged in wins over later failures; JSON has it whole. */
static void test_json_user(void **state)
{
	struct fx x;
	struct event ev;

	(void)state;
	fx_open(&x, true, SESSIONS_COL_ID, NULL);
	ev = ev_of(&x, EV_SESSION_START, 4, T0);
	x.out.ops->event(x.out.ctx, &ev);
	ev = ev_of(&x, EV_LOGIN, 4, T0 + 1);
	ev.u.login.user = S("a-very-long-user-name@example.com");
	ev.u.login.result = LOGIN_OK;
	x.out.ops->event(x.out.ctx, &ev);
	ev = ev_of(&x, EV_LOGIN, 4, T0 + 2);
	ev.u.login.user = S("mallory");
	ev.u.login.result = LOGIN_FAIL;
	x.out.ops->event(x.out.ctx, &ev);
	/* no session_end: the run ended first */
	assert_string_equal(fx_close(&x),
		"{\"v\":2,\"ts\":\"2026-11-21T10:00:00.000000Z\",\"session\":4,\"type\":\"session\","
		"\"start\":\"2026-11-21T10:00:00.000000Z\",\"end\":\"2026-11-21T10:00:00.000002Z\","
		"\"duration_ms\":0.002,\"end_reason\":null,\"client\":\"192.0.2.1:50000\","
		"\"server\":\"192.0.2.2:143\",\"mid_stream\":false,"
		"\"user\":\"a-very-long-user-name@example.com\",\"logged_in\":true,"
		"\"transport\":\"plain\",\"tls\":null,\"compressed\":false,\"commands\":null,"
		"\"no\":null,\"bad\":null,\"bytes_c2s\":null,\"bytes_s2c\":null,\"gaps\":null,"
		"\"gap_bytes\":null,\"notices\":null}\n");
	free(x.text);
}

static void ids(const char *text, uint64_t *out, size_t n)
{
	const char *p = text;

	for (size_t i = 0; i < n; i++) {
		p = strstr(p, "\"session\":");
		assert_non_null(p);
		p += strlen("\"session\":");
		out[i] = strtoull(p, NULL, 10);
	}
}

static void test_sort(void **state)
{
	static const struct {
		const char *col;
		uint64_t want[3];
	} cases[] = {
		{ "id", { 1, 2, 3 } }, { "bytes", { 2, 3, 1 } }, { "commands", { 3, 1, 2 } },
		{ "duration", { 3, 2, 1 } }, { "start", { 3, 1, 2 } }, { "user", { 2, 3, 1 } },
		{ "gaps", { 3, 1, 2 } }, { "bad", { 1, 2, 3 } },
	};

	(void)state;
	assert_int_equal(sessions_col_parse("nope"), -1);
	assert_non_null(strstr(sessions_col_names(), "bytes_c2s, bytes_s2c, bytes, gaps, notices"));
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fx x;
		uint64_t got[3];
		int col = sessions_col_parse(cases[i].col);

		assert_true(col >= 0);
		fx_open(&x, true, (enum sessions_col)col, NULL);
		session(&x, 1, T0 + 10, NULL, false, NULL, false, 5, 10);
		session(&x, 2, T0 + 20, "alice", true, NULL, false, 1, 900);
		session(&x, 3, T0, "bob", true, NULL, false, 7, 50);
		ids(fx_close(&x), got, 3);
		for (int k = 0; k < 3; k++)
			assert_int_equal(got[k], cases[i].want[k]);
		free(x.text);
	}
}

/* A row the budget refuses is counted and said under the table. */
static void test_budget(void **state)
{
	struct mem_budget mb = { .limit = 2500 };
	struct fx x;

	(void)state;
	fx_open(&x, false, SESSIONS_COL_ID, &mb);
	session(&x, 1, T0, NULL, false, NULL, false, 1, 1);
	session(&x, 2, T0, NULL, false, NULL, false, 1, 1);
	session(&x, 3, T0, NULL, false, NULL, false, 1, 1);
	assert_non_null(strstr(fx_close(&x), "sessions not listed: --max-memory)\n"));
	assert_int_equal(mb.used, 0);
	free(x.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json_user),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
