/* HDR-style log-linear histogram of pause durations in nanoseconds.
 *
 * Values below 2*GCP_HIST_SUB are counted exactly (one bucket per ns).  Above
 * that, each power-of-two range [2^k, 2^(k+1)) is split into GCP_HIST_SUB equal
 * linear sub-buckets, so a bucket's width is at most 1/GCP_HIST_SUB of its
 * lower bound and the bucket midpoint is within 1/(2*GCP_HIST_SUB) = 1/128
 * (0.78%) of every value in it.  Values at or above GCP_HIST_MAX_NS (about 18
 * minutes) share the last bucket; the exact maximum is kept separately.
 *
 * The same index function lives in src/gcpause/_hist.py; a test checks that
 * both agree.  hist_index() cannot fail and touches no Python state.
 */
#ifndef GCP_HIST_H
#define GCP_HIST_H

#include <stdint.h>

#define GCP_HIST_SUB_BITS 6
#define GCP_HIST_SUB (1 << GCP_HIST_SUB_BITS)            /* 64 */
#define GCP_HIST_MAX_BITS 40
#define GCP_HIST_MAX_NS ((int64_t)1 << GCP_HIST_MAX_BITS)
/* Highest shift used is GCP_HIST_MAX_BITS - GCP_HIST_SUB_BITS - 1 = 33. */
#define GCP_HIST_BUCKETS \
    ((GCP_HIST_MAX_BITS - GCP_HIST_SUB_BITS + 1) * GCP_HIST_SUB)  /* 2240 */

static inline int
gcp_bit_length(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return v ? 64 - __builtin_clzll(v) : 0;
#else
    int n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
#endif
}

static inline int
hist_index(int64_t ns)
{
    uint64_t v;
    int shift;
    if (ns < 2 * GCP_HIST_SUB) {
        return ns < 0 ? 0 : (int)ns;
    }
    v = ns >= GCP_HIST_MAX_NS ? (uint64_t)GCP_HIST_MAX_NS - 1 : (uint64_t)ns;
    shift = gcp_bit_length(v) - (GCP_HIST_SUB_BITS + 1);
    return (shift + 1) * GCP_HIST_SUB + (int)(v >> shift) - GCP_HIST_SUB;
}

#endif /* GCP_HIST_H */
