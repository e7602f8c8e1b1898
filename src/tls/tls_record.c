/* TLS record headers, handshake reassembly and hello parsing: see
 * tls/tls_record.h. */
#include "tls/tls_record.h"

#include <string.h>

#include "util/cursor.h"

/* Extension code points (IANA "TLS ExtensionType Values"). */
#define EXT_SERVER_NAME		0
#define EXT_ALPN		16
#define EXT_ENCRYPT_THEN_MAC	22
#define EXT_EXTENDED_MS		23
#define EXT_SESSION_TICKET	35
#define EXT_PRE_SHARED_KEY	41
#define EXT_EARLY_DATA		42
#define EXT_SUPPORTED_VERSIONS	43
#define SNI_HOST_NAME		0

/* RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest
 * (it is SHA-256 of "HelloRetryRequest"). */
static const uint8_t tls_hrr_random[TLS_RANDOM_LEN] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02,
	0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
	0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

int tls_record_header(const uint8_t *p, size_t n, struct tls_record_hdr *h_r)
{
	if (n < TLS_RECORD_HEADER_LEN)
		return PARSE_MORE;
	h_r->type = p[0];
	h_r->version = cursor_load_be16(p + 1);
	h_r->length = cursor_load_be16(p + 3);
	if (h_r->type < TLS_CT_CHANGE_CIPHER_SPEC || h_r->type > TLS_CT_HEARTBEAT)
		return PARSE_BAD;
	/* SSL 3.0 .. TLS 1.3 records all carry 3.x (TLS 1.3 says 3.3) */
	if (p[1] != 3 || p[2] > 4)
		return PARSE_BAD;
	if (h_r->length > TLS_MAX_RECORD_PAYLOAD)
		return PARSE_BAD;
	return TLS_RECORD_HEADER_LEN;
}

bool tls_looks_like_record(const uint8_t *p, size_t n)
{
	struct tls_record_hdr h;

	if (tls_record_header(p, n, &h) <= 0 || h.type == TLS_CT_HEARTBEAT)
		return false;
	/* A handshake record's first message says ClientHello or ServerHello
	 * when the capture starts at the handshake: check it if present. */
	if (h.type == TLS_CT_HANDSHAKE && n > TLS_RECORD_HEADER_LEN && h.length > 0 &&
	    p[5] == 0)
		return false;
	return h.length > 0 || h.type == TLS_CT_APPLICATION_DATA;
}

/* supported_versions: CH lists them (take the highest real one, skipping
 * GREASE values 0x?a?a), SH names one. */
static void hello_versions(struct cursor *ext, bool server, struct tls_hello *h)
{
	struct cursor list;
	uint16_t v;

	if (server) {
		h->version = cursor_u16be(ext);
		return;
	}
	list = cursor_vec(ext, 1);
	while (cursor_left(&list) >= 2) {
		v = cursor_u16be(&list);
		if ((v & 0x0f0f) == 0x0a0a)
			continue;
		if (v > h->version && v <= TLS_VERSION_1_3)
			h->version = v;
	}
	ext->bad |= list.bad;
}

static void hello_sni(struct cursor *ext, struct tls_hello *h)
{
	struct cursor list = cursor_vec(ext, 2), name;
	uint8_t type;

	while (cursor_left(&list) > 0) {
		type = cursor_u8(&list);
		name = cursor_vec(&list, 2);
		if (type == SNI_HOST_NAME && !name.bad && h->sni.len == 0)
			h->sni = cursor_rest(&name);
	}
	ext->bad |= list.bad;
}

static void hello_alpn(struct cursor *ext, struct tls_hello *h)
{
	struct cursor list = cursor_vec(ext, 2), proto;

	proto = cursor_vec(&list, 1);
	if (!proto.bad)
		h->alpn = cursor_rest(&proto);
	ext->bad |= list.bad;
}

static void hello_extension(uint16_t type, struct cursor *ext, bool server,
			    struct tls_hello *h)
{
	switch (type) {
	case EXT_SERVER_NAME:
		if (!server && cursor_left(ext) > 0)
			hello_sni(ext, h);
		break;
	case EXT_ALPN:
		hello_alpn(ext, h);
		break;
	case EXT_SUPPORTED_VERSIONS:
		hello_versions(ext, server, h);
		break;
	case EXT_SESSION_TICKET:
		h->ticket = server || cursor_left(ext) > 0;
		break;
	case EXT_PRE_SHARED_KEY:
		h->psk = true;
		break;
	case EXT_EARLY_DATA:
		h->early_data = true;
		break;
	case EXT_EXTENDED_MS:
		h->ems = true;
		break;
	case EXT_ENCRYPT_THEN_MAC:
		h->etm = true;
		break;
	default:
		break;
	}
}

