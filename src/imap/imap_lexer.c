/* The IMAP lexer, framing half: one direction's bytes become logical lines.
 *
 * Three states.  LINE collects the text of a line part up to its LF; a part
 * that ends in a literal marker switches to LITERAL, which consumes exactly
 * the announced number of bytes and then goes back to LINE for the next part
 * of the same logical line.  RESYNC (after a gap, or at a mid-stream start)
 * throws lines away until one looks like IMAP.
 *
 * Copies: a line that lies whole inside one fed chunk and announces no
 * literal is handed out in place; everything else is collected in lx->text.
 * Literal contents are streamed to a hook and kept only up to literal_keep. */
#include "imap/imap_lexer.h"
#include "imap/imap_chars.h"
#include "util/notice.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest literal marker we recognise: "~{" + 20 digits + "+}" fits. */
#define LX_TAIL 32
/* Room past IMAP_MAX_LINE for markers of literals announced after the cut. */
#define LX_TEXT_SLACK (4 * LX_TAIL)
/* Kept literal bytes per logical line, in units of literal_keep. */
#define LX_KEPT_LITERALS_PER_LINE 8
/* First size of the literal table; it doubles up to IMAP_MAX_LITERALS. */
#define LX_LITS_INITIAL 4
/* Buffers bigger than this are given back after each line, so one huge line
 * does not pin memory for the rest of the session. */
#define LX_SHRINK_ABOVE (16 * 1024)
/* Length of a notice message. */

#define LX_NOT_KEPT SIZE_MAX
/* Client literal bytes kept for a replay (commands hidden behind a bogus
 * literal fit many times); a copy of kept ones too, since a gap may have
 * stopped keeping. */
#define LX_REPLAY_MAX IMAP_MAX_LINE

enum lx_state {
	LX_LINE,	/* collecting a line part */
	LX_LITERAL,	/* consuming literal bytes by count */
	LX_RESYNC,	/* skipping to a plausible line */
};

struct imap_lexer {
	enum stream_dir dir;
	enum lx_state state;
	size_t literal_keep;
	struct mem_budget *budget;
	struct imap_lexer_hooks hooks;

	/* The logical line in progress. */
	struct buf text;
	size_t part_start;	/* current part's first byte in text */
	bool started;		/* some byte of a logical line arrived */
	int64_t ts_first, ts_last;
	uint64_t frame_first, frame_last;
	const uint64_t *frame_src;	/* imap_lexer_frames; NULL: none */
	/* Stream offsets: pos is that of the next byte fed (bytes fed and
	 * gaps so far), off_first the line's first byte's, lit_next where a
	 * literal announced by the part being ended begins. */
	uint64_t pos, off_first, lit_next;
	bool bare_lf, overlong, damaged;
	/* The last bytes of a part whose text the cap cut, so that a literal
	 * marker at its end is still seen. */
	uint8_t tail[LX_TAIL];
	size_t tail_len;
	bool cut_in_part;

	/* Literals of the line; keep_off[i] is where literal i's contents start
	 * in kept, or LX_NOT_KEPT. */
	struct imap_literal *lits;
	size_t *keep_off;
	size_t n_lits, lits_cap;
	struct imap_literal scratch;	/* a literal past the table's cap */
	struct imap_literal *cur;	/* the literal being consumed */
	struct buf kept;
	/* Client side: the first bytes of a literal not kept, in case the
	 * server shows it never was one (imap_lexer_literal_abandon). */
	struct buf replay;
	bool replay_stop;	/* a hole or the cap: replay holds a prefix */
	uint64_t lit_pos;	/* bytes of cur consumed: received or lost */
	bool keeping;

	bool at_boundary;	/* nothing fed since imap_lexer_boundary() */
	bool line_boundary;	/* the line in progress began there */

	/* RESYNC: the candidate line is collected in text. */
	bool resync_skip;	/* candidate too long: skip to its LF */
	uint64_t skipped;
};

#define lx_notice(lx, kind, ...) \
	notice_send((lx)->hooks.notice, (lx)->hooks.ctx, (kind), __VA_ARGS__)

static size_t lx_kept_max(size_t keep)
{
	size_t m;

	return size_mul(keep, LX_KEPT_LITERALS_PER_LINE, &m) ? m : SIZE_MAX;
}

struct imap_lexer *imap_lexer_new(enum stream_dir dir, bool mid_stream,
				  size_t literal_keep, struct mem_budget *budget,
				  const struct imap_lexer_hooks *hooks)
{
	struct imap_lexer *lx = calloc(1, sizeof *lx);

	if (lx == NULL)
		return NULL;
	if (mem_charge(budget, sizeof *lx) != 0) {
		free(lx);
		return NULL;
	}
	lx->dir = dir;
	lx->state = mid_stream ? LX_RESYNC : LX_LINE;
	lx->literal_keep = literal_keep;
	lx->budget = budget;
	if (hooks != NULL)
		lx->hooks = *hooks;
	buf_init(&lx->text, IMAP_MAX_LINE + LX_TEXT_SLACK, budget);
	buf_init(&lx->kept, lx_kept_max(literal_keep), budget);
	buf_init(&lx->replay, LX_REPLAY_MAX, budget);
	return lx;
}

