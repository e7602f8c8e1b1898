/* The Community ID v1 and the flow_id (net/community_id.h), with util's
 * SHA-1: once per session, never per packet. */
#include "net/community_id.h"

#include <string.h>

#include "util/sha1.h"

/* seed(2) addr(4|16) addr(4|16) proto(1) pad(1) port(2) port(2) */
#define CID_INPUT_MAX (2 + 16 + 16 + 1 + 1 + 2 + 2)

static size_t addr_len(const struct flow_endpoint *ep)
{
	return ep->af == 6 ? 16 : 4;
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The spec orders the endpoints so that both directions hash the same:
 * the smaller address first, or on equal addresses the smaller port. */
static bool endpoints_swapped(const struct flow_endpoint *a, const struct flow_endpoint *b)
{
	int c = memcmp(a->addr, b->addr, addr_len(a));

	return c > 0 || (c == 0 && a->port > b->port);
}

/* The bytes the spec hashes; 0 when the families differ. */
static size_t cid_input(const struct flow_endpoint *a, const struct flow_endpoint *b,
			uint8_t proto, uint16_t seed, uint8_t in[CID_INPUT_MAX])
{
	size_t alen = addr_len(a), n = 0;

	if (a->af != b->af || (a->af != 4 && a->af != 6))
		return 0;
	if (endpoints_swapped(a, b)) {
		const struct flow_endpoint *t = a;

		a = b;
		b = t;
	}
	put_be16(in + n, seed);
	n += 2;
	memcpy(in + n, a->addr, alen);
	n += alen;
	memcpy(in + n, b->addr, alen);
	n += alen;
	in[n++] = proto;
	in[n++] = 0;
	put_be16(in + n, a->port);
	n += 2;
	put_be16(in + n, b->port);
	return n + 2;
}

int community_id_v1(const struct flow_endpoint *a, const struct flow_endpoint *b,
		    uint8_t proto, uint16_t seed, char out[COMMUNITY_ID_LEN])
{
	uint8_t in[CID_INPUT_MAX], md[SHA1_LEN];
	size_t n = cid_input(a, b, proto, seed, in);

	out[0] = '\0';
	if (n == 0)
		return -1;
	sha1_digest(in, n, md);
	memcpy(out, "1:", 2);
	/* 20 bytes make 28 base64 characters and a NUL: COMMUNITY_ID_LEN - 2 */
	return 2 + (int)base64_encode(md, SHA1_LEN, out + 2);
}

uint64_t community_flow_id(const struct flow_endpoint *client,
			   const struct flow_endpoint *server, int64_t first_ts_us)
{
	uint8_t in[CID_INPUT_MAX + 8], md[SHA1_LEN];
	size_t n = cid_input(client, server, COMMUNITY_ID_PROTO_TCP, 0, in);
	uint64_t ts = (uint64_t)first_ts_us, id = 0;

	if (n == 0)
		return 0;
	for (int i = 0; i < 8; i++)
		in[n++] = (uint8_t)(ts >> (56 - 8 * i));
	sha1_digest(in, n, md);
	for (int i = 0; i < 8; i++)
		id = id << 8 | md[i];
	return id >> (64 - COMMUNITY_FLOW_ID_BITS);
}
