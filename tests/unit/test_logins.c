/* --logins audit flags: brute force from the threshold-th failure within
 * the window (and not outside it), cleartext despite STARTTLS, LOGIN
 * despite LOGINDISABLED; the table shows them too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "report/logins.h"

#define T0 1795255200000000LL	/* 2026-11-21T10:00:00Z */
#define SEC 1000000LL
#define MAX_EVENTS 256
#define SL(s) ((struct buf_slice){ (const uint8_t *)(s), strlen(s) })
#define SESSIONS 16		/* session ids of a script, mod this */
#define CAP(x) (1ull << IMAP_CAP_##x)

/* Events as a session makes them: each points at the session's facts as
 * they were after it (a copy per event) and a command at its own facts. */
struct script {
	struct event ev[MAX_EVENTS];
	char client[MAX_EVENTS][48];
	struct session_facts facts[MAX_EVENTS];
	struct command_facts cmd[MAX_EVENTS];
	struct session_facts cur[SESSIONS];	/* the sessions' facts now */
	size_t n;
};

/* The capabilities in force in session sess from the next event on:
 * caps, or none known (void, as after STARTTLS or a login) when 0. */
static void set_caps(struct script *sc, uint64_t sess, uint64_t caps)
{
	struct imap_capset *c = &sc->cur[sess % SESSIONS].caps;

	c->known = caps != 0;
	c->caps = caps;
}

static struct event *add(struct script *sc, enum event_type t, uint64_t session, int64_t ts,
			 const char *client)
{
	struct event *e;

	assert_true(sc->n < MAX_EVENTS);
	e = &sc->ev[sc->n];
	memset(e, 0, sizeof *e);
	snprintf(sc->client[sc->n], sizeof sc->client[sc->n], "%s", client);
	e->type = t;
	e->session = session;
	e->ts_us = ts;
	e->client = sc->client[sc->n];
	e->server = "192.0.2.2:143";
	sc->facts[sc->n] = sc->cur[session % SESSIONS];
	e->facts = &sc->facts[sc->n];
	memset(&sc->cmd[sc->n], 0, sizeof sc->cmd[sc->n]);
	if (t == EV_COMMAND)
		e->u.command.facts = &sc->cmd[sc->n];
	sc->n++;
	return e;
}

/* A capability list from the server, as the event that carries it (a
 * greeting's code, an untagged CAPABILITY or OK, a tagged reply's code),
 * with the session's facts holding caps from this event on. */
static void caps_list(struct script *sc, enum event_type t, uint64_t sess, int64_t ts,
		      const char *client, uint64_t caps, const char *text)
{
	struct event *e;

	set_caps(sc, sess, caps);
	e = add(sc, t, sess, ts, client);
	e->changed = FACT_CAPS;
	if (t == EV_GREETING) {
		e->u.greeting.status = SL("OK");
		e->u.greeting.code = SL(text);
	} else if (t == EV_RESPONSE) {
		e->u.response.status = SL("OK");
		e->u.response.code = SL(text);
	} else {
		e->u.untagged.name = SL(strncmp(text, "OK", 2) == 0 ? "OK" : "CAPABILITY");
		e->u.untagged.text = SL(text);
	}
}

static void login(struct script *sc, uint64_t sess, int64_t ts, const char *client,
		  const char *user, enum login_result r, const char *tag, const char *mech)
{
	struct event *e = add(sc, EV_LOGIN, sess, ts, client);

	e->u.login.user = user != NULL ? SL(user) : SLICE_NULL;
	e->u.login.mechanism = SL(mech);
	e->u.login.result = r;
	e->u.login.tag = SL(tag);
	e->u.login.cleartext_secret = true;
	if (r == LOGIN_FAIL) {
		e->u.login.code = SL("AUTHENTICATIONFAILED");
		e->u.login.text = SL("Invalid credentials");
	}
}

static void command(struct script *sc, uint64_t sess, int64_t ts, const char *tag,
		    const char *name, enum imap_cmd_id id)
{
	struct event *e = add(sc, EV_COMMAND, sess, ts, "192.0.2.1:5000");

	e->u.command.tag = SL(tag);
	e->u.command.name = SL(name);
	e->u.command.args = SL("x ***");
	sc->cmd[sc->n - 1].id = id;
}

