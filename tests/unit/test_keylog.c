/* Key material: NSS key log lines (good, tolerated and malformed), several
 * files into one store, lookups by client random, and the RSA key. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls/keylog.h"

#define DATA "tests/data/tls/"

struct notes {
	int n;
	char last[KEYLOG_ERRLEN + 64];
};

static void on_notice(void *ctx, const struct notice *n)
{
	struct notes *nt = ctx;

	assert_int_equal(n->kind, NOTICE_KEYLOG);
	assert_int_equal(n->session, 0);
	nt->n++;
	snprintf(nt->last, sizeof nt->last, "%s", n->text);
}

static void hex(const char *s, uint8_t *out, size_t n)
{
	size_t i;
	unsigned v;

	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

#define CR1 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define CR2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void test_keylog_lines(void **state)
{
	static const char text[] =
		"# comment\n"
		"CLIENT_RANDOM " CR1 " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f\r\n"
		"CLIENT_RANDOM zz 00\n"
		"\n"
		"SERVER_TRAFFIC_SECRET_0 " CR2 " 0101010101010101010101010101010101010101010101010101010101010101\n"
		"EXPORTER_SECRET " CR2 " 00\n"
		"EARLY_EXPORTER_SECRET " CR2 " 00\n"
		"BOGUS_LABEL 00 00\n"
		"CLIENT_RANDOM " CR2 " 0011\n"
		"CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR2 " 0g\n"
		"CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR2 " 00 extra";
	struct tls_keys *k = tls_keys_new();
	char err[KEYLOG_ERRLEN];
	struct notes nt = { 0, "" };
	uint8_t cr[32];
	size_t len;
	const uint8_t *sec;

	(void)state;
	assert_int_equal(keylog_load_mem(k, "t.log", (const uint8_t *)text, strlen(text),
					 on_notice, &nt, err), 0);
	/* one notice for all the malformed lines: the first, and how many */
	assert_int_equal(nt.n, 1);
	assert_string_equal(nt.last, "t.log:3: key log line skipped: client random is not"
			    " 64 hex digits; 5 malformed lines skipped in all");
	assert_int_equal(tls_keys_count(k), 2);
	hex(CR1, cr, 32);
	sec = tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len);
	assert_non_null(sec);
	assert_int_equal(len, 48);
	assert_int_equal(sec[0], 0x00);
	assert_int_equal(sec[47], 0x2f);
	assert_null(tls_keys_find(k, cr, KEYLOG_CLIENT_HS, &len));
	assert_int_equal(len, 0);
	hex(CR2, cr, 32);
	sec = tls_keys_find(k, cr, KEYLOG_SERVER_AP0, &len);
	assert_non_null(sec);
	assert_int_equal(len, 32);
	assert_null(tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len));
	tls_keys_free(&k);
	assert_null(k);
	tls_keys_free(&k);	/* NULL is fine */
}

/* Many sessions and several files: the index grows and finds them all. */
static void test_keylog_many(void **state)
{
	struct tls_keys *k = tls_keys_new();
	char err[KEYLOG_ERRLEN], line[256];
	uint8_t cr[32];
	const uint8_t *sec;
	size_t i, len;
	unsigned j;

	(void)state;
	for (i = 0; i < 5000; i++) {
		int n = snprintf(line, sizeof line, "CLIENT_RANDOM %064zx ", i);

		for (j = 0; j < 48; j++)
			n += snprintf(line + n, sizeof line - (size_t)n, "%02x", (unsigned)(i + j) & 0xff);
		assert_int_equal(keylog_load_mem(k, "gen", (uint8_t *)line, (size_t)n, NULL,
						 NULL, err), 0);
	}
	assert_int_equal(keylog_load_file(k, DATA "tls13-aes128gcm.keylog", NULL, NULL, err), 0);
	assert_int_equal(keylog_load_file(k, DATA "tls12-ecdhe-aes128gcm.keylog", NULL, NULL, err), 0);
	assert_int_equal(tls_keys_count(k), 5002);
	for (i = 0; i < 5000; i += 7) {
		memset(cr, 0, sizeof cr);
		cr[30] = (uint8_t)(i >> 8);
		cr[31] = (uint8_t)i;
		sec = tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len);
		assert_non_null(sec);
		assert_int_equal(sec[5], (uint8_t)(i + 5));
	}
	/* a second line for the same random replaces the secret */
	assert_int_equal(keylog_load_mem(k, "again", (const uint8_t *)
		"CLIENT_RANDOM 0000000000000000000000000000000000000000000000000000000000000000 "
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		14 + 64 + 1 + 96, NULL, NULL, err), 0);
	memset(cr, 0, sizeof cr);
	sec = tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len);
	assert_int_equal(sec[0], 0xff);
	assert_int_equal(tls_keys_count(k), 5002);
	tls_keys_free(&k);
}

