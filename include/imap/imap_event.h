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
	X(EV_SESSION_END,   "session_end") \
	X(EV_FINDING,       "finding")

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
 * code, CAPABILITY response, a code of an untagged or tagged OK), void
 * after the OK to STARTTLS (and whenever TLS begins), after a login's OK
 * and after UNAUTHENTICATE (known false until the next list; a tagged OK's
 * own CAPABILITY code is the next list).  imap/imap_args.h parses one. */
struct imap_capset {
	bool known;
	uint64_t caps;			/* bit (1 << enum imap_cap_id) */
	/* AUTH=x: bit (1 << enum imap_sasl_mech, imap/imap_sasl.h); a
	 * mechanism not in that enum sets the IMAP_SASL_OTHER bit */
	uint32_t auth;
	struct buf_slice text;		/* the list as sent (cut at 2 KB), null
					   if !known */
};

static inline bool capset_has(const struct imap_capset *c, enum imap_cap_id id)
{
	return c->known && (c->caps >> id & 1) != 0;
}

/* What the session knows after an event; every event points at it
 * (ev->facts).  The session keeps it (src/imap/imap_facts.c) and has no
 * other copy of these facts.  Strings decoded: quotes and literals
 * resolved, modified UTF-7 mailbox names as UTF-8 (an invalid one as
 * sent).  A response's facts already show what its completion did: the
 * OK to SELECT shows the mailbox selected. */
struct session_facts {
	enum imap_session_state state;
	bool logout_sent;		/* the client sent LOGOUT */
	struct buf_slice user;		/* logged-in identity, or null (not
					   known: PREAUTH, an inferred login) */
	struct buf_slice mailbox;	/* selected mailbox, or null */
	bool read_only;			/* EXAMINE, or [READ-ONLY] */
	/* Of the mailbox being selected or selected: set by the OK codes and
	 * EXISTS as they come (EXPUNGE and VANISHED count EXISTS down); a
	 * SELECT or EXAMINE sent, a failed one, CLOSE and UNSELECT forget
	 * them.  FACT_NONE: unknown. */
	uint64_t uidvalidity, uidnext;
	uint64_t exists;
	struct imap_capset caps;
	enum transport transport;
	bool compressed;
};

/* What changed since the previous event of the session, told with the
 * event that changed it (struct event.changed): a response's completion,
 * an untagged response's data, a LOGOUT sent, a switch of the pipeline
 * (told with the next event, e.g. the tls one). */
#define FACT_STATE       (1u << 0)
#define FACT_MAILBOX     (1u << 1)	/* mailbox, read_only */
#define FACT_CAPS        (1u << 2)
#define FACT_USER        (1u << 3)
#define FACT_EXISTS      (1u << 4)
#define FACT_UIDVALIDITY (1u << 5)
#define FACT_UIDNEXT     (1u << 6)
#define FACT_TRANSPORT   (1u << 7)
#define FACT_COMPRESSED  (1u << 8)
#define FACT_LOGOUT      (1u << 9)	/* logout_sent */

/* struct resp_code (a response code's id and arguments) is in
 * imap/imap_vocab.h, where the parser finds it. */

/* A client command's decoded arguments, where they matter to an output
 * (null where the command has no such argument, it was malformed or not
 * captured: never guessed).  Mailbox names decoded (see session_facts);
 * sequence sets, flag lists and items are the wire text (a literal as its
 * kept contents); imap/imap_args.h walks them and fills this (its table
 * says which command fills which field).  On a command event the slices
 * are valid during the call; on the response that completes it
 * (u.response.cmd) they are the session's copies, and a field longer than
 * the copy's cap (names 2 KB, sequence set and items 4 KB, flags 1 KB) is
 * null there. */
