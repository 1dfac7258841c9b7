/*  =========================================================================
    zhive_zygote - the zygote start method of zhive-worker (private)

    One thread, plain POSIX: no czmq call may run here, since czmq and
    libzmq start threads that a fork would not copy. So it writes its own
    lines to stderr rather than through zhive_log (over zsys). Signals arrive on a
    signalfd (they are blocked), so the loop is one poll over stdin and
    that fd, with a timeout to notice a parent that died.
    =========================================================================
*/
#include "zhive_zygote.h"
#include "zhive_clock.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/signalfd.h>
#endif

#define S_LINE_MAX 256     //  Longest command line read
#define S_TICK_MS  1000    //  How often it checks that its parent lives
#define S_STOP_MS  2000    //  Grace between SIGTERM and SIGKILL for its workers
#define S_PREFIX   "zhive-worker zygote: "

#ifdef __linux__

typedef struct {
    pid_t parent;                  //  The parent's pid at start
    int signals;                   //  signalfd of SIGCHLD, SIGTERM, SIGINT, SIGHUP
    sigset_t blocked;              //  Those signals
    pid_t *children;               //  Workers forked and not yet reaped
    size_t children_count;         //  How many
    size_t children_max;           //  Room in children
    char line [S_LINE_MAX + 1];    //  Command being read
    size_t line_size;              //  Its bytes so far
    bool line_too_long;            //  Skipping the rest of an overlong line
    bool stopping;                 //  EOF, a stop signal, or the parent died
} s_zygote_t;

//  Writes a whole line to stdout; a parent that stopped reading is ignored
static void s_say (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static void
s_say (const char *format, ...)
{
    char line [512];
    va_list args;
    va_start (args, format);
    int size = vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (size < 0)
        return;
    if ((size_t) size >= sizeof line)
        size = sizeof line - 1;
    const char *at = line;
    while (size > 0) {
        ssize_t rc = write (STDOUT_FILENO, at, (size_t) size);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return;
        at += rc;
        size -= (int) rc;
    }
}

static void
s_forget (s_zygote_t *self, pid_t pid)
{
    for (size_t i = 0; i < self->children_count; i++) {
        if (self->children [i] == pid) {
            self->children [i] = self->children [--self->children_count];
            return;
        }
    }
}

//  Reaps every child that ended and reports it
static void
s_reap (s_zygote_t *self)
{
    int status;
    pid_t pid;
    while ((pid = waitpid (-1, &status, WNOHANG)) > 0) {
        s_forget (self, pid);
        s_say ("exit %d %d\n", (int) pid, status);
    }
}

//  Reads what the signalfd holds: SIGCHLD reaps, the others stop
static void
s_on_signals (s_zygote_t *self)
{
    struct signalfd_siginfo info;
    bool reap = false;
    while (read (self->signals, &info, sizeof info) == (ssize_t) sizeof info) {
        if (info.ssi_signo == SIGCHLD)
            reap = true;
        else
            self->stopping = true;
    }
    if (reap)
        s_reap (self);
}

//  In a new child: undo what the zygote set up, then become a worker
static void
s_child_setup (s_zygote_t *self, pid_t zygote)
{
    close (self->signals);
    free (self->children);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset (&action.sa_mask);
    const int reset [] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPIPE };
    for (size_t i = 0; i < sizeof reset / sizeof reset [0]; i++)
        sigaction (reset [i], &action, NULL);
    //  A SIGTERM or SIGINT sent before the worker has its handlers waits
    //  for them, instead of killing it half made
    sigset_t stops;
    sigemptyset (&stops);
    sigaddset (&stops, SIGTERM);
    sigaddset (&stops, SIGINT);
    sigprocmask (SIG_SETMASK, &stops, NULL);
    //  The zygote's pipes are its parent's: a worker reads nothing, and
    //  what it prints goes to the log with its stderr
    int null = open ("/dev/null", O_RDONLY);
    if (null >= 0) {
        dup2 (null, STDIN_FILENO);
        if (null != STDIN_FILENO)
            close (null);
    }
    dup2 (STDERR_FILENO, STDOUT_FILENO);
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    if (getppid () != zygote)
        _exit (1);    //  The zygote is gone already
}

//  spawn: fork a worker. Returns true in the child.
static bool
s_spawn (s_zygote_t *self)
{
    if (self->children_count == self->children_max) {
        size_t max = self->children_max ? self->children_max * 2 : 16;
        pid_t *grown = (pid_t *) realloc (self->children, max * sizeof (pid_t));
        if (!grown) {
            s_say ("error cannot fork a worker: out of memory\n");
            return false;
        }
        self->children = grown;
        self->children_max = max;
    }
    pid_t zygote = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        s_child_setup (self, zygote);
        return true;
    }
    if (pid < 0) {
        fprintf (stderr, S_PREFIX "cannot fork a worker: %s\n", strerror (errno));
        s_say ("error cannot fork a worker: %s\n", strerror (errno));
        return false;
    }
    self->children [self->children_count++] = pid;
    s_say ("pid %d\n", (int) pid);
    return false;
}

