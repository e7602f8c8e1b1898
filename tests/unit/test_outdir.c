/* util/outdir: names of ours, folders refused or cleaned with force, files
 * made and opened again never through a link. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/outdir.h"

#define SHA64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void put(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static bool exists(const char *dir, const char *name)
{
	char path[1024];
	struct stat sb;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return lstat(path, &sb) == 0;
}

static void slurp_eq(const char *path, const char *want)
{
	char got[256] = "";
	FILE *fp = fopen(path, "r");

	assert_non_null(fp);
	assert_true(fgets(got, sizeof got, fp) != NULL || want[0] == '\0');
	fclose(fp);
	assert_string_equal(got, want);
}

static void cleanup(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_outdir_names(void **state)
{
	static const char *const ours[] = {
		"session-000001-c2s.bin", "session-123456789-s2c.bin",
		SHA64 ".eml", SHA64 ".truncated.eml", SHA64 ".BODY[TEXT].part",
		SHA64 ".BODY[1]<0>.truncated.part",
	};
	static const char *const not_ours[] = {
		"session-00001-c2s.bin", "session-000001-c2s.bin.x", "session-000001-x.bin",
		"index.jsonl", ".extract-0123", "notes.txt", SHA64 ".txt",
		SHA64 "/x.eml", SHA64 "..eml", "../" SHA64 ".eml", "/" SHA64 ".eml",
		"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.eml",
		SHA64 ".a/../b.eml", "", ".", "..",
	};

	(void)state;
	for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
		assert_true(outdir_name_is_ours(ours[i]));
	for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++)
		assert_false(outdir_name_is_ours(not_ours[i]));
}

static void test_outdir_made_private(void **state)
{
	char base[] = "/tmp/imapscope-outdir-XXXXXX", dir[256], err[OUTDIR_ERRLEN];
	struct outdir *od;
	struct outdir_id id;
	struct stat sb;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof dir, "%s/new///", base);	/* trailing slashes dropped */
	assert_int_equal(outdir_open(&od, dir, false, err), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	fd = outdir_create(od, "a.bin", &id);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	close(fd);
	/* O_EXCL: the same name again is refused */
	assert_int_equal(outdir_create(od, "a.bin", &id), -1);
	assert_int_equal(errno, EEXIST);
	outdir_free(&od);
	assert_null(od);
	cleanup(base);
}

static void test_outdir_refused_unless_force(void **state)
{
	char dir[] = "/tmp/imapscope-outdir-XXXXXX", err[OUTDIR_ERRLEN];
	struct outdir *od;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(outdir_open(&od, dir, false, err), 0);	/* empty: fine */
	outdir_free(&od);
	put(dir, "session-000001-c2s.bin", "old");
	put(dir, "session-000002-c2s.bin", "old");
	put(dir, SHA64 ".eml", "old");
	put(dir, "notes.txt", "mine");
	put(dir, "index.jsonl",
	    "{\"session\":1,\"c2s\":{\"file\":\"session-000001-c2s.bin\"},"
	    "\"s2c\":{\"file\":\"session-000002-c2s.bin\"}}\n"
	    "{\"file\":\"" SHA64 ".eml\"}\n");
	assert_int_equal(outdir_open(&od, dir, false, err), -1);
	assert_non_null(strstr(err, "not empty"));
	assert_non_null(strstr(err, dir));

	assert_true(exists(dir, "session-000001-c2s.bin"));

	assert_int_equal(outdir_open(&od, dir, true, err), 0);
	outdir_free(&od);
	assert_false(exists(dir, "session-000001-c2s.bin"));
	assert_false(exists(dir, "session-000002-c2s.bin"));
	assert_false(exists(dir, SHA64 ".eml"));
	assert_false(exists(dir, "index.jsonl"));
	assert_true(exists(dir, "notes.txt"));	/* not ours: stays */

	/* a name someone else chose reaches the message without its controls */
	unlink(strcat(strcpy(err, dir), "/notes.txt"));
	put(dir, "\033]0;evil\007\x9b", "a name with terminal controls");
	assert_int_equal(outdir_open(&od, dir, false, err), -1);
	assert_non_null(strstr(err, "?]0;evil??"));
	for (const char *c = err; *c != '\0'; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
	cleanup(dir);
}

/* Names in an old index are input: paths, "..", and names not of our
 * patterns are never removed; an unlisted file of ours refuses the folder. */
static void test_outdir_hostile_index(void **state)
{
	char base[] = "/tmp/imapscope-outdir-XXXXXX", dir[256], err[OUTDIR_ERRLEN];
	char outside[700];
	struct outdir *od;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof dir, "%s/out", base);
	assert_int_equal(mkdir(dir, 0700), 0);
	put(base, SHA64 ".eml", "precious");
	put(dir, "x.txt", "mine");
	put(dir, "index.jsonl",
	    "{\"file\":\"../" SHA64 ".eml\"}\n"
	    "{\"file\":\"x.txt\"}\n"
	    "{\"file\":\"/etc/passwd\"}\n"
	    "{\"file\":\"..\"}\n"
	    "{\"file\":\"sub/" SHA64 ".eml\"}\n"
	    "{\"file\":\"" SHA64 ".eml\\\"}\n"
	    "{\"file\":\"no end quote\n");
	assert_int_equal(outdir_open(&od, dir, true, err), 0);
	outdir_free(&od);
	snprintf(outside, sizeof outside, "%s/%s", base, SHA64 ".eml");
	slurp_eq(outside, "precious");
	assert_true(exists(dir, "x.txt"));

	/* an unlisted file of ours: named, not removed */
	put(dir, "session-000009-s2c.bin", "unlisted");
	assert_int_equal(outdir_open(&od, dir, true, err), -1);
	assert_non_null(strstr(err, "session-000009-s2c.bin"));
	assert_non_null(strstr(err, "not listed"));
	assert_true(exists(dir, "session-000009-s2c.bin"));
	cleanup(base);
}

