/* --activity from scripted events: the message identities the session
 * puts on EXPUNGE and on completions (a STORE .SILENT, a COPY), COPYUID
 * ranges mapped UID by UID, a MOVE's records in the numbers it saw, a
 * record whose command never completes (result null), pipelined FETCHes
 * without a tag, the JSON line's v, frames and flow, and a budget that
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

#include "report/activity.h"
#include "report/html.h"

#define T0 1795255200000000LL	/* 2026-11-21T10:00:00Z */
#define SL(s) ((struct buf_slice){ (const uint8_t *)(s), strlen(s) })
#define MAX_LINES 64

struct run {
	struct output out;
	FILE *fp;
	char *text;
	size_t len;
	struct session_facts facts;
	int64_t ts;
	json_object *lines[MAX_LINES];
	size_t n;
};

static void start(struct run *r, struct mem_budget *budget)
{
	memset(r, 0, sizeof *r);
	r->fp = open_memstream(&r->text, &r->len);
	assert_non_null(r->fp);
	assert_int_equal(output_activity_new(&r->out, r->fp, true, budget), 0);
	r->facts.state = IMAP_STATE_SELECTED;
	r->facts.user = SL("alice");
	r->facts.mailbox = SL("INBOX");
	r->facts.uidvalidity = 77;
	r->facts.uidnext = FACT_NONE;
	r->facts.exists = 0;
	r->ts = T0;
}

static void feed(struct run *r, struct event *e)
{
	e->session = 1;
	e->ts_us = r->ts++;
	e->client = "192.0.2.7:40000";
	e->server = "192.0.2.2:143";
	e->facts = &r->facts;
	r->out.ops->event(r->out.ctx, e);
}

static void command(struct run *r, const char *tag, enum imap_cmd_id id,
		    const struct command_facts *cf0)
{
	struct command_facts cf = *cf0;
	struct event e = { .type = EV_COMMAND };

	cf.id = id;
	e.u.command.tag = SL(tag);
	e.u.command.name = SL(imap_vocab_command_def(id)->name);
	e.u.command.facts = &cf;
	feed(r, &e);
}

static struct msg_identity ident(uint64_t seq, uint64_t uid)
{
	return (struct msg_identity){ .mailbox = SL("INBOX"), .uidvalidity = 77, .uid = uid,
				      .uid_source = uid == FACT_NONE ? MSG_UID_NONE : MSG_UID_MAPPED,
				      .seq = seq, .size = FACT_NONE };
}

/* The completion; its response.cmd is the session's copy of the command's
 * facts (cf0, or none), its msgs the n identities the session gives. */
static void done_ids(struct run *r, const char *tag, enum imap_cmd_id id, const char *status,
		     enum imap_code_id code, const char *code_args, const struct command_facts *cf0,
		     const struct msg_identity *ids, size_t n)
{
	struct command_facts cf = { .id = id };

	if (cf0 != NULL) {
		cf = *cf0;
		cf.id = id;
	}
	struct event e = { .type = EV_RESPONSE };

	e.u.response.tag = SL(tag);
	e.u.response.status = SL(status);
	e.u.response.id = strcmp(status, "OK") == 0 ? IMAP_R_OK : strcmp(status, "NO") == 0
			  ? IMAP_R_NO : IMAP_R_BAD;
	e.u.response.rcode.id = code;
	e.u.response.rcode.args = code_args ? SL(code_args) : SLICE_NULL;
	e.u.response.cmd = &cf;
	e.u.response.msgs = ids;
	e.u.response.n_msgs = n;
	feed(r, &e);
}

static void done_cf(struct run *r, const char *tag, enum imap_cmd_id id, const char *status,
		    enum imap_code_id code, const char *code_args, const struct command_facts *cf0)
{
	done_ids(r, tag, id, status, code, code_args, cf0, NULL, 0);
}

static void done(struct run *r, const char *tag, enum imap_cmd_id id, const char *status,
		 enum imap_code_id code, const char *code_args)
{
	done_cf(r, tag, id, status, code, code_args, NULL);
}

