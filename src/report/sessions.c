/* --sessions: one row per session, kept until the end and written sorted
 * (see report/sessions.h). */
#include "report/sessions.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report/output_json.h"
#include "report/render.h"
#include "util/escape.h"

#define SESSIONS_CUT "\xe2\x80\xa6"	/* "…": a value cut to its column */
#define SESSIONS_CELL_MAX 1024		/* bytes of an escaped cell */
#define SESSIONS_ROWS_INITIAL 64

struct srow {
	uint64_t id;
	struct event_flow flow;		/* af 0 when not known */
	char client[SESSIONS_ADDR_MAX], server[SESSIONS_ADDR_MAX];
	int64_t start_us, last_us, duration_us;
	bool mid_stream;
	uint8_t user[SESSIONS_USER_MAX];
	size_t user_len;
	bool have_user, user_ok;
	enum transport transport;
	bool tls_not_used;		/* a side stayed plain: transport is plain */
	bool tls_seen, tls_decrypted;
	char tls_version[SESSIONS_TLS_MAX];
	bool compressed;
	bool ended;			/* the counts below come from its session_end */
	enum end_reason reason;
	uint64_t commands, no, bad, bytes_c2s, bytes_s2c, gaps, gap_bytes, notices;
};

struct sessions {
	struct output_sink sink;
	struct output_time clock;
	bool json;
	enum sessions_col sort;
	struct mem_budget *budget;
	/* Every row, in the order of their ids (a session's id grows with
	 * each new session, so a new row is appended). */
	struct srow **rows;
	size_t n, cap;
	uint64_t lost;			/* rows the budget refused */
};

static const char *const sessions_col_name[SESSIONS_N_COLS] = {
#define X(id, name) name,
	SESSIONS_COLS(X)
#undef X
};

int sessions_col_parse(const char *name)
{
	for (int i = 0; i < SESSIONS_N_COLS; i++)
		if (strcmp(name, sessions_col_name[i]) == 0)
			return i;
	return -1;
}

const char *sessions_col_names(void)
{
#define X(id, name) name ", "
	static const char all[] = SESSIONS_COLS(X);
#undef X
	static char names[sizeof all];

	if (names[0] == '\0') {
		memcpy(names, all, sizeof all);
		names[sizeof all - 3] = '\0';	/* the last ", " */
	}
	return names;
}

/* ================= rows ================= */

static size_t sessions_index(const struct sessions *ss, uint64_t id, bool *found_r)
{
	size_t lo = 0, hi = ss->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ss->rows[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found_r = lo < ss->n && ss->rows[lo]->id == id;
	return lo;
}

static void sessions_copy_cstr(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src != NULL ? src : "", n);
	dst[n] = '\0';
}

static struct srow *sessions_row_new(struct sessions *ss, const struct event *ev)
{
	struct srow *r;

	if (mem_charge(ss->budget, sizeof *r) != 0)
		return NULL;
	if ((r = calloc(1, sizeof *r)) == NULL) {
		mem_release(ss->budget, sizeof *r);
		return NULL;
	}
	r->id = ev->session;
	r->start_us = r->last_us = ev->ts_us;
	if (ev->flow != NULL)
		r->flow = *ev->flow;
	sessions_copy_cstr(r->client, sizeof r->client, ev->client);
	sessions_copy_cstr(r->server, sizeof r->server, ev->server);
	return r;
}

/* The session's row, made at its session_start (the session's first
 * event).  NULL when there is none: the budget refused it (counted once,
 * then), or a session began before the output did. */
static struct srow *sessions_row(struct sessions *ss, const struct event *ev)
{
	bool found;
	size_t at = sessions_index(ss, ev->session, &found);
	struct srow *r;
	void *grown;

	if (found)
		return ss->rows[at];
	if (ev->type != EV_SESSION_START)
		return NULL;
	if (ss->n == ss->cap) {
		grown = mem_grow_array(ss->budget, ss->rows, &ss->cap, sizeof *ss->rows,
				       SESSIONS_ROWS_INITIAL, SIZE_MAX / sizeof *ss->rows);
		if (grown == NULL) {
			ss->lost++;
			return NULL;
		}
		ss->rows = grown;
	}
	if ((r = sessions_row_new(ss, ev)) == NULL) {
		ss->lost++;
		return NULL;
	}
	memmove(&ss->rows[at + 1], &ss->rows[at], (ss->n - at) * sizeof *ss->rows);
	ss->rows[at] = r;
	ss->n++;
	return r;
}

