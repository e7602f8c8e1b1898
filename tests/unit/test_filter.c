/* report/filter: --session, --host and --user agree for every output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "report/filter.h"

static struct event ev_of(enum event_type t, uint64_t session, const char *client,
			  const char *server)
{
	struct event ev;

	memset(&ev, 0, sizeof ev);
	ev.type = t;
	ev.session = session;
	ev.client = client;
	ev.server = server;
	return ev;
}

static struct filter_opts opts_of(const char *sessions, const char *host)
{
	struct filter_opts o;

	memset(&o, 0, sizeof o);
	if (sessions != NULL)
		assert_int_equal(filter_opts_add_sessions(&o, sessions), 0);
	if (host != NULL)
		assert_int_equal(filter_opts_set_host(&o, host), 0);
	return o;
}

static void test_session_and_host(void **state)
{
	struct filter_opts o = opts_of(NULL, "2001:db8::1");
	struct filter *f = filter_new(&o);

	(void)state;
	assert_false(filter_wants(f, 1, "192.0.2.1:5000", "192.0.2.2:143"));
	assert_true(filter_wants(f, 2, "[2001:db8::10]:5000", "[2001:db8::1]:143"));
	assert_true(filter_wants(f, 3, "[2001:db8::1]:5000", "[2001:db8::2]:143"));
	assert_false(filter_wants(f, 4, "[2001:db8::10]:1", "[2001:db8::11]:143"));
	/* a prefix of an address is not the address */
	assert_false(filter_wants(f, 5, "[2001:db8::1f]:1", "192.0.2.9:143"));
	filter_free(&f);
	assert_null(f);

	o = opts_of("7", "192.0.2.1");
	f = filter_new(&o);
	assert_true(filter_wants(f, 7, "192.0.2.1:5000", "192.0.2.2:143"));
	assert_false(filter_wants(f, 7, "192.0.2.10:5000", "192.0.2.2:143"));
	assert_false(filter_wants(f, 8, "192.0.2.1:5000", "192.0.2.2:143"));
	filter_free(&f);
}

/* --session 2 --session 3 keeps both; lists; what is refused. */
static void test_session_list(void **state)
{
	static const char *const bad[] = {
		"0", "x", "", "1,", ",1", "1,,2", "-1", "+1", "1 2", " 1", "1x", "0x10",
		"18446744073709551616", "2,0",
	};
	struct filter_opts o;
	struct filter *f;
	char many[16];
	size_t i;

	(void)state;
	memset(&o, 0, sizeof o);
	assert_int_equal(filter_opts_add_sessions(&o, "3"), 0);
	assert_int_equal(filter_opts_add_sessions(&o, "2"), 0);
	assert_int_equal(filter_opts_add_sessions(&o, "9,5,3"), 0);
	assert_int_equal(o.n_sessions, 4);	/* 3 once */
	assert_true(filter_opts_active(&o));
	f = filter_new(&o);
	for (i = 1; i <= 10; i++)
		assert_int_equal(filter_wants(f, i, "192.0.2.1:1", "192.0.2.2:143"),
				 i == 2 || i == 3 || i == 5 || i == 9);
	filter_free(&f);
	assert_int_equal(filter_opts_add_sessions(&o, "18446744073709551615"), 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&o, 0, sizeof o);
		if (filter_opts_add_sessions(&o, bad[i]) != -1)
			fail_msg("--session '%s' was accepted", bad[i]);
	}
	memset(&o, 0, sizeof o);
	assert_false(filter_opts_active(&o));
	for (i = 1; i <= FILTER_MAX_SESSIONS; i++) {
		snprintf(many, sizeof many, "%zu", i);
		assert_int_equal(filter_opts_add_sessions(&o, many), 0);
	}
	assert_int_equal(filter_opts_add_sessions(&o, "1"), 0);	/* already there */
	assert_int_equal(filter_opts_add_sessions(&o, "99999"), -1);
}

