"""CUDA readiness of the training path, checked on CPU.

No GPU here, so: the backend choice is a pure function of the device name; the compiled
FlexAttention kernel is what a compiled plan calls (a stand-in records each call's devices);
and on the ``meta`` device under :class:`~tests.probes.devices.DeviceMixCheck` (every op's
tensors on one device) a whole LoRA training step, with gradient checkpointing, builds its
masks and every tensor it makes on the model's device: no host tensor meets a device one, as
CUDA would refuse.
"""

from __future__ import annotations

import dataclasses

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mimicgen.errors import InputError
from mimicgen.train import attention
from mimicgen.train.attention import build_masks, choose_backend, train_masks
from mimicgen.train.data import collate, encode_conversation, load_conversations
from mimicgen.train.model import MaskPlan, batch_spans, enable_checkpointing, forward
from mimicgen.train.spans import BatchSpans
from tests.probes.devices import DeviceMixCheck, DeviceMixError


@pytest.mark.parametrize(
    ("attn", "device", "expected"),
    [
        ("auto", "cuda", ("flex", True)),
        ("auto", "cuda:1", ("flex", True)),
        ("flex", "cuda:0", ("flex", True)),
        ("eager", "cuda", ("eager", False)),
        ("auto", "cpu", ("eager", False)),
        ("eager", "cpu", ("eager", False)),
    ],
)
def test_backend_choice(attn, device, expected):
    assert choose_backend(attn, device) == expected


def test_flex_off_cuda_and_bad_devices_are_one_line_errors():
    with pytest.raises(InputError, match="CUDA only"):
        choose_backend("flex", "cpu")
    with pytest.raises(InputError, match="not a torch device"):
        choose_backend("auto", "gpu0")


def test_compiled_kernel_is_torch_compile_of_flex_attention(monkeypatch):
    from torch.nn.attention.flex_attention import flex_attention

    calls = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: calls.append((fn, kw)) or "kernel")
    monkeypatch.setattr(attention, "_COMPILED", {})
    assert attention._flex(True) == attention._flex(True) == "kernel"
    assert calls == [(flex_attention, {"dynamic": True})]  # compiled once, dynamic shapes
    assert attention._flex(False) is flex_attention


def _spans(n=300, device="cpu"):
    """Text 0-9, image 0 at 10-137, image 1 at 138-265, text after."""
    img = torch.full((1, n), -1, dtype=torch.int32)
    img[0, 10:138], img[0, 138:266] = 0, 1
    pre = torch.zeros((1, n), dtype=torch.bool)
    pre[0, :10] = True
    spans = BatchSpans(img, torch.zeros((1, n), dtype=torch.int32), pre)
    return BatchSpans(*(t.to(device) for t in dataclasses.astuple(spans)))


def _block_tensors(mask):
    return [v for v in vars(mask).values() if isinstance(v, torch.Tensor)]


@pytest.mark.parametrize("backend", ["flex", "eager"])
def test_masks_are_built_on_the_spans_device(backend):
    """The masks are made where the batch lives (meta standing in for CUDA), bfloat16 float
    masks in bfloat16, without a host tensor in any op."""
    with DeviceMixCheck():
        masks = build_masks(
            _spans(device="meta"), "blockdiag", frozenset({1}), backend, torch.bfloat16
        ).build(2)
        built = (masks.masked, masks.plain)
    for mask in built:
        if backend == "flex":
            assert {t.device.type for t in _block_tensors(mask)} == {"meta"}
        else:
            assert mask.device.type == "meta" and mask.dtype == torch.bfloat16
    # The check catches what a host-built mask would do next to device activations.
    host = build_masks(_spans(), "blockdiag", frozenset({1}), "eager", torch.bfloat16)
    q = torch.zeros(1, 2, 300, 8, device="meta", dtype=torch.bfloat16)
    with DeviceMixCheck(), pytest.raises(DeviceMixError):
        torch.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=host.masked)


