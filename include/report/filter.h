/* --session, --host and --user: which sessions a run shows.
 *
 * The run asks once, when a session opens (filter_wants): a session not
 * wanted gets no output, no --streams or --extract files and no notices
 * shown, so all of them agree.  --user needs to know a session's user
 * before its first event, so a run with --user reads its input twice:
 * the first pass feeds the collector output, which only remembers where
 * the user logged in.  Which events of a shown session the outputs get is
 * report/event_filter.h's. */
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

/* opts (and its strings) must outlive the filter.  NULL on out-of-memory. */
struct filter *filter_new(const struct filter_opts *opts);
/* Charge the --user list of sessions to budget from now on; call before
 * the first session.  A list the budget will not let grow loses sessions,
 * and the collector's finish says so (-1). */
void filter_set_budget(struct filter *f, struct mem_budget *budget);
/* The --user pre-pass output: records the sessions where opts->user tried
 * to log in; it writes nothing. */
struct output filter_collector(struct filter *f);

/* Whether session id (with these "ip:port" endpoints) is shown. */
bool filter_wants(const struct filter *f, uint64_t id, const char *client,
		  const char *server);

/* Frees the filter; sets *f to NULL. */
void filter_free(struct filter **f);

#endif
