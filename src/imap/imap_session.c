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
 * Each direction has its own path (struct sess_path): TLS starts at once on
 * an implicit-TLS port, after the server's OK to STARTTLS, or when a capture
 * picked up mid-stream begins with TLS records; inflate starts after the OK
 * to COMPRESS.  The lexer is fed one line at a time, so a switch takes
 * effect at the exact byte after the line that caused it, and the rest of
 * the same chunk takes the new path.  The client's bytes after a STARTTLS
 * or COMPRESS command are held until the server answers, because only the
 * answer says whether they are still plain IMAP.
 *
 * Events are emitted the moment a line completes, so the two directions
 * interleave in capture order. */
#include "imap/imap_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_lexer.h"
#include "imap/imap_parser.h"
#include "imap/imap_sasl.h"
#include "imap/inflate.h"
#include "tls/tls_decrypt.h"
#include "tls/tls_record.h"
#include "util/escape.h"

#define SESS_MAX_TAG      64		/* tag bytes kept for matching */
#define SESS_MAX_MAILBOX  1024		/* selected mailbox name kept */
#define SESS_MAX_LOGIN    1024		/* LOGIN user name kept */
#define SESS_MAX_SECRET   8192		/* LOGIN password kept (--show-secrets) */
#define SESS_MAX_ARGS     (IMAP_MAX_LINE + 64)	/* redacted command arguments */
#define SESS_NOTICE_MAX   320		/* one notice line */
#define SESS_QUOTE_MAX    48		/* wire bytes quoted in a notice */
#define SESS_ENDPOINT_MAX 64		/* "[v6]:port" fits */
#define SESS_PENDING_INITIAL 8
#define SESS_REDACTED     "***"
#define SESS_BAD_LINE_NOTICES 3		/* "not understood" notices in a row */
#define SESS_PENDING_DROP_NOTICES 3	/* "forgot the oldest" notices per session */
#define SESS_WHY_BUDGET   "out of memory or over --max-memory"
/* Sessions refused for memory are said while the run's refusals are fewer
 * than this; past it the budget is plainly exhausted and a line per new
 * flow would only flood stderr. */
#define SESS_MAX_REFUSED_NOTICES 10
/* Client bytes kept while a STARTTLS or COMPRESS awaits its answer.  A
 * well-behaved client sends nothing then; a ClientHello fits many times. */
#define SESS_MAX_HOLD     (64 * 1024)
#define SESS_WHY_TLS_OOM  "out of memory for the TLS layer"
#define SESS_EX_INITIAL   4		/* --extract bodies of one line, first table */

enum sess_mode {
	MODE_IMAP,		/* the final bytes are IMAP: parsed */
	MODE_NOT_IMAP,		/* another protocol on an IMAP port */
};

/* One direction's way through the byte layers. */
struct sess_path {
	bool tls;		/* wire bytes go to the TLS layer */
	bool deflate;		/* bytes after TLS go to inflate (counted without it) */
	bool hold;		/* client bytes after STARTTLS/COMPRESS await the answer */
	bool hold_in_tls;	/* the held bytes came out of the TLS layer */
	struct buf held;
	unsigned gen;		/* bumped at every switch: a line loop stops there */
};

/* --extract: the bodies begun in one direction's logical line in
 * progress.  They end when the line does, because a FETCH response may name
 * the UID after the body.  left mirrors the lexer's count for every literal
 * (body or not), so that a gap tells whether the lexer absorbs it inside a
 * literal or drops the line. */
struct sess_ex_item {
	void *h;		/* the hooks' handle */
	size_t lit;		/* its literal's index in the line */
};

struct sess_extract {
	struct sess_ex_item *items;	/* oldest first */
	size_t n, cap;		/* cap grows up to IMAP_MAX_LITERALS */
	bool cur;		/* items[n - 1] is receiving its literal */
	bool in_lit;		/* a literal of this line is being consumed */
	uint64_t left;		/* its bytes still to come (received or lost) */
};

/* A LOGIN or AUTHENTICATE awaiting its tagged completion. */
struct login_attempt {
	struct mem_budget *budget;	/* charged for this struct */
	bool is_sasl;
	bool out_of_state;		/* sent while already authenticated */
	bool secret_sent;		/* LOGIN: a password token was there */
	struct imap_sasl sasl;		/* is_sasl */
	struct buf user, secret;	/* LOGIN command */
	bool have_user, have_secret;
};

struct pending {
	uint8_t tag[SESS_MAX_TAG];
	size_t tag_len;			/* bytes kept in tag */
	size_t wire_tag_len;		/* the tag's real length */
	char name[IMAP_MAX_NAME];
	int64_t ts_last;		/* last byte of the command */
	uint8_t *arg;			/* SELECT/EXAMINE mailbox, or NULL */
	size_t arg_len;
	struct login_attempt *login;	/* LOGIN/AUTHENTICATE, or NULL */
};

struct imap_session {
	const struct imap_session_config *cfg;
	uint64_t id;
	char client[SESS_ENDPOINT_MAX];
	char server[SESS_ENDPOINT_MAX];
	bool mid_stream;
	enum sess_mode mode;
	enum imap_session_state state;
	enum transport transport;
	struct imap_lexer *lx[2];

	struct sess_path path[2];
	struct tls_session *tls;	/* NULL until TLS starts, or out of memory */
	struct inflate_session *zin;	/* NULL until COMPRESS, or out of memory */
	const char *tls_phase;		/* "starttls" / "implicit"; NULL: no TLS */
	bool tls_decrypting;		/* the handshake said so */
	bool compressed;		/* COMPRESS is on: no second switch */

	uint64_t plain_off[2];		/* final (decrypted, inflated) stream offsets */
	uint64_t wire_off[2];		/* TCP stream offsets */
	bool seen_byte[2];
	bool seen_line[2];
	bool gap_first[2];		/* a gap came before the first line */
	bool greeted;
	/* Picked up mid-stream, the server side may start inside a message
	 * body that holds IMAP-looking lines: its lines are skipped until one
	 * answers a command we saw. */
	bool s2c_anchored;
	bool orphan_done;		/* ended an IDLE begun before the capture */
	uint64_t skipped_unanchored;
	unsigned bad_run[2];		/* unparsable lines in a row */
	uint64_t bad_quiet[2];		/* of them, not given a notice */
	uint64_t pend_dropped;		/* commands forgotten at the pending cap */
	bool depth_noticed[2];		/* the current line passed IMAP_MAX_DEPTH */

	struct pending *pend;		/* oldest first */
	size_t n_pend, cap_pend;
	struct login_attempt *sasl;	/* exchange in progress; owned by pend */
	bool idling;

	/* The client line waiting for a synchronising literal's "+". */
	uint8_t partial_tag[SESS_MAX_TAG];
	size_t partial_tag_len;

	struct buf mailbox;
	bool have_mailbox;
	struct buf args;		/* redacted command arguments */
	struct buf scratch;		/* mailbox names being decoded */

	struct session_summary sum;
	int64_t first_ts, last_ts, now;

	struct sess_extract ex[2];
	enum stream_dir lex_dir;	/* the lexer being fed (literal_data has no dir) */
	struct buf user;		/* the logged-in user, for --extract */
	bool have_user;
};

static void session_line(void *ctx, const struct imap_line *line);

/* --- small helpers ------------------------------------------------------ */

static struct buf_slice cslice(const char *s)
{
	return (struct buf_slice){ (const uint8_t *)s, strlen(s) };
}

static struct buf_slice bslice(const struct buf *b)
{
	return (struct buf_slice){ b->data ? b->data : (const uint8_t *)"", b->len };
}

static bool name_is(const char *name, const char *word)
{
	return strcmp(name, word) == 0;
}

static void copy_endpoint(char *dst, const char *src)
{
	snprintf(dst, SESS_ENDPOINT_MAX, "%s", src ? src : "?");
}

static void sess_emit(struct imap_session *s, struct event *ev)
{
	const struct output *out = &s->cfg->out;

	ev->session = s->id;
	ev->client = s->client;
	ev->server = s->server;
	if (out->ops != NULL && out->ops->event != NULL)
		out->ops->event(out->ctx, ev);
}

