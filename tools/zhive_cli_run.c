/*  =========================================================================
    zhive_cli_run - the commands that run tasks: call, map and starmap
    =========================================================================
*/
#include "zhive_cli_run.h"
#include "zhive_cli.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Run one task and print its result

int
zhive_cli_run_call (zhive_cli_session_t *session, zhive_cli_input_t *args)
{
    assert (session);
    assert (args);
    zhive_cli_output_t *output = zhive_cli_session_output (session);
    zhive_opts_t opts = zhive_cli_session_task_opts (session);
    zhive_task_t *task = zhive_client_submit (zhive_cli_session_client (session),
                                              zhive_cli_session_function (session),
                                              zhive_cli_input_items (args), &opts);
    if (!task) {
        zhive_cli_output_complain (output, "cannot submit the task: %s", strerror (errno));
        return ZHIVE_CLI_INTERNAL;
    }
    int rc = ZHIVE_CLI_OK;
    while (rc == ZHIVE_CLI_OK && !zhive_task_wait (task, ZHIVE_CLI_TICK_MS))
        rc = zhive_cli_session_watch (session);
    if (rc == ZHIVE_CLI_OK) {
        zhive_result_t *result = zhive_task_take (task);
        rc = zhive_cli_output_result (output, result, 0);
        zhive_result_destroy (&result);
    }
    zhive_task_destroy (&task);
    return rc;
}

//  The tasks of a map in flight, oldest first: a ring of at most window
typedef struct {
    zhive_task_t **tasks;    //  The tasks, from head on
    size_t *lines;           //  The input line of each
    size_t window;           //  Room in the ring
    size_t head;             //  Where the oldest is
    size_t count;            //  How many are in flight
} s_ring_t;

//  Make a ring of `window` tasks; 0, or -1 if out of memory
static int
s_ring_init (s_ring_t *ring, size_t window)
{
    ring->tasks = (zhive_task_t **) calloc (window, sizeof (zhive_task_t *));
    ring->lines = (size_t *) calloc (window, sizeof (size_t));
    ring->window = window;
    ring->head = 0;
    ring->count = 0;
    return ring->tasks && ring->lines ? 0 : -1;
}

//  Destroy the tasks still in the ring (cancelling them) and the ring
static void
s_ring_free (s_ring_t *ring)
{
    for (size_t index = 0; ring->tasks && index < ring->count; index++)
        zhive_task_destroy (&ring->tasks [(ring->head + index) % ring->window]);
    free (ring->tasks);
    free (ring->lines);
}

//  Add the task of input line `line` at the end of the ring (not full)
static void
s_ring_push (s_ring_t *ring, zhive_task_t *task, size_t line)
{
    assert (ring->count < ring->window);
    size_t slot = (ring->head + ring->count++) % ring->window;
    ring->tasks [slot] = task;
    ring->lines [slot] = line;
}

//  Submit what the input holds now, while the ring has room. Sets *ended
//  once the input is over (end, or a bad line); returns ZHIVE_CLI_OK or an
//  exit status after a message, and how many it submitted in *submitted
static int
s_submit (zhive_cli_session_t *session, zhive_cli_input_t *input, s_ring_t *ring,
          zhive_pack_t *args, bool *ended, size_t *submitted)
{
    zhive_cli_output_t *output = zhive_cli_session_output (session);
    zhive_opts_t opts = zhive_cli_session_task_opts (session);
    while (!*ended && ring->count < ring->window) {
        size_t line = 0;
        zhive_cli_input_next_t next = zhive_cli_input_next (input, args, &line);
        if (next == ZHIVE_CLI_INPUT_NONE)
            break;
        if (next == ZHIVE_CLI_INPUT_NO_MEMORY) {
            zhive_cli_output_complain (output, "out of memory");
            return ZHIVE_CLI_INTERNAL;
        }
        if (next != ZHIVE_CLI_INPUT_ITEM) {
            *ended = true;
            break;
        }
        zhive_task_t *task = zhive_client_submit (
            zhive_cli_session_client (session), zhive_cli_session_function (session), args, &opts);
        if (!task) {
            zhive_cli_output_complain (output, "cannot submit line %zu: %s", line,
                                       strerror (errno));
            return ZHIVE_CLI_INTERNAL;
        }
        if (ring->count == 0)
            zhive_cli_session_news (session);    //  The wait for an answer starts now
        s_ring_push (ring, task, line);
        (*submitted)++;
    }
    return ZHIVE_CLI_OK;
}

