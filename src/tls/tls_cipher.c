/* Record protection: opening one TLS 1.2 or 1.3 record with the keys of
 * its direction (AES-GCM, AES-CCM(_8), ChaCha20-Poly1305, AES-CBC with
 * HMAC).  See tls_int.h. */
#include "tls_int.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

#define TLS12_EXPLICIT_NONCE	8
#define TLS12_AAD_LEN		13	/* seq, type, version, length */

static void store_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* The GCM and ChaCha20-Poly1305 way: key once, then nonce, AAD, data and
 * the tag before Final. */
static bool aead_open_keyed(struct tls_cx *x, const struct tls_cipher_state *cs,
			    const uint8_t nonce[TLS_AEAD_NONCE_LEN],
			    const uint8_t *aad, size_t aad_len,
			    const uint8_t *ct, size_t ct_len, size_t tag_len, uint8_t *out)
{
	const EVP_CIPHER *c = tls_suite_cipher(cs->suite);
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
	size_t tag_len = tls_suite_tag_len(su);
	bool ccm = su->mode == MODE_CCM || su->mode == MODE_CCM8;
	int outl = 0;
	bool ok;

	if (ct_len < tag_len || ct_len - tag_len > INT32_MAX)
		return false;
	ct_len -= tag_len;
	if (!ccm)
		return aead_open_keyed(x, cs, nonce, aad, aad_len, ct, ct_len, tag_len, out);
	x->cipher = NULL;
	ok = EVP_DecryptInit_ex(cx, tls_suite_cipher(su), NULL, NULL, NULL) > 0 &&
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
	ok = EVP_DecryptInit_ex(cx, tls_suite_cipher(cs->suite), NULL, cs->key, iv) > 0 &&
	     EVP_CIPHER_CTX_set_padding(cx, 0) > 0 &&
	     EVP_DecryptUpdate(cx, out, &outl, ct, (int)n) > 0 &&
	     EVP_DecryptFinal_ex(cx, out + outl, &fin) > 0;
	ERR_clear_error();
	return ok;
}

/* TLS 1.2 CBC, RFC 5246 6.2.3.2 (MAC-then-encrypt) or RFC 7366
 * (encrypt-then-MAC).  Returns the plaintext length or -1. */
long tls12_open_cbc(struct tls_cx *cx, const struct tls_cipher_state *cs,
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
long tls12_open_aead(struct tls_cx *cx, const struct tls_cipher_state *cs,
		     const struct tls_record_hdr *h, const uint8_t *p,
		     size_t n, uint8_t *out)
{
	uint8_t nonce[TLS_AEAD_NONCE_LEN], aad[TLS12_AAD_LEN];
	size_t tag = tls_suite_tag_len(cs->suite), i;

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
long tls13_open(struct tls_cx *cx, const struct tls_cipher_state *cs,
		const uint8_t hdr[TLS_RECORD_HEADER_LEN], const uint8_t *p,
		size_t n, uint8_t *out, uint8_t *type_r)
{
	uint8_t nonce[TLS_AEAD_NONCE_LEN];
	size_t tag = tls_suite_tag_len(cs->suite), len, i;

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
