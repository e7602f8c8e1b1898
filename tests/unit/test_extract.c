/* --extract writer: content names, dedup, safe section names, index fields,
 * truncated bodies, and bodies that never arrived. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "report/extract.h"

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static struct buf_slice sl(const char *s)
{
	return (struct buf_slice){ (const uint8_t *)s, strlen(s) };
}

static struct extract_meta meta(enum stream_dir dir, const char *section, uint64_t size)
{
	struct extract_meta m = {
		.client = "192.0.2.1:50000", .server = "192.0.2.2:143", .dir = dir,
		.user = sl("alice"), .mailbox = sl("INBOX"), .size = size,
		.ts_us = 1700000000000000LL,
	};

	m.section = section ? sl(section) : (struct buf_slice){ NULL, 0 };
	return m;
}

static char *slurp(const char *dir, const char *name, size_t *len_r)
{
	char path[1024];
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

/* The index as an array of objects. */
static struct json_object *read_index(const char *dir)
{
	size_t len;
	char *data = slurp(dir, "index.jsonl", &len), *line, *save = NULL;
	struct json_object *arr = json_object_new_array();

	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(line);

		assert_non_null(o);
		json_object_array_add(arr, o);
	}
	free(data);
	return arr;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return -1;
	return json_object_get_int64(v);
}

static bool jbool(struct json_object *o, const char *k)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_boolean(v);
}

/* Files in dir other than the index; a temporary one left behind counts. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, "index.jsonl") != 0)
			n++;
	closedir(d);
	return n;
}

static void cleanup(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static struct extract *open_dir(char *dir)
{
	char err[EXTRACT_ERRLEN];
	struct extract *x;

	assert_non_null(mkdtemp(dir));
	x = extract_new(dir, false, NULL, err);
	assert_non_null(x);
	return x;
}

static struct extract *open_dir_budget(char *dir, struct mem_budget *mb)
{
	char err[EXTRACT_ERRLEN];
	struct extract *x;

	assert_non_null(mkdtemp(dir));
	x = extract_new(dir, false, mb, err);
	assert_non_null(x);
	return x;
}

static void close_dir(struct extract **x)
{
	char err[EXTRACT_ERRLEN];

	assert_int_equal(extract_free(x, err), 0);
	assert_null(*x);
}

/* The same content fetched twice and appended once: one file, three lines. */
static void test_extract_dedup(void **state)
{
	char dir[] = "/tmp/imapscope-extract-XXXXXX";
	struct extract *x = open_dir(dir);
	struct extract_meta m = meta(DIR_S2C, "BODY[]", 3);
	struct extract_item *a, *b, *c;
	struct json_object *idx;
	size_t len;
	char *data;

	(void)state;
	a = extract_begin(x, 1, &m);
	b = extract_begin(x, 2, &m);	/* two open at once: their own temp files */
	assert_non_null(a);
	assert_non_null(b);
	extract_data(x, a, (const uint8_t *)"a", 1);
	extract_data(x, b, (const uint8_t *)"ab", 2);
	extract_data(x, a, (const uint8_t *)"bc", 2);
	extract_data(x, b, (const uint8_t *)"c", 1);
	extract_end(x, a, 0, 0, false);
	extract_end(x, b, 0, 0, false);
	m = meta(DIR_C2S, NULL, 3);
	c = extract_begin(x, 3, &m);
	extract_data(x, c, (const uint8_t *)"abc", 3);
	extract_end(x, c, 0, 0, false);
	close_dir(&x);

	assert_int_equal(count_files(dir), 1);
	data = slurp(dir, SHA_ABC ".eml", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "abc", 3);
	free(data);
	idx = read_index(dir);
	assert_int_equal(json_object_array_length(idx), 3);
	for (size_t i = 0; i < 3; i++) {
		struct json_object *o = json_object_array_get_idx(idx, i);

		assert_string_equal(jstr(o, "sha256"), SHA_ABC);
		assert_string_equal(jstr(o, "file"), SHA_ABC ".eml");
		assert_int_equal(jbool(o, "duplicate"), i != 0);
		assert_int_equal(jint(o, "session"), (int64_t)i + 1);
	}
	assert_string_equal(jstr(json_object_array_get_idx(idx, 2), "direction"), "appended");
	assert_null(jstr(json_object_array_get_idx(idx, 2), "section"));
	json_object_put(idx);
	cleanup(dir);
}

