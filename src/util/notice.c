#include "util/notice.h"

#include <stdarg.h>
#include <stdio.h>

void notice_send(notice_fn *fn, void *ctx, const char *kind, const char *fmt, ...)
{
	char msg[NOTICE_MAX];
	va_list ap;

	if (fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fn(ctx, kind, msg);
}
