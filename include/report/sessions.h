/* --sessions: one line per session, an index of the capture.
 *
 * A pure event consumer: each row is made from the session's own facts and
 * events (its flow and Community ID, the tls and login events, the facts
 * after its last event, and the counters its session_end carries: commands,
 * NO and BAD, bytes after decryption, gaps, notices), so it agrees with
 * -F json and --summary by construction.  Rows are kept until the end of
 * the run and written sorted by one column (ties by session id), since an
 * index is read whole; each costs about 1.5 KB of --max-memory, and a row
 * the budget refuses is counted and said at the end.
 *
 * Text: a table of fixed columns that fits 120 columns for IPv4 endpoints
 * (longer values cut with "…", whole in JSON), TLS not decrypted marked
 * "*" and compression "z" with a legend under the table.  JSON
 * (docs/contract.md, type "session"): one object per row. */
#ifndef IMAPSCOPE_REPORT_SESSIONS_H
#define IMAPSCOPE_REPORT_SESSIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "imap/imap_event.h"
#include "util/buf.h"

#define SESSIONS_USER_MAX 256		/* bytes of a user name kept */
#define SESSIONS_ADDR_MAX 64		/* "[v6]:port" fits in 48 */
#define SESSIONS_TLS_MAX 16		/* "TLS 1.3" */

/* The columns --sort takes, by their JSON key ("bytes": both ways).
 * Numbers sort largest first, the rest in ascending order. */
#define SESSIONS_COLS(X) \
	X(SESSIONS_COL_ID, "id") \
	X(SESSIONS_COL_COMMUNITY_ID, "community_id") \
	X(SESSIONS_COL_START, "start") \
	X(SESSIONS_COL_DURATION, "duration") \
	X(SESSIONS_COL_CLIENT, "client") \
	X(SESSIONS_COL_SERVER, "server") \
	X(SESSIONS_COL_USER, "user") \
	X(SESSIONS_COL_TRANSPORT, "transport") \
	X(SESSIONS_COL_COMMANDS, "commands") \
	X(SESSIONS_COL_NO, "no") \
	X(SESSIONS_COL_BAD, "bad") \
	X(SESSIONS_COL_BYTES_C2S, "bytes_c2s") \
	X(SESSIONS_COL_BYTES_S2C, "bytes_s2c") \
	X(SESSIONS_COL_BYTES, "bytes") \
	X(SESSIONS_COL_GAPS, "gaps") \
	X(SESSIONS_COL_NOTICES, "notices")

enum sessions_col {
#define X(id, name) id,
	SESSIONS_COLS(X)
#undef X
	SESSIONS_N_COLS
};

/* The column named name, or -1 when there is none. */
int sessions_col_parse(const char *name);
/* "id, community_id, start, ...": the names, for a usage message. */
const char *sessions_col_names(void);

/* Make the output writing to fp (not closed by it); rows sorted by sort,
 * charged to budget (may be NULL).  0, or -1 if out of memory. */
int output_sessions_new(struct output *out_r, FILE *fp, bool json, enum sessions_col sort,
			struct mem_budget *budget) WUR;

#endif
