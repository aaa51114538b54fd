"""README.md is assembled from docs/readme/*.md and opens with the two set-up commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_is_assembled_from_parts():
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "assemble_readme.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout


def test_readme_quick_start_and_command_sections():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make demo" in quick and "make test" in quick
    for command in (
        "synth",
        "index",
        "build",
        "validate",
        "score",
        "export",
        "probe",
        "flops",
        "finetune",
        "plot",
        "report",
        "view",
        "merge",
        "ls",
    ):
        assert f"mimicgen {command}" in text, command
