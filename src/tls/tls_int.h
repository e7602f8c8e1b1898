/* Private declarations shared by the TLS decryption modules: the cipher
 * suite table (tls_suites.c), key derivation (tls_kdf.c), record protection
 * (tls_cipher.c), the key schedule of a session (tls_keysched.c), handshake
 * tracking (tls_handshake.c) and the session driver (tls_decrypt.c).  The
 * public interface is tls/tls_decrypt.h. */
#ifndef IMAPSCOPE_TLS_INT_H
#define IMAPSCOPE_TLS_INT_H

#include "tls/tls_decrypt.h"
#include "util/notice.h"

#include <openssl/evp.h>

#define TLS_MAX_KEY		32
#define TLS_MAX_IV		16
#define TLS_MAX_MAC_KEY		48
#define TLS_MAX_SECRET		48	/* SHA-384 */
#define TLS_AEAD_NONCE_LEN	12
#define TLS_CBC_BLOCK		16
#define TLS_MAX_HASH		64
#define TLS_NAME_LEN		64	/* the longest IANA suite name fits */
#define TLS_MAX_NAME		256	/* SNI and ALPN kept per session */
#define TLS_WHY_LEN		256	/* a reason naming missing key log labels */

/* ---- cipher suites ---------------------------------------------------- */

enum tls_kx { KX_RSA, KX_ECDHE, KX_DHE, KX_TLS13 };
enum tls_mode { MODE_GCM, MODE_CCM, MODE_CCM8, MODE_CHACHA, MODE_CBC };

struct tls_suite {
	uint16_t id;
	const char *name;
	uint8_t kx;		/* enum tls_kx */
	uint8_t mode;		/* enum tls_mode */
	uint8_t key_len;
	const char *prf;	/* PRF / HKDF digest */
	const char *mac;	/* CBC HMAC digest, or NULL for AEAD */
	uint8_t mac_len;
};

/* NULL when the suite is not in the table. */
const struct tls_suite *tls_suite_find(uint16_t id);
const EVP_CIPHER *tls_suite_cipher(const struct tls_suite *su);
size_t tls_suite_tag_len(const struct tls_suite *su);
size_t tls_suite_fixed_iv_len(const struct tls_suite *su);

/* ---- record protection -------------------------------------------------- */

/* The keys of one direction for the current epoch. */
struct tls_cipher_state {
	const struct tls_suite *suite;
	uint8_t key[TLS_MAX_KEY];
	uint8_t iv[TLS_MAX_IV];		/* TLS 1.2 fixed IV, TLS 1.3 static IV */
	uint8_t mac_key[TLS_MAX_MAC_KEY];
	uint8_t secret[TLS_MAX_SECRET];	/* TLS 1.3 traffic secret */
	size_t secret_len;
	uint64_t seq;
	bool etm;			/* TLS 1.2 CBC: encrypt-then-MAC */
	bool ready;
};

/* A cipher context that remembers the key it holds: a GCM or ChaCha20
 * record under the same key needs only its nonce.  Setting the key each
 * time (the AES key schedule, and OpenSSL 3 fetching the cipher again)
 * cost more than decrypting the record.  cipher is NULL when nothing
 * reusable is loaded. */
struct tls_cx {
	EVP_CIPHER_CTX *cx;
	const EVP_CIPHER *cipher;
	uint8_t key[TLS_MAX_KEY];
};

/* TLS 1.2 CBC, RFC 5246 6.2.3.2 (MAC-then-encrypt) or RFC 7366
 * (encrypt-then-MAC).  Returns the plaintext length or -1. */
long tls12_open_cbc(struct tls_cx *cx, const struct tls_cipher_state *cs,
		    bool etm, const struct tls_record_hdr *h,
		    const uint8_t *p, size_t n, uint8_t *out);
/* TLS 1.2 AEAD record: returns the plaintext length or -1. */
long tls12_open_aead(struct tls_cx *cx, const struct tls_cipher_state *cs,
		     const struct tls_record_hdr *h, const uint8_t *p,
		     size_t n, uint8_t *out);
/* TLS 1.3 record (RFC 8446 5.2): returns the inner plaintext length, with
 * the inner content type in *type_r, or -1. */
long tls13_open(struct tls_cx *cx, const struct tls_cipher_state *cs,
		const uint8_t hdr[TLS_RECORD_HEADER_LEN], const uint8_t *p,
		size_t n, uint8_t *out, uint8_t *type_r);

/* ---- the session --------------------------------------------------------- */

enum tls_epoch { EPOCH_PLAIN, EPOCH_EARLY, EPOCH_HANDSHAKE, EPOCH_APP };