static void sess_notice(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Every notice names its session, so the callee only adds "imapscope: ". */
static void sess_notice(struct imap_session *s, const char *fmt, ...)
{
	char msg[SESS_NOTICE_MAX];
	int k;
	va_list ap;

	s->sum.notices++;
	if (s->cfg->notice == NULL)
		return;
	k = snprintf(msg, sizeof msg, "session %llu: ", (unsigned long long)s->id);
	va_start(ap, fmt);
	vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
	va_end(ap);
	s->cfg->notice(s->cfg->notice_ctx, s->id, s->now, msg);
}

/* Wire bytes for a notice: escaped, cut to SESS_QUOTE_MAX, NUL-terminated. */
static void quote_wire(char *dst, size_t cap, const uint8_t *p, size_t n)
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

static void lexer_notice(void *ctx, const char *msg)
{
	struct imap_session *s = ctx;

	sess_notice(s, "%s", msg);
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

/* Up to IMAP_MAX_PENDING_TAGS of these (each with 9 KB of user and secret)
 * may wait per session, so they are charged to the run's budget. */
static struct login_attempt *attempt_new(bool is_sasl, struct mem_budget *budget)
{
	struct login_attempt *a;

	if (mem_charge(budget, sizeof *a) != 0)
		return NULL;
	a = calloc(1, sizeof *a);
	if (a == NULL) {
		mem_release(budget, sizeof *a);
		return NULL;
	}
	a->budget = budget;
	a->is_sasl = is_sasl;
	buf_init(&a->user, SESS_MAX_LOGIN, budget);
	buf_init(&a->secret, SESS_MAX_SECRET, budget);
	return a;
}

static void attempt_free(struct login_attempt *a)
{
	if (a == NULL)
		return;
	if (a->is_sasl)
		imap_sasl_free(&a->sasl);
	buf_free(&a->user);
	buf_free(&a->secret);
	mem_release(a->budget, sizeof *a);
	free(a);
}

static void pending_release(struct imap_session *s, struct pending *p)
{
	if (s->sasl != NULL && s->sasl == p->login)
		s->sasl = NULL;
	attempt_free(p->login);
	if (p->arg != NULL)
		mem_release(s->cfg->budget, p->arg_len);
	free(p->arg);
	p->login = NULL;
	p->arg = NULL;
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
	size_t ncap = s->cap_pend ? s->cap_pend * 2 : SESS_PENDING_INITIAL;
	struct pending *np;

	if (ncap > IMAP_MAX_PENDING_TAGS)
		ncap = IMAP_MAX_PENDING_TAGS;
	/* A full table is 1024 entries of 150 bytes per session: charged. */
	if (mem_charge(s->cfg->budget, (ncap - s->cap_pend) * sizeof *np) != 0)
		return false;
	np = realloc(s->pend, ncap * sizeof *np);
	if (np == NULL) {
		mem_release(s->cfg->budget, (ncap - s->cap_pend) * sizeof *np);
		return false;
	}
	s->pend = np;
	s->cap_pend = ncap;
	return true;
}

static void login_unknown(struct imap_session *s, const struct pending *p, int64_t ts);

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
		quote_wire(tag, sizeof tag, p->tag, p->tag_len);
		sess_notice(s, "more than %d commands pending: forgot the oldest (%s %s)",
			    IMAP_MAX_PENDING_TAGS, tag, p->name);
	}
	if (p->login != NULL)
		login_unknown(s, p, s->now);
	pending_release(s, p);
	pending_remove(s, 0);
}

/* A new entry at the end, or NULL when out of memory. */
static struct pending *pending_add(struct imap_session *s, const struct imap_command *cmd,
				   int64_t ts_last)
{
	struct pending *p;

	if (s->n_pend == IMAP_MAX_PENDING_TAGS)
		pending_drop_oldest(s);
	if (s->n_pend == s->cap_pend && !pending_grow(s)) {
		s->sum.capped++;
		sess_notice(s, SESS_WHY_BUDGET ": command not tracked");
		return NULL;
	}
	p = &s->pend[s->n_pend++];
	memset(p, 0, sizeof *p);
	p->wire_tag_len = cmd->tag.len;
	p->tag_len = cmd->tag.len < SESS_MAX_TAG ? cmd->tag.len : SESS_MAX_TAG;
	memcpy(p->tag, cmd->tag.ptr, p->tag_len);
	memcpy(p->name, cmd->name, sizeof p->name);
	p->ts_last = ts_last;
	return p;
}

/* --- login events -------------------------------------------------------- */

/* Did the password or token itself cross the wire (so in clear, when the
 * transport was plain)?  Challenge-response mechanisms never send it. */
static bool secret_crossed(const struct login_attempt *a)
{
	if (!a->is_sasl)
		return a->secret_sent;
	switch (a->sasl.mech) {
	case IMAP_SASL_PLAIN:
	case IMAP_SASL_LOGIN:
	case IMAP_SASL_XOAUTH2:
	case IMAP_SASL_OAUTHBEARER:
		return a->sasl.have_secret;	/* not when cancelled first */
	default:
		return false;
	}
}

static void emit_login(struct imap_session *s, const struct pending *p,
		       enum login_result result, const struct imap_response *resp,
		       int64_t ts)
{
	const struct login_attempt *a = p->login;
	struct event ev = { .type = EV_LOGIN, .ts_us = ts };

	if (a->is_sasl) {
		ev.u.login.user = imap_sasl_user(&a->sasl);
		ev.u.login.mechanism = cslice(a->sasl.mech_name);
		if (s->cfg->show_secrets)
			ev.u.login.secret = imap_sasl_secret(&a->sasl);
	} else {
		ev.u.login.user = a->have_user ? bslice(&a->user) : SLICE_NULL;
		ev.u.login.mechanism = cslice("LOGIN");
		if (s->cfg->show_secrets && a->have_secret)
			ev.u.login.secret = bslice(&a->secret);
	}
	ev.u.login.result = result;
	ev.u.login.tag = (struct buf_slice){ p->tag, p->tag_len };
	ev.u.login.transport = s->transport;
	ev.u.login.cleartext_secret = s->transport == TRANSPORT_PLAIN && secret_crossed(a);
	if (resp != NULL) {
		ev.u.login.code = resp->code;
		ev.u.login.text = resp->text;
	}
	sess_emit(s, &ev);
}

static void login_unknown(struct imap_session *s, const struct pending *p, int64_t ts)
{
	if (!p->login->out_of_state)
		emit_login(s, p, LOGIN_UNKNOWN, NULL, ts);
}

/* --- mode switches ------------------------------------------------------- */

static size_t feed_plain(struct imap_session *s, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts, bool inside_tls);
static void feed_final(struct imap_session *s, enum stream_dir dir, const uint8_t *p,
		       size_t n, int64_t ts);
static void plain_gap(struct imap_session *s, enum stream_dir dir, uint64_t nbytes,
		      int64_t ts);
static void final_gap(struct imap_session *s, enum stream_dir dir, uint64_t nbytes,
		      int64_t ts);

static void switch_path(struct imap_session *s, bool tls)
{
	for (int d = DIR_C2S; d <= DIR_S2C; d++) {
		if (tls)
			s->path[d].tls = true;
		else
			s->path[d].deflate = true;
		s->path[d].gen++;
	}
}

/* The handshake hook: the contract's tls event, once per session, when the
 * TLS layer knows whether it can decrypt (not when TLS begins, since only
 * the ServerHello says which version and cipher were chosen). */
static void tls_on_handshake(void *ctx, const struct tls_info *info)
{
	struct imap_session *s = ctx;
	struct event ev = { .type = EV_TLS, .ts_us = s->now };

	ev.u.tls.phase = s->tls_phase;
	ev.u.tls.version = info->version_id != 0 ? info->version : NULL;
	ev.u.tls.cipher = info->version_id != 0 ? info->cipher : NULL;
	ev.u.tls.sni = info->sni.len > 0 ? info->sni : SLICE_NULL;
	ev.u.tls.decrypted = info->decrypted;
	ev.u.tls.reason = info->decrypted ? NULL : info->reason;
	s->tls_decrypting = info->decrypted;
	sess_emit(s, &ev);
}

static void tls_on_plaintext(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
			     int64_t ts)
{
	struct imap_session *s = ctx;

	s->now = ts;
	feed_plain(s, dir, p, n, ts, true);	/* below TLS nothing switches */
}

static void tls_on_gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts)
{
	plain_gap(ctx, dir, nbytes, ts);
}

static void layer_notice(void *ctx, const char *msg)
{
	sess_notice(ctx, "%s", msg);
}

/* The stream is TLS from here on, in both directions: the server's OK to
 * STARTTLS, an implicit-TLS port, or TLS records where a capture begins.
 * Once only, and never under COMPRESS (RFC 4978 section 4 forbids it). */
