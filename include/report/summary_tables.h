/* --summary: the keyed tables.  A command table counts commands, replies
 * and latency per command name (at most SUMMARY_CMDS_MAX names, the rest
 * under SUMMARY_OTHER); a distinct-value set holds clients, servers or
 * users (at most SUMMARY_DISTINCT_MAX, the rest counted as untracked).
 * Zeroed structs are empty tables; set budget (may stay NULL) before the
 * first use to charge a table's memory to it. */
#ifndef IMAPSCOPE_REPORT_SUMMARY_TABLES_H
#define IMAPSCOPE_REPORT_SUMMARY_TABLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report/summary_latency.h"
#include "util/buf.h"
#include "util/hashtab.h"

/* The name that collects commands past SUMMARY_CMDS_MAX distinct names. */
#define SUMMARY_OTHER "(other)"

struct summary_cmd {
	uint8_t name[SUMMARY_NAME_MAX];
	size_t len;
	uint64_t count;			/* commands sent */
	uint64_t ok, no, bad;		/* tagged responses to it */
	struct summary_lat lat;
};

struct summary_cmds {
	struct summary_cmd *v;
	size_t n, cap;
	uint64_t lost;			/* events not counted (no memory) */
	struct mem_budget *budget;	/* charged for v and the latencies */
};

/* One client, server or user; the counters serve the busiest clients. */
struct summary_entry {
	struct hashtab_node hnode;
	uint64_t sessions, commands, bytes;
	size_t len;
	uint8_t key[];
};

struct summary_set {
	struct hashtab tab;		/* the entries by key */
	struct summary_entry **order;	/* insertion order: stable output */
	size_t n, cap;
	uint64_t untracked;		/* new keys refused at the cap or by
					   the budget */
	struct mem_budget *budget;	/* charged for the set; may be NULL */
};

/* Whether two byte strings are equal (either may be empty). */
bool summary_bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* The entry for name, made if new; names past SUMMARY_CMDS_MAX share
 * SUMMARY_OTHER.  NULL only when out of memory or refused by the budget
 * (counted in lost).  Valid until the next
 * summary_cmds_get or summary_cmds_free on t. */
struct summary_cmd *summary_cmds_get(struct summary_cmds *t, struct buf_slice name);
/* Free the table and zero it, all but its budget. */
void summary_cmds_free(struct summary_cmds *t);

/* The entry for key p[0..n), or NULL. */
struct summary_entry *summary_set_find(const struct summary_set *s, const uint8_t *p, size_t n);
/* The entry for key, added if new; NULL at the cap or out of memory
 * (counted in untracked).  Valid until summary_set_free. */
struct summary_entry *summary_set_get(struct summary_set *s, const uint8_t *p, size_t n);
/* Free the set and zero it, all but its budget. */
void summary_set_free(struct summary_set *s);

/* The address of "ip:port" or "[v6]:port" without the port (or brackets):
 * a slice of addr ("?" for NULL or empty). */
struct buf_slice summary_host(const char *addr);

#endif
