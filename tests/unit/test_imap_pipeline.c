/* The session's byte pipeline with a fake TLS layer injected through the
 * session config: switches at the exact byte, the handshake's tls event,
 * gaps through the layer, a session without a TLS layer.  Needs nothing
 * from tls/: `make imap-standalone` builds it with src/imap, src/util,
 * zlib and cmocka only, which shows that imap/ does not depend on OpenSSL.
 *
 * The fake layer: each direction starts with one FAKE_HELLO byte (taken
 * for a handshake record, so the probe sees a control byte), then every
 * byte is the plaintext XOR FAKE_KEY. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "imap/imap_session.h"
#include "util/transport_layer.h"

#define FAKE_HELLO 0x16
#define FAKE_KEY   0x80
#define REC_MAX    64
#define REC_LINE   160

/* --- the fake TLS layer ---------------------------------------------------- */

struct fake_stats {
	int opened, ended, freed, sniffed;
	uint64_t fed[2];	/* bytes given to the layer, by direction */
	uint64_t gaps[2];
};

struct fake_tls {
	const struct transport_sink *out;
	struct fake_stats *st;
	bool hello[2];
	bool told;
};

static void fake_tell(struct fake_tls *f, bool decrypted)
{
	struct transport_handshake h = {
		.version = decrypted ? "FAKE 1.0" : NULL,
		.cipher = decrypted ? "FAKE_XOR" : NULL,
		.sni = { (const uint8_t *)"mail.example", 12 },
		.decrypted = decrypted,
		.decrypted_dir = { decrypted, decrypted },
		.reason = decrypted ? NULL : "no hello seen",
	};

	if (f->told)
		return;
	f->told = true;
	f->out->handshake(f->out->ctx, &h);
}

static void *fake_open(const void *conf, const struct transport_sink *out,
		       struct mem_budget *budget)
{
	struct fake_tls *f = calloc(1, sizeof *f);

	(void)budget;
	assert_non_null(f);
	f->out = out;
	f->st = (struct fake_stats *)(uintptr_t)conf;
	f->st->opened++;
	return f;
}

static bool fake_sniff(const uint8_t *p, size_t n)
{
	return n > 0 && p[0] == FAKE_HELLO;
}

static void fake_feed(void *inst, enum stream_dir dir, const uint8_t *p, size_t n,
		      int64_t ts_us)
{
	struct fake_tls *f = inst;
	uint8_t plain[256];
	size_t k = 0;

	f->st->fed[dir] += n;
	if (n > 0 && !f->hello[dir]) {
		assert_int_equal(p[0], FAKE_HELLO);
		f->hello[dir] = true;
		fake_tell(f, true);
		p++;
		n--;
	}
	assert_true(n <= sizeof plain);
	for (k = 0; k < n; k++)
		plain[k] = p[k] ^ FAKE_KEY;
	if (n > 0)
		f->out->data(f->out->ctx, dir, plain, n, ts_us);
}

static void fake_gap(void *inst, enum stream_dir dir, uint64_t nbytes, int64_t ts_us)
{
	struct fake_tls *f = inst;

	f->st->gaps[dir] += nbytes;
	f->out->gap(f->out->ctx, dir, nbytes, ts_us);
}

static void fake_end(void *inst, int64_t ts_us)
{
	struct fake_tls *f = inst;

	(void)ts_us;
	f->st->ended++;
	fake_tell(f, false);
}

static void fake_free(void *inst)
{
	struct fake_tls *f = inst;

	f->st->freed++;
	free(f);
}

static const struct transport_layer_ops fake_tls_ops = {
	.open = fake_open, .sniff = fake_sniff, .feed = fake_feed,
	.gap = fake_gap, .end = fake_end, .free = fake_free,
};

/* --- recording the events ------------------------------------------------ */

struct rec {
	char ev[REC_MAX][REC_LINE];
	int n;
};

#define SL(s) (int)(s).len, (const char *)(s).ptr

static void rec_event(void *ctx, const struct event *ev)
{
	struct rec *r = ctx;
	char *o;

	assert_true(r->n < REC_MAX);
	o = r->ev[r->n++];
	switch (ev->type) {
	case EV_COMMAND:
		snprintf(o, REC_LINE, "C %.*s %.*s", SL(ev->u.command.tag), SL(ev->u.command.name));
		break;
	case EV_RESPONSE:
		snprintf(o, REC_LINE, "R %.*s %.*s", SL(ev->u.response.tag),
			 SL(ev->u.response.status));
		break;
	case EV_TLS:
		snprintf(o, REC_LINE, "tls %s %s dec=%d %s", ev->u.tls.phase,
			 ev->u.tls.version ? ev->u.tls.version : "-", ev->u.tls.decrypted,
			 ev->u.tls.reason ? ev->u.tls.reason : "-");
		break;
	case EV_LOGIN:
		snprintf(o, REC_LINE, "login %.*s %s clear=%d", SL(ev->u.login.user),
			 event_transport_name(ev->u.login.transport), ev->u.login.cleartext_secret);
		break;
	case EV_GAP:
		snprintf(o, REC_LINE, "gap %s %llu at %llu", event_dir_name(ev->u.gap.dir),
			 (unsigned long long)ev->u.gap.bytes, (unsigned long long)ev->u.gap.offset);
		break;
	case EV_SESSION_END:
		snprintf(o, REC_LINE, "end undecrypted=%d%d", ev->u.end.undecrypted[0],
			 ev->u.end.undecrypted[1]);
		break;
	default:
		snprintf(o, REC_LINE, "%s", event_type_name(ev->type));
		break;
	}
}