static void session_start_tls(struct imap_session *s, const char *phase, int64_t ts)
{
	struct tls_hooks h = {
		.ctx = s, .plaintext = tls_on_plaintext, .gap = tls_on_gap,
		.handshake = tls_on_handshake, .notice = layer_notice,
	};

	if (s->tls_phase != NULL || s->compressed)
		return;
	s->tls_phase = phase;
	s->transport = name_is(phase, "implicit") ? TRANSPORT_IMPLICIT_TLS : TRANSPORT_STARTTLS;
	s->tls = tls_session_new(s->cfg->keys, &h, s->cfg->budget);
	switch_path(s, true);
	if (s->tls == NULL) {
		/* counted only; the user still learns that TLS began */
		struct tls_info info = { .version = "unknown", .cipher = "unknown",
					 .reason = SESS_WHY_TLS_OOM };

		s->now = ts;
		sess_notice(s, "%s", SESS_WHY_TLS_OOM);
		tls_on_handshake(s, &info);
	}
}

static void inflate_on_data(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
			    int64_t ts)
{
	feed_final(ctx, dir, p, n, ts);
}

static void inflate_on_gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts)
{
	final_gap(ctx, dir, nbytes, ts);
}

/* COMPRESS=DEFLATE is on in both directions (RFC 4978): the server's bytes
 * after this OK line, the client's after its COMPRESS command line (held
 * until now).  Inside TLS when TLS is on. */
static void session_start_compress(struct imap_session *s, int64_t ts)
{
	struct inflate_hooks h = {
		.ctx = s, .data = inflate_on_data, .gap = inflate_on_gap,
		.notice = layer_notice,
	};
	struct event ev = { .type = EV_COMPRESS, .ts_us = ts };

	if (s->compressed)
		return;
	s->compressed = true;
	s->zin = inflate_new(&h, 0, s->cfg->budget);
	if (s->zin == NULL)
		sess_notice(s, "out of memory for inflate: the compressed stream is only counted");
	switch_path(s, false);
	ev.u.compress.algorithm = "DEFLATE";
	ev.u.compress.decoded = s->zin != NULL;
	sess_emit(s, &ev);
}

/* A client STARTTLS or COMPRESS: until the server answers, the client's
 * next bytes may be TLS, deflate or still IMAP, so they wait. */
static void hold_begin(struct imap_session *s, bool starttls)
{
	struct sess_path *sp = &s->path[DIR_C2S];

	if (starttls ? s->tls_phase != NULL || s->compressed : s->compressed)
		return;		/* the server will refuse; nothing switches */
	sp->hold = true;
	sp->hold_in_tls = sp->tls;
	sp->gen++;
}

/* The answer came (or holding became impossible): the held bytes take
 * whatever path the client direction has now. */
static void hold_end(struct imap_session *s, int64_t ts)
{
	struct sess_path *sp = &s->path[DIR_C2S];
	struct buf held = sp->held;

	if (!sp->hold)
		return;
	sp->hold = false;
	sp->gen++;
	buf_init(&sp->held, SESS_MAX_HOLD, s->cfg->budget);
	if (held.len > 0) {
		size_t used = feed_plain(s, DIR_C2S, held.data, held.len, ts, sp->hold_in_tls);

		if (used < held.len && s->tls != NULL)
			tls_session_feed(s->tls, DIR_C2S, held.data + used, held.len - used, ts);
	}
	buf_free(&held);
}

/* Keep client bytes while holding; false when they did not fit, the hold
 * is then over and the caller passes them on as they are. */
static bool hold_bytes(struct imap_session *s, const uint8_t *p, size_t n, int64_t ts)
{
	if (buf_append(&s->path[DIR_C2S].held, p, n) == 0)
		return true;
	sess_notice(s, "the client sent over %d bytes before the server answered; "
		    "reading them as IMAP", SESS_MAX_HOLD);
	hold_end(s, ts);
	return false;
}

/* Another protocol on an IMAP port: stop parsing, keep counting. */
static void session_not_imap(struct imap_session *s, enum stream_dir dir,
			     const uint8_t *p, size_t n)
{
	char q[SESS_NOTICE_MAX];

	quote_wire(q, sizeof q, p, n);
	s->mode = MODE_NOT_IMAP;
	sess_notice(s, "not IMAP traffic (%s's first line: \"%s\")",
		    dir == DIR_C2S ? "client" : "server", q);
}

/* --- events made from lines ---------------------------------------------- */

static void emit_continuation(struct imap_session *s, enum stream_dir dir,
			      struct buf_slice text, int64_t ts)
{
	struct event ev = { .type = EV_CONTINUATION, .ts_us = ts };

	ev.u.continuation.dir = dir;
	ev.u.continuation.text = text;
	sess_emit(s, &ev);
}

/* The arguments with the secret token (raw, inside the line) replaced by
 * "***"; raw.ptr NULL or --show-secrets: the arguments as they stand. */
static struct buf_slice redacted_args(struct imap_session *s, const struct imap_line *line,
				      const struct imap_command *cmd, struct buf_slice raw)
{
	const uint8_t *a = cmd->args.ptr, *end = line->text.ptr + line->text.len;
	const uint8_t *raw_end;

	if (raw.ptr == NULL || s->cfg->show_secrets)
		return cmd->args;
	raw_end = raw.ptr + raw.len;
	buf_reset(&s->args);
	if (buf_append(&s->args, a, (size_t)(raw.ptr - a)) != 0 ||
	    buf_append(&s->args, SESS_REDACTED, strlen(SESS_REDACTED)) != 0 ||
	    buf_append(&s->args, raw_end, (size_t)(end - raw_end)) != 0) {
		buf_reset(&s->args);	/* cannot happen: sized for a line */
		if (buf_append(&s->args, SESS_REDACTED, strlen(SESS_REDACTED)) != 0)
			return cslice(SESS_REDACTED);
	}
	return bslice(&s->args);
}

static void emit_command(struct imap_session *s, const struct imap_line *line,
			 const struct imap_command *cmd, struct buf_slice secret_raw)
{
	struct event ev = { .type = EV_COMMAND, .ts_us = line->ts_last_us };

	ev.u.command.tag = cmd->tag;
	ev.u.command.name = cslice(cmd->name);
	ev.u.command.args = redacted_args(s, line, cmd, secret_raw);
	ev.u.command.literal_bytes = literal_total(line);
	s->sum.commands++;
	sess_emit(s, &ev);
}

/* A line did not parse: a notice for the first few in a row, then quiet
 * (a body read as lines after a resync would flood), summed up later. */
static void line_not_understood(struct imap_session *s, const struct imap_line *line)
{
	char q[SESS_NOTICE_MAX];
	enum stream_dir d = line->dir;

	if (s->bad_run[d]++ >= SESS_BAD_LINE_NOTICES) {
		s->bad_quiet[d]++;
		return;
	}
	quote_wire(q, sizeof q, line->text.ptr, line->text.len);
	sess_notice(s, "%s line not understood: \"%s\"", d == DIR_C2S ? "client" : "server", q);
}

static void line_understood(struct imap_session *s, enum stream_dir d)
{
	if (s->bad_quiet[d] != 0)
		sess_notice(s, "%llu more %s lines not understood",
			    (unsigned long long)s->bad_quiet[d], d == DIR_C2S ? "client" : "server");
	s->bad_run[d] = 0;
	s->bad_quiet[d] = 0;
}

/* --- client lines ------------------------------------------------------ */

/* An astring's value (atom, quoted with escapes undone, or a literal kept
 * in memory) appended to out; -1 if there is none or it was not kept. */
static int tok_value(struct buf *out, const struct imap_tok *t)
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

static bool tok_is_string(const struct imap_tok *t)
{
	return t->type == IMAP_TOK_ATOM || t->type == IMAP_TOK_QUOTED ||
	       t->type == IMAP_TOK_LITERAL;
}

/* LOGIN SP userid SP password: the user is shown, the password only with
 * --show-secrets.  *secret_r gets the password token to redact. */
static struct login_attempt *login_command(struct imap_session *s, const struct imap_line *line,
					   const struct imap_command *cmd,
					   struct buf_slice *secret_r)
{
	struct imap_tok_cursor c;
	struct imap_tok ut, pt;
	struct login_attempt *a;

