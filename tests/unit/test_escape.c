/* util/escape: what reaches a terminal or a JSON line from the wire. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util/escape.h"

static void assert_text(const char *in, size_t n, const char *want)
{
	struct buf b;

	buf_init(&b, 1 << 16, NULL);
	assert_int_equal(escape_text(&b, (const uint8_t *)in, n), 0);
	if (b.len != strlen(want) || (b.len && memcmp(b.data, want, b.len) != 0))
		fail_msg("escape_text: got \"%.*s\", want \"%s\"", (int)b.len, b.data, want);
	buf_free(&b);
}

static void assert_json(const char *in, size_t n, const char *want)
{
	struct buf b;

	buf_init(&b, 1 << 16, NULL);
	assert_int_equal(escape_json(&b, (const uint8_t *)in, n), 0);
	if (b.len != strlen(want) || (b.len && memcmp(b.data, want, b.len) != 0))
		fail_msg("escape_json: got \"%.*s\", want \"%s\"", (int)b.len, b.data, want);
	buf_free(&b);
}

#define T(lit, want) assert_text(lit, sizeof(lit) - 1, want)
#define J(lit, want) assert_json(lit, sizeof(lit) - 1, want)

static void test_escape_text_cases(void **state)
{
	(void)state;
	T("", "");
	T("a001 LOGIN alice ***", "a001 LOGIN alice ***");
	T("a\0b", "a\\x00b");
	T("\x1b[31mred", "\\x1b[31mred");
	T("\r\n\t", "\\x0d\\x0a\\x09");
	T("\x7f", "\\x7f");
	/* C1 controls are characters: by number, like other hidden ones. */
	T("\xc2\x85\xc2\x9b" "2J", "\\u{0085}\\u{009b}2J");	/* NEL, CSI */
	T("\xc2\xa0\xc3\xa9\xc3\xbf", "\xc2\xa0\xc3\xa9\xc3\xbf");	/* NBSP, é, ÿ pass */
	T("\xf0\x9f\x93\xa7", "\xf0\x9f\x93\xa7");		/* U+1F4E7 passes */
	T("\xe2\x82\xac", "\xe2\x82\xac");			/* EURO passes */
	T("e\xcc\x81", "e\xcc\x81");				/* visible combining mark */
	/* A backslash stays, unless it would read as an escape. */
	T("FLAGS (\\Seen \\Deleted)", "FLAGS (\\Seen \\Deleted)");
	T("\\x1b", "\\x5cx1b");
	T("\\u{202e}", "\\x5cu{202e}");
	T("\\\\x", "\\\\x5cx");
	T("a\\", "a\\");
	T("\\\xff", "\\\\xff");
	T("\"q\"", "\"q\"");
	/* Invisible and bidi characters are shown by number. */
	T("a\xe2\x80\xae" "b", "a\\u{202e}b");			/* RIGHT-TO-LEFT OVERRIDE */
	T("\xe2\x80\x8b\xef\xbb\xbf", "\\u{200b}\\u{feff}");	/* ZWSP, BOM */
}

/* UTF-8 that is not well formed: each byte as \xNN, in text and in JSON
 * (where the backslash is doubled by JSON itself). */
