/* Bounded byte buffers and read-only slices.
 *
 * Wire data is always a {ptr,len} pair: a NUL byte is ordinary data and no
 * C-string function touches it.  A struct buf grows on demand but never past
 * its own maximum, and charges every byte it holds to an optional shared
 * struct mem_budget, so one cap bounds the memory of the whole run. */
#ifndef IMAPSCOPE_UTIL_BUF_H
#define IMAPSCOPE_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define WUR __attribute__((warn_unused_result))

/* A read-only view into memory owned by someone else; it is valid only as
 * long as the owner says (see the header that hands it out). */
struct buf_slice {
	const uint8_t *ptr;
	size_t len;
};

/* Memory shared by every buffer of a run.  limit 0 means no limit.  A
 * budget with a parent is a share of it (the key store's part of the
 * run's): a charge must fit both, and is counted in both. */
struct mem_budget {
	size_t used;
	size_t peak;
	size_t limit;
	uint64_t refused;	/* charges refused: the run's count of losses
				   to the cap, and how often to say so */
	struct mem_budget *parent;	/* may be NULL */
};

/* Charge n bytes to the budget and its parents: 0 on success, -1 when a
 * limit would be passed (nothing is charged then, and refused is counted
 * in the budget that refused).  A NULL budget always succeeds. */
int mem_charge(struct mem_budget *mb, size_t n) WUR;
void mem_release(struct mem_budget *mb, size_t n);

/* Grow the array arr of *cap elements of elem bytes: to initial, then
 * doubling, never past max elements, the new part charged to mb.  Returns
 * the array (perhaps moved; *cap updated), or NULL at max, over the budget
 * or out of memory (arr and *cap are as they were then). */
void *mem_grow_array(struct mem_budget *mb, void *arr, size_t *cap, size_t elem,
		     size_t initial, size_t max) WUR;

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;                /* never hold more than this many bytes */
	struct mem_budget *budget; /* may be NULL */
};

void buf_init(struct buf *b, size_t max, struct mem_budget *budget);
/* Append n bytes: 0 on success, -1 if that would pass b->max, the budget,
 * or memory ran out; the buffer is unchanged on failure. */
int buf_append(struct buf *b, const void *p, size_t n) WUR;
/* Make room for n more bytes and return a pointer to them (not yet counted
 * in len; call buf_commit after writing).  NULL on failure. */
uint8_t *buf_reserve(struct buf *b, size_t n) WUR;
void buf_commit(struct buf *b, size_t n);
/* Drop the first n bytes (n is clamped to len). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Release the memory; the buffer may be used again after buf_init. */
void buf_free(struct buf *b);

/* Whether s equals word, ASCII letters compared without case; word is
 * upper case and NUL-terminated (IMAP keywords: "LOGIN", "BODY"). */
bool buf_slice_ieq(struct buf_slice s, const char *word);

/* Overflow-checked size arithmetic: false if the result would wrap. */
static inline bool size_add(size_t a, size_t b, size_t *r)
{
	return !__builtin_add_overflow(a, b, r);
}
static inline bool size_mul(size_t a, size_t b, size_t *r)
{
	return !__builtin_mul_overflow(a, b, r);
}

#endif
