/* --summary: statistics per session and for the whole capture.
 *
 * Layout: latency statistics (exact, then histogram); command tables; the
 * distinct-value sets of the capture; per-session state; the writers (json
 * and text); the output.  See summary.h for the numbers' definitions. */
#include "report/summary.h"

#include <stdlib.h>
#include <string.h>

#include "report/output_json.h"	/* sink, clock, number formatters */
#include "util/escape.h"

#define LIT(b, s) output_put((b), (s), sizeof(s) - 1)

/* The name that collects commands past SUMMARY_CMDS_MAX distinct names. */
#define SUMMARY_OTHER "(other)"
/* Initial bucket count of a distinct-value set (a power of two). */
#define SUMMARY_SET_BUCKETS0 64

/* ================= latency ================= */

struct summary_lat {
	uint64_t n;		/* samples seen */
	uint64_t min_us, max_us;
	uint64_t *samples;	/* exact mode: nsamp samples */
	size_t nsamp;
	uint64_t *hist;		/* past SUMMARY_LAT_EXACT: SUMMARY_LAT_BUCKETS counts */
	uint64_t lost;		/* samples not kept for want of memory */
};

static unsigned summary_lat_bucket(uint64_t v)
{
	unsigned e, sub;

	if (v < SUMMARY_LAT_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	if (e >= SUMMARY_LAT_TOP_EXP)
		return SUMMARY_LAT_BUCKETS - 1;
	sub = (unsigned)(v >> (e - SUMMARY_LAT_SUB_BITS)) & (SUMMARY_LAT_SUB - 1);
	return SUMMARY_LAT_SUB + (e - SUMMARY_LAT_SUB_BITS) * SUMMARY_LAT_SUB + sub;
}

/* The value a bucket stands for: its midpoint (exact below 32 us). */
static uint64_t summary_lat_bucket_value(unsigned idx)
{
	unsigned k, shift;
	uint64_t low;

	if (idx < SUMMARY_LAT_SUB)
		return idx;
	k = idx - SUMMARY_LAT_SUB;
	shift = k / SUMMARY_LAT_SUB;
	low = (uint64_t)(SUMMARY_LAT_SUB + k % SUMMARY_LAT_SUB) << shift;
	return low + (((uint64_t)1 << shift) >> 1);
}

/* Move the exact samples into a histogram: from now on percentiles are
 * approximate, and memory stays at one histogram however long it runs. */
static int summary_lat_to_hist(struct summary_lat *l)
{
	size_t i;

	l->hist = calloc(SUMMARY_LAT_BUCKETS, sizeof *l->hist);
	if (l->hist == NULL)
		return -1;
	for (i = 0; i < l->nsamp; i++)
		l->hist[summary_lat_bucket(l->samples[i])]++;
	free(l->samples);
	l->samples = NULL;
	l->nsamp = 0;
	return 0;
}

/* Keep one sample: exactly while there is room, else in the histogram.
 * Out of memory, the sample still counts in n, min and max. */
static void summary_lat_add(struct summary_lat *l, uint64_t us)
{
	if (l->n == 0 || us < l->min_us)
		l->min_us = us;
	if (us > l->max_us)
		l->max_us = us;
	l->n++;
	if (l->hist == NULL && l->nsamp < SUMMARY_LAT_EXACT) {
		if (l->samples == NULL)
			l->samples = malloc(SUMMARY_LAT_EXACT * sizeof *l->samples);
		if (l->samples == NULL)
			l->lost++;
		else
			l->samples[l->nsamp++] = us;
		return;
	}
	if (l->hist == NULL && summary_lat_to_hist(l) != 0) {
		l->lost++;
		return;
	}
	l->hist[summary_lat_bucket(us)]++;
}

static void summary_lat_free(struct summary_lat *l)
{
	free(l->samples);
	free(l->hist);
	memset(l, 0, sizeof *l);
}

static bool summary_lat_exact(const struct summary_lat *l)
{
	return l->hist == NULL && l->lost == 0;
}

static int summary_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile p (1..100) in microseconds; 0 with no samples. */
static uint64_t summary_lat_pct(struct summary_lat *l, unsigned p)
{
	uint64_t kept = l->hist != NULL ? l->n - l->lost : l->nsamp, rank, seen = 0, v;
	unsigned i;

	if (kept == 0)
		return 0;
	rank = (kept * p + 99) / 100;
	if (rank == 0)
		rank = 1;
	if (l->hist == NULL) {
		/* Order does not matter for storage: sort in place. */
		qsort(l->samples, (size_t)kept, sizeof *l->samples, summary_u64_cmp);
		return l->samples[rank - 1];
	}
	for (i = 0; i < SUMMARY_LAT_BUCKETS; i++) {
		seen += l->hist[i];
		if (seen >= rank)
			break;
	}
	v = i == SUMMARY_LAT_BUCKETS - 1 ? l->max_us : summary_lat_bucket_value(i);
	return v < l->min_us ? l->min_us : v > l->max_us ? l->max_us : v;
}

/* ================= command tables ================= */

struct summary_cmd {
	uint8_t name[SUMMARY_NAME_MAX];
	size_t len;
	uint64_t count;			/* commands sent */
	uint64_t ok, no, bad;		/* tagged responses to it */
	struct summary_lat lat;
};

struct summary_cmds {
	struct summary_cmd *v;
	size_t n, cap;
	uint64_t lost;			/* events not counted (no memory) */
};

static bool summary_bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The entry for name, made if new; names past SUMMARY_CMDS_MAX share
 * SUMMARY_OTHER.  NULL only when out of memory. */
static struct summary_cmd *summary_cmds_get(struct summary_cmds *t, struct buf_slice name)
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
		struct summary_cmd *nv = realloc(t->v, ncap * sizeof *nv);

		if (nv == NULL)
			return NULL;
		t->v = nv;
		t->cap = ncap;
	}
	c = &t->v[t->n++];
	memset(c, 0, sizeof *c);
	memcpy(c->name, p, len);
	c->len = len;
	return c;
}

static void summary_cmds_free(struct summary_cmds *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		summary_lat_free(&t->v[i].lat);
	free(t->v);
	memset(t, 0, sizeof *t);
}

/* ================= distinct-value sets ================= */

/* One client, server or user; the counters serve the busiest clients. */
struct summary_entry {
	struct summary_entry *next;	/* hash chain */
	uint64_t hash;
	uint64_t sessions, commands, bytes;
	size_t len;
	uint8_t key[];
};

struct summary_set {
	struct summary_entry **buckets;
	size_t nbuckets;
	struct summary_entry **order;	/* insertion order: stable output */
	size_t n, cap;
	uint64_t untracked;		/* new keys refused at the cap */
};

/* FNV-1a.  Keys come from the wire, but the set is capped, so a crafted
 * collision costs time bounded by SUMMARY_DISTINCT_MAX per lookup. */
