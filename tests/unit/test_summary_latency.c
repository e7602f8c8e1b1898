/* summary_latency: samples in, nearest-rank percentiles out.  Exact up to
 * SUMMARY_LAT_EXACT samples; past that within the documented 1/32, clamped
 * to the exact minimum and maximum. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "report/summary_latency.h"

/* |got - want| <= want / 32 */
static void assert_within(uint64_t got, uint64_t want)
{
	uint64_t d = got > want ? got - want : want - got;

	if (d * 32 > want) {
		print_error("%llu not within 1/32 of %llu\n", (unsigned long long)got,
			    (unsigned long long)want);
		fail();
	}
}

static void test_latency_empty(void **state)
{
	struct summary_lat l = { 0 };

	(void)state;
	assert_int_equal(summary_lat_pct(&l, 50), 0);
	assert_int_equal(summary_lat_pct(&l, 95), 0);
	assert_true(summary_lat_exact(&l));
	summary_lat_free(&l);
}

/* 1..10 ms added out of order: p50 = 5, p95 = 10, exactly. */
static void test_latency_exact(void **state)
{
	struct summary_lat l = { 0 };
	uint64_t i;

	(void)state;
	for (i = 1; i <= 10; i++)
		summary_lat_add(&l, ((i * 7) % 10 + 1) * 1000);
	assert_int_equal(l.n, 10);
	assert_int_equal(l.min_us, 1000);
	assert_int_equal(l.max_us, 10000);
	assert_int_equal(summary_lat_pct(&l, 50), 5000);
	assert_int_equal(summary_lat_pct(&l, 95), 10000);
	assert_int_equal(summary_lat_pct(&l, 100), 10000);
	assert_int_equal(summary_lat_pct(&l, 1), 1000);
	assert_true(summary_lat_exact(&l));
	summary_lat_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.samples);
}

/* Three samples: p50 is the 2nd, p95 the 3rd. */
static void test_latency_three(void **state)
{
	struct summary_lat l = { 0 };

	(void)state;
	summary_lat_add(&l, 250);
	summary_lat_add(&l, 3000);
	summary_lat_add(&l, 1500);
	assert_int_equal(summary_lat_pct(&l, 50), 1500);
	assert_int_equal(summary_lat_pct(&l, 95), 3000);
	summary_lat_free(&l);
}

/* Exactly SUMMARY_LAT_EXACT samples stay exact; one more makes a histogram. */
static void test_latency_switch(void **state)
{
	struct summary_lat l = { 0 };
	uint64_t i;

	(void)state;
	for (i = 1; i <= SUMMARY_LAT_EXACT; i++)
		summary_lat_add(&l, i * 1000);
	assert_true(summary_lat_exact(&l));
	assert_int_equal(summary_lat_pct(&l, 50), SUMMARY_LAT_EXACT / 2 * 1000);
	summary_lat_add(&l, (SUMMARY_LAT_EXACT + 1) * 1000);
	assert_false(summary_lat_exact(&l));
	assert_null(l.samples);
	assert_non_null(l.hist);
	assert_int_equal(l.n, SUMMARY_LAT_EXACT + 1);
	assert_within(summary_lat_pct(&l, 50), (SUMMARY_LAT_EXACT + 1) / 2 * 1000 + 1000);
	assert_within(summary_lat_pct(&l, 100), (SUMMARY_LAT_EXACT + 1) * 1000);
	assert_int_equal(l.max_us, (SUMMARY_LAT_EXACT + 1) * 1000);
	summary_lat_free(&l);
	assert_null(l.hist);
}

/* 1000 samples of 1..1000 ms: within 1/32 (p100 too: it is a bucket
 * midpoint); max_us exact. */
