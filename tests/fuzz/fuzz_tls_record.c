/* libFuzzer target: the TLS record and handshake layer.
 *
 * The whole input (after the mode byte) is first given to the stateless
 * parts: record header, tls_looks_like_record, both hello parsers and the
 * handshake reassembler.  Then it drives a tls_session in the escape format
 * of fuzz_common.h (starting c2s), with the fixed keys of fuzz_keys() when
 * mode bit 3 is set, so a ClientHello with the fixed client random reaches
 * key derivation and record decryption.  Mode bit 4: free without
 * tls_session_end. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tls/keylog.h"
#include "tls/tls_decrypt.h"
#include "tls/tls_record.h"

struct tls_fuzz {
	struct tls_session *s;
	int handshakes;
	uint64_t plain[2];
};

static void check_hello(const uint8_t *body, size_t n, bool server)
{
	struct tls_hello h;
	struct buf_slice whole = { body, n };

	if (tls_hello_parse(body, n, server, &h) != 0)
		return;
	FUZZ_CHECK(h.session_id_len <= TLS_MAX_SESSION_ID);
	FUZZ_CHECK(fuzz_slice_in(h.sni, whole));
	FUZZ_CHECK(fuzz_slice_in(h.alpn, whole));
	FUZZ_CHECK(tls_version_name(h.version) != NULL);
}

/* Handshake reassembly over the input cut into records' worth of bytes. */
static void check_hs_reasm(const uint8_t *p, size_t n)
{
	struct mem_budget budget = { 0 };
	struct tls_hs_reasm r;
	size_t off = 0;

	tls_hs_init(&r, &budget);
	while (off < n) {
		size_t c = n - off < 97 ? n - off : 97;	/* odd, to split headers */
		uint8_t type;
		struct buf_slice msg;
		int rc;

		if (tls_hs_append(&r, p + off, c) != 0)
			break;
		off += c;
		while ((rc = tls_hs_next(&r, &type, &msg)) > 0) {
			FUZZ_CHECK((size_t)rc == msg.len);
			FUZZ_CHECK(msg.len >= TLS_HS_HEADER_LEN);
			FUZZ_CHECK(msg.len <= TLS_MAX_HANDSHAKE_MSG + TLS_HS_HEADER_LEN);
			FUZZ_CHECK(type == msg.ptr[0]);
			fuzz_touch(msg);
			if (type == TLS_HS_CLIENT_HELLO || type == TLS_HS_SERVER_HELLO)
				check_hello(msg.ptr + TLS_HS_HEADER_LEN,
					    msg.len - TLS_HS_HEADER_LEN,
					    type == TLS_HS_SERVER_HELLO);
			tls_hs_pop(&r);
		}
		if (rc == PARSE_BAD)
			break;
	}
	tls_hs_free(&r);
	FUZZ_CHECK(budget.used == 0);
}

static void check_stateless(const uint8_t *p, size_t n)
{
	struct tls_record_hdr h;
	int rc = tls_record_header(p, n, &h);

	FUZZ_CHECK(rc == TLS_RECORD_HEADER_LEN || rc == PARSE_BAD || rc == PARSE_MORE);
	FUZZ_CHECK(rc != PARSE_MORE || n < TLS_RECORD_HEADER_LEN);
	if (rc > 0)
		FUZZ_CHECK(h.length <= TLS_MAX_RECORD_PAYLOAD);
	(void)tls_looks_like_record(p, n);
	check_hello(p, n, false);
	check_hello(p, n, true);
	check_hs_reasm(p, n);
}

static void on_plaintext(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
			 int64_t ts)
{
	struct tls_fuzz *f = ctx;

	(void)ts;
	FUZZ_CHECK(dir == DIR_C2S || dir == DIR_S2C);
	fuzz_touch((struct buf_slice){ p, n });
	f->plain[dir] += n;
}

static void on_gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts)
{
	(void)ctx;
	(void)ts;
	FUZZ_CHECK(dir == DIR_C2S || dir == DIR_S2C);
	FUZZ_CHECK(nbytes > 0);
}

static void on_handshake(void *ctx, const struct tls_info *info)
{
	struct tls_fuzz *f = ctx;

	FUZZ_CHECK(++f->handshakes == 1);	/* called once */
	FUZZ_CHECK(info->version != NULL && info->cipher != NULL);
	fuzz_touch((struct buf_slice){ (const uint8_t *)info->version, strlen(info->version) });
	fuzz_touch((struct buf_slice){ (const uint8_t *)info->cipher, strlen(info->cipher) });
	if (info->reason != NULL)
		fuzz_touch((struct buf_slice){ (const uint8_t *)info->reason, strlen(info->reason) });
	FUZZ_CHECK(info->decrypted == (info->reason == NULL));
	fuzz_touch(info->sni);
	fuzz_touch(info->alpn);
}

/* ctx is the hooks' ctx, the target's state: not a counter. */
static void on_notice(void *ctx, const struct notice *n)
{
	(void)ctx;
	fuzz_check_notice(n);
}

static void feed(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n, int64_t ts)
{
	tls_session_feed(((struct tls_fuzz *)ctx)->s, dir, p, n, ts);
}

static void gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts)
{
	tls_session_gap(((struct tls_fuzz *)ctx)->s, dir, nbytes, ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem_budget budget = { 0 };
	struct tls_fuzz f = { 0 };
	struct tls_hooks hooks = { &f, on_plaintext, on_gap, on_handshake, on_notice };
	struct fuzz_stream_ops ops = { .ctx = &f, .feed = feed, .gap = gap };
	struct tls_stats st;
	uint8_t mode;
	int64_t ts;

	if (size < 1)
		return 0;
	mode = data[0];
	check_stateless(data + 1, size - 1);
	f.s = tls_session_new((mode >> 3) & 1 ? fuzz_keys() : NULL, &hooks, &budget);
	FUZZ_CHECK(f.s != NULL);
	ts = fuzz_drive(data + 1, size - 1, mode, 1, &ops);
	if (!((mode >> 4) & 1)) {
		tls_session_end(f.s, ts);
		FUZZ_CHECK(f.handshakes == 1);	/* at the latest at the end */
	}
	tls_session_stats(f.s, &st);
	for (int d = 0; d < 2; d++) {
		FUZZ_CHECK(st.app_records[d] <= st.records[d]);
		FUZZ_CHECK(st.bad_records[d] <= st.records[d]);
		FUZZ_CHECK(st.plaintext[d] == f.plain[d]);
	}
	tls_session_free(&f.s);
	FUZZ_CHECK(f.s == NULL);
	FUZZ_CHECK(budget.used == 0);
	return 0;
}
