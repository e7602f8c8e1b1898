#include "report/streams.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/escape.h"

struct stream_gap {
	uint64_t offset, length;
};

struct stream_file {
	char name[64];
	struct buf pending;	/* bytes not yet written */
	uint64_t offset;	/* stream offset, gaps included */
	uint64_t written;	/* bytes in the file (and pending) */
	struct stream_gap *gaps;
	size_t n_gaps, cap_gaps;
	uint64_t gaps_unlisted;
	bool created;
};

struct stream_session {
	uint64_t id;
	char *client, *server;
	struct stream_file f[2];
	struct stream_session *next;
	size_t charged;		/* this struct, client and server */
};

struct streams {
	char *dir;
	FILE *index;
	struct stream_session *sessions;	/* open ones; few at once */
	struct mem_budget *budget;		/* may be NULL */
	uint64_t untracked;			/* sessions refused by the budget */
	int failed;
	char err[STREAMS_ERRLEN];
};

static void streams_fail(struct streams *st, const char *what, const char *name)
{
	if (!st->failed)
		snprintf(st->err, sizeof st->err, "%.250s/%.64s: %.32s: %.100s", st->dir, name,
			 what, strerror(errno));
	st->failed = 1;
}

struct streams *streams_new(const char *dir, struct mem_budget *budget,
			    char err[STREAMS_ERRLEN])
{
	struct streams *st;
	char path[4096];

	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		snprintf(err, STREAMS_ERRLEN, "%.300s: cannot create: %.150s", dir, strerror(errno));
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof path, "%s/index.jsonl", dir) >= sizeof path) {
		snprintf(err, STREAMS_ERRLEN, "%.300s: path too long", dir);
		return NULL;
	}
	st = calloc(1, sizeof *st);
	if (st == NULL || (st->dir = strdup(dir)) == NULL) {
		free(st);
		snprintf(err, STREAMS_ERRLEN, "out of memory");
		return NULL;
	}
	st->index = fopen(path, "w");
	if (st->index == NULL) {
		snprintf(err, STREAMS_ERRLEN, "%.300s: %.150s", path, strerror(errno));
		free(st->dir);
		free(st);
		return NULL;
	}
	st->budget = budget;
	return st;
}

static struct stream_session *streams_find(struct streams *st, uint64_t id)
{
	struct stream_session *s;

