/* --follow N: one session's final bytes, both sides in arrival order (see
 * report/follow.h).  The tap's bytes wait in a queue until the session has
 * parsed them, so that the secrets it finds in them are known before they
 * are written. */
#include "report/follow.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report/output_json.h"
#include "report/render.h"
#include "util/escape.h"
#include "util/sha1.h"

#define FOLLOW_REDACTED "***"
#define FOLLOW_COLOR_C     "\x1b[36m"	/* client: cyan, as the timeline */
#define FOLLOW_COLOR_S     "\x1b[32m"	/* server: green */
#define FOLLOW_COLOR_NOTE  "\x1b[33m"	/* gaps, literals not shown: yellow */
#define FOLLOW_COLOR_META  "\x1b[1m"	/* the session's own notes: bold */
#define FOLLOW_COLOR_RESET "\x1b[0m"
#define FOLLOW_NOTE_MAX 512

struct frange {
	uint64_t off, len;
};

/* One side's stream as the tap has told it so far. */
struct fside {
	uint64_t off;			/* offset of the next byte tapped */
	uint64_t settled;		/* every byte before it is parsed */
	bool all_settled;		/* not IMAP, or ended: nothing waits */
	/* Literals longer than max_literal not yet passed, in stream order;
	 * secrets not yet written. */
	struct frange elide[FOLLOW_MAX_RANGES];
	size_t n_elide;
	struct frange secret[FOLLOW_MAX_RANGES];
	size_t n_secret;
	bool secrets_lost;		/* a secret did not fit: hide its bytes whole */
	bool cont;			/* text: its line was broken off */
};

enum fkind { FK_DATA, FK_GAP, FK_LITERAL, FK_NOTE };

struct fitem {
	struct fitem *next;
	enum fkind kind;
	enum stream_dir dir;
	uint64_t off, len;		/* the stream range it covers */
	int64_t ts_us;
	uint64_t frame;			/* frame id, 0: unknown */
	bool hidden;			/* FK_DATA: shown as *** whole (a secret that did
					   not fit, a client line never read) */
	const uint8_t *p;		/* FK_DATA bytes, FK_NOTE text */
	size_t n;
	size_t charged;
};

struct follow {
	struct follow_opts o;
	struct output_sink sink;
	struct output_time clock;
	struct fside side[2];
	struct fitem *head, **tail;
	size_t pending;			/* bytes queued */
	int open;			/* text: the side whose line is open, or -1 */
	bool started, ended;
	struct event_flow flow;		/* af 0 until the session starts */
	uint64_t forced;		/* bytes written before they were settled */
	struct buf tmp;			/* a chunk with its secrets replaced */
};

/* ================= text ================= */

static int text_color(const struct follow *f, struct buf *b, const char *code)
{
	return f->o.color ? output_put(b, code, strlen(code)) : 0;
}

static int text_escaped(struct buf *b, const uint8_t *p, size_t n)
{
	size_t k = escape_text_plain_prefix(p, n);

	return output_put(b, p, k) | (k < n ? escape_text(b, p + k, n - k) : 0);
}

/* End the open line, if any; it is continued later ("C+ "). */
static int text_break(struct follow *f, struct buf *b)
{
	if (f->open < 0)
		return 0;
	f->side[f->open].cont = true;
	f->open = -1;
	return text_color(f, b, FOLLOW_COLOR_RESET) | LIT(b, "\n");
}

static int text_open(struct follow *f, struct buf *b, enum stream_dir dir)
{
	int rc;

	if (f->open == (int)dir)
		return 0;
	rc = text_break(f, b) | text_color(f, b, dir == DIR_C2S ? FOLLOW_COLOR_C : FOLLOW_COLOR_S) |
	     output_put(b, dir == DIR_C2S ? "C" : "S", 1) |
	     (f->side[dir].cont ? LIT(b, "+ ") : LIT(b, ": "));
	f->open = (int)dir;
	return rc;
}

/* Bytes of one side: a line end closes the output line; CR LF and a bare
 * LF both end one, any other control byte is escaped. */
