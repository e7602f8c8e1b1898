/* Escaping of wire bytes for people and for JSON.
 *
 * Nothing from the wire reaches a terminal or a JSON line unescaped, and
 * nothing that a terminal draws as nothing (or as something it is not)
 * passes either.  Text and JSON show the same escaped form:
 *
 *   printable ASCII             as is
 *   C0 controls, DEL            \xNN                 (\x1b, \x0a)
 *   each byte of invalid UTF-8  \xNN                 (overlong forms,
 *                                UTF-8-encoded surrogates, past U+10FFFF,
 *                                truncated sequences, stray bytes)
 *   a hidden character          \u{X}, 4 to 6 lowercase hex digits
 *                                (escape_hidden below: C1 controls, format
 *                                and bidi controls, zero-width and invisible
 *                                characters, private use, unassigned)
 *   any other valid UTF-8       as is
 *   a '\' followed by 'x'/'u'   \x5c, so that wire text reading "\x1b"
 *                                is never taken for an escaped ESC
 *   any other '\'               as is (IMAP flags stay "\Seen")
 *
 * Read back left to right, "\xNN" is the byte 0xNN, "\u{X}" the character
 * U+X, and every other backslash itself: that gives the wire bytes exactly,
 * so byte 0xff ("\xff") and a real "ÿ" (passed as is) never look alike.
 *
 * escape_json writes that form as the inside of a JSON string (quote and
 * backslash escaped), so the value a JSON parser returns is the escaped
 * form: printable, valid UTF-8, and safe to print with jq -r.
 *
 * Both append to out and return 0, or -1 if out could not grow (out is then
 * left with a prefix of the escaped text). */
#ifndef IMAPSCOPE_UTIL_ESCAPE_H
#define IMAPSCOPE_UTIL_ESCAPE_H

#include "util/buf.h"

int escape_text(struct buf *out, const uint8_t *p, size_t n) WUR;
int escape_json(struct buf *out, const uint8_t *p, size_t n) WUR;

/* For text imapscope made, whose wire bytes went through escape_text already
 * (a notice quoting a line): every backslash there stays one, so the quote
 * is not escaped twice; everything else is escaped as above, so a quote that
 * missed escape_text still shows nothing raw. */
int escape_text_made(struct buf *out, const uint8_t *p, size_t n) WUR;
int escape_json_made(struct buf *out, const uint8_t *p, size_t n) WUR;

/* Length of the well-formed UTF-8 sequence at p[0..n), or 0 if it is not
 * one (overlong forms, surrogates and values past U+10FFFF are rejected). */
size_t utf8_seq_len(const uint8_t *p, size_t n);

/* True for the code points shown as \u{X} (C0 controls and DEL included,
 * though escape_text writes those as \xNN). */
bool escape_is_hidden(uint32_t cp);

/* The generated table behind escape_is_hidden (src/util/escape_table.c,
 * from scripts/gen_escape_table.py): sorted, disjoint, inclusive ranges. */
struct escape_range {
	uint32_t lo, hi;
};
extern const struct escape_range escape_hidden[];
extern const size_t escape_hidden_count;
extern const char escape_unicode_version[];

/* Length of the leading run of p[0..n) that every escaper copies as is:
 * printable ASCII (0x20..0x7e) other than '\\', and, when json, other than
 * '"'.  Eight bytes a step: the masks below are non-zero exactly when some
 * byte of the word is out of the run (for "some byte < 0x20" and "some byte
 * == c" the classic tests are exact as a whole, though not per byte), and
 * the byte is then found one at a time within that word. */
#define ESCAPE_ONES 0x0101010101010101ULL
#define ESCAPE_HIGHS 0x8080808080808080ULL

static inline uint64_t escape_word_has_byte(uint64_t x, uint8_t c)
{
	uint64_t y = x ^ (ESCAPE_ONES * c);

	return (y - ESCAPE_ONES) & ~y;
}

static inline size_t escape_plain_prefix(const uint8_t *p, size_t n, bool json)
{
	size_t i = 0;

	for (; n - i >= 8; i += 8) {
		uint64_t x, bad;

		__builtin_memcpy(&x, p + i, 8);
		/* < 0x20; >= 0x80; 0x7f (+1 reaches 0x80 only from 0x7f when
		 * no byte is >= 0x80, and otherwise x has the bit already) */
		bad = ((x - ESCAPE_ONES * 0x20) & ~x) | x | (x + ESCAPE_ONES) |
		      escape_word_has_byte(x, '\\');
		if (json)
			bad |= escape_word_has_byte(x, '"');
		if ((bad & ESCAPE_HIGHS) != 0)
			break;
	}
	for (; i < n; i++) {
		uint8_t c = p[i];

		if (c < 0x20 || c >= 0x7f || c == '\\' || (json && c == '"'))
			break;
	}
	return i;
}

/* The run escape_text copies as is, backslashes that read as no escape
 * ("\\Seen") included: the whole slice, as a rule, so text needs no call. */
static inline size_t escape_text_plain_prefix(const uint8_t *p, size_t n)
{
	size_t k = escape_plain_prefix(p, n, false);

	while (k < n && p[k] == '\\' && (k + 1 == n || (p[k + 1] != 'x' && p[k + 1] != 'u')))
		k += 1 + escape_plain_prefix(p + k + 1, n - k - 1, false);
	return k;
}

#endif
