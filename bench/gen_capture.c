/* gen_capture — write a benchmark pcap of realistic IMAP sessions.
 *
 * Three kinds of session, interleaved burst by burst the way a busy server's
 * traffic is: bulk (FETCH of a few multi-MB messages), small (150 messages
 * of 2-16 KB fetched one UID FETCH each, like fetchmail or mbsync), chatty
 * (300 small commands: NOOP, STATUS, UID FETCH FLAGS, STORE, SEARCH, LIST,
 * ENVELOPE, header fetches).  The server side speaks Dovecot's phrasing,
 * as in captures/.  Bodies are RFC 5322 messages with text lines, with the
 * hostile lines the corpus has too (IMAP-looking lines, "{n}" at line end).
 *
 * TCP is Linux-like: a three-way handshake, MSS 1460 with timestamps (1448
 * payload bytes a segment), a delayed ACK every second segment, FIN from
 * both ends.  With --tls the sessions are implicit TLS 1.3 on port 993:
 * a ClientHello and ServerHello in clear, then every handshake and
 * application record sealed with AES-128-GCM under secrets drawn at
 * random and written to a NSS key log (RFC 8446 5.2, 7.1-7.3).
 *
 * Output is deterministic for a given seed.  This is a benchmark tool, not
 * part of imapscope: it writes the pcap format itself (no libpcap).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MSS		1448	/* 1500 - 20 (IP) - 20 (TCP) - 12 (timestamps) */
#define BURST_SEGS	16	/* server segments sent before another session runs */
#define QUEUE_FILL	(64 * 1024)	/* server bytes prepared ahead per session */
#define TLS_REC_MAX	16384
#define SMALL_COUNT	150
#define CHATTY_COUNT	300
#define MAX_BULK_MSGS	8
#define DEFAULT_CONC	64

enum kind { K_BULK, K_SMALL, K_CHATTY };
static const char *const kind_name[] = { "bulk", "small", "chatty" };

/* ---- a small deterministic PRNG (xorshift64*) ---------------------------- */

static uint64_t rnd_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

static uint32_t rnd_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd_next(s) % (uint64_t)(hi - lo + 1));
}

static void rnd_bytes(uint64_t *s, uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(rnd_next(s) >> 32);
}

/* ---- growable byte queue ---------------------------------------------------- */

struct q {
	uint8_t *d;
	size_t off, len, cap;
};

static void q_need(struct q *q, size_t n)
{
	if (q->off > 0 && q->off == q->len) {
		q->off = q->len = 0;
	} else if (q->off > q->cap / 2) {
		memmove(q->d, q->d + q->off, q->len - q->off);
		q->len -= q->off;
		q->off = 0;
	}
	if (q->len + n <= q->cap)
		return;
	size_t cap = q->cap ? q->cap : 4096;
	while (cap < q->len + n)
		cap *= 2;
	uint8_t *nd = realloc(q->d, cap);
	if (nd == NULL) {
		perror("gen_capture: realloc");
		exit(1);
	}
	q->d = nd;
	q->cap = cap;
}

static void q_put(struct q *q, const void *p, size_t n)
{
	q_need(q, n);
	memcpy(q->d + q->len, p, n);
	q->len += n;
}

static size_t q_avail(const struct q *q)
{
	return q->len - q->off;
}