/* Every field of an index line; the UID given at end wins, seq stays. */
static void test_extract_index_fields(void **state)
{
	char dir[] = "/tmp/imapscope-extract-XXXXXX";
	struct extract *x = open_dir(dir);
	struct extract_meta m = meta(DIR_S2C, "BODY[TEXT]<0>", 3);
	struct extract_item *it;
	struct extract_stats st;
	struct json_object *idx, *o;

	(void)state;
	m.seq = 12;
	m.uidvalidity = 77;
	m.mailbox = sl("Caf\xc3\xa9 \"x\"");
	it = extract_begin(x, 5, &m);
	extract_data(x, it, (const uint8_t *)"abc", 3);
	extract_end(x, it, 345, 0, false);
	m = meta(DIR_S2C, "RFC822", 0);
	m.user = (struct buf_slice){ NULL, 0 };
	it = extract_begin(x, 6, &m);
	extract_end(x, it, 0, 0, false);	/* {0}: an empty message */
	extract_get_stats(x, &st);
	assert_int_equal(st.items, 2);
	assert_int_equal(st.files, 2);
	close_dir(&x);

	idx = read_index(dir);
	assert_int_equal(json_object_array_length(idx), 2);
	o = json_object_array_get_idx(idx, 0);
	assert_int_equal(jint(o, "session"), 5);
	assert_string_equal(jstr(o, "client"), "192.0.2.1:50000");
	assert_string_equal(jstr(o, "server"), "192.0.2.2:143");
	assert_string_equal(jstr(o, "user"), "alice");
	assert_string_equal(jstr(o, "mailbox"), "Caf\xc3\xa9 \"x\"");
	assert_int_equal(jint(o, "uid"), 345);
	assert_int_equal(jint(o, "uidvalidity"), 77);
	assert_int_equal(jint(o, "seq"), 12);
	assert_string_equal(jstr(o, "section"), "BODY[TEXT]<0>");
	assert_string_equal(jstr(o, "direction"), "fetched");
	assert_int_equal(jint(o, "size"), 3);
	assert_int_equal(jint(o, "announced"), 3);
	assert_true(jbool(o, "complete"));
	assert_false(jbool(o, "truncated"));
	assert_string_equal(jstr(o, "file"), SHA_ABC ".BODY[TEXT]<0>.part");
	assert_string_equal(jstr(o, "ts"), "2023-11-14T22:13:20.000000Z");
	o = json_object_array_get_idx(idx, 1);
	assert_null(jstr(o, "user"));
	assert_int_equal(jint(o, "uid"), -1);
	assert_int_equal(jint(o, "uidvalidity"), -1);	/* not known: null */
	assert_int_equal(jint(o, "size"), 0);
	assert_string_equal(jstr(o, "file"), SHA_EMPTY ".eml");
	json_object_put(idx);
	cleanup(dir);
}

/* A hole in the middle and a body cut at the end: truncated, holes listed,
 * the file has the received bytes only. */
static void test_extract_truncated(void **state)
{
	char dir[] = "/tmp/imapscope-extract-XXXXXX";
	struct extract *x = open_dir(dir);
	struct extract_meta m = meta(DIR_S2C, "BODY[]", 10);
	struct extract_item *it;
	struct json_object *idx, *o, *holes;
	size_t len;
	char *data;

	(void)state;
	it = extract_begin(x, 1, &m);
	extract_data(x, it, (const uint8_t *)"ab", 2);
	extract_gap(x, it, 3);
	extract_gap(x, it, 2);		/* adjacent: one hole */
	extract_data(x, it, (const uint8_t *)"c", 1);	/* 8 of 10 accounted for */
	extract_end(x, it, 0, 0, false);
	close_dir(&x);

	idx = read_index(dir);
	assert_int_equal(json_object_array_length(idx), 1);
	o = json_object_array_get_idx(idx, 0);
	assert_true(jbool(o, "truncated"));
	assert_false(jbool(o, "complete"));
	assert_int_equal(jint(o, "size"), 3);
	assert_int_equal(jint(o, "announced"), 10);
	assert_int_equal(jint(o, "missing"), 7);
	assert_true(json_object_object_get_ex(o, "holes", &holes));
	assert_int_equal(json_object_array_length(holes), 1);
	assert_int_equal(jint(json_object_array_get_idx(holes, 0), "offset"), 2);
	assert_int_equal(jint(json_object_array_get_idx(holes, 0), "bytes"), 5);
	assert_string_equal(jstr(o, "file"), SHA_ABC ".truncated.eml");
	data = slurp(dir, SHA_ABC ".truncated.eml", &len);
	assert_int_equal(len, 3);
	free(data);
	json_object_put(idx);
	cleanup(dir);
}

