/*  =========================================================================
    zhive_zap - CURVE security: the broker's certificate, the keys it
    allows, and the ZAP handler that checks every new connection

    With CURVE on, both ROUTERs are CURVE servers with the broker's
    certificate and the ZAP domain "zhive": every link is encrypted, and
    libzmq asks the ZAP handler (RFC 27: a REP socket bound to
    inproc://zeromq.zap.01 in the process's ZeroMQ context) whether each
    new peer's public key may connect. Our handler is read by the broker's
    own loop. It allows a key that is in the allow directory (public
    certificates as zcert_save writes them, e.g. by `zhive keygen`; files
    ending in _secret are skipped, subdirectories are read too), and the
    broker's own key, which its local workers use.

    Why not zauth: its CURVE policy is one directory (or a store given when
    it starts), so it cannot also allow the broker's own key without
    writing into that directory; and swapping its store means restarting
    it, which leaves a moment with no ZAP handler, when libzmq (without the
    draft option ZMQ_ZAP_ENFORCE_DOMAIN) lets any CURVE peer in. Our handler
    lives exactly as long as the broker's sockets. Like zauth, it is the one
    ZAP handler of the process: a second CURVE broker in the same process
    is refused. A NULL-mechanism request for another ZAP domain (another
    socket of the program) is allowed, as zauth does by default.

    The directory is read when CURVE is set and again on a reload
    (zhive_broker_reload_curve; zhive-broker does it on SIGHUP). A reload
    decides only new connections: peers already connected stay.

    Refusals are always logged: a key not allowed (with the peer's
    address, from ZAP), and failed handshakes seen by socket monitors (a
    peer without CURVE, or with a wrong broker key, or one that hung up
    during the handshake: whichever side sees a mismatch first ends it;
    libzmq gives only the broker's endpoint for those).
    =========================================================================
*/
#include "zhive_zap.h"
#include "zhive_curve.h"
#include "zhive_log.h"
#include <errno.h>
#include <sys/stat.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_ZAP_DOMAIN   "zhive"

struct _zhive_zap_t {
    zloop_t *loop;               //  The broker's loop, which reads the handler
    bool verbose;                //  Log accepted keys
    zcert_t *cert;               //  The broker's certificate
    char *secret_path;           //  Its file (absolute), passed on to local workers
    char *allow_dir;             //  Directory of allowed public keys, or NULL
    zhashx_t *allowed;           //  Allowed Z85 key -> the file it came from
    zsock_t *handler;            //  The ZAP handler (REP)
    zactor_t *client_monitor;    //  Failed handshakes on the client socket
};

//  Reads the public keys of the certificates under dir: a table of Z85
//  key -> the file it came from. NULL with a message if dir is unreadable.
static zhashx_t *
s_keys_load (const char *dir, char *error, size_t size)
{
    struct stat status;
    int rc = stat (dir, &status);
    if (rc || !S_ISDIR (status.st_mode)) {
        snprintf (error, size, "cannot read the allow directory %s: %s", dir,
                  rc ? strerror (errno) : "not a directory");
        return NULL;
    }
    zhashx_t *keys = zhashx_new ();
    zdir_t *zdir = zdir_new (dir, NULL);
    zfile_t **files = zdir ? zdir_flatten (zdir) : NULL;
    if (!keys || !files) {
        snprintf (error, size, "cannot read the allow directory %s", dir);
        zhashx_destroy (&keys);
        zdir_flatten_free (&files);
        zdir_destroy (&zdir);
        return NULL;
    }
    zhashx_set_destructor (keys, (zhashx_destructor_fn *) zstr_free);
    for (size_t i = 0; files [i]; i++) {
        const char *path = zfile_filename (files [i], NULL);
        size_t length = strlen (path);
        if (!zfile_is_regular (files [i]) || (length >= 7 && streq (path + length - 7, "_secret")))
            continue;
        char key [ZHIVE_CURVE_KEY_SIZE];
        char why [512];
        if (zhive_curve_load_public (path, key, why, sizeof why))
            zhive_log_warning ("CURVE: skipping %s", why);
        else
            zhashx_update (keys, key, strdup (path));
    }
    zdir_flatten_free (&files);
    zdir_destroy (&zdir);
    return keys;
}

