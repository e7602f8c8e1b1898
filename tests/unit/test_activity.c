/* --activity from scripted events: the sequence map across EXPUNGE
 * renumbering, a STORE .SILENT resolved through the map, COPYUID ranges
 * mapped UID by UID, a record whose command never completes (result
 * null), pipelined FETCHes without a tag, and a budget that refuses. */
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

/* The completion; its response.cmd is the session's copy of the command's
 * facts (cf0, or none). */
static void done_cf(struct run *r, const char *tag, enum imap_cmd_id id, const char *status,
		    enum imap_code_id code, const char *code_args, const struct command_facts *cf0)
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
	feed(r, &e);
}

static void done(struct run *r, const char *tag, enum imap_cmd_id id, const char *status,
		 enum imap_code_id code, const char *code_args)
{
	done_cf(r, tag, id, status, code, code_args, NULL);
}

static void numbered(struct run *r, enum imap_resp_id id, uint64_t n, const char *tag)
{
	struct event e = { .type = EV_UNTAGGED };

	e.u.untagged.id = id;
	e.u.untagged.has_number = true;
	e.u.untagged.number = n;
	e.u.untagged.tag = tag ? SL(tag) : SLICE_NULL;
	if (id == IMAP_R_EXISTS)
		r->facts.exists = n;
	feed(r, &e);
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

/* Select with 3 messages whose UIDs are learnt, expunge the 2nd, then a
 * silent STORE on sequence number 2 is the message with UID 30. */
static void test_renumbering_and_silent_store(void **state)
{
	struct command_facts none = { 0 }, store = { 0 };
	struct run r;

	(void)state;
	start(&r, NULL);
	numbered(&r, IMAP_R_EXISTS, 3, NULL);
	fetch(&r, 1, 10, "", NULL, 0, NULL);
	fetch(&r, 2, 20, "", NULL, 0, NULL);
	fetch(&r, 3, 30, "", NULL, 0, NULL);
	command(&r, "a1", IMAP_CMD_EXPUNGE, &none);
	numbered(&r, IMAP_R_EXPUNGE, 2, "a1");
	r.facts.exists = 2;
	done(&r, "a1", IMAP_CMD_EXPUNGE, "OK", IMAP_CODE_NONE, NULL);
	store.seqset = SL("2");
	store.items = SL("+FLAGS.SILENT");
	store.flags = SL("\\Deleted");
	command(&r, "a2", IMAP_CMD_STORE, &store);
	done(&r, "a2", IMAP_CMD_STORE, "OK", IMAP_CODE_NONE, NULL);
	end(&r);
	assert_true(r.n >= 2);
	assert_string_equal(str(r.lines[0], "action"), "expunge");
	assert_int_equal(num(r.lines[0], "uid"), 20);
	assert_int_equal(num(r.lines[0], "seq"), 2);
	assert_string_equal(str(r.lines[0], "result"), "OK");
	assert_string_equal(str(r.lines[1], "action"), "flags");
	assert_int_equal(num(r.lines[1], "uid"), 30);
	assert_int_equal(num(r.lines[1], "seq"), 2);
	assert_non_null(key(r.lines[1], "flags_added"));
	assert_null(key(r.lines[1], "flags"));	/* .SILENT: nothing confirmed */
	assert_int_equal(num(r.lines[1], "uidvalidity"), 77);
	finish(&r);
}

/* COPYUID "9 1:3 10,12:13": UID 1 -> 10, 2 -> 12, 3 -> 13. */
static void test_copyuid_ranges(void **state)
{
	struct command_facts copy = { 0 };
	struct run r;
	size_t i;

	(void)state;
	start(&r, NULL);
	numbered(&r, IMAP_R_EXISTS, 3, NULL);
	for (i = 1; i <= 3; i++)
		fetch(&r, i, i, NULL, NULL, 0, NULL);
	copy.seqset = SL("1:*");
	copy.mailbox = SL("Archive");
	command(&r, "c1", IMAP_CMD_COPY, &copy);
	done_cf(&r, "c1", IMAP_CMD_COPY, "OK", IMAP_CODE_COPYUID, "9 1:3 10,12:13", &copy);
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
	struct run r;

	(void)state;
	start(&r, NULL);
	numbered(&r, IMAP_R_EXISTS, 1, NULL);
	copy.seqset = SL("1");
	copy.mailbox = SL("Stolen");
	command(&r, "n1", IMAP_CMD_COPY, &copy);
	done_cf(&r, "n1", IMAP_CMD_COPY, "NO", IMAP_CODE_TRYCREATE, NULL, &copy);
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

/* A budget too small for the map: no crash, the loss counted. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renumbering_and_silent_store),
		cmocka_unit_test(test_copyuid_ranges),
		cmocka_unit_test(test_unfinished_and_refused),
		cmocka_unit_test(test_pipelined_owner),
		cmocka_unit_test(test_budget_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
