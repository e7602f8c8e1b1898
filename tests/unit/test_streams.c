/* --streams writer: files hold exactly the bytes fed, gaps only in the index. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "report/streams.h"

static char *read_file(const char *dir, const char *name, size_t *len_r)
{
	char path[512];
	FILE *fp;
	char *data;
	long len;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	data = malloc((size_t)len + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)len, fp), (size_t)len);
	data[len] = '\0';
	fclose(fp);
	*len_r = (size_t)len;
	return data;
}

static void test_streams_bytes_and_gaps(void **state)
{
	char dir[] = "/tmp/imapscope-streams-XXXXXX";
	char err[STREAMS_ERRLEN];
	struct streams *st;
	static uint8_t big[200000];
	size_t len, i;
	char *data;
	struct json_object *idx, *c2s, *s2c, *gaps, *g;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	st = streams_new(dir, false, NULL, err);
	assert_non_null(st);
	streams_open(st, 7, "192.0.2.1:50000", "[2001:db8::1]:143");
	streams_data(st, 7, DIR_C2S, (const uint8_t *)"a1 NOOP\r\n", 9);
	streams_gap(st, 7, DIR_C2S, 100);
	streams_gap(st, 7, DIR_C2S, 20);	/* adjacent: one hole */
	streams_data(st, 7, DIR_C2S, (const uint8_t *)"a2 X\0Y\r\n", 8);
	streams_data(st, 7, DIR_S2C, big, sizeof big);
	streams_data(st, 99, DIR_S2C, big, 10);	/* unknown session: ignored */
	streams_end(st, 7);
	assert_int_equal(streams_free(&st, err), 0);
	assert_null(st);

	data = read_file(dir, "session-000007-c2s.bin", &len);
	assert_int_equal(len, 17);
	assert_memory_equal(data, "a1 NOOP\r\na2 X\0Y\r\n", 17);
	free(data);
	data = read_file(dir, "session-000007-s2c.bin", &len);
	assert_int_equal(len, sizeof big);
	assert_memory_equal(data, big, sizeof big);
	free(data);

	data = read_file(dir, "index.jsonl", &len);
	assert_non_null(strchr(data, '\n'));
	idx = json_tokener_parse(data);
	assert_non_null(idx);
	assert_int_equal(json_object_get_int(json_object_object_get(idx, "session")), 7);
	assert_string_equal(json_object_get_string(json_object_object_get(idx, "server")),
			    "[2001:db8::1]:143");
	c2s = json_object_object_get(idx, "c2s");
	s2c = json_object_object_get(idx, "s2c");
	assert_int_equal(json_object_get_int64(json_object_object_get(c2s, "bytes")), 17);
	gaps = json_object_object_get(c2s, "gaps");
	assert_int_equal(json_object_array_length(gaps), 1);
	g = json_object_array_get_idx(gaps, 0);
	assert_int_equal(json_object_get_int64(json_object_object_get(g, "offset")), 9);
	assert_int_equal(json_object_get_int64(json_object_object_get(g, "length")), 120);
	assert_int_equal(json_object_array_length(json_object_object_get(s2c, "gaps")), 0);
	json_object_put(idx);
	free(data);
	{
		static const char *const names[] = { "session-000007-c2s.bin",
			"session-000007-s2c.bin", "index.jsonl" };
		char path[512];

		for (i = 0; i < 3; i++) {
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			unlink(path);
		}
		rmdir(dir);
	}
}

/* One session through a streams writer with budget mb: the index line
 * count, the c2s file's bytes (NULL when there is no file). */
