/* --html: the script-safe JSON strings, and the page's data from scripted
 * events: the ladder's caps and what passes them, untagged responses
 * grouped, latency per command, and a whole page under a budget that
 * refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "report/html.h"

#define S(lit) ((struct buf_slice){ (const uint8_t *)(lit), sizeof(lit) - 1 })
#define T0 1795255200000000LL

static char *js(const char *in, size_t n, bool made)
{
	struct buf b;
	char *r;

	buf_init(&b, 4096, NULL);
	assert_int_equal(html_json_string(&b, (const uint8_t *)in, n, made), 0);
	r = strndup((const char *)b.data, b.len);
	buf_free(&b);
	return r;
}

static void test_json_string(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "</script>", "\\u003c/script\\u003e" },
		{ "a&b<!--", "a\\u0026b\\u003c!--" },
		{ "\"><img onerror=x>", "\\\"\\u003e\\u003cimg onerror=x\\u003e" },
		{ "<<>>", "\\u003c\\u003c\\u003e\\u003e" },
		{ "\\x", "\\\\x5cx" },
		{ "caf\xc3\xa9<", "caf\xc3\xa9\\u003c" },
		{ "\xff<", "\\\\xff\\u003c" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = js(cases[i].in, strlen(cases[i].in), false);

		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

/* U+2028 and U+2029 never reach the page raw (an old JavaScript parser
 * took them for line ends): escape_json shows them as \u{2028}, and the
 * rewrite would catch one that slipped past. */
static void test_json_string_separators(void **state)
{
	char *got = js("a\xe2\x80\xa8" "b\xe2\x80\xa9<", 9, true);

	(void)state;
	assert_null(strstr(got, "\xe2\x80"));
	assert_non_null(strstr(got, "u{2028}"));
	assert_non_null(strstr(got, "u{2029}"));
	assert_non_null(strstr(got, "\\u003c"));
	free(got);
}

/* ---- scripted events ---- */

struct feed {
	struct output out;
	struct session_facts facts;
	struct command_facts cmd;
	char *page;
	size_t size;
	FILE *fp;
};

static void feed_open_opts(struct feed *f, const struct html_opts *o);

static void feed_open(struct feed *f, struct mem_budget *mb)
{
	struct html_opts o = { .budget = mb };

	feed_open_opts(f, &o);
}

static void feed_open_opts(struct feed *f, const struct html_opts *o)
{

	memset(f, 0, sizeof *f);
	f->fp = open_memstream(&f->page, &f->size);
	assert_non_null(f->fp);
	assert_int_equal(output_html_new(&f->out, f->fp, o), 0);
}

static struct event ev_make(struct feed *f, enum event_type t, int64_t ts)
{
	struct event e;

	memset(&e, 0, sizeof e);
	e.type = t;
	e.ts_us = T0 + ts;
	e.session = 1;
	e.client = "192.0.2.1:50000";
	e.server = "192.0.2.2:143";
	e.facts = &f->facts;
	if (t == EV_COMMAND)
		e.u.command.facts = &f->cmd;
	return e;
}

static void send_ev(struct feed *f, const struct event *e)
{
	f->out.ops->event(f->out.ctx, e);
}

static void cmd_and_ok(struct feed *f, int64_t ts, double ms, const char *status)
{
	struct event e = ev_make(f, EV_COMMAND, ts);

	e.u.command.tag = S("a1");
	e.u.command.name = S("NOOP");
	e.u.command.args = S("");
	send_ev(f, &e);
	e = ev_make(f, EV_RESPONSE, ts + (int64_t)(ms * 1000));
	e.u.response.tag = S("a1");
	e.u.response.status = (struct buf_slice){ (const uint8_t *)status, strlen(status) };
	e.u.response.id = status[0] == 'O' ? IMAP_R_OK : IMAP_R_NO;
	e.u.response.command = S("NOOP");
	e.u.response.latency_ms = ms;
	send_ev(f, &e);
}

