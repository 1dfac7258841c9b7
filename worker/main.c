/*  =========================================================================
    zhive-worker - serve the functions of task plugins to a zhive broker

    zhive-worker [--connect ENDPOINT] [--load PLUGIN.so[:ARGS]]...
                 [--concurrency N] [--name NAME] [--heartbeat MS]
                 [--liveness N] [--max-tasks N] [--zygote]
                 [--curve-secret FILE --broker-key FILE] [-v|--verbose]
                 [--help]

    The first SIGTERM drains (DRAINING, finish the tasks in flight, BYE);
    a second SIGTERM, or SIGINT, stops at once (BYE). Signal handlers only
    set flags; a short loop timer acts on them.

    Exit status: 0 when stopped, drained, or done after --max-tasks; 1 when
    a plugin cannot be loaded or the worker fails (e.g. the broker sent
    BYE); 2 on bad usage; 70 when a sync handler overran its task's
    deadline by more than the grace period.
    =========================================================================
*/
#include <czmq.h>
#include "zhive_worker.h"
#include <getopt.h>
#include <signal.h>

#define S_ENDPOINT     "tcp://127.0.0.1:5556"
#define S_CONCURRENCY  16
#define S_HEARTBEAT_MS 1000
#define S_LIVENESS     3
#define S_SIGNAL_MS    50    //  How often the loop looks at the signal flags

#define S_SYNOPSIS                                                                                 \
    "usage: zhive-worker [--connect ENDPOINT] [--load PLUGIN.so[:ARGS]]...\n"                      \
    "                    [--concurrency N] [--name NAME] [--heartbeat MS] [--liveness N]\n"        \
    "                    [--max-tasks N] [--zygote] [--curve-secret FILE --broker-key FILE]\n"     \
    "                    [-v|--verbose] [--help]\n"

//  Set by the signal handlers, read by the loop's timer
static volatile sig_atomic_t s_terms;        //  SIGTERMs received (counts to 2)
static volatile sig_atomic_t s_interrupt;    //  SIGINT received

typedef struct {
    const char *endpoint;     //  Broker's worker endpoint (the first --connect)
    const char *more [16];    //  Failover endpoints (later --connect), in order
    size_t more_count;        //  How many
    const char *name;         //  Worker name, or NULL for HOST:PID
    long concurrency;         //  Most tasks at once
    long heartbeat;           //  Heartbeat interval, ms
    long liveness;            //  Silent intervals before the broker is gone
    long max_tasks;           //  Tasks in all, 0 for no limit
    bool verbose;             //  Log to stderr
    bool connect_given;       //  --connect was given once already
    bool zygote;              //  Run as a zygote
    const char **loads;       //  --load values
    size_t loads_count;       //  How many
    const char *secret;       //  CURVE: this worker's secret certificate, or NULL
    const char *server;       //  CURVE: the broker's public certificate, or NULL
} s_options_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
             S_SYNOPSIS
             "\n"
             "Connects to a zhive broker's worker endpoint and runs the tasks it sends,\n"
             "with the functions the loaded plugins register.\n"
             "\n"
             "  --connect ENDPOINT   broker's worker endpoint (default " S_ENDPOINT "); repeat\n"
             "                       it for failover brokers, tried in order when the\n"
             "                       current one is gone for 2 x interval x liveness (>= 2 s)\n"
             "  --load PLUGIN[:ARGS] load a task plugin (repeatable); ARGS, after the first\n"
             "                       ':' that follows \".so\", go to its zhive_plugin_init\n"
             "  --concurrency N      most tasks run at once, 1..1000000 (default %d)\n"
             "  --name NAME          name shown by the broker (default HOST:PID)\n"
             "  --heartbeat MS       heartbeat interval towards the broker, 1..3600000\n"
             "                       (default %d)\n"
             "  --liveness N         silent intervals before the broker counts as gone and\n"
             "                       is reconnected to, 1..1000 (default %d)\n"
             "  --max-tasks N        take N tasks in all, finish them and exit 0, so the pool\n"
             "                       replaces this worker (default 0: no limit)\n"
             "  --curve-secret FILE  CURVE security: this worker's secret certificate (the\n"
             "                       NAME_secret file of 'zhive keygen NAME'; the broker must\n"
             "                       allow NAME's public key)\n"
             "  --broker-key FILE    CURVE: the broker's public certificate; needs\n"
             "                       --curve-secret\n"
             "  --zygote             load the plugins, then fork a worker for each 'spawn'\n"
             "                       line on stdin; print 'pid PID' for each, and\n"
             "                       'exit PID STATUS' when one ends; stop at end of stdin\n"
             "  -v, --verbose        log tasks and connection events to stderr\n"
             "  -h, --help           show this help\n"
             "\n"
             "A sync handler cannot be interrupted. If one runs past its task's deadline by\n"
             "more than max(2 s, 2 x heartbeat x liveness), the worker writes why to stderr\n"
             "and exits with status 70, so the pool can replace it.\n"
             "\n"
             "Runs until stopped. The first SIGTERM drains: no new tasks, finish those in\n"
             "flight, then exit. A second SIGTERM, or SIGINT, stops at once (the broker\n"
             "runs the unfinished tasks elsewhere).\n"
             "Exit status: 0 stopped, 1 failed, 2 bad usage, 70 a handler overran.\n",
             S_CONCURRENCY, S_HEARTBEAT_MS, S_LIVENESS);
}

