/* --summary: the writers.  Each appends one session's block or the
 * capture's to b and returns 0, or nonzero if b ran out of memory. */
#ifndef IMAPSCOPE_REPORT_SUMMARY_RENDER_H
#define IMAPSCOPE_REPORT_SUMMARY_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "report/render.h"	/* LIT, number formatters */
#include "report/summary_state.h"

/* summary_json.c: "session_summary" and "capture_summary" lines.  reason
 * NULL: the session never ended ("open"); sum NULL: byte counts unknown. */
int summary_json_session(struct summary *sm, struct buf *b, struct summary_session *s,
			 const char *reason, const struct session_summary *sum,
			 int64_t duration_us) WUR;
int summary_json_capture(struct summary *sm, struct buf *b) WUR;

/* summary_text.c: the same as text blocks. */
int summary_text_session(struct summary *sm, struct buf *b, struct summary_session *s,
			 const char *reason, const struct session_summary *sum,
			 int64_t duration_us) WUR;
int summary_text_capture(struct summary *sm, struct buf *b) WUR;

/* summary_render.c */
/* num/den with four decimals ("0.1250"); JSON null (text "-") if den is 0. */
int summary_append_ratio(struct buf *b, uint64_t num, uint64_t den, bool json) WUR;
/* Microseconds as the int64 output_append_milli takes. */
int64_t summary_i64(uint64_t us);

#endif
