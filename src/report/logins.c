/* --logins: a table for people, or the login events as JSON Lines, with
 * the audit flags of logins.h.
 *
 * Layout: failure history per client address and per user (a capped hash
 * table of timestamp rings); what the audit keeps of the session facts;
 * the flags; the writers; the output. */
#include "report/logins.h"

#include <stdlib.h>
#include <string.h>

#include "report/logins_rollup.h"
#include "report/output_json.h"	/* the JSON event writer */
#include "report/output_text.h"	/* wire text, display columns */
#include "report/render.h"
#include "util/escape.h"
#include "util/hashtab.h"
#include "util/list.h"

/* Initial bucket count of a failure table. */
#define LOGINS_BUCKETS0 64

/* ---- failure history: the last fail_threshold failure times per key ---- */

struct logins_key {
	struct hashtab_node hnode;
	struct list_node age;		/* in the table's by_age */
	int64_t *ring;			/* fail_threshold slots */
	unsigned head, count;		/* next slot to write; slots in use */
	int64_t newest;
	size_t charged;			/* to the table's budget: key and ring */
	size_t len;
	uint8_t key[];
};

/* Keys come from the wire: the table's seeded hash keeps a crafted set
 * of them from sharing one chain.  Its budget is charged for the keys too. */
struct logins_table {
	struct hashtab tab;
	uint64_t untracked;		/* keys refused at LOGINS_TRACK_MAX or
					   by the budget */
	/* Keys by their newest failure, oldest first: expiry takes from
	 * the old end, so its cost is one step per key dropped. */
	struct list_head by_age;
};

static void logins_table_init(struct logins_table *t, struct mem_budget *budget)
{
	hashtab_init(&t->tab, budget, 0, LOGINS_BUCKETS0, LOGINS_TRACK_MAX);
}

static bool logins_bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static struct logins_key *logins_table_find(const struct logins_table *t, struct buf_slice key,
					    uint64_t h)
{
	struct hashtab_node *n;

	for (n = hashtab_first(&t->tab, h); n != NULL; n = hashtab_next(n, h)) {
		struct logins_key *k = HASHTAB_ENTRY(n, struct logins_key, hnode);

		if (logins_bytes_eq(k->key, k->len, key.ptr, key.len))
			return k;
	}
	return NULL;
}

static void logins_key_free(struct mem_budget *budget, struct logins_key *k)
{
	mem_release(budget, k->charged);
	free(k->ring);
	free(k);
}

/* Drop keys whose newest failure left the window: they can flag nothing
 * more.  Capture time runs forward, so they are at the old end; where it
 * ran backwards (an older second file) a key stays until those before it
 * go, which only keeps history longer. */
static void logins_table_expire(struct logins_table *t, int64_t now, int64_t window)
{
	struct logins_key *k;

	while (!list_empty(&t->by_age)) {
		k = LIST_ENTRY(list_first(&t->by_age), struct logins_key, age);
		if (now - k->newest <= window)
			break;
		hashtab_unlink(&t->tab, &k->hnode);
		list_unlink(&t->by_age, &k->age);
		logins_key_free(t->tab.budget, k);
	}
}

/* The history of key, made if new; NULL when untracked. */
static struct logins_key *logins_table_get(struct logins_table *t, struct buf_slice key,
					   unsigned slots, int64_t now, int64_t window)
{
	struct logins_key *k;
	size_t sz, charged;
	uint64_t h = hashtab_hash(&t->tab, key.ptr, key.len);

	k = logins_table_find(t, key, h);
	if (k != NULL)
		return k;
	if (t->tab.count >= LOGINS_TRACK_MAX)
		logins_table_expire(t, now, window);
	/* slots <= LOGINS_FAIL_THRESHOLD_MAX: the ring's size cannot wrap. */
	if (t->tab.count >= LOGINS_TRACK_MAX || !size_add(sizeof *k, key.len, &sz) ||
	    !size_add(sz, (size_t)slots * sizeof *k->ring, &charged) ||
	    hashtab_reserve(&t->tab) != 0 || mem_charge(t->tab.budget, charged) != 0) {
		t->untracked++;
		return NULL;
	}
	if ((k = calloc(1, sz)) == NULL ||
	    (k->ring = calloc(slots, sizeof *k->ring)) == NULL) {
		free(k);
		mem_release(t->tab.budget, charged);
		t->untracked++;
		return NULL;
	}
	k->charged = charged;
	k->len = key.len;
	if (key.len > 0)
		memcpy(k->key, key.ptr, key.len);
	hashtab_link(&t->tab, &k->hnode, h);
	list_push_back(&t->by_age, &k->age);
	return k;
}