static uint64_t summary_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static int summary_set_grow(struct summary_set *s)
{
	size_t nb = s->nbuckets == 0 ? SUMMARY_SET_BUCKETS0 : s->nbuckets * 2, i;
	struct summary_entry **b = calloc(nb, sizeof *b);

	if (b == NULL)
		return -1;
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

static struct summary_entry *summary_set_find(const struct summary_set *s, const uint8_t *p,
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

static int summary_set_room(struct summary_set *s)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap == 0 ? 16 : s->cap * 2;
		struct summary_entry **o = realloc(s->order, ncap * sizeof *o);

		if (o == NULL)
			return -1;
		s->order = o;
		s->cap = ncap;
	}
	if (s->n >= s->nbuckets)
		return summary_set_grow(s);
	return 0;
}

/* The entry for key, added if new; NULL at the cap or out of memory
 * (counted in untracked). */
static struct summary_entry *summary_set_get(struct summary_set *s, const uint8_t *p, size_t n)
{
	uint64_t h = summary_hash(p, n);
	struct summary_entry *e = summary_set_find(s, p, n, h);
	size_t sz;

	if (e != NULL)
		return e;
	if (s->n >= SUMMARY_DISTINCT_MAX || !size_add(sizeof *e, n, &sz) ||
	    summary_set_room(s) != 0 || (e = calloc(1, sz)) == NULL) {
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

static void summary_set_free(struct summary_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->order[i]);
	free(s->order);
	free(s->buckets);
	memset(s, 0, sizeof *s);
}

/* The address of "ip:port" or "[v6]:port" without the port (or brackets). */
static struct buf_slice summary_host(const char *addr)
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

/* ================= per session ================= */

struct summary_pending {
	bool used;
	uint8_t tag[SUMMARY_TAG_MAX];
	size_t tag_len;
	uint8_t mbox[SUMMARY_MAILBOX_MAX];
	size_t mbox_len;
};

struct summary_mbox {
	uint8_t *p;
	size_t len;
};

struct summary_session {
	uint64_t id;
	char client[SUMMARY_ADDR_MAX], server[SUMMARY_ADDR_MAX];
	int64_t first_us, last_us;
	bool mid_stream;
	uint8_t user[SUMMARY_USER_MAX];
	size_t user_len;
	bool have_user, user_ok;
	uint64_t logins_ok, logins_fail, logins_unknown;
	enum transport transport;
	bool tls_seen, tls_decrypted;
	char tls_version[SUMMARY_TEXT_MAX], tls_cipher[SUMMARY_TEXT_MAX], tls_reason[SUMMARY_TEXT_MAX];
	bool compress_seen, compress_decoded;
	char compress_alg[SUMMARY_TEXT_MAX];
	struct summary_pending pending[SUMMARY_PENDING_SELECTS];
	struct summary_mbox mboxes[SUMMARY_MAILBOXES_MAX];
	size_t n_mboxes;
	uint64_t selects, mboxes_unlisted;
	struct summary_cmds cmds;
	uint64_t commands, resp_ok, resp_no, resp_bad, untagged, gaps, gap_bytes;
};

static void summary_session_free(struct summary_session *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_mboxes; i++)
		free(s->mboxes[i].p);
	summary_cmds_free(&s->cmds);
	free(s);
}

/* Copy a C string, cut to fit (these are our own fixed texts and
 * addresses, never wire data). */
