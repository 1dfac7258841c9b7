/*  =========================================================================
    zhive_http - a small read-only HTTP server (libmicrohttpd) driven by a
    zloop

    No thread of its own: libmicrohttpd runs in epoll mode, its one epoll
    fd is a poller of the loop and its timeouts a timer of the loop, so the
    handler is called in the loop's thread and may read whatever that
    thread owns, without locks. Only GET and HEAD are served (others get
    405); with a token, a request without "Authorization: Bearer TOKEN"
    gets 401, but for the paths made public (static files that hold no
    data). The handler makes the reply for a path (404 for one it does not
    know). Every reply says nosniff and no-store.
    =========================================================================
*/
#ifndef ZHIVE_HTTP_H_INCLUDED
#define ZHIVE_HTTP_H_INCLUDED

#include <czmq.h>

#pragma GCC visibility push(hidden)

#define ZHIVE_HTTP_CONNECTIONS 16    //  Connections served at once
#define ZHIVE_HTTP_TIMEOUT_S   10    //  An idle connection is closed after this
#define ZHIVE_HTTP_PUBLIC_MAX  8     //  Paths served without the token

typedef struct _zhive_http_t zhive_http_t;

//  What a handler answers
typedef struct {
    int status;                  //  HTTP status
    const char *content_type;    //  Its Content-Type (static text)
    char *body;                  //  The body (malloc'd: the server frees it), or NULL
    size_t size;                 //  Its size
    const char *policy;          //  Its Content-Security-Policy (static text), NULL none
} zhive_http_reply_t;

//  Make the reply for a GET or HEAD of path (called in the loop's thread)
typedef void (zhive_http_handler_fn) (void *arg, const char *path, zhive_http_reply_t *reply);

//  ---------------------------------------------------------------------
//  Serve on address (PORT, :PORT or ADDR:PORT; no address means
//  127.0.0.1; [ADDR]:PORT for IPv6; * for every interface; port 0 for one
//  the kernel picks) from loop, with handler; token NULL or "" for none.
//  NULL with a message in error if the address is bad or cannot be bound.
zhive_http_t *zhive_http_new (zloop_t *loop, const char *address, const char *token,
                              zhive_http_handler_fn *handler, void *arg, char *error,
                              size_t error_size);

//  Serve path without the token (a file that holds no data). Returns 0,
//  or -1 if ZHIVE_HTTP_PUBLIC_MAX paths are public already or out of memory.
int zhive_http_set_public (zhive_http_t *self, const char *path);

//  Stop serving and destroy the server. Safe with *self_p NULL.
void zhive_http_destroy (zhive_http_t **self_p);

//  The address served, as a URL without path ("http://127.0.0.1:9090").
const char *zhive_http_endpoint (zhive_http_t *self);

//  Split address as zhive_http_new reads it: 0 with the socket address
//  filled in, or -1 with a message in error.
int zhive_http_parse_address (const char *address, struct sockaddr_storage *addr, char *error,
                              size_t error_size);

#pragma GCC visibility pop

#endif
