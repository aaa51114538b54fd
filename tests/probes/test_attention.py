"""The attn probe's chunked statistics, mask device placement, and refusals to silently no-op."""

from __future__ import annotations

import numpy as np
import pytest

from tests.probes.conftest import noise_image
from tests.probes.devices import DeviceMixCheck, DeviceMixError

torch = pytest.importorskip("torch")

from mimicgen.errors import InputError
from mimicgen.probes.attention import (
    AttentionRecorder,
    ProbeState,
    probe_attention_forward,
    probe_state,
)
from mimicgen.probes.masks import additive_mask, allowed_pairs
from mimicgen.probes.memory import recorded_attention_peak
from mimicgen.probes.tokens import grid_cells, token_map_from_ids

QUESTION = "how many dog are there ?"


def _reference_stats(adapter, path, prepared, fed):
    """Shares and answer attention from the model's own eager weights over the whole sequence
    (prompt + fed-back answer tokens), computed with plain numpy per image."""
    eager = type(adapter.model).from_pretrained(path, attn_implementation="eager", dtype="float32")
    lm = eager.model.language_model
    emb = torch.cat([prepared.inputs_embeds, lm.embed_tokens(torch.tensor([fed]))], dim=1)
    pos = [prepared.position_ids] + [
        adapter.decode_positions(prepared.next_position + i) for i in range(len(fed))
    ]
    with torch.no_grad():
        out = lm(inputs_embeds=emb, position_ids=torch.cat(pos, -1), output_attentions=True)
    tokens = prepared.tokens
    n, img = len(tokens), tokens.image
    shares, answer = [], []
    for layer_w in out.attentions:
        w = layer_w[0].double().mean(0).numpy()  # (L_total, L_total)
        vis_rows = np.flatnonzero(img >= 0)
        intra = np.array([w[q, :n][img == img[q]].sum() for q in vis_rows])
        vision = np.array([w[q, :n][img >= 0].sum() for q in vis_rows])
        shares.append([intra.mean(), (vision - intra).mean(), (1 - vision).mean()])
        answer.append(w[n - 1 : n + len(fed), :n].mean(0))
    return np.array(shares), np.array(answer)


@pytest.mark.parametrize("family", ["qwen2_vl", "llava_onevision"])
def test_chunked_statistics_equal_the_full_weights(adapters, tiny_checkpoints, family):
    adapter = adapters[family]
    images = [noise_image(50), noise_image(51, (28, 56)), noise_image(52)]
    prepared = adapter.prepare(images, QUESTION)
    recorder = AttentionRecorder(prepared.tokens, adapter.num_layers)
    state = adapter.state(prepared, recorder=recorder)
    # A budget of a few rows per chunk: every layer's prompt forward is cut into many chunks.
    state.chunk_bytes = 3 * 4 * 4 * len(prepared.tokens) * 3
    ids = adapter.generate(prepared, 4, state)
    fed = ids if len(ids) < 4 else ids[:-1]  # the last generated token is never fed back
    ref_shares, ref_answer = _reference_stats(adapter, str(tiny_checkpoints[family]), prepared, fed)
    np.testing.assert_allclose(recorder.shares, ref_shares, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(recorder.answer_attention(), ref_answer, rtol=1e-5, atol=1e-7)


def test_attention_function_puts_the_mask_on_the_layers_device():
    """Under device_map a layer may run on another device than the embeddings (where the mask
    was built): the mask must follow the query, with no op mixing devices."""
    img = np.array([-1, 0, 0, 1, 1, -1])
    tokens = token_map_from_ids(
        np.where(img >= 0, 7, 1), 7, [grid_cells(1, 2), grid_cells(1, 2)], [(1, 2), (1, 2)]
    )
    mask = torch.from_numpy(additive_mask(allowed_pairs(tokens, "blockdiag"), -1e9))[None, None]
    module = torch.nn.Module()
    q = torch.zeros(1, 2, 6, 4, device="meta")
    for recorder in (None, AttentionRecorder(tokens, 1)):
        state = ProbeState({id(module): 0}, 6, mask=mask, mask_layers=frozenset({0}))
        state.recorder = recorder
        with DeviceMixCheck(), probe_state(state):
            out, _ = probe_attention_forward(module, q, q, q, None)
        assert out.device.type == "meta" and state.applied == {0}
    # The check itself catches what the old placement did (a host mask next to a device query).
    with DeviceMixCheck(), pytest.raises(DeviceMixError):
        torch.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=mask)


def test_recorder_keeps_its_sums_on_the_weights_device():
    img = np.array([-1, 0, 0, 1, 1, -1])
    tokens = token_map_from_ids(
        np.where(img >= 0, 7, 1), 7, [grid_cells(1, 2), grid_cells(1, 2)], [(1, 2), (1, 2)]
    )
    rec = AttentionRecorder(tokens, 2)
    w = torch.zeros(1, 2, 6, 6, device="meta")
    with DeviceMixCheck():  # also fails on .numpy()/.item() of a device tensor
        rec.observe(0, w[:, :, :4], 0)
        rec.observe(0, w[:, :, 4:], 4)
        rec.observe(0, torch.zeros(1, 2, 1, 7, device="meta"), prompt=False)
    acc = rec._layers[0]
    assert {t.device.type for t in (acc.intra, acc.vision, acc.answer)} == {"meta"}
    assert acc.answer_n == 2


