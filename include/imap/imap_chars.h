/* The IMAP character classes (RFC 9051 section 9), in one place.
 *
 * Every part of imapscope that decides whether a byte belongs to an atom,
 * a tag or a quoted string asks here.  A class is a bit of a 256-entry
 * table (imap_chars.c), so that the lexer's per-byte loops cost one load
 * and a test.  Pure, no state.
 *
 *   CHAR           = %x01-7F
 *   CTL            = %x00-1F / %x7F
 *   atom-specials  = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                    quoted-specials / resp-specials
 *   ATOM-CHAR      = <any CHAR except atom-specials>
 *   ASTRING-CHAR   = ATOM-CHAR / resp-specials
 *   tag            = 1*<any ASTRING-CHAR except "+">
 *   list-wildcards = "%" / "*"
 *   quoted-specials = DQUOTE / "\"
 *   resp-specials  = "]" */
#ifndef IMAPSCOPE_IMAP_CHARS_H
#define IMAPSCOPE_IMAP_CHARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_CH_CTL       (1u << 0)
#define IMAP_CH_ATOM      (1u << 1)	/* ATOM-CHAR */
#define IMAP_CH_ASTRING   (1u << 2)	/* ASTRING-CHAR */
#define IMAP_CH_TAG       (1u << 3)	/* a tag's byte */
#define IMAP_CH_WILDCARD  (1u << 4)	/* list-wildcards */
#define IMAP_CH_QSPECIAL  (1u << 5)	/* quoted-specials */
#define IMAP_CH_RSPECIAL  (1u << 6)	/* resp-specials */
#define IMAP_CH_DIGIT     (1u << 7)
/* A byte the tokenizer keeps inside a bare word (imap_lexer.c): more
 * lenient than ATOM-CHAR, as real traffic is.  "%" and "*" (LIST
 * patterns), "\" (flags), "]" and 8-bit bytes (UTF8=ACCEPT) stay inside;
 * "[" starts a section, so it ends the word. */
#define IMAP_CH_WORD      (1u << 8)

/* The class bits of each byte value. */
extern const uint16_t imap_chars_class[256];

static inline bool imap_char_in(uint8_t c, unsigned classes)
{
	return (imap_chars_class[c] & classes) != 0;
}

static inline bool imap_char_is_atom(uint8_t c)    { return imap_char_in(c, IMAP_CH_ATOM); }
static inline bool imap_char_is_astring(uint8_t c) { return imap_char_in(c, IMAP_CH_ASTRING); }
static inline bool imap_char_is_tag(uint8_t c)     { return imap_char_in(c, IMAP_CH_TAG); }
static inline bool imap_char_is_digit(uint8_t c)   { return imap_char_in(c, IMAP_CH_DIGIT); }
static inline bool imap_char_is_ctl(uint8_t c)     { return imap_char_in(c, IMAP_CH_CTL); }
static inline bool imap_char_is_word(uint8_t c)    { return imap_char_in(c, IMAP_CH_WORD); }
static inline bool imap_char_is_wildcard(uint8_t c) { return imap_char_in(c, IMAP_CH_WILDCARD); }
static inline bool imap_char_is_quoted_special(uint8_t c)
{
	return imap_char_in(c, IMAP_CH_QSPECIAL);
}

/* The length of the run of bytes of p[0..n) from pos on that are in any
 * of classes. */
static inline size_t imap_chars_span(const uint8_t *p, size_t n, size_t pos, unsigned classes)
{
	size_t i = pos;

	while (i < n && imap_char_in(p[i], classes))
		i++;
	return i - pos;
}

#endif
