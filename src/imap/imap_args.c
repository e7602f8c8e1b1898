/* Decoders of command arguments and response data (see imap/imap_args.h).
 *
 * Everything walks the tokenizer of imap_lexer.c over a finished line:
 * lists are followed by the cursor's depth, so nesting costs no recursion
 * and stops at IMAP_MAX_DEPTH like every other walk of a line. */
#include "imap/imap_args.h"

#include <string.h>

#include "imap/imap_sasl.h"

/* --- small helpers ------------------------------------------------------ */

static struct buf_slice slice_between(const uint8_t *from, const uint8_t *to)
{
	return (struct buf_slice){ from, to > from ? (size_t)(to - from) : 0 };
}

static struct buf_slice trim_spaces(struct buf_slice s)
{
	while (s.len > 0 && s.ptr[0] == ' ') {
		s.ptr++;
		s.len--;
	}
	while (s.len > 0 && s.ptr[s.len - 1] == ' ')
		s.len--;
	return s.len > 0 ? s : SLICE_NULL;
}

bool imap_args_number(struct buf_slice s, uint64_t *v_r)
{
	uint64_t v = 0;

	if (s.ptr == NULL || s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (s.ptr[i] < '0' || s.ptr[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s.ptr[i] - '0'), &v))
			return false;
	*v_r = v;
	return true;
}

static uint8_t ascii_upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c;
}

/* p..n equals name (n bytes), ASCII letters without case. */
static bool ci_equal_n(const uint8_t *p, const char *name, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_upper(p[i]) != ascii_upper((uint8_t)name[i]))
			return false;
	return true;
}

/* s begins with the literal w (no strlen: these run per response line). */
#define CI_PREFIX(s, w) ((s).len >= sizeof(w) - 1 && ci_equal_n((s).ptr, (w), sizeof(w) - 1))
/* s is the item name w, upper case as servers send it or in any case. */
#define NAME_IS(s, w) ((s).len == sizeof(w) - 1 && \
		       (memcmp((s).ptr, (w), sizeof(w) - 1) == 0 || \
			ci_equal_n((s).ptr, (w), sizeof(w) - 1)))

/* A string token's wire value without unescaping: an atom, a quoted
 * string's contents, a literal's kept contents; null otherwise (NIL too). */
static struct buf_slice tok_text(const struct imap_tok *t)
{
	switch (t->type) {
	case IMAP_TOK_ATOM:
		return buf_slice_ieq(t->value, "NIL") ? SLICE_NULL : t->value;
	case IMAP_TOK_QUOTED:
	case IMAP_TOK_SECTION:
		return t->value;
	case IMAP_TOK_LITERAL:
		return t->lit->kept;
	default:
		return SLICE_NULL;
	}
}

/* ATOM-CHAR as the tokenizer reads it (imap_lexer.c tok_atom_char): any
 * byte but CTL, SP, DEL and ( ) { " [; a table, since it runs per byte. */
static const uint8_t atom_bytes[256] = {
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,	/* 0x00 */
	0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,	/* 0x10 */
	0,1,0,1,1,1,1,1,0,0,1,1,1,1,1,1,	/* 0x20 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0x30 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0x40 */
	1,1,1,1,1,1,1,1,1,1,1,0,1,1,1,1,	/* 0x50 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0x60 */
	1,1,1,1,1,1,1,1,1,1,1,0,1,1,1,0,	/* 0x70 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0x80 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0x90 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0xa0 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0xb0 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0xc0 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0xd0 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0xe0 */
	1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,	/* 0xf0 */
};

static bool atom_byte(uint8_t c)
{
	return atom_bytes[c] != 0;
}

/* The ")" closing a list whose "(" was just read, found by bytes where
 * the list holds nothing but atoms, spaces, lists and "[]" (FLAGS, FETCH
 * items, BODYSTRUCTURE without strings), where a token walk would give
 * the same answer at a fraction of the cost; 0 when it may not (a quoted
 * string, a literal, a section, a partial, a control byte, the depth
 * cap): the caller walks tokens then. */
static size_t list_end_bytes(const uint8_t *p, size_t n, size_t from, int depth0)
{
	int depth = 0;

	for (size_t i = from; i < n; i++) {
		if ((atom_byte(p[i]) && p[i] != '~') || p[i] == ' ')
			continue;	/* most bytes */
		switch (p[i]) {
		case '(':
			if (depth0 + ++depth > IMAP_MAX_DEPTH)
				return 0;
			break;
		case ')':
			if (depth-- == 0)
				return i;
			break;
		case '[':
			if (i + 1 >= n || p[i + 1] != ']' || (i + 2 < n && p[i + 2] == '<'))
				return 0;
			i++;
			break;
		case '"':
		case '{':
		case '~':
		case 0x7f:
			return 0;
		default:
			if (p[i] < 0x20)
				return 0;
		}
	}
	return 0;
}

static size_t fast_list_end(const struct imap_tok_cursor *c)
{
	return list_end_bytes(c->line->text.ptr, c->line->text.len, c->pos, c->depth);
}

/* Past the rest of a list whose "(" was just read: the cursor stops after
 * its ")"; the slice between the parentheses in *inner_r (may be NULL).
 * false when the line ends first or a token is malformed. */
static bool skip_list(struct imap_tok_cursor *c, const struct imap_tok *open,
		      struct buf_slice *inner_r)
{
	int depth = c->depth;
	size_t end = fast_list_end(c);
	struct imap_tok t;

