/*  =========================================================================
    zhive_zap - the broker's CURVE security: its certificate, the keys it
    allows, and the ZAP handler (RFC 27) its loop reads

    zhive_zap_new reads the certificate and the allow directory and binds
    the process's one ZAP handler; zhive_zap_apply makes a socket a CURVE
    server under it. zhive_zap_handshake_failed logs a failed handshake
    seen by a socket monitor (with CURVE or without: pass NULL).
    =========================================================================
*/
#ifndef ZHIVE_ZAP_H_INCLUDED
#define ZHIVE_ZAP_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#pragma GCC visibility push(hidden)

typedef struct _zhive_zap_t zhive_zap_t;

//  Create with the secret certificate's file and the allow directory (or
//  NULL: only the broker's own key), reading ZAP requests with loop and
//  watching client_sock for failed handshakes. NULL with a message in
//  error if the files cannot be read or another ZAP handler runs.
zhive_zap_t *zhive_zap_new (zloop_t *loop, zsock_t *client_sock, const char *secret_path,
                            const char *allow_dir, bool verbose, char *error, size_t size);

//  Destroy (after the sockets it secures). Safe with *self_p NULL.
void zhive_zap_destroy (zhive_zap_t **self_p);

//  End the client socket's monitor (before that socket is destroyed).
void zhive_zap_stop_monitor (zhive_zap_t *self);

//  Make sock a CURVE server with the broker's certificate (before binding).
void zhive_zap_apply (zhive_zap_t *self, zsock_t *sock);

//  The certificate's file, absolute, for local workers.
const char *zhive_zap_secret_path (zhive_zap_t *self);

//  Read the allow directory again: the number of keys allowed from it,
//  or -1 with a message in error (the keys allowed before stay).
int zhive_zap_reload (zhive_zap_t *self, char *error, size_t size);

//  Log a HANDSHAKE_FAILED_* monitor event on the `which` endpoint (reads
//  its frames). self NULL: the broker runs without CURVE (logged only if
//  verbose).
void zhive_zap_handshake_failed (zhive_zap_t *self, bool verbose, const char *which, zmsg_t *event);

#pragma GCC visibility pop

#endif
