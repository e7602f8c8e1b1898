/* The IMAP lexer: push-fed framing of one direction's byte stream into
 * logical lines, and a tokenizer over a finished line.
 *
 * A logical line is a line plus every literal it announces: for
 *   A1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n
 * the line text is "A1 LOGIN {5} {6}" (literal markers kept in place, their
 * contents not), with two struct imap_literal entries.  Literal contents are
 * consumed by count, never read as lines; they are streamed to a hook and
 * kept in memory only up to a limit.
 *
 *   feed -> [line bytes] -> literal? -> [literal bytes by count] -> ... -> line()
 *
 * Lines end with CRLF or a bare LF (both are normal traffic). */
#ifndef IMAPSCOPE_IMAP_LEXER_H
#define IMAPSCOPE_IMAP_LEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/byte_layer.h"
#include "util/notice.h"

#define IMAP_MAX_LINE            (64 * 1024)	/* text of one logical line */
#define IMAP_MAX_LITERALS        256		/* literals tracked per line */
#define IMAP_DEFAULT_LITERAL_KEEP (64 * 1024)	/* literal bytes kept in memory */
#define IMAP_MAX_DEPTH           64		/* nesting of ( ) and [ ] */

enum imap_lit_kind {
	IMAP_LIT_SYNC,		/* {n}: the client waits for "+" */
	IMAP_LIT_PLUS,		/* {n+}: LITERAL+, no wait */
	IMAP_LIT_MINUS,		/* {n-}: LITERAL-, no wait */
	IMAP_LIT_BINARY,	/* ~{n}: BINARY */
};

struct imap_literal {
	uint64_t size;		/* announced */
	uint64_t received;	/* bytes that arrived; < size if cut short */
	enum imap_lit_kind kind;
	size_t text_off;	/* offset in the line text just past the marker */
	uint64_t off;		/* stream offset of its first byte (see
				   imap_line.off_first) */
	struct buf_slice kept;	/* the contents when size <= keep limit and
				   nothing was lost, else { NULL, 0 } */
	bool truncated;		/* a gap cut it, or it was never sent */
};

struct imap_line {
	enum stream_dir dir;
	struct buf_slice text;	/* without the final line end */
	struct imap_literal *lits;
	size_t n_lits;
	int64_t ts_first_us;	/* the first byte of the logical line */
	int64_t ts_last_us;	/* its last byte */
	/* The frames (imap_lexer_frames) current when its first and its
	 * last byte were fed; 0 without a source. */
	uint64_t frame_first, frame_last;
	/* Stream offset of its first byte: the bytes fed and the gap bytes
	 * told to the lexer before it (so the offset in the final stream
	 * when the lexer was fed all of it, as the session's are). */
	uint64_t off_first;
	bool bare_lf;		/* some part ended in LF without CR */
	bool overlong;		/* the text passed IMAP_MAX_LINE and was cut */
	bool damaged;		/* a gap fell inside it */
	/* A gap took its end: text and literals are what was captured before
	 * it (a literal in progress is marked truncated), and the lexer is
	 * resynchronising.  The caller decides whether the head is worth
	 * reporting. */
	bool cut;
	/* Its first byte was the first of a chunk after imap_lexer_boundary(). */
	bool at_boundary;
};

struct imap_lexer_hooks {
	void *ctx;
	/* A complete logical line.  line and everything it points to are
	 * valid only during the call. */
	void (*line)(void *ctx, const struct imap_line *line);
	/* A literal is about to start; partial holds the line so far (its
	 * last literal is the one starting).  May be NULL. */
	void (*literal_begin)(void *ctx, const struct imap_line *partial);
	/* Contents of the current literal, as they arrive.  May be NULL. */
	void (*literal_data)(void *ctx, const uint8_t *p, size_t n);
	/* While resynchronising: may this line start be trusted?  p..n is a
	 * whole line without its end.  NULL: imap_line_plausible() is used. */
	bool (*plausible)(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n);
	/* While resynchronising, bytes off..off+len of the stream (see
	 * imap_line.off_first) were dropped as no line.  May be NULL. */
	void (*skipped)(void *ctx, enum stream_dir dir, uint64_t off, uint64_t len);
	/* A one-line notice (text is not NUL-terminated wire data: escape). */
	notice_fn *notice;
	/* Hooks must not call back into the lexer that called them (calling
	 * the other direction's lexer is fine). */
};

struct imap_lexer;

/* mid_stream: the stream starts at an unknown point, so the lexer first
 * resynchronises (skips to a plausible line).  literal_keep: literal bytes
 * kept in memory per literal. */
struct imap_lexer *imap_lexer_new(enum stream_dir dir, bool mid_stream,
				  size_t literal_keep, struct mem_budget *budget,
				  const struct imap_lexer_hooks *hooks);
/* Consume n bytes; everything is consumed (what is incomplete is kept). */
void imap_lexer_feed(struct imap_lexer *lx, const uint8_t *p, size_t n, int64_t ts_us);
/* nbytes of the stream are missing.  Inside a literal the count absorbs
 * them and sync is kept; elsewhere the partial line is handed out with
 * line.cut set (line() is called from inside this call) and the lexer
 * resynchronises. */
