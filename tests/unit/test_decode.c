/* Decoding hand-built packets: every link type, IP options and extension
 * headers, fragments, padding, and every truncation of a packet. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "net/decode.h"

#define PKT_MAX 512

struct pkt {
	uint8_t b[PKT_MAX];
	size_t n;
};

static void put(struct pkt *p, const void *d, size_t n)
{
	assert_true(p->n + n <= PKT_MAX);
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void put16(struct pkt *p, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(p, b, 2);
}

static void put32(struct pkt *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p, (uint16_t)v);
}

static void put_zero(struct pkt *p, size_t n)
{
	static const uint8_t z[64];

	assert_true(n <= sizeof z);
	put(p, z, n);
}

static const uint8_t PAYLOAD[] = "a1 LOGIN x y\r\n";
#define PAYLEN (sizeof PAYLOAD - 1)
#define TCP_LEN (20 + PAYLEN)

static void put_tcp(struct pkt *p)
{
	put16(p, 50000);
	put16(p, 143);
	put32(p, 0x01020304);
	put32(p, 0xa0b0c0d0);
	put16(p, (5 << 12) | TCP_ACK | TCP_PSH);
	put16(p, 4096);
	put32(p, 0);		/* checksum (never checked) and urgent */
	put(p, PAYLOAD, PAYLEN);
}

/* IPv4 with opt_words of options and the given fragment field. */
static void put_ipv4(struct pkt *p, int opt_words, uint16_t frag, uint8_t proto)
{
	put16(p, (uint16_t)(((0x40 | (5 + opt_words)) << 8)));
	put16(p, (uint16_t)(20 + opt_words * 4 + TCP_LEN));
	put16(p, 0x1234);	/* identification */
	put16(p, frag);
	put16(p, (uint16_t)((64 << 8) | proto));
	put16(p, 0);
	put32(p, 0xc0000201);	/* 192.0.2.1 */
	put32(p, 0xc0000202);
	put_zero(p, (size_t)opt_words * 4);
}

static void put_ipv6(struct pkt *p, uint8_t nh, uint16_t extlen)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

	put32(p, 0x60000000);
	put16(p, (uint16_t)(extlen + TCP_LEN));
	put16(p, (uint16_t)((nh << 8) | 64));
	put(p, src, 16);
	put(p, dst, 16);
}

static void put_eth(struct pkt *p, uint16_t type)
{
	put_zero(p, 12);
	put16(p, type);
}

static enum decode_result run(const struct pkt *p, int linktype,
			      uint32_t caplen, struct decode_seg *seg)
{
	struct capture_pkt cp = { 1234567, p->b, caplen, (uint32_t)p->n,
				  linktype, 1 };

	return decode_packet(&cp, seg, NULL);
}

static void expect_ok(const struct pkt *p, int linktype, int af)
{
	struct decode_seg seg;

	assert_int_equal(run(p, linktype, (uint32_t)p->n, &seg), DECODE_OK);
	assert_int_equal(seg.af, af);
	assert_int_equal(seg.ts_us, 1234567);
	assert_int_equal(seg.sport, 50000);
	assert_int_equal(seg.dport, 143);
	assert_int_equal(seg.seq, 0x01020304);
	assert_int_equal(seg.ack, 0xa0b0c0d0);
	assert_int_equal(seg.flags, TCP_ACK | TCP_PSH);
	assert_int_equal(seg.window, 4096);
	assert_int_equal(seg.paylen, PAYLEN);
	assert_int_equal(seg.missing, 0);
	assert_memory_equal(seg.payload, PAYLOAD, PAYLEN);
	if (af == 4) {
		assert_int_equal(seg.src[0], 192);
		assert_int_equal(seg.dst[3], 2);
	} else {
		assert_int_equal(seg.src[0], 0x20);
		assert_int_equal(seg.dst[15], 2);
	}
}

static void v4(struct pkt *p)
{
	put_ipv4(p, 0, 0x4000, 6);	/* DF */
	put_tcp(p);
}

static void v6(struct pkt *p)
{
	put_ipv6(p, 6, 0);
	put_tcp(p);
}

