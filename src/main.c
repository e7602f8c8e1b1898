/* imapscope: the command line, and the wiring of every layer:
 * capture -> decode -> flow -> reassembly -> session -> output. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json_c_version.h>
#include <openssl/crypto.h>
#include <zlib.h>

#include "imap/imap_lexer.h"
#include "imap/imap_session.h"
#include "net/capture.h"
#include "net/decode.h"
#include "net/flow.h"
#include "imap/imap_event.h"
#include "report/filter.h"
#include "report/extract.h"
#include "report/logins.h"
#include "report/output_json.h"
#include "report/output_text.h"
#include "report/streams.h"
#include "report/summary.h"
#include "tls/keylog.h"
#include "tls/tls_layer.h"
#include "util/outdir.h"

#define IMAPSCOPE_VERSION "0.1.0"
#define MAX_INPUTS 256
#define MAX_KEYLOGS 64
#define PROGRESS_EVERY_PKTS 0x3fff	/* look at the clock every 16384 packets */
#define PROGRESS_INTERVAL_NS 250000000LL
#define MAX_NOTICES_SHOWN 1000	/* stderr lines per run; the rest are counted */
#define DEFAULT_MAX_MEMORY ((size_t)1 << 30)	/* 1 GiB for all buffers */
#define KEYS_MEMORY_SHARE 2	/* key logs may fill 1/2 of --max-memory */

enum exit_code { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };

enum out_kind { OUT_TEXT, OUT_JSON };

struct options {
	const char *inputs[MAX_INPUTS];
	size_t n_inputs;
	bool explicit_r;		/* -r given: positionals are a filter */
	const char *iface;
	char *bpf;
	enum out_kind format;
	const char *output_path;
	const char *streams_dir;
	const char *extract_dir;
	bool force;			/* --force: replace an earlier run's files */
	const char *keylogs[MAX_KEYLOGS];
	size_t n_keylogs;
	const char *rsa_key;
	bool logins;
	bool summary;
	struct logins_opts logins_opts;
	bool show_secrets;
	int color;			/* -1 auto, 0 never, 1 always */
	struct filter_opts only;	/* --session, --host, --user */
	uint64_t max_packets;
	unsigned duration_s;
	const char *save_path;
	bool quiet;
	struct flow_config flow;
	size_t literal_keep;
	size_t max_memory;
	uint64_t max_inflate;
};

/* Everything a run shares; passed as the ctx of every hook. */
struct run {
	struct options *opt;
	struct mem_budget budget;
	struct imap_session_config scfg;
	struct output out;		/* the chosen output */
	struct filter *filter;		/* in front of out: --session/--host/--user */
	struct output filtered;
	struct streams *streams;
	struct extract *extract;	/* --extract, or NULL */
	struct flow_table *flows;
	struct decode_stats dstats;
	struct capture *cap;
	struct tls_keys *keys;
	int64_t last_ts_us;
	uint64_t notices;
	uint64_t notices_hidden;	/* past MAX_NOTICES_SHOWN */
	char live_filter[CAPTURE_FILTER_LEN];	/* the IMAP ports, for -i */
	bool prepass;			/* the --user pass that only finds sessions */
	bool progress;			/* a progress line on stderr */
	uint64_t pkts;
	struct timespec started, last_progress;
};

/* The only mutable globals: a signal handler has no context to be given. */
static volatile sig_atomic_t g_stop;	/* set by SIGINT/SIGTERM/SIGALRM */
static struct capture *volatile g_cap;	/* for capture_break from a handler */

