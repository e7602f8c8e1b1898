/* The run: every layer wired together (see app/run.h). */
#include "app/run.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/keys_pcapng.h"
#include "imap/imap_lexer.h"
#include "net/capture.h"
#include "net/community_id.h"
#include "net/decode.h"
#include "report/activity.h"
#include "report/check.h"
#include "report/decrypted_pcap.h"
#include "report/extract.h"
#include "report/follow.h"
#include "report/html.h"
#include "report/output_json.h"
#include "report/output_tee.h"
#include "report/output_text.h"
#include "report/streams.h"
#include "report/summary.h"
#include "tls/keylog.h"
#include "tls/tls_layer.h"
#include "util/outdir.h"

#define PROGRESS_EVERY_PKTS 0x3fff	/* look at the clock every 16384 packets */
#define PROGRESS_INTERVAL_NS 250000000LL

/* Everything a run shares; passed as the ctx of every hook. */
struct run {
	const struct run_options *opt;
	const struct run_sinks *sinks;	/* never NULL (zeroes when not given) */
	struct mem_budget own_budget;
	struct mem_budget *budget;	/* own_budget or the sinks' */
	/* The filter is applied once, when a session opens: the sessions it
	 * keeps get shown, the others hidden (no output, no files, notices
	 * only counted). */
	struct imap_session_config shown;
	struct imap_session_config hidden;
	struct output out;		/* the chosen output */
	bool out_made;			/* out is the run's own, not the sinks' */
	struct filter *filter;		/* --session/--host/--user */
	struct event_filter *efilter;	/* --since, --status, ...; or NULL */
	bool matched;			/* a session was shown */
	struct streams *streams;	/* --streams, or NULL */
	struct extract *extract;	/* --extract, or NULL */
	struct dpcap *dpcap;		/* --write-decrypted, or NULL */
	struct follow *follow;		/* --follow, or NULL; owned by out */
	struct flow_table *flows;
	struct decode_stats dstats;
	struct capture *cap;
	struct tls_keys *keys;		/* loaded here, or NULL */
	struct keys_pcapng *keys_pcapng;	/* --write-keys-pcapng, or NULL */
	FILE *fp;			/* the output's file */
	/* --logins --summary as text: the summary's blocks wait here (a
	 * temporary file, not memory), written after the login table. */
	FILE *later;
	FILE *html_fp;			/* --html's, until its output owns it */
	int64_t last_ts_us;
	size_t input;			/* index of the input being read */
	uint64_t frame;			/* the packet being read (a frame id) */
	uint64_t notices;
	uint64_t notices_hidden;	/* past RUN_MAX_NOTICES_SHOWN */
	char live_filter[CAPTURE_FILTER_LEN];	/* the IMAP ports, for -i */
	bool prepass;			/* a pass that only learns, printing nothing */
	int fatal;			/* an exit status that ends the run at once, or 0 */
	bool progress;			/* a progress line on stderr */
	uint64_t pkts;
	struct timespec started, last_progress;
};

/* The only mutable globals: a signal handler has no context to be given. */
static volatile sig_atomic_t g_stop;	/* set by run_interrupt */
static struct capture *volatile g_cap;	/* for capture_break from a handler */

void run_interrupt(void)
{
	g_stop = 1;
	if (g_cap != NULL)
		capture_break(g_cap);
}

void run_options_defaults(struct run_options *o)
{
	memset(o, 0, sizeof *o);
	flow_config_defaults(&o->flow);
	o->color = -1;
	o->width = -1;
	o->literal_keep = IMAP_DEFAULT_LITERAL_KEEP;
	o->max_memory = RUN_DEFAULT_MAX_MEMORY;
	o->max_follow_literal = FOLLOW_DEFAULT_MAX_LITERAL;
}

/* --- notices ----------------------------------------------------------- */

/* The one stderr path of every notice: "imapscope: [session N: ]text".
 * Notices of sessions the filter hides come to run_notice_hidden. */
static void run_notice(void *ctx, const struct notice *n)
{
	struct run *r = ctx;

	r->notices++;
	if (r->sinks->notice != NULL)
		r->sinks->notice(r->sinks->notice_ctx, n);
	if (r->opt->quiet || r->prepass)
		return;
	/* A million damaged sessions must not mean a million stderr lines. */
	if (r->notices - r->notices_hidden > RUN_MAX_NOTICES_SHOWN) {
		r->notices_hidden++;
		return;
	}
	if (r->progress)
		fputs("\r\033[K", stderr);	/* the notice replaces the progress line */
	if (n->session != 0)
		fprintf(stderr, "imapscope: session %" PRIu64 ": %s\n", n->session, n->text);
	else
		fprintf(stderr, "imapscope: %s\n", n->text);
}

/* Counted like every notice (their count decides when stderr goes quiet),
 * never shown. */
static void run_notice_hidden(void *ctx, const struct notice *n)
{
	struct run *r = ctx;

	r->notices++;
	if (r->sinks->notice != NULL)
		r->sinks->notice(r->sinks->notice_ctx, n);
}

static void run_say(struct run *r, enum notice_kind kind, int64_t ts_us, const char *text)
{
	struct notice n = NOTICE_OF(kind);

	n.ts_us = ts_us;
	n.text = text;
	run_notice(r, &n);
}

/* --- hooks of the flow table ------------------------------------------ */

enum flow_verdict run_classify(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	switch (imap_session_classify(p, n)) {
	case 0: return FLOW_SENDER_IS_CLIENT;
	case 1: return FLOW_SENDER_IS_SERVER;
	case 2: return FLOW_UNSURE;
	default: return FLOW_NOT_IMAP;
	}
}

