/* The session's facts (src/imap/imap_facts.c): scripted byte streams of
 * both directions in, and for every event the facts it carries.  Each
 * script runs whole and byte by byte; both runs must agree. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_session.h"

#define MAX_EVENTS 256
#define EV_TEXT 12000

struct rec {
	char *ev[MAX_EVENTS];
	size_t n;
	bool all;		/* record notices, starts and ends too */
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define SL(s) (s).ptr ? (int)(s).len : 1, (s).ptr ? (const char *)(s).ptr : "-"

static int put_num(char *o, size_t cap, const char *k, uint64_t v)
{
	return v == FACT_NONE ? snprintf(o, cap, " %s=-", k)
			      : snprintf(o, cap, " %s=%llu", k, (unsigned long long)v);
}

/* "state user mailbox ro uidvalidity uidnext exists caps transport z logout ch" */
static void fmt_facts(char *o, size_t cap, const struct event *ev)
{
	const struct session_facts *f = ev->facts;
	size_t k = strlen(o);

	k += (size_t)snprintf(o + k, cap - k, " | st=%d u=%.*s mb=%.*s%s", f->state,
			      SL(f->user), SL(f->mailbox), f->read_only ? " ro" : "");
	k += (size_t)put_num(o + k, cap - k, "uv", f->uidvalidity);
	k += (size_t)put_num(o + k, cap - k, "un", f->uidnext);
	k += (size_t)put_num(o + k, cap - k, "ex", f->exists);
	if (f->caps.known)
		k += (size_t)snprintf(o + k, cap - k, " caps=[%.*s]%s%s", SL(f->caps.text),
				      capset_has(&f->caps, IMAP_CAP_IDLE) ? "+idle" : "",
				      f->caps.auth ? "+auth" : "");
	assert_true(k < cap);
	snprintf(o + k, cap - k, " tr=%d%s%s ch=%x", f->transport, f->compressed ? " z" : "",
		 f->logout_sent ? " lo" : "", ev->changed);
}

static const char *cmd_name(enum imap_cmd_id id)
{
	static const char *const names[] = {
		"?",
#define X(id, name, states, cap, args, eff) name,
		IMAP_COMMANDS(X)
#undef X
	};

	return (unsigned)id < N(names) ? names[id] : "bad";
}

static void fmt_cmd_facts(char *o, size_t cap, const struct command_facts *c)
{
	if (c == NULL) {
		snprintf(o, cap, " cmd=NULL");
		return;
	}
	snprintf(o, cap, " id=%s mb=%.*s mb2=%.*s seq=%.*s it=%.*s fl=%.*s d=%.*s m=%.*s",
		 cmd_name(c->id), SL(c->mailbox), SL(c->mailbox2), SL(c->seqset), SL(c->items),
		 SL(c->flags), SL(c->date), SL(c->mechanism));
}

static void fmt_fetch(char *o, size_t cap, const struct fetch_facts *f)
{
	size_t k;

	if (f == NULL)
		return;
	k = (size_t)snprintf(o, cap, " seq=%llu", (unsigned long long)f->seq);
	k += (size_t)put_num(o + k, cap - k, "uid", f->uid);
	k += (size_t)put_num(o + k, cap - k, "size", f->size);
	k += (size_t)snprintf(o + k, cap - k, " fl=%.*s", SL(f->flags));
	for (size_t i = 0; i < f->n_sections; i++)
		k += (size_t)snprintf(o + k, cap - k, " %.*s:%llu", SL(f->sections[i]),
				      (unsigned long long)f->section_sizes[i]);
	assert_true(k < cap);
}

