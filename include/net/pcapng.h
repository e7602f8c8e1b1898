/* A small pcapng block walker for what libpcap gives up on.
 *
 * libpcap stops reading a pcapng file at the first block whose length is
 * bad.  capture_run then hands the file to pcapng_walk, which reads it again
 * from the start with its own bounded parser, skips the packets libpcap
 * already delivered, and where a block is corrupt, scans forward for the
 * next block that is whole (a known type, a sane length repeated in its
 * trailer) and goes on from there.  Every block is read into one buffer of
 * at most PCAPNG_MAX_BLOCK bytes; the scan reads the file once. */
#ifndef IMAPSCOPE_NET_PCAPNG_H
#define IMAPSCOPE_NET_PCAPNG_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "net/capture.h"

#define PCAPNG_MAX_BLOCK  (16u << 20)	/* libpcap's own bound for a block */
#define PCAPNG_MAX_IFACES 1024		/* interfaces described per section */

struct pcapng_hooks {
	void *ctx;
	/* Whether pkt passes the capture's filter (NULL: all do). */
	bool (*wanted)(void *ctx, const struct capture_pkt *pkt);
	/* A wanted packet past the ones to skip (NULL: none wanted), its frame
	 * counted from the file's first packet block.  pkt is valid during the
	 * call. */
	void (*packet)(void *ctx, const struct capture_pkt *pkt);
	/* A corrupt block at file offset off: why, and how many bytes were
	 * skipped to the next whole block (to the end of the file if none). */
	void (*corrupt)(void *ctx, uint64_t off, const char *why, uint64_t skipped);
	volatile sig_atomic_t *stop;	/* set: return 1 at the next block */
	/* Every whole block whose content is sound, as the file holds it (in
	 * its section's byte order: big), after packet (NULL: none wanted).
	 * b is valid during the call.  For copying a file block by block. */
	void (*block)(void *ctx, const uint8_t *b, uint32_t len, bool big);
};

/* Walk fp (a seekable pcapng file) from its start; the first skip wanted
 * packets are not handed on.  Returns 0 at the end of the file, 1 when
 * stopped, -1 when the file cannot be read or does not begin with a
 * section header (the reason in err). */
int pcapng_walk(FILE *fp, uint64_t skip, const struct pcapng_hooks *h,
		char err[CAPTURE_ERRLEN]) WUR;

#endif
