/* The session model: scripted byte streams of both directions in, the
 * recorded events out.  Every script is run whole and again one byte at a
 * time (in the same order of directions), and both runs must give exactly
 * the expected events. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_lexer.h"
#include "imap/imap_session.h"
#include "tls/tls_layer.h"

#define MAX_EVENTS 8192
#define EV_TEXT 512

struct rec {
	char *ev[MAX_EVENTS];
	size_t n;
	size_t notices;
	char last_notice[EV_TEXT];
	char all_notices[4 * EV_TEXT];
	char notice_kinds[EV_TEXT];	/* of the notice events, space separated */
	size_t notice_events;
	uint64_t tapped[2];
	uint64_t tap_gaps;
	int tap_ends;
	/* state seen just before end */
	enum imap_session_state state;
	char mailbox[EV_TEXT];
	uint64_t capped;	/* the session_end summary's */
	uint64_t notices_sum;	/* and its notices */
	int extract_begins;
};

static int sl(char *o, size_t cap, struct buf_slice s)
{
	if (s.ptr == NULL)
		return snprintf(o, cap, "null");
	return snprintf(o, cap, "%.*s", (int)s.len, (const char *)s.ptr);
}

#define SL(s) (s).ptr ? (int)(s).len : 4, (s).ptr ? (const char *)(s).ptr : "null"

/* One compact line per event, easy to compare. */
static void fmt_event(char *o, size_t cap, const struct event *ev)
{
	const struct session_summary *m;

	switch (ev->type) {
	case EV_SESSION_START:
		snprintf(o, cap, "start mid=%d tls=%d", ev->u.start.mid_stream,
			 ev->u.start.implicit_tls);
		break;
	case EV_GREETING:
		snprintf(o, cap, "greeting %.*s [%.*s] %.*s", SL(ev->u.greeting.status),
			 SL(ev->u.greeting.code), SL(ev->u.greeting.text));
		break;
	case EV_COMMAND:
		snprintf(o, cap, "C %.*s %.*s|%.*s| lit=%llu", SL(ev->u.command.tag),
			 SL(ev->u.command.name), SL(ev->u.command.args),
			 (unsigned long long)ev->u.command.literal_bytes);
		break;
	case EV_CONTINUATION:
		snprintf(o, cap, "+ %s %.*s", event_dir_name(ev->u.continuation.dir),
			 SL(ev->u.continuation.text));
		break;
	case EV_UNTAGGED:
		snprintf(o, cap, "* %.*s (%.*s) %.*s", SL(ev->u.untagged.name),
			 SL(ev->u.untagged.tag), SL(ev->u.untagged.text));
		break;
	case EV_RESPONSE:
		snprintf(o, cap, "S %.*s %.*s [%.*s] %.*s cmd=%.*s lat=%.3f",
			 SL(ev->u.response.tag), SL(ev->u.response.status),
			 SL(ev->u.response.code), SL(ev->u.response.text),
			 SL(ev->u.response.command), ev->u.response.latency_ms);
		break;
	case EV_LOGIN:
		snprintf(o, cap, "login %.*s user=%.*s %s tag=%.*s %s clear=%d secret=%.*s%s",
			 SL(ev->u.login.mechanism), SL(ev->u.login.user),
			 event_login_result_name(ev->u.login.result), SL(ev->u.login.tag),
			 event_transport_name(ev->u.login.transport),
			 ev->u.login.cleartext_secret, SL(ev->u.login.secret),
			 ev->u.login.cleartext_after_starttls ? " after_starttls=1" : "");
		break;
	case EV_TLS:
		snprintf(o, cap, "tls %s dec=%d %s", ev->u.tls.phase, ev->u.tls.decrypted,
			 ev->u.tls.reason ? ev->u.tls.reason : "null");
		break;
	case EV_COMPRESS:
		snprintf(o, cap, "compress %s dec=%d", ev->u.compress.algorithm,
			 ev->u.compress.decoded);
		break;
	case EV_GAP:
		snprintf(o, cap, "gap %s %llu @%llu", event_dir_name(ev->u.gap.dir),
			 (unsigned long long)ev->u.gap.bytes,
			 (unsigned long long)ev->u.gap.offset);
		break;
	case EV_SESSION_END:
		m = ev->u.end.summary;
		snprintf(o, cap, "end %s cmd=%llu ok=%llu no=%llu bad=%llu un=%llu "
			 "b=%llu/%llu w=%llu/%llu gaps=%llu dur=%lld",
			 event_end_reason_name(ev->u.end.reason),
			 (unsigned long long)m->commands, (unsigned long long)m->responses_ok,
			 (unsigned long long)m->responses_no, (unsigned long long)m->responses_bad,
			 (unsigned long long)m->untagged, (unsigned long long)m->bytes_c2s,
			 (unsigned long long)m->bytes_s2c, (unsigned long long)m->wire_bytes_c2s,
			 (unsigned long long)m->wire_bytes_s2c, (unsigned long long)m->gaps,
			 (long long)m->duration_us);
		break;
	default:
		snprintf(o, cap, "?");
	}
	if (ev->type == EV_RESPONSE && ev->u.response.n_cont_waits > 0) {
		size_t k = strlen(o);

		k += (size_t)snprintf(o + k, cap - k, " waits=");
		for (size_t i = 0; i < ev->u.response.n_cont_waits && k < cap; i++)
			k += (size_t)snprintf(o + k, cap - k, "%s%.3f", i ? "," : "",
					      (double)ev->u.response.cont_wait_us[i] / 1000.0);
	}
	if (ev->truncated && strlen(o) + 7 < cap)
		strcat(o, " TRUNC");
	if (ev->unsynchronised && strlen(o) + 8 < cap)
		strcat(o, " UNSYNC");
}

static void rec_event(void *ctx, const struct event *ev)
{
	struct rec *r = ctx;
	char line[EV_TEXT];

	assert_non_null(ev->client);
	assert_string_equal(ev->client, "192.0.2.1:50000");
	assert_int_equal(ev->session, 7);
	if (ev->type == EV_NOTICE) {
		/* Kept apart from the sequence: each notice is checked by its
		 * text (rec_notice) and here by its kind. */
		assert_string_not_equal(notice_kind_name(ev->u.notice.kind), "other");
		assert_non_null(ev->u.notice.text);
		assert_null(strstr(ev->u.notice.text, "session 7:"));
		r->notice_events++;
		if (strlen(r->notice_kinds) + strlen(notice_kind_name(ev->u.notice.kind)) + 2 <
		    sizeof r->notice_kinds) {
			strcat(r->notice_kinds, notice_kind_name(ev->u.notice.kind));
			strcat(r->notice_kinds, " ");
		}
		return;
	}
	fmt_event(line, sizeof line, ev);
	if (ev->type == EV_SESSION_END) {
		r->capped = ev->u.end.summary->capped;
		r->notices_sum = ev->u.end.summary->notices;
	}
	assert_true(r->n < MAX_EVENTS);
	r->ev[r->n++] = strdup(line);
}

static void rec_notice(void *ctx, const struct notice *n)
{
	struct rec *r = ctx;
	char msg[EV_TEXT];

	assert_int_equal(n->session, 7);
	/* as the run prints it */
	snprintf(msg, sizeof msg, "session %llu: %s", (unsigned long long)n->session, n->text);
	r->notices++;
	snprintf(r->last_notice, sizeof r->last_notice, "%s", msg);
	if (strlen(r->all_notices) + strlen(msg) + 2 < sizeof r->all_notices) {
		strcat(r->all_notices, msg);
		strcat(r->all_notices, "\n");
	}
}

static void tap_data(void *ctx, uint64_t session, enum stream_dir dir, const uint8_t *p,
		     size_t n, int64_t ts_us)
{
	struct rec *r = ctx;

	(void)session;
	(void)p;
	(void)ts_us;
	r->tapped[dir] += n;
}

static void tap_gap(void *ctx, uint64_t session, enum stream_dir dir, uint64_t nbytes,
		    int64_t ts_us)
{
	struct rec *r = ctx;

	(void)session;
	(void)ts_us;
	(void)dir;
	r->tap_gaps += nbytes;
}

static void tap_end(void *ctx, uint64_t session, const struct imap_tap_end *e)
{
	struct rec *r = ctx;

	(void)session;
	(void)e;
	r->tap_ends++;
}

static const struct output_ops rec_ops = { .event = rec_event };

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i]);
	r->n = 0;
}

/* --- scripts ------------------------------------------------------------- */

enum step_kind { STEP_DATA, STEP_GAP, STEP_CHECK };

struct step {
	enum step_kind kind;
	enum stream_dir dir;
	const char *data;
	size_t len;
	int64_t ts;
	uint64_t gap;
};

#define C_(t, s) { STEP_DATA, DIR_C2S, s, sizeof(s) - 1, t, 0 }
#define S_(t, s) { STEP_DATA, DIR_S2C, s, sizeof(s) - 1, t, 0 }
#define GAP_(t, d, n) { STEP_GAP, d, NULL, 0, t, n }
#define CHECK_ { STEP_CHECK, 0, NULL, 0, 0, 0 }	/* snapshot state, mailbox */

struct opts {
	bool show_secrets;
	bool mid_stream;
	bool implicit_tls;
	enum end_reason why;
	int64_t end_ts;
};

static void run(struct rec *r, const struct step *steps, size_t n, const struct opts *o,
		bool bytewise)
{
	struct imap_session_config cfg = { 0 };
	struct imap_session_info info = { 0 };
	struct imap_session *s;

	memset(r, 0, sizeof *r);
	cfg.show_secrets = o->show_secrets;
	cfg.tls = &tls_layer_ops;	/* without keys: handshakes are still reported */
	cfg.out.ops = &rec_ops;
	cfg.out.ctx = r;
	cfg.notice = rec_notice;
	cfg.notice_ctx = r;
	cfg.tap.ctx = r;
	cfg.tap.data = tap_data;
	cfg.tap.gap = tap_gap;
	cfg.tap.end = tap_end;
	info.id = 7;
	info.client = "192.0.2.1:50000";
	info.server = "198.51.100.2:143";
	info.mid_stream = o->mid_stream;
	info.implicit_tls = o->implicit_tls;
	info.first_ts_us = 1000;
	s = imap_session_new(&cfg, &info);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		const struct step *st = &steps[i];
		const uint8_t *p = (const uint8_t *)st->data;

		if (st->kind == STEP_GAP) {
			imap_session_ops.gap(s, st->dir, st->gap, st->ts);
		} else if (st->kind == STEP_CHECK) {
			struct buf_slice mb = imap_session_mailbox(s);

			r->state = imap_session_state(s);
			sl(r->mailbox, sizeof r->mailbox, mb);
		} else if (!bytewise) {
			imap_session_ops.feed(s, st->dir, p, st->len, st->ts);
		} else {
			for (size_t k = 0; k < st->len; k++)
				imap_session_ops.feed(s, st->dir, p + k, 1, st->ts);
		}
	}
	imap_session_ops.end(s, o->why, o->end_ts ? o->end_ts : 100000);
}

