/* -F json: the timeline as JSON Lines, one object per event (docs/contract.md).
 *
 * Also home of the pieces every line-oriented output shares: a buffered
 * writer that only ever hands whole lines to the FILE, and a cached UTC
 * clock.  (They would deserve their own module; they live here until one
 * exists, and keep the output_ prefix so they can move without renames.) */
#ifndef IMAPSCOPE_REPORT_OUTPUT_JSON_H
#define IMAPSCOPE_REPORT_OUTPUT_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "imap/imap_event.h"
#include "util/buf.h"
#include "util/escape.h"

/* Make a JSON Lines output writing to fp (not closed by the output; the
 * caller closes it after finish and free).  0, or -1 if out of memory. */
int output_json_new(struct output *out_r, FILE *fp) WUR;

/* Append the event as one JSON object and its '\n' to b, the same bytes
 * output_json_new writes.  tc may be NULL (no caching).  0, or -1 if b could
 * not grow (b then holds a partial line: the caller cuts it off). */
struct output_time;
int output_json_append_event(struct buf *b, struct output_time *tc,
			     const struct event *ev) WUR;

/* ---- shared by the line outputs (json, text, logins) ---- */

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
 * and the call into buf_append was a fifth of the time of an event. */
static inline int output_put(struct buf *b, const void *p, size_t n)
{
	if (b->cap - b->len >= n && n != 0) {
		__builtin_memcpy(b->data + b->len, p, n);
		b->len += n;
		return 0;
	}
	return buf_append(b, p, n);
}

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
