/* Reassembly of one direction: order independence, overlaps, wrap-around,
 * exact gaps and the out-of-order cap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/reassembly.h"

#define SINK_MAX 4096
#define SINK_MAX_GAPS 32

/* What came out of reassembly: bytes and the gaps between them. */
struct sink {
	uint8_t bytes[SINK_MAX];
	size_t len;
	uint64_t total;			/* bytes delivered, also past SINK_MAX */
	uint64_t expect_off;		/* offsets must be contiguous */
	struct { uint64_t off, n, frame; } gaps[SINK_MAX_GAPS];
	size_t ngaps;
	/* the record reassembly reads (frame_src) and tells (frame_out), and
	 * what it told with each data() call */
	uint64_t frame_src, frame_out;
	uint64_t frames[SINK_MAX_GAPS];
	size_t nframes;
	struct { uint64_t off, n; } conflicts[SINK_MAX_GAPS];
	size_t nconflicts;
};

static void sink_data(void *ctx, uint64_t off, const uint8_t *p, size_t n,
		      int64_t ts)
{
	struct sink *s = ctx;

	(void)ts;
	assert_int_equal(off, s->expect_off);
	assert_true(n > 0);
	if (s->len + n <= SINK_MAX) {
		memcpy(s->bytes + s->len, p, n);
		s->len += n;
	}
	s->total += n;
	s->expect_off += n;
	if (s->nframes < SINK_MAX_GAPS)
		s->frames[s->nframes++] = s->frame_out;
}

static void sink_gap(void *ctx, uint64_t off, uint64_t n, int64_t ts)
{
	struct sink *s = ctx;

	(void)ts;
	assert_int_equal(off, s->expect_off);
	assert_true(n > 0);
	assert_true(s->ngaps < SINK_MAX_GAPS);
	s->gaps[s->ngaps].off = off;
	s->gaps[s->ngaps].n = n;
	s->gaps[s->ngaps].frame = s->frame_out;
	s->ngaps++;
	s->expect_off += n;
}

static void sink_conflict(void *ctx, uint64_t off, uint64_t n, int64_t ts)
{
	struct sink *s = ctx;

	(void)ts;
	assert_true(n > 0);
	assert_true(s->nconflicts < SINK_MAX_GAPS);
	s->conflicts[s->nconflicts].off = off;
	s->conflicts[s->nconflicts].n = n;
	s->nconflicts++;
}

static struct reasm *mk_window(struct sink *s, size_t max_ooo,
			       struct mem_budget *mb, size_t window)
{
	struct reasm_config cfg = { max_ooo, mb, window, 0, &s->frame_src, &s->frame_out };
	struct reasm_out out = { s, sink_data, sink_gap, sink_conflict };
	struct reasm *r;

	memset(s, 0, sizeof *s);
	r = reasm_new(&cfg, &out);
	assert_non_null(r);
	return r;
}

static struct reasm *mk(struct sink *s, size_t max_ooo,
			struct mem_budget *mb)
{
	struct reasm_config cfg = { max_ooo, mb, 0, 0, &s->frame_src, &s->frame_out };
	struct reasm_out out = { s, sink_data, sink_gap, sink_conflict };
	struct reasm *r;

	memset(s, 0, sizeof *s);
	r = reasm_new(&cfg, &out);
	assert_non_null(r);
	return r;
}

static uint8_t stream[256];

static void fill_stream(void)
{
	size_t i;

	for (i = 0; i < sizeof stream; i++)
		stream[i] = (uint8_t)(i * 31 + 7);
}

/* The reference stream, every byte different: what a lying copy says. */
static uint8_t other[sizeof stream];

static void fill_streams(void)
{
	size_t i;

	fill_stream();
	for (i = 0; i < sizeof other; i++)
		other[i] = (uint8_t)~stream[i];
}

/* A segment [a, b) of the reference stream. */
struct span { uint32_t a, b; };

/* Feed spans of stream (starting at ISN isn) in the order given by perm. */
static void feed_perm(struct reasm *r, uint32_t isn, const struct span *sp,
		      const int *perm, int n)
{
	int i;

	reasm_syn(r, isn);
	for (i = 0; i < n; i++) {
		const struct span *s = &sp[perm[i]];

		reasm_segment(r, isn + 1 + s->a, stream + s->a, s->b - s->a, 0,
			      false, i);
	}
}