//  ---------------------------------------------------------------------
//  The ZAP handler: one request, one reply (RFC 27)

static int
s_on_zap (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    zhive_zap_t *self = (zhive_zap_t *) arg;
    zmsg_t *request = zmsg_recv (sock);
    if (!request)
        return 0;
    char *version = zmsg_popstr (request);
    char *sequence = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *credential = zmsg_pop (request);
    const char *from = address ? address : "?";
    bool ours = domain && streq (domain, S_ZAP_DOMAIN);
    char key [ZHIVE_CURVE_KEY_SIZE] = "";
    bool allowed = false;
    if (mechanism && streq (mechanism, "CURVE") && credential && zframe_size (credential) == 32) {
        zmq_z85_encode (key, zframe_data (credential), 32);
        const char *file = (const char *) zhashx_lookup (self->allowed, key);
        allowed = file || streq (key, zcert_public_txt (self->cert));
        if (allowed && self->verbose)
            zhive_log_debug ("CURVE: accepted key %s from %s (%s)", key, from,
                             file ? file : "the broker's own key");
        else {
            zhive_log_warning (
                "CURVE: refused a connection from %s: key %s is not allowed (not in %s)", from, key,
                self->allow_dir ? self->allow_dir : "any directory");
        }
    }
    else if (mechanism && streq (mechanism, "NULL") && !ours)
        allowed = true;    //  Another socket of this program, with its own domain
    else
        zhive_log_warning ("CURVE: refused a %s connection from %s", mechanism ? mechanism : "?",
                           from);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, sequence ? sequence : "");
    zmsg_addstr (reply, allowed ? "200" : "400");
    zmsg_addstr (reply, allowed ? "OK" : "No access");
    zmsg_addstr (reply, key);    //  User-Id: the peer's key
    zmsg_addstr (reply, "");     //  No metadata
    zmsg_send (&reply, sock);
    zframe_destroy (&credential);
    free (version);
    free (sequence);
    free (domain);
    free (address);
    free (identity);
    free (mechanism);
    zmsg_destroy (&request);
    return 0;
}

void
zhive_zap_handshake_failed (zhive_zap_t *self, bool verbose, const char *which, zmsg_t *event)
{
    char *name = zmsg_popstr (event);
    char *value = zmsg_popstr (event);
    char *endpoint = zmsg_popstr (event);
    uint64_t code = value ? strtoull (value, NULL, 10) : 0;
    //  NO_DETAIL: the peer hung up first (it saw a mismatch before we did)
    bool hung_up = name && streq (name, "HANDSHAKE_FAILED_NO_DETAIL");
    const char *why = hung_up ? "it hung up during the handshake (no CURVE, or a wrong broker key?)"
                      : code == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                          ? (self ? "it does not use CURVE" : "it uses CURVE, we do not")
                      : code == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
                          ? "its CURVE handshake failed: does it have this broker's public key?"
                          : "a protocol error";
    //  Without CURVE this is someone speaking something else to our port
    if (self)
        zhive_log_warning ("refused a peer on the %s endpoint %s: %s", which,
                           endpoint ? endpoint : "?", why);
    else if (verbose)
        zhive_log_debug ("a peer failed the handshake on the %s endpoint %s: %s", which,
                         endpoint ? endpoint : "?", why);
    free (name);
    free (value);
    free (endpoint);
}

static int
s_on_client_monitor (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    zmsg_t *event = zmsg_recv (sock);
    if (event)
        zhive_zap_handshake_failed ((zhive_zap_t *) arg, false, "clients", event);
    zmsg_destroy (&event);
    return 0;
}

//  ---------------------------------------------------------------------
//  Create: read the certificate and the keys, install the handler

