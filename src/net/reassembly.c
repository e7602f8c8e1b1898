/* One direction of a TCP stream: see net/reassembly.h for the policy.
 *
 * The out-of-order queue is a doubly linked list of non-overlapping byte
 * runs sorted by offset, with head->start > next at rest.  Segments mostly
 * arrive in ascending order, so an insertion usually appends at the tail in
 * O(1); REASM_MAX_RUNS bounds the walk in every other case. */
#include "net/reassembly.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEQ_HALF 0x80000000u
#define SEQ_SPAN 0x100000000LL

struct reasm_node {
	struct reasm_node *prev, *next;
	int64_t start;
	uint64_t frame;		/* the record the bytes came in */
	uint32_t len;
	uint8_t data[];
};

struct reasm {
	struct reasm_config cfg;
	struct reasm_out out;
	struct reasm_stats st;
	bool started;
	bool fin_seen;
	uint32_t base_seq;	/* the sequence number of offset 0 */
	int64_t next;		/* offset of the next byte to hand up */
	int64_t fin_off;	/* offset of the FIN, if fin_seen */
	struct reasm_node *head, *tail;
	size_t queued;		/* payload bytes in the queue */
	size_t runs;		/* nodes in the queue */
	uint8_t *win;		/* delivered byte at offset o: win[o & (win_cap-1)] */
	size_t win_cap;		/* a power of two; 0 before the first byte */
	size_t win_max;		/* win_cap grows no further */
	int64_t win_from;	/* first offset recorded since the last gap */
};

/* What a comparison of a later copy with the first one found. */
struct diff {
	uint64_t count;
	int64_t first, last;
};

struct reasm *reasm_new(const struct reasm_config *cfg,
			const struct reasm_out *out)
{
	struct reasm *r;

	if (mem_charge(cfg->budget, sizeof *r) != 0)
		return NULL;
	r = calloc(1, sizeof *r);
	if (r == NULL) {
		mem_release(cfg->budget, sizeof *r);
		return NULL;
	}
	r->cfg = *cfg;
	r->out = *out;
	r->win_max = cfg->window == 0 ? REASM_WINDOW : cfg->window;
	if (r->win_max < REASM_WINDOW_MIN)
		r->win_max = 0;
	while ((r->win_max & (r->win_max - 1)) != 0)
		r->win_max &= r->win_max - 1;	/* down to a power of two */
	return r;
}

/* The record of the segment or ACK being read. */
static uint64_t cur_frame(const struct reasm *r)
{
	return r->cfg.frame_src != NULL ? *r->cfg.frame_src : 0;
}

static size_t node_size(uint32_t len)
{
	return sizeof(struct reasm_node) + len;
}

static void node_unlink(struct reasm *r, struct reasm_node *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		r->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		r->tail = n->prev;
	r->queued -= n->len;
	r->runs--;
}

static void node_free(struct reasm *r, struct reasm_node *n)
{
	mem_release(r->cfg.budget, node_size(n->len));
	free(n);
}

void reasm_free(struct reasm **rp)
{
	struct reasm *r = *rp;
	struct reasm_node *n, *nx;

	if (r == NULL)
		return;
	for (n = r->head; n != NULL; n = nx) {
		nx = n->next;
		node_free(r, n);
	}
	mem_release(r->cfg.budget, r->win_cap);
	free(r->win);
	mem_release(r->cfg.budget, sizeof *r);
	free(r);
	*rp = NULL;
}

static void start_at(struct reasm *r, uint32_t seq)
{
	r->started = true;
	r->base_seq = seq;
	r->next = 0;
}

void reasm_syn(struct reasm *r, uint32_t seq)
{
	if (!r->started)
		start_at(r, seq + 1);
}

/* Place seq within +-2^31 of the next expected byte: that is how TCP itself
 * reads sequence numbers, and it makes wrap-around invisible. */
static int64_t seq_to_off(const struct reasm *r, uint32_t seq)
{
	uint32_t ref = r->base_seq + (uint32_t)r->next;
	uint32_t d = seq - ref;

	return r->next + (d < SEQ_HALF ? (int64_t)d : (int64_t)d - SEQ_SPAN);
}

/* ---- the window of delivered bytes ---- */

/* Where the window's valid bytes begin: it holds [win_lo, next). */
static int64_t win_lo(const struct reasm *r)
{
	int64_t lo = r->next - (int64_t)r->win_cap;

	return lo > r->win_from ? lo : r->win_from;
}

/* The n <= cap ring bytes at stream offset off: one or two pieces. */
struct ring_span {
	const uint8_t *p[2];
	size_t n[2];
};

