#include "util/escape.h"

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

int escape_text(struct buf *out, const uint8_t *p, size_t n)
{
	size_t i = 0, run = 0;

	while (i < n) {
		size_t len = utf8_seq_len(p + i, n - i);
		bool plain = (len == 1 && p[i] >= 0x20 && p[i] < 0x7f) ||
			     (len > 1 && !is_c1(p + i, len));

		if (plain) {
			i += len;
			run += len;
			continue;
		}
		if (run && buf_append(out, p + i - run, run) != 0)
			return -1;
		run = 0;
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

		if (len > 1 || (len == 1 && p[i] >= 0x20 && p[i] != '"' &&
				p[i] != '\\' && p[i] != 0x7f)) {
			i += len;
			run += len;
			continue;
		}
		if (run && buf_append(out, p + i - run, run) != 0)
			return -1;
		run = 0;
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
