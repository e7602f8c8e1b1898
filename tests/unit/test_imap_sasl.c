/* SASL decoding: base64 edge cases and the user name of each mechanism,
 * from messages shaped like the ones real clients send. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>

#include "imap/imap_sasl.h"

#define S(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

static void assert_slice(struct buf_slice s, const char *want)
{
	assert_non_null(s.ptr);
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal(s.ptr, want, s.len);
}

/* Base64 of p..n into out (NUL-terminated), as a client would send it. */
static void b64(char *out, size_t cap, const uint8_t *p, size_t n)
{
	assert_true((n + 2) / 3 * 4 + 1 <= cap);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

static void test_b64(void **state)
{
	static const struct {
		const char *in;
		int ret;
		const char *out;
	} cases[] = {
		{ "", 0, "" },
		{ "YQ==", 0, "a" },
		{ "YWI=", 0, "ab" },
		{ "YWJj", 0, "abc" },
		{ "YWJjZA", 0, "abcd" },	/* padding left off */
		{ "YWJjZGU", 0, "abcde" },
		{ "YWJj\r\n", 0, "abc" },
		{ "YQ=", -1, NULL },		/* wrong padding length */
		{ "Y=Q=", -1, NULL },		/* '=' inside */
		{ "YWJjZ", -1, NULL },		/* one spare character */
		{ "YW Jj", -1, NULL },
		{ "YWJj===", -1, NULL },
		{ "*", -1, NULL },
		{ "YWJj=", -1, NULL },
	};
	struct buf out;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_init(&out, 100, NULL);
		assert_int_equal(imap_sasl_b64decode(&out, (const uint8_t *)cases[i].in,
						     strlen(cases[i].in)), cases[i].ret);
		if (cases[i].ret == 0) {
			assert_int_equal(out.len, strlen(cases[i].out));
			if (out.len)
				assert_memory_equal(out.data, cases[i].out, out.len);
		} else {
			assert_int_equal(out.len, 0);
		}
		buf_free(&out);
	}
}

/* Every byte value at every position of the group, and every length of
 * a tail, decode back to what libcrypto encoded (the decoder is imap/'s
 * own, so that imap/ needs no OpenSSL). */
static void test_b64_round_trip(void **state)
{
	uint8_t in[64], enc[100];
	struct buf out;

	(void)state;
	for (size_t n = 0; n <= sizeof in; n++) {
		for (unsigned v = 0; v < 256; v += 7) {
			int len;

			for (size_t i = 0; i < n; i++)
				in[i] = (uint8_t)(v + i * 37);
			len = EVP_EncodeBlock(enc, in, (int)n);
			for (int strip = 0; strip < 2; strip++) {
				size_t m = (size_t)len;

				while (strip && m > 0 && enc[m - 1] == '=')
					m--;
				buf_init(&out, 100, NULL);
				assert_int_equal(imap_sasl_b64decode(&out, enc, m), 0);
				assert_int_equal(out.len, n);
				if (n > 0)
					assert_memory_equal(out.data, in, n);
				buf_free(&out);
			}
		}
	}
}

static void test_mech_names(void **state)
{
	(void)state;
	assert_int_equal(imap_sasl_mech_from_name(S("plain")), IMAP_SASL_PLAIN);
	assert_int_equal(imap_sasl_mech_from_name(S("SCRAM-SHA-256-PLUS")), IMAP_SASL_SCRAM);
	assert_int_equal(imap_sasl_mech_from_name(S("SCRAM-")), IMAP_SASL_OTHER);
	assert_int_equal(imap_sasl_mech_from_name(S("PLAINX")), IMAP_SASL_OTHER);
	assert_int_equal(imap_sasl_mech_from_name(S("X-UNKNOWN")), IMAP_SASL_OTHER);
	assert_int_equal(imap_sasl_mech_from_name(S("gssapi")), IMAP_SASL_GSSAPI);
}

static void test_plain(void **state)
{
	struct imap_sasl s;

	(void)state;
	imap_sasl_init(&s, S("plain"), NULL);
	assert_string_equal(s.mech_name, "PLAIN");
	imap_sasl_response(&s, S("AGFsaWNlAHNlY3JldA==\r\n"));
	assert_slice(imap_sasl_user(&s), "alice");
	assert_slice(imap_sasl_secret(&s), "secret");
	imap_sasl_free(&s);

	/* authcid empty: the authzid names the user */
	imap_sasl_init(&s, S("PLAIN"), NULL);
	{
		char enc[64];

		b64(enc, sizeof enc, S("bob\0\0pw"));
		imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	}
	assert_slice(imap_sasl_user(&s), "bob");
	imap_sasl_free(&s);

	/* no NULs: not PLAIN, no user */
	imap_sasl_init(&s, S("PLAIN"), NULL);
	imap_sasl_response(&s, S("YWxpY2U="));
	assert_null(imap_sasl_user(&s).ptr);
	imap_sasl_free(&s);
}

