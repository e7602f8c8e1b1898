/* The pcapng writer and the second reading of capture files (see
 * net/pcapng_write.h).  Block layouts are those of the pcapng
 * specification (draft-ietf-opsawg-pcapng): every block is
 *     type (4) | total length (4) | body, padded to 4 | total length (4)
 * in the byte order its section header declares. */
#include "net/pcapng_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net/pcapng.h"
#include "util/cursor.h"

#define BT_SHB			0x0A0D0D0Au
#define BT_IDB			1u
#define BT_PB			2u	/* the obsolete packet block */
#define BT_SPB			3u
#define BT_ISB			5u
#define BT_EPB			6u
#define BT_CB_NOCOPY		0x40000BADu	/* a custom block not to be copied */
#define SPB_FIXED		12u
#define PB_FIXED		28u
#define BT_DSB			0x0Au
#define BOM			0x1A2B3C4Du
#define SHB_FIXED		24u	/* type, length, magic, version, section length */
#define SHB_SECTION_LEN_AT	16u
#define IDB_FIXED		16u
#define EPB_FIXED		28u
#define DSB_FIXED		16u
#define OPT_END			0u
#define OPT_SHB_USERAPPL	4u
#define OPT_IF_TSRESOL		9u
#define OPT_IF_FCSLEN		13u
#define OPT_MAX_TEXT		256u	/* our own option strings, at most */
/* pcap files: the magics, read in the file's byte order */
#define PCAP_MAGIC_US		0xA1B2C3D4u
#define PCAP_MAGIC_NS		0xA1B23C4Du
#define PCAP_MAGIC_MODIFIED	0xA1B2CD34u	/* Kuznetzov's: 8 more bytes a record */
#define BIG_ENDIAN_WHY		"a big-endian pcapng section cannot be copied" \
				" (editcap -F pcapng converts it)"
#define NOT_REGULAR_WHY		"not a regular file, so it cannot be read twice"
#define PCAP_FILE_HDR		24u
#define PCAP_REC_HDR		16u
#define PCAP_REC_HDR_MODIFIED	24u
#define PCAP_FCS_PRESENT	0x04000000u	/* the link type's F bit */
#define PCAP_FCS_WORD_BITS	16u		/* its length counts 16-bit words */

