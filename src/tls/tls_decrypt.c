/* TLS session decryption: see tls/tls_decrypt.h.
 *
 * The file has four parts: the cipher suite table, key derivation (PRF and
 * HKDF through EVP_KDF), record protection (EVP ciphers and MACs), and the
 * session: records per direction, handshake messages, key activation. */
#include "tls/tls_decrypt.h"
#include "util/notice.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#define TLS_MAX_KEY		32
#define TLS_MAX_IV		16
#define TLS_MAX_MAC_KEY		48
#define TLS_MAX_SECRET		48	/* SHA-384 */
#define TLS_MASTER_LEN		48
#define TLS_MAX_KEY_BLOCK	(2 * (TLS_MAX_MAC_KEY + TLS_MAX_KEY + TLS_MAX_IV))
#define TLS_AEAD_NONCE_LEN	12
#define TLS12_EXPLICIT_NONCE	8
#define TLS12_AAD_LEN		13	/* seq, type, version, length */
#define TLS_CBC_BLOCK		16
#define TLS_MAX_HASH		64
#define TLS_TRANSCRIPT_MAX	(TLS_MAX_HANDSHAKE_MSG * 2)	/* EMS session hash */
#define TLS_MAX_LABEL		255	/* HkdfLabel label and context */
#define TLS_NAME_LEN		64	/* the longest IANA suite name fits */
#define TLS_MAX_NAME		256	/* SNI and ALPN kept per session */
#define TLS_ALERT_CLOSE_NOTIFY	0
#define TLS_KEY_UPDATE_MAX	(1u << 20)	/* key updates per direction */

/* ---- cipher suites ---------------------------------------------------- */

enum tls_kx { KX_RSA, KX_ECDHE, KX_DHE, KX_TLS13 };
enum tls_mode { MODE_GCM, MODE_CCM, MODE_CCM8, MODE_CHACHA, MODE_CBC };

struct tls_suite {
	uint16_t id;
	const char *name;
	uint8_t kx;		/* enum tls_kx */
	uint8_t mode;		/* enum tls_mode */
	uint8_t key_len;
	const char *prf;	/* PRF / HKDF digest */
	const char *mac;	/* CBC HMAC digest, or NULL for AEAD */
	uint8_t mac_len;
};

#define S(id, name, kx, mode, klen, prf, mac, mlen) \
	{ id, name, kx, mode, klen, prf, mac, mlen }
