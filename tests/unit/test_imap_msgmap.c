/* The sequence-number -> UID map (src/imap/imap_msgmap.c), and the message
 * identities the session puts on events with IMAP_FACTS_MESSAGES
 * (src/imap/imap_messages.c), from scripted sessions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_args.h"
#include "imap/imap_msgmap.h"
#include "imap/imap_session.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* "u1 u2 - u4": the map's UIDs by sequence number, "-" unknown. */
static void map_text(const struct imap_msgmap *m, char *o, size_t cap)
{
	size_t k = 0;

	o[0] = '\0';
	for (uint64_t seq = 1; seq <= m->len; seq++) {
		uint64_t u = imap_msgmap_uid(m, seq);

		k += (size_t)snprintf(o + k, cap - k, "%s", k ? " " : "");
		if (u == FACT_NONE)
			k += (size_t)snprintf(o + k, cap - k, "-");
		else
			k += (size_t)snprintf(o + k, cap - k, "%llu", (unsigned long long)u);
		assert_true(k < cap);
	}
}

static void map_is(const struct imap_msgmap *m, const char *want)
{
	char got[512];

	map_text(m, got, sizeof got);
	assert_string_equal(got, want);
}

static void learn_all(struct imap_msgmap *m, const uint64_t (*pairs)[2], size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(imap_msgmap_learn(m, pairs[i][0], pairs[i][1]), MSGMAP_OK);
}

static void test_learn_lookup(void **state)
{
	struct mem_budget mb = { 0 };
	struct imap_msgmap m;
	static const uint64_t p[][2] = { { 1, 10 }, { 2, 11 }, { 4, 20 } };

	(void)state;
	imap_msgmap_init(&m, &mb);
	assert_int_equal(imap_msgmap_uid(&m, 1), FACT_NONE);
	learn_all(&m, p, N(p));
	map_is(&m, "10 11 - 20");
	assert_int_equal(imap_msgmap_uid(&m, 3), FACT_NONE);
	assert_int_equal(imap_msgmap_uid(&m, 5), FACT_NONE);
	assert_int_equal(imap_msgmap_uid(&m, 0), FACT_NONE);
	/* out of order with its neighbours: they become unknown */
	assert_int_equal(imap_msgmap_learn(&m, 3, 5), MSGMAP_OK);
	map_is(&m, "- - 5 20");
	/* not pairs IMAP sends */
	assert_int_equal(imap_msgmap_learn(&m, 0, 5), MSGMAP_OK);
	assert_int_equal(imap_msgmap_learn(&m, 9, (uint64_t)UINT32_MAX + 1), MSGMAP_OK);
	map_is(&m, "- - 5 20");
	assert_true(mb.used > 0);
	imap_msgmap_reset(&m);
	map_is(&m, "");
	imap_msgmap_free(&m);
	assert_int_equal(mb.used, 0);
}

static void test_expunge_renumbers(void **state)
{
	struct mem_budget mb = { 0 };
	struct imap_msgmap m;
	static const uint64_t p[][2] = { { 1, 10 }, { 2, 11 }, { 3, 12 }, { 5, 14 }, { 6, 15 } };

	(void)state;
	imap_msgmap_init(&m, &mb);
	learn_all(&m, p, N(p));
	map_is(&m, "10 11 12 - 14 15");
	/* every higher number moves down by one */
	assert_int_equal(imap_msgmap_expunge(&m, 2), 11);
	map_is(&m, "10 12 - 14 15");
	/* the same number twice: two different messages (RFC 9051 7.5.1) */
	assert_int_equal(imap_msgmap_expunge(&m, 2), 12);
	map_is(&m, "10 - 14 15");
	assert_int_equal(imap_msgmap_expunge(&m, 2), FACT_NONE);	/* not known */
	map_is(&m, "10 14 15");
	assert_int_equal(imap_msgmap_uid(&m, 2), 14);
	/* past the map: nothing known moves */
	assert_int_equal(imap_msgmap_expunge(&m, 9), FACT_NONE);
	map_is(&m, "10 14 15");
	assert_int_equal(imap_msgmap_expunge(&m, 3), 15);
	map_is(&m, "10 14");
	/* EXISTS below the map (only a broken server): the rest forgotten */
	imap_msgmap_exists(&m, 1);
	map_is(&m, "10");
	imap_msgmap_exists(&m, 100);
	map_is(&m, "10");
	imap_msgmap_free(&m);
	assert_int_equal(mb.used, 0);
}

