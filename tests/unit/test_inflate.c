/* COMPRESS=DEFLATE layer: output as soon as zlib has it, whatever the
 * input split; a gap or bad data stops the direction and nothing guessed
 * is passed on; limits hold. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "util/notice.h"
#include "imap/inflate.h"

#define OUT_MAX (1u << 20)

static const char *const lines[] = {
	"a001 CAPABILITY\r\n",
	"a002 LOGIN alice secret\r\n",
	"a003 SELECT INBOX\r\n",
	"a004 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])\r\n",
	"a005 IDLE\r\n",
	"DONE\r\n",
	"a006 LOGOUT\r\n",
};

struct sink {
	struct buf out[2];
	uint64_t gaps[2], gap_bytes[2];
	uint64_t losts[2], lost_bytes[2];
	int notices;
	char last_notice[NOTICE_MAX];
	char last_kind[64];
	size_t calls;
};

static void on_data(void *ctx, enum stream_dir d, const uint8_t *p, size_t n, int64_t ts)
{
	struct sink *k = ctx;

	(void)ts;
	k->calls++;
	assert_int_equal(buf_append(&k->out[d], p, n), 0);
}

static void on_gap(void *ctx, enum stream_dir d, uint64_t n, int64_t ts)
{
	struct sink *k = ctx;

	(void)ts;
	k->gaps[d]++;
	k->gap_bytes[d] += n;
}

static void on_lost(void *ctx, enum stream_dir d, uint64_t n, int64_t ts)
{
	struct sink *k = ctx;

	(void)ts;
	k->losts[d]++;
	k->lost_bytes[d] += n;
}

static void on_notice(void *ctx, const struct notice *n)
{
	struct sink *k = ctx;

	k->notices++;
	snprintf(k->last_notice, sizeof k->last_notice, "%s", n->text);
	snprintf(k->last_kind, sizeof k->last_kind, "%s", notice_kind_name(n->kind));
}

static struct inflate_session *new_session(struct sink *k, uint64_t max_total)
{
	struct transport_sink h = { .ctx = k, .data = on_data, .gap = on_gap, .notice = on_notice };
	struct inflate_session *s;

	memset(k, 0, sizeof *k);
	buf_init(&k->out[0], OUT_MAX, NULL);
	buf_init(&k->out[1], OUT_MAX, NULL);
	s = inflate_new(&h, max_total, NULL);
	assert_non_null(s);
	return s;
}

static void sink_free(struct sink *k)
{
	buf_free(&k->out[0]);
	buf_free(&k->out[1]);
}

/* Compress the lines as a client does: raw deflate, a sync flush after
 * each line.  ends[i] is where line i's compressed bytes end. */
static size_t compress_lines(uint8_t *out, size_t cap, size_t ends[], int flush)
{
	z_stream z;
	size_t i;

	memset(&z, 0, sizeof z);
	assert_int_equal(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	z.next_out = out;
	z.avail_out = (uInt)cap;
	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		z.next_in = (Bytef *)(uintptr_t)lines[i];
		z.avail_in = (uInt)strlen(lines[i]);
		assert_int_equal(deflate(&z, flush), Z_OK);
		assert_int_equal(z.avail_in, 0);
		ends[i] = cap - z.avail_out;
	}
	deflateEnd(&z);
	return cap - z.avail_out;
}

static void expect_text(const struct buf *b, size_t nlines)
{
	char want[1024] = "";
	size_t i;

	for (i = 0; i < nlines; i++)
		strcat(want, lines[i]);
	assert_int_equal(b->len, strlen(want));
	assert_memory_equal(b->data, want, b->len);
}

/* Whole, byte by byte, and split at every position: the same text, and
 * each line is out as soon as its flush arrived. */
