/* The flow table: roles (SYN, ports, classify), session ends (FIN, RST, a
 * new SYN on a finished tuple, timeout, eviction, end of input) and the
 * one-sided capture. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/flow.h"

#define MAX_SESS 40
#define MAX_NOTICES 64
#define BYTES_MAX 1024

struct sess {
	uint64_t id;
	struct flow_info fi;
	uint8_t bytes[2][BYTES_MAX];
	size_t len[2];
	uint64_t gap[2];
	bool ended;
	enum end_reason why;
	int64_t end_ts;
	uint64_t capped;
	/* the cells of byte_layer_ops.frames, and what they held at each
	 * feed, at the last gap and at the end */
	uint64_t cells[2];
	uint64_t fed[2][8];
	size_t nfed[2];
	uint64_t gap_frame[2], end_frame[2];
};

struct log {
	struct sess s[MAX_SESS];
	int n;
	int classify_calls;
	enum flow_verdict verdict;
	char notices[MAX_NOTICES][256];
	int nnotices;
};

static void *h_open(void *ctx, const struct flow_info *fi)
{
	struct log *l = ctx;
	struct sess *s;

	assert_true(l->n < MAX_SESS);
	s = &l->s[l->n++];
	s->id = fi->session_id;
	s->fi = *fi;
	return s;
}

static void h_feed(void *ctx, enum stream_dir d, const uint8_t *p, size_t n,
		   int64_t ts)
{
	struct sess *s = ctx;

	(void)ts;
	assert_false(s->ended);
	assert_true(s->len[d] + n <= BYTES_MAX);
	memcpy(s->bytes[d] + s->len[d], p, n);
	s->len[d] += n;
	if (s->nfed[d] < 8)
		s->fed[d][s->nfed[d]++] = s->cells[d];
}

static void h_gap(void *ctx, enum stream_dir d, uint64_t n, int64_t ts)
{
	struct sess *s = ctx;

	(void)ts;
	assert_false(s->ended);
	s->gap[d] += n;
	s->gap_frame[d] = s->cells[d];
}

static void h_capped(void *ctx, uint64_t n)
{
	struct sess *s = ctx;

	assert_false(s->ended);		/* before end */
	s->capped += n;
}

static void h_end(void *ctx, enum end_reason why, int64_t ts)
{
	struct sess *s = ctx;

	assert_false(s->ended);
	s->ended = true;
	s->end_frame[0] = s->cells[0];
	s->end_frame[1] = s->cells[1];
	s->why = why;
	s->end_ts = ts;
}

static enum flow_verdict h_classify(void *ctx, const uint8_t *p, size_t n)
{
	struct log *l = ctx;

	(void)p;
	(void)n;
	l->classify_calls++;
	return l->verdict;
}

static void h_notice(void *ctx, const struct notice *n)
{
	struct log *l = ctx;

	assert_string_not_equal(notice_kind_name(n->kind), "other");
	/* the text names no session: the listener does, as the run's does */
	assert_null(strstr(n->text, "session "));
	if (l->nnotices < MAX_NOTICES && n->session != 0)
		snprintf(l->notices[l->nnotices++], 256, "session %llu: %s",
			 (unsigned long long)n->session, n->text);
	else if (l->nnotices < MAX_NOTICES)
		snprintf(l->notices[l->nnotices++], 256, "%s", n->text);
}

static const struct byte_layer_ops ops = {
	.feed = h_feed, .gap = h_gap, .end = h_end, .capped = h_capped,
};

static uint64_t *h_frames(void *ctx)
{
	struct sess *s = ctx;

	return s->cells;
}

static const struct byte_layer_ops frame_ops = {
	.feed = h_feed, .gap = h_gap, .end = h_end, .frames = h_frames,
};

static struct flow_table *mk(struct log *l, struct flow_config *cfg,
			     bool classify)
{
	struct flow_hooks hk = { l, classify ? h_classify : NULL, h_open, &ops,
				 h_notice };
	struct flow_table *ft;

	memset(l, 0, sizeof *l);
	ft = flow_table_new(cfg, &hk);
	assert_non_null(ft);
	return ft;
}

