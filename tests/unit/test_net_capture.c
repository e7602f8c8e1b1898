/* Capture files written byte by byte: the one-line errors, nanosecond
 * timestamps, BPF, packet limits and a corrupt record mid-file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/capture.h"

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du
#define LT_RAW   101

struct file {
	uint8_t b[1024];
	size_t n;
};

static void le32(struct file *f, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		f->b[f->n++] = (uint8_t)(v >> (8 * i));
}

static void header(struct file *f, uint32_t magic, uint32_t linktype)
{
	le32(f, magic);
	le32(f, 2 | (4u << 16));	/* version 2.4 */
	le32(f, 0);
	le32(f, 0);
	le32(f, 65535);
	le32(f, linktype);
}

/* A raw-IP IPv4/TCP packet from port sport to 143. */
static void record(struct file *f, uint32_t sec, uint32_t frac, uint16_t sport)
{
	uint8_t p[40] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0,
			  192, 0, 2, 1, 192, 0, 2, 2,
			  (uint8_t)(sport >> 8), (uint8_t)sport, 0, 143,
			  0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10 };

	le32(f, sec);
	le32(f, frac);
	le32(f, sizeof p);
	le32(f, sizeof p);
	memcpy(f->b + f->n, p, sizeof p);
	f->n += sizeof p;
}

static char path[] = "/tmp/imapscope-capture-XXXXXX";

static const char *write_file(const struct file *f)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(f->b, 1, f->n, fp), f->n);
	fclose(fp);
	return path;
}

struct got {
	int n;
	int64_t ts[4];
	int linktype;
};

static void on_pkt(void *ctx, const struct capture_pkt *pkt)
{
	struct got *g = ctx;

	if (g->n < 4)
		g->ts[g->n] = pkt->ts_us;
	g->n++;
	g->linktype = pkt->linktype;
	assert_int_equal(pkt->caplen, 40);
}

static int setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void expect_open_error(const struct file *f, const char *want)
{
	char err[CAPTURE_ERRLEN] = "";
	struct capture *c = (struct capture *)1;

	assert_int_equal(capture_open_file(&c, write_file(f), NULL, err), -1);
	assert_null(c);
	assert_string_equal(err, want);
}

static void test_open_errors(void **state)
{
	struct file f = { .n = 0 };
	char err[CAPTURE_ERRLEN] = "";
	struct capture *c;

	(void)state;
	expect_open_error(&f, "empty file");
	header(&f, MAGIC_US, LT_RAW);
	f.n = 10;
	expect_open_error(&f, "truncated file header");
	f.n = 0;
	memset(f.b, 'x', 100);
	f.n = 100;
	expect_open_error(&f, "not a capture file");
	f.n = 0;
	header(&f, MAGIC_US, 147);
	expect_open_error(&f, "unsupported link type 147");
	assert_int_equal(capture_open_file(&c, "/tmp", NULL, err), -1);
	assert_string_equal(err, "is a directory");
	assert_int_equal(capture_open_file(&c, "/nonexistent/x.pcap", NULL, err), -1);
	assert_string_equal(err, "No such file or directory");
	f.n = 0;
	header(&f, MAGIC_US, LT_RAW);
	write_file(&f);
	assert_int_equal(capture_open_file(&c, path, "tcp port", err), -1);
	assert_non_null(strstr(err, "bad filter"));
}

static void test_read_us_ns_filter(void **state)
{
	struct file f = { .n = 0 };
	char err[CAPTURE_ERRLEN] = "";
	struct capture *c;
	struct got g = { 0 };

	(void)state;
	header(&f, MAGIC_US, LT_RAW);
	record(&f, 1000, 5, 40000);
	record(&f, 1001, 999999, 40001);
	assert_int_equal(capture_open_file(&c, write_file(&f), NULL, err), 0);
	assert_int_equal(capture_file_size(c), f.n);
	assert_int_equal(capture_run(c, on_pkt, &g, 0, err), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.ts[0], 1000000005LL);
	assert_int_equal(g.ts[1], 1001999999LL);
	assert_int_equal(g.linktype, 12);	/* libpcap maps LINKTYPE_RAW to DLT_RAW */
	assert_int_equal(capture_bytes_read(c), f.n);
	capture_free(&c);
	assert_null(c);

	/* Nanoseconds are scaled to microseconds. */
	f.n = 0;
	header(&f, MAGIC_NS, LT_RAW);
	record(&f, 2000, 123456789, 40000);
	memset(&g, 0, sizeof g);
	assert_int_equal(capture_open_file(&c, write_file(&f), NULL, err), 0);
	assert_int_equal(capture_run(c, on_pkt, &g, 0, err), 0);
	assert_int_equal(g.ts[0], 2000123456LL);
	capture_free(&c);

	/* A BPF filter, and a packet limit. */
	f.n = 0;
	header(&f, MAGIC_US, LT_RAW);
	record(&f, 1, 0, 40000);
	record(&f, 2, 0, 40001);
	record(&f, 3, 0, 40000);
	memset(&g, 0, sizeof g);
	assert_int_equal(capture_open_file(&c, write_file(&f),
					   "tcp src port 40000", err), 0);
	assert_int_equal(capture_run(c, on_pkt, &g, 0, err), 0);
	assert_int_equal(g.n, 2);
	capture_free(&c);
	memset(&g, 0, sizeof g);
	assert_int_equal(capture_open_file(&c, path, NULL, err), 0);
	assert_int_equal(capture_run(c, on_pkt, &g, 1, err), 1);
	assert_int_equal(g.n, 1);
	capture_free(&c);
}