static void lx_free_lits(struct imap_lexer *lx)
{
	mem_release(lx->budget, lx->lits_cap * (sizeof *lx->lits + sizeof *lx->keep_off));
	free(lx->lits);
	free(lx->keep_off);
	lx->lits = NULL;
	lx->keep_off = NULL;
	lx->lits_cap = 0;
}

void imap_lexer_free(struct imap_lexer **lxp)
{
	struct imap_lexer *lx = *lxp;

	if (lx == NULL)
		return;
	buf_free(&lx->text);
	buf_free(&lx->kept);
	buf_free(&lx->replay);
	lx_free_lits(lx);
	mem_release(lx->budget, sizeof *lx);
	free(lx);
	*lxp = NULL;
}

/* --- the logical line ------------------------------------------------- */

static uint64_t lx_frame(const struct imap_lexer *lx)
{
	return lx->frame_src != NULL ? *lx->frame_src : 0;
}

static void lx_shrink(struct buf *b)
{
	size_t max = b->max;
	struct mem_budget *mb = b->budget;

	if (b->cap > LX_SHRINK_ABOVE) {
		buf_free(b);
		buf_init(b, max, mb);
	} else {
		buf_reset(b);
	}
}

static void lx_reset_line(struct imap_lexer *lx)
{
	lx_shrink(&lx->text);
	lx_shrink(&lx->kept);
	lx_shrink(&lx->replay);
	lx->replay_stop = false;
	lx->part_start = 0;
	lx->started = false;
	lx->bare_lf = lx->overlong = lx->damaged = false;
	lx->tail_len = 0;
	lx->cut_in_part = false;
	lx->n_lits = 0;
	lx->cur = NULL;
	lx->lit_pos = 0;
	lx->keeping = false;
}

/* Point each kept literal at its bytes; kept may have moved since. */
static void lx_fix_kept(struct imap_lexer *lx)
{
	size_t i;

	for (i = 0; i < lx->n_lits; i++) {
		struct imap_literal *l = &lx->lits[i];

		if (lx->keep_off[i] == LX_NOT_KEPT || l->truncated) {
			l->kept.ptr = NULL;
			l->kept.len = 0;
		} else if (lx->kept.data == NULL) {
			/* An empty literal kept: a real, empty slice. */
			static const uint8_t empty[1];

			l->kept.ptr = empty;
		} else {
			l->kept.ptr = lx->kept.data + lx->keep_off[i];
		}
	}
}

static void lx_make_line(struct imap_lexer *lx, struct imap_line *line,
			 const uint8_t *p, size_t n)
{
	lx_fix_kept(lx);
	line->dir = lx->dir;
	line->text.ptr = p;
	line->text.len = n;
	line->lits = lx->n_lits ? lx->lits : NULL;
	line->n_lits = lx->n_lits;
	line->ts_first_us = lx->ts_first;
	line->ts_last_us = lx->ts_last;
	line->frame_first = lx->frame_first;
	line->frame_last = lx->frame_last;
	line->off_first = lx->off_first;
	line->bare_lf = lx->bare_lf;
	line->overlong = lx->overlong;
	line->damaged = lx->damaged;
	line->cut = false;
	line->at_boundary = lx->line_boundary;
}

/* Hand out the finished logical line p..n and start a new one. */
static void lx_emit(struct imap_lexer *lx, const uint8_t *p, size_t n)
{
	struct imap_line line;

	lx_make_line(lx, &line, p, n);
	if (lx->hooks.line != NULL)
		lx->hooks.line(lx->hooks.ctx, &line);
	lx_reset_line(lx);
}

static void lx_enter_resync(struct imap_lexer *lx)
{
	lx_reset_line(lx);
	lx->state = LX_RESYNC;
	lx->resync_skip = false;
	lx->skipped = 0;
}

/* Remember the last bytes of a part whose text is no longer stored. */
static void lx_tail_push(struct imap_lexer *lx, const uint8_t *p, size_t n)
{
	if (n == 0)	/* p may be NULL (a text buffer --max-memory refused) */
		return;
	if (n >= LX_TAIL) {
		memcpy(lx->tail, p + n - LX_TAIL, LX_TAIL);
		lx->tail_len = LX_TAIL;
		return;
	}
	if (lx->tail_len + n > LX_TAIL) {
		size_t drop = lx->tail_len + n - LX_TAIL;

		memmove(lx->tail, lx->tail + drop, lx->tail_len - drop);
		lx->tail_len -= drop;
	}
	memcpy(lx->tail + lx->tail_len, p, n);
	lx->tail_len += n;
}

/* Append line bytes, up to IMAP_MAX_LINE; past it the line is cut and only
 * the part's tail is remembered. */
