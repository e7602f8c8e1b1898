/* TCP reassembly of one direction: segments in, ordered bytes and explicit
 * gaps out.
 *
 * Positions are absolute 64-bit stream offsets: offset 0 is the byte after
 * the SYN (or, picked up mid-stream, the first byte seen, or the first
 * position the peer acknowledged).  A sequence number is placed relative to
 * the next expected byte, within +-2^31, so sequence wrap-around never shows.
 *
 * Policy:
 * - in-order bytes are handed up straight from the packet (no copy); only
 *   out-of-order bytes are copied, into a queue ordered by offset and capped
 *   at max_ooo_bytes and at REASM_MAX_RUNS runs; under pressure the first
 *   hole is declared a gap;
 * - first copy wins: bytes already delivered or queued are never replaced;
 *   a later copy is compared with the queued bytes and with a window of the
 *   last bytes delivered (REASM_WINDOW, charged to the budget, grown with
 *   the stream and only while the budget is under a quarter spent); where
 *   it differs, conflict() is told the span and the differing bytes are
 *   counted; retransmitted bytes outside the window (older, or in a
 *   delivery longer than window_max_run) are counted as not compared;
 * - keep-alives (0 or 1 byte at next-1) are ignored; a zero-window probe
 *   carries the genuine next byte, so it is simply data;
 * - missing bytes are never glued over: gap() is called once the hole is
 *   certain (reasm_peer_ack past it, a FIN past it, queue pressure, a
 *   segment cut by the snap length, reasm_flush);
 * - bytes before offset 0 (mid-stream pickup, out of order) are dropped
 *   and counted in early_bytes. */
#ifndef IMAPSCOPE_NET_REASSEMBLY_H
#define IMAPSCOPE_NET_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* An ACK more than this far past the next expected byte is not believed
 * (the largest TCP window with scaling is 2^30). */
#define REASM_MAX_ACK_JUMP (1LL << 30)

/* Separate runs of out-of-order bytes queued at most.  Inserting walks the
 * queue, so tiny segments sent to land between queued ones would otherwise
 * cost time quadratic in their number (100,000 one-byte segments took 9 s);
 * 4 MB of full-size segments is 2,900 runs. */
#define REASM_MAX_RUNS 4096

/* Delivered bytes kept per direction to compare retransmissions with: a
 * retransmission comes at most a window (typically 64 KB unscaled) after
 * the original.  The window starts at REASM_WINDOW_MIN and doubles as the
 * stream grows, so a flood of tiny streams stays small. */
#define REASM_WINDOW     (64u << 10)
#define REASM_WINDOW_MIN 64u

struct reasm_out {
	void *ctx;
	/* n in-order bytes at stream offset off; p valid only during the call. */
	void (*data)(void *ctx, uint64_t off, const uint8_t *p, size_t n,
		     int64_t ts_us);
	/* nbytes at stream offset off are missing for good. */
	void (*gap)(void *ctx, uint64_t off, uint64_t nbytes, int64_t ts_us);
	/* A later copy differs from the first within [off, off + nbytes) (the
	 * first and the last differing byte); the first copy was kept.  May
	 * be NULL. */
	void (*conflict)(void *ctx, uint64_t off, uint64_t nbytes, int64_t ts_us);
};

struct reasm_config {
	size_t max_ooo_bytes;		/* payload bytes queued out of order */
	struct mem_budget *budget;	/* charged for the queue and the struct; may be NULL */
	size_t window;			/* delivered bytes kept for comparison: rounded
					   down to a power of two; 0 is REASM_WINDOW,
					   below REASM_WINDOW_MIN none */
	size_t window_max_run;		/* 0: every delivered byte is kept; else a
					   delivery longer than this is not, and the
					   window starts again after it */
	/* Capture records (frame ids, util/byte_layer.h), both may be NULL.
	 * *frame_src is read as the record of the segment or ACK being
	 * given (out-of-order bytes keep theirs); before each data() call
	 * *frame_out is set to the record that brought those bytes, before
	 * gap() to the record being read when the hole became certain. */
	const uint64_t *frame_src;
	uint64_t *frame_out;
};

/* Counters of one direction; they only grow. */
struct reasm_stats {
	uint64_t delivered;		/* bytes handed to data() */
	uint64_t retransmitted;		/* bytes seen again and dropped */
	uint64_t overlap_conflicts;	/* of those, bytes that differed */
	uint64_t conflicts;		/* conflict() calls */
	uint64_t unchecked;		/* retransmitted bytes outside the window
					   (too old, or not kept): not compared */
	uint64_t gaps;			/* gap() calls */
	uint64_t gap_bytes;
	uint64_t ooo_dropped;		/* out-of-order bytes not queued (budget
					   or allocation failure) */
	uint64_t pressure_gaps;		/* gaps declared because the queue was full */
	uint64_t runs_full;		/* of those, because of REASM_MAX_RUNS */
	uint64_t early_bytes;		/* bytes before offset 0 */
	uint64_t keepalives;
	uint64_t segments;		/* segments with payload */
};

struct reasm;

/* NULL when out of memory.  out is copied. */
struct reasm *reasm_new(const struct reasm_config *cfg,
			const struct reasm_out *out);
/* Frees queued bytes without delivering them (call reasm_flush first). */
void reasm_free(struct reasm **r);

/* A SYN (or the peer's SYN/ACK told us seq + 1 through its ack): offset 0
 * is seq + 1.  Ignored once the stream has started. */
void reasm_syn(struct reasm *r, uint32_t seq);

/* One segment: paylen bytes at seq, then `missing` bytes the snap length
 * cut off (a certain gap), then a FIN if fin.  The first segment of a
 * stream that saw no SYN sets offset 0 to seq. */
void reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *payload,
		   uint32_t paylen, uint32_t missing, bool fin, int64_t ts_us);

/* The peer acknowledged everything before ack: any hole before it is
 * certain.  A stream that has not started starts at ack. */
void reasm_peer_ack(struct reasm *r, uint32_t ack, int64_t ts_us);

/* The stream is over (timeout, RST, end of input): deliver everything
 * queued, with gaps for the holes between and up to the FIN if one was
 * seen. */
void reasm_flush(struct reasm *r, int64_t ts_us);

bool reasm_started(const struct reasm *r);
/* A FIN was seen and every byte before it has been delivered or gapped. */
bool reasm_done(const struct reasm *r);
/* The offset of the next byte expected. */
uint64_t reasm_next_offset(const struct reasm *r);
/* Bytes currently queued out of order. */
size_t reasm_queued(const struct reasm *r);
const struct reasm_stats *reasm_stats(const struct reasm *r);

#endif
