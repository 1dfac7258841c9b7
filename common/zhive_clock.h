/*  =========================================================================
    zhive_clock - the one clock of zhive (private)

    Every timer, deadline and age in zhive reads the monotonic clock
    through these two calls, so there is one notion of "now".
    =========================================================================
*/
#ifndef ZHIVE_CLOCK_H_INCLUDED
#define ZHIVE_CLOCK_H_INCLUDED

#include <stdint.h>
#include <time.h>

//  Monotonic time in microseconds.
static inline int64_t
zhive_clock_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  Monotonic time in milliseconds.
static inline int64_t
zhive_clock_ms (void)
{
    return zhive_clock_us () / 1000;
}

#endif
