/* Flow identifiers that other tools share: the Community ID (v1, the flow
 * hash of Zeek, Suricata, Arkime and Wireshark; corelight/community-id-spec)
 * and imapscope's flow_id, stable across runs of the same capture.
 * Both are computed once per session, when it opens. */
#ifndef IMAPSCOPE_NET_COMMUNITY_ID_H
#define IMAPSCOPE_NET_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

#include "net/flow.h"

#define COMMUNITY_ID_PROTO_TCP 6
/* "1:" and the base64 of a SHA-1 (28 characters), and the NUL. */
#define COMMUNITY_ID_LEN 31
/* flow_id stays below 2^53, so that every JSON reader keeps it exact. */
#define COMMUNITY_FLOW_ID_BITS 53

/* The Community ID v1 of the flow between a and b (either order gives the
 * same), for IP protocol proto, into out ("1:...=").  a and b must have the
 * same af (4: the address in addr[0..3], 6: all 16 bytes).  Returns the
 * length written (30), or -1 (out then "") when the endpoints differ in
 * family. */
int community_id_v1(const struct flow_endpoint *a, const struct flow_endpoint *b,
		    uint8_t proto, uint16_t seed, char out[COMMUNITY_ID_LEN]) WUR;

/* The session's flow_id: the first COMMUNITY_FLOW_ID_BITS bits (big-endian)
 * of the SHA-1 of the Community ID's input (seed 0, TCP) followed by
 * first_ts_us as 8 bytes big-endian.  The same flow in the same capture
 * gets the same id on every run and machine; a flow reusing its ports
 * later gets another.  0 when it cannot be made (see community_id_v1). */
uint64_t community_flow_id(const struct flow_endpoint *client,
			   const struct flow_endpoint *server, int64_t first_ts_us);

#endif