static void usage(FILE *fp)
{
	fputs(
"usage: imapscope [OPTIONS] -r FILE [-r FILE ...] [BPF-FILTER]\n"
"       imapscope [OPTIONS] FILE [FILE ...] [BPF-FILTER]\n"
"       imapscope [OPTIONS] -i IFACE [BPF-FILTER]\n"
"\n"
"Dissects IMAP traffic in packet captures (pcap, pcapng; '-' is stdin) or on a\n"
"live interface: per-session command/response timelines as text or JSON Lines.\n"
"\n"
"  -r FILE                 read a capture file (repeatable; '-' for stdin)\n"
"  -i IFACE                capture live on IFACE\n"
"  -F, --format text|json  output format (default text; json is JSON Lines)\n"
"  -o, --output FILE       write there instead of stdout\n"
"  -p, --port PORT[/tls]   also treat PORT as IMAP (repeatable); /tls marks\n"
"                          implicit TLS; 143 and 993/tls are always on\n"
"  -k, --keylog FILE       NSS key log for TLS 1.2/1.3 decryption\n"
"      --rsa-key FILE      server PEM RSA key for RSA key exchange\n"
"      --show-secrets      print passwords and SASL secrets (redacted by default)\n"
"      --logins            print only the login audit\n"
"      --summary           print only per-session and whole-capture statistics\n"
"      --fail-threshold N  --logins: flag brute force from the Nth failed login\n"
"                          by one client or against one user (default 5)\n"
"      --fail-window TIME  ... within this time (default 300 s)\n"
"      --streams DIR       write each session's reassembled streams to DIR\n"
"      --extract DIR       write each message body that crosses the wire (FETCH,\n"
"                          APPEND) to DIR as .eml/.part, with DIR/index.jsonl\n"
"      --force             --streams/--extract into a folder that is not empty:\n"
"                          remove the files its index.jsonl lists, then write\n"
"      --session N[,N...]  keep only these sessions (repeatable)\n"
"      --user NAME         keep only sessions where NAME tried to log in\n"
"      --host ADDR         keep only sessions with ADDR as client or server\n"
"                          (192.0.2.1, 192.0.2.1:143, [2001:db8::1]:143, ...)\n"
"      --color auto|always|never   colour in the text timeline (default auto)\n"
"  -c COUNT                live: stop after COUNT packets\n"
"      --duration TIME     live: stop after TIME\n"
"  -w FILE                 live: also save the raw packets to FILE\n"
"      --max-flows N       flows tracked at once (default 65536)\n"
"      --max-literal-memory BYTES  literal bytes kept in memory per literal\n"
"                          (default 65536; larger ones are streamed and counted)\n"
"      --max-ooo-bytes BYTES  out-of-order bytes queued per direction\n"
"                          (default 4194304)\n"
"      --max-memory BYTES  total memory of flows, buffers and reports\n"
"                          (default 1073741824; past it the oldest flow gives\n"
"                          way or data is dropped, with notices; key logs may\n"
"                          take half, past which only the capture's are kept)\n"
"      --max-inflate BYTES  COMPRESS output decoded per direction (default\n"
"                          1073741824; past it, or past 1000:1, the rest of\n"
"                          the direction is not decoded, with a notice)\n"
"  -q, --quiet             no notices or progress line on stderr\n"
"  -h, --help              this help\n"
"  -V, --version           version and library versions\n"
"\n"
"BYTES take a suffix K, M, G or T (powers of 1024: 64M); TIME one of s, m,\n"
"h or d (5m, 2h; seconds without one).\n"
"\n"
"Exit codes: 0 success (damaged packets are notices), 1 input unreadable,\n"
"2 bad usage.\n", fp);
}

static void die_usage(const char *fmt, const char *arg)
{
	fputs("imapscope: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (try --help)\n", stderr);
	exit(EXIT_USAGE);
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		die_usage(what, s);
	return v;
}

/* "64M", "1g", "4096": a size in bytes, suffixes K M G T in powers of
 * 1024 (either case), an optional "B" or "iB" after them. */
static uint64_t parse_size(const char *s, const char *what)
{
	static const char units[] = "KMGT";
	uint64_t v, mult = 1;
	const char *u;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] < '0' || s[0] > '9')
		die_usage(what, s);
	if (*end != '\0' && (u = strchr(units, toupper((unsigned char)*end))) != NULL) {
		mult = (uint64_t)1 << (10 * (u - units + 1));
		end++;
		if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
			end += strlen(end);
	}
	if (*end != '\0' || v > UINT64_MAX / mult)
		die_usage(what, s);
	return v * mult;
}

/* "90", "90s", "5m", "2h", "1d": a time in seconds. */
static uint64_t parse_duration(const char *s, const char *what)
{
	uint64_t v, mult = 1;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] < '0' || s[0] > '9')
		die_usage(what, s);
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: die_usage(what, s);
	}
	if ((*end != '\0' && end[1] != '\0') || v > UINT64_MAX / mult)
		die_usage(what, s);
	return v * mult;
}

static void parse_port(struct options *o, const char *arg)
{
	char *end;
	unsigned long v;
	bool tls = false;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (end != arg && strcmp(end, "/tls") == 0)
		tls = true;
	else if (end == arg || *end != '\0')
		die_usage("bad port '%s'", arg);
	if (errno != 0 || v == 0 || v > 65535 || arg[0] == '-')
		die_usage("bad port '%s'", arg);
	if (flow_config_add_port(&o->flow, (uint16_t)v, tls) != 0)
		die_usage("too many ports ('%s')", arg);
}

static void print_version(void)
{
	printf("imapscope %s\n%s\n%s\njson-c %s\nzlib %s\n", IMAPSCOPE_VERSION,
	       pcap_lib_version(), OpenSSL_version(OPENSSL_VERSION),
	       json_c_version(), zlibVersion());
}

enum long_only {
	OPT_RSA_KEY = 256, OPT_SHOW_SECRETS, OPT_EXTRACT, OPT_LOGINS, OPT_SUMMARY,
	OPT_STREAMS, OPT_SESSION, OPT_USER, OPT_HOST, OPT_COLOR, OPT_DURATION,
	OPT_MAX_FLOWS, OPT_MAX_LITERAL, OPT_MAX_OOO, OPT_MAX_MEMORY, OPT_MAX_INFLATE,
	OPT_FAIL_THRESHOLD, OPT_FAIL_WINDOW, OPT_FORCE,
};

