/* --summary -F json: "session_summary" and "capture_summary" objects. */
#include "report/summary_render.h"

#include <string.h>

#include "report/output_json.h"
#include "util/escape.h"

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

/* ================= sessions ================= */

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
	return LIT(b, "{\"v\":" OUTPUT_JSON_VERSION ",\"ts\":\"") |
	       output_time_append_rfc3339(b, &sm->clock, ts) |
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
		 output_json_append_flow(b, &s->flow) |
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
	       LIT(b, ",\"aborted\":") | output_append_u64(b, s->logins_aborted) |
	       LIT(b, "},\"transport\":\"") |
	       output_put(b, event_transport_name(s->transport),
			  strlen(event_transport_name(s->transport))) | LIT(b, "\"");
}

int summary_json_session(struct summary *sm, struct buf *b, struct summary_session *s,
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
		      LIT(b, ",\"messages_fetched\":") | output_append_u64(b, s->fetched) |
		      LIT(b, ",\"messages_appended\":") | output_append_u64(b, sum->literals_appended) |
		      LIT(b, ",\"retransmitted_bytes\":") |
		      output_append_u64(b, sum->retransmitted_bytes) |
		      LIT(b, ",\"notices\":") | output_append_u64(b, sum->notices);
	else
		rc |= LIT(b, ",\"bytes_c2s\":null,\"bytes_s2c\":null,\"wire_bytes_c2s\":null,"
			     "\"wire_bytes_s2c\":null,\"messages_fetched\":null,"
			     "\"messages_appended\":null,\"retransmitted_bytes\":null,"
			     "\"notices\":null");
	return rc | LIT(b, ",\"gaps\":") | output_append_u64(b, s->gaps) |
	       LIT(b, ",\"gap_bytes\":") | output_append_u64(b, s->gap_bytes) | LIT(b, "}\n");
}

/* ================= capture ================= */

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
	       LIT(b, ",\"aborted\":") | output_append_u64(b, sm->logins_aborted) |
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
	       LIT(b, ",\"retransmitted_bytes\":") | output_append_u64(b, sm->retransmitted) |
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

int summary_json_capture(struct summary *sm, struct buf *b)
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
