/* --activity (report/activity.h).
 *
 * Layout: per-session state (the commands in flight, the records waiting
 * for their completion, the roll-up); the record writer (JSON and text
 * share the key=value walk); the actions, one function per kind of event;
 * the roll-ups; the output.  Which message an action concerns is the
 * session's to say (struct msg_identity on the events): nothing here
 * numbers messages. */
#include "report/activity.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_args.h"
#include "report/html.h"
#include "report/output_json.h"
#include "report/render.h"
#include "util/escape.h"
#include "util/hashtab.h"

#define ACT_TAG_MAX   64	/* a longer tag is not followed: its records go out at once */
#define ACT_ADDR_MAX  64	/* FLOW_ADDRSTRLEN fits */
#define ACT_NAME_MAX  256	/* a roll-up's mailbox name, cut past this */

enum act_field { ACT_MID, ACT_SUBJ, ACT_FROM, ACT_DATE, ACT_N_FIELDS };

enum act_store_op { ACT_STORE_ADD, ACT_STORE_REMOVE, ACT_STORE_SET };

struct act_inflight {
	bool used;
	uint8_t taglen;
	char tag[ACT_TAG_MAX];
	enum imap_cmd_id id;
	enum act_store_op op;
	bool silent;
	bool answered;			/* STORE: a FETCH came; MOVE: an EXPUNGE */
	uint64_t order;			/* when it was sent, to pick the first */
	bool set_known, aux_known;
	uint64_t count;			/* SEARCH results */
	uint64_t literal_bytes;		/* APPEND's message */
	struct buf set;			/* FETCH/STORE: the set as sent */
	struct buf flags;		/* STORE: the flags; MOVE: the target */
	/* SEARCH: results; MOVE and COPY: COPYUID's arguments; APPEND: the
	 * message's identity; CLOSE: nothing */
	struct buf aux;
	/* MOVE: the numbers the messages it removed had before it, ascending
	 * (uint64_t each), so that each record names the number the command
	 * saw; gone_lost: one was not known, the numbers after it are not */
	struct buf gone;
	bool gone_lost;
};

/* A record rendered but for its result: head (up to the result) then tail
 * (frames and flow), at off in the session's pend buffer. */
struct act_pending {
	uint8_t taglen;
	char tag[ACT_TAG_MAX];
	bool move;			/* a MOVE's move record: before its expunges */
	uint64_t key;			/* move: the number it had, to order them */
	size_t off, head, len;
	size_t row;			/* its --html row's result, or ACT_NO_ROW */
};

#define ACT_NO_ROW SIZE_MAX

enum act_kind {
	AK_READ, AK_READ_HEADERS, AK_FLAGS, AK_EXPUNGE, AK_COPY, AK_MOVE, AK_APPEND,
	AK_CREATE, AK_DELETE, AK_RENAME, AK_SEARCH, AK_N
};

struct act_roll {
	enum act_kind kind;
	uint16_t namelen;
	char name[ACT_NAME_MAX];
	uint64_t count, bytes;
};

struct act_rollup {
	size_t n;
	struct act_roll rows[ACTIVITY_MAX_ROLLUP];
	uint64_t lost;
};

struct act_session {
	struct hashtab_node hnode;
	uint64_t id;
	char client[ACT_ADDR_MAX], server[ACT_ADDR_MAX];
	struct buf user;			/* the last user the facts named */
	bool user_known;
	struct act_inflight infl[ACTIVITY_MAX_INFLIGHT];
	struct buf pend;			/* rendered records without their result */
	struct act_pending *pends;
	size_t n_pends, cap_pends;
	struct act_rollup roll;
	uint64_t commands;			/* sent, to order those in flight */
};

struct act_user {
	struct buf key;				/* user, NUL, client address */
	size_t userlen;
	uint64_t sessions;
	struct act_rollup roll;
};

struct activity {
	struct output_sink sink;
	struct output_time clock;
	bool json;
	struct mem_budget *budget;
	struct hashtab sessions;
	struct act_session *last;		/* most events come in runs per session */
	struct act_user *users;
	size_t n_users, cap_users;
	uint64_t lost;				/* everything any cap refused */
	int64_t last_ts_us;			/* the last session end: the user roll-ups' ts */
	/* --html: the page's rows, kept only when asked (output_activity_html) */
	bool rows_on;
	struct buf rows;
	uint64_t n_rows, rows_omitted;
};

/* ---- the record ---- */

/* What one record says; slices valid while it is written. */
struct act_rec {
	const char *action;
	enum imap_cmd_id cmd;
	struct buf_slice tag, mailbox;
	bool msg;				/* message identity keys follow */
	uint64_t uidvalidity, uid, seq, size;
	struct buf_slice field[ACT_N_FIELDS];
	const struct fetch_facts *ff;		/* read, read_headers */
	bool envelope, partial;
	uint64_t bytes;
	const char *flags_key;			/* flags: flags_added, ... */
	struct buf_slice flags_arg;
	bool confirm_known;			/* flags key present (null for .SILENT) */
	struct buf_slice confirm;
	bool has_to, to_ids;
	struct buf_slice to_mailbox;
	uint64_t to_uidvalidity, to_uid;
	bool is_append;
	struct buf_slice app_flags, internal_date;
	bool is_select;
	uint64_t exists;
	bool is_search;
	struct buf_slice criteria, results;
	uint64_t count;
	bool results_known;
	bool move;				/* a MOVE's move record */
};

static const char *const act_field_key[ACT_N_FIELDS] = {
	"message_id", "subject", "from", "date",
};

static int act_key_n(struct buf *b, bool json, const char *key, size_t n)
{
	if (json)
		return LIT(b, ",\"") | output_put(b, key, n) | LIT(b, "\":");
	return LIT(b, " ") | output_put(b, key, n) | LIT(b, "=");
}

/* A key's length known at compile time where it is a literal: a record
 * is two dozen keys. */
#define act_key(b, json, key) \
	act_key_n((b), (json), (key), __builtin_constant_p(key) ? sizeof(key) - 1 : strlen(key))

static int act_str(struct buf *b, bool json, struct buf_slice s)
{
	/* the usual printable ASCII is copied as is, past the escapers */
	bool plain = output_plain_ascii(s.ptr, s.len, json);

	if (!json)
		return plain ? output_put(b, s.ptr, s.len) : escape_text(b, s.ptr, s.len);
	return LIT(b, "\"") | (plain ? output_put(b, s.ptr, s.len) : escape_json(b, s.ptr, s.len)) |
	       LIT(b, "\"");
}

/* A string key: JSON always (null when unknown), text only when known. */
static int act_kv_str(struct buf *b, bool json, const char *key, struct buf_slice s)
{
	if (s.ptr == NULL)
		return json ? act_key(b, json, key) | LIT(b, "null") : 0;
	/* text: a value with blanks in quotes, so that key=value pairs part */
	if (!json && (s.len == 0 || memchr(s.ptr, ' ', s.len) != NULL))
		return act_key(b, json, key) | LIT(b, "\"") | act_str(b, json, s) | LIT(b, "\"");
	return act_key(b, json, key) | act_str(b, json, s);
}

static int act_kv_u64(struct buf *b, bool json, const char *key, uint64_t v)
{
	if (v == FACT_NONE)
		return json ? act_key(b, json, key) | LIT(b, "null") : 0;
	return act_key(b, json, key) | output_append_u64(b, v);
}

static int act_kv_bool(struct buf *b, bool json, const char *key, bool v)
{
	return act_key(b, json, key) | (v ? LIT(b, "true") : LIT(b, "false"));
}

/* A flag list as a JSON array of strings, or "(\Seen \Flagged)". */
static int act_kv_flags(struct buf *b, bool json, const char *key, struct buf_slice list)
{
	struct imap_flag_iter it;
	struct buf_slice f;
	bool first = true;
	int rc;

	if (list.ptr == NULL)
		return json ? act_key(b, json, key) | LIT(b, "null") : 0;
	rc = act_key(b, json, key) | (json ? LIT(b, "[") : LIT(b, "("));
	imap_flags_init(&it, list);
	while (imap_flags_next(&it, &f)) {
		if (!first)
			rc |= json ? LIT(b, ",") : LIT(b, " ");
		rc |= act_str(b, json, f);
		first = false;
	}
	return rc | (json ? LIT(b, "]") : LIT(b, ")"));
}