/* RFC 4616's authorization identity: "admin\0lowpriv\0pw" is lowpriv
 * (authenticated) asking to act as admin; both are kept, apart.  The same
 * name twice is no request; a response says what it carried. */
static void test_plain_authzid(void **state)
{
	struct imap_sasl s;
	char enc[64];

	(void)state;
	imap_sasl_init(&s, S("PLAIN"), NULL);
	b64(enc, sizeof enc, S("admin\0lowpriv\0pw"));
	assert_int_equal(imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc)),
			 IMAP_SASL_GOT_USER | IMAP_SASL_GOT_AUTHZID | IMAP_SASL_GOT_SECRET);
	assert_slice(imap_sasl_user(&s), "lowpriv");
	assert_slice(imap_sasl_authzid(&s), "admin");
	assert_slice(imap_sasl_secret(&s), "pw");
	imap_sasl_free(&s);

	imap_sasl_init(&s, S("PLAIN"), NULL);
	b64(enc, sizeof enc, S("alice\0alice\0pw"));
	assert_int_equal(imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc)),
			 IMAP_SASL_GOT_USER | IMAP_SASL_GOT_SECRET);
	assert_slice(imap_sasl_user(&s), "alice");
	assert_null(imap_sasl_authzid(&s).ptr);
	imap_sasl_free(&s);

	/* authcid empty: the authzid is the only name, and the user */
	imap_sasl_init(&s, S("PLAIN"), NULL);
	b64(enc, sizeof enc, S("bob\0\0pw"));
	(void)imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	assert_slice(imap_sasl_user(&s), "bob");
	assert_null(imap_sasl_authzid(&s).ptr);
	imap_sasl_free(&s);

	/* SCRAM's gs2 header a= beside n= */
	imap_sasl_init(&s, S("SCRAM-SHA-256"), NULL);
	b64(enc, sizeof enc, S("n,a=admin,n=carol,r=abc"));
	(void)imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	assert_slice(imap_sasl_user(&s), "carol");
	assert_slice(imap_sasl_authzid(&s), "admin");
	imap_sasl_free(&s);

	/* the cancel carries nothing */
	imap_sasl_init(&s, S("PLAIN"), NULL);
	assert_int_equal(imap_sasl_response(&s, S("*")), 0);
	assert_true(s.cancelled);
	imap_sasl_free(&s);
}

static void test_login_mech(void **state)
{
	struct imap_sasl s;

	(void)state;
	imap_sasl_init(&s, S("LOGIN"), NULL);
	imap_sasl_challenge(&s, S("VXNlcm5hbWU6"));	/* Username: */
	assert_int_equal(imap_sasl_response(&s, S("YWxpY2U=")), IMAP_SASL_GOT_USER);
	imap_sasl_challenge(&s, S("UGFzc3dvcmQ6"));	/* Password: */
	assert_int_equal(imap_sasl_response(&s, S("c2VjcmV0")), IMAP_SASL_GOT_SECRET);
	assert_int_equal(imap_sasl_response(&s, S("eHl6")), 0);	/* one too many */
	assert_slice(imap_sasl_user(&s), "alice");
	assert_slice(imap_sasl_secret(&s), "secret");
	imap_sasl_free(&s);

	/* user as the initial response, then only "Password:" */
	imap_sasl_init(&s, S("LOGIN"), NULL);
	imap_sasl_response(&s, S("Ym9i"));
	imap_sasl_challenge(&s, S("UGFzc3dvcmQ6"));
	imap_sasl_response(&s, S("cHc="));
	assert_slice(imap_sasl_user(&s), "bob");
	assert_slice(imap_sasl_secret(&s), "pw");
	imap_sasl_free(&s);
}

