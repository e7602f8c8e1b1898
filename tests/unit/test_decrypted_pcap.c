/* --write-decrypted writer: the file is a pcap whose TCP carries exactly the
 * bytes tapped, with handshake, consistent sequence and acknowledgement
 * numbers, right checksums, gaps as jumps, and nothing of a session that
 * is not IMAP. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/decrypted_pcap.h"

#define MAX_PKTS 16384
#define PAYLOAD_MAX 200000

enum { F_FIN = 0x01, F_SYN = 0x02, F_PSH = 0x08, F_ACK = 0x10 };

/* One packet as read back. */
struct pkt {
	int64_t ts;
	int af;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t mss;		/* the SYN's option, 0 if none */
	const uint8_t *payload;
	size_t len;
	bool csum_ok;
};

struct capfile {
	uint8_t *data;
	size_t size;
	uint32_t linktype, magic;
	struct pkt p[MAX_PKTS];
	size_t n;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint32_t get32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* RFC 1071, one byte at a time: independent of the writer's loop. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sum += i % 2 == 0 ? (uint32_t)p[i] << 8 : p[i];
	return sum;
}

static bool sum_ok(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static void parse_packet(struct pkt *k, const uint8_t *eth, size_t len)
{
	const uint8_t *ip = eth + 14, *tcp;
	uint32_t ps;
	size_t tcp_len, hl;

	assert_true(len >= 14 + 20 + 20);
	if (get16(eth + 12) == 0x0800) {
		k->af = 4;
		assert_int_equal(ip[0], 0x45);
		assert_int_equal(get16(ip + 2), len - 14);
		assert_true(sum_ok(sum16(0, ip, 20)));
		memcpy(k->src, ip + 12, 4);
		memcpy(k->dst, ip + 16, 4);
		tcp = ip + 20;
		tcp_len = len - 14 - 20;
		ps = sum16(sum16(0, ip + 12, 8), (const uint8_t[]){ 0, 6 }, 2) + (uint32_t)tcp_len;
	} else {
		assert_int_equal(get16(eth + 12), 0x86dd);
		k->af = 6;
		assert_int_equal(get16(ip + 4), len - 14 - 40);
		assert_int_equal(ip[6], 6);
		memcpy(k->src, ip + 8, 16);
		memcpy(k->dst, ip + 24, 16);
		tcp = ip + 40;
		tcp_len = len - 14 - 40;
		ps = sum16(sum16(0, ip + 8, 32), (const uint8_t[]){ 0, 6 }, 2) + (uint32_t)tcp_len;
	}
	k->sport = get16(tcp);
	k->dport = get16(tcp + 2);
	k->seq = get32(tcp + 4);
	k->ack = get32(tcp + 8);
	hl = (size_t)(tcp[12] >> 4) * 4;
	k->flags = tcp[13];
	k->mss = hl >= 24 && tcp[20] == 2 && tcp[21] == 4 ? get16(tcp + 22) : 0;
	k->payload = tcp + hl;
	k->len = tcp_len - hl;
	k->csum_ok = sum_ok(sum16(ps, tcp, tcp_len));
}

static void read_cap(struct capfile *c, const char *path)
{
	FILE *fp = fopen(path, "rb");
	struct stat sb;
	size_t off;

	assert_non_null(fp);
	assert_int_equal(fstat(fileno(fp), &sb), 0);
	c->size = (size_t)sb.st_size;
	c->data = malloc(c->size + 1);
	assert_non_null(c->data);
	assert_int_equal(fread(c->data, 1, c->size, fp), c->size);
	fclose(fp);
	assert_true(c->size >= 24);
	c->magic = get32le(c->data);
	c->linktype = get32le(c->data + 20);
	c->n = 0;
	for (off = 24; off < c->size; c->n++) {
		struct pkt *k = &c->p[c->n];
		uint32_t caplen, wirelen;

		assert_true(c->n < MAX_PKTS);
		assert_true(off + 16 <= c->size);
		k->ts = (int64_t)get32le(c->data + off) * 1000000 + get32le(c->data + off + 4);
		caplen = get32le(c->data + off + 8);
		wirelen = get32le(c->data + off + 12);
		assert_int_equal(caplen, wirelen);
		assert_true(off + 16 + caplen <= c->size);
		parse_packet(k, c->data + off + 16, caplen);
		off += 16 + caplen;
	}
}

static const struct dpcap_endpoint client4 = { 4, { 192, 0, 2, 1 }, 50000 };
static const struct dpcap_endpoint server4 = { 4, { 192, 0, 2, 2 }, 143 };
static const struct dpcap_endpoint client6 = {
	6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, 50001 };
static const struct dpcap_endpoint server6 = {
	6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 }, 993 };