/* The page's JSON, parsed. */
static json_object *feed_finish(struct feed *f)
{
	const char *open_tag = "id=\"imapscope-data\">", *a, *z;
	json_object *d;
	char *data;

	assert_int_equal(f->out.ops->finish(f->out.ctx), 0);
	f->out.ops->free(f->out.ctx);
	a = strstr(f->page, open_tag);
	assert_non_null(a);
	a += strlen(open_tag);
	z = strstr(a, "</script>");
	assert_non_null(z);
	data = strndup(a, (size_t)(z - a));
	assert_null(strchr(data, '<'));
	d = json_tokener_parse(data);
	assert_non_null(d);
	free(data);
	assert_non_null(strstr(z, "</html>"));
	free(f->page);
	return d;
}

static json_object *get(json_object *o, const char *path)
{
	char key[64];

	while (*path != '\0') {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof key, "%.*s", (int)n, path);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		else
			assert_true(json_object_object_get_ex(o, key, &o));
		path += n + (path[n] == '.');
	}
	return o;
}

static int count_kind(json_object *ladder, const char *kind)
{
	int n = 0;

	for (size_t i = 0; i < json_object_array_length(ladder); i++)
		n += strcmp(json_object_get_string(get(json_object_array_get_idx(ladder, i), "k")),
			    kind) == 0;
	return n;
}

/* Past HTML_LADDER_EVENTS only the rare kinds are drawn, up to
 * HTML_LADDER_EXTRA; the rest are counted, and every completion still
 * counts in the latency of its command. */
static void test_ladder_caps(void **state)
{
	struct feed f;
	struct event e;
	json_object *d, *s, *ladder;
	int pairs = HTML_LADDER_EVENTS;	/* 2 entries each: twice the cap */

	(void)state;
	feed_open(&f, NULL);
	e = ev_make(&f, EV_SESSION_START, 0);
	send_ev(&f, &e);
	for (int i = 0; i < pairs; i++)
		cmd_and_ok(&f, 1000 + i * 10000, i == 7 ? 50.0 : 1.0, i % 50 == 49 ? "NO" : "OK");
	e = ev_make(&f, EV_TLS, 9000000);
	e.u.tls.phase = "starttls";
	e.u.tls.decrypted = true;
	send_ev(&f, &e);
	e = ev_make(&f, EV_SESSION_END, 9000001);
	send_ev(&f, &e);
	d = feed_finish(&f);
	s = get(d, "sessions.0");
	ladder = get(s, "ladder");
	/* the first pairs; then the NO answers and the TLS */
	assert_int_equal(count_kind(ladder, "command"), HTML_LADDER_EVENTS / 2);
	assert_int_equal(count_kind(ladder, "tls"), 1);
	assert_int_equal(count_kind(ladder, "response"),
			 HTML_LADDER_EVENTS / 2 + (pairs - HTML_LADDER_EVENTS / 2) / 50);
	assert_int_equal(json_object_get_int64(get(s, "omitted")) +
			 (int64_t)json_object_array_length(ladder), 2 * pairs + 1);
	assert_int_equal(json_object_get_int64(get(s, "commands")), pairs);
	assert_int_equal(json_object_get_int64(get(s, "no")), pairs / 50);
	assert_string_equal(json_object_get_string(get(s, "max_cmd")), "NOOP");
	assert_true(json_object_get_double(get(s, "max_ms")) == 50.0);
	assert_string_equal(json_object_get_string(get(s, "outcome")), "errors");
	assert_int_equal(json_object_get_int64(get(d, "commands.0.timed")), pairs);
	assert_int_equal(json_object_get_int64(get(d, "completions_timed")), pairs);
	assert_int_equal(json_object_array_length(get(d, "latency")), pairs);
	json_object_put(d);
}

/* Untagged responses of one name in a row are one entry, with their count
 * and literal bytes; another name starts the next. */
