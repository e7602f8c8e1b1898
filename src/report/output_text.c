/* -F text: one readable line per event, built in a buffer (no printf on
 * the hot path) and written through the shared line sink. */
#include "report/output_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/render.h"
#include "util/escape.h"

/* ANSI SGR codes, used only with opts.color. */
#define TEXT_COLOR_C     "\x1b[36m"	/* client lines: cyan */
#define TEXT_COLOR_S     "\x1b[32m"	/* server lines: green */
#define TEXT_COLOR_BAD   "\x1b[1;31m"	/* NO, BAD, failed logins: bold red */
#define TEXT_COLOR_GAP   "\x1b[33m"	/* lost bytes: yellow */
#define TEXT_COLOR_META  "\x1b[1m"	/* session start/end, login: bold */
#define TEXT_COLOR_TLS   "\x1b[35m"	/* TLS, COMPRESS: magenta */
#define TEXT_COLOR_TIME  "\x1b[2m"	/* timestamps: dim */
#define TEXT_COLOR_RESET "\x1b[0m"

/* A part of the line being built that --width may shorten: byte offsets
 * into the sink's buffer; start == end: none. */
struct text_span {
	size_t start, end;
};

struct output_text {
	struct output_sink sink;
	struct output_time clock;
	bool color;
	bool frames;
	bool day_shown;
	int64_t day;		/* days since the epoch of the last date line */
	unsigned width;		/* 0: lines whole */
	size_t line_start;	/* the event line's first byte (after a date line) */
	struct text_span caps;	/* a capability list's items */
	struct text_span cut;	/* the arguments or the text */
};

/* ---- small writers ---- */

static int text_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* Colour only when asked: a pipe or a file never gets escape codes. */
static int text_color(const struct output_text *ot, struct buf *b, const char *code)
{
	return ot->color ? text_str(b, code) : 0;
}

/* A C string that did not come from our own tables (addresses, cipher
 * names): escaped as well, it costs nothing and trusts nobody. */
static int text_cstr(struct buf *b, const char *s, const char *if_null)
{
	if (s == NULL)
		s = if_null;
	return escape_text(b, (const uint8_t *)s, strlen(s));
}

static int text_slice(struct buf *b, struct buf_slice s)
{
	size_t k;

	if (s.ptr == NULL)
		return 0;
	k = escape_text_plain_prefix(s.ptr, s.len);
	if (k == s.len)
		return output_put(b, s.ptr, k);
	return output_put(b, s.ptr, k) | escape_text(b, s.ptr + k, s.len - k);
}

/* " [code]" when there is a code; tolerant of a code that kept its brackets. */
static int text_code(struct buf *b, struct buf_slice code)
{
	if (code.ptr == NULL)
		return 0;
	if (code.len > 0 && code.ptr[0] == '[')
		return LIT(b, " ") | text_slice(b, code);
	return LIT(b, " [") | text_slice(b, code) | LIT(b, "]");
}

/* " text" when there is any text. */
static int text_rest(struct buf *b, struct buf_slice s)
{
	if (s.ptr == NULL || s.len == 0)
		return 0;
	return LIT(b, " ") | output_text_append_wire(b, s);
}

/* Length of a literal marker "{123}", "{123+}", "{123-}" at p, or 0; the
 * digits end at *digits_end_r. */
static size_t text_literal_marker(const uint8_t *p, size_t n, size_t *digits_end_r)
{
	size_t i = 1;

	if (n < 3 || p[0] != '{')
		return 0;
	while (i < n && i < 21 && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == 1 || i >= n)
		return 0;
	*digits_end_r = i;
	if ((p[i] == '+' || p[i] == '-') && i + 1 < n)
		i++;
	return p[i] == '}' ? i + 1 : 0;
}

int output_text_append_wire(struct buf *b, struct buf_slice s)
{
	size_t i = 0, start = 0, mlen, dend;
	int rc = 0;

	if (s.ptr == NULL)
		return 0;
	while (i < s.len) {
		const uint8_t *brace = memchr(s.ptr + i, '{', s.len - i);

		if (brace == NULL)
			break;
		i = (size_t)(brace - s.ptr);
		mlen = text_literal_marker(s.ptr + i, s.len - i, &dend);
		if (mlen == 0) {
			i++;
			continue;
		}
		/* The digits are ASCII: they need no escaping. */
		rc |= text_slice(b, (struct buf_slice){ s.ptr + start, i - start }) |
		      buf_append(b, s.ptr + i, dend) | LIT(b, " bytes}");
		i += mlen;
		start = i;
	}
	return rc | text_slice(b, (struct buf_slice){ s.ptr + start, s.len - start });
}

/* ---- parts --width may shorten ---- */

