/* Message identity for the outputs that name messages (IMAP_FACTS_MESSAGES,
 * imap/imap_event.h): the sequence map of the selected mailbox
 * (imap/imap_msgmap.h) and a cache of what crossed the wire about each
 * message (size, Message-ID, Subject, From, Date: imap/imap_msghdr.h
 * decodes them), keyed by mailbox, UIDVALIDITY and UID.
 *
 * Without IMAP_FACTS_MESSAGES nothing here runs: the session's callers
 * test the flag first.  The cache holds SESS_MSG_CACHE_MAX messages, the
 * least recently seen forgotten first; every loss to a cap or to the
 * budget is counted in sum.capped and said (the first few times). */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "imap/imap_msghdr.h"
#include "imap_session_int.h"

enum { F_MSGID, F_SUBJECT, F_FROM, F_DATE, N_FIELDS };

struct msgc_entry {
	struct hashtab_node node;
	struct list_node lru;
	uint64_t uidvalidity;
	uint32_t uid, mbox;
	uint64_t size;
	unsigned flags;			/* MSG_* */
	size_t bytes;			/* charged */
	struct buf_slice f[N_FIELDS];	/* into data, or null */
	uint8_t data[];
};

/* What one event says of a message, decoded into s->msgs->scratch (by
 * offset: the buffer may move while it fills). */
struct msg_seen {
	bool have[N_FIELDS];
	size_t off[N_FIELDS], len[N_FIELDS];
	uint64_t size;
	unsigned flags;
};

static void orphans_clear(struct imap_session *s);

static bool msgs_on(const struct imap_session *s)
{
	return s->msgs != NULL;
}

/* A loss to a cap: counted, and said the first few times. */
static void msgs_lost(struct imap_session *s, const char *what)
{
	s->sum.capped++;
	if (s->msgs->cap_notices++ < SESS_MSG_CAP_NOTICES)
		imap_session_notice(s, NOTICE_MESSAGE_CAP, "message identity: %s", what);
}

void imap_msgs_init(struct imap_session *s)
{
	struct sess_msgs *m;

	s->msgs = NULL;
	if (!(s->cfg->facts & IMAP_FACTS_MESSAGES))
		return;
	if (mem_charge(s->cfg->budget, sizeof *m) != 0)
		goto refused;
	if ((m = calloc(1, sizeof *m)) == NULL) {
		mem_release(s->cfg->budget, sizeof *m);
		goto refused;
	}
	s->msgs = m;
	m->cur_mbox = UINT32_MAX;
	imap_msgmap_init(&m->map, s->cfg->budget);
	hashtab_init(&m->cache, s->cfg->budget, 0, 0, SESS_MSG_CACHE_MAX);
	buf_init(&m->scratch, SESS_MSG_SCRATCH, s->cfg->budget);
	return;
refused:
	/* before the session_start event: no notice here; the budget counts
	 * the refusal and the run says so */
	s->sum.capped++;
}

static void entry_free(struct imap_session *s, struct msgc_entry *e)
{
	mem_release(s->cfg->budget, e->bytes);
	free(e);
}

static void drain_one(struct hashtab_node *n, void *ctx)
{
	entry_free(ctx, HASHTAB_ENTRY(n, struct msgc_entry, node));
}

void imap_msgs_free(struct imap_session *s)
{
	struct sess_msgs *m = s->msgs;

	if (!msgs_on(s))
		return;
	imap_msgmap_free(&m->map);
	orphans_clear(s);
	hashtab_drain(&m->cache, drain_one, s);
	hashtab_free(&m->cache);
	for (size_t i = 0; i < m->n_mboxes; i++) {
		mem_release(s->cfg->budget, m->mboxes[i].len);
		free(m->mboxes[i].name);
	}
	if (m->mboxes != NULL)
		mem_release(s->cfg->budget, m->cap_mboxes * sizeof *m->mboxes);
	free(m->mboxes);
	if (m->ids != NULL)
		mem_release(s->cfg->budget, m->cap_ids * sizeof *m->ids);
	free(m->ids);
	if (m->deleted != NULL)
		mem_release(s->cfg->budget, m->cap_deleted * sizeof *m->deleted);
	free(m->deleted);
	buf_free(&m->scratch);
	free(m);
	mem_release(s->cfg->budget, sizeof *m);
	s->msgs = NULL;
}

void imap_msgs_forget(struct imap_session *s)
{
	if (!msgs_on(s))
		return;
	imap_msgmap_reset(&s->msgs->map);
	orphans_clear(s);
	s->msgs->cur_mbox = UINT32_MAX;
	s->msgs->n_deleted = 0;
}

/* --- mailboxes ---------------------------------------------------------- */

/* The index of the selected mailbox's name, kept once; UINT32_MAX when
 * none is selected or it could not be kept. */
static uint32_t msgs_cur_mbox(struct imap_session *s)
{
	struct sess_msgs *m = s->msgs;
	struct buf_slice name = s->facts.mailbox;
	struct sess_mbox_name *a;
	uint8_t *copy;

	if (m->cur_mbox != UINT32_MAX || name.ptr == NULL)
		return m->cur_mbox;
	for (size_t i = 0; i < m->n_mboxes; i++)
		if (m->mboxes[i].len == name.len &&
		    (name.len == 0 || memcmp(m->mboxes[i].name, name.ptr, name.len) == 0))
			return m->cur_mbox = (uint32_t)i;
	if (m->n_mboxes == SESS_MSG_MAX_MAILBOXES) {
		msgs_lost(s, "too many mailboxes, not cached");
		return UINT32_MAX;
	}
	if (m->n_mboxes == m->cap_mboxes) {
		a = mem_grow_array(s->cfg->budget, m->mboxes, &m->cap_mboxes, sizeof *a, 4,
				   SESS_MSG_MAX_MAILBOXES);
		if (a == NULL) {
			msgs_lost(s, "out of memory for a mailbox name");
			return UINT32_MAX;
		}
		m->mboxes = a;
	}
	if (mem_charge(s->cfg->budget, name.len) != 0) {
		msgs_lost(s, "out of memory for a mailbox name");
		return UINT32_MAX;
	}
	if ((copy = malloc(name.len ? name.len : 1)) == NULL) {
		mem_release(s->cfg->budget, name.len);
		msgs_lost(s, "out of memory for a mailbox name");
		return UINT32_MAX;
	}
	memcpy(copy, name.ptr, name.len);
	m->mboxes[m->n_mboxes] = (struct sess_mbox_name){ copy, name.len };
	return m->cur_mbox = (uint32_t)m->n_mboxes++;
}