	for (s = st->sessions; s != NULL; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

void streams_open(struct streams *st, uint64_t session, const char *client,
		  const char *server)
{
	size_t charged = sizeof(struct stream_session) + strlen(client) + 1 + strlen(server) + 1;
	struct stream_session *s;
	int d;

	/* Refused by the budget: the session goes unwritten, and the run's
	 * refused count says data was dropped. */
	if (mem_charge(st->budget, charged) != 0) {
		st->untracked++;
		return;
	}
	s = calloc(1, sizeof *s);
	if (s == NULL || (s->client = strdup(client)) == NULL ||
	    (s->server = strdup(server)) == NULL) {
		if (s != NULL)
			free(s->client);
		free(s);
		mem_release(st->budget, charged);
		errno = ENOMEM;
		streams_fail(st, "cannot track session", "index.jsonl");
		return;
	}
	s->id = session;
	s->charged = charged;
	for (d = 0; d < 2; d++) {
		snprintf(s->f[d].name, sizeof s->f[d].name, "session-%06" PRIu64 "-%s.bin",
			 session, d == DIR_C2S ? "c2s" : "s2c");
		buf_init(&s->f[d].pending, STREAMS_FLUSH_BYTES * 2, st->budget);
	}
	s->next = st->sessions;
	st->sessions = s;
}

/* Files are opened per flush rather than held open, so that thousands of
 * concurrent sessions never run out of file descriptors.  Writes the
 * pending bytes, then p[0..n) (bytes that could not be buffered). */
static void streams_write(struct streams *st, struct stream_file *f, const uint8_t *p, size_t n)
{
	char path[4096];
	FILE *fp;

	if (f->created && f->pending.len == 0 && n == 0)
		return;
	snprintf(path, sizeof path, "%s/%s", st->dir, f->name);
	fp = fopen(path, f->created ? "a" : "w");
	if (fp == NULL) {
		streams_fail(st, "cannot write", f->name);
		buf_reset(&f->pending);
		return;
	}
	f->created = true;
	if (f->pending.len != 0 && fwrite(f->pending.data, 1, f->pending.len, fp) != f->pending.len)
		streams_fail(st, "write failed", f->name);
	if (n != 0 && fwrite(p, 1, n, fp) != n)
		streams_fail(st, "write failed", f->name);
	if (fclose(fp) != 0)
		streams_fail(st, "write failed", f->name);
	buf_reset(&f->pending);
}

static void streams_flush(struct streams *st, struct stream_file *f)
{
	streams_write(st, f, NULL, 0);
}

void streams_data(void *ctx, uint64_t session, enum stream_dir dir,
		  const uint8_t *p, size_t n)
{
	struct streams *st = ctx;
	struct stream_session *s = streams_find(st, session);
	struct stream_file *f;

	if (s == NULL || n == 0)
		return;
	f = &s->f[dir];
	f->offset += n;
	f->written += n;
	while (n > 0) {
		size_t room = STREAMS_FLUSH_BYTES - (f->pending.len < STREAMS_FLUSH_BYTES ?
						     f->pending.len : STREAMS_FLUSH_BYTES);
		size_t take = n < room ? n : room;

		/* No memory (or budget) to buffer: write unbuffered, lose nothing. */
		if (take > 0 && buf_append(&f->pending, p, take) != 0)
			streams_write(st, f, p, take);
		p += take;
		n -= take;
		if (f->pending.len >= STREAMS_FLUSH_BYTES)
			streams_flush(st, f);
	}
}

void streams_gap(void *ctx, uint64_t session, enum stream_dir dir, uint64_t nbytes)
{
	struct streams *st = ctx;
	struct stream_session *s = streams_find(st, session);
	struct stream_file *f;

	if (s == NULL || nbytes == 0)
		return;
	f = &s->f[dir];
	if (f->n_gaps > 0 &&
	    f->gaps[f->n_gaps - 1].offset + f->gaps[f->n_gaps - 1].length == f->offset) {
		f->gaps[f->n_gaps - 1].length += nbytes;	/* adjacent holes are one */
	} else if (f->n_gaps < STREAMS_MAX_GAPS_LISTED) {
		if (f->n_gaps == f->cap_gaps) {
			size_t ncap = f->cap_gaps ? f->cap_gaps * 2 : 8;
			struct stream_gap *ng = NULL;

			if (mem_charge(st->budget, (ncap - f->cap_gaps) * sizeof *ng) == 0 &&
			    (ng = realloc(f->gaps, ncap * sizeof *ng)) == NULL)
				mem_release(st->budget, (ncap - f->cap_gaps) * sizeof *ng);
			if (ng == NULL) {
				f->gaps_unlisted++;
				f->offset += nbytes;
				return;
			}
			f->gaps = ng;
			f->cap_gaps = ncap;
		}
		f->gaps[f->n_gaps++] = (struct stream_gap){ f->offset, nbytes };
	} else {
		f->gaps_unlisted++;
	}
	f->offset += nbytes;
}

static void streams_put_json_string(struct streams *st, const char *s)
{
	struct buf b;

	buf_init(&b, SIZE_MAX, NULL);
	if (escape_json(&b, (const uint8_t *)s, strlen(s)) == 0)
		fprintf(st->index, "\"%.*s\"", (int)b.len, (const char *)b.data);
	else
		fputs("null", st->index);
	buf_free(&b);
}

static void streams_index_file(struct streams *st, const struct stream_file *f)
{
	size_t i;

	fprintf(st->index, "{\"file\":\"%s\",\"bytes\":%" PRIu64 ",\"gaps\":[", f->name,
		f->written);
	for (i = 0; i < f->n_gaps; i++)
		fprintf(st->index, "%s{\"offset\":%" PRIu64 ",\"length\":%" PRIu64 "}",
			i ? "," : "", f->gaps[i].offset, f->gaps[i].length);
	fprintf(st->index, "],\"gaps_unlisted\":%" PRIu64 "}", f->gaps_unlisted);
}

static void streams_close(struct streams *st, struct stream_session *s)
{
	int d;

	for (d = 0; d < 2; d++)
		streams_flush(st, &s->f[d]);
	fprintf(st->index, "{\"session\":%" PRIu64 ",\"client\":", s->id);
	streams_put_json_string(st, s->client);
	fputs(",\"server\":", st->index);
	streams_put_json_string(st, s->server);
	fputs(",\"c2s\":", st->index);
	streams_index_file(st, &s->f[DIR_C2S]);
	fputs(",\"s2c\":", st->index);
	streams_index_file(st, &s->f[DIR_S2C]);
	fputs("}\n", st->index);
	for (d = 0; d < 2; d++) {
		buf_free(&s->f[d].pending);
		free(s->f[d].gaps);
		mem_release(st->budget, s->f[d].cap_gaps * sizeof *s->f[d].gaps);
	}
	free(s->client);
	free(s->server);
	mem_release(st->budget, s->charged);
	free(s);
}

void streams_end(void *ctx, uint64_t session)
{
	struct streams *st = ctx;
	struct stream_session **pp;

	for (pp = &st->sessions; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->id == session) {
			struct stream_session *s = *pp;

			*pp = s->next;
			streams_close(st, s);
			return;
		}
	}
}

int streams_free(struct streams **stp, char err[STREAMS_ERRLEN])
{
	struct streams *st = *stp;
	int rc;

	if (st == NULL)
		return 0;
	while (st->sessions != NULL)
		streams_end(st, st->sessions->id);
	if (fclose(st->index) != 0)
		streams_fail(st, "write failed", "index.jsonl");
	rc = st->failed ? -1 : 0;
	if (rc != 0)
		snprintf(err, STREAMS_ERRLEN, "%s", st->err);
	free(st->dir);
	free(st);
	*stp = NULL;
	return rc;
}