	if (end != 0) {
		if (inner_r != NULL)
			*inner_r = slice_between(open->raw.ptr + 1, c->line->text.ptr + end);
		c->pos = end + 1;
		c->depth = depth - 1;
		return true;
	}

	while (imap_tok_next(c, &t) != IMAP_TOK_END && t.type != IMAP_TOK_ERROR) {
		if (t.type == IMAP_TOK_RPAREN && c->depth < depth) {
			if (inner_r != NULL)
				*inner_r = slice_between(open->raw.ptr + 1, t.raw.ptr);
			return true;
		}
	}
	return false;
}

/* flag-list = "(" [flag *(SP flag)] ")", its "(" just read: the flags
 * between the parentheses (an empty slice for "()"); false when anything
 * but a flag is inside. */
static bool flag_list(struct imap_tok_cursor *c, const struct imap_tok *open,
		      struct buf_slice *flags_r)
{
	struct imap_tok t;

	while (imap_tok_next(c, &t) == IMAP_TOK_ATOM)
		;
	if (t.type != IMAP_TOK_RPAREN)
		return false;
	*flags_r = (struct buf_slice){ open->raw.ptr + 1, (size_t)(t.raw.ptr - open->raw.ptr - 1) };
	return true;
}

/* --- modified UTF-7 ------------------------------------------------------ */

static int b64_value(uint8_t ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == ',')
		return 63;
	return -1;
}

static size_t utf8_put(uint8_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xc0 | cp >> 6);
		o[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xe0 | cp >> 12);
		o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | cp >> 18);
	o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* What a step of the decoding gave. */
enum mutf7_rc { MUTF7_OK = 0, MUTF7_INVALID = 1, MUTF7_FULL = -1 };

/* One UTF-16 unit of a shift run: a character out, or half a pair kept in
 * *hi. */
static enum mutf7_rc mutf7_unit(struct buf *out, uint32_t u, uint32_t *hi)
{
	uint8_t enc[4];

	if (u >= 0xd800 && u <= 0xdbff) {
		if (*hi != 0)
			return MUTF7_INVALID;
		*hi = u;
		return MUTF7_OK;
	}
	if (u >= 0xdc00 && u <= 0xdfff) {
		if (*hi == 0)
			return MUTF7_INVALID;
		u = 0x10000 + ((*hi - 0xd800) << 10) + (u - 0xdc00);
		*hi = 0;
	} else if (*hi != 0 || (u >= 0x20 && u <= 0x7e) || u == 0) {
		/* printable ASCII must stand for itself */
		return MUTF7_INVALID;
	}
	return buf_append(out, enc, utf8_put(enc, u)) == 0 ? MUTF7_OK : MUTF7_FULL;
}

/* The base64 run after "&" up to its "-"; *i is left past the "-".  It
 * must be modified base64 of whole UTF-16 units. */
static enum mutf7_rc mutf7_run(struct buf *out, const uint8_t *p, size_t n, size_t *i)
{
	uint32_t bits = 0, hi = 0;
	unsigned nbits = 0;
	size_t k = *i;
	enum mutf7_rc rc;

	if (k == n || p[k] == '-')
		return MUTF7_INVALID;	/* "&-" is handled by the caller */
	for (; k < n && p[k] != '-'; k++) {
		int v = b64_value(p[k]);

		if (v < 0)
			return MUTF7_INVALID;
		bits = (bits << 6 | (uint32_t)v) & 0x3fffff;
		nbits += 6;
		if (nbits >= 16) {
			nbits -= 16;
			if ((rc = mutf7_unit(out, bits >> nbits & 0xffff, &hi)) != MUTF7_OK)
				return rc;
		}
	}
	/* the run ends with "-"; what is left is zero padding, under 6 bits */
	if (k == n || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0 || hi != 0)
		return MUTF7_INVALID;
	*i = k + 1;
	return MUTF7_OK;
}

int imap_mutf7_decode(struct buf *out, const uint8_t *p, size_t n)
{
	size_t start = out->len, i = 0;
	enum mutf7_rc rc = MUTF7_OK;

	while (i < n && rc == MUTF7_OK) {
		uint8_t ch = p[i++];

		if (ch < 0x20 || ch > 0x7e) {
			rc = MUTF7_INVALID;
		} else if (ch != '&') {
			rc = buf_append(out, &ch, 1) == 0 ? MUTF7_OK : MUTF7_FULL;
		} else if (i < n && p[i] == '-') {
			rc = buf_append(out, "&", 1) == 0 ? MUTF7_OK : MUTF7_FULL;
			i++;
		} else {
			rc = mutf7_run(out, p, n, &i);
		}
	}
	if (rc != MUTF7_OK)
		out->len = start;
	return (int)rc;
}

/* --- mailbox names ------------------------------------------------------ */

/* A quoted string's contents with escapes undone into dst (at most cap
 * bytes); its length, or -1. */
static long unquote_fixed(uint8_t *dst, size_t cap, struct buf_slice q)
{
	size_t o = 0;

	for (size_t i = 0; i < q.len; i++) {
		uint8_t ch = q.ptr[i];

		if (ch == '\\') {
			if (i + 1 >= q.len || (q.ptr[i + 1] != '"' && q.ptr[i + 1] != '\\'))
				return -1;
			ch = q.ptr[++i];
		}
		if (o == cap)
			return -1;
		dst[o++] = ch;
	}
	return (long)o;
}

