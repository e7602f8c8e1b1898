/* What the arguments of a command and the data of a response say, decoded:
 * mailbox names, sequence sets, flag lists, capability lists, untagged
 * FETCH data.
 *
 * Pure functions over a finished logical line (imap/imap_lexer.h).  Slices
 * they return point into the line's text, into a literal's kept contents,
 * or into the caller's buffer named in each prototype; they are valid as
 * long as those are.  Nothing here allocates except through the caller's
 * struct buf (bounded, charged to its budget).  Nesting is walked with the
 * tokenizer's own depth cap (IMAP_MAX_DEPTH), never by recursion. */
#ifndef IMAPSCOPE_IMAP_ARGS_H
#define IMAPSCOPE_IMAP_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_event.h"
#include "imap/imap_lexer.h"
#include "imap/imap_vocab.h"
#include "util/buf.h"

/* Longest mailbox name decoded (wire bytes, after unquoting); a longer
 * one is unknown (null), not cut. */
#define IMAP_ARGS_MAX_MAILBOX 1024
/* Room in a names buffer for the two names one command carries. */
#define IMAP_ARGS_NAMES_MAX   (2 * 2 * IMAP_ARGS_MAX_MAILBOX)
/* Body sections of one FETCH response described; more are not. */
#define IMAP_FETCH_MAX_SECTIONS 16

/* A number as IMAP writes it (digits only, no sign) into *v_r; false when
 * s is not one or does not fit 64 bits (*v_r is then untouched). */
bool imap_args_number(struct buf_slice s, uint64_t *v_r);

/* Modified UTF-7 (RFC 3501 / RFC 9051 section 5.1.3) p..n to UTF-8,
 * appended to out.  Returns 0 when decoded, 1 when p..n is not valid
 * modified UTF-7 (8-bit bytes as with UTF8=ACCEPT, a bad base64 run, an
 * unpaired surrogate, a printable character needlessly encoded): out is
 * then unchanged and the caller keeps the name as sent; -1 when out could
 * not grow.  p must not point into out. */
int imap_mutf7_decode(struct buf *out, const uint8_t *p, size_t n) WUR;

/* A mailbox token's name appended to out: an atom, a quoted string with
 * its escapes undone, or a literal's kept contents, then modified UTF-7
 * decoded where it is valid (kept as sent where it is not).  0, or -1 when
 * the token is no string, a literal was not kept, the name is longer than
 * IMAP_ARGS_MAX_MAILBOX, or out could not grow (out is then unchanged). */
int imap_args_mailbox(struct buf *out, const struct imap_tok *t) WUR;

/* The decoded arguments of a command with id (struct command_facts; see
 * imap/imap_event.h for which command fills which field), from the line's
 * text at args_off.  Mailbox names are decoded into names (reset first,
 * at most IMAP_ARGS_NAMES_MAX bytes wanted); every other field is a slice
 * of the line (a literal as its kept contents).  What is absent, malformed
 * or not captured stays null.  f->id is set to id. */
void imap_args_command(enum imap_cmd_id id, const struct imap_line *line, size_t args_off,
		       struct buf *names, struct command_facts *f);

/* --- sequence sets --------------------------------------------------- */

#define IMAP_SEQ_STAR UINT64_MAX	/* "*": the largest number in use */

/* One element of a sequence set: lo <= hi ("5:3" is 3..5, "*" alone is
 * STAR..STAR, "4:*" is 4..STAR). */
struct imap_seq_range {
	uint64_t lo, hi;
};

struct imap_seq_iter {
	struct buf_slice set;
	size_t pos;
};

void imap_seqset_init(struct imap_seq_iter *it, struct buf_slice set);
/* 1 and the next range in r, 0 at the end, -1 when the rest is not a
 * sequence set (a zero, an overflow, "$", stray bytes); the walk stops. */
int imap_seqset_next(struct imap_seq_iter *it, struct imap_seq_range *r);

/* --- UIDPLUS response codes (RFC 4315) ------------------------------ */

/* "[APPENDUID 38505 3955]" and "[COPYUID 38505 304,319:320 3956:3958]":
 * the target's UIDVALIDITY, the source UIDs (COPYUID only; null for
 * APPENDUID) and the new UIDs, as sent (slices of args). */
