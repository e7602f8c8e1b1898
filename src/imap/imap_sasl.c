/* SASL decoding for AUTHENTICATE (see imap/imap_sasl.h for the formats).
 *
 * Every message comes from the wire and may be short, cut, or hostile: each
 * field is found by a bounded scan over {ptr,len}, never by a C-string
 * function, and each offset from a binary header (NTLM) is checked against
 * the message length before use. */
#include "imap/imap_sasl.h"

#include <limits.h>
#include <string.h>

#include "util/cursor.h"

/* NTLM (MS-NLMP 2.2.1.3): AUTHENTICATE_MESSAGE layout. */
#define NTLM_SIG_LEN        8
#define NTLM_OFF_TYPE       8
#define NTLM_TYPE_AUTH      3
#define NTLM_OFF_DOMAIN     28
#define NTLM_OFF_USER       36
#define NTLM_OFF_FLAGS      60
#define NTLM_MIN_LEN        52	/* up to the workstation buffer */
#define NTLM_FLAG_UNICODE   0x00000001u
#define UTF8_REPLACEMENT    0xFFFD

static const uint8_t ntlm_signature[NTLM_SIG_LEN] = "NTLMSSP";	/* with NUL */

struct mech_name {
	const char *name;
	size_t len;
	enum imap_sasl_mech mech;
	bool prefix;		/* SCRAM-SHA-1, SCRAM-SHA-256-PLUS, ... */
};

static const struct mech_name mech_names[] = {
	{ "PLAIN", 5, IMAP_SASL_PLAIN, false },
	{ "LOGIN", 5, IMAP_SASL_LOGIN, false },
	{ "XOAUTH2", 7, IMAP_SASL_XOAUTH2, false },
	{ "OAUTHBEARER", 11, IMAP_SASL_OAUTHBEARER, false },
	{ "CRAM-MD5", 8, IMAP_SASL_CRAM_MD5, false },
	{ "DIGEST-MD5", 10, IMAP_SASL_DIGEST_MD5, false },
	{ "SCRAM-", 6, IMAP_SASL_SCRAM, true },
	{ "NTLM", 4, IMAP_SASL_NTLM, false },
	{ "GSSAPI", 6, IMAP_SASL_GSSAPI, false },
	{ "GSS-SPNEGO", 10, IMAP_SASL_GSSAPI, false },
	{ "EXTERNAL", 8, IMAP_SASL_EXTERNAL, false },
};

static uint8_t ascii_upper(uint8_t c)
{
	return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
}

/* Case-insensitive comparison of wire bytes with an ASCII word. */
static bool ci_equal(const uint8_t *p, const char *word, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_upper(p[i]) != ascii_upper((uint8_t)word[i]))
			return false;
	return true;
}

static bool ci_contains(const uint8_t *p, size_t n, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = 0; i + wl <= n; i++)
		if (ci_equal(p + i, word, wl))
			return true;
	return false;
}

enum imap_sasl_mech imap_sasl_mech_from_name(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < sizeof mech_names / sizeof mech_names[0]; i++) {
		const struct mech_name *m = &mech_names[i];

		if (m->prefix ? n > m->len : n == m->len)
			if (ci_equal(p, m->name, m->len))
				return m->mech;
	}
	return IMAP_SASL_OTHER;
}

/* --- base64 ------------------------------------------------------------ */

#define B64_GROUP   4	/* characters per group */
#define B64_BYTES   3	/* bytes per group */
#define B64_MAX_PAD 2

static bool b64_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The 6 bits of a character b64_char accepts; '=' (padding) counts 0. */
static uint32_t b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return (uint32_t)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (uint32_t)(c - 'a') + 26;
	if (c >= '0' && c <= '9')
		return (uint32_t)(c - '0') + 52;
	return c == '+' ? 62 : c == '/' ? 63 : 0;
}

/* Decode whole 4-character groups, already checked by the caller (only
 * the last may hold pad '=' at its end); returns bytes written, the
 * padding's zero bytes not counted.  Done here rather than by libcrypto,
 * so that imap/ needs no OpenSSL. */
