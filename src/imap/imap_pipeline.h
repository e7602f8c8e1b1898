/* The per-session byte pipeline: each direction's way from the wire to the
 * lexer,
 *
 *   wire -> [TLS] -> [inflate] -> tap, lexer
 *
 * with the layers switched in at the exact byte after the line that
 * agreed to them (an implicit-TLS port at once, the server's OK to
 * STARTTLS, the OK to COMPRESS DEFLATE).  TLS and inflate are transport
 * layers (util/transport_layer.h); the TLS one is injected through the
 * session config, so this file names no TLS code.
 *
 * Private to src/imap/.  The pipeline is embedded in its struct
 * imap_session (the member pl, from which it finds the session) and lives
 * as long as it: it feeds the session's
 * lexers one line at a time (so that a line's switch takes effect at the
 * next byte), reads its mode, counts into its summary and reports through
 * its events and notices.  Every pointer passed in is valid only during
 * the call. */
#ifndef IMAPSCOPE_IMAP_PIPELINE_H
#define IMAPSCOPE_IMAP_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/byte_layer.h"
#include "util/transport_layer.h"

struct imap_session;
struct imap_session_config;

/* Client bytes kept while a STARTTLS or COMPRESS awaits its answer.  A
 * well-behaved client sends nothing then; a ClientHello fits many times. */
#define SESS_MAX_HOLD     (64 * 1024)
/* Bytes looked at, after a switch to TLS or DEFLATE, to tell IMAP text
 * from what was announced: a first line longer than this is not waited
 * for (real TLS and deflate give themselves away in their first bytes). */
#define SESS_PROBE_MAX    1024

/* How TLS began on this session (the tls event's "phase"). */
enum pipe_tls_phase {
	PIPE_TLS_NONE,		/* no TLS (yet) */
	PIPE_TLS_IMPLICIT,	/* an implicit-TLS port */
	PIPE_TLS_STARTTLS,	/* after an OK to STARTTLS, or found mid-stream */
};

/* What the first bytes after a switch must show before they take the new
 * path: a direction may stay plain IMAP whatever was agreed. */
enum sess_probe {
	PROBE_NONE,
	PROBE_TLS,		/* the next wire bytes: TLS records or IMAP text? */
	PROBE_DEFLATE,		/* the next bytes after TLS: deflate or IMAP text? */
};

/* One direction's way through the byte layers. */
struct sess_path {
	bool tls;		/* wire bytes go to the TLS layer */
	bool deflate;		/* bytes after TLS go to inflate (counted without it) */
	bool hold;		/* client bytes after STARTTLS/COMPRESS await the answer */
	bool hold_in_tls;	/* the held bytes came out of the TLS layer */
	bool hold_starttls;	/* the hold is for a STARTTLS (not COMPRESS) */
	/* Text lines here were sent before TLS could begin although STARTTLS
	 * was agreed (held client bytes, the rest of the server's OK segment):
	 * injected, dissected as IMAP. */
	bool inject;
	bool injected;		/* the notice was given */
	bool in_clear;		/* the lexer is being fed bytes that crossed in clear */
	bool probe_in_tls;	/* the probed bytes came out of the TLS layer */
	uint8_t probe;		/* enum sess_probe (small: sessions are many) */
	unsigned gen;		/* bumped at every switch: a line loop stops there */
	/* Held client bytes; once the hold is over (or in the server's
	 * direction), the first bytes after a switch while the probe has not
	 * decided, at most SESS_PROBE_MAX. */
	struct buf held;
};

struct imap_pipeline {
	const struct transport_layer_ops *tls_ops;	/* NULL: no TLS layer */
	const void *tls_conf;
	void *tls;			/* NULL until TLS starts, or out of memory */
	void *zin;			/* inflate; NULL until COMPRESS, or out of memory */
	/* The TLS instance's sink, which it keeps a pointer to. */
	struct transport_sink tls_out;
	struct sess_path path[2];
	enum pipe_tls_phase tls_phase;	/* set once, when TLS starts */
	bool tls_decrypting[2];		/* by direction, once the handshake said */
	uint64_t plain_off[2];		/* final (decrypted, inflated) stream offsets */
	uint64_t wire_off[2];		/* TCP stream offsets */
};

/* Sets up the pipeline of session s (pl is &s->pl), plain in both
 * directions, with the TLS layer of cfg (cfg->tls may be NULL: TLS is then
 * only reported). */
void imap_pipeline_init(struct imap_pipeline *pl, struct imap_session *s,
			const struct imap_session_config *cfg);
/* Frees the layers and held bytes; calls no hook. */
void imap_pipeline_free(struct imap_pipeline *pl);

/* n wire (TCP payload) bytes of direction dir; a TCP gap. */
void imap_pipeline_feed(struct imap_pipeline *pl, enum stream_dir dir, const uint8_t *p,
			size_t n, int64_t ts_us);
void imap_pipeline_gap(struct imap_pipeline *pl, enum stream_dir dir, uint64_t nbytes,
		       int64_t ts_us);
/* The session ends: waiting bytes go their way, the layers say what they
 * still owe (losses, the tls event).  Before the lexers finish. */
void imap_pipeline_end(struct imap_pipeline *pl, int64_t ts_us);

/* Switches, called by the session at the line that makes them. */
void imap_pipeline_start_tls(struct imap_pipeline *pl, enum pipe_tls_phase phase, int64_t ts);
void imap_pipeline_start_compress(struct imap_pipeline *pl, int64_t ts);
void imap_pipeline_hold_begin(struct imap_pipeline *pl, bool starttls);
void imap_pipeline_hold_end(struct imap_pipeline *pl, int64_t ts);

/* Do wire bytes of dir go straight to the lexer (no layer, no hold)? */
static inline bool imap_pipeline_direct(const struct imap_pipeline *pl, enum stream_dir dir)
{
	const struct sess_path *sp = &pl->path[dir];

	return !sp->tls && !sp->deflate && !sp->hold;
}

/* Is direction d TLS that is not being decrypted (the session_end's
 * "undecrypted")? */
static inline bool imap_pipeline_undecrypted(const struct imap_pipeline *pl, enum stream_dir d)
{
	return pl->tls_phase != PIPE_TLS_NONE && pl->path[d].tls && !pl->tls_decrypting[d];
}

#endif
