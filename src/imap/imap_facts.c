/* The session's facts (struct session_facts in imap/imap_event.h): the one
 * place the session keeps its state, user, selected mailbox, what it knows
 * of that mailbox, the capabilities in force, transport and compression.
 * Every event points at them; what an event changed is in ev->changed.
 *
 * The session calls in here at the moments that change a fact: a command
 * sent, a greeting, an untagged response, a tagged completion (before its
 * event, so that the event shows what it left), and the pipeline's
 * switches. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_args.h"
#include "imap_session_int.h"

/* Bytes of a decoded mailbox name kept (UTF-8 may be longer than its
 * modified UTF-7). */
#define FACTS_MAX_NAME     (2 * IMAP_ARGS_MAX_MAILBOX)
#define FACTS_MAX_USER     1024		/* logged-in user kept */
#define FACTS_MAX_CAPS     2048		/* capability list text kept (cut) */
/* A pending command's copies: a longer field is null in the copy (the
 * command event itself had it whole).  Long UID sets are real traffic. */
#define FACTS_KEEP_SEQSET  4096
#define FACTS_KEEP_ITEMS   4096
#define FACTS_KEEP_FLAGS   1024
#define FACTS_KEEP_SHORT   64		/* date-time, mechanism name */

static void facts_mark(struct imap_session *s, unsigned bits)
{
	s->facts_changed |= bits;
}

/* The values that describe the selected mailbox, once it is gone. */
static void facts_forget_mailbox_data(struct imap_session *s)
{
	struct session_facts *f = &s->facts;

	if (f->uidvalidity != FACT_NONE)
		facts_mark(s, FACT_UIDVALIDITY);
	if (f->uidnext != FACT_NONE)
		facts_mark(s, FACT_UIDNEXT);
	if (f->exists != FACT_NONE)
		facts_mark(s, FACT_EXISTS);
	f->uidvalidity = f->uidnext = f->exists = FACT_NONE;
	imap_msgs_forget(s);	/* its sequence numbers no longer hold */
}

void imap_facts_init(struct imap_session *s)
{
	struct mem_budget *b = s->cfg->budget;

	memset(&s->facts, 0, sizeof s->facts);
	s->facts.state = IMAP_STATE_NOT_AUTH;
	s->facts.uidvalidity = s->facts.uidnext = s->facts.exists = FACT_NONE;
	s->facts_changed = 0;
	buf_init(&s->mailbox, FACTS_MAX_NAME, b);
	buf_init(&s->user, FACTS_MAX_USER, b);
	buf_init(&s->caps_text, FACTS_MAX_CAPS, b);
	buf_init(&s->names, IMAP_ARGS_NAMES_MAX, b);
}

void imap_facts_free(struct imap_session *s)
{
	buf_free(&s->mailbox);
	buf_free(&s->user);
	buf_free(&s->caps_text);
	buf_free(&s->names);
}

void imap_facts_set_state(struct imap_session *s, enum imap_session_state st)
{
	if (s->facts.state != st)
		facts_mark(s, FACT_STATE);
	s->facts.state = st;
}

/* v copied into b and *slot pointed at it; null when v is, or b cannot
 * hold it (too long or no memory: unknown, not cut). */
static void facts_keep(struct buf *b, struct buf_slice *slot, struct buf_slice v)
{
	buf_reset(b);
	if (v.ptr == NULL || buf_append(b, v.ptr, v.len) != 0)
		*slot = SLICE_NULL;
	else
		*slot = bslice(b);
}

void imap_facts_set_user(struct imap_session *s, struct buf_slice u)
{
	facts_keep(&s->user, &s->facts.user, u);
	facts_mark(s, FACT_USER);
}

static void facts_set_mailbox(struct imap_session *s, struct buf_slice m)
{
	if (m.ptr == NULL && s->facts.mailbox.ptr == NULL)
		return;
	facts_keep(&s->mailbox, &s->facts.mailbox, m);
	facts_mark(s, FACT_MAILBOX);
}