static struct buf_slice mbox_name(const struct imap_session *s, uint32_t i)
{
	if (i >= s->msgs->n_mboxes)
		return s->facts.mailbox;
	return (struct buf_slice){ s->msgs->mboxes[i].name, s->msgs->mboxes[i].len };
}

/* --- the cache ---------------------------------------------------------- */

struct msgc_key {
	uint64_t uidvalidity;
	uint32_t uid, mbox;
};

static uint64_t key_hash(struct imap_session *s, struct msgc_key *k)
{
	return hashtab_hash(&s->msgs->cache, k, sizeof *k);
}

static struct msgc_entry *cache_find(struct imap_session *s, uint32_t mbox, uint64_t uidvalidity,
				     uint64_t uid)
{
	struct msgc_key k = { uidvalidity, (uint32_t)uid, mbox };
	uint64_t h;

	if (mbox == UINT32_MAX || uid == FACT_NONE || uid > UINT32_MAX || s->msgs->n_cached == 0)
		return NULL;
	h = key_hash(s, &k);
	for (struct hashtab_node *n = hashtab_first(&s->msgs->cache, h); n != NULL;
	     n = hashtab_next(n, h)) {
		struct msgc_entry *e = HASHTAB_ENTRY(n, struct msgc_entry, node);

		if (e->uid == k.uid && e->mbox == mbox && e->uidvalidity == uidvalidity)
			return e;
	}
	return NULL;
}

static void cache_unlink(struct imap_session *s, struct msgc_entry *e)
{
	hashtab_unlink(&s->msgs->cache, &e->node);
	list_unlink(&s->msgs->lru, &e->lru);
	s->msgs->n_cached--;
}

/* Does seen add anything to e? */
static bool seen_adds(const struct msgc_entry *e, const struct msg_seen *seen)
{
	if (e == NULL)
		return true;
	if (e->size == FACT_NONE && seen->size != FACT_NONE)
		return true;
	for (int i = 0; i < N_FIELDS; i++)
		if (seen->have[i] && e->f[i].ptr == NULL)
			return true;
	return false;
}

static void cache_evict_oldest(struct imap_session *s)
{
	struct list_node *n = list_first(&s->msgs->lru);
	struct msgc_entry *e;

	if (n == NULL)
		return;
	e = LIST_ENTRY(n, struct msgc_entry, lru);
	cache_unlink(s, e);
	entry_free(s, e);
	msgs_lost(s, "header cache full, the oldest forgotten");
}

/* The fields of old (may be NULL) and seen, old's first, in one new
 * entry; NULL when memory refused. */
static struct msgc_entry *entry_make(struct imap_session *s, const struct msgc_entry *old,
				     const struct msg_seen *seen, const struct msgc_key *k)
{
	const uint8_t *scr = s->msgs->scratch.data;
	struct buf_slice v[N_FIELDS];
	size_t bytes = sizeof(struct msgc_entry);
	struct msgc_entry *e;
	uint8_t *o;

	for (int i = 0; i < N_FIELDS; i++) {
		v[i] = old != NULL ? old->f[i] : SLICE_NULL;
		if (v[i].ptr == NULL && seen->have[i])
			v[i] = (struct buf_slice){ scr ? scr + seen->off[i] : (const uint8_t *)"",
						   seen->len[i] };
		if (v[i].ptr != NULL)
			bytes += v[i].len;
	}
	if (mem_charge(s->cfg->budget, bytes) != 0)
		return NULL;
	if ((e = malloc(bytes)) == NULL) {
		mem_release(s->cfg->budget, bytes);
		return NULL;
	}
	memset(e, 0, sizeof *e);
	e->uidvalidity = k->uidvalidity;
	e->uid = k->uid;
	e->mbox = k->mbox;
	e->size = old != NULL && old->size != FACT_NONE ? old->size : seen->size;
	e->flags = (old != NULL ? old->flags : 0) | seen->flags;
	e->bytes = bytes;
	o = e->data;
	for (int i = 0; i < N_FIELDS; i++) {
		if (v[i].ptr == NULL) {
			e->f[i] = SLICE_NULL;
			continue;
		}
		if (v[i].len != 0)
			memcpy(o, v[i].ptr, v[i].len);
		e->f[i] = (struct buf_slice){ o, v[i].len };
		o += v[i].len;
	}
	return e;
}

/* What seen says of (mbox, uidvalidity, uid), merged into its entry; the
 * entry, or NULL when it could not be kept. */
