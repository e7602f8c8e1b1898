/* Link → IPv4/IPv6 → TCP.  A cursor walks the packet and every read is
 * preceded by a check against the end of the captured bytes; nothing is
 * copied.  TCP checksums are not verified: captures taken on the sending
 * host routinely carry offloaded (not yet computed) checksums. */
#include "net/decode.h"

#include <string.h>

#include "util/cursor.h"

/* Link types as written in capture files (LINKTYPE_*).  Spelled out here
 * rather than taken from <pcap/dlt.h> because DLT_RAW differs by platform
 * and libpcap may hand us either value. */
enum {
	LT_NULL = 0,
	LT_ETHERNET = 1,
	LT_RAW_A = 12,		/* DLT_RAW on most platforms */
	LT_RAW_B = 14,		/* DLT_RAW on OpenBSD */
	LT_RAW = 101,		/* LINKTYPE_RAW */
	LT_LOOP = 108,
	LT_LINUX_SLL = 113,
	LT_IPV4 = 228,
	LT_IPV6 = 229,
	LT_LINUX_SLL2 = 276,
};

#define ETH_HDR_LEN        14
#define VLAN_TAG_LEN       4
#define DECODE_MAX_VLAN_TAGS 4	/* QinQ is two; more is a malformed frame */
#define SLL_HDR_LEN        16
#define SLL2_HDR_LEN       20
#define NULL_HDR_LEN       4
#define IPV4_MIN_HDR       20
#define IPV6_HDR_LEN       40
#define TCP_MIN_HDR        20

#define ETHERTYPE_IPV4     0x0800
#define ETHERTYPE_IPV6     0x86dd
#define ETHERTYPE_VLAN     0x8100
#define ETHERTYPE_QINQ     0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100

#define IPPROTO_HOPOPTS_   0
#define IPPROTO_TCP_       6
#define IPPROTO_ROUTING_   43
#define IPPROTO_FRAGMENT_  44
#define IPPROTO_ESP_       50
#define IPPROTO_AH_        51
#define IPPROTO_NONE_      59
#define IPPROTO_DSTOPTS_   60
#define IPPROTO_MH_        135	/* Mobility */
#define IPPROTO_HIP_       139
#define IPPROTO_SHIM6_     140
#define IPPROTO_EXP1_      253	/* RFC 3692 experiments */
#define IPPROTO_EXP2_      254
#define IPV6_EXT_MIN       8

/* BSD address families that mean IPv6 (NetBSD/OpenBSD, FreeBSD, macOS). */
#define BSD_AF_INET        2
#define BSD_AF_INET6_A     24
#define BSD_AF_INET6_B     28
#define BSD_AF_INET6_C     30

static const char *const result_names[] = {
#define X(name, text) text,
	DECODE_RESULTS(X)
#undef X
};

const char *decode_result_name(enum decode_result r)
{
	if ((unsigned)r >= DECODE_N_RESULTS)
		return "unknown";
	return result_names[r];
}

bool decode_linktype_supported(int dlt)
{
	switch (dlt) {
	case LT_NULL: case LT_ETHERNET: case LT_RAW_A: case LT_RAW_B:
	case LT_RAW: case LT_LOOP: case LT_LINUX_SLL: case LT_LINUX_SLL2:
	case LT_IPV4: case LT_IPV6:
		return true;
	default:
		return false;
	}
}

/* Shared by every link layer that names its payload with an EtherType:
 * skips 802.1Q / 802.1ad tags and reports the IP version, 0 if not IP. */
static enum decode_result ethertype_to_ip(struct cursor *c, uint16_t type,
					  int *ipver_r)
{
	int tags = 0;

	while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ ||
	       type == ETHERTYPE_QINQ_OLD) {
		const uint8_t *tag;

		if (++tags > DECODE_MAX_VLAN_TAGS)
			return DECODE_MALFORMED;
		if ((tag = cursor_take(c, VLAN_TAG_LEN)) == NULL)
			return DECODE_TRUNCATED;
		type = cursor_load_be16(tag + 2);
	}
	if (type == ETHERTYPE_IPV4)
		*ipver_r = 4;
	else if (type == ETHERTYPE_IPV6)
		*ipver_r = 6;
	else
		return DECODE_NOT_IP;
	return DECODE_OK;
}

