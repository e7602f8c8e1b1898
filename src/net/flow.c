/* The flow table: a chained hash keyed by the canonical 4-tuple, plus a
 * list in order of last activity that makes both idle expiry and eviction
 * O(1) per packet.  A flow is NEW (no session yet, no buffers), OPEN (a
 * session with two reassembly streams), CLOSED (ended by FIN or RST; kept
 * so trailing ACKs do not start a mid-stream session, and so a new SYN can
 * start the next one) or IGNORED (a tombstone: not IMAP, never looked at
 * again).  All callbacks run inside flow_table_segment/_finish and must not
 * call back into the table. */
#include "net/flow.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/reassembly.h"
#include "util/hashtab.h"
#include "util/list.h"

#define FLOW_HASH_MIN_BUCKETS  1024
#define FLOW_MAX_GAP_NOTICES   8	/* per session and direction */
#define FLOW_MAX_CONFLICT_NOTICES 8	/* per session and direction */
/* The server's deliveries longer than this (full-size segments: literal
 * bodies, mostly) are not kept to compare retransmissions with: copying
 * every byte of a bulk download cost 20-25 % of the plaintext bench.  The
 * client's are all kept.  Retransmissions over bytes not kept are counted
 * as not compared. */
#define FLOW_S2C_WINDOW_RUN   512
/* Budget a new session should find free for its first commands. */
#define FLOW_SESSION_ROOM     4096
/* Notices that every session of a flood would repeat (evicted, one side
 * only, picked up mid-stream): this many of each kind per run, the rest
 * summed at the end, so a million tiny flows cannot bury stderr. */
#define FLOW_MAX_KIND_NOTICES 10
#define FLOW_PORT_IMAP         143
#define FLOW_PORT_IMAPS        993
/* A forward jump of the capture clock larger than this is believed only
 * when the next packet confirms it: one packet with a garbage timestamp
 * must not time out every flow. */
#define FLOW_CLOCK_CONFIRM_US  (60LL * 1000000)

enum flow_state { FS_NEW, FS_OPEN, FS_CLOSED, FS_IGNORED };

/* Endpoint 0 sorts before endpoint 1; zeroed first so it can be memcmp'd. */
struct flow_key {
	uint8_t af;
	uint8_t addr[2][16];
	uint16_t port[2];
};

struct flow;

/* A pending gap notice, merged with the gaps that follow it directly so a
 * run of ACK-derived gaps makes one line. */
struct gap_note {
	bool on;
	uint64_t off, n;
	int64_t ts;
};

/* One endpoint of a flow and the bytes it sends. */
struct flow_side {
	struct flow *f;
	uint8_t idx;
	struct reasm *rs;	/* OPEN only */
	bool syn;		/* NEW: a SYN was seen from this side */
	uint32_t isn;
	bool fin;
	uint64_t pkts;
	uint64_t bytes;		/* payload bytes the packets carried */
	struct gap_note note;
	bool snap_noticed;	/* the snap length's cut was named */
	uint64_t notes_sent;
	uint64_t unreported_gaps, unreported_bytes;
	uint64_t conflicts_said;
	uint64_t conflicts_quiet;	/* past FLOW_MAX_CONFLICT_NOTICES */
	uint64_t frame_out;	/* reasm's record of what it hands up */
	uint64_t *frame_cell;	/* the session's cell of this direction, or NULL */
};

struct flow {
	struct hashtab_node hnode;	/* first: the lookup's loads stay close */
	struct list_node lru;		/* activity order, oldest first */
	struct flow_key key;
	struct flow_table *ft;
	enum flow_state state;
	int client;		/* side index of the client, -1 unknown */
	bool imap_port;		/* either port is a configured IMAP port */
	bool syn_seen;
	bool rst;
	uint64_t session_id;
	void *sctx;
	int64_t first_ts, last_ts;
	uint64_t first_frame;	/* the record of first_ts */
	uint64_t last_frame;	/* the last record of an open flow */
	int last_side;		/* and the side that sent it */
	struct flow_side s[2];
};

/* Kinds of per-session notice under FLOW_MAX_KIND_NOTICES. */
enum flow_quiet_kind { FQ_EVICTED, FQ_MEMORY, FQ_ONE_SIDED, FQ_MID_STREAM, FQ_KINDS };

/* How the end-of-run sum of each kind reads: "%llu more sessions ...". */
static const char *const flow_quiet_text[FQ_KINDS] = {
	"evicted by the flow cap (see --max-flows)",
	"evicted to stay within the memory budget (see --max-memory)",
	"with only one side captured",
	"picked up mid-stream (no SYN)",
};

