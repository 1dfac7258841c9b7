/*  =========================================================================
    zhive_cli_run - the commands that run tasks: call, map and starmap
    =========================================================================
*/
#include "zhive_cli_run.h"
#include "zhive_cli.h"
#include <assert.h>
#include <errno.h>
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

//  ---------------------------------------------------------------------
//  Run a map or starmap and print its results in input order

int
zhive_cli_run_map (zhive_cli_session_t *session, zhive_cli_input_t *input, bool star)
{
    assert (session);
    assert (input);
    size_t count = zhive_cli_input_count (input);
    if (count == 0)
        return ZHIVE_CLI_OK;
    zhive_cli_output_t *output = zhive_cli_session_output (session);
    zhive_cli_progress_t *progress = zhive_cli_output_progress (output);
    zhive_client_t *client = zhive_cli_session_client (session);
    const char *function = zhive_cli_session_function (session);
    zhive_opts_t opts = zhive_cli_session_task_opts (session);
    const zhive_pack_t *items = zhive_cli_input_items (input);
    zhive_map_t *map = star ? zhive_client_starmap (client, function, items, &opts)
                            : zhive_client_map (client, function, items, &opts);
    if (!map) {
        zhive_cli_output_complain (output, "cannot start the map: %s", strerror (errno));
        return ZHIVE_CLI_INTERNAL;
    }
    zhive_cli_progress_start (progress, function, count);
    int rc = ZHIVE_CLI_OK;
    size_t done = 0;
    while (rc == ZHIVE_CLI_OK && done < count) {
        //  Take what has arrived without waiting; flush before we wait
        zhive_result_t *result = zhive_map_next (map, 0);
        if (!result && errno == ETIMEDOUT) {
            rc = zhive_cli_output_flush (output);
            zhive_cli_progress_draw (progress, done);
            if (rc == ZHIVE_CLI_OK)
                result = zhive_map_next (map, ZHIVE_CLI_TICK_MS);
        }
        if (result) {
            zhive_cli_session_news (session);
            size_t line = zhive_cli_input_line (input, zhive_result_index (result));
            rc = zhive_cli_output_result (output, result, line);
            zhive_result_destroy (&result);
            done++;
            zhive_cli_progress_draw (progress, done);
            if (rc == ZHIVE_CLI_OK && zsys_interrupted)
                rc = zhive_cli_session_watch (session);    //  Results pouring in must not hide ^C
        }
        else if (rc == ZHIVE_CLI_OK && errno == ETIMEDOUT)
            rc = zhive_cli_session_watch (session);
        else if (rc == ZHIVE_CLI_OK) {
            zhive_cli_output_complain (output, "the map ended after %zu of %zu results", done,
                                       count);
            rc = ZHIVE_CLI_INTERNAL;
        }
    }
    if (rc == ZHIVE_CLI_OK)
        rc = zhive_cli_output_flush (output);
    zhive_cli_progress_clear (progress);
    zhive_map_destroy (&map);
    return rc;
}