int tls_hello_parse(const uint8_t *body, size_t n, bool server,
		    struct tls_hello *h_r)
{
	struct cursor c = cursor_make(body, n), sid, exts, ext;
	const uint8_t *rnd;
	uint16_t type;

	memset(h_r, 0, sizeof *h_r);
	h_r->legacy_version = cursor_u16be(&c);
	h_r->version = h_r->legacy_version;
	rnd = cursor_take(&c, TLS_RANDOM_LEN);
	if (rnd != NULL)
		memcpy(h_r->random, rnd, TLS_RANDOM_LEN);
	sid = cursor_vec(&c, 1);
	if (sid.bad || cursor_left(&sid) > TLS_MAX_SESSION_ID)
		return -1;
	h_r->session_id_len = (uint8_t)cursor_left(&sid);
	memcpy(h_r->session_id, sid.p, h_r->session_id_len);
	if (server) {
		h_r->cipher_suite = cursor_u16be(&c);
		(void)cursor_u8(&c);		/* compression method */
		h_r->hrr = memcmp(h_r->random, tls_hrr_random, TLS_RANDOM_LEN) == 0;
	} else {
		(void)cursor_vec(&c, 2);		/* cipher suites */
		(void)cursor_vec(&c, 1);		/* compression methods */
	}
	if (c.bad)
		return -1;
	if (cursor_left(&c) == 0)
		return 0;			/* no extensions (old clients) */
	exts = cursor_vec(&c, 2);
	while (!exts.bad && cursor_left(&exts) > 0) {
		type = cursor_u16be(&exts);
		ext = cursor_vec(&exts, 2);
		if (ext.bad)
			return -1;
		hello_extension(type, &ext, server, h_r);
		if (ext.bad)
			return -1;
	}
	return exts.bad ? -1 : 0;
}

int tls_encrypted_extensions_alpn(const uint8_t *body, size_t n,
				  struct buf_slice *alpn_r)
{
	struct cursor c = cursor_make(body, n), exts, ext;
	struct tls_hello h;
	uint16_t type;

	memset(&h, 0, sizeof h);
	exts = cursor_vec(&c, 2);
	while (!exts.bad && cursor_left(&exts) > 0) {
		type = cursor_u16be(&exts);
		ext = cursor_vec(&exts, 2);
		if (type == EXT_ALPN && !ext.bad)
			hello_alpn(&ext, &h);
		if (ext.bad)
			return -1;
	}
	if (exts.bad)
		return -1;
	*alpn_r = h.alpn;
	return h.alpn.len > 0;
}

void tls_hs_init(struct tls_hs_reasm *r, struct mem_budget *budget)
{
	buf_init(&r->b, TLS_MAX_HANDSHAKE_MSG + TLS_MAX_RECORD_PAYLOAD, budget);
}

void tls_hs_free(struct tls_hs_reasm *r)
{
	buf_free(&r->b);
}

int tls_hs_append(struct tls_hs_reasm *r, const uint8_t *p, size_t n)
{
	return buf_append(&r->b, p, n);
}

int tls_hs_next(struct tls_hs_reasm *r, uint8_t *type_r, struct buf_slice *msg_r)
{
	const uint8_t *p = r->b.data;
	size_t len;

	if (r->b.len < TLS_HS_HEADER_LEN)
		return PARSE_MORE;
	len = cursor_load_be24(p + 1);
	if (len > TLS_MAX_HANDSHAKE_MSG)
		return PARSE_BAD;
	if (r->b.len - TLS_HS_HEADER_LEN < len)
		return PARSE_MORE;
	*type_r = p[0];
	msg_r->ptr = p;
	msg_r->len = TLS_HS_HEADER_LEN + len;
	return (int)msg_r->len;
}

void tls_hs_pop(struct tls_hs_reasm *r)
{
	const uint8_t *p = r->b.data;
	size_t len;

	if (r->b.len < TLS_HS_HEADER_LEN)
		return;
	len = cursor_load_be24(p + 1);
	buf_consume(&r->b, TLS_HS_HEADER_LEN + len);
}

const char *tls_version_name(uint16_t version)
{
	switch (version) {
	case 0x0300: return "SSL 3.0";
	case TLS_VERSION_1_0: return "TLS 1.0";
	case TLS_VERSION_1_1: return "TLS 1.1";
	case TLS_VERSION_1_2: return "TLS 1.2";
	case TLS_VERSION_1_3: return "TLS 1.3";
	default: return "unknown";
	}
}