static const struct option long_opts[] = {
	{ "format", required_argument, NULL, 'F' },
	{ "output", required_argument, NULL, 'o' },
	{ "port", required_argument, NULL, 'p' },
	{ "keylog", required_argument, NULL, 'k' },
	{ "rsa-key", required_argument, NULL, OPT_RSA_KEY },
	{ "show-secrets", no_argument, NULL, OPT_SHOW_SECRETS },
	{ "extract", required_argument, NULL, OPT_EXTRACT },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "logins", no_argument, NULL, OPT_LOGINS },
	{ "summary", no_argument, NULL, OPT_SUMMARY },
	{ "streams", required_argument, NULL, OPT_STREAMS },
	{ "session", required_argument, NULL, OPT_SESSION },
	{ "user", required_argument, NULL, OPT_USER },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "color", required_argument, NULL, OPT_COLOR },
	{ "colour", required_argument, NULL, OPT_COLOR },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "max-literal-memory", required_argument, NULL, OPT_MAX_LITERAL },
	{ "max-ooo-bytes", required_argument, NULL, OPT_MAX_OOO },
	{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
	{ "max-inflate", required_argument, NULL, OPT_MAX_INFLATE },
	{ "fail-threshold", required_argument, NULL, OPT_FAIL_THRESHOLD },
	{ "fail-window", required_argument, NULL, OPT_FAIL_WINDOW },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void add_input(struct options *o, const char *path)
{
	if (o->n_inputs == MAX_INPUTS)
		die_usage("too many input files (at most 256; '%s')", path);
	o->inputs[o->n_inputs++] = path;
}

/* Joins argv[from..] with spaces, as tcpdump does with its filter words. */
static char *join_args(int argc, char **argv, int from)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = from; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	if (s == NULL)
		return NULL;
	for (i = from; i < argc; i++) {
		if (i > from)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* Whether bpf compiles; if not, libpcap's reason in err (DLT_EN10MB is
 * only a stand-in: the words are what is checked). */
static bool filter_compiles(const char *bpf, char err[PCAP_ERRBUF_SIZE])
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	struct bpf_program prog;
	bool ok = true;

	if (p == NULL)
		return true;	/* no memory to check: the real open will say */
	if (pcap_compile(p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, PCAP_ERRBUF_SIZE, "%s", pcap_geterr(p));
		ok = false;
	} else {
		pcap_freecode(&prog);
	}
	pcap_close(p);
	return ok;
}

/* A filter that does not compile is bad usage, found before any input is
 * opened. */
static void check_filter(const char *bpf)
{
	char err[PCAP_ERRBUF_SIZE];

	if (!filter_compiles(bpf, err)) {
		fprintf(stderr, "imapscope: bad filter '%s': %s\n", bpf, err);
		exit(EXIT_USAGE);
	}
}

static bool is_input(const char *path)
{
	return strcmp(path, "-") == 0 || access(path, F_OK) == 0;
}

/* Positionals without -r: the leading words that name files are inputs;
 * the words after them are a BPF filter if they compile as one (tcpdump's
 * habit: "imapscope cap.pcap port 143").  Otherwise the first such word is
 * a missing input (exit 1) or, followed by more words none of which is a
 * file, neither file nor filter (exit 2): before anything is printed. */
static void take_positionals(struct options *o, int argc, char **argv, int from)
{
	char err[PCAP_ERRBUF_SIZE];
	int i, j;

	for (i = from; i < argc && is_input(argv[i]); i++)
		add_input(o, argv[i]);
	if (i == argc)
		return;
	if (o->n_inputs > 0) {
		o->bpf = join_args(argc, argv, i);
		if (o->bpf == NULL)
			die_usage("%s", "out of memory");
		if (filter_compiles(o->bpf, err))
			return;
	}
	for (j = i + 1; j < argc && !is_input(argv[j]); j++)
		;
	if (j < argc || i + 1 == argc || o->n_inputs == 0) {
		int e = access(argv[i], F_OK) == 0 ? 0 : errno;

		fprintf(stderr, "imapscope: %s: %s\n", argv[i], strerror(e));
		exit(EXIT_INPUT);
	}
	fprintf(stderr, "imapscope: '%s' is not a file, and '%s' is not a filter: %s\n",
		argv[i], o->bpf, err);
	exit(EXIT_USAGE);
}