int imap_args_mailbox(struct buf *out, const struct imap_tok *t)
{
	uint8_t tmp[IMAP_ARGS_MAX_MAILBOX];
	struct buf_slice v;
	size_t start = out->len;
	long n;
	int rc;

	switch (t->type) {
	case IMAP_TOK_ATOM:
		v = t->value;
		break;
	case IMAP_TOK_QUOTED:
		if ((n = unquote_fixed(tmp, sizeof tmp, t->value)) < 0)
			return -1;
		v = (struct buf_slice){ tmp, (size_t)n };
		break;
	case IMAP_TOK_LITERAL:
		v = t->lit->kept;
		if (v.ptr == NULL)
			return -1;
		break;
	default:
		return -1;
	}
	if (v.len > IMAP_ARGS_MAX_MAILBOX)
		return -1;
	rc = imap_mutf7_decode(out, v.ptr, v.len);
	if (rc == 1)
		rc = buf_append(out, v.ptr, v.len);
	if (rc != 0)
		out->len = start;
	return rc == 0 ? 0 : -1;
}

/* --- command arguments -------------------------------------------------- */

/* The walk of one command's arguments.  Names go to names; their slices are
 * set once the walk is over, since names may move as it grows. */
struct args_walk {
	struct imap_tok_cursor c;
	struct buf *names;
	struct command_facts *f;
	size_t off[2], len[2];
	bool have[2];
	bool lost;	/* an argument was not what the grammar wants: stop */
};

/* The next token as mailbox number k (0: mailbox, 1: mailbox2). */
static void walk_mailbox(struct args_walk *w, int k, const struct imap_tok *t)
{
	size_t before = w->names->len;

	if (w->lost || imap_args_mailbox(w->names, t) != 0) {
		w->lost = true;
		return;
	}
	w->off[k] = before;
	w->len[k] = w->names->len - before;
	w->have[k] = true;
}

static void next_mailbox(struct args_walk *w, int k)
{
	struct imap_tok t;

	imap_tok_next(&w->c, &t);
	walk_mailbox(w, k, &t);
}

/* A sequence set ("1:4,7", "$"): an atom (a literal would be odd, but is
 * its contents). */
static void next_seqset(struct args_walk *w)
{
	struct imap_tok t;

	if (imap_tok_next(&w->c, &t) == IMAP_TOK_ATOM || t.type == IMAP_TOK_LITERAL)
		w->f->seqset = tok_text(&t);
	else
		w->lost = true;
}

/* The rest of the line, as sent. */
static struct buf_slice rest_of_line(const struct args_walk *w)
{
	const struct imap_line *l = w->c.line;

	return trim_spaces((struct buf_slice){ l->text.ptr + w->c.pos, l->text.len - w->c.pos });
}

/* A parenthesised list's contents, or a single item, as sent. */
static struct buf_slice next_list_or_item(struct args_walk *w)
{
	struct imap_tok t;
	struct buf_slice inner = SLICE_NULL;

	if (w->lost)
		return SLICE_NULL;
	if (imap_tok_next(&w->c, &t) == IMAP_TOK_LPAREN)
		return skip_list(&w->c, &t, &inner) ? inner : SLICE_NULL;
	if (t.type == IMAP_TOK_ATOM || t.type == IMAP_TOK_SECTION)
		return t.raw;
	return SLICE_NULL;
}

typedef void args_fn(struct args_walk *w);

/* SELECT, EXAMINE, CREATE, DELETE, (UN)SUBSCRIBE and the ACL/quota
 * commands that name a mailbox first. */
static void args_mailbox(struct args_walk *w)
{
	next_mailbox(w, 0);
}

static void args_rename(struct args_walk *w)
{
	next_mailbox(w, 0);
	next_mailbox(w, 1);
}

static void args_status(struct args_walk *w)
{
	next_mailbox(w, 0);
	w->f->items = next_list_or_item(w);
}

/* list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
 *        [SP list-return-opts]; a pattern list gives its first pattern. */
static void args_list(struct args_walk *w)
{
	struct imap_tok t;

	if (imap_tok_next(&w->c, &t) == IMAP_TOK_LPAREN) {
		if (!skip_list(&w->c, &t, NULL))
			return;
		imap_tok_next(&w->c, &t);
	}
	walk_mailbox(w, 0, &t);
	if (imap_tok_next(&w->c, &t) == IMAP_TOK_LPAREN)
		imap_tok_next(&w->c, &t);
	walk_mailbox(w, 1, &t);
}

/* append = "APPEND" SP mailbox 1*(SP append-opts SP append-data) with
 * append-opts = [SP flag-list] [SP date-time]: the first message's. */
static void append_opts(struct args_walk *w)
{
	struct imap_tok t;

	while (!w->lost && imap_tok_next(&w->c, &t) != IMAP_TOK_END) {
		if (t.type == IMAP_TOK_LPAREN && w->f->flags.ptr == NULL && w->f->date.ptr == NULL) {
			if (!flag_list(&w->c, &t, &w->f->flags))
				return;
		} else if (t.type == IMAP_TOK_QUOTED && w->f->date.ptr == NULL) {
			w->f->date = t.value;
		} else {
			return;	/* the message, or an extension's data */
		}
	}
}

