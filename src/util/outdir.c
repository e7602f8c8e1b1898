/* Output folders and files that a planted link cannot redirect (see
 * util/outdir.h).
 *
 * The folder is opened once with O_DIRECTORY|O_NOFOLLOW and every name is
 * resolved under that descriptor, so renaming or replacing DIR's parents
 * during the run changes nothing, and no name given here has a '/'. */
#include "util/outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/hash.h"

#define OUTDIR_SHA_HEX 64		/* a body name starts with the digest */
#define OUTDIR_NAME_MAX 255		/* one path component */
#define OUTDIR_FILE_KEY "\"file\":\""	/* how both indexes list a file */

struct outdir {
	char *path;
	int dfd;
	uint64_t seed, counter;	/* temporary names nobody can guess */
};

/* What a look at the folder found: the first entry, the first symbolic
 * link, and the first entry with one of our names. */
struct outdir_scan {
	size_t entries;
	char first[OUTDIR_NAME_MAX + 1];
	char link[OUTDIR_NAME_MAX + 1];
	char ours[OUTDIR_NAME_MAX + 1];
	bool ours_is_link;
};

static void outdir_err(char err[OUTDIR_ERRLEN], const struct outdir *od, const char *name,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void outdir_err(char err[OUTDIR_ERRLEN], const struct outdir *od, const char *name,
		       const char *fmt, ...)
{
	int n;
	va_list ap;

	n = snprintf(err, OUTDIR_ERRLEN, "%.250s%s%.100s: ", od->path, name ? "/" : "",
		     name ? name : "");
	if (n < 0 || n >= OUTDIR_ERRLEN)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, OUTDIR_ERRLEN - (size_t)n, fmt, ap);
	va_end(ap);
}

/* --- names ------------------------------------------------------------- */

static bool outdir_is_stream_name(const char *s)
{
	size_t digits = 0;

	if (strncmp(s, "session-", 8) != 0)
		return false;
	s += 8;
	while (s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (digits < 6 || digits > 20)
		return false;
	return strcmp(s + digits, "-c2s.bin") == 0 || strcmp(s + digits, "-s2c.bin") == 0;
}

static bool outdir_body_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_' || c == '[' || c == ']' || c == '<' || c == '>';
}

static bool outdir_ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool outdir_is_body_name(const char *s)
{
	size_t n = strnlen(s, OUTDIR_NAME_MAX + 1), i;

	if (n > OUTDIR_NAME_MAX || n <= OUTDIR_SHA_HEX || s[OUTDIR_SHA_HEX] != '.')
		return false;
	for (i = 0; i < OUTDIR_SHA_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	for (; i < n; i++)
		if (!outdir_body_char(s[i]))
			return false;
	if (strstr(s, "..") != NULL)
		return false;
	return outdir_ends_with(s, n, ".eml") || outdir_ends_with(s, n, ".part");
}

bool outdir_name_is_ours(const char *name)
{
	return outdir_is_stream_name(name) || outdir_is_body_name(name);
}

/* --- looking at the folder --------------------------------------------- */

static bool outdir_entry_is_link(int dfd, const struct dirent *e)
{
	struct stat sb;

	if (e->d_type != DT_UNKNOWN)
		return e->d_type == DT_LNK;
	return fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode);
}

/* For a message only: a name someone else put there may hold terminal
 * controls, so every byte that is not printable ASCII becomes '?'. */