/* Whether mark lies inside s (pointers into the same line). */
static bool text_slice_within(struct buf_slice s, struct buf_slice mark)
{
	uintptr_t a = (uintptr_t)s.ptr, m = (uintptr_t)mark.ptr;

	return s.ptr != NULL && mark.ptr != NULL && mark.len > 0 && m >= a &&
	       m - a <= s.len && mark.len <= s.len - (m - a);
}

/* s as wire text (or, !wire, escaped only, as codes are); with --width,
 * where the part mark of s (a capability list) lands is kept in caps. */
static int text_marked(struct output_text *ot, struct buf *b, struct buf_slice s,
		       struct buf_slice mark, bool wire)
{
	int (*put)(struct buf *, struct buf_slice) = wire ? output_text_append_wire : text_slice;
	size_t off;
	int rc;

	if (ot->width == 0 || !text_slice_within(s, mark))
		return put(b, s);
	off = (size_t)(mark.ptr - s.ptr);
	rc = put(b, (struct buf_slice){ s.ptr, off });
	ot->caps.start = b->len;
	rc |= put(b, mark);
	ot->caps.end = b->len;
	return rc | put(b, (struct buf_slice){ mark.ptr + mark.len, s.len - off - mark.len });
}

/* The arguments of a CAPABILITY code, or null. */
static struct buf_slice text_caps_of(const struct resp_code *rc)
{
	return rc->id == IMAP_CODE_CAPABILITY ? rc->args : SLICE_NULL;
}

/* " [code]", its capability list marked. */
static int text_code_marked(struct output_text *ot, struct buf *b, struct buf_slice code,
			    const struct resp_code *rcode)
{
	if (code.ptr == NULL)
		return 0;
	if (code.len > 0 && code.ptr[0] == '[')
		return LIT(b, " ") | text_marked(ot, b, code, text_caps_of(rcode), false);
	return LIT(b, " [") | text_marked(ot, b, code, text_caps_of(rcode), false) | LIT(b, "]");
}

/* " text", the part --width cuts first (after a capability list, mark). */
static int text_rest_cut(struct output_text *ot, struct buf *b, struct buf_slice s,
			 struct buf_slice mark)
{
	int rc;

	if (s.ptr == NULL || s.len == 0)
		return 0;
	rc = LIT(b, " ");
	ot->cut.start = b->len;
	rc |= text_marked(ot, b, s, mark, true);
	ot->cut.end = b->len;
	return rc;
}

/* ---- numbers for people ---- */

/* x/10^decimals with that many decimals ("1.6"); decimals <= 3. */
static int text_fixed(struct buf *b, uint64_t x, unsigned decimals)
{
	char frac[4];
	unsigned i;

	for (i = decimals; i > 0; i--) {
		frac[i] = (char)('0' + x % 10);
		x /= 10;
	}
	frac[0] = '.';
	return output_append_u64(b, x) | (decimals ? buf_append(b, frac, decimals + 1) : 0);
}

/* "0.412 ms", "7.295 ms", "1057.207 ms": always milliseconds with three
 * decimals, as latency_ms in the JSON, so that latencies line up and read
 * the same everywhere. */
static int text_ms(struct buf *b, double ms)
{
	return text_fixed(b, (uint64_t)(ms * 1000 + 0.5), 3) | LIT(b, " ms");
}

static int text_latency(struct buf *b, double ms)
{
	if (!(ms >= 0) || ms > 1e12)
		return 0;
	return LIT(b, "   (") | text_ms(b, ms) | LIT(b, ")");
}

/* "   (+ after 2.910 ms)": how long the command waited for each "+". */
static int text_cont_waits(struct buf *b, const int64_t *us, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = LIT(b, "   (+ after ");
	for (size_t i = 0; i < n; i++)
		rc |= (i ? LIT(b, ", ") : 0) | text_ms(b, (double)us[i] / 1000.0);
	return rc | LIT(b, ")");
}

/* "1 gap", "2 gaps". */
static int text_count(struct buf *b, uint64_t n, const char *noun)
{
	return output_append_u64(b, n) | LIT(b, " ") | text_str(b, noun) |
	       (n == 1 ? 0 : LIT(b, "s"));
}

/* Byte counts: exact below 10 000, then KiB/MiB/GiB with one decimal. */
static int text_bytes(struct buf *b, uint64_t n)
{
	static const char *const units[] = { " KiB", " MiB", " GiB", " TiB" };
	unsigned u = 0;
	uint64_t tenths;

	if (n < 10000)
		return output_append_u64(b, n) | LIT(b, " B");
	tenths = n * 10 / 1024;
	if (n > UINT64_MAX / 10)
		tenths = n / 1024 * 10;
	while (tenths >= 10240 && u + 1 < sizeof units / sizeof units[0]) {
		tenths /= 1024;
		u++;
	}
	return text_fixed(b, tenths, 1) | text_str(b, units[u]);
}

