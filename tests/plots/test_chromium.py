"""End to end: the HTML report opens in headless Chromium, its scripts run cleanly, it renders."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.plots.helpers import MIN_PIXEL_STD, png_stats

# Headless, offline, no profile state: the page must need nothing outside itself.
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip(
            "chromium is not installed (scripts/setup_chromium.sh installs Debian's package "
            "when run as root); skipping the HTML end-to-end check"
        )
    return exe


def _run(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, *_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # slow when the machine is busy


def test_report_renders_in_headless_chromium_without_console_errors(html_report, tmp_path):
    exe = _chromium()
    url = html_report.resolve().as_uri()

    # 1. The page's own script ran to the end and found what it expected (data-selfcheck="OK").
    dom = _run(exe, tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    check = re.search(r'<body[^>]*data-selfcheck="([A-Z]+)"', dom.stdout)
    assert check is not None and check.group(1) == "OK", dom.stdout[:500]
    assert "20 of 20 shown" in dom.stdout

    # 2. Screenshot with console logging on: no uncaught errors, and the page is not blank.
    shot = tmp_path / "shot.png"
    run = _run(
        exe,
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        "--enable-logging=stderr",
        "--v=0",
        url,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    errors = [
        line
        for line in run.stderr.splitlines()
        if "Uncaught" in line or ("CONSOLE" in line and "error" in line.lower())
    ]
    assert not errors, errors
    size, std = png_stats(shot)
    assert size == (1200, 2000)
    assert std > MIN_PIXEL_STD, f"screenshot looks blank (std {std:.1f})"
