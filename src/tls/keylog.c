/* NSS key log loading and the RSA private key: see tls/keylog.h. */
#include "tls/keylog.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "util/hash.h"

#define KEYLOG_MAX_FILE		(256u << 20)	/* bigger files are refused */
#define KEYLOG_READ_CHUNK	65536
#define KEYLOG_MIN_SLOTS	64		/* initial index size (power of 2) */

struct keylog_entry {
	uint8_t random[KEYLOG_RANDOM_LEN];
	uint8_t len[KEYLOG_NLABELS];	/* 0: not logged */
	uint8_t secret[KEYLOG_NLABELS][KEYLOG_MAX_SECRET];
};

struct tls_keys {
	struct keylog_entry *entries;
	size_t count, cap;
	/* Open addressing: slot holds entry index + 1, 0 when empty.  The
	 * client random is random already, but a key log is user input, so it
	 * is hashed with the table's seed rather than trusted to spread. */
	uint32_t *slots;
	size_t nslots;
	EVP_PKEY *rsa;
	char *rsa_path;
	uint64_t seed;		/* of the slot hash (util/hash.h) */
};

/* Labels in the key log; -1 marks labels that are valid but carry nothing
 * decryption needs. */
static const struct {
	const char *name;
	int label;	/* enum keylog_label, or -1: accepted and ignored */
} keylog_labels[] = {
	{ "CLIENT_RANDOM", KEYLOG_MASTER_SECRET },
	{ "CLIENT_HANDSHAKE_TRAFFIC_SECRET", KEYLOG_CLIENT_HS },
	{ "SERVER_HANDSHAKE_TRAFFIC_SECRET", KEYLOG_SERVER_HS },
	{ "CLIENT_TRAFFIC_SECRET_0", KEYLOG_CLIENT_AP0 },
	{ "SERVER_TRAFFIC_SECRET_0", KEYLOG_SERVER_AP0 },
	{ "CLIENT_EARLY_TRAFFIC_SECRET", KEYLOG_CLIENT_EARLY },
	{ "EXPORTER_SECRET", -1 },
	{ "EARLY_EXPORTER_SECRET", -1 },
	{ "EARLY_EXPORTER_MASTER_SECRET", -1 },
	{ "RSA", -1 },	/* encrypted pre-master prefix; CLIENT_RANDOM suffices */
};

const char *keylog_label_name(enum keylog_label l)
{
	size_t i;

	for (i = 0; i < sizeof keylog_labels / sizeof keylog_labels[0]; i++)
		if (keylog_labels[i].label == (int)l)
			return keylog_labels[i].name;
	return "?";
}

struct tls_keys *tls_keys_new(void)
{
	struct tls_keys *k = calloc(1, sizeof *k);

	if (k != NULL)
		k->seed = hash_seed_random();
	return k;
}

void tls_keys_free(struct tls_keys **kp)
{
	struct tls_keys *k;

	if (kp == NULL || *kp == NULL)
		return;
	k = *kp;
	if (k->entries != NULL)
		OPENSSL_cleanse(k->entries, k->cap * sizeof *k->entries);
	free(k->entries);
	free(k->slots);
	EVP_PKEY_free(k->rsa);
	free(k->rsa_path);
	free(k);
	*kp = NULL;
}

/* The slot that holds random, or the empty slot where it would go. */
static size_t keylog_slot(const struct tls_keys *k, const uint8_t *r)
{
	size_t mask = k->nslots - 1;
	size_t i = (size_t)hash_bytes(k->seed, r, KEYLOG_RANDOM_LEN) & mask;

	while (k->slots[i] != 0 &&
	       memcmp(k->entries[k->slots[i] - 1].random, r, KEYLOG_RANDOM_LEN) != 0)
		i = (i + 1) & mask;
	return i;
}