static void summary_copy_cstr(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ================= the output's state ================= */

struct summary_reason {
	char text[SUMMARY_TEXT_MAX];
	uint64_t n;
};

struct summary {
	struct output_sink sink;
	struct output_time clock;
	bool json;
	/* Live sessions sorted by id.  Ids grow with each new session, so a
	 * new one is appended; lookups are binary searches. */
	struct summary_session **live;
	size_t n_live, cap_live;
	uint64_t sessions_lost;		/* no memory for their state */
	/* capture totals */
	bool any;
	int64_t first_us, last_us;
	uint64_t sessions, ended, mid_stream;
	uint64_t by_transport[3];
	uint64_t commands, resp_ok, resp_no, resp_bad, untagged;
	uint64_t logins_ok, logins_fail, logins_unknown;
	uint64_t bytes_c2s, bytes_s2c, wire_c2s, wire_s2c;
	uint64_t fetched, appended, gaps, gap_bytes, notices;
	uint64_t tls_sessions, tls_decrypted, compressed;
	struct summary_reason reasons[SUMMARY_REASONS_MAX];
	size_t n_reasons;
	uint64_t reasons_other;
	struct summary_cmds cmds;
	struct summary_set clients, servers, users;
};

static size_t summary_live_index(const struct summary *sm, uint64_t id, bool *found_r)
{
	size_t lo = 0, hi = sm->n_live;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sm->live[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found_r = lo < sm->n_live && sm->live[lo]->id == id;
	return lo;
}

static int summary_live_insert(struct summary *sm, size_t at, struct summary_session *s)
{
	if (sm->n_live == sm->cap_live) {
		size_t ncap = sm->cap_live == 0 ? 16 : sm->cap_live * 2;
		struct summary_session **nv = realloc(sm->live, ncap * sizeof *nv);

		if (nv == NULL)
			return -1;
		sm->live = nv;
		sm->cap_live = ncap;
	}
	memmove(&sm->live[at + 1], &sm->live[at], (sm->n_live - at) * sizeof *sm->live);
	sm->live[at] = s;
	sm->n_live++;
	return 0;
}

static void summary_live_remove(struct summary *sm, size_t at)
{
	memmove(&sm->live[at], &sm->live[at + 1], (sm->n_live - at - 1) * sizeof *sm->live);
	sm->n_live--;
}

/* A session's state, made at its first event (session_start, or whatever
 * came first in a damaged capture).  NULL when out of memory. */
static struct summary_session *summary_session_get(struct summary *sm, const struct event *ev)
{
	bool found;
	size_t at = summary_live_index(sm, ev->session, &found);
	struct summary_session *s;
	struct summary_entry *e;

	if (found)
		return sm->live[at];
	s = calloc(1, sizeof *s);
	if (s == NULL || summary_live_insert(sm, at, s) != 0) {
		free(s);
		sm->sessions_lost++;
		return NULL;
	}
	s->id = ev->session;
	s->first_us = ev->ts_us;
	s->last_us = ev->ts_us;
	summary_copy_cstr(s->client, sizeof s->client, ev->client);
	summary_copy_cstr(s->server, sizeof s->server, ev->server);
	sm->sessions++;
	e = summary_set_get(&sm->clients, summary_host(ev->client).ptr,
			    summary_host(ev->client).len);
	if (e != NULL)
		e->sessions++;
	(void)summary_set_get(&sm->servers, summary_host(ev->server).ptr,
			      summary_host(ev->server).len);
	return s;
}

/* ================= consuming events ================= */

static bool summary_slice_is(struct buf_slice s, const char *word)
{
	return s.ptr != NULL && summary_bytes_eq(s.ptr, s.len, (const uint8_t *)word, strlen(word));
}

/* The first argument of SELECT/EXAMINE: a quoted string unquoted, else the
 * atom (or "{N}" literal marker) up to the first space, cut to fit. */
static size_t summary_mailbox_arg(struct buf_slice args, uint8_t *out, size_t cap)
{
	size_t i = 0, n = 0;

	if (args.ptr == NULL)
		return 0;
	if (args.len > 0 && args.ptr[0] == '"') {
		for (i = 1; i < args.len && args.ptr[i] != '"'; i++) {
			if (args.ptr[i] == '\\' && i + 1 < args.len)
				i++;
			if (n < cap)
				out[n++] = args.ptr[i];
		}
		return n;
	}
	for (i = 0; i < args.len && args.ptr[i] != ' ' && n < cap; i++)
		out[n++] = args.ptr[i];
	return n;
}

static void summary_on_command(struct summary *sm, struct summary_session *s,
			       const struct event *ev)
{
	struct summary_cmd *c;
	struct summary_entry *e;
	size_t i;

	s->commands++;
	sm->commands++;
	if ((c = summary_cmds_get(&s->cmds, ev->u.command.name)) != NULL)
		c->count++;
	if ((c = summary_cmds_get(&sm->cmds, ev->u.command.name)) != NULL)
		c->count++;
	e = summary_set_find(&sm->clients, summary_host(s->client).ptr, summary_host(s->client).len,
			     summary_hash(summary_host(s->client).ptr, summary_host(s->client).len));
	if (e != NULL)
		e->commands++;
	if (!summary_slice_is(ev->u.command.name, "SELECT") &&
	    !summary_slice_is(ev->u.command.name, "EXAMINE"))
		return;
	for (i = 0; i < SUMMARY_PENDING_SELECTS; i++) {
		struct summary_pending *p = &s->pending[i];
		size_t tl = ev->u.command.tag.len;

		if (p->used || ev->u.command.tag.ptr == NULL || tl > SUMMARY_TAG_MAX)
			continue;
		p->used = true;
		memcpy(p->tag, ev->u.command.tag.ptr, tl);
		p->tag_len = tl;
		p->mbox_len = summary_mailbox_arg(ev->u.command.args, p->mbox, sizeof p->mbox);
		return;
	}
}

static void summary_add_mailbox(struct summary_session *s, const uint8_t *p, size_t n)
{
	size_t i;
	uint8_t *copy;

	s->selects++;
	for (i = 0; i < s->n_mboxes; i++)
		if (summary_bytes_eq(s->mboxes[i].p, s->mboxes[i].len, p, n))
			return;
	if (s->n_mboxes >= SUMMARY_MAILBOXES_MAX || (copy = malloc(n > 0 ? n : 1)) == NULL) {
		s->mboxes_unlisted++;
		return;
	}
	if (n > 0)
		memcpy(copy, p, n);
	s->mboxes[s->n_mboxes].p = copy;
	s->mboxes[s->n_mboxes++].len = n;
}

/* A tagged reply ends a pending SELECT/EXAMINE: OK lists the mailbox. */
static void summary_select_done(struct summary_session *s, const struct event *ev, bool ok)
{
	size_t i;

	for (i = 0; i < SUMMARY_PENDING_SELECTS; i++) {
		struct summary_pending *p = &s->pending[i];

		if (!p->used || ev->u.response.tag.ptr == NULL ||
		    !summary_bytes_eq(p->tag, p->tag_len, ev->u.response.tag.ptr,
				      ev->u.response.tag.len))
			continue;
		p->used = false;
		if (ok)
			summary_add_mailbox(s, p->mbox, p->mbox_len);
		return;
	}
}

/* Count a reply by status in the session, the capture and both command
 * tables; a known latency goes to both tables too. */
static void summary_on_response(struct summary *sm, struct summary_session *s,
				const struct event *ev)
{
	struct buf_slice st = ev->u.response.status;
	struct summary_cmd *cs = NULL, *cc = NULL;
	bool ok = summary_slice_is(st, "OK"), no = summary_slice_is(st, "NO"),
	     bad = summary_slice_is(st, "BAD");
	double ms = ev->u.response.latency_ms;

	s->resp_ok += ok;
	s->resp_no += no;
	s->resp_bad += bad;
	sm->resp_ok += ok;
	sm->resp_no += no;
	sm->resp_bad += bad;
	summary_select_done(s, ev, ok);
	if (ev->u.response.command.ptr == NULL)
		return;
	cs = summary_cmds_get(&s->cmds, ev->u.response.command);
	cc = summary_cmds_get(&sm->cmds, ev->u.response.command);
	if (cs != NULL) {
		cs->ok += ok;
		cs->no += no;
		cs->bad += bad;
	}
	if (cc != NULL) {
		cc->ok += ok;
		cc->no += no;
		cc->bad += bad;
	}
	/* Same rule as the JSON writer: negative, NaN or absurd is unknown. */
	if (!(ms >= 0) || ms > 1e12)
		return;
	if (cs != NULL)
		summary_lat_add(&cs->lat, (uint64_t)(ms * 1000.0 + 0.5));
	if (cc != NULL)
		summary_lat_add(&cc->lat, (uint64_t)(ms * 1000.0 + 0.5));
}

/* The session's user: the one that logged in, else the last one tried. */
static void summary_on_login(struct summary *sm, struct summary_session *s,
			     const struct event *ev)
{
	struct buf_slice u = ev->u.login.user;
	enum login_result r = ev->u.login.result;

	s->logins_ok += r == LOGIN_OK;
	s->logins_fail += r == LOGIN_FAIL;
	s->logins_unknown += r == LOGIN_UNKNOWN;
	sm->logins_ok += r == LOGIN_OK;
	sm->logins_fail += r == LOGIN_FAIL;
	sm->logins_unknown += r == LOGIN_UNKNOWN;
	if (u.ptr == NULL)
		return;
	(void)summary_set_get(&sm->users, u.ptr, u.len);
	if (s->user_ok && r != LOGIN_OK)
		return;
	s->user_len = u.len < SUMMARY_USER_MAX ? u.len : SUMMARY_USER_MAX;
	memcpy(s->user, u.ptr, s->user_len);
	s->have_user = true;
	s->user_ok = r == LOGIN_OK;
}

static void summary_on_tls(struct summary_session *s, const struct event *ev)
{
	s->tls_seen = true;
	s->tls_decrypted = ev->u.tls.decrypted;
	summary_copy_cstr(s->tls_version, sizeof s->tls_version, ev->u.tls.version);
	summary_copy_cstr(s->tls_cipher, sizeof s->tls_cipher, ev->u.tls.cipher);
	summary_copy_cstr(s->tls_reason, sizeof s->tls_reason,
			  ev->u.tls.decrypted ? NULL
			  : ev->u.tls.reason != NULL ? ev->u.tls.reason : "unknown");
	s->transport = summary_slice_is((struct buf_slice){ (const uint8_t *)ev->u.tls.phase,
							    ev->u.tls.phase != NULL
							    ? strlen(ev->u.tls.phase) : 0 },
					"implicit")
		       ? TRANSPORT_IMPLICIT_TLS : TRANSPORT_STARTTLS;
}

/* ================= writers: shared ================= */

static int summary_json_bytes(struct buf *b, const uint8_t *p, size_t n)
{
	return LIT(b, "\"") | escape_json(b, p, n) | LIT(b, "\"");
}

static int summary_json_cstr(struct buf *b, const char *s)
{
	if (s == NULL || s[0] == '\0')
		return LIT(b, "null");
	return summary_json_bytes(b, (const uint8_t *)s, strlen(s));
}

static int summary_text_cstr(struct buf *b, const char *s)
{
	return escape_text(b, (const uint8_t *)s, strlen(s));
}

/* num/den with four decimals ("0.1250"); JSON null (text "-") if den is 0. */
static int summary_append_ratio(struct buf *b, uint64_t num, uint64_t den, bool json)
{
	uint64_t r;
	char frac[5];
	int i;

	if (den == 0)
		return json ? LIT(b, "null") : LIT(b, "-");
	if (num > den)
		num = den;
	/* Rounded in long division: num * 10000 could overflow. */
	r = (uint64_t)((num * (unsigned __int128)10000 + den / 2) / den);
	frac[0] = '.';
	for (i = 4; i >= 1; i--) {
		frac[i] = (char)('0' + r % 10);
		r /= 10;
	}
	return output_append_u64(b, r) | output_put(b, frac, sizeof frac);
}

/* Microseconds as the int64 output_append_milli takes. */
static int64_t summary_i64(uint64_t us)
{
	return us > INT64_MAX ? INT64_MAX : (int64_t)us;
}

/* ================= writers: json ================= */

static int summary_json_lat(struct buf *b, struct summary_lat *l)
{
	return LIT(b, "{\"count\":") | output_append_u64(b, l->n) |
	       LIT(b, ",\"p50_ms\":") |
	       output_append_milli(b, summary_i64(summary_lat_pct(l, 50))) |
	       LIT(b, ",\"p95_ms\":") |
	       output_append_milli(b, summary_i64(summary_lat_pct(l, 95))) |
	       LIT(b, ",\"max_ms\":") |
	       output_append_milli(b, summary_i64(l->max_us)) |
	       LIT(b, ",\"exact\":") | (summary_lat_exact(l) ? LIT(b, "true") : LIT(b, "false")) |
	       LIT(b, "}");
}

/* "commands":{"NAME":n,...},"latency":{"NAME":{...}},... for a table;
 * with errors, per-name response counts and error rate as well. */
static int summary_json_cmds(struct buf *b, struct summary_cmds *t, bool errors)
{
	size_t i;
	bool first = true;
	int rc = LIT(b, ",\"commands_by_name\":{");

	for (i = 0; i < t->n; i++)
		rc |= (i > 0 ? LIT(b, ",") : 0) | summary_json_bytes(b, t->v[i].name, t->v[i].len) |
		      LIT(b, ":") | output_append_u64(b, t->v[i].count);
	rc |= LIT(b, "},\"latency\":{");
	for (i = 0; i < t->n; i++) {
		if (t->v[i].lat.n == 0)
			continue;
		rc |= (first ? 0 : LIT(b, ",")) |
		      summary_json_bytes(b, t->v[i].name, t->v[i].len) | LIT(b, ":") |
		      summary_json_lat(b, &t->v[i].lat);
		first = false;
	}
	rc |= LIT(b, "}");
	if (!errors)
		return rc;
	rc |= LIT(b, ",\"errors_by_command\":{");
	for (i = 0; i < t->n; i++) {
		struct summary_cmd *c = &t->v[i];

		rc |= (i > 0 ? LIT(b, ",") : 0) | summary_json_bytes(b, c->name, c->len) |
		      LIT(b, ":{\"OK\":") | output_append_u64(b, c->ok) |
		      LIT(b, ",\"NO\":") | output_append_u64(b, c->no) |
		      LIT(b, ",\"BAD\":") | output_append_u64(b, c->bad) |
		      LIT(b, ",\"error_rate\":") |
		      summary_append_ratio(b, c->no + c->bad, c->ok + c->no + c->bad, true) |
		      LIT(b, "}");
	}
	return rc | LIT(b, "}");
}

static int summary_json_responses(struct buf *b, uint64_t ok, uint64_t no, uint64_t bad)
{
	return LIT(b, ",\"responses\":{\"OK\":") | output_append_u64(b, ok) |
	       LIT(b, ",\"NO\":") | output_append_u64(b, no) |
	       LIT(b, ",\"BAD\":") | output_append_u64(b, bad) | LIT(b, "}");
}

static int summary_json_head(struct summary *sm, struct buf *b, int64_t ts, uint64_t id,
			     const char *type)
{
	return LIT(b, "{\"ts\":\"") | output_time_append_rfc3339(b, &sm->clock, ts) |
	       LIT(b, "\",\"session\":") | output_append_u64(b, id) |
	       LIT(b, ",\"type\":\"") | output_put(b, type, strlen(type)) | LIT(b, "\"");
}

static int summary_json_session_tls(struct buf *b, const struct summary_session *s)
{
	if (!s->tls_seen)
		return LIT(b, ",\"tls\":null");
	return LIT(b, ",\"tls\":{\"version\":") | summary_json_cstr(b, s->tls_version) |
	       LIT(b, ",\"cipher\":") | summary_json_cstr(b, s->tls_cipher) |
	       LIT(b, ",\"decrypted\":") | (s->tls_decrypted ? LIT(b, "true") : LIT(b, "false")) |
	       LIT(b, ",\"reason\":") | summary_json_cstr(b, s->tls_reason) | LIT(b, "}");
}

static int summary_json_session_ids(struct summary *sm, struct buf *b,
				    const struct summary_session *s, const char *reason,
				    int64_t duration_us)
{
	int rc = LIT(b, ",\"client\":") | summary_json_cstr(b, s->client) |
		 LIT(b, ",\"server\":") | summary_json_cstr(b, s->server) |
		 LIT(b, ",\"start\":\"") | output_time_append_rfc3339(b, &sm->clock, s->first_us) |
		 LIT(b, "\",\"end\":\"") | output_time_append_rfc3339(b, &sm->clock, s->last_us) |
		 LIT(b, "\",\"end_reason\":") | summary_json_cstr(b, reason) |
		 LIT(b, ",\"duration_ms\":") | output_append_milli(b, duration_us) |
		 LIT(b, ",\"mid_stream\":") | (s->mid_stream ? LIT(b, "true") : LIT(b, "false")) |
		 LIT(b, ",\"user\":");

	rc |= s->have_user ? summary_json_bytes(b, s->user, s->user_len) : LIT(b, "null");
	return rc | LIT(b, ",\"logins\":{\"ok\":") | output_append_u64(b, s->logins_ok) |
	       LIT(b, ",\"fail\":") | output_append_u64(b, s->logins_fail) |
	       LIT(b, ",\"unknown\":") | output_append_u64(b, s->logins_unknown) |
	       LIT(b, "},\"transport\":\"") |
	       output_put(b, event_transport_name(s->transport),
			  strlen(event_transport_name(s->transport))) | LIT(b, "\"");
}

static int summary_json_session(struct summary *sm, struct buf *b, struct summary_session *s,
				const char *reason, const struct session_summary *sum,
				int64_t duration_us)
{
	size_t i;
	int rc = summary_json_head(sm, b, s->last_us, s->id, "session_summary") |
		 summary_json_session_ids(sm, b, s, reason, duration_us) |
		 summary_json_session_tls(b, s) | LIT(b, ",\"compression\":");

	rc |= s->compress_seen ? LIT(b, "{\"algorithm\":") |
				 summary_json_cstr(b, s->compress_alg) |
				 LIT(b, ",\"decoded\":") |
				 (s->compress_decoded ? LIT(b, "true") : LIT(b, "false")) | LIT(b, "}")
			       : LIT(b, "null");
	rc |= LIT(b, ",\"mailboxes\":[");
	for (i = 0; i < s->n_mboxes; i++)
		rc |= (i > 0 ? LIT(b, ",") : 0) | summary_json_bytes(b, s->mboxes[i].p, s->mboxes[i].len);
	rc |= LIT(b, "],\"selects\":") | output_append_u64(b, s->selects) |
	      LIT(b, ",\"commands\":") | output_append_u64(b, s->commands) |
	      summary_json_responses(b, s->resp_ok, s->resp_no, s->resp_bad) |
	      summary_json_cmds(b, &s->cmds, false) |
	      LIT(b, ",\"untagged\":") | output_append_u64(b, s->untagged);
	if (sum != NULL)
		rc |= LIT(b, ",\"bytes_c2s\":") | output_append_u64(b, sum->bytes_c2s) |
		      LIT(b, ",\"bytes_s2c\":") | output_append_u64(b, sum->bytes_s2c) |
		      LIT(b, ",\"wire_bytes_c2s\":") | output_append_u64(b, sum->wire_bytes_c2s) |
		      LIT(b, ",\"wire_bytes_s2c\":") | output_append_u64(b, sum->wire_bytes_s2c) |
		      LIT(b, ",\"messages_fetched\":") | output_append_u64(b, sum->literals_fetched) |
		      LIT(b, ",\"messages_appended\":") | output_append_u64(b, sum->literals_appended) |
		      LIT(b, ",\"notices\":") | output_append_u64(b, sum->notices);
	else
		rc |= LIT(b, ",\"bytes_c2s\":null,\"bytes_s2c\":null,\"wire_bytes_c2s\":null,"
			     "\"wire_bytes_s2c\":null,\"messages_fetched\":null,"
			     "\"messages_appended\":null,\"notices\":null");
	return rc | LIT(b, ",\"gaps\":") | output_append_u64(b, s->gaps) |
	       LIT(b, ",\"gap_bytes\":") | output_append_u64(b, s->gap_bytes) | LIT(b, "}\n");
}

/* ================= writers: text ================= */

static int summary_text_time(struct summary *sm, struct buf *b, int64_t ts)
{
	size_t start = b->len;

	if (output_time_append_rfc3339(b, &sm->clock, ts) != 0)
		return -1;
	b->data[start + 10] = ' ';
	b->len--;		/* the 'Z': the line says UTC */
	return 0;
}

static int summary_text_lat_row(struct buf *b, const struct summary_cmd *c, struct summary_lat *l)
{
	int rc = LIT(b, "    ");
	size_t start = b->len;

	rc |= escape_text(b, c->name, c->len);
	while (b->len < start + 16)
		rc |= LIT(b, " ");
	rc |= LIT(b, " n=") | output_append_u64(b, l->n) |
	      LIT(b, "  p50 ") | output_append_milli(b, summary_i64(summary_lat_pct(l, 50))) |
	      LIT(b, " ms  p95 ") | output_append_milli(b, summary_i64(summary_lat_pct(l, 95))) |
	      LIT(b, " ms  max ") | output_append_milli(b, summary_i64(l->max_us)) |
	      LIT(b, " ms");
	if (!summary_lat_exact(l))
		rc |= LIT(b, "  (p50/p95 within 3.2%)");
	return rc | LIT(b, "\n");
}

static int summary_text_cmds(struct buf *b, struct summary_cmds *t)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < t->n; i++)
		rc |= (i == 0 ? LIT(b, ": ") : LIT(b, ", ")) | escape_text(b, t->v[i].name, t->v[i].len) |
		      LIT(b, " ") | output_append_u64(b, t->v[i].count);
	return rc;
}

