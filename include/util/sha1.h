/* SHA-1 (FIPS 180-4), for identifiers other tools compute with it (the
 * Community ID: net/community_id.h); not for anything that needs a
 * collision-resistant hash.  Here, not through libcrypto, so that the
 * layers below tls/ stay libc-only and no OpenSSL provider is loaded for
 * a capture without TLS (its first EVP_Digest cost more than 100 000
 * instructions a session on the bench). */
#ifndef IMAPSCOPE_UTIL_SHA1_H
#define IMAPSCOPE_UTIL_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

/* The SHA-1 of n bytes at data into out. */
void sha1_digest(const void *data, size_t n, uint8_t out[SHA1_LEN]);

/* Standard base64 (RFC 4648, with '=' padding) of n bytes at p into out,
 * which must hold 4 * ((n + 2) / 3) + 1 bytes; NUL-terminated.  Returns
 * the length written. */
size_t base64_encode(const uint8_t *p, size_t n, char *out);

#endif
