/* The run: every layer wired together, capture -> decode -> flow ->
 * reassembly -> session -> outputs, with the prepasses (--user, key logs
 * past their memory share), the session filter, --streams, --extract, the
 * progress line and the one stderr path of notices.
 *
 * main.c parses the command line into struct run_options and calls
 * run_main; a program that brings its own event sink (the fuzz targets)
 * fills struct run_sinks as well.  This is the only module that knows every
 * layer. */
#ifndef IMAPSCOPE_APP_RUN_H
#define IMAPSCOPE_APP_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_event.h"
#include "imap/imap_session.h"
#include "net/flow.h"
#include "report/event_filter.h"
#include "report/filter.h"
#include "report/sessions.h"
#include "report/logins.h"
#include "util/buf.h"
#include "util/notice.h"

#define RUN_MAX_INPUTS 256
#define RUN_MAX_KEYLOGS 64
#define RUN_DEFAULT_MAX_MEMORY ((size_t)1 << 30)	/* 1 GiB for all buffers */
#define RUN_KEYS_MEMORY_SHARE 2		/* key logs may fill 1/2 of --max-memory */
#define RUN_MAX_NOTICES_SHOWN 1000	/* stderr lines per run; the rest are counted */

/* Exit statuses of the program, returned by run_main. */
enum run_status { RUN_OK = 0, RUN_INPUT = 1, RUN_USAGE = 2 };

/* The reports a run writes (struct run_options.reports): any set of them,
 * each to the output file in its own lines; none is the timeline. */
#define RUN_REPORT_LOGINS (1u << 0)
#define RUN_REPORT_SUMMARY (1u << 1)
#define RUN_REPORT_ACTIVITY (1u << 2)
#define RUN_REPORT_SESSIONS (1u << 3)	/* --sessions: report/sessions.h */
#define RUN_REPORT_FOLLOW (1u << 4)	/* --follow N: report/follow.h */
/* --html: the page goes to html_path, beside whatever else is written */
#define RUN_REPORT_HTML (1u << 5)

/* What to do; filled by the caller (run_options_defaults first).  The
 * strings must outlive the run. */
struct run_options {
	const char *inputs[RUN_MAX_INPUTS];	/* files; "-" is stdin */
	size_t n_inputs;
	const char *iface;		/* live capture instead of inputs */
	const char *bpf;		/* a compiled-checked filter, or NULL */
	unsigned reports;		/* RUN_REPORT_*; 0: the timeline */
	bool json;
	int color;			/* -1 auto, 0 never, 1 always */
	bool frames;			/* --frames: text shows record numbers */
	bool check;			/* --check: findings (report/check.h) */
	int width;			/* --width: -1 the terminal's (0 when not
					   one), 0 lines whole, else columns */
	const char *output_path;	/* NULL or "-": stdout */
	const char *streams_dir;	/* --streams, or NULL */
	const char *extract_dir;	/* --extract, or NULL */
	const char *decrypted_path;	/* --write-decrypted, or NULL; "-": stdout */
	const char *html_path;		/* --html (RUN_REPORT_HTML), or NULL */
	bool force;
	const char *keylogs[RUN_MAX_KEYLOGS];
	size_t n_keylogs;
	const char *rsa_key;
	struct logins_opts logins_opts;	/* its budget is the run's */
	bool show_secrets;
	struct filter_opts only;	/* --session, --host, --user */
	struct event_filter_opts events;	/* --since, --until, --status, ... */
	uint64_t max_packets;		/* live only; 0: no limit */
	unsigned duration_s;		/* live only; 0: no limit */
	const char *save_path;		/* live only: -w */
	bool quiet;
	struct flow_config flow;	/* its budget is the run's */
	size_t literal_keep;
	size_t max_memory;
	uint64_t max_inflate;		/* 0: INFLATE_DEFAULT_MAX_TOTAL */
	const char *keys_pcapng_path;	/* --write-keys-pcapng, or NULL */
	enum sessions_col sessions_sort;	/* --sessions --sort; SESSIONS_COL_ID */
	uint64_t follow_session;	/* --follow N */
	uint64_t max_follow_literal;	/* FOLLOW_DEFAULT_MAX_LITERAL by default */
};

/* For a program that embeds the run.  Every member may be left zero. */
struct run_sinks {
	/* Every event of every session the filter keeps, instead of the
	 * output the options name.  The run calls its finish and free when it
	 * gets to the end; a run stopped before its first packet (a key file
	 * or input refused) calls neither. */
	struct output out;
	/* Message bodies, instead of --extract's files. */
	struct imap_extract_hooks extract;
	/* Keys, when no key file is named. */
	const struct tls_keys *keys;
	/* The budget everything is charged to, instead of one of
	 * --max-memory (whose limit it keeps). */
	struct mem_budget *budget;
	/* Every notice, before stderr has its say (also with -q). */
	notice_fn *notice;
	void *notice_ctx;
	/* Another layer above the flow table instead of the IMAP sessions
	 * (the fuzz seed extractor records the streams): when open is set,
	 * each IMAP flow is opened by open(open_ctx, fi) and fed through ops;
	 * the filter, the outputs and the folders then see nothing. */
	void *(*open)(void *open_ctx, const struct flow_info *fi);
	void *open_ctx;
	const struct byte_layer_ops *ops;
};

/* The defaults: no input, text timeline, standard ports and caps. */
void run_options_defaults(struct run_options *o);

/* Run every layer over the inputs (or the interface) and write the
 * outputs.  o->flow is completed (budget, live ports) during the call.
 * sinks may be NULL.  Returns the exit status: RUN_OK; RUN_INPUT when an
 * input could not be read (or memory ran out before the first packet);
 * RUN_USAGE when a key file, an output or a folder is refused, or an
 * output could not be written.  Errors are said on stderr. */
int run_main(struct run_options *o, const struct run_sinks *sinks);

/* The flow table's classify hook: whether a first payload is IMAP and who
 * sent it (imap_session_classify's answer as a flow verdict).  ctx is
 * unused.  For a program that builds its own flow table (the fuzz seed
 * extractor). */
enum flow_verdict run_classify(void *ctx, const uint8_t *p, size_t n);

/* Stop reading soon (SIGINT, SIGTERM, --duration's alarm): safe to call
 * from a signal handler.  The run still writes its outputs. */
void run_interrupt(void);

#endif