/* "850 ms", "3.204 s", "2m03s", "1h02m03s". */
static int text_duration(struct buf *b, int64_t us)
{
	uint64_t s;
	char mm[6];

	if (us < 0)
		us = 0;
	if (us < 1000000)
		return output_append_u64(b, (uint64_t)us / 1000) | LIT(b, " ms");
	if (us < 60000000)
		return text_fixed(b, (uint64_t)us / 1000, 3) | LIT(b, " s");
	s = (uint64_t)us / 1000000;
	mm[0] = (char)('0' + s / 60 % 60 / 10);
	mm[1] = (char)('0' + s / 60 % 60 % 10);
	mm[2] = 'm';
	mm[3] = (char)('0' + s % 60 / 10);
	mm[4] = (char)('0' + s % 60 % 10);
	mm[5] = 's';
	if (s < 3600)
		return output_append_u64(b, s / 60) | LIT(b, "m") | buf_append(b, mm + 3, 3);
	return output_append_u64(b, s / 3600) | LIT(b, "h") | buf_append(b, mm, sizeof mm);
}

/* ---- line frame: date line, time, session ---- */

static void text_put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* "--- 2026-11-21 (UTC) ---" before the first line of each UTC day:
 * captures span days and the per-line time alone would hide it; it also
 * says in which zone the times are. */
static int text_date_line(struct output_text *ot, struct buf *b, const struct tm *tm)
{
	char d[10];
	int year = tm->tm_year + 1900;

	text_put2(d, year / 100);
	text_put2(d + 2, year % 100);
	d[4] = '-';
	text_put2(d + 5, tm->tm_mon + 1);
	d[7] = '-';
	text_put2(d + 8, tm->tm_mday);
	return text_color(ot, b, TEXT_COLOR_META) | LIT(b, "--- ") | buf_append(b, d, sizeof d) |
	       LIT(b, " (UTC) ---") | text_color(ot, b, TEXT_COLOR_RESET) | LIT(b, "\n");
}

/* "[f12] ", "[f12-f15] ", "[FILE:f12] " with several inputs; nothing
 * when the record is not known. */
static int text_frames(struct buf *b, const struct event *ev)
{
	int rc;

	if (ev->frame == 0)
		return 0;
	rc = LIT(b, "[");
	if (ev->pcap != NULL)
		rc |= escape_text(b, (const uint8_t *)ev->pcap, strlen(ev->pcap)) | LIT(b, ":");
	rc |= LIT(b, "f") | output_append_u64(b, ev->frame);
	if (ev->frame_last != 0)
		rc |= LIT(b, "-f") | output_append_u64(b, ev->frame_last);
	return rc | LIT(b, "] ");
}

static int text_prefix(struct output_text *ot, struct buf *b, const struct event *ev)
{
	const struct tm *tm;
	uint32_t usec;
	char t[16];
	int64_t day;
	int i, rc = 0;

	output_time_split(&ot->clock, ev->ts_us, &tm, &usec);
	day = ot->clock.sec >= 0 ? ot->clock.sec / 86400 : -((-ot->clock.sec + 86399) / 86400);
	if (!ot->day_shown || day != ot->day) {
		rc |= text_date_line(ot, b, tm);
		ot->day_shown = true;
		ot->day = day;
	}
	ot->line_start = b->len;
	text_put2(t, tm->tm_hour);
	t[2] = ':';
	text_put2(t + 3, tm->tm_min);
	t[5] = ':';
	text_put2(t + 6, tm->tm_sec);
	t[8] = '.';
	for (i = 14; i >= 9; i--) {
		t[i] = (char)('0' + usec % 10);
		usec /= 10;
	}
	t[15] = ' ';
	rc |= text_color(ot, b, TEXT_COLOR_TIME) | buf_append(b, t, 15) |
	      text_color(ot, b, TEXT_COLOR_RESET) | LIT(b, " #") |
	      output_append_u64(b, ev->session) | LIT(b, " ");
	return ot->frames ? rc | text_frames(b, ev) : rc;
}

/* ---- one function per event type: the part after "#N " ---- */

static int text_session_start(struct output_text *ot, struct buf *b, const struct event *ev)
{
	int rc = text_color(ot, b, TEXT_COLOR_META) | LIT(b, "session ") |
		 text_cstr(b, ev->client, "?") | LIT(b, " -> ") | text_cstr(b, ev->server, "?");

	if (ev->u.start.implicit_tls)
		rc |= LIT(b, " (implicit TLS)");
	if (ev->u.start.mid_stream)
		rc |= LIT(b, " (picked up mid-stream)");
	return rc;
}