static size_t pad4(size_t n)
{
	return (4 - n % 4) % 4;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static int out_write(struct pcapng_out *o, const void *p, size_t n)
{
	if (o->err != 0)
		return -1;
	if (n != 0 && fwrite(p, 1, n, o->fp) != n) {
		o->err = errno != 0 ? errno : EIO;
		return -1;
	}
	return 0;
}

/* The body's padding and the trailing total length. */
static int out_tail(struct pcapng_out *o, size_t body, uint32_t total)
{
	static const uint8_t zeros[4];
	uint8_t t[4];

	put32(t, total);
	if (out_write(o, zeros, pad4(body)) != 0)
		return -1;
	return out_write(o, t, sizeof t);
}

void pcapng_out_init(struct pcapng_out *o, FILE *fp, struct mem_budget *budget,
		     int (*secrets)(void *ctx, struct pcapng_out *o), void *secrets_ctx)
{
	memset(o, 0, sizeof *o);
	o->fp = fp;
	o->budget = budget;
	o->secrets = secrets;
	o->secrets_ctx = secrets_ctx;
}

/* The section header is out: the secrets follow it, and nothing else
 * goes before them. */
static int after_shb(struct pcapng_out *o)
{
	o->started = true;
	if (o->secrets != NULL && o->secrets(o->secrets_ctx, o) != 0) {
		if (o->err == 0)
			o->err = EIO;
		return -1;
	}
	return o->err != 0 ? -1 : 0;
}

/* A new input section: its interface 0 is the next one described. */
static void new_input(struct pcapng_out *o)
{
	o->if_base = o->n_ifs;
}

/* One option of n bytes (n <= OPT_MAX_TEXT) into p: its length with padding. */
static size_t put_opt(uint8_t *p, uint16_t code,
		      const void *v, size_t n)
{
	put16(p, code);
	put16(p + 2, (uint16_t)n);
	if (n != 0)	/* the end-of-options option has no value, v NULL */
		memcpy(p + 4, v, n);
	memset(p + 4 + n, 0, pad4(n));
	return 4 + n + pad4(n);
}

int pcapng_put_shb(struct pcapng_out *o, const char *userappl)
{
	uint8_t b[SHB_FIXED + 2 * 4 + OPT_MAX_TEXT + 4];
	size_t n = strlen(userappl), at = SHB_FIXED;

	new_input(o);
	if (o->started)
		return o->err != 0 ? -1 : 0;
	if (n > OPT_MAX_TEXT)
		n = OPT_MAX_TEXT;
	put32(b, BT_SHB);
	put32(b + 8, BOM);
	put16(b + 12, 1);	/* version 1.0 */
	put16(b + 14, 0);
	memset(b + SHB_SECTION_LEN_AT, 0xff, 8);	/* length not given */
	if (n != 0)
		at += put_opt(b + at, OPT_SHB_USERAPPL, userappl, n);
	at += put_opt(b + at, OPT_END, NULL, 0);
	put32(b + 4, (uint32_t)(at + 4));
	if (out_write(o, b, at) != 0 || out_tail(o, at, (uint32_t)(at + 4)) != 0)
		return -1;
	return after_shb(o);
}

int pcapng_put_idb(struct pcapng_out *o, uint16_t linktype, uint32_t snaplen,
		   uint8_t tsresol, int fcslen)
{
	uint8_t b[IDB_FIXED + 3 * 8];
	size_t at = IDB_FIXED;
	uint8_t fcs = (uint8_t)fcslen;

	put32(b, BT_IDB);
	put16(b + 8, linktype);
	put16(b + 10, 0);
	put32(b + 12, snaplen);
	if (tsresol != 0)
		at += put_opt(b + at, OPT_IF_TSRESOL, &tsresol, 1);
	if (fcslen >= 0)
		at += put_opt(b + at, OPT_IF_FCSLEN, &fcs, 1);
	if (at != IDB_FIXED)
		at += put_opt(b + at, OPT_END, NULL, 0);
	put32(b + 4, (uint32_t)(at + 4));
	if (out_write(o, b, at) != 0 || out_tail(o, at, (uint32_t)(at + 4)) != 0)
		return -1;
	o->n_ifs++;
	return 0;
}

int pcapng_put_epb(struct pcapng_out *o, uint32_t ifid, uint64_t ts, const uint8_t *data,
		   uint32_t caplen, uint32_t origlen)
{
	uint8_t b[EPB_FIXED];
	uint32_t total;

	if (caplen > PCAPNG_COPY_MAX_RECORD) {
		o->err = o->err != 0 ? o->err : EFBIG;
		return -1;
	}
	total = EPB_FIXED + caplen + (uint32_t)pad4(caplen) + 4;
	put32(b, BT_EPB);
	put32(b + 4, total);
	put32(b + 8, ifid);
	put32(b + 12, (uint32_t)(ts >> 32));
	put32(b + 16, (uint32_t)ts);
	put32(b + 20, caplen);
	put32(b + 24, origlen);
	if (out_write(o, b, sizeof b) != 0 || out_write(o, data, caplen) != 0 ||
	    out_tail(o, caplen, total) != 0)
		return -1;
	o->packets++;
	return 0;
}

int pcapng_put_dsb(struct pcapng_out *o, uint32_t type, const uint8_t *p, size_t n)
{
	uint8_t b[DSB_FIXED];
	uint32_t total;

	if (n > PCAPNG_DSB_MAX) {
		o->err = o->err != 0 ? o->err : EFBIG;
		return -1;
	}
	total = DSB_FIXED + (uint32_t)(n + pad4(n)) + 4;
	put32(b, BT_DSB);
	put32(b + 4, total);
	put32(b + 8, type);
	put32(b + 12, (uint32_t)n);
	if (out_write(o, b, sizeof b) != 0 || out_write(o, p, n) != 0)
		return -1;
	return out_tail(o, n, total);
}

/* An obsolete or simple packet block whose interface number cannot be
 * said in its own kind, written as an Enhanced Packet Block (a simple one
 * has no time: 0).  The walker has checked the lengths. */
static int put_as_epb(struct pcapng_out *o, const uint8_t *b, uint32_t len)
{
	uint32_t caplen, origlen;

	if (cursor_load_le32(b) == BT_SPB) {
		origlen = cursor_load_le32(b + 8);
		caplen = origlen < len - SPB_FIXED - 4 ? origlen : len - SPB_FIXED - 4;
		return pcapng_put_epb(o, o->if_base, 0, b + SPB_FIXED, caplen, origlen);
	}
	caplen = cursor_load_le32(b + 20);
	origlen = cursor_load_le32(b + 24);
	if (caplen > len - PB_FIXED - 4)
		return 0;
	return pcapng_put_epb(o, cursor_load_le16(b + 8) + o->if_base,
			      (uint64_t)cursor_load_le32(b + 12) << 32 | cursor_load_le32(b + 16),
			      b + PB_FIXED, caplen, origlen);
}

/* A packet or statistics block whose interface number must move: the
 * number written anew (4 bytes, or 2 for the obsolete packet block), the
 * rest as it was. */
static int put_moved(struct pcapng_out *o, const uint8_t *b, uint32_t len, size_t idlen)
{
	uint8_t id[4];

	if (idlen == 2) {
		uint32_t v = (uint32_t)cursor_load_le16(b + 8) + o->if_base;

		if (v > UINT16_MAX)	/* past what its field can say */
			return put_as_epb(o, b, len);
		put16(id, (uint16_t)v);
	} else {
		put32(id, cursor_load_le32(b + 8) + o->if_base);
	}
	if (out_write(o, b, 8) != 0 || out_write(o, id, idlen) != 0 ||
	    out_write(o, b + 8 + idlen, len - 8 - idlen) != 0)
		return -1;
	o->packets += cursor_load_le32(b) != BT_ISB;
	return 0;
}

int pcapng_put_block(struct pcapng_out *o, const uint8_t *b, uint32_t len)
{
	static const uint8_t unknown_len[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t type = cursor_load_le32(b);

	switch (type) {
	case BT_SHB:
		new_input(o);
		if (o->started || len < SHB_FIXED + 4)
			return o->err != 0 ? -1 : 0;
		if (out_write(o, b, SHB_SECTION_LEN_AT) != 0 ||
		    out_write(o, unknown_len, sizeof unknown_len) != 0 ||
		    out_write(o, b + SHB_FIXED, len - SHB_FIXED) != 0)
			return -1;
		return after_shb(o);
	case BT_IDB:
		o->n_ifs++;
		break;
	case BT_CB_NOCOPY:
		return o->err != 0 ? -1 : 0;	/* its writer asked for that */
	case BT_EPB: case BT_ISB:
		if (len < 16)
			return o->err != 0 ? -1 : 0;	/* statistics of no interface */
		if (o->if_base == 0)
			break;
		return put_moved(o, b, len, 4);
	case BT_PB:
		if (o->if_base == 0)
			break;
		return put_moved(o, b, len, 2);
	case BT_SPB:
		if (o->if_base == 0)
			break;
		return put_as_epb(o, b, len);
	default:
		break;
	}
	if (out_write(o, b, len) != 0)
		return -1;
	o->packets += type == BT_EPB || type == BT_SPB || type == BT_PB;
	return 0;
}

/* ---- the second reading ------------------------------------------------- */

/* The layout of a pcap file, from its magic. */
struct pcap_fmt {
	bool big;
	bool nano;
	uint32_t rec_hdr;
};

static bool pcap_magic(const uint8_t m[4], struct pcap_fmt *f)
{
	static const uint32_t magics[] = { PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED };

	for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
		if (cursor_load_le32(m) != magics[i] && cursor_load_be32(m) != magics[i])
			continue;
		f->big = cursor_load_be32(m) == magics[i];
		f->nano = magics[i] == PCAP_MAGIC_NS;
		f->rec_hdr = magics[i] == PCAP_MAGIC_MODIFIED ? PCAP_REC_HDR_MODIFIED
							       : PCAP_REC_HDR;
		return true;
	}
	return false;
}

static uint32_t pcap32(const struct pcap_fmt *f, const uint8_t *p)
{
	return f->big ? cursor_load_be32(p) : cursor_load_le32(p);
}

/* A regular file, open for reading; NULL with err. */
static FILE *open_regular(const char *path, char err[CAPTURE_ERRLEN])
{
	struct stat st;
	FILE *fp;

	if (strcmp(path, "-") == 0) {
		snprintf(err, CAPTURE_ERRLEN, "%s", "stdin cannot be read twice");
		return NULL;
	}
	/* a pipe is refused before an open that would wait for its writer */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, CAPTURE_ERRLEN, "%s", NOT_REGULAR_WHY);
		return NULL;
	}
	fp = fopen(path, "rb");
	if (fp == NULL) {
		snprintf(err, CAPTURE_ERRLEN, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, CAPTURE_ERRLEN, "%s", NOT_REGULAR_WHY);
		fclose(fp);
		return NULL;
	}
	return fp;
}