static void outdir_keep_name(char dst[OUTDIR_NAME_MAX + 1], const char *name)
{
	size_t i;

	if (dst[0] != '\0')
		return;
	for (i = 0; i < OUTDIR_NAME_MAX && name[i] != '\0'; i++)
		dst[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	dst[i] = '\0';
}

static int outdir_scan(struct outdir *od, struct outdir_scan *sc, char err[OUTDIR_ERRLEN])
{
	int fd = dup(od->dfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;

	memset(sc, 0, sizeof *sc);
	if (d == NULL) {
		outdir_err(err, od, NULL, "cannot read: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d);	/* a dup shares its offset with the folder's descriptor */
	while ((e = readdir(d)) != NULL) {
		bool link;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		link = outdir_entry_is_link(od->dfd, e);
		sc->entries++;
		outdir_keep_name(sc->first, e->d_name);
		if (link)
			outdir_keep_name(sc->link, e->d_name);
		if (sc->ours[0] == '\0' &&
		    (outdir_name_is_ours(e->d_name) || strcmp(e->d_name, OUTDIR_INDEX) == 0)) {
			outdir_keep_name(sc->ours, e->d_name);
			sc->ours_is_link = link;
		}
	}
	closedir(d);
	return 0;
}

/* --- an earlier run's index -------------------------------------------- */

/* One name the old index lists: checked (no link, no other kind of file)
 * or removed.  Names not of our patterns were skipped by the caller. */
static int outdir_listed(struct outdir *od, const char *name, bool remove,
			 char err[OUTDIR_ERRLEN])
{
	struct stat sb;

	if (remove) {
		if (unlinkat(od->dfd, name, 0) != 0 && errno != ENOENT) {
			outdir_err(err, od, name, "cannot remove: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (fstatat(od->dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return 0;	/* already gone */
	if (S_ISLNK(sb.st_mode)) {
		outdir_err(err, od, name, "is a symbolic link (planted?); not touched");
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		outdir_err(err, od, name, "is not a regular file; not touched");
		return -1;
	}
	return 0;
}

/* Every "file":"NAME" of a line.  A name cut by the end of an overlong
 * line is missed: its file then stays, and the check after removal refuses
 * the folder, which is the safe side. */
static int outdir_line(struct outdir *od, const char *line, bool remove,
		       char err[OUTDIR_ERRLEN])
{
	const char *p = line, *end;
	char name[OUTDIR_NAME_MAX + 1];

	while ((p = strstr(p, OUTDIR_FILE_KEY)) != NULL) {
		p += sizeof OUTDIR_FILE_KEY - 1;
		end = strchr(p, '"');
		if (end == NULL)
			return 0;
		if ((size_t)(end - p) <= OUTDIR_NAME_MAX) {
			memcpy(name, p, (size_t)(end - p));
			name[end - p] = '\0';
			if (outdir_name_is_ours(name) && outdir_listed(od, name, remove, err) != 0)
				return -1;
		}
		p = end + 1;
	}
	return 0;
}

static int outdir_index_walk(struct outdir *od, bool remove, char err[OUTDIR_ERRLEN])
{
	int fd = openat(od->dfd, OUTDIR_INDEX, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat sb;
	FILE *fp;
	char *line;
	int rc = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			outdir_err(err, od, OUTDIR_INDEX, "is a symbolic link (planted?); not touched");
		else
			outdir_err(err, od, OUTDIR_INDEX, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		outdir_err(err, od, OUTDIR_INDEX, "is not a regular file; not touched");
		close(fd);
		return -1;
	}
	line = malloc(OUTDIR_INDEX_LINE_MAX);
	fp = line == NULL ? NULL : fdopen(fd, "r");
	if (fp == NULL) {
		outdir_err(err, od, OUTDIR_INDEX, "cannot read: %s", strerror(errno));
		free(line);
		close(fd);
		return -1;
	}
	while (rc == 0 && fgets(line, OUTDIR_INDEX_LINE_MAX, fp) != NULL)
		rc = outdir_line(od, line, remove, err);
	fclose(fp);
	free(line);
	return rc;
}

/* --- opening the folder ------------------------------------------------ */

/* A folder that already existed: empty is fine; otherwise only with force,
 * which takes away what the old index lists (after checking all of it) and
 * the index, then insists that none of our names is left. */
static int outdir_prepare(struct outdir *od, bool force, char err[OUTDIR_ERRLEN])
{
	struct outdir_scan sc;

	if (outdir_scan(od, &sc, err) != 0)
		return -1;
	if (sc.entries == 0)
		return 0;
	if (!force) {
		outdir_err(err, od, NULL, "not empty (holds %.100s%s); choose a new or empty "
			   "folder, or add --force to replace an earlier imapscope run's files",
			   sc.link[0] ? sc.link : sc.first, sc.link[0] ? ", a symbolic link" : "");
		return -1;
	}
	if (outdir_index_walk(od, false, err) != 0 || outdir_index_walk(od, true, err) != 0)
		return -1;
	if (unlinkat(od->dfd, OUTDIR_INDEX, 0) != 0 && errno != ENOENT) {
		outdir_err(err, od, OUTDIR_INDEX, "cannot remove: %s", strerror(errno));
		return -1;
	}
	if (outdir_scan(od, &sc, err) != 0)
		return -1;
	if (sc.ours[0] != '\0') {
		if (sc.ours_is_link)
			outdir_err(err, od, sc.ours, "is a symbolic link (planted?); not touched");
		else
			outdir_err(err, od, sc.ours, "not listed in the earlier %s, so not "
				   "removed; remove it or choose another folder", OUTDIR_INDEX);
		return -1;
	}
	return 0;	/* what remains is not ours: left alone, never overwritten */
}

static int outdir_open_dir(struct outdir *od, char err[OUTDIR_ERRLEN])
{
	struct stat sb;

	od->dfd = open(od->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (od->dfd >= 0)
		return 0;
	if (lstat(od->path, &sb) == 0 && S_ISLNK(sb.st_mode))
		outdir_err(err, od, NULL, "is a symbolic link; give the folder it points to");
	else
		outdir_err(err, od, NULL, "%s", strerror(errno));
	return -1;
}

int outdir_open(struct outdir **od_r, const char *path, bool force, char err[OUTDIR_ERRLEN])
{
	struct outdir *od;
	size_t n = strlen(path);
	bool made;

	*od_r = NULL;
	while (n > 1 && path[n - 1] == '/')
		n--;	/* "out/" would follow a link named out */
	od = calloc(1, sizeof *od);
	if (od == NULL || (od->path = strndup(path, n)) == NULL) {
		free(od);
		snprintf(err, OUTDIR_ERRLEN, "out of memory");
		return -1;
	}
	od->dfd = -1;
	made = mkdir(od->path, 0700) == 0;
	if (!made && errno != EEXIST) {
		outdir_err(err, od, NULL, "cannot create: %s", strerror(errno));
		outdir_free(&od);
		return -1;
	}
	if (outdir_open_dir(od, err) != 0 || (!made && outdir_prepare(od, force, err) != 0)) {
		outdir_free(&od);
		return -1;
	}
	od->seed = hash_seed_random();
	*od_r = od;
	return 0;
}

const char *outdir_path(const struct outdir *od)
{
	return od->path;
}

void outdir_free(struct outdir **odp)
{
	struct outdir *od = *odp;

	if (od == NULL)
		return;
	if (od->dfd >= 0)
		close(od->dfd);
	free(od->path);
	free(od);
	*odp = NULL;
}

/* --- files ------------------------------------------------------------- */

static int outdir_identify(int fd, struct outdir_id *id_r)
{
	struct stat sb;
	int e;

	if (fstat(fd, &sb) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	id_r->dev = sb.st_dev;
	id_r->ino = sb.st_ino;
	return fd;
}

int outdir_create(struct outdir *od, const char *name, struct outdir_id *id_r)
{
	int fd = openat(od->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	return fd < 0 || id_r == NULL ? fd : outdir_identify(fd, id_r);
}

int outdir_create_tmp(struct outdir *od, const char *prefix,
		      char name_r[OUTDIR_TMP_NAME_MAX], struct outdir_id *id_r)
{
	int fd = -1;

	for (int i = 0; i < OUTDIR_TMP_TRIES; i++) {
		uint64_t c = ++od->counter;

		snprintf(name_r, OUTDIR_TMP_NAME_MAX, "%.16s%016" PRIx64, prefix,
			 hash_bytes(od->seed, &c, sizeof c));
		fd = outdir_create(od, name_r, id_r);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	return fd;
}

int outdir_reopen(struct outdir *od, const char *name, const struct outdir_id *id)
{
	/* O_NONBLOCK: a FIFO put in the file's place must not hang the run */
	int fd = openat(od->dfd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct outdir_id now;

	if (fd < 0 || outdir_identify(fd, &now) < 0)
		return -1;
	if (now.dev != id->dev || now.ino != id->ino) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

bool outdir_is_regular(struct outdir *od, const char *name)
{
	struct stat sb;

	return fstatat(od->dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
}

/* name exists: our own earlier file (a regular one) or something else. */
static int outdir_taken(struct outdir *od, const char *name)
{
	if (outdir_is_regular(od, name))
		return 1;
	errno = ELOOP;
	return -1;
}

int outdir_place(struct outdir *od, const char *tmp, const char *name)
{
	if (renameat2(od->dfd, tmp, od->dfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return outdir_taken(od, name);
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* no RENAME_NOREPLACE on this file system: a hard link refuses too */
	if (linkat(od->dfd, tmp, od->dfd, name, 0) != 0)
		return errno == EEXIST ? outdir_taken(od, name) : -1;
	unlinkat(od->dfd, tmp, 0);
	return 0;
}

int outdir_unlink(struct outdir *od, const char *name)
{
	return unlinkat(od->dfd, name, 0);
}

int outdir_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;

	while (n > 0) {
		ssize_t w = write(fd, q, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

int outdir_open_file(const char *path, bool private_mode, char err[OUTDIR_ERRLEN])
{
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		      private_mode ? 0600 : 0666);
	struct stat sb;

	if (fd < 0) {
		snprintf(err, OUTDIR_ERRLEN, "%.300s: %s", path, errno == ELOOP ?
			 "is a symbolic link; not written through" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return fd;	/* /dev/null, a FIFO, a terminal: as they are */
	if ((private_mode && (sb.st_mode & 077) != 0 && fchmod(fd, 0600) != 0) ||
	    ftruncate(fd, 0) != 0) {
		snprintf(err, OUTDIR_ERRLEN, "%.300s: %s%s", path, strerror(errno),
			 private_mode ? " (it must be made private for --show-secrets)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

static size_t outdir_trimmed(const char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		n--;
	return n;
}

bool outdir_same(const char *a, const char *b)
{
	struct stat sa, sb;
	size_t na = outdir_trimmed(a), nb = outdir_trimmed(b);

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	return na == nb && memcmp(a, b, na) == 0;
}