static void args_append(struct args_walk *w)
{
	next_mailbox(w, 0);
	append_opts(w);
}

/* replace = "REPLACE" SP seq-number SP mailbox append-opts SP append-data
 * (RFC 8508) */
static void args_replace(struct args_walk *w)
{
	next_seqset(w);
	next_mailbox(w, 0);
	append_opts(w);
}

static void args_copy(struct args_walk *w)
{
	next_seqset(w);
	next_mailbox(w, 0);
}

static void args_seqset(struct args_walk *w)
{
	next_seqset(w);
}

/* fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
 *         fetch-att / "(" fetch-att *(SP fetch-att) ")") [modifiers] */
static void args_fetch(struct args_walk *w)
{
	next_seqset(w);
	w->f->items = next_list_or_item(w);
}

/* store = "STORE" SP sequence-set [SP "(" modifiers ")"] SP
 *         store-att-flags; the flags with or without parentheses. */
static void args_store(struct args_walk *w)
{
	struct imap_tok t;

	next_seqset(w);
	if (w->lost)
		return;
	if (imap_tok_next(&w->c, &t) == IMAP_TOK_LPAREN) {
		if (!skip_list(&w->c, &t, NULL))
			return;
		imap_tok_next(&w->c, &t);
	}
	if (t.type != IMAP_TOK_ATOM)
		return;
	w->f->items = t.value;
	if (imap_tok_next(&w->c, &t) == IMAP_TOK_LPAREN) {
		struct buf_slice flags;

		if (flag_list(&w->c, &t, &flags))
			w->f->flags = flags;
	} else if (t.type == IMAP_TOK_ATOM) {
		w->f->flags = trim_spaces(slice_between(t.raw.ptr, w->c.line->text.ptr +
							 w->c.line->text.len));
	}
}

/* SEARCH, SORT, THREAD, ESEARCH criteria; ENABLE's capabilities */
static void args_search(struct args_walk *w)
{
	w->f->items = rest_of_line(w);
}

static void args_authenticate(struct args_walk *w)
{
	struct imap_tok t;

	if (imap_tok_next(&w->c, &t) == IMAP_TOK_ATOM)
		w->f->mechanism = t.value;
}

/* Adding a command with new syntax is one row here. */
static args_fn *const args_handlers[IMAP_CMD_N] = {
	[IMAP_CMD_SELECT] = args_mailbox,
	[IMAP_CMD_EXAMINE] = args_mailbox,
	[IMAP_CMD_CREATE] = args_mailbox,
	[IMAP_CMD_DELETE] = args_mailbox,
	[IMAP_CMD_SUBSCRIBE] = args_mailbox,
	[IMAP_CMD_UNSUBSCRIBE] = args_mailbox,
	[IMAP_CMD_GETQUOTAROOT] = args_mailbox,
	[IMAP_CMD_GETACL] = args_mailbox,
	[IMAP_CMD_MYRIGHTS] = args_mailbox,
	[IMAP_CMD_LISTRIGHTS] = args_mailbox,
	[IMAP_CMD_SETACL] = args_mailbox,
	[IMAP_CMD_DELETEACL] = args_mailbox,
	[IMAP_CMD_RENAME] = args_rename,
	[IMAP_CMD_STATUS] = args_status,
	[IMAP_CMD_LIST] = args_list,
	[IMAP_CMD_LSUB] = args_list,
	[IMAP_CMD_XLIST] = args_list,
	[IMAP_CMD_APPEND] = args_append,
	[IMAP_CMD_REPLACE] = args_replace,
	[IMAP_CMD_UID_REPLACE] = args_replace,
	[IMAP_CMD_COPY] = args_copy,
	[IMAP_CMD_MOVE] = args_copy,
	[IMAP_CMD_UID_COPY] = args_copy,
	[IMAP_CMD_UID_MOVE] = args_copy,
	[IMAP_CMD_FETCH] = args_fetch,
	[IMAP_CMD_UID_FETCH] = args_fetch,
	[IMAP_CMD_STORE] = args_store,
	[IMAP_CMD_UID_STORE] = args_store,
	[IMAP_CMD_SEARCH] = args_search,
	[IMAP_CMD_UID_SEARCH] = args_search,
	[IMAP_CMD_ESEARCH] = args_search,
	[IMAP_CMD_SORT] = args_search,
	[IMAP_CMD_UID_SORT] = args_search,
	[IMAP_CMD_THREAD] = args_search,
	[IMAP_CMD_UID_THREAD] = args_search,
	[IMAP_CMD_ENABLE] = args_search,
	[IMAP_CMD_UID_EXPUNGE] = args_seqset,
	[IMAP_CMD_AUTHENTICATE] = args_authenticate,
};

void imap_args_command(enum imap_cmd_id id, const struct imap_line *line, size_t args_off,
		       struct buf *names, struct command_facts *f)
{
	struct args_walk w = { .names = names, .f = f };

	memset(f, 0, sizeof *f);
	f->id = id;
	buf_reset(names);
	if ((unsigned)id >= IMAP_CMD_N || args_handlers[id] == NULL || args_off > line->text.len)
		return;
	imap_tok_init(&w.c, line, args_off);
	args_handlers[id](&w);
	for (int k = 0; k < 2; k++) {
		/* an empty name is a real one ("" is the root of LIST) */
		struct buf_slice v = { names->data ? names->data + w.off[k] : (const uint8_t *)"",
				       w.len[k] };

		if (w.have[k])
			*(k == 0 ? &f->mailbox : &f->mailbox2) = v;
	}
}