static void logins_key_drop(struct hashtab_node *n, void *budget)
{
	logins_key_free(budget, HASHTAB_ENTRY(n, struct logins_key, hnode));
}

static void logins_table_free(struct logins_table *t)
{
	struct mem_budget *budget = t->tab.budget;

	hashtab_drain(&t->tab, logins_key_drop, budget);
	hashtab_free(&t->tab);
	memset(t, 0, sizeof *t);
}

/* Record a failure (if failed) and say whether the key has at least
 * `slots` failures within the window ending now: the ring holds the last
 * `slots` failures, so that is "ring full and its oldest is in the window". */
static bool logins_key_check(struct logins_table *t, struct logins_key *k, unsigned slots,
			     bool failed, int64_t now, int64_t window)
{
	if (failed) {
		k->ring[k->head] = now;
		k->head = (k->head + 1) % slots;
		if (k->count < slots)
			k->count++;
		if (now > k->newest || k->count == 1)
			k->newest = now;
		list_move_back(&t->by_age, &k->age);
	}
	/* When full, head is also the oldest slot. */
	return k->count == slots && now - k->ring[k->head] <= window;
}

/* ---- per session: what the audit remembers of the session's facts ----
 *
 * The facts say what is in force now; the audit needs two things from
 * before: whether STARTTLS was ever offered (the capabilities in force are
 * void once a login succeeds, and a cleartext login is judged after it),
 * and whether the capabilities in force when the latest LOGIN or
 * AUTHENTICATE was sent had LOGINDISABLED (its answer may change them
 * before the login event comes). */

struct logins_session {
	uint64_t id;
	bool starttls_advertised;	/* sticky for the session */
	bool login_disabled;		/* the latest login command was LOGIN, sent
					   under LOGINDISABLED */
};

struct logins {
	struct output_sink sink;
	struct output_time clock;
	bool json;
	bool header_done;
	uint64_t rows;
	struct mem_budget *budget;	/* live and its sessions; may be NULL */
	unsigned fail_threshold;
	int64_t window_us;
	struct logins_table by_client, by_user;
	struct logins_rollup rollup_user, rollup_client;
	bool color;
	unsigned flags_used;		/* LOGINS_F_* shown in the table */
	bool day_shown;
	int64_t day;			/* of the last date line, days since 1970 */
	/* Sessions with state, sorted by id (ids only grow: appends). */
	struct logins_session **live;
	size_t n_live, cap_live;
};

struct logins_flags {
	bool brute_client, brute_user, cleartext_starttls, logindisabled;
	bool after_starttls;	/* the session's own finding (the event says it) */
};

