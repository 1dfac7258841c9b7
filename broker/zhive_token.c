/*  =========================================================================
    zhive_token - the secrets by which a broker knows its own local workers

    128 random bits in hex. The environment for a worker is built before
    fork, so the child only calls execve.
    =========================================================================
*/
#include "zhive_token.h"
#include <czmq.h>
#include <fcntl.h>
#include <unistd.h>

//  ---------------------------------------------------------------------
//  A fresh random token

void
zhive_token_new (char *token)
{
    uint8_t bytes [16] = { 0 };
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    bool got = fd >= 0 && read (fd, bytes, sizeof bytes) == (ssize_t) sizeof bytes;
    if (fd >= 0)
        close (fd);
    if (!got) {
        zuuid_t *uuid = zuuid_new ();
        if (uuid)
            memcpy (bytes, zuuid_data (uuid), sizeof bytes);
        zuuid_destroy (&uuid);
    }
    for (size_t i = 0; i < sizeof bytes; i++)
        snprintf (token + 2 * i, 3, "%02x", bytes [i]);
}

//  ---------------------------------------------------------------------
//  Is the token shown the one issued

bool
zhive_token_equal (const char *expected, const char *shown)
{
    if (!expected || !expected [0] || !shown || strlen (shown) != ZHIVE_TOKEN_SIZE - 1 ||
        strlen (expected) != ZHIVE_TOKEN_SIZE - 1)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < ZHIVE_TOKEN_SIZE - 1; i++)
        diff |= (unsigned char) (expected [i] ^ shown [i]);
    return diff == 0;
}

//  ---------------------------------------------------------------------
//  The environment of a worker with its token

char **
zhive_token_environment (const char *token, char **entry_p)
{
    extern char **environ;
    size_t count = 0;
    while (environ && environ [count])
        count++;
    char **envp = (char **) calloc (count + 2, sizeof (char *));
    char *entry = envp ? zsys_sprintf ("%s=%s", ZHIVE_TOKEN_ENV, token) : NULL;
    if (!entry) {
        free (envp);
        return NULL;
    }
    size_t size = 0, name = strlen (ZHIVE_TOKEN_ENV);
    for (size_t i = 0; i < count; i++) {
        if (!(strncmp (environ [i], ZHIVE_TOKEN_ENV, name) == 0 && environ [i][name] == '='))
            envp [size++] = environ [i];
    }
    envp [size] = entry;
    *entry_p = entry;
    return envp;
}
