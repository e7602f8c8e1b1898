/* What the parts of an IMAP session share: the session struct, the
 * helpers of the state machine and the entry points of its parts.  Private
 * to src/imap/: no other layer may use it (see imap/imap_session.h).
 *
 *   imap_session.c   the state machine, its events and the public API
 *   imap_pipeline.c  per-direction byte path: [tls] -> [inflate] -> lexer,
 *                    holding client bytes across a switch, gaps (its own
 *                    object: imap_pipeline.h)
 *   imap_auth.c      LOGIN / AUTHENTICATE, SASL lines, login events
 *   imap_bodies.c    --extract: which literals are message bodies
 *   imap_facts.c     the facts every event carries (struct session_facts)
 *   imap_messages.c  message identity (IMAP_FACTS_MESSAGES): sequence map,
 *                    header cache */
#ifndef IMAPSCOPE_IMAP_SESSION_INT_H
#define IMAPSCOPE_IMAP_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap/imap_args.h"
#include "imap/imap_lexer.h"
#include "imap/imap_msgmap.h"
#include "imap/imap_parser.h"
#include "imap/imap_sasl.h"
#include "imap/imap_session.h"
#include "imap/imap_event.h"
#include "imap_pipeline.h"
#include "util/buf.h"
#include "util/hashtab.h"
#include "util/list.h"

#define SESS_MAX_TAG      64		/* tag bytes kept for matching */
#define SESS_MAX_LOGIN    1024		/* LOGIN user name kept */
#define SESS_NOTICE_MAX   320		/* one notice line */
#define SESS_ENDPOINT_MAX 64		/* "[v6]:port" fits */
enum sess_mode {
	MODE_IMAP,		/* the final bytes are IMAP: parsed */
	MODE_NOT_IMAP,		/* another protocol on an IMAP port */
};

/* --extract: the bodies begun in one direction's logical line in
 * progress.  They end when the line does, because a FETCH response may name
 * the UID after the body.  left mirrors the lexer's count for every literal
 * (body or not), so that a gap tells whether the lexer absorbs it inside a
 * literal or drops the line. */
struct sess_ex_item {
	void *h;		/* the hooks' handle */
	size_t lit;		/* its literal's index in the line */
};

struct sess_extract {
	struct sess_ex_item *items;	/* oldest first */
	size_t n, cap;		/* cap grows up to IMAP_MAX_LITERALS */
	bool cur;		/* items[n - 1] is receiving its literal */
	bool in_lit;		/* a literal of this line is being consumed */
	uint64_t left;		/* its bytes still to come (received or lost) */
};

/* A LOGIN or AUTHENTICATE awaiting its tagged completion. */
struct login_attempt {
	struct mem_budget *budget;	/* charged for this struct */
	bool is_sasl;
	bool out_of_state;		/* sent while already authenticated */
	bool secret_sent;		/* LOGIN: a password token was there */
	int64_t ts_us;			/* the command's first byte */
	uint64_t frame;			/* its record (a frame id) */
	struct imap_sasl sasl;		/* is_sasl */
	struct buf user, secret;	/* LOGIN command */
	bool have_user, have_secret;
	bool clear;			/* the command crossed the wire in clear */
	bool after_starttls;		/* ... although STARTTLS had been agreed */
};

/* How long a command waited for each "+" (microseconds), charged to the
 * budget; at most SESS_MAX_CONT_WAITS are timed. */
#define SESS_MAX_CONT_WAITS IMAP_MAX_LITERALS
struct sess_waits {
	int64_t *us;
	size_t n, cap;
};

/* A "+" held back until the client line it answers is complete, so that
 * the command is shown first (its text lives in sess_open_cmd.text). */
struct sess_held_cont {
	int64_t ts;
	uint64_t frame_first, frame_last;	/* its line's (frame ids) */
	size_t off, len;
};

/* The client's logical line in progress that announced a synchronising
 * literal: the "+" lines answering it wait here until it is complete. */
struct sess_open_cmd {
	bool open;
	int64_t since;		/* when its part announcing the literal was sent */
	struct sess_waits waits;
	struct buf text;
	struct sess_held_cont *held;
	size_t n_held, cap_held;
	/* IMAP_FACTS_WIRE: the line's synchronising literals begun and the
	 * "+" lines it got; the data of the last begun not seen yet; data
	 * that came before its "+". */
	unsigned n_sync, n_plus;
	bool lit_unchecked, early;
};