static void test_keylog_files(void **state)
{
	struct tls_keys *k = tls_keys_new();
	char err[KEYLOG_ERRLEN];
	uint8_t in[256], pms[TLS_PREMASTER_LEN];

	(void)state;
	assert_int_equal(keylog_load_file(k, "/nonexistent/key.log", NULL, NULL, err), -1);
	assert_string_equal(err, "/nonexistent/key.log: No such file or directory");
	assert_false(tls_keys_have_rsa(k));
	assert_int_equal(tls_keys_rsa_decrypt(k, in, sizeof in, pms), -1);
	assert_int_equal(tls_keys_load_rsa(k, DATA "c2s.txt", err), -1);
	assert_non_null(strstr(err, "not a key"));
	assert_int_equal(tls_keys_load_rsa(k, "/nonexistent/server.key", err), -1);
	assert_non_null(strstr(err, "/nonexistent/server.key"));
	assert_int_equal(tls_keys_load_rsa(k, DATA "server.key", err), 0);
	assert_true(tls_keys_have_rsa(k));
	/* not an encryption by this key */
	memset(in, 0x5a, sizeof in);
	assert_int_equal(tls_keys_rsa_decrypt(k, in, sizeof in, pms), -1);
	tls_keys_free(&k);
}

/* A file with lines but no valid one is not a key log: an error, not a
 * notice.  An empty one holds no keys, which is said. */
static void test_keylog_not_a_keylog(void **state)
{
	static const char junk[] = "\x89PNG\r\n\x1a\nIHDR\n# a comment\nhello world\n";
	struct tls_keys *k = tls_keys_new();
	char err[KEYLOG_ERRLEN];
	struct notes nt = { 0, "" };

	(void)state;
	assert_int_equal(keylog_load_mem(k, "x.png", (const uint8_t *)junk, sizeof junk - 1,
					 on_notice, &nt, err), -1);
	assert_string_equal(err, "x.png: not a key log (no valid line; line 1: unknown label)");
	assert_int_equal(nt.n, 0);
	assert_int_equal(keylog_load_mem(k, "empty", (const uint8_t *)"# nothing\n\n", 11,
					 on_notice, &nt, err), 0);
	assert_int_equal(nt.n, 1);
	assert_string_equal(nt.last, "empty: the key log holds no keys");
	tls_keys_free(&k);
}

/* n TLS 1.2 lines, CLIENT_RANDOM i with a secret made from i. */
static FILE *gen_tls12(size_t n, const char *extra_at_half)
{
	FILE *fp = tmpfile();
	size_t i;

	assert_non_null(fp);
	for (i = 0; i < n; i++) {
		fprintf(fp, "CLIENT_RANDOM %064zx ", i);
		for (unsigned j = 0; j < 48; j++)
			fprintf(fp, "%02x", (unsigned)(i + j) & 0xff);
		fputc('\n', fp);
		if (i == n / 2 && extra_at_half != NULL)
			fputs(extra_at_half, fp);
	}
	fflush(fp);
	return fp;
}

static void random_of(size_t i, uint8_t cr[32])
{
	memset(cr, 0, 32);
	for (int b = 0; b < 8; b++)
		cr[31 - b] = (uint8_t)(i >> (8 * b));
}

static const char *fd_path(FILE *fp, char *buf, size_t n)
{
	snprintf(buf, n, "/proc/self/fd/%d", fileno(fp));
	return buf;
}

/* A file is read in pieces: lines cut by a read, and a line longer than
 * any key log line, are handled as in memory; entries are compact. */