static void test_untagged_grouped(void **state)
{
	struct feed f;
	struct event e;
	json_object *d, *ladder;

	(void)state;
	feed_open(&f, NULL);
	for (int i = 0; i < 5; i++) {
		e = ev_make(&f, EV_UNTAGGED, i);
		e.u.untagged.name = S("FETCH");
		e.u.untagged.literal_bytes = 100;
		send_ev(&f, &e);
	}
	e = ev_make(&f, EV_UNTAGGED, 9);
	e.u.untagged.name = S("EXISTS");
	send_ev(&f, &e);
	d = feed_finish(&f);
	ladder = get(d, "sessions.0.ladder");
	assert_int_equal(json_object_array_length(ladder), 2);
	assert_int_equal(json_object_get_int64(get(ladder, "0.n")), 5);
	assert_int_equal(json_object_get_int64(get(ladder, "0.lit")), 500);
	assert_int_equal(json_object_get_int64(get(ladder, "0.t1")), 4);
	assert_string_equal(json_object_get_string(get(ladder, "1.name")), "EXISTS");
	assert_int_equal(json_object_get_int64(get(d, "sessions.0.untagged")), 6);
	json_object_put(d);
}

/* Wire strings reach the data only escaped; the login table has them. */
static void test_hostile_strings(void **state)
{
	struct feed f;
	struct event e;
	json_object *d;

	(void)state;
	feed_open(&f, NULL);
	e = ev_make(&f, EV_LOGIN, 0);
	e.u.login.user = S("\"><img src=x onerror=alert(1)>");
	e.u.login.result = LOGIN_FAIL;
	e.u.login.text = S("</script><script>alert(2)</script>");
	send_ev(&f, &e);
	d = feed_finish(&f);
	assert_string_equal(json_object_get_string(get(d, "logins.0.user")),
			    "\"><img src=x onerror=alert(1)>");
	assert_string_equal(json_object_get_string(get(d, "logins.0.text")),
			    "</script><script>alert(2)</script>");
	assert_string_equal(json_object_get_string(get(d, "sessions.0.outcome")), "login_failed");
	json_object_put(d);
}

/* A budget that refuses the ladder still gives a whole page: the
 * session's row, its entries counted as omitted; every charge is given
 * back at the end. */
static void test_budget_refuses(void **state)
{
	struct mem_budget mb = { .limit = 0 };
	struct feed f;
	struct event e;
	json_object *d, *s;

	(void)state;
	feed_open(&f, &mb);
	e = ev_make(&f, EV_SESSION_START, 0);
	send_ev(&f, &e);
	mb.limit = mb.used;		/* nothing more */
	for (int i = 0; i < 50; i++)
		cmd_and_ok(&f, i * 1000, 1.0, "OK");
	assert_true(mb.refused > 0);
	mb.limit = 0;			/* the page itself is written */
	d = feed_finish(&f);
	assert_int_equal(mb.used, 0);
	s = get(d, "sessions.0");
	assert_int_equal(json_object_array_length(get(s, "ladder")), 0);
	assert_int_equal(json_object_get_int64(get(s, "omitted")), 100);
	assert_int_equal(json_object_get_int64(get(s, "commands")), 50);
	json_object_put(d);
}

static int section_rows(void *ctx, struct buf *b)
{
	const char *row = "[{\"session\":1,\"mailbox\":\"";
	const char *name = ctx;

	if (buf_append(b, row, strlen(row)) != 0 ||
	    html_json_string(b, (const uint8_t *)name, strlen(name), false) != 0)
		return -1;
	return buf_append(b, "\"}]", 3);
}

static int section_fails(void *ctx, struct buf *b)
{
	(void)ctx;
	if (buf_append(b, "[{\"half", 7) != 0)
		return -1;
	return -1;	/* after writing half a value: it is dropped */
}

/* Further reports add their sections; one that fails is null, and the
 * known names not added are null too. */