static void lx_text_add(struct imap_lexer *lx, const uint8_t *p, size_t n)
{
	size_t room = IMAP_MAX_LINE > lx->text.len ? IMAP_MAX_LINE - lx->text.len : 0;
	size_t take = n < room ? n : room;

	if (lx->cut_in_part) {
		lx_tail_push(lx, p, n);
		return;
	}
	if (take != 0 && buf_append(&lx->text, p, take) != 0)
		take = 0;	/* the memory budget said no: cut here */
	if (take == n)
		return;
	if (!lx->overlong)
		lx_notice(lx, NOTICE_LINE_CUT, "line longer than %zu bytes (or out of memory): cut",
			  (size_t)IMAP_MAX_LINE);
	lx->overlong = true;
	lx->cut_in_part = true;
	lx->tail_len = 0;
	{
		/* The tail starts with what of this part is stored. */
		size_t stored = lx->text.len - lx->part_start;
		size_t from = stored > LX_TAIL ? stored - LX_TAIL : 0;

		lx_tail_push(lx, lx->text.data + lx->part_start + from, stored - from);
	}
	lx_tail_push(lx, p + take, n - take);
}

/* --- literal markers -------------------------------------------------- */

static inline bool lx_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Does p..n end with a literal marker?  RFC 9051 section 9:
 *   literal  = "{" number64 ["+"] "}" CRLF *CHAR8
 *   literal8 = "~{" number64 "}" CRLF *OCTET     (BINARY, RFC 3516)
 *   number64 = 1*DIGIT                            (at most 2^63-1)
 * and "{" number "-}" for LITERAL- (RFC 7888).  Returns 1 with the size,
 * kind and marker length, 0 if there is none, -1 if the number does not fit
 * in 64 bits. */
static int lx_marker(const uint8_t *p, size_t n, uint64_t *size_r,
		     enum imap_lit_kind *kind_r, size_t *mlen_r)
{
	enum imap_lit_kind kind = IMAP_LIT_SYNC;
	size_t end, i;
	uint64_t v = 0;

	if (n < 3 || p[n - 1] != '}')
		return 0;
	end = n - 1;	/* one past the last digit */
	if (p[end - 1] == '+' || p[end - 1] == '-') {
		kind = p[end - 1] == '+' ? IMAP_LIT_PLUS : IMAP_LIT_MINUS;
		end--;
	}
	i = end;
	while (i > 0 && lx_is_digit(p[i - 1]))
		i--;
	if (i == end || i == 0 || p[i - 1] != '{')
		return 0;
	for (size_t k = i; k < end; k++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(p[k] - '0'), &v))
			return -1;
	}
	i--;	/* at the "{" */
	if (i > 0 && p[i - 1] == '~') {
		kind = IMAP_LIT_BINARY;
		i--;
	}
	*size_r = v;
	*kind_r = kind;
	*mlen_r = n - i;
	return 1;
}

static bool lx_word_is(const uint8_t *p, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n && w[i] != '\0'; i++) {
		if ((p[i] & ~0x20) != (uint8_t)w[i])
			return false;
	}
	return i == n && w[i] == '\0';
}

/* Server lines that never announce a literal (RFC 9051 section 7.1: the
 * resp-text of a status response is text, and so is a continuation's), so
 * that "* OK see {5}" at a line end is harmless:
 *   continue-req = "+" SP (resp-text / base64) CRLF
 *   resp-cond-state / resp-cond-bye / resp-cond-auth, tagged or "*" */
static bool lx_s2c_status(const uint8_t *p, size_t n)
{
	const uint8_t *sp, *w;
	size_t wn;

	if (n == 0)	/* p may be NULL: a line buffer --max-memory refused */
		return false;
	if (p[0] == '+')
		return true;
	sp = memchr(p, ' ', n);
	if (sp == NULL)
		return false;
	w = sp + 1;
	wn = (size_t)(p + n - w);
	sp = memchr(w, ' ', wn);
	if (sp != NULL)
		wn = (size_t)(sp - w);
	if (lx_word_is(w, wn, "OK") || lx_word_is(w, wn, "NO") || lx_word_is(w, wn, "BAD"))
		return true;
	return n >= 2 && p[0] == '*' && p[1] == ' ' &&
	       (lx_word_is(w, wn, "BYE") || lx_word_is(w, wn, "PREAUTH"));
}

/* Literal marker at the end of the part that ends text..n, as far as this
 * line may have one: see lx_marker. */
static int lx_part_marker(const struct imap_lexer *lx, const uint8_t *line, size_t line_n,
			  const uint8_t *part, size_t part_n, uint64_t *size_r,
			  enum imap_lit_kind *kind_r, size_t *mlen_r)
{
	int r = lx_marker(part, part_n, size_r, kind_r, mlen_r);

	if (r != 0 && lx->dir == DIR_S2C && lx->n_lits == 0 && lx_s2c_status(line, line_n))
		return 0;
	return r;
}