static void test_ethernet_and_vlans(void **state)
{
	static const uint16_t tags[][3] = {
		{ 0 }, { 0x8100 }, { 0x88a8, 0x8100 }, { 0x9100, 0x8100 },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < 4; i++) {
		struct pkt p = { .n = 0 };
		uint16_t first = tags[i][0] ? tags[i][0] : 0x0800;

		put_eth(&p, first);
		for (j = 0; j < 3 && tags[i][j]; j++) {
			put16(&p, 100);		/* TCI */
			put16(&p, tags[i][j + 1] ? tags[i][j + 1] : 0x0800);
		}
		v4(&p);
		expect_ok(&p, 1, 4);
	}
	{
		struct pkt p = { .n = 0 };

		put_eth(&p, 0x86dd);
		v6(&p);
		expect_ok(&p, 1, 6);
	}
}

/* A short frame is padded to 60 bytes; the IP length says where TCP ends. */
static void test_ethernet_padding_trimmed(void **state)
{
	struct pkt p = { .n = 0 };
	struct decode_seg seg;

	(void)state;
	put_eth(&p, 0x0800);
	v4(&p);
	put_zero(&p, 8);
	assert_int_equal(run(&p, 1, (uint32_t)p.n, &seg), DECODE_OK);
	assert_int_equal(seg.paylen, PAYLEN);
}

static void test_linux_cooked(void **state)
{
	struct pkt p = { .n = 0 };

	(void)state;
	put_zero(&p, 14);
	put16(&p, 0x0800);
	v4(&p);
	expect_ok(&p, 113, 4);
	p.n = 0;
	put_zero(&p, 14);
	put16(&p, 0x8100);	/* a VLAN tag inside cooked capture */
	put16(&p, 7);
	put16(&p, 0x86dd);
	v6(&p);
	expect_ok(&p, 113, 6);
	p.n = 0;
	put16(&p, 0x86dd);
	put_zero(&p, 18);
	v6(&p);
	expect_ok(&p, 276, 6);
}

static void test_bsd_null_and_loop(void **state)
{
	static const uint8_t hdrs[][4] = {
		{ 2, 0, 0, 0 }, { 0, 0, 0, 2 },		/* AF_INET, both orders */
		{ 24, 0, 0, 0 }, { 0, 0, 0, 28 }, { 30, 0, 0, 0 },
	};
	static const int lts[] = { 0, 108 };
	size_t i, l;

	(void)state;
	for (l = 0; l < 2; l++) {
		for (i = 0; i < 5; i++) {
			struct pkt p = { .n = 0 };

			put(&p, hdrs[i], 4);
			if (i < 2)
				v4(&p);
			else
				v6(&p);
			expect_ok(&p, lts[l], i < 2 ? 4 : 6);
		}
	}
	{
		struct pkt p = { .n = 0 };
		struct decode_seg seg;

		put32(&p, 7);	/* AF 7: no family we know */
		v4(&p);
		assert_int_equal(run(&p, 0, (uint32_t)p.n, &seg), DECODE_BAD_AF);
		assert_int_equal(run(&p, 108, (uint32_t)p.n, &seg), DECODE_BAD_AF);
		assert_string_equal(decode_result_name(DECODE_BAD_AF),
				    "unknown address family (NULL/LOOP)");
	}
}

static void test_raw_ipv4_ipv6(void **state)
{
	static const int raw[] = { 12, 14, 101 };
	struct pkt a = { .n = 0 }, b = { .n = 0 };
	struct decode_seg seg;
	size_t i;

	(void)state;
	v4(&a);
	v6(&b);
	for (i = 0; i < 3; i++) {
		expect_ok(&a, raw[i], 4);
		expect_ok(&b, raw[i], 6);
	}
	expect_ok(&a, 228, 4);
	expect_ok(&b, 229, 6);
	assert_int_equal(run(&b, 228, (uint32_t)b.n, &seg), DECODE_MALFORMED);
	assert_int_equal(run(&a, 229, (uint32_t)a.n, &seg), DECODE_MALFORMED);
	assert_int_equal(run(&a, 147, (uint32_t)a.n, &seg), DECODE_BAD_LINKTYPE);
	assert_true(decode_linktype_supported(276));
	assert_false(decode_linktype_supported(147));
}

static void test_ipv4_options_and_fragments(void **state)
{
	struct pkt p = { .n = 0 };
	struct decode_seg seg;

	(void)state;
	put_ipv4(&p, 3, 0, 6);
	put_tcp(&p);
	expect_ok(&p, 101, 4);
	p.n = 0;
	put_ipv4(&p, 0, 0x2000, 6);	/* MF */
	put_tcp(&p);
	assert_int_equal(run(&p, 101, (uint32_t)p.n, &seg), DECODE_FRAGMENT);
	p.n = 0;
	put_ipv4(&p, 0, 0x0010, 6);	/* a later fragment */
	put_tcp(&p);
	assert_int_equal(run(&p, 101, (uint32_t)p.n, &seg), DECODE_FRAGMENT);
	p.n = 0;
	put_ipv4(&p, 0, 0, 17);
	put_tcp(&p);
	assert_int_equal(run(&p, 101, (uint32_t)p.n, &seg), DECODE_NOT_TCP);
}

