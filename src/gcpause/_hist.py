"""Log-linear (HDR-style) pause histogram shared by both recorders.

Values below ``2 * SUB`` ns are counted exactly; above, every power of two is
split into ``SUB`` linear buckets, so a bucket's midpoint is within
``RELATIVE_ERROR`` (1/128, 0.78 %) of any value in it.  The index function is
the same as ``hist_index`` in ``csrc/hist.h``; a test keeps the two equal.
"""

SUB_BITS = 6
SUB = 1 << SUB_BITS
MAX_BITS = 40
MAX_NS = 1 << MAX_BITS
BUCKETS = (MAX_BITS - SUB_BITS + 1) * SUB
#: Largest relative difference between a reported percentile and the exact one.
RELATIVE_ERROR = 1 / (2 * SUB)


def index(ns: int) -> int:
    """Bucket index of a duration in nanoseconds."""
    if ns < 2 * SUB:
        return ns if ns > 0 else 0
    if ns >= MAX_NS:
        ns = MAX_NS - 1
    shift = ns.bit_length() - (SUB_BITS + 1)
    return (shift + 1) * SUB + (ns >> shift) - SUB


def bounds(idx: int) -> "tuple[int, int]":
    """Smallest and largest duration (ns) that fall in bucket ``idx``."""
    if idx < 2 * SUB:
        return idx, idx
    shift = idx // SUB - 1
    low = (idx % SUB + SUB) << shift
    return low, low + (1 << shift) - 1


def midpoint(idx: int) -> int:
    """The value reported for bucket ``idx`` (within RELATIVE_ERROR of any member)."""
    low, high = bounds(idx)
    return (low + high + 1) // 2


def rank(q: float, count: int) -> int:
    """1-based nearest rank of the q-th percentile among count values."""
    r = q * count / 100
    i = int(r)
    return max(1, i if i == r else i + 1)


def percentile(hist: "tuple[tuple[int, int], ...]", count: int, max_ns: int, q: float) -> int:
    """Nearest-rank ``q``-th percentile (0 <= q <= 100) of a sparse histogram.

    ``hist`` holds ``(bucket index, count)`` pairs in increasing index order.
    Returns 0 for an empty histogram and ``max_ns`` exactly for ``q == 100``.
    """
    if count <= 0:
        return 0
    if q >= 100:
        return max_ns
    want = rank(q, count)
    seen = 0
    for idx, n in hist:
        seen += n
        if seen >= want:
            return min(midpoint(idx), max_ns)
    return max_ns
