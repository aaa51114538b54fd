"""``mimicgen probe --batch-size``: batched queries give batch 1's answers token for token."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mimicgen.cli.app import app
from tests.probes.conftest import FAMILIES, noise_image, record_line

pytest.importorskip("torch")

_SIZES = ((56, 56), (28, 56), (56, 28), (28, 28))


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _benchmark(folder, n=9):
    """``n`` queries of 1-4 images of mixed sizes, so batched prompts have mixed lengths."""
    (folder / "images").mkdir(parents=True)
    tasks = ("counting", "listing", "common")
    lines = []
    for q in range(n):
        images = []
        for pos in range(1 + q % 4):
            name = f"images/q{q}-{pos}.png"
            noise_image(7 * q + pos, _SIZES[(q + pos) % 4]).save(folder / name)
            images.append({"path": name, "source_id": pos, "position": pos, "role": "query"})
        lines.append(
            record_line(f"q-{q}", tasks[q % 3], f"how many dog are there in image {q} ?", images)
        )
    (folder / "benchmark.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return _benchmark(tmp_path_factory.mktemp("batch_bench"))


def _run(adapter, bench, out, probes, batch_size):
    from mimicgen.probes.runner import RunOptions, run_probes
    from mimicgen.probes.spec import parse_config

    options = RunOptions(
        max_new_tokens=dict.fromkeys(("counting", "listing", "common"), 6), batch_size=batch_size
    )
    run_probes(adapter, bench, [parse_config(p) for p in probes], out, options, "tiny")


_CONFIGS = ("none", "pool:2", "mask:blockdiag@1-2", "pool:2+mask:invisible-strict@all")


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_batches_of_4_and_8_equal_batch_1_token_for_token(tmp_path, bench, adapters, family):
    from mimicgen.probes.spec import parse_config

    adapter = adapters[family]
    for size in (1, 4, 8):
        _run(adapter, bench, tmp_path / f"b{size}", _CONFIGS, size)
    for probe in _CONFIGS:
        name = parse_config(probe).name
        one = _rows(tmp_path / "b1" / name / "predictions.jsonl")
        assert [r["id"] for r in one] == [f"q-{i}" for i in range(9)]
        samples = _rows(tmp_path / "b1" / name / "samples.jsonl")
        # Mixed prompt lengths in every batch, so the rows really were padded.
        assert len({s["prompt_tokens"] for s in samples[:4]}) == 4
        for size in (4, 8):
            folder = tmp_path / f"b{size}" / name
            assert _rows(folder / "predictions.jsonl") == one, (probe, size)
            assert _rows(folder / "samples.jsonl") == samples, (probe, size)
            assert json.loads((folder / "run.json").read_text())["batch_size"] == size


@pytest.mark.slow
def test_pixel_and_stitch_batch_and_attn_falls_back_to_one(tmp_path, bench, adapters):
    from mimicgen.probes.spec import parse_config

    probes = ("pixel:2", "stitch:auto", "mask:bidirectional@all+attn")
    for size in (1, 4):
        _run(adapters["qwen2_vl"], bench, tmp_path / f"b{size}", probes, size)
    for probe in probes:
        name = parse_config(probe).name
        for file in ("predictions.jsonl", "samples.jsonl"):
            assert _rows(tmp_path / "b4" / name / file) == _rows(tmp_path / "b1" / name / file)
    attn = tmp_path / "b4" / parse_config("mask:bidirectional@all+attn").name
    assert "batch_size" not in json.loads((attn / "run.json").read_text())
    assert _rows(attn / "attn.jsonl") == _rows(tmp_path / "b1" / attn.name / "attn.jsonl")


def test_batch_mask_pads_left_and_masks_padding():
    from mimicgen.probes.batching import batch_mask

    neg = -1e9
    a = np.array([[0.0, neg], [0.0, 0.0]], dtype=np.float32)
    b = np.zeros((4, 4), dtype=np.float32)
    out = batch_mask([a, b], neg)
    assert out.shape == (2, 1, 4, 4)
    np.testing.assert_array_equal(out[1, 0], b)
    # Row 0: two pad slots first; each pad query sees only itself, real rows never see a pad.
    want = np.full((4, 4), neg, dtype=np.float32)
    want[0, 0] = want[1, 1] = 0.0
    want[2:, 2:] = a
    np.testing.assert_array_equal(out[0, 0], want)


def test_cli_batch_size_option(tmp_path, bench, tiny_checkpoints):
    out = tmp_path / "out"
    args = ["--model", str(tiny_checkpoints["qwen2_vl"]), "--benchmark", str(bench)]
    args += ["--out", str(out), "--dtype", "float32", "--max-new-tokens", "3", "--limit", "5"]
    res = CliRunner().invoke(app, ["probe", *args, "--batch-size", "4"], catch_exceptions=True)
    assert res.exit_code == 0, res.output
    assert "5 new samples" in res.output
    assert json.loads((out / "none/run.json").read_text())["batch_size"] == 4
    res = CliRunner().invoke(app, ["probe", *args, "--batch-size", "0"], catch_exceptions=True)
    assert res.exit_code != 0
