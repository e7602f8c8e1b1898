/* The pcapng writer: block layouts (lengths repeated, padding, the secrets
 * right after the one section header), read back by net/pcapng.h's walker;
 * pcap files copied (big-endian, nanoseconds, a record cut short); a pcapng
 * input after another, its interface numbers moved, a simple packet block
 * made enhanced, a do-not-copy block and its section header left out;
 * write errors; the check of what can be read twice. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/pcapng.h"
#include "net/pcapng_write.h"
#include "util/cursor.h"

#define SHB 0x0A0D0D0Au
#define IDB 1u
#define SPB 3u
#define ISB 5u
#define EPB 6u
#define DSB 0x0Au
#define NOCOPY 0x40000BADu
#define MAX_BLOCKS 32

struct bytes {
	uint8_t b[4096];
	size_t n;
};

static void put_le(struct bytes *f, uint32_t v, int n)
{
	for (int i = 0; i < n; i++)
		f->b[f->n++] = (uint8_t)(v >> (8 * i));
}

static void put_be(struct bytes *f, uint32_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		f->b[f->n++] = (uint8_t)(v >> (8 * i));
}

static void put_raw(struct bytes *f, const void *p, size_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

/* A temporary file holding f, its path in path (freed by the caller's
 * unlink). */
static void to_file(const struct bytes *f, char path[64])
{
	int fd;

	strcpy(path, "/tmp/test_pcapng_write.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, f->b, f->n), (ssize_t)f->n);
	close(fd);
}

/* What the output holds, block by block. */
struct parsed {
	uint32_t type[MAX_BLOCKS];
	const uint8_t *body[MAX_BLOCKS];	/* after type and length */
	uint32_t len[MAX_BLOCKS];
	size_t n;
};

static void parse(const uint8_t *p, size_t n, struct parsed *out)
{
	size_t o = 0;

	out->n = 0;
	while (o < n) {
		uint32_t len = cursor_load_le32(p + o + 4);

		assert_true(len >= 12 && len % 4 == 0 && o + len <= n);
		assert_int_equal(cursor_load_le32(p + o + len - 4), len);
		assert_true(out->n < MAX_BLOCKS);
		out->type[out->n] = cursor_load_le32(p + o);
		out->body[out->n] = p + o + 8;
		out->len[out->n++] = len;
		o += len;
	}
}

static int secrets_abc(void *ctx, struct pcapng_out *o)
{
	int *calls = ctx;

	(*calls)++;
	return pcapng_put_dsb(o, PCAPNG_SECRETS_TLS, (const uint8_t *)"abcde", 5);
}

/* The walker reading our output back. */
struct seen {
	struct capture_pkt pkt[8];
	uint8_t data[8][16];
	size_t n;
};

static void on_pkt(void *ctx, const struct capture_pkt *pkt)
{
	struct seen *s = ctx;

	assert_true(s->n < 8 && pkt->caplen <= 16);
	memcpy(s->data[s->n], pkt->data, pkt->caplen);
	s->pkt[s->n] = *pkt;
	s->pkt[s->n].data = s->data[s->n];
	s->n++;
}

static void on_corrupt(void *ctx, uint64_t off, const char *why, uint64_t skipped)
{
	(void)ctx;
	(void)skipped;
	fail_msg("corrupt block at %llu: %s", (unsigned long long)off, why);
}

static void walk_back(FILE *fp, struct seen *s)
{
	struct pcapng_hooks h = { .ctx = s, .packet = on_pkt, .corrupt = on_corrupt };
	char err[CAPTURE_ERRLEN];

	memset(s, 0, sizeof *s);
	rewind(fp);
	assert_int_equal(pcapng_walk(fp, 0, &h, err), 0);
}

static void slurp(FILE *fp, struct bytes *f)
{
	rewind(fp);
	f->n = fread(f->b, 1, sizeof f->b, fp);
}

static void test_blocks(void **state)
{
	FILE *fp = tmpfile();
	struct pcapng_out o;
	struct parsed p;
	struct bytes f;
	struct seen s;
	int calls = 0;

	(void)state;
	pcapng_out_init(&o, fp, NULL, secrets_abc, &calls);
	assert_int_equal(pcapng_put_shb(&o, "imapscope"), 0);
	assert_int_equal(pcapng_put_shb(&o, "again"), 0);	/* once per file */
	assert_int_equal(pcapng_put_idb(&o, 101, 65535, PCAPNG_TSRESOL_NS, -1), 0);
	assert_int_equal(pcapng_put_epb(&o, 0, 1500000000123456789ull,
					(const uint8_t *)"\x45\x00\x00\x14\x01", 5, 60), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(o.packets, 1);
	assert_int_equal(o.n_ifs, 1);
	fflush(fp);
	slurp(fp, &f);
	parse(f.b, f.n, &p);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.type[0], SHB);
	assert_int_equal(cursor_load_le32(p.body[0]), 0x1A2B3C4D);
	assert_memory_equal(p.body[0] + 8, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	assert_int_equal(p.type[1], DSB);	/* before any interface */
	assert_int_equal(cursor_load_le32(p.body[1]), 0x544C534B);
	assert_int_equal(cursor_load_le32(p.body[1] + 4), 5);
	assert_memory_equal(p.body[1] + 8, "abcde\0\0\0", 8);	/* padded */
	assert_int_equal(p.len[1], 16 + 8 + 4);
	assert_int_equal(p.type[2], IDB);
	assert_int_equal(p.type[3], EPB);
	walk_back(fp, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.pkt[0].ts_us, 1500000000123456);	/* if_tsresol 9 read */
	assert_int_equal(s.pkt[0].caplen, 5);
	assert_int_equal(s.pkt[0].len, 60);
	assert_int_equal(s.pkt[0].linktype, 101);
	assert_memory_equal(s.data[0], "\x45\x00\x00\x14\x01", 5);
	fclose(fp);
}

/* A big-endian nanosecond pcap: two records and a third cut short. */
static void pcap_be_ns(struct bytes *f)
{
	f->n = 0;
	put_be(f, 0xA1B23C4Du, 4);
	put_be(f, 2, 2);
	put_be(f, 4, 2);
	put_be(f, 0, 4);
	put_be(f, 0, 4);
	put_be(f, 262144, 4);
	put_be(f, 101, 4);
	for (uint32_t i = 0; i < 2; i++) {
		put_be(f, 1700000000 + i, 4);
		put_be(f, 999999999 - i, 4);
		put_be(f, 3, 4);
		put_be(f, 1500, 4);
		put_raw(f, "xyz", 3);
	}
	put_be(f, 1700000009, 4);
	put_be(f, 0, 4);
	put_be(f, 100, 4);
	put_be(f, 100, 4);
	put_raw(f, "cut", 3);
}

static void test_copy_pcap(void **state)
{
	FILE *fp = tmpfile();
	struct pcapng_out o;
	struct pcapng_copy_stats st;
	struct mem_budget budget = { 0 };
	char path[64], err[CAPTURE_ERRLEN];
	struct bytes f;
	struct parsed p;
	struct seen s;

	(void)state;
	pcap_be_ns(&f);
	to_file(&f, path);
	assert_int_equal(pcapng_copy_check(path, err), 0);
	pcapng_out_init(&o, fp, &budget, NULL, NULL);
	assert_int_equal(pcapng_copy_file(&o, path, &st, err), 0);
	assert_int_equal(st.packets, 2);
	assert_true(st.cut);
	assert_int_equal(pcapng_copy_file(&o, path, &st, err), 0);	/* a second input */
	assert_int_equal(budget.used, 0);
	assert_true(budget.peak >= 3);
	unlink(path);
	fflush(fp);
	slurp(fp, &f);
	parse(f.b, f.n, &p);
	assert_int_equal(p.n, 7);	/* SHB, IDB, 2 EPB, IDB, 2 EPB */
	assert_int_equal(p.type[0], SHB);
	assert_int_equal(p.type[4], IDB);
	assert_int_equal(cursor_load_le32(p.body[5]), 1);	/* the second interface */
	/* nanoseconds kept whole: seconds * 10^9 + the fraction */
	assert_int_equal((uint64_t)cursor_load_le32(p.body[2] + 4) << 32 |
			 cursor_load_le32(p.body[2] + 8), 1700000000999999999ull);
	walk_back(fp, &s);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.pkt[1].ts_us, 1700000001999999);
	assert_int_equal(s.pkt[1].caplen, 3);
	assert_int_equal(s.pkt[1].len, 1500);
	assert_memory_equal(s.data[1], "xyz", 3);
	fclose(fp);
}

static void ng_block(struct bytes *f, uint32_t type, const void *body, uint32_t n)
{
	uint32_t len = 12 + ((n + 3) & ~3u);

	put_le(f, type, 4);
	put_le(f, len, 4);
	put_raw(f, body, n);
	while (n++ % 4 != 0)
		f->b[f->n++] = 0;
	put_le(f, len, 4);
}

/* A pcapng file: two interfaces, a packet on each, statistics, a simple
 * packet and a custom block not to be copied. */
static void pcapng_two_ifs(struct bytes *f)
{
	static const uint8_t shb[16] = { 0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0,
					 0x40, 0, 0, 0, 0, 0, 0, 0 };	/* length 64 given */
	static const uint8_t idb[8] = { 1, 0, 0, 0, 0xff, 0xff, 0, 0 };
	uint8_t epb[24] = { 0 }, isb[12] = { 0 }, spb[8] = { 4, 0, 0, 0, 'd', 'a', 't', 'a' };

	f->n = 0;
	ng_block(f, SHB, shb, sizeof shb);
	ng_block(f, IDB, idb, sizeof idb);
	ng_block(f, IDB, idb, sizeof idb);
	epb[0] = 1;	/* interface 1 */
	epb[12] = epb[16] = 4;
	memcpy(epb + 20, "pkt1", 4);
	ng_block(f, EPB, epb, sizeof epb);
	isb[0] = 1;
	ng_block(f, ISB, isb, sizeof isb);
	ng_block(f, NOCOPY, "abcd", 4);
	ng_block(f, SPB, spb, sizeof spb);
}

static void test_copy_pcapng(void **state)
{
	FILE *fp = tmpfile();
	struct pcapng_out o;
	struct pcapng_copy_stats st;
	char ppath[64], npath[64], err[CAPTURE_ERRLEN];
	struct bytes f;
	struct parsed p;
	struct seen s;

	(void)state;
	pcap_be_ns(&f);
	to_file(&f, ppath);
	pcapng_two_ifs(&f);
	to_file(&f, npath);
	assert_int_equal(pcapng_copy_check(npath, err), 0);
	pcapng_out_init(&o, fp, NULL, NULL, NULL);
	/* first on its own: copied as it is, but for the section length */
	assert_int_equal(pcapng_copy_file(&o, npath, &st, err), 0);
	assert_int_equal(st.packets, 2);
	assert_int_equal(pcapng_copy_file(&o, ppath, &st, err), 0);
	assert_int_equal(pcapng_copy_file(&o, npath, &st, err), 0);
	unlink(ppath);
	unlink(npath);
	fflush(fp);
	slurp(fp, &f);
	parse(f.b, f.n, &p);
	/* SHB IDB IDB EPB ISB SPB | IDB EPB EPB | IDB IDB EPB ISB EPB */
	assert_int_equal(p.n, 14);
	assert_int_equal(p.type[0], SHB);
	assert_memory_equal(p.body[0] + 8, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	assert_int_equal(p.type[5], SPB);	/* still interface 0: as it was */
	assert_int_equal(p.type[11], EPB);
	assert_int_equal(cursor_load_le32(p.body[11]), 4);	/* 1 moved past 3 */
	assert_int_equal(p.type[12], ISB);
	assert_int_equal(cursor_load_le32(p.body[12]), 4);
	assert_int_equal(p.type[13], EPB);	/* the simple one, made enhanced */
	assert_int_equal(cursor_load_le32(p.body[13]), 3);
	assert_int_equal(cursor_load_le32(p.body[13] + 16), 4);
	assert_memory_equal(p.body[13] + 20, "data", 4);
	walk_back(fp, &s);
	assert_int_equal(s.n, 6);
	assert_memory_equal(s.data[5], "data", 4);
	fclose(fp);
}

static int secrets_fail(void *ctx, struct pcapng_out *o)
{
	(void)ctx;
	(void)o;
	return -1;
}

static void test_errors(void **state)
{
	FILE *ro = fopen("/dev/null", "r");
	FILE *fp = tmpfile();
	struct pcapng_out o;
	struct pcapng_copy_stats st;
	char err[CAPTURE_ERRLEN], path[64];
	struct bytes f = { .n = 0 };
	uint8_t big[PCAPNG_DSB_MAX + 1] = { 0 };

	(void)state;
	pcapng_out_init(&o, ro, NULL, NULL, NULL);
	assert_int_equal(pcapng_put_shb(&o, "x"), -1);
	assert_int_not_equal(o.err, 0);
	assert_int_equal(pcapng_put_idb(&o, 1, 0, 0, -1), -1);	/* sticky */
	fclose(ro);
	pcapng_out_init(&o, fp, NULL, secrets_fail, NULL);
	assert_int_equal(pcapng_put_shb(&o, "x"), -1);
	pcapng_out_init(&o, fp, NULL, NULL, NULL);
	assert_int_equal(pcapng_put_dsb(&o, PCAPNG_SECRETS_TLS, big, sizeof big), -1);
	fclose(fp);
	assert_int_equal(pcapng_copy_check("-", err), -1);
	assert_int_equal(pcapng_copy_check("/dev/null", err), -1);
	assert_string_equal(err, "not a regular file, so it cannot be read twice");
	put_raw(&f, "not a capture", 13);
	to_file(&f, path);
	assert_int_equal(pcapng_copy_check(path, err), -1);
	assert_string_equal(err, "not a pcap or pcapng file");
	f.n = 0;
	put_be(&f, SHB, 4);
	put_be(&f, 28, 4);
	put_be(&f, 0x1A2B3C4D, 4);
	to_file(&f, path);
	assert_int_equal(pcapng_copy_check(path, err), -1);
	assert_non_null(strstr(err, "big-endian"));
	fp = tmpfile();
	pcapng_out_init(&o, fp, NULL, NULL, NULL);
	assert_int_equal(pcapng_copy_file(&o, "/nonexistent/x.pcap", &st, err), -1);
	fclose(fp);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_copy_pcap),
		cmocka_unit_test(test_copy_pcapng),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