static int act_kv_items(struct buf *b, bool json, const struct act_rec *r)
{
	size_t i;
	bool first = true;
	int rc = act_key(b, json, "items") | (json ? LIT(b, "[") : 0);

	if (r->envelope) {
		rc |= json ? LIT(b, "\"ENVELOPE\"") : LIT(b, "ENVELOPE");
		first = false;
	}
	for (i = 0; i < r->ff->n_sections; i++) {
		if (!first)
			rc |= LIT(b, ",");
		rc |= act_str(b, json, r->ff->sections[i]);
		first = false;
	}
	return rc | (json ? LIT(b, "]") : 0);
}

/* SEARCH results kept as "2 4 7": a JSON array of numbers. */
static int act_kv_results(struct buf *b, bool json, const struct act_rec *r)
{
	size_t i;
	int rc;

	if (!json)
		return 0;
	rc = act_key(b, json, "results");
	if (!r->results_known)
		return rc | LIT(b, "null");
	rc |= LIT(b, "[");
	for (i = 0; i < r->results.len; i++)
		rc |= r->results.ptr[i] == ' ' ? LIT(b, ",") : output_put(b, r->results.ptr + i, 1);
	return rc | LIT(b, "]");
}

static int act_identity(struct buf *b, bool json, const struct act_rec *r)
{
	int rc = act_kv_u64(b, json, "uidvalidity", r->uidvalidity) |
		 act_kv_u64(b, json, "uid", r->uid) | act_kv_u64(b, json, "seq", r->seq) |
		 act_kv_u64(b, json, "size", r->size);
	int i;

	for (i = 0; i < ACT_N_FIELDS; i++)
		rc |= act_kv_str(b, json, act_field_key[i], r->field[i]);
	return rc;
}

static int act_extras(struct buf *b, bool json, const struct act_rec *r)
{
	int rc = 0;

	if (r->ff != NULL)
		rc |= act_kv_items(b, json, r) | act_kv_bool(b, json, "partial", r->partial) |
		      act_kv_u64(b, json, "bytes", r->bytes);
	if (r->flags_key != NULL) {
		rc |= act_kv_flags(b, json, r->flags_key, r->flags_arg);
		if (r->confirm_known)
			rc |= act_kv_flags(b, json, "flags", r->confirm);
		else if (json)
			rc |= act_key(b, json, "flags") | LIT(b, "null");
	}
	if (r->has_to) {
		rc |= act_kv_str(b, json, "to_mailbox", r->to_mailbox);
		if (r->to_ids)
			rc |= act_kv_u64(b, json, "to_uidvalidity", r->to_uidvalidity) |
			      act_kv_u64(b, json, "to_uid", r->to_uid);
	}
	if (r->is_append)
		rc |= act_kv_flags(b, json, "flags", r->app_flags) |
		      act_kv_str(b, json, "internal_date", r->internal_date);
	if (r->is_select)
		rc |= act_kv_u64(b, json, "exists", r->exists) |
		      act_kv_u64(b, json, "uidvalidity", r->uidvalidity);
	if (r->is_search)
		rc |= act_kv_str(b, json, "criteria", r->criteria) |
		      act_kv_u64(b, json, "count", r->count) | act_kv_results(b, json, r);
	return rc;
}

/* The record but its result: up to it, then (at *head_r) what follows it
 * (JSON: the frames of ev, the event that told the action, and the flow). */
static int act_render(struct activity *a, struct act_session *s, struct buf *b,
		      const struct event *ev, const struct act_rec *r, size_t *head_r)
{
	bool json = a->json;
	struct buf_slice user = s->user_known ? (struct buf_slice){ s->user.data, s->user.len }
					      : SLICE_NULL;
	const char *cmd = imap_vocab_command_def(r->cmd)->name;
	int rc;

	if (json) {
		rc = LIT(b, "{\"v\":" OUTPUT_JSON_VERSION ",\"ts\":\"") |
		     output_time_append_rfc3339(b, &a->clock, ev->ts_us) |
		     LIT(b, "\",\"session\":") | output_append_u64(b, s->id) |
		     LIT(b, ",\"type\":\"activity\",\"client\":\"") | output_put(b, s->client, strlen(s->client)) |
		     LIT(b, "\",\"server\":\"") | output_put(b, s->server, strlen(s->server)) |
		     LIT(b, "\"") | act_kv_str(b, json, "user", user) |
		     act_kv_str(b, json, "tag", r->tag) |
		     act_key(b, json, "command") | LIT(b, "\"") | output_put(b, cmd, strlen(cmd)) |
		     LIT(b, "\",\"action\":\"") | output_put(b, r->action, strlen(r->action)) |
		     LIT(b, "\"") | act_kv_str(b, json, "mailbox", r->mailbox);
	} else {
		rc = output_time_append_rfc3339(b, &a->clock, ev->ts_us) | LIT(b, " #") |
		     output_append_u64(b, s->id) | LIT(b, " ") |
		     (user.ptr != NULL ? escape_text(b, user.ptr, user.len) : LIT(b, "-")) |
		     LIT(b, " ") | output_put(b, r->action, strlen(r->action)) | LIT(b, " ") |
		     (r->mailbox.ptr != NULL ? escape_text(b, r->mailbox.ptr, r->mailbox.len)
					     : LIT(b, "-"));
	}
	if (r->msg)
		rc |= act_identity(b, json, r);
	rc |= act_extras(b, json, r);
	*head_r = b->len;
	if (json)
		rc |= output_json_append_frames(b, ev) | output_json_append_flow(b, ev->flow);
	return rc;
}

/* The result: "OK", "NO", "BAD" or null, and the completion's response
 * code; the line's end is the caller's. */
static int act_result(struct buf *b, bool json, const struct event *done)
{
	const char *code = NULL;

	if (done != NULL && done->u.response.rcode.id > IMAP_CODE_OTHER)
		code = imap_vocab_code_name(done->u.response.rcode.id);
	if (!json) {
		int rc = LIT(b, " -> ");

		if (done == NULL)
			return rc | LIT(b, "?");
		rc |= escape_text(b, done->u.response.status.ptr, done->u.response.status.len);
		if (code != NULL)
			rc |= LIT(b, " [") | output_put(b, code, strlen(code)) | LIT(b, "]");
		return rc;
	}
	if (done == NULL)
		return LIT(b, ",\"result\":null,\"code\":null");
	return LIT(b, ",\"result\":") | act_str(b, true, done->u.response.status) |
	       LIT(b, ",\"code\":") |
	       (code != NULL ? LIT(b, "\"") | output_put(b, code, strlen(code)) | LIT(b, "\"")
			     : LIT(b, "null"));
}

/* ---- the roll-up ---- */

static void act_roll_add(struct act_rollup *ru, enum act_kind k, struct buf_slice name,
			 uint64_t count, uint64_t bytes)
{
	size_t i, len = name.ptr != NULL ? name.len : 0;

	if (len > ACT_NAME_MAX)
		len = ACT_NAME_MAX;	/* a longer name is shown cut */
	for (i = 0; i < ru->n; i++) {
		struct act_roll *r = &ru->rows[i];

		if (r->kind == k && r->namelen == len && (len == 0 || memcmp(r->name, name.ptr, len) == 0)) {
			r->count += count;
			r->bytes += bytes;
			return;
		}
	}
	if (ru->n == ACTIVITY_MAX_ROLLUP) {
		ru->lost += count;
		return;
	}
	ru->rows[ru->n] = (struct act_roll){ .kind = k, .namelen = (uint16_t)len,
					     .count = count, .bytes = bytes };
	if (len != 0)
		memcpy(ru->rows[ru->n].name, name.ptr, len);
	ru->n++;
}

static void act_rollup_merge(struct act_rollup *to, const struct act_rollup *from)
{
	size_t i;

	for (i = 0; i < from->n; i++) {
		const struct act_roll *r = &from->rows[i];

		act_roll_add(to, r->kind, (struct buf_slice){ (const uint8_t *)r->name, r->namelen },
			     r->count, r->bytes);
	}
	to->lost += from->lost;
}

static bool act_kind_of(const char *action, enum act_kind *k_r)
{
	static const char *const names[AK_N] = {
		"read", "read_headers", "flags", "expunge", "copy", "move", "append",
		"mailbox_create", "mailbox_delete", "mailbox_rename", "search",
	};
	int i;

	for (i = 0; i < AK_N; i++)
		if (strcmp(action, names[i]) == 0) {
			*k_r = (enum act_kind)i;
			return true;
		}
	return false;
}

