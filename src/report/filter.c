#include "report/filter.h"

#include <stdlib.h>
#include <string.h>

struct filter {
	const struct filter_opts *opts;
	struct output inner;
	uint64_t *user_sessions;	/* where --user logged in, sorted */
	size_t n_user, cap_user;
	bool oom;			/* the list could not grow */
};

struct filter *filter_new(const struct filter_opts *opts, struct output inner)
{
	struct filter *f = calloc(1, sizeof *f);

	if (f == NULL)
		return NULL;
	f->opts = opts;
	f->inner = inner;
	return f;
}

/* "192.0.2.1:143" or "[2001:db8::1]:143" against a bare address. */
static bool host_matches(const char *endpoint, const char *host)
{
	size_t hl = strlen(host);

	if (endpoint[0] == '[')
		return strncmp(endpoint + 1, host, hl) == 0 && endpoint[1 + hl] == ']';
	return strncmp(endpoint, host, hl) == 0 && endpoint[hl] == ':';
}

static bool user_session(const struct filter *f, uint64_t id)
{
	size_t lo = 0, hi = f->n_user;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->user_sessions[mid] == id)
			return true;
		if (f->user_sessions[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool filter_wants_id(const struct filter *f, uint64_t id)
{
	if (f->opts->session != 0 && id != f->opts->session)
		return false;
	return f->opts->user == NULL || user_session(f, id);
}

bool filter_wants(const struct filter *f, uint64_t id, const char *client,
		  const char *server)
{
	const char *host = f->opts->host;

	if (host != NULL && !host_matches(client, host) && !host_matches(server, host))
		return false;
	return filter_wants_id(f, id);
}

/* --- the filtered output ------------------------------------------------ */

static void filter_event(void *ctx, const struct event *ev)
{
	struct filter *f = ctx;

	if (filter_wants(f, ev->session, ev->client, ev->server))
		f->inner.ops->event(f->inner.ctx, ev);
}

static int filter_finish(void *ctx)
{
	struct filter *f = ctx;

	return f->inner.ops->finish(f->inner.ctx);
}

static void filter_output_free(void *ctx)
{
	struct filter *f = ctx;

	f->inner.ops->free(f->inner.ctx);
}

static void filter_flush(void *ctx)
{
	struct filter *f = ctx;

	if (f->inner.ops->flush != NULL)
		f->inner.ops->flush(f->inner.ctx);
}

static const struct output_ops filter_ops = {
	filter_event, filter_finish, filter_output_free, filter_flush,
};

struct output filter_output(struct filter *f)
{
	return (struct output){ &filter_ops, f };
}

/* --- the --user pre-pass ------------------------------------------------ */

/* Logins may complete out of session order (concurrent sessions), so the
 * id is inserted in place to keep the list sorted for user_session(). */
static void collect_add(struct filter *f, uint64_t id)
{
	size_t i;

	if (f->n_user == f->cap_user) {
		size_t ncap = f->cap_user ? f->cap_user * 2 : 16;
		uint64_t *n = realloc(f->user_sessions, ncap * sizeof *n);

		if (n == NULL) {
			f->oom = true;
			return;
		}
		f->user_sessions = n;
		f->cap_user = ncap;
	}
	i = f->n_user++;
	while (i > 0 && f->user_sessions[i - 1] > id) {
		f->user_sessions[i] = f->user_sessions[i - 1];
		i--;
	}
	f->user_sessions[i] = id;
}

static bool collect_is_user(const struct filter *f, struct buf_slice u)
{
	size_t want = strlen(f->opts->user);

	return u.ptr != NULL && u.len == want && memcmp(u.ptr, f->opts->user, want) == 0;
}

/* --user names the one who logged in or the identity asked for (SASL
 * authzid): an audit for "admin" must find "lowpriv acting as admin". */
static void collect_event(void *ctx, const struct event *ev)
{
	struct filter *f = ctx;

	if (ev->type != EV_LOGIN || f->opts->user == NULL)
		return;
	if ((collect_is_user(f, ev->u.login.user) || collect_is_user(f, ev->u.login.authzid)) &&
	    !user_session(f, ev->session))
		collect_add(f, ev->session);
}

/* The collector owns nothing, and a list that could not grow means some
 * sessions are missing: finish says so. */
static int collect_finish(void *ctx)
{
	struct filter *f = ctx;

	return f->oom ? -1 : 0;
}

static void collect_free(void *ctx)
{
	(void)ctx;
}

static const struct output_ops collect_ops = {
	collect_event, collect_finish, collect_free, NULL,
};

struct output filter_collector(struct filter *f)
{
	return (struct output){ &collect_ops, f };
}

void filter_free(struct filter **fp)
{
	struct filter *f = *fp;

	if (f == NULL)
		return;
	free(f->user_sessions);
	free(f);
	*fp = NULL;
}
