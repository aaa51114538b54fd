"""lmms-eval export: read the task folder back and call the generated hooks on real docs."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from scoring.benchfiles import TINY_CLASSES, TINY_RECORDS, write_benchmark
from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.errors import InputError
from mimicgen.export.lmms_eval import export_lmms_eval
from mimicgen.scoring import check, load_benchmark, score_file


class _Loader(yaml.SafeLoader):
    """safe_load plus lmms-eval's !function tag (kept as a marker string)."""


_Loader.add_constructor(
    "!function", lambda loader, node: f"!function {loader.construct_scalar(node)}"
)


@pytest.fixture()
def exported(tmp_path: Path) -> tuple[Path, Path]:
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS, classes=TINY_CLASSES)
    out = tmp_path / "tasks" / "mimicgen_tiny"
    result = CliRunner().invoke(
        app, ["export", "lmms-eval", str(bench), str(out), "--task-name", "mimicgen_tiny"]
    )
    assert result.exit_code == 0, result.output
    return bench, out


def _utils(out: Path) -> Any:
    spec = importlib.util.spec_from_file_location("mimicgen_tiny_utils", out / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _docs(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "data" / "test.jsonl").read_text().splitlines()]


def test_yaml_keys(exported: tuple[Path, Path]) -> None:
    bench, out = exported
    cfg = yaml.load((out / "mimicgen_tiny.yaml").read_text(), Loader=_Loader)
    assert cfg["task"] == "mimicgen_tiny"
    assert cfg["dataset_path"] == "json"
    # relative, so the folder can move: lmms-eval resolves it against the YAML's folder
    assert cfg["dataset_kwargs"]["data_files"]["test"] == "data/test.jsonl"
    assert (out / "data" / "test.jsonl").is_file()
    assert cfg["test_split"] == "test" and cfg["output_type"] == "generate_until"
    assert cfg["doc_to_visual"] == "!function utils.doc_to_visual"
    assert cfg["process_results"] == "!function utils.process_results"
    assert cfg["generation_kwargs"]["temperature"] == 0
    assert cfg["generation_kwargs"]["do_sample"] is False
    assert [m["metric"] for m in cfg["metric_list"]] == [
        "strict_accuracy",
        "lenient_accuracy",
        "mimic_accuracy",
    ]
    sha = hashlib.sha256((bench / "manifest.json").read_bytes()).hexdigest()
    assert cfg["metadata"]["mimicgen_manifest_sha256"] == sha
    assert json.loads((out / "mimicgen_export.json").read_text())["manifest_sha256"] == sha


def test_docs_follow_benchmark(exported: tuple[Path, Path]) -> None:
    bench, out = exported
    raw = [json.loads(line) for line in (bench / "benchmark.jsonl").read_text().splitlines()]
    docs = _docs(out)
    assert [d["id"] for d in docs] == [r["id"] for r in raw]
    assert docs[0]["images"] == ["images/c1_0.png", "images/c1_1.png", "images/c1_2.png"]
    assert json.loads(docs[4]["record"]) == raw[4]


def test_generated_hooks(exported: tuple[Path, Path]) -> None:
    _, out = exported
    utils = _utils(out)
    docs = {d["id"]: d for d in _docs(out)}
    images = utils.doc_to_visual(docs["c1"])
    # benchfiles paints record 0's image j with colour (0, 91*j % 256, 7)
    assert [im.getpixel((0, 0)) for im in images] == [(0, 0, 7), (0, 91, 7), (0, 182, 7)]
    assert utils.doc_to_text(docs["c1"]) == "question of c1?"
    assert (
        utils.doc_to_text(docs["c1"], {"pre_prompt": "P ", "post_prompt": " S"})
        == "P question of c1? S"
    )
    assert utils.doc_to_target(docs["c2"]) == "dog: 2, cat: 1"
    assert utils.process_results(docs["c1"], ["There are 3 dogs."]) == {
        "strict_accuracy": 1.0,
        "lenient_accuracy": 1.0,
        "mimic_accuracy": 1.0,
    }
    # several classes named: wrong for strict/lenient, credited by MIMIC's substring rule
    assert utils.process_results(docs["m1"], ["dogs and cats"]) == {
        "strict_accuracy": 0.0,
        "lenient_accuracy": 0.0,
        "mimic_accuracy": 1.0,
    }


