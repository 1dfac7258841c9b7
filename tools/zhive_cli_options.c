/*  =========================================================================
    zhive_cli_options - the command line of the zhive tool
    =========================================================================
*/
#include "zhive_cli_options.h"
#include "zhive_cli.h"
#include "zhive_curve.h"
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>

//  Parse a whole decimal integer within [min, max]; 0 or -1
static int
s_parse_int (const char *text, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < min || value > max)
        return -1;
    *out = (int) value;
    return 0;
}

//  ---------------------------------------------------------------------
//  Create options holding the defaults

zhive_cli_options_t *
zhive_cli_options_new (void)
{
    zhive_cli_options_t *self = (zhive_cli_options_t *) calloc (1, sizeof (zhive_cli_options_t));
    if (!self)
        return NULL;
    self->retries = -1;
    self->broker = getenv ("ZHIVE_BROKER");
    if (!self->broker || !*self->broker)
        self->broker = ZHIVE_CLI_DEFAULT_BROKER;
    self->secret = getenv ("ZHIVE_CURVE_SECRET");
    if (self->secret && !*self->secret)
        self->secret = NULL;
    self->server = getenv ("ZHIVE_BROKER_KEY");
    if (self->server && !*self->server)
        self->server = NULL;
    self->loads = zlistx_new ();
    self->words = zlistx_new ();
    if (!self->loads || !self->words)
        zhive_cli_options_destroy (&self);
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the options

void
zhive_cli_options_destroy (zhive_cli_options_t **self_p)
{
    assert (self_p);
    zhive_cli_options_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->loads);
        zlistx_destroy (&self->words);
        free (self);
        *self_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  Read the command line. getopt_long in "return in order" mode ('-'
//  first) hands us each positional argument as option 1, whatever
//  POSIXLY_CORRECT says; ':' next makes a missing value its own case.
//  "--" ends the options.

int
zhive_cli_options_parse (zhive_cli_options_t *self, int argc, char *argv [])
{
    static const struct option longopts [] = {
        { "broker", required_argument, NULL, 'b' },
        { "timeout", required_argument, NULL, 't' },
        { "keep-going", no_argument, NULL, 'k' },
        { "window", required_argument, NULL, 'w' },
        { "quiet", no_argument, NULL, 'q' },
        { "no-progress", no_argument, NULL, 'q' },
        { "json", no_argument, NULL, 'j' },
        { "local", required_argument, NULL, 'l' },
        { "load", required_argument, NULL, 'L' },
        { "concurrency", required_argument, NULL, 'c' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "task-timeout", required_argument, NULL, 'T' },
        { "retries", required_argument, NULL, 'r' },
        { "wait-if-full", no_argument, NULL, 'W' },
        { "curve-secret", required_argument, NULL, 'S' },
        { "broker-key", required_argument, NULL, 'K' },
        { "force", no_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, "-:b:t:kw:qjl:L:c:vhVT:r:W", longopts, NULL)) != -1) {
        switch (option) {
            case 1: zlistx_add_end (self->words, optarg); break;
            case 'b':
                self->broker = optarg;
                self->broker_given = true;
                break;
            case 't':
                if (s_parse_int (optarg, -1, INT_MAX, &self->timeout))
                    return zhive_cli_usage_error ("--timeout: '%s' is not a number of ms", optarg);
                if (self->timeout < 0)
                    self->timeout = 0;
                self->timeout_given = true;
                break;
            case 'k': self->keep_going = true; break;
            case 'T':
                if (s_parse_int (optarg, 1, INT_MAX, &self->task_timeout))
                    return zhive_cli_usage_error (
                        "--task-timeout: '%s' is not a positive number of ms", optarg);
                break;
            case 'r':
                if (s_parse_int (optarg, 0, 1000000, &self->retries))
                    return zhive_cli_usage_error ("--retries: '%s' is not a number 0..1000000",
                                                  optarg);
                break;
            case 'W': self->wait_if_full = true; break;
            case 'S': self->secret = optarg; break;
            case 'K': self->server = optarg; break;
            case 'F': self->force = true; break;
            case 'w':
                if (s_parse_int (optarg, 1, INT_MAX, &self->window))
                    return zhive_cli_usage_error ("--window: '%s' is not a positive number",
                                                  optarg);
                break;
            case 'q': self->quiet = true; break;
            case 'j': self->json = true; break;
            case 'l':
                if (s_parse_int (optarg, 1, 1024, &self->local))
                    return zhive_cli_usage_error (
                        "--local: '%s' is not a number of workers (1..1024)", optarg);
                break;
            case 'L': zlistx_add_end (self->loads, optarg); break;
            case 'c':
                if (s_parse_int (optarg, 1, 1000000, &self->concurrency))
                    return zhive_cli_usage_error ("--concurrency: '%s' is not a positive number",
                                                  optarg);
                break;
            case 'v': self->verbose = true; break;
            case 'h': self->help = true; break;
            case 'V': self->version = true; break;
            case ':': return zhive_cli_usage_error ("option '%s' needs a value", argv [optind - 1]);
            default:
                if (optopt)
                    return zhive_cli_usage_error ("unknown option '-%c'", optopt);
                return zhive_cli_usage_error ("unknown option '%s'", argv [optind - 1]);
        }
    }
    //  After "--", everything left is positional
    for (; optind < argc; optind++)
        zlistx_add_end (self->words, argv [optind]);
    return ZHIVE_CLI_OK;
}

//  ---------------------------------------------------------------------
//  Check the options that go together

int
zhive_cli_options_check (const zhive_cli_options_t *self)
{
    if (self->local && zlistx_size (self->loads) == 0)
        return zhive_cli_usage_error ("--local needs at least one --load PLUGIN.so");
    if (!self->local && zlistx_size (self->loads))
        return zhive_cli_usage_error ("--load needs --local N");
    if (self->local && self->broker_given)
        return zhive_cli_usage_error ("--broker and --local exclude each other");
    if (!self->local && !self->secret != !self->server)
        return zhive_cli_usage_error (
            "CURVE needs both --curve-secret FILE (our secret certificate) and "
            "--broker-key FILE (the broker's public one)");
    if (self->secret) {
        //  Checked now for a clear message; with --local the key is the broker's too
        char error [512], key [ZHIVE_CURVE_KEY_SIZE];
        zcert_t *cert = zhive_curve_load_pair (
            self->secret, self->local ? self->secret : self->server, key, error, sizeof error);
        if (!cert)
            return zhive_cli_usage_error ("%s", error);
        zcert_destroy (&cert);
    }
    return ZHIVE_CLI_OK;
}

//  ---------------------------------------------------------------------
//  Print the usage text

void
zhive_cli_options_usage (FILE *stream)
{
    fprintf (stream,
             "Usage: zhive [OPTIONS] COMMAND [ARGS]\n"
             "\n"
             "Run tasks on a zhive pool; arguments and results are JSON.\n"
             "\n"
             "Commands:\n"
             "  call FUNCTION [ARGS]    run one task. ARGS is a JSON array of arguments\n"
             "                          (default []). Prints the result as one JSON line.\n"
             "  map FUNCTION            one task per non-empty stdin line: the line's JSON\n"
             "                          value is its single argument. Prints one result per\n"
             "                          line, in input order, as results arrive. Reads stdin\n"
             "                          as it comes (at most --window tasks in flight), so\n"
             "                          `tail -f FILE | zhive map F` prints as it goes. At a\n"
             "                          line that is not valid JSON, prints the results before\n"
             "                          it, then \"zhive: line N: ...\" and exits 2.\n"
             "  starmap FUNCTION        as map, but each line is a JSON array of arguments.\n"
             "  status                  show the broker's workers and queues.\n"
             "  keygen NAME             write a CURVE key pair: NAME (the public key, to put in\n"
             "                          a broker's --curve-allow directory, or to give as\n"
             "                          --broker-key) and NAME_secret (mode 0600). Refuses to\n"
             "                          replace existing files unless --force.\n"
             "  help                    show this text.\n"
             "\n"
             "Options (before or after the command):\n"
             "  -b, --broker ENDPOINT   broker client endpoint (default: $ZHIVE_BROKER,\n"
             "                          else " ZHIVE_CLI_DEFAULT_BROKER ")\n"
             "  -t, --timeout MS        deadline of each task, from its submission, and the\n"
             "                          longest wait for the broker to answer when connecting\n"
             "                          (capped at %d ms). Default 0: tasks have no deadline\n"
             "                          and connecting waits %d ms.\n"
             "  -k, --keep-going        print a failed task as\n"
             "                          {\"error\":{\"type\":..,\"message\":..,\"worker\":..}}\n"
             "                          in its place and go on (the exit status is still 1)\n"
             "  -w, --window N          map/starmap: most tasks in flight at once (default 1000)\n"
             "  -T, --task-timeout MS   deadline of each task only (connecting keeps its own\n"
             "                          bound); past it the task fails with Timeout and, if\n"
             "                          running, its worker is told to cancel it\n"
             "  -r, --retries N         times a task may be redispatched after losing its\n"
             "                          worker (default: the broker's, 3); 0 = never\n"
             "  -W, --wait-if-full      when the broker's queue is full, resend with a backoff\n"
             "                          until the deadline instead of failing with QueueFull\n"
             "  -q, --quiet             no progress bar. map/starmap draw one on stderr only\n"
             "                          when stderr is a terminal.\n"
             "  -j, --json              status: print the status map as one JSON line\n"
             "  -l, --local N           run on an embedded pool of N local worker processes\n"
             "                          (its own broker on private 127.0.0.1 ports)\n"
             "  -L, --load PLUGIN[:ARGS]\n"
             "                          plugin the local workers load; repeatable, required\n"
             "                          with --local. A bare name (no '/') is looked for in\n"
             "                          $ZHIVE_PLUGIN_PATH (folders, ':'-separated), then the\n"
             "                          install's lib/zhive, then by the loader's search. It is\n"
             "                          loaded here once first, and its init run once with\n"
             "                          ARGS: one that cannot load, or whose init fails, exits 2\n"
             "  -c, --concurrency N     tasks at once per local worker (default: the worker's)\n"
             "      --curve-secret FILE CURVE security: our secret certificate (NAME_secret of\n"
             "                          keygen; default $ZHIVE_CURVE_SECRET). With --local, the\n"
             "                          local pool runs CURVE with it (no --broker-key needed)\n"
             "      --broker-key FILE   CURVE: the broker's public certificate (default\n"
             "                          $ZHIVE_BROKER_KEY); goes with --curve-secret\n"
             "      --force             keygen: replace existing key files\n"
             "  -v, --verbose           local pool: log joins, losses and bad input to stderr\n"
             "  -h, --help              show this text\n"
             "  -V, --version           show the version\n"
             "\n"
             "Output: compact JSON, one value per line. msgpack values with no JSON form are\n"
             "written as {\"$bytes\":\"<base64>\"} (binary, or a string that is not UTF-8),\n"
             "{\"$ext\":[type,\"<base64>\"]}, and \"NaN\"/\"Infinity\"/\"-Infinity\"; an\n"
             "unsigned integer above 2^63-1 becomes a JSON real. Map keys that are not\n"
             "strings are written as their JSON text. Reals have 17 significant digits, so\n"
             "they read back exactly (0.1 prints as 0.10000000000000001). Input integers\n"
             "must fit 64 bits.\n"
             "\n"
             "Exit status:\n"
             "  0    every task succeeded\n"
             "  1    a task failed: \"error: TYPE: MESSAGE (worker NAME)\" on stderr; map and\n"
             "       starmap stop at the first failure, after printing the results before it.\n"
             "       With --keep-going: 1 if any task failed.\n"
             "  2    bad usage or input: unknown command or option, bad number, bad JSON\n"
             "       (a bad stdin line stops map/starmap after the results before it),\n"
             "       invalid endpoint, --local without --load, a plugin that cannot be\n"
             "       loaded (the loader's reason) or whose init fails (its own message),\n"
             "       an unreadable certificate\n"
             "  3    no broker answered, the broker went away, or a task timed out\n"
             "       (\"zhive: timeout: ...\"). With --local, also when no local worker\n"
             "       became ready within %d ms.\n"
             "  4    internal error: out of memory, output error, the local pool did not start\n"
             "  130  interrupted\n",
             ZHIVE_CLI_CONNECT_MAX_MS, ZHIVE_CLI_CONNECT_MAX_MS, ZHIVE_CLI_POOL_EMPTY_MS);
}
