/* The IMAP vocabulary: every command and untagged response imapscope
 * knows, with what the protocol says of it, in one place.
 *
 * A command row: its id, its name as sent (upper case, "UID FETCH" as two
 * words), the states that allow it (RFC 9051 section 6), the capability
 * that introduces it (NULL: the base protocol), whether it takes arguments,
 * and what its completion does to the session.  An untagged row: its id,
 * name, and whether a number comes before it ("* 3 EXISTS").
 * IMAP_ANSWERS pairs an untagged response with the commands that produce
 * it, to tie it to one of several commands in flight.
 *
 * Adding an extension:
 *   - one row in IMAP_COMMANDS (and IMAP_UNTAGGED / IMAP_ANSWERS for a new
 *     response, IMAP_CAPS / IMAP_CODES for a new capability or code), in
 *     name order;
 *   - its effects are the EFF_* bits: the session (imap_session.c) acts on
 *     the bits, never on names, so a command that, say, selects a mailbox
 *     or ends authentication needs no code at all (UNAUTHENTICATE, RFC
 *     8437, is such a row: EFF_UNAUTH);
 *   - only where it brings new syntax that matters to the session, one
 *     handler chosen by its id (as LOGIN and AUTHENTICATE have in
 *     imap_auth.c, APPEND's message literals in imap_bodies.c), and a
 *     decoder of its arguments where an output needs them.
 * The parser, the resynchronisation heuristics, the login inference
 * (a command not allowed in the not-authenticated state proves a login)
 * and the owner of untagged responses all read these rows.  The tables
 * are sorted by name so that lookups are a binary search; a unit test
 * (test_imap_vocab.c) checks the order and that every name maps back. */
#ifndef IMAPSCOPE_IMAP_VOCAB_H
#define IMAPSCOPE_IMAP_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* States a command is allowed in (a bit per enum imap_session_state). */
#define ST_NA   (1u << 0)	/* not authenticated */
#define ST_AU   (1u << 1)	/* authenticated */
#define ST_SE   (1u << 2)	/* selected */
#define ST_ANY  (ST_NA | ST_AU | ST_SE)
#define ST_AUTH (ST_AU | ST_SE)

/* Arguments: none (alone on its line), some required, either. */
enum imap_args_need { ARGS_NONE, ARGS_SOME, ARGS_ANY };

/* What an OK to the command does to the session. */
#define EFF_LOGIN      (1u << 0)	/* -> authenticated, a login event */
#define EFF_SELECT     (1u << 1)	/* -> selected (the mailbox argument) */
#define EFF_READONLY   (1u << 2)	/* ... read-only (EXAMINE) */
#define EFF_UNSELECT   (1u << 3)	/* selected -> authenticated */
#define EFF_LOGOUT     (1u << 4)	/* -> logout */
#define EFF_STARTTLS   (1u << 5)	/* TLS begins after the OK */
#define EFF_COMPRESS   (1u << 6)	/* DEFLATE begins after the OK */
#define EFF_IDLE       (1u << 7)	/* the client's DONE ends it */
#define EFF_APPEND     (1u << 8)	/* its literal is a message */
#define EFF_UNAUTH     (1u << 9)	/* -> not authenticated (RFC 8437) */
#define EFF_CAPS_VOID  (1u << 10)	/* capabilities known before are void */