/* Picked up mid-stream, server lines before sync are held while they may
 * be real: a run that begins at a segment boundary, every line of it a
 * plausible response.  A body line breaks it; the client's next line or
 * the line that finds sync confirms it. */
#define SESS_MAX_RUN_LINES 64
struct sess_run_line {
	int64_t ts_first, ts_last;
	uint64_t frame_first, frame_last;
	size_t off, len;
};

struct sess_run {
	struct buf text;		/* the lines' texts, up to IMAP_MAX_LINE */
	struct sess_run_line *lines;
	size_t n, cap;
	uint64_t shown_unsync;		/* never confirmed, shown marked */
};

struct pending {
	uint8_t tag[SESS_MAX_TAG];
	size_t tag_len;			/* bytes kept in tag */
	size_t wire_tag_len;		/* the tag's real length */
	enum imap_cmd_id id;		/* what the session acts on */
	char name[IMAP_MAX_NAME];	/* as sent (unknown ones too), for the events */
	int64_t ts_sent;		/* first byte of the command */
	int64_t ts_client;		/* the client's last line for it */
	struct sess_waits waits;	/* for each "+" it got */
	/* Its decoded arguments, copied: one block, the struct and then the
	 * bytes its slices point to, charged to the budget (a field too long
	 * to keep is null); NULL when memory refused it. */
	struct command_facts *facts;
	size_t facts_size;
	struct login_attempt *login;	/* LOGIN/AUTHENTICATE, or NULL */
};

/* IMAP_FACTS_MESSAGES (imap_messages.c): the sequence map of the selected
 * mailbox and the headers of the messages seen, per (mailbox, UIDVALIDITY,
 * UID), so that a later EXPUNGE, VANISHED or MOVE can name a message. */
#define SESS_MSG_CACHE_MAX     4096	/* messages whose headers are kept */
#define SESS_MSG_MAX_MAILBOXES 256	/* mailbox names those refer to */
#define SESS_MSG_SCRATCH       (64 * 1024)	/* one event's decoded strings */
#define SESS_MSG_CAP_NOTICES   4	/* cap notices said per session */
/* Messages seen by sequence number alone (a FETCH without UID that the
 * map could not resolve), kept until a UID for that number comes. */
#define SESS_MSG_MAX_ORPHANS   64
/* UIDs kept as flagged \Deleted per session */
#define SESS_MSG_MAX_DELETED   (1u << 16)

struct msgc_entry;

struct sess_orphan {
	uint64_t seq;
	struct msgc_entry *e;		/* not in the cache's table */
};

struct sess_mbox_name {
	uint8_t *name;
	size_t len;
};

struct sess_msgs {
	struct imap_msgmap map;
	struct hashtab cache;		/* struct msgc_entry, imap_messages.c */
	struct list_head lru;		/* least recently seen first */
	size_t n_cached;
	struct sess_mbox_name *mboxes;
	size_t n_mboxes, cap_mboxes;
	uint32_t cur_mbox;		/* index of the selected one, or UINT32_MAX */
	struct buf scratch;		/* this event's decoded strings */
	struct msg_identity one;	/* this event's identity (FETCH, EXPUNGE,
					   APPEND) */
	struct msg_identity *ids;	/* VANISHED's */
	size_t cap_ids;
	struct vanished_facts vanished;
	struct sess_orphan orphans[SESS_MSG_MAX_ORPHANS];
	size_t n_orphans;
	/* The UIDs of the selected mailbox last seen with \Deleted (FETCH
	 * FLAGS, an OK to STORE), ascending: what CLOSE removes silently. */
	uint32_t *deleted;
	size_t n_deleted, cap_deleted;
	unsigned cap_notices;
};

struct imap_session {
	const struct imap_session_config *cfg;
	uint64_t id;
	char client[SESS_ENDPOINT_MAX];
	char server[SESS_ENDPOINT_MAX];
	struct event_flow flow;		/* every event points at it */
	bool mid_stream;
	enum sess_mode mode;
	struct imap_lexer *lx[2];

	struct imap_pipeline pl;	/* the byte path: [tls] -> [inflate] -> lexers */