static void test_vanished(void **state)
{
	struct mem_budget mb = { 0 };
	struct imap_msgmap m;
	static const uint64_t p[][2] = { { 1, 10 }, { 2, 11 }, { 3, 12 }, { 4, 13 }, { 5, 20 } };
	static const uint64_t q[][2] = { { 1, 10 }, { 3, 12 }, { 4, 13 }, { 6, 30 } };

	(void)state;
	imap_msgmap_init(&m, &mb);
	learn_all(&m, p, N(p));
	/* unsorted, overlapping, and UIDs the map never held (14:19 lie
	 * between 13 and 20, known neighbours: not in the mailbox) */
	assert_int_equal(imap_msgmap_vanished(&m, (struct buf_slice){ (const uint8_t *)"13,11,14:19,11:11", 17 }), MSGMAP_OK);
	map_is(&m, "10 12 20");
	/* a UID gone from past the map changes nothing known */
	assert_int_equal(imap_msgmap_vanished(&m, (struct buf_slice){ (const uint8_t *)"25", 2 }), MSGMAP_OK);
	map_is(&m, "10 12 20");
	imap_msgmap_reset(&m);

	/* 11 may have been at seq 2 (unknown): everything from there on
	 * may have moved, and is forgotten */
	learn_all(&m, q, N(q));
	map_is(&m, "10 - 12 13 - 30");
	assert_int_equal(imap_msgmap_vanished(&m, (struct buf_slice){ (const uint8_t *)"11,13", 5 }), MSGMAP_OK);
	map_is(&m, "10");
	imap_msgmap_reset(&m);

	/* 14 sits between 13 and 30 with an unknown place between them */
	learn_all(&m, q, N(q));
	assert_int_equal(imap_msgmap_vanished(&m, (struct buf_slice){ (const uint8_t *)"12,14", 5 }), MSGMAP_OK);
	map_is(&m, "10 - 13");
	imap_msgmap_reset(&m);

	/* "*" or a malformed set: nothing can be trusted */
	learn_all(&m, q, N(q));
	assert_int_equal(imap_msgmap_vanished(&m, (struct buf_slice){ (const uint8_t *)"5:*", 3 }), MSGMAP_NO_MEMORY);
	map_is(&m, "");
	learn_all(&m, q, N(q));
	imap_msgmap_vanished(&m, (struct buf_slice){ (const uint8_t *)"1,,2", 4 });
	map_is(&m, "");
	imap_msgmap_free(&m);
	assert_int_equal(mb.used, 0);
}

static void test_caps(void **state)
{
	struct mem_budget mb = { .limit = 1024 };
	struct imap_msgmap m;
	static const uint32_t all[] = { 3, 5, 9 };
	static const uint32_t bad[] = { 3, 3, 9 };

	(void)state;
	imap_msgmap_init(&m, &mb);
	assert_int_equal(imap_msgmap_learn(&m, IMAP_MSGMAP_MAX_SEQ + 1, 7), MSGMAP_CAPPED);
	/* 4 bytes a number: 100000 of them do not fit 1 KB */
	assert_int_equal(imap_msgmap_learn(&m, 100000, 7), MSGMAP_NO_MEMORY);
	assert_true(mb.refused > 0);
	assert_int_equal(imap_msgmap_learn(&m, 100, 7), MSGMAP_OK);
	assert_true(mb.used <= 1024);
	assert_int_equal(imap_msgmap_all(&m, bad, N(bad)), MSGMAP_OK);
	assert_int_equal(imap_msgmap_uid(&m, 100), 7);	/* not ascending: unchanged */
	assert_int_equal(imap_msgmap_all(&m, all, N(all)), MSGMAP_OK);
	map_is(&m, "3 5 9");
	imap_msgmap_free(&m);
	assert_int_equal(mb.used, 0);
}

