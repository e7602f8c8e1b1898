/* One-line notices from a layer to whoever listens (the session, then main,
 * which prints them with "imapscope: " in front).
 *
 * A notice that concerns a session is also an event of that session's
 * timeline (imap/imap_event.h, EV_NOTICE): its facts travel with it, so that
 * JSON consumers read the kind and the numbers instead of parsing the text. */
#ifndef IMAPSCOPE_UTIL_NOTICE_H
#define IMAPSCOPE_UTIL_NOTICE_H

#include <stdint.h>

#define NOTICE_MAX 256	/* a longer notice is cut */

/* Stands for "no such number" in struct notice_facts. */
#define NOTICE_NONE UINT64_MAX

/* What a notice is about, beside its text.  kind is a stable snake_case id
 * (the JSON "kind"); dir is an enum stream_dir, or -1 when the notice
 * concerns no single direction; offset and bytes are NOTICE_NONE when they
 * do not apply. */
struct notice_facts {
	const char *kind;
	int dir;
	uint64_t offset;
	uint64_t bytes;
};

#define NOTICE_KIND(k) ((struct notice_facts){ (k), -1, NOTICE_NONE, NOTICE_NONE })

/* kind: as in struct notice_facts. */
typedef void notice_fn(void *ctx, const char *kind, const char *msg);

/* Format a notice and hand it to fn; nothing happens when fn is NULL.
 * Wire data must be escaped before it is put into the text. */
void notice_send(notice_fn *fn, void *ctx, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
