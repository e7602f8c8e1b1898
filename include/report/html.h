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
 * optional member per further report ("activity" and "findings" are null
 * until a report adds its data with output_html_add_section; the page
 * draws every member that is not null).
 *
 * Memory: each session's ladder at most HTML_LADDER_BYTES of JSON, all of
 * them together HTML_LADDERS_BYTES; past that a session keeps only its
 * first HTML_LADDER_LATE entries (so that a late session still shows its
 * start and login), until HTML_LADDERS_HARD; the rest is counted.  At most
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
#define HTML_LADDER_EVENTS 200		/* ladder entries kept in full per session */
#define HTML_LADDER_EXTRA 200		/* then only TLS, COMPRESS, logins, gaps,
					   notices and NO/BAD completions */
#define HTML_LADDER_BYTES (192 * 1024)	/* JSON of one session's ladder */
#define HTML_LADDERS_BYTES (12 * 1024 * 1024)	/* of all ladders together; */
#define HTML_LADDER_LATE 24		/* past it, a session's first entries */
#define HTML_LADDERS_HARD (18 * 1024 * 1024)	/* up to this bound */
#define HTML_TEXT_MAX 160		/* wire text shown per entry (bytes) */
#define HTML_CMDS_MAX 64		/* command names with their own latency;
					   more share "(other)" */
#define HTML_LAT_BUCKETS 48		/* log buckets: 10 us * 2^(i/2) */
#define HTML_LAT_POINTS 4000		/* latency-over-time samples */
#define HTML_LOGINS_MAX 20000
#define HTML_LOGINS_BYTES (8 * 1024 * 1024)
#define HTML_MAILBOXES_MAX 16		/* mailboxes named per session (filter) */

/* findings (--check): the EV_FINDING events the output gets (from the
 * checker's tap, report/check.h) are rows of the "findings" section, the
 * first HTML_FINDINGS_MAX within HTML_FINDINGS_BYTES (charged to budget);
 * the rest is counted in its "omitted". */
#define HTML_FINDINGS_MAX 20000
#define HTML_FINDINGS_BYTES ((size_t)8 << 20)
#define HTML_FINDING_LINE 400		/* wire text of a finding's line (bytes) */
struct html_opts {
	struct mem_budget *budget;	/* may be NULL */
	bool findings;
};

/* Make the output.  It owns fp (a file opened for writing) from now on
 * and closes it in finish (or free, if finish never runs).  0, or -1 when
 * memory ran out (fp is closed then). */
int output_html_new(struct output *out_r, FILE *fp, const struct html_opts *o) WUR;

/* A further report's part of the page (--activity, --check, ...): its
 * data under "sections".name, which the page draws as a sortable table
 * when it is an array of flat objects (or an object with such an array in
 * "rows"); a row's number "session" links it to that session.  write
 * appends the JSON value to b (at most HTML_SECTION_BYTES, charged to the
 * run's budget), escaping wire strings with html_json_string; it returns
 * 0, or -1 (the section is then null in the page).  ctx must stay valid
 * until the html output's finish: a part of the same tee is, since the
 * tee frees its parts only after every finish. */
#define HTML_SECTIONS_MAX 8
#define HTML_SECTION_BYTES (16 * 1024 * 1024)
struct html_section {
	const char *name;		/* [a-z_]+, e.g. "activity", "findings" */
	int (*write)(void *ctx, struct buf *b);
	void *ctx;
};

/* Add a section to the html output out (made by output_html_new).  0, or
 * -1 when out is not one or HTML_SECTIONS_MAX are there. */
int output_html_add_section(const struct output *out, const struct html_section *sec) WUR;

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
