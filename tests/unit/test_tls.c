/* TLS layer: record walking, key schedules, and decryption of real
 * captures (openssl s_server/s_client on loopback, see tests/data/tls/gen.sh,
 * and the public lekensteyn-imap-ssl capture), each compared byte for byte
 * with the plaintext that was sent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "util/notice.h"
#include "tls/keylog.h"
#include "tls/tls_decrypt.h"
#include "tls/tls_record.h"

#define DATA "tests/data/tls/"
/* The third-party captures: $PUBLIC, else ../shared/captures/public. */
static void public_path(char *out, size_t cap, const char *name)
{
	const char *dir = getenv("PUBLIC");

	snprintf(out, cap, "%s/%s", dir != NULL && dir[0] != '\0' ? dir : "../shared/captures/public",
		 name);
}
#define MAX_CHUNKS 4096
#define STREAM_MAX (1u << 20)

/* ---- a tiny capture reader: TCP payloads of one connection, in order ---- */

struct chunk {
	enum stream_dir dir;
	size_t off, len;
};

struct capture {
	uint8_t *data[2];
	size_t len[2];
	struct chunk chunks[MAX_CHUNKS];
	size_t nchunks;
	uint16_t server_port;
	uint32_t next_seq[2];
	bool seq_known[2];
};

static bool add_payload(struct capture *c, const uint8_t *ip, size_t n)
{
	size_t ihl, doff, plen;
	const uint8_t *tcp;
	uint16_t sport, dport;
	uint32_t seq;
	enum stream_dir d;

	if (n < 20 || (ip[0] >> 4) != 4 || ip[9] != 6)
		return false;
	ihl = (size_t)(ip[0] & 15) * 4;
	plen = (size_t)ip[2] << 8 | ip[3];
	if (plen > n || ihl + 20 > plen)
		return false;
	tcp = ip + ihl;
	sport = (uint16_t)(tcp[0] << 8 | tcp[1]);
	dport = (uint16_t)(tcp[2] << 8 | tcp[3]);
	seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (c->server_port == 0 && (tcp[13] & 0x12) == 0x02)
		c->server_port = dport;		/* the SYN names the server */
	d = dport == c->server_port ? DIR_C2S : DIR_S2C;
	(void)sport;
	if (ihl + doff > plen)
		return false;
	n = plen - ihl - doff;
	if (n == 0)
		return true;
	if (c->seq_known[d] && seq != c->next_seq[d])
		return true;			/* a retransmission */
	c->seq_known[d] = true;
	c->next_seq[d] = seq + (uint32_t)n;
	assert_true(c->len[d] + n <= STREAM_MAX && c->nchunks < MAX_CHUNKS);
	memcpy(c->data[d] + c->len[d], tcp + doff, n);
	c->chunks[c->nchunks].dir = d;
	c->chunks[c->nchunks].off = c->len[d];
	c->chunks[c->nchunks].len = n;
	c->nchunks++;
	c->len[d] += n;
	return true;
}

static struct capture *capture_read(const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *ph;
	const u_char *pkt;
	struct capture *c;
	pcap_t *pc;

	pc = pcap_open_offline(path, err);
	if (pc == NULL)
		return NULL;
	assert_int_equal(pcap_datalink(pc), DLT_EN10MB);
	c = calloc(1, sizeof *c);
	assert_non_null(c);
	c->data[0] = malloc(STREAM_MAX);
	c->data[1] = malloc(STREAM_MAX);
	while (pcap_next_ex(pc, &ph, &pkt) == 1) {
		if (ph->caplen > 14 && pkt[12] == 0x08 && pkt[13] == 0x00)
			(void)add_payload(c, pkt + 14, ph->caplen - 14);
	}
	pcap_close(pc);
	return c;
}

static void capture_free(struct capture *c)
{
	free(c->data[0]);
	free(c->data[1]);
	free(c);
}

/* Drop each direction's bytes before its first TLS record (the STARTTLS
 * dialogue), as the session would hand over at the switch. */
static void capture_cut_to_tls(struct capture *c)
{
	size_t i, start[2] = { SIZE_MAX, SIZE_MAX };
	struct chunk *k;

	for (i = 0; i < c->nchunks; i++) {
		k = &c->chunks[i];
		if (start[k->dir] == SIZE_MAX &&
		    tls_looks_like_record(c->data[k->dir] + k->off, k->len))
			start[k->dir] = k->off;
		if (start[k->dir] == SIZE_MAX || k->off < start[k->dir])
			k->len = 0;
	}
	assert_true(start[0] != SIZE_MAX && start[1] != SIZE_MAX);
}

/* ---- running the layer over a capture ---------------------------------- */

