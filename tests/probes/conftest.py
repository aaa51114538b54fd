"""Fixtures: tiny random VLM checkpoints saved to a temp dir and loaded via from_pretrained."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

FAMILIES = ("qwen2_vl", "qwen2_5_vl")


class _Lazy(dict):
    """family -> value, built on first use (so a -k selection builds only what it needs)."""

    def __init__(self, build):
        super().__init__()
        self._build = build

    def __missing__(self, family):
        self[family] = value = self._build(family)
        return value


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """family -> folder of a tiny random checkpoint (model, tokenizer, image processor)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from mimicgen.probes.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny_vlms")
    return _Lazy(lambda f: build_tiny_model(f, root / f))


@pytest.fixture(scope="session")
def adapters(tiny_checkpoints):
    """family -> adapter loaded back through the real from_pretrained path (float32)."""
    from mimicgen.probes.adapters import load_adapter

    return _Lazy(lambda f: load_adapter(str(tiny_checkpoints[f]), dtype="float32"))


def noise_image(seed: int, size: tuple[int, int] = (56, 56)) -> Image.Image:
    """A deterministic random RGB image."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
