/* Monotonic nanosecond clock for the GC callback.
 *
 * Invariants: cannot fail, cannot raise, touches no Python state, so it may be
 * called with or without an attached thread state.  On Linux this is the same
 * clock as time.monotonic_ns() and time.perf_counter_ns() (CLOCK_MONOTONIC),
 * so record start times can be compared with Python-side timestamps.
 */
#ifndef GCP_CLOCK_H
#define GCP_CLOCK_H

#include <stdint.h>

#ifdef _WIN32
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#  endif
#  include <windows.h>
static inline int64_t
gcp_clock_ns(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);   /* fixed at boot; cannot fail on XP+ */
    QueryPerformanceCounter(&c);
    return (int64_t)((double)c.QuadPart * 1e9 / (double)f.QuadPart);
}
#else
#  include <time.h>
static inline int64_t
gcp_clock_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC is mandatory on every POSIX system CPython supports;
       a failure would leave ts unset, so zero it first. */
    ts.tv_sec = 0;
    ts.tv_nsec = 0;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}
#endif

#endif /* GCP_CLOCK_H */
