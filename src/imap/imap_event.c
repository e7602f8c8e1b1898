/* Names of the event model's enums: the strings are the contract's JSON
 * values, so every output spells them the same way. */
#include "imap/imap_event.h"

#include <stddef.h>

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