static void expect(struct rec *r, const char *const *want, size_t n_want)
{
	bool ok = r->n == n_want;

	for (size_t i = 0; ok && i < n_want; i++)
		ok = strcmp(r->ev[i], want[i]) == 0;
	if (!ok) {
		for (size_t i = 0; i < r->n || i < n_want; i++)
			print_message("%s %-60s | %s\n",
				      i < r->n && i < n_want && strcmp(r->ev[i], want[i]) == 0 ? " " : "!",
				      i < n_want ? want[i] : "-", i < r->n ? r->ev[i] : "-");
		fail_msg("events differ");
	}
}

/* Run whole and byte by byte; both must give want.  r keeps the last run. */
static void check_script(struct rec *r, const struct step *steps, size_t n,
			 const struct opts *o, const char *const *want, size_t n_want)
{
	run(r, steps, n, o, false);
	expect(r, want, n_want);
	rec_free(r);
	run(r, steps, n, o, true);
	expect(r, want, n_want);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* --- tests ----------------------------------------------------------------- */

static const struct step login_script[] = {
	S_(1000, "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
	C_(2000, "a1 LOGIN {5}\r\n"),
	S_(3000, "+ go ahead\r\n"),
	C_(4000, "alice {6}\r\n"),
	S_(5000, "+ go ahead\r\n"),
	C_(6000, "s3cr\"t\r\n"),
	S_(7500, "a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"),
	C_(8000, "a2 select \"IN\\\"BOX\"\r\n"),
	S_(9000, "* 3 EXISTS\r\n* FLAGS (\\Seen \\Draft)\r\n"
		 "* OK [UIDVALIDITY 42] UIDs valid\r\na2 OK [READ-WRITE] SELECT done\r\n"),
	CHECK_,
	C_(10000, "a3 LOGIN bob \"p\\\\w\"\r\n"),
	S_(12000, "a3 NO [AUTHENTICATIONFAILED] nope\r\n"),
	C_(13000, "a4 LOGOUT\r\n"),
	S_(14000, "* BYE bye\r\na4 OK done\r\n"),
};

/* --follow's marks: the tapped stream, and where the session says its
 * literals and secrets lie.  Every secret mark names exactly a secret's
 * bytes, before the settled mark that covers them; every literal mark its
 * contents, before they are tapped. */
#define MARK_STREAM 4096
#define MARK_MAX 64

struct markrec {
	uint8_t stream[2][MARK_STREAM];
	size_t len[2];
	uint64_t settled[2];
	char secrets[MARK_MAX][64];
	size_t n_secrets;
	char literals[MARK_MAX][64];
	size_t n_literals;
	uint64_t lit_off[MARK_MAX], lit_len[MARK_MAX];
	bool lit_dir[MARK_MAX];
	bool bad_order;		/* a secret inside bytes already settled */
};

static void mark_data(void *ctx, uint64_t session, enum stream_dir dir, const uint8_t *p,
		      size_t n, int64_t ts_us)
{
	struct markrec *m = ctx;

	(void)session;
	(void)ts_us;
	assert_true(m->len[dir] + n <= MARK_STREAM);
	memcpy(m->stream[dir] + m->len[dir], p, n);
	m->len[dir] += n;
}

static void mark_gap(void *ctx, uint64_t session, enum stream_dir dir, uint64_t nbytes,
		     int64_t ts_us)
{
	struct markrec *m = ctx;

	(void)session;
	(void)ts_us;
	assert_true(m->len[dir] + nbytes <= MARK_STREAM);
	memset(m->stream[dir] + m->len[dir], '#', (size_t)nbytes);	/* shown as # */
	m->len[dir] += (size_t)nbytes;
}

static void mark_mark(void *ctx, uint64_t session, const struct imap_tap_mark *k)
{
	struct markrec *m = ctx;

	(void)session;
	switch (k->kind) {
	case IMAP_TAP_SECRET:
		assert_true(m->n_secrets < MARK_MAX && k->len < 64);
		assert_true(k->off + k->len <= m->len[k->dir]);	/* told after its bytes */
		m->bad_order |= k->off < m->settled[k->dir];
		memcpy(m->secrets[m->n_secrets], m->stream[k->dir] + k->off, (size_t)k->len);
		m->secrets[m->n_secrets++][k->len] = '\0';
		break;
	case IMAP_TAP_LITERAL:
		assert_true(m->n_literals < MARK_MAX);
		assert_int_equal(k->off, m->len[k->dir]);	/* before its bytes */
		m->lit_off[m->n_literals] = k->off;
		m->lit_len[m->n_literals] = k->len;
		m->lit_dir[m->n_literals++] = k->dir;
		break;
	case IMAP_TAP_SETTLED:
		assert_true(k->off >= m->settled[k->dir] && k->off <= m->len[k->dir]);
		m->settled[k->dir] = k->off;
		break;
	}
}

static void mark_run_mid(struct markrec *m, const struct step *steps, size_t n, bool show,
			 bool bytewise, bool mid_stream)
{
	struct imap_session_config cfg = { 0 };
	struct imap_session_info info = { 0 };
	struct imap_session *s;
	struct rec r;

	memset(m, 0, sizeof *m);
	memset(&r, 0, sizeof r);
	cfg.show_secrets = show;
	cfg.out.ops = &rec_ops;
	cfg.out.ctx = &r;
	cfg.tap = (struct imap_tap){ .ctx = m, .data = mark_data, .gap = mark_gap,
				     .mark = mark_mark };
	info.id = 7;
	info.mid_stream = mid_stream;
	info.client = "192.0.2.1:50000";
	info.server = "198.51.100.2:143";
	s = imap_session_new(&cfg, &info);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *)steps[i].data;

		if (steps[i].kind == STEP_GAP)
			imap_session_ops.gap(s, steps[i].dir, steps[i].gap, steps[i].ts);
		if (steps[i].kind != STEP_DATA)
			continue;
		for (size_t k = 0; k < steps[i].len; k += bytewise ? 1 : steps[i].len)
			imap_session_ops.feed(s, steps[i].dir, p + k, bytewise ? 1 : steps[i].len,
					      steps[i].ts);
	}
	imap_session_ops.end(s, END_FIN, 100000);
	rec_free(&r);
	for (size_t i = 0; i < m->n_literals; i++) {
		assert_true(m->lit_len[i] < 64);
		memcpy(m->literals[i], m->stream[m->lit_dir[i]] + m->lit_off[i], (size_t)m->lit_len[i]);
		m->literals[i][m->lit_len[i]] = '\0';
	}
}

static void mark_run(struct markrec *m, const struct step *steps, size_t n, bool show,
		     bool bytewise)
{
	mark_run_mid(m, steps, n, show, bytewise, false);
}

static const struct step secrets_script[] = {
	S_(1000, "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] ready\r\n"),
	C_(2000, "a1 LOGIN {5}\r\n"),
	S_(3000, "+ go ahead\r\n"),
	C_(4000, "alice {6}\r\n"),
	S_(5000, "+ go ahead\r\n"),
	C_(6000, "s3cr\"t\r\n"),
	S_(7000, "a1 NO nope\r\n"),
	C_(8000, "a2 LOGIN bob \"p\\\\w\"\r\n"),
	S_(9000, "a2 NO nope\r\n"),
	C_(10000, "a3 AUTHENTICATE PLAIN AGJvYgBwdw==\r\n"),
	S_(11000, "a3 NO nope\r\n"),
	C_(12000, "a4 AUTHENTICATE LOGIN\r\n"),
	S_(13000, "+ VXNlcm5hbWU6\r\n"),
	C_(14000, "Ym9i\r\n"),
	S_(15000, "+ UGFzc3dvcmQ6\r\n"),
	C_(16000, "cHc=\r\n"),
	S_(17000, "a4 OK [CAPABILITY IMAP4rev1] in\r\n"),
	C_(18000, "a5 FETCH 1 BODY[]\r\n"),
	S_(19000, "* 1 FETCH (BODY[] {12}\r\nHello\r\nworld UID 4)\r\na5 OK done\r\n"),
};

static void test_tap_marks(void **state)
{
	static const char *const secrets[] = {
		"s3cr\"t", "\"p\\\\w\"", "AGJvYgBwdw==", "Ym9i", "cHc=",
	};
	static const char *const literals[] = { "alice", "s3cr\"t", "Hello\r\nworld" };
	struct markrec *m = calloc(1, sizeof *m);

	(void)state;
	assert_non_null(m);
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		mark_run(m, secrets_script, N(secrets_script), false, bytewise);
		assert_int_equal(m->n_secrets, N(secrets));
		for (size_t i = 0; i < N(secrets); i++)
			assert_string_equal(m->secrets[i], secrets[i]);
		assert_int_equal(m->n_literals, N(literals));
		for (size_t i = 0; i < N(literals); i++)
			assert_string_equal(m->literals[i], literals[i]);
		assert_false(m->bad_order);
		assert_int_equal(m->settled[DIR_C2S], m->len[DIR_C2S]);
		assert_int_equal(m->settled[DIR_S2C], m->len[DIR_S2C]);
		/* --show-secrets: nothing to hide */
		mark_run(m, secrets_script, N(secrets_script), true, bytewise);
		assert_int_equal(m->n_secrets, 0);
	}
	free(m);
}

/* What the session could not read may hold a secret it never found: a
 * client SASL line a gap cut (to the end of what came), and client bytes
 * skipped while resynchronising (picked up mid-stream). */
static const struct step unread_script[] = {
	C_(1000, "AGJvYgBzM2NyM3Q=\r\n"),
	S_(2000, "a1 NO [AUTHENTICATIONFAILED] nope\r\n"),
	C_(3000, "a2 AUTHENTICATE PLAIN\r\n"),
	S_(4000, "+ \r\n"),
	C_(5000, "AGFsaWNl"),
	GAP_(6000, DIR_C2S, 4),
	C_(7000, "cHc=\r\n"),
	S_(8000, "a2 NO nope\r\n"),
	C_(9000, "a3 LOGOUT\r\n"),
};

static void test_tap_marks_unread(void **state)
{
	static const char *const secrets[] = {
		"AGJvYgBzM2NyM3Q=\r\n", "AGFsaWNl####", "cHc=\r\n",
	};
	struct markrec *m = calloc(1, sizeof *m);

	(void)state;
	assert_non_null(m);
	mark_run_mid(m, unread_script, N(unread_script), false, false, true);
	assert_int_equal(m->n_secrets, N(secrets));
	for (size_t i = 0; i < N(secrets); i++)
		assert_string_equal(m->secrets[i], secrets[i]);
	free(m);
}