	bool seen_byte[2];
	bool seen_line[2];
	bool gap_first[2];		/* a gap came before the first line */
	bool greeted;
	/* Picked up mid-stream, the server side may start inside a message
	 * body that holds IMAP-looking lines: its lines are skipped until one
	 * answers a command we saw. */
	bool s2c_anchored;
	bool orphan_done;		/* ended an IDLE begun before the capture */
	uint64_t skipped_unanchored;
	struct sess_run run;		/* server lines before sync, maybe real */
	bool cur_cut;			/* the line being handled lost its end */
	/* The line being handled, for its events' frames; NULL between
	 * lines. */
	const struct imap_line *cur_line;
	/* The capture record (a frame id) of the bytes being fed, by
	 * direction: the flow table writes them (byte_layer_ops.frames), the
	 * lexers read them. */
	uint64_t frame[2];
	bool cur_unsync;		/* ... or is shown though sync never confirmed it */
	unsigned bad_run[2];		/* unparsable lines in a row */
	uint64_t bad_quiet[2];		/* of them, not given a notice */
	uint64_t pend_dropped;		/* commands forgotten at the pending cap */
	bool depth_noticed[2];		/* the current line passed IMAP_MAX_DEPTH */

	struct pending *pend;		/* oldest first */
	size_t n_pend, cap_pend;
	struct login_attempt *sasl;	/* exchange in progress; owned by pend */
	bool idling;

	/* The client line waiting for a synchronising literal's "+". */
	uint8_t partial_tag[SESS_MAX_TAG];
	size_t partial_tag_len;
	struct sess_open_cmd oc;

	struct buf args;		/* redacted command arguments */
	struct buf scratch;		/* mailbox names being decoded */

	struct session_summary sum;
	int64_t first_ts, last_ts, now;

	struct sess_extract ex[2];
	enum stream_dir lex_dir;	/* the lexer being fed (literal_data has no dir) */

	/* What the session knows (imap_facts.c), the one copy of its state,
	 * user, mailbox, capabilities, transport; every event points at it.
	 * The buffers hold the bytes its slices point to. */
	struct session_facts facts;
	unsigned facts_changed;		/* FACT_* since the last event */
	/* The state before the tagged completion being handled changed it. */
	enum imap_session_state state_before;
	struct buf mailbox, user, caps_text;
	struct buf names;		/* the current command's decoded names */
	/* IMAP_FACTS_MESSAGES only (else NULL), charged to the budget */
	struct sess_msgs *msgs;
	/* IMAP_FACTS_WIRE (imap_wire.c): the line being handled's WIRE_*
	 * bits, those of the next notice, whether a client line went unread
	 * (a tag not seen), whether the next line by direction is the first
	 * injected before TLS, "+" lines still due for literals sent early. */
	unsigned line_wire, notice_wire;
	bool c2s_lossy;
	bool inject_line[2];		/* the next line is the first injected */
	unsigned plus_owed;
};

/* --- small helpers ------------------------------------------------------ */

static inline struct buf_slice cslice(const char *s)
{
	return (struct buf_slice){ (const uint8_t *)s, strlen(s) };
}

static inline struct buf_slice bslice(const struct buf *b)
{
	return (struct buf_slice){ b->data ? b->data : (const uint8_t *)"", b->len };
}

static inline bool name_is(const char *name, const char *word)
{
	return strcmp(name, word) == 0;
}

/* imap_session.c: events, notices and tokens */
void imap_session_emit(struct imap_session *s, struct event *ev);
/* A notice of the session: an EV_NOTICE event in its timeline and a line
 * for stderr.  _facts takes dir, offset and bytes from f as well (its
 * session, time and text are the session's and fmt's). */
