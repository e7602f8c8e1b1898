/* Bounded buffers and the run's memory budget: growth stops at the buffer's
 * own maximum and at the shared limit, and every refusal is counted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

static void test_budget_limit_and_refusals(void **state)
{
	struct mem_budget mb = { .limit = 100 };

	(void)state;
	assert_int_equal(mem_charge(&mb, 60), 0);
	assert_int_equal(mem_charge(&mb, 41), -1);	/* 101 > 100: nothing charged */
	assert_int_equal(mb.used, 60);
	assert_int_equal(mb.refused, 1);
	assert_int_equal(mem_charge(&mb, SIZE_MAX), -1);	/* would wrap */
	assert_int_equal(mb.refused, 2);
	assert_int_equal(mem_charge(&mb, 40), 0);
	assert_int_equal(mb.peak, 100);
	mem_release(&mb, 100);
	assert_int_equal(mb.used, 0);
	assert_int_equal(mem_charge(NULL, SIZE_MAX), 0);	/* no budget, no limit */
}

/* A share (the key store's) is a budget with the run's as parent: a charge
 * must fit both and counts in both; the one that refuses counts it. */
static void test_budget_share(void **state)
{
	struct mem_budget run = { .limit = 1000 };
	struct mem_budget share = { .limit = 300, .parent = &run };

	(void)state;
	assert_int_equal(mem_charge(&share, 200), 0);
	assert_int_equal(share.used, 200);
	assert_int_equal(run.used, 200);
	assert_int_equal(mem_charge(&share, 101), -1);	/* past the share */
	assert_int_equal(share.refused, 1);
	assert_int_equal(run.refused, 0);
	assert_int_equal(run.used, 200);
	assert_int_equal(mem_charge(&run, 750), 0);
	assert_int_equal(mem_charge(&share, 60), -1);	/* fits the share, not the run */
	assert_int_equal(run.refused, 1);
	assert_int_equal(share.used, 200);
	assert_int_equal(run.used, 950);
	mem_release(&share, 200);
	assert_int_equal(share.used, 0);
	assert_int_equal(run.used, 750);
	share.limit = 0;				/* no limit of its own */
	assert_int_equal(mem_charge(&share, 250), 0);
	assert_int_equal(run.used, 1000);
	assert_int_equal(run.peak, 1000);
}

static void test_buf_charges_budget(void **state)
{
	struct mem_budget mb = { .limit = 4096 };
	struct buf b;
	uint8_t chunk[1000];

	(void)state;
	memset(chunk, 'x', sizeof chunk);
	buf_init(&b, 1 << 20, &mb);
	while (buf_append(&b, chunk, sizeof chunk) == 0)
		;
	/* The budget stopped growth, not the buffer's maximum. */
	assert_true(b.len <= 4096);
	assert_true(mb.used <= 4096);
	assert_true(mb.refused >= 1);
	assert_int_equal(mb.used, b.cap);
	buf_free(&b);
	assert_int_equal(mb.used, 0);
	/* The buffer's own maximum, with room in the budget. */
	buf_init(&b, 1500, &mb);
	assert_int_equal(buf_append(&b, chunk, sizeof chunk), 0);
	assert_int_equal(buf_append(&b, chunk, sizeof chunk), -1);
	assert_int_equal(b.len, 1000);
	buf_free(&b);
}

/* Doubling from initial, clamped at max, charged, and left whole when the
 * budget says no. */
static void test_grow_array(void **state)
{
	struct mem_budget mb = { .limit = 10 * sizeof(uint32_t) };
	uint32_t *a = NULL, *n;
	size_t cap = 0;

	(void)state;
	a = mem_grow_array(&mb, a, &cap, sizeof *a, 2, 6);
	assert_non_null(a);
	assert_int_equal(cap, 2);
	assert_int_equal(mb.used, 2 * sizeof *a);
	a[0] = 7;
	a = mem_grow_array(&mb, a, &cap, sizeof *a, 2, 6);
	assert_int_equal(cap, 4);
	a = mem_grow_array(&mb, a, &cap, sizeof *a, 2, 6);
	assert_int_equal(cap, 6);		/* 8 clamped to max */
	assert_int_equal(mb.used, 6 * sizeof *a);
	assert_null(mem_grow_array(&mb, a, &cap, sizeof *a, 2, 6));	/* at max */
	assert_int_equal(cap, 6);
	assert_int_equal(a[0], 7);
	n = mem_grow_array(&mb, a, &cap, sizeof *a, 2, 100);	/* 12 > budget */
	assert_null(n);
	assert_int_equal(cap, 6);
	assert_int_equal(mb.used, 6 * sizeof *a);
	assert_true(mb.refused > 0);
	free(a);
	mem_release(&mb, 6 * sizeof *a);
	assert_int_equal(mb.used, 0);
}

static void test_slice_ieq(void **state)
{
	(void)state;
	assert_true(buf_slice_ieq((struct buf_slice){ (const uint8_t *)"login", 5 }, "LOGIN"));
	assert_true(buf_slice_ieq((struct buf_slice){ (const uint8_t *)"LoGiN", 5 }, "LOGIN"));
	assert_false(buf_slice_ieq((struct buf_slice){ (const uint8_t *)"logins", 6 }, "LOGIN"));
	assert_false(buf_slice_ieq((struct buf_slice){ (const uint8_t *)"logi", 4 }, "LOGIN"));
	assert_false(buf_slice_ieq((struct buf_slice){ (const uint8_t *)"log\0n", 5 }, "LOGIN"));
	assert_true(buf_slice_ieq((struct buf_slice){ NULL, 0 }, ""));
	/* only ASCII letters fold: 0xe9 is not 0xc9 */
	assert_false(buf_slice_ieq((struct buf_slice){ (const uint8_t *)"\xe9", 1 }, "\xc9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_limit_and_refusals),
		cmocka_unit_test(test_budget_share),
		cmocka_unit_test(test_buf_charges_budget),
		cmocka_unit_test(test_grow_array),
		cmocka_unit_test(test_slice_ieq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
