"""Random-weight models at the published sizes, built on the ``meta`` device (no memory, instant).

The expected values are the checkpoints' own published numbers (config.json and the parameter
counts on their model cards), written here by hand, not read from ``real_sizes.yaml``.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from mimicgen.errors import InputError
from tests.probes.conftest import noise_image

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mimicgen.probes.real_sizes import build_random_model, real_sizes, write_random_checkpoint

# name: (hidden, layers, heads, kv heads, intermediate, vocab, vision depth, vision width, params)
PUBLISHED = {
    "llava-ov-0.5b": (896, 24, 14, 2, 4864, 152000, 26, 1152, 893_675_552),
    "qwen2-vl-2b": (1536, 28, 12, 2, 8960, 151936, 32, 1280, 2_208_985_600),
    "qwen2.5-vl-3b": (2048, 36, 16, 2, 11008, 151936, 32, 1280, 3_754_622_976),
    "qwen2.5-vl-7b": (3584, 28, 28, 4, 18944, 152064, 32, 1280, 8_292_166_656),
    "internvl3-2b": (1536, 28, 12, 2, 8960, 151674, 24, 1024, 2_088_883_712),
}
"""Params: the safetensors totals the hub lists (0.89B, 2.21B, 3.75B, 8.29B, 2.09B)."""


def _tower_blocks(model):
    visual = getattr(model.model, "visual", None)
    if visual is not None:  # Qwen
        return visual.blocks, visual.blocks[0].norm1.weight.shape[0]
    tower = model.model.vision_tower  # SigLIP names its blocks .layers, InternViT .layer
    encoder = tower.encoder
    layers = encoder.layers if hasattr(encoder, "layers") else encoder.layer
    width = next(p for n, p in tower.embeddings.named_parameters() if "patch_embedding" in n)
    return layers, width.shape[0]


def test_every_published_model_is_listed():
    assert set(real_sizes()) == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_shapes_equal_the_published_values(name):
    hidden, layers, heads, kv, inter, vocab, depth, width, params = PUBLISHED[name]
    model, tokenizer, _ = build_random_model(f"random:{name}", device="meta")
    assert len(tokenizer) == vocab  # every id the model can emit decodes
    lm = model.model.language_model
    assert lm.embed_tokens.weight.shape == (vocab, hidden)
    assert len(lm.layers) == layers
    attn = lm.layers[0].self_attn
    head_dim = hidden // heads
    assert attn.q_proj.weight.shape == (heads * head_dim, hidden)
    assert attn.k_proj.weight.shape == (kv * head_dim, hidden)
    assert lm.layers[0].mlp.gate_proj.weight.shape == (inter, hidden)
    blocks, tower_width = _tower_blocks(model)
    assert len(blocks) == depth and tower_width == width
    assert sum(p.numel() for p in model.parameters()) == params
    assert next(model.parameters()).dtype == torch.bfloat16
    assert next(model.parameters()).device.type == "meta"


@pytest.mark.parametrize(("name", "per_image"), [("llava-ov-0.5b", 730), ("internvl3-2b", 256)])
def test_fixed_resolution_token_counts_on_meta(name, per_image):
    """The paper's 730 tokens per LLaVA-OV image, InternVL's 256, through the adapter."""
    from mimicgen.probes.adapters import load_adapter

    adapter = load_adapter(f"random:{name}", device="meta")
    images = [noise_image(i, (64, 48)) for i in range(3)]
    prepared = adapter.prepare(images, "how many dog are there ?")
    assert prepared.tokens.vision_counts() == [per_image] * 3
    assert prepared.inputs_embeds.device.type == "meta"


def test_unknown_name_and_device_map_are_one_line_errors():
    from mimicgen.probes.adapters import load_adapter

    with pytest.raises(InputError, match="random:qwen2-vl-2b") as err:
        load_adapter("random:qwen9")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="--device"):
        load_adapter("random:qwen2-vl-2b", device_map="auto")
    with pytest.raises(InputError, match="Qwen2-VL/Qwen2.5-VL only"):
        load_adapter("random:llava-ov-0.5b", processor_kwargs={"max_pixels": 1000})


def test_config_only_checkpoint_for_vllm_dummy_weights(tmp_path, monkeypatch):
    folder = write_random_checkpoint("random:qwen2.5-vl-7b", tmp_path / "ckpt")
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["architectures"] == ["Qwen2_5_VLForConditionalGeneration"]
    assert cfg["text_config"]["hidden_size"] == 3584 and cfg["vision_config"]["depth"] == 32
    assert not list(folder.glob("*.safetensors"))
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(folder).text_config.num_hidden_layers == 28

    seen = {}

    class LLM:  # vLLM's constructor shape; reads the folder while it exists
        def __init__(self, **kwargs):
            seen.update(kwargs)
            seen["config"] = json.loads((Path(kwargs["model"]) / "config.json").read_text())

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM))
    from mimicgen.predict.vllm_engine import VLLMBackend

    backend = VLLMBackend("random:qwen2-vl-2b", [])
    assert seen["load_format"] == "dummy"
    assert seen["config"]["text_config"]["num_hidden_layers"] == 28
    assert backend.model == "random:qwen2-vl-2b"  # recorded as the user named it
