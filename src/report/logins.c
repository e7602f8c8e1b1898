/* --logins: a table for people, or the login events as JSON Lines. */
#include "report/logins.h"

#include <stdlib.h>
#include <string.h>

#include "report/output_json.h"	/* sink, clock, JSON event writer */
#include "report/output_text.h"	/* output_text_append_wire */
#include "util/escape.h"

#define LIT(b, s) output_put((b), (s), sizeof(s) - 1)

struct logins {
	struct output_sink sink;
	struct output_time clock;
	bool json;
	bool header_done;
	uint64_t rows;
};

/* Pad the column that began at start to width, with at least two spaces
 * between columns.  Widths count bytes, so UTF-8 names may shift a row. */
static int logins_pad(struct buf *b, size_t start, size_t width)
{
	static const char spaces[] = "                                ";
	size_t used = b->len - start, n = used + 2 <= width ? width - used : 2;
	int rc = 0;

	while (n > 0) {
		size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;

		rc |= output_put(b, spaces, k);
		n -= k;
	}
	return rc;
}

static int logins_cell(struct buf *b, const char *s, size_t width)
{
	size_t start = b->len;

	return output_put(b, s, strlen(s)) | logins_pad(b, start, width);
}

static int logins_header(struct buf *b)
{
	return logins_cell(b, "TIME (UTC)", LOGINS_W_TIME) |
	       logins_cell(b, "SESS", LOGINS_W_SESSION) |
	       logins_cell(b, "CLIENT", LOGINS_W_ADDR) | logins_cell(b, "SERVER", LOGINS_W_ADDR) |
	       logins_cell(b, "USER", LOGINS_W_USER) | logins_cell(b, "MECH", LOGINS_W_MECH) |
	       logins_cell(b, "RESULT", LOGINS_W_RESULT) |
	       logins_cell(b, "TRANSPORT", LOGINS_W_TRANSPORT) |
	       logins_cell(b, "CLEARTEXT", LOGINS_W_CLEAR) | LIT(b, "RESPONSE\n");
}

/* "2026-11-21 10:00:00.123456": the RFC 3339 form, made easier to read. */
static int logins_time(struct logins *lg, struct buf *b, int64_t ts_us)
{
	size_t start = b->len;

	if (output_time_append_rfc3339(b, &lg->clock, ts_us) != 0)
		return -1;
	b->data[start + 10] = ' ';
	b->len--;		/* the 'Z': the header says UTC */
	return logins_pad(b, start, LOGINS_W_TIME);
}

static int logins_wire_cell(struct buf *b, struct buf_slice s, const char *if_null, size_t width)
{
	size_t start = b->len;
	int rc = s.ptr != NULL ? output_text_append_wire(b, s) : output_put(b, if_null, strlen(if_null));

	return rc | logins_pad(b, start, width);
}

static int logins_cstr_cell(struct buf *b, const char *s, size_t width)
{
	size_t start = b->len;

	if (s == NULL)
		s = "?";
	return escape_text(b, (const uint8_t *)s, strlen(s)) | logins_pad(b, start, width);
}

static const char *logins_result(enum login_result r)
{
	return r == LOGIN_OK ? "ok" : r == LOGIN_FAIL ? "FAIL" : "unknown";
}

static const char *logins_transport(enum transport t)
{
	return t == TRANSPORT_STARTTLS ? "starttls" : t == TRANSPORT_IMPLICIT_TLS ? "implicit_tls"
										    : "plain";
}

static int logins_row(struct logins *lg, struct buf *b, const struct event *ev)
{
	size_t start, cells_end;
	int rc = logins_time(lg, b, ev->ts_us);

	start = b->len;
	rc |= LIT(b, "#") | output_append_u64(b, ev->session) | logins_pad(b, start, LOGINS_W_SESSION);
	rc |= logins_cstr_cell(b, ev->client, LOGINS_W_ADDR) |
	      logins_cstr_cell(b, ev->server, LOGINS_W_ADDR) |
	      logins_wire_cell(b, ev->u.login.user, "-", LOGINS_W_USER) |
	      logins_wire_cell(b, ev->u.login.mechanism, "?", LOGINS_W_MECH) |
	      logins_cell(b, logins_result(ev->u.login.result), LOGINS_W_RESULT) |
	      logins_cell(b, logins_transport(ev->u.login.transport), LOGINS_W_TRANSPORT) |
	      logins_cell(b, ev->u.login.cleartext_secret ? "yes" : "no", LOGINS_W_CLEAR);
	cells_end = b->len;
	if (ev->u.login.code.ptr != NULL)
		rc |= LIT(b, "[") | output_text_append_wire(b, ev->u.login.code) | LIT(b, "] ");
	if (ev->u.login.text.ptr != NULL)
		rc |= output_text_append_wire(b, ev->u.login.text);
	if (ev->u.login.secret.ptr != NULL)
		rc |= LIT(b, " secret: ") | output_text_append_wire(b, ev->u.login.secret);
	/* No trailing blanks when the response column is empty (wire text
	 * keeps its own). */
	if (b->len == cells_end)
		while (b->len > 0 && b->data[b->len - 1] == ' ')
			b->len--;
	return rc | LIT(b, "\n");
}

static void logins_event(void *ctx, const struct event *ev)
{
	struct logins *lg = ctx;
	struct buf *b;
	int rc = 0;

	if (ev->type != EV_LOGIN || !output_sink_live(&lg->sink))
		return;
	b = output_sink_begin(&lg->sink);
	if (lg->json) {
		rc = output_json_append_event(b, &lg->clock, ev);
	} else {
		if (!lg->header_done)
			rc |= logins_header(b);
		rc |= logins_row(lg, b, ev);
	}
	output_sink_end(&lg->sink, rc);
	if (rc == 0) {
		lg->header_done = true;
		lg->rows++;
	}
}

/* An empty table still gets its header, so "no logins" is visible. */
static int logins_finish(void *ctx)
{
	struct logins *lg = ctx;

	if (!lg->json && !lg->header_done && output_sink_live(&lg->sink)) {
		struct buf *b = output_sink_begin(&lg->sink);

		output_sink_end(&lg->sink, logins_header(b));
		lg->header_done = true;
	}
	return output_sink_finish(&lg->sink);
}

static void logins_free(void *ctx)
{
	struct logins *lg = ctx;

	if (lg == NULL)
		return;
	output_sink_free(&lg->sink);
	free(lg);
}

static const struct output_ops logins_ops = {
	.event = logins_event,
	.finish = logins_finish,
	.free = logins_free,
};

int output_logins_new(struct output *out_r, FILE *fp, bool json)
{
	struct logins *lg = calloc(1, sizeof *lg);

	if (lg == NULL)
		return -1;
	output_sink_init(&lg->sink, fp);
	lg->json = json;
	out_r->ops = &logins_ops;
	out_r->ctx = lg;
	return 0;
}
