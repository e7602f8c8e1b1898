/* --summary: per-session and whole-capture statistics (issue 7).
 *
 * A pure event consumer: it builds its numbers from the timeline events
 * alone, so they agree with -F json by construction.  Each session's block
 * (text) or "session_summary" object (json) is written at its session_end,
 * and that session's state is freed there; finish writes sessions that never
 * ended (reason "open") and then the "capture_summary".
 *
 * Per session: duration, user, transport, TLS and compression, mailboxes
 * selected (SELECT/EXAMINE answered OK), commands by name, responses by
 * status, bytes each way, messages fetched (a FETCH with a body section,
 * each message once however many parts crossed: the untagged FETCH facts'
 * sequence numbers) and bodies appended, gaps and
 * notices, and per command name: count, p50, p95, max latency.
 *
 * Per capture: sessions, distinct clients, servers and users, the busiest
 * clients, error rates (NO and BAD share of tagged responses, overall and
 * per command), latency per command, and TLS decryption coverage grouped by
 * the reason decryption did not happen.
 *
 * Latency percentiles are nearest-rank (the smallest sample with at least
 * p% of the samples at or below it).  They are exact while a command name
 * has at most SUMMARY_LAT_EXACT samples; past that the samples go into a
 * log-linear histogram of SUMMARY_LAT_BUCKETS buckets (16 per power of two)
 * and a percentile is its bucket's midpoint, clamped to the exact minimum
 * and maximum: relative error at most 1/32 (3.2%).  Counts and max are
 * always exact.  JSON says which with "exact": true/false.
 *
 * Memory: per session at most SUMMARY_CMDS_MAX command names (more share
 * one "(other)" entry), each holding at most one histogram (4.7 KB) or
 * SUMMARY_LAT_EXACT samples; SUMMARY_MAILBOXES_MAX names of at most
 * SUMMARY_MAILBOX_MAX bytes.  Per capture: at most SUMMARY_DISTINCT_MAX
 * clients, servers and users each (past that they are counted as
 * "untracked" and the distinct counts become lower bounds). */
#ifndef IMAPSCOPE_REPORT_SUMMARY_H
#define IMAPSCOPE_REPORT_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>

#include "imap/imap_event.h"
#include "util/buf.h"

#define SUMMARY_LAT_EXACT 64		/* exact samples per command name */
#define SUMMARY_LAT_SUB_BITS 4		/* 16 buckets per power of two */
#define SUMMARY_LAT_SUB (1u << SUMMARY_LAT_SUB_BITS)
#define SUMMARY_LAT_TOP_EXP 40		/* >= 2^40 us (12.7 days): top bucket */
#define SUMMARY_LAT_BUCKETS \
	(SUMMARY_LAT_SUB + (SUMMARY_LAT_TOP_EXP - SUMMARY_LAT_SUB_BITS) * SUMMARY_LAT_SUB)

#define SUMMARY_CMDS_MAX 64		/* distinct command names tracked */
#define SUMMARY_NAME_MAX 32		/* bytes of a command name kept */
#define SUMMARY_MAILBOXES_MAX 32	/* distinct mailboxes listed per session */
#define SUMMARY_MAILBOX_MAX 256		/* bytes of a mailbox name kept */
#define SUMMARY_USER_MAX 256		/* bytes of a user name kept */
#define SUMMARY_ADDR_MAX 64		/* "[v6]:port" fits in 48 */
#define SUMMARY_TEXT_MAX 96		/* TLS version, cipher, reason */
#define SUMMARY_REASONS_MAX 32		/* distinct "not decrypted" reasons */
#define SUMMARY_DISTINCT_MAX 65536	/* clients, servers, users each */
#define SUMMARY_BUSIEST 10		/* clients listed as the busiest */
#define SUMMARY_FETCHED_KEYS 65536	/* messages told apart per session */

/* Make the summary output writing to fp (not closed by the output).
 * json selects JSON Lines ("session_summary" objects and a final
 * "capture_summary") over text.  Per-session state and the tables are
 * charged to budget (may be NULL); a refused charge leaves that session
 * untracked (counted in "sessions_untracked"), or that mailbox unlisted,
 * that value untracked, those latencies inexact.  0, or -1 if out of
 * memory. */
int output_summary_new(struct output *out_r, FILE *fp, bool json,
		       struct mem_budget *budget) WUR;

#endif
