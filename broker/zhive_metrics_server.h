/*  =========================================================================
    zhive_metrics_server - the broker's HTTP side: /metrics (Prometheus text),
    /api/status (JSON) and the dashboard at /, served from the actor's loop

    A zhive_http server on the actor's zloop, whose handler makes the text
    from the pool on each request (zhive_metrics) in the actor's thread,
    a timer of the loop that samples the pool's throughput
    (zhive_metrics_history), and a monitor of the client socket that
    counts client connections.
    =========================================================================
*/
#ifndef ZHIVE_METRICS_SERVER_H_INCLUDED
#define ZHIVE_METRICS_SERVER_H_INCLUDED

#include "zhive_pool.h"
#include <czmq.h>

#pragma GCC visibility push(hidden)

typedef struct _zhive_metrics_server_t zhive_metrics_server_t;

//  ---------------------------------------------------------------------
//  Serve the pool's metrics on address (zhive_http_new's forms) from loop,
//  with a bearer token (NULL or "": none); clients is the client socket,
//  not bound yet (its connections are counted from now on). NULL with a
//  message in error if it cannot serve.
zhive_metrics_server_t *zhive_metrics_server_new (zloop_t *loop, zhive_pool_t *pool,
                                                  zsock_t *clients, const char *address,
                                                  const char *token, char *error,
                                                  size_t error_size);

//  Stop serving and monitoring. Call before the client socket is
//  destroyed. Safe with *self_p NULL.
void zhive_metrics_server_destroy (zhive_metrics_server_t **self_p);

//  The address served ("http://127.0.0.1:9090").
const char *zhive_metrics_server_endpoint (zhive_metrics_server_t *self);

#pragma GCC visibility pop

#endif
