/* The IMAP line grammar for both directions (RFC 9051, RFC 3501 and the
 * common extensions): what a finished logical line (imap_lexer.h) says.
 * Pure functions; results are slices into the line's text. */
#ifndef IMAPSCOPE_IMAP_PARSER_H
#define IMAPSCOPE_IMAP_PARSER_H

#include <stdbool.h>

#include "imap/imap_lexer.h"
#include "imap/imap_vocab.h"

#define IMAP_MAX_NAME 32	/* longest command name kept, "UID EXPUNGE" */

/* A client line. */
struct imap_command {
	struct buf_slice tag;
	/* Upper-cased name, "UID FETCH" as two words; unknown commands keep
	 * their own (upper-cased) name. */
	char name[IMAP_MAX_NAME];
	enum imap_cmd_id id;		/* IMAP_CMD_UNKNOWN: not in the vocabulary */
	struct buf_slice args;		/* the rest of the line text, or empty */
	size_t args_off;		/* offset of args in the line text */
};

/* Returns 0, or -1 if the line is not a command (no tag, no name). */
int imap_parse_command(const struct imap_line *line, struct imap_command *cmd_r) WUR;

enum imap_resp_kind {
	IMAP_RESP_TAGGED,	/* TAG OK|NO|BAD [code] text */
	IMAP_RESP_UNTAGGED,	/* * ... */
	IMAP_RESP_CONTINUATION,	/* + text */
};

/* A server line. */
struct imap_response {
	enum imap_resp_kind kind;
	struct buf_slice tag;		/* tagged only */
	/* Tagged: OK/NO/BAD.  Untagged: OK, NO, BAD, BYE, PREAUTH, CAPABILITY,
	 * FLAGS, LIST, ..., or for "* 3 FETCH" the word after the number
	 * (EXISTS, RECENT, EXPUNGE, FETCH). Upper-cased. */
	char name[IMAP_MAX_NAME];
	enum imap_resp_id id;		/* of name; IMAP_R_UNKNOWN if not in the vocabulary */
	bool is_status;			/* OK/NO/BAD/BYE/PREAUTH */
	bool has_number;
	uint64_t number;		/* "* 3 FETCH": 3 */
	struct buf_slice code;		/* status responses: inside [ ], else empty, ptr NULL */
	struct resp_code rcode;		/* code parsed: IMAP_CODE_NONE when code.ptr is NULL */
	struct buf_slice text;		/* the rest: resp-text, or the data after name */
	size_t text_off;
};

/* Returns 0, or -1 if the line is not a server response. */
int imap_parse_response(const struct imap_line *line, struct imap_response *resp_r) WUR;

/* Whether name (upper case, NUL-terminated) is a command we know: the
 * vocabulary's imap_vocab_command(name) != NULL. */
bool imap_command_known(const char *name);

#endif
