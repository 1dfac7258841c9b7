/*  =========================================================================
    zhive_cli_input - the arguments of the tasks: a JSON array, or stdin lines
    =========================================================================
*/
#include <czmq.h>
#include "zhive_cli_input.h"
#include "zhive_cli.h"
#include "zhive_json.h"
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define S_READ_SIZE (64 * 1024)    //  Most bytes one read takes from the fd

struct _zhive_cli_input_t {
    zhive_pack_t *items;             //  call: the argument array
    int fd;                          //  map: where the lines come from (borrowed)
    bool arrays;                     //  map: each line must be an array (starmap)
    char *buffer;                    //  map: bytes read, not yet taken as lines
    size_t start;                    //  Where the next line starts in buffer
    size_t size;                     //  Bytes in buffer
    size_t capacity;                 //  Room in buffer
    size_t number;                   //  Lines taken so far
    zhive_cli_input_next_t ended;    //  END or BAD once the input is over; else ITEM
    char error [512];                //  Why the input was BAD
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
        free (self->buffer);
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
    json_decref (value);
    return rc;
}

//  ---------------------------------------------------------------------
//  The arguments read by zhive_cli_input_read_args

const zhive_pack_t *
zhive_cli_input_items (zhive_cli_input_t *self)
{
    assert (self);
    return self->items;
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

//  ---------------------------------------------------------------------
//  Take the items of a map from the lines of fd

void
zhive_cli_input_open_lines (zhive_cli_input_t *self, int fd, bool arrays)
{
    assert (self);
    self->fd = fd;
    self->arrays = arrays;
    self->ended = ZHIVE_CLI_INPUT_ITEM;
}

//  The input is over, BAD with a reason
static zhive_cli_input_next_t s_bad (zhive_cli_input_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static zhive_cli_input_next_t
s_bad (zhive_cli_input_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof self->error, format, args);
    va_end (args);
    self->ended = ZHIVE_CLI_INPUT_BAD;
    return self->ended;
}

//  Read what the fd holds now, without waiting. Returns ITEM if bytes came
//  (or none are there yet: NONE), END at its end, BAD or NO_MEMORY
static zhive_cli_input_next_t
s_fill (zhive_cli_input_t *self)
{
    struct pollfd item = { .fd = self->fd, .events = POLLIN };
    if (poll (&item, 1, 0) <= 0)
        return ZHIVE_CLI_INPUT_NONE;    //  Nothing yet, or a signal: look again later
    //  Keep only the part not taken yet, then make room for a read
    if (self->start > 0) {
        memmove (self->buffer, self->buffer + self->start, self->size - self->start);
        self->size -= self->start;
        self->start = 0;
    }
    if (self->capacity - self->size < S_READ_SIZE) {
        //  Doubling: a long line costs few copies
        size_t capacity = self->size + S_READ_SIZE;
        if (capacity < 2 * self->capacity)
            capacity = 2 * self->capacity;
        char *buffer = (char *) realloc (self->buffer, capacity);
        if (!buffer)
            return ZHIVE_CLI_INPUT_NO_MEMORY;
        self->buffer = buffer;
        self->capacity = capacity;
    }
    ssize_t got;
    do
        got = read (self->fd, self->buffer + self->size, S_READ_SIZE);
    while (got < 0 && errno == EINTR && !zsys_interrupted);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return ZHIVE_CLI_INPUT_NONE;
    if (got < 0)
        return s_bad (self, "cannot read stdin: %s", strerror (errno));
    if (got == 0)
        return ZHIVE_CLI_INPUT_END;
    self->size += (size_t) got;
    return ZHIVE_CLI_INPUT_ITEM;
}

//  Parse one line (size bytes, no newline) into args. Returns ITEM, NONE
//  for a blank line, BAD or NO_MEMORY
static zhive_cli_input_next_t
s_parse (zhive_cli_input_t *self, char *text, size_t size, zhive_pack_t *args)
{
    while (size > 0 && text [size - 1] == '\r')
        size--;    //  One line: errors then need no line of their own
    if (s_blank (text, size))
        return ZHIVE_CLI_INPUT_NONE;
    char why [256];
    size_t number = self->number;
    json_t *value = zhive_json_parse (text, size, why, sizeof (why));
    zhive_cli_input_next_t next = ZHIVE_CLI_INPUT_ITEM;
    if (!value)
        next = s_bad (self, "line %zu: %s", number, why);
    else if (self->arrays && !json_is_array (value))
        next = s_bad (self, "line %zu: starmap needs a JSON array of arguments", number);
    //  map sends each item as the one argument of an array: a level more
    else if (zhive_json_depth (value) + (self->arrays ? 0 : 1) > ZHIVE_DEPTH_MAX)
        next = s_bad (self, "line %zu: nested %zu levels deep; zhive values hold at most %d%s",
                      number, zhive_json_depth (value), ZHIVE_DEPTH_MAX,
                      self->arrays ? "" : " with the argument array around each item");
    else if ((!self->arrays && zhive_pack_array (args, 1)) || zhive_json_pack (args, value))
        next = ZHIVE_CLI_INPUT_NO_MEMORY;
    json_decref (value);
    return next;
}

//  ---------------------------------------------------------------------
//  The next item of the lines, without waiting

zhive_cli_input_next_t
zhive_cli_input_next (zhive_cli_input_t *self, zhive_pack_t *args, size_t *line)
{
    assert (self);
    assert (args);
    while (self->ended == ZHIVE_CLI_INPUT_ITEM) {
        size_t left = self->size - self->start;
        char *text = left ? self->buffer + self->start : NULL;
        char *newline = left ? (char *) memchr (text, '\n', left) : NULL;
        zhive_cli_input_next_t next = ZHIVE_CLI_INPUT_ITEM;
        if (!newline) {
            next = s_fill (self);
            if (next == ZHIVE_CLI_INPUT_ITEM)
                continue;    //  More bytes: look again
            if (next != ZHIVE_CLI_INPUT_END)
                return next;
            //  At the end, what is left is the last line, without a newline
            self->ended = ZHIVE_CLI_INPUT_END;
            if (self->size == self->start)
                break;
            text = self->buffer + self->start;
            newline = text + (self->size - self->start);
        }
        self->start = (size_t) (newline - self->buffer) + (newline < self->buffer + self->size);
        self->number++;
        zhive_pack_reset (args);
        next = s_parse (self, text, (size_t) (newline - text), args);
        if (next == ZHIVE_CLI_INPUT_ITEM)
            *line = self->number;
        if (next != ZHIVE_CLI_INPUT_NONE)
            return next;    //  An item, or the input went bad
    }
    return self->ended;
}

//  ---------------------------------------------------------------------
//  The file descriptor the lines come from

int
zhive_cli_input_fd (zhive_cli_input_t *self)
{
    assert (self);
    return self->fd;
}

//  ---------------------------------------------------------------------
//  Why the input was BAD

const char *
zhive_cli_input_error (zhive_cli_input_t *self)
{
    assert (self);
    return self->error;
}