static char *run(const struct script *sc, bool json, const struct logins_opts *opts,
		 size_t *len_r)
{
	struct output out;
	char *data = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&data, &len);

	assert_non_null(fp);
	assert_int_equal(output_logins_new2(&out, fp, json, opts), 0);
	for (i = 0; i < sc->n; i++)
		out.ops->event(out.ctx, &sc->ev[i]);
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
	*len_r = len;
	return data;
}

/* The flags of every row, as "b.." strings: one letter per flag set
 * (b brute_force, c cleartext_despite_starttls, l login_despite_...),
 * checked against the booleans and the list. */
static size_t row_flags(const char *data, size_t len, char out[][8], size_t max)
{
	const char *p = data, *end = data + len;
	size_t n = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct json_object *o, *v, *list;
		size_t k = 0, i;
		static const char *const names[] = { "brute_force", "cleartext_despite_starttls",
						     "login_despite_logindisabled" };

		assert_non_null(nl);
		assert_true(n < max);
		o = json_tokener_parse(p);	/* stops at the newline */
		assert_non_null(o);
		/* the roll-up comes last: not a row */
		if (json_object_object_get_ex(o, "type", &v) &&
		    strcmp(json_object_get_string(v), "login_summary") == 0) {
			json_object_put(o);
			p = nl + 1;
			continue;
		}
		assert_true(json_object_object_get_ex(o, "flags", &list));
		assert_true(json_object_is_type(list, json_type_array));
		for (i = 0; i < 3; i++) {
			bool in_list = false;
			size_t j;

			assert_true(json_object_object_get_ex(o, names[i], &v));
			for (j = 0; j < json_object_array_length(list); j++)
				in_list |= strcmp(json_object_get_string(
						  json_object_array_get_idx(list, j)), names[i]) == 0;
			assert_int_equal(json_object_get_boolean(v), in_list);
			if (in_list)
				out[n][k++] = "bcl"[i];
		}
		out[n][k] = '\0';
		json_object_put(o);
		n++;
		p = nl + 1;
	}
	return n;
}

/* Failures from one address (several ports, users, sessions): flagged from
 * the 5th within 300 s on, and a success right after is flagged too. */
static void test_logins_brute_client(void **state)
{
	static struct script sc;
	char f[16][8];
	char client[32];
	const char *users[] = { "a", "b", "c", "d", "e" };
	size_t len, n, i;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	for (i = 0; i < 5; i++) {
		snprintf(client, sizeof client, "198.51.100.9:%zu", 40000 + i);
		login(&sc, i + 1, T0 + (int64_t)i * 60 * SEC, client, users[i], LOGIN_FAIL, "a1",
		      "LOGIN");
	}
	login(&sc, 6, T0 + 250 * SEC, "198.51.100.9:41000", "f", LOGIN_OK, "a1", "LOGIN");
	/* another address is not affected */
	login(&sc, 7, T0 + 251 * SEC, "198.51.100.10:41000", "g", LOGIN_FAIL, "a1", "LOGIN");
	data = run(&sc, true, NULL, &len);
	n = row_flags(data, len, f, 16);
	assert_int_equal(n, 7);
	for (i = 0; i < 4; i++)
		assert_string_equal(f[i], "");
	assert_string_equal(f[4], "b");
	assert_string_equal(f[5], "b");
	assert_string_equal(f[6], "");
	assert_non_null(strstr(data, "\"brute_force_by\":[\"client\"]"));
	free(data);
}

/* Under --max-memory: with no budget left every row is still printed, only
 * without the failure history (so no brute-force flag); the memory charged
 * returns to 0 when the output is freed, whatever the limit. */
static void test_logins_budget(void **state)
{
	static struct script sc;
	struct mem_budget mb = { .limit = 1 };	/* limit 0 is no limit */
	struct logins_opts opts = { 0, 0, &mb, false };
	char f[16][8];
	size_t len, n, i, limit, full;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	command(&sc, 1, T0, "a1", "LOGIN", IMAP_CMD_LOGIN);
	for (i = 0; i < 6; i++)
		login(&sc, i + 1, T0 + (int64_t)i * SEC, "198.51.100.9:40000", "u", LOGIN_FAIL,
		      "a1", "LOGIN");
	data = run(&sc, true, &opts, &len);
	n = row_flags(data, len, f, 16);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++)
		assert_string_equal(f[i], "");
	assert_true(mb.refused > 0);
	assert_int_equal(mb.used, 0);
	free(data);

	mb = (struct mem_budget){ .limit = SIZE_MAX };
	data = run(&sc, true, &opts, &len);
	assert_int_equal(row_flags(data, len, f, 16), 6);
	assert_string_equal(f[4], "b");
	assert_int_equal(mb.refused, 0);
	assert_int_equal(mb.used, 0);
	full = mb.peak;
	assert_true(full > 0);
	free(data);

	for (limit = 1; limit <= full; limit += 8) {
		mb = (struct mem_budget){ .limit = limit };
		data = run(&sc, true, &opts, &len);
		assert_int_equal(row_flags(data, len, f, 16), 6);
		assert_true(mb.peak <= limit);
		assert_int_equal(mb.used, 0);
		free(data);
	}
}