	imap_tok_init(&c, line, cmd->args_off);
	imap_tok_next(&c, &ut);
	imap_tok_next(&c, &pt);
	if (tok_is_string(&pt))
		*secret_r = pt.raw;
	a = attempt_new(false, s->cfg->budget);
	if (a == NULL)
		return NULL;
	a->have_user = tok_value(&a->user, &ut) == 0;
	a->have_secret = tok_value(&a->secret, &pt) == 0;
	a->secret_sent = tok_is_string(&pt);
	return a;
}

/* AUTHENTICATE SP mech [SP initial-response] (RFC 4959 SASL-IR). */
static struct login_attempt *auth_command(struct imap_session *s, const struct imap_line *line,
					  const struct imap_command *cmd,
					  struct buf_slice *secret_r)
{
	struct imap_tok_cursor c;
	struct imap_tok mt, ir;
	struct login_attempt *a;

	imap_tok_init(&c, line, cmd->args_off);
	imap_tok_next(&c, &mt);
	imap_tok_next(&c, &ir);
	if (ir.type == IMAP_TOK_ATOM && !buf_slice_ieq(ir.value, "="))
		*secret_r = ir.raw;
	a = attempt_new(true, s->cfg->budget);
	if (a == NULL)
		return NULL;
	if (mt.type != IMAP_TOK_ATOM)
		mt.value = cslice("");
	imap_sasl_init(&a->sasl, mt.value.ptr, mt.value.len, s->cfg->budget);
	if (ir.type == IMAP_TOK_ATOM)
		imap_sasl_response(&a->sasl, ir.value.ptr, ir.value.len);
	return a;
}

/* The mailbox of a pending SELECT/EXAMINE, charged to the budget; without
 * memory the mailbox simply stays unknown. */
static void pending_set_arg(struct imap_session *s, struct pending *p, struct buf_slice v)
{
	if (mem_charge(s->cfg->budget, v.len) != 0)
		return;
	p->arg = malloc(v.len);
	if (p->arg == NULL) {
		mem_release(s->cfg->budget, v.len);
		return;
	}
	memcpy(p->arg, v.ptr, v.len);
	p->arg_len = v.len;
}

/* What the session remembers of a command until its completion. */
static void command_effects(struct imap_session *s, const struct imap_line *line,
			    const struct imap_command *cmd, struct pending *p)
{
	if (name_is(cmd->name, "SELECT") || name_is(cmd->name, "EXAMINE")) {
		struct imap_tok_cursor c;
		struct imap_tok t;

		imap_tok_init(&c, line, cmd->args_off);
		imap_tok_next(&c, &t);
		if (tok_value(&s->scratch, &t) == 0 && s->scratch.len > 0)
			pending_set_arg(s, p, bslice(&s->scratch));
	} else if (name_is(cmd->name, "IDLE")) {
		s->idling = true;
	} else if (name_is(cmd->name, "STARTTLS") || name_is(cmd->name, "COMPRESS")) {
		hold_begin(s, name_is(cmd->name, "STARTTLS"));
	} else if (name_is(cmd->name, "APPEND")) {
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
	struct pending *p;

	if (name_is(cmd->name, "LOGIN"))
		a = login_command(s, line, cmd, &secret);
	else if (name_is(cmd->name, "AUTHENTICATE"))
		a = auth_command(s, line, cmd, &secret);
	emit_command(s, line, cmd, secret);
	p = pending_add(s, cmd, line->ts_last_us);
	if (p == NULL) {
		attempt_free(a);
		return;
	}
	p->login = a;
	if (a != NULL)
		a->out_of_state = s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED;
	if (a != NULL && a->is_sasl)
		s->sasl = a;
	command_effects(s, line, cmd, p);
}

/* A client line inside AUTHENTICATE: SASL data, shown redacted except for
 * the cancel "*" and the empty "=". */
static void sasl_line(struct imap_session *s, const struct imap_line *line)
{
	struct buf_slice t = line->text;
	bool plain = s->cfg->show_secrets || t.len == 0 || buf_slice_ieq(t, "*") || buf_slice_ieq(t, "=");

	imap_sasl_response(&s->sasl->sasl, t.ptr, t.len);
	emit_continuation(s, DIR_C2S, plain ? t : cslice(SESS_REDACTED), line->ts_last_us);
}

static void c2s_line(struct imap_session *s, const struct imap_line *line)
{
	struct imap_command cmd;

	s->partial_tag_len = 0;
	if (s->sasl != NULL) {
		sasl_line(s, line);
		return;
	}
	if (line->text.len == 0)
		return;		/* a stray empty line is harmless */
	/* Picked up mid-stream, DONE ends an IDLE we did not see begin; its
	 * completion is then the server line to find sync on. */
	if ((s->idling || (s->mid_stream && s->n_pend == 0)) && buf_slice_ieq(line->text, "DONE")) {
		s->orphan_done = !s->idling;
		s->idling = false;
		emit_continuation(s, DIR_C2S, line->text, line->ts_last_us);
		return;
	}
	if (imap_parse_command(line, &cmd) != 0) {
		line_not_understood(s, line);
		return;
	}
	line_understood(s, DIR_C2S);
	on_command(s, line, &cmd);
}

/* --- --extract: which literals are message bodies ------------------------ */

static bool slice_u64(struct buf_slice s, uint64_t *v_r)
{
	uint64_t v = 0;

	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9' ||
		    __builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s.ptr[i] - '0', &v))
			return false;
	}
	*v_r = v;
	return true;
}

static bool slice_ci_prefix(struct buf_slice s, const char *w)
{
	size_t n = strlen(w);

	return s.len >= n && buf_slice_ieq((struct buf_slice){ s.ptr, n }, w);
}

/* A FETCH item whose value is message text: BODY[...] (BODY.PEEK[...] is
 * what clients write; some servers echo it), BINARY[...], RFC822 and its
 * .HEADER and .TEXT.  Not BINARY.SIZE, ENVELOPE strings or annotations. */
static bool fetch_body_name(struct buf_slice n)
{
	return slice_ci_prefix(n, "BODY[") || slice_ci_prefix(n, "BODY.PEEK[") ||
	       slice_ci_prefix(n, "BINARY[") || slice_ci_prefix(n, "BINARY.PEEK[") ||
	       buf_slice_ieq(n, "RFC822") || buf_slice_ieq(n, "RFC822.HEADER") || buf_slice_ieq(n, "RFC822.TEXT");
}

/* What "* N FETCH (name value name value ..." says so far. */
struct fetch_scan {
	uint64_t seq;
	uint64_t uid;			/* 0: no UID item (yet) */
	struct buf_slice name;		/* the last item name with a value */
	const struct imap_literal *lit;	/* that value, when a literal */
	bool too_deep;			/* the walk stopped at IMAP_MAX_DEPTH */
};

/* Walks the msg-att pairs at the top level of the list; nested lists
 * (FLAGS, ENVELOPE, BODYSTRUCTURE) are values and skipped whole.  false if
 * the line is not a FETCH response. */
static bool fetch_scan(const struct imap_line *line, struct fetch_scan *fs)
{
	struct imap_tok_cursor c;
	struct imap_tok t;
	struct buf_slice name = SLICE_NULL;
	bool want_name = true;

	memset(fs, 0, sizeof *fs);
	imap_tok_init(&c, line, 0);
	if (imap_tok_next(&c, &t) != IMAP_TOK_ATOM || !buf_slice_ieq(t.value, "*") ||
	    imap_tok_next(&c, &t) != IMAP_TOK_ATOM || !slice_u64(t.value, &fs->seq) ||
	    imap_tok_next(&c, &t) != IMAP_TOK_ATOM || !buf_slice_ieq(t.value, "FETCH") ||
	    imap_tok_next(&c, &t) != IMAP_TOK_LPAREN)
		return false;
	while (imap_tok_next(&c, &t) != IMAP_TOK_END && t.type != IMAP_TOK_ERROR) {
		if (t.type == IMAP_TOK_RPAREN && c.depth <= 1) {
			if (c.depth == 0)
				break;		/* the end of the list */
			want_name = true;	/* a list value ended */
		} else if (c.depth >= 2) {
			continue;		/* inside a list value */
		} else if (want_name) {
			name = t.value;
			want_name = false;
		} else {
			if (buf_slice_ieq(name, "UID") && t.type == IMAP_TOK_ATOM)
				slice_u64(t.value, &fs->uid);
			fs->name = name;
			fs->lit = t.type == IMAP_TOK_LITERAL ? t.lit : NULL;
			want_name = true;
		}
	}
	fs->too_deep = c.too_deep;
	return true;
}

static struct buf_slice sess_user(const struct imap_session *s)
{
	return s->have_user ? bslice(&s->user) : SLICE_NULL;
}