/* The user shown: the one that logged in, else the last one tried (as
 * --summary says it). */
static void sessions_on_login(struct srow *r, const struct event *ev)
{
	struct buf_slice u = ev->u.login.user;

	if (u.ptr == NULL || (r->user_ok && ev->u.login.result != LOGIN_OK))
		return;
	r->user_len = u.len < SESSIONS_USER_MAX ? u.len : SESSIONS_USER_MAX;
	memcpy(r->user, u.ptr, r->user_len);
	r->have_user = true;
	r->user_ok = ev->u.login.result == LOGIN_OK;
}

static void sessions_on_end(struct srow *r, const struct event *ev)
{
	const struct session_summary *sum = ev->u.end.summary;

	r->ended = true;
	r->reason = ev->u.end.reason;
	r->compressed = ev->facts->compressed;
	if (!r->tls_not_used)
		r->transport = ev->facts->transport;
	if (sum == NULL)
		return;
	r->duration_us = sum->duration_us;
	r->commands = sum->commands;
	r->no = sum->responses_no;
	r->bad = sum->responses_bad;
	r->bytes_c2s = sum->bytes_c2s;
	r->bytes_s2c = sum->bytes_s2c;
	r->gaps = sum->gaps;
	r->gap_bytes = sum->gap_bytes;
	r->notices = sum->notices;
}

static void sessions_event(void *ctx, const struct event *ev)
{
	struct sessions *ss = ctx;
	struct srow *r = sessions_row(ss, ev);

	if (r == NULL)
		return;
	if (ev->ts_us > r->last_us)
		r->last_us = ev->ts_us;
	switch (ev->type) {
	case EV_SESSION_START:
		r->mid_stream = ev->u.start.mid_stream;
		break;
	case EV_LOGIN:
		sessions_on_login(r, ev);
		break;
	case EV_TLS:
		r->tls_seen = true;
		r->tls_decrypted = ev->u.tls.decrypted;
		sessions_copy_cstr(r->tls_version, sizeof r->tls_version, ev->u.tls.version);
		break;
	case EV_NOTICE:
		/* TLS was agreed but a side went on in plain text: what crossed
		 * was not protected (--summary counts it plain too) */
		if (ev->u.notice.kind == NOTICE_STARTTLS_NOT_NEGOTIATED ||
		    ev->u.notice.kind == NOTICE_PLAINTEXT_ON_TLS_PORT) {
			r->tls_not_used = true;
			r->transport = TRANSPORT_PLAIN;
		}
		break;
	case EV_SESSION_END:
		sessions_on_end(r, ev);
		break;
	default:
		break;
	}
}

/* ================= sorting ================= */

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a, b);
}

static int cmp_user(const struct srow *a, const struct srow *b)
{
	size_t n = a->user_len < b->user_len ? a->user_len : b->user_len;
	int c;

	if (a->have_user != b->have_user)
		return a->have_user ? -1 : 1;	/* no user last */
	c = n != 0 ? memcmp(a->user, b->user, n) : 0;
	return c != 0 ? c : cmp_u64(a->user_len, b->user_len);
}

