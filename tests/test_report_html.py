"""The HTML report: self-contained, and rendered by headless Chromium without console
errors into a non-blank screenshot (``scripts/ensure_chromium.sh`` installs the browser)."""

from __future__ import annotations

import gc
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import List, Tuple

import pytest

import gcpause
from gcpause import Pause
from gcpause.report import Summary, environment
from gcpause.report import html as html_report


class Cycle:
    def __init__(self) -> None:
        self.me = self
        self.pad = [0] * 10


def _summary(impl: object, plan: Tuple[int, ...] = (0, 0, 0, 0, 1, 1, 2), sites: bool = False,
             command: str = "python app.py --flag") -> Summary:
    was = gc.isenabled()
    gc.disable()
    try:
        recorder = getattr(impl, "Recorder", gcpause.Recorder)
        with recorder() as rec:
            for i, g in enumerate(plan):
                for _ in range(300 * (i + 1)):
                    Cycle()
                gc.collect(g)
    finally:
        if was:
            gc.enable()
    meta = {"command": command, "exit_code": 0, "environment": environment()}
    return Summary(rec.stats, rec.pauses, sites=sites, meta=meta)


def test_html_is_self_contained(impl) -> None:
    page = html_report.render(_summary(impl))
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # nothing to fetch: no external reference of any kind (the SVG namespace is not a load)
    without_ns = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for needle in ("http://", "https://", "src=", "href=", "url(", "<link", "@import",
                   "<script"):
        assert needle not in without_ns, needle


def test_html_has_summary_timeline_and_a_histogram_per_generation(impl) -> None:
    summary = _summary(impl)
    page = html_report.render(summary)
    assert page.count("<svg") == 4  # timeline + generations 0, 1, 2
    assert page.count('aria-label="gen ') == 3
    timeline = page.split('aria-label="timeline of GC pauses">')[1].split("</svg>")[0]
    assert timeline.count("<rect") == len(summary.records) == 7
    for g, row in enumerate(summary.generations):
        assert f"gen {g}: {row['count']:,} pause" in page
    assert "GC share of wall time" in page
    assert "python app.py --flag" in page


def test_html_histogram_shows_only_generations_with_pauses(impl) -> None:
    page = html_report.render(_summary(impl, plan=(0, 0)))
    assert page.count("<svg") == 2


def test_html_escapes_program_text(impl) -> None:
    page = html_report.render(_summary(impl, command="python <b>&x.py"))
    assert "<b>&x" not in page and "&lt;b&gt;&amp;x.py" in page


def test_html_bins_large_runs(impl) -> None:
    summary = _summary(impl, plan=(0,))
    base = summary.records[0]
    many = [Pause(i % 3, base.start_ns + i * 1000, 500 + i % 97, 0, 0, base.thread_id)
            for i in range(html_report.MAX_MARKS + 500)]
    page = html_report.render(Summary(summary.stats, many))
    timeline = page.split('aria-label="timeline of GC pauses">')[1].split("</svg>")[0]
    bars = timeline.count("<rect")
    assert 0 < bars <= 3 * html_report.TL_WIDTH
    assert "each bar is the longest pause of its pixel column" in page


def test_html_lists_sites_when_enabled(impl) -> None:
    summary = _summary(impl, plan=(0,))
    p = summary.records[0]
    with_site = Pause(*p, None, "app.py:12 (<lambda>)")
    page = html_report.render(Summary(summary.stats, [with_site], sites=True))
    assert "Top trigger sites by total pause" in page
    assert "app.py:12 (&lt;lambda&gt;)" in page


# -- in a real browser ------------------------------------------------------------------

def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _browse(browser: str, page: Path, png: Path, profile: Path) -> Tuple[int, List[str]]:
    """Open ``page`` headless, screenshot it; return (exit code, console lines)."""
    cmd = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", f"--screenshot={png}",
           "--window-size=1200,900", page.resolve().as_uri()]
    # The browser is not ours to sanitize: drop a sanitizer preload
    # (scripts/sanitize.sh runs the suite with LD_PRELOAD=libasan).
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180,
                          check=False, env=env)
    err = proc.stderr.decode(errors="replace")
    return proc.returncode, [ln for ln in err.splitlines() if ":CONSOLE" in ln]


def _png_pixels(data: bytes) -> Tuple[int, int, List[bytes]]:
    """Width, height and rows of pixels (bytes per pixel 3 or 4) of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert ihdr is not None
    width, height, depth, color, _, _, interlace = ihdr
    assert depth == 8 and color in (2, 6) and interlace == 0, ihdr
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: List[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        else:
            assert ftype == 0, ftype
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r) for r in rows]


def _colour_stats(png: bytes) -> Tuple[int, float]:
    """(distinct colours, share of pixels that differ from the most common colour)."""
    width, height, rows = _png_pixels(png)
    bpp = len(rows[0]) // width
    counts: dict[bytes, int] = {}
    for row in rows:
        for x in range(0, len(row), bpp):
            px = row[x:x + 3]
            counts[px] = counts.get(px, 0) + 1
    background = max(counts.values())
    return len(counts), 1 - background / (width * height)


@pytest.mark.slow
def test_html_renders_in_headless_chromium_without_console_errors(tmp_path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium not found on PATH (scripts/ensure_chromium.sh installs it)")
    # GIVEN a report with pauses in every generation
    summary = _summary(gcpause, sites=True)
    page = tmp_path / "report.html"
    html_report.write(summary, str(page))
    # and a control page whose script errors, to prove console errors are seen
    control = tmp_path / "control.html"
    control.write_text("<!DOCTYPE html><html><body><p>x</p><script>"
                       "throw new Error('gcpause-control-error')</script></body></html>")

    # WHEN chromium opens both
    rc_control, console_control = _browse(browser, control, tmp_path / "control.png",
                                          tmp_path / "profile1")
    rc, console = _browse(browser, page, tmp_path / "shot.png", tmp_path / "profile2")

    # THEN the control's error is reported, the report's page logs nothing
    assert rc_control == 0 and any("gcpause-control-error" in ln for ln in console_control)
    assert rc == 0
    assert console == []
    # and the screenshot shows a drawn page, not a blank one
    png = (tmp_path / "shot.png").read_bytes()
    if os.environ.get("GCPAUSE_KEEP_SCREENSHOT"):
        shutil.copy(tmp_path / "shot.png", os.environ["GCPAUSE_KEEP_SCREENSHOT"])
    colours, ink = _colour_stats(png)
    assert colours > 16, colours
    assert ink > 0.02, ink


def test_png_decoder_reads_a_known_image() -> None:
    # 2x2 RGB: red, green / blue, white, each row with a different filter (Sub, Paeth)
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    row0 = bytes([1, 255, 0, 0, (0 - 255) & 0xFF, 255, 0])  # Sub: green - red
    # Paeth for row 1: predictor of the first pixel is up (b) since a = c = 0
    blue, white = (0, 0, 255), (255, 255, 255)
    up0, up1 = (255, 0, 0), (0, 255, 0)
    first = [(blue[i] - up0[i]) & 0xFF for i in range(3)]
    second = []
    for i in range(3):
        a, b, c = blue[i], up1[i], up0[i]
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        second.append((white[i] - pred) & 0xFF)
    row1 = bytes([4, *first, *second])
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row0 + row1)) + chunk(b"IEND", b""))
    width, height, rows = _png_pixels(data)
    assert (width, height) == (2, 2)
    assert rows == [bytes([255, 0, 0, 0, 255, 0]), bytes([0, 0, 255, 255, 255, 255])]
    assert _colour_stats(data) == (4, 0.75)
