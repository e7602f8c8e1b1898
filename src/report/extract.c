/* --extract DIR: message bodies as files, one index line each (see
 * report/extract.h).
 *
 * An item lives from begin to end.  Its bytes go through SHA-256 as they
 * come and into a small buffer (charged to the budget); a body that fits
 * is written once, straight to its content name, when it is complete.  A
 * larger one spills to a temporary file in DIR (so a rename to the content
 * name stays on one file system); when the announced size is accounted
 * for, or at end, the file is closed and renamed to its content name, or
 * removed when that name already exists (a duplicate).  Only the index
 * line waits for end, because a FETCH's UID may follow its body.
 *
 * Thousands of literals may be in flight at once (one per session), so
 * descriptors are few: at most EXTRACT_MAX_OPEN temporary files are open,
 * the least recently written is closed to make room and opened again when
 * its next bytes come, and when the process runs out of descriptors anyway
 * one of ours is closed and the open tried again.  Every file is made and
 * opened again through util/outdir.h: 0600, never through a link. */
#include "report/extract.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "report/render.h"
#include "util/escape.h"
#include "util/list.h"
#include "util/outdir.h"

#define EXTRACT_SHA_LEN 32			/* SHA-256 digest bytes */
#define EXTRACT_HEX_LEN (EXTRACT_SHA_LEN * 2)
#define EXTRACT_TMP_PREFIX ".extract-"	/* hidden: never mistaken for a body */
#define EXTRACT_INDEX OUTDIR_INDEX
#define EXTRACT_BUF_BYTES (16 * 1024)		/* a body buffered before it spills */
#define EXTRACT_MAX_OPEN 32			/* temporary files open at once */
#define EXTRACT_LINE_MAX (16 * 1024)		/* one index line, fields escaped */
/* "<hex>.<section>.truncated.part" and its NUL */
#define EXTRACT_NAME_MAX (EXTRACT_HEX_LEN + EXTRACT_MAX_SECTION_NAME + 32)

struct extract_hole {
	uint64_t offset, bytes;
};

struct extract_item {
	uint64_t session;
	char *client, *server;
	enum stream_dir dir;
	struct buf section, user, mailbox;
	bool has_section, has_user, has_mailbox;
	uint64_t seq, uid, size;
	uint64_t uidvalidity;		/* FACT_NONE: not known */
	int64_t ts_us;

	struct buf pending;		/* bytes not yet in a file */
	bool has_tmp;			/* the temporary file exists */
	int fd;				/* open on it, or -1 */
	struct outdir_id id;
	char tmp[OUTDIR_TMP_NAME_MAX];
	struct list_node lru;		/* in the writer's lru while fd is open */
	EVP_MD_CTX *md;
	uint64_t received, lost;
	struct extract_hole holes[EXTRACT_MAX_HOLES];
	size_t n_holes;
	uint64_t holes_unlisted;

	bool closed;			/* the file has its content name */
	bool failed;			/* a write failed: not indexed */
	bool duplicate;
	char hex[EXTRACT_HEX_LEN + 1];
	char name[EXTRACT_NAME_MAX];

	struct list_node link;		/* in the writer's live items */
	size_t charged;			/* this struct, client and server */
};

struct extract {
	struct outdir *od;
	FILE *index;
	struct list_head live;		/* newest first */
	struct list_head lru;		/* items with an open fd, most recent first */
	size_t n_open;
	struct buf line;		/* the index line being made */
	struct extract_stats st;
	struct mem_budget *budget;	/* open items; may be NULL */
	uint64_t failures;
	char err[EXTRACT_ERRLEN];
};

/* The first failure is kept for the end of the run; later ones only count. */
static void extract_fail(struct extract *x, const char *what, const char *name)
{
	const char *why = errno == EEXIST ? "something is already there (a planted link?); "
					    "left as it was" :
			  errno == ELOOP || errno == ESTALE ?
					    "a link or another file is there (planted?); "
					    "not written through" :
			  strerror(errno);

	if (x->failures++ == 0)
		snprintf(x->err, sizeof x->err, "%.250s/%.100s: %.32s: %.120s",
			 outdir_path(x->od), name, what, why);
}

