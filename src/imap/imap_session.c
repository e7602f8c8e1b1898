/* The per-connection IMAP state machine (see imap/imap_session.h).
 *
 * Bytes of each direction go to their own lexer; every finished logical
 * line comes back through session_line() and is handled by a small function
 * per kind of line.  The session keeps what the lines leave behind: pending
 * tags (for matching completions and latency), the AUTHENTICATE exchange in
 * progress, IDLE, the protocol state and the selected mailbox.
 *
 *   wire -> [tls] -> [inflate] -> tap, lexer -> session_line -> c2s_line /
 *                                 s2c_line -> events
 *
 * The byte path of each direction is imap_pipeline.c, LOGIN and
 * AUTHENTICATE are imap_auth.c, the --extract bodies imap_bodies.c; what
 * they share is imap_session_int.h.
 *
 * Events are emitted the moment a line completes, so the two directions
 * interleave in capture order. */
#include "imap/imap_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_chars.h"
#include "imap/imap_lexer.h"
#include "imap/imap_parser.h"
#include "imap/imap_sasl.h"
#include "imap_session_int.h"
#include "util/escape.h"

#define SESS_MAX_MAILBOX  (2 * IMAP_ARGS_MAX_MAILBOX)	/* a decoded name */
#define SESS_MAX_ARGS     (IMAP_MAX_LINE + 64)	/* redacted command arguments */
#define SESS_QUOTE_MAX    48		/* wire bytes quoted in a notice */
#define SESS_PENDING_INITIAL 4	/* most clients wait for each answer: small first */
#define SESS_BAD_LINE_NOTICES 3		/* "not understood" notices in a row */
#define SESS_PENDING_DROP_NOTICES 3	/* "forgot the oldest" notices per session */
#define SESS_WHY_BUDGET   "out of memory or over --max-memory"
/* Sessions refused for memory are said while the run's refusals are fewer
 * than this; past it the budget is plainly exhausted and a line per new
 * flow would only flood stderr. */
#define SESS_MAX_REFUSED_NOTICES 10

static void session_line(void *ctx, const struct imap_line *line);

/* --- small helpers ------------------------------------------------------ */

static void copy_endpoint(char *dst, const char *src)
{
	snprintf(dst, SESS_ENDPOINT_MAX, "%s", src ? src : "?");
}

static bool is_line_event(enum event_type t)
{
	return t == EV_GREETING || t == EV_COMMAND || t == EV_CONTINUATION ||
	       t == EV_UNTAGGED || t == EV_RESPONSE;
}

/* Which records an event names (docs/contract.md, "Frame numbers"): one
 * that set its own (a login) keeps them; a line's events take the line's
 * first and last; another event made while a line is handled (compress,
 * a login's result) the record that completed the line; any other the
 * record being read. */
static void event_frames(const struct imap_session *s, struct event *ev)
{
	const struct imap_session_config *cfg = s->cfg;
	uint64_t first = ev->frame, last = ev->frame_last;

	if (first == 0) {
		if (s->cur_line == NULL) {
			first = imap_session_frame_now(s);
		} else if (is_line_event(ev->type)) {
			first = s->cur_line->frame_first;
			last = s->cur_line->frame_last;
		} else {
			first = s->cur_line->frame_last;
		}
	}
	if (cfg->n_inputs > 1 && first != 0 && FRAME_FILE(first) < cfg->n_inputs)
		ev->pcap = cfg->inputs[FRAME_FILE(first)];
	/* A span into another file is told by its first record alone. */
	ev->frame = FRAME_NUM(first);
	ev->frame_last = FRAME_FILE(last) == FRAME_FILE(first) &&
			 FRAME_NUM(last) > ev->frame ? FRAME_NUM(last) : 0;
}

void imap_session_emit(struct imap_session *s, struct event *ev)
{
	const struct output *out = &s->cfg->out;

	ev->session = s->id;
	ev->client = s->client;
	ev->server = s->server;
	event_frames(s, ev);
	ev->flow = &s->flow;
	/* what changed since the last event is this event's doing */
	ev->facts = &s->facts;
	ev->changed = s->facts_changed;
	s->facts_changed = 0;
	/* Events made from a line that a gap cut, or that sync never
	 * confirmed, say so (not the login or switch events a completion may
	 * bring). */
	if (is_line_event(ev->type)) {
		ev->truncated |= s->cur_cut;
		ev->unsynchronised |= s->cur_unsync;
		if (s->cur_line != NULL)
			ev->wire |= s->line_wire;
	}
	if (out->ops != NULL && out->ops->event != NULL)
		out->ops->event(out->ctx, ev);
}

/* The one way in for a notice about this session, its own or a layer's
 * below: an event of its timeline, then the run's stderr line.  A gap
 * notice of the flow table is no event: the gap already is one. */
static void session_take_notice(void *ctx, const struct notice *n)
{
	struct imap_session *s = ctx;

	if (n->kind != NOTICE_GAP) {
		struct event ev = { .type = EV_NOTICE, .ts_us = n->ts_us };

		s->sum.notices++;
		ev.u.notice = *n;
		/* a notice that names its side itself is not about the line */
		if (s->notice_wire & (WIRE_C2S | WIRE_S2C))
			ev.wire = s->notice_wire;
		else if (s->cur_line != NULL)
			ev.wire = s->line_wire | s->notice_wire;
		s->notice_wire = 0;
		imap_session_emit(s, &ev);
	}
	if (s->cfg->notice != NULL)
		s->cfg->notice(s->cfg->notice_ctx, n);
}

