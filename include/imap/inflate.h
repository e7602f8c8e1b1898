/* COMPRESS=DEFLATE (RFC 4978) as a byte layer: after the server's OK to
 * COMPRESS DEFLATE each direction is one raw deflate stream (no zlib or
 * gzip header).  Clients and servers flush at every command and response,
 * so output is handed on as soon as zlib produces it.
 *
 * A gap in a compressed stream loses the dictionary: the rest of that
 * direction cannot be decoded.  The layer reports it once (a notice and a
 * gap) and then only counts bytes: it never passes on guessed output.  So
 * does a direction stopped at a limit (max_total, the ratio guard), with a
 * notice of kind "inflate_limit": nothing more of it is inflated. */
#ifndef IMAPSCOPE_IMAP_INFLATE_H
#define IMAPSCOPE_IMAP_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/byte_layer.h"
#include "util/notice.h"
#include "util/transport_layer.h"

#define INFLATE_OUT_CHUNK	16384	/* output is handed on in pieces this big */
/* Deflate cannot expand one input byte into more than about 1032 output
 * bytes (a 258-byte match in two bits); more output than this per input
 * chunk (plus slack for bits zlib held back) means a broken stream. */
#define INFLATE_MAX_RATIO	1100
#define INFLATE_RATIO_SLACK	65536
/* Default cap on the output of one direction (--max-inflate); 0 in
 * inflate_new means this. */
#define INFLATE_DEFAULT_MAX_TOTAL	(1ull << 30)
/* A stream that keeps inflating more than INFLATE_GUARD_RATIO times its
 * input, once past INFLATE_GUARD_AFTER bytes of output, is a bomb: mail,
 * even a mailbox of alike messages, stays far below (a few to a few
 * hundred to one), while runs of one byte reach deflate's 1032.  Stopped
 * there, a 2 MB capture cannot make gigabytes of lines, --streams and CPU. */
#define INFLATE_GUARD_RATIO	1000
#define INFLATE_GUARD_AFTER	(1u << 20)

struct inflate_stats {
	uint64_t in[2];		/* compressed bytes fed */
	uint64_t used[2];	/* of them, consumed by zlib */
	uint64_t out[2];	/* inflated bytes handed on */
	uint64_t lost[2];	/* compressed bytes not decoded */
	uint64_t reported[2];	/* of them, given to the gap hook */
	bool broken[2];		/* direction stopped (gap, bad data, limit) */
};

struct inflate_session;

/* Where inflated bytes go (out is copied): data gets the inflated bytes of
 * a direction; gap, when the rest of a direction is lost, the compressed
 * input that could not be decoded at that moment (later input is only
 * counted, see inflate_stats); notice, one-line notices.  lost and
 * handshake are not used here (see inflate_layer_ops).  budget may be NULL
 * (zlib's memory, about 40 KB per direction, is charged to it).  max_total
 * caps each direction's output (0: INFLATE_DEFAULT_MAX_TOTAL).  NULL on
 * out-of-memory. */
struct inflate_session *inflate_new(const struct transport_sink *out,
				    uint64_t max_total, struct mem_budget *budget);
void inflate_feed(struct inflate_session *s, enum stream_dir dir,
		  const uint8_t *p, size_t n, int64_t ts_us);
void inflate_gap(struct inflate_session *s, enum stream_dir dir,
		 uint64_t nbytes, int64_t ts_us);
/* Is direction dir still being decoded? */
bool inflate_ok(const struct inflate_session *s, enum stream_dir dir);
void inflate_get_stats(const struct inflate_session *s, struct inflate_stats *st_r);
/* Frees; sets *sp to NULL.  NULL is fine.  Calls no hook. */
void inflate_free(struct inflate_session **sp);

/* Inflate as a transport layer (util/transport_layer.h).  conf: a const
 * uint64_t * max_total, as for inflate_new.  A gap in a direction already
 * stopped, and at end the input only counted since it stopped, go to the
 * sink's lost: the inflated stream has no place for them. */
extern const struct transport_layer_ops inflate_layer_ops;

#endif
