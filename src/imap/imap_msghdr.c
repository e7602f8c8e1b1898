/* Header blocks and RFC 2047 encoded words (see imap/imap_msghdr.h). */
#include "imap/imap_msghdr.h"

#include <string.h>

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* p..n is name (lower case) without case. */
static bool name_eq(const uint8_t *p, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n != k)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != (uint8_t)name[i])
			return false;
	return true;
}

/* The end of the header line at i: the index of the line end that no
 * space or tab follows (a fold goes on), or n. */
static size_t field_end(const uint8_t *p, size_t n, size_t i)
{
	for (;;) {
		const uint8_t *lf = memchr(p + i, '\n', n - i);

		if (lf == NULL)
			return n;
		i = (size_t)(lf - p) + 1;
		if (i >= n || (p[i] != ' ' && p[i] != '\t'))
			return (size_t)(lf - p);
	}
}

static void scan_field(struct imap_msghdr *h, const uint8_t *p, size_t colon, size_t start,
		       size_t end)
{
	struct buf_slice *slot = NULL;
	struct buf_slice v = { p + colon + 1, end > colon + 1 ? end - colon - 1 : 0 };
	size_t nl = colon - start;

	if (v.len > 0 && v.ptr[v.len - 1] == '\r')
		v.len--;
	if (name_eq(p + start, nl, "message-id"))
		slot = &h->message_id;
	else if (name_eq(p + start, nl, "subject"))
		slot = &h->subject;
	else if (name_eq(p + start, nl, "from"))
		slot = &h->from;
	else if (name_eq(p + start, nl, "date"))
		slot = &h->date;
	if (slot != NULL && slot->ptr == NULL)
		*slot = v;
}

