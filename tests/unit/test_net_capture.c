/* Capture files written byte by byte: the one-line errors, nanosecond
 * timestamps, BPF, packet limits and a corrupt record mid-file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_read_us_ns_filter),
		cmocka_unit_test(test_corrupt_record),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