/* A record counts in the roll-up unless its command was refused. */
static void act_roll_record(struct act_session *s, const struct act_rec *r, bool refused)
{
	enum act_kind k;

	if (refused || !act_kind_of(r->action, &k))
		return;
	act_roll_add(&s->roll, k, r->has_to && k != AK_RENAME ? r->to_mailbox : r->mailbox, 1,
		     k == AK_READ ? r->bytes : 0);
}

/* ---- per-session state ---- */

static struct act_inflight *act_infl_find(struct act_session *s, struct buf_slice tag)
{
	size_t i;

	if (tag.ptr == NULL || tag.len > ACT_TAG_MAX)
		return NULL;
	for (i = 0; i < ACTIVITY_MAX_INFLIGHT; i++) {
		struct act_inflight *f = &s->infl[i];

		if (f->used && f->taglen == tag.len && memcmp(f->tag, tag.ptr, tag.len) == 0)
			return f;
	}
	return NULL;
}

/* A slot freed keeps small buffers for the next command (one allocation
 * per command saved); a large one is given back. */
#define ACT_KEEP_BUF 512

static void act_buf_drop(struct buf *b)
{
	if (b->cap > ACT_KEEP_BUF)
		buf_free(b);
	else
		buf_reset(b);
}

static void act_infl_free(struct act_inflight *f)
{
	act_buf_drop(&f->set);
	act_buf_drop(&f->flags);
	act_buf_drop(&f->aux);
	act_buf_drop(&f->gone);
	f->used = false;
}

static struct act_session *act_session_get(struct activity *a, const struct event *ev)
{
	struct hashtab_node *n;
	struct act_session *s;
	uint64_t h;
	size_t i;

	if (a->last != NULL && a->last->id == ev->session)
		return a->last;
	h = hashtab_hash(&a->sessions, &ev->session, sizeof ev->session);
	for (n = hashtab_first(&a->sessions, h); n != NULL; n = hashtab_next(n, h)) {
		s = HASHTAB_ENTRY(n, struct act_session, hnode);
		if (s->id == ev->session)
			return a->last = s;
	}
	/* state is made when the session is first seen logged in: a session
	 * that never is costs nothing */
	if (ev->type == EV_SESSION_END || (ev->facts->state != IMAP_STATE_AUTH &&
					   ev->facts->state != IMAP_STATE_SELECTED))
		return NULL;
	if (hashtab_reserve(&a->sessions) != 0 || mem_charge(a->budget, sizeof *s) != 0) {
		a->lost++;
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		mem_release(a->budget, sizeof *s);
		a->lost++;
		return NULL;
	}
	s->id = ev->session;
	snprintf(s->client, sizeof s->client, "%s", ev->client);
	snprintf(s->server, sizeof s->server, "%s", ev->server);
	buf_init(&s->user, ACTIVITY_MAX_FIELD, a->budget);
	buf_init(&s->pend, ACTIVITY_MAX_PENDING_BYTES, a->budget);
	for (i = 0; i < ACTIVITY_MAX_INFLIGHT; i++) {
		buf_init(&s->infl[i].set, ACTIVITY_MAX_AUX, a->budget);
		buf_init(&s->infl[i].flags, ACTIVITY_MAX_FIELD, a->budget);
		buf_init(&s->infl[i].aux, ACTIVITY_MAX_AUX, a->budget);
		buf_init(&s->infl[i].gone, ACTIVITY_MAX_AUX, a->budget);
	}
	hashtab_link(&a->sessions, &s->hnode, h);
	return a->last = s;
}

static void act_session_free(struct activity *a, struct act_session *s)
{
	size_t i;

	for (i = 0; i < ACTIVITY_MAX_INFLIGHT; i++) {
		buf_free(&s->infl[i].set);
		buf_free(&s->infl[i].flags);
		buf_free(&s->infl[i].aux);
		buf_free(&s->infl[i].gone);
	}
	buf_free(&s->user);
	buf_free(&s->pend);
	free(s->pends);
	mem_release(a->budget, s->cap_pends * sizeof *s->pends);
	mem_release(a->budget, sizeof *s);
	free(s);
}

/* ---- the --html rows ---- */

/* A flat row per record for the page (report/html.h sections): the keys
 * a reader scans for, wire text cut to ACTIVITY_HTML_TEXT bytes.  The
 * result is not known yet: "null " holds its place, five bytes that
 * "OK", "NO" and "BAD" in quotes (and a blank) overwrite on completion. */
static int act_row_str(struct buf *b, const char *key, struct buf_slice s)
{
	int rc = LIT(b, ",\"") | output_put(b, key, strlen(key)) | LIT(b, "\":");

	if (s.ptr == NULL)
		return rc | LIT(b, "null");
	return rc | LIT(b, "\"") |
	       html_json_string(b, s.ptr, s.len < ACTIVITY_HTML_TEXT ? s.len : ACTIVITY_HTML_TEXT,
				false) | LIT(b, "\"");
}

/* The row of r, or ACT_NO_ROW; returns the offset of its result. */
static size_t act_row(struct activity *a, const struct act_session *s, const struct event *ev,
		      const struct act_rec *r)
{
	struct buf *b = &a->rows;
	size_t mark = b->len, res;
	const char *cmd;
	int rc;

	if (!a->rows_on)
		return ACT_NO_ROW;
	if (a->n_rows >= ACTIVITY_HTML_ROWS) {
		a->rows_omitted++;
		return ACT_NO_ROW;
	}
	cmd = imap_vocab_command_def(r->cmd)->name;
	rc = (mark != 0 ? LIT(b, ",{\"ts\":") : LIT(b, "{\"ts\":")) | output_append_i64(b, ev->ts_us) |
	     LIT(b, ",\"session\":") | output_append_u64(b, s->id) |
	     act_row_str(b, "user", s->user_known ? (struct buf_slice){ s->user.data, s->user.len }
						 : SLICE_NULL) |
	     act_row_str(b, "action", (struct buf_slice){ (const uint8_t *)r->action,
							  strlen(r->action) }) |
	     act_row_str(b, "command", (struct buf_slice){ (const uint8_t *)cmd, strlen(cmd) }) |
	     act_row_str(b, "mailbox", r->mailbox) | LIT(b, ",\"uid\":") |
	     (r->msg && r->uid != FACT_NONE ? output_append_u64(b, r->uid) : LIT(b, "null")) |
	     act_row_str(b, "subject", r->msg ? r->field[ACT_SUBJ] : SLICE_NULL) |
	     act_row_str(b, "to_mailbox", r->has_to ? r->to_mailbox : SLICE_NULL) |
	     LIT(b, ",\"result\":");
	res = b->len;
	rc |= LIT(b, "null }");
	if (rc != 0) {
		b->len = mark;
		a->rows_omitted++;
		return ACT_NO_ROW;
	}
	a->n_rows++;
	return res;
}

static void act_row_result(struct activity *a, size_t row, const struct event *done)
{
	const char *v;

	if (row == ACT_NO_ROW || done == NULL)
		return;
	switch (done->u.response.id) {
	case IMAP_R_OK:
		v = "\"OK\" ";
		break;
	case IMAP_R_NO:
		v = "\"NO\" ";
		break;
	case IMAP_R_BAD:
		v = "\"BAD\"";
		break;
	default:
		return;
	}
	memcpy(a->rows.data + row, v, 5);
}

/* ---- writing records ---- */

static void act_row_result(struct activity *a, size_t row, const struct event *done);

static void act_write_line(struct activity *a, const uint8_t *p, size_t head, size_t n,
			   const struct event *done, size_t row)
{
	struct buf *b;

	act_row_result(a, row, done);
	if (!output_sink_live(&a->sink))
		return;
	b = output_sink_begin(&a->sink);
	output_sink_end(&a->sink, output_put(b, p, head) | act_result(b, a->json, done) |
				  output_put(b, p + head, n - head) |
				  (a->json ? LIT(b, "}\n") : LIT(b, "\n")));
}

static void act_flush(struct activity *a, struct act_session *s, struct buf_slice tag,
		      const struct event *done);

/* A MOVE's move record goes before the expunge records of its command and
 * after its move records of lower numbers: the last entry moved back. */