static struct msgc_entry *cache_put(struct imap_session *s, uint32_t mbox, uint64_t uidvalidity,
				    uint64_t uid, const struct msg_seen *seen)
{
	struct msgc_key k = { uidvalidity, (uint32_t)uid, mbox };
	struct msgc_entry *old = cache_find(s, mbox, uidvalidity, uid), *e;

	if (mbox == UINT32_MAX || uid == FACT_NONE || uid > UINT32_MAX)
		return NULL;
	if (!seen_adds(old, seen)) {
		list_move_back(&s->msgs->lru, &old->lru);
		return old;
	}
	if (old == NULL && s->msgs->n_cached >= SESS_MSG_CACHE_MAX)
		cache_evict_oldest(s);
	if ((e = entry_make(s, old, seen, &k)) == NULL) {
		msgs_lost(s, "out of memory for a message's headers");
		return old;
	}
	if (old != NULL) {
		cache_unlink(s, old);
		entry_free(s, old);
	}
	if (hashtab_reserve(&s->msgs->cache) != 0 && s->msgs->cache.nbuckets == 0) {
		entry_free(s, e);
		msgs_lost(s, "out of memory for the header cache");
		return NULL;
	}
	hashtab_link(&s->msgs->cache, &e->node, key_hash(s, &k));
	list_push_back(&s->msgs->lru, &e->lru);
	s->msgs->n_cached++;
	return e;
}

/* --- \Deleted ---------------------------------------------------------------- */

