/* --streams DIR: each session's two reassembled byte streams (decrypted and
 * inflated where the session could) as files, with DIR/index.jsonl.
 *
 * Missing bytes are left out of the files, never zero-filled; the index
 * lists every gap by its offset in the original stream and its length.
 * The files hold passwords: they are made 0600 in a folder opened as
 * util/outdir.h says, never through a link.  A file that cannot be made or
 * written (a planted link found during the run, a full disk) loses that
 * stream's bytes, is marked "failed" in the index ("file": null if it was
 * never made), and makes streams_free fail. */
#ifndef IMAPSCOPE_REPORT_STREAMS_H
#define IMAPSCOPE_REPORT_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/byte_layer.h"

#define STREAMS_ERRLEN 512
#define STREAMS_FLUSH_BYTES (64 * 1024)	/* buffered per stream before a write */
#define STREAMS_MAX_GAPS_LISTED 1024	/* gaps listed per stream in the index */

struct streams;

/* Open DIR (util/outdir.h: made 0700 if missing; refused if not empty,
 * unless force, which removes an earlier run's files) and make
 * DIR/index.jsonl.  Open sessions, the session table, their pending bytes
 * and gap lists are charged to budget (may be NULL).  Refused, a session
 * is not written (no files, no index line), pending bytes go straight to
 * the file unbuffered, and a gap is counted in gaps_unlisted.  NULL with
 * err set (one line naming the path) on failure. */
struct streams *streams_new(const char *dir, bool force, struct mem_budget *budget,
			    char err[STREAMS_ERRLEN]);

/* A session begins; client and server are "ip:port" strings (copied). */
void streams_open(struct streams *st, uint64_t session, const char *client,
		  const char *server);
void streams_data(void *st, uint64_t session, enum stream_dir dir,
		  const uint8_t *p, size_t n);
void streams_gap(void *st, uint64_t session, enum stream_dir dir, uint64_t nbytes);
/* The session is over: flush its files and write its index line. */
void streams_end(void *st, uint64_t session);

/* Ends every open session and closes the index.  Returns 0, or -1 if any
 * file could not be made or written (err: the first error, and how many
 * more). */
int streams_free(struct streams **st, char err[STREAMS_ERRLEN]);

#endif
