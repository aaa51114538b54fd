"""lmms-eval export: read the task folder back and call the generated hooks on real docs."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from scoring.benchfiles import TINY_CLASSES, TINY_RECORDS, write_benchmark
from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.errors import InputError
from mimicgen.export.lmms_eval import export_lmms_eval
from mimicgen.scoring import score_file


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
    data = Path(cfg["dataset_kwargs"]["data_files"]["test"])
    assert data.is_absolute() and data == (out / "data" / "test.jsonl").resolve() and data.exists()
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