/* EXISTS, or EXPUNGE of the message the session says (uid) */
static void numbered_uid(struct run *r, enum imap_resp_id id, uint64_t n, const char *tag,
			 uint64_t uid)
{
	struct event e = { .type = EV_UNTAGGED };
	struct msg_identity m = ident(n, uid);

	if (id == IMAP_R_EXPUNGE) {
		e.u.untagged.msgs = &m;
		e.u.untagged.n_msgs = 1;
	}
	e.u.untagged.id = id;
	e.u.untagged.has_number = true;
	e.u.untagged.number = n;
	e.u.untagged.tag = tag ? SL(tag) : SLICE_NULL;
	if (id == IMAP_R_EXISTS)
		r->facts.exists = n;
	feed(r, &e);
}

static void numbered(struct run *r, enum imap_resp_id id, uint64_t n, const char *tag)
{
	numbered_uid(r, id, n, tag, FACT_NONE);
}

static void fetch(struct run *r, uint64_t seq, uint64_t uid, const char *flags,
		  const char *section, uint64_t size, const char *tag)
{
	struct buf_slice sec = section ? SL(section) : SLICE_NULL;
	struct fetch_facts ff = {
		.seq = seq, .uid = uid, .size = FACT_NONE, .modseq = FACT_NONE,
		.flags = flags ? SL(flags) : SLICE_NULL,
		.n_sections = section ? 1 : 0, .sections = &sec, .section_sizes = &size,
	};
	struct event e = { .type = EV_UNTAGGED };
	struct msg_identity m = ident(seq, uid);

	e.u.untagged.msgs = &m;
	e.u.untagged.n_msgs = 1;
	e.u.untagged.id = IMAP_R_FETCH;
	e.u.untagged.has_number = true;
	e.u.untagged.number = seq;
	e.u.untagged.tag = tag ? SL(tag) : SLICE_NULL;
	e.u.untagged.fetch = &ff;
	feed(r, &e);
}

static void end(struct run *r)
{
	struct event e = { .type = EV_SESSION_END };
	char *line, *save = NULL;

	feed(r, &e);
	assert_int_equal(r->out.ops->finish(r->out.ctx), 0);
	r->out.ops->free(r->out.ctx);
	fclose(r->fp);
	for (line = strtok_r(r->text, "\n", &save); line && r->n < MAX_LINES;
	     line = strtok_r(NULL, "\n", &save)) {
		r->lines[r->n] = json_tokener_parse(line);
		assert_non_null(r->lines[r->n]);
		r->n++;
	}
}

static void finish(struct run *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		json_object_put(r->lines[i]);
	free(r->text);
}

static json_object *key(json_object *o, const char *k)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

static const char *str(json_object *o, const char *k)
{
	return key(o, k) ? json_object_get_string(key(o, k)) : NULL;
}

static int64_t num(json_object *o, const char *k)
{
	return key(o, k) ? json_object_get_int64(key(o, k)) : -1;
}

/* The expunged message and the silent STORE's are the ones the session
 * names: UID 20 at 2, then UID 30 now at 2; the line is a v 2 line with
 * the frames and flow of the event that told it. */
static void test_identity_from_events(void **state)
{
	struct command_facts none = { 0 }, store = { 0 };
	struct msg_identity id30 = ident(2, 30);
	struct event_flow flow = { .af = 4, .client_port = 40000, .server_port = 143 };
	struct event e = { .type = EV_RESPONSE };
	struct run r;

	(void)state;
	flow.client_ip[0] = 192;
	flow.server_ip[0] = 192;
	event_flow_format(&flow);
	start(&r, NULL);
	numbered(&r, IMAP_R_EXISTS, 3, NULL);
	command(&r, "a1", IMAP_CMD_EXPUNGE, &none);
	numbered_uid(&r, IMAP_R_EXPUNGE, 2, "a1", 20);
	r.facts.exists = 2;
	done(&r, "a1", IMAP_CMD_EXPUNGE, "OK", IMAP_CODE_NONE, NULL);
	store.seqset = SL("2");
	store.items = SL("+FLAGS.SILENT");
	store.flags = SL("\\Deleted");
	command(&r, "a2", IMAP_CMD_STORE, &store);
	store.id = IMAP_CMD_STORE;
	e.u.response.tag = SL("a2");
	e.u.response.status = SL("OK");
	e.u.response.id = IMAP_R_OK;
	e.u.response.cmd = &store;
	e.u.response.msgs = &id30;
	e.u.response.n_msgs = 1;
	e.frame = 12;
	e.frame_last = 14;
	e.flow = &flow;
	feed(&r, &e);
	end(&r);
	assert_true(r.n >= 2);
	assert_int_equal(num(r.lines[0], "v"), 2);
	assert_string_equal(str(r.lines[0], "type"), "activity");
	assert_string_equal(str(r.lines[0], "action"), "expunge");
	assert_int_equal(num(r.lines[0], "uid"), 20);
	assert_int_equal(num(r.lines[0], "seq"), 2);
	assert_string_equal(str(r.lines[0], "result"), "OK");
	assert_null(key(r.lines[0], "frame"));	/* not known: left out */
	assert_string_equal(str(r.lines[1], "action"), "flags");
	assert_int_equal(num(r.lines[1], "uid"), 30);
	assert_int_equal(num(r.lines[1], "seq"), 2);
	assert_non_null(key(r.lines[1], "flags_added"));
	assert_null(key(r.lines[1], "flags"));	/* .SILENT: nothing confirmed */
	assert_int_equal(num(r.lines[1], "uidvalidity"), 77);
	assert_int_equal(num(r.lines[1], "frame"), 12);
	assert_int_equal(num(r.lines[1], "frame_last"), 14);
	assert_int_equal(num(r.lines[1], "dest_port"), 143);
	assert_string_equal(str(r.lines[1], "src_ip"), "192.0.0.0");
	finish(&r);
}