struct extract *extract_new(const char *dir, bool force, struct mem_budget *budget,
			    char err[EXTRACT_ERRLEN])
{
	struct extract *x = calloc(1, sizeof *x);
	int fd;

	if (x == NULL) {
		snprintf(err, EXTRACT_ERRLEN, "out of memory");
		return NULL;
	}
	if (outdir_open(&x->od, dir, force, err) != 0) {
		free(x);
		return NULL;
	}
	fd = outdir_create(x->od, EXTRACT_INDEX, NULL);
	if (fd < 0 || (x->index = fdopen(fd, "w")) == NULL) {
		snprintf(err, EXTRACT_ERRLEN, "%.300s/%s: %.150s", outdir_path(x->od),
			 EXTRACT_INDEX, strerror(errno));
		if (fd >= 0)
			close(fd);
		outdir_free(&x->od);
		free(x);
		return NULL;
	}
	buf_init(&x->line, EXTRACT_LINE_MAX, NULL);
	x->budget = budget;
	return x;
}

/* --- names ------------------------------------------------------------- */

bool extract_section_is_whole(struct buf_slice section)
{
	static const char *const whole[] = {
		"BODY[]", "BODY.PEEK[]", "BINARY[]", "BINARY.PEEK[]", "RFC822",
	};

	if (section.ptr == NULL)
		return true;	/* APPEND */
	for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
		if (buf_slice_ieq(section, whole[i]))
			return true;
	return false;
}

/* One section byte as it may stand in a file name: itself, '_', or 0 for
 * nothing.  Only characters with no meaning to a path are let through. */
static char extract_name_char(uint8_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return (char)c;
	if (c == '.' || c == '-' || c == '_' || c == '[' || c == ']' || c == '<' || c == '>')
		return (char)c;
	if (c == '(' || c == ')' || c == '"')
		return 0;
	return '_';
}

size_t extract_section_name(char *dst, struct buf_slice section)
{
	size_t n = 0;
	char prev = '.';	/* it follows the digest's "." */

	for (size_t i = 0; i < section.len && n < EXTRACT_MAX_SECTION_NAME; i++) {
		char c = extract_name_char(section.ptr[i]);

		if (c == 0 || (c == '.' && prev == '.') || (c == '_' && prev == '_'))
			continue;	/* no "..", no runs of "_" */
		dst[n++] = c;
		prev = c;
	}
	while (n > 0 && dst[n - 1] == '.')
		n--;		/* the suffix's "." follows: no ".." there either */
	if (n == 0) {
		memcpy(dst, "part", 4);
		n = 4;
	}
	dst[n] = '\0';
	return n;
}

static void extract_make_name(struct extract_item *it, bool truncated)
{
	const char *cut = truncated ? ".truncated" : "";
	char sec[EXTRACT_MAX_SECTION_NAME + 1];
	struct buf_slice s = { it->section.data, it->section.len };

	if (!it->has_section || extract_section_is_whole(s)) {
		snprintf(it->name, sizeof it->name, "%s%s.eml", it->hex, cut);
		return;
	}
	extract_section_name(sec, s);
	snprintf(it->name, sizeof it->name, "%s.%s%s.part", it->hex, sec, cut);
}

/* --- descriptors ------------------------------------------------------- */

/* The item's descriptor goes (its file stays, to be opened again); false
 * if closing reported a write error. */
static bool extract_fd_close(struct extract *x, struct extract_item *it)
{
	int rc;

	if (it->fd < 0)
		return true;
	list_unlink(&x->lru, &it->lru);
	x->n_open--;
	rc = close(it->fd);
	it->fd = -1;
	return rc == 0;
}

/* The least recently written item's descriptor goes; false if none is open. */
static bool extract_fd_evict(struct extract *x)
{
	struct extract_item *v;

	if (list_empty(&x->lru))
		return false;
	v = LIST_ENTRY(list_last(&x->lru), struct extract_item, lru);
	if (!extract_fd_close(x, v)) {
		extract_fail(x, "write failed", v->tmp);
		v->failed = true;
	}
	return true;
}

/* An open descriptor on the item's temporary file, made at its first
 * spill.  false when it could not be had: the item is then failed. */
static bool extract_fd(struct extract *x, struct extract_item *it)
{
	if (it->fd >= 0) {
		list_move_front(&x->lru, &it->lru);
		return true;
	}
	if (x->n_open >= EXTRACT_MAX_OPEN)
		extract_fd_evict(x);
	do {
		it->fd = it->has_tmp ? outdir_reopen(x->od, it->tmp, &it->id)
				     : outdir_create_tmp(x->od, EXTRACT_TMP_PREFIX, it->tmp, &it->id);
	} while (it->fd < 0 && (errno == EMFILE || errno == ENFILE) && extract_fd_evict(x));
	if (it->fd < 0) {
		extract_fail(x, it->has_tmp ? "cannot open again" : "cannot create",
			     it->has_tmp ? it->tmp : EXTRACT_TMP_PREFIX "*");
		it->failed = true;
		return false;
	}
	it->has_tmp = true;
	x->n_open++;
	list_push_front(&x->lru, &it->lru);
	return true;
}

