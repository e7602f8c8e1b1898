/* An intrusive chained hash table, seeded per table (util/hash.h).
 *
 * Used by every table keyed by input: flows, key log randoms, the client
 * and user histories of --logins, the sets of --summary, the open sessions
 * of --streams.  A struct hashtab_node lives inside the owner's struct;
 * the table holds only the bucket array, which it charges to the budget
 * given, and never frees a node.  Keys and their comparison stay with the
 * owner: it hashes the key with hashtab_hash, walks the chain of that hash
 * with hashtab_first/hashtab_next (which pass over other hashes) and
 * compares its own keys, so the per-packet lookup is a few inline loads.
 *
 * Growth: the bucket array doubles when the entries would outnumber the
 * buckets, never past max buckets (then chains grow longer: a bound on
 * memory, not on entries; the owner caps its entries).  A zeroed table is
 * empty and valid (seed drawn at the first hashtab_hash, buckets made at
 * the first hashtab_reserve, default sizes); hashtab_init sets its sizes,
 * seed and budget.  Not thread-safe. */
#ifndef IMAPSCOPE_UTIL_HASHTAB_H
#define IMAPSCOPE_UTIL_HASHTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/hash.h"

#define HASHTAB_DEFAULT_INITIAL 64	/* buckets of the first array */
#define HASHTAB_DEFAULT_MAX     (1u << 20)

/* The struct of type that holds the member member at ptr. */
#define HASHTAB_ENTRY(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct hashtab_node {
	struct hashtab_node *next;	/* the same bucket */
	uint64_t hash;			/* of the owner's key, kept for growth */
};

struct hashtab {
	struct hashtab_node **buckets;
	size_t nbuckets;		/* 0 (none yet) or a power of two */
	size_t count;			/* nodes linked */
	size_t initial, max;		/* powers of two; 0: the defaults */
	size_t charged;			/* bytes of buckets in the budget */
	struct mem_budget *budget;	/* may be NULL */
	uint64_t seed;			/* 0: drawn at the first hash */
};

/* How the first bucket array is paid for by hashtab_start. */
enum hashtab_first {
	HASHTAB_FIRST_CHARGED,		/* charged like the rest: may be refused */
	HASHTAB_FIRST_IF_FITS,		/* made anyway; charged only if it fits */
	HASHTAB_FIRST_FREE,		/* made anyway, never charged */
};

/* An empty table: initial and max buckets are rounded up to powers of
 * two (0: the defaults), seed 0 draws one at the first hash. */
void hashtab_init(struct hashtab *t, struct mem_budget *budget, uint64_t seed,
		  size_t initial, size_t max);
/* Make the first bucket array now: 0, or -1 when out of memory or (with
 * HASHTAB_FIRST_CHARGED) refused by the budget.  A table that has one
 * already is left as it is. */
int hashtab_start(struct hashtab *t, enum hashtab_first how) WUR;
/* Room for one more node: grows the array when the nodes would outnumber
 * the buckets.  0 when the node may be linked (also at max, where the
 * chains just lengthen), -1 when the array had to grow and could not
 * (budget, memory): a table with buckets still takes the node, slower; a
 * table without (never started) cannot. */
int hashtab_reserve(struct hashtab *t);
/* Link n under hash h; the table must have buckets (hashtab_start or a
 * successful hashtab_reserve). */
void hashtab_link(struct hashtab *t, struct hashtab_node *n, uint64_t h);
/* Unlink n, which must be in t. */
void hashtab_unlink(struct hashtab *t, struct hashtab_node *n);
/* Unlink every node and hand each to fn (which may free it): for freeing
 * every entry.  fn must not use the table. */
void hashtab_drain(struct hashtab *t, void (*fn)(struct hashtab_node *n, void *ctx),
		   void *ctx);
/* Free the bucket array (not the nodes: drain or free them first) and
 * release its charge; the table is zeroed but keeps its sizes and budget. */
void hashtab_free(struct hashtab *t);

/* The hash of key under the table's seed, drawn now if not yet. */
static inline uint64_t hashtab_hash(struct hashtab *t, const void *key, size_t n)
{
	if (t->seed == 0)
		t->seed = hash_seed_random();
	return hash_bytes(t->seed, key, n);
}

/* The same for a const table, whose seed must be drawn already (it has
 * buckets, or its owner gave the seed). */
static inline uint64_t hashtab_hash_const(const struct hashtab *t, const void *key, size_t n)
{
	return hash_bytes(t->seed, key, n);
}

/* Every node of h's bucket, whatever its hash: for owners that count
 * steps (the flow table's longest chain).  The table must have buckets
 * (hashtab_start): the per-packet lookup spares the test. */
static inline struct hashtab_node *hashtab_chain(const struct hashtab *t, uint64_t h)
{
	return t->buckets[h & (t->nbuckets - 1)];
}

/* The nodes whose hash is h, in chain order; the owner compares keys. */
static inline struct hashtab_node *hashtab_next(const struct hashtab_node *n, uint64_t h)
{
	for (n = n->next; n != NULL && n->hash != h; n = n->next)
		;
	return (struct hashtab_node *)n;
}

static inline struct hashtab_node *hashtab_first(const struct hashtab *t, uint64_t h)
{
	struct hashtab_node *n = t->nbuckets != 0 ? hashtab_chain(t, h) : NULL;

	return n == NULL || n->hash == h ? n : hashtab_next(n, h);
}

#endif
