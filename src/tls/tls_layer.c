/* tls_decrypt as a transport layer (see tls/tls_layer.h).  The instance is
 * the struct tls_session itself; its hooks' ctx is the sink, so that the
 * adapter needs no memory of its own. */
#include "tls/tls_layer.h"

#include "tls/keylog.h"
#include "tls/tls_decrypt.h"
#include "tls/tls_record.h"

static void layer_plaintext(void *ctx, enum stream_dir dir, const uint8_t *p, size_t n,
			    int64_t ts_us)
{
	const struct transport_sink *out = ctx;

	if (out->data != NULL)
		out->data(out->ctx, dir, p, n, ts_us);
}

static void layer_gap(void *ctx, enum stream_dir dir, uint64_t nbytes, int64_t ts_us)
{
	const struct transport_sink *out = ctx;

	if (out->gap != NULL)
		out->gap(out->ctx, dir, nbytes, ts_us);
}

static void layer_notice(void *ctx, const struct notice *n)
{
	const struct transport_sink *out = ctx;

	if (out->notice != NULL)
		out->notice(out->ctx, n);
}

/* Version and cipher are only what a ServerHello chose; the reason only
 * stands when something was not decrypted. */
static void layer_handshake(void *ctx, const struct tls_info *info)
{
	const struct transport_sink *out = ctx;
	struct transport_handshake h = {
		.version = info->version_id != 0 ? info->version : NULL,
		.cipher = info->version_id != 0 ? info->cipher : NULL,
		.sni = info->sni.len > 0 ? info->sni : (struct buf_slice){ NULL, 0 },
		.decrypted = info->decrypted,
		.decrypted_dir = { info->decrypted_dir[DIR_C2S], info->decrypted_dir[DIR_S2C] },
		.reason = info->decrypted ? NULL : info->reason,
	};

	if (out->handshake != NULL)
		out->handshake(out->ctx, &h);
}

static void *layer_open(const void *conf, const struct transport_sink *out,
			struct mem_budget *budget)
{
	struct tls_hooks h = {
		.ctx = (void *)out, .plaintext = layer_plaintext, .gap = layer_gap,
		.handshake = layer_handshake, .notice = layer_notice,
	};

	return tls_session_new(conf, &h, budget);
}

static void layer_feed(void *inst, enum stream_dir dir, const uint8_t *p, size_t n,
		       int64_t ts_us)
{
	tls_session_feed(inst, dir, p, n, ts_us);
}

static void layer_gap_in(void *inst, enum stream_dir dir, uint64_t nbytes, int64_t ts_us)
{
	tls_session_gap(inst, dir, nbytes, ts_us);
}

static void layer_end(void *inst, int64_t ts_us)
{
	tls_session_end(inst, ts_us);
}

static void layer_free(void *inst)
{
	struct tls_session *s = inst;

	tls_session_free(&s);
}

const struct transport_layer_ops tls_layer_ops = {
	.open = layer_open,
	.sniff = tls_looks_like_record,
	.feed = layer_feed,
	.gap = layer_gap_in,
	.end = layer_end,
	.free = layer_free,
};