/* The session's endpoints, typed, and its flow ids: made once, here,
 * since the session layer knows nothing of net. */
_Static_assert(EVENT_COMMUNITY_ID_LEN == COMMUNITY_ID_LEN, "the Community ID fits the event's");
_Static_assert(sizeof ((struct event_flow *)0)->client_ip == sizeof ((struct flow_endpoint *)0)->addr,
	       "an address is copied whole");

static void run_flow_facts(const struct flow_info *fi, struct event_flow *f)
{
	f->af = fi->client.af;
	memcpy(f->client_ip, fi->client.addr, sizeof f->client_ip);
	memcpy(f->server_ip, fi->server.addr, sizeof f->server_ip);
	f->client_port = fi->client.port;
	f->server_port = fi->server.port;
	f->flow_id = community_flow_id(&fi->client, &fi->server, fi->first_ts_us);
	if (community_id_v1(&fi->client, &fi->server, COMMUNITY_ID_PROTO_TCP, 0,
			    f->community_id) < 0)
		f->community_id[0] = '\0';
}

static void dpcap_endpoint_of(struct dpcap_endpoint *to, const struct flow_endpoint *from)
{
	to->af = from->af;
	memcpy(to->addr, from->addr, sizeof to->addr);
	to->port = from->port;
}

static void run_dpcap_open(struct run *r, const struct flow_info *fi)
{
	struct dpcap_endpoint c, s;

	dpcap_endpoint_of(&c, &fi->client);
	dpcap_endpoint_of(&s, &fi->server);
	dpcap_open(r->dpcap, fi->session_id, &c, &s, fi->mid_stream, fi->first_ts_us);
}

/* A new session, and the one place the filter is applied: a prepass sees
 * every session; otherwise the filter decides, once, from the id and the
 * endpoints (and the --user prepass's findings). */
static void *run_open(void *ctx, const struct flow_info *fi)
{
	struct run *r = ctx;
	char client[FLOW_ADDRSTRLEN], server[FLOW_ADDRSTRLEN];
	struct imap_session_info info = {
		.id = fi->session_id,
		.client = flow_endpoint_str(&fi->client, client),
		.server = flow_endpoint_str(&fi->server, server),
		.mid_stream = fi->mid_stream,
		.implicit_tls = fi->implicit_tls,
		.first_ts_us = fi->first_ts_us,
		.first_frame = fi->first_frame,
	};
	struct imap_session *s;
	bool shown;

	run_flow_facts(fi, &info.flow);
	if (r->sinks->open != NULL)
		return r->sinks->open(r->sinks->open_ctx, fi);
	shown = r->prepass || filter_wants(r->filter, info.id, info.client, info.server);
	if (!shown)
		return imap_session_new(&r->hidden, &info);
	if (r->streams != NULL && !r->prepass)
		streams_open(r->streams, info.id, info.client, info.server);
	if (r->dpcap != NULL && !r->prepass)
		run_dpcap_open(r, fi);
	s = imap_session_new(&r->shown, &info);
	if (s != NULL && !r->prepass)
		r->matched = true;	/* its session_start went out */
	return s;
}

/* --streams and --write-decrypted: the final bytes of the shown sessions,
 * to whichever is on. */
static void run_tap_data(void *ctx, uint64_t session, enum stream_dir dir, const uint8_t *p,
			 size_t n, int64_t ts_us)
{
	struct run *r = ctx;

	if (r->streams != NULL)
		streams_data(r->streams, session, dir, p, n);
	if (r->dpcap != NULL)
		dpcap_data(r->dpcap, session, dir, p, n, ts_us);
	if (r->follow != NULL)	/* the packet being read completed them */
		follow_data(r->follow, session, dir, p, n, ts_us, r->frame);
}

static void run_tap_gap(void *ctx, uint64_t session, enum stream_dir dir, uint64_t nbytes,
			int64_t ts_us)
{
	struct run *r = ctx;

	if (r->streams != NULL)
		streams_gap(r->streams, session, dir, nbytes);
	if (r->dpcap != NULL)
		dpcap_gap(r->dpcap, session, dir, nbytes, ts_us);
	if (r->follow != NULL)
		follow_gap(r->follow, session, dir, nbytes, ts_us, r->frame);
}

static void run_tap_not_imap(void *ctx, uint64_t session)
{
	struct run *r = ctx;

	if (r->dpcap != NULL)
		dpcap_not_imap(r->dpcap, session);
	if (r->follow != NULL)
		follow_not_imap(r->follow, session);
}

static void run_tap_end(void *ctx, uint64_t session, const struct imap_tap_end *e)
{
	struct run *r = ctx;

	if (r->streams != NULL)
		streams_end(r->streams, session);
	if (r->dpcap != NULL)
		dpcap_end(r->dpcap, session, e);
	if (r->follow != NULL)
		follow_end(r->follow, session);
}

/* --follow only: where literals and secrets lie. */
static void run_tap_mark(void *ctx, uint64_t session, const struct imap_tap_mark *m)
{
	struct run *r = ctx;

	follow_mark(r->follow, session, m);
}

static const struct imap_tap run_no_tap = { .ctx = NULL };

/* --extract: the session's body hooks (shown sessions only). */
static void *run_extract_begin(void *ctx, uint64_t session, const struct extract_meta *m)
{
	return extract_begin(ctx, session, m);
}