/* --- literals --------------------------------------------------------- */

static bool lx_lits_grow(struct imap_lexer *lx)
{
	size_t ncap = lx->lits_cap ? lx->lits_cap * 2 : LX_LITS_INITIAL;
	size_t per = sizeof *lx->lits + sizeof *lx->keep_off;
	struct imap_literal *nl;
	size_t *nk;

	if (ncap > IMAP_MAX_LITERALS)
		return false;
	if (mem_charge(lx->budget, (ncap - lx->lits_cap) * per) != 0)
		return false;
	nl = realloc(lx->lits, ncap * sizeof *nl);
	if (nl != NULL)
		lx->lits = nl;
	nk = nl ? realloc(lx->keep_off, ncap * sizeof *nk) : NULL;
	if (nk == NULL) {
		mem_release(lx->budget, (ncap - lx->lits_cap) * per);
		return false;
	}
	lx->keep_off = nk;
	lx->lits_cap = ncap;
	return true;
}

/* A part ended in a marker: start consuming its literal. */
static void lx_lit_begin(struct imap_lexer *lx, uint64_t size, enum imap_lit_kind kind)
{
	struct imap_literal *l;

	if (lx->n_lits == lx->lits_cap && !lx_lits_grow(lx)) {
		/* Still consumed by count, to keep sync; just not described. */
		lx_notice(lx, NOTICE_TOO_MANY_LITERALS, "more than %d literals in one line (or out of memory)",
			  IMAP_MAX_LITERALS);
		lx->damaged = true;
		l = &lx->scratch;
	} else {
		l = &lx->lits[lx->n_lits];
		lx->keep_off[lx->n_lits] = LX_NOT_KEPT;
		lx->n_lits++;
	}
	memset(l, 0, sizeof *l);
	l->size = size;
	l->kind = kind;
	l->text_off = lx->text.len;
	l->off = lx->lit_next;
	lx->cur = l;
	lx->lit_pos = 0;
	lx->keeping = false;
	if (l != &lx->scratch && size <= lx->literal_keep) {
		/* Reserve it all now, so that appends later cannot fail. */
		if (size == 0 || buf_reserve(&lx->kept, (size_t)size) != NULL) {
			lx->keep_off[lx->n_lits - 1] = lx->kept.len;
			l->kept.len = (size_t)size;
			lx->keeping = true;
		} else {
			lx_notice(lx, NOTICE_LITERAL_NOT_KEPT, "literal of %zu bytes not kept: memory cap", (size_t)size);
		}
	}
	lx->state = LX_LITERAL;
	if (lx->hooks.literal_begin != NULL) {
		struct imap_line partial;

		lx_make_line(lx, &partial, lx->text.data, lx->text.len);
		lx->hooks.literal_begin(lx->hooks.ctx, &partial);
	}
}

static void lx_lit_end(struct imap_lexer *lx)
{
	lx->state = LX_LINE;
	lx->part_start = lx->text.len;
	lx->cur = NULL;
	lx->keeping = false;
}

/* Past the cap (or the budget) the rest is simply not kept: an abandoned
 * literal then replays what it has and reports the rest lost. */
static void lx_replay_add(struct imap_lexer *lx, const uint8_t *p, size_t n)
{
	size_t room = LX_REPLAY_MAX - lx->replay.len;
	size_t take = n < room ? n : room;

	if (buf_append(&lx->replay, p, take) != 0 || take < n)
		lx->replay_stop = true;	/* the rest is replayed as lost */
}

static size_t lx_feed_literal(struct imap_lexer *lx, const uint8_t *p, size_t n,
			      int64_t ts)
{
	struct imap_literal *l = lx->cur;
	uint64_t rem = l->size - lx->lit_pos;
	size_t take = rem < n ? (size_t)rem : n;

	if (take != 0) {
		if (lx->hooks.literal_data != NULL)
			lx->hooks.literal_data(lx->hooks.ctx, p, take);
		if (lx->keeping && buf_append(&lx->kept, p, take) != 0)
			lx->keeping = false;	/* reserved; cannot happen */
		if (lx->dir == DIR_C2S && !lx->replay_stop)
			lx_replay_add(lx, p, take);
		l->received += take;
		lx->lit_pos += take;
		lx->ts_last = ts;
		lx->frame_last = lx_frame(lx);
	}
	if (lx->lit_pos == l->size)
		lx_lit_end(lx);
	return take;
}

/* --- line parts ------------------------------------------------------- */

/* The LF of a part arrived and its bytes are in text: strip the CR, then
 * either a literal starts or the logical line is done. */
