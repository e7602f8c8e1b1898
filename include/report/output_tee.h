/* Several outputs as one, so that reports combine (--logins with
 * --activity, --summary, ...): every event goes to each part in the order
 * given, and each part writes its own lines to its own file (or the same
 * one, in its own batches).  The tee asks the session for the union of the
 * parts' facts. */
#ifndef IMAPSCOPE_REPORT_OUTPUT_TEE_H
#define IMAPSCOPE_REPORT_OUTPUT_TEE_H

#include <stddef.h>

#include "imap/imap_event.h"

#define OUTPUT_TEE_MAX 8	/* parts at most */

/* *out_r becomes parts[0..n) as one output, which owns them from now on
 * (its free frees them).  With n == 1 it is parts[0] itself.  Returns 0,
 * or -1 when n is 0 or over OUTPUT_TEE_MAX or memory ran out: then every
 * part has been freed. */
int output_tee_new(struct output *out_r, const struct output *parts, size_t n);

#endif
