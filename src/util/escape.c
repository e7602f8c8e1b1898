#include "util/escape.h"

#include <string.h>

static const char hexdig[] = "0123456789abcdef";

/* buf_append with room at hand inline: every string of every event comes
 * through here, most of them a single run. */
static inline int escape_put(struct buf *out, const uint8_t *p, size_t n)
{
	if (out->cap - out->len < n)
		return buf_append(out, p, n);
	memcpy(out->data + out->len, p, n);
	out->len += n;
	return 0;
}

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

bool escape_is_hidden(uint32_t cp)
{
	size_t lo = 0, hi = escape_hidden_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < escape_hidden[mid].lo)
			hi = mid;
		else if (cp > escape_hidden[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* How escape_form treats its input. */
enum {
	ESC_JSON = 1,		/* the inside of a JSON string */
	ESC_KEEP_BS = 2,	/* already escaped text: every '\\' stays one */
};

/* A backslash that would read as the start of an escape. */
static bool escape_bs_ambiguous(const uint8_t *p, size_t n, unsigned how)
{
	return !(how & ESC_KEEP_BS) && n > 1 && (p[1] == 'x' || p[1] == 'u');
}

/* Length of the character at p that is copied as is although
 * escape_plain_prefix stopped at it, or 0 if it needs an escape. */
static size_t escape_pass_len(const uint8_t *p, size_t n, unsigned how)
{
	bool json = how & ESC_JSON;
	size_t len;

	if (p[0] == '\\')
		return !json && !escape_bs_ambiguous(p, n, how);
	if (p[0] < 0x80)
		return p[0] == '"' && !json;
	len = utf8_seq_len(p, n);
	return len > 0 && !escape_is_hidden(utf8_decode(p, len)) ? len : 0;
}

/* Appends "\u{X}" (4 to 6 hex digits), or "\\u{X}" for JSON. */
static int escape_codepoint(struct buf *out, uint32_t cp, bool json)
{
	char esc[12];
	size_t k = 0;
	int shift = cp > 0xfffff ? 20 : cp > 0xffff ? 16 : 12;

	if (json)
		esc[k++] = '\\';
	esc[k++] = '\\';
	esc[k++] = 'u';
	esc[k++] = '{';
	for (; shift >= 0; shift -= 4)
		esc[k++] = hexdig[(cp >> shift) & 15];
	esc[k++] = '}';
	return buf_append(out, esc, k);
}

/* Appends "\xNN", or "\\xNN" for JSON. */
static int escape_byte(struct buf *out, uint8_t c, bool json)
{
	char esc[5] = { '\\', '\\', 'x', hexdig[c >> 4], hexdig[c & 15] };

	return json ? buf_append(out, esc, 5) : buf_append(out, esc + 1, 4);
}

/* Escapes the unit at p that escape_pass_len refused; *len_r is the number
 * of bytes it stands for. */
static int escape_unit(struct buf *out, const uint8_t *p, size_t n, unsigned how, size_t *len_r)
{
	bool json = how & ESC_JSON;
	size_t len;

	*len_r = 1;
	if (p[0] == '\\') {
		if (escape_bs_ambiguous(p, n, how))
			return escape_byte(out, '\\', json);
		return escape_put(out, (const uint8_t *)"\\\\", 2);	/* json only */
	}
	if (p[0] == '"')
		return escape_put(out, (const uint8_t *)"\\\"", 2);	/* json only */
	if (p[0] >= 0x80 && (len = utf8_seq_len(p, n)) > 0) {
		*len_r = len;
		return escape_codepoint(out, utf8_decode(p, len), json);
	}
	return escape_byte(out, p[0], json);
}

/* Runs that need no escape are copied in one piece: printable ASCII is
 * found eight bytes a step, as the output path sees it for nearly every
 * byte. */
static int escape_form(struct buf *out, const uint8_t *p, size_t n, unsigned how)
{
	bool json = how & ESC_JSON;
	size_t i = 0, start = 0, len;

	if (n == 0)
		return 0;
	for (;;) {
		i += escape_plain_prefix(p + i, n - i, json);
		if (i == n)
			break;
		len = escape_pass_len(p + i, n - i, how);
		if (len > 0) {
			i += len;
			continue;
		}
		if (i > start && escape_put(out, p + start, i - start) != 0)
			return -1;
		if (escape_unit(out, p + i, n - i, how, &len) != 0)
			return -1;
		i += len;
		start = i;
	}
	return i > start ? escape_put(out, p + start, i - start) : 0;
}

int escape_text(struct buf *out, const uint8_t *p, size_t n)
{
	return escape_form(out, p, n, 0);
}

int escape_json(struct buf *out, const uint8_t *p, size_t n)
{
	return escape_form(out, p, n, ESC_JSON);
}

int escape_text_made(struct buf *out, const uint8_t *p, size_t n)
{
	return escape_form(out, p, n, ESC_KEEP_BS);
}

int escape_json_made(struct buf *out, const uint8_t *p, size_t n)
{
	return escape_form(out, p, n, ESC_JSON | ESC_KEEP_BS);
}
