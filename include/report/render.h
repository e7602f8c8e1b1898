/* The pieces every line output (-F text, -F json, --logins, --summary,
 * --extract's index) shares: appending to a struct buf (output_put, LIT,
 * numbers), a cached UTC clock, and a buffered writer that only ever hands
 * whole lines to its FILE.
 *
 * Appenders return 0, or nonzero when the buffer could not grow; a line's
 * results are OR-ed and the line is cut off whole when any failed. */
#ifndef IMAPSCOPE_REPORT_RENDER_H
#define IMAPSCOPE_REPORT_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "util/buf.h"
#include "util/escape.h"

/* A UTC clock that calls gmtime_r only when the second changes: events
 * come many per second, and gmtime_r is the dearest step of a line. */
struct output_time {
	int64_t sec;		/* the second tm describes */
	bool valid;
	struct tm tm;
};

/* Split ts_us into a broken-down UTC time and microseconds.  Any value is
 * accepted: times before year 0 or after 9999 are clamped to those years,
 * so RFC 3339 stays well-formed whatever the capture claims. */
void output_time_split(struct output_time *tc, int64_t ts_us,
		       const struct tm **tm_r, uint32_t *usec_r);

/* "2026-11-21T10:00:00.123456Z" (27 bytes, no quotes). */
#define OUTPUT_TIME_RFC3339_LEN 27
int output_time_append_rfc3339(struct buf *b, struct output_time *tc,
			       int64_t ts_us) WUR;

/* buf_append with the common case inline: a line is a dozen small appends
 * and the call into buf_append was a fifth of the time of an event.
 * 0, or -1 if b could not grow (b unchanged). */
static inline int output_put(struct buf *b, const void *p, size_t n)
{
	if (b->cap - b->len >= n && n != 0) {
		__builtin_memcpy(b->data + b->len, p, n);
		b->len += n;
		return 0;
	}
	return buf_append(b, p, n);
}

/* Append a string literal, its length known at compile time.  Results are
 * OR-ed along a line and checked once at its end (output_sink_end). */
#define LIT(b, s) output_put((b), (s), sizeof(s) - 1)

/* True when every byte is printable ASCII other than '\\' and '"' (json),
 * the usual case, copied as is without going through the escapers. */
static inline bool output_plain_ascii(const uint8_t *p, size_t n, bool json)
{
	return escape_plain_prefix(p, n, json) == n;
}

/* Decimal digits of v at the end of tmp[20]; returns the first digit. */
char *output_fmt_u64(char tmp[20], uint64_t v);
int output_append_u64(struct buf *b, uint64_t v) WUR;
int output_append_i64(struct buf *b, int64_t v) WUR;
/* v/1000 with exactly three decimals ("1.563"), sign kept. */
int output_append_milli(struct buf *b, int64_t v) WUR;

/* Buffered writer: lines are built in buf and handed to fp in chunks of
 * about OUTPUT_SINK_FLUSH_BYTES, always ending at a line end, so a reader
 * never sees half a line.  A closed pipe (EPIPE) is not an error: the sink
 * goes quiet and finish still returns 0.  Any other write error makes the
 * sink quiet too and finish return -1. */
#define OUTPUT_SINK_FLUSH_BYTES (64 * 1024)
/* A single line may be long (a large command line escaped 6x); past this,
 * the line is dropped and counted rather than grown without bound. */
#define OUTPUT_SINK_MAX_BYTES ((size_t)256 << 20)

struct output_sink {
	FILE *fp;
	struct buf buf;
	size_t line_start;	/* where the line being built begins */
	uint64_t lines_dropped;	/* lines that could not be buffered */
	bool closed;		/* the reader went away */
	bool failed;		/* a write failed otherwise */
	int err;		/* errno of that failure */
};

void output_sink_init(struct output_sink *s, FILE *fp);
/* False once nothing more will be written: skip building lines. */
static inline bool output_sink_live(const struct output_sink *s)
{
	return !s->closed && !s->failed;
}
/* Start a line: returns the buffer to append it to. */
struct buf *output_sink_begin(struct output_sink *s);
/* End the line started last.  rc is the result of building it: non-zero
 * cuts the partial line off and counts it in lines_dropped. */
void output_sink_end(struct output_sink *s, int rc);
/* Write out what is buffered and flush fp: 0, or -1 after a write error
 * other than EPIPE (s->err says which). */
int output_sink_finish(struct output_sink *s) WUR;
void output_sink_free(struct output_sink *s);

#endif
