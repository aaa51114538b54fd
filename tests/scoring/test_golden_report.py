"""Golden-file test: a 3,000-query synthetic run must reproduce the pre-optimisation outputs.

The golden files were written by the scorer *before* its speed-ups; any change in report.json,
report.md or report.samples.jsonl (even one byte) fails here. Regenerate only for a deliberate
change of scoring rules: ``.venv/bin/python tests/scoring/test_golden_report.py --write``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import msgspec
import numpy as np

from mimicgen.scoring import score_files, write_report

GOLDEN = Path(__file__).parent / "golden"
N = 3000
_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_score.py"


def _make_benchmark():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_score", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_benchmark


def _run(root: Path) -> dict[str, bytes]:
    """Build the synthetic run inside ``root`` (relative paths) and return the three outputs."""
    cwd = os.getcwd()
    os.chdir(root)
    try:
        replies = _make_benchmark()(Path("bench"), N, np.random.default_rng(7))
        # Drop every 50th reply and repeat one id, so missing/duplicate handling is covered.
        rows = [{"id": i, "prediction": p} for k, (i, p) in enumerate(replies) if k % 50 != 1]
        rows.append(rows[0])
        Path("preds.jsonl").write_bytes(b"\n".join(msgspec.json.encode(r) for r in rows) + b"\n")
        samples: list[dict] = []
        report = score_files("bench", ["preds.jsonl"], seed=3, samples=samples)
        write_report(report, "report.json", samples)
        return {
            name: Path(name).read_bytes()
            for name in ("report.json", "report.md", "report.samples.jsonl")
        }
    finally:
        os.chdir(cwd)


def _digests(outputs: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in outputs.items()}


def test_outputs_match_golden(tmp_path: Path) -> None:
    outputs = _run(tmp_path)
    golden_report = (GOLDEN / "synthetic3000.report.json").read_bytes()
    # Compare parsed JSON first for a readable diff, then the exact bytes of every output.
    assert json.loads(outputs["report.json"]) == json.loads(golden_report)
    assert outputs["report.json"] == golden_report
    expected = json.loads((GOLDEN / "synthetic3000.sha256.json").read_text())
    assert _digests(outputs) == expected


if __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = _run(Path(tmp))
    GOLDEN.mkdir(exist_ok=True)
    (GOLDEN / "synthetic3000.report.json").write_bytes(out["report.json"])
    (GOLDEN / "synthetic3000.sha256.json").write_text(
        json.dumps(_digests(out), indent=2, sort_keys=True) + "\n"
    )
    print({k: len(v) for k, v in out.items()})
