/* Header blocks and RFC 2047 (src/imap/imap_msghdr.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "imap/imap_msghdr.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct buf_slice sl(const char *s)
{
	return (struct buf_slice){ (const uint8_t *)s, strlen(s) };
}

/* in decoded: want, and whether a word was left as sent. */
static void decodes(const char *in, const char *want, bool want_left)
{
	struct buf out;
	bool left = false;

	buf_init(&out, 4096, NULL);
	assert_int_equal(imap_msghdr_decode_2047(&out, (const uint8_t *)in, strlen(in), &left), 0);
	if (out.len != strlen(want) || (out.len > 0 && memcmp(out.data, want, out.len) != 0))
		fail_msg("%s: got \"%.*s\", want \"%s\"", in, (int)out.len, (const char *)out.data, want);
	assert_int_equal(left, want_left);
	buf_free(&out);
}

static void test_2047(void **state)
{
	static const struct {
		const char *in, *want;
		bool left;
	} cases[] = {
		{ "plain text", "plain text", false },
		{ "", "", false },
		/* B and Q, UTF-8 */
		{ "=?UTF-8?B?SMOpbGxv?=", "H\xc3\xa9llo", false },
		{ "=?utf-8?q?H=C3=A9llo_world?=", "H\xc3\xa9llo world", false },
		/* ISO-8859-1 to UTF-8, any case of the charset */
		{ "=?iso-8859-1?Q?caf=E9?=", "caf\xc3\xa9", false },
		{ "=?ISO-8859-1?B?6Q==?=", "\xc3\xa9", false },
		{ "=?us-ascii?Q?a=20b?=", "a b", false },
		/* RFC 2231 language */
		{ "=?UTF-8*en?Q?hi?=", "hi", false },
		/* adjacent words: the white space between them goes */
		{ "=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab", false },
		{ "=?UTF-8?Q?a?=\r\n\t=?UTF-8?Q?b?=", "ab", false },
		/* text between words keeps its spaces */
		{ "=?UTF-8?Q?a?= x =?UTF-8?Q?b?=", "a x b", false },
		{ "Re: =?UTF-8?Q?caf=C3=A9?= ok", "Re: caf\xc3\xa9 ok", false },
		/* an encoded word split inside a multi-byte character */
		{ "=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=", "\xc3\xa9\xc3\xa9", false },
		/* other charsets, bad encodings: as sent, and said */
		{ "=?koi8-r?B?8NLJ?=", "=?koi8-r?B?8NLJ?=", true },
		{ "=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=", true },
		{ "=?UTF-8?B?###?=", "=?UTF-8?B?###?=", true },
		{ "=?UTF-8?B?SGk?=", "Hi", false },	/* padding left out: read */
		{ "=?UTF-8?B?SGk=x?=", "=?UTF-8?B?SGk=x?=", true },
		{ "=?UTF-8?Q?a=Z1?=", "=?UTF-8?Q?a=Z1?=", true },
		{ "=?UTF-8?Q?a=4?=", "=?UTF-8?Q?a=4?=", true },
		/* not words at all: copied, not said */
		{ "=?UTF-8?Q?unterminated", "=?UTF-8?Q?unterminated", false },
		{ "a =? b", "a =? b", false },
		{ "=?=", "=?=", false },
		/* a bad word beside a good one: the space before it stays */
		{ "=?UTF-8?Q?a?= =?UTF-8?B?@@?=", "a =?UTF-8?B?@@?=", true },
		/* 8-bit bytes are kept as they are, valid UTF-8 or not */
		{ "caf\xc3\xa9 \xff", "caf\xc3\xa9 \xff", false },
		{ "=?UTF-8?Q?=FF?=", "\xff", false },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++)
		decodes(cases[i].in, cases[i].want, cases[i].left);
}

static void test_2047_full(void **state)
{
	struct buf out;
	bool left = false;
	const char *in = "=?UTF-8?Q?abcdef?=";

	(void)state;
	buf_init(&out, 3, NULL);
	assert_int_equal(imap_msghdr_decode_2047(&out, (const uint8_t *)in, strlen(in), &left), -1);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void slice_is(struct buf_slice s, const char *want)
{
	if (want == NULL) {
		assert_null(s.ptr);
		return;
	}
	assert_non_null(s.ptr);
	if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, (const char *)s.ptr, want);
}

static void test_scan(void **state)
{
	struct imap_msghdr h;
	const char *msg =
		"Received: from x\r\n\tby y\r\n"
		"SUBJECT: =?UTF-8?Q?one?=\r\n two\r\n"
		"From: \"A\" <a@example.org>\r\n"
		"Subject: second, ignored\r\n"
		"Message-Id:<m@x>\r\n"
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
		"\r\n"
		"Message-ID: <body@x>\r\n";

	(void)state;
	imap_msghdr_scan(sl(msg), &h);
	slice_is(h.subject, " =?UTF-8?Q?one?=\r\n two");
	slice_is(h.from, " \"A\" <a@example.org>");
	slice_is(h.message_id, "<m@x>");
	slice_is(h.date, " Mon, 1 Jan 2024 10:00:00 +0000");

	/* bare LF, a block cut in a header line, no body */
	imap_msghdr_scan(sl("From: b@x\nSubject: cut he"), &h);
	slice_is(h.from, " b@x");
	slice_is(h.subject, " cut he");
	slice_is(h.message_id, NULL);

	/* the body's lines are not headers; neither is a line without ":" */
	imap_msghdr_scan(sl("\r\nSubject: body"), &h);
	slice_is(h.subject, NULL);
	imap_msghdr_scan(sl("not a header\r\nSubject: s\r\n"), &h);
	slice_is(h.subject, " s");
	imap_msghdr_scan((struct buf_slice){ NULL, 0 }, &h);
	slice_is(h.subject, NULL);
}

static void value_is(const char *in, const char *want, int want_rc)
{
	struct buf out;
	bool left = false;

	buf_init(&out, 4096, NULL);
	assert_int_equal(imap_msghdr_value(&out, sl(in), &left), want_rc);
	if (want_rc == 0 &&
	    (out.len != strlen(want) || (out.len > 0 && memcmp(out.data, want, out.len) != 0)))
		fail_msg("%s: got \"%.*s\", want \"%s\"", in, (int)out.len, (const char *)out.data, want);
	if (want_rc != 0)
		assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void test_value(void **state)
{
	static char long_value[IMAP_MSGHDR_MAX_VALUE + 2];

	(void)state;
	/* unfolded: the line end goes, the white space after it stays */
	value_is(" folded\r\n  line ", "folded  line", 0);
	value_is(" =?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab", 0);
	value_is("\tx\n y", "x y", 0);
	value_is("", "", 0);
	/* too long: unknown, not cut */
	memset(long_value, 'a', sizeof long_value - 1);
	value_is(long_value, NULL, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_2047),
		cmocka_unit_test(test_2047_full),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
