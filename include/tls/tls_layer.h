/* The TLS layer as the pipeline sees it (util/transport_layer.h): the
 * wiring puts &tls_layer_ops and its key store into the session config, so
 * that the IMAP layer decrypts without including or linking tls/.
 *
 * conf: the const struct tls_keys * of the run (tls/keylog.h), or NULL
 * when no keys were given (handshakes are still reported).  The sink given
 * to open is not copied: it must outlive the instance. */
#ifndef IMAPSCOPE_TLS_TLS_LAYER_H
#define IMAPSCOPE_TLS_TLS_LAYER_H

#include "util/transport_layer.h"

extern const struct transport_layer_ops tls_layer_ops;

#endif