static struct ring_span ring_at(const uint8_t *ring, size_t cap, int64_t off,
				size_t n)
{
	size_t at = (size_t)off & (cap - 1);
	size_t k = n < cap - at ? n : cap - at;
	struct ring_span sp = { { ring + at, ring }, { k, n - k } };

	return sp;
}

static void ring_put(uint8_t *ring, size_t cap, int64_t off,
		     const uint8_t *p, size_t n)
{
	struct ring_span sp = ring_at(ring, cap, off, n);

	memcpy((uint8_t *)sp.p[0], p, sp.n[0]);
	memcpy((uint8_t *)sp.p[1], p + sp.n[0], sp.n[1]);
}

/* The bytes the window may still take from the budget: it is an aid, not
 * data, so it takes no more than would leave the budget a quarter spent
 * (at half, the sessions of a flood under a tight --max-memory lost
 * commands to it), and the budget's refusals keep meaning lost data. */
static size_t win_room(const struct mem_budget *mb)
{
	if (mb == NULL || mb->limit == 0)
		return SIZE_MAX;
	return mb->used < mb->limit / 4 ? mb->limit / 4 - mb->used : 0;
}

/* Grow the window towards want bytes, as far as the budget allows; where
 * it cannot grow, it stays at its size for good. */
static void win_grow(struct reasm *r, size_t want)
{
	struct mem_budget *mb = r->cfg.budget;
	size_t cap = r->win_cap != 0 ? r->win_cap : REASM_WINDOW_MIN;
	size_t room = win_room(mb);
	uint8_t *w;
	int64_t lo;

	while (cap < want && cap < r->win_max)
		cap *= 2;
	while (cap > r->win_cap && cap - r->win_cap > room)
		cap /= 2;
	if (cap <= r->win_cap || cap < REASM_WINDOW_MIN ||
	    mem_charge(mb, cap - r->win_cap) != 0) {
		r->win_max = r->win_cap;
		return;
	}
	w = malloc(cap);
	if (w == NULL) {
		mem_release(mb, cap - r->win_cap);
		r->win_max = r->win_cap;
		return;
	}
	lo = win_lo(r);
	if (r->win_cap != 0 && lo < r->next) {
		struct ring_span sp = ring_at(r->win, r->win_cap, lo,
					      (size_t)(r->next - lo));

		ring_put(w, cap, lo, sp.p[0], sp.n[0]);
		ring_put(w, cap, lo + (int64_t)sp.n[0], sp.p[1], sp.n[1]);
	}
	free(r->win);
	r->win = w;
	r->win_cap = cap;
}

/* Keep the n bytes about to be delivered at next. */
static void win_record(struct reasm *r, const uint8_t *p, size_t n)
{
	int64_t off = r->next;

	if (r->win_cap < r->win_max) {
		uint64_t want = (uint64_t)(r->next - r->win_from) + n;

		if (want > r->win_cap)
			win_grow(r, want < r->win_max ? (size_t)want : r->win_max);
	}
	if (r->win_cap == 0)
		return;
	if (n > r->win_cap) {
		off += (int64_t)(n - r->win_cap);
		p += n - r->win_cap;
		n = r->win_cap;
	}
	ring_put(r->win, r->win_cap, off, p, n);
}

static void diff_add(struct diff *d, int64_t off, const uint8_t *later,
		     const uint8_t *first, size_t n)
{
	size_t i;

	if (n == 0 || memcmp(later, first, n) == 0)
		return;
	for (i = 0; i < n; i++) {
		if (later[i] == first[i])
			continue;
		if (d->count == 0)
			d->first = off + (int64_t)i;
		d->last = off + (int64_t)i;
		d->count++;
	}
}

static void diff_report(struct reasm *r, const struct diff *d, int64_t ts)
{
	if (d->count == 0)
		return;
	r->st.overlap_conflicts += d->count;
	r->st.conflicts++;
	if (r->out.conflict != NULL)
		r->out.conflict(r->out.ctx, (uint64_t)d->first,
				(uint64_t)(d->last - d->first + 1), ts);
}

/* A later copy of n delivered bytes at off (< next): compared with the
 * window where it still holds them. */
static void win_compare(struct reasm *r, int64_t off, const uint8_t *p,
			size_t n, int64_t ts)
{
	int64_t lo = win_lo(r);
	struct diff d = { 0, 0, 0 };
	struct ring_span sp;

	if (off < lo) {
		size_t k = lo - off < (int64_t)n ? (size_t)(lo - off) : n;

		r->st.unchecked += k;
		off += (int64_t)k;
		p += k;
		n -= k;
	}
	if (n == 0)
		return;
	sp = ring_at(r->win, r->win_cap, off, n);
	diff_add(&d, off, p, sp.p[0], sp.n[0]);
	diff_add(&d, off + (int64_t)sp.n[0], p + sp.n[0], sp.p[1], sp.n[1]);
	diff_report(r, &d, ts);
}

