/*  =========================================================================
    zhive_broker_procs - local worker processes: exec and zygote

    Each START-WORKERS makes a group of local workers that share one
    command line. They start one of two ways:

    - exec: fork + exec of zhive-worker for each; the broker reaps them with
      waitpid (WNOHANG) from its periodic timer.
    - zygote: one `zhive-worker --zygote ...` process per group loads the
      plugins once; the broker writes "spawn\n" to its stdin for each worker
      and reads "pid PID\n" and "exit PID STATUS\n" (a raw wait status) from
      its stdout with a zloop poller. The workers are the zygote's children,
      so their exits come as lines, not from waitpid. If the zygote dies,
      its workers are killed and the group goes on with exec.

    A worker that exits is started again; one that keeps dying soon after
    it starts is restarted with a growing delay. An exit 0 after it reached
    its task limit (--max-tasks) is its normal end, not a failure.
    =========================================================================
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    //  pipe2
#endif
#include "zhive_broker_private.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

//  The program local workers run; caller owns the result
static char *
s_worker_program (zb_server_t *self)
{
    if (self->worker_program)
        return strdup (self->worker_program);
    const char *env = getenv ("ZHIVE_WORKER");
    if (env && *env)
        return strdup (env);
    char path [PATH_MAX + 32];
    ssize_t size = readlink ("/proc/self/exe", path, PATH_MAX);
    if (size > 0) {
        path [size] = 0;
        char *slash = strrchr (path, '/');
        if (slash) {
            strcpy (slash + 1, "zhive-worker");
            if (access (path, X_OK) == 0)
                return strdup (path);
        }
    }
#ifdef ZHIVE_INSTALL_BINDIR
    if (access (ZHIVE_INSTALL_BINDIR "/zhive-worker", X_OK) == 0)
        return strdup (ZHIVE_INSTALL_BINDIR "/zhive-worker");
#endif
    return strdup ("zhive-worker");
}

//  In the child, between fork and exec: only async-signal-safe calls.
//  stdin_fd / stdout_fd, if not -1, become its stdin / stdout.
static void
s_child_exec (char **argv, pid_t parent, int stdin_fd, int stdout_fd)
{
    setpgid (0, 0);    //  The broker, not the terminal, decides when workers stop
#ifdef __linux__
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    if (getppid () != parent)
        _exit (1);
#else
    (void) parent;
#endif
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction (sig, &action, NULL);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    if ((stdin_fd >= 0 && dup2 (stdin_fd, 0) < 0) || (stdout_fd >= 0 && dup2 (stdout_fd, 1) < 0))
        _exit (127);
#ifdef SYS_close_range
    if (syscall (SYS_close_range, 3, ~0U, 0))
#endif
    {
        for (int fd = 3; fd < 65536; fd++)
            close (fd);
    }
    if (strchr (argv [0], '/'))
        execv (argv [0], argv);
    else
        execvp (argv [0], argv);
    static const char prefix [] = "zhive-broker: cannot run ";
    ssize_t rc = write (2, prefix, sizeof prefix - 1);
    rc = write (2, argv [0], strlen (argv [0]));
    rc = write (2, "\n", 1);
    (void) rc;
    _exit (127);
}

//  Fork and exec; returns the pid or -1
static pid_t
s_spawn (char **argv, int stdin_fd, int stdout_fd)
{
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0)
        s_child_exec (argv, parent, stdin_fd, stdout_fd);
    return pid;
}

//  The local worker with this pid, and its group
static zb_child_t *
s_child_find (zb_server_t *self, pid_t pid, zb_group_t **group_p)
{
    for (size_t g = 0; pid > 0 && g < self->groups_count; g++) {
        zb_group_t *group = self->groups [g];
        for (size_t i = 0; i < group->children_count; i++) {
            if (group->children [i].pid == pid) {
                if (group_p)
                    *group_p = group;
                return &group->children [i];
            }
        }
    }
    return NULL;
}

zb_child_t *
zb_procs_child (zb_server_t *self, uint64_t pid)
{
    return pid <= INT_MAX ? s_child_find (self, (pid_t) pid, NULL) : NULL;
}

//  One more failure in a row: how long to wait before the next start
static int64_t
s_backoff (zb_child_t *child)
{
    child->quick_exits++;
    int64_t delay = ZB_BACKOFF_MS;
    for (int i = 1; i < child->quick_exits && delay < ZB_BACKOFF_MAX; i++)
        delay *= 2;
    return delay < ZB_BACKOFF_MAX ? delay : ZB_BACKOFF_MAX;
}

//  How a process ended, from its wait status
static void
s_describe_exit (int status, char *how, size_t size)
{
    if (WIFSIGNALED (status))
        snprintf (how, size, "was killed by signal %d", WTERMSIG (status));
    else
        snprintf (how, size, "exited with code %d", WEXITSTATUS (status));
}

static void
s_child_exited (zb_server_t *self, zb_child_t *child, int status)
{
    int64_t now = zclock_mono ();
    int64_t uptime = now - child->requested;
    char how [64] = "exited";
    if (status >= 0)
        s_describe_exit (status, how, sizeof how);
    char why [96];
    snprintf (why, sizeof why, "local worker process %s", how);
    //  Marks the child retired if the worker had reached its task limit
    zb_workers_remove_matching (self, NULL, NULL, NULL, (uint64_t) child->pid, why);

    int64_t delay = 0;
    if (child->retired && status >= 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0) {
        child->quick_exits = 0;
        zb_log (self, "local worker pid %d finished its tasks; starting another", (int) child->pid);
    }
    else if (child->killed) {
        child->quick_exits = 0;
        zb_warn ("local worker pid %d %s (the broker killed it); starting another",
                 (int) child->pid, how);
    }
    else if (uptime < ZB_QUICK_EXIT && !child->was_ready) {
        //  It never got as far as READY: a broken plugin or program
        delay = s_backoff (child);
        zb_warn ("local worker pid %d %s %" PRId64 " ms after it started (%d time(s) in a row);"
                 " restarting it in %" PRId64 " ms",
                 (int) child->pid, how, uptime, child->quick_exits, delay);
    }
    else {
        child->quick_exits = 0;
        zb_warn ("local worker pid %d %s; restarting it", (int) child->pid, how);
    }
    child->pid = 0;
    child->by_zygote = false;
    child->retired = false;
    child->killed = false;
    child->was_ready = false;
    child->restart_at = now + delay;
}

//  ---------------------------------------------------------------------
//  The zygote

static int s_on_zygote (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void
s_zygote_close (zb_group_t *group)
{
    if (group->zygote_out >= 0) {
        if (group->server->loop) {
            zmq_pollitem_t item = { NULL, group->zygote_out, ZMQ_POLLIN, 0 };
            zloop_poller_end (group->server->loop, &item);
        }
        close (group->zygote_out);
        group->zygote_out = -1;
    }
    if (group->zygote_in >= 0) {
        close (group->zygote_in);
        group->zygote_in = -1;
    }
    group->line_size = 0;
}

//  Start the group's zygote; -1 if it cannot be started
static int
s_zygote_start (zb_server_t *self, zb_group_t *group)
{
    size_t count = 0;
    while (group->argv [count])
        count++;
    //  program --zygote [the worker's arguments]
    char **argv = (char **) calloc (count + 2, sizeof (char *));
    int to_zygote [2] = { -1, -1 }, from_zygote [2] = { -1, -1 };
    if (!argv || pipe2 (to_zygote, O_CLOEXEC) || pipe2 (from_zygote, O_CLOEXEC)) {
        zb_warn ("cannot start the zygote: %s", strerror (errno));
        free (argv);
        for (int i = 0; i < 2; i++) {
            if (to_zygote [i] >= 0)
                close (to_zygote [i]);
            if (from_zygote [i] >= 0)
                close (from_zygote [i]);
        }
        return -1;
    }
    argv [0] = group->argv [0];
    argv [1] = (char *) "--zygote";
    for (size_t i = 1; i < count; i++)
        argv [i + 1] = group->argv [i];
    pid_t pid = s_spawn (argv, to_zygote [0], from_zygote [1]);
    free (argv);
    close (to_zygote [0]);
    close (from_zygote [1]);
    group->zygote_in = to_zygote [1];
    group->zygote_out = from_zygote [0];
    fcntl (group->zygote_in, F_SETFL, O_NONBLOCK);
    fcntl (group->zygote_out, F_SETFL, O_NONBLOCK);
    zmq_pollitem_t item = { NULL, group->zygote_out, ZMQ_POLLIN, 0 };
    if (pid < 0 || zloop_poller (self->loop, &item, s_on_zygote, group)) {
        zb_warn ("cannot start the zygote: %s", strerror (errno));
        s_zygote_close (group);
        if (pid > 0) {
            kill (pid, SIGKILL);
            waitpid (pid, NULL, 0);
        }
        return -1;
    }
    group->zygote_pid = pid;
    zb_log (self, "started the zygote, pid %d: %s --zygote", (int) pid, group->argv [0]);
    return 0;
}

//  The zygote died or misbehaved: kill the workers it forked (nobody would
//  see them exit) and go on with exec. why: what happened; NULL if its
//  stdout ended (then its exit status says how). reaped: its exit status
//  was collected already.
static void
s_zygote_lost (zb_server_t *self, zb_group_t *group, const char *why, bool reaped)
{
    s_zygote_close (group);
    if (group->zygote_pid > 0) {
        char how [64] = "closed its stdout";
        if (!reaped) {
            //  It is likely ending: give it a moment, then make sure
            int status = 0;
            pid_t rc = 0;
            for (int i = 0; i < 20 && rc == 0; i++) {
                rc = waitpid (group->zygote_pid, &status, WNOHANG);
                if (rc == 0)
                    zclock_sleep (5);
            }
            if (rc == group->zygote_pid)
                s_describe_exit (status, how, sizeof how);
            else {
                kill (group->zygote_pid, SIGKILL);
                waitpid (group->zygote_pid, NULL, 0);
            }
        }
        zb_warn ("the zygote (pid %d) %s; local workers start with exec from now on",
                 (int) group->zygote_pid, why ? why : how);
    }
    group->zygote_pid = 0;
    group->zygote_wanted = false;
    for (size_t i = 0; i < group->children_count; i++) {
        zb_child_t *child = &group->children [i];
        if (!child->by_zygote)
            continue;
        if (child->pid > 0) {
            kill (child->pid, SIGKILL);
            waitpid (child->pid, NULL, WNOHANG);    //  Ours only if it was reparented to us
            zb_workers_remove_matching (self, NULL, NULL, NULL, (uint64_t) child->pid,
                                        "the zygote that forked it died");
        }
        child->pid = 0;
        child->by_zygote = false;
        child->restart_at = zclock_mono ();
    }
}

//  One line from the zygote: "pid PID" or "exit PID STATUS"
static void
s_zygote_line (zb_server_t *self, zb_group_t *group, const char *line)
{
    long pid = 0, status = 0;
    char extra;
    if (sscanf (line, "pid %ld %c", &pid, &extra) == 1 && pid > 0 && pid <= INT_MAX) {
        zb_child_t *first = NULL;
        for (size_t i = 0; i < group->children_count; i++) {
            zb_child_t *child = &group->children [i];
            if (child->pid == -1 && (!first || child->spawn_order < first->spawn_order))
                first = child;
        }
        if (first) {
            first->pid = (pid_t) pid;
            zb_log (self, "started local worker pid %ld through the zygote", pid);
            //  Its READY may have come first
            for (zb_worker_t *worker = (zb_worker_t *) zhashx_first (self->workers); worker;
                 worker = (zb_worker_t *) zhashx_next (self->workers)) {
                if (worker->pid == (uint64_t) pid)
                    zb_procs_ready (self, worker);
            }
        }
        else
            zb_log (self, "the zygote reported pid %ld, which nobody asked for", pid);
    }
    else if (strncmp (line, "error", 5) == 0 && (line [5] == ' ' || line [5] == 0)) {
        //  The oldest spawn failed: a quick exit, with its backoff
        zb_child_t *first = NULL;
        for (size_t i = 0; i < group->children_count; i++) {
            zb_child_t *child = &group->children [i];
            if (child->pid == -1 && (!first || child->spawn_order < first->spawn_order))
                first = child;
        }
        zb_warn ("the zygote could not start a worker: %s", line [5] ? line + 6 : "no reason");
        if (first) {
            first->pid = 0;
            first->by_zygote = false;
            first->restart_at = zclock_mono () + s_backoff (first);
        }
    }
    else if (sscanf (line, "exit %ld %ld %c", &pid, &status, &extra) == 2 && pid > 0 &&
             pid <= INT_MAX) {
        zb_group_t *owner = NULL;
        zb_child_t *child = s_child_find (self, (pid_t) pid, &owner);
        if (child && owner == group && child->by_zygote)
            s_child_exited (self, child, (int) status);
    }
    else
        zb_log (self, "ignored a line from the zygote: '%s'", line);
}

static int
s_on_zygote (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    zb_group_t *group = (zb_group_t *) arg;
    zb_server_t *self = group->server;
    while (group->zygote_out >= 0) {
        ssize_t size = read (group->zygote_out, group->line + group->line_size,
                             sizeof group->line - 1 - group->line_size);
        if (size < 0 && errno == EINTR)
            continue;
        if (size < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (size <= 0) {
            s_zygote_lost (self, group, size == 0 ? NULL : "cannot be read from", false);
            break;
        }
        group->line_size += (size_t) size;
        group->line [group->line_size] = 0;
        char *newline;
        while ((newline = strchr (group->line, '\n'))) {
            *newline = 0;
            s_zygote_line (self, group, group->line);
            size_t rest = group->line_size - (size_t) (newline + 1 - group->line);
            memmove (group->line, newline + 1, rest + 1);
            group->line_size = rest;
        }
        if (group->line_size == sizeof group->line - 1) {
            s_zygote_lost (self, group, "wrote a line too long", false);
            break;
        }
    }
    zb_settle (self);
    return 0;
}

//  ---------------------------------------------------------------------
//  Starting, reaping and stopping

static void
s_child_start (zb_server_t *self, zb_group_t *group, zb_child_t *child)
{
    child->requested = zclock_mono ();
    child->retired = false;
    child->killed = false;
    child->was_ready = false;
    if (group->zygote_wanted && group->zygote_pid == 0 && s_zygote_start (self, group))
        group->zygote_wanted = false;
    if (group->zygote_pid > 0) {
        ssize_t rc = write (group->zygote_in, "spawn\n", 6);
        if (rc == 6) {
            child->pid = -1;
            child->by_zygote = true;
            child->spawn_order = group->spawns++;
            return;
        }
        s_zygote_lost (self, group, "does not take spawn requests", false);
    }
    pid_t pid = s_spawn (group->argv, -1, -1);
    if (pid < 0) {
        zb_warn ("cannot start a local worker: %s; trying again in %d ms", strerror (errno),
                 ZB_BACKOFF_MAX);
        child->restart_at = child->requested + ZB_BACKOFF_MAX;
        return;
    }
    child->pid = pid;
    child->by_zygote = false;
    zb_log (self, "started local worker pid %d: %s", (int) pid, group->argv [0]);
}

void
zb_procs_ready (zb_server_t *self, const zb_worker_t *worker)
{
    zb_child_t *child =
        zb_host_is_local (self, worker->host) ? zb_procs_child (self, worker->pid) : NULL;
    if (child)
        child->was_ready = true;
    if (child && child->requested) {
        zb_log (self, "local worker pid %d is ready %" PRId64 " ms after its start (%s)",
                (int) child->pid, worker->joined - child->requested,
                child->by_zygote ? "zygote" : "exec");
    }
}

int
zb_procs_kill (zb_server_t *self, uint64_t pid, const char *why)
{
    zb_child_t *child = zb_procs_child (self, pid);
    if (!child)
        return -1;
    if (!child->killed) {
        zb_warn ("killing local worker pid %d: %s", (int) child->pid, why);
        kill (child->pid, SIGKILL);
        child->killed = true;
    }
    return 0;
}

void
zb_procs_check (zb_server_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t g = 0; g < self->groups_count; g++) {
        zb_group_t *group = self->groups [g];
        //  Its end usually shows first as the end of its stdout
        int status;
        if (group->zygote_pid > 0 &&
            waitpid (group->zygote_pid, &status, WNOHANG) == group->zygote_pid) {
            char how [64];
            s_describe_exit (status, how, sizeof how);
            s_zygote_lost (self, group, how, true);
        }
        for (size_t i = 0; i < group->children_count; i++) {
            zb_child_t *child = &group->children [i];
            if (child->pid > 0 && !child->by_zygote) {
                int status = 0;
                pid_t rc = waitpid (child->pid, &status, WNOHANG);
                if (rc == child->pid)
                    s_child_exited (self, child, status);
                else if (rc < 0 && errno == ECHILD) {
                    s_child_exited (self, child, -1);    //  Reaped by someone else
                }
            }
            if (child->pid == -1 && now - child->requested > ZB_SPAWN_MS)
                s_zygote_lost (self, group, "did not report a new worker in time", false);
            if (child->pid == 0 && now >= child->restart_at)
                s_child_start (self, group, child);
        }
    }
}

static void
s_argv_destroy (char ***argv_p)
{
    if (*argv_p) {
        for (char **arg = *argv_p; *arg; arg++)
            free (*arg);
        free (*argv_p);
        *argv_p = NULL;
    }
}

static void
s_group_destroy (zb_group_t **group_p)
{
    zb_group_t *group = *group_p;
    s_zygote_close (group);
    s_argv_destroy (&group->argv);
    free (group->children);
    free (group);
    *group_p = NULL;
}

//  One look at a process of ours that was asked to stop: 1 while it runs,
//  0 once it has ended (reaped), -1 if it ran past `until` and was killed.
//  *pid_p becomes 0 when it is gone.
static int
s_stopping (pid_t *pid_p, int64_t until, const char *what)
{
    pid_t rc = waitpid (*pid_p, NULL, WNOHANG);
    if (rc == *pid_p || (rc < 0 && errno == ECHILD)) {
        *pid_p = 0;
        return 0;
    }
    if (zclock_mono () < until)
        return 1;
    zb_warn ("%s (pid %d) did not stop; killing it", what, (int) *pid_p);
    kill (*pid_p, SIGKILL);
    waitpid (*pid_p, NULL, 0);
    *pid_p = 0;
    return -1;
}

void
zb_procs_stop (zb_server_t *self)
{
    //  Every task is answered by now: workers stop at once (SIGINT; SIGTERM
    //  would let them finish what they hold). A zygote gets EOF and reaps
    //  its own.
    for (size_t g = 0; g < self->groups_count; g++) {
        zb_group_t *group = self->groups [g];
        for (size_t i = 0; i < group->children_count; i++) {
            if (group->children [i].pid > 0)
                kill (group->children [i].pid, SIGINT);
        }
        s_zygote_close (group);
    }
    int64_t until = zclock_mono () + ZB_STOP_MS;
    int64_t zygote_until = until + 1000;    //  It waits ZB_STOP_MS for its workers itself
    bool alive = true;
    while (alive) {
        alive = false;
        for (size_t g = 0; g < self->groups_count; g++) {
            zb_group_t *group = self->groups [g];
            for (size_t i = 0; i < group->children_count; i++) {
                zb_child_t *child = &group->children [i];
                if (child->pid > 0 && !child->by_zygote)
                    alive |= s_stopping (&child->pid, until, "a local worker") == 1;
            }
            if (group->zygote_pid <= 0)
                continue;
            int rc = s_stopping (&group->zygote_pid, zygote_until, "the zygote");
            alive |= rc == 1;
            for (size_t i = 0; rc == -1 && i < group->children_count; i++) {
                if (group->children [i].pid > 0)
                    kill (group->children [i].pid, SIGKILL);    //  Nobody reaps them now
            }
        }
        if (alive)
            zclock_sleep (10);
    }
    for (size_t g = 0; g < self->groups_count; g++)
        s_group_destroy (&self->groups [g]);
    free (self->groups);
    self->groups = NULL;
    self->groups_count = 0;
}

//  The worker endpoint as local workers connect to it: a wildcard address
//  is not one to connect to, so use the loopback
static void
s_connect_endpoint (zb_server_t *self, char *endpoint, size_t size)
{
    const char *bound = self->worker_endpoint;
    const char *port = NULL;
    if (strncmp (bound, "tcp://0.0.0.0:", 14) == 0)
        port = bound + 14;
    else if (strncmp (bound, "tcp://*:", 8) == 0)
        port = bound + 8;
    if (port)
        snprintf (endpoint, size, "tcp://127.0.0.1:%s", port);
    else if (strncmp (bound, "tcp://[::]:", 11) == 0)
        snprintf (endpoint, size, "tcp://[::1]:%s", bound + 11);
    else
        snprintf (endpoint, size, "%s", bound);
}

int
zb_procs_start (zb_server_t *self, zmsg_t *msg, char *error, size_t error_size)
{
    char *count_str = zmsg_popstr (msg);
    char *concurrency_str = zmsg_popstr (msg);
    int count = count_str ? atoi (count_str) : 0;
    int concurrency = concurrency_str ? atoi (concurrency_str) : 0;
    free (count_str);
    free (concurrency_str);
    if (!self->worker_endpoint) {
        snprintf (error, error_size, "bind the worker endpoint before starting local workers");
        return -1;
    }
    if (count <= 0)
        return 0;
    char endpoint [512];
    s_connect_endpoint (self, endpoint, sizeof endpoint);
    zb_group_t **groups =
        (zb_group_t **) realloc (self->groups, (self->groups_count + 1) * sizeof (zb_group_t *));
    if (groups)
        self->groups = groups;
    zb_group_t *group = groups ? (zb_group_t *) calloc (1, sizeof (zb_group_t)) : NULL;
    //  program --connect E [--load L]... [--concurrency N] --heartbeat MS
    //  --liveness N [--max-tasks N] [--curve-secret F --broker-key F] NULL
    size_t loads = zmsg_size (msg);
    char **argv = group ? (char **) calloc (2 * loads + 16, sizeof (char *)) : NULL;
    zb_child_t *children =
        argv ? (zb_child_t *) calloc ((size_t) count, sizeof (zb_child_t)) : NULL;
    bool ok = children != NULL;
    size_t arg = 0;
    if (ok) {
        argv [arg++] = s_worker_program (self);
        argv [arg++] = strdup ("--connect");
        argv [arg++] = strdup (endpoint);
        for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
            argv [arg++] = strdup ("--load");
            argv [arg++] = zframe_strdup (frame);
        }
        if (concurrency > 0) {
            argv [arg++] = strdup ("--concurrency");
            argv [arg++] = zsys_sprintf ("%d", concurrency);
        }
        argv [arg++] = strdup ("--heartbeat");
        argv [arg++] = zsys_sprintf ("%d", self->heartbeat_ms);
        argv [arg++] = strdup ("--liveness");
        argv [arg++] = zsys_sprintf ("%d", self->liveness);
        if (self->worker_max_tasks) {
            argv [arg++] = strdup ("--max-tasks");
            argv [arg++] = zsys_sprintf ("%" PRIu64, self->worker_max_tasks);
        }
        if (self->curve_cert) {
            //  The broker's own certificate, whose key it always allows;
            //  its secret file holds the public key too
            argv [arg++] = strdup ("--curve-secret");
            argv [arg++] = strdup (self->curve_secret_path);
            argv [arg++] = strdup ("--broker-key");
            argv [arg++] = strdup (self->curve_secret_path);
        }
        for (size_t at = 0; at < arg; at++)
            ok = ok && argv [at];
    }
    if (!ok) {
        if (argv) {
            for (size_t at = 0; at < arg; at++)
                free (argv [at]);
        }
        free (argv);
        free (children);
        free (group);
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    group->server = self;
    group->argv = argv;
    group->children = children;
    group->children_count = (size_t) count;
    group->zygote_wanted = self->use_zygote;
    group->zygote_in = group->zygote_out = -1;
    self->groups [self->groups_count++] = group;
    for (size_t i = 0; i < group->children_count; i++)
        s_child_start (self, group, &group->children [i]);
    return 0;
}
