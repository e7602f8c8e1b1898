/* --session, --host and --user: which sessions a run shows.
 *
 * A filter sits in front of an output (every event of an unwanted session
 * is dropped) and answers for --streams, --extract and notices too, so all
 * of them agree.  --user needs to know a session's user before its first
 * event, so a run with --user reads its input twice: the first pass feeds
 * the collector output, which only remembers where the user logged in. */
#ifndef IMAPSCOPE_REPORT_FILTER_H
#define IMAPSCOPE_REPORT_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "report/event.h"

struct filter_opts {
	uint64_t session;	/* 0: any */
	const char *host;	/* address of the client or the server, or NULL */
	const char *user;	/* a login user name, or NULL */
};

struct filter;

/* opts (and its strings) must outlive the filter; inner is the output that
 * gets the wanted events (the filter frees it).  NULL on out-of-memory. */
struct filter *filter_new(const struct filter_opts *opts, struct output inner);
/* The filtered output: events of wanted sessions go on to inner. */
struct output filter_output(struct filter *f);
/* The --user pre-pass output: records the sessions where opts->user tried
 * to log in; it writes nothing. */
struct output filter_collector(struct filter *f);

/* Whether session id (with these "ip:port" endpoints) is shown. */
bool filter_wants(const struct filter *f, uint64_t id, const char *client,
		  const char *server);
/* The same from the id alone, for notices; --host is not applied. */
bool filter_wants_id(const struct filter *f, uint64_t id);

/* Frees the filter but not inner (free that through filter_output's ops). */
void filter_free(struct filter **f);

#endif