/*  X(id,            name,               states,  capability,          args,      effects) */
#define IMAP_COMMANDS(X) \
	X(APPEND,            "APPEND",            ST_AUTH, NULL,                ARGS_SOME, EFF_APPEND) \
	X(AUTHENTICATE,      "AUTHENTICATE",      ST_NA,   NULL,                ARGS_SOME, EFF_LOGIN | EFF_CAPS_VOID) \
	X(CANCELUPDATE,      "CANCELUPDATE",      ST_AUTH, "CONTEXT=SEARCH",    ARGS_SOME, 0) \
	X(CAPABILITY,        "CAPABILITY",        ST_ANY,  NULL,                ARGS_NONE, 0) \
	X(CHECK,             "CHECK",             ST_SE,   NULL,                ARGS_NONE, 0) \
	X(CLOSE,             "CLOSE",             ST_SE,   NULL,                ARGS_NONE, EFF_UNSELECT) \
	X(COMPARATOR,        "COMPARATOR",        ST_AUTH, "COMPARATOR",        ARGS_ANY,  0) \
	X(COMPRESS,          "COMPRESS",          ST_AUTH, "COMPRESS=DEFLATE",  ARGS_SOME, EFF_COMPRESS) \
	X(CONVERT,           "CONVERT",           ST_SE,   "CONVERT",           ARGS_SOME, 0) \
	X(COPY,              "COPY",              ST_SE,   NULL,                ARGS_SOME, 0) \
	X(CREATE,            "CREATE",            ST_AUTH, NULL,                ARGS_SOME, 0) \
	X(DELETE,            "DELETE",            ST_AUTH, NULL,                ARGS_SOME, 0) \
	X(DELETEACL,         "DELETEACL",         ST_AUTH, "ACL",               ARGS_SOME, 0) \
	X(ENABLE,            "ENABLE",            ST_AUTH, "ENABLE",            ARGS_SOME, 0) \
	X(ESEARCH,           "ESEARCH",           ST_AUTH, "MULTISEARCH",       ARGS_SOME, 0) \
	X(EXAMINE,           "EXAMINE",           ST_AUTH, NULL,                ARGS_SOME, EFF_SELECT | EFF_READONLY) \
	X(EXPUNGE,           "EXPUNGE",           ST_SE,   NULL,                ARGS_NONE, 0) \
	X(FETCH,             "FETCH",             ST_SE,   NULL,                ARGS_SOME, 0) \
	X(GENURLAUTH,        "GENURLAUTH",        ST_AUTH, "URLAUTH",           ARGS_SOME, 0) \
	X(GETACL,            "GETACL",            ST_AUTH, "ACL",               ARGS_SOME, 0) \
	X(GETANNOTATION,     "GETANNOTATION",     ST_AUTH, "ANNOTATEMORE",      ARGS_SOME, 0) \
	X(GETMETADATA,       "GETMETADATA",       ST_AUTH, "METADATA",          ARGS_SOME, 0) \
	X(GETQUOTA,          "GETQUOTA",          ST_AUTH, "QUOTA",             ARGS_SOME, 0) \
	X(GETQUOTAROOT,      "GETQUOTAROOT",      ST_AUTH, "QUOTA",             ARGS_SOME, 0) \
	X(ID,                "ID",                ST_ANY,  "ID",                ARGS_SOME, 0) \
	X(IDLE,              "IDLE",              ST_AUTH, "IDLE",              ARGS_NONE, EFF_IDLE) \
	X(LANGUAGE,          "LANGUAGE",          ST_ANY,  "LANGUAGE",          ARGS_ANY,  0) \
	X(LIST,              "LIST",              ST_AUTH, NULL,                ARGS_SOME, 0) \
	X(LISTRIGHTS,        "LISTRIGHTS",        ST_AUTH, "ACL",               ARGS_SOME, 0) \
	X(LOGIN,             "LOGIN",             ST_NA,   NULL,                ARGS_SOME, EFF_LOGIN | EFF_CAPS_VOID) \
	X(LOGOUT,            "LOGOUT",            ST_ANY,  NULL,                ARGS_NONE, EFF_LOGOUT) \
	X(LSUB,              "LSUB",              ST_AUTH, NULL,                ARGS_SOME, 0) \
	X(MOVE,              "MOVE",              ST_SE,   "MOVE",              ARGS_SOME, 0) \
	X(MYRIGHTS,          "MYRIGHTS",          ST_AUTH, "ACL",               ARGS_SOME, 0) \
	X(NAMESPACE,         "NAMESPACE",         ST_AUTH, "NAMESPACE",         ARGS_NONE, 0) \
	X(NOOP,              "NOOP",              ST_ANY,  NULL,                ARGS_NONE, 0) \
	X(NOTIFY,            "NOTIFY",            ST_AUTH, "NOTIFY",            ARGS_SOME, 0) \
	X(RENAME,            "RENAME",            ST_AUTH, NULL,                ARGS_SOME, 0) \
	X(REPLACE,           "REPLACE",           ST_SE,   "REPLACE",           ARGS_SOME, EFF_APPEND) \
	X(RESETKEY,          "RESETKEY",          ST_AUTH, "URLAUTH",           ARGS_ANY,  0) \
	X(SEARCH,            "SEARCH",            ST_SE,   NULL,                ARGS_SOME, 0) \
	X(SELECT,            "SELECT",            ST_AUTH, NULL,                ARGS_SOME, EFF_SELECT) \
	X(SETACL,            "SETACL",            ST_AUTH, "ACL",               ARGS_SOME, 0) \
	X(SETANNOTATION,     "SETANNOTATION",     ST_AUTH, "ANNOTATEMORE",      ARGS_SOME, 0) \
	X(SETMETADATA,       "SETMETADATA",       ST_AUTH, "METADATA",          ARGS_SOME, 0) \
	X(SETQUOTA,          "SETQUOTA",          ST_AUTH, "QUOTA",             ARGS_SOME, 0) \
	X(SORT,              "SORT",              ST_SE,   "SORT",              ARGS_SOME, 0) \
	X(STARTTLS,          "STARTTLS",          ST_NA,   "STARTTLS",          ARGS_NONE, EFF_STARTTLS | EFF_CAPS_VOID) \
	X(STATUS,            "STATUS",            ST_AUTH, NULL,                ARGS_SOME, 0) \
	X(STORE,             "STORE",             ST_SE,   NULL,                ARGS_SOME, 0) \
	X(SUBSCRIBE,         "SUBSCRIBE",         ST_AUTH, NULL,                ARGS_SOME, 0) \
	X(THREAD,            "THREAD",            ST_SE,   "THREAD",            ARGS_SOME, 0) \
	X(UID,               "UID",               ST_SE,   NULL,                ARGS_SOME, 0) \
	X(UID_COPY,          "UID COPY",          ST_SE,   NULL,                ARGS_SOME, 0) \
	X(UID_EXPUNGE,       "UID EXPUNGE",       ST_SE,   "UIDPLUS",           ARGS_SOME, 0) \
	X(UID_FETCH,         "UID FETCH",         ST_SE,   NULL,                ARGS_SOME, 0) \
	X(UID_MOVE,          "UID MOVE",          ST_SE,   "MOVE",              ARGS_SOME, 0) \
	X(UID_REPLACE,       "UID REPLACE",       ST_SE,   "REPLACE",           ARGS_SOME, EFF_APPEND) \
	X(UID_SEARCH,        "UID SEARCH",        ST_SE,   NULL,                ARGS_SOME, 0) \
	X(UID_SORT,          "UID SORT",          ST_SE,   "SORT",              ARGS_SOME, 0) \
	X(UID_STORE,         "UID STORE",         ST_SE,   NULL,                ARGS_SOME, 0) \
	X(UID_THREAD,        "UID THREAD",        ST_SE,   "THREAD",            ARGS_SOME, 0) \
	X(UNAUTHENTICATE,    "UNAUTHENTICATE",    ST_AUTH, "UNAUTHENTICATE",    ARGS_NONE, EFF_UNAUTH | EFF_CAPS_VOID) \
	X(UNSELECT,          "UNSELECT",          ST_SE,   "UNSELECT",          ARGS_NONE, EFF_UNSELECT) \
	X(UNSUBSCRIBE,       "UNSUBSCRIBE",       ST_AUTH, NULL,                ARGS_SOME, 0) \
	X(URLFETCH,          "URLFETCH",          ST_AUTH, "URLAUTH",           ARGS_SOME, 0) \
	X(XAPPLEPUSHSERVICE, "XAPPLEPUSHSERVICE", ST_AUTH, NULL,                ARGS_SOME, 0) \
	X(XLIST,             "XLIST",             ST_AUTH, "XLIST",             ARGS_SOME, 0)