struct command_facts {
	enum imap_cmd_id id;		/* IMAP_CMD_UNKNOWN: not in the table */
	struct buf_slice mailbox;	/* SELECT, EXAMINE, CREATE, DELETE, RENAME's
					   old name, (UN)SUBSCRIBE, STATUS, APPEND,
					   COPY/MOVE's target, LIST/LSUB's reference,
					   REPLACE, GETQUOTAROOT and the ACL
					   commands' mailbox */
	struct buf_slice mailbox2;	/* RENAME's new name, LIST's (first) pattern */
	struct buf_slice seqset;	/* FETCH, STORE, COPY, MOVE, UID EXPUNGE
					   (UID variants: UIDs), REPLACE's number */
	struct buf_slice items;		/* FETCH items (a list's contents, or the
					   one item or macro), STORE's item
					   ("+FLAGS.SILENT"), STATUS items; SEARCH,
					   SORT, THREAD, ESEARCH criteria and
					   ENABLE's list: the rest of the line as
					   sent, literals as their {N} markers */
	struct buf_slice flags;		/* STORE, APPEND, REPLACE: the flags without
					   parentheses; "" for "()" */
	struct buf_slice date;		/* APPEND's internal date (quotes removed) */
	struct buf_slice mechanism;	/* AUTHENTICATE */
};

/* What an untagged FETCH says of one message (imap_args_fetch()).  Slices
 * point into the line and its kept literals: valid during the event. */
struct fetch_facts {
	uint64_t seq;
	uint64_t uid;			/* FACT_NONE when not in the response */
	uint64_t size;			/* RFC822.SIZE, or FACT_NONE */
	uint64_t modseq;		/* or FACT_NONE */
	struct buf_slice flags;		/* FLAGS (...) contents ("" for "()"), or null */
	/* ENVELOPE fields: a quoted string's contents (escapes as sent, RFC
	 * 2047 encoded words as sent), a literal's kept contents, or null
	 * (NIL, absent, not kept).  from is the address list as sent,
	 * "((name adl mailbox host) ...)"; imap_args_first_address() reads
	 * it. */
	struct buf_slice date, subject, from, message_id;
	/* The body sections the response carried, as named on the wire:
	 * "BODY[]", "BODY[HEADER.FIELDS (FROM)]", "RFC822", "BINARY[1]<0>",
	 * with their sizes (a literal's announced size, a quoted string's
	 * length, FACT_NONE for NIL); at most IMAP_FETCH_MAX_SECTIONS. */
	size_t n_sections;
	const struct buf_slice *sections;
	const uint64_t *section_sizes;
	/* Each section's value: a literal's kept contents, a quoted string's
	 * contents, or null (NIL, a literal longer than --max-literal-memory
	 * or cut by a gap). */
	const struct buf_slice *section_values;
};

/* One message as the session knows it (IMAP_FACTS_MESSAGES): what the
 * event itself says, completed from what crossed the wire earlier in the
 * session (the map of sequence numbers to UIDs of the selected mailbox,
 * src/imap/imap_msgmap.c, and the session's cache of message headers per
 * mailbox, UIDVALIDITY and UID).  Nothing is guessed: what was not seen
 * is FACT_NONE or null.  Slices point into session memory, valid during
 * the event.  Strings are UTF-8 where the wire allowed: RFC 2047 encoded
 * words in UTF-8, US-ASCII and ISO-8859-1 decoded (B and Q), adjacent
 * encoded words joined, folded lines unfolded, quoted-string escapes
 * undone; an encoded word in another charset, or a malformed one, stays
 * as sent (and sets MSG_ENCODED_LEFT); 8-bit bytes that are not UTF-8 stay
 * as they are (the outputs' escaping shows them as \xNN). */
#define MSG_ENCODED_LEFT (1u << 0)	/* subject or from holds an encoded
					   word left as sent */
