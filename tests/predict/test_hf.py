"""``mimicgen predict --backend hf`` on tiny saved checkpoints: batching, resume, manifest, score."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.errors import InputError
from tests.predict.conftest import FAMILIES

pytest.importorskip("torch")


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _predict(*args):
    return CliRunner().invoke(app, ["predict", *args], catch_exceptions=True)


def _args(bench, model, out, *extra):
    return [str(bench), "--model", str(model), "--out", str(out), "--dtype", "float32", *extra]


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_8_equals_batch_1_token_for_token(tmp_path, bench, templated_checkpoints, family):
    model = templated_checkpoints[family]
    budget = ["--max-new-tokens", "12"]
    res = _predict(*_args(bench, model, tmp_path / "b8", "--batch-size", "8", *budget))
    assert res.exit_code == 0, res.output
    res = _predict(*_args(bench, model, tmp_path / "b1", "--batch-size", "1", *budget))
    assert res.exit_code == 0, res.output
    b8, b1 = _rows(tmp_path / "b8/predictions.jsonl"), _rows(tmp_path / "b1/predictions.jsonl")
    assert [r["id"] for r in b8] == [f"q-{i}" for i in range(10)]
    assert b8 == b1
    # Mixed image counts give mixed prompt lengths, so the batches really were padded.
    assert len({r["n_prompt_tokens"] for r in b8[:8]}) > 2
    assert all(r["n_output_tokens"] <= 12 for r in b8)


def test_batched_rows_equal_the_probe_decoder(bench, templated_checkpoints):
    """The batched decoder against the adapter's own single-prompt greedy loop."""
    from PIL import Image

    from mimicgen.predict.common import load_queries
    from mimicgen.predict.hf import generate_batch
    from mimicgen.probes.adapters import load_adapter

    adapter = load_adapter(str(templated_checkpoints["qwen2_vl"]), "float32", attn="sdpa")
    prepared = []
    for q in load_queries(bench, "images-first")[:5]:
        images = [Image.open(p).convert("RGB") for p in q.image_paths]
        prepared.append(adapter.prepare(images, q.question, user=list(q.user)))
    batched = generate_batch(adapter, prepared, [9, 4, 9, 9, 6])
    single = [adapter.generate(p, n) for p, n in zip(prepared, [9, 4, 9, 9, 6], strict=True)]
    assert batched == single and [len(b) for b in batched] == [9, 4, 9, 9, 6]


def test_chat_template_is_used_when_the_checkpoint_has_one(templated_checkpoints, adapters):
    from mimicgen.probes.adapters import load_adapter
    from mimicgen.probes.tiny import chat_template

    templated = load_adapter(str(templated_checkpoints["internvl"]), "float32", attn="sdpa")
    assert templated.tokenizer.chat_template == chat_template("internvl")
    user = ["Image 1: ", 0, "\n", 1, "how many dog ?"]
    # The template writes "<IMG_CONTEXT>\n" per image; each image is wrapped in <img>..</img>
    # around its placeholder tokens, as transformers' InternVL processor does.
    assert templated.prompt_parts(user) == [
        (
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            "Image 1: <img>"
        ),
        0,
        "</img>\n\n<img>",
        1,
        "</img>\nhow many dog ?<|im_end|>\n<|im_start|>assistant\n",
    ]
    plain = adapters["internvl"]  # no template: hand-built ChatML
    assert not plain.has_chat_template
    assert plain.prompt_parts(user)[2:5] == ["<img>", 0, "</img>\n"]


def test_resume_skips_done_ids_and_refuses_other_settings(tmp_path, bench, templated_checkpoints):
    model = templated_checkpoints["qwen2_vl"]
    out = tmp_path / "out"
    common = _args(bench, model, out, "--max-new-tokens", "5", "--batch-size", "3")
    assert _predict(*common, "--limit", "4").exit_code == 0
    first = _rows(out / "predictions.jsonl")
    with (out / "predictions.jsonl").open("a") as f:
        f.write('{"id": "q-7", "predic')  # a crash mid-line
    res = _predict(*common)
    assert res.exit_code == 0, res.output
    assert "6 predicted, 4 already done" in res.output
    rows = _rows(out / "predictions.jsonl")
    assert rows[:4] == first and sorted(r["id"] for r in rows) == sorted(
        f"q-{i}" for i in range(10)
    )
    manifest = json.loads((out / "predict.json").read_text())
    assert manifest["backend"] == "hf" and manifest["generation"]["temperature"] == 0.0
    assert manifest["generation"]["max_new_tokens"]["listing"] == 5
    assert len(manifest["benchmark_sha256"]) == 64 and manifest["mimicgen_version"]
    # Another budget: refused, nothing written; --force-mix appends and records both runs.
    other = _args(bench, model, out, "--max-new-tokens", "6")
    res = _predict(*other)
    assert isinstance(res.exception, InputError) and "generation" in str(res.exception)
    assert _rows(out / "predictions.jsonl") == rows
    res = _predict(*other, "--force-mix")
    assert res.exit_code == 0 and "0 predicted, 10 already done" in res.output
    assert len(json.loads((out / "predict.json").read_text())["mixed_runs"]) == 1


def test_score_reads_the_file_unchanged(tmp_path, bench, templated_checkpoints):
    out = tmp_path / "out"
    res = _predict(*_args(bench, templated_checkpoints["qwen2_vl"], out, "--max-new-tokens", "4"))
    assert res.exit_code == 0, res.output
    report = tmp_path / "report.json"
    res = CliRunner().invoke(
        app, ["score", str(bench), str(out / "predictions.jsonl"), "--out", str(report)]
    )
    assert res.exit_code == 0, res.output
    text = report.read_text()
    assert '"n_predicted": 10' in text and '"n_missing": 0' in text


def test_bad_options_fail_before_loading(tmp_path, bench, templated_checkpoints):
    model = templated_checkpoints["qwen2_vl"]
    for extra, words in [
        (["--backend", "tgi"], "--backend"),
        (["--prompt-form", "x"], "--prompt-form"),
        (["--temperature", "0.7"], "greedily"),
        (["--top-p", "0"], "--top-p"),
    ]:
        res = _predict(*_args(bench, model, tmp_path / "o", *extra))
        assert isinstance(res.exception, InputError) and words in str(res.exception), extra
    assert not (tmp_path / "o").exists()
    res = _predict(
        *_args(
            bench, templated_checkpoints["llava_onevision"], tmp_path / "o", "--max-pixels", "50000"
        )
    )
    assert isinstance(res.exception, InputError) and "Qwen" in str(res.exception)