static void run_extract_data(void *ctx, void *item, const uint8_t *p, size_t n)
{
	extract_data(ctx, item, p, n);
}

static void run_extract_gap(void *ctx, void *item, uint64_t nbytes)
{
	extract_gap(ctx, item, nbytes);
}

static void run_extract_end(void *ctx, void *item, uint64_t uid, uint64_t seq, bool unsent)
{
	extract_end(ctx, item, uid, seq, unsent);
}

/* --- the packet loop --------------------------------------------------- */

static int64_t elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

/* "imapscope: 312.4 of 750.0 MB, 1204 MB/s, 41 sessions, 1 s left", on one
 * stderr line rewritten in place; only on a terminal and without -q.  The
 * last call erases it. */
static void progress_tick(struct run *r, bool last)
{
	struct timespec now;
	double secs, done_mb, total_mb, rate;
	uint64_t total, sessions;

	if (last) {
		fputs("\r\033[K", stderr);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (elapsed_ns(&r->last_progress, &now) < PROGRESS_INTERVAL_NS)
		return;
	r->last_progress = now;
	total = capture_file_size(r->cap);
	sessions = flow_table_stats(r->flows)->sessions_opened;
	secs = (double)elapsed_ns(&r->started, &now) / 1e9;
	done_mb = (double)capture_bytes_read(r->cap) / 1e6;
	total_mb = (double)total / 1e6;
	rate = secs > 0 ? done_mb / secs : 0;
	if (total != 0 && rate > 0)
		fprintf(stderr, "\rimapscope: %.1f of %.1f MB, %.0f MB/s, %" PRIu64
			" sessions, %.0f s left\033[K", done_mb, total_mb, rate, sessions,
			(total_mb - done_mb) / rate);
	else
		fprintf(stderr, "\rimapscope: %.1f MB, %" PRIu64 " sessions\033[K",
			done_mb, sessions);
}

static void on_packet(void *ctx, const struct capture_pkt *pkt)
{
	struct run *r = ctx;
	struct decode_seg seg;

	r->last_ts_us = pkt->ts_us;
	r->frame = FRAME_ID(r->input, pkt->frame);
	if (decode_packet(pkt, &seg, &r->dstats) == DECODE_OK)
		flow_table_segment(r->flows, &seg);
	if (r->opt->iface != NULL) {	/* live: events reach | jq as they happen */
		if (r->out.ops->flush != NULL)
			r->out.ops->flush(r->out.ctx);
	} else if (r->progress && (++r->pkts & PROGRESS_EVERY_PKTS) == 0) {
		progress_tick(r, false);
	}
}

static void report_decode_stats(struct run *r, const char *what)
{
	char line[1024];
	size_t len = 0;
	int i;

	for (i = 1; i < DECODE_N_RESULTS; i++) {
		uint64_t n = r->dstats.count[i];

		if (i == DECODE_NOT_TCP || i == DECODE_NOT_IP || n == 0)
			continue;
		len += (size_t)snprintf(line + len, sizeof line - len, "%s%" PRIu64 " %s",
					len ? ", " : "", n, decode_result_name((enum decode_result)i));
		if (len >= sizeof line)
			break;
	}
	if (r->dstats.snaplen_cut != 0 && len < sizeof line)
		len += (size_t)snprintf(line + len, sizeof line - len,
					"%s%" PRIu64 " packets cut short by the snap length",
					len ? ", " : "", r->dstats.snaplen_cut);
	if (len != 0) {
		char msg[1400];

		snprintf(msg, sizeof msg, "%s: %s", what, line);
		run_say(r, NOTICE_DECODE, r->last_ts_us, msg);
	}
	memset(&r->dstats, 0, sizeof r->dstats);
}

/* Reads one source to its end.  Returns RUN_OK, RUN_INPUT if it could not
 * be read at all, or RUN_USAGE if -w's file is refused. */
static int run_source(struct run *r, const char *path)
{
	char err[CAPTURE_ERRLEN];
	const struct run_options *o = r->opt;
	int rc;

	if (o->iface != NULL)
		rc = capture_open_live(&r->cap, o->iface, o->bpf ? o->bpf : r->live_filter, err);
	else
		rc = capture_open_file(&r->cap, path, o->bpf, err);
	if (rc != 0) {
		if (r->prepass)
			return RUN_INPUT;
		/* the capture layer's reason names no interface or file */
		fprintf(stderr, "imapscope: %s: %s\n", o->iface != NULL ? o->iface : path, err);
		return RUN_INPUT;
	}
	capture_set_notice(r->cap, run_notice, r);
	if (o->save_path != NULL && capture_save_to(r->cap, o->save_path, err) != 0) {
		fprintf(stderr, "imapscope: %s\n", err);	/* err names the file */
		capture_free(&r->cap);
		r->fatal = RUN_USAGE;
		return RUN_USAGE;
	}
	g_cap = r->cap;
	if (o->duration_s != 0)
		alarm(o->duration_s);
	rc = capture_run(r->cap, on_packet, r, o->max_packets, err);
	g_cap = NULL;
	if (r->progress)
		progress_tick(r, true);
	if (rc < 0 && !r->prepass)
		fprintf(stderr, "imapscope: %s: %s (processed what came before)\n", path, err);
	if (o->iface != NULL && capture_drops(r->cap) != 0 && !o->quiet)
		fprintf(stderr, "imapscope: %s: %" PRIu64 " packets dropped by the kernel\n",
			path, capture_drops(r->cap));
	report_decode_stats(r, path);
	capture_free(&r->cap);
	return RUN_OK;
}

/* One pass over every input: a fresh flow table, the sources in order, and
 * the end of every session still open.  Returns the exit status so far. */
static int run_inputs(struct run *r)
{
	const struct run_options *o = r->opt;
	struct flow_hooks hooks = {
		.ctx = r, .classify = run_classify, .open = run_open,
		.ops = r->sinks->open != NULL ? r->sinks->ops : &imap_session_ops,
		.notice = run_notice,
	};
	struct flow_config fc = o->flow;
	int status = RUN_OK, rc;
	size_t i;

	fc.frame_src = &r->frame;
	r->flows = flow_table_new(&fc, &hooks);
	if (r->flows == NULL) {
		fputs("imapscope: out of memory\n", stderr);
		r->fatal = RUN_INPUT;
		return RUN_INPUT;
	}
	if (o->iface != NULL) {
		status = run_source(r, o->iface);
	} else {
		for (i = 0; i < o->n_inputs && !g_stop && !r->fatal; i++) {
			r->input = i;
			if ((rc = run_source(r, o->inputs[i])) != RUN_OK)
				status = rc;
		}
	}
	flow_table_finish(r->flows, r->last_ts_us);
	flow_table_free(&r->flows);
	return status;
}

/* --- prepasses --------------------------------------------------------- */

static void null_event(void *ctx, const struct event *ev)
{
	(void)ctx;
	(void)ev;
}

static int null_finish(void *ctx)
{
	(void)ctx;
	return 0;
}

static void null_free(void *ctx)
{
	(void)ctx;
}

static const struct output_ops null_output_ops = {
	.event = null_event, .finish = null_finish, .free = null_free,
};

/* A pass over every input that only learns: every session's events go to
 * out (which learns), nothing is printed or written, and what the pass
 * counted (notices, refusals) is forgotten.  Returns out's finish(). */
static int run_prepass(struct run *r, struct output out)
{
	struct imap_session_config real = r->shown;
	int rc;

	r->prepass = true;
	r->shown.out = out;
	r->shown.tap = run_no_tap;
	r->shown.extract = (struct imap_extract_hooks){ NULL, NULL, NULL, NULL, NULL };
	(void)run_inputs(r);	/* the real pass says what could not be read */
	rc = out.ops->finish(out.ctx);
	r->shown = real;
	r->prepass = false;
	r->notices = 0;
	r->budget->refused = 0;
	return rc;
}

/* Files can be read twice; stdin, pipes and live capture cannot. */
static bool inputs_rereadable(const struct run_options *o)
{
	struct stat st;
	size_t i;

	if (o->iface != NULL)
		return false;
	for (i = 0; i < o->n_inputs; i++)
		if (strcmp(o->inputs[i], "-") == 0 || stat(o->inputs[i], &st) != 0 ||
		    !S_ISREG(st.st_mode))
			return false;
	return true;
}

/* Key material is read before any packet: a key file that cannot be used is
 * bad usage, not something to discover half-way through. */
static int load_keys(struct run *r)
{
	const struct run_options *o = r->opt;
	char err[KEYLOG_ERRLEN];
	size_t i;

	if (o->n_keylogs == 0 && o->rsa_key == NULL)
		return RUN_OK;
	r->keys = tls_keys_new();
	if (r->keys == NULL) {
		fputs("imapscope: out of memory\n", stderr);
		return RUN_INPUT;
	}
	tls_keys_set_budget(r->keys, r->budget, o->max_memory / RUN_KEYS_MEMORY_SHARE);
	for (i = 0; i < o->n_keylogs; i++) {
		if (keylog_load_file(r->keys, o->keylogs[i], run_notice, r, err) != 0) {
			fprintf(stderr, "imapscope: %s\n", err);
			return RUN_USAGE;
		}
	}
	if (o->rsa_key != NULL && tls_keys_load_rsa(r->keys, o->rsa_key, err) != 0) {
		fprintf(stderr, "imapscope: %s\n", err);
		return RUN_USAGE;
	}
	return RUN_OK;
}

/* The key logs did not fit in their share of --max-memory.  When the
 * inputs can be read twice, one pass that prints nothing learns the client
 * randoms of the capture's handshakes, and the key logs are read again
 * keeping only those; otherwise what fitted is kept.  Either way it is
 * said once. */
static int load_keys_lazily(struct run *r)
{
	const struct run_options *o = r->opt;
	size_t share = o->max_memory / RUN_KEYS_MEMORY_SHARE, kept = tls_keys_count(r->keys);
	char err[KEYLOG_ERRLEN], msg[512];
	size_t i;

	if (r->keys == NULL || !tls_keys_full(r->keys))
		return RUN_OK;
	if (!inputs_rereadable(o)) {
		snprintf(msg, sizeof msg, "key logs: over their share of --max-memory (%zu bytes)"
			 " after %zu client randoms; %" PRIu64 " more lines dropped (the input is"
			 " read once, so the entries it needs cannot be picked): sessions whose"
			 " entries were dropped are not decrypted", share, kept,
			 tls_keys_dropped(r->keys));
		run_say(r, NOTICE_KEYLOG, 0, msg);
		return RUN_OK;
	}
	tls_keys_collect_begin(r->keys);
	(void)run_prepass(r, (struct output){ &null_output_ops, NULL });
	tls_keys_collect_end(r->keys);
	if (r->fatal)
		return r->fatal;
	for (i = 0; i < o->n_keylogs; i++) {
		if (keylog_load_file(r->keys, o->keylogs[i], NULL, NULL, err) != 0) {
			fprintf(stderr, "imapscope: %s\n", err);
			return RUN_USAGE;
		}
	}
	snprintf(msg, sizeof msg, "key logs: over their share of --max-memory (%zu bytes)"
		 " after %zu client randoms; loaded again keeping only those of the capture's"
		 " %zu TLS handshakes (%zu found)%s", share, kept,
		 tls_keys_wanted_count(r->keys), tls_keys_count(r->keys),
		 tls_keys_want_full(r->keys) ? ", though not every handshake could be noted" : "");
	run_say(r, NOTICE_KEYLOG, 0, msg);
	if (tls_keys_full(r->keys)) {
		snprintf(msg, sizeof msg, "key logs: even the entries the capture needs pass"
			 " the share: %" PRIu64 " lines dropped; the sessions they were for are"
			 " not decrypted", tls_keys_dropped(r->keys));
		run_say(r, NOTICE_KEYLOG, 0, msg);
	}
	return RUN_OK;
}

/* --user: a prepass finds the sessions where the user tried to log in. */
static int find_user_sessions(struct run *r)
{
	if (r->opt->only.user == NULL)
		return RUN_OK;
	if (run_prepass(r, filter_collector(r->filter)) != 0 && !r->fatal) {
		fputs("imapscope: out of memory finding the --user sessions\n", stderr);
		return RUN_INPUT;
	}
	return r->fatal;
}

/* --- setting up and ending --------------------------------------------- */

/* Every file is opened once before anything is printed, so that a missing
 * or unreadable input is one error line, not an error after output. */
static int check_inputs(const struct run_options *o)
{
	char err[CAPTURE_ERRLEN];
	struct capture *c;
	size_t i;

	for (i = 0; i < o->n_inputs; i++) {
		if (strcmp(o->inputs[i], "-") == 0)
			continue;
		if (capture_open_file(&c, o->inputs[i], o->bpf, err) != 0) {
			fprintf(stderr, "imapscope: %s: %s\n", o->inputs[i], err);
			return RUN_INPUT;
		}
		capture_free(&c);
	}
	return RUN_OK;
}

/* Live capture without a filter sees the IMAP ports (-p included), and
 * TCP behind IPv6 extension headers, whose ports the flow table checks. */
static void make_live_filter(struct run_options *o, char *out, size_t cap)
{
	uint16_t ports[FLOW_MAX_PORTS];
	size_t i;

	for (i = 0; i < o->flow.n_ports; i++)
		ports[i] = o->flow.ports[i].port;
	if (capture_default_filter(ports, o->flow.n_ports, out, cap) != 0)
		out[0] = '\0';	/* cannot happen at CAPTURE_FILTER_LEN */
	o->flow.ports_only = o->bpf == NULL;
}

/* The folders first: a refused one must not leave -o truncated. */
static int open_folders(struct run *r)
{
	const struct run_options *o = r->opt;

	if (o->streams_dir != NULL) {
		char err[STREAMS_ERRLEN];

		r->streams = streams_new(o->streams_dir, o->force, r->budget, err);
		if (r->streams == NULL) {
			fprintf(stderr, "imapscope: --streams: %s\n", err);
			return RUN_USAGE;
		}
	}
	if (o->decrypted_path != NULL) {
		char err[DPCAP_ERRLEN];

		r->dpcap = dpcap_new(o->decrypted_path, r->budget, err);
		if (r->dpcap == NULL) {
			fprintf(stderr, "imapscope: --write-decrypted: %s\n", err);
			return RUN_USAGE;
		}
	}
	if (r->streams != NULL || r->dpcap != NULL)
		r->shown.tap = (struct imap_tap){ .ctx = r, .data = run_tap_data, .gap = run_tap_gap,
						  .not_imap = run_tap_not_imap, .end = run_tap_end };
	if (o->extract_dir != NULL) {
		char err[EXTRACT_ERRLEN];

		r->extract = extract_new(o->extract_dir, o->force, r->budget, err);
		if (r->extract == NULL) {
			fprintf(stderr, "imapscope: --extract: %s\n", err);
			return RUN_USAGE;
		}
		r->shown.extract = (struct imap_extract_hooks){
			r->extract, run_extract_begin, run_extract_data, run_extract_gap,
			run_extract_end,
		};
	}
	if (r->sinks->extract.begin != NULL)
		r->shown.extract = r->sinks->extract;
	return RUN_OK;
}

static int open_output(struct run *r)
{
	const struct run_options *o = r->opt;
	char err[OUTDIR_ERRLEN];
	int fd;

	r->fp = stdout;
	if (o->output_path == NULL || strcmp(o->output_path, "-") == 0)
		return RUN_OK;
	/* never through a link; private when it holds secrets */
	fd = outdir_open_file(o->output_path, o->show_secrets, err);
	if (fd < 0 || (r->fp = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			snprintf(err, sizeof err, "%.300s: %s", o->output_path, strerror(errno));
		fprintf(stderr, "imapscope: %s\n", err);
		return RUN_USAGE;
	}
	return RUN_OK;
}

/* --check: a stage in front of the timeline, or beside a report (only
 * the findings then); the counts close the text.  On failure *part has
 * been freed. */
static int make_check(struct run *r, struct output *part, struct output html)
{
	const struct run_options *o = r->opt;
	struct check_opts copts = {
		.findings_only = (o->reports & ~RUN_REPORT_HTML) != 0,
		.tap = html,
		.counts_fp = o->json ? NULL : r->fp,
		.color = o->color == 1 || (o->color == -1 && isatty(fileno(r->fp))),
		.budget = r->budget,
	};

	return check_new(part, *part, &copts);
}

/* --width: as given; by default the terminal's, when the output is one
 * (a pipe or a file keeps lines whole). */
static unsigned text_width(const struct run_options *o, FILE *fp)
{
	struct winsize ws;

	if (o->width >= 0)
		return (unsigned)o->width;
	if (!isatty(fileno(fp)) || ioctl(fileno(fp), TIOCGWINSZ, &ws) != 0)
		return 0;
	return ws.ws_col;
}

/* --follow: its part, and the tap that feeds it (with the marks, which
 * only it asks for). */
static int run_follow_part(struct run *r, struct output *part, size_t *n)
{
	const struct run_options *o = r->opt;
	struct follow_opts fo = {
		.session = o->follow_session, .json = o->json,
		.color = o->color == 1 || (o->color == -1 && isatty(fileno(r->fp))),
		.show_secrets = o->show_secrets, .max_literal = o->max_follow_literal,
		.inputs = o->iface == NULL ? (const char *const *)o->inputs : NULL,
		.n_inputs = o->iface == NULL ? o->n_inputs : 0, .budget = r->budget,
	};

	if (output_follow_new(part, r->fp, &fo, &r->follow) != 0)
		return -1;
	r->shown.tap = (struct imap_tap){ .ctx = r, .data = run_tap_data, .gap = run_tap_gap,
					  .not_imap = run_tap_not_imap, .end = run_tap_end,
					  .mark = run_tap_mark };
	(*n)++;
	return 0;
}

/* --html FILE: made like -o's, never through a link. */
static int open_html(struct run *r)
{
	const struct run_options *o = r->opt;
	char err[OUTDIR_ERRLEN];
	int fd;

	if (!(o->reports & RUN_REPORT_HTML))
		return RUN_OK;
	fd = outdir_open_file(o->html_path, o->show_secrets, err);
	if (fd < 0 || (r->html_fp = fdopen(fd, "w")) == NULL) {
		if (fd >= 0) {
			snprintf(err, sizeof err, "%.300s: %s", o->html_path, strerror(errno));
			close(fd);
		}
		fprintf(stderr, "imapscope: --html: %s\n", err);
		return RUN_USAGE;
	}
	return RUN_OK;
}

/* The outputs the options name, in a fixed order, as one. */
static int make_reports(struct run *r)
{
	const struct run_options *o = r->opt;
	struct output part[OUTPUT_TEE_MAX];
	struct output html = { NULL, NULL };	/* the page's part, given the others' sections */
	size_t n = 0, activity = OUTPUT_TEE_MAX;
	int rc = 0;
	/* the timeline, unless a report on stdout takes its place */
	bool timeline = (o->reports & ~RUN_REPORT_HTML) == 0;

	if (o->reports & RUN_REPORT_LOGINS) {
		struct logins_opts lopts = o->logins_opts;

		lopts.budget = r->budget;
		lopts.color = o->color == 1 || (o->color == -1 && isatty(fileno(r->fp)));
		rc = output_logins_new2(&part[n], r->fp, o->json, &lopts);
		n += rc == 0;
	}
	if (rc == 0 && (o->reports & RUN_REPORT_SUMMARY)) {
		/* two texts in one file read well one after the other */
		if (n > 0 && !o->json && (r->later = tmpfile()) == NULL)
			rc = -1;
		if (rc == 0)
			rc = output_summary_new(&part[n], r->later != NULL ? r->later : r->fp,
						o->json, r->budget);
		n += rc == 0;
	}
	if (rc == 0 && (o->reports & RUN_REPORT_ACTIVITY)) {
		rc = output_activity_new(&part[n], r->fp, o->json, r->budget);
		activity = rc == 0 ? n : activity;
		n += rc == 0;
	}
	if (rc == 0 && (o->reports & RUN_REPORT_SESSIONS)) {
		rc = output_sessions_new(&part[n], r->fp, o->json, o->sessions_sort, r->budget);
		n += rc == 0;
	}
	if (rc == 0 && (o->reports & RUN_REPORT_FOLLOW))
		rc = run_follow_part(r, &part[n], &n);
	if (rc == 0 && (o->reports & RUN_REPORT_HTML)) {
		struct html_opts hopts = { .budget = r->budget, .findings = o->check };

		rc = output_html_new(&part[n], r->html_fp, &hopts);	/* owns it now */
		r->html_fp = NULL;
		if (rc == 0)
			html = part[n++];
		if (rc == 0 && activity != OUTPUT_TEE_MAX)
			rc = output_activity_html(&part[activity], &html);
	}
	/* the page goes to its own file: the timeline is still written */
	if (rc == 0 && (timeline || o->check) && o->json) {
		rc = output_json_new(&part[n], r->fp);
		n += rc == 0;
	} else if (rc == 0 && (timeline || o->check)) {
		struct output_text_opts topts = {
			.color = o->color == 1 || (o->color == -1 && isatty(fileno(r->fp))),
			.frames = o->frames,
			.width = text_width(o, r->fp),
		};
		rc = output_text_new(&part[n], r->fp, &topts);
		n += rc == 0;
	}
	/* a check that failed has freed its part */
	if (rc == 0 && o->check && (rc = make_check(r, &part[n - 1], html)) != 0)
		n--;
	if (rc != 0) {
		for (size_t i = 0; i < n; i++)
			part[i].ops->free(part[i].ctx);
		return rc;
	}
	if (output_tee_new(&r->out, part, n) != 0)
		return -1;
	/* an event stage before every report, only when asked for */
	if (event_filter_opts_active(&o->events)) {
		if ((r->efilter = event_filter_new(&o->events, r->out, r->budget)) == NULL)
			return -1;
		r->out = event_filter_output(r->efilter);
	}
	return 0;
}

static int make_output(struct run *r)
{
	const struct run_options *o = r->opt;
	int rc;

	if (r->sinks->out.ops != NULL) {
		r->out = r->sinks->out;
		rc = 0;
	} else if (r->sinks->open != NULL) {
		r->out = (struct output){ &null_output_ops, NULL };	/* no session speaks */
		rc = 0;
	} else if ((rc = open_output(r)) != RUN_OK || (rc = open_html(r)) != RUN_OK) {
		return rc;
	} else {
		rc = make_reports(r);
	}
	r->out_made = rc == 0 && r->sinks->out.ops == NULL;
	if (rc == 0)
		r->filter = filter_new(&o->only);
	if (rc != 0 || r->filter == NULL) {
		fputs("imapscope: out of memory\n", stderr);
		return RUN_INPUT;
	}
	filter_set_budget(r->filter, r->budget);
	return RUN_OK;
}

static int make_session_configs(struct run *r)
{
	const struct run_options *o = r->opt;

	r->shown.show_secrets = o->show_secrets;
	r->shown.literal_keep = o->literal_keep;
	r->shown.max_inflate = o->max_inflate;
	r->shown.budget = r->budget;
	r->shown.tls = &tls_layer_ops;
	r->shown.tls_conf = r->keys != NULL ? r->keys : r->sinks->keys;
	r->shown.out = r->out;
	r->shown.facts = r->out.ops->facts;
	r->shown.notice = run_notice;
	r->shown.notice_ctx = r;
	if (o->iface == NULL) {
		r->shown.inputs = (const char *const *)o->inputs;
		r->shown.n_inputs = o->n_inputs;
	}
	r->hidden = r->shown;
	r->hidden.out = (struct output){ &null_output_ops, NULL };
	r->hidden.tap = run_no_tap;
	r->hidden.extract = (struct imap_extract_hooks){ NULL, NULL, NULL, NULL, NULL };
	r->hidden.notice = run_notice_hidden;
	return RUN_OK;
}

/* --session, --host, --user that kept nothing: said once, as a notice
 * (the run itself succeeded). */
static void notice_unmatched(struct run *r)
{
	const struct filter_opts *f = &r->opt->only;
	char msg[512];
	size_t len;

	if (!filter_opts_active(f) || r->matched)
		return;
	len = (size_t)snprintf(msg, sizeof msg, "the filter matched no session:");
	if (f->n_sessions != 0 && len < sizeof msg)
		len += (size_t)snprintf(msg + len, sizeof msg - len, " --session %" PRIu64 "%s",
					f->sessions[0], f->n_sessions > 1 ? ",..." : "");
	if (f->host != NULL && len < sizeof msg)
		len += (size_t)snprintf(msg + len, sizeof msg - len, " --host %s", f->host);
	if (f->user != NULL && len < sizeof msg)
		snprintf(msg + len, sizeof msg - len, " --user %s", f->user);
	run_say(r, NOTICE_FILTER_UNMATCHED, r->last_ts_us, msg);
}

/* --write-decrypted closed, and what it left out said in one notice:
 * what crossed inside TLS that was not decrypted, and sessions the budget
 * refused.  -1 when the file could not be written. */
static int end_dpcap(struct run *r)
{
	struct dpcap_stats st;
	char err[DPCAP_ERRLEN], msg[512];
	int rc = dpcap_free(&r->dpcap, &st, err);

	if (rc != 0)
		fprintf(stderr, "imapscope: --write-decrypted: %s\n", err);
	if (st.undecrypted_sessions != 0 || st.untracked != 0) {
		size_t len = (size_t)snprintf(msg, sizeof msg, "--write-decrypted: left out");

		if (st.undecrypted_sessions != 0)
			len += (size_t)snprintf(msg + len, sizeof msg - len, " the TLS of %" PRIu64
						" session%s (%" PRIu64 " direction%s) that was not"
						" decrypted", st.undecrypted_sessions,
						st.undecrypted_sessions == 1 ? "" : "s",
						st.undecrypted_dirs, st.undecrypted_dirs == 1 ? "" : "s");
		if (st.untracked != 0 && len < sizeof msg)
			snprintf(msg + len, sizeof msg - len, "%s %" PRIu64 " session%s refused by"
				 " --max-memory", st.undecrypted_sessions ? ";" : "", st.untracked,
				 st.untracked == 1 ? "" : "s");
		run_say(r, NOTICE_WRITE_DECRYPTED, r->last_ts_us, msg);
	}
	return rc;
}

/* The report that waited in r->later, after a blank line; 0, or -1 when
 * it could not be read back or written. */
static int run_write_later(struct run *r)
{
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (r->later == NULL)
		return 0;
	if (fflush(r->later) != 0 || fseek(r->later, 0, SEEK_SET) != 0 ||
	    fputc('\n', r->fp) == EOF)
		rc = -1;
	while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, r->later)) > 0)
		if (fwrite(chunk, 1, n, r->fp) != n)
			rc = errno == EPIPE ? 0 : -1;
	if (ferror(r->later))
		rc = -1;
	fclose(r->later);
	r->later = NULL;
	return rc != 0 || (fflush(r->fp) != 0 && errno != EPIPE) ? -1 : 0;
}