static const struct output_ops rec_ops = { .event = rec_event };

static void check_events(const struct rec *r, const char *const *want, int n)
{
	for (int i = 0; i < r->n && i < n; i++)
		assert_string_equal(r->ev[i], want[i]);
	assert_int_equal(r->n, n);
}

/* --- driving a session ---------------------------------------------------- */

struct run {
	struct imap_session_config cfg;
	struct imap_session_info info;
	struct imap_session *s;
	struct rec r;
	struct fake_stats st;
	int64_t ts;
};

static void run_open(struct run *u, bool with_tls, bool implicit, bool mid_stream)
{
	memset(u, 0, sizeof *u);
	u->cfg.out = (struct output){ &rec_ops, &u->r };
	if (with_tls) {
		u->cfg.tls = &fake_tls_ops;
		u->cfg.tls_conf = &u->st;
	}
	u->info = (struct imap_session_info){
		.id = 1, .client = "192.0.2.1:50000", .server = "198.51.100.2:143",
		.implicit_tls = implicit, .mid_stream = mid_stream, .first_ts_us = 1,
	};
	u->ts = 1;
	u->s = imap_session_new(&u->cfg, &u->info);
	assert_non_null(u->s);
}

static void run_feed(struct run *u, enum stream_dir dir, const char *clear, const char *sealed)
{
	uint8_t b[512];
	size_t n = strlen(clear), k = strlen(sealed);

	assert_true(n + 1 + k <= sizeof b);
	memcpy(b, clear, n);
	if (sealed[0] != '\0') {
		b[n++] = FAKE_HELLO;
		for (size_t i = 0; i < k; i++)
			b[n++] = (uint8_t)sealed[i] ^ FAKE_KEY;
	}
	imap_session_ops.feed(u->s, dir, b, n, ++u->ts);
}

/* Ciphertext as the fake layer makes it, without the hello byte. */
static void run_feed_sealed(struct run *u, enum stream_dir dir, const char *plain)
{
	uint8_t b[512];
	size_t n = strlen(plain);

	assert_true(n <= sizeof b);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)plain[i] ^ FAKE_KEY;
	imap_session_ops.feed(u->s, dir, b, n, ++u->ts);
}

/* Bytes through the fake layer: the hello first when asked. */
static void run_seal(struct run *u, enum stream_dir dir, const uint8_t *p, size_t n, bool hello)
{
	uint8_t b[512];
	size_t k = 0;

	assert_true(n + 1 <= sizeof b);
	if (hello)
		b[k++] = FAKE_HELLO;
	for (size_t i = 0; i < n; i++)
		b[k++] = p[i] ^ FAKE_KEY;
	imap_session_ops.feed(u->s, dir, b, k, ++u->ts);
}

/* text, then (after it, in the same buffer) zlines each deflated with a
 * sync flush, as a client or server does under COMPRESS.  Returns the
 * length. */
static size_t with_deflated(uint8_t *out, size_t cap, const char *text, const char *zlines)
{
	size_t n = strlen(text);
	z_stream z;

	assert_true(n <= cap);
	memcpy(out, text, n);
	memset(&z, 0, sizeof z);
	assert_int_equal(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)zlines;
	z.avail_in = (uInt)strlen(zlines);
	z.next_out = out + n;
	z.avail_out = (uInt)(cap - n);
	assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
	assert_int_equal(z.avail_in, 0);
	n = cap - z.avail_out;
	deflateEnd(&z);
	return n;
}

static void run_end(struct run *u)
{
	imap_session_ops.end(u->s, END_FIN, ++u->ts);
}

/* --- tests ---------------------------------------------------------------- */

/* The client's bytes after STARTTLS wait for the answer; the OK switches
 * both directions at the byte after its line, in the same segment. */
static void test_starttls_switch_at_byte(void **state)
{
	static const char *const want[] = {
		"session_start", "greeting", "C a1 STARTTLS", "R a1 OK",
		"tls starttls FAKE 1.0 dec=1 -", "C a2 LOGIN", "R a2 OK",
		"login bob starttls clear=0", "end undecrypted=00",
	};
	struct run u;

	(void)state;
	run_open(&u, true, false, false);
	run_feed(&u, DIR_S2C, "* OK IMAP4rev1 ready\r\n", "");
	run_feed(&u, DIR_C2S, "a1 STARTTLS\r\n", "a2 LOGIN bob secret\r\n");
	run_feed(&u, DIR_S2C, "a1 OK begin TLS\r\n", "a2 OK LOGIN done\r\n");
	run_end(&u);
	check_events(&u.r, want, (int)(sizeof want / sizeof want[0]));
	/* exactly the bytes after each line, hello included */
	assert_int_equal(u.st.fed[DIR_C2S], 1 + strlen("a2 LOGIN bob secret\r\n"));
	assert_int_equal(u.st.fed[DIR_S2C], 1 + strlen("a2 OK LOGIN done\r\n"));
	assert_int_equal(u.st.opened, 1);
	assert_int_equal(u.st.ended, 1);
	assert_int_equal(u.st.freed, 1);
}

