/* A bounds-checked reader of binary records: packets, pcapng blocks, TLS
 * records and handshakes, NTLM messages.
 *
 * A cursor is a read-only view [p, end) of memory owned by the caller; it
 * is valid as long as that memory is.  Every read checks the bytes left
 * first.  A read past the end yields 0 (or NULL, or an empty bad
 * sub-cursor), sets the sticky bad flag and empties the cursor (p moves
 * to end, so later reads fail on the length check alone and the hot path
 * tests one condition, not two), so a parser may read a
 * run of fields and check bad once (RFC-style layouts), or check each
 * take's result where a short record has its own meaning (the packet
 * decoder's "truncated").  Nothing moves end: a sub-cursor is a new view,
 * never a shrunk one (the tcpdump CVE-2024-2397 lesson).
 *
 * All functions are inline: the decoder calls them for every packet.
 * The cursor_load_* functions read bytes the caller has already taken. */
#ifndef IMAPSCOPE_UTIL_CURSOR_H
#define IMAPSCOPE_UTIL_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct cursor {
	const uint8_t *p;	/* next byte */
	const uint8_t *end;	/* one past the last; never moves */
	bool bad;		/* a read ran past end */
};

/* A view of p[0..n).  p NULL is an empty view, of a byte that is not
 * NULL, so that a take of 0 bytes from it succeeds like any other (and
 * NULL + n, undefined, is never made). */
static inline struct cursor cursor_make(const void *p, size_t n)
{
	const uint8_t *b = p != NULL ? p : (const void *)"";
	struct cursor c = { b, p != NULL ? b + n : b, false };

	return c;
}

/* Bytes left; 0 once bad. */
static inline size_t cursor_left(const struct cursor *c)
{
	return (size_t)(c->end - c->p);
}

/* The next n bytes, without moving; NULL (bad untouched) if fewer are
 * left. */
static inline const uint8_t *cursor_peek(const struct cursor *c, size_t n)
{
	return cursor_left(c) >= n ? c->p : NULL;
}

/* The next n bytes, moving past them; NULL, bad and empty if fewer are
 * left. */
static inline const uint8_t *cursor_take(struct cursor *c, size_t n)
{
	const uint8_t *q = c->p;

	if (cursor_left(c) < n) {
		c->bad = true;
		c->p = c->end;
		return NULL;
	}
	c->p += n;
	return q;
}

/* Move past n bytes: false (and bad) if fewer are left. */
static inline bool cursor_skip(struct cursor *c, size_t n)
{
	return cursor_take(c, n) != NULL;
}

/* What is left, as a slice (empty once bad). */
static inline struct buf_slice cursor_rest(const struct cursor *c)
{
	struct buf_slice s = { c->p, cursor_left(c) };

	return s;
}

static inline uint16_t cursor_load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t cursor_load_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t cursor_load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t cursor_load_be64(const uint8_t *p)
{
	return (uint64_t)cursor_load_be32(p) << 32 | cursor_load_be32(p + 4);
}

static inline uint16_t cursor_load_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t cursor_load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t cursor_load_le64(const uint8_t *p)
{
	return (uint64_t)cursor_load_le32(p + 4) << 32 | cursor_load_le32(p);
}

static inline uint8_t cursor_load_u8(const uint8_t *p)
{
	return p[0];
}

/* Readers of one number: 0 (and c bad) past the end. */
#define CURSOR_READER(name, type, width, load)				\
	static inline type name(struct cursor *c)			\
	{								\
		const uint8_t *q = cursor_take(c, width);		\
									\
		return q != NULL ? (type)load(q) : 0;			\
	}
CURSOR_READER(cursor_u8, uint8_t, 1, cursor_load_u8)
CURSOR_READER(cursor_u16be, uint16_t, 2, cursor_load_be16)
CURSOR_READER(cursor_u24be, uint32_t, 3, cursor_load_be24)
CURSOR_READER(cursor_u32be, uint32_t, 4, cursor_load_be32)
CURSOR_READER(cursor_u16le, uint16_t, 2, cursor_load_le16)
CURSOR_READER(cursor_u32le, uint32_t, 4, cursor_load_le32)
#undef CURSOR_READER

/* The next n bytes as a cursor of their own (c moves past them); an
 * empty, bad cursor (and c bad) if fewer are left or c was bad before. */
static inline struct cursor cursor_sub(struct cursor *c, size_t n)
{
	const uint8_t *q = cursor_take(c, n);
	struct cursor sub = cursor_make(q, q != NULL ? n : 0);

	sub.bad = q == NULL || c->bad;
	return sub;
}

/* A vector prefixed by its length in width (1, 2 or 3) big-endian bytes,
 * as a sub-cursor (TLS's opaque<..> and lists). */
static inline struct cursor cursor_vec(struct cursor *c, size_t width)
{
	size_t n = width == 1 ? cursor_u8(c) : width == 2 ? cursor_u16be(c) : cursor_u24be(c);

	return cursor_sub(c, n);
}

#endif