/* --- sequence sets ------------------------------------------------------ */

void imap_seqset_init(struct imap_seq_iter *it, struct buf_slice set)
{
	it->set = set;
	it->pos = 0;
}

/* seq-number = nz-number / "*" */
static bool seq_number(struct imap_seq_iter *it, uint64_t *v_r)
{
	const uint8_t *p = it->set.ptr;
	size_t n = it->set.len, i = it->pos;

	if (i < n && p[i] == '*') {
		it->pos = i + 1;
		*v_r = IMAP_SEQ_STAR;
		return true;
	}
	while (i < n && p[i] >= '0' && p[i] <= '9')
		i++;
	/* nz-number is 32 bits (RFC 9051 section 9) */
	if (!imap_args_number((struct buf_slice){ p + it->pos, i - it->pos }, v_r) || *v_r == 0 ||
	    *v_r > UINT32_MAX)
		return false;
	it->pos = i;
	return true;
}

int imap_seqset_next(struct imap_seq_iter *it, struct imap_seq_range *r)
{
	uint64_t a, b;

	if (it->set.ptr == NULL || it->pos >= it->set.len)
		return 0;
	if (!seq_number(it, &a))
		goto bad;
	b = a;
	if (it->pos < it->set.len && it->set.ptr[it->pos] == ':') {
		it->pos++;
		if (!seq_number(it, &b))
			goto bad;
	}
	if (it->pos < it->set.len) {
		if (it->set.ptr[it->pos] != ',' || it->pos + 1 == it->set.len)
			goto bad;
		it->pos++;
	}
	r->lo = a < b ? a : b;
	r->hi = a < b ? b : a;
	return 1;
bad:
	it->pos = it->set.len;
	return -1;
}

/* --- flag lists --------------------------------------------------------- */

void imap_flags_init(struct imap_flag_iter *it, struct buf_slice list)
{
	it->list = list;
	it->pos = 0;
}

bool imap_flags_next(struct imap_flag_iter *it, struct buf_slice *flag_r)
{
	const uint8_t *p = it->list.ptr;
	size_t n = it->list.len, i = it->pos, start;

	if (p == NULL)
		return false;
	while (i < n && (p[i] == ' ' || p[i] == '(' || p[i] == ')'))
		i++;
	start = i;
	while (i < n && p[i] > 0x20 && p[i] != 0x7f && p[i] != '(' && p[i] != ')')
		i++;
	it->pos = i;
	if (i == start)
		return false;
	*flag_r = (struct buf_slice){ p + start, i - start };
	return true;
}

/* --- capabilities ------------------------------------------------------- */

void imap_args_capset(struct imap_capset *c, struct buf_slice list)
{
	struct imap_flag_iter it;
	struct buf_slice w;

	memset(c, 0, sizeof *c);
	c->known = true;
	c->text = list.ptr != NULL ? list : (struct buf_slice){ (const uint8_t *)"", 0 };
	imap_flags_init(&it, list);
	while (imap_flags_next(&it, &w)) {
		enum imap_cap_id id;

		if (CI_PREFIX(w, "AUTH=")) {
			c->auth |= 1u << imap_sasl_mech_from_name(w.ptr + 5, w.len - 5);
		} else if ((id = imap_vocab_cap(w.ptr, w.len)) != IMAP_CAP_N) {
			c->caps |= (uint64_t)1 << id;
		}
	}
}

/* --- untagged FETCH ----------------------------------------------------- */

/* A msg-att name whose value is message text (or a part of it). */
static bool fetch_section_name(struct buf_slice n)
{
	if (CI_PREFIX(n, "BINARY.SIZE"))
		return false;
	return CI_PREFIX(n, "BODY[") || CI_PREFIX(n, "BODY.PEEK[") ||
	       CI_PREFIX(n, "BINARY[") || CI_PREFIX(n, "BINARY.PEEK[") ||
	       NAME_IS(n, "RFC822") || NAME_IS(n, "RFC822.HEADER") ||
	       NAME_IS(n, "RFC822.TEXT");
}

/* envelope = "(" env-date SP env-subject SP env-from SP env-sender SP
 *   env-reply-to SP env-to SP env-cc SP env-bcc SP env-in-reply-to SP
 *   env-message-id ")"; its "(" was just read. */
#define ENV_DATE 0
#define ENV_SUBJECT 1
#define ENV_FROM 2
#define ENV_MESSAGE_ID 9
static void fetch_envelope(struct imap_tok_cursor *c, struct fetch_facts *f)
{
	int depth = c->depth;
	struct imap_tok t;

	for (int k = 0; imap_tok_next(c, &t) != IMAP_TOK_END && t.type != IMAP_TOK_ERROR; k++) {
		struct buf_slice inner;

		if (t.type == IMAP_TOK_RPAREN)
			return;		/* c->depth is back to the list's */
		if (t.type == IMAP_TOK_LPAREN) {
			if (!skip_list(c, &t, &inner))
				return;
			if (k == ENV_FROM)
				f->from = slice_between(t.raw.ptr, inner.ptr + inner.len + 1);
			continue;
		}
		if (c->depth != depth)
			return;
		if (k == ENV_DATE)
			f->date = tok_text(&t);
		else if (k == ENV_SUBJECT)
			f->subject = tok_text(&t);
		else if (k == ENV_MESSAGE_ID)
			f->message_id = tok_text(&t);
	}
}

