/*  =========================================================================
    zhive_cli_status - zhive status: the broker's workers and queues
    =========================================================================
*/
#include "zhive_cli_status.h"
#include "zhive_cli.h"
#include "zhive_json_writer.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_COLUMNS_MAX 16    //  Most columns of a table

//  One table cell from a status value: strings as they are (control
//  characters, which could drive the terminal, shown as '?'), anything
//  else as JSON text. Caller frees.
static char *
s_cell (const msgpack_object *value)
{
    const char *text;
    size_t size;
    if (value && value->type == MSGPACK_OBJECT_STR && zhive_value_str (value, &text, &size) == 0) {
        char *cell = (char *) malloc (size + 1);
        for (size_t index = 0; cell && index < size; index++) {
            unsigned char byte = (unsigned char) text [index];
            cell [index] = byte < 0x20 || byte == 0x7f ? '?' : (char) byte;
        }
        if (cell)
            cell [size] = 0;
        return cell;
    }
    if (!value)
        return strdup ("?");
    zhive_pack_t *pack = zhive_pack_new ();
    char *cell = pack && zhive_pack_object (pack, value) == 0
                     ? zhive_json_writer_text (zhive_pack_data (pack), zhive_pack_size (pack))
                     : NULL;
    zhive_pack_destroy (&pack);
    return cell;
}

//  Print rows of cells as aligned columns, numbers to the right. cells
//  holds rows × columns strings, the first row being the headings.
static void
s_table_print (zlistx_t *cells, size_t columns)
{
    size_t widths [S_COLUMNS_MAX] = { 0 };
    bool numeric [S_COLUMNS_MAX];    //  Column holds only numbers: align right
    assert (columns <= S_COLUMNS_MAX);
    for (size_t column = 0; column < columns; column++)
        numeric [column] = true;
    size_t index = 0;
    for (char *cell = (char *) zlistx_first (cells); cell; cell = (char *) zlistx_next (cells)) {
        size_t width = strlen (cell);
        size_t column = index++ % columns;
        if (width > widths [column])
            widths [column] = width;
        if (index > columns && (width == 0 || strspn (cell, "0123456789") != width))
            numeric [column] = false;
    }
    index = 0;
    for (char *cell = (char *) zlistx_first (cells); cell; cell = (char *) zlistx_next (cells)) {
        size_t column = index++ % columns;
        bool last = column == columns - 1;
        if (numeric [column])
            printf ("%*s", (int) widths [column], cell);
        else if (last)
            printf ("%s", cell);
        else
            printf ("%-*s", (int) widths [column], cell);
        fputs (last ? "\n" : "  ", stdout);
    }
}

//  Add one cell per key of `row` (a status map entry) to the table
static void
s_table_row (zlistx_t *cells, const msgpack_object *row, const char *const *keys)
{
    for (; *keys; keys++) {
        const msgpack_object *value = zhive_value_get (row, *keys);
        char *cell;
        if (value && value->type == MSGPACK_OBJECT_ARRAY) {
            //  functions: a comma-separated list reads better than JSON
            zchunk_t *text = zchunk_new (NULL, 64);
            for (size_t item = 0; item < zhive_value_len (value); item++) {
                char *part = s_cell (zhive_value_at (value, item));
                if (item)
                    zchunk_extend (text, ",", 1);
                if (part)
                    zchunk_extend (text, part, strlen (part));
                free (part);
            }
            zchunk_extend (text, "", 1);
            cell = strdup ((char *) zchunk_data (text));
            zchunk_destroy (&text);
        }
        else
            cell = s_cell (value);
        zlistx_add_end (cells, cell ? cell : "?");
        free (cell);
    }
}

//  Print the status map as two tables: workers, then queues. Returns
//  ZHIVE_CLI_OK, or ZHIVE_CLI_INTERNAL if out of memory.
static int
s_status_print (const msgpack_object *status)
{
    static const char *const worker_keys [] = { "id",        "host", "pid",       "concurrency",
                                                "in_flight", "done", "functions", NULL };
    static const char *const worker_heads [] = { "WORKER",    "HOST", "PID",       "CONCURRENCY",
                                                 "IN FLIGHT", "DONE", "FUNCTIONS", NULL };
    static const char *const queue_keys [] = { "function", "waiting", "in_flight", NULL };
    static const char *const queue_heads [] = { "FUNCTION", "WAITING", "IN FLIGHT", NULL };
    const msgpack_object *workers = zhive_value_get (status, "workers");
    const msgpack_object *queues = zhive_value_get (status, "queues");

    zlistx_t *cells = zlistx_new ();
    if (!cells)
        return ZHIVE_CLI_INTERNAL;
    zlistx_set_destructor (cells, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_duplicator (cells, (zlistx_duplicator_fn *) strdup);
    for (const char *const *head = worker_heads; *head; head++)
        zlistx_add_end (cells, (void *) *head);
    for (size_t index = 0; index < zhive_value_len (workers); index++)
        s_table_row (cells, zhive_value_at (workers, index), worker_keys);
    if (zhive_value_len (workers))
        s_table_print (cells, 7);
    else
        printf ("no workers\n");

    zlistx_purge (cells);
    for (const char *const *head = queue_heads; *head; head++)
        zlistx_add_end (cells, (void *) *head);
    for (size_t index = 0; index < zhive_value_len (queues); index++)
        s_table_row (cells, zhive_value_at (queues, index), queue_keys);
    printf ("\n");
    if (zhive_value_len (queues))
        s_table_print (cells, 3);
    else
        printf ("no queues\n");
    zlistx_destroy (&cells);
    return ZHIVE_CLI_OK;
}

//  ---------------------------------------------------------------------
//  Print the status of the session's broker

int
zhive_cli_status_run (zhive_cli_session_t *session)
{
    assert (session);
    const zhive_cli_options_t *options = zhive_cli_session_options (session);
    zhive_cli_output_t *output = zhive_cli_session_output (session);
    int timeout = options->timeout > 0 ? options->timeout : ZHIVE_CLI_CONNECT_MAX_MS;
    //  A pool we just started has no workers yet: give them a moment to join
    zhive_cli_local_t *local = zhive_cli_session_local (session);
    if (local)
        zhive_cli_local_wait_ready (local, options->local, timeout);
    zhive_result_t *result = zhive_client_status (zhive_cli_session_client (session), timeout);
    if (!result || !zhive_result_ok (result)) {
        int rc = result ? zhive_cli_output_error (output, result, 0) : ZHIVE_CLI_INTERNAL;
        zhive_result_destroy (&result);
        return rc;
    }
    const msgpack_object *status = zhive_result_value (result);
    int rc = ZHIVE_CLI_OK;
    if (options->json) {
        size_t size;
        const char *data = zhive_result_data (result, &size);
        rc = zhive_cli_output_value (output, data, size);
    }
    else if (s_status_print (status)) {
        zhive_cli_output_complain (output, "out of memory");
        rc = ZHIVE_CLI_INTERNAL;
    }
    zhive_result_destroy (&result);
    return rc;
}