static void test_sections(void **state)
{
	struct feed f;
	static const struct output_ops not_html = { 0 };
	struct output other = { &not_html, NULL };
	struct html_section rows = { "activity", section_rows, "</script>" };
	struct html_section fails = { "extra_part", section_fails, NULL };
	struct html_section bad = { "Bad-Name", section_rows, "" };
	json_object *d;

	(void)state;
	feed_open(&f, NULL);
	assert_int_equal(output_html_add_section(&other, &rows), -1);
	assert_int_equal(output_html_add_section(&f.out, &rows), 0);
	assert_int_equal(output_html_add_section(&f.out, &rows), -1);	/* twice */
	assert_int_equal(output_html_add_section(&f.out, &bad), -1);
	assert_int_equal(output_html_add_section(&f.out, &fails), 0);
	d = feed_finish(&f);
	assert_string_equal(json_object_get_string(get(d, "sections.activity.0.mailbox")),
			    "</script>");
	assert_int_equal(json_object_get_int64(get(d, "sections.activity.0.session")), 1);
	assert_true(json_object_is_type(get(d, "sections.findings"), json_type_null));
	assert_true(json_object_is_type(get(d, "sections.extra_part"), json_type_null));
	json_object_put(d);
}

static void send_finding(struct feed *f, uint64_t frame, const char *line, bool made)
{
	struct event e = ev_make(f, EV_FINDING, (int64_t)frame);

	e.frame = frame;
	e.u.finding.rule = "tag-invalid";
	e.u.finding.severity = "error";
	e.u.finding.side = "client";
	e.u.finding.rfc = "RFC 9051 \u00a79 (tag)";
	e.u.finding.explanation = "a tag with a character the grammar forbids";
	e.u.finding.line = line != NULL ? (struct buf_slice){ (const uint8_t *)line, strlen(line) }
					: SLICE_NULL;
	e.u.finding.line_made = made;
	send_ev(f, &e);
}

/* --check's findings: a row each, wire lines escaped (a made line kept
 * whole), past HTML_FINDINGS_MAX counted; no session comes of them. */
static void test_findings(void **state)
{
	struct html_opts o = { .findings = true };
	struct feed f;
	json_object *d, *rows;

	(void)state;
	feed_open_opts(&f, &o);
	cmd_and_ok(&f, 0, 1.0, "OK");
	send_finding(&f, 7, "a+1 NOOP </script><img src=x onerror=alert(1)>\xe2\x80\xa8", false);
	send_finding(&f, 8, "made \\x00 text", true);
	send_finding(&f, 9, NULL, false);
	for (int i = 0; i < HTML_FINDINGS_MAX; i++)
		send_finding(&f, 10, "x", false);
	d = feed_finish(&f);
	rows = get(d, "sections.findings.rows");
	assert_int_equal(json_object_array_length(rows), HTML_FINDINGS_MAX);
	assert_int_equal(json_object_get_int64(get(d, "sections.findings.omitted")), 3);
	assert_int_equal(json_object_get_int64(get(d, "sections.findings.limit")), HTML_FINDINGS_MAX);
	assert_string_equal(json_object_get_string(get(rows, "0.line")),
			    "a+1 NOOP </script><img src=x onerror=alert(1)>\\u{2028}");
	assert_string_equal(json_object_get_string(get(rows, "0.rule")), "tag-invalid");
	assert_string_equal(json_object_get_string(get(rows, "0.side")), "client");
	assert_int_equal(json_object_get_int64(get(rows, "0.frame")), 7);
	assert_int_equal(json_object_get_int64(get(rows, "0.session")), 1);
	assert_string_equal(json_object_get_string(get(rows, "1.line")), "made \\x00 text");
	assert_true(json_object_is_type(get(rows, "2.line"), json_type_null));
	assert_int_equal(json_object_array_length(get(d, "sessions")), 1);
	assert_true(json_object_is_type(get(d, "sections.activity"), json_type_null));
	json_object_put(d);

	/* without --check the section is null, and a finding is not kept */
	feed_open(&f, NULL);
	send_finding(&f, 7, "x", false);
	d = feed_finish(&f);
	assert_true(json_object_is_type(get(d, "sections.findings"), json_type_null));
	json_object_put(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_json_string_separators),
		cmocka_unit_test(test_ladder_caps),
		cmocka_unit_test(test_untagged_grouped),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_budget_refuses),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_findings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
