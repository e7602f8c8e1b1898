/* libpcap in.  Files are checked before libpcap sees them so that the
 * common mistakes (a directory, an empty or cut-short file) get a plain
 * one-line reason; libpcap's own messages are mapped to the same words. */
#include "net/capture.h"

#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/decode.h"
#include "net/pcapng.h"
#include "util/outdir.h"

#define CAPTURE_LIVE_TIMEOUT_MS  200	/* how often a live read checks for a stop */
#define CAPTURE_LIVE_BUFFER      (32 << 20)	/* kernel ring: bursts without drops */
#define CAPTURE_MIN_HEADER       24	/* a pcap file header; pcapng's is larger */
#define CAPTURE_PKT_OVERHEAD     16	/* a pcap record header, for byte counts */
#define CAPTURE_READ_BUFFER      (1 << 20)	/* stdio buffer for files */
#define US_PER_S                 1000000LL
#define PCAPNG_MAGIC             0x0A0D0D0Au	/* the section header's type */

struct capture {
	pcap_t *p;
	pcap_dumper_t *dump;
	int linktype;
	bool live;
	volatile sig_atomic_t stop;
	uint64_t file_size;
	uint64_t bytes_seen;	/* fallback when ftell cannot tell (a pipe) */
	char *iobuf;		/* the file's stdio buffer: freed after it is closed */
	char *name;		/* the file's path, for notices */
	bool pcapng;		/* a seekable pcapng file: libpcap's stop can be resumed */
	bool have_prog;
	/* The filter: libpcap's on a live source, ours (capture_run, the
	 * pcapng walker) on a file */
	struct bpf_program prog;
	uint64_t records;	/* packet records read so far */
	notice_fn *notice;
	void *notice_ctx;
	uint64_t corrupt_blocks;
	capture_pkt_fn fn;	/* of the running capture_run */
	void *fn_ctx;
};

static void set_err(char err[CAPTURE_ERRLEN], const char *fmt, const char *arg)
{
	snprintf(err, CAPTURE_ERRLEN, fmt, arg);
}

/* libpcap's wording for a bad file, in ours. */
static void map_open_error(const char *pcap_msg, char err[CAPTURE_ERRLEN])
{
	if (strstr(pcap_msg, "unknown file format") != NULL ||
	    strstr(pcap_msg, "bad dump file format") != NULL)
		set_err(err, "%s", "not a capture file");
	else if (strstr(pcap_msg, "only got 0") != NULL)
		set_err(err, "%s", "empty file");
	else if (strstr(pcap_msg, "truncated") != NULL)
		set_err(err, "%s", "truncated file header");
	else
		set_err(err, "%s", pcap_msg);
}