/* --- items ------------------------------------------------------------- */

static bool extract_keep(struct buf *b, struct buf_slice s, struct mem_budget *budget)
{
	buf_init(b, EXTRACT_MAX_FIELD, budget);
	if (s.ptr == NULL)
		return false;
	return buf_append(b, s.ptr, s.len < EXTRACT_MAX_FIELD ? s.len : EXTRACT_MAX_FIELD) == 0;
}

static void extract_item_free(struct extract *x, struct extract_item *it)
{
	list_unlink(&x->live, &it->link);
	extract_fd_close(x, it);
	if (it->has_tmp)
		outdir_unlink(x->od, it->tmp);
	EVP_MD_CTX_free(it->md);
	buf_free(&it->pending);
	buf_free(&it->section);
	buf_free(&it->user);
	buf_free(&it->mailbox);
	free(it->client);
	free(it->server);
	mem_release(x->budget, it->charged);
	free(it);
}

struct extract_item *extract_begin(struct extract *x, uint64_t session,
				   const struct extract_meta *m)
{
	const char *client = m->client ? m->client : "?", *server = m->server ? m->server : "?";
	size_t charged = sizeof(struct extract_item) + strlen(client) + 1 + strlen(server) + 1;
	struct extract_item *it;

	/* Refused by the budget: not stored, counted as dropped like an
	 * allocation that failed. */
	if (mem_charge(x->budget, charged) != 0) {
		x->st.dropped++;
		return NULL;
	}
	if ((it = calloc(1, sizeof *it)) == NULL) {
		mem_release(x->budget, charged);
		x->st.dropped++;
		return NULL;
	}
	it->charged = charged;
	it->fd = -1;
	buf_init(&it->pending, EXTRACT_BUF_BYTES, x->budget);
	it->session = session;
	it->dir = m->dir;
	it->seq = m->seq;
	it->uid = m->uid;
	it->uidvalidity = m->uidvalidity;
	it->size = m->size;
	it->ts_us = m->ts_us;
	it->has_section = extract_keep(&it->section, m->section, x->budget);
	it->has_user = extract_keep(&it->user, m->user, x->budget);
	it->has_mailbox = extract_keep(&it->mailbox, m->mailbox, x->budget);
	it->client = strdup(client);
	it->server = strdup(server);
	it->md = EVP_MD_CTX_new();
	list_push_front(&x->live, &it->link);
	if (it->client == NULL || it->server == NULL || it->md == NULL ||
	    EVP_DigestInit_ex(it->md, EVP_sha256(), NULL) != 1 ||
	    (m->section.ptr != NULL && !it->has_section)) {
		x->st.dropped++;
		extract_item_free(x, it);
		return NULL;
	}
	return it;
}

/* The item's bytes so far, then p[0..n), into its temporary file. */
static void extract_spill(struct extract *x, struct extract_item *it, const uint8_t *p, size_t n)
{
	if (!extract_fd(x, it))
		return;
	if (outdir_write_all(it->fd, it->pending.data, it->pending.len) != 0 ||
	    outdir_write_all(it->fd, p, n) != 0) {
		extract_fail(x, "write failed", it->tmp);
		it->failed = true;
	}
	buf_reset(&it->pending);
}

/* The temporary file gets its content name, or goes when that name is
 * already there: content-addressed, so the bytes are the same. */
static void extract_place(struct extract *x, struct extract_item *it)
{
	int rc = outdir_place(x->od, it->tmp, it->name);

	if (rc < 0) {
		extract_fail(x, "cannot rename to", it->name);
		it->failed = true;
	}
	if (rc != 0)
		outdir_unlink(x->od, it->tmp);
	it->duplicate = rc == 1;
	it->has_tmp = false;
}

/* A body that never left its buffer: written once, to its content name. */
static void extract_write_whole(struct extract *x, struct extract_item *it)
{
	int fd = outdir_create(x->od, it->name, NULL);

	if (fd < 0) {
		if (errno == EEXIST && outdir_is_regular(x->od, it->name)) {
			it->duplicate = true;
			return;
		}
		extract_fail(x, "cannot create", it->name);
		it->failed = true;
		return;
	}
	if (outdir_write_all(fd, it->pending.data, it->pending.len) != 0) {
		extract_fail(x, "write failed", it->name);
		it->failed = true;
	}
	if (close(fd) != 0 && !it->failed) {
		extract_fail(x, "write failed", it->name);
		it->failed = true;
	}
	if (it->failed)
		outdir_unlink(x->od, it->name);
	buf_reset(&it->pending);
}

