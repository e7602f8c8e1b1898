/* TLS session decryption: see tls/tls_decrypt.h.
 *
 * The session driver: records per direction, gaps and resynchronisation,
 * and the handshake report.  The cipher suite table is in tls_suites.c, key
 * derivation in tls_kdf.c, record protection in tls_cipher.c, the key
 * schedule in tls_keysched.c and handshake tracking in tls_handshake.c. */
#include "tls_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define TLS_TRANSCRIPT_MAX	(TLS_MAX_HANDSHAKE_MSG * 2)	/* EMS session hash */
#define TLS_ALERT_CLOSE_NOTIFY	0

static void report(struct tls_session *s, bool decrypted, const char *reason)
{
	struct tls_info info;

	if (s->outcome == OUTCOME_REPORTED)
		return;
	s->outcome = OUTCOME_REPORTED;
	s->decrypting = decrypted;
	s->reason = reason;
	memset(&info, 0, sizeof info);
	info.version_id = s->seen_sh ? s->version : 0;
	info.version = tls_version_name(info.version_id);
	info.cipher_id = s->cipher_id;
	info.cipher = s->seen_sh ? s->cipher_name : "unknown";
	info.sni.ptr = s->sni;
	info.sni.len = s->sni_len;
	info.alpn.ptr = s->alpn;
	info.alpn.len = s->alpn_len;
	for (int d = 0; d < 2; d++)
		info.decrypted_dir[d] = decrypted && s->dir[d].keyed;
	info.decrypted = info.decrypted_dir[DIR_C2S] && info.decrypted_dir[DIR_S2C];
	info.reason = info.decrypted ? NULL : reason != NULL ? reason : s->why;
	info.resumed = s->resumed;
	info.hrr = s->hrr;
	if (s->hooks.handshake != NULL)
		s->hooks.handshake(s->hooks.ctx, &info);
}

/* Keys are known to be missing or wrong: report, and stop decrypting. */
void tls_give_up(struct tls_session *s, const char *reason)
{
	s->decrypting = false;
	report(s, false, reason);
}

static void emit_gap(struct tls_session *s, enum stream_dir d, uint64_t n, int64_t ts)
{
	if (s->decrypting && s->dir[d].keyed && n > 0 && s->hooks.gap != NULL)
		s->hooks.gap(s->hooks.ctx, d, n, ts);
}

struct tls_session *tls_session_new(const struct tls_keys *keys,
				    const struct tls_hooks *hooks,
				    struct mem_budget *budget)
{
	struct tls_session *s;
	int d;

	/* 20 KB a session, on every flow to an implicit-TLS port: charged, so
	 * that --max-memory bounds 65536 of them too. */
	if (mem_charge(budget, sizeof *s) != 0)
		return NULL;
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		mem_release(budget, sizeof *s);
		return NULL;
	}
	s->dir[0].cx.cx = EVP_CIPHER_CTX_new();
	s->dir[1].cx.cx = EVP_CIPHER_CTX_new();
	if (s->dir[0].cx.cx == NULL || s->dir[1].cx.cx == NULL) {
		EVP_CIPHER_CTX_free(s->dir[0].cx.cx);
		EVP_CIPHER_CTX_free(s->dir[1].cx.cx);
		free(s);
		mem_release(budget, sizeof *s);
		return NULL;
	}
	s->keys = keys;
	s->hooks = *hooks;
	s->budget = budget;
	for (d = 0; d < 2; d++) {
		buf_init(&s->dir[d].rec, TLS_RECORD_HEADER_LEN + TLS_MAX_RECORD_PAYLOAD, budget);
		tls_hs_init(&s->dir[d].hs, budget);
	}
	buf_init(&s->transcript, TLS_TRANSCRIPT_MAX, budget);
	return s;
}

void tls_session_free(struct tls_session **sp)
{
	struct tls_session *s;
	int d;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	for (d = 0; d < 2; d++) {
		buf_free(&s->dir[d].rec);
		tls_hs_free(&s->dir[d].hs);
		EVP_CIPHER_CTX_free(s->dir[d].cx.cx);
	}
	buf_free(&s->transcript);
	mem_release(s->budget, sizeof *s);
	OPENSSL_cleanse(s, sizeof *s);	/* keys, secrets and plaintext */
	free(s);
	*sp = NULL;
}

void tls_session_stats(const struct tls_session *s, struct tls_stats *st_r)
{
	*st_r = s->st;
}

/* ---- records --------------------------------------------------------------- */

static void on_alert(struct tls_session *s, enum stream_dir d, const uint8_t *p, size_t n)
{
	if (n >= 2 && p[1] != TLS_ALERT_CLOSE_NOTIFY)
		notice(s, NOTICE_TLS_ALERT, "TLS: %s alert, level %u description %u", stream_dir_name(d), p[0], p[1]);
}