/* A record cut short: the packets before it are delivered, then -1. */
static void test_corrupt_record(void **state)
{
	struct file f = { .n = 0 };
	char err[CAPTURE_ERRLEN] = "";
	struct capture *c;
	struct got g = { 0 };

	(void)state;
	header(&f, MAGIC_US, LT_RAW);
	record(&f, 1, 0, 40000);
	record(&f, 2, 0, 40000);
	f.n -= 10;
	assert_int_equal(capture_open_file(&c, write_file(&f), NULL, err), 0);
	assert_int_equal(capture_run(c, on_pkt, &g, 0, err), -1);
	assert_int_equal(g.n, 1);
	assert_true(strlen(err) > 0);
	assert_null(strchr(err, '\n'));
	capture_free(&c);
}

/* The caller names the interface: the reason must not repeat it, and a
 * missing interface says so whatever the privileges (without them,
 * libpcap would call it a permission problem). */
static void test_live_errors(void **state)
{
	char err[CAPTURE_ERRLEN] = "";
	struct capture *c = (struct capture *)1;

	(void)state;
	assert_int_equal(capture_open_live(&c, "nosuchif0", NULL, err), -1);
	assert_null(c);
	assert_string_equal(err, "no such interface");
}

/* An Ethernet frame: IPv4 or IPv6 (after `next` and next_ext extension
 * headers of 8 bytes each), then a TCP header to dport (proto 17: UDP). */
static size_t frame(uint8_t *b, int af, uint8_t first_nh, int next_ext,
		    uint8_t proto, uint16_t dport)
{
	size_t n = 12, l4;
	int i;

	memset(b, 0, 512);
	b[n++] = af == 4 ? 0x08 : 0x86;
	b[n++] = af == 4 ? 0x00 : 0xdd;
	if (af == 4) {
		b[n] = 0x45;
		b[n + 3] = 40;
		b[n + 8] = 64;
		b[n + 9] = proto;
		n += 20;
	} else {
		b[n] = 0x60;
		b[n + 5] = (uint8_t)(next_ext * 8 + 20);
		b[n + 6] = next_ext > 0 ? first_nh : proto;
		b[n + 7] = 64;
		n += 40;
		for (i = 0; i < next_ext; i++) {
			b[n] = i + 1 < next_ext ? 60 : proto;
			n += 8;
		}
	}
	l4 = n;
	b[l4] = 0xc3;
	b[l4 + 1] = 0x50;
	b[l4 + 2] = (uint8_t)(dport >> 8);
	b[l4 + 3] = (uint8_t)dport;
	b[l4 + 12] = 0x50;
	return n + 20;
}

static bool passes(const struct bpf_program *prog, const uint8_t *b, size_t n)
{
	struct pcap_pkthdr h = { .caplen = (bpf_u_int32)n, .len = (bpf_u_int32)n };

	return pcap_offline_filter(prog, &h, b) != 0;
}

/* The live default filter compiles for every link type we read, and lets
 * TCP behind IPv6 extension headers through, which "tcp port 143" does
 * not: the ports of those are chosen after decoding. */