static int summary_text_session_head(struct summary *sm, struct buf *b,
				     const struct summary_session *s, const char *reason,
				     int64_t duration_us)
{
	int rc = LIT(b, "session #") | output_append_u64(b, s->id) | LIT(b, "  ") |
		 summary_text_cstr(b, s->client) | LIT(b, " -> ") | summary_text_cstr(b, s->server) |
		 LIT(b, "  (") | summary_text_cstr(b, reason != NULL ? reason : "open") |
		 (s->mid_stream ? LIT(b, ", joined mid-stream") : 0) |
		 LIT(b, ")\n  time         ") | summary_text_time(sm, b, s->first_us) |
		 LIT(b, " .. ") | summary_text_time(sm, b, s->last_us) |
		 LIT(b, " UTC, ") | output_append_milli(b, duration_us / 1000) |
		 LIT(b, " s\n  user         ");

	rc |= s->have_user ? escape_text(b, s->user, s->user_len) : LIT(b, "-");
	rc |= LIT(b, "  (logins: ok ") | output_append_u64(b, s->logins_ok) |
	      LIT(b, ", fail ") | output_append_u64(b, s->logins_fail) |
	      LIT(b, ", unknown ") | output_append_u64(b, s->logins_unknown) |
	      LIT(b, ")\n  transport    ") | summary_text_cstr(b, event_transport_name(s->transport));
	if (s->tls_seen)
		rc |= LIT(b, ", ") | summary_text_cstr(b, s->tls_version[0] ? s->tls_version : "version unknown") |
		      (s->tls_cipher[0] ? LIT(b, " ") | summary_text_cstr(b, s->tls_cipher) : 0) |
		      (s->tls_decrypted ? LIT(b, ", decrypted")
		       : LIT(b, ", not decrypted: ") | summary_text_cstr(b, s->tls_reason));
	rc |= LIT(b, "\n  compression  ");
	if (s->compress_seen)
		rc |= summary_text_cstr(b, s->compress_alg) |
		      (s->compress_decoded ? LIT(b, " (decoded)") : LIT(b, " (not decoded)"));
	else
		rc |= LIT(b, "none");
	return rc | LIT(b, "\n");
}

