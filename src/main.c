/* imapscope: the command line.  Options become struct run_options; the
 * run (app/run.h) wires every layer and does the work. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json_c_version.h>
#include <openssl/crypto.h>
#include <zlib.h>

#include "app/run.h"
#include "imap/imap_lexer.h"
#include "imap/inflate.h"
#include "net/flow.h"
#include "report/decrypted_pcap.h"
#include "report/event_filter.h"
#include "report/filter.h"
#include "report/check.h"
#include "report/follow.h"
#include "report/logins.h"
#include "report/output_text.h"
#include "util/outdir.h"

#define IMAPSCOPE_VERSION "0.1.0"
#define MIN_FAIL_THRESHOLD 2	/* one failure is no pattern */
#define MAX_FAIL_WINDOW_S (86400 * 365)
#define MAX_WIDTH 10000		/* --width: columns at most */

/* The help says "half" for the key logs' share. */
_Static_assert(RUN_KEYS_MEMORY_SHARE == 2, "--help: key logs may take half");

struct options {
	struct run_options run;
	bool explicit_r;		/* -r given: positionals are a filter */
	char *bpf;			/* owned; run.bpf points here */
	bool logins;
	bool summary;
	bool activity;
	bool sessions;
	const char *sort;		/* --sort, or NULL */
	const char *follow;		/* --follow N as given, or NULL */
	bool max_follow_literal;	/* --max-follow-literal given */
	bool json;
};

