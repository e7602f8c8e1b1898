/* The byte-layer interface: how ordered stream bytes travel upward.
 *
 * Reassembly hands each session's two byte streams to the layer above
 * through these three calls; TLS and inflate are byte layers too and hand
 * their output on through the same calls.  Pointers passed to feed are valid
 * only for the duration of the call. */
#ifndef IMAPSCOPE_UTIL_BYTE_LAYER_H
#define IMAPSCOPE_UTIL_BYTE_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "util/notice.h"

/* Direction of a byte stream, relative to the session's client. */
enum stream_dir {
	DIR_C2S = 0,
	DIR_S2C = 1,
};

/* "c2s" or "s2c", as the contract spells directions. */
static inline const char *stream_dir_name(enum stream_dir d)
{
	return d == DIR_C2S ? "c2s" : "s2c";
}

/* Why a session ended; the names are the contract's session_end reasons. */
enum end_reason {
	END_FIN = 0,
	END_RST,
	END_TIMEOUT,
	END_EOF,
	END_EVICTED,	/* pushed out by the flow cap; reported as "timeout" */
};

/* A frame id names one capture record: its 1-based number in its input
 * file (capture_pkt.frame) in the low FRAME_NUM_BITS bits, the file's
 * index among the run's inputs (from 0) above.  0: no record. */
#define FRAME_NUM_BITS 40
#define FRAME_ID(file, num) ((uint64_t)(file) << FRAME_NUM_BITS | (num))
#define FRAME_NUM(id)  ((id) & (((uint64_t)1 << FRAME_NUM_BITS) - 1))
#define FRAME_FILE(id) ((size_t)((id) >> FRAME_NUM_BITS))

struct byte_layer_ops {
	/* n in-order bytes of direction dir, seen in a packet at ts_us
	 * (microseconds since the epoch, capture time). */
	void (*feed)(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
		     int64_t ts_us);
	/* nbytes of direction dir are missing here and will never come. */
	void (*gap)(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts_us);
	/* The session is over; ctx is not used again after this call. */
	void (*end)(void *ctx, enum end_reason why, int64_t ts_us);
	/* Optional, called before end: n of the gaps were made by a cap of
	 * the layer below (a full out-of-order queue, a refused allocation)
	 * rather than by the capture, for the session's "capped" count. */
	void (*capped)(void *ctx, uint64_t n);
	/* Optional, called before end: n bytes came again in retransmitted
	 * packets and were dropped.  Normal on a real network: counted in the
	 * summary, not a notice (unless a copy differed). */
	void (*retransmitted)(void *ctx, uint64_t n);
	/* Optional: a notice of the layer below about this session (n->session
	 * is its id), to become part of its record; valid during the call. */
	notice_fn *notice;
	/* Optional, asked once when the session opens: two cells owned by
	 * ctx, by enum stream_dir, valid until end().  Before each feed of
	 * direction dir the layer below writes into cell dir the capture
	 * record (a frame id) the bytes came in; before a gap, the record
	 * being read when the gap became certain; before end, the session's
	 * last record.  A store, not a call: this is per packet. */
	uint64_t *(*frames)(void *ctx);
};

#endif