static void test_latency_histogram(void **state)
{
	struct summary_lat l = { 0 };
	uint64_t i;

	(void)state;
	for (i = 1; i <= 1000; i++)
		summary_lat_add(&l, ((i * 389) % 1000 + 1) * 1000);
	assert_false(summary_lat_exact(&l));
	assert_int_equal(l.n, 1000);
	assert_within(summary_lat_pct(&l, 50), 500000);
	assert_within(summary_lat_pct(&l, 95), 950000);
	assert_within(summary_lat_pct(&l, 100), 1000000);
	assert_int_equal(l.max_us, 1000000);
	assert_int_equal(l.min_us, 1000);
	summary_lat_free(&l);
}

/* Every magnitude, many copies of one value: the percentile is the value's
 * bucket within 1/32, exact below 16 us, clamped to min and max; the top
 * bucket (>= 2^40 us) answers the exact maximum. */
/* Refused by the budget: samples still count in n, min and max, the loss
 * makes the percentiles inexact, and free returns the charge. */
static void test_latency_budget(void **state)
{
	struct mem_budget mb = { .limit = 1 };	/* limit 0 is no limit */
	struct summary_lat l = { .budget = &mb };
	uint64_t i;

	(void)state;
	for (i = 1; i <= 10; i++)
		summary_lat_add(&l, i);
	assert_int_equal(l.n, 10);
	assert_int_equal(l.lost, 10);
	assert_int_equal(l.max_us, 10);
	assert_false(summary_lat_exact(&l));
	assert_int_equal(mb.used, 0);
	summary_lat_free(&l);
	assert_ptr_equal(l.budget, &mb);

	/* room for the exact samples, not for the histogram */
	mb = (struct mem_budget){ .limit = SUMMARY_LAT_EXACT * sizeof(uint64_t) };
	for (i = 1; i <= SUMMARY_LAT_EXACT; i++)
		summary_lat_add(&l, i);
	assert_true(summary_lat_exact(&l));
	assert_int_equal(mb.used, SUMMARY_LAT_EXACT * sizeof(uint64_t));
	summary_lat_add(&l, 1000);
	assert_int_equal(l.lost, 1);
	assert_null(l.hist);
	assert_int_equal(l.max_us, 1000);
	assert_false(summary_lat_exact(&l));
	summary_lat_free(&l);
	assert_int_equal(mb.used, 0);

	/* room for both: the histogram replaces the samples' charge */
	mb = (struct mem_budget){ .limit = SIZE_MAX };
	for (i = 1; i <= SUMMARY_LAT_EXACT + 1; i++)
		summary_lat_add(&l, i);
	assert_non_null(l.hist);
	assert_int_equal(mb.used, SUMMARY_LAT_BUCKETS * sizeof(uint64_t));
	summary_lat_free(&l);
	assert_int_equal(mb.used, 0);
}

static void test_latency_buckets(void **state)
{
	uint64_t v;

	(void)state;
	for (v = 1; v < ((uint64_t)1 << 45); v = v * 3 / 2 + 1) {
		struct summary_lat l = { 0 };
		uint64_t p;
		unsigned i;

		for (i = 0; i <= SUMMARY_LAT_EXACT; i++)
			summary_lat_add(&l, v);
		assert_false(summary_lat_exact(&l));
		p = summary_lat_pct(&l, 50);
		assert_int_equal(p, v);		/* clamped to min == max */
		summary_lat_free(&l);
		for (i = 0; i <= SUMMARY_LAT_EXACT; i++)
			summary_lat_add(&l, i == 0 ? 0 : i == 1 ? UINT64_MAX / 2 : v);
		p = summary_lat_pct(&l, 50);
		if (v < SUMMARY_LAT_SUB)
			assert_int_equal(p, v);
		else if (v < ((uint64_t)1 << SUMMARY_LAT_TOP_EXP))
			assert_within(p, v);
		else
			assert_int_equal(p, UINT64_MAX / 2);
		summary_lat_free(&l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency_empty),
		cmocka_unit_test(test_latency_exact),
		cmocka_unit_test(test_latency_three),
		cmocka_unit_test(test_latency_switch),
		cmocka_unit_test(test_latency_histogram),
		cmocka_unit_test(test_latency_buckets),
		cmocka_unit_test(test_latency_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
