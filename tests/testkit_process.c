/*  =========================================================================
    testkit_process - a program under test, its output and pipes
    =========================================================================
*/
#include "testkit_process.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

//  ---------------------------------------------------------------------
//  A record, nothing started

testkit_process_t *
testkit_process_new (void)
{
    testkit_process_t *self = (testkit_process_t *) calloc (1, sizeof (testkit_process_t));
    if (!self)
        return NULL;
    self->input = -1;
    self->lines = -1;
    return self;
}

//  ---------------------------------------------------------------------
//  Stop what is left, close, remove, free

void
testkit_process_destroy (testkit_process_t **self_p)
{
    testkit_process_t *self = *self_p;
    if (!self)
        return;
    if (self->pid > 0) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, NULL, 0);
    }
    for (size_t i = 0; i < sizeof self->others / sizeof self->others [0]; i++) {
        if (self->others [i] > 0)
            kill (self->others [i], SIGKILL);
    }
    if (self->input >= 0)
        close (self->input);
    if (self->lines >= 0)
        close (self->lines);
    if (*self->output)
        unlink (self->output);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  cmocka setup: a new record in *state

int
testkit_process_setup (void **state)
{
    *state = testkit_process_new ();
    return *state ? 0 : -1;
}

//  ---------------------------------------------------------------------
//  cmocka teardown: stop and free the record in *state

int
testkit_process_teardown (void **state)
{
    testkit_process_t *self = (testkit_process_t *) *state;
    testkit_process_destroy (&self);
    *state = NULL;
    return 0;
}

//  argv [0], the program: zhive-worker if NULL
static void
s_program (testkit_process_t *self, const char **argv)
{
    if (argv [0] == self->program)
        return;    //  The same argv again
    if (argv [0])
        snprintf (self->program, sizeof self->program, "%s", argv [0]);
    else
        testkit_program ("zhive-worker", self->program, sizeof self->program);
    argv [0] = self->program;
}

//  A fresh output file; its descriptor
static int
s_output_file (testkit_process_t *self)
{
    snprintf (self->output, sizeof self->output, "/tmp/testkit-XXXXXX");
    int fd = mkstemp (self->output);
    assert_true (fd >= 0);
    return fd;
}

//  ---------------------------------------------------------------------
//  fork + exec, chosen outputs to the file

void
testkit_process_start (testkit_process_t *self, const char **argv, int streams)
{
    s_program (self, argv);
    int fd = s_output_file (self);
    int null = open ("/dev/null", O_WRONLY);
    assert_true (null >= 0);
    self->pid = fork ();
    assert_true (self->pid >= 0);
    if (self->pid == 0) {
        dup2 (streams & TESTKIT_STDOUT ? fd : null, STDOUT_FILENO);
        dup2 (streams & TESTKIT_STDERR ? fd : null, STDERR_FILENO);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    close (fd);
    close (null);
}

//  ---------------------------------------------------------------------
//  fork + exec with pipes on stdin and stdout

void
testkit_process_start_piped (testkit_process_t *self, const char **argv)
{
    s_program (self, argv);
    int input [2], lines [2];
    assert_int_equal (testkit_pipe (input), 0);
    assert_int_equal (testkit_pipe (lines), 0);
    int fd = s_output_file (self);
    self->pid = fork ();
    assert_true (self->pid >= 0);
    if (self->pid == 0) {
        dup2 (input [0], STDIN_FILENO);
        dup2 (lines [1], STDOUT_FILENO);
        dup2 (fd, STDERR_FILENO);
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    close (input [0]);
    close (lines [1]);
    close (fd);
    self->input = input [1];
    self->lines = lines [0];
    self->buffered = 0;
}

//  ---------------------------------------------------------------------
//  One line from its stdout

int
testkit_process_line (testkit_process_t *self, char *line, size_t size, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        char *newline = (char *) memchr (self->buffer, '\n', self->buffered);
        if (newline) {
            size_t length = (size_t) (newline - self->buffer);
            snprintf (line, size, "%.*s", (int) length, self->buffer);
            self->buffered -= length + 1;
            memmove (self->buffer, newline + 1, self->buffered);
            return 0;
        }
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || self->buffered == sizeof self->buffer)
            return -1;
        struct pollfd item = { self->lines, POLLIN, 0 };
        int rc = poll (&item, 1, (int) left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t got =
            read (self->lines, self->buffer + self->buffered, sizeof self->buffer - self->buffered);
        if (got <= 0)
            return -1;
        self->buffered += (size_t) got;
    }
}

//  ---------------------------------------------------------------------
//  Its end within timeout_ms

int
testkit_process_wait (testkit_process_t *self, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int status;
        pid_t pid = waitpid (self->pid, &status, WNOHANG);
        if (pid == self->pid) {
            self->pid = 0;
            return status;
        }
        if (pid < 0 || zclock_mono () >= deadline)
            return -1;
        zclock_sleep (10);
    }
}

//  ---------------------------------------------------------------------
//  SIGTERM, and it must stop

int
testkit_process_stop (testkit_process_t *self)
{
    if (!self->pid)
        return -1;
    kill (self->pid, SIGTERM);
    int status = testkit_process_wait (self, TESTKIT_TIMEOUT);
    if (status == -1) {
        kill (self->pid, SIGKILL);
        waitpid (self->pid, &status, 0);
        self->pid = 0;
        fail_msg ("the process did not stop on SIGTERM");
    }
    return status;
}

//  ---------------------------------------------------------------------
//  What it printed

char *
testkit_process_output (testkit_process_t *self)
{
    char *text = (char *) calloc (1, 65536);
    assert_non_null (text);
    FILE *file = fopen (self->output, "r");
    if (file) {
        size_t size = fread (text, 1, 65535, file);
        text [size] = 0;
        fclose (file);
    }
    unlink (self->output);
    self->output [0] = 0;
    return text;
}

//  ---------------------------------------------------------------------
//  Run to the end; exit code, output checked

int
testkit_process_run (testkit_process_t *self, const char **argv, int streams, const char *part)
{
    testkit_process_start (self, argv, streams);
    int status = testkit_process_wait (self, TESTKIT_TIMEOUT);
    if (status == -1)
        status = testkit_process_stop (self);
    char *output = testkit_process_output (self);
    if (part && !strstr (output, part)) {
        fprintf (stderr, "output: %s\n", output);
        free (output);
        fail_msg ("the output does not contain '%s'", part);
    }
    free (output);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}