static bool has_notice(const struct log *l, const char *needle)
{
	int i;

	for (i = 0; i < l->nnotices; i++)
		if (strstr(l->notices[i], needle) != NULL)
			return true;
	return false;
}

/* A segment from host a (10.0.0.a) port ap to host b port bp. */
static void seg(struct flow_table *ft, int a, uint16_t ap, int b, uint16_t bp,
		uint8_t flags, uint32_t seq, uint32_t ack, const char *data,
		int64_t ts)
{
	struct decode_seg s;

	memset(&s, 0, sizeof s);
	s.ts_us = ts;
	s.af = 4;
	s.src[0] = 10;
	s.src[3] = (uint8_t)a;
	s.dst[0] = 10;
	s.dst[3] = (uint8_t)b;
	s.sport = ap;
	s.dport = bp;
	s.seq = seq;
	s.ack = ack;
	s.flags = flags;
	s.payload = (const uint8_t *)data;
	s.paylen = data != NULL ? (uint32_t)strlen(data) : 0;
	flow_table_segment(ft, &s);
}

#define C 1
#define S 2
#define CP 40000
#define SP 143
#define A TCP_ACK
#define PA (TCP_ACK | TCP_PSH)
#define FA (TCP_ACK | TCP_FIN)

/* Handshake, a greeting, a command, FIN both ways. ISNs 100 (c), 500 (s). */
static void full_session(struct flow_table *ft, int cport, int64_t t)
{
	seg(ft, C, cport, S, SP, TCP_SYN, 100, 0, NULL, t);
	seg(ft, S, SP, C, cport, TCP_SYN | A, 500, 101, NULL, t + 1);
	seg(ft, C, cport, S, SP, A, 101, 501, NULL, t + 2);
	seg(ft, S, SP, C, cport, PA, 501, 101, "* OK hi\r\n", t + 3);
	seg(ft, C, cport, S, SP, PA, 101, 510, "a LOGOUT\r\n", t + 4);
	seg(ft, S, SP, C, cport, FA, 510, 111, NULL, t + 5);
	seg(ft, C, cport, S, SP, FA, 111, 511, NULL, t + 6);
}

/* Each feed and gap is told its record before the call: out-of-order
 * bytes keep theirs, a gap gets the ACK that settled it, the end the
 * session's last packet. */
static void test_frames(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_hooks hk = { &l, NULL, h_open, &frame_ops, h_notice };
	struct flow_table *ft;
	uint64_t frame = 0;

	(void)state;
	flow_config_defaults(&cfg);
	cfg.frame_src = &frame;
	memset(&l, 0, sizeof l);
	ft = flow_table_new(&cfg, &hk);
	assert_non_null(ft);
	frame = 1;
	seg(ft, C, CP, S, SP, TCP_SYN, 100, 0, NULL, 1);
	frame = 2;
	seg(ft, S, SP, C, CP, TCP_SYN | A, 500, 101, NULL, 2);
	frame = 3;
	seg(ft, C, CP, S, SP, A, 101, 501, NULL, 3);
	frame = 4;
	seg(ft, S, SP, C, CP, PA, 501, 101, "* OK hi\r\n", 4);
	frame = 5;
	seg(ft, C, CP, S, SP, PA, 103, 510, "LOGOUT\r\n", 5);	/* ahead */
	frame = 6;
	seg(ft, C, CP, S, SP, PA, 101, 510, "a ", 6);
	frame = 7;
	seg(ft, S, SP, C, CP, PA, 520, 111, "x\r\n", 7);		/* 10 lost */
	frame = 8;
	seg(ft, C, CP, S, SP, A, 111, 523, NULL, 8);		/* settles it */
	frame = 9;
	seg(ft, S, SP, C, CP, FA, 523, 111, NULL, 9);
	frame = 10;
	seg(ft, C, CP, S, SP, FA, 111, 524, NULL, 10);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.s[0].fi.first_frame, 1);
	assert_int_equal(l.s[0].nfed[DIR_C2S], 2);
	assert_int_equal(l.s[0].fed[DIR_C2S][0], 6);
	assert_int_equal(l.s[0].fed[DIR_C2S][1], 5);
	assert_int_equal(l.s[0].gap[DIR_S2C], 10);
	assert_int_equal(l.s[0].gap_frame[DIR_S2C], 8);
	assert_int_equal(l.s[0].fed[DIR_S2C][0], 4);
	assert_int_equal(l.s[0].fed[DIR_S2C][1], 7);	/* queued: its own */
	assert_true(l.s[0].ended);
	assert_int_equal(l.s[0].end_frame[DIR_C2S], 10);
	flow_table_finish(ft, 11);
	flow_table_free(&ft);
}

