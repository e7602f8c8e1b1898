/* --summary: per-session state, kept from a session's first event to its
 * session_end, and the events counted into it (and, as they pass, into the
 * capture totals and command tables). */
#include "report/summary_state.h"

#include <stdlib.h>
#include <string.h>

void summary_session_free(struct summary_session *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_mboxes; i++) {
		mem_release(s->budget, s->mboxes[i].len > 0 ? s->mboxes[i].len : 1);
		free(s->mboxes[i].p);
	}
	summary_cmds_free(&s->cmds);
	mem_release(s->budget, s->cap_fetched_keys * sizeof *s->fetched_keys);
	free(s->fetched_keys);
	mem_release(s->budget, sizeof *s);
	free(s);
}

/* Copy a C string, cut to fit (these are our own fixed texts and
 * addresses, never wire data). */
void summary_copy_cstr(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ================= live sessions ================= */

size_t summary_live_index(const struct summary *sm, uint64_t id, bool *found_r)
{
	size_t lo = 0, hi = sm->n_live;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sm->live[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found_r = lo < sm->n_live && sm->live[lo]->id == id;
	return lo;
}

static int summary_live_insert(struct summary *sm, size_t at, struct summary_session *s)
{
	if (sm->n_live == sm->cap_live) {
		size_t ncap = sm->cap_live == 0 ? 16 : sm->cap_live * 2;
		struct summary_session **nv;

		if (mem_charge(sm->budget, (ncap - sm->cap_live) * sizeof *nv) != 0)
			return -1;
		nv = realloc(sm->live, ncap * sizeof *nv);
		if (nv == NULL) {
			mem_release(sm->budget, (ncap - sm->cap_live) * sizeof *nv);
			return -1;
		}
		sm->live = nv;
		sm->cap_live = ncap;
	}
	memmove(&sm->live[at + 1], &sm->live[at], (sm->n_live - at) * sizeof *sm->live);
	sm->live[at] = s;
	sm->n_live++;
	return 0;
}

void summary_live_remove(struct summary *sm, size_t at)
{
	memmove(&sm->live[at], &sm->live[at + 1], (sm->n_live - at - 1) * sizeof *sm->live);
	sm->n_live--;
}

/* A session's state, made at its first event (session_start, or whatever
 * came first in a damaged capture).  NULL when out of memory. */
struct summary_session *summary_session_get(struct summary *sm, const struct event *ev)
{
	bool found;
	size_t at = summary_live_index(sm, ev->session, &found);
	struct summary_session *s;
	struct summary_entry *e;

	if (found)
		return sm->live[at];
	if (mem_charge(sm->budget, sizeof *s) != 0) {
		sm->sessions_lost++;
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (s == NULL || summary_live_insert(sm, at, s) != 0) {
		free(s);
		mem_release(sm->budget, sizeof *s);
		sm->sessions_lost++;
		return NULL;
	}
	s->budget = sm->budget;
	s->cmds.budget = sm->budget;
	s->id = ev->session;
	s->first_us = ev->ts_us;
	s->last_us = ev->ts_us;
	summary_copy_cstr(s->client, sizeof s->client, ev->client);
	summary_copy_cstr(s->server, sizeof s->server, ev->server);
	if (ev->flow != NULL)
		s->flow = *ev->flow;	/* calloc'd: af 0 otherwise */
	sm->sessions++;
	e = summary_set_get(&sm->clients, summary_host(ev->client).ptr,
			    summary_host(ev->client).len);
	if (e != NULL)
		e->sessions++;
	(void)summary_set_get(&sm->servers, summary_host(ev->server).ptr,
			      summary_host(ev->server).len);
	return s;
}

/* ================= consuming events ================= */

void summary_on_command(struct summary *sm, struct summary_session *s,
			const struct event *ev)
{
	struct summary_cmd *c;
	struct summary_entry *e;

	s->commands++;
	sm->commands++;
	if ((c = summary_cmds_get(&s->cmds, ev->u.command.name)) != NULL)
		c->count++;
	if ((c = summary_cmds_get(&sm->cmds, ev->u.command.name)) != NULL)
		c->count++;
	e = summary_set_find(&sm->clients, summary_host(s->client).ptr, summary_host(s->client).len);
	if (e != NULL)
		e->commands++;
}

static void summary_add_mailbox(struct summary_session *s, const uint8_t *p, size_t n)
{
	size_t i, sz = n > 0 ? n : 1;
	uint8_t *copy;

	s->selects++;
	for (i = 0; i < s->n_mboxes; i++)
		if (summary_bytes_eq(s->mboxes[i].p, s->mboxes[i].len, p, n))
			return;
	if (s->n_mboxes >= SUMMARY_MAILBOXES_MAX || mem_charge(s->budget, sz) != 0) {
		s->mboxes_unlisted++;
		return;
	}
	if ((copy = malloc(sz)) == NULL) {
		mem_release(s->budget, sz);
		s->mboxes_unlisted++;
		return;
	}
	if (n > 0)
		memcpy(copy, p, n);
	s->mboxes[s->n_mboxes].p = copy;
	s->mboxes[s->n_mboxes++].len = n;
}

/* An OK to SELECT or EXAMINE lists the mailbox the command named, as the
 * session decoded it (quotes, literals, modified UTF-7).  A name the
 * session could not keep (its memory budget) is counted, not listed. */
static void summary_select_done(struct summary_session *s, const struct event *ev)
{
	const struct command_facts *cmd = ev->u.response.cmd;
	struct buf_slice m;

	if (cmd == NULL || (cmd->id != IMAP_CMD_SELECT && cmd->id != IMAP_CMD_EXAMINE))
		return;
	m = cmd->mailbox;
	if (m.ptr == NULL) {
		s->selects++;
		s->mboxes_unlisted++;
		return;
	}
	summary_add_mailbox(s, m.ptr, m.len < SUMMARY_MAILBOX_MAX ? m.len : SUMMARY_MAILBOX_MAX);
}

/* Count a reply by status in the session, the capture and both command
 * tables; a known latency goes to both tables too. */
void summary_on_response(struct summary *sm, struct summary_session *s,
			 const struct event *ev)
{
	enum imap_resp_id id = ev->u.response.id;
	struct summary_cmd *cs = NULL, *cc = NULL;
	bool ok = id == IMAP_R_OK, no = id == IMAP_R_NO, bad = id == IMAP_R_BAD;
	double ms = ev->u.response.latency_ms;

	s->resp_ok += ok;
	s->resp_no += no;
	s->resp_bad += bad;
	sm->resp_ok += ok;
	sm->resp_no += no;
	sm->resp_bad += bad;
	if (ok)
		summary_select_done(s, ev);
	if (ev->u.response.command.ptr == NULL)
		return;
	cs = summary_cmds_get(&s->cmds, ev->u.response.command);
	cc = summary_cmds_get(&sm->cmds, ev->u.response.command);
	if (cs != NULL) {
		cs->ok += ok;
		cs->no += no;
		cs->bad += bad;
	}
	if (cc != NULL) {
		cc->ok += ok;
		cc->no += no;
		cc->bad += bad;
	}
	/* Same rule as the JSON writer: negative, NaN or absurd is unknown. */
	if (!(ms >= 0) || ms > 1e12)
		return;
	if (cs != NULL)
		summary_lat_add(&cs->lat, (uint64_t)(ms * 1000.0 + 0.5));
	if (cc != NULL)
		summary_lat_add(&cc->lat, (uint64_t)(ms * 1000.0 + 0.5));
}

/* The session's user: the one that logged in, else the last one tried. */
void summary_on_login(struct summary *sm, struct summary_session *s,
		      const struct event *ev)
{
	struct buf_slice u = ev->u.login.user;
	enum login_result r = ev->u.login.result;

	s->logins_ok += r == LOGIN_OK;
	s->logins_fail += r == LOGIN_FAIL;
	s->logins_unknown += r == LOGIN_UNKNOWN;
	s->logins_aborted += r == LOGIN_ABORTED;
	sm->logins_ok += r == LOGIN_OK;
	sm->logins_fail += r == LOGIN_FAIL;
	sm->logins_unknown += r == LOGIN_UNKNOWN;
	sm->logins_aborted += r == LOGIN_ABORTED;
	if (u.ptr == NULL)
		return;
	(void)summary_set_get(&sm->users, u.ptr, u.len);
	if (s->user_ok && r != LOGIN_OK)
		return;
	s->user_len = u.len < SUMMARY_USER_MAX ? u.len : SUMMARY_USER_MAX;
	memcpy(s->user, u.ptr, s->user_len);
	s->have_user = true;
	s->user_ok = r == LOGIN_OK;
}

static void summary_on_tls(struct summary_session *s, const struct event *ev)
{
	s->tls_seen = true;
	s->tls_decrypted = ev->u.tls.decrypted;
	summary_copy_cstr(s->tls_version, sizeof s->tls_version, ev->u.tls.version);
	summary_copy_cstr(s->tls_cipher, sizeof s->tls_cipher, ev->u.tls.cipher);
	summary_copy_cstr(s->tls_reason, sizeof s->tls_reason,
			  ev->u.tls.decrypted ? NULL
			  : ev->u.tls.reason != NULL ? ev->u.tls.reason : "unknown");
	/* The session chose the transport when TLS began, before this event. */
	if (!s->tls_not_used)
		s->transport = ev->facts->transport;
}

/* The session found a direction in plain text where TLS was agreed: what
 * crossed the wire was not protected, whatever the handshake did. */
static void summary_on_notice(struct summary_session *s, const struct event *ev)
{
	enum notice_kind kind = ev->u.notice.kind;

	if (kind == NOTICE_STARTTLS_NOT_NEGOTIATED || kind == NOTICE_PLAINTEXT_ON_TLS_PORT) {
		s->tls_not_used = true;
		s->transport = TRANSPORT_PLAIN;
	}
}

/* Whether a FETCH carried a body section with a value (NIL is none). */
static bool summary_fetch_has_body(const struct fetch_facts *f)
{
	for (size_t i = 0; i < f->n_sections; i++)
		if (f->section_sizes[i] != FACT_NONE)
			return true;
	return false;
}

/* Index where key is or would go in the sorted keys; *found_r says which. */
static size_t summary_key_index(const uint64_t *v, size_t n, uint64_t key, bool *found_r)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found_r = lo < n && v[lo] == key;
	return lo;
}

#define SUMMARY_SEQ_BITS 40	/* sequence numbers above 2^40 are not told apart */

void summary_on_fetch(struct summary_session *s, const struct event *ev)
{
	const struct fetch_facts *f = ev->u.untagged.fetch;
	uint64_t key, *grown;
	size_t at;
	bool found;

	if (f == NULL || !summary_fetch_has_body(f))
		return;
	s->fetched++;
	if (f->seq >= (uint64_t)1 << SUMMARY_SEQ_BITS)
		return;
	key = (uint64_t)s->numbering << SUMMARY_SEQ_BITS | f->seq;
	at = summary_key_index(s->fetched_keys, s->n_fetched_keys, key, &found);
	if (found) {
		s->fetched--;	/* another part of a message counted already */
		return;
	}
	if (s->n_fetched_keys == s->cap_fetched_keys) {
		grown = mem_grow_array(s->budget, s->fetched_keys, &s->cap_fetched_keys,
				       sizeof *grown, 64, SUMMARY_FETCHED_KEYS);
		if (grown == NULL)
			return;		/* counted, but not remembered */
		s->fetched_keys = grown;
	}
	memmove(&s->fetched_keys[at + 1], &s->fetched_keys[at],
		(s->n_fetched_keys - at) * sizeof *s->fetched_keys);
	s->fetched_keys[at] = key;
	s->n_fetched_keys++;
}

void summary_on_other(struct summary_session *s, const struct event *ev)
{
	switch (ev->type) {
	case EV_SESSION_START:
		s->mid_stream = ev->u.start.mid_stream;
		if (ev->u.start.implicit_tls)
			s->transport = TRANSPORT_IMPLICIT_TLS;
		break;
	case EV_UNTAGGED:
		s->untagged++;
		if (ev->u.untagged.id == IMAP_R_FETCH)
			summary_on_fetch(s, ev);
		else if (ev->u.untagged.id == IMAP_R_EXPUNGE ||
			 ev->u.untagged.id == IMAP_R_VANISHED)
			s->numbering++;	/* the numbers shift */
		break;
	case EV_TLS:
		summary_on_tls(s, ev);
		break;
	case EV_COMPRESS:
		s->compress_seen = true;
		s->compress_decoded = ev->u.compress.decoded;
		summary_copy_cstr(s->compress_alg, sizeof s->compress_alg,
				  ev->u.compress.algorithm != NULL ? ev->u.compress.algorithm
								   : "?");
		break;
	case EV_GAP:
		s->gaps++;
		s->gap_bytes += ev->u.gap.bytes;
		break;
	case EV_NOTICE:
		summary_on_notice(s, ev);
		break;
	default:
		break;
	}
}
