/* Key material for TLS decryption: NSS key log entries and an optional RSA
 * private key.
 *
 * The NSS key log (the SSLKEYLOGFILE format written by browsers, curl,
 * Python and `openssl s_client -keylogfile`) has one secret per line:
 *     LABEL <client random, 64 hex digits> <secret, hex>
 * Entries are indexed by client random, so one struct tls_keys may hold the
 * lines of several files and any number of sessions.  The struct is filled
 * at start-up and then only read, so many sessions may share it.
 *
 * Only the secrets a line carries are kept, and their memory is charged to
 * the run's budget up to a share of it (tls_keys_set_budget).  Past the
 * share lines are dropped and counted; the caller may then load again
 * keeping only the client randoms a capture needs: tls_keys_collect_begin,
 * one pass over the capture whose lookups record their randoms,
 * tls_keys_collect_end, and the key logs loaded anew. */
#ifndef IMAPSCOPE_TLS_KEYLOG_H
#define IMAPSCOPE_TLS_KEYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/notice.h"

#define KEYLOG_RANDOM_LEN	32	/* a TLS client random */
#define KEYLOG_MAX_SECRET	64	/* SHA-512 sized; TLS uses 48 at most */
#define KEYLOG_MAX_LINE		1024	/* longer lines are malformed */
#define KEYLOG_MAX_ENTRIES	(1u << 22)	/* client randoms kept at most */
#define KEYLOG_ERRLEN		1024	/* size of an error message buffer */
#define TLS_PREMASTER_LEN	48	/* RSA key exchange pre-master secret */

/* The secrets a key log line may carry that decryption uses.  Other known
 * labels (EXPORTER_SECRET, EARLY_EXPORTER_SECRET, ...) are accepted and
 * ignored. */
enum keylog_label {
	KEYLOG_MASTER_SECRET = 0,	/* CLIENT_RANDOM (TLS 1.2) */
	KEYLOG_CLIENT_HS,		/* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
	KEYLOG_SERVER_HS,		/* SERVER_HANDSHAKE_TRAFFIC_SECRET */
	KEYLOG_CLIENT_AP0,		/* CLIENT_TRAFFIC_SECRET_0 */
	KEYLOG_SERVER_AP0,		/* SERVER_TRAFFIC_SECRET_0 */
	KEYLOG_CLIENT_EARLY,		/* CLIENT_EARLY_TRAFFIC_SECRET */
	KEYLOG_NLABELS
};

/* The key log's name for a label ("SERVER_TRAFFIC_SECRET_0"). */
const char *keylog_label_name(enum keylog_label l);

struct tls_keys;

/* An empty key store; NULL on out-of-memory. */
struct tls_keys *tls_keys_new(void);
/* Cleanses every secret and frees; sets *kp to NULL.  NULL is fine. */
void tls_keys_free(struct tls_keys **kp);

/* Load one key log file, streaming it.  Malformed lines are skipped and
 * summed up in one notice (NOTICE_KEYLOG, "FILE:LINE: why") naming the file
 * and the first such line; notice may be NULL.
 * Returns 0, or -1 with a message in err when the file cannot be opened or
 * read, or has lines but no valid one: it is not a key log (the CLI exits
 * with 2).  Lines dropped at the memory share are not an error: see
 * tls_keys_full. */
int keylog_load_file(struct tls_keys *k, const char *path,
		     notice_fn *notice, void *notice_ctx,
		     char err[KEYLOG_ERRLEN]) WUR;

/* The same for text already in memory; name is used in notices. */
int keylog_load_mem(struct tls_keys *k, const char *name,
		    const uint8_t *p, size_t n,
		    notice_fn *notice, void *notice_ctx,
		    char err[KEYLOG_ERRLEN]) WUR;

/* Load a PEM RSA private key (--rsa-key).  Returns 0, or -1 with a message
 * in err: unreadable file, or "not a key" / "not an RSA key". */
int tls_keys_load_rsa(struct tls_keys *k, const char *path,
		      char err[KEYLOG_ERRLEN]) WUR;

/* Charge the store to budget (may be NULL), at most share bytes of it
 * (0: no share beyond the budget's own limit).  Call before loading. */
void tls_keys_set_budget(struct tls_keys *k, struct mem_budget *budget, size_t share);
/* Was a line dropped because the store reached its share?  How many? */
bool tls_keys_full(const struct tls_keys *k);
uint64_t tls_keys_dropped(const struct tls_keys *k);
/* Bytes of memory the store holds (charged to the budget). */
size_t tls_keys_memory(const struct tls_keys *k);
/* Forget every loaded secret; from now on each lookup records its client
 * random and finds nothing.  For the pass that learns what a capture needs. */
void tls_keys_collect_begin(struct tls_keys *k);
/* Stop recording; later loads keep only the recorded randoms. */
void tls_keys_collect_end(struct tls_keys *k);
/* Randoms recorded; whether one could not be (the share was reached). */
size_t tls_keys_wanted_count(const struct tls_keys *k);
bool tls_keys_want_full(const struct tls_keys *k);

/* Number of distinct client randoms loaded. */
size_t tls_keys_count(const struct tls_keys *k);
bool tls_keys_have_rsa(const struct tls_keys *k);

/* The secret logged for client_random under label, or NULL.  The pointer
 * stays valid as long as k lives and is not loaded into again.  While
 * collecting, records client_random and returns NULL. */
const uint8_t *tls_keys_find(const struct tls_keys *k,
			     const uint8_t client_random[KEYLOG_RANDOM_LEN],
			     enum keylog_label label, size_t *len_r);

/* --write-keys-pcapng: from now on, each client random a lookup finds a
 * secret for is noted once, in the order first found (an array charged to
 * the store's share; tls_keys_used_full says one could not be noted).  A
 * lookup then changes the store, like the collecting pass does: the store
 * is still only ever used from one thread.  tls_keys_collect_begin forgets
 * the noted randoms with the secrets. */
void tls_keys_track_used(struct tls_keys *k);
size_t tls_keys_used_count(const struct tls_keys *k);
bool tls_keys_used_full(const struct tls_keys *k);

/* One key log line, "LABEL CLIENT_RANDOM SECRET\n" (hex in lower case, the
 * newline counted in len); valid only during the call, and cleansed after
 * it.  A non-zero return stops the walk. */
typedef int tls_keys_line_fn(void *ctx, const char *line, size_t len);
/* The key log lines of every noted client random, in the order first
 * found, each random's secrets in enum keylog_label order: what the
 * capture's sessions used, as the NSS key log says it.  Lines whose labels
 * the store does not keep (EXPORTER_SECRET, ...) are not among them; no
 * decryption needs them.  Returns 0, or the first non-zero fn returned. */
int tls_keys_used_lines(const struct tls_keys *k, tls_keys_line_fn *fn, void *ctx) WUR;

/* Decrypt an RSA-encrypted pre-master secret (PKCS#1 v1.5) with the loaded
 * RSA key.  Returns 0 and fills pms, or -1 (no key, or it does not decrypt
 * to 48 bytes). */
int tls_keys_rsa_decrypt(const struct tls_keys *k, const uint8_t *in,
			 size_t n, uint8_t pms[TLS_PREMASTER_LEN]) WUR;
/* The file the RSA key came from ("" if none), for messages. */
const char *tls_keys_rsa_path(const struct tls_keys *k);
/* Is the loaded RSA key the private half of the public key in this DER
 * certificate?  1 yes, 0 no, -1 cannot tell (no key, not a certificate). */
int tls_keys_rsa_matches_cert(const struct tls_keys *k, const uint8_t *der, size_t n);

#endif
