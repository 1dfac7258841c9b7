/*  =========================================================================
    zhive_curve - CURVE certificates for the broker, workers, clients and
    the CLI (private to the project)

    Certificates are czmq's zcert files (ZPL text): NAME holds the public
    key, NAME_secret both keys. `zhive keygen NAME` writes such a pair.
    Every load checks the file and says what is wrong with it, so that a
    misconfigured program stops with a clear message instead of a silent
    handshake failure.
    =========================================================================
*/
#ifndef ZHIVE_CURVE_H_INCLUDED
#define ZHIVE_CURVE_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZHIVE_CURVE_KEY_SIZE 41    //  A Z85 key and its NUL

//  ---------------------------------------------------------------------
//  Load a certificate that must hold a secret key (the NAME_secret file).
//  Returns the certificate (caller owns it), or NULL with a message in
//  error ("cannot read certificate FILE: ...", "FILE has no secret key
//  (give the _secret file)") and errno set: that of opening the file
//  (ENOENT, EACCES, ...), or EPROTO for a file that is not a usable
//  certificate, ENOTSUP if libzmq has no CURVE.
zcert_t *zhive_curve_load_secret (const char *path, char *error, size_t size);

//  Load the public key of a certificate (NAME, or NAME_secret: both hold
//  it) into key (ZHIVE_CURVE_KEY_SIZE bytes, Z85). Returns 0, or -1 with a
//  message in error and errno set.
int zhive_curve_load_public (const char *path, char *key, char *error, size_t size);

//  Both of a CURVE client's files: its secret certificate (returned,
//  caller owns it) and the server's public key (into server_key). NULL
//  with a message in error and errno set, as above.
zcert_t *zhive_curve_load_pair (const char *secret_path, const char *server_path, char *server_key,
                                char *error, size_t size);

//  Make a socket a CURVE client of the server with public key server_key,
//  with cert as its own keys. Call before connecting. Returns 0 or -1.
int zhive_curve_apply_client (zsock_t *sock, zcert_t *cert, const char *server_key);

//  Write a new key pair: path (public key) and path_secret (both keys,
//  mode 0600). Refuses (errno EEXIST) if either file exists, unless force.
//  Returns 0, or -1 with a message in error.
int zhive_curve_keygen (const char *path, bool force, char *error, size_t size);

#ifdef __cplusplus
}
#endif

#endif