static int text_bytes(struct follow *f, struct buf *b, enum stream_dir dir, const uint8_t *p,
		      size_t n)
{
	int rc = 0;

	while (n > 0) {
		const uint8_t *lf = memchr(p, '\n', n);
		size_t len = lf != NULL ? (size_t)(lf - p) : n, seg = len;

		if (lf != NULL && seg > 0 && p[seg - 1] == '\r')
			seg--;
		rc |= text_open(f, b, dir) | text_escaped(b, p, seg);
		if (lf == NULL)
			break;
		f->side[dir].cont = false;
		f->open = -1;
		rc |= text_color(f, b, FOLLOW_COLOR_RESET) | LIT(b, "\n");
		p += len + 1;
		n -= len + 1;
	}
	return rc;
}

/* A note on one side ("C! ") or of the session ("== "). */
static int text_note(struct follow *f, struct buf *b, int dir, const uint8_t *p, size_t n)
{
	int rc = text_break(f, b);

	if (dir < 0)
		rc |= text_color(f, b, FOLLOW_COLOR_META) | LIT(b, "== ");
	else
		rc |= text_color(f, b, FOLLOW_COLOR_NOTE) | output_put(b, dir == DIR_C2S ? "C" : "S", 1) |
		      LIT(b, "! ");
	return rc | escape_text_made(b, p, n) | text_color(f, b, FOLLOW_COLOR_RESET) | LIT(b, "\n");
}

static int text_item(struct follow *f, struct buf *b, const struct fitem *it,
		     const uint8_t *p, size_t n)
{
	char note[FOLLOW_NOTE_MAX];
	int len, rc;

	switch (it->kind) {
	case FK_DATA:
		return text_bytes(f, b, it->dir, p, n);
	case FK_GAP:
		len = snprintf(note, sizeof note, "[%llu bytes lost at offset %llu]",
			       (unsigned long long)it->len, (unsigned long long)it->off);
		f->side[it->dir].cont = false;
		return text_note(f, b, (int)it->dir, (const uint8_t *)note, (size_t)len);
	case FK_LITERAL:
		len = snprintf(note, sizeof note, "[literal of %llu bytes not shown (over %llu)]",
			       (unsigned long long)it->len, (unsigned long long)f->o.max_literal);
		rc = text_note(f, b, (int)it->dir, (const uint8_t *)note, (size_t)len);
		f->side[it->dir].cont = true;	/* its line goes on after it */
		return rc;
	case FK_NOTE:
	default:
		return text_note(f, b, -1, it->p, it->n);
	}
}

/* ================= JSON ================= */

/* Valid UTF-8 throughout (controls included: JSON escapes them). */
static bool follow_utf8(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq_len(p + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

/* The bytes exactly, as a JSON string: unlike the other lines' escaped
 * form (util/escape.h), a chunk is data to put back together. */
static int json_exact(struct buf *b, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	int rc = LIT(b, "\"");
	size_t i = 0;

	while (i < n) {
		size_t k = escape_plain_prefix(p + i, n - i, true);
		uint8_t c;

		rc |= output_put(b, p + i, k);
		if ((i += k) == n)
			break;
		c = p[i++];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			rc |= output_put(b, e, 2);
		} else if (c == '\n') {
			rc |= LIT(b, "\\n");
		} else if (c == '\r') {
			rc |= LIT(b, "\\r");
		} else if (c == '\t') {
			rc |= LIT(b, "\\t");
		} else if (c < 0x20) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			rc |= output_put(b, e, 6);
		} else {
			rc |= output_put(b, &c, 1);	/* DEL, or UTF-8 checked before */
		}
	}
	return rc | LIT(b, "\"");
}

static int json_base64(struct buf *b, const uint8_t *p, size_t n)
{
	size_t room = 4 * ((n + 2) / 3) + 1;
	char *out;

	if (room < n || (out = (char *)buf_reserve(b, room)) == NULL)
		return -1;
	buf_commit(b, base64_encode(p, n, out));
	return 0;
}