static void session_vnotice(struct imap_session *s, const struct notice *proto,
			    const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

static void session_vnotice(struct imap_session *s, const struct notice *proto,
			    const char *fmt, va_list ap)
{
	char msg[SESS_NOTICE_MAX];
	struct notice n = *proto;
	int k;

	/* The text is cut where it was when stderr's "session N: " shared
	 * this buffer, so that long notices read the same as before. */
	k = snprintf(NULL, 0, "session %llu: ", (unsigned long long)s->id);
	vsnprintf(msg, sizeof msg - (size_t)k, fmt, ap);
	n.session = s->id;
	n.ts_us = s->now;
	n.text = msg;
	session_take_notice(s, &n);
}

void imap_session_notice(struct imap_session *s, enum notice_kind kind, const char *fmt, ...)
{
	struct notice n = NOTICE_OF(kind);
	va_list ap;

	va_start(ap, fmt);
	session_vnotice(s, &n, fmt, ap);
	va_end(ap);
}

void imap_session_notice_facts(struct imap_session *s, const struct notice *f,
			       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vnotice(s, f, fmt, ap);
	va_end(ap);
}

/* Wire bytes for a notice: escaped, cut to SESS_QUOTE_MAX, NUL-terminated. */
void imap_session_quote_wire(char *dst, size_t cap, const uint8_t *p, size_t n)
{
	struct buf b;

	buf_init(&b, cap - 1, NULL);
	if (n > SESS_QUOTE_MAX)
		n = SESS_QUOTE_MAX;
	if (escape_text(&b, p, n) != 0 && b.len == 0) {
		snprintf(dst, cap, "?");
	} else {
		memcpy(dst, b.data ? (const char *)b.data : "", b.len);
		dst[b.len] = '\0';
	}
	buf_free(&b);
}

static void lexer_notice(void *ctx, const struct notice *n)
{
	imap_session_notice_facts(ctx, n, "%s", n->text);
}

static uint64_t literal_total(const struct imap_line *line)
{
	uint64_t t = 0;

	for (size_t i = 0; i < line->n_lits; i++)
		if (__builtin_add_overflow(t, line->lits[i].size, &t))
			return UINT64_MAX;
	return t;
}

/* --- pending tags -------------------------------------------------------- */

static bool tag_equal(const struct pending *p, struct buf_slice tag)
{
	return p->wire_tag_len == tag.len && memcmp(p->tag, tag.ptr, p->tag_len) == 0;
}

static void pending_release(struct imap_session *s, struct pending *p)
{
	if (s->sasl != NULL && s->sasl == p->login)
		s->sasl = NULL;
	imap_auth_attempt_free(p->login);
	imap_cont_waits_free(s, &p->waits);
	imap_facts_pending_release(s, p);
	p->login = NULL;
}

/* Take entry i out of the table (its memory is the caller's to release). */
static void pending_remove(struct imap_session *s, size_t i)
{
	memmove(&s->pend[i], &s->pend[i + 1], (s->n_pend - i - 1) * sizeof s->pend[0]);
	s->n_pend--;
}

static int pending_find(const struct imap_session *s, struct buf_slice tag)
{
	for (size_t i = 0; i < s->n_pend; i++)
		if (tag_equal(&s->pend[i], tag))
			return (int)i;
	return -1;
}

static bool pending_grow(struct imap_session *s)
{
	/* A full table is 1024 entries of 190 bytes per session: charged. */
	struct pending *np = mem_grow_array(s->cfg->budget, s->pend, &s->cap_pend, sizeof *np,
					    SESS_PENDING_INITIAL, IMAP_MAX_PENDING_TAGS);

	if (np == NULL)
		return false;
	s->pend = np;
	return true;
}

/* The table is full (a client that never waits, or a server that never
 * answers): the oldest command is forgotten, visibly. */
static void pending_drop_oldest(struct imap_session *s)
{
	struct pending *p = &s->pend[0];
	char tag[SESS_NOTICE_MAX];

	/* A client that never waits would get a notice per command: the
	 * first few are said, the rest summed when the session ends. */
	s->sum.capped++;
	if (s->pend_dropped++ < SESS_PENDING_DROP_NOTICES) {
		imap_session_quote_wire(tag, sizeof tag, p->tag, p->tag_len);
		imap_session_notice(s, NOTICE_PENDING_CAP, "more than %d commands pending: forgot the oldest (%s %s)",
				    IMAP_MAX_PENDING_TAGS, tag, p->name);
	}
	if (p->login != NULL)
		imap_auth_login_unknown(s, p);
	pending_release(s, p);
	pending_remove(s, 0);
}

/* A new entry at the end, or NULL when out of memory. */
static struct pending *pending_add(struct imap_session *s, const struct imap_command *cmd,
				   int64_t ts_sent, int64_t ts_client)
{
	struct pending *p;

	if (s->n_pend == IMAP_MAX_PENDING_TAGS)
		pending_drop_oldest(s);
	if (s->n_pend == s->cap_pend && !pending_grow(s)) {
		s->sum.capped++;
		s->c2s_lossy = true;
		imap_session_notice(s, NOTICE_MEMORY, SESS_WHY_BUDGET ": command not tracked");
		return NULL;
	}
	p = &s->pend[s->n_pend++];
	memset(p, 0, sizeof *p);
	p->wire_tag_len = cmd->tag.len;
	p->tag_len = cmd->tag.len < SESS_MAX_TAG ? cmd->tag.len : SESS_MAX_TAG;
	memcpy(p->tag, cmd->tag.ptr, p->tag_len);
	p->id = cmd->id;
	memcpy(p->name, cmd->name, sizeof p->name);
	p->ts_sent = ts_sent;
	p->ts_client = ts_client;
	return p;
}

/* --- events made from lines ---------------------------------------------- */

static void emit_continuation(struct imap_session *s, enum stream_dir dir,
			      struct buf_slice text, struct event *evp)
{
	struct event ev = *evp;

	ev.u.continuation.dir = dir;
	/* The client's own lines here are IDLE's DONE; SASL answers are
	 * imap_auth_sasl_line's. */
	ev.u.continuation.kind = s->sasl != NULL ? CONT_SASL
				 : dir == DIR_C2S ? CONT_IDLE_DONE : CONT_CONTINUE;
	ev.u.continuation.text = text;
	imap_session_emit(s, &ev);
}

void imap_session_emit_continuation(struct imap_session *s, enum stream_dir dir,
				    struct buf_slice text, int64_t ts)
{
	struct event ev = { .type = EV_CONTINUATION, .ts_us = ts };

	emit_continuation(s, dir, text, &ev);
}

void imap_session_emit_held_continuation(struct imap_session *s, struct buf_slice text,
					 int64_t ts, uint64_t frame_first, uint64_t frame_last)
{
	struct event ev = { .type = EV_CONTINUATION, .ts_us = ts, .frame = frame_first,
			    .frame_last = frame_last };

	emit_continuation(s, DIR_S2C, text, &ev);
}

static void emit_command(struct imap_session *s, const struct imap_line *line,
			 const struct imap_command *cmd, struct buf_slice secret_raw,
			 const struct command_facts *cf, const struct msg_identity *append)
{
	/* When it was sent: a command with synchronising literals is complete
	 * only after its "+" lines, but it started before them. */
	struct event ev = { .type = EV_COMMAND, .ts_us = line->ts_first_us };

	ev.u.command.tag = cmd->tag;
	ev.u.command.name = cslice(cmd->name);
	ev.u.command.args = imap_auth_redacted_args(s, line, cmd, secret_raw);
	ev.u.command.literal_bytes = literal_total(line);
	ev.u.command.facts = cf;
	ev.u.command.append = append;
	s->sum.commands++;
	imap_session_emit(s, &ev);
}

/* A line did not parse: a notice for the first few in a row, then quiet
 * (a body read as lines after a resync would flood), summed up later. */
static void line_not_understood(struct imap_session *s, const struct imap_line *line)
{
	char q[SESS_NOTICE_MAX];
	enum stream_dir d = line->dir;

	if (d == DIR_C2S)
		s->c2s_lossy = true;
	if (s->bad_run[d]++ >= SESS_BAD_LINE_NOTICES) {
		s->bad_quiet[d]++;
		return;
	}
	imap_session_quote_wire(q, sizeof q, line->text.ptr, line->text.len);
	if (imap_wire_on(s))
		s->notice_wire = imap_wire_unparsed(line);
	imap_session_notice(s, NOTICE_UNPARSED_LINE, "%s line not understood: \"%s\"", d == DIR_C2S ? "client" : "server", q);
}

static void line_understood(struct imap_session *s, enum stream_dir d)
{
	if (s->bad_quiet[d] != 0)
		imap_session_notice(s, NOTICE_UNPARSED_LINE, "%llu more %s lines not understood",
				    (unsigned long long)s->bad_quiet[d], d == DIR_C2S ? "client" : "server");
	s->bad_run[d] = 0;
	s->bad_quiet[d] = 0;
}

/* --- lines a gap cut ---------------------------------------------------- */

/* Does the captured head of a cut client line name its command for sure,
 * "tag SP name SP"?  A cut right after the name may have cut the name. */
static bool cut_command_head(const struct imap_line *line)
{
	struct imap_command cmd;

	return imap_parse_command(line, &cmd) == 0 && cmd.args_off > 0 &&
	       line->text.ptr[cmd.args_off - 1] == ' ';
}

/* And of a server line: "+", or "tag status SP", or "* [n] name SP". */
static bool cut_response_head(const struct imap_line *line, const struct imap_response *r)
{
	size_t end;

	if (r->kind == IMAP_RESP_CONTINUATION)
		return true;
	if (r->kind == IMAP_RESP_TAGGED) {
		end = r->tag.len + 1 + strlen(r->name);
	} else {
		end = 2 + strlen(r->name);
		if (r->has_number) {
			const uint8_t *sp = memchr(line->text.ptr + 2, ' ', line->text.len - 2);

			end += sp != NULL ? (size_t)(sp - line->text.ptr) - 1 : line->text.len;
		}
	}
	return end < line->text.len && line->text.ptr[end] == ' ';
}

static void cut_line_dropped(struct imap_session *s, const struct imap_line *line)
{
	char q[SESS_NOTICE_MAX];

	struct notice f = NOTICE_OF(NOTICE_CUT_LINE_DROPPED);

	if (line->dir == DIR_C2S)
		s->c2s_lossy = true;
	f.dir = (int)line->dir;
	f.bytes = line->text.len;
	imap_session_quote_wire(q, sizeof q, line->text.ptr, line->text.len);
	imap_session_notice_facts(s, &f, "%s line cut by a gap after %zu bytes, too little to "
				  "tell what it was: \"%s\"", line->dir == DIR_C2S ? "client" : "server",
				  line->text.len, q);
}

/* --- client lines ------------------------------------------------------ */

/* An astring's value (atom, quoted with escapes undone, or a literal kept
 * in memory) appended to out; -1 if there is none or it was not kept. */
int imap_session_tok_value(struct buf *out, const struct imap_tok *t)
{
	buf_reset(out);
	switch (t->type) {
	case IMAP_TOK_ATOM:
		return buf_append(out, t->value.ptr, t->value.len);
	case IMAP_TOK_QUOTED:
		return imap_unquote(out, t->value);
	case IMAP_TOK_LITERAL:
		if (t->lit->kept.ptr == NULL)
			return -1;
		return buf_append(out, t->lit->kept.ptr, t->lit->kept.len);
	default:
		return -1;
	}
}

bool imap_session_tok_is_string(const struct imap_tok *t)
{
	return t->type == IMAP_TOK_ATOM || t->type == IMAP_TOK_QUOTED ||
	       t->type == IMAP_TOK_LITERAL;
}

/* What the session remembers of a command until its completion. */
static void command_effects(struct imap_session *s, const struct imap_line *line,
			    const struct imap_command *cmd)
{
	unsigned eff = imap_vocab_effects(cmd->id);

	if (eff & EFF_IDLE) {
		s->idling = true;
	} else if (eff & (EFF_STARTTLS | EFF_COMPRESS)) {
		imap_pipeline_hold_begin(&s->pl, (eff & EFF_STARTTLS) != 0);
	} else if (eff & EFF_APPEND) {
		for (size_t i = 0; i < line->n_lits; i++)
			if (line->lits[i].received > 0 || line->lits[i].size == 0)
				s->sum.literals_appended++;
	}
}

static void on_command(struct imap_session *s, const struct imap_line *line,
		       const struct imap_command *cmd)
{
	struct buf_slice secret = SLICE_NULL;
	struct login_attempt *a = NULL;
	struct command_facts cf;
	struct pending *p;

	/* The commands whose syntax the session reads itself. */
	switch (cmd->id) {
	case IMAP_CMD_LOGIN:
		a = imap_auth_login_command(s, line, cmd, &secret);
		break;
	case IMAP_CMD_AUTHENTICATE:
		a = imap_auth_authenticate_command(s, line, cmd, &secret);
		break;
	default:
		break;
	}
	if (imap_wire_on(s))
		s->line_wire |= imap_wire_command(s, line, cmd, pending_find(s, cmd->tag));
	imap_facts_command(s, line, cmd, &cf);
	emit_command(s, line, cmd, secret, &cf, imap_msgs_append(s, line, cmd, &cf));
	p = pending_add(s, cmd, line->ts_first_us, line->ts_last_us);
	if (p == NULL) {
		imap_auth_attempt_free(a);
		return;
	}
	imap_facts_pending_keep(s, p, &cf);
	imap_cont_command(s, p);
	p->login = a;
	if (a != NULL) {
		a->out_of_state = s->facts.state == IMAP_STATE_AUTH ||
				  s->facts.state == IMAP_STATE_SELECTED;
		a->clear = s->pl.path[DIR_C2S].in_clear;
		a->after_starttls = a->clear && s->pl.tls_phase == PIPE_TLS_STARTTLS;
	}
	if (a != NULL && a->is_sasl)
		s->sasl = a;
	command_effects(s, line, cmd);
}

static void c2s_line(struct imap_session *s, const struct imap_line *line)
{
	struct imap_command cmd;

	s->partial_tag_len = 0;
	if (!s->s2c_anchored && s->run.n > 0)
		imap_resync_confirm(s);	/* the client acted on them */
	if (line->cut && (s->sasl != NULL || !cut_command_head(line))) {
		if (s->sasl != NULL)
			imap_auth_tap_hide(s, line->off_first, UINT64_MAX);
		cut_line_dropped(s, line);
		return;
	}
	if (s->sasl != NULL) {
		imap_cont_client_line(s, line->ts_last_us);
		imap_auth_sasl_line(s, line);
		return;
	}
	if (line->text.len == 0)
		return;		/* a stray empty line is harmless */
	/* Picked up mid-stream, DONE ends an IDLE we did not see begin; its
	 * completion is then the server line to find sync on. */
	if ((s->idling || (s->mid_stream && s->n_pend == 0)) && buf_slice_ieq(line->text, "DONE")) {
		s->orphan_done = !s->idling;
		s->idling = false;
		imap_session_emit_continuation(s, DIR_C2S, line->text, line->ts_last_us);
		return;
	}
	if (imap_parse_command(line, &cmd) != 0) {
		line_not_understood(s, line);
		return;
	}
	line_understood(s, DIR_C2S);
	on_command(s, line, &cmd);
}

/* --follow: client bytes the lexer dropped resynchronising were never
 * read, so whatever secret they held was never found. */
static void session_skipped(void *ctx, enum stream_dir dir, uint64_t off, uint64_t len)
{
	if (dir == DIR_C2S)
		imap_auth_tap_hide(ctx, off, len);
}

/* A literal starts: --extract follows it.  A client line announced its
 * first literal: remember its tag, in case the server refuses a
 * synchronising literal before sending "+". */
static void session_literal_begin(void *ctx, const struct imap_line *partial)
{
	struct imap_session *s = ctx;
	struct imap_command cmd;

	if (s->cfg->extract.begin != NULL)
		imap_bodies_literal_begin(s, partial);
	if (s->cfg->tap.mark != NULL && partial->n_lits > 0) {
		const struct imap_literal *l = &partial->lits[partial->n_lits - 1];
		struct imap_tap_mark m = { IMAP_TAP_LITERAL, partial->dir, l->off, l->size };

		s->cfg->tap.mark(s->cfg->tap.ctx, s->id, &m);
	}
	imap_cont_literal_begin(s, partial);
	if (partial->dir != DIR_C2S || partial->n_lits != 1 || s->sasl != NULL)
		return;
	if (imap_parse_command(partial, &cmd) != 0 || cmd.tag.len > SESS_MAX_TAG) {
		s->partial_tag_len = 0;
		return;
	}
	memcpy(s->partial_tag, cmd.tag.ptr, cmd.tag.len);
	s->partial_tag_len = cmd.tag.len;
}

/* Literal contents as they arrive: --extract keeps bodies, the wire
 * facts look at when a synchronising literal's data came. */
static void session_literal_data(void *ctx, const uint8_t *p, size_t n)
{
	struct imap_session *s = ctx;

	if (imap_wire_on(s))
		imap_wire_literal_data(s);
	if (s->cfg->extract.begin != NULL)
		imap_bodies_literal_data(ctx, p, n);
}

/* --- server lines ------------------------------------------------------ */

/* The tag of the command an untagged response belongs to, where that is
 * unambiguous: the only command in flight, or the only one of the kinds
 * that produce this response. */
static struct buf_slice untagged_owner(const struct imap_session *s, enum imap_resp_id resp)
{
	const struct pending *hit = NULL;

	if (s->n_pend == 1)
		return (struct buf_slice){ s->pend[0].tag, s->pend[0].tag_len };
	for (size_t i = 0; i < s->n_pend; i++) {
		if (!imap_vocab_answers(resp, s->pend[i].id))
			continue;
		if (hit != NULL)
			return SLICE_NULL;
		hit = &s->pend[i];
	}
	return hit ? (struct buf_slice){ hit->tag, hit->tag_len } : SLICE_NULL;
}

/* The first server line, if it is OK, PREAUTH or BYE.  Picked up mid-stream,
 * a "* OK [UIDVALIDITY ...]" may belong to a SELECT we did not see, so only
 * a line before any client byte, without a code or with CAPABILITY, counts. */
static bool is_greeting(const struct imap_session *s, const struct imap_response *r)
{
	if (s->greeted || s->seen_line[DIR_S2C] || !r->is_status || r->id == IMAP_R_NO ||
	    r->id == IMAP_R_BAD)
		return false;
	if (!s->mid_stream)
		return true;
	return !s->seen_byte[DIR_C2S] && (r->id == IMAP_R_PREAUTH || r->code.ptr == NULL ||
					  r->rcode.id == IMAP_CODE_CAPABILITY);
}

static void on_greeting(struct imap_session *s, const struct imap_line *line,
			const struct imap_response *r)
{
	struct event ev = { .type = EV_GREETING, .ts_us = line->ts_last_us };

	ev.u.greeting.status = cslice(r->name);
	ev.u.greeting.code = r->code;
	ev.u.greeting.text = r->text;
	ev.u.greeting.id = r->id;
	ev.u.greeting.rcode = r->rcode;
	s->greeted = true;
	imap_facts_greeting(s, r);
	imap_session_emit(s, &ev);
}

static void on_untagged(struct imap_session *s, const struct imap_line *line,
			const struct imap_response *r)
{
	struct event ev = { .type = EV_UNTAGGED, .ts_us = line->ts_last_us };
	struct fetch_facts fetch;
	struct imap_fetch_store fetch_store;

	if (is_greeting(s, r)) {
		on_greeting(s, line, r);
		return;
	}
	ev.u.untagged.name = cslice(r->name);
	/* All after "* ", so "3 EXISTS" keeps its number and "OK [...]" its
	 * code. */
	ev.u.untagged.text = (struct buf_slice){ line->text.ptr + 2, line->text.len - 2 };
	ev.u.untagged.tag = untagged_owner(s, r->id);
	ev.u.untagged.literal_bytes = literal_total(line);
	ev.u.untagged.id = r->id;
	ev.u.untagged.has_number = r->has_number;
	ev.u.untagged.number = r->number;
	ev.u.untagged.rcode = r->rcode;
	s->sum.untagged++;
	if (r->id == IMAP_R_FETCH)
		s->sum.literals_fetched += line->n_lits;
	ev.u.untagged.fetch = imap_facts_untagged(s, line, r, &fetch, &fetch_store);
	if (imap_wire_on(s))
		ev.wire = imap_wire_untagged(s, r, ev.u.untagged.fetch);
	if (s->msgs != NULL)
		imap_msgs_untagged(s, line, r, ev.u.untagged.fetch, &ev);
	imap_session_emit(s, &ev);
}

static void on_continuation(struct imap_session *s, const struct imap_line *line,
			    const struct imap_response *r)
{
	if (s->cur_unsync) {	/* it answered nothing we saw */
		imap_session_emit_continuation(s, DIR_S2C, r->text, line->ts_last_us);
		return;
	}
	if (s->sasl != NULL)
		imap_sasl_challenge(&s->sasl->sasl, r->text.ptr, r->text.len);
	if (imap_wire_on(s) && imap_wire_cont_unexpected(s))
		s->line_wire |= WIRE_CONT_UNEXPECTED;
	imap_cont_server(s, line, r->text);
}

/* What a completion changes besides the facts (imap_facts_tagged): login
 * result, IDLE, the byte path.  Driven by the command's effects in the
 * vocabulary, not by its name. */
static void completion_effects(struct imap_session *s, const struct pending *p,
			       const struct imap_response *r, int64_t ts)
{
	bool ok = r->id == IMAP_R_OK;
	unsigned eff = imap_vocab_effects(p->id);

	/* LOGIN after authentication is refused with BAD as a command invalid
	 * in this state, not as an authentication attempt: no login then. */
	if (p->login != NULL && !(p->login->out_of_state && r->id == IMAP_R_BAD))
		imap_auth_emit_login(s, p, ok ? LOGIN_OK : LOGIN_FAIL, r);
	if (eff & EFF_IDLE) {
		s->idling = false;
	} else if (eff & (EFF_STARTTLS | EFF_COMPRESS)) {
		/* switch first, so the held client bytes take the new path */
		/* a cut OK lost the byte where the switch takes effect */
		if (ok && !s->cur_cut && (eff & EFF_STARTTLS))
			imap_pipeline_start_tls(&s->pl, PIPE_TLS_STARTTLS, ts);
		else if (ok && !s->cur_cut)
			imap_pipeline_start_compress(&s->pl, ts);
		imap_pipeline_hold_end(&s->pl, ts);
	}
}

static void count_status(struct imap_session *s, enum imap_resp_id status)
{
	if (status == IMAP_R_OK)
		s->sum.responses_ok++;
	else if (status == IMAP_R_NO)
		s->sum.responses_no++;
	else
		s->sum.responses_bad++;
}

/* "a12" after "a9": the same prefix and a larger number, as clients count. */
static bool tag_later(const uint8_t *t0, size_t n0, struct buf_slice t1)
{
	size_t d0 = n0, d1 = t1.len;
	uint64_t v0 = 0, v1 = 0;

	while (d0 > 0 && t0[d0 - 1] >= '0' && t0[d0 - 1] <= '9')
		d0--;
	while (d1 > 0 && t1.ptr[d1 - 1] >= '0' && t1.ptr[d1 - 1] <= '9')
		d1--;
	if (d0 == n0 || d1 == t1.len || d0 != d1 || memcmp(t0, t1.ptr, d0) != 0 ||
	    n0 - d0 > 18 || t1.len - d1 > 18)
		return false;
	for (size_t i = d0; i < n0; i++)
		v0 = v0 * 10 + (uint64_t)(t0[i] - '0');
	for (size_t i = d1; i < t1.len; i++)
		v1 = v1 * 10 + (uint64_t)(t1.ptr[i] - '0');
	return v1 > v0;
}

/* The client line still being read holds a literal, and the server's
 * tagged answer shows it did not happen that way: a NO/BAD for that very
 * command, or an answer to a command sent after it (which the literal's
 * count swallowed).  A synchronising literal refused before its first byte
 * simply never comes (APPEND with [TRYCREATE]); a literal already consumed
 * is given up and its bytes are read again as commands, so that a LOGIN
 * hidden behind "{18446744073709551615+}" is seen.  Either way the client
 * line reaches c2s_line now, so the command is reported before the
 * response. */
static void check_literal_refused(struct imap_session *s, const struct imap_response *r)
{
	struct imap_lexer *lx = s->lx[DIR_C2S];
	struct notice f = NOTICE_OF(NOTICE_LITERAL_ABANDONED);
	uint64_t left, lost;
	bool own, was_clear;

	if (lx == NULL || s->partial_tag_len == 0)
		return;
	left = imap_lexer_literal_left(lx);
	if (left == 0 && !imap_lexer_in_sync_literal(lx))
		return;		/* a "{0}" waiting for "+" is still refusable */
	own = r->tag.len == s->partial_tag_len && memcmp(r->tag.ptr, s->partial_tag, r->tag.len) == 0;
	if (own ? r->id == IMAP_R_OK
		: pending_find(s, r->tag) >= 0 || !tag_later(s->partial_tag, s->partial_tag_len, r->tag))
		return;
	if (imap_lexer_in_sync_literal(lx)) {
		imap_lexer_literal_refused(lx);
		return;
	}
	f.dir = DIR_C2S;
	f.bytes = left;
	s->c2s_lossy = true;
	imap_session_notice_facts(s, &f, "the server %s with %llu bytes of the client's literal "
				  "still to come: it did not happen, what followed it is read as "
				  "commands", own ? "refused the command" : "answered a later command",
				  (unsigned long long)left);
	s->ex[DIR_C2S].in_lit = false;
	s->ex[DIR_C2S].left = 0;
	/* The kept bytes are read again now, inside the server's feed: they
	 * crossed the way the client's path goes (a LOGIN among them is in
	 * clear unless that path is TLS). */
	was_clear = s->pl.path[DIR_C2S].in_clear;
	s->pl.path[DIR_C2S].in_clear = !s->pl.path[DIR_C2S].tls;
	/* --follow: the bytes read again are not where the stream has them
	 * (a line's literals are kept together), so whatever secret they
	 * hold cannot be placed: the whole line and its literals are hidden. */
	imap_auth_tap_hide(s, imap_lexer_line_off(lx), UINT64_MAX);
	lost = imap_lexer_literal_abandon(lx);
	s->pl.path[DIR_C2S].in_clear = was_clear;
	if (lost != 0)
		imap_bodies_gap(s, DIR_C2S, lost);
}

static void on_tagged(struct imap_session *s, const struct imap_line *line,
		      const struct imap_response *r)
{
	struct event ev = { .type = EV_RESPONSE, .ts_us = line->ts_last_us };
	struct command_facts unkept;
	struct pending p;
	int i;

	/* Unconfirmed, it completes nothing and proves no login. */
	if (!s->cur_unsync)
		check_literal_refused(s, r);
	i = s->cur_unsync ? -1 : pending_find(s, r->tag);
	ev.u.response.tag = r->tag;
	ev.u.response.status = cslice(r->name);
	ev.u.response.code = r->code;
	ev.u.response.text = r->text;
	ev.u.response.command = SLICE_NULL;
	ev.u.response.id = r->id;
	ev.u.response.rcode = r->rcode;
	ev.u.response.latency_ms = -1;
	if (i < 0 && !s->cur_unsync && imap_wire_on(s) && !imap_wire_lossy(s))
		ev.wire = WIRE_TAG_UNKNOWN;
	if (i >= 0) {
		int64_t d = line->ts_first_us - s->pend[i].ts_sent;

		ev.u.response.command = cslice(s->pend[i].name);
		ev.u.response.latency_ms = d > 0 ? (double)d / 1000.0 : 0.0;
		ev.u.response.cont_wait_us = s->pend[i].waits.us;
		ev.u.response.n_cont_waits = s->pend[i].waits.n;
		ev.u.response.cmd = imap_facts_pending(&s->pend[i], &unkept);
	}
	count_status(s, r->id);
	if (s->msgs != NULL && i >= 0 && !s->cur_unsync)
		imap_msgs_tagged(s, &s->pend[i], r, &ev);
	if (!s->cur_unsync)
		imap_facts_tagged(s, i >= 0 ? &s->pend[i] : NULL, r);
	imap_session_emit(s, &ev);
	if (s->cur_unsync)
		return;
	imap_auth_infer(s, line, r, i >= 0 ? &s->pend[i] : NULL);
	if (i < 0)
		return;
	p = s->pend[i];
	pending_remove(s, (size_t)i);
	completion_effects(s, &p, r, line->ts_last_us);
	pending_release(s, &p);
}

/* Mid-stream: does this server line show where we are?  A completion of a
 * command we saw, anything while one of ours is pending, or a greeting. */
static bool s2c_anchors(struct imap_session *s, const struct imap_response *r)
{
	if (r->kind == IMAP_RESP_TAGGED)
		return pending_find(s, r->tag) >= 0 || s->orphan_done;
	if (r->kind == IMAP_RESP_UNTAGGED && is_greeting(s, r))
		return true;
	return s->n_pend > 0;
}

static void s2c_dispatch(struct imap_session *s, const struct imap_line *line,
			 const struct imap_response *r)
{
	switch (r->kind) {
	case IMAP_RESP_CONTINUATION:
		on_continuation(s, line, r);
		break;
	case IMAP_RESP_UNTAGGED:
		on_untagged(s, line, r);
		break;
	case IMAP_RESP_TAGGED:
		on_tagged(s, line, r);
		break;
	}
}

static void s2c_line(struct imap_session *s, const struct imap_line *line)
{
	struct imap_response r;
	bool parsed;

	if (line->text.len == 0)
		return;
	parsed = imap_parse_response(line, &r) == 0;
	if (!s->s2c_anchored) {
		if (!parsed || line->cut || !s2c_anchors(s, &r)) {
			imap_resync_offer(s, line, parsed);
			return;
		}
		s->s2c_anchored = true;
		imap_resync_confirm(s);
		imap_resync_report(s, true);
	}
	if (line->cut && (!parsed || !cut_response_head(line, &r))) {
		cut_line_dropped(s, line);
		return;
	}
	if (!parsed) {
		line_not_understood(s, line);
		return;
	}
	line_understood(s, DIR_S2C);
	s2c_dispatch(s, line, &r);
}

void imap_session_s2c_replay(struct imap_session *s, const struct imap_line *line)
{
	struct imap_response r;
	bool was_cut = s->cur_cut;
	const struct imap_line *was_line = s->cur_line;

	/* Replayed from within another line (the client's that confirmed
	 * sync, perhaps itself cut): the held lines were whole. */
	s->cur_cut = false;
	s->cur_line = line;
	if (imap_parse_response(line, &r) == 0)
		s2c_dispatch(s, line, &r);
	s->cur_cut = was_cut;
	s->cur_line = was_line;
}

/* --- dispatch ------------------------------------------------------------ */

/* A client's first words as any client would send them: "tag SP name",
 * the name made of letters; "GET / HTTP/1.1" is not. */
static bool loose_command(struct buf_slice t)
{
	size_t i = 0, j;

	while (i < t.len && imap_char_is_astring(t.ptr[i]))
		i++;
	if (i == 0 || i >= t.len || t.ptr[i] != ' ')
		return false;
	j = ++i;
	while (j < t.len && ((t.ptr[j] | 0x20) >= 'a' && (t.ptr[j] | 0x20) <= 'z'))
		j++;
	if (j == i || (j < t.len && t.ptr[j] != ' '))
		return false;
	for (size_t k = 0; k + 5 <= t.len; k++)
		if (memcmp(t.ptr + k, "HTTP/", 5) == 0)
			return false;
	return true;
}

/* Is the first line of a direction IMAP at all?  SSH banners, HTTP and
 * SMTP greetings on an IMAP port are not. */
bool imap_session_line_plausible(enum stream_dir dir, struct buf_slice t)
{
	if (imap_line_plausible(dir, t.ptr, t.len))
		return true;
	if (dir == DIR_S2C)
		return (t.len >= 2 && t.ptr[0] == '*' && t.ptr[1] == ' ') || t.ptr[0] == '+';
	return loose_command(t);
}

void imap_session_not_imap(struct imap_session *s, enum stream_dir dir,
			   const uint8_t *p, size_t n)
{
	char q[SESS_NOTICE_MAX];

	imap_session_quote_wire(q, sizeof q, p, n);
	s->mode = MODE_NOT_IMAP;
	if (s->cfg->tap.not_imap != NULL)
		s->cfg->tap.not_imap(s->cfg->tap.ctx, s->id);
	imap_session_notice(s, NOTICE_NOT_IMAP, "not IMAP traffic (%s's first line: \"%s\")",
			    dir == DIR_C2S ? "client" : "server", q);
}

static void session_line(void *ctx, const struct imap_line *line)
{
	struct imap_session *s = ctx;
	enum stream_dir d = line->dir;
	const struct imap_line *was_line;
	unsigned was_wire;
	bool was_cut;

	imap_bodies_line_done(s, line);
	s->depth_noticed[d] = false;
	if (line->overlong)
		s->sum.capped++;
	if (s->mode != MODE_IMAP)
		return;		/* the rest of a chunk after a switch */
	if (!s->seen_line[d] && line->text.len > 0) {
		if (!s->mid_stream && !s->gap_first[d] && !imap_session_line_plausible(d, line->text)) {
			imap_session_not_imap(s, d, line->text.ptr, line->text.len);
			return;
		}
	}
	was_cut = s->cur_cut;
	was_line = s->cur_line;
	was_wire = s->line_wire;
	s->cur_cut = line->cut;
	s->cur_line = line;
	s->line_wire = imap_wire_on(s) ? imap_wire_line(s, line) : 0;
	if (d == DIR_C2S)
		c2s_line(s, line);
	else
		s2c_line(s, line);
	s->cur_cut = was_cut;
	s->cur_line = was_line;
	s->line_wire = was_wire;
	if (d == DIR_C2S)
		imap_cont_line_done(s);
	if (line->text.len > 0)
		s->seen_line[d] = true;
}

static void session_free(struct imap_session *s)
{
	for (size_t i = 0; i < s->n_pend; i++)
		pending_release(s, &s->pend[i]);
	free(s->pend);
	mem_release(s->cfg->budget, s->cap_pend * sizeof *s->pend);
	imap_lexer_free(&s->lx[DIR_C2S]);
	imap_lexer_free(&s->lx[DIR_S2C]);
	imap_pipeline_free(&s->pl);
	imap_facts_free(s);
	imap_msgs_free(s);
	buf_free(&s->args);
	buf_free(&s->scratch);
	imap_cont_free(s);
	imap_resync_free(s);
	free(s->ex[DIR_C2S].items);
	free(s->ex[DIR_S2C].items);
	mem_release(s->cfg->budget, sizeof *s);
	free(s);
}

static void session_end(void *ctx, enum end_reason why, int64_t ts_us)
{
	struct imap_session *s = ctx;
	struct event ev = { .type = EV_SESSION_END, .ts_us = ts_us };
	int64_t last = s->last_ts;

	s->now = ts_us;
	imap_pipeline_end(&s->pl, ts_us);
	if (s->mode == MODE_IMAP) {
		imap_lexer_finish(s->lx[DIR_C2S]);
		imap_lexer_finish(s->lx[DIR_S2C]);
	}
	imap_cont_line_done(s);	/* "+" lines of a command the capture cut */
	if (!s->s2c_anchored) {
		imap_resync_show_unconfirmed(s);
		imap_resync_report(s, false);
	}
	if (s->cfg->extract.begin != NULL) {
		imap_bodies_end_all(s, DIR_C2S, NULL, 0, 0);	/* lines the capture cut */
		imap_bodies_end_all(s, DIR_S2C, NULL, 0, 0);
	}
	for (size_t i = 0; i < s->n_pend; i++)
		if (s->pend[i].login != NULL)
			imap_auth_login_unknown(s, &s->pend[i]);
	if (s->pend_dropped > SESS_PENDING_DROP_NOTICES)
		imap_session_notice(s, NOTICE_PENDING_CAP, "%llu more commands forgotten at the cap of %d pending",
				    (unsigned long long)(s->pend_dropped - SESS_PENDING_DROP_NOTICES),
				    IMAP_MAX_PENDING_TAGS);
	/* A FIN or RST is the session's own last packet; a timeout or the end
	 * of the capture is not. */
	if ((why == END_FIN || why == END_RST) && ts_us > last)
		last = ts_us;
	s->sum.duration_us = last > s->first_ts ? last - s->first_ts : 0;
	for (int d = 0; d < 2; d++)
		ev.u.end.undecrypted[d] = imap_pipeline_undecrypted(&s->pl, (enum stream_dir)d);
	ev.u.end.reason = why;
	ev.u.end.summary = &s->sum;
	imap_session_emit(s, &ev);
	if (s->cfg->tap.end != NULL) {
		struct imap_tap_end te = { ts_us, why, { ev.u.end.undecrypted[DIR_C2S],
							 ev.u.end.undecrypted[DIR_S2C] } };

		s->cfg->tap.end(s->cfg->tap.ctx, s->id, &te);
	}
	session_free(s);
}

/* Gaps that reassembly made at its caps: losses to a cap, as the
 * summary's "capped" counts them. */
static void session_retransmitted(void *ctx, uint64_t n)
{
	struct imap_session *s = ctx;

	s->sum.retransmitted_bytes += n;
}

static void session_capped(void *ctx, uint64_t n)
{
	struct imap_session *s = ctx;

	s->sum.capped += n;
}

/* Wire bytes: a chunk of the capture begins here.  Where the bytes go
 * straight to the lexer, lines that begin at it are marked (imap_resync.c
 * trusts them more). */
static void session_feed(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
			 int64_t ts_us)
{
	struct imap_session *s = ctx;

	if (n != 0 && imap_pipeline_direct(&s->pl, dir))
		imap_lexer_boundary(s->lx[dir]);
	s->now = ts_us;
	if (ts_us > s->last_ts)
		s->last_ts = ts_us;
	imap_pipeline_feed(&s->pl, dir, p, n, ts_us);
}

static void session_gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts_us)
{
	struct imap_session *s = ctx;

	s->now = ts_us;
	if (ts_us > s->last_ts)
		s->last_ts = ts_us;
	imap_pipeline_gap(&s->pl, dir, nbytes, ts_us);
}