/* Ascending for names and times, descending (largest first) for counts. */
static int sessions_cmp_col(const struct srow *a, const struct srow *b, enum sessions_col c)
{
	switch (c) {
	case SESSIONS_COL_COMMUNITY_ID: return cmp_str(a->flow.community_id, b->flow.community_id);
	case SESSIONS_COL_START: return a->start_us < b->start_us ? -1 : a->start_us > b->start_us;
	case SESSIONS_COL_DURATION: return -cmp_u64((uint64_t)a->duration_us, (uint64_t)b->duration_us);
	case SESSIONS_COL_CLIENT: return cmp_str(a->client, b->client);
	case SESSIONS_COL_SERVER: return cmp_str(a->server, b->server);
	case SESSIONS_COL_USER: return cmp_user(a, b);
	case SESSIONS_COL_TRANSPORT: return cmp_u64(a->transport, b->transport);
	case SESSIONS_COL_COMMANDS: return -cmp_u64(a->commands, b->commands);
	case SESSIONS_COL_NO: return -cmp_u64(a->no, b->no);
	case SESSIONS_COL_BAD: return -cmp_u64(a->bad, b->bad);
	case SESSIONS_COL_BYTES_C2S: return -cmp_u64(a->bytes_c2s, b->bytes_c2s);
	case SESSIONS_COL_BYTES_S2C: return -cmp_u64(a->bytes_s2c, b->bytes_s2c);
	case SESSIONS_COL_BYTES:
		return -cmp_u64(a->bytes_c2s + a->bytes_s2c, b->bytes_c2s + b->bytes_s2c);
	case SESSIONS_COL_GAPS: return -cmp_u64(a->gap_bytes, b->gap_bytes);
	case SESSIONS_COL_NOTICES: return -cmp_u64(a->notices, b->notices);
	case SESSIONS_COL_ID:
	default: return 0;
	}
}

/* qsort has no context argument: each entry carries the column. */
struct sorted {
	const struct srow *r;
	enum sessions_col col;
};

static int sessions_cmp(const void *pa, const void *pb)
{
	const struct sorted *a = pa, *b = pb;
	int c = sessions_cmp_col(a->r, b->r, a->col);

	return c != 0 ? c : cmp_u64(a->r->id, b->r->id);
}

/* ================= text ================= */

/* Columns: name, width, right-aligned. */
enum tcol { T_ID, T_START, T_DUR, T_CLIENT, T_SERVER, T_USER, T_TRANSPORT, T_Z, T_CMDS,
	    T_NO, T_BAD, T_C2S, T_S2C, T_GAPS, T_NOTE, T_N };
static const struct {
	const char *name;
	unsigned width;
	bool right;
} tcols[T_N] = {
	{ "ID", 4, true }, { "START", 8, false }, { "DUR", 6, true },
	{ "CLIENT", 21, false }, { "SERVER", 21, false }, { "USER", 9, false },
	{ "TRANSPORT", 13, false }, { "Z", 1, false }, { "CMD", 3, true },
	{ "NO", 2, true }, { "BAD", 3, true }, { "C2S", 4, true }, { "S2C", 4, true },
	{ "GAP", 3, true }, { "NOTE", 4, true },
};

/* Characters (UTF-8 sequences) in p..n, and the byte length of the first
 * max of them. */
static size_t text_chars(const uint8_t *p, size_t n, size_t max, size_t *bytes_r)
{
	size_t i = 0, chars = 0;

	*bytes_r = n;
	while (i < n) {
		size_t k = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, n - i);

		if (chars == max)
			*bytes_r = i;
		i += k != 0 ? k : 1;
		chars++;
	}
	return chars;
}

/* One cell: escaped text padded to the column's width, or cut with "…"
 * (keeping the end when tail: an address keeps its port). */
static int text_cell(struct buf *b, enum tcol c, const uint8_t *p, size_t n, bool tail, bool last)
{
	uint8_t tmp[SESSIONS_CELL_MAX];
	struct buf e = { tmp, 0, sizeof tmp, sizeof tmp, NULL };
	unsigned w = tcols[c].width;
	size_t bytes, chars;
	int rc = 0;

	if (escape_text(&e, p, n) != 0)
		e.len = 0;	/* a cell of a kilobyte: cut below anyway */
	chars = text_chars(e.data, e.len, w, &bytes);
	if (chars > w) {
		size_t keep = w - 1, head, skip;

		if (tail) {
			(void)text_chars(e.data, e.len, chars - keep, &skip);
			rc = LIT(b, SESSIONS_CUT) | output_put(b, e.data + skip, e.len - skip);
		} else {
			(void)text_chars(e.data, e.len, keep, &head);
			rc = output_put(b, e.data, head) | LIT(b, SESSIONS_CUT);
		}
		chars = w;
	} else if (tcols[c].right) {
		for (; chars < w; chars++)
			rc |= LIT(b, " ");
		rc |= output_put(b, e.data, e.len);
	} else {
		rc = output_put(b, e.data, e.len);
	}
	if (!last)
		for (; chars < w; chars++)
			rc |= LIT(b, " ");
	return rc | (last ? 0 : LIT(b, " "));
}

