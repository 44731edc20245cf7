/* Tick clock: the recorder's two reads per collection come from the CPU
 * counter (clock.h) and are mapped to CLOCK_MONOTONIC nanoseconds in the
 * stop phase, after the stop time was taken.
 *
 * Mapping: ns(t) = a_ns + (t - a_ticks) * ns_per_tick, from the newest
 * anchor a, a (ticks, CLOCK_MONOTONIC) pair read back to back.
 *   - Calibration: from import (and after recalibrate()) the clock is not
 *     ticking and the hot path reads CLOCK_MONOTONIC directly; the first
 *     stop phase at least GCP_TC_CALIB_NS after that anchor computes the
 *     rate and switches to ticks.  No spinning, no cost at import or start().
 *   - Refresh: in a stop phase whose anchor is older than refresh_ticks, a
 *     new anchor is read before the stamps are converted, and the rate is
 *     re-measured over the interval since the previous anchor.
 *     refresh_ticks is twice that interval, capped at GCP_TC_REFRESH_MAX_NS,
 *     so under load anchors thin out to one per 50 ms (about 150 ns each).
 *     The rate so follows NTP slewing of CLOCK_MONOTONIC; a mapped time is
 *     off by the rate error times the anchor's age, which clock_error_ns()
 *     measures (bench_overhead.py: 1st..99th percentile within -7..+5 ns
 *     here).
 *   - Sanity: a re-measured rate more than GCP_TC_MAX_SKEW away from the
 *     current one (counter reset or jump, e.g. a VM snapshot restored on
 *     another host), or ticks going backwards, is not trusted: the stamps
 *     of that collection are converted with the old rate, then the clock
 *     recalibrates from scratch.
 * All of this runs with the GIL held from the GC callback or from module
 * functions, never between the start and stop reads of one collection
 * except for a conversion, so a collection is always timed with one source.
 */
#ifndef GCP_TICKCLOCK_H
#define GCP_TICKCLOCK_H

#include <math.h>
#include <stdint.h>

#include "clock.h"
#include "compiler.h"

#define GCP_TC_CALIB_NS 1000000          /* 1 ms: first rate, error ~2e-5 */
#define GCP_TC_REFRESH_MAX_NS 50000000   /* 50 ms between anchors at most */
/* CLOCK_MONOTONIC itself is slewed by NTP: adjtime at up to 500 ppm,
 * chrony by up to 1/12 for large corrections.  Beyond that it is a jump. */
#define GCP_TC_MAX_SKEW 0.1

typedef struct {
    int usable;              /* the counter may be used at all */
    int ticking;             /* calibrated: the hot path reads ticks */
    int recal_requested;     /* recalibrate at the end of the next stop */
    double ns_per_tick;      /* valid while ticking */
    uint64_t mult;           /* ns_per_tick * 2**32, for the hot path */
    uint64_t a_ticks;        /* newest anchor (while calibrating: the */
    int64_t a_ns;            /* install anchor the rate will start from) */
    uint64_t refresh_ticks;  /* re-anchor when a is this old */
    /* The hot path's only check: a stop stamp fewer than fast_ticks after
     * a_ticks is converted as is; anything else (not ticking, a request to
     * recalibrate, a stale anchor, a counter gone backwards) takes
     * tc_stop_slow().  Kept equal to refresh_ticks while ticking with no
     * request pending, else 0, by tc_sync(). */
    uint64_t fast_ticks;
    int64_t refreshes;       /* anchors taken since import */
    int64_t recalibrations;  /* rate checks that failed, plus requests */
} gcp_tickclock_t;

/* One anchor: the tightest of three (ticks, ns, ticks) reads, with ticks
 * taken at the midpoint.  About 150 ns; only off the hot path. */
