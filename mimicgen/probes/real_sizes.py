"""Random-weight VLMs at real published sizes (``--model random:NAME``), built from config objects.

The architecture values live as data in ``real_sizes.yaml`` (one entry per checkpoint: family,
hub id, config and image-processor keyword arguments). Nothing is downloaded: the tokenizer is
:func:`mimicgen.probes.tiny.tiny_tokenizer` padded with filler words to the published
``vocab_size`` (its special-token ids replace the published ones), the weights are random
(seeded), built
directly on the target device (``meta`` for shape checks: no memory at all). Speed and memory
measured on these models are those of the real shapes; their replies are noise.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from mimicgen.errors import InputError

if TYPE_CHECKING:
    from mimicgen.probes.adapters.base import VLMAdapter

__all__ = [
    "RANDOM_PREFIX",
    "RealSize",
    "build_random_model",
    "is_random",
    "random_adapter",
    "real_size",
    "real_sizes",
    "write_random_checkpoint",
]

RANDOM_PREFIX = "random:"
"""Model names ``random:NAME`` select a :data:`real_sizes` entry instead of a checkpoint."""

_DATA = Path(__file__).with_name("real_sizes.yaml")

_CONFIG_CLASSES = {
    "qwen2_vl": "Qwen2VLConfig",
    "qwen2_5_vl": "Qwen2_5_VLConfig",
    "llava_onevision": "LlavaOnevisionConfig",
    "internvl": "InternVLConfig",
}


class RealSize(BaseModel):
    """One published checkpoint's architecture, as data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family: Literal["qwen2_vl", "qwen2_5_vl", "llava_onevision", "internvl"]
    """The ``config.model_type`` (and adapter) of the checkpoint."""
    published_as: str
    """The hub id whose ``config.json`` the values come from."""
    config: dict[str, Any]
    """Keyword arguments of the family's transformers config class."""
    processor: dict[str, Any]
    """Keyword arguments of the family's image processor."""


@functools.cache
def real_sizes() -> dict[str, RealSize]:
    """Every entry of ``real_sizes.yaml`` by name (e.g. ``qwen2-vl-2b``)."""
    data = yaml.safe_load(_DATA.read_text(encoding="utf-8"))
    return {name: RealSize.model_validate(entry) for name, entry in data.items()}


def is_random(model: str) -> bool:
    """Whether ``model`` names a random-weight real-size model (``random:NAME``)."""
    return model.startswith(RANDOM_PREFIX)


def real_size(model: str) -> tuple[str, RealSize]:
    """``(NAME, entry)`` for ``random:NAME`` (or a bare NAME); a one-line error for others."""
    name = model.removeprefix(RANDOM_PREFIX)
    sizes = real_sizes()
    if name not in sizes:
        raise InputError(
            f"unknown random model {model!r}; choose one of "
            + ", ".join(RANDOM_PREFIX + n for n in sizes)
        )
    return name, sizes[name]


def _config(entry: RealSize) -> Any:
    import transformers

    from mimicgen.probes.tiny import family_token_ids, tiny_tokenizer

    _, vocab = tiny_tokenizer()
    top, text_ids = family_token_ids(entry.family, vocab)
    cfg = dict(entry.config)
    cfg["text_config"] = {**cfg["text_config"], **text_ids}
    return getattr(transformers, _CONFIG_CLASSES[entry.family])(**cfg, **top)


def build_random_model(
    model: str,
    device: str = "meta",
    dtype: Any = None,
    seed: int = 0,
    attn: dict[str, str] | None = None,
) -> tuple[Any, Any, Any]:
    """``(model, tokenizer, image_processor)`` for ``random:NAME``, built on ``device``.

    ``dtype`` defaults to bfloat16 (the published checkpoints' dtype); ``attn`` is the
    ``attn_implementation`` mapping (default: the adapter's, i.e. the probe function for the
    language model and ``sdpa`` for the tower). The weights are initialised on ``device`` with
    the model's own initialisers after ``torch.manual_seed(seed)``.
    """
    import torch

    from mimicgen.probes.adapters import adapter_for
    from mimicgen.probes.attention import register
    from mimicgen.probes.tiny import chat_template, tiny_tokenizer

    _, entry = real_size(model)
    cls = adapter_for(entry.family)
    register()
    config = _config(entry)
    torch.manual_seed(seed)
    with torch.device(device):
        net = cls.model_class()._from_config(
            config,
            dtype=dtype or torch.bfloat16,
            attn_implementation=attn or cls.attn_implementation(),
        )
    net.generation_config.eos_token_id = config.text_config.eos_token_id
    tokenizer, _ = tiny_tokenizer(config.text_config.vocab_size)
    tokenizer.chat_template = chat_template(entry.family)
    processor = cls.image_processor_class()(**entry.processor)
    return net, tokenizer, processor


def random_adapter(
    model: str,
    dtype: str = "auto",
    device: str | None = None,
    device_map: str | None = None,
    attn: str | None = None,
    processor_kwargs: dict[str, Any] | None = None,
) -> VLMAdapter:
    """The family adapter around :func:`build_random_model` (``load_adapter``'s arguments)."""
    import torch

    from mimicgen.probes.adapters import adapter_for
    from mimicgen.probes.adapters.base import resolve_dtype

    if device_map:
        raise InputError(
            f"{model}: a random model is built on one device; use --device instead of --device-map"
        )
    _, entry = real_size(model)
    cls = adapter_for(entry.family)
    resolved = resolve_dtype(dtype)
    net, tokenizer, processor = build_random_model(
        model,
        device=device or "cpu",
        dtype=torch.bfloat16 if resolved == "auto" else resolved,
        attn=cls.attn_implementation(attn),
    )
    if processor_kwargs:
        processor = cls.image_processor_class()(**{**entry.processor, **processor_kwargs})
    return cls(net, tokenizer, processor)


def write_random_checkpoint(model: str, out: str | Path) -> Path:
    """Write ``random:NAME``'s config, tokenizer and image processor (no weights) to ``out``:
    what engines that make their own random weights read (vLLM's ``load_format="dummy"``)."""
    from mimicgen.probes.adapters import adapter_for
    from mimicgen.probes.tiny import chat_template, tiny_tokenizer

    _, entry = real_size(model)
    cls = adapter_for(entry.family)
    out = Path(out)
    config = _config(entry)
    config.architectures = [cls.model_class_name]
    config.save_pretrained(out)
    tokenizer, _ = tiny_tokenizer(config.text_config.vocab_size)
    tokenizer.chat_template = chat_template(entry.family)
    tokenizer.save_pretrained(out)
    cls.image_processor_class()(**entry.processor).save_pretrained(out)
    return out