enum imap_cmd_id {
	IMAP_CMD_UNKNOWN = 0,	/* not in the table: shown with its own name */
#define X(id, name, states, cap, args, eff) IMAP_CMD_##id,
	IMAP_COMMANDS(X)
#undef X
	IMAP_CMD_N
};

/*  X(id,         name,          numbered) */
#define IMAP_UNTAGGED(X) \
	X(ACL,        "ACL",        false) \
	X(ANNOTATION, "ANNOTATION", false) \
	X(BAD,        "BAD",        false) \
	X(BYE,        "BYE",        false) \
	X(CAPABILITY, "CAPABILITY", false) \
	X(COMPARATOR, "COMPARATOR", false) \
	X(CONVERTED,  "CONVERTED",  false) \
	X(ENABLED,    "ENABLED",    false) \
	X(ESEARCH,    "ESEARCH",    false) \
	X(EXISTS,     "EXISTS",     true) \
	X(EXPUNGE,    "EXPUNGE",    true) \
	X(FETCH,      "FETCH",      true) \
	X(FLAGS,      "FLAGS",      false) \
	X(GENURLAUTH, "GENURLAUTH", false) \
	X(ID,         "ID",         false) \
	X(LANGUAGE,   "LANGUAGE",   false) \
	X(LIST,       "LIST",       false) \
	X(LISTRIGHTS, "LISTRIGHTS", false) \
	X(LSUB,       "LSUB",       false) \
	X(METADATA,   "METADATA",   false) \
	X(MYRIGHTS,   "MYRIGHTS",   false) \
	X(NAMESPACE,  "NAMESPACE",  false) \
	X(NO,         "NO",         false) \
	X(OK,         "OK",         false) \
	X(PREAUTH,    "PREAUTH",    false) \
	X(QUOTA,      "QUOTA",      false) \
	X(QUOTAROOT,  "QUOTAROOT",  false) \
	X(RECENT,     "RECENT",     true) \
	X(SEARCH,     "SEARCH",     false) \
	X(SORT,       "SORT",       false) \
	X(STATUS,     "STATUS",     false) \
	X(THREAD,     "THREAD",     false) \
	X(URLFETCH,   "URLFETCH",   false) \
	X(VANISHED,   "VANISHED",   false) \
	X(XLIST,      "XLIST",      false)