enum msg_uid_source {
	MSG_UID_NONE = 0,	/* unknown: uid is FACT_NONE */
	MSG_UID_SAID,		/* the line itself carried it (FETCH UID,
				   the UID command's own set) */
	MSG_UID_MAPPED,		/* resolved through the sequence map */
};
struct msg_identity {
	struct buf_slice mailbox;	/* the mailbox it is in (decoded), or
					   null */
	uint64_t uidvalidity;		/* of that mailbox, or FACT_NONE */
	uint64_t uid;			/* or FACT_NONE; uid_source says how
					   it is known */
	enum msg_uid_source uid_source;
	uint64_t seq;			/* at the time of the event (EXPUNGE:
					   the number it had), or FACT_NONE */
	uint64_t size;			/* RFC822.SIZE, or a whole message's
					   literal size (BODY[], RFC822,
					   APPEND), or FACT_NONE */
	struct buf_slice message_id;	/* "<...>" as in the header, or null */
	struct buf_slice subject;	/* decoded, or null */
	struct buf_slice from;		/* the From header decoded, or from an
					   ENVELOPE "Name <mailbox@host>"
					   (name decoded), or null */
	struct buf_slice date;		/* the Date header as sent, or null */
	unsigned flags;			/* MSG_* */
};

/* VANISHED (RFC 7162): the UIDs gone.  uids is the set as sent (walk it
 * with imap_seqset_next, imap/imap_args.h); count is how many UIDs it
 * names (FACT_NONE when it holds "*" or is malformed).  earlier: the
 * (EARLIER) form, messages gone before (a resync), not now. */
struct vanished_facts {
	struct buf_slice uids;
	uint64_t count;
	bool earlier;
};

/* The session's flow, from the endpoints the wiring found when the
 * session opened (net's struct flow_info): typed values, and what the
 * outputs print of them, made once per session by event_flow_format().
 * src is the client, dest the server, as Suricata's eve orients a flow. */
#define EVENT_IP_STRLEN 46		/* INET6_ADDRSTRLEN */
#define EVENT_COMMUNITY_ID_LEN 31	/* "1:" + 28 base64 characters + NUL */
#define EVENT_FLOW_JSON_MAX 256		/* the keys take at most 225 bytes */
struct event_flow {
	uint8_t af;			/* 4 or 6; 0: not known (no keys shown) */
	uint8_t client_ip[16], server_ip[16];	/* IPv4 in the first 4 bytes */
	uint16_t client_port, server_port;
	uint64_t flow_id;		/* below 2^53 (net/community_id.h) */
	char community_id[EVENT_COMMUNITY_ID_LEN];	/* v1, seed 0; "" if not known */
	/* Made by event_flow_format(): the addresses bare (IPv6 without
	 * brackets), and the lengths of the three strings. */
	char src_ip[EVENT_IP_STRLEN], dest_ip[EVENT_IP_STRLEN];
	uint8_t src_ip_len, dest_ip_len, community_id_len;
	/* The keys every JSON line of the session carries, as written
	 * (",\"flow_id\":...,\"dest_port\":143", docs/contract.md): one
	 * copy an event instead of six values formatted. */
	char json[EVENT_FLOW_JSON_MAX];
	uint16_t json_len;
};

/* Fills f's strings from its typed values (af 0: empty strings).  The
 * community_id may hold only base64 characters and the colon. */
void event_flow_format(struct event_flow *f);

/* What the wire showed of the line an event was made from, and of the
 * line's place in the exchange: the facts a protocol checker needs
 * (report/check.h) that only the lexer and the session see.  ev->wire,
 * made only with IMAP_FACTS_WIRE (else 0).  A notice event made while a
 * line was handled carries that line's bits too. */
#define WIRE_C2S             (1u << 0)	/* the line came from the client */
#define WIRE_S2C             (1u << 1)	/* ... from the server */
#define WIRE_BARE_LF         (1u << 2)	/* a part ended by LF without CR */
#define WIRE_BARE_CR         (1u << 3)	/* a CR not followed by LF */
#define WIRE_NUL             (1u << 4)	/* a NUL outside the literals */
#define WIRE_LONG            (1u << 5)	/* over IMAP_WIRE_LONG_LINE octets
					   without the literals' contents */