static void facts_caps_void(struct imap_session *s)
{
	if (!s->facts.caps.known)
		return;
	memset(&s->facts.caps, 0, sizeof s->facts.caps);
	buf_reset(&s->caps_text);
	facts_mark(s, FACT_CAPS);
}

/* A capability list as sent, kept (its text cut at FACTS_MAX_CAPS). */
static void facts_caps_set(struct imap_session *s, struct buf_slice list)
{
	size_t n = list.len < FACTS_MAX_CAPS ? list.len : FACTS_MAX_CAPS;

	imap_args_capset(&s->facts.caps, list);
	buf_reset(&s->caps_text);
	if (n != 0 && buf_append(&s->caps_text, list.ptr, n) != 0)
		n = 0;
	s->facts.caps.text = (struct buf_slice){ n ? s->caps_text.data : (const uint8_t *)"", n };
	facts_mark(s, FACT_CAPS);
}

void imap_facts_set_transport(struct imap_session *s, enum transport t)
{
	if (s->facts.transport == t)
		return;
	s->facts.transport = t;
	facts_mark(s, FACT_TRANSPORT);
	facts_caps_void(s);	/* what was said in clear does not hold */
}

void imap_facts_set_compressed(struct imap_session *s)
{
	s->facts.compressed = true;
	facts_mark(s, FACT_COMPRESSED);
}

/* --- commands ------------------------------------------------------------ */

void imap_facts_command(struct imap_session *s, const struct imap_line *line,
			const struct imap_command *cmd, struct command_facts *f_r)
{
	imap_args_command(cmd->id, line, cmd->args_off, &s->names, f_r);
	if (f_r->id == IMAP_CMD_LOGOUT && !s->facts.logout_sent) {
		s->facts.logout_sent = true;
		facts_mark(s, FACT_LOGOUT);
	}
	/* The server closes the selected mailbox when it reads a SELECT: its
	 * numbers no longer hold, the new ones come before the OK. */
	if (f_r->id == IMAP_CMD_SELECT || f_r->id == IMAP_CMD_EXAMINE)
		facts_forget_mailbox_data(s);
}

/* The fields of a command_facts a pending command keeps, with the most
 * kept of each. */
static const struct {
	size_t off;
	size_t max;
} keep_fields[] = {
	{ offsetof(struct command_facts, mailbox), FACTS_MAX_NAME },
	{ offsetof(struct command_facts, mailbox2), FACTS_MAX_NAME },
	{ offsetof(struct command_facts, seqset), FACTS_KEEP_SEQSET },
	{ offsetof(struct command_facts, items), FACTS_KEEP_ITEMS },
	{ offsetof(struct command_facts, flags), FACTS_KEEP_FLAGS },
	{ offsetof(struct command_facts, date), FACTS_KEEP_SHORT },
	{ offsetof(struct command_facts, mechanism), FACTS_KEEP_SHORT },
};

#define N_KEEP (sizeof keep_fields / sizeof keep_fields[0])

static struct buf_slice *keep_slot(struct command_facts *c, size_t i)
{
	return (struct buf_slice *)((uint8_t *)c + keep_fields[i].off);
}

/* A field's room in the copy: its length, or 0 when it is not kept. */
static size_t keep_len(const struct command_facts *f, size_t i)
{
	const struct buf_slice *v = (const struct buf_slice *)((const uint8_t *)f +
								keep_fields[i].off);

	return v->ptr != NULL && v->len <= keep_fields[i].max ? v->len : 0;
}

static bool keep_none(const struct command_facts *f)
{
	for (size_t i = 0; i < N_KEEP; i++)
		if (((const struct buf_slice *)((const uint8_t *)f + keep_fields[i].off))->ptr != NULL)
			return false;
	return true;
}