enum imap_resp_id {
	IMAP_R_UNKNOWN = 0,
#define X(id, name, numbered) IMAP_R_##id,
	IMAP_UNTAGGED(X)
#undef X
	IMAP_R_N
};

/* Which commands produce an untagged response, to tie it to its command
 * when several are in flight.  A response not here (OK, BYE, ...) belongs
 * to whichever command is alone in flight.
 *  X(response,  command) */
#define IMAP_ANSWERS(X) \
	X(CAPABILITY, CAPABILITY) \
	X(LIST,       LIST) \
	X(XLIST,      XLIST) \
	X(LSUB,       LSUB) \
	X(STATUS,     STATUS) \
	X(SEARCH,     SEARCH) \
	X(SEARCH,     UID_SEARCH) \
	X(ESEARCH,    SEARCH) \
	X(ESEARCH,    UID_SEARCH) \
	X(ESEARCH,    ESEARCH) \
	X(ESEARCH,    SORT) \
	X(ESEARCH,    UID_SORT) \
	X(SORT,       SORT) \
	X(SORT,       UID_SORT) \
	X(THREAD,     THREAD) \
	X(THREAD,     UID_THREAD) \
	X(FLAGS,      SELECT) \
	X(FLAGS,      EXAMINE) \
	X(EXISTS,     SELECT) \
	X(EXISTS,     EXAMINE) \
	X(RECENT,     SELECT) \
	X(RECENT,     EXAMINE) \
	X(FETCH,      FETCH) \
	X(FETCH,      UID_FETCH) \
	X(FETCH,      STORE) \
	X(FETCH,      UID_STORE) \
	X(EXPUNGE,    EXPUNGE) \
	X(EXPUNGE,    UID_EXPUNGE) \
	X(EXPUNGE,    MOVE) \
	X(EXPUNGE,    UID_MOVE) \
	X(VANISHED,   UID_EXPUNGE) \
	X(VANISHED,   UID_MOVE) \
	X(VANISHED,   UID_FETCH) \
	X(VANISHED,   SELECT) \
	X(VANISHED,   EXAMINE) \
	X(NAMESPACE,  NAMESPACE) \
	X(ID,         ID) \
	X(ENABLED,    ENABLE) \
	X(QUOTA,      GETQUOTA) \
	X(QUOTA,      GETQUOTAROOT) \
	X(QUOTAROOT,  GETQUOTAROOT) \
	X(METADATA,   GETMETADATA) \
	X(ACL,        GETACL) \
	X(LISTRIGHTS, LISTRIGHTS) \
	X(MYRIGHTS,   MYRIGHTS)