#define WIRE_LIT_PLUS        (1u << 6)	/* a {n+} literal */
#define WIRE_LIT_MINUS       (1u << 7)	/* a {n-} literal */
#define WIRE_LIT_BIG         (1u << 8)	/* a {n+} or {n-} over
					   IMAP_WIRE_LITERAL_MINUS_MAX */
#define WIRE_LIT_EARLY       (1u << 9)	/* data of a {n} literal came before
					   the server's "+" for it */
#define WIRE_LIT_MISMATCH    (1u << 10)	/* what follows a literal's data is
					   no SP, ")" or line end: its size
					   was wrong */
#define WIRE_TAG_INVALID     (1u << 11)	/* command tag with a byte RFC 9051
					   forbids in a tag */
#define WIRE_TAG_REUSED      (1u << 12)	/* a command with this tag is still
					   in flight */
#define WIRE_TAG_UNKNOWN     (1u << 13)	/* tagged response for no command in
					   flight, though every client line
					   was read */
#define WIRE_CONT_UNEXPECTED (1u << 14)	/* server "+" nothing waits for,
					   though every client line was read */
#define WIRE_IN_IDLE         (1u << 15)	/* a command sent during IDLE */
#define WIRE_UNPARSED        (1u << 16)	/* notice: the line did not parse */
#define WIRE_PENDING_CHANGE  (1u << 17)	/* a command was in flight whose OK
					   changes the state or capabilities */
#define WIRE_SASL_IR         (1u << 18)	/* AUTHENTICATE with an initial
					   response */
#define WIRE_EXPUNGE_IN_FSS  (1u << 19)	/* EXPUNGE while every command in
					   flight is FETCH, STORE or SEARCH */
#define WIRE_UID_MISSING     (1u << 20)	/* FETCH answering UID FETCH or UID
					   STORE, the only command in
					   flight, without UID */
#define WIRE_LOSSY           (1u << 21)	/* the session may have missed a
					   client line or a state change
					   before this one: picked up
					   mid-stream, a gap, a line it
					   could not read, TLS it could not
					   decrypt */
#define WIRE_CONDSTORE_ARG   (1u << 22)	/* a CONDSTORE argument: SELECT's
					   (CONDSTORE), FETCH's CHANGEDSINCE
					   or MODSEQ, STORE's UNCHANGEDSINCE */
#define WIRE_QRESYNC_ARG     (1u << 23)	/* a QRESYNC argument: SELECT's
					   (QRESYNC ...), UID FETCH's VANISHED */
#define WIRE_INJECTED        (1u << 24)	/* the first line sent after
					   STARTTLS (or its OK) before the
					   TLS handshake: injected */

/* The limits WIRE_LONG and WIRE_LIT_BIG name (RFC 7162 section 4, RFC
 * 7888 section 5). */