static int b64_groups(uint8_t *dst, const uint8_t *src, size_t n, size_t pad)
{
	if (n > INT_MAX)
		return -1;
	for (size_t i = 0; i + B64_GROUP <= n; i += B64_GROUP) {
		uint32_t v = b64_value(src[i]) << 18 | b64_value(src[i + 1]) << 12 |
			     b64_value(src[i + 2]) << 6 | b64_value(src[i + 3]);

		*dst++ = (uint8_t)(v >> 16);
		*dst++ = (uint8_t)(v >> 8);
		*dst++ = (uint8_t)v;
	}
	return (int)(n / B64_GROUP * B64_BYTES - pad);
}

int imap_sasl_b64decode(struct buf *out, const uint8_t *p, size_t n)
{
	size_t pad = 0, body, rem, full, need;
	uint8_t tail[B64_GROUP], *dst;
	int a, b = 0;

	while (n > 0 && is_space(p[n - 1]))
		n--;
	while (n > 0 && is_space(p[0])) {
		p++;
		n--;
	}
	if (n == 0)
		return 0;
	while (pad < n && pad < B64_MAX_PAD && p[n - 1 - pad] == '=')
		pad++;
	body = n - pad;
	for (size_t i = 0; i < body; i++)
		if (!b64_char(p[i]))
			return -1;	/* also '=' inside, which libcrypto allows */
	rem = body % B64_GROUP;
	if (rem == 1 || (pad > 0 && (rem == 0 || rem + pad != B64_GROUP)))
		return -1;
	full = body - rem;
	need = full / B64_GROUP * B64_BYTES + B64_BYTES;
	dst = buf_reserve(out, need);
	if (dst == NULL)
		return -1;
	a = full ? b64_groups(dst, p, full, 0) : 0;
	if (a >= 0 && rem > 0) {
		memcpy(tail, p + full, rem);
		memset(tail + rem, '=', B64_GROUP - rem);
		b = b64_groups(dst + a, tail, B64_GROUP, B64_GROUP - rem);
	}
	if (a < 0 || b < 0)
		return -1;
	buf_commit(out, (size_t)a + (size_t)b);
	return 0;
}

/* --- helpers ----------------------------------------------------------- */

/* Replace b's contents with p..n, cut at b->max: a user name too long to
 * keep whole is still worth showing in part. */
static void put_trunc(struct buf *b, const uint8_t *p, size_t n)
{
	buf_reset(b);
	if (n > b->max)
		n = b->max;
	if (buf_append(b, p, n) != 0)
		buf_reset(b);
}

static const uint8_t *find_byte(const uint8_t *p, size_t n, uint8_t c)
{
	return n ? memchr(p, c, n) : NULL;
}

/* SCRAM/GS2 saslname: "=2C" is ',' and "=3D" is '=' (RFC 5802 5.1). */
static void put_saslname(struct buf *b, const uint8_t *p, size_t n)
{
	buf_reset(b);
	for (size_t i = 0; i < n && b->len < b->max; i++) {
		uint8_t c = p[i];

		if (c == '=' && i + 2 < n && p[i + 1] == '2' &&
		    ascii_upper(p[i + 2]) == 'C') {
			c = ',';
			i += 2;
		} else if (c == '=' && i + 2 < n && p[i + 1] == '3' &&
			   ascii_upper(p[i + 2]) == 'D') {
			c = '=';
			i += 2;
		}
		if (buf_append(b, &c, 1) != 0)
			break;
	}
}

/* --- mechanisms -------------------------------------------------------- */

/* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd.  The user is the
 * authentication identity; an authorization identity that differs from it
 * is the one the user asks to act as, worth its own field.  An empty
 * authcid leaves the authzid as the only name there is: it is the user. */
static int decode_plain(const uint8_t *p, size_t n, struct buf *user, struct buf *authzid,
			struct buf *secret)
{
	const uint8_t *a = find_byte(p, n, 0), *b;
	size_t zlen, clen;
	int got = IMAP_SASL_GOT_USER | IMAP_SASL_GOT_SECRET;

