/* Cost of one read of each clock the C recorder could use (csrc/clock.h).
 *
 *     gcc -O2 benchmarks/clock_cost.c -o clock_cost && ./clock_cost
 *
 * Prints ns per read, best of 5 runs of 10 M back-to-back reads each.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#  include <x86intrin.h>
static inline uint64_t ticks(void) { return __rdtsc(); }
#  define TICKS "rdtsc"
#elif defined(__aarch64__)
static inline uint64_t ticks(void)
{
    uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
}
#  define TICKS "mrs cntvct_el0"
#endif

static int64_t
mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int
main(void)
{
    enum { N = 10000000, RUNS = 5 };
    double best_mono = 1e9, best_ticks = 1e9;
    volatile uint64_t sink = 0;
    int r, i;
    for (r = 0; r < RUNS; r++) {
        int64_t t0 = mono_ns(), t1, t2;
        for (i = 0; i < N; i++) {
            sink += (uint64_t)mono_ns();
        }
        t1 = mono_ns();
#ifdef TICKS
        for (i = 0; i < N; i++) {
            sink += ticks();
        }
#endif
        t2 = mono_ns();
        if ((t1 - t0) / (double)N < best_mono) {
            best_mono = (t1 - t0) / (double)N;
        }
        if ((t2 - t1) / (double)N < best_ticks) {
            best_ticks = (t2 - t1) / (double)N;
        }
    }
    printf("clock_gettime(CLOCK_MONOTONIC): %.1f ns per read\n", best_mono);
#ifdef TICKS
    printf("%s: %.1f ns per read\n", TICKS, best_ticks);
#endif
    return 0;
}
