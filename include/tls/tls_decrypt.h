/* A TLS session as a byte layer: fed the raw TCP bytes of both directions,
 * it walks the handshake, derives the record keys from a key log (or the
 * server's RSA key for TLS 1.2 RSA key exchange), verifies and decrypts
 * every record, and hands on the application data of each direction, with
 * gaps where bytes are missing or a record failed its tag or MAC.
 *
 * TLS 1.2: PRF with SHA-256/SHA-384; AES-GCM, AES-CCM(_8), ChaCha20-Poly1305,
 * AES-CBC with HMAC-SHA1/256/384 (MAC-then-encrypt or encrypt-then-MAC);
 * extended master secret.  TLS 1.3: HKDF-Expand-Label from the logged
 * traffic secrets, handshake then application keys, KeyUpdate.
 * All cryptography is OpenSSL libcrypto (EVP). */
#ifndef IMAPSCOPE_TLS_DECRYPT_H
#define IMAPSCOPE_TLS_DECRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls/keylog.h"
#include "tls/tls_record.h"
#include "util/buf.h"
#include "util/byte_layer.h"
#include "util/notice.h"

/* After a gap that does not end inside a known record, the next record's
 * sequence number is guessed up to this far ahead. */
#define TLS_RESYNC_MAX_SEQ	64
/* Records after such a gap that may fail to decrypt before the direction is
 * given up: a real stream resynchronises at its first record header (a
 * false header in ciphertext is a 1 in 2^24 chance a byte), so more mean
 * garbage or a jump past TLS_RESYNC_MAX_SEQ, and each costs that many
 * decryptions. */
#define TLS_RESYNC_MAX_CANDIDATES 16

/* What the handshake said and whether the session can be decrypted: the
 * contract's `tls` event.  Every pointer is valid only during the
 * handshake callback. */
struct tls_info {
	const char *version;	/* "TLS 1.2", "TLS 1.3", or "unknown" */
	const char *cipher;	/* IANA name, "TLS_..." or "unknown (0x....)"; */
	uint16_t version_id;	/* 0 when no ServerHello was seen */
	uint16_t cipher_id;
	struct buf_slice sni;	/* empty: no SNI */
	struct buf_slice alpn;	/* the selected protocol, else the first offered */
	bool decrypted;		/* both directions */
	bool decrypted_dir[2];	/* by enum stream_dir: a key log may cover one */
	const char *reason;	/* NULL when decrypted; else what to do about it */
	bool resumed;		/* session ID, ticket or PSK resumption */
	bool hrr;		/* a HelloRetryRequest happened */
};

/* Where the layer's output goes.  Every member but ctx may be NULL. */
struct tls_hooks {
	void *ctx;
	/* Decrypted application data, in order, per direction. */
	void (*plaintext)(void *ctx, enum stream_dir dir, const uint8_t *p,
			  size_t n, int64_t ts_us);
	/* About nbytes of application data are missing here (a TCP gap, or a
	 * record that failed authentication: its ciphertext length). Only
	 * called while the direction is being decrypted. */
	void (*gap)(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts_us);
	/* Called once, as soon as the outcome is known: the first record
	 * decrypted or failed, keys are missing, or at tls_session_end. */
	void (*handshake)(void *ctx, const struct tls_info *info);
	/* Notices (NOTICE_TLS_*), kind and text only; ctx is this struct's
	 * ctx.  May be NULL. */
	notice_fn *notice;
};

/* Per-direction counts, for sessions that cannot be decrypted. */
struct tls_stats {
	uint64_t bytes[2];		/* raw TLS bytes fed */
	uint64_t records[2];
	uint64_t app_records[2];	/* application data records seen */
	uint64_t plaintext[2];		/* bytes handed to hooks->plaintext */
	uint64_t bad_records[2];	/* failed tag or MAC */
};

struct tls_session;

/* keys may be NULL (nothing can be decrypted; the handshake is still
 * reported).  keys, hooks and budget must outlive the session (hooks is
 * copied).  NULL on out-of-memory. */
struct tls_session *tls_session_new(const struct tls_keys *keys,
				    const struct tls_hooks *hooks,
				    struct mem_budget *budget);
void tls_session_feed(struct tls_session *s, enum stream_dir dir,
		      const uint8_t *p, size_t n, int64_t ts_us);
void tls_session_gap(struct tls_session *s, enum stream_dir dir,
		     uint64_t nbytes, int64_t ts_us);
/* The stream is over: reports the handshake if it has not been yet. */
void tls_session_end(struct tls_session *s, int64_t ts_us);
/* Cleanses the keys and frees; sets *sp to NULL.  NULL is fine.  Does not
 * call any hook. */
void tls_session_free(struct tls_session **sp);
void tls_session_stats(const struct tls_session *s, struct tls_stats *st_r);

/* The key derivation steps, exported for the RFC test vectors.
 * md is an OpenSSL digest name ("SHA256", "SHA384").  Return 0 or -1. */
int tls_prf(const char *md, const uint8_t *secret, size_t secret_len,
	    const char *label, const uint8_t *seed, size_t seed_len,
	    uint8_t *out, size_t out_len) WUR;
/* RFC 8446 7.1 HKDF-Expand-Label(secret, "tls13 " + label, context, len). */
int tls_hkdf_expand_label(const char *md, const uint8_t *secret,
			  size_t secret_len, const char *label,
			  const uint8_t *context, size_t context_len,
			  uint8_t *out, size_t out_len) WUR;
/* The IANA name of a cipher suite, or NULL when it is not in the table. */
const char *tls_cipher_name(uint16_t id);

#endif
