/* -F text: the human timeline, one line per event.
 *
 *   --- 2026-11-21 ---
 *   10:00:00.123456 #1 C a001 LOGIN alice ***
 *   10:00:00.125012 #1 S a001 OK [CAPABILITY ...] Logged in   (1.6 ms)
 *
 * Times are UTC; a date line comes first and again whenever the day
 * changes.  Every byte from the wire goes through escape_text, so nothing
 * the network sent can drive the terminal; colour codes are written only
 * when opts->color is set. */
#ifndef IMAPSCOPE_REPORT_OUTPUT_TEXT_H
#define IMAPSCOPE_REPORT_OUTPUT_TEXT_H

#include <stdbool.h>
#include <stdio.h>

#include "imap/imap_event.h"
#include "util/buf.h"

struct output_text_opts {
	bool color;	/* ANSI colours (main decides: --color, isatty) */
	/* --frames: "[f12]" or "[f12-f15]" after the session number, the
	 * event's capture records; "[FILE:f12]" when it names its file */
	bool frames;
	/* --width: 0 keeps lines whole; N fits each event line in N display
	 * columns: a capability list keeps its first items and says how many
	 * it left out ("IMAP4rev1 SASL-IR … +39"), then arguments and
	 * response texts are cut with "…", then the line's end; the LOGIN
	 * line leaves out the capability code the OK above it showed.  At
	 * least OUTPUT_TEXT_MIN_WIDTH (smaller values are raised). */
	unsigned width;
};

#define OUTPUT_TEXT_MIN_WIDTH 40	/* the time, session and a few words */

/* Display columns of a rendered line: ANSI colour sequences take none,
 * a UTF-8 character one (two for East Asian wide ones), a byte that is
 * not UTF-8 one. */
size_t output_text_columns(const uint8_t *p, size_t n);
/* How many bytes of p[0..n) fit in max display columns, whole characters
 * only; *cols_r: their columns. */
size_t output_text_fit(const uint8_t *p, size_t n, size_t max, size_t *cols_r);

/* Make a text timeline writing to fp (not closed by the output).  opts may
 * be NULL (no colour).  0, or -1 if out of memory. */
int output_text_new(struct output *out_r, FILE *fp,
		    const struct output_text_opts *opts) WUR;

/* Append wire text with its literal markers "{N}" (also "{N+}", "{N-}",
 * "~{N}") shown as "{N bytes}", everything else through escape_text.
 * Shared with the logins table.  0, or -1 if b could not grow. */
int output_text_append_wire(struct buf *b, struct buf_slice s) WUR;

#endif
