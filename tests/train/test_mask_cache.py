"""Each distinct mask is built once per batch (not per layer, not again for recomputed
activations, not at all for a kind no layer applies), with the losses and gradients of masks
built afresh for every attention call."""

from __future__ import annotations

import pytest
import torch

from mimicgen.train import attention
from mimicgen.train.data import collate, encode_conversation, load_conversations
from mimicgen.train.model import MaskPlan, enable_checkpointing, forward, load_for_training

FAMILY = "llava_onevision"


def _batch(adapter, folder):
    convs = load_conversations(folder)
    return collate(adapter, [encode_conversation(adapter, convs[i]) for i in (0, 1)])


@pytest.fixture
def builds(monkeypatch):
    """Kinds passed to ``create_block_mask``, read from each mask_mod's closure."""
    from torch.nn.attention import flex_attention as fa

    calls: list[object] = []
    real = fa.create_block_mask

    def counting(mask_mod, *args, **kwargs):
        calls.append(mask_mod)
        return real(mask_mod, *args, **kwargs)

    monkeypatch.setattr(fa, "create_block_mask", counting)
    return calls


@pytest.mark.parametrize(
    ("kind", "which", "expected"),
    [
        ("blockdiag", "some", 2),  # blockdiag in some layers, causal in the rest
        ("blockdiag", "all", 1),  # no layer is causal: no causal mask
        (None, "none", 1),
    ],
)
def test_one_block_mask_build_per_distinct_kind_per_forward(
    train_adapters, llava_folder, builds, kind, which, expected
):
    adapter = train_adapters[FAMILY]
    n = adapter.num_layers
    layers = {"some": frozenset(range(1, n)), "all": frozenset(range(n)), "none": frozenset()}
    batch = _batch(adapter, llava_folder)
    with torch.no_grad():
        out = forward(adapter, batch, MaskPlan(kind, layers[which], "flex"))
        assert len(builds) == expected
        forward(adapter, batch, MaskPlan(kind, layers[which], "flex"))
    assert len(builds) == 2 * expected  # a new batch builds its own
    out.masks.clear()
    assert out.masks.cache == {}


def _fresh_every_call(monkeypatch):
    """The masks as they were built before caching: from scratch for every attention call."""
    from mimicgen.train.masks import block_mask, float_mask

    def fresh(self, kind):
        if self.backend == "flex":
            return block_mask(self.spans, kind)
        return float_mask(self.spans, kind, self.dtype)

    monkeypatch.setattr(attention.TrainMasks, "mask", fresh)


def test_cached_flex_masks_give_the_loss_of_fresh_ones(train_adapters, llava_folder, monkeypatch):
    adapter = train_adapters[FAMILY]
    batch = _batch(adapter, llava_folder)
    plan = MaskPlan("blockdiag", frozenset(range(1, adapter.num_layers)), "flex")
    with torch.no_grad():
        cached = forward(adapter, batch, plan).loss
        monkeypatch.undo()
        _fresh_every_call(monkeypatch)
        fresh = forward(adapter, batch, plan).loss
    assert torch.equal(cached, fresh)


def test_checkpointed_backward_reuses_the_masks_with_unchanged_gradients(
    tiny_models, llava_folder, builds, monkeypatch
):
    """Eager reference on CPU, activations recomputed in the backward: the causal and the
    blockdiag float masks are each built once for forward and backward together, and loss and
    gradients equal those of masks built afresh for every call."""
    from mimicgen.train import masks as masks_module

    adapter = load_for_training(str(tiny_models[FAMILY]))
    enable_checkpointing(adapter)
    adapter.model.train()
    batch = _batch(adapter, llava_folder)
    plan = MaskPlan("blockdiag", frozenset(range(1, adapter.num_layers)), "eager")
    made: list[object] = []
    real = masks_module.float_mask
    monkeypatch.setattr(attention, "float_mask", lambda *a: made.append(a[1]) or real(*a))
    uses: list[int] = []
    for_layer = attention.TrainMasks.for_layer
    monkeypatch.setattr(
        attention.TrainMasks, "for_layer", lambda self, i: uses.append(i) or for_layer(self, i)
    )

    def loss_and_grads():
        feats = [f.clone().requires_grad_(True) for f in batch.features]
        res = forward(adapter, batch, plan, features=feats)
        with attention.train_masks(res.masks):
            res.loss.backward()
        return res.loss.detach(), [f.grad for f in feats]

    loss, grads = loss_and_grads()
    assert sorted(made, key=str) == [None, "blockdiag"]
    # Built up front, then every layer in the forward and again in the recomputed forward.
    assert len(uses) == 3 * adapter.num_layers
    monkeypatch.undo()
    _fresh_every_call(monkeypatch)
    ref_loss, ref_grads = loss_and_grads()
    assert torch.equal(loss, ref_loss)
    assert all(torch.equal(g, r) for g, r in zip(grads, ref_grads, strict=True))
    assert all(g.abs().sum() > 0 for g in grads)


def test_block_masks_build_eagerly_off_cuda_and_when_the_compiled_build_fails(monkeypatch):
    from torch.nn.attention.flex_attention import create_block_mask

    from mimicgen.train import masks as masks_module
    from mimicgen.train.spans import BatchSpans

    assert masks_module._builder(torch.device("cpu")) is create_block_mask
    # Text, image 0 (2 tokens), text, image 1 (1 token), text.
    img = torch.tensor([[-1, 0, 0, -1, 1, -1]], dtype=torch.int32)
    pre = torch.tensor([[True, False, False, False, False, False]])
    spans = BatchSpans(img, torch.zeros_like(img), pre)
    want = masks_module.block_mask(spans, "blockdiag", 2)

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(masks_module, "_builder", lambda device: broken)
    with pytest.warns(UserWarning, match="building eagerly"):
        got = masks_module.block_mask(spans, "blockdiag", 2)
    assert masks_module._COMPILED_BUILD.pop("failed")
    assert torch.equal(got.to_dense(), want.to_dense())
