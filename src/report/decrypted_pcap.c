/* --write-decrypted: the sessions' final streams as plaintext TCP in a pcap
 * file (see report/decrypted_pcap.h). */
#include "report/decrypted_pcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/hashtab.h"
#include "util/list.h"
#include "util/outdir.h"

#define DPCAP_BUCKETS_MIN 64

#define PCAP_MAGIC_US 0xa1b2c3d4u	/* microsecond timestamps */
#define PCAP_FILE_HDR 24
#define PCAP_REC_HDR 16
#define ETH_HDR 14
#define IP4_HDR 20
#define IP6_HDR 40
#define TCP_HDR 20
#define TCP_OPT_MSS 4			/* kind 2, length 4, the MSS: on SYNs */
#define DPCAP_MSS_MAX DPCAP_MSS_V4
#define DPCAP_REC_MAX (PCAP_REC_HDR + ETH_HDR + IP6_HDR + TCP_HDR + TCP_OPT_MSS + DPCAP_MSS_MAX)
#define IP_TTL 64

enum { TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_PSH = 0x08, TCP_ACK = 0x10 };

/* One direction of a session as written. */
struct dpcap_dir {
	uint32_t seq;		/* the next sequence number it sends */
	uint32_t acked;		/* the highest the other side acknowledged */
	uint16_t ip_id;
	bool lf;		/* a line end was tapped: its first line is judged
				   by the time anything else comes */
	bool judged;		/* the session has had its say on this direction */
};

/* Whether a session's packets may go to the file. */
enum dpcap_verdict {
	VERDICT_PENDING,	/* not yet known to be IMAP: its packets wait */
	VERDICT_WRITE,
	VERDICT_DROP,		/* not IMAP: its packets are thrown away */
};

struct dpcap_session {
	uint64_t id;
	struct dpcap_endpoint ep[2];	/* the sender of each direction */
	struct dpcap_dir d[2];
	int64_t last_ts;
	enum dpcap_verdict verdict;
	bool ended;			/* freed once no packet of it waits */
	bool muted;			/* written, then found not IMAP: no more data */
	size_t queued;			/* its packets in the queue */
	struct list_node link;		/* in sessions, while open */
	struct hashtab_node hnode;	/* in by_id, while open */
};

/* A packet in the queue: this, then its pcap record. */
struct queued_rec {
	struct dpcap_session *s;
	size_t len;
};

/* The segment being filled: the chunks of one packet (the session taps a
 * line at a time) go out together. */
struct dpcap_seg {
	struct dpcap_session *s;	/* NULL: empty */
	enum stream_dir dir;
	int64_t ts;
	size_t len;
	uint8_t data[DPCAP_MSS_MAX];
};

/* Packets go to the file in the order they are made, which is the order
 * of the capture.  While a session waits for its verdict, its packets, and
 * every packet made after its first, wait in the queue; a verdict lets the
 * queue's head go (written or thrown away). */
struct dpcap {
	int fd;
	bool own_fd;			/* not standard output */
	bool failed;
	char err[DPCAP_ERRLEN];
	char path[256];
	struct mem_budget *budget;
	uint8_t *obuf;			/* obuf_heap, or one for a packet at a time */
	size_t olen, ocap;
	uint8_t *obuf_heap;		/* charged to budget */
	struct buf queue;		/* struct queued_rec + record, ... */
	struct dpcap_seg seg;
	struct list_head sessions;
	struct hashtab by_id;		/* its first array is not charged */
	struct dpcap_stats st;
	uint8_t one[DPCAP_REC_MAX];	/* the output buffer the budget refused */
};

/* --- output ------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* pcap headers are in the writer's byte order; little-endian always, so
 * that one run's file is the same on every machine. */
static void put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void dpcap_fail(struct dpcap *w)
{
	if (!w->failed)
		snprintf(w->err, sizeof w->err, "%.300s: write failed: %.150s", w->path,
			 strerror(errno));
	w->failed = true;
}

static void out_flush(struct dpcap *w)
{
	if (w->olen > 0 && !w->failed && outdir_write_all(w->fd, w->obuf, w->olen) != 0)
		dpcap_fail(w);
	w->olen = 0;
}

