/* TLS record layer and handshake walking: record headers, handshake message
 * reassembly across records, and the ClientHello / ServerHello fields an
 * analyzer reports (randoms, versions, cipher suite, SNI, ALPN, resumption,
 * HelloRetryRequest).
 *
 * Nothing here decrypts; see tls/tls_decrypt.h.  Every read goes through a
 * bounds-checked cursor; slices point into the caller's buffer and live as
 * long as it does. */
#ifndef IMAPSCOPE_TLS_RECORD_H
#define IMAPSCOPE_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/parse.h"

#define TLS_RECORD_HEADER_LEN	5
#define TLS_MAX_PLAINTEXT	16384			/* 2^14 */
#define TLS_MAX_RECORD_PAYLOAD	(TLS_MAX_PLAINTEXT + 2048)	/* RFC 5246 6.2.3 */
#define TLS_HS_HEADER_LEN	4
#define TLS_MAX_HANDSHAKE_MSG	(256u * 1024)	/* certificate chains fit */
#define TLS_RANDOM_LEN		32
#define TLS_MAX_SESSION_ID	32

enum tls_content_type {
	TLS_CT_CHANGE_CIPHER_SPEC = 20,
	TLS_CT_ALERT = 21,
	TLS_CT_HANDSHAKE = 22,
	TLS_CT_APPLICATION_DATA = 23,
	TLS_CT_HEARTBEAT = 24,
};

enum tls_hs_type {
	TLS_HS_CLIENT_HELLO = 1,
	TLS_HS_SERVER_HELLO = 2,
	TLS_HS_NEW_SESSION_TICKET = 4,
	TLS_HS_END_OF_EARLY_DATA = 5,
	TLS_HS_ENCRYPTED_EXTENSIONS = 8,
	TLS_HS_CERTIFICATE = 11,
	TLS_HS_SERVER_KEY_EXCHANGE = 12,
	TLS_HS_CERTIFICATE_REQUEST = 13,
	TLS_HS_SERVER_HELLO_DONE = 14,
	TLS_HS_CERTIFICATE_VERIFY = 15,
	TLS_HS_CLIENT_KEY_EXCHANGE = 16,
	TLS_HS_FINISHED = 20,
	TLS_HS_KEY_UPDATE = 24,
};

#define TLS_VERSION_1_0	0x0301
#define TLS_VERSION_1_1	0x0302
#define TLS_VERSION_1_2	0x0303
#define TLS_VERSION_1_3	0x0304

struct tls_record_hdr {
	uint8_t type;
	uint16_t version;
	uint16_t length;
};

/* Parse a record header at p (util/parse.h's convention).  Returns
 * TLS_RECORD_HEADER_LEN (h_r filled), PARSE_MORE when fewer than 5 bytes
 * are there, or PARSE_BAD when the bytes are not a TLS record header
 * (unknown content type, version not 3.x, or length over
 * TLS_MAX_RECORD_PAYLOAD). */
int tls_record_header(const uint8_t *p, size_t n, struct tls_record_hdr *h_r) WUR;

/* Does this stream start with a TLS record?  Used to recognise a capture
 * that begins after STARTTLS.  Needs 5 bytes; the first record must be a
 * handshake, alert, change-cipher-spec or application data record. */
bool tls_looks_like_record(const uint8_t *p, size_t n);

/* The fields of a ClientHello or ServerHello. Slices point into the
 * message body passed to tls_hello_parse. */
struct tls_hello {
	uint16_t legacy_version;
	/* ClientHello: the highest version offered (supported_versions, else
	 * legacy_version).  ServerHello: the version chosen. */
	uint16_t version;
	uint8_t random[TLS_RANDOM_LEN];
	uint8_t session_id[TLS_MAX_SESSION_ID];
	uint8_t session_id_len;
	uint16_t cipher_suite;		/* ServerHello only */
	struct buf_slice sni;		/* host_name; empty if none */
	struct buf_slice alpn;		/* first offered / the selected */
	bool ticket;	/* CH: a non-empty session ticket; SH: ticket extension */
	bool psk;	/* pre_shared_key extension (TLS 1.3 resumption) */
	bool early_data;
	bool ems;	/* extended_master_secret */
	bool etm;	/* encrypt_then_mac */
	bool hrr;	/* a ServerHello that is a HelloRetryRequest */
};

/* Parse a hello message body (after the 4-byte handshake header). server
 * selects ServerHello.  Returns 0, or -1 when malformed. */
int tls_hello_parse(const uint8_t *body, size_t n, bool server,
		    struct tls_hello *h_r) WUR;

/* The ALPN protocol in a TLS 1.3 EncryptedExtensions body: 1 with
 * *alpn_r (a slice into body), 0 when absent, -1 when malformed. */
int tls_encrypted_extensions_alpn(const uint8_t *body, size_t n,
				  struct buf_slice *alpn_r) WUR;

/* Handshake messages may span records and records may hold several
 * messages: this joins the handshake bytes of one direction. */
struct tls_hs_reasm {
	struct buf b;
};

void tls_hs_init(struct tls_hs_reasm *r, struct mem_budget *budget);
void tls_hs_free(struct tls_hs_reasm *r);
/* Add handshake record content.  -1 when over TLS_MAX_HANDSHAKE_MSG or the
 * budget (the bytes are dropped). */
int tls_hs_append(struct tls_hs_reasm *r, const uint8_t *p, size_t n) WUR;
/* The next complete message (util/parse.h's convention): its length with
 * *type_r, *msg_r (header included; valid until the next tls_hs_ call),
 * PARSE_MORE when incomplete, PARSE_BAD when the announced length is over
 * TLS_MAX_HANDSHAKE_MSG.  Call tls_hs_pop after use. */
int tls_hs_next(struct tls_hs_reasm *r, uint8_t *type_r, struct buf_slice *msg_r) WUR;
void tls_hs_pop(struct tls_hs_reasm *r);

/* "TLS 1.2" etc., "SSL 3.0", or "unknown". */
const char *tls_version_name(uint16_t version);

#endif