/* The defaults shown are the named constants, formatted in. */
static void usage(FILE *fp)
{
	struct flow_config d;

	flow_config_defaults(&d);
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
"  -p, --port PORT[/tls]   also treat PORT as IMAP (repeatable); /tls marks\n", fp);
	fprintf(fp,
"                          implicit TLS; %u and %u/tls are always on\n",
		d.ports[0].port, d.ports[1].port);
	fputs(
"  -k, --keylog FILE       NSS key log for TLS 1.2/1.3 decryption\n"
"      --rsa-key FILE      server PEM RSA key for RSA key exchange\n"
"      --write-keys-pcapng FILE\n"
"                          also write the input files as pcapng (0600) with\n"
"                          the key log lines their TLS sessions used in a\n"
"                          Decryption Secrets Block: Wireshark decrypts it\n"
"                          with no key log (needs -k; files only, read twice)\n"
"      --show-secrets      print passwords and SASL secrets (redacted by default)\n"
"      --logins            print the login audit instead of the timeline\n"
"      --summary           print per-session and whole-capture statistics\n"
"                          instead of the timeline (with --logins: after it)\n"
"      --activity          print what each logged-in session did to the mailboxes\n"
"      --check             interop checker: protocol violations, each with its\n"
"                          rule, side and RFC section, inline in the timeline\n"
"                          (or after --logins/--summary) and counted at the end\n"
"      --help-checks       list the rules of --check\n"
"      --sessions          print only one line per session (an index)\n"
"      --sort COLUMN       --sessions: order by COLUMN (default id; counts\n"
"                          largest first): id, community_id, start, duration,\n"
"                          client, server, user, transport, commands, no, bad,\n"
"                          bytes_c2s, bytes_s2c, bytes, gaps, notices\n"
"      --follow N          print session N's bytes, both sides in the order they\n"
"                          came, after TLS and COMPRESS (secrets redacted)\n", fp);
	fprintf(fp,
"      --max-follow-literal BYTES  --follow: literals up to BYTES shown whole,\n"
"                          longer ones as their size (default %d)\n",
		FOLLOW_DEFAULT_MAX_LITERAL);
	fputs(
"      --fail-threshold N  --logins: flag brute force from the Nth failed login\n", fp);
	fprintf(fp,
"                          by one client or against one user (default %d)\n"
"      --fail-window TIME  ... within this time (default %lld s)\n",
		LOGINS_FAIL_THRESHOLD_DEFAULT, (long long)(LOGINS_WINDOW_US_DEFAULT / 1000000));
	fputs(
"      --streams DIR       write each session's reassembled streams to DIR\n"
"      --extract DIR       write each message body that crosses the wire (FETCH,\n"
"                          APPEND) to DIR as .eml/.part, with DIR/index.jsonl\n"
"      --force             --streams/--extract into a folder that is not empty:\n"
"                          remove the files its index.jsonl lists, then write\n", fp);
	fprintf(fp,
"      --write-decrypted FILE  write the IMAP sessions shown to FILE as a pcap\n"
"                          of plaintext TCP (TLS removed, COMPRESS inflated,\n"
"                          segments of at most %d bytes, gaps kept) that\n"
"                          Wireshark and other pcap readers read without keys\n",
		DPCAP_MSS_V4);
	fputs(
"      --html FILE         also write a self-contained HTML report to FILE:\n"
"                          timeline, ladder per session, latency, logins\n"
"      --session N[,N...]  keep only these sessions (repeatable)\n"
"      --user NAME         keep only sessions where NAME tried to log in\n"
"      --host ADDR         keep only sessions with ADDR as client or server\n"
"                          (192.0.2.1, 192.0.2.1:143, [2001:db8::1]:143, ...)\n"
"      --since TIME        keep only events from TIME (RFC 3339:\n"
"                          2026-11-21T10:00:00Z; or +30s, +2m from the first\n"
"                          packet); in every output\n"
"      --until TIME        ... up to TIME\n"
"      --status NO,BAD     keep only commands completed so, with their lines\n"
"      --command NAME[,NAME...]  keep only these commands, with their lines\n"
"                          (FETCH is also UID FETCH)\n"
"      --mailbox NAME      keep only events while NAME is selected\n"
"      --color auto|always|never   colour in the text timeline (default auto)\n"
"      --frames            text: show each event's capture record numbers,\n"
"                          [f12] or [f12-f15], as Wireshark numbers them\n"
"      --width N           text: fit lines in N columns (capability lists\n"
"                          collapsed, texts cut with ...); 0 keeps them whole;\n"
"                          default: the terminal's width, 0 when not one\n"
"  -c COUNT                live: stop after COUNT packets\n"
"      --duration TIME     live: stop after TIME\n"
"  -w FILE                 live: also save the raw packets to FILE\n", fp);
	fprintf(fp,
"      --max-flows N       flows tracked at once (default %zu)\n"
"      --max-literal-memory BYTES  literal bytes kept in memory per literal\n"
"                          (default %zu; larger ones are streamed and counted)\n"
"      --max-ooo-bytes BYTES  out-of-order bytes queued per direction\n"
"                          (default %zu)\n"
"      --max-memory BYTES  total memory of flows, buffers and reports\n"
"                          (default %zu; past it the oldest flow gives\n"
"                          way or data is dropped, with notices; key logs may\n"
"                          take half, past which only the capture's are kept)\n"
"      --max-inflate BYTES  COMPRESS output decoded per direction (default\n"
"                          %llu; past it, or past %d:1, the rest of\n"
"                          the direction is not decoded, with a notice)\n",
		d.max_flows, (size_t)IMAP_DEFAULT_LITERAL_KEEP, d.max_ooo_bytes,
		RUN_DEFAULT_MAX_MEMORY, (unsigned long long)INFLATE_DEFAULT_MAX_TOTAL,
		INFLATE_GUARD_RATIO);
	fputs(
"  -q, --quiet             no notices or progress line on stderr\n"
"  -h, --help              this help\n"
"  -V, --version           version and library versions\n"
"\n"
"BYTES take a suffix K, M, G or T (powers of 1024: 64M); TIME one of s, m,\n"
"h or d (5m, 2h; seconds without one).\n"
"\n", fp);
	fprintf(fp,
"Exit codes: %d success (damaged packets are notices), %d input unreadable,\n"
"%d bad usage.\n", RUN_OK, RUN_INPUT, RUN_USAGE);
}

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("imapscope: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	exit(RUN_USAGE);
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
	if (flow_config_add_port(&o->run.flow, (uint16_t)v, tls) != 0)
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
	OPT_FAIL_THRESHOLD, OPT_FAIL_WINDOW, OPT_FORCE, OPT_WRITE_DECRYPTED, OPT_HTML,
	OPT_WRITE_KEYS_PCAPNG, OPT_FRAMES, OPT_ACTIVITY, OPT_CHECK, OPT_HELP_CHECKS,
	OPT_WIDTH, OPT_SINCE, OPT_UNTIL, OPT_STATUS, OPT_COMMAND, OPT_MAILBOX,
	OPT_SESSIONS, OPT_SORT, OPT_FOLLOW, OPT_MAX_FOLLOW_LITERAL,
};