/* The BSD loopback header is the AF in the writer's byte order (NULL) or in
 * network order (LOOP); real files break that rule, so accept both. */
static enum decode_result bsd_af_to_ip(struct cursor *c, int *ipver_r)
{
	uint32_t be, le;
	const uint8_t *p = cursor_take(c, NULL_HDR_LEN);

	if (p == NULL)
		return DECODE_TRUNCATED;
	be = cursor_load_be32(p);
	le = cursor_load_le32(p);
	if (be == BSD_AF_INET || le == BSD_AF_INET) {
		*ipver_r = 4;
		return DECODE_OK;
	}
	if (be == BSD_AF_INET6_A || le == BSD_AF_INET6_A ||
	    be == BSD_AF_INET6_B || le == BSD_AF_INET6_B ||
	    be == BSD_AF_INET6_C || le == BSD_AF_INET6_C) {
		*ipver_r = 6;
		return DECODE_OK;
	}
	/* Loopback carries IP and little else: a family we do not know is
	 * more likely a damaged header than traffic to ignore, so it is
	 * counted apart and said. */
	return DECODE_BAD_AF;
}

/* Raw IP: the version nibble says which. */
static enum decode_result raw_to_ip(const struct cursor *c, int *ipver_r)
{
	const uint8_t *p = cursor_peek(c, 1);

	if (p == NULL)
		return DECODE_TRUNCATED;
	*ipver_r = p[0] >> 4;
	if (*ipver_r != 4 && *ipver_r != 6)
		return DECODE_NOT_IP;
	return DECODE_OK;
}

/* Skip the link header; *ipver_r is 4 or 6 on DECODE_OK. */
static enum decode_result decode_link(int linktype, struct cursor *c,
				      int *ipver_r)
{
	const uint8_t *h;

	switch (linktype) {
	case LT_ETHERNET:
		if ((h = cursor_take(c, ETH_HDR_LEN)) == NULL)
			return DECODE_TRUNCATED;
		return ethertype_to_ip(c, cursor_load_be16(h + ETH_HDR_LEN - 2), ipver_r);
	case LT_LINUX_SLL:
		if ((h = cursor_take(c, SLL_HDR_LEN)) == NULL)
			return DECODE_TRUNCATED;
		return ethertype_to_ip(c, cursor_load_be16(h + SLL_HDR_LEN - 2), ipver_r);
	case LT_LINUX_SLL2:
		if ((h = cursor_take(c, SLL2_HDR_LEN)) == NULL)
			return DECODE_TRUNCATED;
		return ethertype_to_ip(c, cursor_load_be16(h), ipver_r);
	case LT_NULL:
	case LT_LOOP:
		return bsd_af_to_ip(c, ipver_r);
	case LT_RAW_A: case LT_RAW_B: case LT_RAW:
		return raw_to_ip(c, ipver_r);
	case LT_IPV4:
	case LT_IPV6: {
		enum decode_result r = raw_to_ip(c, ipver_r);

		if (r == DECODE_OK && *ipver_r != (linktype == LT_IPV4 ? 4 : 6))
			return DECODE_MALFORMED;
		return r;
	}
	default:
		return DECODE_BAD_LINKTYPE;
	}
}

/* The IP layer's view of where TCP starts and where the IP datagram says
 * it ends (ip_end may lie past c->end when the snap length cut it). */
struct ip_span {
	const uint8_t *l4;
	size_t l4_len;		/* bytes the IP header promises for TCP */
};

/* An IP length of 0 appears in captures taken before TSO/GSO splits a
 * super-segment; the captured bytes are the best length we have then. */
