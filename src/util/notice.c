#include "util/notice.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const kind_names[NOTICE_N_KINDS] = {
#define NOTICE_NAME_(id, name) [NOTICE_##id] = name,
	NOTICE_KINDS(NOTICE_NAME_)
#undef NOTICE_NAME_
};

const char *notice_kind_name(enum notice_kind k)
{
	return (unsigned)k < NOTICE_N_KINDS ? kind_names[k] : "other";
}

void notice_vsendf(notice_fn *fn, void *ctx, const struct notice *proto, const char *fmt,
		   va_list ap)
{
	char msg[NOTICE_MAX];
	struct notice n = *proto;

	if (fn == NULL)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n.text = msg;
	fn(ctx, &n);
}

void notice_send(notice_fn *fn, void *ctx, enum notice_kind k, const char *fmt, ...)
{
	struct notice n = NOTICE_OF(k);
	va_list ap;

	if (fn == NULL)
		return;
	va_start(ap, fmt);
	notice_vsendf(fn, ctx, &n, fmt, ap);
	va_end(ap);
}

void notice_sendf(notice_fn *fn, void *ctx, const struct notice *proto, const char *fmt, ...)
{
	va_list ap;

	if (fn == NULL)
		return;
	va_start(ap, fmt);
	notice_vsendf(fn, ctx, proto, fmt, ap);
	va_end(ap);
}
