/* The sequence-number -> UID map (see imap/imap_msgmap.h). */
#include "imap/imap_msgmap.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap_args.h"
#include "imap/imap_event.h"

#define MSGMAP_INITIAL 64	/* slots of the first array */
/* Neighbours checked against a new pair: the order of UIDs is only broken
 * by a server bug or a map gone wrong, and a long walk per FETCH is not
 * worth catching that far. */
#define MSGMAP_CHECK_STEPS 64
/* Ranges of one VANISHED set sorted at most (a 64 KB line holds fewer). */
#define MSGMAP_MAX_RANGES (IMAP_MAX_LINE / 2)

void imap_msgmap_init(struct imap_msgmap *m, struct mem_budget *budget)
{
	memset(m, 0, sizeof *m);
	m->budget = budget;
}

void imap_msgmap_reset(struct imap_msgmap *m)
{
	m->len = 0;
}

void imap_msgmap_free(struct imap_msgmap *m)
{
	if (m->uid != NULL)
		mem_release(m->budget, m->cap * sizeof *m->uid);
	free(m->uid);
	imap_msgmap_init(m, m->budget);
}

/* The last slot in use holds a known UID. */
static void msgmap_trim(struct imap_msgmap *m)
{
	while (m->len > 0 && m->uid[m->len - 1] == 0)
		m->len--;
}

static enum imap_msgmap_rc msgmap_room(struct imap_msgmap *m, size_t n)
{
	uint32_t *a;

	if (n > IMAP_MSGMAP_MAX_SEQ)
		return MSGMAP_CAPPED;
	while (m->cap < n) {
		a = mem_grow_array(m->budget, m->uid, &m->cap, sizeof *a, MSGMAP_INITIAL,
				   IMAP_MSGMAP_MAX_SEQ);
		if (a == NULL)
			return MSGMAP_NO_MEMORY;
		m->uid = a;
	}
	return MSGMAP_OK;
}

/* Neighbours of slot i that break the ascending order become unknown. */
static void msgmap_check_order(struct imap_msgmap *m, size_t i)
{
	uint32_t u = m->uid[i];
	size_t steps = 0;

	for (size_t j = i; j-- > 0 && steps < MSGMAP_CHECK_STEPS; steps++) {
		if (m->uid[j] == 0)
			continue;
		if (m->uid[j] < u)
			break;
		m->uid[j] = 0;
	}
	steps = 0;
	for (size_t j = i + 1; j < m->len && steps < MSGMAP_CHECK_STEPS; j++, steps++) {
		if (m->uid[j] == 0)
			continue;
		if (m->uid[j] > u)
			break;
		m->uid[j] = 0;
	}
	msgmap_trim(m);
}

enum imap_msgmap_rc imap_msgmap_learn(struct imap_msgmap *m, uint64_t seq, uint64_t uid)
{
	enum imap_msgmap_rc rc;

	if (seq == 0 || uid == 0 || uid > UINT32_MAX)
		return MSGMAP_OK;	/* not a pair IMAP can send */
	if (seq > m->len) {
		if ((rc = msgmap_room(m, seq)) != MSGMAP_OK)
			return rc;
		memset(m->uid + m->len, 0, (seq - m->len) * sizeof *m->uid);
		m->len = seq;
	}
	m->uid[seq - 1] = (uint32_t)uid;
	msgmap_check_order(m, seq - 1);
	return MSGMAP_OK;
}

uint64_t imap_msgmap_uid(const struct imap_msgmap *m, uint64_t seq)
{
	if (seq == 0 || seq > m->len || m->uid[seq - 1] == 0)
		return FACT_NONE;
	return m->uid[seq - 1];
}

uint64_t imap_msgmap_next(const struct imap_msgmap *m, uint64_t uid, uint64_t *seq_r)
{
	/* invariant: known slots below lo hold less than uid, those from hi
	 * on at least uid */
	size_t lo = 0, hi = m->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, k = mid;

		while (k < hi && m->uid[k] == 0)
			k++;
		if (k == hi)
			hi = mid;
		else if (m->uid[k] < uid)
			lo = k + 1;
		else
			hi = mid;
	}
	while (lo < m->len && m->uid[lo] == 0)
		lo++;
	if (lo == m->len) {
		*seq_r = FACT_NONE;
		return FACT_NONE;
	}
	*seq_r = lo + 1;
	return m->uid[lo];
}

uint64_t imap_msgmap_known_prefix(const struct imap_msgmap *m)
{
	size_t i = 0;

	while (i < m->len && m->uid[i] != 0)
		i++;
	return i;
}

uint64_t imap_msgmap_expunge(struct imap_msgmap *m, uint64_t seq)
{
	uint64_t uid = imap_msgmap_uid(m, seq);

	if (seq == 0 || seq > m->len)
		return uid;
	memmove(m->uid + seq - 1, m->uid + seq, (m->len - seq) * sizeof *m->uid);
	m->len--;
	msgmap_trim(m);
	return uid;
}

