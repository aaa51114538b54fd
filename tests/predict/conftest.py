"""Fixtures: a hand-written scorable benchmark and tiny saved checkpoints (with chat templates)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.probes.conftest import FAMILIES, _Lazy, adapters, noise_image, tiny_checkpoints

SIZES = [(56, 56), (28, 56), (56, 28), (84, 56)]


def write_bench(folder: Path, n: int = 10) -> Path:
    """``n`` queries of every task with 1-4 images of mixed sizes (so prompt lengths differ),
    valid SPEC §4 records and a manifest."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True)
    tasks = ["counting", "listing", "common", "odd_one"]
    answers = {
        "counting": ({"counts": {"dog": 2}}, "2", "how many dog are there in the images ?"),
        "listing": ({"classes": ["cat", "dog"]}, "cat, dog", "list every class in the images"),
        "common": ({"class": "dog"}, "dog", "which class is in all images ?"),
        "odd_one": ({"class": "cat"}, "cat", "which class is in one image ?"),
    }
    lines = []
    for q in range(n):
        task = tasks[q % 4]
        answer, text, question = answers[task]
        images = []
        for pos in range(1 + (q * 7) % 4):
            name = f"images/q{q}-{pos}.png"
            noise_image(1000 + 10 * q + pos, SIZES[(q + pos) % 4]).save(folder / name)
            images.append(
                {
                    "path": name,
                    "source_id": 10 * q + pos,
                    "position": pos,
                    "role": "query",
                    "class_counts": {"dog": 1},
                }
            )
        lines.append(
            json.dumps(
                {
                    "id": f"q-{q}",
                    "task": task,
                    "question": question,
                    "answer": answer,
                    "answer_text": text,
                    "images": images,
                    "controls": {"n_images": len(images)},
                    "template": {"task": "t", "connector": "c"},
                }
            )
        )
    (folder / "benchmark.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "manifest.json").write_text(json.dumps({"schema_version": 1, "sources": []}))
    return folder


@pytest.fixture(scope="session")
def bench(tmp_path_factory) -> Path:
    return write_bench(tmp_path_factory.mktemp("predict_bench") / "bench")


@pytest.fixture(scope="session")
def templated_checkpoints(tmp_path_factory):
    """family -> tiny checkpoint folder that ships a chat template."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch

    torch.set_num_threads(1)
    from mimicgen.probes.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny_templated")
    return _Lazy(lambda f: build_tiny_model(f, root / f, with_chat_template=True))


__all__ = ["FAMILIES", "SIZES", "adapters", "tiny_checkpoints", "write_bench"]