/* The window is inclusive: 5 failures spanning exactly 300 s count; spanning
 * 400 s they do not, however many follow at that pace. */
static void test_logins_brute_window(void **state)
{
	static struct script sc;
	char f[16][8];
	size_t len, n, i;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	for (i = 0; i < 8; i++)
		login(&sc, 1, T0 + (int64_t)i * 100 * SEC, "198.51.100.9:40000", NULL, LOGIN_FAIL,
		      "a", "PLAIN");
	data = run(&sc, true, NULL, &len);
	n = row_flags(data, len, f, 16);
	assert_int_equal(n, 8);
	for (i = 0; i < n; i++)
		assert_string_equal(f[i], "");
	free(data);
	sc.n = 0;
	for (i = 0; i < 6; i++)
		login(&sc, 1, T0 + (int64_t)i * 75 * SEC, "198.51.100.9:40000", NULL, LOGIN_FAIL,
		      "a", "PLAIN");
	data = run(&sc, true, NULL, &len);
	n = row_flags(data, len, f, 16);
	assert_int_equal(n, 6);
	assert_string_equal(f[3], "");
	assert_string_equal(f[4], "b");
	assert_string_equal(f[5], "b");
	free(data);
}

/* Password guessing against one user from many addresses, with a custom
 * threshold and window. */
static void test_logins_brute_user_opts(void **state)
{
	static struct script sc;
	const struct logins_opts opts = { 3, 10 * SEC, NULL, false };
	static const int64_t at[] = { 0, 4, 8, 20, 21 };
	char f[16][8], client[32];
	size_t len, n, i;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	for (i = 0; i < 5; i++) {
		snprintf(client, sizeof client, "203.0.113.%zu:1000", i + 1);
		login(&sc, i + 1, T0 + at[i] * SEC, client, "alice", LOGIN_FAIL, "a", "LOGIN");
	}
	data = run(&sc, true, &opts, &len);
	n = row_flags(data, len, f, 16);
	assert_int_equal(n, 5);
	assert_string_equal(f[0], "");
	assert_string_equal(f[1], "");
	assert_string_equal(f[2], "b");		/* 0, 4, 8 s: within 10 s */
	assert_string_equal(f[3], "");		/* 4, 8, 20 s: not */
	assert_string_equal(f[4], "");		/* 8, 20, 21 s: not */
	assert_non_null(strstr(data, "\"brute_force_by\":[\"user\"]"));
	free(data);
}

/* The failure table at LOGINS_TRACK_MAX users: a new user is not tracked
 * while every key is inside the window, and is once the old ones have left
 * it (they expire from the old end, one step per key dropped).  One client
 * throughout, so only the "user" half of brute_force_by is in question. */