	if (a == NULL)
		return 0;
	zlen = (size_t)(a - p);
	b = find_byte(a + 1, n - zlen - 1, 0);
	if (b == NULL)
		return 0;
	clen = (size_t)(b - a - 1);
	if (clen > 0) {
		put_trunc(user, a + 1, clen);
		if (zlen > 0 && !(zlen == clen && memcmp(p, a + 1, clen) == 0)) {
			put_trunc(authzid, p, zlen);
			got |= IMAP_SASL_GOT_AUTHZID;
		}
	} else {
		put_trunc(user, p, zlen);
	}
	put_trunc(secret, b + 1, n - (size_t)(b + 1 - p));
	return got;
}

/* Walk the ^A-separated key=value fields of XOAUTH2 and OAUTHBEARER. */
static int decode_kv_fields(const uint8_t *p, size_t n, struct buf *user, struct buf *secret)
{
	int got = 0;

	while (n > 0) {
		const uint8_t *end = find_byte(p, n, 0x01);
		size_t len = end ? (size_t)(end - p) : n;

		if (len > 5 && ci_equal(p, "user=", 5)) {
			put_trunc(user, p + 5, len - 5);
			got |= IMAP_SASL_GOT_USER;
		} else if (len > 5 && ci_equal(p, "auth=", 5)) {
			put_trunc(secret, p + 5, len - 5);
			got |= IMAP_SASL_GOT_SECRET;
		}
		if (end == NULL)
			break;
		n -= len + 1;
		p = end + 1;
	}
	return got;
}

/* The GS2 header "cbflag,[a=authzid]," (RFC 5801) that OAUTHBEARER and
 * SCRAM start with.  Returns its length, or 0 if p does not start with one;
 * authz and authz_len get the authzid (may be empty). */
static size_t gs2_header(const uint8_t *p, size_t n, const uint8_t **authz, size_t *authz_len)
{
	const uint8_t *c1 = find_byte(p, n, ','), *c2;
	size_t off;

	*authz = NULL;
	*authz_len = 0;
	if (c1 == NULL || (p[0] != 'n' && p[0] != 'y' && p[0] != 'p'))
		return 0;
	off = (size_t)(c1 - p) + 1;
	c2 = find_byte(p + off, n - off, ',');
	if (c2 == NULL)
		return 0;
	if ((size_t)(c2 - (p + off)) >= 2 && p[off] == 'a' && p[off + 1] == '=') {
		*authz = p + off + 2;
		*authz_len = (size_t)(c2 - *authz);
	}
	return (size_t)(c2 - p) + 1;
}

static int decode_oauthbearer(const uint8_t *p, size_t n, struct buf *user, struct buf *secret)
{
	const uint8_t *az;
	size_t az_len, hl = gs2_header(p, n, &az, &az_len);
	int got;

	if (hl == 0)
		return 0;
	got = decode_kv_fields(p + hl, n - hl, user, secret) & IMAP_SASL_GOT_SECRET;
	if (az_len > 0) {
		put_saslname(user, az, az_len);
		got |= IMAP_SASL_GOT_USER;
	}
	return got;
}

/* SCRAM client-first-message: gs2-header "n=user,r=nonce[,ext]"; the
 * header's a= is the authorization identity. */
static int decode_scram(const uint8_t *p, size_t n, struct buf *user, struct buf *authzid)
{
	const uint8_t *az;
	size_t az_len, hl = gs2_header(p, n, &az, &az_len);

	if (hl == 0)
		return 0;
	p += hl;
	n -= hl;
	while (n > 0) {
		const uint8_t *end = find_byte(p, n, ',');
		size_t len = end ? (size_t)(end - p) : n;

		if (len >= 2 && p[0] == 'n' && p[1] == '=') {
			int got = 0;

			if (len > 2) {
				put_saslname(user, p + 2, len - 2);
				if (az_len > 0) {
					put_saslname(authzid, az, az_len);
					got |= IMAP_SASL_GOT_AUTHZID;
				}
			} else {
				put_saslname(user, az, az_len);
			}
			return user->len > 0 ? got | IMAP_SASL_GOT_USER : 0;
		}
		if (end == NULL)
			break;
		n -= len + 1;
		p = end + 1;
	}
	return 0;
}

