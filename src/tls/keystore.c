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

#define KEYSTORE_MIN_RECS	32
#define KEYSTORE_CHUNK		(64u << 10)	/* arena chunk */
#define KEYSTORE_NODE_HDR	6		/* next, label, length */
#define KEYSTORE_DEAD_LABEL	0xff		/* a secret replaced by a longer one */
/* Handles are 32-bit offsets plus one: the arena stays below 4 GiB. */
#define KEYSTORE_MAX_CHUNKS	((size_t)UINT32_MAX / KEYSTORE_CHUNK)

struct tls_keys *tls_keys_new(void)
{
	struct tls_keys *k = calloc(1, sizeof *k);

	if (k != NULL)
		k->seed = hash_seed_random();
	return k;
}

void tls_keys_set_budget(struct tls_keys *k, struct mem_budget *budget, size_t share)
{
	k->budget = budget;
	k->share = share;
}

/* Charge n bytes against the share and the budget: 0, or -1 (nothing
 * charged). */
static int keystore_charge(struct tls_keys *k, size_t n)
{
	if (k->share != 0 && (n > k->share || k->charged > k->share - n))
		return -1;
	if (mem_charge(k->budget, n) != 0)
		return -1;
	k->charged += n;
	return 0;
}

static void keystore_release(struct tls_keys *k, size_t n)
{
	mem_release(k->budget, n);
	k->charged -= n;
}

static void table_free(struct tls_keys *k, struct keylog_table *t)
{
	keystore_release(k, t->cap * sizeof *t->recs + t->nslots * sizeof *t->slots);
	free(t->recs);
	free(t->slots);
	memset(t, 0, sizeof *t);
}

static void arena_free(struct tls_keys *k)
{
	struct keylog_arena *a = &k->arena;

	for (size_t i = 0; i < a->n; i++) {
		OPENSSL_cleanse(a->chunks[i], KEYSTORE_CHUNK);
		free(a->chunks[i]);
	}
	keystore_release(k, a->n * KEYSTORE_CHUNK + a->cap * sizeof *a->chunks);
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
	table_free(k, &k->store);
	table_free(k, &k->want);
	EVP_PKEY_free(k->rsa);
	free(k->rsa_path);
	free(k);
	*kp = NULL;
}

/* ---- tables of client randoms --------------------------------------------- */

/* The slot that holds random, or the empty slot where it would go. */
static size_t table_slot(const struct tls_keys *k, const struct keylog_table *t,
			 const uint8_t *r)
{
	size_t mask = t->nslots - 1;
	size_t i = (size_t)hash_bytes(k->seed, r, KEYLOG_RANDOM_LEN) & mask;

	while (t->slots[i] != 0 &&
	       memcmp(t->recs[t->slots[i] - 1].random, r, KEYLOG_RANDOM_LEN) != 0)
		i = (i + 1) & mask;
	return i;
}

static struct keylog_rec *table_find(const struct tls_keys *k, const struct keylog_table *t,
				     const uint8_t *r)
{
	size_t slot;

	if (t->nslots == 0)
		return NULL;
	slot = table_slot(k, t, r);
	return t->slots[slot] != 0 ? &t->recs[t->slots[slot] - 1] : NULL;
}

static int table_rehash(struct tls_keys *k, struct keylog_table *t, size_t nslots)
{
	uint32_t *old = t->slots;
	size_t oldn = t->nslots;

	if (keystore_charge(k, nslots * sizeof *t->slots) != 0)
		return -1;
	t->slots = calloc(nslots, sizeof *t->slots);
	if (t->slots == NULL) {
		t->slots = old;
		keystore_release(k, nslots * sizeof *t->slots);
		return -1;
	}
	t->nslots = nslots;
	for (size_t i = 0; i < t->count; i++)
		t->slots[table_slot(k, t, t->recs[i].random)] = (uint32_t)(i + 1);
	free(old);
	keystore_release(k, oldn * sizeof *t->slots);
	return 0;
}