static void test_login_literals(void **state)
{
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [CAPABILITY IMAP4rev1 LITERAL+] ready",
		"C a1 LOGIN|{5} ***| lit=11",
		"+ s2c go ahead",
		"+ s2c go ahead",
		"S a1 OK [CAPABILITY IMAP4rev1] Logged in cmd=LOGIN lat=5.500 waits=1.000,1.000",
		"login LOGIN user=alice ok tag=a1 plain clear=1 secret=null",
		"C a2 SELECT|\"IN\\\"BOX\"| lit=0",
		"* EXISTS (a2) 3 EXISTS",
		"* FLAGS (a2) FLAGS (\\Seen \\Draft)",
		"* OK (a2) OK [UIDVALIDITY 42] UIDs valid",
		"S a2 OK [READ-WRITE] SELECT done cmd=SELECT lat=1.000",
		"C a3 LOGIN|bob ***| lit=0",
		"S a3 NO [AUTHENTICATIONFAILED] nope cmd=LOGIN lat=2.000",
		"login LOGIN user=bob fail tag=a3 plain clear=1 secret=null",
		"C a4 LOGOUT|| lit=0",
		"* BYE (a4) BYE bye",
		"S a4 OK [null] done cmd=LOGOUT lat=1.000",
		"end fin cmd=4 ok=3 no=1 bad=0 un=4 b=86/268 w=86/268 gaps=0 dur=99000",
	};
	struct opts o = { .why = END_FIN };
	struct rec r;

	(void)state;
	check_script(&r, login_script, N(login_script), &o, want, N(want));
	assert_int_equal(r.state, IMAP_STATE_SELECTED);
	assert_string_equal(r.mailbox, "IN\"BOX");
	assert_int_equal(r.notices, 0);
	assert_int_equal(r.tapped[DIR_C2S], 86);
	assert_int_equal(r.tapped[DIR_S2C], 268);
	assert_int_equal(r.tap_ends, 1);
	rec_free(&r);
}

static void test_login_show_secrets(void **state)
{
	struct opts o = { .show_secrets = true, .why = END_FIN };
	struct rec r;
	bool seen_pw = false, seen_pw2 = false;

	(void)state;
	run(&r, login_script, N(login_script), &o, false);
	for (size_t i = 0; i < r.n; i++) {
		if (strcmp(r.ev[i], "login LOGIN user=alice ok tag=a1 plain clear=1 "
				    "secret=s3cr\"t") == 0)
			seen_pw = true;
		if (strcmp(r.ev[i], "C a3 LOGIN|bob \"p\\\\w\"| lit=0") == 0)
			seen_pw2 = true;
	}
	assert_true(seen_pw);
	assert_true(seen_pw2);
	rec_free(&r);
}

