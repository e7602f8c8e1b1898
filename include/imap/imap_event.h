/* The event model: what the session knows, told to every output.
 *
 * The session (imap/imap_session.h) owns it: outputs read facts here and
 * never re-derive them from rendered text.  An event is a plain struct
 * whose slices and pointers point into memory owned by the session that
 * made it; it is valid only during the output's event() call.  Field names
 * follow the JSON keys of the contract (docs/contract.md); facts that no
 * output prints yet are there for the outputs that will. */
#ifndef IMAPSCOPE_IMAP_EVENT_H
#define IMAPSCOPE_IMAP_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_vocab.h"
#include "util/buf.h"
#include "util/byte_layer.h"
#include "util/notice.h"

#define EVENT_TYPES(X) \
	X(EV_SESSION_START, "session_start") \
	X(EV_GREETING,      "greeting") \
	X(EV_COMMAND,       "command") \
	X(EV_CONTINUATION,  "continuation") \
	X(EV_UNTAGGED,      "untagged") \
	X(EV_RESPONSE,      "response") \
	X(EV_LOGIN,         "login") \
	X(EV_TLS,           "tls") \
	X(EV_COMPRESS,      "compress") \
	X(EV_GAP,           "gap") \
	X(EV_NOTICE,        "notice") \
	X(EV_SESSION_END,   "session_end")

enum event_type {
#define X(name, text) name,
	EVENT_TYPES(X)
#undef X
	EV_N_TYPES
};

const char *event_type_name(enum event_type t);
const char *event_dir_name(enum stream_dir d);		/* "c2s" / "s2c" */
const char *event_end_reason_name(enum end_reason r);	/* "fin", ... */

/* LOGIN_ABORTED: the client cancelled its SASL exchange ("*"); not a
 * failed guess, so not counted as one. */
enum login_result { LOGIN_UNKNOWN = 0, LOGIN_OK, LOGIN_FAIL, LOGIN_ABORTED };
const char *event_login_result_name(enum login_result r);	/* "ok", ... */

/* What a continuation is: the server's "+" (CONT_CONTINUE), a step of an
 * AUTHENTICATE exchange either way (CONT_SASL), the client's DONE ending
 * IDLE (CONT_IDLE_DONE). */
enum cont_kind { CONT_CONTINUE = 0, CONT_SASL, CONT_IDLE_DONE };
const char *event_cont_kind_name(enum cont_kind k);	/* "continue", "sasl", "idle_done" */

enum transport { TRANSPORT_PLAIN = 0, TRANSPORT_STARTTLS, TRANSPORT_IMPLICIT_TLS };
const char *event_transport_name(enum transport t);	/* "plain", "starttls", "implicit_tls" */

/* A slice whose ptr is NULL stands for JSON null. */
#define SLICE_NULL ((struct buf_slice){ NULL, 0 })