static void q_printf(struct q *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void q_printf(struct q *q, const char *fmt, ...)
{
	va_list ap;
	int n;

	q_need(q, 512);
	va_start(ap, fmt);
	n = vsnprintf((char *)q->d + q->len, q->cap - q->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		exit(1);
	if ((size_t)n >= q->cap - q->len) {
		q_need(q, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf((char *)q->d + q->len, q->cap - q->len, fmt, ap);
		va_end(ap);
	}
	q->len += (size_t)n;
}

/* ---- message bodies ------------------------------------------------------- */

static const char *const words[] = {
	"the", "meeting", "is", "moved", "to", "Thursday", "please", "find", "attached",
	"report", "for", "quarter", "and", "let", "me", "know", "if", "you", "have",
	"questions", "about", "budget", "we", "should", "discuss", "server", "migration",
	"before", "end", "of", "month", "regards", "thanks", "IMAP", "mailbox", "folder",
	"Grüße", "naïve", "café", "déjà", "vu", "über", "project", "deadline", "review",
	"customer", "invoice", "shipping", "update", "schedule", "a", "an", "with",
	"from", "on", "in", "at", "by", "this", "that", "next", "week", "tomorrow",
};
#define NWORDS (sizeof words / sizeof words[0])

/* Lines a careless parser might take for protocol. */
static const char *const hostile[] = {
	"a001 OK LOGIN completed",
	"* 3 EXISTS",
	"the size is given as {1234}",
	")",
	"a999 FETCH 1:* (BODY[])",
	"* BYE see you",
};
#define NHOSTILE (sizeof hostile / sizeof hostile[0])

/* A body of exactly `left` bytes, produced on demand in sequence. */
struct body {
	uint64_t left;
	uint64_t rng;
	char line[160];
	size_t line_len, line_off;
	bool in_header;
	int header_line;
	uint32_t msgno;
};

static void body_start(struct body *b, uint64_t size, uint64_t seed, uint32_t msgno)
{
	memset(b, 0, sizeof *b);
	b->left = size;
	b->rng = seed | 1;
	b->in_header = true;
	b->msgno = msgno;
}

static void body_next_line(struct body *b)
{
	char *l = b->line;
	int n = 0;

	if (b->in_header) {
		switch (b->header_line++) {
		case 0: n = sprintf(l, "Return-Path: <sender%u@example.org>\r\n", rnd_range(&b->rng, 1, 500)); break;
		case 1: n = sprintf(l, "From: Sender %u <sender%u@example.org>\r\n", b->msgno, b->msgno); break;
		case 2: n = sprintf(l, "To: alice@example.net\r\n"); break;
		case 3: n = sprintf(l, "Subject: Report %u: quarterly numbers and the\r\n", b->msgno); break;
		case 4: n = sprintf(l, " migration plan (folded)\r\n"); break;
		case 5: n = sprintf(l, "Date: Tue, 12 Mar 2024 10:%02u:%02u +0100\r\n", b->msgno % 60, (b->msgno * 7) % 60); break;
		case 6: n = sprintf(l, "Message-ID: <%016" PRIx64 "@example.org>\r\n", rnd_next(&b->rng)); break;
		case 7: n = sprintf(l, "MIME-Version: 1.0\r\n"); break;
		case 8: n = sprintf(l, "Content-Type: text/plain; charset=utf-8\r\n"); break;
		case 9: n = sprintf(l, "Content-Transfer-Encoding: 8bit\r\n"); break;
		default: n = sprintf(l, "\r\n"); b->in_header = false; break;
		}
	} else if (rnd_range(&b->rng, 0, 199) == 0) {
		n = sprintf(l, "%s\r\n", hostile[rnd_range(&b->rng, 0, NHOSTILE - 1)]);
	} else {
		uint32_t width = rnd_range(&b->rng, 40, 76);

		while ((uint32_t)n < width) {
			const char *w = words[rnd_range(&b->rng, 0, NWORDS - 1)];
			size_t wl = strlen(w);

			if (n > 0)
				l[n++] = ' ';
			memcpy(l + n, w, wl);
			n += (int)wl;
		}
		l[n++] = '\r';
		l[n++] = '\n';
	}
	b->line_len = (size_t)n;
	b->line_off = 0;
}

/* Append up to max bytes of the body to q; returns how many. */
static size_t body_fill(struct body *b, struct q *q, size_t max)
{
	size_t done = 0;

	q_need(q, max);
	while (done < max && b->left > 0) {
		if (b->line_off == b->line_len)
			body_next_line(b);
		size_t k = b->line_len - b->line_off;

		if (k > max - done)
			k = max - done;
		if (k > b->left)
			k = (size_t)b->left;
		memcpy(q->d + q->len, b->line + b->line_off, k);
		q->len += k;
		b->line_off += k;
		b->left -= k;
		done += k;
	}
	return done;
}

/* ---- TLS 1.3 sealing ------------------------------------------------------ */

struct seal {
	EVP_CIPHER_CTX *cx;
	uint8_t iv[12];
	uint64_t seq;
};

static void hkdf_expand_label(const uint8_t *secret, const char *label, uint8_t *out, size_t n)
{
	uint8_t info[64], t[32];
	size_t ll = 6 + strlen(label), k = 0;
	unsigned int tl = 0;

	info[k++] = (uint8_t)(n >> 8);
	info[k++] = (uint8_t)n;
	info[k++] = (uint8_t)ll;
	memcpy(info + k, "tls13 ", 6);
	memcpy(info + k + 6, label, strlen(label));
	k += ll;
	info[k++] = 0;		/* empty context */
	info[k++] = 1;		/* T(1): n <= 32 */
	if (HMAC(EVP_sha256(), secret, 32, info, k, t, &tl) == NULL || tl != 32) {
		fprintf(stderr, "gen_capture: HMAC failed\n");
		exit(1);
	}
	memcpy(out, t, n);
}

static void seal_init(struct seal *s, const uint8_t secret[32])
{
	uint8_t key[16];

	hkdf_expand_label(secret, "key", key, 16);
	hkdf_expand_label(secret, "iv", s->iv, 12);
	if (s->cx == NULL)
		s->cx = EVP_CIPHER_CTX_new();
	if (s->cx == NULL ||
	    EVP_EncryptInit_ex(s->cx, EVP_aes_128_gcm(), NULL, key, NULL) != 1) {
		fprintf(stderr, "gen_capture: cipher init failed\n");
		exit(1);
	}
	s->seq = 0;
}

/* One TLSCiphertext record of inner type `type` around p[0..n) onto q. */
static void seal_record(struct seal *s, struct q *q, uint8_t type, const uint8_t *p, size_t n)
{
	uint8_t nonce[12], hdr[5];
	size_t clen = n + 1 + 16;
	int outl = 0, i;

	memcpy(nonce, s->iv, 12);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(s->seq >> (56 - 8 * i));
	s->seq++;
	hdr[0] = 0x17;
	hdr[1] = 3;
	hdr[2] = 3;
	hdr[3] = (uint8_t)(clen >> 8);
	hdr[4] = (uint8_t)clen;
	q_put(q, hdr, 5);
	q_need(q, clen);
	uint8_t *o = q->d + q->len;
	if (EVP_EncryptInit_ex(s->cx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(s->cx, NULL, &outl, hdr, 5) != 1 ||
	    EVP_EncryptUpdate(s->cx, o, &outl, p, (int)n) != 1 ||
	    EVP_EncryptUpdate(s->cx, o + n, &outl, &type, 1) != 1 ||
	    EVP_EncryptFinal_ex(s->cx, o + n + 1, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(s->cx, EVP_CTRL_GCM_GET_TAG, 16, o + n + 1) != 1) {
		fprintf(stderr, "gen_capture: seal failed\n");
		exit(1);
	}
	q->len += clen;
}

static void put_u8(uint8_t **p, unsigned v) { *(*p)++ = (uint8_t)v; }
static void put_u16(uint8_t **p, unsigned v) { put_u8(p, v >> 8); put_u8(p, v); }
static void put_u24(uint8_t **p, unsigned v) { put_u8(p, v >> 16); put_u16(p, v & 0xffff); }
static void put_mem(uint8_t **p, const void *m, size_t n) { memcpy(*p, m, n); *p += n; }

/* ClientHello as OpenSSL 3 sends it, trimmed: TLS_AES_128_GCM_SHA256 first. */
static size_t client_hello(uint8_t *out, const uint8_t rnd[32], const uint8_t sid[32],
			   const uint8_t ks[32])
{
	static const char sni[] = "imap.example.net";
	uint8_t *p = out + 9, *ext_len, *end;

	put_u16(&p, 0x0303);
	put_mem(&p, rnd, 32);
	put_u8(&p, 32);
	put_mem(&p, sid, 32);
	put_u16(&p, 6);
	put_u16(&p, 0x1301);
	put_u16(&p, 0x1302);
	put_u16(&p, 0x1303);
	put_u8(&p, 1);
	put_u8(&p, 0);
	ext_len = p;
	p += 2;
	put_u16(&p, 0x0000);			/* server_name */
	put_u16(&p, (unsigned)(sizeof sni - 1 + 5));
	put_u16(&p, (unsigned)(sizeof sni - 1 + 3));
	put_u8(&p, 0);
	put_u16(&p, (unsigned)(sizeof sni - 1));
	put_mem(&p, sni, sizeof sni - 1);
	put_u16(&p, 0x000a);			/* supported_groups: x25519 */
	put_u16(&p, 4);
	put_u16(&p, 2);
	put_u16(&p, 0x001d);
	put_u16(&p, 0x000d);			/* signature_algorithms */
	put_u16(&p, 4);
	put_u16(&p, 2);
	put_u16(&p, 0x0804);
	put_u16(&p, 0x002b);			/* supported_versions: 1.3 */
	put_u16(&p, 3);
	put_u8(&p, 2);
	put_u16(&p, 0x0304);
	put_u16(&p, 0x0033);			/* key_share */
	put_u16(&p, 38);
	put_u16(&p, 36);
	put_u16(&p, 0x001d);
	put_u16(&p, 32);
	put_mem(&p, ks, 32);
	end = p;
	ext_len[0] = (uint8_t)((end - ext_len - 2) >> 8);
	ext_len[1] = (uint8_t)(end - ext_len - 2);
	p = out;
	put_u8(&p, 0x16);
	put_u16(&p, 0x0301);
	put_u16(&p, (unsigned)(end - out - 5));
	put_u8(&p, 1);
	put_u24(&p, (unsigned)(end - out - 9));
	return (size_t)(end - out);
}

static size_t server_hello(uint8_t *out, const uint8_t rnd[32], const uint8_t sid[32],
			   const uint8_t ks[32])
{
	uint8_t *p = out + 9, *end;

	put_u16(&p, 0x0303);
	put_mem(&p, rnd, 32);
	put_u8(&p, 32);
	put_mem(&p, sid, 32);
	put_u16(&p, 0x1301);
	put_u8(&p, 0);
	put_u16(&p, 46);
	put_u16(&p, 0x002b);
	put_u16(&p, 2);
	put_u16(&p, 0x0304);
	put_u16(&p, 0x0033);
	put_u16(&p, 36);
	put_u16(&p, 0x001d);
	put_u16(&p, 32);
	put_mem(&p, ks, 32);
	end = p;
	p = out;
	put_u8(&p, 0x16);
	put_u16(&p, 0x0303);
	put_u16(&p, (unsigned)(end - out - 5));
	put_u8(&p, 2);
	put_u24(&p, (unsigned)(end - out - 9));
	/* the middlebox-compatibility ChangeCipherSpec */
	p = end;
	put_u8(&p, 0x14);
	put_u16(&p, 0x0303);
	put_u16(&p, 1);
	put_u8(&p, 1);
	return (size_t)(p - out);
}

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/* ---- sessions --------------------------------------------------------------- */

struct session {
	enum kind kind;
	uint32_t id;
	uint64_t rng;
	uint32_t cip, sip;
	uint16_t cport, sport;
	uint32_t cseq, sseq;		/* next sequence number of each side */
	uint32_t cts, sts;		/* TCP timestamp values */
	int phase;			/* 0 SYN, 1 talking, 2 closing, 3 done */
	uint32_t step, nsteps, tag;
	uint32_t bulk_sizes[MAX_BULK_MSGS];
	uint32_t msgs;			/* messages in the mailbox */
	struct q c2s, s2c;		/* wire bytes (TLS records when tls) */
	struct q plain;			/* tls: server plaintext waiting for a record */
	struct body body;
	struct q suffix;		/* text after the body of the current response */
	struct q hold;			/* tls: the client's CCS and Finished */
	bool in_body;
	bool tls;
	bool hs_pending;		/* tls: the client's Finished is not sent yet */
	struct seal cseal, sseal;
	uint32_t unacked;		/* server segments the client has not ACKed */
};

struct gen {
	FILE *out;
	FILE *keylog;
	uint64_t rng;
	uint64_t ts_us;
	uint64_t bytes, packets;
	bool tls;
	uint8_t frame[2048];
};

/* ---- packets -------------------------------------------------------------- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#define F_FIN 0x01
#define F_SYN 0x02
#define F_PSH 0x08
#define F_ACK 0x10

static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v >> 16); wr16(p + 2, v & 0xffff); }
static void le32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }

/* One Ethernet/IPv4/TCP frame, from the client (c2s) or the server. */
static void packet(struct gen *g, struct session *s, bool c2s, uint8_t flags,
		   const uint8_t *pl, size_t n)
{
	uint8_t *f = g->frame + 16, *ip = f + 14, *tcp = ip + 20;
	size_t thl = (flags & F_SYN) ? 40 : 32, len = 14 + 20 + thl + n;
	uint32_t *seq = c2s ? &s->cseq : &s->sseq, ack = c2s ? s->sseq : s->cseq;
	uint32_t sum;

	g->ts_us += rnd_range(&g->rng, 1, 12);
	memset(f, 0, 14 + 20 + thl);
	memcpy(f, c2s ? "\x02\x00\x00\x00\x00\x02" : "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(f + 6, c2s ? "\x02\x00\x00\x00\x00\x01" : "\x02\x00\x00\x00\x00\x02", 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	wr16(ip + 2, (uint32_t)(20 + thl + n));
	wr16(ip + 4, (uint32_t)(g->packets & 0xffff));
	ip[6] = 0x40;			/* DF */
	ip[8] = 64;
	ip[9] = 6;
	wr32(ip + 12, c2s ? s->cip : s->sip);
	wr32(ip + 16, c2s ? s->sip : s->cip);
	wr16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	wr16(tcp, c2s ? s->cport : s->sport);
	wr16(tcp + 2, c2s ? s->sport : s->cport);
	wr32(tcp + 4, *seq);
	if (!(flags & F_SYN) || !c2s)
		flags |= F_ACK;
	wr32(tcp + 8, (flags & F_ACK) ? ack : 0);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = flags;
	wr16(tcp + 14, 502);		/* window (scaled by 128) */
	{
		uint8_t *o = tcp + 20;

		if (flags & F_SYN) {
			o[0] = 2; o[1] = 4; wr16(o + 2, 1460);	/* MSS */
			o[4] = 4; o[5] = 2;			/* SACK permitted */
			o[6] = 8; o[7] = 10;			/* timestamps */
			wr32(o + 8, c2s ? s->cts : s->sts);
			wr32(o + 12, c2s ? 0 : s->cts);
			o[16] = 1; o[17] = 3; o[18] = 3; o[19] = 7;	/* wscale 7 */
		} else {
			o[0] = 1; o[1] = 1; o[2] = 8; o[3] = 10;
			wr32(o + 4, c2s ? s->cts : s->sts);
			wr32(o + 8, c2s ? s->sts : s->cts);
		}
	}
	memcpy(tcp + thl, pl, n);
	sum = csum_add(0, ip + 12, 8);
	sum += 6 + (uint32_t)(thl + n);
	sum = csum_add(sum, tcp, thl + n);
	wr16(tcp + 16, csum_fold(sum));
	*seq += (uint32_t)n + ((flags & (F_SYN | F_FIN)) ? 1 : 0);
	if (c2s)
		s->cts++;
	else
		s->sts++;
	le32(g->frame, (uint32_t)(g->ts_us / 1000000));
	le32(g->frame + 4, (uint32_t)(g->ts_us % 1000000));
	le32(g->frame + 8, (uint32_t)len);
	le32(g->frame + 12, (uint32_t)len);
	if (fwrite(g->frame, 1, 16 + len, g->out) != 16 + len) {
		perror("gen_capture: write");
		exit(1);
	}
	g->bytes += 16 + len;
	g->packets++;
}

/* ---- the IMAP conversation ------------------------------------------------ */

static const char capa[] =
	"IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
	"THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
	"NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
	"WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW "
	"STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE";

#define DONE_TIME "(0.001 + 0.000 secs)."

/* Client text goes straight out; server text is queued (plaintext for TLS). */
static struct q *srv_text(struct session *s)
{
	return s->tls ? &s->plain : &s->s2c;
}

static void client_cmd(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void client_cmd(struct session *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		exit(1);
	if (s->tls)
		seal_record(&s->cseal, &s->c2s, 0x17, (const uint8_t *)line, (size_t)n);
	else
		q_put(&s->c2s, line, (size_t)n);
}

static void select_response(struct session *s, const char *tag, const char *box)
{
	q_printf(srv_text(s),
		 "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
		 "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
		 "* %u EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1710230%03u] UIDs valid\r\n"
		 "* OK [UIDNEXT %u] Predicted next UID\r\n* OK [HIGHESTMODSEQ %u] Highest\r\n"
		 "%s OK [READ-WRITE] Select completed %s\r\n",
		 s->msgs, s->id % 1000, s->msgs + 1, s->msgs * 3 + 17, tag, DONE_TIME);
	(void)box;
}

/* A FETCH of one whole message with a literal body. */
static void fetch_body(struct session *s, const char *tag, uint32_t uid, uint32_t size)
{
	client_cmd(s, "%s UID FETCH %u (UID RFC822.SIZE FLAGS BODY.PEEK[])\r\n", tag, uid);
	q_printf(srv_text(s), "* %u FETCH (UID %u RFC822.SIZE %u FLAGS (\\Seen) BODY[] {%u}\r\n",
		 uid, uid, size, size);
	body_start(&s->body, size, rnd_next(&s->rng), uid);
	s->in_body = true;
	s->suffix.off = s->suffix.len = 0;
	q_printf(&s->suffix, ")\r\n%s OK Fetch completed %s\r\n", tag, DONE_TIME);
}

static void chatty_command(struct session *s, const char *tag)
{
	uint32_t m = rnd_range(&s->rng, 1, s->msgs), i;
	struct q *o = srv_text(s);

	switch (rnd_range(&s->rng, 0, 9)) {
	case 0:
		client_cmd(s, "%s NOOP\r\n", tag);
		q_printf(o, "%s OK NOOP completed %s\r\n", tag, DONE_TIME);
		break;
	case 1:
		client_cmd(s, "%s STATUS \"Archive/2024\" (MESSAGES UNSEEN UIDNEXT)\r\n", tag);
		q_printf(o, "* STATUS Archive/2024 (MESSAGES %u UNSEEN %u UIDNEXT %u)\r\n"
			 "%s OK Status completed %s\r\n", m * 3, m % 7, m * 3 + 1, tag, DONE_TIME);
		break;
	case 2:
		client_cmd(s, "%s UID FETCH %u:* (FLAGS)\r\n", tag, m);
		for (i = m; i <= s->msgs && i < m + 4; i++)
			q_printf(o, "* %u FETCH (UID %u FLAGS (\\Seen%s))\r\n", i, i,
				 i % 3 ? "" : " \\Flagged");
		q_printf(o, "%s OK Fetch completed %s\r\n", tag, DONE_TIME);
		break;
	case 3:
		client_cmd(s, "%s UID STORE %u +FLAGS.SILENT (\\Seen)\r\n", tag, m);
		q_printf(o, "%s OK Store completed %s\r\n", tag, DONE_TIME);
		break;
	case 4:
		client_cmd(s, "%s UID SEARCH UNSEEN SINCE 1-Mar-2024\r\n", tag);
		q_printf(o, "* SEARCH %u %u %u\r\n%s OK Search completed %s\r\n",
			 m, m + 2, m + 5, tag, DONE_TIME);
		break;
	case 5:
		client_cmd(s, "%s LIST \"\" \"%%\"\r\n", tag);
		q_printf(o, "* LIST (\\HasNoChildren) \".\" INBOX\r\n"
			 "* LIST (\\HasChildren) \".\" Archive\r\n"
			 "* LIST (\\HasNoChildren \\Sent) \".\" Sent\r\n"
			 "* LIST (\\HasNoChildren \\Trash) \".\" Trash\r\n"
			 "* LIST (\\HasNoChildren) \".\" \"Caf\xc3\xa9 notes\"\r\n"
			 "%s OK List completed %s\r\n", tag, DONE_TIME);
		break;
	case 6:
		client_cmd(s, "%s FETCH %u (ENVELOPE)\r\n", tag, m);
		q_printf(o, "* %u FETCH (ENVELOPE (\"Tue, 12 Mar 2024 10:%02u:00 +0100\" "
			 "\"Report %u: quarterly numbers\" ((\"Sender\" NIL \"sender%u\" \"example.org\")) "
			 "((\"Sender\" NIL \"sender%u\" \"example.org\")) NIL "
			 "((NIL NIL \"alice\" \"example.net\")) NIL NIL NIL \"<%u@example.org>\"))\r\n"
			 "%s OK Fetch completed %s\r\n", m, m % 60, m, m, m, m, tag, DONE_TIME);
		break;
	case 7: {
		char hdr[200];
		int n = snprintf(hdr, sizeof hdr, "From: Sender %u <sender%u@example.org>\r\n"
				 "Subject: Report %u\r\n\r\n", m, m, m);

		client_cmd(s, "%s UID FETCH %u (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])\r\n", tag, m);
		q_printf(o, "* %u FETCH (UID %u BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}\r\n%s)\r\n"
			 "%s OK Fetch completed %s\r\n", m, m, n, hdr, tag, DONE_TIME);
		break;
	}
	case 8:
		client_cmd(s, "%s UID FETCH %u (UID RFC822.SIZE INTERNALDATE FLAGS)\r\n", tag, m);
		q_printf(o, "* %u FETCH (UID %u RFC822.SIZE %u INTERNALDATE \"12-Mar-2024 10:00:00 +0100\" "
			 "FLAGS (\\Seen))\r\n%s OK Fetch completed %s\r\n", m, m, 2000 + m * 13, tag,
			 DONE_TIME);
		break;
	default:
		client_cmd(s, "%s CHECK\r\n", tag);
		q_printf(o, "%s OK Check completed %s\r\n", tag, DONE_TIME);
		break;
	}
}

/* Queue the next command and its response; false when the session is over. */
static bool next_exchange(struct session *s)
{
	char tag[16];
	uint32_t k = s->step++;

	snprintf(tag, sizeof tag, "a%03u", ++s->tag);
	if (k == 0) {
		client_cmd(s, "%s CAPABILITY\r\n", tag);
		q_printf(srv_text(s), "* CAPABILITY %s AUTH=PLAIN\r\n%s OK Pre-login capabilities listed, post-login capabilities have more.\r\n",
			 capa, tag);
	} else if (k == 1) {
		client_cmd(s, "%s LOGIN user%u \"pw-%u\"\r\n", tag, s->id, s->id);
		q_printf(srv_text(s), "%s OK [CAPABILITY %s] Logged in\r\n", tag, capa);
	} else if (k == 2) {
		client_cmd(s, "%s SELECT INBOX\r\n", tag);
		select_response(s, tag, "INBOX");
	} else if (k < s->nsteps + 3) {
		uint32_t i = k - 3;

		if (s->kind == K_BULK)
			fetch_body(s, tag, i + 1, s->bulk_sizes[i]);
		else if (s->kind == K_SMALL)
			fetch_body(s, tag, i + 1, rnd_range(&s->rng, 2000, 16000));
		else
			chatty_command(s, tag);
	} else if (k == s->nsteps + 3) {
		client_cmd(s, "%s LOGOUT\r\n", tag);
		q_printf(srv_text(s), "* BYE Logging out\r\n%s OK Logout completed %s\r\n", tag,
			 DONE_TIME);
	} else {
		return false;
	}
	return true;
}

/* Move server plaintext into records (TLS) and pull body bytes forward so
 * that about QUEUE_FILL wire bytes are ready. */
static void server_fill(struct session *s)
{
	while (q_avail(&s->s2c) < QUEUE_FILL) {
		struct q *t = srv_text(s);

		if (s->in_body) {
			size_t room = s->tls ? TLS_REC_MAX - (q_avail(t) % TLS_REC_MAX) : QUEUE_FILL;

			body_fill(&s->body, t, room);
			if (s->body.left == 0) {
				s->in_body = false;
				q_put(t, s->suffix.d + s->suffix.off, q_avail(&s->suffix));
			}
		}
		if (s->tls) {
			/* a record per write: whole 16 KB records inside a body,
			 * the rest at the end of each response */
			while (q_avail(&s->plain) >= TLS_REC_MAX ||
			       (!s->in_body && q_avail(&s->plain) > 0)) {
				size_t n = q_avail(&s->plain);

				if (n > TLS_REC_MAX)
					n = TLS_REC_MAX;
				seal_record(&s->sseal, &s->s2c, 0x17, s->plain.d + s->plain.off, n);
				s->plain.off += n;
			}
		}
		if (!s->in_body)
			break;
	}
}

static void session_start(struct gen *g, struct session *s, uint32_t id, enum kind kind,
			  uint64_t *planned_r)
{
	uint32_t i;
	uint64_t plan = 0;

	memset(s, 0, sizeof *s);
	s->id = id;
	s->kind = kind;
	s->tls = g->tls;
	s->rng = rnd_next(&g->rng) | 1;
	s->cip = 0x0a000000u | (10u << 16) | ((id / 250) % 250) << 8 | (id % 250 + 2);
	s->sip = 0x0a010001u;
	s->cport = (uint16_t)(33000 + (id * 7) % 28000);
	s->sport = g->tls ? 993 : 143;
	s->cseq = (uint32_t)rnd_next(&s->rng);
	s->sseq = (uint32_t)rnd_next(&s->rng);
	s->cts = (uint32_t)rnd_next(&s->rng);
	s->sts = (uint32_t)rnd_next(&s->rng);
	s->msgs = kind == K_SMALL ? SMALL_COUNT : rnd_range(&s->rng, 200, 3000);
	if (kind == K_BULK) {
		s->nsteps = rnd_range(&s->rng, 3, MAX_BULK_MSGS);
		for (i = 0; i < s->nsteps; i++) {
			s->bulk_sizes[i] = rnd_range(&s->rng, 1000000, 6000000);
			plan += s->bulk_sizes[i];
		}
	} else if (kind == K_SMALL) {
		s->nsteps = SMALL_COUNT;
		plan = SMALL_COUNT * 9100ull;
	} else {
		s->nsteps = CHATTY_COUNT;
		plan = CHATTY_COUNT * 260ull;
	}
	/* headers: about 102 bytes a 1448-byte segment, plus ACKs */
	*planned_r = plan + plan / 12 + 4096;
}

/* TLS 1.3: ClientHello; ServerHello, CCS and the sealed server flight;
 * the client's CCS and Finished are held until that flight is out. */
static void tls_handshake(struct gen *g, struct session *s)
{
	static const char *const lab[4] = {
		"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
		"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0",
	};
	uint8_t cr[32], sr[32], sid[32], ks[32], sec[4][32], rec[512], hs[1400], fin[36];
	uint8_t *p = hs, *f = fin;
	int i;

	rnd_bytes(&s->rng, cr, 32);
	rnd_bytes(&s->rng, sr, 32);
	rnd_bytes(&s->rng, sid, 32);
	for (i = 0; i < 4; i++) {
		rnd_bytes(&s->rng, sec[i], 32);
		fprintf(g->keylog, "%s ", lab[i]);
		hex(g->keylog, cr, 32);
		fputc(' ', g->keylog);
		hex(g->keylog, sec[i], 32);
		fputc('\n', g->keylog);
	}
	rnd_bytes(&s->rng, ks, 32);
	q_put(&s->c2s, rec, client_hello(rec, cr, sid, ks));
	rnd_bytes(&s->rng, ks, 32);
	q_put(&s->s2c, rec, server_hello(rec, sr, sid, ks));
	/* EncryptedExtensions, Certificate, CertificateVerify, Finished */
	put_u8(&p, 8); put_u24(&p, 2); put_u16(&p, 0);
	put_u8(&p, 11); put_u24(&p, 1 + 3 + 3 + 880 + 2); put_u8(&p, 0);
	put_u24(&p, 3 + 880 + 2); put_u24(&p, 880);
	rnd_bytes(&s->rng, p, 880); p += 880; put_u16(&p, 0);
	put_u8(&p, 15); put_u24(&p, 4 + 256); put_u16(&p, 0x0804); put_u16(&p, 256);
	rnd_bytes(&s->rng, p, 256); p += 256;
	put_u8(&p, 20); put_u24(&p, 32); rnd_bytes(&s->rng, p, 32); p += 32;
	seal_init(&s->sseal, sec[1]);
	seal_record(&s->sseal, &s->s2c, 0x16, hs, (size_t)(p - hs));
	seal_init(&s->sseal, sec[3]);
	put_u8(&f, 20); put_u24(&f, 32); rnd_bytes(&s->rng, f, 32);
	q_put(&s->hold, "\x14\x03\x03\x00\x01\x01", 6);
	seal_init(&s->cseal, sec[0]);
	seal_record(&s->cseal, &s->hold, 0x16, fin, sizeof fin);
	seal_init(&s->cseal, sec[2]);
	s->hs_pending = true;
}

/* After the client's Finished: a NewSessionTicket, then the greeting. */
static void tls_established(struct session *s)
{
	uint8_t t[4 + 4 + 4 + 1 + 8 + 2 + 192 + 2], *p = t;

	q_put(&s->c2s, s->hold.d + s->hold.off, q_avail(&s->hold));
	s->hold.off = s->hold.len = 0;
	put_u8(&p, 4); put_u24(&p, sizeof t - 4);
	put_u16(&p, 0); put_u16(&p, 7200);		/* lifetime */
	rnd_bytes(&s->rng, p, 4); p += 4;		/* age add */
	put_u8(&p, 8); rnd_bytes(&s->rng, p, 8); p += 8;	/* nonce */
	put_u16(&p, 192); rnd_bytes(&s->rng, p, 192); p += 192;
	put_u16(&p, 0);
	seal_record(&s->sseal, &s->s2c, 0x16, t, (size_t)(p - t));
	q_printf(&s->plain, "* OK [CAPABILITY %s AUTH=PLAIN] Dovecot (Debian) ready.\r\n", capa);
	server_fill(s);
	s->hs_pending = false;
}

/* Run one burst of session s; false when it has finished. */
static bool session_step(struct gen *g, struct session *s)
{
	uint32_t n;
	int k;

	if (s->phase == 0) {
		packet(g, s, true, F_SYN, NULL, 0);
		packet(g, s, false, F_SYN, NULL, 0);
		packet(g, s, true, 0, NULL, 0);
		if (s->tls)
			tls_handshake(g, s);
		else
			q_printf(&s->s2c, "* OK [CAPABILITY %s STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
				 capa);
		s->phase = 1;
		return true;
	}
	if (s->phase == 2) {
		packet(g, s, false, F_FIN, NULL, 0);
		packet(g, s, true, F_FIN, NULL, 0);
		packet(g, s, false, 0, NULL, 0);
		s->phase = 3;
	}
	if (s->phase == 3)
		return false;
	/* the client's bytes first: a command, or a handshake flight; then
	 * the server's think time */
	if (q_avail(&s->c2s) > 0) {
		while (q_avail(&s->c2s) > 0) {
			n = (uint32_t)(q_avail(&s->c2s) < MSS ? q_avail(&s->c2s) : MSS);
			packet(g, s, true, F_PSH, s->c2s.d + s->c2s.off, n);
			s->c2s.off += n;
		}
		g->ts_us += rnd_range(&g->rng, 20, 400);
	}
	server_fill(s);
	for (k = 0; k < BURST_SEGS && q_avail(&s->s2c) > 0; k++) {
		n = (uint32_t)(q_avail(&s->s2c) < MSS ? q_avail(&s->s2c) : MSS);
		packet(g, s, false, q_avail(&s->s2c) == n ? F_PSH : 0, s->s2c.d + s->s2c.off, n);
		s->s2c.off += n;
		if (++s->unacked == 2) {
			packet(g, s, true, 0, NULL, 0);
			s->unacked = 0;
		}
		if (q_avail(&s->s2c) < MSS)
			server_fill(s);
	}
	if (q_avail(&s->s2c) > 0 || s->in_body)
		return true;
	if (s->unacked) {
		packet(g, s, true, 0, NULL, 0);
		s->unacked = 0;
	}
	if (s->hs_pending)
		tls_established(s);
	else if (!next_exchange(s))
		s->phase = 2;
	return true;
}

static void session_free(struct session *s)
{
	free(s->c2s.d);
	free(s->s2c.d);
	free(s->plain.d);
	free(s->suffix.d);
	free(s->hold.d);
	EVP_CIPHER_CTX_free(s->cseal.cx);
	EVP_CIPHER_CTX_free(s->sseal.cx);
	memset(s, 0, sizeof *s);
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: gen_capture -o FILE.pcap [-s MB] [-c CONCURRENT] [--seed N]\n"
		"                   [--tls KEYLOG] [--only bulk|small|chatty] [--sessions N]\n"
		"  -s MB           stop starting sessions once about MB megabytes (10^6) are planned (default 500)\n"
		"  -c N            sessions open at once (default %d)\n"
		"  --tls KEYLOG    implicit TLS 1.3 (AES-128-GCM) on 993, secrets written to KEYLOG\n"
		"  --only KIND     one kind of session only (default: 10%% bulk, 40%% small, 50%% chatty)\n"
		"  --sessions N    exactly N sessions, whatever the size\n", DEFAULT_CONC);
	exit(2);
}

static enum kind pick_kind(struct gen *g, int only)
{
	uint32_t r;

	if (only >= 0)
		return (enum kind)only;
	r = rnd_range(&g->rng, 0, 99);
	return r < 10 ? K_BULK : r < 50 ? K_SMALL : K_CHATTY;
}

int main(int argc, char **argv)
{
	struct gen g;
	const char *out = NULL, *keylog = NULL;
	double mb = 500;
	long conc = DEFAULT_CONC, nsess = -1;
	int only = -1, i;
	uint64_t seed = 0x1ac0ffee, planned = 0, per, count[3] = { 0 };
	struct session *act;
	long nact = 0;
	uint32_t started = 0;
	static const uint8_t pcap_hdr[24] = {
		0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0, 0, 1, 0, 0, 0,
	};

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-o") == 0 && v) out = v;
		else if (strcmp(a, "-s") == 0 && v) mb = strtod(v, NULL);
		else if (strcmp(a, "-c") == 0 && v) conc = strtol(v, NULL, 10);
		else if (strcmp(a, "--seed") == 0 && v) seed = strtoull(v, NULL, 0);
		else if (strcmp(a, "--tls") == 0 && v) keylog = v;
		else if (strcmp(a, "--sessions") == 0 && v) nsess = strtol(v, NULL, 10);
		else if (strcmp(a, "--only") == 0 && v) {
			for (only = 2; only >= 0 && strcmp(v, kind_name[only]) != 0; only--)
				;
			if (only < 0)
				usage();
		} else
			usage();
		i++;
	}
	if (out == NULL || conc < 1 || conc > 1000000 || mb <= 0)
		usage();
	memset(&g, 0, sizeof g);
	g.rng = seed | 1;
	g.ts_us = 1710234000ull * 1000000;
	g.tls = keylog != NULL;
	g.out = fopen(out, "wb");
	if (g.out == NULL) {
		fprintf(stderr, "gen_capture: %s: %s\n", out, strerror(errno));
		return 1;
	}
	setvbuf(g.out, NULL, _IOFBF, 1 << 22);
	if (keylog != NULL && (g.keylog = fopen(keylog, "w")) == NULL) {
		fprintf(stderr, "gen_capture: %s: %s\n", keylog, strerror(errno));
		return 1;
	}
	if (fwrite(pcap_hdr, 1, sizeof pcap_hdr, g.out) != sizeof pcap_hdr)
		return 1;
	g.bytes = sizeof pcap_hdr;
	act = calloc((size_t)conc, sizeof *act);
	if (act == NULL)
		return 1;
	for (;;) {
		/* fill the free slots while the plan is short of the target */
		while (nact < conc && (nsess >= 0 ? started < (uint64_t)nsess
						  : planned < (uint64_t)(mb * 1e6))) {
			enum kind k = pick_kind(&g, only);

			session_start(&g, &act[nact], ++started, k, &per);
			planned += per;
			count[k]++;
			nact++;
		}
		if (nact == 0)
			break;
		long j = (long)(rnd_next(&g.rng) % (uint64_t)nact);

		if (!session_step(&g, &act[j])) {
			session_free(&act[j]);
			act[j] = act[nact - 1];
			memset(&act[nact - 1], 0, sizeof act[0]);
			nact--;
		}
	}
	if (fclose(g.out) != 0 || (g.keylog && fclose(g.keylog) != 0)) {
		perror("gen_capture: close");
		return 1;
	}
	free(act);
	fprintf(stderr, "gen_capture: %s: %" PRIu64 " bytes, %" PRIu64 " packets, %u sessions "
		"(%" PRIu64 " bulk, %" PRIu64 " small, %" PRIu64 " chatty), %ld at once%s\n",
		out, g.bytes, g.packets, started, count[K_BULK], count[K_SMALL], count[K_CHATTY],
		conc, g.tls ? ", TLS 1.3" : "");
	return 0;
}