static const struct option long_opts[] = {
	{ "format", required_argument, NULL, 'F' },
	{ "output", required_argument, NULL, 'o' },
	{ "port", required_argument, NULL, 'p' },
	{ "keylog", required_argument, NULL, 'k' },
	{ "rsa-key", required_argument, NULL, OPT_RSA_KEY },
	{ "write-keys-pcapng", required_argument, NULL, OPT_WRITE_KEYS_PCAPNG },
	{ "show-secrets", no_argument, NULL, OPT_SHOW_SECRETS },
	{ "extract", required_argument, NULL, OPT_EXTRACT },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "write-decrypted", required_argument, NULL, OPT_WRITE_DECRYPTED },
	{ "html", required_argument, NULL, OPT_HTML },
	{ "logins", no_argument, NULL, OPT_LOGINS },
	{ "summary", no_argument, NULL, OPT_SUMMARY },
	{ "activity", no_argument, NULL, OPT_ACTIVITY },
	{ "sessions", no_argument, NULL, OPT_SESSIONS },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "follow", required_argument, NULL, OPT_FOLLOW },
	{ "max-follow-literal", required_argument, NULL, OPT_MAX_FOLLOW_LITERAL },
	{ "streams", required_argument, NULL, OPT_STREAMS },
	{ "session", required_argument, NULL, OPT_SESSION },
	{ "user", required_argument, NULL, OPT_USER },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "color", required_argument, NULL, OPT_COLOR },
	{ "colour", required_argument, NULL, OPT_COLOR },
	{ "frames", no_argument, NULL, OPT_FRAMES },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "help-checks", no_argument, NULL, OPT_HELP_CHECKS },
	{ "width", required_argument, NULL, OPT_WIDTH },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "command", required_argument, NULL, OPT_COMMAND },
	{ "mailbox", required_argument, NULL, OPT_MAILBOX },
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
	if (o->run.n_inputs == RUN_MAX_INPUTS)
		die_usage("too many input files (at most %d; '%s')", RUN_MAX_INPUTS, path);
	o->run.inputs[o->run.n_inputs++] = path;
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
		exit(RUN_USAGE);
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
	if (o->run.n_inputs > 0) {
		o->bpf = join_args(argc, argv, i);
		if (o->bpf == NULL)
			die_usage("%s", "out of memory");
		if (filter_compiles(o->bpf, err))
			return;
	}
	for (j = i + 1; j < argc && !is_input(argv[j]); j++)
		;
	if (j < argc || i + 1 == argc || o->run.n_inputs == 0) {
		int e = access(argv[i], F_OK) == 0 ? 0 : errno;

		fprintf(stderr, "imapscope: %s: %s\n", argv[i], strerror(e));
		exit(RUN_INPUT);
	}
	fprintf(stderr, "imapscope: '%s' is not a file, and '%s' is not a filter: %s\n",
		argv[i], o->bpf, err);
	exit(RUN_USAGE);
}

/* --write-decrypted truncates its file: never an input, nor where another
 * output goes. */
static void check_decrypted_path(const struct options *o)
{
	const char *p = o->run.decrypted_path;
	const char *out = o->run.output_path;
	size_t i;

	if (strcmp(p, "-") == 0) {
		if (out == NULL || strcmp(out, "-") == 0)
			die_usage("%s", "--write-decrypted - needs -o FILE: the timeline goes to stdout");
		return;
	}
	if (out != NULL && strcmp(out, "-") != 0 && outdir_same(p, out))
		die_usage("%s", "--write-decrypted and -o need different files");
	if (o->run.save_path != NULL && outdir_same(p, o->run.save_path))
		die_usage("%s", "--write-decrypted and -w need different files");
	if (o->run.keys_pcapng_path != NULL && outdir_same(p, o->run.keys_pcapng_path))
		die_usage("%s", "--write-decrypted and --write-keys-pcapng need different files");
	for (i = 0; i < o->run.n_inputs; i++)
		if (outdir_same(p, o->run.inputs[i]))
			die_usage("--write-decrypted '%s' is an input", p);
}

/* --html truncates its file: never an input, nor where another output
 * goes. */
static void check_html_path(const struct options *o)
{
	const char *p = o->run.html_path;
	const char *other[] = { o->run.output_path, o->run.decrypted_path, o->run.save_path,
				o->run.keys_pcapng_path };

	if (strcmp(p, "-") == 0 || *p == '\0')
		die_usage("%s", "--html needs a file name");
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
		if (other[i] != NULL && strcmp(other[i], "-") != 0 && outdir_same(p, other[i]))
			die_usage("--html '%s' is another output's file too", p);
	for (size_t i = 0; i < o->run.n_inputs; i++)
		if (outdir_same(p, o->run.inputs[i]))
			die_usage("--html '%s' is an input", p);
}