/* CRAM-MD5 (RFC 2195): "user SP hexdigest"; the user may contain spaces. */
static int decode_cram(const uint8_t *p, size_t n, struct buf *user, struct buf *secret)
{
	size_t sp = n;

	while (sp > 0 && p[sp - 1] != ' ')
		sp--;
	if (sp <= 1)
		return 0;
	put_trunc(user, p, sp - 1);
	put_trunc(secret, p + sp, n - sp);
	return IMAP_SASL_GOT_USER | IMAP_SASL_GOT_SECRET;
}

/* DIGEST-MD5 (RFC 2831 2.1.2) digest-response: comma-separated
 * key=value, the value a token or a quoted-string with \-escapes:
 *   username="chris",realm="elwood.innosoft.com",nonce="...",... */
static int decode_digest(const uint8_t *p, size_t n, struct buf *user)
{
	static const char key[] = "username=";
	const size_t kl = sizeof key - 1;
	size_t i = 0;

	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		if (n - i > kl && ci_equal(p + i, key, kl)) {
			i += kl;
			buf_reset(user);
			if (p[i] != '"') {
				size_t j = i;

				while (j < n && p[j] != ',')
					j++;
				put_trunc(user, p + i, j - i);
				return IMAP_SASL_GOT_USER;
			}
			for (i++; i < n && p[i] != '"' && user->len < user->max; i++) {
				if (p[i] == '\\' && i + 1 < n)
					i++;
				if (buf_append(user, p + i, 1) != 0)
					break;
			}
			return IMAP_SASL_GOT_USER;
		}
		/* skip this pair, minding commas inside quotes */
		for (bool q = false; i < n && (q || p[i] != ','); i++) {
			if (p[i] == '\\' && q)
				i++;
			else if (p[i] == '"')
				q = !q;
		}
	}
	return 0;
}

/* --- NTLM --------------------------------------------------------------- */

static int utf8_put(struct buf *out, uint32_t cp)
{
	uint8_t u[4];
	size_t k;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		k = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xC0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3F));
		k = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xE0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp & 0x3F));
		k = 3;
	} else {
		u[0] = (uint8_t)(0xF0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (uint8_t)(0x80 | (cp & 0x3F));
		k = 4;
	}
	return buf_append(out, u, k);
}

int imap_sasl_utf16le_to_utf8(struct buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2) {
		uint32_t cp = cursor_load_le16(p + i), lo = i + 3 < n ? cursor_load_le16(p + i + 2) : 0;

		if (cp >= 0xD800 && cp <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF) {
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00u);
			i += 2;
		} else if (cp >= 0xD800 && cp <= 0xDFFF) {
			cp = UTF8_REPLACEMENT;
		}
		if (utf8_put(out, cp) != 0)
			return -1;
	}
	return 0;
}

/* A security buffer (len u16, maxlen u16, offset u32) at hdr; false if it
 * or what it points to lies outside the message. */
static bool ntlm_secbuf(const uint8_t *msg, size_t n, size_t hdr,
			const uint8_t **p_r, size_t *len_r)
{
	struct cursor c = cursor_make(msg, n);
	size_t len, off, end;

	(void)cursor_skip(&c, hdr);
	len = cursor_u16le(&c);
	(void)cursor_skip(&c, 2);	/* maxlen */
	off = cursor_u32le(&c);
	if (c.bad || !size_add(off, len, &end) || end > n)
		return false;
	*p_r = msg + off;
	*len_r = len;
	return true;
}

/* Old clients omit the flags; then a name whose every odd byte is NUL is
 * taken to be UTF-16LE. */
