/* --summary: latency statistics of one command name.  Exact samples up to
 * SUMMARY_LAT_EXACT, then a log-linear histogram; nearest-rank percentiles.
 * See summary.h for the error bound. */
#include "report/summary_latency.h"

#include <stdlib.h>
#include <string.h>

static unsigned summary_lat_bucket(uint64_t v)
{
	unsigned e, sub;

	if (v < SUMMARY_LAT_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	if (e >= SUMMARY_LAT_TOP_EXP)
		return SUMMARY_LAT_BUCKETS - 1;
	sub = (unsigned)(v >> (e - SUMMARY_LAT_SUB_BITS)) & (SUMMARY_LAT_SUB - 1);
	return SUMMARY_LAT_SUB + (e - SUMMARY_LAT_SUB_BITS) * SUMMARY_LAT_SUB + sub;
}

/* The value a bucket stands for: its midpoint (exact below 32 us). */
static uint64_t summary_lat_bucket_value(unsigned idx)
{
	unsigned k, shift;
	uint64_t low;

	if (idx < SUMMARY_LAT_SUB)
		return idx;
	k = idx - SUMMARY_LAT_SUB;
	shift = k / SUMMARY_LAT_SUB;
	low = (uint64_t)(SUMMARY_LAT_SUB + k % SUMMARY_LAT_SUB) << shift;
	return low + (((uint64_t)1 << shift) >> 1);
}

/* Move the exact samples into a histogram: from now on percentiles are
 * approximate, and memory stays at one histogram however long it runs. */
static int summary_lat_to_hist(struct summary_lat *l)
{
	size_t i;

	if (mem_charge(l->budget, SUMMARY_LAT_BUCKETS * sizeof *l->hist) != 0)
		return -1;
	l->hist = calloc(SUMMARY_LAT_BUCKETS, sizeof *l->hist);
	if (l->hist == NULL) {
		mem_release(l->budget, SUMMARY_LAT_BUCKETS * sizeof *l->hist);
		return -1;
	}
	for (i = 0; i < l->nsamp; i++)
		l->hist[summary_lat_bucket(l->samples[i])]++;
	free(l->samples);
	if (l->samples != NULL)
		mem_release(l->budget, SUMMARY_LAT_EXACT * sizeof *l->samples);
	l->samples = NULL;
	l->nsamp = 0;
	return 0;
}

/* Keep one sample: exactly while there is room, else in the histogram.
 * Out of memory, the sample still counts in n, min and max. */
void summary_lat_add(struct summary_lat *l, uint64_t us)
{
	if (l->n == 0 || us < l->min_us)
		l->min_us = us;
	if (us > l->max_us)
		l->max_us = us;
	l->n++;
	if (l->hist == NULL && l->nsamp < SUMMARY_LAT_EXACT) {
		if (l->samples == NULL &&
		    mem_charge(l->budget, SUMMARY_LAT_EXACT * sizeof *l->samples) == 0) {
			l->samples = malloc(SUMMARY_LAT_EXACT * sizeof *l->samples);
			if (l->samples == NULL)
				mem_release(l->budget, SUMMARY_LAT_EXACT * sizeof *l->samples);
		}
		if (l->samples == NULL)
			l->lost++;
		else
			l->samples[l->nsamp++] = us;
		return;
	}
	if (l->hist == NULL && summary_lat_to_hist(l) != 0) {
		l->lost++;
		return;
	}
	l->hist[summary_lat_bucket(us)]++;
}

void summary_lat_free(struct summary_lat *l)
{
	struct mem_budget *mb = l->budget;

	if (l->samples != NULL)
		mem_release(mb, SUMMARY_LAT_EXACT * sizeof *l->samples);
	if (l->hist != NULL)
		mem_release(mb, SUMMARY_LAT_BUCKETS * sizeof *l->hist);
	free(l->samples);
	free(l->hist);
	memset(l, 0, sizeof *l);
	l->budget = mb;
}

bool summary_lat_exact(const struct summary_lat *l)
{
	return l->hist == NULL && l->lost == 0;
}

static int summary_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile p (1..100) in microseconds; 0 with no samples. */
uint64_t summary_lat_pct(struct summary_lat *l, unsigned p)
{
	uint64_t kept = l->hist != NULL ? l->n - l->lost : l->nsamp, rank, seen = 0, v;
	unsigned i;

	if (kept == 0)
		return 0;
	rank = (kept * p + 99) / 100;
	if (rank == 0)
		rank = 1;
	if (l->hist == NULL) {
		/* Order does not matter for storage: sort in place. */
		qsort(l->samples, (size_t)kept, sizeof *l->samples, summary_u64_cmp);
		return l->samples[rank - 1];
	}
	for (i = 0; i < SUMMARY_LAT_BUCKETS; i++) {
		seen += l->hist[i];
		if (seen >= rank)
			break;
	}
	v = i == SUMMARY_LAT_BUCKETS - 1 ? l->max_us : summary_lat_bucket_value(i);
	return v < l->min_us ? l->min_us : v > l->max_us ? l->max_us : v;
}