struct flow_table {
	struct flow_config cfg;
	struct flow_hooks hooks;
	struct hashtab tab;	/* flows by key; tab.count of them */
	struct list_head lru;	/* flows by last activity, oldest first */
	uint64_t last_session;
	uint64_t kind_said[FQ_KINDS];	/* per-session notices given, by kind */
	uint64_t kind_quiet[FQ_KINDS];	/* and summed instead */
	bool oom_noticed;
	bool refusal_noticed;
	bool clock_set;
	bool jump_pending;
	struct flow *jump_flow;	/* the flow the unconfirmed jump touched */
	int64_t clock;		/* capture time as the table believes it */
	/* The record reassembly reads: the segment's (cfg.frame_src), or a
	 * closing session's last while its queues are flushed. */
	uint64_t frame;
	struct flow_stats st;
};

void flow_config_defaults(struct flow_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_flows = FLOW_DEFAULT_MAX_FLOWS;
	cfg->max_ooo_bytes = FLOW_DEFAULT_MAX_OOO_BYTES;
	cfg->idle_timeout_us = FLOW_IDLE_TIMEOUT_US;
	cfg->ports[0].port = FLOW_PORT_IMAP;
	cfg->ports[1].port = FLOW_PORT_IMAPS;
	cfg->ports[1].tls = true;
	cfg->n_ports = 2;
}

int flow_config_add_port(struct flow_config *cfg, uint16_t port, bool tls)
{
	size_t i;

	for (i = 0; i < cfg->n_ports; i++) {
		if (cfg->ports[i].port == port) {
			cfg->ports[i].tls = tls;
			return 0;
		}
	}
	if (cfg->n_ports >= FLOW_MAX_PORTS)
		return -1;
	cfg->ports[cfg->n_ports].port = port;
	cfg->ports[cfg->n_ports].tls = tls;
	cfg->n_ports++;
	return 0;
}

static const struct flow_port *port_find(const struct flow_config *cfg,
					 uint16_t port)
{
	size_t i;

	for (i = 0; i < cfg->n_ports; i++)
		if (cfg->ports[i].port == port)
			return &cfg->ports[i];
	return NULL;
}

const char *flow_endpoint_str(const struct flow_endpoint *ep,
			      char buf[FLOW_ADDRSTRLEN])
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(ep->af == 6 ? AF_INET6 : AF_INET, ep->addr, a,
		      sizeof a) == NULL)
		snprintf(a, sizeof a, "?");
	if (ep->af == 6)
		snprintf(buf, FLOW_ADDRSTRLEN, "[%s]:%u", a, ep->port);
	else
		snprintf(buf, FLOW_ADDRSTRLEN, "%s:%u", a, ep->port);
	return buf;
}