static void parse_options(struct options *o, int argc, char **argv)
{
	int c;

	flow_config_defaults(&o->flow);
	o->color = -1;
	o->literal_keep = IMAP_DEFAULT_LITERAL_KEEP;
	o->max_memory = DEFAULT_MAX_MEMORY;
	opterr = 0;	/* our own one-line errors, prefixed like every other */
	while ((c = getopt_long(argc, argv, ":r:i:F:o:p:k:c:w:qhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r': add_input(o, optarg); o->explicit_r = true; break;
		case 'i': o->iface = optarg; break;
		case 'F':
			if (strcmp(optarg, "text") == 0)
				o->format = OUT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				o->format = OUT_JSON;
			else
				die_usage("unknown format '%s' (text or json)", optarg);
			break;
		case 'o': o->output_path = optarg; break;
		case 'p': parse_port(o, optarg); break;
		case 'k':
			if (o->n_keylogs == MAX_KEYLOGS)
				die_usage("too many key logs (at most 64; '%s')", optarg);
			o->keylogs[o->n_keylogs++] = optarg;
			break;
		case OPT_RSA_KEY: o->rsa_key = optarg; break;
		case OPT_SHOW_SECRETS: o->show_secrets = true; break;
		case OPT_EXTRACT: o->extract_dir = optarg; break;
		case OPT_FORCE: o->force = true; break;
		case OPT_LOGINS: o->logins = true; break;
		case OPT_SUMMARY: o->summary = true; break;
		case OPT_STREAMS: o->streams_dir = optarg; break;
		case OPT_SESSION:
			if (filter_opts_add_sessions(&o->only, optarg) != 0)
				die_usage("bad --session '%s' (session numbers from 1: 3, or 2,5,9)",
					  optarg);
			break;
		case OPT_USER: o->only.user = optarg; break;
		case OPT_HOST:
			if (filter_opts_set_host(&o->only, optarg) != 0)
				die_usage("bad --host '%s' (an address as printed: 192.0.2.1, "
					  "192.0.2.1:143, [2001:db8::1]:143)", optarg);
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0)
				o->color = -1;
			else if (strcmp(optarg, "always") == 0)
				o->color = 1;
			else if (strcmp(optarg, "never") == 0)
				o->color = 0;
			else
				die_usage("bad --color '%s' (auto, always or never)", optarg);
			break;
		case 'c': o->max_packets = parse_u64(optarg, "bad packet count '%s'"); break;
		case OPT_DURATION: {
			uint64_t secs = parse_duration(optarg, "bad --duration '%s'");

			if (secs > UINT_MAX)
				die_usage("bad --duration '%s'", optarg);
			o->duration_s = (unsigned)secs;
			break;
		}
		case 'w': o->save_path = optarg; break;
		case OPT_MAX_FLOWS:
			o->flow.max_flows = parse_u64(optarg, "bad --max-flows '%s'");
			if (o->flow.max_flows == 0)
				die_usage("bad --max-flows '%s'", optarg);
			break;
		case OPT_MAX_LITERAL:
			o->literal_keep = parse_size(optarg, "bad --max-literal-memory '%s'");
			break;
		case OPT_MAX_OOO:
			o->flow.max_ooo_bytes = parse_size(optarg, "bad --max-ooo-bytes '%s'");
			break;
		case OPT_MAX_MEMORY:
			o->max_memory = parse_size(optarg, "bad --max-memory '%s'");
			break;
		case OPT_MAX_INFLATE:
			o->max_inflate = parse_size(optarg, "bad --max-inflate '%s'");
			if (o->max_inflate == 0)
				die_usage("bad --max-inflate '%s' (at least 1 byte)", optarg);
			break;
		case OPT_FAIL_THRESHOLD:
			o->logins_opts.fail_threshold =
				(unsigned)parse_u64(optarg, "bad --fail-threshold '%s'");
			if (o->logins_opts.fail_threshold < 2 ||
			    o->logins_opts.fail_threshold > LOGINS_FAIL_THRESHOLD_MAX)
				die_usage("--fail-threshold '%s' must be 2 to 1000", optarg);
			break;
		case OPT_FAIL_WINDOW:
			o->logins_opts.window_us = (int64_t)parse_duration(optarg,
									   "bad --fail-window '%s'");
			if (o->logins_opts.window_us <= 0 || o->logins_opts.window_us > 86400 * 365)
				die_usage("bad --fail-window '%s' (a time: 300, 5m, 2h)", optarg);
			o->logins_opts.window_us *= 1000000;
			break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case 'V': print_version(); exit(EXIT_OK);
		case ':':
			die_usage("option '%s' needs a value", argv[optind - 1]);
			break;
		default:
			die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (o->explicit_r || o->iface != NULL) {
		if (optind < argc && (o->bpf = join_args(argc, argv, optind)) == NULL)
			die_usage("%s", "out of memory");
	} else {
		take_positionals(o, argc, argv, optind);
	}
	if (o->iface != NULL && o->n_inputs > 0)
		die_usage("%s", "-i and input files cannot be combined");
	if (o->iface == NULL && o->n_inputs == 0)
		die_usage("%s", "no input: give a capture file, '-' for stdin, or -i IFACE");
	if (o->bpf != NULL)
		check_filter(o->bpf);
	if (o->only.user != NULL) {
		size_t i;

		for (i = 0; i < o->n_inputs; i++)
			if (strcmp(o->inputs[i], "-") == 0)
				die_usage("%s", "--user reads its inputs twice, so not from stdin");
		if (o->iface != NULL)
			die_usage("%s", "--user cannot be used with live capture (-i)");
	}
	if (o->logins && o->summary)
		die_usage("%s", "--logins and --summary cannot be combined");
	if (o->streams_dir != NULL && o->extract_dir != NULL &&
	    outdir_same(o->streams_dir, o->extract_dir))
		die_usage("%s", "--streams and --extract need different folders");
	if (o->force && o->streams_dir == NULL && o->extract_dir == NULL)
		die_usage("%s", "--force applies to --streams and --extract only");
	if (o->iface == NULL && (o->max_packets || o->duration_s || o->save_path))
		die_usage("%s", "-c, --duration and -w apply to live capture (-i) only");
}

/* --- hooks ------------------------------------------------------------ */

static void run_notice(void *ctx, uint64_t session, int64_t ts_us, const char *msg)
{
	struct run *r = ctx;

	(void)ts_us;
	r->notices++;
	if (r->opt->quiet || r->prepass)
		return;
	if (session != 0 && !filter_wants_id(r->filter, session))
		return;	/* a session the user filtered out */
	/* A million damaged sessions must not mean a million stderr lines. */
	if (r->notices - r->notices_hidden > MAX_NOTICES_SHOWN) {
		r->notices_hidden++;
		return;
	}
	if (r->progress)
		fputs("\r\033[K", stderr);	/* the notice replaces the progress line */
	if (session != 0 && strncmp(msg, "session ", 8) != 0)
		fprintf(stderr, "imapscope: session %" PRIu64 ": %s\n", session, msg);
	else
		fprintf(stderr, "imapscope: %s\n", msg);
}

/* A notice of the flow layer: the stderr line (run_notice names the
 * session), and for a session an event of its timeline. */
static void run_flow_notice(void *ctx, uint64_t session, void *sctx, int64_t ts_us,
			    const struct notice_facts *f, const char *msg)
{
	run_notice(ctx, session, ts_us, msg);
	/* Every gap is already a gap event of the session's timeline. */
	if (sctx != NULL && strcmp(f->kind, "gap") != 0)
		imap_session_notice_event(sctx, ts_us, f, msg);
}

static void keylog_notice(void *ctx, const char *msg)
{
	run_notice(ctx, 0, 0, msg);
}

/* Key material is read before any packet: a key file that cannot be used is
 * bad usage (exit 2), not something to discover half-way through. */
static void load_keys(struct run *r)
{
	const struct options *o = r->opt;
	char err[KEYLOG_ERRLEN];
	size_t i;

	if (o->n_keylogs == 0 && o->rsa_key == NULL)
		return;
	r->keys = tls_keys_new();
	if (r->keys == NULL) {
		fputs("imapscope: out of memory\n", stderr);
		exit(EXIT_INPUT);
	}
	tls_keys_set_budget(r->keys, &r->budget, o->max_memory / KEYS_MEMORY_SHARE);
	for (i = 0; i < o->n_keylogs; i++) {
		if (keylog_load_file(r->keys, o->keylogs[i], keylog_notice, r, err) != 0) {
			fprintf(stderr, "imapscope: %s\n", err);
			exit(EXIT_USAGE);
		}
	}
	if (o->rsa_key != NULL && tls_keys_load_rsa(r->keys, o->rsa_key, err) != 0) {
		fprintf(stderr, "imapscope: %s\n", err);
		exit(EXIT_USAGE);
	}
}

static enum flow_verdict run_classify(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	switch (imap_session_classify(p, n)) {
	case 0: return FLOW_SENDER_IS_CLIENT;
	case 1: return FLOW_SENDER_IS_SERVER;
	case 2: return FLOW_UNSURE;
	default: return FLOW_NOT_IMAP;
	}
}

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
	};

	filter_session_open(r->filter, fi->session_id, info.client, info.server);
	if (r->streams != NULL && filter_wants(r->filter, fi->session_id, info.client, info.server))
		streams_open(r->streams, fi->session_id, info.client, info.server);
	return imap_session_new(&r->scfg, &info);
}