static void test_syn_roles_and_fin(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;
	char buf[FLOW_ADDRSTRLEN];

	(void)state;
	flow_config_defaults(&cfg);
	ft = mk(&l, &cfg, false);
	full_session(ft, CP, 1000);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.s[0].id, 1);
	assert_false(l.s[0].fi.mid_stream);
	assert_false(l.s[0].fi.implicit_tls);
	assert_string_equal(flow_endpoint_str(&l.s[0].fi.client, buf),
			    "10.0.0.1:40000");
	assert_string_equal(flow_endpoint_str(&l.s[0].fi.server, buf),
			    "10.0.0.2:143");
	assert_int_equal(l.s[0].len[DIR_S2C], 9);
	assert_memory_equal(l.s[0].bytes[DIR_C2S], "a LOGOUT\r\n", 10);
	assert_true(l.s[0].ended);
	assert_int_equal(l.s[0].why, END_FIN);
	/* Trailing ACK: no new session. */
	seg(ft, S, SP, C, CP, A, 511, 112, NULL, 1007);
	assert_int_equal(l.n, 1);
	/* A new SYN on the finished tuple starts session 2. */
	full_session(ft, CP, 2000);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.s[1].id, 2);
	assert_int_equal(l.s[1].len[DIR_C2S], 10);
	flow_table_finish(ft, 3000);
	assert_int_equal(flow_table_stats(ft)->sessions_opened, 2);
	flow_table_free(&ft);
	assert_null(ft);
}

/* The SYN decides even when the SYN's sender sits on port 143. */
static void test_syn_beats_ports(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;

	(void)state;
	flow_config_defaults(&cfg);
	ft = mk(&l, &cfg, false);
	seg(ft, S, 993, C, 993, TCP_SYN, 7, 0, NULL, 1);
	seg(ft, C, 993, S, 993, TCP_SYN | A, 9, 8, NULL, 2);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.s[0].fi.client.addr[3], S);
	assert_true(l.s[0].fi.implicit_tls);
	flow_table_finish(ft, 3);
	assert_int_equal(l.s[0].why, END_EOF);
	flow_table_free(&ft);
}

/* A notice about a followed session goes to that session (ops->notice),
 * with its id, kind and numbers; the listener hears only the others. */
static struct notice sess_heard;
static int sess_heard_n;

static void h_sess_notice(void *ctx, const struct notice *n)
{
	(void)ctx;
	sess_heard = *n;
	sess_heard.text = NULL;	/* valid during the call only */
	sess_heard_n++;
}