static void act_pend_place_move(struct act_session *s)
{
	size_t i = s->n_pends - 1;
	struct act_pending p = s->pends[i];

	while (i > 0) {
		const struct act_pending *q = &s->pends[i - 1];

		if (q->taglen != p.taglen || memcmp(q->tag, p.tag, p.taglen) != 0 ||
		    (q->move && q->key <= p.key))
			break;
		s->pends[i] = *q;
		i--;
	}
	s->pends[i] = p;
}

/* A record of the command tag: held until its completion, or written at
 * once with done (a completion) or with result null when it cannot wait.
 * ev: the event that told the action (its time and frames). */
static void act_emit(struct activity *a, struct act_session *s, const struct event *ev,
		     const struct act_rec *r, const struct event *done)
{
	struct act_pending *p;
	size_t start = s->pend.len, head, row;
	bool refused = done != NULL && done->u.response.id != IMAP_R_OK;

	act_roll_record(s, r, refused);
	if (act_render(a, s, &s->pend, ev, r, &head) != 0) {
		/* full: what waits goes out now, without its result */
		s->pend.len = start;
		act_flush(a, s, SLICE_NULL, NULL);
		start = 0;
		if (act_render(a, s, &s->pend, ev, r, &head) != 0) {
			s->pend.len = 0;
			a->lost++;
			s->roll.lost++;
			return;
		}
	}
	row = act_row(a, s, ev, r);
	if (done == NULL && r->tag.ptr != NULL && r->tag.len <= ACT_TAG_MAX &&
	    s->n_pends == s->cap_pends) {
		p = mem_grow_array(a->budget, s->pends, &s->cap_pends, sizeof *s->pends, 8,
				   SIZE_MAX / sizeof *s->pends);
		if (p != NULL)
			s->pends = p;
	}
	if (done != NULL || r->tag.ptr == NULL || r->tag.len > ACT_TAG_MAX ||
	    s->n_pends == s->cap_pends) {
		act_write_line(a, s->pend.data + start, head - start, s->pend.len - start, done,
			       row);
		s->pend.len = start;
		return;
	}
	p = &s->pends[s->n_pends++];
	p->taglen = (uint8_t)r->tag.len;
	memcpy(p->tag, r->tag.ptr, r->tag.len);
	p->move = r->move;
	p->key = r->seq;
	p->off = start;
	p->head = head - start;
	p->len = s->pend.len - start;
	p->row = row;
	if (r->move)
		act_pend_place_move(s);
}

/* The records waiting for tag (all when tag is null) go out with done. */
static void act_flush(struct activity *a, struct act_session *s, struct buf_slice tag,
		      const struct event *done)
{
	size_t i, kept = 0;

	for (i = 0; i < s->n_pends; i++) {
		struct act_pending *p = &s->pends[i];

		if (tag.ptr == NULL || (p->taglen == tag.len && memcmp(p->tag, tag.ptr, tag.len) == 0))
			act_write_line(a, s->pend.data + p->off, p->head, p->len, done, p->row);
		else
			s->pends[kept++] = *p;
	}
	s->n_pends = kept;
	if (kept == 0)
		s->pend.len = 0;	/* the space of records written is reused when none waits */
}

/* ---- actions ---- */

static bool act_is_uid_cmd(enum imap_cmd_id id)
{
	return id == IMAP_CMD_UID_STORE || id == IMAP_CMD_UID_COPY || id == IMAP_CMD_UID_MOVE ||
	       id == IMAP_CMD_UID_FETCH;
}

static bool act_is_fetch(enum imap_cmd_id id)
{
	return id == IMAP_CMD_FETCH || id == IMAP_CMD_UID_FETCH;
}

static bool act_is_store(enum imap_cmd_id id)
{
	return id == IMAP_CMD_STORE || id == IMAP_CMD_UID_STORE;
}

static bool act_is_move(enum imap_cmd_id id)
{
	return id == IMAP_CMD_MOVE || id == IMAP_CMD_UID_MOVE;
}

/* The message keys of r from the session's identity of it; without one
 * (the session's message facts refused by --max-memory), what the event's
 * own facts say. */
static void act_rec_identity(struct act_rec *r, const struct event *ev,
			     const struct msg_identity *id, uint64_t seq, uint64_t uid)
{
	r->msg = true;
	if (id == NULL) {
		r->mailbox = ev->facts->mailbox;
		r->uidvalidity = ev->facts->uidvalidity;
		r->uid = uid;
		r->seq = seq;
		r->size = FACT_NONE;
		return;
	}
	r->mailbox = id->mailbox;
	r->uidvalidity = id->uidvalidity;
	r->uid = id->uid;
	r->seq = id->seq;
	r->size = id->size;
	r->field[ACT_MID] = id->message_id;
	r->field[ACT_SUBJ] = id->subject;
	r->field[ACT_FROM] = id->from;
	r->field[ACT_DATE] = id->date;
}

/* "BODY[HEADER.FIELDS (X)]", "RFC822.HEADER", "BINARY[1.MIME]": headers. */
static bool act_section_is_header(struct buf_slice s)
{
	size_t i;

	if (s.len >= 6 && memcmp(s.ptr + s.len - 6, "HEADER", 6) == 0)
		return true;
	for (i = 0; i + 6 <= s.len; i++)
		if (memcmp(s.ptr + i, "HEADER", 6) == 0 || (i + 5 <= s.len &&
							    memcmp(s.ptr + i, "MIME]", 5) == 0))
			return true;
	return false;
}

/* Whether the message seq (with uid, FACT_NONE if unknown) is in the
 * command's set (UIDs for the UID commands).  "*" is the largest number in
 * use: EXISTS for a sequence set (every number from the range's other end
 * when EXISTS is not known), and for a UID set every UID from the other
 * end (none in use is larger). */
static bool act_set_has(const struct act_inflight *f, const struct event *ev, uint64_t seq,
			uint64_t uid)
{
	struct imap_seq_iter it;
	struct imap_seq_range rg;
	bool by_uid = act_is_uid_cmd(f->id);
	uint64_t key = by_uid ? uid : seq;
	uint64_t star = by_uid ? FACT_NONE : ev->facts->exists;

	if (!f->set_known || key == FACT_NONE)
		return false;
	imap_seqset_init(&it, (struct buf_slice){ f->set.data, f->set.len });
	while (imap_seqset_next(&it, &rg) == 1) {
		uint64_t lo = rg.lo == IMAP_SEQ_STAR ? star : rg.lo;
		uint64_t hi = rg.hi == IMAP_SEQ_STAR ? star : rg.hi;

		if (lo > hi) {
			uint64_t t = lo;

			lo = hi;
			hi = t;
		}
		if (key >= lo && key <= hi)
			return true;
	}
	return false;
}

/* With several commands in flight the session cannot tell whose a FETCH
 * is: the first one sent that asked for what it carries (content: a
 * FETCH; flags alone: a STORE that is not .SILENT) and whose set holds
 * the message. */
static struct act_inflight *act_fetch_owner(struct act_session *s, const struct event *ev,
					    bool content, uint64_t seq, uint64_t uid)
{
	struct act_inflight *best = NULL;
	size_t i;

	for (i = 0; i < ACTIVITY_MAX_INFLIGHT; i++) {
		struct act_inflight *f = &s->infl[i];
		bool fits = content ? act_is_fetch(f->id)
				    : act_is_store(f->id) && !f->silent;

		if (!f->used || !fits || !act_set_has(f, ev, seq, uid))
			continue;
		if (best == NULL || f->order < best->order)
			best = f;
	}
	return best;
}

static const char *const act_store_keys[] = { "flags_added", "flags_removed", "flags_set" };

/* An untagged FETCH: a FETCH command's data is a read; a STORE's is the
 * flags it confirms. */
