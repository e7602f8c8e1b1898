/* -F json: JSON Lines written straight into a buffer, no object building.
 *
 * Speed matters here (the goal is >= 1 GB/s of capture), so each event is
 * appended key by key: literal keys with one memcpy, numbers formatted by
 * hand, strings through escape_json.  The sink, clock and number writers
 * it shares with the other line outputs are in report/render.h. */
#include "report/output_json.h"

#include <stdlib.h>
#include <string.h>

#include "util/escape.h"

/* ---- JSON values ---- */

/* A wire slice as a JSON string (escape.h says what its value is).  The
 * printable prefix, often the whole slice, is copied inline; what follows
 * escapes as it would within the whole, since the prefix has no '\\'. */
static int json_slice(struct buf *b, struct buf_slice s)
{
	size_t k;

	if (s.ptr == NULL)
		return LIT(b, "null");
	k = escape_plain_prefix(s.ptr, s.len, true);
	if (k == s.len)
		return LIT(b, "\"") | output_put(b, s.ptr, k) | LIT(b, "\"");
	return LIT(b, "\"") | output_put(b, s.ptr, k) | escape_json(b, s.ptr + k, s.len - k) |
	       LIT(b, "\"");
}

static int json_cstr(struct buf *b, const char *s)
{
	if (s == NULL)
		return LIT(b, "null");
	return LIT(b, "\"") | escape_json(b, (const uint8_t *)s, strlen(s)) | LIT(b, "\"");
}

/* Text imapscope made, wire bytes in it already escaped (escape.h). */
static int json_made_cstr(struct buf *b, const char *s)
{
	if (s == NULL)
		return LIT(b, "null");
	return LIT(b, "\"") | escape_json_made(b, (const uint8_t *)s, strlen(s)) | LIT(b, "\"");
}

static int json_bool(struct buf *b, bool v)
{
	return v ? LIT(b, "true") : LIT(b, "false");
}

/* latency_ms: null when unknown (negative, NaN) or absurd, else 3 decimals. */
static int json_latency(struct buf *b, double ms)
{
	if (!(ms >= 0) || ms > 1e12)
		return LIT(b, "null");
	return output_append_milli(b, (int64_t)(ms * 1000.0 + 0.5));
}

/* "continuation_wait_ms":[...], only for a command that got a "+". */
static int json_cont_waits(struct buf *b, const int64_t *us, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = LIT(b, ",\"continuation_wait_ms\":[");
	for (size_t i = 0; i < n; i++)
		rc |= (i ? LIT(b, ",") : 0) | output_append_milli(b, us[i]);
	return rc | LIT(b, "]");
}

/* ---- one function per event type; each appends ",key":value pairs ---- */

static int json_session_start(struct buf *b, const struct event *ev)
{
	return LIT(b, ",\"client\":") | json_cstr(b, ev->client) |
	       LIT(b, ",\"server\":") | json_cstr(b, ev->server) |
	       LIT(b, ",\"mid_stream\":") | json_bool(b, ev->u.start.mid_stream) |
	       LIT(b, ",\"implicit_tls\":") | json_bool(b, ev->u.start.implicit_tls);
}

static int json_greeting(struct buf *b, const struct event *ev)
{
	return LIT(b, ",\"status\":") | json_slice(b, ev->u.greeting.status) |
	       LIT(b, ",\"code\":") | json_slice(b, ev->u.greeting.code) |
	       LIT(b, ",\"text\":") | json_slice(b, ev->u.greeting.text);
}

static int json_command(struct buf *b, const struct event *ev)
{
	return LIT(b, ",\"tag\":") | json_slice(b, ev->u.command.tag) |
	       LIT(b, ",\"command\":") | json_slice(b, ev->u.command.name) |
	       LIT(b, ",\"args\":") | json_slice(b, ev->u.command.args) |
	       LIT(b, ",\"literal_bytes\":") | output_append_u64(b, ev->u.command.literal_bytes);
}

static int json_continuation(struct buf *b, const struct event *ev)
{
	const struct buf_slice *u = &ev->u.continuation.user, *z = &ev->u.continuation.authzid,
			       *sec = &ev->u.continuation.secret;
	int rc = LIT(b, ",\"dir\":") | json_cstr(b, event_dir_name(ev->u.continuation.dir)) |
		 LIT(b, ",\"kind\":") | json_cstr(b, event_cont_kind_name(ev->u.continuation.kind)) |
		 LIT(b, ",\"text\":") | json_slice(b, ev->u.continuation.text);

	/* Present only with --show-secrets, when the SASL answer carried any. */
	if (u->ptr != NULL || z->ptr != NULL || sec->ptr != NULL)
		rc |= LIT(b, ",\"decoded\":{\"authzid\":") | json_slice(b, *z) |
		      LIT(b, ",\"user\":") | json_slice(b, *u) |
		      LIT(b, ",\"secret\":") | json_slice(b, *sec) | LIT(b, "}");
	return rc;
}

