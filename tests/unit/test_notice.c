/* util/notice: kind names, formatting, the facts carried. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/notice.h"

struct heard {
	int n;
	struct notice last;
	char text[NOTICE_MAX + 16];
};

static void hear(void *ctx, const struct notice *n)
{
	struct heard *h = ctx;

	h->n++;
	h->last = *n;
	strcpy(h->text, n->text);
}

/* The names are the JSON "kind" values: a contract, spelled out here. */
static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(notice_kind_name(NOTICE_GAP), "gap");
	assert_string_equal(notice_kind_name(NOTICE_MID_STREAM), "mid_stream");
	assert_string_equal(notice_kind_name(NOTICE_INFLATE_LIMIT), "inflate_limit");
	assert_string_equal(notice_kind_name(NOTICE_STARTTLS_NOT_NEGOTIATED),
			    "starttls_not_negotiated");
	assert_string_equal(notice_kind_name(NOTICE_TLS_KEY_UPDATE_FAILED),
			    "tls_key_update_failed");
	assert_string_equal(notice_kind_name(NOTICE_N_KINDS), "other");
	assert_string_equal(notice_kind_name((enum notice_kind)-1), "other");
}

/* Every kind has a distinct snake_case name. */
static void test_kind_names_distinct(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < NOTICE_N_KINDS; i++) {
		const char *a = notice_kind_name((enum notice_kind)i);

		assert_true(strlen(a) > 0);
		assert_int_equal(strspn(a, "abcdefghijklmnopqrstuvwxyz_0123456789"), strlen(a));
		for (j = i + 1; j < NOTICE_N_KINDS; j++)
			assert_string_not_equal(a, notice_kind_name((enum notice_kind)j));
	}
}

static void test_send(void **state)
{
	struct heard h = { 0 };
	struct notice proto = NOTICE_OF(NOTICE_OOO_FULL);
	char big[NOTICE_MAX * 2];

	(void)state;
	notice_send(NULL, &h, NOTICE_GAP, "nobody %d", 1);	/* no listener: nothing */
	notice_send(hear, &h, NOTICE_RESYNC, "skipped %d bytes", 42);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.last.kind, NOTICE_RESYNC);
	assert_int_equal(h.last.session, 0);
	assert_int_equal(h.last.dir, -1);
	assert_true(h.last.offset == NOTICE_NONE && h.last.bytes == NOTICE_NONE);
	assert_string_equal(h.text, "skipped 42 bytes");

	proto.session = 9;
	proto.ts_us = 123;
	proto.dir = 1;
	proto.offset = 10;
	proto.bytes = 20;
	proto.text = "replaced";
	notice_sendf(hear, &h, &proto, "%s", "queue full");
	assert_int_equal(h.n, 2);
	assert_int_equal(h.last.kind, NOTICE_OOO_FULL);
	assert_int_equal(h.last.session, 9);
	assert_int_equal(h.last.ts_us, 123);
	assert_int_equal(h.last.dir, 1);
	assert_int_equal(h.last.offset, 10);
	assert_int_equal(h.last.bytes, 20);
	assert_string_equal(h.text, "queue full");

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	notice_send(hear, &h, NOTICE_LINE_CUT, "%s", big);	/* cut at NOTICE_MAX */
	assert_int_equal(strlen(h.text), NOTICE_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_kind_names_distinct),
		cmocka_unit_test(test_send),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
