/* A transform byte layer: bytes in, other bytes out (TLS decryption,
 * inflate).  The per-session pipeline (src/imap/imap_pipeline.h) stacks
 * them plain -> [TLS] -> [inflate] -> IMAP without knowing which is which;
 * the wiring hands it the TLS layer, so the IMAP layer needs no TLS code.
 *
 * Input goes in through the ops (feed, gap, end: the byte_layer.h calls,
 * per instance); output comes back through the sink the instance was
 * opened with, synchronously, inside the feed, gap or end call that made
 * it.  Output pointers are valid only during the sink call: the layer
 * hands on its own buffer, nothing is copied for the caller. */
#ifndef IMAPSCOPE_UTIL_TRANSPORT_LAYER_H
#define IMAPSCOPE_UTIL_TRANSPORT_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/byte_layer.h"
#include "util/notice.h"

/* What a security layer learnt from its handshake, once per instance, as
 * soon as it knows whether it can decode (the contract's tls event).  Every
 * pointer is valid only during the call. */
struct transport_handshake {
	const char *version;	/* "TLS 1.3"; NULL when no ServerHello was seen */
	const char *cipher;	/* IANA name; NULL likewise */
	struct buf_slice sni;	/* ptr NULL: none */
	bool decrypted;		/* both directions */
	bool decrypted_dir[2];	/* by enum stream_dir */
	const char *reason;	/* NULL when decrypted; else what to do about it */
};

/* Where an instance's output goes.  Every member but ctx may be NULL.
 * The first four are in the order of the older per-layer hook structs. */
struct transport_sink {
	void *ctx;
	/* Decoded bytes of direction dir, in order. */
	void (*data)(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
		     int64_t ts_us);
	/* About nbytes of decoded bytes are missing here. */
	void (*gap)(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts_us);
	/* One-line notice, without prefix or newline. */
	notice_fn *notice;
	/* nbytes of input were lost where the decoded stream has already
	 * stopped (a direction given up): said, but no place in the output. */
	void (*lost)(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts_us);
	/* A security layer's outcome; once per instance. */
	void (*handshake)(void *ctx, const struct transport_handshake *h);
};

struct transport_layer_ops {
	/* A new instance for one session, its output going to *out (copied).
	 * conf is the layer's own (the TLS layer's key store, inflate's cap);
	 * it and budget must outlive the instance.  NULL on out-of-memory. */
	void *(*open)(const void *conf, const struct transport_sink *out,
		      struct mem_budget *budget);
	/* Does a stream that starts with these bytes speak this layer's
	 * protocol (a capture picked up after the switch)?  May be NULL. */
	bool (*sniff)(const uint8_t *p, size_t n);
	void (*feed)(void *inst, enum stream_dir dir, const uint8_t *p, size_t n,
		     int64_t ts_us);
	/* nbytes of input of direction dir are missing and will never come. */
	void (*gap)(void *inst, enum stream_dir dir, uint64_t nbytes, int64_t ts_us);
	/* No more input: the instance says what it still owes (a handshake
	 * outcome, losses not yet reported).  May be NULL. */
	void (*end)(void *inst, int64_t ts_us);
	/* Frees without calling the sink.  NULL is fine. */
	void (*free)(void *inst);
};

#endif