static void test_logins_track_max(void **state)
{
	const struct logins_opts opts = { 2, 10 * SEC, NULL, false };
	struct output out;
	struct event ev;
	char *data = NULL, user[32], *last;
	size_t len = 0;
	FILE *fp = open_memstream(&data, &len);
	static const struct { const char *user; int64_t at; bool flagged; } probe[] = {
		{ "victim", 1 * SEC, false },	/* the table is full */
		{ "victim2", 20 * SEC, true },	/* the first keys expired */
	};

	(void)state;
	assert_non_null(fp);
	assert_int_equal(output_logins_new2(&out, fp, true, &opts), 0);
	memset(&ev, 0, sizeof ev);
	ev.type = EV_LOGIN;
	ev.session = 1;
	ev.client = "192.0.2.1:5000";
	ev.server = "192.0.2.2:143";
	ev.u.login.mechanism = SL("LOGIN");
	ev.u.login.tag = SL("a");
	ev.u.login.result = LOGIN_FAIL;
	for (int i = 0; i < LOGINS_TRACK_MAX; i++) {
		snprintf(user, sizeof user, "user%d", i);
		ev.ts_us = T0 + i;
		ev.u.login.user = SL(user);
		out.ops->event(out.ctx, &ev);
	}
	for (size_t p = 0; p < 2; p++) {
		for (int k = 0; k < 2; k++) {
			ev.ts_us = T0 + probe[p].at + k;
			ev.u.login.user = SL(probe[p].user);
			out.ops->event(out.ctx, &ev);
		}
		assert_non_null(out.ops->flush);
		out.ops->flush(out.ctx);
		fflush(fp);
		data[len - 1] = '\0';
		last = strrchr(data, '\n');
		assert_non_null(last);
		assert_true(strstr(last, probe[p].user) != NULL);
		assert_int_equal(strstr(last, "\"brute_force_by\":[\"client\",\"user\"]") != NULL,
				 probe[p].flagged);
		data[len - 1] = '\n';
	}
	assert_int_equal(out.ops->finish(out.ctx), 0);
	out.ops->free(out.ctx);
	fclose(fp);
	free(data);
}

/* STARTTLS advertised in the greeting, then a password in the clear. */
static void test_logins_cleartext_despite_starttls(void **state)
{
	static struct script sc;
	char f[8][8];
	size_t len, n;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	caps_list(&sc, EV_GREETING, 1, T0, "192.0.2.1:5000",
		  CAP(IMAP4REV1) | CAP(STARTTLS),
		  "CAPABILITY IMAP4rev1 starttls AUTH=PLAIN");
	set_caps(&sc, 1, 0);	/* void after the login */
	login(&sc, 1, T0 + 1, "192.0.2.1:5000", "u", LOGIN_OK, "a1", "PLAIN");
	/* no STARTTLS from this server: no flag */
	caps_list(&sc, EV_GREETING, 2, T0 + 2, "192.0.2.1:5001",
		  CAP(IMAP4REV1),
		  "CAPABILITY IMAP4rev1 AUTH=PLAIN");
	login(&sc, 2, T0 + 3, "192.0.2.1:5001", "u", LOGIN_OK, "a1", "PLAIN");
	/* advertised in an untagged CAPABILITY, secret not in clear: no flag */
	caps_list(&sc, EV_UNTAGGED, 3, T0 + 4, "192.0.2.1:5002",
		  CAP(IMAP4REV1) | CAP(STARTTLS),
		  "CAPABILITY IMAP4rev1 STARTTLS");
	login(&sc, 3, T0 + 5, "192.0.2.1:5002", "u", LOGIN_OK, "a1", "CRAM-MD5");
	sc.ev[sc.n - 1].u.login.cleartext_secret = false;
	/* advertised as a response code of an earlier reply */
	caps_list(&sc, EV_RESPONSE, 4, T0 + 6, "192.0.2.1:5003",
		  CAP(IMAP4REV1) | CAP(STARTTLS),
		  "CAPABILITY IMAP4rev1 STARTTLS");
	/* then a list without it: offered once is enough */
	caps_list(&sc, EV_UNTAGGED, 4, T0 + 6, "192.0.2.1:5003",
		  CAP(IMAP4REV1),
		  "CAPABILITY IMAP4rev1");
	login(&sc, 4, T0 + 7, "192.0.2.1:5003", "u", LOGIN_OK, "a1", "LOGIN");
	data = run(&sc, true, NULL, &len);
	n = row_flags(data, len, f, 8);
	assert_int_equal(n, 4);
	assert_string_equal(f[0], "c");
	assert_string_equal(f[1], "");
	assert_string_equal(f[2], "");
	assert_string_equal(f[3], "c");
	free(data);
}

/* LOGINDISABLED: the LOGIN command is flagged, AUTHENTICATE is not, and a
 * TLS start voids the old capability list. */
