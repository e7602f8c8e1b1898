/* The server's RSA private key (--rsa-key): loading it, matching it with a
 * certificate, and decrypting an RSA pre-master secret.  See tls/keylog.h. */
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

#include "keylog_int.h"

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

bool tls_keys_have_rsa(const struct tls_keys *k)
{
	return k != NULL && k->rsa != NULL;
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
