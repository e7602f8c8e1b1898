/* Names of the event model's enums (the strings are the contract's JSON
 * values, so every output spells them the same way) and the flow's text,
 * made once per session. */
#include "imap/imap_event.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char *const event_type_names[EV_N_TYPES] = {
#define X(name, text) [name] = text,
	EVENT_TYPES(X)
#undef X
};

const char *event_type_name(enum event_type t)
{
	if ((unsigned)t >= EV_N_TYPES)
		return "unknown";
	return event_type_names[t];
}

const char *event_dir_name(enum stream_dir d)
{
	return stream_dir_name(d);
}

const char *event_end_reason_name(enum end_reason r)
{
	switch (r) {
	case END_FIN:
		return "fin";
	case END_RST:
		return "rst";
	case END_TIMEOUT:
	case END_EVICTED:	/* the contract has no "evicted": a flow pushed
				   out by the cap simply stopped being watched */
		return "timeout";
	case END_EOF:
		return "eof";
	}
	return "eof";
}

const char *event_login_result_name(enum login_result r)
{
	switch (r) {
	case LOGIN_OK:
		return "ok";
	case LOGIN_FAIL:
		return "fail";
	case LOGIN_ABORTED:
		return "aborted";
	case LOGIN_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *event_cont_kind_name(enum cont_kind k)
{
	switch (k) {
	case CONT_SASL:
		return "sasl";
	case CONT_IDLE_DONE:
		return "idle_done";
	case CONT_CONTINUE:
		break;
	}
	return "continue";
}

const char *event_transport_name(enum transport t)
{
	switch (t) {
	case TRANSPORT_STARTTLS:
		return "starttls";
	case TRANSPORT_IMPLICIT_TLS:
		return "implicit_tls";
	case TRANSPORT_PLAIN:
		break;
	}
	return "plain";
}

static uint8_t flow_ip_text(uint8_t af, const uint8_t *ip, char out[EVENT_IP_STRLEN])
{
	if (inet_ntop(af == 6 ? AF_INET6 : AF_INET, ip, out, EVENT_IP_STRLEN) == NULL)
		out[0] = '\0';
	return (uint8_t)strlen(out);
}

void event_flow_format(struct event_flow *f)
{
	int n;

	f->src_ip[0] = f->dest_ip[0] = '\0';
	f->src_ip_len = f->dest_ip_len = 0;
	f->json[0] = '\0';
	f->json_len = 0;
	f->community_id[EVENT_COMMUNITY_ID_LEN - 1] = '\0';
	f->community_id_len = (uint8_t)strlen(f->community_id);
	if (f->af != 4 && f->af != 6) {
		f->af = 0;
		return;
	}
	f->src_ip_len = flow_ip_text(f->af, f->client_ip, f->src_ip);
	f->dest_ip_len = flow_ip_text(f->af, f->server_ip, f->dest_ip);
	n = snprintf(f->json, sizeof f->json, ",\"flow_id\":%" PRIu64 ",\"community_id\":\"%s\""
		     ",\"src_ip\":\"%s\",\"src_port\":%u,\"dest_ip\":\"%s\",\"dest_port\":%u",
		     f->flow_id, f->community_id, f->src_ip, f->client_port, f->dest_ip,
		     f->server_port);
	/* cannot be cut at EVENT_FLOW_JSON_MAX; if it were, no keys */
	f->json_len = n > 0 && (size_t)n < sizeof f->json ? (uint16_t)n : 0;
}
