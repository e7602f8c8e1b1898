/* --extract: which literals are message bodies (the value of a body item
 * of a FETCH response, a message of an APPEND), and following their bytes,
 * gaps and ends to the hooks in cfg->extract. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_lexer.h"
#include "imap/imap_parser.h"
#include "imap_session_int.h"

#define SESS_EX_INITIAL   4		/* --extract bodies of one line, first table */

/* --- --extract: which literals are message bodies ------------------------ */

static bool slice_u64(struct buf_slice s, uint64_t *v_r)
{
	uint64_t v = 0;

	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9' ||
		    __builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s.ptr[i] - '0', &v))
			return false;
	}
	*v_r = v;
	return true;
}

static bool slice_ci_prefix(struct buf_slice s, const char *w)
{
	size_t n = strlen(w);

	return s.len >= n && buf_slice_ieq((struct buf_slice){ s.ptr, n }, w);
}

/* A FETCH item whose value is message text: BODY[...] (BODY.PEEK[...] is
 * what clients write; some servers echo it), BINARY[...], RFC822 and its
 * .HEADER and .TEXT.  Not BINARY.SIZE, ENVELOPE strings or annotations. */
static bool fetch_body_name(struct buf_slice n)
{
	return slice_ci_prefix(n, "BODY[") || slice_ci_prefix(n, "BODY.PEEK[") ||
	       slice_ci_prefix(n, "BINARY[") || slice_ci_prefix(n, "BINARY.PEEK[") ||
	       buf_slice_ieq(n, "RFC822") || buf_slice_ieq(n, "RFC822.HEADER") || buf_slice_ieq(n, "RFC822.TEXT");
}

/* What "* N FETCH (name value name value ..." says so far. */
struct fetch_scan {
	uint64_t seq;
	uint64_t uid;			/* 0: no UID item (yet) */
	struct buf_slice name;		/* the last item name with a value */
	const struct imap_literal *lit;	/* that value, when a literal */
	bool too_deep;			/* the walk stopped at IMAP_MAX_DEPTH */
};

/* Walks the msg-att pairs at the top level of the list; nested lists
 * (FLAGS, ENVELOPE, BODYSTRUCTURE) are values and skipped whole.  false if
 * the line is not a FETCH response. */
static bool fetch_scan(const struct imap_line *line, struct fetch_scan *fs)
{
	struct imap_tok_cursor c;
	struct imap_tok t;
	struct buf_slice name = SLICE_NULL;
	bool want_name = true;

	memset(fs, 0, sizeof *fs);
	imap_tok_init(&c, line, 0);
	if (imap_tok_next(&c, &t) != IMAP_TOK_ATOM || !buf_slice_ieq(t.value, "*") ||
	    imap_tok_next(&c, &t) != IMAP_TOK_ATOM || !slice_u64(t.value, &fs->seq) ||
	    imap_tok_next(&c, &t) != IMAP_TOK_ATOM || !buf_slice_ieq(t.value, "FETCH") ||
	    imap_tok_next(&c, &t) != IMAP_TOK_LPAREN)
		return false;
	while (imap_tok_next(&c, &t) != IMAP_TOK_END && t.type != IMAP_TOK_ERROR) {
		if (t.type == IMAP_TOK_RPAREN && c.depth <= 1) {
			if (c.depth == 0)
				break;		/* the end of the list */
			want_name = true;	/* a list value ended */
		} else if (c.depth >= 2) {
			continue;		/* inside a list value */
		} else if (want_name) {
			name = t.value;
			want_name = false;
		} else {
			if (buf_slice_ieq(name, "UID") && t.type == IMAP_TOK_ATOM)
				slice_u64(t.value, &fs->uid);
			fs->name = name;
			fs->lit = t.type == IMAP_TOK_LITERAL ? t.lit : NULL;
			want_name = true;
		}
	}
	fs->too_deep = c.too_deep;
	return true;
}

/* A line nested past IMAP_MAX_DEPTH could not be walked to its body: said
 * once per line (the walk runs at each literal and at the line's end). */
