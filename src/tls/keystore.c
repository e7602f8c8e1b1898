/* The key store: client randoms and only the secrets logged for them,
 * charged to the run's memory budget up to a share of it.  See
 * keylog_int.h for the layout and tls/keylog.h for the interface.
 *
 * The old layout held every label's 64-byte slot for every random, 422
 * bytes an entry whatever was logged; a TLS 1.3 session's four secrets
 * now take about 260 bytes, a TLS 1.2 master secret about 100. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keylog_int.h"
#include "util/hash.h"

#define KEYSTORE_MIN_RECS	64		/* the first bucket array */
#define KEYSTORE_CHUNK		(64u << 10)	/* arena chunk */
#define KEYSTORE_MIN_CHUNKS	16		/* the first chunk array */
#define KEYSTORE_NODE_HDR	6		/* next, label, length */
#define KEYSTORE_DEAD_LABEL	0xff		/* a secret replaced by a longer one */
#define KEYSTORE_REC_ALIGN	_Alignof(struct keylog_rec)
/* Handles are 32-bit offsets plus one: the arena stays below 4 GiB. */
#define KEYSTORE_MAX_CHUNKS	((size_t)UINT32_MAX / KEYSTORE_CHUNK)

static void table_init(struct tls_keys *k, struct keylog_table *t, uint64_t seed)
{
	hashtab_init(&t->tab, &k->share, seed, KEYSTORE_MIN_RECS, KEYLOG_MAX_ENTRIES);
}

struct tls_keys *tls_keys_new(void)
{
	struct tls_keys *k = calloc(1, sizeof *k);
	uint64_t seed;

	if (k != NULL) {
		seed = hash_seed_random();
		table_init(k, &k->store, seed);
		table_init(k, &k->want, seed);
	}
	return k;
}

void tls_keys_set_budget(struct tls_keys *k, struct mem_budget *budget, size_t share)
{
	k->share.parent = budget;
	k->share.limit = share;
}

/* The records are in the arena: only the bucket array is the table's. */
static void table_free(struct keylog_table *t)
{
	hashtab_free(&t->tab);
}

static void arena_free(struct tls_keys *k)
{
	struct keylog_arena *a = &k->arena;

	for (size_t i = 0; i < a->n; i++) {
		OPENSSL_cleanse(a->chunks[i], KEYSTORE_CHUNK);
		free(a->chunks[i]);
	}
	mem_release(&k->share, a->n * KEYSTORE_CHUNK + a->cap * sizeof *a->chunks);
	free(a->chunks);
	memset(a, 0, sizeof *a);
}

void tls_keys_free(struct tls_keys **kp)
{
	struct tls_keys *k;

	if (kp == NULL || *kp == NULL)
		return;
	k = *kp;
	arena_free(k);
	table_free(&k->store);
	table_free(&k->want);
	EVP_PKEY_free(k->rsa);
	free(k->rsa_path);
	free(k);
	*kp = NULL;
}

/* ---- the arena of secrets and records -------------------------------------- */

static uint8_t *arena_node(const struct keylog_arena *a, uint32_t handle)
{
	size_t off = (size_t)handle - 1;

	return a->chunks[off / KEYSTORE_CHUNK] + off % KEYSTORE_CHUNK;
}

static uint32_t node_next(const uint8_t *node)
{
	uint32_t next;

	memcpy(&next, node, sizeof next);
	return next;
}

/* A new, empty chunk at the end of the arena: false at the share. */
static bool arena_chunk(struct tls_keys *k)
{
	struct keylog_arena *a = &k->arena;
	uint8_t *chunk;

	if (a->n == a->cap) {
		uint8_t **nc = mem_grow_array(&k->share, a->chunks, &a->cap, sizeof *nc,
					      KEYSTORE_MIN_CHUNKS, KEYSTORE_MAX_CHUNKS);

		if (nc == NULL)
			return false;
		a->chunks = nc;
	}
	if (mem_charge(&k->share, KEYSTORE_CHUNK) != 0)
		return false;
	chunk = malloc(KEYSTORE_CHUNK);
	if (chunk == NULL) {
		mem_release(&k->share, KEYSTORE_CHUNK);
		return false;
	}
	a->chunks[a->n++] = chunk;
	a->used = 0;
	return true;
}

/* Room for n bytes aligned to align (a power of two; chunks are malloc'd,
 * so aligned for anything); returns the handle, or 0 at the share. */
static uint32_t arena_alloc(struct tls_keys *k, size_t n, size_t align)
{
	struct keylog_arena *a = &k->arena;
	size_t at = (a->used + align - 1) & ~(align - 1);

	if (a->n == 0 || at + n > KEYSTORE_CHUNK) {
		if (!arena_chunk(k))
			return 0;
		at = 0;
	}
	a->used = at + n;
	return (uint32_t)((a->n - 1) * KEYSTORE_CHUNK + at + 1);
}

/* ---- tables of client randoms --------------------------------------------- */

static struct keylog_rec *table_find_h(const struct keylog_table *t, const uint8_t *r,
				       uint64_t h)
{
	struct hashtab_node *n;

	for (n = hashtab_first(&t->tab, h); n != NULL; n = hashtab_next(n, h)) {
		struct keylog_rec *rec = HASHTAB_ENTRY(n, struct keylog_rec, hnode);

		if (memcmp(rec->random, r, KEYLOG_RANDOM_LEN) == 0)
			return rec;
	}
	return NULL;
}