static const struct tls_suite tls_suites[] = {
	S(0x1301, "TLS_AES_128_GCM_SHA256", KX_TLS13, MODE_GCM, 16, "SHA256", NULL, 0),
	S(0x1302, "TLS_AES_256_GCM_SHA384", KX_TLS13, MODE_GCM, 32, "SHA384", NULL, 0),
	S(0x1303, "TLS_CHACHA20_POLY1305_SHA256", KX_TLS13, MODE_CHACHA, 32, "SHA256", NULL, 0),
	S(0x1304, "TLS_AES_128_CCM_SHA256", KX_TLS13, MODE_CCM, 16, "SHA256", NULL, 0),
	S(0x1305, "TLS_AES_128_CCM_8_SHA256", KX_TLS13, MODE_CCM8, 16, "SHA256", NULL, 0),
	S(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", KX_RSA, MODE_GCM, 16, "SHA256", NULL, 0),
	S(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", KX_RSA, MODE_GCM, 32, "SHA384", NULL, 0),
	S(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", KX_DHE, MODE_GCM, 16, "SHA256", NULL, 0),
	S(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", KX_DHE, MODE_GCM, 32, "SHA384", NULL, 0),
	S(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", KX_ECDHE, MODE_GCM, 16, "SHA256", NULL, 0),
	S(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", KX_ECDHE, MODE_GCM, 32, "SHA384", NULL, 0),
	S(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", KX_ECDHE, MODE_GCM, 16, "SHA256", NULL, 0),
	S(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", KX_ECDHE, MODE_GCM, 32, "SHA384", NULL, 0),
	S(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", KX_ECDHE, MODE_CHACHA, 32, "SHA256", NULL, 0),
	S(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", KX_ECDHE, MODE_CHACHA, 32, "SHA256", NULL, 0),
	S(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", KX_DHE, MODE_CHACHA, 32, "SHA256", NULL, 0),
	S(0xC09C, "TLS_RSA_WITH_AES_128_CCM", KX_RSA, MODE_CCM, 16, "SHA256", NULL, 0),
	S(0xC09D, "TLS_RSA_WITH_AES_256_CCM", KX_RSA, MODE_CCM, 32, "SHA256", NULL, 0),
	S(0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", KX_DHE, MODE_CCM, 16, "SHA256", NULL, 0),
	S(0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", KX_DHE, MODE_CCM, 32, "SHA256", NULL, 0),
	S(0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", KX_RSA, MODE_CCM8, 16, "SHA256", NULL, 0),
	S(0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", KX_RSA, MODE_CCM8, 32, "SHA256", NULL, 0),
	S(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", KX_ECDHE, MODE_CCM, 16, "SHA256", NULL, 0),
	S(0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", KX_ECDHE, MODE_CCM, 32, "SHA256", NULL, 0),
	S(0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", KX_ECDHE, MODE_CCM8, 16, "SHA256", NULL, 0),
	S(0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", KX_ECDHE, MODE_CCM8, 32, "SHA256", NULL, 0),
	S(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", KX_RSA, MODE_CBC, 16, "SHA256", "SHA1", 20),
	S(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", KX_RSA, MODE_CBC, 32, "SHA256", "SHA1", 20),
	S(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", KX_RSA, MODE_CBC, 16, "SHA256", "SHA256", 32),
	S(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", KX_RSA, MODE_CBC, 32, "SHA256", "SHA256", 32),
	S(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", KX_DHE, MODE_CBC, 16, "SHA256", "SHA1", 20),
	S(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", KX_DHE, MODE_CBC, 32, "SHA256", "SHA1", 20),
	S(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", KX_DHE, MODE_CBC, 16, "SHA256", "SHA256", 32),
	S(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", KX_DHE, MODE_CBC, 32, "SHA256", "SHA256", 32),
	S(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", KX_ECDHE, MODE_CBC, 16, "SHA256", "SHA1", 20),
	S(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", KX_ECDHE, MODE_CBC, 32, "SHA256", "SHA1", 20),
	S(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", KX_ECDHE, MODE_CBC, 16, "SHA256", "SHA1", 20),
	S(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", KX_ECDHE, MODE_CBC, 32, "SHA256", "SHA1", 20),
	S(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", KX_ECDHE, MODE_CBC, 16, "SHA256", "SHA256", 32),
	S(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", KX_ECDHE, MODE_CBC, 32, "SHA384", "SHA384", 48),
	S(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", KX_ECDHE, MODE_CBC, 16, "SHA256", "SHA256", 32),
	S(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", KX_ECDHE, MODE_CBC, 32, "SHA384", "SHA384", 48),
};
#undef S

static const struct tls_suite *suite_find(uint16_t id)
{
	size_t i;

	for (i = 0; i < sizeof tls_suites / sizeof tls_suites[0]; i++)
		if (tls_suites[i].id == id)
			return &tls_suites[i];
	return NULL;
}

const char *tls_cipher_name(uint16_t id)
{
	const struct tls_suite *su = suite_find(id);

	return su ? su->name : NULL;
}

static const EVP_CIPHER *suite_cipher(const struct tls_suite *su)
{
	bool big = su->key_len == 32;

	switch (su->mode) {
	case MODE_GCM: return big ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
	case MODE_CCM:
	case MODE_CCM8: return big ? EVP_aes_256_ccm() : EVP_aes_128_ccm();
	case MODE_CHACHA: return EVP_chacha20_poly1305();
	default: return big ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
	}
}

static size_t suite_tag_len(const struct tls_suite *su)
{
	return su->mode == MODE_CCM8 ? 8 : su->mode == MODE_CBC ? 0 : 16;
}

/* TLS 1.2 implicit IV bytes in the key block (RFC 5288, 6655, 7905). */
static size_t suite_fixed_iv_len(const struct tls_suite *su)
{
	switch (su->mode) {
	case MODE_CHACHA: return TLS_AEAD_NONCE_LEN;
	case MODE_CBC: return TLS_CBC_BLOCK;
	default: return 4;
	}
}

/* ---- key derivation ----------------------------------------------------- */

static int kdf_derive(const char *alg, OSSL_PARAM *params, uint8_t *out, size_t n)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, alg, NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int ok = kctx != NULL && EVP_KDF_derive(kctx, out, n, params) > 0;

	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	ERR_clear_error();
	return ok ? 0 : -1;
}

int tls_prf(const char *md, const uint8_t *secret, size_t secret_len,
	    const char *label, const uint8_t *seed, size_t seed_len,
	    uint8_t *out, size_t out_len)
{
	uint8_t lseed[TLS_MAX_LABEL + 2 * TLS_MAX_HASH + 2 * TLS_RANDOM_LEN];
	size_t llen = strlen(label);
	OSSL_PARAM params[4];
	int rc;

	/* the PRF seed is label + seed; one SEED parameter avoids relying on
	 * how a provider joins several */
	if (llen > TLS_MAX_LABEL || seed_len > sizeof lseed - llen)
		return -1;
	memcpy(lseed, label, llen);
	memcpy(lseed + llen, seed, seed_len);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
						      (void *)secret, secret_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, lseed,
						      llen + seed_len);
	params[3] = OSSL_PARAM_construct_end();
	rc = kdf_derive("TLS1-PRF", params, out, out_len);
	OPENSSL_cleanse(lseed, sizeof lseed);
	return rc;
}

int tls_hkdf_expand_label(const char *md, const uint8_t *secret,
			  size_t secret_len, const char *label,
			  const uint8_t *context, size_t context_len,
			  uint8_t *out, size_t out_len)
{
	static const char prefix[] = "tls13 ";
	uint8_t info[2 + 1 + TLS_MAX_LABEL + 1 + TLS_MAX_LABEL];
	size_t llen = sizeof prefix - 1 + strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[5];

	if (llen > TLS_MAX_LABEL || context_len > TLS_MAX_LABEL || out_len > 0xffff)
		return -1;
	/* struct HkdfLabel { uint16 length; opaque label<7..255>;
	 *                    opaque context<0..255>; } */
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)llen;
	memcpy(info + n, prefix, sizeof prefix - 1);
	n += sizeof prefix - 1;
	memcpy(info + n, label, strlen(label));
	n += strlen(label);
	info[n++] = (uint8_t)context_len;
	if (context_len > 0)
		memcpy(info + n, context, context_len);
	n += context_len;
	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      (void *)secret, secret_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	params[4] = OSSL_PARAM_construct_end();
	return kdf_derive("HKDF", params, out, out_len);
}

/* ---- record protection -------------------------------------------------- */

/* The keys of one direction for the current epoch. */
struct tls_cipher_state {
	const struct tls_suite *suite;
	uint8_t key[TLS_MAX_KEY];
	uint8_t iv[TLS_MAX_IV];		/* TLS 1.2 fixed IV, TLS 1.3 static IV */
	uint8_t mac_key[TLS_MAX_MAC_KEY];
	uint8_t secret[TLS_MAX_SECRET];	/* TLS 1.3 traffic secret */
	size_t secret_len;
	uint64_t seq;
	bool etm;			/* TLS 1.2 CBC: encrypt-then-MAC */
	bool ready;
};

static void store_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* A cipher context that remembers the key it holds: a GCM or ChaCha20
 * record under the same key needs only its nonce.  Setting the key each
 * time (the AES key schedule, and OpenSSL 3 fetching the cipher again)
 * cost more than decrypting the record.  cipher is NULL when nothing
 * reusable is loaded. */
struct tls_cx {
	EVP_CIPHER_CTX *cx;
	const EVP_CIPHER *cipher;
	uint8_t key[TLS_MAX_KEY];
};

/* The GCM and ChaCha20-Poly1305 way: key once, then nonce, AAD, data and
 * the tag before Final. */
static bool aead_open_keyed(struct tls_cx *x, const struct tls_cipher_state *cs,
			    const uint8_t nonce[TLS_AEAD_NONCE_LEN],
			    const uint8_t *aad, size_t aad_len,
			    const uint8_t *ct, size_t ct_len, size_t tag_len, uint8_t *out)
{
	const EVP_CIPHER *c = suite_cipher(cs->suite);
	size_t kl = cs->suite->key_len;
	int outl = 0, fin = 0;
	bool ok = true;

	if (x->cipher != c || memcmp(x->key, cs->key, kl) != 0) {
		x->cipher = NULL;
		ok = EVP_DecryptInit_ex(x->cx, c, NULL, NULL, NULL) > 0 &&
		     EVP_CIPHER_CTX_ctrl(x->cx, EVP_CTRL_AEAD_SET_IVLEN, TLS_AEAD_NONCE_LEN,
					 NULL) > 0 &&
		     EVP_DecryptInit_ex(x->cx, NULL, NULL, cs->key, NULL) > 0;
		if (ok) {
			x->cipher = c;
			memcpy(x->key, cs->key, kl);
		}
	}
	ok = ok && EVP_DecryptInit_ex(x->cx, NULL, NULL, NULL, nonce) > 0 &&
	     EVP_DecryptUpdate(x->cx, NULL, &outl, aad, (int)aad_len) > 0 &&
	     EVP_DecryptUpdate(x->cx, out, &outl, ct, (int)ct_len) > 0 &&
	     EVP_CIPHER_CTX_ctrl(x->cx, EVP_CTRL_AEAD_SET_TAG, (int)tag_len,
				 (void *)(ct + ct_len)) > 0 &&
	     EVP_DecryptFinal_ex(x->cx, out + outl, &fin) > 0;
	if (!ok)
		ERR_clear_error();
	return ok;
}

/* One AEAD open; returns true when the tag verifies.  CCM needs the
 * lengths up front and the tag before the key, so it is set up afresh for
 * every record. */
static bool aead_open(struct tls_cx *x, const struct tls_cipher_state *cs,
		      const uint8_t nonce[TLS_AEAD_NONCE_LEN],
		      const uint8_t *aad, size_t aad_len,
		      const uint8_t *ct, size_t ct_len, uint8_t *out)
{
	const struct tls_suite *su = cs->suite;
	EVP_CIPHER_CTX *cx = x->cx;
	size_t tag_len = suite_tag_len(su);
	bool ccm = su->mode == MODE_CCM || su->mode == MODE_CCM8;
	int outl = 0;
	bool ok;

	if (ct_len < tag_len || ct_len - tag_len > INT32_MAX)
		return false;
	ct_len -= tag_len;
	if (!ccm)
		return aead_open_keyed(x, cs, nonce, aad, aad_len, ct, ct_len, tag_len, out);
	x->cipher = NULL;
	ok = EVP_DecryptInit_ex(cx, suite_cipher(su), NULL, NULL, NULL) > 0 &&
	     EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_AEAD_SET_IVLEN, TLS_AEAD_NONCE_LEN, NULL) > 0 &&
	     EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_AEAD_SET_TAG, (int)tag_len,
				 (void *)(ct + ct_len)) > 0 &&
	     EVP_DecryptInit_ex(cx, NULL, NULL, cs->key, nonce) > 0;
	ok = ok && EVP_DecryptUpdate(cx, NULL, &outl, NULL, (int)ct_len) > 0 &&
	     EVP_DecryptUpdate(cx, NULL, &outl, aad, (int)aad_len) > 0 &&
	     EVP_DecryptUpdate(cx, out, &outl, ct, (int)ct_len) > 0;
	ERR_clear_error();
	return ok;
}

static bool hmac(const char *md, const uint8_t *key, size_t key_len,
		 const uint8_t *hdr, size_t hdr_len, const uint8_t *p, size_t n,
		 uint8_t *out, size_t out_len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *mx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];
	size_t got = 0;
	bool ok;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = mx != NULL && EVP_MAC_init(mx, key, key_len, params) > 0 &&
	     EVP_MAC_update(mx, hdr, hdr_len) > 0 && EVP_MAC_update(mx, p, n) > 0 &&
	     EVP_MAC_final(mx, out, &got, out_len) > 0 && got == out_len;
	EVP_MAC_CTX_free(mx);
	EVP_MAC_free(mac);
	ERR_clear_error();
	return ok;
}

static void tls12_aad(uint8_t aad[TLS12_AAD_LEN], uint64_t seq, uint8_t type,
		      uint16_t version, size_t len)
{
	store_be64(aad, seq);
	aad[8] = type;
	aad[9] = (uint8_t)(version >> 8);
	aad[10] = (uint8_t)version;
	aad[11] = (uint8_t)(len >> 8);
	aad[12] = (uint8_t)len;
}

static bool cbc_decrypt(struct tls_cx *x, const struct tls_cipher_state *cs,
			const uint8_t *iv, const uint8_t *ct, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *cx = x->cx;
	int outl = 0, fin = 0;
	bool ok;

	if (n == 0 || n % TLS_CBC_BLOCK != 0 || n > INT32_MAX)
		return false;
	x->cipher = NULL;
	ok = EVP_DecryptInit_ex(cx, suite_cipher(cs->suite), NULL, cs->key, iv) > 0 &&
	     EVP_CIPHER_CTX_set_padding(cx, 0) > 0 &&
	     EVP_DecryptUpdate(cx, out, &outl, ct, (int)n) > 0 &&
	     EVP_DecryptFinal_ex(cx, out + outl, &fin) > 0;
	ERR_clear_error();
	return ok;
}

/* TLS 1.2 CBC, RFC 5246 6.2.3.2 (MAC-then-encrypt) or RFC 7366
 * (encrypt-then-MAC).  Returns the plaintext length or -1. */
static long tls12_open_cbc(struct tls_cx *cx, const struct tls_cipher_state *cs,
			   bool etm, const struct tls_record_hdr *h,
			   const uint8_t *p, size_t n, uint8_t *out)
{
	size_t ml = cs->suite->mac_len, pad, len;
	uint8_t aad[TLS12_AAD_LEN], mac[TLS_MAX_MAC_KEY];

	if (etm) {
		if (n < TLS_CBC_BLOCK + ml)
			return -1;
		n -= ml;
		tls12_aad(aad, cs->seq, h->type, h->version, n);
		if (!hmac(cs->suite->mac, cs->mac_key, ml, aad, sizeof aad, p, n, mac, ml) ||
		    CRYPTO_memcmp(mac, p + n, ml) != 0)
			return -1;
		if (!cbc_decrypt(cx, cs, p, p + TLS_CBC_BLOCK, n - TLS_CBC_BLOCK, out))
			return -1;
		pad = out[n - TLS_CBC_BLOCK - 1];
		if (pad + 1 > n - TLS_CBC_BLOCK)
			return -1;
		return (long)(n - TLS_CBC_BLOCK - pad - 1);
	}
	if (n < TLS_CBC_BLOCK * 2 || !cbc_decrypt(cx, cs, p, p + TLS_CBC_BLOCK,
						  n - TLS_CBC_BLOCK, out))
		return -1;
	n -= TLS_CBC_BLOCK;
	pad = out[n - 1];
	if (pad + 1 + ml > n)
		return -1;
	for (len = n - pad - 1; len < n - 1; len++)
		if (out[len] != pad)
			return -1;
	len = n - pad - 1 - ml;
	tls12_aad(aad, cs->seq, h->type, h->version, len);
	if (!hmac(cs->suite->mac, cs->mac_key, ml, aad, sizeof aad, out, len, mac, ml) ||
	    CRYPTO_memcmp(mac, out + len, ml) != 0)
		return -1;
	return (long)len;
}

/* TLS 1.2 AEAD record: returns the plaintext length or -1. */
static long tls12_open_aead(struct tls_cx *cx, const struct tls_cipher_state *cs,
			    const struct tls_record_hdr *h, const uint8_t *p,
			    size_t n, uint8_t *out)
{
	uint8_t nonce[TLS_AEAD_NONCE_LEN], aad[TLS12_AAD_LEN];
	size_t tag = suite_tag_len(cs->suite), i;

	if (cs->suite->mode == MODE_CHACHA) {
		/* RFC 7905: the IV xor the sequence number, no explicit part */
		if (n < tag)
			return -1;
		memcpy(nonce, cs->iv, TLS_AEAD_NONCE_LEN);
		for (i = 0; i < 8; i++)
			nonce[4 + i] ^= (uint8_t)(cs->seq >> (56 - 8 * i));
	} else {
		/* RFC 5288 / 6655: 4 fixed bytes + 8 explicit bytes */
		if (n < TLS12_EXPLICIT_NONCE + tag)
			return -1;
		memcpy(nonce, cs->iv, 4);
		memcpy(nonce + 4, p, TLS12_EXPLICIT_NONCE);
		p += TLS12_EXPLICIT_NONCE;
		n -= TLS12_EXPLICIT_NONCE;
	}
	tls12_aad(aad, cs->seq, h->type, h->version, n - tag);
	if (!aead_open(cx, cs, nonce, aad, sizeof aad, p, n, out))
		return -1;
	return (long)(n - tag);
}

/* TLS 1.3 record (RFC 8446 5.2): returns the inner plaintext length, with
 * the inner content type in *type_r, or -1. */
static long tls13_open(struct tls_cx *cx, const struct tls_cipher_state *cs,
		       const uint8_t hdr[TLS_RECORD_HEADER_LEN], const uint8_t *p,
		       size_t n, uint8_t *out, uint8_t *type_r)
{
	uint8_t nonce[TLS_AEAD_NONCE_LEN];
	size_t tag = suite_tag_len(cs->suite), len, i;

	memcpy(nonce, cs->iv, TLS_AEAD_NONCE_LEN);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(cs->seq >> (56 - 8 * i));
	if (n < tag || !aead_open(cx, cs, nonce, hdr, TLS_RECORD_HEADER_LEN, p, n, out))
		return -1;
	/* TLSInnerPlaintext: content, type, zero padding */
	len = n - tag;
	while (len > 0 && out[len - 1] == 0)
		len--;
	if (len == 0)
		return -1;
	*type_r = out[len - 1];
	return (long)(len - 1);
}

/* ---- the session --------------------------------------------------------- */

enum tls_epoch { EPOCH_PLAIN, EPOCH_EARLY, EPOCH_HANDSHAKE, EPOCH_APP };

struct tls_dir {
	struct tls_cx cx;		/* one a direction: each keeps its key */
	struct buf rec;			/* an incomplete record */
	struct tls_hs_reasm hs;
	struct tls_cipher_state cs;
	struct tls_cipher_state next;	/* TLS 1.2: keys waiting for CCS */
	uint8_t epoch;			/* enum tls_epoch */
	bool encrypted;			/* records are protected from here on */
	bool lost;			/* after a gap: looking for a header */
	bool candidate;			/* lost, but a plausible header is next */
	bool dead;			/* not TLS any more: only counted */
	uint64_t skip;			/* rest of a record cut by a gap */
	uint64_t key_updates;
};

enum tls_outcome { OUTCOME_PENDING, OUTCOME_REPORTED };

struct tls_session {
	const struct tls_keys *keys;
	struct tls_hooks hooks;
	struct mem_budget *budget;
	struct tls_dir dir[2];
	struct tls_stats st;

	bool seen_ch, seen_sh, hrr, resumed, ems, etm, early_data;
	uint8_t client_random[TLS_RANDOM_LEN], server_random[TLS_RANDOM_LEN];
	uint8_t ch_sid[TLS_MAX_SESSION_ID];
	uint8_t ch_sid_len;
	uint16_t version, cipher_id;
	const struct tls_suite *suite;
	uint8_t sni[TLS_MAX_NAME], alpn[TLS_MAX_NAME];
	size_t sni_len, alpn_len;
	char cipher_name[TLS_NAME_LEN];

	/* RSA key exchange: the handshake so far, for the EMS session hash */
	struct buf transcript;
	bool keep_transcript;
	bool want_cke;			/* the ClientKeyExchange gives the keys */
	bool from_rsa;			/* keys came from the RSA key */

	uint8_t outcome;		/* enum tls_outcome */
	bool decrypting;		/* keys derived and not refuted */
	const char *reason;		/* why not, once known */

	uint8_t out[TLS_MAX_RECORD_PAYLOAD];
};

/* Reasons shown to the user: each says what to do. */
#define WHY_NO_KEYS	"no keys given: use -k KEYLOG (or --rsa-key for RSA key exchange)"
#define WHY_NO_ENTRY	"no key log entry for this client random"
#define WHY_NO_RSA	"RSA key exchange needed but no --rsa-key"
#define WHY_ECDHE	"ECDHE: an RSA key cannot decrypt this; provide a key log"
#define WHY_DHE		"DHE: an RSA key cannot decrypt this; provide a key log"
#define WHY_RSA_RESUMED	"resumed session: the RSA key alone cannot decrypt it; provide a key log"
#define WHY_RSA_FAILED	"the RSA key did not decrypt the pre-master secret (not this server's key?)"
#define WHY_BAD_KEYS	"the keys do not decrypt this session (wrong key log entry or RSA key?)"
#define WHY_OLD_VERSION	"only TLS 1.2 and 1.3 can be decrypted"
#define WHY_SUITE	"this cipher suite cannot be decrypted"
#define WHY_MIDSTREAM	"the capture starts after the TLS handshake: keys cannot be matched"
#define WHY_INCOMPLETE	"the handshake is incomplete in the capture"
#define WHY_LOST	"a gap in the capture hid the handshake"

#define notice(s, ...) notice_send((s)->hooks.notice, (s)->hooks.ctx, __VA_ARGS__)

static void report(struct tls_session *s, bool decrypted, const char *reason)
{
	struct tls_info info;

	if (s->outcome == OUTCOME_REPORTED)
		return;
	s->outcome = OUTCOME_REPORTED;
	s->decrypting = decrypted;
	s->reason = reason;
	memset(&info, 0, sizeof info);
	info.version_id = s->seen_sh ? s->version : 0;
	info.version = tls_version_name(info.version_id);
	info.cipher_id = s->cipher_id;
	info.cipher = s->seen_sh ? s->cipher_name : "unknown";
	info.sni.ptr = s->sni;
	info.sni.len = s->sni_len;
	info.alpn.ptr = s->alpn;
	info.alpn.len = s->alpn_len;
	info.decrypted = decrypted;
	info.reason = decrypted ? NULL : reason;
	info.resumed = s->resumed;
	info.hrr = s->hrr;
	if (s->hooks.handshake != NULL)
		s->hooks.handshake(s->hooks.ctx, &info);
}

/* Keys are known to be missing or wrong: report, and stop decrypting. */
static void give_up(struct tls_session *s, const char *reason)
{
	s->decrypting = false;
	report(s, false, reason);
}

static void emit_gap(struct tls_session *s, enum stream_dir d, uint64_t n, int64_t ts)
{
	if (s->decrypting && n > 0 && s->hooks.gap != NULL)
		s->hooks.gap(s->hooks.ctx, d, n, ts);
}

struct tls_session *tls_session_new(const struct tls_keys *keys,
				    const struct tls_hooks *hooks,
				    struct mem_budget *budget)
{
	struct tls_session *s;
	int d;

	/* 20 KB a session, on every flow to an implicit-TLS port: charged, so
	 * that --max-memory bounds 65536 of them too. */
	if (mem_charge(budget, sizeof *s) != 0)
		return NULL;
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		mem_release(budget, sizeof *s);
		return NULL;
	}
	s->dir[0].cx.cx = EVP_CIPHER_CTX_new();
	s->dir[1].cx.cx = EVP_CIPHER_CTX_new();
	if (s->dir[0].cx.cx == NULL || s->dir[1].cx.cx == NULL) {
		EVP_CIPHER_CTX_free(s->dir[0].cx.cx);
		EVP_CIPHER_CTX_free(s->dir[1].cx.cx);
		free(s);
		mem_release(budget, sizeof *s);
		return NULL;
	}
	s->keys = keys;
	s->hooks = *hooks;
	s->budget = budget;
	for (d = 0; d < 2; d++) {
		buf_init(&s->dir[d].rec, TLS_RECORD_HEADER_LEN + TLS_MAX_RECORD_PAYLOAD, budget);
		tls_hs_init(&s->dir[d].hs, budget);
	}
	buf_init(&s->transcript, TLS_TRANSCRIPT_MAX, budget);
	return s;
}

void tls_session_free(struct tls_session **sp)
{
	struct tls_session *s;
	int d;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	for (d = 0; d < 2; d++) {
		buf_free(&s->dir[d].rec);
		tls_hs_free(&s->dir[d].hs);
		EVP_CIPHER_CTX_free(s->dir[d].cx.cx);
	}
	buf_free(&s->transcript);
	mem_release(s->budget, sizeof *s);
	OPENSSL_cleanse(s, sizeof *s);	/* keys, secrets and plaintext */
	free(s);
	*sp = NULL;
}

void tls_session_stats(const struct tls_session *s, struct tls_stats *st_r)
{
	*st_r = s->st;
}

/* ---- key activation ---------------------------------------------------- */

/* TLS 1.3: key and IV of one direction from its traffic secret. */
static int tls13_set_secret(struct tls_session *s, struct tls_cipher_state *cs,
			    const uint8_t *secret, size_t len)
{
	const struct tls_suite *su = s->suite;

	if (len > TLS_MAX_SECRET)
		return -1;
	memset(cs, 0, sizeof *cs);
	cs->suite = su;
	memcpy(cs->secret, secret, len);
	cs->secret_len = len;
	if (tls_hkdf_expand_label(su->prf, secret, len, "key", NULL, 0, cs->key, su->key_len) < 0 ||
	    tls_hkdf_expand_label(su->prf, secret, len, "iv", NULL, 0, cs->iv,
				  TLS_AEAD_NONCE_LEN) < 0)
		return -1;
	cs->ready = true;
	return 0;
}

static const uint8_t *logged(struct tls_session *s, enum keylog_label l, size_t *len_r)
{
	return tls_keys_find(s->keys, s->client_random, l, len_r);
}

/* TLS 1.3: switch direction d to epoch e using the logged secret. */
static void tls13_enter(struct tls_session *s, enum stream_dir d, enum tls_epoch e)
{
	static const enum keylog_label lab[2][4] = {
		{ 0, KEYLOG_CLIENT_EARLY, KEYLOG_CLIENT_HS, KEYLOG_CLIENT_AP0 },
		{ 0, 0, KEYLOG_SERVER_HS, KEYLOG_SERVER_AP0 },
	};
	struct tls_dir *dd = &s->dir[d];
	const uint8_t *sec;
	size_t len;

	dd->epoch = (uint8_t)e;
	dd->encrypted = true;
	OPENSSL_cleanse(&dd->cs, sizeof dd->cs);
	sec = e == EPOCH_PLAIN ? NULL : logged(s, lab[d][e], &len);
	if (sec == NULL || tls13_set_secret(s, &dd->cs, sec, len) < 0)
		dd->cs.ready = false;
}

/* TLS 1.2: both directions' keys from the master secret; they take effect
 * at each direction's ChangeCipherSpec. */
static int tls12_keys(struct tls_session *s, const uint8_t master[TLS_MASTER_LEN])
{
	const struct tls_suite *su = s->suite;
	uint8_t seed[2 * TLS_RANDOM_LEN], kb[TLS_MAX_KEY_BLOCK];
	size_t ml = su->mac_len, kl = su->key_len, il = suite_fixed_iv_len(su), o = 0;
	int d, rc;

	memcpy(seed, s->server_random, TLS_RANDOM_LEN);
	memcpy(seed + TLS_RANDOM_LEN, s->client_random, TLS_RANDOM_LEN);
	rc = tls_prf(su->prf, master, TLS_MASTER_LEN, "key expansion", seed, sizeof seed,
		     kb, 2 * (ml + kl + il));
	if (rc == 0) {
		/* client MAC, server MAC, client key, server key, client IV,
		 * server IV (RFC 5246 6.3) */
		for (d = 0; d < 2; d++) {
			struct tls_cipher_state *cs = &s->dir[d].next;

			memset(cs, 0, sizeof *cs);
			cs->suite = su;
			memcpy(cs->mac_key, kb + o + (size_t)d * ml, ml);
			memcpy(cs->key, kb + o + 2 * ml + (size_t)d * kl, kl);
			memcpy(cs->iv, kb + o + 2 * ml + 2 * kl + (size_t)d * il, il);
			cs->etm = s->etm;
			cs->ready = true;
		}
		s->decrypting = true;
	}
	OPENSSL_cleanse(kb, sizeof kb);
	return rc;
}

/* The ServerHello is in: decide where keys will come from. */
static void keys_after_server_hello(struct tls_session *s)
{
	const uint8_t *ms;
	size_t len;

	if (s->version != TLS_VERSION_1_2 && s->version != TLS_VERSION_1_3)
		return give_up(s, WHY_OLD_VERSION);
	if (s->suite == NULL || (s->suite->kx == KX_TLS13) != (s->version == TLS_VERSION_1_3))
		return give_up(s, WHY_SUITE);
	if (s->keys == NULL)
		return give_up(s, WHY_NO_KEYS);
	if (s->version == TLS_VERSION_1_3) {
		if (logged(s, KEYLOG_SERVER_HS, &len) == NULL)
			return give_up(s, tls_keys_have_rsa(s->keys) &&
				       tls_keys_count(s->keys) == 0 ? WHY_ECDHE : WHY_NO_ENTRY);
		s->decrypting = true;
		tls13_enter(s, DIR_S2C, EPOCH_HANDSHAKE);
		tls13_enter(s, DIR_C2S, s->early_data && !s->hrr ? EPOCH_EARLY : EPOCH_HANDSHAKE);
		return;
	}
	ms = logged(s, KEYLOG_MASTER_SECRET, &len);
	if (ms != NULL) {
		if (tls12_keys(s, ms) < 0)
			give_up(s, WHY_SUITE);
		return;
	}
	if (s->suite->kx != KX_RSA) {
		if (tls_keys_have_rsa(s->keys))
			give_up(s, s->suite->kx == KX_DHE ? WHY_DHE : WHY_ECDHE);
		else
			give_up(s, WHY_NO_ENTRY);
		return;
	}
	if (!tls_keys_have_rsa(s->keys))
		return give_up(s, WHY_NO_RSA);
	if (s->resumed)
		return give_up(s, WHY_RSA_RESUMED);
	s->want_cke = true;	/* the ClientKeyExchange will decide */
}

/* TLS 1.2 RSA key exchange: the pre-master from the ClientKeyExchange. */
static void rsa_client_key_exchange(struct tls_session *s, const uint8_t *body, size_t n)
{
	uint8_t pms[TLS_PREMASTER_LEN], master[TLS_MASTER_LEN];
	uint8_t seed[TLS_MAX_HASH], hash[TLS_MAX_HASH];
	unsigned int hlen = 0;
	size_t elen;
	int rc = -1;

	s->keep_transcript = false;
	s->want_cke = false;
	if (n < 2 || (elen = (size_t)body[0] << 8 | body[1]) != n - 2 ||
	    tls_keys_rsa_decrypt(s->keys, body + 2, elen, pms) < 0)
		return give_up(s, WHY_RSA_FAILED);
	if (s->ems) {
		/* RFC 7627: the session hash covers the handshake up to and
		 * including this ClientKeyExchange */
		if (EVP_Digest(s->transcript.data, s->transcript.len, hash, &hlen,
			       EVP_get_digestbyname(s->suite->prf), NULL) > 0)
			rc = tls_prf(s->suite->prf, pms, sizeof pms, "extended master secret",
				     hash, hlen, master, sizeof master);
	} else {
		memcpy(seed, s->client_random, TLS_RANDOM_LEN);
		memcpy(seed + TLS_RANDOM_LEN, s->server_random, TLS_RANDOM_LEN);
		rc = tls_prf(s->suite->prf, pms, sizeof pms, "master secret", seed,
			     2 * TLS_RANDOM_LEN, master, sizeof master);
	}
	if (rc == 0 && tls12_keys(s, master) == 0)
		s->from_rsa = true;
	else
		give_up(s, WHY_RSA_FAILED);
	buf_free(&s->transcript);
	OPENSSL_cleanse(pms, sizeof pms);
	OPENSSL_cleanse(master, sizeof master);
}

/* ---- handshake messages -------------------------------------------------- */

static void copy_name(uint8_t *dst, size_t *len_r, struct buf_slice src)
{
	*len_r = src.len < TLS_MAX_NAME ? src.len : TLS_MAX_NAME;
	if (*len_r > 0)
		memcpy(dst, src.ptr, *len_r);
}

static void on_client_hello(struct tls_session *s, const uint8_t *body, size_t n)
{
	struct tls_hello h;

	if (tls_hello_parse(body, n, false, &h) < 0) {
		notice(s, "TLS: malformed ClientHello");
		return;
	}
	if (s->seen_ch && s->hrr && !s->seen_sh)
		return;	/* the second ClientHello after a HelloRetryRequest */
	if (s->seen_sh && s->version != TLS_VERSION_1_2)
		return;	/* only TLS 1.2 renegotiates */
	s->seen_ch = true;
	memcpy(s->client_random, h.random, TLS_RANDOM_LEN);
	memcpy(s->ch_sid, h.session_id, h.session_id_len);
	s->ch_sid_len = h.session_id_len;
	copy_name(s->sni, &s->sni_len, h.sni);
	copy_name(s->alpn, &s->alpn_len, h.alpn);
	s->early_data = h.early_data && h.psk;
}

static void on_server_hello(struct tls_session *s, const uint8_t *body, size_t n)
{
	struct tls_hello h;

	if (tls_hello_parse(body, n, true, &h) < 0) {
		notice(s, "TLS: malformed ServerHello");
		return give_up(s, WHY_INCOMPLETE);
	}
	if (h.hrr) {
		s->hrr = true;	/* the real ServerHello follows the new ClientHello */
		return;
	}
	s->seen_sh = true;
	memcpy(s->server_random, h.random, TLS_RANDOM_LEN);
	s->version = h.version;
	s->cipher_id = h.cipher_suite;
	s->suite = suite_find(h.cipher_suite);
	if (s->suite != NULL)
		snprintf(s->cipher_name, sizeof s->cipher_name, "%s", s->suite->name);
	else
		snprintf(s->cipher_name, sizeof s->cipher_name, "unknown (0x%04x)",
			 h.cipher_suite);
	if (h.alpn.len > 0)
		copy_name(s->alpn, &s->alpn_len, h.alpn);
	s->ems = h.ems;
	s->etm = h.etm && s->suite != NULL && s->suite->mode == MODE_CBC;
	s->resumed = s->version == TLS_VERSION_1_3 ? h.psk :
		     (h.session_id_len > 0 && h.session_id_len == s->ch_sid_len &&
		      memcmp(h.session_id, s->ch_sid, s->ch_sid_len) == 0);
	if (!s->seen_ch)
		return give_up(s, WHY_MIDSTREAM);
	keys_after_server_hello(s);
}

/* TLS 1.3 KeyUpdate: the sender's next traffic secret (RFC 8446 7.2). */
static void tls13_key_update(struct tls_session *s, enum stream_dir d)
{
	struct tls_cipher_state *cs = &s->dir[d].cs;
	uint8_t next[TLS_MAX_SECRET];
	size_t len = cs->secret_len;

	if (!cs->ready || ++s->dir[d].key_updates > TLS_KEY_UPDATE_MAX)
		return;
	if (tls_hkdf_expand_label(s->suite->prf, cs->secret, len, "traffic upd", NULL, 0,
				  next, len) < 0 || tls13_set_secret(s, cs, next, len) < 0) {
		cs->ready = false;
		notice(s, "TLS: %s key update failed", stream_dir_name(d));
	}
	OPENSSL_cleanse(next, sizeof next);
}

/* TLS 1.3 moves the server's ALPN choice into EncryptedExtensions. */
static void on_encrypted_extensions(struct tls_session *s, const uint8_t *body, size_t n)
{
	struct buf_slice alpn;

	if (tls_encrypted_extensions_alpn(body, n, &alpn) == 1)
		copy_name(s->alpn, &s->alpn_len, alpn);
}

static void on_handshake_message(struct tls_session *s, enum stream_dir d,
				 uint8_t type, struct buf_slice msg)
{
	const uint8_t *body = msg.ptr + TLS_HS_HEADER_LEN;
	size_t n = msg.len - TLS_HS_HEADER_LEN;

	if (type == TLS_HS_CLIENT_HELLO && d == DIR_C2S) {
		buf_reset(&s->transcript);
		s->keep_transcript = tls_keys_have_rsa(s->keys);
	}
	if (s->keep_transcript && buf_append(&s->transcript, msg.ptr, msg.len) < 0)
		s->keep_transcript = false;	/* too big: EMS cannot be computed */
	if (type == TLS_HS_CLIENT_HELLO && d == DIR_C2S)
		on_client_hello(s, body, n);
	else if (type == TLS_HS_SERVER_HELLO && d == DIR_S2C)
		on_server_hello(s, body, n);
	else if (type == TLS_HS_CLIENT_KEY_EXCHANGE && d == DIR_C2S && s->want_cke)
		rsa_client_key_exchange(s, body, n);
	else if (s->version == TLS_VERSION_1_3 && s->dir[d].encrypted) {
		if (type == TLS_HS_ENCRYPTED_EXTENSIONS && d == DIR_S2C)
			on_encrypted_extensions(s, body, n);
		else if (type == TLS_HS_FINISHED && s->dir[d].epoch == EPOCH_HANDSHAKE)
			tls13_enter(s, d, EPOCH_APP);
		else if (type == TLS_HS_END_OF_EARLY_DATA && s->dir[d].epoch == EPOCH_EARLY)
			tls13_enter(s, d, EPOCH_HANDSHAKE);
		else if (type == TLS_HS_KEY_UPDATE && s->dir[d].epoch == EPOCH_APP)
			tls13_key_update(s, d);
	}
}

static void handshake_bytes(struct tls_session *s, enum stream_dir d,
			    const uint8_t *p, size_t n)
{
	struct tls_hs_reasm *r = &s->dir[d].hs;
	struct buf_slice msg;
	uint8_t type;
	int rc;

	if (tls_hs_append(r, p, n) < 0) {
		notice(s, "TLS: %s handshake message over %u bytes dropped", stream_dir_name(d),
		       TLS_MAX_HANDSHAKE_MSG);
		buf_reset(&r->b);
		return;
	}
	while ((rc = tls_hs_next(r, &type, &msg)) == 1) {
		on_handshake_message(s, d, type, msg);
		tls_hs_pop(r);
	}
	if (rc < 0) {
		notice(s, "TLS: %s handshake message over %u bytes dropped", stream_dir_name(d),
		       TLS_MAX_HANDSHAKE_MSG);
		buf_reset(&r->b);
	}
}

/* ---- records --------------------------------------------------------------- */

static void on_alert(struct tls_session *s, enum stream_dir d, const uint8_t *p, size_t n)
{
	if (n >= 2 && p[1] != TLS_ALERT_CLOSE_NOTIFY)
		notice(s, "TLS: %s alert, level %u description %u", stream_dir_name(d), p[0], p[1]);
}

/* Content that came out of a record (plain or decrypted). */
static void on_content(struct tls_session *s, enum stream_dir d, uint8_t type,
		       const uint8_t *p, size_t n, int64_t ts)
{
	switch (type) {
	case TLS_CT_HANDSHAKE:
		handshake_bytes(s, d, p, n);
		break;
	case TLS_CT_ALERT:
		on_alert(s, d, p, n);
		break;
	case TLS_CT_APPLICATION_DATA:
		s->st.plaintext[d] += n;
		if (n > 0 && s->hooks.plaintext != NULL)
			s->hooks.plaintext(s->hooks.ctx, d, p, n, ts);
		break;
	default:
		break;
	}
}

/* Open one protected record with cs; the plaintext length or -1. */
static long open_record(struct tls_session *s, struct tls_dir *dd,
			struct tls_cipher_state *cs, const uint8_t *rec, size_t n,
			const struct tls_record_hdr *h, uint8_t *type_r)
{
	const uint8_t *p = rec + TLS_RECORD_HEADER_LEN;

	n -= TLS_RECORD_HEADER_LEN;
	*type_r = h->type;
	if (s->version == TLS_VERSION_1_3)
		return tls13_open(&dd->cx, cs, rec, p, n, s->out, type_r);
	if (cs->suite->mode == MODE_CBC)
		return tls12_open_cbc(&dd->cx, cs, cs->etm, h, p, n, s->out);
	return tls12_open_aead(&dd->cx, cs, h, p, n, s->out);
}

/* Try the record with the current sequence number, then, after a gap, a
 * few later ones; in TLS 1.3 a handshake-epoch failure also tries the
 * application keys (the Finished may have been lost). */
static long try_open(struct tls_session *s, enum stream_dir d, const uint8_t *rec,
		     size_t n, const struct tls_record_hdr *h, uint8_t *type_r, bool resync)
{
	struct tls_dir *dd = &s->dir[d];
	uint64_t base = dd->cs.seq, k, tries = resync ? TLS_RESYNC_MAX_SEQ : 1;
	long len;

	for (k = 0; dd->cs.ready && k < tries; k++) {
		dd->cs.seq = base + k;
		len = open_record(s, dd, &dd->cs, rec, n, h, type_r);
		if (len >= 0)
			return len;
	}
	dd->cs.seq = base;
	if (s->version == TLS_VERSION_1_3 && !resync &&
	    (dd->epoch == EPOCH_HANDSHAKE || dd->epoch == EPOCH_EARLY)) {
		struct tls_cipher_state saved = dd->cs;
		uint8_t epoch = dd->epoch;

		tls13_enter(s, d, epoch == EPOCH_EARLY ? EPOCH_HANDSHAKE : EPOCH_APP);
		if (dd->cs.ready && (len = open_record(s, dd, &dd->cs, rec, n, h, type_r)) >= 0) {
			OPENSSL_cleanse(&saved, sizeof saved);
			return len;
		}
		dd->cs = saved;
		dd->epoch = epoch;
		OPENSSL_cleanse(&saved, sizeof saved);
	}
	return -1;
}

static void protected_record(struct tls_session *s, enum stream_dir d, const uint8_t *rec,
			     size_t n, const struct tls_record_hdr *h, int64_t ts,
			     bool resync)
{
	struct tls_dir *dd = &s->dir[d];
	size_t plen = n - TLS_RECORD_HEADER_LEN;
	uint8_t type;
	long len;

	if (!s->decrypting || (!dd->cs.ready && dd->epoch != EPOCH_EARLY))
		return;
	len = try_open(s, d, rec, n, h, &type, resync);
	if (len < 0 && (resync || dd->epoch == EPOCH_EARLY)) {
		/* not a failure of the keys: a false resync candidate, or 0-RTT
		 * data whose key was not logged */
		emit_gap(s, d, plen, ts);
		return;
	}
	if (len < 0) {
		s->st.bad_records[d]++;
		if (s->outcome == OUTCOME_PENDING) {
			give_up(s, s->from_rsa ? WHY_RSA_FAILED : WHY_BAD_KEYS);
			return;
		}
		notice(s, "TLS: %s record %" PRIu64 " failed authentication; %zu bytes skipped",
		       stream_dir_name(d), dd->cs.seq, plen);
		emit_gap(s, d, plen, ts);
		dd->cs.seq++;
		return;
	}
	dd->cs.seq++;
	dd->lost = false;
	/* the handshake is reported before any plaintext, but after the
	 * first decrypted handshake record (TLS 1.3 ALPN is in it) */
	if (type == TLS_CT_APPLICATION_DATA)
		report(s, true, NULL);
	on_content(s, d, type, s->out, (size_t)len, ts);
	report(s, true, NULL);
	/* explicit_bzero is a vector memset the compiler keeps; OPENSSL_cleanse
	 * went a byte at a time, 7% of a TLS run */
	explicit_bzero(s->out, (size_t)len);
}

static void change_cipher_spec(struct tls_session *s, enum stream_dir d)
{
	struct tls_dir *dd = &s->dir[d];

	/* TLS 1.3 middlebox compatibility records (RFC 8446 D.4) come after
	 * the ServerHello or a HelloRetryRequest, and change nothing */
	if (s->version == TLS_VERSION_1_3 || !s->seen_sh)
		return;
	if (dd->encrypted && !dd->next.ready) {
		/* a renegotiation whose keys are unknown */
		if (dd->cs.ready)
			notice(s, "TLS: %s renegotiated without keys; not decrypted further",
			       stream_dir_name(d));
		dd->cs.ready = false;
		return;
	}
	dd->encrypted = true;
	dd->epoch = EPOCH_APP;
	dd->cs = dd->next;
	dd->cs.seq = 0;
	OPENSSL_cleanse(&dd->next, sizeof dd->next);
}

static void on_record(struct tls_session *s, enum stream_dir d, const uint8_t *rec,
		      size_t n, const struct tls_record_hdr *h, int64_t ts, bool resync)
{
	struct tls_dir *dd = &s->dir[d];
	const uint8_t *p = rec + TLS_RECORD_HEADER_LEN;

	s->st.records[d]++;
	if (h->type == TLS_CT_APPLICATION_DATA)
		s->st.app_records[d]++;
	if (h->type == TLS_CT_CHANGE_CIPHER_SPEC)
		return change_cipher_spec(s, d);
	if (dd->encrypted && !(s->version == TLS_VERSION_1_3 && h->type == TLS_CT_ALERT &&
			       n - TLS_RECORD_HEADER_LEN == 2))
		return protected_record(s, d, rec, n, h, ts, resync);
	if (h->type == TLS_CT_APPLICATION_DATA) {
		if (!s->seen_sh && s->outcome == OUTCOME_PENDING)
			give_up(s, s->seen_ch ? WHY_LOST : WHY_MIDSTREAM);
		return;
	}
	on_content(s, d, h->type, p, n - TLS_RECORD_HEADER_LEN, ts);
}

/* ---- byte input ------------------------------------------------------------ */

/* After a gap: find something that looks like the next protected record
 * header.  Returns the offset in p, or n when there is none.  A header cut
 * by the end of p is not found; the next few bytes lost that way only cost
 * one more record. */
static size_t resync_scan(struct tls_session *s, const uint8_t *p, size_t n)
{
	struct tls_record_hdr h;
	uint16_t want = s->version == TLS_VERSION_1_3 ? TLS_VERSION_1_2 : s->version;
	size_t i;

	for (i = 0; i + TLS_RECORD_HEADER_LEN <= n; i++) {
		if (tls_record_header(p + i, n - i, &h) == 0 && h.version == want &&
		    h.type == TLS_CT_APPLICATION_DATA && h.length > 0)
			return i;
	}
	return n;
}

/* Append to the record buffer until the record is whole; returns the bytes
 * used, and sets *done when a record is complete in dd->rec. */
static size_t record_fill(struct tls_session *s, enum stream_dir d, const uint8_t *p,
			  size_t n, bool *done)
{
	struct tls_dir *dd = &s->dir[d];
	struct tls_record_hdr h;
	size_t want = TLS_RECORD_HEADER_LEN, take;

	*done = false;
	if (dd->rec.len >= TLS_RECORD_HEADER_LEN) {
		if (tls_record_header(dd->rec.data, dd->rec.len, &h) != 0)
			return 0;
		want += h.length;
	}
	take = want - dd->rec.len < n ? want - dd->rec.len : n;
	if (buf_append(&dd->rec, p, take) < 0)
		return 0;
	if (dd->rec.len == TLS_RECORD_HEADER_LEN && want == TLS_RECORD_HEADER_LEN) {
		if (tls_record_header(dd->rec.data, dd->rec.len, &h) != 0)
			return take;	/* caught by the caller */
		*done = h.length == 0;
		return take;
	}
	*done = dd->rec.len == want;
	return take;
}

static void dir_dead(struct tls_session *s, enum stream_dir d, const char *why)
{
	struct tls_dir *dd = &s->dir[d];

	dd->dead = true;
	buf_free(&dd->rec);
	notice(s, "TLS: %s %s; the rest of this direction is not decoded", stream_dir_name(d), why);
	if (s->outcome == OUTCOME_PENDING)
		give_up(s, WHY_INCOMPLETE);
}

void tls_session_feed(struct tls_session *s, enum stream_dir d, const uint8_t *p,
		      size_t n, int64_t ts_us)
{
	struct tls_dir *dd = &s->dir[d];
	struct tls_record_hdr h;
	size_t used;
	bool done, resync;

	s->st.bytes[d] += n;
	while (n > 0 && !dd->dead) {
		if (dd->skip > 0) {
			used = dd->skip < n ? (size_t)dd->skip : n;
			dd->skip -= used;
		} else if (dd->lost && !dd->candidate && dd->rec.len == 0) {
			/* skip to something that looks like a record header; the
			 * record itself then decides (decrypted, or dropped) */
			used = resync_scan(s, p, n);
			dd->candidate = used < n;
		} else {
			used = record_fill(s, d, p, n, &done);
			if (dd->rec.len >= TLS_RECORD_HEADER_LEN &&
			    tls_record_header(dd->rec.data, dd->rec.len, &h) != 0) {
				dir_dead(s, d, "stream is not TLS records");
				return;
			}
			if (used == 0) {
				dir_dead(s, d, "record buffer over the memory limit");
				return;
			}
			if (done) {
				resync = dd->lost;
				dd->candidate = false;
				if (resync && !s->decrypting)
					dd->lost = false;	/* nothing to verify with */
				on_record(s, d, dd->rec.data, dd->rec.len, &h, ts_us, resync);
				buf_reset(&dd->rec);
			}
		}
		p += used;
		n -= used;
	}
}

void tls_session_gap(struct tls_session *s, enum stream_dir d, uint64_t nbytes,
		     int64_t ts_us)
{
	struct tls_dir *dd = &s->dir[d];
	struct tls_record_hdr h;
	uint64_t rest;

	if (dd->dead || nbytes == 0)
		return;
	if (dd->skip > 0) {
		rest = dd->skip;
		dd->skip = nbytes < rest ? rest - nbytes : 0;
		if (nbytes <= rest)
			return;
		nbytes -= rest;
	} else if (dd->rec.len >= TLS_RECORD_HEADER_LEN &&
		   tls_record_header(dd->rec.data, dd->rec.len, &h) == 0) {
		/* the gap starts inside a record whose length we know: drop it
		 * and, if the gap ends inside it too, stay in step */
		rest = (uint64_t)TLS_RECORD_HEADER_LEN + h.length - dd->rec.len;
		buf_reset(&dd->rec);
		s->st.records[d]++;
		if (dd->encrypted) {
			dd->cs.seq++;
			emit_gap(s, d, h.length, ts_us);
		}
		if (nbytes <= rest) {
			dd->skip = rest - nbytes;
			return;
		}
		nbytes -= rest;
	}
	buf_reset(&dd->rec);
	buf_reset(&dd->hs.b);
	dd->lost = true;
	notice(s, "TLS: %s lost %" PRIu64 " bytes at a record boundary; looking for the next record",
	       stream_dir_name(d), nbytes);
	emit_gap(s, d, nbytes, ts_us);
}

void tls_session_end(struct tls_session *s, int64_t ts_us)
{
	(void)ts_us;
	if (s->outcome == OUTCOME_PENDING)
		report(s, false, !s->seen_ch ? WHY_MIDSTREAM : WHY_INCOMPLETE);
}