#define IMAP_WIRE_LONG_LINE 8192
#define IMAP_WIRE_LITERAL_MINUS_MAX 4096

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
	/* The capture record (1-based, per input file, as Wireshark numbers
	 * them) that holds the event's first byte, and the one that holds its
	 * last where that is another (else 0): docs/contract.md, "Frame
	 * numbers", says what each type's are.  0: not known.  pcap: the input file frame
	 * counts in, when the run reads more than one; else NULL. */
	uint64_t frame, frame_last;
	const char *pcap;
	/* The session's endpoints and flow ids; NULL or af 0 when not known
	 * (events made by hand). */
	const struct event_flow *flow;
	/* The session's facts after this event; never NULL.  Valid during
	 * the call, like everything else here. */
	const struct session_facts *facts;
	unsigned changed;	/* FACT_*: what this event changed */
	unsigned wire;		/* WIRE_*, with IMAP_FACTS_WIRE; else 0 */
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
			/* APPEND and REPLACE with IMAP_FACTS_MESSAGES: the
			 * (first) message appended, read from the literal's
			 * header block (mailbox: the target; uid, seq,
			 * uidvalidity: FACT_NONE, the completion's APPENDUID
			 * code tells them: imap_args_appenduid()); size is
			 * the literal's announced size.  Else NULL. */
			const struct msg_identity *append;
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
			/* FETCH when the session config asks for
			 * IMAP_FACTS_FETCH (or IMAP_FACTS_MESSAGES), else
			 * NULL */
			const struct fetch_facts *fetch;
			/* With IMAP_FACTS_MESSAGES, else NULL/0.  FETCH: the
			 * message fetched (one); EXPUNGE: the message
			 * removed, its UID looked up before the renumbering
			 * (one); VANISHED (not EARLIER): one per UID of the
			 * set in set order, at most IMAP_MSG_MAX_PER_EVENT
			 * (msgs_cut when the set named more), seq the number
			 * each had were they removed one after another in
			 * that order (FACT_NONE unless certain). */
			const struct msg_identity *msgs;
			size_t n_msgs;
			bool msgs_cut;
			/* VANISHED with IMAP_FACTS_MESSAGES, else NULL */
			const struct vanished_facts *vanished;
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
			/* With IMAP_FACTS_MESSAGES, else NULL/0: the messages
			 * the completed command named, as the session knows
			 * them before the completion takes effect.  STORE,
			 * COPY, MOVE (and UID forms): the set's messages (a
			 * sequence set up to EXISTS; a UID set: the UIDs the
			 * sequence map holds; for a MOVE that removed them
			 * already, what now has those numbers: read it only
			 * when no EXPUNGE or VANISHED came for it).  An OK to
			 * CLOSE: the messages last seen with \Deleted (by
			 * UID), which it removed silently.  At most
			 * IMAP_MSG_MAX_PER_EVENT (msgs_cut when more). */
			const struct msg_identity *msgs;
			size_t n_msgs;
			bool msgs_cut;
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
		/* A protocol violation found by the checker (report/check.h),
		 * about the event before it; ts, frames, session and flow are
		 * that event's.  The strings are the catalogue's. */
		struct {
			const char *rule;		/* "tag-reused" */
			const char *severity;		/* "error", "warning" */
			const char *side;		/* "client", "server" */
			const char *rfc;		/* "RFC 9051 §2.2.1" (UTF-8) */
			const char *explanation;
			struct buf_slice line;		/* the offending line as
							   the timeline shows it
							   (wire bytes), or null */
			/* line is text imapscope made with wire bytes already
			 * escaped (a notice's) */
			bool line_made;
		} finding;
		struct {
			enum end_reason reason;
			/* TLS not decrypted, by direction: the summary's bytes_*
			 * miss what crossed inside it; its wire bytes do not */
			bool undecrypted[2];
			const struct session_summary *summary;
		} end;
	} u;
};

/* Facts that cost work on every line of their kind, made only when an
 * output reads them (struct output_ops.facts, handed to the session
 * config by the run). */
#define IMAP_FACTS_FETCH (1u << 0)	/* untagged FETCH: struct fetch_facts */
/* Message identity: the sequence map and header cache are kept, and
 * FETCH, EXPUNGE, VANISHED and APPEND events carry struct msg_identity
 * (and FETCH its fetch_facts too), as do the completions of STORE, COPY,
 * MOVE and CLOSE (struct event.u.response.msgs). */
#define IMAP_FACTS_MESSAGES (1u << 1)
/* ev->wire (WIRE_*): the wire facts of every line, for the checker. */
#define IMAP_FACTS_WIRE (1u << 2)
/* Identities one VANISHED event carries at most. */
#define IMAP_MSG_MAX_PER_EVENT 1024

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
	unsigned facts;		/* IMAP_FACTS_* it reads */
};

struct output {
	const struct output_ops *ops;
	void *ctx;
};

#endif