static void act_fetch(struct activity *a, struct act_session *s, const struct event *ev)
{
	const struct fetch_facts *ff = ev->u.untagged.fetch;
	const struct msg_identity *id = ev->u.untagged.n_msgs == 1 ? ev->u.untagged.msgs : NULL;
	struct act_inflight *f = act_infl_find(s, ev->u.untagged.tag);
	struct act_rec r = { .cmd = IMAP_CMD_UNKNOWN };
	bool content = false, data;
	size_t i;

	if (ff == NULL)
		return;
	data = ff->n_sections != 0 || ff->date.ptr != NULL || ff->subject.ptr != NULL ||
	       ff->from.ptr != NULL || ff->message_id.ptr != NULL;
	if (f == NULL && ev->u.untagged.tag.ptr == NULL)
		f = act_fetch_owner(s, ev, data, ff->seq, id != NULL ? id->uid : ff->uid);
	if (f == NULL)
		return;
	r.tag = (struct buf_slice){ (const uint8_t *)f->tag, f->taglen };
	r.cmd = f->id;
	act_rec_identity(&r, ev, id, ff->seq, ff->uid);
	if (act_is_fetch(f->id)) {
		r.envelope = ff->date.ptr != NULL || ff->subject.ptr != NULL ||
			     ff->from.ptr != NULL || ff->message_id.ptr != NULL;
		r.bytes = 0;
		for (i = 0; i < ff->n_sections; i++) {
			struct buf_slice sec = ff->sections[i];

			if (ff->section_sizes[i] != FACT_NONE)
				r.bytes += ff->section_sizes[i];
			if (!act_section_is_header(sec)) {
				content = true;
				if (sec.len > 0 && sec.ptr[sec.len - 1] == '>')
					r.partial = true;
			}
		}
		if (!r.envelope && ff->n_sections == 0)
			return;	/* FLAGS, UID, sizes: no content crossed */
		r.ff = ff;
		r.action = content ? "read" : "read_headers";
		act_emit(a, s, ev, &r, NULL);
	} else if (act_is_store(f->id) && ff->flags.ptr != NULL) {
		f->answered = true;
		r.action = "flags";
		r.flags_key = act_store_keys[f->op];
		r.flags_arg = f->aux_known ? (struct buf_slice){ f->flags.data, f->flags.len }
					   : SLICE_NULL;
		r.confirm_known = true;
		r.confirm = ff->flags;
		act_emit(a, s, ev, &r, NULL);
	}
}

/* COPYUID's arguments (args, null if none came): where src_uid went. */
static void act_copyuid(struct buf_slice args, uint64_t src_uid, struct act_rec *r)
{
	struct imap_uidplus u;
	struct imap_uidpair_iter it;
	uint64_t from, to;

	r->to_uidvalidity = r->to_uid = FACT_NONE;
	if (args.ptr == NULL || !imap_args_copyuid(args, &u))
		return;
	r->to_uidvalidity = u.uidvalidity;
	if (src_uid == FACT_NONE)
		return;
	imap_uidpair_init(&it, &u);
	while (imap_uidpair_next(&it, &from, &to) == 1)
		if (from == src_uid) {
			r->to_uid = to;
			return;
		}
}

static struct buf_slice act_buf_slice(const struct buf *b, bool known)
{
	return known ? (struct buf_slice){ b->data, b->len } : SLICE_NULL;
}

/* The number a message a MOVE removed had when the command was sent: its
 * number now (seq) plus those removed before it that were below it.  The
 * numbers removed are kept in f->gone, ascending. */
static uint64_t act_move_place(struct act_inflight *f, uint64_t seq)
{
	uint64_t o = seq, g;
	size_t i, n, at;

	if (seq == FACT_NONE || f->gone_lost) {
		f->gone_lost = true;
		return FACT_NONE;
	}
	n = f->gone.len / sizeof g;
	for (i = 0, at = 0; i < n; i++) {
		memcpy(&g, f->gone.data + i * sizeof g, sizeof g);
		if (g <= o) {
			o++;
			at = i + 1;
		}
	}
	if (buf_append(&f->gone, &o, sizeof o) != 0) {
		f->gone_lost = true;	/* the later ones are not known */
		return o;
	}
	memmove(f->gone.data + (at + 1) * sizeof o, f->gone.data + at * sizeof o,
		(n - at) * sizeof o);
	memcpy(f->gone.data + at * sizeof o, &o, sizeof o);
	return o;
}

/* One message a MOVE removed (told by its EXPUNGE or VANISHED): its move
 * record, before the expunge's. */
static void act_move_record(struct activity *a, struct act_session *s, const struct event *ev,
			    struct act_inflight *f, const struct msg_identity *id, uint64_t seq)
{
	struct act_rec r = { .action = "move", .cmd = f->id, .has_to = true, .to_ids = true,
			     .move = true };

	r.tag = (struct buf_slice){ (const uint8_t *)f->tag, f->taglen };
	act_rec_identity(&r, ev, id, seq, FACT_NONE);
	r.seq = act_move_place(f, r.seq);
	r.to_mailbox = act_buf_slice(&f->flags, f->flags.len != 0);
	act_copyuid(act_buf_slice(&f->aux, f->aux_known), r.uid, &r);
	act_emit(a, s, ev, &r, NULL);
}

/* One message removed.  Only a command that removes messages makes a
 * record: an EXPUNGE on NOOP or FETCH tells of another session's doing. */
static void act_expunge_one(struct activity *a, struct act_session *s, const struct event *ev,
			    struct act_inflight *f, const struct msg_identity *id, uint64_t seq)
{
	struct act_rec r = { .action = "expunge" };

	if (f == NULL || !(f->id == IMAP_CMD_EXPUNGE || f->id == IMAP_CMD_UID_EXPUNGE ||
			   act_is_move(f->id)))
		return;
	if (act_is_move(f->id)) {
		f->answered = true;
		act_move_record(a, s, ev, f, id, seq);
	}
	r.tag = (struct buf_slice){ (const uint8_t *)f->tag, f->taglen };
	r.cmd = f->id;
	act_rec_identity(&r, ev, id, seq, FACT_NONE);
	act_emit(a, s, ev, &r, NULL);
}

/* "VANISHED 5:7" (not "(EARLIER)": those went before): every UID the
 * session names. */
static void act_vanished(struct activity *a, struct act_session *s, const struct event *ev)
{
	struct act_inflight *f = act_infl_find(s, ev->u.untagged.tag);
	size_t i;

	if (ev->u.untagged.vanished == NULL || ev->u.untagged.vanished->earlier)
		return;
	if (ev->u.untagged.msgs_cut) {
		s->roll.lost++;
		a->lost++;
	}
	for (i = 0; i < ev->u.untagged.n_msgs; i++)
		act_expunge_one(a, s, ev, f, &ev->u.untagged.msgs[i], FACT_NONE);
}

static void act_search_data(struct act_session *s, const struct event *ev)
{
	struct act_inflight *f = act_infl_find(s, ev->u.untagged.tag);
	struct buf_slice t = ev->u.untagged.text;
	size_t i = 6;

	if (f == NULL || t.len < 6)
		return;
	f->aux_known = true;
	while (i < t.len) {
		size_t start;

		while (i < t.len && t.ptr[i] == ' ')
			i++;
		start = i;
		while (i < t.len && t.ptr[i] >= '0' && t.ptr[i] <= '9')
			i++;
		if (i == start)
			break;	/* "(MODSEQ n)" ends the numbers */
		f->count++;
		if ((f->aux.len != 0 && buf_append(&f->aux, " ", 1) != 0) ||
		    buf_append(&f->aux, t.ptr + start, i - start) != 0)
			f->set_known = true;	/* results cut: listed as null */
	}
}

static void act_untagged(struct activity *a, struct act_session *s, const struct event *ev)
{
	struct act_inflight *f;

	switch (ev->u.untagged.id) {
	case IMAP_R_FETCH:
		act_fetch(a, s, ev);
		break;
	case IMAP_R_EXPUNGE:
		if (ev->u.untagged.has_number)
			act_expunge_one(a, s, ev, act_infl_find(s, ev->u.untagged.tag),
					ev->u.untagged.n_msgs == 1 ? ev->u.untagged.msgs : NULL,
					ev->u.untagged.number);
		break;
	case IMAP_R_VANISHED:
		act_vanished(a, s, ev);
		break;
	case IMAP_R_SEARCH:
		act_search_data(s, ev);
		break;
	case IMAP_R_OK:
		/* a MOVE's COPYUID comes before its expunges (RFC 6851) */
		f = act_infl_find(s, ev->u.untagged.tag);
		if (f != NULL && ev->u.untagged.rcode.id == IMAP_CODE_COPYUID && !f->aux_known &&
		    buf_append(&f->aux, ev->u.untagged.rcode.args.ptr,
			       ev->u.untagged.rcode.args.len) == 0)
			f->aux_known = true;
		break;
	default:
		break;
	}
}

/* APPEND: the message's identity kept in f->aux until the completion
 * (each field a presence byte, two length bytes, the bytes). */
