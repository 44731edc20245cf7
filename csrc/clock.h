/* Clocks for the GC callback.
 *
 * gcp_clock_ns(): CLOCK_MONOTONIC in ns, the clock of time.monotonic_ns()
 * and time.perf_counter_ns() on Linux.  Every timestamp gcpause reports is
 * on this clock.
 *
 * gcp_ticks_raw(): a cheaper counter for the two reads per collection: the
 * TSC on x86-64 (rdtsc) and the generic timer on arm64 (cntvct_el0).  Both
 * are constant-rate and system-wide; the kernel's own CLOCK_MONOTONIC is
 * computed from the same counter.  A read costs 8-12 ns here, against
 * 17-30 ns for clock_gettime through the vDSO (benchmarks/README.md).
 * Ticks are mapped to CLOCK_MONOTONIC by gcp_tickclock_t in state.h, which
 * owns the calibration.
 *
 * Invariants: none of these can fail, raise or touch Python state, so they
 * may be called with or without an attached thread state.
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

#if (defined(__x86_64__) || defined(__i386__)) \
    && (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#  include <cpuid.h>
#  include <x86intrin.h>
#  ifdef __linux__
#    include <sys/prctl.h>
#  endif
#  define GCP_TICKS_NAME "tsc"
static inline uint64_t
gcp_ticks_raw(void)
{
    return (uint64_t)__rdtsc();
}
/* Only an invariant TSC (CPUID 80000007H EDX bit 8: constant rate across
 * P-, C- and T-states) is a clock; older or hidden ones are not used. */
static inline int
gcp_ticks_usable(void)
{
    unsigned int a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u) {
        return 0;
    }
    __cpuid(0x80000007u, a, b, c, d);
    if (!((d >> 8) & 1u)) {
        return 0;
    }
#if defined(__linux__) && defined(PR_GET_TSC)
    {
        /* A process may have made rdtsc fault (prctl PR_SET_TSC). */
        int mode = 0;
        if (prctl(PR_GET_TSC, &mode, 0, 0, 0) == 0 && mode != PR_TSC_ENABLE) {
            return 0;
        }
    }
#endif
    return 1;
}
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#  define GCP_TICKS_NAME "cntvct"
static inline uint64_t
gcp_ticks_raw(void)
{
    uint64_t v;
    /* No isb: the read may be taken a few instructions early, which does
     * not matter at the scale of a collection. */
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
}
/* The generic timer is architecturally constant-rate and shared by all
 * cores (ARMv8 D11.1). */
static inline int
gcp_ticks_usable(void)
{
    return 1;
}
#else
#  define GCP_TICKS_NAME "none"
static inline uint64_t
gcp_ticks_raw(void)
{
    return (uint64_t)gcp_clock_ns();
}
static inline int
gcp_ticks_usable(void)
{
    return 0;
}
#endif

#endif /* GCP_CLOCK_H */
