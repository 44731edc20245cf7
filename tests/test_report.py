"""The text report and the Summary behind every report, checked against the recorder's Stats."""

from __future__ import annotations

import gc
import re
from typing import Iterator, List, Tuple

import pytest

from gcpause import Pause, Stats
from gcpause.report import (EDGES_NS, Summary, bucket_of, display_histogram, fmt_edge, fmt_ns,
                            fmt_share)
from gcpause.report import text as text_report


class Cycle:
    def __init__(self) -> None:
        self.me = self


def _make_garbage(n: int = 200) -> None:
    for _ in range(n):
        Cycle()


def _recorded(impl, plan: Tuple[int, ...] = (0, 0, 0, 1, 1, 2)) -> Tuple[Stats, List[Pause]]:
    """Stats and pauses of a Recorder window holding exactly one collection per plan entry."""
    was = gc.isenabled()
    gc.disable()
    try:
        with impl.Recorder() as rec:
            for g in plan:
                _make_garbage()
                gc.collect(g)
    finally:
        if was:
            gc.enable()
    return rec.stats, rec.pauses


@pytest.fixture
def recording(impl) -> Iterator[Tuple[Stats, List[Pause]]]:
    yield _recorded(impl)


# -- units -----------------------------------------------------------------------------

@pytest.mark.parametrize("ns, text", [
    (0, "0 ns"), (999, "999 ns"), (1_000, "1.00 µs"), (12_340, "12.3 µs"),
    (99_949, "99.9 µs"), (123_456, "123 µs"), (999_500, "1.00 ms"), (59_000_000, "59.0 ms"),
    (1_100_000_000, "1.10 s"), (1234e9, "1234 s"),
])
def test_fmt_ns_uses_human_units_with_three_significant_digits(ns: float, text: str) -> None:
    assert fmt_ns(ns) == text


@pytest.mark.parametrize("ns, text", [(1_000, "1 µs"), (20_000, "20 µs"), (500_000_000, "500 ms"),
                                      (2 * 10**9, "2 s"), (10**12, "1000 s")])
def test_fmt_edge_prints_round_edges(ns: int, text: str) -> None:
    assert fmt_edge(ns) == text


def test_fmt_share_is_a_percentage() -> None:
    assert fmt_share(0.0371) == "3.71 %"
    assert fmt_share(0) == "0.00 %"
    assert fmt_share(0.000012) == "0.0012 %"


def test_bucket_of_respects_edges() -> None:
    assert bucket_of(0) == 0
    assert bucket_of(EDGES_NS[0] - 1) == 0
    for i, edge in enumerate(EDGES_NS[:-1]):
        assert bucket_of(edge) == i
        assert bucket_of(EDGES_NS[i + 1] - 1) == i
    assert bucket_of(10**15) == len(EDGES_NS) - 2


# -- Summary against Stats -----------------------------------------------------------

def test_summary_figures_equal_the_recorders_stats(recording) -> None:
    stats, pauses = recording
    s = Summary(stats, pauses)
    assert [g["count"] for g in s.generations] == [3, 2, 1]
    for g, row in enumerate(s.generations):
        gs = stats.generations[g]
        assert row["generation"] == g
        assert row["count"] == gs.count
        assert row["total_ns"] == gs.total_ns
        assert row["max_ns"] == gs.max_ns
        assert row["mean_ns"] == round(gs.mean_ns)
        assert (row["p50_ns"], row["p90_ns"], row["p99_ns"]) == (
            gs.percentile(50), gs.percentile(90), gs.percentile(99))
        assert (row["collected"], row["uncollectable"]) == (gs.collected, gs.uncollectable)
    assert s.overall["count"] == stats.count == len(pauses) == 6
    assert s.overall["total_ns"] == stats.total_ns == sum(p.duration_ns for p in pauses)