static int json_item(struct follow *f, struct buf *b, const struct fitem *it,
		     const uint8_t *p, size_t n, bool redacted)
{
	int rc = LIT(b, "{\"v\":" OUTPUT_JSON_VERSION ",\"ts\":\"") |
		 output_time_append_rfc3339(b, &f->clock, it->ts_us) |
		 LIT(b, "\",\"session\":") | output_append_u64(b, f->o.session) |
		 LIT(b, ",\"type\":\"chunk\",\"dir\":\"") |
		 output_put(b, event_dir_name(it->dir), 3) |
		 LIT(b, "\",\"offset\":") | output_append_u64(b, it->off) |
		 LIT(b, ",\"bytes\":") | output_append_u64(b, it->len);

	if (it->kind == FK_GAP)
		rc |= LIT(b, ",\"omitted\":\"gap\"");
	else if (it->kind == FK_LITERAL)
		rc |= LIT(b, ",\"omitted\":\"literal\"");
	else if (follow_utf8(p, n))
		rc |= LIT(b, ",\"text\":") | json_exact(b, p, n);
	else
		rc |= LIT(b, ",\"base64\":\"") | json_base64(b, p, n) | LIT(b, "\"");
	if (redacted)
		rc |= LIT(b, ",\"redacted\":true");
	if (it->frame != 0) {
		size_t file = FRAME_FILE(it->frame);

		rc |= LIT(b, ",\"frame\":") | output_append_u64(b, FRAME_NUM(it->frame));
		if (f->o.n_inputs > 1 && file < f->o.n_inputs)
			rc |= LIT(b, ",\"pcap\":\"") |
			      escape_json(b, (const uint8_t *)f->o.inputs[file],
					  strlen(f->o.inputs[file])) | LIT(b, "\"");
	}
	return rc | output_json_append_flow(b, &f->flow) | LIT(b, "}\n");
}

/* ================= secrets ================= */

/* The item's bytes with each secret that overlaps them replaced by "***"
 * (once, in the chunk where it begins), in f->tmp; *redacted_r says
 * whether any was.  Returns the bytes to show. */
static struct buf_slice follow_redact(struct follow *f, const struct fitem *it, bool *redacted_r)
{
	const struct fside *sd = &f->side[it->dir];
	uint64_t pos = it->off, end = it->off + it->n;
	size_t i;
	int rc = 0;

	*redacted_r = false;
	if (it->hidden) {
		*redacted_r = true;
		return (struct buf_slice){ (const uint8_t *)FOLLOW_REDACTED, sizeof FOLLOW_REDACTED - 1 };
	}
	for (i = 0; i < sd->n_secret; i++)
		if (sd->secret[i].off < end && sd->secret[i].off + sd->secret[i].len > pos)
			break;
	if (i == sd->n_secret)
		return (struct buf_slice){ it->p, it->n };
	buf_reset(&f->tmp);
	for (; i < sd->n_secret && pos < end; i++) {
		const struct frange *r = &sd->secret[i];
		uint64_t r_end = r->off + r->len;

		if (r->off >= end || r_end <= pos)
			continue;
		if (r->off > pos)
			rc |= buf_append(&f->tmp, it->p + (pos - it->off), (size_t)(r->off - pos));
		if (r->off >= it->off)
			rc |= buf_append(&f->tmp, FOLLOW_REDACTED, strlen(FOLLOW_REDACTED));
		pos = r_end < end ? r_end : end;
		*redacted_r = true;
	}
	if (pos < end)
		rc |= buf_append(&f->tmp, it->p + (pos - it->off), (size_t)(end - pos));
	if (rc != 0)
		return (struct buf_slice){ (const uint8_t *)FOLLOW_REDACTED, sizeof FOLLOW_REDACTED - 1 };	/* no room for the rest: hide it all */
	return (struct buf_slice){ f->tmp.data, f->tmp.len };
}