static void depth_capped(struct imap_session *s, enum stream_dir d)
{
	if (s->depth_noticed[d])
		return;
	s->depth_noticed[d] = true;
	s->sum.capped++;
	imap_session_notice(s, NOTICE_EXTRACT_TOO_DEEP, "%s line nests lists deeper than %d: its message bodies are not "
			    "extracted", d == DIR_C2S ? "client" : "server", IMAP_MAX_DEPTH);
}

/* A server literal that is the value of a body item of a FETCH response. */
static bool fetch_body_meta(struct imap_session *s, const struct imap_line *partial,
			    struct extract_meta *m)
{
	struct fetch_scan fs;

	if (!s->s2c_anchored || !fetch_scan(partial, &fs))
		return false;
	if (fs.too_deep)
		depth_capped(s, DIR_S2C);
	if (fs.lit != &partial->lits[partial->n_lits - 1] || !fetch_body_name(fs.name))
		return false;
	m->section = fs.name;
	m->seq = fs.seq;
	m->uid = fs.uid;
	m->mailbox = s->facts.mailbox;
	m->uidvalidity = s->facts.uidvalidity;
	return true;
}

/* A client literal that is a message of a command whose literal is a
 * message (EFF_APPEND: APPEND, each of MULTIAPPEND's, REPLACE):
 *   append  = "APPEND" SP mailbox 1*(SP append-opts SP append-data)
 *   replace = "REPLACE" SP seq-number SP mailbox append-message (RFC 8508)
 * so a literal at the top level other than the mailbox; also RFC 6855's
 * "UTF8 (~{n})".  CATENATE parts are pieces, not messages: skipped. */
static bool append_body_meta(struct imap_session *s, const struct imap_line *partial,
			     struct extract_meta *m)
{
	struct imap_command cmd;
	struct imap_tok_cursor c;
	struct imap_tok t, mbox, prev = { 0 };
	bool utf8 = false;

	if (s->sasl != NULL || imap_parse_command(partial, &cmd) != 0 ||
	    !(imap_vocab_effects(cmd.id) & EFF_APPEND))
		return false;
	imap_tok_init(&c, partial, cmd.args_off);
	if (cmd.id == IMAP_CMD_REPLACE || cmd.id == IMAP_CMD_UID_REPLACE)
		imap_tok_next(&c, &t);	/* the message it replaces */
	imap_tok_next(&c, &mbox);
	if (!imap_session_tok_is_string(&mbox))
		return false;
	while (imap_tok_next(&c, &t) != IMAP_TOK_END && t.type != IMAP_TOK_ERROR) {
		if (t.type == IMAP_TOK_LPAREN)
			utf8 = c.depth == 1 && prev.type == IMAP_TOK_ATOM && buf_slice_ieq(prev.value, "UTF8");
		prev = t;
	}
	if (c.too_deep)
		depth_capped(s, DIR_C2S);
	if (prev.type != IMAP_TOK_LITERAL || prev.lit != &partial->lits[partial->n_lits - 1] ||
	    !(c.depth == 0 || (c.depth == 1 && utf8)))
		return false;
	buf_reset(&s->scratch);
	m->mailbox = imap_args_mailbox(&s->scratch, &mbox) == 0 ? bslice(&s->scratch) : SLICE_NULL;
	return true;
}

/* The line's bodies are over: uid and seq as the whole line gave them.
 * line NULL: the line was lost (a gap, the end of the capture). */
void imap_bodies_end_all(struct imap_session *s, enum stream_dir dir,
			 const struct imap_line *line, uint64_t uid, uint64_t seq)
{
	struct sess_extract *e = &s->ex[dir];

	for (size_t i = 0; i < e->n; i++) {
		const struct imap_literal *l = line != NULL && e->items[i].lit < line->n_lits ?
					       &line->lits[e->items[i].lit] : NULL;
		/* a refused synchronising literal; only an empty one is in doubt */
		bool unsent = l != NULL && l->truncated && l->received == 0;

		s->cfg->extract.end(s->cfg->extract.ctx, e->items[i].h, uid, seq, unsent);
	}
	e->n = 0;
	e->cur = false;
}

static bool ex_push(struct sess_extract *e, void *item, size_t lit)
{
	if (e->n == e->cap) {
		size_t ncap = e->cap ? e->cap * 2 : SESS_EX_INITIAL;
		struct sess_ex_item *ni;

		if (ncap > IMAP_MAX_LITERALS)
			return false;
		ni = realloc(e->items, ncap * sizeof *ni);
		if (ni == NULL)
			return false;
		e->items = ni;
		e->cap = ncap;
	}
	e->items[e->n++] = (struct sess_ex_item){ item, lit };
	return true;
}