static size_t logins_live_index(const struct logins *lg, uint64_t id, bool *found_r)
{
	size_t lo = 0, hi = lg->n_live;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (lg->live[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found_r = lo < lg->n_live && lg->live[lo]->id == id;
	return lo;
}

static struct logins_session *logins_session_find(const struct logins *lg, uint64_t id)
{
	bool found;
	size_t at = logins_live_index(lg, id, &found);

	return found ? lg->live[at] : NULL;
}

/* The session's state, made if new; NULL when out of memory (the session
 * then simply gets no policy flags). */
static struct logins_session *logins_session_get(struct logins *lg, uint64_t id)
{
	bool found;
	size_t at = logins_live_index(lg, id, &found);
	struct logins_session *ls;

	if (found)
		return lg->live[at];
	if (lg->n_live == lg->cap_live) {
		size_t ncap = lg->cap_live == 0 ? 16 : lg->cap_live * 2;
		struct logins_session **nv;

		if (mem_charge(lg->budget, (ncap - lg->cap_live) * sizeof *nv) != 0)
			return NULL;
		nv = realloc(lg->live, ncap * sizeof *nv);
		if (nv == NULL) {
			mem_release(lg->budget, (ncap - lg->cap_live) * sizeof *nv);
			return NULL;
		}
		lg->live = nv;
		lg->cap_live = ncap;
	}
	if (mem_charge(lg->budget, sizeof *ls) != 0)
		return NULL;
	if ((ls = calloc(1, sizeof *ls)) == NULL) {
		mem_release(lg->budget, sizeof *ls);
		return NULL;
	}
	ls->id = id;
	memmove(&lg->live[at + 1], &lg->live[at], (lg->n_live - at) * sizeof *lg->live);
	lg->live[at] = ls;
	lg->n_live++;
	return ls;
}

static void logins_session_end(struct logins *lg, uint64_t id)
{
	bool found;
	size_t at = logins_live_index(lg, id, &found);

	if (!found)
		return;
	mem_release(lg->budget, sizeof *lg->live[at]);
	free(lg->live[at]);
	memmove(&lg->live[at], &lg->live[at + 1], (lg->n_live - at - 1) * sizeof *lg->live);
	lg->n_live--;
}

/* Any capability list the session took in (greeting, CAPABILITY, a
 * response code) that offered STARTTLS.  Only events that changed the
 * list are looked at: most server lines do not. */
static void logins_caps(struct logins *lg, const struct event *ev)
{
	struct logins_session *ls;

	if ((ev->changed & FACT_CAPS) && capset_has(&ev->facts->caps, IMAP_CAP_STARTTLS) &&
	    (ls = logins_session_get(lg, ev->session)) != NULL)
		ls->starttls_advertised = true;
}

/* LOGINDISABLED forbids LOGIN, not AUTHENTICATE, and the login event
 * names only the mechanism: remember which of the two came last, and the
 * capabilities in force when it was sent (the facts of its own event). */
static void logins_command(struct logins *lg, const struct event *ev)
{
	enum imap_cmd_id id = ev->u.command.facts->id;
	struct logins_session *ls;
	bool disabled;

	if (id != IMAP_CMD_LOGIN && id != IMAP_CMD_AUTHENTICATE)
		return;
	disabled = id == IMAP_CMD_LOGIN &&
		   capset_has(&ev->facts->caps, IMAP_CAP_LOGINDISABLED);
	ls = disabled ? logins_session_get(lg, ev->session) : logins_session_find(lg, ev->session);
	if (ls != NULL)
		ls->login_disabled = disabled;
}

/* The address of "ip:port" or "[v6]:port" without the port. */
static struct buf_slice logins_host(const char *addr)
{
	size_t n = addr != NULL ? strlen(addr) : 0;

	while (n > 0 && addr[n - 1] != ':')
		n--;
	if (n == 0)
		return (struct buf_slice){ (const uint8_t *)(addr != NULL ? addr : ""),
					   addr != NULL ? strlen(addr) : 0 };
	return (struct buf_slice){ (const uint8_t *)addr, n - 1 };
}

static bool logins_brute(struct logins *lg, struct logins_table *t, struct buf_slice key,
			 const struct event *ev)
{
	bool failed = ev->u.login.result == LOGIN_FAIL;
	struct logins_key *k;

	/* A success or unknown only reads the history: no entry needed. */
	if (failed)
		k = logins_table_get(t, key, lg->fail_threshold, ev->ts_us, lg->window_us);
	else
		k = logins_table_find(t, key, hashtab_hash(&t->tab, key.ptr, key.len));
	return k != NULL && logins_key_check(t, k, lg->fail_threshold, failed, ev->ts_us,
					     lg->window_us);
}

static struct logins_flags logins_flags_of(struct logins *lg, const struct event *ev)
{
	struct logins_flags f = { false, false, false, false, false };
	const struct logins_session *ls = logins_session_find(lg, ev->session);

	f.after_starttls = ev->u.login.cleartext_after_starttls;

	f.brute_client = logins_brute(lg, &lg->by_client, logins_host(ev->client), ev);
	if (ev->u.login.user.ptr != NULL)
		f.brute_user = logins_brute(lg, &lg->by_user, ev->u.login.user, ev);
	if (ls != NULL) {
		f.cleartext_starttls = ev->u.login.cleartext_secret && ls->starttls_advertised;
		f.logindisabled = ls->login_disabled && !ev->u.login.inferred;
	}
	return f;
}

/* Events other than logins only feed the per-session state. */
static void logins_observe(struct logins *lg, const struct event *ev)
{
	switch (ev->type) {
	case EV_GREETING:
	case EV_UNTAGGED:
	case EV_RESPONSE:
		logins_caps(lg, ev);
		break;
	case EV_COMMAND:
		logins_command(lg, ev);
		break;
	case EV_SESSION_END:
		logins_session_end(lg, ev->session);
		break;
	default:
		break;
	}
}

/* ---- the text table ---- */

#define LOGINS_ELLIPSIS "\xe2\x80\xa6"	/* "…": one column */
#define LOGINS_RED   "\x1b[1;31m"	/* FAIL */
#define LOGINS_AMBER "\x1b[33m"		/* flags */
#define LOGINS_RESET "\x1b[0m"

/* The flags in a fixed order: their JSON names and their letters. */
enum {
	LOGINS_F_BRUTE = 1u << 0,
	LOGINS_F_CLEAR = 1u << 1,	/* text only: the secret crossed in clear */
	LOGINS_F_STARTTLS = 1u << 2,
	LOGINS_F_DISABLED = 1u << 3,
	LOGINS_F_AFTER = 1u << 4,
};
static const struct {
	unsigned bit;
	char letter;
	const char *name;	/* JSON; NULL: not a JSON flag */
	const char *legend;
} logins_flag_defs[] = {
	{ LOGINS_F_BRUTE, 'B', "brute_force", "brute force" },
	{ LOGINS_F_CLEAR, 'C', NULL, "secret sent in cleartext" },
	{ LOGINS_F_STARTTLS, 'S', "cleartext_despite_starttls", "cleartext despite STARTTLS offered" },
	{ LOGINS_F_DISABLED, 'D', "login_despite_logindisabled", "LOGIN despite LOGINDISABLED" },
	{ LOGINS_F_AFTER, 'A', "cleartext_after_starttls", "cleartext after STARTTLS" },
};
#define LOGINS_N_FLAGS (sizeof logins_flag_defs / sizeof logins_flag_defs[0])

static unsigned logins_flag_bits(const struct logins_flags *f, bool cleartext)
{
	return ((f->brute_client || f->brute_user) ? LOGINS_F_BRUTE : 0) |
	       (cleartext ? LOGINS_F_CLEAR : 0) |
	       (f->cleartext_starttls ? LOGINS_F_STARTTLS : 0) |
	       (f->logindisabled ? LOGINS_F_DISABLED : 0) |
	       (f->after_starttls ? LOGINS_F_AFTER : 0);
}

/* The cell that began at start, fitted to width display columns: cut
 * with "…" when longer, then padded, then the one space between cells.
 * Colour codes take no columns. */
static int logins_fit(struct buf *b, size_t start, size_t width)
{
	static const char spaces[] = "                                ";
	size_t cols = output_text_columns(b->data + start, b->len - start), k;
	int rc = 0;

	if (cols > width) {
		k = output_text_fit(b->data + start, b->len - start, width - 1, &cols);
		b->len = start + k;
		rc |= LIT(b, LOGINS_ELLIPSIS);
		cols++;
	}
	for (k = width - cols + 1; k > 0 && rc == 0;) {
		size_t n = k < sizeof spaces - 1 ? k : sizeof spaces - 1;

		rc |= output_put(b, spaces, n);
		k -= n;
	}
	return rc;
}

static int logins_cell(struct buf *b, const char *s, size_t width)
{
	size_t start = b->len;

	return output_put(b, s, strlen(s)) | logins_fit(b, start, width);
}

static int logins_header(struct buf *b)
{
	return logins_cell(b, "TIME", LOGINS_W_TIME) |
	       logins_cell(b, "SESS", LOGINS_W_SESSION) |
	       logins_cell(b, "CLIENT", LOGINS_W_ADDR) | logins_cell(b, "SERVER", LOGINS_W_ADDR) |
	       logins_cell(b, "USER", LOGINS_W_USER) | logins_cell(b, "MECH", LOGINS_W_MECH) |
	       logins_cell(b, "RESULT", LOGINS_W_RESULT) |
	       logins_cell(b, "TRANSPORT", LOGINS_W_TRANSPORT) |
	       logins_cell(b, "FLAGS", LOGINS_W_FLAGS) | LIT(b, "RESPONSE\n");
}

/* "2026-11-21 10:00:00" (width LOGINS_W_DATETIME) or, time_only,
 * "10:00:00": the RFC 3339 form to the second, made easier to read (JSON
 * has the microseconds). */
static int logins_time_str(struct output_time *clock, struct buf *b, int64_t ts_us,
			   bool time_only)
{
	size_t start = b->len;

	if (output_time_append_rfc3339(b, clock, ts_us) != 0)
		return -1;
	if (time_only) {
		memmove(b->data + start, b->data + start + 11, LOGINS_W_TIME);
		b->len = start + LOGINS_W_TIME;
		return 0;
	}
	b->data[start + 10] = ' ';
	b->len = start + LOGINS_W_DATETIME;
	return 0;
}

/* "--- 2026-11-21 (UTC) ---" before the first row of each UTC day: the
 * rows show the time only. */
static int logins_date_line(struct logins *lg, struct buf *b, int64_t ts_us)
{
	int64_t day = ts_us >= 0 ? ts_us / 86400000000LL : -((-ts_us + 86399999999LL) / 86400000000LL);
	size_t start;

	if (lg->day_shown && day == lg->day)
		return 0;
	lg->day_shown = true;
	lg->day = day;
	start = b->len;
	if (LIT(b, "--- ") != 0 || output_time_append_rfc3339(b, &lg->clock, ts_us) != 0)
		return -1;
	b->len = start + 4 + 10;
	return LIT(b, " (UTC) ---\n");
}

/* An address without its port: "192.0.2.1", "2001:db8::1". */
static int logins_addr_cell(struct buf *b, const char *addr)
{
	struct buf_slice h = logins_host(addr);
	size_t start = b->len;

	if (h.len >= 2 && h.ptr[0] == '[' && h.ptr[h.len - 1] == ']') {
		h.ptr++;
		h.len -= 2;
	}
	return escape_text(b, h.ptr, h.len) | logins_fit(b, start, LOGINS_W_ADDR);
}

static const char *logins_result(enum login_result r)
{
	return r == LOGIN_FAIL ? "FAIL" : event_login_result_name(r);
}

static const char *logins_transport(enum transport t)
{
	return t == TRANSPORT_IMPLICIT_TLS ? "tls" : event_transport_name(t);
}

/* "lowpriv (as admin)": the user, and the identity it asked to act as. */
static int logins_user_cell(struct buf *b, const struct event *ev)
{
	size_t start = b->len;
	int rc;

	if (ev->u.login.user.ptr == NULL && ev->u.login.authzid.ptr == NULL)
		return LIT(b, "-") | logins_fit(b, start, LOGINS_W_USER);
	rc = ev->u.login.user.ptr != NULL ? output_text_append_wire(b, ev->u.login.user) : LIT(b, "-");
	if (ev->u.login.authzid.ptr != NULL)
		rc |= LIT(b, " (as ") | output_text_append_wire(b, ev->u.login.authzid) | LIT(b, ")");
	return rc | logins_fit(b, start, LOGINS_W_USER);
}

static int logins_color(const struct logins *lg, struct buf *b, const char *code)
{
	return lg->color ? output_put(b, code, strlen(code)) : 0;
}

/* A colored cell: the codes around the text, the padding after them. */
static int logins_color_cell(const struct logins *lg, struct buf *b, const char *s,
			     const char *color, size_t width)
{
	size_t start = b->len;
	int rc;

	if (color == NULL || !lg->color)
		return logins_cell(b, s, width);
	rc = logins_color(lg, b, color) | output_put(b, s, strlen(s)) |
	     logins_color(lg, b, LOGINS_RESET);
	return rc | logins_fit(b, start, width);
}

static int logins_flags_cell(const struct logins *lg, struct buf *b, unsigned bits)
{
	char letters[LOGINS_N_FLAGS + 1];
	size_t n = 0;

	for (size_t i = 0; i < LOGINS_N_FLAGS; i++)
		if (bits & logins_flag_defs[i].bit)
			letters[n++] = logins_flag_defs[i].letter;
	letters[n] = '\0';
	return n == 0 ? logins_cell(b, "-", LOGINS_W_FLAGS)
		      : logins_color_cell(lg, b, letters, LOGINS_AMBER, LOGINS_W_FLAGS);
}

/* The response's text (its code only when it has no text: a CAPABILITY
 * list says nothing of the login), cut to the row's width; the secret
 * asked for with --show-secrets after it, whole. */
static int logins_response(struct buf *b, const struct event *ev, size_t line_start)
{
	size_t start = b->len, used = output_text_columns(b->data + line_start, start - line_start);
	size_t room = used + 1 < LOGINS_W_ROW ? LOGINS_W_ROW - used : 1, cols, k;
	int rc = 0;

	if (ev->u.login.inferred)	/* the evidence holds the answer */
		rc |= LIT(b, "inferred from: ") | output_text_append_wire(b, ev->u.login.evidence);
	else if (ev->u.login.text.ptr != NULL && ev->u.login.text.len > 0)
		rc |= output_text_append_wire(b, ev->u.login.text);
	else if (ev->u.login.code.ptr != NULL)
		rc |= LIT(b, "[") | output_text_append_wire(b, ev->u.login.code) | LIT(b, "]");
	if (rc == 0 && output_text_columns(b->data + start, b->len - start) > room) {
		k = output_text_fit(b->data + start, b->len - start, room - 1, &cols);
		b->len = start + k;
		rc |= LIT(b, LOGINS_ELLIPSIS);
	}
	if (ev->u.login.secret.ptr != NULL)
		rc |= LIT(b, " secret: ") | output_text_append_wire(b, ev->u.login.secret);
	/* No trailing blanks when the response column is empty. */
	if (b->len == start)
		while (b->len > line_start && b->data[b->len - 1] == ' ')
			b->len--;
	return rc;
}

static int logins_row(struct logins *lg, struct buf *b, const struct event *ev, unsigned bits)
{
	size_t line = b->len, start;
	bool fail = ev->u.login.result == LOGIN_FAIL;
	int rc = logins_time_str(&lg->clock, b, ev->ts_us, true) | LIT(b, " ");

	start = b->len;
	rc |= LIT(b, "#") | output_append_u64(b, ev->session) | logins_fit(b, start, LOGINS_W_SESSION);
	start = b->len;
	rc |= logins_addr_cell(b, ev->client) | logins_addr_cell(b, ev->server) |
	      logins_user_cell(b, ev);
	start = b->len;
	rc |= (ev->u.login.mechanism.ptr != NULL ? output_text_append_wire(b, ev->u.login.mechanism)
						 : LIT(b, "?")) |
	      logins_fit(b, start, LOGINS_W_MECH) |
	      logins_color_cell(lg, b, logins_result(ev->u.login.result), fail ? LOGINS_RED : NULL,
				LOGINS_W_RESULT) |
	      logins_cell(b, logins_transport(ev->u.login.transport), LOGINS_W_TRANSPORT) |
	      logins_flags_cell(lg, b, bits);
	if (rc == 0)
		rc |= logins_response(b, ev, line);
	return rc | LIT(b, "\n");
}

/* "flags: B brute force, C secret sent in cleartext": the letters used. */
static int logins_legend(struct buf *b, unsigned used)
{
	bool first = true;
	int rc = LIT(b, "flags:");

	for (size_t i = 0; i < LOGINS_N_FLAGS; i++) {
		if (!(used & logins_flag_defs[i].bit))
			continue;
		rc |= (first ? LIT(b, " ") : LIT(b, ", ")) |
		      output_put(b, &logins_flag_defs[i].letter, 1) | LIT(b, " ") |
		      output_put(b, logins_flag_defs[i].legend, strlen(logins_flag_defs[i].legend));
		first = false;
	}
	return rc | LIT(b, "\n");
}

/* The flag names of JSON in a fixed order, comma separated. */
static int logins_flag_list(struct buf *b, unsigned bits)
{
	bool first = true;
	int rc = 0;

	for (size_t i = 0; i < LOGINS_N_FLAGS; i++) {
		const char *name = logins_flag_defs[i].name;

		if (name == NULL || !(bits & logins_flag_defs[i].bit))
			continue;
		rc |= (first ? 0 : LIT(b, ",")) | LIT(b, "\"") | output_put(b, name, strlen(name)) |
		      LIT(b, "\"");
		first = false;
	}
	return rc;
}

static int logins_json_bool(struct buf *b, bool v)
{
	return v ? LIT(b, "true") : LIT(b, "false");
}

/* The -F json login object with the audit keys added before its '}'. */
static int logins_json_row(struct logins *lg, struct buf *b, const struct event *ev,
			   const struct logins_flags *f)
{
	size_t start = b->len;
	bool both = f->brute_client && f->brute_user;

	if (output_json_append_event(b, &lg->clock, ev) != 0 || b->len - start < 2 ||
	    memcmp(b->data + b->len - 2, "}\n", 2) != 0)
		return -1;
	b->len -= 2;
	return LIT(b, ",\"flags\":[") | logins_flag_list(b, logins_flag_bits(f, false)) |
	       LIT(b, "],\"brute_force\":") | logins_json_bool(b, f->brute_client || f->brute_user) |
	       LIT(b, ",\"brute_force_by\":[") |
	       (f->brute_client ? LIT(b, "\"client\"") : 0) | (both ? LIT(b, ",") : 0) |
	       (f->brute_user ? LIT(b, "\"user\"") : 0) |
	       LIT(b, "],\"cleartext_despite_starttls\":") |
	       logins_json_bool(b, f->cleartext_starttls) |
	       LIT(b, ",\"login_despite_logindisabled\":") |
	       logins_json_bool(b, f->logindisabled) | LIT(b, "}\n");
}

/* The roll-up of one login: by user (when known) and by client address. */
static void logins_rollup_login(struct logins *lg, const struct event *ev,
				const struct logins_flags *f)
{
	bool ok = ev->u.login.result == LOGIN_OK;

	if (ev->u.login.user.ptr != NULL)
		logins_rollup_add(&lg->rollup_user, ev->u.login.user, ev->ts_us, ev->u.login.result,
				  ok && f->brute_user);
	logins_rollup_add(&lg->rollup_client, logins_host(ev->client), ev->ts_us,
			  ev->u.login.result, ok && f->brute_client);
}

static void logins_event(void *ctx, const struct event *ev)
{
	struct logins *lg = ctx;
	struct logins_flags f;
	struct buf *b;
	unsigned bits;
	int rc = 0;

	if (ev->type != EV_LOGIN) {
		logins_observe(lg, ev);
		return;
	}
	/* Flags first: the failure history must grow even when output is gone. */
	f = logins_flags_of(lg, ev);
	logins_rollup_login(lg, ev, &f);
	if (!output_sink_live(&lg->sink))
		return;
	b = output_sink_begin(&lg->sink);
	if (lg->json) {
		rc = logins_json_row(lg, b, ev, &f);
	} else {
		bits = logins_flag_bits(&f, ev->u.login.cleartext_secret);
		if (!lg->header_done)
			rc |= logins_header(b);
		rc |= logins_date_line(lg, b, ev->ts_us) | logins_row(lg, b, ev, bits);
		if (rc == 0)
			lg->flags_used |= bits;
	}
	output_sink_end(&lg->sink, rc);
	if (rc == 0) {
		lg->header_done = true;
		lg->rows++;
	}
}

/* ---- the roll-up ---- */

static int logins_rollup_header(struct buf *b, const char *key)
{
	return logins_cell(b, key, LOGINS_W_KEY) | logins_cell(b, "ATTEMPTS", 8) |
	       logins_cell(b, "FAILURES", 8) | logins_cell(b, "FIRST SEEN (UTC)", LOGINS_W_DATETIME) |
	       logins_cell(b, "LAST SEEN (UTC)", LOGINS_W_DATETIME) |
	       LIT(b, "SUCCESS AFTER FAILURES\n");
}

/* A count right-aligned in width, then the space between cells. */
static int logins_count_cell(struct buf *b, uint64_t v, size_t width)
{
	char tmp[20], *d = output_fmt_u64(tmp, v);
	size_t n = (size_t)(tmp + sizeof tmp - d), start = b->len;
	int rc = 0;

	while (n < width && rc == 0) {
		rc |= LIT(b, " ");
		n++;
	}
	return rc | output_put(b, d, (size_t)(tmp + sizeof tmp - d)) | logins_fit(b, start, width);
}

static int logins_rollup_text_row(struct logins *lg, struct buf *b,
				  const struct logins_rollup_row *r)
{
	size_t start = b->len;
	int rc = escape_text(b, r->key, r->len) | logins_fit(b, start, LOGINS_W_KEY) |
		 logins_count_cell(b, r->attempts, 8) | logins_count_cell(b, r->failures, 8) |
		 logins_time_str(&lg->clock, b, r->first_us, false) | LIT(b, " ") |
		 logins_time_str(&lg->clock, b, r->last_us, false) | LIT(b, " ");

	return rc | (r->success_after_failures
		     ? logins_color(lg, b, LOGINS_AMBER) | LIT(b, "yes") |
		       logins_color(lg, b, LOGINS_RESET)
		     : LIT(b, "no")) | LIT(b, "\n");
}

static int logins_rollup_json_row(struct logins *lg, struct buf *b, const char *by,
				  const struct logins_rollup_row *r)
{
	return LIT(b, "{\"v\":" OUTPUT_JSON_VERSION ",\"ts\":\"") |
	       output_time_append_rfc3339(b, &lg->clock, r->last_us) |
	       LIT(b, "\",\"session\":0,\"type\":\"login_summary\",\"by\":\"") |
	       output_put(b, by, strlen(by)) | LIT(b, "\",\"key\":\"") |
	       escape_json(b, r->key, r->len) |
	       LIT(b, "\",\"attempts\":") | output_append_u64(b, r->attempts) |
	       LIT(b, ",\"failures\":") | output_append_u64(b, r->failures) |
	       LIT(b, ",\"first_seen\":\"") | output_time_append_rfc3339(b, &lg->clock, r->first_us) |
	       LIT(b, "\",\"last_seen\":\"") | output_time_append_rfc3339(b, &lg->clock, r->last_us) |
	       LIT(b, "\",\"success_after_failures\":") |
	       logins_json_bool(b, r->success_after_failures) | LIT(b, "}\n");
}

/* One table of the roll-up: a line per row, so no line grows with the
 * number of keys. */
static void logins_rollup_write(struct logins *lg, const struct logins_rollup *t,
				const char *by, const char *title)
{
	const struct logins_rollup_row *r = logins_rollup_first(t);
	struct buf *b;

	if (r == NULL && t->untracked == 0)
		return;
	if (!lg->json) {
		b = output_sink_begin(&lg->sink);
		output_sink_end(&lg->sink, LIT(b, "\n") | logins_rollup_header(b, title));
	}
	for (; r != NULL && output_sink_live(&lg->sink); r = logins_rollup_next(r)) {
		b = output_sink_begin(&lg->sink);
		output_sink_end(&lg->sink, lg->json ? logins_rollup_json_row(lg, b, by, r)
						    : logins_rollup_text_row(lg, b, r));
	}
	if (!lg->json && t->untracked != 0) {
		b = output_sink_begin(&lg->sink);
		output_sink_end(&lg->sink, LIT(b, "(") | output_append_u64(b, t->untracked) |
					   LIT(b, " more logins of keys past the ") |
					   output_append_u64(b, LOGINS_ROLLUP_MAX) |
					   LIT(b, " listed, or refused by --max-memory)\n"));
	}
}

/* An empty table still gets its header, so "no logins" is visible; then
 * the legend of the flags shown and the roll-up. */
static int logins_finish(void *ctx)
{
	struct logins *lg = ctx;
	struct buf *b;

	if (!output_sink_live(&lg->sink))
		return output_sink_finish(&lg->sink);
	if (!lg->json && !lg->header_done) {
		b = output_sink_begin(&lg->sink);
		output_sink_end(&lg->sink, logins_header(b));
		lg->header_done = true;
	}
	if (!lg->json && lg->flags_used != 0) {
		b = output_sink_begin(&lg->sink);
		output_sink_end(&lg->sink, logins_legend(b, lg->flags_used));
	}
	logins_rollup_write(lg, &lg->rollup_user, "user", "USER");
	logins_rollup_write(lg, &lg->rollup_client, "client", "CLIENT");
	return output_sink_finish(&lg->sink);
}

static void logins_free(void *ctx)
{
	struct logins *lg = ctx;

	size_t i;

	if (lg == NULL)
		return;
	for (i = 0; i < lg->n_live; i++) {
		mem_release(lg->budget, sizeof *lg->live[i]);
		free(lg->live[i]);
	}
	free(lg->live);
	mem_release(lg->budget, lg->cap_live * sizeof *lg->live);
	logins_table_free(&lg->by_client);
	logins_table_free(&lg->by_user);
	logins_rollup_free(&lg->rollup_user);
	logins_rollup_free(&lg->rollup_client);
	output_sink_free(&lg->sink);
	free(lg);
}

/* Live capture: out with every complete line now. */
static void logins_flush(void *ctx)
{
	struct logins *lg = ctx;

	/* a failed write is reported by finish */
	if (output_sink_finish(&lg->sink) != 0)
		return;
}

static const struct output_ops logins_ops = {
	.flush = logins_flush,
	.event = logins_event,
	.finish = logins_finish,
	.free = logins_free,
};

int output_logins_new(struct output *out_r, FILE *fp, bool json)
{
	return output_logins_new2(out_r, fp, json, NULL);
}

int output_logins_new2(struct output *out_r, FILE *fp, bool json, const struct logins_opts *opts)
{
	struct logins *lg = calloc(1, sizeof *lg);

	if (lg == NULL)
		return -1;
	output_sink_init(&lg->sink, fp);
	lg->json = json;
	lg->fail_threshold = LOGINS_FAIL_THRESHOLD_DEFAULT;
	lg->window_us = LOGINS_WINDOW_US_DEFAULT;
	if (opts != NULL && opts->fail_threshold > 0)
		lg->fail_threshold = opts->fail_threshold < LOGINS_FAIL_THRESHOLD_MAX
				     ? opts->fail_threshold : LOGINS_FAIL_THRESHOLD_MAX;
	if (opts != NULL && opts->window_us > 0)
		lg->window_us = opts->window_us;
	if (opts != NULL) {
		lg->budget = opts->budget;
		lg->color = opts->color;
		logins_table_init(&lg->by_client, opts->budget);
		logins_table_init(&lg->by_user, opts->budget);
	}
	logins_rollup_init(&lg->rollup_user, lg->budget);
	logins_rollup_init(&lg->rollup_client, lg->budget);
	out_r->ops = &logins_ops;
	out_r->ctx = lg;
	return 0;
}
