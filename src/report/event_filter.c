/* --since, --until, --status, --command, --mailbox (see event_filter.h).
 *
 * Layout: the options; the copy of an event that --status holds (one
 * block: the event, then every slice and struct it points to); the state
 * per session (its deferred session_start, the commands awaiting their
 * completion); the decisions; the output. */
#include "report/event_filter.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "util/list.h"

/* ---- options ---------------------------------------------------------- */

/* n decimal digits at *p (moved past them) into *v. */
static bool ef_digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		*v = *v * 10 + (**p - '0');
	}
	return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t ef_days(int y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* "2026-11-21T10:00:00[.123456](Z|+01:00|-0130)". */
static int ef_rfc3339(const char *s, int64_t *us_r)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, scale = 100000;

	if (!ef_digits(&s, 4, &y) || *s++ != '-' || !ef_digits(&s, 2, &mo) || *s++ != '-' ||
	    !ef_digits(&s, 2, &d) || (*s != 'T' && *s != 't' && *s != ' '))
		return -1;
	s++;
	if (!ef_digits(&s, 2, &h) || *s++ != ':' || !ef_digits(&s, 2, &mi) || *s++ != ':' ||
	    !ef_digits(&s, 2, &sec))
		return -1;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += (*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (!ef_digits(&s, 2, &oh))
			return -1;
		if (*s == ':')
			s++;
		if (!ef_digits(&s, 2, &om))
			return -1;
	} else {
		return -1;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		return -1;
	*us_r = ((ef_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
		 sign * (oh * 3600 + om * 60)) * 1000000 + frac;
	return 0;
}

#define EF_OFFSET_MAX_S (100 * 366 * 86400LL)	/* a century is plenty */

/* "+90", "+30s", "+2m", "+1h", "+1d". */
static int ef_offset(const char *s, int64_t *us_r)
{
	int64_t v = 0, mult = 1;

	if (*s++ != '+' || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > EF_OFFSET_MAX_S)
			return -1;
		v = v * 10 + (*s - '0');
	}
	switch (*s) {
	case '\0': case 's': break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return -1;
	}
	if ((*s != '\0' && s[1] != '\0') || v > EF_OFFSET_MAX_S / mult)
		return -1;
	*us_r = v * mult * 1000000;
	return 0;
}

int event_filter_opts_set_time(struct event_filter_opts *o, bool until, const char *arg)
{
	int64_t us;
	bool rel = arg[0] == '+';

	if ((rel ? ef_offset(arg, &us) : ef_rfc3339(arg, &us)) != 0)
		return -1;
	if (until) {
		o->until_set = true;
		o->until_rel = rel;
		o->until_us = us;
	} else {
		o->since_set = true;
		o->since_rel = rel;
		o->since_us = us;
	}
	return 0;
}

static bool ef_word_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

int event_filter_opts_set_status(struct event_filter_opts *o, const char *list)
{
	unsigned mask = 0;

	for (const char *p = list;;) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (ef_word_is(p, n, "OK"))
			mask |= EVENT_FILTER_OK;
		else if (ef_word_is(p, n, "NO"))
			mask |= EVENT_FILTER_NO;
		else if (ef_word_is(p, n, "BAD"))
			mask |= EVENT_FILTER_BAD;
		else
			return -1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	o->status = mask;
	return 0;
}

int event_filter_opts_add_commands(struct event_filter_opts *o, const char *list)
{
	for (const char *p = list;;) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		char *name;

		if (n == 0 || n > EVENT_FILTER_NAME_MAX || o->n_commands == EVENT_FILTER_MAX_COMMANDS)
			return -1;
		name = o->commands[o->n_commands++];
		for (size_t i = 0; i < n; i++)
			name[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
		name[n] = '\0';
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

bool event_filter_opts_active(const struct event_filter_opts *o)
{
	return o->since_set || o->until_set || o->status != 0 || o->n_commands != 0 ||
	       o->mailbox != NULL;
}

/* ---- a held event: one block, the event and what it points to ---------
 *
 * Copied in two passes over the same steps: the first (base NULL) only
 * measures, the second writes; so the block is allocated once. */

struct ef_arena {
	uint8_t *base;		/* NULL: measuring */
	size_t used;
};

static void *ef_alloc(struct ef_arena *a, size_t n, size_t align)
{
	size_t off = (a->used + align - 1) & ~(align - 1);

	a->used = off + n;
	return a->base != NULL ? a->base + off : NULL;
}

#define EF_NEW(a, T) ((T *)ef_alloc((a), sizeof(T), alignof(T)))

static struct buf_slice ef_slice(struct ef_arena *a, struct buf_slice s)
{
	uint8_t *d;

	if (s.ptr == NULL)
		return s;
	d = ef_alloc(a, s.len, 1);
	if (d != NULL && s.len > 0)
		memcpy(d, s.ptr, s.len);
	return (struct buf_slice){ d != NULL ? d : s.ptr, s.len };
}

static const struct session_facts *ef_facts(struct ef_arena *a, const struct session_facts *f)
{
	struct session_facts c = *f, *d;

	c.user = ef_slice(a, f->user);
	c.mailbox = ef_slice(a, f->mailbox);
	c.caps.text = ef_slice(a, f->caps.text);
	d = EF_NEW(a, struct session_facts);
	if (d != NULL)
		*d = c;
	return d;
}

static const struct command_facts *ef_cmd_facts(struct ef_arena *a, const struct command_facts *f)
{
	struct command_facts c = *f, *d;

	c.mailbox = ef_slice(a, f->mailbox);
	c.mailbox2 = ef_slice(a, f->mailbox2);
	c.seqset = ef_slice(a, f->seqset);
	c.items = ef_slice(a, f->items);
	c.flags = ef_slice(a, f->flags);
	c.date = ef_slice(a, f->date);
	c.mechanism = ef_slice(a, f->mechanism);
	d = EF_NEW(a, struct command_facts);
	if (d != NULL)
		*d = c;
	return d;
}

static void ef_msg_into(struct ef_arena *a, struct msg_identity *c, const struct msg_identity *m)
{
	*c = *m;
	c->mailbox = ef_slice(a, m->mailbox);
	c->message_id = ef_slice(a, m->message_id);
	c->subject = ef_slice(a, m->subject);
	c->from = ef_slice(a, m->from);
	c->date = ef_slice(a, m->date);
}

static const struct msg_identity *ef_msgs(struct ef_arena *a, const struct msg_identity *m,
					  size_t n)
{
	struct msg_identity *d;

	if (m == NULL)
		return NULL;
	d = ef_alloc(a, n * sizeof *d, alignof(struct msg_identity));
	for (size_t i = 0; i < n; i++) {
		struct msg_identity c;

		ef_msg_into(a, &c, &m[i]);
		if (d != NULL)
			d[i] = c;
	}
	return d;
}

static const struct fetch_facts *ef_fetch(struct ef_arena *a, const struct fetch_facts *f)
{
	struct fetch_facts c = *f, *d;
	struct buf_slice *sec, *val;
	uint64_t *sizes;

	c.flags = ef_slice(a, f->flags);
	c.date = ef_slice(a, f->date);
	c.subject = ef_slice(a, f->subject);
	c.from = ef_slice(a, f->from);
	c.message_id = ef_slice(a, f->message_id);
	sec = ef_alloc(a, f->n_sections * sizeof *sec, alignof(struct buf_slice));
	val = ef_alloc(a, f->n_sections * sizeof *val, alignof(struct buf_slice));
	sizes = ef_alloc(a, f->n_sections * sizeof *sizes, alignof(uint64_t));
	for (size_t i = 0; i < f->n_sections; i++) {
		struct buf_slice s = ef_slice(a, f->sections[i]);
		struct buf_slice v = ef_slice(a, f->section_values[i]);

		if (sec != NULL) {
			sec[i] = s;
			val[i] = v;
			sizes[i] = f->section_sizes[i];
		}
	}
	c.sections = sec;
	c.section_values = val;
	c.section_sizes = sizes;
	d = EF_NEW(a, struct fetch_facts);
	if (d != NULL)
		*d = c;
	return d;
}

static const struct vanished_facts *ef_vanished(struct ef_arena *a, const struct vanished_facts *v)
{
	struct vanished_facts c = *v, *d;

	c.uids = ef_slice(a, v->uids);
	d = EF_NEW(a, struct vanished_facts);
	if (d != NULL)
		*d = c;
	return d;
}

/* The types --status holds: command, continuation, untagged.  The
 * session's strings (client, server, flow) outlive its held events. */
static void ef_copy(struct ef_arena *a, struct event *d, const struct event *ev)
{
	*d = *ev;
	d->facts = ef_facts(a, ev->facts);
	switch (ev->type) {
	case EV_COMMAND:
		d->u.command.tag = ef_slice(a, ev->u.command.tag);
		d->u.command.name = ef_slice(a, ev->u.command.name);
		d->u.command.args = ef_slice(a, ev->u.command.args);
		d->u.command.facts = ef_cmd_facts(a, ev->u.command.facts);
		d->u.command.append = ef_msgs(a, ev->u.command.append, 1);
		break;
	case EV_CONTINUATION:
		d->u.continuation.text = ef_slice(a, ev->u.continuation.text);
		d->u.continuation.user = ef_slice(a, ev->u.continuation.user);
		d->u.continuation.authzid = ef_slice(a, ev->u.continuation.authzid);
		d->u.continuation.secret = ef_slice(a, ev->u.continuation.secret);
		break;
	case EV_UNTAGGED:
		d->u.untagged.name = ef_slice(a, ev->u.untagged.name);
		d->u.untagged.text = ef_slice(a, ev->u.untagged.text);
		d->u.untagged.tag = ef_slice(a, ev->u.untagged.tag);
		d->u.untagged.rcode.args = ef_slice(a, ev->u.untagged.rcode.args);
		if (ev->u.untagged.fetch != NULL)
			d->u.untagged.fetch = ef_fetch(a, ev->u.untagged.fetch);
		d->u.untagged.msgs = ef_msgs(a, ev->u.untagged.msgs, ev->u.untagged.n_msgs);
		if (ev->u.untagged.vanished != NULL)
			d->u.untagged.vanished = ef_vanished(a, ev->u.untagged.vanished);
		break;
	default:
		break;
	}
}

struct ef_held {
	struct list_node node;
	size_t charged;
	struct event ev;
	alignas(max_align_t) uint8_t data[];
};

/* ---- per session ------------------------------------------------------ */

/* A command awaiting its completion. */
struct ef_cmd {
	struct list_node node;
	uint8_t tag[EVENT_FILTER_TAG_MAX];
	size_t tag_len;
	bool wanted;			/* by --command (and not cut short) */
	struct list_head held;		/* --status: its events so far */
};

struct ef_session {
	uint64_t id;
	struct event start;		/* its session_start, until shown */
	bool have_start, shown;
	struct list_head cmds;		/* oldest first */
	size_t n_cmds;
	struct ef_cmd *last;		/* the latest command sent, or NULL */
	/* The completion seen last: the login event that follows it names
	 * its tag. */
	uint8_t done_tag[EVENT_FILTER_TAG_MAX];
	size_t done_len;
	bool done_wanted;
};

struct event_filter {
	const struct event_filter_opts *o;
	struct output inner;
	struct output_ops ops;
	struct mem_budget *budget;
	bool by_command;		/* --status or --command */
	bool have_origin;
	int64_t since_us, until_us;	/* absolute, once the origin is known */
	struct ef_session **live;	/* sorted by id */
	size_t n_live, cap_live;
	size_t held_bytes;
	uint64_t dropped;
};

static size_t ef_live_index(const struct event_filter *f, uint64_t id, bool *found_r)
{
	size_t lo = 0, hi = f->n_live;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->live[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found_r = lo < f->n_live && f->live[lo]->id == id;
	return lo;
}

/* The session's state, made if new; NULL when memory says no (its
 * events are then left out). */
static struct ef_session *ef_session_get(struct event_filter *f, uint64_t id)
{
	bool found;
	size_t at = ef_live_index(f, id, &found);
	struct ef_session *s;

	if (found)
		return f->live[at];
	if (f->n_live == f->cap_live) {
		struct ef_session **nv = mem_grow_array(f->budget, f->live, &f->cap_live,
							sizeof *nv, 16, SIZE_MAX / sizeof *nv);

		if (nv == NULL)
			return NULL;
		f->live = nv;
	}
	if (mem_charge(f->budget, sizeof *s) != 0)
		return NULL;
	if ((s = calloc(1, sizeof *s)) == NULL) {
		mem_release(f->budget, sizeof *s);
		return NULL;
	}
	s->id = id;
	memmove(&f->live[at + 1], &f->live[at], (f->n_live - at) * sizeof *f->live);
	f->live[at] = s;
	f->n_live++;
	return s;
}

static void ef_held_free(struct event_filter *f, struct ef_held *h)
{
	mem_release(f->budget, h->charged);
	f->held_bytes -= h->charged;
	free(h);
}

/* What becomes of a command's held events when it is forgotten. */
enum ef_fate {
	EF_EMIT,	/* its completion was wanted */
	EF_DISCARD,	/* its completion was not */
	EF_LOST,	/* no completion came: counted in dropped */
};

static void ef_cmd_free(struct event_filter *f, struct ef_session *s, struct ef_cmd *c,
			enum ef_fate fate);

static void ef_session_free(struct event_filter *f, size_t at)
{
	struct ef_session *s = f->live[at];

	while (!list_empty(&s->cmds))
		ef_cmd_free(f, s, LIST_ENTRY(list_first(&s->cmds), struct ef_cmd, node), EF_LOST);
	mem_release(f->budget, sizeof *s);
	free(s);
	memmove(&f->live[at], &f->live[at + 1], (f->n_live - at - 1) * sizeof *f->live);
	f->n_live--;
}

/* ---- passing events on ------------------------------------------------ */

/* An event goes out: its session's start first, if not shown yet. */
static void ef_emit(struct event_filter *f, struct ef_session *s, const struct event *ev)
{
	if (!s->shown && s->have_start && ev->type != EV_SESSION_START)
		f->inner.ops->event(f->inner.ctx, &s->start);
	s->shown = true;
	f->inner.ops->event(f->inner.ctx, ev);
}

static void ef_cmd_free(struct event_filter *f, struct ef_session *s, struct ef_cmd *c,
			enum ef_fate fate)
{
	while (!list_empty(&c->held)) {
		struct ef_held *h = LIST_ENTRY(list_first(&c->held), struct ef_held, node);

		list_unlink(&c->held, &h->node);
		if (fate == EF_EMIT)
			ef_emit(f, s, &h->ev);
		f->dropped += fate == EF_LOST;
		ef_held_free(f, h);
	}
	if (s->last == c)
		s->last = NULL;
	list_unlink(&s->cmds, &c->node);
	s->n_cmds--;
	mem_release(f->budget, sizeof *c);
	free(c);
}

/* --status: keep a copy of ev with its command; one that does not fit
 * is dropped and counted. */
static void ef_hold(struct event_filter *f, struct ef_cmd *c, const struct event *ev)
{
	struct ef_arena a = { NULL, 0 };
	struct event scratch;
	struct ef_held *h;
	size_t sz;

	ef_copy(&a, &scratch, ev);
	sz = offsetof(struct ef_held, data) + a.used;
	if (f->held_bytes + sz > EVENT_FILTER_HOLD_MAX || mem_charge(f->budget, sz) != 0) {
		f->dropped++;
		return;
	}
	if ((h = malloc(sz)) == NULL) {
		mem_release(f->budget, sz);
		f->dropped++;
		return;
	}
	h->charged = sz;
	f->held_bytes += sz;
	a = (struct ef_arena){ h->data, 0 };
	ef_copy(&a, &h->ev, ev);
	list_push_back(&c->held, &h->node);
}

/* ---- decisions -------------------------------------------------------- */

static bool ef_tag_eq(const uint8_t *tag, size_t len, struct buf_slice t)
{
	return t.ptr != NULL && t.len == len && (len == 0 || memcmp(tag, t.ptr, len) == 0);
}

static struct ef_cmd *ef_cmd_find(struct ef_session *s, struct buf_slice tag)
{
	for (struct list_node *n = list_first(&s->cmds); n != NULL; n = n->next) {
		struct ef_cmd *c = LIST_ENTRY(n, struct ef_cmd, node);

		if (ef_tag_eq(c->tag, c->tag_len, tag))
			return c;
	}
	return NULL;
}

/* "FETCH" names FETCH and UID FETCH. */
static bool ef_name_wanted(const struct event_filter_opts *o, struct buf_slice name)
{
	if (o->n_commands == 0)
		return true;
	if (name.ptr == NULL)
		return false;
	if (name.len > 4 && strncasecmp((const char *)name.ptr, "UID ", 4) == 0 &&
	    ef_name_wanted(o, (struct buf_slice){ name.ptr + 4, name.len - 4 }))
		return true;
	for (size_t i = 0; i < o->n_commands; i++)
		if (ef_word_is((const char *)name.ptr, name.len, o->commands[i]))
			return true;
	return false;
}

static bool ef_status_wanted(const struct event_filter_opts *o, enum imap_resp_id id)
{
	unsigned bit = id == IMAP_R_OK ? EVENT_FILTER_OK : id == IMAP_R_NO ? EVENT_FILTER_NO
		     : id == IMAP_R_BAD ? EVENT_FILTER_BAD : 0;

	return o->status == 0 || (o->status & bit) != 0;
}

static bool ef_mailbox_wanted(const struct event_filter_opts *o, const struct event *ev)
{
	struct buf_slice m = ev->facts->mailbox;
	size_t n;

	if (o->mailbox == NULL)
		return true;
	n = strlen(o->mailbox);
	if (m.ptr == NULL || m.len != n)
		return false;
	if (ef_word_is(o->mailbox, n, "INBOX"))
		return ef_word_is((const char *)m.ptr, m.len, "INBOX");
	return memcmp(m.ptr, o->mailbox, n) == 0;
}

static bool ef_time_wanted(struct event_filter *f, const struct event *ev)
{
	if (!f->have_origin) {	/* the first event: offsets count from it */
		f->have_origin = true;
		f->since_us = f->o->since_us + (f->o->since_rel ? ev->ts_us : 0);
		f->until_us = f->o->until_us + (f->o->until_rel ? ev->ts_us : 0);
	}
	return (!f->o->since_set || ev->ts_us >= f->since_us) &&
	       (!f->o->until_set || ev->ts_us <= f->until_us);
}

/* A command: remembered until its completion (the oldest forgotten past
 * EVENT_FILTER_OPEN_MAX); held or passed when wanted. */
static void ef_on_command(struct event_filter *f, struct ef_session *s, const struct event *ev,
			  bool keep)
{
	struct buf_slice tag = ev->u.command.tag;
	struct ef_cmd *c;

	if (s->n_cmds >= EVENT_FILTER_OPEN_MAX)
		ef_cmd_free(f, s, LIST_ENTRY(list_first(&s->cmds), struct ef_cmd, node), EF_LOST);
	s->last = NULL;
	if (tag.ptr == NULL || tag.len > EVENT_FILTER_TAG_MAX || mem_charge(f->budget, sizeof *c) != 0)
		return;
	if ((c = calloc(1, sizeof *c)) == NULL) {
		mem_release(f->budget, sizeof *c);
		return;
	}
	memcpy(c->tag, tag.ptr, tag.len);
	c->tag_len = tag.len;
	c->wanted = ef_name_wanted(f->o, ev->u.command.name);
	list_push_back(&s->cmds, &c->node);
	s->n_cmds++;
	s->last = c;
	if (c->wanted && keep)
		f->o->status != 0 ? ef_hold(f, c, ev) : ef_emit(f, s, ev);
}

/* A line that belongs to command c (NULL: to none). */
static void ef_on_part(struct event_filter *f, struct ef_session *s, struct ef_cmd *c,
		       const struct event *ev, bool keep)
{
	if (c == NULL || !c->wanted || !keep)
		return;
	f->o->status != 0 ? ef_hold(f, c, ev) : ef_emit(f, s, ev);
}

static void ef_on_response(struct event_filter *f, struct ef_session *s, const struct event *ev,
			   bool keep)
{
	struct ef_cmd *c = ef_cmd_find(s, ev->u.response.tag);
	bool wanted = ef_status_wanted(f->o, ev->u.response.id) &&
		      (c != NULL ? c->wanted : ef_name_wanted(f->o, ev->u.response.command));
	size_t n = ev->u.response.tag.len;

	if (c != NULL)
		ef_cmd_free(f, s, c, wanted ? EF_EMIT : EF_DISCARD);
	if (wanted && keep)
		ef_emit(f, s, ev);
	s->done_len = n <= EVENT_FILTER_TAG_MAX && ev->u.response.tag.ptr != NULL ? n : 0;
	if (s->done_len > 0)
		memcpy(s->done_tag, ev->u.response.tag.ptr, n);
	s->done_wanted = wanted;
}

/* --status or --command: the command's own events only. */
static void ef_by_command(struct event_filter *f, struct ef_session *s, const struct event *ev,
			  bool keep)
{
	switch (ev->type) {
	case EV_COMMAND:
		ef_on_command(f, s, ev, keep);
		break;
	case EV_CONTINUATION:
		ef_on_part(f, s, s->last, ev, keep);
		break;
	case EV_UNTAGGED:
		ef_on_part(f, s, ev->u.untagged.tag.ptr != NULL ? ef_cmd_find(s, ev->u.untagged.tag)
								: NULL, ev, keep);
		break;
	case EV_RESPONSE:
		ef_on_response(f, s, ev, keep);
		break;
	case EV_LOGIN:
		if (keep && s->done_wanted && s->done_len > 0 &&
		    ef_tag_eq(s->done_tag, s->done_len, ev->u.login.tag))
			ef_emit(f, s, ev);
		break;
	default:
		break;
	}
}

/* ---- the output ------------------------------------------------------- */

static void ef_event(void *ctx, const struct event *ev)
{
	struct event_filter *f = ctx;
	struct ef_session *s = ef_session_get(f, ev->session);
	bool keep, found;

	if (s == NULL) {
		f->dropped++;
		return;
	}
	if (ev->type == EV_SESSION_START) {
		s->start = *ev;	/* pointers into the session: valid while it lives */
		s->have_start = true;
		(void)ef_time_wanted(f, ev);	/* the origin of offsets */
		return;
	}
	if (ev->type == EV_SESSION_END) {
		if (s->shown)
			ef_emit(f, s, ev);
		ef_session_free(f, ef_live_index(f, ev->session, &found));
		return;
	}
	keep = ef_time_wanted(f, ev) && ef_mailbox_wanted(f->o, ev);
	if (f->by_command)
		ef_by_command(f, s, ev, keep);
	else if (keep)
		ef_emit(f, s, ev);
}

/* Commands still awaiting their completion at the end: their held
 * events are dropped (counted). */
static int ef_finish(void *ctx)
{
	struct event_filter *f = ctx;

	while (f->n_live > 0)
		ef_session_free(f, f->n_live - 1);
	return f->inner.ops->finish(f->inner.ctx);
}

static void ef_free(void *ctx)
{
	struct event_filter *f = ctx;

	while (f->n_live > 0)
		ef_session_free(f, f->n_live - 1);
	mem_release(f->budget, f->cap_live * sizeof *f->live);
	free(f->live);
	f->inner.ops->free(f->inner.ctx);
	free(f);
}

static void ef_flush(void *ctx)
{
	struct event_filter *f = ctx;

	if (f->inner.ops->flush != NULL)
		f->inner.ops->flush(f->inner.ctx);
}

struct event_filter *event_filter_new(const struct event_filter_opts *opts, struct output inner,
				      struct mem_budget *budget)
{
	struct event_filter *f = calloc(1, sizeof *f);

	if (f == NULL) {
		inner.ops->free(inner.ctx);
		return NULL;
	}
	f->o = opts;
	f->inner = inner;
	f->budget = budget;
	f->by_command = opts->status != 0 || opts->n_commands != 0;
	f->ops = (struct output_ops){ .event = ef_event, .finish = ef_finish, .free = ef_free,
				      .flush = ef_flush, .facts = inner.ops->facts };
	return f;
}

struct output event_filter_output(struct event_filter *f)
{
	return (struct output){ &f->ops, f };
}

uint64_t event_filter_dropped(const struct event_filter *f)
{
	return f->dropped;
}