/* --extract: the session's body hooks, behind --session, --host and --user
 * like every output. */
static void *run_extract_begin(void *ctx, uint64_t session, const struct extract_meta *m)
{
	struct run *r = ctx;

	if (!filter_wants(r->filter, session, m->client, m->server))
		return NULL;
	return extract_begin(r->extract, session, m);
}

static void run_extract_data(void *ctx, void *item, const uint8_t *p, size_t n)
{
	extract_data(((struct run *)ctx)->extract, item, p, n);
}

static void run_extract_gap(void *ctx, void *item, uint64_t nbytes)
{
	extract_gap(((struct run *)ctx)->extract, item, nbytes);
}

static void run_extract_end(void *ctx, void *item, uint64_t uid, uint64_t seq, bool unsent)
{
	extract_end(((struct run *)ctx)->extract, item, uid, seq, unsent);
}

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
	if (decode_packet(pkt, &seg, &r->dstats) == DECODE_OK)
		flow_table_segment(r->flows, &seg);
	if (r->opt->iface != NULL)	/* live: events reach | jq as they happen */
		r->filtered.ops->flush(r->filtered.ctx);
	else if (r->progress && (++r->pkts & PROGRESS_EVERY_PKTS) == 0)
		progress_tick(r, false);
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
	if (g_cap != NULL)
		capture_break(g_cap);
}

