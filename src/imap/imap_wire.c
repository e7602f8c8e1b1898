/* The wire facts of IMAP_FACTS_WIRE (imap/imap_event.h, WIRE_*): what the
 * lexer and the session see of a line and of its place in the exchange,
 * which no output could learn from the events alone (how a line ended, a
 * literal's kind, whether its data waited for "+", whether a tag is in
 * flight).  Every function here runs only when an output asked for the
 * facts, so the plain timeline pays one test of cfg->facts per line. */
#include <string.h>
#include <strings.h>

#include "imap/imap_chars.h"
#include "imap_session_int.h"

bool imap_wire_on(const struct imap_session *s)
{
	return (s->cfg->facts & IMAP_FACTS_WIRE) != 0;
}

/* A literal's data is followed by SP, ")" or the line's end in every
 * production of RFC 9051 that holds one; anything else means the count
 * announced was not the count sent. */
static bool wire_literal_misfits(const struct imap_line *line)
{
	for (size_t i = 0; i < line->n_lits; i++) {
		const struct imap_literal *l = &line->lits[i];
		size_t at = l->text_off;

		if (l->truncated || l->received != l->size)
			continue;
		if (at < line->text.len && line->text.ptr[at] != ' ' && line->text.ptr[at] != ')')
			return true;
	}
	return false;
}

static unsigned wire_literal_kinds(const struct imap_line *line)
{
	unsigned w = 0;

	for (size_t i = 0; i < line->n_lits; i++) {
		const struct imap_literal *l = &line->lits[i];

		if (l->kind == IMAP_LIT_PLUS)
			w |= WIRE_LIT_PLUS;
		else if (l->kind == IMAP_LIT_MINUS)
			w |= WIRE_LIT_MINUS;
		else
			continue;
		if (l->size > IMAP_WIRE_LITERAL_MINUS_MAX)
			w |= WIRE_LIT_BIG;
	}
	return w;
}

unsigned imap_wire_line(struct imap_session *s, const struct imap_line *line)
{
	const uint8_t *t = line->text.ptr;
	size_t n = line->text.len;
	unsigned w = line->dir == DIR_C2S ? WIRE_C2S : WIRE_S2C;

	if (line->bare_lf)
		w |= WIRE_BARE_LF;
	/* The line end and each literal marker's CRLF are gone from the
	 * text: a CR left in it ended nothing. */
	if (n != 0 && memchr(t, '\r', n) != NULL)
		w |= WIRE_BARE_CR;
	if (n != 0 && memchr(t, '\0', n) != NULL)
		w |= WIRE_NUL;
	if (n > IMAP_WIRE_LONG_LINE || line->overlong)
		w |= WIRE_LONG;
	if (line->n_lits != 0) {
		w |= wire_literal_kinds(line);
		if (!line->cut && !line->damaged && wire_literal_misfits(line))
			w |= WIRE_LIT_MISMATCH;
	}
	if (line->dir == DIR_C2S && s->oc.early)
		w |= WIRE_LIT_EARLY;
	if (s->inject_line[line->dir]) {
		s->inject_line[line->dir] = false;
		w |= WIRE_INJECTED;
	}
	if (imap_wire_lossy(s))
		w |= WIRE_LOSSY;
	return w;
}

/* The first bytes of a client literal: a synchronising one must not come
 * before the server's "+" for it (RFC 9051 section 4.3). */
void imap_wire_literal_data(struct imap_session *s)
{
	struct sess_open_cmd *oc = &s->oc;

	if (s->lex_dir != DIR_C2S || !oc->lit_unchecked)
		return;
	oc->lit_unchecked = false;
	if (oc->n_plus < oc->n_sync)
		oc->early = true;
}

bool imap_wire_lossy(const struct imap_session *s)
{
	return s->mid_stream || s->c2s_lossy || s->sum.gaps != 0 || s->pend_dropped != 0 ||
	       imap_pipeline_undecrypted(&s->pl, DIR_C2S) ||
	       imap_pipeline_undecrypted(&s->pl, DIR_S2C);
}

/* tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 section 9). */
static bool wire_tag_bad(struct buf_slice tag)
{
	for (size_t i = 0; i < tag.len; i++)
		if (!imap_char_is_tag(tag.ptr[i]))
			return true;
	return false;
}

static bool wire_is_status(const uint8_t *p, size_t n)
{
	static const char *const st[] = { "OK", "NO", "BAD" };

	for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
		if (n == strlen(st[i]) && strncasecmp((const char *)p, st[i], n) == 0)
			return true;
	return false;
}

/* A line the grammar refused.  A client line shaped "word SP name" whose
 * word holds a byte no tag may hold is a command with an invalid tag
 * (the parser reads tags by their class, so it never got a command). */
unsigned imap_wire_unparsed(const struct imap_line *line)
{
	const uint8_t *t = line->text.ptr;
	size_t n = line->text.len, sp, k;
	bool bad = false;

	if (n == 0)
		return WIRE_UNPARSED;
	for (sp = 0; sp < n && t[sp] != ' '; sp++)
		bad |= !imap_char_is_tag(t[sp]);
	for (k = sp + 1; k < n && imap_char_is_atom(t[k]); k++)
		;
	if (!bad || sp == 0 || sp >= n || k == sp + 1 || (k < n && t[k] != ' '))
		return WIRE_UNPARSED;
	/* A server that answers such a command echoes its tag: the client's
	 * fault, not another one of the server's. */
	if (line->dir == DIR_S2C)
		return wire_is_status(t + sp + 1, k - sp - 1) ? 0 : WIRE_UNPARSED;
	return WIRE_UNPARSED | WIRE_TAG_INVALID;
}

