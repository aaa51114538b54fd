"""Fixtures: tiny random VLM checkpoints saved to a temp dir and loaded via from_pretrained."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

FAMILIES = ("qwen2_vl", "qwen2_5_vl", "llava_onevision", "internvl")


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
    import torch

    # One thread: the tiny models gain nothing from more, and a busy machine punishes spinning.
    torch.set_num_threads(1)
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


def record_line(qid, task, question, images):
    """One ``benchmark.jsonl`` line (SPEC §4 keys) for a hand-written test benchmark."""
    import json

    return json.dumps(
        {
            "id": qid,
            "task": task,
            "question": question,
            "answer": {"counts": {"dog": 1}},
            "answer_text": "1",
            "images": images,
            "controls": {"n_images": len(images)},
            "template": {"task": "t", "connector": "c"},
        }
    )


def write_benchmark(folder, sizes=((56, 56), (28, 56), (56, 28))):
    """A hand-written 3-query benchmark (SPEC §4 records, tiny PNGs) in ``folder``."""
    from pathlib import Path

    folder = Path(folder)
    (folder / "images").mkdir(parents=True)
    queries = [
        ("q-0", "counting", "how many dog are there ?", [0, 1]),
        ("q-1", "listing", "list every class in these images", [2, 0, 1]),
        ("q-2", "common", "which class is in all images ?", [1, 2]),
    ]
    lines = []
    for qid, task, question, picks in queries:
        images = []
        for pos, k in enumerate(picks):
            name = f"images/{qid}-{pos}.png"
            noise_image(100 + 10 * k + pos, sizes[k]).save(folder / name)
            images.append(
                {
                    "path": name,
                    "source_id": k,
                    "position": pos,
                    "role": "query",
                    "class_counts": {"dog": 1},
                }
            )
        lines.append(record_line(qid, task, question, images))
    (folder / "benchmark.jsonl").write_text("\n".join(lines) + "\n")
    return folder
