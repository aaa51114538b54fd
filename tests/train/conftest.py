"""Fixtures: tiny random VLMs loaded for training, and a hand-made training folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

TRAIN_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "llava_onevision")


class _Lazy(dict):
    def __init__(self, build):
        super().__init__()
        self._build = build

    def __missing__(self, key):
        self[key] = value = self._build(key)
        return value


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """family -> folder of a tiny random checkpoint."""
    pytest.importorskip("transformers")
    import torch

    torch.set_num_threads(1)
    from mimicgen.probes.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny_train_vlms")
    return _Lazy(lambda f: build_tiny_model(f, root / f))


@pytest.fixture(scope="session")
def train_adapters(tiny_models):
    """family -> adapter loaded with the training attention function (float32)."""
    from mimicgen.train.model import load_for_training

    return _Lazy(lambda f: load_for_training(str(tiny_models[f])))


@pytest.fixture(scope="session")
def llava_folder(tmp_path_factory):
    """A 3-conversation LLaVA training file over noise images (2, 3 and 1 images)."""
    root = tmp_path_factory.mktemp("train_folder")
    (root / "images").mkdir()
    records = []
    for r, n in enumerate((2, 3, 1)):
        paths = []
        for i in range(n):
            rng = np.random.default_rng(10 * r + i)
            name = f"images/{r}-{i}.png"
            Image.fromarray(rng.integers(0, 256, (56, 56, 3), dtype=np.uint8)).save(root / name)
            paths.append(name)
        marks = "\n".join(["<image>"] * n)
        records.append(
            {
                "id": f"c{r}",
                "image": paths,
                "conversations": [
                    {"from": "human", "value": f"{marks}\nhow many dog are there ?"},
                    {"from": "gpt", "value": str(r + 1)},
                    {"from": "human", "value": "which class is in all images ?"},
                    {"from": "gpt", "value": "cat"},
                ],
            }
        )
    (root / "llava.json").write_text(json.dumps(records))
    return root
