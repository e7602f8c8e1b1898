/* --summary: the whole-capture totals that come from finished sessions:
 * folding a session in, and ranking the busiest clients. */
#include "report/summary_state.h"

#include <string.h>

/* Fold a finished session into the capture totals. */
void summary_fold(struct summary *sm, const struct summary_session *s,
		  const struct session_summary *sum)
{
	struct buf_slice host = summary_host(s->client);
	struct summary_entry *e;

	sm->by_transport[s->transport <= TRANSPORT_IMPLICIT_TLS ? s->transport : 0]++;
	sm->mid_stream += s->mid_stream;
	sm->compressed += s->compress_seen;
	sm->gaps += s->gaps;
	sm->gap_bytes += s->gap_bytes;
	sm->untagged += s->untagged;
	sm->fetched += s->fetched;
	if (s->tls_seen) {
		sm->tls_sessions++;
		sm->tls_decrypted += s->tls_decrypted;
		if (!s->tls_decrypted) {
			size_t i;

			for (i = 0; i < sm->n_reasons; i++)
				if (strcmp(sm->reasons[i].text, s->tls_reason) == 0)
					break;
			if (i == sm->n_reasons && i < SUMMARY_REASONS_MAX)
				summary_copy_cstr(sm->reasons[sm->n_reasons++].text,
						  SUMMARY_TEXT_MAX, s->tls_reason);
			if (i < sm->n_reasons)
				sm->reasons[i].n++;
			else
				sm->reasons_other++;
		}
	}
	if (sum == NULL)
		return;
	sm->bytes_c2s += sum->bytes_c2s;
	sm->bytes_s2c += sum->bytes_s2c;
	sm->wire_c2s += sum->wire_bytes_c2s;
	sm->wire_s2c += sum->wire_bytes_s2c;
	sm->appended += sum->literals_appended;
	sm->notices += sum->notices;
	sm->retransmitted += sum->retransmitted_bytes;
	e = summary_set_find(&sm->clients, host.ptr, host.len);
	if (e != NULL)
		e->bytes += sum->bytes_c2s + sum->bytes_s2c;
}

/* Indices of the busiest clients: most sessions, then most bytes. */
size_t summary_busiest(const struct summary_set *cl, const struct summary_entry **top)
{
	size_t n = 0, i, j;

	for (i = 0; i < cl->n; i++) {
		const struct summary_entry *e = cl->order[i];

		for (j = n; j > 0; j--) {
			const struct summary_entry *t = top[j - 1];

			if (t->sessions > e->sessions ||
			    (t->sessions == e->sessions && t->bytes >= e->bytes))
				break;
			if (j < SUMMARY_BUSIEST)
				top[j] = t;
		}
		if (j < SUMMARY_BUSIEST) {
			top[j] = e;
			if (n < SUMMARY_BUSIEST)
				n++;
		}
	}
	return n;
}