/* --- the run ---------------------------------------------------------- */

static FILE *open_output(const struct options *o)
{
	char err[OUTDIR_ERRLEN];
	FILE *fp;
	int fd;

	if (o->output_path == NULL || strcmp(o->output_path, "-") == 0)
		return stdout;
	/* never through a link; private when it holds secrets */
	fd = outdir_open_file(o->output_path, o->show_secrets, err);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			snprintf(err, sizeof err, "%.300s: %s", o->output_path, strerror(errno));
		fprintf(stderr, "imapscope: %s\n", err);
		exit(EXIT_USAGE);
	}
	return fp;
}

static void make_output(struct run *r, FILE *fp)
{
	const struct options *o = r->opt;
	int rc;

	if (o->logins) {
		struct logins_opts lopts = o->logins_opts;

		lopts.budget = &r->budget;
		rc = output_logins_new2(&r->out, fp, o->format == OUT_JSON, &lopts);
	} else if (o->summary) {
		rc = output_summary_new(&r->out, fp, o->format == OUT_JSON, &r->budget);
	} else if (o->format == OUT_JSON) {
		rc = output_json_new(&r->out, fp);
	} else {
		struct output_text_opts topts = {
			.color = o->color == 1 || (o->color == -1 && isatty(fileno(fp))),
		};
		rc = output_text_new(&r->out, fp, &topts);
	}
	if (rc != 0) {
		fputs("imapscope: out of memory\n", stderr);
		exit(EXIT_INPUT);
	}
	r->filter = filter_new(&r->opt->only, r->out);
	if (r->filter == NULL) {
		fputs("imapscope: out of memory\n", stderr);
		exit(EXIT_INPUT);
	}
	r->filtered = filter_output(r->filter);
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
		run_notice(r, 0, r->last_ts_us, msg);
	}
	memset(&r->dstats, 0, sizeof r->dstats);
}

/* Live capture without a filter sees the IMAP ports (-p included), and
 * TCP behind IPv6 extension headers, whose ports the flow table checks. */
static void make_live_filter(struct options *o, char *out, size_t cap)
{
	uint16_t ports[FLOW_MAX_PORTS];
	size_t i;

	for (i = 0; i < o->flow.n_ports; i++)
		ports[i] = o->flow.ports[i].port;
	if (capture_default_filter(ports, o->flow.n_ports, out, cap) != 0)
		out[0] = '\0';	/* cannot happen at CAPTURE_FILTER_LEN */
	o->flow.ports_only = o->bpf == NULL;
}

/* Reads one source to its end.  Returns 0, or EXIT_INPUT if it could not be
 * read at all. */
