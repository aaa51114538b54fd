"""--out that would destroy an input is refused; --out as a symlink to a folder writes into it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

COCO_TINY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "coco_tiny"


def _mimicgen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mimicgen", *args], cwd=cwd, capture_output=True, text=True
    )


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def coco_copy(tmp_path: Path) -> Path:
    if not COCO_TINY.is_dir():
        pytest.skip(f"{COCO_TINY} is absent (the shared COCO subset sits beside the checkout)")
    dst = tmp_path / "src"
    shutil.copytree(COCO_TINY, dst)
    return dst


@pytest.mark.parametrize("where", ["source folder", "annotations folder", "inside images"])
def test_build_refuses_out_that_is_holds_or_lies_inside_the_source(
    coco_copy: Path, tmp_path: Path, where: str
) -> None:
    ann = coco_copy / "annotations" / "instances_val2017.json"
    out = {
        "source folder": coco_copy,
        "annotations folder": coco_copy / "annotations",
        "inside images": coco_copy / "val2017" / "out",
    }[where]
    before = _tree_digest(coco_copy)
    res = _mimicgen("build", "--source", f"coco:{ann}", "--out", str(out), "--overwrite",
                    cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "choose an --out outside every input" in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert _tree_digest(coco_copy) == before  # not one source file deleted or changed
    assert not [p for p in tmp_path.rglob("*") if ".partial" in p.name or ".resume-" in p.name]


def test_build_out_symlink_to_folder_writes_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "stale.txt").write_text("old output")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    res = _mimicgen("build", "--out", "link", "--overwrite", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert not (real / "stale.txt").exists()  # --overwrite replaced the old output
    manifest = json.loads((real / "manifest.json").read_text())
    n_lines = sum(1 for _ in (real / "benchmark.jsonl").open())
    assert manifest["num_queries"] == n_lines > 0
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in {"real", "link"}]
    assert leftovers == []


def test_build_out_dangling_symlink_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "missing", target_is_directory=True)
    res = _mimicgen("build", "--out", "link", "--overwrite", cwd=tmp_path)
    assert res.returncode == 2
    assert "does not exist" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("fmt", ["hf", "vlmevalkit", "lmms-eval"])
@pytest.mark.parametrize("inside", [False, True])
def test_export_refuses_out_in_the_benchmark(tmp_path: Path, fmt: str, inside: bool) -> None:
    bench = tmp_path / "bench"
    assert _mimicgen("build", "--out", str(bench), cwd=tmp_path).returncode == 0
    before = _tree_digest(bench)
    out = bench / "export" if inside else bench
    res = _mimicgen("export", fmt, str(bench), str(out), "--overwrite", cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "outside every input" in res.stderr and "Traceback" not in res.stderr
    assert _tree_digest(bench) == before
