/*  =========================================================================
    zhive-broker - the pool manager as a program

    Binds the client and worker endpoints, optionally starts local workers,
    and runs until a signal. The first SIGTERM drains (no new tasks; the
    accepted ones finish, for at most --drain-timeout ms); a second SIGTERM,
    or SIGINT, stops at once. Either way unanswered tasks get
    BrokerShutdown and the local workers are stopped. With CURVE
    (--curve-secret, --curve-allow), SIGHUP reads the allow directory again.

    czmq's own handler cannot tell SIGTERM from SIGINT, so it is switched
    off before the first czmq call; our handlers only count signals, and
    the main loop looks at the counts while it waits on the broker actor.
    =========================================================================
*/
#include <czmq.h>
#include "zhive_broker.h"
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>

static volatile sig_atomic_t s_sigterms = 0;    //  SIGTERMs received
static volatile sig_atomic_t s_sigints = 0;     //  SIGINTs received
static volatile sig_atomic_t s_sighups = 0;     //  SIGHUPs received (with CURVE)

static void
s_on_signal (int sig)
{
    if (sig == SIGTERM)
        s_sigterms = s_sigterms + 1;
    else if (sig == SIGHUP)
        s_sighups = s_sighups + 1;
    else
        s_sigints = s_sigints + 1;
}

static void
s_usage (FILE *stream)
{
    fprintf (stream,
             "usage: zhive-broker [OPTION]...\n"
             "Run a zhive broker: clients submit tasks, workers run them.\n"
             "\n"
             "  -c, --clients ENDPOINT       bind for clients (default tcp://*:5555)\n"
             "  -w, --workers ENDPOINT       bind for workers (default tcp://*:5556)\n"
             "                               A port of * (tcp://127.0.0.1:*) binds a free\n"
             "                               port; the endpoints bound are printed on stdout\n"
             "                               (\"zhive-broker: clients ENDPOINT, workers ...\")\n"
             "  -n, --local-workers N        start and supervise N local zhive-worker processes\n"
             "  -l, --load PLUGIN[:ARGS]     plugin for local workers (repeatable)\n"
             "  -C, --concurrency N          tasks at once per local worker (default: worker's)\n"
             "  -p, --worker-program PATH    zhive-worker program for local workers\n"
             "      --start-method exec|zygote\n"
             "                               start local workers with fork+exec each (default),\n"
             "                               or fork them from one process that loaded the\n"
             "                               plugins already\n"
             "      --max-tasks N            local workers are replaced after N tasks (0: never)\n"
             "      --heartbeat MS           heartbeat interval, 1..3600000 (default 1000)\n"
             "      --liveness N             silent intervals before a peer is dead, 1..1000\n"
             "                               (default 3)\n"
             "      --max-queue N            tasks waiting in all queues before SUBMIT gets\n"
             "                               QueueFull (default 1000000, 0: no limit)\n"
             "      --max-queue-per-function N\n"
             "                               the same for each function's queue (default 0: none)\n"
             "      --max-queue-per-client N tasks one client may have waiting before its SUBMIT\n"
             "                               gets QueueFull (default 100000, 0: no limit)\n"
             "      --max-queue-bytes BYTES  bytes of arguments waiting tasks may hold in all\n"
             "                               before SUBMIT gets QueueFull (default 1073741824,\n"
             "                               0: no limit)\n"
             "      --max-retries N          times a task runs again after losing its worker\n"
             "                               (default 3)\n"
             "      --drain-timeout MS       longest drain on the first SIGTERM (default 10000)\n"
             "      --unknown-function-timeout MS\n"
             "                               a task whose function no worker offers gets\n"
             "                               UnknownFunction after waiting MS (default 30000;\n"
             "                               0: it waits for a worker until its deadline)\n"
             "      --prefetch-ms MS         besides a task per slot, a worker may hold tasks\n"
             "                               queued while its answers come back within MS\n"
             "                               (default 50; 0: one task per slot)\n"
             "      --curve-secret FILE      CURVE security: encrypt both endpoints with this\n"
             "                               secret certificate (NAME_secret of zhive keygen)\n"
             "      --curve-allow DIR        CURVE: let in only clients and workers whose public\n"
             "                               certificates are in DIR (and local workers);\n"
             "                               needs --curve-secret. SIGHUP reads DIR again\n"
             "      --http [ADDR:]PORT       serve metrics over HTTP: a dashboard at /,\n"
             "                               Prometheus text at /metrics, JSON status at\n"
             "                               /api/status (off by default; PORT alone is\n"
             "                               127.0.0.1; port 0 binds a free one, printed on\n"
             "                               stdout)\n"
             "      --http-token TOKEN       HTTP requests need the header Authorization:\n"
             "                               Bearer TOKEN (default $ZHIVE_HTTP_TOKEN, if set);\n"
             "                               the dashboard's page asks for it (or #token=)\n"
             "  -v, --verbose                log joins, losses and bad input to stderr\n"
             "  -h, --help                   show this help\n"
             "\n"
             "The first SIGTERM drains: new tasks get BrokerShutdown, accepted ones finish,\n"
             "then the broker stops (what is unanswered at --drain-timeout gets BrokerShutdown).\n"
             "A second SIGTERM, or SIGINT, stops at once.\n"
             "Without CURVE anyone who reaches the endpoints may submit or run tasks: use\n"
             "plain mode on trusted networks only, bound to specific addresses.\n");
}