def test_recorder_sums_hand_computed():
    # Positions: text, img0, img0, img1, text. Uniform causal rows: row q spreads 1/(q+1).
    img = np.array([-1, 0, 0, 1, -1])
    tokens = token_map_from_ids(
        np.where(img >= 0, 7, 1), 7, [grid_cells(1, 2), grid_cells(1, 1)], [(1, 2), (1, 1)]
    )
    w = torch.tril(torch.ones(5, 5))
    w = (w / w.sum(1, keepdim=True))[None, None]
    rec = AttentionRecorder(tokens, 1)
    rec.observe(0, w[:, :, :2], 0)
    rec.observe(0, w[:, :, 2:], 2)
    # Vision rows 1, 2, 3: intra = 1/2, 2/3, 1/4; vision = 1/2, 2/3, 3/4.
    intra, vision = (1 / 2 + 2 / 3 + 1 / 4) / 3, (1 / 2 + 2 / 3 + 3 / 4) / 3
    np.testing.assert_allclose(rec.shares[0], [intra, vision - intra, 1 - vision], rtol=1e-6)
    np.testing.assert_allclose(rec.answer_attention()[0], [0.2] * 5, rtol=1e-6)


def _recorded_attention_peak(chunk_bytes: int) -> int:
    """Peak live tensor bytes of one recorded prompt forward of a 2048-token layer, 8 heads
    (7 images of 16 x 16 tokens), fp32 on the CPU: real arithmetic."""
    return recorded_attention_peak(
        2048, 8, 16, 7, 256, chunk_bytes, device="cpu", dtype=torch.float32
    )


def test_recorded_attention_peak_memory_is_bounded_by_the_chunk():
    dense = 8 * 2048 * 2048 * 4  # one fp32 heads x L x L weight tensor: 128 MiB
    budget = 8 * 2**20
    peak = _recorded_attention_peak(budget)
    # The chunks plus q, k, v and the output ((1, H, L, D) fp32, 1 MiB each) stay within the
    # budget, far below dense.
    assert peak <= budget + 4 * 2**20 + 2**20, peak
    assert peak < dense / 10
    # The meter sees the dense path: one chunk holding all rows costs over 2x the dense tensor.
    assert _recorded_attention_peak(2**40) > 2 * dense


def test_attn_peak_at_the_7b_shape_on_meta():
    """Qwen2.5-VL-7B (28 heads of 128) with 10 images of 34 x 34 tokens: L = 12,000. One dense
    fp32 weight tensor is 15.0 GiB; the recorded layer stays within q, k, v, the output and the
    256 MiB chunk budget. On meta: the real shapes, no memory, no arithmetic."""
    from mimicgen.probes.attention import CHUNK_BYTES

    L, H, D = 12000, 28, 128
    dense = H * L * L * 4
    io = 4 * H * L * D * 2  # q, k, v and the output in bf16
    peak = recorded_attention_peak(L, H, D, 10, 34 * 34)
    assert io < peak <= io + CHUNK_BYTES + 2**20, peak
    assert peak < dense / 25
    assert recorded_attention_peak(L, H, D, 10, 34 * 34, chunk_bytes=2**50) > 2 * dense


def test_model_without_probe_attention_refuses_masks(tiny_checkpoints, adapters):
    from transformers import AutoTokenizer

    adapter = adapters["qwen2_vl"]
    path = str(tiny_checkpoints["qwen2_vl"])
    sdpa = type(adapter.model).from_pretrained(path, attn_implementation="sdpa", dtype="float32")
    plain = type(adapter)(sdpa, AutoTokenizer.from_pretrained(path), adapter.image_processor)
    prepared = plain.prepare([noise_image(1)], QUESTION)
    mask = additive_mask(allowed_pairs(prepared.tokens, "blockdiag"), -1e9)
    with pytest.raises(InputError, match="attn_implementation='sdpa'"):
        plain.state(prepared, mask=mask, mask_layers=frozenset({1}))
    with pytest.raises(InputError, match="attn_implementation='sdpa'"):
        plain.state(prepared, recorder=AttentionRecorder(prepared.tokens, plain.num_layers))
    plain.generate(prepared, 2)  # no probe: runs


def test_layers_that_bypass_the_probe_function_are_reported(adapters):
    adapter = adapters["qwen2_vl"]
    prepared = adapter.prepare([noise_image(2)], QUESTION)
    mask = additive_mask(allowed_pairs(prepared.tokens, "blockdiag"), -1e9)
    state = adapter.state(prepared, mask=mask, mask_layers=frozenset({1, 2}))
    # As if layer 2's attention module were replaced after the adapter mapped the layers.
    state.layer_of = {k: v for k, v in state.layer_of.items() if v != 2}
    with pytest.raises(InputError, match=r"layers \[2\] never called"):
        adapter.generate(prepared, 2, state)
