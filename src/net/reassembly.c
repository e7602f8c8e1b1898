/* One direction of a TCP stream: see net/reassembly.h for the policy.
 *
 * The out-of-order queue is a doubly linked list of non-overlapping byte
 * runs sorted by offset, with head->start > next at rest.  Segments mostly
 * arrive in ascending order, so an insertion usually appends at the tail in
 * O(1); REASM_MAX_RUNS bounds the walk in every other case. */
#include "net/reassembly.h"

#include <stdlib.h>
#include <string.h>

#define SEQ_HALF 0x80000000u
#define SEQ_SPAN 0x100000000LL

struct reasm_node {
	struct reasm_node *prev, *next;
	int64_t start;
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
	return r;
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

static void emit(struct reasm *r, const uint8_t *p, size_t n, int64_t ts)
{
	if (n == 0)
		return;
	r->out.data(r->out.ctx, (uint64_t)r->next, p, n, ts);
	r->next += (int64_t)n;
	r->st.delivered += n;
}

static void emit_gap(struct reasm *r, int64_t n, int64_t ts)
{
	if (n <= 0)
		return;
	r->out.gap(r->out.ctx, (uint64_t)r->next, (uint64_t)n, ts);
	r->next += n;
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

			emit(r, h->data + skip, h->len - skip, ts);
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

static uint64_t count_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t d = 0;
	size_t i;

	if (memcmp(a, b, n) == 0)
		return 0;
	for (i = 0; i < n; i++)
		d += a[i] != b[i];
	return d;
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
			emit(r, p, n, ts);
			break;
		}
		if (h->start > r->next) {
			k = (size_t)(h->start - r->next);
			emit(r, p, k, ts);
			p += k;
			n -= k;
		}
		/* h->start == next: the queued copy wins for its length. */
		k = n < h->len ? n : h->len;
		r->st.retransmitted += k;
		r->st.overlap_conflicts += count_diff(p, h->data, k);
		p += k;
		n -= k;
		node_unlink(r, h);
		emit(r, h->data, h->len, ts);
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
			 size_t n)
{
	int64_t cur = off, end = off + (int64_t)n;
	struct reasm_node *q;

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
		r->st.overlap_conflicts += count_diff(p + (cur - off),
						      q->data + (cur - q->start),
						      (size_t)(ov_end - cur));
		cur = ov_end;
	}
	if (cur < end)
		node_add(r, q, cur, p + (cur - off), (size_t)(end - cur));
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
			queue_insert(r, off, p, n);
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
