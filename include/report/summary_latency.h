/* --summary: latency statistics of one command name: n, min and max always
 * exact; percentiles exact up to SUMMARY_LAT_EXACT samples, then from a
 * histogram of SUMMARY_LAT_BUCKETS buckets (limits and error bound in
 * summary.h).  A zeroed struct summary_lat is empty. */
#ifndef IMAPSCOPE_REPORT_SUMMARY_LATENCY_H
#define IMAPSCOPE_REPORT_SUMMARY_LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report/summary.h"	/* SUMMARY_LAT_* */
#include "util/buf.h"

struct summary_lat {
	uint64_t n;		/* samples seen */
	uint64_t min_us, max_us;
	uint64_t *samples;	/* exact mode: nsamp samples */
	size_t nsamp;
	uint64_t *hist;		/* past SUMMARY_LAT_EXACT: SUMMARY_LAT_BUCKETS counts */
	uint64_t lost;		/* samples not kept for want of memory */
	struct mem_budget *budget;	/* charged for samples and hist; may be NULL */
};

/* Keep one sample: exactly while there is room, else in the histogram.
 * Out of memory or refused by the budget, the sample still counts in n,
 * min and max (and in lost, so the percentiles say "exact": false). */
void summary_lat_add(struct summary_lat *l, uint64_t us);
/* Free the samples and zero l, all but its budget. */
void summary_lat_free(struct summary_lat *l);
/* Whether percentiles are exact: no histogram and no sample lost. */
bool summary_lat_exact(const struct summary_lat *l);
/* Nearest-rank percentile p (1..100) in microseconds; 0 with no samples.
 * May reorder the exact samples. */
uint64_t summary_lat_pct(struct summary_lat *l, unsigned p);

#endif
