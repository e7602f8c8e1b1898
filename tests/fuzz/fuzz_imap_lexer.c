/* libFuzzer target: the IMAP lexer of both directions, the tokenizer over
 * every line it produces, the line grammar of both sides and the argument
 * and response decoders (imap_args.h) over them.
 *
 * Input: the escape format of fuzz_common.h; bytes go to both lexers unless
 * an escape selects one.  Mode bits: 3 c2s mid-stream, 4 s2c mid-stream,
 * 5-6 literal keep limit (64 KiB, 0, 1, 16), 7 our own plausible() hook. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "imap/imap_args.h"
#include "imap/imap_lexer.h"
#include "imap/imap_parser.h"

#define FUZZ_LINE_SLACK 128

struct lx_fuzz {
	struct imap_lexer *lx[2];
	size_t keep;
	uint64_t lit_data;	/* literal bytes streamed to the hook */
	uint64_t lines;
};

static void check_literals(const struct imap_line *l, size_t keep)
{
	FUZZ_CHECK(l->n_lits <= IMAP_MAX_LITERALS);
	FUZZ_CHECK(l->n_lits == 0 || l->lits != NULL);
	for (size_t i = 0; i < l->n_lits; i++) {
		const struct imap_literal *lit = &l->lits[i];

		FUZZ_CHECK(lit->kind <= IMAP_LIT_BINARY);
		FUZZ_CHECK(lit->text_off <= l->text.len);
		FUZZ_CHECK(i == 0 || lit->text_off >= l->lits[i - 1].text_off);
		FUZZ_CHECK(lit->received <= lit->size);
		fuzz_touch(lit->kept);
		if (lit->kept.ptr != NULL) {
			FUZZ_CHECK(lit->kept.len == lit->size);
			FUZZ_CHECK(lit->kept.len <= keep);
			FUZZ_CHECK(!lit->truncated);
		}
	}
}

static void check_line(const struct imap_line *l, size_t keep)
{
	FUZZ_CHECK(l->dir == DIR_C2S || l->dir == DIR_S2C);
	/* Past the cap the lexer keeps room for the markers of literals
	 * announced after the cut (imap_lexer.c, LX_TEXT_SLACK). */
	FUZZ_CHECK(l->text.len <= IMAP_MAX_LINE + FUZZ_LINE_SLACK);
	FUZZ_CHECK(l->text.len <= IMAP_MAX_LINE || l->overlong);
	fuzz_touch(l->text);
	check_literals(l, keep);
}

static void check_quoted(struct buf_slice v)
{
	struct buf out;

	buf_init(&out, IMAP_MAX_LINE, NULL);
	if (imap_unquote(&out, v) == 0)
		FUZZ_CHECK(out.len <= v.len);
	buf_free(&out);
}

/* Tokenize from pos to the end: every token lies in the text and moves the
 * cursor forward, so the loop ends within text.len + 1 steps. */
static void tokenize(const struct imap_line *l, size_t pos)
{
	struct imap_tok_cursor c;
	struct imap_tok t;
	size_t steps = 0, last;

	imap_tok_init(&c, l, pos);
	FUZZ_CHECK(c.pos <= l->text.len);
	last = c.pos;
	for (;;) {
		enum imap_tok_type ty = imap_tok_next(&c, &t);

		FUZZ_CHECK(ty == t.type && ty <= IMAP_TOK_ERROR);
		FUZZ_CHECK(c.pos <= l->text.len);
		if (ty == IMAP_TOK_END)
			break;
		FUZZ_CHECK(c.pos > last);
		last = c.pos;
		FUZZ_CHECK(fuzz_slice_in(t.raw, l->text) && t.raw.len > 0);
		FUZZ_CHECK(fuzz_slice_in(t.value, l->text));
		/* The "(" that passes the cap is the error token itself. */
		FUZZ_CHECK(c.depth >= 0 &&
			   (c.depth <= IMAP_MAX_DEPTH || ty == IMAP_TOK_ERROR));
		if (ty == IMAP_TOK_LITERAL) {
			FUZZ_CHECK(t.lit >= l->lits && t.lit < l->lits + l->n_lits);
			fuzz_touch(t.lit->kept);
		}
		if (ty == IMAP_TOK_QUOTED)
			check_quoted(t.value);
		if (ty == IMAP_TOK_ERROR)
			FUZZ_CHECK(c.pos == l->text.len);
		FUZZ_CHECK(++steps <= l->text.len + 1);
	}
}

/* A decoded slice lies in the line, one of its kept literals, or names. */
static void check_in_line(const struct imap_line *l, const struct buf *names,
			  struct buf_slice v)
{
	bool in = v.ptr == NULL || v.len == 0 || fuzz_slice_in(v, l->text) ||
		  (names != NULL && names->data != NULL &&
		   fuzz_slice_in(v, (struct buf_slice){ names->data, names->len }));