void imap_facts_pending_keep(struct imap_session *s, struct pending *p,
			     const struct command_facts *f)
{
	struct command_facts *c;
	size_t size = sizeof *c;
	uint8_t *o;

	p->id = f->id;
	for (size_t i = 0; i < N_KEEP; i++)
		size += keep_len(f, i);
	/* No argument to keep (NOOP, CAPABILITY, IDLE...): the id alone, which
	 * imap_facts_pending gives without a copy. */
	if (size == sizeof *c && keep_none(f))
		return;
	if (mem_charge(s->cfg->budget, size) != 0)
		return;
	if ((c = malloc(size)) == NULL) {
		mem_release(s->cfg->budget, size);
		return;
	}
	*c = *f;
	o = (uint8_t *)(c + 1);
	for (size_t i = 0; i < N_KEEP; i++) {
		struct buf_slice *v = keep_slot(c, i);
		size_t n = keep_len(c, i);

		if (v->ptr == NULL)
			continue;
		if (n == 0 && v->len != 0) {
			*v = SLICE_NULL;	/* too long: unknown */
			continue;
		}
		memcpy(o, v->ptr, n);
		*v = (struct buf_slice){ o, n };
		o += n;
	}
	p->facts = c;
	p->facts_size = size;
}

void imap_facts_pending_release(struct imap_session *s, struct pending *p)
{
	if (p->facts != NULL)
		mem_release(s->cfg->budget, p->facts_size);
	free(p->facts);
	p->facts = NULL;
	p->facts_size = 0;
}

const struct command_facts *imap_facts_pending(const struct pending *p,
					       struct command_facts *unkept)
{
	if (p->facts != NULL)
		return p->facts;
	memset(unkept, 0, sizeof *unkept);
	unkept->id = p->id;
	return unkept;
}

/* --- responses ----------------------------------------------------------- */

static void facts_set_number(struct imap_session *s, uint64_t *slot, uint64_t v, unsigned bit)
{
	if (*slot != v)
		facts_mark(s, bit);
	*slot = v;
}

/* What a response code says of the session. */
static void facts_code(struct imap_session *s, const struct resp_code *rc)
{
	uint64_t v;

	switch (rc->id) {
	case IMAP_CODE_CAPABILITY:
		facts_caps_set(s, rc->args);
		break;
	case IMAP_CODE_UIDVALIDITY:
		if (imap_args_number(rc->args, &v))
			facts_set_number(s, &s->facts.uidvalidity, v, FACT_UIDVALIDITY);
		break;
	case IMAP_CODE_UIDNEXT:
		if (imap_args_number(rc->args, &v))
			facts_set_number(s, &s->facts.uidnext, v, FACT_UIDNEXT);
		break;
	default:
		break;
	}
}

void imap_facts_greeting(struct imap_session *s, const struct imap_response *r)
{
	if (r->id == IMAP_R_PREAUTH)
		imap_facts_set_state(s, IMAP_STATE_AUTH);
	else if (r->id == IMAP_R_BYE)
		imap_facts_set_state(s, IMAP_STATE_LOGOUT);
	facts_code(s, &r->rcode);
}

/* UIDs a "* VANISHED" reports gone (not "(EARLIER)", which tells of
 * messages that were gone already); false when it cannot be counted. */
static bool vanished_count(struct buf_slice text, uint64_t *n_r)
{
	struct imap_seq_iter it;
	struct imap_seq_range r;
	uint64_t n = 0;
	int rc;

	if (text.len > 0 && text.ptr[0] == '(')
		return false;
	imap_seqset_init(&it, text);
	while ((rc = imap_seqset_next(&it, &r)) == 1) {
		if (r.hi == IMAP_SEQ_STAR || __builtin_add_overflow(n, r.hi - r.lo + 1, &n))
			return false;
	}
	*n_r = n;
	return rc == 0;
}

static void facts_exists_less(struct imap_session *s, uint64_t gone, bool known)
{
	uint64_t *e = &s->facts.exists;

	if (*e == FACT_NONE)
		return;
	facts_set_number(s, e, !known ? FACT_NONE : gone < *e ? *e - gone : 0, FACT_EXISTS);
}

