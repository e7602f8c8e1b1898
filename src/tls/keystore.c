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
#define KEYSTORE_MIN_USED	64		/* the first array of used records */
#define KEYSTORE_HEX_LINE	(32 + 2 * KEYLOG_RANDOM_LEN + 2 * KEYLOG_MAX_SECRET + 3)

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

/* The used records point into the arena: they go with it. */
static void used_free(struct tls_keys *k)
{
	mem_release(&k->share, k->cap_used * sizeof *k->used);
	free(k->used);
	k->used = NULL;
	k->n_used = k->cap_used = 0;
	k->used_full = false;
}

void tls_keys_free(struct tls_keys **kp)
{
	struct tls_keys *k;

	if (kp == NULL || *kp == NULL)
		return;
	k = *kp;
	used_free(k);
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
	rec->used = false;
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

/* The secret of label in rec's list, or NULL. */
static const uint8_t *rec_secret(const struct tls_keys *k, const struct keylog_rec *rec,
				 enum keylog_label label, size_t *len_r)
{
	for (uint32_t h = rec->head; h != 0; ) {
		const uint8_t *node = arena_node(&k->arena, h);

		if (node[4] == label) {
			*len_r = node[5];
			return node + KEYSTORE_NODE_HDR;
		}
		h = node_next(node);
	}
	return NULL;
}

/* A record a lookup found a secret in, noted once.  Lookups happen once
 * per handshake, not per packet, so this costs nothing that matters; like
 * the wanted set it is the one thing a lookup changes, on a store the
 * sessions otherwise only read. */
static void used_note(struct tls_keys *k, const struct keylog_rec *rec)
{
	if (k->n_used == k->cap_used) {
		const struct keylog_rec **nu = mem_grow_array(&k->share, k->used, &k->cap_used,
							      sizeof *nu, KEYSTORE_MIN_USED,
							      KEYLOG_MAX_ENTRIES);

		if (nu == NULL) {
			k->used_full = true;
			return;
		}
		k->used = nu;
	}
	((struct keylog_rec *)rec)->used = true;
	k->used[k->n_used++] = rec;
}

const uint8_t *tls_keys_find(const struct tls_keys *k,
			     const uint8_t client_random[KEYLOG_RANDOM_LEN],
			     enum keylog_label label, size_t *len_r)
{
	const struct keylog_rec *rec;
	const uint8_t *secret;

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
	if (rec == NULL || (secret = rec_secret(k, rec, label, len_r)) == NULL)
		return NULL;
	if (k->track_used && !rec->used)
		used_note((struct tls_keys *)k, rec);
	return secret;
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
	used_free(k);
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

/* ---- the key log lines the capture used ----------------------------------- */

void tls_keys_track_used(struct tls_keys *k)
{
	k->track_used = true;
}

size_t tls_keys_used_count(const struct tls_keys *k)
{
	return k ? k->n_used : 0;
}

bool tls_keys_used_full(const struct tls_keys *k)
{
	return k != NULL && k->used_full;
}

static size_t put_hex(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	return 2 * n;
}

/* The line of one secret, "LABEL RANDOM SECRET\n", into line; its length. */
static size_t used_line(const struct keylog_rec *rec, enum keylog_label label,
			const uint8_t *secret, size_t len, char line[KEYSTORE_HEX_LINE])
{
	const char *name = keylog_label_name(label);
	size_t n = strlen(name);

	memcpy(line, name, n);
	line[n++] = ' ';
	n += put_hex(line + n, rec->random, KEYLOG_RANDOM_LEN);
	line[n++] = ' ';
	n += put_hex(line + n, secret, len);
	line[n++] = '\n';
	return n;
}

int tls_keys_used_lines(const struct tls_keys *k, tls_keys_line_fn *fn, void *ctx)
{
	char line[KEYSTORE_HEX_LINE];
	int rc = 0;

	for (size_t i = 0; k != NULL && i < k->n_used && rc == 0; i++) {
		for (int l = 0; l < KEYLOG_NLABELS && rc == 0; l++) {
			size_t len;
			const uint8_t *sec = rec_secret(k, k->used[i], (enum keylog_label)l, &len);

			if (sec != NULL)
				rc = fn(ctx, line, used_line(k->used[i], (enum keylog_label)l,
							    sec, len, line));
		}
	}
	OPENSSL_cleanse(line, sizeof line);
	return rc;
}
