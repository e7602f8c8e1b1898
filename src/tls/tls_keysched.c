/* The key schedule of a session: where the keys come from once the
 * ServerHello is in (key log, or the RSA pre-master in the
 * ClientKeyExchange, with the extended master secret), the TLS 1.2 key
 * block, and the TLS 1.3 traffic secrets per epoch and at KeyUpdate.  See
 * tls_int.h. */
#include "tls_int.h"

#include <string.h>

#include <openssl/crypto.h>

#define TLS_MASTER_LEN		48
#define TLS_MAX_KEY_BLOCK	(2 * (TLS_MAX_MAC_KEY + TLS_MAX_KEY + TLS_MAX_IV))
#define TLS_KEY_UPDATE_MAX	(1u << 20)	/* key updates per direction */

/* TLS 1.3: key and IV of one direction from its traffic secret. */
static int tls13_set_secret(struct tls_session *s, struct tls_cipher_state *cs,
			    const uint8_t *secret, size_t len)
{
	const struct tls_suite *su = s->suite;

	if (len > TLS_MAX_SECRET)
		return -1;
	memset(cs, 0, sizeof *cs);
	cs->suite = su;
	memcpy(cs->secret, secret, len);
	cs->secret_len = len;
	if (tls_hkdf_expand_label(su->prf, secret, len, "key", NULL, 0, cs->key, su->key_len) < 0 ||
	    tls_hkdf_expand_label(su->prf, secret, len, "iv", NULL, 0, cs->iv,
				  TLS_AEAD_NONCE_LEN) < 0)
		return -1;
	cs->ready = true;
	return 0;
}

static const uint8_t *logged(struct tls_session *s, enum keylog_label l, size_t *len_r)
{
	return tls_keys_find(s->keys, s->client_random, l, len_r);
}

/* TLS 1.3: switch direction d to epoch e using the logged secret. */
void tls13_enter(struct tls_session *s, enum stream_dir d, enum tls_epoch e)
{
	static const enum keylog_label lab[2][4] = {
		{ 0, KEYLOG_CLIENT_EARLY, KEYLOG_CLIENT_HS, KEYLOG_CLIENT_AP0 },
		{ 0, 0, KEYLOG_SERVER_HS, KEYLOG_SERVER_AP0 },
	};
	struct tls_dir *dd = &s->dir[d];
	const uint8_t *sec;
	size_t len;

	dd->epoch = (uint8_t)e;
	dd->encrypted = true;
	OPENSSL_cleanse(&dd->cs, sizeof dd->cs);
	sec = e == EPOCH_PLAIN ? NULL : logged(s, lab[d][e], &len);
	if (sec == NULL || tls13_set_secret(s, &dd->cs, sec, len) < 0)
		dd->cs.ready = false;
}

/* TLS 1.2: both directions' keys from the master secret; they take effect
 * at each direction's ChangeCipherSpec. */
static int tls12_keys(struct tls_session *s, const uint8_t master[TLS_MASTER_LEN])
{
	const struct tls_suite *su = s->suite;
	uint8_t seed[2 * TLS_RANDOM_LEN], kb[TLS_MAX_KEY_BLOCK];
	size_t ml = su->mac_len, kl = su->key_len, il = tls_suite_fixed_iv_len(su), o = 0;
	int d, rc;

	memcpy(seed, s->server_random, TLS_RANDOM_LEN);
	memcpy(seed + TLS_RANDOM_LEN, s->client_random, TLS_RANDOM_LEN);
	rc = tls_prf(su->prf, master, TLS_MASTER_LEN, "key expansion", seed, sizeof seed,
		     kb, 2 * (ml + kl + il));
	if (rc == 0) {
		/* client MAC, server MAC, client key, server key, client IV,
		 * server IV (RFC 5246 6.3) */
		for (d = 0; d < 2; d++) {
			struct tls_cipher_state *cs = &s->dir[d].next;

			memset(cs, 0, sizeof *cs);
			cs->suite = su;
			memcpy(cs->mac_key, kb + o + (size_t)d * ml, ml);
			memcpy(cs->key, kb + o + 2 * ml + (size_t)d * kl, kl);
			memcpy(cs->iv, kb + o + 2 * ml + 2 * kl + (size_t)d * il, il);
			cs->etm = s->etm;
			cs->ready = true;
			s->dir[d].keyed = true;
		}
		s->decrypting = true;
	}
	OPENSSL_cleanse(kb, sizeof kb);
	return rc;
}

/* TLS 1.3: each direction needs its own handshake and application traffic
 * secrets, and key logs written by one side may hold only some of them.  A
 * direction whose secrets are missing is not decrypted; the other still
 * is, and the missing labels are named once, in a notice and the reason. */