static void act_keep_append(struct act_inflight *f, const struct msg_identity *id)
{
	struct buf_slice src[ACT_N_FIELDS] = { id->message_id, id->subject, id->from, id->date };
	int k;

	f->aux_known = true;
	for (k = 0; k < ACT_N_FIELDS; k++) {
		size_t n = src[k].ptr != NULL && src[k].len <= ACTIVITY_MAX_FIELD ? src[k].len : 0;
		uint8_t hd[3] = { n == src[k].len && src[k].ptr != NULL, (uint8_t)(n >> 8),
				  (uint8_t)n };

		if (buf_append(&f->aux, hd, 3) != 0 ||
		    (n != 0 && hd[0] && buf_append(&f->aux, src[k].ptr, n) != 0))
			f->aux_known = false;
	}
}

static void act_append_fields(const struct act_inflight *f, struct act_rec *r)
{
	size_t off = 0;
	int k;

	if (!f->aux_known)
		return;
	for (k = 0; k < ACT_N_FIELDS && off + 3 <= f->aux.len; k++) {
		size_t n = (size_t)f->aux.data[off + 1] << 8 | f->aux.data[off + 2];
		bool present = f->aux.data[off] != 0;

		off += 3;
		if (present && off + n <= f->aux.len)
			r->field[k] = (struct buf_slice){ f->aux.data + off, n };
		off += present ? n : 0;
	}
}

static void act_command(struct activity *a, struct act_session *s, const struct event *ev)
{
	const struct command_facts *cf = ev->u.command.facts;
	struct buf_slice tag = ev->u.command.tag;
	struct act_inflight *f = NULL;
	size_t i;

	if (tag.len > ACT_TAG_MAX || tag.ptr == NULL)
		return;
	for (i = 0; i < ACTIVITY_MAX_INFLIGHT && f == NULL; i++)
		if (!s->infl[i].used)
			f = &s->infl[i];
	if (f == NULL) {
		s->roll.lost++;
		a->lost++;
		return;
	}
	f->used = true;
	f->taglen = (uint8_t)tag.len;
	memcpy(f->tag, tag.ptr, tag.len);
	f->id = cf->id;
	f->answered = f->set_known = f->aux_known = f->silent = f->gone_lost = false;
	f->count = 0;
	f->order = ++s->commands;
	f->literal_bytes = ev->u.command.literal_bytes;
	buf_reset(&f->set);
	buf_reset(&f->flags);
	buf_reset(&f->aux);
	buf_reset(&f->gone);
	if (ev->u.command.append != NULL)
		act_keep_append(f, ev->u.command.append);
	if (act_is_move(cf->id) && cf->mailbox.ptr != NULL &&
	    buf_append(&f->flags, cf->mailbox.ptr, cf->mailbox.len) != 0)
		buf_reset(&f->flags);
	/* the set, for the FETCH data the session could not tell the owner of */
	if ((act_is_fetch(cf->id) || act_is_store(cf->id)) && cf->seqset.ptr != NULL &&
	    buf_append(&f->set, cf->seqset.ptr, cf->seqset.len) == 0)
		f->set_known = true;
	if (act_is_store(cf->id)) {
		struct buf_slice it = cf->items;

		f->op = it.len > 0 && it.ptr[0] == '+' ? ACT_STORE_ADD :
			it.len > 0 && it.ptr[0] == '-' ? ACT_STORE_REMOVE : ACT_STORE_SET;
		f->silent = it.len >= 7 && buf_slice_ieq((struct buf_slice){
				it.ptr + it.len - 7, 7 }, ".SILENT");
		if (cf->flags.ptr != NULL && buf_append(&f->flags, cf->flags.ptr, cf->flags.len) == 0)
			f->aux_known = true;
	}
}

/* One record per message the completed command named (the session's
 * response.msgs), from the template t. */
static void act_set_records(struct activity *a, struct act_session *s, const struct event *ev,
			    const struct act_rec *t, struct buf_slice copyuid)
{
	size_t i;

	if (ev->u.response.msgs_cut) {
		s->roll.lost++;
		a->lost++;
	}
	for (i = 0; i < ev->u.response.n_msgs; i++) {
		struct act_rec r = *t;

		act_rec_identity(&r, ev, &ev->u.response.msgs[i], FACT_NONE, FACT_NONE);
		if (r.has_to)
			act_copyuid(copyuid, r.uid, &r);
		act_emit(a, s, ev, &r, ev);
	}
}

/* STORE, COPY, MOVE, CLOSE: the records of the messages they named that
 * no untagged response told. */
static void act_response_set(struct activity *a, struct act_session *s, const struct event *ev,
			     struct act_inflight *f, enum imap_cmd_id id)
{
	struct act_rec t = { .cmd = id, .tag = ev->u.response.tag };
	struct buf_slice copyuid = ev->u.response.rcode.id == IMAP_CODE_COPYUID
				   ? ev->u.response.rcode.args : act_buf_slice(&f->aux, f->aux_known);

	if (act_is_store(id)) {
		if (f->answered)
			return;
		t.action = "flags";
		t.flags_key = act_store_keys[f->op];
		t.flags_arg = act_buf_slice(&f->flags, f->aux_known);
	} else if (act_is_move(id)) {
		if (f->answered)
			return;
		t.action = "move";
		t.has_to = t.to_ids = true;
		t.to_mailbox = act_buf_slice(&f->flags, f->flags.len != 0);
	} else if (id == IMAP_CMD_COPY || id == IMAP_CMD_UID_COPY) {
		t.action = "copy";
		t.has_to = t.to_ids = true;
		t.to_mailbox = ev->u.response.cmd != NULL ? ev->u.response.cmd->mailbox
							   : SLICE_NULL;
	} else if (id == IMAP_CMD_CLOSE) {
		t.action = "expunge";
	} else {
		return;
	}
	act_flush(a, s, t.tag, ev);
	act_set_records(a, s, ev, &t, copyuid);
}

/* The tagged completion: the command's own records, then those waiting. */
static void act_response(struct activity *a, struct act_session *s, const struct event *ev)
{
	static const struct command_facts none;
	const struct command_facts *cf = ev->u.response.cmd;
	struct act_inflight *f = act_infl_find(s, ev->u.response.tag);
	struct command_facts bare;
	struct act_rec r = { .tag = ev->u.response.tag };
	bool ok = ev->u.response.id == IMAP_R_OK;

	if (f == NULL) {
		act_flush(a, s, ev->u.response.tag, ev);
		return;
	}
	if (cf == NULL) {	/* a command without arguments keeps no copy */
		bare = none;
		bare.id = f->id;
		cf = &bare;
	}
	r.cmd = cf->id;
	r.mailbox = cf->mailbox;
	switch (cf->id) {
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE:
		r.action = cf->id == IMAP_CMD_SELECT ? "select" : "examine";
		r.is_select = true;
		r.exists = ok ? ev->facts->exists : FACT_NONE;
		r.uidvalidity = ok ? ev->facts->uidvalidity : FACT_NONE;
		break;
	case IMAP_CMD_CREATE: r.action = "mailbox_create"; break;
	case IMAP_CMD_DELETE: r.action = "mailbox_delete"; break;
	case IMAP_CMD_SUBSCRIBE: r.action = "subscribe"; break;
	case IMAP_CMD_UNSUBSCRIBE: r.action = "unsubscribe"; break;
	case IMAP_CMD_RENAME:
		r.action = "mailbox_rename";
		r.has_to = true;
		r.to_mailbox = cf->mailbox2;
		break;
	case IMAP_CMD_SEARCH:
	case IMAP_CMD_UID_SEARCH:
		r.action = "search";
		r.mailbox = ev->facts->mailbox;
		r.is_search = true;
		r.criteria = cf->items;
		r.count = f->aux_known || ok ? f->count : FACT_NONE;
		r.results_known = (f->aux_known || ok) && !f->set_known;
		r.results = (struct buf_slice){ f->aux.data, f->aux.len };
		break;
	case IMAP_CMD_APPEND: {
		struct imap_uidplus u;
		struct imap_seq_iter it;
		struct imap_seq_range rg;
		bool known = ev->u.response.rcode.id == IMAP_CODE_APPENDUID &&
			     imap_args_appenduid(ev->u.response.rcode.args, &u);

		r.action = "append";
		r.msg = true;
		r.uidvalidity = r.uid = r.seq = FACT_NONE;
		if (known) {
			/* one message appended: one UID */
			imap_seqset_init(&it, u.dst);
			r.uidvalidity = u.uidvalidity;
			if (imap_seqset_next(&it, &rg) == 1 && rg.lo == rg.hi)
				r.uid = rg.lo;
		}
		r.size = f->literal_bytes;
		r.is_append = true;
		r.app_flags = cf->flags;
		act_append_fields(f, &r);
		r.internal_date = cf->date;
		break;
	}
	case IMAP_CMD_CLOSE:
		if (!ok)
			break;
		/* fall through */
	case IMAP_CMD_STORE:
	case IMAP_CMD_UID_STORE:
	case IMAP_CMD_COPY:
	case IMAP_CMD_UID_COPY:
	case IMAP_CMD_MOVE:
	case IMAP_CMD_UID_MOVE:
		act_response_set(a, s, ev, f, cf->id);
		break;
	default:
		break;
	}
	if (r.action != NULL)
		act_emit(a, s, ev, &r, ev);
	act_flush(a, s, r.tag, ev);
	act_infl_free(f);
}

