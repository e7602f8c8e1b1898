#include "report/filter.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* A sorted list of session ids. */
struct id_list {
	uint64_t *v;
	size_t n, cap;
};

struct filter {
	const struct filter_opts *opts;
	struct id_list user;		/* where --user logged in */
	bool oom;			/* the list could not grow */
	struct mem_budget *budget;	/* charged for the list; may be NULL */
};

#define FILTER_IDS0    16		/* a list's first size */
#define FILTER_IDS_MAX (SIZE_MAX / sizeof(uint64_t))

/* --- options ------------------------------------------------------------ */

static bool ids_has(const uint64_t *v, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] == id)
			return true;
		if (v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Inserts id in place, keeping v sorted; the caller checked room and that
 * id is not there yet. */
static void ids_insert(uint64_t *v, size_t *n, uint64_t id)
{
	size_t i = (*n)++;

	while (i > 0 && v[i - 1] > id) {
		v[i] = v[i - 1];
		i--;
	}
	v[i] = id;
}

/* One decimal id of [p, end): digits only, not 0, no wrap-around. */
static int parse_id(const char *p, const char *end, uint64_t *id_r)
{
	uint64_t v = 0;

	if (p == end)
		return -1;
	for (; p < end; p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (*p < '0' || *p > '9' || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v == 0)
		return -1;
	*id_r = v;
	return 0;
}

int filter_opts_add_sessions(struct filter_opts *o, const char *list)
{
	const char *p = list;

	for (;;) {
		const char *end = strchr(p, ',');
		uint64_t id;

		if (end == NULL)
			end = p + strlen(p);
		if (parse_id(p, end, &id) != 0)
			return -1;
		if (!ids_has(o->sessions, o->n_sessions, id)) {
			if (o->n_sessions == FILTER_MAX_SESSIONS)
				return -1;
			ids_insert(o->sessions, &o->n_sessions, id);
		}
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/* An address of either family in its printed form (inet_ntop's). */
static int canon_addr(const char *s, size_t len, char out[INET6_ADDRSTRLEN])
{
	char tmp[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	int af;

	if (len == 0 || len >= sizeof tmp)
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	af = strchr(tmp, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, tmp, bin) != 1 || inet_ntop(af, bin, out, INET6_ADDRSTRLEN) == NULL)
		return -1;
	return 0;
}

static int parse_port(const char *p, uint16_t *port_r)
{
	uint64_t v;

	if (parse_id(p, p + strlen(p), &v) != 0 || v > 65535)
		return -1;
	*port_r = (uint16_t)v;
	return 0;
}

int filter_opts_set_host(struct filter_opts *o, const char *arg)
{
	const char *colon = strrchr(arg, ':');

	o->host_port = 0;
	if (arg[0] == '[') {		/* "[v6]" or "[v6]:port" */
		const char *close = strchr(arg, ']');

		if (close == NULL || canon_addr(arg + 1, (size_t)(close - arg - 1), o->host_addr) != 0)
			return -1;
		if (close[1] != '\0' && (close[1] != ':' || parse_port(close + 2, &o->host_port) != 0))
			return -1;
	} else if (colon != NULL && strchr(arg, ':') == colon) {	/* "v4:port" */
		if (canon_addr(arg, (size_t)(colon - arg), o->host_addr) != 0 ||
		    strchr(o->host_addr, ':') != NULL || parse_port(colon + 1, &o->host_port) != 0)
			return -1;
	} else if (canon_addr(arg, strlen(arg), o->host_addr) != 0) {	/* bare */
		return -1;
	}
	o->host = arg;
	return 0;
}

bool filter_opts_active(const struct filter_opts *o)
{
	return o->n_sessions != 0 || o->host != NULL || o->user != NULL;
}

/* --- the filter ---------------------------------------------------------- */

struct filter *filter_new(const struct filter_opts *opts)
{
	struct filter *f = calloc(1, sizeof *f);

	if (f == NULL)
		return NULL;
	f->opts = opts;
	return f;
}

void filter_set_budget(struct filter *f, struct mem_budget *budget)
{
	f->budget = budget;
}

/* Adds id once; a list that cannot grow (memory, the budget) sets f->oom. */
static void list_add(struct filter *f, struct id_list *l, uint64_t id)
{
	if (ids_has(l->v, l->n, id))
		return;
	if (l->n == l->cap) {
		uint64_t *n = mem_grow_array(f->budget, l->v, &l->cap, sizeof *n, FILTER_IDS0,
					     FILTER_IDS_MAX);

		if (n == NULL) {
			f->oom = true;
			return;
		}
		l->v = n;
	}
	ids_insert(l->v, &l->n, id);
}

/* An endpoint as flow_endpoint_str prints it ("192.0.2.1:143",
 * "[2001:db8::1]:143") against --host's address and port. */
static bool host_matches(const struct filter_opts *o, const char *endpoint)
{
	const char *addr = endpoint, *colon = strrchr(endpoint, ':');
	size_t len;

	if (colon == NULL)
		return false;
	len = (size_t)(colon - endpoint);
	if (endpoint[0] == '[' && len >= 2 && endpoint[len - 1] == ']') {
		addr++;
		len -= 2;
	}
	if (strlen(o->host_addr) != len || memcmp(addr, o->host_addr, len) != 0)
		return false;
	return o->host_port == 0 || strtoul(colon + 1, NULL, 10) == o->host_port;
}

static bool host_wanted(const struct filter_opts *o, const char *client, const char *server)
{
	return o->host == NULL || (client != NULL && host_matches(o, client)) ||
	       (server != NULL && host_matches(o, server));
}

static bool session_wanted(const struct filter *f, uint64_t id)
{
	const struct filter_opts *o = f->opts;

	if (o->n_sessions != 0 && !ids_has(o->sessions, o->n_sessions, id))
		return false;
	return o->user == NULL || ids_has(f->user.v, f->user.n, id);
}

bool filter_wants(const struct filter *f, uint64_t id, const char *client,
		  const char *server)
{
	return host_wanted(f->opts, client, server) && session_wanted(f, id);
}

/* --- the --user pre-pass ------------------------------------------------ */

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
	if (collect_is_user(f, ev->u.login.user) || collect_is_user(f, ev->u.login.authzid))
		list_add(f, &f->user, ev->session);
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
	.event = collect_event, .finish = collect_finish, .free = collect_free,
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
	mem_release(f->budget, f->user.cap * sizeof(uint64_t));
	free(f->user.v);
	free(f);
	*fp = NULL;
}