//  Print the results of the oldest tasks, while they are done. Returns
//  ZHIVE_CLI_OK or the exit status, and how many it printed in *printed
static int
s_print (zhive_cli_session_t *session, s_ring_t *ring, size_t *printed)
{
    zhive_cli_output_t *output = zhive_cli_session_output (session);
    int rc = ZHIVE_CLI_OK;
    while (rc == ZHIVE_CLI_OK && ring->count && zhive_task_done (ring->tasks [ring->head])) {
        zhive_result_t *result = zhive_task_take (ring->tasks [ring->head]);
        zhive_cli_session_news (session);
        rc = zhive_cli_output_result (output, result, ring->lines [ring->head]);
        zhive_result_destroy (&result);
        zhive_task_destroy (&ring->tasks [ring->head]);
        ring->head = (ring->head + 1) % ring->window;
        ring->count--;
        (*printed)++;
    }
    return rc;
}

//  Wait up to ZHIVE_CLI_TICK_MS for a result, or for input if `input_fd`
//  is not -1
static void
s_wait (zhive_cli_session_t *session, s_ring_t *ring, int input_fd)
{
    zhive_client_t *client = zhive_cli_session_client (session);
    if (input_fd < 0 && ring->count) {
        //  Only results to wait for: the client's own wait (resends, deadlines)
        zhive_task_wait (ring->tasks [ring->head], ZHIVE_CLI_TICK_MS);
        return;
    }
    zmq_pollitem_t items [] = { { zsock_resolve (zhive_client_socket (client)), 0, ZMQ_POLLIN, 0 },
                                { NULL, input_fd, ZMQ_POLLIN, 0 } };
    zmq_poll (items, input_fd < 0 ? 1 : 2, ZHIVE_CLI_TICK_MS);
    zhive_client_process (client);
}

//  ---------------------------------------------------------------------
//  Run a map or starmap over the input as it comes: at most the window in
//  flight, results printed in input order as they arrive

int
zhive_cli_run_map (zhive_cli_session_t *session, zhive_cli_input_t *input, bool star)
{
    assert (session);
    assert (input);
    (void) star;    //  The input packs each line as map or starmap wants
    zhive_cli_output_t *output = zhive_cli_session_output (session);
    zhive_cli_progress_t *progress = zhive_cli_output_progress (output);
    int window = zhive_cli_session_options (session)->window;
    s_ring_t ring;
    zhive_pack_t *args = zhive_pack_new ();
    if (s_ring_init (&ring, window > 0 ? (size_t) window : ZHIVE_CLI_WINDOW) || !args) {
        s_ring_free (&ring);
        zhive_pack_destroy (&args);
        zhive_cli_output_complain (output, "out of memory");
        return ZHIVE_CLI_INTERNAL;
    }
    zhive_cli_progress_start (progress, zhive_cli_session_function (session), 0);
    int rc = ZHIVE_CLI_OK;
    bool ended = false;
    size_t read = 0, done = 0;
    while (rc == ZHIVE_CLI_OK && !(ended && ring.count == 0)) {
        size_t submitted = 0, printed = 0;
        rc = s_submit (session, input, &ring, args, &ended, &submitted);
        if (rc == ZHIVE_CLI_OK)
            rc = s_print (session, &ring, &printed);
        read += submitted;
        done += printed;
        if (submitted)
            zhive_cli_progress_set_total (progress, read);
        zhive_cli_progress_draw (progress, done);
        if (rc != ZHIVE_CLI_OK || (ended && ring.count == 0))
            break;
        if (submitted == 0 && printed == 0) {
            //  Nothing to do now: what was printed goes out before we wait
            rc = zhive_cli_output_flush (output);
            if (ring.count == 0)
                zhive_cli_session_news (session);    //  No answer is awaited
            if (rc == ZHIVE_CLI_OK) {
                bool room = !ended && ring.count < ring.window;
                s_wait (session, &ring, room ? zhive_cli_input_fd (input) : -1);
                rc = zhive_cli_session_watch (session);
            }
        }
        else if (zsys_interrupted)
            rc = zhive_cli_session_watch (session);    //  Results pouring in must not hide ^C
    }
    if (rc == ZHIVE_CLI_OK)
        rc = zhive_cli_output_flush (output);
    //  A bad line: the results before it are out; now say why we stop
    size_t line;
    if (rc == ZHIVE_CLI_OK && zhive_cli_input_next (input, args, &line) == ZHIVE_CLI_INPUT_BAD) {
        zhive_cli_output_complain (output, "%s", zhive_cli_input_error (input));
        rc = ZHIVE_CLI_USAGE;
    }
    zhive_cli_progress_clear (progress);
    s_ring_free (&ring);
    zhive_pack_destroy (&args);
    return rc;
}