static int json_untagged(struct buf *b, const struct event *ev)
{
	return LIT(b, ",\"name\":") | json_slice(b, ev->u.untagged.name) |
	       LIT(b, ",\"text\":") | json_slice(b, ev->u.untagged.text) |
	       LIT(b, ",\"tag\":") | json_slice(b, ev->u.untagged.tag) |
	       LIT(b, ",\"literal_bytes\":") | output_append_u64(b, ev->u.untagged.literal_bytes);
}

static int json_response(struct buf *b, const struct event *ev)
{
	return LIT(b, ",\"tag\":") | json_slice(b, ev->u.response.tag) |
	       LIT(b, ",\"status\":") | json_slice(b, ev->u.response.status) |
	       LIT(b, ",\"code\":") | json_slice(b, ev->u.response.code) |
	       LIT(b, ",\"text\":") | json_slice(b, ev->u.response.text) |
	       LIT(b, ",\"command\":") | json_slice(b, ev->u.response.command) |
	       LIT(b, ",\"latency_ms\":") | json_latency(b, ev->u.response.latency_ms) |
	       json_cont_waits(b, ev->u.response.cont_wait_us, ev->u.response.n_cont_waits);
}

/* Login rows carry client and server so that --logins lines stand alone. */
static int json_login(struct buf *b, const struct event *ev)
{
	int rc = LIT(b, ",\"user\":") | json_slice(b, ev->u.login.user) |
		 LIT(b, ",\"authzid\":") | json_slice(b, ev->u.login.authzid) |
		 LIT(b, ",\"mechanism\":") | json_slice(b, ev->u.login.mechanism) |
		 LIT(b, ",\"result\":") | json_cstr(b, event_login_result_name(ev->u.login.result)) |
		 LIT(b, ",\"client\":") | json_cstr(b, ev->client) |
		 LIT(b, ",\"server\":") | json_cstr(b, ev->server) |
		 LIT(b, ",\"tag\":") | json_slice(b, ev->u.login.tag) |
		 LIT(b, ",\"transport\":") | json_cstr(b, event_transport_name(ev->u.login.transport)) |
		 LIT(b, ",\"cleartext_secret\":") | json_bool(b, ev->u.login.cleartext_secret) |
		 LIT(b, ",\"cleartext_after_starttls\":") |
		 json_bool(b, ev->u.login.cleartext_after_starttls) |
		 LIT(b, ",\"code\":") | json_slice(b, ev->u.login.code) |
		 LIT(b, ",\"text\":") | json_slice(b, ev->u.login.text) |
		 LIT(b, ",\"inferred\":") | json_bool(b, ev->u.login.inferred);

	if (ev->u.login.inferred)
		rc |= LIT(b, ",\"evidence\":") | json_slice(b, ev->u.login.evidence);
	/* Present only with --show-secrets: absence says "redacted". */
	if (ev->u.login.secret.ptr != NULL)
		rc |= LIT(b, ",\"secret\":") | json_slice(b, ev->u.login.secret);
	return rc;
}

static int json_tls(struct buf *b, const struct event *ev)
{
	return LIT(b, ",\"phase\":") | json_cstr(b, ev->u.tls.phase) |
	       LIT(b, ",\"version\":") | json_cstr(b, ev->u.tls.version) |
	       LIT(b, ",\"cipher\":") | json_cstr(b, ev->u.tls.cipher) |
	       LIT(b, ",\"sni\":") | json_slice(b, ev->u.tls.sni) |
	       LIT(b, ",\"decrypted\":") | json_bool(b, ev->u.tls.decrypted) |
	       LIT(b, ",\"decrypted_c2s\":") | json_bool(b, ev->u.tls.decrypted_c2s) |
	       LIT(b, ",\"decrypted_s2c\":") | json_bool(b, ev->u.tls.decrypted_s2c) |
	       LIT(b, ",\"reason\":") | json_cstr(b, ev->u.tls.reason);
}