/* The protocol state (RFC 9051 section 3). */
enum imap_session_state {
	IMAP_STATE_NOT_AUTH = 0,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

/* "unknown" numbers in the facts below. */
#define FACT_NONE UINT64_MAX

/* The capabilities in force: the last list the server sent (greeting
 * code, CAPABILITY response, a code of a tagged OK), void after STARTTLS
 * and after a login (known false until the next list). */
struct imap_capset {
	bool known;
	uint64_t caps;			/* bit (1 << enum imap_cap_id) */
	uint32_t auth;			/* AUTH=x: bit (1 << enum imap_sasl_mech) */
	struct buf_slice text;		/* the list as sent (cut), null if !known */
};

static inline bool capset_has(const struct imap_capset *c, enum imap_cap_id id)
{
	return c->known && (c->caps >> id & 1) != 0;
}

/* What the session knows at the moment of an event; every event points
 * at it (ev->facts).  Strings decoded: quotes and literals resolved,
 * modified UTF-7 mailbox names as UTF-8. */
struct session_facts {
	enum imap_session_state state;
	bool logout_sent;		/* the client sent LOGOUT */
	struct buf_slice user;		/* logged-in identity, or null */
	struct buf_slice mailbox;	/* selected mailbox, or null */
	bool read_only;			/* EXAMINE, or [READ-ONLY] */
	uint64_t uidvalidity, uidnext;	/* FACT_NONE: unknown */
	uint64_t exists;		/* FACT_NONE: unknown */
	struct imap_capset caps;
	enum transport transport;
	bool compressed;
};

/* What changed with an event (struct event.changed). */
#define FACT_STATE    (1u << 0)
#define FACT_MAILBOX  (1u << 1)
#define FACT_CAPS     (1u << 2)
#define FACT_USER     (1u << 3)
#define FACT_EXISTS   (1u << 4)
#define FACT_UIDVALIDITY (1u << 5)

/* struct resp_code (a response code's id and arguments) is in
 * imap/imap_vocab.h, where the parser finds it. */

/* A client command's decoded arguments, where they matter to an output
 * (null where the command has no such argument or it was not captured).
 * Sequence sets, flag lists and FETCH items are the wire text (a literal
 * as its contents); imap/imap_args.h walks them. */
struct command_facts {
	enum imap_cmd_id id;
	struct buf_slice mailbox;	/* SELECT, EXAMINE, CREATE, DELETE, RENAME's
					   old name, (UN)SUBSCRIBE, STATUS, APPEND,
					   COPY/MOVE's target, LIST's reference */
	struct buf_slice mailbox2;	/* RENAME's new name, LIST's pattern */
	struct buf_slice seqset;	/* FETCH, STORE, COPY, MOVE, UID EXPUNGE */
	struct buf_slice items;		/* FETCH items, STORE's item, STATUS items,
					   SEARCH criteria */
	struct buf_slice flags;		/* STORE, APPEND: inside the parentheses */
	struct buf_slice date;		/* APPEND's internal date */
	struct buf_slice mechanism;	/* AUTHENTICATE */
};

/* What an untagged FETCH says of one message. */
struct fetch_facts {
	uint64_t seq;
	uint64_t uid;			/* FACT_NONE when not in the response */
	uint64_t size;			/* RFC822.SIZE, or FACT_NONE */
	uint64_t modseq;		/* or FACT_NONE */
	struct buf_slice flags;		/* FLAGS (...) contents, or null */
	/* ENVELOPE fields as sent (quoted strings unquoted; RFC 2047
	 * encoded words left as they are), or null */
	struct buf_slice date, subject, from, message_id;
	/* The body sections the response carried: "BODY[]", "BODY[HEADER]",
	 * "RFC822", "BINARY[1]<0>", with their literal sizes. */
	size_t n_sections;
	const struct buf_slice *sections;
	const uint64_t *section_sizes;
};

/* Counters a session keeps; the session_end event and --summary use them. */
struct session_summary {
	uint64_t commands;
	uint64_t responses_ok, responses_no, responses_bad;
	uint64_t untagged;
	uint64_t bytes_c2s, bytes_s2c;		/* after decryption/inflation where done */
	uint64_t wire_bytes_c2s, wire_bytes_s2c; /* TCP payload bytes */
	uint64_t gaps, gap_bytes;
	uint64_t retransmitted_bytes;		/* TCP payload seen again, dropped */
	uint64_t notices;
	uint64_t literals_fetched, literals_appended;
	int64_t duration_us;
	/* Things dropped or left unparsed because a cap was reached: lines
	 * cut at IMAP_MAX_LINE, lists past IMAP_MAX_DEPTH, commands forgotten
	 * at IMAP_MAX_PENDING_TAGS, state refused by --max-memory, gaps made
	 * by the out-of-order caps (--max-ooo-bytes, REASM_MAX_RUNS). */
	uint64_t capped;
};

struct event {
	enum event_type type;
	int64_t ts_us;
	/* A line event (greeting, command, continuation, untagged, response)
	 * made from a line whose end a gap cut off: what was captured. */
	bool truncated;
	/* A line event for a server line seen before sync (picked up
	 * mid-stream) that nothing confirmed: most likely real, but it may
	 * be body text.  Shown at the session's end, so its ts is earlier
	 * than that of events printed just before it. */
	bool unsynchronised;
	uint64_t session;
	const char *client;	/* "ip:port", IPv6 as "[addr]:port" */
	const char *server;
	/* The session's facts after this event; never NULL. */
	const struct session_facts *facts;
	unsigned changed;	/* FACT_*: what this event changed */
	union {
		struct {
			bool mid_stream;
			bool implicit_tls;
		} start;
		struct {
			struct buf_slice status;	/* OK, PREAUTH, BYE */
			struct buf_slice code;		/* [..] contents or null */
			struct buf_slice text;
			enum imap_resp_id id;		/* IMAP_R_OK, _PREAUTH, _BYE */
			struct resp_code rcode;
		} greeting;
		struct {
			struct buf_slice tag;
			struct buf_slice name;		/* upper case, "UID FETCH" */
			struct buf_slice args;		/* literals as {N}, secrets redacted */
			uint64_t literal_bytes;		/* total size of its literals */
			const struct command_facts *facts;	/* never NULL */
		} command;
		struct {
			enum stream_dir dir;
			enum cont_kind kind;
			struct buf_slice text;		/* SASL data redacted unless asked */
			/* A client SASL answer decoded, only with --show-secrets
			 * (null otherwise, or what the answer did not carry). */
			struct buf_slice user, authzid, secret;
		} continuation;
		struct {
			struct buf_slice name;		/* CAPABILITY, EXISTS, FETCH, OK, ... */
			struct buf_slice text;		/* the rest after "* ", literals as {N} */
			struct buf_slice tag;		/* the command it belongs to, or null */
			uint64_t literal_bytes;
			enum imap_resp_id id;
			bool has_number;
			uint64_t number;		/* "* 3 EXISTS": 3 */
			struct resp_code rcode;		/* status responses (OK, NO, BAD, BYE) */
			const struct fetch_facts *fetch;	/* FETCH, else NULL */
		} untagged;
		struct {
			struct buf_slice tag;
			struct buf_slice status;	/* OK, NO, BAD */
			struct buf_slice code;		/* or null */
			struct buf_slice text;
			struct buf_slice command;	/* matched command name, or null */
			enum imap_resp_id id;		/* IMAP_R_OK, _NO, _BAD */
			struct resp_code rcode;
			/* The command it completes; NULL when not captured. */
			const struct command_facts *cmd;
			double latency_ms;		/* < 0: unknown (null) */
			/* How long the command waited for each "+" it got: a
			 * synchronising literal's, a SASL challenge, IDLE's. */
			const int64_t *cont_wait_us;
			size_t n_cont_waits;
		} response;
		struct {
			/* ts is when the command was sent (inferred: when the
			 * answer that proves it came); the event comes after
			 * the answer, so its ts is earlier than the events
			 * before it. */
			struct buf_slice user;		/* authentication identity, or null */
			struct buf_slice authzid;	/* identity asked for (SASL), or null */
			struct buf_slice mechanism;	/* LOGIN, PLAIN, ...; null if inferred */
			enum login_result result;
			struct buf_slice tag;
			enum transport transport;
			bool cleartext_secret;		/* the secret crossed unencrypted */
			bool cleartext_after_starttls;	/* sent in clear after an OK to STARTTLS */
			struct buf_slice secret;	/* only with --show-secrets, else null */
			struct buf_slice code;		/* server's response code, or null */
			struct buf_slice text;		/* server's response text, or null */
			/* The command was not captured; the server's answers
			 * prove the login (result ok, user null).  evidence
			 * says which answer. */
			bool inferred;
			struct buf_slice evidence;	/* null unless inferred */
		} login;
		struct {
			const char *phase;		/* "starttls" or "implicit" */
			const char *version;		/* "TLS 1.2", or NULL if unknown */
			const char *cipher;		/* IANA name, or NULL */
			struct buf_slice sni;		/* or null */
			bool decrypted;			/* both directions */
			bool decrypted_c2s, decrypted_s2c;
			const char *reason;		/* NULL when decrypted */
		} tls;
		struct {
			const char *algorithm;		/* "DEFLATE" */
			bool decoded;
		} compress;
		struct {
			enum stream_dir dir;
			uint64_t bytes;
			uint64_t offset;		/* stream offset where it starts */
		} gap;
		/* kind, numbers and text (util/notice.h); session is the
		 * event's */
		struct notice notice;
		struct {
			enum end_reason reason;
			/* TLS not decrypted, by direction: the summary's bytes_*
			 * miss what crossed inside it; its wire bytes do not */
			bool undecrypted[2];
			const struct session_summary *summary;
		} end;
	} u;
};

/* Every output (text, json, logins, summary, extract) is one of these. */
struct output_ops {
	void (*event)(void *ctx, const struct event *ev);
	/* End of the run: flush and write totals.  Returns 0, or -1 if
	 * writing failed (other than a closed pipe, which is not an error). */
	int (*finish)(void *ctx);
	void (*free)(void *ctx);
	/* Write out whatever is buffered, so that live capture streams line by
	 * line (| jq).  May be NULL. */
	void (*flush)(void *ctx);
};

struct output {
	const struct output_ops *ops;
	void *ctx;
};

#endif