/* The Internet checksum's running sum (RFC 1071) over p[0..n). */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i += 4)
		sum += (uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
		       (uint32_t)p[i + 2] << 8 | p[i + 3];
	for (; i + 2 <= n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < n)
		sum += (uint32_t)p[i] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The IP header at p for a TCP segment of tcp_len bytes; returns its
 * length and the pseudo-header's sum for the TCP checksum. */
static size_t put_ip(uint8_t *p, const struct dpcap_endpoint *src,
		     const struct dpcap_endpoint *dst, uint16_t id, size_t tcp_len,
		     uint64_t *pseudo_r)
{
	uint8_t ph[4];

	if (src->af == 6) {
		put32(p, 0x60000000u);
		put16(p + 4, (uint16_t)tcp_len);
		p[6] = 6;	/* TCP */
		p[7] = IP_TTL;
		memcpy(p + 8, src->addr, 16);
		memcpy(p + 24, dst->addr, 16);
		put32(ph, (uint32_t)tcp_len);
		*pseudo_r = csum_add(csum_add(0, p + 8, 32), ph, 4) + 6;
		return IP6_HDR;
	}
	p[0] = 0x45;
	p[1] = 0;
	put16(p + 2, (uint16_t)(IP4_HDR + tcp_len));
	put16(p + 4, id);
	put16(p + 6, 0x4000);	/* don't fragment */
	p[8] = IP_TTL;
	p[9] = 6;
	put16(p + 10, 0);
	memcpy(p + 12, src->addr, 4);
	memcpy(p + 16, dst->addr, 4);
	put16(p + 10, csum_fold(csum_add(0, p, IP4_HDR)));
	*pseudo_r = csum_add(0, p + 12, 8) + 6 + tcp_len;
	return IP4_HDR;
}

static size_t session_mss(const struct dpcap_session *s)
{
	return s->ep[0].af == 6 ? DPCAP_MSS_V6 : DPCAP_MSS_V4;
}

/* --- the queue ---------------------------------------------------------- */

static void session_free(struct dpcap *w, struct dpcap_session *s);
static void session_release(struct dpcap *w, struct dpcap_session *s);

/* A record goes to the file. */
static void out_record(struct dpcap *w, const uint8_t *rec, size_t len)
{
	if (w->ocap - w->olen < len)
		out_flush(w);
	memcpy(w->obuf + w->olen, rec, len);
	w->olen += len;
	w->st.packets++;
}

/* The queue's head goes as far as verdicts allow: the packets of sessions
 * to write to the file, those of sessions not IMAP nowhere. */
static void queue_drain(struct dpcap *w)
{
	size_t off = 0;

	while (off < w->queue.len) {
		struct queued_rec q;

		memcpy(&q, w->queue.data + off, sizeof q);
		if (q.s->verdict == VERDICT_PENDING)
			break;
		if (q.s->verdict == VERDICT_WRITE)
			out_record(w, w->queue.data + off + sizeof q, q.len);
		off += sizeof q + q.len;
		if (--q.s->queued == 0 && q.s->ended)
			session_free(w, q.s);
	}
	buf_consume(&w->queue, off);
}

/* The queue is full (DPCAP_QUEUE_MAX, or the budget): the session at its
 * head waited long enough and is written as IMAP.  Whether the queue went
 * anywhere. */
static bool queue_force(struct dpcap *w)
{
	struct queued_rec q;

	if (w->queue.len == 0)
		return false;
	memcpy(&q, w->queue.data, sizeof q);
	if (q.s->verdict == VERDICT_PENDING)
		session_release(w, q.s);
	else
		queue_drain(w);	/* cannot be: a verdict drains at once */
	return true;
}

/* Where the next packet of s is made: the output buffer when nothing
 * waits before it, else the queue.  rec_r: room for DPCAP_REC_MAX bytes. */
static uint8_t *rec_room(struct dpcap *w, struct dpcap_session *s, bool *queued_r)
{
	uint8_t *room;

	for (;;) {
		if (w->queue.len == 0 && s->verdict != VERDICT_PENDING) {
			*queued_r = false;
			if (w->ocap - w->olen < DPCAP_REC_MAX)
				out_flush(w);
			return w->obuf + w->olen;
		}
		room = buf_reserve(&w->queue, sizeof(struct queued_rec) + DPCAP_REC_MAX);
		if (room != NULL) {
			*queued_r = true;
			return room + sizeof(struct queued_rec);
		}
		if (!queue_force(w))
			session_release(w, s);	/* no room to wait at all */
	}
}

static void rec_commit(struct dpcap *w, struct dpcap_session *s, bool queued, size_t len)
{
	struct queued_rec q = { s, len };

	if (!queued) {
		w->olen += len;
		w->st.packets++;
		return;
	}
	memcpy(w->queue.data + w->queue.len, &q, sizeof q);
	buf_commit(&w->queue, sizeof q + len);
	s->queued++;
}

/* --- packets ------------------------------------------------------------ */

/* One packet of dir: flags, n payload bytes (at most the MSS), at ts. */
static void emit(struct dpcap *w, struct dpcap_session *s, enum stream_dir dir,
		 uint8_t flags, const uint8_t *payload, size_t n, int64_t ts)
{
	struct dpcap_dir *d = &s->d[dir], *o = &s->d[!dir];
	size_t tcp_hdr = TCP_HDR + (flags & TCP_SYN ? TCP_OPT_MSS : 0), ip_len, len;
	bool queued;
	uint8_t *rec = rec_room(w, s, &queued), *eth = rec + PCAP_REC_HDR, *tcp;
	uint64_t sum;

	if (ts < s->last_ts)
		ts = s->last_ts;	/* a flow's time never runs back */
	s->last_ts = ts;
	if (ts < 0)
		ts = 0;
	/* made-up, locally administered MACs: 02:00:00:00:00:01 the client */
	memset(eth, 0, 12);
	eth[0] = eth[6] = 0x02;
	eth[5] = dir == DIR_C2S ? 2 : 1;
	eth[11] = dir == DIR_C2S ? 1 : 2;
	put16(eth + 12, s->ep[dir].af == 6 ? 0x86dd : 0x0800);
	ip_len = put_ip(eth + ETH_HDR, &s->ep[dir], &s->ep[!dir], d->ip_id++, tcp_hdr + n, &sum);
	tcp = eth + ETH_HDR + ip_len;
	put16(tcp, s->ep[dir].port);
	put16(tcp + 2, s->ep[!dir].port);
	put32(tcp + 4, d->seq);
	put32(tcp + 8, flags & TCP_ACK ? o->seq : 0);
	tcp[12] = (uint8_t)((tcp_hdr / 4) << 4);
	tcp[13] = flags;
	put16(tcp + 14, DPCAP_WINDOW);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	if (flags & TCP_SYN) {
		tcp[20] = 2;
		tcp[21] = 4;
		put16(tcp + 22, (uint16_t)session_mss(s));
	}
	if (n > 0)
		memcpy(tcp + tcp_hdr, payload, n);
	put16(tcp + 16, csum_fold(csum_add(sum, tcp, tcp_hdr + n)));
	len = ETH_HDR + ip_len + tcp_hdr + n;
	put32le(rec, (uint32_t)(ts / 1000000));
	put32le(rec + 4, (uint32_t)(ts % 1000000));
	put32le(rec + 8, (uint32_t)len);
	put32le(rec + 12, (uint32_t)len);
	rec_commit(w, s, queued, PCAP_REC_HDR + len);
	d->seq += (uint32_t)n + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
	if (flags & TCP_ACK)
		o->acked = o->seq;
}

/* The receiver acknowledges what dir sent, as a real one would before
 * its window filled. */
static void maybe_ack(struct dpcap *w, struct dpcap_session *s, enum stream_dir dir, int64_t ts)
{
	if (s->d[dir].seq - s->d[dir].acked >= DPCAP_ACK_EVERY)
		emit(w, s, (enum stream_dir)!dir, TCP_ACK, NULL, 0, ts);
}

static void seg_flush(struct dpcap *w, bool push)
{
	struct dpcap_seg *g = &w->seg;
	struct dpcap_session *s = g->s;

	if (s == NULL)
		return;
	g->s = NULL;
	if (g->len > 0) {
		emit(w, s, g->dir, TCP_ACK | (push ? TCP_PSH : 0), g->data, g->len, g->ts);
		maybe_ack(w, s, g->dir, g->ts);
	}
	g->len = 0;
}

/* Final bytes, cut into segments of at most the MSS. */
static void put_bytes(struct dpcap *w, struct dpcap_session *s, enum stream_dir dir,
		      const uint8_t *p, size_t n, int64_t ts)
{
	struct dpcap_seg *g = &w->seg;
	size_t mss = session_mss(s);

	if (g->s != NULL && (g->s != s || g->dir != dir || g->ts != ts))
		seg_flush(w, true);
	while (n > 0) {
		size_t take = mss - g->len < n ? mss - g->len : n;

		g->s = s;
		g->dir = dir;
		g->ts = ts;
		memcpy(g->data + g->len, p, take);
		g->len += take;
		p += take;
		n -= take;
		if (g->len == mss)
			seg_flush(w, n == 0);
	}
}

/* Lost bytes: the sequence number jumps over them, and the receiver
 * acknowledges the hole at once, as it did when it had them: a reader
 * (imapscope's reassembly, for one) then knows the hole for a gap at the
 * time the session found it, not at the next segment. */
static void put_gap(struct dpcap *w, struct dpcap_session *s, enum stream_dir dir,
		    uint64_t nbytes, int64_t ts)
{
	seg_flush(w, true);
	s->d[dir].seq += (uint32_t)nbytes;
	emit(w, s, (enum stream_dir)!dir, TCP_ACK, NULL, 0, ts);
	if (s->verdict != VERDICT_DROP) {
		w->st.gaps++;
		w->st.gap_bytes += nbytes;
	}
}

/* --- sessions ----------------------------------------------------------- */

static uint64_t dpcap_hash(struct dpcap *w, uint64_t id)
{
	return hashtab_hash(&w->by_id, &id, sizeof id);
}

static struct dpcap_session *dpcap_find(struct dpcap *w, uint64_t id)
{
	uint64_t h;
	struct hashtab_node *n;

	if (w->seg.s != NULL && w->seg.s->id == id)
		return w->seg.s;	/* the lines of one packet come in a row */
	h = dpcap_hash(w, id);
	for (n = hashtab_first(&w->by_id, h); n != NULL; n = hashtab_next(n, h)) {
		struct dpcap_session *s = HASHTAB_ENTRY(n, struct dpcap_session, hnode);

		if (s->id == id)
			return s;
	}
	return NULL;
}

/* The session is IMAP (or waited too long to be judged): its packets go. */
static void session_release(struct dpcap *w, struct dpcap_session *s)
{
	if (s->verdict != VERDICT_PENDING)
		return;
	s->verdict = VERDICT_WRITE;
	w->st.sessions++;
	queue_drain(w);
}

/* Whether the session has judged both first lines: a direction is judged
 * once a line end of it was tapped and the session went on. */
static bool session_judged(struct dpcap_session *s)
{
	s->d[DIR_C2S].judged |= s->d[DIR_C2S].lf;
	s->d[DIR_S2C].judged |= s->d[DIR_S2C].lf;
	return s->d[DIR_C2S].judged && s->d[DIR_S2C].judged;
}

static void session_free(struct dpcap *w, struct dpcap_session *s)
{
	free(s);
	mem_release(w->budget, sizeof *s);
}

static void put_endpoint(struct dpcap_endpoint *to, const struct dpcap_endpoint *from)
{
	*to = *from;
	if (to->af != 6) {
		to->af = 4;
		memset(to->addr + 4, 0, 12);
	}
}

void dpcap_open(struct dpcap *w, uint64_t session, const struct dpcap_endpoint *client,
		const struct dpcap_endpoint *server, bool mid_stream, int64_t first_ts_us)
{
	struct dpcap_session *s;
	uint32_t isn = (uint32_t)(session * 2654435761u);	/* any will do: spread */

	if (mem_charge(w->budget, sizeof *s) != 0) {
		w->st.untracked++;
		return;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		mem_release(w->budget, sizeof *s);
		w->st.untracked++;
		return;
	}
	s->id = session;
	put_endpoint(&s->ep[DIR_C2S], client);
	put_endpoint(&s->ep[DIR_S2C], server);
	s->last_ts = first_ts_us;
	s->d[DIR_C2S].seq = s->d[DIR_C2S].acked = isn;
	s->d[DIR_S2C].seq = s->d[DIR_S2C].acked = isn ^ 0x5bd1e995u;
	/* a table the budget will not let grow stays correct, only slower */
	hashtab_reserve(&w->by_id);
	hashtab_link(&w->by_id, &s->hnode, dpcap_hash(w, session));
	list_push_back(&w->sessions, &s->link);
	/* The handshake at the flow's first packet, where it belongs in the
	 * file, unless the capture began after it: a reader must see the
	 * session picked up mid-stream as well. */
	if (!mid_stream) {
		seg_flush(w, true);
		emit(w, s, DIR_C2S, TCP_SYN, NULL, 0, first_ts_us);
		emit(w, s, DIR_S2C, TCP_SYN | TCP_ACK, NULL, 0, first_ts_us);
		emit(w, s, DIR_C2S, TCP_ACK, NULL, 0, first_ts_us);
	}
}

void dpcap_data(void *ctx, uint64_t session, enum stream_dir dir, const uint8_t *p, size_t n,
		int64_t ts_us)
{
	struct dpcap *w = ctx;
	struct dpcap_session *s;

	if (n == 0 || (s = dpcap_find(w, session)) == NULL || s->verdict == VERDICT_DROP ||
	    s->muted)
		return;
	if (s->verdict == VERDICT_PENDING) {
		if (session_judged(s))
			session_release(w, s);
		else if (memchr(p, '\n', n) != NULL)
			s->d[dir].lf = true;
	}
	put_bytes(w, s, dir, p, n, ts_us);
}

void dpcap_gap(void *ctx, uint64_t session, enum stream_dir dir, uint64_t nbytes,
	       int64_t ts_us)
{
	struct dpcap *w = ctx;
	struct dpcap_session *s;

	if (nbytes == 0 || (s = dpcap_find(w, session)) == NULL || s->verdict == VERDICT_DROP ||
	    s->muted)
		return;
	if (s->verdict == VERDICT_PENDING) {
		/* past a gap the session reads lines without judging them */
		bool judged = session_judged(s);

		s->d[dir].judged = true;
		if (judged)
			session_release(w, s);
	}
	put_gap(w, s, dir, nbytes, ts_us);
}

void dpcap_not_imap(void *ctx, uint64_t session)
{
	struct dpcap *w = ctx;
	struct dpcap_session *s = dpcap_find(w, session);

	if (s == NULL || s->verdict == VERDICT_DROP)
		return;
	/* Written already only when the queue had no room to wait: what went
	 * stays, nothing more is added, FIN closes it at the end. */
	if (s->verdict == VERDICT_WRITE) {
		if (w->seg.s == s)
			seg_flush(w, true);
		s->muted = true;
		return;
	}
	if (w->seg.s == s) {
		w->seg.s = NULL;
		w->seg.len = 0;
	}
	s->verdict = VERDICT_DROP;
	w->st.not_imap++;
	queue_drain(w);
}

/* Both sides close: FIN, FIN, ACK. */
static void session_close(struct dpcap *w, struct dpcap_session *s, int64_t ts)
{
	if (w->seg.s == s)
		seg_flush(w, true);
	emit(w, s, DIR_C2S, TCP_FIN | TCP_ACK, NULL, 0, ts);
	emit(w, s, DIR_S2C, TCP_FIN | TCP_ACK, NULL, 0, ts);
	emit(w, s, DIR_C2S, TCP_ACK, NULL, 0, ts);
}

void dpcap_end(void *ctx, uint64_t session, const struct imap_tap_end *e)
{
	struct dpcap *w = ctx;
	struct dpcap_session *s = dpcap_find(w, session);

	if (s == NULL)
		return;
	if (s->verdict != VERDICT_DROP) {
		session_close(w, s, e->ts_us);
		session_release(w, s);
		if (e->undecrypted[DIR_C2S] || e->undecrypted[DIR_S2C])
			w->st.undecrypted_sessions++;
		w->st.undecrypted_dirs += (uint64_t)e->undecrypted[DIR_C2S] +
					  e->undecrypted[DIR_S2C];
	}
	if (w->seg.s == s)
		seg_flush(w, true);
	hashtab_unlink(&w->by_id, &s->hnode);
	list_unlink(&w->sessions, &s->link);
	s->ended = true;
	if (s->queued == 0)
		session_free(w, s);
	queue_drain(w);
}

/* --- the file ----------------------------------------------------------- */

static int dpcap_open_fd(struct dpcap *w, const char *path, char err[DPCAP_ERRLEN])
{
	char oerr[OUTDIR_ERRLEN];

	if (strcmp(path, "-") == 0) {
		w->fd = STDOUT_FILENO;
		return 0;
	}
	/* what the sessions carried, passwords included: private */
	w->fd = outdir_open_file(path, true, oerr);
	if (w->fd < 0) {
		snprintf(err, DPCAP_ERRLEN, "%s", oerr);
		return -1;
	}
	w->own_fd = true;
	return 0;
}

static void put_file_header(struct dpcap *w)
{
	uint8_t *h = w->obuf;

	put32le(h, PCAP_MAGIC_US);
	h[4] = 2;	/* version 2.4, little-endian */
	h[5] = 0;
	h[6] = 4;
	h[7] = 0;
	memset(h + 8, 0, 8);	/* thiszone, sigfigs */
	put32le(h + 16, DPCAP_SNAPLEN);
	put32le(h + 20, DPCAP_LINKTYPE_ETHERNET);
	w->olen = PCAP_FILE_HDR;
}

struct dpcap *dpcap_new(const char *path, struct mem_budget *budget, char err[DPCAP_ERRLEN])
{
	struct dpcap *w = calloc(1, sizeof *w);

	if (w == NULL) {
		snprintf(err, DPCAP_ERRLEN, "out of memory");
		return NULL;
	}
	snprintf(w->path, sizeof w->path, "%s", path);
	w->budget = budget;
	buf_init(&w->queue, DPCAP_QUEUE_MAX, budget);
	hashtab_init(&w->by_id, budget, 0, DPCAP_BUCKETS_MIN, 0);
	if (hashtab_start(&w->by_id, HASHTAB_FIRST_FREE) != 0) {
		snprintf(err, DPCAP_ERRLEN, "out of memory");
		free(w);
		return NULL;
	}
	if (dpcap_open_fd(w, path, err) != 0) {
		hashtab_free(&w->by_id);
		free(w);
		return NULL;
	}
	/* Refused, the file is written a packet at a time: slower, complete. */
	if (mem_charge(budget, DPCAP_FLUSH_BYTES) == 0 &&
	    (w->obuf_heap = malloc(DPCAP_FLUSH_BYTES)) == NULL)
		mem_release(budget, DPCAP_FLUSH_BYTES);
	w->obuf = w->obuf_heap != NULL ? w->obuf_heap : w->one;
	w->ocap = w->obuf_heap != NULL ? DPCAP_FLUSH_BYTES : sizeof w->one;
	put_file_header(w);
	out_flush(w);	/* a file that cannot be written is said now */
	if (w->failed) {
		snprintf(err, DPCAP_ERRLEN, "%s", w->err);
		w->failed = false;
		(void)dpcap_free(&w, NULL, w->err);
		return NULL;
	}
	return w;
}

int dpcap_free(struct dpcap **wp, struct dpcap_stats *stats_r, char err[DPCAP_ERRLEN])
{
	struct dpcap *w = *wp;
	int rc;

	if (w == NULL)
		return 0;
	while (!list_empty(&w->sessions)) {
		struct dpcap_session *s = LIST_ENTRY(list_first(&w->sessions),
						     struct dpcap_session, link);
		struct imap_tap_end e = { .ts_us = s->last_ts, .why = END_EOF };

		dpcap_end(w, s->id, &e);
	}
	queue_drain(w);		/* every session has its verdict now */
	out_flush(w);
	buf_free(&w->queue);
	if (w->own_fd && close(w->fd) != 0)
		dpcap_fail(w);
	rc = w->failed ? -1 : 0;
	if (stats_r != NULL)
		*stats_r = w->st;
	if (rc != 0 && err != w->err)
		snprintf(err, DPCAP_ERRLEN, "%s", w->err);
	if (w->obuf_heap != NULL) {
		free(w->obuf_heap);
		mem_release(w->budget, DPCAP_FLUSH_BYTES);
	}
	hashtab_free(&w->by_id);
	free(w);
	*wp = NULL;
	return rc;
}