static int summary_text_session(struct summary *sm, struct buf *b, struct summary_session *s,
				const char *reason, const struct session_summary *sum,
				int64_t duration_us)
{
	size_t i;
	bool header = true;
	int rc = summary_text_session_head(sm, b, s, reason, duration_us) |
		 LIT(b, "  mailboxes    ");

	for (i = 0; i < s->n_mboxes; i++)
		rc |= (i > 0 ? LIT(b, ", ") : 0) | escape_text(b, s->mboxes[i].p, s->mboxes[i].len);
	rc |= (s->n_mboxes == 0 ? LIT(b, "-") : 0) | LIT(b, "  (") |
	      output_append_u64(b, s->selects) | LIT(b, " selected)\n  commands     ") |
	      output_append_u64(b, s->commands) | summary_text_cmds(b, &s->cmds) |
	      LIT(b, "\n  responses    OK ") | output_append_u64(b, s->resp_ok) |
	      LIT(b, ", NO ") | output_append_u64(b, s->resp_no) |
	      LIT(b, ", BAD ") | output_append_u64(b, s->resp_bad) | LIT(b, "\n");
	if (sum != NULL)
		rc |= LIT(b, "  bytes        c2s ") | output_append_u64(b, sum->bytes_c2s) |
		      LIT(b, ", s2c ") | output_append_u64(b, sum->bytes_s2c) |
		      LIT(b, " (on the wire: c2s ") | output_append_u64(b, sum->wire_bytes_c2s) |
		      LIT(b, ", s2c ") | output_append_u64(b, sum->wire_bytes_s2c) |
		      LIT(b, ")\n  messages     fetched ") | output_append_u64(b, sum->literals_fetched) |
		      LIT(b, ", appended ") | output_append_u64(b, sum->literals_appended) |
		      LIT(b, "\n  notices      ") | output_append_u64(b, sum->notices) | LIT(b, "\n");
	rc |= LIT(b, "  gaps         ") | output_append_u64(b, s->gaps) | LIT(b, " (") |
	      output_append_u64(b, s->gap_bytes) | LIT(b, " bytes)\n");
	for (i = 0; i < s->cmds.n; i++) {
		if (s->cmds.v[i].lat.n == 0)
			continue;
		rc |= (header ? LIT(b, "  latency\n") : 0) |
		      summary_text_lat_row(b, &s->cmds.v[i], &s->cmds.v[i].lat);
		header = false;
	}
	return rc | LIT(b, "\n");
}

