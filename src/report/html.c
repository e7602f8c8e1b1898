/* --html FILE: what the page shows, kept from the events, and the page
 * written at finish (include/report/html.h).
 *
 * Layout: the script-safe JSON string; the per-command latency table and
 * the reservoir of latency points; the sessions (a hashtab by id, and an
 * array in order of appearance) with their ladders; the logins; the
 * writer of the JSON document; the output. */
#include "report/html.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/escape.h"
#include "util/hash.h"
#include "util/hashtab.h"

#define HTML_NAME_MAX 31		/* command and response names kept */
#define HTML_TAG_MAX 23
#define HTML_ADDR_MAX 64
#define HTML_USER_MAX 128
#define HTML_SMALL_MAX 64		/* TLS version, cipher, reason */
#define HTML_MAILBOXES_BYTES 4096
#define HTML_LAT_MIN_US 10.0		/* bucket 0: below 10 us * sqrt 2 */
#define HTML_SESSIONS_BUCKETS 1024

/* ---- JSON strings safe inside <script> ---- */

/* The bytes the HTML parser could take for markup or a line end. */
static size_t html_specials(const uint8_t *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '<' || p[i] == '>' || p[i] == '&')
			k++;
		else if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x80 &&
			 (p[i + 2] == 0xa8 || p[i + 2] == 0xa9))
			k++;
	}
	return k;
}

/* Rewrite the specials of b[from..) as \u escapes, growing b by 5 bytes
 * per '<', '>', '&' and 3 per U+2028/2029, from the end backwards. */
static int html_unspecial(struct buf *b, size_t from)
{
	size_t k = html_specials(b->data + from, b->len - from), src, dst;
	uint8_t *room;

	if (k == 0)
		return 0;
	if ((room = buf_reserve(b, 5 * k)) == NULL)
		return -1;
	(void)room;
	src = b->len;
	dst = b->len + 5 * k;
	while (src > from) {
		uint8_t c = b->data[--src];
		char esc[7];

		if (c == '<' || c == '>' || c == '&') {
			snprintf(esc, sizeof esc, "\\u%04x", c);
		} else if ((c == 0xa8 || c == 0xa9) && src >= from + 2 &&
			   b->data[src - 1] == 0x80 && b->data[src - 2] == 0xe2) {
			snprintf(esc, sizeof esc, "\\u%04x", 0x2000u + c - 0x80u);
			src -= 2;
		} else {
			b->data[--dst] = c;
			continue;
		}
		dst -= 6;
		memcpy(b->data + dst, esc, 6);
	}
	/* each U+2028 took 3 bytes and gave 6: 2 of its 5 reserved unused */
	if (dst > from) {
		size_t gap = dst - from;

		memmove(b->data + from, b->data + dst, b->len + 5 * k - dst);
		buf_commit(b, 5 * k - gap);
	} else {
		buf_commit(b, 5 * k);
	}
	return 0;
}

int html_json_string(struct buf *b, const uint8_t *p, size_t n, bool made)
{
	size_t from = b->len;

	if ((made ? escape_json_made(b, p, n) : escape_json(b, p, n)) != 0)
		return -1;
	return html_unspecial(b, from);
}

/* ---- small writers into a buf; each returns 0 or -1 (b could not grow) ---- */

