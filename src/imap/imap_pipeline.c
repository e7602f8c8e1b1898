/* The byte path of a session, one per direction (see imap_pipeline.h):
 *
 *   wire -> [tls] -> [inflate] -> tap, lexer
 *
 * TLS starts at once on an implicit-TLS port, after the server's OK to
 * STARTTLS, or when a capture picked up mid-stream begins with TLS records;
 * inflate starts after the OK to COMPRESS.  The lexer is fed one line at a
 * time, so a switch takes effect at the exact byte after the line that
 * caused it, and the rest of the same chunk takes the new path.  The
 * client's bytes after a STARTTLS or COMPRESS command are held until the
 * server answers, because only the answer says whether they are still plain
 * IMAP.  Gaps are reported at their offset in the final stream. */
#include "imap_pipeline.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "imap/imap_lexer.h"
#include "imap/inflate.h"
#include "imap_session_int.h"

#define SESS_WHY_TLS_OOM  "out of memory for the TLS layer"
#define SESS_WHY_NO_TLS   "this build has no TLS layer"

/* The session a pipeline is embedded in (imap_session_int.h): computed,
 * not loaded, on the per-byte path. */
static inline struct imap_session *pipe_session(struct imap_pipeline *pl)
{
	return (struct imap_session *)(void *)((char *)pl - offsetof(struct imap_session, pl));
}

/* --- mode switches ------------------------------------------------------- */

static size_t feed_plain(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts, bool inside_tls);
static void feed_final(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
		       size_t n, int64_t ts);
static size_t feed_lines(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts);
static void plain_gap(struct imap_pipeline *pl, enum stream_dir dir, uint64_t nbytes,
		      int64_t ts);
static void final_gap(struct imap_pipeline *pl, enum stream_dir dir, uint64_t nbytes,
		      int64_t ts);
static void emit_gap(struct imap_pipeline *pl, enum stream_dir dir, uint64_t nbytes,
		     int64_t ts);

static void layer_free(const struct transport_layer_ops *ops, void **inst)
{
	if (*inst != NULL)
		ops->free(*inst);
	*inst = NULL;
}

/* Both directions take the new layer, each once its first bytes show
 * that they are not still IMAP text (see probe_verdict). */
static void switch_path(struct imap_pipeline *pl, bool tls)
{
	for (int d = DIR_C2S; d <= DIR_S2C; d++) {
		if (tls)
			pl->path[d].tls = true;
		else
			pl->path[d].deflate = true;
		pl->path[d].probe = tls ? PROBE_TLS : PROBE_DEFLATE;
		pl->path[d].gen++;
	}
}

/* The handshake hook: the contract's tls event, once per session, when the
 * TLS layer knows whether it can decrypt (not when TLS begins, since only
 * the ServerHello says which version and cipher were chosen). */
static void tls_on_handshake(void *ctx, const struct transport_handshake *h)
{
	struct imap_pipeline *pl = ctx;
	struct imap_session *s = pipe_session(pl);
	struct event ev = { .type = EV_TLS, .ts_us = s->now };

	ev.u.tls.phase = pl->tls_phase == PIPE_TLS_IMPLICIT ? "implicit" : "starttls";
	ev.u.tls.version = h->version;
	ev.u.tls.cipher = h->cipher;
	ev.u.tls.sni = h->sni;
	ev.u.tls.decrypted = h->decrypted;
	ev.u.tls.decrypted_c2s = h->decrypted_dir[DIR_C2S];
	ev.u.tls.decrypted_s2c = h->decrypted_dir[DIR_S2C];
	ev.u.tls.reason = h->reason;
	pl->tls_decrypting[DIR_C2S] = h->decrypted_dir[DIR_C2S];
	pl->tls_decrypting[DIR_S2C] = h->decrypted_dir[DIR_S2C];
	imap_session_emit(s, &ev);
}

static void tls_on_plaintext(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
			     int64_t ts)
{
	struct imap_pipeline *pl = ctx;

	pipe_session(pl)->now = ts;
	feed_plain(pl, dir, p, n, ts, true);	/* below TLS nothing switches */
}