static bool next_perm(int *a, int n)
{
	int i = n - 2, j = n - 1, t;

	while (i >= 0 && a[i] >= a[i + 1])
		i--;
	if (i < 0)
		return false;
	while (a[j] <= a[i])
		j--;
	t = a[i]; a[i] = a[j]; a[j] = t;
	for (i++, j = n - 1; i < j; i++, j--) {
		t = a[i]; a[i] = a[j]; a[j] = t;
	}
	return true;
}

/* Every arrival order of the spans yields the stream [0, total) exactly. */
static void check_all_orders(const struct span *sp, int n, uint32_t total,
			     uint32_t isn, bool overlapping)
{
	int perm[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	int orders = 0;
	struct sink s;

	fill_stream();
	do {
		struct reasm *r = mk(&s, 1 << 20, NULL);

		feed_perm(r, isn, sp, perm, n);
		assert_int_equal(s.len, total);
		assert_memory_equal(s.bytes, stream, total);
		assert_int_equal(s.ngaps, 0);
		assert_int_equal(reasm_queued(r), 0);
		assert_int_equal(reasm_stats(r)->overlap_conflicts, 0);
		if (!overlapping)
			assert_int_equal(reasm_stats(r)->retransmitted, 0);
		reasm_free(&r);
		assert_null(r);
		orders++;
	} while (next_perm(perm, n));
	assert_true(orders > 1);
}

static void test_permutations_disjoint(void **state)
{
	static const struct span sp[] = {
		{ 0, 10 }, { 10, 20 }, { 20, 35 }, { 35, 42 }, { 42, 50 },
	};

	(void)state;
	check_all_orders(sp, 5, 50, 1000, false);
}

static void test_permutations_overlapping(void **state)
{
	static const struct span sp[] = {
		{ 0, 12 }, { 8, 20 }, { 15, 35 }, { 30, 42 }, { 40, 50 },
		{ 5, 45 },
	};

	(void)state;
	check_all_orders(sp, 6, 50, 7, true);
}

/* The same across the 2^32 sequence wrap. */
static void test_permutations_wrap(void **state)
{
	static const struct span sp[] = {
		{ 0, 9 }, { 9, 16 }, { 16, 17 }, { 17, 30 }, { 30, 64 },
	};

	(void)state;
	check_all_orders(sp, 5, 64, 0xfffffff0u, false);
}

/* First copy wins; differing bytes in the overlap are counted. */
static void test_overlap_first_copy_wins(void **state)
{
	struct sink s;
	struct reasm *r = mk(&s, 1 << 20, NULL);
	uint8_t a[10], b[15], z[5];

	(void)state;
	memset(a, 'A', sizeof a);
	memset(b, 'B', sizeof b);
	memset(z, 'Z', sizeof z);
	reasm_syn(r, 99);
	reasm_segment(r, 110, a, 10, 0, false, 1);	/* [10,20) queued */
	reasm_segment(r, 105, b, 10, 0, false, 2);	/* [5,15): 5..10 new */
	reasm_segment(r, 100, z, 5, 0, false, 3);	/* [0,5) */
	assert_int_equal(s.len, 20);
	assert_memory_equal(s.bytes, "ZZZZZBBBBBAAAAAAAAAA", 20);
	assert_int_equal(reasm_stats(r)->overlap_conflicts, 5);
	assert_int_equal(reasm_stats(r)->retransmitted, 5);
	assert_int_equal(s.nconflicts, 1);
	assert_int_equal(s.conflicts[0].off, 10);
	assert_int_equal(s.conflicts[0].n, 5);
	/* An in-order segment that runs into the queue keeps the queued copy. */
	reasm_segment(r, 130, a, 10, 0, false, 4);	/* [30,40) queued */
	reasm_segment(r, 120, b, 15, 0, false, 5);	/* [20,35) */
	assert_int_equal(s.len, 40);
	assert_memory_equal(s.bytes + 20, "BBBBBBBBBBAAAAAAAAAA", 20);
	assert_int_equal(reasm_stats(r)->overlap_conflicts, 10);
	assert_int_equal(s.nconflicts, 2);
	assert_int_equal(s.conflicts[1].off, 30);
	assert_int_equal(s.conflicts[1].n, 5);
	/* Already delivered: dropped, counted, and compared with what was
	 * delivered ("ZZZZZBBBBB" against ten Bs: five differ). */
	reasm_segment(r, 100, b, 10, 0, false, 6);
	assert_int_equal(s.len, 40);
	assert_int_equal(reasm_stats(r)->retransmitted, 20);
	assert_int_equal(reasm_stats(r)->overlap_conflicts, 15);
	assert_int_equal(s.nconflicts, 3);
	assert_int_equal(s.conflicts[2].off, 0);
	assert_int_equal(s.conflicts[2].n, 5);
	assert_int_equal(reasm_stats(r)->unchecked, 0);
	reasm_free(&r);
}

/* A retransmission of bytes already handed up that says something else (a
 * LOGIN with another user): the first copy stays, the span is reported. */
static void test_delivered_conflict(void **state)
{
	static const char first[] = "a1 LOGIN alice pw\r\n";
	static const char later[] = "a1 LOGIN mallo pw\r\n";
	const size_t n = sizeof first - 1;
	struct mem_budget mb = { .limit = 0 };
	struct sink s;
	struct reasm *r = mk(&s, 1 << 20, &mb);

	(void)state;
	reasm_syn(r, 999);
	reasm_segment(r, 1000, (const uint8_t *)first, (uint32_t)n, 0, false, 1);
	assert_true(mb.used >= sizeof(uint8_t) * REASM_WINDOW_MIN);
	reasm_segment(r, 1000, (const uint8_t *)first, (uint32_t)n, 0, false, 2);
	assert_int_equal(s.nconflicts, 0);
	reasm_segment(r, 1000, (const uint8_t *)later, (uint32_t)n, 0, false, 3);
	assert_int_equal(s.len, n);
	assert_memory_equal(s.bytes, first, n);
	assert_int_equal(s.nconflicts, 1);
	assert_int_equal(s.conflicts[0].off, 9);
	assert_int_equal(s.conflicts[0].n, 5);
	assert_int_equal(reasm_stats(r)->overlap_conflicts, 5);
	assert_int_equal(reasm_stats(r)->conflicts, 1);
	assert_int_equal(reasm_stats(r)->retransmitted, 2 * n);
	/* A partial overlap: the old part is compared, the new part delivered. */
	reasm_segment(r, 1000 + 15, (const uint8_t *)"XX\r\nnext", 8, 0, false, 4);
	assert_int_equal(s.len, n + 4);
	assert_int_equal(s.nconflicts, 2);
	assert_int_equal(s.conflicts[1].off, 15);
	assert_int_equal(s.conflicts[1].n, 2);
	reasm_free(&r);
	assert_int_equal(mb.used, 0);
}

/* The window holds the last `window` bytes: older retransmitted bytes are
 * counted as not compared; the ring wraps and grows without losing bytes;
 * a gap empties it. */
static void test_window_bounds(void **state)
{
	struct sink s;
	struct reasm *r;
	uint32_t i;

	(void)state;
	fill_streams();
	r = mk_window(&s, 1 << 20, NULL, 64);
	reasm_syn(r, 0);
	for (i = 0; i < 200; i += 30)	/* wraps the 64-byte ring */
		reasm_segment(r, 1 + i, stream + i, i + 30 <= 200 ? 30 : 200 - i,
			      0, false, 1);
	assert_int_equal(s.len, 200);
	reasm_segment(r, 1, stream, 200, 0, false, 2);
	assert_int_equal(s.nconflicts, 0);
	assert_int_equal(reasm_stats(r)->unchecked, 136);
	reasm_segment(r, 1, other, 200, 0, false, 3);
	assert_int_equal(s.nconflicts, 1);
	assert_int_equal(s.conflicts[0].off, 136);
	assert_int_equal(s.conflicts[0].n, 64);
	assert_int_equal(reasm_stats(r)->unchecked, 272);
	/* A hole, then 10 bytes: only those 10 can be compared. */
	reasm_peer_ack(r, 1 + 210, 4);
	assert_int_equal(s.ngaps, 1);
	reasm_segment(r, 1 + 210, stream + 210, 10, 0, false, 5);
	reasm_segment(r, 1 + 190, other + 190, 30, 0, false, 6);
	assert_int_equal(s.nconflicts, 2);
	assert_int_equal(s.conflicts[1].off, 210);
	assert_int_equal(s.conflicts[1].n, 10);
	assert_int_equal(reasm_stats(r)->unchecked, 272 + 20);
	reasm_free(&r);

	/* Growth from the smallest window keeps every byte in place. */
	r = mk_window(&s, 1 << 20, NULL, 0);
	reasm_syn(r, 0);
	reasm_segment(r, 1, stream, 10, 0, false, 1);
	reasm_segment(r, 11, stream + 10, 100, 0, false, 2);
	reasm_segment(r, 111, stream + 110, 146, 0, false, 3);
	reasm_segment(r, 1, stream, 256, 0, false, 4);
	assert_int_equal(s.nconflicts, 0);
	assert_int_equal(reasm_stats(r)->unchecked, 0);
	reasm_segment(r, 1 + 5, other + 5, 1, 0, false, 5);
	reasm_segment(r, 1 + 250, other + 250, 1, 0, false, 6);
	assert_int_equal(s.nconflicts, 2);
	assert_int_equal(s.conflicts[0].off, 5);
	assert_int_equal(s.conflicts[1].off, 250);
	reasm_free(&r);

	/* Below REASM_WINDOW_MIN: no window, nothing compared. */
	r = mk_window(&s, 1 << 20, NULL, 1);
	reasm_syn(r, 0);
	reasm_segment(r, 1, stream, 10, 0, false, 1);
	reasm_segment(r, 1, other, 10, 0, false, 2);
	assert_int_equal(s.nconflicts, 0);
	assert_int_equal(reasm_stats(r)->unchecked, 10);
	reasm_free(&r);
}

/* window_max_run: a delivery longer than it is not kept (the bulk of a
 * download); the window starts again after it, shorter ones are kept. */
static void test_window_max_run(void **state)
{
	struct reasm_config cfg = { 1 << 20, NULL, 0, 32, NULL, NULL };
	struct sink s;
	struct reasm_out out = { &s, sink_data, sink_gap, sink_conflict };
	struct reasm *r;

	(void)state;
	fill_streams();
	memset(&s, 0, sizeof s);
	r = reasm_new(&cfg, &out);
	assert_non_null(r);
	reasm_syn(r, 0);
	reasm_segment(r, 1, stream, 20, 0, false, 1);		/* kept */
	reasm_segment(r, 21, stream + 20, 100, 0, false, 2);	/* not kept */
	reasm_segment(r, 121, stream + 120, 10, 0, false, 3);	/* kept */
	reasm_segment(r, 1, other, 130, 0, false, 4);
	assert_int_equal(s.nconflicts, 1);
	assert_int_equal(s.conflicts[0].off, 120);
	assert_int_equal(s.conflicts[0].n, 10);
	assert_int_equal(reasm_stats(r)->unchecked, 120);
	reasm_free(&r);
}

/* The window is charged to the budget and grows only while the budget is
 * less than half spent: it never makes the budget refuse data. */
static void test_window_budget(void **state)
{
	static uint8_t big[8192];
	struct mem_budget mb = { .limit = 0 };
	struct sink s;
	struct reasm *r;
	size_t base;

	(void)state;
	r = mk(&s, 1 << 20, &mb);
	base = mb.used;
	mb.limit = base * 4 + 4 * 1024;	/* room for a 1 KB window, no more */
	reasm_syn(r, 0);
	reasm_segment(r, 1, big, sizeof big, 0, false, 1);
	assert_true(mb.used - base <= 1024);
	assert_true(mb.used > base);
	assert_int_equal(mb.refused, 0);
	reasm_segment(r, 1, big, sizeof big, 0, false, 2);
	assert_true(reasm_stats(r)->unchecked >= sizeof big - 1024);
	reasm_free(&r);
	assert_int_equal(mb.used, 0);
}

/* 64-bit offsets: more than 4 GiB in one direction stays in order. */
static void test_offsets_past_4g(void **state)
{
	static uint8_t big[65535];
	struct sink s;
	struct reasm *r = mk(&s, 1 << 20, NULL);
	uint32_t seq = 0x12345678u;
	uint64_t i, nseg = 70000;

	(void)state;
	reasm_syn(r, seq - 1);
	for (i = 0; i < nseg; i++) {
		reasm_segment(r, seq, big, sizeof big, 0, false, 0);
		/* A retransmission of the previous segment in between. */
		if (i % 1000 == 999)
			reasm_segment(r, seq - sizeof big, big, sizeof big, 0,
				      false, 0);
		seq += sizeof big;
	}
	assert_true(reasm_next_offset(r) > (1ull << 32));
	assert_int_equal(reasm_next_offset(r), nseg * sizeof big);
	assert_int_equal(s.total, nseg * sizeof big);
	assert_int_equal(s.ngaps, 0);
	assert_int_equal(reasm_stats(r)->retransmitted, 70 * sizeof big);
	reasm_free(&r);
}

static void expect_gap(const struct sink *s, size_t i, uint64_t off, uint64_t n)
{
	assert_true(i < s->ngaps);
	assert_int_equal(s->gaps[i].off, off);
	assert_int_equal(s->gaps[i].n, n);
}

/* The peer's ACK past a hole makes it certain; the gap is exact. */
static void test_gap_on_peer_ack(void **state)
{
	struct sink s;
	struct reasm *r = mk(&s, 1 << 20, NULL);

	(void)state;
	fill_stream();
	reasm_syn(r, 999);
	reasm_segment(r, 1000, stream, 10, 0, false, 1);
	reasm_segment(r, 1020, stream + 20, 10, 0, false, 2);
	reasm_peer_ack(r, 1010, 3);	/* not past the hole: nothing */
	assert_int_equal(s.ngaps, 0);
	reasm_peer_ack(r, 1025, 4);
	assert_int_equal(s.ngaps, 1);
	expect_gap(&s, 0, 10, 10);
	assert_int_equal(s.len, 20);
	assert_memory_equal(s.bytes + 10, stream + 20, 10);
	/* ACK past everything with nothing queued: a gap up to the ACK. */
	reasm_peer_ack(r, 1040, 5);
	expect_gap(&s, 1, 30, 10);
	/* Late copies of gapped bytes are dropped. */
	reasm_segment(r, 1010, stream + 10, 10, 0, false, 6);
	assert_int_equal(s.len, 20);
	/* An absurd ACK is not believed. */
	reasm_peer_ack(r, 1040 + (1u << 31) - 1, 7);
	assert_int_equal(s.ngaps, 2);
	assert_int_equal(reasm_stats(r)->gap_bytes, 20);
	reasm_free(&r);
}

static void test_gap_on_fin_and_flush(void **state)
{
	struct sink s;
	struct reasm *r = mk(&s, 1 << 20, NULL);

	(void)state;
	fill_stream();
	reasm_syn(r, 0);
	reasm_segment(r, 1, stream, 10, 0, false, 1);
	reasm_segment(r, 21, stream + 20, 10, 0, false, 2);
	reasm_segment(r, 41, stream + 40, 5, 0, false, 3);
	assert_false(reasm_done(r));
	reasm_flush(r, 4);
	assert_int_equal(s.ngaps, 2);
	expect_gap(&s, 0, 10, 10);
	expect_gap(&s, 1, 30, 10);
	assert_int_equal(s.len, 25);
	reasm_free(&r);

	/* FIN past a hole: the hole is final at once. */
	r = mk(&s, 1 << 20, NULL);
	reasm_syn(r, 0);
	reasm_segment(r, 1, stream, 10, 0, false, 1);
	reasm_segment(r, 21, stream + 20, 10, 0, true, 2);
	assert_true(reasm_done(r));
	assert_int_equal(s.ngaps, 1);
	expect_gap(&s, 0, 10, 10);
	assert_int_equal(s.len, 20);
	/* The ACK of the FIN covers one sequence number, not a byte. */
	reasm_peer_ack(r, 32, 3);
	assert_int_equal(s.ngaps, 1);
	reasm_free(&r);
}

/* Bytes cut by the snap length are a gap of exactly that size. */
static void test_gap_snaplen(void **state)
{
	struct sink s;
	struct reasm *r = mk(&s, 1 << 20, NULL);

	(void)state;
	fill_stream();
	reasm_syn(r, 0);
	reasm_segment(r, 1, stream, 10, 1438, false, 1);
	assert_int_equal(s.ngaps, 1);
	expect_gap(&s, 0, 10, 1438);
	reasm_segment(r, 1 + 1448, stream, 10, 0, false, 2);
	assert_int_equal(s.len, 20);
	/* Cut and out of order: the hole waits for a full copy. */
	reasm_segment(r, 1 + 1468, stream, 10, 5, false, 3);	/* [1468,1478)+5 */
	reasm_segment(r, 1 + 1458, stream, 10, 0, false, 4);
	assert_int_equal(s.ngaps, 1);
	assert_int_equal(reasm_next_offset(r), 1478);
	reasm_segment(r, 1 + 1478, stream, 10, 0, false, 5);
	assert_int_equal(reasm_next_offset(r), 1488);
	assert_int_equal(s.ngaps, 1);
	reasm_free(&r);
}

/* Over the cap the first hole becomes a gap and the queue drains. */
static void test_ooo_cap(void **state)
{
	struct mem_budget mb = { .limit = 0 };
	struct sink s;
	struct reasm *r = mk(&s, 20, &mb);

	(void)state;
	fill_stream();
	reasm_syn(r, 0);
	reasm_segment(r, 11, stream + 10, 10, 0, false, 1);
	reasm_segment(r, 31, stream + 30, 10, 0, false, 2);
	assert_int_equal(reasm_queued(r), 20);
	assert_true(mb.used > 20);
	assert_int_equal(s.len, 0);
	reasm_segment(r, 51, stream + 50, 10, 0, false, 3);
	assert_int_equal(s.ngaps, 1);
	expect_gap(&s, 0, 0, 10);
	assert_int_equal(s.len, 10);
	assert_memory_equal(s.bytes, stream + 10, 10);
	assert_int_equal(reasm_queued(r), 20);
	assert_int_equal(reasm_stats(r)->pressure_gaps, 1);
	/* A segment bigger than the whole cap goes straight through. */
	reasm_segment(r, 101, stream + 100, 30, 0, false, 4);
	assert_int_equal(reasm_queued(r), 0);
	assert_int_equal(s.ngaps, 4);
	expect_gap(&s, 1, 20, 10);
	expect_gap(&s, 2, 40, 10);
	expect_gap(&s, 3, 60, 40);
	assert_int_equal(reasm_next_offset(r), 130);
	reasm_free(&r);
	assert_int_equal(mb.used, 0);

	/* The struct itself is charged: too small a budget refuses it. */
	mb.limit = 1;
	{
		struct reasm_config rc = { 1 << 20, &mb, 0, 0, NULL, NULL };
		struct reasm_out out = { &s, NULL, NULL, NULL };

		assert_null(reasm_new(&rc, &out));
		assert_int_equal(mb.used, 0);
	}
	/* A budget that refuses the queue: the bytes are dropped and counted. */
	mb.limit = 0;
	r = mk(&s, 1 << 20, &mb);
	mb.limit = mb.used + 1;
	reasm_syn(r, 0);
	reasm_segment(r, 11, stream, 10, 0, false, 1);
	assert_int_equal(reasm_stats(r)->ooo_dropped, 10);
	assert_int_equal(reasm_queued(r), 0);
	reasm_free(&r);
	assert_int_equal(mb.used, 0);
}

/* Bytes keep the record they came in, out of order too; a gap is told
 * with the record that made it certain. */
static void test_frames(void **state)
{
	struct sink s;
	struct reasm *r = mk(&s, 1 << 20, NULL);

	(void)state;
	reasm_syn(r, 0);
	s.frame_src = 5;
	reasm_segment(r, 11, stream + 10, 10, 0, false, 1);	/* [10,20) queued */
	s.frame_src = 6;
	reasm_segment(r, 1, stream, 10, 0, false, 2);		/* [0,10): both go */
	assert_int_equal(s.nframes, 2);
	assert_int_equal(s.frames[0], 6);
	assert_int_equal(s.frames[1], 5);
	s.frame_src = 7;
	reasm_segment(r, 31, stream + 30, 10, 0, false, 3);	/* hole [20,30) */
	s.frame_src = 9;
	reasm_peer_ack(r, 41, 4);				/* the ACK settles it */
	assert_int_equal(s.ngaps, 1);
	assert_int_equal(s.gaps[0].frame, 9);
	assert_int_equal(s.nframes, 3);
	assert_int_equal(s.frames[2], 7);
	reasm_free(&r);
}

/* Tiny runs between queued ones would make each insertion walk a long
 * queue: at REASM_MAX_RUNS runs the first hole becomes a gap instead, even
 * though the byte cap is far away. */
static void test_run_cap(void **state)
{
	struct sink s;
	struct reasm *r = mk(&s, 1 << 20, NULL);
	static const uint8_t b = 'x';

	(void)state;
	reasm_syn(r, 0);
	for (uint32_t i = 1; i <= REASM_MAX_RUNS; i++)
		reasm_segment(r, 1 + 2 * i, &b, 1, 0, false, i);
	assert_int_equal(reasm_queued(r), REASM_MAX_RUNS);
	assert_int_equal(s.ngaps, 0);
	assert_int_equal(reasm_stats(r)->pressure_gaps, 0);
	reasm_segment(r, 1 + 3 * REASM_MAX_RUNS, &b, 1, 0, false, 9999);
	assert_int_equal(reasm_stats(r)->pressure_gaps, 1);
	assert_int_equal(reasm_stats(r)->runs_full, 1);
	assert_int_equal(s.ngaps, 1);
	expect_gap(&s, 0, 0, 2);	/* the hole before the first run */
	assert_int_equal(s.len, 1);	/* and that run, now in order */
	assert_int_equal(reasm_queued(r), REASM_MAX_RUNS);	/* one out, one in */
	reasm_free(&r);
}

static void test_keepalive_and_early(void **state)
{
	struct sink s;
	struct reasm *r = mk(&s, 1 << 20, NULL);

	(void)state;
	fill_stream();
	/* Mid-stream: the first byte seen is offset 0. */
	reasm_segment(r, 5000, stream, 10, 0, false, 1);
	reasm_segment(r, 5009, stream + 9, 1, 0, false, 2);	/* keep-alive */
	reasm_segment(r, 5009, NULL, 0, 0, false, 3);
	assert_int_equal(reasm_stats(r)->keepalives, 2);
	assert_int_equal(reasm_stats(r)->retransmitted, 0);
	reasm_segment(r, 4990, stream, 10, 0, false, 4);
	assert_int_equal(reasm_stats(r)->early_bytes, 10);
	reasm_segment(r, 4995, stream, 10, 0, false, 5);
	assert_int_equal(reasm_stats(r)->early_bytes, 15);
	assert_int_equal(reasm_stats(r)->retransmitted, 5);
	assert_int_equal(s.len, 10);
	reasm_free(&r);

	/* Not started: the peer's ACK sets offset 0, later ACKs make gaps. */
	r = mk(&s, 1 << 20, NULL);
	reasm_peer_ack(r, 7000, 1);
	assert_true(reasm_started(r));
	reasm_peer_ack(r, 7100, 2);
	expect_gap(&s, 0, 0, 100);
	reasm_segment(r, 7100, stream, 4, 0, false, 3);
	assert_int_equal(s.len, 4);
	reasm_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_permutations_disjoint),
		cmocka_unit_test(test_permutations_overlapping),
		cmocka_unit_test(test_permutations_wrap),
		cmocka_unit_test(test_overlap_first_copy_wins),
		cmocka_unit_test(test_delivered_conflict),
		cmocka_unit_test(test_window_bounds),
		cmocka_unit_test(test_window_budget),
		cmocka_unit_test(test_window_max_run),
		cmocka_unit_test(test_offsets_past_4g),
		cmocka_unit_test(test_gap_on_peer_ack),
		cmocka_unit_test(test_gap_on_fin_and_flush),
		cmocka_unit_test(test_gap_snaplen),
		cmocka_unit_test(test_ooo_cap),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_run_cap),
		cmocka_unit_test(test_keepalive_and_early),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
