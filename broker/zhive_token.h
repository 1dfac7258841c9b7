/*  =========================================================================
    zhive_token - the secrets by which a broker knows its own local workers

    The broker gives each local worker process it starts a fresh random
    token in its environment (ZHIVE_TOKEN_ENV); the worker shows it in
    READY. A READY is from a local process of ours only if it shows the
    token of the process whose pid it names: a host name and a pid are
    what any peer can claim.
    =========================================================================
*/
#ifndef ZHIVE_TOKEN_H_INCLUDED
#define ZHIVE_TOKEN_H_INCLUDED

#include "zhive_proto.h"
#include <stdbool.h>

#pragma GCC visibility push(hidden)

#define ZHIVE_TOKEN_SIZE 33    //  A token: 16 random bytes in hex, with its NUL

//  Write a fresh random token (from /dev/urandom, else zuuid) into token
//  (ZHIVE_TOKEN_SIZE bytes).
void zhive_token_new (char *token);

//  True if shown (from a READY; NULL or "" is no token) is expected, an
//  issued token; the time taken does not depend on where they differ.
bool zhive_token_equal (const char *expected, const char *shown);

//  Our environment with ZHIVE_TOKEN_ENV=token in place of any we have, for
//  execve; *entry_p is the one string made for it. The caller frees both
//  (not the strings of environ). NULL if out of memory.
char **zhive_token_environment (const char *token, char **entry_p);

#pragma GCC visibility pop

#endif
