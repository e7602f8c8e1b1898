/* The hash of every table whose keys come from input: flows (4-tuples from
 * the wire), key log entries (client randoms from a file), and the client,
 * server and user sets of --logins and --summary.
 *
 * Each table draws its own seed at run time.  With a fixed, public seed a
 * capture or key log could be crafted so that all its keys share a bucket
 * and every lookup walks them all: quadratic time, a hang in practice. */
#ifndef IMAPSCOPE_UTIL_HASH_H
#define IMAPSCOPE_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A fresh seed from the kernel's random source, never 0 (0 means "not
 * drawn yet" to the tables that draw lazily). */
uint64_t hash_seed_random(void);

/* Eight bytes a step, each multiplied in and folded (FNV-1a a byte at a
 * time was 5% of all instructions in the flow lookup), then a final mix.
 * Inline: the flow table calls it for every packet. */
static inline uint64_t hash_bytes(uint64_t seed, const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t h = seed ^ (n * 0xc2b2ae3d27d4eb4full), w;

	for (size_t i = 0; i < n; i += sizeof w) {
		if (n - i >= sizeof w) {
			memcpy(&w, p + i, sizeof w);	/* a fixed size: one load */
		} else {
			w = 0;
			memcpy(&w, p + i, n - i);
		}
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 32;
	}
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 29);
}

#endif