int pcapng_copy_check(const char *path, char err[CAPTURE_ERRLEN])
{
	FILE *fp = open_regular(path, err);
	uint8_t m[12];
	struct pcap_fmt f;
	const char *why = NULL;
	size_t n;

	if (fp == NULL)
		return -1;
	n = fread(m, 1, sizeof m, fp);
	if (n >= 4 && cursor_load_le32(m) == BT_SHB)
		why = n < sizeof m ? "truncated file header" :
		      cursor_load_le32(m + 8) != BOM ? BIG_ENDIAN_WHY : NULL;
	else if (n < 4 || !pcap_magic(m, &f))
		why = "not a pcap or pcapng file";
	fclose(fp);
	if (why != NULL)
		snprintf(err, CAPTURE_ERRLEN, "%s", why);
	return why != NULL ? -1 : 0;
}

/* The record buffer grows to the largest record, charged to the budget. */
struct rec_buf {
	uint8_t *p;
	size_t cap;
	struct mem_budget *budget;
};

static bool rec_room(struct rec_buf *rb, size_t n)
{
	uint8_t *np;

	if (n <= rb->cap)
		return true;
	if (mem_charge(rb->budget, n - rb->cap) != 0)
		return false;
	np = realloc(rb->p, n);
	if (np == NULL) {
		mem_release(rb->budget, n - rb->cap);
		return false;
	}
	rb->p = np;
	rb->cap = n;
	return true;
}

