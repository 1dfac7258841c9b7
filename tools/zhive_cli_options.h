/*  =========================================================================
    zhive_cli_options - the command line of the zhive tool

    What the command line and the environment ask for ($ZHIVE_BROKER,
    $ZHIVE_CURVE_SECRET, $ZHIVE_BROKER_KEY are the defaults of --broker,
    --curve-secret and --broker-key), how it is parsed, the checks of
    options that go together, and the usage text. Options may come before
    or after the command; "--" ends them. The values point into argv and
    the environment, which outlive the options.
    =========================================================================
*/
#ifndef ZHIVE_CLI_OPTIONS_H_INCLUDED
#define ZHIVE_CLI_OPTIONS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

//  What the command line asked for
typedef struct {
    const char *broker;    //  Broker client endpoint
    bool broker_given;     //  --broker was given (conflicts with --local)
    int timeout;           //  Task deadline in ms; 0 = none
    bool timeout_given;    //  --timeout was given (bounds connecting)
    int local;             //  Local workers of an embedded pool; 0 = none
    zlistx_t *loads;       //  --load values, as given (char *, borrowed)
    int concurrency;       //  Tasks at once per local worker; 0 = default
    int window;            //  map: most tasks in flight; 0 = library default
    int task_timeout;      //  --task-timeout: task deadline only; 0 = --timeout's
    int retries;           //  --retries: redispatches after worker loss; -1 = default
    bool wait_if_full;     //  --wait-if-full: resend on QueueFull instead of failing
    bool keep_going;       //  Print task errors in place and go on
    bool json;             //  status: raw JSON
    bool quiet;            //  No progress bar
    bool verbose;          //  Embedded broker logs to stderr
    bool help;             //  Print usage and exit
    bool version;          //  Print version and exit
    zlistx_t *words;       //  Positional arguments (char *, borrowed)
    const char *secret;    //  CURVE: our secret certificate, or NULL
    const char *server;    //  CURVE: the broker's public certificate, or NULL
    bool force;            //  keygen: replace existing files
} zhive_cli_options_t;

//  ---------------------------------------------------------------------
//  Create options holding the defaults (from the environment where it
//  gives them). Returns NULL if out of memory.
zhive_cli_options_t *zhive_cli_options_new (void);

//  Destroy the options; safe twice, nulls the pointer.
void zhive_cli_options_destroy (zhive_cli_options_t **self_p);

//  Read the command line into the options. Returns ZHIVE_CLI_OK, or
//  ZHIVE_CLI_USAGE after a message.
int zhive_cli_options_parse (zhive_cli_options_t *self, int argc, char *argv []);

//  Check the options that go together (--local and --load, --broker and
//  --local, the CURVE certificates, read now for a clear message). Returns
//  ZHIVE_CLI_OK, or ZHIVE_CLI_USAGE after a message.
int zhive_cli_options_check (const zhive_cli_options_t *self);

//  Print the usage text.
void zhive_cli_options_usage (FILE *stream);

#ifdef __cplusplus
}
#endif

#endif