zhive_zap_t *
zhive_zap_new (zloop_t *loop, zsock_t *client_sock, const char *secret_path, const char *allow_dir,
               bool verbose, char *error, size_t size)
{
    zcert_t *cert = zhive_curve_load_secret (secret_path, error, size);
    if (!cert)
        return NULL;
    zhashx_t *keys = allow_dir ? s_keys_load (allow_dir, error, size) : zhashx_new ();
    zhive_zap_t *self = keys ? (zhive_zap_t *) calloc (1, sizeof (zhive_zap_t)) : NULL;
    if (!self) {
        if (keys)
            snprintf (error, size, "out of memory");
        zhashx_destroy (&keys);
        zcert_destroy (&cert);
        return NULL;
    }
    self->loop = loop;
    self->verbose = verbose;
    self->cert = cert;
    self->allowed = keys;
    //  Only one ZAP handler per context: fails if another broker has it
    self->handler = zsock_new (ZMQ_REP);
    if (!self->handler || zsock_bind (self->handler, S_ZAP_ENDPOINT)) {
        snprintf (error, size,
                  "cannot install the ZAP handler: this process has one already (another "
                  "CURVE broker, or zauth)");
        zsock_destroy (&self->handler);
        zhive_zap_destroy (&self);
        return NULL;
    }
    //  Absolute: local workers may start after the program changed directory
    self->secret_path = realpath (secret_path, NULL);
    if (!self->secret_path)
        self->secret_path = strdup (secret_path);
    self->allow_dir = allow_dir ? strdup (allow_dir) : NULL;
    self->client_monitor = zactor_new (zmonitor, client_sock);
    if (self->client_monitor) {
        zstr_sendx (self->client_monitor, "LISTEN", "HANDSHAKE_FAILED_PROTOCOL",
                    "HANDSHAKE_FAILED_NO_DETAIL", NULL);
        zstr_sendx (self->client_monitor, "START", NULL);
        zsock_wait (self->client_monitor);
    }
    if (!self->secret_path || (allow_dir && !self->allow_dir) || !self->client_monitor ||
        zloop_reader (loop, self->handler, s_on_zap, self) ||
        zloop_reader (loop, zactor_sock (self->client_monitor), s_on_client_monitor, self)) {
        snprintf (error, size, "out of memory");
        zhive_zap_destroy (&self);
        return NULL;
    }
    zhive_log_warning ("CURVE on: broker key %s; %zu allowed key(s)%s%s", zcert_public_txt (cert),
                       zhashx_size (keys), allow_dir ? " in " : "", allow_dir ? allow_dir : "");
    return self;
}

//  ---------------------------------------------------------------------
//  Make a socket a CURVE server under this handler (before it binds)

void
zhive_zap_apply (zhive_zap_t *self, zsock_t *sock)
{
    zcert_apply (self->cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, S_ZAP_DOMAIN);
}

const char *
zhive_zap_secret_path (zhive_zap_t *self)
{
    return self->secret_path;
}

//  ---------------------------------------------------------------------
//  Read the allow directory again

int
zhive_zap_reload (zhive_zap_t *self, char *error, size_t size)
{
    if (!self->allow_dir) {
        snprintf (error, size, "no allow directory: only the broker's own key is allowed");
        return 0;
    }
    zhashx_t *keys = s_keys_load (self->allow_dir, error, size);
    if (!keys) {
        zhive_log_warning ("CURVE: reload failed, keeping the %zu key(s) allowed before: %s",
                           zhashx_size (self->allowed), error);
        return -1;
    }
    zhashx_destroy (&self->allowed);
    self->allowed = keys;
    zhive_log_warning ("CURVE: reloaded %zu allowed key(s) from %s", zhashx_size (keys),
                       self->allow_dir);
    return (int) zhashx_size (keys);
}

//  ---------------------------------------------------------------------
//  Destroy. The handler goes last: while a CURVE socket is open, libzmq
//  would let any key in without it; so destroy this after the sockets.
//  The client monitor must go before the client socket: call
//  zhive_zap_stop_monitor first.

void
zhive_zap_stop_monitor (zhive_zap_t *self)
{
    if (self && self->client_monitor) {
        zloop_reader_end (self->loop, zactor_sock (self->client_monitor));
        zactor_destroy (&self->client_monitor);
    }
}

void
zhive_zap_destroy (zhive_zap_t **self_p)
{
    zhive_zap_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zhive_zap_stop_monitor (self);
    if (self->handler) {
        zloop_reader_end (self->loop, self->handler);
        zsock_unbind (self->handler, S_ZAP_ENDPOINT);
        zsock_destroy (&self->handler);
    }
    zhashx_destroy (&self->allowed);
    zcert_destroy (&self->cert);
    zstr_free (&self->secret_path);
    zstr_free (&self->allow_dir);
    free (self);
    *self_p = NULL;
}
