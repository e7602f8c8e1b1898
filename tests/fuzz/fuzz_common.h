/* Shared helpers of the libFuzzer targets (clang only, never in the product).
 *
 * Byte-stream targets read their input in one "escape" format, so that a
 * plain capture extract is already a useful input and the fuzzer can still
 * insert gaps, literal refusals, direction switches and chunk boundaries:
 *
 *   byte 0      mode: bits 0-2 chunking (see fuzz_drive), bits 3-7 belong
 *               to the target
 *   then        stream bytes, fed in chunks to the selected direction(s),
 *               except for escapes 0xFF CMD ARG:
 *     FF 00       one data byte 0xFF
 *     FF 01 a     directions = a % 3 + 1 (1 c2s, 2 s2c, 3 both)
 *     FF 02 a     gap of a + 1 bytes
 *     FF 03 a     gap of (a + 1) << 16 bytes
 *     FF 04 a     gap of (a + 1) << 24 bytes (up to 4 GiB, like reassembly)
 *     FF 05 a     refuse: the target's "literal refused" action
 *     FF 06 a     chunk size a (0: whole runs between escapes)
 *     FF 07 a b   flood: (a + 1) * 1024 copies of byte b (line caps)
 *     FF 08 a     clock: +a seconds, or back by a & 0x7f if a >= 0x80
 *     FF 09 a     end: the target's "end of stream" action; stop
 *   Unknown commands are skipped with their argument.  A cut escape at the
 *   end of the input is ignored.
 *
 * Every chunk is copied into a buffer of its exact size before it is fed,
 * so that AddressSanitizer sees a read past the chunk. */
#ifndef IMAPSCOPE_FUZZ_COMMON_H
#define IMAPSCOPE_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "imap/imap_event.h"
#include "util/buf.h"
#include "util/byte_layer.h"
#include "util/notice.h"

#define FUZZ_ESC 0xFF
#define FUZZ_FLOOD_UNIT 1024
#define FUZZ_T0_US 1700000000000000LL	/* a plausible capture time */

/* Abort with a message: libFuzzer records the input as a crash. */
#define FUZZ_CHECK(cond) \
	((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))
void fuzz_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

/* Read every byte of a slice (AddressSanitizer checks the reads) and check
 * that a NULL pointer comes with length 0. */
void fuzz_touch(struct buf_slice s);
/* Is inner inside outer?  An empty inner slice may sit one past the end. */
bool fuzz_slice_in(struct buf_slice inner, struct buf_slice outer);

/* A notice: its kind in range, its text readable and one line, its
 * direction valid.  The notice_fn of every target; ctx NULL, or a uint64_t
 * that counts the notices. */
void fuzz_check_notice(const struct notice *n);
void fuzz_on_notice(void *ctx, const struct notice *n);

struct fuzz_stream_ops {
	void *ctx;
	void (*feed)(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
		     int64_t ts_us);
	void (*gap)(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts_us);
	void (*refuse)(void *ctx, enum stream_dir dir);		/* may be NULL */
	/* FF 09: returns true to stop reading the input. May be NULL. */
	bool (*end)(void *ctx, int64_t ts_us);
};

/* Run the escape format over p[0..n) (the mode byte already removed).
 * dirs: the initial direction mask (1 c2s, 2 s2c, 3 both).  Returns the
 * final clock. */
int64_t fuzz_drive(const uint8_t *p, size_t n, uint8_t mode, unsigned dirs,
		   const struct fuzz_stream_ops *ops);

/* An output that checks every event it is given: valid type and enums,
 * every slice readable, every string terminated, session_start first and
 * session_end last for each session, nothing after the end.  With formats,
 * each event is also written as JSON (must parse with json-c as one strict,
 * UTF-8 valid object on one line) and as text (no control byte but the
 * line end, valid UTF-8: checked in fuzz_out_done). */
#define FUZZ_MAX_SESSIONS 1024	/* sessions tracked per input; more go unchecked */
/* Events written and parsed as JSON and text per input: all of the first
 * FUZZ_FORMAT_ALL, then one in FUZZ_FORMAT_EVERY.  A flood of 250,000
 * events took 24 s of parsing in the harness, past libFuzzer's timeout. */
#define FUZZ_RSA_KEY_DEFAULT "captures/tls/server.key"	/* the corpus server's */
#define FUZZ_FORMAT_ALL   4096
#define FUZZ_FORMAT_EVERY 64

/* With formats, every event also goes to the report outputs (--summary and
 * --logins, each as JSON and as text), charged to the target's budget; at
 * the end their output must be strict JSON lines or clean text. */
#define FUZZ_N_REPORTS 4

struct fuzz_report {
	struct output out;
	FILE *fp;
	char *mem;
	size_t len;
	bool json;
};

struct fuzz_out {
	uint64_t id[FUZZ_MAX_SESSIONS];
	bool ended[FUZZ_MAX_SESSIONS];
	size_t n;
	uint64_t events;
	bool formats;
	struct buf json;
	struct output text;
	FILE *text_fp;
	char *text_mem;
	size_t text_len;
	void *tokener;		/* json_tokener */
	struct fuzz_report rep[FUZZ_N_REPORTS];
};

/* budget: what the report outputs are charged to (may be NULL). */
void fuzz_out_init(struct fuzz_out *fo, struct output *out_r, bool formats,
		   struct mem_budget *budget);
/* Every session that started has ended (call at the end of an input when
 * every session was ended). */
void fuzz_out_check_all_ended(const struct fuzz_out *fo);
/* Finish the text and report outputs, check their bytes, free what init
 * made. */
void fuzz_out_done(struct fuzz_out *fo);

/* The client random of every fixed key below: bytes 0x00, 0x01, ... 0x1f.
 * Seeds whose ClientHello carries it reach the key schedule and record
 * decryption (with wrong keys, so the failure paths). */
#define FUZZ_KEY_RANDOM_BYTE(i) ((uint8_t)(i))

/* Checking --extract hooks: every body begun is ended exactly once, data
 * and gaps come only in between, and its bytes never pass the announced
 * size by more than the gaps; fuzz_extract_done checks none is left. */
struct fuzz_extract {
	uint64_t open;		/* items begun and not ended */
	uint64_t items;
};
struct imap_extract_hooks;
void fuzz_extract_init(struct fuzz_extract *fx, struct imap_extract_hooks *h);
void fuzz_extract_done(const struct fuzz_extract *fx);

struct tls_keys;
/* A key store made once per process: one entry of each label for the fixed
 * client random, plus the key log named by $FUZZ_TLS_KEYLOG if set (the
 * public capture's, for its real sessions).  Never freed. */
const struct tls_keys *fuzz_keys(void);

#endif