static void test_session_notices_go_to_session(void **state)
{
	static const struct byte_layer_ops ops_n = {
		.feed = h_feed, .gap = h_gap, .end = h_end, .capped = h_capped,
		.notice = h_sess_notice,
	};
	struct flow_config cfg;
	struct log l;
	struct flow_hooks hk = { &l, NULL, h_open, &ops_n, h_notice };
	struct flow_table *ft;

	(void)state;
	memset(&l, 0, sizeof l);
	sess_heard_n = 0;
	flow_config_defaults(&cfg);
	ft = flow_table_new(&cfg, &hk);
	assert_non_null(ft);
	seg(ft, S, SP, C, CP, PA, 9000, 300, "* 1 EXISTS\r\n", 10);	/* mid-stream */
	assert_int_equal(l.n, 1);
	assert_int_equal(sess_heard_n, 1);
	assert_int_equal(sess_heard.kind, NOTICE_MID_STREAM);
	assert_int_equal(sess_heard.session, l.s[0].id);
	assert_int_equal(sess_heard.ts_us, 10);
	assert_int_equal(l.nnotices, 0);	/* not the listener's */
	seg(ft, S, SP, C, CP, PA, 9022, 300, "b OK\r\n", 12);	/* 10 bytes lost */
	seg(ft, C, CP, S, SP, TCP_RST, 300, 0, NULL, 13);
	assert_int_equal(sess_heard.kind, NOTICE_GAP);
	assert_int_equal(sess_heard.dir, DIR_S2C);
	assert_int_equal(sess_heard.offset, 12);
	assert_int_equal(sess_heard.bytes, 10);
	assert_int_equal(l.nnotices, 0);
	flow_table_finish(ft, 20);
	flow_table_free(&ft);
}

/* No SYN: the side not on an IMAP port is the client; holes become gaps
 * at the end; a notice says the SYN was missed. */
static void test_midstream_ports_and_rst(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;

	(void)state;
	flow_config_defaults(&cfg);
	ft = mk(&l, &cfg, false);
	seg(ft, S, SP, C, CP, PA, 9000, 300, "* 1 EXISTS\r\n", 10);
	seg(ft, C, CP, S, SP, PA, 300, 9012, "b NOOP\r\n", 11);
	seg(ft, S, SP, C, CP, PA, 9022, 308, "b OK\r\n", 12); /* 10 lost */
	assert_int_equal(l.n, 1);
	assert_true(l.s[0].fi.mid_stream);
	assert_int_equal(l.s[0].fi.client.addr[3], C);
	assert_true(has_notice(&l, "picked up mid-stream"));
	seg(ft, C, CP, S, SP, TCP_RST, 308, 0, NULL, 13);
	assert_true(l.s[0].ended);
	assert_int_equal(l.s[0].why, END_RST);
	assert_int_equal(l.s[0].gap[DIR_S2C], 10);
	assert_int_equal(l.s[0].len[DIR_S2C], 12 + 6);
	assert_true(has_notice(&l, "session 1: 10 bytes missing s2c at offset 12"));
	flow_table_finish(ft, 20);
	assert_int_equal(flow_table_stats(ft)->gap_bytes, 10);
	flow_table_free(&ft);
}

/* Other ports: classify decides once; NOT_IMAP leaves a tombstone. */
static void test_classify(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;

	(void)state;
	flow_config_defaults(&cfg);
	ft = mk(&l, &cfg, true);
	l.verdict = FLOW_NOT_IMAP;
	seg(ft, C, 5000, S, 6000, A, 1, 1, NULL, 1);	/* no payload yet */
	assert_int_equal(l.classify_calls, 0);
	seg(ft, C, 5000, S, 6000, PA, 1, 1, "GET / HTTP/1.1\r\n", 2);
	seg(ft, S, 6000, C, 5000, PA, 1, 17, "HTTP/1.1 200\r\n", 3);
	assert_int_equal(l.classify_calls, 1);
	assert_int_equal(l.n, 0);
	assert_int_equal(flow_table_stats(ft)->flows_ignored, 1);

	l.verdict = FLOW_SENDER_IS_SERVER;
	seg(ft, C, 7000, S, 8000, PA, 50, 60, "* OK IMAP4rev1\r\n", 4);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.s[0].fi.client.port, 8000);
	assert_int_equal(l.s[0].len[DIR_S2C], 16);
	l.verdict = FLOW_UNSURE;	/* the higher port is the client */
	seg(ft, C, 7001, S, 8001, PA, 50, 60, "x\r\n", 5);
	assert_int_equal(l.s[1].fi.client.port, 8001);
	flow_table_finish(ft, 10);
	flow_table_free(&ft);

	/* Without a classify hook, flows on other ports are ignored. */
	ft = mk(&l, &cfg, false);
	seg(ft, C, 7000, S, 8000, PA, 50, 60, "* OK IMAP4rev1\r\n", 4);
	assert_int_equal(l.n, 0);
	flow_table_finish(ft, 10);
	flow_table_free(&ft);
}

