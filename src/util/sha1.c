/* SHA-1 and base64 (util/sha1.h).  Inputs are a few dozen bytes, once per
 * session: written for clarity, not speed. */
#include "util/sha1.h"

#include <string.h>

#define SHA1_BLOCK 64

static uint32_t rol32(uint32_t x, unsigned k)
{
	return x << k | x >> (32 - k);
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* f and K of FIPS 180-4 section 4.1.1 / 4.2.1, by round. */
static uint32_t sha1_f(unsigned i, uint32_t b, uint32_t c, uint32_t d, uint32_t *k_r)
{
	if (i < 20) {
		*k_r = 0x5a827999;
		return (b & c) | (~b & d);
	}
	if (i < 40) {
		*k_r = 0x6ed9eba1;
		return b ^ c ^ d;
	}
	if (i < 60) {
		*k_r = 0x8f1bbcdc;
		return (b & c) | (b & d) | (c & d);
	}
	*k_r = 0xca62c1d6;
	return b ^ c ^ d;
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], v[5], k, t;
	unsigned i;

	for (i = 0; i < 16; i++)
		w[i] = load_be32(p + 4 * i);
	for (; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	memcpy(v, h, sizeof v);
	for (i = 0; i < 80; i++) {
		t = rol32(v[0], 5) + sha1_f(i, v[1], v[2], v[3], &k) + v[4] + k + w[i];
		v[4] = v[3];
		v[3] = v[2];
		v[2] = rol32(v[1], 30);
		v[1] = v[0];
		v[0] = t;
	}
	for (i = 0; i < 5; i++)
		h[i] += v[i];
}

void sha1_digest(const void *data, size_t n, uint8_t out[SHA1_LEN])
{
	uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	const uint8_t *p = data;
	uint8_t tail[2 * SHA1_BLOCK];
	uint64_t bits = (uint64_t)n * 8;
	size_t full = n - n % SHA1_BLOCK, rest = n % SHA1_BLOCK, tlen;

	for (size_t off = 0; off < full; off += SHA1_BLOCK)
		sha1_block(h, p + off);
	/* the rest, 0x80, zeros, and the length in bits: one block or two */
	memset(tail, 0, sizeof tail);
	if (rest != 0)
		memcpy(tail, p + full, rest);
	tail[rest] = 0x80;
	tlen = rest + 1 + 8 <= SHA1_BLOCK ? SHA1_BLOCK : 2 * SHA1_BLOCK;
	for (int i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
	for (size_t off = 0; off < tlen; off += SHA1_BLOCK)
		sha1_block(h, tail + off);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

size_t base64_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		out[o++] = digits[v >> 18 & 63];
		out[o++] = digits[v >> 12 & 63];
		out[o++] = left > 1 ? digits[v >> 6 & 63] : '=';
		out[o++] = left > 2 ? digits[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}
