/* The pcapng walker (see net/pcapng.h).  It reads with pread, so libpcap's
 * stdio stream is left alone; every length is checked against the block
 * and the block against the file before anything is read. */
#include "net/pcapng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cursor.h"

#define PCAPNG_SHB        0x0A0D0D0Au
#define PCAPNG_IDB        1u
#define PCAPNG_PB         2u	/* the obsolete packet block */
#define PCAPNG_SPB        3u
#define PCAPNG_NRB        4u
#define PCAPNG_ISB        5u
#define PCAPNG_EPB        6u
#define PCAPNG_DSB        0x0Au
#define PCAPNG_CB         0x00000BADu
#define PCAPNG_CB_NOCOPY  0x40000BADu
/* The byte-order magic, read big-endian: as a big- or a little-endian
 * section writes it. */
#define PCAPNG_BOM_BE     0x1A2B3C4Du
#define PCAPNG_BOM_LE     0x4D3C2B1Au
#define BLOCK_MIN         12u	/* type, length, trailing length */
#define SHB_MIN           28u
#define IDB_MIN           20u
#define EPB_MIN           32u	/* also the obsolete PB */
#define SPB_MIN           16u
#define OPT_TSRESOL       9u
#define OPT_TSOFFSET      14u
#define TSRESOL_DEFAULT   6u	/* microseconds */
#define SCAN_CHUNK        (1u << 20)
#define US_PER_S          1000000.0L

struct pcapng_iface {
	int linktype;
	uint8_t tsresol;
	int64_t tsoffset;	/* seconds */
};

struct walk {
	int fd;
	uint64_t size;
	bool big;		/* the section is big-endian */
	struct pcapng_iface *ifs;
	size_t n_ifs;
	uint8_t *buf;		/* the current block */
	size_t cap;
	uint8_t *scan;		/* SCAN_CHUNK bytes, for resynchronising */
	uint64_t skip;
	uint64_t records;	/* packet blocks read: capture_pkt.frame */
	const struct pcapng_hooks *h;
};

/* Numbers in the section's byte order (a 64-bit option is one number in
 * it, not two 32-bit words in a fixed order). */
static uint32_t get32(const struct walk *w, const uint8_t *p)
{
	return w->big ? cursor_load_be32(p) : cursor_load_le32(p);
}

static uint64_t get64(const struct walk *w, const uint8_t *p)
{
	return w->big ? cursor_load_be64(p) : cursor_load_le64(p);
}

static uint16_t get16(const struct walk *w, const uint8_t *p)
{
	return w->big ? cursor_load_be16(p) : cursor_load_le16(p);
}

/* The same, read through a cursor: 0 and c bad past its end. */
static uint32_t take32(const struct walk *w, struct cursor *c)
{
	return w->big ? cursor_u32be(c) : cursor_u32le(c);
}

static uint16_t take16(const struct walk *w, struct cursor *c)
{
	return w->big ? cursor_u16be(c) : cursor_u16le(c);
}