/* A refused literal, and one lost whole, write nothing: no file, no line,
 * no temporary file left behind. */
static void test_extract_nothing_arrived(void **state)
{
	char dir[] = "/tmp/imapscope-extract-XXXXXX";
	struct extract *x = open_dir(dir);
	struct extract_meta m = meta(DIR_C2S, NULL, 198);
	struct extract_item *it;
	struct json_object *idx;

	(void)state;
	it = extract_begin(x, 1, &m);
	extract_end(x, it, 0, 0, true);		/* refused {198} */
	m.size = 0;
	it = extract_begin(x, 1, &m);
	extract_end(x, it, 0, 0, true);		/* refused {0} */
	m.size = 50;
	it = extract_begin(x, 1, &m);
	extract_gap(x, it, 50);			/* lost whole */
	extract_end(x, it, 0, 0, false);
	m.size = 50;
	it = extract_begin(x, 1, &m);		/* still open at the end of the run */
	extract_data(x, it, (const uint8_t *)"abc", 3);
	close_dir(&x);

	idx = read_index(dir);
	assert_int_equal(json_object_array_length(idx), 1);	/* the open one, cut */
	assert_true(jbool(json_object_array_get_idx(idx, 0), "truncated"));
	assert_int_equal(count_files(dir), 1);
	json_object_put(idx);
	cleanup(dir);
}

/* Big bodies in small pieces: the file is exact (memory is flat by design:
 * nothing but the item's small buffer holds the bytes). */
static void test_extract_large(void **state)
{
	char dir[] = "/tmp/imapscope-extract-XXXXXX";
	struct extract *x = open_dir(dir);
	enum { TOTAL = 5 * 1024 * 1024, PIECE = 1400 };
	struct extract_meta m = meta(DIR_S2C, "BINARY[]", TOTAL);
	struct extract_item *it = extract_begin(x, 1, &m);
	static uint8_t piece[PIECE];
	struct json_object *idx;
	const char *file;
	char path[1024];
	struct stat sb;

	(void)state;
	for (size_t i = 0; i < PIECE; i++)
		piece[i] = (uint8_t)i;
	for (size_t done = 0; done < TOTAL; done += PIECE)
		extract_data(x, it, piece, TOTAL - done < PIECE ? TOTAL - done : PIECE);
	extract_end(x, it, 0, 0, false);
	close_dir(&x);
	idx = read_index(dir);
	file = jstr(json_object_array_get_idx(idx, 0), "file");
	assert_non_null(file);
	assert_non_null(strstr(file, ".eml"));	/* BINARY[] is a whole message */
	snprintf(path, sizeof path, "%s/%s", dir, file);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, TOTAL);
	json_object_put(idx);
	cleanup(dir);
}

static void check_safe_name(const char *section, size_t section_len)
{
	char name[EXTRACT_MAX_SECTION_NAME + 1];
	size_t n = extract_section_name(name, (struct buf_slice){ (const uint8_t *)section,
								   section_len });

	assert_true(n > 0 && n <= EXTRACT_MAX_SECTION_NAME);
	assert_int_equal(strlen(name), n);
	assert_null(strchr(name, '/'));
	assert_null(strstr(name, ".."));
	assert_true(name[0] != '.' && name[n - 1] != '.');
	for (size_t i = 0; i < n; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789._-[]<>", name[i]));
}

static void test_extract_section_names(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "BODY[1.2]<0>", "BODY[1.2]<0>" },
		{ "BODY[TEXT]", "BODY[TEXT]" },
		{ "BODY[HEADER.FIELDS (From To)]", "BODY[HEADER.FIELDS_From_To]" },
		{ "BINARY[1]", "BINARY[1]" },
		{ "RFC822.HEADER", "RFC822.HEADER" },
		{ "../../etc/passwd", "_._etc_passwd" },
		{ "....", "part" },
		{ "", "part" },
		{ "a/b\\c d\"e\"", "a_b_c_de" },
	};
	char name[EXTRACT_MAX_SECTION_NAME + 1], longest[1000];
	static const char nasty[] = "BODY[\x00\xff\r\n/..\x1b]";

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		extract_section_name(name, sl(cases[i].in));
		assert_string_equal(name, cases[i].out);
		check_safe_name(cases[i].in, strlen(cases[i].in));
	}
	memset(longest, 'A', sizeof longest);
	check_safe_name(longest, sizeof longest);
	assert_int_equal(extract_section_name(name, (struct buf_slice){ (const uint8_t *)longest,
									sizeof longest }),
			 EXTRACT_MAX_SECTION_NAME);
	check_safe_name(nasty, sizeof nasty - 1);
	/* every single byte, and "." next to each */
	for (int c = 0; c < 256; c++) {
		char two[3] = { (char)c, '.', (char)c };

		check_safe_name(two, 1);
		check_safe_name(two, 3);
	}
}

