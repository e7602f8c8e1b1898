/* The sequence-number -> UID map of the selected mailbox.
 *
 * A message's sequence number is its place in the mailbox and changes as
 * messages before it are expunged; its UID does not.  Outputs that name
 * messages (--activity) need the UID of a "* 5 FETCH" that did not carry
 * one, and of the message a "* 5 EXPUNGE" removed.  The map learns pairs
 * from FETCH responses that carry both, renumbers on EXPUNGE (every
 * higher number moves down by one), drops the UIDs a VANISHED names and is
 * emptied when the selection changes.  What it was not told it does not
 * know: such slots hold 0 and lookups answer FACT_NONE; when a removal
 * could have been at one of them (a VANISHED UID not in the map but
 * between two unknown places), every number from there on is forgotten.
 *
 * Memory: one uint32_t per sequence number up to the highest one known,
 * charged to the budget, at most IMAP_MSGMAP_MAX_SEQ of them. */
#ifndef IMAPSCOPE_IMAP_MSGMAP_H
#define IMAPSCOPE_IMAP_MSGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Sequence numbers mapped per session (1 MB); higher ones stay unknown. */
#define IMAP_MSGMAP_MAX_SEQ (1u << 18)

struct imap_msgmap {
	uint32_t *uid;		/* uid[seq - 1], 0: unknown */
	size_t len;		/* slots in use: the last one is known */
	size_t cap;		/* slots allocated (charged) */
	struct mem_budget *budget;
};

/* What an update could not keep. */
enum imap_msgmap_rc {
	MSGMAP_OK = 0,
	MSGMAP_CAPPED,		/* past IMAP_MSGMAP_MAX_SEQ */
	MSGMAP_NO_MEMORY,	/* the budget or malloc refused */
};

void imap_msgmap_init(struct imap_msgmap *m, struct mem_budget *budget);
/* Forget every pair (a new selection); the memory is kept for reuse. */
void imap_msgmap_reset(struct imap_msgmap *m);
void imap_msgmap_free(struct imap_msgmap *m);

/* seq has uid (a FETCH said both).  A pair that contradicts the order of
 * UIDs (they ascend with sequence numbers) makes the neighbours it
 * contradicts unknown. */
enum imap_msgmap_rc imap_msgmap_learn(struct imap_msgmap *m, uint64_t seq, uint64_t uid);
/* The UID of seq, or FACT_NONE. */
uint64_t imap_msgmap_uid(const struct imap_msgmap *m, uint64_t seq);
/* The smallest UID the map holds that is >= uid, and its sequence number
 * in *seq_r; FACT_NONE (and *seq_r FACT_NONE) when it holds none.  UIDs
 * ascend with sequence numbers, so this bisects however many slots are
 * unknown in between (a run of them is walked over). */
uint64_t imap_msgmap_next(const struct imap_msgmap *m, uint64_t uid, uint64_t *seq_r);
/* How many slots from the first are known: the sequence numbers up to it
 * are certain even when a UID the map never held is removed. */
uint64_t imap_msgmap_known_prefix(const struct imap_msgmap *m);
/* "* seq EXPUNGE": the UID it had (FACT_NONE if unknown), and every
 * higher number moves down by one. */
uint64_t imap_msgmap_expunge(struct imap_msgmap *m, uint64_t seq);
/* "* n EXISTS": the mailbox holds n messages; slots past n are dropped
 * (it never shrinks so without EXPUNGE: the map is wrong there). */
void imap_msgmap_exists(struct imap_msgmap *m, uint64_t n);
/* "* VANISHED uids" (not EARLIER): those UIDs are gone.  The numbers of
 * the ones left are renumbered; where the removal of a UID the map does
 * not hold may have shifted them, they become unknown.  A malformed set
 * or one holding "*" forgets everything.  MSGMAP_NO_MEMORY: the set could
 * not be sorted, and everything was forgotten. */
enum imap_msgmap_rc imap_msgmap_vanished(struct imap_msgmap *m, struct buf_slice uids);
/* uids, all the UIDs of a mailbox of n messages in ascending order (the
 * answer to UID SEARCH ALL when n is EXISTS): the whole map.  Nothing is
 * changed when they do not ascend (MSGMAP_OK all the same: nothing was
 * lost that was known). */
enum imap_msgmap_rc imap_msgmap_all(struct imap_msgmap *m, const uint32_t *uids, size_t n);

#endif
