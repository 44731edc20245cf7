/* Compiler hints for the GC callback's path.
 *
 * GCP_INLINE forces small hot-path helpers inline; GCP_COLD keeps rare
 * paths (calibration, re-anchoring, unexpected info dicts, placement
 * repair) out of line, so the common path stays short and needs few
 * registers; GCP_NOINLINE keeps a hot function out of line (the stop
 * phase, so that the start phase needs no stack frame).  All are hints
 * only: without GCC or Clang they are plain.
 */
#ifndef GCP_COMPILER_H
#define GCP_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#  define GCP_INLINE inline __attribute__((always_inline))
#  define GCP_COLD __attribute__((noinline, cold))
#  define GCP_NOINLINE __attribute__((noinline))
#  define GCP_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#  define GCP_INLINE inline
#  define GCP_COLD
#  define GCP_NOINLINE
#  define GCP_LIKELY(x) (x)
#endif

#endif /* GCP_COMPILER_H */