static void test_extract_whole(void **state)
{
	(void)state;
	assert_true(extract_section_is_whole((struct buf_slice){ NULL, 0 }));
	assert_true(extract_section_is_whole(sl("BODY[]")));
	assert_true(extract_section_is_whole(sl("body.peek[]")));
	assert_true(extract_section_is_whole(sl("BINARY[]")));
	assert_true(extract_section_is_whole(sl("RFC822")));
	assert_false(extract_section_is_whole(sl("BODY[]<0>")));
	assert_false(extract_section_is_whole(sl("BODY[TEXT]")));
	assert_false(extract_section_is_whole(sl("RFC822.TEXT")));
	assert_false(extract_section_is_whole(sl("BINARY[1]")));
}

/* Under --max-memory: an item the budget refuses is counted as dropped
 * and never indexed; any item admitted is stored whole; the charge is held
 * while the item is open and returns to 0 at its end. */
static void test_extract_budget(void **state)
{
	struct mem_budget mb = { .limit = 1 };	/* limit 0 is no limit */
	struct extract_meta m = meta(DIR_S2C, "BODY[]", 3);
	struct extract_stats st;
	struct extract_item *it;
	struct extract *x;
	struct json_object *idx;
	size_t limit, full;

	(void)state;
	for (limit = 1;; limit += 64) {
		char dir[] = "/tmp/imapscope-extract-XXXXXX";

		mb = (struct mem_budget){ .limit = limit };
		x = open_dir_budget(dir, &mb);
		it = extract_begin(x, 1, &m);
		if (it != NULL) {
			assert_true(mb.used > 0);
			extract_data(x, it, (const uint8_t *)"abc", 3);
			extract_end(x, it, 9, 4, false);
		}
		assert_int_equal(mb.used, 0);
		assert_true(mb.peak <= limit);
		extract_get_stats(x, &st);
		close_dir(&x);
		idx = read_index(dir);
		if (it == NULL) {
			assert_int_equal(st.dropped, 1);
			assert_true(mb.refused > 0);
			assert_int_equal(json_object_array_length(idx), 0);
		} else {
			assert_int_equal(st.dropped, 0);
			assert_int_equal(json_object_array_length(idx), 1);
			assert_string_equal(jstr(json_object_array_get_idx(idx, 0), "sha256"),
					    SHA_ABC);
		}
		json_object_put(idx);
		cleanup(dir);
		if (it != NULL && mb.refused == 0)
			break;
	}
	full = limit;
	assert_true(full > 0);
}

static void test_extract_bad_dir(void **state)
{
	char err[EXTRACT_ERRLEN];

	(void)state;
	assert_null(extract_new("/proc/no-such-dir/extract", false, NULL, err));
	assert_non_null(strstr(err, "cannot create"));
}

/* Many bodies in flight at once, each past the in-memory buffer, under a
 * descriptor limit far below their number: every one is written whole and
 * indexed, and no temporary file is left. */