static int keylog_rehash(struct tls_keys *k, size_t nslots)
{
	uint32_t *old = k->slots;
	size_t i;

	k->slots = calloc(nslots, sizeof *k->slots);
	if (k->slots == NULL) {
		k->slots = old;
		return -1;
	}
	k->nslots = nslots;
	for (i = 0; i < k->count; i++)
		k->slots[keylog_slot(k, k->entries[i].random)] = (uint32_t)(i + 1);
	free(old);
	return 0;
}

/* Room for one more entry in both the array and the index (load <= 1/2). */
static int keylog_grow(struct tls_keys *k)
{
	struct keylog_entry *e;
	size_t ncap;

	if (k->count >= KEYLOG_MAX_ENTRIES)
		return -1;
	if (k->count == k->cap) {
		ncap = k->cap ? k->cap * 2 : KEYLOG_MIN_SLOTS / 2;
		e = calloc(ncap, sizeof *e);
		if (e == NULL)
			return -1;
		/* copy rather than realloc so the old secrets can be cleansed */
		if (k->entries != NULL) {
			memcpy(e, k->entries, k->count * sizeof *e);
			OPENSSL_cleanse(k->entries, k->cap * sizeof *e);
			free(k->entries);
		}
		k->entries = e;
		k->cap = ncap;
	}
	if ((k->count + 1) * 2 > k->nslots)
		return keylog_rehash(k, k->nslots ? k->nslots * 2 : KEYLOG_MIN_SLOTS);
	return 0;
}