void imap_msgmap_exists(struct imap_msgmap *m, uint64_t n)
{
	if (n < m->len) {
		m->len = (size_t)n;
		msgmap_trim(m);
	}
}

/* --- VANISHED ------------------------------------------------------------ */

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorted ranges that overlap or touch made one, so that both ends
 * ascend (the binary search needs it); the new count. */
static size_t ranges_merge(struct imap_seq_range *a, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (o > 0 && a[i].lo <= a[o - 1].hi + 1) {
			if (a[i].hi > a[o - 1].hi)
				a[o - 1].hi = a[i].hi;
			continue;
		}
		a[o++] = a[i];
	}
	return o;
}

/* The set's ranges sorted by their first UID, in a new array (*n_r of
 * them, charged as *size_r); NULL with *n_r 0 for an empty set.  -1 when
 * the set is malformed, holds "*", or memory refused. */
static int vanished_ranges(struct imap_msgmap *m, struct buf_slice uids,
			   struct imap_seq_range **out, size_t *n_r, size_t *size_r)
{
	struct imap_seq_iter it;
	struct imap_seq_range r, *a = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*n_r = *size_r = 0;
	imap_seqset_init(&it, uids);
	while ((rc = imap_seqset_next(&it, &r)) == 1) {
		struct imap_seq_range *g;

		if (r.hi == IMAP_SEQ_STAR)
			break;
		if (n == cap) {
			g = mem_grow_array(m->budget, a, &cap, sizeof *a, 16, MSGMAP_MAX_RANGES);
			if (g == NULL)
				break;
			a = g;
		}
		a[n++] = r;
	}
	if (rc != 0) {
		if (a != NULL)
			mem_release(m->budget, cap * sizeof *a);
		free(a);
		return -1;
	}
	if (n > 1)
		qsort(a, n, sizeof *a, range_cmp);
	n = ranges_merge(a, n);
	*out = a;
	*n_r = n;
	*size_r = cap * sizeof *a;
	return 0;
}

/* Does a range of r (sorted) hold a UID above lo and below hi? */
static bool ranges_between(const struct imap_seq_range *r, size_t n, uint64_t lo, uint64_t hi)
{
	size_t a = 0, b = n;

	/* the first range that ends above lo */
	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (r[mid].hi <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	for (; a < n && r[a].lo < hi; a++)
		if (r[a].hi > lo && r[a].lo < hi && (r[a].lo > lo ? r[a].lo : lo + 1) < hi)
			return true;
	return false;
}

static bool ranges_hold(const struct imap_seq_range *r, size_t n, uint64_t uid)
{
	return ranges_between(r, n, uid - 1, uid + 1);
}

/* Where a gone UID the map does not hold may have sat: the first unknown
 * slot of a run whose known neighbours' UIDs enclose one of the ranges;
 * m->len when there is none. */
static size_t vanished_unknown_place(const struct imap_msgmap *m,
				     const struct imap_seq_range *r, size_t n)
{
	uint64_t below = 0;	/* UID of the last known slot */
	size_t run = SIZE_MAX;	/* first slot of the current unknown run */

	for (size_t i = 0; i < m->len; i++) {
		if (m->uid[i] == 0) {
			if (run == SIZE_MAX)
				run = i;
			continue;
		}
		if (run != SIZE_MAX && ranges_between(r, n, below, m->uid[i]))
			return run;
		run = SIZE_MAX;
		below = m->uid[i];
	}
	return m->len;
}

enum imap_msgmap_rc imap_msgmap_vanished(struct imap_msgmap *m, struct buf_slice uids)
{
	struct imap_seq_range *r;
	size_t n, size, keep, o = 0;

	if (vanished_ranges(m, uids, &r, &n, &size) != 0) {
		m->len = 0;
		return MSGMAP_NO_MEMORY;
	}
	keep = vanished_unknown_place(m, r, n);
	for (size_t i = 0; i < keep; i++)
		if (m->uid[i] == 0 || !ranges_hold(r, n, m->uid[i]))
			m->uid[o++] = m->uid[i];
	m->len = o;
	msgmap_trim(m);
	if (r != NULL)
		mem_release(m->budget, size);
	free(r);
	return MSGMAP_OK;
}

enum imap_msgmap_rc imap_msgmap_all(struct imap_msgmap *m, const uint32_t *uids, size_t n)
{
	enum imap_msgmap_rc rc;

	for (size_t i = 0; i < n; i++)
		if (uids[i] == 0 || (i > 0 && uids[i] <= uids[i - 1]))
			return MSGMAP_OK;
	if ((rc = msgmap_room(m, n)) != MSGMAP_OK)
		return rc;
	if (n > 0)
		memcpy(m->uid, uids, n * sizeof *uids);
	m->len = n;
	return MSGMAP_OK;
}