/* ports_only (live capture's default filter): a flow on another port is
 * not classified, not counted, not even kept as a tombstone. */
static void test_ports_only(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;

	(void)state;
	flow_config_defaults(&cfg);
	cfg.ports_only = true;
	ft = mk(&l, &cfg, true);
	l.verdict = FLOW_SENDER_IS_SERVER;
	seg(ft, C, 7000, S, 8000, PA, 50, 60, "* OK IMAP4rev1\r\n", 4);
	assert_int_equal(l.classify_calls, 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(flow_table_stats(ft)->flows_seen, 0);
	full_session(ft, CP, 10);
	assert_int_equal(l.n, 1);
	flow_table_finish(ft, 20);
	flow_table_free(&ft);
}

/* A retransmission that differs from what was delivered is said with its
 * direction, offset and span; the server's full-size deliveries are not
 * kept, so a later copy of them is counted as not compared. */
static void test_overlap_conflict_notice(void **state)
{
	static char bulk[601];
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;

	(void)state;
	memset(bulk, 'x', 600);
	flow_config_defaults(&cfg);
	ft = mk(&l, &cfg, false);
	seg(ft, C, CP, S, SP, TCP_SYN, 100, 0, NULL, 1);
	seg(ft, S, SP, C, CP, TCP_SYN | A, 500, 101, NULL, 2);
	seg(ft, C, CP, S, SP, PA, 101, 501, "a1 LOGIN alice x\r\n", 3);
	seg(ft, C, CP, S, SP, PA, 101, 501, "a1 LOGIN mallo x\r\n", 4);
	assert_true(has_notice(&l, "session 1: overlap_conflict c2s at offset 9: "
			       "a later copy differs over 5 bytes"));
	assert_memory_equal(l.s[0].bytes[DIR_C2S], "a1 LOGIN alice x\r\n", 18);
	seg(ft, S, SP, C, CP, PA, 501, 119, bulk, 5);
	bulk[0] = 'y';
	seg(ft, S, SP, C, CP, PA, 501, 119, bulk, 6);
	flow_table_finish(ft, 10);
	assert_false(has_notice(&l, "overlap_conflict s2c"));	/* not kept, not compared */
	assert_false(has_notice(&l, "retransmitted s2c"));	/* agreeing or not compared: silent */
	assert_true(has_notice(&l, "18 bytes retransmitted c2s (5 differed; first copy kept)"));
	flow_table_free(&ft);
}

/* Flows are charged to the memory budget: when it is spent, the least
 * recently active flow gives way, and with nothing to give way the new flow
 * is refused and counted.  Everything charged is given back. */
static void test_memory_budget(void **state)
{
	struct mem_budget mb = { 0 };
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;
	size_t base, per;

	(void)state;
	flow_config_defaults(&cfg);
	cfg.budget = &mb;
	ft = mk(&l, &cfg, false);
	base = mb.used;
	assert_true(base > 0);		/* the bucket array */
	seg(ft, C, 1001, S, SP, PA, 1, 1, "a\r\n", 100);
	assert_int_equal(l.n, 1);
	per = mb.used - base;		/* the flow and its two directions */
	assert_true(per > 300);
	mb.limit = base + per + per / 2;
	seg(ft, C, 1002, S, SP, PA, 1, 1, "b\r\n", 200);
	assert_int_equal(l.n, 2);
	assert_true(l.s[0].ended);
	assert_int_equal(l.s[0].why, END_EVICTED);
	assert_true(has_notice(&l, "session 1: evicted for a new flow, the memory budget"));
	assert_int_equal(flow_table_stats(ft)->evicted, 1);
	assert_true(mb.peak <= mb.limit);
	flow_table_finish(ft, 300);
	flow_table_free(&ft);
	assert_int_equal(mb.used, 0);

	mb = (struct mem_budget){ 0 };
	ft = mk(&l, &cfg, false);
	mb.limit = mb.used + 16;	/* less than any flow */
	seg(ft, C, 1001, S, SP, PA, 1, 1, "a\r\n", 100);
	seg(ft, C, 1001, S, SP, PA, 4, 1, "c\r\n", 200);
	assert_int_equal(l.n, 0);
	assert_int_equal(flow_table_stats(ft)->flows_refused, 2);
	assert_true(has_notice(&l, "memory budget spent: packets of new flows are dropped"));
	assert_int_equal(l.nnotices, 1);	/* said once */
	flow_table_finish(ft, 300);
	flow_table_free(&ft);
	assert_int_equal(mb.used, 0);
}

/* Tuples crafted to share a bucket under one seed are spread out under
 * another: the seed is what keeps a capture from making every lookup walk
 * all its flows.  Port 80 and no classify hook: the flows are only held. */
static void test_hash_seed(void **state)
{
	struct flow_config cfg;
	struct log l1, l2;
	struct flow_table *ft1, *ft2;
	struct decode_seg s;
	int found = 0;

	(void)state;
	flow_config_defaults(&cfg);
	cfg.max_flows = 1024;		/* the bucket array stays at 1024 */
	cfg.hash_seed = 1;
	ft1 = mk(&l1, &cfg, false);
	cfg.hash_seed = 2;
	ft2 = mk(&l2, &cfg, false);
	memset(&s, 0, sizeof s);
	s.af = 4;
	s.src[0] = s.dst[0] = 10;
	s.src[3] = 1;
	s.dport = 80;
	s.flags = TCP_SYN;
	for (int host = 2; host < 256 && found < 200; host++) {
		s.dst[3] = (uint8_t)host;
		for (uint32_t port = 1024; port < 65536 && found < 200; port++) {
			s.sport = (uint16_t)port;
			if ((flow_table_hash(ft1, &s) & 1023) != 0)
				continue;
			s.ts_us = ++found;
			flow_table_segment(ft1, &s);
			flow_table_segment(ft2, &s);
		}
	}
	assert_int_equal(found, 200);
	assert_int_equal(flow_table_stats(ft1)->longest_chain, 199);
	assert_true(flow_table_stats(ft2)->longest_chain < 20);
	flow_table_finish(ft1, 1000);
	flow_table_finish(ft2, 1000);
	flow_table_free(&ft1);
	flow_table_free(&ft2);
}

/* A gap made by the out-of-order cap is a loss to a cap: the session is
 * told before it ends, for its "capped" count; a gap of the capture is not. */
static void test_ooo_cap_counted(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;

	(void)state;
	flow_config_defaults(&cfg);
	cfg.max_ooo_bytes = 8;
	ft = mk(&l, &cfg, false);
	seg(ft, C, CP, S, SP, TCP_SYN, 100, 0, NULL, 1);
	seg(ft, S, SP, C, CP, TCP_SYN | A, 500, 101, NULL, 2);
	seg(ft, C, CP, S, SP, A, 101, 501, NULL, 3);
	seg(ft, S, SP, C, CP, PA, 511, 101, "0123456789", 4);	/* 10 ahead, cap 8 */
	seg(ft, C, CP, S, SP, PA, 101, 501, "a\r\n", 5);
	flow_table_finish(ft, 10);
	assert_int_equal(l.n, 1);
	assert_true(l.s[0].ended);
	assert_int_equal(l.s[0].gap[DIR_S2C], 10);
	assert_int_equal(l.s[0].len[DIR_S2C], 10);
	assert_int_equal(l.s[0].capped, 1);
	flow_table_free(&ft);

	/* the same hole, made by the capture: not capped */
	cfg.max_ooo_bytes = 1 << 20;
	ft = mk(&l, &cfg, false);
	seg(ft, C, CP, S, SP, TCP_SYN, 100, 0, NULL, 1);
	seg(ft, S, SP, C, CP, TCP_SYN | A, 500, 101, NULL, 2);
	seg(ft, C, CP, S, SP, A, 101, 501, NULL, 3);
	seg(ft, S, SP, C, CP, PA, 511, 101, "0123456789", 4);
	flow_table_finish(ft, 10);
	assert_int_equal(l.s[0].gap[DIR_S2C], 10);
	assert_int_equal(l.s[0].capped, 0);
	flow_table_free(&ft);
}

static void test_timeout_and_eviction(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;

	(void)state;
	flow_config_defaults(&cfg);
	cfg.idle_timeout_us = 1000;
	cfg.max_flows = 2;
	ft = mk(&l, &cfg, false);
	seg(ft, C, 1001, S, SP, PA, 1, 1, "a\r\n", 100);
	seg(ft, C, 1002, S, SP, PA, 1, 1, "b\r\n", 200);
	seg(ft, C, 1001, S, SP, PA, 4, 1, "c\r\n", 300);
	/* A third flow evicts the least recently active one (1002). */
	seg(ft, C, 1003, S, SP, PA, 1, 1, "d\r\n", 400);
	assert_int_equal(l.n, 3);
	assert_true(l.s[1].ended);
	assert_int_equal(l.s[1].why, END_EVICTED);
	assert_false(l.s[0].ended);
	assert_true(has_notice(&l, "session 2: evicted"));
	assert_int_equal(flow_table_stats(ft)->evicted, 1);
	/* Idle past the timeout: ended at the moment it became idle. */
	seg(ft, C, 1003, S, SP, PA, 4, 1, "e\r\n", 1350);
	assert_true(l.s[0].ended);
	assert_int_equal(l.s[0].why, END_TIMEOUT);
	assert_int_equal(l.s[0].end_ts, 1300);
	assert_false(l.s[2].ended);
	assert_memory_equal(l.s[0].bytes[DIR_C2S], "a\r\nc\r\n", 6);
	assert_int_equal(flow_table_stats(ft)->timed_out, 1);
	flow_table_finish(ft, 2000);
	assert_int_equal(l.s[2].why, END_EOF);
	flow_table_free(&ft);
}

/* A flood of tiny flows through a full table: each kind of per-session
 * notice (evicted, one side only, mid-stream) is given FLOW_MAX_KIND_NOTICES
 * times, and the rest are summed in one line per kind at the end. */
static void test_flood_notices_capped(void **state)
{
	struct flow_config cfg;
	struct log *l = calloc(1, sizeof *l);
	struct flow_table *ft;
	int i;

	(void)state;
	assert_non_null(l);
	flow_config_defaults(&cfg);
	cfg.max_flows = 1;
	ft = mk(l, &cfg, false);
	for (i = 0; i < 30; i++)
		seg(ft, C, (uint16_t)(2000 + i), S, SP, PA, 1, 1, "a1 NOOP\r\n", 100 + i);
	flow_table_finish(ft, 1000);
	assert_int_equal(l->n, 30);
	assert_int_equal(flow_table_stats(ft)->evicted, 29);
	assert_int_equal(l->nnotices, 3 * 10 + 3);
	assert_true(has_notice(l, "19 more sessions evicted by the flow cap"));
	assert_true(has_notice(l, "20 more sessions with only one side captured"));
	assert_true(has_notice(l, "20 more sessions picked up mid-stream"));
	flow_table_free(&ft);
	free(l);
}

/* Only the server's packets: its stream arrives whole, the client's
 * direction is gaps derived from the server's ACKs. */
/* Two flows months apart (ndpi-imaps.pcap): the leap is believed on its
 * second packet, and the flow that made it is neither split in two nor
 * dated before its first packet. */
static void test_clock_leap(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;
	const int64_t later = 18000000000000LL;	/* about 7 months */

	(void)state;
	flow_config_defaults(&cfg);
	ft = mk(&l, &cfg, false);
	seg(ft, C, 1001, S, SP, TCP_SYN, 100, 0, NULL, 100);
	seg(ft, S, SP, C, 1001, TCP_SYN | A, 500, 101, NULL, 200);
	seg(ft, C, 1002, S, SP, TCP_SYN, 100, 0, NULL, later);
	seg(ft, C, 1002, S, SP, TCP_SYN, 100, 0, NULL, later + 10);
	seg(ft, S, SP, C, 1002, TCP_SYN | A, 500, 101, NULL, later + 20);
	seg(ft, C, 1002, S, SP, PA, 101, 501, "a NOOP\r\n", later + 30);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.s[1].fi.first_ts_us, later);
	assert_true(l.s[0].ended);
	assert_int_equal(l.s[0].why, END_TIMEOUT);
	assert_false(l.s[1].ended);
	assert_memory_equal(l.s[1].bytes[DIR_C2S], "a NOOP\r\n", 8);
	/* A second capture file older than the first: the clock stays, but
	 * the new session is dated by its own packet. */
	seg(ft, C, 1003, S, SP, TCP_SYN, 100, 0, NULL, 5000);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.s[2].fi.first_ts_us, 5000);
	flow_table_finish(ft, later + 40);
	flow_table_free(&ft);
}