static void test_authenticate_plain(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK IMAP ready\r\n"),
		C_(2000, "A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
		S_(2500, "A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"),
		C_(3000, "A2 AUTHENTICATE PLAIN\r\n"),
		S_(3100, "+ \r\n"),
		C_(3200, "AGFsaWNlAHNlY3JldA==\r\n"),
		S_(4200, "A2 OK [CAPABILITY IMAP4rev1] done\r\n"),
		C_(5000, "A3 CAPABILITY\r\n"),
		S_(5100, "* CAPABILITY IMAP4rev1\r\nA3 OK\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [null] IMAP ready",
		"C A1 AUTHENTICATE|PLAIN ***| lit=0",
		"S A1 NO [AUTHENTICATIONFAILED] Invalid credentials cmd=AUTHENTICATE lat=0.500",
		"login PLAIN user=alice fail tag=A1 plain clear=1 secret=null",
		"C A2 AUTHENTICATE|PLAIN| lit=0",
		"+ s2c ",
		"+ c2s ***",
		"S A2 OK [CAPABILITY IMAP4rev1] done cmd=AUTHENTICATE lat=1.200 waits=0.100",
		"login PLAIN user=alice ok tag=A2 plain clear=1 secret=null",
		"C A3 CAPABILITY|| lit=0",
		"* CAPABILITY (A3) CAPABILITY IMAP4rev1",
		"S A3 OK [null]  cmd=CAPABILITY lat=0.100",
		"end eof cmd=3 ok=2 no=1 bad=0 un=1 b=104/137 w=104/137 gaps=0 dur=4100",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_int_equal(r.state, IMAP_STATE_NOT_AUTH);	/* no CHECK_ step */
	rec_free(&r);
}

static void test_authenticate_cancel_and_login_mech(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK ready\r\n"),
		C_(2000, "1 AUTHENTICATE LOGIN\r\n"),
		S_(2100, "+ VXNlcm5hbWU6\r\n"),
		C_(2200, "*\r\n"),
		S_(2300, "1 BAD Authentication cancelled\r\n"),
		C_(3000, "2 authenticate login\r\n"),
		S_(3100, "+ VXNlcm5hbWU6\r\n"),
		C_(3200, "Ym9iQGV4YW1wbGUub3Jn\r\n"),
		S_(3300, "+ UGFzc3dvcmQ6\r\n"),
		C_(3400, "aHVudGVyMg==\r\n"),
		S_(3900, "2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
		CHECK_,
		C_(4000, "3 AUTHENTICATE GSSAPI\r\n"),
		S_(4100, "+ \r\n"),
		C_(4200, "YIIChwYJKoZIhvcSAQICAQBuggJ2MIICcqADAgEFoQMCAQ6iBwMFACAAAACj\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [null] ready",
		"C 1 AUTHENTICATE|LOGIN| lit=0",
		"+ s2c VXNlcm5hbWU6",
		"+ c2s *",
		"S 1 BAD [null] Authentication cancelled cmd=AUTHENTICATE lat=0.300 waits=0.100",
		"login LOGIN user=null aborted tag=1 plain clear=0 secret=null",
		"C 2 AUTHENTICATE|login| lit=0",
		"+ s2c VXNlcm5hbWU6",
		"+ c2s ***",
		"+ s2c UGFzc3dvcmQ6",
		"+ c2s ***",
		"S 2 NO [AUTHENTICATIONFAILED] Authentication failed. cmd=AUTHENTICATE lat=0.900 waits=0.100,0.100",
		"login LOGIN user=bob@example.org fail tag=2 plain clear=1 secret=null",
		"C 3 AUTHENTICATE|GSSAPI| lit=0",
		"+ s2c ",
		"+ c2s ***",
		/* the session ends with GSSAPI unanswered */
		"login GSSAPI user=null unknown tag=3 plain clear=0 secret=null",
		"end rst cmd=3 ok=0 no=1 bad=1 un=0 b=168/148 w=168/148 gaps=0 dur=99000",
	};
	struct opts o = { .why = END_RST };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_int_equal(r.state, IMAP_STATE_NOT_AUTH);
	rec_free(&r);
}

static void test_refused_append(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n"),
		C_(2000, "a1 APPEND Drafts (\\Seen) {10}\r\n"),
		S_(2400, "a1 NO [TRYCREATE] No such mailbox\r\n"),
		C_(3000, "a2 CREATE Drafts\r\n"),
		S_(3200, "a2 OK created\r\n"),
		C_(4000, "a3 APPEND Drafts {10}\r\n"),
		S_(4100, "+ Ready for literal data\r\n"),
		C_(4200, "A1 OK hi\r\n\r\n"),	/* a body that looks like IMAP */
		S_(4700, "a3 OK [APPENDUID 1 2] done\r\n"),
		C_(5000, "a4 APPEND Drafts {5+}\r\nhello\r\n"),
		S_(5500, "a4 OK done\r\n"),
		/* LOGIN when already authenticated (PREAUTH): a bad command, not
		 * a login attempt */
		C_(6000, "a5 LOGIN alice pw\r\n"),
		S_(6100, "a5 BAD Error in IMAP command LOGIN: Unknown command\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting PREAUTH [CAPABILITY IMAP4rev1] hi",
		"C a1 APPEND|Drafts (\\Seen) {10}| lit=10",
		"S a1 NO [TRYCREATE] No such mailbox cmd=APPEND lat=0.400",
		"C a2 CREATE|Drafts| lit=0",
		"S a2 OK [null] created cmd=CREATE lat=0.200",
		"C a3 APPEND|Drafts {10}| lit=10",
		"+ s2c Ready for literal data",
		"S a3 OK [APPENDUID 1 2] done cmd=APPEND lat=0.700 waits=0.100",
		"C a4 APPEND|Drafts {5+}| lit=5",
		"S a4 OK [null] done cmd=APPEND lat=0.500",
		"C a5 LOGIN|alice ***| lit=0",
		"S a5 BAD [null] Error in IMAP command LOGIN: Unknown command cmd=LOGIN lat=0.100",
		"end fin cmd=5 ok=3 no=1 bad=1 un=0 b=133/206 w=133/206 gaps=0 dur=99000",
	};
	struct opts o = { .why = END_FIN };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_int_equal(r.notices, 0);
	rec_free(&r);
}

static void test_idle_and_owners(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* PREAUTH ready\r\n"),
		C_(2000, "a1 IDLE\r\n"),
		S_(2100, "+ idling\r\n"),
		S_(5000, "* 4 EXISTS\r\n"),
		C_(6000, "DONE\r\n"),
		S_(6100, "a1 OK IDLE terminated\r\n"),
		/* two commands in flight: each untagged goes to its producer */
		C_(7000, "a2 UID FETCH 1:* (FLAGS)\r\na3 LIST \"\" *\r\n"),
		S_(7100, "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
			 "* 1 FETCH (UID 5 FLAGS (\\Seen))\r\n* 2 EXISTS\r\n"
			 "a3 OK LIST done\r\na2 OK FETCH done\r\n"),
		C_(8000, "a5 ENABLE QRESYNC\r\na6 ID (\"name\" \"x\")\r\na7 NAMESPACE\r\n"),
		S_(8100, "* ENABLED QRESYNC\r\na5 OK\r\n* ID NIL\r\na6 OK\r\n"
			 "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\na7 OK\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting PREAUTH [null] ready",
		"C a1 IDLE|| lit=0",
		"+ s2c idling",
		"* EXISTS (a1) 4 EXISTS",
		"+ c2s DONE",
		"S a1 OK [null] IDLE terminated cmd=IDLE lat=4.100 waits=0.100",
		"C a2 UID FETCH|1:* (FLAGS)| lit=0",
		"C a3 LIST|\"\" *| lit=0",
		"* LIST (a3) LIST (\\HasNoChildren) \"/\" INBOX",
		"* FETCH (a2) 1 FETCH (UID 5 FLAGS (\\Seen))",
		"* EXISTS (null) 2 EXISTS",
		"S a3 OK [null] LIST done cmd=LIST lat=0.100",
		"S a2 OK [null] FETCH done cmd=UID FETCH lat=0.100",
		"C a5 ENABLE|QRESYNC| lit=0",
		"C a6 ID|(\"name\" \"x\")| lit=0",
		"C a7 NAMESPACE|| lit=0",
		"* ENABLED (a5) ENABLED QRESYNC",
		"S a5 OK [null]  cmd=ENABLE lat=0.100",
		"* ID (a6) ID NIL",
		"S a6 OK [null]  cmd=ID lat=0.100",
		"* NAMESPACE (a7) NAMESPACE ((\"\" \"/\")) NIL NIL",
		"S a7 OK [null]  cmd=NAMESPACE lat=0.100",
		"end timeout cmd=6 ok=6 no=0 bad=0 un=7 b=108/259 w=108/259 gaps=0 dur=7100",
	};
	struct opts o = { .why = END_EVICTED };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	rec_free(&r);
}

static void test_starttls_stops_parsing(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"),
		C_(2000, "a1 STARTTLS\r\n"),
		/* TLS bytes right behind the OK, in the same chunk */
		S_(2500, "a1 OK Begin TLS negotiation now\r\n\x16\x03\x03\x00\x02\r\n"),
		C_(3000, "\x16\x03\x01\x00\x05hello a2 LOGIN x y\r\n"),
		GAP_(3500, DIR_S2C, 50),
		S_(4000, "\x17\x03\x03\x00\x10* OK not really\r\n"),
	};
	/* No keys and no real handshake: the tls event comes when the TLS
	 * layer gives up, the gap sits where the plaintext stopped, and no
	 * byte after the switch reaches the lexer or the tap. */
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready",
		"C a1 STARTTLS|| lit=0",
		"S a1 OK [null] Begin TLS negotiation now cmd=STARTTLS lat=0.500",
		"tls starttls dec=0 the handshake is incomplete in the capture",
		"gap s2c 50 @91",
		"end fin cmd=1 ok=1 no=0 bad=0 un=0 b=13/91 w=38/120 gaps=1 dur=99000",
	};
	struct opts o = { .why = END_FIN };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_non_null(strstr(r.all_notices, "not TLS records"));
	assert_int_equal(r.tapped[DIR_S2C], 91);	/* plaintext only */
	assert_int_equal(r.tapped[DIR_C2S], 13);
	assert_int_equal(r.tap_gaps, 0);
	rec_free(&r);
}

/* The client's bytes after STARTTLS wait for the answer: refused, they are
 * IMAP after all, and come out after the refusal. */
static void test_starttls_refused_releases_client(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK ready\r\n"),
		C_(2000, "a1 STARTTLS\r\na2 NOOP\r\n"),
		S_(2200, "a1 NO [UNAVAILABLE] not now\r\n"),
		S_(2300, "a2 OK\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [null] ready",
		"C a1 STARTTLS|| lit=0",
		"S a1 NO [UNAVAILABLE] not now cmd=STARTTLS lat=0.200",
		"C a2 NOOP|| lit=0",
		"S a2 OK [null]  cmd=NOOP lat=0.100",
		"end eof cmd=2 ok=1 no=1 bad=0 un=0 b=22/48 w=22/48 gaps=0 dur=1300",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_int_equal(r.notices, 0);
	rec_free(&r);
}

/* A client that does not wait for the answer to COMPRESS past the hold
 * limit: what it sent is read as IMAP, said once, and the late OK then
 * switches at the byte where it arrives. */
static void test_hold_overflow(void **state)
{
	enum { LINES = 20, LINE_LEN = 4000 };
	struct rec r;
	struct opts o = { .why = END_EOF };
	static char big[LINES * LINE_LEN];
	struct step steps[] = {
		S_(1000, "* PREAUTH ok\r\n"),
		C_(2000, "z1 COMPRESS DEFLATE\r\n"),
		{ STEP_DATA, DIR_C2S, big, sizeof big, 2100, 0 },
		S_(2200, "z1 OK DEFLATE active\r\n"),
	};
	size_t cmds = 0;

	(void)state;
	for (size_t i = 0; i < LINES; i++) {
		char *l = big + i * LINE_LEN;

		memset(l, 'x', LINE_LEN);
		memcpy(l, "n1 NOOP ", 8);
		memcpy(l + LINE_LEN - 2, "\r\n", 2);
	}
	run(&r, steps, N(steps), &o, false);
	for (size_t i = 0; i < r.n; i++)
		cmds += strncmp(r.ev[i], "C n1 NOOP", 9) == 0;
	assert_int_equal(cmds, LINES);
	assert_non_null(strstr(r.all_notices, "before the server answered"));
	assert_string_equal(r.ev[r.n - 2], "compress DEFLATE dec=1");
	rec_free(&r);
}

/* An OK to STARTTLS, then both sides go on in clear (a stripped STARTTLS):
 * each direction's first line shows it, so it is dissected, said, and the
 * login is plain and flagged.  Byte by byte too: the verdict waits for the
 * first line. */
static void test_starttls_not_negotiated(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
		C_(2000, "a1 STARTTLS\r\n"),
		S_(2500, "a1 OK Begin TLS negotiation now\r\n"),
		C_(3000, "a2 LOGIN alice pw\r\n"),
		S_(3500, "a2 OK done\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [CAPABILITY IMAP4rev1 STARTTLS] ready",
		"C a1 STARTTLS|| lit=0",
		"S a1 OK [null] Begin TLS negotiation now cmd=STARTTLS lat=0.500",
		"C a2 LOGIN|alice ***| lit=0",
		"S a2 OK [null] done cmd=LOGIN lat=0.500",
		"login LOGIN user=alice ok tag=a2 plain clear=1 secret=null after_starttls=1",
		"end eof cmd=2 ok=2 no=0 bad=0 un=0 b=32/89 w=32/89 gaps=0 dur=2500",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_string_equal(r.notice_kinds, "starttls_not_negotiated starttls_not_negotiated ");
	rec_free(&r);
}

/* Each direction on its own: the server begins TLS, the client stays in
 * clear; a LOGIN before STARTTLS is not flagged. */
static void test_starttls_client_only(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK ready\r\n"),
		C_(1500, "a0 LOGIN early pw\r\n"),
		S_(1600, "a0 NO nope\r\n"),
		C_(2000, "a1 STARTTLS\r\n"),
		S_(2500, "a1 OK go\r\n\x16\x03\x03\x00\x02\x02\x00"),
		C_(3000, "a2 LOGIN bob pw\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [null] ready",
		"C a0 LOGIN|early ***| lit=0",
		"S a0 NO [null] nope cmd=LOGIN lat=0.100",
		"login LOGIN user=early fail tag=a0 plain clear=1 secret=null",
		"C a1 STARTTLS|| lit=0",
		"S a1 OK [null] go cmd=STARTTLS lat=0.500",
		"C a2 LOGIN|bob ***| lit=0",
		"tls starttls dec=0 the capture starts after the TLS handshake: keys cannot be matched",
		"login LOGIN user=bob unknown tag=a2 plain clear=1 secret=null after_starttls=1",
		"end eof cmd=3 ok=1 no=1 bad=0 un=0 b=49/34 w=49/41 gaps=0 dur=2000",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_string_equal(r.notice_kinds, "starttls_not_negotiated ");
	assert_non_null(strstr(r.all_notices, "client goes on in plain text"));
	rec_free(&r);
}

/* CVE-2011-0411: a command in the STARTTLS segment, and text after the
 * server's OK in its segment, were sent before TLS could begin: they are
 * read as IMAP and said; the TLS records that follow stay TLS. */
static void test_starttls_injection(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK ready\r\n"),
		C_(2000, "a1 STARTTLS\r\na2 LOGIN eve pw\r\n"),
		S_(2500, "a1 OK go\r\n* OK injected\r\n\x16\x03\x03\x00\x02\x02\x00"),
		C_(3000, "\x16\x03\x01\x00\x02\x01\x00"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [null] ready",
		"C a1 STARTTLS|| lit=0",
		"S a1 OK [null] go cmd=STARTTLS lat=0.500",
		"C a2 LOGIN|eve ***| lit=0",
		"* OK (a2) OK injected",
		"tls starttls dec=0 the capture starts after the TLS handshake: keys cannot be matched",
		"login LOGIN user=eve unknown tag=a2 plain clear=1 secret=null after_starttls=1",
		"end eof cmd=2 ok=1 no=0 bad=0 un=1 b=30/37 w=37/44 gaps=0 dur=2000",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	/* whole chunks only: "the same segment" is what makes it injection */
	run(&r, steps, N(steps), &o, false);
	expect(&r, want, N(want));
	assert_string_equal(r.notice_kinds, "starttls_injection starttls_injection ");
	rec_free(&r);
}

/* Plain IMAP on an implicit-TLS port, and a COMPRESS that was never
 * applied: dissected, with a notice per direction. */
static void test_plain_where_layer_agreed(void **state)
{
	static const struct step tls_steps[] = {
		S_(1000, "* OK ready\r\n"),
		C_(1100, "a1 NOOP\r\n"),
		S_(1200, "a1 OK done\r\n"),
	};
	static const char *const tls_want[] = {
		"start mid=0 tls=1",
		"greeting OK [null] ready",
		"C a1 NOOP|| lit=0",
		"S a1 OK [null] done cmd=NOOP lat=0.100",
		"end eof cmd=1 ok=1 no=0 bad=0 un=0 b=9/24 w=9/24 gaps=0 dur=200",
	};
	static const struct step z_steps[] = {
		S_(1000, "* PREAUTH ok\r\n"),
		C_(2000, "z1 COMPRESS DEFLATE\r\n"),
		S_(2100, "z1 OK DEFLATE active\r\n"),
		C_(2200, "z2 NOOP\r\n"),
		S_(2300, "z2 OK done\r\n"),
	};
	static const char *const z_want[] = {
		"start mid=0 tls=0",
		"greeting PREAUTH [null] ok",
		"C z1 COMPRESS|DEFLATE| lit=0",
		"S z1 OK [null] DEFLATE active cmd=COMPRESS lat=0.100",
		"compress DEFLATE dec=1",
		"C z2 NOOP|| lit=0",
		"S z2 OK [null] done cmd=NOOP lat=0.100",
		"end eof cmd=2 ok=2 no=0 bad=0 un=0 b=30/48 w=30/48 gaps=0 dur=1300",
	};
	struct opts o = { .implicit_tls = true, .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, tls_steps, N(tls_steps), &o, tls_want, N(tls_want));
	assert_string_equal(r.notice_kinds, "plaintext_on_tls_port plaintext_on_tls_port ");
	rec_free(&r);
	o.implicit_tls = false;
	check_script(&r, z_steps, N(z_steps), &o, z_want, N(z_want));
	assert_string_equal(r.notice_kinds, "compress_not_applied compress_not_applied ");
	rec_free(&r);
}

/* Picked up after the STARTTLS exchange: TLS records from the first byte
 * are TLS, never IMAP lines. */
static void test_mid_stream_tls(void **state)
{
	static const struct step steps[] = {
		S_(1000, "\x17\x03\x03\x00\x0c* 1 EXISTS\r\n"),
		C_(1100, "\x17\x03\x03\x00\x09" "a1 NOOP\r\n"),
	};
	static const char *const want[] = {
		"start mid=1 tls=0",
		"tls starttls dec=0 the capture starts after the TLS handshake: keys cannot be matched",
		"end eof cmd=0 ok=0 no=0 bad=0 un=0 b=0/0 w=14/17 gaps=0 dur=100",
	};
	struct opts o = { .mid_stream = true, .why = END_EOF };
	struct rec r;

	(void)state;
	/* whole chunks only: the record header must be there to be known */
	run(&r, steps, N(steps), &o, false);
	expect(&r, want, N(want));
	assert_int_equal(r.tapped[DIR_C2S] + r.tapped[DIR_S2C], 0);
	rec_free(&r);
}

static void test_implicit_tls_and_compress(void **state)
{
	static const struct step tls_steps[] = {
		C_(1000, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
		S_(1100, "\x16\x03\x03\x00\x7a\x02"),
	};
	static const char *const tls_want[] = {
		"start mid=0 tls=1",
		"tls implicit dec=0 the capture starts after the TLS handshake: keys cannot be matched",
		"end eof cmd=0 ok=0 no=0 bad=0 un=0 b=0/0 w=11/6 gaps=0 dur=100",
	};
	/* Raw deflate with a sync flush after each line (RFC 4978): the
	 * client's first compressed command comes in the chunk of its COMPRESS
	 * (held until the OK), the server's right behind its OK line. */
	static const struct step z_steps[] = {
		S_(1000, "* PREAUTH ok\r\n"),
		C_(2000, "z1 COMPRESS DEFLATE\r\n"
			 "\xaa\x32\x52\xf0\xf3\xf7\x0f\xe0\xe5\x02\x00\x00\x00\xff\xff"),
		S_(2100, "z1 OK DEFLATE active\r\n"
			 "\xd2\x52\x30\x54\x70\x8d\xf0\x0c\x0e\x09\xe6\xe5\xaa\x32\x52\xf0"
			 "\xf7\x56\x48\xc9\xcf\x4b\xe5\xe5\x02\x00\x00\x00\xff\xff"),
		C_(2200, "\xaa\x32\x56\xf0\xf1\x77\xf7\x0f\x0d\xe1\xe5\x02\x00\x00\x00\xff\xff"),
		S_(2300, "\xd2\x52\x70\x8a\x74\x55\x48\xaa\x04\x32\xab\x8c\x41\xc2\x60\x26"
			 "\x00\x00\x00\xff\xff"),
	};
	static const char *const z_want[] = {
		"start mid=0 tls=0",
		"greeting PREAUTH [null] ok",
		"C z1 COMPRESS|DEFLATE| lit=0",
		"S z1 OK [null] DEFLATE active cmd=COMPRESS lat=0.100",
		"compress DEFLATE dec=1",
		"C z2 NOOP|| lit=0",
		"* EXISTS (z2) 1 EXISTS",
		"S z2 OK [null] done cmd=NOOP lat=0.000",
		"C z3 LOGOUT|| lit=0",
		"* BYE (z3) BYE bye",
		"S z3 OK [null] bye cmd=LOGOUT lat=0.100",
		"end eof cmd=3 ok=3 no=0 bad=0 un=2 b=41/82 w=53/87 gaps=0 dur=1300",
	};
	struct opts o = { .implicit_tls = true, .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, tls_steps, N(tls_steps), &o, tls_want, N(tls_want));
	assert_int_equal(r.notices, 0);
	rec_free(&r);
	o.implicit_tls = false;
	check_script(&r, z_steps, N(z_steps), &o, z_want, N(z_want));
	assert_int_equal(r.notices, 0);
	assert_int_equal(r.tapped[DIR_C2S], 41);	/* inflated bytes */
	assert_int_equal(r.tapped[DIR_S2C], 82);
	rec_free(&r);
}

/* A hole in a deflate stream loses the dictionary: one notice and one gap,
 * then nothing more from that direction, never garbage; the other
 * direction goes on. */
static void test_compress_gap(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* PREAUTH ok\r\n"),
		C_(2000, "z1 COMPRESS DEFLATE\r\n"),
		S_(2100, "z1 OK DEFLATE active\r\n"),
		C_(2200, "\xaa\x32\x52\xf0\xf3\xf7\x0f\xe0\xe5\x02\x00\x00\x00\xff\xff"),
		GAP_(2300, DIR_S2C, 30),
		S_(2400, "\xd2\x52\x70\x8a\x74\x55\x48\xaa\x04\x32\xab\x8c\x41\xc2\x60\x26"
			 "\x00\x00\x00\xff\xff"),
		GAP_(2500, DIR_S2C, 7),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting PREAUTH [null] ok",
		"C z1 COMPRESS|DEFLATE| lit=0",
		"S z1 OK [null] DEFLATE active cmd=COMPRESS lat=0.100",
		"compress DEFLATE dec=1",
		"C z2 NOOP|| lit=0",
		"gap s2c 30 @36",
		"gap s2c 7 @66",
		"gap s2c 21 @66",	/* the compressed bytes after the hole, at the end */
		"end eof cmd=2 ok=1 no=0 bad=0 un=0 b=30/36 w=36/57 gaps=3 dur=1500",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_int_equal(r.notices, 1);
	assert_int_equal(r.tapped[DIR_S2C], 36);
	assert_int_equal(r.tap_gaps, 30);
	rec_free(&r);
}

static void test_gaps(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK ready\r\n"),
		C_(2000, "a1 NOOP\r\n"),
		S_(2100, "a1 OK\r\n"),
		C_(3000, "a2 FET"),
		GAP_(3100, DIR_C2S, 100),
		C_(3200, "junk after the hole\r\na3 NOOP\r\n"),
		S_(3300, "a2 OK\r\na3 OK\r\n"),
		/* a gap inside a server literal is absorbed by its count */
		C_(4000, "a4 FETCH 1 BODY[]\r\n"),
		S_(4100, "* 1 FETCH (BODY[] {20}\r\n0123456"),
		GAP_(4200, DIR_S2C, 8),
		S_(4300, "67890)\r\na4 OK done\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [null] ready",
		"C a1 NOOP|| lit=0",
		"S a1 OK [null]  cmd=NOOP lat=0.100",
		"gap c2s 100 @15",
		"C a3 NOOP|| lit=0",
		"S a2 OK [null]  cmd=null lat=-1.000",
		"S a3 OK [null]  cmd=NOOP lat=0.100",
		"C a4 FETCH|1 BODY[]| lit=0",
		"gap s2c 8 @64",
		"* FETCH (a4) 1 FETCH (BODY[] {20})",
		"S a4 OK [null] done cmd=FETCH lat=0.300",
		"login null user=null ok tag=a4 plain clear=0 secret=null",	/* inferred */
		"end fin cmd=3 ok=4 no=0 bad=0 un=1 b=64/84 w=64/84 gaps=2 dur=99000",
	};
	struct opts o = { .why = END_FIN };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_int_equal(r.tap_gaps, 108);
	rec_free(&r);
}

static void test_mid_stream(void **state)
{
	static const struct step steps[] = {
		/* inside a FETCH body, and inside an APPEND literal */
		S_(1000, "Subject: report\r\n\r\nPlease check\r\n)\r\n"
			 "* 5 EXISTS\r\na7 OK FETCH completed\r\nline 3: more body\r\n"),
		C_(1100, "the rest of a message\r\nFrom: x\r\n\r\na8 NOOP\r\n"),
		S_(1200, "a8 OK NOOP done\r\n"),
		/* an IDLE we saw begin, then one we did not */
		C_(1300, "a9 IDLE\r\n"),
		S_(1400, "+ idling\r\n"),
		C_(1500, "DONE\r\n"),
		S_(1600, "a9 OK done\r\n"),
	};
	static const char *const want[] = {
		"start mid=1 tls=0",
		/* "* 5 EXISTS" and "a7 OK" may as well be body text: skipped
		 * until a line answers a command we saw */
		"C a8 NOOP|| lit=0",
		"S a8 OK [null] NOOP done cmd=NOOP lat=0.100",
		"C a9 IDLE|| lit=0",
		"+ s2c idling",
		"+ c2s DONE",
		"S a9 OK [null] done cmd=IDLE lat=0.300 waits=0.100",
		"login null user=null ok tag=a9 plain clear=0 secret=null",	/* inferred */
		"end eof cmd=2 ok=2 no=0 bad=0 un=0 b=58/129 w=58/129 gaps=0 dur=600",
	};
	struct opts o = { .mid_stream = true, .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_non_null(strstr(r.all_notices,
			       "session 7: skipped 3 server lines before finding sync\n"));
	assert_null(strstr(r.all_notices, "not understood"));
	rec_free(&r);
}

/* 14.7: server lines that begin a segment before sync are kept once the
 * client acts on them, or the next line finds sync. */
static void test_mid_stream_run_kept(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* 2 EXISTS\r\n* 1 RECENT\r\n"),
		C_(1100, "DONE\r\n"),
		S_(1200, "11 OK Idle completed\r\n"),
		C_(1300, "12 NOOP\r\n"),
		S_(1400, "12 OK\r\n"),
	};
	static const char *const want[] = {
		"start mid=1 tls=0",
		"* EXISTS (null) 2 EXISTS",
		"* RECENT (null) 1 RECENT",
		"+ c2s DONE",
		"S 11 OK [null] Idle completed cmd=null lat=-1.000",
		"C 12 NOOP|| lit=0",
		"S 12 OK [null]  cmd=NOOP lat=0.100",
		"end eof cmd=1 ok=2 no=0 bad=0 un=2 b=15/53 w=15/53 gaps=0 dur=400",
	};
	struct opts o = { .mid_stream = true, .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_null(strstr(r.all_notices, "skipped"));
	rec_free(&r);
}

/* 14.7: a one-sided server capture picked up mid-stream: the run held
 * before sync is never confirmed, so it is shown at the end, marked, and
 * its completion completes nothing and proves no login. */
static void test_mid_stream_run_unconfirmed(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* 2 EXISTS\r\n* 1 RECENT\r\n"),
		S_(1200, "11 OK Idle completed\r\n"),
	};
	static const char *const want[] = {
		"start mid=1 tls=0",
		"* EXISTS (null) 2 EXISTS UNSYNC",
		"* RECENT (null) 1 RECENT UNSYNC",
		"S 11 OK [null] Idle completed cmd=null lat=-1.000 UNSYNC",
		"end eof cmd=0 ok=1 no=0 bad=0 un=2 b=0/46 w=0/46 gaps=0 dur=200",
	};
	/* a body line after the run: it may all be body text, none shown */
	static const struct step body[] = {
		S_(1000, "* 9 EXISTS\r\n* 1 RECENT\r\n"),
		S_(1100, "body text\r\n"),
	};
	static const char *const want_body[] = {
		"start mid=1 tls=0",
		"end eof cmd=0 ok=0 no=0 bad=0 un=0 b=0/35 w=0/35 gaps=0 dur=100",
	};
	struct opts o = { .mid_stream = true, .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_non_null(strstr(r.all_notices, "session 7: sync never found: 3 server lines shown "
			       "marked unsynchronised\n"));
	rec_free(&r);
	check_script(&r, body, N(body), &o, want_body, N(want_body));
	assert_non_null(strstr(r.all_notices, "skipped 3 server lines: sync never found"));
	rec_free(&r);
}

/* A run that reaches the cap of held lines (SESS_MAX_RUN_LINES, 64) is
 * shown, marked, not lost. */
#define RUN_CAP_LINES 64
static void test_mid_stream_run_cap(void **state)
{
	char text[RUN_CAP_LINES * 2 * 16];
	size_t k = 0;
	struct step steps[1];
	struct opts o = { .mid_stream = true, .why = END_EOF };
	struct rec r;
	size_t n_unsync = 0, lines = RUN_CAP_LINES + 6;

	(void)state;
	for (size_t i = 0; i < lines; i++)
		k += (size_t)snprintf(text + k, sizeof text - k, "* %zu EXISTS\r\n", i + 1);
	steps[0] = (struct step){ STEP_DATA, DIR_S2C, text, k, 1000, 0 };
	run(&r, steps, 1, &o, false);
	for (size_t i = 0; i < r.n; i++)
		n_unsync += strstr(r.ev[i], "EXISTS UNSYNC") != NULL;
	assert_int_equal(n_unsync, lines);
	assert_string_equal(r.ev[1], "* EXISTS (null) 1 EXISTS UNSYNC");
	assert_non_null(strstr(r.all_notices, "70 server lines shown marked unsynchronised"));
	rec_free(&r);
}

/* A completion that begins a segment right after the capture starts is
 * kept though its command was not captured; one in the middle of a
 * segment, after body text, is not (it may be inside a literal).  Run
 * whole only: fed byte by byte every byte would begin a segment. */
static void test_mid_stream_completion_at_segment(void **state)
{
	static const struct step kept[] = {
		S_(1000, "a3 OK Fetch completed\r\n"),
		C_(1100, "a4 NOOP\r\n"),
		S_(1200, "a4 OK done\r\n"),
	};
	static const char *const want_kept[] = {
		"start mid=1 tls=0",
		"S a3 OK [null] Fetch completed cmd=null lat=-1.000",
		"C a4 NOOP|| lit=0",
		"S a4 OK [null] done cmd=NOOP lat=0.100",
		"end eof cmd=1 ok=2 no=0 bad=0 un=0 b=9/35 w=9/35 gaps=0 dur=200",
	};
	static const struct step body[] = {
		S_(1000, "* 9 EXISTS\r\nbody text\r\n)\r\na3 OK Fetch completed\r\n"),
		S_(1050, "A552 OK FETCH completed\r\nmore body\r\n"),
		C_(1100, "a4 NOOP\r\n"),
		S_(1200, "a4 OK done\r\n"),
	};
	static const char *const want_body[] = {
		"start mid=1 tls=0",
		"C a4 NOOP|| lit=0",
		"S a4 OK [null] done cmd=NOOP lat=0.100",
		"end eof cmd=1 ok=1 no=0 bad=0 un=0 b=9/97 w=9/97 gaps=0 dur=200",
	};
	struct opts o = { .mid_stream = true, .why = END_EOF };
	struct rec r;

	(void)state;
	run(&r, kept, N(kept), &o, false);
	expect(&r, want_kept, N(want_kept));
	rec_free(&r);
	run(&r, body, N(body), &o, false);
	expect(&r, want_body, N(want_body));
	assert_non_null(strstr(r.all_notices, "skipped 6 server lines before finding sync"));
	rec_free(&r);
}

/* 14.7: a line whose end a gap took is reported with what was captured
 * when its head says what it was; a completion so cut still completes its
 * command, and a LOGIN so completed is a login. */
static void test_cut_lines(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
		C_(2000, "a1 LOGIN alice pw\r\n"),
		S_(3000, "a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REF"),
		GAP_(3100, DIR_S2C, 200),
		C_(4000, "a2 APPEND INBOX {20}\r\n"),
		S_(4100, "+ go\r\n"),
		C_(4200, "0123456789"),
		GAP_(4300, DIR_C2S, 30),
		S_(5000, "a2 OK [APPENDUID 1 2] done\r\n"),
		C_(5500, "a5 NOOP\r\n"),
		C_(6000, "a3 NOO"),
		GAP_(6100, DIR_C2S, 4),
		C_(7000, "a4 NOOP\r\n"),
		S_(7100, "a4 O"),
		GAP_(7200, DIR_S2C, 10),
		S_(8000, "* 5 EXISTS\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [CAPABILITY IMAP4rev1 LITERAL+] ready",
		"C a1 LOGIN|alice ***| lit=0",
		"gap s2c 200 @89",
		"S a1 OK [null] [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REF cmd=LOGIN lat=1.000 TRUNC",
		"login LOGIN user=alice ok tag=a1 plain clear=1 secret=null",
		"gap c2s 30 @51",
		"C a2 APPEND|INBOX {20}| lit=20 TRUNC",
		"+ s2c go",
		"S a2 OK [APPENDUID 1 2] done cmd=APPEND lat=1.000 waits=0.100",
		"C a5 NOOP|| lit=0",
		"gap c2s 4 @96",
		"C a4 NOOP|| lit=0",
		"gap s2c 10 @327",
		"* EXISTS (null) 5 EXISTS",
		"end eof cmd=4 ok=2 no=0 bad=0 un=1 b=75/139 w=75/139 gaps=4 dur=7000",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_non_null(strstr(r.all_notices, "client line cut by a gap after 6 bytes"));
	assert_non_null(strstr(r.all_notices, "server line cut by a gap after 4 bytes"));
	rec_free(&r);
}

/* A "{0}" waiting for "+" is refused like any synchronising literal. */
static void test_refused_empty_literal(void **state)
{
	static const struct step steps[] = {
		C_(1000, "a1 APPEND INBOX {0}\r\n"),
		S_(1100, "a1 NO Can't save a zero byte message\r\n"),
		C_(1200, "a2 NOOP\r\n"),
		S_(1300, "a2 OK done\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"C a1 APPEND|INBOX {0}| lit=0",
		"S a1 NO [null] Can't save a zero byte message cmd=APPEND lat=0.100",
		"C a2 NOOP|| lit=0",
		"S a2 OK [null] done cmd=NOOP lat=0.100",
		"end eof cmd=2 ok=1 no=1 bad=0 un=0 b=30/50 w=30/50 gaps=0 dur=300",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	rec_free(&r);
}

/* 15.6: the server refuses a command whose literal announced 2^64-1 bytes:
 * the literal did not happen, and the commands it swallowed are read. */
static void test_bogus_literal_abandoned(void **state)
{
	static const struct step steps[] = {
		C_(1000, "a1 APPEND INBOX {18446744073709551615+}\r\na2 LOGIN bob pw\r\n"),
		S_(1100, "a1 BAD Literal too big\r\na2 OK Logged in\r\n"),
		C_(1200, "a3 NOOP\r\n"),
		S_(1300, "a3 OK done\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"C a1 APPEND|INBOX {18446744073709551615+}| lit=18446744073709551615",
		"C a2 LOGIN|bob ***| lit=0",
		"S a1 BAD [null] Literal too big cmd=APPEND lat=0.100",
		"S a2 OK [null] Logged in cmd=LOGIN lat=0.100",
		"login LOGIN user=bob ok tag=a2 plain clear=1 secret=null",
		"C a3 NOOP|| lit=0",
		"S a3 OK [null] done cmd=NOOP lat=0.100",
		"end eof cmd=3 ok=2 no=0 bad=1 un=0 b=67/53 w=67/53 gaps=0 dur=300",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_non_null(strstr(r.all_notices, "it did not happen"));
	rec_free(&r);
}

static void test_mid_stream_in_idle(void **state)
{
	static const struct step steps[] = {
		C_(1000, "DONE\r\n"),
		S_(1100, "16 OK IDLE completed\r\n"),
		C_(1200, "17 NOOP\r\n"),
		S_(1300, "17 OK\r\n"),
	};
	static const char *const want[] = {
		"start mid=1 tls=0",
		"+ c2s DONE",
		"S 16 OK [null] IDLE completed cmd=null lat=-1.000",
		"C 17 NOOP|| lit=0",
		"S 17 OK [null]  cmd=NOOP lat=0.100",
		"end eof cmd=1 ok=2 no=0 bad=0 un=0 b=15/29 w=15/29 gaps=0 dur=300",
	};
	struct opts o = { .mid_stream = true, .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_null(strstr(r.all_notices, "not understood"));
	rec_free(&r);
}

static void test_garbage_lines_rate_limited(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK ready\r\n"),
		C_(2000, "a1 FETCH 1 BODY[]\r\n"),
		S_(2100, "junk 1\r\njunk 2\r\njunk 3\r\njunk 4\r\njunk 5\r\n"),
		S_(2200, "a1 OK done\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [null] ready",
		"C a1 FETCH|1 BODY[]| lit=0",
		"S a1 OK [null] done cmd=FETCH lat=0.200",
		"login null user=null ok tag=a1 plain clear=0 secret=null",	/* inferred */
		"end eof cmd=1 ok=1 no=0 bad=0 un=0 b=19/64 w=19/64 gaps=0 dur=1200",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_int_equal(r.notices, 4);
	assert_string_equal(r.all_notices,
			    "session 7: server line not understood: \"junk 1\"\n"
			    "session 7: server line not understood: \"junk 2\"\n"
			    "session 7: server line not understood: \"junk 3\"\n"
			    "session 7: 2 more server lines not understood\n");
	rec_free(&r);
}

/* After an accepted STARTTLS, client bytes still awaiting the verdict
 * (no line end yet) when the capture ends are counted and tapped once. */
static void test_probe_tail_once(void **state)
{
	static const struct step st[] = {
		S_(1000, "* OK ready\r\n"),
		C_(1100, "a1 STARTTLS\r\n"),
		S_(1200, "a1 OK Begin TLS\r\n"),
		C_(1300, "a2 LOGIN bob"),
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		memset(&r, 0, sizeof r);
		run(&r, st, N(st), &o, bytewise);
		assert_int_equal(r.tapped[DIR_C2S], 13 + 12);
		assert_non_null(strstr(r.ev[r.n - 1], " b=25/"));
		rec_free(&r);
	}
}

static void test_not_imap(void **state)
{
	static const struct step ssh[] = {
		S_(1000, "SSH-2.0-OpenSSH_9.6\r\n"),
		C_(1100, "SSH-2.0-PuTTY_Release_0.80\r\n"),
		S_(1200, "\x00\x00\x01\x0c\x0a\x14* OK\r\n"),
	};
	static const char *const ssh_want[] = {
		"start mid=0 tls=0",
		"end eof cmd=0 ok=0 no=0 bad=0 un=0 b=28/33 w=28/33 gaps=0 dur=200",
	};
	static const struct step http[] = {
		C_(1000, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		S_(1100, "HTTP/1.1 400 Bad Request\r\n\r\n"),
	};
	static const char *const http_want[] = {
		"start mid=0 tls=0",
		"end eof cmd=0 ok=0 no=0 bad=0 un=0 b=27/28 w=27/28 gaps=0 dur=100",
	};
	struct opts o = { .why = END_EOF };
	struct rec r;

	(void)state;
	check_script(&r, ssh, N(ssh), &o, ssh_want, N(ssh_want));
	assert_int_equal(r.notices, 1);
	assert_string_equal(r.last_notice, "session 7: not IMAP traffic "
			    "(server's first line: \"SSH-2.0-OpenSSH_9.6\")");
	/* the notice is an event of the session too, with its kind */
	assert_int_equal(r.notice_events, 1);
	assert_string_equal(r.notice_kinds, "not_imap ");
	assert_int_equal(r.tapped[DIR_S2C], 33);
	rec_free(&r);
	check_script(&r, http, N(http), &o, http_want, N(http_want));
	assert_int_equal(r.notices, 1);
	assert_non_null(strstr(r.last_notice, "client's first line: \"GET / HTTP/1.1\""));
	rec_free(&r);
}

static void test_pending_cap(void **state)
{
	struct imap_session_config cfg = { 0 };
	struct imap_session_info info = { .id = 7, .client = "192.0.2.1:50000",
					  .server = "198.51.100.2:143", .first_ts_us = 1 };
	struct imap_session *s;
	struct rec r;
	char line[64];
	int k;

	(void)state;
	memset(&r, 0, sizeof r);
	cfg.out.ops = &rec_ops;
	cfg.out.ctx = &r;
	cfg.notice = rec_notice;
	cfg.notice_ctx = &r;
	s = imap_session_new(&cfg, &info);
	assert_non_null(s);
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)"* OK hi\r\n", 9, 2);
	for (int i = 0; i < IMAP_MAX_PENDING_TAGS + 5; i++) {
		k = snprintf(line, sizeof line, "t%d LOGIN u%d p\r\n", i, i);
		imap_session_ops.feed(s, DIR_C2S, (const uint8_t *)line, (size_t)k, 3);
	}
	/* Five forgotten; only the first three are said at once. */
	assert_int_equal(r.notices, 3);
	assert_non_null(strstr(r.last_notice, "forgot the oldest (t2 LOGIN)"));
	/* the dropped logins are reported as unknown, not lost */
	assert_string_equal(r.ev[r.n - 1],
			    "login LOGIN user=u4 unknown tag=t4 plain clear=1 secret=null");
	k = snprintf(line, sizeof line, "t%d OK\r\n", IMAP_MAX_PENDING_TAGS + 4);
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)line, (size_t)k, 10);
	assert_string_equal(r.ev[r.n - 2], "S t1028 OK [null]  cmd=LOGIN lat=0.007");
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)"t0 OK\r\n", 7, 11);
	assert_string_equal(r.ev[r.n - 1], "S t0 OK [null]  cmd=null lat=-1.000");
	imap_session_ops.end(s, END_EOF, 20);
	assert_int_equal(r.notices, 4);
	assert_string_equal(r.last_notice, "session 7: 2 more commands forgotten at the cap "
			    "of 1024 pending");
	assert_int_equal(r.capped, 5);
	assert_int_equal(r.notices_sum, 4);
	/* 1029 sent, 5 dropped, 1 answered: 1023 unknown at the end */
	k = 0;
	for (size_t i = 0; i < r.n; i++)
		k += strstr(r.ev[i], " unknown ") != NULL;
	assert_int_equal(k, 5 + IMAP_MAX_PENDING_TAGS - 1);
	rec_free(&r);
}

static void *ex_begin(void *ctx, uint64_t session, const struct extract_meta *m)
{
	struct rec *r = ctx;

	(void)session;
	(void)m;
	r->extract_begins++;
	return r;
}

static void ex_data(void *ctx, void *item, const uint8_t *p, size_t n)
{
	(void)ctx, (void)item, (void)p, (void)n;
}

static void ex_gap(void *ctx, void *item, uint64_t nbytes)
{
	(void)ctx, (void)item, (void)nbytes;
}

static void ex_end(void *ctx, void *item, uint64_t uid, uint64_t seq, bool unsent)
{
	(void)ctx, (void)item, (void)uid, (void)seq, (void)unsent;
}

/* A FETCH response that nests lists past IMAP_MAX_DEPTH before its body:
 * the walk stops there, the body is not extracted, and that is said once
 * per line and counted as capped; the next, flat line extracts normally. */
static void test_depth_cap_extract(void **state)
{
	struct imap_session_config cfg = { 0 };
	struct imap_session_info info = { .id = 7, .client = "192.0.2.1:50000",
					  .server = "198.51.100.2:143", .first_ts_us = 1 };
	struct imap_session *s;
	struct rec r;
	char line[512];
	int k, d = IMAP_MAX_DEPTH + 6;

	(void)state;
	memset(&r, 0, sizeof r);
	cfg.out = (struct output){ &rec_ops, &r };
	cfg.notice = rec_notice;
	cfg.notice_ctx = &r;
	cfg.extract = (struct imap_extract_hooks){ &r, ex_begin, ex_data, ex_gap, ex_end };
	s = imap_session_new(&cfg, &info);
	assert_non_null(s);
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)"* OK hi\r\n", 9, 2);
	imap_session_ops.feed(s, DIR_C2S, (const uint8_t *)"a1 FETCH 1:2 BODY[]\r\n", 21, 3);
	k = snprintf(line, sizeof line, "* 1 FETCH (X %.*s BODY[] {5}\r\nhello {3}\r\nabc)\r\n",
		     d, "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((");
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)line, (size_t)k, 4);
	assert_int_equal(r.notices, 1);
	assert_non_null(strstr(r.last_notice, "server line nests lists deeper than 64"));
	assert_int_equal(r.extract_begins, 0);
	k = snprintf(line, sizeof line, "* 2 FETCH (BODY[] {5}\r\nhello)\r\na1 OK done\r\n");
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)line, (size_t)k, 5);
	assert_int_equal(r.extract_begins, 1);
	assert_int_equal(r.notices, 1);
	imap_session_ops.end(s, END_EOF, 20);
	assert_int_equal(r.capped, 1);
	rec_free(&r);
}

/* Session state is charged to --max-memory: a session that does not fit is
 * refused with a notice, and everything charged is given back at the end. */
static void test_memory_budget(void **state)
{
	struct mem_budget mb = { .limit = 512 };
	struct imap_session_config cfg = { 0 };
	struct imap_session_info info = { .id = 7, .client = "192.0.2.1:50000",
					  .server = "198.51.100.2:143", .first_ts_us = 1 };
	struct imap_session *s;
	struct rec r;
	static const char cmds[] = "a1 LOGIN alice secret\r\na2 SELECT INBOX\r\n"
				   "a3 AUTHENTICATE PLAIN\r\n";

	(void)state;
	memset(&r, 0, sizeof r);
	cfg.out = (struct output){ &rec_ops, &r };
	cfg.notice = rec_notice;
	cfg.notice_ctx = &r;
	cfg.budget = &mb;
	assert_null(imap_session_new(&cfg, &info));
	assert_int_equal(r.notices, 1);
	assert_string_equal(r.last_notice, "session 7: out of memory or over --max-memory: "
			    "not followed");
	assert_int_equal(mb.used, 0);
	mb.limit = 0;
	s = imap_session_new(&cfg, &info);
	assert_non_null(s);
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)"* OK hi\r\n", 9, 2);
	imap_session_ops.feed(s, DIR_C2S, (const uint8_t *)cmds, sizeof cmds - 1, 3);
	assert_true(mb.used > 0);
	imap_session_ops.end(s, END_EOF, 20);
	assert_int_equal(mb.used, 0);
	rec_free(&r);
}

/* Issue 16's bug: the mailbox of "SELECT {5+}" is the literal's contents,
 * "INBOX", for the session as for the command; a modified UTF-7 name is
 * the session's decoded. */
static void test_select_literal_mailbox(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* PREAUTH [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n"),
		C_(2000, "a2 SELECT {5+}\r\nINBOX\r\n"),
		S_(3000, "a2 OK [READ-WRITE] done\r\n"),
		CHECK_,
	};
	static const struct step utf7[] = {
		S_(1000, "* PREAUTH hi\r\n"),
		C_(2000, "a2 SELECT \"&AOk-t&AOk-\"\r\n"),
		S_(3000, "a2 OK done\r\n"),
		CHECK_,
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting PREAUTH [CAPABILITY IMAP4rev1 LITERAL+] hi",
		"C a2 SELECT|{5+}| lit=5",
		"S a2 OK [READ-WRITE] done cmd=SELECT lat=1.000",
		"end fin cmd=1 ok=1 no=0 bad=0 un=0 b=23/71 w=23/71 gaps=0 dur=99000",
	};
	struct opts o = { .why = END_FIN };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_int_equal(r.state, IMAP_STATE_SELECTED);
	assert_string_equal(r.mailbox, "INBOX");
	rec_free(&r);
	run(&r, utf7, N(utf7), &o, false);
	assert_string_equal(r.mailbox, "\xc3\xa9t\xc3\xa9");
	rec_free(&r);
}

static void test_classify(void **state)
{
	static const struct {
		const char *p;
		int want;
	} cases[] = {
		{ "* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot ready.\r\n", 1 },
		{ "* OK Gimap ready for requests from 192.0.2.1\r\n", 1 },
		{ "* OK ready\r\n", 2 },
		{ "* PREAUTH welcome\r\n", 1 },
		{ "a1 CAPABILITY\r\n", 0 },
		{ ". login alice secret\r\n", 0 },
		{ "A01 AUTHENTICATE PLAIN\r\n", 0 },
		{ "x STARTTLS\r\n", 0 },
		{ "1 ID (\"name\" \"mutt\")\r\n", 0 },
		{ "a1 CAPABILITYX\r\n", -1 },
		{ "GET / HTTP/1.1\r\n", -1 },
		{ "SSH-2.0-OpenSSH_9.6\r\n", -1 },
		{ "220 mail ESMTP\r\n", -1 },
		{ "* OKAY\r\n", -1 },
		{ "", -1 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		assert_int_equal(imap_session_classify((const uint8_t *)cases[i].p,
						       strlen(cases[i].p)), cases[i].want);
}

/* --- the vocabulary's effects ---------------------------------------------- */

/* UNAUTHENTICATE (RFC 8437) is one row of the vocabulary with EFF_UNAUTH:
 * its OK takes the session back to not authenticated, the mailbox
 * forgotten.  A LOGIN is then a login again (a BAD to it a failed login,
 * not a command out of state), and an OK to a command that needs
 * authentication proves a login again. */
static void test_unauthenticate(void **state)
{
	static const struct step steps[] = {
		S_(1000, "* OK [CAPABILITY IMAP4rev1 UNAUTHENTICATE] ready\r\n"),
		C_(2000, "a1 LOGIN alice pw\r\n"),
		S_(2100, "a1 OK done\r\n"),
		C_(3000, "a2 SELECT INBOX\r\n"),
		S_(3100, "a2 OK [READ-WRITE] selected\r\n"),
		C_(4000, "a3 UNAUTHENTICATE\r\n"),
		S_(4100, "a3 OK back to square one\r\n"),
		CHECK_,
		C_(5000, "a4 LOGIN bob pw\r\n"),
		S_(5100, "a4 BAD not now\r\n"),
		C_(6000, "a5 FETCH 1 FLAGS\r\n"),
		S_(6100, "a5 OK [x] done\r\n"),
	};
	static const char *const want[] = {
		"start mid=0 tls=0",
		"greeting OK [CAPABILITY IMAP4rev1 UNAUTHENTICATE] ready",
		"C a1 LOGIN|alice ***| lit=0",
		"S a1 OK [null] done cmd=LOGIN lat=0.100",
		"login LOGIN user=alice ok tag=a1 plain clear=1 secret=null",
		"C a2 SELECT|INBOX| lit=0",
		"S a2 OK [READ-WRITE] selected cmd=SELECT lat=0.100",
		"C a3 UNAUTHENTICATE|| lit=0",
		"S a3 OK [null] back to square one cmd=UNAUTHENTICATE lat=0.100",
		"C a4 LOGIN|bob ***| lit=0",
		"S a4 BAD [null] not now cmd=LOGIN lat=0.100",
		"login LOGIN user=bob fail tag=a4 plain clear=1 secret=null",
		"C a5 FETCH|1 FLAGS| lit=0",
		"S a5 OK [x] done cmd=FETCH lat=0.100",
		"login null user=null ok tag=a5 plain clear=0 secret=null",
		"end fin cmd=5 ok=4 no=0 bad=1 un=0 b=90/149 w=90/149 gaps=0 dur=99000",
	};
	struct opts o = { .why = END_FIN };
	struct rec r;

	(void)state;
	check_script(&r, steps, N(steps), &o, want, N(want));
	assert_int_equal(r.state, IMAP_STATE_NOT_AUTH);
	assert_string_equal(r.mailbox, "null");
	rec_free(&r);
}

/* The ids of greeting, untagged and tagged responses and their codes. */
struct id_rec {
	char s[2048];
};

static void id_event(void *ctx, const struct event *ev)
{
	struct id_rec *r = ctx;
	size_t k = strlen(r->s);

	switch (ev->type) {
	case EV_GREETING:
		snprintf(r->s + k, sizeof r->s - k, "G %s %d|", imap_vocab_untagged_def(ev->u.greeting.id)->name,
			 ev->u.greeting.rcode.id);
		break;
	case EV_UNTAGGED:
		snprintf(r->s + k, sizeof r->s - k, "U %s %d %llu %d %.*s|",
			 imap_vocab_untagged_def(ev->u.untagged.id)->name, ev->u.untagged.has_number,
			 (unsigned long long)ev->u.untagged.number, ev->u.untagged.rcode.id,
			 SL(ev->u.untagged.rcode.args));
		break;
	case EV_RESPONSE:
		snprintf(r->s + k, sizeof r->s - k, "R %s %s %.*s|",
			 imap_vocab_untagged_def(ev->u.response.id)->name,
			 imap_vocab_code_name(ev->u.response.rcode.id), SL(ev->u.response.rcode.args));
		break;
	default:
		break;
	}
}

static void test_event_ids(void **state)
{
	static const struct output_ops ops = { .event = id_event };
	static const char script_s2c[] =
		"* PREAUTH [CAPABILITY IMAP4rev2] hi\r\n"
		"* 7 EXISTS\r\n"
		"* NO [ALERT] careful\r\n"
		"* SEARCH 1 2\r\n"
		"a1 OK [COPYUID 38 1:3 100:102] copied\r\n"
		"a2 no [NONEXISTENT] where\r\n";
	static const char script_c2s[] = "a1 COPY 1:3 x\r\na2 SELECT y\r\n";
	struct imap_session_config cfg = { 0 };
	struct imap_session_info info = { 0 };
	struct imap_session *s;
	struct id_rec r = { { 0 } };

	(void)state;
	cfg.out.ops = &ops;
	cfg.out.ctx = &r;
	info.id = 7;
	info.client = "192.0.2.1:50000";
	info.server = "198.51.100.2:143";
	info.first_ts_us = 1000;
	s = imap_session_new(&cfg, &info);
	assert_non_null(s);
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)script_s2c, 37, 1000);
	imap_session_ops.feed(s, DIR_C2S, (const uint8_t *)script_c2s, sizeof script_c2s - 1, 2000);
	imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)script_s2c + 37, sizeof script_s2c - 38, 3000);
	imap_session_ops.end(s, END_FIN, 4000);
	assert_string_equal(r.s, "G PREAUTH 8|"
				 "U EXISTS 1 7 0 null|"
				 "U NO 0 0 2 null|"
				 "U SEARCH 0 0 0 null|"
				 "R OK COPYUID 38 1:3 100:102|"
				 "R NO NONEXISTENT null|");
}

