/* libFuzzer target: the session model (tags, state, SASL, IDLE, APPEND,
 * STARTTLS and COMPRESS switches, TLS) fed arbitrary byte streams of both
 * directions with random gaps.  Every event goes through --check's stage
 * (report/check.h, with the wire facts) to the checking output of
 * fuzz_common.c, which also writes and checks them as JSON and text; the
 * tap and the notices are checked too.
 *
 * Input: the escape format of fuzz_common.h, starting in the c2s direction;
 * FF 09 ends the session with a FIN (a >= 0x80: RST).  Mode bits: 3
 * --show-secrets, 4 mid-stream, 5 implicit TLS, 6 the fixed TLS keys, 7 a
 * 16-byte literal keep limit.  The report outputs (--summary, --logins)
 * have a budget of their own: of 8 KB when the input's length is a multiple
 * of 4, so that their degraded paths are reached, else unlimited. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "imap/imap_lexer.h"
#include "imap/imap_session.h"
#include "report/check.h"
#include "tls/keylog.h"
#include "tls/tls_layer.h"

#define FUZZ_SESSION_ID 7

struct sess_fuzz {
	struct imap_session *s;
	bool ended;
	uint64_t tapped[2];
	uint64_t stream[2];	/* tapped and gap bytes: the marks' offsets */
	uint64_t settled[2];
	bool tap_ended;
	bool show_secrets;
};

static void tap_data(void *ctx, uint64_t session, enum stream_dir dir,
		     const uint8_t *p, size_t n, int64_t ts_us)
{
	struct sess_fuzz *f = ctx;

	(void)ts_us;
	FUZZ_CHECK(session == FUZZ_SESSION_ID && !f->tap_ended);
	FUZZ_CHECK(dir == DIR_C2S || dir == DIR_S2C);
	fuzz_touch((struct buf_slice){ p, n });
	f->tapped[dir] += n;
	f->stream[dir] += n;
}

static void tap_gap(void *ctx, uint64_t session, enum stream_dir dir, uint64_t nbytes,
		    int64_t ts_us)
{
	struct sess_fuzz *f = ctx;

	(void)ts_us;
	FUZZ_CHECK(session == FUZZ_SESSION_ID && !f->tap_ended);
	FUZZ_CHECK(dir == DIR_C2S || dir == DIR_S2C);
	FUZZ_CHECK(nbytes > 0);
	f->stream[dir] += nbytes;
}

/* --follow's marks name bytes of the stream tapped so far (a literal the
 * next ones, but for client bytes read again), settle it in order, and
 * never come with --show-secrets. */
static void tap_mark(void *ctx, uint64_t session, const struct imap_tap_mark *m)
{
	struct sess_fuzz *f = ctx;

	FUZZ_CHECK(session == FUZZ_SESSION_ID && !f->tap_ended);
	FUZZ_CHECK(m->dir == DIR_C2S || m->dir == DIR_S2C);
	switch (m->kind) {
	case IMAP_TAP_LITERAL:
		/* at the stream's end, but in client bytes read again after a
		 * literal the server showed never was one (whose offsets are a
		 * guess, hidden whole) */
		FUZZ_CHECK(m->off == f->stream[m->dir] || m->dir == DIR_C2S);
		break;
	case IMAP_TAP_SECRET:
		FUZZ_CHECK(m->dir == DIR_C2S && !f->show_secrets && m->len > 0);
		break;
	case IMAP_TAP_SETTLED:
		FUZZ_CHECK(m->off >= f->settled[m->dir] && m->off <= f->stream[m->dir]);
		f->settled[m->dir] = m->off;
		break;
	default:
		FUZZ_CHECK(false);
	}
}

static void tap_end(void *ctx, uint64_t session, const struct imap_tap_end *e)
{
	struct sess_fuzz *f = ctx;

	(void)e;
	FUZZ_CHECK(session == FUZZ_SESSION_ID && !f->tap_ended);
	f->tap_ended = true;
}

static void on_notice(void *ctx, const struct notice *n)
{
	(void)ctx;
	fuzz_check_notice(n);
	FUZZ_CHECK(n->session == FUZZ_SESSION_ID);
}

static void feed(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n, int64_t ts)
{
	struct sess_fuzz *f = ctx;

	imap_session_ops.feed(f->s, dir, p, n, ts);
	FUZZ_CHECK(imap_session_state(f->s) <= IMAP_STATE_LOGOUT);
	fuzz_touch(imap_session_mailbox(f->s));
}

static void gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts)
{
	struct sess_fuzz *f = ctx;

	imap_session_ops.gap(f->s, dir, nbytes, ts);
}

static bool end(void *ctx, int64_t ts)
{
	struct sess_fuzz *f = ctx;

	imap_session_ops.end(f->s, END_FIN, ts);
	f->ended = true;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem_budget budget = { 0 };
	struct mem_budget report_budget = { .limit = size % 4 == 0 ? 8192 : 0 };
	struct fuzz_extract fx;
	struct fuzz_out fo;
	struct sess_fuzz f = { 0 };
	struct imap_session_config cfg = { .facts = IMAP_FACTS_FETCH };
	struct check_opts copts = { .budget = &report_budget };
	struct imap_session_info info = {
		.id = FUZZ_SESSION_ID, .client = "192.0.2.1:50000",
		.server = "192.0.2.2:143", .first_ts_us = FUZZ_T0_US,
	};
	struct fuzz_stream_ops ops = { .ctx = &f, .feed = feed, .gap = gap, .end = end };
	uint8_t mode;
	int64_t ts;

	if (size < 1)
		return 0;
	mode = data[0];
	fuzz_out_init(&fo, &cfg.out, true, &report_budget);
	/* --check in front: its wire facts and findings on hostile lines */
	FUZZ_CHECK(check_new(&cfg.out, cfg.out, &copts) == 0);
	cfg.facts = cfg.out.ops->facts;
	cfg.show_secrets = (mode >> 3) & 1;
	info.mid_stream = (mode >> 4) & 1;
	info.implicit_tls = (mode >> 5) & 1;
	cfg.tls = &tls_layer_ops;
	cfg.tls_conf = (mode >> 6) & 1 ? fuzz_keys() : NULL;
	cfg.literal_keep = (mode >> 7) & 1 ? 16 : IMAP_DEFAULT_LITERAL_KEEP;
	cfg.budget = &budget;
	cfg.tap = (struct imap_tap){ .ctx = &f, .data = tap_data, .gap = tap_gap, .end = tap_end,
				     .mark = tap_mark };
	f.show_secrets = cfg.show_secrets;
	cfg.notice = on_notice;
	fuzz_extract_init(&fx, &cfg.extract);
	f.s = imap_session_new(&cfg, &info);
	FUZZ_CHECK(f.s != NULL);
	FUZZ_CHECK(fo.n == 1);	/* session_start at once */
	ts = fuzz_drive(data + 1, size - 1, mode, 1, &ops);
	if (!f.ended)
		imap_session_ops.end(f.s, END_EOF, ts);
	fuzz_out_check_all_ended(&fo);
	fuzz_extract_done(&fx);
	FUZZ_CHECK(f.tap_ended);
	FUZZ_CHECK(cfg.out.ops->finish(cfg.out.ctx) == 0);
	cfg.out.ops->free(cfg.out.ctx);
	fuzz_out_done(&fo);
	FUZZ_CHECK(budget.used == 0);	/* every charged byte was given back */
	FUZZ_CHECK(report_budget.used == 0);
	return 0;
}
