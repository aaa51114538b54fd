"""Training batches from a mimicgen training folder (LLaVA or Mantis files, or a mixture YAML).

A conversation becomes one ChatML token sequence in the model family's own prompt format (the
probe adapters' format: system prompt, each image between the family's open/close texts), with
labels on the assistant replies only. Batches are padded on the right, or packed into one row with
segment ids; image spans, positions (M-RoPE for Qwen, per segment) and the vision features come
with them, so :func:`mimicgen.train.spans.derive_spans` and the masks can be built from the batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from PIL import Image

from mimicgen.errors import InputError
from mimicgen.probes.adapters.base import IMAGE_MARKER, SYSTEM_PROMPT, EncodedImages, VLMAdapter

__all__ = [
    "IGNORE",
    "Batch",
    "Conversation",
    "Example",
    "collate",
    "encode_conversation",
    "load_conversations",
]

IGNORE = -100
"""Label of positions that carry no loss."""


@dataclass(frozen=True)
class Conversation:
    """One training record: its images (absolute paths) and ``(role, text)`` turns."""

    id: str
    images: tuple[Path, ...]
    turns: tuple[tuple[str, str], ...]
    """``("user" | "assistant", text)``; the first user turn holds the ``<image>`` markers."""


def _from_record(rec: dict[str, Any], root: Path, where: str) -> Conversation:
    if "conversations" in rec:  # LLaVA
        paths = rec.get("image", [])
        paths = [paths] if isinstance(paths, str) else paths
        roles = {"human": "user", "gpt": "assistant"}
        turns = [(roles.get(t.get("from"), ""), t.get("value", "")) for t in rec["conversations"]]
    elif "conversation" in rec:  # Mantis
        paths = rec.get("images", [])
        turns = [(t.get("role", ""), t.get("content", "")) for t in rec["conversation"]]
    else:
        raise InputError(
            f"{where}: a record has neither 'conversations' (LLaVA) nor "
            "'conversation' (Mantis); pass a mimicgen training file"
        )
    if any(r not in ("user", "assistant") for r, _ in turns):
        raise InputError(f"{where}: record {rec.get('id')!r} has a turn with an unknown role")
    return Conversation(str(rec.get("id")), tuple(root / p for p in paths), tuple(turns))


def _read_json_records(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path}: cannot read training records ({exc.__class__.__name__})"
        ) from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of training records")
    return data


def _sample(records: list[Any], strategy: str, seed: int, where: str) -> list[Any]:
    """LLaVA-NeXT ``sampling_strategy``: ``all``, ``first:N``, ``end:N``, ``random:N`` (N may be
    ``P%``); ``random`` draws with the run seed."""
    if strategy == "all":
        return records
    how, _, amount = strategy.partition(":")
    try:
        n = int(len(records) * float(amount[:-1]) / 100) if amount.endswith("%") else int(amount)
    except ValueError:
        n = -1
    if how not in ("first", "end", "random") or n < 0:
        raise InputError(
            f"{where}: unknown sampling_strategy {strategy!r}; use all, first:N, "
            "end:N or random:N (N may be P%)"
        )
    if how == "first":
        return records[:n]
    if how == "end":
        return records[len(records) - n :]
    pick = np.sort(np.random.default_rng(seed).permutation(len(records))[:n])
    return [records[i] for i in pick]


def load_conversations(path: str | Path, seed: int = 0) -> list[Conversation]:
    """Conversations of a training folder (``llava.json``, else ``llava.jsonl``, else
    ``mantis.json``), a single such file, or a LLaVA-NeXT mixture YAML (its ``json_path`` files
    with their ``sampling_strategy``). Image paths are relative to each file's folder."""
    path = Path(path)
    if path.is_dir():
        for name in ("llava.json", "llava.jsonl", "mantis.json"):
            if (path / name).exists():
                path = path / name
                break
        else:
            raise InputError(
                f"{path}: no llava.json, llava.jsonl or mantis.json; pass a folder "
                "written by 'mimicgen build --format llava|mantis'"
            )
    if not path.exists():
        raise InputError(f"{path} does not exist; pass a training folder, file or mixture YAML")
    if path.suffix in (".yaml", ".yml"):
        try:
            mix = yaml.safe_load(path.read_text(encoding="utf-8"))
            sets = mix["datasets"]
        except (OSError, yaml.YAMLError, KeyError, TypeError):
            raise InputError(
                f"{path}: not a data-mixture YAML with 'datasets: [{{json_path, "
                "sampling_strategy}}]'"
            ) from None
        out: list[Conversation] = []
        for i, entry in enumerate(sets):
            file = Path(entry["json_path"])
            file = file if file.is_absolute() else path.parent / file
            recs = _sample(
                _read_json_records(file),
                str(entry.get("sampling_strategy", "all")),
                seed + i,
                str(path),
            )
            out += [_from_record(r, file.parent, str(file)) for r in recs]
        return out
    return [_from_record(r, path.parent, str(path)) for r in _read_json_records(path)]


@dataclass
class Example:
    """One tokenised conversation with its encoded images."""

    input_ids: list[int]
    labels: list[int]
    enc: EncodedImages


