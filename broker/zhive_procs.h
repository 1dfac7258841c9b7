/*  =========================================================================
    zhive_procs - local worker processes: start, watch, restart, stop

    The broker's supervisor of the zhive-worker processes it starts, by
    fork + exec or through a zygote. It never blocks: the broker calls
    zhive_procs_check from its tick, and takes the exits of workers as
    events (zhive_procs_next_exit) to tell its pool. It knows nothing of
    the pool.
    =========================================================================
*/
#ifndef ZHIVE_PROCS_H_INCLUDED
#define ZHIVE_PROCS_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

#define ZHIVE_PROCS_STOP_MS 2000    //  Grace for local workers between the stop signal and SIGKILL

typedef struct _zhive_procs_t zhive_procs_t;

//  How one group of local workers is started
typedef struct {
    const char *worker_program;       //  Program, NULL or "" for the default
    const char *endpoint;             //  Worker endpoint as bound
    const char *const *loads;         //  Plugins, NULL-terminated
    int concurrency;                  //  0: the worker's default
    int heartbeat_ms;                 //  Passed on
    int liveness;                     //  Passed on
    uint64_t max_tasks;               //  --max-tasks, 0 = none
    bool use_zygote;                  //  Start through a zygote
    const char *curve_secret_path;    //  CURVE: the broker's certificate, or NULL
} zhive_procs_options_t;

//  A worker process ended
typedef struct {
    uint64_t pid;     //  Its pid
    char why [96];    //  How it ended, for the log
} zhive_procs_exit_t;

//  ---------------------------------------------------------------------
//  Create a supervisor that reads zygote pipes with loop. NULL if out of memory.
zhive_procs_t *zhive_procs_new (zloop_t *loop);

//  Destroy: what still runs gets SIGKILL (call zhive_procs_stop and wait
//  for zhive_procs_stopped first for a gentle stop). Safe with *self_p NULL.
void zhive_procs_destroy (zhive_procs_t **self_p);

//  Log starts and exits (zhive_log debug).
void zhive_procs_set_verbose (zhive_procs_t *self, bool verbose);

//  Start `count` workers with these options: 0, or -1 with error set.
int zhive_procs_start (zhive_procs_t *self, int count, const zhive_procs_options_t *options,
                       char *error, size_t error_size);

//  Reap workers that exited, restart the ones due, reap what must end.
void zhive_procs_check (zhive_procs_t *self);

//  Take the oldest exit of a worker: 1 (filled in), or 0 if there is none.
int zhive_procs_next_exit (zhive_procs_t *self, zhive_procs_exit_t *exit_p);

//  A worker on this host with this pid sent READY with token (joined_ms:
//  when, on zhive_clock_ms). Every local worker gets a random token in its
//  environment (ZHIVE_TOKEN_ENV) at its start; true only if token is the
//  one of our process with that pid (then it started fine), or of a zygote
//  whose workers it has not named yet. Anything else is a remote worker,
//  whatever host and pid it claims.
bool zhive_procs_ready (zhive_procs_t *self, uint64_t pid, const char *token, int64_t joined_ms);

//  Kill a worker of ours that overran a deadline: 0, or -1 if pid is not ours.
//  Call it only for a pid whose connection showed its token (zhive_procs_ready).
int zhive_procs_kill (zhive_procs_t *self, uint64_t pid, const char *why);

//  Begin the stop: every worker gets SIGINT, zygotes lose their stdin.
void zhive_procs_stop (zhive_procs_t *self);

//  After zhive_procs_stop: one look (reap, SIGKILL past the grace); true
//  once every process is gone.
bool zhive_procs_stopped (zhive_procs_t *self);

#pragma GCC visibility pop

#endif