/* Content that came out of a record (plain or decrypted). */
static void on_content(struct tls_session *s, enum stream_dir d, uint8_t type,
		       const uint8_t *p, size_t n, int64_t ts)
{
	switch (type) {
	case TLS_CT_HANDSHAKE:
		tls_handshake_bytes(s, d, p, n);
		break;
	case TLS_CT_ALERT:
		on_alert(s, d, p, n);
		break;
	case TLS_CT_APPLICATION_DATA:
		s->st.plaintext[d] += n;
		if (n > 0 && s->hooks.plaintext != NULL)
			s->hooks.plaintext(s->hooks.ctx, d, p, n, ts);
		break;
	default:
		break;
	}
}

/* Open one protected record with cs; the plaintext length or -1. */
static long open_record(struct tls_session *s, struct tls_dir *dd,
			struct tls_cipher_state *cs, const uint8_t *rec, size_t n,
			const struct tls_record_hdr *h, uint8_t *type_r)
{
	const uint8_t *p = rec + TLS_RECORD_HEADER_LEN;

	n -= TLS_RECORD_HEADER_LEN;
	*type_r = h->type;
	if (s->version == TLS_VERSION_1_3)
		return tls13_open(&dd->cx, cs, rec, p, n, s->out, type_r);
	if (cs->suite->mode == MODE_CBC)
		return tls12_open_cbc(&dd->cx, cs, cs->etm, h, p, n, s->out);
	return tls12_open_aead(&dd->cx, cs, h, p, n, s->out);
}

static void dir_dead(struct tls_session *s, enum stream_dir d, const char *why);

/* Try the record with the current sequence number, then, after a gap, a
 * few later ones; in TLS 1.3 a handshake-epoch failure also tries the
 * application keys (the Finished may have been lost). */
static long try_open(struct tls_session *s, enum stream_dir d, const uint8_t *rec,
		     size_t n, const struct tls_record_hdr *h, uint8_t *type_r, bool resync)
{
	struct tls_dir *dd = &s->dir[d];
	uint64_t base = dd->cs.seq, k, tries = resync ? TLS_RESYNC_MAX_SEQ : 1;
	long len;

	for (k = 0; dd->cs.ready && k < tries; k++) {
		dd->cs.seq = base + k;
		len = open_record(s, dd, &dd->cs, rec, n, h, type_r);
		if (len >= 0)
			return len;
	}
	dd->cs.seq = base;
	if (s->version == TLS_VERSION_1_3 && !resync &&
	    (dd->epoch == EPOCH_HANDSHAKE || dd->epoch == EPOCH_EARLY)) {
		struct tls_cipher_state saved = dd->cs;
		uint8_t epoch = dd->epoch;

		tls13_enter(s, d, epoch == EPOCH_EARLY ? EPOCH_HANDSHAKE : EPOCH_APP);
		if (dd->cs.ready && (len = open_record(s, dd, &dd->cs, rec, n, h, type_r)) >= 0) {
			OPENSSL_cleanse(&saved, sizeof saved);
			return len;
		}
		dd->cs = saved;
		dd->epoch = epoch;
		OPENSSL_cleanse(&saved, sizeof saved);
	}
	return -1;
}

static void protected_record(struct tls_session *s, enum stream_dir d, const uint8_t *rec,
			     size_t n, const struct tls_record_hdr *h, int64_t ts,
			     bool resync)
{
	struct tls_dir *dd = &s->dir[d];
	size_t plen = n - TLS_RECORD_HEADER_LEN;
	uint8_t type;
	long len;

	if (!s->decrypting || (!dd->cs.ready && dd->epoch != EPOCH_EARLY))
		return;
	len = try_open(s, d, rec, n, h, &type, resync);
	if (len < 0 && (resync || dd->epoch == EPOCH_EARLY)) {
		/* not a failure of the keys: a false resync candidate, or 0-RTT
		 * data whose key was not logged */
		emit_gap(s, d, plen, ts);
		if (resync && ++dd->failed_candidates >= TLS_RESYNC_MAX_CANDIDATES) {
			char why[96];

			snprintf(why, sizeof why, "has no record that decrypts after the gap"
				 " (%d tried)", TLS_RESYNC_MAX_CANDIDATES);
			dir_dead(s, d, why);
		}
		return;
	}
	if (len < 0) {
		s->st.bad_records[d]++;
		if (s->outcome == OUTCOME_PENDING) {
			tls_give_up(s, s->from_rsa ? WHY_RSA_FAILED : WHY_BAD_KEYS);
			return;
		}
		notice(s, NOTICE_TLS_AUTH_FAILED, "TLS: %s record %" PRIu64 " failed authentication; %zu bytes skipped",
		       stream_dir_name(d), dd->cs.seq, plen);
		emit_gap(s, d, plen, ts);
		dd->cs.seq++;
		return;
	}
	dd->cs.seq++;
	dd->lost = false;
	dd->failed_candidates = 0;
	/* the handshake is reported before any plaintext, but after the
	 * first decrypted handshake record (TLS 1.3 ALPN is in it) */
	if (type == TLS_CT_APPLICATION_DATA)
		report(s, true, NULL);
	on_content(s, d, type, s->out, (size_t)len, ts);
	report(s, true, NULL);
	/* explicit_bzero is a vector memset the compiler keeps; OPENSSL_cleanse
	 * went a byte at a time, 7% of a TLS run */
	explicit_bzero(s->out, (size_t)len);
}