static void tmp_path(char *path, size_t cap)
{
	static int n;

	snprintf(path, cap, "/tmp/imapscope-dpcap-%d-%d.pcap", (int)getpid(), n++);
	unlink(path);
}

static struct imap_tap_end end_at(int64_t ts)
{
	return (struct imap_tap_end){ .ts_us = ts, .why = END_FIN };
}

/* Both directions' bytes as the file carries them, checked against the
 * sequence numbers: each segment starts where the last ended (plus any
 * gap, which must then be in gaps). */
struct dirstate {
	bool have;
	uint32_t next;
	uint8_t bytes[PAYLOAD_MAX];
	size_t len;
	uint64_t jumped;
};

static void follow(struct dirstate *d, const struct pkt *k)
{
	if (!d->have) {
		d->have = true;
		d->next = k->seq;
	}
	if (k->len > 0) {
		d->jumped += k->seq - d->next;
		assert_true(d->len + k->len <= PAYLOAD_MAX);
		memcpy(d->bytes + d->len, k->payload, k->len);
		d->len += k->len;
		d->next = k->seq + (uint32_t)k->len;
	}
}

static void test_dpcap_session(void **state)
{
	char path[128], err[DPCAP_ERRLEN];
	struct capfile *c = calloc(1, sizeof *c);
	struct dirstate *ds = calloc(2, sizeof *ds);
	static uint8_t big[5000];
	struct dpcap_stats st;
	struct dpcap *w;
	struct imap_tap_end e = end_at(4000000);
	size_t i;

	(void)state;
	assert_non_null(c);
	assert_non_null(ds);
	for (i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)('a' + i % 26);
	tmp_path(path, sizeof path);
	w = dpcap_new(path, NULL, err);
	assert_non_null(w);
	dpcap_open(w, 1, &client4, &server4, false, 1000000);
	dpcap_data(w, 1, DIR_S2C, (const uint8_t *)"* OK ready\r\n", 12, 1100000);
	dpcap_data(w, 1, DIR_C2S, (const uint8_t *)"a1 NOOP\r\n", 9, 1200000);
	/* two lines of one packet: one segment */
	dpcap_data(w, 1, DIR_S2C, (const uint8_t *)"* 1 EXISTS\r\n", 12, 1300000);
	dpcap_data(w, 1, DIR_S2C, (const uint8_t *)"a1 OK\r\n", 7, 1300000);
	dpcap_data(w, 1, DIR_S2C, big, sizeof big, 1400000);	/* cut at the MSS */
	e.undecrypted[DIR_S2C] = true;
	dpcap_end(w, 1, &e);
	assert_int_equal(dpcap_free(&w, &st, err), 0);
	assert_null(w);

	read_cap(c, path);
	assert_int_equal(c->magic, 0xa1b2c3d4u);
	assert_int_equal(c->linktype, DPCAP_LINKTYPE_ETHERNET);
	assert_int_equal(st.packets, c->n);
	assert_int_equal(st.sessions, 1);
	assert_int_equal(st.undecrypted_sessions, 1);
	assert_int_equal(st.undecrypted_dirs, 1);
	/* the handshake, at the flow's first packet */
	assert_int_equal(c->p[0].flags, F_SYN);
	assert_int_equal(c->p[0].mss, DPCAP_MSS_V4);
	assert_int_equal(c->p[1].flags, F_SYN | F_ACK);
	assert_int_equal(c->p[1].ack, c->p[0].seq + 1);
	assert_int_equal(c->p[2].flags, F_ACK);
	assert_int_equal(c->p[2].ack, c->p[1].seq + 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(c->p[i].ts, 1000000);
	for (i = 0; i < c->n; i++) {
		const struct pkt *k = &c->p[i];
		bool c2s = k->sport == client4.port;
		enum stream_dir self = c2s ? DIR_C2S : DIR_S2C;
		enum stream_dir other = c2s ? DIR_S2C : DIR_C2S;

		assert_true(k->csum_ok);
		assert_int_equal(k->af, 4);
		assert_memory_equal(k->src, c2s ? client4.addr : server4.addr, 4);
		assert_memory_equal(k->dst, c2s ? server4.addr : client4.addr, 4);
		assert_int_equal(k->dport, c2s ? server4.port : client4.port);
		assert_true(k->len <= DPCAP_MSS_V4);
		if (i > 0)
			assert_true(k->ts >= c->p[i - 1].ts);
		if (k->flags & (F_SYN | F_FIN) || i == c->n - 1)
			continue;
		/* every ACK acknowledges all the other side has sent */
		assert_true(k->flags & F_ACK);
		if (ds[other].have)
			assert_int_equal(k->ack, ds[other].next);
		follow(&ds[self], k);
	}
	assert_int_equal(c->p[3].len, 12);	/* greeting */
	assert_int_equal(c->p[3].ts, 1100000);
	assert_int_equal(c->p[5].len, 19);	/* EXISTS and OK joined */
	assert_true(c->p[5].flags & F_PSH);
	assert_int_equal(c->p[6].len, DPCAP_MSS_V4);
	assert_int_equal(ds[DIR_C2S].len, 9);
	assert_memory_equal(ds[DIR_C2S].bytes, "a1 NOOP\r\n", 9);
	assert_int_equal(ds[DIR_S2C].len, 12 + 19 + sizeof big);
	assert_memory_equal(ds[DIR_S2C].bytes + 31, big, sizeof big);
	assert_int_equal(ds[DIR_S2C].jumped, 0);
	/* FIN, FIN, ACK at the end */
	assert_int_equal(c->p[c->n - 3].flags, F_FIN | F_ACK);
	assert_int_equal(c->p[c->n - 2].flags, F_FIN | F_ACK);
	assert_int_equal(c->p[c->n - 1].flags, F_ACK);
	assert_int_equal(c->p[c->n - 1].ts, 4000000);
	free(c->data);
	free(c);
	free(ds);
	unlink(path);
}

/* A gap: the sequence jumps by its length, the receiver acknowledges the
 * hole at once; IPv6 takes its own MSS. */
static void test_dpcap_gap_ipv6(void **state)
{
	char path[128], err[DPCAP_ERRLEN];
	struct capfile *c = calloc(1, sizeof *c);
	static uint8_t big[3000];
	struct dpcap_stats st;
	struct dpcap *w;
	struct imap_tap_end e = end_at(3000000);
	uint32_t s2c_before = 0;
	size_t i, gap_ack = 0, data_after = 0;

	(void)state;
	assert_non_null(c);
	memset(big, 'x', sizeof big);
	tmp_path(path, sizeof path);
	w = dpcap_new(path, NULL, err);
	assert_non_null(w);
	dpcap_open(w, 9, &client6, &server6, false, 1000000);
	dpcap_data(w, 9, DIR_S2C, (const uint8_t *)"* OK\r\n", 6, 1000001);
	dpcap_data(w, 9, DIR_C2S, (const uint8_t *)"a1 NOOP\r\n", 9, 1000002);
	dpcap_gap(w, 9, DIR_S2C, 700, 1000003);
	dpcap_data(w, 9, DIR_S2C, big, sizeof big, 1000004);
	dpcap_end(w, 9, &e);
	assert_int_equal(dpcap_free(&w, &st, err), 0);
	assert_int_equal(st.gaps, 1);
	assert_int_equal(st.gap_bytes, 700);
	read_cap(c, path);
	for (i = 0; i < c->n; i++) {
		const struct pkt *k = &c->p[i];

		assert_true(k->csum_ok);
		assert_int_equal(k->af, 6);
		assert_true(k->len <= DPCAP_MSS_V6);
		if (k->flags & F_SYN)
			assert_int_equal(k->mss, DPCAP_MSS_V6);
		if (k->sport == 993 && k->len == 6)
			s2c_before = k->seq + 6;
		if (k->sport == client6.port && k->len == 0 && s2c_before != 0 &&
		    k->ack == s2c_before + 700 && gap_ack == 0)
			gap_ack = i;
		if (k->sport == 993 && k->len > 0 && k->ts == 1000004) {
			if (data_after++ == 0) {
				assert_int_equal(k->seq, s2c_before + 700);
				assert_int_equal(k->len, DPCAP_MSS_V6);
			}
		}
	}
	assert_true(gap_ack != 0);
	assert_true(c->p[gap_ack].ts == 1000003);
	assert_int_equal(data_after, 3);	/* 3000 bytes at 1440 */
	free(c->data);
	free(c);
	unlink(path);
}

/* Not IMAP: nothing of the session is written, though its first line came
 * before the verdict; a session picked up mid-stream has no handshake. */
static void test_dpcap_not_imap_and_mid_stream(void **state)
{
	char path[128], err[DPCAP_ERRLEN];
	struct capfile *c = calloc(1, sizeof *c);
	struct dpcap_stats st;
	struct dpcap *w;
	struct imap_tap_end e = end_at(2000000);
	size_t i;

	(void)state;
	assert_non_null(c);
	tmp_path(path, sizeof path);
	w = dpcap_new(path, NULL, err);
	assert_non_null(w);
	dpcap_open(w, 1, &client4, &server4, false, 1000000);
	dpcap_data(w, 1, DIR_S2C, (const uint8_t *)"SSH-2.0-OpenSSH\r\n", 17, 1000001);
	dpcap_not_imap(w, 1);
	dpcap_data(w, 1, DIR_C2S, (const uint8_t *)"SSH-2.0-x\r\n", 11, 1000002);
	dpcap_end(w, 1, &e);
	dpcap_open(w, 2, &client4, &server4, true, 1500000);
	dpcap_data(w, 2, DIR_S2C, (const uint8_t *)"ody of a literal\r\n", 18, 1500000);
	dpcap_data(w, 2, DIR_C2S, (const uint8_t *)"a5 NOOP\r\n", 9, 1500001);
	dpcap_data(w, 2, DIR_S2C, (const uint8_t *)"a5 OK\r\n", 7, 1500002);
	dpcap_end(w, 2, &e);
	assert_int_equal(dpcap_free(&w, &st, err), 0);
	assert_int_equal(st.not_imap, 1);
	assert_int_equal(st.sessions, 1);
	read_cap(c, path);
	assert_true(c->n > 0);
	for (i = 0; i < c->n; i++) {
		assert_true(c->p[i].sport == 50000 || c->p[i].dport == 50000);
		assert_true(c->p[i].len == 0 || memcmp(c->p[i].payload, "SSH", 3) != 0);
		assert_false(c->p[i].flags & F_SYN);
	}
	assert_int_equal(c->p[0].len, 18);
	assert_int_equal(c->p[0].ts, 1500000);
	free(c->data);
	free(c);
	unlink(path);
}

/* More than DPCAP_QUEUE_MAX bytes wait for a verdict: the session is
 * written as IMAP, in order, nothing lost; a verdict against it that comes
 * later only stops it. */
static void test_dpcap_queue_overflow(void **state)
{
	char path[128], err[DPCAP_ERRLEN];
	struct capfile *c = calloc(1, sizeof *c);
	static uint8_t big[DPCAP_QUEUE_MAX / 4];
	struct dpcap_stats st;
	struct dpcap *w;
	struct imap_tap_end e = end_at(2000000);
	size_t i, total = 0;

	(void)state;
	assert_non_null(c);
	memset(big, 'y', sizeof big);
	tmp_path(path, sizeof path);
	w = dpcap_new(path, NULL, err);
	assert_non_null(w);
	dpcap_open(w, 1, &client4, &server4, false, 1000000);
	for (i = 0; i < 5; i++)	/* no line end: never judged */
		dpcap_data(w, 1, DIR_S2C, big, sizeof big, 1000001 + (int64_t)i);
	/* found not IMAP after it was written: nothing more is added */
	dpcap_not_imap(w, 1);
	dpcap_data(w, 1, DIR_C2S, (const uint8_t *)"SSH-2.0\r\n", 9, 1000009);
	dpcap_end(w, 1, &e);
	assert_int_equal(dpcap_free(&w, &st, err), 0);
	read_cap(c, path);
	for (i = 0; i < c->n; i++)
		total += c->p[i].len;
	assert_int_equal(total, 5 * sizeof big);
	assert_int_equal(st.sessions, 1);
	free(c->data);
	free(c);
	unlink(path);
}

/* Packets go out in the order they were made, whichever session waits for
 * its verdict: sessions keep their order (readers number them by their
 * first packet), and the file's times do not run back. */
static void test_dpcap_order(void **state)
{
	char path[128], err[DPCAP_ERRLEN];
	struct capfile *c = calloc(1, sizeof *c);
	struct dpcap_endpoint ca = client4, cb = client4;
	struct dpcap_stats st;
	struct dpcap *w;
	struct imap_tap_end e2 = end_at(6), e = end_at(9);
	size_t i, syn = 0;

	(void)state;
	assert_non_null(c);
	ca.port = 1111;
	cb.port = 2222;
	tmp_path(path, sizeof path);
	w = dpcap_new(path, NULL, err);
	assert_non_null(w);
	dpcap_open(w, 1, &ca, &server4, false, 1);
	dpcap_data(w, 1, DIR_S2C, (const uint8_t *)"* OK\r\n", 6, 2);	/* waits */
	dpcap_open(w, 2, &cb, &server4, false, 3);
	dpcap_data(w, 2, DIR_S2C, (const uint8_t *)"* OK\r\n", 6, 4);
	dpcap_data(w, 2, DIR_C2S, (const uint8_t *)"b NOOP\r\n", 8, 5);
	dpcap_data(w, 2, DIR_S2C, (const uint8_t *)"b OK\r\n", 6, 6);	/* judged */
	dpcap_end(w, 2, &e2);
	dpcap_data(w, 1, DIR_C2S, (const uint8_t *)"a NOOP\r\n", 8, 7);
	dpcap_data(w, 1, DIR_S2C, (const uint8_t *)"a OK\r\n", 6, 8);
	dpcap_end(w, 1, &e);
	assert_int_equal(dpcap_free(&w, &st, err), 0);
	assert_int_equal(st.sessions, 2);
	read_cap(c, path);
	assert_int_equal(st.packets, c->n);
	for (i = 0; i < c->n; i++) {
		if (i > 0)
			assert_true(c->p[i].ts >= c->p[i - 1].ts);
		if (c->p[i].flags == F_SYN)
			assert_int_equal(c->p[i].sport, syn++ == 0 ? 1111 : 2222);
	}
	assert_int_equal(syn, 2);
	free(c->data);
	free(c);
	unlink(path);
}

/* The budget: a session refused is counted and not written; the output
 * buffer refused means a packet at a time, with the same file. */
static void test_dpcap_budget(void **state)
{
	char path[128], err[DPCAP_ERRLEN];
	struct capfile *c = calloc(1, sizeof *c);
	struct mem_budget mb = { .limit = 1024 };
	struct dpcap_stats st;
	struct dpcap *w;
	struct imap_tap_end e = end_at(2000000);

	(void)state;
	assert_non_null(c);
	tmp_path(path, sizeof path);
	w = dpcap_new(path, &mb, err);
	assert_non_null(w);
	dpcap_open(w, 1, &client4, &server4, false, 1000000);
	dpcap_data(w, 1, DIR_S2C, (const uint8_t *)"* OK\r\n", 6, 1000001);
	dpcap_end(w, 1, &e);
	mb.limit = 1;
	dpcap_open(w, 2, &client4, &server4, false, 1000000);
	dpcap_data(w, 2, DIR_S2C, (const uint8_t *)"* OK\r\n", 6, 1000001);
	dpcap_end(w, 2, &e);
	assert_int_equal(dpcap_free(&w, &st, err), 0);
	assert_int_equal(mb.used, 0);
	assert_int_equal(st.untracked, 1);
	assert_int_equal(st.sessions, 1);
	read_cap(c, path);
	assert_int_equal(c->n, 3 + 1 + 3);
	free(c->data);
	free(c);
	unlink(path);
}

/* Never through a link; a regular file is truncated, like -o. */
static void test_dpcap_link_safe(void **state)
{
	char path[128], target[128], err[DPCAP_ERRLEN];
	struct dpcap *w;
	struct stat sb;
	FILE *fp;

	(void)state;
	tmp_path(target, sizeof target);
	tmp_path(path, sizeof path);
	fp = fopen(target, "w");
	assert_non_null(fp);
	fputs("precious", fp);
	fclose(fp);
	assert_int_equal(symlink(target, path), 0);
	assert_null(dpcap_new(path, NULL, err));
	assert_non_null(strstr(err, "symbolic link"));
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_size, 8);
	unlink(path);
	w = dpcap_new(target, NULL, err);
	assert_non_null(w);
	assert_int_equal(dpcap_free(&w, NULL, err), 0);
	assert_int_equal(stat(target, &sb), 0);
	assert_int_equal(sb.st_size, 24);	/* the file header alone */
	assert_int_equal(sb.st_mode & 077, 0);
	assert_null(dpcap_new("/nonexistent-dir/x.pcap", NULL, err));
	unlink(target);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dpcap_session),
		cmocka_unit_test(test_dpcap_gap_ipv6),
		cmocka_unit_test(test_dpcap_not_imap_and_mid_stream),
		cmocka_unit_test(test_dpcap_queue_overflow),
		cmocka_unit_test(test_dpcap_order),
		cmocka_unit_test(test_dpcap_budget),
		cmocka_unit_test(test_dpcap_link_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