/* A line nested past IMAP_MAX_DEPTH could not be walked to its body: said
 * once per line (the walk runs at each literal and at the line's end). */
static void depth_capped(struct imap_session *s, enum stream_dir d)
{
	if (s->depth_noticed[d])
		return;
	s->depth_noticed[d] = true;
	s->sum.capped++;
	sess_notice(s, "%s line nests lists deeper than %d: its message bodies are not "
		    "extracted", d == DIR_C2S ? "client" : "server", IMAP_MAX_DEPTH);
}

/* A server literal that is the value of a body item of a FETCH response. */
static bool fetch_body_meta(struct imap_session *s, const struct imap_line *partial,
			    struct extract_meta *m)
{
	struct fetch_scan fs;

	if (!s->s2c_anchored || !fetch_scan(partial, &fs))
		return false;
	if (fs.too_deep)
		depth_capped(s, DIR_S2C);
	if (fs.lit != &partial->lits[partial->n_lits - 1] || !fetch_body_name(fs.name))
		return false;
	m->section = fs.name;
	m->seq = fs.seq;
	m->uid = fs.uid;
	m->mailbox = imap_session_mailbox(s);
	return true;
}

/* A client literal that is a message of an APPEND (each of MULTIAPPEND's):
 *   append = "APPEND" SP mailbox 1*(SP append-opts SP append-data)
 * so a literal at the top level other than the mailbox; also RFC 6855's
 * "UTF8 (~{n})".  CATENATE parts are pieces, not messages: skipped. */
static bool append_body_meta(struct imap_session *s, const struct imap_line *partial,
			     struct extract_meta *m)
{
	struct imap_command cmd;
	struct imap_tok_cursor c;
	struct imap_tok t, mbox, prev = { 0 };
	bool utf8 = false;

	if (s->sasl != NULL || imap_parse_command(partial, &cmd) != 0 ||
	    !name_is(cmd.name, "APPEND"))
		return false;
	imap_tok_init(&c, partial, cmd.args_off);
	imap_tok_next(&c, &mbox);
	if (!tok_is_string(&mbox))
		return false;
	while (imap_tok_next(&c, &t) != IMAP_TOK_END && t.type != IMAP_TOK_ERROR) {
		if (t.type == IMAP_TOK_LPAREN)
			utf8 = c.depth == 1 && prev.type == IMAP_TOK_ATOM && buf_slice_ieq(prev.value, "UTF8");
		prev = t;
	}
	if (c.too_deep)
		depth_capped(s, DIR_C2S);
	if (prev.type != IMAP_TOK_LITERAL || prev.lit != &partial->lits[partial->n_lits - 1] ||
	    !(c.depth == 0 || (c.depth == 1 && utf8)))
		return false;
	m->mailbox = tok_value(&s->scratch, &mbox) == 0 ? bslice(&s->scratch) : SLICE_NULL;
	return true;
}

/* The line's bodies are over: uid and seq as the whole line gave them.
 * line NULL: the line was lost (a gap, the end of the capture). */
static void ex_end_all(struct imap_session *s, enum stream_dir dir,
		       const struct imap_line *line, uint64_t uid, uint64_t seq)
{
	struct sess_extract *e = &s->ex[dir];

	for (size_t i = 0; i < e->n; i++) {
		const struct imap_literal *l = line != NULL && e->items[i].lit < line->n_lits ?
					       &line->lits[e->items[i].lit] : NULL;
		/* a refused synchronising literal; only an empty one is in doubt */
		bool unsent = l != NULL && l->truncated && l->received == 0;

		s->cfg->extract.end(s->cfg->extract.ctx, e->items[i].h, uid, seq, unsent);
	}
	e->n = 0;
	e->cur = false;
}

static bool ex_push(struct sess_extract *e, void *item, size_t lit)
{
	if (e->n == e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : SESS_EX_INITIAL;
		struct sess_ex_item *ni;

		if (ncap > IMAP_MAX_LITERALS)
			return false;
		ni = realloc(e->items, ncap * sizeof *ni);
		if (ni == NULL)
			return false;
		e->items = ni;
		e->cap = ncap;
	}
	e->items[e->n++] = (struct sess_ex_item){ item, lit };
	return true;
}

/* A literal starts (partial: the line up to its marker): follow its count,
 * and if it is a message body, begin an item. */
static void ex_literal_begin(struct imap_session *s, const struct imap_line *partial)
{
	struct sess_extract *e = &s->ex[partial->dir];
	const struct imap_literal *l;
	struct extract_meta m = { .client = s->client, .server = s->server };
	void *item;

	e->cur = false;
	e->in_lit = false;
	e->left = 0;
	if (partial->n_lits == 0 ||
	    partial->lits[partial->n_lits - 1].text_off != partial->text.len) {
		ex_end_all(s, partial->dir, NULL, 0, 0);	/* past the literal table: lost track */
		return;
	}
	l = &partial->lits[partial->n_lits - 1];
	if (partial->n_lits == 1 && e->n != 0)
		ex_end_all(s, partial->dir, NULL, 0, 0);	/* left from a line that never ended */
	e->left = l->size;
	e->in_lit = l->size != 0;
	if (s->mode != MODE_IMAP)
		return;
	if (!(partial->dir == DIR_S2C ? fetch_body_meta(s, partial, &m)
				      : append_body_meta(s, partial, &m)))
		return;
	m.dir = partial->dir;
	m.user = sess_user(s);
	m.size = l->size;
	m.ts_us = s->now;
	item = s->cfg->extract.begin(s->cfg->extract.ctx, s->id, &m);
	if (item == NULL)
		return;
	if (!ex_push(e, item, partial->n_lits - 1)) {
		sess_notice(s, "too many message bodies in one line: one not extracted");
		s->cfg->extract.end(s->cfg->extract.ctx, item, 0, 0, true);
		return;
	}
	e->cur = e->in_lit;
}

static void session_literal_data(void *ctx, const uint8_t *p, size_t n)
{
	struct imap_session *s = ctx;
	struct sess_extract *e = &s->ex[s->lex_dir];

	if (e->cur)
		s->cfg->extract.data(s->cfg->extract.ctx, e->items[e->n - 1].h, p, n);
	e->left = n < e->left ? e->left - n : 0;
	if (e->left == 0)
		e->in_lit = e->cur = false;
}

/* Called before the lexer sees the gap, with the lexer's own rule: inside
 * a literal that can absorb it, the body has a hole; anywhere else the
 * lexer drops the partial line, so its bodies end here, cut. */
static void ex_gap(struct imap_session *s, enum stream_dir dir, uint64_t nbytes)
{
	struct sess_extract *e = &s->ex[dir];

	if (s->cfg->extract.begin == NULL)
		return;
	if (!e->in_lit || nbytes > e->left) {
		e->in_lit = false;
		ex_end_all(s, dir, NULL, 0, 0);
		return;
	}
	if (e->cur)
		s->cfg->extract.gap(s->cfg->extract.ctx, e->items[e->n - 1].h, nbytes);
	e->left -= nbytes;
	if (e->left == 0)
		e->in_lit = e->cur = false;
}

/* A logical line is complete: its bodies end, a FETCH's with the UID that
 * may have come after them. */
static void ex_line_done(struct imap_session *s, const struct imap_line *line)
{
	struct fetch_scan fs = { 0 };

	if (s->ex[line->dir].n == 0)
		return;
	if (line->dir == DIR_S2C && !fetch_scan(line, &fs))
		memset(&fs, 0, sizeof fs);
	ex_end_all(s, line->dir, line, fs.uid, fs.seq);
}

/* The login that succeeded, for --extract's index. */
static void remember_user(struct imap_session *s, const struct login_attempt *a)
{
	struct buf_slice u = SLICE_NULL;

	if (a == NULL)
		return;
	if (a->is_sasl)
		u = imap_sasl_user(&a->sasl);
	else if (a->have_user)
		u = bslice(&a->user);
	buf_reset(&s->user);
	s->have_user = u.ptr != NULL && buf_append(&s->user, u.ptr, u.len) == 0;
}

/* A literal starts: --extract follows it.  A client line announced its
 * first literal: remember its tag, in case the server refuses a
 * synchronising literal before sending "+". */
