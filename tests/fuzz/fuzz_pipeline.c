/* libFuzzer target: the whole pipeline fed a capture file, through the
 * run (app/run.h) that the program itself uses.  The input is written to a
 * memfd and read by path like any capture; every packet goes through
 * decode, the flow table (small caps, so eviction and the out-of-order cap
 * are reached), reassembly and one session per flow, with the fixed TLS
 * keys; every event goes to the checking output, which also checks it as
 * JSON and text and passes it to --summary and --logins (charged to the
 * run's budget); bodies go to the checking --extract hooks; every notice is
 * checked.  Seeds are the capture files themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "app/run.h"
#include "fuzz_common.h"
#include "net/capture.h"

#define PIPE_MAX_FLOWS    16
#define PIPE_MAX_OOO      (64 * 1024)
#define PIPE_MEMORY       ((size_t)64 << 20)
#define PIPE_LITERAL_KEEP 4096

/* The run's options: quiet (a fuzzer's stderr is for crashes), small caps,
 * and the ports of the captures the seeds come from. */
static void pipe_options(struct run_options *o, const char *path)
{
	run_options_defaults(o);
	o->inputs[o->n_inputs++] = path;
	o->quiet = true;
	o->literal_keep = PIPE_LITERAL_KEEP;
	o->max_memory = PIPE_MEMORY;
	o->flow.max_flows = PIPE_MAX_FLOWS;
	o->flow.max_ooo_bytes = PIPE_MAX_OOO;
	FUZZ_CHECK(flow_config_add_port(&o->flow, 1143, false) == 0);
	FUZZ_CHECK(flow_config_add_port(&o->flow, 1993, true) == 0);
	/* the port of the TLS suite captures in tests/data/tls */
	FUZZ_CHECK(flow_config_add_port(&o->flow, 14308, true) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run_options opt;	/* big: off the stack */
	struct mem_budget budget = { .limit = PIPE_MEMORY };
	struct run_sinks sinks = { 0 };
	struct fuzz_extract fx;
	struct fuzz_out fo;
	struct capture *cap;
	char path[64], err[CAPTURE_ERRLEN];
	uint64_t notices = 0;
	int fd, rc;

	fd = memfd_create("fuzz.pcap", 0);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	/* Not a capture at all: the run would only say so on stderr. */
	if (capture_open_file(&cap, path, NULL, err) != 0) {
		FUZZ_CHECK(memchr(err, '\0', CAPTURE_ERRLEN) != NULL && err[0] != '\0');
		close(fd);
		return 0;
	}
	capture_free(&cap);
	pipe_options(&opt, path);
	fuzz_out_init(&fo, &sinks.out, true, &budget);
	fuzz_extract_init(&fx, &sinks.extract);
	sinks.keys = fuzz_keys();
	sinks.budget = &budget;
	sinks.notice = fuzz_on_notice;
	sinks.notice_ctx = &notices;
	rc = run_main(&opt, &sinks);
	FUZZ_CHECK(rc == RUN_OK || rc == RUN_INPUT);
	close(fd);
	fuzz_out_check_all_ended(&fo);
	fuzz_extract_done(&fx);
	fuzz_out_done(&fo);
	FUZZ_CHECK(budget.used == 0);	/* every charged byte was given back */
	return 0;
}
