/* --write-keys-pcapng (see app/keys_pcapng.h). */
#include "app/keys_pcapng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "net/pcapng_write.h"
#include "util/outdir.h"

struct keys_pcapng {
	FILE *fp;
	const char *path;	/* the option's value */
};

/* The secrets blocks: the used lines gathered into blocks of at most
 * PCAPNG_DSB_MAX bytes, never a line cut between two. */
struct dsb_fill {
	struct pcapng_out *o;
	uint8_t *p;
	size_t len, cap;
	size_t total;		/* the first walk only measures */
};

static int dsb_measure(void *ctx, const char *line, size_t len)
{
	(void)line;
	((struct dsb_fill *)ctx)->total += len;
	return 0;
}

static int dsb_flush(struct dsb_fill *f)
{
	int rc = 0;

	if (f->len != 0)
		rc = pcapng_put_dsb(f->o, PCAPNG_SECRETS_TLS, f->p, f->len);
	OPENSSL_cleanse(f->p, f->len);
	f->len = 0;
	return rc;
}

static int dsb_line(void *ctx, const char *line, size_t len)
{
	struct dsb_fill *f = ctx;

	if (f->len + len > f->cap && dsb_flush(f) != 0)
		return -1;
	memcpy(f->p + f->len, line, len);
	f->len += len;
	return 0;
}

struct secrets_ctx {
	const struct tls_keys *keys;
	struct mem_budget *budget;
};

/* pcapng_out's secrets hook: nothing when no session used a key. */
static int write_secrets(void *ctx, struct pcapng_out *o)
{
	struct secrets_ctx *sc = ctx;
	struct dsb_fill f = { o, NULL, 0, 0, 0 };
	int rc;

	if (tls_keys_used_lines(sc->keys, dsb_measure, &f) != 0 || f.total == 0)
		return 0;	/* measuring never stops early */
	f.cap = f.total < PCAPNG_DSB_MAX ? f.total : PCAPNG_DSB_MAX;
	if (mem_charge(sc->budget, f.cap) != 0) {
		o->err = ENOMEM;
		return -1;
	}
	if ((f.p = malloc(f.cap)) == NULL) {
		mem_release(sc->budget, f.cap);
		o->err = ENOMEM;
		return -1;
	}
	rc = tls_keys_used_lines(sc->keys, dsb_line, &f);
	if (rc == 0)
		rc = dsb_flush(&f);
	OPENSSL_cleanse(f.p, f.cap);
	free(f.p);
	mem_release(sc->budget, f.cap);
	return rc;
}

/* FILE may not be a file the run reads or writes: opening truncates it. */
static const char *clashes(const struct run_options *o, const char *path)
{
	size_t i;

	for (i = 0; i < o->n_inputs; i++)
		if (outdir_same(o->inputs[i], path))
			return "an input";
	for (i = 0; i < o->n_keylogs; i++)
		if (outdir_same(o->keylogs[i], path))
			return "a key log";
	if (o->rsa_key != NULL && outdir_same(o->rsa_key, path))
		return "the --rsa-key file";
	if (o->output_path != NULL && outdir_same(o->output_path, path))
		return "the -o output";
	return NULL;
}

int keys_pcapng_open(struct keys_pcapng **kp_r, const struct run_options *o,
		     struct tls_keys *keys)
{
	const char *path = o->keys_pcapng_path, *what;
	char err[OUTDIR_ERRLEN > CAPTURE_ERRLEN ? OUTDIR_ERRLEN : CAPTURE_ERRLEN];
	struct keys_pcapng *kp;
	int fd;
	size_t i;

