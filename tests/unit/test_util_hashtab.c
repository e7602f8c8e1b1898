/* util/hashtab: an intrusive chained table.  Entries are found after any
 * number of links and unlinks; the bucket array grows with the entries,
 * never past its maximum, and is charged to the budget (refusals leave a
 * working table); a zeroed table is a valid empty one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/hashtab.h"

struct item {
	uint64_t key;
	struct hashtab_node hnode;	/* not first: the entry macro must work */
	int drained;
};

static struct item *find(struct hashtab *t, uint64_t key)
{
	uint64_t h = hashtab_hash(t, &key, sizeof key);

	for (struct hashtab_node *n = hashtab_first(t, h); n != NULL; n = hashtab_next(n, h)) {
		struct item *it = HASHTAB_ENTRY(n, struct item, hnode);

		if (it->key == key)
			return it;
	}
	return NULL;
}

static void add(struct hashtab *t, struct item *it, uint64_t key)
{
	it->key = key;
	assert_int_equal(hashtab_reserve(t), 0);
	hashtab_link(t, &it->hnode, hashtab_hash(t, &key, sizeof key));
}

static void test_link_find_unlink(void **state)
{
	enum { N = 5000 };
	struct item *v = calloc(N, sizeof *v);
	struct mem_budget mb = { .limit = 0 };
	struct hashtab t;
	size_t i;

	(void)state;
	hashtab_init(&t, &mb, 0, 16, 0);
	assert_null(find(&t, 1));		/* no buckets yet */
	for (i = 0; i < N; i++)
		add(&t, &v[i], i * 7919);
	assert_int_equal(t.count, N);
	assert_true(t.nbuckets >= N && t.nbuckets < 2 * N);	/* load at most 1 */
	assert_int_equal(mb.used, t.nbuckets * sizeof *t.buckets);
	for (i = 0; i < N; i++)
		assert_ptr_equal(find(&t, i * 7919), &v[i]);
	assert_null(find(&t, 3));
	for (i = 0; i < N; i += 2)
		hashtab_unlink(&t, &v[i].hnode);
	assert_int_equal(t.count, N / 2);
	for (i = 0; i < N; i++)
		assert_ptr_equal(find(&t, i * 7919), i % 2 ? &v[i] : NULL);
	hashtab_free(&t);
	assert_int_equal(mb.used, 0);
	free(v);
}

/* Past max buckets the chains grow instead, and reserve still says yes. */
static void test_max_bounds_growth(void **state)
{
	struct item v[300];
	struct hashtab t;

	(void)state;
	hashtab_init(&t, NULL, 42, 4, 50);	/* 50 rounds up to 64 */
	assert_int_equal(t.max, 64);
	for (uint64_t i = 0; i < 300; i++)
		add(&t, &v[i], i);
	assert_int_equal(t.nbuckets, 64);
	for (uint64_t i = 0; i < 300; i++)
		assert_ptr_equal(find(&t, i), &v[i]);
	hashtab_free(&t);
}

/* The budget refuses growth: reserve says so, the table keeps working. */
static void test_budget_refuses(void **state)
{
	struct item v[100];
	struct mem_budget mb = { .limit = 8 * sizeof(void *) + 100 };
	struct hashtab t;
	int refused = 0;

	(void)state;
	hashtab_init(&t, &mb, 0, 8, 0);
	for (uint64_t i = 0; i < 100; i++) {
		v[i].key = i;
		if (hashtab_reserve(&t) != 0)
			refused++;
		hashtab_link(&t, &v[i].hnode, hashtab_hash(&t, &i, sizeof i));
	}
	assert_int_equal(t.nbuckets, 8);
	assert_int_equal(refused, 100 - 8);
	assert_true(mb.refused > 0);
	assert_true(mb.used <= mb.limit);
	for (uint64_t i = 0; i < 100; i++)
		assert_ptr_equal(find(&t, i), &v[i]);
	hashtab_free(&t);
	assert_int_equal(mb.used, 0);

	/* a table that never got buckets cannot take a node */
	mb = (struct mem_budget){ .limit = 1 };
	hashtab_init(&t, &mb, 0, 8, 0);
	assert_int_equal(hashtab_reserve(&t), -1);
	assert_int_equal(t.nbuckets, 0);
	assert_int_equal(hashtab_start(&t, HASHTAB_FIRST_CHARGED), -1);
	/* ... unless its first array is made whatever the budget says */
	assert_int_equal(hashtab_start(&t, HASHTAB_FIRST_IF_FITS), 0);
	assert_int_equal(t.nbuckets, 8);
	assert_int_equal(mb.used, 0);
	hashtab_free(&t);
	assert_int_equal(mb.used, 0);
	mb = (struct mem_budget){ .limit = 0 };
	hashtab_init(&t, &mb, 0, 8, 0);
	assert_int_equal(hashtab_start(&t, HASHTAB_FIRST_FREE), 0);
	assert_int_equal(mb.used, 0);
	hashtab_free(&t);
}

