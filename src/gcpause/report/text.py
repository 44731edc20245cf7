"""The plain-text pause report printed by ``python -m gcpause run``.

Sections: header, per-generation table (count, total, mean, p50/p90/p99,
max, collected), GC share of wall time, histogram, longest pauses, top
trigger sites (when sites were captured) and anomalies (only when one is
non-zero).  Durations use ``fmt_ns`` units; the output is plain ASCII
apart from "µ".
"""

from __future__ import annotations

from . import PERCENTILES, Summary, fmt_edge, fmt_ns, fmt_share

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BAR_WIDTH = 40


def _table(header: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)) -> list[str]:
    """Columns right-aligned except those in ``left``; two spaces between."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for r in [header, *rows]:
        cells = [c.ljust(w) if i in left else c.rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def gen_table(summary: Summary) -> list[str]:
    header = ["", "count", "total", "mean", *(f"p{q}" for q in PERCENTILES), "max",
              "collected", "uncollectable"]
    rows = []
    named: list[tuple[str, dict[str, Any]]] = [
        (f"gen {g['generation']}", g) for g in summary.generations]
    named.append(("all", summary.overall))
    for name, g in named:
        if g["count"] == 0:
            rows.append([name, "0", "-", "-", *("-" for _ in PERCENTILES), "-", "-", "-"])
            continue
        rows.append([name, str(g["count"]), fmt_ns(g["total_ns"]), fmt_ns(g["mean_ns"]),
                     *(fmt_ns(g[f"p{q}_ns"]) for q in PERCENTILES), fmt_ns(g["max_ns"]),
                     str(g["collected"]), str(g["uncollectable"])])
    return _table(header, rows)


def histogram_lines(summary: Summary, width: int = BAR_WIDTH) -> list[str]:
    rows = summary.histogram()
    if not rows:
        return []
    peak = max(sum(c) for _, _, c in rows)
    body = []
    for low, high, counts in rows:
        total = sum(counts)
        bar = "#" * (0 if total == 0 else max(1, round(width * total / peak)))
        body.append([f"{fmt_edge(low)} - {fmt_edge(high)}", *(str(c) for c in counts),
                     bar])
    return _table(["pause", "gen 0", "gen 1", "gen 2", ""], body, left=(0, 4))


def longest_lines(summary: Summary) -> list[str]:
    longest = summary.longest()
    if not longest:
        return []
    with_sites = summary.sites_enabled and any(summary.site_of(p) for p in longest)
    header = ["#", "pause", "gen", "at", "collected", "uncollectable", "thread"]
    if with_sites:
        header.append("site")
    rows = []
    for i, p in enumerate(longest, 1):
        row = [str(i), fmt_ns(p.duration_ns), str(p.generation),
               f"{summary.offset_ns(p) / 1e9:.3f} s", str(p.collected),
               str(p.uncollectable), summary.thread_label(p.thread_id)]
        if with_sites:
            site = summary.site_of(p)
            row.append("?" if site is None else summary.short_site(site))
        rows.append(row)
    return _table(header, rows, left=(6, 7))


def sites_lines(summary: Summary) -> list[str]:
    top = summary.top_sites()
    rows = [[fmt_ns(s["total_ns"]), str(s["count"]), fmt_ns(s["max_ns"]),
             "/".join(str(n) for n in s["generations"]), summary.short_site(s["site"])]
            for s in top]
    return _table(["total", "count", "max", "gen 0/1/2", "site"], rows, left=(4,))


def render(summary: Summary) -> str:
    """The whole report as one string ending in a newline."""
    st = summary.stats
    meta = summary.meta
    out: list[str] = []
    title = "gcpause report"
    if meta.get("command"):
        title += f": {meta['command']}"
    if meta.get("exit_code") is not None:
        title += f" (exit code {meta['exit_code']})"
    out.append(title)
    env = meta.get("environment") or {}
    if env:
        impl = env.get("implementation", "?")
        if impl == "pure":
            impl += f" ({env.get('import_error', 'C extension unavailable')})"
        thresholds = ", ".join(str(t) for t in env.get("gc_threshold", ()))
        out.append(f"recorder {impl}, {env.get('python_implementation', 'Python')} "
                   f"{env.get('python_version', '?')}, gc thresholds ({thresholds})"
                   + (", sites on" if summary.sites_enabled else ""))
    out.append(f"wall time {fmt_ns(st.wall_ns)}, {st.count} collections, total pause "
               f"{fmt_ns(st.total_ns)} = {fmt_share(st.gc_share)} of wall time")
    out.append("")
    out.extend(gen_table(summary))

    hist = histogram_lines(summary)
    if hist:
        out += ["", "pause histogram"] + hist

    longest = longest_lines(summary)
    if longest:
        out += ["", "longest pauses (at = time since start)"] + longest
        if st.overwritten:
            out.append(f"  (the ring kept the newest {len(summary.records)} of {st.count} "
                       f"records; {st.overwritten} older ones were overwritten: raise "
                       "--ring-size to keep them. Aggregates above cover every pause.)")

    if summary.sites_enabled and summary.top > 0:
        out.append("")
        if summary.sites_captured:
            out.append("top trigger sites by total pause")
            out.extend(sites_lines(summary))
        else:
            out.append("top trigger sites: none captured")

    anomalies = summary.anomalies
    if anomalies:
        out += ["", "anomalies"]
        out += [f"  {k}: {v}" for k, v in sorted(anomalies.items())]
    return "\n".join(out) + "\n"
