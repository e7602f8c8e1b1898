#include "report/streams.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/escape.h"
#include "util/hashtab.h"
#include "util/list.h"
#include "util/outdir.h"

#define STREAMS_BUCKETS_MIN 64	/* the session table's first size */
#define STREAMS_GAPS0       8	/* a file's first gap array */

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
	struct outdir_id id;	/* the file made, once created */
	bool created;
	bool failed;		/* not written on: its bytes are lost */
};

struct stream_session {
	uint64_t id;
	const char *client, *server;	/* in addrs */
	struct stream_file f[2];
	struct list_node link;			/* in sessions */
	struct hashtab_node hnode;		/* in by_id */
	size_t charged;		/* this struct with addrs */
	char addrs[];		/* client, NUL, server, NUL: one allocation */
};

/* Open sessions by id: every write looks its session up, and tens of
 * thousands may be open at once. */
struct streams {
	struct outdir *od;
	FILE *index;
	struct list_head sessions;		/* newest first */
	struct hashtab by_id;			/* its first array is not charged */
	struct buf esc;				/* a string being escaped */
	struct mem_budget *budget;		/* may be NULL */
	uint64_t untracked;			/* sessions refused by the budget */
	uint64_t failures;
	char err[STREAMS_ERRLEN];
};

/* The first failure is kept for the end of the run; later ones only count. */
static void streams_fail(struct streams *st, const char *what, const char *name)
{
	const char *why = errno == EEXIST ? "something is already there (a planted link?); "
					    "left as it was" :
			  errno == ELOOP || errno == ESTALE ?
					    "replaced during the run (a planted link?)" :
					    strerror(errno);

	if (st->failures++ == 0)
		snprintf(st->err, sizeof st->err, "%.250s/%.64s: %.32s: %.150s",
			 outdir_path(st->od), name, what, why);
}

static uint64_t streams_hash(struct streams *st, uint64_t id)
{
	return hashtab_hash(&st->by_id, &id, sizeof id);
}

struct streams *streams_new(const char *dir, bool force, struct mem_budget *budget,
			    char err[STREAMS_ERRLEN])
{
	struct streams *st = calloc(1, sizeof *st);
	int fd;

	if (st == NULL) {
		snprintf(err, STREAMS_ERRLEN, "out of memory");
		return NULL;
	}
	st->budget = budget;
	hashtab_init(&st->by_id, budget, 0, STREAMS_BUCKETS_MIN, 0);
	buf_init(&st->esc, SIZE_MAX, NULL);
	if (outdir_open(&st->od, dir, force, err) != 0) {
		free(st);
		return NULL;
	}
	fd = outdir_create(st->od, OUTDIR_INDEX, NULL);
	if (fd < 0 || (st->index = fdopen(fd, "w")) == NULL) {
		snprintf(err, STREAMS_ERRLEN, "%.300s/%s: %.150s", outdir_path(st->od),
			 OUTDIR_INDEX, strerror(errno));
		if (fd >= 0)
			close(fd);
	} else if (hashtab_start(&st->by_id, HASHTAB_FIRST_FREE) != 0) {
		/* small: a run under any budget writes what it admits */
		snprintf(err, STREAMS_ERRLEN, "out of memory");
		fclose(st->index);
		st->index = NULL;
	}
	if (st->index == NULL) {
		buf_free(&st->esc);
		outdir_free(&st->od);
		free(st);
		return NULL;
	}
	return st;
}

static struct stream_session *streams_find(struct streams *st, uint64_t id)
{
	uint64_t h = streams_hash(st, id);
	struct hashtab_node *n;

	for (n = hashtab_first(&st->by_id, h); n != NULL; n = hashtab_next(n, h)) {
		struct stream_session *s = HASHTAB_ENTRY(n, struct stream_session, hnode);

		if (s->id == id)
			return s;
	}
	return NULL;
}

void streams_open(struct streams *st, uint64_t session, const char *client,
		  const char *server)
{
	size_t lc = strlen(client) + 1, ls = strlen(server) + 1;
	size_t charged = sizeof(struct stream_session) + lc + ls;
	struct stream_session *s;
	int d;

	/* Refused by the budget: the session goes unwritten, and the run's
	 * refused count says data was dropped. */
	if (mem_charge(st->budget, charged) != 0) {
		st->untracked++;
		return;
	}
	if ((s = calloc(1, charged)) == NULL) {
		mem_release(st->budget, charged);
		errno = ENOMEM;
		streams_fail(st, "cannot track session", OUTDIR_INDEX);
		return;
	}
	memcpy(s->addrs, client, lc);
	memcpy(s->addrs + lc, server, ls);
	s->client = s->addrs;
	s->server = s->addrs + lc;
	s->id = session;
	s->charged = charged;
	for (d = 0; d < 2; d++) {
		snprintf(s->f[d].name, sizeof s->f[d].name, "session-%06" PRIu64 "-%s.bin",
			 session, d == DIR_C2S ? "c2s" : "s2c");
		buf_init(&s->f[d].pending, STREAMS_FLUSH_BYTES * 2, st->budget);
	}
	/* a table the budget will not let grow stays correct, only slower */
	hashtab_reserve(&st->by_id);
	hashtab_link(&st->by_id, &s->hnode, streams_hash(st, session));
	list_push_front(&st->sessions, &s->link);
}

