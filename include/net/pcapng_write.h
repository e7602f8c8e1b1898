/* A pcapng writer, and the copy of capture files into it.
 *
 * --write-keys-pcapng writes its inputs again as pcapng with the secrets
 * the capture's sessions used in a Decryption Secrets Block, so Wireshark
 * decrypts it without a key log.  The secrets are known only once the
 * sessions were read, so the inputs are read a second time, here, with a
 * reader of their own that keeps every packet as the file holds it.
 *
 * The output is one little-endian section (editcap and mergecap read no
 * file of several), whose header is the first input's own when that is
 * pcapng, else one of ours.  The secrets follow the section header, before
 * any interface or packet, where `editcap --inject-secrets` puts them.
 * Then every input in turn adds its interfaces and packets:
 *
 *   - a pcap file (microsecond, nanosecond, either byte order, or the
 *     "modified" format) adds one interface (its link type, snap length,
 *     FCS length, and if_tsresol 9 for nanoseconds) and one Enhanced Packet
 *     Block per record, timestamp, captured and original length unchanged;
 *   - a pcapng file adds its blocks byte for byte (interfaces with all their
 *     options, packets, statistics, name resolution, earlier secrets,
 *     comments), with the interface numbers of packets and statistics moved
 *     past those of the inputs before it; a later section header starts
 *     such a move and is itself left out, as are custom blocks marked not
 *     to be copied and blocks the walker finds corrupt (net/pcapng.h: the
 *     first reading passed over them too).  A Simple Packet Block that no
 *     longer means interface 0 becomes an Enhanced one without a time.
 *     Big-endian sections are refused (pcapng_copy_check): one section has
 *     one byte order and swapping every option is not worth it for files
 *     this rare ("editcap -F pcapng" converts them).
 *
 * Only regular files can be read twice: pcapng_copy_check says so before
 * the first reading.  The writer does not own the stream and never seeks;
 * a write error is sticky and reported by every later call. */
#ifndef IMAPSCOPE_NET_PCAPNG_WRITE_H
#define IMAPSCOPE_NET_PCAPNG_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net/capture.h"
#include "util/buf.h"

#define PCAPNG_SECRETS_TLS	0x544c534bu	/* "TLSK": NSS key log lines */
#define PCAPNG_DSB_MAX		(1u << 20)	/* secrets per block, at most */
/* A pcap record larger than this is taken for damage (libpcap's own bound
 * is 256 KiB for most link types; pcapng readers take blocks of 16 MiB). */
#define PCAPNG_COPY_MAX_RECORD	((16u << 20) - 64)
#define PCAPNG_TSRESOL_NS	9	/* if_tsresol of a nanosecond pcap */

struct pcapng_out {
	FILE *fp;		/* not owned */
	int err;		/* errno of the first failed write, or 0 */
	uint64_t packets;	/* packet blocks written */
	bool started;		/* the section header is out */
	uint32_t n_ifs;		/* interfaces described so far */
	uint32_t if_base;	/* the input section's interface 0 */
	/* Called once, right after the first section header is written or
	 * copied: the caller writes its secrets blocks (pcapng_put_dsb) there.
	 * Returns 0, or -1 to stop (with err set). */
	int (*secrets)(void *ctx, struct pcapng_out *o);
	void *secrets_ctx;
	bool secrets_done;
	struct mem_budget *budget;	/* record buffers of the pcap reader; may be NULL */
};

/* o for writing to fp; secrets may be NULL.  Nothing is written yet. */
void pcapng_out_init(struct pcapng_out *o, FILE *fp, struct mem_budget *budget,
		     int (*secrets)(void *ctx, struct pcapng_out *o), void *secrets_ctx);

/* The blocks.  Each returns 0, or -1 with o->err set (a write failed now
 * or before).  The section header is written once (later calls only start
 * a new input: its interface 0 is the next one described). */
int pcapng_put_shb(struct pcapng_out *o, const char *userappl) WUR;
/* fcslen < 0: no if_fcslen option; tsresol 0: none (microseconds).  The
 * interface is number o->n_ifs, counted then. */
int pcapng_put_idb(struct pcapng_out *o, uint16_t linktype, uint32_t snaplen,
		   uint8_t tsresol, int fcslen) WUR;
/* ts in units of the interface's resolution. */
int pcapng_put_epb(struct pcapng_out *o, uint32_t ifid, uint64_t ts, const uint8_t *data,
		   uint32_t caplen, uint32_t origlen) WUR;
/* One Decryption Secrets Block of n bytes (at most PCAPNG_DSB_MAX). */
int pcapng_put_dsb(struct pcapng_out *o, uint32_t type, const uint8_t *p, size_t n) WUR;
/* A whole little-endian block as a pcapng input holds it (len >= 12, a
 * multiple of 4, repeated at its end; the walker has checked), added as
 * said above: the first section header with section length -1 and the
 * secrets after it. */
int pcapng_put_block(struct pcapng_out *o, const uint8_t *b, uint32_t len) WUR;

/* Whether path can be copied: a regular file (not '-', a pipe or a device)
 * that begins as pcap or little-endian pcapng does.  0, or -1 with a
 * reason in err that names no path. */
int pcapng_copy_check(const char *path, char err[CAPTURE_ERRLEN]) WUR;

/* What a copy did: blocks (pcapng) or records (pcap) passed over as
 * damaged, and whether the file ended inside a record. */
struct pcapng_copy_stats {
	uint64_t packets;
	uint64_t corrupt;
	bool cut;
};

/* Append the capture file path to o as above.  Returns 0 (damage is only
 * counted in st: the first reading said it), -1 when the file cannot be
 * read or holds a big-endian section (err names no path), or -2 when o
 * could not be written (o->err). */
int pcapng_copy_file(struct pcapng_out *o, const char *path, struct pcapng_copy_stats *st,
		     char err[CAPTURE_ERRLEN]) WUR;

#endif
