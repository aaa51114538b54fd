"""A small synthetic benchmark, score report and probe folders for examples and tests.

Everything is drawn from one seeded ``numpy.random.Generator``: same seed, same files. Accuracy
falls with spread, count, k and pooling (as in the MIMIC study) so the example figures show trends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mimicgen.bench.reader import BENCHMARK_FILE, MANIFEST_FILE, SCHEMA_VERSION
from mimicgen.plots.tables import wilson

__all__ = ["SyntheticInputs", "aggregate_report", "write_synthetic_inputs"]

_CLASSES = ("dog", "cat", "bus", "car", "cup", "kite")
_COLOURS = {
    "dog": (200, 120, 40),
    "cat": (90, 90, 90),
    "bus": (230, 200, 20),
    "car": (200, 30, 30),
    "cup": (30, 140, 200),
    "kite": (120, 200, 80),
}


@dataclass(frozen=True)
class SyntheticInputs:
    """Paths of the synthetic inputs."""

    bench: Path
    report: Path
    samples: Path
    predictions: tuple[Path, ...]
    probes: tuple[Path, ...]


def _image(
    rng: np.random.Generator, counts: dict[str, int], size: tuple[int, int] = (64, 48)
) -> Any:
    from PIL import Image, ImageDraw

    w, h = size
    im = Image.new("RGB", size, tuple(int(x) for x in rng.integers(180, 250, 3)))
    draw = ImageDraw.Draw(im)
    for cls, n in counts.items():
        for _ in range(n):
            x, y = int(rng.integers(0, w - 12)), int(rng.integers(0, h - 12))
            draw.ellipse((x, y, x + 11, y + 11), fill=_COLOURS[cls])
    return im


def _records(rng: np.random.Generator, root: Path) -> list[dict[str, Any]]:
    """Counting (balanced k=1 grid, plus k=2/3), listing, common and odd-one queries."""
    specs: list[tuple[str, dict[str, Any]]] = []
    for n_images in (4, 6):
        for spread in (1, 2, 3):
            for total in range(max(2, spread), 5):  # each query image holds >= 1 instance
                for _ in range(2):
                    specs.append(
                        (
                            "counting",
                            {
                                "n_images": n_images,
                                "spread": spread,
                                "k": 1,
                                "balanced": True,
                                "total": total,
                            },
                        )
                    )
    for k in (2, 3):
        for _ in range(4):
            specs.append(
                ("counting", {"n_images": 4, "spread": 2, "k": k, "balanced": True, "total": 2})
            )
    for task in ("listing", "common", "odd_one"):
        for n in (3, 5):
            for _ in range(3):
                specs.append((task, {"n_images": n}))
    records = []
    (root / "images").mkdir(parents=True, exist_ok=True)
    for qi, (task, ctrl) in enumerate(specs):
        n = ctrl["n_images"]
        classes = [str(c) for c in rng.choice(_CLASSES, size=3, replace=False)]
        images: list[dict[str, Any]] = []
        answer: dict[str, Any]
        if task == "counting":
            targets = classes[: ctrl["k"]]
            per_image = [dict.fromkeys(targets, 0) for _ in range(n)]
            for cls in targets:  # split the total over `spread` query images, each >= 1
                cuts = (
                    np.sort(
                        rng.choice(np.arange(1, ctrl["total"]), ctrl["spread"] - 1, replace=False)
                    )
                    if ctrl["spread"] > 1
                    else np.array([], dtype=int)
                )
                parts = np.diff(np.concatenate([[0], cuts, [ctrl["total"]]]))
                for j, p in enumerate(parts):
                    per_image[j][cls] = int(p)
            roles = ["query"] * ctrl["spread"] + ["distractor"] * (n - ctrl["spread"])
            answer = {"counts": {c: ctrl["total"] for c in targets}}
            answer_text = (
                ", ".join(f"{c}: {ctrl['total']}" for c in targets)
                if len(targets) > 1
                else str(ctrl["total"])
            )
            question = f"How many {' and '.join(targets)} are there in total across the images?"
            controls = {
                "n_images": n,
                "spread": ctrl["spread"],
                "distractors": n - ctrl["spread"],
                "k": ctrl["k"],
                "balanced": True,
            }
        else:
            per_image = [{classes[0]: 1, classes[1]: int(rng.integers(0, 2))} for _ in range(n)]
            roles = ["context"] * n
            if task == "listing":
                roles = ["query"] * n
                answer, answer_text = (
                    {"classes": sorted(classes[:2])},
                    ", ".join(sorted(classes[:2])),
                )
                question = "Which animals or vehicles appear in any of the images?"
            elif task == "common":
                answer, answer_text = {"class": classes[0]}, classes[0]
                question = "Which object appears in every image?"
            else:
                per_image[0] = {classes[2]: 1}
                answer, answer_text = {"class": classes[2]}, classes[2]
                question = "Which object appears in only one image?"
            controls = {"n_images": n}
        order = rng.permutation(n)
        qid = f"{task}-{qi:04d}"
        for pos, j in enumerate(order):
            rel = f"images/{qid}_{pos}.png"
            _image(rng, per_image[j]).save(root / rel)
            images.append(
                {
                    "path": rel,
                    "source_id": int(qi * 100 + j),
                    "position": pos,
                    "role": roles[j],
                    "class_counts": per_image[j],
                }
            )
        records.append(
            {
                "id": qid,
                "task": task,
                "question": question,
                "answer": answer,
                "answer_text": answer_text,
                "images": images,
                "controls": controls,
                "template": {"task": f"{task}_v1", "connector": "image_n"},
            }
        )
    return records


def _p_correct(rec: dict[str, Any], skill: float) -> float:
    c = rec["controls"]
    if rec["task"] == "counting":
        total = next(iter(rec["answer"]["counts"].values()))
        return float(
            np.clip(
                skill
                - 0.12 * (c["spread"] - 1)
                - 0.08 * (total - 2)
                - 0.15 * (c["k"] - 1)
                - 0.04 * (c["n_images"] - 4),
                0.05,
                0.98,
            )
        )
    return float(np.clip(skill - 0.05 * (c["n_images"] - 3), 0.05, 0.98))


def _samples(
    rng: np.random.Generator, records: list[dict[str, Any]], model: str, skill: float
) -> list[dict[str, Any]]:
    out = []
    for rec in records:
        u = rng.random()  # one draw per query: lenient credits everything strict does, and more
        for pipeline, bonus in (("strict", 0.0), ("lenient", 0.05)):
            correct = bool(u < _p_correct(rec, skill) + bonus)
            pred = rec["answer_text"] if correct else "I am not sure"
            out.append(
                {
                    "model": model,
                    "pipeline": pipeline,
                    "id": rec["id"],
                    "task": rec["task"],
                    "prediction": pred,
                    "extracted": pred if correct else None,
                    "parsed": correct,
                    "correct": correct,
                    "f1": None,
                }
            )
    return out


def _metric(df: pl.DataFrame) -> dict[str, Any]:
    n, k = df.height, int(df["correct"].sum())
    lo, hi = wilson(np.array([k]), np.array([n]))
    failures = n - int(df["parsed"].sum())
    return {
        "n": n,
        "accuracy": k / n,
        "ci_low": float(lo[0]),
        "ci_high": float(hi[0]),
        "ci_method": "wilson",
        "parse_failure_rate": failures / n,
        "n_parse_failures": failures,
    }


def aggregate_report(
    records: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    bench: str,
    predictions: dict[str, str],
) -> dict[str, Any]:
    """A score report (report_schema.md shape) from per-sample results, one-way breakdowns only."""
    from mimicgen.plots.bench_io import derived_controls

    ctrl = {r["id"]: derived_controls(r) for r in records}
    df = pl.DataFrame(samples).select("model", "pipeline", "id", "task", "parsed", "correct")
    models = []
    for model in dict.fromkeys(s["model"] for s in samples):
        pipes: dict[str, Any] = {}
        for pipeline in ("strict", "lenient"):
            sub = df.filter((pl.col("model") == model) & (pl.col("pipeline") == pipeline))
            tasks: dict[str, Any] = {}
            for task in ("counting", "listing", "common", "odd_one"):
                t = sub.filter(pl.col("task") == task)
                if t.height == 0:
                    continue
                keys = sorted({k for i in t["id"] for k in ctrl[i]} - {"evidence_positions"})
                by: dict[str, Any] = {}
                for key in keys:
                    vals = t.with_columns(
                        pl.col("id")
                        .replace_strict(
                            {i: ctrl[i].get(key) for i in t["id"]}, return_dtype=pl.Utf8
                        )
                        .alias("_v")
                    )
                    groups = {
                        v: vals.filter(pl.col("_v") == v) for v in vals["_v"].drop_nulls().unique()
                    }
                    if len(groups) >= 2 or key in ("n_query_images", "true_count"):
                        by[key] = {v: _metric(g) for v, g in sorted(groups.items())}
                tasks[task] = {"overall": _metric(t), "by": by}
            pipes[pipeline] = {"overall": _metric(sub), "tasks": tasks}
        n = len(records)
        models.append(
            {
                "name": model,
                "predictions": predictions[model],
                "coverage": {
                    "n_queries": n,
                    "n_predicted": n,
                    "n_missing": 0,
                    "n_unknown_ids": 0,
                    "n_duplicates": 0,
                },
                "pipelines": pipes,
            }
        )
    baselines = {
        "counting": {"chance": 0.25, "majority": 0.33, "majority_answer": "2"},
        "listing": {"chance": 0.05, "majority": 0.17, "majority_answer": "car, dog"},
        "common": {"chance": 0.17, "majority": 0.22, "majority_answer": "cup"},
        "odd_one": {"chance": 0.17, "majority": 0.28, "majority_answer": "kite"},
    }
    return {
        "schema_version": 1,
        "benchmark": {"path": bench, "manifest_sha256": "0" * 64, "num_queries": len(records)},
        "seed": 0,
        "models": models,
        "baselines": baselines,
    }


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")


def write_synthetic_inputs(root: Path, seed: int = 0, probes: bool = True) -> SyntheticInputs:
    """Write ``bench/``, ``report.json`` (+ samples) for two models, and probe folders under root."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    bench = root / "bench"
    records = _records(rng, bench)
    _write_jsonl(bench / BENCHMARK_FILE, records)
    (bench / MANIFEST_FILE).write_text(
        json.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "generator_version": "synthetic",
                "seed": seed,
                "spec": {},
                "spec_hash": "0" * 16,
                "sources": [],
                "stats": {},
                "num_queries": len(records),
            },
            indent=1,
        )
    )
    samples: list[dict[str, Any]] = []
    preds: dict[str, str] = {}
    pred_paths = []
    for model, skill in (("model-a", 0.9), ("model-b", 0.7)):
        s = _samples(rng, records, model, skill)
        samples += s
        p = root / f"{model}.jsonl"
        _write_jsonl(
            p,
            [
                {"id": x["id"], "prediction": x["prediction"]}
                for x in s
                if x["pipeline"] == "strict"
            ],
        )
        preds[model] = str(p)
        pred_paths.append(p)
    report = aggregate_report(records, samples, str(bench), preds)
    (root / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True))
    _write_jsonl(root / "report.samples.jsonl", samples)
    probe_dirs = _write_probes(rng, root, records, str(bench)) if probes else []
    return SyntheticInputs(
        bench=bench,
        report=root / "report.json",
        samples=root / "report.samples.jsonl",
        predictions=tuple(pred_paths),
        probes=tuple(probe_dirs),
    )


