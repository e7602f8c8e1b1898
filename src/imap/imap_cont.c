/* Server "+" lines (continuation requests): which command each answers, how
 * long that command waited for it, and where it is shown.
 *
 * A command with synchronising literals ("a1 APPEND INBOX {198}") is one
 * logical line that the lexer finishes only when its last literal is in, but
 * the server's "+" comes in between.  The command is reported when its line
 * is complete (so its args are whole) at the time its first byte was sent;
 * the "+" lines that answered it are held here and shown right after it, so
 * every output reads command, "+", completion.  Each "+" also adds how long
 * the command waited for it to the command's pending entry, which the
 * completion reports (continuation_wait_ms): a slow APPEND and a slow "+"
 * look different.  SASL challenges and IDLE's "+" are timed the same way
 * against the newest command in flight, but are shown at once, since their
 * command line is already out. */
#include <stdlib.h>
#include <string.h>

#include "imap_session_int.h"

#define CONT_HELD_INITIAL 4

void imap_cont_waits_free(struct imap_session *s, struct sess_waits *w)
{
	if (w->us != NULL)
		mem_release(s->cfg->budget, w->cap * sizeof *w->us);
	free(w->us);
	memset(w, 0, sizeof *w);
}

/* Past the cap or the budget the wait is not timed: the completion then
 * lists fewer waits than "+" lines, which is all it loses. */
static void cont_waits_push(struct imap_session *s, struct sess_waits *w, int64_t us)
{
	if (w->n == w->cap) {
		int64_t *nu = mem_grow_array(s->cfg->budget, w->us, &w->cap, sizeof *nu,
					     CONT_HELD_INITIAL, SESS_MAX_CONT_WAITS);

		if (nu == NULL)
			return;
		w->us = nu;
	}
	w->us[w->n++] = us > 0 ? us : 0;
}

/* A client literal is about to start.  A synchronising one makes the line
 * wait for "+": from now until the line is complete, "+" lines are its. */
void imap_cont_literal_begin(struct imap_session *s, const struct imap_line *partial)
{
	if (partial->dir != DIR_C2S || s->sasl != NULL || partial->n_lits == 0 ||
	    partial->lits[partial->n_lits - 1].kind != IMAP_LIT_SYNC)
		return;
	s->oc.open = true;
	s->oc.since = partial->ts_last_us;
	s->oc.n_sync++;
	s->oc.lit_unchecked = true;
}

/* Hold a "+" for the open command line; false when it cannot be held (it
 * is then shown at once, before the command, as it was sent). */
static bool cont_hold(struct imap_session *s, struct buf_slice text, int64_t ts)
{
	struct sess_open_cmd *oc = &s->oc;
	struct sess_held_cont *h;

	if (oc->n_held == oc->cap_held) {
		h = mem_grow_array(s->cfg->budget, oc->held, &oc->cap_held, sizeof *h,
				   CONT_HELD_INITIAL, SESS_MAX_CONT_WAITS);
		if (h == NULL)
			return false;
		oc->held = h;
	}
	h = &oc->held[oc->n_held];
	h->off = oc->text.len;
	h->len = text.len;
	h->ts = ts;
	h->frame_first = s->cur_line != NULL ? s->cur_line->frame_first :
						 imap_session_frame_now(s);
	h->frame_last = s->cur_line != NULL ? s->cur_line->frame_last : 0;
	if (text.len != 0 && buf_append(&oc->text, text.ptr, text.len) != 0)
		return false;
	oc->n_held++;
	return true;
}

/* A server "+" line whose text is text. */
void imap_cont_server(struct imap_session *s, const struct imap_line *line,
		      struct buf_slice text)
{
	if (s->oc.open) {
		s->oc.n_plus++;
		cont_waits_push(s, &s->oc.waits, line->ts_first_us - s->oc.since);
		if (cont_hold(s, text, line->ts_last_us))
			return;
	} else if (s->n_pend > 0) {
		struct pending *p = &s->pend[s->n_pend - 1];

		cont_waits_push(s, &p->waits, line->ts_first_us - p->ts_client);
	}
	imap_session_emit_continuation(s, DIR_S2C, text, line->ts_last_us);
}

/* The open line was a command and p its new pending entry: the waits are
 * its. */
void imap_cont_command(struct imap_session *s, struct pending *p)
{
	if (!s->oc.open)
		return;
	p->waits = s->oc.waits;
	memset(&s->oc.waits, 0, sizeof s->oc.waits);
}

/* A client line of the exchange in flight (a SASL response): the next "+"
 * is waited for from here. */
void imap_cont_client_line(struct imap_session *s, int64_t ts)
{
	if (s->n_pend > 0)
		s->pend[s->n_pend - 1].ts_client = ts;
}

/* The client's logical line is complete (or cut, or the session ends): the
 * held "+" lines follow it now. */
void imap_cont_line_done(struct imap_session *s)
{
	struct sess_open_cmd *oc = &s->oc;

	if (!oc->open)
		return;
	oc->open = false;
	if (oc->n_sync > oc->n_plus)
		s->plus_owed += oc->n_sync - oc->n_plus;
	oc->n_sync = oc->n_plus = 0;
	oc->lit_unchecked = oc->early = false;
	for (size_t i = 0; i < oc->n_held; i++) {
		struct buf_slice t = { oc->text.data ? oc->text.data + oc->held[i].off
						     : (const uint8_t *)"", oc->held[i].len };

		imap_session_emit_held_continuation(s, t, oc->held[i].ts, oc->held[i].frame_first,
						    oc->held[i].frame_last);
	}
	oc->n_held = 0;
	buf_free(&oc->text);
	imap_cont_waits_free(s, &oc->waits);
}

void imap_cont_free(struct imap_session *s)
{
	buf_free(&s->oc.text);
	imap_cont_waits_free(s, &s->oc.waits);
	if (s->oc.held != NULL)
		mem_release(s->cfg->budget, s->oc.cap_held * sizeof *s->oc.held);
	free(s->oc.held);
	s->oc.held = NULL;
	s->oc.cap_held = s->oc.n_held = 0;
}
