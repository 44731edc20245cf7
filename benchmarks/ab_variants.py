"""Where the C recorder's time goes: csrc/ built in variants, loaded side by side, timed.

Each variant is a copy of csrc/ with one part of the GC callback replaced (the two counter
reads, the stop-dict read, the ring write, the aggregates), compiled with this
interpreter's compiler settings into its own ``_core`` and loaded under the name
``gcpause._core`` from its own file, so all run in one process. The timing is
bench_overhead.py's: N ``gc.collect(0)`` on an empty young generation per sample, the
variants (plus no callback, ``operator.is_`` and an empty Python function) interleaved
in each round in an order rotated every round, medians over rounds. ``--processes K``
repeats the whole measurement in K fresh processes, because code and data placement moves
single-process results by a few ns.

    python benchmarks/ab_variants.py                  # this interpreter (needs its C compiler)
    chroot <tree> /v314/bin/python /src/benchmarks/ab_variants.py --processes 3

A replacement that no longer matches the source fails loudly: update VARIANTS with csrc/.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import functools
import importlib.util
import operator
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from types import ModuleType

import _meta  # benchmarks/_meta.py, beside this script
from bench_overhead import Variants, callbacks, empty, time_variants

CSRC = os.path.join(_meta.ROOT, "csrc")

Edits = list[tuple[str, str, str]]  # [(file in csrc/, exact text, replacement)]

NO_DICT_READ: Edits = [
    ("module.c", "    bad = read_info(st, info, &gen, &collected, &uncollectable, &cpy);",
     "    bad = 0; gen = 0; collected = st->info_fast; (void)info; (void)read_info;"),
]
NO_AGGREGATES: Edits = [
    ("module.c", "    for (i = 0; i < st->n_active; i++) {\n        agg_add",
     "    for (i = 0; i < 0 * st->n_active; i++) {\n        agg_add"),
]
# Lower-bound experiments, not recorders one could ship: one set of aggregates at a fixed
# address (a file-scope array: no window loop, no pointer chase, but no windows either) and
# the stop dict read on its layout alone, without comparing its keys.
FIXED_AGGREGATES: Edits = [
    ("module.c", "static GCP_INLINE void\nrecord_stop(",
     "static struct { int64_t c, t, m, co, un; uint64_t h[GCP_HIST_BUCKETS]; } acc_[GCP_SLOTS];\n"
     "static GCP_INLINE void\nrecord_stop("),
    ("module.c", "    for (i = 0; i < st->n_active; i++) {\n"
     "        agg_add(&st->active[i]->slot[slot], dur, collected, uncollectable,\n"
     "                bucket);\n    }\n",
     "    (void)i; { __typeof__(&acc_[0]) a_ = &acc_[slot]; a_->c++; a_->t += dur;\n"
     "      a_->m = dur > a_->m ? dur : a_->m; a_->co += collected; a_->un += uncollectable;\n"
     "      a_->h[bucket]++; }\n"),
]
NO_KEY_CHECKS: Edits = [
    ("module.c", "        && str_key_is(k[0], st->hash_generation, 10)\n"
     "        && str_key_is(k[1], st->hash_collected, 9)\n"
     "        && str_key_is(k[2], st->hash_uncollectable, 13)\n", "        && k[0] != NULL\n"),
]

VARIANTS: dict[str, Edits] = {
    "recorder": [],
    "no counter reads": [
        ("module.c", "        st->t_start = tc_now(&st->clk);                   /* last */",
         "        st->t_start = st->clk.ticking ? st->clk.a_ticks + 1 : tc_now(&st->clk);"),
        ("module.c", "    return hook_stop(st, info, h->which, tc_now(&st->clk));",
         "    return hook_stop(st, info, h->which,\n"
         "                     st->clk.ticking ? st->clk.a_ticks + 2 : tc_now(&st->clk));"),
    ],
    "timing only": [
        ("module.c", "    record_stop(st, info, t_stop);\n",
         "    { int64_t s_, d_; tc_stop_times(&st->clk, st->t_start, t_stop, &s_, &d_);\n"
         "      st->next_seq += (uint64_t)(s_ + d_); (void)record_stop; }\n"),
    ],
    "no dict read": NO_DICT_READ,
    "no ring write": [
        ("module.c", "    r = &st->ring[st->ring_pos];\n", "    r = &st->ring[st->ring_pos];\n    if (0) {\n"),
        ("module.c", "        r->site_line = st->pending_line;\n    }\n",
         "        r->site_line = st->pending_line;\n    }\n    }\n"),
    ],
    "no aggregates": NO_AGGREGATES,
    # The least a recorder that keeps records can do: both stamps and the ring write.
    "no dict read + no aggregates": NO_DICT_READ + NO_AGGREGATES,
    "fixed aggregates": FIXED_AGGREGATES,
    "fixed aggregates + no key checks": FIXED_AGGREGATES + NO_KEY_CHECKS,
}


def variant_dir(workdir: str, name: str) -> str:
    return os.path.join(workdir, name.replace(" ", "_"))


def apply(name: str, edits: Edits, workdir: str) -> str:
    """Copy csrc/ to workdir/<name> and make the variant's edits there, in order."""
    src = variant_dir(workdir, name)
    shutil.copytree(CSRC, src)
    for fname, old, new in edits:
        path = os.path.join(src, fname)
        with open(path) as f:
            text = f.read()
        if text.count(old) != 1:
            raise SystemExit(f"variant {name!r}: {fname} no longer contains exactly one "
                             f"{old.strip()[:60]!r}; update VARIANTS")
        with open(path, "w") as f:
            f.write(text.replace(old, new))
    return src