static inline void
tc_pair(uint64_t *ticks, int64_t *ns)
{
    uint64_t best = UINT64_MAX;
    int i;
    for (i = 0; i < 3; i++) {
        uint64_t t0 = gcp_ticks_raw();
        int64_t n = gcp_clock_ns();
        uint64_t t1 = gcp_ticks_raw();
        if (t1 >= t0 && t1 - t0 < best) {
            best = t1 - t0;
            *ticks = t0 + (t1 - t0) / 2;
            *ns = n;
        }
    }
    if (best == UINT64_MAX) {        /* counter went backwards thrice */
        *ticks = gcp_ticks_raw();
        *ns = gcp_clock_ns();
    }
}

static inline void
tc_set_rate(gcp_tickclock_t *tc, double r)
{
    tc->ns_per_tick = r;
    tc->mult = (uint64_t)(r * 4294967296.0 + 0.5);
}

static inline void
tc_sync(gcp_tickclock_t *tc)
{
    tc->fast_ticks = tc->ticking && !tc->recal_requested ? tc->refresh_ticks : 0;
}

/* Start (or restart) calibration: the hot path reads CLOCK_MONOTONIC until
 * the first stop phase GCP_TC_CALIB_NS from now.  Must not be called while
 * a collection is pending (its start stamp would change source). */
static inline void
tc_begin(gcp_tickclock_t *tc)
{
    tc->ticking = 0;
    tc->recal_requested = 0;
    tc_sync(tc);
    if (tc->usable) {
        tc_pair(&tc->a_ticks, &tc->a_ns);
    }
}

/* Recalibrate at the end of the collection in progress. */
static inline void
tc_request_recalibration(gcp_tickclock_t *tc)
{
    tc->recal_requested = 1;
    tc_sync(tc);
}

static inline void
tc_init(gcp_tickclock_t *tc, int usable)
{
    tc->usable = usable;
    tc_set_rate(tc, 0.0);
    tc->refresh_ticks = 0;
    tc->refreshes = 0;
    tc->recalibrations = 0;
    tc_begin(tc);
}

/* CLOCK_MONOTONIC, out of line: while calibrating, or with no counter. */
static GCP_COLD uint64_t
tc_now_slow(void)
{
    return (uint64_t)gcp_clock_ns();
}

/* The hot-path read: ticks while ticking, else CLOCK_MONOTONIC ns. */
static GCP_INLINE uint64_t
tc_now(const gcp_tickclock_t *tc)
{
    if (GCP_LIKELY(tc->ticking)) {
        return gcp_ticks_raw();
    }
    return tc_now_slow();
}

/* ns_per_tick from the anchor (t0, n0) to (t1, n1); 0.0 if unusable. */
static inline double
tc_rate(uint64_t t0, int64_t n0, uint64_t t1, int64_t n1)
{
    int64_t dt = (int64_t)(t1 - t0);
    if (dt <= 0 || n1 <= n0) {
        return 0.0;
    }
    return (double)(n1 - n0) / (double)dt;
}

/* Adopt the anchor (t, ns) and the rate r measured up to it from the
 * previous anchor; the next refresh is due after twice that interval. */
static inline void
tc_anchor(gcp_tickclock_t *tc, uint64_t t, int64_t ns, double r)
{
    double cap, interval = (double)(2 * (t - tc->a_ticks));
    tc_set_rate(tc, r);
    cap = (double)GCP_TC_REFRESH_MAX_NS / r;
    tc->refresh_ticks = (uint64_t)(interval < cap ? interval : cap);
    tc->a_ticks = t;
    tc->a_ns = ns;
    tc->refreshes++;
    tc_sync(tc);
}

/* Ticking, in a stop phase before conversion: re-anchor if stale.  Returns
 * 1 if the new rate failed the sanity check (the old anchor and rate are
 * kept for this conversion; the caller then calls tc_begin). */
static inline int
tc_maybe_refresh(gcp_tickclock_t *tc, uint64_t t_stop)
{
    uint64_t t;
    int64_t ns;
    double r;
    if ((int64_t)(t_stop - tc->a_ticks) < 0) {
        return 1;                              /* counter went backwards */
    }
    if (t_stop - tc->a_ticks < tc->refresh_ticks) {
        return 0;
    }
    tc_pair(&t, &ns);
    r = tc_rate(tc->a_ticks, tc->a_ns, t, ns);
    if (!(fabs(r - tc->ns_per_tick) <= tc->ns_per_tick * GCP_TC_MAX_SKEW)) {
        return 1;
    }
    tc_anchor(tc, t, ns, r);
    return 0;
}