/* A zeroed table: seed drawn at the first hash, default first size. */
static void test_zeroed(void **state)
{
	struct hashtab t;
	struct item it;
	uint64_t k = 5;

	(void)state;
	memset(&t, 0, sizeof t);
	assert_null(hashtab_first(&t, 123));
	add(&t, &it, k);
	assert_true(t.seed != 0);
	assert_int_equal(t.nbuckets, HASHTAB_DEFAULT_INITIAL);
	assert_ptr_equal(find(&t, k), &it);
	hashtab_free(&t);
	assert_int_equal(t.nbuckets, 0);
}

/* Nodes of one bucket with other hashes are passed over by first/next,
 * but not by chain (the flow table counts them). */
static void test_same_bucket(void **state)
{
	struct item a, b, c;
	struct hashtab t;
	struct hashtab_node *n;
	size_t steps = 0;

	(void)state;
	hashtab_init(&t, NULL, 1, 8, 8);
	assert_int_equal(hashtab_start(&t, HASHTAB_FIRST_CHARGED), 0);
	hashtab_link(&t, &a.hnode, 3);
	hashtab_link(&t, &b.hnode, 3 + 8);
	hashtab_link(&t, &c.hnode, 3);
	for (n = hashtab_chain(&t, 3); n != NULL; n = n->next)
		steps++;
	assert_int_equal(steps, 3);
	n = hashtab_first(&t, 3);
	assert_ptr_equal(n, &c.hnode);
	n = hashtab_next(n, 3);
	assert_ptr_equal(n, &a.hnode);
	assert_null(hashtab_next(n, 3));
	assert_ptr_equal(hashtab_first(&t, 11), &b.hnode);
	hashtab_free(&t);
}

static void mark(struct hashtab_node *n, void *ctx)
{
	HASHTAB_ENTRY(n, struct item, hnode)->drained++;
	(*(int *)ctx)++;
}

static void test_drain(void **state)
{
	struct item v[500];
	struct hashtab t;
	int calls = 0;

	(void)state;
	memset(v, 0, sizeof v);
	hashtab_init(&t, NULL, 0, 0, 0);
	for (uint64_t i = 0; i < 500; i++)
		add(&t, &v[i], i);
	hashtab_drain(&t, mark, &calls);
	assert_int_equal(calls, 500);
	assert_int_equal(t.count, 0);
	for (size_t i = 0; i < 500; i++)
		assert_int_equal(v[i].drained, 1);
	assert_null(find(&t, 1));
	hashtab_free(&t);
}

/* Each table its own seed: what collides under one does not under another. */
static void test_seeds_differ(void **state)
{
	struct hashtab a, b;
	uint64_t k = 77;

	(void)state;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	assert_true(hashtab_hash(&a, &k, sizeof k) != hashtab_hash(&b, &k, sizeof k));
	hashtab_init(&a, NULL, 9, 0, 0);
	hashtab_init(&b, NULL, 9, 0, 0);
	assert_int_equal(hashtab_hash(&a, &k, sizeof k), hashtab_hash(&b, &k, sizeof k));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_find_unlink),
		cmocka_unit_test(test_max_bounds_growth),
		cmocka_unit_test(test_budget_refuses),
		cmocka_unit_test(test_zeroed),
		cmocka_unit_test(test_same_bucket),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_seeds_differ),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