static void extract_hex(char *dst, const uint8_t *md, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[md[i] >> 4];
		dst[2 * i + 1] = digits[md[i] & 15];
	}
	dst[2 * n] = '\0';
}

static bool extract_truncated(const struct extract_item *it)
{
	return it->lost != 0 || it->received < it->size;
}

/* Every byte that will come is in: close, hash, name.  Once only.  An empty
 * literal makes an empty file; one of which nothing arrived makes none. */
static void extract_close(struct extract *x, struct extract_item *it)
{
	uint8_t md[EXTRACT_SHA_LEN];
	unsigned int mdlen = 0;

	if (it->closed || it->failed)
		return;
	it->closed = true;
	if (it->received == 0 && it->size != 0)
		return;
	if (EVP_DigestFinal_ex(it->md, md, &mdlen) != 1 || mdlen != EXTRACT_SHA_LEN) {
		it->failed = true;
		return;
	}
	extract_hex(it->hex, md, EXTRACT_SHA_LEN);
	extract_make_name(it, extract_truncated(it));
	if (!it->has_tmp) {
		extract_write_whole(x, it);
		return;
	}
	if (it->pending.len != 0)
		extract_spill(x, it, NULL, 0);
	if (!extract_fd_close(x, it) && !it->failed) {
		extract_fail(x, "write failed", it->tmp);
		it->failed = true;
	}
	if (it->failed)
		return;
	extract_place(x, it);
}

static bool extract_all_in(const struct extract_item *it)
{
	return it->received + it->lost >= it->size;
}

void extract_data(struct extract *x, struct extract_item *it, const uint8_t *p, size_t n)
{
	if (it == NULL || n == 0 || it->closed || it->failed)
		return;
	if (EVP_DigestUpdate(it->md, p, n) != 1) {
		it->failed = true;
		return;
	}
	/* Buffered while it fits (the budget may say no: then it is written
	 * at once, nothing is lost). */
	if (it->pending.len + n > EXTRACT_BUF_BYTES || buf_append(&it->pending, p, n) != 0)
		extract_spill(x, it, p, n);
	if (it->failed)
		return;
	it->received += n;
	if (extract_all_in(it))
		extract_close(x, it);
}

void extract_gap(struct extract *x, struct extract_item *it, uint64_t nbytes)
{
	struct extract_hole *last;

	if (it == NULL || nbytes == 0 || it->closed || it->failed)
		return;
	last = it->n_holes ? &it->holes[it->n_holes - 1] : NULL;
	if (last != NULL && last->offset == it->received)
		last->bytes += nbytes;	/* adjacent holes are one */
	else if (it->n_holes < EXTRACT_MAX_HOLES)
		it->holes[it->n_holes++] = (struct extract_hole){ it->received, nbytes };
	else
		it->holes_unlisted++;
	it->lost += nbytes;
	if (extract_all_in(it))
		extract_close(x, it);
}

/* --- the index --------------------------------------------------------- */

static int extract_put_str(struct buf *b, const char *key, const struct buf *v, bool has)
{
	int rc = LIT(b, ",\"") | output_put(b, key, strlen(key)) | LIT(b, "\":");

	if (!has)
		return rc | LIT(b, "null");
	return rc | LIT(b, "\"") | escape_json(b, v->data ? v->data : (const uint8_t *)"", v->len) |
	       LIT(b, "\"");
}

static int extract_put_u64(struct buf *b, const char *key, uint64_t v, bool has)
{
	int rc = LIT(b, ",\"") | output_put(b, key, strlen(key)) | LIT(b, "\":");

	return rc | (has ? output_append_u64(b, v) : LIT(b, "null"));
}

static int extract_put_cstr(struct buf *b, const char *key, const char *v)
{
	return LIT(b, ",\"") | output_put(b, key, strlen(key)) | LIT(b, "\":\"") |
	       escape_json(b, (const uint8_t *)v, strlen(v)) | LIT(b, "\"");
}