/* ================= session end ================= */

static void summary_write_session(struct summary *sm, struct summary_session *s,
				  const char *reason, const struct session_summary *sum)
{
	int64_t duration_us = sum != NULL ? sum->duration_us : s->last_us - s->first_us;
	struct buf *b;

	if (!output_sink_live(&sm->sink))
		return;
	b = output_sink_begin(&sm->sink);
	output_sink_end(&sm->sink, sm->json ? summary_json_session(sm, b, s, reason, sum, duration_us)
					    : summary_text_session(sm, b, s, reason, sum, duration_us));
}

/* Fold a finished session into the capture totals. */
static void summary_fold(struct summary *sm, const struct summary_session *s,
			 const struct session_summary *sum)
{
	struct buf_slice host = summary_host(s->client);
	struct summary_entry *e;

	sm->by_transport[s->transport <= TRANSPORT_IMPLICIT_TLS ? s->transport : 0]++;
	sm->mid_stream += s->mid_stream;
	sm->compressed += s->compress_seen;
	sm->gaps += s->gaps;
	sm->gap_bytes += s->gap_bytes;
	sm->untagged += s->untagged;
	if (s->tls_seen) {
		sm->tls_sessions++;
		sm->tls_decrypted += s->tls_decrypted;
		if (!s->tls_decrypted) {
			size_t i;

			for (i = 0; i < sm->n_reasons; i++)
				if (strcmp(sm->reasons[i].text, s->tls_reason) == 0)
					break;
			if (i == sm->n_reasons && i < SUMMARY_REASONS_MAX)
				summary_copy_cstr(sm->reasons[sm->n_reasons++].text,
						  SUMMARY_TEXT_MAX, s->tls_reason);
			if (i < sm->n_reasons)
				sm->reasons[i].n++;
			else
				sm->reasons_other++;
		}
	}
	if (sum == NULL)
		return;
	sm->bytes_c2s += sum->bytes_c2s;
	sm->bytes_s2c += sum->bytes_s2c;
	sm->wire_c2s += sum->wire_bytes_c2s;
	sm->wire_s2c += sum->wire_bytes_s2c;
	sm->fetched += sum->literals_fetched;
	sm->appended += sum->literals_appended;
	sm->notices += sum->notices;
	e = summary_set_find(&sm->clients, host.ptr, host.len, summary_hash(host.ptr, host.len));
	if (e != NULL)
		e->bytes += sum->bytes_c2s + sum->bytes_s2c;
}

static void summary_end_session(struct summary *sm, size_t at, const char *reason,
				const struct session_summary *sum)
{
	struct summary_session *s = sm->live[at];

	summary_write_session(sm, s, reason, sum);
	summary_fold(sm, s, sum);
	summary_live_remove(sm, at);
	summary_session_free(s);
}

static void summary_on_other(struct summary_session *s, const struct event *ev)
{
	switch (ev->type) {
	case EV_SESSION_START:
		s->mid_stream = ev->u.start.mid_stream;
		if (ev->u.start.implicit_tls)
			s->transport = TRANSPORT_IMPLICIT_TLS;
		break;
	case EV_UNTAGGED:
		s->untagged++;
		break;
	case EV_TLS:
		summary_on_tls(s, ev);
		break;
	case EV_COMPRESS:
		s->compress_seen = true;
		s->compress_decoded = ev->u.compress.decoded;
		summary_copy_cstr(s->compress_alg, sizeof s->compress_alg,
				  ev->u.compress.algorithm != NULL ? ev->u.compress.algorithm
								   : "?");
		break;
	case EV_GAP:
		s->gaps++;
		s->gap_bytes += ev->u.gap.bytes;
		break;
	default:
		break;
	}
}

static void summary_event(void *ctx, const struct event *ev)
{
	struct summary *sm = ctx;
	struct summary_session *s = summary_session_get(sm, ev);
	bool found;

	if (!sm->any || ev->ts_us < sm->first_us)
		sm->first_us = ev->ts_us;
	if (!sm->any || ev->ts_us > sm->last_us)
		sm->last_us = ev->ts_us;
	sm->any = true;
	if (s == NULL)
		return;
	/* min and max, not first and last: a damaged or merged capture may
	 * deliver a session's events out of time order. */
	if (ev->ts_us < s->first_us)
		s->first_us = ev->ts_us;
	if (ev->ts_us > s->last_us)
		s->last_us = ev->ts_us;
	switch (ev->type) {
	case EV_COMMAND:
		summary_on_command(sm, s, ev);
		break;
	case EV_RESPONSE:
		summary_on_response(sm, s, ev);
		break;
	case EV_LOGIN:
		summary_on_login(sm, s, ev);
		break;
	case EV_SESSION_END:
		sm->ended++;
		summary_end_session(sm, summary_live_index(sm, s->id, &found),
				    event_end_reason_name(ev->u.end.reason), ev->u.end.summary);
		break;
	default:
		summary_on_other(s, ev);
		break;
	}
}