static uint64_t *session_frames(void *ctx)
{
	struct imap_session *s = ctx;

	return s->frame;
}

const struct byte_layer_ops imap_session_ops = {
	.frames = session_frames,
	.feed = session_feed,
	.gap = session_gap,
	.end = session_end,
	.capped = session_capped,
	.retransmitted = session_retransmitted,
	.notice = session_take_notice,
};

/* The session struct and its two lexers are charged to the budget (their
 * buffers too, as they grow).  Without room the flow is not followed; the
 * notice says so here, since the flow table above only sees NULL. */
static void notice_not_followed(const struct imap_session_config *cfg,
				const struct imap_session_info *info)
{
	struct notice n = NOTICE_OF(NOTICE_MEMORY);

	if (cfg->budget != NULL && cfg->budget->refused > SESS_MAX_REFUSED_NOTICES)
		return;
	n.session = info->id;
	n.ts_us = info->first_ts_us;
	notice_sendf(cfg->notice, cfg->notice_ctx, &n, "%s: not followed", SESS_WHY_BUDGET);
}

static struct imap_session *session_alloc(const struct imap_session_config *cfg,
					  const struct imap_session_info *info)
{
	struct imap_session *s = NULL;

	if (mem_charge(cfg->budget, sizeof *s) == 0) {
		s = calloc(1, sizeof *s);
		if (s == NULL)
			mem_release(cfg->budget, sizeof *s);
	}
	if (s == NULL)
		notice_not_followed(cfg, info);
	return s;
}