static int extract_put_holes(struct buf *b, const struct extract_item *it)
{
	int rc = LIT(b, ",\"holes\":[");

	for (size_t i = 0; i < it->n_holes; i++)
		rc |= (i ? LIT(b, ",") : 0) | LIT(b, "{\"offset\":") |
		      output_append_u64(b, it->holes[i].offset) | LIT(b, ",\"bytes\":") |
		      output_append_u64(b, it->holes[i].bytes) | LIT(b, "}");
	return rc | LIT(b, "]") | extract_put_u64(b, "holes_unlisted", it->holes_unlisted, true);
}

static int extract_format(struct buf *b, const struct extract_item *it)
{
	bool cut = extract_truncated(it);
	int rc;

	buf_reset(b);
	rc = LIT(b, "{\"ts\":\"") | output_time_append_rfc3339(b, NULL, it->ts_us) |
	     LIT(b, "\"") | extract_put_u64(b, "session", it->session, true) |
	     extract_put_cstr(b, "client", it->client) | extract_put_cstr(b, "server", it->server) |
	     extract_put_cstr(b, "direction", it->dir == DIR_C2S ? "appended" : "fetched") |
	     extract_put_str(b, "user", &it->user, it->has_user) |
	     extract_put_str(b, "mailbox", &it->mailbox, it->has_mailbox) |
	     extract_put_u64(b, "uidvalidity", it->uidvalidity,
				     it->uidvalidity != FACT_NONE && it->uidvalidity != 0) |
	     extract_put_u64(b, "uid", it->uid, it->uid != 0) |
	     extract_put_u64(b, "seq", it->seq, it->seq != 0) |
	     extract_put_str(b, "section", &it->section, it->has_section) |
	     extract_put_u64(b, "size", it->received, true) |
	     extract_put_u64(b, "announced", it->size, true) |
	     extract_put_u64(b, "missing", it->size - it->received, true) |
	     extract_put_cstr(b, "sha256", it->hex) |
	     LIT(b, ",\"complete\":") | (cut ? LIT(b, "false") : LIT(b, "true")) |
	     LIT(b, ",\"truncated\":") | (cut ? LIT(b, "true") : LIT(b, "false")) |
	     LIT(b, ",\"duplicate\":") | (it->duplicate ? LIT(b, "true") : LIT(b, "false")) |
	     extract_put_holes(b, it) | extract_put_cstr(b, "file", it->name) | LIT(b, "}\n");
	return rc;
}

static void extract_index(struct extract *x, struct extract_item *it)
{
	if (extract_format(&x->line, it) != 0) {
		errno = ENOMEM;
		extract_fail(x, "index line too long", EXTRACT_INDEX);
		x->st.dropped++;
		return;
	}
	if (fwrite(x->line.data, 1, x->line.len, x->index) != x->line.len)
		extract_fail(x, "write failed", EXTRACT_INDEX);
	x->st.items++;
	x->st.truncated += extract_truncated(it);
	x->st.duplicates += it->duplicate;
	x->st.files += !it->duplicate;
}

void extract_end(struct extract *x, struct extract_item *it, uint64_t uid, uint64_t seq,
		 bool unsent)
{
	if (it == NULL)
		return;
	if (unsent && it->received == 0) {
		extract_item_free(x, it);
		return;
	}
	if (uid != 0)
		it->uid = uid;
	if (seq != 0)
		it->seq = seq;
	extract_close(x, it);
	if (it->failed)
		x->st.dropped++;
	else if (it->hex[0] != '\0')
		extract_index(x, it);	/* else: not a byte of it arrived */
	extract_item_free(x, it);
}

void extract_get_stats(const struct extract *x, struct extract_stats *st_r)
{
	*st_r = x->st;
}

int extract_free(struct extract **xp, char err[EXTRACT_ERRLEN])
{
	struct extract *x = *xp;
	int rc;

	if (x == NULL)
		return 0;
	while (!list_empty(&x->live))
		extract_end(x, LIST_ENTRY(list_first(&x->live), struct extract_item, link),
			    0, 0, false);
	if (fclose(x->index) != 0)
		extract_fail(x, "write failed", EXTRACT_INDEX);
	rc = x->failures != 0 ? -1 : 0;
	if (x->failures > 1)
		snprintf(err, EXTRACT_ERRLEN, "%.400s (and %" PRIu64 " more failures)", x->err,
			 x->failures - 1);
	else if (rc != 0)
		snprintf(err, EXTRACT_ERRLEN, "%s", x->err);
	buf_free(&x->line);
	outdir_free(&x->od);
	free(x);
	*xp = NULL;
	return rc;
}