static int json_compress(struct buf *b, const struct event *ev)
{
	return LIT(b, ",\"algorithm\":") | json_cstr(b, ev->u.compress.algorithm) |
	       LIT(b, ",\"decoded\":") | json_bool(b, ev->u.compress.decoded);
}

static int json_gap(struct buf *b, const struct event *ev)
{
	return LIT(b, ",\"dir\":") | json_cstr(b, event_dir_name(ev->u.gap.dir)) |
	       LIT(b, ",\"bytes\":") | output_append_u64(b, ev->u.gap.bytes) |
	       LIT(b, ",\"offset\":") | output_append_u64(b, ev->u.gap.offset);
}

/* dir, offset and bytes are there only when they apply. */
static int json_notice(struct buf *b, const struct event *ev)
{
	const struct notice *f = &ev->u.notice;
	int rc = LIT(b, ",\"kind\":") | json_cstr(b, notice_kind_name(f->kind)) |
		 LIT(b, ",\"text\":") | json_made_cstr(b, ev->u.notice.text);

	if (f->dir == DIR_C2S || f->dir == DIR_S2C)
		rc |= LIT(b, ",\"dir\":") | json_cstr(b, event_dir_name((enum stream_dir)f->dir));
	if (f->offset != NOTICE_NONE)
		rc |= LIT(b, ",\"offset\":") | output_append_u64(b, f->offset);
	if (f->bytes != NOTICE_NONE)
		rc |= LIT(b, ",\"bytes\":") | output_append_u64(b, f->bytes);
	return rc;
}

static int json_summary(struct buf *b, const struct session_summary *s)
{
	if (s == NULL)
		return LIT(b, "null");
	return LIT(b, "{\"commands\":") | output_append_u64(b, s->commands) |
	       LIT(b, ",\"responses\":{\"OK\":") | output_append_u64(b, s->responses_ok) |
	       LIT(b, ",\"NO\":") | output_append_u64(b, s->responses_no) |
	       LIT(b, ",\"BAD\":") | output_append_u64(b, s->responses_bad) |
	       LIT(b, "},\"untagged\":") | output_append_u64(b, s->untagged) |
	       LIT(b, ",\"bytes_c2s\":") | output_append_u64(b, s->bytes_c2s) |
	       LIT(b, ",\"bytes_s2c\":") | output_append_u64(b, s->bytes_s2c) |
	       LIT(b, ",\"wire_bytes_c2s\":") | output_append_u64(b, s->wire_bytes_c2s) |
	       LIT(b, ",\"wire_bytes_s2c\":") | output_append_u64(b, s->wire_bytes_s2c) |
	       LIT(b, ",\"gaps\":") | output_append_u64(b, s->gaps) |
	       LIT(b, ",\"gap_bytes\":") | output_append_u64(b, s->gap_bytes) |
	       LIT(b, ",\"retransmitted_bytes\":") | output_append_u64(b, s->retransmitted_bytes) |
	       LIT(b, ",\"notices\":") | output_append_u64(b, s->notices) |
	       LIT(b, ",\"capped\":") | output_append_u64(b, s->capped) |
	       LIT(b, ",\"literals_fetched\":") | output_append_u64(b, s->literals_fetched) |
	       LIT(b, ",\"literals_appended\":") | output_append_u64(b, s->literals_appended) |
	       LIT(b, ",\"duration_ms\":") | output_append_milli(b, s->duration_us) |
	       LIT(b, "}");
}

static int json_session_end(struct buf *b, const struct event *ev)
{
	return LIT(b, ",\"reason\":") | json_cstr(b, event_end_reason_name(ev->u.end.reason)) |
	       LIT(b, ",\"summary\":") | json_summary(b, ev->u.end.summary);
}

/* A --check finding: the catalogue's strings and the offending line (a
 * notice's text, made by imapscope, is escaped already). */
static int json_finding(struct buf *b, const struct event *ev)
{
	struct buf_slice line = ev->u.finding.line;
	int rc = LIT(b, ",\"rule\":") | json_cstr(b, ev->u.finding.rule) |
		 LIT(b, ",\"severity\":") | json_cstr(b, ev->u.finding.severity) |
		 LIT(b, ",\"side\":") | json_cstr(b, ev->u.finding.side) |
		 LIT(b, ",\"rfc\":") | json_cstr(b, ev->u.finding.rfc) |
		 LIT(b, ",\"explanation\":") | json_cstr(b, ev->u.finding.explanation) |
		 LIT(b, ",\"line\":");

	if (line.ptr == NULL || !ev->u.finding.line_made)
		return rc | json_slice(b, line);
	return rc | LIT(b, "\"") | escape_json_made(b, line.ptr, line.len) | LIT(b, "\"");
}