/* MOVE 2:3: the server's EXPUNGEs come high first, or low twice; the move
 * records name the numbers the command saw, in order, before the
 * expunges. */
static void test_move_order(void **state)
{
	static const uint64_t nums[2][2] = { { 3, 2 }, { 2, 2 } };
	static const uint64_t uids[2][2] = { { 30, 20 }, { 20, 30 } };
	struct command_facts mv = { 0 };
	struct run r;

	(void)state;
	for (int k = 0; k < 2; k++) {
		start(&r, NULL);
		numbered(&r, IMAP_R_EXISTS, 3, NULL);
		mv.seqset = SL("2:3");
		mv.mailbox = SL("Trash");
		command(&r, "m1", IMAP_CMD_MOVE, &mv);
		numbered_uid(&r, IMAP_R_EXPUNGE, nums[k][0], "m1", uids[k][0]);
		numbered_uid(&r, IMAP_R_EXPUNGE, nums[k][1], "m1", uids[k][1]);
		done_cf(&r, "m1", IMAP_CMD_MOVE, "OK", IMAP_CODE_COPYUID, "9 20,30 5:6", &mv);
		end(&r);
		assert_true(r.n >= 4);
		for (int i = 0; i < 2; i++) {
			assert_string_equal(str(r.lines[i], "action"), "move");
			assert_int_equal(num(r.lines[i], "seq"), 2 + i);
			assert_int_equal(num(r.lines[i], "uid"), 20 + 10 * i);
			assert_string_equal(str(r.lines[i], "to_mailbox"), "Trash");
			assert_null(key(r.lines[i], "to_uid"));	/* COPYUID came last */
			assert_string_equal(str(r.lines[2 + i], "action"), "expunge");
			assert_int_equal(num(r.lines[2 + i], "seq"), nums[k][i]);
			assert_int_equal(num(r.lines[2 + i], "uid"), uids[k][i]);
			assert_string_equal(str(r.lines[2 + i], "result"), "OK");
		}
		finish(&r);
	}
}

/* COPYUID "9 1:3 10,12:13": UID 1 -> 10, 2 -> 12, 3 -> 13. */
static void test_copyuid_ranges(void **state)
{
	struct command_facts copy = { 0 };
	struct msg_identity ids[3];
	struct run r;
	size_t i;

	(void)state;
	start(&r, NULL);
	numbered(&r, IMAP_R_EXISTS, 3, NULL);
	for (i = 0; i < 3; i++)
		ids[i] = ident(i + 1, i + 1);
	copy.seqset = SL("1:*");
	copy.mailbox = SL("Archive");
	command(&r, "c1", IMAP_CMD_COPY, &copy);
	done_ids(&r, "c1", IMAP_CMD_COPY, "OK", IMAP_CODE_COPYUID, "9 1:3 10,12:13", &copy, ids, 3);
	end(&r);
	assert_true(r.n >= 3);
	assert_int_equal(num(r.lines[0], "to_uid"), 10);
	assert_int_equal(num(r.lines[1], "to_uid"), 12);
	assert_int_equal(num(r.lines[2], "to_uid"), 13);
	assert_int_equal(num(r.lines[2], "to_uidvalidity"), 9);
	assert_string_equal(str(r.lines[2], "to_mailbox"), "Archive");
	assert_string_equal(str(r.lines[2], "code"), "COPYUID");
	finish(&r);
}

