/*  =========================================================================
    zhive_metrics_server - the broker's HTTP side, served from the actor's loop

    Paths: /metrics (Prometheus text 0.0.4), /api/status (JSON); anything
    else is 404 (zhive_http answers 401 and 405 itself). Client
    connections are counted from the client socket's monitor: ACCEPTED
    adds one, DISCONNECTED takes one (libzmq reports it for every accepted
    connection that ends, a failed handshake's too).
    =========================================================================
*/
#include "zhive_metrics_server.h"
#include "zhive_clock.h"
#include "zhive_http.h"
#include "zhive_metrics.h"

struct _zhive_metrics_server_t {
    zloop_t *loop;         //  The actor's loop
    zhive_pool_t *pool;    //  The pool whose metrics are served
    zhive_http_t *http;    //  The server
    zactor_t *monitor;     //  Events of the client socket
    uint64_t clients;      //  Client connections open now
};

//  ---------------------------------------------------------------------
//  Requests, in the actor's thread

static void
s_on_request (void *arg, const char *path, zhive_http_reply_t *reply)
{
    zhive_metrics_server_t *self = (zhive_metrics_server_t *) arg;
    zhive_metrics_extra_t extra = { self->clients };
    int64_t now = zhive_clock_us ();
    if (streq (path, "/metrics")) {
        reply->content_type = ZHIVE_METRICS_CONTENT_TYPE;
        reply->body = zhive_metrics_text (self->pool, now, &extra, &reply->size);
    }
    else if (streq (path, "/api/status")) {
        reply->content_type = ZHIVE_METRICS_JSON_TYPE;
        reply->body = zhive_metrics_json (self->pool, now, &extra, &reply->size);
    }
    else {
        reply->status = 404;
        reply->content_type = "text/plain; charset=utf-8";
        reply->body = strdup ("not found: /metrics and /api/status are served\n");
        reply->size = reply->body ? strlen (reply->body) : 0;
        return;
    }
    reply->status = 200;
}

//  ---------------------------------------------------------------------
//  Client connections

static int
s_on_monitor (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    zhive_metrics_server_t *self = (zhive_metrics_server_t *) arg;
    zmsg_t *msg = zmsg_recv (sock);
    char *event = msg ? zframe_strdup (zmsg_first (msg)) : NULL;
    if (event && streq (event, "ACCEPTED"))
        self->clients++;
    else if (event && streq (event, "DISCONNECTED") && self->clients)
        self->clients--;
    free (event);
    zmsg_destroy (&msg);
    return 0;
}

static int
s_monitor_start (zhive_metrics_server_t *self, zsock_t *clients)
{
    self->monitor = zactor_new (zmonitor, clients);
    if (!self->monitor)
        return -1;
    zstr_sendx (self->monitor, "LISTEN", "ACCEPTED", "DISCONNECTED", NULL);
    zstr_sendx (self->monitor, "START", NULL);
    zsock_wait (self->monitor);
    return zloop_reader (self->loop, zactor_sock (self->monitor), s_on_monitor, self);
}

//  ---------------------------------------------------------------------
//  Life

zhive_metrics_server_t *
zhive_metrics_server_new (zloop_t *loop, zhive_pool_t *pool, zsock_t *clients, const char *address,
                          const char *token, char *error, size_t error_size)
{
    zhive_metrics_server_t *self =
        (zhive_metrics_server_t *) calloc (1, sizeof (zhive_metrics_server_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->loop = loop;
    self->pool = pool;
    self->http = zhive_http_new (loop, address, token, s_on_request, self, error, error_size);
    if (!self->http) {
        zhive_metrics_server_destroy (&self);
        return NULL;
    }
    if (s_monitor_start (self, clients)) {
        snprintf (error, error_size, "cannot monitor the client socket");
        zhive_metrics_server_destroy (&self);
        return NULL;
    }
    return self;
}

void
zhive_metrics_server_destroy (zhive_metrics_server_t **self_p)
{
    zhive_metrics_server_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    if (self->monitor) {
        zloop_reader_end (self->loop, zactor_sock (self->monitor));
        zactor_destroy (&self->monitor);
    }
    zhive_http_destroy (&self->http);
    free (self);
    *self_p = NULL;
}

const char *
zhive_metrics_server_endpoint (zhive_metrics_server_t *self)
{
    return zhive_http_endpoint (self->http);
}