/* The session's flow, on every event of a session: its keys were made
 * once per session (event_flow_format), formatting them on each event
 * cost 600 instructions (6 % of the plaintext bench). */
int output_json_append_flow(struct buf *b, const struct event_flow *f)
{
	if (f == NULL || f->af == 0)
		return 0;
	return output_put(b, f->json, f->json_len);
}

/* Type names are fixed ASCII words: no escaping needed. */
static int json_type_append(struct buf *b, enum event_type t)
{
	const char *name = event_type_name(t);

	return buf_append(b, name, strlen(name));
}

/* The records to open in Wireshark: frame_last only where it differs,
 * pcap only with several inputs. */
int output_json_append_frames(struct buf *b, const struct event *ev)
{
	int rc = 0;

	if (ev->frame == 0)
		return 0;
	rc |= LIT(b, ",\"frame\":") | output_append_u64(b, ev->frame);
	if (ev->frame_last != 0)
		rc |= LIT(b, ",\"frame_last\":") | output_append_u64(b, ev->frame_last);
	if (ev->pcap != NULL)
		rc |= LIT(b, ",\"pcap\":") | json_cstr(b, ev->pcap);
	return rc;
}

typedef int (*json_body_fn)(struct buf *b, const struct event *ev);

static const json_body_fn json_bodies[EV_N_TYPES] = {
	[EV_SESSION_START] = json_session_start,
	[EV_GREETING] = json_greeting,
	[EV_COMMAND] = json_command,
	[EV_CONTINUATION] = json_continuation,
	[EV_UNTAGGED] = json_untagged,
	[EV_RESPONSE] = json_response,
	[EV_LOGIN] = json_login,
	[EV_TLS] = json_tls,
	[EV_COMPRESS] = json_compress,
	[EV_GAP] = json_gap,
	[EV_NOTICE] = json_notice,
	[EV_SESSION_END] = json_session_end,
	[EV_FINDING] = json_finding,
};

int output_json_append_event(struct buf *b, struct output_time *tc, const struct event *ev)
{
	int rc = LIT(b, "{\"v\":" OUTPUT_JSON_VERSION ",\"ts\":\"") |
		 output_time_append_rfc3339(b, tc, ev->ts_us) |
		 LIT(b, "\",\"session\":") | output_append_u64(b, ev->session) |
		 LIT(b, ",\"type\":\"") | json_type_append(b, ev->type) | LIT(b, "\"");

	if ((unsigned)ev->type < EV_N_TYPES && json_bodies[ev->type] != NULL)
		rc |= json_bodies[ev->type](b, ev);
	rc |= output_json_append_frames(b, ev);
	rc |= output_json_append_flow(b, ev->flow);
	if (ev->truncated)
		rc |= LIT(b, ",\"truncated\":true");
	if (ev->unsynchronised)
		rc |= LIT(b, ",\"unsynchronised\":true");
	return rc | LIT(b, "}\n");
}

/* ---- the output ---- */

struct output_json {
	struct output_sink sink;
	struct output_time clock;
};

static void output_json_event(void *ctx, const struct event *ev)
{
	struct output_json *oj = ctx;
	struct buf *b;

	if (!output_sink_live(&oj->sink))
		return;
	b = output_sink_begin(&oj->sink);
	output_sink_end(&oj->sink, output_json_append_event(b, &oj->clock, ev));
}

static int output_json_finish(void *ctx)
{
	struct output_json *oj = ctx;

	return output_sink_finish(&oj->sink);
}

static void output_json_free(void *ctx)
{
	struct output_json *oj = ctx;

	if (oj == NULL)
		return;
	output_sink_free(&oj->sink);
	free(oj);
}

/* Live capture: out with every complete line now. */
static void output_json_flush(void *ctx)
{
	struct output_json *oj = ctx;

	/* a failed write is reported by finish */
	if (output_sink_finish(&oj->sink) != 0)
		return;
}

static const struct output_ops output_json_ops = {
	.flush = output_json_flush,
	.event = output_json_event,
	.finish = output_json_finish,
	.free = output_json_free,
};

int output_json_new(struct output *out_r, FILE *fp)
{
	struct output_json *oj = calloc(1, sizeof *oj);

	if (oj == NULL)
		return -1;
	output_sink_init(&oj->sink, fp);
	out_r->ops = &output_json_ops;
	out_r->ctx = oj;
	return 0;
}
