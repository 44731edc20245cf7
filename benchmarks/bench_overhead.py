"""Added cost per collection of gcpause's recorders, against the floor every hook pays.

Each variant times N ``gc.collect(0)`` calls on an empty young generation with
GC disabled; variants are interleaved in every round, in an order rotated by
one each round, and each result is the median over rounds of (variant -
same-round baseline without any callback).
The floor is ``operator.is_``, a do-nothing C callable: what any entry in
``gc.callbacks`` costs (CPython builds two info dicts and calls it twice).

Also reports, for the C recorder, how much of the time measured around
``gc.collect()`` in Python its recorded pause covers, on 3.15+ how the
recorded pause compares with CPython's own ``duration``, and how far its
counter clock, mapped to CLOCK_MONOTONIC, is from ``clock_gettime``.

    python benchmarks/bench_overhead.py                 # this interpreter
    python benchmarks/bench_overhead.py --all           # every venv from scripts/venvs.sh,
                                                        # plus Debian's 3.14/3.15 if built
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import operator
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import _meta  # benchmarks/_meta.py, beside this script

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def empty(phase: str, info: dict[str, Any]) -> None:
    pass


Variants = dict[str, tuple[Callable[[], None], Callable[[], None]]]


def callbacks(*items: Any) -> tuple[Callable[[], None], Callable[[], None]]:
    """(setup, teardown) of a variant that leaves exactly `items` in gc.callbacks."""
    return (lambda: gc.callbacks.__setitem__(slice(None), list(items)), gc.callbacks.clear)


def _variants() -> Variants:
    """name -> (setup, teardown); setup leaves gc.callbacks as the variant needs."""
    import gcpause
    from gcpause import _pure

    v: Variants = {
        "none": callbacks(),
        "floor: operator.is_": callbacks(operator.is_),
        "empty Python function": callbacks(empty),
        "gcpause._pure": (lambda: _pure.start(4096), _pure.stop),
    }
    if gcpause.IMPLEMENTATION == "c":
        from gcpause import _core

        v["gcpause._core"] = (lambda: _core.start(4096), _core.stop)
        v["gcpause._core sites=True"] = (lambda: _core.start(4096, True), _core.stop)
    return v


def time_variants(variants: Variants, n: int, rounds: int) -> dict[str, list[float]]:
    """ns per gc.collect(0) of each variant, one sample per round, variants interleaved."""
    samples: dict[str, list[float]] = {k: [] for k in variants}
    collect = gc.collect
    gc.callbacks.clear()
    gc.collect()
    gc.disable()
    try:
        names = list(variants)
        for r in range(rounds):
            # Rotate the order every round, so that no variant always runs
            # right after the same one (the pure recorder, say, leaves caches
            # and branch predictors in another state than the floor does).
            k = r % len(names)
            for name in names[k:] + names[:k]:
                setup, teardown = variants[name]
                setup()
                t0 = time.perf_counter_ns()
                for _ in range(n):
                    collect(0)
                dt = time.perf_counter_ns() - t0
                teardown()
                samples[name].append(dt / n)
    finally:
        gc.enable()
    return samples


def measure(n: int, rounds: int) -> dict[str, Any]:
    samples = time_variants(_variants(), n, rounds)
    base = samples.pop("none")
    added = {k: statistics.median(a - b for a, b in zip(v, base)) for k, v in samples.items()}
    return {"base_ns": statistics.median(base), "added_ns": added}


def measure_fidelity(rounds: int = 200) -> dict[str, Any]:
    """Recorded pause vs time measured around gc.collect() from Python."""
    import gcpause

    keep = [[] for _ in range(50_000)]  # a heap that gives a visible full collection
    gaps, ratios, cpy = [], [], []
    gc.collect()
    gc.disable()
    gcpause.start(4096)
    try:
        for _ in range(rounds):
            t0 = time.monotonic_ns()
            gc.collect(2)
            t1 = time.monotonic_ns()
            p = gcpause.records()[-1]
            gaps.append(t1 - t0 - p.duration_ns)
            ratios.append(p.duration_ns / (t1 - t0))
            if p.cpython_duration_ns is not None:
                cpy.append(p.duration_ns - p.cpython_duration_ns)
    finally:
        gcpause.stop()
        gc.enable()
    del keep
    out = {"outer_minus_recorded_ns_median": statistics.median(gaps),
           "recorded_over_outer_median": statistics.median(ratios),
           "full_collection_ns_median": statistics.median(
               p.duration_ns for p in gcpause.records())}
    if cpy:
        out["recorded_minus_cpython_duration_ns_median"] = statistics.median(cpy)
    return out


def measure_clock(seconds: float = 2.0, pause_s: float = 0.0002) -> dict[str, Any]:
    """How far the C recorder's mapped counter is from clock_gettime: samples of
    _core.clock_error_ns() (anchors maintained as in a stop phase) every pause_s."""
    from gcpause import _core

    errs = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        e = _core.clock_error_ns()
        if e is not None:
            errs.append(e)
        time.sleep(pause_s)
    info = dict(_core.clock_info())
    if not errs:
        return {"info": info, "samples": 0}
    errs.sort()
    n = len(errs)
    return {"info": info, "samples": n, "p1_ns": errs[n // 100],
            "median_ns": errs[n // 2], "p99_ns": errs[n * 99 // 100]}


def run_here(n: int, rounds: int) -> dict[str, Any]:
    import gcpause

    res = measure(n, rounds)
    res["fidelity"] = measure_fidelity() if gcpause.IMPLEMENTATION == "c" else None
    res["clock"] = measure_clock() if gcpause.IMPLEMENTATION == "c" else None
    res.update(python=sys.version.split()[0], implementation=gcpause.IMPLEMENTATION,
               n=n, rounds=rounds)
    return res


def show(res: dict[str, Any]) -> None:
    added = res["added_ns"]
    floor = added["floor: operator.is_"]
    print(f"gc.collect(0) on an empty young gen, CPython {res['python']}, "
          f"median of {res['rounds']} rounds x {res['n']}; base {res['base_ns']:.0f} ns")
    for name, ns in added.items():
        print(f"  {name:28s} +{ns:6.0f} ns  ({ns / floor:.2f})")
    fid = res.get("fidelity")
    if fid:
        print(f"  full collection {fid['full_collection_ns_median'] / 1e3:.0f} µs: recorded "
              f"{fid['recorded_over_outer_median']:.2%} of the time around gc.collect(), "
              f"gap {fid['outer_minus_recorded_ns_median']:.0f} ns")
        if "recorded_minus_cpython_duration_ns_median" in fid:
            print(f"  recorded - CPython's own duration: "
                  f"{fid['recorded_minus_cpython_duration_ns_median']:.0f} ns (median)")
    clk = res.get("clock")
    if clk:
        line = f"  clock: {clk['info']['source']}"
        if clk["samples"]:
            line += (f", mapped - clock_gettime over {clk['samples']} samples: p1 "
                     f"{clk['p1_ns']} ns, median {clk['median_ns']} ns, p99 {clk['p99_ns']} ns")
        print(line)


def interpreters() -> list[list[str]]:
    """Commands that run a Python with gcpause importable, one per local CPython."""
    cmds = []
    out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "venvs.sh")],
                         capture_output=True, text=True, check=True).stdout
    for line in out.split("\n"):
        if line.strip():
            cmds.append([line.split()[1]])
    cache = os.environ.get("GCPAUSE_CACHE", "/var/cache/gcpause")
    tree = os.path.join(cache, "tree-amd64")
    for v in ("314", "315"):
        if os.path.lexists(os.path.join(tree, f"v{v}", "bin", "python")):
            cmds.append(["chroot", tree, f"/v{v}/bin/python"])
    return cmds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20_000, help="collections per sample")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--all", action="store_true", help="every local CPython")
    ap.add_argument("--json", help="write results here ('-' for stdout only)")
    args = ap.parse_args()
    meta = {"machine": _meta.machine(), "commit": _meta.commit(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["python", *sys.argv])}
    if args.all:
        results = []
        for cmd in interpreters():
            if cmd[0] == "chroot":
                # The tree's venv has gcpause installed by scripts/test_in_tree.sh.
                script = "/src/benchmarks/bench_overhead.py"
            else:
                script = os.path.abspath(__file__)
            env = dict(os.environ)
            if cmd[0] != "chroot":
                env["PYTHONPATH"] = os.path.join(ROOT, "src")
            p = subprocess.run([*cmd, script, "-n", str(args.n), "--rounds",
                                str(args.rounds), "--json", "-"],
                               capture_output=True, text=True, env=env, check=False)
            if p.returncode:
                print(f"{' '.join(cmd)} failed:\n{p.stderr}", file=sys.stderr)
                return 1
            res = json.loads(p.stdout.strip().split("\n")[-1])
            show(res)
            results.append(res)
    else:
        results = [run_here(args.n, args.rounds)]
        if args.json == "-":
            print(json.dumps(results[0]))
            return 0
        show(results[0])
    print(f"machine: {meta['machine']['node']}, {meta['machine']['cpu']}; "
          f"date: {meta['date']}; commit: {meta['commit']}; command: {meta['command']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**meta, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
