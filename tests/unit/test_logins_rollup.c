/* report/logins_rollup: the --logins roll-up per user and per client:
 * counts, first and last seen, the sticky success_after_failures, the
 * order keys were first seen, the cap and the budget. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "report/logins_rollup.h"

#define S(lit) ((struct buf_slice){ (const uint8_t *)(lit), sizeof(lit) - 1 })

static void test_rollup_counts(void **state)
{
	struct mem_budget mb = { .limit = SIZE_MAX };
	struct logins_rollup t;
	const struct logins_rollup_row *r;

	(void)state;
	logins_rollup_init(&t, &mb);
	assert_null(logins_rollup_first(&t));
	logins_rollup_add(&t, S("bob"), 50, LOGIN_FAIL, false);
	logins_rollup_add(&t, S("alice"), 20, LOGIN_FAIL, false);
	logins_rollup_add(&t, S("bob"), 10, LOGIN_OK, true);	/* an older file */
	logins_rollup_add(&t, S("bob"), 60, LOGIN_ABORTED, false);
	logins_rollup_add(&t, S("alice\0x"), 30, LOGIN_UNKNOWN, false);	/* a NUL is data */
	assert_true(mb.used > 0);
	r = logins_rollup_first(&t);
	assert_non_null(r);
	assert_int_equal(r->len, 3);
	assert_memory_equal(r->key, "bob", 3);
	assert_int_equal(r->attempts, 3);
	assert_int_equal(r->failures, 1);	/* aborted is no failure */
	assert_int_equal(r->first_us, 10);
	assert_int_equal(r->last_us, 60);
	assert_true(r->success_after_failures);	/* sticks */
	r = logins_rollup_next(r);
	assert_int_equal(r->len, 5);
	assert_int_equal(r->attempts, 1);
	assert_false(r->success_after_failures);
	r = logins_rollup_next(r);
	assert_int_equal(r->len, 7);
	assert_int_equal(r->failures, 0);
	assert_null(logins_rollup_next(r));
	assert_int_equal(t.untracked, 0);
	logins_rollup_free(&t);
	assert_int_equal(mb.used, 0);
	assert_null(logins_rollup_first(&t));
}

/* Past LOGINS_ROLLUP_MAX keys, or when the budget says no, a key gets no
 * row and its logins are counted; known keys still count. */
static void test_rollup_limits(void **state)
{
	struct mem_budget mb = { .limit = SIZE_MAX };
	struct logins_rollup t;
	char key[16];
	size_t n = 0;

	(void)state;
	logins_rollup_init(&t, &mb);
	for (int i = 0; i < LOGINS_ROLLUP_MAX + 10; i++) {
		snprintf(key, sizeof key, "u%d", i);
		logins_rollup_add(&t, (struct buf_slice){ (const uint8_t *)key, strlen(key) }, i,
				  LOGIN_FAIL, false);
	}
	logins_rollup_add(&t, S("u0"), 1, LOGIN_OK, false);
	for (const struct logins_rollup_row *r = logins_rollup_first(&t); r != NULL;
	     r = logins_rollup_next(r))
		n++;
	assert_int_equal(n, LOGINS_ROLLUP_MAX);
	assert_int_equal(t.untracked, 10);
	assert_int_equal(logins_rollup_first(&t)->attempts, 2);
	logins_rollup_free(&t);
	assert_int_equal(mb.used, 0);

	mb = (struct mem_budget){ .limit = 1 };
	logins_rollup_init(&t, &mb);
	logins_rollup_add(&t, S("alice"), 1, LOGIN_FAIL, false);
	assert_null(logins_rollup_first(&t));
	assert_int_equal(t.untracked, 1);
	assert_true(mb.refused > 0);
	logins_rollup_free(&t);
	assert_int_equal(mb.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollup_counts),
		cmocka_unit_test(test_rollup_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