static void lx_part_end(struct imap_lexer *lx)
{
	const uint8_t *part;
	size_t part_n, mlen;
	uint64_t size;
	enum imap_lit_kind kind;
	int r;

	if (lx->cut_in_part) {
		if (lx->tail_len > 0 && lx->tail[lx->tail_len - 1] == '\r')
			lx->tail_len--;
		else
			lx->bare_lf = true;
		part = lx->tail;
		part_n = lx->tail_len;
	} else {
		if (lx->text.len > lx->part_start && lx->text.data[lx->text.len - 1] == '\r')
			lx->text.len--;
		else
			lx->bare_lf = true;
		part = lx->text.data + lx->part_start;
		part_n = lx->text.len - lx->part_start;
	}
	r = lx_part_marker(lx, lx->text.data, lx->text.len, part, part_n, &size, &kind, &mlen);
	if (r < 0) {
		lx_notice(lx, NOTICE_LITERAL_SIZE_OVERFLOW, "literal size does not fit in 64 bits: resynchronising");
		lx->damaged = true;
		lx_emit(lx, lx->text.data, lx->text.len);
		lx_enter_resync(lx);
		return;
	}
	if (r == 0) {
		lx_emit(lx, lx->text.data, lx->text.len);
		return;
	}
	if (lx->cut_in_part && buf_append(&lx->text, part + part_n - mlen, mlen) != 0)
		lx->damaged = true;	/* the slack ran out: marker text lost */
	lx->cut_in_part = false;
	lx->tail_len = 0;
	lx_lit_begin(lx, size, kind);
}

/* A whole line p..n (LF excluded) inside the chunk, with nothing before it:
 * hand it out without a copy unless it announces a literal. */
static bool lx_try_direct(struct imap_lexer *lx, const uint8_t *p, size_t n)
{
	size_t len = n, mlen;
	uint64_t size;
	enum imap_lit_kind kind;
	bool bare = true;

	if (len > 0 && p[len - 1] == '\r') {
		len--;
		bare = false;
	}
	if (lx_part_marker(lx, p, len, p, len, &size, &kind, &mlen) != 0)
		return false;
	lx->bare_lf = bare;
	lx_emit(lx, p, len);
	return true;
}

static size_t lx_feed_line(struct imap_lexer *lx, const uint8_t *p, size_t n, int64_t ts)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t part = lf != NULL ? (size_t)(lf - p) : n;

	if (!lx->started) {
		lx->started = true;
		lx->ts_first = ts;
		lx->frame_first = lx_frame(lx);
		if (lx->text.len == 0) {
			lx->line_boundary = lx->at_boundary;
			lx->off_first = lx->pos;
		}
	}
	lx->ts_last = ts;
	lx->frame_last = lx_frame(lx);
	if (lf == NULL) {
		lx_text_add(lx, p, n);
		return n;
	}
	if (lx->text.len == 0 && lx->n_lits == 0 && !lx->overlong &&
	    part <= IMAP_MAX_LINE && lx_try_direct(lx, p, part))
		return part + 1;
	lx_text_add(lx, p, part);
	lx->lit_next = lx->pos + part + 1;
	lx_part_end(lx);
	return part + 1;
}

/* --- resynchronisation ------------------------------------------------ */

static bool lx_plausible(struct imap_lexer *lx, const uint8_t *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (lx->hooks.plausible != NULL)
		return lx->hooks.plausible(lx->hooks.ctx, lx->dir, p, n);
	return imap_line_plausible(lx->dir, p, n);
}

/* A candidate line was accepted: LINE takes over from its first byte, which
 * is still in text (if the candidate spanned chunks) or in the chunk. */
static void lx_resync_done(struct imap_lexer *lx)
{
	if (lx->skipped != 0)
		lx_notice(lx, NOTICE_RESYNC, "resynchronised after skipping %llu bytes",
			  (unsigned long long)lx->skipped);
	lx->state = LX_LINE;
	lx->started = lx->text.len != 0;
}

/* The old bytes collected as a candidate and extra more are dropped. */
static void lx_skip(struct imap_lexer *lx, size_t old, uint64_t extra)
{
	lx->skipped += old + extra;
	if (lx->hooks.skipped != NULL)
		lx->hooks.skipped(lx->hooks.ctx, lx->dir, lx->pos - old, old + extra);
}

static size_t lx_feed_resync(struct imap_lexer *lx, const uint8_t *p, size_t n, int64_t ts)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t part = lf != NULL ? (size_t)(lf - p) : n;
	size_t old = lx->text.len;

	if (lx->resync_skip || old + part > IMAP_MAX_LINE) {
		lx_skip(lx, old, part + (lf != NULL));
		buf_reset(&lx->text);
		lx->resync_skip = lf == NULL;
		return part + (lf != NULL);
	}
	if (old == 0) {
		lx->ts_first = ts;
		lx->frame_first = lx_frame(lx);
		lx->line_boundary = lx->at_boundary;
		lx->off_first = lx->pos;
	}
	if (lf == NULL) {
		if (buf_append(&lx->text, p, n) != 0) {
			lx_skip(lx, old, n);
			buf_reset(&lx->text);
			lx->resync_skip = true;
		}
		return n;
	}
	if (old == 0) {
		if (lx_plausible(lx, p, part)) {
			lx_resync_done(lx);
			return 0;
		}
	} else if (buf_append(&lx->text, p, part) == 0) {
		bool ok = lx_plausible(lx, lx->text.data, lx->text.len);

		lx->text.len = old;
		if (ok) {
			lx_resync_done(lx);
			return 0;
		}
	}
	lx_skip(lx, old, part + 1);
	buf_reset(&lx->text);
	return part + 1;
}