static int
s_bad_usage (const char *format, const char *value)
{
    fprintf (stderr, "zhive-worker: ");
    fprintf (stderr, format, value);
    fprintf (stderr, "\n" S_SYNOPSIS "Try 'zhive-worker --help' for more.\n");
    return 2;
}

//  Parses a whole decimal number in [low, high]; returns 0 or -1
static int
s_parse_number (const char *text, long low, long high, long *value)
{
    char *end = NULL;
    errno = 0;
    long number = strtol (text, &end, 10);
    if (errno || end == text || *end || number < low || number > high)
        return -1;
    *value = number;
    return 0;
}

//  Parses the command line; returns -1 to go on, else the exit status
static int
s_parse (s_options_t *options, int argc, char *argv [])
{
    static const struct option table [] = { { "connect", required_argument, NULL, 'c' },
                                            { "load", required_argument, NULL, 'l' },
                                            { "concurrency", required_argument, NULL, 'n' },
                                            { "name", required_argument, NULL, 'N' },
                                            { "heartbeat", required_argument, NULL, 'H' },
                                            { "liveness", required_argument, NULL, 'L' },
                                            { "max-tasks", required_argument, NULL, 'm' },
                                            { "zygote", no_argument, NULL, 'z' },
                                            { "curve-secret", required_argument, NULL, 'S' },
                                            { "broker-key", required_argument, NULL, 'K' },
                                            { "verbose", no_argument, NULL, 'v' },
                                            { "help", no_argument, NULL, 'h' },
                                            { NULL, 0, NULL, 0 } };
    opterr = 0;    //  We print our own messages
    int option;
    while ((option = getopt_long (argc, argv, ":vh", table, NULL)) != -1) {
        switch (option) {
            case 'c':
                if (!options->connect_given)
                    options->endpoint = optarg;
                else if (options->more_count < 16)
                    options->more [options->more_count++] = optarg;
                else
                    return s_bad_usage ("at most 17 --connect endpoints (got more after '%s')",
                                        optarg);
                options->connect_given = true;
                break;
            case 'l': options->loads [options->loads_count++] = optarg; break;
            case 'n':
                if (s_parse_number (optarg, 1, 1000000, &options->concurrency))
                    return s_bad_usage ("--concurrency needs a number 1..1000000, not '%s'",
                                        optarg);
                break;
            case 'N':
                if (!*optarg || strlen (optarg) > 255)
                    return s_bad_usage ("--name needs 1..255 characters, not '%s'", optarg);
                options->name = optarg;
                break;
            case 'H':
                if (s_parse_number (optarg, 1, 3600000, &options->heartbeat))
                    return s_bad_usage ("--heartbeat needs milliseconds 1..3600000, not '%s'",
                                        optarg);
                break;
            case 'L':
                if (s_parse_number (optarg, 1, 1000, &options->liveness))
                    return s_bad_usage ("--liveness needs a number 1..1000, not '%s'", optarg);
                break;
            case 'm':
                if (s_parse_number (optarg, 0, LONG_MAX, &options->max_tasks))
                    return s_bad_usage ("--max-tasks needs a number 0 or more, not '%s'", optarg);
                break;
            case 'z': options->zygote = true; break;
            case 'S': options->secret = optarg; break;
            case 'K': options->server = optarg; break;
            case 'v': options->verbose = true; break;
            case 'h': s_usage (stdout); return 0;
            case ':': return s_bad_usage ("%s needs a value", argv [optind - 1]);
            default: {
                char short_option [3] = { '-', (char) optopt, 0 };
                return s_bad_usage ("unknown option '%s'",
                                    optopt ? short_option : argv [optind - 1]);
            }
        }
    }
    if (optind < argc)
        return s_bad_usage ("unexpected argument '%s'", argv [optind]);
    if (options->loads_count == 0)
        return s_bad_usage ("%s", "nothing to serve: give --load PLUGIN.so");
    if (!options->secret != !options->server)
        return s_bad_usage ("%s", "CURVE needs both --curve-secret FILE (this worker's secret "
                                  "certificate) and --broker-key FILE (the broker's public one)");
    if (options->zygote && options->name)
        return s_bad_usage ("%s", "--name cannot be used with --zygote: each worker is HOST:PID");
    return -1;
}

