/*  =========================================================================
    service.c - a small C service using the zhive client library

    It does what a service would: one blocking call (apply), a map over a
    batch of inputs with results in order, and an error handled as a value.

        zhive-example-service tcp://127.0.0.1:5555        a running broker
        zhive-example-service --local PLUGIN.so           its own embedded pool
    =========================================================================
*/
#include <zhive.h>
#include <stdio.h>
#include <string.h>

static void
s_print_error (const char *what, const zhive_result_t *result)
{
    printf ("%s failed: %s: %s%s%s%s\n", what, zhive_result_error_type (result),
            zhive_result_error_message (result),
            *zhive_result_error_worker (result) ? " (worker " : "",
            *zhive_result_error_worker (result) ? zhive_result_error_worker (result) : "",
            *zhive_result_error_worker (result) ? ")" : "");
}

static int
s_run (zhive_client_t *client)
{
    //  1. apply: one call, blocking, bounded by a deadline
    zhive_pack_t *args = zhive_pack_new ();
    zhive_pack_array (args, 1);
    zhive_pack_int (args, 25);
    zhive_opts_t opts = { .timeout_ms = 10000 };
    zhive_result_t *result = zhive_client_apply (client, "fib", args, &opts);
    int64_t value;
    if (zhive_result_ok (result) && zhive_value_int (zhive_result_value (result), &value) == 0)
        printf ("fib(25) = %lld\n", (long long) value);
    else
        s_print_error ("fib(25)", result);
    zhive_result_destroy (&result);

    //  2. map: fib over 0..19, results in input order
    zhive_pack_reset (args);
    for (int n = 0; n < 20; n++)
        zhive_pack_int (args, n);
    zhive_map_t *map = zhive_client_map (client, "fib", args, &opts);
    printf ("fib(0..19) =");
    int failures = 0;
    while ((result = zhive_map_next (map, 10000))) {
        if (zhive_result_ok (result) && zhive_value_int (zhive_result_value (result), &value) == 0)
            printf (" %lld", (long long) value);
        else
            failures++;
        zhive_result_destroy (&result);
    }
    printf ("\n");
    if (zhive_map_returned (map) != zhive_map_size (map))
        printf ("map stopped early: %s\n", strerror (errno));
    zhive_map_destroy (&map);

    //  3. an error comes back as a value with a type and a message
    zhive_pack_reset (args);
    zhive_pack_array (args, 1);
    zhive_pack_str (args, "something went wrong");
    result = zhive_client_apply (client, "fail", args, &opts);
    if (zhive_result_ok (result))
        printf ("fail() unexpectedly succeeded\n");
    else
        s_print_error ("fail()", result);
    zhive_result_destroy (&result);
    zhive_pack_destroy (&args);
    return failures ? 1 : 0;
}

int
main (int argc, char *argv [])
{
    if (argc < 2 || strcmp (argv [1], "--help") == 0 || strcmp (argv [1], "-h") == 0) {
        printf ("usage: zhive-example-service ENDPOINT\n"
                "       zhive-example-service --local PLUGIN.so\n"
                "Calls fib, maps fib over 0..19 and shows an error, through a zhive broker.\n");
        return argc < 2 ? 2 : 0;
    }
    zhive_broker_t *broker = NULL;
    const char *endpoint = argv [1];
    if (strcmp (argv [1], "--local") == 0) {
        if (argc < 3) {
            fprintf (stderr, "zhive-example-service: --local needs PLUGIN.so\n");
            return 2;
        }
        //  An embedded pool: a broker thread and two local worker processes
        broker = zhive_broker_new ();
        const char *loads [] = { argv [2], NULL };
        if (!broker || zhive_broker_bind_clients (broker, "tcp://127.0.0.1:*") ||
            zhive_broker_bind_workers (broker, "tcp://127.0.0.1:*") ||
            zhive_broker_start_workers (broker, 2, loads, 0)) {
            fprintf (stderr, "zhive-example-service: cannot start the embedded pool\n");
            zhive_broker_destroy (&broker);
            return 1;
        }
        endpoint = zhive_broker_clients_endpoint (broker);
    }
    zhive_client_t *client = zhive_client_new (endpoint, 5000);
    if (!client) {
        fprintf (stderr, "zhive-example-service: no broker at %s: %s\n", endpoint,
                 strerror (errno));
        zhive_broker_destroy (&broker);
        return 3;
    }
    int rc = s_run (client);
    zhive_client_destroy (&client);
    zhive_broker_destroy (&broker);
    return rc;
}
