/* One-line notices from a layer to whoever listens (the session, then main,
 * which prints them with "imapscope: " in front). */
#ifndef IMAPSCOPE_UTIL_NOTICE_H
#define IMAPSCOPE_UTIL_NOTICE_H

#define NOTICE_MAX 256	/* a longer notice is cut */

typedef void notice_fn(void *ctx, const char *msg);

/* Format a notice and hand it to fn; nothing happens when fn is NULL.
 * Wire data must be escaped before it is put into the text. */
void notice_send(notice_fn *fn, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
