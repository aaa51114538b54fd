"""``mimicgen flops --measure``: the timed variants compute the attention they claim, and the
report puts the measured saving beside the FLOPs model."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner

from mimicgen.cli import app
from mimicgen.errors import InputError
from mimicgen.train.masks import float_mask
from mimicgen.train.measure import LayerShapes, Measurement, spans_of, split_blockdiag

runner = CliRunner()
SMALL = LayerShapes(n_images=3, vision_tokens=20, text_tokens=7, hidden=64, heads=4, kv_heads=2)


def _qkv(shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    n, hd = shapes.length, shapes.head_dim
    return (
        torch.randn(1, shapes.heads, n, hd, generator=g),
        torch.randn(1, shapes.kv_heads, n, hd, generator=g),
        torch.randn(1, shapes.kv_heads, n, hd, generator=g),
    )


def _reference(q, k, v, kind):
    """Plain softmax attention under the additive float mask of the training masks."""
    mask = float_mask(spans_of(SMALL), kind, torch.float32)[0, 0]
    rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + mask
    return scores.softmax(-1) @ v


def test_layout_spans_images_then_text():
    spans = spans_of(SMALL)
    image = spans.image[0].tolist()
    assert image == [0] * 20 + [1] * 20 + [2] * 20 + [-1] * 7
    assert not spans.prefix_text.any()


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_split_sdpa_and_flex_block_mask_equal_the_masked_reference():
    from torch.nn.attention.flex_attention import flex_attention

    from mimicgen.train.masks import block_mask

    q, k, v = _qkv(SMALL)
    want = _reference(q, k, v, "blockdiag")
    torch.testing.assert_close(split_blockdiag(q, k, v, SMALL), want, rtol=1e-5, atol=1e-5)
    got = flex_attention(
        q, k, v, block_mask=block_mask(spans_of(SMALL), "blockdiag", 16), enable_gqa=True
    )
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # Image 2's vision rows really ignore image 1: the masked result differs from causal.
    causal = _reference(q, k, v, None)
    assert (causal[:, :, 20:40] - want[:, :, 20:40]).abs().max() > 1e-3
    torch.testing.assert_close(causal[:, :, :20], want[:, :, :20])  # image 1 sees only itself


def test_report_puts_measured_saving_beside_the_model():
    from mimicgen.cli.flops_cmd import report_lines

    shapes = LayerShapes(10, 730, 17, 896, 14, 2)
    m = Measurement(shapes, "cpu", "float32")
    m.forward = {"projections": 1.0, "dense": 9.0, "blockdiag": 1.0, "sdpa": 8.0, "split": 2.0}
    m.backward = {"sdpa": 4.0, "split": 1.0}
    m.blocks_computed = 0.14
    text = "\n".join(report_lines(m, 0.807, paper_shapes=True))
    assert "10 images x 730 + 17 text tokens (N = 7317)" in text
    # 1 - (1 + 1) / (1 + 9) = 80.0 %; 1 - (1 + 2) / (1 + 8) = 66.7 %; backward 1 - 1/4 = 75 %.
    assert "measured 80.0% (FlexAttention), 66.7% (sdpa)" in text
    # The model at 10 x 730 + 17, d 896 (N = 7317): N d^2 + pairs d = 53.84B dense, 10.76B
    # masked (pairs 10 * 730^2 + 17 N): 80.0 %; at 10.4 x 730 + 17.4: 80.7 %.
    assert (
        "FLOPs model 80.0% at these shapes, 80.7% at the given ones (the paper's Table 7: 81%)"
        in text
    )
    assert "forward + backward: measured 75.0% (sdpa)" in text
    assert "blocks computed under the mask: 14.0% of the causal mask's" in text
    # Attention alone: 1 - 1/9 and 1 - 2/8; pairs 1 - (10 * 730^2 + 17 * 7317) / 7317^2.
    assert "attention forward: measured 88.9% (FlexAttention), 75.0% (sdpa)" in text
    assert "FLOPs model 89.8% (attended pairs)" in text


def test_flops_measure_passes_the_paper_shapes(monkeypatch):
    """--measure rounds the paper's means to whole images and tokens and uses the Qwen2-0.5B
    heads for d = 896; --json carries the measured numbers."""
    from mimicgen.train import measure

    seen = []

    def fake(shapes, device, dtype, backward, repeats, **_):
        seen.append((shapes, device, dtype, backward, repeats))
        m = Measurement(shapes, device, str(dtype).removeprefix("torch."))
        m.forward = {"projections": 1.0, "dense": 3.0, "blockdiag": 1.0, "sdpa": 2.0, "split": 1.0}
        return m

    monkeypatch.setattr(measure, "measure_attention", fake)
    res = runner.invoke(app, ["flops", "--measure", "--hidden", "896", "--repeats", "2"])
    assert res.exit_code == 0, res.output
    assert seen == [(LayerShapes(10, 730, 17, 896, 14, 2), "cpu", torch.float32, False, 2)]
    assert "58.0B      11.2B   80.7%" in res.stdout  # the model table stays
    assert "measured 50.0% (FlexAttention), 33.3% (sdpa)" in res.stdout
    assert "80.7% at the given ones (the paper's Table 7: 81%)" in res.stdout
    res = runner.invoke(
        app, ["flops", "--measure", "--json", "-d", "128", "--images", "2", "--vision-tokens", "64"]
    )
    assert res.exit_code == 0, res.output
    [row] = json.loads(res.stdout)
    assert row["measured"]["shapes"]["heads"] == 2 and row["measured"]["saving_flex"] == 0.5
    assert seen[-1][0] == LayerShapes(2, 64, 17, 128, 2, 2)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--heads", "5"], "--heads 5 / --kv-heads 5 do not divide d = 896"),
        (["--dtype", "int8"], "--dtype 'int8'"),
        (["--device", "tpu"], "--device 'tpu'"),
        (["--images", "0.2"], "at least one image"),
    ],
)
def test_flops_measure_bad_options(args, needle):
    res = runner.invoke(app, ["flops", "--measure", "-d", "896", *args])
    assert isinstance(res.exception, InputError) and needle in str(res.exception)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal")
def test_flops_measure_cuda_without_a_gpu():
    res = runner.invoke(app, ["flops", "--measure", "--device", "cuda"])
    assert isinstance(res.exception, InputError) and "no CUDA device" in str(res.exception)