static void rec_event(void *ctx, const struct event *ev)
{
	struct rec *r = ctx;
	char line[EV_TEXT] = "";

	assert_non_null(ev->facts);
	switch (ev->type) {
	case EV_COMMAND:
		assert_non_null(ev->u.command.facts);
		snprintf(line, sizeof line, "C %.*s", SL(ev->u.command.name));
		fmt_cmd_facts(line + strlen(line), sizeof line - strlen(line), ev->u.command.facts);
		break;
	case EV_RESPONSE:
		snprintf(line, sizeof line, "S %.*s %.*s", SL(ev->u.response.tag),
			 SL(ev->u.response.status));
		fmt_cmd_facts(line + strlen(line), sizeof line - strlen(line), ev->u.response.cmd);
		break;
	case EV_UNTAGGED:
		snprintf(line, sizeof line, "* %.*s", SL(ev->u.untagged.name));
		fmt_fetch(line + strlen(line), sizeof line - strlen(line), ev->u.untagged.fetch);
		assert_true((ev->u.untagged.fetch != NULL) ==
			    buf_slice_ieq(ev->u.untagged.name, "FETCH"));
		break;
	case EV_GREETING:
		snprintf(line, sizeof line, "greeting");
		break;
	case EV_LOGIN:
		snprintf(line, sizeof line, "login%s", ev->u.login.inferred ? " inferred" : "");
		break;
	case EV_CONTINUATION:
		snprintf(line, sizeof line, "+");
		break;
	case EV_TLS:
	case EV_COMPRESS:
		snprintf(line, sizeof line, "%s", event_type_name(ev->type));
		break;
	default:
		if (!r->all)
			return;
		snprintf(line, sizeof line, "%s", event_type_name(ev->type));
	}
	fmt_facts(line, sizeof line, ev);
	assert_true(r->n < MAX_EVENTS);
	r->ev[r->n++] = strdup(line);
}

static const struct output_ops rec_ops = { .event = rec_event };

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i]);
	r->n = 0;
}

struct step {
	enum stream_dir dir;
	const char *data;
	size_t len;
};

#define C_(s) { DIR_C2S, s, sizeof(s) - 1 }
#define S_(s) { DIR_S2C, s, sizeof(s) - 1 }

static void run(struct rec *r, const struct step *steps, size_t n, bool bytewise,
		struct mem_budget *mb)
{
	struct imap_session_config cfg = { .facts = IMAP_FACTS_FETCH };
	struct imap_session_info info = { .id = 7, .client = "192.0.2.1:50000",
					  .server = "198.51.100.2:143", .first_ts_us = 1000 };
	struct imap_session *s;
	bool all = r->all;

	memset(r, 0, sizeof *r);
	r->all = all;
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
}

static void check(const struct step *steps, size_t n, const char *const *want, size_t n_want)
{
	struct rec r = { 0 };

	run(&r, steps, n, false, NULL);
	expect(&r, want, n_want);
	rec_free(&r);
	run(&r, steps, n, true, NULL);
	expect(&r, want, n_want);
	rec_free(&r);
}

/* --- tests ------------------------------------------------------------------ */

/* The bug of issue 16: a mailbox sent as a literal is the command's mailbox
 * and, once selected, the session's. */
static void test_select_literal_mailbox(void **state)
{
	static const struct step steps[] = {
		S_("* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] ready\r\n"),
		C_("a1 LOGIN alice secret\r\n"),
		S_("a1 OK done\r\n"),
		C_("a2 SELECT {5+}\r\nINBOX\r\n"),
		S_("* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 9] ok\r\n"
		   "a2 OK [READ-WRITE] done\r\n"),
	};
	static const char *const want[] = {
		"greeting | st=0 u=- mb=- uv=- un=- ex=- caps=[IMAP4rev1 LITERAL+ AUTH=PLAIN]+auth tr=0 ch=4",
		"C LOGIN id=LOGIN mb=- mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- ex=- "
		"caps=[IMAP4rev1 LITERAL+ AUTH=PLAIN]+auth tr=0 ch=0",
		"S a1 OK id=LOGIN mb=- mb2=- seq=- it=- fl=- d=- m=- | st=1 u=alice mb=- uv=- un=- ex=- tr=0 ch=d",
		"login | st=1 u=alice mb=- uv=- un=- ex=- tr=0 ch=0",
		"C SELECT id=SELECT mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=1 u=alice mb=- uv=- un=- ex=- tr=0 ch=0",
		"* EXISTS | st=1 u=alice mb=- uv=- un=- ex=3 tr=0 ch=10",
		"* OK | st=1 u=alice mb=- uv=42 un=- ex=3 tr=0 ch=20",
		"* OK | st=1 u=alice mb=- uv=42 un=9 ex=3 tr=0 ch=40",
		"S a2 OK id=SELECT mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=2 u=alice mb=INBOX uv=42 un=9 "
		"ex=3 tr=0 ch=3",
	};

	(void)state;
	check(steps, N(steps), want, N(want));
}

/* Capabilities as they change: the greeting's, a CAPABILITY response, void
 * after a login, the new list of a tagged OK's code; PREAUTH. */
