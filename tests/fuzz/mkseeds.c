/* Seed extractor for the fuzz targets (run by `make fuzz`, output under
 * build-fuzz/, never committed): reads capture files through the real
 * capture -> decode -> flow table path and writes each session's
 * reassembled byte streams in the escape format of fuzz_common.h:
 *
 *   DIR/session/NAME-ID      both directions interleaved, with gaps
 *   DIR/imap_lexer/NAME-ID-c2s|s2c   one direction
 *   DIR/tls_record/NAME-ID   sessions that start with a TLS record
 *
 * usage: fuzz_mkseeds DIR CAPTURE... */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/run.h"
#include "fuzz_common.h"
#include "net/flow.h"
#include "tls/tls_record.h"

#define SEED_MAX_SESSION 16384	/* = -max_len of the session target */
#define SEED_MAX_LEXER   16384
#define SEED_MAX_TLS     32768

struct seedbuf {
	uint8_t *p;
	size_t len, max;
};

struct rec {
	const char *dir, *name;
	uint64_t id;
	bool mid_stream, implicit_tls;
	int last_dir;			/* -1 before any byte */
	struct seedbuf both, one[2];
	uint8_t first[2][TLS_RECORD_HEADER_LEN];
	size_t first_len[2];
};

struct seeds {
	const char *dir, *name;
};

static void sb_put(struct seedbuf *b, const uint8_t *p, size_t n)
{
	if (b->len + n > b->max)
		n = b->max - b->len;	/* a seed is a prefix; the rest is cut */
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Data bytes, escaping 0xFF; whole escapes only, never half of one. */
static void sb_data(struct seedbuf *b, const uint8_t *p, size_t n)
{
	static const uint8_t ff[2] = { FUZZ_ESC, 0x00 };

	for (size_t i = 0; i < n; i++) {
		if (b->len + 2 > b->max)
			return;
		if (p[i] == FUZZ_ESC)
			sb_put(b, ff, 2);
		else
			sb_put(b, p + i, 1);
	}
}

static void sb_esc(struct seedbuf *b, uint8_t cmd, uint8_t arg)
{
	const uint8_t e[3] = { FUZZ_ESC, cmd, arg };

	if (b->len + 3 <= b->max)
		sb_put(b, e, 3);
}

static void sb_init(struct seedbuf *b, size_t max, uint8_t mode)
{
	if ((b->p = malloc(max)) == NULL)
		abort();
	b->max = max;
	b->len = 0;
	sb_put(b, &mode, 1);
}

static void sb_write(const struct seedbuf *b, const char *dir, const char *sub,
		     const char *name, uint64_t id, const char *suffix)
{
	char path[4096];
	FILE *fp;

	if (b->len <= 4)
		return;	/* nothing but a header */
	snprintf(path, sizeof path, "%s/%s", dir, sub);
	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		return;
	snprintf(path, sizeof path, "%s/%s/%s-%llu%s", dir, sub, name,
		 (unsigned long long)id, suffix);
	if ((fp = fopen(path, "wb")) == NULL)
		return;
	fwrite(b->p, 1, b->len, fp);
	fclose(fp);
}

static void *rec_open(void *ctx, const struct flow_info *fi)
{
	struct seeds *r = ctx;
	struct rec *c = calloc(1, sizeof *c);
	/* session mode: bit 4 mid-stream, 5 implicit TLS, 6 fixed keys */
	uint8_t mode = (uint8_t)((fi->mid_stream ? 0x10 : 0) | (fi->implicit_tls ? 0x20 : 0));

	if (c == NULL)
		abort();
	c->dir = r->dir;
	c->name = r->name;
	c->id = fi->session_id;
	c->mid_stream = fi->mid_stream;
	c->implicit_tls = fi->implicit_tls;
	c->last_dir = -1;
	sb_init(&c->both, SEED_MAX_TLS, mode);
	for (int d = 0; d < 2; d++) {
		/* lexer mode: bit 3/4 mid-stream for c2s/s2c */
		sb_init(&c->one[d], SEED_MAX_LEXER, fi->mid_stream ? 0x18 : 0);
		sb_esc(&c->one[d], 0x01, (uint8_t)d);
	}
	return c;
}

static void rec_switch(struct rec *c, enum stream_dir dir)
{
	if (c->last_dir != (int)dir)
		sb_esc(&c->both, 0x01, (uint8_t)dir);
	c->last_dir = (int)dir;
}

static void rec_feed(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n, int64_t ts)
{
	struct rec *c = ctx;

	(void)ts;
	while (c->first_len[dir] < TLS_RECORD_HEADER_LEN && n > 0) {
		c->first[dir][c->first_len[dir]++] = p[0];
		sb_data(&c->one[dir], p, 1);
		rec_switch(c, dir);
		sb_data(&c->both, p, 1);
		p++, n--;
	}
	rec_switch(c, dir);
	sb_data(&c->both, p, n);
	sb_data(&c->one[dir], p, n);
}

static void rec_gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts)
{
	struct rec *c = ctx;

	(void)ts;
	rec_switch(c, dir);
	if (nbytes <= 256) {
		sb_esc(&c->both, 0x02, (uint8_t)(nbytes - 1));
		sb_esc(&c->one[dir], 0x02, (uint8_t)(nbytes - 1));
	} else {
		uint64_t u = (nbytes + 0xffff) >> 16;

		u = u == 0 ? 1 : u > 256 ? 256 : u;
		sb_esc(&c->both, 0x03, (uint8_t)(u - 1));
		sb_esc(&c->one[dir], 0x03, (uint8_t)(u - 1));
	}
}

static void rec_end(void *ctx, enum end_reason why, int64_t ts)
{
	struct rec *c = ctx;
	bool tls = c->implicit_tls;

	(void)why;
	(void)ts;
	for (int d = 0; d < 2; d++)
		if (tls_looks_like_record(c->first[d], c->first_len[d]))
			tls = true;
	if (tls)
		sb_write(&c->both, c->dir, "tls_record", c->name, c->id, "");
	if (c->both.len > SEED_MAX_SESSION)
		c->both.len = SEED_MAX_SESSION;	/* may cut an escape: harmless */
	sb_write(&c->both, c->dir, "session", c->name, c->id, "");
	sb_write(&c->one[DIR_C2S], c->dir, "imap_lexer", c->name, c->id, "-c2s");
	sb_write(&c->one[DIR_S2C], c->dir, "imap_lexer", c->name, c->id, "-s2c");
	free(c->both.p);
	free(c->one[0].p);
	free(c->one[1].p);
	free(c);
}

static const struct byte_layer_ops rec_ops = { .feed = rec_feed, .gap = rec_gap, .end = rec_end };

/* Each capture through the program's own run, with the recorder in place
 * of the sessions. */
int main(int argc, char **argv)
{
	static struct run_options opt;	/* big: off the stack */
	struct seeds sd = { 0 };
	struct run_sinks sinks = { .open = rec_open, .open_ctx = &sd, .ops = &rec_ops };
	int written = 0;

	if (argc < 3) {
		fputs("usage: fuzz_mkseeds DIR CAPTURE...\n", stderr);
		return 2;
	}
	sd.dir = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *base = strrchr(argv[i], '/');

		sd.name = base != NULL ? base + 1 : argv[i];
		run_options_defaults(&opt);
		opt.inputs[opt.n_inputs++] = argv[i];
		opt.quiet = true;
		if (run_main(&opt, &sinks) == RUN_OK)
			written++;
	}
	fprintf(stderr, "fuzz_mkseeds: %d captures read\n", written);
	return 0;
}