/* What the run says at its end, and the outputs closed.  Returns the
 * status, worsened by an output that could not be written. */
static int run_end(struct run *r, int status)
{
	const struct run_options *o = r->opt;
	int out_rc, later_rc;

	notice_unmatched(r);
	if (r->budget->refused != 0) {
		char msg[256];

		snprintf(msg, sizeof msg, "%" PRIu64 " allocations refused by --max-memory "
			 "(peak %zu bytes): data was dropped, as the notices and the "
			 "sessions' \"capped\" counts say", r->budget->refused, r->budget->peak);
		run_say(r, NOTICE_BUDGET, r->last_ts_us, msg);
	}
	if (r->notices_hidden != 0 && !o->quiet)
		fprintf(stderr, "imapscope: %" PRIu64 " more notices not shown\n",
			r->notices_hidden);
	if (r->streams != NULL) {
		char err[STREAMS_ERRLEN];

		if (streams_free(&r->streams, err) != 0) {	/* an output not written */
			fprintf(stderr, "imapscope: --streams: %s\n", err);
			status = RUN_USAGE;
		}
	}
	if (r->extract != NULL) {
		char err[EXTRACT_ERRLEN];

		if (extract_free(&r->extract, err) != 0) {
			fprintf(stderr, "imapscope: --extract: %s\n", err);
			status = RUN_USAGE;
		}
	}
	if (r->dpcap != NULL && end_dpcap(r) != 0)
		status = RUN_USAGE;
	/* both, whatever the first says: the later file is closed either way */
	out_rc = r->out.ops->finish(r->out.ctx);
	later_rc = run_write_later(r);
	if (out_rc != 0 || later_rc != 0) {
		fprintf(stderr, "imapscope: writing the output failed: %s\n", strerror(errno));
		status = RUN_USAGE;	/* an output that cannot be written, as for the folders */
	}
	if (r->efilter != NULL && event_filter_dropped(r->efilter) != 0) {
		char msg[256];

		snprintf(msg, sizeof msg, "--status: %" PRIu64 " events left out that may have"
			 " belonged: held past %zu MiB or --max-memory, or of commands that"
			 " never completed", event_filter_dropped(r->efilter),
			 EVENT_FILTER_HOLD_MAX >> 20);
		run_say(r, NOTICE_FILTER_DROPPED, r->last_ts_us, msg);
	}
	r->out.ops->free(r->out.ctx);
	if (r->fp != NULL && r->fp != stdout && fclose(r->fp) != 0) {
		fprintf(stderr, "imapscope: %s: %s\n", o->output_path, strerror(errno));
		status = RUN_USAGE;	/* an output that cannot be written, as for the folders */
	}
	tls_keys_free(&r->keys);
	filter_free(&r->filter);
	return status;
}

