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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence


def index(ns: int) -> int:
    """Bucket index of a duration in nanoseconds."""
    if not isinstance(ns, int):
        raise TypeError(f"ns must be an int, not {type(ns).__name__}")
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


#: Exporter bucket bounds in seconds: powers of two from 2**12 ns (4.096 µs) to
#: 2**33 ns (8.59 s), each a bucket boundary here, so exported counts are exact.
DEFAULT_EXPORT_BUCKETS_S = tuple((1 << k) / 1e9 for k in range(12, 34))

#: Below this the buckets are exact single values; no GC pause is that short.
_MIN_BOUND_NS = 2 * SUB


def export_bounds_ns(buckets: "Sequence[float]") -> "tuple[int, ...]":
    """Validate exporter bucket bounds (seconds) and return them in integer ns.

    Each finite bound must be a bucket boundary of this histogram, so that a
    cumulative count "pauses shorter than the bound" is exact; ``+Inf`` is
    skipped (exporters always add it).  TypeError/ValueError name ``buckets``.
    """
    if isinstance(buckets, (str, bytes)):
        raise TypeError("buckets must be a sequence of numbers (seconds)")
    out: "list[int]" = []
    for b in buckets:
        if isinstance(b, bool) or not isinstance(b, (int, float)):
            raise TypeError(f"buckets must hold numbers (seconds), not {type(b).__name__}")
        if b == float("inf"):
            continue
        ns = round(b * 1e9) if 0 <= b < MAX_NS / 1e9 else -1  # NaN too
        if not _MIN_BOUND_NS <= ns < MAX_NS:
            raise ValueError(f"buckets: {b!r} s is outside [{_MIN_BOUND_NS / 1e9:g}, "
                             f"{MAX_NS / 1e9:g}) s")
        low, high = bounds(index(ns))
        if abs(b * 1e9 - ns) > 1e-3 or low != ns:
            raise ValueError(
                f"buckets: {b!r} s is not a boundary of gcpause's histogram, so its count "
                f"could not be exact; nearest boundaries are {low / 1e9!r} s and "
                f"{(high + 1) / 1e9!r} s")
        if out and ns <= out[-1]:
            raise ValueError("buckets must be strictly increasing")
        out.append(ns)
    if not out:
        raise ValueError("buckets must hold at least one finite bound")
    return tuple(out)
