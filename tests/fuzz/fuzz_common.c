/* Shared helpers of the libFuzzer targets; see fuzz_common.h. */
#include "fuzz_common.h"
#include "tls/keylog.h"
#include "report/logins.h"
#include "report/output_json.h"
#include "report/output_text.h"
#include "report/summary.h"
#include "imap/imap_session.h"

#include <json-c/json.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Written so the compiler cannot drop the reads of fuzz_touch. */
static volatile uint8_t fuzz_sink;

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", file, line, what);
	abort();
}

void fuzz_touch(struct buf_slice s)
{
	uint8_t x = 0;

	if (s.ptr == NULL) {
		FUZZ_CHECK(s.len == 0);
		return;
	}
	for (size_t i = 0; i < s.len; i++)
		x ^= s.ptr[i];
	fuzz_sink ^= x;
}

bool fuzz_slice_in(struct buf_slice inner, struct buf_slice outer)
{
	uintptr_t i = (uintptr_t)inner.ptr, o = (uintptr_t)outer.ptr;

	if (inner.len == 0 && inner.ptr == NULL)
		return true;
	return i >= o && i - o <= outer.len && inner.len <= outer.len - (i - o);
}

/* --- the escape-format driver ------------------------------------------ */

struct drive {
	const struct fuzz_stream_ops *ops;
	unsigned dirs;
	size_t chunk;		/* 0: whole runs */
	bool data_chunks;	/* chunk sizes from the data */
	int64_t ts;
};

static size_t chunk_size(const struct drive *d, const uint8_t *p, size_t n)
{
	size_t c;

	if (d->data_chunks)
		c = (size_t)(p[0] & 0x1f) + 1;
	else
		c = d->chunk == 0 ? n : d->chunk;
	return c < n ? c : n;
}

/* Feed one run of data bytes, cut into chunks, to every selected direction.
 * Each chunk is copied to the very end of a buffer of the run's size, so a
 * read past the chunk hits AddressSanitizer's redzone; one allocation per
 * run keeps one-byte chunks cheap.  min_chunk > 1 for generated floods. */
static void feed_run(struct drive *d, const uint8_t *p, size_t n, size_t min_chunk)
{
	uint8_t *copy = malloc(n);

	if (copy == NULL)
		abort();
	for (int dir = 0; dir < 2; dir++) {
		if (!(d->dirs & (1u << dir)))
			continue;
		for (size_t off = 0; off < n;) {
			size_t c = chunk_size(d, p + off, n - off);

			if (c < min_chunk)
				c = min_chunk < n - off ? min_chunk : n - off;
			memcpy(copy + n - c, p + off, c);
			d->ops->feed(d->ops->ctx, (enum stream_dir)dir, copy + n - c, c, d->ts);
			off += c;
			d->ts += 1000;	/* 1 ms per chunk */
		}
	}
	free(copy);
}

static void flood(struct drive *d, uint8_t count, uint8_t byte)
{
	size_t n = ((size_t)count + 1) * FUZZ_FLOOD_UNIT;
	uint8_t *buf = malloc(n);

	if (buf == NULL)
		abort();
	memset(buf, byte, n);
	feed_run(d, buf, n, FUZZ_FLOOD_UNIT);
	free(buf);
}

static void gap(struct drive *d, uint64_t nbytes)
{
	for (int dir = 0; dir < 2; dir++)
		if (d->dirs & (1u << dir))
			d->ops->gap(d->ops->ctx, (enum stream_dir)dir, nbytes, d->ts);
}

/* One escape at p (p[0] == FUZZ_ESC); returns the bytes it took, or 0 to
 * stop. */
