/* Private to the key material modules: the compact key store
 * (keystore.c), the key log reader (keylog.c) and the RSA key (rsakey.c).
 * The public interface is tls/keylog.h. */
#ifndef IMAPSCOPE_KEYLOG_INT_H
#define IMAPSCOPE_KEYLOG_INT_H

#include <openssl/evp.h>

#include "tls/keylog.h"
#include "util/hashtab.h"

/* A table of client randoms.  In the store a record heads the list of its
 * secrets; in the wanted set (the randoms a capture's handshakes asked for)
 * the list stays empty.  Records live in the arena below, so they never
 * move while the table links them. */
struct keylog_rec {
	struct hashtab_node hnode;
	uint8_t random[KEYLOG_RANDOM_LEN];
	uint32_t head;		/* arena handle of the newest secret, 0: none */
	bool used;		/* a lookup found a secret (in the padding: free) */
};

struct keylog_table {
	struct hashtab tab;	/* records; charged to the store's share */
};

/* Secrets, packed one after another into fixed chunks so that none moves
 * (a pointer handed out by tls_keys_find stays valid) and none is copied
 * (nothing to cleanse twice).  A node is
 *     next handle (4 bytes) | label (1) | length (1) | secret (length)
 * and a handle is its offset in the arena plus one. */
struct keylog_arena {
	uint8_t **chunks;
	size_t n, cap;		/* chunks in use / room in the pointer array */
	size_t used;		/* bytes used in the last chunk */
};

struct tls_keys {
	struct keylog_table store;
	struct keylog_arena arena;
	struct keylog_table want;	/* the randoms kept by a filtered load */
	bool collecting;	/* lookups record their random and find nothing */
	bool filtering;		/* loads keep only the randoms in want */
	bool full;		/* a secret was dropped at the memory share */
	bool want_full;		/* a wanted random could not be recorded */
	/* --write-keys-pcapng: the records a lookup found a secret in, in the
	 * order first found; the array is charged to the share. */
	bool track_used;
	bool used_full;		/* a used record could not be noted */
	const struct keylog_rec **used;
	size_t n_used, cap_used;
	uint64_t dropped;	/* key log lines dropped at the share */
	/* The store's share of the run's budget (its parent): limit 0 is
	 * no limit of its own; used is what the store holds. */
	struct mem_budget share;
	EVP_PKEY *rsa;
	char *rsa_path;
};

/* Keep one secret (keystore.c): 0 kept or not wanted, -1 dropped at the
 * memory share (counted in k->dropped, k->full set). */
int keystore_put(struct tls_keys *k, const uint8_t random[KEYLOG_RANDOM_LEN],
		 enum keylog_label label, const uint8_t *secret, size_t len);
/* Is this random one a filtered load keeps? */
bool keystore_wanted(const struct tls_keys *k, const uint8_t random[KEYLOG_RANDOM_LEN]);

#endif