/* A FETCH whose command never completes: written at the session's end
 * with result null; a refused COPY still lists its messages. */
static void test_unfinished_and_refused(void **state)
{
	struct command_facts f = { 0 }, copy = { 0 };
	struct msg_identity one = ident(1, FACT_NONE);
	struct run r;

	(void)state;
	start(&r, NULL);
	numbered(&r, IMAP_R_EXISTS, 1, NULL);
	copy.seqset = SL("1");
	copy.mailbox = SL("Stolen");
	command(&r, "n1", IMAP_CMD_COPY, &copy);
	done_ids(&r, "n1", IMAP_CMD_COPY, "NO", IMAP_CODE_TRYCREATE, NULL, &copy, &one, 1);
	f.seqset = SL("1");
	f.items = SL("BODY[]");
	command(&r, "n2", IMAP_CMD_FETCH, &f);
	fetch(&r, 1, FACT_NONE, NULL, "BODY[]<0>", 100, "n2");
	end(&r);
	assert_true(r.n >= 3);
	assert_string_equal(str(r.lines[0], "action"), "copy");
	assert_string_equal(str(r.lines[0], "result"), "NO");
	assert_string_equal(str(r.lines[0], "code"), "TRYCREATE");
	assert_string_equal(str(r.lines[0], "to_mailbox"), "Stolen");
	assert_null(key(r.lines[0], "to_uid"));
	assert_null(key(r.lines[0], "uid"));	/* never crossed the wire */
	assert_string_equal(str(r.lines[1], "action"), "read");
	assert_true(json_object_get_boolean(key(r.lines[1], "partial")));
	assert_null(key(r.lines[1], "result"));
	assert_string_equal(str(r.lines[2], "type"), "activity_summary");
	finish(&r);
}

/* Two commands in flight, untagged FETCHes without a tag: content goes
 * to the FETCH, flags alone to the STORE. */
static void test_pipelined_owner(void **state)
{
	struct command_facts f = { 0 }, st = { 0 };
	struct run r;

	(void)state;
	start(&r, NULL);
	numbered(&r, IMAP_R_EXISTS, 4, NULL);
	st.seqset = SL("4");
	st.items = SL("+FLAGS");
	st.flags = SL("\\Seen");
	f.seqset = SL("1");
	command(&r, "p1", IMAP_CMD_STORE, &st);
	command(&r, "p2", IMAP_CMD_FETCH, &f);
	fetch(&r, 1, 5, NULL, "BODY[TEXT]", 180, NULL);
	fetch(&r, 4, 9, "\\Seen", NULL, 0, NULL);
	done(&r, "p1", IMAP_CMD_STORE, "OK", IMAP_CODE_NONE, NULL);
	done(&r, "p2", IMAP_CMD_FETCH, "OK", IMAP_CODE_NONE, NULL);
	end(&r);
	assert_true(r.n >= 2);
	assert_string_equal(str(r.lines[0], "action"), "flags");
	assert_string_equal(str(r.lines[0], "tag"), "p1");
	assert_int_equal(num(r.lines[0], "uid"), 9);
	assert_string_equal(str(r.lines[1], "action"), "read");
	assert_string_equal(str(r.lines[1], "tag"), "p2");
	assert_int_equal(num(r.lines[1], "bytes"), 180);
	finish(&r);
}

/* A budget too small for a session's state: no crash, the loss counted. */
static void test_budget_refused(void **state)
{
	struct mem_budget b = { .limit = 1 };
	struct command_facts none = { 0 };
	struct run r;

	(void)state;
	start(&r, &b);
	numbered(&r, IMAP_R_EXISTS, 1000, NULL);
	command(&r, "b1", IMAP_CMD_NOOP, &none);
	done(&r, "b1", IMAP_CMD_NOOP, "OK", IMAP_CODE_NONE, NULL);
	end(&r);
	assert_true(b.refused > 0);
	assert_int_equal(b.used, 0);
	finish(&r);
}

/* --html beside --activity: a row per record, its result filled in when
 * it came at once (NO), when it came later (BAD) or never (null); the
 * wire's mailbox escaped for the page's script element. */