//  Parses a whole decimal number in [min, max]; returns 0 or -1
static int
s_parse_number (const char *text, long long min, long long max, long long *value)
{
    char *end;
    errno = 0;
    long long number = strtoll (text, &end, 10);
    if (errno || end == text || *end || number < min || number > max)
        return -1;
    *value = number;
    return 0;
}

//  The options that take a number: long name, short code, range
typedef struct {
    const char *name;    //  Long option name
    int code;            //  getopt code
    long long min;       //  Smallest accepted
    long long max;       //  Largest accepted
} s_numeric_t;

enum {
    S_OPT_START_METHOD = 256,
    S_OPT_MAX_TASKS,
    S_OPT_HEARTBEAT,
    S_OPT_LIVENESS,
    S_OPT_MAX_QUEUE,
    S_OPT_MAX_QUEUE_PER_FUNCTION,
    S_OPT_MAX_QUEUE_PER_CLIENT,
    S_OPT_MAX_QUEUE_BYTES,
    S_OPT_MAX_RETRIES,
    S_OPT_DRAIN_TIMEOUT,
    S_OPT_PREFETCH,
    S_OPT_UNKNOWN_FUNCTION,
    S_OPT_CURVE_SECRET,
    S_OPT_CURVE_ALLOW,
    S_OPT_HTTP,
    S_OPT_HTTP_TOKEN
};

static const s_numeric_t s_numerics [] = {
    { "local-workers", 'n', 0, 4096 },
    { "concurrency", 'C', 1, 1000000 },
    { "max-tasks", S_OPT_MAX_TASKS, 0, LLONG_MAX },
    { "heartbeat", S_OPT_HEARTBEAT, 1, 3600000 },
    { "liveness", S_OPT_LIVENESS, 1, 1000 },
    { "max-queue", S_OPT_MAX_QUEUE, 0, LLONG_MAX },
    { "max-queue-per-function", S_OPT_MAX_QUEUE_PER_FUNCTION, 0, LLONG_MAX },
    { "max-queue-per-client", S_OPT_MAX_QUEUE_PER_CLIENT, 0, LLONG_MAX },
    { "max-queue-bytes", S_OPT_MAX_QUEUE_BYTES, 0, LLONG_MAX },
    { "max-retries", S_OPT_MAX_RETRIES, 0, 1000000 },
    { "drain-timeout", S_OPT_DRAIN_TIMEOUT, 0, INT_MAX },
    { "prefetch-ms", S_OPT_PREFETCH, 0, 3600000 },
    { "unknown-function-timeout", S_OPT_UNKNOWN_FUNCTION, 0, INT_MAX },
};

