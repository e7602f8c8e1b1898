/* Escaping of wire bytes for people and for JSON.
 *
 * Nothing from the wire reaches a terminal or a JSON line unescaped.  Both
 * functions append to out and return 0, or -1 if out could not grow (out is
 * then left with a prefix of the escaped text). */
#ifndef IMAPSCOPE_UTIL_ESCAPE_H
#define IMAPSCOPE_UTIL_ESCAPE_H

#include "util/buf.h"

/* For the text timeline: printable ASCII and well-formed, printable UTF-8
 * pass through; every other byte (C0 and C1 controls, DEL, invalid or
 * overlong UTF-8, surrogates) becomes \xNN. */
int escape_text(struct buf *out, const uint8_t *p, size_t n) WUR;

/* The inside of a JSON string (no quotes added): '"' and '\' escaped,
 * control characters as \n, \r, \t or \u00NN, well-formed UTF-8 passed
 * through, and each byte of invalid UTF-8 written as \u00NN (its Latin-1
 * reading), so the output is always valid JSON and loses no byte value. */
int escape_json(struct buf *out, const uint8_t *p, size_t n) WUR;

/* Length of the well-formed UTF-8 sequence at p[0..n), or 0 if it is not
 * one (overlong forms, surrogates and values past U+10FFFF are rejected). */
size_t utf8_seq_len(const uint8_t *p, size_t n);

#endif