static void session_literal_begin(void *ctx, const struct imap_line *partial)
{
	struct imap_session *s = ctx;
	struct imap_command cmd;

	if (s->cfg->extract.begin != NULL)
		ex_literal_begin(s, partial);
	if (partial->dir != DIR_C2S || partial->n_lits != 1 || s->sasl != NULL)
		return;
	if (imap_parse_command(partial, &cmd) != 0 || cmd.tag.len > SESS_MAX_TAG) {
		s->partial_tag_len = 0;
		return;
	}
	memcpy(s->partial_tag, cmd.tag.ptr, cmd.tag.len);
	s->partial_tag_len = cmd.tag.len;
}

/* --- server lines ------------------------------------------------------ */

/* Which commands an untagged response answers, for tying it to a tag when
 * several commands are in flight. */
#define OWNER_MAX 5
static const struct {
	const char *resp;
	const char *cmds[OWNER_MAX];
} untagged_owners[] = {
	{ "CAPABILITY", { "CAPABILITY" } },
	{ "LIST", { "LIST" } },
	{ "XLIST", { "XLIST" } },
	{ "LSUB", { "LSUB" } },
	{ "STATUS", { "STATUS" } },
	{ "SEARCH", { "SEARCH", "UID SEARCH" } },
	{ "ESEARCH", { "SEARCH", "UID SEARCH", "ESEARCH", "SORT", "UID SORT" } },
	{ "SORT", { "SORT", "UID SORT" } },
	{ "THREAD", { "THREAD", "UID THREAD" } },
	{ "FLAGS", { "SELECT", "EXAMINE" } },
	{ "EXISTS", { "SELECT", "EXAMINE" } },
	{ "RECENT", { "SELECT", "EXAMINE" } },
	{ "FETCH", { "FETCH", "UID FETCH", "STORE", "UID STORE" } },
	{ "EXPUNGE", { "EXPUNGE", "UID EXPUNGE", "MOVE", "UID MOVE" } },
	{ "VANISHED", { "UID EXPUNGE", "UID MOVE", "UID FETCH", "SELECT", "EXAMINE" } },
	{ "NAMESPACE", { "NAMESPACE" } },
	{ "ID", { "ID" } },
	{ "ENABLED", { "ENABLE" } },
	{ "QUOTA", { "GETQUOTA", "GETQUOTAROOT" } },
	{ "QUOTAROOT", { "GETQUOTAROOT" } },
	{ "METADATA", { "GETMETADATA" } },
	{ "ACL", { "GETACL" } },
	{ "LISTRIGHTS", { "LISTRIGHTS" } },
	{ "MYRIGHTS", { "MYRIGHTS" } },
};

static bool owner_matches(size_t o, const char *cmd)
{
	for (size_t k = 0; k < OWNER_MAX && untagged_owners[o].cmds[k] != NULL; k++)
		if (name_is(untagged_owners[o].cmds[k], cmd))
			return true;
	return false;
}

/* The tag of the command an untagged response belongs to, where that is
 * unambiguous: the only command in flight, or the only one of the kinds
 * that produce this response. */
static struct buf_slice untagged_owner(const struct imap_session *s, const char *resp)
{
	const struct pending *hit = NULL;
	size_t o;

	if (s->n_pend == 1)
		return (struct buf_slice){ s->pend[0].tag, s->pend[0].tag_len };
	for (o = 0; o < sizeof untagged_owners / sizeof untagged_owners[0]; o++)
		if (name_is(untagged_owners[o].resp, resp))
			break;
	if (o == sizeof untagged_owners / sizeof untagged_owners[0])
		return SLICE_NULL;
	for (size_t i = 0; i < s->n_pend; i++) {
		if (!owner_matches(o, s->pend[i].name))
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
	if (s->greeted || s->seen_line[DIR_S2C] || !r->is_status || name_is(r->name, "NO") ||
	    name_is(r->name, "BAD"))
		return false;
	if (!s->mid_stream)
		return true;
	return !s->seen_byte[DIR_C2S] && (name_is(r->name, "PREAUTH") || r->code.ptr == NULL ||
					  (r->code.len >= 10 && memcmp(r->code.ptr, "CAPABILITY", 10) == 0));
}

static void on_greeting(struct imap_session *s, const struct imap_line *line,
			const struct imap_response *r)
{
	struct event ev = { .type = EV_GREETING, .ts_us = line->ts_last_us };

	ev.u.greeting.status = cslice(r->name);
	ev.u.greeting.code = r->code;
	ev.u.greeting.text = r->text;
	s->greeted = true;
	if (name_is(r->name, "PREAUTH"))
		s->state = IMAP_STATE_AUTH;
	else if (name_is(r->name, "BYE"))
		s->state = IMAP_STATE_LOGOUT;
	sess_emit(s, &ev);
}

static void on_untagged(struct imap_session *s, const struct imap_line *line,
			const struct imap_response *r)
{
	struct event ev = { .type = EV_UNTAGGED, .ts_us = line->ts_last_us };

	if (is_greeting(s, r)) {
		on_greeting(s, line, r);
		return;
	}
	ev.u.untagged.name = cslice(r->name);
	/* All after "* ", so "3 EXISTS" keeps its number and "OK [...]" its
	 * code. */
	ev.u.untagged.text = (struct buf_slice){ line->text.ptr + 2, line->text.len - 2 };
	ev.u.untagged.tag = untagged_owner(s, r->name);
	ev.u.untagged.literal_bytes = literal_total(line);
	s->sum.untagged++;
	if (name_is(r->name, "FETCH"))
		s->sum.literals_fetched += line->n_lits;
	if (name_is(r->name, "BYE"))
		s->state = IMAP_STATE_LOGOUT;
	sess_emit(s, &ev);
}

static void on_continuation(struct imap_session *s, const struct imap_line *line,
			    const struct imap_response *r)
{
	if (s->sasl != NULL)
		imap_sasl_challenge(&s->sasl->sasl, r->text.ptr, r->text.len);
	emit_continuation(s, DIR_S2C, r->text, line->ts_last_us);
}

static void set_mailbox(struct imap_session *s, const uint8_t *p, size_t n)
{
	buf_reset(&s->mailbox);
	s->have_mailbox = p != NULL && buf_append(&s->mailbox, p, n) == 0;
}

/* What a completion changes: state, mailbox, login result, mode. */
static void completion_effects(struct imap_session *s, const struct pending *p,
			       const struct imap_response *r, int64_t ts)
{
	bool ok = name_is(r->name, "OK");
	const char *n = p->name;

	/* LOGIN after authentication is refused with BAD as a command invalid
	 * in this state, not as an authentication attempt: no login then. */
	if (p->login != NULL && !(p->login->out_of_state && name_is(r->name, "BAD")))
		emit_login(s, p, ok ? LOGIN_OK : LOGIN_FAIL, r, ts);
	if (ok && (name_is(n, "LOGIN") || name_is(n, "AUTHENTICATE"))) {
		s->state = IMAP_STATE_AUTH;
		remember_user(s, p->login);
	} else if (name_is(n, "SELECT") || name_is(n, "EXAMINE")) {
		/* RFC 9051 6.3.2: even a failed SELECT closes the mailbox. */
		if (ok) {
			s->state = IMAP_STATE_SELECTED;
			set_mailbox(s, p->arg, p->arg_len);
		} else if (name_is(r->name, "NO") && s->state == IMAP_STATE_SELECTED) {
			s->state = IMAP_STATE_AUTH;
			set_mailbox(s, NULL, 0);
		}
	} else if (ok && (name_is(n, "CLOSE") || name_is(n, "UNSELECT"))) {
		s->state = IMAP_STATE_AUTH;
		set_mailbox(s, NULL, 0);
	} else if (name_is(n, "LOGOUT")) {
		s->state = IMAP_STATE_LOGOUT;
	} else if (name_is(n, "IDLE")) {
		s->idling = false;
	} else if (name_is(n, "STARTTLS") || name_is(n, "COMPRESS")) {
		/* switch first, so the held client bytes take the new path */
		if (ok && name_is(n, "STARTTLS"))
			session_start_tls(s, "starttls", ts);
		else if (ok)
			session_start_compress(s, ts);
		hold_end(s, ts);
	}
}

static void count_status(struct imap_session *s, const char *status)
{
	if (name_is(status, "OK"))
		s->sum.responses_ok++;
	else if (name_is(status, "NO"))
		s->sum.responses_no++;
	else
		s->sum.responses_bad++;
}

/* A tagged NO/BAD for the client line that waits on a synchronising
 * literal: the server refused it, so the literal never comes (APPEND with
 * [TRYCREATE]).  The lexer finishes the line, which reaches c2s_line now,
 * so the command is reported before its response. */
static void check_literal_refused(struct imap_session *s, const struct imap_response *r)
{
	struct imap_lexer *lx = s->lx[DIR_C2S];

	if (name_is(r->name, "OK") || lx == NULL || s->partial_tag_len == 0 ||
	    !imap_lexer_in_sync_literal(lx) || r->tag.len != s->partial_tag_len ||
	    memcmp(r->tag.ptr, s->partial_tag, r->tag.len) != 0)
		return;
	imap_lexer_literal_refused(lx);
}

static void on_tagged(struct imap_session *s, const struct imap_line *line,
		      const struct imap_response *r)
{
	struct event ev = { .type = EV_RESPONSE, .ts_us = line->ts_last_us };
	struct pending p;
	int i;

	check_literal_refused(s, r);
	i = pending_find(s, r->tag);
	ev.u.response.tag = r->tag;
	ev.u.response.status = cslice(r->name);
	ev.u.response.code = r->code;
	ev.u.response.text = r->text;
	ev.u.response.command = SLICE_NULL;
	ev.u.response.latency_ms = -1;
	if (i >= 0) {
		int64_t d = line->ts_first_us - s->pend[i].ts_last;

		ev.u.response.command = cslice(s->pend[i].name);
		ev.u.response.latency_ms = d > 0 ? (double)d / 1000.0 : 0.0;
	}
	count_status(s, r->name);
	sess_emit(s, &ev);
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
		if (!parsed || !s2c_anchors(s, &r)) {
			s->skipped_unanchored++;
			return;
		}
		s->s2c_anchored = true;
		if (s->skipped_unanchored != 0)
			sess_notice(s, "skipped %llu server lines before finding sync",
				    (unsigned long long)s->skipped_unanchored);
	}
	if (!parsed) {
		line_not_understood(s, line);
		return;
	}
	line_understood(s, DIR_S2C);
	s2c_dispatch(s, line, &r);
}