static void test_logins_logindisabled(void **state)
{
	static struct script sc;
	char f[8][8];
	struct event *e;
	size_t len, n;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	caps_list(&sc, EV_UNTAGGED, 1, T0, "192.0.2.1:5000",
		  CAP(IMAP4REV1) | CAP(STARTTLS) | CAP(LOGINDISABLED),
		  "OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi");
	command(&sc, 1, T0 + 1, "a1", "LOGIN", IMAP_CMD_LOGIN);
	login(&sc, 1, T0 + 2, "192.0.2.1:5000", "u", LOGIN_FAIL, "a1", "LOGIN");
	command(&sc, 1, T0 + 3, "a2", "AUTHENTICATE", IMAP_CMD_AUTHENTICATE);
	login(&sc, 1, T0 + 4, "192.0.2.1:5000", "u", LOGIN_FAIL, "a2", "LOGIN");
	set_caps(&sc, 1, 0);
	e = add(&sc, EV_TLS, 1, T0 + 5, "192.0.2.1:5000");
	e->u.tls.phase = "starttls";
	command(&sc, 1, T0 + 6, "a3", "LOGIN", IMAP_CMD_LOGIN);
	login(&sc, 1, T0 + 7, "192.0.2.1:5000", "u", LOGIN_OK, "a3", "LOGIN");
	sc.ev[sc.n - 1].u.login.cleartext_secret = false;
	/* state ends with the session */
	caps_list(&sc, EV_UNTAGGED, 2, T0 + 8, "192.0.2.1:5001",
		  CAP(IMAP4REV1) | CAP(LOGINDISABLED),
		  "CAPABILITY IMAP4rev1 LOGINDISABLED");
	command(&sc, 2, T0 + 9, "a1", "LOGIN", IMAP_CMD_LOGIN);
	add(&sc, EV_SESSION_END, 2, T0 + 10, "192.0.2.1:5001");
	login(&sc, 2, T0 + 11, "192.0.2.1:5001", "v", LOGIN_OK, "a1", "LOGIN");
	data = run(&sc, true, NULL, &len);
	n = row_flags(data, len, f, 8);
	assert_int_equal(n, 4);
	assert_string_equal(f[0], "cl");
	assert_string_equal(f[1], "c");
	assert_string_equal(f[2], "");
	assert_string_equal(f[3], "");
	free(data);
}

/* The table: a FLAGS column, "-" when none. */
static void test_logins_table_flags(void **state)
{
	static struct script sc;
	const struct logins_opts opts = { 1, SEC, NULL, false };
	size_t len;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	login(&sc, 1, T0, "192.0.2.1:5000", "u", LOGIN_OK, "a1", "LOGIN");
	login(&sc, 1, T0 + 1, "192.0.2.1:5000", "u", LOGIN_FAIL, "a2", "LOGIN");
	data = run(&sc, false, &opts, &len);
	assert_non_null(strstr(data, " TRANSPORT FLAGS RESPONSE\n"));
	assert_non_null(strstr(data, " ok      plain     C\n"));	/* no trailing blanks */
	assert_non_null(strstr(data, " FAIL    plain     BC    Invalid credentials\n"));
	assert_non_null(strstr(data, "\nflags: B brute force, C secret sent in cleartext\n"));
	free(data);
}

/* A cancelled SASL exchange is "aborted": shown, and never a failure for
 * the brute-force count. */
static void test_logins_aborted(void **state)
{
	static struct script sc;
	const struct logins_opts opts = { 2, 60 * SEC, NULL, false };
	char f[8][8];
	size_t len, n, i;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	for (i = 0; i < 4; i++)
		login(&sc, 1, T0 + (int64_t)i, "192.0.2.1:5000", NULL, LOGIN_ABORTED, "a1", "PLAIN");
	login(&sc, 1, T0 + 5, "192.0.2.1:5000", "u", LOGIN_FAIL, "a2", "LOGIN");
	data = run(&sc, true, &opts, &len);
	n = row_flags(data, len, f, 8);
	assert_int_equal(n, 5);
	for (i = 0; i < n; i++)
		assert_string_equal(f[i], "");
	assert_non_null(strstr(data, "\"result\":\"aborted\""));
	free(data);
	data = run(&sc, false, &opts, &len);
	assert_non_null(strstr(data, " PLAIN     aborted plain "));
	free(data);
}

/* The identity asked for beside the user; a login the server's answers
 * proved, with what proved it and no mechanism. */
