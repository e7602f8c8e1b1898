/* --follow N: one session's two directions interleaved in the order the
 * bytes arrived, after TLS and DEFLATE, as they were (Wireshark's "Follow
 * stream" on the decrypted stream).
 *
 * The bytes come from the session's tap (imap/imap_session.h: the final
 * stream per direction that --streams also gets); the run hands them on
 * with follow_data and friends.  The session's marks say where literals
 * begin (a literal longer than max_literal is shown as its size) and where
 * secrets lie (shown as "***" unless show_secrets); since a secret is known
 * only once the session parsed its line, bytes wait in a queue until the
 * session says they are settled (IMAP_TAP_SETTLED), or the session turns
 * out not to be IMAP, or ends.  The queue holds at most FOLLOW_PENDING_MAX
 * bytes: past that (a line of a megabyte) it is written unsettled, and the
 * output says so.
 *
 * Text: one line per line of the stream, "C: " from the client, "S: " from
 * the server, "C+ "/"S+ " where a line goes on after the other side's bytes
 * or a note, "C! "/"S! " for notes (gaps, literals not shown), "== " for the
 * session's own (start, TLS, COMPRESS, end); wire bytes escaped
 * (util/escape.h); colour by side with color.
 *
 * JSON (docs/contract.md, type "chunk"): one object per piece of the
 * stream with dir, offset, bytes (the stream range it covers), frame, and
 * the bytes as "text" (valid UTF-8, JSON-escaped, exact) or "base64";
 * "omitted": "gap" or "literal" for a range not shown; "redacted": true
 * where a secret was replaced by "***". */
#ifndef IMAPSCOPE_REPORT_FOLLOW_H
#define IMAPSCOPE_REPORT_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "imap/imap_event.h"
#include "imap/imap_session.h"
#include "util/buf.h"

#define FOLLOW_DEFAULT_MAX_LITERAL 4096	/* literal bytes shown in full */
#define FOLLOW_PENDING_MAX (1u << 20)	/* bytes waiting to be settled */
#define FOLLOW_MAX_RANGES 256		/* literals and secrets waiting, per side */

struct follow_opts {
	uint64_t session;		/* the session followed */
	bool json;
	bool color;
	bool show_secrets;
	uint64_t max_literal;		/* FOLLOW_DEFAULT_MAX_LITERAL by default */
	/* The run's inputs, which frame ids index (util/byte_layer.h): with
	 * more than one, chunks name theirs ("pcap").  Must outlive it. */
	const char *const *inputs;
	size_t n_inputs;
	struct mem_budget *budget;	/* the queue; may be NULL */
};

struct follow;

/* Make the output (its events: session start, TLS, COMPRESS, end) writing
 * to fp (not closed), and *f_r the handle the tap calls take, owned by the
 * output (valid until its free).  0, or -1 if out of memory. */
int output_follow_new(struct output *out_r, FILE *fp, const struct follow_opts *o,
		      struct follow **f_r) WUR;

/* The tap's calls for any session (others than the one followed are
 * ignored).  frame: the frame id (util/byte_layer.h) of the packet that
 * completed the bytes, 0 if not known. */
void follow_data(struct follow *f, uint64_t session, enum stream_dir dir, const uint8_t *p,
		 size_t n, int64_t ts_us, uint64_t frame);
void follow_gap(struct follow *f, uint64_t session, enum stream_dir dir, uint64_t nbytes,
		int64_t ts_us, uint64_t frame);
void follow_not_imap(struct follow *f, uint64_t session);
void follow_end(struct follow *f, uint64_t session);
void follow_mark(struct follow *f, uint64_t session, const struct imap_tap_mark *m);

#endif