static void test_xoauth2_oauthbearer(void **state)
{
	struct imap_sasl s;

	(void)state;
	imap_sasl_init(&s, S("XOAUTH2"), NULL);
	imap_sasl_response(&s, S("dXNlcj1ib2JAZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgeWEyOS52RjlkZnQ0"
				 "cW1UYzJOdmIzUmxja0JoZEhSaGRtbHpkR0V1WTI5dENnAQE="));
	assert_slice(imap_sasl_user(&s), "bob@example.com");
	assert_slice(imap_sasl_secret(&s),
		     "Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	/* the server's error challenge and the client's empty answer */
	imap_sasl_challenge(&s, S("eyJzdGF0dXMiOiI0MDEifQ=="));
	imap_sasl_response(&s, S(""));
	assert_slice(imap_sasl_user(&s), "bob@example.com");
	imap_sasl_free(&s);

	imap_sasl_init(&s, S("OAUTHBEARER"), NULL);
	imap_sasl_response(&s, S("bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29t"
				 "AXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhk"
				 "SFJoZG1semRHRXVZMjl0Q2c9PQEB"));
	assert_slice(imap_sasl_user(&s), "user@example.com");
	assert_slice(imap_sasl_secret(&s),
		     "Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==");
	imap_sasl_free(&s);
}

static void test_cram_scram(void **state)
{
	struct imap_sasl s;

	(void)state;
	imap_sasl_init(&s, S("CRAM-MD5"), NULL);
	imap_sasl_challenge(&s, S("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"));
	imap_sasl_response(&s, S("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"));
	assert_slice(imap_sasl_user(&s), "tim");
	assert_slice(imap_sasl_secret(&s), "b913a602c7eda7a495b4e6e7334d3890");
	imap_sasl_free(&s);

	imap_sasl_init(&s, S("SCRAM-SHA-256"), NULL);
	imap_sasl_response(&s, S("biwsbj11cz0yQ2VyPTNEMSxyPWZ5a28rZDJsYmJGZ09OUnY5cWt4ZGF3TA=="));
	assert_slice(imap_sasl_user(&s), "us,er=1");
	assert_null(imap_sasl_secret(&s).ptr);
	/* the client-final message carries no n= and changes nothing */
	{
		char enc[128];

		b64(enc, sizeof enc, S("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
				       "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
		imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	}
	assert_slice(imap_sasl_user(&s), "us,er=1");
	imap_sasl_free(&s);

	/* channel binding flag and authzid */
	imap_sasl_init(&s, S("SCRAM-SHA-1-PLUS"), NULL);
	{
		char enc[128];

		b64(enc, sizeof enc, S("p=tls-exporter,a=admin,n=carol,r=abc"));
		imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	}
	assert_slice(imap_sasl_user(&s), "carol");
	imap_sasl_free(&s);
}

static void test_digest_md5(void **state)
{
	struct imap_sasl s;
	char enc[512];

	(void)state;
	imap_sasl_init(&s, S("DIGEST-MD5"), NULL);
	b64(enc, sizeof enc, S("charset=utf-8,nonce=\"a,b\",username=\"ch\\\"ris\",realm=\"x\","
			       "cnonce=\"OA6MHXh6VqTrRk\",nc=00000001,qop=auth,"
			       "digest-uri=\"imap/elwood.innosoft.com\","
			       "response=d388dad90d4bbd760a152321f2143af7"));
	imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	assert_slice(imap_sasl_user(&s), "ch\"ris");
	assert_null(imap_sasl_secret(&s).ptr);
	imap_sasl_free(&s);

	imap_sasl_init(&s, S("DIGEST-MD5"), NULL);
	b64(enc, sizeof enc, S("realm=x,username=bob,nc=1"));
	imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	assert_slice(imap_sasl_user(&s), "bob");
	imap_sasl_free(&s);
}

/* Lay out an NTLM AUTHENTICATE_MESSAGE with payload after the 64-byte
 * fixed part (LM, NT, domain, user, workstation, session key). */
static size_t put_secbuf(uint8_t *msg, size_t hdr, size_t off, const void *p, size_t n)
{
	msg[hdr] = (uint8_t)n;
	msg[hdr + 1] = (uint8_t)(n >> 8);
	msg[hdr + 2] = msg[hdr];
	msg[hdr + 3] = msg[hdr + 1];
	msg[hdr + 4] = (uint8_t)off;
	msg[hdr + 5] = (uint8_t)(off >> 8);
	msg[hdr + 6] = 0;
	msg[hdr + 7] = 0;
	memcpy(msg + off, p, n);
	return off + n;
}

static size_t ntlm_type3(uint8_t *msg, bool unicode, const void *dom, size_t dlen,
			 const void *user, size_t ulen)
{
	static const uint8_t nt[24] = { 0x11, 0x22, 0x33 };
	size_t off = 64;

	memset(msg, 0, 64);
	memcpy(msg, "NTLMSSP", 8);
	msg[8] = 3;
	off = put_secbuf(msg, 12, off, nt, sizeof nt);	/* LM */
	off = put_secbuf(msg, 20, off, nt, sizeof nt);	/* NT */
	off = put_secbuf(msg, 28, off, dom, dlen);
	off = put_secbuf(msg, 36, off, user, ulen);
	off = put_secbuf(msg, 44, off, "WS", 2);
	off = put_secbuf(msg, 52, off, "", 0);
	msg[60] = unicode ? 0x35 : 0x34;	/* NEGOTIATE_UNICODE is bit 0 */
	msg[61] = 0x82;
	msg[62] = 0x08;
	msg[63] = 0xe2;
	return off;
}

static void test_ntlm(void **state)
{
	/* "CORP", and "józef" with an astral character U+1F600 */
	static const uint8_t dom16[] = { 'C', 0, 'O', 0, 'R', 0, 'P', 0 };
	static const uint8_t user16[] = { 'j', 0, 0xF3, 0, 'z', 0, 'e', 0, 'f', 0,
					  0x3D, 0xD8, 0x00, 0xDE };
	uint8_t msg[256];
	char enc[400];
	size_t n;
	struct imap_sasl s;

	(void)state;
	n = ntlm_type3(msg, true, dom16, sizeof dom16, user16, sizeof user16);
	imap_sasl_init(&s, S("NTLM"), NULL);
	imap_sasl_challenge(&s, S(""));
	b64(enc, sizeof enc, S("NTLMSSP\0\1\0\0\0\x07\x82\x08\xa2"));	/* type 1 */
	imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	assert_null(imap_sasl_user(&s).ptr);
	b64(enc, sizeof enc, msg, n);
	imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	assert_slice(imap_sasl_user(&s), "CORP\\j\xc3\xb3zef\xf0\x9f\x98\x80");
	imap_sasl_free(&s);

	/* OEM strings, no domain */
	n = ntlm_type3(msg, false, "", 0, "alice", 5);
	imap_sasl_init(&s, S("NTLM"), NULL);
	b64(enc, sizeof enc, msg, n);
	imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	assert_slice(imap_sasl_user(&s), "alice");
	imap_sasl_free(&s);

	/* a user buffer pointing past the end is ignored, not read */
	n = ntlm_type3(msg, false, "", 0, "alice", 5);
	msg[40] = 0xF0;
	imap_sasl_init(&s, S("NTLM"), NULL);
	b64(enc, sizeof enc, msg, n);
	imap_sasl_response(&s, (const uint8_t *)enc, strlen(enc));
	assert_null(imap_sasl_user(&s).ptr);
	imap_sasl_free(&s);
}

static void test_mechanism_only_and_cancel(void **state)
{
	struct imap_sasl s;

	(void)state;
	imap_sasl_init(&s, S("GSSAPI"), NULL);
	imap_sasl_response(&s, S("YIIChwYJKoZIhvcSAQICAQBuggJ2MIICcqADAgEFoQMCAQ6iBwMFACAAAACj"));
	assert_null(imap_sasl_user(&s).ptr);
	imap_sasl_free(&s);

	imap_sasl_init(&s, S("EXTERNAL"), NULL);
	imap_sasl_response(&s, S("="));
	assert_null(imap_sasl_user(&s).ptr);
	assert_false(s.cancelled);
	imap_sasl_free(&s);

	imap_sasl_init(&s, S("PLAIN"), NULL);
	imap_sasl_challenge(&s, S(""));
	imap_sasl_response(&s, S("*"));
	assert_true(s.cancelled);
	assert_null(imap_sasl_user(&s).ptr);
	imap_sasl_free(&s);
}

static void test_utf16(void **state)
{
	static const uint8_t lone[] = { 0x00, 0xD8, 'a', 0 };
	struct buf out;

	(void)state;
	buf_init(&out, 64, NULL);
	assert_int_equal(imap_sasl_utf16le_to_utf8(&out, lone, sizeof lone), 0);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.data, "\xef\xbf\xbd" "a", 4);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_b64_round_trip),
		cmocka_unit_test(test_mech_names),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_plain_authzid),
		cmocka_unit_test(test_login_mech),
		cmocka_unit_test(test_xoauth2_oauthbearer),
		cmocka_unit_test(test_cram_scram),
		cmocka_unit_test(test_digest_md5),
		cmocka_unit_test(test_ntlm),
		cmocka_unit_test(test_mechanism_only_and_cancel),
		cmocka_unit_test(test_utf16),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