static int text_greeting(struct output_text *ot, struct buf *b, const struct event *ev)
{
	const char *color = ev->u.greeting.id == IMAP_R_BYE ? TEXT_COLOR_BAD : TEXT_COLOR_S;

	return text_color(ot, b, color) | LIT(b, "S * ") | text_slice(b, ev->u.greeting.status) |
	       text_code_marked(ot, b, ev->u.greeting.code, &ev->u.greeting.rcode) |
	       text_rest_cut(ot, b, ev->u.greeting.text, SLICE_NULL);
}

static int text_command(struct output_text *ot, struct buf *b, const struct event *ev)
{
	return text_color(ot, b, TEXT_COLOR_C) | LIT(b, "C ") | text_slice(b, ev->u.command.tag) |
	       LIT(b, " ") | text_slice(b, ev->u.command.name) |
	       text_rest_cut(ot, b, ev->u.command.args, SLICE_NULL);
}

/* ", name "value"" for a decoded SASL field that is there. */
static int text_field(struct buf *b, bool *first, const char *name, struct buf_slice v)
{
	int rc;

	if (v.ptr == NULL)
		return 0;
	rc = (*first ? LIT(b, " -> ") : LIT(b, ", ")) | output_put(b, name, strlen(name)) |
	     LIT(b, " \"") | text_slice(b, v) | LIT(b, "\"");
	*first = false;
	return rc;
}

/* Only the server sends "+": what the client sends in its place is its
 * SASL answer ("C (sasl) ***") or IDLE's DONE ("C DONE"). */
static int text_continuation(struct output_text *ot, struct buf *b, const struct event *ev)
{
	bool first = true;

	if (ev->u.continuation.dir != DIR_C2S)
		return text_color(ot, b, TEXT_COLOR_S) | LIT(b, "S +") |
		       text_rest_cut(ot, b, ev->u.continuation.text, SLICE_NULL);
	if (ev->u.continuation.kind != CONT_SASL)
		return text_color(ot, b, TEXT_COLOR_C) | LIT(b, "C") |
		       text_rest_cut(ot, b, ev->u.continuation.text, SLICE_NULL);
	return text_color(ot, b, TEXT_COLOR_C) | LIT(b, "C (sasl)") |
	       text_rest(b, ev->u.continuation.text) |
	       text_field(b, &first, "authzid", ev->u.continuation.authzid) |
	       text_field(b, &first, "user", ev->u.continuation.user) |
	       text_field(b, &first, "secret", ev->u.continuation.secret);
}

/* The word of s that starts at *i (ASCII space separated); *i moves past it. */
static struct buf_slice text_word(struct buf_slice s, size_t *i)
{
	struct buf_slice w = { s.ptr + *i, 0 };

	while (*i < s.len && s.ptr[*i] != ' ')
		(*i)++;
	w.len = (size_t)(s.ptr + *i - w.ptr);
	while (*i < s.len && s.ptr[*i] == ' ')
		(*i)++;
	return w;
}

static bool text_word_eq(struct buf_slice a, struct buf_slice b)
{
	size_t k;

	if (a.len != b.len)
		return false;
	for (k = 0; k < a.len; k++) {
		uint8_t x = a.ptr[k], y = b.ptr[k];

		if (x >= 'a' && x <= 'z')
			x = (uint8_t)(x - 32);
		if (y >= 'a' && y <= 'z')
			y = (uint8_t)(y - 32);
		if (x != y)
			return false;
	}
	return true;
}

/* Does the untagged text already say its name ("CAPABILITY IMAP4rev2",
 * "3 FETCH (...)")?  Then it is printed as is; otherwise the name goes
 * first, so the line reads the same whichever way the session cut it. */
static bool text_untagged_names_itself(struct buf_slice name, struct buf_slice text)
{
	size_t i = 0;
	struct buf_slice w;

	if (name.ptr == NULL || name.len == 0)
		return true;
	if (text.ptr == NULL)
		return false;
	w = text_word(text, &i);
	if (text_word_eq(w, name))
		return true;
	if (w.len == 0 || w.ptr[0] < '0' || w.ptr[0] > '9')
		return false;
	return text_word_eq(text_word(text, &i), name);
}

/* The capability list an untagged line carries: CAPABILITY's own (after
 * its name), or a status response's [CAPABILITY] code. */
static struct buf_slice text_untagged_caps(const struct event *ev)
{
	struct buf_slice t = ev->u.untagged.text;
	size_t i = 0;

	if (ev->u.untagged.id != IMAP_R_CAPABILITY || t.ptr == NULL)
		return text_caps_of(&ev->u.untagged.rcode);
	(void)text_word(t, &i);
	return (struct buf_slice){ t.ptr + i, t.len - i };
}

