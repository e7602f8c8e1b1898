/* --write-keys-pcapng FILE: the inputs written again as pcapng, with the
 * key log lines the capture's TLS sessions used in a Decryption Secrets
 * Block before the first packet (net/pcapng_write.h), so that Wireshark
 * decrypts FILE with no key log of its own.
 *
 * Which lines were used is known only after the sessions were read, so
 * the inputs are read a second time, after the run's reading: stdin and
 * live capture are refused (they cannot be read twice), as is any input
 * that is not a regular pcap or pcapng file.  FILE is made 0600 and never
 * through a link (util/outdir.h), and may not be an input or another file
 * the run reads or writes. */
#ifndef IMAPSCOPE_APP_KEYS_PCAPNG_H
#define IMAPSCOPE_APP_KEYS_PCAPNG_H

#include "app/run.h"
#include "tls/keylog.h"

struct keys_pcapng;

/* Before the first reading: checks the inputs, opens FILE and makes keys
 * note the client randoms their lookups find (tls_keys_track_used).
 * Returns RUN_OK with *kp_r set, or RUN_USAGE after one stderr line. */
int keys_pcapng_open(struct keys_pcapng **kp_r, const struct run_options *o,
		     struct tls_keys *keys) WUR;

/* After the reading: writes FILE, closes it and frees *kp (set to NULL).
 * What FILE lacks (no session's keys found, randoms not noted) is said
 * through notice, kind NOTICE_KEYLOG.  Returns status, or a worse one:
 * RUN_INPUT if an input could no longer be read, RUN_USAGE if FILE could
 * not be written (one stderr line each). */
int keys_pcapng_write(struct keys_pcapng **kp, const struct run_options *o,
		      const struct tls_keys *keys, struct mem_budget *budget,
		      notice_fn *notice, void *notice_ctx, int status) WUR;

/* A run stopped early: FILE closed as it is.  NULL is fine. */
void keys_pcapng_free(struct keys_pcapng **kp);

#endif