def encode_conversation(adapter: VLMAdapter, conv: Conversation) -> Example:
    """Tokens and labels of ``conv`` in ``adapter``'s prompt format; images encoded (no grad)."""
    tok = adapter.tokenizer

    def ids_of(text: str) -> list[int]:
        return list(tok(text, add_special_tokens=False)["input_ids"]) if text else []

    try:
        images = [Image.open(p).convert("RGB") for p in conv.images]
    except OSError as exc:
        raise InputError(f"conversation {conv.id}: cannot open an image ({exc})") from None
    enc = adapter.encode_images(images)
    ids: list[int] = []
    labels: list[int] = []

    def add(tokens: list[int], train: bool) -> None:
        ids.extend(tokens)
        labels.extend(tokens if train else [IGNORE] * len(tokens))

    add(ids_of(f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"), False)
    first_user = True
    for role, text in conv.turns:
        if role == "user":
            add(ids_of("<|im_start|>user\n"), False)
            if first_user:
                segments = adapter.user_segments(text, len(images))
                first_user = False
            else:
                segments = [text.replace(IMAGE_MARKER, "")]
            for seg in segments:
                if isinstance(seg, str):
                    add(ids_of(seg), False)
                    continue
                for part in adapter.image_open:
                    add(ids_of(part), False)
                add([adapter.image_token_id] * len(enc.features[seg]), False)
                for part in adapter.image_close:
                    add(ids_of(part), False)
            add(ids_of("<|im_end|>\n"), False)
        else:
            add(ids_of("<|im_start|>assistant\n"), False)
            add(ids_of(text) + ids_of("<|im_end|>"), True)
            add(ids_of("\n"), False)
    return Example(ids, labels, enc)


@dataclass
class Batch:
    """A padded or packed batch, ready for the language model."""

    input_ids: torch.Tensor
    """``(B, L)``; padding is the tokenizer's pad id."""
    labels: torch.Tensor
    """``(B, L)``; :data:`IGNORE` off the assistant replies and on padding."""
    attention_mask: torch.Tensor
    """``(B, L)``: 1 on tokens, 0 on padding."""
    segment_ids: torch.Tensor | None
    """``(B, L)`` packed-sequence index (-1 padding), or ``None`` when each row is one sequence."""
    position_ids: torch.Tensor
    """The decoder's positions: ``(B, L)``, or ``(3, B, L)`` (M-RoPE); restart per segment."""
    tokens_per_image: list[list[int]]
    """Per row, the vision-token count of each image in order."""
    features: list[torch.Tensor]
    """Vision features of every image, row-major, in sequence order."""
    n_label_tokens: int = 0
    """Tokens the loss counts (labels after the first position not :data:`IGNORE`), counted on
    the host when collated: no device sync per forward pass."""

    @property
    def n_tokens(self) -> int:
        return int(self.attention_mask.sum())


def collate(adapter: VLMAdapter, examples: Sequence[Example], pack: bool = False) -> Batch:
    """Right-pad ``examples`` into a batch, or (``pack``) concatenate them into one row."""
    groups = [list(examples)] if pack else [[e] for e in examples]
    pad = adapter.tokenizer.pad_token_id
    pad = int(pad if pad is not None else 0)
    rows_ids, rows_labels, rows_seg, rows_pos, per_image = [], [], [], [], []
    features: list[torch.Tensor] = []
    for group in groups:
        ids: list[int] = []
        labels: list[int] = []
        seg: list[int] = []
        pos: list[torch.Tensor] = []
        counts: list[int] = []
        for s, ex in enumerate(group):
            t = torch.tensor([ex.input_ids], dtype=torch.long, device=adapter.device)
            p, _ = adapter.positions(t, ex.enc, pooled=False)
            pos.append(p[..., 0, :] if p.ndim == 3 else p[0])
            ids += ex.input_ids
            labels += ex.labels
            seg += [s] * len(ex.input_ids)
            counts += [len(f) for f in ex.enc.features]
            features += list(ex.enc.features)
        rows_ids.append(ids)
        rows_labels.append(labels)
        rows_seg.append(seg)
        rows_pos.append(torch.cat(pos, dim=-1))
        per_image.append(counts)
    n = max(len(r) for r in rows_ids)
    b = len(rows_ids)
    input_ids = torch.full((b, n), pad, dtype=torch.long)
    labels_t = torch.full((b, n), IGNORE, dtype=torch.long)
    seg_t = torch.full((b, n), -1, dtype=torch.int32)
    mrope = rows_pos[0].ndim == 2
    position_ids = torch.zeros((3, b, n) if mrope else (b, n), dtype=torch.long)
    for r in range(b):
        k = len(rows_ids[r])
        input_ids[r, :k] = torch.tensor(rows_ids[r])
        labels_t[r, :k] = torch.tensor(rows_labels[r])
        seg_t[r, :k] = torch.tensor(rows_seg[r], dtype=torch.int32)
        position_ids[..., r, :k] = rows_pos[r].cpu()
    dev = adapter.device
    return Batch(
        input_ids=input_ids.to(dev),
        labels=labels_t.to(dev),
        attention_mask=(seg_t >= 0).long().to(dev),
        segment_ids=seg_t.to(dev) if pack else None,
        position_ids=position_ids.to(dev),
        tokens_per_image=per_image,
        features=features,
        n_label_tokens=int((labels_t[:, 1:] != IGNORE).sum()),
    )
