/* --summary: statistics per session and for the whole capture.
 *
 * The output: it hands each event to the session and capture counters, and
 * at a session's end (or the run's) writes it and folds it into the totals.
 * Layout of the module: summary_latency (exact, then histogram);
 * summary_tables (command tables, distinct-value sets); summary_session
 * (per-session state and the events counted); summary_capture (capture
 * totals from finished sessions); summary_json and summary_text (writers,
 * summary_render their shared formats).  See summary.h for the numbers'
 * definitions. */
#include "report/summary.h"

#include <stdlib.h>

#include "report/summary_render.h"
#include "report/summary_state.h"

/* ================= session end ================= */

static void summary_write_session(struct summary *sm, struct summary_session *s,
				  const char *reason, const struct session_summary *sum)
{
	int64_t duration_us = sum != NULL ? sum->duration_us : s->last_us - s->first_us;
	struct buf *b;

	if (!output_sink_live(&sm->sink))
		return;
	b = output_sink_begin(&sm->sink);
	output_sink_end(&sm->sink, sm->json ? summary_json_session(sm, b, s, reason, sum, duration_us)
					    : summary_text_session(sm, b, s, reason, sum, duration_us));
}

static void summary_end_session(struct summary *sm, size_t at, const char *reason,
				const struct session_summary *sum)
{
	struct summary_session *s = sm->live[at];

	summary_write_session(sm, s, reason, sum);
	summary_fold(sm, s, sum);
	summary_live_remove(sm, at);
	summary_session_free(s);
}

static void summary_event(void *ctx, const struct event *ev)
{
	struct summary *sm = ctx;
	struct summary_session *s = summary_session_get(sm, ev);
	bool found;

	if (!sm->any || ev->ts_us < sm->first_us)
		sm->first_us = ev->ts_us;
	if (!sm->any || ev->ts_us > sm->last_us)
		sm->last_us = ev->ts_us;
	sm->any = true;
	if (s == NULL)
		return;
	/* min and max, not first and last: a damaged or merged capture may
	 * deliver a session's events out of time order. */
	if (ev->ts_us < s->first_us)
		s->first_us = ev->ts_us;
	if (ev->ts_us > s->last_us)
		s->last_us = ev->ts_us;
	if (ev->changed & (FACT_MAILBOX | FACT_UIDVALIDITY))
		s->numbering++;
	switch (ev->type) {
	case EV_COMMAND:
		summary_on_command(sm, s, ev);
		break;
	case EV_RESPONSE:
		summary_on_response(sm, s, ev);
		break;
	case EV_LOGIN:
		summary_on_login(sm, s, ev);
		break;
	case EV_SESSION_END:
		sm->ended++;
		summary_end_session(sm, summary_live_index(sm, s->id, &found),
				    event_end_reason_name(ev->u.end.reason), ev->u.end.summary);
		break;
	default:
		summary_on_other(s, ev);
		break;
	}
}

/* ================= the output ================= */

static int summary_finish(void *ctx)
{
	struct summary *sm = ctx;

	/* Sessions without a session_end (a run cut short): still reported. */
	while (sm->n_live > 0)
		summary_end_session(sm, 0, NULL, NULL);
	if (output_sink_live(&sm->sink)) {
		struct buf *b = output_sink_begin(&sm->sink);

		output_sink_end(&sm->sink, sm->json ? summary_json_capture(sm, b)
						    : summary_text_capture(sm, b));
	}
	return output_sink_finish(&sm->sink);
}

static void summary_free(void *ctx)
{
	struct summary *sm = ctx;
	size_t i;

	if (sm == NULL)
		return;
	for (i = 0; i < sm->n_live; i++)
		summary_session_free(sm->live[i]);
	free(sm->live);
	mem_release(sm->budget, sm->cap_live * sizeof *sm->live);
	summary_cmds_free(&sm->cmds);
	summary_set_free(&sm->clients);
	summary_set_free(&sm->servers);
	summary_set_free(&sm->users);
	output_sink_free(&sm->sink);
	free(sm);
}

/* Live capture: out with every complete line now. */
static void summary_flush(void *ctx)
{
	struct summary *sm = ctx;

	/* a failed write is reported by finish */
	if (output_sink_finish(&sm->sink) != 0)
		return;
}

static const struct output_ops summary_ops = {
	.flush = summary_flush,
	.event = summary_event,
	.finish = summary_finish,
	.free = summary_free,
	.facts = IMAP_FACTS_FETCH,	/* messages fetched, by sequence number */
};

int output_summary_new(struct output *out_r, FILE *fp, bool json, struct mem_budget *budget)
{
	struct summary *sm = calloc(1, sizeof *sm);

	if (sm == NULL)
		return -1;
	output_sink_init(&sm->sink, fp);
	sm->json = json;
	sm->budget = budget;
	sm->cmds.budget = budget;
	sm->clients.budget = budget;
	sm->servers.budget = budget;
	sm->users.budget = budget;
	out_r->ops = &summary_ops;
	out_r->ctx = sm;
	return 0;
}
