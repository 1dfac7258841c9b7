/*  =========================================================================
    zhive_procs_zygote - one zygote process and its pipes

    Both pipes are close-on-exec in the broker (the zygote gets them as its
    stdin and stdout) and non-blocking: a spawn line that does not fit, or
    a read with nothing there, never waits.
    =========================================================================
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    //  pipe2
#endif
#include "zhive_procs_zygote.h"
#include "zhive_procs_exec.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  ---------------------------------------------------------------------
//  Not started

void
zhive_procs_zygote_init (zhive_procs_zygote_t *self)
{
    memset (self, 0, sizeof *self);
    self->in = self->out = -1;
}

//  ---------------------------------------------------------------------
//  Start the process with its pipes

int
zhive_procs_zygote_start (zhive_procs_zygote_t *self, char **argv)
{
    size_t count = 0;
    while (argv [count])
        count++;
    //  program --zygote [the worker's arguments]
    char **zygote_argv = (char **) calloc (count + 2, sizeof (char *));
    int to_zygote [2] = { -1, -1 }, from_zygote [2] = { -1, -1 };
    if (!zygote_argv || pipe2 (to_zygote, O_CLOEXEC) || pipe2 (from_zygote, O_CLOEXEC)) {
        int error = zygote_argv ? errno : ENOMEM;
        free (zygote_argv);
        for (int i = 0; i < 2; i++) {
            if (to_zygote [i] >= 0)
                close (to_zygote [i]);
            if (from_zygote [i] >= 0)
                close (from_zygote [i]);
        }
        errno = error;
        return -1;
    }
    zygote_argv [0] = argv [0];
    zygote_argv [1] = (char *) "--zygote";
    for (size_t i = 1; i < count; i++)
        zygote_argv [i + 1] = argv [i];
    //  Its workers inherit the zygote's environment, and so its token
    zhive_token_new (self->token);
    pid_t pid = zhive_procs_exec_spawn (zygote_argv, self->token, to_zygote [0], from_zygote [1]);
    int error = errno;
    free (zygote_argv);
    close (to_zygote [0]);
    close (from_zygote [1]);
    self->in = to_zygote [1];
    self->out = from_zygote [0];
    self->line_size = 0;
    self->line [0] = 0;
    if (pid < 0) {
        zhive_procs_zygote_close (self);
        errno = error;
        return -1;
    }
    fcntl (self->in, F_SETFL, O_NONBLOCK);
    fcntl (self->out, F_SETFL, O_NONBLOCK);
    self->pid = pid;
    return 0;
}

//  ---------------------------------------------------------------------
//  Close its pipes

void
zhive_procs_zygote_close (zhive_procs_zygote_t *self)
{
    if (self->out >= 0) {
        close (self->out);
        self->out = -1;
    }
    if (self->in >= 0) {
        close (self->in);
        self->in = -1;
    }
    self->line_size = 0;
    self->line [0] = 0;
}

//  ---------------------------------------------------------------------
//  Write a spawn line

int
zhive_procs_zygote_spawn (zhive_procs_zygote_t *self, uint64_t *order)
{
    if (self->in < 0 || write (self->in, "spawn\n", 6) != 6)
        return -1;
    *order = self->spawns++;
    return 0;
}

//  A line from the zygote: "pid PID", "error [REASON]", "exit PID STATUS"
static void
s_parse (const char *text, zhive_procs_zygote_line_t *line)
{
    memset (line, 0, sizeof *line);
    snprintf (line->text, sizeof line->text, "%s", text);
    long pid = 0, status = 0;
    char extra;
    if (sscanf (text, "pid %ld %c", &pid, &extra) == 1 && pid > 0 && pid <= INT_MAX) {
        line->kind = ZHIVE_PROCS_ZYGOTE_PID;
        line->pid = pid;
    }
    else if (strncmp (text, "error", 5) == 0 && (text [5] == ' ' || text [5] == 0)) {
        line->kind = ZHIVE_PROCS_ZYGOTE_ERROR;
        line->reason = text [5] ? line->text + 6 : "no reason";
    }
    else if (sscanf (text, "exit %ld %ld %c", &pid, &status, &extra) == 2 && pid > 0 &&
             pid <= INT_MAX) {
        line->kind = ZHIVE_PROCS_ZYGOTE_EXIT;
        line->pid = pid;
        line->status = status;
    }
    else
        line->kind = ZHIVE_PROCS_ZYGOTE_OTHER;
}

//  ---------------------------------------------------------------------
//  Read the next line, without blocking

int
zhive_procs_zygote_read (zhive_procs_zygote_t *self, zhive_procs_zygote_line_t *line,
                         const char **why)
{
    while (self->out >= 0) {
        char *newline = strchr (self->line, '\n');
        if (newline) {
            *newline = 0;
            s_parse (self->line, line);
            size_t rest = self->line_size - (size_t) (newline + 1 - self->line);
            memmove (self->line, newline + 1, rest + 1);
            self->line_size = rest;
            return 1;
        }
        if (self->line_size == sizeof self->line - 1) {
            *why = "wrote a line too long";
            return -1;
        }
        ssize_t size =
            read (self->out, self->line + self->line_size, sizeof self->line - 1 - self->line_size);
        if (size < 0 && errno == EINTR)
            continue;
        if (size < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (size <= 0) {
            *why = size == 0 ? NULL : "cannot be read from";
            return -1;
        }
        self->line_size += (size_t) size;
        self->line [self->line_size] = 0;
    }
    return 0;
}