/* REPLACE (RFC 8508) carries a message as APPEND does (EFF_APPEND): its
 * literal is extracted with the target mailbox, past the message number.
 * After UNAUTHENTICATE the login's user is no longer the session's. */
struct meta_rec {
	char s[1024];
};

static void *meta_begin(void *ctx, uint64_t session, const struct extract_meta *m)
{
	struct meta_rec *r = ctx;
	size_t k = strlen(r->s);

	(void)session;
	snprintf(r->s + k, sizeof r->s - k, "%s %.*s %.*s|", m->dir == DIR_C2S ? "c2s" : "s2c",
		 SL(m->mailbox), SL(m->user));
	return r;
}

static void test_replace_extract(void **state)
{
	/* client line, then the server's answer to it */
	static const char *const script[][2] = {
		{ NULL, "* OK hi\r\n" },
		{ "a1 LOGIN alice pw\r\n", "a1 OK in\r\n" },
		{ "a2 SELECT INBOX\r\n", "a2 OK sel\r\n" },
		{ "a3 REPLACE 4 Drafts {5+}\r\nhello\r\n", "a3 OK r\r\n" },
		{ "a4 UID REPLACE 9 Trash (\\Seen) {2+}\r\nhi\r\n", "a4 OK r\r\n" },
		{ "a5 UNAUTHENTICATE\r\n", "a5 OK out\r\n" },
		{ "a6 APPEND Sent {3+}\r\nabc\r\n", "a6 NO who are you\r\n" },
	};
	struct imap_session_config cfg = { 0 };
	struct imap_session_info info = { .id = 7, .client = "192.0.2.1:50000",
					  .server = "198.51.100.2:143", .first_ts_us = 1 };
	struct imap_session *s;
	struct meta_rec m = { { 0 } };
	struct rec r;

	(void)state;
	memset(&r, 0, sizeof r);
	cfg.out = (struct output){ &rec_ops, &r };
	cfg.extract = (struct imap_extract_hooks){ &m, meta_begin, ex_data, ex_gap, ex_end };
	s = imap_session_new(&cfg, &info);
	assert_non_null(s);
	for (size_t i = 0; i < N(script); i++) {
		if (script[i][0] != NULL)
			imap_session_ops.feed(s, DIR_C2S, (const uint8_t *)script[i][0],
					      strlen(script[i][0]), (int64_t)(10 * i + 2));
		imap_session_ops.feed(s, DIR_S2C, (const uint8_t *)script[i][1],
				      strlen(script[i][1]), (int64_t)(10 * i + 5));
	}
	imap_session_ops.end(s, END_EOF, 200);
	assert_string_equal(m.s, "c2s Drafts alice|c2s Trash alice|c2s Sent null|");
	rec_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_literals),
		cmocka_unit_test(test_login_show_secrets),
		cmocka_unit_test(test_authenticate_plain),
		cmocka_unit_test(test_authenticate_cancel_and_login_mech),
		cmocka_unit_test(test_refused_append),
		cmocka_unit_test(test_idle_and_owners),
		cmocka_unit_test(test_starttls_stops_parsing),
		cmocka_unit_test(test_starttls_refused_releases_client),
		cmocka_unit_test(test_mid_stream_tls),
		cmocka_unit_test(test_starttls_not_negotiated),
		cmocka_unit_test(test_starttls_client_only),
		cmocka_unit_test(test_starttls_injection),
		cmocka_unit_test(test_plain_where_layer_agreed),
		cmocka_unit_test(test_hold_overflow),
		cmocka_unit_test(test_implicit_tls_and_compress),
		cmocka_unit_test(test_compress_gap),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_mid_stream),
		cmocka_unit_test(test_mid_stream_in_idle),
		cmocka_unit_test(test_mid_stream_run_kept),
		cmocka_unit_test(test_mid_stream_run_unconfirmed),
		cmocka_unit_test(test_mid_stream_run_cap),
		cmocka_unit_test(test_mid_stream_completion_at_segment),
		cmocka_unit_test(test_cut_lines),
		cmocka_unit_test(test_refused_empty_literal),
		cmocka_unit_test(test_bogus_literal_abandoned),
		cmocka_unit_test(test_garbage_lines_rate_limited),
		cmocka_unit_test(test_probe_tail_once),
		cmocka_unit_test(test_not_imap),
		cmocka_unit_test(test_pending_cap),
		cmocka_unit_test(test_depth_cap_extract),
		cmocka_unit_test(test_memory_budget),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_unauthenticate),
		cmocka_unit_test(test_event_ids),
		cmocka_unit_test(test_replace_extract),
		cmocka_unit_test(test_select_literal_mailbox),
		cmocka_unit_test(test_tap_marks),
		cmocka_unit_test(test_tap_marks_unread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