struct tls_dir {
	struct tls_cx cx;		/* one a direction: each keeps its key */
	struct buf rec;			/* an incomplete record */
	struct tls_hs_reasm hs;
	struct tls_cipher_state cs;
	struct tls_cipher_state next;	/* TLS 1.2: keys waiting for CCS */
	uint8_t epoch;			/* enum tls_epoch */
	bool encrypted;			/* records are protected from here on */
	bool keyed;			/* the keys of this direction are known */
	bool lost;			/* after a gap: looking for a header */
	bool candidate;			/* lost, but a plausible header is next */
	unsigned failed_candidates;	/* in a row, while lost */
	bool dead;			/* not TLS any more: only counted */
	bool dead_gap_sent;		/* the first bytes after it went up as a gap */
	uint64_t dead_bytes;		/* the rest, one gap at the end */
	uint64_t skip;			/* rest of a record cut by a gap */
	uint64_t key_updates;
};

enum tls_outcome { OUTCOME_PENDING, OUTCOME_REPORTED };

struct tls_session {
	const struct tls_keys *keys;
	struct tls_hooks hooks;
	struct mem_budget *budget;
	struct tls_dir dir[2];
	struct tls_stats st;

	bool seen_ch, seen_sh, hrr, resumed, ems, etm, early_data;
	bool gap_seen;			/* bytes were lost in either direction */
	uint8_t client_random[TLS_RANDOM_LEN], server_random[TLS_RANDOM_LEN];
	uint8_t ch_sid[TLS_MAX_SESSION_ID];
	uint8_t ch_sid_len;
	uint16_t version, cipher_id;
	const struct tls_suite *suite;
	uint8_t sni[TLS_MAX_NAME], alpn[TLS_MAX_NAME];
	size_t sni_len, alpn_len;
	char cipher_name[TLS_NAME_LEN];

	/* RSA key exchange: the handshake so far, for the EMS session hash */
	struct buf transcript;
	bool keep_transcript;
	bool want_cke;			/* the ClientKeyExchange gives the keys */
	bool from_rsa;			/* keys came from the RSA key */

	uint8_t outcome;		/* enum tls_outcome */
	bool decrypting;		/* keys derived and not refuted */
	const char *reason;		/* why not, once known */
	char why[TLS_WHY_LEN];		/* a reason made for this session */

	uint8_t out[TLS_MAX_RECORD_PAYLOAD];
};

/* Reasons shown to the user: each says what to do. */
#define WHY_NO_KEYS	"no keys given: use -k KEYLOG"
#define WHY_NO_KEYS_RSA	"no keys given: use -k KEYLOG, or --rsa-key with the server's key (RSA key exchange)"
#define WHY_NO_ENTRY	"no key log entry for this client random"
#define WHY_NO_RSA	"RSA key exchange needed but no --rsa-key"
#define WHY_ECDHE	"ECDHE: an RSA key cannot decrypt this; provide a key log"
#define WHY_DHE		"DHE: an RSA key cannot decrypt this; provide a key log"
#define WHY_RSA_RESUMED	"resumed session: the RSA key alone cannot decrypt it; provide a key log"
#define WHY_RSA_FAILED	"the RSA key did not decrypt the pre-master secret: not this server's key?"
#define WHY_RSA_OTHER	"the RSA key is not this server's: its certificate holds another public key"
#define WHY_BAD_KEYS	"the keys do not decrypt this session (wrong key log entry or RSA key?)"
#define WHY_OLD_VERSION	"only TLS 1.2 and 1.3 can be decrypted"
#define WHY_SUITE	"this cipher suite cannot be decrypted"
#define WHY_MIDSTREAM	"the capture starts after the TLS handshake: keys cannot be matched"
#define WHY_INCOMPLETE	"the handshake is incomplete in the capture"
#define WHY_LOST	"a gap in the capture hid the handshake"
#define WHY_NO_SH	"application data came before any ServerHello: not a complete TLS handshake"

#define notice(s, kind, ...) notice_send((s)->hooks.notice, (s)->hooks.ctx, (kind), __VA_ARGS__)

/* Keys are known to be missing or wrong: report, and stop decrypting. */
void tls_give_up(struct tls_session *s, const char *reason);

/* The key schedule (tls_keysched.c). */
/* TLS 1.3: switch direction d to epoch e using the logged secret. */
void tls13_enter(struct tls_session *s, enum stream_dir d, enum tls_epoch e);
/* TLS 1.3 KeyUpdate: the sender's next traffic secret (RFC 8446 7.2). */
void tls13_key_update(struct tls_session *s, enum stream_dir d);
/* The ServerHello is in: decide where keys will come from. */
void tls_keysched_after_server_hello(struct tls_session *s);
/* TLS 1.2 RSA key exchange: the pre-master from the ClientKeyExchange. */
void tls_keysched_rsa_client_key_exchange(struct tls_session *s, const uint8_t *body,
					  size_t n);

/* Handshake tracking (tls_handshake.c): the content of handshake records,
 * plain or decrypted, of direction d. */
void tls_handshake_bytes(struct tls_session *s, enum stream_dir d,
			 const uint8_t *p, size_t n);

#endif