struct imap_session *imap_session_new(const struct imap_session_config *cfg,
				      const struct imap_session_info *info)
{
	struct imap_session *s;
	struct imap_lexer_hooks hooks = { 0 };
	size_t keep = cfg->literal_keep ? cfg->literal_keep : IMAP_DEFAULT_LITERAL_KEEP;
	struct event ev = { .type = EV_SESSION_START, .ts_us = info->first_ts_us };

	if ((s = session_alloc(cfg, info)) == NULL)
		return NULL;
	s->cfg = cfg;
	s->id = info->id;
	copy_endpoint(s->client, info->client);
	copy_endpoint(s->server, info->server);
	s->flow = info->flow;
	event_flow_format(&s->flow);
	s->mid_stream = info->mid_stream;
	s->s2c_anchored = !info->mid_stream;
	s->first_ts = s->last_ts = s->now = info->first_ts_us;
	imap_msgs_init(s);
	s->frame[0] = s->frame[1] = info->first_frame;
	imap_facts_init(s);
	buf_init(&s->args, SESS_MAX_ARGS, cfg->budget);
	buf_init(&s->scratch, SESS_MAX_MAILBOX, cfg->budget);
	buf_init(&s->oc.text, IMAP_MAX_LINE, cfg->budget);
	buf_init(&s->run.text, IMAP_MAX_LINE, cfg->budget);
	imap_pipeline_init(&s->pl, s, cfg);
	hooks.ctx = s;
	hooks.line = session_line;
	hooks.literal_begin = session_literal_begin;
	if (cfg->extract.begin != NULL || (cfg->facts & IMAP_FACTS_WIRE))
		hooks.literal_data = session_literal_data;
	hooks.notice = lexer_notice;
	if (cfg->tap.mark != NULL)
		hooks.skipped = session_skipped;
	s->lx[DIR_C2S] = imap_lexer_new(DIR_C2S, info->mid_stream, keep, cfg->budget, &hooks);
	s->lx[DIR_S2C] = imap_lexer_new(DIR_S2C, info->mid_stream, keep, cfg->budget, &hooks);
	if (s->lx[DIR_C2S] == NULL || s->lx[DIR_S2C] == NULL) {
		notice_not_followed(cfg, info);
		session_free(s);
		return NULL;
	}
	imap_lexer_frames(s->lx[DIR_C2S], &s->frame[DIR_C2S]);
	imap_lexer_frames(s->lx[DIR_S2C], &s->frame[DIR_S2C]);
	ev.u.start.mid_stream = info->mid_stream;
	ev.u.start.implicit_tls = info->implicit_tls;
	imap_session_emit(s, &ev);
	if (info->implicit_tls)
		imap_pipeline_start_tls(&s->pl, PIPE_TLS_IMPLICIT, info->first_ts_us);
	return s;
}

