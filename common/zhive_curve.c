/*  =========================================================================
    zhive_curve - CURVE certificates: load them with clear errors, apply
    them to a client socket, write new pairs

    We read the named file ourselves (zconfig) rather than with zcert_load,
    which quietly prefers FILE_secret when it exists: the file a user names
    is the file we read. A secret certificate's public key must be the one
    its secret key gives (zmq_curve_public), so a pair spliced from two
    files is refused.
    =========================================================================
*/
#include "zhive_curve.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_FILE_MAX 65536    //  Certificates are small; read no more than this

//  Reads path's keys: the public one always, the secret one if asked.
//  Returns the certificate or NULL with a message.
static zcert_t *
s_load (const char *path, bool secret, char *error, size_t size)
{
    if (!zmq_has ("curve")) {
        snprintf (error, size, "this libzmq was built without CURVE security");
        errno = ENOTSUP;
        return NULL;
    }
    if (!path || !*path) {
        snprintf (error, size, "no certificate file given");
        errno = EINVAL;
        return NULL;
    }
    //  zconfig_load says nothing about why a file cannot be read
    FILE *file = fopen (path, "r");
    if (!file) {
        int error_number = errno;
        snprintf (error, size, "cannot read certificate %s: %s", path, strerror (error_number));
        errno = error_number;
        return NULL;
    }
    fclose (file);
    //  Not zconfig_load: it leaks on a file that does not parse
    zchunk_t *chunk = zchunk_slurp (path, S_FILE_MAX);
    zconfig_t *root = chunk ? zconfig_chunk_load (chunk) : NULL;
    zchunk_destroy (&chunk);
    const char *public_text = root ? zconfig_get (root, "/curve/public-key", NULL) : NULL;
    const char *secret_text = root ? zconfig_get (root, "/curve/secret-key", NULL) : NULL;
    uint8_t public_key [32] = { 0 };
    uint8_t secret_key [32] = { 0 };
    zcert_t *cert = NULL;
    if (!public_text || strlen (public_text) != 40 || !zmq_z85_decode (public_key, public_text)) {
        snprintf (error, size,
                  "cannot read certificate %s: it holds no CURVE public key (make key pairs "
                  "with 'zhive keygen NAME')",
                  path);
    }
    else if (secret && (!secret_text || strlen (secret_text) != 40 ||
                        !zmq_z85_decode (secret_key, secret_text))) {
        snprintf (error, size, "%s has no secret key (give the _secret file)", path);
    }
    else {
        char derived [ZHIVE_CURVE_KEY_SIZE];
        if (secret && (zmq_curve_public (derived, secret_text) || strcmp (derived, public_text)))
            snprintf (error, size, "%s: its public key does not match its secret key", path);
        else
            cert = zcert_new_from (public_key, secret_key);
    }
    zconfig_destroy (&root);
    if (!cert)
        errno = EPROTO;    //  Not a usable certificate
    return cert;
}

zcert_t *
zhive_curve_load_secret (const char *path, char *error, size_t size)
{
    return s_load (path, true, error, size);
}

int
zhive_curve_load_public (const char *path, char *key, char *error, size_t size)
{
    zcert_t *cert = s_load (path, false, error, size);
    if (!cert)
        return -1;
    snprintf (key, ZHIVE_CURVE_KEY_SIZE, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
    return 0;
}

zcert_t *
zhive_curve_load_pair (const char *secret_path, const char *server_path, char *server_key,
                       char *error, size_t size)
{
    zcert_t *cert = zhive_curve_load_secret (secret_path, error, size);
    if (cert && zhive_curve_load_public (server_path, server_key, error, size)) {
        int error_number = errno;
        zcert_destroy (&cert);
        errno = error_number;
    }
    return cert;
}

int
zhive_curve_apply_client (zsock_t *sock, zcert_t *cert, const char *server_key)
{
    zcert_apply (cert, sock);
    zsock_set_curve_serverkey (sock, server_key);
    //  zsock's setters do not report failure: read the option back
    char *applied = zsock_curve_serverkey (sock);
    int rc = applied && streq (applied, server_key) ? 0 : -1;
    free (applied);
    return rc;
}

//  Creates path for writing with mode, failing if it exists. 0 or -1.
static int
s_create (const char *path, mode_t mode)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return -1;
    close (fd);
    return 0;
}

int
zhive_curve_keygen (const char *path, bool force, char *error, size_t size)
{
    if (!path || !*path) {
        snprintf (error, size, "keygen needs a NAME for the key files");
        errno = EINVAL;
        return -1;
    }
    char *secret_path = zsys_sprintf ("%s_secret", path);
    zcert_t *cert = secret_path ? zcert_new () : NULL;
    if (!cert) {
        snprintf (error, size, "out of memory");
        zstr_free (&secret_path);
        errno = ENOMEM;
        return -1;
    }
    const char *paths [] = { path, secret_path };
    int rc = 0;
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        struct stat status;
        if (lstat (paths [i], &status) != 0)
            continue;
        if (!force) {
            snprintf (error, size, "%s exists already (give --force to replace it)", paths [i]);
            errno = EEXIST;
            rc = -1;
        }
        else if (unlink (paths [i])) {
            snprintf (error, size, "cannot replace %s: %s", paths [i], strerror (errno));
            rc = -1;
        }
    }
    zcert_set_meta (cert, "created-by", "zhive keygen");
    //  The secret file is made 0600 before a key is written into it; the
    //  public one gets the usual mode
    const char *failed = NULL;
    if (rc == 0 && (s_create (secret_path, 0600) || zcert_save_secret (cert, secret_path)))
        failed = secret_path;
    else if (rc == 0 && zcert_save_public (cert, path))
        failed = path;
    if (failed) {
        snprintf (error, size, "cannot write %s: %s", failed, strerror (errno));
        unlink (secret_path);
        unlink (path);
        rc = -1;
    }
    zcert_destroy (&cert);
    zstr_free (&secret_path);
    return rc;
}
