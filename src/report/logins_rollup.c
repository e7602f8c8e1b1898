/* --logins: the per-user and per-client roll-up (see logins_rollup.h). */
#include "report/logins_rollup.h"

#include <stdlib.h>
#include <string.h>

#define LOGINS_ROLLUP_BUCKETS0 64

void logins_rollup_init(struct logins_rollup *t, struct mem_budget *budget)
{
	memset(t, 0, sizeof *t);
	hashtab_init(&t->tab, budget, 0, LOGINS_ROLLUP_BUCKETS0, LOGINS_ROLLUP_MAX);
}

static struct logins_rollup_row *rollup_find(const struct logins_rollup *t,
					     struct buf_slice key, uint64_t h)
{
	struct hashtab_node *n;

	for (n = hashtab_first(&t->tab, h); n != NULL; n = hashtab_next(n, h)) {
		struct logins_rollup_row *r = HASHTAB_ENTRY(n, struct logins_rollup_row, hnode);

		if (r->len == key.len && (key.len == 0 || memcmp(r->key, key.ptr, key.len) == 0))
			return r;
	}
	return NULL;
}

/* The row of key, made if new; NULL when the table is full or the budget
 * or memory says no. */
static struct logins_rollup_row *rollup_get(struct logins_rollup *t, struct buf_slice key)
{
	uint64_t h = hashtab_hash(&t->tab, key.ptr, key.len);
	struct logins_rollup_row *r = rollup_find(t, key, h);
	size_t sz;

	if (r != NULL)
		return r;
	if (t->tab.count >= LOGINS_ROLLUP_MAX || !size_add(sizeof *r, key.len, &sz) ||
	    hashtab_reserve(&t->tab) != 0 || mem_charge(t->tab.budget, sz) != 0)
		return NULL;
	if ((r = calloc(1, sz)) == NULL) {
		mem_release(t->tab.budget, sz);
		return NULL;
	}
	r->len = key.len;
	if (key.len > 0)
		memcpy(r->key, key.ptr, key.len);
	hashtab_link(&t->tab, &r->hnode, h);
	list_push_back(&t->order, &r->order);
	return r;
}

void logins_rollup_add(struct logins_rollup *t, struct buf_slice key, int64_t ts_us,
		       enum login_result result, bool success_after_failures)
{
	struct logins_rollup_row *r = rollup_get(t, key);

	if (r == NULL) {
		t->untracked++;
		return;
	}
	/* min and max: a second, older file may come after a newer one */
	if (r->attempts == 0 || ts_us < r->first_us)
		r->first_us = ts_us;
	if (r->attempts == 0 || ts_us > r->last_us)
		r->last_us = ts_us;
	r->attempts++;
	r->failures += result == LOGIN_FAIL;
	r->success_after_failures |= success_after_failures;
}

const struct logins_rollup_row *logins_rollup_first(const struct logins_rollup *t)
{
	const struct list_node *n = list_first(&t->order);

	return n != NULL ? LIST_ENTRY(n, const struct logins_rollup_row, order) : NULL;
}

const struct logins_rollup_row *logins_rollup_next(const struct logins_rollup_row *r)
{
	const struct list_node *n = r->order.next;

	return n != NULL ? LIST_ENTRY(n, const struct logins_rollup_row, order) : NULL;
}

static void rollup_drop(struct hashtab_node *n, void *budget)
{
	struct logins_rollup_row *r = HASHTAB_ENTRY(n, struct logins_rollup_row, hnode);

	mem_release(budget, sizeof *r + r->len);
	free(r);
}

void logins_rollup_free(struct logins_rollup *t)
{
	struct mem_budget *budget = t->tab.budget;

	hashtab_drain(&t->tab, rollup_drop, budget);
	hashtab_free(&t->tab);
	memset(t, 0, sizeof *t);
	t->tab.budget = budget;
}