static void test_capabilities(void **state)
{
	static const struct step steps[] = {
		S_("* OK ready\r\n"),
		C_("a1 CAPABILITY\r\n"),
		S_("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK\r\n"),
		C_("a2 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
		S_("a2 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n"),
		C_("a3 LOGIN bob x\r\n"),
		S_("a3 BAD already\r\n"),
	};
	static const char *const want[] = {
		"greeting | st=0 u=- mb=- uv=- un=- ex=- tr=0 ch=0",
		"C CAPABILITY id=CAPABILITY mb=- mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- "
		"ex=- tr=0 ch=0",
		"* CAPABILITY | st=0 u=- mb=- uv=- un=- ex=- caps=[IMAP4rev1 AUTH=PLAIN]+auth tr=0 ch=4",
		"S a1 OK id=CAPABILITY mb=- mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- ex=- "
		"caps=[IMAP4rev1 AUTH=PLAIN]+auth tr=0 ch=0",
		"C AUTHENTICATE id=AUTHENTICATE mb=- mb2=- seq=- it=- fl=- d=- m=PLAIN | st=0 u=- mb=- "
		"uv=- un=- ex=- caps=[IMAP4rev1 AUTH=PLAIN]+auth tr=0 ch=0",
		"S a2 OK id=AUTHENTICATE mb=- mb2=- seq=- it=- fl=- d=- m=PLAIN | st=1 u=alice mb=- uv=- "
		"un=- ex=- caps=[IMAP4rev1 IDLE]+idle tr=0 ch=d",
		"login | st=1 u=alice mb=- uv=- un=- ex=- caps=[IMAP4rev1 IDLE]+idle tr=0 ch=0",
		"C LOGIN id=LOGIN mb=- mb2=- seq=- it=- fl=- d=- m=- | st=1 u=alice mb=- uv=- un=- ex=- "
		"caps=[IMAP4rev1 IDLE]+idle tr=0 ch=0",
		"S a3 BAD id=LOGIN mb=- mb2=- seq=- it=- fl=- d=- m=- | st=1 u=alice mb=- uv=- un=- ex=- "
		"caps=[IMAP4rev1 IDLE]+idle tr=0 ch=0",
	};
	static const struct step preauth[] = {
		S_("* PREAUTH [CAPABILITY IMAP4rev2] hi alice\r\n"),
		C_("a1 LOGOUT\r\n"),
		S_("* BYE bye\r\na1 OK\r\n"),
	};
	static const char *const want_preauth[] = {
		"greeting | st=1 u=- mb=- uv=- un=- ex=- caps=[IMAP4rev2] tr=0 ch=5",
		"C LOGOUT id=LOGOUT mb=- mb2=- seq=- it=- fl=- d=- m=- | st=1 u=- mb=- uv=- un=- ex=- "
		"caps=[IMAP4rev2] tr=0 lo ch=200",
		"* BYE | st=3 u=- mb=- uv=- un=- ex=- caps=[IMAP4rev2] tr=0 lo ch=1",
		"S a1 OK id=LOGOUT mb=- mb2=- seq=- it=- fl=- d=- m=- | st=3 u=- mb=- uv=- un=- ex=- "
		"caps=[IMAP4rev2] tr=0 lo ch=0",
	};

	(void)state;
	check(steps, N(steps), want, N(want));
	check(preauth, N(preauth), want_preauth, N(want_preauth));
}

/* After the OK to STARTTLS the capabilities said in clear are void, and the
 * transport changes. */
static void test_starttls_voids_caps(void **state)
{
	static const struct step steps[] = {
		S_("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n"),
		C_("a1 STARTTLS\r\n"),
		S_("a1 OK go\r\n"),
	};
	static const char *const want[] = {
		"greeting | st=0 u=- mb=- uv=- un=- ex=- caps=[IMAP4rev1 STARTTLS LOGINDISABLED] tr=0 ch=4",
		"C STARTTLS id=STARTTLS mb=- mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- ex=- "
		"caps=[IMAP4rev1 STARTTLS LOGINDISABLED] tr=0 ch=0",
		"S a1 OK id=STARTTLS mb=- mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- ex=- "
		"tr=0 ch=4",
		"tls | st=0 u=- mb=- uv=- un=- ex=- tr=1 ch=80",
	};

	(void)state;
	check(steps, N(steps), want, N(want));
}

/* The selected mailbox and what is known of it: EXISTS, EXPUNGE, VANISHED,
 * a read-only EXAMINE, a failed SELECT, CLOSE; FETCH facts. */
static void test_mailbox_facts(void **state)
{
	static const struct step steps[] = {
		S_("* PREAUTH hi\r\n"),
		C_("a1 SELECT \"Entw&APw-rfe\"\r\n"),
		S_("* 5 EXISTS\r\n* OK [UIDVALIDITY 7] x\r\na1 OK [READ-ONLY] done\r\n"),
		C_("a2 UID FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n"),
		S_("* 2 FETCH (UID 20 FLAGS (\\Seen) BODY[] {3}\r\nabc)\r\n* 3 EXPUNGE\r\n"
		   "* VANISHED 30:31\r\n* VANISHED (EARLIER) 1:9\r\na2 OK\r\n"),
		C_("a3 EXAMINE INBOX\r\n"),
		S_("* 9 EXISTS\r\na3 OK\r\n"),
		C_("a4 SELECT nope\r\n"),
		S_("a4 NO [NONEXISTENT] no\r\n"),
		C_("a5 SELECT INBOX\r\n"),
		S_("a5 OK\r\n"),
		C_("a6 CLOSE\r\n"),
		S_("a6 OK\r\n"),
	};
	static const char *const want[] = {
		"greeting | st=1 u=- mb=- uv=- un=- ex=- tr=0 ch=1",
		"C SELECT id=SELECT mb=Entw\xc3\xbcrfe mb2=- seq=- it=- fl=- d=- m=- | st=1 u=- mb=- uv=- "
		"un=- ex=- tr=0 ch=0",
		"* EXISTS | st=1 u=- mb=- uv=- un=- ex=5 tr=0 ch=10",
		"* OK | st=1 u=- mb=- uv=7 un=- ex=5 tr=0 ch=20",
		"S a1 OK id=SELECT mb=Entw\xc3\xbcrfe mb2=- seq=- it=- fl=- d=- m=- | st=2 u=- "
		"mb=Entw\xc3\xbcrfe ro uv=7 un=- ex=5 tr=0 ch=3",
		"C UID FETCH id=UID FETCH mb=- mb2=- seq=1:* it=UID FLAGS BODY.PEEK[] fl=- d=- m=- | st=2 "
		"u=- mb=Entw\xc3\xbcrfe ro uv=7 un=- ex=5 tr=0 ch=0",
		"* FETCH seq=2 uid=20 size=- fl=\\Seen BODY[]:3 | st=2 u=- mb=Entw\xc3\xbcrfe ro uv=7 un=- "
		"ex=5 tr=0 ch=0",
		"* EXPUNGE | st=2 u=- mb=Entw\xc3\xbcrfe ro uv=7 un=- ex=4 tr=0 ch=10",
		"* VANISHED | st=2 u=- mb=Entw\xc3\xbcrfe ro uv=7 un=- ex=2 tr=0 ch=10",
		"* VANISHED | st=2 u=- mb=Entw\xc3\xbcrfe ro uv=7 un=- ex=2 tr=0 ch=0",
		"S a2 OK id=UID FETCH mb=- mb2=- seq=1:* it=UID FLAGS BODY.PEEK[] fl=- d=- m=- | st=2 u=- "
		"mb=Entw\xc3\xbcrfe ro uv=7 un=- ex=2 tr=0 ch=0",
		"C EXAMINE id=EXAMINE mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=2 u=- mb=Entw\xc3\xbcrfe "
		"ro uv=- un=- ex=- tr=0 ch=30",
		"* EXISTS | st=2 u=- mb=Entw\xc3\xbcrfe ro uv=- un=- ex=9 tr=0 ch=10",
		"S a3 OK id=EXAMINE mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=2 u=- mb=INBOX ro uv=- "
		"un=- ex=9 tr=0 ch=2",
		"C SELECT id=SELECT mb=nope mb2=- seq=- it=- fl=- d=- m=- | st=2 u=- mb=INBOX ro uv=- un=- "
		"ex=- tr=0 ch=10",
		"S a4 NO id=SELECT mb=nope mb2=- seq=- it=- fl=- d=- m=- | st=1 u=- mb=- uv=- un=- ex=- "
		"tr=0 ch=3",
		"C SELECT id=SELECT mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=1 u=- mb=- uv=- un=- ex=- "
		"tr=0 ch=0",
		"S a5 OK id=SELECT mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=2 u=- mb=INBOX uv=- un=- "
		"ex=- tr=0 ch=3",
		"C CLOSE id=CLOSE mb=- mb2=- seq=- it=- fl=- d=- m=- | st=2 u=- mb=INBOX uv=- un=- ex=- "
		"tr=0 ch=0",
		"S a6 OK id=CLOSE mb=- mb2=- seq=- it=- fl=- d=- m=- | st=1 u=- mb=- uv=- un=- ex=- tr=0 "
		"ch=3",
	};

	(void)state;
	check(steps, N(steps), want, N(want));
}

/* A completion whose command was not captured points at no facts; a
 * SELECT's OK with no login seen still proves one (the inferred login
 * event), though the facts already say selected. */
static void test_uncaptured_and_inferred(void **state)
{
	static const struct step steps[] = {
		S_("* OK hi\r\n"),
		C_("a1 SELECT INBOX\r\n"),
		S_("a1 OK [READ-WRITE] done\r\nzz OK what\r\n"),
	};
	static const char *const want[] = {
		"greeting | st=0 u=- mb=- uv=- un=- ex=- tr=0 ch=0",
		"C SELECT id=SELECT mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- ex=- "
		"tr=0 ch=0",
		"S a1 OK id=SELECT mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=2 u=- mb=INBOX uv=- un=- "
		"ex=- tr=0 ch=3",
		"login inferred | st=2 u=- mb=INBOX uv=- un=- ex=- tr=0 ch=0",
		"S zz OK cmd=NULL | st=2 u=- mb=INBOX uv=- un=- ex=- tr=0 ch=0",
	};

	(void)state;
	check(steps, N(steps), want, N(want));
}

/* COMPRESS and UNAUTHENTICATE (RFC 8437) change their facts; every event,
 * notices and the session's start and end too, carries facts. */
static void test_compress_unauthenticate(void **state)
{
	static const struct step steps[] = {
		S_("* OK hi\r\n"),
		C_("a1 LOGIN alice x\r\n"),
		S_("a1 OK\r\n"),
		C_("a2 SELECT INBOX\r\n"),
		S_("a2 OK\r\n"),
		C_("a3 UNAUTHENTICATE\r\n"),
		S_("a3 OK [CAPABILITY IMAP4rev2] bye alice\r\n"),
		C_("??\r\n"),
		C_("a4 COMPRESS DEFLATE\r\n"),
		S_("a4 OK\r\n"),
	};
	static const char *const want[] = {
		"session_start | st=0 u=- mb=- uv=- un=- ex=- tr=0 ch=0",
		"greeting | st=0 u=- mb=- uv=- un=- ex=- tr=0 ch=0",
		"C LOGIN id=LOGIN mb=- mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- ex=- tr=0 "
		"ch=0",
		"S a1 OK id=LOGIN mb=- mb2=- seq=- it=- fl=- d=- m=- | st=1 u=alice mb=- uv=- un=- ex=- "
		"tr=0 ch=9",
		"login | st=1 u=alice mb=- uv=- un=- ex=- tr=0 ch=0",
		"C SELECT id=SELECT mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=1 u=alice mb=- uv=- un=- "
		"ex=- tr=0 ch=0",
		"S a2 OK id=SELECT mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=2 u=alice mb=INBOX uv=- "
		"un=- ex=- tr=0 ch=3",
		"C UNAUTHENTICATE id=UNAUTHENTICATE mb=- mb2=- seq=- it=- fl=- d=- m=- | st=2 u=alice "
		"mb=INBOX uv=- un=- ex=- tr=0 ch=0",
		"S a3 OK id=UNAUTHENTICATE mb=- mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- "
		"ex=- caps=[IMAP4rev2] tr=0 ch=f",
		"notice | st=0 u=- mb=- uv=- un=- ex=- caps=[IMAP4rev2] tr=0 ch=0",
		"C COMPRESS id=COMPRESS mb=- mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- ex=- "
		"caps=[IMAP4rev2] tr=0 ch=0",
		"S a4 OK id=COMPRESS mb=- mb2=- seq=- it=- fl=- d=- m=- | st=0 u=- mb=- uv=- un=- ex=- "
		"caps=[IMAP4rev2] tr=0 ch=0",
		/* COMPRESS belongs to the authenticated state (RFC 4978
		 * section 5): its OK proves a login the capture did not show */
		"login inferred | st=1 u=- mb=- uv=- un=- ex=- caps=[IMAP4rev2] tr=0 ch=1",
		"compress | st=1 u=- mb=- uv=- un=- ex=- caps=[IMAP4rev2] tr=0 z ch=100",
		"session_end | st=1 u=- mb=- uv=- un=- ex=- caps=[IMAP4rev2] tr=0 z ch=0",
	};
	struct rec r = { .all = true };

	(void)state;
	run(&r, steps, N(steps), false, NULL);
	expect(&r, want, N(want));
	rec_free(&r);
	r.all = true;
	run(&r, steps, N(steps), true, NULL);
	expect(&r, want, N(want));
	rec_free(&r);
}

/* The response gets the session's copy of its command's facts: a field
 * past the copy's cap is null there (the command event had it whole), and
 * every copy is charged to the budget and given back. */
static void test_pending_copies(void **state)
{
	static char cmd[8192 + 64], set[8192];
	struct step steps[3] = { S_("* PREAUTH hi\r\n") };
	struct mem_budget mb = { 0 };
	struct rec r = { 0 };
	size_t k = 0;

	(void)state;
	for (int i = 1; k < 5000; i++)
		k += (size_t)snprintf(set + k, sizeof set - k, "%s%d", i > 1 ? "," : "", 2 * i);
	snprintf(cmd, sizeof cmd, "a1 UID COPY %s Archive\r\n", set);
	steps[1] = (struct step){ DIR_C2S, cmd, strlen(cmd) };
	steps[2] = (struct step){ DIR_S2C, "a1 OK\r\n", 7 };
	run(&r, steps, 3, false, &mb);
	assert_int_equal(r.n, 3);
	assert_non_null(strstr(r.ev[1], set));
	assert_non_null(strstr(r.ev[2], "S a1 OK id=UID COPY mb=Archive mb2=- seq=- it=-"));
	assert_int_equal(mb.used, 0);
	rec_free(&r);
}

/* Memory refuses a command's copy: its completion still points at facts,
 * the id alone, and the SELECT selects a mailbox whose name is unknown.
 * The limit is searched for, since what fits depends on the build. */
static void test_pending_copy_refused(void **state)
{
	static const char *const lines[] = { "* PREAUTH hi\r\n", "a1 SELECT INBOX\r\n", "a1 OK\r\n" };
	static const enum stream_dir dirs[] = { DIR_S2C, DIR_C2S, DIR_S2C };
	const char *unkept = "S a1 OK id=SELECT mb=- mb2=- seq=- it=- fl=- d=- m=- | st=2 u=- mb=- ";
	const char *kept = "S a1 OK id=SELECT mb=INBOX mb2=- seq=- it=- fl=- d=- m=- | st=2 u=- "
			   "mb=INBOX ";
	bool seen_unkept = false, seen_kept = false;

	(void)state;
	for (size_t limit = 256; limit < 512 * 1024 && !seen_kept; limit += 8) {
		struct mem_budget mb = { .limit = limit };
		struct imap_session_config cfg = { .out = { &rec_ops, NULL }, .budget = &mb };
		struct imap_session_info info = { .id = 7, .client = "c", .server = "s" };
		struct imap_session *s;
		struct rec r = { 0 };

		cfg.out.ctx = &r;
		if ((s = imap_session_new(&cfg, &info)) == NULL)
			continue;
		for (size_t i = 0; i < N(lines); i++)
			imap_session_ops.feed(s, dirs[i], (const uint8_t *)lines[i], strlen(lines[i]), 2);
		imap_session_ops.end(s, END_FIN, 3);
		assert_int_equal(mb.used, 0);
		for (size_t i = 0; i < r.n; i++) {
			seen_unkept |= strncmp(r.ev[i], unkept, strlen(unkept)) == 0;
			seen_kept |= strncmp(r.ev[i], kept, strlen(kept)) == 0;
		}
		rec_free(&r);
	}
	assert_true(seen_unkept);
	assert_true(seen_kept);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_literal_mailbox),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_starttls_voids_caps),
		cmocka_unit_test(test_mailbox_facts),
		cmocka_unit_test(test_uncaptured_and_inferred),
		cmocka_unit_test(test_compress_unauthenticate),
		cmocka_unit_test(test_pending_copies),
		cmocka_unit_test(test_pending_copy_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