/* Capabilities the session, its outputs or the checker act on; a server's
 * other capabilities stay in the list text.  AUTH=x is kept apart, as a
 * set of mechanism names.  Sorted by name, case-insensitively. */
#define IMAP_CAPS(X) \
	X(ACL,              "ACL") \
	X(APPENDLIMIT,      "APPENDLIMIT") \
	X(BINARY,           "BINARY") \
	X(CHILDREN,         "CHILDREN") \
	X(COMPRESS_DEFLATE, "COMPRESS=DEFLATE") \
	X(CONDSTORE,        "CONDSTORE") \
	X(ENABLE,           "ENABLE") \
	X(ESEARCH,          "ESEARCH") \
	X(ID,               "ID") \
	X(IDLE,             "IDLE") \
	X(IMAP4REV1,        "IMAP4rev1") \
	X(IMAP4REV2,        "IMAP4rev2") \
	X(LIST_EXTENDED,    "LIST-EXTENDED") \
	X(LIST_STATUS,      "LIST-STATUS") \
	X(LITERAL_PLUS,     "LITERAL+") \
	X(LITERAL_MINUS,    "LITERAL-") \
	X(LOGINDISABLED,    "LOGINDISABLED") \
	X(METADATA,         "METADATA") \
	X(MOVE,             "MOVE") \
	X(MULTIAPPEND,      "MULTIAPPEND") \
	X(NAMESPACE,        "NAMESPACE") \
	X(NOTIFY,           "NOTIFY") \
	X(OBJECTID,         "OBJECTID") \
	X(QRESYNC,          "QRESYNC") \
	X(QUOTA,            "QUOTA") \
	X(REPLACE,          "REPLACE") \
	X(SASL_IR,          "SASL-IR") \
	X(SORT,             "SORT") \
	X(SPECIAL_USE,      "SPECIAL-USE") \
	X(STARTTLS,         "STARTTLS") \
	X(STATUS_SIZE,      "STATUS=SIZE") \
	X(THREAD,           "THREAD") \
	X(UIDPLUS,          "UIDPLUS") \
	X(UNAUTHENTICATE,   "UNAUTHENTICATE") \
	X(UNSELECT,         "UNSELECT") \
	X(UTF8_ACCEPT,      "UTF8=ACCEPT") \
	X(XLIST,            "XLIST")

enum imap_cap_id {
#define X(id, name) IMAP_CAP_##id,
	IMAP_CAPS(X)
#undef X
	IMAP_CAP_N		/* at most 64: they are bits of a uint64_t */
};