/* The section a pcap file becomes: header, secrets, its one interface. */
static int pcap_section(struct pcapng_out *o, const struct pcap_fmt *f, const uint8_t *hdr)
{
	uint32_t network = pcap32(f, hdr + 20);
	int fcs = -1;

	if (network & PCAP_FCS_PRESENT)
		fcs = (int)((network >> 28) * PCAP_FCS_WORD_BITS);
	if (pcapng_put_shb(o, "imapscope") != 0)
		return -1;
	return pcapng_put_idb(o, (uint16_t)network, pcap32(f, hdr + 16),
			      f->nano ? PCAPNG_TSRESOL_NS : 0, fcs);
}

/* Records up to the end of the file, or to the first that cannot be one
 * (libpcap stops there too); the copy is of what the first reading saw. */
static int pcap_records(struct pcapng_out *o, FILE *fp, const struct pcap_fmt *f,
			struct rec_buf *rb, struct pcapng_copy_stats *st)
{
	uint8_t h[PCAP_REC_HDR_MODIFIED];
	uint64_t units = f->nano ? 1000000000u : 1000000u;

	for (;;) {
		size_t got = fread(h, 1, f->rec_hdr, fp);
		uint32_t caplen;

		if (got != f->rec_hdr) {
			st->cut = got != 0;
			return 0;
		}
		caplen = pcap32(f, h + 8);
		if (caplen > PCAPNG_COPY_MAX_RECORD) {
			st->corrupt++;
			return 0;
		}
		if (!rec_room(rb, caplen))
			return -1;
		if (fread(rb->p, 1, caplen, fp) != caplen) {
			st->cut = true;
			return 0;
		}
		if (pcapng_put_epb(o, o->if_base, pcap32(f, h) * units + pcap32(f, h + 4), rb->p, caplen,
				   pcap32(f, h + 12)) != 0)
			return -2;
		st->packets++;
	}
}

