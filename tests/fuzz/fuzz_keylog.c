/* libFuzzer target: the NSS key-log reader.  The input is a key log; every
 * 64-hex-digit word in it is then looked up under every label, and a
 * second load of the same text into the same store must not add randoms. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tls/keylog.h"

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Look up every run of exactly 64 hex digits as a client random. */
static void lookups(const struct tls_keys *k, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = 0;
		uint8_t random[KEYLOG_RANDOM_LEN];

		while (i + run < n && hexval(p[i + run]) >= 0)
			run++;
		if (run == 2 * KEYLOG_RANDOM_LEN) {
			for (size_t j = 0; j < KEYLOG_RANDOM_LEN; j++)
				random[j] = (uint8_t)(hexval(p[i + 2 * j]) << 4 |
						      hexval(p[i + 2 * j + 1]));
			for (int l = 0; l < KEYLOG_NLABELS; l++) {
				size_t len = 0;
				const uint8_t *s = tls_keys_find(k, random, (enum keylog_label)l, &len);

				if (s != NULL) {
					FUZZ_CHECK(len > 0 && len <= KEYLOG_MAX_SECRET);
					fuzz_touch((struct buf_slice){ s, len });
				}
			}
		}
		i += run + 1;
	}
}

/* The same text into a store with a tiny share of a budget: it stays in
 * it, and a filtered reload keeps no more than the randoms asked for. */
static void small_share(const uint8_t *p, size_t n)
{
	struct mem_budget mb = { .limit = 0 };
	struct tls_keys *k = tls_keys_new();
	char err[KEYLOG_ERRLEN];
	uint8_t random[KEYLOG_RANDOM_LEN] = { 0 };
	size_t len;

	FUZZ_CHECK(k != NULL);
	tls_keys_set_budget(k, &mb, 4096);
	if (keylog_load_mem(k, "small", p, n, NULL, NULL, err) == 0) {
		FUZZ_CHECK(tls_keys_memory(k) <= 4096 && mb.used == tls_keys_memory(k));
		tls_keys_collect_begin(k);
		FUZZ_CHECK(tls_keys_find(k, random, KEYLOG_MASTER_SECRET, &len) == NULL);
		tls_keys_collect_end(k);
		FUZZ_CHECK(keylog_load_mem(k, "small", p, n, NULL, NULL, err) == 0);
		FUZZ_CHECK(tls_keys_count(k) <= 1);
	}
	tls_keys_free(&k);
	FUZZ_CHECK(mb.used == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_keys *k = tls_keys_new();
	char err[KEYLOG_ERRLEN];
	uint64_t notices = 0;
	size_t count;
	uint8_t *copy = malloc(size ? size : 1);	/* exact size for ASan */

	FUZZ_CHECK(k != NULL && copy != NULL);
	memcpy(copy, data, size);
	if (keylog_load_mem(k, "fuzz.keylog", copy, size, fuzz_on_notice, &notices, err) != 0) {
		FUZZ_CHECK(memchr(err, '\0', KEYLOG_ERRLEN) != NULL);
	} else {
		count = tls_keys_count(k);
		FUZZ_CHECK(count <= size / (2 * KEYLOG_RANDOM_LEN) + 1);
		lookups(k, copy, size);
		FUZZ_CHECK(keylog_load_mem(k, "again", copy, size, NULL, NULL, err) == 0);
		FUZZ_CHECK(tls_keys_count(k) == count);
	}
	FUZZ_CHECK(!tls_keys_have_rsa(k));
	tls_keys_free(&k);
	FUZZ_CHECK(k == NULL);
	small_share(copy, size);
	free(copy);
	return 0;
}
