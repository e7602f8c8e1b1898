/* The pieces every line output shares (see report/render.h): numbers,
 * the UTC clock and the buffered line sink. */
#include "report/render.h"

#include <errno.h>
#include <string.h>

/* ---- numbers and time ---- */

char *output_fmt_u64(char tmp[20], uint64_t v)
{
	char *p = tmp + 20;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return p;
}

int output_append_u64(struct buf *b, uint64_t v)
{
	char tmp[20];
	char *p = output_fmt_u64(tmp, v);

	return output_put(b, p, (size_t)(tmp + 20 - p));
}

int output_append_i64(struct buf *b, int64_t v)
{
	/* Negate in unsigned arithmetic: -INT64_MIN does not fit in int64_t. */
	if (v < 0)
		return LIT(b, "-") | output_append_u64(b, 0 - (uint64_t)v);
	return output_append_u64(b, (uint64_t)v);
}

int output_append_milli(struct buf *b, int64_t v)
{
	uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	char frac[4] = { '.', (char)('0' + m / 100 % 10), (char)('0' + m / 10 % 10),
			 (char)('0' + m % 10) };
	int rc = 0;

	if (v < 0)
		rc |= LIT(b, "-");
	rc |= output_append_u64(b, m / 1000);
	return rc | buf_append(b, frac, sizeof frac);
}

/* Seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range an
 * RFC 3339 year of four digits can hold. */
#define OUTPUT_TIME_MIN_SEC (-62167219200LL)
#define OUTPUT_TIME_MAX_SEC 253402300799LL

void output_time_split(struct output_time *tc, int64_t ts_us,
		       const struct tm **tm_r, uint32_t *usec_r)
{
	int64_t sec = ts_us / 1000000, usec = ts_us % 1000000;

	if (usec < 0) {		/* C rounds toward zero; time floors */
		usec += 1000000;
		sec--;
	}
	if (sec < OUTPUT_TIME_MIN_SEC) {
		sec = OUTPUT_TIME_MIN_SEC;
		usec = 0;
	} else if (sec > OUTPUT_TIME_MAX_SEC) {
		sec = OUTPUT_TIME_MAX_SEC;
		usec = 999999;
	}
	if (!tc->valid || tc->sec != sec) {
		time_t t = (time_t)sec;

		if (gmtime_r(&t, &tc->tm) == NULL)
			memset(&tc->tm, 0, sizeof tc->tm);
		tc->sec = sec;
		tc->valid = true;
	}
	*tm_r = &tc->tm;
	*usec_r = (uint32_t)usec;
}

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

int output_time_append_rfc3339(struct buf *b, struct output_time *tc, int64_t ts_us)
{
	struct output_time local = { 0, false, { 0 } };
	const struct tm *tm;
	uint32_t usec;
	char s[OUTPUT_TIME_RFC3339_LEN];
	int year, i;

	output_time_split(tc != NULL ? tc : &local, ts_us, &tm, &usec);
	year = tm->tm_year + 1900;
	put2(s, year / 100);
	put2(s + 2, year % 100);
	s[4] = '-';
	put2(s + 5, tm->tm_mon + 1);
	s[7] = '-';
	put2(s + 8, tm->tm_mday);
	s[10] = 'T';
	put2(s + 11, tm->tm_hour);
	s[13] = ':';
	put2(s + 14, tm->tm_min);
	s[16] = ':';
	put2(s + 17, tm->tm_sec);
	s[19] = '.';
	for (i = 25; i >= 20; i--) {
		s[i] = (char)('0' + usec % 10);
		usec /= 10;
	}
	s[26] = 'Z';
	return output_put(b, s, sizeof s);
}

/* ---- the sink shared by the line outputs ---- */

void output_sink_init(struct output_sink *s, FILE *fp)
{
	memset(s, 0, sizeof *s);
	s->fp = fp;
	buf_init(&s->buf, OUTPUT_SINK_MAX_BYTES, NULL);
}

struct buf *output_sink_begin(struct output_sink *s)
{
	s->line_start = s->buf.len;
	return &s->buf;
}

/* Hand every buffered (whole) line to fp and flush it, so that a closed
 * pipe or a full disk shows up now rather than at exit. */
static void output_sink_flush(struct output_sink *s)
{
	size_t n = s->buf.len;

	if (n == 0 || !output_sink_live(s)) {
		buf_reset(&s->buf);
		return;
	}
	errno = 0;
	if (fwrite(s->buf.data, 1, n, s->fp) != n || fflush(s->fp) != 0) {
		if (errno == EPIPE) {
			s->closed = true;
		} else {
			s->failed = true;
			s->err = errno != 0 ? errno : EIO;
		}
	}
	buf_reset(&s->buf);
}

void output_sink_end(struct output_sink *s, int rc)
{
	if (rc != 0) {
		s->buf.len = s->line_start;
		s->lines_dropped++;
	}
	if (s->buf.len >= OUTPUT_SINK_FLUSH_BYTES)
		output_sink_flush(s);
}

int output_sink_finish(struct output_sink *s)
{
	output_sink_flush(s);
	errno = 0;
	if (output_sink_live(s) && fflush(s->fp) != 0) {
		if (errno == EPIPE) {
			s->closed = true;
		} else {
			s->failed = true;
			s->err = errno != 0 ? errno : EIO;
		}
	}
	if (!s->failed)
		return 0;
	errno = s->err;		/* for the caller's message */
	return -1;
}

void output_sink_free(struct output_sink *s)
{
	buf_free(&s->buf);
}