/* The place of uid in the deleted list (where it would go). */
static size_t deleted_pos(const struct sess_msgs *m, uint64_t uid)
{
	size_t lo = 0, hi = m->n_deleted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->deleted[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void deleted_mark(struct imap_session *s, uint64_t uid, bool on)
{
	struct sess_msgs *m = s->msgs;
	size_t i;
	bool had;

	if (uid == FACT_NONE || uid == 0 || uid > UINT32_MAX)
		return;
	i = deleted_pos(m, uid);
	had = i < m->n_deleted && m->deleted[i] == uid;
	if (had == on)
		return;
	if (!on) {
		memmove(m->deleted + i, m->deleted + i + 1, (m->n_deleted - i - 1) * sizeof *m->deleted);
		m->n_deleted--;
		return;
	}
	if (m->n_deleted == m->cap_deleted) {
		uint32_t *a = mem_grow_array(s->cfg->budget, m->deleted, &m->cap_deleted, sizeof *a,
					     16, SESS_MSG_MAX_DELETED);

		if (a == NULL) {
			msgs_lost(s, "too many messages flagged \\Deleted to follow");
			return;
		}
		m->deleted = a;
	}
	memmove(m->deleted + i + 1, m->deleted + i, (m->n_deleted - i) * sizeof *m->deleted);
	m->deleted[i] = (uint32_t)uid;
	m->n_deleted++;
}

static bool flags_have_deleted(struct buf_slice list)
{
	struct imap_flag_iter it;
	struct buf_slice f;

	imap_flags_init(&it, list);
	while (imap_flags_next(&it, &f))
		if (buf_slice_ieq(f, "\\DELETED"))
			return true;
	return false;
}

/* Room for n identities in m->ids; false (and the loss said) if refused. */
static bool ids_room(struct imap_session *s, size_t n)
{
	struct sess_msgs *m = s->msgs;

	while (m->cap_ids < n) {
		struct msg_identity *a = mem_grow_array(s->cfg->budget, m->ids, &m->cap_ids,
							sizeof *a, 16, IMAP_MSG_MAX_PER_EVENT);

		if (a == NULL) {
			msgs_lost(s, "out of memory for an event's messages");
			return false;
		}
		m->ids = a;
	}
	return true;
}

/* --- identities ----------------------------------------------------------- */

static void identity_init(struct imap_session *s, struct msg_identity *id, uint32_t mbox,
			  uint64_t uid, enum msg_uid_source src, uint64_t seq)
{
	memset(id, 0, sizeof *id);
	id->mailbox = mbox_name(s, mbox);
	id->uidvalidity = s->facts.uidvalidity;
	id->uid = uid;
	id->uid_source = uid == FACT_NONE ? MSG_UID_NONE : src;
	id->seq = seq;
	id->size = FACT_NONE;
}

static struct buf_slice *identity_field(struct msg_identity *id, int i)
{
	switch (i) {
	case F_MSGID:
		return &id->message_id;
	case F_SUBJECT:
		return &id->subject;
	case F_FROM:
		return &id->from;
	default:
		return &id->date;
	}
}

static void identity_from_entry(struct msg_identity *id, const struct msgc_entry *e)
{
	id->size = e->size;
	id->flags = e->flags;
	for (int i = 0; i < N_FIELDS; i++)
		*identity_field(id, i) = e->f[i];
}

static void identity_from_seen(struct imap_session *s, struct msg_identity *id,
			       const struct msg_seen *seen)
{
	const uint8_t *scr = s->msgs->scratch.data;

	id->size = seen->size;
	id->flags = seen->flags;
	for (int i = 0; i < N_FIELDS; i++)
		if (seen->have[i])
			*identity_field(id, i) = (struct buf_slice){
				scr ? scr + seen->off[i] : (const uint8_t *)"", seen->len[i] };
}

/* --- what a line says of a message --------------------------------------- */

/* Field i of seen from v: decoded (RFC 2047, unfolded) when decode. */
static void seen_put(struct imap_session *s, struct msg_seen *seen, int i, struct buf_slice v,
		     bool decode)
{
	struct buf *b = &s->msgs->scratch;
	size_t start = b->len;
	bool left = false;
	int rc;

	if (seen->have[i] || v.ptr == NULL)
		return;
	rc = decode ? imap_msghdr_value(b, v, &left) : buf_append(b, v.ptr, v.len);
	if (rc != 0) {
		b->len = start;
		return;
	}
	seen->have[i] = true;
	seen->off[i] = start;
	seen->len[i] = b->len - start;
	if (left)
		seen->flags |= MSG_ENCODED_LEFT;
}

/* A header block's fields (a body, a HEADER section, an APPEND literal). */
static void seen_block(struct imap_session *s, struct msg_seen *seen, struct buf_slice block)
{
	struct imap_msghdr h;

	imap_msghdr_scan(block, &h);
	seen_put(s, seen, F_MSGID, h.message_id, true);
	seen_put(s, seen, F_SUBJECT, h.subject, true);
	seen_put(s, seen, F_FROM, h.from, true);
	seen_put(s, seen, F_DATE, h.date, true);
}

/* An ENVELOPE string: a quoted string's contents (escapes undone) when it
 * lies in the line's text, else a literal's contents as they are. */
static struct buf_slice env_string(struct imap_session *s, const struct imap_line *line,
				   struct buf_slice v, size_t *mark_r)
{
	struct buf *b = &s->msgs->scratch;
	const uint8_t *t = line->text.ptr;

	*mark_r = b->len;
	if (v.ptr == NULL || v.ptr < t || v.ptr > t + line->text.len ||
	    memchr(v.ptr, '\\', v.len) == NULL)
		return v;
	if (imap_unquote(b, v) != 0) {
		b->len = *mark_r;
		return SLICE_NULL;
	}
	/* a copy the caller decodes into the same buffer: it reads from a
	 * fixed place, so copy it out first */
	return (struct buf_slice){ b->data + *mark_r, b->len - *mark_r };
}

static void seen_env_field(struct imap_session *s, struct msg_seen *seen,
			   const struct imap_line *line, int i, struct buf_slice v, bool decode)
{
	uint8_t tmp[IMAP_MSGHDR_MAX_VALUE];
	size_t mark;
	struct buf_slice u = env_string(s, line, v, &mark);

	if (u.ptr != NULL && s->msgs->scratch.data != NULL && u.ptr >= s->msgs->scratch.data &&
	    u.ptr < s->msgs->scratch.data + s->msgs->scratch.cap) {
		/* unescaped into scratch: move it aside so that it is not
		 * overwritten while it is decoded into scratch */
		if (u.len > sizeof tmp) {
			s->msgs->scratch.len = mark;
			return;
		}
		memcpy(tmp, u.ptr, u.len);
		s->msgs->scratch.len = mark;
		u = (struct buf_slice){ tmp, u.len };
	}
	seen_put(s, seen, i, u, decode);
}

/* ENVELOPE's from: "Name <mailbox@host>", the name decoded. */
static void seen_env_from(struct imap_session *s, struct msg_seen *seen,
			  const struct imap_line *line, struct buf_slice list)
{
	struct buf *b = &s->msgs->scratch;
	struct imap_address a;
	size_t start;

	if (seen->have[F_FROM] || !imap_args_first_address(list, &a))
		return;
	start = b->len;
	if (a.name.ptr != NULL) {
		seen_env_field(s, seen, line, F_FROM, a.name, true);
		if (!seen->have[F_FROM])
			return;
		seen->have[F_FROM] = false;
		start = seen->off[F_FROM];
		if (a.mailbox.ptr != NULL && buf_append(b, " <", 2) != 0)
			goto fail;
	}
	if (a.mailbox.ptr != NULL) {
		if (buf_append(b, a.mailbox.ptr, a.mailbox.len) != 0 ||
		    (a.host.ptr != NULL && (buf_append(b, "@", 1) != 0 ||
					    buf_append(b, a.host.ptr, a.host.len) != 0)) ||
		    (a.name.ptr != NULL && buf_append(b, ">", 1) != 0))
			goto fail;
	}
	seen->have[F_FROM] = true;
	seen->off[F_FROM] = start;
	seen->len[F_FROM] = b->len - start;
	return;
fail:
	b->len = start;
}

/* A section name's "[...]" contents and whether a partial "<o>" with o
 * other than 0 follows; false when it has no brackets. */
static bool section_parts(struct buf_slice n, struct buf_slice *inner, bool *offset_r)
{
	const uint8_t *open = memchr(n.ptr, '[', n.len), *close;

	if (open == NULL)
		return false;
	close = n.ptr + n.len;
	while (close > open && close[-1] != ']')
		close--;
	if (close == open)
		return false;
	*inner = (struct buf_slice){ open + 1, (size_t)(close - 1 - open - 1) };
	*offset_r = close < n.ptr + n.len && !(n.ptr + n.len - close == 3 && close[1] == '0');
	return true;
}

static bool ci_prefix(struct buf_slice s, const char *w)
{
	size_t k = strlen(w);

	if (s.len < k)
		return false;
	for (size_t i = 0; i < k; i++) {
		uint8_t c = s.ptr[i];

		if ((c >= 'a' && c <= 'z' ? c - 32 : c) != (uint8_t)w[i])
			return false;
	}
	return true;
}

/* What kind of text a FETCH section carries: 2 the whole message, 1 its
 * header block, 0 neither (a part, a partial from inside, the text). */
static int section_kind(struct buf_slice name)
{
	struct buf_slice inner;
	bool offset;

	if (buf_slice_ieq(name, "RFC822"))
		return 2;
	if (buf_slice_ieq(name, "RFC822.HEADER"))
		return 1;
	if (!section_parts(name, &inner, &offset) || offset)
		return 0;
	if (inner.len == 0)
		return 2;
	return ci_prefix(inner, "HEADER") ? 1 : 0;
}

static void seen_fetch(struct imap_session *s, struct msg_seen *seen,
		       const struct imap_line *line, const struct fetch_facts *f)
{
	seen->size = f->size;
	for (size_t i = 0; i < f->n_sections; i++) {
		int kind = section_kind(f->sections[i]);

		if (kind == 2 && seen->size == FACT_NONE && f->section_sizes[i] != FACT_NONE &&
		    !(f->sections[i].len > 0 && f->sections[i].ptr[f->sections[i].len - 1] == '>'))
			seen->size = f->section_sizes[i];
		if (kind != 0)
			seen_block(s, seen, f->section_values[i]);
	}
	seen_env_field(s, seen, line, F_MSGID, f->message_id, true);
	seen_env_field(s, seen, line, F_SUBJECT, f->subject, true);
	seen_env_field(s, seen, line, F_DATE, f->date, true);
	seen_env_from(s, seen, line, f->from);
}

/* --- messages known by sequence number alone -------------------------------
 *
 * A FETCH without UID whose number the map does not know still names a
 * message; when a later line gives that number's UID (and no EXPUNGE or
 * VANISHED came between, which would renumber), what was seen of it joins
 * the cache.  EXPUNGE renumbers them like the map; VANISHED, whose UIDs
 * cannot be placed among them, and a new selection forget them. */

static void orphan_drop(struct imap_session *s, size_t i)
{
	struct sess_msgs *m = s->msgs;

	entry_free(s, m->orphans[i].e);
	memmove(m->orphans + i, m->orphans + i + 1, (m->n_orphans - i - 1) * sizeof *m->orphans);
	m->n_orphans--;
}

static void orphans_clear(struct imap_session *s)
{
	while (s->msgs->n_orphans > 0)
		orphan_drop(s, s->msgs->n_orphans - 1);
}

static ssize_t orphan_find(const struct imap_session *s, uint64_t seq)
{
	for (size_t i = 0; i < s->msgs->n_orphans; i++)
		if (s->msgs->orphans[i].seq == seq)
			return (ssize_t)i;
	return -1;
}

/* seen merged into seq's orphan (made if need be); NULL when it could not
 * be kept. */
static struct msgc_entry *orphan_put(struct imap_session *s, uint32_t mbox, uint64_t seq,
				     const struct msg_seen *seen)
{
	struct sess_msgs *m = s->msgs;
	ssize_t i = orphan_find(s, seq);
	struct msgc_key k = { s->facts.uidvalidity, 0, mbox };
	struct msgc_entry *old = i >= 0 ? m->orphans[i].e : NULL, *e;

	if (!seen_adds(old, seen))
		return old;
	if ((e = entry_make(s, old, seen, &k)) == NULL) {
		msgs_lost(s, "out of memory for a message's headers");
		return old;
	}
	if (old != NULL) {
		entry_free(s, old);
		m->orphans[i].e = e;
		return e;
	}
	if (m->n_orphans == SESS_MSG_MAX_ORPHANS) {
		orphan_drop(s, 0);
		msgs_lost(s, "too many messages without a UID, the oldest forgotten");
	}
	m->orphans[m->n_orphans++] = (struct sess_orphan){ seq, e };
	return e;
}

/* What was seen of seq's orphan, appended to scratch as a msg_seen. */
static bool orphan_seen(struct imap_session *s, uint64_t seq, struct msg_seen *seen)
{
	ssize_t i = orphan_find(s, seq);
	const struct msgc_entry *e;

	memset(seen, 0, sizeof *seen);
	seen->size = FACT_NONE;
	if (i < 0)
		return false;
	e = s->msgs->orphans[i].e;
	seen->size = e->size;
	seen->flags = e->flags;
	for (int f = 0; f < N_FIELDS; f++) {
		size_t off = s->msgs->scratch.len;

		if (e->f[f].ptr == NULL || buf_append(&s->msgs->scratch, e->f[f].ptr, e->f[f].len) != 0)
			continue;
		seen->have[f] = true;
		seen->off[f] = off;
		seen->len[f] = e->f[f].len;
	}
	orphan_drop(s, (size_t)i);
	return true;
}

/* "* seq EXPUNGE": its orphan's entry (taken out: the caller frees it),
 * and the higher ones renumbered. */
static struct msgc_entry *orphans_expunge(struct imap_session *s, uint64_t seq)
{
	struct sess_msgs *m = s->msgs;
	struct msgc_entry *gone = NULL;
	size_t o = 0;

	for (size_t i = 0; i < m->n_orphans; i++) {
		if (m->orphans[i].seq == seq) {
			gone = m->orphans[i].e;
			continue;
		}
		if (m->orphans[i].seq > seq)
			m->orphans[i].seq--;
		m->orphans[o++] = m->orphans[i];
	}
	m->n_orphans = o;
	return gone;
}

/* --- events ---------------------------------------------------------------- */

static void map_rc(struct imap_session *s, enum imap_msgmap_rc rc)
{
	if (rc == MSGMAP_CAPPED)
		msgs_lost(s, "sequence numbers past the map's cap are not mapped");
	else if (rc == MSGMAP_NO_MEMORY)
		msgs_lost(s, "out of memory for the sequence map");
}

static void on_fetch(struct imap_session *s, const struct imap_line *line,
		     const struct fetch_facts *f, struct event *ev)
{
	struct sess_msgs *m = s->msgs;
	struct msg_seen seen = { .size = FACT_NONE };
	uint64_t uid = f->uid;
	uint32_t mbox = msgs_cur_mbox(s);
	struct msgc_entry *e;

	if (uid != FACT_NONE)
		map_rc(s, imap_msgmap_learn(&m->map, f->seq, uid));
	else
		uid = imap_msgmap_uid(&m->map, f->seq);
	seen_fetch(s, &seen, line, f);
	identity_init(s, &m->one, mbox, uid, f->uid != FACT_NONE ? MSG_UID_SAID : MSG_UID_MAPPED,
		      f->seq);
	if (uid == FACT_NONE) {
		e = mbox != UINT32_MAX ? orphan_put(s, mbox, f->seq, &seen) : NULL;
	} else {
		struct msg_seen before;

		if (m->n_orphans > 0 && orphan_seen(s, f->seq, &before))
			cache_put(s, mbox, s->facts.uidvalidity, uid, &before);
		e = cache_put(s, mbox, s->facts.uidvalidity, uid, &seen);
	}
	if (e != NULL)
		identity_from_entry(&m->one, e);
	else
		identity_from_seen(s, &m->one, &seen);
	if (f->flags.ptr != NULL)
		deleted_mark(s, uid, flags_have_deleted(f->flags));
	ev->u.untagged.msgs = &m->one;
	ev->u.untagged.n_msgs = 1;
}

static void identity_known(struct imap_session *s, struct msg_identity *id, uint32_t mbox,
			   uint64_t uid, enum msg_uid_source src, uint64_t seq)
{
	struct msgc_entry *e = cache_find(s, mbox, s->facts.uidvalidity, uid);

	identity_init(s, id, mbox, uid, src, seq);
	if (e != NULL)
		identity_from_entry(id, e);
}

static void on_expunge(struct imap_session *s, const struct imap_response *r, struct event *ev)
{
	uint64_t uid = imap_msgmap_expunge(&s->msgs->map, r->number);
	struct msgc_entry *o = s->msgs->n_orphans > 0 ? orphans_expunge(s, r->number) : NULL;

	identity_known(s, &s->msgs->one, msgs_cur_mbox(s), uid, MSG_UID_MAPPED, r->number);
	deleted_mark(s, uid, false);
	if (o != NULL) {
		/* the event's strings must outlive the entry: into scratch */
		struct msg_seen seen = { .size = o->size, .flags = o->flags };

		for (int f = 0; f < N_FIELDS; f++) {
			size_t off = s->msgs->scratch.len;

			if (o->f[f].ptr != NULL &&
			    buf_append(&s->msgs->scratch, o->f[f].ptr, o->f[f].len) == 0) {
				seen.have[f] = true;
				seen.off[f] = off;
				seen.len[f] = o->f[f].len;
			}
		}
		entry_free(s, o);
		if (s->msgs->one.size == FACT_NONE && s->msgs->one.message_id.ptr == NULL)
			identity_from_seen(s, &s->msgs->one, &seen);
	}
	ev->u.untagged.msgs = &s->msgs->one;
	ev->u.untagged.n_msgs = 1;
}

/* The number uid has now, were the n UIDs before it removed one after
 * another (places: where each of those was, FACT_NONE if not known): its
 * place in the map less those of them below it.  FACT_NONE unless every
 * slot below it is known (a gone UID the map never held could have sat
 * there).  *place_r: its place, or FACT_NONE. */
static uint64_t vanished_seq(const struct imap_msgmap *map, uint64_t uid, const uint64_t *places,
			     size_t n, uint64_t prefix, uint64_t *place_r)
{
	uint64_t seq, below = 0;

	*place_r = FACT_NONE;
	if (imap_msgmap_next(map, uid, &seq) != uid || seq > prefix)
		return FACT_NONE;
	*place_r = seq;
	for (size_t j = 0; j < n; j++)
		below += places[j] != FACT_NONE && places[j] < seq;
	return seq - below;
}

/* The identities of a VANISHED set's UIDs, up to IMAP_MSG_MAX_PER_EVENT. */
static void vanished_ids(struct imap_session *s, struct buf_slice set, struct event *ev)
{
	struct sess_msgs *m = s->msgs;
	uint32_t mbox = msgs_cur_mbox(s);
	uint64_t prefix = imap_msgmap_known_prefix(&m->map);
	uint64_t places[IMAP_MSG_MAX_PER_EVENT];
	struct imap_seq_iter it;
	struct imap_seq_range r;
	size_t n = 0;

	imap_seqset_init(&it, set);
	while (imap_seqset_next(&it, &r) == 1 && r.hi != IMAP_SEQ_STAR) {
		for (uint64_t u = r.lo; u <= r.hi; u++) {
			uint64_t seq;

			if (n == IMAP_MSG_MAX_PER_EVENT || !ids_room(s, n + 1)) {
				ev->u.untagged.msgs_cut = true;
				goto done;
			}
			seq = vanished_seq(&m->map, u, places, n, prefix, &places[n]);
			identity_known(s, &m->ids[n++], mbox, u, MSG_UID_SAID, seq);
			deleted_mark(s, u, false);
		}
	}
done:
	ev->u.untagged.msgs = n > 0 ? m->ids : NULL;
	ev->u.untagged.n_msgs = n;
}

static uint64_t set_count(struct buf_slice set)
{
	struct imap_seq_iter it;
	struct imap_seq_range r;
	uint64_t n = 0;
	int rc;

	imap_seqset_init(&it, set);
	while ((rc = imap_seqset_next(&it, &r)) == 1)
		if (r.hi == IMAP_SEQ_STAR || __builtin_add_overflow(n, r.hi - r.lo + 1, &n))
			return FACT_NONE;
	return rc == 0 ? n : FACT_NONE;
}

static void on_vanished(struct imap_session *s, const struct imap_response *r, struct event *ev)
{
	struct vanished_facts *v = &s->msgs->vanished;
	struct buf_slice t = r->text;

	memset(v, 0, sizeof *v);
	if (t.len >= 9 && ci_prefix(t, "(EARLIER)")) {
		v->earlier = true;
		t.ptr += 9;
		t.len -= 9;
	}
	while (t.len > 0 && t.ptr[0] == ' ') {
		t.ptr++;
		t.len--;
	}
	v->uids = t;
	v->count = set_count(t);
	ev->u.untagged.vanished = v;
	if (v->earlier)
		return;
	vanished_ids(s, t, ev);
	map_rc(s, imap_msgmap_vanished(&s->msgs->map, t));
	orphans_clear(s);
}

/* --- UID SEARCH ALL ------------------------------------------------------ */

/* Criteria that match every message: then the answer of UID SEARCH is
 * every UID of the mailbox, which in ascending order are its sequence
 * numbers' UIDs.  Any other criteria say nothing of the numbers. */
static bool search_all(struct buf_slice c)
{
	while (c.len > 0 && c.ptr[c.len - 1] == ' ')
		c.len--;
	return buf_slice_ieq(c, "ALL") || buf_slice_ieq(c, "1:*") || buf_slice_ieq(c, "UID 1:*");
}

/* The UIDs of "* SEARCH 3 5 9" (up to a "(MODSEQ n)"), learnt as the map
 * when they ascend and number exactly n (the mailbox's EXISTS).  false
 * when they do not (nothing is changed then). */
static bool search_is_all(struct buf_slice t, uint64_t n, struct imap_msgmap *m, bool learn)
{
	uint64_t count = 0, prev = 0;
	size_t i = 0;

	while (i < t.len && t.ptr[i] != '(') {
		size_t start;
		uint64_t v;

		while (i < t.len && t.ptr[i] == ' ')
			i++;
		if (i == t.len || t.ptr[i] == '(')
			break;
		for (start = i; i < t.len && t.ptr[i] != ' '; i++)
			;
		if (!imap_args_number((struct buf_slice){ t.ptr + start, i - start }, &v) ||
		    v <= prev || v > UINT32_MAX || ++count > n)
			return false;
		if (learn && imap_msgmap_learn(m, count, v) != MSGMAP_OK)
			return false;
		prev = v;
	}
	return count == n;
}

static void on_search(struct imap_session *s, const struct imap_response *r, struct event *ev)
{
	struct buf_slice tag = ev->u.untagged.tag;
	const struct pending *p = NULL;
	uint64_t n = s->facts.exists;

	if (tag.ptr == NULL || n == FACT_NONE || n > IMAP_MSGMAP_MAX_SEQ)
		return;
	for (size_t i = 0; i < s->n_pend && p == NULL; i++)
		if (s->pend[i].tag_len == tag.len && memcmp(s->pend[i].tag, tag.ptr, tag.len) == 0)
			p = &s->pend[i];
	if (p == NULL || p->id != IMAP_CMD_UID_SEARCH || p->facts == NULL ||
	    !search_all(p->facts->items) || !search_is_all(r->text, n, NULL, false))
		return;
	imap_msgmap_reset(&s->msgs->map);
	if (!search_is_all(r->text, n, &s->msgs->map, true)) {
		imap_msgmap_reset(&s->msgs->map);
		msgs_lost(s, "out of memory for the sequence map");
	}
}

void imap_msgs_untagged(struct imap_session *s, const struct imap_line *line,
			const struct imap_response *r, const struct fetch_facts *f,
			struct event *ev)
{
	if (!msgs_on(s) || s->cur_unsync)
		return;
	buf_reset(&s->msgs->scratch);
	switch (r->id) {
	case IMAP_R_FETCH:
		if (f != NULL)
			on_fetch(s, line, f, ev);
		break;
	case IMAP_R_EXPUNGE:
		if (r->has_number)
			on_expunge(s, r, ev);
		break;
	case IMAP_R_VANISHED:
		on_vanished(s, r, ev);
		break;
	case IMAP_R_SEARCH:
		on_search(s, r, ev);
		break;
	case IMAP_R_EXISTS:
		if (r->has_number) {
			imap_msgmap_exists(&s->msgs->map, r->number);
			for (size_t i = s->msgs->n_orphans; i-- > 0;)
				if (s->msgs->orphans[i].seq > r->number)
					orphan_drop(s, i);
		}
		break;
	default:
		break;
	}
}

/* --- the messages a completed command named -------------------------------- */

/* One identity more in m->ids; false when the event is full. */
static bool set_add(struct imap_session *s, struct event *ev, uint32_t mbox, uint64_t uid,
		    enum msg_uid_source src, uint64_t seq)
{
	size_t n = ev->u.response.n_msgs;

	if (n == IMAP_MSG_MAX_PER_EVENT || !ids_room(s, n + 1)) {
		ev->u.response.msgs_cut = true;
		return false;
	}
	identity_known(s, &s->msgs->ids[n], mbox, uid, src, seq);
	ev->u.response.n_msgs = n + 1;
	return true;
}

/* A sequence set: every number of it up to EXISTS ("*" is EXISTS); the
 * map's highest number stands for EXISTS when it is not known. */
static void set_by_seq(struct imap_session *s, struct buf_slice set, struct event *ev)
{
	uint64_t last = s->facts.exists != FACT_NONE ? s->facts.exists : s->msgs->map.len;
	uint32_t mbox = msgs_cur_mbox(s);
	struct imap_seq_iter it;
	struct imap_seq_range r;

	imap_seqset_init(&it, set);
	while (imap_seqset_next(&it, &r) == 1) {
		uint64_t lo = r.lo == IMAP_SEQ_STAR ? last : r.lo;
		uint64_t hi = r.hi == IMAP_SEQ_STAR ? last : r.hi;

		if (lo > hi) {
			uint64_t t = lo;

			lo = hi;
			hi = t;
		}
		for (uint64_t q = lo; q <= hi && q <= last; q++)
			if (!set_add(s, ev, mbox, imap_msgmap_uid(&s->msgs->map, q), MSG_UID_MAPPED, q))
				return;
	}
}

/* A UID set: the UIDs of it the map holds, range by range ("*", the
 * highest UID in use, holds every UID from the range's other end). */
static void set_by_uid(struct imap_session *s, struct buf_slice set, struct event *ev)
{
	const struct imap_msgmap *map = &s->msgs->map;
	uint32_t mbox = msgs_cur_mbox(s);
	struct imap_seq_iter it;
	struct imap_seq_range r;

	imap_seqset_init(&it, set);
	while (imap_seqset_next(&it, &r) == 1) {
		uint64_t lo = r.lo, hi = r.hi, seq, u;

		if (lo == IMAP_SEQ_STAR) {
			lo = hi;
			hi = IMAP_SEQ_STAR;
		} else if (hi != IMAP_SEQ_STAR && lo > hi) {
			u = lo;
			lo = hi;
			hi = u;
		}
		for (u = imap_msgmap_next(map, lo, &seq); u != FACT_NONE && u <= hi;
		     u = imap_msgmap_next(map, u + 1, &seq))
			if (!set_add(s, ev, mbox, u, MSG_UID_SAID, seq))
				return;
	}
}

/* CLOSE: the messages flagged \Deleted, which it removes. */
static void set_deleted(struct imap_session *s, struct event *ev)
{
	uint32_t mbox = msgs_cur_mbox(s);

	for (size_t i = 0; i < s->msgs->n_deleted; i++) {
		uint64_t seq, u = s->msgs->deleted[i];

		if (imap_msgmap_next(&s->msgs->map, u, &seq) != u)
			seq = FACT_NONE;
		if (!set_add(s, ev, mbox, u, MSG_UID_MAPPED, seq))
			return;
	}
}

/* An OK to STORE: \Deleted of the set's messages as the command left it. */
static void store_deleted(struct imap_session *s, const struct command_facts *cf,
			  const struct event *ev)
{
	struct buf_slice op = cf->items;
	bool has = cf->flags.ptr != NULL && flags_have_deleted(cf->flags);
	bool add = op.len > 0 && op.ptr[0] == '+', remove = op.len > 0 && op.ptr[0] == '-';
	bool set = op.len > 0 && !add && !remove;

	if (!has && !set)
		return;
	for (size_t i = 0; i < ev->u.response.n_msgs; i++)
		deleted_mark(s, s->msgs->ids[i].uid, has && !remove);
}

void imap_msgs_tagged(struct imap_session *s, const struct pending *p,
		      const struct imap_response *r, struct event *ev)
{
	const struct command_facts *cf = p->facts;

	if (!msgs_on(s))
		return;
	buf_reset(&s->msgs->scratch);
	switch (p->id) {
	case IMAP_CMD_STORE:
	case IMAP_CMD_COPY:
	case IMAP_CMD_MOVE:
		if (cf != NULL && cf->seqset.ptr != NULL)
			set_by_seq(s, cf->seqset, ev);
		break;
	case IMAP_CMD_UID_STORE:
	case IMAP_CMD_UID_COPY:
	case IMAP_CMD_UID_MOVE:
		if (cf != NULL && cf->seqset.ptr != NULL)
			set_by_uid(s, cf->seqset, ev);
		break;
	case IMAP_CMD_CLOSE:
		if (r->id == IMAP_R_OK)
			set_deleted(s, ev);
		break;
	default:
		return;
	}
	ev->u.response.msgs = ev->u.response.n_msgs > 0 ? s->msgs->ids : NULL;
	if (r->id == IMAP_R_OK && cf != NULL &&
	    (p->id == IMAP_CMD_STORE || p->id == IMAP_CMD_UID_STORE))
		store_deleted(s, cf, ev);
}

/* --- APPEND ------------------------------------------------------------------ */

/* The literal of an APPEND's (REPLACE's) first message: after the mailbox,
 * an optional flag list and an optional date-time; NULL when the line
 * has none there (CATENATE, a cut line). */
static const struct imap_literal *append_literal(const struct imap_line *line,
						 const struct imap_command *cmd)
{
	struct imap_tok_cursor c;
	struct imap_tok t;

	imap_tok_init(&c, line, cmd->args_off);
	if (cmd->id == IMAP_CMD_REPLACE || cmd->id == IMAP_CMD_UID_REPLACE)
		imap_tok_next(&c, &t);
	imap_tok_next(&c, &t);		/* the mailbox */
	while (imap_tok_next(&c, &t) != IMAP_TOK_END) {
		if (t.type == IMAP_TOK_LITERAL)
			return t.lit;
		if (t.type == IMAP_TOK_LPAREN) {
			while (imap_tok_next(&c, &t) == IMAP_TOK_ATOM)
				;
			if (t.type != IMAP_TOK_RPAREN)
				return NULL;
		} else if (t.type != IMAP_TOK_QUOTED) {
			return NULL;
		}
	}
	return NULL;
}

const struct msg_identity *imap_msgs_append(struct imap_session *s,
					    const struct imap_line *line,
					    const struct imap_command *cmd,
					    const struct command_facts *cf)
{
	struct msg_seen seen = { .size = FACT_NONE };
	struct msg_identity *id;
	const struct imap_literal *lit;

	if (!msgs_on(s) || !(imap_vocab_effects(cmd->id) & EFF_APPEND))
		return NULL;
	id = &s->msgs->one;
	buf_reset(&s->msgs->scratch);
	lit = append_literal(line, cmd);
	if (lit != NULL) {
		seen.size = lit->size;
		seen_block(s, &seen, lit->kept);
	}
	memset(id, 0, sizeof *id);
	id->mailbox = cf->mailbox;
	id->uidvalidity = id->uid = id->seq = FACT_NONE;
	identity_from_seen(s, id, &seen);
	return id;
}
