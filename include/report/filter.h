/* --session, --host and --user: which sessions a run shows.
 *
 * A filter sits in front of an output (every event of an unwanted session
 * is dropped) and answers for --streams, --extract and notices too, so all
 * of them agree.  --user needs to know a session's user before its first
 * event, so a run with --user reads its input twice: the first pass feeds
 * the collector output, which only remembers where the user logged in. */
#ifndef IMAPSCOPE_REPORT_FILTER_H
#define IMAPSCOPE_REPORT_FILTER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_event.h"

#define FILTER_MAX_SESSIONS 1024	/* ids named by --session in one run */

struct filter_opts {
	uint64_t sessions[FILTER_MAX_SESSIONS];	/* sorted, distinct; none: any */
	size_t n_sessions;
	const char *host;	/* --host as given, or NULL: any */
	char host_addr[INET6_ADDRSTRLEN];	/* its address, as the tool prints it */
	uint16_t host_port;	/* 0: any port */
	const char *user;	/* a login user name, or NULL */
};

/* --session LIST (repeatable): adds each id of a comma-separated list.
 * -1 on an empty item, 0, anything but decimal digits, or more than
 * FILTER_MAX_SESSIONS ids. */
int filter_opts_add_sessions(struct filter_opts *o, const char *list)
	__attribute__((warn_unused_result));
/* --host ADDR in the forms the tool prints: "192.0.2.1", "192.0.2.1:143",
 * "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:143".  -1 if it is none. */
int filter_opts_set_host(struct filter_opts *o, const char *arg)
	__attribute__((warn_unused_result));
/* Whether any of --session, --host, --user was given. */
bool filter_opts_active(const struct filter_opts *o);

struct filter;

/* opts (and its strings) must outlive the filter; inner is the output that
 * gets the wanted events (the filter frees it).  NULL on out-of-memory. */
struct filter *filter_new(const struct filter_opts *opts, struct output inner);
/* Charge the filter's lists of sessions (--host, --user) to budget from
 * now on; call before the first session.  A list the budget will not let
 * grow loses sessions, and the collector's finish says so (-1). */
void filter_set_budget(struct filter *f, struct mem_budget *budget);
/* The filtered output: events of wanted sessions go on to inner.  Under
 * --host, a session is wanted once filter_session_open has announced it
 * (before its first event), so events are not matched text by text. */
struct output filter_output(struct filter *f);
/* The --user pre-pass output: records the sessions where opts->user tried
 * to log in; it writes nothing. */
struct output filter_collector(struct filter *f);

/* A session began with these "ip:port" endpoints: remembered, so that
 * filter_wants_id and the filtered output can apply --host to it. */
void filter_session_open(struct filter *f, uint64_t id, const char *client,
			 const char *server);
/* Whether session id (with these "ip:port" endpoints) is shown. */
bool filter_wants(const struct filter *f, uint64_t id, const char *client,
		  const char *server);
/* The same from the id alone, for notices: --host applies to sessions
 * announced by filter_session_open (others are not wanted under --host). */
bool filter_wants_id(const struct filter *f, uint64_t id);
/* Whether any event went through the filtered output. */
bool filter_matched(const struct filter *f);

/* Frees the filter but not inner (free that through filter_output's ops). */
void filter_free(struct filter **f);

#endif
