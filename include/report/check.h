/* --check: protocol violations, each named by a stable rule id with the
 * RFC section it breaks, found from the session's facts (imap/imap_event.h:
 * state, capabilities in force, command ids and their rows in the
 * vocabulary, and the wire facts of IMAP_FACTS_WIRE), never from rendered
 * text.
 *
 * The checker is a stage in front of an output: every event goes on to the
 * inner output, and a finding (an EV_FINDING event) follows the event it is
 * about, so a timeline shows it inline.  At the end it writes the counts
 * per session and for the capture (text only).  One catalogue, the X-macro
 * below, feeds the checker, --help-checks and docs/checks.md (a test
 * compares them). */
#ifndef IMAPSCOPE_REPORT_CHECK_H
#define IMAPSCOPE_REPORT_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "imap/imap_event.h"
#include "util/buf.h"

/* Who broke the rule; CHECK_EITHER: the line's sender, either side. */
enum check_side { CHECK_CLIENT, CHECK_SERVER, CHECK_EITHER };
/* error: a MUST or MUST NOT broken; warning: a SHOULD, or a hazard. */
enum check_severity { CHECK_ERROR, CHECK_WARNING };

/* X(ID, "id", side, severity, "RFC and section", "explanation", "example")
 * Ids are a contract (the JSON "rule"): never renamed, new ones at the
 * end.  Examples are wire text, C: client, S: server. */
#define CHECK_RULES(X) \
	X(LITERAL_BEFORE_CONTINUATION, "literal-before-continuation", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 9051 §4.3, §7.6", \
	  "the client sent a synchronising literal's data before the server's \"+\"", \
	  "C: a1 LOGIN {5}\\r\\nalice {6}\\r\\nsecret (no \"+\" in between)") \
	X(LITERAL_PLUS_NOT_ADVERTISED, "literal-plus-not-advertised", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 7888 §4", \
	  "a non-synchronising literal {n+} (or {n-}) without LITERAL+, LITERAL- or IMAP4rev2 in force", \
	  "C: a1 LOGIN {5+}\\r\\nalice ... (capabilities: IMAP4rev1 only)") \
	X(LITERAL_MINUS_TOO_LARGE, "literal-minus-too-large", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 7888 §5", \
	  "a non-synchronising literal over 4096 octets where only LITERAL- (or IMAP4rev2) is in force", \
	  "C: a1 APPEND INBOX {5000+} (capabilities: LITERAL-)") \
	X(COMMAND_WRONG_STATE, "command-wrong-state", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 9051 §3, §6", \
	  "a command the session's state does not allow", \
	  "C: a1 FETCH 1 FLAGS (no mailbox selected)") \
	X(CAPABILITY_NOT_ADVERTISED, "capability-not-advertised", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 9051 §6.1.1", \
	  "a command or argument of an extension the capabilities in force do not name", \
	  "C: a1 IDLE (capabilities without IDLE)") \
	X(LOGIN_DISABLED, "login-disabled", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 9051 §6.2.3", \
	  "LOGIN while the server advertises LOGINDISABLED", \
	  "S: * CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED / C: a1 LOGIN alice secret") \
	X(AUTH_MECHANISM_NOT_ADVERTISED, "auth-mechanism-not-advertised", CHECK_CLIENT, CHECK_WARNING, \
	  "RFC 9051 §6.2.2", \
	  "AUTHENTICATE with a mechanism the capabilities in force do not list as AUTH=", \
	  "C: a1 AUTHENTICATE CRAM-MD5 (capabilities: AUTH=PLAIN)") \
	X(TAG_REUSED, "tag-reused", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 9051 §2.2.1", \
	  "a tag used again while a command with that tag is still in flight", \
	  "C: a1 NOOP / C: a1 NOOP (before the first a1 completed)") \
	X(TAG_INVALID, "tag-invalid", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 9051 §9 (tag)", \
	  "a tag with a character the grammar forbids (\"+\", \"*\", \"%\", \"(\", \"{\", quote, backslash, controls)", \
	  "C: a+1 NOOP") \
	X(IDLE_NOT_DONE, "idle-not-done", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 2177 §3", \
	  "a client line other than DONE while IDLE is in progress", \
	  "C: a1 IDLE / S: + idling / C: a2 NOOP") \
	X(BARE_NEWLINE, "bare-newline", CHECK_EITHER, CHECK_ERROR, \
	  "RFC 9051 §2.2", \
	  "a line ended by a bare LF, or a bare CR inside a line", \
	  "S: * OK ready\\n") \
	X(NUL_IN_LINE, "nul-in-line", CHECK_EITHER, CHECK_ERROR, \
	  "RFC 9051 §4.3.1, §9 (CHAR)", \
	  "a NUL octet in a line outside literals", \
	  "C: a1 LOGIN alice se\\x00cret") \
	X(LINE_TOO_LONG, "line-too-long", CHECK_CLIENT, CHECK_WARNING, \
	  "RFC 7162 §4", \
	  "a command line over 8192 octets without its literals", \
	  "C: a1 UID FETCH 1,3,5,7,... (9000 octets)") \
	X(TAGGED_UNKNOWN_TAG, "tagged-unknown-tag", CHECK_SERVER, CHECK_ERROR, \
	  "RFC 9051 §2.2.2", \
	  "a tagged completion for a tag the client never sent, or that was already completed", \
	  "C: a1 NOOP / S: a1 OK / S: a1 OK") \
	X(CONTINUATION_UNEXPECTED, "continuation-unexpected", CHECK_SERVER, CHECK_ERROR, \
	  "RFC 9051 §7.6", \
	  "a \"+\" while no command waits for one (no literal, AUTHENTICATE or IDLE)", \
	  "C: a1 NOOP / S: + go ahead") \
	X(FETCH_WITHOUT_UID, "fetch-without-uid", CHECK_SERVER, CHECK_ERROR, \
	  "RFC 9051 §6.4.9", \
	  "an untagged FETCH answering UID FETCH or UID STORE without the UID item", \
	  "C: a1 UID FETCH 7 FLAGS / S: * 3 FETCH (FLAGS (\\Seen))") \
	X(EXPUNGE_DURING_COMMAND, "expunge-during-command", CHECK_SERVER, CHECK_ERROR, \
	  "RFC 9051 §7.5.1", \
	  "an untagged EXPUNGE while responding to FETCH, STORE or SEARCH (not their UID forms)", \
	  "C: a1 FETCH 1:* FLAGS / S: * 2 EXPUNGE") \
	X(UNTAGGED_MALFORMED, "untagged-malformed", CHECK_SERVER, CHECK_ERROR, \
	  "RFC 9051 §7", \
	  "a server line the response grammar rejects", \
	  "S: * (garbage") \
	X(LITERAL_SIZE_MISMATCH, "literal-size-mismatch", CHECK_EITHER, CHECK_ERROR, \
	  "RFC 9051 §4.3", \
	  "what follows a literal's data is no SP, \")\" or line end: its announced size is wrong, or a separator is missing", \
	  "S: * 1 FETCH (BODY[] {3}\\r\\nhello)") \
	X(PLAINTEXT_AFTER_STARTTLS, "plaintext-after-starttls", CHECK_EITHER, CHECK_ERROR, \
	  "RFC 9051 §6.2.1", \
	  "plain IMAP where the TLS handshake must follow the OK to STARTTLS", \
	  "C: a1 STARTTLS / S: a1 OK / C: a2 LOGIN ... (no handshake)") \
	X(INJECTED_BEFORE_TLS, "injected-before-tls", CHECK_EITHER, CHECK_ERROR, \
	  "RFC 9051 §6.2.1, RFC 2595 §3.1", \
	  "bytes pipelined behind STARTTLS or its OK, before the handshake (CVE-2011-0411)", \
	  "C: a1 STARTTLS\\r\\na2 LOGIN alice secret\\r\\n (in one segment)") \
	X(COMPRESS_TWICE, "compress-twice", CHECK_CLIENT, CHECK_ERROR, \
	  "RFC 4978 §3", \
	  "COMPRESS while compression is already active", \
	  "C: a1 COMPRESS DEFLATE / S: a1 OK / C: a2 COMPRESS DEFLATE") \
	X(COMPRESS_BEFORE_AUTH, "compress-before-auth", CHECK_CLIENT, CHECK_WARNING, \
	  "RFC 4978 §3", \
	  "COMPRESS before authentication", \
	  "C: a1 COMPRESS DEFLATE (not logged in)")