/* --- dispatch ------------------------------------------------------------ */

/* A client's first words as any client would send them: "tag SP name",
 * the name made of letters; "GET / HTTP/1.1" is not. */
static bool loose_command(struct buf_slice t)
{
	size_t i = 0, j;

	while (i < t.len && t.ptr[i] > 0x20 && t.ptr[i] < 0x7f && !strchr("(){\"%*\\", t.ptr[i]))
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
static bool first_line_plausible(enum stream_dir dir, struct buf_slice t)
{
	if (imap_line_plausible(dir, t.ptr, t.len))
		return true;
	if (dir == DIR_S2C)
		return (t.len >= 2 && t.ptr[0] == '*' && t.ptr[1] == ' ') || t.ptr[0] == '+';
	return loose_command(t);
}

static void session_line(void *ctx, const struct imap_line *line)
{
	struct imap_session *s = ctx;
	enum stream_dir d = line->dir;

	ex_line_done(s, line);
	s->depth_noticed[d] = false;
	if (line->overlong)
		s->sum.capped++;
	if (s->mode != MODE_IMAP)
		return;		/* the rest of a chunk after a switch */
	if (!s->seen_line[d] && line->text.len > 0) {
		if (!s->mid_stream && !s->gap_first[d] && !first_line_plausible(d, line->text)) {
			session_not_imap(s, d, line->text.ptr, line->text.len);
			return;
		}
	}
	if (d == DIR_C2S)
		c2s_line(s, line);
	else
		s2c_line(s, line);
	if (line->text.len > 0)
		s->seen_line[d] = true;
}

/* --- the byte pipeline ------------------------------------------------ */

static void tap_data(struct imap_session *s, enum stream_dir dir, const uint8_t *p, size_t n)
{
	if (s->cfg->tap.data != NULL)
		s->cfg->tap.data(s->cfg->tap.ctx, s->id, dir, p, n);
}

/* Final bytes (decrypted and inflated where that applies): tapped for
 * --streams and counted in the summary, whether parsed or not. */
static void feed_counted(struct imap_session *s, enum stream_dir dir, const uint8_t *p,
			 size_t n)
{
	tap_data(s, dir, p, n);
	s->plain_off[dir] += n;
	if (dir == DIR_C2S)
		s->sum.bytes_c2s += n;
	else
		s->sum.bytes_s2c += n;
}

/* Feed the lexer one line end at a time, so that a switch to TLS or
 * DEFLATE after a line takes effect at the next byte, even inside the same
 * chunk.  Returns the bytes consumed before the direction's path changed
 * (at least one line piece when n > 0). */
static size_t feed_lines(struct imap_session *s, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts)
{
	unsigned gen = s->path[dir].gen;
	size_t used = 0;

	if (s->mode != MODE_IMAP) {
		feed_counted(s, dir, p, n);
		return n;
	}
	while (used < n && s->mode == MODE_IMAP && s->path[dir].gen == gen) {
		uint64_t left = imap_lexer_literal_left(s->lx[dir]);
		size_t piece;

		/* Inside a literal no line can switch the session to TLS or
		 * COMPRESS, so its bytes go to the lexer in one piece. */
		if (left > 0) {
			piece = left < n - used ? (size_t)left : n - used;
		} else {
			const uint8_t *lf = memchr(p + used, '\n', n - used);
			piece = lf ? (size_t)(lf - (p + used)) + 1 : n - used;
		}

		feed_counted(s, dir, p + used, piece);
		s->lex_dir = dir;
		imap_lexer_feed(s->lx[dir], p + used, piece, ts);
		used += piece;
	}
	return used;
}

/* Inflated bytes: nothing below inflate can switch any more. */
static void feed_final(struct imap_session *s, enum stream_dir dir, const uint8_t *p,
		       size_t n, int64_t ts)
{
	size_t used = 0;

	while (used < n)
		used += feed_lines(s, dir, p + used, n - used, ts);
}

/* Bytes that TLS has already removed (or never had): inflated when COMPRESS
 * is on, held while a client switch awaits its answer, else lexed.  When
 * the bytes come from the wire (!inside_tls) and a line turns TLS on, the
 * rest is the caller's to hand to TLS: the return value says where that
 * starts. */
static size_t feed_plain(struct imap_session *s, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts, bool inside_tls)
{
	struct sess_path *sp = &s->path[dir];
	size_t used = 0;

	while (used < n) {
		if (sp->tls && !inside_tls)
			return used;
		if (sp->deflate) {
			if (s->zin != NULL)
				inflate_feed(s->zin, dir, p + used, n - used, ts);
			return n;	/* without inflate: counted as wire bytes only */
		}
		if (sp->hold && hold_bytes(s, p + used, n - used, ts))
			return n;
		used += feed_lines(s, dir, p + used, n - used, ts);
	}
	return used;
}

/* TCP bytes: the wire counts, then TLS if it is on, else the plain path. */
static void feed_wire(struct imap_session *s, enum stream_dir dir, const uint8_t *p,
		      size_t n, int64_t ts)
{
	size_t used = feed_plain(s, dir, p, n, ts, false);

	if (used < n && s->tls != NULL)
		tls_session_feed(s->tls, dir, p + used, n - used, ts);
}

/* A gap event; offset is in the final stream, which is what --streams
 * holds and what the lexer counts. */
static void emit_gap(struct imap_session *s, enum stream_dir dir, uint64_t nbytes,
		     int64_t ts)
{
	struct event ev = { .type = EV_GAP, .ts_us = ts };

	ev.u.gap.dir = dir;
	ev.u.gap.bytes = nbytes;
	ev.u.gap.offset = s->plain_off[dir];
	s->sum.gaps++;
	s->sum.gap_bytes += nbytes;
	sess_emit(s, &ev);
}

/* The final stream lost nbytes: the event, the tap and the lexer all move
 * the same offset on, so a gap's offset is where --streams has its hole. */
static void final_gap(struct imap_session *s, enum stream_dir dir, uint64_t nbytes,
		      int64_t ts)
{
	if (nbytes == 0)
		return;
	emit_gap(s, dir, nbytes, ts);
	s->plain_off[dir] += nbytes;
	if (!s->seen_line[dir])
		s->gap_first[dir] = true;
	if (s->cfg->tap.gap != NULL)
		s->cfg->tap.gap(s->cfg->tap.ctx, s->id, dir, nbytes);
	if (s->mode == MODE_IMAP) {
		ex_gap(s, dir, nbytes);
		imap_lexer_gap(s->lx[dir], nbytes, ts);
	}
}

/* A gap after TLS (a TCP gap on a plain path, or what the TLS layer lost:
 * a gap or a record that failed its tag or MAC). */
static void plain_gap(struct imap_session *s, enum stream_dir dir, uint64_t nbytes,
		      int64_t ts)
{
	struct sess_path *sp = &s->path[dir];

	if (nbytes == 0)
		return;
	if (sp->deflate) {
		/* inflate reports the first loss itself (notice and gap); after
		 * that, or without inflate, no final stream goes on: the event
		 * still tells the user, at the offset where the stream stopped */
		if (s->zin != NULL && inflate_ok(s->zin, dir))
			inflate_gap(s->zin, dir, nbytes, ts);
		else
			emit_gap(s, dir, nbytes, ts);
		return;
	}
	if (dir == DIR_C2S)
		hold_end(s, ts);	/* what came before the hole is passed on as it is */
	final_gap(s, dir, nbytes, ts);
}

/* Not printable text at the very start of a stream: TLS without STARTTLS,
 * or some binary protocol. */
static bool binary_start(uint8_t c)
{
	return (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c >= 0x7f;
}

/* The first bytes of a direction, before they are routed. */
static void first_bytes(struct imap_session *s, enum stream_dir dir, const uint8_t *p,
			size_t n, int64_t ts)
{
	bool cut = s->mid_stream || s->gap_first[dir];

	if (s->mode != MODE_IMAP || s->path[dir].tls)
		return;
	/* picked up after the STARTTLS exchange: TLS records from the start */
	if (cut && tls_looks_like_record(p, n))
		session_start_tls(s, "starttls", ts);
	else if (!cut && binary_start(p[0]))
		session_not_imap(s, dir, p, n);
}

static void session_feed(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
			 int64_t ts_us)
{
	struct imap_session *s = ctx;

	s->now = ts_us;
	if (ts_us > s->last_ts)
		s->last_ts = ts_us;
	if (n == 0)
		return;
	s->wire_off[dir] += n;
	if (dir == DIR_C2S)
		s->sum.wire_bytes_c2s += n;
	else
		s->sum.wire_bytes_s2c += n;
	if (!s->seen_byte[dir])
		first_bytes(s, dir, p, n, ts_us);
	s->seen_byte[dir] = true;
	feed_wire(s, dir, p, n, ts_us);
}

/* A TCP gap.  Under TLS, the TLS layer turns it into plaintext gaps while it
 * decrypts; otherwise there is no plaintext to lose, but the user is told
 * all the same (the offset is where the final stream stands). */
static void session_gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts_us)
{
	struct imap_session *s = ctx;

	s->now = ts_us;
	if (ts_us > s->last_ts)
		s->last_ts = ts_us;
	if (nbytes == 0)
		return;
	s->wire_off[dir] += nbytes;
	if (!s->seen_line[dir])
		s->gap_first[dir] = true;
	if (!s->path[dir].tls) {
		plain_gap(s, dir, nbytes, ts_us);
		return;
	}
	if (!s->tls_decrypting)
		emit_gap(s, dir, nbytes, ts_us);
	if (s->tls != NULL)
		tls_session_gap(s->tls, dir, nbytes, ts_us);
}

static void session_free(struct imap_session *s)
{
	for (size_t i = 0; i < s->n_pend; i++)
		pending_release(s, &s->pend[i]);
	free(s->pend);
	mem_release(s->cfg->budget, s->cap_pend * sizeof *s->pend);
	imap_lexer_free(&s->lx[DIR_C2S]);
	imap_lexer_free(&s->lx[DIR_S2C]);
	tls_session_free(&s->tls);
	inflate_free(&s->zin);
	buf_free(&s->path[DIR_C2S].held);
	buf_free(&s->path[DIR_S2C].held);
	buf_free(&s->mailbox);
	buf_free(&s->args);
	buf_free(&s->scratch);
	buf_free(&s->user);
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
	/* Client bytes still held: the switch was never answered, so they are
	 * neither known IMAP nor known TLS; kept in --streams, not parsed. */
	if (s->path[DIR_C2S].held.len > 0)
		feed_counted(s, DIR_C2S, s->path[DIR_C2S].held.data, s->path[DIR_C2S].held.len);
	/* The last chance for the tls event, which must come before the end. */
	if (s->tls != NULL)
		tls_session_end(s->tls, ts_us);
	if (s->mode == MODE_IMAP) {
		imap_lexer_finish(s->lx[DIR_C2S]);
		imap_lexer_finish(s->lx[DIR_S2C]);
	}
	if (s->cfg->extract.begin != NULL) {
		ex_end_all(s, DIR_C2S, NULL, 0, 0);	/* lines the capture cut */
		ex_end_all(s, DIR_S2C, NULL, 0, 0);
	}
	for (size_t i = 0; i < s->n_pend; i++)
		if (s->pend[i].login != NULL)
			login_unknown(s, &s->pend[i], ts_us);
	if (s->pend_dropped > SESS_PENDING_DROP_NOTICES)
		sess_notice(s, "%llu more commands forgotten at the cap of %d pending",
			    (unsigned long long)(s->pend_dropped - SESS_PENDING_DROP_NOTICES),
			    IMAP_MAX_PENDING_TAGS);
	/* A FIN or RST is the session's own last packet; a timeout or the end
	 * of the capture is not. */
	if ((why == END_FIN || why == END_RST) && ts_us > last)
		last = ts_us;
	s->sum.duration_us = last > s->first_ts ? last - s->first_ts : 0;
	ev.u.end.reason = why;
	ev.u.end.summary = &s->sum;
	sess_emit(s, &ev);
	if (s->cfg->tap.end != NULL)
		s->cfg->tap.end(s->cfg->tap.ctx, s->id);
	session_free(s);
}

const struct byte_layer_ops imap_session_ops = {
	.feed = session_feed,
	.gap = session_gap,
	.end = session_end,
};

/* The session struct and its two lexers are charged to the budget (their
 * buffers too, as they grow).  Without room the flow is not followed; the
 * notice says so here, since the flow table above only sees NULL. */
static void notice_not_followed(const struct imap_session_config *cfg,
				const struct imap_session_info *info)
{
	char msg[SESS_NOTICE_MAX];

	if (cfg->notice == NULL ||
	    (cfg->budget != NULL && cfg->budget->refused > SESS_MAX_REFUSED_NOTICES))
		return;
	snprintf(msg, sizeof msg, "session %llu: %s: not followed",
		 (unsigned long long)info->id, SESS_WHY_BUDGET);
	cfg->notice(cfg->notice_ctx, info->id, info->first_ts_us, msg);
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
	s->mid_stream = info->mid_stream;
	s->s2c_anchored = !info->mid_stream;
	s->first_ts = s->last_ts = s->now = info->first_ts_us;
	buf_init(&s->mailbox, SESS_MAX_MAILBOX, cfg->budget);
	buf_init(&s->args, SESS_MAX_ARGS, cfg->budget);
	buf_init(&s->scratch, SESS_MAX_MAILBOX, cfg->budget);
	buf_init(&s->user, SESS_MAX_LOGIN, cfg->budget);
	buf_init(&s->path[DIR_C2S].held, SESS_MAX_HOLD, cfg->budget);
	buf_init(&s->path[DIR_S2C].held, SESS_MAX_HOLD, cfg->budget);
	hooks.ctx = s;
	hooks.line = session_line;
	hooks.literal_begin = session_literal_begin;
	if (cfg->extract.begin != NULL)
		hooks.literal_data = session_literal_data;
	hooks.notice = lexer_notice;
	s->lx[DIR_C2S] = imap_lexer_new(DIR_C2S, info->mid_stream, keep, cfg->budget, &hooks);
	s->lx[DIR_S2C] = imap_lexer_new(DIR_S2C, info->mid_stream, keep, cfg->budget, &hooks);
	if (s->lx[DIR_C2S] == NULL || s->lx[DIR_S2C] == NULL) {
		notice_not_followed(cfg, info);
		session_free(s);
		return NULL;
	}
	ev.u.start.mid_stream = info->mid_stream;
	ev.u.start.implicit_tls = info->implicit_tls;
	sess_emit(s, &ev);
	if (info->implicit_tls)
		session_start_tls(s, "implicit", info->first_ts_us);
	return s;
}

enum imap_session_state imap_session_state(const struct imap_session *s)
{
	return s->state;
}

struct buf_slice imap_session_mailbox(const struct imap_session *s)
{
	return s->have_mailbox ? bslice(&s->mailbox) : SLICE_NULL;
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
	while (tag < len && p[tag] > 0x20 && p[tag] < 0x7f && !strchr("(){\"%*\\+", p[tag]))
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