static size_t escape(struct drive *d, const uint8_t *p, size_t n)
{
	static const uint8_t ff = FUZZ_ESC;
	uint8_t a;

	if (n < 2)
		return 0;
	if (p[1] == 0x00) {
		feed_run(d, &ff, 1, 1);
		return 2;
	}
	if (n < 3)
		return 0;
	a = p[2];
	switch (p[1]) {
	case 0x01: d->dirs = a % 3u + 1; break;
	case 0x02: gap(d, (uint64_t)a + 1); break;
	case 0x03: gap(d, ((uint64_t)a + 1) << 16); break;
	case 0x04: gap(d, ((uint64_t)a + 1) << 24); break;
	case 0x05:
		for (int dir = 0; dir < 2; dir++)
			if ((d->dirs & (1u << dir)) && d->ops->refuse != NULL)
				d->ops->refuse(d->ops->ctx, (enum stream_dir)dir);
		break;
	case 0x06: d->chunk = a; d->data_chunks = false; break;
	case 0x07:
		if (n < 4)
			return 0;
		flood(d, a, p[3]);
		return 4;
	case 0x08:
		if (a & 0x80)
			d->ts -= (int64_t)(a & 0x7f) * 1000000;
		else
			d->ts += (int64_t)a * 1000000;
		break;
	case 0x09:
		if (d->ops->end != NULL && d->ops->end(d->ops->ctx, d->ts))
			return 0;
		break;
	default: break;
	}
	return 3;
}

int64_t fuzz_drive(const uint8_t *p, size_t n, uint8_t mode, unsigned dirs,
		   const struct fuzz_stream_ops *ops)
{
	static const size_t sizes[8] = { 0, 1, 2, 3, 7, 16, 64, 0 };
	struct drive d = {
		.ops = ops, .dirs = dirs, .chunk = sizes[mode & 7],
		.data_chunks = (mode & 7) == 7, .ts = FUZZ_T0_US,
	};
	size_t i = 0;

	while (i < n) {
		const uint8_t *esc = memchr(p + i, FUZZ_ESC, n - i);
		size_t run = esc != NULL ? (size_t)(esc - (p + i)) : n - i;
		size_t used;

		if (run != 0)
			feed_run(&d, p + i, run, 1);
		i += run;
		if (i >= n)
			break;
		if ((used = escape(&d, p + i, n - i)) == 0)
			break;
		i += used;
	}
	return d.ts;
}

/* --- the checking output ----------------------------------------------- */

static void touch_str(const char *s)
{
	if (s != NULL)
		fuzz_touch((struct buf_slice){ (const uint8_t *)s, strlen(s) });
}

void fuzz_check_notice(const struct notice *n)
{
	FUZZ_CHECK(n != NULL && n->text != NULL);
	FUZZ_CHECK((unsigned)n->kind < NOTICE_N_KINDS);
	touch_str(notice_kind_name(n->kind));
	touch_str(n->text);
	FUZZ_CHECK(strchr(n->text, '\n') == NULL);
	FUZZ_CHECK(n->dir >= -1 && n->dir <= DIR_S2C);
}

void fuzz_on_notice(void *ctx, const struct notice *n)
{
	uint64_t *count = ctx;

	fuzz_check_notice(n);
	if (count != NULL)
		(*count)++;
}

static void check_summary(const struct session_summary *m)
{
	FUZZ_CHECK(m != NULL);
	FUZZ_CHECK(m->gap_bytes >= m->gaps);	/* every gap is >= 1 byte */
}