/* --write-keys-pcapng reads its inputs a second time once the sessions
 * have said which keys they used; what cannot be read twice is refused
 * before anything is read. */
static void check_keys_pcapng(const struct run_options *r)
{
	size_t i;

	if (r->iface != NULL)
		die_usage("%s", "--write-keys-pcapng reads its inputs twice, so not live"
			  " capture (-i)");
	for (i = 0; i < r->n_inputs; i++) {
		struct stat st;

		if (strcmp(r->inputs[i], "-") == 0)
			die_usage("%s", "--write-keys-pcapng reads its inputs twice, so not"
				  " stdin");
		/* a pipe would also block the first open until someone writes */
		if (stat(r->inputs[i], &st) == 0 && !S_ISREG(st.st_mode))
			die_usage("--write-keys-pcapng reads its inputs twice, so not '%s'"
				  " (not a regular file)", r->inputs[i]);
	}
	if (r->n_keylogs == 0)
		die_usage("%s", "--write-keys-pcapng needs a key log (-k): its lines are"
			  " what it adds");
	if (r->keys_pcapng_path[0] == '\0' || strcmp(r->keys_pcapng_path, "-") == 0)
		die_usage("%s", "--write-keys-pcapng needs a file name");
}

/* --sessions' --sort, and --follow N: the one session it shows is the
 * filter's (so the others cost what hidden sessions cost). */
static void check_views(struct options *o)
{
	int col = SESSIONS_COL_ID;

	if (o->sort != NULL && !o->sessions)
		die_usage("%s", "--sort applies to --sessions only");
	if (o->sort != NULL && (col = sessions_col_parse(o->sort)) < 0)
		die_usage("unknown --sort column '%s' (%s)", o->sort, sessions_col_names());
	o->run.sessions_sort = o->sort != NULL ? (enum sessions_col)col : SESSIONS_COL_ID;
	if (o->max_follow_literal && o->follow == NULL)
		die_usage("%s", "--max-follow-literal applies to --follow only");
	if (o->follow == NULL)
		return;
	o->run.follow_session = parse_u64(o->follow, "bad --follow '%s' (a session number from 1)");
	if (o->run.follow_session == 0 || strchr(o->follow, ',') != NULL)
		die_usage("bad --follow '%s' (a session number from 1)", o->follow);
	if (o->run.only.n_sessions == 0) {
		if (filter_opts_add_sessions(&o->run.only, o->follow) != 0)
			die_usage("bad --follow '%s' (a session number from 1)", o->follow);
		return;
	}
	for (size_t i = 0; i < o->run.only.n_sessions; i++)
		if (o->run.only.sessions[i] == o->run.follow_session)
			return;
	die_usage("--follow %s: not among the --session numbers", o->follow);
}

