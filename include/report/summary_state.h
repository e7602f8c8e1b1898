/* --summary: the output's state (live sessions and capture totals) and the
 * functions that grow it: summary_session.c counts events per session and
 * in the capture as they pass; summary_capture.c folds a finished session
 * into the capture totals. */
#ifndef IMAPSCOPE_REPORT_SUMMARY_STATE_H
#define IMAPSCOPE_REPORT_SUMMARY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_event.h"
#include "report/render.h"	/* sink, clock */
#include "report/summary.h"
#include "report/summary_tables.h"

/* ================= per session ================= */

struct summary_mbox {
	uint8_t *p;
	size_t len;
};

struct summary_session {
	uint64_t id;
	struct mem_budget *budget;	/* charged for this struct, the mailbox
					   names and cmds */
	char client[SUMMARY_ADDR_MAX], server[SUMMARY_ADDR_MAX];
	struct event_flow flow;		/* af 0 when not known */
	int64_t first_us, last_us;
	bool mid_stream;
	uint8_t user[SUMMARY_USER_MAX];
	size_t user_len;
	bool have_user, user_ok;
	uint64_t logins_ok, logins_fail, logins_unknown, logins_aborted;
	enum transport transport;
	bool tls_not_used;	/* a direction stayed plain: transport is plain */
	bool tls_seen, tls_decrypted;
	char tls_version[SUMMARY_TEXT_MAX], tls_cipher[SUMMARY_TEXT_MAX], tls_reason[SUMMARY_TEXT_MAX];
	bool compress_seen, compress_decoded;
	char compress_alg[SUMMARY_TEXT_MAX];
	struct summary_mbox mboxes[SUMMARY_MAILBOXES_MAX];
	size_t n_mboxes;
	uint64_t selects, mboxes_unlisted;
	struct summary_cmds cmds;
	uint64_t commands, resp_ok, resp_no, resp_bad, untagged, gaps, gap_bytes;
	/* Messages fetched: a FETCH that carried a body section counts once
	 * per message, keyed by its sequence number within a numbering (a
	 * selection; an EXPUNGE or VANISHED starts a new one, so one message
	 * may count twice across them, never two messages once).  Past
	 * SUMMARY_FETCHED_KEYS keys every such FETCH counts. */
	uint64_t fetched;
	uint64_t *fetched_keys;		/* sorted */
	size_t n_fetched_keys, cap_fetched_keys;
	uint32_t numbering;
};

/* ================= the output's state ================= */

struct summary_reason {
	char text[SUMMARY_TEXT_MAX];
	uint64_t n;
};

struct summary {
	struct output_sink sink;
	struct output_time clock;
	bool json;
	/* Live sessions sorted by id.  Ids grow with each new session, so a
	 * new one is appended; lookups are binary searches. */
	struct summary_session **live;
	size_t n_live, cap_live;
	uint64_t sessions_lost;		/* no memory (or budget) for their state */
	struct mem_budget *budget;	/* per-session state and tables; may be NULL */
	/* capture totals */
	bool any;
	int64_t first_us, last_us;
	uint64_t sessions, ended, mid_stream;
	uint64_t by_transport[3];
	uint64_t commands, resp_ok, resp_no, resp_bad, untagged;
	uint64_t logins_ok, logins_fail, logins_unknown, logins_aborted;
	uint64_t bytes_c2s, bytes_s2c, wire_c2s, wire_s2c;
	uint64_t fetched, appended, gaps, gap_bytes, notices;
	uint64_t retransmitted;		/* bytes, from the sessions' summaries */
	uint64_t tls_sessions, tls_decrypted, compressed;
	struct summary_reason reasons[SUMMARY_REASONS_MAX];
	size_t n_reasons;
	uint64_t reasons_other;
	struct summary_cmds cmds;
	struct summary_set clients, servers, users;
};

/* ================= summary_session.c ================= */

void summary_session_free(struct summary_session *s);
/* Copy a C string, cut to fit (these are our own fixed texts and
 * addresses, never wire data). */
void summary_copy_cstr(char *dst, size_t cap, const char *src);

/* Where session id is, or would be inserted, in sm->live. */
size_t summary_live_index(const struct summary *sm, uint64_t id, bool *found_r);
/* Take sm->live[at] out of the list (not freed). */
void summary_live_remove(struct summary *sm, size_t at);
/* A session's state, made at its first event (session_start, or whatever
 * came first in a damaged capture).  NULL when out of memory or refused by
 * sm->budget: counted in sessions_lost ("sessions_untracked"). */
struct summary_session *summary_session_get(struct summary *sm, const struct event *ev);

void summary_on_command(struct summary *sm, struct summary_session *s,
			const struct event *ev);
/* Count a reply by status in the session, the capture and both command
 * tables; a known latency goes to both tables too. */
void summary_on_response(struct summary *sm, struct summary_session *s,
			 const struct event *ev);
/* The session's user: the one that logged in, else the last one tried. */
void summary_on_login(struct summary *sm, struct summary_session *s,
		      const struct event *ev);
/* An untagged FETCH (with its fetch facts): a message fetched, unless
 * this numbering's same message was counted already. */
void summary_on_fetch(struct summary_session *s, const struct event *ev);
/* session_start, untagged, tls, compress and gap events. */
void summary_on_other(struct summary_session *s, const struct event *ev);

/* ================= summary_capture.c ================= */

/* Fold a finished session into the capture totals (sum NULL: it never
 * ended, and its byte counts are unknown). */
void summary_fold(struct summary *sm, const struct summary_session *s,
		  const struct session_summary *sum);
/* The busiest clients into top[0..SUMMARY_BUSIEST): most sessions, then
 * most bytes; returns how many.  Valid until cl changes. */
size_t summary_busiest(const struct summary_set *cl, const struct summary_entry **top);

#endif