static int hex_val(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode exactly n hex digits into n/2 bytes. */
static bool hex_decode(const uint8_t *p, size_t n, uint8_t *out)
{
	size_t i;
	int hi, lo;

	if (n % 2 != 0)
		return false;
	for (i = 0; i < n / 2; i++) {
		hi = hex_val(p[2 * i]);
		lo = hex_val(p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Split off the next space-separated field of [*p, end). */
static struct buf_slice next_field(const uint8_t **p, const uint8_t *end)
{
	struct buf_slice f;

	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	f.ptr = *p;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	f.len = (size_t)(*p - f.ptr);
	return f;
}

static int label_lookup(struct buf_slice f, bool *known_r)
{
	size_t i;

	for (i = 0; i < sizeof keylog_labels / sizeof keylog_labels[0]; i++) {
		if (strlen(keylog_labels[i].name) == f.len &&
		    memcmp(keylog_labels[i].name, f.ptr, f.len) == 0) {
			*known_r = true;
			return keylog_labels[i].label;
		}
	}
	*known_r = false;
	return -1;
}

static int keylog_store(struct tls_keys *k, const uint8_t *random, int label,
			const uint8_t *secret, size_t len)
{
	struct keylog_entry *e;
	size_t slot;

	if (k->nslots == 0 && keylog_rehash(k, KEYLOG_MIN_SLOTS) < 0)
		return -1;
	slot = keylog_slot(k, random);
	if (k->slots[slot] == 0) {
		if (keylog_grow(k) < 0)
			return -1;
		slot = keylog_slot(k, random);	/* the index may have moved */
		e = &k->entries[k->count];
		memcpy(e->random, random, KEYLOG_RANDOM_LEN);
		k->slots[slot] = (uint32_t)(++k->count);
	}
	e = &k->entries[k->slots[slot] - 1];
	memcpy(e->secret[label], secret, len);
	e->len[label] = (uint8_t)len;
	return 0;
}

/* One line without its end of line.  Returns 0 (stored or ignored), 1 with
 * *why set for a malformed line, -1 out of memory. */
static int keylog_line(struct tls_keys *k, const uint8_t *p, size_t n,
		       const char **why)
{
	const uint8_t *end = p + n;
	struct buf_slice lab, rnd, sec, extra;
	uint8_t random[KEYLOG_RANDOM_LEN], secret[KEYLOG_MAX_SECRET];
	bool known;
	int label, rc;

	if (n > 0 && p[n - 1] == '\r')
		end--;
	lab = next_field(&p, end);
	if (lab.len == 0 || lab.ptr[0] == '#')
		return 0;	/* blank line or comment */
	rnd = next_field(&p, end);
	sec = next_field(&p, end);
	extra = next_field(&p, end);
	label = label_lookup(lab, &known);
	if (!known) {
		*why = "unknown label";
		return 1;
	}
	if (rnd.len == 0 || sec.len == 0 || extra.len != 0) {
		*why = "expected LABEL CLIENT_RANDOM SECRET";
		return 1;
	}
	if (label < 0)
		return 0;
	if (rnd.len != 2 * KEYLOG_RANDOM_LEN || !hex_decode(rnd.ptr, rnd.len, random)) {
		*why = "client random is not 64 hex digits";
		return 1;
	}
	if (sec.len > 2 * KEYLOG_MAX_SECRET || !hex_decode(sec.ptr, sec.len, secret)) {
		*why = "secret is not hex (at most 128 digits)";
		return 1;
	}
	if (label == KEYLOG_MASTER_SECRET && sec.len != 2 * 48) {
		*why = "CLIENT_RANDOM master secret is not 48 bytes";
		return 1;
	}
	rc = keylog_store(k, random, label, secret, sec.len / 2);
	OPENSSL_cleanse(secret, sizeof secret);
	return rc;
}

int keylog_load_mem(struct tls_keys *k, const char *name,
		    const uint8_t *p, size_t n,
		    keylog_notice_fn *notice, void *notice_ctx,
		    char err[KEYLOG_ERRLEN])
{
	const uint8_t *end = p + n, *nl;
	const char *why = NULL;
	unsigned long lineno = 0;
	char msg[KEYLOG_ERRLEN + 64];
	size_t len;
	int rc;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		if (len > KEYLOG_MAX_LINE) {
			rc = 1;
			why = "line too long";
		} else {
			rc = keylog_line(k, p, len, &why);
		}
		if (rc < 0) {
			snprintf(err, KEYLOG_ERRLEN, "%s: out of memory or over %u entries",
				 name, KEYLOG_MAX_ENTRIES);
			return -1;
		}
		if (rc > 0 && notice != NULL) {
			snprintf(msg, sizeof msg, "%s:%lu: key log line skipped: %s",
				 name, lineno, why);
			notice(notice_ctx, msg);
		}
		p += len + (nl != NULL);
	}
	return 0;
}

int keylog_load_file(struct tls_keys *k, const char *path,
		     keylog_notice_fn *notice, void *notice_ctx,
		     char err[KEYLOG_ERRLEN])
{
	struct buf b;
	uint8_t *dst;
	size_t got;
	FILE *fp;
	int rc = -1;

	fp = fopen(path, "rb");
	if (fp == NULL) {
		snprintf(err, KEYLOG_ERRLEN, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&b, KEYLOG_MAX_FILE, NULL);
	for (;;) {
		dst = buf_reserve(&b, KEYLOG_READ_CHUNK);
		if (dst == NULL) {
			snprintf(err, KEYLOG_ERRLEN, "%s: too big or out of memory", path);
			goto out;
		}
		got = fread(dst, 1, KEYLOG_READ_CHUNK, fp);
		buf_commit(&b, got);
		if (got < KEYLOG_READ_CHUNK)
			break;
	}
	if (ferror(fp)) {
		snprintf(err, KEYLOG_ERRLEN, "%s: read error", path);
		goto out;
	}
	rc = keylog_load_mem(k, path, b.data, b.len, notice, notice_ctx, err);
out:
	if (b.data != NULL)
		OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	fclose(fp);
	return rc;
}

/* A PEM passphrase prompt would block a batch tool: refuse instead, and
 * remember that a passphrase was asked for (the key is encrypted). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag;
	*(bool *)u = true;
	return -1;
}

int tls_keys_load_rsa(struct tls_keys *k, const char *path,
		      char err[KEYLOG_ERRLEN])
{
	EVP_PKEY *pk;
	BIO *bio;
	bool encrypted = false;

	bio = BIO_new_file(path, "r");
	if (bio == NULL) {
		snprintf(err, KEYLOG_ERRLEN, "%s: %s", path, strerror(errno ? errno : ENOENT));
		ERR_clear_error();
		return -1;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &encrypted);
	BIO_free(bio);
	ERR_clear_error();
	if (pk == NULL && encrypted) {
		snprintf(err, KEYLOG_ERRLEN, "%s: the key is encrypted; decrypt it first with"
			 " 'openssl pkey -in %s -out %s.plain' and pass that file", path, path, path);
		return -1;
	}
	if (pk == NULL) {
		snprintf(err, KEYLOG_ERRLEN,
			 "%s: not a key (expected an unencrypted PEM private key)", path);
		return -1;
	}
	if (!EVP_PKEY_is_a(pk, "RSA")) {
		EVP_PKEY_free(pk);
		snprintf(err, KEYLOG_ERRLEN, "%s: not an RSA key", path);
		return -1;
	}
	free(k->rsa_path);
	k->rsa_path = strdup(path);
	if (k->rsa_path == NULL) {
		EVP_PKEY_free(pk);
		snprintf(err, KEYLOG_ERRLEN, "%s: out of memory", path);
		return -1;
	}
	EVP_PKEY_free(k->rsa);
	k->rsa = pk;
	return 0;
}

const char *tls_keys_rsa_path(const struct tls_keys *k)
{
	return k != NULL && k->rsa_path != NULL ? k->rsa_path : "";
}

int tls_keys_rsa_matches_cert(const struct tls_keys *k, const uint8_t *der, size_t n)
{
	const unsigned char *p = der;
	X509 *cert;
	EVP_PKEY *pub;
	int rc = -1;

	if (k == NULL || k->rsa == NULL || n > LONG_MAX)
		return -1;
	cert = d2i_X509(NULL, &p, (long)n);
	if (cert != NULL && (pub = X509_get0_pubkey(cert)) != NULL)
		rc = EVP_PKEY_eq(pub, k->rsa) == 1;
	X509_free(cert);
	ERR_clear_error();
	return rc;
}

size_t tls_keys_count(const struct tls_keys *k)
{
	return k ? k->count : 0;
}

bool tls_keys_have_rsa(const struct tls_keys *k)
{
	return k != NULL && k->rsa != NULL;
}

const uint8_t *tls_keys_find(const struct tls_keys *k,
			     const uint8_t client_random[KEYLOG_RANDOM_LEN],
			     enum keylog_label label, size_t *len_r)
{
	const struct keylog_entry *e;
	size_t slot;

	*len_r = 0;
	if (k == NULL || k->nslots == 0 || (unsigned)label >= KEYLOG_NLABELS)
		return NULL;
	slot = keylog_slot(k, client_random);
	if (k->slots[slot] == 0)
		return NULL;
	e = &k->entries[k->slots[slot] - 1];
	if (e->len[label] == 0)
		return NULL;
	*len_r = e->len[label];
	return e->secret[label];
}

int tls_keys_rsa_decrypt(const struct tls_keys *k, const uint8_t *in,
			 size_t n, uint8_t pms[TLS_PREMASTER_LEN])
{
	uint8_t out[1024];	/* RSA up to 8192 bits */
	size_t outlen = sizeof out;
	EVP_PKEY_CTX *ctx;
	int ok;

	if (k == NULL || k->rsa == NULL || n > sizeof out)
		return -1;
	ctx = EVP_PKEY_CTX_new(k->rsa, NULL);
	if (ctx == NULL)
		return -1;
	ok = EVP_PKEY_decrypt_init(ctx) > 0 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
	     EVP_PKEY_decrypt(ctx, out, &outlen, in, n) > 0 &&
	     outlen == TLS_PREMASTER_LEN;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	if (ok)
		memcpy(pms, out, TLS_PREMASTER_LEN);
	OPENSSL_cleanse(out, sizeof out);
	return ok ? 0 : -1;
}