static void test_inflate_splits(void **state)
{
	static const int flushes[] = { Z_SYNC_FLUSH, Z_PARTIAL_FLUSH, Z_FULL_FLUSH };
	size_t ends[8], len, cut, i, f;
	uint8_t z[2048];
	struct sink k;
	struct inflate_session *s;

	(void)state;
	for (f = 0; f < sizeof flushes / sizeof flushes[0]; f++) {
		len = compress_lines(z, sizeof z, ends, flushes[f]);
		s = new_session(&k, 0);
		for (i = 0; i < len; i++) {
			inflate_feed(s, DIR_S2C, z + i, 1, 0);
			if (flushes[f] == Z_SYNC_FLUSH && i + 1 == ends[2])
				expect_text(&k.out[DIR_S2C], 3);	/* no waiting */
		}
		expect_text(&k.out[DIR_S2C], 7);
		assert_int_equal(k.notices, 0);
		inflate_free(&s);
		assert_null(s);
		sink_free(&k);
		for (cut = 0; cut <= len; cut++) {
			s = new_session(&k, 0);
			inflate_feed(s, DIR_C2S, z, cut, 0);
			inflate_feed(s, DIR_C2S, z + cut, len - cut, 0);
			expect_text(&k.out[DIR_C2S], 7);
			assert_int_equal(k.out[DIR_S2C].len, 0);
			inflate_free(&s);
			sink_free(&k);
		}
	}
}

/* A gap: the lines before it, one notice and one gap, then nothing. */
static void test_inflate_gap(void **state)
{
	size_t ends[8], len;
	uint8_t z[2048];
	struct inflate_stats st;
	struct sink k;
	struct inflate_session *s;

	(void)state;
	len = compress_lines(z, sizeof z, ends, Z_SYNC_FLUSH);
	s = new_session(&k, 0);
	inflate_feed(s, DIR_C2S, z, ends[2], 0);
	inflate_gap(s, DIR_C2S, 5, 0);
	inflate_feed(s, DIR_C2S, z + ends[2] + 5, len - ends[2] - 5, 0);
	inflate_gap(s, DIR_C2S, 7, 0);
	expect_text(&k.out[DIR_C2S], 3);
	assert_int_equal(k.notices, 1);
	assert_non_null(strstr(k.last_notice, "cannot be decoded"));
	assert_int_equal(k.gaps[DIR_C2S], 1);
	assert_int_equal(k.gap_bytes[DIR_C2S], 5);
	assert_false(inflate_ok(s, DIR_C2S));
	assert_true(inflate_ok(s, DIR_S2C));
	inflate_get_stats(s, &st);
	assert_int_equal(st.lost[DIR_C2S], 5 + (len - ends[2] - 5) + 7);
	assert_int_equal(st.out[DIR_C2S], k.out[DIR_C2S].len);
	inflate_free(&s);
	sink_free(&k);
}

/* Through the transport-layer ops: the first loss is a gap of the
 * inflated stream; a later gap, and at end the input only counted since
 * the direction stopped, go to lost (once: end says only what is unsaid). */
static void test_inflate_layer(void **state)
{
	struct transport_sink h = {
		.data = on_data, .gap = on_gap, .notice = on_notice, .lost = on_lost,
	};
	uint64_t max_total = 0;
	size_t ends[8], len;
	uint8_t z[2048];
	struct sink k;
	void *inst;

	(void)state;
	memset(&k, 0, sizeof k);
	buf_init(&k.out[0], OUT_MAX, NULL);
	buf_init(&k.out[1], OUT_MAX, NULL);
	h.ctx = &k;
	assert_null(inflate_layer_ops.sniff);
	inst = inflate_layer_ops.open(&max_total, &h, NULL);
	assert_non_null(inst);
	len = compress_lines(z, sizeof z, ends, Z_SYNC_FLUSH);
	inflate_layer_ops.feed(inst, DIR_C2S, z, ends[2], 0);
	inflate_layer_ops.gap(inst, DIR_C2S, 5, 0);
	inflate_layer_ops.feed(inst, DIR_C2S, z + ends[2] + 5, len - ends[2] - 5, 0);
	inflate_layer_ops.gap(inst, DIR_C2S, 7, 0);
	expect_text(&k.out[DIR_C2S], 3);
	assert_int_equal(k.gaps[DIR_C2S], 1);
	assert_int_equal(k.gap_bytes[DIR_C2S], 5);
	assert_int_equal(k.losts[DIR_C2S], 1);
	assert_int_equal(k.lost_bytes[DIR_C2S], 7);
	inflate_layer_ops.end(inst, 0);
	assert_int_equal(k.losts[DIR_C2S], 2);
	assert_int_equal(k.lost_bytes[DIR_C2S], 7 + (len - ends[2] - 5));
	assert_int_equal(k.losts[DIR_S2C], 0);
	inflate_layer_ops.end(inst, 0);
	assert_int_equal(k.losts[DIR_C2S], 2);
	inflate_layer_ops.free(inst);
	sink_free(&k);
}

