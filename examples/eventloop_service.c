/*  =========================================================================
    eventloop_service.c - a service that drives zhive from its own poll()

    The service's loop watches its own fds plus two for zhive: the client's
    fd, and a timerfd armed from zhive_client_timeout before every sleep.
    Whenever either fires it calls zhive_client_process, which runs the
    tasks' completion callbacks. Nothing blocks: the service may start
    before its broker (zhive_client_new with 0 does not wait), and a task
    gets its Timeout at its deadline even with the broker gone.

        zhive-example-eventloop tcp://127.0.0.1:5555      fib(0..29) via callbacks
    =========================================================================
*/
#include <zhive.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define S_COUNT 30    //  Tasks the example runs

typedef struct _s_service_t s_service_t;

//  One call: what its task's user_data points at
typedef struct {
    s_service_t *service;    //  The service
    int n;                   //  The argument
} s_call_t;

//  The service's state, reached from the callbacks
struct _s_service_t {
    int finished;               //  Callbacks run so far
    int64_t value [S_COUNT];    //  Results, -1 for a failed task
    s_call_t call [S_COUNT];    //  The calls
};

//  Completion callback: runs inside zhive_client_process. The task is ours
//  (we destroy it here); the result is borrowed from it.
static void
s_on_fib (zhive_task_t *task, zhive_result_t *result, void *user_data)
{
    s_call_t *call = (s_call_t *) user_data;
    s_service_t *service = call->service;
    int n = call->n;
    int64_t value = -1;
    if (!result || !zhive_result_ok (result) ||
        zhive_value_int (zhive_result_value (result), &value))
        fprintf (stderr, "fib(%d): %s: %s\n", n, result ? zhive_result_error_type (result) : "",
                 result ? zhive_result_error_message (result) : "");
    service->value [n] = value;
    service->finished++;
    zhive_task_destroy (&task);
}

//  Arms (ms >= 0) or disarms (ms < 0) the timerfd
static void
s_arm (int timer, int ms)
{
    struct itimerspec spec = { { 0, 0 }, { 0, 0 } };
    if (ms >= 0) {
        spec.it_value.tv_sec = ms / 1000;
        spec.it_value.tv_nsec = (ms % 1000) * 1000000L + (ms == 0);    //  0 would disarm
    }
    timerfd_settime (timer, 0, &spec, NULL);
}

int
main (int argc, char *argv [])
{
    if (argc < 2 || argv [1][0] == '-') {
        printf ("usage: zhive-example-eventloop ENDPOINT\n"
                "Runs fib(0..%d) through a broker from a poll() loop, with callbacks.\n",
                S_COUNT - 1);
        return argc < 2 ? 2 : 0;
    }
    zhive_client_t *client = zhive_client_new (argv [1], 0);    //  Connects in the background
    int timer = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (!client || timer < 0) {
        fprintf (stderr, "zhive-example-eventloop: %s\n", strerror (errno));
        zhive_client_destroy (&client);
        return 1;
    }
    s_service_t service = { 0 };
    zhive_opts_t opts = { .timeout_ms = 10000, .on_done = s_on_fib };
    for (int n = 0; n < S_COUNT; n++) {
        service.call [n] = (s_call_t){ &service, n };
        opts.user_data = &service.call [n];
        zhive_pack_t *args = zhive_pack_new ();
        zhive_pack_array (args, 1);
        zhive_pack_int (args, n);
        zhive_task_t *task = zhive_client_submit (client, "fib", args, &opts);
        zhive_pack_destroy (&args);
        if (!task)
            return 1;    //  Only for bad args or out of memory
    }
    //  The loop: a real service adds its own fds to the poll set
    while (service.finished < S_COUNT) {
        s_arm (timer, zhive_client_timeout (client));
        struct pollfd fds [] = { { zhive_client_fd (client), POLLIN, 0 }, { timer, POLLIN, 0 } };
        if (poll (fds, 2, -1) < 0 && errno != EINTR)
            break;
        uint64_t expirations;
        if ((fds [1].revents & POLLIN) && read (timer, &expirations, sizeof expirations) < 0)
            break;
        zhive_client_process (client);    //  Reads, sends, applies deadlines, runs callbacks
    }
    printf ("fib(0..%d) =", S_COUNT - 1);
    for (int n = 0; n < S_COUNT; n++)
        printf (" %lld", (long long) service.value [n]);
    printf ("\n");
    close (timer);
    zhive_client_destroy (&client);    //  Would destroy unfinished tasks too
    return 0;
}
