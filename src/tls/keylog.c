/* The NSS key log reader: lines are parsed as the file streams by, so a
 * key log of any size costs a read buffer and what the store keeps.  See
 * tls/keylog.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keylog_int.h"

#define KEYLOG_READ_CHUNK	65536

/* Labels in the key log; -1 marks labels that are valid but carry nothing
 * decryption needs. */
static const struct {
	const char *name;
	int label;	/* enum keylog_label, or -1: accepted and ignored */
} keylog_labels[] = {
	{ "CLIENT_RANDOM", KEYLOG_MASTER_SECRET },
	{ "CLIENT_HANDSHAKE_TRAFFIC_SECRET", KEYLOG_CLIENT_HS },
	{ "SERVER_HANDSHAKE_TRAFFIC_SECRET", KEYLOG_SERVER_HS },
	{ "CLIENT_TRAFFIC_SECRET_0", KEYLOG_CLIENT_AP0 },
	{ "SERVER_TRAFFIC_SECRET_0", KEYLOG_SERVER_AP0 },
	{ "CLIENT_EARLY_TRAFFIC_SECRET", KEYLOG_CLIENT_EARLY },
	{ "EXPORTER_SECRET", -1 },
	{ "EARLY_EXPORTER_SECRET", -1 },
	{ "EARLY_EXPORTER_MASTER_SECRET", -1 },
	{ "RSA", -1 },	/* encrypted pre-master prefix; CLIENT_RANDOM suffices */
};

/* One file being read: the line it is on, what was found, and the piece
 * of a line that a read cut. */
struct keylog_reader {
	struct tls_keys *k;
	const char *name;
	unsigned long lineno;
	unsigned long good, bad;	/* valid lines; malformed ones */
	unsigned long first_bad;	/* line number of the first malformed one */
	const char *first_why;
	bool too_long;			/* the line being gathered passed the limit */
	size_t carry_len;
	uint8_t carry[KEYLOG_MAX_LINE];
};

const char *keylog_label_name(enum keylog_label l)
{
	size_t i;

	for (i = 0; i < sizeof keylog_labels / sizeof keylog_labels[0]; i++)
		if (keylog_labels[i].label == (int)l)
			return keylog_labels[i].name;
	return "?";
}