static void test_escape_utf8_edges(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} c[] = {
#define E(lit, want) { lit, sizeof(lit) - 1, want }
		E("\xc0\xaf", "\\xc0\\xaf"),			/* overlong '/', 2 bytes */
		E("\xc1\xbf", "\\xc1\\xbf"),
		E("\xe0\x80\xaf", "\\xe0\\x80\\xaf"),		/* overlong, 3 bytes */
		E("\xe0\x9f\xbf", "\\xe0\\x9f\\xbf"),		/* overlong U+07FF */
		E("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"),	/* overlong, 4 bytes */
		E("\xf0\x8f\xbf\xbf", "\\xf0\\x8f\\xbf\\xbf"),	/* overlong U+FFFF */
		E("\xed\xa0\x80", "\\xed\\xa0\\x80"),		/* U+D800 encoded */
		E("\xed\xbf\xbf", "\\xed\\xbf\\xbf"),		/* U+DFFF encoded */
		E("\xed\xa0\xbd\xed\xb2\xa9", "\\xed\\xa0\\xbd\\xed\\xb2\\xa9"), /* CESU pair */
		E("\xf4\x8f\xbf\xbf", "\\u{10ffff}"),		/* max: a noncharacter */
		E("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"),	/* past U+10FFFF */
		E("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80"),
		E("\xf8\x88\x80\x80\x80", "\\xf8\\x88\\x80\\x80\\x80"), /* 5 bytes */
		E("\xfe\xff", "\\xfe\\xff"),
		E("ok\xe2\x82", "ok\\xe2\\x82"),		/* cut at the end */
		E("\xf0\x9f\x93", "\\xf0\\x9f\\x93"),
		E("\xe2\x82" "A", "\\xe2\\x82A"),		/* cut mid-line */
		E("\xf0\x9f" "\xc3\xa9", "\\xf0\\x9f\xc3\xa9"),	/* cut, then valid */
		E("\x80" "abc", "\\x80abc"),			/* lone continuation */
		E("\xc3", "\\xc3"),
#undef E
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		char jwant[128];
		size_t j, k = 0;

		assert_text(c[i].in, c[i].n, c[i].want);
		for (j = 0; c[i].want[j] != '\0'; j++) {
			if (c[i].want[j] == '\\')
				jwant[k++] = '\\';
			jwant[k++] = c[i].want[j];
		}
		jwant[k] = '\0';
		assert_json(c[i].in, c[i].n, jwant);
	}
}

