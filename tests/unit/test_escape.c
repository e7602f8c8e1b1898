/* util/escape: what reaches a terminal or a JSON line from the wire. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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
	T("\xc2\x85\xc2\x9b" "2J", "\\xc2\\x85\\xc2\\x9b2J");	/* C1: NEL, CSI */
	T("\xc2\xa0\xc3\xa9", "\xc2\xa0\xc3\xa9");		/* NBSP, é pass */
	T("\xf0\x9f\x93\xa7", "\xf0\x9f\x93\xa7");		/* U+1F4E7 passes */
	T("\xc0\xaf", "\\xc0\\xaf");				/* overlong '/' */
	T("\xe0\x80\xaf", "\\xe0\\x80\\xaf");			/* overlong, 3 bytes */
	T("\xed\xa0\x80", "\\xed\\xa0\\x80");			/* surrogate */
	T("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");		/* past U+10FFFF */
	T("\xf5\xff\xfe", "\\xf5\\xff\\xfe");
	T("ok\xe2\x82", "ok\\xe2\\x82");			/* cut at the end */
	T("\xe2\x82" "A", "\\xe2\\x82A");			/* cut mid-line */
	T("\x80" "abc", "\\x80abc");				/* lone continuation */
	/* A backslash is doubled, so wire text "\x1b" and an escaped ESC
	 * never look alike. */
	T("\\x1b", "\\\\x1b");
	/* Invisible and bidi characters are shown by number. */
	T("a\xe2\x80\xae" "b", "a\\u{202e}b");			/* RIGHT-TO-LEFT OVERRIDE */
	T("\xe2\x80\x8b\xef\xbb\xbf", "\\u{200b}\\u{feff}");	/* ZWSP, BOM */
	T("\xe2\x82\xac", "\xe2\x82\xac");				/* EURO passes */
}

static void test_escape_json_cases(void **state)
{
	(void)state;
	J("", "");
	J("plain text", "plain text");
	J("\"q\" \\", "\\\"q\\\" \\\\");
	J("a\0b", "a\\u0000b");
	J("\r\n\t\x01\x1f", "\\r\\n\\t\\u0001\\u001f");
	J("\x7f", "\\u007f");
	J("\xc3\xa9\xe2\x80\xa8\xf0\x9f\x93\xa7", "\xc3\xa9\\u2028\xf0\x9f\x93\xa7");
	J("\xff\xfe", "\\u00ff\\u00fe");
	J("\xc0\xaf", "\\u00c0\\u00af");
	J("\xed\xa0\x80", "\\u00ed\\u00a0\\u0080");
	J("x\xe2\x82", "x\\u00e2\\u0082");
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

/* Random bytes: escape_json always gives a JSON string that json-c reads
 * back as the bytes (invalid ones as U+00NN), and escape_text never lets a
 * control byte through. */
static void test_escape_random_roundtrip(void **state)
{
	uint32_t seed = 12345;
	int iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		uint8_t in[64];
		char want[160];
		size_t n, i, w = 0;
		struct buf b;
		struct json_object *o;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % sizeof in;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* Bias toward the interesting ranges. */
			in[i] = (uint8_t)((seed >> 8) & 1 ? (seed >> 16) : 0x80 | (seed >> 16 & 0x7f));
		}
		for (i = 0; i < n;) {
			size_t l = utf8_seq_len(in + i, n - i);

			if (l == 0) {
				want[w++] = (char)(0xc0 | in[i] >> 6);
				want[w++] = (char)(0x80 | (in[i] & 0x3f));
				i++;
			} else {
				memcpy(want + w, in + i, l);
				w += l;
				i += l;
			}
		}
		buf_init(&b, 1 << 16, NULL);
		assert_int_equal(buf_append(&b, "\"", 1), 0);
		assert_int_equal(escape_json(&b, in, n), 0);
		assert_int_equal(buf_append(&b, "\"", 1), 0);
		assert_null(memchr(b.data, '\0', b.len));
		for (i = 0; i < b.len; i++)
			assert_true(b.data[i] >= 0x20 && b.data[i] != 0x7f);
		{
			struct json_tokener *tok = json_tokener_new();

			o = json_tokener_parse_ex(tok, (const char *)b.data, (int)b.len);
			assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
			json_tokener_free(tok);
		}
		assert_non_null(o);
		assert_int_equal((size_t)json_object_get_string_len(o), w);
		assert_memory_equal(json_object_get_string(o), want, w);
		json_object_put(o);

		buf_reset(&b);
		assert_int_equal(escape_text(&b, in, n), 0);
		for (i = 0; i < b.len; i++) {
			assert_true(b.data[i] >= 0x20 && b.data[i] != 0x7f);
			if (b.data[i] == 0xc2 && i + 1 < b.len)
				assert_true(b.data[i + 1] >= 0xa0);
		}
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
		cmocka_unit_test(test_escape_utf8_exhaustive),
		cmocka_unit_test(test_escape_random_roundtrip),
		cmocka_unit_test(test_escape_out_of_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
