/* util/hash: the seeded hash of the tables whose keys come from input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/hash.h"

static void test_seeds(void **state)
{
	uint64_t a = hash_seed_random(), b = hash_seed_random();

	(void)state;
	assert_true(a != 0 && b != 0);
	assert_true(a != b);	/* 2^-64 to fail by chance */
}

/* Same seed and bytes, same value; any other seed, length or byte changes
 * it.  Lengths around the 8-byte step exercise the tail. */
static void test_hash_values(void **state)
{
	uint8_t key[41];

	(void)state;
	for (size_t i = 0; i < sizeof key; i++)
		key[i] = (uint8_t)(i * 37 + 1);
	for (size_t n = 0; n <= sizeof key; n++) {
		uint64_t h = hash_bytes(1, key, n);

		assert_true(h == hash_bytes(1, key, n));
		assert_true(h != hash_bytes(2, key, n));
		if (n > 0) {
			assert_true(h != hash_bytes(1, key, n - 1));
			key[n - 1] ^= 0x80;
			assert_true(h != hash_bytes(1, key, n));
			key[n - 1] ^= 0x80;
		}
	}
}

/* Keys that share a bucket of 1024 under one seed are spread under another
 * (the attack the seed defends against; the flow table test shows the same
 * on its lookups). */
static void test_collisions_depend_on_seed(void **state)
{
	unsigned buckets[1024] = { 0 }, worst = 0;
	uint32_t k;
	int found = 0;

	(void)state;
	for (k = 0; found < 1000; k++) {
		if ((hash_bytes(7, &k, sizeof k) & 1023) != 0)
			continue;
		found++;
		buckets[hash_bytes(8, &k, sizeof k) & 1023]++;
	}
	for (int i = 0; i < 1024; i++)
		worst = buckets[i] > worst ? buckets[i] : worst;
	assert_true(worst < 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seeds),
		cmocka_unit_test(test_hash_values),
		cmocka_unit_test(test_collisions_depend_on_seed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
