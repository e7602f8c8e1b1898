/* --summary: the keyed tables: counters per command name, and the
 * distinct-value sets (clients, servers, users) of the capture. */
#include "report/summary_tables.h"

#include <stdlib.h>
#include <string.h>

#include "util/hash.h"

/* Initial bucket count of a distinct-value set (a power of two). */
#define SUMMARY_SET_BUCKETS0 64

/* ================= command tables ================= */

bool summary_bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The entry for name, made if new; names past SUMMARY_CMDS_MAX share
 * SUMMARY_OTHER.  NULL only when out of memory or refused by the budget. */
struct summary_cmd *summary_cmds_get(struct summary_cmds *t, struct buf_slice name)
{
	size_t i, len = name.len < SUMMARY_NAME_MAX ? name.len : SUMMARY_NAME_MAX;
	const uint8_t *p = name.ptr != NULL ? name.ptr : (const uint8_t *)"";
	struct summary_cmd *c;

	if (name.ptr == NULL)
		len = 0;
	if (t->n >= SUMMARY_CMDS_MAX) {
		p = (const uint8_t *)SUMMARY_OTHER;
		len = sizeof SUMMARY_OTHER - 1;
	}
	for (i = 0; i < t->n; i++)
		if (summary_bytes_eq(t->v[i].name, t->v[i].len, p, len))
			return &t->v[i];
	if (t->n == t->cap) {
		size_t ncap = t->cap == 0 ? 8 : t->cap * 2;
		struct summary_cmd *nv;

		if (mem_charge(t->budget, (ncap - t->cap) * sizeof *nv) != 0) {
			t->lost++;
			return NULL;
		}
		nv = realloc(t->v, ncap * sizeof *nv);
		if (nv == NULL) {
			mem_release(t->budget, (ncap - t->cap) * sizeof *nv);
			t->lost++;
			return NULL;
		}
		t->v = nv;
		t->cap = ncap;
	}
	c = &t->v[t->n++];
	memset(c, 0, sizeof *c);
	c->lat.budget = t->budget;
	memcpy(c->name, p, len);
	c->len = len;
	return c;
}

void summary_cmds_free(struct summary_cmds *t)
{
	size_t i;

	struct mem_budget *mb = t->budget;

	for (i = 0; i < t->n; i++)
		summary_lat_free(&t->v[i].lat);
	free(t->v);
	mem_release(mb, t->cap * sizeof *t->v);
	memset(t, 0, sizeof *t);
	t->budget = mb;
}

/* ================= distinct-value sets ================= */

static int summary_set_grow(struct summary_set *s)
{
	size_t nb = s->nbuckets == 0 ? SUMMARY_SET_BUCKETS0 : s->nbuckets * 2, i;
	struct summary_entry **b;

	if (mem_charge(s->budget, (nb - s->nbuckets) * sizeof *b) != 0)
		return -1;
	b = calloc(nb, sizeof *b);
	if (b == NULL) {
		mem_release(s->budget, (nb - s->nbuckets) * sizeof *b);
		return -1;
	}
	for (i = 0; i < s->n; i++) {
		struct summary_entry *e = s->order[i];

		e->next = b[e->hash & (nb - 1)];
		b[e->hash & (nb - 1)] = e;
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = nb;
	return 0;
}

/* Keys come from the wire: the seeded hash of util/hash.h keeps a crafted
 * set of keys from sharing one chain. */
static struct summary_entry *set_find(const struct summary_set *s, const uint8_t *p,
				      size_t n, uint64_t h)
{
	struct summary_entry *e;

	if (s->nbuckets == 0)
		return NULL;
	for (e = s->buckets[h & (s->nbuckets - 1)]; e != NULL; e = e->next)
		if (e->hash == h && summary_bytes_eq(e->key, e->len, p, n))
			return e;
	return NULL;
}

struct summary_entry *summary_set_find(const struct summary_set *s, const uint8_t *p, size_t n)
{
	return s->nbuckets == 0 ? NULL : set_find(s, p, n, hash_bytes(s->seed, p, n));
}

static int summary_set_room(struct summary_set *s)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap == 0 ? 16 : s->cap * 2;
		struct summary_entry **o;

		if (mem_charge(s->budget, (ncap - s->cap) * sizeof *o) != 0)
			return -1;
		o = realloc(s->order, ncap * sizeof *o);
		if (o == NULL) {
			mem_release(s->budget, (ncap - s->cap) * sizeof *o);
			return -1;
		}
		s->order = o;
		s->cap = ncap;
	}
	if (s->n >= s->nbuckets)
		return summary_set_grow(s);
	return 0;
}

/* The entry for key, added if new; NULL at the cap or out of memory
 * (counted in untracked). */
struct summary_entry *summary_set_get(struct summary_set *s, const uint8_t *p, size_t n)
{
	struct summary_entry *e;
	size_t sz;
	uint64_t h;

	if (s->seed == 0)
		s->seed = hash_seed_random();
	h = hash_bytes(s->seed, p, n);
	e = set_find(s, p, n, h);

	if (e != NULL)
		return e;
	if (s->n >= SUMMARY_DISTINCT_MAX || !size_add(sizeof *e, n, &sz) ||
	    summary_set_room(s) != 0 || mem_charge(s->budget, sz) != 0) {
		s->untracked++;
		return NULL;
	}
	if ((e = calloc(1, sz)) == NULL) {
		mem_release(s->budget, sz);
		s->untracked++;
		return NULL;
	}
	e->hash = h;
	e->len = n;
	if (n > 0)
		memcpy(e->key, p, n);
	e->next = s->buckets[h & (s->nbuckets - 1)];
	s->buckets[h & (s->nbuckets - 1)] = e;
	s->order[s->n++] = e;
	return e;
}

void summary_set_free(struct summary_set *s)
{
	struct mem_budget *mb = s->budget;
	size_t i;

	for (i = 0; i < s->n; i++) {
		mem_release(mb, sizeof *s->order[i] + s->order[i]->len);
		free(s->order[i]);
	}
	free(s->order);
	free(s->buckets);
	mem_release(mb, s->cap * sizeof *s->order + s->nbuckets * sizeof *s->buckets);
	memset(s, 0, sizeof *s);
	s->budget = mb;
}

/* The address of "ip:port" or "[v6]:port" without the port (or brackets). */
struct buf_slice summary_host(const char *addr)
{
	size_t n = addr != NULL ? strlen(addr) : 0, i;

	if (n == 0)
		return (struct buf_slice){ (const uint8_t *)"?", 1 };
	if (addr[0] == '[') {
		const char *close = memchr(addr, ']', n);

		if (close != NULL)
			return (struct buf_slice){ (const uint8_t *)addr + 1,
						   (size_t)(close - addr - 1) };
	}
	for (i = n; i > 0; i--)
		if (addr[i - 1] == ':')
			return (struct buf_slice){ (const uint8_t *)addr, i - 1 };
	return (struct buf_slice){ (const uint8_t *)addr, n };
}