/* ================= capture summary ================= */

/* Indices of the busiest clients: most sessions, then most bytes. */
static size_t summary_busiest(const struct summary_set *cl, const struct summary_entry **top)
{
	size_t n = 0, i, j;

	for (i = 0; i < cl->n; i++) {
		const struct summary_entry *e = cl->order[i];

		for (j = n; j > 0; j--) {
			const struct summary_entry *t = top[j - 1];

			if (t->sessions > e->sessions ||
			    (t->sessions == e->sessions && t->bytes >= e->bytes))
				break;
			if (j < SUMMARY_BUSIEST)
				top[j] = t;
		}
		if (j < SUMMARY_BUSIEST) {
			top[j] = e;
			if (n < SUMMARY_BUSIEST)
				n++;
		}
	}
	return n;
}

static int summary_json_capture_counts(struct buf *b, const struct summary *sm)
{
	return LIT(b, ",\"sessions\":") | output_append_u64(b, sm->sessions) |
	       LIT(b, ",\"sessions_ended\":") | output_append_u64(b, sm->ended) |
	       LIT(b, ",\"sessions_mid_stream\":") | output_append_u64(b, sm->mid_stream) |
	       LIT(b, ",\"sessions_untracked\":") | output_append_u64(b, sm->sessions_lost) |
	       LIT(b, ",\"transport\":{\"plain\":") | output_append_u64(b, sm->by_transport[0]) |
	       LIT(b, ",\"starttls\":") | output_append_u64(b, sm->by_transport[1]) |
	       LIT(b, ",\"implicit_tls\":") | output_append_u64(b, sm->by_transport[2]) |
	       LIT(b, "},\"compressed\":") | output_append_u64(b, sm->compressed) |
	       LIT(b, ",\"clients\":") | output_append_u64(b, sm->clients.n) |
	       LIT(b, ",\"servers\":") | output_append_u64(b, sm->servers.n) |
	       LIT(b, ",\"users\":") | output_append_u64(b, sm->users.n) |
	       LIT(b, ",\"distinct_untracked\":") |
	       output_append_u64(b, sm->clients.untracked + sm->servers.untracked +
				    sm->users.untracked) |
	       LIT(b, ",\"logins\":{\"ok\":") | output_append_u64(b, sm->logins_ok) |
	       LIT(b, ",\"fail\":") | output_append_u64(b, sm->logins_fail) |
	       LIT(b, ",\"unknown\":") | output_append_u64(b, sm->logins_unknown) |
	       LIT(b, "},\"commands\":") | output_append_u64(b, sm->commands) |
	       summary_json_responses(b, sm->resp_ok, sm->resp_no, sm->resp_bad) |
	       LIT(b, ",\"error_rate\":") |
	       summary_append_ratio(b, sm->resp_no + sm->resp_bad,
				    sm->resp_ok + sm->resp_no + sm->resp_bad, true) |
	       LIT(b, ",\"untagged\":") | output_append_u64(b, sm->untagged) |
	       LIT(b, ",\"bytes_c2s\":") | output_append_u64(b, sm->bytes_c2s) |
	       LIT(b, ",\"bytes_s2c\":") | output_append_u64(b, sm->bytes_s2c) |
	       LIT(b, ",\"wire_bytes_c2s\":") | output_append_u64(b, sm->wire_c2s) |
	       LIT(b, ",\"wire_bytes_s2c\":") | output_append_u64(b, sm->wire_s2c) |
	       LIT(b, ",\"messages_fetched\":") | output_append_u64(b, sm->fetched) |
	       LIT(b, ",\"messages_appended\":") | output_append_u64(b, sm->appended) |
	       LIT(b, ",\"gaps\":") | output_append_u64(b, sm->gaps) |
	       LIT(b, ",\"gap_bytes\":") | output_append_u64(b, sm->gap_bytes) |
	       LIT(b, ",\"notices\":") | output_append_u64(b, sm->notices);
}

static int summary_json_capture_tls(struct buf *b, const struct summary *sm)
{
	size_t i;
	int rc = LIT(b, ",\"tls\":{\"sessions\":") | output_append_u64(b, sm->tls_sessions) |
		 LIT(b, ",\"decrypted\":") | output_append_u64(b, sm->tls_decrypted) |
		 LIT(b, ",\"not_decrypted\":") |
		 output_append_u64(b, sm->tls_sessions - sm->tls_decrypted) |
		 LIT(b, ",\"reasons\":{");

	for (i = 0; i < sm->n_reasons; i++)
		rc |= (i > 0 ? LIT(b, ",") : 0) | summary_json_cstr(b, sm->reasons[i].text) |
		      LIT(b, ":") | output_append_u64(b, sm->reasons[i].n);
	if (sm->reasons_other > 0)
		rc |= (sm->n_reasons > 0 ? LIT(b, ",") : 0) | LIT(b, "\"" SUMMARY_OTHER "\":") |
		      output_append_u64(b, sm->reasons_other);
	return rc | LIT(b, "}}");
}

static int summary_json_capture(struct summary *sm, struct buf *b)
{
	const struct summary_entry *top[SUMMARY_BUSIEST];
	size_t n = summary_busiest(&sm->clients, top), i;
	int rc = summary_json_head(sm, b, sm->last_us, 0, "capture_summary") |
		 LIT(b, ",\"first\":") |
		 (sm->any ? LIT(b, "\"") | output_time_append_rfc3339(b, &sm->clock, sm->first_us) |
			    LIT(b, "\"") : LIT(b, "null")) |
		 LIT(b, ",\"last\":") |
		 (sm->any ? LIT(b, "\"") | output_time_append_rfc3339(b, &sm->clock, sm->last_us) |
			    LIT(b, "\"") : LIT(b, "null")) |
		 summary_json_capture_counts(b, sm) | summary_json_capture_tls(b, sm) |
		 LIT(b, ",\"busiest_clients\":[");

	for (i = 0; i < n; i++)
		rc |= (i > 0 ? LIT(b, ",") : 0) | LIT(b, "{\"client\":") |
		      summary_json_bytes(b, top[i]->key, top[i]->len) |
		      LIT(b, ",\"sessions\":") | output_append_u64(b, top[i]->sessions) |
		      LIT(b, ",\"commands\":") | output_append_u64(b, top[i]->commands) |
		      LIT(b, ",\"bytes\":") | output_append_u64(b, top[i]->bytes) | LIT(b, "}");
	return rc | LIT(b, "]") | summary_json_cmds(b, &sm->cmds, true) | LIT(b, "}\n");
}

