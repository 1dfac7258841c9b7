/*  =========================================================================
    zhive_procs - local worker processes: exec and zygote

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

    Nothing here blocks: exits are found by waitpid (WNOHANG) from the
    broker's tick and by the zygote's lines, processes that must end are
    reaped the same way (SIGKILL past their time), and each exit of a
    worker becomes an event the broker takes with zhive_procs_next_exit.
    This class knows nothing of the pool: the broker connects the two.
    Under it, one way: zhive_procs_zygote (a zygote's process, pipes and
    lines) and zhive_procs_exec (fork + exec, wait statuses).
    =========================================================================
*/
#include "zhive_procs.h"
#include "zhive_procs_exec.h"
#include "zhive_procs_zygote.h"
#include "zhive_clock.h"
#include "zhive_log.h"
#include "zhive_token.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_QUICK_EXIT  1000     //  A local worker that dies sooner than this is failing
#define S_BACKOFF_MS  500      //  First wait before restarting a failing worker
#define S_BACKOFF_MAX 30000    //  Longest wait before restarting a failing worker
#define S_SPAWN_MS    10000    //  Longest wait for the zygote to report a new worker's pid
#define S_REAP_MS     100      //  Time a dying zygote gets before SIGKILL
#define S_EXITS_MAX   4096     //  Exit events held for the broker
#define S_EARLY_MAX   64       //  READYs remembered before the zygote named their pid

//  Debug lines only in verbose mode
#define S_LOG(self, ...) zhive_log_verbose ((self)->verbose, __VA_ARGS__)

//  A local worker process
typedef struct {
    pid_t pid;            //  Process id; 0 while waiting to (re)start, -1 while the zygote forks it
    bool by_zygote;       //  Forked by the zygote: not our child, its exit comes as a line
    int64_t requested;    //  When its start was asked for (ms)
    int64_t restart_at;               //  When to start it again, while pid is 0
    uint64_t spawn_order;             //  While the zygote forks it: the order of its spawn line
    int quick_exits;                  //  Exits soon after start, in a row: the backoff
    bool was_ready;                   //  It sent READY: it started fine, whatever ended it
    bool killed;                      //  The broker killed it (it overran a deadline)
    char token [ZHIVE_TOKEN_SIZE];    //  The secret it got at its start and shows in READY
} s_child_t;

typedef struct _s_group_t s_group_t;

//  Local workers started by one start: the same arguments for all
struct _s_group_t {
    zhive_procs_t *server;          //  The supervisor it belongs to
    char **argv;                    //  zhive-worker and its arguments, NULL-terminated
    s_child_t *children;            //  The worker processes
    size_t children_count;          //  Entries in children
    bool zygote_wanted;             //  Started with the zygote method (until the zygote fails)
    zhive_procs_zygote_t zygote;    //  Its zygote, while it has one
};

//  A process of ours that must end, to be reaped without waiting
typedef struct {
    pid_t pid;          //  Its process id
    int64_t kill_at;    //  When it gets SIGKILL if still there (ms)
    bool killed;        //  SIGKILL sent
    char what [24];     //  What it is, for the log
} s_reap_t;

struct _zhive_procs_t {
    zloop_t *loop;                   //  The broker's loop, for the zygotes' pipes
    bool verbose;                    //  Log debug lines
    s_group_t **groups;              //  Local worker groups
    size_t groups_count;             //  Entries in groups
    s_reap_t *reaps;                 //  Processes to reap
    size_t reaps_count;              //  Entries in reaps
    zhive_procs_exit_t *exits;       //  Exits of workers not yet taken, oldest first
    size_t exits_count;              //  Entries in exits
    uint64_t early [S_EARLY_MAX];    //  Pids that sent READY before the zygote named them
    size_t early_next;               //  Next slot in early (a ring)
    bool stopping;                   //  zhive_procs_stop was called
    int64_t stop_until;              //  When what is left gets SIGKILL
};