static int install_filter(struct capture *c, const char *bpf,
			  char err[CAPTURE_ERRLEN])
{
	struct bpf_program prog;

	if (bpf == NULL || bpf[0] == '\0')
		return 0;
	if (pcap_compile(c->p, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		set_err(err, "bad filter: %s", pcap_geterr(c->p));
		return -1;
	}
	/* A file is filtered here, not by libpcap, so that the records the
	 * filter refuses are still counted (capture_pkt.frame). */
	if (c->live && pcap_setfilter(c->p, &prog) != 0) {
		set_err(err, "cannot set filter: %s", pcap_geterr(c->p));
		pcap_freecode(&prog);
		return -1;
	}
	c->prog = prog;		/* kept for the pcapng walker */
	c->have_prog = true;
	return 0;
}

/* The checks every source shares once libpcap has it open. */
static int finish_open(struct capture *c, const char *bpf,
		       char err[CAPTURE_ERRLEN])
{
	c->linktype = pcap_datalink(c->p);
	if (!decode_linktype_supported(c->linktype)) {
		snprintf(err, CAPTURE_ERRLEN, "unsupported link type %d",
			 c->linktype);
		return -1;
	}
	return install_filter(c, bpf, err);
}

/* A file that is a directory, empty or shorter than any header never
 * reaches libpcap.  The stream is left at its start. */
static int precheck_file(FILE *fp, uint64_t *size_r, bool *pcapng_r,
			 char err[CAPTURE_ERRLEN])
{
	uint32_t magic = 0;

	struct stat st;

	if (fstat(fileno(fp), &st) != 0) {
		set_err(err, "%s", strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		set_err(err, "%s", "is a directory");
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		return 0;	/* a pipe or a device: libpcap will tell */
	*size_r = (uint64_t)st.st_size;
	*pcapng_r = false;
	if (st.st_size == 0) {
		set_err(err, "%s", "empty file");
		return -1;
	}
	if (st.st_size < CAPTURE_MIN_HEADER) {
		set_err(err, "%s", "truncated file header");
		return -1;
	}
	/* A regular file can be read again: a pcapng one past a bad block. */
	*pcapng_r = fread(&magic, sizeof magic, 1, fp) == 1 && magic == PCAPNG_MAGIC;
	rewind(fp);
	return 0;
}

static FILE *open_input(struct capture *c, const char *path, char err[CAPTURE_ERRLEN])
{
	FILE *fp;

	if (strcmp(path, "-") == 0)
		return stdin;
	fp = fopen(path, "rb");
	if (fp == NULL) {
		set_err(err, "%s", strerror(errno));
		return NULL;
	}
	/* libpcap reads through stdio, whose buffer is st_blksize (4 KB): a
	 * read(2) every three packets.  glibc ignores the size unless it is
	 * given the buffer.  Nothing has been read yet, so it can still
	 * change; without memory the default buffer works too.  (stdin keeps
	 * its own: it outlives the capture.) */
	c->iobuf = malloc(CAPTURE_READ_BUFFER);
	if (c->iobuf != NULL && setvbuf(fp, c->iobuf, _IOFBF, CAPTURE_READ_BUFFER) != 0) {
		free(c->iobuf);
		c->iobuf = NULL;
	}
	return fp;
}

int capture_open_file(struct capture **c_r, const char *path, const char *bpf,
		      char err[CAPTURE_ERRLEN])
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct capture *c;
	FILE *fp;

	*c_r = NULL;
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		set_err(err, "%s", "out of memory");
		return -1;
	}
	fp = open_input(c, path, err);
	if (fp == NULL || precheck_file(fp, &c->file_size, &c->pcapng, err) != 0)
		goto fail_fp;
	c->name = strdup(path);
	if (c->name == NULL) {
		set_err(err, "%s", "out of memory");
		goto fail_fp;
	}
	/* libpcap scales nanosecond files to microseconds by default. */
	c->p = pcap_fopen_offline(fp, perr);
	if (c->p == NULL) {
		map_open_error(perr, err);
		goto fail_fp;
	}
	if (finish_open(c, bpf, err) != 0) {
		capture_free(&c);	/* pcap_close closes fp */
		return -1;
	}
	*c_r = c;
	return 0;
fail_fp:
	if (fp != NULL && fp != stdin)
		fclose(fp);
	free(c->iobuf);
	free(c->name);
	free(c);
	return -1;
}

/* Whether libpcap lists iface.  Without privileges libpcap reports a
 * missing interface as a permission problem (the socket fails first); the
 * list needs none. */
static bool iface_exists(const char *iface)
{
	char perr[PCAP_ERRBUF_SIZE];
	pcap_if_t *all, *d;
	bool found = false;

	if (pcap_findalldevs(&all, perr) != 0)
		return true;	/* cannot tell: keep libpcap's word */
	for (d = all; d != NULL && !found; d = d->next)
		found = strcmp(d->name, iface) == 0;
	pcap_freealldevs(all);
	return found;
}

/* Turn pcap_activate's failure into a reason a user can act on.  The
 * caller names the interface, so the reason does not. */
static void live_error(pcap_t *p, int rc, const char *iface,
		       char err[CAPTURE_ERRLEN])
{
	switch (rc) {
	case PCAP_ERROR_PERM_DENIED:
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		if (!iface_exists(iface))
			set_err(err, "%s", "no such interface");
		else
			set_err(err, "%s", "permission denied: run as root or grant "
				"CAP_NET_RAW (setcap cap_net_raw,cap_net_admin=eip)");
		break;
	case PCAP_ERROR_NO_SUCH_DEVICE:
		set_err(err, "%s", "no such interface");
		break;
	case PCAP_ERROR_IFACE_NOT_UP:
		set_err(err, "%s", "interface is down");
		break;
	default:
		set_err(err, "%s", pcap_geterr(p)[0] != '\0' ? pcap_geterr(p) :
			pcap_statustostr(rc));
		break;
	}
}

int capture_open_live(struct capture **c_r, const char *iface, const char *bpf,
		      char err[CAPTURE_ERRLEN])
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct capture *c;
	int rc;

	*c_r = NULL;
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		set_err(err, "%s", "out of memory");
		return -1;
	}
	c->live = true;
	c->p = pcap_create(iface, perr);
	if (c->p == NULL) {
		set_err(err, "%s", perr);
		free(c);
		return -1;
	}
	(void)pcap_set_snaplen(c->p, CAPTURE_LIVE_SNAPLEN);
	(void)pcap_set_promisc(c->p, 1);
	(void)pcap_set_timeout(c->p, CAPTURE_LIVE_TIMEOUT_MS);
	(void)pcap_set_buffer_size(c->p, CAPTURE_LIVE_BUFFER);
	rc = pcap_activate(c->p);
	if (rc < 0) {
		live_error(c->p, rc, iface, err);
		capture_free(&c);
		return -1;
	}
	if (finish_open(c, bpf, err) != 0) {
		capture_free(&c);
		return -1;
	}
	*c_r = c;
	return 0;
}

