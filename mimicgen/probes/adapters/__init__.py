"""Model adapters (import torch/transformers; load lazily via :func:`load_adapter`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the adapters import torch; keep this package importable without it
    from mimicgen.probes.adapters.base import VLMAdapter

__all__ = ["ADAPTERS", "adapter_for", "load_adapter"]

ADAPTERS = ("qwen2_vl", "qwen2_5_vl", "llava_onevision", "internvl")
"""``config.model_type`` values with an adapter."""


def adapter_for(model_type: str) -> type[VLMAdapter]:
    """The adapter class for a ``config.model_type``."""
    from mimicgen.errors import InputError
    from mimicgen.probes.adapters.internvl import InternVLAdapter
    from mimicgen.probes.adapters.llava_onevision import LlavaOnevisionAdapter
    from mimicgen.probes.adapters.qwen2_vl import Qwen2VLAdapter, Qwen25VLAdapter

    for cls in (Qwen2VLAdapter, Qwen25VLAdapter, LlavaOnevisionAdapter, InternVLAdapter):
        if model_type in cls.model_types:
            return cls
    raise InputError(
        f"no probe adapter for model_type {model_type!r}; supported: {', '.join(ADAPTERS)}"
    )


def load_adapter(
    path: str,
    dtype: str = "auto",
    device: str | None = None,
    device_map: str | None = None,
    attn: str | None = None,
    processor_kwargs: dict | None = None,
) -> VLMAdapter:
    """Read ``config.json`` of a hub id / local folder and load it with the matching adapter
    (``attn``: the language model's attention, ``None`` = the probe function;
    ``processor_kwargs``: image processor options such as Qwen's ``min_pixels``).
    ``random:NAME`` builds a random-weight model at a published size instead
    (:mod:`mimicgen.probes.real_sizes`)."""
    from transformers import AutoConfig

    from mimicgen.errors import InputError
    from mimicgen.probes.real_sizes import is_random, random_adapter, real_size

    if is_random(path):
        model_type = real_size(path)[1].family
        _check_pixels(model_type, processor_kwargs)
        return random_adapter(path, dtype, device, device_map, attn, processor_kwargs)
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot load a model config from {path!r} ({exc.__class__.__name__}); "
            "pass a local model folder or a cached hub id"
        ) from None
    _check_pixels(config.model_type, processor_kwargs)
    cls = adapter_for(config.model_type)
    return cls.from_pretrained(path, dtype, device, device_map, attn, processor_kwargs)


def _check_pixels(model_type: str, processor_kwargs: dict | None) -> None:
    from mimicgen.errors import InputError

    if processor_kwargs and not adapter_for(model_type).pixel_budget:
        raise InputError(
            f"--min-pixels/--max-pixels apply to Qwen2-VL/Qwen2.5-VL only, not {model_type}"
        )
