/* Output folders and files that a planted link cannot redirect.
 *
 * --streams DIR and --extract DIR may point into a folder that others can
 * write to, and what they hold is secret (passwords in the streams, mail in
 * the bodies).  So every file is made under a descriptor of DIR (openat),
 * with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600, DIR itself is made 0700 and
 * opened with O_NOFOLLOW, and a file opened again later must still be the
 * one that was made.  Nothing here ever writes through a link.
 *
 * A folder that holds files is refused unless force is given; force removes
 * only what an earlier imapscope run wrote there: the files its index.jsonl
 * lists (plain names of the --streams and --extract patterns, never a path)
 * and the index itself.  Whatever else remains is left alone and is never
 * overwritten; a remaining file that has one of our names, or any symbolic
 * link among the listed names, is an error. */
#ifndef IMAPSCOPE_UTIL_OUTDIR_H
#define IMAPSCOPE_UTIL_OUTDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"

#define OUTDIR_ERRLEN 512
#define OUTDIR_INDEX "index.jsonl"
#define OUTDIR_INDEX_LINE_MAX (1024 * 1024)	/* longer lines of an old index
						   are not read for names */
#define OUTDIR_TMP_NAME_MAX 40			/* a name from outdir_create_tmp */
#define OUTDIR_TMP_TRIES 64			/* names tried before giving up */

struct outdir;

/* The identity of a file made here, to recognise it when opened again. */
struct outdir_id {
	dev_t dev;
	ino_t ino;
};

/* Opens (making it 0700 if missing, one level) the folder path, as above.
 * 0, or -1 with err set: one line that names the path ("DIR: not empty
 * ...", "DIR/NAME: is a symbolic link ..."), for exit status 2. */
int outdir_open(struct outdir **od_r, const char *path, bool force,
		char err[OUTDIR_ERRLEN]) WUR;
/* The path as given, trailing slashes dropped; valid until outdir_free. */
const char *outdir_path(const struct outdir *od);
void outdir_free(struct outdir **od);

/* A new file name in the folder, opened for writing, mode 0600.  The
 * descriptor, or -1 with errno set (EEXIST: something, perhaps a planted
 * link, already has that name; it is left as it was).  id_r may be NULL
 * for a file that will not be opened again. */
int outdir_create(struct outdir *od, const char *name, struct outdir_id *id_r) WUR;
/* A new hidden file with a name of prefix and random letters, written to
 * name_r (OUTDIR_TMP_NAME_MAX bytes; prefix at most 16 bytes). */
int outdir_create_tmp(struct outdir *od, const char *prefix,
		      char name_r[OUTDIR_TMP_NAME_MAX], struct outdir_id *id_r) WUR;
/* Opens name again to append, only if it is still the file id says (a
 * link is not followed: ELOOP; another file: ESTALE).  -1 with errno. */
int outdir_reopen(struct outdir *od, const char *name, const struct outdir_id *id) WUR;
/* Gives the file tmp the name name unless name is taken.  0 done; 1 name
 * is a regular file already (tmp is left for the caller to remove); -1
 * with errno (ELOOP: name is a link or not a regular file). */
int outdir_place(struct outdir *od, const char *tmp, const char *name) WUR;
int outdir_unlink(struct outdir *od, const char *name);
/* Whether name is a regular file (a link is not followed). */
bool outdir_is_regular(struct outdir *od, const char *name);

/* Whether name is one --streams or --extract writes:
 * "session-NNNNNN-c2s.bin", "<sha256>[.<section>][.truncated].eml|.part". */
bool outdir_name_is_ours(const char *name);

/* Writes all of p[0..n) to fd, across short writes.  0, or -1 with errno. */
int outdir_write_all(int fd, const void *p, size_t n) WUR;

/* -o FILE: opened for writing, never through a link (ELOOP), truncated if
 * it is a regular file; made 0600, or made so if it exists, when private
 * (--show-secrets).  The descriptor, or -1 with err set. */
int outdir_open_file(const char *path, bool private_mode, char err[OUTDIR_ERRLEN]) WUR;

/* Whether two folder paths name the same folder (both existing and the same
 * inode, or the same text without trailing slashes). */
bool outdir_same(const char *a, const char *b);

#endif
