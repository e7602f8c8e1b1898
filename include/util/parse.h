/* The return convention of the incremental parsers: a function that reads
 * one unit (a record header, a handshake message) from a buffer that may
 * hold less than a unit returns
 *
 *   > 0          the bytes the unit took;
 *   PARSE_MORE   the buffer ends before the unit does: call again with more;
 *   PARSE_BAD    the bytes cannot be such a unit.
 *
 * Push layers (lexer, TLS and inflate layers, session) take every byte they
 * are fed instead and report what they cannot read as gaps and notices. */
#ifndef IMAPSCOPE_UTIL_PARSE_H
#define IMAPSCOPE_UTIL_PARSE_H

#define PARSE_BAD  (-1)
#define PARSE_MORE (-2)

#endif