/* ---- roll-ups ---- */

/* "2.1 MB", "420 B": bytes for people. */
static int act_human_bytes(struct buf *b, uint64_t n)
{
	char tmp[32];

	if (n < 1000)
		snprintf(tmp, sizeof tmp, "%" PRIu64 " B", n);
	else if (n < 1000000)
		snprintf(tmp, sizeof tmp, "%.1f kB", (double)n / 1e3);
	else if (n < 1000000000)
		snprintf(tmp, sizeof tmp, "%.1f MB", (double)n / 1e6);
	else
		snprintf(tmp, sizeof tmp, "%.1f GB", (double)n / 1e9);
	return output_put(b, tmp, strlen(tmp));
}

static const char *const act_kind_name[AK_N] = {
	"read", "read_headers", "flags", "expunge", "copy", "move", "append",
	"mailbox_create", "mailbox_delete", "mailbox_rename", "search",
};

/* "read 37 messages (2.1 MB) in INBOX", "moved 12 to Archive", ... */
static int act_roll_text(struct buf *b, const struct act_roll *r)
{
	static const char *const verb[AK_N] = {
		"read", "read the headers of", "changed the flags of", "deleted", "copied",
		"moved", "appended", "created", "deleted folder", "renamed", "searched",
	};
	struct buf_slice name = { (const uint8_t *)r->name, r->namelen };
	int rc = output_put(b, verb[r->kind], strlen(verb[r->kind])) | LIT(b, " ");

	switch (r->kind) {
	case AK_CREATE: case AK_DELETE: case AK_RENAME:
		return rc | escape_text(b, name.ptr, name.len) |
		       (r->count > 1 ? LIT(b, " (") | output_append_u64(b, r->count) |
				       LIT(b, " times)") : 0);
	case AK_SEARCH:
		return rc | output_append_u64(b, r->count) | LIT(b, " times in ") |
		       escape_text(b, name.ptr, name.len);
	default:
		break;
	}
	rc |= output_append_u64(b, r->count) |
	      (r->kind == AK_READ ? (r->count == 1 ? LIT(b, " message (") : LIT(b, " messages ("))
				    | act_human_bytes(b, r->bytes) | LIT(b, ")") : 0);
	return rc | (r->kind == AK_COPY || r->kind == AK_MOVE || r->kind == AK_APPEND
		     ? LIT(b, " to ") : LIT(b, " in ")) | escape_text(b, name.ptr, name.len);
}

static int act_roll_json(struct buf *b, const struct act_rollup *ru)
{
	size_t i;
	int rc = LIT(b, ",\"actions\":[");

	for (i = 0; i < ru->n; i++) {
		const struct act_roll *r = &ru->rows[i];

		rc |= (i ? LIT(b, ",") : 0) | LIT(b, "{\"action\":\"") |
		      output_put(b, act_kind_name[r->kind], strlen(act_kind_name[r->kind])) |
		      LIT(b, "\",\"mailbox\":\"") | escape_json(b, (const uint8_t *)r->name, r->namelen) |
		      LIT(b, "\",\"count\":") | output_append_u64(b, r->count) |
		      LIT(b, ",\"bytes\":") | output_append_u64(b, r->bytes) | LIT(b, "}");
	}
	return rc | LIT(b, "],\"lost\":") | output_append_u64(b, ru->lost);
}

static int act_roll_line(struct buf *b, const struct act_rollup *ru)
{
	size_t i;
	int rc = 0;

	if (ru->n == 0)
		rc |= LIT(b, " nothing");
	for (i = 0; i < ru->n; i++)
		rc |= (i ? LIT(b, ", ") : LIT(b, " ")) | act_roll_text(b, &ru->rows[i]);
	if (ru->lost != 0)
		rc |= LIT(b, " (") | output_append_u64(b, ru->lost) | LIT(b, " actions not followed:"
		      " over the limits of --activity or --max-memory)");
	return rc | LIT(b, "\n");
}

/* The client's address without its port. */
static struct buf_slice act_host(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	size_t n = colon != NULL ? (size_t)(colon - addr) : strlen(addr);

	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']')
		return (struct buf_slice){ (const uint8_t *)addr + 1, n - 2 };
	return (struct buf_slice){ (const uint8_t *)addr, n };
}

static void act_user_add(struct activity *a, const struct act_session *s)
{
	struct buf_slice host = act_host(s->client);
	struct act_user *u = NULL;
	size_t i;

	for (i = 0; i < a->n_users && u == NULL; i++) {
		struct act_user *x = &a->users[i];

		if (x->userlen == s->user.len && x->key.len == s->user.len + 1 + host.len &&
		    memcmp(x->key.data, s->user.data, s->user.len) == 0 &&
		    memcmp(x->key.data + s->user.len + 1, host.ptr, host.len) == 0)
			u = x;
	}
	if (u == NULL) {
		struct act_user *arr;

		if (a->n_users == a->cap_users) {
			arr = mem_grow_array(a->budget, a->users, &a->cap_users, sizeof *a->users,
					     8, ACTIVITY_MAX_USERS);
			if (arr == NULL) {
				a->lost++;
				return;
			}
			a->users = arr;
		}
		u = &a->users[a->n_users];
		memset(u, 0, sizeof *u);
		buf_init(&u->key, ACTIVITY_MAX_FIELD * 2, a->budget);
		if (buf_append(&u->key, s->user.data, s->user.len) != 0 ||
		    buf_append(&u->key, "", 1) != 0 ||
		    buf_append(&u->key, host.ptr, host.len) != 0) {
			buf_free(&u->key);
			a->lost++;
			return;
		}
		u->userlen = s->user.len;
		a->n_users++;
	}
	u->sessions++;
	act_rollup_merge(&u->roll, &s->roll);
}

/* The session's roll-up, at its end; only a session that logged in. */
static void act_session_summary(struct activity *a, const struct act_session *s,
				const struct event *ev)
{
	struct buf *b;
	int rc;

	if (!s->user_known && s->roll.n == 0)
		return;
	if (s->user_known)
		act_user_add(a, s);
	if (!output_sink_live(&a->sink))
		return;
	b = output_sink_begin(&a->sink);
	if (a->json) {
		rc = LIT(b, "{\"v\":" OUTPUT_JSON_VERSION ",\"ts\":\"") |
		     output_time_append_rfc3339(b, &a->clock, ev->ts_us) |
		     LIT(b, "\",\"session\":") | output_append_u64(b, s->id) |
		     LIT(b, ",\"type\":\"activity_summary\",\"scope\":\"session\",\"client\":\"") | output_put(b, s->client, strlen(s->client)) |
		     LIT(b, "\",\"server\":\"") | output_put(b, s->server, strlen(s->server)) |
		     LIT(b, "\",\"user\":") |
		     (s->user_known ? act_str(b, true, (struct buf_slice){ s->user.data, s->user.len })
				    : LIT(b, "null")) |
		     act_roll_json(b, &s->roll) | output_json_append_frames(b, ev) |
		     output_json_append_flow(b, ev->flow) | LIT(b, "}\n");
	} else {
		rc = output_time_append_rfc3339(b, &a->clock, ev->ts_us) | LIT(b, " #") |
		     output_append_u64(b, s->id) | LIT(b, " session of ") |
		     (s->user_known ? escape_text(b, s->user.data, s->user.len) : LIT(b, "-")) |
		     LIT(b, " from ") | output_put(b, s->client, strlen(s->client)) | LIT(b, ":") |
		     act_roll_line(b, &s->roll);
	}
	output_sink_end(&a->sink, rc);
}

