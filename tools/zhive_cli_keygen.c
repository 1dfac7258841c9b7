/*  =========================================================================
    zhive_cli_keygen - zhive keygen NAME: write a CURVE key pair
    =========================================================================
*/
#include "zhive_cli_keygen.h"
#include "zhive_cli.h"
#include "zhive_curve.h"
#include <assert.h>
#include <errno.h>
#include <stdio.h>

//  ---------------------------------------------------------------------
//  Run keygen NAME [--force]

int
zhive_cli_keygen_run (const zhive_cli_options_t *options)
{
    assert (options);
    size_t words = zlistx_size (options->words);
    zlistx_first (options->words);    //  "keygen"
    const char *name = (const char *) zlistx_next (options->words);
    if (!name || words > 2)
        return zhive_cli_usage_error ("keygen takes one NAME: it writes NAME and NAME_secret");
    char error [512];
    if (zhive_curve_keygen (name, options->force, error, sizeof error)) {
        if (errno == EEXIST)
            return zhive_cli_usage_error ("%s", error);
        zhive_cli_complain ("%s", error);
        return ZHIVE_CLI_INTERNAL;
    }
    printf ("public key: %s (give it to brokers: their --curve-allow directory, or\n"
            "            --broker-key if this is a broker's key)\n"
            "secret key: %s_secret (mode 0600: keep it private, give it as --curve-secret)\n",
            name, name);
    return ZHIVE_CLI_OK;
}