static bool ntlm_unicode(const uint8_t *msg, size_t n, const uint8_t *u, size_t ulen)
{
	if (n >= NTLM_OFF_FLAGS + 4 &&
	    cursor_load_le32(msg + NTLM_OFF_USER + 4) >= NTLM_OFF_FLAGS + 4)
		return (cursor_load_le32(msg + NTLM_OFF_FLAGS) & NTLM_FLAG_UNICODE) != 0;
	if (ulen % 2 != 0)
		return false;
	for (size_t i = 1; i < ulen; i += 2)
		if (u[i] != 0)
			return false;
	return ulen > 0;
}

static int ntlm_append_name(struct buf *out, bool unicode, const uint8_t *p, size_t n)
{
	if (unicode)
		return imap_sasl_utf16le_to_utf8(out, p, n);
	return buf_append(out, p, n);
}

/* NTLM AUTHENTICATE_MESSAGE (type 3): user = "DOMAIN\user" or "user". */
static int decode_ntlm(const uint8_t *p, size_t n, struct buf *user)
{
	const uint8_t *dom, *usr;
	size_t dlen, ulen;
	bool uni;
	uint8_t bs = '\\';

	if (n < NTLM_MIN_LEN || memcmp(p, ntlm_signature, NTLM_SIG_LEN) != 0 ||
	    cursor_load_le32(p + NTLM_OFF_TYPE) != NTLM_TYPE_AUTH)
		return 0;
	if (!ntlm_secbuf(p, n, NTLM_OFF_DOMAIN, &dom, &dlen) ||
	    !ntlm_secbuf(p, n, NTLM_OFF_USER, &usr, &ulen) || ulen == 0)
		return 0;
	uni = ntlm_unicode(p, n, usr, ulen);
	buf_reset(user);
	if (dlen > 0 && (ntlm_append_name(user, uni, dom, dlen) != 0 ||
			 buf_append(user, &bs, 1) != 0))
		buf_reset(user);
	if (ntlm_append_name(user, uni, usr, ulen) != 0) {
		buf_reset(user);
		return 0;
	}
	return IMAP_SASL_GOT_USER;
}

int imap_sasl_decode_client(enum imap_sasl_mech mech, const uint8_t *p, size_t n,
			    struct buf *user_r, struct buf *authzid_r, struct buf *secret_r)
{
	switch (mech) {
	case IMAP_SASL_PLAIN:
		return decode_plain(p, n, user_r, authzid_r, secret_r);
	case IMAP_SASL_XOAUTH2:
		return decode_kv_fields(p, n, user_r, secret_r);
	case IMAP_SASL_OAUTHBEARER:
		return decode_oauthbearer(p, n, user_r, secret_r);
	case IMAP_SASL_CRAM_MD5:
		return decode_cram(p, n, user_r, secret_r);
	case IMAP_SASL_DIGEST_MD5:
		return decode_digest(p, n, user_r);
	case IMAP_SASL_SCRAM:
		return decode_scram(p, n, user_r, authzid_r);
	case IMAP_SASL_NTLM:
		return decode_ntlm(p, n, user_r);
	case IMAP_SASL_LOGIN:
	case IMAP_SASL_GSSAPI:
	case IMAP_SASL_EXTERNAL:
	case IMAP_SASL_OTHER:
		break;
	}
	return 0;
}

/* --- one exchange ------------------------------------------------------ */

void imap_sasl_init(struct imap_sasl *s, const uint8_t *mech, size_t mech_len,
		    struct mem_budget *budget)
{
	size_t i;

	memset(s, 0, sizeof *s);
	s->mech = imap_sasl_mech_from_name(mech, mech_len);
	for (i = 0; i < mech_len && i < IMAP_SASL_MAX_MECH; i++)
		s->mech_name[i] = (char)ascii_upper(mech[i]);
	s->mech_name[i] = '\0';
	buf_init(&s->user, IMAP_SASL_MAX_USER, budget);
	buf_init(&s->authzid, IMAP_SASL_MAX_USER, budget);
	buf_init(&s->secret, IMAP_SASL_MAX_SECRET, budget);
	buf_init(&s->scratch, IMAP_SASL_MAX_MSG, budget);
}

