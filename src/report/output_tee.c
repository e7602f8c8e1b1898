#include "report/output_tee.h"

#include <stdlib.h>
#include <string.h>

struct tee {
	struct output_ops ops;	/* facts are the parts' union */
	struct output part[OUTPUT_TEE_MAX];
	size_t n;
};

static void tee_event(void *ctx, const struct event *ev)
{
	struct tee *t = ctx;

	for (size_t i = 0; i < t->n; i++)
		t->part[i].ops->event(t->part[i].ctx, ev);
}

/* Every part finishes, even after one failed to write. */
static int tee_finish(void *ctx)
{
	struct tee *t = ctx;
	int rc = 0;

	for (size_t i = 0; i < t->n; i++)
		if (t->part[i].ops->finish(t->part[i].ctx) != 0)
			rc = -1;
	return rc;
}

static void tee_flush(void *ctx)
{
	struct tee *t = ctx;

	for (size_t i = 0; i < t->n; i++)
		if (t->part[i].ops->flush != NULL)
			t->part[i].ops->flush(t->part[i].ctx);
}

static void free_parts(const struct output *parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		parts[i].ops->free(parts[i].ctx);
}

static void tee_free(void *ctx)
{
	struct tee *t = ctx;

	free_parts(t->part, t->n);
	free(t);
}

int output_tee_new(struct output *out_r, const struct output *parts, size_t n)
{
	struct tee *t;

	if (n == 1) {
		*out_r = parts[0];
		return 0;
	}
	if (n == 0 || n > OUTPUT_TEE_MAX || (t = calloc(1, sizeof *t)) == NULL) {
		free_parts(parts, n);
		return -1;
	}
	t->ops = (struct output_ops){ .event = tee_event, .finish = tee_finish,
				      .free = tee_free, .flush = tee_flush };
	memcpy(t->part, parts, n * sizeof *parts);
	t->n = n;
	for (size_t i = 0; i < n; i++)
		t->ops.facts |= parts[i].ops->facts;
	*out_r = (struct output){ &t->ops, t };
	return 0;
}