/* --- the public calls ------------------------------------------------- */

void imap_lexer_frames(struct imap_lexer *lx, const uint64_t *src)
{
	lx->frame_src = src;
}

void imap_lexer_feed(struct imap_lexer *lx, const uint8_t *p, size_t n, int64_t ts_us)
{
	while (n > 0) {
		size_t used;

		switch (lx->state) {
		case LX_LITERAL:
			used = lx_feed_literal(lx, p, n, ts_us);
			break;
		case LX_RESYNC:
			used = lx_feed_resync(lx, p, n, ts_us);
			break;
		case LX_LINE:
		default:
			used = lx_feed_line(lx, p, n, ts_us);
			break;
		}
		/* used == 0 only when the state changed (a zero-length literal
		 * ended, or resync accepted a line), so this terminates. */
		if (used != 0)
			lx->at_boundary = false;
		lx->pos += used;
		p += used;
		n -= used;
	}
}

/* A gap took the end of the logical line in progress: what arrived of it
 * goes up marked cut, so that a head that says enough ("A1 OK [CAPA") is
 * still reported. */
static void lx_emit_cut(struct imap_lexer *lx, int64_t ts)
{
	struct imap_line line;
	size_t n = lx->text.len;

	if (lx->state == LX_LITERAL) {
		lx->cur->truncated = true;
		lx->keeping = false;
		lx->damaged = true;
	} else if (n > lx->part_start && lx->text.data[n - 1] == '\r') {
		n--;
	}
	if (n == 0 && lx->n_lits == 0)
		return;
	lx->ts_last = ts > lx->ts_last ? ts : lx->ts_last;
	lx_make_line(lx, &line, lx->text.data, n);
	line.cut = true;
	if (lx->hooks.line != NULL)
		lx->hooks.line(lx->hooks.ctx, &line);
	lx_reset_line(lx);
}

static void lx_gap(struct imap_lexer *lx, uint64_t nbytes, int64_t ts_us)
{
	if (lx->state == LX_LITERAL && nbytes <= lx->cur->size - lx->lit_pos) {
		/* The count absorbs the hole: the literal is short, sync holds. */
		lx->replay_stop = true;
		lx->cur->truncated = true;
		lx->keeping = false;
		lx->damaged = true;
		lx->lit_pos += nbytes;
		lx->ts_last = ts_us;
		if (lx->lit_pos == lx->cur->size)
			lx_lit_end(lx);
		return;
	}
	if (lx->state == LX_RESYNC) {
		/* A candidate that began a segment and already reads as a
		 * line ("A1 OK [CAPABILITY ...") is a cut line, not noise. */
		if (!lx->resync_skip && lx->text.len > 0 && lx->line_boundary &&
		    lx_plausible(lx, lx->text.data, lx->text.len)) {
			lx_resync_done(lx);
			lx_emit_cut(lx, ts_us);
			lx_enter_resync(lx);
			return;
		}
		lx_skip(lx, lx->text.len, 0);
		buf_reset(&lx->text);
		lx->resync_skip = false;
		return;
	}
	if (lx->started || lx->state == LX_LITERAL)
		lx_emit_cut(lx, ts_us);
	lx_enter_resync(lx);
}

void imap_lexer_gap(struct imap_lexer *lx, uint64_t nbytes, int64_t ts_us)
{
	if (nbytes == 0)
		return;
	lx_gap(lx, nbytes, ts_us);
	lx->pos += nbytes;
}

uint64_t imap_lexer_line_off(const struct imap_lexer *lx)
{
	return lx->started || lx->state == LX_LITERAL ? lx->off_first : lx->pos;
}

bool imap_lexer_idle(const struct imap_lexer *lx)
{
	if (lx->state == LX_RESYNC)
		return lx->text.len == 0;
	return lx->state == LX_LINE && !lx->started && lx->n_lits == 0;
}

bool imap_lexer_in_sync_literal(const struct imap_lexer *lx)
{
	return lx->state == LX_LITERAL && lx->dir == DIR_C2S &&
	       lx->cur->kind == IMAP_LIT_SYNC && lx->lit_pos == 0;
}

void imap_lexer_literal_refused(struct imap_lexer *lx)
{
	if (!imap_lexer_in_sync_literal(lx))
		return;
	lx->cur->truncated = true;
	lx->state = LX_LINE;
	lx_emit(lx, lx->text.data, lx->text.len);
}

/* The literal's bytes so far as a new copy (budget-charged); *lost_r is
 * what of them was not kept.  NULL with *n_r 0 when none were. */
