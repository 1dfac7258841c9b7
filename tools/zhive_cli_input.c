/*  =========================================================================
    zhive_cli_input - the arguments of the tasks, read before anything is sent
    =========================================================================
*/
#include "zhive_cli_input.h"
#include "zhive_cli.h"
#include "zhive_json.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct _zhive_cli_input_t {
    zhive_pack_t *items;    //  The values, one msgpack value each
    size_t *lines;          //  Input line of each value (lines only)
    size_t count;           //  Values read
    size_t capacity;        //  Room in lines
};

//  ---------------------------------------------------------------------
//  Create an empty input

zhive_cli_input_t *
zhive_cli_input_new (void)
{
    zhive_cli_input_t *self = (zhive_cli_input_t *) calloc (1, sizeof (zhive_cli_input_t));
    if (self) {
        self->items = zhive_pack_new ();
        if (!self->items)
            zhive_cli_input_destroy (&self);
    }
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the input

void
zhive_cli_input_destroy (zhive_cli_input_t **self_p)
{
    assert (self_p);
    zhive_cli_input_t *self = *self_p;
    if (self) {
        zhive_pack_destroy (&self->items);
        free (self->lines);
        free (self);
        *self_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  Read the arguments of `call`: a JSON array, or [] if text is NULL

int
zhive_cli_input_read_args (zhive_cli_input_t *self, const char *text)
{
    assert (self);
    if (!text) {
        if (zhive_pack_array (self->items, 0)) {
            zhive_cli_complain ("out of memory");
            return ZHIVE_CLI_INTERNAL;
        }
        self->count++;
        return ZHIVE_CLI_OK;
    }
    char why [256];
    json_t *value = zhive_json_parse (text, strlen (text), why, sizeof (why));
    int rc = ZHIVE_CLI_OK;
    if (!value)
        rc = zhive_cli_usage_error ("bad JSON arguments: %s", why);
    else if (!json_is_array (value))
        rc = zhive_cli_usage_error ("arguments must be a JSON array, e.g. '[1,\"a\"]'");
    else if (zhive_json_depth (value) > ZHIVE_DEPTH_MAX)
        rc = zhive_cli_usage_error ("arguments are nested %zu levels deep; zhive values hold at "
                                    "most %d",
                                    zhive_json_depth (value), ZHIVE_DEPTH_MAX);
    else if (zhive_json_pack (self->items, value)) {
        zhive_cli_complain ("out of memory");
        rc = ZHIVE_CLI_INTERNAL;
    }
    else
        self->count++;
    json_decref (value);
    return rc;
}

//  True if the line holds only JSON whitespace
static bool
s_blank (const char *text, size_t size)
{
    for (size_t index = 0; index < size; index++)
        if (text [index] != ' ' && text [index] != '\t' && text [index] != '\r' &&
            text [index] != '\n')
            return false;
    return true;
}

//  Note that the value just packed came from input line `number`
static int
s_note_line (zhive_cli_input_t *self, size_t number)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 1024;
        size_t *lines = (size_t *) realloc (self->lines, capacity * sizeof (size_t));
        if (!lines) {
            zhive_cli_complain ("out of memory");
            return ZHIVE_CLI_INTERNAL;
        }
        self->lines = lines;
        self->capacity = capacity;
    }
    self->lines [self->count++] = number;
    return ZHIVE_CLI_OK;
}

//  ---------------------------------------------------------------------
//  Read the items of a map: every non-empty line of stream

int
zhive_cli_input_read_lines (zhive_cli_input_t *self, FILE *stream, bool arrays)
{
    assert (self);
    char *line = NULL;
    size_t line_capacity = 0;
    size_t number = 0;
    ssize_t size;
    int rc = ZHIVE_CLI_OK;
    while (rc == ZHIVE_CLI_OK && (size = getline (&line, &line_capacity, stream)) != -1) {
        number++;
        while (size > 0 && (line [size - 1] == '\n' || line [size - 1] == '\r'))
            line [--size] = 0;    //  One line: errors then need no line of their own
        if (s_blank (line, (size_t) size))
            continue;
        char why [256];
        json_t *value = zhive_json_parse (line, (size_t) size, why, sizeof (why));
        if (!value)
            rc = zhive_cli_usage_error ("line %zu: %s", number, why);
        else if (arrays && !json_is_array (value))
            rc =
                zhive_cli_usage_error ("line %zu: starmap needs a JSON array of arguments", number);
        //  map sends each item as the one argument of an array: a level more
        else if (zhive_json_depth (value) + (arrays ? 0 : 1) > ZHIVE_DEPTH_MAX)
            rc = zhive_cli_usage_error ("line %zu: nested %zu levels deep; zhive values hold at "
                                        "most %d%s",
                                        number, zhive_json_depth (value), ZHIVE_DEPTH_MAX,
                                        arrays ? "" : " with the argument array around each item");
        else if (zhive_json_pack (self->items, value)) {
            zhive_cli_complain ("out of memory");
            rc = ZHIVE_CLI_INTERNAL;
        }
        json_decref (value);
        if (rc == ZHIVE_CLI_OK)
            rc = s_note_line (self, number);
    }
    if (rc == ZHIVE_CLI_OK && ferror (stream)) {
        zhive_cli_complain ("cannot read stdin: %s", strerror (errno));
        rc = ZHIVE_CLI_USAGE;
    }
    free (line);
    return rc;
}

//  ---------------------------------------------------------------------
//  The values read, one msgpack value each

const zhive_pack_t *
zhive_cli_input_items (zhive_cli_input_t *self)
{
    assert (self);
    return self->items;
}

//  ---------------------------------------------------------------------
//  How many values were read

size_t
zhive_cli_input_count (zhive_cli_input_t *self)
{
    assert (self);
    return self->count;
}

//  ---------------------------------------------------------------------
//  The input line of value `index`, or 0

size_t
zhive_cli_input_line (zhive_cli_input_t *self, size_t index)
{
    assert (self);
    return self->lines && index < self->count ? self->lines [index] : 0;
}