static void notice_f(struct flow_table *ft, const struct flow *fl, int64_t ts,
		     const struct notice *f, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* fl: the flow whose session the notice concerns, or NULL.  A followed
 * session hears it first (it becomes part of its record and goes on to
 * the same listener); any other goes to the listener directly. */
static void notice_f(struct flow_table *ft, const struct flow *fl, int64_t ts,
		     const struct notice *f, const char *fmt, ...)
{
	struct notice n = *f;
	va_list ap;

	n.session = fl != NULL ? fl->session_id : 0;
	n.ts_us = ts;
	va_start(ap, fmt);
	if (fl != NULL && fl->sctx != NULL && ft->hooks.ops->notice != NULL)
		notice_vsendf(ft->hooks.ops->notice, fl->sctx, &n, fmt, ap);
	else
		notice_vsendf(ft->hooks.notice, ft->hooks.ctx, &n, fmt, ap);
	va_end(ap);
}

#define notice(ft, fl, ts, kind, ...) notice_f((ft), (fl), (ts), &NOTICE_OF(kind), __VA_ARGS__)

/* The facts of a notice about some bytes of one direction. */
#define FACTS_DIR(k, d, off, nbytes) \
	(&(struct notice){ .kind = (k), .dir = (int)(d), .offset = (off), .bytes = (nbytes) })

/* May a notice of this kind be given, or is it only to be counted? */
static bool kind_may_speak(struct flow_table *ft, enum flow_quiet_kind k)
{
	if (ft->kind_said[k] < FLOW_MAX_KIND_NOTICES) {
		ft->kind_said[k]++;
		return true;
	}
	ft->kind_quiet[k]++;
	return false;
}

static void kind_report(struct flow_table *ft, int64_t ts)
{
	for (int k = 0; k < FQ_KINDS; k++) {
		if (ft->kind_quiet[k] > 0)
			notice(ft, NULL, ts, NOTICE_SESSIONS_QUIET, "%" PRIu64 " more sessions %s", ft->kind_quiet[k],
			       flow_quiet_text[k]);
		ft->kind_quiet[k] = 0;
	}
}

/* ---- hash table and activity list ---- */

static uint64_t key_hash(const struct flow_table *ft, const struct flow_key *k)
{
	return hashtab_hash_const(&ft->tab, k, sizeof *k);
}

static int key_from_seg(const struct decode_seg *seg, struct flow_key *k);

uint64_t flow_table_hash(const struct flow_table *ft, const struct decode_seg *seg)
{
	struct flow_key k;

	key_from_seg(seg, &k);
	return key_hash(ft, &k);
}

/* The canonical key of seg, and which endpoint (0 or 1) sent it. */
static int key_from_seg(const struct decode_seg *seg, struct flow_key *k)
{
	size_t alen = seg->af == 6 ? 16 : 4;
	int c;

	memset(k, 0, sizeof *k);
	k->af = seg->af;
	c = memcmp(seg->src, seg->dst, alen);
	if (c == 0)
		c = seg->sport < seg->dport ? -1 : seg->sport > seg->dport;
	if (c <= 0) {
		memcpy(k->addr[0], seg->src, alen);
		memcpy(k->addr[1], seg->dst, alen);
		k->port[0] = seg->sport;
		k->port[1] = seg->dport;
		return 0;
	}
	memcpy(k->addr[0], seg->dst, alen);
	memcpy(k->addr[1], seg->src, alen);
	k->port[0] = seg->dport;
	k->port[1] = seg->sport;
	return 1;
}

static struct flow *flow_of(const struct hashtab_node *n)
{
	return HASHTAB_ENTRY(n, struct flow, hnode);
}

static struct flow *flow_of_lru(const struct list_node *n)
{
	return n != NULL ? LIST_ENTRY(n, struct flow, lru) : NULL;
}

static struct flow *oldest_flow(const struct flow_table *ft)
{
	return flow_of_lru(list_first(&ft->lru));
}

/* The whole chain is walked (not only equal hashes) to count its length. */
static struct flow *table_lookup(struct flow_table *ft,
				 const struct flow_key *k, uint64_t h)
{
	struct hashtab_node *n;
	uint64_t steps = 0;

	for (n = hashtab_chain(&ft->tab, h); n != NULL; n = n->next, steps++)
		if (n->hash == h && memcmp(&flow_of(n)->key, k, sizeof *k) == 0)
			break;
	if (steps > ft->st.longest_chain)
		ft->st.longest_chain = steps;
	return n != NULL ? flow_of(n) : NULL;
}

static void lru_touch(struct flow_table *ft, struct flow *f, int64_t ts)
{
	if (ts > f->last_ts)
		f->last_ts = ts;
	list_move_back(&ft->lru, &f->lru);
}

static void side_free(struct flow_side *sd)
{
	reasm_free(&sd->rs);
}

/* Unhook f from the table and free it; its session must be over. */
static void flow_remove(struct flow_table *ft, struct flow *f)
{
	hashtab_unlink(&ft->tab, &f->hnode);
	list_unlink(&ft->lru, &f->lru);
	side_free(&f->s[0]);
	side_free(&f->s[1]);
	free(f);
	mem_release(ft->cfg.budget, sizeof *f);
}

/* Forget everything but the tuple: the flow starts over as NEW. */
static void flow_reset(struct flow *f)
{
	int i;

	side_free(&f->s[0]);
	side_free(&f->s[1]);
	memset(f->s, 0, sizeof f->s);
	for (i = 0; i < 2; i++) {
		f->s[i].f = f;
		f->s[i].idx = (uint8_t)i;
	}
	f->state = FS_NEW;
	f->client = -1;
	f->syn_seen = false;
	f->rst = false;
	f->session_id = 0;
	f->sctx = NULL;
}

/* ---- sessions ---- */

static enum stream_dir side_dir(const struct flow_side *sd)
{
	return sd->idx == sd->f->client ? DIR_C2S : DIR_S2C;
}

static const char *dir_name(enum stream_dir d)
{
	return d == DIR_C2S ? "c2s" : "s2c";
}

static void gap_note_flush(struct flow_table *ft, struct flow_side *sd)
{
	struct gap_note *g = &sd->note;

	if (!g->on)
		return;
	g->on = false;
	if (sd->notes_sent >= FLOW_MAX_GAP_NOTICES) {
		sd->unreported_gaps++;
		sd->unreported_bytes += g->n;
		return;
	}
	sd->notes_sent++;
	notice_f(ft, sd->f, g->ts, FACTS_DIR(NOTICE_GAP, side_dir(sd), g->off, g->n),
	       "%" PRIu64 " bytes missing %s at offset %" PRIu64, g->n,
	       dir_name(side_dir(sd)), g->off);
}

/* The session learns the record of the bytes or gap that follow. */
static void tell_frame(struct flow_side *sd)
{
	if (sd->frame_cell != NULL)
		*sd->frame_cell = sd->frame_out;
}

static void on_data(void *ctx, uint64_t off, const uint8_t *p, size_t n,
		    int64_t ts)
{
	struct flow_side *sd = ctx;
	struct flow *f = sd->f;

	(void)off;
	/* Data after a hole: the hole's notice comes before whatever the
	 * layers above say about the bytes that follow it. */
	if (sd->note.on)
		gap_note_flush(f->ft, sd);
	tell_frame(sd);
	f->ft->hooks.ops->feed(f->sctx, side_dir(sd), p, n, ts);
}

static void on_gap(void *ctx, uint64_t off, uint64_t n, int64_t ts)
{
	struct flow_side *sd = ctx;
	struct flow *f = sd->f;
	struct gap_note *g = &sd->note;

	tell_frame(sd);
	f->ft->hooks.ops->gap(f->sctx, side_dir(sd), n, ts);
	if (g->on && g->off + g->n == off) {
		g->n += n;
		return;
	}
	gap_note_flush(f->ft, sd);
	g->on = true;
	g->off = off;
	g->n = n;
	g->ts = ts;
}

/* A retransmission that contradicts what was delivered: where an IDS and
 * the endpoint could have read different streams, so it is always said. */
static void on_conflict(void *ctx, uint64_t off, uint64_t n, int64_t ts)
{
	struct flow_side *sd = ctx;
	struct flow *f = sd->f;

	if (sd->conflicts_said >= FLOW_MAX_CONFLICT_NOTICES) {
		sd->conflicts_quiet++;
		return;
	}
	sd->conflicts_said++;
	notice_f(f->ft, f, ts, FACTS_DIR(NOTICE_OVERLAP_CONFLICT, side_dir(sd), off, n),
		 "overlap_conflict %s at offset %" PRIu64
		 ": a later copy differs over %" PRIu64 " bytes; the first copy"
		 " was kept", dir_name(side_dir(sd)), off, n);
}

static void endpoint_of(const struct flow *f, int idx, struct flow_endpoint *ep)
{
	ep->af = f->key.af;
	memcpy(ep->addr, f->key.addr[idx], sizeof ep->addr);
	ep->port = f->key.port[idx];
}

static void flow_ignore(struct flow_table *ft, struct flow *f)
{
	side_free(&f->s[0]);
	side_free(&f->s[1]);
	f->state = FS_IGNORED;
	ft->st.flows_ignored++;
}

static bool sides_alloc(struct flow_table *ft, struct flow *f)
{
	struct reasm_config rc = { ft->cfg.max_ooo_bytes, ft->cfg.budget, 0, 0,
				   &ft->frame, NULL };
	int i;

	for (i = 0; i < 2; i++) {
		struct reasm_out out = { &f->s[i], on_data, on_gap, on_conflict };

		rc.frame_out = &f->s[i].frame_out;
		rc.window_max_run = i == f->client ? 0 : FLOW_S2C_WINDOW_RUN;

		f->s[i].rs = reasm_new(&rc, &out);
		if (f->s[i].rs == NULL)
			return false;
		if (f->s[i].syn)
			reasm_syn(f->s[i].rs, f->s[i].isn);
	}
	return true;
}

static void evict_oldest(struct flow_table *ft, int64_t now, enum flow_quiet_kind why);

static bool budget_tight(const struct mem_budget *mb)
{
	return mb != NULL && mb->limit != 0 &&
	       (mb->used > mb->limit || mb->limit - mb->used < FLOW_SESSION_ROOM);
}

/* Roles are known: ask the layer above for a session. */
static void session_open(struct flow_table *ft, struct flow *f, int64_t ts)
{
	struct flow_info fi;
	const struct flow_port *sp;
	bool ok;

	memset(&fi, 0, sizeof fi);
	fi.session_id = ft->last_session + 1;
	endpoint_of(f, f->client, &fi.client);
	endpoint_of(f, !f->client, &fi.server);
	fi.mid_stream = !f->syn_seen;
	sp = port_find(&ft->cfg, fi.server.port);
	fi.implicit_tls = sp != NULL && sp->tls;
	fi.first_ts_us = f->first_ts;
	fi.first_frame = f->first_frame;
	/* At the budget's edge the oldest flow gives way now, not only when
	 * the buffers below do not fit: else the new session, its buffers
	 * just squeezed in, cannot track its first commands. */
	if (budget_tight(ft->cfg.budget) && oldest_flow(ft) != f)
		evict_oldest(ft, ts, FQ_MEMORY);
	ok = sides_alloc(ft, f);
	if (!ok && oldest_flow(ft) != f) {
		/* The budget, most likely: the oldest flow gives way, as for
		 * the flow itself in flow_charge. */
		side_free(&f->s[0]);
		side_free(&f->s[1]);
		evict_oldest(ft, ts, FQ_MEMORY);
		ok = sides_alloc(ft, f);
	}
	if (!ok) {
		if (!ft->oom_noticed)
			notice(ft, NULL, ts, NOTICE_MEMORY, "out of memory or memory budget spent: flows ignored");
		ft->oom_noticed = true;
		flow_ignore(ft, f);
		return;
	}
	f->sctx = ft->hooks.open(ft->hooks.ctx, &fi);
	if (f->sctx == NULL) {
		flow_ignore(ft, f);
		return;
	}
	if (ft->hooks.ops->frames != NULL) {
		uint64_t *cells = ft->hooks.ops->frames(f->sctx);

		f->s[f->client].frame_cell = &cells[DIR_C2S];
		f->s[!f->client].frame_cell = &cells[DIR_S2C];
	}
	f->session_id = fi.session_id;
	ft->last_session = fi.session_id;
	ft->st.sessions_opened++;
	f->state = FS_OPEN;
	if (fi.mid_stream && kind_may_speak(ft, FQ_MID_STREAM))
		notice(ft, f, ts, NOTICE_MID_STREAM, "%s", "picked up mid-stream (no SYN)");
}

/* Loss and duplication of one direction, said once per session. */
static void side_report(struct flow_table *ft, struct flow_side *sd,
			int64_t ts)
{
	const struct reasm_stats *rs = reasm_stats(sd->rs);
	const char *d = dir_name(side_dir(sd));

	gap_note_flush(ft, sd);
	if (sd->unreported_gaps > 0)
		notice_f(ft, sd->f, ts, FACTS_DIR(NOTICE_GAP, side_dir(sd), NOTICE_NONE,
						  sd->unreported_bytes), "%" PRIu64
		       " more gaps %s (%" PRIu64 " bytes)",
		       sd->unreported_gaps, d, sd->unreported_bytes);
	if (rs->retransmitted > 0 && ft->hooks.ops->retransmitted != NULL)
		ft->hooks.ops->retransmitted(sd->f->sctx, rs->retransmitted);
	if (sd->conflicts_quiet > 0)
		notice_f(ft, sd->f, ts, FACTS_DIR(NOTICE_OVERLAP_CONFLICT, side_dir(sd), NOTICE_NONE,
						  NOTICE_NONE), "%" PRIu64
		       " more overlap conflicts %s", sd->conflicts_quiet, d);
	/* Retransmissions that agree are normal: counted, not said.  The bytes
	 * that could not be compared are said beside a disagreement. */
	if (rs->overlap_conflicts > 0 && rs->unchecked > 0)
		notice_f(ft, sd->f, ts, FACTS_DIR(NOTICE_RETRANSMISSION, side_dir(sd), NOTICE_NONE,
						  rs->retransmitted), "duplicate packets: %"
		       PRIu64 " bytes retransmitted %s (%" PRIu64 " differed, %"
		       PRIu64 " not compared; first copy kept)",
		       rs->retransmitted, d, rs->overlap_conflicts, rs->unchecked);
	else if (rs->overlap_conflicts > 0)
		notice_f(ft, sd->f, ts, FACTS_DIR(NOTICE_RETRANSMISSION, side_dir(sd), NOTICE_NONE,
						  rs->retransmitted), "duplicate packets: %"
		       PRIu64 " bytes retransmitted %s (%" PRIu64
		       " differed; first copy kept)", rs->retransmitted,
		       d, rs->overlap_conflicts);
	if (rs->early_bytes > 0)
		notice(ft, sd->f, ts, NOTICE_EARLY_BYTES, "%" PRIu64 " bytes %s"
		       " from before the capture's start of the stream dropped",
		       rs->early_bytes, d);
	if (rs->ooo_dropped > 0)
		notice(ft, sd->f, ts, NOTICE_OOO_DROPPED, "%" PRIu64
		       " out-of-order bytes %s dropped (memory budget)",
		       rs->ooo_dropped, d);
	if (rs->pressure_gaps > rs->runs_full)
		notice(ft, sd->f, ts, NOTICE_OOO_FULL, "out-of-order queue "
		       "full %" PRIu64 " times %s (cap %zu bytes)",
		       rs->pressure_gaps - rs->runs_full, d, ft->cfg.max_ooo_bytes);
	if (rs->runs_full > 0)
		notice(ft, sd->f, ts, NOTICE_OOO_FULL, "out-of-order queue "
		       "full %" PRIu64 " times %s (cap %d separate runs: tiny"
		       " segments out of order)", rs->runs_full, d, REASM_MAX_RUNS);
	if (ft->hooks.ops->capped != NULL && rs->pressure_gaps + rs->ooo_dropped > 0)
		ft->hooks.ops->capped(sd->f->sctx, rs->pressure_gaps + (rs->ooo_dropped > 0));
	ft->st.retransmitted_bytes += rs->retransmitted;
	ft->st.overlap_conflicts += rs->overlap_conflicts;
	ft->st.gaps += rs->gaps;
	ft->st.gap_bytes += rs->gap_bytes;
	ft->st.ooo_dropped_bytes += rs->ooo_dropped;
}

/* End the session of an OPEN flow: remaining bytes and gaps first, then
 * end().  The flow becomes CLOSED; the caller may remove it. */
static void session_close(struct flow_table *ft, struct flow *f,
			  enum end_reason why, int64_t ts)
{
	struct flow_side *c, *s;
	uint64_t now;

	if (f->state != FS_OPEN)
		return;
	c = &f->s[f->client];
	s = &f->s[!f->client];
	/* a timeout or the end of input: the gaps that remain are the
	 * session's, not the record being read */
	now = ft->frame;
	ft->frame = f->last_frame;
	reasm_flush(c->rs, ts);
	reasm_flush(s->rs, ts);
	ft->frame = now;
	side_report(ft, c, ts);
	side_report(ft, s, ts);
	if ((c->pkts == 0 && s->bytes > 0) || (s->pkts == 0 && c->bytes > 0)) {
		if (kind_may_speak(ft, FQ_ONE_SIDED))
			notice(ft, f, ts, NOTICE_ONE_SIDED, "only the %s's"
			       " side was captured",
			       c->pkts == 0 ? "server" : "client");
	}
	/* session_end names the session's last record, the FIN or RST */
	if (f->s[f->last_side].frame_cell != NULL)
		*f->s[f->last_side].frame_cell = f->last_frame;
	ft->hooks.ops->end(f->sctx, why, ts);
	f->sctx = NULL;
	c->frame_cell = s->frame_cell = NULL;
	side_free(c);
	side_free(s);
	f->state = FS_CLOSED;
}

/* ---- segments ---- */

static bool is_syn_only(const struct decode_seg *seg)
{
	return (seg->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN;
}

/* Without a SYN and without IMAP ports, ephemeral ports are the better
 * guess for the client. */
static int client_by_port_guess(const struct flow *f, int sender)
{
	if (f->key.port[0] == f->key.port[1])
		return sender;
	return f->key.port[0] > f->key.port[1] ? 0 : 1;
}

/* Roles from the SYN, else from the IMAP ports; -1 if neither tells. */
static void roles_from_handshake_or_ports(struct flow_table *ft, struct flow *f,
					  int side,
					  const struct decode_seg *seg)
{
	bool imap_dst, imap_src;

	if (seg->flags & TCP_SYN) {
		f->syn_seen = true;
		f->s[side].syn = true;
		f->s[side].isn = seg->seq;
		if (!(seg->flags & TCP_ACK))
			f->client = side;
		else if (f->client < 0)
			f->client = !side;
	}
	if (f->client >= 0)
		return;
	imap_dst = port_find(&ft->cfg, seg->dport) != NULL;
	imap_src = port_find(&ft->cfg, seg->sport) != NULL;
	if (imap_dst)
		f->client = side;
	else if (imap_src)
		f->client = !side;
}

/* A flow without a session: decide whether and when to open one. */
static void flow_new_segment(struct flow_table *ft, struct flow *f, int side,
			     const struct decode_seg *seg)
{
	enum flow_verdict v;

	roles_from_handshake_or_ports(ft, f, side, seg);
	if (f->imap_port) {
		session_open(ft, f, seg->ts_us);
		return;
	}
	if (ft->hooks.classify == NULL) {
		flow_ignore(ft, f);
		return;
	}
	if (seg->paylen == 0)
		return;		/* wait for the first payload */
	v = ft->hooks.classify(ft->hooks.ctx, seg->payload, seg->paylen);
	if (v == FLOW_NOT_IMAP) {
		flow_ignore(ft, f);
		return;
	}
	if (f->client < 0) {
		if (v == FLOW_SENDER_IS_CLIENT)
			f->client = side;
		else if (v == FLOW_SENDER_IS_SERVER)
			f->client = !side;
		else
			f->client = client_by_port_guess(f, side);
	}
	session_open(ft, f, seg->ts_us);
}

/* A segment of a flow with a session. */
static void flow_open_segment(struct flow_table *ft, struct flow *f, int side,
			      const struct decode_seg *seg)
{
	struct flow_side *sd = &f->s[side], *peer = &f->s[!side];
	uint32_t seq = seg->seq;

	f->last_frame = ft->frame;
	f->last_side = side;

	if (seg->flags & TCP_RST) {
		f->rst = true;
		session_close(ft, f, END_RST, seg->ts_us);
		return;
	}
	if (seg->flags & TCP_SYN) {
		reasm_syn(sd->rs, seq);
		seq++;		/* the SYN takes one sequence number */
	}
	/* The cause before its effects: the gaps a snap length makes are
	 * named as such once, before the first of them. */
	if (seg->missing != 0 && !sd->snap_noticed) {
		sd->snap_noticed = true;
		notice_f(ft, f, seg->ts_us, FACTS_DIR(NOTICE_SNAPLEN_CUT, side_dir(sd), NOTICE_NONE,
						      seg->missing), "packets "
		       "%s cut by the capture's snap length (%u of %u payload bytes kept): "
		       "the gaps that follow are the capture's, not the network's",
		       dir_name(side_dir(sd)), seg->paylen,
		       seg->paylen + seg->missing);
	}
	reasm_segment(sd->rs, seq, seg->payload, seg->paylen, seg->missing,
		      (seg->flags & TCP_FIN) != 0, seg->ts_us);
	if (seg->flags & TCP_FIN)
		sd->fin = true;
	/* The SYN/ACK's ack also starts the client's stream. */
	if (seg->flags & TCP_ACK)
		reasm_peer_ack(peer->rs, seg->ack, seg->ts_us);
	if (reasm_done(f->s[0].rs) && reasm_done(f->s[1].rs))
		session_close(ft, f, END_FIN, seg->ts_us);
}

/* A SYN from a client whose earlier connection on this tuple already said
 * goodbye (FIN or RST) begins a new session. */
static bool starts_new_session(const struct flow *f, int side,
			       const struct decode_seg *seg)
{
	if (!is_syn_only(seg))
		return false;
	if (f->state == FS_CLOSED)
		return true;
	if (f->state != FS_OPEN || side != f->client)
		return false;
	return (f->s[0].fin || f->s[1].fin) && seg->seq != f->s[side].isn;
}

/* ---- expiry, eviction, the table ---- */

/* Idle flows end at the moment they became idle, which keeps the events
 * of all sessions in capture-time order. */
static void expire_idle(struct flow_table *ft, int64_t now)
{
	struct flow *f;

	if (ft->cfg.idle_timeout_us <= 0)
		return;
	while ((f = oldest_flow(ft)) != NULL &&
	       now - f->last_ts > ft->cfg.idle_timeout_us) {
		if (f->state == FS_OPEN) {
			ft->st.timed_out++;
			session_close(ft, f, END_TIMEOUT,
				      f->last_ts + ft->cfg.idle_timeout_us);
		}
		flow_remove(ft, f);
	}
}

/* Make room for a new flow by ending the least recently active one:
 * because of the flow cap (FQ_EVICTED) or of the memory budget (FQ_MEMORY). */
static void evict_oldest(struct flow_table *ft, int64_t now, enum flow_quiet_kind why)
{
	struct flow *f = oldest_flow(ft);

	ft->st.evicted++;
	if (f->state == FS_OPEN) {
		if (why == FQ_EVICTED && kind_may_speak(ft, why))
			notice(ft, f, now, NOTICE_EVICTED,
			       "evicted, the flow table is full (%zu flows;"
			       " see --max-flows)", ft->cfg.max_flows);
		else if (why == FQ_MEMORY && kind_may_speak(ft, why))
			notice(ft, f, now, NOTICE_EVICTED, "%s",
			       "evicted for a new flow, the memory budget is"
			       " spent (see --max-memory)");
		session_close(ft, f, END_EVICTED, now);
	}
	flow_remove(ft, f);
}

/* Charge a new flow to the budget.  When it is spent, the least recently
 * active flow gives way (once: a new flow frees at least its own size), as
 * at the flow cap; failing that the new flow is refused and counted. */
static bool flow_charge(struct flow_table *ft, int64_t ts)
{
	if (mem_charge(ft->cfg.budget, sizeof(struct flow)) == 0)
		return true;
	if (!list_empty(&ft->lru)) {
		evict_oldest(ft, ts, FQ_MEMORY);
		if (mem_charge(ft->cfg.budget, sizeof(struct flow)) == 0)
			return true;
	}
	ft->st.flows_refused++;
	if (!ft->refusal_noticed)
		notice(ft, NULL, ts, NOTICE_MEMORY, "memory budget spent: packets of new flows are"
		       " dropped (see --max-memory)");
	ft->refusal_noticed = true;
	return false;
}

static struct flow *flow_create(struct flow_table *ft, const struct flow_key *k,
				uint64_t h, int64_t ts)
{
	struct flow *f;

	while (ft->tab.count >= ft->cfg.max_flows && !list_empty(&ft->lru))
		evict_oldest(ft, ts, FQ_EVICTED);
	if (!flow_charge(ft, ts))
		return NULL;
	f = calloc(1, sizeof *f);
	if (f == NULL) {
		mem_release(ft->cfg.budget, sizeof *f);
		if (!ft->oom_noticed)
			notice(ft, NULL, ts, NOTICE_MEMORY, "out of memory: flows ignored");
		ft->oom_noticed = true;
		return NULL;
	}
	f->key = *k;
	f->ft = ft;
	flow_reset(f);
	f->imap_port = port_find(&ft->cfg, k->port[0]) != NULL ||
		       port_find(&ft->cfg, k->port[1]) != NULL;
	f->first_ts = f->last_ts = ts;
	/* at the budget or the size cap the chains just grow longer */
	(void)hashtab_reserve(&ft->tab);
	hashtab_link(&ft->tab, &f->hnode, h);
	list_push_back(&ft->lru, &f->lru);
	ft->st.flows_seen++;
	return f;
}

/* The table's clock never runs backwards and leaps only when two packets
 * in a row agree (see FLOW_CLOCK_CONFIRM_US). */
static int64_t clock_advance(struct flow_table *ft, int64_t ts)
{
	if (!ft->clock_set || ts <= ft->clock + FLOW_CLOCK_CONFIRM_US) {
		if (!ft->clock_set || ts > ft->clock)
			ft->clock = ts;
		ft->clock_set = true;
		ft->jump_pending = false;
	} else if (ft->jump_pending) {
		ft->clock = ts;
		ft->jump_pending = false;
		/* The packet that announced the jump was real after all: its
		 * flow is as fresh as the new clock, not idle since before. */
		if (ft->jump_flow != NULL)
			lru_touch(ft, ft->jump_flow, ts);
	} else {
		ft->jump_pending = true;
	}
	return ft->clock;
}

void flow_table_segment(struct flow_table *ft, const struct decode_seg *seg)
{
	struct flow_key k;
	struct flow *f;
	uint64_t h;
	int64_t now = clock_advance(ft, seg->ts_us);
	/* A session's own times come from its packets, even while the table
	 * clock waits for a leap to be confirmed or refuses to run backwards
	 * (a second capture file older than the first). */
	int64_t start_ts = seg->ts_us;
	int side;

	ft->frame = ft->cfg.frame_src != NULL ? *ft->cfg.frame_src : 0;
	if (ft->cfg.ports_only && port_find(&ft->cfg, seg->sport) == NULL &&
	    port_find(&ft->cfg, seg->dport) == NULL)
		return;
	ft->jump_flow = NULL;
	expire_idle(ft, now);
	side = key_from_seg(seg, &k);
	h = key_hash(ft, &k);
	f = table_lookup(ft, &k, h);
	if (f == NULL && (f = flow_create(ft, &k, h, now)) == NULL)
		return;
	lru_touch(ft, f, now);
	if (ft->jump_pending)
		ft->jump_flow = f;
	if (f->state == FS_NEW && f->s[0].pkts + f->s[1].pkts == 0) {
		f->first_ts = start_ts;
		f->first_frame = ft->frame;
	}
	if (f->state == FS_IGNORED)
		return;
	if (starts_new_session(f, side, seg)) {
		session_close(ft, f, f->rst ? END_RST : END_FIN, seg->ts_us);
		flow_reset(f);
		f->first_ts = start_ts;
		f->first_frame = ft->frame;
	}
	if (f->state == FS_CLOSED)
		return;
	f->s[side].pkts++;
	f->s[side].bytes += (uint64_t)seg->paylen + seg->missing;
	if (f->state == FS_NEW)
		flow_new_segment(ft, f, side, seg);
	if (f->state == FS_OPEN)
		flow_open_segment(ft, f, side, seg);
}

void flow_table_finish(struct flow_table *ft, int64_t ts_us)
{
	struct flow *f;

	while ((f = oldest_flow(ft)) != NULL) {
		session_close(ft, f, END_EOF, ts_us);
		flow_remove(ft, f);
	}
	kind_report(ft, ts_us);
}

struct flow_table *flow_table_new(const struct flow_config *cfg,
				  const struct flow_hooks *hooks)
{
	struct flow_table *ft = calloc(1, sizeof *ft);

	if (ft == NULL)
		return NULL;
	ft->cfg = *cfg;
	ft->hooks = *hooks;
	if (ft->cfg.max_flows == 0)
		ft->cfg.max_flows = FLOW_DEFAULT_MAX_FLOWS;
	/* Buckets up to one per flow the cap allows; the first, small array
	 * is needed whatever the budget says. */
	hashtab_init(&ft->tab, ft->cfg.budget,
		     cfg->hash_seed != 0 ? cfg->hash_seed : hash_seed_random(),
		     FLOW_HASH_MIN_BUCKETS, ft->cfg.max_flows);
	if (hashtab_start(&ft->tab, HASHTAB_FIRST_IF_FITS) != 0) {
		free(ft);
		return NULL;
	}
	return ft;
}

const struct flow_stats *flow_table_stats(const struct flow_table *ft)
{
	return &ft->st;
}

/* Frees without calling any hook: call flow_table_finish first for the
 * sessions to end properly. */
void flow_table_free(struct flow_table **ftp)
{
	struct flow_table *ft = *ftp;

	if (ft == NULL)
		return;
	while (!list_empty(&ft->lru))
		flow_remove(ft, oldest_flow(ft));
	hashtab_free(&ft->tab);
	free(ft);
	*ftp = NULL;
}
