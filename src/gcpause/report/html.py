"""The HTML report (``--html FILE``): one self-contained file, no network.

Inline CSS and SVG only (no script, no font, no image URL), guarded by a
Content-Security-Policy that forbids every load, so the file opens the same
offline, from a CI artifact or a Lambda's /tmp.  Contents: the summary
table, a timeline of pauses over the run (bar height = pause, colour =
generation; above ``MAX_MARKS`` records, bars are the per-column maximum),
a histogram per generation, the longest pauses and top trigger sites.
Hover any bar for its numbers (SVG ``<title>``).
"""

from __future__ import annotations

from html import escape

from . import PERCENTILES, Summary, fmt_edge, fmt_ns, fmt_share

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COLORS = ("#4e79a7", "#f28e2b", "#e15759")
MAX_MARKS = 3000
TL_WIDTH, TL_HEIGHT = 1000, 240
PAD_L, PAD_R, PAD_T, PAD_B = 70, 20, 14, 36

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;
background:#fff;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#555;margin:2px 0}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:3px 10px;border-bottom:1px solid #e4e4e4;text-align:right}
th{background:#f4f5f7}td.l,th.l{text-align:left}
.share{font-size:16px;margin:12px 0}.share b{font-size:20px}
svg{display:block;background:#fbfbfc;border:1px solid #e4e4e4}
svg text{font:11px sans-serif;fill:#444}
.legend span{display:inline-block;margin-right:16px}
.legend i,td i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px}
.hists{display:flex;flex-wrap:wrap;gap:16px}.note{color:#666;font-size:13px}
.anom{background:#fff4e5;border:1px solid #f0c36d;padding:8px 12px}
"""


def _fmt_num(n: int) -> str:
    return f"{n:,}"


def _axis_time_ticks(total_ns: int, n: int = 6) -> list[int]:
    """Round tick positions (ns) from 0 to ``total_ns``."""
    if total_ns <= 0:
        return [0]
    raw = total_ns / n
    mag = 10 ** (len(str(int(raw))) - 1)
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return list(range(0, total_ns + 1, int(step)))


def _summary_table(summary: Summary) -> str:
    head = ["", "count", "total", "mean", *(f"p{q}" for q in PERCENTILES), "max",
            "collected", "uncollectable"]
    rows = []
    named: list[tuple[str, dict[str, Any]]] = [
        (f"gen {g['generation']}", g) for g in summary.generations]
    named.append(("all", summary.overall))
    for name, g in named:
        if g["count"]:
            cells = [_fmt_num(g["count"]), fmt_ns(g["total_ns"]), fmt_ns(g["mean_ns"]),
                     *(fmt_ns(g[f"p{q}_ns"]) for q in PERCENTILES), fmt_ns(g["max_ns"]),
                     _fmt_num(g["collected"]), _fmt_num(g["uncollectable"])]
        else:
            cells = ["0"] + ["-"] * (len(head) - 2)
        color = ""
        if name.startswith("gen "):
            color = f'<i style="background:{COLORS[int(name[4])]}"></i> '
        rows.append(f'<tr><td class="l">{color}{name}</td>'
                    + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    th = "".join(f'<th class="l">{h}</th>' if i == 0 else f"<th>{h}</th>"
                 for i, h in enumerate(head))
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _timeline(summary: Summary) -> str:
    st = summary.stats
    recs = summary.records
    w, h = TL_WIDTH, TL_HEIGHT
    iw, ih = w - PAD_L - PAD_R, h - PAD_T - PAD_B
    span = max(st.wall_ns, max((summary.offset_ns(p) + p.duration_ns for p in recs), default=0),
               1)
    ymax = max((p.duration_ns for p in recs), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="img" aria-label="timeline of GC pauses">']
    # axes and ticks
    x0, y0 = PAD_L, PAD_T + ih
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0 + iw}" y2="{y0}" stroke="#888"/>')
    parts.append(f'<line x1="{x0}" y1="{PAD_T}" x2="{x0}" y2="{y0}" stroke="#888"/>')
    for t in _axis_time_ticks(span):
        x = x0 + iw * t / span
        parts.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + 4}" stroke="#888"/>'
                     f'<text x="{x:.1f}" y="{y0 + 16}" text-anchor="middle">'
                     f"{escape(fmt_edge(t) if t else '0')}</text>")
    for frac in (0.5, 1.0):
        y = y0 - ih * frac
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + iw}" y2="{y:.1f}" '
                     f'stroke="#e6e6e6"/><text x="{x0 - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{escape(fmt_ns(ymax * frac))}</text>')
    parts.append(f'<text x="{x0 - 6}" y="{y0 + 4}" text-anchor="end">0</text>')
    parts.append(f'<text x="{x0 + iw / 2}" y="{h - 4}" text-anchor="middle">'
                 "time since start of recording</text>")
    if len(recs) <= MAX_MARKS:
        for p in sorted(recs, key=lambda p: p.duration_ns, reverse=True):
            x = x0 + iw * summary.offset_ns(p) / span
            bh = max(1.0, ih * p.duration_ns / ymax)
            g = p.generation if 0 <= p.generation <= 2 else 2
            tip = (f"gen {p.generation}: {fmt_ns(p.duration_ns)} at "
                   f"{summary.offset_ns(p) / 1e9:.3f} s, collected {p.collected}")
            site = summary.site_of(p)
            if site:
                tip += f", {summary.short_site(site)}"
            parts.append(f'<rect x="{x:.2f}" y="{y0 - bh:.2f}" width="1.5" height="{bh:.2f}" '
                         f'fill="{COLORS[g]}"><title>{escape(tip)}</title></rect>')
    else:
        cols: dict[tuple[int, int], list[int]] = {}
        for p in recs:
            c = min(iw - 1, int(iw * summary.offset_ns(p) / span))
            g = p.generation if 0 <= p.generation <= 2 else 2
            cell = cols.setdefault((c, g), [0, 0])
            cell[0] += 1
            cell[1] = max(cell[1], p.duration_ns)
        for (c, g), (n, mx) in sorted(cols.items(), key=lambda kv: -kv[1][1]):
            bh = max(1.0, ih * mx / ymax)
            tip = f"gen {g}: {n} pauses, longest {fmt_ns(mx)}"
            parts.append(f'<rect x="{x0 + c}" y="{y0 - bh:.2f}" width="1" height="{bh:.2f}" '
                         f'fill="{COLORS[g]}"><title>{escape(tip)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram_svg(summary: Summary, gen: int, rows: list[tuple[int, int, list[int]]]) -> str:
    w, h = 340, 200
    pl, pr, pt, pb = 40, 10, 22, 48
    iw, ih = w - pl - pr, h - pt - pb
    counts = [r[2][gen] for r in rows]
    peak = max(counts, default=0) or 1
    bw = iw / max(len(rows), 1)
    g = summary.generations[gen]
    title = f"gen {gen}: {_fmt_num(g['count'])} pause{'s' if g['count'] != 1 else ''}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">',
             f'<text x="{pl}" y="15" style="font-weight:bold">{escape(title)}</text>',
             f'<line x1="{pl}" y1="{pt + ih}" x2="{pl + iw}" y2="{pt + ih}" stroke="#888"/>',
             f'<text x="{pl - 4}" y="{pt + 8}" text-anchor="end">{peak}</text>',
             f'<text x="{pl - 4}" y="{pt + ih}" text-anchor="end">0</text>']
    for i, (low, high, _) in enumerate(rows):
        n = counts[i]
        x = pl + i * bw
        if n:
            bh = max(1.0, ih * n / peak)
            parts.append(f'<rect x="{x + 1:.1f}" y="{pt + ih - bh:.1f}" '
                         f'width="{max(bw - 2, 1):.1f}" height="{bh:.1f}" fill="{COLORS[gen]}">'
                         f"<title>{escape(fmt_edge(low))} - {escape(fmt_edge(high))}: {n}"
                         "</title></rect>")
        if i % max(1, -(-len(rows) // 5)) == 0:
            parts.append(f'<text x="{x:.1f}" y="{pt + ih + 14}" text-anchor="middle">'
                         f"{escape(fmt_edge(low))}</text>")
    parts.append(f'<text x="{pl + iw / 2}" y="{h - 6}" text-anchor="middle">pause</text>')
    parts.append("</svg>")
    return "".join(parts)


def _longest_table(summary: Summary) -> str:
    longest = summary.longest()
    if not longest:
        return "<p>No collection was recorded.</p>"
    with_sites = summary.sites_enabled
    head = ["#", "pause", "gen", "at", "collected", "uncollectable", "thread"]
    if with_sites:
        head.append("site")
    out = ["<table><thead><tr>" + "".join(
        f'<th class="l">{h}</th>' if h in ("thread", "site") else f"<th>{h}</th>"
        for h in head) + "</tr></thead><tbody>"]
    for i, p in enumerate(longest, 1):
        cells = [str(i), fmt_ns(p.duration_ns), str(p.generation),
                 f"{summary.offset_ns(p) / 1e9:.3f} s", _fmt_num(p.collected),
                 _fmt_num(p.uncollectable)]
        row = "".join(f"<td>{escape(c)}</td>" for c in cells)
        row += f'<td class="l">{escape(summary.thread_label(p.thread_id))}</td>'
        if with_sites:
            site = summary.site_of(p)
            shown = "?" if site is None else summary.short_site(site)
            row += f'<td class="l">{escape(shown)}</td>'
        out.append(f"<tr>{row}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _sites_table(summary: Summary) -> str:
    top = summary.top_sites()
    if not top:
        return "<p>No trigger site was captured.</p>"
    out = ['<table><thead><tr><th>total</th><th>count</th><th>max</th><th>gen 0/1/2</th>'
           '<th class="l">site</th></tr></thead><tbody>']
    for s in top:
        out.append(f"<tr><td>{fmt_ns(s['total_ns'])}</td><td>{s['count']}</td>"
                   f"<td>{fmt_ns(s['max_ns'])}</td>"
                   f"<td>{'/'.join(str(n) for n in s['generations'])}</td>"
                   f'<td class="l">{escape(summary.short_site(s["site"]))}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def render(summary: Summary) -> str:
    """The complete HTML document as a string."""
    st = summary.stats
    meta = summary.meta
    env: dict[str, Any] = meta.get("environment") or {}
    title = "gcpause report" + (f": {meta['command']}" if meta.get("command") else "")
    info = []
    if env:
        impl = str(env.get("implementation", "?"))
        info.append(f"recorder {impl}, {env.get('python_implementation', 'Python')} "
                    f"{env.get('python_version', '?')}, gc thresholds "
                    f"{tuple(env.get('gc_threshold', ()))}, gcpause "
                    f"{env.get('gcpause_version', '?')}")
    if meta.get("exit_code") is not None:
        info.append(f"exit code {meta['exit_code']}")
    legend = "".join(f'<span><i style="background:{c}"></i>gen {g}</span>'
                     for g, c in enumerate(COLORS))
    rows = summary.histogram()
    body = [
        f"<h1>{escape(title)}</h1>",
        *(f'<p class="meta">{escape(line)}</p>' for line in info),
        f'<p class="share">GC share of wall time: <b>{escape(fmt_share(st.gc_share))}</b> '
        f"({escape(fmt_ns(st.total_ns))} of {escape(fmt_ns(st.wall_ns))}, "
        f"{_fmt_num(st.count)} collections)</p>",
        "<h2>Summary</h2>", _summary_table(summary),
        "<h2>Timeline</h2>", f'<p class="legend">{legend}</p>',
    ]
    if summary.records:
        body.append(_timeline(summary))
        if len(summary.records) > MAX_MARKS:
            body.append(f'<p class="note">{_fmt_num(len(summary.records))} pauses: each bar is '
                        "the longest pause of its pixel column and generation.</p>")
    else:
        body.append("<p>No collection was recorded.</p>")
    if st.overwritten:
        body.append(f'<p class="note">The ring kept the newest {_fmt_num(len(summary.records))}'
                    f" records; {_fmt_num(st.overwritten)} older ones were overwritten "
                    "(timeline, longest pauses and sites cover the kept ones; the summary "
                    "and histograms cover all).</p>")
    if rows:
        body.append("<h2>Pause histogram per generation</h2>")
        body.append('<div class="hists">' + "".join(
            _histogram_svg(summary, g, rows) for g in range(3)
            if summary.generations[g]["count"]) + "</div>")
    body += ["<h2>Longest pauses</h2>", _longest_table(summary)]
    if summary.sites_enabled:
        body += ["<h2>Top trigger sites by total pause</h2>", _sites_table(summary)]
    anomalies = summary.anomalies
    if anomalies:
        body.append('<h2>Anomalies</h2><div class="anom">' + "<br>".join(
            f"{escape(k)}: {v}" for k, v in sorted(anomalies.items())) + "</div>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body) + "\n</body></html>\n")


def write(summary: Summary, path: str) -> None:
    """Write ``render(summary)`` to ``path`` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(summary))
