# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTML report in a real headless Chromium: it renders, with its diagrams (screenshot not blank).

The page of a diagnosis with a root cause (fw-esp, recorded firewall rules) and an IKE ladder is
opened from a temporary folder with no network; the screenshot is decoded here (PNG, standard
library) and must show the report's colours: the red of the failing check and of the root-cause
box, the green of passing checks, the packet-flow boxes. The image stays in the temporary folder.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib

import pytest

from ansible_collections.netdoctor.ipsec.plugins.plugin_utils import _report_html
from ansible_collections.netdoctor.ipsec.tests.unit.plugins.plugin_utils import rulecases

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    width, height, depth, color, _c, _f, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unsupported PNG {header}"
    channels = 4 if color == 6 else 3
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows, previous, position = [], bytearray(stride), 0
    for _row in range(height):
        kind, line = raw[position], bytearray(raw[position + 1:position + 1 + stride])
        position += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            line[i] = (line[i] + (0, left, up, (left + up) // 2, _paeth(left, up, corner))[kind]) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r) for r in rows] if channels == 3 else [
        b"".join(r[i:i + 3] for i in range(0, len(r), 4)) for r in rows]


def colours(rows: list[bytes]) -> dict[tuple[int, int, int], int]:
    counts: dict[tuple[int, int, int], int] = {}
    for row in rows:
        for i in range(0, len(row), 3):
            key = (row[i], row[i + 1], row[i + 2])
            counts[key] = counts.get(key, 0) + 1
    return counts


def _near(counts: dict[tuple[int, int, int], int], rgb: tuple[int, int, int], tolerance: int = 6) -> int:
    return sum(n for c, n in counts.items() if all(abs(c[i] - rgb[i]) <= tolerance for i in range(3)))


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="no headless Chromium at /usr/bin/chromium")
def test_html_report_renders_with_its_diagrams():
    diagnosis = rulecases.diagnose({"firewall": {"b": "fw-esp"}, "set": {
        "a.capture.ike": [{"time": 1.0, "dir": "out", "response": False, "version": 2, "exchange": "IKE_SA_INIT", "digest": "d1"},
                          {"time": 1.1, "dir": "in", "response": True, "version": 2, "exchange": "IKE_SA_INIT", "digest": "d2"}],
        "b.capture.ike": [{"time": 1.0, "dir": "in", "response": False, "version": 2, "exchange": "IKE_SA_INIT", "digest": "d1"},
                          {"time": 1.05, "dir": "out", "response": True, "version": 2, "exchange": "IKE_SA_INIT", "digest": "d2"}]}})
    folder = tempfile.mkdtemp(prefix="report-shot-")
    try:
        page = os.path.join(folder, "report.html")
        with open(page, "w", encoding="utf-8") as handle:
            handle.write(_report_html.render(diagnosis))
        shot = os.path.join(folder, "shot.png")
        argv = [CHROMIUM, *FLAGS, f"--user-data-dir={os.path.join(folder, 'profile')}", "--window-size=1300,4200",
                "--force-device-scale-factor=0.5", "--hide-scrollbars", f"--screenshot={shot}", f"file://{page}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
        assert os.path.exists(shot), f"no screenshot (rc {done.returncode}): {done.stderr[-2000:]}"
        with open(shot, "rb") as handle:
            width, height, rows = decode_png(handle.read())
        assert (width, height) == (650, 2100)
        counts = colours(rows)
        total = width * height
        white = _near(counts, (255, 255, 255), 3) + _near(counts, (250, 250, 250), 2)
        assert white < 0.97 * total, "the page is (nearly) blank"
        assert len(counts) > 50, "too few colours: nothing rendered"
        assert _near(counts, (0xF6, 0xC6, 0xC2)) > 150, "no red of a failing check / the root-cause box"
        assert _near(counts, (0xD8, 0xF0, 0xD8)) > 500, "no green of passing checks and flow boxes"
        assert _near(counts, (0xB2, 0x22, 0x22), 20) > 50, "no dark red outline of the root cause"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