static int text_untagged(struct output_text *ot, struct buf *b, const struct event *ev)
{
	enum imap_resp_id id = ev->u.untagged.id;
	/* BYE after the client's LOGOUT is the expected answer, not an error. */
	bool bad = id == IMAP_R_NO || id == IMAP_R_BAD ||
		   (id == IMAP_R_BYE && !ev->facts->logout_sent);
	/* Indented under the command it answers, so a FETCH's lines group. */
	int rc = text_color(ot, b, bad ? TEXT_COLOR_BAD : TEXT_COLOR_S) |
		 (ev->u.untagged.tag.ptr != NULL ? LIT(b, "S   *") : LIT(b, "S *"));

	if (!text_untagged_names_itself(ev->u.untagged.name, ev->u.untagged.text))
		rc |= LIT(b, " ") | text_slice(b, ev->u.untagged.name);
	return rc | text_rest_cut(ot, b, ev->u.untagged.text, text_untagged_caps(ev));
}

static int text_response(struct output_text *ot, struct buf *b, const struct event *ev)
{
	bool ok = ev->u.response.id == IMAP_R_OK;

	return text_color(ot, b, ok ? TEXT_COLOR_S : TEXT_COLOR_BAD) | LIT(b, "S ") |
	       text_slice(b, ev->u.response.tag) | LIT(b, " ") |
	       text_slice(b, ev->u.response.status) |
	       text_code_marked(ot, b, ev->u.response.code, &ev->u.response.rcode) |
	       text_rest_cut(ot, b, ev->u.response.text, SLICE_NULL) |
	       text_latency(b, ev->u.response.latency_ms) |
	       text_cont_waits(b, ev->u.response.cont_wait_us, ev->u.response.n_cont_waits);
}

/* Whether a code (as sent, brackets or not) is a capability list. */
static bool text_code_is_caps(struct buf_slice code)
{
	static const uint8_t name[] = "CAPABILITY";
	size_t i = 0;

	if (code.ptr == NULL)
		return false;
	if (code.len > 0 && code.ptr[0] == '[') {
		code.ptr++;
		code.len--;
	}
	return text_word_eq(text_word(code, &i), (struct buf_slice){ name, sizeof name - 1 });
}

static int text_login(struct output_text *ot, struct buf *b, const struct event *ev)
{
	const char *color = ev->u.login.result == LOGIN_FAIL ? TEXT_COLOR_BAD : TEXT_COLOR_META;
	int rc = text_color(ot, b, color) | LIT(b, "LOGIN ");

	if (ev->u.login.user.ptr != NULL)
		rc |= text_slice(b, ev->u.login.user);
	else
		rc |= LIT(b, "(unknown user)");
	if (ev->u.login.authzid.ptr != NULL)
		rc |= LIT(b, " (as ") | text_slice(b, ev->u.login.authzid) | LIT(b, ")");
	if (ev->u.login.mechanism.ptr != NULL)
		rc |= LIT(b, " via ") | text_slice(b, ev->u.login.mechanism);
	rc |= LIT(b, ": ") | text_str(b, event_login_result_name(ev->u.login.result));
	if (ev->u.login.inferred)	/* the evidence holds the answer */
		rc |= LIT(b, " (inferred from: ") | text_slice(b, ev->u.login.evidence) |
		      LIT(b, ")");
	else if (ot->width != 0 && text_code_is_caps(ev->u.login.code))
		rc |= text_rest_cut(ot, b, ev->u.login.text, SLICE_NULL);	/* the OK showed it */
	else
		rc |= text_code(b, ev->u.login.code) | text_rest_cut(ot, b, ev->u.login.text, SLICE_NULL);
	if (ev->u.login.transport == TRANSPORT_STARTTLS)
		rc |= LIT(b, " (over STARTTLS)");
	else if (ev->u.login.transport == TRANSPORT_IMPLICIT_TLS)
		rc |= LIT(b, " (over TLS)");
	if (ev->u.login.cleartext_secret)
		rc |= LIT(b, " (secret sent in cleartext)");
	if (ev->u.login.cleartext_after_starttls)
		rc |= LIT(b, " (in cleartext after STARTTLS)");
	if (ev->u.login.secret.ptr != NULL)
		rc |= LIT(b, " secret: ") | text_slice(b, ev->u.login.secret);
	return rc;
}

static int text_tls(struct output_text *ot, struct buf *b, const struct event *ev)
{
	int rc = text_color(ot, b, ev->u.tls.decrypted ? TEXT_COLOR_TLS : TEXT_COLOR_GAP) |
		 LIT(b, "TLS (") | text_cstr(b, ev->u.tls.phase, "?") | LIT(b, ") ") |
		 text_cstr(b, ev->u.tls.version, "version unknown") | LIT(b, ", ") |
		 text_cstr(b, ev->u.tls.cipher, "cipher unknown");

	if (ev->u.tls.sni.ptr != NULL)
		rc |= LIT(b, ", SNI ") | text_slice(b, ev->u.tls.sni);
	if (ev->u.tls.decrypted)
		return rc | LIT(b, ": decrypted");
	if (ev->u.tls.decrypted_c2s != ev->u.tls.decrypted_s2c)
		rc |= ev->u.tls.decrypted_c2s ? LIT(b, ": decrypted c2s only")
					       : LIT(b, ": decrypted s2c only");
	else
		rc |= LIT(b, ": not decrypted");
	if (ev->u.tls.reason != NULL)
		rc |= LIT(b, " (") | text_cstr(b, ev->u.tls.reason, "") | LIT(b, ")");
	return rc;
}

