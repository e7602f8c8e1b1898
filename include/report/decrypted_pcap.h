/* --write-decrypted FILE: every IMAP session the run shows, written again as
 * plaintext TCP in a classic pcap file, so that Wireshark, tshark, Zeek or
 * Suricata read the IMAP without keys.
 *
 * The bytes are the session's final stream (imap/imap_session.h's tap: TLS
 * records gone, DEFLATE inflated), on the session's own addresses and
 * ports and at the times of the packets that carried them.  The TCP around
 * them is made up but consistent: a three-way handshake at the flow's first
 * packet (none for a session the capture picked up mid-stream), sequence and acknowledgement numbers that follow the bytes,
 * segments of at most one MSS (a tapped chunk per segment, chunks of one
 * packet joined), a bare ACK from the receiver every DPCAP_ACK_EVERY bytes
 * so that the window never fills, and FIN from both sides at the end.
 *
 * A gap in the final stream (bytes the capture lost, a record that failed
 * its tag) is a jump in the sequence numbers, acknowledged at once by the
 * receiver, so that readers report the missing segment and imapscope
 * reading the file again reports the same gap at the same place.  A direction whose TLS could not be decrypted stops where TLS began:
 * its records are left out and counted (struct dpcap_stats).  A session
 * that turns out not to be IMAP is not written: packets go to the file in
 * the order they are made (the capture's, so that readers number the
 * sessions as imapscope did), and those made after the first packet of a
 * session that has not yet judged the first line of both directions wait
 * in a queue of at most DPCAP_QUEUE_MAX bytes; past that, the session at
 * its head is written as IMAP.
 *
 * Link type: Ethernet (LINKTYPE_ETHERNET) with made-up, locally
 * administered MAC addresses.  Every reader handles it the same way,
 * whereas raw IP is LINKTYPE_RAW (101) in files but DLT_RAW 12 or 14 by
 * platform in libpcap, and older Zeek and Suricata builds stumble on it.
 * IPv4 and TCP checksums are right: Zeek drops segments whose checksum
 * is bad unless told otherwise (-C).
 *
 * The file holds what the sessions carried, passwords included: it is made
 * 0600, never through a link, and a regular file is truncated, as for -o
 * (util/outdir.h: outdir_open_file).  Memory: the output buffer, the
 * queue and each open session are charged to the budget; a session refused
 * is not written and counted, a queue refused lets its head go sooner. */
#ifndef IMAPSCOPE_REPORT_DECRYPTED_PCAP_H
#define IMAPSCOPE_REPORT_DECRYPTED_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_session.h"
#include "util/buf.h"
#include "util/byte_layer.h"

#define DPCAP_ERRLEN 512
#define DPCAP_LINKTYPE_ETHERNET 1
#define DPCAP_SNAPLEN 65535
#define DPCAP_MSS_V4 1460		/* 1500-byte MTU less IPv4 and TCP headers */
#define DPCAP_MSS_V6 1440		/* ... less IPv6 and TCP headers */
#define DPCAP_WINDOW 65535		/* advertised, unscaled */
#define DPCAP_ACK_EVERY 32768		/* a bare ACK after this many bytes unacked */
#define DPCAP_FLUSH_BYTES (256 * 1024)	/* output buffered before a write */
#define DPCAP_QUEUE_MAX (4 * 1024 * 1024)	/* packets that wait for a session
						   to show it is IMAP; past it,
						   that session is written */

/* One end of a session, as the flow table knows it. */
struct dpcap_endpoint {
	uint8_t af;		/* 4 or 6 */
	uint8_t addr[16];	/* network order; IPv4 in the first 4 */
	uint16_t port;
};

struct dpcap_stats {
	uint64_t sessions;		/* written */
	uint64_t not_imap;		/* left out: not IMAP */
	uint64_t untracked;		/* left out: refused by the budget */
	uint64_t packets;
	uint64_t gaps, gap_bytes;	/* written as sequence jumps */
	uint64_t undecrypted_sessions;	/* a direction whose TLS was not decrypted */
	uint64_t undecrypted_dirs;
};

struct dpcap;

/* Makes (or truncates) path and writes the pcap file header; "-" is
 * standard output.  NULL with err set (one line naming the path) when it
 * cannot be made or written, or memory ran out. */
struct dpcap *dpcap_new(const char *path, struct mem_budget *budget, char err[DPCAP_ERRLEN]);

/* A session begins (its first packet at first_ts_us; mid_stream: the
 * capture missed its handshake, and so does the file); nothing is written
 * until its first bytes are known to be IMAP. */
void dpcap_open(struct dpcap *w, uint64_t session, const struct dpcap_endpoint *client,
		const struct dpcap_endpoint *server, bool mid_stream, int64_t first_ts_us);

/* The tap (imap/imap_session.h: struct imap_tap); ctx is the struct
 * dpcap *.  A session not opened is ignored. */
void dpcap_data(void *ctx, uint64_t session, enum stream_dir dir, const uint8_t *p, size_t n,
		int64_t ts_us);
void dpcap_gap(void *ctx, uint64_t session, enum stream_dir dir, uint64_t nbytes,
	       int64_t ts_us);
void dpcap_not_imap(void *ctx, uint64_t session);
void dpcap_end(void *ctx, uint64_t session, const struct imap_tap_end *e);

/* Ends every session still open (with FIN at its last time), writes what
 * is buffered and closes the file; the counts go to *stats_r (may be
 * NULL).  0, or -1 with err set when any write failed (the file then ends
 * at the first failure). */
int dpcap_free(struct dpcap **w, struct dpcap_stats *stats_r, char err[DPCAP_ERRLEN]);

#endif
