/* The IMAP vocabulary (imap_vocab.h) and character classes (imap_chars.h):
 * every table sorted, every name found and mapped back to its id, the
 * unknown rows harmless, and the character classes as RFC 9051 writes
 * them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_chars.h"
#include "imap/imap_vocab.h"

static const char *const cmd_names[] = {
#define X(id, name, states, cap, args, eff) name,
	IMAP_COMMANDS(X)
#undef X
};
static const enum imap_cmd_id cmd_ids[] = {
#define X(id, name, states, cap, args, eff) IMAP_CMD_##id,
	IMAP_COMMANDS(X)
#undef X
};
static const char *const resp_names[] = {
#define X(id, name, numbered) name,
	IMAP_UNTAGGED(X)
#undef X
};
static const enum imap_resp_id resp_ids[] = {
#define X(id, name, numbered) IMAP_R_##id,
	IMAP_UNTAGGED(X)
#undef X
};
static const char *const cap_names[] = {
#define X(id, name) name,
	IMAP_CAPS(X)
#undef X
};
static const enum imap_cap_id cap_ids[] = {
#define X(id, name) IMAP_CAP_##id,
	IMAP_CAPS(X)
#undef X
};
static const char *const code_names[] = {
#define X(id, name) name,
	IMAP_CODES(X)
#undef X
};
static const enum imap_code_id code_ids[] = {
#define X(id, name) IMAP_CODE_##id,
	IMAP_CODES(X)
#undef X
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Strictly increasing: sorted and no name twice. */
static void check_sorted(const char *const *names, size_t n, bool ci, const char *what)
{
	for (size_t i = 1; i < n; i++) {
		int c = ci ? strcasecmp(names[i - 1], names[i]) : strcmp(names[i - 1], names[i]);

		if (c >= 0)
			fail_msg("%s: \"%s\" before \"%s\"", what, names[i - 1], names[i]);
	}
}

static void test_tables_sorted(void **state)
{
	(void)state;
	check_sorted(cmd_names, N(cmd_names), false, "IMAP_COMMANDS");
	check_sorted(resp_names, N(resp_names), false, "IMAP_UNTAGGED");
	check_sorted(cap_names, N(cap_names), true, "IMAP_CAPS");
	check_sorted(code_names, N(code_names), true, "IMAP_CODES");
	assert_true(IMAP_CAP_N <= 64);	/* they are bits of a uint64_t */
}

static void test_commands_map_back(void **state)
{
	(void)state;
	assert_int_equal(N(cmd_names), IMAP_CMD_N - 1);
	for (size_t i = 0; i < N(cmd_names); i++) {
		const struct imap_cmd_def *d = imap_vocab_command(cmd_names[i]);

		if (d == NULL || d->id != cmd_ids[i])
			fail_msg("%s not found as itself", cmd_names[i]);
		assert_ptr_equal(imap_vocab_command_def(cmd_ids[i]), d);
		assert_string_equal(d->name, cmd_names[i]);
		assert_true(d->states != 0);
	}
	/* Upper case only: the parser upper-cases what it looks up. */
	assert_null(imap_vocab_command("login"));
	assert_null(imap_vocab_command("X-GM-RAW"));
	assert_null(imap_vocab_command(""));
	assert_null(imap_vocab_command("UID FETCHX"));
	assert_null(imap_vocab_command("LOGI"));
	assert_null(imap_vocab_command("LOGINX"));
	assert_string_equal(imap_vocab_command_def(IMAP_CMD_UNKNOWN)->name, "");
	assert_int_equal(imap_vocab_command_def(IMAP_CMD_UNKNOWN)->effects, 0);
	assert_int_equal(imap_vocab_command_def(IMAP_CMD_UNKNOWN)->states, 0);
	assert_string_equal(imap_vocab_command_def(IMAP_CMD_N)->name, "");
	assert_string_equal(imap_vocab_command_def((enum imap_cmd_id)-1)->name, "");
}

static void test_untagged_map_back(void **state)
{
	(void)state;
	assert_int_equal(N(resp_names), IMAP_R_N - 1);
	for (size_t i = 0; i < N(resp_names); i++) {
		const struct imap_resp_def *d = imap_vocab_untagged(resp_names[i]);

		if (d == NULL || d->id != resp_ids[i])
			fail_msg("%s not found as itself", resp_names[i]);
		assert_ptr_equal(imap_vocab_untagged_def(resp_ids[i]), d);
	}
	assert_true(imap_vocab_untagged("EXISTS")->numbered);
	assert_false(imap_vocab_untagged("LIST")->numbered);
	assert_null(imap_vocab_untagged("ok"));
	assert_null(imap_vocab_untagged("APPLES"));
	assert_string_equal(imap_vocab_untagged_def(IMAP_R_UNKNOWN)->name, "");
	assert_string_equal(imap_vocab_untagged_def(IMAP_R_N)->name, "");
}

