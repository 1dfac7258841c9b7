/*  =========================================================================
    zhive_watchdog - ends a worker whose sync handler overran (private)

    A sync handler runs inside the worker's loop and cannot be interrupted.
    Before the worker calls one for a task with a deadline, it arms the
    watchdog for the task's time left plus a grace period; it disarms it
    when the handler returns. If the handler is still running when the
    watchdog fires, the process writes why to stderr and exits with
    ZHIVE_WATCHDOG_EXIT, so the pool can replace it: a worker stuck in a
    handler holds its task and its slot for ever otherwise.

    The watchdog is a POSIX timer (CLOCK_MONOTONIC) that notifies through
    SIGEV_THREAD: it takes no signal away from the embedding program, and
    arming and disarming are one system call each.
    =========================================================================
*/
#ifndef ZHIVE_WATCHDOG_H_INCLUDED
#define ZHIVE_WATCHDOG_H_INCLUDED

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZHIVE_WATCHDOG_EXIT 70    //  Exit status of an overrun (EX_SOFTWARE)

typedef struct _zhive_watchdog_t zhive_watchdog_t;

//  Create a disarmed watchdog. Returns NULL if the system has no timer to
//  give (errno says why).
zhive_watchdog_t *zhive_watchdog_new (void);

//  Destroy; safe with *self_p NULL.
void zhive_watchdog_destroy (zhive_watchdog_t **self_p);

//  Arm: unless disarmed within deadline_ms + grace_ms from now, end the
//  process, naming `handler` (copied) and how far past deadline_ms it ran.
//  Returns 0, or -1 if the timer cannot be set.
int zhive_watchdog_arm (zhive_watchdog_t *self, const char *handler, int64_t deadline_ms,
                        int64_t grace_ms);

//  Disarm; harmless when not armed.
void zhive_watchdog_disarm (zhive_watchdog_t *self);

#ifdef __cplusplus
}
#endif

#endif
