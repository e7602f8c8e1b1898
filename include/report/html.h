/* --html FILE: one self-contained HTML page of the run (issue 19).
 *
 * A pure event consumer, like --summary: it keeps what the page shows from
 * the events' facts and writes the page at finish.  The page is a fixed
 * template (src/report/html/report.{html,css,js}, embedded at build time
 * by scripts/gen_html_template.py with the SHA-256 hashes its
 * Content-Security-Policy names) around one JSON document in a
 * <script type="application/json"> element.  Every string from the wire
 * is escaped as for JSON (util/escape.h) and then "<", ">", "&", U+2028
 * and U+2029 as \uXXXX, so no wire text can close that element or be read
 * as markup; the page's script renders with textContent only.
 *
 * The data model (docs/contract.md, "--html"): "capture", "limits",
 * "sessions" (one object each, with "ladder": the session's events, the
 * first HTML_LADDER_EVENTS in full and past that only the rare kinds, up
 * to HTML_LADDER_EXTRA more; the rest counted in "omitted"), "commands"
 * (latency per command name: a log histogram of every completion),
 * "latency" (at most HTML_LAT_POINTS completions sampled over the run by
 * a reservoir), "logins" (at most HTML_LOGINS_MAX) and "sections": one
 * optional member per further report (null until that report adds its
 * data; the page renders any member it knows and ignores the others).
 *
 * Memory: each session's ladder at most HTML_LADDER_BYTES of JSON, all of
 * them together HTML_LADDERS_BYTES (later entries are counted only), at most
 * HTML_SESSIONS_MAX sessions (the rest counted in the totals only), logins
 * at most HTML_LOGINS_BYTES; all charged to the run's budget, and what the
 * budget refuses is counted as omitted like the rest. */
#ifndef IMAPSCOPE_REPORT_HTML_H
#define IMAPSCOPE_REPORT_HTML_H

#include <stdbool.h>
#include <stdio.h>

#include "imap/imap_event.h"
#include "util/buf.h"

#define HTML_SESSIONS_MAX 20000		/* sessions with a row and a ladder */
#define HTML_LADDER_EVENTS 300		/* ladder entries kept in full per session */
#define HTML_LADDER_EXTRA 200		/* then only TLS, COMPRESS, logins, gaps,
					   notices and NO/BAD completions */
#define HTML_LADDER_BYTES (192 * 1024)	/* JSON of one session's ladder */
#define HTML_LADDERS_BYTES (32 * 1024 * 1024)	/* of all ladders together */
#define HTML_TEXT_MAX 160		/* wire text shown per entry (bytes) */
#define HTML_CMDS_MAX 64		/* command names with their own latency;
					   more share "(other)" */
#define HTML_LAT_BUCKETS 48		/* log buckets: 10 us * 2^(i/2) */
#define HTML_LAT_POINTS 4000		/* latency-over-time samples */
#define HTML_LOGINS_MAX 20000
#define HTML_LOGINS_BYTES (8 * 1024 * 1024)
#define HTML_MAILBOXES_MAX 16		/* mailboxes named per session (filter) */

struct html_opts {
	struct mem_budget *budget;	/* may be NULL */
};

/* Make the output.  It owns fp (a file opened for writing) from now on
 * and closes it in finish (or free, if finish never runs).  0, or -1 when
 * memory ran out (fp is closed then). */
int output_html_new(struct output *out_r, FILE *fp, const struct html_opts *o) WUR;

/* Append p[0..n) as the inside of a JSON string that is safe inside an
 * HTML <script> element: escape_json's form, then '<', '>', '&', U+2028
 * and U+2029 as \u escapes.  0, or -1 if b could not grow (b then holds a
 * prefix).  made: the text is imapscope's own with wire bytes already
 * escaped (escape_json_made). */
int html_json_string(struct buf *b, const uint8_t *p, size_t n, bool made) WUR;

/* The template, from build/gen (scripts/gen_html_template.py): the page
 * before the JSON and after it. */
extern const char html_template_head[];
extern const char html_template_tail[];

#endif
