"""Run a VLM on a benchmark under probe configurations; resumable, shardable, mergeable.

Layout under ``--out`` (one folder per configuration, named :attr:`ProbeConfig.name`)::

    <config>/run.json            model, adapter, probes, budgets, benchmark (a resume must
                                 match all but the benchmark path; --limit may change)
    <config>/predictions.jsonl   {"id", "prediction"}: what ``mimicgen score`` reads
    <config>/samples.jsonl       {"id", "index", "task", "n_images", "vision_tokens", ...}
    <config>/tokens.json         vision tokens and sequence length over the queries, and per
                                 number of benchmark images
    <config>/attn.jsonl          per-sample attention statistics (``attn`` probe)
    <config>/attn_summary.json   per-layer means over all samples (``attn`` probe)
    <config>/maps/<id>.npz       answer-to-image attention maps (``attn`` probe)

With ``--shard i/n`` the same files go to ``<config>/shards/<i>-of-<n>/`` (whole twin families
per shard, :func:`shard_families`); :func:`merge_shards`
joins them into ``<config>/``. Every line is written whole and flushed; a resume drops a torn last
line and skips ids already in ``predictions.jsonl`` (written last for each sample).
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from mimicgen.errors import InputError
from mimicgen.io import JsonlAppender as _Appender
from mimicgen.io import atomic_write_bytes, atomic_write_text
from mimicgen.io import read_jsonl_repaired as _read_jsonl
from mimicgen.predict.common import DEFAULT_MAX_NEW_TOKENS
from mimicgen.probes.adapters.base import PreparedInput, VLMAdapter
from mimicgen.probes.attention import AttentionRecorder
from mimicgen.probes.batching import batchable, generate_probe_batch
from mimicgen.probes.benchmark import BenchmarkItem, limit_families, load_benchmark, safe_id
from mimicgen.probes.masks import additive_mask, allowed_pairs
from mimicgen.probes.pixel import pixel_degrade
from mimicgen.probes.spec import ProbeConfig, resolve_layers
from mimicgen.probes.stitch import stitch_images
from mimicgen.progress import track

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "RunOptions",
    "merge_shards",
    "run_batch",
    "run_probes",
    "run_sample",
    "select_items",
    "shard_families",
]

_FALLBACK_MAX_NEW = 32


@dataclass(frozen=True)
class RunOptions:
    """Generation and selection settings shared by all configurations of a run."""

    max_new_tokens: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MAX_NEW_TOKENS))
    """Per-task generation budget; tasks not listed get 32."""
    limit: int | None = None
    """Only the first ``limit`` queries of the benchmark, extended to whole twin families
    (:func:`~mimicgen.probes.benchmark.limit_families`)."""
    shard: tuple[int, int] | None = None
    """``(i, n)``: this process runs shard ``i`` of ``n`` (after ``limit``; see
    :func:`shard_families`)."""
    batch_size: int = 1
    """Queries decoded together (left-padded); ``attn`` configurations always run one by one."""

    def budget(self, task: str) -> int:
        return self.max_new_tokens.get(task, _FALLBACK_MAX_NEW)


def select_items(items: list[BenchmarkItem], options: RunOptions) -> list[BenchmarkItem]:
    """Apply ``limit`` then ``shard`` to the benchmark's queries."""
    items = limit_families(items, options.limit)
    if options.shard is not None:
        i, n = options.shard
        owner = shard_families([it.family for it in items], n)
        items = [it for it, o in zip(items, owner, strict=True) if o == i]
    return items


def shard_families(families: Sequence[str], n: int) -> list[int]:
    """Per record, its shard of ``n``: whole twin families (paired scoring needs every member
    in one run), each family in order of first appearance to the shard with the fewest
    records so far (lowest number on ties). Deterministic; shard sizes differ by at most the
    largest family; without families (every record its own) it is round-robin ``i, i+n, ...``."""
    sizes: dict[str, int] = {}
    for fam in families:
        sizes[fam] = sizes.get(fam, 0) + 1
    load = [0] * n
    shard_of: dict[str, int] = {}
    for fam, size in sizes.items():
        best = min(range(n), key=load.__getitem__)
        shard_of[fam] = best
        load[best] += size
    return [shard_of[f] for f in families]


@dataclass
class _Sample:
    """One query's decoder inputs under one configuration, before generation."""

    prepared: PreparedInput
    n_images: int
    mask: np.ndarray | None
    mask_layers: frozenset[int]


