/* Notices: one-line reports from any layer (capture, flow, TLS, inflate,
 * lexer, session, the run) to one listener, the run (src/app/run.c), which
 * prints them on stderr as "imapscope: [session N: ]text".  A notice about a
 * session travels through that session first, which makes it an event of
 * its timeline (imap/imap_event.h, EV_NOTICE) so that JSON consumers read
 * the kind and the numbers instead of parsing the text.
 *
 * Every layer takes the same callback, notice_fn, and fills a struct
 * notice; the kind is an enum whose names are the JSON "kind" values. */
#ifndef IMAPSCOPE_UTIL_NOTICE_H
#define IMAPSCOPE_UTIL_NOTICE_H

#include <stdarg.h>
#include <stdint.h>

#define NOTICE_MAX 256	/* a longer notice is cut */

/* Stands for "no such number" in struct notice. */
#define NOTICE_NONE UINT64_MAX

/* X(ID, "json kind"): the kinds of notice.  The strings are a contract (the
 * JSON "kind" of a notice event); new kinds go at the end of their group.
 * The last group concerns no session: those never become events. */
#define NOTICE_KINDS(X) \
	/* the flow table */ \
	X(GAP, "gap") \
	X(MID_STREAM, "mid_stream") \
	X(EARLY_BYTES, "early_bytes") \
	X(OOO_DROPPED, "ooo_dropped") \
	X(OOO_FULL, "ooo_full") \
	X(OVERLAP_CONFLICT, "overlap_conflict") \
	X(ONE_SIDED, "one_sided") \
	X(SNAPLEN_CUT, "snaplen_cut") \
	X(RETRANSMISSION, "retransmission") \
	X(EVICTED, "evicted") \
	X(NOT_IMAP, "not_imap") \
	X(SESSIONS_QUIET, "sessions_quiet") \
	/* the lexer */ \
	X(LINE_CUT, "line_cut") \
	X(TOO_MANY_LITERALS, "too_many_literals") \
	X(LITERAL_NOT_KEPT, "literal_not_kept") \
	X(LITERAL_SIZE_OVERFLOW, "literal_size_overflow") \
	X(RESYNC, "resync") \
	X(END_IN_LITERAL, "end_in_literal") \
	X(END_IN_LINE, "end_in_line") \
	/* the session */ \
	X(MEMORY, "memory") \
	X(PENDING_CAP, "pending_cap") \
	X(UNPARSED_LINE, "unparsed_line") \
	X(CUT_LINE_DROPPED, "cut_line_dropped") \
	X(LITERAL_ABANDONED, "literal_abandoned") \
	X(UNSYNCHRONISED, "unsynchronised") \
	X(HOLD_OVERFLOW, "hold_overflow") \
	X(STARTTLS_INJECTION, "starttls_injection") \
	X(STARTTLS_NOT_NEGOTIATED, "starttls_not_negotiated") \
	X(PLAINTEXT_ON_TLS_PORT, "plaintext_on_tls_port") \
	X(COMPRESS_NOT_APPLIED, "compress_not_applied") \
	X(EXTRACT_TOO_DEEP, "extract_too_deep") \
	X(EXTRACT_TOO_MANY, "extract_too_many") \
	X(MESSAGE_CAP, "message_cap") \
	/* COMPRESS=DEFLATE */ \
	X(INFLATE_LIMIT, "inflate_limit") \
	X(COMPRESS_UNDECODABLE, "compress_undecodable") \
	/* TLS */ \
	X(TLS_ALERT, "tls_alert") \
	X(TLS_AUTH_FAILED, "tls_auth_failed") \
	X(TLS_RENEGOTIATED, "tls_renegotiated") \
	X(TLS_UNDECODABLE, "tls_undecodable") \
	X(TLS_RESYNC, "tls_resync") \
	X(TLS_MALFORMED, "tls_malformed") \
	X(TLS_WRONG_KEY, "tls_wrong_key") \
	X(TLS_HANDSHAKE_CUT, "tls_handshake_cut") \
	X(TLS_KEYS_MISSING, "tls_keys_missing") \
	X(TLS_KEY_UPDATE_FAILED, "tls_key_update_failed") \
	/* no session: the run, the capture file, the key logs */ \
	X(CAPTURE, "capture") \
	X(DECODE, "decode") \
	X(KEYLOG, "keylog") \
	X(FILTER_UNMATCHED, "filter_unmatched") \
	X(FILTER_DROPPED, "filter_dropped") \
	X(BUDGET, "budget") \
	X(WRITE_DECRYPTED, "write_decrypted")

enum notice_kind {
#define NOTICE_ENUM_(id, name) NOTICE_##id,
	NOTICE_KINDS(NOTICE_ENUM_)
#undef NOTICE_ENUM_
	NOTICE_N_KINDS
};

/* One notice.  session is 0 when it concerns no session; dir is an enum
 * stream_dir, or -1 when it concerns no single direction; offset and bytes
 * are NOTICE_NONE when they do not apply.  text is one line, wire bytes
 * already escaped, without "imapscope: " or "session N: "; it and the
 * struct are valid during the call only. */
struct notice {
	enum notice_kind kind;
	uint64_t session;
	int64_t ts_us;
	int dir;
	uint64_t offset;
	uint64_t bytes;
	const char *text;
};

/* A notice of kind k with no session, direction or numbers. */
#define NOTICE_OF(k) ((struct notice){ .kind = (k), .dir = -1, \
				       .offset = NOTICE_NONE, .bytes = NOTICE_NONE })

/* The one callback of every layer. */
typedef void notice_fn(void *ctx, const struct notice *n);

/* The JSON "kind" of k; "other" for a value outside the enum. */
const char *notice_kind_name(enum notice_kind k);

/* Format the text of a notice of kind k (nothing else known) and hand it
 * to fn; nothing happens when fn is NULL.  Wire data must be escaped before
 * it is put into the text. */
void notice_send(notice_fn *fn, void *ctx, enum notice_kind k, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The same with the facts of proto (its text is replaced). */
void notice_sendf(notice_fn *fn, void *ctx, const struct notice *proto, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void notice_vsendf(notice_fn *fn, void *ctx, const struct notice *proto, const char *fmt,
		   va_list ap) __attribute__((format(printf, 4, 0)));

#endif