/* Ranges wholly before off are done with. */
static void follow_prune(struct frange *v, size_t *n, uint64_t off)
{
	size_t i, k = 0;

	for (i = 0; i < *n; i++)
		if (v[i].off + v[i].len > off)
			v[k++] = v[i];
	*n = k;
}

/* ================= the queue ================= */

static void follow_write(struct follow *f, const struct fitem *it)
{
	struct buf *b;
	struct buf_slice v = { it->p, it->n };
	bool redacted = false;

	if (it->kind == FK_DATA) {
		v = follow_redact(f, it, &redacted);
		follow_prune(f->side[it->dir].secret, &f->side[it->dir].n_secret, it->off + it->n);
	}
	if (!output_sink_live(&f->sink) || (f->o.json && it->kind == FK_NOTE))
		return;
	b = output_sink_begin(&f->sink);
	output_sink_end(&f->sink, f->o.json ? json_item(f, b, it, v.ptr, v.len, redacted)
					    : text_item(f, b, it, v.ptr, v.len));
}

static bool follow_settled(const struct follow *f, const struct fitem *it)
{
	const struct fside *sd = &f->side[it->dir];

	return it->kind != FK_DATA || sd->all_settled || it->off + it->len <= sd->settled;
}

static void follow_pop(struct follow *f)
{
	struct fitem *it = f->head;

	f->head = it->next;
	if (f->head == NULL)
		f->tail = &f->head;
	f->pending -= it->n;
	mem_release(f->o.budget, it->charged);
	free(it);
}

/* Write what is settled, in order; force: everything. */
static void follow_flush(struct follow *f, bool force)
{
	while (f->head != NULL && (force || follow_settled(f, f->head))) {
		if (!follow_settled(f, f->head))
			f->forced += f->head->n;
		follow_write(f, f->head);
		follow_pop(f);
	}
}

/* Queue a copy of it (and its bytes); when memory says no, what waits is
 * written as it stands, and it too. */
static void follow_push(struct follow *f, const struct fitem *tmpl)
{
	size_t sz = sizeof *tmpl + tmpl->n;
	struct fitem *it = NULL;

	if (f->pending + tmpl->n > FOLLOW_PENDING_MAX)
		follow_flush(f, true);
	if (f->head == NULL && follow_settled(f, tmpl)) {
		follow_write(f, tmpl);	/* nothing waits before it: no copy */
		return;
	}
	if (mem_charge(f->o.budget, sz) == 0 && (it = malloc(sz)) == NULL)
		mem_release(f->o.budget, sz);
	if (it == NULL) {
		follow_flush(f, true);
		f->forced += tmpl->kind == FK_DATA ? tmpl->n : 0;
		follow_write(f, tmpl);
		return;
	}
	*it = *tmpl;
	it->next = NULL;
	it->charged = sz;
	if (tmpl->n > 0)
		memcpy(it + 1, tmpl->p, tmpl->n);
	it->p = (const uint8_t *)(it + 1);
	*f->tail = it;
	f->tail = &it->next;
	f->pending += it->n;
}