def test_histogram_counts_add_up_to_each_generation(recording) -> None:
    stats, pauses = recording
    rows = Summary(stats, pauses).histogram()
    for g in range(3):
        assert sum(r[2][g] for r in rows) == stats.generations[g].count
    # contiguous display buckets from the first to the last used one
    for (_, high, _), (low, _, _) in zip(rows, rows[1:]):
        assert high == low
    assert any(rows[0][2]) and any(rows[-1][2])


def test_display_histogram_places_each_pause_in_its_bucket(impl) -> None:
    # A pause well inside a bucket (not within 1 % of an edge) lands in that bucket.
    stats, pauses = _recorded(impl, (0, 1, 2, 2))
    for g in range(3):
        hist = display_histogram(stats.generations[g])
        expected: dict[int, int] = {}
        for p in pauses:
            b = bucket_of(p.duration_ns)
            if p.generation == g and all(abs(p.duration_ns - e) > e / 50 for e in EDGES_NS):
                expected[b] = expected.get(b, 0) + 1
        for b, n in expected.items():
            assert hist.get(b, 0) >= n


def test_longest_are_sorted_and_start_with_the_maximum(recording) -> None:
    stats, pauses = recording
    s = Summary(stats, pauses, top=4)
    longest = s.longest()
    assert len(longest) == 4
    assert longest[0].duration_ns == stats.max_ns
    assert [p.duration_ns for p in longest] == sorted((p.duration_ns for p in longest),
                                                      reverse=True)
    assert all(s.offset_ns(p) >= 0 for p in longest)
    assert Summary(stats, pauses, top=0).longest() == []


def _fake(gen: int, start: int, dur: int, site: str | None) -> Pause:
    return Pause(gen, start, dur, 1, 0, 1, None, site)


def _fake_stats(pauses: List[Pause], impl) -> Stats:
    # Stats of an empty window: the site aggregation only reads records.
    with impl.Recorder() as rec:
        pass
    return rec.stats


def test_top_sites_rank_by_total_pause(impl) -> None:
    pauses = [_fake(0, 1, 100, "a.py:1 (f)"), _fake(0, 2, 100, "a.py:1 (f)"),
              _fake(2, 3, 150, "b.py:2 (g)"), _fake(1, 4, 10, "c.py:3 (h)"),
              _fake(0, 5, 999, None)]
    s = Summary(_fake_stats(pauses, impl), pauses, sites=True, top=2)
    assert s.top_sites() == [
        {"site": "a.py:1 (f)", "count": 2, "total_ns": 200, "max_ns": 100,
         "generations": [2, 0, 0]},
        {"site": "b.py:2 (g)", "count": 1, "total_ns": 150, "max_ns": 150,
         "generations": [0, 0, 1]},
    ]
    assert s.sites_captured == 4
    out = text_report.render(s)
    section = out.split("top trigger sites by total pause\n")[1]
    assert section.index("a.py:1 (f)") < section.index("b.py:2 (g)")
    assert "c.py:3 (h)" not in section
    # the longest pauses show their site too
    assert "b.py:2 (g)" in out.split("longest pauses")[1].split("top trigger")[0]


def test_sites_section_says_none_captured(recording) -> None:
    stats, pauses = recording
    out = text_report.render(Summary(stats, [p for p in pauses], sites=True))
    if any(getattr(p, "site", None) for p in pauses):
        assert "top trigger sites by total pause" in out
    else:
        assert "top trigger sites: none captured" in out


def test_no_sites_section_without_sites(recording) -> None:
    stats, pauses = recording
    assert "trigger sites" not in text_report.render(Summary(stats, pauses))


# -- the text report -----------------------------------------------------------------

def _row(out: str, label: str) -> List[str]:
    for line in out.splitlines():
        if line.startswith(f"  {label} "):
            return re.split(r"\s{2,}", line.strip())
    raise AssertionError(f"no row {label!r} in\n{out}")


