/* COMPRESS=DEFLATE decoding: see imap/inflate.h. */
#include "imap/inflate.h"
#include "util/notice.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define INFLATE_WINDOW_BITS	(-15)	/* raw deflate, 32 KB window (RFC 4978) */
#define INFLATE_IN_PIECE	(1u << 20)	/* input given to zlib at once */

struct inflate_dir {
	z_stream z;
	bool ready;	/* inflateInit2 succeeded */
	bool broken;
};

struct inflate_session {
	struct transport_sink hooks;
	struct mem_budget *budget;
	uint64_t max_total;
	struct inflate_dir dir[2];
	struct inflate_stats st;
	uint8_t out[INFLATE_OUT_CHUNK];
};

/* zlib's allocations go through the run's memory budget; the size is kept
 * in front of each block so that the release matches the charge. */
struct zblock {
	size_t size;
	max_align_t align[];
};

static voidpf inflate_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct mem_budget *mb = opaque;
	struct zblock *b;
	size_t n, total;

	if (!size_mul(items, size, &n) || !size_add(n, sizeof *b, &total))
		return Z_NULL;
	if (mem_charge(mb, total) < 0)
		return Z_NULL;
	b = malloc(total);
	if (b == NULL) {
		mem_release(mb, total);
		return Z_NULL;
	}
	b->size = total;
	return b->align;
}

static void inflate_zfree(voidpf opaque, voidpf p)
{
	struct zblock *b;

	if (p == NULL)
		return;
	b = (struct zblock *)((uint8_t *)p - offsetof(struct zblock, align));
	mem_release(opaque, b->size);
	free(b);
}

#define notice(s, kind, ...) notice_send((s)->hooks.notice, (s)->hooks.ctx, (kind), __VA_ARGS__)

/* Stop decoding direction d: say why (kind: of the notice), and report the
 * undecoded input. */
static void dir_break(struct inflate_session *s, enum stream_dir d, uint64_t lost,
		      int64_t ts, enum notice_kind kind, const char *why)
{
	struct inflate_dir *id = &s->dir[d];

	id->broken = true;
	s->st.broken[d] = true;
	s->st.lost[d] += lost;
	s->st.reported[d] += lost;
	if (id->ready) {
		inflateEnd(&id->z);
		id->ready = false;
	}
	notice(s, kind, "COMPRESS: %s %s; the rest of this direction %s decoded",
	       stream_dir_name(d), why, kind == NOTICE_INFLATE_LIMIT ? "is not" : "cannot be");
	if (s->hooks.gap != NULL)
		s->hooks.gap(s->hooks.ctx, d, lost, ts);
}

struct inflate_session *inflate_new(const struct transport_sink *hooks,
				    uint64_t max_total, struct mem_budget *budget)
{
	struct inflate_session *s;
	int d;

	/* 16 KB of struct besides zlib's own (charged in inflate_zalloc). */
	if (mem_charge(budget, sizeof *s) != 0)
		return NULL;
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		mem_release(budget, sizeof *s);
		return NULL;
	}
	s->hooks = *hooks;
	s->budget = budget;
	s->max_total = max_total ? max_total : INFLATE_DEFAULT_MAX_TOTAL;
	for (d = 0; d < 2; d++) {
		z_stream *z = &s->dir[d].z;

		z->zalloc = inflate_zalloc;
		z->zfree = inflate_zfree;
		z->opaque = budget;
		if (inflateInit2(z, INFLATE_WINDOW_BITS) != Z_OK) {
			inflate_free(&s);
			return NULL;
		}
		s->dir[d].ready = true;
	}
	return s;
}

void inflate_free(struct inflate_session **sp)
{
	struct inflate_session *s;
	int d;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	for (d = 0; d < 2; d++)
		if (s->dir[d].ready)
			inflateEnd(&s->dir[d].z);
	mem_release(s->budget, sizeof *s);
	free(s);
	*sp = NULL;
}

/* Hand on one piece of output, within the direction's limits.  false when
 * a limit stopped the direction.  used: input consumed so far, this piece
 * included. */
static bool emit(struct inflate_session *s, enum stream_dir d, size_t n,
		 uint64_t out_this_call, size_t in_len, uint64_t used, int64_t ts)
{
	uint64_t ratio_cap = (uint64_t)in_len * INFLATE_MAX_RATIO + INFLATE_RATIO_SLACK;
	uint64_t out = s->st.out[d] + n;
	char why[128];

	if (out > s->max_total) {
		snprintf(why, sizeof why, "passed the output limit of %" PRIu64 " bytes (--max-inflate)",
			 s->max_total);
		dir_break(s, d, s->dir[d].z.avail_in, ts, NOTICE_INFLATE_LIMIT, why);
		return false;
	}
	/* out / used > ratio, without a division; used * ratio cannot wrap
	 * (used < 2^54 bytes) */
	if (out > INFLATE_GUARD_AFTER && out / INFLATE_GUARD_RATIO > used) {
		snprintf(why, sizeof why, "inflates %" PRIu64 " bytes from %" PRIu64
			 " (over %d:1, a decompression bomb)", out, used, INFLATE_GUARD_RATIO);
		dir_break(s, d, s->dir[d].z.avail_in, ts, NOTICE_INFLATE_LIMIT, why);
		return false;
	}
	if (out_this_call > ratio_cap) {
		dir_break(s, d, s->dir[d].z.avail_in, ts, NOTICE_COMPRESS_UNDECODABLE,
			  "expands beyond what deflate can (a broken stream)");
		return false;
	}
	s->st.out[d] += n;
	if (n > 0 && s->hooks.data != NULL)
		s->hooks.data(s->hooks.ctx, d, s->out, n, ts);
	return true;
}