/* Plain IMAP where deflate was expected: an error, never text. */
static void test_inflate_garbage(void **state)
{
	static const char plain[] = "a001 NOOP\r\na002 NOOP\r\n";
	struct sink k;
	struct inflate_session *s;

	(void)state;
	s = new_session(&k, 0);
	inflate_feed(s, DIR_S2C, (const uint8_t *)"\xff\xff\xff\xff", 4, 0);
	inflate_feed(s, DIR_S2C, (const uint8_t *)plain, strlen(plain), 0);
	assert_false(inflate_ok(s, DIR_S2C));
	assert_int_equal(k.notices, 1);
	assert_int_equal(k.gaps[DIR_S2C], 1);
	assert_int_equal(k.out[DIR_S2C].len, 0);
	inflate_free(&s);
	sink_free(&k);
}

/* A highly compressible message: large output in bounded pieces, and the
 * output cap stops the direction with a notice. */
static void test_inflate_limits(void **state)
{
	static uint8_t zeros[300000], z[4096];
	uLongf zlen;
	z_stream zs;
	struct sink k;
	struct inflate_session *s;

	(void)state;
	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = zeros;
	zs.avail_in = sizeof zeros;
	zs.next_out = z;
	zs.avail_out = sizeof z;
	assert_int_equal(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
	zlen = sizeof z - zs.avail_out;
	deflateEnd(&zs);
	assert_true(zlen < 1000);	/* about 1:1000 */

	s = new_session(&k, 0);
	inflate_feed(s, DIR_S2C, z, zlen, 0);
	assert_int_equal(k.out[DIR_S2C].len, sizeof zeros);
	assert_true(k.calls >= sizeof zeros / INFLATE_OUT_CHUNK);
	assert_int_equal(k.notices, 0);
	inflate_free(&s);
	sink_free(&k);

	s = new_session(&k, 100000);
	inflate_feed(s, DIR_S2C, z, zlen, 0);
	assert_true(k.out[DIR_S2C].len <= 100000);
	assert_false(inflate_ok(s, DIR_S2C));
	assert_non_null(strstr(k.last_notice, "output limit"));
	assert_string_equal(k.last_kind, "inflate_limit");
	inflate_free(&s);
	sink_free(&k);
}

/* Raw deflate of n bytes made by fill(i), one sync flush at the end; the
 * caller frees the result. */
static uint8_t *deflate_made(size_t n, uint8_t (*fill)(size_t), size_t *len_r)
{
	enum { PIECE = 65536 };
	static uint8_t in[PIECE];
	size_t cap, done = 0;
	uint8_t *out;
	z_stream zs;

	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	cap = deflateBound(&zs, n) + 64;	/* and the sync flush's marker */
	out = malloc(cap);
	assert_non_null(out);
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	while (done < n) {
		size_t k = n - done < PIECE ? n - done : PIECE;

		for (size_t i = 0; i < k; i++)
			in[i] = fill(done + i);
		zs.next_in = in;
		zs.avail_in = (uInt)k;
		assert_int_equal(deflate(&zs, done + k == n ? Z_SYNC_FLUSH : Z_NO_FLUSH), Z_OK);
		assert_int_equal(zs.avail_in, 0);
		done += k;
	}
	*len_r = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

static uint8_t fill_zero(size_t i)
{
	(void)i;
	return 0;
}

/* Mail-like text: lines that repeat, with a counter that does not. */
static uint8_t fill_text(size_t i)
{
	static const char line[] = "* 1 FETCH (FLAGS (\\Seen) UID 1234) xxxxxxx\r\n";
	size_t n = sizeof line - 1, row = i / n;

	if (i % n < 6)
		return (uint8_t)('0' + (row >> (4 * (i % n))) % 10);
	return (uint8_t)line[i % n];
}

/* A decompression bomb (about 1030:1) stops once past INFLATE_GUARD_AFTER
 * bytes of output, with an inflate_limit notice, and later input is only
 * counted; text that inflates far less passes whole. */
static void test_inflate_ratio_guard(void **state)
{
	size_t zlen, n = 8u << 20;
	uint8_t *z = deflate_made(n, fill_zero, &zlen);
	struct sink k;
	struct inflate_session *s;
	struct inflate_stats st;
	size_t calls;

	(void)state;
	assert_true(n / zlen > INFLATE_GUARD_RATIO);
	s = new_session(&k, 0);
	k.out[DIR_S2C].max = 2 * INFLATE_GUARD_AFTER;
	inflate_feed(s, DIR_S2C, z, zlen / 2, 0);
	assert_false(inflate_ok(s, DIR_S2C));
	assert_true(k.out[DIR_S2C].len + INFLATE_OUT_CHUNK > INFLATE_GUARD_AFTER);
	assert_true(k.out[DIR_S2C].len <= INFLATE_GUARD_AFTER);
	assert_string_equal(k.last_kind, "inflate_limit");
	assert_non_null(strstr(k.last_notice, "decompression bomb"));
	assert_int_equal(k.gaps[DIR_S2C], 1);
	calls = k.calls;
	inflate_feed(s, DIR_S2C, z + zlen / 2, zlen - zlen / 2, 0);
	assert_int_equal(k.calls, calls);	/* nothing more inflated */
	inflate_get_stats(s, &st);
	assert_int_equal(st.in[DIR_S2C], zlen);
	assert_true(st.lost[DIR_S2C] >= zlen - zlen / 2);
	inflate_free(&s);
	sink_free(&k);
	free(z);

	n = 4u << 20;
	z = deflate_made(n, fill_text, &zlen);
	assert_true(n / zlen < INFLATE_GUARD_RATIO);
	s = new_session(&k, 0);
	k.out[DIR_C2S].max = n;
	inflate_feed(s, DIR_C2S, z, zlen, 0);
	assert_true(inflate_ok(s, DIR_C2S));
	assert_int_equal(k.out[DIR_C2S].len, n);
	assert_int_equal(k.notices, 0);
	inflate_free(&s);
	sink_free(&k);
	free(z);
}

/* A final block followed by more bytes: those are not deflate data. */
static void test_inflate_stream_end(void **state)
{
	uint8_t z[256];
	uLongf zlen;
	z_stream zs;
	struct sink k;
	struct inflate_session *s;

	(void)state;
	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)"a1 NOOP\r\n";
	zs.avail_in = 9;
	zs.next_out = z;
	zs.avail_out = sizeof z;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	zlen = sizeof z - zs.avail_out;
	deflateEnd(&zs);
	memcpy(z + zlen, "junk", 4);
	s = new_session(&k, 0);
	inflate_feed(s, DIR_C2S, z, zlen + 4, 0);
	assert_int_equal(k.out[DIR_C2S].len, 9);
	assert_false(inflate_ok(s, DIR_C2S));
	assert_int_equal(k.gap_bytes[DIR_C2S], 4);
	inflate_free(&s);
	sink_free(&k);
}

/* zlib's memory is charged to the budget and given back. */
static void test_inflate_budget(void **state)
{
	struct mem_budget mb = { .limit = 1000 };
	struct transport_sink h = { 0 };
	struct inflate_session *s;

	(void)state;
	assert_null(inflate_new(&h, 0, &mb));
	assert_int_equal(mb.used, 0);
	mb.limit = 0;
	s = inflate_new(&h, 0, &mb);
	assert_non_null(s);
	/* the session struct (16 KB) as well as zlib's two states */
	assert_true(mb.used > 24 * 1024);
	inflate_free(&s);
	assert_int_equal(mb.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inflate_splits),
		cmocka_unit_test(test_inflate_gap),
		cmocka_unit_test(test_inflate_layer),
		cmocka_unit_test(test_inflate_garbage),
		cmocka_unit_test(test_inflate_limits),
		cmocka_unit_test(test_inflate_ratio_guard),
		cmocka_unit_test(test_inflate_stream_end),
		cmocka_unit_test(test_inflate_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
