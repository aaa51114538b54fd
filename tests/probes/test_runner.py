"""The probe runner and CLI end to end on a tiny saved model and a hand-written benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.errors import InputError, SpecError
from tests.probes.conftest import write_benchmark

pytest.importorskip("torch")


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _probe(*args):
    res = CliRunner().invoke(app, ["probe", *args], catch_exceptions=True)
    return res


def _run_args(model, bench, out):
    """The arguments every float32 run on the tiny model shares."""
    return ["--model", model, "--benchmark", str(bench), "--out", str(out), "--dtype", "float32"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return write_benchmark(tmp_path_factory.mktemp("bench"))


@pytest.fixture(scope="module")
def model(tiny_checkpoints):
    return str(tiny_checkpoints["qwen2_vl"])


def test_run_resume_and_token_counts(tmp_path, bench, model):
    out = tmp_path / "out"
    common = [*_run_args(model, bench, out), "--max-new-tokens", "5"]
    res = _probe(*common, "--probe", "none", "--probe", "pool:2+mask:blockdiag@1-2", "--limit", "2")
    assert res.exit_code == 0, res.output
    base, pooled = out / "none", out / "pool-2_mask-blockdiag-L1-2"
    preds = _rows(base / "predictions.jsonl")
    assert [set(r) for r in preds] == [{"id", "prediction"}] * 2
    assert [r["id"] for r in preds] == ["q-0", "q-1"]
    s_base, s_pool = _rows(base / "samples.jsonl"), _rows(pooled / "samples.jsonl")
    for a, b in zip(s_base, s_pool, strict=True):
        assert b["vision_tokens_per_image"] == [-(-n // 2) for n in a["vision_tokens_per_image"]]
        assert a["text_tokens"] == b["text_tokens"]
    # Hand count: 56x56 -> 4 merged tokens, 28x56 or 56x28 -> 2 (q-0 uses images 0 and 1).
    assert s_base[0]["vision_tokens_per_image"] == [4, 2]
    # Tear the last line, then resume without --limit: only the missing queries run.
    with (base / "predictions.jsonl").open("a") as f:
        f.write('{"id": "q-9", "predi')
    res = _probe(*common, "--probe", "none")
    assert res.exit_code == 0, res.output
    assert "1 new samples" in res.output
    again = _rows(base / "predictions.jsonl")
    assert [r["id"] for r in again] == ["q-0", "q-1", "q-2"] and again[:2] == preds
    assert [r["id"] for r in _rows(base / "samples.jsonl")] == ["q-0", "q-1", "q-2"]


def test_shards_merge_to_the_unsharded_run(tmp_path, bench, model):
    common = [
        "--model",
        model,
        "--benchmark",
        str(bench),
        "--dtype",
        "float32",
        "--probe",
        "pixel:2",
        "--max-new-tokens",
        "4",
    ]
    assert _probe(*common, "--out", str(tmp_path / "full")).exit_code == 0
    for i in range(2):
        res = _probe(*common, "--out", str(tmp_path / "sh"), "--shard", f"{i}/2")
        assert res.exit_code == 0, res.output
    part = _rows(tmp_path / "sh/pixel-2/shards/1-of-2/predictions.jsonl")
    assert [r["id"] for r in part] == ["q-1"]
    res = CliRunner().invoke(app, ["probe-merge", str(tmp_path / "sh")])
    assert res.exit_code == 0, res.output
    merged = _rows(tmp_path / "sh/pixel-2/predictions.jsonl")
    assert merged == _rows(tmp_path / "full/pixel-2/predictions.jsonl")
    assert all(len(r["prediction"].split()) <= 4 for r in merged)


def test_attn_statistics_and_maps(tmp_path, bench, model):
    out = tmp_path / "out"
    probes = ["--probe", "attn", "--probe", "none"]
    tokens = ["--max-new-tokens", "6", "--max-new-tokens", "listing=3"]
    res = _probe(*_run_args(model, bench, out), *probes, *tokens)
    assert res.exit_code == 0, res.output
    rows = _rows(out / "attn/attn.jsonl")
    samples = _rows(out / "attn/samples.jsonl")
    assert len(rows) == 3
    for row, sample in zip(rows, samples, strict=True):
        assert len(row["shares"]) == 4  # one entry per decoder layer
        for s in row["shares"]:
            assert s["intra"] + s["inter"] + s["text"] == pytest.approx(1.0, abs=1e-4)
            assert min(s.values()) >= -1e-6
        for mass in row["image_mass"]:
            assert len(mass) == sample["n_images"] and 0 < sum(mass) <= 1 + 1e-6
        assert all(0 <= e <= 1 + 1e-6 for layer in row["image_entropy"] for e in layer)
        maps = np.load(out / "attn/maps" / f"{row['id']}.npz")
        for i, n in enumerate(sample["vision_tokens_per_image"]):
            grid = maps[f"image{i}"]
            assert grid.shape[0] == 4 and grid.shape[1] * grid.shape[2] == n
            np.testing.assert_allclose(
                grid.sum(axis=(1, 2)), [m[i] for m in row["image_mass"]], rtol=1e-4, atol=1e-6
            )
    summary = json.loads((out / "attn/attn_summary.json").read_text())
    assert summary["n_samples"] == 3 and len(summary["layers"]) == 4
    # Eager attention (to read weights) and the default sdpa path give the same answers.
    assert _rows(out / "attn/predictions.jsonl") == _rows(out / "none/predictions.jsonl")


def test_stitch_runs_one_image(tmp_path, bench, model):
    out = tmp_path / "out"
    options = ["--probe", "stitch:auto", "--limit", "1", "--max-new-tokens", "2"]
    res = _probe(*_run_args(model, bench, out), *options)
    assert res.exit_code == 0, res.output
    (sample,) = _rows(out / "stitch-auto/samples.jsonl")
    # q-0: a 56x56 and a 28x56 image -> 1x2 grid of 56x56 cells = 112x56 px -> 4x2 merged tokens.
    assert sample["n_images"] == 1 and sample["vision_tokens_per_image"] == [8]


def test_bad_inputs_fail_cleanly(tmp_path, bench, model):
    out = tmp_path / "out"
    common = ["--model", model, "--benchmark", str(bench), "--out", str(out)]
    res = _probe(*common, "--probe", "mask:blockdiag@2-9")
    assert isinstance(res.exception, SpecError) and not (out / "mask-blockdiag-L2-9").exists()
    res = _probe(*common, "--probe", "pool:x")
    assert isinstance(res.exception, SpecError)
    res = _probe(*common, "--shard", "3/2")
    assert isinstance(res.exception, InputError)
    empty = tmp_path / "empty"  # a folder beside out: a benchmark folder must not hold out
    empty.mkdir()
    res = _probe("--model", model, "--benchmark", str(empty), "--out", str(out))
    assert isinstance(res.exception, InputError) and "benchmark.jsonl" in str(res.exception)
    res = CliRunner().invoke(app, ["probe-merge", str(out)])
    assert isinstance(res.exception, InputError)


def test_tiny_model_cli_writes_a_loadable_checkpoint(tmp_path):
    from transformers import AutoConfig

    out = tmp_path / "tiny"
    res = CliRunner().invoke(
        app, ["probe-tiny-model", str(out), "--family", "qwen2_5_vl", "--layers", "3"]
    )
    assert res.exit_code == 0, res.output
    cfg = AutoConfig.from_pretrained(out)
    assert cfg.model_type == "qwen2_5_vl" and cfg.text_config.num_hidden_layers == 3
    res = CliRunner().invoke(app, ["probe-tiny-model", str(out)])
    assert isinstance(res.exception, InputError)  # refuses a non-empty folder


def test_token_counts_per_query_and_configuration(tmp_path, bench, model):
    """samples.jsonl and tokens.json carry vision tokens and sequence length per configuration;
    hand counts on the 3-query benchmark (56x56 -> 4 tokens, 28x56 / 56x28 -> 2)."""
    out = tmp_path / "out"
    probes = ["--probe", "none", "--probe", "pool:2:row", "--probe", "stitch:auto"]
    res = _probe(*_run_args(model, bench, out), *probes, "--max-new-tokens", "1")
    assert res.exit_code == 0, res.output
    per_query = {"none": [6, 8, 4], "pool-2-row": [3, 4, 2], "stitch-auto": [8, 16, 8]}
    # stitch: q-0 -> 1x2 grid of 56x56 cells (4x2 tokens); q-1 (3 images) -> 2x2 grid of
    # 56x56 = 4x4 = 16; q-2 (28x56 + 56x28) -> 1x2 grid of 56x56 cells = 8.
    for name, vision in per_query.items():
        rows = _rows(out / name / "samples.jsonl")
        assert [r["vision_tokens"] for r in rows] == vision, name
        assert [r["n_query_images"] for r in rows] == [2, 3, 2]
        for r in rows:
            assert r["prompt_tokens"] == r["vision_tokens"] + r["text_tokens"]
        summary = json.loads((out / name / "tokens.json").read_text())
        assert summary["n_samples"] == 3
        assert summary["vision_tokens"]["mean"] == round(sum(vision) / 3, 3)
        assert summary["by_n_images"]["2"]["vision_tokens"]["mean"] == (vision[0] + vision[2]) / 2
        assert summary["by_n_images"]["3"]["n_samples"] == 1
        prompt = [r["prompt_tokens"] for r in rows]
        assert summary["prompt_tokens"]["max"] == max(prompt)
    assert json.loads((out / "pool-2-row/run.json").read_text())["pool_layout"] == "row"
    assert "pool_layout" not in json.loads((out / "none/run.json").read_text())


def test_pool_run_without_recorded_layout_is_not_resumed(tmp_path, bench, model):
    """A pool folder from before pooled tokens kept their 2-D positions says only 'pool:2'."""
    out = tmp_path / "out"
    args = [*_run_args(model, bench, out), "--probe", "pool:2", "--max-new-tokens", "1"]
    assert _probe(*args, "--limit", "1").exit_code == 0
    run = out / "pool-2/run.json"
    meta = json.loads(run.read_text())
    assert meta["pool_layout"] == "grid"
    del meta["pool_layout"]
    run.write_text(json.dumps(meta))
    res = _probe(*args)
    assert isinstance(res.exception, InputError) and "pool_layout" in str(res.exception)