def test_text_report_table_shows_the_stats(recording) -> None:
    stats, pauses = recording
    out = text_report.render(Summary(stats, pauses))
    for label, gs in [("gen 0", stats.generations[0]), ("gen 1", stats.generations[1]),
                      ("gen 2", stats.generations[2]), ("all", stats.overall)]:
        cells = _row(out, label)
        assert cells == [label, str(gs.count), fmt_ns(gs.total_ns), fmt_ns(round(gs.mean_ns)),
                         fmt_ns(gs.percentile(50)), fmt_ns(gs.percentile(90)),
                         fmt_ns(gs.percentile(99)), fmt_ns(gs.max_ns), str(gs.collected),
                         str(gs.uncollectable)]
    assert (f"{stats.count} collections, total pause {fmt_ns(stats.total_ns)} = "
            f"{fmt_share(stats.gc_share)} of wall time") in out
    assert f"wall time {fmt_ns(stats.wall_ns)}" in out


def test_text_report_histogram_and_longest_pauses(recording) -> None:
    stats, pauses = recording
    out = text_report.render(Summary(stats, pauses, top=3))
    hist = out.split("pause histogram\n")[1].split("\n\n")[0].splitlines()[1:]
    totals = [0, 0, 0]
    for line in hist:
        cells = re.split(r"\s{2,}", line.strip())
        for g in range(3):
            totals[g] += int(cells[1 + g])
        if sum(int(c) for c in cells[1:4]):
            assert cells[4].strip("#") == "" and cells[4]
    assert totals == [g.count for g in stats.generations]
    longest = out.split("longest pauses (at = time since start)\n")[1].splitlines()
    first = re.split(r"\s{2,}", longest[1].strip())
    top = max(pauses, key=lambda p: p.duration_ns)
    assert first[:4] == ["1", fmt_ns(top.duration_ns), str(top.generation),
                         f"{(top.start_ns - stats.start_ns) / 1e9:.3f} s"]
    assert len([ln for ln in longest if re.match(r"\s+\d+\s", ln)]) == 3


class _Overwritten:
    """A Stats stand-in reporting ``n`` overwritten records (the shared ring's size is not
    under a test's control)."""

    def __init__(self, stats: Stats, n: int) -> None:
        self._stats, self.overwritten = stats, n

    def __getattr__(self, name: str) -> object:
        return getattr(self._stats, name)


def test_text_report_notes_overwritten_records(recording) -> None:
    stats, pauses = recording
    out = text_report.render(Summary(_Overwritten(stats, 4), pauses[-2:]))  # type: ignore[arg-type]
    assert "the ring kept the newest 2 of 6 records; 4 older ones were overwritten" in out
    assert _row(out, "all")[1] == "6"
    assert "overwritten" not in text_report.render(Summary(stats, pauses))


def test_anomalies_section_only_when_nonzero(recording, impl) -> None:
    stats, pauses = recording
    assert "anomalies" not in text_report.render(Summary(stats, pauses))
    s = Summary(stats, pauses)
    raw_anomalies = {"unpaired_stop": 2}

    class WithAnomalies(Summary):
        @property
        def anomalies(self) -> dict[str, int]:
            return raw_anomalies

    out = text_report.render(WithAnomalies(s.stats, s.records))
    assert "\nanomalies\n  unpaired_stop: 2\n" in out


def test_empty_recording_renders(impl) -> None:
    with impl.Recorder() as rec:
        pass
    out = text_report.render(Summary(rec.stats, rec.pauses))
    assert "0 collections" in out
    assert "pause histogram" not in out and "longest pauses" not in out
    assert _row(out, "all")[1:3] == ["0", "-"]


def test_thread_labels(recording) -> None:
    import threading

    stats, pauses = recording
    s = Summary(stats, pauses, names={})
    assert s.thread_label(threading.main_thread().ident or 0) == "MainThread"
    assert s.thread_label(0x1234) == "thread 0x1234"
    assert Summary(stats, pauses, names={5: "worker"}).thread_label(5) == "worker"
