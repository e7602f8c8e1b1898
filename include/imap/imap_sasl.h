/* SASL decoding for IMAP AUTHENTICATE: who is logging in, and with what.
 *
 * The session model hands each server challenge ("+ ...") and each client
 * response of one AUTHENTICATE exchange to a struct imap_sasl; it decodes
 * the base64 and takes the user name (and the secret, for --show-secrets)
 * from the mechanism's messages:
 *
 *   PLAIN        authzid NUL authcid NUL passwd      user = authcid (or authzid
 *                                                    when authcid is empty),
 *                                                    authzid when it differs
 *   LOGIN        "Username:" -> user, "Password:" -> secret
 *   XOAUTH2      user=U ^A auth=Bearer T ^A ^A
 *   OAUTHBEARER  n,a=U, ^A ... auth=Bearer T ^A ^A
 *   CRAM-MD5     "U hexdigest"
 *   DIGEST-MD5   username="U",realm=...,response=...  (RFC 2831)
 *   SCRAM-*      n,[a=Z],n=U,r=nonce  (=2C and =3D unescaped; Z the authzid)
 *   NTLM         type 3 message: DOMAIN\user, UTF-16LE or OEM
 *   GSSAPI, EXTERNAL and others: the mechanism only.
 *
 * All inputs are wire data {ptr,len}; nothing here needs NUL termination. */
#ifndef IMAPSCOPE_IMAP_SASL_H
#define IMAPSCOPE_IMAP_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define IMAP_SASL_MAX_MECH   32		/* longest mechanism name kept */
#define IMAP_SASL_MAX_MSG    (64 * 1024) /* decoded bytes of one message */
#define IMAP_SASL_MAX_USER   1024	/* bytes of user name kept */
#define IMAP_SASL_MAX_SECRET 8192	/* bytes of secret kept */

enum imap_sasl_mech {
	IMAP_SASL_OTHER = 0,
	IMAP_SASL_PLAIN,
	IMAP_SASL_LOGIN,
	IMAP_SASL_XOAUTH2,
	IMAP_SASL_OAUTHBEARER,
	IMAP_SASL_CRAM_MD5,
	IMAP_SASL_DIGEST_MD5,
	IMAP_SASL_SCRAM,	/* SCRAM-SHA-1, SCRAM-SHA-256, -PLUS, ... */
	IMAP_SASL_NTLM,
	IMAP_SASL_GSSAPI,
	IMAP_SASL_EXTERNAL,
};

/* The mechanism a name (any case) stands for. */
enum imap_sasl_mech imap_sasl_mech_from_name(const uint8_t *p, size_t n);

/* Decode base64 p..n (trailing CR/LF/space ignored; missing padding
 * tolerated) and append the bytes to out.  0, or -1 if p is not base64 or
 * out could not grow (out is then unchanged). */
int imap_sasl_b64decode(struct buf *out, const uint8_t *p, size_t n) WUR;

/* One decoded client message of mechanism mech: put the user name
 * (authentication identity) in user_r, the authorization identity in
 * authzid_r and the secret (password, token, digest) in secret_r when the
 * message carries them.  Returns a bit set of IMAP_SASL_GOT_USER,
 * IMAP_SASL_GOT_AUTHZID and IMAP_SASL_GOT_SECRET (0: nothing found, not an
 * error).  LOGIN is not handled here (it needs the challenge); see struct
 * imap_sasl. */
#define IMAP_SASL_GOT_USER    1
#define IMAP_SASL_GOT_SECRET  2
#define IMAP_SASL_GOT_AUTHZID 4
int imap_sasl_decode_client(enum imap_sasl_mech mech, const uint8_t *p, size_t n,
			    struct buf *user_r, struct buf *authzid_r, struct buf *secret_r);

/* UTF-16LE p..n to UTF-8, appended to out; unpaired surrogates become
 * U+FFFD.  0, or -1 if out could not grow. */
int imap_sasl_utf16le_to_utf8(struct buf *out, const uint8_t *p, size_t n) WUR;

/* The state of one AUTHENTICATE exchange.  Embedded by the caller. */
struct imap_sasl {
	enum imap_sasl_mech mech;
	char mech_name[IMAP_SASL_MAX_MECH + 1];	/* upper case, NUL-terminated */
	unsigned responses;		/* client responses seen */
	bool want_user;			/* LOGIN: the last challenge asked for it */
	bool want_secret;		/* LOGIN: the last challenge asked for it */
	bool cancelled;			/* the client sent "*" */
	bool have_user;
	bool have_authzid;
	bool have_secret;
	struct buf user;		/* valid when have_user */
	struct buf authzid;		/* valid when have_authzid */
	struct buf secret;		/* valid when have_secret */
	struct buf scratch;		/* decoded message */
};

/* Start an exchange for mechanism name mech..mech_len (wire bytes). */
void imap_sasl_init(struct imap_sasl *s, const uint8_t *mech, size_t mech_len,
		    struct mem_budget *budget);
/* A server challenge: the text after "+ " (base64, possibly empty). */
void imap_sasl_challenge(struct imap_sasl *s, const uint8_t *p, size_t n);
/* A client response (or the SASL-IR initial response): base64, "*" to
 * cancel, "=" for an empty response.  Returns the IMAP_SASL_GOT_* bits of
 * what this response carried (read with the getters below), 0 if nothing. */
int imap_sasl_response(struct imap_sasl *s, const uint8_t *p, size_t n);
/* The user name found so far; ptr NULL if none. Valid until the next call
 * on s. */
struct buf_slice imap_sasl_user(const struct imap_sasl *s);
/* The authorization identity, when the client asked for one other than
 * the user; ptr NULL if none. */
struct buf_slice imap_sasl_authzid(const struct imap_sasl *s);
/* The secret found so far; ptr NULL if none. */
struct buf_slice imap_sasl_secret(const struct imap_sasl *s);
void imap_sasl_free(struct imap_sasl *s);

#endif