static void emit(struct reasm *r, const uint8_t *p, size_t n, int64_t ts,
		 uint64_t frame)
{
	if (n == 0)
		return;
	if (r->cfg.frame_out != NULL)
		*r->cfg.frame_out = frame;
	if (r->win_max != 0) {
		if (r->cfg.window_max_run != 0 && n > r->cfg.window_max_run)
			r->win_from = r->next + (int64_t)n;
		else
			win_record(r, p, n);
	}
	r->out.data(r->out.ctx, (uint64_t)r->next, p, n, ts);
	r->next += (int64_t)n;
	r->st.delivered += n;
}

static void emit_gap(struct reasm *r, int64_t n, int64_t ts)
{
	if (n <= 0)
		return;
	if (r->cfg.frame_out != NULL)
		*r->cfg.frame_out = cur_frame(r);
	r->out.gap(r->out.ctx, (uint64_t)r->next, (uint64_t)n, ts);
	r->next += n;
	r->win_from = r->next;	/* the window holds no hole */
	r->st.gaps++;
	r->st.gap_bytes += (uint64_t)n;
}

/* Hand up every queued run that now touches next. */
static void drain(struct reasm *r, int64_t ts)
{
	struct reasm_node *h;

	while ((h = r->head) != NULL && h->start <= r->next) {
		int64_t end = h->start + h->len;

		node_unlink(r, h);
		if (end > r->next) {
			size_t skip = (size_t)(r->next - h->start);

			emit(r, h->data + skip, h->len - skip, ts, h->frame);
		}
		node_free(r, h);
	}
}

/* Everything before limit is final: deliver what is queued, gap the rest. */
static void flush_to(struct reasm *r, int64_t limit, int64_t ts)
{
	drain(r, ts);
	while (r->next < limit) {
		struct reasm_node *h = r->head;

		if (h != NULL && h->start < limit) {
			emit_gap(r, h->start - r->next, ts);
			drain(r, ts);
		} else {
			emit_gap(r, limit - r->next, ts);
		}
	}
	drain(r, ts);	/* a run may start right at limit */
}

/* Payload at next: straight from the packet, except where queued bytes
 * (an earlier copy) already cover it — first copy wins. */
static void deliver_inorder(struct reasm *r, const uint8_t *p, size_t n,
			    int64_t ts)
{
	while (n > 0) {
		struct reasm_node *h = r->head;
		size_t k;

		if (h == NULL || h->start >= r->next + (int64_t)n) {
			emit(r, p, n, ts, cur_frame(r));
			break;
		}
		if (h->start > r->next) {
			k = (size_t)(h->start - r->next);
			emit(r, p, k, ts, cur_frame(r));
			p += k;
			n -= k;
		}
		/* h->start == next: the queued copy wins for its length. */
		k = n < h->len ? n : h->len;
		r->st.retransmitted += k;
		{
			struct diff d = { 0, 0, 0 };

			diff_add(&d, h->start, p, h->data, k);
			diff_report(r, &d, ts);
		}
		p += k;
		n -= k;
		node_unlink(r, h);
		emit(r, h->data, h->len, ts, h->frame);
		node_free(r, h);
	}
	drain(r, ts);
}

/* Copy [start, start+len) into a new run linked before q (NULL: at the
 * tail).  Out of memory or budget: the bytes are dropped and counted. */
static void node_add(struct reasm *r, struct reasm_node *q, int64_t start,
		     const uint8_t *p, size_t len)
{
	struct reasm_node *n;

	if (mem_charge(r->cfg.budget, node_size((uint32_t)len)) != 0) {
		r->st.ooo_dropped += len;
		return;
	}
	n = malloc(node_size((uint32_t)len));
	if (n == NULL) {
		mem_release(r->cfg.budget, node_size((uint32_t)len));
		r->st.ooo_dropped += len;
		return;
	}
	n->start = start;
	n->frame = cur_frame(r);
	n->len = (uint32_t)len;
	memcpy(n->data, p, len);
	n->next = q;
	n->prev = q != NULL ? q->prev : r->tail;
	if (n->prev != NULL)
		n->prev->next = n;
	else
		r->head = n;
	if (q != NULL)
		q->prev = n;
	else
		r->tail = n;
	r->queued += len;
	r->runs++;
}

/* Queue [off, off+n) around the runs already there: only the parts not yet
 * covered are copied (first copy wins), overlaps are compared. */