static void
s_on_signal (int signal)
{
    if (signal == SIGTERM) {
        if (s_terms < 2)
            s_terms++;
    }
    else
        s_interrupt = 1;
}

//  The handlers only set flags; zloop's poll, interrupted, goes on (the
//  worker restarts it) and this timer acts within S_SIGNAL_MS
static int
s_on_signal_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    zhive_worker_t *worker = (zhive_worker_t *) arg;
    if (s_interrupt || s_terms > 1)
        zhive_worker_stop (worker);
    else if (s_terms == 1)
        zhive_worker_drain (worker);
    return 0;
}

static void
s_catch_signals (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset (&action.sa_mask);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
    //  A zygote's worker starts with them blocked
    sigset_t stops;
    sigemptyset (&stops);
    sigaddset (&stops, SIGTERM);
    sigaddset (&stops, SIGINT);
    sigprocmask (SIG_UNBLOCK, &stops, NULL);
}

//  Makes the worker, loads the plugins and serves; returns the exit status
static int
s_serve (const s_options_t *options)
{
    zhive_worker_t *worker =
        options->secret
            ? zhive_worker_new_curve (options->endpoint, options->secret, options->server)
            : zhive_worker_new (options->endpoint);
    if (!worker && options->secret && errno != EINVAL)
        return 1;    //  It said why: a certificate
    if (!worker)
        return s_bad_usage ("cannot connect to '%s': not a valid endpoint", options->endpoint);
    for (size_t i = 0; i < options->more_count; i++)
        if (zhive_worker_add_endpoint (worker, options->more [i])) {
            zhive_worker_destroy (&worker);
            return s_bad_usage ("--connect '%s': not a valid endpoint", options->more [i]);
        }
    zhive_worker_set_concurrency (worker, (int) options->concurrency);
    zhive_worker_set_verbose (worker, options->verbose);
    zhive_worker_set_heartbeat (worker, (int) options->heartbeat, (int) options->liveness);
    zhive_worker_set_max_tasks (worker, (uint64_t) options->max_tasks);
    if (options->name)
        zhive_worker_set_name (worker, options->name);

    int rc = 0;
    for (size_t i = 0; i < options->loads_count && rc == 0; i++)
        if (zhive_worker_load_spec (worker, options->loads [i]))
            rc = 1;
    if (rc == 0 &&
        zloop_timer (zhive_worker_loop (worker), S_SIGNAL_MS, 0, s_on_signal_timer, worker) == -1)
        rc = 1;
    if (rc == 0 && zhive_worker_run (worker))
        rc = 1;
    zhive_worker_destroy (&worker);
    return rc;
}

int
main (int argc, char *argv [])
{
    s_options_t options = { .endpoint = S_ENDPOINT,
                            .concurrency = S_CONCURRENCY,
                            .heartbeat = S_HEARTBEAT_MS,
                            .liveness = S_LIVENESS };
    options.loads = (const char **) calloc ((size_t) argc + 1, sizeof (char *));
    if (!options.loads)
        return 1;
    int rc = s_parse (&options, argc, argv);
    bool child = false;
    if (rc == -1 && options.zygote) {
        //  The zygote opens every plugin once, then forks workers on
        //  request; it returns here with its exit status, or in a worker
        rc = zhive_worker_zygote (options.loads, options.loads_count, &child);
        if (child)
            rc = -1;    //  A forked worker: go on and serve
    }
    if (rc == -1) {
        //  Before any other czmq call (none ran so far, nor in a zygote):
        //  SIGINT and SIGTERM are ours (drain, stop)
        zsys_handler_set (NULL);
        s_catch_signals ();
        rc = s_serve (&options);
    }
    free (options.loads);
    return rc;
}