	for (size_t i = 0; !in && i < l->n_lits; i++)
		in = l->lits[i].kept.ptr != NULL && fuzz_slice_in(v, l->lits[i].kept);
	FUZZ_CHECK(in);
	fuzz_touch(v);
}

/* Every command's argument handler over the line: whichever the name. */
static void decode_args(const struct imap_line *l, size_t args_off)
{
	struct command_facts f;
	struct buf names;

	buf_init(&names, IMAP_ARGS_NAMES_MAX, NULL);
	for (int id = 0; id < IMAP_CMD_N; id++) {
		struct imap_seq_iter it;
		struct imap_seq_range r;
		struct imap_flag_iter fi;
		struct buf_slice flag;
		size_t steps = 0;

		imap_args_command((enum imap_cmd_id)id, l, args_off, &names, &f);
		FUZZ_CHECK(f.id == (enum imap_cmd_id)id);
		check_in_line(l, &names, f.mailbox);
		check_in_line(l, &names, f.mailbox2);
		check_in_line(l, NULL, f.seqset);
		check_in_line(l, NULL, f.items);
		check_in_line(l, NULL, f.flags);
		check_in_line(l, NULL, f.date);
		check_in_line(l, NULL, f.mechanism);
		imap_seqset_init(&it, f.seqset);
		while (imap_seqset_next(&it, &r) == 1)
			FUZZ_CHECK(r.lo <= r.hi && r.lo != 0 && ++steps <= f.seqset.len);
		imap_flags_init(&fi, f.flags);
		while (imap_flags_next(&fi, &flag))
			FUZZ_CHECK(fuzz_slice_in(flag, f.flags) && flag.len > 0);
	}
	buf_free(&names);
}

static bool same_slice(struct buf_slice a, struct buf_slice b)
{
	return a.ptr == b.ptr && a.len == b.len;
}

/* The FETCH byte fast path reads what the token walk reads. */
static void fetch_agrees(const struct imap_line *l, const struct fetch_facts *a)
{
	struct imap_fetch_store st;
	struct fetch_facts b;

	FUZZ_CHECK(imap_args_fetch_walk(l, &b, &st) == 0);
	FUZZ_CHECK(a->seq == b.seq && a->uid == b.uid && a->size == b.size &&
		   a->modseq == b.modseq && a->n_sections == b.n_sections);
	FUZZ_CHECK(same_slice(a->flags, b.flags) && same_slice(a->date, b.date) &&
		   same_slice(a->subject, b.subject) && same_slice(a->from, b.from) &&
		   same_slice(a->message_id, b.message_id));
	for (size_t i = 0; i < a->n_sections; i++)
		FUZZ_CHECK(same_slice(a->sections[i], b.sections[i]) &&
			   a->section_sizes[i] == b.section_sizes[i]);
}

static void decode_response(const struct imap_line *l, const struct imap_response *resp)
{
	struct imap_fetch_store st;
	struct fetch_facts f;
	struct imap_capset caps;
	struct imap_address a;

	imap_args_capset(&caps, resp->text);
	FUZZ_CHECK(caps.known && (caps.text.len == 0 || fuzz_slice_in(caps.text, l->text)));
	if (imap_args_fetch(l, &f, &st) != 0) {
		FUZZ_CHECK(imap_args_fetch_walk(l, &f, &st) != 0);
		return;
	}
	fetch_agrees(l, &f);
	FUZZ_CHECK(f.n_sections <= IMAP_FETCH_MAX_SECTIONS);
	check_in_line(l, NULL, f.flags);
	check_in_line(l, NULL, f.date);
	check_in_line(l, NULL, f.subject);
	check_in_line(l, NULL, f.from);
	check_in_line(l, NULL, f.message_id);
	for (size_t i = 0; i < f.n_sections; i++)
		check_in_line(l, NULL, f.sections[i]);
	if (imap_args_first_address(f.from, &a)) {
		fuzz_touch(a.name);
		fuzz_touch(a.mailbox);
		fuzz_touch(a.host);
	}
}

