/* The per-connection IMAP state machine: pending tags, literal sync, SASL,
 * IDLE, APPEND, STARTTLS and COMPRESS switches, selected mailbox.
 *
 * A session is a byte layer (util/byte_layer.h): reassembly feeds it both
 * directions, it runs them through [tls] -> [inflate] -> lexer -> grammar,
 * and it tells an output (imap/imap_event.h) what happened, one event at a time,
 * in the order the bytes arrived.
 *
 * TLS (the layer cfg->tls, which the wiring injects: tls/tls_layer.h) starts
 * at once when info->implicit_tls, after the server's OK to STARTTLS, or
 * when a capture picked up mid-stream begins with a TLS record; the tls
 * event comes when the TLS layer knows whether it can decrypt, with the
 * handshake's version, cipher and SNI.
 * Inflate (imap/inflate.h) starts after the OK to COMPRESS DEFLATE, inside
 * TLS when TLS is on.  Gap events carry offsets in the final (decrypted,
 * inflated) stream, the one the tap sees; summary bytes_* count that
 * stream, wire_bytes_* the TCP payload. */
#ifndef IMAPSCOPE_IMAP_SESSION_H
#define IMAPSCOPE_IMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_event.h"
#include "util/buf.h"
#include "util/byte_layer.h"
#include "util/transport_layer.h"

#define IMAP_MAX_PENDING_TAGS 1024	/* commands awaiting completion */

/* How a session ended, for the tap's end. */
struct imap_tap_end {
	int64_t ts_us;
	enum end_reason why;
	bool undecrypted[2];	/* TLS not decrypted, by direction: what
				   crossed inside it never reached the tap */
};

/* What the session tells the tap of its final bytes beyond the bytes
 * themselves (struct imap_tap.mark), for a view that shows them (--follow).
 * Offsets are those of the final stream of dir, counted as the tap sees
 * it (data and gap bytes since the session began).
 *   IMAP_TAP_LITERAL: [off, off + len) is a literal's contents, told
 *     before its first byte is tapped.
 *   IMAP_TAP_SECRET: [off, off + len) is a password or SASL data (LOGIN's
 *     password, AUTHENTICATE's initial response, a client SASL line), or
 *     client bytes the session could not read where one may hide (a SASL
 *     line a gap cut, bytes skipped resynchronising); told after its bytes
 *     were tapped, before the SETTLED that covers them (a range may run
 *     past the bytes tapped, into a gap); never with --show-secrets.
 *   IMAP_TAP_SETTLED: every byte before off has been parsed: no mark names
 *     one of them any more (len 0).  Told after each logical line; bytes
 *     the session does not parse (another protocol: not_imap) are never
 *     settled this way. */
enum imap_tap_mark_kind { IMAP_TAP_LITERAL, IMAP_TAP_SECRET, IMAP_TAP_SETTLED };

struct imap_tap_mark {
	enum imap_tap_mark_kind kind;
	enum stream_dir dir;
	uint64_t off, len;
};

/* Where the session's final (decrypted, inflated) bytes may also go, e.g.
 * to --streams and --write-decrypted.  ts_us is the time of the packet
 * that completed the chunk.  not_imap: what was tapped so far, and what
 * follows, is another protocol (said once, at the first line of either
 * direction at the latest).  Every member may be NULL. */
struct imap_tap {
	void *ctx;
	void (*data)(void *ctx, uint64_t session, enum stream_dir dir,
		     const uint8_t *p, size_t n, int64_t ts_us);
	void (*gap)(void *ctx, uint64_t session, enum stream_dir dir, uint64_t nbytes,
		    int64_t ts_us);
	void (*not_imap)(void *ctx, uint64_t session);
	void (*end)(void *ctx, uint64_t session, const struct imap_tap_end *e);
	/* Marks (struct imap_tap_mark); NULL: none is computed. */
	void (*mark)(void *ctx, uint64_t session, const struct imap_tap_mark *m);
};

/* What is known of a body when it begins.  Slices are valid during the
 * begin call; ptr NULL stands for unknown (JSON null). */