/* A list value of the msg-att name; its "(" was just read.  false when
 * the rest of the line cannot be walked. */
static bool fetch_list_value(struct imap_tok_cursor *c, const struct imap_tok *open,
			     struct buf_slice name, struct fetch_facts *f)
{
	struct buf_slice inner;
	struct imap_tok t;
	int depth = c->depth;
	uint8_t first = name.len > 0 ? ascii_upper(name.ptr[0]) : 0;

	if (first == 'E' && NAME_IS(name, "ENVELOPE")) {
		fetch_envelope(c, f);
		return c->depth == depth - 1;
	}
	if (first == 'M' && NAME_IS(name, "MODSEQ")) {
		/* "MODSEQ (12345)": the first token, then to the list's end */
		if (imap_tok_next(c, &t) == IMAP_TOK_ATOM)
			imap_args_number(t.value, &f->modseq);
		while (c->depth >= depth)
			if (imap_tok_next(c, &t) == IMAP_TOK_END || t.type == IMAP_TOK_ERROR)
				return false;
		return true;
	}
	if (!skip_list(c, open, &inner))
		return false;
	if (first == 'F' && NAME_IS(name, "FLAGS"))
		f->flags = inner.len > 0 ? inner : (struct buf_slice){ open->raw.ptr + 1, 0 };
	return true;
}

static void fetch_scalar_value(const struct imap_tok *t, struct buf_slice name,
			       struct fetch_facts *f, struct imap_fetch_store *st)
{
	uint8_t first = name.len > 0 ? ascii_upper(name.ptr[0]) : 0;
	uint64_t v;

	/* Most items are none of these: the first letter says so cheaply. */
	if (first != 'U' && first != 'R' && first != 'B')
		return;
	if (first == 'U' && NAME_IS(name, "UID")) {
		if (imap_args_number(t->value, &v))
			f->uid = v;
	} else if (first == 'R' && NAME_IS(name, "RFC822.SIZE")) {
		if (imap_args_number(t->value, &v))
			f->size = v;
	} else if (fetch_section_name(name) && f->n_sections < IMAP_FETCH_MAX_SECTIONS) {
		st->sections[f->n_sections] = name;
		st->sizes[f->n_sections] = t->type == IMAP_TOK_LITERAL ? t->lit->size
					 : t->type == IMAP_TOK_QUOTED ? t->value.len : FACT_NONE;
		st->values[f->n_sections] = t->type == IMAP_TOK_ATOM ? SLICE_NULL : tok_text(t);
		f->n_sections++;
	}
}

/* "*" SP number SP "FETCH" SP "(": the offset just past the "(", or 0.
 * Read by hand: this runs for every FETCH response line. */
static size_t fetch_head(struct buf_slice l, uint64_t *seq_r)
{
	static const char fetch[] = " FETCH (";
	size_t i = 2;

	if (l.len < 2 || l.ptr[0] != '*' || l.ptr[1] != ' ')
		return 0;
	while (i < l.len && l.ptr[i] >= '0' && l.ptr[i] <= '9')
		i++;
	if (!imap_args_number((struct buf_slice){ l.ptr + 2, i - 2 }, seq_r) ||
	    l.len - i < sizeof fetch - 1 ||
	    (memcmp(l.ptr + i, fetch, sizeof fetch - 1) != 0 &&	/* as servers send it */
	     !ci_equal_n(l.ptr + i, fetch, sizeof fetch - 1)))
		return 0;
	return i + sizeof fetch - 1;
}

/* --- the FETCH fast path: common msg-att lists read by bytes ---------------
 *
 * A FETCH response comes per message; the token walk below costs a few
 * thousand instructions a line.  Lines made only of atoms, literals,
 * quoted strings, "[...]" sections without strings and lists of atoms
 * (FLAGS, MODSEQ) are read here by bytes to the same result; anything
 * else (ENVELOPE, BODYSTRUCTURE with strings, a partial "<...>", an odd
 * byte) gives up and the token walk reads the line.  The fuzz target and
 * the unit tests check that both agree. */


/* A section "[...]" at p[i]: the index past its "]", or 0 (give up).
 * Real sections nest a list or two; deeper ones go the token walk. */
#define FAST_SECTION_DEPTH 8
static size_t fast_section_end(const uint8_t *p, size_t n, size_t i)
{
	int depth = 0;

	for (i++; i < n; i++) {
		if (p[i] == '(') {
			if (++depth > FAST_SECTION_DEPTH)
				return 0;
		} else if (p[i] == ')') {
			if (--depth < 0)
				return 0;
		} else if (p[i] == ']') {
			/* a partial "<...>" follows: the token walk's business */
			return depth == 0 && (i + 1 >= n || p[i + 1] != '<') ? i + 1 : 0;
		} else if (p[i] == '"' || p[i] == '[' || p[i] == '{' || p[i] < 0x20 || p[i] == 0x7f) {
			return 0;
		}
	}
	return 0;
}

/* A scalar value at p[*i] as the tokenizer would make it: an atom, a
 * quoted string, a literal (the line's next one, *lit).  false: give up. */
