/* --summary text: a block per session, then the capture's. */
#include "report/summary_render.h"

#include <string.h>

#include "util/escape.h"

static int summary_text_cstr(struct buf *b, const char *s)
{
	return escape_text(b, (const uint8_t *)s, strlen(s));
}

/* ================= sessions ================= */

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
	      LIT(b, ", aborted ") | output_append_u64(b, s->logins_aborted) |
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

int summary_text_session(struct summary *sm, struct buf *b, struct summary_session *s,
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
		      LIT(b, ")\n  messages     fetched ") | output_append_u64(b, s->fetched) |
		      LIT(b, ", appended ") | output_append_u64(b, sum->literals_appended) |
		      LIT(b, "\n  notices      ") | output_append_u64(b, sum->notices) |
		      LIT(b, "\n  duplicates   ") | output_append_u64(b, sum->retransmitted_bytes) |
		      LIT(b, " bytes retransmitted\n");
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

/* ================= capture ================= */

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
	       LIT(b, ", aborted ") | output_append_u64(b, sm->logins_aborted) |
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
	       LIT(b, " bytes); retransmitted ") | output_append_u64(b, sm->retransmitted) |
	       LIT(b, " bytes; notices ") | output_append_u64(b, sm->notices) | LIT(b, "\n");
}

int summary_text_capture(struct summary *sm, struct buf *b)
{
	const struct summary_entry *top[SUMMARY_BUSIEST];
	size_t n = summary_busiest(&sm->clients, top), i;
	bool heading = false, lat_heading = false;
	int rc = summary_text_capture_counts(sm, b) |
		 LIT(b, "  tls          ") | output_append_u64(b, sm->tls_sessions) |
		 LIT(b, " sessions, decrypted ") | output_append_u64(b, sm->tls_decrypted) |
		 LIT(b, ", not ") | output_append_u64(b, sm->tls_sessions - sm->tls_decrypted) |
		 LIT(b, "\n");

	for (i = 0; i < sm->n_reasons; i++)
		rc |= LIT(b, "    ") | output_append_u64(b, sm->reasons[i].n) | LIT(b, "  ") |
		      summary_text_cstr(b, sm->reasons[i].text) | LIT(b, "\n");
	/* A heading only over rows: an empty one reads as something missing. */
	if (n > 0)
		rc |= LIT(b, "  busiest clients\n");
	for (i = 0; i < n; i++)
		rc |= LIT(b, "    ") | escape_text(b, top[i]->key, top[i]->len) |
		      LIT(b, "  sessions ") | output_append_u64(b, top[i]->sessions) |
		      LIT(b, ", commands ") | output_append_u64(b, top[i]->commands) |
		      LIT(b, ", bytes ") | output_append_u64(b, top[i]->bytes) | LIT(b, "\n");
	rc |= LIT(b, "  commands     ") | output_append_u64(b, sm->commands) |
	      summary_text_cmds(b, &sm->cmds) | LIT(b, "\n");
	for (i = 0; i < sm->cmds.n; i++) {
		struct summary_cmd *c = &sm->cmds.v[i];

		if (c->no + c->bad == 0)
			continue;
		rc |= (!heading ? LIT(b, "  errors by command\n") : 0) | LIT(b, "    ") |
		      escape_text(b, c->name, c->len) |
		      LIT(b, "  NO ") | output_append_u64(b, c->no) |
		      LIT(b, ", BAD ") | output_append_u64(b, c->bad) | LIT(b, " of ") |
		      output_append_u64(b, c->ok + c->no + c->bad) | LIT(b, " (") |
		      summary_append_ratio(b, c->no + c->bad, c->ok + c->no + c->bad, false) |
		      LIT(b, ")\n");
		heading = true;
	}
	for (i = 0; i < sm->cmds.n; i++)
		if (sm->cmds.v[i].lat.n > 0) {
			rc |= (!lat_heading ? LIT(b, "  latency\n") : 0) |
			      summary_text_lat_row(b, &sm->cmds.v[i], &sm->cmds.v[i].lat);
			lat_heading = true;
		}
	return rc;
}
