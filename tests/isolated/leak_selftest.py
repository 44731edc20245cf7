"""A deliberately leaking workload, to prove test_leaks.py's checker can fail.

usage: leak_selftest.py ITERATIONS -- keeps one list per iteration and one
reference to ``Marker`` per iteration.
"""

from __future__ import annotations

import sys

from _common import FREE_THREADED, measure, report


class Marker:
    pass


kept: list[object] = []


def workload() -> None:
    kept.append([Marker])


def main() -> None:
    n = int(sys.argv[1])
    tracked = {"Marker": Marker}
    for _ in range(n):
        workload()
    before_a = measure(tracked)
    for _ in range(n):
        workload()
    after_a = measure(tracked)
    for _ in range(n):
        workload()
    after_b = measure(tracked)
    report(iterations=n, before_a=before_a, after_a=after_a, after_b=after_b,
           free_threaded=FREE_THREADED)


if __name__ == "__main__":
    main()
