/* report/event_filter: --since, --until, --status, --command, --mailbox
 * as an event stage: what passes, in what order, and what --status holds
 * (copies, charged, capped, counted when dropped). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "report/event_filter.h"

#define S(lit) ((struct buf_slice){ (const uint8_t *)(lit), sizeof(lit) - 1 })
#define T0 1795255200000000LL	/* 2026-11-21T10:00:00Z */
#define SEC 1000000LL

/* What the sink saw: one word per event ("start1", "C:a1", "U:a1",
 * "+", "R:a1", "L:a1", "G", "end1"), space separated. */
struct sink {
	char seen[2048];
	int finished, freed;
};

static void sink_event(void *ctx, const struct event *ev)
{
	struct sink *s = ctx;
	size_t n = strlen(s->seen);
	const struct buf_slice *tag = NULL;
	const char *kind = "?";

	switch (ev->type) {
	case EV_SESSION_START:
		snprintf(s->seen + n, sizeof s->seen - n, "start%llu ",
			 (unsigned long long)ev->session);
		return;
	case EV_SESSION_END:
		snprintf(s->seen + n, sizeof s->seen - n, "end%llu ", (unsigned long long)ev->session);
		return;
	case EV_COMMAND: kind = "C"; tag = &ev->u.command.tag; break;
	case EV_UNTAGGED: kind = "U"; tag = &ev->u.untagged.tag; break;
	case EV_RESPONSE: kind = "R"; tag = &ev->u.response.tag; break;
	case EV_LOGIN: kind = "L"; tag = &ev->u.login.tag; break;
	case EV_CONTINUATION: kind = "+"; break;
	case EV_GREETING: kind = "G"; break;
	default: break;
	}
	snprintf(s->seen + n, sizeof s->seen - n, "%s%s%.*s ", kind, tag != NULL ? ":" : "",
		 tag != NULL ? (int)tag->len : 0, tag != NULL ? (const char *)tag->ptr : "");
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

static const struct output_ops sink_ops = {
	.event = sink_event, .finish = sink_finish, .free = sink_free, .facts = 3,
};

static struct session_facts no_facts, inbox_facts = { .mailbox = { (const uint8_t *)"INBOX", 5 } };
static struct command_facts cmd_facts;

static struct event ev_of(enum event_type t, uint64_t session, int64_t ts)
{
	struct event ev;

	memset(&ev, 0, sizeof ev);
	ev.type = t;
	ev.session = session;
	ev.ts_us = ts;
	ev.client = "192.0.2.1:5000";
	ev.server = "192.0.2.2:143";
	ev.facts = &no_facts;
	if (t == EV_COMMAND)
		ev.u.command.facts = &cmd_facts;
	return ev;
}

/* A script of one session: greeting, a LOGIN that fails (NO) with its
 * login event, a SELECT that succeeds, a UID FETCH with untagged lines,
 * a command with a "+" that gets BAD, a NOOP never answered. */
#define SCRIPT_MAX 32
struct script {
	struct event ev[SCRIPT_MAX];
	size_t n;
};

static struct event *add(struct script *sc, enum event_type t, int64_t ts)
{
	assert_true(sc->n < SCRIPT_MAX);
	sc->ev[sc->n] = ev_of(t, 1, ts);
	return &sc->ev[sc->n++];
}

static void cmd(struct script *sc, int64_t ts, const char *tag, const char *name)
{
	struct event *e = add(sc, EV_COMMAND, ts);

	e->u.command.tag = (struct buf_slice){ (const uint8_t *)tag, strlen(tag) };
	e->u.command.name = (struct buf_slice){ (const uint8_t *)name, strlen(name) };
	e->u.command.args = S("x y");
}

static void resp(struct script *sc, int64_t ts, const char *tag, enum imap_resp_id id,
		 const char *name)
{
	struct event *e = add(sc, EV_RESPONSE, ts);

	e->u.response.tag = (struct buf_slice){ (const uint8_t *)tag, strlen(tag) };
	e->u.response.id = id;
	e->u.response.command = (struct buf_slice){ (const uint8_t *)name, strlen(name) };
}

static void untagged(struct script *sc, int64_t ts, const char *tag)
{
	struct event *e = add(sc, EV_UNTAGGED, ts);

	e->u.untagged.name = S("FETCH");
	e->u.untagged.text = S("1 FETCH (FLAGS ())");
	if (tag != NULL)
		e->u.untagged.tag = (struct buf_slice){ (const uint8_t *)tag, strlen(tag) };
}

static void script_make(struct script *sc)
{
	struct event *e;

	sc->n = 0;
	add(sc, EV_SESSION_START, T0);
	add(sc, EV_GREETING, T0 + 1);
	cmd(sc, T0 + 2 * SEC, "a1", "LOGIN");
	resp(sc, T0 + 3 * SEC, "a1", IMAP_R_NO, "LOGIN");
	e = add(sc, EV_LOGIN, T0 + 2 * SEC);
	e->u.login.tag = S("a1");
	e->u.login.result = LOGIN_FAIL;
	cmd(sc, T0 + 4 * SEC, "a2", "SELECT");
	untagged(sc, T0 + 5 * SEC, "a2");
	resp(sc, T0 + 5 * SEC, "a2", IMAP_R_OK, "SELECT");
	sc->ev[sc->n - 1].facts = &inbox_facts;
	cmd(sc, T0 + 6 * SEC, "a3", "UID FETCH");
	sc->ev[sc->n - 1].facts = &inbox_facts;
	untagged(sc, T0 + 7 * SEC, "a3");
	sc->ev[sc->n - 1].facts = &inbox_facts;
	untagged(sc, T0 + 7 * SEC, NULL);	/* unsolicited */
	sc->ev[sc->n - 1].facts = &inbox_facts;
	resp(sc, T0 + 8 * SEC, "a3", IMAP_R_OK, "UID FETCH");
	sc->ev[sc->n - 1].facts = &inbox_facts;
	cmd(sc, T0 + 9 * SEC, "a4", "APPEND");
	e = add(sc, EV_CONTINUATION, T0 + 9 * SEC);
	e->u.continuation.dir = DIR_S2C;
	e->u.continuation.text = S("go ahead");
	resp(sc, T0 + 10 * SEC, "a4", IMAP_R_BAD, "APPEND");
	cmd(sc, T0 + 11 * SEC, "a5", "NOOP");	/* never answered */
	add(sc, EV_SESSION_END, T0 + 12 * SEC);
}

/* The script through a filter of opts; what the sink saw in s. */
static uint64_t run(const struct event_filter_opts *o, struct sink *s, struct mem_budget *mb)
{
	static struct script sc;
	struct event_filter *f;
	struct output out;
	uint64_t dropped;

	script_make(&sc);
	memset(s, 0, sizeof *s);
	f = event_filter_new(o, (struct output){ &sink_ops, s }, mb);
	assert_non_null(f);
	out = event_filter_output(f);
	assert_int_equal(out.ops->facts, 3);	/* the inner output's */
	for (size_t i = 0; i < sc.n; i++)
		out.ops->event(out.ctx, &sc.ev[i]);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	dropped = event_filter_dropped(f);
	out.ops->free(out.ctx);
	assert_int_equal(s->finished, 1);
	assert_int_equal(s->freed, 1);
	if (mb != NULL)
		assert_int_equal(mb->used, 0);
	return dropped;
}

static void test_opts(void **state)
{
	static const char *const bad_times[] = {
		"", "2026-11-21", "2026-11-21T10:00:00", "2026-13-01T00:00:00Z",
		"2026-11-21T24:00:00Z", "2026-11-21T10:00:00Zx", "+", "+5x", "+5ms", "-5s",
		"2026-11-21T10:00:00+1", "+99999999999999999", "+999999999999d", "+40000d",
	};
	struct event_filter_opts o;

	(void)state;
	memset(&o, 0, sizeof o);
	assert_false(event_filter_opts_active(&o));
	assert_int_equal(event_filter_opts_set_time(&o, false, "2026-11-21T10:00:00Z"), 0);
	assert_true(o.since_set && !o.since_rel);
	assert_int_equal(o.since_us, T0);
	assert_int_equal(event_filter_opts_set_time(&o, false, "2026-11-21 11:00:00.5+01:00"), 0);
	assert_int_equal(o.since_us, T0 + SEC / 2);
	assert_int_equal(event_filter_opts_set_time(&o, true, "2026-11-21t09:30:00-0030"), 0);
	assert_int_equal(o.until_us, T0);
	assert_int_equal(event_filter_opts_set_time(&o, true, "+2m"), 0);
	assert_true(o.until_rel);
	assert_int_equal(o.until_us, 120 * SEC);
	assert_int_equal(event_filter_opts_set_time(&o, true, "+90"), 0);
	assert_int_equal(o.until_us, 90 * SEC);
	assert_int_equal(event_filter_opts_set_time(&o, true, "1970-01-01T00:00:00Z"), 0);
	assert_int_equal(o.until_us, 0);
	for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++)
		if (event_filter_opts_set_time(&o, false, bad_times[i]) != -1)
			fail_msg("time '%s' was accepted", bad_times[i]);
	assert_int_equal(event_filter_opts_set_status(&o, "no,Bad"), 0);
	assert_int_equal(o.status, EVENT_FILTER_NO | EVENT_FILTER_BAD);
	assert_int_equal(event_filter_opts_set_status(&o, "NO,"), -1);
	assert_int_equal(event_filter_opts_set_status(&o, "FAIL"), -1);
	assert_int_equal(event_filter_opts_add_commands(&o, "fetch,STORE"), 0);
	assert_string_equal(o.commands[0], "FETCH");
	assert_int_equal(event_filter_opts_add_commands(&o, "a,,b"), -1);
	assert_int_equal(event_filter_opts_add_commands(&o, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"), -1);
	memset(&o, 0, sizeof o);
	for (int i = 0; i < EVENT_FILTER_MAX_COMMANDS; i++)
		assert_int_equal(event_filter_opts_add_commands(&o, "X"), 0);
	assert_int_equal(event_filter_opts_add_commands(&o, "X"), -1);
	assert_true(event_filter_opts_active(&o));
}

/* --since/--until, from the first event: the session's start comes just
 * before its first event kept, its end after; outside, nothing. */
static void test_time(void **state)
{
	struct event_filter_opts o;
	struct sink s;

	(void)state;
	memset(&o, 0, sizeof o);
	assert_int_equal(event_filter_opts_set_time(&o, false, "+4s"), 0);
	assert_int_equal(event_filter_opts_set_time(&o, true, "+5s"), 0);
	assert_int_equal(run(&o, &s, NULL), 0);
	assert_string_equal(s.seen, "start1 C:a2 U:a2 R:a2 end1 ");

	/* the login event has the time its command was sent */
	memset(&o, 0, sizeof o);
	assert_int_equal(event_filter_opts_set_time(&o, true, "2026-11-21T10:00:02Z"), 0);
	assert_int_equal(run(&o, &s, NULL), 0);
	assert_string_equal(s.seen, "start1 G C:a1 L:a1 end1 ");

	memset(&o, 0, sizeof o);
	assert_int_equal(event_filter_opts_set_time(&o, false, "+1d"), 0);
	assert_int_equal(run(&o, &s, NULL), 0);
	assert_string_equal(s.seen, "");	/* the session is left out whole */
}

/* --status: a command's events held until its completion; BAD keeps the
 * APPEND with its "+"; NO the LOGIN with its login event; OK neither;
 * the NOOP never answered is dropped and counted. */
static void test_status(void **state)
{
	struct event_filter_opts o;
	struct mem_budget mb = { .limit = SIZE_MAX };
	struct sink s;

	(void)state;
	memset(&o, 0, sizeof o);
	assert_int_equal(event_filter_opts_set_status(&o, "NO,BAD"), 0);
	assert_int_equal(run(&o, &s, &mb), 1);
	assert_string_equal(s.seen, "start1 C:a1 R:a1 L:a1 C:a4 + R:a4 end1 ");
	assert_true(mb.peak > 0);	/* the held copies were charged */

	assert_int_equal(event_filter_opts_set_status(&o, "OK"), 0);
	assert_int_equal(run(&o, &s, &mb), 1);
	assert_string_equal(s.seen, "start1 C:a2 U:a2 R:a2 C:a3 U:a3 R:a3 end1 ");

	/* the budget refuses every copy: those events are dropped, counted */
	mb = (struct mem_budget){ .limit = 1 };
	assert_int_equal(event_filter_opts_set_status(&o, "NO,BAD"), 0);
	assert_true(run(&o, &s, &mb) >= 4);
	assert_true(mb.refused > 0);
}

/* A held event is a copy: what it pointed to may change after the call. */
static void test_status_copies(void **state)
{
	struct event_filter_opts o;
	struct event_filter *f;
	struct output out;
	struct sink s;
	char tag[8] = "t1", args[16] = "1:* (FLAGS)";
	struct session_facts facts = { .user = { (const uint8_t *)"alice", 5 } };
	struct event c = ev_of(EV_COMMAND, 2, T0), r = ev_of(EV_RESPONSE, 2, T0 + 1);

	(void)state;
	memset(&o, 0, sizeof o);
	memset(&s, 0, sizeof s);
	assert_int_equal(event_filter_opts_set_status(&o, "NO"), 0);
	f = event_filter_new(&o, (struct output){ &sink_ops, &s }, NULL);
	out = event_filter_output(f);
	c.facts = &facts;
	c.u.command.tag = (struct buf_slice){ (const uint8_t *)tag, 2 };
	c.u.command.name = S("FETCH");
	c.u.command.args = (struct buf_slice){ (const uint8_t *)args, strlen(args) };
	out.ops->event(out.ctx, &c);
	assert_string_equal(s.seen, "");	/* held */
	memcpy(tag, "XX", 2);			/* the session's memory moves on */
	memcpy(args, "garbage....", 11);
	r.u.response.tag = S("t1");
	r.u.response.id = IMAP_R_NO;
	out.ops->event(out.ctx, &r);
	assert_string_equal(s.seen, "C:t1 R:t1 ");
	assert_int_equal(out.ops->finish(out.ctx), 0);
	assert_int_equal(event_filter_dropped(f), 0);
	out.ops->free(out.ctx);
}

/* --command FETCH: UID FETCH too, with its own untagged lines (not the
 * unsolicited one); --mailbox INBOX: the events while it is selected. */
static void test_command_mailbox(void **state)
{
	struct event_filter_opts o;
	struct sink s;

	(void)state;
	memset(&o, 0, sizeof o);
	assert_int_equal(event_filter_opts_add_commands(&o, "fetch"), 0);
	assert_int_equal(run(&o, &s, NULL), 0);
	assert_string_equal(s.seen, "start1 C:a3 U:a3 R:a3 end1 ");

	assert_int_equal(event_filter_opts_add_commands(&o, "LOGIN"), 0);
	assert_int_equal(run(&o, &s, NULL), 0);
	assert_string_equal(s.seen, "start1 C:a1 R:a1 L:a1 C:a3 U:a3 R:a3 end1 ");

	memset(&o, 0, sizeof o);
	o.mailbox = "inbox";
	assert_int_equal(run(&o, &s, NULL), 0);
	assert_string_equal(s.seen, "start1 R:a2 C:a3 U:a3 U: R:a3 end1 ");

	/* all must hold */
	assert_int_equal(event_filter_opts_set_status(&o, "NO"), 0);
	assert_int_equal(run(&o, &s, NULL), 0);
	assert_string_equal(s.seen, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_copies),
		cmocka_unit_test(test_command_mailbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