/* The next UID at or above a value, over unknown slots; the known prefix. */
static void test_next(void **state)
{
	struct mem_budget mb = { 0 };
	struct imap_msgmap m;
	static const uint64_t p[][2] = { { 1, 10 }, { 2, 11 }, { 4, 20 }, { 7, 30 } };
	uint64_t seq;

	(void)state;
	imap_msgmap_init(&m, &mb);
	assert_int_equal(imap_msgmap_next(&m, 1, &seq), FACT_NONE);
	assert_int_equal(seq, FACT_NONE);
	assert_int_equal(imap_msgmap_known_prefix(&m), 0);
	learn_all(&m, p, N(p));
	map_is(&m, "10 11 - 20 - - 30");
	assert_int_equal(imap_msgmap_next(&m, 0, &seq), 10);
	assert_int_equal(seq, 1);
	assert_int_equal(imap_msgmap_next(&m, 11, &seq), 11);
	assert_int_equal(seq, 2);
	assert_int_equal(imap_msgmap_next(&m, 12, &seq), 20);
	assert_int_equal(seq, 4);
	assert_int_equal(imap_msgmap_next(&m, 21, &seq), 30);
	assert_int_equal(seq, 7);
	assert_int_equal(imap_msgmap_next(&m, 31, &seq), FACT_NONE);
	assert_int_equal(imap_msgmap_known_prefix(&m), 2);
	imap_msgmap_free(&m);
	assert_int_equal(mb.used, 0);
}

/* --- identities on events ------------------------------------------------ */

#define MAX_EVENTS 64
struct rec {
	char *ev[MAX_EVENTS];
	size_t n;
	size_t total;		/* events recorded, kept or not */
	char last[4096];
	uint64_t capped;	/* the session's, at its end */
};

#define SL(s) (s).ptr ? (int)(s).len : 1, (s).ptr ? (const char *)(s).ptr : "-"

static int put_num(char *o, size_t cap, const char *k, uint64_t v)
{
	return v == FACT_NONE ? snprintf(o, cap, " %s=-", k)
			      : snprintf(o, cap, " %s=%llu", k, (unsigned long long)v);
}

static size_t fmt_id(char *o, size_t cap, const struct msg_identity *m)
{
	static const char src[] = "-sm";
	size_t k = (size_t)snprintf(o, cap, " [%.*s", SL(m->mailbox));

	k += (size_t)put_num(o + k, cap - k, "uv", m->uidvalidity);
	k += (size_t)put_num(o + k, cap - k, "uid", m->uid);
	k += (size_t)snprintf(o + k, cap - k, "%c", src[m->uid_source]);
	k += (size_t)put_num(o + k, cap - k, "seq", m->seq);
	k += (size_t)put_num(o + k, cap - k, "size", m->size);
	k += (size_t)snprintf(o + k, cap - k, " id=%.*s s=%.*s f=%.*s d=%.*s%s]",
			      SL(m->message_id), SL(m->subject), SL(m->from), SL(m->date),
			      m->flags & MSG_ENCODED_LEFT ? " left" : "");
	return k;
}

static void rec_event(void *ctx, const struct event *ev)
{
	struct rec *r = ctx;
	char line[4096] = "";
	size_t k;

	if (ev->type == EV_SESSION_END)
		r->capped = ev->u.end.summary->capped;
	if (ev->type == EV_COMMAND && ev->u.command.append != NULL) {
		k = (size_t)snprintf(line, sizeof line, "C %.*s", SL(ev->u.command.name));
		fmt_id(line + k, sizeof line - k, ev->u.command.append);
	} else if (ev->type == EV_UNTAGGED && (ev->u.untagged.n_msgs > 0 || ev->u.untagged.vanished)) {
		k = (size_t)snprintf(line, sizeof line, "* %.*s", SL(ev->u.untagged.name));
		if (ev->u.untagged.vanished != NULL)
			k += (size_t)put_num(line + k, sizeof line - k, "n",
					     ev->u.untagged.vanished->count);
		for (size_t i = 0; i < ev->u.untagged.n_msgs; i++)
			k += fmt_id(line + k, sizeof line - k, &ev->u.untagged.msgs[i]);
		if (ev->u.untagged.msgs_cut)
			snprintf(line + k, sizeof line - k, " cut");
	} else if (ev->type == EV_RESPONSE && ev->u.response.n_msgs > 0) {
		k = (size_t)snprintf(line, sizeof line, "R %.*s", SL(ev->u.response.tag));
		for (size_t i = 0; i < ev->u.response.n_msgs; i++)
			k += fmt_id(line + k, sizeof line - k, &ev->u.response.msgs[i]);
		if (ev->u.response.msgs_cut)
			snprintf(line + k, sizeof line - k, " cut");
	} else {
		return;
	}
	r->total++;
	memcpy(r->last, line, sizeof line);
	if (r->n < MAX_EVENTS)
		r->ev[r->n++] = strdup(line);
}