/* All n bytes at off, or false (short file, I/O error). */
static bool read_at(const struct walk *w, uint8_t *dst, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pread(w->fd, dst, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		dst += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return true;
}

static bool known_type(uint32_t t)
{
	switch (t) {
	case PCAPNG_SHB: case PCAPNG_IDB: case PCAPNG_PB: case PCAPNG_SPB:
	case PCAPNG_NRB: case PCAPNG_ISB: case PCAPNG_EPB: case PCAPNG_DSB:
	case PCAPNG_CB: case PCAPNG_CB_NOCOPY:
		return true;
	default:
		return false;
	}
}

static uint32_t type_min(uint32_t t)
{
	switch (t) {
	case PCAPNG_SHB: return SHB_MIN;
	case PCAPNG_IDB: return IDB_MIN;
	case PCAPNG_EPB: case PCAPNG_PB: return EPB_MIN;
	case PCAPNG_SPB: return SPB_MIN;
	default: return BLOCK_MIN;
	}
}

/* The header of the block at off as the block itself says (a section
 * header carries its own byte order): the reason it cannot be whole, or
 * "" if its length is sane.  Unknown types are allowed (pcapng says to
 * skip them). */
static const char *header_check(const struct walk *w, const uint8_t hdr[12],
				uint64_t off, uint32_t *type_r, uint32_t *len_r,
				bool *big_r)
{
	struct walk tmp = *w;
	uint32_t bom = cursor_load_be32(hdr + 8);

	*type_r = cursor_load_le32(hdr);	/* the SHB type reads the same both ways */
	if (*type_r == PCAPNG_SHB) {
		if (bom != PCAPNG_BOM_BE && bom != PCAPNG_BOM_LE)
			return "section header without a byte-order magic";
		tmp.big = bom == PCAPNG_BOM_BE;
	} else {
		*type_r = get32(w, hdr);
	}
	*big_r = tmp.big;
	*len_r = get32(&tmp, hdr + 4);
	if (*len_r < type_min(*type_r) || *len_r % 4 != 0)
		return "block length too small or not a multiple of 4";
	if (*len_r > PCAPNG_MAX_BLOCK)
		return "block length too large";
	if (*len_r > w->size - off)
		return "block runs past the end of the file";
	return "";
}

/* The next offset at or after from where a whole block of a known type
 * begins, or the file size.  Every byte is tried, not every fourth: bytes
 * may have been cut out or put in.  One pass over the file; a trailer
 * outside the chunk costs one pread. */
static uint64_t resync(struct walk *w, uint64_t from)
{
	uint64_t base;

	for (base = from; base + BLOCK_MIN <= w->size; ) {
		size_t have = w->size - base < SCAN_CHUNK ? (size_t)(w->size - base) : SCAN_CHUNK;
		size_t i;

		if (!read_at(w, w->scan, have, base))
			return w->size;
		for (i = 0; i + BLOCK_MIN <= have; i++) {
			uint32_t type, len;
			uint8_t t4[4];
			bool big;
			const char *why = header_check(w, w->scan + i, base + i, &type, &len, &big);
			struct walk tmp = *w;

			if (why[0] != '\0' || !known_type(type))
				continue;
			tmp.big = big;
			if ((uint64_t)i + len <= have)
				memcpy(t4, w->scan + i + len - 4, 4);
			else if (!read_at(w, t4, 4, base + i + len - 4))
				continue;
			if (get32(&tmp, t4) == len)
				return base + i;
		}
		base += i;
	}
	return w->size;
}

/* b^e by squaring: e is at most 127, so no loop runs long. */
static long double pow_ld(long double b, unsigned e)
{
	long double r = 1.0L;

	for (; e != 0; e >>= 1, b *= b)
		if (e & 1)
			r *= b;
	return r;
}

/* Units of the interface's resolution since the epoch, in microseconds,
 * clamped to 1970..9999 as capture.c clamps libpcap's. */
static int64_t ts_us(const struct pcapng_iface *ifc, uint32_t hi, uint32_t lo)
{
	long double units = (long double)(((uint64_t)hi << 32) | lo);
	long double base = (ifc->tsresol & 0x80) ? 2.0L : 10.0L;
	long double us = units * US_PER_S / pow_ld(base, ifc->tsresol & 0x7f);

	us += (long double)ifc->tsoffset * US_PER_S;
	if (!(us > 0))
		return 0;
	if (us > (long double)CAPTURE_MAX_SEC * US_PER_S)
		return CAPTURE_MAX_SEC * (int64_t)US_PER_S;
	return (int64_t)us;
}

/* An interface description: link type, and the two options that change
 * timestamps.  Options are walked inside the block only. */
static void on_idb(struct walk *w, const uint8_t *b, uint32_t len)
{
	struct pcapng_iface ifc = { get16(w, b + 8), TSRESOL_DEFAULT, 0 };
	struct cursor c = cursor_make(b + 16, len - 20);	/* the options */

	while (cursor_left(&c) >= 4) {
		uint16_t code = take16(w, &c), olen = take16(w, &c);
		const uint8_t *v = cursor_take(&c, ((uint32_t)olen + 3) & ~3u);

		if (code == 0 || v == NULL)
			break;
		if (code == OPT_TSRESOL && olen >= 1)
			ifc.tsresol = v[0];
		else if (code == OPT_TSOFFSET && olen >= 8)
			ifc.tsoffset = (int64_t)get64(w, v);
	}
	if ((ifc.tsresol & 0x7f) > 63)
		ifc.tsresol = TSRESOL_DEFAULT;	/* no clock is that fine */
	if (w->n_ifs < PCAPNG_MAX_IFACES)
		w->ifs[w->n_ifs++] = ifc;
}

static void deliver(struct walk *w, struct capture_pkt *pkt)
{
	const struct pcapng_hooks *h = w->h;

	pkt->frame = ++w->records;
	if (h->wanted != NULL && !h->wanted(h->ctx, pkt))
		return;
	if (w->skip > 0) {
		w->skip--;	/* libpcap handed this one on already */
		return;
	}
	if (h->packet != NULL)
		h->packet(h->ctx, pkt);
}

/* A packet block (EPB, SPB or the obsolete PB) that is whole; the reason
 * if its fields contradict it, else NULL. */
static const char *on_packet_block(struct walk *w, uint32_t type,
				   const uint8_t *b, uint32_t len)
{
	struct capture_pkt pkt;
	struct cursor c = cursor_make(b + 8, len - 12);	/* the body */
	uint32_t ifid, caplen, origlen, hi = 0, lo = 0;

	/* the block's minimum length (type_min) covers the fixed fields */
	if (type == PCAPNG_SPB) {
		ifid = 0;
		origlen = take32(w, &c);
		caplen = origlen < len - SPB_MIN ? origlen : len - SPB_MIN;
	} else {
		ifid = type == PCAPNG_PB ? take16(w, &c) : take32(w, &c);
		if (type == PCAPNG_PB)
			(void)cursor_skip(&c, 2);	/* drops count */
		hi = take32(w, &c);
		lo = take32(w, &c);
		caplen = take32(w, &c);
		origlen = take32(w, &c);
		if (caplen > len - EPB_MIN)
			return "captured length larger than the block";
	}
	if (ifid >= w->n_ifs)
		return "packet on an interface not described";
	pkt.ts_us = type == PCAPNG_SPB ? 0 : ts_us(&w->ifs[ifid], hi, lo);
	pkt.data = c.p;
	pkt.caplen = caplen;
	pkt.len = origlen;
	pkt.linktype = w->ifs[ifid].linktype;
	deliver(w, &pkt);
	return NULL;
}

/* Read the whole block at off (its header already checked) and act on it;
 * the reason if it is corrupt.  *whole_r: its trailer matched, so the
 * next block begins right after it. */
static const char *take_block(struct walk *w, uint64_t off, uint32_t type,
			      uint32_t len, bool big, bool *whole_r)
{
	struct walk tmp = *w;
	const char *why = NULL;

	*whole_r = false;
	if (len > w->cap) {
		uint8_t *nb = realloc(w->buf, len);

		if (nb == NULL)
			return "out of memory for a block";
		w->buf = nb;
		w->cap = len;
	}
	if (!read_at(w, w->buf, len, off))
		return "block cut short";
	tmp.big = big;
	if (get32(&tmp, w->buf + len - 4) != len)
		return "block lengths in header and trailer differ";
	*whole_r = true;
	if (type == PCAPNG_SHB) {
		w->big = big;
		w->n_ifs = 0;	/* a new section describes its own interfaces */
	}
	switch (type) {
	case PCAPNG_IDB:
		on_idb(w, w->buf, len);
		break;
	case PCAPNG_EPB: case PCAPNG_SPB: case PCAPNG_PB:
		why = on_packet_block(w, type, w->buf, len);
		break;
	default:
		break;	/* statistics, names, custom: nothing to take */
	}
	if (why == NULL && w->h->block != NULL)
		w->h->block(w->h->ctx, w->buf, len, big);
	return why;
}

/* The walk proper: off advances by a whole block or to the next one found
 * after a corrupt one, so it ends. */
static int walk_file(struct walk *w, char err[CAPTURE_ERRLEN])
{
	const struct pcapng_hooks *h = w->h;
	uint64_t off = 0;

	while (off < w->size) {
		uint8_t hdr[BLOCK_MIN];
		uint32_t type = 0, len = 0;
		bool big = false, whole = false;
		const char *why;
		uint64_t next;

		if (h->stop != NULL && *h->stop)
			return 1;
		if (w->size - off < BLOCK_MIN || !read_at(w, hdr, BLOCK_MIN, off))
			why = "trailing bytes too short for a block";
		else if ((why = header_check(w, hdr, off, &type, &len, &big))[0] == '\0')
			why = take_block(w, off, type, len, big, &whole);
		if (why == NULL) {
			off += len;
			continue;
		}
		if (off == 0) {
			snprintf(err, CAPTURE_ERRLEN, "not a pcapng file (%s)", why);
			return -1;
		}
		/* A whole block whose content is wrong is passed over whole;
		 * a bad length makes the next block a matter of search. */
		next = whole ? off + len : resync(w, off + 4);
		h->corrupt(h->ctx, off, why, next - off);
		off = next;
	}
	return 0;
}

int pcapng_walk(FILE *fp, uint64_t skip, const struct pcapng_hooks *h,
		char err[CAPTURE_ERRLEN])
{
	struct walk w;
	struct stat st;
	int rc;

	memset(&w, 0, sizeof w);
	w.fd = fileno(fp);
	w.skip = skip;
	w.h = h;
	if (w.fd < 0 || fstat(w.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, CAPTURE_ERRLEN, "%s", "not a seekable file");
		return -1;
	}
	w.size = (uint64_t)st.st_size;
	w.ifs = malloc(PCAPNG_MAX_IFACES * sizeof *w.ifs);
	w.scan = malloc(SCAN_CHUNK);
	if (w.ifs == NULL || w.scan == NULL) {
		snprintf(err, CAPTURE_ERRLEN, "%s", "out of memory");
		rc = -1;
	} else {
		rc = walk_file(&w, err);
	}
	free(w.ifs);
	free(w.scan);
	free(w.buf);
	return rc;
}
