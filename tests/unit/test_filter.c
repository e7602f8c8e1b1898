/* report/filter: --session, --host and --user agree for every output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "report/filter.h"

struct sink {
	int events;
	int finished, freed, flushed;
	uint64_t last_session;
};

static void sink_event(void *ctx, const struct event *ev)
{
	struct sink *s = ctx;

	s->events++;
	s->last_session = ev->session;
}

static int sink_finish(void *ctx)
{
	((struct sink *)ctx)->finished++;
	return 0;
}

static void sink_free(void *ctx)
{
	((struct sink *)ctx)->freed++;
}

static void sink_flush(void *ctx)
{
	((struct sink *)ctx)->flushed++;
}

static const struct output_ops sink_ops = { sink_event, sink_finish, sink_free, sink_flush };

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

static void test_session_and_host(void **state)
{
	struct filter_opts o = { .session = 0, .host = "2001:db8::1" };
	struct sink sk = { 0 };
	struct filter *f = filter_new(&o, (struct output){ &sink_ops, &sk });
	struct output out = filter_output(f);
	struct event a = ev_of(EV_COMMAND, 1, "192.0.2.1:5000", "192.0.2.2:143");
	struct event b = ev_of(EV_COMMAND, 2, "[2001:db8::10]:5000", "[2001:db8::1]:143");
	struct event c = ev_of(EV_COMMAND, 3, "[2001:db8::1]:5000", "[2001:db8::2]:143");

	(void)state;
	out.ops->event(out.ctx, &a);
	out.ops->event(out.ctx, &b);
	out.ops->event(out.ctx, &c);
	assert_int_equal(sk.events, 2);
	assert_false(filter_wants(f, 4, "[2001:db8::10]:1", "[2001:db8::11]:143"));
	/* a prefix of an address is not the address */
	assert_false(filter_wants(f, 5, "[2001:db8::1f]:1", "192.0.2.9:143"));
	out.ops->flush(out.ctx);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	assert_int_equal(sk.flushed + sk.finished + sk.freed, 3);
	filter_free(&f);
	assert_null(f);

	o = (struct filter_opts){ .session = 7, .host = "192.0.2.1" };
	f = filter_new(&o, (struct output){ &sink_ops, &sk });
	assert_true(filter_wants(f, 7, "192.0.2.1:5000", "192.0.2.2:143"));
	assert_false(filter_wants(f, 7, "192.0.2.10:5000", "192.0.2.2:143"));
	assert_false(filter_wants(f, 8, "192.0.2.1:5000", "192.0.2.2:143"));
	assert_false(filter_wants_id(f, 8));
	filter_free(&f);
}

static void test_user_prepass(void **state)
{
	struct filter_opts o = { .user = "alice" };
	struct sink sk = { 0 };
	struct filter *f = filter_new(&o, (struct output){ &sink_ops, &sk });
	struct output col = filter_collector(f);
	struct event l;
	static const uint64_t order[] = { 9, 3, 5, 3 };	/* logins end out of order */
	size_t i;

	(void)state;
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
	assert_int_equal(sk.events, 0);	/* the pre-pass writes nothing */
	for (i = 1; i <= 10; i++)
		assert_int_equal(filter_wants_id(f, i), i == 3 || i == 5 || i == 9);
	filter_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_and_host),
		cmocka_unit_test(test_user_prepass),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