static void tls_on_gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts)
{
	plain_gap(ctx, dir, nbytes, ts);
}

static void layer_notice(void *ctx, const struct notice *n)
{
	struct imap_pipeline *pl = ctx;

	imap_session_notice_facts(pipe_session(pl), n, "%s", n->text);
}

/* TLS began but there is no layer to follow it (out of memory, or none in
 * this build): the session's bytes are only counted, and the user still
 * learns that TLS began. */
static void tls_unfollowed(struct imap_pipeline *pl, int64_t ts)
{
	struct transport_handshake h = { .reason = SESS_WHY_NO_TLS };

	pipe_session(pl)->now = ts;
	if (pl->tls_ops != NULL) {
		h.reason = SESS_WHY_TLS_OOM;
		imap_session_notice(pipe_session(pl), NOTICE_MEMORY, "%s", SESS_WHY_TLS_OOM);
	}
	tls_on_handshake(pl, &h);
}

/* The stream is TLS from here on, in both directions: the server's OK to
 * STARTTLS, an implicit-TLS port, or TLS records where a capture begins.
 * Once only, and never under COMPRESS (RFC 4978 section 4 forbids it). */
void imap_pipeline_start_tls(struct imap_pipeline *pl, enum pipe_tls_phase phase, int64_t ts)
{
	struct imap_session *s = pipe_session(pl);

	if (pl->tls_phase != PIPE_TLS_NONE || s->facts.compressed)
		return;
	pl->tls_phase = phase;
	imap_facts_set_transport(s, phase == PIPE_TLS_IMPLICIT ? TRANSPORT_IMPLICIT_TLS
							 : TRANSPORT_STARTTLS);
	pl->tls_out = (struct transport_sink){
		.ctx = pl, .data = tls_on_plaintext, .gap = tls_on_gap,
		.notice = layer_notice, .handshake = tls_on_handshake,
	};
	if (pl->tls_ops != NULL)
		pl->tls = pl->tls_ops->open(pl->tls_conf, &pl->tls_out, s->cfg->budget);
	switch_path(pl, true);
	if (pl->tls == NULL)
		tls_unfollowed(pl, ts);
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

static void inflate_on_lost(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts)
{
	emit_gap(ctx, dir, nbytes, ts);
}

/* A direction stopped at --max-inflate or the ratio guard is a loss to a
 * cap, as the summary's "capped" counts them. */
static void inflate_notice(void *ctx, const struct notice *n)
{
	struct imap_pipeline *pl = ctx;

	if (n->kind == NOTICE_INFLATE_LIMIT)
		pipe_session(pl)->sum.capped++;
	imap_session_notice_facts(pipe_session(pl), n, "%s", n->text);
}

/* COMPRESS=DEFLATE is on in both directions (RFC 4978): the server's bytes
 * after this OK line, the client's after its COMPRESS command line (held
 * until now).  Inside TLS when TLS is on. */
void imap_pipeline_start_compress(struct imap_pipeline *pl, int64_t ts)
{
	struct imap_session *s = pipe_session(pl);
	struct transport_sink out = {
		.ctx = pl, .data = inflate_on_data, .gap = inflate_on_gap,
		.notice = inflate_notice, .lost = inflate_on_lost,
	};
	struct event ev = { .type = EV_COMPRESS, .ts_us = ts };

	if (s->facts.compressed)
		return;
	imap_facts_set_compressed(s);
	pl->zin = inflate_layer_ops.open(&s->cfg->max_inflate, &out, s->cfg->budget);
	if (pl->zin == NULL)
		imap_session_notice(s, NOTICE_MEMORY, "out of memory for inflate: the compressed stream is only counted");
	switch_path(pl, false);
	ev.u.compress.algorithm = "DEFLATE";
	ev.u.compress.decoded = pl->zin != NULL;
	imap_session_emit(s, &ev);
}

/* A client STARTTLS or COMPRESS: until the server answers, the client's
 * next bytes may be TLS, deflate or still IMAP, so they wait. */
void imap_pipeline_hold_begin(struct imap_pipeline *pl, bool starttls)
{
	struct sess_path *sp = &pl->path[DIR_C2S];
	bool compressed = pipe_session(pl)->facts.compressed;

	if (starttls ? pl->tls_phase != PIPE_TLS_NONE || compressed : compressed)
		return;		/* the server will refuse; nothing switches */
	sp->hold = true;
	sp->hold_in_tls = sp->tls;
	sp->hold_starttls = starttls;
	sp->gen++;
}

/* Bytes from the wire (or, in_tls, out of the TLS layer) down the path of
 * their direction: what the plain path leaves is TLS's. */
static inline void route(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p, size_t n,
		  int64_t ts, bool in_tls)
{
	size_t used = feed_plain(pl, dir, p, n, ts, in_tls);

	if (used < n && pl->tls != NULL)
		pl->tls_ops->feed(pl->tls, dir, p + used, n - used, ts);
}

/* The answer came (or holding became impossible): the held bytes take
 * whatever path the client direction has now.  After an OK to STARTTLS,
 * text the client sent before it cannot have been meant for TLS: it is
 * read as the injected commands it is (CVE-2011-0411), and so is text that
 * follows the OK in the server's segment. */
void imap_pipeline_hold_end(struct imap_pipeline *pl, int64_t ts)
{
	struct sess_path *sp = &pl->path[DIR_C2S];
	struct buf held = sp->held;
	bool inject = sp->hold_starttls && !sp->hold_in_tls && sp->tls;

	if (!sp->hold)
		return;
	sp->hold = false;
	sp->gen++;
	pl->path[DIR_S2C].inject = inject;
	buf_init(&sp->held, SESS_MAX_HOLD, pipe_session(pl)->cfg->budget);
	if (held.len > 0) {
		sp->inject = inject;
		route(pl, DIR_C2S, held.data, held.len, ts, sp->hold_in_tls);
		sp->inject = false;
	}
	buf_free(&held);
}

/* Keep client bytes while holding; false when they did not fit, the hold
 * is then over and the caller passes them on as they are. */
static bool hold_bytes(struct imap_pipeline *pl, const uint8_t *p, size_t n, int64_t ts)
{
	if (buf_append(&pl->path[DIR_C2S].held, p, n) == 0)
		return true;
	imap_session_notice(pipe_session(pl), NOTICE_HOLD_OVERFLOW, "the client sent over %d bytes before the server answered; "
			    "reading them as IMAP", SESS_MAX_HOLD);
	imap_pipeline_hold_end(pl, ts);
	return false;
}

/* --- plain text where TLS or DEFLATE was agreed ------------------------- */

enum probe_verdict { VERDICT_MORE, VERDICT_TEXT, VERDICT_OTHER };

/* Is this the start of IMAP text?  TLS records begin with a content type
 * (0x14-0x18) and raw deflate with bits that make control bytes within a
 * few bytes (a sync flush ends in 00 00 ff ff), while IMAP text is a line
 * of printable bytes that reads as a command or a response.  final: no
 * more bytes will come, judge what is there. */
static enum probe_verdict probe_verdict(enum stream_dir dir, const uint8_t *p, size_t n,
					bool final)
{
	size_t k = n < SESS_PROBE_MAX ? n : SESS_PROBE_MAX;
	const uint8_t *lf = memchr(p, '\n', k);
	size_t len = lf ? (size_t)(lf - p) : k;

	for (size_t i = 0; i < len; i++)
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r') || p[i] == 0x7f)
			return VERDICT_OTHER;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (lf == NULL && k < SESS_PROBE_MAX && !final)
		return VERDICT_MORE;
	if (len == 0 || p[0] >= 0x80)
		return VERDICT_OTHER;
	return imap_session_line_plausible(dir, (struct buf_slice){ p, len }) ? VERDICT_TEXT
										: VERDICT_OTHER;
}

/* IMAP_FACTS_WIRE: the next notice is about what dir sent. */
static void pipe_wire_side(struct imap_session *s, enum stream_dir dir)
{
	if (imap_wire_on(s))
		s->notice_wire = dir == DIR_C2S ? WIRE_C2S : WIRE_S2C;
}

/* The direction stays plain IMAP: the layer that was agreed never began. */
static void probe_text(struct imap_pipeline *pl, enum stream_dir dir)
{
	struct sess_path *sp = &pl->path[dir];
	const char *who = dir == DIR_C2S ? "client" : "server";

	if (sp->probe == PROBE_DEFLATE) {
		sp->deflate = false;
		imap_session_notice(pipe_session(pl), NOTICE_COMPRESS_NOT_APPLIED,
				    "COMPRESS was accepted but the %s goes on in plain text: read as IMAP", who);
		return;
	}
	sp->tls = false;
	if (pl->tls_phase == PIPE_TLS_IMPLICIT)
		imap_session_notice(pipe_session(pl), NOTICE_PLAINTEXT_ON_TLS_PORT,
				    "plain IMAP from the %s on an implicit-TLS port", who);
	else {
		/* a server that answers a client gone plain in plain is no
		 * second culprit */
		if (dir == DIR_C2S || pl->path[DIR_C2S].tls)
			pipe_wire_side(pipe_session(pl), dir);
		imap_session_notice(pipe_session(pl), NOTICE_STARTTLS_NOT_NEGOTIATED,
				    "STARTTLS was accepted but the %s goes on in plain text: read as IMAP", who);
	}
	/* No TLS at all: no tls event for a handshake that never was. */
	if (!pl->path[DIR_C2S].tls && !pl->path[DIR_S2C].tls)
		layer_free(pl->tls_ops, &pl->tls);
}

static void probe_decide(struct imap_pipeline *pl, enum stream_dir dir, enum probe_verdict v)
{
	if (v == VERDICT_TEXT)
		probe_text(pl, dir);
	pl->path[dir].probe = PROBE_NONE;
	pl->path[dir].gen++;
}

/* The verdict on the bytes waiting in held (final: none will follow),
 * which then go their way. */
static void probe_release(struct imap_pipeline *pl, enum stream_dir dir, int64_t ts, bool final)
{
	struct sess_path *sp = &pl->path[dir];
	struct buf got = sp->held;

	probe_decide(pl, dir, probe_verdict(dir, got.data, got.len, final));
	buf_init(&sp->held, SESS_MAX_HOLD, pipe_session(pl)->cfg->budget);
	route(pl, dir, got.data, got.len, ts, sp->probe_in_tls);
	buf_free(&got);
}

/* The first bytes after a switch.  Returns the bytes taken: all of them
 * when they wait in held for more, or were routed with it; 0 when the
 * verdict came without them and the caller goes on with the path it set. */
static size_t probe_feed(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts, bool in_tls)
{
	struct sess_path *sp = &pl->path[dir];
	size_t take = SESS_PROBE_MAX - sp->held.len;
	enum probe_verdict v;

	if (sp->held.len == 0) {
		v = probe_verdict(dir, p, n, false);
		if (v != VERDICT_MORE) {
			probe_decide(pl, dir, v);
			return 0;
		}
	}
	if (take > n)
		take = n;
	if (buf_append(&sp->held, p, take) != 0) {
		/* no memory to wait: judge what there is */
		if (sp->held.len > 0)
			probe_release(pl, dir, ts, true);
		else
			probe_decide(pl, dir, probe_verdict(dir, p, n, true));
		return 0;
	}
	sp->probe_in_tls = in_tls;
	if (probe_verdict(dir, sp->held.data, sp->held.len, false) != VERDICT_MORE)
		probe_release(pl, dir, ts, false);
	return take;
}

/* Bytes still waiting for a probe's verdict go their way (gap, end). */
static void probe_flush(struct imap_pipeline *pl, enum stream_dir dir, int64_t ts)
{
	struct sess_path *sp = &pl->path[dir];

	/* held is the probe's only while no hold is on */
	if (sp->held.len > 0 && sp->probe != PROBE_NONE && !sp->hold)
		probe_release(pl, dir, ts, true);
}

/* Injected text (see imap_pipeline_hold_end): the lines that read as IMAP,
 * up to the first that does not.  Returns the bytes lexed. */
static size_t inject_lines(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			   size_t n, int64_t ts)
{
	struct imap_session *s = pipe_session(pl);
	struct sess_path *sp = &pl->path[dir];
	unsigned gen = sp->gen;
	size_t used = 0;

	while (used < n && sp->gen == gen && s->mode == MODE_IMAP) {
		uint64_t left = imap_lexer_literal_left(s->lx[dir]);
		const uint8_t *lf;
		size_t piece;

		if (left > 0) {
			piece = left < n - used ? (size_t)left : n - used;
		} else {
			if (probe_verdict(dir, p + used, n - used, true) != VERDICT_TEXT)
				break;
			lf = memchr(p + used, '\n', n - used);
			piece = lf ? (size_t)(lf - (p + used)) + 1 : n - used;
		}
		if (!sp->injected) {
			sp->injected = true;
			/* the finding goes with the first injected line */
			if (imap_wire_on(s))
				s->inject_line[dir] = true;
			imap_session_notice(s, NOTICE_STARTTLS_INJECTION,
					    "%s text sent before TLS began although STARTTLS was accepted "
					    "(command injection): read as IMAP",
					    dir == DIR_C2S ? "client" : "server");
		}
		used += feed_lines(pl, dir, p + used, piece, ts);
	}
	return used;
}

/* --- the byte pipeline ------------------------------------------------ */

/* Final bytes (decrypted and inflated where that applies): tapped for
 * --streams and counted in the summary, whether parsed or not. */
static void feed_counted(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts)
{
	struct imap_session *s = pipe_session(pl);

	if (s->cfg->tap.data != NULL)
		s->cfg->tap.data(s->cfg->tap.ctx, s->id, dir, p, n, ts);
	pl->plain_off[dir] += n;
	if (dir == DIR_C2S)
		s->sum.bytes_c2s += n;
	else
		s->sum.bytes_s2c += n;
}

/* --follow: the bytes tapped so far are parsed once the lexer holds no
 * line of them, so their secrets, if any, were told. */
static void tap_settled(struct imap_pipeline *pl, enum stream_dir dir)
{
	struct imap_session *s = pipe_session(pl);
	struct imap_tap_mark m = { IMAP_TAP_SETTLED, dir, pl->plain_off[dir], 0 };

	if (imap_lexer_idle(s->lx[dir]))
		s->cfg->tap.mark(s->cfg->tap.ctx, s->id, &m);
}

/* Feed the lexer one line end at a time, so that a switch to TLS or
 * DEFLATE after a line takes effect at the next byte, even inside the same
 * chunk.  Returns the bytes consumed before the direction's path changed
 * (at least one line piece when n > 0). */
static size_t feed_lines(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts)
{
	struct imap_session *s = pipe_session(pl);
	unsigned gen = pl->path[dir].gen;
	size_t used = 0;

	if (s->mode != MODE_IMAP) {
		feed_counted(pl, dir, p, n, ts);
		return n;
	}
	while (used < n && s->mode == MODE_IMAP && pl->path[dir].gen == gen) {
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

		feed_counted(pl, dir, p + used, piece, ts);
		s->lex_dir = dir;
		imap_lexer_feed(s->lx[dir], p + used, piece, ts);
		used += piece;
		if (s->cfg->tap.mark != NULL)
			tap_settled(pl, dir);
	}
	return used;
}

/* Inflated bytes: nothing below inflate can switch any more. */
static void feed_final(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
		       size_t n, int64_t ts)
{
	size_t used = 0;

	while (used < n)
		used += feed_lines(pl, dir, p + used, n - used, ts);
}

/* Bytes that TLS has already removed (or never had): inflated when COMPRESS
 * is on, held while a client switch awaits its answer, else lexed.  When
 * the bytes come from the wire (!inside_tls) and a line turns TLS on, the
 * rest is the caller's to hand to TLS: the return value says where that
 * starts. */
static size_t feed_plain(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts, bool inside_tls)
{
	struct sess_path *sp = &pl->path[dir];
	bool was_clear = sp->in_clear;
	size_t used = 0;

	sp->in_clear = !inside_tls;
	while (used < n) {
		if (sp->inject && !inside_tls) {
			size_t k = inject_lines(pl, dir, p + used, n - used, ts);

			used += k;
			if (k == 0)
				sp->inject = false;	/* not text: the injection is over */
			continue;
		}
		if ((sp->probe == PROBE_TLS && !inside_tls) ||
		    (sp->probe == PROBE_DEFLATE && sp->deflate)) {
			used += probe_feed(pl, dir, p + used, n - used, ts, inside_tls);
			continue;
		}
		if (sp->tls && !inside_tls)
			break;
		if (sp->deflate) {
			if (pl->zin != NULL)
				inflate_layer_ops.feed(pl->zin, dir, p + used, n - used, ts);
			used = n;	/* without inflate: counted as wire bytes only */
			break;
		}
		if (sp->hold && hold_bytes(pl, p + used, n - used, ts)) {
			used = n;
			break;
		}
		used += feed_lines(pl, dir, p + used, n - used, ts);
	}
	sp->in_clear = was_clear;
	return used;
}

/* A gap event; offset is in the final stream, which is what --streams
 * holds and what the lexer counts. */
static void emit_gap(struct imap_pipeline *pl, enum stream_dir dir, uint64_t nbytes,
		     int64_t ts)
{
	struct imap_session *s = pipe_session(pl);
	struct event ev = { .type = EV_GAP, .ts_us = ts };

	ev.u.gap.dir = dir;
	ev.u.gap.bytes = nbytes;
	ev.u.gap.offset = pl->plain_off[dir];
	s->sum.gaps++;
	s->sum.gap_bytes += nbytes;
	imap_session_emit(s, &ev);
}

/* The final stream lost nbytes: the event, the tap and the lexer all move
 * the same offset on, so a gap's offset is where --streams has its hole. */
static void final_gap(struct imap_pipeline *pl, enum stream_dir dir, uint64_t nbytes,
		      int64_t ts)
{
	struct imap_session *s = pipe_session(pl);

	if (nbytes == 0)
		return;
	emit_gap(pl, dir, nbytes, ts);
	pl->plain_off[dir] += nbytes;
	if (!s->seen_line[dir])
		s->gap_first[dir] = true;
	if (s->cfg->tap.gap != NULL)
		s->cfg->tap.gap(s->cfg->tap.ctx, s->id, dir, nbytes, ts);
	if (s->mode == MODE_IMAP) {
		imap_bodies_gap(s, dir, nbytes);
		imap_lexer_gap(s->lx[dir], nbytes, ts);
		if (s->cfg->tap.mark != NULL)
			tap_settled(pl, dir);
	}
}

/* A gap after TLS (a TCP gap on a plain path, or what the TLS layer lost:
 * a gap or a record that failed its tag or MAC). */
static void plain_gap(struct imap_pipeline *pl, enum stream_dir dir, uint64_t nbytes,
		      int64_t ts)
{
	if (nbytes == 0)
		return;
	if (pl->path[dir].deflate) {
		/* inflate reports the first loss itself (notice and gap); after
		 * that, or without inflate, no final stream goes on: the event
		 * still tells the user, at the offset where the stream stopped */
		if (pl->zin != NULL)
			inflate_layer_ops.gap(pl->zin, dir, nbytes, ts);
		else
			emit_gap(pl, dir, nbytes, ts);
		return;
	}
	if (dir == DIR_C2S)
		imap_pipeline_hold_end(pl, ts);	/* what came before the hole is passed on as it is */
	final_gap(pl, dir, nbytes, ts);
}

/* Not printable text at the very start of a stream: TLS without STARTTLS,
 * or some binary protocol. */
static bool binary_start(uint8_t c)
{
	return (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c >= 0x7f;
}

static bool tls_sniff(const struct imap_pipeline *pl, const uint8_t *p, size_t n)
{
	return pl->tls_ops != NULL && pl->tls_ops->sniff != NULL && pl->tls_ops->sniff(p, n);
}

/* The first bytes of a direction, before they are routed. */
static void first_bytes(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			size_t n, int64_t ts)
{
	struct imap_session *s = pipe_session(pl);
	bool cut = s->mid_stream || s->gap_first[dir];

	if (s->mode != MODE_IMAP || pl->path[dir].tls)
		return;
	/* picked up after the STARTTLS exchange: TLS records from the start */
	if (cut && tls_sniff(pl, p, n))
		imap_pipeline_start_tls(pl, PIPE_TLS_STARTTLS, ts);
	else if (!cut && binary_start(p[0]))
		imap_session_not_imap(s, dir, p, n);
}

/* TCP bytes: the wire counts, then TLS if it is on, else the plain path. */
void imap_pipeline_feed(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			size_t n, int64_t ts_us)
{
	struct imap_session *s = pipe_session(pl);

	if (n == 0)
		return;
	pl->wire_off[dir] += n;
	if (dir == DIR_C2S)
		s->sum.wire_bytes_c2s += n;
	else
		s->sum.wire_bytes_s2c += n;
	if (!s->seen_byte[dir])
		first_bytes(pl, dir, p, n, ts_us);
	s->seen_byte[dir] = true;
	route(pl, dir, p, n, ts_us, false);
	/* injected text is the rest of the segment the switch came in */
	pl->path[DIR_C2S].inject = pl->path[DIR_S2C].inject = false;
}

/* Client bytes still held while the switch was never answered: neither
 * known IMAP nor known TLS; kept in --streams, not parsed.  (Bytes that
 * await the probe's verdict are held too: probe_flush gives them their
 * way.)  Then each layer says what it still owes: inflate the compressed
 * bytes only counted since a direction stopped, TLS its tls event, which
 * must come before the session's end. */
void imap_pipeline_end(struct imap_pipeline *pl, int64_t ts)
{
	struct sess_path *c2s = &pl->path[DIR_C2S];

	if (c2s->hold && c2s->held.len > 0)
		feed_counted(pl, DIR_C2S, c2s->held.data, c2s->held.len, ts);
	for (int d = DIR_C2S; d <= DIR_S2C; d++)
		probe_flush(pl, (enum stream_dir)d, ts);
	if (pl->zin != NULL)
		inflate_layer_ops.end(pl->zin, ts);
	if (pl->tls != NULL && pl->tls_ops->end != NULL)
		pl->tls_ops->end(pl->tls, ts);
}

/* A TCP gap.  Under TLS, the TLS layer turns it into plaintext gaps while it
 * decrypts; otherwise there is no plaintext to lose, but the user is told
 * all the same (the offset is where the final stream stands). */
void imap_pipeline_gap(struct imap_pipeline *pl, enum stream_dir dir, uint64_t nbytes,
		       int64_t ts_us)
{
	struct imap_session *s = pipe_session(pl);

	if (nbytes == 0)
		return;
	pl->path[DIR_C2S].inject = pl->path[DIR_S2C].inject = false;
	probe_flush(pl, dir, ts_us);
	pl->wire_off[dir] += nbytes;
	if (!s->seen_line[dir])
		s->gap_first[dir] = true;
	if (!pl->path[dir].tls) {
		plain_gap(pl, dir, nbytes, ts_us);
		return;
	}
	if (!pl->tls_decrypting[dir])
		emit_gap(pl, dir, nbytes, ts_us);
	if (pl->tls != NULL)
		pl->tls_ops->gap(pl->tls, dir, nbytes, ts_us);
}

void imap_pipeline_init(struct imap_pipeline *pl, struct imap_session *s,
			const struct imap_session_config *cfg)
{
	memset(pl, 0, sizeof *pl);
	assert(pipe_session(pl) == s);
	pl->tls_ops = cfg->tls;
	pl->tls_conf = cfg->tls_conf;
	buf_init(&pl->path[DIR_C2S].held, SESS_MAX_HOLD, cfg->budget);
	buf_init(&pl->path[DIR_S2C].held, SESS_MAX_HOLD, cfg->budget);
}

void imap_pipeline_free(struct imap_pipeline *pl)
{
	layer_free(pl->tls_ops, &pl->tls);
	layer_free(&inflate_layer_ops, &pl->zin);
	buf_free(&pl->path[DIR_C2S].held);
	buf_free(&pl->path[DIR_S2C].held);
}