/* Links: a listed name, the index, or a file of ours that is a link is an
 * error naming it, and neither the link nor its target changes. */
static void test_outdir_links(void **state)
{
	char base[] = "/tmp/imapscope-outdir-XXXXXX", dir[256], err[OUTDIR_ERRLEN];
	char target[700], link[700];
	struct outdir *od;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof dir, "%s/out", base);
	snprintf(target, sizeof target, "%s/target", base);
	put(base, "target", "precious");
	assert_int_equal(mkdir(dir, 0700), 0);

	/* a listed link */
	snprintf(link, sizeof link, "%s/session-000001-c2s.bin", dir);
	assert_int_equal(symlink(target, link), 0);
	put(dir, "index.jsonl", "{\"c2s\":{\"file\":\"session-000001-c2s.bin\"}}\n");
	assert_int_equal(outdir_open(&od, dir, false, err), -1);
	assert_non_null(strstr(err, "session-000001-c2s.bin, a symbolic link"));
	assert_int_equal(outdir_open(&od, dir, true, err), -1);
	assert_non_null(strstr(err, "session-000001-c2s.bin: is a symbolic link"));
	assert_true(exists(dir, "session-000001-c2s.bin"));
	assert_true(exists(dir, "index.jsonl"));	/* nothing removed */

	/* an unlisted link of our name */
	put(dir, "index.jsonl", "");
	assert_int_equal(outdir_open(&od, dir, true, err), -1);
	assert_non_null(strstr(err, "session-000001-c2s.bin: is a symbolic link"));
	unlink(link);

	/* the index a link */
	snprintf(link, sizeof link, "%s/index.jsonl", dir);
	unlink(link);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(outdir_open(&od, dir, true, err), -1);
	assert_non_null(strstr(err, "index.jsonl: is a symbolic link"));
	unlink(link);
	slurp_eq(target, "precious");

	/* DIR a link */
	snprintf(link, sizeof link, "%s/dirlink", base);
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(outdir_open(&od, link, false, err), -1);
	assert_non_null(strstr(err, "symbolic link"));
	cleanup(base);
}

/* Files made here: a planted link is refused (EEXIST), a file replaced
 * between writes is refused (ESTALE, or ELOOP for a link), and a name
 * already taken is reported, not replaced. */
