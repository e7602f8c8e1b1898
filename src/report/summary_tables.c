/* --summary: the keyed tables: counters per command name, and the
 * distinct-value sets (clients, servers, users) of the capture. */
#include "report/summary_tables.h"

#include <stdlib.h>
#include <string.h>


/* First sizes of a distinct-value set's table and order array. */
#define SUMMARY_SET_BUCKETS0 64
#define SUMMARY_SET_ORDER0   16
#define SUMMARY_CMDS0        8

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
		/* one past the cap: the SUMMARY_OTHER entry */
		struct summary_cmd *nv = mem_grow_array(t->budget, t->v, &t->cap, sizeof *nv,
							SUMMARY_CMDS0, SUMMARY_CMDS_MAX + 1);

		if (nv == NULL) {
			t->lost++;
			return NULL;
		}
		t->v = nv;
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

/* Keys come from the wire: the table's seeded hash keeps a crafted set of
 * keys from sharing one chain. */
static struct summary_entry *set_find(const struct summary_set *s, const uint8_t *p,
				      size_t n, uint64_t h)
{
	struct hashtab_node *hn;

	for (hn = hashtab_first(&s->tab, h); hn != NULL; hn = hashtab_next(hn, h)) {
		struct summary_entry *e = HASHTAB_ENTRY(hn, struct summary_entry, hnode);

		if (summary_bytes_eq(e->key, e->len, p, n))
			return e;
	}
	return NULL;
}

struct summary_entry *summary_set_find(const struct summary_set *s, const uint8_t *p, size_t n)
{
	return s->tab.nbuckets == 0 ? NULL : set_find(s, p, n, hashtab_hash_const(&s->tab, p, n));
}

/* Room for one more entry in the order array and the table. */
static int summary_set_room(struct summary_set *s)
{
	if (s->n == s->cap) {
		struct summary_entry **o = mem_grow_array(s->budget, s->order, &s->cap,
							  sizeof *o, SUMMARY_SET_ORDER0,
							  SUMMARY_DISTINCT_MAX);

		if (o == NULL)
			return -1;
		s->order = o;
	}
	if (s->tab.nbuckets == 0)
		hashtab_init(&s->tab, s->budget, s->tab.seed, SUMMARY_SET_BUCKETS0,
			     SUMMARY_DISTINCT_MAX);
	return hashtab_reserve(&s->tab);
}

/* The entry for key, added if new; NULL at the cap or out of memory
 * (counted in untracked). */
struct summary_entry *summary_set_get(struct summary_set *s, const uint8_t *p, size_t n)
{
	struct summary_entry *e;
	size_t sz;
	uint64_t h = hashtab_hash(&s->tab, p, n);

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
	e->len = n;
	if (n > 0)
		memcpy(e->key, p, n);
	hashtab_link(&s->tab, &e->hnode, h);
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
	mem_release(mb, s->cap * sizeof *s->order);
	hashtab_free(&s->tab);
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