/* Capabilities and codes: any case, length given (not NUL-terminated). */
static void test_caps_and_codes(void **state)
{
	char buf[64];

	(void)state;
	for (size_t i = 0; i < N(cap_names); i++) {
		size_t n = strlen(cap_names[i]);

		assert_int_equal(imap_vocab_cap((const uint8_t *)cap_names[i], n), cap_ids[i]);
		assert_string_equal(imap_vocab_cap_name(cap_ids[i]), cap_names[i]);
		for (size_t k = 0; k < n; k++)	/* lower case, and a byte after */
			buf[k] = (char)(cap_names[i][k] | 0x20);
		buf[n] = 'Z';
		assert_int_equal(imap_vocab_cap((const uint8_t *)buf, n), cap_ids[i]);
		assert_int_equal(imap_vocab_cap((const uint8_t *)buf, n + 1), IMAP_CAP_N);
	}
	for (size_t i = 0; i < N(code_names); i++) {
		size_t n = strlen(code_names[i]);

		assert_int_equal(imap_vocab_code((const uint8_t *)code_names[i], n), code_ids[i]);
		assert_string_equal(imap_vocab_code_name(code_ids[i]), code_names[i]);
		for (size_t k = 0; k < n; k++)
			buf[k] = (char)(code_names[i][k] | 0x20);
		assert_int_equal(imap_vocab_code((const uint8_t *)buf, n), code_ids[i]);
	}
	assert_int_equal(imap_vocab_cap((const uint8_t *)"imap4rev1", 9), IMAP_CAP_IMAP4REV1);
	assert_int_equal(imap_vocab_cap((const uint8_t *)"ID", 2), IMAP_CAP_ID);
	assert_int_equal(imap_vocab_cap((const uint8_t *)"IDL", 3), IMAP_CAP_N);
	assert_int_equal(imap_vocab_cap((const uint8_t *)"AUTH=PLAIN", 10), IMAP_CAP_N);
	assert_int_equal(imap_vocab_cap((const uint8_t *)"", 0), IMAP_CAP_N);
	assert_int_equal(imap_vocab_cap((const uint8_t *)"ID\0", 3), IMAP_CAP_N);
	assert_int_equal(imap_vocab_code((const uint8_t *)"read-only", 9), IMAP_CODE_READ_ONLY);
	assert_int_equal(imap_vocab_code((const uint8_t *)"REFERRAL", 8), IMAP_CODE_OTHER);
	assert_int_equal(imap_vocab_code((const uint8_t *)"", 0), IMAP_CODE_OTHER);
	assert_string_equal(imap_vocab_code_name(IMAP_CODE_NONE), "");
	assert_string_equal(imap_vocab_code_name(IMAP_CODE_OTHER), "");
	assert_string_equal(imap_vocab_cap_name(IMAP_CAP_N), "");
}

/* The rows the session acts on say what the RFCs say. */
static void test_effects_and_states(void **state)
{
	(void)state;
	assert_true(imap_vocab_effects(IMAP_CMD_LOGIN) & EFF_LOGIN);
	assert_true(imap_vocab_effects(IMAP_CMD_AUTHENTICATE) & EFF_LOGIN);
	assert_true(imap_vocab_effects(IMAP_CMD_EXAMINE) & EFF_SELECT);
	assert_true(imap_vocab_effects(IMAP_CMD_EXAMINE) & EFF_READONLY);
	assert_true(imap_vocab_effects(IMAP_CMD_UNAUTHENTICATE) & EFF_UNAUTH);
	assert_true(imap_vocab_effects(IMAP_CMD_REPLACE) & EFF_APPEND);
	assert_int_equal(imap_vocab_effects(IMAP_CMD_UNKNOWN), 0);
	/* An OK to one of these proves a login; not to the others. */
	assert_true(imap_vocab_needs_auth(IMAP_CMD_FETCH));
	assert_true(imap_vocab_needs_auth(IMAP_CMD_UID_FETCH));
	assert_true(imap_vocab_needs_auth(IMAP_CMD_SELECT));
	assert_true(imap_vocab_needs_auth(IMAP_CMD_UNAUTHENTICATE));
	assert_false(imap_vocab_needs_auth(IMAP_CMD_CAPABILITY));
	assert_false(imap_vocab_needs_auth(IMAP_CMD_NOOP));
	assert_false(imap_vocab_needs_auth(IMAP_CMD_ID));
	assert_false(imap_vocab_needs_auth(IMAP_CMD_LOGIN));
	assert_false(imap_vocab_needs_auth(IMAP_CMD_STARTTLS));
	assert_false(imap_vocab_needs_auth(IMAP_CMD_UNKNOWN));
	/* Every command with an effect on the state is in a state it allows. */
	for (size_t i = 0; i < N(cmd_ids); i++) {
		const struct imap_cmd_def *d = imap_vocab_command_def(cmd_ids[i]);

		if ((d->effects & (EFF_SELECT | EFF_UNSELECT | EFF_UNAUTH)) != 0)
			assert_int_equal(d->states & ST_NA, 0);
		if ((d->effects & EFF_LOGIN) != 0)
			assert_int_equal(d->states, ST_NA);
	}
}