static void tls13_after_server_hello(struct tls_session *s)
{
	static const enum keylog_label need[2][2] = {
		{ KEYLOG_CLIENT_HS, KEYLOG_CLIENT_AP0 },
		{ KEYLOG_SERVER_HS, KEYLOG_SERVER_AP0 },
	};
	char missing[TLS_WHY_LEN / 2] = "";
	size_t len, used = 0;
	bool any = false;
	int d, i;

	for (d = 0; d < 2; d++) {
		s->dir[d].keyed = true;
		for (i = 0; i < 2; i++) {
			if (logged(s, need[d][i], &len) != NULL) {
				any = true;
				continue;
			}
			s->dir[d].keyed = false;
			used += (size_t)snprintf(missing + used, used < sizeof missing ?
						 sizeof missing - used : 0, "%s%s",
						 used ? " and " : "", keylog_label_name(need[d][i]));
		}
	}
	if (!any)
		return tls_give_up(s, tls_keys_have_rsa(s->keys) &&
				   tls_keys_count(s->keys) == 0 ? WHY_ECDHE : WHY_NO_ENTRY);
	if (!s->dir[DIR_C2S].keyed || !s->dir[DIR_S2C].keyed) {
		snprintf(s->why, sizeof s->why, "the key log has no %s for this client random:"
			 " %s not decrypted", missing, s->dir[DIR_C2S].keyed ? "s2c" :
			 s->dir[DIR_S2C].keyed ? "c2s" : "neither direction");
		notice(s, NOTICE_TLS_KEYS_MISSING, "TLS: %s", s->why);
		if (!s->dir[DIR_C2S].keyed && !s->dir[DIR_S2C].keyed)
			return tls_give_up(s, s->why);
	}
	s->decrypting = true;
	tls13_enter(s, DIR_S2C, EPOCH_HANDSHAKE);
	tls13_enter(s, DIR_C2S, s->early_data && !s->hrr ? EPOCH_EARLY : EPOCH_HANDSHAKE);
}

/* The ServerHello is in: decide where keys will come from. */
void tls_keysched_after_server_hello(struct tls_session *s)
{
	const uint8_t *ms;
	size_t len;

	if (s->version != TLS_VERSION_1_2 && s->version != TLS_VERSION_1_3)
		return tls_give_up(s, WHY_OLD_VERSION);
	if (s->suite == NULL || (s->suite->kx == KX_TLS13) != (s->version == TLS_VERSION_1_3))
		return tls_give_up(s, WHY_SUITE);
	if (s->keys == NULL)
		return tls_give_up(s, s->suite->kx == KX_RSA ? WHY_NO_KEYS_RSA : WHY_NO_KEYS);
	if (s->version == TLS_VERSION_1_3)
		return tls13_after_server_hello(s);
	ms = logged(s, KEYLOG_MASTER_SECRET, &len);
	if (ms != NULL) {
		if (tls12_keys(s, ms) < 0)
			tls_give_up(s, WHY_SUITE);
		return;
	}
	if (s->suite->kx != KX_RSA) {
		if (tls_keys_have_rsa(s->keys) && tls_keys_count(s->keys) == 0)
			tls_give_up(s, s->suite->kx == KX_DHE ? WHY_DHE : WHY_ECDHE);
		else
			tls_give_up(s, WHY_NO_ENTRY);
		return;
	}
	if (!tls_keys_have_rsa(s->keys))
		return tls_give_up(s, WHY_NO_RSA);
	if (s->resumed)
		return tls_give_up(s, WHY_RSA_RESUMED);
	s->want_cke = true;	/* the ClientKeyExchange will decide */
}

/* TLS 1.2 RSA key exchange: the pre-master from the ClientKeyExchange. */
void tls_keysched_rsa_client_key_exchange(struct tls_session *s, const uint8_t *body,
					  size_t n)
{
	uint8_t pms[TLS_PREMASTER_LEN], master[TLS_MASTER_LEN];
	uint8_t seed[TLS_MAX_HASH], hash[TLS_MAX_HASH];
	unsigned int hlen = 0;
	size_t elen;
	int rc = -1;

	s->keep_transcript = false;
	s->want_cke = false;
	if (n < 2 || (elen = (size_t)body[0] << 8 | body[1]) != n - 2 ||
	    tls_keys_rsa_decrypt(s->keys, body + 2, elen, pms) < 0) {
		notice(s, NOTICE_TLS_WRONG_KEY, "TLS: %s did not decrypt the pre-master secret: not this"
		       " server's key?", tls_keys_rsa_path(s->keys));
		return tls_give_up(s, WHY_RSA_FAILED);
	}
	if (s->ems) {
		/* RFC 7627: the session hash covers the handshake up to and
		 * including this ClientKeyExchange */
		if (EVP_Digest(s->transcript.data, s->transcript.len, hash, &hlen,
			       EVP_get_digestbyname(s->suite->prf), NULL) > 0)
			rc = tls_prf(s->suite->prf, pms, sizeof pms, "extended master secret",
				     hash, hlen, master, sizeof master);
	} else {
		memcpy(seed, s->client_random, TLS_RANDOM_LEN);
		memcpy(seed + TLS_RANDOM_LEN, s->server_random, TLS_RANDOM_LEN);
		rc = tls_prf(s->suite->prf, pms, sizeof pms, "master secret", seed,
			     2 * TLS_RANDOM_LEN, master, sizeof master);
	}
	if (rc == 0 && tls12_keys(s, master) == 0)
		s->from_rsa = true;
	else
		tls_give_up(s, WHY_RSA_FAILED);
	buf_free(&s->transcript);
	OPENSSL_cleanse(pms, sizeof pms);
	OPENSSL_cleanse(master, sizeof master);
}

/* TLS 1.3 KeyUpdate: the sender's next traffic secret (RFC 8446 7.2). */
void tls13_key_update(struct tls_session *s, enum stream_dir d)
{
	struct tls_cipher_state *cs = &s->dir[d].cs;
	uint8_t next[TLS_MAX_SECRET];
	size_t len = cs->secret_len;

	if (!cs->ready || ++s->dir[d].key_updates > TLS_KEY_UPDATE_MAX)
		return;
	if (tls_hkdf_expand_label(s->suite->prf, cs->secret, len, "traffic upd", NULL, 0,
				  next, len) < 0 || tls13_set_secret(s, cs, next, len) < 0) {
		cs->ready = false;
		notice(s, NOTICE_TLS_KEY_UPDATE_FAILED, "TLS: %s key update failed", stream_dir_name(d));
	}
	OPENSSL_cleanse(next, sizeof next);
}
