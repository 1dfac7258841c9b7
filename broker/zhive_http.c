/*  =========================================================================
    zhive_http - a small read-only HTTP server driven by a zloop

    libmicrohttpd's daemon runs without threads, in epoll mode: the loop
    polls its epoll fd (readable when a listen or connection socket has
    work) and calls MHD_run, which never blocks; after each run a one-shot
    timer is armed for MHD_get_timeout (idle connections are closed on
    time). Work MHD has pending without a new event (timeout 0) is run at
    once, a few rounds at most, then from a 1 ms timer.
    =========================================================================
*/
#include "zhive_http.h"
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>

#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result s_mhd_result_t;
#else
typedef int s_mhd_result_t;
#endif

#define S_ROUNDS 8    //  Runs in a row while MHD has work pending

struct _zhive_http_t {
    zloop_t *loop;                           //  The loop that drives the daemon
    struct MHD_Daemon *daemon;               //  libmicrohttpd's server
    zmq_pollitem_t item;                     //  Its epoll fd, as a poller of the loop
    bool polling;                            //  item is registered
    int timer;                               //  zloop timer id of its next timeout, -1 none
    char *token;                             //  Bearer token asked for, NULL none
    char *public [ZHIVE_HTTP_PUBLIC_MAX];    //  Paths served without it
    size_t public_count;                     //  How many
    zhive_http_handler_fn *handler;          //  Makes the replies
    void *arg;                               //  Its argument
    char endpoint [128];                     //  http://ADDR:PORT
};

static void s_arm (zhive_http_t *self);

//  ---------------------------------------------------------------------
//  Requests

//  True if the request carries "Authorization: Bearer <token>" (compared
//  in time that does not depend on where it differs)
static bool
s_authorized (zhive_http_t *self, struct MHD_Connection *connection)
{
    const char *header =
        MHD_lookup_connection_value (connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!header || strncmp (header, "Bearer ", 7) != 0)
        return false;
    const char *given = header + 7;
    size_t size = strlen (self->token);
    if (strlen (given) != size)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < size; i++)
        diff |= (unsigned char) (given [i] ^ self->token [i]);
    return diff == 0;
}

//  True if path is served without the token
static bool
s_public (zhive_http_t *self, const char *path)
{
    for (size_t i = 0; i < self->public_count; i++) {
        if (streq (self->public [i], path))
            return true;
    }
    return false;
}

//  A reply of fixed text
static void
s_text (zhive_http_reply_t *reply, int status, const char *text)
{
    reply->status = status;
    reply->content_type = "text/plain; charset=utf-8";
    reply->body = strdup (text);
    reply->size = reply->body ? strlen (text) : 0;
}

