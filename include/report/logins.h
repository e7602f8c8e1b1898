/* --logins: only the login audit, one row per authentication attempt.
 *
 * Text is a table with a header (time, session, client, server, user,
 * mechanism, result, transport, cleartext, flags, code and text); with
 * json, the login events as -F json writes them (they carry session,
 * client and server) plus the audit keys:
 *
 *   "flags": ["brute_force", "cleartext_despite_starttls",
 *             "login_despite_logindisabled"]   (those that apply, in this
 *                                               order; [] when none)
 *   "brute_force": bool, "brute_force_by": ["client"] / ["user"] / both / []
 *   "cleartext_despite_starttls": bool, "login_despite_logindisabled": bool
 *
 * The list is for reading and jq's index(); the booleans for select().
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

/* Columns are padded to these widths, each the longest usual value plus
 * two spaces (longer values push the rest of the row on). */
#define LOGINS_W_TIME 28
#define LOGINS_W_SESSION 6
#define LOGINS_W_ADDR 23
#define LOGINS_W_USER 18
#define LOGINS_W_MECH 15
#define LOGINS_W_RESULT 9
#define LOGINS_W_TRANSPORT 14
#define LOGINS_W_CLEAR 11
#define LOGINS_W_FLAGS 13

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
};

/* Make the login audit writing to fp (not closed by the output), with the
 * default brute-force threshold and window.  0, or -1 if out of memory. */
int output_logins_new(struct output *out_r, FILE *fp, bool json) WUR;

/* The same with a threshold and window (opts may be NULL: defaults). */
int output_logins_new2(struct output *out_r, FILE *fp, bool json,
		       const struct logins_opts *opts) WUR;

#endif