struct result {
	struct buf out[2];
	uint64_t gaps[2], gap_bytes[2];
	int handshakes, notices;
	char last_notice[NOTICE_MAX];
	bool decrypted, decrypted_dir[2];
	char version[16], cipher[64], sni[64], alpn[64], reason[256];
	bool resumed, hrr;
};

static void on_plain(void *ctx, enum stream_dir d, const uint8_t *p, size_t n, int64_t ts)
{
	struct result *r = ctx;

	(void)ts;
	assert_int_equal(buf_append(&r->out[d], p, n), 0);
}

static void on_gap(void *ctx, enum stream_dir d, uint64_t n, int64_t ts)
{
	struct result *r = ctx;

	(void)ts;
	r->gaps[d]++;
	r->gap_bytes[d] += n;
}

static void on_handshake(void *ctx, const struct tls_info *info)
{
	struct result *r = ctx;

	r->handshakes++;
	r->decrypted = info->decrypted;
	r->decrypted_dir[DIR_C2S] = info->decrypted_dir[DIR_C2S];
	r->decrypted_dir[DIR_S2C] = info->decrypted_dir[DIR_S2C];
	r->resumed = info->resumed;
	r->hrr = info->hrr;
	snprintf(r->version, sizeof r->version, "%s", info->version);
	snprintf(r->cipher, sizeof r->cipher, "%s", info->cipher);
	snprintf(r->sni, sizeof r->sni, "%.*s", (int)info->sni.len, (const char *)info->sni.ptr);
	snprintf(r->alpn, sizeof r->alpn, "%.*s", (int)info->alpn.len, (const char *)info->alpn.ptr);
	snprintf(r->reason, sizeof r->reason, "%s", info->reason ? info->reason : "");
}

static void on_notice(void *ctx, const struct notice *n)
{
	struct result *r = ctx;

	assert_string_not_equal(notice_kind_name(n->kind), "other");
	r->notices++;
	snprintf(r->last_notice, sizeof r->last_notice, "%s", n->text);
}

enum feed_mode { FEED_CHUNKS, FEED_BYTES };

static void run(struct capture *c, const struct tls_keys *keys, enum feed_mode mode,
		struct result *r)
{
	struct tls_hooks hooks = { r, on_plain, on_gap, on_handshake, on_notice };
	struct tls_session *s;
	size_t i, j;

	memset(r, 0, sizeof *r);
	buf_init(&r->out[0], STREAM_MAX, NULL);
	buf_init(&r->out[1], STREAM_MAX, NULL);
	s = tls_session_new(keys, &hooks, NULL);
	assert_non_null(s);
	for (i = 0; i < c->nchunks; i++) {
		const struct chunk *k = &c->chunks[i];
		const uint8_t *p = c->data[k->dir] + k->off;

		if (mode == FEED_CHUNKS) {
			tls_session_feed(s, k->dir, p, k->len, (int64_t)i);
			continue;
		}
		for (j = 0; j < k->len; j++)
			tls_session_feed(s, k->dir, p + j, 1, (int64_t)i);
	}
	tls_session_end(s, 0);
	tls_session_free(&s);
	assert_null(s);
	assert_int_equal(r->handshakes, 1);
}

static void result_free(struct result *r)
{
	buf_free(&r->out[0]);
	buf_free(&r->out[1]);
}

static struct tls_keys *keys_load(const char *keylog, const char *rsa)
{
	char err[KEYLOG_ERRLEN];
	struct tls_keys *k = tls_keys_new();

	assert_non_null(k);
	if (keylog != NULL && keylog_load_file(k, keylog, NULL, NULL, err) != 0)
		fail_msg("%s", err);
	if (rsa != NULL && tls_keys_load_rsa(k, rsa, err) != 0)
		fail_msg("%s", err);
	return k;
}

static uint8_t *slurp(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *p = malloc(STREAM_MAX);

	assert_non_null(fp);
	assert_non_null(p);
	*len_r = fread(p, 1, STREAM_MAX, fp);
	fclose(fp);
	return p;
}

static void assert_plain(const struct buf *got, const char *path)
{
	size_t len;
	uint8_t *want = slurp(path, &len);

	if (got->len != len || memcmp(got->data, want, len) != 0)
		fail_msg("plaintext differs from %s: got %zu bytes, want %zu", path, got->len, len);
	free(want);
}

/* ---- the generated captures: every suite decrypts exactly ---------------- */

struct tls_case {
	const char *name;
	const char *version;
	const char *cipher;
	bool rsa_only;		/* decrypt with the RSA key instead of the log */
};

