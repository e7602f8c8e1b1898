/* --since, --until, --status, --command, --mailbox: which events every
 * output gets.  An event stage in front of the reports (the timeline,
 * --logins, --summary, and whatever the tee joins), after the session
 * filter (report/filter.h) has chosen the sessions; all the options given
 * must hold.
 *
 * - --since / --until: events whose time is in [since, until] (both
 *   included); an RFC 3339 time, or "+30s" from the first event of the
 *   run (the first packet of its first IMAP session).  A login event has
 *   the time its command was sent, so a login is kept when it was sent in
 *   the window.
 * - --status NO,BAD: only commands completed with one of those statuses,
 *   with their continuations, their untagged responses, their completion
 *   and the login event it made.  A command's events are held until its
 *   completion (copied: an event is valid only during its call), in at
 *   most EVENT_FILTER_HOLD_MAX bytes, charged to the budget; an event that
 *   does not fit is dropped and counted (event_filter_dropped), as are the
 *   held events of a command that never completed.
 * - --command NAME[,NAME...]: only those commands ("FETCH" is also UID
 *   FETCH), with their continuations, untagged responses, completion and
 *   login event.
 * - --mailbox NAME: only events while NAME (decoded, as the facts hold
 *   it; INBOX in any case) is the selected mailbox; the OK to its SELECT
 *   is the first.
 *
 * With --status or --command, events that belong to no command (the
 * greeting, TLS and COMPRESS, gaps, notices, unsolicited untagged lines)
 * are not kept.  A session whose events are all left out is left out
 * whole; one with an event kept gets its session_start (just before that
 * event) and its session_end, whose counts stay those of the whole
 * session. */
#ifndef IMAPSCOPE_REPORT_EVENT_FILTER_H
#define IMAPSCOPE_REPORT_EVENT_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_event.h"
#include "util/buf.h"

#define EVENT_FILTER_MAX_COMMANDS 32	/* names --command takes */
#define EVENT_FILTER_NAME_MAX 24	/* bytes of a command name */
#define EVENT_FILTER_HOLD_MAX ((size_t)64 << 20)	/* --status: held bytes */
#define EVENT_FILTER_OPEN_MAX 64	/* commands awaiting completion per session */
#define EVENT_FILTER_TAG_MAX 64		/* bytes of a tag told apart */

#define EVENT_FILTER_OK  (1u << 0)
#define EVENT_FILTER_NO  (1u << 1)
#define EVENT_FILTER_BAD (1u << 2)

struct event_filter_opts {
	bool since_set, until_set;
	bool since_rel, until_rel;	/* from the run's first event */
	int64_t since_us, until_us;	/* a time, or an offset when _rel */
	unsigned status;		/* EVENT_FILTER_*; 0: any */
	char commands[EVENT_FILTER_MAX_COMMANDS][EVENT_FILTER_NAME_MAX + 1];
	size_t n_commands;		/* upper case; 0: any */
	const char *mailbox;		/* NULL: any */
};

/* --since/--until TIME: "2026-11-21T10:00:00Z", with a fraction of a
 * second and a "+01:00" offset allowed ("T" or a space), or "+N" with s,
 * m, h or d from the first event.  -1 when it is none of those. */
int event_filter_opts_set_time(struct event_filter_opts *o, bool until, const char *arg)
	__attribute__((warn_unused_result));
/* --status LIST: OK, NO, BAD comma separated (any case).  -1 otherwise. */
int event_filter_opts_set_status(struct event_filter_opts *o, const char *list)
	__attribute__((warn_unused_result));
/* --command LIST (repeatable): names comma separated.  -1 on an empty or
 * too long name, or past EVENT_FILTER_MAX_COMMANDS. */
int event_filter_opts_add_commands(struct event_filter_opts *o, const char *list)
	__attribute__((warn_unused_result));
/* Whether any of these options was given. */
bool event_filter_opts_active(const struct event_filter_opts *o);

struct event_filter;

/* The filter in front of inner, which it owns from now on (its free frees
 * inner); opts must outlive it.  Held events are charged to budget (may
 * be NULL).  NULL when out of memory (inner is then freed too). */
struct event_filter *event_filter_new(const struct event_filter_opts *opts, struct output inner,
				      struct mem_budget *budget);
/* The filter as an output; its facts are inner's. */
struct output event_filter_output(struct event_filter *f);
/* Events --status had to drop: over the hold cap or the budget, or held
 * for a command that never completed (counted by finish too). */
uint64_t event_filter_dropped(const struct event_filter *f);

#endif