def _token_rows(records: list[dict[str, Any]], probe: str) -> list[dict[str, Any]]:
    """Per-query token counts as ``mimicgen probe`` records them (``samples.jsonl``), made up
    without randomness: 730 vision tokens per image (LLaVA-OneVision at 384 px), 1/F of them
    under ``pool:F``, 1/F**2 under ``pixel:F``, one image under ``stitch``."""
    kind, _, arg = probe.partition(":")
    f = int(arg) if kind in ("pool", "pixel") else 1
    per_image = {"pool": -(-730 // f), "pixel": 730 // f**2}.get(kind, 730)
    rows = []
    for i, rec in enumerate(records):
        n = len(rec["images"])
        counts = [730] if kind == "stitch" else [per_image] * n
        rows.append(
            {
                "id": rec["id"],
                "index": i,
                "task": rec["task"],
                "n_images": len(counts),
                "n_query_images": n,
                "vision_tokens": sum(counts),
                "text_tokens": 14 + 3 * n,
                "prompt_tokens": sum(counts) + 14 + 3 * n,
                "vision_tokens_per_image": counts,
            }
        )
    return rows


def _write_probes(
    rng: np.random.Generator, root: Path, records: list[dict[str, Any]], bench: str
) -> list[Path]:
    """Probe folders for model-a. The baseline uses the layout ``mimicgen probe`` writes
    (run.json, attn_summary.json, maps/ with per-layer maps); the others the plain one."""
    settings = [
        ("attn", 0.9),
        ("pool:2", 0.85),
        ("pool:4", 0.74),
        ("pool:8", 0.58),
        ("pixel:2", 0.89),
        ("pixel:4", 0.87),
        ("pixel:8", 0.84),
        ("stitch:2x3", 0.62),
    ]
    dirs = []
    for probe, skill in settings:
        d = root / "probes" / ("none" if probe == "attn" else probe.replace(":", "_"))
        d.mkdir(parents=True, exist_ok=True)
        if probe == "attn":
            (d / "run.json").write_text(
                json.dumps(
                    {
                        "model": "model-a",
                        "adapter": "Synthetic",
                        "probes": probe,
                        "max_new_tokens": {},
                    }
                )
            )
        else:
            (d / "config.json").write_text(
                json.dumps({"probe": probe, "model": "model-a", "benchmark": bench})
            )
        s = _samples(rng, records, "model-a", skill)
        _write_jsonl(
            d / "predictions.jsonl",
            [
                {"id": x["id"], "prediction": x["prediction"]}
                for x in s
                if x["pipeline"] == "strict"
            ],
        )
        (d / "report.json").write_text(
            json.dumps(
                aggregate_report(records, s, bench, {"model-a": str(d / "predictions.jsonl")}),
                sort_keys=True,
            )
        )
        _write_jsonl(d / "samples.jsonl", _token_rows(records, probe))
        if probe in ("attn", "pool:4"):
            layers = np.arange(24)
            intra = 0.55 + 0.25 * np.exp(-layers / 6) - (0.1 if probe == "pool:4" else 0.0)
            inter = 0.3 - 0.2 * np.exp(-layers / 6) + rng.normal(0, 0.01, 24)
            rows = [
                {"layer": int(i), "intra": float(a), "inter": float(b), "text": float(1 - a - b)}
                for i, a, b in zip(layers, intra, inter, strict=True)
            ]
            name = "attn_summary.json" if probe == "attn" else "attn_stats.json"
            (d / name).write_text(json.dumps({"n_samples": len(records), "layers": rows}))
        if probe == "attn":
            (d / "maps").mkdir(exist_ok=True)
            for rec in records[:3]:
                # (layers, rows, cols) per image; attention concentrates on the evidence images.
                arrays = {
                    f"image{i}": (
                        rng.random((4, 6, 8)) ** 3 * (1.0 if im["role"] == "query" else 0.3)
                    ).astype(np.float32)
                    for i, im in enumerate(sorted(rec["images"], key=lambda x: x["position"]))
                }
                np.savez_compressed(d / "maps" / f"{rec['id']}.npz", **arrays)  # type: ignore[arg-type]
        dirs.append(d)
    return dirs