static uint8_t *lx_literal_copy(struct imap_lexer *lx, size_t *n_r, uint64_t *lost_r)
{
	const uint8_t *src = lx->replay.data;
	size_t n = lx->replay.len;
	uint8_t *copy;

	*n_r = 0;
	*lost_r = lx->lit_pos;
	if (n == 0 || mem_charge(lx->budget, n) != 0)
		return NULL;
	if ((copy = malloc(n)) == NULL) {
		mem_release(lx->budget, n);
		return NULL;
	}
	memcpy(copy, src, n);
	*n_r = n;
	*lost_r = lx->lit_pos - n;
	return copy;
}

uint64_t imap_lexer_literal_abandon(struct imap_lexer *lx)
{
	int64_t ts_us = lx->ts_last;	/* when those bytes came */
	uint64_t saved_pos;
	uint8_t *copy;
	size_t n;
	uint64_t lost;

	if (lx->dir != DIR_C2S || lx->state != LX_LITERAL)
		return 0;
	copy = lx_literal_copy(lx, &n, &lost);
	/* Read again from a copy that may join several literals' bytes: no
	 * longer where the stream has them, so the offsets of what is read
	 * again are a guess (the tap's marks are hidden for that line: see
	 * check_literal_refused), and pos is put back after. */
	saved_pos = lx->pos;
	lx->pos -= lx->lit_pos;
	lx->cur->truncated = true;
	lx->keeping = false;
	lx->state = LX_LINE;
	lx_emit(lx, lx->text.data, lx->text.len);
	if (n != 0)
		imap_lexer_feed(lx, copy, n, ts_us);
	if (lost != 0)
		imap_lexer_gap(lx, lost, ts_us);	/* what was not kept is a hole */
	lx->pos = saved_pos;
	if (copy != NULL)
		mem_release(lx->budget, n);
	free(copy);
	return lost;
}

void imap_lexer_finish(struct imap_lexer *lx)
{
	/* Inside a literal the line text is only its head: the literal's own
	 * figures say what was lost (a {4294967296} cut after 8 MB). */
	if (lx->state == LX_LITERAL)
		lx_notice(lx, NOTICE_END_IN_LITERAL, "stream ended inside a literal of %llu bytes after %llu: "
			  "line of %zu bytes dropped", (unsigned long long)lx->cur->size,
			  (unsigned long long)lx->lit_pos, lx->text.len);
	else if (lx->state != LX_RESYNC && lx->started)
		lx_notice(lx, NOTICE_END_IN_LINE, "stream ended inside a line: %zu bytes dropped", lx->text.len);
	lx_reset_line(lx);
	lx->state = LX_LINE;
}

/* --- tokens over a finished line -------------------------------------- */

void imap_tok_init(struct imap_tok_cursor *c, const struct imap_line *line, size_t pos)
{
	c->line = line;
	c->pos = pos < line->text.len ? pos : line->text.len;
	c->lit_index = 0;
	c->depth = 0;
	c->too_deep = false;
	/* Literals whose markers lie before pos are behind us. */
	while (c->lit_index < line->n_lits && line->lits[c->lit_index].text_off <= c->pos)
		c->lit_index++;
}

/* Bytes that end an atom here: not ATOM-CHAR's atom-specials but the
 * tokenizer's own, more lenient class (imap_chars.h, IMAP_CH_WORD). */
static enum imap_tok_type tok_done(struct imap_tok_cursor *c, struct imap_tok *tok,
				   enum imap_tok_type type, size_t start, size_t end)
{
	const uint8_t *p = c->line->text.ptr;

	tok->type = type;
	tok->raw.ptr = p + start;
	tok->raw.len = end - start;
	if (tok->value.ptr == NULL)
		tok->value = tok->raw;
	c->pos = end;
	return type;
}

static enum imap_tok_type tok_error(struct imap_tok_cursor *c, struct imap_tok *tok,
				    size_t start)
{
	/* Nothing after an error is trusted: the cursor goes to the end. */
	return tok_done(c, tok, IMAP_TOK_ERROR, start, c->line->text.len);
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE
 * QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials
 * Returns the index of the closing quote, or 0 if there is none. */
static size_t tok_quote_end(const uint8_t *p, size_t n, size_t open)
{
	for (size_t i = open + 1; i < n; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '"')
			return i;
	}
	return 0;
}

/* A section after an atom, from its "[" to just past "]" and an optional
 * partial "<0.100>":  section = "[" [section-spec] "]";
 * partial = "<" number "." nz-number ">".  Brackets and parentheses nest up
 * to the depth cap; quoted strings inside are skipped.  0 on error. */