static void check_payload(const struct event *ev)
{
	switch (ev->type) {
	case EV_SESSION_START:
		break;
	case EV_GREETING:
		fuzz_touch(ev->u.greeting.status);
		fuzz_touch(ev->u.greeting.code);
		fuzz_touch(ev->u.greeting.text);
		break;
	case EV_COMMAND:
		fuzz_touch(ev->u.command.tag);
		fuzz_touch(ev->u.command.name);
		fuzz_touch(ev->u.command.args);
		break;
	case EV_CONTINUATION:
		FUZZ_CHECK(ev->u.continuation.dir == DIR_C2S ||
			   ev->u.continuation.dir == DIR_S2C);
		FUZZ_CHECK(ev->u.continuation.kind <= CONT_IDLE_DONE);
		fuzz_touch(ev->u.continuation.text);
		fuzz_touch(ev->u.continuation.user);
		fuzz_touch(ev->u.continuation.authzid);
		fuzz_touch(ev->u.continuation.secret);
		break;
	case EV_UNTAGGED:
		fuzz_touch(ev->u.untagged.name);
		fuzz_touch(ev->u.untagged.text);
		fuzz_touch(ev->u.untagged.tag);
		break;
	case EV_RESPONSE:
		fuzz_touch(ev->u.response.tag);
		fuzz_touch(ev->u.response.status);
		fuzz_touch(ev->u.response.code);
		fuzz_touch(ev->u.response.text);
		fuzz_touch(ev->u.response.command);
		FUZZ_CHECK(!isnan(ev->u.response.latency_ms));
		break;
	case EV_LOGIN:
		fuzz_touch(ev->u.login.user);
		fuzz_touch(ev->u.login.authzid);
		fuzz_touch(ev->u.login.mechanism);
		fuzz_touch(ev->u.login.evidence);
		FUZZ_CHECK(ev->u.login.inferred == (ev->u.login.evidence.ptr != NULL));
		fuzz_touch(ev->u.login.tag);
		fuzz_touch(ev->u.login.secret);
		fuzz_touch(ev->u.login.code);
		fuzz_touch(ev->u.login.text);
		FUZZ_CHECK(ev->u.login.result <= LOGIN_ABORTED);
		FUZZ_CHECK(ev->u.login.transport <= TRANSPORT_IMPLICIT_TLS);
		/* a secret in clear, or a login after STARTTLS in clear, was plain */
		FUZZ_CHECK(!(ev->u.login.cleartext_secret || ev->u.login.cleartext_after_starttls) ||
			   ev->u.login.transport == TRANSPORT_PLAIN);
		break;
	case EV_TLS:
		touch_str(ev->u.tls.phase);
		touch_str(ev->u.tls.version);
		touch_str(ev->u.tls.cipher);
		touch_str(ev->u.tls.reason);
		fuzz_touch(ev->u.tls.sni);
		FUZZ_CHECK(ev->u.tls.phase != NULL);
		break;
	case EV_COMPRESS:
		touch_str(ev->u.compress.algorithm);
		break;
	case EV_GAP:
		FUZZ_CHECK(ev->u.gap.dir == DIR_C2S || ev->u.gap.dir == DIR_S2C);
		FUZZ_CHECK(ev->u.gap.bytes > 0);
		break;
	case EV_NOTICE:
		fuzz_check_notice(&ev->u.notice);
		FUZZ_CHECK(ev->u.notice.kind != NOTICE_GAP);	/* a gap event already */
		FUZZ_CHECK(ev->u.notice.session == ev->session);
		break;
	case EV_SESSION_END:
		FUZZ_CHECK(ev->u.end.reason <= END_EVICTED);
		check_summary(ev->u.end.summary);
		break;
	case EV_FINDING:	/* --check (fuzz_session puts it in front) */
		FUZZ_CHECK(ev->u.finding.rule != NULL && ev->u.finding.severity != NULL &&
			   ev->u.finding.side != NULL && ev->u.finding.rfc != NULL &&
			   ev->u.finding.explanation != NULL);
		fuzz_touch(ev->u.finding.line);
		break;
	default:
		FUZZ_CHECK(!"event type out of range");
	}
}

static size_t find_session(struct fuzz_out *fo, uint64_t id)
{
	for (size_t i = 0; i < fo->n; i++)
		if (fo->id[i] == id)
			return i;
	return SIZE_MAX;
}

