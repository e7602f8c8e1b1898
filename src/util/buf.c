#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

/* Whether n more bytes fit in b alone; *next_r is its use after them. */
static bool mem_fits(struct mem_budget *b, size_t n, size_t *next_r)
{
	return size_add(b->used, n, next_r) && (b->limit == 0 || *next_r <= b->limit);
}

int mem_charge(struct mem_budget *mb, size_t n)
{
	struct mem_budget *b;
	size_t next;

	for (b = mb; b != NULL; b = b->parent) {
		if (!mem_fits(b, n, &next)) {
			b->refused++;
			return -1;
		}
	}
	for (b = mb; b != NULL; b = b->parent) {
		b->used += n;
		if (b->used > b->peak)
			b->peak = b->used;
	}
	return 0;
}

void mem_release(struct mem_budget *mb, size_t n)
{
	for (struct mem_budget *b = mb; b != NULL; b = b->parent)
		b->used = n > b->used ? 0 : b->used - n;
}

bool buf_slice_ieq(struct buf_slice s, const char *word)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		uint8_t c = s.ptr[i];

		if (c >= 'a' && c <= 'z')
			c = (uint8_t)(c - 'a' + 'A');
		if (word[i] == '\0' || c != (uint8_t)word[i])
			return false;
	}
	return word[i] == '\0';
}

void buf_init(struct buf *b, size_t max, struct mem_budget *budget)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->budget = budget;
}

/* Grow the allocation so that need bytes fit; doubling keeps appends cheap. */
static int buf_grow(struct buf *b, size_t need)
{
	size_t ncap;
	uint8_t *nd;

	if (need <= b->cap)
		return 0;
	if (need > b->max)
		return -1;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need) {
		if (!size_mul(ncap, 2, &ncap)) {
			ncap = need;
			break;
		}
	}
	if (ncap > b->max)
		ncap = b->max;
	if (mem_charge(b->budget, ncap - b->cap) != 0)
		return -1;
	nd = realloc(b->data, ncap);
	if (nd == NULL) {
		mem_release(b->budget, ncap - b->cap);
		return -1;
	}
	b->data = nd;
	b->cap = ncap;
	return 0;
}

void *mem_grow_array(struct mem_budget *mb, void *arr, size_t *cap, size_t elem,
		     size_t initial, size_t max)
{
	size_t ncap, bytes, old;
	void *na;

	if (*cap == 0)
		ncap = initial;
	else if (!size_mul(*cap, 2, &ncap))
		ncap = max;
	if (ncap > max)
		ncap = max;
	if (ncap <= *cap || !size_mul(ncap, elem, &bytes))
		return NULL;
	old = *cap * elem;
	if (mem_charge(mb, bytes - old) != 0)
		return NULL;
	na = realloc(arr, bytes);
	if (na == NULL) {
		mem_release(mb, bytes - old);
		return NULL;
	}
	*cap = ncap;
	return na;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	uint8_t *dst = buf_reserve(b, n);

	if (dst == NULL)
		return -1;
	if (n != 0)
		memcpy(dst, p, n);
	b->len += n;
	return 0;
}

uint8_t *buf_reserve(struct buf *b, size_t n)
{
	size_t need;

	if (!size_add(b->len, n, &need) || buf_grow(b, need == 0 ? 1 : need) != 0)
		return NULL;
	return b->data + b->len;
}

void buf_commit(struct buf *b, size_t n)
{
	b->len = n > b->cap - b->len ? b->cap : b->len + n;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
}

void buf_free(struct buf *b)
{
	mem_release(b->budget, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
