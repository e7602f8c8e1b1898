/* --logins: only the login audit, one row per authentication attempt.
 *
 * Text is a table with a header (time, session, client, server, user,
 * mechanism, result, transport, flags as letters, the response's text),
 * a date line "--- 2026-11-21 (UTC) ---" before each day's first row,
 * a legend of the flag letters used, then the roll-up per user and per
 * client (logins_rollup.h); with json, the login events as -F json writes
 * them (they carry session, client and server) plus the audit keys:
 *
 *   "flags": ["brute_force", "cleartext_despite_starttls",
 *             "login_despite_logindisabled"]   (those that apply, in this
 *                                               order; [] when none)
 *   "brute_force": bool, "brute_force_by": ["client"] / ["user"] / both / []
 *   "cleartext_despite_starttls": bool, "login_despite_logindisabled": bool
 *
 * The list is for reading and jq's index(); the booleans for select().
 * At the end, one "login_summary" line per user, then per client:
 * {"by": "user"|"client", "key", "attempts", "failures", "first_seen",
 * "last_seen", "success_after_failures"} (session 0, ts the last seen).
 *
 * brute_force: the attempt comes from a client address (any port) or
 * names a user that has had at least fail_threshold failed logins within
 * window_us ending at this attempt (this attempt counted if it failed;
 * the window is inclusive).  Rows are written as logins complete, so the
 * flag appears from the threshold-th failure on, never on the earlier
 * ones; a success right after a run of failures is flagged too (the
 * interesting case: the guess that worked).
 *
 * cleartext_despite_starttls: the secret crossed in the clear although the
 * server had advertised STARTTLS earlier in the session (greeting code,
 * untagged CAPABILITY or a [CAPABILITY] response code).
 *
 * login_despite_logindisabled: a LOGIN command (not AUTHENTICATE) sent
 * while the capabilities in force had LOGINDISABLED.  A TLS start discards
 * the capabilities, as RFC 9051 tells clients to.
 *
 * Memory: failure times are kept per client address and per user, at most
 * LOGINS_TRACK_MAX of each (entries idle longer than the window are swept
 * when full; past that, new keys go untracked and unflagged), each with
 * fail_threshold timestamps.  Per live session two flags, freed at
 * session_end. */
#ifndef IMAPSCOPE_REPORT_LOGINS_H
#define IMAPSCOPE_REPORT_LOGINS_H

#include <stdbool.h>
#include <stdio.h>

#include "imap/imap_event.h"
#include "util/buf.h"

/* Text columns, in display columns, one space between them: the row
 * fits 120 columns.  A longer value (a user, an IPv6 address, a SASL
 * mechanism) is cut with "…" (JSON has it whole); the response is the
 * server's text, cut to what is left. */
#define LOGINS_W_TIME 8			/* "10:00:00", under a date line */
#define LOGINS_W_DATETIME 19		/* the roll-up's "2026-11-21 10:00:00" */
#define LOGINS_W_SESSION 5
#define LOGINS_W_ADDR 15		/* an IPv4 address, without the port */
#define LOGINS_W_USER 16
#define LOGINS_W_MECH 9
#define LOGINS_W_RESULT 7
#define LOGINS_W_TRANSPORT 9		/* plain, starttls, tls */
#define LOGINS_W_FLAGS 5		/* one letter a flag */
#define LOGINS_W_ROW 120		/* the response takes the rest */
#define LOGINS_W_KEY 24			/* the roll-up's user and client */

#define LOGINS_FAIL_THRESHOLD_DEFAULT 5
#define LOGINS_WINDOW_US_DEFAULT (300 * 1000000LL)
#define LOGINS_FAIL_THRESHOLD_MAX 1000	/* larger values are clamped */
#define LOGINS_TRACK_MAX 16384		/* clients and users tracked, each */

struct logins_opts {
	unsigned fail_threshold;	/* failures that make brute force; 0: default */
	int64_t window_us;		/* within this long; <= 0: default */
	struct mem_budget *budget;	/* charged for per-session state and the
					   failure histories; may be NULL.  A
					   refused charge still prints the row,
					   without that history or those flags */
	bool color;			/* text: FAIL and flags coloured */
};

/* Make the login audit writing to fp (not closed by the output), with the
 * default brute-force threshold and window.  0, or -1 if out of memory. */
int output_logins_new(struct output *out_r, FILE *fp, bool json) WUR;

/* The same with a threshold and window (opts may be NULL: defaults). */
int output_logins_new2(struct output *out_r, FILE *fp, bool json,
		       const struct logins_opts *opts) WUR;

#endif