static size_t promised_or_captured(size_t promised, size_t captured)
{
	return promised == 0 ? captured : promised;
}

static enum decode_result decode_ipv4(struct cursor *c, struct decode_seg *seg,
				      struct ip_span *sp)
{
	const uint8_t *ip = cursor_peek(c, IPV4_MIN_HDR);
	size_t ihl, total;
	uint16_t frag;

	if (ip == NULL)
		return DECODE_TRUNCATED;
	if ((ip[0] >> 4) != 4)
		return DECODE_MALFORMED;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < IPV4_MIN_HDR)
		return DECODE_MALFORMED;
	if (cursor_left(c) < ihl)
		return DECODE_TRUNCATED;
	total = promised_or_captured(cursor_load_be16(ip + 2), cursor_left(c));
	if (total < ihl)
		return DECODE_MALFORMED;
	frag = cursor_load_be16(ip + 6);
	if ((frag & 0x3fff) != 0)	/* MF set or a non-zero offset */
		return DECODE_FRAGMENT;
	if (ip[9] != IPPROTO_TCP_)
		return DECODE_NOT_TCP;
	seg->af = 4;
	memcpy(seg->src, ip + 12, 4);
	memcpy(seg->dst, ip + 16, 4);
	sp->l4 = ip + ihl;
	sp->l4_len = total - ihl;
	return DECODE_OK;
}

/* The length of the extension header nh at c, or 0 when nh is not one
 * (an upper-layer protocol, or No Next Header).  ESP is reported apart:
 * what follows it is encrypted. */
static enum decode_result ipv6_ext_len(const struct cursor *c, uint8_t nh,
				       size_t *len_r)
{
	const uint8_t *e = cursor_peek(c, IPV6_EXT_MIN);

	*len_r = 0;
	switch (nh) {
	case IPPROTO_HOPOPTS_: case IPPROTO_ROUTING_: case IPPROTO_DSTOPTS_:
	case IPPROTO_MH_: case IPPROTO_HIP_: case IPPROTO_SHIM6_:
	case IPPROTO_EXP1_: case IPPROTO_EXP2_:
		/* RFC 6564's uniform layout: length in 8-octet units, less one. */
		if (e == NULL)
			return DECODE_TRUNCATED;
		*len_r = ((size_t)e[1] + 1) * 8;
		return DECODE_OK;
	case IPPROTO_AH_:
		if (e == NULL)
			return DECODE_TRUNCATED;
		*len_r = ((size_t)e[1] + 2) * 4;
		return DECODE_OK;
	case IPPROTO_FRAGMENT_:
		if (e == NULL)
			return DECODE_TRUNCATED;
		/* Offset 0 and no more fragments: an "atomic" fragment
		 * (RFC 6946), a whole datagram. */
		if ((cursor_load_be16(e + 2) & 0xfff9) != 0)
			return DECODE_FRAGMENT;
		*len_r = IPV6_EXT_MIN;
		return DECODE_OK;
	case IPPROTO_ESP_:
		return DECODE_EXT_UNPARSED;
	default:	/* includes IPPROTO_NONE_ */
		return DECODE_NOT_TCP;
	}
}

/* Walk the IPv6 extension headers up to TCP.  nh is the first next-header
 * value, c points just past the fixed header, left is the payload length
 * still promised.  There is no count limit (Linux has none either): every
 * header is at least 8 bytes and must fit in both the captured bytes and
 * the promised length, so the packet itself bounds the walk. */
static enum decode_result ipv6_walk_ext(struct cursor *c, uint8_t nh,
					size_t *left)
{
	while (nh != IPPROTO_TCP_) {
		size_t len;
		const uint8_t *ext;
		enum decode_result r = ipv6_ext_len(c, nh, &len);

		if (r != DECODE_OK)
			return r;
		if (len > *left)
			return DECODE_MALFORMED;
		if ((ext = cursor_take(c, len)) == NULL)
			return DECODE_TRUNCATED;
		nh = ext[0];
		*left -= len;
	}
	return DECODE_OK;
}