static int text_compress(struct output_text *ot, struct buf *b, const struct event *ev)
{
	return text_color(ot, b, ev->u.compress.decoded ? TEXT_COLOR_TLS : TEXT_COLOR_GAP) |
	       LIT(b, "COMPRESS ") | text_cstr(b, ev->u.compress.algorithm, "?") |
	       (ev->u.compress.decoded ? LIT(b, ": decoded") : LIT(b, ": not decoded"));
}

static int text_gap(struct output_text *ot, struct buf *b, const struct event *ev)
{
	return text_color(ot, b, TEXT_COLOR_GAP) | LIT(b, "GAP ") |
	       (ev->u.gap.dir == DIR_S2C ? LIT(b, "s2c ") : LIT(b, "c2s ")) |
	       output_append_u64(b, ev->u.gap.bytes) | LIT(b, " bytes missing at offset ") |
	       output_append_u64(b, ev->u.gap.offset);
}

/* The notice's own text (made by imapscope, wire bytes already escaped). */
static int text_notice(struct output_text *ot, struct buf *b, const struct event *ev)
{
	const char *t = ev->u.notice.text ? ev->u.notice.text : "";

	return text_color(ot, b, TEXT_COLOR_GAP) | LIT(b, "NOTICE ") |
	       escape_text_made(b, (const uint8_t *)t, strlen(t));
}

/* A --check finding, marked to stand out: "!! error rule (side, RFC):
 * explanation: line". */
static int text_finding(struct output_text *ot, struct buf *b, const struct event *ev)
{
	const struct buf_slice line = ev->u.finding.line;
	bool err = ev->u.finding.severity != NULL && ev->u.finding.severity[0] == 'e';
	int rc = text_color(ot, b, err ? TEXT_COLOR_BAD : TEXT_COLOR_GAP) | LIT(b, "!! ") |
		 text_cstr(b, ev->u.finding.severity, "?") | LIT(b, " ") |
		 text_cstr(b, ev->u.finding.rule, "?") | LIT(b, " (") |
		 text_cstr(b, ev->u.finding.side, "?") | LIT(b, ", ") |
		 text_cstr(b, ev->u.finding.rfc, "?") | LIT(b, "): ") |
		 text_cstr(b, ev->u.finding.explanation, "");

	if (line.ptr != NULL)
		rc |= LIT(b, ": ") | (ev->u.finding.line_made ? escape_text_made(b, line.ptr, line.len)
							     : text_slice(b, line));
	return rc;
}

static const char *text_end_reason(enum end_reason r)
{
	switch (r) {
	case END_FIN: return "fin";
	case END_RST: return "rst";
	case END_TIMEOUT: return "timeout";
	case END_EOF: return "eof";
	case END_EVICTED: return "timeout, evicted by the flow cap";
	}
	return "?";
}

/* The bytes of one direction; where TLS was not decrypted, those that
 * crossed the wire, since nothing of what they carried was seen. */
static int text_end_bytes(struct buf *b, const struct event *ev, enum stream_dir d)
{
	const struct session_summary *s = ev->u.end.summary;

	if (ev->u.end.undecrypted[d])
		return text_bytes(b, d == DIR_C2S ? s->wire_bytes_c2s : s->wire_bytes_s2c) |
		       LIT(b, " on the wire (not decrypted)");
	return text_bytes(b, d == DIR_C2S ? s->bytes_c2s : s->bytes_s2c);
}

/* "end (fin) after 3.204 s: 12 commands (11 OK, 1 NO, 0 BAD), 30 untagged,
 * c2s 1234 B, s2c 45.6 KiB" and the losses, only when there were any. */