static bool fast_scalar(const struct imap_line *line, size_t *i, size_t *lit, struct imap_tok *t)
{
	const uint8_t *p = line->text.ptr;
	size_t n = line->text.len, k = *i, start = *i;

	memset(t, 0, sizeof *t);
	if (p[k] == '"') {
		for (k++; k < n && p[k] != '"'; k++)
			if (p[k] == '\\')
				k++;
		if (k >= n)
			return false;
		t->type = IMAP_TOK_QUOTED;
		t->value = (struct buf_slice){ p + start + 1, k - start - 1 };
		*i = k + 1;
		return true;
	}
	if (p[k] == '{' || (p[k] == '~' && k + 1 < n && p[k + 1] == '{')) {
		const uint8_t *close = memchr(p + k, '}', n - k);

		if (close == NULL || *lit >= line->n_lits ||
		    line->lits[*lit].text_off != (size_t)(close - p) + 1)
			return false;
		t->type = IMAP_TOK_LITERAL;
		t->lit = &line->lits[(*lit)++];
		*i = (size_t)(close - p) + 1;
		return true;
	}
	while (k < n && atom_byte(p[k]))
		k++;
	if (k == start || (k < n && p[k] == '['))
		return false;
	t->type = IMAP_TOK_ATOM;
	t->value = (struct buf_slice){ p + start, k - start };
	*i = k;
	return true;
}

/* A list value at p[*i] == '(' of the msg-att name: FLAGS and MODSEQ read,
 * others skipped, ENVELOPE left to the token walk.  false: give up. */
static bool fast_list(struct buf_slice text, size_t *i, struct buf_slice name,
		      struct fetch_facts *f)
{
	uint8_t first = name.len > 0 ? ascii_upper(name.ptr[0]) : 0;
	size_t end;

	if (first == 'E' && NAME_IS(name, "ENVELOPE"))
		return false;
	/* inside the msg-att list (depth 1), this one is depth 2 */
	if ((end = list_end_bytes(text.ptr, text.len, *i + 1, 2)) == 0)
		return false;
	if (first == 'F' && NAME_IS(name, "FLAGS")) {
		f->flags = (struct buf_slice){ text.ptr + *i + 1, end - *i - 1 };
	} else if (first == 'M' && NAME_IS(name, "MODSEQ")) {
		size_t k = *i + 1;

		while (k < end && text.ptr[k] == ' ')
			k++;
		if (k < end && text.ptr[k] != '(') {
			size_t a = k;

			while (k < end && atom_byte(text.ptr[k]))
				k++;
			/* "12[...]" is a section to the tokenizer, no number */
			if (text.ptr[k] != '[')
				imap_args_number((struct buf_slice){ text.ptr + a, k - a }, &f->modseq);
		}
	}
	*i = end + 1;
	return true;
}

/* The msg-att list from pos (just past its "(") by bytes; false: give up
 * (f may be half filled: the caller starts again). */
static bool fetch_fast(const struct imap_line *line, size_t pos, struct fetch_facts *f,
		       struct imap_fetch_store *st)
{
	const uint8_t *p = line->text.ptr;
	size_t n = line->text.len, lit = 0;

	for (;;) {
		struct buf_slice name;
		struct imap_tok v;
		size_t start;

		while (pos < n && p[pos] == ' ')
			pos++;
		if (pos >= n || p[pos] == ')')
			return true;
		if (p[pos] == '~' && pos + 1 < n && p[pos + 1] == '{')
			return false;	/* a literal where a name should be */
		for (start = pos; pos < n && atom_byte(p[pos]); pos++)
			;
		if (pos < n && p[pos] == '[' && (pos = fast_section_end(p, n, pos)) == 0)
			return false;
		if (pos == start)
			return false;
		name = (struct buf_slice){ p + start, pos - start };
		while (pos < n && p[pos] == ' ')
			pos++;
		if (pos >= n || p[pos] == ')')
			return true;
		if (p[pos] == '(') {
			if (!fast_list(line->text, &pos, name, f))
				return false;
		} else if (fast_scalar(line, &pos, &lit, &v)) {
			fetch_scalar_value(&v, name, f, st);
		} else {
			return false;
		}
	}
}

/* f emptied for the line: the offset past "FETCH (", or 0 (f zeroed)
 * when the line is no FETCH response. */
static size_t fetch_begin(const struct imap_line *line, struct fetch_facts *f,
			  struct imap_fetch_store *st)
{
	uint64_t seq;
	size_t start;

	memset(f, 0, sizeof *f);
	if ((start = fetch_head(line->text, &seq)) == 0)
		return 0;
	f->seq = seq;
	f->uid = f->size = f->modseq = FACT_NONE;
	f->sections = st->sections;
	f->section_sizes = st->sizes;
	f->section_values = st->values;
	return start;
}

int imap_args_fetch(const struct imap_line *line, struct fetch_facts *f,
		    struct imap_fetch_store *st)
{
	size_t start = fetch_begin(line, f, st);

	if (start == 0)
		return -1;
	if (fetch_fast(line, start, f, st))
		return 0;
	return imap_args_fetch_walk(line, f, st);
}

int imap_args_fetch_walk(const struct imap_line *line, struct fetch_facts *f,
			 struct imap_fetch_store *st)
{
	struct imap_tok_cursor c;
	struct imap_tok name, v;
	size_t start = fetch_begin(line, f, st);