static void test_answers(void **state)
{
	(void)state;
	assert_true(imap_vocab_answers(IMAP_R_FETCH, IMAP_CMD_UID_FETCH));
	assert_true(imap_vocab_answers(IMAP_R_FETCH, IMAP_CMD_STORE));
	assert_true(imap_vocab_answers(IMAP_R_EXISTS, IMAP_CMD_EXAMINE));
	assert_true(imap_vocab_answers(IMAP_R_ESEARCH, IMAP_CMD_UID_SORT));
	assert_true(imap_vocab_answers(IMAP_R_ENABLED, IMAP_CMD_ENABLE));
	assert_false(imap_vocab_answers(IMAP_R_FETCH, IMAP_CMD_LIST));
	assert_false(imap_vocab_answers(IMAP_R_OK, IMAP_CMD_NOOP));
	assert_false(imap_vocab_answers(IMAP_R_UNKNOWN, IMAP_CMD_UNKNOWN));
	assert_false(imap_vocab_answers(IMAP_R_LIST, IMAP_CMD_UNKNOWN));
}

/* The classes against RFC 9051 section 9 written out plainly. */
static void test_char_classes(void **state)
{
	(void)state;
	for (int i = 0; i < 256; i++) {
		uint8_t c = (uint8_t)i;
		bool ctl = c <= 0x1f || c == 0x7f;
		bool special = c == '(' || c == ')' || c == '{' || c == ' ' || ctl ||
			       c == '%' || c == '*' || c == '"' || c == '\\' || c == ']';
		bool atom = c >= 0x01 && c <= 0x7f && !special;
		bool astring = atom || c == ']';

		assert_int_equal(imap_char_is_ctl(c), ctl);
		assert_int_equal(imap_char_is_atom(c), atom);
		assert_int_equal(imap_char_is_astring(c), astring);
		assert_int_equal(imap_char_is_tag(c), astring && c != '+');
		assert_int_equal(imap_char_is_digit(c), c >= '0' && c <= '9');
		assert_int_equal(imap_char_is_wildcard(c), c == '%' || c == '*');
		assert_int_equal(imap_char_is_quoted_special(c), c == '"' || c == '\\');
		assert_int_equal(imap_char_in(c, IMAP_CH_RSPECIAL), c == ']');
		/* the tokenizer's word: 8-bit, "%", "*", "\" and "]" inside */
		assert_int_equal(imap_char_is_word(c),
				 c > 0x20 && c != 0x7f && c != '(' && c != ')' && c != '{' &&
				 c != '"' && c != '[');
	}
	assert_int_equal(imap_chars_span((const uint8_t *)"a1+ x", 5, 0, IMAP_CH_TAG), 2);
	assert_int_equal(imap_chars_span((const uint8_t *)"a1+ x", 5, 0, IMAP_CH_ATOM), 3);
	assert_int_equal(imap_chars_span((const uint8_t *)"a1+ x", 5, 4, IMAP_CH_ATOM), 1);
	assert_int_equal(imap_chars_span((const uint8_t *)"a1+ x", 5, 5, IMAP_CH_ATOM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_sorted),
		cmocka_unit_test(test_commands_map_back),
		cmocka_unit_test(test_untagged_map_back),
		cmocka_unit_test(test_caps_and_codes),
		cmocka_unit_test(test_effects_and_states),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_char_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