static void parse_options(struct options *o, int argc, char **argv)
{
	int c;

	run_options_defaults(&o->run);
	opterr = 0;	/* our own one-line errors, prefixed like every other */
	while ((c = getopt_long(argc, argv, ":r:i:F:o:p:k:c:w:qhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r': add_input(o, optarg); o->explicit_r = true; break;
		case 'i': o->run.iface = optarg; break;
		case 'F':
			if (strcmp(optarg, "text") == 0)
				o->json = false;
			else if (strcmp(optarg, "json") == 0)
				o->json = true;
			else
				die_usage("unknown format '%s' (text or json)", optarg);
			break;
		case 'o': o->run.output_path = optarg; break;
		case 'p': parse_port(o, optarg); break;
		case 'k':
			if (o->run.n_keylogs == RUN_MAX_KEYLOGS)
				die_usage("too many key logs (at most %d; '%s')", RUN_MAX_KEYLOGS, optarg);
			o->run.keylogs[o->run.n_keylogs++] = optarg;
			break;
		case OPT_RSA_KEY: o->run.rsa_key = optarg; break;
		case OPT_WRITE_KEYS_PCAPNG: o->run.keys_pcapng_path = optarg; break;
		case OPT_SHOW_SECRETS: o->run.show_secrets = true; break;
		case OPT_EXTRACT: o->run.extract_dir = optarg; break;
		case OPT_FORCE: o->run.force = true; break;
		case OPT_WRITE_DECRYPTED: o->run.decrypted_path = optarg; break;
		case OPT_HTML: o->run.html_path = optarg; break;
		case OPT_LOGINS: o->logins = true; break;
		case OPT_SUMMARY: o->summary = true; break;
		case OPT_ACTIVITY: o->activity = true; break;
		case OPT_SESSIONS: o->sessions = true; break;
		case OPT_SORT: o->sort = optarg; break;
		case OPT_FOLLOW: o->follow = optarg; break;
		case OPT_MAX_FOLLOW_LITERAL:
			o->run.max_follow_literal = parse_size(optarg, "bad --max-follow-literal '%s'");
			o->max_follow_literal = true;
			break;
		case OPT_STREAMS: o->run.streams_dir = optarg; break;
		case OPT_SESSION:
			if (filter_opts_add_sessions(&o->run.only, optarg) != 0)
				die_usage("bad --session '%s' (session numbers from 1: 3, or 2,5,9)",
					  optarg);
			break;
		case OPT_USER: o->run.only.user = optarg; break;
		case OPT_HOST:
			if (filter_opts_set_host(&o->run.only, optarg) != 0)
				die_usage("bad --host '%s' (an address as printed: 192.0.2.1, "
					  "192.0.2.1:143, [2001:db8::1]:143)", optarg);
			break;
		case OPT_FRAMES:
			o->run.frames = true;
			break;
		case OPT_CHECK: o->run.check = true; break;
		case OPT_HELP_CHECKS: exit(check_print_catalogue(stdout) == 0 ? RUN_OK : RUN_USAGE);
		case OPT_SINCE:
		case OPT_UNTIL:
			if (event_filter_opts_set_time(&o->run.events, c == OPT_UNTIL, optarg) != 0)
				die_usage("bad --%s '%s' (2026-11-21T10:00:00Z, or +30s, +2m from the"
					  " first packet)", c == OPT_UNTIL ? "until" : "since", optarg);
			break;
		case OPT_STATUS:
			if (event_filter_opts_set_status(&o->run.events, optarg) != 0)
				die_usage("bad --status '%s' (OK, NO, BAD: NO,BAD)", optarg);
			break;
		case OPT_COMMAND:
			if (event_filter_opts_add_commands(&o->run.events, optarg) != 0)
				die_usage("bad --command '%s' (names: FETCH,STORE; at most %d)", optarg,
					  EVENT_FILTER_MAX_COMMANDS);
			break;
		case OPT_MAILBOX: o->run.events.mailbox = optarg; break;
		case OPT_WIDTH: {
			uint64_t w = parse_u64(optarg, "bad --width '%s' (columns, or 0 for whole lines)");

			if (w != 0 && (w < OUTPUT_TEXT_MIN_WIDTH || w > MAX_WIDTH))
				die_usage("--width '%s' must be 0 or %d to %d", optarg,
					  OUTPUT_TEXT_MIN_WIDTH, MAX_WIDTH);
			o->run.width = (int)w;
			break;
		}
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0)
				o->run.color = -1;
			else if (strcmp(optarg, "always") == 0)
				o->run.color = 1;
			else if (strcmp(optarg, "never") == 0)
				o->run.color = 0;
			else
				die_usage("bad --color '%s' (auto, always or never)", optarg);
			break;
		case 'c': o->run.max_packets = parse_u64(optarg, "bad packet count '%s'"); break;
		case OPT_DURATION: {
			uint64_t secs = parse_duration(optarg, "bad --duration '%s'");

			if (secs > UINT_MAX)
				die_usage("bad --duration '%s'", optarg);
			o->run.duration_s = (unsigned)secs;
			break;
		}
		case 'w': o->run.save_path = optarg; break;
		case OPT_MAX_FLOWS:
			o->run.flow.max_flows = parse_u64(optarg, "bad --max-flows '%s'");
			if (o->run.flow.max_flows == 0)
				die_usage("bad --max-flows '%s'", optarg);
			break;
		case OPT_MAX_LITERAL:
			o->run.literal_keep = parse_size(optarg, "bad --max-literal-memory '%s'");
			break;
		case OPT_MAX_OOO:
			o->run.flow.max_ooo_bytes = parse_size(optarg, "bad --max-ooo-bytes '%s'");
			break;
		case OPT_MAX_MEMORY:
			o->run.max_memory = parse_size(optarg, "bad --max-memory '%s'");
			break;
		case OPT_MAX_INFLATE:
			o->run.max_inflate = parse_size(optarg, "bad --max-inflate '%s'");
			if (o->run.max_inflate == 0)
				die_usage("bad --max-inflate '%s' (at least 1 byte)", optarg);
			break;
		case OPT_FAIL_THRESHOLD:
			o->run.logins_opts.fail_threshold =
				(unsigned)parse_u64(optarg, "bad --fail-threshold '%s'");
			if (o->run.logins_opts.fail_threshold < MIN_FAIL_THRESHOLD ||
			    o->run.logins_opts.fail_threshold > LOGINS_FAIL_THRESHOLD_MAX)
				die_usage("--fail-threshold '%s' must be %d to %d", optarg,
					  MIN_FAIL_THRESHOLD, LOGINS_FAIL_THRESHOLD_MAX);
			break;
		case OPT_FAIL_WINDOW:
			o->run.logins_opts.window_us = (int64_t)parse_duration(optarg,
									   "bad --fail-window '%s'");
			if (o->run.logins_opts.window_us <= 0 || o->run.logins_opts.window_us > MAX_FAIL_WINDOW_S)
				die_usage("bad --fail-window '%s' (a time: 300, 5m, 2h)", optarg);
			o->run.logins_opts.window_us *= 1000000;
			break;
		case 'q': o->run.quiet = true; break;
		case 'h': usage(stdout); exit(RUN_OK);
		case 'V': print_version(); exit(RUN_OK);
		case ':':
			die_usage("option '%s' needs a value", argv[optind - 1]);
			break;
		default:
			die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (o->explicit_r || o->run.iface != NULL) {
		if (optind < argc && (o->bpf = join_args(argc, argv, optind)) == NULL)
			die_usage("%s", "out of memory");
	} else {
		take_positionals(o, argc, argv, optind);
	}
	if (o->run.iface != NULL && o->run.n_inputs > 0)
		die_usage("%s", "-i and input files cannot be combined");
	if (o->run.iface == NULL && o->run.n_inputs == 0)
		die_usage("%s", "no input: give a capture file, '-' for stdin, or -i IFACE");
	if (o->bpf != NULL)
		check_filter(o->bpf);
	if (o->run.only.user != NULL) {
		size_t i;

		for (i = 0; i < o->run.n_inputs; i++)
			if (strcmp(o->run.inputs[i], "-") == 0)
				die_usage("%s", "--user reads its inputs twice, so not from stdin");
		if (o->run.iface != NULL)
			die_usage("%s", "--user cannot be used with live capture (-i)");
	}
	if (o->run.keys_pcapng_path != NULL)
		check_keys_pcapng(&o->run);
	if (o->run.streams_dir != NULL && o->run.extract_dir != NULL &&
	    outdir_same(o->run.streams_dir, o->run.extract_dir))
		die_usage("%s", "--streams and --extract need different folders");
	if (o->run.force && o->run.streams_dir == NULL && o->run.extract_dir == NULL)
		die_usage("%s", "--force applies to --streams and --extract only");
	if (o->run.decrypted_path != NULL)
		check_decrypted_path(o);
	check_views(o);
	if (o->run.html_path != NULL)
		check_html_path(o);
	if (o->run.iface == NULL && (o->run.max_packets || o->run.duration_s || o->run.save_path))
		die_usage("%s", "-c, --duration and -w apply to live capture (-i) only");
}

static void on_signal(int sig)
{
	(void)sig;
	run_interrupt();
}

int main(int argc, char **argv)
{
	static struct options opt;
	int status;

	parse_options(&opt, argc, argv);
	opt.run.bpf = opt.bpf;
	opt.run.json = opt.json;
	opt.run.reports = (opt.logins ? RUN_REPORT_LOGINS : 0) | (opt.summary ? RUN_REPORT_SUMMARY : 0) |
			  (opt.sessions ? RUN_REPORT_SESSIONS : 0) |
			  (opt.follow != NULL ? RUN_REPORT_FOLLOW : 0);
	opt.run.reports |= opt.activity ? RUN_REPORT_ACTIVITY : 0;
	opt.run.reports |= opt.run.html_path != NULL ? RUN_REPORT_HTML : 0;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGALRM, on_signal);
	status = run_main(&opt.run, NULL);
	free(opt.bpf);
	return status;
}