def _prepare_sample(adapter: VLMAdapter, item: BenchmarkItem, config: ProbeConfig) -> _Sample:
    """Images degraded/stitched as the configuration says, prompt built, mask made."""
    images = [Image.open(p).convert("RGB") for p in item.image_paths]
    if (pixel := config.get("pixel")) is not None:
        images = [pixel_degrade(im, pixel.factor, pixel.mode) for im in images]
    if (stitch := config.get("stitch")) is not None:
        images = [stitch_images(images, stitch.rows, stitch.cols, stitch.resize)]
    pool = config.get("pool")
    prepared = adapter.prepare(
        images,
        item.question,
        pool=pool.factor if pool else 1,
        pool_layout=pool.layout if pool else "grid",
    )
    mask, layers = None, frozenset[int]()
    if (mprobe := config.get("mask")) is not None:
        layers = resolve_layers(mprobe, adapter.num_layers)
        neg = torch.finfo(prepared.inputs_embeds.dtype).min
        mask = additive_mask(allowed_pairs(prepared.tokens, mprobe.mask), neg)
    return _Sample(prepared, len(images), mask, layers)


def _result(
    adapter: VLMAdapter, item: BenchmarkItem, sample: _Sample, ids: list[int]
) -> dict[str, Any]:
    tokens = sample.prepared.tokens
    return {
        "prediction": adapter.decode_text(ids),
        "sample": {
            "id": item.id,
            "index": item.index,
            "task": item.task,
            "n_images": sample.n_images,
            "n_query_images": len(item.image_paths),
            "vision_tokens": tokens.n_vision,
            "text_tokens": tokens.n_text,
            "prompt_tokens": len(tokens),
            "vision_tokens_per_image": tokens.vision_counts(),
            "generated_tokens": len(ids),
        },
    }


def run_sample(
    adapter: VLMAdapter, item: BenchmarkItem, config: ProbeConfig, max_new_tokens: int
) -> dict[str, Any]:
    """Run one query under one configuration; returns prediction, token counts, statistics."""
    sample = _prepare_sample(adapter, item, config)
    prepared, tokens = sample.prepared, sample.prepared.tokens
    recorder = AttentionRecorder(tokens, adapter.num_layers) if config.get("attn") else None
    state = adapter.state(
        prepared, mask=sample.mask, mask_layers=sample.mask_layers, recorder=recorder
    )
    ids = adapter.generate(prepared, max_new_tokens, state)
    result = _result(adapter, item, sample, ids)
    if recorder is not None:
        mass, entropy = recorder.image_stats()
        result["attn"] = {
            "id": item.id,
            "index": item.index,
            "shares": _rows3(recorder.shares),
            "image_mass": _round(mass),
            "image_entropy": _round(entropy),
        }
        if (attn := config.get("attn")) is not None and attn.maps:
            result["maps"] = {
                **recorder.maps(),
                "answer_attention": recorder.answer_attention().astype(np.float32),
                "image_index": tokens.image,
            }
    return result


def run_batch(
    adapter: VLMAdapter, items: list[BenchmarkItem], config: ProbeConfig, options: RunOptions
) -> list[dict[str, Any]]:
    """Run several queries under one batchable configuration in one decode (same results as
    :func:`run_sample` one by one, without ``attn`` statistics)."""
    samples = [_prepare_sample(adapter, item, config) for item in items]
    masks = [s.mask for s in samples if s.mask is not None]
    ids = generate_probe_batch(
        adapter,
        [s.prepared for s in samples],
        [options.budget(item.task) for item in items],
        masks=masks or None,
        mask_layers=samples[0].mask_layers,
    )
    return [_result(adapter, it, s, r) for it, s, r in zip(items, samples, ids, strict=True)]


def _round(a: np.ndarray) -> list:
    return np.round(a.astype(float), 6).tolist()


def _rows3(shares: np.ndarray) -> list[dict[str, float | None]]:
    out: list[dict[str, float | None]] = []
    for intra, inter, text in shares:
        if np.isnan(intra):
            out.append({"intra": None, "inter": None, "text": None})
        else:
            out.append(
                {
                    "intra": round(float(intra), 6),
                    "inter": round(float(inter), 6),
                    "text": round(float(text), 6),
                }
            )
    return out