struct imap_uidplus {
	uint64_t uidvalidity;
	struct buf_slice src;
	struct buf_slice dst;
};

/* args: struct resp_code.args of the code.  true when they hold a valid
 * code's arguments (r filled), false otherwise (r zeroed). */
bool imap_args_appenduid(struct buf_slice args, struct imap_uidplus *r);
bool imap_args_copyuid(struct buf_slice args, struct imap_uidplus *r);

/* COPYUID's sets walked in step: the n-th source UID became the n-th
 * destination UID (RFC 4315 section 3). */
struct imap_uidpair_iter {
	struct imap_seq_iter src, dst;
	struct imap_seq_range rs, rd;	/* the ranges being walked */
	uint64_t next_s, next_d;	/* their next UIDs */
	bool have_s, have_d;
};
void imap_uidpair_init(struct imap_uidpair_iter *it, const struct imap_uidplus *u);
/* 1 and the next pair, 0 at the end of both, -1 when the sets differ in
 * size, hold "*", or are malformed (the walk stops). */
int imap_uidpair_next(struct imap_uidpair_iter *it, uint64_t *src_r, uint64_t *dst_r);

/* --- flag lists ------------------------------------------------------ */

struct imap_flag_iter {
	struct buf_slice list;
	size_t pos;
};

/* list: the flags with or without their parentheses ("\Seen $Junk"). */
void imap_flags_init(struct imap_flag_iter *it, struct buf_slice list);
/* true and the next flag as sent ("\Seen", "$Junk"), false at the end. */
bool imap_flags_next(struct imap_flag_iter *it, struct buf_slice *flag_r);

/* --- capabilities ---------------------------------------------------- */

/* The capability list list ("IMAP4rev1 STARTTLS AUTH=PLAIN", without the
 * word CAPABILITY) into c: c->known, the bits of the names in IMAP_CAPS,
 * AUTH=x as bits of enum imap_sasl_mech (an unknown mechanism sets the
 * IMAP_SASL_OTHER bit) and c->text = list (the caller points it at its own
 * copy when the list must outlive the line). */
void imap_args_capset(struct imap_capset *c, struct buf_slice list);

/* --- untagged FETCH -------------------------------------------------- */

/* Where the sections of one FETCH response are described; the caller's,
 * reused line after line. */
struct imap_fetch_store {
	struct buf_slice sections[IMAP_FETCH_MAX_SECTIONS];
	uint64_t sizes[IMAP_FETCH_MAX_SECTIONS];
	struct buf_slice values[IMAP_FETCH_MAX_SECTIONS];
};

/* "* 12 FETCH (...)" into f: sequence number, UID, RFC822.SIZE, MODSEQ,
 * FLAGS, the ENVELOPE's date, subject, from (the address list as sent,
 * parentheses included) and message-id, and the body sections (BODY[...],
 * BINARY[...], RFC822, RFC822.HEADER, RFC822.TEXT as named on the wire)
 * with their sizes (a literal's announced size, a quoted string's length,
 * FACT_NONE for NIL), in st.  Envelope strings are a quoted string's
 * contents (escapes kept, RFC 2047 words as sent), a literal's kept
 * contents, or null (NIL, not kept).  Returns 0, or -1 when the line is no
 * FETCH response (f is then zeroed).  What a malformed list hides stays
 * unknown; what came before it is kept. */
int imap_args_fetch(const struct imap_line *line, struct fetch_facts *f,
		    struct imap_fetch_store *st) WUR;
/* The same by the token walk alone: imap_args_fetch() reads common lines
 * by bytes first, and the tests check that both give the same facts. */
int imap_args_fetch_walk(const struct imap_line *line, struct fetch_facts *f,
			 struct imap_fetch_store *st) WUR;

/* One address of an address list ("((name adl mailbox host) ...)", as
 * struct fetch_facts.from gives it): the first one's parts, each a quoted
 * string's contents or null.  false when list holds no address. */
struct imap_address {
	struct buf_slice name, mailbox, host;
};
bool imap_args_first_address(struct buf_slice list, struct imap_address *a_r);

#endif