static void act_session_end(struct activity *a, struct act_session *s, const struct event *ev)
{
	if (ev->ts_us > a->last_ts_us)
		a->last_ts_us = ev->ts_us;
	act_flush(a, s, SLICE_NULL, NULL);
	act_session_summary(a, s, ev);
	hashtab_unlink(&a->sessions, &s->hnode);
	if (a->last == s)
		a->last = NULL;
	act_session_free(a, s);
}

/* ---- the output ---- */

static void act_note_user(struct act_session *s, const struct event *ev)
{
	struct buf_slice u = ev->facts->user;

	if (s->user_known && (ev->changed & FACT_USER) == 0)
		return;	/* the user only changes with the event that says so */
	if (u.ptr == NULL || (s->user_known && s->user.len == u.len &&
			      memcmp(s->user.data, u.ptr, u.len) == 0))
		return;
	buf_reset(&s->user);
	s->user_known = buf_append(&s->user, u.ptr, u.len) == 0;
}

static void activity_event(void *ctx, const struct event *ev)
{
	struct activity *a = ctx;
	struct act_session *s;
	bool authed = ev->facts->state == IMAP_STATE_AUTH ||
		      ev->facts->state == IMAP_STATE_SELECTED;

	switch (ev->type) {
	case EV_COMMAND: case EV_UNTAGGED: case EV_RESPONSE: case EV_SESSION_END:
		break;
	default:
		return;
	}
	s = act_session_get(a, ev);
	if (s == NULL)
		return;
	if (ev->type == EV_SESSION_END) {
		act_session_end(a, s, ev);
		return;
	}
	act_note_user(s, ev);
	if (ev->type == EV_COMMAND) {
		if (authed)
			act_command(a, s, ev);
	} else if (ev->type == EV_UNTAGGED) {
		act_untagged(a, s, ev);
	} else {
		act_response(a, s, ev);
	}
}

static void act_session_drop(struct hashtab_node *n, void *ctx)
{
	act_session_free(ctx, HASHTAB_ENTRY(n, struct act_session, hnode));
}

static int activity_finish(void *ctx)
{
	struct activity *a = ctx;
	size_t i;

	for (i = 0; i < a->n_users && output_sink_live(&a->sink); i++) {
		struct act_user *u = &a->users[i];
		struct buf_slice user = { u->key.data, u->userlen };
		struct buf_slice host = { u->key.data + u->userlen + 1,
					  u->key.len - u->userlen - 1 };
		struct buf *b = output_sink_begin(&a->sink);
		int rc;

		if (a->json)
			rc = LIT(b, "{\"v\":" OUTPUT_JSON_VERSION ",\"ts\":\"") |
			     output_time_append_rfc3339(b, &a->clock, a->last_ts_us) |
			     LIT(b, "\",\"session\":0,\"type\":\"activity_summary\","
				 "\"scope\":\"user\",\"user\":") |
			     act_str(b, true, user) | LIT(b, ",\"from\":") | act_str(b, true, host) |
			     LIT(b, ",\"sessions\":") | output_append_u64(b, u->sessions) |
			     act_roll_json(b, &u->roll) | LIT(b, "}\n");
		else
			rc = escape_text(b, user.ptr, user.len) | LIT(b, " from ") |
			     escape_text(b, host.ptr, host.len) | LIT(b, " (") |
			     output_append_u64(b, u->sessions) |
			     (u->sessions == 1 ? LIT(b, " session):") : LIT(b, " sessions):")) |
			     act_roll_line(b, &u->roll);
		output_sink_end(&a->sink, rc);
	}
	if (a->lost != 0)
		fprintf(stderr, "imapscope: --activity: %" PRIu64 " actions or messages not followed"
			" (over the limits of --activity or --max-memory); the roll-ups count them"
			" as \"lost\"\n", a->lost);
	a->lost = 0;
	return output_sink_finish(&a->sink);
}

static void activity_free(void *ctx)
{
	struct activity *a = ctx;
	size_t i;

	if (a == NULL)
		return;
	hashtab_drain(&a->sessions, act_session_drop, a);
	hashtab_free(&a->sessions);
	for (i = 0; i < a->n_users; i++)
		buf_free(&a->users[i].key);
	free(a->users);
	buf_free(&a->rows);
	mem_release(a->budget, a->cap_users * sizeof *a->users);
	output_sink_free(&a->sink);
	free(a);
}

static void activity_flush(void *ctx)
{
	struct activity *a = ctx;

	if (output_sink_finish(&a->sink) != 0)
		return;	/* reported by finish */
}

static const struct output_ops activity_ops = {
	.event = activity_event,
	.finish = activity_finish,
	.free = activity_free,
	.flush = activity_flush,
	.facts = IMAP_FACTS_FETCH | IMAP_FACTS_MESSAGES,
};

int output_activity_new(struct output *out_r, FILE *fp, bool json, struct mem_budget *budget)
{
	struct activity *a = calloc(1, sizeof *a);

	if (a == NULL)
		return -1;
	output_sink_init(&a->sink, fp);
	a->json = json;
	a->budget = budget;
	hashtab_init(&a->sessions, budget, 0, 64, 0);
	buf_init(&a->rows, ACTIVITY_HTML_BYTES, budget);
	out_r->ops = &activity_ops;
	out_r->ctx = a;
	return 0;
}

/* The page's "activity": the limit, what it left out and the rows. */
static int act_rows_write(void *ctx, struct buf *b)
{
	struct activity *a = ctx;

	return LIT(b, "{\"limit\":") | output_append_u64(b, ACTIVITY_HTML_ROWS) |
	       LIT(b, ",\"omitted\":") | output_append_u64(b, a->rows_omitted) |
	       LIT(b, ",\"rows\":[") | (a->rows.len != 0 ? output_put(b, a->rows.data, a->rows.len) : 0) |
	       LIT(b, "]}");
}

/* The page's "activity_users": the per-user roll-ups, a row per (user,
 * client host, action, mailbox), the first ACTIVITY_HTML_ROWS. */
static int act_users_write(void *ctx, struct buf *b)
{
	struct activity *a = ctx;
	uint64_t n = 0, omitted = 0;
	int rc = LIT(b, "{\"rows\":[");

	for (size_t i = 0; i < a->n_users; i++) {
		const struct act_user *u = &a->users[i];
		struct buf_slice user = { u->key.data, u->userlen };
		struct buf_slice host = { u->key.data + u->userlen + 1, u->key.len - u->userlen - 1 };

		for (size_t j = 0; j < u->roll.n; j++) {
			const struct act_roll *r = &u->roll.rows[j];
			const char *k = act_kind_name[r->kind];

			if (n == ACTIVITY_HTML_ROWS) {
				omitted++;
				continue;
			}
			rc |= (n++ != 0 ? LIT(b, ",{\"user\":\"") : LIT(b, "{\"user\":\"")) |
			      html_json_string(b, user.ptr, user.len, false) | LIT(b, "\",\"from\":\"") |
			      html_json_string(b, host.ptr, host.len, false) |
			      LIT(b, "\",\"sessions\":") | output_append_u64(b, u->sessions) |
			      LIT(b, ",\"action\":\"") | output_put(b, k, strlen(k)) |
			      LIT(b, "\",\"mailbox\":\"") |
			      html_json_string(b, (const uint8_t *)r->name, r->namelen, false) |
			      LIT(b, "\",\"count\":") | output_append_u64(b, r->count) |
			      LIT(b, ",\"bytes\":") | output_append_u64(b, r->bytes) | LIT(b, "}");
		}
		omitted += u->roll.lost;
	}
	return rc | LIT(b, "],\"limit\":") | output_append_u64(b, ACTIVITY_HTML_ROWS) |
	       LIT(b, ",\"omitted\":") | output_append_u64(b, omitted) | LIT(b, "}");
}

int output_activity_html(const struct output *activity, const struct output *html)
{
	struct activity *a = activity->ctx;

	if (activity->ops != &activity_ops ||
	    output_html_add_section(html, &(struct html_section){ "activity", act_rows_write, a }) != 0 ||
	    output_html_add_section(html, &(struct html_section){ "activity_users", act_users_write,
								  a }) != 0)
		return -1;
	a->rows_on = true;
	return 0;
}