static int copy_pcap(struct pcapng_out *o, FILE *fp, struct pcapng_copy_stats *st,
		     char err[CAPTURE_ERRLEN])
{
	uint8_t hdr[PCAP_FILE_HDR];
	struct pcap_fmt f;
	struct rec_buf rb = { NULL, 0, o->budget };
	int rc;

	if (fread(hdr, 1, sizeof hdr, fp) != sizeof hdr || !pcap_magic(hdr, &f)) {
		snprintf(err, CAPTURE_ERRLEN, "%s", "not a pcap file any more");
		return -1;
	}
	if (pcap_section(o, &f, hdr) != 0)
		return -2;
	rc = pcap_records(o, fp, &f, &rb, st);
	if (rc == -1)
		snprintf(err, CAPTURE_ERRLEN, "%s", "out of memory for a record");
	if (rc == 0 && ferror(fp)) {
		snprintf(err, CAPTURE_ERRLEN, "%s", "read error");
		rc = -1;
	}
	mem_release(rb.budget, rb.cap);
	free(rb.p);
	return rc;
}

/* A pcapng file, through the walker: every sound block goes out as it is. */
struct ng_copy {
	struct pcapng_out *o;
	struct pcapng_copy_stats *st;
	volatile sig_atomic_t stop;	/* the output failed, or a section is big-endian */
	bool big;
};

static void ng_block(void *ctx, const uint8_t *b, uint32_t len, bool big)
{
	struct ng_copy *nc = ctx;
	uint64_t before = nc->o->packets;

	if (big) {
		nc->big = true;
		nc->stop = 1;
		return;
	}
	if (pcapng_put_block(nc->o, b, len) != 0)
		nc->stop = 1;
	nc->st->packets += nc->o->packets - before;
}

static void ng_corrupt(void *ctx, uint64_t off, const char *why, uint64_t skipped)
{
	struct ng_copy *nc = ctx;

	(void)off;
	(void)why;
	(void)skipped;
	nc->st->corrupt++;
}

static int copy_pcapng(struct pcapng_out *o, FILE *fp, struct pcapng_copy_stats *st,
		       char err[CAPTURE_ERRLEN])
{
	struct ng_copy nc = { o, st, 0, false };
	struct pcapng_hooks h = {
		.ctx = &nc, .block = ng_block, .corrupt = ng_corrupt, .stop = &nc.stop,
	};
	int rc = pcapng_walk(fp, 0, &h, err);

	if (rc < 0)
		return -1;
	if (nc.big) {
		snprintf(err, CAPTURE_ERRLEN, "%s", BIG_ENDIAN_WHY);
		return -1;
	}
	return nc.stop || o->err != 0 ? -2 : 0;
}

int pcapng_copy_file(struct pcapng_out *o, const char *path, struct pcapng_copy_stats *st,
		     char err[CAPTURE_ERRLEN])
{
	FILE *fp = open_regular(path, err);
	uint8_t m[4];
	int rc;

	memset(st, 0, sizeof *st);
	if (fp == NULL)
		return -1;
	if (fread(m, 1, sizeof m, fp) != sizeof m) {
		snprintf(err, CAPTURE_ERRLEN, "%s", "empty file");
		fclose(fp);
		return -1;
	}
	rewind(fp);
	if (cursor_load_le32(m) == BT_SHB)
		rc = copy_pcapng(o, fp, st, err);
	else
		rc = copy_pcap(o, fp, st, err);
	fclose(fp);
	return rc;
}