/* "AUTHENTICATE mech initial-response": a second word. */
static bool wire_sasl_ir(const struct imap_command *cmd)
{
	const uint8_t *sp;
	size_t n = cmd->args.len;

	if (n == 0)
		return false;
	sp = memchr(cmd->args.ptr, ' ', n);
	if (sp == NULL)
		return false;
	while (sp < cmd->args.ptr + n && *sp == ' ')
		sp++;
	return sp < cmd->args.ptr + n;
}

/* Tokens of a command's arguments looked at for the words of CONDSTORE
 * and QRESYNC: item lists and modifiers are short. */
#define WIRE_MAX_TOKENS 64

static bool word_is(const struct imap_tok *t, const char *w)
{
	return t->type == IMAP_TOK_ATOM && buf_slice_ieq(t->value, w);
}

/* The words of CONDSTORE (RFC 7162 section 3.1) and QRESYNC (section
 * 3.2) in the commands that take them; a mailbox named like one is
 * passed over, SEARCH (whose strings may be any word) is not read. */
static unsigned wire_modseq_words(const struct imap_line *line, const struct imap_command *cmd)
{
	bool select = cmd->id == IMAP_CMD_SELECT || cmd->id == IMAP_CMD_EXAMINE;
	bool fetch = cmd->id == IMAP_CMD_FETCH || cmd->id == IMAP_CMD_UID_FETCH;
	bool store = cmd->id == IMAP_CMD_STORE || cmd->id == IMAP_CMD_UID_STORE;
	struct imap_tok_cursor c;
	struct imap_tok t;
	unsigned w = 0;

	if (!select && !fetch && !store)
		return 0;
	imap_tok_init(&c, line, cmd->args_off);
	if (select)
		(void)imap_tok_next(&c, &t);
	for (int n = 0; n < WIRE_MAX_TOKENS; n++) {
		if (imap_tok_next(&c, &t) == IMAP_TOK_END || t.type == IMAP_TOK_ERROR)
			break;
		if ((select && word_is(&t, "CONDSTORE")) || (store && word_is(&t, "UNCHANGEDSINCE")) ||
		    (fetch && (word_is(&t, "CHANGEDSINCE") || word_is(&t, "MODSEQ"))))
			w |= WIRE_CONDSTORE_ARG;
		else if ((select && word_is(&t, "QRESYNC")) || (fetch && word_is(&t, "VANISHED")))
			w |= WIRE_QRESYNC_ARG;
	}
	return w;
}

#define WIRE_CHANGING (EFF_LOGIN | EFF_SELECT | EFF_UNSELECT | EFF_LOGOUT | EFF_STARTTLS | \
		       EFF_COMPRESS | EFF_UNAUTH | EFF_CAPS_VOID)

unsigned imap_wire_command(struct imap_session *s, const struct imap_line *line,
			   const struct imap_command *cmd, int tag_in_flight)
{
	unsigned w = wire_modseq_words(line, cmd);

	if (tag_in_flight >= 0)
		w |= WIRE_TAG_REUSED;
	if (wire_tag_bad(cmd->tag))
		w |= WIRE_TAG_INVALID;
	if (s->idling)
		w |= WIRE_IN_IDLE;
	if (cmd->id == IMAP_CMD_AUTHENTICATE && wire_sasl_ir(cmd))
		w |= WIRE_SASL_IR;
	for (size_t i = 0; i < s->n_pend; i++)
		if (imap_vocab_effects(s->pend[i].id) & WIRE_CHANGING) {
			w |= WIRE_PENDING_CHANGE;
			break;
		}
	return w;
}

/* Does a STORE's item end in ".SILENT" (no FETCH expected back)? */
static bool wire_silent(const struct pending *p)
{
	static const char silent[] = ".SILENT";
	size_t k = sizeof silent - 1;
	struct buf_slice it;

	if (p->facts == NULL || p->facts->items.ptr == NULL || p->facts->items.len < k)
		return false;
	it = p->facts->items;
	for (size_t i = 0; i < k; i++)
		if ((it.ptr[it.len - k + i] & 0xdf) != (silent[i] & 0xdf))
			return false;
	return true;
}

unsigned imap_wire_untagged(const struct imap_session *s, const struct imap_response *r,
			    const struct fetch_facts *fetch)
{
	/* a completion lost in a gap leaves its command in flight */
	if (s->n_pend == 0 || s->cur_unsync || imap_wire_lossy(s))
		return 0;
	if (r->id == IMAP_R_EXPUNGE) {
		for (size_t i = 0; i < s->n_pend; i++) {
			enum imap_cmd_id id = s->pend[i].id;

			if (id != IMAP_CMD_FETCH && id != IMAP_CMD_STORE && id != IMAP_CMD_SEARCH)
				return 0;
		}
		return WIRE_EXPUNGE_IN_FSS;
	}
	/* Only where the FETCH surely answers the UID command: it is alone
	 * in flight and asked for data back. */
	if (r->id == IMAP_R_FETCH && fetch != NULL && fetch->uid == FACT_NONE && s->n_pend == 1 &&
	    (s->pend[0].id == IMAP_CMD_UID_FETCH ||
	     (s->pend[0].id == IMAP_CMD_UID_STORE && !wire_silent(&s->pend[0]))))
		return WIRE_UID_MISSING;
	return 0;
}

bool imap_wire_cont_unexpected(struct imap_session *s)
{
	if (s->cur_unsync || s->oc.open || s->sasl != NULL || s->idling || imap_wire_lossy(s))
		return false;
	if (s->plus_owed > 0) {
		s->plus_owed--;
		return false;
	}
	for (size_t i = 0; i < s->n_pend; i++)
		if (s->pend[i].id == IMAP_CMD_IDLE || s->pend[i].id == IMAP_CMD_AUTHENTICATE)
			return false;
	return true;
}