void imap_msghdr_scan(struct buf_slice block, struct imap_msghdr *h)
{
	const uint8_t *p = block.ptr;
	size_t n = block.len < IMAP_MSGHDR_MAX_BLOCK ? block.len : IMAP_MSGHDR_MAX_BLOCK;
	size_t i = 0;

	memset(h, 0, sizeof *h);
	if (p == NULL)
		return;
	while (i < n) {
		size_t end = field_end(p, n, i), colon = i;

		if (p[i] == '\n' || (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n'))
			return;		/* the empty line: the body follows */
		while (colon < end && p[colon] != ':' && p[colon] > ' ')
			colon++;
		if (colon < end && p[colon] == ':' && colon > i)
			scan_field(h, p, colon, i, end);
		i = end + 1;
	}
}

/* --- RFC 2047 ------------------------------------------------------------ */

enum charset { CS_OTHER, CS_UTF8, CS_ASCII, CS_LATIN1 };

static enum charset charset_of(const uint8_t *p, size_t n)
{
	const uint8_t *star = memchr(p, '*', n);

	if (star != NULL)
		n = (size_t)(star - p);	/* RFC 2231 language */
	if (name_eq(p, n, "utf-8") || name_eq(p, n, "utf8"))
		return CS_UTF8;
	if (name_eq(p, n, "us-ascii") || name_eq(p, n, "ascii"))
		return CS_ASCII;
	if (name_eq(p, n, "iso-8859-1") || name_eq(p, n, "iso8859-1") || name_eq(p, n, "latin1"))
		return CS_LATIN1;
	return CS_OTHER;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int b64val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* One decoded byte in the word's charset, as UTF-8. */
static int put_byte(struct buf *out, enum charset cs, uint8_t b)
{
	uint8_t u[2];

	if (cs != CS_LATIN1 || b < 0x80)
		return buf_append(out, &b, 1);
	u[0] = (uint8_t)(0xc0 | b >> 6);
	u[1] = (uint8_t)(0x80 | (b & 0x3f));
	return buf_append(out, u, 2);
}

/* 1 decoded, 0 malformed, -1 out full. */
static int decode_q(struct buf *out, enum charset cs, const uint8_t *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = t[i];

		if (b == '_') {
			b = ' ';
		} else if (b == '=') {
			int hi, lo;

			if (i + 2 >= n || (hi = hexval(t[i + 1])) < 0 || (lo = hexval(t[i + 2])) < 0)
				return 0;
			b = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
		if (put_byte(out, cs, b) != 0)
			return -1;
	}
	return 1;
}

static int decode_b(struct buf *out, enum charset cs, const uint8_t *t, size_t n)
{
	uint32_t bits = 0;
	unsigned nbits = 0;
	size_t i = 0;

	for (; i < n && t[i] != '='; i++) {
		int v = b64val(t[i]);

		if (v < 0)
			return 0;
		bits = (bits << 6 | (uint32_t)v) & 0xffffff;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			if (put_byte(out, cs, (uint8_t)(bits >> nbits)) != 0)
				return -1;
		}
	}
	/* padding only at the end, and the right amount of it */
	for (size_t k = i; k < n; k++)
		if (t[k] != '=')
			return 0;
	if (nbits >= 6 || (n % 4 != 0 && i != n))
		return 0;
	return 1;
}

/* An encoded word at p[0] ("=?"): its length, and decoded into out; 0 when
 * it is no word to decode (out unchanged; *left_r set when it looked like
 * one), -1 when out is full. */
static long encoded_word(struct buf *out, const uint8_t *p, size_t n, bool *left_r)
{
	size_t mark = out->len, i = 2, cs_end, enc;
	enum charset cs;
	int rc;

	while (i < n && p[i] != '?' && p[i] > ' ' && p[i] < 0x7f)
		i++;
	if (i + 2 >= n || p[i] != '?' || i == 2 || p[i + 2] != '?')
		return 0;
	cs_end = i;
	enc = lower(p[i + 1]);
	for (i += 3; i + 1 < n && !(p[i] == '?' && p[i + 1] == '='); i++)
		if (p[i] <= ' ' || p[i] >= 0x7f)
			return 0;
	if (i + 1 >= n)
		return 0;
	cs = charset_of(p + 2, cs_end - 2);
	if (cs == CS_OTHER || (enc != 'q' && enc != 'b')) {
		*left_r = true;
		return 0;
	}
	rc = enc == 'q' ? decode_q(out, cs, p + cs_end + 3, i - cs_end - 3)
			: decode_b(out, cs, p + cs_end + 3, i - cs_end - 3);
	if (rc != 1) {
		out->len = mark;
		if (rc == 0)
			*left_r = true;
		return rc;
	}
	return (long)(i + 2);
}

static bool is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool word_start(const uint8_t *p, size_t n, size_t i)
{
	return i + 1 < n && p[i] == '=' && p[i + 1] == '?';
}

int imap_msghdr_decode_2047(struct buf *out, const uint8_t *p, size_t n, bool *left_r)
{
	size_t start = out->len, i = 0;
	bool after_word = false;
	long w;

	while (i < n) {
		if (word_start(p, n, i)) {
			if ((w = encoded_word(out, p + i, n - i, left_r)) < 0)
				goto full;
			if (w > 0) {
				i += (size_t)w;
				after_word = true;
				continue;
			}
		} else if (after_word && is_wsp(p[i])) {
			size_t j = i;
			bool unused = false;

			while (j < n && is_wsp(p[j]))
				j++;
			/* white space between two encoded words is no text
			 * (RFC 2047 section 6.2); a failed word is read again
			 * below, and says so then */
			if (word_start(p, n, j) &&
			    (w = encoded_word(out, p + j, n - j, &unused)) != 0) {
				if (w < 0)
					goto full;
				i = j + (size_t)w;
				continue;
			}
			if (buf_append(out, p + i, j - i) != 0)
				goto full;
			i = j;
			after_word = false;
			continue;
		}
		after_word = false;
		if (buf_append(out, p + i, 1) != 0)
			goto full;
		i++;
	}
	return 0;
full:
	out->len = start;
	return -1;
}

/* --- values -------------------------------------------------------------- */

int imap_msghdr_value(struct buf *out, struct buf_slice v, bool *left_r)
{
	uint8_t tmp[IMAP_MSGHDR_MAX_VALUE];
	const uint8_t *p = v.ptr;
	size_t n = v.len, o = 0;

	if (p == NULL)
		return 0;
	while (n > 0 && is_wsp(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_wsp(p[n - 1]))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n')
			continue;	/* unfolding keeps the space after */
		if (o == sizeof tmp)
			return 1;
		tmp[o++] = p[i];
	}
	return imap_msghdr_decode_2047(out, tmp, o, left_r);
}