def _config_dir(out: Path, config: ProbeConfig, shard: tuple[int, int] | None) -> Path:
    base = out / config.name
    return base / "shards" / f"{shard[0]}-of-{shard[1]}" if shard else base


_RESUME_KEYS = ("model", "adapter", "probes", "max_new_tokens", "pool_layout")
"""run.json keys a resumed run must share with the earlier one (the benchmark path may move)."""


def _prepare_dir(folder: Path, meta: dict[str, Any]) -> set[str]:
    """Create or resume ``folder``; return ids already done. Refuses a different earlier run."""
    folder.mkdir(parents=True, exist_ok=True)
    run_file = folder / "run.json"
    if run_file.exists():
        old = json.loads(run_file.read_text(encoding="utf-8"))
        diff = sorted(k for k in _RESUME_KEYS if old.get(k) != meta.get(k))
        if diff:
            raise InputError(
                f"{folder} holds a run with different settings ({', '.join(diff)}); "
                "use another --out or delete that folder"
            )
    else:
        atomic_write_text(run_file, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    done = {r["id"] for r in _read_jsonl(folder / "predictions.jsonl")}
    # Side files may hold rows of a sample whose prediction never got written: drop those.
    for name in ("samples.jsonl", "attn.jsonl"):
        path = folder / name
        rows = _read_jsonl(path)
        kept = [r for r in rows if r["id"] in done]
        if len(kept) != len(rows):
            atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    return done


def run_probes(
    adapter: VLMAdapter,
    benchmark: str | Path,
    configs: Iterable[ProbeConfig],
    out: str | Path,
    options: RunOptions,
    model_name: str,
) -> dict[str, int]:
    """Run every configuration over the selected queries; returns ``{config: samples run}``."""
    items = select_items(load_benchmark(benchmark), options)
    out = Path(out)
    ran: dict[str, int] = {}
    for config in configs:
        if (m := config.get("mask")) is not None:
            resolve_layers(m, adapter.num_layers)  # fail before any work
        folder = _config_dir(out, config, options.shard)
        meta: dict[str, Any] = {
            "model": model_name,
            "adapter": type(adapter).__name__,
            "probes": config.spec_string,
            "max_new_tokens": options.max_new_tokens,
            "benchmark": str(Path(benchmark).resolve()),
        }
        if (pool := config.get("pool")) is not None:
            # Recorded apart from the probe string: runs made before pooled tokens kept their
            # 2-D positions say "pool:F" too, and must not be resumed as grid runs.
            meta["pool_layout"] = pool.layout
        size = options.batch_size if batchable(config) else 1
        if size > 1:
            # Informative only (not a resume key): padded batches may round differently.
            meta["batch_size"] = size
        done = _prepare_dir(folder, meta)
        todo = [it for it in items if it.id not in done]
        files = {n: _Appender(folder / f"{n}.jsonl") for n in ("samples", "attn", "predictions")}
        batches = [todo[i : i + size] for i in range(0, len(todo), size)]
        try:
            for batch in track(batches, f"probe {config.name}", total=len(batches)):
                if len(batch) == 1:
                    results = [run_sample(adapter, batch[0], config, options.budget(batch[0].task))]
                else:
                    results = run_batch(adapter, batch, config, options)
                for item, res in zip(batch, results, strict=True):
                    files["samples"].write(res["sample"])
                    if "attn" in res:
                        files["attn"].write(res["attn"])
                    if "maps" in res:
                        _save_npz(folder / "maps" / f"{safe_id(item.id)}.npz", res["maps"])
                    files["predictions"].write({"id": item.id, "prediction": res["prediction"]})
        finally:
            for f in files.values():
                f.close()
        if config.get("attn"):
            _write_attn_summary(folder)
        _write_tokens_summary(folder)
        attn = folder / "attn.jsonl"
        if attn.exists() and attn.stat().st_size == 0:
            attn.unlink()
        ran[config.name] = len(todo)
    return ran


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # stubs type **kwds as allow_pickle
    atomic_write_bytes(path, buf.getvalue())


def _write_attn_summary(folder: Path) -> None:
    """Per-layer mean shares and per-position mean image mass/entropy over all samples."""
    rows = _read_jsonl(folder / "attn.jsonl")
    if not rows:
        return
    n_layers = len(rows[0]["shares"])
    summary: dict[str, Any] = {"n_samples": len(rows), "layers": []}
    for layer in range(n_layers):
        vals = [r["shares"][layer] for r in rows if r["shares"][layer]["intra"] is not None]
        entry: dict[str, Any] = {"layer": layer}
        for key in ("intra", "inter", "text"):
            entry[key] = round(float(np.mean([v[key] for v in vals])), 6) if vals else None
        masses = [m for r in rows for m in r["image_mass"][layer]]
        entry["image_mass_mean"] = round(float(np.mean(masses)), 6) if masses else None
        ents = [e for r in rows for e in r["image_entropy"][layer]]
        entry["image_entropy_mean"] = round(float(np.mean(ents)), 6) if ents else None
        summary["layers"].append(entry)
    atomic_write_text(folder / "attn_summary.json", json.dumps(summary, indent=2) + "\n")


def _stats(values: list[int]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {
        "mean": round(float(a.mean()), 3),
        "median": float(np.median(a)),
        "min": float(a.min()),
        "max": float(a.max()),
    }


def _write_tokens_summary(folder: Path) -> None:
    """``tokens.json``: vision-token and sequence-length statistics of this configuration, over
    all queries and per number of benchmark images (the x-axis of sequence-length plots)."""
    rows = _read_jsonl(folder / "samples.jsonl")
    if not rows:
        return
    vision = np.array([r["vision_tokens"] for r in rows])
    prompt = vision + np.array([r["text_tokens"] for r in rows])
    n_query = np.array([r.get("n_query_images", r["n_images"]) for r in rows])
    summary: dict[str, Any] = {
        "n_samples": len(rows),
        "vision_tokens": _stats(vision.tolist()),
        "prompt_tokens": _stats(prompt.tolist()),
        "by_n_images": {
            str(n): {
                "n_samples": int((n_query == n).sum()),
                "vision_tokens": _stats(vision[n_query == n].tolist()),
                "prompt_tokens": _stats(prompt[n_query == n].tolist()),
            }
            for n in np.unique(n_query).tolist()
        },
    }
    atomic_write_text(folder / "tokens.json", json.dumps(summary, indent=2) + "\n")


def merge_shards(out: str | Path) -> dict[str, int]:
    """Join ``<config>/shards/*-of-n/`` into ``<config>/``; returns ``{config: rows merged}``."""
    out = Path(out)
    merged: dict[str, int] = {}
    for shard_root in sorted(out.glob("*/shards")):
        folder = shard_root.parent
        parts = sorted(p for p in shard_root.iterdir() if p.is_dir())
        counts = {p.name.split("-of-")[1] for p in parts}
        if len(counts) != 1:
            raise InputError(f"{shard_root} mixes shard counts {sorted(counts)}; keep one split")
        n = int(counts.pop())
        missing = sorted(set(range(n)) - {int(p.name.split("-of-")[0]) for p in parts})
        if missing:
            raise InputError(f"{shard_root}: shards {missing} of {n} are missing; run them first")
        metas = [json.loads((p / "run.json").read_text(encoding="utf-8")) for p in parts]
        rows: dict[str, list[dict[str, Any]]] = {"predictions": [], "samples": [], "attn": []}
        for p in parts:
            for name in rows:
                rows[name] += _read_jsonl(p / f"{name}.jsonl")
        order = {r["id"]: r["index"] for r in rows["samples"]}
        if len(order) != len(rows["predictions"]):
            raise InputError(f"{shard_root}: shards disagree on their samples; re-run them")
        if (folder / "predictions.jsonl").exists():
            raise InputError(f"{folder}/predictions.jsonl already exists; remove it to re-merge")
        meta = {**metas[0], "merged_from": n}
        atomic_write_text(folder / "run.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
        for name, rs in rows.items():
            if name == "attn" and not rs:
                continue
            rs.sort(key=lambda r: order[r["id"]])
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rs)
            atomic_write_text(folder / f"{name}.jsonl", text)
        for p in parts:
            if (p / "maps").is_dir():
                (folder / "maps").mkdir(exist_ok=True)
                for f in (p / "maps").glob("*.npz"):
                    shutil.copy2(f, folder / "maps" / f.name)
        if rows["attn"]:
            _write_attn_summary(folder)
        _write_tokens_summary(folder)
        merged[folder.name] = len(rows["predictions"])
    if not merged:
        raise InputError(
            f"no '<config>/shards/' folders under {out}; run 'mimicgen probe --shard i/n' first"
        )
    return merged