	if (start == 0)
		return -1;
	/* the walk starts inside the list: its ")" takes the depth to 0 */
	imap_tok_init(&c, line, start);
	while (imap_tok_next(&c, &name) != IMAP_TOK_END && name.type != IMAP_TOK_ERROR) {
		if (name.type == IMAP_TOK_RPAREN || (name.type != IMAP_TOK_ATOM &&
						     name.type != IMAP_TOK_SECTION))
			break;
		if (imap_tok_next(&c, &v) == IMAP_TOK_LPAREN) {
			if (!fetch_list_value(&c, &v, name.value, f))
				break;
		} else if (v.type == IMAP_TOK_END || v.type == IMAP_TOK_ERROR ||
			   v.type == IMAP_TOK_RPAREN) {
			break;
		} else {
			fetch_scalar_value(&v, name.value, f, st);
		}
	}
	return 0;
}

bool imap_args_first_address(struct buf_slice list, struct imap_address *a_r)
{
	struct imap_line l = { .text = list };
	struct imap_tok_cursor c;
	struct imap_tok t;
	struct buf_slice *part[4] = { &a_r->name, NULL, &a_r->mailbox, &a_r->host };

	memset(a_r, 0, sizeof *a_r);
	if (list.ptr == NULL)
		return false;
	imap_tok_init(&c, &l, 0);
	/* "((" opens the list and its first address */
	if (imap_tok_next(&c, &t) != IMAP_TOK_LPAREN || imap_tok_next(&c, &t) != IMAP_TOK_LPAREN)
		return false;
	for (int k = 0; k < 4; k++) {
		imap_tok_next(&c, &t);
		if (t.type != IMAP_TOK_ATOM && t.type != IMAP_TOK_QUOTED)
			return false;
		if (part[k] != NULL)
			*part[k] = tok_text(&t);
	}
	return imap_tok_next(&c, &t) == IMAP_TOK_RPAREN;
}

/* --- UIDPLUS response codes --------------------------------------------- */

/* The next space-separated word of args from *pos, or null. */
static struct buf_slice next_word(struct buf_slice args, size_t *pos)
{
	size_t i = *pos, start;

	while (i < args.len && args.ptr[i] == ' ')
		i++;
	start = i;
	while (i < args.len && args.ptr[i] != ' ')
		i++;
	*pos = i;
	return i > start ? (struct buf_slice){ args.ptr + start, i - start } : SLICE_NULL;
}

/* A uid-set: numbers, ranges and commas only, no "*" (RFC 4315). */
static bool uid_set_ok(struct buf_slice set)
{
	struct imap_seq_iter it;
	struct imap_seq_range r;
	int rc;

	if (set.ptr == NULL)
		return false;
	imap_seqset_init(&it, set);
	while ((rc = imap_seqset_next(&it, &r)) == 1)
		if (r.hi == IMAP_SEQ_STAR)
			return false;
	return rc == 0;
}

static bool uidplus_parse(struct buf_slice args, struct imap_uidplus *r, bool copy)
{
	size_t pos = 0;
	uint64_t v;

	memset(r, 0, sizeof *r);
	if (args.ptr == NULL || !imap_args_number(next_word(args, &pos), &v) || v == 0 ||
	    v > UINT32_MAX)
		return false;
	if (copy)
		r->src = next_word(args, &pos);
	r->dst = next_word(args, &pos);
	if ((copy && !uid_set_ok(r->src)) || !uid_set_ok(r->dst) ||
	    next_word(args, &pos).ptr != NULL) {
		memset(r, 0, sizeof *r);
		return false;
	}
	r->uidvalidity = v;
	return true;
}

bool imap_args_appenduid(struct buf_slice args, struct imap_uidplus *r)
{
	return uidplus_parse(args, r, false);
}

bool imap_args_copyuid(struct buf_slice args, struct imap_uidplus *r)
{
	return uidplus_parse(args, r, true);
}

void imap_uidpair_init(struct imap_uidpair_iter *it, const struct imap_uidplus *u)
{
	memset(it, 0, sizeof *it);
	imap_seqset_init(&it->src, u->src);
	imap_seqset_init(&it->dst, u->dst);
}

/* The next UID of one set: 1, 0 at its end, -1 malformed or "*". */
static int uidpair_step(struct imap_seq_iter *s, struct imap_seq_range *r, uint64_t *next,
			bool *have, uint64_t *uid_r)
{
	if (!*have || *next > r->hi) {
		int rc = imap_seqset_next(s, r);

		if (rc != 1)
			return rc;
		if (r->hi == IMAP_SEQ_STAR)
			return -1;
		*have = true;
		*next = r->lo;
	}
	*uid_r = (*next)++;
	return 1;
}

int imap_uidpair_next(struct imap_uidpair_iter *it, uint64_t *src_r, uint64_t *dst_r)
{
	int a = uidpair_step(&it->src, &it->rs, &it->next_s, &it->have_s, src_r);
	int b = uidpair_step(&it->dst, &it->rd, &it->next_d, &it->have_d, dst_r);

	if (a == 1 && b == 1)
		return 1;
	if (a == 0 && b == 0)
		return 0;
	/* stop for good: the sets differ */
	imap_seqset_init(&it->src, SLICE_NULL);
	imap_seqset_init(&it->dst, SLICE_NULL);
	it->have_s = it->have_d = false;
	return -1;
}