/* Room for one more record in the array and the index (load <= 1/2). */
static int table_grow(struct tls_keys *k, struct keylog_table *t)
{
	struct keylog_rec *nr;
	size_t ncap;

	if (t->count >= KEYLOG_MAX_ENTRIES)
		return -1;
	if (t->count == t->cap) {
		ncap = t->cap ? t->cap * 2 : KEYSTORE_MIN_RECS;
		if (keystore_charge(k, (ncap - t->cap) * sizeof *nr) != 0)
			return -1;
		/* randoms are not secret: realloc may leave copies behind */
		nr = realloc(t->recs, ncap * sizeof *nr);
		if (nr == NULL) {
			keystore_release(k, (ncap - t->cap) * sizeof *nr);
			return -1;
		}
		t->recs = nr;
		t->cap = ncap;
	}
	if ((t->count + 1) * 2 > t->nslots)
		return table_rehash(k, t, t->nslots ? t->nslots * 2 : 2 * KEYSTORE_MIN_RECS);
	return 0;
}

/* The record of random, added when new; NULL at the share. */
static struct keylog_rec *table_get(struct tls_keys *k, struct keylog_table *t,
				    const uint8_t *r)
{
	struct keylog_rec *rec = table_find(k, t, r);

	if (rec != NULL)
		return rec;
	if (table_grow(k, t) != 0)
		return NULL;
	rec = &t->recs[t->count];
	memcpy(rec->random, r, KEYLOG_RANDOM_LEN);
	rec->head = 0;
	t->slots[table_slot(k, t, r)] = (uint32_t)(++t->count);
	return rec;
}

/* ---- the arena of secrets ------------------------------------------------- */

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

/* Room for n bytes; returns the handle, or 0 at the share. */
static uint32_t arena_alloc(struct tls_keys *k, size_t n)
{
	struct keylog_arena *a = &k->arena;
	uint8_t **nc;
	uint8_t *chunk;

	if (a->n == 0 || a->used + n > KEYSTORE_CHUNK) {
		if (a->n == KEYSTORE_MAX_CHUNKS)
			return 0;
		if (a->n == a->cap) {
			size_t ncap = a->cap ? a->cap * 2 : 16;

			if (keystore_charge(k, (ncap - a->cap) * sizeof *nc) != 0)
				return 0;
			nc = realloc(a->chunks, ncap * sizeof *nc);
			if (nc == NULL) {
				keystore_release(k, (ncap - a->cap) * sizeof *nc);
				return 0;
			}
			a->chunks = nc;
			a->cap = ncap;
		}
		if (keystore_charge(k, KEYSTORE_CHUNK) != 0)
			return 0;
		chunk = malloc(KEYSTORE_CHUNK);
		if (chunk == NULL) {
			keystore_release(k, KEYSTORE_CHUNK);
			return 0;
		}
		a->chunks[a->n++] = chunk;
		a->used = 0;
	}
	a->used += n;
	return (uint32_t)((a->n - 1) * KEYSTORE_CHUNK + a->used - n + 1);
}

/* ---- storing and finding ---------------------------------------------------- */

bool keystore_wanted(const struct tls_keys *k, const uint8_t random[KEYLOG_RANDOM_LEN])
{
	return !k->filtering || table_find(k, &k->want, random) != NULL;
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
	h = arena_alloc(k, KEYSTORE_NODE_HDR + len);
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
	rec = table_find(k, &k->store, client_random);
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
	return k ? k->store.count : 0;
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
	return k ? k->charged : 0;
}

size_t tls_keys_wanted_count(const struct tls_keys *k)
{
	return k ? k->want.count : 0;
}

bool tls_keys_want_full(const struct tls_keys *k)
{
	return k != NULL && k->want_full;
}

void tls_keys_collect_begin(struct tls_keys *k)
{
	arena_free(k);
	table_free(k, &k->store);
	table_free(k, &k->want);
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
