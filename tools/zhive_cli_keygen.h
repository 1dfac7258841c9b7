/*  =========================================================================
    zhive_cli_keygen - zhive keygen NAME: write a CURVE key pair

    Writes NAME (the public key: for a broker's --curve-allow directory, or
    as --broker-key if this is a broker's key) and NAME_secret (mode 0600,
    for --curve-secret), and says so. Existing files are kept unless
    --force.
    =========================================================================
*/
#ifndef ZHIVE_CLI_KEYGEN_H_INCLUDED
#define ZHIVE_CLI_KEYGEN_H_INCLUDED

#include "zhive_cli_options.h"

#ifdef __cplusplus
extern "C" {
#endif

//  ---------------------------------------------------------------------
//  Run keygen: the options' words are "keygen NAME". Returns ZHIVE_CLI_OK,
//  ZHIVE_CLI_USAGE (no NAME, or files there without --force) or
//  ZHIVE_CLI_INTERNAL, after a message.
int zhive_cli_keygen_run (const zhive_cli_options_t *options);

#ifdef __cplusplus
}
#endif

#endif