static void test_keylog_streamed(void **state)
{
	char longline[3000], path[64], err[KEYLOG_ERRLEN];
	struct notes nt = { 0, "" };
	struct tls_keys *k = tls_keys_new();
	FILE *fp;
	uint8_t cr[32];
	const uint8_t *sec;
	size_t len, i;

	(void)state;
	memset(longline, 'A', sizeof longline - 2);
	longline[sizeof longline - 2] = '\n';
	longline[sizeof longline - 1] = '\0';
	fp = gen_tls12(20000, longline);
	assert_int_equal(keylog_load_file(k, fd_path(fp, path, sizeof path), on_notice, &nt,
					  err), 0);
	assert_int_equal(tls_keys_count(k), 20000);
	assert_int_equal(nt.n, 1);
	assert_non_null(strstr(nt.last, ":10002: key log line skipped: line too long"));
	for (i = 0; i < 20000; i += 13) {
		random_of(i, cr);
		sec = tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len);
		assert_non_null(sec);
		assert_int_equal(len, 48);
		assert_int_equal(sec[47], (uint8_t)(i + 47));
	}
	/* only the secrets a line holds: once 422 bytes an entry */
	if (tls_keys_memory(k) / 20000 > 160)
		fail_msg("%zu bytes an entry", tls_keys_memory(k) / 20000);
	assert_false(tls_keys_full(k));
	tls_keys_free(&k);
	fclose(fp);
}

/* Past its share of the budget the store keeps what it has and counts the
 * rest; a second load keeps only the randoms a capture asked for. */
static void test_keylog_share_and_collect(void **state)
{
	struct mem_budget mb = { .limit = 0 };
	struct tls_keys *k = tls_keys_new();
	char path[64], err[KEYLOG_ERRLEN];
	FILE *fp = gen_tls12(20000, NULL);
	uint8_t cr[32];
	size_t len;
	const uint8_t *sec;

	(void)state;
	tls_keys_set_budget(k, &mb, 256 << 10);
	assert_int_equal(keylog_load_file(k, fd_path(fp, path, sizeof path), NULL, NULL, err), 0);
	assert_true(tls_keys_full(k));
	assert_true(tls_keys_dropped(k) > 0);
	assert_true(tls_keys_count(k) > 1000 && tls_keys_count(k) < 20000);
	assert_true(tls_keys_memory(k) <= 256 << 10);
	assert_int_equal(mb.used, tls_keys_memory(k));
	random_of(0, cr);
	assert_non_null(tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len));
	random_of(19999, cr);
	assert_null(tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len));

	tls_keys_collect_begin(k);
	assert_int_equal(tls_keys_count(k), 0);
	for (size_t i = 19985; i <= 20000; i += 5) {	/* 20000 is in no key log */
		random_of(i, cr);
		assert_null(tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len));
		assert_null(tls_keys_find(k, cr, KEYLOG_CLIENT_HS, &len));
	}
	tls_keys_collect_end(k);
	assert_int_equal(tls_keys_wanted_count(k), 4);
	assert_int_equal(keylog_load_file(k, path, NULL, NULL, err), 0);
	assert_false(tls_keys_full(k));
	assert_int_equal(tls_keys_count(k), 3);
	random_of(19995, cr);
	sec = tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len);
	assert_non_null(sec);
	assert_int_equal(sec[0], (uint8_t)19995);
	random_of(0, cr);
	assert_null(tls_keys_find(k, cr, KEYLOG_MASTER_SECRET, &len));
	tls_keys_free(&k);
	assert_int_equal(mb.used, 0);
	fclose(fp);
}

/* The certificate's DER, read from PEM: what a Certificate message holds. */
static int cert_der(const char *path, uint8_t **der)
{
	FILE *fp = fopen(path, "r");
	X509 *x;
	int n;

	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(x);
	*der = NULL;
	n = i2d_X509(x, der);
	X509_free(x);
	assert_true(n > 0);
	return n;
}

/* Is the RSA key this server's?  Told from the server's certificate. */
static void test_rsa_key_matches_cert(void **state)
{
	struct tls_keys *k = tls_keys_new();
	char err[KEYLOG_ERRLEN];
	uint8_t *der;
	int n = cert_der(DATA "server.crt", &der);

	(void)state;
	assert_int_equal(tls_keys_rsa_matches_cert(k, der, (size_t)n), -1);	/* no key */
	assert_string_equal(tls_keys_rsa_path(k), "");
	assert_int_equal(tls_keys_load_rsa(k, DATA "server.key", err), 0);
	assert_string_equal(tls_keys_rsa_path(k), DATA "server.key");
	assert_int_equal(tls_keys_rsa_matches_cert(k, der, (size_t)n), 1);
	assert_int_equal(tls_keys_rsa_matches_cert(k, der, (size_t)n / 2), -1);	/* cut */
	assert_int_equal(tls_keys_rsa_matches_cert(k, (const uint8_t *)"garbage", 7), -1);
	assert_int_equal(tls_keys_load_rsa(k, "tests/e2e/keys/other-server.key", err), 0);
	assert_string_equal(tls_keys_rsa_path(k), "tests/e2e/keys/other-server.key");
	assert_int_equal(tls_keys_rsa_matches_cert(k, der, (size_t)n), 0);
	OPENSSL_free(der);
	tls_keys_free(&k);
}