static const struct output_ops rec_ops = { .event = rec_event };

struct step {
	enum stream_dir dir;
	const char *data;
	size_t len;
};

#define C_(s) { DIR_C2S, s, sizeof(s) - 1 }
#define S_(s) { DIR_S2C, s, sizeof(s) - 1 }

static void run(struct rec *r, const struct step *steps, size_t n, bool bytewise, unsigned facts,
		struct mem_budget *mb)
{
	struct imap_session_config cfg = { .facts = facts };
	struct imap_session_info info = { .id = 7, .client = "192.0.2.1:50000",
					  .server = "198.51.100.2:143", .first_ts_us = 1000 };
	struct imap_session *s;

	memset(r, 0, sizeof *r);
	cfg.out.ops = &rec_ops;
	cfg.out.ctx = r;
	cfg.budget = mb;
	s = imap_session_new(&cfg, &info);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *)steps[i].data;
		int64_t ts = 2000 + (int64_t)i * 1000;

		if (!bytewise)
			imap_session_ops.feed(s, steps[i].dir, p, steps[i].len, ts);
		else
			for (size_t k = 0; k < steps[i].len; k++)
				imap_session_ops.feed(s, steps[i].dir, p + k, 1, ts);
	}
	imap_session_ops.end(s, END_FIN, 100000);
}

static void expect(struct rec *r, const char *const *want, size_t n_want)
{
	bool ok = r->n == n_want;

	for (size_t i = 0; ok && i < n_want; i++)
		ok = strcmp(r->ev[i], want[i]) == 0;
	if (!ok) {
		for (size_t i = 0; i < r->n || i < n_want; i++)
			print_message("%s %s\n   %s\n",
				      i < r->n && i < n_want && strcmp(r->ev[i], want[i]) == 0 ? " " : "!",
				      i < n_want ? want[i] : "-", i < r->n ? r->ev[i] : "-");
		fail_msg("events differ");
	}
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i]);
	r->n = 0;
}

static void expect_run(const struct step *steps, size_t n, const char *const *want, size_t n_want)
{
	struct mem_budget mb = { 0 };
	struct rec r;

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		run(&r, steps, n, bytewise, IMAP_FACTS_MESSAGES, &mb);
		expect(&r, want, n_want);
		assert_int_equal(mb.used, 0);
	}
	/* without the flag, nothing */
	run(&r, steps, n, false, IMAP_FACTS_FETCH, &mb);
	expect(&r, NULL, 0);
}

static const struct step login[] = {
	S_("* OK ready\r\n"),
	C_("a1 LOGIN alice secret\r\n"),
	S_("a1 OK done\r\n"),
	C_("a2 SELECT INBOX\r\n"),
	S_("* 5 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\na2 OK [READ-WRITE] done\r\n"),
};

static void with_login(const struct step *tail, size_t n, const char *const *want, size_t n_want)
{
	struct step all[32];

	assert_true(N(login) + n <= N(all));
	memcpy(all, login, sizeof login);
	memcpy(all + N(login), tail, n * sizeof *tail);
	expect_run(all, N(login) + n, want, n_want);
}