//  Runs one command line. Returns true in a forked child.
static bool
s_command (s_zygote_t *self, const char *line)
{
    if (strcmp (line, "spawn") == 0)
        return s_spawn (self);
    if (*line)
        fprintf (stderr, S_PREFIX "unknown command '%s' (ignored)\n", line);
    return false;
}

//  Reads stdin; splits it into lines. Returns true in a forked child.
static bool
s_on_input (s_zygote_t *self)
{
    char data [4096];
    ssize_t size = read (STDIN_FILENO, data, sizeof data);
    if (size < 0 && (errno == EINTR || errno == EAGAIN))
        return false;
    if (size <= 0) {
        self->stopping = true;    //  End of input: the parent is done with us
        return false;
    }
    for (ssize_t i = 0; i < size; i++) {
        if (data [i] == '\n') {
            bool too_long = self->line_too_long;
            self->line [self->line_size] = 0;
            self->line_size = 0;
            self->line_too_long = false;
            if (too_long)
                fprintf (stderr, S_PREFIX "dropped a command longer than %d bytes\n", S_LINE_MAX);
            else if (s_command (self, self->line))
                return true;
        }
        else if (self->line_size < S_LINE_MAX)
            self->line [self->line_size++] = data [i];
        else
            self->line_too_long = true;
    }
    return false;
}

//  Stops the workers: SIGTERM (they drain), SIGKILL after the grace
static void
s_stop_children (s_zygote_t *self)
{
    for (size_t i = 0; i < self->children_count; i++)
        kill (self->children [i], SIGTERM);
    int64_t deadline = zhive_clock_ms () + S_STOP_MS;
    while (self->children_count) {
        int64_t left = deadline - zhive_clock_ms ();
        if (left <= 0)
            break;
        struct pollfd item = { self->signals, POLLIN, 0 };
        if (poll (&item, 1, (int) left) > 0)
            s_on_signals (self);
    }
    for (size_t i = 0; i < self->children_count; i++) {
        fprintf (stderr, S_PREFIX "worker pid %d did not stop on SIGTERM; killing it\n",
                 (int) self->children [i]);
        kill (self->children [i], SIGKILL);
    }
    while (self->children_count) {
        int status;
        pid_t pid = waitpid (self->children [0], &status, 0);
        if (pid < 0 && errno == EINTR)
            continue;
        s_forget (self, self->children [0]);
        if (pid > 0)
            s_say ("exit %d %d\n", (int) pid, status);
    }
}

int
zhive_zygote_run (bool *child)
{
    *child = false;
    s_zygote_t zygote;
    s_zygote_t *self = &zygote;
    memset (self, 0, sizeof *self);
    self->parent = getppid ();
    //  A parent gone before this line is seen by the first tick
    prctl (PR_SET_PDEATHSIG, SIGTERM);

    //  A parent that stops reading makes writes fail, not kill us
    struct sigaction ignore;
    memset (&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset (&ignore.sa_mask);
    sigaction (SIGPIPE, &ignore, NULL);
    sigemptyset (&self->blocked);
    sigaddset (&self->blocked, SIGCHLD);
    sigaddset (&self->blocked, SIGTERM);
    sigaddset (&self->blocked, SIGINT);
    sigaddset (&self->blocked, SIGHUP);
    sigprocmask (SIG_BLOCK, &self->blocked, NULL);
    self->signals = signalfd (-1, &self->blocked, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self->signals < 0) {
        fprintf (stderr, S_PREFIX "cannot watch signals: %s\n", strerror (errno));
        return 1;
    }
    while (!self->stopping) {
        struct pollfd items [2] = { { STDIN_FILENO, POLLIN, 0 }, { self->signals, POLLIN, 0 } };
        int rc = poll (items, 2, S_TICK_MS);
        if (rc < 0 && errno != EINTR) {
            fprintf (stderr, S_PREFIX "cannot poll: %s\n", strerror (errno));
            break;
        }
        if (rc > 0 && items [1].revents)
            s_on_signals (self);
        if (rc > 0 && items [0].revents && !self->stopping && s_on_input (self)) {
            *child = true;
            return 0;
        }
        if (getppid () != self->parent)
            self->stopping = true;    //  The parent died: no one will ask for workers
    }
    s_stop_children (self);
    close (self->signals);
    free (self->children);
    return 0;
}

#else

int
zhive_zygote_run (bool *child)
{
    *child = false;
    fprintf (stderr, S_PREFIX "needs Linux (prctl, signalfd)\n");
    return 1;
}

#endif