static size_t streams_run_budget(struct mem_budget *mb, const uint8_t *big, size_t nbig,
				 char **c2s_r, size_t *c2s_len_r)
{
	char dir[] = "/tmp/imapscope-streams-XXXXXX";
	char err[STREAMS_ERRLEN], path[512];
	struct streams *st;
	size_t len, lines = 0, i;
	char *data;
	int g;

	assert_non_null(mkdtemp(dir));
	st = streams_new(dir, false, mb, err);
	assert_non_null(st);
	streams_open(st, 7, "192.0.2.1:50000", "192.0.2.2:143");
	for (g = 0; g < 12; g++) {	/* 12 holes: past the first gap list */
		streams_data(st, 7, DIR_C2S, (const uint8_t *)"ab", 2);
		streams_gap(st, 7, DIR_C2S, 5);
	}
	streams_data(st, 7, DIR_C2S, big, nbig);
	streams_end(st, 7);
	assert_int_equal(streams_free(&st, err), 0);	/* a refusal is no failure */
	data = read_file(dir, "index.jsonl", &len);
	for (i = 0; i < len; i++)
		lines += data[i] == '\n';
	free(data);
	snprintf(path, sizeof path, "%s/session-000007-c2s.bin", dir);
	*c2s_r = access(path, F_OK) == 0 ? read_file(dir, "session-000007-c2s.bin", c2s_len_r)
					 : NULL;
	unlink(path);
	snprintf(path, sizeof path, "%s/session-000007-s2c.bin", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/index.jsonl", dir);
	unlink(path);
	rmdir(dir);
	return lines;
}

/* Under --max-memory: with no budget the session is not written at all; at
 * any limit that admits it, its file is whole (unbuffered writes when the
 * pending buffer is refused); the charge returns to 0 at the end. */
static void test_streams_budget(void **state)
{
	static uint8_t big[100000];
	struct mem_budget mb = { .limit = 1 };	/* limit 0 is no limit */
	size_t len, i, limit, full;
	char *c2s;

	(void)state;
	for (i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 13);
	assert_int_equal(streams_run_budget(&mb, big, sizeof big, &c2s, &len), 0);
	assert_null(c2s);
	assert_true(mb.refused > 0);
	assert_int_equal(mb.used, 0);

	mb = (struct mem_budget){ .limit = SIZE_MAX };
	assert_int_equal(streams_run_budget(&mb, big, sizeof big, &c2s, &len), 1);
	assert_non_null(c2s);
	assert_int_equal(len, 24 + sizeof big);
	free(c2s);
	assert_int_equal(mb.used, 0);
	full = mb.peak;

	for (limit = 1; limit <= full; limit += limit < 4096 ? 16 : 4096) {
		size_t lines;

		mb = (struct mem_budget){ .limit = limit };
		lines = streams_run_budget(&mb, big, sizeof big, &c2s, &len);
		assert_true(mb.peak <= limit);
		assert_int_equal(mb.used, 0);
		if (lines == 0) {
			assert_null(c2s);
			continue;
		}
		assert_non_null(c2s);
		assert_int_equal(len, 24 + sizeof big);
		assert_memory_equal(c2s + 24, big, sizeof big);
		free(c2s);
	}
}

static void test_streams_bad_dir(void **state)
{
	char err[STREAMS_ERRLEN];

	(void)state;
	assert_null(streams_new("/proc/no/such/dir", false, NULL, err));
	assert_non_null(strstr(err, "/proc/no/such/dir"));
}

static void rm_rf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A link planted during the run where a stream goes: not written through,
 * the other stream and session still written, the failure named once at
 * the end, the index says which stream failed.  Files are 0600. */
static void test_streams_planted_link(void **state)
{
	char dir[] = "/tmp/imapscope-streams-XXXXXX", target[] = "/tmp/imapscope-target-XXXXXX";
	char err[STREAMS_ERRLEN], path[512], got[16] = "";
	struct streams *st;
	struct json_object *idx, *c2s;
	struct stat sb;
	size_t len;
	char *data;
	int fd = mkstemp(target);
	FILE *fp;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	assert_non_null(mkdtemp(dir));
	st = streams_new(dir, false, NULL, err);
	assert_non_null(st);
	streams_open(st, 1, "192.0.2.1:50000", "192.0.2.2:143");
	snprintf(path, sizeof path, "%s/session-000001-c2s.bin", dir);
	assert_int_equal(symlink(target, path), 0);
	streams_data(st, 1, DIR_C2S, (const uint8_t *)"a1 LOGIN u pw\r\n", 15);
	streams_data(st, 1, DIR_S2C, (const uint8_t *)"* OK\r\n", 6);
	streams_end(st, 1);
	assert_int_equal(streams_free(&st, err), -1);
	assert_non_null(strstr(err, "session-000001-c2s.bin"));
	assert_non_null(strstr(err, "planted"));

	fp = fopen(target, "r");
	assert_non_null(fp);
	assert_non_null(fgets(got, sizeof got, fp));
	fclose(fp);
	assert_string_equal(got, "precious");
	data = read_file(dir, "session-000001-s2c.bin", &len);
	assert_int_equal(len, 6);
	free(data);
	snprintf(path, sizeof path, "%s/session-000001-s2c.bin", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	data = read_file(dir, "index.jsonl", &len);
	idx = json_tokener_parse(data);
	assert_non_null(idx);
	c2s = json_object_object_get(idx, "c2s");
	assert_true(json_object_is_type(json_object_object_get(c2s, "file"), json_type_null));
	assert_true(json_object_get_boolean(json_object_object_get(c2s, "failed")));
	json_object_put(idx);
	free(data);
	unlink(target);
	rm_rf(dir);
}

/* Thousands open at once, written to in an order unlike their opening and
 * ended in another: every byte reaches its own session's file. */
static void test_streams_many_open(void **state)
{
	enum { N = 2000 };
	char dir[] = "/tmp/imapscope-streams-XXXXXX", err[STREAMS_ERRLEN], name[64], want[64];
	struct streams *st;
	size_t i, len, lines = 0;
	char *data;

	(void)state;
	assert_non_null(mkdtemp(dir));
	st = streams_new(dir, false, NULL, err);
	assert_non_null(st);
	for (i = 1; i <= N; i++)
		streams_open(st, i * 7919, "192.0.2.1:1", "192.0.2.2:143");
	for (i = N; i >= 1; i--) {
		int n = snprintf(want, sizeof want, "a%zu NOOP\r\n", i);

		streams_data(st, i * 7919, DIR_C2S, (const uint8_t *)want, (size_t)n);
	}
	for (i = 1; i <= N; i += 2)
		streams_end(st, i * 7919);
	assert_int_equal(streams_free(&st, err), 0);	/* ends the even ones */
	data = read_file(dir, "index.jsonl", &len);
	for (i = 0; i < len; i++)
		lines += data[i] == '\n';
	free(data);
	assert_int_equal(lines, N);
	for (i = 1; i <= N; i++) {
		int n = snprintf(want, sizeof want, "a%zu NOOP\r\n", i);

		snprintf(name, sizeof name, "session-%06zu-c2s.bin", i * 7919);
		data = read_file(dir, name, &len);
		assert_int_equal(len, (size_t)n);
		assert_memory_equal(data, want, len);
		free(data);
	}
	rm_rf(dir);
}

/* A folder an earlier run filled: refused; with force, its files go. */
static void test_streams_reused_dir(void **state)
{
	char dir[] = "/tmp/imapscope-streams-XXXXXX", err[STREAMS_ERRLEN], path[512];
	struct streams *st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	st = streams_new(dir, false, NULL, err);
	streams_open(st, 3, "192.0.2.1:1", "192.0.2.2:143");
	streams_data(st, 3, DIR_C2S, (const uint8_t *)"x", 1);
	assert_int_equal(streams_free(&st, err), 0);
	assert_null(streams_new(dir, false, NULL, err));
	assert_non_null(strstr(err, "not empty"));
	assert_non_null(strstr(err, "--force"));
	st = streams_new(dir, true, NULL, err);
	assert_non_null(st);
	snprintf(path, sizeof path, "%s/session-000003-c2s.bin", dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(streams_free(&st, err), 0);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_bytes_and_gaps),
		cmocka_unit_test(test_streams_bad_dir),
		cmocka_unit_test(test_streams_budget),
		cmocka_unit_test(test_streams_planted_link),
		cmocka_unit_test(test_streams_many_open),
		cmocka_unit_test(test_streams_reused_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