/* A run stopped before its end: everything freed, no totals written (as
 * exit() left them).  No session is open at any point that stops a run,
 * so the folders' indexes only close. */
static void run_discard(struct run *r)
{
	char serr[STREAMS_ERRLEN], xerr[EXTRACT_ERRLEN], derr[DPCAP_ERRLEN];

	if (r->streams != NULL)
		(void)streams_free(&r->streams, serr);
	if (r->extract != NULL)
		(void)extract_free(&r->extract, xerr);
	if (r->dpcap != NULL)
		(void)dpcap_free(&r->dpcap, NULL, derr);
	if (r->out_made)
		r->out.ops->free(r->out.ctx);
	if (r->later != NULL)
		fclose(r->later);
	if (r->fp != NULL && r->fp != stdout)
		fclose(r->fp);
	if (r->html_fp != NULL)
		fclose(r->html_fp);
	keys_pcapng_free(&r->keys_pcapng);
	tls_keys_free(&r->keys);
	filter_free(&r->filter);
	free(r);
}

int run_main(struct run_options *o, const struct run_sinks *sinks)
{
	static const struct run_sinks no_sinks;
	struct run *r = calloc(1, sizeof *r);
	int status;

	if (r == NULL) {
		fputs("imapscope: out of memory\n", stderr);
		return RUN_INPUT;
	}
	r->opt = o;
	r->sinks = sinks != NULL ? sinks : &no_sinks;
	r->budget = r->sinks->budget != NULL ? r->sinks->budget : &r->own_budget;
	r->budget->limit = o->max_memory;
	o->flow.budget = r->budget;
	g_stop = 0;
	if ((status = load_keys(r)) != RUN_OK || (status = check_inputs(o)) != RUN_OK)
		goto out;
	if (o->keys_pcapng_path != NULL &&
	    (status = keys_pcapng_open(&r->keys_pcapng, o, r->keys)) != RUN_OK)
		goto out;
	if (o->iface != NULL)
		make_live_filter(o, r->live_filter, sizeof r->live_filter);
	r->progress = !o->quiet && o->iface == NULL && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	if ((status = open_folders(r)) != RUN_OK || (status = make_output(r)) != RUN_OK ||
	    (status = make_session_configs(r)) != RUN_OK ||
	    (status = load_keys_lazily(r)) != RUN_OK ||
	    (status = find_user_sessions(r)) != RUN_OK)
		goto out;
	status = run_inputs(r);
	if (!r->fatal) {
		if (r->keys_pcapng != NULL)	/* the keys used are known now */
			status = keys_pcapng_write(&r->keys_pcapng, o, r->keys, r->budget,
						   run_notice, r, status);
		status = run_end(r, status);
		free(r);
		return status;
	}
	status = r->fatal;
out:
	run_discard(r);
	return status;
}
