/* Key derivation: the TLS 1.2 PRF (RFC 5246 5) and the TLS 1.3
 * HKDF-Expand-Label (RFC 8446 7.1), through OpenSSL's EVP_KDF.  See
 * tls/tls_decrypt.h. */
#include "tls_int.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#define TLS_MAX_LABEL		255	/* HkdfLabel label and context */

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
