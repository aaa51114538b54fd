"""LLaVA-OneVision adapter (placeholder until implemented)."""

from __future__ import annotations

from mimicgen.probes.adapters.base import VLMAdapter

__all__ = ["LlavaOnevisionAdapter"]


class LlavaOnevisionAdapter(VLMAdapter):  # type: ignore[misc]
    model_types = ("llava_onevision",)
