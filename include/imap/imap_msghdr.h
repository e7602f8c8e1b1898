/* Message headers as they cross the wire inside IMAP: the header block of
 * a fetched body or HEADER section, of an APPEND literal, and the strings
 * of an ENVELOPE; the few fields that name a message (Message-ID,
 * Subject, From, Date), unfolded and RFC 2047 decoded.
 *
 * Pure functions over the caller's bytes; output goes to the caller's
 * struct buf (bounded, charged to its budget).  Nothing recurses. */
#ifndef IMAPSCOPE_IMAP_MSGHDR_H
#define IMAPSCOPE_IMAP_MSGHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Header bytes read at most from one block: a header is rarely past a few
 * KB, and the rest of a big one is not worth the walk. */
#define IMAP_MSGHDR_MAX_BLOCK (64 * 1024)
/* Bytes of one unfolded value decoded at most; a longer one is not. */
#define IMAP_MSGHDR_MAX_VALUE 1024

/* The fields of one header block: each the raw value after "Name:" (its
 * folds still in), a slice of the block; null when absent.  The first of
 * each name counts. */
struct imap_msghdr {
	struct buf_slice message_id, subject, from, date;
};

/* block: a message or its header block (it stops at the first empty line,
 * at the end of block, or past IMAP_MSGHDR_MAX_BLOCK).  A header line cut
 * by the end of block is taken as it stands. */
void imap_msghdr_scan(struct buf_slice block, struct imap_msghdr *h);

/* v unfolded (every CR and LF removed: in a value they are folds, RFC
 * 5322 section 2.2.3), white space trimmed at both ends, RFC 2047 decoded
 * (see imap_msghdr_decode_2047) and appended to out.  0; 1 when the
 * unfolded value is longer than IMAP_MSGHDR_MAX_VALUE (nothing appended:
 * unknown, not cut); -1 when out could not grow (out is then as it was).
 * *left_r is set when an encoded word was left as sent. */
int imap_msghdr_value(struct buf *out, struct buf_slice v, bool *left_r) WUR;

/* RFC 2047 encoded words in p..n decoded and appended to out: "=?charset?
 * B|Q?text?=" with charset UTF-8, US-ASCII or ISO-8859-1 (any case, an
 * RFC 2231 "*language" ignored) becomes UTF-8; white space between two
 * encoded words is dropped; everything else is copied as it is.  A word
 * in another charset or malformed (bad base64, a bad "=XX", no "?=";
 * base64 without its final padding is read all the same) is
 * copied as sent and sets *left_r (not cleared otherwise).  Decoded bytes
 * that are not valid UTF-8 stay as they are.  0, or -1 when out could not
 * grow (out is then as it was). */
int imap_msghdr_decode_2047(struct buf *out, const uint8_t *p, size_t n, bool *left_r) WUR;

#endif