//  Settings from the command line
typedef struct {
    const char *clients;             //  Client endpoint
    const char *workers;             //  Worker endpoint
    const char *program;             //  Worker program, NULL for the default
    const char *start_method;        //  exec or zygote
    const char **loads;              //  Plugins for local workers, NULL-terminated
    size_t loads_count;              //  Entries in loads
    long long local_workers;         //  Local workers to start
    long long concurrency;           //  Their concurrency, 0 for the worker's default
    long long max_tasks;             //  Their task limit, 0 for none
    long long heartbeat;             //  Heartbeat interval
    long long liveness;              //  Heartbeat liveness
    long long max_queue;             //  Queue limit in all
    long long max_queue_function;    //  Queue limit per function
    long long max_queue_client;      //  Queue limit per client
    long long max_queue_bytes;       //  Limit of waiting argument bytes
    long long max_retries;           //  Default retries
    long long drain_timeout;         //  Drain time on the first SIGTERM
    long long prefetch;              //  Queued work per worker beyond its slots, ms
    long long unknown_function;      //  Wait for a function nobody offers, ms (0: for ever)
    bool verbose;                    //  Log to stderr
    const char *curve_secret;        //  CURVE: the broker's secret certificate, or NULL
    const char *curve_allow;         //  CURVE: directory of allowed public keys, or NULL
    const char *http;                //  Metrics server address, or NULL for none
    const char *http_token;          //  Its bearer token, or NULL
} s_args_t;