static void test_html_rows(void **state)
{
	struct command_facts f = { 0 }, copy = { 0 };
	struct msg_identity one = ident(1, 5);
	struct html_opts ho = { 0 };
	struct event e = { .type = EV_SESSION_END };
	struct output html;
	struct run r;
	char *page, *a, *z;
	size_t size;
	FILE *hfp = open_memstream(&page, &size);
	json_object *d, *sec, *rows, *v;

	(void)state;
	assert_non_null(hfp);
	start(&r, NULL);
	assert_int_equal(output_html_new(&html, hfp, &ho), 0);
	assert_int_equal(output_activity_html(&html, &r.out), -1);
	assert_int_equal(output_activity_html(&r.out, &html), 0);
	numbered(&r, IMAP_R_EXISTS, 1, NULL);
	copy.seqset = SL("1");
	copy.mailbox = SL("</script><b>");
	command(&r, "n1", IMAP_CMD_COPY, &copy);
	done_ids(&r, "n1", IMAP_CMD_COPY, "NO", IMAP_CODE_TRYCREATE, NULL, &copy, &one, 1);
	f.seqset = SL("1");
	f.items = SL("BODY[]");
	command(&r, "n2", IMAP_CMD_FETCH, &f);
	fetch(&r, 1, 5, NULL, "BODY[]", 100, "n2");
	done_cf(&r, "n2", IMAP_CMD_FETCH, "BAD", IMAP_CODE_NONE, NULL, &f);
	command(&r, "n3", IMAP_CMD_FETCH, &f);
	fetch(&r, 1, 5, NULL, "BODY[]", 100, "n3");
	feed(&r, &e);
	/* the tee's order: every finish, then every free */
	assert_int_equal(r.out.ops->finish(r.out.ctx), 0);
	assert_int_equal(html.ops->finish(html.ctx), 0);
	html.ops->free(html.ctx);
	r.out.ops->free(r.out.ctx);
	fclose(r.fp);
	free(r.text);
	a = strstr(page, "id=\"imapscope-data\">");
	assert_non_null(a);
	a = strchr(a, '>') + 1;
	z = strstr(a, "</script>");
	assert_non_null(z);
	*z = '\0';
	assert_null(strchr(a, '<'));
	d = json_tokener_parse(a);
	assert_non_null(d);
	assert_true(json_object_object_get_ex(d, "sections", &sec));
	assert_true(json_object_object_get_ex(sec, "activity", &sec));
	assert_int_equal(num(sec, "limit"), ACTIVITY_HTML_ROWS);
	assert_int_equal(num(sec, "omitted"), 0);
	rows = key(sec, "rows");
	assert_int_equal(json_object_array_length(rows), 3);
	v = json_object_array_get_idx(rows, 0);
	assert_string_equal(str(v, "action"), "copy");
	assert_string_equal(str(v, "result"), "NO");
	assert_string_equal(str(v, "to_mailbox"), "</script><b>");
	assert_string_equal(str(v, "mailbox"), "INBOX");
	assert_string_equal(str(v, "user"), "alice");
	assert_int_equal(num(v, "uid"), 5);
	assert_int_equal(num(v, "session"), 1);
	v = json_object_array_get_idx(rows, 1);
	assert_string_equal(str(v, "action"), "read");
	assert_string_equal(str(v, "result"), "BAD");
	v = json_object_array_get_idx(rows, 2);
	assert_string_equal(str(v, "action"), "read");
	assert_true(json_object_is_type(key(v, "result"), json_type_null));
	/* the user's roll-up: one row per action and mailbox */
	assert_true(json_object_object_get_ex(d, "sections", &sec));
	assert_true(json_object_object_get_ex(sec, "activity_users", &sec));
	rows = key(sec, "rows");
	assert_true(json_object_array_length(rows) >= 1);
	v = json_object_array_get_idx(rows, 0);
	assert_string_equal(str(v, "user"), "alice");
	assert_string_equal(str(v, "from"), "192.0.2.7");
	assert_int_equal(num(v, "sessions"), 1);
	json_object_put(d);
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_from_events),
		cmocka_unit_test(test_move_order),
		cmocka_unit_test(test_copyuid_ranges),
		cmocka_unit_test(test_unfinished_and_refused),
		cmocka_unit_test(test_pipelined_owner),
		cmocka_unit_test(test_budget_refused),
		cmocka_unit_test(test_html_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