void imap_lexer_gap(struct imap_lexer *lx, uint64_t nbytes, int64_t ts_us);
/* Client side: the last line ended with a synchronising literal and the
 * server refused it (tagged NO/BAD before "+"), so the literal will never
 * come: the logical line is finished as it stands (line() is called with the
 * literal marked truncated) and the next bytes are a new line. */
void imap_lexer_literal_refused(struct imap_lexer *lx);
/* True while waiting for the contents of a synchronising literal: client
 * side only, and only before its first byte arrived (the one moment when
 * imap_lexer_literal_refused() applies; it is a no-op otherwise). */
bool imap_lexer_in_sync_literal(const struct imap_lexer *lx);
/* Client side, inside a literal of any kind: the server showed that the
 * literal did not happen (it refused the command, or answered commands sent
 * after it).  The logical line is finished as it stands (line() is called
 * with the literal marked truncated) and the bytes consumed as its contents
 * are read again as lines, stamped when the last of them arrived (up to IMAP_MAX_LINE of them are kept for this;
 * line() is called for each).  Returns the bytes that could not be read
 * again (the lexer then resynchronises), 0 if all were.  No-op outside a
 * client literal.  Must not be called from this lexer's own hooks. */
uint64_t imap_lexer_literal_abandon(struct imap_lexer *lx);
/* End of stream: a partial line is reported as a notice and dropped. */
void imap_lexer_finish(struct imap_lexer *lx);
/* The next byte fed starts a chunk of the capture (a TCP segment): a line
 * that begins there is marked at_boundary, a hint that it really begins a
 * line when the stream was picked up mid-way. */
void imap_lexer_boundary(struct imap_lexer *lx);
/* Where the lexer reads the capture record of the bytes it is fed (a
 * frame id, util/byte_layer.h), for imap_line's frames: *src is read at
 * every feed, never written.  src must outlive the lexer; NULL: none. */
void imap_lexer_frames(struct imap_lexer *lx, const uint64_t *src);
/* Stream offset of the first byte of the logical line in progress (the
 * next byte's when none is). */
uint64_t imap_lexer_line_off(const struct imap_lexer *lx);
/* No logical line is in progress (nothing of one arrived, or the lexer
 * skips bytes while resynchronising): every byte fed so far has been
 * handed out in a line or skipped. */
bool imap_lexer_idle(const struct imap_lexer *lx);
/* Bytes of the current literal still to come (0 outside a literal): the
 * caller may feed that many in one piece without looking for line ends. */
uint64_t imap_lexer_literal_left(const struct imap_lexer *lx);
void imap_lexer_free(struct imap_lexer **lx);

/* Default resynchronisation test: s2c lines "* " + a known response name
 * (or number + EXISTS/RECENT/EXPUNGE/FETCH), "+ ", "+" or "TAG OK|NO|BAD";
 * c2s lines "TAG COMMAND" with a known command name and fitting arguments,
 * or "DONE".  Tags must look like real ones (short, with a digit, or one
 * character) so that body text ("Hello world", "Please check") is
 * refused, and status responses need text.  Lives in imap_parser.c. */
bool imap_line_plausible(enum stream_dir dir, const uint8_t *p, size_t n);

/* --- tokens over a finished line ------------------------------------ */

enum imap_tok_type {
	IMAP_TOK_END = 0,	/* no more tokens */
	IMAP_TOK_ATOM,		/* also numbers, NIL, flags like \Seen */
	IMAP_TOK_QUOTED,	/* value has the quotes removed, escapes kept */
	IMAP_TOK_LITERAL,	/* lit points to the literal entry */
	IMAP_TOK_LPAREN,
	IMAP_TOK_RPAREN,
	IMAP_TOK_SECTION,	/* a [...] group following an atom, e.g.
				   BODY[HEADER.FIELDS (FROM)]<0.100>, whole;
				   also a bare [...] (a response code) */
	IMAP_TOK_ERROR,		/* unterminated quote, depth cap, control
				   byte; the cursor moves to the end */
};

struct imap_tok {
	enum imap_tok_type type;
	struct buf_slice raw;		/* the token as it stands in the text */
	struct buf_slice value;		/* atom text, quoted contents; for
					   sections and literals, = raw */
	const struct imap_literal *lit;	/* IMAP_TOK_LITERAL only */
};

struct imap_tok_cursor {
	const struct imap_line *line;
	size_t pos;
	size_t lit_index;
	int depth;
	bool too_deep;	/* an IMAP_TOK_ERROR came from IMAP_MAX_DEPTH */
};

/* Start at text offset pos (e.g. imap_command.args_off); literals whose
 * markers lie before pos are skipped.  line must outlive the cursor. */
void imap_tok_init(struct imap_tok_cursor *c, const struct imap_line *line, size_t pos);
/* Next token, skipping spaces.  Returns its type (also in tok->type). */
enum imap_tok_type imap_tok_next(struct imap_tok_cursor *c, struct imap_tok *tok);
/* Decode a quoted string's escapes (\\ and \") into out; -1 on failure. */
int imap_unquote(struct buf *out, struct buf_slice quoted_value) WUR;

#endif