/* Is p..n valid UTF-8 (no overlongs, surrogates or values past U+10FFFF)? */
static bool utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t k;
		uint32_t v;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, v = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, v = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, v = c & 0x07;
		else
			return false;
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			v = v << 6 | (p[i + j] & 0x3f);
		}
		if ((k == 2 && v < 0x800) || (k == 3 && (v < 0x10000 || v > 0x10ffff)) ||
		    (v >= 0xd800 && v <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* line[0..len) (without its '\n'): one strict JSON object, escaped, UTF-8. */
static void check_json_line(struct json_tokener *tok, const char *line, size_t len)
{
	struct json_object *obj;

	for (size_t i = 0; i < len; i++)
		FUZZ_CHECK((uint8_t)line[i] >= 0x20);	/* escaped, no raw control */
	FUZZ_CHECK(utf8_valid((const uint8_t *)line, len));
	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	FUZZ_CHECK(obj != NULL && json_tokener_get_error(tok) == json_tokener_success);
	FUZZ_CHECK(json_tokener_get_parse_end(tok) == len);
	FUZZ_CHECK(json_object_is_type(obj, json_type_object));
	json_object_put(obj);
}

/* The event as a JSON line: one strict JSON object, then '\n'. */
static void check_json(struct fuzz_out *fo, const struct event *ev)
{
	size_t len;

	buf_reset(&fo->json);
	if (output_json_append_event(&fo->json, NULL, ev) != 0)
		return;		/* out of room: the output cuts the line */
	len = fo->json.len;
	FUZZ_CHECK(len >= 3 && fo->json.data[len - 1] == '\n');
	check_json_line(fo->tokener, (const char *)fo->json.data, len - 1);
}

/* Text for a terminal: no control byte but the line end, valid UTF-8. */
static void check_text(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)p[i];

		FUZZ_CHECK(c >= 0x20 || c == '\n');
		FUZZ_CHECK(c != 0x7f);
	}
	FUZZ_CHECK(utf8_valid((const uint8_t *)p, n));
}

/* A report's whole output: JSON lines, each a strict object, or text. */
static void check_report(struct fuzz_out *fo, const struct fuzz_report *r)
{
	const char *p = r->mem, *end = r->mem + r->len;

	if (!r->json) {
		check_text(r->mem, r->len);
		return;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		FUZZ_CHECK(nl != NULL);		/* every line ends */
		check_json_line(fo->tokener, p, (size_t)(nl - p));
		p = nl + 1;
	}
}

static void fuzz_out_event(void *ctx, const struct event *ev)
{
	struct fuzz_out *fo = ctx;
	size_t i = find_session(fo, ev->session);

	fo->events++;
	FUZZ_CHECK((unsigned)ev->type < EV_N_TYPES);
	FUZZ_CHECK(ev->client != NULL && ev->server != NULL);
	touch_str(ev->client);
	touch_str(ev->server);
	FUZZ_CHECK(event_type_name(ev->type) != NULL);
	if (ev->type == EV_SESSION_START) {
		FUZZ_CHECK(i == SIZE_MAX);	/* one start per session id */
		if (fo->n < FUZZ_MAX_SESSIONS) {
			fo->id[fo->n] = ev->session;
			fo->ended[fo->n++] = false;
		}
	} else if (i != SIZE_MAX) {
		FUZZ_CHECK(!fo->ended[i]);	/* nothing after session_end */
		if (ev->type == EV_SESSION_END)
			fo->ended[i] = true;
	} else {
		FUZZ_CHECK(fo->n == FUZZ_MAX_SESSIONS);	/* an event before its start */
	}
	check_payload(ev);
	if (fo->formats && (fo->events <= FUZZ_FORMAT_ALL || fo->events % FUZZ_FORMAT_EVERY == 0)) {
		check_json(fo, ev);
		fo->text.ops->event(fo->text.ctx, ev);
	}
	if (fo->formats)
		for (size_t r = 0; r < FUZZ_N_REPORTS; r++)
			fo->rep[r].out.ops->event(fo->rep[r].out.ctx, ev);
}

static int fuzz_out_finish(void *ctx)
{
	(void)ctx;
	return 0;
}

static void fuzz_out_free(void *ctx)
{
	(void)ctx;
}

