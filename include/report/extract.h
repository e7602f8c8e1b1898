/* --extract DIR: every message body that crosses the wire (FETCH bodies,
 * APPEND literals) as a file in DIR, with one DIR/index.jsonl line per body.
 *
 * The session (imap/imap_session.h) says where a body begins, hands over its
 * bytes and holes as they arrive, and says when the line that carried it is
 * complete (only then are a FETCH's UID and the index line final).  This
 * writer knows nothing of IMAP beyond the section names.
 *
 *   begin -> data / gap ... -> [all bytes in: file closed, hashed, renamed]
 *         -> end (uid, seq) -> index line
 *
 * Bytes are hashed as they arrive (SHA-256); a small body is buffered and
 * written once, a larger one goes to a temporary file in DIR, so memory
 * does not grow with the size of a message and open files stay few however
 * many bodies are in flight.  When the announced size is accounted for
 * (received or lost) the file takes its content name, so the same content
 * is stored once however often it was fetched or appended; every
 * occurrence gets its own index line.  Files are made 0600 in a folder
 * opened as util/outdir.h says, never through a link.
 *
 * File names are made only of the hex digest, a sanitised section and a
 * fixed suffix:
 *   <sha256>.eml                    a whole message, complete
 *   <sha256>.truncated.eml          a whole message that a gap or the end of
 *                                   the capture cut short
 *   <sha256>.<section>.part         a partial fetch (BODY[TEXT], BODY[1]<0>)
 *   <sha256>.<section>.truncated.part
 * Missing bytes are left out of the files, never zero-filled (as --streams
 * does); the index lists the holes by their offset in the body.
 * A body of which no byte arrived (a refused synchronising literal, or one
 * lost whole) writes nothing and gets no index line. */
#ifndef IMAPSCOPE_REPORT_EXTRACT_H
#define IMAPSCOPE_REPORT_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_session.h"
#include "util/buf.h"
#include "util/byte_layer.h"

#define EXTRACT_ERRLEN 512
#define EXTRACT_MAX_FIELD 1024		/* bytes kept of user, mailbox, section */
#define EXTRACT_MAX_SECTION_NAME 64	/* section characters in a file name */
#define EXTRACT_MAX_HOLES 16		/* holes listed per body in the index */

struct extract_stats {
	uint64_t items;		/* index lines written */
	uint64_t files;		/* distinct files created */
	uint64_t duplicates;	/* bodies whose content was already stored */
	uint64_t truncated;
	uint64_t dropped;	/* out of memory or a failed write: not indexed */
};

struct extract;
struct extract_item;

/* Open DIR (util/outdir.h: made 0700 if missing; refused if not empty,
 * unless force, which removes an earlier run's files) and make
 * DIR/index.jsonl.  Open items and their buffered bytes are charged to
 * budget (may be NULL): a body whose item is refused is counted in dropped;
 * a refused user or mailbox field is left out of its index line; bytes the
 * budget will not buffer are written at once.  NULL with err set (one line
 * naming the path) on failure. */
struct extract *extract_new(const char *dir, bool force, struct mem_budget *budget,
			    char err[EXTRACT_ERRLEN]);

/* A body begins.  Returns its handle, or NULL when out of memory (counted
 * as dropped; the caller then simply has nothing to feed). */
struct extract_item *extract_begin(struct extract *x, uint64_t session,
				   const struct extract_meta *m);
/* Its next n bytes. */
void extract_data(struct extract *x, struct extract_item *it, const uint8_t *p, size_t n);
/* nbytes of it are missing. */
void extract_gap(struct extract *x, struct extract_item *it, uint64_t nbytes);
/* The line that carried it is complete, or was lost, or the session ended:
 * uid and seq as now known (0: keep what begin said).  Whatever of the body
 * did not arrive by now never will.  Writes the index line, unless unsent
 * (a refused literal: nothing is written) or no byte of a non-empty body
 * arrived; it is freed. */
void extract_end(struct extract *x, struct extract_item *it, uint64_t uid, uint64_t seq,
		 bool unsent);

/* Whether a section names a whole message (BODY[], BODY.PEEK[], BINARY[],
 * BINARY.PEEK[], RFC822, or NULL for APPEND), not a part or a range. */
bool extract_section_is_whole(struct buf_slice section);
/* The file-name form of a section: only [A-Za-z0-9._-] and "[]<>", spaces
 * as "_", "()" and quotes dropped, never "..", at most
 * EXTRACT_MAX_SECTION_NAME characters; "part" if nothing is left.  dst
 * holds EXTRACT_MAX_SECTION_NAME + 1 bytes; returns the length. */
size_t extract_section_name(char *dst, struct buf_slice section);

void extract_get_stats(const struct extract *x, struct extract_stats *st_r);

/* Closes the index (every item must have ended).  Returns 0, or -1 if a
 * file could not be made or written (a link planted during the run, a full
 * disk: that body is dropped, not indexed); err has the first error and how
 * many more. */
int extract_free(struct extract **x, char err[EXTRACT_ERRLEN]);

#endif