static void facts_untagged_data(struct imap_session *s, const struct imap_response *r)
{
	uint64_t n = 0;

	if (r->id == IMAP_R_CAPABILITY) {
		facts_caps_set(s, r->text);
	} else if (r->is_status) {
		facts_code(s, &r->rcode);
	} else if (r->id == IMAP_R_EXISTS && r->has_number) {
		facts_set_number(s, &s->facts.exists, r->number, FACT_EXISTS);
	} else if (r->id == IMAP_R_EXPUNGE && r->has_number) {
		facts_exists_less(s, 1, true);
	} else if (r->id == IMAP_R_VANISHED) {
		bool counted = vanished_count(r->text, &n);

		/* "(EARLIER)": gone before, nothing changes now */
		if (r->text.len == 0 || r->text.ptr[0] != '(')
			facts_exists_less(s, n, counted);
	}
}

const struct fetch_facts *imap_facts_untagged(struct imap_session *s,
					      const struct imap_line *line,
					      const struct imap_response *r,
					      struct fetch_facts *f, struct imap_fetch_store *st)
{
	/* FETCH, the one per message, first: it changes no fact */
	if (r->id == IMAP_R_FETCH)
		return (s->cfg->facts & (IMAP_FACTS_FETCH | IMAP_FACTS_MESSAGES)) &&
		       imap_args_fetch(line, f, st) == 0 ? f : NULL;
	if (r->id == IMAP_R_BYE)
		imap_facts_set_state(s, IMAP_STATE_LOGOUT);
	if (!s->cur_unsync)
		facts_untagged_data(s, r);
	return NULL;
}

/* The mailbox is closed: back to authenticated. */
static void facts_unselect(struct imap_session *s)
{
	imap_facts_set_state(s, IMAP_STATE_AUTH);
	facts_set_mailbox(s, SLICE_NULL);
	facts_forget_mailbox_data(s);
	s->facts.read_only = false;
}

/* What an OK (or for SELECT, any answer) to p's command does. */
static void facts_completion(struct imap_session *s, const struct pending *p,
			     const struct imap_response *r, bool ok)
{
	enum imap_cmd_id id = p->id;

	switch (id) {
	case IMAP_CMD_LOGIN:
	case IMAP_CMD_AUTHENTICATE:
		if (!ok)
			break;
		imap_facts_set_state(s, IMAP_STATE_AUTH);
		imap_auth_remember_user(s, p->login);
		facts_caps_void(s);
		break;
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE:
		/* RFC 9051 6.3.2: even a failed SELECT closes the mailbox. */
		if (ok) {
			imap_facts_set_state(s, IMAP_STATE_SELECTED);
			facts_set_mailbox(s, p->facts != NULL ? p->facts->mailbox : SLICE_NULL);
			s->facts.read_only = id == IMAP_CMD_EXAMINE || r->rcode.id == IMAP_CODE_READ_ONLY;
		} else if (r->id == IMAP_R_NO && s->facts.state == IMAP_STATE_SELECTED) {
			facts_unselect(s);
		}
		break;
	case IMAP_CMD_CLOSE:
	case IMAP_CMD_UNSELECT:
		if (ok)
			facts_unselect(s);
		break;
	case IMAP_CMD_LOGOUT:
		imap_facts_set_state(s, IMAP_STATE_LOGOUT);
		break;
	case IMAP_CMD_STARTTLS:
		if (ok)
			facts_caps_void(s);
		break;
	case IMAP_CMD_UNAUTHENTICATE:
		if (!ok)
			break;
		facts_unselect(s);
		imap_facts_set_state(s, IMAP_STATE_NOT_AUTH);
		imap_facts_set_user(s, SLICE_NULL);
		facts_caps_void(s);
		break;
	default:
		break;
	}
}

void imap_facts_tagged(struct imap_session *s, const struct pending *p,
		       const struct imap_response *r)
{
	s->state_before = s->facts.state;
	if (p != NULL)
		facts_completion(s, p, r, r->id == IMAP_R_OK);
	/* after a login's voiding: "a1 OK [CAPABILITY ...]" is the new list */
	facts_code(s, &r->rcode);
}