void imap_session_notice(struct imap_session *s, enum notice_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void imap_session_notice_facts(struct imap_session *s, const struct notice *f,
			       const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void imap_session_quote_wire(char *dst, size_t cap, const uint8_t *p, size_t n);
void imap_session_emit_continuation(struct imap_session *s, enum stream_dir dir,
				    struct buf_slice text, int64_t ts);
/* The same for a "+" line held back (imap_cont.c): with its own records,
 * frame ids, not those of the line being handled. */
/* The record being read: the later of the two directions' (records are
 * read in order; bytes held out of order keep an older one). */
static inline uint64_t imap_session_frame_now(const struct imap_session *s)
{
	return s->frame[0] > s->frame[1] ? s->frame[0] : s->frame[1];
}
void imap_session_emit_held_continuation(struct imap_session *s, struct buf_slice text,
					 int64_t ts, uint64_t frame_first, uint64_t frame_last);
int imap_session_tok_value(struct buf *out, const struct imap_tok *t);
bool imap_session_tok_is_string(const struct imap_tok *t);

/* imap_cont.c: "+" lines, their waits, and their place after the command */
void imap_cont_literal_begin(struct imap_session *s, const struct imap_line *partial);
void imap_cont_server(struct imap_session *s, const struct imap_line *line,
		      struct buf_slice text);
void imap_cont_command(struct imap_session *s, struct pending *p);
void imap_cont_line_done(struct imap_session *s);
void imap_cont_client_line(struct imap_session *s, int64_t ts);
void imap_cont_waits_free(struct imap_session *s, struct sess_waits *w);
void imap_cont_free(struct imap_session *s);

/* imap_wire.c: IMAP_FACTS_WIRE, called only when imap_wire_on().  line:
 * the bits of a line (direction, ends, NUL, length, literals); command:
 * those of a command about to be sent (tag_in_flight: pending_find's
 * answer for its tag); untagged: of an untagged response (fetch: its
 * facts, or NULL); cont_unexpected: whether a server "+" answers
 * nothing (it uses up a "+" still due); lossy: whether a client line may
 * have gone unread (then no tag or "+" is said to be unknown). */
bool imap_wire_on(const struct imap_session *s);
unsigned imap_wire_line(struct imap_session *s, const struct imap_line *line);
void imap_wire_literal_data(struct imap_session *s);
unsigned imap_wire_command(struct imap_session *s, const struct imap_line *line,
			   const struct imap_command *cmd, int tag_in_flight);
unsigned imap_wire_untagged(const struct imap_session *s, const struct imap_response *r,
			    const struct fetch_facts *fetch);
bool imap_wire_cont_unexpected(struct imap_session *s);
/* The bits of a line the grammar refused (WIRE_UNPARSED, and
 * WIRE_TAG_INVALID for a command whose tag alone is wrong). */
unsigned imap_wire_unparsed(const struct imap_line *line);
bool imap_wire_lossy(const struct imap_session *s);

/* imap_resync.c: server lines before sync */
void imap_resync_offer(struct imap_session *s, const struct imap_line *line, bool parsed);
void imap_resync_confirm(struct imap_session *s);
void imap_resync_drop(struct imap_session *s);
void imap_resync_show_unconfirmed(struct imap_session *s);
void imap_resync_report(struct imap_session *s, bool found);
void imap_resync_free(struct imap_session *s);
/* imap_session.c: a server line handed on as if it had just arrived */
void imap_session_s2c_replay(struct imap_session *s, const struct imap_line *line);

/* imap_session.c: another protocol on an IMAP port: stop parsing, keep
 * counting.  p, n: the first line or bytes, quoted in the notice. */
void imap_session_not_imap(struct imap_session *s, enum stream_dir dir,
			   const uint8_t *p, size_t n);

/* imap_session.c: does t, a direction's first line, look like IMAP? */
bool imap_session_line_plausible(enum stream_dir dir, struct buf_slice t);

/* imap_auth.c: login attempts */
void imap_auth_attempt_free(struct login_attempt *a);
struct login_attempt *imap_auth_login_command(struct imap_session *s,
					      const struct imap_line *line,
					      const struct imap_command *cmd,
					      struct buf_slice *secret_r);
struct login_attempt *imap_auth_authenticate_command(struct imap_session *s,
						     const struct imap_line *line,
						     const struct imap_command *cmd,
						     struct buf_slice *secret_r);
struct buf_slice imap_auth_redacted_args(struct imap_session *s, const struct imap_line *line,
					 const struct imap_command *cmd, struct buf_slice raw);
void imap_auth_sasl_line(struct imap_session *s, const struct imap_line *line);
void imap_auth_emit_login(struct imap_session *s, const struct pending *p,
			  enum login_result result, const struct imap_response *resp);
void imap_auth_login_unknown(struct imap_session *s, const struct pending *p);
/* A tagged answer, before its completion changes the state: when no login
 * was seen and the answer proves one (an OK that says so, or an OK to a
 * command only an authenticated session may run), an inferred login
 * event.  p: the command it completes, NULL if that was not captured. */
void imap_auth_infer(struct imap_session *s, const struct imap_line *line,
		     const struct imap_response *r, const struct pending *p);
void imap_auth_remember_user(struct imap_session *s, const struct login_attempt *a);
/* --follow (the tap's marks): client bytes off..off+len may hold a secret
 * the session could not read (a SASL line a gap cut, bytes skipped while
 * resynchronising): hidden like one.  len UINT64_MAX: to the end of what
 * the client sent so far.  No-op without marks or with --show-secrets. */
void imap_auth_tap_hide(struct imap_session *s, uint64_t off, uint64_t len);

/* imap_facts.c: the session's facts.  Changes are marked in
 * s->facts_changed; imap_session_emit hands them to the next event. */
void imap_facts_init(struct imap_session *s);
void imap_facts_free(struct imap_session *s);
void imap_facts_set_state(struct imap_session *s, enum imap_session_state st);
/* u ptr NULL: no user (known). */
void imap_facts_set_user(struct imap_session *s, struct buf_slice u);
/* TLS begins (void the capabilities sent in clear), COMPRESS is on. */
void imap_facts_set_transport(struct imap_session *s, enum transport t);
void imap_facts_set_compressed(struct imap_session *s);
/* A client command: its decoded arguments in f_r (slices into line and
 * s->names, valid until the next command), and what sending it changes. */
void imap_facts_command(struct imap_session *s, const struct imap_line *line,
			const struct imap_command *cmd, struct command_facts *f_r);
/* Keep a copy of f in p until its completion (p->id, p->facts). */
void imap_facts_pending_keep(struct imap_session *s, struct pending *p,
			     const struct command_facts *f);
void imap_facts_pending_release(struct imap_session *s, struct pending *p);
/* The facts a completion of p points at: p's, or when memory refused
 * them, unkept filled with the id alone.  Never NULL. */
const struct command_facts *imap_facts_pending(const struct pending *p,
					       struct command_facts *unkept);
void imap_facts_greeting(struct imap_session *s, const struct imap_response *r);
/* An untagged response: what it changes (not for a line sync never
 * confirmed, bar BYE); a FETCH's facts in f, described in st (the
 * caller's, for the time of its event), and f returned; else NULL. */
const struct fetch_facts *imap_facts_untagged(struct imap_session *s,
					      const struct imap_line *line,
					      const struct imap_response *r,
					      struct fetch_facts *f, struct imap_fetch_store *st);
/* A tagged response completing p (NULL: a command not captured), before
 * its event: the state, mailbox, user and capabilities it leaves. */
void imap_facts_tagged(struct imap_session *s, const struct pending *p,
		       const struct imap_response *r);

/* imap_messages.c: IMAP_FACTS_MESSAGES (every call a no-op without it).
 * init/free with the session; forget when the selection ends or changes
 * (the sequence map is emptied); untagged fills ev's msgs, n_msgs and
 * vanished for a FETCH (f: its facts), EXPUNGE or VANISHED, and keeps the
 * map and cache current (the line must be confirmed); append gives the
 * identity of an APPEND's or REPLACE's message for its command event
 * (valid until the next call), or NULL. */
void imap_msgs_init(struct imap_session *s);
void imap_msgs_free(struct imap_session *s);
void imap_msgs_forget(struct imap_session *s);
void imap_msgs_untagged(struct imap_session *s, const struct imap_line *line,
			const struct imap_response *r, const struct fetch_facts *f,
			struct event *ev);
/* imap_msgs_tagged: a completion (p: its command, or NULL), before the
 * facts take its effects (CLOSE still shows its mailbox): fills ev's
 * response.msgs; an OK to STORE sets or clears \Deleted of its set. */
void imap_msgs_tagged(struct imap_session *s, const struct pending *p,
		      const struct imap_response *r, struct event *ev);
const struct msg_identity *imap_msgs_append(struct imap_session *s,
					    const struct imap_line *line,
					    const struct imap_command *cmd,
					    const struct command_facts *cf);

/* imap_bodies.c: --extract */
void imap_bodies_literal_begin(struct imap_session *s, const struct imap_line *partial);
void imap_bodies_literal_data(void *ctx, const uint8_t *p, size_t n);
void imap_bodies_gap(struct imap_session *s, enum stream_dir dir, uint64_t nbytes);
void imap_bodies_line_done(struct imap_session *s, const struct imap_line *line);
void imap_bodies_end_all(struct imap_session *s, enum stream_dir dir,
			 const struct imap_line *line, uint64_t uid, uint64_t seq);

#endif