static void follow_note(struct follow *f, int64_t ts_us, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void follow_note(struct follow *f, int64_t ts_us, const char *fmt, ...)
{
	char text[FOLLOW_NOTE_MAX];
	struct fitem it = { .kind = FK_NOTE, .ts_us = ts_us, .p = (const uint8_t *)text };
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	it.n = n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
	follow_push(f, &it);
}

/* ================= the tap ================= */

/* The elided literal that holds off, or the index of the first after it
 * (n_elide when none). */
static size_t follow_elide_at(const struct fside *sd, uint64_t off, bool *inside_r)
{
	size_t i;

	*inside_r = false;
	for (i = 0; i < sd->n_elide; i++) {
		if (off < sd->elide[i].off)
			return i;
		if (off < sd->elide[i].off + sd->elide[i].len) {
			*inside_r = true;
			return i;
		}
	}
	return i;
}

void follow_data(struct follow *f, uint64_t session, enum stream_dir dir, const uint8_t *p,
		 size_t n, int64_t ts_us, uint64_t frame)
{
	struct fside *sd;

	if (session != f->o.session || f->ended)
		return;
	sd = &f->side[dir];
	while (n > 0) {
		struct fitem it = { .dir = dir, .off = sd->off, .ts_us = ts_us, .frame = frame };
		bool inside;
		size_t i = follow_elide_at(sd, sd->off, &inside);
		uint64_t stop = i < sd->n_elide ? (inside ? sd->elide[i].off + sd->elide[i].len
							  : sd->elide[i].off) : UINT64_MAX;
		size_t take = stop - sd->off < n ? (size_t)(stop - sd->off) : n;

		if (inside) {
			if (sd->off == sd->elide[i].off) {
				it.kind = FK_LITERAL;
				it.len = sd->elide[i].len;
				follow_push(f, &it);
			}
		} else {
			it.kind = FK_DATA;
			it.p = p;
			it.n = take;
			it.len = take;
			it.hidden = sd->secrets_lost && !f->o.show_secrets;
			follow_push(f, &it);
		}
		sd->off += take;
		p += take;
		n -= take;
		follow_prune(sd->elide, &sd->n_elide, sd->off);
	}
}

void follow_gap(struct follow *f, uint64_t session, enum stream_dir dir, uint64_t nbytes,
		int64_t ts_us, uint64_t frame)
{
	struct fside *sd;
	struct fitem it = { .kind = FK_GAP, .dir = dir, .ts_us = ts_us, .frame = frame };

	if (session != f->o.session || f->ended)
		return;
	sd = &f->side[dir];
	it.off = sd->off;
	it.len = nbytes;
	follow_push(f, &it);
	sd->off += nbytes;
	follow_prune(sd->elide, &sd->n_elide, sd->off);
}

void follow_not_imap(struct follow *f, uint64_t session)
{
	if (session != f->o.session)
		return;
	f->side[DIR_C2S].all_settled = f->side[DIR_S2C].all_settled = true;
	follow_flush(f, false);
}

/* What the client sent that the session never finished reading (a line
 * the stream ended in) may hold a secret it never found: hidden. */
void follow_end(struct follow *f, uint64_t session)
{
	if (session != f->o.session)
		return;
	for (struct fitem *it = f->head; it != NULL && !f->o.show_secrets; it = it->next)
		if (it->kind == FK_DATA && it->dir == DIR_C2S && !follow_settled(f, it))
			it->hidden = true;
	f->side[DIR_C2S].all_settled = f->side[DIR_S2C].all_settled = true;
	follow_flush(f, false);
}

static void follow_add_range(struct frange *v, size_t *n, uint64_t off, uint64_t len)
{
	v[*n].off = off;
	v[(*n)++].len = len;
}

void follow_mark(struct follow *f, uint64_t session, const struct imap_tap_mark *m)
{
	struct fside *sd;

	if (session != f->o.session || f->ended || (unsigned)m->dir > DIR_S2C)
		return;
	sd = &f->side[m->dir];
	switch (m->kind) {
	case IMAP_TAP_LITERAL:
		/* announced before its bytes; one not elided is shown as it is */
		if (m->len > f->o.max_literal && m->off >= sd->off && sd->n_elide < FOLLOW_MAX_RANGES)
			follow_add_range(sd->elide, &sd->n_elide, m->off, m->len);
		break;
	case IMAP_TAP_SECRET:
		if (f->o.show_secrets || m->len == 0)
			break;
		if (sd->n_secret < FOLLOW_MAX_RANGES)
			follow_add_range(sd->secret, &sd->n_secret, m->off, m->len);
		else
			sd->secrets_lost = true;
		break;
	case IMAP_TAP_SETTLED:
	default:
		if (m->off > sd->settled)
			sd->settled = m->off;
		follow_flush(f, false);
		if (f->head == NULL)
			sd->secrets_lost = false;
		break;
	}
}

/* ================= the output ================= */

static void follow_on_tls(struct follow *f, const struct event *ev)
{
	const char *v = ev->u.tls.version != NULL ? ev->u.tls.version : "TLS";

	if (ev->u.tls.decrypted)
		follow_note(f, ev->ts_us, "%s (%s), decrypted: the bytes below are the plaintext", v,
			    ev->u.tls.phase != NULL ? ev->u.tls.phase : "?");
	else
		follow_note(f, ev->ts_us, "%s (%s), not decrypted (%s): its bytes are not shown", v,
			    ev->u.tls.phase != NULL ? ev->u.tls.phase : "?",
			    ev->u.tls.reason != NULL ? ev->u.tls.reason : "unknown");
}

static void follow_event(void *ctx, const struct event *ev)
{
	struct follow *f = ctx;
	char when[OUTPUT_TIME_RFC3339_LEN + 1];
	struct buf tb = { (uint8_t *)when, 0, sizeof when, sizeof when, NULL };

	if (ev->session != f->o.session)
		return;
	switch (ev->type) {
	case EV_SESSION_START:
		f->started = true;
		if (ev->flow != NULL)
			f->flow = *ev->flow;
		if (output_time_append_rfc3339(&tb, &f->clock, ev->ts_us) != 0)
			tb.len = 0;
		follow_note(f, ev->ts_us, "session %llu %.*s %s -> %s%s", (unsigned long long)ev->session,
			    (int)tb.len, when, ev->client != NULL ? ev->client : "?",
			    ev->server != NULL ? ev->server : "?",
			    ev->u.start.mid_stream ? " (picked up mid-stream)" : "");
		break;
	case EV_TLS:
		follow_on_tls(f, ev);
		break;
	case EV_COMPRESS:
		follow_note(f, ev->ts_us, "COMPRESS %s%s", ev->u.compress.algorithm != NULL
			    ? ev->u.compress.algorithm : "?",
			    ev->u.compress.decoded ? ": inflated from here" : ": not decoded");
		break;
	case EV_SESSION_END:
		follow_end(f, ev->session);
		if (f->forced != 0)
			follow_note(f, ev->ts_us, "%llu bytes were written before the session had"
				    " parsed them (a line over %u bytes, or --max-memory): a secret"
				    " among them was not redacted", (unsigned long long)f->forced,
				    FOLLOW_PENDING_MAX);
		follow_note(f, ev->ts_us, "end (%s)", event_end_reason_name(ev->u.end.reason));
		f->ended = true;
		break;
	default:
		break;
	}
}

static int follow_finish(void *ctx)
{
	struct follow *f = ctx;

	follow_flush(f, true);
	if (f->open >= 0 && output_sink_live(&f->sink)) {
		struct buf *b = output_sink_begin(&f->sink);

		output_sink_end(&f->sink, text_break(f, b));
	}
	return output_sink_finish(&f->sink);
}

static void follow_free(void *ctx)
{
	struct follow *f = ctx;

	if (f == NULL)
		return;
	while (f->head != NULL)
		follow_pop(f);
	buf_free(&f->tmp);
	output_sink_free(&f->sink);
	free(f);
}

static void follow_flush_out(void *ctx)
{
	struct follow *f = ctx;

	if (output_sink_finish(&f->sink) != 0)
		return;		/* reported by finish */
}

static const struct output_ops follow_ops = {
	.event = follow_event,
	.finish = follow_finish,
	.free = follow_free,
	.flush = follow_flush_out,
};

int output_follow_new(struct output *out_r, FILE *fp, const struct follow_opts *o,
		      struct follow **f_r)
{
	struct follow *f = calloc(1, sizeof *f);

	if (f == NULL)
		return -1;
	f->o = *o;
	output_sink_init(&f->sink, fp);
	buf_init(&f->tmp, 2 * (size_t)FOLLOW_PENDING_MAX, o->budget);
	f->tail = &f->head;
	f->open = -1;
	out_r->ops = &follow_ops;
	out_r->ctx = f;
	*f_r = f;
	return 0;
}