static void parse_line(const struct imap_line *l)
{
	struct imap_command cmd;
	struct imap_response resp;

	if (imap_parse_command(l, &cmd) == 0) {
		FUZZ_CHECK(memchr(cmd.name, '\0', sizeof cmd.name) != NULL);
		FUZZ_CHECK(fuzz_slice_in(cmd.tag, l->text));
		FUZZ_CHECK(fuzz_slice_in(cmd.args, l->text));
		FUZZ_CHECK(cmd.args_off <= l->text.len);
		FUZZ_CHECK((cmd.id != IMAP_CMD_UNKNOWN) == imap_command_known(cmd.name));
		tokenize(l, cmd.args_off);
		decode_args(l, cmd.args_off);
	}
	if (imap_parse_response(l, &resp) == 0) {
		FUZZ_CHECK(resp.kind <= IMAP_RESP_CONTINUATION);
		FUZZ_CHECK(memchr(resp.name, '\0', sizeof resp.name) != NULL);
		FUZZ_CHECK(fuzz_slice_in(resp.tag, l->text));
		FUZZ_CHECK(fuzz_slice_in(resp.code, l->text));
		FUZZ_CHECK(fuzz_slice_in(resp.text, l->text));
		FUZZ_CHECK(resp.text_off <= l->text.len);
		tokenize(l, resp.text_off);
		decode_response(l, &resp);
	}
	(void)imap_line_plausible(l->dir, l->text.ptr, l->text.len);
}

static void on_line(void *ctx, const struct imap_line *l)
{
	struct lx_fuzz *f = ctx;

	f->lines++;
	check_line(l, f->keep);
	tokenize(l, 0);
	parse_line(l);
}

static void on_literal_begin(void *ctx, const struct imap_line *partial)
{
	struct lx_fuzz *f = ctx;

	check_line(partial, f->keep);
	FUZZ_CHECK(partial->n_lits >= 1);
}

static void on_literal_data(void *ctx, const uint8_t *p, size_t n)
{
	struct lx_fuzz *f = ctx;

	FUZZ_CHECK(n > 0 && p != NULL);
	fuzz_touch((struct buf_slice){ p, n });
	f->lit_data += n;
}

static bool on_plausible(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n)
{
	(void)ctx;
	fuzz_touch((struct buf_slice){ p, n });
	return imap_line_plausible(dir, p, n);
}

/* ctx is the hooks' ctx, the target's state: not a counter. */
static void on_notice(void *ctx, const struct notice *n)
{
	(void)ctx;
	fuzz_check_notice(n);
}

static void feed(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n, int64_t ts)
{
	struct lx_fuzz *f = ctx;

	if (ts & 1)
		imap_lexer_boundary(f->lx[dir]);	/* a segment starts */
	imap_lexer_feed(f->lx[dir], p, n, ts);
}

static void gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts)
{
	struct lx_fuzz *f = ctx;

	imap_lexer_gap(f->lx[dir], nbytes, ts);
}

static void refuse(void *ctx, enum stream_dir dir)
{
	struct lx_fuzz *f = ctx;
	bool was = imap_lexer_in_sync_literal(f->lx[dir]);

	FUZZ_CHECK(!was || dir == DIR_C2S);
	imap_lexer_literal_refused(f->lx[dir]);
	if (was)
		FUZZ_CHECK(!imap_lexer_in_sync_literal(f->lx[dir]));
	/* a literal the server showed did not happen: its bytes are lexed
	 * again, client side only (a server literal is left alone) */
	if (dir == DIR_S2C) {
		uint64_t left = imap_lexer_literal_left(f->lx[dir]);

		FUZZ_CHECK(imap_lexer_literal_abandon(f->lx[dir]) == 0);
		FUZZ_CHECK(imap_lexer_literal_left(f->lx[dir]) == left);
	} else {
		(void)imap_lexer_literal_abandon(f->lx[dir]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t keeps[4] = { IMAP_DEFAULT_LITERAL_KEEP, 0, 1, 16 };
	struct mem_budget budget = { 0 };
	struct lx_fuzz f = { 0 };
	struct imap_lexer_hooks hooks = {
		.ctx = &f, .line = on_line, .literal_begin = on_literal_begin,
		.literal_data = on_literal_data, .notice = on_notice,
	};
	struct fuzz_stream_ops ops = { .ctx = &f, .feed = feed, .gap = gap,
				       .refuse = refuse };
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	f.keep = keeps[(mode >> 5) & 3];
	if (mode & 0x80)
		hooks.plausible = on_plausible;
	for (int dir = 0; dir < 2; dir++) {
		f.lx[dir] = imap_lexer_new((enum stream_dir)dir, (mode >> (3 + dir)) & 1,
					   f.keep, &budget, &hooks);
		if (f.lx[dir] == NULL)
			abort();
	}
	fuzz_drive(data + 1, size - 1, mode, 3, &ops);
	for (int dir = 0; dir < 2; dir++) {
		imap_lexer_finish(f.lx[dir]);
		imap_lexer_free(&f.lx[dir]);
		FUZZ_CHECK(f.lx[dir] == NULL);
	}
	FUZZ_CHECK(budget.used == 0);	/* every charged byte was given back */
	return 0;
}