/* Response codes (RFC 9051 section 7.1 and the extensions'). */
#define IMAP_CODES(X) \
	X(ALERT,          "ALERT") \
	X(APPENDUID,      "APPENDUID") \
	X(AUTHENTICATIONFAILED, "AUTHENTICATIONFAILED") \
	X(AUTHORIZATIONFAILED,  "AUTHORIZATIONFAILED") \
	X(BADCHARSET,     "BADCHARSET") \
	X(CANNOT,         "CANNOT") \
	X(CAPABILITY,     "CAPABILITY") \
	X(CLOSED,         "CLOSED") \
	X(CONTACTADMIN,   "CONTACTADMIN") \
	X(COPYUID,        "COPYUID") \
	X(EXPIRED,        "EXPIRED") \
	X(HIGHESTMODSEQ,  "HIGHESTMODSEQ") \
	X(INUSE,          "INUSE") \
	X(LIMIT,          "LIMIT") \
	X(MODIFIED,       "MODIFIED") \
	X(NOMODSEQ,       "NOMODSEQ") \
	X(NONEXISTENT,    "NONEXISTENT") \
	X(NOPERM,         "NOPERM") \
	X(OVERQUOTA,      "OVERQUOTA") \
	X(PARSE,          "PARSE") \
	X(PERMANENTFLAGS, "PERMANENTFLAGS") \
	X(PRIVACYREQUIRED, "PRIVACYREQUIRED") \
	X(READ_ONLY,      "READ-ONLY") \
	X(READ_WRITE,     "READ-WRITE") \
	X(SERVERBUG,      "SERVERBUG") \
	X(TRYCREATE,      "TRYCREATE") \
	X(UIDNEXT,        "UIDNEXT") \
	X(UIDNOTSTICKY,   "UIDNOTSTICKY") \
	X(UIDVALIDITY,    "UIDVALIDITY") \
	X(UNAVAILABLE,    "UNAVAILABLE") \
	X(UNSEEN,         "UNSEEN")

enum imap_code_id {
	IMAP_CODE_NONE = 0,	/* no code */
	IMAP_CODE_OTHER,	/* a code not in the table */
#define X(id, name) IMAP_CODE_##id,
	IMAP_CODES(X)
#undef X
	IMAP_CODE_N
};

struct imap_cmd_def {
	enum imap_cmd_id id;
	const char *name;
	unsigned states;		/* ST_* */
	const char *capability;		/* NULL: base protocol */
	enum imap_args_need args;
	unsigned effects;		/* EFF_* */
};

struct imap_resp_def {
	enum imap_resp_id id;
	const char *name;
	bool numbered;
};

/* A response code: "[COPYUID 38 1:3 100:102]" is IMAP_CODE_COPYUID and
 * "38 1:3 100:102".  Slices into the response line. */
struct resp_code {
	enum imap_code_id id;		/* IMAP_CODE_NONE when there is none */
	struct buf_slice args;		/* after the name, or null */
};

/* Lookups by upper-case, NUL-terminated name; NULL when unknown. */
const struct imap_cmd_def *imap_vocab_command(const char *name);
const struct imap_resp_def *imap_vocab_untagged(const char *name);
/* By id; IMAP_CMD_UNKNOWN / IMAP_R_UNKNOWN (or an id out of range) give a
 * row named "" that allows no state and has no effect.  Never NULL. */
const struct imap_cmd_def *imap_vocab_command_def(enum imap_cmd_id id);
const struct imap_resp_def *imap_vocab_untagged_def(enum imap_resp_id id);
/* A capability or response code by name (case-insensitive, n bytes);
 * IMAP_CAP_N / IMAP_CODE_OTHER when not in the table. */
enum imap_cap_id imap_vocab_cap(const uint8_t *p, size_t n);
enum imap_code_id imap_vocab_code(const uint8_t *p, size_t n);
/* Names as in the tables; "" for IMAP_CAP_N, IMAP_CODE_NONE and
 * IMAP_CODE_OTHER (whose text is the wire's). */
const char *imap_vocab_cap_name(enum imap_cap_id id);
const char *imap_vocab_code_name(enum imap_code_id id);

/* Does command cmd produce untagged response resp (IMAP_ANSWERS)? */
bool imap_vocab_answers(enum imap_resp_id resp, enum imap_cmd_id cmd);

/* Shorthands on a command's row. */
static inline unsigned imap_vocab_effects(enum imap_cmd_id id)
{
	return imap_vocab_command_def(id)->effects;
}

/* A known command not allowed before authentication: an OK to it proves
 * the session was authenticated. */
static inline bool imap_vocab_needs_auth(enum imap_cmd_id id)
{
	return id != IMAP_CMD_UNKNOWN && (imap_vocab_command_def(id)->states & ST_NA) == 0;
}

#endif
