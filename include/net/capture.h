/* libpcap in: capture files (pcap, pcap-ns, pcapng, '-' for stdin) and live
 * interfaces, with an optional BPF filter.
 *
 * A struct capture is one open source.  Packets are handed to a callback;
 * the packet's bytes are valid only during that call. */
#ifndef IMAPSCOPE_NET_CAPTURE_H
#define IMAPSCOPE_NET_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/notice.h"

#define CAPTURE_ERRLEN 512
#define CAPTURE_LIVE_SNAPLEN 262144
/* Capture times are clamped to 1970..9999, which keeps every later sum
 * (timeouts, latencies) far from overflowing. */
#define CAPTURE_MAX_SEC 253402300799LL	/* 9999-12-31T23:59:59Z */

struct capture_pkt {
	int64_t ts_us;		/* capture time, microseconds since the epoch */
	const uint8_t *data;
	uint32_t caplen;	/* bytes present in data */
	uint32_t len;		/* bytes on the wire (caplen < len: cut by snaplen) */
	int linktype;		/* DLT_* of the source (pcapng: of the interface) */
	/* 1-based number of the record in its source, as Wireshark shows
	 * it: every packet record counts, those the filter refused too
	 * (a live capture counts what the kernel handed on, which is what
	 * -w saves); pcapng blocks that hold no packet do not. */
	uint64_t frame;
};

typedef void (*capture_pkt_fn)(void *ctx, const struct capture_pkt *pkt);

struct capture;

/* Open a file ('-' is stdin).  On failure returns -1 with a one-line reason
 * in err ("not a capture file", "truncated file header", "unsupported link
 * type 147", ...), naming no path (the caller adds it). */
int capture_open_file(struct capture **c_r, const char *path, const char *bpf,
		      char err[CAPTURE_ERRLEN]) WUR;
/* Open a live interface in promiscuous mode.  Like the file errors, the
 * reason names no interface (the caller adds it): "no such interface"
 * (checked against libpcap's list even without privileges), or for a
 * missing privilege, to run as root or grant CAP_NET_RAW. */
int capture_open_live(struct capture **c_r, const char *iface, const char *bpf,
		      char err[CAPTURE_ERRLEN]) WUR;

/* The filter a live capture uses when the user gives none: the IMAP ports,
 * plus every IPv6 packet whose first next header is not TCP, UDP or ICMPv6
 * (TCP behind extension headers, which "tcp port N" cannot see).  The port
 * selection of those is left to the caller (flow_config.ports_only).
 * "ip6 protochain 6" would say it in one word, but its loop is a backward
 * jump the kernel refuses: libpcap then filters every packet in user space
 * and prints a warning.  -1 if the text does not fit in cap bytes. */
#define CAPTURE_FILTER_LEN 1024
int capture_default_filter(const uint16_t *ports, size_t n, char *buf,
			   size_t cap) WUR;

/* Read packets until the end of the source, max_pkts (0: no limit) or
 * capture_break.  Returns 0 at a clean end, 1 when stopped early, and -1 when
 * the source turned out damaged mid-way (a corrupt record): the reason is in
 * err and every packet before it has been delivered.  A pcapng file on disk
 * is not given up at a bad block: net/pcapng.h reads on past it, each
 * corrupt block is a notice and counted, and the end is clean. */
int capture_run(struct capture *c, capture_pkt_fn fn, void *ctx,
		uint64_t max_pkts, char err[CAPTURE_ERRLEN]) WUR;
/* Where damage in the source is said (none by default): NOTICE_CAPTURE,
 * one line naming the source ("FILE: corrupt pcapng block at offset ..."). */
void capture_set_notice(struct capture *c, notice_fn *fn, void *ctx);
/* Corrupt pcapng blocks passed over so far. */
uint64_t capture_corrupt_blocks(const struct capture *c);

/* Ask capture_run to return; safe from a signal handler. */
void capture_break(struct capture *c);

/* For progress reports: bytes read so far and the file's size (0 if
 * unknown, as for stdin or a live interface). */
uint64_t capture_bytes_read(const struct capture *c);
uint64_t capture_file_size(const struct capture *c);
/* Live capture: packets dropped by the kernel and the interface so far. */
uint64_t capture_drops(const struct capture *c);
/* Live capture: save every packet seen to path (-w), never through a link,
 * made 0600 (the packets hold the secrets); -1 with err, which names path. */
int capture_save_to(struct capture *c, const char *path,
		    char err[CAPTURE_ERRLEN]) WUR;

void capture_free(struct capture **c);

#endif
