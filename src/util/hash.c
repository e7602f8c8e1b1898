/* Seeds for util/hash.h. */
#include "util/hash.h"

#include <stdint.h>
#include <sys/random.h>
#include <time.h>

uint64_t hash_seed_random(void)
{
	static uint64_t fallback;
	uint64_t seed = 0;
	struct timespec ts;

	if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
		/* No kernel source (very old kernel, seccomp): the clock and
		 * a counter still keep the seed from being known in advance. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
		       (++fallback * 0x9e3779b97f4a7c15ull);
	}
	return seed != 0 ? seed : 1;
}