	*kp_r = NULL;
	for (i = 0; i < o->n_inputs; i++) {
		if (pcapng_copy_check(o->inputs[i], err) != 0) {
			fprintf(stderr, "imapscope: --write-keys-pcapng reads its inputs twice:"
				" %s: %s\n", o->inputs[i], err);
			return RUN_USAGE;
		}
	}
	if ((what = clashes(o, path)) != NULL) {
		fprintf(stderr, "imapscope: --write-keys-pcapng: %s is %s\n", path, what);
		return RUN_USAGE;
	}
	kp = calloc(1, sizeof *kp);
	if (kp == NULL) {
		fputs("imapscope: out of memory\n", stderr);
		return RUN_USAGE;
	}
	kp->path = path;
	fd = outdir_open_file(path, true, err);	/* it holds secrets: 0600 */
	if (fd < 0 || (kp->fp = fdopen(fd, "w")) == NULL) {
		if (fd >= 0) {
			snprintf(err, sizeof err, "%.300s: %s", path, strerror(errno));
			close(fd);
		}
		fprintf(stderr, "imapscope: --write-keys-pcapng: %s\n", err);
		free(kp);
		return RUN_USAGE;
	}
	if (keys != NULL)
		tls_keys_track_used(keys);
	*kp_r = kp;
	return RUN_OK;
}

void keys_pcapng_free(struct keys_pcapng **kp)
{
	if (kp == NULL || *kp == NULL)
		return;
	if ((*kp)->fp != NULL)
		fclose((*kp)->fp);
	free(*kp);
	*kp = NULL;
}

/* What FILE lacks, said once. */
static void say_lacks(const struct tls_keys *keys, const char *path,
		      notice_fn *notice, void *notice_ctx)
{
	struct notice n = NOTICE_OF(NOTICE_KEYLOG);
	char msg[NOTICE_MAX];

	if (tls_keys_used_count(keys) == 0)
		snprintf(msg, sizeof msg, "--write-keys-pcapng: no session's keys were in the"
			 " key logs: %.100s holds the packets and no secrets", path);
	else if (tls_keys_used_full(keys))
		snprintf(msg, sizeof msg, "--write-keys-pcapng: over --max-memory noting the"
			 " keys used: %.100s lacks some sessions' secrets", path);
	else
		return;
	n.text = msg;
	notice(notice_ctx, &n);
}

/* Every input in turn; the worse status. */
static int copy_inputs(struct pcapng_out *out, const struct run_options *o, const char *path)
{
	char err[CAPTURE_ERRLEN];
	struct pcapng_copy_stats st;
	size_t i;

	for (i = 0; i < o->n_inputs; i++) {
		int rc = pcapng_copy_file(out, o->inputs[i], &st, err);

		if (rc == -1) {
			fprintf(stderr, "imapscope: --write-keys-pcapng: %s: %s\n",
				o->inputs[i], err);
			return RUN_INPUT;
		}
		if (rc == -2)
			break;
	}
	if (out->err == 0 && fflush(out->fp) != 0)
		out->err = errno;
	if (out->err != 0) {
		fprintf(stderr, "imapscope: --write-keys-pcapng: %s: %s\n", path,
			strerror(out->err));
		return RUN_USAGE;
	}
	return RUN_OK;
}

int keys_pcapng_write(struct keys_pcapng **kp, const struct run_options *o,
		      const struct tls_keys *keys, struct mem_budget *budget,
		      notice_fn *notice, void *notice_ctx, int status)
{
	struct secrets_ctx sc = { keys, budget };
	struct pcapng_out out;
	int rc;

	pcapng_out_init(&out, (*kp)->fp, budget, write_secrets, &sc);
	rc = copy_inputs(&out, o, (*kp)->path);
	if (rc == RUN_OK)
		say_lacks(keys, (*kp)->path, notice, notice_ctx);
	if (fclose((*kp)->fp) != 0 && rc == RUN_OK) {
		fprintf(stderr, "imapscope: --write-keys-pcapng: %s: %s\n", (*kp)->path,
			strerror(errno));
		rc = RUN_USAGE;
	}
	(*kp)->fp = NULL;
	keys_pcapng_free(kp);
	return rc > status ? rc : status;
}