/* d ticks in ns, in fixed point: one 64x64->128 multiply, no float
 * conversions on the hot path.  (Ticking needs __int128; see GCP_TICKS.) */
static inline int64_t
tc_scale(const gcp_tickclock_t *tc, uint64_t d)
{
#ifdef __SIZEOF_INT128__
    return (int64_t)(((unsigned __int128)d * tc->mult) >> 32);
#else
    return (int64_t)((double)d * tc->ns_per_tick);
#endif
}

/* Map a tick stamp to CLOCK_MONOTONIC ns (ticking only). */
static inline int64_t
tc_to_ns(const gcp_tickclock_t *tc, uint64_t t)
{
    if (t >= tc->a_ticks) {
        return tc->a_ns + tc_scale(tc, t - tc->a_ticks);
    }
    return tc->a_ns - tc_scale(tc, tc->a_ticks - t);
}

/* A tick interval in ns (ticking only); a negative one is 0. */
static inline int64_t
tc_span_ns(const gcp_tickclock_t *tc, uint64_t t0, uint64_t t1)
{
    return t1 > t0 ? tc_scale(tc, t1 - t0) : 0;
}

/* At the end of a stop phase (no collection pending), whose hot-path
 * reading was t_stop: finish calibration once GCP_TC_CALIB_NS have passed
 * since the install anchor, or restart it if asked to or if the rate check
 * failed. */
static inline void
tc_after_stop(gcp_tickclock_t *tc, int failed, uint64_t t_stop)
{
    if (failed || tc->recal_requested) {
        tc->recalibrations++;
        tc_begin(tc);
        return;
    }
    /* Not ticking: t_stop is CLOCK_MONOTONIC ns. */
    if (!tc->ticking && tc->usable
        && (int64_t)t_stop - tc->a_ns >= GCP_TC_CALIB_NS) {
        uint64_t t;
        int64_t ns;
        double r;
        tc_pair(&t, &ns);
        r = tc_rate(tc->a_ticks, tc->a_ns, t, ns);
        if (r > 0.0 && r < 1e6) {
            tc->ticking = 1;
            tc_anchor(tc, t, ns, r);
        }
        else {
            tc_begin(tc);
        }
    }
}

/* A stop phase's stamps, t0 from the start phase and t1 read first in the
 * stop phase, as CLOCK_MONOTONIC start and duration in ns.  The hot path
 * is one comparison and two multiplies; everything else is tc_stop_slow. */
static GCP_COLD void
tc_stop_slow(gcp_tickclock_t *tc, uint64_t t0, uint64_t t1, int64_t *start_ns,
             int64_t *dur)
{
    int failed = 0;
    if (tc->ticking) {
        failed = tc_maybe_refresh(tc, t1);
        *start_ns = tc_to_ns(tc, t0);
        *dur = tc_span_ns(tc, t0, t1);
    }
    else {
        /* Calibrating: both stamps are CLOCK_MONOTONIC ns. */
        *start_ns = (int64_t)t0;
        *dur = t1 > t0 ? (int64_t)(t1 - t0) : 0;
    }
    if (!tc->ticking || failed || tc->recal_requested) {
        tc_after_stop(tc, failed, t1);
    }
}

static GCP_INLINE void
tc_stop_times(gcp_tickclock_t *tc, uint64_t t0, uint64_t t1, int64_t *start_ns,
              int64_t *dur)
{
    if (GCP_LIKELY(t1 - tc->a_ticks < tc->fast_ticks)) {
        *start_ns = tc_to_ns(tc, t0);
        *dur = tc_span_ns(tc, t0, t1);
    }
    else {
        tc_stop_slow(tc, t0, t1, start_ns, dur);
    }
}

#endif /* GCP_TICKCLOCK_H */