static void test_default_filter(void **state)
{
	static const int dlts[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_NULL,
				    DLT_LOOP, DLT_RAW, 276 /* SLL2 */ };
	static const uint16_t ports[] = { 143, 993 };
	uint16_t many[64];
	char buf[CAPTURE_FILTER_LEN];
	struct bpf_program prog, old;
	uint8_t b[512];
	pcap_t *p;
	size_t i;

	(void)state;
	assert_int_equal(capture_default_filter(ports, 2, buf, sizeof buf), 0);
	assert_string_equal(buf, "tcp port 143 or 993 or (ip6 and ip6[6] != 6 and "
			    "ip6[6] != 17 and ip6[6] != 58)");
	for (i = 0; i < sizeof dlts / sizeof dlts[0]; i++) {
		p = pcap_open_dead(dlts[i], 65535);
		assert_non_null(p);
		assert_int_equal(pcap_compile(p, &prog, buf, 1, PCAP_NETMASK_UNKNOWN), 0);
		pcap_freecode(&prog);
		pcap_close(p);
	}
	p = pcap_open_dead(DLT_EN10MB, 65535);
	assert_int_equal(pcap_compile(p, &prog, buf, 1, PCAP_NETMASK_UNKNOWN), 0);
	assert_int_equal(pcap_compile(p, &old, "tcp port 143 or tcp port 993", 1,
				      PCAP_NETMASK_UNKNOWN), 0);
	assert_true(passes(&prog, b, frame(b, 4, 0, 0, 6, 143)));
	assert_false(passes(&prog, b, frame(b, 4, 0, 0, 6, 8080)));
	assert_true(passes(&prog, b, frame(b, 6, 0, 0, 6, 993)));
	assert_false(passes(&prog, b, frame(b, 6, 0, 0, 6, 8080)));
	assert_false(passes(&prog, b, frame(b, 6, 0, 0, 17, 143)));
	/* Hop-by-hop, a chain of 9, an atomic fragment: all through. */
	assert_true(passes(&prog, b, frame(b, 6, 0, 1, 6, 143)));
	assert_false(passes(&old, b, frame(b, 6, 0, 1, 6, 143)));
	assert_true(passes(&prog, b, frame(b, 6, 60, 9, 6, 143)));
	assert_false(passes(&old, b, frame(b, 6, 60, 9, 6, 143)));
	assert_true(passes(&prog, b, frame(b, 6, 44, 1, 6, 993)));
	assert_false(passes(&old, b, frame(b, 6, 44, 1, 6, 993)));
	pcap_freecode(&prog);
	pcap_freecode(&old);
	pcap_close(p);

	/* The most ports -p allows still fit; a short buffer is refused. */
	for (i = 0; i < 64; i++)
		many[i] = (uint16_t)(65535 - i);
	assert_int_equal(capture_default_filter(many, 64, buf, sizeof buf), 0);
	assert_int_equal(capture_default_filter(ports, 2, buf, 20), -1);
}

/* pcapng blocks, little-endian. */
static void ng_block(struct file *f, uint32_t type, const uint8_t *body,
		     size_t n, uint32_t len_field)
{
	uint32_t len = (uint32_t)(12 + n);

	le32(f, type);
	le32(f, len_field != 0 ? len_field : len);
	memcpy(f->b + f->n, body, n);
	f->n += n;
	le32(f, len);
}

static void ng_epb(struct file *f, uint16_t sport)
{
	struct file body = { .n = 0 };

	le32(&body, 0);		/* interface */
	le32(&body, 0);
	le32(&body, 1000000u * sport);	/* microseconds */
	record(&body, 0, 0, sport);	/* 16 bytes of pcap record, then 40 */
	memmove(body.b + 12, body.b + 20, 48);	/* caplen, len, packet */
	body.n = 60;
	ng_block(f, 6, body.b, body.n, 0);
}

static void on_notice(void *ctx, const struct notice *n)
{
	char *last = ctx;

	assert_int_equal(n->kind, NOTICE_CAPTURE);
	snprintf(last, 512, "%s", n->text);
}

/* A block with a bad length: libpcap stops there, the walker goes on to
 * the next block, says so once, and counts it. */
static void test_pcapng_resync(void **state)
{
	static const uint8_t shb[] = { 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t idb[] = { LT_RAW, 0, 0, 0, 0xff, 0xff, 0, 0 };
	static const uint8_t junk[20] = { 0xee };
	struct file f = { .n = 0 };
	char err[CAPTURE_ERRLEN] = "", last[512] = "";
	struct capture *c;
	struct got g = { 0 };
	size_t bad_at;

	(void)state;
	ng_block(&f, 0x0A0D0D0Au, shb, sizeof shb, 0);
	ng_block(&f, 1, idb, sizeof idb, 0);
	ng_epb(&f, 1);
	bad_at = f.n;
	ng_block(&f, 6, junk, sizeof junk, 0xfffffff0u);
	ng_epb(&f, 2);
	ng_epb(&f, 3);
	assert_int_equal(capture_open_file(&c, write_file(&f), NULL, err), 0);
	capture_set_notice(c, on_notice, last);
	assert_int_equal(capture_run(c, on_pkt, &g, 0, err), 0);
	assert_int_equal(g.n, 3);
	assert_int_equal(g.ts[1], 2000000);
	assert_int_equal(g.ts[2], 3000000);
	assert_int_equal(capture_corrupt_blocks(c), 1);
	assert_non_null(strstr(last, "corrupt pcapng block at offset"));
	assert_non_null(strstr(last, "32 bytes skipped to the next block"));
	assert_int_equal(bad_at, 120);
	capture_free(&c);

	/* With a filter, the packets libpcap passed over are not counted
	 * twice: only port 3 after the bad block. */
	memset(&g, 0, sizeof g);
	assert_int_equal(capture_open_file(&c, path, "tcp src port 3 or tcp src port 1",
					   err), 0);
	assert_int_equal(capture_run(c, on_pkt, &g, 0, err), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.ts[1], 3000000);
	capture_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_read_us_ns_filter),
		cmocka_unit_test(test_corrupt_record),
		cmocka_unit_test(test_live_errors),
		cmocka_unit_test(test_default_filter),
		cmocka_unit_test(test_pcapng_resync),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