static void queue_insert(struct reasm *r, int64_t off, const uint8_t *p,
			 size_t n, int64_t ts)
{
	int64_t cur = off, end = off + (int64_t)n;
	struct reasm_node *q;
	struct diff d = { 0, 0, 0 };

	if (r->tail == NULL || r->tail->start + r->tail->len <= off) {
		node_add(r, NULL, off, p, n);
		return;
	}
	for (q = r->head; q != NULL && cur < end; q = q->next) {
		int64_t qend = q->start + q->len, ov_end;

		if (qend <= cur)
			continue;
		if (q->start >= end)
			break;
		if (q->start > cur) {
			node_add(r, q, cur, p + (cur - off),
				 (size_t)(q->start - cur));
			cur = q->start;
		}
		ov_end = end < qend ? end : qend;
		r->st.retransmitted += (uint64_t)(ov_end - cur);
		diff_add(&d, cur, p + (cur - off), q->data + (cur - q->start),
			 (size_t)(ov_end - cur));
		cur = ov_end;
	}
	if (cur < end)
		node_add(r, q, cur, p + (cur - off), (size_t)(end - cur));
	diff_report(r, &d, ts);
}

/* Present payload at off: trim what lies before offset 0 or was already
 * handed up, then deliver or queue it.  When the queue is full the first
 * hole is declared a gap, which may make this very segment in-order. */
static void take_data(struct reasm *r, int64_t off, const uint8_t *p,
		      size_t n, int64_t ts)
{
	for (;;) {
		size_t skip, room;
		int64_t first;

		if (n == 0)
			return;
		if (off < 0) {
			skip = (uint64_t)-off < n ? (size_t)-off : n;
			r->st.early_bytes += skip;
			off += (int64_t)skip;
			p += skip;
			n -= skip;
			continue;
		}
		if (off < r->next) {
			skip = (uint64_t)(r->next - off) < n ?
				(size_t)(r->next - off) : n;
			r->st.retransmitted += skip;
			win_compare(r, off, p, skip, ts);
			off += (int64_t)skip;
			p += skip;
			n -= skip;
			continue;
		}
		if (off == r->next) {
			deliver_inorder(r, p, n, ts);
			return;
		}
		room = r->cfg.max_ooo_bytes > r->queued ?
			r->cfg.max_ooo_bytes - r->queued : 0;
		/* A segment adds at most one run per queued run it spans, so
		 * the queue stays under twice REASM_MAX_RUNS. */
		if (n <= room && r->runs < REASM_MAX_RUNS) {
			queue_insert(r, off, p, n, ts);
			return;
		}
		first = r->head != NULL && r->head->start < off ?
			r->head->start : off;
		r->st.pressure_gaps++;
		if (n <= room)
			r->st.runs_full++;
		flush_to(r, first, ts);
	}
}

void reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *payload,
		   uint32_t paylen, uint32_t missing, bool fin, int64_t ts_us)
{
	int64_t off, present_end, end;

	if (!r->started) {
		if (paylen == 0 && missing == 0 && !fin)
			return;
		start_at(r, seq);
	}
	off = seq_to_off(r, seq);
	if (!fin && (uint64_t)paylen + missing <= 1 && off == r->next - 1) {
		r->st.keepalives++;
		return;
	}
	if (paylen > 0)
		r->st.segments++;
	present_end = off + paylen;
	end = present_end + missing;
	take_data(r, off, payload, paylen, ts_us);
	/* The snap length cut the tail of a segment that is in place: those
	 * bytes crossed the wire but will not be in any later packet. */
	if (missing > 0 && r->next >= present_end)
		flush_to(r, end, ts_us);
	if (fin && !r->fin_seen && end >= r->next) {
		r->fin_seen = true;
		r->fin_off = end;
		flush_to(r, end, ts_us);
	}
}

void reasm_peer_ack(struct reasm *r, uint32_t ack, int64_t ts_us)
{
	int64_t a;

	if (!r->started) {
		start_at(r, ack);
		return;
	}
	a = seq_to_off(r, ack);
	if (r->fin_seen && a > r->fin_off)
		a = r->fin_off;	/* the FIN takes a sequence number, no byte */
	if (a <= r->next || a - r->next > REASM_MAX_ACK_JUMP)
		return;
	flush_to(r, a, ts_us);
}

void reasm_flush(struct reasm *r, int64_t ts_us)
{
	int64_t limit = r->next;

	if (r->tail != NULL)
		limit = r->tail->start + r->tail->len;
	if (r->fin_seen && r->fin_off > limit)
		limit = r->fin_off;
	flush_to(r, limit, ts_us);
}

bool reasm_started(const struct reasm *r)
{
	return r->started;
}

bool reasm_done(const struct reasm *r)
{
	return r->fin_seen && r->next >= r->fin_off;
}

uint64_t reasm_next_offset(const struct reasm *r)
{
	return (uint64_t)r->next;
}

size_t reasm_queued(const struct reasm *r)
{
	return r->queued;
}

const struct reasm_stats *reasm_stats(const struct reasm *r)
{
	return &r->st;
}
