/* --activity: what an authenticated session did to the mailboxes, one
 * record per action (read, read_headers, flags, expunge, copy, move,
 * append, select, examine, search, mailbox_create, mailbox_delete,
 * mailbox_rename, subscribe, unsubscribe), then a roll-up per session (at
 * its end) and per user and client address (at the end of the run).
 * docs/contract.md lists the keys of "activity" and "activity_summary".
 *
 * Built from the events' facts only: command facts (and response.cmd),
 * untagged FETCH facts, the message identities the session puts on
 * FETCH, EXPUNGE, VANISHED, APPEND and the completions of STORE, COPY,
 * MOVE and CLOSE (IMAP_FACTS_MESSAGES: the session keeps the sequence map
 * and the header cache, and charges them), response codes (COPYUID,
 * APPENDUID) and the session facts.  A record waits for the tagged
 * completion of its command to learn its result; a session that ends
 * first gives it result null.
 *
 * Memory, all charged to the budget given: per live session the commands
 * in flight (ACTIVITY_MAX_INFLIGHT) and the records waiting for their
 * completion (ACTIVITY_MAX_PENDING_BYTES, past which a record is written
 * at once with result null); per user and address the roll-up
 * (ACTIVITY_MAX_USERS).  What the caps or the budget refuse is counted
 * ("lost" in the roll-ups) and said once on stderr at the end. */
#ifndef IMAPSCOPE_REPORT_ACTIVITY_H
#define IMAPSCOPE_REPORT_ACTIVITY_H

#include <stdbool.h>
#include <stdio.h>

#include "imap/imap_event.h"
#include "util/buf.h"

#define ACTIVITY_MAX_INFLIGHT      64		/* commands followed per session */
#define ACTIVITY_MAX_PENDING_BYTES ((size_t)4 << 20)	/* records waiting, per session */
#define ACTIVITY_MAX_FIELD         1024		/* an identity string kept (bytes) */
#define ACTIVITY_MAX_AUX           8192		/* a command's kept data (search results, a MOVE's numbers) */
#define ACTIVITY_MAX_ROLLUP        32		/* (action, mailbox) rows per roll-up */
#define ACTIVITY_MAX_USERS         4096		/* per-user roll-ups */

/* Make the activity output writing to fp (not closed by the output).
 * budget may be NULL.  0, or -1 if out of memory. */
int output_activity_new(struct output *out_r, FILE *fp, bool json,
			struct mem_budget *budget) WUR;

/* --html beside --activity: every record is also kept as a flat row (ts,
 * session, user, action, command, mailbox, uid, subject, to_mailbox,
 * result) of the page's "activity" section, {"limit", "omitted", "rows"}:
 * the first ACTIVITY_HTML_ROWS records, at most ACTIVITY_HTML_BYTES in
 * all (charged to the activity output's budget); what is past them, or
 * what the budget refuses, is counted in "omitted".  And the per-user
 * roll-ups as "activity_users": a row per user, client host, action and
 * mailbox (user, from, sessions, action, mailbox, count, bytes), the
 * first ACTIVITY_HTML_ROWS ("omitted": the rest and the roll-ups' "lost").
 * html is an output
 * made by output_html_new, finished before activity is freed (a tee does
 * so).  0, or -1 when activity or html is not one. */
#define ACTIVITY_HTML_ROWS  20000
#define ACTIVITY_HTML_BYTES ((size_t)8 << 20)
#define ACTIVITY_HTML_TEXT  200		/* wire text per cell (bytes) */
int output_activity_html(const struct output *activity, const struct output *html) WUR;

#endif
