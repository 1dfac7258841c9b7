/*  =========================================================================
    zhive-worker - serve the functions of task plugins to a zhive broker

    zhive-worker [--connect ENDPOINT] [--load PLUGIN.so[:ARGS]]...
                 [--concurrency N] [--name NAME] [-v|--verbose] [--help]

    Exit status: 0 when stopped by SIGINT/SIGTERM, 1 when a plugin cannot be
    loaded or the worker fails (e.g. the broker sent BYE), 2 on bad usage.
    =========================================================================
*/
#include "zhive_worker.h"
#include <getopt.h>

#define S_ENDPOINT    "tcp://127.0.0.1:5556"
#define S_CONCURRENCY 16

#define S_SYNOPSIS                                                                                 \
    "usage: zhive-worker [--connect ENDPOINT] [--load PLUGIN.so[:ARGS]]...\n"                      \
    "                    [--concurrency N] [--name NAME] [-v|--verbose] [--help]\n"

static void
s_usage (FILE *out)
{
    fprintf (out,
             S_SYNOPSIS
             "\n"
             "Connects to a zhive broker's worker endpoint and runs the tasks it sends,\n"
             "with the functions the loaded plugins register.\n"
             "\n"
             "  --connect ENDPOINT   broker's worker endpoint (default " S_ENDPOINT ")\n"
             "  --load PLUGIN[:ARGS] load a task plugin (repeatable); ARGS, after the first\n"
             "                       ':' that follows \".so\", go to its zhive_plugin_init\n"
             "  --concurrency N      most tasks run at once, 1..1000000 (default %d)\n"
             "  --name NAME          name shown by the broker (default HOST:PID)\n"
             "  -v, --verbose        log tasks and connection events to stderr\n"
             "  -h, --help           show this help\n"
             "\n"
             "Runs until SIGINT or SIGTERM. Exit status: 0 stopped, 1 failed, 2 bad usage.\n",
             S_CONCURRENCY);
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

//  Splits "PATH[:ARGS]" at the first ':' after ".so" (after the last '/'
//  when there is no ".so"), so paths may hold colons before the file
//  name. Returns the path (caller frees) and sets *args (borrowed, "" if
//  none).
static char *
s_split_load (const char *spec, const char **args)
{
    const char *from = strstr (spec, ".so");
    if (from)
        from += 3;
    else {
        from = strrchr (spec, '/');
        from = from ? from : spec;
    }
    const char *colon = strchr (from, ':');
    *args = colon ? colon + 1 : "";
    return colon ? strndup (spec, (size_t) (colon - spec)) : strdup (spec);
}

int
main (int argc, char *argv [])
{
    static const struct option options [] = { { "connect", required_argument, NULL, 'c' },
                                              { "load", required_argument, NULL, 'l' },
                                              { "concurrency", required_argument, NULL, 'n' },
                                              { "name", required_argument, NULL, 'N' },
                                              { "verbose", no_argument, NULL, 'v' },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    const char *endpoint = S_ENDPOINT;
    const char *name = NULL;
    long concurrency = S_CONCURRENCY;
    bool verbose = false;
    const char **loads = (const char **) calloc ((size_t) argc + 1, sizeof (char *));
    size_t loads_count = 0;
    if (!loads)
        return 1;

    opterr = 0;    //  We print our own messages
    int option;
    while ((option = getopt_long (argc, argv, ":vh", options, NULL)) != -1) {
        switch (option) {
            case 'c': endpoint = optarg; break;
            case 'l': loads [loads_count++] = optarg; break;
            case 'n':
                if (s_parse_number (optarg, 1, 1000000, &concurrency)) {
                    free (loads);
                    return s_bad_usage ("--concurrency needs a number 1..1000000, not '%s'",
                                        optarg);
                }
                break;
            case 'N':
                if (!*optarg || strlen (optarg) > 255) {
                    free (loads);
                    return s_bad_usage ("--name needs 1..255 characters, not '%s'", optarg);
                }
                name = optarg;
                break;
            case 'v': verbose = true; break;
            case 'h':
                s_usage (stdout);
                free (loads);
                return 0;
            case ':': free (loads); return s_bad_usage ("%s needs a value", argv [optind - 1]);
            default: {
                char short_option [3] = { '-', (char) optopt, 0 };
                free (loads);
                return s_bad_usage ("unknown option '%s'",
                                    optopt ? short_option : argv [optind - 1]);
            }
        }
    }
    if (optind < argc) {
        free (loads);
        return s_bad_usage ("unexpected argument '%s'", argv [optind]);
    }
    if (loads_count == 0) {
        free (loads);
        return s_bad_usage ("%s", "nothing to serve: give --load PLUGIN.so");
    }
    zhive_worker_t *worker = zhive_worker_new (endpoint);
    if (!worker) {
        free (loads);
        return s_bad_usage ("cannot connect to '%s': not a valid endpoint", endpoint);
    }
    zhive_worker_set_concurrency (worker, (int) concurrency);
    zhive_worker_set_verbose (worker, verbose);
    if (name)
        zhive_worker_set_name (worker, name);

    int rc = 0;
    for (size_t i = 0; i < loads_count && rc == 0; i++) {
        const char *args;
        char *path = s_split_load (loads [i], &args);
        if (!path || zhive_worker_load (worker, path, args))
            rc = 1;
        free (path);
    }
    free (loads);
    if (rc == 0 && zhive_worker_run (worker))
        rc = 1;
    zhive_worker_destroy (&worker);
    return rc;
}