static void change_cipher_spec(struct tls_session *s, enum stream_dir d)
{
	struct tls_dir *dd = &s->dir[d];

	/* TLS 1.3 middlebox compatibility records (RFC 8446 D.4) come after
	 * the ServerHello or a HelloRetryRequest, and change nothing */
	if (s->version == TLS_VERSION_1_3 || !s->seen_sh)
		return;
	if (dd->encrypted && !dd->next.ready) {
		/* a renegotiation whose keys are unknown */
		if (dd->cs.ready)
			notice(s, NOTICE_TLS_RENEGOTIATED, "TLS: %s renegotiated without keys; not decrypted further",
			       stream_dir_name(d));
		dd->cs.ready = false;
		return;
	}
	dd->encrypted = true;
	dd->epoch = EPOCH_APP;
	dd->cs = dd->next;
	dd->cs.seq = 0;
	OPENSSL_cleanse(&dd->next, sizeof dd->next);
}

static void on_record(struct tls_session *s, enum stream_dir d, const uint8_t *rec,
		      size_t n, const struct tls_record_hdr *h, int64_t ts, bool resync)
{
	struct tls_dir *dd = &s->dir[d];
	const uint8_t *p = rec + TLS_RECORD_HEADER_LEN;

	s->st.records[d]++;
	if (h->type == TLS_CT_APPLICATION_DATA)
		s->st.app_records[d]++;
	if (h->type == TLS_CT_CHANGE_CIPHER_SPEC)
		return change_cipher_spec(s, d);
	if (dd->encrypted && !(s->version == TLS_VERSION_1_3 && h->type == TLS_CT_ALERT &&
			       n - TLS_RECORD_HEADER_LEN == 2))
		return protected_record(s, d, rec, n, h, ts, resync);
	if (h->type == TLS_CT_APPLICATION_DATA) {
		if (!s->seen_sh && s->outcome == OUTCOME_PENDING)
			tls_give_up(s, !s->seen_ch ? WHY_MIDSTREAM :
				       s->gap_seen ? WHY_LOST : WHY_NO_SH);
		return;
	}
	on_content(s, d, h->type, p, n - TLS_RECORD_HEADER_LEN, ts);
}

/* ---- byte input ------------------------------------------------------------ */

/* After a gap: find something that looks like the next protected record
 * header.  Returns the offset in p, or n when there is none.  A header cut
 * by the end of p is not found; the next few bytes lost that way only cost
 * one more record. */
static size_t resync_scan(struct tls_session *s, const uint8_t *p, size_t n)
{
	struct tls_record_hdr h;
	uint16_t want = s->version == TLS_VERSION_1_3 ? TLS_VERSION_1_2 : s->version;
	size_t i;

	for (i = 0; i + TLS_RECORD_HEADER_LEN <= n; i++) {
		if (tls_record_header(p + i, n - i, &h) > 0 && h.version == want &&
		    h.type == TLS_CT_APPLICATION_DATA && h.length > 0)
			return i;
	}
	return n;
}

/* Append to the record buffer until the record is whole; returns the bytes
 * used, and sets *done when a record is complete in dd->rec. */
static size_t record_fill(struct tls_session *s, enum stream_dir d, const uint8_t *p,
			  size_t n, bool *done)
{
	struct tls_dir *dd = &s->dir[d];
	struct tls_record_hdr h;
	size_t want = TLS_RECORD_HEADER_LEN, take;

	*done = false;
	if (dd->rec.len >= TLS_RECORD_HEADER_LEN) {
		if (tls_record_header(dd->rec.data, dd->rec.len, &h) <= 0)
			return 0;
		want += h.length;
	}
	take = want - dd->rec.len < n ? want - dd->rec.len : n;
	if (buf_append(&dd->rec, p, take) < 0)
		return 0;
	if (dd->rec.len == TLS_RECORD_HEADER_LEN && want == TLS_RECORD_HEADER_LEN) {
		if (tls_record_header(dd->rec.data, dd->rec.len, &h) <= 0)
			return take;	/* caught by the caller */
		*done = h.length == 0;
		return take;
	}
	*done = dd->rec.len == want;
	return take;
}