//  Returns 0 to run, or the exit code
static int
s_parse_args (int argc, char *argv [], s_args_t *args)
{
    static const struct option options [] = {
        { "clients", required_argument, NULL, 'c' },
        { "workers", required_argument, NULL, 'w' },
        { "local-workers", required_argument, NULL, 'n' },
        { "load", required_argument, NULL, 'l' },
        { "concurrency", required_argument, NULL, 'C' },
        { "worker-program", required_argument, NULL, 'p' },
        { "start-method", required_argument, NULL, S_OPT_START_METHOD },
        { "max-tasks", required_argument, NULL, S_OPT_MAX_TASKS },
        { "heartbeat", required_argument, NULL, S_OPT_HEARTBEAT },
        { "liveness", required_argument, NULL, S_OPT_LIVENESS },
        { "max-queue", required_argument, NULL, S_OPT_MAX_QUEUE },
        { "max-queue-per-function", required_argument, NULL, S_OPT_MAX_QUEUE_PER_FUNCTION },
        { "max-queue-per-client", required_argument, NULL, S_OPT_MAX_QUEUE_PER_CLIENT },
        { "max-queue-bytes", required_argument, NULL, S_OPT_MAX_QUEUE_BYTES },
        { "max-retries", required_argument, NULL, S_OPT_MAX_RETRIES },
        { "drain-timeout", required_argument, NULL, S_OPT_DRAIN_TIMEOUT },
        { "prefetch-ms", required_argument, NULL, S_OPT_PREFETCH },
        { "unknown-function-timeout", required_argument, NULL, S_OPT_UNKNOWN_FUNCTION },
        { "curve-secret", required_argument, NULL, S_OPT_CURVE_SECRET },
        { "curve-allow", required_argument, NULL, S_OPT_CURVE_ALLOW },
        { "http", required_argument, NULL, S_OPT_HTTP },
        { "http-token", required_argument, NULL, S_OPT_HTTP_TOKEN },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "c:w:n:l:C:p:vh", options, NULL)) != -1) {
        for (size_t i = 0; i < sizeof s_numerics / sizeof s_numerics [0]; i++) {
            const s_numeric_t *numeric = &s_numerics [i];
            long long value;
            if (numeric->code != option)
                continue;
            if (s_parse_number (optarg, numeric->min, numeric->max, &value)) {
                fprintf (stderr, "zhive-broker: --%s wants %lld..%lld, not '%s'\n", numeric->name,
                         numeric->min, numeric->max, optarg);
                return 2;
            }
            switch (option) {
                case 'n': args->local_workers = value; break;
                case 'C': args->concurrency = value; break;
                case S_OPT_MAX_TASKS: args->max_tasks = value; break;
                case S_OPT_HEARTBEAT: args->heartbeat = value; break;
                case S_OPT_LIVENESS: args->liveness = value; break;
                case S_OPT_MAX_QUEUE: args->max_queue = value; break;
                case S_OPT_MAX_QUEUE_PER_FUNCTION: args->max_queue_function = value; break;
                case S_OPT_MAX_QUEUE_PER_CLIENT: args->max_queue_client = value; break;
                case S_OPT_MAX_QUEUE_BYTES: args->max_queue_bytes = value; break;
                case S_OPT_MAX_RETRIES: args->max_retries = value; break;
                case S_OPT_PREFETCH: args->prefetch = value; break;
                case S_OPT_UNKNOWN_FUNCTION: args->unknown_function = value; break;
                default: args->drain_timeout = value; break;
            }
        }
        switch (option) {
            case 'c': args->clients = optarg; break;
            case 'w': args->workers = optarg; break;
            case 'l': args->loads [args->loads_count++] = optarg; break;
            case 'p': args->program = optarg; break;
            case 'v': args->verbose = true; break;
            case S_OPT_CURVE_SECRET: args->curve_secret = optarg; break;
            case S_OPT_CURVE_ALLOW: args->curve_allow = optarg; break;
            case S_OPT_HTTP: args->http = optarg; break;
            case S_OPT_HTTP_TOKEN: args->http_token = optarg; break;
            case S_OPT_START_METHOD:
                if (strcmp (optarg, "exec") && strcmp (optarg, "zygote")) {
                    fprintf (stderr,
                             "zhive-broker: --start-method wants exec or zygote, not '%s'\n",
                             optarg);
                    return 2;
                }
                args->start_method = optarg;
                break;
            case 'h': s_usage (stdout); return -1;
            case '?':
            case ':': s_usage (stderr); return 2;
            default: break;    //  A number, taken above
        }
    }
    if (optind < argc) {
        fprintf (stderr, "zhive-broker: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        return 2;
    }
    if (args->local_workers > 0 && args->loads_count == 0) {
        fprintf (stderr, "zhive-broker: --local-workers needs at least one --load PLUGIN\n");
        return 2;
    }
    if (!args->curve_secret != !args->curve_allow) {
        fprintf (stderr, "zhive-broker: CURVE needs both --curve-secret FILE (the broker's "
                         "secret certificate) and --curve-allow DIR (the allowed public keys)\n");
        return 2;
    }
    return 0;
}

//  Wait on the broker until it stops or a signal says stop; returns the
//  exit code
static int
s_run (zhive_broker_t *broker, const s_args_t *args)
{
    zsock_t *pipe = zactor_sock (zhive_broker_actor (broker));
    bool draining = false;
    while (true) {
        if (s_sigints > 0 || s_sigterms > 1) {
            fprintf (stderr, "zhive-broker: %s: stopping now\n",
                     s_sigints > 0 ? "interrupted" : "second SIGTERM");
            return 0;
        }
        if (s_sighups > 0) {
            s_sighups = 0;
            fprintf (stderr, "zhive-broker: SIGHUP: reading %s again\n", args->curve_allow);
            zhive_broker_reload_curve (broker);    //  It logs what it allows now
        }
        if (s_sigterms == 1 && !draining) {
            fprintf (stderr, "zhive-broker: SIGTERM: draining for at most %lld ms\n",
                     args->drain_timeout);
            zhive_broker_drain (broker, (int) args->drain_timeout);
            draining = true;
        }
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 100) > 0) {
            zsock_wait (pipe);
            if (draining) {
                fprintf (stderr, "zhive-broker: drained; stopped\n");
                return 0;
            }
            fprintf (stderr, "zhive-broker: the broker stopped on its own\n");
            return 1;
        }
    }
}