static struct keylog_rec *table_find(const struct keylog_table *t, const uint8_t *r)
{
	if (t->tab.count == 0)
		return NULL;
	return table_find_h(t, r, hashtab_hash_const(&t->tab, r, KEYLOG_RANDOM_LEN));
}

/* The record of random, added when new; NULL at the share or the cap. */
static struct keylog_rec *table_get(struct tls_keys *k, struct keylog_table *t,
				    const uint8_t *r)
{
	uint64_t h = hashtab_hash(&t->tab, r, KEYLOG_RANDOM_LEN);
	struct keylog_rec *rec = table_find_h(t, r, h);
	uint32_t handle;

	if (rec != NULL)
		return rec;
	if (t->tab.count >= KEYLOG_MAX_ENTRIES || hashtab_reserve(&t->tab) != 0 ||
	    t->tab.nbuckets == 0)
		return NULL;
	handle = arena_alloc(k, sizeof *rec, KEYSTORE_REC_ALIGN);
	if (handle == 0)
		return NULL;
	/* randoms are not secret, but share the arena's cleansing anyway */
	rec = (struct keylog_rec *)(void *)arena_node(&k->arena, handle);
	memcpy(rec->random, r, KEYLOG_RANDOM_LEN);
	rec->head = 0;
	hashtab_link(&t->tab, &rec->hnode, h);
	return rec;
}

/* ---- storing and finding ---------------------------------------------------- */

bool keystore_wanted(const struct tls_keys *k, const uint8_t random[KEYLOG_RANDOM_LEN])
{
	return !k->filtering || table_find(&k->want, random) != NULL;
}

static int keystore_drop(struct tls_keys *k)
{
	k->full = true;
	k->dropped++;
	return -1;
}

int keystore_put(struct tls_keys *k, const uint8_t random[KEYLOG_RANDOM_LEN],
		 enum keylog_label label, const uint8_t *secret, size_t len)
{
	struct keylog_rec *rec;
	uint8_t *node;
	uint32_t h;

	if (!keystore_wanted(k, random))
		return 0;
	rec = table_get(k, &k->store, random);
	if (rec == NULL)
		return keystore_drop(k);
	h = rec->head;
	while (h != 0) {
		node = arena_node(&k->arena, h);
		h = node_next(node);
		if (node[4] != label)
			continue;
		if (node[5] == len) {	/* a later line replaces the secret */
			memcpy(node + KEYSTORE_NODE_HDR, secret, len);
			return 0;
		}
		node[4] = KEYSTORE_DEAD_LABEL;
		OPENSSL_cleanse(node + KEYSTORE_NODE_HDR, node[5]);
	}
	h = arena_alloc(k, KEYSTORE_NODE_HDR + len, 1);
	if (h == 0)
		return keystore_drop(k);
	node = arena_node(&k->arena, h);
	memcpy(node, &rec->head, sizeof rec->head);
	node[4] = (uint8_t)label;
	node[5] = (uint8_t)len;
	memcpy(node + KEYSTORE_NODE_HDR, secret, len);
	rec->head = h;
	return 0;
}

const uint8_t *tls_keys_find(const struct tls_keys *k,
			     const uint8_t client_random[KEYLOG_RANDOM_LEN],
			     enum keylog_label label, size_t *len_r)
{
	const struct keylog_rec *rec;
	const uint8_t *node;
	uint32_t h;

	*len_r = 0;
	if (k == NULL || (unsigned)label >= KEYLOG_NLABELS)
		return NULL;
	if (k->collecting) {
		/* k is shared read-only by the sessions; the wanted set is the
		 * one thing a lookup changes, and only in the pass that finds
		 * what the capture needs */
		struct tls_keys *mk = (struct tls_keys *)k;

		if (table_get(mk, &mk->want, client_random) == NULL)
			mk->want_full = true;
		return NULL;
	}
	rec = table_find(&k->store, client_random);
	h = rec != NULL ? rec->head : 0;
	while (h != 0) {
		node = arena_node(&k->arena, h);
		if (node[4] == label) {
			*len_r = node[5];
			return node + KEYSTORE_NODE_HDR;
		}
		h = node_next(node);
	}
	return NULL;
}

size_t tls_keys_count(const struct tls_keys *k)
{
	return k ? k->store.tab.count : 0;
}

bool tls_keys_full(const struct tls_keys *k)
{
	return k != NULL && k->full;
}

uint64_t tls_keys_dropped(const struct tls_keys *k)
{
	return k ? k->dropped : 0;
}

size_t tls_keys_memory(const struct tls_keys *k)
{
	return k ? k->share.used : 0;
}

size_t tls_keys_wanted_count(const struct tls_keys *k)
{
	return k ? k->want.tab.count : 0;
}

bool tls_keys_want_full(const struct tls_keys *k)
{
	return k != NULL && k->want_full;
}

void tls_keys_collect_begin(struct tls_keys *k)
{
	arena_free(k);
	table_free(&k->store);
	table_free(&k->want);
	k->full = k->want_full = false;
	k->dropped = 0;
	k->filtering = false;
	k->collecting = true;
}

void tls_keys_collect_end(struct tls_keys *k)
{
	k->collecting = false;
	k->filtering = true;
}
