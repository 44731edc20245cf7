"""``python -m gcpause demo``: the bundled Lambda-style workload under each GC mode.

Each mode runs in a fresh child interpreter (``demo --child MODE``, hidden),
so its peak RSS (``VmHWM``) is its own: the child builds the documents,
runs one full collection, applies the mode's set-up, starts the recorder
and times ``--repeat`` invocations of the workload (each one like a Lambda
invocation: parse every document, transform it).  The parent prints the
pause report of the "gc on" run and a comparison table.

Modes: ``gc on`` (CPython defaults), ``paused`` / ``young_only`` /
``budget`` (the gcpause scope around each invocation, default ``collect``),
``freeze`` (``gcpause.freeze()`` once after set-up, then GC on).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._errors import GcpauseError
from .run import check_output_path

MODES = ("gc_on", "paused", "young_only", "budget", "freeze")
LABELS = {"gc_on": "gc on", "paused": "paused()", "young_only": "young_only()",
          "budget": "budget()", "freeze": "freeze() + gc on"}
DEFAULT_DOCUMENTS = 8000
DEFAULT_REPEAT = 3
#: budget() objects per document when --budget is not given: above what one invocation
#: allocates (about 60 containers per document), so the budget holds.
BUDGET_PER_DOCUMENT = 100
CHILD_TIMEOUT_S = 600


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _parser() -> Tuple[Callable[[bytes], Any], str]:
    """orjson.loads if orjson is installed, else json.loads; and a label saying which."""
    from .. import _workload

    name, parse = _workload.parser(prefer_orjson=True)
    if name == "json":
        name = "json (stdlib; orjson is not installed)"
    return parse, name


def _peak_rss_bytes() -> Optional[int]:
    # VmHWM first: Linux carries ru_maxrss over fork+exec from the parent.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def run_child(mode: str, documents: int, repeat: int, budget_objects: int,
              seed: int, want_report: bool) -> Dict[str, Any]:
    """One mode in this process (the child side); returns the JSON-ready result."""
    import gc

    import gcpause

    from .. import _workload, report
    from ..control import budget, freeze, paused, young_only
    from ..report import json as json_report
    from ..report import text as text_report

    parse, parser_label = _parser()
    # INIT, as in a Lambda execution environment: build the input and keep a
    # parsed copy alive as module-level reference data (the long-lived heap
    # that every full collection scans, and that freeze() takes out of reach).
    docs = _workload.make_documents(documents, seed)
    reference_data = _workload.run_workload(docs, parse)
    gc.collect()
    freeze_result = None
    if mode == "freeze":
        freeze_result = freeze()

    def scope() -> Any:
        if mode == "paused":
            return paused()
        if mode == "young_only":
            return young_only()
        if mode == "budget":
            return budget(budget_objects)
        return None

    times: List[int] = []
    exceeded = 0
    gcpause.start(65536)
    try:
        for _ in range(repeat):
            t0 = time.perf_counter_ns()
            s = scope()
            if s is None:
                _workload.run_workload(docs, parse)
            else:
                with s:
                    _workload.run_workload(docs, parse)
                exceeded += bool(getattr(s, "exceeded", False))
            times.append(time.perf_counter_ns() - t0)
    finally:
        gcpause.stop()
        if mode == "freeze":
            gc.unfreeze()
    del reference_data
    stats = gcpause.stats()
    result: Dict[str, Any] = {
        "mode": mode,
        "label": f"budget({budget_objects:_})" if mode == "budget" else LABELS[mode],
        "parser": parser_label,
        "times_ns": times,
        "median_ns": int(statistics.median(times)),
        "collections": [g.count for g in stats.generations],
        "total_pause_ns": stats.total_ns,
        "max_pause_ns": stats.max_ns,
        "peak_rss_bytes": _peak_rss_bytes(),
        "frozen": None if freeze_result is None else freeze_result.frozen,
        "budget_exceeded": exceeded if mode == "budget" else None,
    }
    if want_report:
        meta = {"command": f"gcpause demo ({LABELS[mode]}, {documents} documents x {repeat})",
                "environment": report.environment()}
        summary = report.Summary(stats, gcpause.records(), top=5, meta=dict(meta))
        result["report_text"] = text_report.render(summary)
        result["report"] = json_report.build(summary)
    return result


def _fmt_bytes(n: Optional[int]) -> str:
    if n is None:
        return "-"
    return f"{n / 2**20:.0f} MiB" if n >= 10 * 2**20 else f"{n / 2**20:.1f} MiB"


def comparison_table(results: List[Dict[str, Any]]) -> str:
    """The per-mode table, ratios against the "gc on" run's median invocation time."""
    from ..report import fmt_ns

    base = next(r for r in results if r["mode"] == "gc_on")["median_ns"] or 1
    header = ["mode", "time/invocation", "vs gc on", "gen 0", "gen 1", "gen 2",
              "total pause", "longest", "peak RSS"]
    rows = []
    for r in results:
        c = r["collections"]
        rows.append([r["label"], fmt_ns(r["median_ns"]), f"{r['median_ns'] / base:.2f}",
                     str(c[0]), str(c[1]), str(c[2]), fmt_ns(r["total_pause_ns"]),
                     fmt_ns(r["max_pause_ns"]) if sum(c) else "-",
                     _fmt_bytes(r["peak_rss_bytes"])])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        lines.append("  " + "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    return "\n".join(lines)


class _Progress:
    """One self-overwriting status line on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.width = 0

    def show(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write("\r" + text.ljust(self.width))
            sys.stderr.flush()
            self.width = len(text)

    def clear(self) -> None:
        if self.enabled and self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()
            self.width = 0


def _child_command(mode: str, args: argparse.Namespace, want_report: bool) -> List[str]:
    # The child finds this very gcpause first (not one the cwd might shadow), with
    # the rest of sys.path as the parent's interpreter sets it up.
    import gcpause

    root = os.path.dirname(os.path.dirname(os.path.abspath(gcpause.__file__)))
    argv = ["demo", "--child", mode, "--documents", str(args.documents),
            "--repeat", str(args.repeat), "--budget", str(args.budget),
            "--seed", str(args.seed)]
    if want_report:
        argv.append("--child-report")
    code = ("import sys; sys.path[0] = " + repr(root) +
            "; from gcpause.cli import main; sys.exit(main(" + repr(argv) + "))")
    return [sys.executable, "-c", code]


class DemoCommand:
    """Run the bundled Lambda-style workload with GC on and under each control mode."""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.description = (
            "Parse and transform a batch of generated flight-offer JSON documents, as a "
            "Lambda handler would, once per mode in a fresh interpreter: GC on, paused(), "
            "young_only(), budget() and freeze() + GC on. Prints the pause report of the "
            "GC-on run and a table of time, collections, pause and peak memory per mode.")
        parser.add_argument("--documents", type=_positive, default=DEFAULT_DOCUMENTS,
                            metavar="N",
                            help=f"documents per invocation (default {DEFAULT_DOCUMENTS})")
        parser.add_argument("--repeat", type=_positive, default=DEFAULT_REPEAT, metavar="R",
                            help=f"invocations per mode (default {DEFAULT_REPEAT}); the "
                                 "table shows the median")
        parser.add_argument("--budget", type=_positive, default=None, metavar="N",
                            help="objects for the budget() mode (default "
                                 f"{BUDGET_PER_DOCUMENT} per document, enough for one "
                                 "invocation)")
        parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
        parser.add_argument("--json", metavar="FILE",
                            help="write the comparison and the GC-on report as JSON")
        parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
        parser.add_argument("--child-report", action="store_true", help=argparse.SUPPRESS)

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        if args.child:
            result = run_child(args.child, args.documents, args.repeat, args.budget,
                               args.seed, args.child_report)
            sys.stdout.write(json.dumps(result) + "\n")
            return 0
        if args.json is not None:
            check_output_path(args.json, "--json")
        return self._run_parent(args)

    def _run_parent(self, args: argparse.Namespace) -> int:
        if args.budget is None:
            args.budget = min(BUDGET_PER_DOCUMENT * args.documents, 2**31 - 1)
        progress = _Progress()
        results: List[Dict[str, Any]] = []
        t_start = time.perf_counter()
        try:
            for i, mode in enumerate(MODES, 1):
                progress.show(f"gcpause demo: [{i}/{len(MODES)}] {LABELS[mode]}: "
                              f"{args.repeat} x {args.documents} documents ...")
                results.append(self._spawn(mode, args, want_report=(mode == "gc_on")))
        finally:
            progress.clear()
        elapsed = time.perf_counter() - t_start
        gc_on = results[0]
        out = sys.stdout
        out.write(f"gcpause demo: INIT parses {args.documents} flight-offer JSON documents "
                  "and keeps them; each invocation parses and transforms them again.\n"
                  f"{args.repeat} invocations per mode, parser {gc_on['parser']}\n\n")
        out.write(gc_on["report_text"])
        out.write("\ncomparison (each mode in a fresh interpreter; time is the median "
                  "invocation; ratio < 1 is faster than gc on)\n")
        out.write(comparison_table(results) + "\n")
        for r in results:
            if r.get("budget_exceeded"):
                out.write(f"  ({r['label']} was exceeded in {r['budget_exceeded']} of "
                          f"{args.repeat} invocations: raise --budget)\n")
        out.write(f"\ndemo took {elapsed:.1f} s\n")
        if args.json is not None:
            doc = {
                "demo_version": 1,
                "documents": args.documents,
                "repeat": args.repeat,
                "budget": args.budget,
                "parser": gc_on["parser"],
                "modes": [{k: v for k, v in r.items() if k not in ("report", "report_text")}
                          for r in results],
                "gc_on_report": gc_on["report"],
            }
            try:
                with open(args.json, "w", encoding="utf-8") as f:
                    json.dump(doc, f, sort_keys=True, indent=1)
                    f.write("\n")
            except OSError as exc:
                raise GcpauseError(f"cannot write --json {args.json}: "
                                   f"{exc.strerror or exc}") from None
            out.write(f"wrote {args.json}\n")
        return 0

    def _spawn(self, mode: str, args: argparse.Namespace, want_report: bool) -> Dict[str, Any]:
        cmd = _child_command(mode, args, want_report)
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=CHILD_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise GcpauseError(f"demo: mode {LABELS[mode]} took more than "
                               f"{CHILD_TIMEOUT_S} s; try fewer --documents") from None
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            last = err[-1] if err else "no output"
            raise GcpauseError(f"demo: mode {LABELS[mode]} failed (exit {proc.returncode}): "
                               f"{last}")
        try:
            result: Dict[str, Any] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise GcpauseError(f"demo: mode {LABELS[mode]} gave no result") from None
        return result


__all__ = ["DemoCommand", "MODES", "comparison_table", "run_child"]