def test_eager_attention_on_device_in_bfloat16_with_grouped_heads():
    module = torch.nn.Module()
    module.layer_idx, module.num_key_value_groups = 1, 7
    q = torch.zeros(1, 14, 300, 64, device="meta", dtype=torch.bfloat16)
    kv = torch.zeros(1, 2, 300, 64, device="meta", dtype=torch.bfloat16)
    masks = build_masks(_spans(device="meta"), "blockdiag", frozenset({1}), "eager", torch.bfloat16)
    with DeviceMixCheck(), train_masks(masks):
        out, _ = attention.train_attention_forward(module, q, kv, kv, None)
    assert out.device.type == "meta" and out.dtype == torch.bfloat16
    assert out.shape == (1, 300, 14, 64)


def _batch(adapter, folder, picks=(0, 1)):
    convs = load_conversations(folder)
    return collate(adapter, [encode_conversation(adapter, convs[i]) for i in picks])


def test_a_compiled_plan_calls_the_compiled_kernel_with_device_masks(
    train_adapters, llava_folder, monkeypatch
):
    """What ``mimicgen finetune`` runs on CUDA (a compiled flex plan) goes through the compiled
    kernel in every decoder layer, with block masks on the queries' device; an uncompiled plan
    never does. The stand-in runs the plain kernel, so the loss is the eager one."""
    from torch.nn.attention.flex_attention import flex_attention

    adapter = train_adapters["llava_onevision"]
    batch = _batch(adapter, llava_folder)
    seen = []

    def kernel(q, k, v, block_mask, **kw):
        seen.append({q.device, k.device, v.device, *(t.device for t in _block_tensors(block_mask))})
        return flex_attention(q, k, v, block_mask=block_mask, **kw)

    monkeypatch.setattr(attention, "_COMPILED", {"flex": kernel})
    layers = frozenset(range(1, adapter.num_layers))
    with torch.no_grad():
        eager = forward(adapter, batch, MaskPlan("blockdiag", layers, "eager"))
        flex = forward(adapter, batch, MaskPlan("blockdiag", layers, "flex"))
        assert seen == []
        compiled = forward(adapter, batch, MaskPlan("blockdiag", layers, "flex", compiled=True))
    assert seen == [{adapter.device}] * adapter.num_layers
    torch.testing.assert_close(compiled.loss, eager.loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(flex.loss, eager.loss, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointed"])
def test_lora_training_step_keeps_every_tensor_on_the_model_device(
    tiny_models, llava_folder, monkeypatch, checkpointing
):
    """One LoRA step (forward, backward under the masks, clipping, AdamW) of a bfloat16 model on
    ``meta`` under DeviceMixCheck: any tensor the training path made on the host (a mask, a
    position table, the loss accumulator) next to the model's would raise."""
    from mimicgen.train.lora import apply_lora, trainable
    from mimicgen.train.model import load_for_training
    from mimicgen.train.settings import FinetuneSettings

    adapter = load_for_training(str(tiny_models["qwen2_vl"]), dtype="bfloat16")
    batch = _batch(adapter, llava_folder, picks=(0, 1, 2))
    spans = batch_spans(adapter, batch)  # from the ids' values, which meta tensors lack
    torch.manual_seed(0)
    peft_model = apply_lora(adapter, FinetuneSettings(model="m", data="d", dtype="bfloat16"))
    if checkpointing:
        enable_checkpointing(adapter)
    adapter.model.to("meta")
    meta = {
        f.name: getattr(batch, f.name).to("meta")
        for f in dataclasses.fields(batch)
        if isinstance(getattr(batch, f.name), torch.Tensor)
    }
    batch = dataclasses.replace(batch, **meta, features=[f.to("meta") for f in batch.features])
    import mimicgen.train.model as model_mod

    monkeypatch.setattr(
        model_mod,
        "batch_spans",
        lambda _a, _b: BatchSpans(*(t.to("meta") for t in dataclasses.astuple(spans))),
    )
    params = trainable(peft_model)
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    adapter.model.train()
    layers = frozenset(range(1, adapter.num_layers))
    with DeviceMixCheck():
        out = forward(adapter, batch, MaskPlan("blockdiag", layers, "eager"))
        loss_sum = torch.zeros((), device=adapter.device)
        with train_masks(out.masks):
            out.loss.backward()
        loss_sum += out.loss.detach()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
    assert out.masks.masked.device.type == "meta" and out.masks.masked.dtype == torch.bfloat16
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in params)