def build(name: str, edits: Edits, workdir: str) -> str:
    src = apply(name, edits, workdir)
    out = os.path.join(src, "_core" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    cv = sysconfig.get_config_var
    cmd = (shlex.split(cv("CC") or "cc") + shlex.split(cv("CFLAGS") or "")
           + shlex.split(cv("CCSHARED") or "") + ["-Wno-unused-function", "-shared",
           "-I" + sysconfig.get_paths()["include"], os.path.join(src, "module.c"), "-o", out])
    subprocess.run(cmd, check=True)
    return out


def load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("gcpause._core", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def measure(mods: dict[str, ModuleType], n: int, rounds: int) -> dict[str, float]:
    variants: Variants = {"none": callbacks(), "floor: operator.is_": callbacks(operator.is_),
                          "empty Python function": callbacks(empty)}
    for name, mod in mods.items():
        variants[name] = (functools.partial(mod.start, 4096), mod.stop)
    samples = time_variants(variants, n, rounds)
    floor = samples["floor: operator.is_"]
    return {k: statistics.median(a - f for a, f in zip(v, floor))
            for k, v in samples.items() if k != "none"}


def child(n: int, rounds: int, workdir: str, names: list[str]) -> dict[str, float]:
    mods = {}
    for name in names:
        path = os.path.join(variant_dir(workdir, name),
                            "_core" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
        mods[name] = load(path)
    return measure(mods, n, rounds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=5_000, help="collections per sample")
    ap.add_argument("--rounds", type=int, default=201)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--only", metavar="NAME,...",
                    help="time only these variants (comma-separated; fewer loaded copies "
                         "move results less)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"--only: unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    if args.child:
        print(repr(child(args.n, args.rounds, args.child, names)))
        return 0
    with tempfile.TemporaryDirectory(prefix="gcpause-ab-") as workdir:
        for name in names:
            build(name, VARIANTS[name], workdir)
        runs = []
        for _ in range(args.processes):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "-n", str(args.n),
                                  "--rounds", str(args.rounds), "--child", workdir]
                                 + (["--only", args.only] if args.only else []),
                                 capture_output=True, text=True, check=True).stdout
            runs.append(ast.literal_eval(out.strip().splitlines()[-1]))
    print(f"CPython {sys.version.split()[0]}: ns added per gc.collect(0) over the "
          f"operator.is_ floor, median of {args.rounds} rounds x {args.n}, "
          f"one column per process, then their median")
    for name in runs[0]:
        print(f"  {name:33s}" + "".join(f"{r[name]:+8.1f}" for r in runs)
              + f"  | {statistics.median(r[name] for r in runs):+6.1f}")
    m = _meta.machine()
    print(f"machine: {m['node']}, {m['cpu']}; date: "
          f"{datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}; "
          f"commit: {_meta.commit()}; command: python benchmarks/ab_variants.py "
          + shlex.join(sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