static void test_logins_authzid_inferred(void **state)
{
	static struct script sc;
	struct event *e;
	size_t len;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	login(&sc, 1, T0, "192.0.2.1:5000", "lowpriv", LOGIN_OK, "a1", "PLAIN");
	sc.ev[0].u.login.authzid = SL("admin");
	e = add(&sc, EV_LOGIN, 2, T0 + SEC, "192.0.2.1:5001");
	e->u.login.result = LOGIN_OK;
	e->u.login.tag = SL("C3");
	e->u.login.text = SL("LOGIN completed");
	e->u.login.inferred = true;
	e->u.login.evidence = SL("C3 OK LOGIN completed");
	data = run(&sc, true, NULL, &len);
	assert_non_null(strstr(data, "\"user\":\"lowpriv\",\"authzid\":\"admin\""));
	assert_non_null(strstr(data, "\"user\":null,\"authzid\":null,\"mechanism\":null"));
	assert_non_null(strstr(data, "\"inferred\":true,\"evidence\":\"C3 OK LOGIN completed\""));
	assert_non_null(strstr(data, "\"inferred\":false"));
	free(data);
	data = run(&sc, false, NULL, &len);
	/* cut to the column, with a marker */
	assert_non_null(strstr(data, " lowpriv (as adm\xe2\x80\xa6 PLAIN     ok "));
	assert_non_null(strstr(data, " -                ?         ok      plain     -     inferred from: C3 OK \xe2\x80\xa6\n"));
	free(data);
	/* the roll-up: per user (a login with no user has no row), per client */
	data = run(&sc, true, NULL, &len);
	assert_non_null(strstr(data, "\"type\":\"login_summary\",\"by\":\"user\",\"key\":\"lowpriv\","
				     "\"attempts\":1,\"failures\":0,"));
	assert_non_null(strstr(data, "\"by\":\"client\",\"key\":\"192.0.2.1\",\"attempts\":2,"));
	free(data);
}

/* LOGINDISABLED is judged by the capabilities in force when LOGIN was
 * sent: an answer that brings a new list without it (Dovecot's "OK
 * [CAPABILITY ...] Logged in", or an untagged CAPABILITY before the OK)
 * does not clear it; the old text scan read that new list and did not
 * flag the login.  An AUTHENTICATE sent later is never flagged. */
static void test_logins_logindisabled_when_sent(void **state)
{
	static struct script sc;
	char f[8][8];
	size_t len, n;
	char *data;

	(void)state;
	memset(&sc, 0, sizeof sc);
	caps_list(&sc, EV_GREETING, 1, T0, "192.0.2.1:5000",
		  CAP(IMAP4REV1) | CAP(LOGINDISABLED),
		  "CAPABILITY IMAP4rev1 LOGINDISABLED");
	command(&sc, 1, T0 + 1, "a1", "LOGIN", IMAP_CMD_LOGIN);
	caps_list(&sc, EV_UNTAGGED, 1, T0 + 2, "192.0.2.1:5000",
		  CAP(IMAP4REV1) | CAP(IDLE),
		  "CAPABILITY IMAP4rev1 IDLE");
	caps_list(&sc, EV_RESPONSE, 1, T0 + 3, "192.0.2.1:5000", CAP(IMAP4REV1) | CAP(IDLE),
		  "CAPABILITY IMAP4rev1 IDLE");
	login(&sc, 1, T0 + 1, "192.0.2.1:5000", "u", LOGIN_OK, "a1", "LOGIN");
	/* another session: LOGINDISABLED, but AUTHENTICATE */
	set_caps(&sc, 2, CAP(IMAP4REV1) | CAP(LOGINDISABLED));
	command(&sc, 2, T0 + 4, "a1", "AUTHENTICATE", IMAP_CMD_AUTHENTICATE);
	login(&sc, 2, T0 + 5, "192.0.2.1:5001", "u", LOGIN_OK, "a1", "LOGIN");
	data = run(&sc, true, NULL, &len);
	n = row_flags(data, len, f, 8);
	assert_int_equal(n, 2);
	assert_string_equal(f[0], "l");
	assert_string_equal(f[1], "");
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logins_brute_client),
		cmocka_unit_test(test_logins_brute_window),
		cmocka_unit_test(test_logins_brute_user_opts),
		cmocka_unit_test(test_logins_track_max),
		cmocka_unit_test(test_logins_cleartext_despite_starttls),
		cmocka_unit_test(test_logins_logindisabled),
		cmocka_unit_test(test_logins_logindisabled_when_sent),
		cmocka_unit_test(test_logins_table_flags),
		cmocka_unit_test(test_logins_budget),
		cmocka_unit_test(test_logins_aborted),
		cmocka_unit_test(test_logins_authzid_inferred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