int
main (int argc, char *argv [])
{
    //  Before anything of czmq: our handlers, not czmq's
    zsys_handler_set (NULL);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);

    s_args_t args = {
        .clients = "tcp://*:5555",
        .workers = "tcp://*:5556",
        .heartbeat = 1000,
        .liveness = 3,
        .max_queue = 1000000,
        .max_queue_client = 100000,
        .max_queue_bytes = 1073741824LL,
        .max_retries = 3,
        .drain_timeout = 10000,
        .prefetch = 50,
        .unknown_function = ZHIVE_BROKER_UNKNOWN_FUNCTION_MS,
    };
    args.loads = (const char **) calloc ((size_t) argc + 1, sizeof (char *));
    if (!args.loads)
        return 1;
    int rc = s_parse_args (argc, argv, &args);
    if (rc) {
        free (args.loads);
        return rc < 0 ? 0 : rc;
    }

    zhive_broker_t *broker = zhive_broker_new ();
    if (!broker) {
        fprintf (stderr, "zhive-broker: cannot start the broker thread\n");
        free (args.loads);
        return 1;
    }
    zhive_broker_set_verbose (broker, args.verbose);
    if (args.program)
        zhive_broker_set_worker_program (broker, args.program);
    //  Settings before binding: heartbeats apply to the sockets' listeners
    zhive_broker_set_heartbeat (broker, (int) args.heartbeat, (int) args.liveness);
    zhive_broker_set_max_queue (broker, (size_t) args.max_queue, (size_t) args.max_queue_function);
    zhive_broker_set_max_queue_per_client (broker, (size_t) args.max_queue_client);
    zhive_broker_set_max_queue_bytes (broker, (uint64_t) args.max_queue_bytes);
    zhive_broker_set_max_retries (broker, (int) args.max_retries);
    zhive_broker_set_prefetch (broker, (int) args.prefetch);
    zhive_broker_set_unknown_function_timeout (broker, (int) args.unknown_function);
    zhive_broker_set_worker_max_tasks (broker, (uint64_t) args.max_tasks);
    if (args.start_method)
        zhive_broker_set_start_method (broker, args.start_method);
    //  CURVE before binding; it prints why it failed
    if (args.curve_secret && zhive_broker_set_curve (broker, args.curve_secret, args.curve_allow))
        rc = 1;
    else if (args.curve_secret)
        sigaction (SIGHUP, &action, NULL);    //  Reload; without CURVE, SIGHUP ends the broker
    //  The metrics server before binding (it counts client connections)
    const char *token = args.http_token ? args.http_token : getenv ("ZHIVE_HTTP_TOKEN");
    if (token)
        zhive_broker_set_http_token (broker, token);
    if (rc == 0 && args.http && zhive_broker_set_http (broker, args.http))
        rc = 1;
    //  Each bind prints why it failed
    if (rc == 0 && (zhive_broker_bind_clients (broker, args.clients) ||
                    zhive_broker_bind_workers (broker, args.workers)))
        rc = 1;
    if (rc == 0 && args.local_workers > 0 &&
        zhive_broker_start_workers (broker, (int) args.local_workers, args.loads,
                                    (int) args.concurrency))
        rc = 1;
    if (rc == 0) {
        printf ("zhive-broker: clients %s, workers %s", zhive_broker_clients_endpoint (broker),
                zhive_broker_workers_endpoint (broker));
        if (args.local_workers > 0) {
            printf (", %lld local worker(s) (%s)", args.local_workers,
                    args.start_method ? args.start_method : "exec");
        }
        if (args.http)
            printf (", metrics %s/metrics, dashboard %s/", zhive_broker_http_endpoint (broker),
                    zhive_broker_http_endpoint (broker));
        printf ("%s\n", args.curve_secret ? ", CURVE" : "");
        fflush (stdout);
        rc = s_run (broker, &args);
    }
    zhive_broker_destroy (&broker);
    free (args.loads);
    return rc;
}
