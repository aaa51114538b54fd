"""SIGTERM/SIGINT during an atomic output: the staging folder is removed and a rerun works.

The CLI runs in a subprocess with a ``sitecustomize`` on PYTHONPATH that wraps
``mimicgen.io.atomic_output_dir``: inside the staging folder it writes a file, says it is ready
and sleeps, so the signal arrives with a half-written output on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

_HOOK = """
import contextlib, os, time
import mimicgen.io as io

_real = io.atomic_output_dir

@contextlib.contextmanager
def _blocked(*args, **kwargs):
    with _real(*args, **kwargs) as staging:
        (staging / "half-written.bin").write_bytes(b"x" * 1000)
        open(os.environ["MIMICGEN_TEST_READY"], "w").close()
        time.sleep(60)
        yield staging

io.atomic_output_dir = _blocked
"""


def _env(tmp_path: Path, hook: bool) -> dict[str, str]:
    env = dict(os.environ, MIMICGEN_PROGRESS="0")
    repo = str(Path(__file__).resolve().parents[2])
    paths = [repo, env.get("PYTHONPATH", "")]
    if hook:
        (tmp_path / "hook").mkdir(exist_ok=True)
        (tmp_path / "hook" / "sitecustomize.py").write_text(_HOOK)
        paths.insert(0, str(tmp_path / "hook"))
        env["MIMICGEN_TEST_READY"] = str(tmp_path / "ready")
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mimicgen", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".partial" in p.name)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    res = _run(["build", "--out", "bench"], root, _env(root, hook=False))
    assert res.returncode == 0, res.stderr
    return root / "bench"


CASES = {
    "export vlmevalkit": (["export", "vlmevalkit", "BENCH", "out"], "MIMICGEN_OpenEnded.tsv"),
    "export hf": (["export", "hf", "BENCH", "out"], "README.md"),
    "export lmms-eval": (["export", "lmms-eval", "BENCH", "out"], "mimicgen.yaml"),
    "synth": (["synth", "--out", "out", "--images", "2", "--size", "64"], "annotations.json"),
}


@pytest.mark.parametrize(
    ("case", "sig"),
    [(c, signal.SIGTERM) for c in CASES] + [("export vlmevalkit", signal.SIGINT)],
    ids=lambda v: v.name if isinstance(v, signal.Signals) else v,
)
def test_signal_removes_the_staging_folder_and_a_rerun_restarts_cleanly(
    bench: Path, tmp_path: Path, case: str, sig: signal.Signals
) -> None:
    args, marker = CASES[case]
    args = [str(bench) if a == "BENCH" else a for a in args]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimicgen", *args],
        cwd=tmp_path,
        env=_env(tmp_path, hook=True),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never reached its output"
        time.sleep(0.05)
    assert _leftovers(tmp_path), "the hook should have left a half-written staging folder"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    expected = 143 if sig == signal.SIGTERM else 130
    assert proc.returncode == expected, (proc.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    said = "mimicgen: terminated" if sig == signal.SIGTERM else "mimicgen: interrupted"
    assert stderr.strip().splitlines()[-1] == said, stderr
    assert _leftovers(tmp_path) == []
    assert not (tmp_path / "out").exists()  # nothing half-written in its place either

    res = _run(args, tmp_path, _env(tmp_path, hook=False))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / marker).is_file()
    assert _leftovers(tmp_path) == []
    if case == "export vlmevalkit":  # the rerun wrote every query
        n = sum(1 for _ in (bench / "benchmark.jsonl").open())
        meta = json.loads((tmp_path / "out" / "mimicgen_export.json").read_text())
        assert meta["num_queries"] == n