enum imap_session_state imap_session_state(const struct imap_session *s)
{
	return s->facts.state;
}

struct buf_slice imap_session_mailbox(const struct imap_session *s)
{
	return s->facts.mailbox;
}

/* --- classification -------------------------------------------------- */

static bool ci_prefix(const uint8_t *p, size_t n, const char *w)
{
	size_t wl = strlen(w);

	if (n < wl)
		return false;
	for (size_t i = 0; i < wl; i++)
		if ((p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]) != w[i])
			return false;
	return true;
}

static bool word_end(const uint8_t *p, size_t n, size_t i)
{
	return i == n || p[i] == ' ' || p[i] == '\r' || p[i] == '\n';
}

int imap_session_classify(const uint8_t *p, size_t n)
{
	static const char *const first_cmds[] = {
		"CAPABILITY", "LOGIN", "AUTHENTICATE", "STARTTLS", "ID",
	};
	const uint8_t *lf = n ? memchr(p, '\n', n) : NULL;
	size_t len = lf ? (size_t)(lf - p) : n, tag = 0;

	if (ci_prefix(p, len, "* PREAUTH") && word_end(p, len, 9))
		return 1;
	if (ci_prefix(p, len, "* OK") && word_end(p, len, 4)) {
		for (size_t i = 4; i + 4 <= len; i++)
			if (ci_prefix(p + i, len - i, "IMAP"))
				return 1;
		return 2;	/* an OK greeting that does not say IMAP */
	}
	while (tag < len && imap_char_is_tag(p[tag]))
		tag++;
	if (tag == 0 || tag >= len || p[tag] != ' ')
		return -1;
	for (size_t k = 0; k < sizeof first_cmds / sizeof first_cmds[0]; k++) {
		size_t wl = strlen(first_cmds[k]);

		if (ci_prefix(p + tag + 1, len - tag - 1, first_cmds[k]) &&
		    word_end(p, len, tag + 1 + wl))
			return 0;
	}
	return -1;
}
