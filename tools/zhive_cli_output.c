/*  =========================================================================
    zhive_cli_output - what the zhive tool prints: results and their errors
    =========================================================================
*/
#include <czmq.h>
#include "zhive_cli_output.h"
#include "zhive_cli.h"
#include "zhive_json.h"
#include "zhive_json_writer.h"
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _zhive_cli_output_t {
    zhive_cli_progress_t *progress;    //  The progress bar (owned)
    zhive_json_writer_t *writer;       //  Writes values to stdout as JSON (owned)
    bool stdout_tty;                   //  stdout is a terminal (progress must step aside)
    bool keep_going;                   //  Print task errors in place and go on
    bool failed;                       //  A task failed
    const char *function;              //  Function being run (borrowed)
    const char *endpoint;              //  Broker endpoint (borrowed), or ""
    int timeout;                       //  Task deadline in ms; 0 = none
};

//  ---------------------------------------------------------------------
//  Create the output of a run

zhive_cli_output_t *
zhive_cli_output_new (const char *function, int timeout, bool keep_going, bool quiet)
{
    zhive_cli_output_t *self = (zhive_cli_output_t *) calloc (1, sizeof (zhive_cli_output_t));
    if (!self)
        return NULL;
    self->progress = zhive_cli_progress_new (!quiet && isatty (STDERR_FILENO));
    self->writer = zhive_json_writer_new (stdout);
    if (!self->progress || !self->writer) {
        zhive_cli_output_destroy (&self);
        return NULL;
    }
    self->stdout_tty = isatty (STDOUT_FILENO);
    self->keep_going = keep_going;
    self->function = function;
    self->endpoint = "";
    self->timeout = timeout;
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the output

void
zhive_cli_output_destroy (zhive_cli_output_t **self_p)
{
    assert (self_p);
    zhive_cli_output_t *self = *self_p;
    if (self) {
        zhive_cli_progress_destroy (&self->progress);
        zhive_json_writer_destroy (&self->writer);
        free (self);
        *self_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  Name the broker endpoint for messages

void
zhive_cli_output_set_endpoint (zhive_cli_output_t *self, const char *endpoint)
{
    assert (self);
    self->endpoint = endpoint ? endpoint : "";
}

//  ---------------------------------------------------------------------
//  The progress bar

zhive_cli_progress_t *
zhive_cli_output_progress (zhive_cli_output_t *self)
{
    assert (self);
    return self->progress;
}

//  ---------------------------------------------------------------------
//  Write one JSON value and a newline to stdout

int
zhive_cli_output_json (zhive_cli_output_t *self, json_t *value)
{
    assert (self);
    char *text = value ? json_dumps (value, ZHIVE_JSON_DUMP_FLAGS) : NULL;
    if (!text) {
        zhive_cli_output_complain (self, "out of memory");
        return ZHIVE_CLI_INTERNAL;
    }
    fputs (text, stdout);
    fputc ('\n', stdout);
    free (text);
    return ZHIVE_CLI_OK;
}

//  ---------------------------------------------------------------------
//  Write one msgpack value as JSON and a newline to stdout, from its bytes

int
zhive_cli_output_value (zhive_cli_output_t *self, const char *data, size_t size)
{
    assert (self);
    int rc = data ? zhive_json_writer_put (self->writer, data, size) : -1;
    if (rc == -1) {
        zhive_cli_output_complain (self, "a value is not valid msgpack");
        return ZHIVE_CLI_INTERNAL;
    }
    fputc ('\n', stdout);    //  Ends the line, even a part of one
    if (rc == 0)
        return ZHIVE_CLI_OK;
    if (ferror (stdout)) {
        //  Said as a failed flush says it (nothing for a closed pipe)
        zhive_cli_output_flush (self);
        return ZHIVE_CLI_INTERNAL;
    }
    zhive_cli_output_complain (self, "out of memory");
    return ZHIVE_CLI_INTERNAL;
}

//  True for error types that mean "no answer in time", not "task failed"
static bool
s_error_is_unreachable (const char *type)
{
    return streq (type, ZHIVE_ERR_TIMEOUT) || streq (type, ZHIVE_ERR_NO_BROKER);
}

//  ---------------------------------------------------------------------
//  Report a failed result on stderr; returns the exit status it calls for

int
zhive_cli_output_error (zhive_cli_output_t *self, zhive_result_t *result, size_t line)
{
    assert (self);
    assert (result);
    const char *type = zhive_result_error_type (result);
    const char *message = zhive_result_error_message (result);
    const char *worker = zhive_result_error_worker (result);
    zhive_cli_progress_clear (self->progress);
    if (streq (type, ZHIVE_ERR_TIMEOUT)) {
        //  The broker's message says how long, and whether anyone offers it
        fprintf (stderr, "zhive: timeout: %s: ", self->function);
        if (*message)
            fputs (message, stderr);
        else if (self->timeout > 0)
            fprintf (stderr, "no result within %d ms", self->timeout);
        else
            fputs ("no result in time", stderr);
    }
    else if (streq (type, ZHIVE_ERR_NO_BROKER))
        fprintf (stderr, "zhive: lost the broker at %s: %s", self->endpoint, message);
    else {
        fprintf (stderr, "error: %s: %s", type, message);
        if (*worker)
            fprintf (stderr, " (worker %s)", worker);
    }
    if (line)
        fprintf (stderr, " [line %zu]", line);
    fputc ('\n', stderr);
    return s_error_is_unreachable (type) ? ZHIVE_CLI_UNREACHABLE : ZHIVE_CLI_TASK;
}

//  A failed result as the JSON value {"error":{"type":..,"message":..,
//  "worker":..}} printed in its place with --keep-going. NULL if out of memory.
static json_t *
s_error_json (zhive_result_t *result)
{
    const char *type = zhive_result_error_type (result);
    const char *message = zhive_result_error_message (result);
    const char *worker = zhive_result_error_worker (result);
    json_t *error = json_object ();
    json_t *value = json_object ();
    if (error && value) {
        json_object_set_new (error, "type", zhive_json_string (type, strlen (type)));
        json_object_set_new (error, "message", zhive_json_string (message, strlen (message)));
        json_object_set_new (error, "worker",
                             *worker ? zhive_json_string (worker, strlen (worker)) : json_null ());
        json_object_set (value, "error", error);
    }
    json_decref (error);
    return value;
}

//  ---------------------------------------------------------------------
//  Print one result, or its error; returns ZHIVE_CLI_OK to go on

int
zhive_cli_output_result (zhive_cli_output_t *self, zhive_result_t *result, size_t line)
{
    assert (self);
    if (!result) {
        zhive_cli_output_complain (self, "out of memory");
        return ZHIVE_CLI_INTERNAL;
    }
    if (zhive_result_ok (result)) {
        size_t size;
        const char *data = zhive_result_data (result, &size);
        return zhive_cli_output_value (self, data, size);
    }
    self->failed = true;
    if (!self->keep_going) {
        //  Results before this one go out first, then the error
        int rc = zhive_cli_output_flush (self);
        return rc ? rc : zhive_cli_output_error (self, result, line);
    }
    json_t *value = s_error_json (result);
    int rc = zhive_cli_output_json (self, value);
    json_decref (value);
    return rc;
}

//  ---------------------------------------------------------------------
//  Flush stdout, stepping the progress bar aside on a shared terminal

int
zhive_cli_output_flush (zhive_cli_output_t *self)
{
    assert (self);
    if (self->stdout_tty)
        zhive_cli_progress_clear (self->progress);
    if (fflush (stdout) == 0)
        return ZHIVE_CLI_OK;
    if (errno != EPIPE)
        zhive_cli_output_complain (self, "cannot write the output: %s", strerror (errno));
    return ZHIVE_CLI_INTERNAL;
}

//  ---------------------------------------------------------------------
//  Clear the progress bar and print "zhive: MESSAGE" on stderr

void
zhive_cli_output_complain (zhive_cli_output_t *self, const char *format, ...)
{
    assert (self);
    zhive_cli_progress_clear (self->progress);
    va_list args;
    va_start (args, format);
    zhive_cli_vcomplain (format, args);
    va_end (args);
}

//  ---------------------------------------------------------------------
//  True if a task failed

bool
zhive_cli_output_failed (zhive_cli_output_t *self)
{
    assert (self);
    return self->failed;
}
