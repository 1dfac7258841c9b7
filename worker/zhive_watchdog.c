/*  =========================================================================
    zhive_watchdog - ends a worker whose sync handler overran (private)

    The timer's notification runs in a thread glibc makes when it fires,
    while the loop's thread is still inside the handler (possibly holding
    malloc's or stdio's locks). So it only reads an atomic, formats into a
    stack buffer, write()s and _exit()s: nothing that could wait on the
    stuck thread.
    =========================================================================
*/
#include "zhive_watchdog.h"
#include "zhive_clock.h"
#include "zhive_proto.h"
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_FOREVER_MS 1000000000000LL    //  Deadlines past ~30 years are none

struct _zhive_watchdog_t {
    timer_t timer;                        //  The POSIX timer
    _Atomic int64_t deadline;             //  Monotonic ms of the deadline while armed, else 0
    char handler [ZHIVE_NAME_MAX + 1];    //  Name of the handler it watches
};

//  Appends text to buf at *at, leaving room for the final newline
static void
s_append (char *buf, size_t size, size_t *at, const char *text)
{
    while (*text && *at + 2 < size)
        buf [(*at)++] = *text++;
}

//  The timer fired: the handler has run past its deadline and the grace
static void
s_on_fire (union sigval value)
{
    zhive_watchdog_t *self = (zhive_watchdog_t *) value.sival_ptr;
    int64_t deadline = atomic_load (&self->deadline);
    if (deadline == 0)
        return;    //  Disarmed while the notification was on its way
    int64_t overrun = zhive_clock_ms () - deadline;
    char digits [24];
    size_t count = 0;
    uint64_t number = overrun > 0 ? (uint64_t) overrun : 0;
    do {
        digits [count++] = (char) ('0' + number % 10);
        number /= 10;
    } while (number && count < sizeof digits - 1);
    char number_text [24];
    for (size_t i = 0; i < count; i++)
        number_text [i] = digits [count - 1 - i];
    number_text [count] = 0;

    char line [512];
    size_t at = 0;
    s_append (line, sizeof line, &at, "zhive-worker: handler '");
    s_append (line, sizeof line, &at, self->handler);
    s_append (line, sizeof line, &at, "' overran its deadline by ");
    s_append (line, sizeof line, &at, number_text);
    s_append (line, sizeof line, &at, " ms; exiting so the pool can replace this worker");
    line [at++] = '\n';
    ssize_t rc = write (STDERR_FILENO, line, at);
    (void) rc;
    _exit (ZHIVE_WATCHDOG_EXIT);
}

zhive_watchdog_t *
zhive_watchdog_new (void)
{
    zhive_watchdog_t *self = (zhive_watchdog_t *) calloc (1, sizeof (zhive_watchdog_t));
    if (!self)
        return NULL;
    atomic_init (&self->deadline, 0);
    struct sigevent event;
    memset (&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD;
    event.sigev_notify_function = s_on_fire;
    event.sigev_value.sival_ptr = self;
    if (timer_create (CLOCK_MONOTONIC, &event, &self->timer)) {
        int error = errno;
        free (self);
        errno = error;
        return NULL;
    }
    return self;
}

void
zhive_watchdog_destroy (zhive_watchdog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_watchdog_t *self = *self_p;
    zhive_watchdog_disarm (self);
    timer_delete (self->timer);
    free (self);
    *self_p = NULL;
}

int
zhive_watchdog_arm (zhive_watchdog_t *self, const char *handler, int64_t deadline_ms,
                    int64_t grace_ms)
{
    if (deadline_ms < 0)
        deadline_ms = 0;
    if (grace_ms < 0)
        grace_ms = 0;
    if (deadline_ms > S_FOREVER_MS || grace_ms > S_FOREVER_MS) {
        zhive_watchdog_disarm (self);
        return 0;
    }
    zhive_proto_set_name (self->handler, handler ? handler : "?");
    int64_t fire_ms = deadline_ms + grace_ms;
    int64_t deadline = zhive_clock_ms () + deadline_ms;
    atomic_store (&self->deadline, deadline ? deadline : 1);
    struct itimerspec when;
    memset (&when, 0, sizeof when);
    when.it_value.tv_sec = (time_t) (fire_ms / 1000);
    when.it_value.tv_nsec = (long) (fire_ms % 1000) * 1000000L;
    if (fire_ms == 0)
        when.it_value.tv_nsec = 1;    //  Zero would disarm the timer
    if (timer_settime (self->timer, 0, &when, NULL)) {
        atomic_store (&self->deadline, 0);
        return -1;
    }
    return 0;
}

void
zhive_watchdog_disarm (zhive_watchdog_t *self)
{
    if (atomic_load (&self->deadline) == 0)
        return;
    struct itimerspec never;
    memset (&never, 0, sizeof never);
    timer_settime (self->timer, 0, &never, NULL);
    atomic_store (&self->deadline, 0);
}
