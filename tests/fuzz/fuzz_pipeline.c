/* libFuzzer target: the whole pipeline fed a capture file.  The input is
 * written to a memfd and opened by path like any capture; every packet goes
 * through decode, the flow table (small caps, so eviction and the
 * out-of-order cap are reached), reassembly and one session per flow, with
 * the fixed TLS keys; every event goes to the checking output, which also
 * checks it as JSON and text and passes it to --summary and --logins
 * (charged to the same budget, as in a run).  Seeds are the capture files themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "imap/imap_lexer.h"
#include "imap/imap_session.h"
#include "net/capture.h"
#include "net/decode.h"
#include "net/flow.h"
#include "tls/tls_layer.h"

#define PIPE_MAX_FLOWS    16
#define PIPE_MAX_OOO      (64 * 1024)
#define PIPE_MEMORY       ((size_t)64 << 20)
#define PIPE_LITERAL_KEEP 4096

struct pipe_fuzz {
	struct imap_session_config scfg;
	struct flow_table *ft;
	struct decode_stats dstats;
	int64_t last_ts;
	uint64_t opened;
};

static void on_notice(void *ctx, uint64_t session, int64_t ts_us, const char *msg)
{
	(void)ctx;
	(void)session;
	(void)ts_us;
	FUZZ_CHECK(msg != NULL);
	fuzz_touch((struct buf_slice){ (const uint8_t *)msg, strlen(msg) });
}

static void on_flow_notice(void *ctx, uint64_t session, void *sctx, int64_t ts_us,
			   const struct notice_facts *f, const char *msg)
{
	(void)sctx;
	FUZZ_CHECK(f != NULL && f->kind != NULL);
	on_notice(ctx, session, ts_us, msg);
}

static enum flow_verdict on_classify(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	switch (imap_session_classify(p, n)) {
	case 0: return FLOW_SENDER_IS_CLIENT;
	case 1: return FLOW_SENDER_IS_SERVER;
	case 2: return FLOW_UNSURE;
	case -1: return FLOW_NOT_IMAP;
	default: FUZZ_CHECK(!"classify out of range");
	}
	return FLOW_NOT_IMAP;
}

static void *on_open(void *ctx, const struct flow_info *fi)
{
	struct pipe_fuzz *f = ctx;
	char client[FLOW_ADDRSTRLEN], server[FLOW_ADDRSTRLEN];
	struct imap_session_info info = {
		.id = fi->session_id,
		.client = flow_endpoint_str(&fi->client, client),
		.server = flow_endpoint_str(&fi->server, server),
		.mid_stream = fi->mid_stream,
		.implicit_tls = fi->implicit_tls,
		.first_ts_us = fi->first_ts_us,
	};

	FUZZ_CHECK(fi->session_id == ++f->opened);	/* 1, 2, ... */
	return imap_session_new(&f->scfg, &info);
}

static void on_packet(void *ctx, const struct capture_pkt *pkt)
{
	struct pipe_fuzz *f = ctx;
	struct decode_seg seg;
	enum decode_result r;

	FUZZ_CHECK(pkt->caplen == 0 || pkt->data != NULL);
	f->last_ts = pkt->ts_us;
	r = decode_packet(pkt, &seg, &f->dstats);
	FUZZ_CHECK(r < DECODE_N_RESULTS && decode_result_name(r) != NULL);
	if (r != DECODE_OK)
		return;
	FUZZ_CHECK(seg.af == 4 || seg.af == 6);
	FUZZ_CHECK(seg.paylen <= pkt->caplen);
	if (seg.paylen > 0)
		FUZZ_CHECK(seg.payload >= pkt->data &&
			   seg.payload + seg.paylen <= pkt->data + pkt->caplen);
	flow_table_segment(f->ft, &seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem_budget budget = { .limit = PIPE_MEMORY };
	struct fuzz_extract fx;
	struct pipe_fuzz f = { 0 };
	struct fuzz_out fo;
	struct flow_config cfg;
	struct flow_hooks hooks = {
		.ctx = &f, .classify = on_classify, .open = on_open,
		.ops = &imap_session_ops, .notice = on_flow_notice,
	};
	struct capture *cap;
	char path[64], err[CAPTURE_ERRLEN];
	int fd, rc;

	fd = memfd_create("fuzz.pcap", 0);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	if (capture_open_file(&cap, path, NULL, err) != 0) {
		FUZZ_CHECK(memchr(err, '\0', CAPTURE_ERRLEN) != NULL && err[0] != '\0');
		close(fd);
		return 0;
	}
	fuzz_out_init(&fo, &f.scfg.out, true, &budget);
	f.scfg.literal_keep = PIPE_LITERAL_KEEP;
	f.scfg.budget = &budget;
	f.scfg.tls = &tls_layer_ops;
	f.scfg.tls_conf = fuzz_keys();
	f.scfg.notice = on_notice;
	fuzz_extract_init(&fx, &f.scfg.extract);
	flow_config_defaults(&cfg);
	cfg.max_flows = PIPE_MAX_FLOWS;
	cfg.max_ooo_bytes = PIPE_MAX_OOO;
	cfg.budget = &budget;
	FUZZ_CHECK(flow_config_add_port(&cfg, 1143, false) == 0);
	FUZZ_CHECK(flow_config_add_port(&cfg, 1993, true) == 0);
	/* the port of the TLS suite captures in tests/data/tls */
	FUZZ_CHECK(flow_config_add_port(&cfg, 14308, true) == 0);
	f.ft = flow_table_new(&cfg, &hooks);
	FUZZ_CHECK(f.ft != NULL);

	rc = capture_run(cap, on_packet, &f, 0, err);
	FUZZ_CHECK(rc == 0 || rc == -1);	/* 1 only after capture_break */
	if (rc < 0)
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', CAPTURE_ERRLEN) != NULL);
	flow_table_finish(f.ft, f.last_ts);
	FUZZ_CHECK(flow_table_stats(f.ft)->sessions_opened == f.opened);
	flow_table_free(&f.ft);
	capture_free(&cap);
	close(fd);
	fuzz_out_check_all_ended(&fo);
	fuzz_extract_done(&fx);
	fuzz_out_done(&fo);
	FUZZ_CHECK(budget.used == 0);	/* every charged byte was given back */
	return 0;
}