static int run_source(struct run *r, const char *path)
{
	char err[CAPTURE_ERRLEN];
	const struct options *o = r->opt;
	int rc;

	if (o->iface != NULL)
		rc = capture_open_live(&r->cap, o->iface, o->bpf ? o->bpf : r->live_filter, err);
	else
		rc = capture_open_file(&r->cap, path, o->bpf, err);
	if (rc != 0) {
		if (r->prepass)
			return EXIT_INPUT;
		/* the capture layer's reason names no interface or file */
		fprintf(stderr, "imapscope: %s: %s\n", o->iface != NULL ? o->iface : path, err);
		return EXIT_INPUT;
	}
	capture_set_notice(r->cap, keylog_notice, r);	/* a notice like the key log's */
	if (o->save_path != NULL && capture_save_to(r->cap, o->save_path, err) != 0) {
		fprintf(stderr, "imapscope: %s\n", err);	/* err names the file */
		capture_free(&r->cap);
		exit(EXIT_USAGE);
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
	return 0;
}

/* Every file is opened once before anything is printed, so that a missing
 * or unreadable input is one error line, not an error after output. */
static void check_inputs(const struct options *o)
{
	char err[CAPTURE_ERRLEN];
	struct capture *c;
	size_t i;

	for (i = 0; i < o->n_inputs; i++) {
		if (strcmp(o->inputs[i], "-") == 0)
			continue;
		if (capture_open_file(&c, o->inputs[i], o->bpf, err) != 0) {
			fprintf(stderr, "imapscope: %s: %s\n", o->inputs[i], err);
			exit(EXIT_INPUT);
		}
		capture_free(&c);
	}
}

/* --session, --host, --user that kept nothing: said once, as a notice
 * (the run itself succeeded). */
static void notice_unmatched(struct run *r)
{
	const struct filter_opts *f = &r->opt->only;
	char msg[512];
	size_t len;

	if (!filter_opts_active(f) || filter_matched(r->filter))
		return;
	len = (size_t)snprintf(msg, sizeof msg, "the filter matched no session:");
	if (f->n_sessions != 0 && len < sizeof msg)
		len += (size_t)snprintf(msg + len, sizeof msg - len, " --session %" PRIu64 "%s",
					f->sessions[0], f->n_sessions > 1 ? ",..." : "");
	if (f->host != NULL && len < sizeof msg)
		len += (size_t)snprintf(msg + len, sizeof msg - len, " --host %s", f->host);
	if (f->user != NULL && len < sizeof msg)
		snprintf(msg + len, sizeof msg - len, " --user %s", f->user);
	run_notice(r, 0, r->last_ts_us, msg);
}

/* One pass over every input: a fresh flow table, the sources in order, and
 * the end of every session still open.  Returns the exit status so far. */
static int run_inputs(struct run *r)
{
	const struct options *o = r->opt;
	struct flow_hooks hooks = {
		.ctx = r, .classify = run_classify, .open = run_open,
		.ops = &imap_session_ops, .notice = run_flow_notice,
	};
	int status = EXIT_OK;
	size_t i;

	r->flows = flow_table_new(&o->flow, &hooks);
	if (r->flows == NULL) {
		fputs("imapscope: out of memory\n", stderr);
		exit(EXIT_INPUT);
	}
	if (o->iface != NULL) {
		status = run_source(r, o->iface);
	} else {
		for (i = 0; i < o->n_inputs && !g_stop; i++)
			if (run_source(r, o->inputs[i]) != 0)
				status = EXIT_INPUT;
	}
	flow_table_finish(r->flows, r->last_ts_us);
	flow_table_free(&r->flows);
	return status;
}

/* --- key logs bigger than their share of --max-memory ----------------- */

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

static const struct output_ops null_output_ops = { null_event, null_finish, null_free, NULL };

/* Files can be read twice; stdin, pipes and live capture cannot. */
static bool inputs_rereadable(const struct options *o)
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

/* The key logs did not fit in their share of --max-memory.  When the
 * inputs can be read twice, one pass that prints nothing learns the client
 * randoms of the capture's handshakes, and the key logs are read again
 * keeping only those; otherwise what fitted is kept.  Either way it is
 * said once. */
static void load_keys_lazily(struct run *r)
{
	const struct options *o = r->opt;
	struct imap_session_config real = r->scfg;
	struct streams *streams = r->streams;
	size_t share = o->max_memory / KEYS_MEMORY_SHARE, kept = tls_keys_count(r->keys);
	char err[KEYLOG_ERRLEN], msg[512];
	size_t i;

	if (!tls_keys_full(r->keys))
		return;
	if (!inputs_rereadable(o)) {
		snprintf(msg, sizeof msg, "key logs: over their share of --max-memory (%zu bytes)"
			 " after %zu client randoms; %" PRIu64 " more lines dropped (the input is"
			 " read once, so the entries it needs cannot be picked): sessions whose"
			 " entries were dropped are not decrypted", share, kept,
			 tls_keys_dropped(r->keys));
		run_notice(r, 0, 0, msg);
		return;
	}
	tls_keys_collect_begin(r->keys);
	r->prepass = true;
	r->streams = NULL;
	r->scfg.out = (struct output){ &null_output_ops, NULL };
	r->scfg.tap = (struct imap_tap){ NULL, NULL, NULL, NULL };
	r->scfg.extract = (struct imap_extract_hooks){ NULL, NULL, NULL, NULL, NULL };
	run_inputs(r);
	r->scfg = real;
	r->streams = streams;
	r->prepass = false;
	r->notices = 0;
	r->budget.refused = 0;
	tls_keys_collect_end(r->keys);
	for (i = 0; i < o->n_keylogs; i++) {
		if (keylog_load_file(r->keys, o->keylogs[i], NULL, NULL, err) != 0) {
			fprintf(stderr, "imapscope: %s\n", err);
			exit(EXIT_USAGE);
		}
	}
	snprintf(msg, sizeof msg, "key logs: over their share of --max-memory (%zu bytes)"
		 " after %zu client randoms; loaded again keeping only those of the capture's"
		 " %zu TLS handshakes (%zu found)%s", share, kept,
		 tls_keys_wanted_count(r->keys), tls_keys_count(r->keys),
		 tls_keys_want_full(r->keys) ? ", though not every handshake could be noted" : "");
	run_notice(r, 0, 0, msg);
	if (tls_keys_full(r->keys)) {
		snprintf(msg, sizeof msg, "key logs: even the entries the capture needs pass"
			 " the share: %" PRIu64 " lines dropped; the sessions they were for are"
			 " not decrypted", tls_keys_dropped(r->keys));
		run_notice(r, 0, 0, msg);
	}
}

int main(int argc, char **argv)
{
	static struct options opt;
	static struct run r;
	FILE *fp;
	int status;

	parse_options(&opt, argc, argv);
	r.opt = &opt;
	r.budget.limit = opt.max_memory;
	opt.flow.budget = &r.budget;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);

	load_keys(&r);
	check_inputs(&opt);
	if (opt.iface != NULL)
		make_live_filter(&opt, r.live_filter, sizeof r.live_filter);
	r.progress = !opt.quiet && opt.iface == NULL && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &r.started);
	/* The folders first: a refused one must not leave -o truncated. */
	if (opt.streams_dir != NULL) {
		char err[STREAMS_ERRLEN];

		r.streams = streams_new(opt.streams_dir, opt.force, &r.budget, err);
		if (r.streams == NULL) {
			fprintf(stderr, "imapscope: --streams: %s\n", err);
			return EXIT_USAGE;
		}
		r.scfg.tap = (struct imap_tap){ r.streams, streams_data, streams_gap, streams_end };
	}
	if (opt.extract_dir != NULL) {
		char err[EXTRACT_ERRLEN];

		r.extract = extract_new(opt.extract_dir, opt.force, &r.budget, err);
		if (r.extract == NULL) {
			fprintf(stderr, "imapscope: --extract: %s\n", err);
			return EXIT_USAGE;
		}
		r.scfg.extract = (struct imap_extract_hooks){
			&r, run_extract_begin, run_extract_data, run_extract_gap, run_extract_end,
		};
	}
	fp = open_output(&opt);
	make_output(&r, fp);
	r.scfg.show_secrets = opt.show_secrets;
	r.scfg.literal_keep = opt.literal_keep;
	r.scfg.max_inflate = opt.max_inflate;
	r.scfg.budget = &r.budget;
	r.scfg.tls = &tls_layer_ops;
	r.scfg.tls_conf = r.keys;
	r.scfg.out = r.filtered;
	r.scfg.notice = run_notice;
	r.scfg.notice_ctx = &r;
	load_keys_lazily(&r);

	if (opt.only.user != NULL) {
		struct imap_session_config real = r.scfg;

		r.prepass = true;
		r.scfg.out = filter_collector(r.filter);
		r.scfg.tap = (struct imap_tap){ NULL, NULL, NULL, NULL };
		r.scfg.extract = (struct imap_extract_hooks){ NULL, NULL, NULL, NULL, NULL };
		run_inputs(&r);
		if (r.scfg.out.ops->finish(r.scfg.out.ctx) != 0) {
			fputs("imapscope: out of memory finding the --user sessions\n", stderr);
			return EXIT_INPUT;
		}
		r.scfg = real;
		r.prepass = false;
		r.notices = 0;
		r.budget.refused = 0;
	}
	status = run_inputs(&r);
	notice_unmatched(&r);
	if (r.budget.refused != 0) {
		char msg[256];

		snprintf(msg, sizeof msg, "%" PRIu64 " allocations refused by --max-memory "
			 "(peak %zu bytes): data was dropped, as the notices and the "
			 "sessions' \"capped\" counts say", r.budget.refused, r.budget.peak);
		run_notice(&r, 0, r.last_ts_us, msg);
	}
	if (r.notices_hidden != 0 && !opt.quiet)
		fprintf(stderr, "imapscope: %" PRIu64 " more notices not shown\n",
			r.notices_hidden);
	if (r.streams != NULL) {
		char err[STREAMS_ERRLEN];

		if (streams_free(&r.streams, err) != 0) {	/* an output not written */
			fprintf(stderr, "imapscope: --streams: %s\n", err);
			status = EXIT_USAGE;
		}
	}
	if (r.extract != NULL) {
		char err[EXTRACT_ERRLEN];

		if (extract_free(&r.extract, err) != 0) {
			fprintf(stderr, "imapscope: --extract: %s\n", err);
			status = EXIT_USAGE;
		}
	}
	if (r.filtered.ops->finish(r.filtered.ctx) != 0) {
		fprintf(stderr, "imapscope: writing the output failed: %s\n", strerror(errno));
		status = EXIT_USAGE;	/* an output that cannot be written, as for the folders */
	}
	r.filtered.ops->free(r.filtered.ctx);
	if (fp != stdout && fclose(fp) != 0) {
		fprintf(stderr, "imapscope: %s: %s\n", opt.output_path, strerror(errno));
		status = EXIT_USAGE;	/* an output that cannot be written, as for the folders */
	}
	tls_keys_free(&r.keys);
	filter_free(&r.filter);
	free(opt.bpf);
	return status;
}