static const struct tls_case tls_cases[] = {
	{ "tls13-aes128gcm", "TLS 1.3", "TLS_AES_128_GCM_SHA256", false },
	{ "tls13-aes256gcm", "TLS 1.3", "TLS_AES_256_GCM_SHA384", false },
	{ "tls13-chacha20", "TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256", false },
	{ "tls13-aes128ccm", "TLS 1.3", "TLS_AES_128_CCM_SHA256", false },
	{ "tls13-hrr", "TLS 1.3", "TLS_AES_128_GCM_SHA256", false },
	{ "tls12-ecdhe-aes128gcm", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false },
	{ "tls12-ecdhe-chacha20", "TLS 1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false },
	{ "tls12-ecdhe-cbc-sha256-etm", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", false },
	{ "tls12-ecdhe-cbc-sha384-etm", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", false },
	{ "tls12-ecdhe-cbc-sha1", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", false },
	{ "tls12-rsa-aes256gcm", "TLS 1.2", "TLS_RSA_WITH_AES_256_GCM_SHA384", false },
	{ "tls12-rsa-aes256gcm", "TLS 1.2", "TLS_RSA_WITH_AES_256_GCM_SHA384", true },
	{ "tls12-rsa-aes128ccm", "TLS 1.2", "TLS_RSA_WITH_AES_128_CCM", true },
	{ "tls12-rsa-cbc-sha256", "TLS 1.2", "TLS_RSA_WITH_AES_256_CBC_SHA256", true },
	{ "tls12-rsa-cbc-sha256", "TLS 1.2", "TLS_RSA_WITH_AES_256_CBC_SHA256", false },
};

static struct capture *case_capture(const char *name)
{
	char path[256];
	struct capture *c;

	snprintf(path, sizeof path, DATA "%s.pcap", name);
	c = capture_read(path);
	if (c == NULL)
		fail_msg("cannot read %s", path);
	return c;
}

static struct tls_keys *case_keys(const struct tls_case *tc)
{
	char path[256];

	snprintf(path, sizeof path, DATA "%s.keylog", tc->name);
	return tc->rsa_only ? keys_load(NULL, DATA "server.key") : keys_load(path, NULL);
}

static void test_decrypt_cases(void **state)
{
	enum feed_mode mode;
	struct result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof tls_cases / sizeof tls_cases[0]; i++) {
		const struct tls_case *tc = &tls_cases[i];
		struct capture *c = case_capture(tc->name);
		struct tls_keys *k = case_keys(tc);

		for (mode = FEED_CHUNKS; mode <= FEED_BYTES; mode++) {
			run(c, k, mode, &r);
			if (!r.decrypted)
				fail_msg("%s: not decrypted: %s", tc->name, r.reason);
			assert_string_equal(r.version, tc->version);
			assert_string_equal(r.cipher, tc->cipher);
			assert_int_equal(r.hrr, strcmp(tc->name, "tls13-hrr") == 0);
			assert_string_equal(r.sni, r.hrr ? "imap.example.test" : "");
			assert_string_equal(r.alpn, r.hrr ? "imap" : "");
			assert_false(r.resumed);
			assert_int_equal(r.notices, 0);
			assert_int_equal(r.gaps[0] + r.gaps[1], 0);
			assert_plain(&r.out[DIR_C2S], DATA "c2s.txt");
			assert_plain(&r.out[DIR_S2C], DATA "s2c.txt");
			result_free(&r);
		}
		tls_keys_free(&k);
		capture_free(c);
	}
}

/* The public capture: STARTTLS on 143, TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384;
 * its client ends lines with a bare LF. */
static void test_lekensteyn(void **state)
{
	static const char c2s[] = "a001 CAPABILITY\na002 CAPABILITY\n";
	static const char caps[] = "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS "
				   "ID ENABLE IDLE AUTH=PLAIN\r\n";
	static const char ok[] = " OK Pre-login capabilities listed, post-login "
				 "capabilities have more.\r\n";
	char s2c[512];
	struct capture *c;
	struct tls_keys *k;
	struct result r;
	char path[4096];

	(void)state;
	public_path(path, sizeof path, "lekensteyn-imap-ssl.pcapng");
	c = capture_read(path);
	if (c == NULL) {
		print_message("skip: %s is absent (set PUBLIC=DIR or put ../shared/captures/public "
			      "beside the clone)\n", path);
		skip();
	}
	capture_cut_to_tls(c);
	public_path(path, sizeof path, "lekensteyn-imap-ssl.keylog");
	k = keys_load(path, NULL);
	assert_int_equal(tls_keys_count(k), 2);
	snprintf(s2c, sizeof s2c, "%sa001%s%sa002%s", caps, ok, caps, ok);
	run(c, k, FEED_CHUNKS, &r);
	assert_true(r.decrypted);
	assert_string_equal(r.version, "TLS 1.2");
	assert_string_equal(r.cipher, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
	assert_int_equal(r.out[DIR_C2S].len, strlen(c2s));
	assert_memory_equal(r.out[DIR_C2S].data, c2s, strlen(c2s));
	assert_int_equal(r.out[DIR_S2C].len, strlen(s2c));
	assert_memory_equal(r.out[DIR_S2C].data, s2c, strlen(s2c));
	result_free(&r);
	tls_keys_free(&k);
	capture_free(c);
}

/* ---- failures: a flipped byte, a gap, missing keys ----------------------- */

/* The offset of the payload of the last application data record of
 * direction d whose payload is longer than min. */
static size_t last_app_record(const struct capture *c, enum stream_dir d, size_t min)
{
	struct tls_record_hdr h;
	size_t off = 0, found = 0;

	while (tls_record_header(c->data[d] + off, c->len[d] - off, &h) > 0 &&
	       off + TLS_RECORD_HEADER_LEN + h.length <= c->len[d]) {
		if (h.type == TLS_CT_APPLICATION_DATA && h.length > min)
			found = off + TLS_RECORD_HEADER_LEN;
		off += TLS_RECORD_HEADER_LEN + h.length;
	}
	assert_true(found > 0);
	return found;
}

static void test_flipped_byte(void **state)
{
	static const char *names[] = { "tls13-aes128gcm", "tls12-ecdhe-cbc-sha1",
				       "tls12-ecdhe-cbc-sha256-etm", "tls12-ecdhe-chacha20",
				       "tls13-aes128ccm" };
	static const char last[] = "* BYE bye\r\na002 OK LOGOUT completed\r\n";
	size_t i, off, wlen;
	uint8_t *want;
	struct result r;

	(void)state;
	want = slurp(DATA "s2c.txt", &wlen);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct tls_case tc = { names[i], NULL, NULL, false };
		struct capture *c = case_capture(names[i]);
		struct tls_keys *k = case_keys(&tc);

		off = last_app_record(c, DIR_S2C, 30);
		c->data[DIR_S2C][off + 20] ^= 0x01;
		run(c, k, FEED_CHUNKS, &r);
		assert_true(r.decrypted);
		assert_int_equal(r.notices, 1);
		assert_non_null(strstr(r.last_notice, "failed authentication"));
		assert_int_equal(r.gaps[DIR_S2C], 1);
		assert_int_equal(r.gaps[DIR_C2S], 0);
		/* everything but the damaged record, and nothing of it */
		assert_int_equal(r.out[DIR_S2C].len, wlen - strlen(last));
		assert_memory_equal(r.out[DIR_S2C].data, want, wlen - strlen(last));
		assert_plain(&r.out[DIR_C2S], DATA "c2s.txt");
		result_free(&r);
		tls_keys_free(&k);
		capture_free(c);
	}
	free(want);
}

/* Feed a capture but replace s2c bytes [cut_from, cut_to) by a gap. */
static void run_with_gap(struct capture *c, const struct tls_keys *k, size_t cut_from,
			 size_t cut_to, struct result *r)
{
	struct tls_hooks hooks = { r, on_plain, on_gap, on_handshake, on_notice };
	struct tls_session *s;
	size_t i, from, to;

	memset(r, 0, sizeof *r);
	buf_init(&r->out[0], STREAM_MAX, NULL);
	buf_init(&r->out[1], STREAM_MAX, NULL);
	s = tls_session_new(k, &hooks, NULL);
	for (i = 0; i < c->nchunks; i++) {
		const struct chunk *ch = &c->chunks[i];
		const uint8_t *p = c->data[ch->dir] + ch->off;
		size_t end = ch->off + ch->len;

		if (ch->dir != DIR_S2C || end <= cut_from || ch->off >= cut_to) {
			tls_session_feed(s, ch->dir, p, ch->len, 0);
			continue;
		}
		from = cut_from > ch->off ? cut_from : ch->off;
		to = cut_to < end ? cut_to : end;
		tls_session_feed(s, ch->dir, p, from - ch->off, 0);
		tls_session_gap(s, ch->dir, to - from, 0);
		tls_session_feed(s, ch->dir, p + (to - ch->off), end - to, 0);
	}
	tls_session_free(&s);
}

/* A gap inside a record: that record is lost and reported, the next one
 * decrypts again (the layer knew where it ended). */
static void test_gap_inside_record(void **state)
{
	static const char last[] = "* BYE bye\r\na002 OK LOGOUT completed\r\n";
	struct tls_case tc = { "tls13-chacha20", NULL, NULL, false };
	struct capture *c = case_capture(tc.name);
	struct tls_keys *k = case_keys(&tc);
	struct result r;
	size_t off, wlen;
	uint8_t *want = slurp(DATA "s2c.txt", &wlen);

	(void)state;
	off = last_app_record(c, DIR_S2C, 30);
	run_with_gap(c, k, off + 10, off + 20, &r);
	assert_int_equal(r.gaps[DIR_S2C], 1);
	assert_int_equal(r.notices, 0);
	assert_int_equal(r.out[DIR_S2C].len, wlen - strlen(last));
	assert_memory_equal(r.out[DIR_S2C].data, want, wlen - strlen(last));
	result_free(&r);
	tls_keys_free(&k);
	capture_free(c);
	free(want);
}

/* A gap across a record boundary: the layer finds the next record header
 * and its sequence number, and decrypts from there. */
static void test_gap_across_records(void **state)
{
	static const char last[] = "* BYE bye\r\na002 OK LOGOUT completed\r\n";
	struct tls_case tc = { "tls12-ecdhe-aes128gcm", NULL, NULL, false };
	struct capture *c = case_capture(tc.name);
	struct tls_keys *k = case_keys(&tc);
	struct tls_record_hdr h;
	struct result r;
	size_t bye, first = 0, prev = 0, off = 0;

	(void)state;
	bye = last_app_record(c, DIR_S2C, 30) - TLS_RECORD_HEADER_LEN;
	/* the application data record before the BYE one */
	while (off < bye && tls_record_header(c->data[DIR_S2C] + off, bye - off, &h) > 0) {
		if (h.type == TLS_CT_APPLICATION_DATA) {
			first = first ? first : off;
			prev = off;
		}
		off += TLS_RECORD_HEADER_LEN + h.length;
	}
	assert_true(first > 0 && prev > first);
	/* from the middle of the greeting to the middle of the record before BYE */
	run_with_gap(c, k, first + 12, prev + 12, &r);
	assert_true(r.decrypted);
	assert_true(r.gaps[DIR_S2C] >= 1);
	if (r.notices != 1 || strstr(r.last_notice, "looking for the next record") == NULL)
		fail_msg("%d notices, last: %s", r.notices, r.last_notice);
	assert_int_equal(r.out[DIR_S2C].len, strlen(last));
	assert_memory_equal(r.out[DIR_S2C].data, last, strlen(last));
	assert_plain(&r.out[DIR_C2S], DATA "c2s.txt");
	result_free(&r);
	tls_keys_free(&k);
	capture_free(c);
}

static void expect_reason(const char *name, const struct tls_keys *k, const char *reason)
{
	struct capture *c = case_capture(name);
	struct result r;

	run(c, k, FEED_CHUNKS, &r);
	assert_false(r.decrypted);
	assert_string_equal(r.reason, reason);
	assert_int_equal(r.out[0].len + r.out[1].len, 0);
	assert_int_equal(r.gaps[0] + r.gaps[1], 0);
	assert_string_equal(r.sni, "");
	result_free(&r);
	capture_free(c);
}

static void test_reasons(void **state)
{
	struct tls_keys *empty = tls_keys_new(), *rsa = keys_load(NULL, DATA "server.key");
	struct tls_keys *other = keys_load(DATA "tls13-chacha20.keylog", NULL);

	(void)state;
	/* --rsa-key is suggested only where RSA key exchange was used */
	expect_reason("tls13-aes128gcm", NULL, "no keys given: use -k KEYLOG");
	expect_reason("tls12-ecdhe-aes128gcm", NULL, "no keys given: use -k KEYLOG");
	expect_reason("tls12-rsa-aes256gcm", NULL, "no keys given: use -k KEYLOG, or --rsa-key"
		      " with the server's key (RSA key exchange)");
	expect_reason("tls13-aes128gcm", other, "no key log entry for this client random");
	expect_reason("tls12-ecdhe-aes128gcm", other, "no key log entry for this client random");
	expect_reason("tls12-ecdhe-aes128gcm", rsa,
		      "ECDHE: an RSA key cannot decrypt this; provide a key log");
	expect_reason("tls12-rsa-aes256gcm", other, "RSA key exchange needed but no --rsa-key");
	expect_reason("tls12-rsa-aes256gcm", empty, "RSA key exchange needed but no --rsa-key");
	tls_keys_free(&empty);
	tls_keys_free(&rsa);
	tls_keys_free(&other);
}

/* The lines of a key log file whose label does not start with drop. */
static struct tls_keys *keys_without(const char *keylog, const char *drop)
{
	struct tls_keys *k = tls_keys_new();
	char err[KEYLOG_ERRLEN], line[512];
	struct buf text;
	FILE *fp = fopen(keylog, "r");

	assert_non_null(fp);
	buf_init(&text, STREAM_MAX, NULL);
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, drop, strlen(drop)) != 0)
			assert_int_equal(buf_append(&text, line, strlen(line)), 0);
	fclose(fp);
	if (keylog_load_mem(k, "part", text.data, text.len, NULL, NULL, err) != 0)
		fail_msg("%s", err);
	buf_free(&text);
	return k;
}

/* A key log written by one side may lack the other side's secrets: the
 * direction it covers is decrypted, the other is not, the session is not
 * called decrypted, and the missing labels are named in one notice. */
static void expect_one_direction(const char *drop, enum stream_dir ok, const char *missing)
{
	struct capture *c = case_capture("tls13-aes128gcm");
	struct tls_keys *k = keys_without(DATA "tls13-aes128gcm.keylog", drop);
	enum stream_dir lost = ok == DIR_C2S ? DIR_S2C : DIR_C2S;
	struct result r;

	run(c, k, FEED_CHUNKS, &r);
	assert_false(r.decrypted);
	assert_true(r.decrypted_dir[ok]);
	assert_false(r.decrypted_dir[lost]);
	assert_plain(&r.out[ok], ok == DIR_C2S ? DATA "c2s.txt" : DATA "s2c.txt");
	assert_int_equal(r.out[lost].len, 0);
	assert_int_equal(r.gaps[lost], 0);
	if (strstr(r.reason, missing) == NULL)
		fail_msg("reason '%s' does not name %s", r.reason, missing);
	if (r.notices != 1 || strstr(r.last_notice, missing) == NULL)
		fail_msg("%d notices, last: %s", r.notices, r.last_notice);
	result_free(&r);
	tls_keys_free(&k);
	capture_free(c);
}

static void test_one_direction(void **state)
{
	struct capture *c = case_capture("tls13-aes128gcm");
	struct tls_keys *k = keys_without(DATA "tls13-aes128gcm.keylog", "#");
	struct result r;

	(void)state;
	run(c, k, FEED_CHUNKS, &r);
	assert_true(r.decrypted && r.decrypted_dir[DIR_C2S] && r.decrypted_dir[DIR_S2C]);
	result_free(&r);
	tls_keys_free(&k);
	capture_free(c);
	expect_one_direction("SERVER_", DIR_C2S,
			     "SERVER_HANDSHAKE_TRAFFIC_SECRET and SERVER_TRAFFIC_SECRET_0");
	expect_one_direction("SERVER_TRAFFIC", DIR_C2S, "no SERVER_TRAFFIC_SECRET_0 for");
	expect_one_direction("CLIENT_", DIR_S2C,
			     "CLIENT_HANDSHAKE_TRAFFIC_SECRET and CLIENT_TRAFFIC_SECRET_0");
	expect_one_direction("CLIENT_TRAFFIC", DIR_S2C, "no CLIENT_TRAFFIC_SECRET_0 for");
}

/* A capture that starts after the handshake: counted, never decrypted. */
static void test_midstream(void **state)
{
	struct capture *c = case_capture("tls12-ecdhe-aes128gcm");
	struct tls_keys *k = keys_load(DATA "tls12-ecdhe-aes128gcm.keylog", NULL);
	struct tls_record_hdr h;
	struct result r;
	size_t i;

	(void)state;
	/* drop every chunk before each direction's first application data */
	for (i = 0; i < c->nchunks; i++) {
		struct chunk *ch = &c->chunks[i];

		if (tls_record_header(c->data[ch->dir] + ch->off, ch->len, &h) > 0 &&
		    h.type == TLS_CT_APPLICATION_DATA)
			break;
		ch->len = 0;
	}
	assert_true(i < c->nchunks);
	assert_true(tls_looks_like_record(c->data[c->chunks[i].dir] + c->chunks[i].off,
					  c->chunks[i].len));
	run(c, k, FEED_CHUNKS, &r);
	assert_false(r.decrypted);
	assert_string_equal(r.reason,
			    "the capture starts after the TLS handshake: keys cannot be matched");
	assert_string_equal(r.version, "unknown");
	assert_int_equal(r.out[0].len + r.out[1].len, 0);
	result_free(&r);
	tls_keys_free(&k);
	capture_free(c);
}

/* A key log whose secret is wrong: decrypted=false, no plaintext. */
static void test_wrong_key(void **state)
{
	struct capture *c = case_capture("tls12-ecdhe-aes128gcm");
	char line[256], err[KEYLOG_ERRLEN];
	struct tls_keys *k = tls_keys_new();
	struct result r;
	size_t i, len;
	uint8_t *log = slurp(DATA "tls12-ecdhe-aes128gcm.keylog", &len);

	(void)state;
	/* "CLIENT_RANDOM <64 hex> <96 hex>": change the secret's last digit */
	const uint8_t *cr = memmem(log, len, "CLIENT_RANDOM ", 14);

	assert_non_null(cr);
	assert_true((size_t)(log + len - cr) > 14 + 64 + 1 + 96);
	memcpy(line, cr, 14 + 64 + 1 + 96);
	line[14 + 64 + 96] = line[14 + 64 + 96] == '0' ? '1' : '0';
	assert_int_equal(keylog_load_mem(k, "mem", (uint8_t *)line, 14 + 64 + 1 + 96,
					 NULL, NULL, err), 0);
	run(c, k, FEED_CHUNKS, &r);
	assert_false(r.decrypted);
	if (strstr(r.reason, "do not decrypt") == NULL)
		fail_msg("reason: %s", r.reason);
	assert_int_equal(r.out[0].len + r.out[1].len, 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(r.gaps[i], 0);
	result_free(&r);
	tls_keys_free(&k);
	capture_free(c);
	free(log);
}

/* The server's Certificate message in the s2c bytes: type 11, then a list
 * holding one certificate (lengths L, L - 3, L - 6).  Returns its offset. */
static size_t find_certificate(const struct capture *c)
{
	const uint8_t *p = c->data[DIR_S2C];

	for (size_t i = 0; i + 10 <= c->len[DIR_S2C]; i++) {
		size_t l = (size_t)p[i + 1] << 16 | (size_t)p[i + 2] << 8 | p[i + 3];
		size_t list = (size_t)p[i + 4] << 16 | (size_t)p[i + 5] << 8 | p[i + 6];
		size_t cert = (size_t)p[i + 7] << 16 | (size_t)p[i + 8] << 8 | p[i + 9];

		if (p[i] == 11 && l > 6 && list == l - 3 && cert == l - 6)
			return i;
	}
	fail_msg("no Certificate message");
	return 0;
}

/* RSA key exchange with the key of another server: named by the server's
 * certificate at once.  A Certificate whose lengths lie (a list shorter
 * than its first certificate, which claims 64 KB) is not parsed, and the
 * ClientKeyExchange then decides: a notice naming the key file when it
 * does not decrypt. */
static void test_rsa_key_of_another_server(void **state)
{
	static const char other[] = "tests/e2e/keys/other-server.key";
	struct capture *c = case_capture("tls12-rsa-aes256gcm");
	struct tls_keys *mine = keys_load(NULL, DATA "server.key");
	struct tls_keys *theirs = keys_load(NULL, other);
	struct result r;
	size_t at;

	(void)state;
	run(c, theirs, FEED_CHUNKS, &r);
	assert_false(r.decrypted);
	assert_string_equal(r.reason, "the RSA key is not this server's: its certificate holds"
			    " another public key");
	assert_non_null(strstr(r.last_notice, other));
	result_free(&r);

	at = find_certificate(c);
	c->data[DIR_S2C][at + 6] = 1;	/* list length 1 */
	memset(c->data[DIR_S2C] + at + 7, 0xff, 3);	/* first certificate 16 MB */
	assert_int_equal(c->data[DIR_S2C][at + 10], 0x30);	/* DER SEQUENCE, */
	assert_int_equal(c->data[DIR_S2C][at + 11], 0x82);	/* two length bytes */
	memset(c->data[DIR_S2C] + at + 12, 0xff, 2);	/* of 64 KB */
	/* the right key: the pre-master decrypts, but the extended master
	 * secret hashes the altered handshake, so the records do not */
	run(c, mine, FEED_CHUNKS, &r);
	assert_false(r.decrypted);
	assert_null(strstr(r.reason, "certificate"));
	assert_int_equal(r.notices, 0);
	result_free(&r);
	run(c, theirs, FEED_CHUNKS, &r);
	assert_false(r.decrypted);
	assert_non_null(strstr(r.reason, "did not decrypt the pre-master secret"));
	assert_non_null(strstr(r.last_notice, other));
	result_free(&r);
	tls_keys_free(&mine);
	tls_keys_free(&theirs);
	capture_free(c);
}

/* ---- record header and hello parsing ----------------------------------- */

static void test_record_header(void **state)
{
	static const uint8_t ok[] = { 0x17, 0x03, 0x03, 0x00, 0x20 };
	static const uint8_t big[] = { 0x17, 0x03, 0x03, 0x48, 0x01 };
	static const uint8_t http[] = { 'G', 'E', 'T', ' ', '/' };
	static const uint8_t imap[] = { '*', ' ', 'O', 'K', ' ' };
	struct tls_record_hdr h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok; i++)
		assert_int_equal(tls_record_header(ok, i, &h), PARSE_MORE);
	assert_int_equal(tls_record_header(ok, sizeof ok, &h), TLS_RECORD_HEADER_LEN);
	assert_int_equal(h.type, 23);
	assert_int_equal(h.length, 32);
	assert_int_equal(tls_record_header(big, sizeof big, &h), PARSE_BAD);	/* 18433 > 2^14+2048 */
	assert_true(tls_looks_like_record(ok, sizeof ok));
	assert_false(tls_looks_like_record(http, sizeof http));
	assert_false(tls_looks_like_record(imap, sizeof imap));
	assert_false(tls_looks_like_record(ok, 4));
}

static void test_client_hello_fields(void **state)
{
	struct capture *c = case_capture("tls13-aes128gcm");
	struct tls_hello h;
	const uint8_t *p = c->data[DIR_C2S];
	size_t body = TLS_RECORD_HEADER_LEN + TLS_HS_HEADER_LEN;
	size_t len = (size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8], cut;

	(void)state;
	assert_int_equal(p[5], TLS_HS_CLIENT_HELLO);
	assert_int_equal(tls_hello_parse(p + body, len, false, &h), 0);
	assert_int_equal(h.legacy_version, TLS_VERSION_1_2);
	assert_int_equal(h.version, TLS_VERSION_1_3);
	assert_int_equal(h.session_id_len, 32);
	assert_false(h.psk);
	/* every truncation is refused, none reads past the end */
	for (cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);

		memcpy(copy, p + body, cut);
		if (tls_hello_parse(copy, cut, false, &h) == 0)
			assert_true(cut >= 38);
		free(copy);
	}
	capture_free(c);
}

