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
        [sys.executable, "-m", "mimicgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
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
    res = _mimicgen(
        "build", "--source", f"coco:{ann}", "--out", str(out), "--overwrite", cwd=tmp_path
    )
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


# ------------------------------------------------------------------ the other writing commands


@pytest.fixture(scope="module")
def bench_and_preds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo eval set and an oracle predictions file (one line per query, read with json)."""
    root = tmp_path_factory.mktemp("bench")
    assert _mimicgen("build", "--out", "bench", cwd=root).returncode == 0
    rows = [json.loads(line) for line in (root / "bench" / "benchmark.jsonl").open()]
    preds = root / "preds.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": r["id"], "prediction": r["answer_text"]}) + "\n" for r in rows)
    )
    return root / "bench", preds


def _one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    return lines[0]


@pytest.fixture(scope="module")
def scored(bench_and_preds: tuple[Path, Path]) -> Path:
    """A score report of the oracle predictions."""
    bench, preds = bench_and_preds
    report = bench.parent / "scores" / "r.json"
    res = _mimicgen("score", str(bench), str(preds), "--out", str(report), cwd=bench.parent)
    assert res.returncode == 0, res.stderr
    return report


@pytest.mark.parametrize(
    "case",
    [
        "score in bench",
        "score over preds",
        "report over scores",
        "predict",
        pytest.param("probe", marks=pytest.mark.slow),  # imports torch before the check
    ],
)
def test_score_report_predict_probe_refuse_out_on_an_input(
    bench_and_preds: tuple[Path, Path], scored: Path, tmp_path: Path, case: str
) -> None:
    bench, preds = bench_and_preds
    report = scored
    before = {**_tree_digest(bench), "preds": hashlib.sha256(preds.read_bytes()).hexdigest()}
    report_before = report.read_bytes()
    args = {
        "score in bench": ["score", str(bench), str(preds), "--out", str(bench / "r.json")],
        "score over preds": ["score", str(bench), str(preds), "--out", str(preds), "--overwrite"],
        "report over scores": [
            "report",
            str(bench),
            "--scores",
            str(report),
            "--out",
            str(report),
            "--overwrite",
        ],
        "predict": [
            "predict",
            str(bench),
            "--model",
            "m",
            "--backend",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--out",
            str(bench / "preds"),
        ],
        "probe": ["probe", "--model", "m", "--benchmark", str(bench), "--out", str(bench)],
    }[case]
    line = _one_line_error(_mimicgen(*args, cwd=tmp_path))
    assert "choose an --out outside every input" in line, line
    after = {**_tree_digest(bench), "preds": hashlib.sha256(preds.read_bytes()).hexdigest()}
    assert after == before and report.read_bytes() == report_before


@pytest.mark.parametrize(
    ("form", "out"), [("eval", "specs"), ("training", "specs"), ("eval", "specs/base")]
)
def test_build_refuses_out_that_holds_a_spec_file_or_an_include(
    tmp_path: Path, form: str, out: str
) -> None:
    shipped = Path(__file__).resolve().parents[2] / "task_specs"
    specs = tmp_path / "specs"
    for part in ("demo", "base"):  # demo/common.yaml includes base/demo.yaml
        shutil.copytree(shipped / part, specs / part)
    before = _tree_digest(specs)
    extra = ["--format", "llava"] if form == "training" else []
    res = _mimicgen(
        "build", "specs/demo/common.yaml", *extra, "--out", out, "--overwrite", cwd=tmp_path
    )
    line = _one_line_error(res)
    held = "specs/demo/common.yaml" if out == "specs" else str(specs / "base" / "demo.yaml")
    assert f"holds the input {held}" in line, line
    assert _tree_digest(specs) == before


def test_training_build_refuses_out_inside_an_excluded_eval_set(
    bench_and_preds: tuple[Path, Path], tmp_path: Path
) -> None:
    bench, _ = bench_and_preds
    before = _tree_digest(bench)
    res = _mimicgen(
        "build",
        "--format",
        "llava",
        "--exclude",
        str(bench),
        "--out",
        str(bench / "train"),
        cwd=tmp_path,
    )
    assert "lies inside the input" in _one_line_error(res)
    assert _tree_digest(bench) == before


def test_score_names_a_missing_input_before_an_existing_report(
    bench_and_preds: tuple[Path, Path], tmp_path: Path
) -> None:
    """A mistyped benchmark or predictions path is reported as missing, not as a report that
    needs --overwrite (which would send the user to the wrong option); nothing is written."""
    bench, preds = bench_and_preds
    (tmp_path / "r.json").write_text("an earlier report\n")
    res = _mimicgen("score", "no_such_bench", str(preds), "--out", "r.json", cwd=tmp_path)
    line = _one_line_error(res)
    assert "no_such_bench/benchmark.jsonl not found" in line and "--overwrite" not in line, line
    res = _mimicgen("score", str(bench), "no_such.jsonl", "--out", "r.json", cwd=tmp_path)
    line = _one_line_error(res)
    assert "no_such.jsonl: prediction file not found" in line, line
    # The benchmark folder itself as --out: still the clash, once the inputs exist.
    res = _mimicgen("score", str(bench), str(preds), "--out", str(bench), cwd=tmp_path)
    assert "--overwrite" not in _one_line_error(res)
    assert (tmp_path / "r.json").read_text() == "an earlier report\n"
    assert not (tmp_path / "r.md").exists()


def test_score_refuses_to_replace_a_report_without_overwrite(
    bench_and_preds: tuple[Path, Path], tmp_path: Path
) -> None:
    bench, preds = bench_and_preds
    report = tmp_path / "r.json"
    report.write_text("an earlier report\n")
    res = _mimicgen("score", str(bench), str(preds), "--out", "r.json", cwd=tmp_path)
    assert "pass --overwrite" in _one_line_error(res)
    assert report.read_text() == "an earlier report\n"
    assert not (tmp_path / "r.md").exists()
    res = _mimicgen("score", str(bench), str(preds), "--out", "r.json", "--overwrite", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    n = sum(1 for _ in preds.open())
    assert json.loads(report.read_text())["models"][0]["coverage"]["n_predicted"] == n


def test_score_refuses_an_out_that_its_markdown_twin_would_overwrite(
    bench_and_preds: tuple[Path, Path], tmp_path: Path
) -> None:
    bench, preds = bench_and_preds
    res = _mimicgen("score", str(bench), str(preds), "--out", "r.md", cwd=tmp_path)
    assert "would be written twice" in _one_line_error(res)
    assert list(tmp_path.iterdir()) == []


def test_score_and_report_out_symlinks_write_their_targets(
    bench_and_preds: tuple[Path, Path], tmp_path: Path
) -> None:
    bench, preds = bench_and_preds
    (tmp_path / "real").mkdir()
    (tmp_path / "r.json").symlink_to(tmp_path / "real" / "report.json")
    res = _mimicgen("score", str(bench), str(preds), "--out", "r.json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "r.json").is_symlink()
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == [
        "report.json",
        "report.md",
        "report.samples.jsonl",
    ]
    (tmp_path / "page.html").symlink_to(tmp_path / "real" / "page.html")
    res = _mimicgen(
        "report",
        str(bench),
        "--scores",
        "r.json",
        "--out",
        "page.html",
        "--no-figures",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "page.html").is_symlink()
    assert (tmp_path / "real" / "page.html").read_text().startswith("<!DOCTYPE html>")


def test_synth_out_symlink_writes_the_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    res = _mimicgen("synth", "--out", "link", "--images", "3", "--size", "64", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "real" / "annotations.json").read_text())
    assert len(doc["images"]) == 3 and (tmp_path / "link").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


@pytest.mark.parametrize(
    "args",
    [
        ["export", "hf", "BENCH", "afile"],
        ["export", "vlmevalkit", "BENCH", "afile/sub"],
        ["export", "lmms-eval", "BENCH", "afile/sub/deeper"],
        ["merge", "afile/sub", "BENCH"],
        ["synth", "--out", "afile/sub", "--images", "2"],
        ["probe-tiny-model", "afile"],
        ["score", "BENCH", "PREDS", "--out", "afile/r.json"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_out_that_is_or_lies_under_a_file_is_a_one_line_error_naming_the_argument(
    bench_and_preds: tuple[Path, Path], tmp_path: Path, args: list[str]
) -> None:
    bench, preds = bench_and_preds
    (tmp_path / "afile").write_text("not a folder\n")
    args = [{"BENCH": str(bench), "PREDS": str(preds)}.get(a, a) for a in args]
    line = _one_line_error(_mimicgen(*args, cwd=tmp_path))
    out = next(a for a in args if a.startswith("afile"))
    positional = args[0] in ("export", "merge", "probe-tiny-model")
    # OUT is positional for exports and merge: the message names it as the usage line does.
    assert line.startswith(f"mimicgen: error: {'OUT' if positional else '--out'} {out} "), line
    assert " is a file;" in line or " lies under the file " in line, line
    assert (tmp_path / "afile").read_text() == "not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_plot_refuses_out_on_the_benchmark_its_report_names(
    bench_and_preds: tuple[Path, Path], scored: Path, tmp_path: Path
) -> None:
    bench, _ = bench_and_preds
    report = scored
    before = _tree_digest(bench)
    # No --bench: plot finds the benchmark through the report, and it is an input all the same.
    res = _mimicgen("plot", str(report), "--out", str(bench), "--overwrite", cwd=tmp_path)
    assert "choose an --out outside every input" in _one_line_error(res)
    assert _tree_digest(bench) == before