static int text_cstr(struct buf *b, enum tcol c, const char *s)
{
	return text_cell(b, c, (const uint8_t *)s, strlen(s), false, c == T_N - 1);
}

static int text_num(struct buf *b, enum tcol c, uint64_t v, bool known)
{
	char tmp[20];
	const char *d = output_fmt_u64(tmp, v);

	return known ? text_cell(b, c, (const uint8_t *)d, (size_t)(tmp + 20 - d), false, c == T_N - 1)
		     : text_cstr(b, c, "-");
}

/* 999, 1.2K, 123K, 4.5M: at most 4 characters (powers of 1024). */
static void text_bytes(char *out, size_t cap, uint64_t v)
{
	static const char units[] = "KMGTPE";
	double x = (double)v;
	int u = -1;

	if (v < 1000) {
		snprintf(out, cap, "%" PRIu64, v);
		return;
	}
	while (x >= 999.5 && u < 5) {
		x /= 1024;
		u++;
	}
	if (x < 9.95)
		snprintf(out, cap, "%.1f%c", x, units[u]);
	else
		snprintf(out, cap, "%.0f%c", x, units[u]);
}

/* 0.012s, 9.870s, 42.5s, 12m03s, 3h04m, 5d02h: at most 6 characters. */
static void text_duration(char *out, size_t cap, int64_t us)
{
	uint64_t s = us > 0 ? (uint64_t)us / 1000000 : 0;

	if (us < 10000000)
		snprintf(out, cap, "%.3fs", us > 0 ? (double)us / 1e6 : 0.0);
	else if (s < 60)
		snprintf(out, cap, "%.1fs", (double)us / 1e6);
	else if (s < 3600)
		snprintf(out, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, cap, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
	else
		snprintf(out, cap, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
}

/* "starttls 1.3", "implicit 1.2*" (not decrypted), "plain". */
static void text_transport(char *out, size_t cap, const struct srow *r)
{
	const char *v = r->tls_version;

	if (r->transport == TRANSPORT_PLAIN) {
		snprintf(out, cap, "plain");
		return;
	}
	if (strncmp(v, "TLS ", 4) == 0)
		v += 4;
	snprintf(out, cap, "%s %s%s", r->transport == TRANSPORT_STARTTLS ? "starttls" : "implicit",
		 r->tls_seen && v[0] != '\0' ? v : "?", r->tls_decrypted ? "" : "*");
}

static int text_header(struct buf *b)
{
	int rc = 0;

	for (int c = 0; c < T_N; c++)
		rc |= text_cstr(b, (enum tcol)c, tcols[c].name);
	return rc | LIT(b, "\n");
}

static int text_row(struct sessions *ss, struct buf *b, const struct srow *r)
{
	char t[32];
	const struct tm *tm;
	uint32_t usec;
	int rc;

	snprintf(t, sizeof t, "%" PRIu64, r->id);
	rc = text_cstr(b, T_ID, t);
	output_time_split(&ss->clock, r->start_us, &tm, &usec);
	snprintf(t, sizeof t, "%02d:%02d:%02d", tm->tm_hour, tm->tm_min, tm->tm_sec);
	rc |= text_cstr(b, T_START, t);
	text_duration(t, sizeof t, r->duration_us > 0 || r->ended ? r->duration_us
							     : r->last_us - r->start_us);
	rc |= text_cstr(b, T_DUR, t) |
	      text_cell(b, T_CLIENT, (const uint8_t *)r->client, strlen(r->client), true, false) |
	      text_cell(b, T_SERVER, (const uint8_t *)r->server, strlen(r->server), true, false) |
	      (r->have_user ? text_cell(b, T_USER, r->user, r->user_len, false, false)
			    : text_cstr(b, T_USER, "-"));
	text_transport(t, sizeof t, r);
	rc |= text_cstr(b, T_TRANSPORT, t) | text_cstr(b, T_Z, r->compressed ? "z" : "") |
	      text_num(b, T_CMDS, r->commands, r->ended) | text_num(b, T_NO, r->no, r->ended) |
	      text_num(b, T_BAD, r->bad, r->ended);
	text_bytes(t, sizeof t, r->bytes_c2s);
	rc |= r->ended ? text_cstr(b, T_C2S, t) : text_cstr(b, T_C2S, "-");
	text_bytes(t, sizeof t, r->bytes_s2c);
	rc |= r->ended ? text_cstr(b, T_S2C, t) : text_cstr(b, T_S2C, "-");
	return rc | text_num(b, T_GAPS, r->gaps, r->ended) |
	       text_num(b, T_NOTE, r->notices, r->ended) | LIT(b, "\n");
}

/* Under the table: what "*" and "z" mean, where a row has them, and the
 * rows not listed. */
static int text_legend(struct sessions *ss, struct buf *b, bool star, bool z)
{
	int rc = 0;

	if (star || z)
		rc |= LIT(b, "(") | (star ? LIT(b, "*: TLS not decrypted") : 0) |
		      (star && z ? LIT(b, "; ") : 0) | (z ? LIT(b, "z: COMPRESS=DEFLATE") : 0) |
		      LIT(b, ")\n");
	if (ss->lost != 0)
		rc |= LIT(b, "(") | output_append_u64(b, ss->lost) |
		      LIT(b, " sessions not listed: --max-memory)\n");
	return rc;
}

/* ================= JSON ================= */

static int json_str(struct buf *b, const uint8_t *p, size_t n)
{
	return LIT(b, "\"") | escape_json(b, p, n) | LIT(b, "\"");
}

static int json_cstr(struct buf *b, const char *s)
{
	return json_str(b, (const uint8_t *)s, strlen(s));
}

static int json_count(struct buf *b, const char *key, size_t klen, uint64_t v, bool known)
{
	return LIT(b, ",\"") | output_put(b, key, klen) | LIT(b, "\":") |
	       (known ? output_append_u64(b, v) : LIT(b, "null"));
}

#define JSON_COUNT(b, key, v, known) json_count((b), (key), sizeof(key) - 1, (v), (known))

static int json_row(struct sessions *ss, struct buf *b, const struct srow *r)
{
	int64_t dur = r->ended ? r->duration_us : r->last_us - r->start_us;
	int rc = LIT(b, "{\"v\":" OUTPUT_JSON_VERSION ",\"ts\":\"") |
		 output_time_append_rfc3339(b, &ss->clock, r->start_us) |
		 LIT(b, "\",\"session\":") | output_append_u64(b, r->id) |
		 LIT(b, ",\"type\":\"session\",\"start\":\"") |
		 output_time_append_rfc3339(b, &ss->clock, r->start_us) |
		 LIT(b, "\",\"end\":\"") | output_time_append_rfc3339(b, &ss->clock, r->last_us) |
		 LIT(b, "\",\"duration_ms\":") | output_append_milli(b, dur) |
		 LIT(b, ",\"end_reason\":") |
		 (r->ended ? json_cstr(b, event_end_reason_name(r->reason)) : LIT(b, "null")) |
		 LIT(b, ",\"client\":") | json_cstr(b, r->client) |
		 LIT(b, ",\"server\":") | json_cstr(b, r->server) |
		 LIT(b, ",\"mid_stream\":") | (r->mid_stream ? LIT(b, "true") : LIT(b, "false")) |
		 LIT(b, ",\"user\":") |
		 (r->have_user ? json_str(b, r->user, r->user_len) : LIT(b, "null")) |
		 LIT(b, ",\"logged_in\":") | (r->user_ok ? LIT(b, "true") : LIT(b, "false")) |
		 LIT(b, ",\"transport\":") | json_cstr(b, event_transport_name(r->transport)) |
		 LIT(b, ",\"tls\":");

	if (r->tls_seen)
		rc |= LIT(b, "{\"version\":") |
		      (r->tls_version[0] != '\0' ? json_cstr(b, r->tls_version) : LIT(b, "null")) |
		      LIT(b, ",\"decrypted\":") | (r->tls_decrypted ? LIT(b, "true") : LIT(b, "false")) |
		      LIT(b, "}");
	else
		rc |= LIT(b, "null");
	rc |= LIT(b, ",\"compressed\":") | (r->compressed ? LIT(b, "true") : LIT(b, "false")) |
	      JSON_COUNT(b, "commands", r->commands, r->ended) |
	      JSON_COUNT(b, "no", r->no, r->ended) | JSON_COUNT(b, "bad", r->bad, r->ended) |
	      JSON_COUNT(b, "bytes_c2s", r->bytes_c2s, r->ended) |
	      JSON_COUNT(b, "bytes_s2c", r->bytes_s2c, r->ended) |
	      JSON_COUNT(b, "gaps", r->gaps, r->ended) |
	      JSON_COUNT(b, "gap_bytes", r->gap_bytes, r->ended) |
	      JSON_COUNT(b, "notices", r->notices, r->ended);
	return rc | output_json_append_flow(b, &r->flow) | LIT(b, "}\n");
}

/* ================= the output ================= */

static void sessions_write(struct sessions *ss, const struct sorted *v)
{
	bool star = false, z = false;
	struct buf *b;

	if (!ss->json && ss->n != 0) {
		b = output_sink_begin(&ss->sink);
		output_sink_end(&ss->sink, text_header(b));
	}
	for (size_t i = 0; i < ss->n && output_sink_live(&ss->sink); i++) {
		const struct srow *r = v != NULL ? v[i].r : ss->rows[i];

		star |= r->transport != TRANSPORT_PLAIN && !r->tls_decrypted;
		z |= r->compressed;
		b = output_sink_begin(&ss->sink);
		output_sink_end(&ss->sink, ss->json ? json_row(ss, b, r) : text_row(ss, b, r));
	}
	if (!ss->json && output_sink_live(&ss->sink)) {
		b = output_sink_begin(&ss->sink);
		output_sink_end(&ss->sink, text_legend(ss, b, star, z));
	}
}

static int sessions_finish(void *ctx)
{
	struct sessions *ss = ctx;
	struct sorted *v = NULL;

	/* by id they are already; another column needs a sorted copy (the
	 * rows stay where they are if there is no memory for it) */
	if (ss->sort != SESSIONS_COL_ID && ss->n > 1 &&
	    mem_charge(ss->budget, ss->n * sizeof *v) == 0) {
		if ((v = malloc(ss->n * sizeof *v)) == NULL) {
			mem_release(ss->budget, ss->n * sizeof *v);
		} else {
			for (size_t i = 0; i < ss->n; i++)
				v[i] = (struct sorted){ ss->rows[i], ss->sort };
			qsort(v, ss->n, sizeof *v, sessions_cmp);
		}
	}
	sessions_write(ss, v);
	if (v != NULL) {
		free(v);
		mem_release(ss->budget, ss->n * sizeof *v);
	}
	return output_sink_finish(&ss->sink);
}

static void sessions_free(void *ctx)
{
	struct sessions *ss = ctx;

	if (ss == NULL)
		return;
	for (size_t i = 0; i < ss->n; i++) {
		free(ss->rows[i]);
		mem_release(ss->budget, sizeof *ss->rows[i]);
	}
	free(ss->rows);
	mem_release(ss->budget, ss->cap * sizeof *ss->rows);
	output_sink_free(&ss->sink);
	free(ss);
}

static const struct output_ops sessions_ops = {
	.event = sessions_event,
	.finish = sessions_finish,
	.free = sessions_free,
};

int output_sessions_new(struct output *out_r, FILE *fp, bool json, enum sessions_col sort,
			struct mem_budget *budget)
{
	struct sessions *ss = calloc(1, sizeof *ss);

	if (ss == NULL)
		return -1;
	output_sink_init(&ss->sink, fp);
	ss->json = json;
	ss->sort = sort;
	ss->budget = budget;
	out_r->ops = &sessions_ops;
	out_r->ctx = ss;
	return 0;
}