static int hex_val(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode exactly n hex digits into n/2 bytes. */
static bool hex_decode(const uint8_t *p, size_t n, uint8_t *out)
{
	size_t i;
	int hi, lo;

	if (n % 2 != 0)
		return false;
	for (i = 0; i < n / 2; i++) {
		hi = hex_val(p[2 * i]);
		lo = hex_val(p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool all_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hex_val(p[i]) < 0)
			return false;
	return true;
}

/* Split off the next space-separated field of [*p, end). */
static struct buf_slice next_field(const uint8_t **p, const uint8_t *end)
{
	struct buf_slice f;

	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	f.ptr = *p;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	f.len = (size_t)(*p - f.ptr);
	return f;
}

static int label_lookup(struct buf_slice f, bool *known_r)
{
	size_t i;

	for (i = 0; i < sizeof keylog_labels / sizeof keylog_labels[0]; i++) {
		if (strlen(keylog_labels[i].name) == f.len &&
		    memcmp(keylog_labels[i].name, f.ptr, f.len) == 0) {
			*known_r = true;
			return keylog_labels[i].label;
		}
	}
	*known_r = false;
	return -1;
}

static int keylog_bad(const char **why_r, const char *why)
{
	*why_r = why;
	return 2;
}

/* One line without its end of line.  Returns 0 for a blank line or a
 * comment, 1 for a valid line (kept, not wanted, or dropped at the memory
 * share), 2 with *why set for a malformed one. */
static int keylog_line(struct tls_keys *k, const uint8_t *p, size_t n, const char **why)
{
	const uint8_t *end = p + n;
	struct buf_slice lab, rnd, sec, extra;
	uint8_t random[KEYLOG_RANDOM_LEN], secret[KEYLOG_MAX_SECRET];
	bool known;
	int label;

	if (n > 0 && p[n - 1] == '\r')
		end--;
	lab = next_field(&p, end);
	if (lab.len == 0 || lab.ptr[0] == '#')
		return 0;
	rnd = next_field(&p, end);
	sec = next_field(&p, end);
	extra = next_field(&p, end);
	label = label_lookup(lab, &known);
	if (!known)
		return keylog_bad(why, "unknown label");
	if (rnd.len == 0 || sec.len == 0 || extra.len != 0)
		return keylog_bad(why, "expected LABEL CLIENT_RANDOM SECRET");
	if (label < 0)
		return 1;
	if (rnd.len != 2 * KEYLOG_RANDOM_LEN || !hex_decode(rnd.ptr, rnd.len, random))
		return keylog_bad(why, "client random is not 64 hex digits");
	if (sec.len > 2 * KEYLOG_MAX_SECRET || sec.len % 2 != 0 || !all_hex(sec.ptr, sec.len))
		return keylog_bad(why, "secret is not hex (at most 128 digits)");
	if (label == KEYLOG_MASTER_SECRET && sec.len != 2 * 48)
		return keylog_bad(why, "CLIENT_RANDOM master secret is not 48 bytes");
	/* the secret is decoded only for a random that is kept */
	if (!keystore_wanted(k, random))
		return 1;
	hex_decode(sec.ptr, sec.len, secret);
	(void)keystore_put(k, random, (enum keylog_label)label, secret, sec.len / 2);
	OPENSSL_cleanse(secret, sizeof secret);
	return 1;
}

static void reader_line(struct keylog_reader *rd, const uint8_t *p, size_t n, bool too_long)
{
	const char *why = "line too long";
	int rc = too_long ? 2 : keylog_line(rd->k, p, n, &why);

	rd->lineno++;
	if (rc == 1)
		rd->good++;
	if (rc == 2 && rd->bad++ == 0) {
		rd->first_bad = rd->lineno;
		rd->first_why = why;
	}
}

/* Whole lines of [p, p+n) are handled; the piece after the last newline
 * waits in the carry (or is only counted, when longer than any line may
 * be). */
static void reader_feed(struct keylog_reader *rd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t len = nl != NULL ? (size_t)(nl - p) : n;

		if (rd->carry_len == 0 && !rd->too_long && nl != NULL) {
			reader_line(rd, p, len, len > KEYLOG_MAX_LINE);
		} else {
			if (rd->too_long || len > KEYLOG_MAX_LINE - rd->carry_len) {
				rd->too_long = true;
			} else {
				memcpy(rd->carry + rd->carry_len, p, len);
				rd->carry_len += len;
			}
			if (nl != NULL) {
				reader_line(rd, rd->carry, rd->carry_len, rd->too_long);
				rd->carry_len = 0;
				rd->too_long = false;
			}
		}
		p += len + (nl != NULL);
		n -= len + (nl != NULL);
	}
}

/* The end of the file: the last line, then the verdict.  A file with
 * lines but no valid one is not a key log (-1, with err); malformed lines
 * in a real one are summed up in one notice. */
/* msg names a file and a line: it may pass NOTICE_MAX, so it is not cut. */
static void keylog_say(notice_fn *notice, void *notice_ctx, const char *msg)
{
	struct notice n = NOTICE_OF(NOTICE_KEYLOG);

	n.text = msg;
	notice(notice_ctx, &n);
}

static int reader_finish(struct keylog_reader *rd, notice_fn *notice,
			 void *notice_ctx, char err[KEYLOG_ERRLEN])
{
	char msg[KEYLOG_ERRLEN + 128];

	if (rd->carry_len > 0 || rd->too_long)
		reader_line(rd, rd->carry, rd->carry_len, rd->too_long);
	OPENSSL_cleanse(rd->carry, sizeof rd->carry);
	if (rd->good == 0 && rd->bad > 0) {
		snprintf(err, KEYLOG_ERRLEN, "%s: not a key log (no valid line; line %lu: %s)",
			 rd->name, rd->first_bad, rd->first_why);
		return -1;
	}
	if (notice == NULL)
		return 0;
	if (rd->bad == 1) {
		snprintf(msg, sizeof msg, "%s:%lu: key log line skipped: %s", rd->name,
			 rd->first_bad, rd->first_why);
		keylog_say(notice, notice_ctx, msg);
	} else if (rd->bad > 1) {
		snprintf(msg, sizeof msg, "%s:%lu: key log line skipped: %s; %lu malformed"
			 " lines skipped in all", rd->name, rd->first_bad, rd->first_why, rd->bad);
		keylog_say(notice, notice_ctx, msg);
	} else if (rd->good == 0) {
		snprintf(msg, sizeof msg, "%s: the key log holds no keys", rd->name);
		keylog_say(notice, notice_ctx, msg);
	}
	return 0;
}

static void reader_init(struct keylog_reader *rd, struct tls_keys *k, const char *name)
{
	memset(rd, 0, offsetof(struct keylog_reader, carry));
	rd->k = k;
	rd->name = name;
}

int keylog_load_mem(struct tls_keys *k, const char *name,
		    const uint8_t *p, size_t n,
		    notice_fn *notice, void *notice_ctx,
		    char err[KEYLOG_ERRLEN])
{
	struct keylog_reader rd;

	reader_init(&rd, k, name);
	reader_feed(&rd, p, n);
	return reader_finish(&rd, notice, notice_ctx, err);
}

int keylog_load_file(struct tls_keys *k, const char *path,
		     notice_fn *notice, void *notice_ctx,
		     char err[KEYLOG_ERRLEN])
{
	struct keylog_reader rd;
	uint8_t chunk[KEYLOG_READ_CHUNK];
	size_t got;
	FILE *fp;
	int rc = -1;

	fp = fopen(path, "rb");
	if (fp == NULL) {
		snprintf(err, KEYLOG_ERRLEN, "%s: %s", path, strerror(errno));
		return -1;
	}
	reader_init(&rd, k, path);
	while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
		reader_feed(&rd, chunk, got);
	OPENSSL_cleanse(chunk, sizeof chunk);
	if (ferror(fp)) {
		snprintf(err, KEYLOG_ERRLEN, "%s: read error", path);
		OPENSSL_cleanse(rd.carry, sizeof rd.carry);
	} else {
		rc = reader_finish(&rd, notice, notice_ctx, err);
	}
	fclose(fp);
	return rc;
}