/* One piece of input (at most INFLATE_IN_PIECE bytes, so that zlib's
 * 32-bit counters hold it). */
static void inflate_piece(struct inflate_session *s, enum stream_dir d,
			  const uint8_t *p, size_t n, int64_t ts_us)
{
	z_stream *z = &s->dir[d].z;
	uint64_t produced = 0;
	size_t got;
	int rc;

	z->next_in = (Bytef *)(uintptr_t)p;	/* zlib does not write input */
	z->avail_in = (uInt)n;
	do {
		z->next_out = s->out;
		z->avail_out = sizeof s->out;
		rc = inflate(z, Z_SYNC_FLUSH);
		got = sizeof s->out - z->avail_out;
		produced += got;
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
			dir_break(s, d, z->avail_in, ts_us, NOTICE_COMPRESS_UNDECODABLE,
				  z->msg ? z->msg : "is not a deflate stream");
			break;
		}
		if (!emit(s, d, got, produced, n, s->st.used[d] + (n - z->avail_in), ts_us))
			break;
		if (rc == Z_STREAM_END) {
			/* RFC 4978 streams never end, but a final block
			 * at logout is harmless: only bytes after it are
			 * a loss (and later ones find the stream ended) */
			if (z->avail_in > 0)
				dir_break(s, d, z->avail_in, ts_us, NOTICE_COMPRESS_UNDECODABLE,
					  "deflate stream ended early");
			break;
		}
	} while (z->avail_in > 0 || z->avail_out == 0);
	s->st.used[d] += n - z->avail_in;
}

void inflate_feed(struct inflate_session *s, enum stream_dir d, const uint8_t *p,
		  size_t n, int64_t ts_us)
{
	size_t piece;

	s->st.in[d] += n;
	while (n > 0) {
		if (s->dir[d].broken) {
			s->st.lost[d] += n;
			return;
		}
		piece = n < INFLATE_IN_PIECE ? n : INFLATE_IN_PIECE;
		inflate_piece(s, d, p, piece, ts_us);
		p += piece;
		n -= piece;
	}
}

void inflate_gap(struct inflate_session *s, enum stream_dir d, uint64_t nbytes,
		 int64_t ts_us)
{
	char why[64];

	if (s->dir[d].broken) {
		s->st.lost[d] += nbytes;
		return;
	}
	snprintf(why, sizeof why, "lost %" PRIu64 " compressed bytes", nbytes);
	dir_break(s, d, nbytes, ts_us, NOTICE_COMPRESS_UNDECODABLE, why);
}

bool inflate_ok(const struct inflate_session *s, enum stream_dir d)
{
	return !s->dir[d].broken;
}

void inflate_get_stats(const struct inflate_session *s, struct inflate_stats *st_r)
{
	*st_r = s->st;
}

/* --- as a transport layer ------------------------------------------------ */

static void *layer_open(const void *conf, const struct transport_sink *out,
			struct mem_budget *budget)
{
	return inflate_new(out, *(const uint64_t *)conf, budget);
}

static void layer_feed(void *inst, enum stream_dir d, const uint8_t *p, size_t n,
		       int64_t ts_us)
{
	inflate_feed(inst, d, p, n, ts_us);
}

/* The first loss of a direction is a gap of the inflated stream (and a
 * notice); after it there is no inflated stream to put a gap in. */
static void layer_gap(void *inst, enum stream_dir d, uint64_t nbytes, int64_t ts_us)
{
	struct inflate_session *s = inst;

	if (!s->dir[d].broken)
		inflate_gap(s, d, nbytes, ts_us);
	else if (s->hooks.lost != NULL)
		s->hooks.lost(s->hooks.ctx, d, nbytes, ts_us);
}

/* Compressed bytes that came after a direction stopped were only counted:
 * said now, as the TLS layer says its dead bytes, so that the loss is in
 * the summary. */
static void layer_end(void *inst, int64_t ts_us)
{
	struct inflate_session *s = inst;

	for (int d = DIR_C2S; d <= DIR_S2C; d++) {
		uint64_t unsaid = s->st.lost[d] - s->st.reported[d];

		if (s->st.lost[d] > s->st.reported[d] && s->hooks.lost != NULL)
			s->hooks.lost(s->hooks.ctx, (enum stream_dir)d, unsaid, ts_us);
		s->st.reported[d] = s->st.lost[d];
	}
}

static void layer_free(void *inst)
{
	struct inflate_session *s = inst;

	inflate_free(&s);
}

const struct transport_layer_ops inflate_layer_ops = {
	.open = layer_open,
	.sniff = NULL,
	.feed = layer_feed,
	.gap = layer_gap,
	.end = layer_end,
	.free = layer_free,
};