def test_samples_log_scores_like_process_results(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    bench, out = exported
    utils = _utils(out)
    replies = ["3", "2 dogs, 1 cat", "5", "three", "bus, car", "person, tv", "dog", "dogs"]
    log = tmp_path / "mimicgen_tiny_samples_2025.jsonl"
    per_doc = []
    with open(log, "w") as f:
        for i, (doc, reply) in enumerate(zip(_docs(out), replies, strict=True)):
            per_doc.append(utils.process_results(doc, [reply]))
            f.write(
                json.dumps(
                    {
                        "doc_id": i,
                        "doc": doc,
                        "target": doc["answer_text"],
                        "resps": [[reply]],
                        "filtered_resps": [reply],
                    }
                )
                + "\n"
            )
    entry = score_file(bench, log)
    for pipeline in ("strict", "lenient", "mimic"):
        mean = sum(d[f"{pipeline}_accuracy"] for d in per_doc) / len(per_doc)
        assert entry["pipelines"][pipeline]["overall"]["accuracy"] == pytest.approx(mean)
    assert entry["pipelines"]["strict"]["overall"]["accuracy"] == pytest.approx(5 / 8)


def test_refuses_existing_output_and_missing_images(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    out = tmp_path / "out"
    export_lmms_eval(bench, out)
    with pytest.raises(InputError, match="--overwrite"):
        export_lmms_eval(bench, out)
    (bench / "images" / "c2_1.png").unlink()
    with pytest.raises(InputError, match="c2_1.png"):
        export_lmms_eval(bench, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


# Replies covering every task and several verdicts (record order of TINY_RECORDS).
_REPLIES = ["3", "2 dogs, 1 cat", "5", "three", "bus, car", "person, tv", "dog", "dogs and cats"]

_NO_MIMICGEN = """
import importlib.util, json, sys
sys.modules["mimicgen"] = None  # any import of mimicgen now raises ImportError
folder, replies = sys.argv[1], json.loads(sys.argv[2])
spec = importlib.util.spec_from_file_location("utils", folder + "/utils.py")
utils = importlib.util.module_from_spec(spec)
spec.loader.exec_module(utils)
docs = [json.loads(line) for line in open(folder + "/data/test.jsonl", encoding="utf-8")]
sizes = [[im.size for im in utils.doc_to_visual(d)] for d in docs]
print(json.dumps([[utils.process_results(d, [r]) for d, r in zip(docs, replies)], sizes]))
"""


def test_task_folder_is_self_contained_and_relocatable(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    """The moved folder scores without mimicgen importable, exactly as mimicgen.scoring.check."""
    bench, out = exported
    # move task folder and benchmark together: images are found relative to the task folder
    moved = tmp_path / "cluster"
    moved.mkdir()
    shutil.move(out.parent, moved / "tasks")
    shutil.move(bench, moved / "bench")
    folder = moved / "tasks" / "mimicgen_tiny"
    proc = subprocess.run(
        [sys.executable, "-c", _NO_MIMICGEN, str(folder), json.dumps(_REPLIES)],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},  # no PYTHONPATH, no MIMICGEN_BENCH_DIR
    )
    assert proc.returncode == 0, proc.stderr
    results, sizes = json.loads(proc.stdout)
    benchmark = load_benchmark(moved / "bench")
    expected = [
        {
            f"{p}_accuracy": float(check(rec["task"], reply, rec, p, benchmark.vocabulary).correct)
            for p in ("strict", "lenient", "mimic")
        }
        for rec, reply in zip(benchmark.records, _REPLIES, strict=True)
    ]
    assert results == expected
    # by hand: c3 "5" != 4; l2 lists an extra "tv"; o1 names two classes (wrong for strict)
    assert [r["strict_accuracy"] for r in results] == [1, 1, 0, 1, 1, 0, 1, 0]
    assert sizes == [[[4, 4]] * len(r["images"]) for r in TINY_RECORDS]


@pytest.mark.slow  # importing lmms-eval (torch, datasets) takes ~10 s
def test_real_lmms_eval_loads_moved_folder_and_its_log_scores(
    exported: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lmms-eval 0.7.3's own TaskManager loads the moved folder from another working directory;
    its EvaluationTracker writes the samples log (without ``doc``) that mimicgen score reads."""
    pytest.importorskip("datasets")
    pytest.importorskip("lmms_eval.tasks", reason="lmms-eval is not installed")
    from lmms_eval.loggers.evaluation_tracker import EvaluationTracker
    from lmms_eval.tasks import TaskManager, get_task_dict

    bench, out = exported
    moved = tmp_path / "moved" / "task"
    shutil.move(out, moved)
    monkeypatch.setenv("LMMS_EVAL_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("MIMICGEN_BENCH_DIR", str(bench))
    monkeypatch.chdir(tmp_path)
    task = get_task_dict(
        ["mimicgen_tiny"], TaskManager(include_path=str(moved), include_defaults=False)
    )["mimicgen_tiny"]
    docs = list(task.test_docs())
    assert [d["id"] for d in docs] == [r["id"] for r in TINY_RECORDS]
    assert len(task.doc_to_visual(docs[0])) == 3

    tracker = EvaluationTracker(output_path=str(tmp_path / "logs"))
    tracker.general_config_tracker.log_experiment_args(
        model_source="hf",
        model_args="pretrained=org/Model-1B",
        system_instruction=None,
        chat_template=None,
        fewshot_as_multiturn=False,
    )
    tracker.date_id = "2026-01-01T00-00-00"
    samples = []
    for i, (doc, reply) in enumerate(zip(docs, _REPLIES, strict=True)):
        metrics = task.process_results(doc, [reply])
        samples.append(
            {
                "doc_id": i,
                "doc": doc,
                "target": task.doc_to_target(doc),
                "arguments": [(task.doc_to_text(doc), {})],
                "resps": [[reply]],
                "filtered_resps": [reply],
                **metrics,
            }
        )
    tracker.save_results_samples("mimicgen_tiny", samples)
    # the documented place: OUTPUT_PATH/<sanitised model name>/<date>_samples_<task>.jsonl
    log = tmp_path / "logs" / "org__Model-1B" / "2026-01-01T00-00-00_samples_mimicgen_tiny.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert "doc" not in lines[0] and lines[0]["filtered_resps"] == _REPLIES[0]
    entry = score_file(bench, log)
    strict = [s["strict_accuracy"] for s in samples]
    assert entry["pipelines"]["strict"]["overall"]["accuracy"] == pytest.approx(
        sum(strict) / len(strict)
    )


def _lmms_eval_cli_ready() -> str | None:
    """Why lmms-eval's CLI cannot run here, or None. Its evaluator patches ``filelock._api``
    (gone in filelock 4) and prints its table with pytablewriter (scripts/setup_lmms_eval.sh)."""
    for module, why in (
        ("lmms_eval", "lmms-eval is not installed"),
        ("datasets", "datasets is not installed"),
        ("filelock._api", "lmms-eval's CLI needs filelock < 4"),
        ("pytablewriter", "lmms-eval's CLI needs pytablewriter"),
    ):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{why} (scripts/setup_lmms_eval.sh)"
    return None


@pytest.mark.slow  # one lmms-eval CLI process (~30 s)
@pytest.mark.skipif(_lmms_eval_cli_ready() is not None, reason=str(_lmms_eval_cli_ready()))
def test_real_lmms_eval_cli_evaluates_the_export_with_its_dummy_model(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    """``python -m lmms_eval`` (simple_evaluate) on the exported folder with lmms-eval's own
    ``dummy`` model, which replies "3" to every query: its aggregated metrics are the share of
    records whose answer is 3 (c1 and c4 of the 8, by hand), and `mimicgen score` of its samples
    log agrees."""
    import os

    bench, out = exported
    env = {
        **os.environ,
        "MIMICGEN_BENCH_DIR": str(bench),
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf_home"),
        "LMMS_EVAL_DATASETS_CACHE": str(tmp_path / "hf_cache"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "lmms_eval", "--model", "dummy", "--model_args", "response=3",
         "--tasks", "mimicgen_tiny", "--include_path", str(out.parent),
         "--output_path", str(tmp_path / "logs"), "--log_samples"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600, check=False,
    )  # fmt: skip
    # lmms-eval exits 0 after an evaluation error: the files it writes are the verdict.
    results = sorted((tmp_path / "logs").rglob("*_results.json"))
    samples = sorted((tmp_path / "logs").rglob("*_samples_mimicgen_tiny.jsonl"))
    assert results and samples, proc.stdout[-2000:] + proc.stderr[-2000:]
    metrics = json.loads(results[0].read_text())["results"]["mimicgen_tiny"]
    by_hand = [r["id"] for r in TINY_RECORDS if r["answer_text"] == "3"]
    assert by_hand == ["c1", "c4"]
    for name in ("strict_accuracy", "lenient_accuracy", "mimic_accuracy"):
        assert metrics[f"{name},none"] == pytest.approx(2 / 8), name
    lines = [json.loads(line) for line in samples[0].read_text().splitlines()]
    assert len(lines) == len(TINY_RECORDS)
    assert {line["filtered_resps"] for line in lines} == {"3"}
    entry = score_file(bench, samples[0])
    assert entry["pipelines"]["strict"]["overall"]["accuracy"] == pytest.approx(2 / 8)