//  A worker process ended: an event for the broker (bounded: the oldest
//  events are not dropped, new ones are when the table is full)
static void
s_exit_event (zhive_procs_t *self, pid_t pid, const char *why)
{
    if (self->stopping || self->exits_count >= S_EXITS_MAX)
        return;
    zhive_procs_exit_t *exits = (zhive_procs_exit_t *) realloc (
        self->exits, (self->exits_count + 1) * sizeof (zhive_procs_exit_t));
    if (!exits)
        return;
    self->exits = exits;
    exits [self->exits_count].pid = (uint64_t) pid;
    snprintf (exits [self->exits_count].why, sizeof exits [0].why, "%s", why);
    self->exits_count++;
}

//  Reap pid later, killing it after ms if it is still there
static void
s_reap_later (zhive_procs_t *self, pid_t pid, int64_t ms, const char *what)
{
    s_reap_t *reaps =
        (s_reap_t *) realloc (self->reaps, (self->reaps_count + 1) * sizeof (s_reap_t));
    if (!reaps) {
        kill (pid, SIGKILL);    //  A zombie at worst, never a wait
        return;
    }
    self->reaps = reaps;
    s_reap_t *reap = &reaps [self->reaps_count++];
    reap->pid = pid;
    reap->kill_at = zhive_clock_ms () + ms;
    reap->killed = false;
    snprintf (reap->what, sizeof reap->what, "%s", what);
}

//  One look at each process to reap
static void
s_reap_check (zhive_procs_t *self, int64_t now)
{
    for (size_t i = 0; i < self->reaps_count;) {
        s_reap_t *reap = &self->reaps [i];
        pid_t rc = waitpid (reap->pid, NULL, WNOHANG);
        if (rc == reap->pid || (rc < 0 && errno == ECHILD)) {
            self->reaps [i] = self->reaps [--self->reaps_count];
            continue;
        }
        if (!reap->killed && now >= reap->kill_at) {
            S_LOG (self, "%s (pid %d) did not end; killing it", reap->what, (int) reap->pid);
            kill (reap->pid, SIGKILL);
            reap->killed = true;
        }
        i++;
    }
}

