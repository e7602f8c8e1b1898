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
};

/* Make a text timeline writing to fp (not closed by the output).  opts may
 * be NULL (no colour).  0, or -1 if out of memory. */
int output_text_new(struct output *out_r, FILE *fp,
		    const struct output_text_opts *opts) WUR;

/* Append wire text with its literal markers "{N}" (also "{N+}", "{N-}",
 * "~{N}") shown as "{N bytes}", everything else through escape_text.
 * Shared with the logins table.  0, or -1 if b could not grow. */
int output_text_append_wire(struct buf *b, struct buf_slice s) WUR;

#endif