int capture_default_filter(const uint16_t *ports, size_t n, char *buf,
			   size_t cap)
{
	/* ip6[6], not "ip6 proto": libpcap's "ip6 proto 6" also matches a
	 * fragment header followed by TCP, which "not" would then lose. */
	static const char v6_ext[] = "(ip6 and ip6[6] != 6 and ip6[6] != 17"
				     " and ip6[6] != 58)";
	size_t i, len = 0;
	int k;

	if (cap == 0)
		return -1;
	buf[0] = '\0';
	/* "tcp port 143 or 993" repeats the qualifiers (pcap-filter(7)). */
	for (i = 0; i < n; i++) {
		k = snprintf(buf + len, cap - len, "%s%u", i == 0 ? "tcp port " : " or ",
			     ports[i]);
		if (k < 0 || (size_t)k >= cap - len)
			return -1;
		len += (size_t)k;
	}
	k = snprintf(buf + len, cap - len, "%s%s", n > 0 ? " or " : "", v6_ext);
	if (k < 0 || (size_t)k >= cap - len)
		return -1;
	return 0;
}

/* A pcapng timestamp is 64 bits of units, so tv_sec can be far past any
 * real date.  Times are clamped to 1970..9999 (CAPTURE_MAX_SEC); the
 * packet is still read. */
static int64_t capture_ts_us(const struct pcap_pkthdr *h)
{
	int64_t sec = (int64_t)h->ts.tv_sec;
	int64_t usec = (int64_t)h->ts.tv_usec;

	if (sec < 0)
		return 0;
	if (sec > CAPTURE_MAX_SEC)
		return CAPTURE_MAX_SEC * US_PER_S;
	return sec * US_PER_S + (usec >= 0 && usec < US_PER_S ? usec : 0);
}

static bool walk_wanted(void *ctx, const struct capture_pkt *pkt)
{
	struct capture *c = ctx;
	struct pcap_pkthdr h = { .caplen = pkt->caplen, .len = pkt->len };

	return !c->have_prog || pcap_offline_filter(&c->prog, &h, pkt->data) != 0;
}

static void walk_packet(void *ctx, const struct capture_pkt *pkt)
{
	struct capture *c = ctx;

	c->bytes_seen += pkt->caplen + CAPTURE_PKT_OVERHEAD;
	c->fn(c->fn_ctx, pkt);
}

static void say(struct capture *c, const char *msg)
{
	char line[CAPTURE_ERRLEN + 256];	/* a path and a reason: past NOTICE_MAX */
	struct notice n = NOTICE_OF(NOTICE_CAPTURE);

	if (c->notice == NULL)
		return;
	snprintf(line, sizeof line, "%s: %s", c->name != NULL ? c->name : "-", msg);
	n.text = line;
	c->notice(c->notice_ctx, &n);
}

static void walk_corrupt(void *ctx, uint64_t off, const char *why, uint64_t skipped)
{
	struct capture *c = ctx;
	char msg[CAPTURE_ERRLEN];

	c->corrupt_blocks++;
	snprintf(msg, sizeof msg, "corrupt pcapng block at offset %" PRIu64 " (%s): "
		 "%" PRIu64 " bytes skipped to %s", off, why, skipped,
		 off + skipped >= c->file_size ? "the end of the file" : "the next block");
	say(c, msg);
}

/* libpcap stopped at a pcapng block it could not read (err says why); the
 * walker reads the file again, passes over the n packets already handed
 * on, skips what is corrupt and hands on the rest. */