//  The local worker with this pid, and its group
static s_child_t *
s_child_find (zhive_procs_t *self, pid_t pid, s_group_t **group_p)
{
    for (size_t g = 0; pid > 0 && g < self->groups_count; g++) {
        s_group_t *group = self->groups [g];
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

static s_child_t *
s_child (zhive_procs_t *self, uint64_t pid)
{
    return pid > 0 && pid <= INT_MAX ? s_child_find (self, (pid_t) pid, NULL) : NULL;
}

//  One more failure in a row: how long to wait before the next start
static int64_t
s_backoff (s_child_t *child)
{
    child->quick_exits++;
    int64_t delay = S_BACKOFF_MS;
    for (int i = 1; i < child->quick_exits && delay < S_BACKOFF_MAX; i++)
        delay *= 2;
    return delay < S_BACKOFF_MAX ? delay : S_BACKOFF_MAX;
}

static void
s_child_exited (zhive_procs_t *self, s_child_t *child, int status)
{
    int64_t now = zhive_clock_ms ();
    int64_t uptime = now - child->requested;
    char how [64] = "exited";
    if (status >= 0)
        zhive_procs_exec_describe (status, how, sizeof how);
    char why [96];
    snprintf (why, sizeof why, "local worker process %s", how);
    s_exit_event (self, child->pid, why);

    int64_t delay = 0;
    if (child->was_ready && status >= 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0) {
        //  Its normal end: it took its --max-tasks, or was told to stop
        child->quick_exits = 0;
        S_LOG (self, "local worker pid %d finished; starting another", (int) child->pid);
    }
    else if (child->killed) {
        child->quick_exits = 0;
        zhive_log_warning ("local worker pid %d %s (the broker killed it); starting another",
                           (int) child->pid, how);
    }
    else if (uptime < S_QUICK_EXIT && !child->was_ready) {
        //  It never got as far as READY: a broken plugin or program
        delay = s_backoff (child);
        zhive_log_warning ("local worker pid %d %s %" PRId64
                           " ms after it started (%d time(s) in a row);"
                           " restarting it in %" PRId64 " ms",
                           (int) child->pid, how, uptime, child->quick_exits, delay);
    }
    else {
        child->quick_exits = 0;
        zhive_log_warning ("local worker pid %d %s; restarting it", (int) child->pid, how);
    }
    child->pid = 0;
    child->by_zygote = false;
    child->killed = false;
    child->was_ready = false;
    child->restart_at = now + delay;
}

//  ---------------------------------------------------------------------
//  The zygote: what its lines mean for the group's workers

static int s_on_zygote (zloop_t *loop, zmq_pollitem_t *item, void *arg);

//  Stop reading the zygote and close its pipes
static void
s_zygote_close (s_group_t *group)
{
    if (group->zygote.out >= 0 && group->server && group->server->loop) {
        zmq_pollitem_t item = { NULL, group->zygote.out, ZMQ_POLLIN, 0 };
        zloop_poller_end (group->server->loop, &item);
    }
    zhive_procs_zygote_close (&group->zygote);
}

//  Start the group's zygote, read with the loop; -1 if it cannot be started
static int
s_zygote_start (zhive_procs_t *self, s_group_t *group)
{
    if (zhive_procs_zygote_start (&group->zygote, group->argv)) {
        zhive_log_warning ("cannot start the zygote: %s", strerror (errno));
        return -1;
    }
    pid_t pid = group->zygote.pid;
    zmq_pollitem_t item = { NULL, group->zygote.out, ZMQ_POLLIN, 0 };
    if (zloop_poller (self->loop, &item, s_on_zygote, group)) {
        zhive_log_warning ("cannot start the zygote: %s", strerror (errno));
        s_zygote_close (group);
        group->zygote.pid = 0;
        kill (pid, SIGKILL);
        s_reap_later (self, pid, 0, "the zygote");
        return -1;
    }
    S_LOG (self, "started the zygote, pid %d: %s --zygote", (int) pid, group->argv [0]);
    return 0;
}

//  The zygote died or misbehaved: kill the workers it forked (nobody would
//  see them exit) and go on with exec. why: what happened; NULL if its
//  stdout ended (then its exit status says how). reaped: its exit status
//  was collected already.
static void
s_zygote_lost (zhive_procs_t *self, s_group_t *group, const char *why, bool reaped)
{
    s_zygote_close (group);
    if (group->zygote.pid > 0) {
        char how [64] = "closed its stdout";
        if (!reaped) {
            //  It is likely ending: one look now, then reaped (or killed) later
            int status = 0;
            if (waitpid (group->zygote.pid, &status, WNOHANG) == group->zygote.pid)
                zhive_procs_exec_describe (status, how, sizeof how);
            else
                s_reap_later (self, group->zygote.pid, S_REAP_MS, "the zygote");
        }
        zhive_log_warning ("the zygote (pid %d) %s; local workers start with exec from now on",
                           (int) group->zygote.pid, why ? why : how);
    }
    group->zygote.pid = 0;
    group->zygote_wanted = false;
    for (size_t i = 0; i < group->children_count; i++) {
        s_child_t *child = &group->children [i];
        if (!child->by_zygote)
            continue;
        if (child->pid > 0) {
            kill (child->pid, SIGKILL);
            waitpid (child->pid, NULL, WNOHANG);    //  Ours only if it was reparented to us
            s_exit_event (self, child->pid, "the zygote that forked it died");
        }
        child->pid = 0;
        child->by_zygote = false;
        child->restart_at = zhive_clock_ms ();
    }
}

//  The oldest spawn the zygote has not answered yet, or NULL
static s_child_t *
s_zygote_oldest (s_group_t *group)
{
    s_child_t *first = NULL;
    for (size_t i = 0; i < group->children_count; i++) {
        s_child_t *child = &group->children [i];
        if (child->pid == -1 && (!first || child->spawn_order < first->spawn_order))
            first = child;
    }
    return first;
}

//  One line from the zygote: a worker started, a spawn failed, a worker ended
static void
s_zygote_line (zhive_procs_t *self, s_group_t *group, const zhive_procs_zygote_line_t *line)
{
    long pid = line->pid;
    if (line->kind == ZHIVE_PROCS_ZYGOTE_PID) {
        s_child_t *first = s_zygote_oldest (group);
        if (first) {
            first->pid = (pid_t) pid;
            memcpy (first->token, group->zygote.token, ZHIVE_TOKEN_SIZE);
            S_LOG (self, "started local worker pid %ld through the zygote", pid);
            //  Its READY may have come first
            for (size_t i = 0; i < S_EARLY_MAX; i++) {
                if (self->early [i] == (uint64_t) pid) {
                    self->early [i] = 0;
                    first->was_ready = true;
                }
            }
        }
        else
            S_LOG (self, "the zygote reported pid %ld, which nobody asked for", pid);
    }
    else if (line->kind == ZHIVE_PROCS_ZYGOTE_ERROR) {
        //  The oldest spawn failed: a quick exit, with its backoff
        s_child_t *first = s_zygote_oldest (group);
        zhive_log_warning ("the zygote could not start a worker: %s", line->reason);
        if (first) {
            first->pid = 0;
            first->by_zygote = false;
            first->restart_at = zhive_clock_ms () + s_backoff (first);
        }
    }
    else if (line->kind == ZHIVE_PROCS_ZYGOTE_EXIT) {
        s_group_t *owner = NULL;
        s_child_t *child = s_child_find (self, (pid_t) pid, &owner);
        if (child && owner == group && child->by_zygote)
            s_child_exited (self, child, (int) line->status);
    }
    else
        S_LOG (self, "ignored a line from the zygote: '%s'", line->text);
}

//  The zygote's stdout is readable: take every line there is
static int
s_on_zygote (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    s_group_t *group = (s_group_t *) arg;
    zhive_procs_t *self = group->server;
    zhive_procs_zygote_line_t line;
    const char *why = NULL;
    int rc;
    while ((rc = zhive_procs_zygote_read (&group->zygote, &line, &why)) == 1)
        s_zygote_line (self, group, &line);
    if (rc < 0)
        s_zygote_lost (self, group, why, false);
    return 0;
}

//  ---------------------------------------------------------------------
//  Starting, reaping and stopping

static void
s_child_start (zhive_procs_t *self, s_group_t *group, s_child_t *child)
{
    child->requested = zhive_clock_ms ();
    child->killed = false;
    child->was_ready = false;
    if (group->zygote_wanted && group->zygote.pid == 0 && s_zygote_start (self, group))
        group->zygote_wanted = false;
    if (group->zygote.pid > 0) {
        if (zhive_procs_zygote_spawn (&group->zygote, &child->spawn_order) == 0) {
            child->pid = -1;
            child->by_zygote = true;
            return;
        }
        s_zygote_lost (self, group, "does not take spawn requests", false);
    }
    zhive_token_new (child->token);
    pid_t pid = zhive_procs_exec_spawn (group->argv, child->token, -1, -1);
    if (pid < 0) {
        zhive_log_warning ("cannot start a local worker: %s; trying again in %d ms",
                           strerror (errno), S_BACKOFF_MAX);
        child->restart_at = child->requested + S_BACKOFF_MAX;
        return;
    }
    child->pid = pid;
    child->by_zygote = false;
    S_LOG (self, "started local worker pid %d: %s", (int) pid, group->argv [0]);
}

//  ---------------------------------------------------------------------
//  A worker with this pid sent READY

bool
zhive_procs_ready (zhive_procs_t *self, uint64_t pid, const char *token, int64_t joined_ms)
{
    s_child_t *child = s_child (self, pid);
    if (!child) {
        //  Perhaps the zygote has not named it yet: its token tells
        for (size_t g = 0; g < self->groups_count; g++) {
            if (self->groups [g]->zygote.pid > 0 &&
                zhive_token_equal (self->groups [g]->zygote.token, token)) {
                self->early [self->early_next] = pid;
                self->early_next = (self->early_next + 1) % S_EARLY_MAX;
                return true;
            }
        }
        return false;
    }
    if (!zhive_token_equal (child->token, token))
        return false;    //  Not the process we started, whatever pid it names
    child->was_ready = true;
    if (child->requested) {
        S_LOG (self, "local worker pid %d is ready %" PRId64 " ms after its start (%s)",
               (int) child->pid, joined_ms - child->requested,
               child->by_zygote ? "zygote" : "exec");
    }
    return true;
}

//  ---------------------------------------------------------------------
//  Kill a worker of ours that overran a deadline

int
zhive_procs_kill (zhive_procs_t *self, uint64_t pid, const char *why)
{
    s_child_t *child = s_child (self, pid);
    if (!child)
        return -1;
    if (!child->killed) {
        zhive_log_warning ("killing local worker pid %d: %s", (int) child->pid, why);
        kill (child->pid, SIGKILL);
        child->killed = true;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Reap, restart, and reap what must end

void
zhive_procs_check (zhive_procs_t *self)
{
    int64_t now = zhive_clock_ms ();
    s_reap_check (self, now);
    if (self->stopping)
        return;
    for (size_t g = 0; g < self->groups_count; g++) {
        s_group_t *group = self->groups [g];
        //  Its end usually shows first as the end of its stdout
        int status;
        if (group->zygote.pid > 0 &&
            waitpid (group->zygote.pid, &status, WNOHANG) == group->zygote.pid) {
            char how [64];
            zhive_procs_exec_describe (status, how, sizeof how);
            s_zygote_lost (self, group, how, true);
        }
        for (size_t i = 0; i < group->children_count; i++) {
            s_child_t *child = &group->children [i];
            if (child->pid > 0 && !child->by_zygote) {
                int status = 0;
                pid_t rc = waitpid (child->pid, &status, WNOHANG);
                if (rc == child->pid)
                    s_child_exited (self, child, status);
                else if (rc < 0 && errno == ECHILD)
                    s_child_exited (self, child, -1);    //  Reaped by someone else
            }
            if (child->pid == -1 && now - child->requested > S_SPAWN_MS)
                s_zygote_lost (self, group, "did not report a new worker in time", false);
            if (child->pid == 0 && now >= child->restart_at)
                s_child_start (self, group, child);
        }
    }
}

int
zhive_procs_next_exit (zhive_procs_t *self, zhive_procs_exit_t *exit_p)
{
    if (self->exits_count == 0)
        return 0;
    *exit_p = self->exits [0];
    memmove (self->exits, self->exits + 1, --self->exits_count * sizeof (zhive_procs_exit_t));
    return 1;
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
s_group_destroy (s_group_t **group_p)
{
    s_group_t *group = *group_p;
    s_zygote_close (group);
    s_argv_destroy (&group->argv);
    free (group->children);
    free (group);
    *group_p = NULL;
}

//  ---------------------------------------------------------------------
//  Stop: signals now, reaping from the tick

void
zhive_procs_stop (zhive_procs_t *self)
{
    if (self->stopping)
        return;
    //  Every task is answered by now: workers stop at once (SIGINT; SIGTERM
    //  would let them finish what they hold). A zygote gets EOF and reaps
    //  its own, waiting ZHIVE_PROCS_STOP_MS for them itself.
    self->stopping = true;
    for (size_t g = 0; g < self->groups_count; g++) {
        s_group_t *group = self->groups [g];
        for (size_t i = 0; i < group->children_count; i++) {
            s_child_t *child = &group->children [i];
            if (child->pid > 0 && !child->by_zygote) {
                kill (child->pid, SIGINT);
                s_reap_later (self, child->pid, ZHIVE_PROCS_STOP_MS, "a local worker");
            }
            else if (child->pid > 0)
                kill (child->pid, SIGINT);
        }
        s_zygote_close (group);
        if (group->zygote.pid > 0)
            s_reap_later (self, group->zygote.pid, ZHIVE_PROCS_STOP_MS + 1000, "the zygote");
    }
    self->stop_until = zhive_clock_ms () + ZHIVE_PROCS_STOP_MS + 1000;
}

bool
zhive_procs_stopped (zhive_procs_t *self)
{
    int64_t now = zhive_clock_ms ();
    s_reap_check (self, now);
    if (self->reaps_count && now >= self->stop_until) {
        //  What the zygote forked nobody reaps now: make sure it ends
        for (size_t g = 0; g < self->groups_count; g++) {
            s_group_t *group = self->groups [g];
            for (size_t i = 0; i < group->children_count; i++) {
                if (group->children [i].by_zygote && group->children [i].pid > 0)
                    kill (group->children [i].pid, SIGKILL);
            }
        }
    }
    return self->reaps_count == 0;
}

//  ---------------------------------------------------------------------
//  Life

zhive_procs_t *
zhive_procs_new (zloop_t *loop)
{
    zhive_procs_t *self = (zhive_procs_t *) calloc (1, sizeof (zhive_procs_t));
    if (self)
        self->loop = loop;
    return self;
}

void
zhive_procs_set_verbose (zhive_procs_t *self, bool verbose)
{
    self->verbose = verbose;
}

void
zhive_procs_destroy (zhive_procs_t **self_p)
{
    zhive_procs_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zhive_procs_stop (self);
    for (size_t i = 0; i < self->reaps_count; i++) {
        kill (self->reaps [i].pid, SIGKILL);
        waitpid (self->reaps [i].pid, NULL, WNOHANG);
    }
    for (size_t g = 0; g < self->groups_count; g++)
        s_group_destroy (&self->groups [g]);
    free (self->groups);
    free (self->reaps);
    free (self->exits);
    free (self);
    *self_p = NULL;
}

//  The worker endpoint as local workers connect to it: a wildcard address
//  is not one to connect to, so use the loopback
static void
s_connect_endpoint (const char *bound, char *endpoint, size_t size)
{
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

//  ---------------------------------------------------------------------
//  Start a group of local workers

int
zhive_procs_start (zhive_procs_t *self, int count, const zhive_procs_options_t *options,
                   char *error, size_t error_size)
{
    if (!options->endpoint) {
        snprintf (error, error_size, "bind the worker endpoint before starting local workers");
        return -1;
    }
    if (count <= 0)
        return 0;
    char endpoint [512];
    s_connect_endpoint (options->endpoint, endpoint, sizeof endpoint);
    s_group_t **groups =
        (s_group_t **) realloc (self->groups, (self->groups_count + 1) * sizeof (s_group_t *));
    if (groups)
        self->groups = groups;
    s_group_t *group = groups ? (s_group_t *) calloc (1, sizeof (s_group_t)) : NULL;
    //  program --connect E [--load L]... [--concurrency N] --heartbeat MS
    //  --liveness N [--max-tasks N] [--curve-secret F --broker-key F] NULL
    size_t loads = 0;
    while (options->loads && options->loads [loads])
        loads++;
    char **argv = group ? (char **) calloc (2 * loads + 16, sizeof (char *)) : NULL;
    s_child_t *children = argv ? (s_child_t *) calloc ((size_t) count, sizeof (s_child_t)) : NULL;
    bool ok = children != NULL;
    size_t arg = 0;
    if (ok) {
        argv [arg++] = zhive_procs_exec_program (options->worker_program);
        argv [arg++] = strdup ("--connect");
        argv [arg++] = strdup (endpoint);
        for (size_t i = 0; i < loads; i++) {
            argv [arg++] = strdup ("--load");
            argv [arg++] = strdup (options->loads [i]);
        }
        if (options->concurrency > 0) {
            argv [arg++] = strdup ("--concurrency");
            argv [arg++] = zsys_sprintf ("%d", options->concurrency);
        }
        argv [arg++] = strdup ("--heartbeat");
        argv [arg++] = zsys_sprintf ("%d", options->heartbeat_ms);
        argv [arg++] = strdup ("--liveness");
        argv [arg++] = zsys_sprintf ("%d", options->liveness);
        if (options->max_tasks) {
            argv [arg++] = strdup ("--max-tasks");
            argv [arg++] = zsys_sprintf ("%" PRIu64, options->max_tasks);
        }
        if (options->curve_secret_path) {
            //  The broker's own certificate, whose key it always allows;
            //  its secret file holds the public key too
            argv [arg++] = strdup ("--curve-secret");
            argv [arg++] = strdup (options->curve_secret_path);
            argv [arg++] = strdup ("--broker-key");
            argv [arg++] = strdup (options->curve_secret_path);
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
    group->zygote_wanted = options->use_zygote;
    zhive_procs_zygote_init (&group->zygote);
    self->groups [self->groups_count++] = group;
    for (size_t i = 0; i < group->children_count; i++)
        s_child_start (self, group, &group->children [i]);
    return 0;
}
