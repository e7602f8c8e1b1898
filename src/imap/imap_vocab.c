/* The lookups of imap/imap_vocab.h over its X-macro tables.
 *
 * Every table is an array indexed by id, row 0 (or the first rows) being
 * the "unknown" ones, so that a lookup by id is an index and a lookup by
 * name a binary search over the rows the X-macro wrote in name order. */
#include "imap/imap_vocab.h"

#include <string.h>

static const struct imap_cmd_def cmd_defs[IMAP_CMD_N] = {
	[IMAP_CMD_UNKNOWN] = { IMAP_CMD_UNKNOWN, "", 0, NULL, ARGS_ANY, 0 },
#define X(id, name, states, cap, args, eff) \
	[IMAP_CMD_##id] = { IMAP_CMD_##id, name, states, cap, args, eff },
	IMAP_COMMANDS(X)
#undef X
};

static const struct imap_resp_def resp_defs[IMAP_R_N] = {
	[IMAP_R_UNKNOWN] = { IMAP_R_UNKNOWN, "", false },
#define X(id, name, numbered) [IMAP_R_##id] = { IMAP_R_##id, name, numbered },
	IMAP_UNTAGGED(X)
#undef X
};

static const char *const cap_names[IMAP_CAP_N + 1] = {
#define X(id, name) [IMAP_CAP_##id] = name,
	IMAP_CAPS(X)
#undef X
	[IMAP_CAP_N] = "",
};

static const char *const code_names[IMAP_CODE_N] = {
	[IMAP_CODE_NONE] = "",
	[IMAP_CODE_OTHER] = "",
#define X(id, name) [IMAP_CODE_##id] = name,
	IMAP_CODES(X)
#undef X
};

/* The first row of each table that a name search covers. */
#define CMD_FIRST  (IMAP_CMD_UNKNOWN + 1)
#define RESP_FIRST (IMAP_R_UNKNOWN + 1)
#define CODE_FIRST (IMAP_CODE_OTHER + 1)

static uint8_t vocab_upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* strcmp of p[0..n) upper-cased against the NUL-terminated name, also
 * upper-cased: negative, zero or positive. */
static int vocab_ci_cmp(const uint8_t *p, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n && name[i] != '\0'; i++) {
		int d = vocab_upper(p[i]) - vocab_upper((uint8_t)name[i]);

		if (d != 0)
			return d;
	}
	if (i < n)
		return 1;
	return name[i] == '\0' ? 0 : -1;
}

/* Binary search of names[lo..hi) (a table of stride bytes whose rows
 * start with, at name_off, a const char *), case-insensitive; -1 if
 * absent. */
static int vocab_search(const void *rows, size_t stride, size_t name_off, int lo, int hi,
			const uint8_t *p, size_t n)
{
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		const char *name;
		int c;

		memcpy(&name, (const char *)rows + (size_t)mid * stride + name_off, sizeof name);
		c = vocab_ci_cmp(p, n, name);
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* The command and response names are looked up on every line, with keys
 * the parser has upper-cased.  The length is compared first, so that only
 * the few names of that length reach a memcmp, of a constant size the
 * compiler inlines: a third of the instructions of a strcmp search. */
#define VOCAB_IS(name, n, word) ((n) == sizeof(word) - 1 && memcmp((name), (word), sizeof(word) - 1) == 0)

const struct imap_cmd_def *imap_vocab_command(const char *name)
{
	size_t n = strlen(name);

#define X(id, word, states, cap, args, eff) \
	if (VOCAB_IS(name, n, word))       \
		return &cmd_defs[IMAP_CMD_##id];
	IMAP_COMMANDS(X)
#undef X
	return NULL;
}

const struct imap_resp_def *imap_vocab_untagged(const char *name)
{
	size_t n = strlen(name);

#define X(id, word, numbered)       \
	if (VOCAB_IS(name, n, word)) \
		return &resp_defs[IMAP_R_##id];
	IMAP_UNTAGGED(X)
#undef X
	return NULL;
}

const struct imap_cmd_def *imap_vocab_command_def(enum imap_cmd_id id)
{
	return (unsigned)id < IMAP_CMD_N ? &cmd_defs[id] : &cmd_defs[IMAP_CMD_UNKNOWN];
}

const struct imap_resp_def *imap_vocab_untagged_def(enum imap_resp_id id)
{
	return (unsigned)id < IMAP_R_N ? &resp_defs[id] : &resp_defs[IMAP_R_UNKNOWN];
}

enum imap_cap_id imap_vocab_cap(const uint8_t *p, size_t n)
{
	int i = vocab_search(cap_names, sizeof cap_names[0], 0, 0, IMAP_CAP_N, p, n);

	return i >= 0 ? (enum imap_cap_id)i : IMAP_CAP_N;
}

enum imap_code_id imap_vocab_code(const uint8_t *p, size_t n)
{
	int i = vocab_search(code_names, sizeof code_names[0], 0, CODE_FIRST, IMAP_CODE_N, p, n);

	return i >= 0 ? (enum imap_code_id)i : IMAP_CODE_OTHER;
}

const char *imap_vocab_cap_name(enum imap_cap_id id)
{
	return (unsigned)id <= IMAP_CAP_N ? cap_names[id] : "";
}

const char *imap_vocab_code_name(enum imap_code_id id)
{
	return (unsigned)id < IMAP_CODE_N ? code_names[id] : "";
}

bool imap_vocab_answers(enum imap_resp_id resp, enum imap_cmd_id cmd)
{
	/* A few dozen pairs, asked only when several commands are in flight. */
#define X(r, c) if (resp == IMAP_R_##r && cmd == IMAP_CMD_##c) return true;
	IMAP_ANSWERS(X)
#undef X
	return false;
}
