/* util/cursor.h: every read is bounds-checked; a read past the end yields
 * 0 or NULL, empties the cursor and leaves it bad for good; sub-cursors
 * never reach past their parent's view. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/cursor.h"

static const uint8_t rec[] = {
	0x01,				/* u8 */
	0x02, 0x03,			/* u16be */
	0x04, 0x05, 0x06,		/* u24be */
	0x07, 0x08, 0x09, 0x0a,		/* u32be */
	0x0b, 0x0c,			/* u16le */
	0x0d, 0x0e, 0x0f, 0x10,		/* u32le */
};

static void test_numbers(void **state)
{
	struct cursor c = cursor_make(rec, sizeof rec);

	(void)state;
	assert_int_equal(cursor_u8(&c), 0x01);
	assert_int_equal(cursor_u16be(&c), 0x0203);
	assert_int_equal(cursor_u24be(&c), 0x040506);
	assert_int_equal(cursor_u32be(&c), 0x0708090a);
	assert_int_equal(cursor_u16le(&c), 0x0c0b);
	assert_int_equal(cursor_u32le(&c), 0x100f0e0d);
	assert_false(c.bad);
	assert_int_equal(cursor_left(&c), 0);
	assert_int_equal(cursor_load_be64(rec), 0x0102030405060708ull);
	assert_int_equal(cursor_load_le64(rec), 0x0807060504030201ull);
}

/* The whole record read from every prefix of it: bad exactly when cut,
 * and the fields read before the cut still right. */
static void test_every_cut(void **state)
{
	(void)state;
	for (size_t n = 0; n <= sizeof rec; n++) {
		struct cursor c = cursor_make(rec, n);
		uint32_t v[6];

		v[0] = cursor_u8(&c);
		v[1] = cursor_u16be(&c);
		v[2] = cursor_u24be(&c);
		v[3] = cursor_u32be(&c);
		v[4] = cursor_u16le(&c);
		v[5] = cursor_u32le(&c);
		assert_int_equal(c.bad, n < sizeof rec);
		assert_int_equal(cursor_left(&c), 0);
		assert_int_equal(v[0], n >= 1 ? 0x01 : 0);
		assert_int_equal(v[1], n >= 3 ? 0x0203 : 0);
		assert_int_equal(v[3], n >= 10 ? 0x0708090a : 0);
		assert_int_equal(v[5], n >= 16 ? 0x100f0e0d : 0);
	}
}

static void test_sticky(void **state)
{
	struct cursor c = cursor_make(rec, 4);

	(void)state;
	assert_non_null(cursor_peek(&c, 4));
	assert_null(cursor_peek(&c, 5));	/* peeking is not reading */
	assert_false(c.bad);
	assert_int_equal(cursor_left(&c), 4);
	assert_null(cursor_take(&c, 5));
	assert_true(c.bad);
	/* the 4 bytes that were there are gone: nothing reads after a failure */
	assert_int_equal(cursor_left(&c), 0);
	assert_int_equal(cursor_u8(&c), 0);
	assert_false(cursor_skip(&c, 1));
	assert_true(c.bad);
	assert_int_equal(cursor_rest(&c).len, 0);
}

static void test_null_is_empty(void **state)
{
	struct cursor c = cursor_make(NULL, 5);

	(void)state;
	assert_int_equal(cursor_left(&c), 0);
	assert_false(c.bad);
	assert_true(cursor_skip(&c, 0));
	assert_false(cursor_skip(&c, 1));
	assert_true(c.bad);
}

/* TLS-style vectors: a length then that many bytes, as a view of their own. */
static void test_vectors(void **state)
{
	static const uint8_t v[] = { 0x00, 0x03, 'a', 'b', 'c', 0x02, 'x', 'y', 0x05, 'z' };
	struct cursor c = cursor_make(v, sizeof v), a, b, d;

	(void)state;
	a = cursor_vec(&c, 2);
	assert_false(a.bad);
	assert_int_equal(cursor_left(&a), 3);
	assert_memory_equal(cursor_rest(&a).ptr, "abc", 3);
	b = cursor_vec(&c, 1);
	assert_int_equal(cursor_left(&b), 2);
	assert_null(cursor_take(&b, 3));	/* a sub-view ends where it says */
	assert_false(c.bad);
	d = cursor_vec(&c, 1);			/* says 5, has 1 */
	assert_true(d.bad);
	assert_int_equal(cursor_left(&d), 0);
	assert_true(c.bad);
	d = cursor_vec(&c, 1);			/* after a failure even an empty one is bad */
	assert_true(d.bad);
	c = cursor_make(v, sizeof v);
	a = cursor_sub(&c, 0);
	assert_false(a.bad);
	a = cursor_vec(&c, 3);			/* 0x000300: far too long */
	assert_true(a.bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_every_cut),
		cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_null_is_empty),
		cmocka_unit_test(test_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
