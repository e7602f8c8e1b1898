/* --logins: the roll-up at the end of the audit, one row per user and
 * one per client address: attempts, failures, first and last seen, and
 * whether a login succeeded after at least --fail-threshold failures
 * within --fail-window (the brute-force history of logins.h decides it).
 *
 * A table keeps at most LOGINS_ROLLUP_MAX keys, in the order first seen,
 * each charged to the budget with its key; a key past that (or refused by
 * the budget) gets no row: its logins are counted in untracked. */
#ifndef IMAPSCOPE_REPORT_LOGINS_ROLLUP_H
#define IMAPSCOPE_REPORT_LOGINS_ROLLUP_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_event.h"
#include "util/buf.h"
#include "util/hashtab.h"
#include "util/list.h"

#define LOGINS_ROLLUP_MAX 4096		/* users, and clients, listed */

struct logins_rollup_row {
	struct hashtab_node hnode;
	struct list_node order;		/* first seen first */
	uint64_t attempts, failures;
	int64_t first_us, last_us;
	bool success_after_failures;
	size_t len;
	uint8_t key[];
};

struct logins_rollup {
	struct hashtab tab;		/* its budget is charged for the rows */
	struct list_head order;
	uint64_t untracked;		/* logins of keys not listed */
};

/* An empty table charging budget (may be NULL). */
void logins_rollup_init(struct logins_rollup *t, struct mem_budget *budget);
/* One login of key at ts_us: counted in the key's row (made if new);
 * success_after_failures sticks once set. */
void logins_rollup_add(struct logins_rollup *t, struct buf_slice key, int64_t ts_us,
		       enum login_result result, bool success_after_failures);
/* The rows in the order their keys were first seen: first, then next
 * until NULL.  Valid until the table is freed. */
const struct logins_rollup_row *logins_rollup_first(const struct logins_rollup *t);
const struct logins_rollup_row *logins_rollup_next(const struct logins_rollup_row *r);
/* Free every row and release its charge; the table is empty after. */
void logins_rollup_free(struct logins_rollup *t);

#endif