/* --host takes every form the tool prints, and nothing else. */
static void test_host_forms(void **state)
{
	static const struct {
		const char *arg;
		const char *client, *server;
		bool match;
	} cases[] = {
		{ "[::1]", "[::1]:56300", "[::1]:143", true },
		{ "[::1]:143", "[::1]:56300", "[::1]:143", true },
		{ "[::1]:144", "[::1]:56300", "[::1]:143", false },
		{ "::1", "[::1]:56300", "[::1]:143", true },
		{ "0:0:0:0:0:0:0:1", "[::1]:56300", "[::1]:143", true },
		{ "[2001:DB8::1]", "[2001:db8::1]:5", "192.0.2.2:143", true },
		{ "::1", "127.0.0.1:5", "127.0.0.1:143", false },
		{ "127.0.0.1", "127.0.0.1:33354", "127.0.0.1:143", true },
		{ "127.0.0.1:33354", "127.0.0.1:33354", "127.0.0.1:143", true },
		{ "127.0.0.1:3335", "127.0.0.1:33354", "127.0.0.1:143", false },
		{ "127.0.0.1:143", "127.0.0.1:33354", "127.0.0.1:143", true },
		{ "127.0.0.10", "127.0.0.1:33354", "127.0.0.1:143", false },
		{ "127.0.0.1", "127.0.0.10:1", "127.0.0.11:143", false },
		{ "[127.0.0.1]:143", "127.0.0.1:1", "127.0.0.1:143", true },
	};
	static const char *const bad[] = {
		"", "foo", "mail.example.com", "[::1", "[::1]143", "[::1]:", "[::1]:0",
		"[::1]:65536", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:x", "1.2.3", "1.2.3.4.5",
		"::1:143x", "[]", "[::1]:143:1",
	};
	struct filter_opts o;
	struct filter *f;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&o, 0, sizeof o);
		if (filter_opts_set_host(&o, cases[i].arg) != 0)
			fail_msg("--host '%s' was refused", cases[i].arg);
		f = filter_new(&o);
		if (filter_wants(f, 1, cases[i].client, cases[i].server) != cases[i].match)
			fail_msg("--host '%s' against %s -> %s", cases[i].arg, cases[i].client,
				 cases[i].server);
		filter_free(&f);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&o, 0, sizeof o);
		if (filter_opts_set_host(&o, bad[i]) != -1)
			fail_msg("--host '%s' was accepted", bad[i]);
	}
}

static void test_user_prepass(void **state)
{
	struct filter_opts o = opts_of(NULL, NULL);
	struct filter *f;
	struct output col;
	struct event l;
	static const uint64_t order[] = { 9, 3, 5, 3 };	/* logins end out of order */
	size_t i;

	(void)state;
	o.user = "alice";
	f = filter_new(&o);
	col = filter_collector(f);
	for (i = 0; i < 4; i++) {
		l = ev_of(EV_LOGIN, order[i], "192.0.2.1:1", "192.0.2.2:143");
		l.u.login.user = (struct buf_slice){ (const uint8_t *)"alice", 5 };
		col.ops->event(col.ctx, &l);
	}
	l = ev_of(EV_LOGIN, 4, "192.0.2.1:1", "192.0.2.2:143");
	l.u.login.user = (struct buf_slice){ (const uint8_t *)"alicex", 6 };
	col.ops->event(col.ctx, &l);
	l.session = 6;
	l.u.login.user = (struct buf_slice){ NULL, 0 };
	col.ops->event(col.ctx, &l);
	assert_int_equal(col.ops->finish(col.ctx), 0);
	for (i = 1; i <= 10; i++)
		assert_int_equal(filter_wants(f, i, "192.0.2.1:1", "192.0.2.2:143"),
				 i == 3 || i == 5 || i == 9);
	filter_free(&f);
}

/* The --user list of sessions is charged to the run's budget: it grows
 * within it, gives it all back when freed, and one that the budget stops
 * from growing makes the --user pre-pass say it lost sessions. */
static void test_lists_charged(void **state)
{
	struct filter_opts o;
	struct mem_budget mb;
	struct filter *f;
	struct output col;
	struct event l;
	uint64_t i;

	(void)state;
	/* room for the first 16 ids and no more */
	o = opts_of(NULL, NULL);
	o.user = "alice";
	mb = (struct mem_budget){ .limit = 16 * sizeof(uint64_t) };
	f = filter_new(&o);
	filter_set_budget(f, &mb);
	col = filter_collector(f);
	for (i = 1; i <= 20; i++) {
		l = ev_of(EV_LOGIN, i, "192.0.2.1:1", "192.0.2.2:143");
		l.u.login.user = (struct buf_slice){ (const uint8_t *)"alice", 5 };
		col.ops->event(col.ctx, &l);
	}
	assert_int_equal(col.ops->finish(col.ctx), -1);
	assert_true(mb.refused > 0);
	assert_true(mb.used <= mb.limit);
	assert_true(filter_wants(f, 16, "192.0.2.1:1", "192.0.2.2:143"));
	filter_free(&f);
	assert_int_equal(mb.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_and_host),
		cmocka_unit_test(test_session_list),
		cmocka_unit_test(test_host_forms),
		cmocka_unit_test(test_user_prepass),
		cmocka_unit_test(test_lists_charged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