/* Files are opened per flush rather than held open, so that thousands of
 * concurrent sessions never run out of file descriptors.  Made once with
 * O_EXCL and opened again only if it is still that file: a link planted in
 * the folder is never written through.  Writes the pending bytes, then
 * p[0..n) (bytes that could not be buffered). */
static void streams_write(struct streams *st, struct stream_file *f, const uint8_t *p, size_t n,
			  bool last)
{
	int fd;

	if (f->failed || (f->created && f->pending.len == 0 && n == 0)) {
		buf_reset(&f->pending);
		return;
	}
	/* a file made at its last write is never opened again: no identity */
	fd = f->created ? outdir_reopen(st->od, f->name, &f->id)
			: outdir_create(st->od, f->name, last ? NULL : &f->id);
	if (fd < 0) {
		streams_fail(st, f->created ? "cannot write" : "cannot create", f->name);
		f->failed = true;
		buf_reset(&f->pending);
		return;
	}
	f->created = true;
	if (outdir_write_all(fd, f->pending.data, f->pending.len) != 0 ||
	    outdir_write_all(fd, p, n) != 0)
		streams_fail(st, "write failed", f->name);
	if (close(fd) != 0)
		streams_fail(st, "write failed", f->name);
	buf_reset(&f->pending);
}

static void streams_flush(struct streams *st, struct stream_file *f, bool last)
{
	streams_write(st, f, NULL, 0, last);
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
			streams_write(st, f, p, take, false);
		p += take;
		n -= take;
		if (f->pending.len >= STREAMS_FLUSH_BYTES)
			streams_flush(st, f, false);
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
			struct stream_gap *ng = mem_grow_array(st->budget, f->gaps, &f->cap_gaps,
							       sizeof *ng, STREAMS_GAPS0,
							       STREAMS_MAX_GAPS_LISTED);

			if (ng == NULL) {
				f->gaps_unlisted++;
				f->offset += nbytes;
				return;
			}
			f->gaps = ng;
		}
		f->gaps[f->n_gaps++] = (struct stream_gap){ f->offset, nbytes };
	} else {
		f->gaps_unlisted++;
	}
	f->offset += nbytes;
}

static void streams_put_json_string(struct streams *st, const char *s)
{
	buf_reset(&st->esc);
	if (escape_json(&st->esc, (const uint8_t *)s, strlen(s)) == 0)
		fprintf(st->index, "\"%.*s\"", (int)st->esc.len, (const char *)st->esc.data);
	else
		fputs("null", st->index);
}

static void streams_index_file(struct streams *st, const struct stream_file *f)
{
	size_t i;

	/* a file this run could not make is not ours to point at */
	if (f->failed && !f->created)
		fputs("{\"file\":null,\"failed\":true", st->index);
	else
		fprintf(st->index, "{\"file\":\"%s\"%s", f->name,
			f->failed ? ",\"failed\":true" : "");
	fprintf(st->index, ",\"bytes\":%" PRIu64 ",\"gaps\":[", f->written);
	for (i = 0; i < f->n_gaps; i++)
		fprintf(st->index, "%s{\"offset\":%" PRIu64 ",\"length\":%" PRIu64 "}",
			i ? "," : "", f->gaps[i].offset, f->gaps[i].length);
	fprintf(st->index, "],\"gaps_unlisted\":%" PRIu64 "}", f->gaps_unlisted);
}

static void streams_close(struct streams *st, struct stream_session *s)
{
	int d;

	for (d = 0; d < 2; d++)
		streams_flush(st, &s->f[d], true);
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
	mem_release(st->budget, s->charged);
	free(s);
}

void streams_end(void *ctx, uint64_t session)
{
	struct streams *st = ctx;
	struct stream_session *s = streams_find(st, session);

	if (s == NULL)
		return;
	hashtab_unlink(&st->by_id, &s->hnode);
	list_unlink(&st->sessions, &s->link);
	streams_close(st, s);
}

int streams_free(struct streams **stp, char err[STREAMS_ERRLEN])
{
	struct streams *st = *stp;
	int rc;

	if (st == NULL)
		return 0;
	while (!list_empty(&st->sessions))
		streams_end(st, LIST_ENTRY(list_first(&st->sessions), struct stream_session,
					   link)->id);
	if (fclose(st->index) != 0)
		streams_fail(st, "write failed", OUTDIR_INDEX);
	rc = st->failures != 0 ? -1 : 0;
	if (st->failures > 1)
		snprintf(err, STREAMS_ERRLEN, "%.400s (and %" PRIu64 " more failures)", st->err,
			 st->failures - 1);
	else if (rc != 0)
		snprintf(err, STREAMS_ERRLEN, "%s", st->err);
	hashtab_free(&st->by_id);
	buf_free(&st->esc);
	outdir_free(&st->od);
	free(st);
	*stp = NULL;
	return rc;
}
