/* Link → IPv4/IPv6 → TCP: one packet in, one TCP segment (or a reason why
 * not) out.  Bounds are checked before every read; nothing is copied. */
#ifndef IMAPSCOPE_NET_DECODE_H
#define IMAPSCOPE_NET_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "net/capture.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

struct decode_seg {
	int64_t ts_us;
	uint8_t af;		/* 4 or 6 */
	uint8_t src[16];	/* IPv4 uses the first 4 bytes */
	uint8_t dst[16];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;		/* TCP_* */
	uint16_t window;
	const uint8_t *payload;	/* into the packet; valid while it is */
	uint32_t paylen;	/* payload bytes present */
	uint32_t missing;	/* payload bytes the IP length promised but the
				   snap length cut off: a loss for reassembly */
};

/* Why a packet yielded no segment; each has a counter and a name. */
#define DECODE_RESULTS(X) \
	X(DECODE_OK,            "tcp segment") \
	X(DECODE_NOT_IP,        "not IP") \
	X(DECODE_NOT_TCP,       "not TCP") \
	X(DECODE_FRAGMENT,      "IP fragment") \
	X(DECODE_TRUNCATED,     "truncated header") \
	X(DECODE_MALFORMED,     "malformed header") \
	X(DECODE_BAD_LINKTYPE,  "unsupported link type") \
	X(DECODE_BAD_AF,        "unknown address family (NULL/LOOP)") \
	X(DECODE_EXT_UNPARSED,  "IPv6 extension header not parsed (ESP)")

enum decode_result {
#define X(name, text) name,
	DECODE_RESULTS(X)
#undef X
	DECODE_N_RESULTS
};

struct decode_stats {
	uint64_t count[DECODE_N_RESULTS];
	uint64_t snaplen_cut;	/* segments with missing > 0 */
};

/* Decode pkt into seg_r.  Counts the result in stats (which may be NULL). */
enum decode_result decode_packet(const struct capture_pkt *pkt,
				 struct decode_seg *seg_r,
				 struct decode_stats *stats);
const char *decode_result_name(enum decode_result r);
/* Whether libpcap link type dlt is one decode_packet understands. */
bool decode_linktype_supported(int dlt);

#endif