static void test_ipv6_extension_headers(void **state)
{
	struct pkt p = { .n = 0 };
	struct decode_seg seg;

	(void)state;
	/* hop-by-hop (8) → routing (24) → AH (16) → dest opts (8) → TCP */
	put_ipv6(&p, 0, 8 + 24 + 16 + 8);
	put16(&p, (43 << 8) | 0);
	put_zero(&p, 6);
	put16(&p, (51 << 8) | 2);
	put_zero(&p, 22);
	put16(&p, (60 << 8) | 2);
	put_zero(&p, 14);
	put16(&p, (6 << 8) | 0);
	put_zero(&p, 6);
	put_tcp(&p);
	expect_ok(&p, 101, 6);
	/* An atomic fragment header is a whole datagram. */
	p.n = 0;
	put_ipv6(&p, 44, 8);
	put16(&p, 6 << 8);
	put16(&p, 0);
	put32(&p, 99);
	put_tcp(&p);
	expect_ok(&p, 101, 6);
	/* A real fragment. */
	p.n = 0;
	put_ipv6(&p, 44, 8);
	put16(&p, 6 << 8);
	put16(&p, 1);		/* M flag */
	put32(&p, 99);
	put_tcp(&p);
	assert_int_equal(run(&p, 101, (uint32_t)p.n, &seg), DECODE_FRAGMENT);
	/* No next header, and an extension longer than the datagram. */
	p.n = 0;
	put_ipv6(&p, 59, 0);
	put_tcp(&p);
	assert_int_equal(run(&p, 101, (uint32_t)p.n, &seg), DECODE_NOT_TCP);
	p.n = 0;
	put_ipv6(&p, 60, 0);
	put16(&p, (6 << 8) | 200);
	put_zero(&p, 6);
	put_tcp(&p);
	assert_int_equal(run(&p, 101, (uint32_t)p.n, &seg), DECODE_MALFORMED);
}

/* n destination-options headers of 8 bytes, then TCP. */
static void put_ipv6_dstopts_chain(struct pkt *p, int n)
{
	int i;

	put_ipv6(p, n > 0 ? 60 : 6, (uint16_t)(n * 8));
	for (i = 0; i < n; i++) {
		put16(p, (uint16_t)((i + 1 < n ? 60 : 6) << 8));
		put_zero(p, 6);
	}
	put_tcp(p);
}

/* Linux accepts a chain of any length the packet holds; so do we.  The
 * length of the packet, not a count, bounds the walk. */
static void test_ipv6_long_chains(void **state)
{
	static const int lens[] = { 0, 1, 8, 9, 10, 30, 50 };
	struct decode_stats st;
	struct decode_seg seg;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		struct pkt p = { .n = 0 };

		put_ipv6_dstopts_chain(&p, lens[i]);
		expect_ok(&p, 101, 6);
	}
	/* A chain cut inside by the snap length is truncated, not looped. */
	{
		struct pkt p = { .n = 0 };
		uint32_t cut;

		put_ipv6_dstopts_chain(&p, 50);
		for (cut = 40; cut < 40 + 50 * 8; cut += 3)
			assert_int_equal(run(&p, 101, cut, &seg), DECODE_TRUNCATED);
	}
	/* A chain that promises more than the datagram holds. */
	{
		struct pkt p = { .n = 0 };

		put_ipv6_dstopts_chain(&p, 20);
		p.b[4] = 0;
		p.b[5] = 8 * 10;	/* payload length: half the chain */
		assert_int_equal(run(&p, 101, (uint32_t)p.n, &seg), DECODE_MALFORMED);
	}
	/* Mobility, HIP, Shim6 and the experimental values share the RFC
	 * 6564 layout: walked.  ESP hides what follows: counted apart. */
	{
		static const uint8_t generic[] = { 135, 139, 140, 253, 254 };
		struct pkt p = { .n = 0 };

		for (i = 0; i < sizeof generic; i++) {
			p.n = 0;
			put_ipv6(&p, generic[i], 8);
			put16(&p, 6 << 8);
			put_zero(&p, 6);
			put_tcp(&p);
			expect_ok(&p, 101, 6);
		}
		memset(&st, 0, sizeof st);
		p.n = 0;
		put_ipv6(&p, 60, 16);
		put16(&p, 50 << 8);
		put_zero(&p, 6);
		put32(&p, 0x1000);	/* SPI */
		put32(&p, 1);		/* sequence */
		put_tcp(&p);
		assert_int_equal(decode_packet(&(struct capture_pkt){ 1, p.b,
				 (uint32_t)p.n, (uint32_t)p.n, 101, 1 }, &seg, &st),
				 DECODE_EXT_UNPARSED);
		assert_int_equal(st.count[DECODE_EXT_UNPARSED], 1);
	}
}