static void test_fetch_expunge(void **state)
{
	static const struct step s[] = {
		C_("a3 FETCH 1:3 (UID ENVELOPE RFC822.SIZE)\r\n"),
		S_("* 1 FETCH (UID 10 RFC822.SIZE 1200 ENVELOPE (\"Mon, 1 Jan 2024 10:00:00 +0000\" "
		   "\"=?UTF-8?B?SMOpbGxv?= =?ISO-8859-1?Q?w=F6rld?=\" ((\"=?utf-8?q?Al_Ice?=\" NIL "
		   "\"alice\" \"example.org\")) NIL NIL NIL NIL NIL NIL \"<a1@example.org>\"))\r\n"),
		S_("* 2 FETCH (UID 11 RFC822.SIZE 300 ENVELOPE (NIL \"say \\\"hi\\\"\" ((NIL NIL "
		   "\"bob\" \"example.net\")) NIL NIL NIL NIL NIL NIL NIL))\r\n"),
		S_("* 3 FETCH (UID 12 BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)] {57}\r\n"
		   "Subject: folded\r\n  line\r\nMessage-ID: <c3@example.org>\r\n\r\n)\r\n"),
		S_("a3 OK done\r\n"),
		/* a later FETCH without UID: resolved through the map */
		C_("a4 FETCH 2 (FLAGS)\r\n"),
		S_("* 2 FETCH (FLAGS (\\Seen))\r\na4 OK done\r\n"),
		C_("a5 EXPUNGE\r\n"),
		S_("* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 FETCH (FLAGS ())\r\na5 OK done\r\n"),
	};
	static const char *const want[] = {
		"* FETCH [INBOX uv=77 uid=10s seq=1 size=1200 id=<a1@example.org> s=Héllowörld "
		"f=Al Ice <alice@example.org> d=Mon, 1 Jan 2024 10:00:00 +0000]",
		"* FETCH [INBOX uv=77 uid=11s seq=2 size=300 id=- s=say \"hi\" f=bob@example.net d=-]",
		"* FETCH [INBOX uv=77 uid=12s seq=3 size=- id=<c3@example.org> s=folded  line f=- d=-]",
		"* FETCH [INBOX uv=77 uid=11m seq=2 size=300 id=- s=say \"hi\" f=bob@example.net d=-]",
		"* EXPUNGE [INBOX uv=77 uid=10m seq=1 size=1200 id=<a1@example.org> s=Héllowörld "
		"f=Al Ice <alice@example.org> d=Mon, 1 Jan 2024 10:00:00 +0000]",
		"* EXPUNGE [INBOX uv=77 uid=11m seq=1 size=300 id=- s=say \"hi\" f=bob@example.net d=-]",
		"* FETCH [INBOX uv=77 uid=12m seq=1 size=- id=<c3@example.org> s=folded  line f=- d=-]",
	};

	(void)state;
	with_login(s, N(s), want, N(want));
}

static void test_vanished_events(void **state)
{
	static const struct step s[] = {
		C_("a3 UID FETCH 1:* (UID BODY.PEEK[])\r\n"),
		S_("* 1 FETCH (UID 4 BODY[] {38}\r\nSubject: one\r\nFrom: a@b\r\n\r\nbody text\r\n)\r\n"),
		S_("* 2 FETCH (UID 6 BODY[] {19}\r\nSubject: two\r\n\r\nx\r\n)\r\n"),
		S_("a3 OK done\r\n"),
		C_("a4 UID EXPUNGE 4:6\r\n"),
		S_("* VANISHED 4:6\r\n"),
		S_("* VANISHED (EARLIER) 1:3\r\n"),
		S_("* 1 FETCH (FLAGS ())\r\na4 OK done\r\n"),
	};
	static const char *const want[] = {
		"* FETCH [INBOX uv=77 uid=4s seq=1 size=38 id=- s=one f=a@b d=-]",
		"* FETCH [INBOX uv=77 uid=6s seq=2 size=19 id=- s=two f=- d=-]",
		/* numbered as if removed one after another: 6 is 1 once 4 went */
		"* VANISHED n=3 [INBOX uv=77 uid=4s seq=1 size=38 id=- s=one f=a@b d=-]"
		" [INBOX uv=77 uid=5s seq=- size=- id=- s=- f=- d=-]"
		" [INBOX uv=77 uid=6s seq=1 size=19 id=- s=two f=- d=-]",
		"* VANISHED n=3",
		/* both gone: seq 1 is a message not seen */
		"* FETCH [INBOX uv=77 uid=-- seq=1 size=- id=- s=- f=- d=-]",
	};

	(void)state;
	with_login(s, N(s), want, N(want));
}

static void test_reselect_and_append(void **state)
{
	static const struct step s[] = {
		C_("a3 FETCH 1 (UID)\r\n"),
		S_("* 1 FETCH (UID 9)\r\na3 OK done\r\n"),
		C_("a4 SELECT Archive\r\n"),
		S_("* 3 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\na4 OK done\r\n"),
		C_("a5 FETCH 1 (FLAGS)\r\n"),
		S_("* 1 FETCH (FLAGS ())\r\na5 OK done\r\n"),
		C_("a6 APPEND Drafts (\\Seen) {53+}\r\nMessage-ID: <p@x>\r\nSubject: =?koi8-r?B?8NLJ?=\r\n\r\nhi\r\n\r\n"),
		S_("a6 OK [APPENDUID 5 12] done\r\n"),
	};
	static const char *const want[] = {
		"* FETCH [INBOX uv=77 uid=9s seq=1 size=- id=- s=- f=- d=-]",
		"* FETCH [Archive uv=5 uid=-- seq=1 size=- id=- s=- f=- d=-]",
		"C APPEND [Drafts uv=- uid=-- seq=- size=53 id=<p@x> s==?koi8-r?B?8NLJ?= f=- d=- left]",
	};

	(void)state;
	with_login(s, N(s), want, N(want));
}