static void dir_dead(struct tls_session *s, enum stream_dir d, const char *why)
{
	struct tls_dir *dd = &s->dir[d];

	dd->dead = true;
	buf_free(&dd->rec);
	notice(s, NOTICE_TLS_UNDECODABLE, "TLS: %s %s; the rest of this direction is not decoded", stream_dir_name(d), why);
	if (s->outcome == OUTCOME_PENDING)
		tls_give_up(s, WHY_INCOMPLETE);
}

/* What a given-up direction carries is lost to the layer above: the first
 * bytes as a gap at once, the rest summed into one gap at the end rather
 * than a gap a packet. */
static void dead_bytes(struct tls_session *s, enum stream_dir d, size_t n, int64_t ts)
{
	struct tls_dir *dd = &s->dir[d];

	if (!dd->dead_gap_sent) {
		dd->dead_gap_sent = true;
		emit_gap(s, d, n, ts);
	} else {
		dd->dead_bytes += n;
	}
}

void tls_session_feed(struct tls_session *s, enum stream_dir d, const uint8_t *p,
		      size_t n, int64_t ts_us)
{
	struct tls_dir *dd = &s->dir[d];
	struct tls_record_hdr h;
	size_t used;
	bool done, resync;

	s->st.bytes[d] += n;
	if (dd->dead)
		return dead_bytes(s, d, n, ts_us);
	while (n > 0 && !dd->dead) {
		if (dd->skip > 0) {
			used = dd->skip < n ? (size_t)dd->skip : n;
			dd->skip -= used;
		} else if (dd->lost && !dd->candidate && dd->rec.len == 0) {
			/* skip to something that looks like a record header; the
			 * record itself then decides (decrypted, or dropped) */
			used = resync_scan(s, p, n);
			dd->candidate = used < n;
		} else {
			used = record_fill(s, d, p, n, &done);
			if (dd->rec.len >= TLS_RECORD_HEADER_LEN &&
			    tls_record_header(dd->rec.data, dd->rec.len, &h) <= 0) {
				dir_dead(s, d, "stream is not TLS records");
				break;
			}
			if (used == 0) {
				dir_dead(s, d, "record buffer over the memory limit");
				break;
			}
			if (done) {
				resync = dd->lost;
				dd->candidate = false;
				if (resync && !s->decrypting)
					dd->lost = false;	/* nothing to verify with */
				on_record(s, d, dd->rec.data, dd->rec.len, &h, ts_us, resync);
				buf_reset(&dd->rec);
			}
		}
		p += used;
		n -= used;
	}
	if (dd->dead && n > 0)
		dead_bytes(s, d, n, ts_us);
}

void tls_session_gap(struct tls_session *s, enum stream_dir d, uint64_t nbytes,
		     int64_t ts_us)
{
	struct tls_dir *dd = &s->dir[d];
	struct tls_record_hdr h;
	uint64_t rest;

	if (dd->dead || nbytes == 0)
		return;
	s->gap_seen = true;
	if (dd->skip > 0) {
		rest = dd->skip;
		dd->skip = nbytes < rest ? rest - nbytes : 0;
		if (nbytes <= rest)
			return;
		nbytes -= rest;
	} else if (dd->rec.len >= TLS_RECORD_HEADER_LEN &&
		   tls_record_header(dd->rec.data, dd->rec.len, &h) > 0) {
		/* the gap starts inside a record whose length we know: drop it
		 * and, if the gap ends inside it too, stay in step */
		rest = (uint64_t)TLS_RECORD_HEADER_LEN + h.length - dd->rec.len;
		buf_reset(&dd->rec);
		s->st.records[d]++;
		if (dd->encrypted) {
			dd->cs.seq++;
			emit_gap(s, d, h.length, ts_us);
		}
		if (nbytes <= rest) {
			dd->skip = rest - nbytes;
			return;
		}
		nbytes -= rest;
	}
	buf_reset(&dd->rec);
	buf_reset(&dd->hs.b);
	dd->lost = true;
	notice(s, NOTICE_TLS_RESYNC, "TLS: %s lost %" PRIu64 " bytes at a record boundary; looking for the next record",
	       stream_dir_name(d), nbytes);
	emit_gap(s, d, nbytes, ts_us);
}

void tls_session_end(struct tls_session *s, int64_t ts_us)
{
	for (int d = 0; d < 2; d++) {
		emit_gap(s, (enum stream_dir)d, s->dir[d].dead_bytes, ts_us);
		s->dir[d].dead_bytes = 0;
	}
	if (s->outcome == OUTCOME_PENDING)
		report(s, false, !s->seen_ch ? WHY_MIDSTREAM : WHY_INCOMPLETE);
}