static enum decode_result decode_ipv6(struct cursor *c, struct decode_seg *seg,
				      struct ip_span *sp)
{
	const uint8_t *ip = cursor_peek(c, IPV6_HDR_LEN);
	size_t left;
	enum decode_result r;

	if (ip == NULL)
		return DECODE_TRUNCATED;
	if ((ip[0] >> 4) != 6)
		return DECODE_MALFORMED;
	(void)cursor_skip(c, IPV6_HDR_LEN);
	left = promised_or_captured(cursor_load_be16(ip + 4), cursor_left(c));
	r = ipv6_walk_ext(c, ip[6], &left);
	if (r != DECODE_OK)
		return r;
	seg->af = 6;
	memcpy(seg->src, ip + 8, 16);
	memcpy(seg->dst, ip + 24, 16);
	sp->l4 = c->p;
	sp->l4_len = left;
	return DECODE_OK;
}

/* TCP header and payload.  The payload ends where IP says (which trims
 * Ethernet padding); bytes IP promised but the snap length cut off are
 * reported in missing, if the TCP header itself is whole. */
static enum decode_result decode_tcp(const struct capture_pkt *pkt,
				     const uint8_t *end,
				     const struct ip_span *sp,
				     struct decode_seg *seg)
{
	const uint8_t *t = sp->l4;
	size_t captured = (size_t)(end - t), hlen, avail;

	if (sp->l4_len < TCP_MIN_HDR)
		return captured < sp->l4_len ? DECODE_TRUNCATED : DECODE_MALFORMED;
	if (captured < TCP_MIN_HDR)
		return DECODE_TRUNCATED;
	hlen = (size_t)(t[12] >> 4) * 4;
	if (hlen < TCP_MIN_HDR || hlen > sp->l4_len)
		return DECODE_MALFORMED;
	if (captured < hlen)
		return DECODE_TRUNCATED;
	avail = captured < sp->l4_len ? captured : sp->l4_len;
	if (captured < sp->l4_len && pkt->caplen >= pkt->len)
		return DECODE_MALFORMED;	/* IP claims bytes the wire never had */
	seg->sport = cursor_load_be16(t);
	seg->dport = cursor_load_be16(t + 2);
	seg->seq = cursor_load_be32(t + 4);
	seg->ack = cursor_load_be32(t + 8);
	seg->flags = t[13];
	seg->window = cursor_load_be16(t + 14);
	seg->payload = t + hlen;
	seg->paylen = (uint32_t)(avail - hlen);
	seg->missing = (uint32_t)(sp->l4_len - avail);
	return DECODE_OK;
}

static enum decode_result decode_inner(const struct capture_pkt *pkt,
				       struct decode_seg *seg)
{
	struct cursor c = cursor_make(pkt->data, pkt->caplen);
	struct ip_span sp;
	enum decode_result r;
	int ipver = 0;

	r = decode_link(pkt->linktype, &c, &ipver);
	if (r != DECODE_OK)
		return r;
	if (ipver == 4)
		r = decode_ipv4(&c, seg, &sp);
	else
		r = decode_ipv6(&c, seg, &sp);
	if (r != DECODE_OK)
		return r;
	return decode_tcp(pkt, c.end, &sp, seg);
}

enum decode_result decode_packet(const struct capture_pkt *pkt,
				 struct decode_seg *seg_r,
				 struct decode_stats *stats)
{
	enum decode_result r;

	memset(seg_r, 0, sizeof *seg_r);
	seg_r->ts_us = pkt->ts_us;
	r = pkt->data == NULL ? DECODE_TRUNCATED : decode_inner(pkt, seg_r);
	if (stats != NULL) {
		stats->count[r]++;
		if (r == DECODE_OK && seg_r->missing > 0)
			stats->snaplen_cut++;
	}
	return r;
}