/* ---- key schedule vectors ----------------------------------------------- */

static void hex(const char *s, uint8_t *out, size_t n)
{
	size_t i;
	unsigned v;

	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* RFC 8448 section 3 (simple 1-RTT handshake): the server handshake
 * traffic secret gives the server's handshake write key and IV. */
static void test_rfc8448_expand_label(void **state)
{
	uint8_t secret[32], key[16], iv[12], want_key[16], want_iv[12];

	(void)state;
	hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38", secret, 32);
	hex("3fce516009c21727d0f2e4e86ee403bc", want_key, 16);
	hex("5d313eb2671276ee13000b30", want_iv, 12);
	assert_int_equal(tls_hkdf_expand_label("SHA256", secret, 32, "key", NULL, 0, key, 16), 0);
	assert_int_equal(tls_hkdf_expand_label("SHA256", secret, 32, "iv", NULL, 0, iv, 12), 0);
	assert_memory_equal(key, want_key, 16);
	assert_memory_equal(iv, want_iv, 12);
}

/* The TLS 1.2 PRF with SHA-256: the vector published on the IETF TLS list
 * (msg03416) and confirmed on the OASIS PKCS#11 list. */
static void test_tls12_prf_sha256(void **state)
{
	uint8_t secret[16], seed[16], out[100], want[100];

	(void)state;
	hex("9bbe436ba940f017b17652849a71db35", secret, 16);
	hex("a0ba9f936cda311827a6f796ffd5198c", seed, 16);
	hex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
	    "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
	    "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
	    "87347b66", want, 100);
	assert_int_equal(tls_prf("SHA256", secret, 16, "test label", seed, 16, out, 100), 0);
	assert_memory_equal(out, want, 100);
}

/* The session struct (20 KB) is charged to the run's budget: refused when
 * it does not fit, given back when freed. */
static void test_session_budget(void **state)
{
	struct mem_budget mb = { .limit = 1000 };
	struct tls_hooks hooks = { 0 };
	struct tls_session *s;

	(void)state;
	assert_null(tls_session_new(NULL, &hooks, &mb));
	assert_int_equal(mb.used, 0);
	assert_int_equal(mb.refused, 1);
	mb.limit = 0;
	s = tls_session_new(NULL, &hooks, &mb);
	assert_non_null(s);
	assert_true(mb.used >= 16 * 1024);
	tls_session_free(&s);
	assert_int_equal(mb.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls12_prf_sha256),
		cmocka_unit_test(test_record_header),
		cmocka_unit_test(test_client_hello_fields),
		cmocka_unit_test(test_rfc8448_expand_label),
		cmocka_unit_test(test_decrypt_cases),
		cmocka_unit_test(test_lekensteyn),
		cmocka_unit_test(test_flipped_byte),
		cmocka_unit_test(test_gap_inside_record),
		cmocka_unit_test(test_gap_across_records),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_rsa_key_of_another_server),
		cmocka_unit_test(test_one_direction),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_session_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
