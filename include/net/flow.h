/* The flow table: TCP segments in, per-session ordered byte streams out.
 *
 * Flows are keyed by the 4-tuple.  The client is the side that sent the SYN;
 * without a SYN, the side not on an IMAP port; without that, the side that the
 * classify hook names from the first payload.  Each direction goes through
 * reassembly (net/reassembly.h) and reaches the layer above through the
 * byte-layer ops of the hooks.  All time is capture time. */
#ifndef IMAPSCOPE_NET_FLOW_H
#define IMAPSCOPE_NET_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/decode.h"
#include "util/buf.h"
#include "util/byte_layer.h"
#include "util/notice.h"

#define FLOW_DEFAULT_MAX_FLOWS      65536
#define FLOW_DEFAULT_MAX_OOO_BYTES  (4u << 20)	/* per direction */
#define FLOW_IDLE_TIMEOUT_US        (600LL * 1000000)	/* 10 min, capture time */
#define FLOW_MAX_PORTS              64

struct flow_endpoint {
	uint8_t af;		/* 4 or 6 */
	uint8_t addr[16];
	uint16_t port;
};

struct flow_info {
	uint64_t session_id;	/* 1, 2, ... in order of opening */
	struct flow_endpoint client, server;
	bool mid_stream;	/* no SYN was seen */
	bool implicit_tls;	/* the server port is 993 or a PORT/tls */
	int64_t first_ts_us;	/* the flow's first packet */
	uint64_t first_frame;	/* its record (a frame id, util/byte_layer.h) */
};

enum flow_verdict {
	FLOW_NOT_IMAP = 0,	/* leave this flow alone */
	FLOW_SENDER_IS_CLIENT,	/* the payload's sender is the client */
	FLOW_SENDER_IS_SERVER,
	FLOW_UNSURE,		/* IMAP-like, but the sender's role is unclear */
};

struct flow_hooks {
	void *ctx;
	/* Look at the first payload of a flow that is not on an IMAP port:
	 * is it IMAP, and who sent it?  May be NULL (such flows are ignored). */
	enum flow_verdict (*classify)(void *ctx, const uint8_t *p, size_t n);
	/* A new session.  Returns the ctx passed to ops, or NULL to ignore the
	 * flow.  fi is valid only during the call. */
	void *(*open)(void *ctx, const struct flow_info *fi);
	const struct byte_layer_ops *ops;
	/* Notices that concern no followed session (n->session is 0, or the
	 * id of a flow whose open() returned NULL).  Those about a followed
	 * session go to ops->notice instead, when it is set. */
	notice_fn *notice;
};

struct flow_port {
	uint16_t port;
	bool tls;
};

struct flow_config {
	size_t max_flows;
	size_t max_ooo_bytes;		/* out-of-order bytes queued per direction */
	int64_t idle_timeout_us;
	struct flow_port ports[FLOW_MAX_PORTS];	/* 143 and 993/tls included */
	size_t n_ports;
	/* Only segments to or from one of ports are looked at; the rest
	 * leave no trace.  Live capture sets it when its default filter lets
	 * every TCP behind IPv6 extension headers through. */
	bool ports_only;
	struct mem_budget *budget;	/* may be NULL */
	/* Where the table reads the capture record (a frame id,
	 * util/byte_layer.h) of the segment it is given; NULL: none */
	const uint64_t *frame_src;
	uint64_t hash_seed;		/* 0: random, drawn per table */
};

struct flow_stats {
	uint64_t flows_seen;
	uint64_t sessions_opened;
	uint64_t flows_ignored;		/* not IMAP */
	uint64_t evicted;
	uint64_t timed_out;
	uint64_t retransmitted_bytes;
	uint64_t overlap_conflicts;	/* overlapping bytes that differed */
	uint64_t gaps;
	uint64_t gap_bytes;
	uint64_t ooo_dropped_bytes;	/* out-of-order bytes dropped by the cap */
	uint64_t flows_refused;		/* new flows refused by the memory budget */
	uint64_t longest_chain;		/* flows passed over in one hash lookup */
};

struct flow_table;

/* Fills cfg with the defaults and the two standard ports. */
void flow_config_defaults(struct flow_config *cfg);
/* Add a port; -1 if the list is full. */
int flow_config_add_port(struct flow_config *cfg, uint16_t port, bool tls) WUR;

struct flow_table *flow_table_new(const struct flow_config *cfg,
				  const struct flow_hooks *hooks);
/* Feed one decoded segment.  Also expires idle flows on capture time (a
 * timed-out session ends with the timestamp at which it became idle) and,
 * at the flow cap, evicts the least recently active flow.  The hooks are
 * called from inside this function and must not call back into the table. */
void flow_table_segment(struct flow_table *ft, const struct decode_seg *seg);
/* End of input: every open session gets its remaining bytes, gaps for its
 * holes, and end(END_EOF). */
void flow_table_finish(struct flow_table *ft, int64_t ts_us);
/* The loss and duplication counters (retransmitted_bytes .. ooo_dropped_bytes)
 * are added when a session ends; after flow_table_finish they are complete. */
const struct flow_stats *flow_table_stats(const struct flow_table *ft);
/* The table's hash of seg's 4-tuple (either direction gives the same).
 * Tests use it to show that collisions found for one seed do not hold for
 * another. */
uint64_t flow_table_hash(const struct flow_table *ft, const struct decode_seg *seg);
/* Frees every flow without calling any hook: call flow_table_finish first. */
void flow_table_free(struct flow_table **ft);

/* "192.0.2.1:143" or "[2001:db8::1]:143"; buf must hold FLOW_ADDRSTRLEN. */
#define FLOW_ADDRSTRLEN 56
const char *flow_endpoint_str(const struct flow_endpoint *ep, char buf[FLOW_ADDRSTRLEN]);

#endif
