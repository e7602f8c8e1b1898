/* util/list: the intrusive doubly linked list, walked both ways after
 * every kind of change, and used as an LRU the way the flow table and the
 * extractor use it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/list.h"

struct item {
	int id;
	struct list_node link;	/* not first: the entry macro must work */
};

/* The ids front to back, and checks that back to front gives the same. */
static size_t ids(const struct list_head *l, int *out, size_t max)
{
	size_t n = 0, k;
	const struct list_node *p, *prev = NULL;

	for (p = list_first(l); p != NULL && n < max; prev = p, p = p->next) {
		assert_ptr_equal(p->prev, prev);
		out[n++] = LIST_ENTRY(p, struct item, link)->id;
	}
	assert_ptr_equal(list_last(l), prev);
	k = n;
	for (p = list_last(l); p != NULL; p = p->prev)
		assert_int_equal(LIST_ENTRY(p, struct item, link)->id, out[--k]);
	assert_int_equal(k, 0);
	return n;
}

static void expect(const struct list_head *l, const int *want, size_t n)
{
	int got[16];

	assert_int_equal(ids(l, got, 16), n);
	if (n > 0)
		assert_memory_equal(got, want, n * sizeof *want);
}

static void test_push_unlink(void **state)
{
	struct list_head l;
	struct item v[5];

	(void)state;
	memset(&l, 0, sizeof l);
	assert_true(list_empty(&l));
	for (int i = 0; i < 5; i++)
		v[i].id = i;
	list_push_back(&l, &v[1].link);
	list_push_back(&l, &v[2].link);
	list_push_front(&l, &v[0].link);
	list_push_back(&l, &v[3].link);
	list_push_back(&l, &v[4].link);
	expect(&l, (int[]){ 0, 1, 2, 3, 4 }, 5);
	list_unlink(&l, &v[2].link);		/* middle */
	expect(&l, (int[]){ 0, 1, 3, 4 }, 4);
	list_unlink(&l, &v[0].link);		/* first */
	expect(&l, (int[]){ 1, 3, 4 }, 3);
	list_unlink(&l, &v[4].link);		/* last */
	expect(&l, (int[]){ 1, 3 }, 2);
	list_unlink(&l, &v[1].link);
	list_unlink(&l, &v[3].link);
	assert_true(list_empty(&l));
	assert_null(list_last(&l));
	list_push_front(&l, &v[2].link);	/* an emptied list takes nodes again */
	expect(&l, (int[]){ 2 }, 1);
}

/* Most recent at the back: the front is the one to evict. */
static void test_lru(void **state)
{
	struct list_head l = { NULL, NULL };
	struct item v[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		v[i].id = i;
		list_push_back(&l, &v[i].link);
	}
	list_move_back(&l, &v[3].link);		/* already there: no change */
	expect(&l, (int[]){ 0, 1, 2, 3 }, 4);
	list_move_back(&l, &v[0].link);
	list_move_back(&l, &v[2].link);
	expect(&l, (int[]){ 1, 3, 0, 2 }, 4);
	assert_int_equal(LIST_ENTRY(list_first(&l), struct item, link)->id, 1);
	list_move_front(&l, &v[2].link);	/* the extractor's order */
	list_move_front(&l, &v[2].link);
	expect(&l, (int[]){ 2, 1, 3, 0 }, 4);
	while (!list_empty(&l))
		list_unlink(&l, list_first(&l));
	expect(&l, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_unlink),
		cmocka_unit_test(test_lru),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