static s_mhd_result_t
s_on_request (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size,
              void **con_cls)
{
    (void) version, (void) upload_data, (void) upload_data_size, (void) con_cls;
    zhive_http_t *self = (zhive_http_t *) cls;
    zhive_http_reply_t reply = { 0, NULL, NULL, 0, NULL };
    bool get = streq (method, MHD_HTTP_METHOD_GET) || streq (method, MHD_HTTP_METHOD_HEAD);
    if (self->token && !s_public (self, url) && !s_authorized (self, connection))
        s_text (&reply, MHD_HTTP_UNAUTHORIZED, "a bearer token is needed\n");
    else if (!get)
        s_text (&reply, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are served\n");
    else
        self->handler (self->arg, url, &reply);
    struct MHD_Response *response =
        reply.body ? MHD_create_response_from_buffer (reply.size, reply.body, MHD_RESPMEM_MUST_FREE)
                   : NULL;
    if (!response) {
        free (reply.body);
        static char s_oom [] = "out of memory\n";
        reply.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        reply.content_type = "text/plain; charset=utf-8";
        response = MHD_create_response_from_buffer (strlen (s_oom), s_oom, MHD_RESPMEM_PERSISTENT);
        if (!response)
            return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                             reply.content_type ? reply.content_type : "text/plain");
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Referrer-Policy", "no-referrer");
    if (reply.policy)
        MHD_add_response_header (response, "Content-Security-Policy", reply.policy);
    if (reply.status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (reply.status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    s_mhd_result_t rc = MHD_queue_response (connection, (unsigned int) reply.status, response);
    MHD_destroy_response (response);
    return rc;
}

//  ---------------------------------------------------------------------
//  Driving the daemon from the loop

//  Run the daemon: once, and again while it has work pending
static void
s_run (zhive_http_t *self)
{
    for (int round = 0; round < S_ROUNDS; round++) {
        MHD_run (self->daemon);
        MHD_UNSIGNED_LONG_LONG timeout = 0;
        if (MHD_get_timeout (self->daemon, &timeout) != MHD_YES || timeout > 0)
            break;
    }
    s_arm (self);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop, (void) timer_id;
    zhive_http_t *self = (zhive_http_t *) arg;
    self->timer = -1;    //  One-shot: it is gone
    s_run (self);
    return 0;
}

static int
s_on_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop, (void) item;
    s_run ((zhive_http_t *) arg);
    return 0;
}

//  A timer for the daemon's next timeout, if it has one
static void
s_arm (zhive_http_t *self)
{
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    self->timer = -1;
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    if (MHD_get_timeout (self->daemon, &timeout) == MHD_YES) {
        size_t delay = timeout < 1 ? 1 : timeout > 60000 ? 60000 : (size_t) timeout;
        self->timer = zloop_timer (self->loop, delay, 1, s_on_timer, self);
    }
}

//  ---------------------------------------------------------------------
//  Addresses

int
zhive_http_parse_address (const char *address, struct sockaddr_storage *addr, char *error,
                          size_t error_size)
{
    memset (addr, 0, sizeof *addr);
    if (!address || !*address) {
        snprintf (error, error_size, "no HTTP address (PORT, :PORT or ADDR:PORT)");
        return -1;
    }
    char host [64] = "127.0.0.1";
    const char *port = address;
    const char *colon = strrchr (address, ':');
    if (address [0] == '[') {
        const char *close = strchr (address, ']');
        if (!close || close [1] != ':' || (size_t) (close - address - 1) >= sizeof host) {
            snprintf (error, error_size, "bad HTTP address '%.200s': [ADDR]:PORT for IPv6",
                      address);
            return -1;
        }
        snprintf (host, sizeof host, "%.*s", (int) (close - address - 1), address + 1);
        port = close + 2;
    }
    else if (colon) {
        size_t size = (size_t) (colon - address);
        if (size >= sizeof host) {
            snprintf (error, error_size, "bad HTTP address '%.200s': the host is too long",
                      address);
            return -1;
        }
        if (size)
            snprintf (host, sizeof host, "%.*s", (int) size, address);
        port = colon + 1;
    }
    char *end = NULL;
    errno = 0;
    long number = *port >= '0' && *port <= '9' ? strtol (port, &end, 10) : -1;
    if (number < 0 || number > 65535 || errno || !end || *end) {
        snprintf (error, error_size, "bad HTTP address '%.200s': the port must be 0..65535",
                  address);
        return -1;
    }
    if (streq (host, "*"))
        snprintf (host, sizeof host, "0.0.0.0");
    else if (streq (host, "localhost"))
        snprintf (host, sizeof host, "127.0.0.1");
    struct sockaddr_in *v4 = (struct sockaddr_in *) addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) addr;
    if (inet_pton (AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons ((uint16_t) number);
    }
    else if (inet_pton (AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons ((uint16_t) number);
    }
    else {
        snprintf (error, error_size, "bad HTTP address '%.200s': '%s' is not an IP address",
                  address, host);
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Life

zhive_http_t *
zhive_http_new (zloop_t *loop, const char *address, const char *token,
                zhive_http_handler_fn *handler, void *arg, char *error, size_t error_size)
{
    struct sockaddr_storage addr;
    if (zhive_http_parse_address (address, &addr, error, error_size))
        return NULL;
    zhive_http_t *self = (zhive_http_t *) calloc (1, sizeof (zhive_http_t));
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->loop = loop;
    self->timer = -1;
    self->handler = handler;
    self->arg = arg;
    self->token = token && *token ? strdup (token) : NULL;
    unsigned int flags = MHD_USE_EPOLL | MHD_USE_SUPPRESS_DATE_NO_CLOCK;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = ntohs (addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &addr)->sin6_port
                                                      : ((struct sockaddr_in *) &addr)->sin_port);
    errno = 0;
    if (!token || !*token || self->token)
        self->daemon = MHD_start_daemon (
            flags, port, NULL, NULL, s_on_request, self, MHD_OPTION_SOCK_ADDR, &addr,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int) ZHIVE_HTTP_CONNECTIONS,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) ZHIVE_HTTP_TIMEOUT_S, MHD_OPTION_END);
    const union MHD_DaemonInfo *fd_info =
        self->daemon ? MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    const union MHD_DaemonInfo *port_info =
        self->daemon ? MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!fd_info || !port_info) {
        snprintf (error, error_size, "cannot serve HTTP on %.200s: %s", address,
                  errno ? strerror (errno) : "libmicrohttpd refused");
        zhive_http_destroy (&self);
        return NULL;
    }
    char host [INET6_ADDRSTRLEN] = "";
    if (addr.ss_family == AF_INET6) {
        inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &addr)->sin6_addr, host, sizeof host);
        snprintf (self->endpoint, sizeof self->endpoint, "http://[%s]:%u", host,
                  (unsigned) port_info->port);
    }
    else {
        inet_ntop (AF_INET, &((struct sockaddr_in *) &addr)->sin_addr, host, sizeof host);
        snprintf (self->endpoint, sizeof self->endpoint, "http://%s:%u", host,
                  (unsigned) port_info->port);
    }
    self->item.fd = fd_info->epoll_fd;
    self->item.events = ZMQ_POLLIN;
    if (zloop_poller (loop, &self->item, s_on_ready, self)) {
        snprintf (error, error_size, "cannot poll the HTTP server");
        zhive_http_destroy (&self);
        return NULL;
    }
    self->polling = true;
    s_arm (self);
    return self;
}

int
zhive_http_set_public (zhive_http_t *self, const char *path)
{
    if (self->public_count == ZHIVE_HTTP_PUBLIC_MAX)
        return -1;
    char *copy = strdup (path);
    if (!copy)
        return -1;
    self->public [self->public_count++] = copy;
    return 0;
}

void
zhive_http_destroy (zhive_http_t **self_p)
{
    zhive_http_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    if (self->polling)
        zloop_poller_end (self->loop, &self->item);
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    free (self->token);
    for (size_t i = 0; i < self->public_count; i++)
        free (self->public [i]);
    free (self);
    *self_p = NULL;
}

const char *
zhive_http_endpoint (zhive_http_t *self)
{
    return self->endpoint;
}