static int text_session_end(struct output_text *ot, struct buf *b, const struct event *ev)
{
	const struct session_summary *s = ev->u.end.summary;
	int rc = text_color(ot, b, TEXT_COLOR_META) | LIT(b, "end (") |
		 text_str(b, text_end_reason(ev->u.end.reason)) | LIT(b, ")");

	if (s == NULL)
		return rc;
	rc |= LIT(b, " after ") | text_duration(b, s->duration_us) | LIT(b, ": ") |
	      text_count(b, s->commands, "command") | LIT(b, " (") |
	      output_append_u64(b, s->responses_ok) | LIT(b, " OK, ") |
	      output_append_u64(b, s->responses_no) | LIT(b, " NO, ") |
	      output_append_u64(b, s->responses_bad) | LIT(b, " BAD), ") |
	      output_append_u64(b, s->untagged) | LIT(b, " untagged, c2s ") |
	      text_end_bytes(b, ev, DIR_C2S) | LIT(b, ", s2c ") | text_end_bytes(b, ev, DIR_S2C);
	if (s->gaps != 0)
		rc |= LIT(b, ", ") | text_count(b, s->gaps, "gap") | LIT(b, " (") |
		      text_bytes(b, s->gap_bytes) | LIT(b, " missing)");
	if (s->notices != 0)
		rc |= LIT(b, ", ") | text_count(b, s->notices, "notice");
	if (s->capped != 0)
		rc |= LIT(b, ", ") | output_append_u64(b, s->capped) | LIT(b, " over a cap");
	return rc;
}

typedef int (*text_body_fn)(struct output_text *ot, struct buf *b, const struct event *ev);

static const text_body_fn text_bodies[EV_N_TYPES] = {
	[EV_SESSION_START] = text_session_start,
	[EV_GREETING] = text_greeting,
	[EV_COMMAND] = text_command,
	[EV_CONTINUATION] = text_continuation,
	[EV_UNTAGGED] = text_untagged,
	[EV_RESPONSE] = text_response,
	[EV_LOGIN] = text_login,
	[EV_TLS] = text_tls,
	[EV_COMPRESS] = text_compress,
	[EV_GAP] = text_gap,
	[EV_NOTICE] = text_notice,
	[EV_SESSION_END] = text_session_end,
	[EV_FINDING] = text_finding,
};

/* ---- fitting a line to --width ---- */

#define TEXT_ELLIPSIS "\xe2\x80\xa6"	/* "…": one column */

/* East Asian wide and fullwidth characters take two columns (the blocks
 * terminals draw double). */
static unsigned text_char_cols(uint32_t c)
{
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	    (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

/* Bytes and columns of the character (or colour sequence) at p[0..n). */
static size_t text_char(const uint8_t *p, size_t n, unsigned *cols_r)
{
	size_t len, i;
	uint32_t c;

	*cols_r = 0;
	if (p[0] == 0x1b && n > 1 && p[1] == '[') {	/* our own colours */
		for (i = 2; i < n && (p[i] < 0x40 || p[i] > 0x7e); i++)
			;
		return i < n ? i + 1 : n;
	}
	*cols_r = 1;
	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 1;
	len = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 1;
	c = p[0] & (0x3f >> (len - 1));
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 1;
		c = c << 6 | (p[i] & 0x3f);
	}
	*cols_r = text_char_cols(c);
	return len;
}

/* How many bytes of p[0..n) fit in max columns, whole characters only;
 * *cols_r: their columns. */
static size_t text_fit_bytes(const uint8_t *p, size_t n, size_t max, size_t *cols_r)
{
	size_t i = 0, cols = 0;

	while (i < n) {
		unsigned w;
		size_t k = text_char(p + i, n - i, &w);

		if (cols + w > max)
			break;
		cols += w;
		i += k;
	}
	*cols_r = cols;
	return i;
}

size_t output_text_columns(const uint8_t *p, size_t n)
{
	size_t cols;

	(void)text_fit_bytes(p, n, SIZE_MAX, &cols);
	return cols;
}

size_t output_text_fit(const uint8_t *p, size_t n, size_t max, size_t *cols_r)
{
	return text_fit_bytes(p, n, max, cols_r);
}

/* Replace del bytes at at with ins[0..len). */
static int text_splice(struct buf *b, size_t at, size_t del, const char *ins, size_t len)
{
	size_t tail = b->len - at - del;

	if (len > del && buf_append(b, ins, len - del) != 0)	/* room first */
		return -1;
	memmove(b->data + at + len, b->data + at + del, tail);
	memcpy(b->data + at, ins, len);
	b->len = at + len + tail;
	return 0;
}

/* Keep the first items of the capability list that leave the line over
 * its width by no more than it can lose, then " … +N" for the rest (at
 * least one item stays).  Returns the bytes the line lost. */
static size_t text_collapse_caps(struct output_text *ot, struct buf *b, size_t over)
{
	const uint8_t *p = b->data + ot->caps.start;
	size_t n = ot->caps.end - ot->caps.start, items = 1, i, keep = 0, kept = 0, seen = 0;
	size_t cols = output_text_columns(p, n);
	char tail[32];
	size_t tlen;

	for (i = 0; i < n; i++)
		items += p[i] == ' ';
	if (items < 2)
		return 0;
	/* Walk the items: the last end whose prefix and tail fit. */
	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != ' ')
			continue;
		seen++;
		if (seen == items)
			break;
		tlen = (size_t)snprintf(tail, sizeof tail, " " TEXT_ELLIPSIS " +%zu", items - seen);
		if (keep == 0 || output_text_columns(p, i) + tlen - 2 + over <= cols) {
			keep = i;
			kept = seen;
		}
	}
	if (keep == 0)
		return 0;
	tlen = (size_t)snprintf(tail, sizeof tail, " " TEXT_ELLIPSIS " +%zu", items - kept);
	if (keep + tlen >= n || text_splice(b, ot->caps.start + keep, n - keep, tail, tlen) != 0)
		return 0;
	return n - keep - tlen;
}