static void test_one_sided(void **state)
{
	struct flow_config cfg;
	struct log l;
	struct flow_table *ft;

	(void)state;
	flow_config_defaults(&cfg);
	ft = mk(&l, &cfg, false);
	seg(ft, S, SP, C, CP, TCP_SYN | A, 500, 101, NULL, 1);
	seg(ft, S, SP, C, CP, PA, 501, 101, "* OK\r\n", 2);
	seg(ft, S, SP, C, CP, PA, 507, 115, "a OK\r\n", 3);
	seg(ft, S, SP, C, CP, PA, 513, 130, "b OK\r\n", 4);
	flow_table_finish(ft, 5);
	assert_int_equal(l.n, 1);
	assert_false(l.s[0].fi.mid_stream);
	assert_int_equal(l.s[0].fi.client.addr[3], C);
	assert_int_equal(l.s[0].len[DIR_S2C], 18);
	assert_int_equal(l.s[0].len[DIR_C2S], 0);
	assert_int_equal(l.s[0].gap[DIR_C2S], 29);
	assert_true(has_notice(&l, "only the server's side was captured"));
	/* Adjacent ACK-derived gaps make one notice. */
	assert_true(has_notice(&l, "session 1: 29 bytes missing c2s at offset 0"));
	flow_table_free(&ft);
}

