/*  =========================================================================
    zhive-broker - the pool manager as a program

    Binds the client and worker endpoints, optionally starts local workers,
    and runs until SIGINT or SIGTERM. The broker thread ignores signals:
    this thread sees czmq's zsys_interrupted and stops the broker with
    $TERM (zhive_broker_destroy), which also stops the local workers.
    =========================================================================
*/
#include "zhive_broker.h"
#include <getopt.h>
#include <limits.h>

static void
s_usage (FILE *stream)
{
    fprintf (stream,
             "usage: zhive-broker [OPTION]...\n"
             "Run a zhive broker: clients submit tasks, workers run them.\n"
             "\n"
             "  -c, --clients ENDPOINT     bind for clients (default tcp://*:5555)\n"
             "  -w, --workers ENDPOINT     bind for workers (default tcp://*:5556)\n"
             "  -n, --local-workers N      start and supervise N local zhive-worker processes\n"
             "  -l, --load PLUGIN[:ARGS]   plugin for local workers (repeatable)\n"
             "  -C, --concurrency N        tasks at once per local worker (default: worker's)\n"
             "  -p, --worker-program PATH  zhive-worker program for local workers\n"
             "  -v, --verbose              log joins, losses and bad input to stderr\n"
             "  -h, --help                 show this help\n");
}

//  Parses a whole decimal number in [min, max]; returns 0 or -1
static int
s_parse_int (const char *text, int min, int max, int *value)
{
    char *end;
    errno = 0;
    long number = strtol (text, &end, 10);
    if (errno || end == text || *end || number < min || number > max)
        return -1;
    *value = (int) number;
    return 0;
}

int
main (int argc, char *argv [])
{
    const char *clients = "tcp://*:5555";
    const char *workers = "tcp://*:5556";
    const char *program = NULL;
    int local_workers = 0;
    int concurrency = 0;
    bool verbose = false;
    const char **loads = (const char **) calloc ((size_t) argc + 1, sizeof (char *));
    size_t loads_count = 0;
    if (!loads)
        return 1;

    static const struct option options [] = { { "clients", required_argument, NULL, 'c' },
                                              { "workers", required_argument, NULL, 'w' },
                                              { "local-workers", required_argument, NULL, 'n' },
                                              { "load", required_argument, NULL, 'l' },
                                              { "concurrency", required_argument, NULL, 'C' },
                                              { "worker-program", required_argument, NULL, 'p' },
                                              { "verbose", no_argument, NULL, 'v' },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    int option;
    while ((option = getopt_long (argc, argv, "c:w:n:l:C:p:vh", options, NULL)) != -1) {
        switch (option) {
            case 'c': clients = optarg; break;
            case 'w': workers = optarg; break;
            case 'n':
                if (s_parse_int (optarg, 0, 4096, &local_workers)) {
                    fprintf (stderr, "zhive-broker: --local-workers wants 0..4096, not '%s'\n",
                             optarg);
                    free (loads);
                    return 2;
                }
                break;
            case 'l': loads [loads_count++] = optarg; break;
            case 'C':
                if (s_parse_int (optarg, 1, 1000000, &concurrency)) {
                    fprintf (stderr, "zhive-broker: --concurrency wants 1..1000000, not '%s'\n",
                             optarg);
                    free (loads);
                    return 2;
                }
                break;
            case 'p': program = optarg; break;
            case 'v': verbose = true; break;
            case 'h':
                s_usage (stdout);
                free (loads);
                return 0;
            default:
                s_usage (stderr);
                free (loads);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "zhive-broker: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        free (loads);
        return 2;
    }
    if (local_workers > 0 && loads_count == 0) {
        fprintf (stderr, "zhive-broker: --local-workers needs at least one --load PLUGIN\n");
        free (loads);
        return 2;
    }

    zhive_broker_t *broker = zhive_broker_new ();
    if (!broker) {
        fprintf (stderr, "zhive-broker: cannot start the broker thread\n");
        free (loads);
        return 1;
    }
    zhive_broker_set_verbose (broker, verbose);
    if (program)
        zhive_broker_set_worker_program (broker, program);
    //  Each bind prints why it failed
    int rc = 0;
    if (zhive_broker_bind_clients (broker, clients) || zhive_broker_bind_workers (broker, workers))
        rc = 1;
    if (rc == 0 && local_workers > 0 &&
        zhive_broker_start_workers (broker, local_workers, loads, concurrency))
        rc = 1;
    if (rc == 0) {
        printf ("zhive-broker: clients %s, workers %s", zhive_broker_clients_endpoint (broker),
                zhive_broker_workers_endpoint (broker));
        if (local_workers > 0)
            printf (", %d local worker(s)", local_workers);
        printf ("\n");
        fflush (stdout);

        //  Run until a signal; the actor's pipe only speaks if it stops alone
        zsock_t *pipe = zactor_sock (zhive_broker_actor (broker));
        while (!zsys_interrupted) {
            zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
            if (zmq_poll (&item, 1, 500) > 0) {
                fprintf (stderr, "zhive-broker: the broker stopped on its own\n");
                rc = 1;
                break;
            }
        }
        if (verbose && zsys_interrupted)
            fprintf (stderr, "zhive-broker: interrupted, stopping\n");
    }
    zhive_broker_destroy (&broker);
    free (loads);
    return rc;
}