enum check_rule {
#define CHECK_ENUM_(id, name, side, sev, rfc, expl, ex) CHECK_##id,
	CHECK_RULES(CHECK_ENUM_)
#undef CHECK_ENUM_
	CHECK_N_RULES
};

struct check_rule_def {
	const char *id;
	enum check_side side;
	enum check_severity severity;
	const char *rfc;
	const char *explanation;
	const char *example;
};

/* The catalogue's row of r; NULL when r is out of range. */
const struct check_rule_def *check_rule(enum check_rule r);
const char *check_side_name(enum check_side s);		/* "client", "server", "either" */
const char *check_severity_name(enum check_severity s);	/* "error", "warning" */

/* --help-checks: the catalogue, a rule a paragraph.  0, or -1 on a write
 * error. */
int check_print_catalogue(FILE *fp);

/* The checker: a stage in front of inner, which it owns from now on (the
 * stage's free frees it).  findings_only: inner gets the findings alone
 * (--check beside a report), else every event and the findings after the
 * events they concern.  fp, if not NULL, gets the counts at the end in
 * text, after inner's finish (color: with SGR codes).  budget pays for the
 * per-session counts (may be NULL).  Returns 0, or -1 when out of memory
 * (inner is then freed). */
struct check_opts {
	bool findings_only;
	/* when its ops are set, each finding goes to it too, after inner
	 * (--html's part beside the timeline); not owned */
	struct output tap;
	FILE *counts_fp;
	bool color;
	struct mem_budget *budget;
};
int check_new(struct output *out_r, struct output inner, const struct check_opts *opts);

#endif