/* Every cut of an Ethernet/IPv4/TCP packet: before the TCP header is whole
 * it is a truncated header, after it a segment with `missing` bytes. */
static void test_every_truncation(void **state)
{
	struct pkt p = { .n = 0 };
	struct decode_stats st;
	size_t cut, hdr = 14 + 20 + 20;

	(void)state;
	memset(&st, 0, sizeof st);
	put_eth(&p, 0x8100);
	put16(&p, 1);
	put16(&p, 0x0800);
	v4(&p);
	hdr += 4;
	for (cut = 0; cut <= p.n; cut++) {
		struct capture_pkt cp = { 1, p.b, (uint32_t)cut, (uint32_t)p.n, 1, 1 };
		struct decode_seg seg;
		enum decode_result r = decode_packet(&cp, &seg, &st);

		if (cut < hdr) {
			assert_int_equal(r, DECODE_TRUNCATED);
			continue;
		}
		assert_int_equal(r, DECODE_OK);
		assert_int_equal(seg.paylen, cut - hdr);
		assert_int_equal(seg.missing, p.n - cut);
		assert_memory_equal(seg.payload, PAYLOAD, seg.paylen);
	}
	assert_int_equal(st.count[DECODE_TRUNCATED], hdr);
	assert_int_equal(st.count[DECODE_OK], PAYLEN + 1);
	assert_int_equal(st.snaplen_cut, PAYLEN);
	assert_string_equal(decode_result_name(DECODE_FRAGMENT), "IP fragment");
}

static void test_malformed(void **state)
{
	struct pkt p = { .n = 0 };
	struct decode_seg seg;

	(void)state;
	v4(&p);
	p.b[0] = 0x44;		/* IHL 4 */
	assert_int_equal(run(&p, 228, (uint32_t)p.n, &seg), DECODE_MALFORMED);
	p.b[0] = 0x45;
	p.b[20 + 12] = 0x40;	/* TCP data offset 4 */
	assert_int_equal(run(&p, 228, (uint32_t)p.n, &seg), DECODE_MALFORMED);
	p.b[20 + 12] = 0xf0;	/* data offset 60 > segment */
	assert_int_equal(run(&p, 228, (uint32_t)p.n, &seg), DECODE_MALFORMED);
	p.b[20 + 12] = 0x50;
	p.b[2] = 0;
	p.b[3] = 10;		/* total length < IHL */
	assert_int_equal(run(&p, 228, (uint32_t)p.n, &seg), DECODE_MALFORMED);
	p.b[3] = 200;		/* claims bytes the wire never had */
	assert_int_equal(run(&p, 228, (uint32_t)p.n, &seg), DECODE_MALFORMED);
	p.b[3] = (uint8_t)(20 + TCP_LEN);
	expect_ok(&p, 228, 4);
	/* A non-IP EtherType, and more VLAN tags than any network uses. */
	p.n = 0;
	put_eth(&p, 0x0806);
	put_zero(&p, 28);
	assert_int_equal(run(&p, 1, (uint32_t)p.n, &seg), DECODE_NOT_IP);
	p.n = 0;
	put_eth(&p, 0x8100);
	for (int i = 0; i < 6; i++) {
		put16(&p, 1);
		put16(&p, 0x8100);
	}
	v4(&p);
	assert_int_equal(run(&p, 1, (uint32_t)p.n, &seg), DECODE_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ethernet_and_vlans),
		cmocka_unit_test(test_ethernet_padding_trimmed),
		cmocka_unit_test(test_linux_cooked),
		cmocka_unit_test(test_bsd_null_and_loop),
		cmocka_unit_test(test_raw_ipv4_ipv6),
		cmocka_unit_test(test_ipv4_options_and_fragments),
		cmocka_unit_test(test_ipv6_extension_headers),
		cmocka_unit_test(test_ipv6_long_chains),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
