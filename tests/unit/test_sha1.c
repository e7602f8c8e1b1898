/* util/sha1: FIPS 180-4's examples, every length around the block and
 * padding edges against libcrypto's SHA-1, and base64 against RFC 4648. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "util/sha1.h"

static void hex(const uint8_t md[SHA1_LEN], char out[2 * SHA1_LEN + 1])
{
	for (int i = 0; i < SHA1_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void assert_sha1(const void *p, size_t n, const char *want)
{
	uint8_t md[SHA1_LEN];
	char h[2 * SHA1_LEN + 1];

	sha1_digest(p, n, md);
	hex(md, h);
	assert_string_equal(h, want);
}

static void test_fips_examples(void **state)
{
	static const char two_blocks[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char *million = malloc(1000000);

	(void)state;
	assert_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	assert_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
	assert_sha1(two_blocks, strlen(two_blocks), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	assert_non_null(million);
	memset(million, 'a', 1000000);
	assert_sha1(million, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(million);
}

/* 0..200 bytes: the tail in one block or two, 55/56/63/64 included. */
static void test_against_libcrypto(void **state)
{
	uint8_t in[200], ours[SHA1_LEN], theirs[EVP_MAX_MD_SIZE];
	unsigned len;

	(void)state;
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 131 + 7);
	for (size_t n = 0; n <= sizeof in; n++) {
		sha1_digest(in, n, ours);
		assert_int_equal(EVP_Digest(in, n, theirs, &len, EVP_sha1(), NULL), 1);
		assert_int_equal(len, SHA1_LEN);
		assert_memory_equal(ours, theirs, SHA1_LEN);
	}
}

static void test_base64(void **state)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	uint8_t all[3] = { 0xfb, 0xff, 0xbf };
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		assert_int_equal(base64_encode((const uint8_t *)v[i].in, strlen(v[i].in), out),
				 strlen(v[i].out));
		assert_string_equal(out, v[i].out);
	}
	base64_encode(all, 3, out);
	assert_string_equal(out, "+/+/");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fips_examples),
		cmocka_unit_test(test_against_libcrypto),
		cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
