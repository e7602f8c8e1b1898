/* Handshake tracking: the ClientHello and ServerHello (randoms, version,
 * suite, SNI, ALPN, resumption), EncryptedExtensions, and the messages
 * that move the key schedule on (ClientKeyExchange, Finished,
 * EndOfEarlyData, KeyUpdate).  See tls_int.h. */
#include "tls_int.h"

#include <stdio.h>
#include <string.h>

#include "util/cursor.h"

static void copy_name(uint8_t *dst, size_t *len_r, struct buf_slice src)
{
	*len_r = src.len < TLS_MAX_NAME ? src.len : TLS_MAX_NAME;
	if (*len_r > 0)
		memcpy(dst, src.ptr, *len_r);
}

static void on_client_hello(struct tls_session *s, const uint8_t *body, size_t n)
{
	struct tls_hello h;

	if (tls_hello_parse(body, n, false, &h) < 0) {
		notice(s, NOTICE_TLS_MALFORMED, "TLS: malformed ClientHello");
		return;
	}
	if (s->seen_ch && s->hrr && !s->seen_sh)
		return;	/* the second ClientHello after a HelloRetryRequest */
	if (s->seen_sh && s->version != TLS_VERSION_1_2)
		return;	/* only TLS 1.2 renegotiates */
	s->seen_ch = true;
	memcpy(s->client_random, h.random, TLS_RANDOM_LEN);
	memcpy(s->ch_sid, h.session_id, h.session_id_len);
	s->ch_sid_len = h.session_id_len;
	copy_name(s->sni, &s->sni_len, h.sni);
	copy_name(s->alpn, &s->alpn_len, h.alpn);
	s->early_data = h.early_data && h.psk;
}

static void on_server_hello(struct tls_session *s, const uint8_t *body, size_t n)
{
	struct tls_hello h;

	if (tls_hello_parse(body, n, true, &h) < 0) {
		notice(s, NOTICE_TLS_MALFORMED, "TLS: malformed ServerHello");
		return tls_give_up(s, WHY_INCOMPLETE);
	}
	if (h.hrr) {
		s->hrr = true;	/* the real ServerHello follows the new ClientHello */
		return;
	}
	s->seen_sh = true;
	memcpy(s->server_random, h.random, TLS_RANDOM_LEN);
	s->version = h.version;
	s->cipher_id = h.cipher_suite;
	s->suite = tls_suite_find(h.cipher_suite);
	if (s->suite != NULL)
		snprintf(s->cipher_name, sizeof s->cipher_name, "%s", s->suite->name);
	else
		snprintf(s->cipher_name, sizeof s->cipher_name, "unknown (0x%04x)",
			 h.cipher_suite);
	if (h.alpn.len > 0)
		copy_name(s->alpn, &s->alpn_len, h.alpn);
	s->ems = h.ems;
	s->etm = h.etm && s->suite != NULL && s->suite->mode == MODE_CBC;
	s->resumed = s->version == TLS_VERSION_1_3 ? h.psk :
		     (h.session_id_len > 0 && h.session_id_len == s->ch_sid_len &&
		      memcmp(h.session_id, s->ch_sid, s->ch_sid_len) == 0);
	if (!s->seen_ch)
		return tls_give_up(s, WHY_MIDSTREAM);
	tls_keysched_after_server_hello(s);
}

/* TLS 1.3 moves the server's ALPN choice into EncryptedExtensions. */
static void on_encrypted_extensions(struct tls_session *s, const uint8_t *body, size_t n)
{
	struct buf_slice alpn;

	if (tls_encrypted_extensions_alpn(body, n, &alpn) == 1)
		copy_name(s->alpn, &s->alpn_len, alpn);
}

/* TLS 1.2 with RSA key exchange: the server's Certificate says whether the
 * --rsa-key is this server's.  A key for another server is named at once,
 * rather than left to a failed decryption of the ClientKeyExchange. */
static void on_certificate(struct tls_session *s, const uint8_t *body, size_t n)
{
	struct cursor c = cursor_make(body, n), list = cursor_vec(&c, 3);
	struct cursor cert = cursor_vec(&list, 3);

	if (cert.bad)
		return;		/* the first certificate must lie inside the list */
	if (tls_keys_rsa_matches_cert(s->keys, cert.p, cursor_left(&cert)) == 0) {
		notice(s, NOTICE_TLS_WRONG_KEY, "TLS: %s is not this server's key (its certificate holds"
		       " another public key): not decrypted", tls_keys_rsa_path(s->keys));
		s->want_cke = false;
		s->keep_transcript = false;
		tls_give_up(s, WHY_RSA_OTHER);
	}
}

static void on_handshake_message(struct tls_session *s, enum stream_dir d,
				 uint8_t type, struct buf_slice msg)
{
	const uint8_t *body = msg.ptr + TLS_HS_HEADER_LEN;
	size_t n = msg.len - TLS_HS_HEADER_LEN;

	if (type == TLS_HS_CLIENT_HELLO && d == DIR_C2S) {
		buf_reset(&s->transcript);
		s->keep_transcript = tls_keys_have_rsa(s->keys);
	}
	if (s->keep_transcript && buf_append(&s->transcript, msg.ptr, msg.len) < 0)
		s->keep_transcript = false;	/* too big: EMS cannot be computed */
	if (type == TLS_HS_CLIENT_HELLO && d == DIR_C2S)
		on_client_hello(s, body, n);
	else if (type == TLS_HS_SERVER_HELLO && d == DIR_S2C)
		on_server_hello(s, body, n);
	else if (type == TLS_HS_CERTIFICATE && d == DIR_S2C && s->want_cke)
		on_certificate(s, body, n);
	else if (type == TLS_HS_CLIENT_KEY_EXCHANGE && d == DIR_C2S && s->want_cke)
		tls_keysched_rsa_client_key_exchange(s, body, n);
	else if (s->version == TLS_VERSION_1_3 && s->dir[d].encrypted) {
		if (type == TLS_HS_ENCRYPTED_EXTENSIONS && d == DIR_S2C)
			on_encrypted_extensions(s, body, n);
		else if (type == TLS_HS_FINISHED && s->dir[d].epoch == EPOCH_HANDSHAKE)
			tls13_enter(s, d, EPOCH_APP);
		else if (type == TLS_HS_END_OF_EARLY_DATA && s->dir[d].epoch == EPOCH_EARLY)
			tls13_enter(s, d, EPOCH_HANDSHAKE);
		else if (type == TLS_HS_KEY_UPDATE && s->dir[d].epoch == EPOCH_APP)
			tls13_key_update(s, d);
	}
}

void tls_handshake_bytes(struct tls_session *s, enum stream_dir d,
			 const uint8_t *p, size_t n)
{
	struct tls_hs_reasm *r = &s->dir[d].hs;
	struct buf_slice msg;
	uint8_t type;
	int rc;

	if (tls_hs_append(r, p, n) < 0) {
		notice(s, NOTICE_TLS_HANDSHAKE_CUT, "TLS: %s handshake message over %u bytes dropped", stream_dir_name(d),
		       TLS_MAX_HANDSHAKE_MSG);
		buf_reset(&r->b);
		return;
	}
	while ((rc = tls_hs_next(r, &type, &msg)) > 0) {
		on_handshake_message(s, d, type, msg);
		tls_hs_pop(r);
	}
	if (rc == PARSE_BAD) {
		notice(s, NOTICE_TLS_HANDSHAKE_CUT, "TLS: %s handshake message over %u bytes dropped", stream_dir_name(d),
		       TLS_MAX_HANDSHAKE_MSG);
		buf_reset(&r->b);
	}
}
