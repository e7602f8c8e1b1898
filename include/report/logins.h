/* --logins: only the login audit, one row per authentication attempt.
 *
 * Text is a table with a header (time, session, client, server, user,
 * mechanism, result, transport, cleartext, code and text); with json, the
 * login events exactly as -F json writes them (they carry session, client
 * and server).  Every other event is ignored.  The brute-force and policy
 * flags of issue 7 are not computed yet. */
#ifndef IMAPSCOPE_REPORT_LOGINS_H
#define IMAPSCOPE_REPORT_LOGINS_H

#include <stdbool.h>
#include <stdio.h>

#include "report/event.h"

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

/* Make the login audit writing to fp (not closed by the output).
 * 0, or -1 if out of memory. */
int output_logins_new(struct output *out_r, FILE *fp, bool json) WUR;

#endif
