/* app/run: the wiring, with the run's own sinks: the filter decides once
 * per session, a session's notices become its events and reach the one
 * listener, hidden sessions' notices are counted but make no event. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/run.h"

#define MAX_HEARD 64

struct seen {
	uint64_t events, starts, by_session[4];
	uint64_t notice_events[4];		/* EV_NOTICE by session */
	enum notice_kind event_kind[4];		/* the last one's kind */
	int heard;
	struct notice notice[MAX_HEARD];	/* texts not kept */
	bool finished, freed;
};

static void s_event(void *ctx, const struct event *ev)
{
	struct seen *s = ctx;

	s->events++;
	if (ev->session < 4)
		s->by_session[ev->session]++;
	if (ev->type == EV_SESSION_START)
		s->starts++;
	if (ev->type == EV_NOTICE && ev->session < 4) {
		assert_int_equal(ev->u.notice.session, ev->session);
		s->notice_events[ev->session]++;
		s->event_kind[ev->session] = ev->u.notice.kind;
	}
}

static int s_finish(void *ctx)
{
	((struct seen *)ctx)->finished = true;
	return 0;
}

static void s_free(void *ctx)
{
	((struct seen *)ctx)->freed = true;
}

static const struct output_ops seen_ops = { .event = s_event, .finish = s_finish, .free = s_free };

static void s_notice(void *ctx, const struct notice *n)
{
	struct seen *s = ctx;

	assert_non_null(n->text);
	if (s->heard < MAX_HEARD) {
		s->notice[s->heard] = *n;
		s->notice[s->heard++].text = NULL;
	}
}

static int heard(const struct seen *s, enum notice_kind k, uint64_t session)
{
	int i, n = 0;

	for (i = 0; i < s->heard; i++)
		n += s->notice[i].kind == k && s->notice[i].session == session;
	return n;
}

static struct run_options opt;	/* big: off the stack */

static int run_on(const char *path, struct seen *s, const char *sessions)
{
	struct mem_budget budget = { 0 };
	struct run_sinks sinks = {
		.out = { &seen_ops, s }, .budget = &budget, .notice = s_notice, .notice_ctx = s,
	};
	int rc;

	memset(s, 0, sizeof *s);
	run_options_defaults(&opt);
	opt.inputs[opt.n_inputs++] = path;
	opt.quiet = true;
	if (sessions != NULL)
		assert_int_equal(filter_opts_add_sessions(&opt.only, sessions), 0);
	rc = run_main(&opt, &sinks);
	assert_true(s->finished && s->freed);
	assert_int_equal(budget.used, 0);	/* every charge given back */
	return rc;
}

/* A notice of the flow layer about a session: an event of that session,
 * and the same notice (kind, session) at the listener. */
static void test_session_notice_is_event(void **state)
{
	struct seen s;

	(void)state;
	assert_int_equal(run_on("captures/cut-mid-session.pcap", &s, NULL), RUN_OK);
	assert_int_equal(s.starts, 1);
	assert_int_equal(heard(&s, NOTICE_MID_STREAM, 1), 1);
	assert_true(s.notice_events[1] >= 1);
}

/* --session 2: the filter is decided when the sessions open; only session
 * 2's events reach the output. */
static void test_filter_at_open(void **state)
{
	struct seen s;

	(void)state;
	assert_int_equal(run_on("captures/dual-stack.pcap", &s, "2"), RUN_OK);
	assert_int_equal(s.starts, 1);
	assert_int_equal(s.by_session[1], 0);
	assert_true(s.by_session[2] > 2);
	assert_int_equal(s.events, s.by_session[2]);
	assert_int_equal(heard(&s, NOTICE_FILTER_UNMATCHED, 0), 0);
}

/* A filter that keeps nothing: no event, one notice that says so. */
static void test_filter_unmatched(void **state)
{
	struct seen s;

	(void)state;
	assert_int_equal(run_on("captures/dual-stack.pcap", &s, "9"), RUN_OK);
	assert_int_equal(s.events, 0);
	assert_int_equal(heard(&s, NOTICE_FILTER_UNMATCHED, 0), 1);
}

/* A hidden session's notices are heard (counted) but make no event. */
static void test_hidden_session_notices(void **state)
{
	char path[512];
	const char *dir = getenv("PUBLIC");
	struct seen s;

	(void)state;
	snprintf(path, sizeof path, "%s/arkime-arkime_synthetic.pcap",
		 dir != NULL && dir[0] != '\0' ? dir : "../shared/captures/public");
	if (access(path, R_OK) != 0) {
		print_message("skip: %s is absent\n", path);
		return;
	}
	assert_int_equal(run_on(path, &s, "1"), RUN_OK);
	assert_int_equal(heard(&s, NOTICE_END_IN_LITERAL, 1), 1);
	assert_int_equal(s.notice_events[1], 1);
	assert_int_equal(s.event_kind[1], NOTICE_END_IN_LITERAL);
	assert_int_equal(run_on(path, &s, "2"), RUN_OK);
	assert_int_equal(heard(&s, NOTICE_END_IN_LITERAL, 1), 1);	/* still heard */
	assert_int_equal(s.by_session[1], 0);				/* no event */
	assert_true(s.by_session[2] > 0);
}

/* An input that is not there: the status of an unreadable input, no
 * output finished. */
static void test_missing_input(void **state)
{
	struct mem_budget budget = { 0 };
	struct seen s = { 0 };
	struct run_sinks sinks = { .out = { &seen_ops, &s }, .budget = &budget };

	(void)state;
	run_options_defaults(&opt);
	opt.inputs[opt.n_inputs++] = "captures/no-such-file.pcap";
	opt.quiet = true;
	assert_int_equal(run_main(&opt, &sinks), RUN_INPUT);
	assert_false(s.finished);
	assert_int_equal(s.events, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_notice_is_event),
		cmocka_unit_test(test_filter_at_open),
		cmocka_unit_test(test_filter_unmatched),
		cmocka_unit_test(test_hidden_session_notices),
		cmocka_unit_test(test_missing_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