static void test_extract_many_in_flight(void **state)
{
	enum { N = 600, SIZE = 40000, FIRST = 25000, FDS = 64 };
	char dir[] = "/tmp/imapscope-extract-XXXXXX";
	struct extract *x = open_dir(dir);
	struct extract_item *it[N];
	struct rlimit old, low;
	static uint8_t bodyb[SIZE + N];
	struct json_object *idx;
	char err[EXTRACT_ERRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof bodyb; i++)	/* no period: every offset differs */
		bodyb[i] = (uint8_t)((i * 2654435761u) >> 13);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = FDS;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (size_t i = 0; i < N; i++) {
		struct extract_meta m = meta(DIR_S2C, "BODY[]", SIZE);

		it[i] = extract_begin(x, i + 1, &m);
		assert_non_null(it[i]);
		extract_data(x, it[i], bodyb + i, FIRST);	/* each its own content */
	}
	for (size_t i = 0; i < N; i++) {
		extract_data(x, it[i], bodyb + i + FIRST, SIZE - FIRST);
		extract_end(x, it[i], 0, 0, false);
	}
	assert_int_equal(extract_free(&x, err), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

	assert_int_equal(count_files(dir), N);	/* no temporary file left */
	idx = read_index(dir);
	assert_int_equal(json_object_array_length(idx), N);
	for (size_t i = 0; i < N; i++) {
		struct json_object *o = json_object_array_get_idx(idx, i);
		size_t len;
		char *data = slurp(dir, jstr(o, "file"), &len);

		assert_int_equal(len, SIZE);
		assert_memory_equal(data, bodyb + jint(o, "session") - 1, SIZE);
		assert_true(jbool(o, "complete"));
		free(data);
	}
	json_object_put(idx);
	cleanup(dir);
}

/* A link planted where a body goes (content names are predictable) is
 * never written through: the body is dropped, not indexed, extract_free
 * fails naming the path, and the target is untouched.  Bodies are 0600. */
static void test_extract_planted_link(void **state)
{
	char dir[] = "/tmp/imapscope-extract-XXXXXX", target[] = "/tmp/imapscope-target-XXXXXX";
	struct extract *x = open_dir(dir);
	struct extract_meta m = meta(DIR_S2C, "BODY[]", 3);
	struct extract_item *a, *b;
	static uint8_t big[EXTRACT_MAX_FIELD * 40];
	char err[EXTRACT_ERRLEN], path[1024], got[16] = "";
	struct json_object *idx;
	struct extract_stats st;
	struct stat sb;
	int fd = mkstemp(target);
	FILE *fp;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	snprintf(path, sizeof path, "%s/%s.eml", dir, SHA_ABC);
	assert_int_equal(symlink(target, path), 0);
	a = extract_begin(x, 1, &m);
	extract_data(x, a, (const uint8_t *)"abc", 3);	/* small: straight to its name */
	extract_end(x, a, 0, 0, false);
	m = meta(DIR_S2C, "BODY[]", sizeof big);
	b = extract_begin(x, 2, &m);
	extract_data(x, b, big, sizeof big);		/* large: through a temporary */
	extract_end(x, b, 0, 0, false);
	extract_get_stats(x, &st);
	assert_int_equal(st.items, 1);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(extract_free(&x, err), -1);
	assert_non_null(strstr(err, SHA_ABC ".eml"));
	assert_non_null(strstr(err, "planted"));

	fp = fopen(target, "r");
	assert_non_null(fp);
	assert_non_null(fgets(got, sizeof got, fp));
	fclose(fp);
	assert_string_equal(got, "precious");
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	idx = read_index(dir);
	assert_int_equal(json_object_array_length(idx), 1);
	assert_int_equal(jint(json_object_array_get_idx(idx, 0), "session"), 2);
	snprintf(path, sizeof path, "%s/%s", dir, jstr(json_object_array_get_idx(idx, 0), "file"));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof path, "%s/index.jsonl", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	json_object_put(idx);
	unlink(target);
	cleanup(dir);
}

/* A folder an earlier run filled: refused; with force, cleaned. */
static void test_extract_reused_dir(void **state)
{
	char dir[] = "/tmp/imapscope-extract-XXXXXX", err[EXTRACT_ERRLEN];
	struct extract *x = open_dir(dir);
	struct extract_meta m = meta(DIR_S2C, "BODY[]", 3);
	struct extract_item *a = extract_begin(x, 1, &m);

	(void)state;
	extract_data(x, a, (const uint8_t *)"abc", 3);
	extract_end(x, a, 0, 0, false);
	close_dir(&x);
	assert_null(extract_new(dir, false, NULL, err));
	assert_non_null(strstr(err, "not empty"));
	x = extract_new(dir, true, NULL, err);
	assert_non_null(x);
	assert_int_equal(count_files(dir), 0);	/* the old body went */
	close_dir(&x);
	cleanup(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract_dedup),
		cmocka_unit_test(test_extract_index_fields),
		cmocka_unit_test(test_extract_truncated),
		cmocka_unit_test(test_extract_nothing_arrived),
		cmocka_unit_test(test_extract_large),
		cmocka_unit_test(test_extract_section_names),
		cmocka_unit_test(test_extract_whole),
		cmocka_unit_test(test_extract_bad_dir),
		cmocka_unit_test(test_extract_budget),
		cmocka_unit_test(test_extract_many_in_flight),
		cmocka_unit_test(test_extract_planted_link),
		cmocka_unit_test(test_extract_reused_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