static int resume_pcapng(struct capture *c, capture_pkt_fn fn, void *ctx,
			 uint64_t n, char err[CAPTURE_ERRLEN])
{
	struct pcapng_hooks h = { c, walk_wanted, walk_packet, walk_corrupt, &c->stop, NULL };
	uint64_t before = c->corrupt_blocks;
	char why[CAPTURE_ERRLEN];
	int rc;

	snprintf(why, sizeof why, "%s", err);
	c->fn = fn;
	c->fn_ctx = ctx;
	rc = pcapng_walk(pcap_file(c->p), n, &h, err);
	if (rc < 0)
		snprintf(err, CAPTURE_ERRLEN, "%s", why);	/* libpcap's reason stands */
	else if (c->corrupt_blocks == before) {
		/* libpcap saw a fault the walker did not: still said. */
		c->corrupt_blocks++;
		say(c, why);
	}
	return rc;
}

int capture_run(struct capture *c, capture_pkt_fn fn, void *ctx,
		uint64_t max_pkts, char err[CAPTURE_ERRLEN])
{
	struct pcap_pkthdr *h;
	const u_char *data;
	struct capture_pkt pkt;
	uint64_t n = 0;
	int rc;

	pkt.linktype = c->linktype;
	while (!c->stop) {
		if (max_pkts != 0 && n >= max_pkts)
			return 1;
		rc = pcap_next_ex(c->p, &h, &data);
		if (rc == 0)
			continue;	/* live read timeout: check for a stop */
		if (rc == PCAP_ERROR_BREAK)
			return c->stop ? 1 : 0;
		if (rc < 0) {
			set_err(err, "%s", pcap_geterr(c->p));
			return c->pcapng ? resume_pcapng(c, fn, ctx, n, err) : -1;
		}
		c->records++;
		c->bytes_seen += h->caplen + CAPTURE_PKT_OVERHEAD;
		if (!c->live && c->have_prog &&
		    pcap_offline_filter(&c->prog, h, data) == 0)
			continue;
		n++;
		if (c->dump != NULL)
			pcap_dump((u_char *)c->dump, h, data);
		pkt.ts_us = capture_ts_us(h);
		pkt.data = data;
		pkt.caplen = h->caplen;
		pkt.len = h->len;
		pkt.frame = c->records;
		fn(ctx, &pkt);
	}
	return 1;
}

void capture_set_notice(struct capture *c, notice_fn *fn, void *ctx)
{
	c->notice = fn;
	c->notice_ctx = ctx;
}

uint64_t capture_corrupt_blocks(const struct capture *c)
{
	return c->corrupt_blocks;
}

void capture_break(struct capture *c)
{
	c->stop = 1;
	if (c->p != NULL)
		pcap_breakloop(c->p);
}

uint64_t capture_bytes_read(const struct capture *c)
{
	FILE *fp;
	long pos;

	if (c->live)
		return 0;
	fp = pcap_file(c->p);
	if (fp != NULL && (pos = ftell(fp)) >= 0)
		return (uint64_t)pos;
	return c->bytes_seen + CAPTURE_MIN_HEADER;
}

uint64_t capture_file_size(const struct capture *c)
{
	return c->file_size;
}

uint64_t capture_drops(const struct capture *c)
{
	struct pcap_stat ps;

	if (!c->live || pcap_stats(c->p, &ps) != 0)
		return 0;
	return (uint64_t)ps.ps_drop + ps.ps_ifdrop;
}

int capture_save_to(struct capture *c, const char *path,
		    char err[CAPTURE_ERRLEN])
{
	char oerr[OUTDIR_ERRLEN];
	FILE *fp;
	int fd;

	if (c->dump != NULL)
		pcap_dump_close(c->dump);
	c->dump = NULL;
	/* The packets hold what the sessions held, passwords included: never
	 * written through a link, and private (0600). */
	fd = outdir_open_file(path, true, oerr);
	if (fd < 0) {
		set_err(err, "%s", oerr);
		return -1;
	}
	fp = fdopen(fd, "wb");
	if (fp == NULL) {
		snprintf(err, CAPTURE_ERRLEN, "%.300s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	c->dump = pcap_dump_fopen(c->p, fp);
	if (c->dump == NULL) {
		snprintf(err, CAPTURE_ERRLEN, "%.300s: %s", path, pcap_geterr(c->p));
		fclose(fp);
		return -1;
	}
	return 0;
}

void capture_free(struct capture **cp)
{
	struct capture *c = *cp;

	if (c == NULL)
		return;
	if (c->dump != NULL)
		pcap_dump_close(c->dump);
	if (c->p != NULL)
		pcap_close(c->p);	/* closes the file, then its buffer can go */
	if (c->have_prog)
		pcap_freecode(&c->prog);
	free(c->iobuf);
	free(c->name);
	free(c);
	*cp = NULL;
}