static size_t tok_section_end(struct imap_tok_cursor *c, size_t open)
{
	const uint8_t *p = c->line->text.ptr;
	size_t n = c->line->text.len, i;
	int depth = c->depth;

	for (i = open; i < n; i++) {
		if (p[i] == '"') {
			if ((i = tok_quote_end(p, n, i)) == 0)
				return 0;
		} else if (p[i] == '[' || p[i] == '(') {
			if (++depth > IMAP_MAX_DEPTH) {
				c->too_deep = true;
				return 0;
			}
		} else if ((p[i] == ']' || p[i] == ')') && --depth == c->depth) {
			break;
		}
	}
	if (i >= n || p[i] != ']')
		return 0;
	i++;
	if (i < n && p[i] == '<') {
		const uint8_t *gt = memchr(p + i, '>', n - i);

		if (gt == NULL)
			return 0;
		i = (size_t)(gt - p) + 1;
	}
	return i;
}

/* A literal marker at pos ("{5}", "{5+}", "{5-}", "~{5}"): if it is the one
 * the lexer recorded next, a TOK_LITERAL; else an ordinary atom. */
static enum imap_tok_type tok_literal(struct imap_tok_cursor *c, struct imap_tok *tok)
{
	const uint8_t *p = c->line->text.ptr;
	size_t n = c->line->text.len, start = c->pos, i = start;
	const uint8_t *close;

	if (p[i] == '~')
		i++;
	close = memchr(p + i, '}', n - i);
	if (close != NULL && c->lit_index < c->line->n_lits &&
	    c->line->lits[c->lit_index].text_off == (size_t)(close - p) + 1) {
		tok->lit = &c->line->lits[c->lit_index++];
		return tok_done(c, tok, IMAP_TOK_LITERAL, start, (size_t)(close - p) + 1);
	}
	/* Not a literal: "{" as text, e.g. in a status response's text. */
	for (i = start + 1; i < n && p[i] != ' ' && p[i] != ')' && p[i] != '('; i++)
		;
	return tok_done(c, tok, IMAP_TOK_ATOM, start, i);
}

static enum imap_tok_type tok_atom(struct imap_tok_cursor *c, struct imap_tok *tok)
{
	const uint8_t *p = c->line->text.ptr;
	size_t n = c->line->text.len, start = c->pos, i = start, end;

	while (i < n && imap_char_is_word(p[i]))
		i++;
	if (i < n && p[i] == '[') {
		if ((end = tok_section_end(c, i)) == 0)
			return tok_error(c, tok, start);
		return tok_done(c, tok, IMAP_TOK_SECTION, start, end);
	}
	if (i == start)	/* a CTL byte: no token can start here */
		return tok_error(c, tok, start);
	return tok_done(c, tok, IMAP_TOK_ATOM, start, i);
}

enum imap_tok_type imap_tok_next(struct imap_tok_cursor *c, struct imap_tok *tok)
{
	const uint8_t *p = c->line->text.ptr;
	size_t n = c->line->text.len, start, end;

	memset(tok, 0, sizeof *tok);
	while (c->pos < n && p[c->pos] == ' ')
		c->pos++;
	start = c->pos;
	if (start >= n)
		return tok_done(c, tok, IMAP_TOK_END, n, n);
	switch (p[start]) {
	case '(':
		if (++c->depth > IMAP_MAX_DEPTH) {
			c->too_deep = true;
			return tok_error(c, tok, start);
		}
		return tok_done(c, tok, IMAP_TOK_LPAREN, start, start + 1);
	case ')':
		if (c->depth > 0)
			c->depth--;
		return tok_done(c, tok, IMAP_TOK_RPAREN, start, start + 1);
	case '"':
		if ((end = tok_quote_end(p, n, start)) == 0)
			return tok_error(c, tok, start);
		tok->value.ptr = p + start + 1;
		tok->value.len = end - start - 1;
		return tok_done(c, tok, IMAP_TOK_QUOTED, start, end + 1);
	case '{':
		return tok_literal(c, tok);
	case '~':
		if (start + 1 < n && p[start + 1] == '{')
			return tok_literal(c, tok);
		return tok_atom(c, tok);
	default:
		return tok_atom(c, tok);
	}
}

int imap_unquote(struct buf *out, struct buf_slice q)
{
	size_t i = 0;

	while (i < q.len) {
		const uint8_t *bs = memchr(q.ptr + i, '\\', q.len - i);
		size_t run = bs != NULL ? (size_t)(bs - q.ptr) - i : q.len - i;

		if (run != 0 && buf_append(out, q.ptr + i, run) != 0)
			return -1;
		i += run;
		if (bs == NULL)
			break;
		/* "\" quoted-specials only: DQUOTE or "\" */
		if (i + 1 >= q.len || (q.ptr[i + 1] != '"' && q.ptr[i + 1] != '\\'))
			return -1;
		if (buf_append(out, q.ptr + i + 1, 1) != 0)
			return -1;
		i += 2;
	}
	return 0;
}

void imap_lexer_boundary(struct imap_lexer *lx)
{
	lx->at_boundary = true;
}

uint64_t imap_lexer_literal_left(const struct imap_lexer *lx)
{
	return lx->state == LX_LITERAL ? lx->cur->size - lx->lit_pos : 0;
}