/* The completions of STORE, COPY and CLOSE name their messages: a
 * sequence set through the map, a UID set by the UIDs it holds, CLOSE
 * the ones last seen \Deleted (by FETCH FLAGS, or a silent STORE). */
static void test_completion_messages(void **state)
{
	static const struct step s[] = {
		C_("a3 FETCH 1:3 (UID FLAGS)\r\n"),
		S_("* 1 FETCH (UID 10 FLAGS ())\r\n* 2 FETCH (UID 11 FLAGS (\\Deleted))\r\n"
		   "* 3 FETCH (UID 12 FLAGS (\\Seen))\r\na3 OK done\r\n"),
		C_("a4 STORE 3 +FLAGS.SILENT (\\Deleted)\r\n"),
		S_("a4 OK done\r\n"),
		C_("a5 UID STORE 11 -FLAGS.SILENT (\\Deleted)\r\n"),
		S_("a5 OK done\r\n"),
		C_("a6 UID COPY 11:* Archive\r\n"),
		S_("a6 OK [COPYUID 5 11:12 1:2] done\r\n"),
		C_("a7 CLOSE\r\n"),
		S_("a7 OK done\r\n"),
	};
	static const char *const want[] = {
		"* FETCH [INBOX uv=77 uid=10s seq=1 size=- id=- s=- f=- d=-]",
		"* FETCH [INBOX uv=77 uid=11s seq=2 size=- id=- s=- f=- d=-]",
		"* FETCH [INBOX uv=77 uid=12s seq=3 size=- id=- s=- f=- d=-]",
		"R a4 [INBOX uv=77 uid=12m seq=3 size=- id=- s=- f=- d=-]",
		"R a5 [INBOX uv=77 uid=11s seq=2 size=- id=- s=- f=- d=-]",
		"R a6 [INBOX uv=77 uid=11s seq=2 size=- id=- s=- f=- d=-]"
		" [INBOX uv=77 uid=12s seq=3 size=- id=- s=- f=- d=-]",
		"R a7 [INBOX uv=77 uid=12m seq=3 size=- id=- s=- f=- d=-]",
	};

	(void)state;
	with_login(s, N(s), want, N(want));
}

#define SESS_MSG_CACHE_MAX_TEST 4096	/* SESS_MSG_CACHE_MAX, private */

/* UID SEARCH ALL names every UID in order: the whole map.  Other
 * criteria, or an answer that does not number EXISTS, say nothing. */
static void test_search_all(void **state)
{
	static const struct step s[] = {
		C_("a3 UID SEARCH UNSEEN\r\n"),
		S_("* SEARCH 4 7 9 10 12\r\na3 OK done\r\n"),
		C_("a4 FETCH 3 (FLAGS)\r\n"),
		S_("* 3 FETCH (FLAGS ())\r\na4 OK done\r\n"),
		C_("a5 UID SEARCH 1:*\r\n"),
		S_("* SEARCH 4 7 9 10\r\na5 OK done\r\n"),	/* 4 of 5 */
		C_("a6 FETCH 3 (FLAGS)\r\n"),
		S_("* 3 FETCH (FLAGS ())\r\na6 OK done\r\n"),
		C_("a7 UID SEARCH all\r\n"),
		S_("* SEARCH 4 7 9 10 12\r\na7 OK done\r\n"),
		C_("a8 FETCH 3 (FLAGS)\r\n"),
		S_("* 3 FETCH (FLAGS ())\r\n* 2 EXPUNGE\r\na8 OK done\r\n"),
	};
	static const char *const want[] = {
		"* FETCH [INBOX uv=77 uid=-- seq=3 size=- id=- s=- f=- d=-]",
		"* FETCH [INBOX uv=77 uid=-- seq=3 size=- id=- s=- f=- d=-]",
		"* FETCH [INBOX uv=77 uid=9m seq=3 size=- id=- s=- f=- d=-]",
		"* EXPUNGE [INBOX uv=77 uid=7m seq=2 size=- id=- s=- f=- d=-]",
	};

	(void)state;
	with_login(s, N(s), want, N(want));
}