static int put(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static int putf(struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return -1;
	return buf_append(b, tmp, (size_t)n);
}

/* ,"key":"value" (a null slice: null); at most max bytes of it */
static int put_str(struct buf *b, const char *key, struct buf_slice s, size_t max)
{
	if (putf(b, ",\"%s\":", key) != 0)
		return -1;
	if (s.ptr == NULL)
		return put(b, "null");
	if (buf_append(b, "\"", 1) != 0 ||
	    html_json_string(b, s.ptr, s.len < max ? s.len : max, false) != 0)
		return -1;
	return buf_append(b, "\"", 1);
}

/* The ladder's keys are left out where empty, null or zero: the page
 * reads a missing one so, and the ladders are most of the page. */
static int put_str_opt(struct buf *b, const char *key, struct buf_slice s, size_t max)
{
	return s.ptr == NULL || s.len == 0 ? 0 : put_str(b, key, s, max);
}

static int put_u64_opt(struct buf *b, const char *key, uint64_t v)
{
	return v == 0 ? 0 : putf(b, ",\"%s\":%" PRIu64, key, v);
}

static int put_cstr(struct buf *b, const char *key, const char *s)
{
	if (s == NULL)
		return putf(b, ",\"%s\":null", key);
	return put_str(b, key, (struct buf_slice){ (const uint8_t *)s, strlen(s) }, SIZE_MAX);
}

static struct buf_slice cslice(const char *s)
{
	return (struct buf_slice){ (const uint8_t *)s, strlen(s) };
}

/* Keep up to max-1 bytes of s as a C string (a copy the event outlives). */
static void keep(char *dst, size_t max, struct buf_slice s)
{
	size_t n = s.ptr == NULL ? 0 : s.len < max - 1 ? s.len : max - 1;

	if (n != 0)
		memcpy(dst, s.ptr, n);
	dst[n] = '\0';
}

/* ---- latency per command name, and the points over time ---- */

struct html_cmd {
	char name[HTML_NAME_MAX + 1];
	uint64_t n, no, bad, timed;
	double sum_ms, min_ms, max_ms;
	uint32_t hist[HTML_LAT_BUCKETS];
};

struct html_point {
	int64_t ts_us;
	float ms;
	uint32_t cmd;
	uint64_t session;
};

/* Bucket i holds [10 us * 2^(i/2), 10 us * 2^((i+1)/2)): two per power of
 * two, found from the exponent without libm. */
static unsigned lat_bucket(double ms)
{
	double x = ms * 1000.0 / HTML_LAT_MIN_US;
	unsigned e, i;

	if (!(x >= 1.0))
		return 0;
	if (x >= 0x1p62)
		return HTML_LAT_BUCKETS - 1;
	e = 63u - (unsigned)__builtin_clzll((unsigned long long)x);
	i = 2 * e + (x >= (double)(1ull << e) * 1.4142135623730951);
	return i >= HTML_LAT_BUCKETS ? HTML_LAT_BUCKETS - 1 : i;
}

/* ---- sessions ---- */

/* Consecutive untagged responses of one name, shown as one ladder entry. */
struct html_group {
	bool open;
	char name[HTML_NAME_MAX + 1];
	char tag[HTML_TAG_MAX + 1];
	bool has_tag;
	uint64_t count, literal_bytes;
	uint64_t frame;			/* of the first */
	int64_t t0, t1;
};

struct html_session {
	struct hashtab_node hnode;
	size_t *ladders_total;		/* the run's ladder bytes (struct html) */
	uint64_t id;
	char client[HTML_ADDR_MAX], server[HTML_ADDR_MAX];
	int64_t start_us, last_us;
	const char *end_reason;		/* NULL: never ended */
	bool mid_stream, implicit_tls;
	enum transport transport;
	bool compressed, compress_decoded, tls_seen, tls_decrypted;
	char tls_version[HTML_SMALL_MAX], tls_reason[HTML_SMALL_MAX];
	char user[HTML_USER_MAX];
	bool has_user;
	unsigned logins_ok, logins_failed;
	uint64_t commands, ok, no, bad, untagged, gaps, gap_bytes, notices, capped;
	uint64_t bytes[2], wire_bytes[2];
	bool undecrypted;
	double max_ms;			/* < 0: none timed */
	uint32_t max_cmd;
	char max_tag[HTML_TAG_MAX + 1];
	uint32_t cmd_count[HTML_CMDS_MAX + 1];	/* by html_cmd index; last: other */
	struct buf mailboxes;		/* JSON strings, comma-separated */
	unsigned n_mailboxes;
	uint64_t mailbox_hash[HTML_MAILBOXES_MAX];	/* of those named, to name
							   each once */
	struct buf ladder;		/* JSON objects, comma-separated */
	unsigned n_full, n_extra;
	uint64_t omitted;
	struct html_group grp;
};

struct html {
	FILE *fp;
	struct mem_budget *budget;
	struct hashtab by_id;
	struct html_session *last;	/* the session of the previous event */
	struct html_session **order;	/* by first event */
	size_t n_sessions, cap_sessions;
	uint64_t sessions_untracked;
	size_t ladders_total;		/* bytes of every session's ladder */
	struct html_cmd cmds[HTML_CMDS_MAX + 1];	/* last: "(other)" */
	size_t n_cmds;
	struct html_point points[HTML_LAT_POINTS];
	size_t n_points;
	uint64_t timed, rng;
	struct buf logins;
	size_t n_logins;
	uint64_t logins_omitted;
	int64_t first_us, last_us;
	bool any_ts;
	struct buf out;			/* the document, written in pieces */
	struct html_section sections[HTML_SECTIONS_MAX];
	size_t n_sections;
	struct buf findings;		/* --check: the "findings" rows */
	uint64_t n_findings, findings_omitted;
};

static uint32_t cmd_index(struct html *h, struct buf_slice name)
{
	size_t n = name.len > HTML_NAME_MAX ? HTML_NAME_MAX : name.len;

	if (name.ptr == NULL)
		return HTML_CMDS_MAX;
	for (size_t i = 0; i < h->n_cmds; i++)
		if (strlen(h->cmds[i].name) == n && memcmp(h->cmds[i].name, name.ptr, n) == 0)
			return (uint32_t)i;
	if (h->n_cmds == HTML_CMDS_MAX)
		return HTML_CMDS_MAX;
	keep(h->cmds[h->n_cmds].name, sizeof h->cmds[0].name, name);
	h->cmds[h->n_cmds].min_ms = -1;
	return (uint32_t)h->n_cmds++;
}

static struct html_session *session_find(struct html *h, uint64_t id)
{
	uint64_t hv;

	if (h->last != NULL && h->last->id == id)
		return h->last;
	hv = hashtab_hash(&h->by_id, &id, sizeof id);
	for (struct hashtab_node *n = hashtab_first(&h->by_id, hv); n != NULL;
	     n = hashtab_next(n, hv)) {
		struct html_session *s = HASHTAB_ENTRY(n, struct html_session, hnode);

		if (s->id == id)
			return h->last = s;
	}
	return NULL;
}

static struct html_session *session_new(struct html *h, const struct event *ev)
{
	struct html_session *s, **grown;
	uint64_t hv;

	if (h->n_sessions == h->cap_sessions) {
		grown = mem_grow_array(h->budget, h->order, &h->cap_sessions, sizeof *grown, 64,
				       HTML_SESSIONS_MAX);
		if (grown == NULL)
			return NULL;
		h->order = grown;
	}
	if (hashtab_reserve(&h->by_id) != 0 && h->by_id.nbuckets == 0)
		return NULL;
	if (mem_charge(h->budget, sizeof *s) != 0)
		return NULL;
	if ((s = calloc(1, sizeof *s)) == NULL) {
		mem_release(h->budget, sizeof *s);
		return NULL;
	}
	s->id = ev->session;
	s->ladders_total = &h->ladders_total;
	snprintf(s->client, sizeof s->client, "%s", ev->client != NULL ? ev->client : "");
	snprintf(s->server, sizeof s->server, "%s", ev->server != NULL ? ev->server : "");
	s->start_us = s->last_us = ev->ts_us;
	s->max_ms = -1;
	buf_init(&s->ladder, HTML_LADDER_BYTES, h->budget);
	buf_init(&s->mailboxes, HTML_MAILBOXES_BYTES, h->budget);
	hv = hashtab_hash(&h->by_id, &s->id, sizeof s->id);
	hashtab_link(&h->by_id, &s->hnode, hv);
	h->order[h->n_sessions++] = s;
	return h->last = s;
}

static void session_free(struct html *h, struct html_session *s)
{
	buf_free(&s->ladder);
	buf_free(&s->mailboxes);
	free(s);
	mem_release(h->budget, sizeof *s);
}

/* ---- the ladder ---- */

/* Whether the ladder takes one more entry; rare ones past the first
 * HTML_LADDER_EVENTS.  Counts what it refuses. */
static bool ladder_room(struct html_session *s, bool rare)
{
	if (*s->ladders_total >= HTML_LADDERS_HARD ||
	    (*s->ladders_total >= HTML_LADDERS_BYTES &&
	     s->n_full + s->n_extra >= HTML_LADDER_LATE)) {
		s->omitted++;
		return false;
	}
	if (s->n_full < HTML_LADDER_EVENTS) {
		s->n_full++;
		return true;
	}
	if (rare && s->n_extra < HTML_LADDER_EXTRA) {
		s->n_extra++;
		return true;
	}
	s->omitted++;
	return false;
}

/* An entry: {"t":us since the session's start,"k":kind ...}, with "f",
 * the capture record of its first byte where known (the pivot to
 * Wireshark).  The entry is written whole or not at all: a partial one is
 * cut off. */
static size_t entry_begin(struct html_session *s, const char *kind, int64_t ts, uint64_t frame,
			  int *rc)
{
	size_t mark = s->ladder.len;

	*rc = putf(&s->ladder, "%s{\"t\":%" PRId64 ",\"k\":\"%s\"", mark != 0 ? "," : "",
		   ts - s->start_us, kind);
	if (*rc == 0 && frame != 0)
		*rc = putf(&s->ladder, ",\"f\":%" PRIu64, frame);
	return mark;
}

static void entry_end(struct html_session *s, size_t mark, int rc)
{
	if (rc == 0 && buf_append(&s->ladder, "}", 1) == 0) {
		*s->ladders_total += s->ladder.len - mark;
		return;
	}
	s->ladder.len = mark;	/* refused by the cap or the budget */
	s->omitted++;
}

static void group_flush(struct html_session *s)
{
	struct html_group *g = &s->grp;
	size_t mark;
	int rc;

	if (!g->open)
		return;
	g->open = false;
	if (!ladder_room(s, false))
		return;
	mark = entry_begin(s, "untagged", g->t0, g->frame, &rc);
	rc = rc || put_str(&s->ladder, "name", cslice(g->name), HTML_TEXT_MAX) ||
	     put_str_opt(&s->ladder, "tag", g->has_tag ? cslice(g->tag) : SLICE_NULL,
			 HTML_TEXT_MAX) ||
	     put_u64_opt(&s->ladder, "n", g->count > 1 ? g->count : 0) ||
	     put_u64_opt(&s->ladder, "lit", g->literal_bytes) ||
	     (g->t1 != g->t0 && putf(&s->ladder, ",\"t1\":%" PRId64, g->t1 - s->start_us));
	entry_end(s, mark, rc);
}

static void on_untagged(struct html_session *s, const struct event *ev)
{
	struct html_group *g = &s->grp;
	struct buf_slice name = ev->u.untagged.name, tag = ev->u.untagged.tag;
	size_t nl = name.len > HTML_NAME_MAX ? HTML_NAME_MAX : name.len;
	size_t tl = tag.len > HTML_TAG_MAX ? HTML_TAG_MAX : tag.len;

	s->untagged++;
	if (g->open && strlen(g->name) == nl && (nl == 0 || memcmp(g->name, name.ptr, nl) == 0) &&
	    g->has_tag == (tag.ptr != NULL) &&
	    (tag.ptr == NULL || (strlen(g->tag) == tl && memcmp(g->tag, tag.ptr, tl) == 0))) {
		g->count++;
		g->literal_bytes += ev->u.untagged.literal_bytes;
		g->t1 = ev->ts_us;
		return;
	}
	group_flush(s);
	*g = (struct html_group){ .open = true, .has_tag = tag.ptr != NULL, .count = 1,
				  .literal_bytes = ev->u.untagged.literal_bytes,
				  .frame = ev->frame, .t0 = ev->ts_us, .t1 = ev->ts_us };
	keep(g->name, sizeof g->name, name);
	keep(g->tag, sizeof g->tag, tag);
}

static void add_mailbox(struct html_session *s, struct buf_slice mb)
{
	size_t mark = s->mailboxes.len;
	uint64_t hv;

	if (mb.ptr == NULL || mb.len == 0 || s->n_mailboxes == HTML_MAILBOXES_MAX)
		return;
	/* a fixed seed: a collision only leaves a name out of the filter list */
	hv = hash_bytes(0x6d61696c626f78ull, mb.ptr, mb.len);
	for (unsigned i = 0; i < s->n_mailboxes; i++)
		if (s->mailbox_hash[i] == hv)
			return;
	if ((mark != 0 && buf_append(&s->mailboxes, ",", 1) != 0) ||
	    buf_append(&s->mailboxes, "\"", 1) != 0 ||
	    html_json_string(&s->mailboxes, mb.ptr, mb.len < HTML_TEXT_MAX ? mb.len : HTML_TEXT_MAX,
			     false) != 0 ||
	    buf_append(&s->mailboxes, "\"", 1) != 0) {
		s->mailboxes.len = mark;
		return;
	}
	s->mailbox_hash[s->n_mailboxes++] = hv;
}

static void on_command(struct html *h, struct html_session *s, const struct event *ev)
{
	size_t mark;
	int rc;

	s->commands++;
	s->cmd_count[cmd_index(h, ev->u.command.name)]++;
	add_mailbox(s, ev->u.command.facts->mailbox);
	if (!ladder_room(s, false))
		return;
	mark = entry_begin(s, "command", ev->ts_us, ev->frame, &rc);
	rc = rc || put_str(&s->ladder, "tag", ev->u.command.tag, HTML_TAG_MAX) ||
	     put_str(&s->ladder, "name", ev->u.command.name, HTML_NAME_MAX) ||
	     put_str_opt(&s->ladder, "args", ev->u.command.args, HTML_TEXT_MAX) ||
	     put_u64_opt(&s->ladder, "lit", ev->u.command.literal_bytes);
	entry_end(s, mark, rc);
}

static void take_latency(struct html *h, struct html_session *s, uint32_t ci,
			 const struct event *ev)
{
	double ms = ev->u.response.latency_ms;
	struct html_cmd *c = &h->cmds[ci];
	size_t slot;

	if (ms < 0)
		return;
	c->timed++;
	c->sum_ms += ms;
	if (c->min_ms < 0 || ms < c->min_ms)
		c->min_ms = ms;
	if (ms > c->max_ms)
		c->max_ms = ms;
	c->hist[lat_bucket(ms)]++;
	if (ms > s->max_ms) {
		s->max_ms = ms;
		s->max_cmd = ci;
		keep(s->max_tag, sizeof s->max_tag, ev->u.response.tag);
	}
	/* a reservoir (algorithm R): every completion equally likely kept;
	 * the generator is fixed so that a run's page is reproducible */
	h->timed++;
	if (h->n_points < HTML_LAT_POINTS) {
		slot = h->n_points++;
	} else {
		h->rng ^= h->rng << 13;
		h->rng ^= h->rng >> 7;
		h->rng ^= h->rng << 17;
		if ((slot = (size_t)(h->rng % h->timed)) >= HTML_LAT_POINTS)
			return;
	}
	h->points[slot] = (struct html_point){ ev->ts_us, (float)ms, ci, s->id };
}

static void on_response(struct html *h, struct html_session *s, const struct event *ev)
{
	enum imap_resp_id id = ev->u.response.id;
	struct buf_slice name = ev->u.response.command;
	uint32_t ci = cmd_index(h, name.ptr != NULL ? name : cslice("(unknown)"));
	size_t mark;
	int rc;

	h->cmds[ci].n++;
	if (id == IMAP_R_OK) {
		s->ok++;
	} else if (id == IMAP_R_NO) {
		s->no++;
		h->cmds[ci].no++;
	} else if (id == IMAP_R_BAD) {
		s->bad++;
		h->cmds[ci].bad++;
	}
	take_latency(h, s, ci, ev);
	if (!ladder_room(s, id == IMAP_R_NO || id == IMAP_R_BAD))
		return;
	mark = entry_begin(s, "response", ev->ts_us, ev->frame, &rc);
	rc = rc || put_str(&s->ladder, "tag", ev->u.response.tag, HTML_TAG_MAX) ||
	     put_str(&s->ladder, "status", ev->u.response.status, HTML_NAME_MAX) ||
	     put_str(&s->ladder, "name", name, HTML_NAME_MAX) ||
	     put_str_opt(&s->ladder, "code", ev->u.response.code, HTML_TEXT_MAX) ||
	     (id != IMAP_R_OK &&
	      put_str_opt(&s->ladder, "text", ev->u.response.text, HTML_TEXT_MAX));
	if (rc == 0 && ev->u.response.latency_ms >= 0)
		rc = putf(&s->ladder, ",\"ms\":%.3f", ev->u.response.latency_ms);
	entry_end(s, mark, rc);
}

static int put_login(struct buf *b, const struct event *ev, bool with_session)
{
	return putf(b, ",\"result\":\"%s\",\"transport\":\"%s\"",
		    event_login_result_name(ev->u.login.result),
		    event_transport_name(ev->u.login.transport)) ||
	       put_str(b, "user", ev->u.login.user, HTML_USER_MAX) ||
	       put_str(b, "mechanism", ev->u.login.mechanism, HTML_NAME_MAX) ||
	       put_str(b, "code", ev->u.login.code, HTML_TEXT_MAX) ||
	       put_str(b, "text", ev->u.login.text, HTML_TEXT_MAX) ||
	       putf(b, ",\"cleartext\":%s,\"after_starttls\":%s,\"inferred\":%s",
		    ev->u.login.cleartext_secret ? "true" : "false",
		    ev->u.login.cleartext_after_starttls ? "true" : "false",
		    ev->u.login.inferred ? "true" : "false") ||
	       (with_session && (putf(b, ",\"session\":%" PRIu64 ",\"ts\":%" PRId64, ev->session,
				      ev->ts_us) ||
				 put_cstr(b, "client", ev->client) ||
				 put_cstr(b, "server", ev->server)));
}

static void on_login(struct html *h, struct html_session *s, const struct event *ev)
{
	size_t mark = h->logins.len;
	int rc;

	if (ev->u.login.result == LOGIN_OK)
		s->logins_ok++;
	else if (ev->u.login.result == LOGIN_FAIL)
		s->logins_failed++;
	if (ev->u.login.user.ptr != NULL && (!s->has_user || ev->u.login.result == LOGIN_OK)) {
		keep(s->user, sizeof s->user, ev->u.login.user);
		s->has_user = true;
	}
	if (h->n_logins < HTML_LOGINS_MAX) {
		rc = put(&h->logins, mark != 0 ? ",{\"k\":\"login\"" : "{\"k\":\"login\"") ||
		     put_login(&h->logins, ev, true) || put(&h->logins, "}");
		if (rc == 0)
			h->n_logins++;
		else
			h->logins.len = mark;
		h->logins_omitted += rc != 0;
	} else {
		h->logins_omitted++;
	}
	if (ladder_room(s, true)) {
		mark = entry_begin(s, "login", ev->ts_us, ev->frame, &rc);
		rc = rc || put_login(&s->ladder, ev, false);
		entry_end(s, mark, rc);
	}
}

/* The rare kinds: each shown past the first HTML_LADDER_EVENTS too. */
static void on_rare(struct html_session *s, const struct event *ev)
{
	size_t mark;
	int rc;

	if (!ladder_room(s, ev->type != EV_CONTINUATION && ev->type != EV_GREETING))
		return;
	mark = entry_begin(s, event_type_name(ev->type), ev->ts_us, ev->frame, &rc);
	switch (ev->type) {
	case EV_GREETING:
		rc = rc || put_str(&s->ladder, "status", ev->u.greeting.status, HTML_NAME_MAX) ||
		     put_str(&s->ladder, "text", ev->u.greeting.text, HTML_TEXT_MAX);
		break;
	case EV_CONTINUATION:
		rc = rc || putf(&s->ladder, ",\"dir\":\"%s\",\"kind\":\"%s\"",
				event_dir_name(ev->u.continuation.dir),
				event_cont_kind_name(ev->u.continuation.kind));
		break;
	case EV_TLS:
		rc = rc || put_cstr(&s->ladder, "phase", ev->u.tls.phase) ||
		     put_cstr(&s->ladder, "version", ev->u.tls.version) ||
		     put_cstr(&s->ladder, "cipher", ev->u.tls.cipher) ||
		     put_str(&s->ladder, "sni", ev->u.tls.sni, HTML_TEXT_MAX) ||
		     putf(&s->ladder, ",\"decrypted\":%s", ev->u.tls.decrypted ? "true" : "false") ||
		     put_cstr(&s->ladder, "reason", ev->u.tls.reason);
		break;
	case EV_COMPRESS:
		rc = rc || put_cstr(&s->ladder, "algorithm", ev->u.compress.algorithm) ||
		     putf(&s->ladder, ",\"decoded\":%s", ev->u.compress.decoded ? "true" : "false");
		break;
	case EV_GAP:
		rc = rc || putf(&s->ladder, ",\"dir\":\"%s\",\"bytes\":%" PRIu64,
				event_dir_name(ev->u.gap.dir), ev->u.gap.bytes);
		break;
	case EV_NOTICE:
		rc = rc || put_cstr(&s->ladder, "kind", notice_kind_name(ev->u.notice.kind)) ||
		     put(&s->ladder, ",\"text\":\"") != 0 ||
		     html_json_string(&s->ladder, (const uint8_t *)ev->u.notice.text,
				      strlen(ev->u.notice.text), true) != 0 ||
		     buf_append(&s->ladder, "\"", 1) != 0;
		break;
	default:
		break;
	}
	entry_end(s, mark, rc);
}

static void on_tls(struct html_session *s, const struct event *ev)
{
	s->tls_seen = true;
	s->tls_decrypted = ev->u.tls.decrypted;
	snprintf(s->tls_version, sizeof s->tls_version, "%s",
		 ev->u.tls.version != NULL ? ev->u.tls.version : "");
	snprintf(s->tls_reason, sizeof s->tls_reason, "%s",
		 ev->u.tls.reason != NULL ? ev->u.tls.reason : "");
	on_rare(s, ev);
}

static void on_end(struct html_session *s, const struct event *ev)
{
	const struct session_summary *sm = ev->u.end.summary;

	s->end_reason = event_end_reason_name(ev->u.end.reason);
	s->undecrypted = ev->u.end.undecrypted[0] || ev->u.end.undecrypted[1];
	if (sm == NULL)
		return;
	s->bytes[0] = sm->bytes_c2s;
	s->bytes[1] = sm->bytes_s2c;
	s->wire_bytes[0] = sm->wire_bytes_c2s;
	s->wire_bytes[1] = sm->wire_bytes_s2c;
	s->capped = sm->capped;
	s->gap_bytes = sm->gap_bytes;
}

static void html_session_event(struct html *h, struct html_session *s, const struct event *ev)
{
	if (ev->type != EV_UNTAGGED)
		group_flush(s);
	switch (ev->type) {
	case EV_SESSION_START:
		s->mid_stream = ev->u.start.mid_stream;
		s->implicit_tls = ev->u.start.implicit_tls;
		break;
	case EV_COMMAND:
		on_command(h, s, ev);
		break;
	case EV_UNTAGGED:
		on_untagged(s, ev);
		break;
	case EV_RESPONSE:
		on_response(h, s, ev);
		break;
	case EV_LOGIN:
		on_login(h, s, ev);
		break;
	case EV_TLS:
		on_tls(s, ev);
		break;
	case EV_GAP:
		s->gaps++;
		on_rare(s, ev);
		break;
	case EV_NOTICE:
		s->notices++;
		on_rare(s, ev);
		break;
	case EV_SESSION_END:
		on_end(s, ev);
		break;
	default:
		on_rare(s, ev);
		break;
	}
}

/* A finding as a row of "findings"; the checker's strings are its
 * catalogue's, the line is the wire's (or a notice's, made). */
static void on_finding(struct html *h, const struct event *ev)
{
	struct buf *b = &h->findings;
	struct buf_slice line = ev->u.finding.line;
	size_t mark = b->len;
	int rc;

	if (h->n_findings >= HTML_FINDINGS_MAX) {
		h->findings_omitted++;
		return;
	}
	rc = putf(b, "%s{\"ts\":%" PRId64 ",\"session\":%" PRIu64 ",\"frame\":%" PRIu64,
		  mark != 0 ? "," : "", ev->ts_us, ev->session, ev->frame) ||
	     put_cstr(b, "rule", ev->u.finding.rule) ||
	     put_cstr(b, "severity", ev->u.finding.severity) ||
	     put_cstr(b, "side", ev->u.finding.side) || put_cstr(b, "rfc", ev->u.finding.rfc) ||
	     put_cstr(b, "explanation", ev->u.finding.explanation);
	if (rc == 0 && (line.ptr == NULL || !ev->u.finding.line_made))
		rc = put_str(b, "line", line, HTML_FINDING_LINE);
	else if (rc == 0)
		/* made text is cut nowhere: an escape must stay whole */
		rc = put(b, ",\"line\":\"") || html_json_string(b, line.ptr, line.len, true) ||
		     put(b, "\"");
	if (rc == 0 && put(b, "}") == 0) {
		h->n_findings++;
		return;
	}
	b->len = mark;
	h->findings_omitted++;
}

static int put_findings(void *ctx, struct buf *b)
{
	struct html *h = ctx;

	return putf(b, "{\"limit\":%d,\"omitted\":%" PRIu64 ",\"rows\":[", HTML_FINDINGS_MAX,
		    h->findings_omitted) ||
	       (h->findings.len != 0 && buf_append(b, h->findings.data, h->findings.len) != 0) ||
	       put(b, "]}");
}

static void html_event(void *ctx, const struct event *ev)
{
	struct html *h = ctx;
	struct html_session *s;

	if (ev->type == EV_FINDING) {
		on_finding(h, ev);
		return;
	}
	s = session_find(h, ev->session);

	if (!h->any_ts || ev->ts_us < h->first_us)
		h->first_us = ev->ts_us;
	if (!h->any_ts || ev->ts_us > h->last_us)
		h->last_us = ev->ts_us;
	h->any_ts = true;
	if (s == NULL && (s = session_new(h, ev)) == NULL) {
		h->sessions_untracked += ev->type == EV_SESSION_START;
		return;
	}
	if (ev->ts_us > s->last_us)
		s->last_us = ev->ts_us;
	s->transport = ev->facts->transport;
	s->compressed = ev->facts->compressed;
	if (ev->type == EV_COMPRESS)
		s->compress_decoded = ev->u.compress.decoded;
	if ((ev->changed & FACT_USER) && ev->facts->user.ptr != NULL) {
		keep(s->user, sizeof s->user, ev->facts->user);
		s->has_user = true;
	}
	if ((ev->changed & FACT_MAILBOX) && ev->facts->mailbox.ptr != NULL)
		add_mailbox(s, ev->facts->mailbox);
	html_session_event(h, s, ev);
}

/* ---- the document ---- */

/* A session's outcome, the timeline's colour: the worst thing seen. */
static const char *session_outcome(const struct html_session *s)
{
	if (s->logins_failed != 0 && s->logins_ok == 0)
		return "login_failed";
	if (s->gaps != 0 || s->capped != 0)
		return "damaged";
	if (s->undecrypted || (s->tls_seen && !s->tls_decrypted))
		return "encrypted";
	if (s->no != 0 || s->bad != 0)
		return "errors";
	if (s->logins_ok != 0 || s->has_user)
		return "ok";
	return "no_login";
}

/* Flush the document buffer to the file once it holds a good piece. */
static int doc_flush(struct html *h, bool all)
{
	if (h->out.len == 0 || (!all && h->out.len < 64 * 1024))
		return 0;
	if (fwrite(h->out.data, 1, h->out.len, h->fp) != h->out.len)
		return -1;
	h->out.len = 0;
	return 0;
}

static int put_session_counts(struct buf *b, const struct html *h, const struct html_session *s)
{
	bool first = true;

	if (put(b, ",\"cmds\":{") != 0)
		return -1;
	for (size_t i = 0; i <= HTML_CMDS_MAX; i++) {
		if (s->cmd_count[i] == 0)
			continue;
		if ((!first && put(b, ",") != 0) || put(b, "\"") != 0 ||
		    html_json_string(b, (const uint8_t *)(i < h->n_cmds ? h->cmds[i].name : "(other)"),
				     strlen(i < h->n_cmds ? h->cmds[i].name : "(other)"), false) != 0 ||
		    putf(b, "\":%" PRIu32, s->cmd_count[i]) != 0)
			return -1;
		first = false;
	}
	return put(b, "}");
}

static int put_session(struct html *h, const struct html_session *s)
{
	struct buf *b = &h->out;

	return putf(b, "{\"id\":%" PRIu64 ",\"start\":%" PRId64 ",\"end\":%" PRId64, s->id,
		    s->start_us, s->last_us) ||
	       put_cstr(b, "client", s->client) || put_cstr(b, "server", s->server) ||
	       put_str(b, "user", s->has_user ? cslice(s->user) : SLICE_NULL, HTML_USER_MAX) ||
	       putf(b, ",\"outcome\":\"%s\",\"transport\":\"%s\",\"compressed\":%s",
		    session_outcome(s), event_transport_name(s->transport),
		    s->compressed ? "true" : "false") ||
	       put_cstr(b, "end_reason", s->end_reason != NULL ? s->end_reason : "open") ||
	       putf(b, ",\"mid_stream\":%s,\"tls\":%s", s->mid_stream ? "true" : "false",
		    s->tls_seen ? "{" : "null") ||
	       (s->tls_seen && (putf(b, "\"decrypted\":%s", s->tls_decrypted ? "true" : "false") ||
				put_cstr(b, "version", s->tls_version[0] ? s->tls_version : NULL) ||
				put_cstr(b, "reason", s->tls_reason[0] ? s->tls_reason : NULL) ||
				put(b, "}"))) ||
	       putf(b, ",\"logins_ok\":%u,\"logins_failed\":%u,\"commands\":%" PRIu64
		    ",\"ok\":%" PRIu64 ",\"no\":%" PRIu64 ",\"bad\":%" PRIu64
		    ",\"untagged\":%" PRIu64, s->logins_ok, s->logins_failed, s->commands, s->ok,
		    s->no, s->bad, s->untagged) ||
	       putf(b, ",\"gaps\":%" PRIu64 ",\"gap_bytes\":%" PRIu64 ",\"notices\":%" PRIu64
		    ",\"capped\":%" PRIu64, s->gaps, s->gap_bytes, s->notices, s->capped) ||
	       putf(b, ",\"bytes_c2s\":%" PRIu64 ",\"bytes_s2c\":%" PRIu64
		    ",\"wire_bytes_c2s\":%" PRIu64 ",\"wire_bytes_s2c\":%" PRIu64, s->bytes[0],
		    s->bytes[1], s->wire_bytes[0], s->wire_bytes[1]) ||
	       (s->max_ms >= 0
		? putf(b, ",\"max_ms\":%.3f", s->max_ms) ||
		  put_cstr(b, "max_cmd", s->max_cmd < h->n_cmds ? h->cmds[s->max_cmd].name
								  : "(other)") ||
		  put_cstr(b, "max_tag", s->max_tag)
		: put(b, ",\"max_ms\":null")) ||
	       put_session_counts(b, h, s) ||
	       put(b, ",\"mailboxes\":[") ||
	       buf_append(b, s->mailboxes.data, s->mailboxes.len) ||
	       putf(b, "],\"omitted\":%" PRIu64 ",\"ladder\":[", s->omitted) ||
	       buf_append(b, s->ladder.data, s->ladder.len) ||
	       put(b, "]}");
}

static int put_commands(struct html *h)
{
	struct buf *b = &h->out;

	if (put(b, "],\"commands\":[") != 0)
		return -1;
	for (size_t i = 0; i <= HTML_CMDS_MAX; i++) {
		const struct html_cmd *c = &h->cmds[i];

		if (i >= h->n_cmds && i != HTML_CMDS_MAX)
			continue;
		if (c->n == 0)
			continue;
		if (putf(b, "%s{\"name\":", b->data[b->len - 1] == '[' ? "" : ",") != 0 ||
		    put(b, "\"") != 0 ||
		    html_json_string(b, (const uint8_t *)(i < HTML_CMDS_MAX ? c->name : "(other)"),
				     strlen(i < HTML_CMDS_MAX ? c->name : "(other)"), false) != 0 ||
		    putf(b, "\",\"n\":%" PRIu64 ",\"no\":%" PRIu64 ",\"bad\":%" PRIu64
			 ",\"timed\":%" PRIu64, c->n, c->no, c->bad, c->timed) != 0 ||
		    putf(b, ",\"sum_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f,\"hist\":[", c->sum_ms,
			 c->timed ? c->min_ms : 0.0, c->max_ms) != 0)
			return -1;
		for (size_t k = 0; k < HTML_LAT_BUCKETS; k++)
			if (putf(b, "%s%" PRIu32, k ? "," : "", c->hist[k]) != 0)
				return -1;
		if (put(b, "]}") != 0)
			return -1;
	}
	return 0;
}

static int put_points(struct html *h)
{
	struct buf *b = &h->out;

	if (put(b, "],\"latency\":[") != 0)
		return -1;
	for (size_t i = 0; i < h->n_points; i++) {
		const struct html_point *p = &h->points[i];

		if (putf(b, "%s[%" PRId64 ",%.3f,%" PRIu64 ",%" PRIu32 "]", i ? "," : "", p->ts_us,
			 (double)p->ms, p->session, p->cmd < h->n_cmds ? p->cmd : HTML_CMDS_MAX) != 0 ||
		    doc_flush(h, false) != 0)
			return -1;
	}
	return 0;
}

static int put_head(struct html *h)
{
	struct buf *b = &h->out;

	return put(b, "{\"v\":1,\"generator\":\"imapscope\"") ||
	       putf(b, ",\"capture\":{\"first\":%" PRId64 ",\"last\":%" PRId64 "}",
		    h->any_ts ? h->first_us : 0, h->any_ts ? h->last_us : 0) ||
	       putf(b, ",\"limits\":{\"sessions\":%d,\"ladder_events\":%d,\"ladder_extra\":%d,"
		    "\"ladder_bytes\":%d,\"ladders_bytes\":%d,\"ladder_late\":%d,"
		    "\"ladders_hard\":%d,\"text\":%d,\"commands\":%d,\"latency_points\":%d,"
		    "\"logins\":%d,\"lat_min_us\":%g,\"lat_buckets\":%d}",
		    HTML_SESSIONS_MAX, HTML_LADDER_EVENTS, HTML_LADDER_EXTRA, HTML_LADDER_BYTES,
		    HTML_LADDERS_BYTES, HTML_LADDER_LATE, HTML_LADDERS_HARD, HTML_TEXT_MAX,
		    HTML_CMDS_MAX, HTML_LAT_POINTS, HTML_LOGINS_MAX,
		    HTML_LAT_MIN_US, HTML_LAT_BUCKETS) ||
	       putf(b, ",\"sessions_untracked\":%" PRIu64 ",\"completions_timed\":%" PRIu64
		    ",\"logins_omitted\":%" PRIu64, h->sessions_untracked, h->timed,
		    h->logins_omitted) ||
	       put(b, ",\"sessions\":[");
}

static bool section_named(const struct html *h, const char *name)
{
	for (size_t i = 0; i < h->n_sections; i++)
		if (strcmp(h->sections[i].name, name) == 0)
			return true;
	return false;
}

/* "sections": each added one's value (null if it could not be made), and
 * null for the known ones not added, so readers find every key. */
static int put_sections(struct html *h)
{
	static const char *const known[] = { "activity", "findings" };
	struct buf val;
	const char *sep = "";
	int rc = put(&h->out, ",\"sections\":{");

	for (size_t i = 0; rc == 0 && i < sizeof known / sizeof known[0]; i++) {
		if (section_named(h, known[i]))
			continue;
		rc = putf(&h->out, "%s\"%s\":null", sep, known[i]);
		sep = ",";
	}
	for (size_t i = 0; rc == 0 && i < h->n_sections; i++) {
		const struct html_section *sec = &h->sections[i];

		buf_init(&val, HTML_SECTION_BYTES, h->budget);
		rc = putf(&h->out, "%s\"%s\":", sep, sec->name) || doc_flush(h, true);
		sep = ",";
		if (rc == 0 && sec->write(sec->ctx, &val) == 0 && val.len != 0)
			rc = fwrite(val.data, 1, val.len, h->fp) != val.len ? -1 : 0;
		else if (rc == 0)
			rc = put(&h->out, "null");
		buf_free(&val);
	}
	return rc || put(&h->out, "}");
}

static int html_write(struct html *h)
{
	if (fputs(html_template_head, h->fp) == EOF || put_head(h) != 0)
		return -1;
	for (size_t i = 0; i < h->n_sessions; i++) {
		group_flush(h->order[i]);
		if ((i != 0 && put(&h->out, ",") != 0) || put_session(h, h->order[i]) != 0 ||
		    doc_flush(h, false) != 0)
			return -1;
	}
	if (put_commands(h) != 0 || put_points(h) != 0 || put(&h->out, "],\"logins\":[") != 0 ||
	    doc_flush(h, true) != 0 ||
	    (h->logins.len != 0 &&
	     fwrite(h->logins.data, 1, h->logins.len, h->fp) != h->logins.len) ||
	    put(&h->out, "]") != 0 || put_sections(h) != 0 || put(&h->out, "}") != 0 ||
	    doc_flush(h, true) != 0 || fputs(html_template_tail, h->fp) == EOF)
		return -1;
	return 0;
}

/* ---- the output ---- */

static int html_finish(void *ctx)
{
	struct html *h = ctx;
	int rc = html_write(h);

	if (rc != 0 && h->out.len == 0 && !ferror(h->fp))
		errno = ENOMEM;
	if (fclose(h->fp) != 0)
		rc = -1;
	h->fp = NULL;
	return rc;
}

static void html_free_session(struct hashtab_node *n, void *ctx)
{
	session_free(ctx, HASHTAB_ENTRY(n, struct html_session, hnode));
}

static void html_free(void *ctx)
{
	struct html *h = ctx;

	if (h->fp != NULL)
		fclose(h->fp);
	hashtab_drain(&h->by_id, html_free_session, h);
	hashtab_free(&h->by_id);
	if (h->order != NULL)
		mem_release(h->budget, h->cap_sessions * sizeof *h->order);
	free(h->order);
	buf_free(&h->logins);
	buf_free(&h->findings);
	buf_free(&h->out);
	mem_release(h->budget, sizeof *h);
	free(h);
}

static const struct output_ops html_ops = {
	.event = html_event,
	.finish = html_finish,
	.free = html_free,
};

int output_html_add_section(const struct output *out, const struct html_section *sec)
{
	struct html *h = out->ctx;

	if (out->ops != &html_ops || h->n_sections == HTML_SECTIONS_MAX || sec->name == NULL ||
	    sec->name[0] == '\0' || strspn(sec->name, "abcdefghijklmnopqrstuvwxyz_") !=
	    strlen(sec->name) || section_named(h, sec->name))
		return -1;
	h->sections[h->n_sections++] = *sec;
	return 0;
}

int output_html_new(struct output *out_r, FILE *fp, const struct html_opts *o)
{
	struct html *h;

	if (mem_charge(o->budget, sizeof *h) != 0) {
		fclose(fp);
		return -1;
	}
	if ((h = calloc(1, sizeof *h)) == NULL) {
		mem_release(o->budget, sizeof *h);
		fclose(fp);
		return -1;
	}
	h->fp = fp;
	h->budget = o->budget;
	h->rng = 0x9e3779b97f4a7c15ull;
	h->cmds[HTML_CMDS_MAX].min_ms = -1;
	hashtab_init(&h->by_id, o->budget, 0, HTML_SESSIONS_BUCKETS, HTML_SESSIONS_MAX);
	buf_init(&h->logins, HTML_LOGINS_BYTES, o->budget);
	/* the document goes out in pieces of about 64 KB; one session's
	 * object is at most its ladder plus a few KB */
	buf_init(&h->out, 2 * HTML_LADDER_BYTES + 256 * 1024, o->budget);
	buf_init(&h->findings, HTML_FINDINGS_BYTES, o->budget);
	*out_r = (struct output){ &html_ops, h };
	if (o->findings)
		h->sections[h->n_sections++] = (struct html_section){ "findings", put_findings, h };
	return 0;
}
