/* Server lines seen before sync, in a capture picked up mid-stream.
 *
 * Until a server line answers a command we saw, the server side may be
 * inside a message body whose lines look like IMAP ("* 3 EXISTS",
 * "A552 OK FETCH completed"), so they are not shown at once.  But lines
 * that begin a TCP segment and parse cleanly are most likely what they seem
 * ("* 2 EXISTS" during an IDLE the capture came in on): such a run of lines
 * is held, and shown once it is confirmed, which is when
 *   - the next line finds sync (it answers a command we saw), or
 *   - the client sends a line: it acted on what the server said.
 * A line that is not a plausible response, carries a literal or was cut by
 * a gap breaks the run: a body line sits between, so the run may be body
 * text (a line inside a literal is never shown as a response).  A broken
 * run is counted with the other skipped lines.  A run still held when the
 * session ends, or when it reaches SESS_MAX_RUN_LINES, was never
 * confirmed nor broken: its lines are shown, marked unsynchronised, and
 * complete no command (a one-sided capture would show nothing else). */
#include <stdlib.h>
#include <string.h>

#include "imap_session_int.h"

#define RUN_LINES_INITIAL 4

void imap_resync_drop(struct imap_session *s)
{
	s->skipped_unanchored += s->run.n;
	s->run.n = 0;
	buf_free(&s->run.text);
}

void imap_resync_free(struct imap_session *s)
{
	buf_free(&s->run.text);
	if (s->run.lines != NULL)
		mem_release(s->cfg->budget, s->run.cap * sizeof *s->run.lines);
	free(s->run.lines);
	memset(&s->run, 0, sizeof s->run);
}

static bool run_grow(struct imap_session *s)
{
	struct sess_run *r = &s->run;
	struct sess_run_line *nl = mem_grow_array(s->cfg->budget, r->lines, &r->cap, sizeof *nl,
						  RUN_LINES_INITIAL, SESS_MAX_RUN_LINES);

	if (nl == NULL)
		return false;
	r->lines = nl;
	return true;
}

static bool run_add(struct imap_session *s, const struct imap_line *line)
{
	struct sess_run *r = &s->run;
	struct sess_run_line *l;

	if (r->n == r->cap && !run_grow(s))
		return false;
	l = &r->lines[r->n];
	l->off = r->text.len;
	l->len = line->text.len;
	l->ts_first = line->ts_first_us;
	l->ts_last = line->ts_last_us;
	l->frame_first = line->frame_first;
	l->frame_last = line->frame_last;
	if (buf_append(&r->text, line->text.ptr, line->text.len) != 0)
		return false;
	r->n++;
	return true;
}

/* A server line before sync that did not find it. */
void imap_resync_offer(struct imap_session *s, const struct imap_line *line, bool parsed)
{
	bool fits = parsed && !line->cut && line->n_lits == 0 &&
		    imap_line_plausible(DIR_S2C, line->text.ptr, line->text.len);

	if (fits && (s->run.n > 0 || line->at_boundary)) {
		if (run_add(s, line))
			return;
		if (s->run.n == SESS_MAX_RUN_LINES) {
			imap_resync_show_unconfirmed(s);
			if (run_add(s, line))	/* the run goes on */
				return;
		}
	}
	imap_resync_drop(s);
	s->skipped_unanchored++;
}

/* The held run is real: its lines are handled now, oldest first. */
void imap_resync_confirm(struct imap_session *s)
{
	struct sess_run *r = &s->run;

	for (size_t i = 0; i < r->n; i++) {
		struct imap_line line = {
			.dir = DIR_S2C,
			.text = { r->text.data + r->lines[i].off, r->lines[i].len },
			.ts_first_us = r->lines[i].ts_first,
			.ts_last_us = r->lines[i].ts_last,
			.frame_first = r->lines[i].frame_first,
			.frame_last = r->lines[i].frame_last,
		};

		imap_session_s2c_replay(s, &line);
	}
	r->n = 0;
	buf_free(&r->text);
}

/* The held run was never confirmed, and no body line broke it. */
void imap_resync_show_unconfirmed(struct imap_session *s)
{
	bool was = s->cur_unsync;

	s->run.shown_unsync += s->run.n;
	s->cur_unsync = true;
	imap_resync_confirm(s);
	s->cur_unsync = was;
}

/* found: a line found sync, else the session ended without it. */
void imap_resync_report(struct imap_session *s, bool found)
{
	unsigned long long skipped = s->skipped_unanchored, shown = s->run.shown_unsync;
	const char *when = found ? "before finding sync" : "sync never found";

	if (shown != 0 && skipped == 0)
		imap_session_notice(s, NOTICE_UNSYNCHRONISED, "%s: %llu server lines shown marked "
				    "unsynchronised", when, shown);
	else if (shown != 0)
		imap_session_notice(s, NOTICE_UNSYNCHRONISED, "%s: %llu server lines shown marked "
				    "unsynchronised, %llu skipped", when, shown, skipped);
	else if (found && skipped != 0)
		imap_session_notice(s, NOTICE_UNSYNCHRONISED, "skipped %llu server lines before finding sync",
				    skipped);
	else if (skipped != 0)
		imap_session_notice(s, NOTICE_UNSYNCHRONISED, "skipped %llu server lines: sync never found",
				    skipped);
}