/* LOGIN's challenges are "Username:" and "Password:" in base64 (some
 * servers word them differently, so look for the key word). */
void imap_sasl_challenge(struct imap_sasl *s, const uint8_t *p, size_t n)
{
	if (s->mech != IMAP_SASL_LOGIN)
		return;
	s->want_user = false;
	s->want_secret = false;
	buf_reset(&s->scratch);
	if (imap_sasl_b64decode(&s->scratch, p, n) != 0)
		return;
	if (ci_contains(s->scratch.data, s->scratch.len, "pass"))
		s->want_secret = true;
	else if (ci_contains(s->scratch.data, s->scratch.len, "user"))
		s->want_user = true;
}

/* LOGIN: the user answers "Username:" (or is the initial response, or the
 * first answer to an unreadable challenge); the password answers
 * "Password:" or whatever comes after the user. */
static int login_response(struct imap_sasl *s, const uint8_t *p, size_t n)
{
	int got = 0;

	if (s->want_secret || (!s->want_user && s->have_user)) {
		if (!s->have_secret) {
			put_trunc(&s->secret, p, n);
			s->have_secret = true;
			got = IMAP_SASL_GOT_SECRET;
		}
	} else if (!s->have_user) {
		put_trunc(&s->user, p, n);
		s->have_user = true;
		got = IMAP_SASL_GOT_USER;
	}
	s->want_user = false;
	s->want_secret = false;
	return got;
}

int imap_sasl_response(struct imap_sasl *s, const uint8_t *p, size_t n)
{
	int got;

	while (n > 0 && is_space(p[n - 1]))
		n--;
	s->responses++;
	if (n == 1 && p[0] == '*') {
		s->cancelled = true;
		return 0;
	}
	buf_reset(&s->scratch);
	if (n == 1 && p[0] == '=')
		n = 0;	/* RFC 4959: "=" is an empty initial response */
	if (imap_sasl_b64decode(&s->scratch, p, n) != 0)
		return 0;
	if (s->mech == IMAP_SASL_LOGIN)
		return login_response(s, s->scratch.data, s->scratch.len);
	if (s->scratch.len == 0)
		return 0;
	got = imap_sasl_decode_client(s->mech, s->scratch.data, s->scratch.len,
				      &s->user, &s->authzid, &s->secret);
	if (got & IMAP_SASL_GOT_USER)
		s->have_user = true;
	/* A later message without one does not keep an earlier one. */
	s->have_authzid = (got & IMAP_SASL_GOT_AUTHZID) != 0 ||
			  (s->have_authzid && !(got & IMAP_SASL_GOT_USER));
	if (got & IMAP_SASL_GOT_SECRET)
		s->have_secret = true;
	return got;
}

struct buf_slice imap_sasl_user(const struct imap_sasl *s)
{
	if (!s->have_user)
		return (struct buf_slice){ NULL, 0 };
	/* An empty but present user is "" not null; data may be NULL then. */
	return (struct buf_slice){ s->user.data ? s->user.data : (const uint8_t *)"",
				   s->user.len };
}

struct buf_slice imap_sasl_authzid(const struct imap_sasl *s)
{
	if (!s->have_authzid)
		return (struct buf_slice){ NULL, 0 };
	return (struct buf_slice){ s->authzid.data ? s->authzid.data : (const uint8_t *)"",
				   s->authzid.len };
}

struct buf_slice imap_sasl_secret(const struct imap_sasl *s)
{
	if (!s->have_secret)
		return (struct buf_slice){ NULL, 0 };
	return (struct buf_slice){ s->secret.data ? s->secret.data : (const uint8_t *)"",
				   s->secret.len };
}

void imap_sasl_free(struct imap_sasl *s)
{
	buf_free(&s->user);
	buf_free(&s->authzid);
	buf_free(&s->secret);
	buf_free(&s->scratch);
}