/* Designated: output_ops may grow members, which stay NULL here. */
static const struct output_ops fuzz_out_ops = {
	.event = fuzz_out_event, .finish = fuzz_out_finish, .free = fuzz_out_free,
	.facts = IMAP_FACTS_FETCH,	/* so that the whole pipeline decodes them */
};

void fuzz_out_init(struct fuzz_out *fo, struct output *out_r, bool formats,
		   struct mem_budget *budget)
{
	static const struct output_text_opts topts = { .color = false };
	/* a small threshold and window, so brute-force flags are reached */
	struct logins_opts lopts = {
		.fail_threshold = 2, .window_us = 60 * 1000000LL, .budget = budget,
	};

	memset(fo, 0, sizeof *fo);
	out_r->ops = &fuzz_out_ops;
	out_r->ctx = fo;
	fo->formats = formats;
	if (!formats)
		return;
	buf_init(&fo->json, (size_t)16 << 20, NULL);
	fo->tokener = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	FUZZ_CHECK(fo->tokener != NULL);
	json_tokener_set_flags(fo->tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	fo->text_fp = open_memstream(&fo->text_mem, &fo->text_len);
	FUZZ_CHECK(fo->text_fp != NULL);
	FUZZ_CHECK(output_text_new(&fo->text, fo->text_fp, &topts) == 0);
	for (size_t r = 0; r < FUZZ_N_REPORTS; r++) {
		struct fuzz_report *rep = &fo->rep[r];

		rep->json = r & 1;
		rep->fp = open_memstream(&rep->mem, &rep->len);
		FUZZ_CHECK(rep->fp != NULL);
		if (r < 2)
			FUZZ_CHECK(output_summary_new(&rep->out, rep->fp, rep->json, budget) == 0);
		else
			FUZZ_CHECK(output_logins_new2(&rep->out, rep->fp, rep->json, &lopts) == 0);
	}
}

void fuzz_out_check_all_ended(const struct fuzz_out *fo)
{
	for (size_t i = 0; i < fo->n; i++)
		FUZZ_CHECK(fo->ended[i]);
}

void fuzz_out_done(struct fuzz_out *fo)
{
	if (!fo->formats)
		return;
	FUZZ_CHECK(fo->text.ops->finish(fo->text.ctx) == 0);
	fo->text.ops->free(fo->text.ctx);
	FUZZ_CHECK(fclose(fo->text_fp) == 0);
	check_text(fo->text_mem, fo->text_len);
	free(fo->text_mem);
	for (size_t r = 0; r < FUZZ_N_REPORTS; r++) {
		struct fuzz_report *rep = &fo->rep[r];

		FUZZ_CHECK(rep->out.ops->finish(rep->out.ctx) == 0);
		rep->out.ops->free(rep->out.ctx);
		FUZZ_CHECK(fclose(rep->fp) == 0);
		check_report(fo, rep);
		free(rep->mem);
	}
	json_tokener_free(fo->tokener);
	buf_free(&fo->json);
}

/* --- fixed keys -------------------------------------------------------- */


/* --- the checking --extract hooks --------------------------------------- */

struct fuzz_item {
	uint64_t size, got;
	enum stream_dir dir;
};

static void *fx_begin(void *ctx, uint64_t session, const struct extract_meta *m)
{
	struct fuzz_extract *fx = ctx;
	struct fuzz_item *it = malloc(sizeof *it);

	(void)session;
	FUZZ_CHECK(it != NULL && m != NULL);
	FUZZ_CHECK(m->dir == DIR_C2S || m->dir == DIR_S2C);
	FUZZ_CHECK(m->client != NULL && m->server != NULL);
	touch_str(m->client);
	touch_str(m->server);
	fuzz_touch(m->section);
	fuzz_touch(m->user);
	fuzz_touch(m->mailbox);
	it->size = m->size;
	it->got = 0;
	it->dir = m->dir;
	fx->open++;
	fx->items++;
	return it;
}

static void fx_data(void *ctx, void *item, const uint8_t *p, size_t n)
{
	struct fuzz_item *it = item;

	(void)ctx;
	FUZZ_CHECK(it != NULL && n > 0 && p != NULL);
	fuzz_touch((struct buf_slice){ p, n });
	it->got += n;
	FUZZ_CHECK(it->got <= it->size);	/* a literal is exactly its size */
}

static void fx_gap(void *ctx, void *item, uint64_t nbytes)
{
	struct fuzz_item *it = item;

	(void)ctx;
	FUZZ_CHECK(it != NULL && nbytes > 0);
	it->got += nbytes;
	FUZZ_CHECK(it->got <= it->size);
}

static void fx_end(void *ctx, void *item, uint64_t uid, uint64_t seq, bool unsent)
{
	struct fuzz_extract *fx = ctx;

	(void)uid;
	(void)seq;
	(void)unsent;
	FUZZ_CHECK(item != NULL && fx->open > 0);
	fx->open--;
	free(item);
}

void fuzz_extract_init(struct fuzz_extract *fx, struct imap_extract_hooks *h)
{
	memset(fx, 0, sizeof *fx);
	*h = (struct imap_extract_hooks){ fx, fx_begin, fx_data, fx_gap, fx_end };
}

void fuzz_extract_done(const struct fuzz_extract *fx)
{
	FUZZ_CHECK(fx->open == 0);	/* every body begun was ended */
}

const struct tls_keys *fuzz_keys(void)
{
	static const char *const labels[] = {
		"CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
		"SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
		"SERVER_TRAFFIC_SECRET_0", "CLIENT_EARLY_TRAFFIC_SECRET",
	};
	static struct tls_keys *keys;
	char text[1024], err[KEYLOG_ERRLEN];
	size_t len = 0;
	const char *path;

	if (keys != NULL)
		return keys;
	if ((keys = tls_keys_new()) == NULL)
		abort();
	for (size_t l = 0; l < sizeof labels / sizeof labels[0]; l++) {
		len += (size_t)snprintf(text + len, sizeof text - len, "%s ", labels[l]);
		for (int i = 0; i < 32; i++)
			len += (size_t)snprintf(text + len, sizeof text - len, "%02x",
						FUZZ_KEY_RANDOM_BYTE(i));
		/* 48 bytes for the master secret, 32 for TLS 1.3 SHA-256 secrets */
		len += (size_t)snprintf(text + len, sizeof text - len, " ");
		for (int i = 0; i < (l == 0 ? 48 : 32); i++)
			len += (size_t)snprintf(text + len, sizeof text - len, "%02x",
						(unsigned)(0x40 + l * 8 + (unsigned)i) & 0xff);
		len += (size_t)snprintf(text + len, sizeof text - len, "\n");
	}
	if (keylog_load_mem(keys, "fuzz-fixed", (const uint8_t *)text, len,
			    fuzz_on_notice, NULL, err) != 0)
		abort();
	FUZZ_CHECK(tls_keys_count(keys) == 1);
	path = getenv("FUZZ_TLS_KEYLOG");
	if (path != NULL && path[0] != '\0' &&
	    keylog_load_file(keys, path, fuzz_on_notice, NULL, err) != 0)
		fprintf(stderr, "fuzz: FUZZ_TLS_KEYLOG %s: %s\n", path, err);
	/* An RSA key too, so that RSA key exchange, the server certificate
	 * check and the handshake transcript are fuzzed (run from the top of
	 * the tree, as make fuzz does; FUZZ_RSA_KEY= turns it off). */
	path = getenv("FUZZ_RSA_KEY");
	if (path == NULL)
		path = FUZZ_RSA_KEY_DEFAULT;
	if (path[0] != '\0' && tls_keys_load_rsa(keys, path, err) != 0)
		fprintf(stderr, "fuzz: RSA key: %s\n", err);
	return keys;
}