struct extract_meta {
	const char *client, *server;	/* "ip:port" */
	enum stream_dir dir;		/* DIR_S2C: fetched, DIR_C2S: appended */
	struct buf_slice section;	/* as on the wire, "BODY[]", "RFC822",
					   "BINARY[1]", "BODY[TEXT]<0>"; NULL
					   for APPEND (a whole message) */
	struct buf_slice user;		/* the session's login */
	struct buf_slice mailbox;	/* selected (FETCH) or target (APPEND) */
	uint64_t seq, uid;		/* 0: not known (yet) */
	/* the mailbox's (FETCH: the selected one's), or FACT_NONE (APPEND:
	 * its completion's APPENDUID says it, --activity shows it) */
	uint64_t uidvalidity;
	uint64_t size;			/* announced by the literal */
	int64_t ts_us;			/* when the body began */
};

/* Where message bodies go for --extract (report/extract.h is the writer):
 * the literals of "* N FETCH (... BODY[...] {n}" responses and of APPEND
 * commands.  begin gets what is known when a body starts (valid during the
 * call) and returns a handle, or NULL to skip it; data and gap follow its
 * bytes; end comes once the logical line that carried it is complete (or
 * lost, or the session ends), with the UID and sequence number the whole
 * line gave (0: not known), and unsent when the client's synchronising
 * literal was refused before any byte of it was sent (nothing is to be
 * written then, even for an empty one).  begin NULL: no extraction, no
 * extra work. */
struct imap_extract_hooks {
	void *ctx;
	void *(*begin)(void *ctx, uint64_t session, const struct extract_meta *m);
	void (*data)(void *ctx, void *item, const uint8_t *p, size_t n);
	void (*gap)(void *ctx, void *item, uint64_t nbytes);
	void (*end)(void *ctx, void *item, uint64_t uid, uint64_t seq, bool unsent);
};

struct imap_session_config {
	bool show_secrets;
	unsigned facts;			/* IMAP_FACTS_* (imap_event.h) to make */
	size_t literal_keep;		/* IMAP_DEFAULT_LITERAL_KEEP by default */
	uint64_t max_inflate;		/* per direction; 0: INFLATE_DEFAULT_MAX_TOTAL */
	struct mem_budget *budget;	/* may be NULL */
	/* The TLS layer and its conf (tls/tls_layer.h: tls_layer_ops and the
	 * run's key store, which may be NULL).  tls NULL: no TLS layer, TLS
	 * sessions are only counted and their tls event says so. */
	const struct transport_layer_ops *tls;
	const void *tls_conf;
	struct output out;		/* where events go */
	struct imap_tap tap;
	struct imap_extract_hooks extract;
	/* Every notice of the session and of the layers below it, after it
	 * became an event of the session (util/notice.h).  May be NULL. */
	notice_fn *notice;
	void *notice_ctx;
	/* The run's input files, which frame ids (util/byte_layer.h) index:
	 * with more than one, events name theirs (event.pcap). */
	const char *const *inputs;
	size_t n_inputs;
};

struct imap_session_info {
	uint64_t id;
	const char *client;	/* "ip:port"; copied */
	const char *server;
	/* Typed endpoints, flow_id and community_id; copied, and its
	 * strings made by the session (event_flow_format). */
	struct event_flow flow;
	bool mid_stream;
	bool implicit_tls;
	int64_t first_ts_us;
	uint64_t first_frame;	/* its record (a frame id) */
};

/* Creates the session and emits its session_start event.  cfg must outlive
 * the session.  NULL on out-of-memory. */
struct imap_session *imap_session_new(const struct imap_session_config *cfg,
				      const struct imap_session_info *info);

/* The byte-layer ops; ctx is the struct imap_session *.  end() emits
 * session_end and frees the session. */
extern const struct byte_layer_ops imap_session_ops;

/* Flow classification for flows not on an IMAP port: does this first
 * payload look like IMAP, and is its sender the server (1), the client (0),
 * unclear (2), or not IMAP at all (-1)? */
int imap_session_classify(const uint8_t *p, size_t n);

struct imap_session;
enum imap_session_state imap_session_state(const struct imap_session *s);
/* The selected mailbox (the session's facts: quotes and literals
 * resolved, modified UTF-7 decoded to UTF-8); ptr NULL when none.  Valid
 * until the next feed. */
struct buf_slice imap_session_mailbox(const struct imap_session *s);

#endif
