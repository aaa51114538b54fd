"""Training masks on tiny models: gradient isolation, layer selection, flex == eager, packing."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mimicgen.train.data import collate, encode_conversation, load_conversations
from mimicgen.train.model import MaskPlan, batch_spans, forward

from .conftest import TRAIN_FAMILIES

KINDS = ("blockdiag", "invisible", "invisible-strict", "bidirectional")


def _examples(adapter, folder, picks=(0, 1, 2)):
    convs = load_conversations(folder)
    return [encode_conversation(adapter, convs[i]) for i in picks]


def _leaves(batch):
    return [f.detach().clone().requires_grad_(True) for f in batch.features]


@pytest.mark.parametrize("family", TRAIN_FAMILIES)
def test_blockdiag_cuts_gradient_between_images(train_adapters, llava_folder, family):
    adapter = train_adapters[family]
    batch = collate(adapter, _examples(adapter, llava_folder, picks=(0,)))
    spans = batch_spans(adapter, batch)
    img2 = spans.image[0] == 1
    assert int(img2.sum()) == len(batch.features[1]) > 0
    every = frozenset(range(adapter.num_layers))

    def run(plan):
        feats = _leaves(batch)
        out = forward(adapter, batch, plan, features=feats, hidden_states=True)
        return feats, out

    feats, out = run(MaskPlan("blockdiag", every))
    assert len(out.hidden_states) == adapter.num_layers + 1
    for layer, h in enumerate(out.hidden_states[1:]):
        g1, g2 = torch.autograd.grad(h[0, img2].sum(), feats[:2], retain_graph=True)
        assert torch.count_nonzero(g1) == 0, f"layer {layer}: image 2 sees image 1"
        assert torch.count_nonzero(g2) > 0
    # The answer tokens' loss still reads both images.
    g1, g2 = torch.autograd.grad(out.loss, feats[:2])
    assert g1.abs().max() > 0 and g2.abs().max() > 0

    feats, out = run(MaskPlan())
    g1 = torch.autograd.grad(out.hidden_states[-1][0, img2].sum(), feats[0])[0]
    assert g1.abs().max() > 0  # without the mask image 2 attends image 1


@pytest.mark.parametrize("family", TRAIN_FAMILIES)
def test_mask_only_in_chosen_layers(train_adapters, llava_folder, family):
    adapter = train_adapters[family]
    batch = collate(adapter, _examples(adapter, llava_folder, picks=(1,)))
    layer = adapter.num_layers - 2
    with torch.no_grad():
        dense = forward(adapter, batch, MaskPlan(), hidden_states=True).hidden_states
        late = forward(
            adapter, batch, MaskPlan("blockdiag", frozenset({layer})), hidden_states=True
        ).hidden_states
    for i in range(layer + 1):  # embeddings and the outputs of layers before ``layer``
        torch.testing.assert_close(dense[i], late[i], rtol=0, atol=0)
    assert (dense[layer + 1] - late[layer + 1]).abs().max() > 1e-4


@pytest.mark.parametrize("family", TRAIN_FAMILIES)
@pytest.mark.parametrize("pack", [False, True], ids=["padded", "packed"])
def test_flex_equals_eager(train_adapters, llava_folder, family, pack, capsys):
    """FlexAttention block masks give the eager float-mask outputs, every kind, padded (three
    lengths) and packed. Backward on CPU: PyTorch has no FlexAttention backward there."""
    adapter = train_adapters[family]
    batch = collate(adapter, _examples(adapter, llava_folder), pack=pack)
    assert (batch.attention_mask == 0).any() != pack  # padded rows really hold padding
    layers = frozenset(range(1, adapter.num_layers))
    for kind in KINDS:
        with torch.no_grad():
            e = forward(adapter, batch, MaskPlan(kind, layers, "eager"), hidden_states=True)
            f = forward(adapter, batch, MaskPlan(kind, layers, "flex"), hidden_states=True)
        real = batch.attention_mask.bool()
        diff = max(
            float((a - b)[real].abs().max())
            for a, b in zip(e.hidden_states, f.hidden_states, strict=True)
        )
        with capsys.disabled():
            print(
                f"\n{family} {'packed' if pack else 'padded'} {kind}: max |flex - eager| "
                f"= {diff:.2e}"
            )
        assert diff < 1e-4
        torch.testing.assert_close(e.loss, f.loss, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="FlexAttention backward needs CUDA")
@pytest.mark.parametrize("family", TRAIN_FAMILIES)
def test_flex_backward_equals_eager_cuda(tiny_models, llava_folder, family):
    from mimicgen.train.model import load_for_training

    adapter = load_for_training(str(tiny_models[family]), device="cuda")
    batch = collate(adapter, _examples(adapter, llava_folder))
    layers = frozenset(range(adapter.num_layers))
    for kind in KINDS:
        grads = []
        for backend in ("eager", "flex"):
            feats = _leaves(batch)
            out = forward(adapter, batch, MaskPlan(kind, layers, backend), features=feats)
            grads.append(torch.autograd.grad(out.loss, feats))
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", TRAIN_FAMILIES)
def test_packed_and_padded_batches_agree(train_adapters, llava_folder, family):
    """The same conversations padded, packed and one by one give the same loss: padding and
    other packed sequences change nothing."""
    adapter = train_adapters[family]
    exs = _examples(adapter, llava_folder)
    plan = MaskPlan("invisible-strict", frozenset(range(adapter.num_layers)))
    with torch.no_grad():
        padded = forward(adapter, collate(adapter, exs), plan)
        packed = forward(adapter, collate(adapter, exs, pack=True), plan)
        single = [forward(adapter, collate(adapter, [e]), plan) for e in exs]
    n = sum(s.n_label_tokens for s in single)
    mean = sum(s.loss * s.n_label_tokens for s in single) / n
    assert padded.n_label_tokens == packed.n_label_tokens == n
    torch.testing.assert_close(padded.loss, mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(packed.loss, mean, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="compiled FlexAttention training: CUDA")
def test_compiled_flex_trains_on_varying_lengths_cuda(tiny_models, llava_folder):
    """The compiled kernel (the one mimicgen finetune uses on CUDA) gives the eager gradients
    for batches of three different lengths without compiling a graph per length."""
    from torch._dynamo.utils import counters

    from mimicgen.train.model import load_for_training

    adapter = load_for_training(str(tiny_models["qwen2_vl"]), device="cuda")
    layers = frozenset(range(adapter.num_layers))
    exs = _examples(adapter, llava_folder)
    graphs = []
    for ex in exs:  # 2, 3 and 1 images: three sequence lengths
        batch = collate(adapter, [ex])
        grads = []
        for plan in (
            MaskPlan("blockdiag", layers, "eager"),
            MaskPlan("blockdiag", layers, "flex", compiled=True),
        ):
            feats = _leaves(batch)
            out = forward(adapter, batch, plan, features=feats)
            grads.append(torch.autograd.grad(out.loss, feats))
        for a, b in zip(*grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)
        graphs.append(counters["stats"]["unique_graphs"])
    assert graphs[2] == graphs[1]  # the third length reuses the dynamic graph
