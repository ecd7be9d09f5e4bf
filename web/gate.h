/*
 * gate.h: accepts connections for policy-web and passes each to the HTTP
 * server only once its request headers have arrived, within a deadline
 * and a per-address limit (slow clients cannot hold every slot).
 */
#ifndef PS_GATE_H
#define PS_GATE_H

#include <stddef.h>
#include <microhttpd.h>

typedef struct gate gate;

/* Starts the gate's thread on the listening socket listen_fd, passing
 * connections to d (started with MHD_USE_NO_LISTEN_SOCKET).  NULL with
 * err on failure. */
gate *gate_start(int listen_fd, struct MHD_Daemon *d, char *err, size_t errlen);
void gate_stop(gate *g);

#endif