static int summary_text_capture_counts(struct summary *sm, struct buf *b)
{
	int rc = LIT(b, "capture\n  time         ");

	if (sm->any)
		rc |= summary_text_time(sm, b, sm->first_us) | LIT(b, " .. ") |
		      summary_text_time(sm, b, sm->last_us) | LIT(b, " UTC");
	else
		rc |= LIT(b, "-");
	return rc | LIT(b, "\n  sessions     ") | output_append_u64(b, sm->sessions) |
	       LIT(b, " (ended ") | output_append_u64(b, sm->ended) |
	       LIT(b, ", joined mid-stream ") | output_append_u64(b, sm->mid_stream) |
	       LIT(b, "; plain ") | output_append_u64(b, sm->by_transport[0]) |
	       LIT(b, ", starttls ") | output_append_u64(b, sm->by_transport[1]) |
	       LIT(b, ", implicit_tls ") | output_append_u64(b, sm->by_transport[2]) |
	       LIT(b, "; compressed ") | output_append_u64(b, sm->compressed) |
	       LIT(b, ")\n  distinct     clients ") | output_append_u64(b, sm->clients.n) |
	       LIT(b, ", servers ") | output_append_u64(b, sm->servers.n) |
	       LIT(b, ", users ") | output_append_u64(b, sm->users.n) |
	       LIT(b, "\n  logins       ok ") | output_append_u64(b, sm->logins_ok) |
	       LIT(b, ", fail ") | output_append_u64(b, sm->logins_fail) |
	       LIT(b, ", unknown ") | output_append_u64(b, sm->logins_unknown) |
	       LIT(b, "\n  responses    OK ") | output_append_u64(b, sm->resp_ok) |
	       LIT(b, ", NO ") | output_append_u64(b, sm->resp_no) |
	       LIT(b, ", BAD ") | output_append_u64(b, sm->resp_bad) |
	       LIT(b, "; error rate ") |
	       summary_append_ratio(b, sm->resp_no + sm->resp_bad,
				    sm->resp_ok + sm->resp_no + sm->resp_bad, false) |
	       LIT(b, "\n  bytes        c2s ") | output_append_u64(b, sm->bytes_c2s) |
	       LIT(b, ", s2c ") | output_append_u64(b, sm->bytes_s2c) |
	       LIT(b, "\n  messages     fetched ") | output_append_u64(b, sm->fetched) |
	       LIT(b, ", appended ") | output_append_u64(b, sm->appended) |
	       LIT(b, "\n  gaps         ") | output_append_u64(b, sm->gaps) |
	       LIT(b, " (") | output_append_u64(b, sm->gap_bytes) |
	       LIT(b, " bytes); notices ") | output_append_u64(b, sm->notices) | LIT(b, "\n");
}

static int summary_text_capture(struct summary *sm, struct buf *b)
{
	const struct summary_entry *top[SUMMARY_BUSIEST];
	size_t n = summary_busiest(&sm->clients, top), i;
	int rc = summary_text_capture_counts(sm, b) |
		 LIT(b, "  tls          ") | output_append_u64(b, sm->tls_sessions) |
		 LIT(b, " sessions, decrypted ") | output_append_u64(b, sm->tls_decrypted) |
		 LIT(b, ", not ") | output_append_u64(b, sm->tls_sessions - sm->tls_decrypted) |
		 LIT(b, "\n");

	for (i = 0; i < sm->n_reasons; i++)
		rc |= LIT(b, "    ") | output_append_u64(b, sm->reasons[i].n) | LIT(b, "  ") |
		      summary_text_cstr(b, sm->reasons[i].text) | LIT(b, "\n");
	rc |= LIT(b, "  busiest clients\n");
	for (i = 0; i < n; i++)
		rc |= LIT(b, "    ") | escape_text(b, top[i]->key, top[i]->len) |
		      LIT(b, "  sessions ") | output_append_u64(b, top[i]->sessions) |
		      LIT(b, ", commands ") | output_append_u64(b, top[i]->commands) |
		      LIT(b, ", bytes ") | output_append_u64(b, top[i]->bytes) | LIT(b, "\n");
	rc |= LIT(b, "  commands     ") | output_append_u64(b, sm->commands) |
	      summary_text_cmds(b, &sm->cmds) | LIT(b, "\n  errors by command\n");
	for (i = 0; i < sm->cmds.n; i++) {
		struct summary_cmd *c = &sm->cmds.v[i];

		if (c->no + c->bad == 0)
			continue;
		rc |= LIT(b, "    ") | escape_text(b, c->name, c->len) |
		      LIT(b, "  NO ") | output_append_u64(b, c->no) |
		      LIT(b, ", BAD ") | output_append_u64(b, c->bad) | LIT(b, " of ") |
		      output_append_u64(b, c->ok + c->no + c->bad) | LIT(b, " (") |
		      summary_append_ratio(b, c->no + c->bad, c->ok + c->no + c->bad, false) |
		      LIT(b, ")\n");
	}
	rc |= LIT(b, "  latency\n");
	for (i = 0; i < sm->cmds.n; i++)
		if (sm->cmds.v[i].lat.n > 0)
			rc |= summary_text_lat_row(b, &sm->cmds.v[i], &sm->cmds.v[i].lat);
	return rc;
}

/* ================= the output ================= */

static int summary_finish(void *ctx)
{
	struct summary *sm = ctx;

	/* Sessions without a session_end (a run cut short): still reported. */
	while (sm->n_live > 0)
		summary_end_session(sm, 0, NULL, NULL);
	if (output_sink_live(&sm->sink)) {
		struct buf *b = output_sink_begin(&sm->sink);

		output_sink_end(&sm->sink, sm->json ? summary_json_capture(sm, b)
						    : summary_text_capture(sm, b));
	}
	return output_sink_finish(&sm->sink);
}

static void summary_free(void *ctx)
{
	struct summary *sm = ctx;
	size_t i;

	if (sm == NULL)
		return;
	for (i = 0; i < sm->n_live; i++)
		summary_session_free(sm->live[i]);
	free(sm->live);
	summary_cmds_free(&sm->cmds);
	summary_set_free(&sm->clients);
	summary_set_free(&sm->servers);
	summary_set_free(&sm->users);
	output_sink_free(&sm->sink);
	free(sm);
}

/* Live capture: out with every complete line now. */
static void summary_flush(void *ctx)
{
	struct summary *sm = ctx;

	/* a failed write is reported by finish */
	if (output_sink_finish(&sm->sink) != 0)
		return;
}

static const struct output_ops summary_ops = {
	.flush = summary_flush,
	.event = summary_event,
	.finish = summary_finish,
	.free = summary_free,
};

int output_summary_new(struct output *out_r, FILE *fp, bool json)
{
	struct summary *sm = calloc(1, sizeof *sm);

	if (sm == NULL)
		return -1;
	output_sink_init(&sm->sink, fp);
	sm->json = json;
	out_r->ops = &summary_ops;
	out_r->ctx = sm;
	return 0;
}