static size_t utf8_put(uint8_t *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (uint8_t)(0xc0 | cp >> 6);
		p[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (uint8_t)(0xe0 | cp >> 12);
		p[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (uint8_t)(0xf0 | cp >> 18);
	p[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Every code point issue 15 names, and the classes around them: "admin"
 * followed by one of them must not look like "admin". */
static const uint32_t hidden_cps[] = {
	0x061c, 0x00ad, 0x3164, 0xe0041, 0x180e, 0x034f, 0xfff9, 0x009b, 0x202e,
	0x0080, 0x0085, 0x009f,				/* C1 */
	0x115f, 0x1160, 0xffa0,				/* Hangul fillers */
	0xfe00, 0xfe0f, 0xe0100, 0xe01ef,		/* variation selectors */
	0xe0000, 0xe0001, 0xe0020, 0xe007f,		/* tags */
	0x180b, 0x180c, 0x180d, 0x180f,			/* Mongolian FVS, MVS */
	0x2800, 0x1d159, 0x17b4, 0x17b5, 0xfffa, 0xfffb,
	0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x2066, 0x2067, 0x2068, 0x2069,
	0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xfeff, 0x200b, 0x200c, 0x200d,
	0x2028, 0x2029,					/* Zl, Zp */
	0x0600, 0x06dd, 0x070f, 0x110bd, 0x1d173, 0x1d17a, 0x13430, /* other Cf */
	0xe000, 0xf8ff, 0xf0000, 0x10fffd,		/* private use */
	0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x1fffe, 0x10ffff, /* noncharacters */
	0x0378, 0xe0080, 0xe0fff,			/* unassigned */
};

static const uint32_t visible_cps[] = {
	0x00a0, 0x00e9, 0x00ff, 0x0301, 0x0391, 0x05d0, 0x0627, 0x1100, 0x20ac,
	0x3000, 0x3042, 0x4e2d, 0xac00, 0xfb01, 0xfffd, 0x10000, 0x1f4e7, 0x1f600,
	0x20000, 0x2fa1d,
};

static void test_escape_hidden_codepoints(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof hidden_cps / sizeof hidden_cps[0]; i++) {
		uint8_t in[16] = "admin";
		char want[32], jwant[32];
		size_t n = 5 + utf8_put(in + 5, hidden_cps[i]);

		in[n++] = 'b';
		snprintf(want, sizeof want, "admin\\u{%04x}b", (unsigned)hidden_cps[i]);
		snprintf(jwant, sizeof jwant, "admin\\\\u{%04x}b", (unsigned)hidden_cps[i]);
		assert_true(escape_is_hidden(hidden_cps[i]));
		assert_text((const char *)in, n, want);
		assert_json((const char *)in, n, jwant);
	}
	for (i = 0; i < sizeof visible_cps / sizeof visible_cps[0]; i++) {
		uint8_t in[8];
		size_t n = utf8_put(in, visible_cps[i]);

		in[n] = '\0';
		assert_false(escape_is_hidden(visible_cps[i]));
		assert_text((const char *)in, n, (const char *)in);
		assert_json((const char *)in, n, (const char *)in);
	}
	for (i = 0; i < 0x20; i++)
		assert_true(escape_is_hidden((uint32_t)i));
	assert_true(escape_is_hidden(0x7f));
	for (i = 0x20; i < 0x7f; i++)
		assert_false(escape_is_hidden((uint32_t)i));
}

/* The generated table: sorted, disjoint, not adjacent (merged), in range. */
static void test_escape_table(void **state)
{
	size_t i;

	(void)state;
	assert_true(escape_hidden_count > 100);
	assert_true(strlen(escape_unicode_version) >= 4);
	for (i = 0; i < escape_hidden_count; i++) {
		assert_true(escape_hidden[i].lo <= escape_hidden[i].hi);
		assert_true(escape_hidden[i].hi <= 0x10ffff);
		if (i > 0)
			assert_true(escape_hidden[i - 1].hi + 1 < escape_hidden[i].lo);
		assert_true(escape_is_hidden(escape_hidden[i].lo));
		assert_true(escape_is_hidden(escape_hidden[i].hi));
		if (escape_hidden[i].lo > 0)
			assert_false(escape_is_hidden(escape_hidden[i].lo - 1));
		if (escape_hidden[i].hi < 0x10ffff)
			assert_false(escape_is_hidden(escape_hidden[i].hi + 1));
	}
}

static void test_escape_json_cases(void **state)
{
	(void)state;
	J("", "");
	J("plain text", "plain text");
	J("\"q\" \\", "\\\"q\\\" \\\\");
	J("FLAGS (\\Seen)", "FLAGS (\\\\Seen)");
	J("\\x41", "\\\\x5cx41");
	J("a\0b", "a\\\\x00b");
	J("\r\n\t\x01\x1f", "\\\\x0d\\\\x0a\\\\x09\\\\x01\\\\x1f");
	J("\x7f", "\\\\x7f");
	J("\xc3\xa9\xe2\x80\xa8\xf0\x9f\x93\xa7", "\xc3\xa9\\\\u{2028}\xf0\x9f\x93\xa7");
	J("\xc2\x9b\xe2\x80\xae", "\\\\u{009b}\\\\u{202e}");
	/* Byte 0xff and the character U+00FF: different values. */
	J("\xff\xfe", "\\\\xff\\\\xfe");
	J("\xc3\xbf", "\xc3\xbf");
	J("\xf3\xa0\x81\x81", "\\\\u{e0041}");
}

/* Text imapscope made around a quote escape_text already wrote: the quote's
 * backslashes stay single, what was never escaped still is. */
static void test_escape_made(void **state)
{
	static const char in[] = "line \"\\x1b[2J\\x5cx41 \\u{202e} \\\\\" raw \x1b \xe2\x80\xae \xff";
	static const char text[] = "line \"\\x1b[2J\\x5cx41 \\u{202e} \\\\\" raw \\x1b \\u{202e} \\xff";
	static const char json[] =
		"line \\\"\\\\x1b[2J\\\\x5cx41 \\\\u{202e} \\\\\\\\\\\" raw \\\\x1b \\\\u{202e} \\\\xff";
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 12, NULL);
	assert_int_equal(escape_text_made(&b, (const uint8_t *)in, sizeof in - 1), 0);
	if (b.len != sizeof text - 1 || memcmp(b.data, text, b.len) != 0)
		fail_msg("escape_text_made: got \"%.*s\"", (int)b.len, b.data);
	buf_reset(&b);
	assert_int_equal(escape_json_made(&b, (const uint8_t *)in, sizeof in - 1), 0);
	if (b.len != sizeof json - 1 || memcmp(b.data, json, b.len) != 0)
		fail_msg("escape_json_made: got \"%.*s\"", (int)b.len, b.data);
	buf_free(&b);
}

/* A reference UTF-8 decoder, written from RFC 3629's table, to check
 * utf8_seq_len on every 1-, 2- and 3-byte input and on 4-byte samples. */
static size_t ref_len(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1fu;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0fu;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void test_escape_utf8_exhaustive(void **state)
{
	uint8_t p[4];
	uint32_t v;

	(void)state;
	for (v = 0; v < 0x1000000; v++) {
		p[0] = (uint8_t)(v >> 16);
		p[1] = (uint8_t)(v >> 8);
		p[2] = (uint8_t)v;
		p[3] = 0x80;
		assert_int_equal(utf8_seq_len(p, 3), ref_len(p, 3));
		assert_int_equal(utf8_seq_len(p, 4), ref_len(p, 4));
		if ((v & 0xffff) == 0)
			assert_int_equal(utf8_seq_len(p, 1), ref_len(p, 1));
	}
	assert_int_equal(utf8_seq_len(p, 0), 0);
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* escape.h's reading rule, written out: "\xNN" is a byte, "\u{X}" a
 * character, any other backslash itself.  Returns the length of out. */
static size_t unescape(const uint8_t *v, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (v[i] == '\\' && i + 3 < n && v[i + 1] == 'x' && hexval(v[i + 2]) >= 0 &&
		    hexval(v[i + 3]) >= 0) {
			out[o++] = (uint8_t)(hexval(v[i + 2]) << 4 | hexval(v[i + 3]));
			i += 4;
		} else if (v[i] == '\\' && i + 2 < n && v[i + 1] == 'u' && v[i + 2] == '{') {
			uint32_t cp = 0;

			for (i += 3; i < n && v[i] != '}'; i++)
				cp = cp << 4 | (uint32_t)hexval(v[i]);
			assert_true(i < n);
			i++;
			assert_true(escape_is_hidden(cp));
			o += utf8_put(out + o, cp);
		} else {
			out[o++] = v[i++];
		}
	}
	return o;
}

/* Nothing in an escaped value that a terminal would obey or hide. */
static void assert_shown(const uint8_t *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_seq_len(v + i, n - i);
		uint32_t cp = v[i];

		assert_true(l > 0);
		if (l > 1) {
			cp = v[i] & (l == 2 ? 0x1f : l == 3 ? 0x0f : 0x07);
			for (size_t k = 1; k < l; k++)
				cp = cp << 6 | (v[i + k] & 0x3f);
		}
		assert_false(escape_is_hidden(cp));
		i += l;
	}
}

/* Input biased toward what is interesting: stray high bytes, backslashes
 * before x, u and each other, hidden and visible characters. */
static size_t random_input(uint32_t *seed, uint8_t *in, size_t cap)
{
	size_t n = 0;

	while (n + 4 <= cap) {
		uint32_t r;

		*seed = *seed * 1103515245u + 12345u;
		r = *seed >> 8;
		if ((r & 7) == 7)
			break;
		switch (r >> 3 & 7) {
		case 0: in[n++] = (uint8_t)(r >> 8); break;
		case 1: in[n++] = (uint8_t)(0x80 | (r >> 8 & 0x7f)); break;
		case 2: in[n++] = '\\'; break;
		case 3: in[n++] = "xu{}\"a0f"[r >> 8 & 7]; break;
		case 4:
			n += utf8_put(in + n, hidden_cps[(r >> 8) % (sizeof hidden_cps / sizeof hidden_cps[0])]);
			break;
		case 5:
			n += utf8_put(in + n, visible_cps[(r >> 8) % (sizeof visible_cps / sizeof visible_cps[0])]);
			break;
		default: {
			uint32_t cp = (r >> 8) % 0x110000;

			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			n += utf8_put(in + n, cp);
		}
		}
	}
	return n;
}

/* Any input: escape_json gives a strict JSON string whose value shows
 * nothing hidden, reads back as exactly the input bytes, and is what
 * escape_text writes. */
static void test_escape_random_roundtrip(void **state)
{
	uint32_t seed = 12345;
	int iter;

	(void)state;
	for (iter = 0; iter < 50000; iter++) {
		uint8_t in[96], back[96 * 4];
		size_t n, i, blen;
		struct buf b;
		struct json_object *o;
		struct json_tokener *tok = json_tokener_new();
		const uint8_t *v;
		size_t vlen;

		n = random_input(&seed, in, sizeof in);
		buf_init(&b, 1 << 16, NULL);
		assert_int_equal(buf_append(&b, "\"", 1), 0);
		assert_int_equal(escape_json(&b, in, n), 0);
		assert_int_equal(buf_append(&b, "\"", 1), 0);
		for (i = 0; i < b.len; i++)
			assert_true(b.data[i] >= 0x20 && b.data[i] != 0x7f);
		assert_shown(b.data, b.len);
		o = json_tokener_parse_ex(tok, (const char *)b.data, (int)b.len);
		assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
		json_tokener_free(tok);
		assert_non_null(o);
		v = (const uint8_t *)json_object_get_string(o);
		vlen = (size_t)json_object_get_string_len(o);
		assert_shown(v, vlen);
		assert_true(vlen <= sizeof back);
		blen = unescape(v, vlen, back);
		if (blen != n || memcmp(back, in, n) != 0)
			fail_msg("round trip %d: %zu bytes in, %zu back", iter, n, blen);

		buf_reset(&b);
		assert_int_equal(escape_text(&b, in, n), 0);
		assert_int_equal(b.len, vlen);
		assert_memory_equal(b.data, v, vlen);
		/* The outputs' shortcut: the prefix copied, the rest escaped,
		 * is the same text. */
		{
			size_t k = escape_text_plain_prefix(in, n);

			buf_reset(&b);
			assert_int_equal(buf_append(&b, in, k), 0);
			assert_int_equal(escape_text(&b, in + k, n - k), 0);
			assert_int_equal(b.len, vlen);
			assert_memory_equal(b.data, v, vlen);
			k = escape_plain_prefix(in, n, true);
			assert_null(memchr(in, '\\', k));
			assert_null(memchr(in, '"', k));
		}
		json_object_put(o);
		buf_free(&b);
	}
}

/* A buffer that cannot grow: -1, and what is there is a prefix. */
static void test_escape_out_of_room(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4, NULL);
	assert_int_equal(escape_text(&b, (const uint8_t *)"ab\x01", 3), -1);
	assert_true(b.len <= 4);
	assert_memory_equal(b.data, "ab", 2);
	buf_free(&b);
	buf_init(&b, 4, NULL);
	assert_int_equal(escape_json(&b, (const uint8_t *)"abcdef", 6), -1);
	buf_free(&b);
	buf_init(&b, 4, NULL);
	assert_int_equal(escape_json(&b, (const uint8_t *)"a\"", 2), 0);
	assert_int_equal(b.len, 3);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_text_cases),
		cmocka_unit_test(test_escape_json_cases),
		cmocka_unit_test(test_escape_utf8_edges),
		cmocka_unit_test(test_escape_hidden_codepoints),
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_escape_made),
		cmocka_unit_test(test_escape_utf8_exhaustive),
		cmocka_unit_test(test_escape_random_roundtrip),
		cmocka_unit_test(test_escape_out_of_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
