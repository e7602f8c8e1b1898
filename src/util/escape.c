#include "util/escape.h"

#include <stdio.h>
#include <string.h>

static const char hexdig[] = "0123456789abcdef";

size_t utf8_seq_len(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* C1 controls (U+0080..U+009F) are encoded as 0xc2 0x80..0x9f; terminals
 * obey some of them, so they are escaped like C0 controls. */
static bool is_c1(const uint8_t *p, size_t len)
{
	return len == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

/* The code point of a well-formed sequence of len bytes. */
static uint32_t utf8_decode(const uint8_t *p, size_t len)
{
	static const uint8_t lead_mask[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	uint32_t cp = p[0] & lead_mask[len];
	size_t i;

	for (i = 1; i < len; i++)
		cp = (cp << 6) | (p[i] & 0x3f);
	return cp;
}

/* Invisible and direction-changing characters (zero-width, bidi controls,
 * line/paragraph separators, BOM) can make a terminal line read as something
 * it is not, so the text timeline shows them by number. */
static bool is_invisible(uint32_t cp)
{
	return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

static int escape_codepoint(struct buf *out, uint32_t cp)
{
	char esc[16];
	int len = snprintf(esc, sizeof esc, "\\u{%04x}", (unsigned)cp);

	return buf_append(out, esc, (size_t)len);
}

int escape_text(struct buf *out, const uint8_t *p, size_t n)
{
	size_t i = 0, run = 0;

	while (i < n) {
		size_t len = utf8_seq_len(p + i, n - i);
		bool plain = (len == 1 && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') ||
			     (len == 2 && !is_c1(p + i, len)) || len == 4 ||
			     (len == 3 && !is_invisible(utf8_decode(p + i, len)));

		if (plain) {
			i += len;
			run += len;
			continue;
		}
		if (run && buf_append(out, p + i - run, run) != 0)
			return -1;
		run = 0;
		if (len == 3) {
			if (escape_codepoint(out, utf8_decode(p + i, len)) != 0)
				return -1;
			i += len;
			continue;
		}
		if (p[i] == '\\') {
			if (buf_append(out, "\\\\", 2) != 0)
				return -1;
			i++;
			continue;
		}
		{
			char esc[4] = { '\\', 'x', hexdig[p[i] >> 4], hexdig[p[i] & 15] };

			if (buf_append(out, esc, sizeof esc) != 0)
				return -1;
		}
		i++;
	}
	return run ? buf_append(out, p + n - run, run) : 0;
}

int escape_json(struct buf *out, const uint8_t *p, size_t n)
{
	size_t i = 0, run = 0;

	while (i < n) {
		size_t len = p[i] < 0x80 ? 1 : utf8_seq_len(p + i, n - i);
		char esc[6];
		size_t elen;

		/* U+2028/2029 are valid JSON but line breaks to some JSON
		 * Lines readers (JavaScript, Python's splitlines), so they are
		 * escaped too. */
		bool sep = len == 3 && p[i] == 0xe2 && p[i + 1] == 0x80 &&
			   (p[i + 2] == 0xa8 || p[i + 2] == 0xa9);

		if ((len > 1 && !sep) || (len == 1 && p[i] >= 0x20 && p[i] != '"' &&
					   p[i] != '\\' && p[i] != 0x7f)) {
			i += len;
			run += len;
			continue;
		}
		if (run && buf_append(out, p + i - run, run) != 0)
			return -1;
		run = 0;
		if (sep) {
			if (buf_append(out, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6) != 0)
				return -1;
			i += len;
			continue;
		}
		esc[0] = '\\';
		elen = 2;
		switch (p[i]) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hexdig[p[i] >> 4];
			esc[5] = hexdig[p[i] & 15];
			elen = 6;
		}
		if (buf_append(out, esc, elen) != 0)
			return -1;
		i++;
	}
	return run ? buf_append(out, p + n - run, run) : 0;
}