/* A FETCH without UID whose number is not mapped: what it showed joins
 * the message once its UID is known, and names it when it is expunged. */
static void test_seq_only(void **state)
{
	static const struct step s[] = {
		C_("a3 FETCH 2,4 (ENVELOPE)\r\n"),
		S_("* 2 FETCH (ENVELOPE (NIL \"two\" NIL NIL NIL NIL NIL NIL NIL \"<2@x>\"))\r\n"),
		S_("* 4 FETCH (ENVELOPE (NIL \"four\" NIL NIL NIL NIL NIL NIL NIL \"<4@x>\"))\r\n"),
		S_("a3 OK done\r\n"),
		C_("a4 FETCH 1:2 (UID)\r\n"),
		S_("* 1 FETCH (UID 11)\r\n* 2 FETCH (UID 12)\r\na4 OK done\r\n"),
		C_("a5 EXPUNGE\r\n"),
		/* 4 moves to 3, then goes */
		S_("* 1 EXPUNGE\r\n* 3 EXPUNGE\r\n* 1 EXPUNGE\r\na5 OK done\r\n"),
	};
	static const char *const want[] = {
		"* FETCH [INBOX uv=77 uid=-- seq=2 size=- id=<2@x> s=two f=- d=-]",
		"* FETCH [INBOX uv=77 uid=-- seq=4 size=- id=<4@x> s=four f=- d=-]",
		"* FETCH [INBOX uv=77 uid=11s seq=1 size=- id=- s=- f=- d=-]",
		"* FETCH [INBOX uv=77 uid=12s seq=2 size=- id=<2@x> s=two f=- d=-]",
		"* EXPUNGE [INBOX uv=77 uid=11m seq=1 size=- id=- s=- f=- d=-]",
		"* EXPUNGE [INBOX uv=77 uid=-- seq=3 size=- id=<4@x> s=four f=- d=-]",
		"* EXPUNGE [INBOX uv=77 uid=12m seq=1 size=- id=<2@x> s=two f=- d=-]",
	};

	(void)state;
	with_login(s, N(s), want, N(want));
}

/* The header cache's cap: the oldest is forgotten, counted and said. */
static void test_cache_cap(void **state)
{
	struct mem_budget mb = { 0 };
	struct rec r;
	struct step s[N(login) + 4];
	static char big[4200 * 96];
	size_t k = 0;

	(void)state;
	memcpy(s, login, sizeof login);
	for (unsigned i = 1; i <= 4200; i++)
		k += (size_t)snprintf(big + k, sizeof big - k,
				      "* %u FETCH (UID %u ENVELOPE (NIL \"s%u\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
				      i, i + 100, i);
	assert_true(k < sizeof big);
	s[N(login)] = (struct step)C_("a3 FETCH 1:* (UID ENVELOPE)\r\n");
	s[N(login) + 1] = (struct step){ DIR_S2C, big, k };
	s[N(login) + 2] = (struct step)C_("a4 EXPUNGE\r\n");
	s[N(login) + 3] = (struct step)S_("* 4200 EXPUNGE\r\n* 1 EXPUNGE\r\n");
	run(&r, s, N(s), false, IMAP_FACTS_MESSAGES, &mb);
	assert_int_equal(r.total, 4202);
	/* the last one seen is still known; the first was forgotten */
	assert_string_equal(r.ev[0], "* FETCH [INBOX uv=77 uid=101s seq=1 size=- id=- s=s1 f=- d=-]");
	assert_string_equal(r.last, "* EXPUNGE [INBOX uv=77 uid=101m seq=1 size=- id=- s=- f=- d=-]");
	assert_int_equal(r.capped, 4200 - SESS_MSG_CACHE_MAX_TEST);
	for (size_t i = 0; i < r.n; i++)
		free(r.ev[i]);
	assert_int_equal(mb.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learn_lookup),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_completion_messages),
		cmocka_unit_test(test_expunge_renumbers),
		cmocka_unit_test(test_vanished),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_fetch_expunge),
		cmocka_unit_test(test_vanished_events),
		cmocka_unit_test(test_reselect_and_append),
		cmocka_unit_test(test_search_all),
		cmocka_unit_test(test_seq_only),
		cmocka_unit_test(test_cache_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
