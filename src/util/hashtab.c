/* The intrusive hash table of util/hashtab.h. */
#include "util/hashtab.h"

#include <stdlib.h>

/* The smallest power of two >= n (n > 0), or the largest one for n past
 * it, so a configured size never wraps. */
static size_t hashtab_pow2(size_t n)
{
	size_t p = 1;

	while (p < n && p <= SIZE_MAX / 2 / sizeof(struct hashtab_node *))
		p *= 2;
	return p;
}

void hashtab_init(struct hashtab *t, struct mem_budget *budget, uint64_t seed,
		  size_t initial, size_t max)
{
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
	t->charged = 0;
	t->budget = budget;
	t->seed = seed;
	t->initial = hashtab_pow2(initial != 0 ? initial : HASHTAB_DEFAULT_INITIAL);
	t->max = hashtab_pow2(max != 0 ? max : HASHTAB_DEFAULT_MAX);
	if (t->max < t->initial)
		t->max = t->initial;
}

/* A zeroed table takes the defaults at its first array. */
static void hashtab_sizes(struct hashtab *t)
{
	if (t->initial == 0 || t->max == 0)
		hashtab_init(t, t->budget, t->seed, t->initial, t->max);
}

/* Move every node into a new array of n buckets, already charged to the
 * budget by the caller (charged) or not.  Old chains are walked front to
 * back and each node pushed on the front of its new chain, as the tables
 * this one replaced did. */
static int hashtab_resize(struct hashtab *t, size_t n, bool charged)
{
	struct hashtab_node **nb, *e;
	size_t bytes = n * sizeof *nb, i;

	nb = calloc(n, sizeof *nb);
	if (nb == NULL) {
		if (charged)
			mem_release(t->budget, bytes);
		return -1;
	}
	for (i = 0; i < t->nbuckets; i++) {
		while ((e = t->buckets[i]) != NULL) {
			t->buckets[i] = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(t->buckets);
	mem_release(t->budget, t->charged);
	t->buckets = nb;
	t->nbuckets = n;
	t->charged = charged ? bytes : 0;
	return 0;
}

int hashtab_start(struct hashtab *t, enum hashtab_first how)
{
	size_t bytes;
	bool charged = false;

	if (t->nbuckets != 0)
		return 0;
	hashtab_sizes(t);
	bytes = t->initial * sizeof *t->buckets;
	if (how != HASHTAB_FIRST_FREE) {
		/* IF_FITS: needed whatever the budget says, but charged only
		 * if it fits, so the budget's peak never passes its limit. */
		charged = mem_charge(t->budget, bytes) == 0;
		if (!charged && how == HASHTAB_FIRST_CHARGED)
			return -1;
	}
	return hashtab_resize(t, t->initial, charged);
}

int hashtab_reserve(struct hashtab *t)
{
	size_t n;

	if (t->nbuckets == 0)
		return hashtab_start(t, HASHTAB_FIRST_CHARGED);
	if (t->count < t->nbuckets || t->nbuckets * 2 > t->max)
		return 0;
	n = t->nbuckets * 2;
	if (mem_charge(t->budget, n * sizeof *t->buckets) != 0)
		return -1;
	return hashtab_resize(t, n, true);
}

void hashtab_link(struct hashtab *t, struct hashtab_node *n, uint64_t h)
{
	struct hashtab_node **b = &t->buckets[h & (t->nbuckets - 1)];

	n->hash = h;
	n->next = *b;
	*b = n;
	t->count++;
}

void hashtab_unlink(struct hashtab *t, struct hashtab_node *n)
{
	struct hashtab_node **pp = &t->buckets[n->hash & (t->nbuckets - 1)];

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	n->next = NULL;
	t->count--;
}

void hashtab_drain(struct hashtab *t, void (*fn)(struct hashtab_node *n, void *ctx),
		   void *ctx)
{
	struct hashtab_node *n;

	for (size_t i = 0; i < t->nbuckets; i++) {
		while ((n = t->buckets[i]) != NULL) {
			t->buckets[i] = n->next;
			n->next = NULL;
			t->count--;
			fn(n, ctx);
		}
	}
}

void hashtab_free(struct hashtab *t)
{
	free(t->buckets);
	mem_release(t->budget, t->charged);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
	t->charged = 0;
}
