/* output_tee: every event to each part in order, the facts' union, every
 * part finished and freed even when one fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report/output_tee.h"

struct part {
	char log[64];
	size_t n;
	char name;
	int finish_rc;
	int *freed;
};

static void part_event(void *ctx, const struct event *ev)
{
	struct part *p = ctx;

	(void)ev;
	if (p->n + 1 < sizeof p->log)
		p->log[p->n++] = p->name;
}

static int part_finish(void *ctx)
{
	return ((struct part *)ctx)->finish_rc;
}

static void part_free(void *ctx)
{
	(*((struct part *)ctx)->freed)++;
}

static const struct output_ops ops_a = { .event = part_event, .finish = part_finish,
					 .free = part_free, .facts = IMAP_FACTS_FETCH };
static const struct output_ops ops_b = { .event = part_event, .finish = part_finish,
					 .free = part_free, .facts = IMAP_FACTS_MESSAGES };

static void test_order_facts_finish(void **state)
{
	int freed = 0;
	struct part a = { .name = 'a', .freed = &freed }, b = { .name = 'b', .freed = &freed };
	struct output parts[2] = { { &ops_a, &a }, { &ops_b, &b } }, out;
	struct event ev = { 0 };

	(void)state;
	assert_int_equal(output_tee_new(&out, parts, 2), 0);
	assert_int_equal(out.ops->facts, IMAP_FACTS_FETCH | IMAP_FACTS_MESSAGES);
	out.ops->event(out.ctx, &ev);
	out.ops->event(out.ctx, &ev);
	assert_string_equal(a.log, "aa");
	assert_string_equal(b.log, "bb");
	assert_int_equal(out.ops->finish(out.ctx), 0);
	a.finish_rc = -1;	/* the first fails: the second still finishes */
	assert_int_equal(out.ops->finish(out.ctx), -1);
	out.ops->flush(out.ctx);	/* parts without flush are skipped */
	out.ops->free(out.ctx);
	assert_int_equal(freed, 2);
}

static void test_one_part_is_itself(void **state)
{
	int freed = 0;
	struct part a = { .name = 'a', .freed = &freed };
	struct output parts[1] = { { &ops_a, &a } }, out;

	(void)state;
	assert_int_equal(output_tee_new(&out, parts, 1), 0);
	assert_ptr_equal(out.ctx, &a);
	assert_ptr_equal(out.ops, &ops_a);
}

static void test_too_many_frees_all(void **state)
{
	int freed = 0;
	struct part p = { .name = 'p', .freed = &freed };
	struct output parts[OUTPUT_TEE_MAX + 1], out;

	(void)state;
	for (size_t i = 0; i < OUTPUT_TEE_MAX + 1; i++)
		parts[i] = (struct output){ &ops_a, &p };
	assert_int_equal(output_tee_new(&out, parts, OUTPUT_TEE_MAX + 1), -1);
	assert_int_equal(freed, OUTPUT_TEE_MAX + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_facts_finish),
		cmocka_unit_test(test_one_part_is_itself),
		cmocka_unit_test(test_too_many_frees_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
