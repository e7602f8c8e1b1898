/* --streams writer: files hold exactly the bytes fed, gaps only in the index. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	st = streams_new(dir, err);
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

static void test_streams_bad_dir(void **state)
{
	char err[STREAMS_ERRLEN];

	(void)state;
	assert_null(streams_new("/proc/no/such/dir", err));
	assert_non_null(strstr(err, "/proc/no/such/dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams_bytes_and_gaps),
		cmocka_unit_test(test_streams_bad_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