/* --write-keys-pcapng: the randoms whose secrets a lookup found, once each
 * in the order found, written back as key log lines; nothing noted before
 * tracking starts, nor for a random or label the store lacks. */
struct lines {
	char text[2048];
	size_t len;
	int n;
};

static int on_line(void *ctx, const char *line, size_t len)
{
	struct lines *l = ctx;

	assert_true(l->len + len < sizeof l->text);
	assert_int_equal(line[len - 1], '\n');
	memcpy(l->text + l->len, line, len);
	l->len += len;
	l->text[l->len] = '\0';
	l->n++;
	return 0;
}

static void test_keylog_used_lines(void **state)
{
	static const char text[] =
		"CLIENT_RANDOM " CR1 " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f\n"
		"SERVER_TRAFFIC_SECRET_0 " CR2 " 0A0B\n"
		"EXPORTER_SECRET " CR2 " 0c0d\n"
		"CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR2 " 0e0f\n";
	struct tls_keys *k = tls_keys_new();
	struct mem_budget budget = { 0 };
	char err[KEYLOG_ERRLEN];
	struct lines l = { "", 0, 0 };
	uint8_t cr1[32], cr2[32], other[32] = { 7 };
	size_t len, before;

	(void)state;
	tls_keys_set_budget(k, &budget, 0);
	assert_int_equal(keylog_load_mem(k, "t", (const uint8_t *)text, strlen(text), NULL,
					 NULL, err), 0);
	hex(CR1, cr1, 32);
	hex(CR2, cr2, 32);
	assert_non_null(tls_keys_find(k, cr1, KEYLOG_MASTER_SECRET, &len));
	assert_int_equal(tls_keys_used_count(k), 0);	/* not tracking yet */
	tls_keys_track_used(k);
	before = tls_keys_memory(k);
	assert_null(tls_keys_find(k, cr2, KEYLOG_CLIENT_AP0, &len));	/* not logged */
	assert_null(tls_keys_find(k, other, KEYLOG_MASTER_SECRET, &len));
	assert_int_equal(tls_keys_used_count(k), 0);
	assert_non_null(tls_keys_find(k, cr2, KEYLOG_SERVER_AP0, &len));
	assert_non_null(tls_keys_find(k, cr2, KEYLOG_CLIENT_HS, &len));
	assert_non_null(tls_keys_find(k, cr1, KEYLOG_MASTER_SECRET, &len));
	assert_int_equal(tls_keys_used_count(k), 2);
	assert_false(tls_keys_used_full(k));
	assert_true(tls_keys_memory(k) > before);	/* the noted list is charged */
	assert_int_equal(tls_keys_used_lines(k, on_line, &l), 0);
	assert_int_equal(l.n, 3);
	/* CR2 first (found first), its labels in enum order; hex in lower case */
	assert_string_equal(l.text,
		"CLIENT_HANDSHAKE_TRAFFIC_SECRET " CR2 " 0e0f\n"
		"SERVER_TRAFFIC_SECRET_0 " CR2 " 0a0b\n"
		"CLIENT_RANDOM " CR1 " 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f\n");
	tls_keys_collect_begin(k);	/* the noted randoms go with the secrets */
	assert_int_equal(tls_keys_used_count(k), 0);
	tls_keys_free(&k);
	assert_int_equal(budget.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keylog_lines),
		cmocka_unit_test(test_keylog_many),
		cmocka_unit_test(test_keylog_files),
		cmocka_unit_test(test_keylog_not_a_keylog),
		cmocka_unit_test(test_keylog_streamed),
		cmocka_unit_test(test_keylog_share_and_collect),
		cmocka_unit_test(test_keylog_used_lines),
		cmocka_unit_test(test_rsa_key_matches_cert),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
