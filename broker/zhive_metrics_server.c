/*  =========================================================================
    zhive_metrics_server - the broker's HTTP side, served from the actor's loop

    Paths: /metrics (Prometheus text 0.0.4), /api/status (JSON), and the
    dashboard's files (zhive_dashboard: "/" and its script, style, icon),
    which are public (they hold no data: the page asks for the token and
    sends it on its own requests); anything else is 404 (zhive_http
    answers 401 and 405 itself). A timer samples the pool's counters into
    the throughput history once per ZHIVE_METRICS_HISTORY_MS. Client
    connections are counted from the client socket's monitor: ACCEPTED
    adds one, DISCONNECTED takes one (libzmq reports it for every accepted
    connection that ends, a failed handshake's too).
    =========================================================================
*/
#include "zhive_metrics_server.h"
#include "zhive_clock.h"
#include "zhive_dashboard.h"
#include "zhive_http.h"
#include "zhive_metrics.h"

struct _zhive_metrics_server_t {
    zloop_t *loop;                       //  The actor's loop
    zhive_pool_t *pool;                  //  The pool whose metrics are served
    zhive_http_t *http;                  //  The server
    zactor_t *monitor;                   //  Events of the client socket
    uint64_t clients;                    //  Client connections open now
    zhive_metrics_history_t *history;    //  Throughput of the last minutes
    int timer;                           //  zloop timer that samples it, -1 none
};

//  What the dashboard's files may do: its own script, style and requests
#define S_POLICY                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';" \
    " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//  ---------------------------------------------------------------------
//  Requests, in the actor's thread

static void
s_on_request (void *arg, const char *path, zhive_http_reply_t *reply)
{
    zhive_metrics_server_t *self = (zhive_metrics_server_t *) arg;
    zhive_metrics_extra_t extra = { self->clients, self->history };
    int64_t now = zhive_clock_us ();
    const zhive_dashboard_asset_t *asset = zhive_dashboard_find (path);
    if (asset) {
        reply->content_type = asset->content_type;
        reply->policy = S_POLICY;
        reply->body = (char *) malloc (asset->size ? asset->size : 1);
        reply->size = reply->body ? asset->size : 0;
        if (reply->body)
            memcpy (reply->body, asset->data, asset->size);
    }
    else if (streq (path, "/metrics")) {
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
        reply->body = strdup ("not found: /, /metrics and /api/status are served\n");
        reply->size = reply->body ? strlen (reply->body) : 0;
        return;
    }
    reply->status = 200;
}

//  ---------------------------------------------------------------------
//  The throughput history, sampled from the loop

static int
s_on_sample (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    zhive_metrics_server_t *self = (zhive_metrics_server_t *) arg;
    zhive_metrics_history_sample (self->history, self->pool, zhive_clock_us ());
    return 0;
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
    self->timer = -1;
    self->history = zhive_metrics_history_new ();
    if (!self->history) {
        snprintf (error, error_size, "out of memory");
        zhive_metrics_server_destroy (&self);
        return NULL;
    }
    self->http = zhive_http_new (loop, address, token, s_on_request, self, error, error_size);
    if (!self->http) {
        zhive_metrics_server_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < zhive_dashboard_assets_count; i++) {
        if (zhive_http_set_public (self->http, zhive_dashboard_assets [i].path)) {
            snprintf (error, error_size,
                      "cannot serve the dashboard's %zu files: out of memory, or more than %d"
                      " public paths (ZHIVE_HTTP_PUBLIC_MAX)",
                      zhive_dashboard_assets_count, ZHIVE_HTTP_PUBLIC_MAX);
            zhive_metrics_server_destroy (&self);
            return NULL;
        }
    }
    //  The first sample sets where the history's counting starts
    zhive_metrics_history_sample (self->history, pool, zhive_clock_us ());
    self->timer = zloop_timer (loop, ZHIVE_METRICS_HISTORY_MS, 0, s_on_sample, self);
    if (self->timer < 0) {
        snprintf (error, error_size, "cannot start the metrics sampler");
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
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    zhive_http_destroy (&self->http);
    zhive_metrics_history_destroy (&self->history);
    free (self);
    *self_p = NULL;
}

const char *
zhive_metrics_server_endpoint (zhive_metrics_server_t *self)
{
    return zhive_http_endpoint (self->http);
}