/* Cut the end of the span so the line loses over columns, "…" in its
 * place.  The span may go whole. */
static void text_cut_span(struct output_text *ot, struct buf *b, size_t over)
{
	const uint8_t *p = b->data + ot->cut.start;
	size_t n = ot->cut.end - ot->cut.start, cols = output_text_columns(p, n), got, k;

	if (cols == 0)
		return;
	k = cols > over + 1 ? text_fit_bytes(p, n, cols - over - 1, &got) : 0;
	(void)text_splice(b, ot->cut.start + k, n - k, TEXT_ELLIPSIS, sizeof TEXT_ELLIPSIS - 1);
}

/* The event line (from line_start) in ot->width columns: the capability
 * list first, then the text, then the line's end. */
static void text_fit(struct output_text *ot, struct buf *b)
{
	size_t cols = output_text_columns(b->data + ot->line_start, b->len - ot->line_start), k;

	if (cols <= ot->width)
		return;
	if (ot->caps.end > ot->caps.start) {
		size_t lost = text_collapse_caps(ot, b, cols - ot->width);

		if (ot->cut.start >= ot->caps.end)
			ot->cut.start -= lost;
		if (ot->cut.end >= ot->caps.end)
			ot->cut.end -= lost;
		cols = output_text_columns(b->data + ot->line_start, b->len - ot->line_start);
	}
	if (cols > ot->width && ot->cut.end > ot->cut.start) {
		text_cut_span(ot, b, cols - ot->width);
		cols = output_text_columns(b->data + ot->line_start, b->len - ot->line_start);
	}
	if (cols > ot->width) {
		k = text_fit_bytes(b->data + ot->line_start, b->len - ot->line_start,
				   ot->width - 1, &cols);
		b->len = ot->line_start + k;
		(void)LIT(b, TEXT_ELLIPSIS);	/* k cut 1 column or more */
	}
}

/* ---- the output ---- */

static void output_text_event(void *ctx, const struct event *ev)
{
	struct output_text *ot = ctx;
	struct buf *b;
	int rc;

	if (!output_sink_live(&ot->sink))
		return;
	b = output_sink_begin(&ot->sink);
	ot->caps = ot->cut = (struct text_span){ 0, 0 };
	rc = text_prefix(ot, b, ev);
	if ((unsigned)ev->type < EV_N_TYPES && text_bodies[ev->type] != NULL)
		rc |= text_bodies[ev->type](ot, b, ev);
	else
		rc |= LIT(b, "? unknown event type");
	if (ev->truncated)
		rc |= LIT(b, " [truncated]");
	if (ev->unsynchronised)
		rc |= LIT(b, " [unsynchronised]");
	if (ot->width != 0 && rc == 0)
		text_fit(ot, b);
	rc |= text_color(ot, b, TEXT_COLOR_RESET) | LIT(b, "\n");
	output_sink_end(&ot->sink, rc);
}

static int output_text_finish(void *ctx)
{
	struct output_text *ot = ctx;

	return output_sink_finish(&ot->sink);
}

static void output_text_free(void *ctx)
{
	struct output_text *ot = ctx;

	if (ot == NULL)
		return;
	output_sink_free(&ot->sink);
	free(ot);
}

/* Live capture: out with every complete line now. */
static void output_text_flush(void *ctx)
{
	struct output_text *ot = ctx;

	/* a failed write is reported by finish */
	if (output_sink_finish(&ot->sink) != 0)
		return;
}

static const struct output_ops output_text_ops = {
	.flush = output_text_flush,
	.event = output_text_event,
	.finish = output_text_finish,
	.free = output_text_free,
};

int output_text_new(struct output *out_r, FILE *fp, const struct output_text_opts *opts)
{
	struct output_text *ot = calloc(1, sizeof *ot);

	if (ot == NULL)
		return -1;
	output_sink_init(&ot->sink, fp);
	ot->color = opts != NULL && opts->color;
	ot->frames = opts != NULL && opts->frames;
	if (opts != NULL && opts->width != 0)
		ot->width = opts->width > OUTPUT_TEXT_MIN_WIDTH ? opts->width : OUTPUT_TEXT_MIN_WIDTH;
	out_r->ops = &output_text_ops;
	out_r->ctx = ot;
	return 0;
}