static void test_config_ports(void **state)
{
	struct flow_config cfg;
	int i;

	(void)state;
	flow_config_defaults(&cfg);
	assert_int_equal(cfg.n_ports, 2);
	assert_int_equal(flow_config_add_port(&cfg, 143, true), 0);
	assert_int_equal(cfg.n_ports, 2);
	assert_true(cfg.ports[0].tls);
	for (i = 0; i < FLOW_MAX_PORTS - 2; i++)
		assert_int_equal(flow_config_add_port(&cfg, (uint16_t)(2000 + i),
						      false), 0);
	assert_int_equal(flow_config_add_port(&cfg, 9999, false), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_syn_roles_and_fin),
		cmocka_unit_test(test_syn_beats_ports),
		cmocka_unit_test(test_midstream_ports_and_rst),
		cmocka_unit_test(test_session_notices_go_to_session),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_ports_only),
		cmocka_unit_test(test_overlap_conflict_notice),
		cmocka_unit_test(test_timeout_and_eviction),
		cmocka_unit_test(test_ooo_cap_counted),
		cmocka_unit_test(test_memory_budget),
		cmocka_unit_test(test_hash_seed),
		cmocka_unit_test(test_flood_notices_capped),
		cmocka_unit_test(test_one_sided),
		cmocka_unit_test(test_clock_leap),
		cmocka_unit_test(test_config_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