static void test_outdir_files(void **state)
{
	char base[] = "/tmp/imapscope-outdir-XXXXXX", dir[256], err[OUTDIR_ERRLEN];
	char target[700], path[700], moved[700];
	char tmp[OUTDIR_TMP_NAME_MAX], tmp2[OUTDIR_TMP_NAME_MAX];
	struct outdir *od;
	struct outdir_id id, id2;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof dir, "%s/out", base);
	snprintf(target, sizeof target, "%s/target", base);
	put(base, "target", "precious");
	assert_int_equal(outdir_open(&od, dir, false, err), 0);

	snprintf(path, sizeof path, "%s/planted.bin", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(outdir_create(od, "planted.bin", &id), -1);
	assert_int_equal(errno, EEXIST);

	fd = outdir_create(od, "a.bin", &id);
	assert_true(fd >= 0);
	assert_int_equal(outdir_write_all(fd, "one", 3), 0);
	close(fd);
	fd = outdir_reopen(od, "a.bin", &id);
	assert_true(fd >= 0);
	assert_int_equal(outdir_write_all(fd, "two", 3), 0);
	close(fd);
	snprintf(path, sizeof path, "%s/a.bin", dir);
	slurp_eq(path, "onetwo");
	/* moved aside, not removed: its inode number is not free for reuse */
	snprintf(moved, sizeof moved, "%s/moved.bin", dir);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(outdir_reopen(od, "a.bin", &id), -1);
	assert_int_equal(errno, ELOOP);
	unlink(path);
	put(dir, "a.bin", "other");
	assert_int_equal(outdir_reopen(od, "a.bin", &id), -1);
	assert_int_equal(errno, ESTALE);

	/* temporary names differ and are hidden; place never replaces */
	fd = outdir_create_tmp(od, ".t-", tmp, &id);
	assert_true(fd >= 0);
	close(fd);
	fd = outdir_create_tmp(od, ".t-", tmp2, &id2);
	assert_true(fd >= 0);
	close(fd);
	assert_string_not_equal(tmp, tmp2);
	assert_int_equal(strncmp(tmp, ".t-", 3), 0);
	assert_int_equal(outdir_place(od, tmp, "b.bin"), 0);
	assert_false(exists(dir, tmp));
	assert_int_equal(outdir_place(od, tmp2, "b.bin"), 1);	/* a regular file */
	assert_true(exists(dir, tmp2));
	assert_int_equal(outdir_place(od, tmp2, "planted.bin"), -1);	/* a link */
	assert_int_equal(errno, ELOOP);
	slurp_eq(target, "precious");
	outdir_free(&od);
	cleanup(base);
}

/* -o FILE: never through a link; private with --show-secrets. */
static void test_outdir_open_file(void **state)
{
	char base[] = "/tmp/imapscope-outdir-XXXXXX", err[OUTDIR_ERRLEN];
	char target[700], link[700], file[700];
	struct stat sb;
	mode_t old = umask(022);
	int fd;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(target, sizeof target, "%s/target", base);
	snprintf(link, sizeof link, "%s/link", base);
	snprintf(file, sizeof file, "%s/out.txt", base);
	put(base, "target", "precious");
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(outdir_open_file(link, false, err), -1);
	assert_non_null(strstr(err, "symbolic link"));
	slurp_eq(target, "precious");

	put(base, "out.txt", "old contents");
	chmod(file, 0644);
	fd = outdir_open_file(file, true, err);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_size, 0);	/* truncated */
	close(fd);
	unlink(file);
	fd = outdir_open_file(file, false, err);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	close(fd);
	fd = outdir_open_file("/dev/null", true, err);	/* not a regular file: as it is */
	assert_true(fd >= 0);
	close(fd);
	umask(old);

	assert_true(outdir_same(base, base));
	assert_true(outdir_same("/no/such/x/", "/no/such/x"));
	assert_false(outdir_same("/no/such/x", "/no/such/y"));
	cleanup(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outdir_names),
		cmocka_unit_test(test_outdir_made_private),
		cmocka_unit_test(test_outdir_refused_unless_force),
		cmocka_unit_test(test_outdir_hostile_index),
		cmocka_unit_test(test_outdir_links),
		cmocka_unit_test(test_outdir_files),
		cmocka_unit_test(test_outdir_open_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