/* Without a TLS layer, TLS is only counted: the tls event says why and
 * the end says both directions were not decrypted. */
static void test_no_tls_layer(void **state)
{
	static const char *const want[] = {
		"session_start", "greeting", "C a1 STARTTLS", "R a1 OK",
		"tls starttls - dec=0 this build has no TLS layer", "end undecrypted=11",
	};
	struct run u;

	(void)state;
	run_open(&u, false, false, false);
	run_feed(&u, DIR_S2C, "* OK IMAP4rev1 ready\r\n", "");
	run_feed(&u, DIR_C2S, "a1 STARTTLS\r\n", "a2 LOGIN bob secret\r\n");
	run_feed(&u, DIR_S2C, "a1 OK begin TLS\r\n", "a2 OK LOGIN done\r\n");
	run_end(&u);
	check_events(&u.r, want, (int)(sizeof want / sizeof want[0]));
}

/* An implicit-TLS port: the layer is there from the first byte. */
static void test_implicit_tls(void **state)
{
	static const char *const want[] = {
		"session_start", "tls implicit FAKE 1.0 dec=1 -", "greeting",
		"C a1 LOGIN", "R a1 OK", "login bob implicit_tls clear=0",
		"end undecrypted=00",
	};
	struct run u;

	(void)state;
	run_open(&u, true, true, false);
	run_feed(&u, DIR_S2C, "", "* OK IMAP4rev1 ready\r\n");
	run_feed(&u, DIR_C2S, "", "a1 LOGIN bob secret\r\n");
	run_feed_sealed(&u, DIR_S2C, "a1 OK done\r\n");
	run_end(&u);
	check_events(&u.r, want, (int)(sizeof want / sizeof want[0]));
	assert_int_equal(u.st.fed[DIR_S2C], 1 + strlen("* OK IMAP4rev1 ready\r\n") +
			 strlen("a1 OK done\r\n"));
}

/* Picked up after the STARTTLS exchange: the injected layer's sniff
 * recognises its records, and a TCP gap goes through it to the final
 * stream, at the offset the decrypted bytes reached. */
static void test_mid_stream_sniff_and_gap(void **state)
{
	static const char *const want[] = {
		"session_start", "tls starttls FAKE 1.0 dec=1 -", "C a5 NOOP",
		"gap c2s 7 at 9", "end undecrypted=00",
	};
	struct run u;

	(void)state;
	run_open(&u, true, false, true);
	run_feed(&u, DIR_C2S, "", "a5 NOOP\r\n");
	imap_session_ops.gap(u.s, DIR_C2S, 7, ++u.ts);
	run_end(&u);
	check_events(&u.r, want, (int)(sizeof want / sizeof want[0]));
	assert_int_equal(u.st.gaps[DIR_C2S], 7);
}

/* The whole stack: TLS, then COMPRESS inside it, each switched at the
 * byte after the OK line, with the rest of the same TLS record already
 * compressed. */
static void test_compress_inside_tls(void **state)
{
	static const char *const want[] = {
		"session_start", "tls implicit FAKE 1.0 dec=1 -", "greeting",
		/* COMPRESS is a command of the authenticated state (RFC 4978
		 * section 5): its OK proves a login that was not captured */
		"C a1 COMPRESS", "R a1 OK", "login  implicit_tls clear=0", "compress",
		"C a2 NOOP", "R a2 OK",
		"end undecrypted=00",
	};
	static const char greeting[] = "* OK IMAP4rev1 ready\r\n";
	uint8_t b[256];
	size_t n;
	struct run u;

	(void)state;
	run_open(&u, true, true, false);
	run_seal(&u, DIR_S2C, (const uint8_t *)greeting, strlen(greeting), true);
	n = with_deflated(b, sizeof b, "a1 COMPRESS DEFLATE\r\n", "a2 NOOP\r\n");
	run_seal(&u, DIR_C2S, b, n, true);
	n = with_deflated(b, sizeof b, "a1 OK DEFLATE active\r\n", "a2 OK done\r\n");
	run_seal(&u, DIR_S2C, b, n, false);
	run_end(&u);
	check_events(&u.r, want, (int)(sizeof want / sizeof want[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starttls_switch_at_byte),
		cmocka_unit_test(test_no_tls_layer),
		cmocka_unit_test(test_implicit_tls),
		cmocka_unit_test(test_mid_stream_sniff_and_gap),
		cmocka_unit_test(test_compress_inside_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
