/*  =========================================================================
    zhive - run tasks on a zhive pool from the shell, JSON in and out

        zhive call fib '[30]'
        seq 1 100 | zhive map fib
        zhive status
        zhive call echo '[1,"a"]' --local 2 --load ./libzhive-examples.so
        zhive keygen alice

    Everything the command line gives (options, JSON arguments) is checked
    before anything is sent; bad input exits 2 with a message. map and
    starmap read stdin as it comes: at a bad line they print the results
    before it, then exit 2 naming the line.
    With --local the tool starts its own broker thread, bound to private
    ephemeral ports on 127.0.0.1, and local worker processes; they are
    stopped before it exits.

    This file reads the command and dispatches it. The parts:
        zhive_cli           exit statuses, limits, messages on stderr
        zhive_cli_options   options, their parsing, the usage text
        zhive_cli_input     JSON arguments and stdin lines (as they come), as msgpack
        zhive_cli_session   the connection to a broker, watching the wait
        zhive_cli_local     the embedded pool of --local
        zhive_cli_output    results and errors; zhive_cli_progress, the bar
        zhive_cli_run       call, map, starmap
        zhive_cli_status    status
        zhive_cli_keygen    keygen
        zhive_json          JSON <-> msgpack
    =========================================================================
*/
#include "zhive.h"
#include "zhive_cli.h"
#include "zhive_cli_input.h"
#include "zhive_cli_keygen.h"
#include "zhive_cli_options.h"
#include "zhive_cli_run.h"
#include "zhive_cli_session.h"
#include "zhive_cli_status.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_STDOUT_BUFFER (256 * 1024)    //  stdout buffer: results go out in blocks

//  The commands that run against a broker
typedef enum { S_CALL, S_MAP, S_STARMAP, S_STATUS } s_command_t;

//  Check a command's arguments. Returns ZHIVE_CLI_OK or ZHIVE_CLI_USAGE
//  after a message.
static int
s_check_words (s_command_t command, const char *name, const char *function, size_t words)
{
    if (command == S_STATUS)
        return words > 1 ? zhive_cli_usage_error ("status takes no arguments") : ZHIVE_CLI_OK;
    if (!function)
        return zhive_cli_usage_error ("%s: missing FUNCTION", name);
    if (strlen (function) == 0 || strlen (function) > 255)
        return zhive_cli_usage_error ("%s: the function name must be 1 to 255 bytes", name);
    if (command != S_CALL && words > 2)
        return zhive_cli_usage_error ("%s reads its items from stdin, one JSON value per line",
                                      name);
    if (command == S_CALL && words > 3)
        return zhive_cli_usage_error ("call: give the arguments as one JSON array, e.g. '[1,2]'");
    return ZHIVE_CLI_OK;
}

//  Read the input, connect and run a command against a broker
static int
s_run (const zhive_cli_options_t *options, s_command_t command, const char *function,
       const char *args)
{
    //  Read and check call's arguments before connecting; map and starmap
    //  read stdin as it comes, while they run
    zhive_cli_input_t *input = zhive_cli_input_new ();
    zhive_cli_session_t *session =
        zhive_cli_session_new (options, command == S_STATUS ? "status" : function);
    if (!input || !session) {
        zhive_cli_input_destroy (&input);
        zhive_cli_session_destroy (&session);
        zhive_cli_complain ("out of memory");
        return ZHIVE_CLI_INTERNAL;
    }
    int rc = ZHIVE_CLI_OK;
    if (command == S_CALL)
        rc = zhive_cli_input_read_args (input, args);
    else if (command != S_STATUS)
        zhive_cli_input_open_lines (input, fileno (stdin), command == S_STARMAP);
    if (rc == ZHIVE_CLI_OK)
        rc = zhive_cli_session_connect (session);
    if (rc == ZHIVE_CLI_OK) {
        if (command == S_CALL)
            rc = zhive_cli_run_call (session, input);
        else if (command == S_STATUS)
            rc = zhive_cli_status_run (session);
        else
            rc = zhive_cli_run_map (session, input, command == S_STARMAP);
    }
    if (rc == ZHIVE_CLI_OK && zhive_cli_output_failed (zhive_cli_session_output (session)))
        rc = ZHIVE_CLI_TASK;    //  --keep-going went past a failure
    zhive_cli_session_destroy (&session);
    zhive_cli_input_destroy (&input);
    return rc;
}

//  Check the command and its arguments, then run it
static int
s_main (const zhive_cli_options_t *options)
{
    if (options->help) {
        zhive_cli_options_usage (stdout);
        return ZHIVE_CLI_OK;
    }
    if (options->version) {
        printf ("zhive %d.%d.%d\n", ZHIVE_VERSION_MAJOR, ZHIVE_VERSION_MINOR, ZHIVE_VERSION_PATCH);
        return ZHIVE_CLI_OK;
    }
    size_t words = zlistx_size (options->words);
    const char *name = (const char *) zlistx_first (options->words);
    const char *function = (const char *) zlistx_next (options->words);
    const char *args = (const char *) zlistx_next (options->words);
    if (!name)
        return zhive_cli_usage_error ("missing command (call, map, starmap or status)");
    if (streq (name, "help")) {
        zhive_cli_options_usage (stdout);
        return ZHIVE_CLI_OK;
    }
    if (streq (name, "keygen"))
        return zhive_cli_keygen_run (options);
    s_command_t command;
    if (streq (name, "call"))
        command = S_CALL;
    else if (streq (name, "map"))
        command = S_MAP;
    else if (streq (name, "starmap"))
        command = S_STARMAP;
    else if (streq (name, "status"))
        command = S_STATUS;
    else
        return zhive_cli_usage_error ("unknown command '%s'", name);
    int rc = s_check_words (command, name, function, words);
    if (rc == ZHIVE_CLI_OK)
        rc = zhive_cli_options_check (options);
    if (rc == ZHIVE_CLI_OK)
        rc = s_run (options, command, function, args);
    return rc;
}

//  SIGINT and SIGTERM stop the run: the loops look at zsys_interrupted
//  (libzhive leaves signals to the program, so we catch them ourselves)
static void
s_on_signal (int sig)
{
    (void) sig;
    zsys_interrupted = 1;
}

int
main (int argc, char *argv [])
{
    //  Before any zhive object; no SA_RESTART: a blocking read ends (EINTR)
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    //  A closed output pipe is a write error we report, not a signal that
    //  would kill us before the local pool is stopped
    signal (SIGPIPE, SIG_IGN);
    char *buffer = (char *) malloc (S_STDOUT_BUFFER);
    if (buffer)
        setvbuf (stdout, buffer, _IOFBF, S_STDOUT_BUFFER);

    zhive_cli_options_t *options = zhive_cli_options_new ();
    int rc = options ? ZHIVE_CLI_OK : ZHIVE_CLI_INTERNAL;
    if (rc == ZHIVE_CLI_OK)
        rc = zhive_cli_options_parse (options, argc, argv);
    if (rc == ZHIVE_CLI_OK)
        rc = s_main (options);
    zhive_cli_options_destroy (&options);

    //  Close stdout ourselves: the last write error shows here, and the
    //  buffer can be freed once nothing can write to it
    if (fclose (stdout) != 0 && rc == ZHIVE_CLI_OK) {
        if (errno != EPIPE)
            fprintf (stderr, "zhive: cannot write the output: %s\n", strerror (errno));
        rc = ZHIVE_CLI_INTERNAL;
    }
    free (buffer);
    return rc;
}