/* A literal starts (partial: the line up to its marker): follow its count,
 * and if it is a message body, begin an item. */
void imap_bodies_literal_begin(struct imap_session *s, const struct imap_line *partial)
{
	struct sess_extract *e = &s->ex[partial->dir];
	const struct imap_literal *l;
	struct extract_meta m = { .client = s->client, .server = s->server,
				  .uidvalidity = FACT_NONE };
	void *item;

	e->cur = false;
	e->in_lit = false;
	e->left = 0;
	if (partial->n_lits == 0 ||
	    partial->lits[partial->n_lits - 1].text_off != partial->text.len) {
		imap_bodies_end_all(s, partial->dir, NULL, 0, 0);	/* past the literal table: lost track */
		return;
	}
	l = &partial->lits[partial->n_lits - 1];
	if (partial->n_lits == 1 && e->n != 0)
		imap_bodies_end_all(s, partial->dir, NULL, 0, 0);	/* left from a line that never ended */
	e->left = l->size;
	e->in_lit = l->size != 0;
	if (s->mode != MODE_IMAP)
		return;
	if (!(partial->dir == DIR_S2C ? fetch_body_meta(s, partial, &m)
				      : append_body_meta(s, partial, &m)))
		return;
	m.dir = partial->dir;
	m.user = s->facts.user;
	m.size = l->size;
	m.ts_us = s->now;
	item = s->cfg->extract.begin(s->cfg->extract.ctx, s->id, &m);
	if (item == NULL)
		return;
	if (!ex_push(e, item, partial->n_lits - 1)) {
		imap_session_notice(s, NOTICE_EXTRACT_TOO_MANY, "too many message bodies in one line: one not extracted");
		s->cfg->extract.end(s->cfg->extract.ctx, item, 0, 0, true);
		return;
	}
	e->cur = e->in_lit;
}

void imap_bodies_literal_data(void *ctx, const uint8_t *p, size_t n)
{
	struct imap_session *s = ctx;
	struct sess_extract *e = &s->ex[s->lex_dir];

	if (e->cur)
		s->cfg->extract.data(s->cfg->extract.ctx, e->items[e->n - 1].h, p, n);
	e->left = n < e->left ? e->left - n : 0;
	if (e->left == 0)
		e->in_lit = e->cur = false;
}

/* Called before the lexer sees the gap, with the lexer's own rule: inside
 * a literal that can absorb it, the body has a hole; anywhere else the
 * lexer drops the partial line, so its bodies end here, cut. */
void imap_bodies_gap(struct imap_session *s, enum stream_dir dir, uint64_t nbytes)
{
	struct sess_extract *e = &s->ex[dir];

	if (s->cfg->extract.begin == NULL)
		return;
	if (!e->in_lit || nbytes > e->left) {
		e->in_lit = false;
		imap_bodies_end_all(s, dir, NULL, 0, 0);
		return;
	}
	if (e->cur)
		s->cfg->extract.gap(s->cfg->extract.ctx, e->items[e->n - 1].h, nbytes);
	e->left -= nbytes;
	if (e->left == 0)
		e->in_lit = e->cur = false;
}

/* A logical line is complete: its bodies end, a FETCH's with the UID that
 * may have come after them. */
void imap_bodies_line_done(struct imap_session *s, const struct imap_line *line)
{
	struct fetch_scan fs = { 0 };

	if (s->ex[line->dir].n == 0)
		return;
	if (line->dir == DIR_S2C && !fetch_scan(line, &fs))
		memset(&fs, 0, sizeof fs);
	/* no UID on the line: the sequence map's, when the session keeps one
	 * (IMAP_FACTS_MESSAGES), so that --activity's records join */
	if (fs.uid == 0 && fs.seq != 0 && s->msgs != NULL) {
		uint64_t uid = imap_msgmap_uid(&s->msgs->map, fs.seq);

		fs.uid = uid != FACT_NONE ? uid : 0;
	}
	imap_bodies_end_all(s, line->dir, line, fs.uid, fs.seq);
}
