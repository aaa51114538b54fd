"""Training sets: queries -> multi-turn LLaVA-OneVision / Mantis conversations (SPEC §4).

One conversation per sampled query. Turn 1 asks the query's own question; up to
``extra_turns`` further questions over the same images follow (:mod:`mimicgen.tasks.multiturn`).
Each turn is open-ended or multiple choice (share set by ``option_ratio``); answers come from
the annotations only. Questions use the spec's template set, or the set it names for training
(the paper set names ``grammatical``). The first human turn carries exactly one ``<image>`` per image.

Files written (``docs/training.md``): ``llava.json`` / ``llava.jsonl`` / ``mantis.json``,
``provenance.jsonl`` (what each turn asks, its answer, options and source image ids: what
``mimicgen validate`` re-derives), ``mixture.yaml`` (LLaVA-NeXT data mixture),
``mantis_data.yaml`` (Mantis data config, with ``mantis.json``), ``manifest.json``
(spec, sources, exclusions, Table 9 statistics) and ``images/``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from mimicgen import __version__
from mimicgen.bench.reader import (
    BENCHMARK_FILE,
    MANIFEST_FILE,
    benchmark_inputs,
    read_manifest,
    read_records,
)
from mimicgen.build.eval_set import (
    IndexLoader,
    TaskSpecLike,
    _header,
    _load_indexes,
    source_inputs,
)
from mimicgen.build.images import ImageMode, materialise_image
from mimicgen.build.options import answer_position, list_pool_size, place_options
from mimicgen.build.training_jobs import Conversations, SpecWork, default_workers
from mimicgen.build.training_records import Encoded, fill
from mimicgen.build.training_turns import Turner, placeholder_prefix
from mimicgen.errors import InputError, SpecError
from mimicgen.index.table import AnnotationIndex
from mimicgen.io import atomic_output_dir, sha256_file
from mimicgen.outdir import check_out
from mimicgen.progress import track
from mimicgen.specs.training import TrainingOptions

__all__ = [
    "MANTIS_DATA_CONFIG",
    "TRAINING_KIND",
    "build_training_set",
    "exclude_images",
    "excluded_source_ids",
    "placeholder_prefix",
    "training_stats",
]

TRAINING_KIND = "training"
MANTIS_DATA_CONFIG = "mantis_data.yaml"
# ----------------------------------------------------------------------------------------------
# Disjointness from eval sets


def excluded_source_ids(dirs: Sequence[Path]) -> tuple[dict[str, set[Any]], list[dict[str, Any]]]:
    """Source image ids (by source kind) used by the given eval sets, and manifest entries."""
    ids: dict[str, set[Any]] = {}
    entries: list[dict[str, Any]] = []
    for d in dirs:
        d = Path(d)
        manifest = read_manifest(d)
        prefixes = {s.get("prefix", s["kind"]): s["kind"] for s in manifest.get("sources", [])}
        n = 0
        for rec in read_records(d / BENCHMARK_FILE):
            for img in rec["images"]:
                prefix = img["path"].split("/")[1] if img["path"].count("/") >= 2 else ""
                kind = prefixes.get(prefix, prefix)
                ids.setdefault(kind, set()).add(img["source_id"])
                n += 1
        entries.append(
            {
                "path": str(d.resolve()),
                "manifest_sha256": sha256_file(d / MANIFEST_FILE),
                "n_image_uses": n,
            }
        )
    return ids, entries


def exclude_images(index: AnnotationIndex, source_ids: Iterable[Any]) -> AnnotationIndex:
    """The index without the given images (dropped from every table, so they can be neither
    evidence nor distractors)."""
    ids = list(source_ids)
    if not ids:
        return index
    dtype = index.images.schema["source_id"]
    try:
        drop = pl.DataFrame({"source_id": ids}).cast({"source_id": dtype})
    except pl.exceptions.PolarsError:
        return index  # ids of another type cannot match this source
    images = index.images.join(drop, on="source_id", how="anti")
    keep = images.select("image_idx")
    table = index.table.join(keep, on="image_idx", how="semi")
    labels = (
        index.labels.join(keep, on="image_idx", how="semi") if index.labels is not None else None
    )
    return dataclasses.replace(index, images=images, table=table, labels=labels)


# ----------------------------------------------------------------------------------------------
# Settling multiple-choice turns (the one sequential step)


@dataclass
class _OptionPlacer:
    """Places the correct option of each multiple-choice turn of one spec, in order: the
    position of the ``n``-th such turn comes from :func:`answer_position`."""

    seed: int
    n_mc: int = 0

    def place(self, enc: Encoded) -> list[tuple[list[str], str]]:
        """(options in order, correct letter) of each open turn of a conversation."""
        placed = []
        for turn in enc.mc:
            pend = turn.pending
            pos = answer_position(self.seed, self.n_mc, len(pend.wrong) + 1)
            self.n_mc += 1
            placed.append(place_options(pend.answer, pend.wrong, pos))
        return placed


# ----------------------------------------------------------------------------------------------
# Statistics (paper Table 9 shape)


def training_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task: queries, images per query (min/median/max), words per question (mean over
    every human turn, placeholders and option lines excluded), turns, option-based share."""
    out: dict[str, Any] = {}
    by_task: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_task.setdefault(r["task"], []).append(r)
    for task, group in [*sorted(by_task.items()), ("overall", rows)]:
        if not group:
            continue
        n_img = [r["n_images"] for r in group]
        words = [w for r in group for w in r["words"]]
        out[task] = {
            "queries": len(group),
            "images_min": min(n_img),
            "images_median": statistics.median(n_img),
            "images_max": max(n_img),
            "words_per_question": round(statistics.fmean(words), 2) if words else 0.0,
            "turns_per_conversation": round(statistics.fmean(r["turns"] for r in group), 2),
            "option_share": round(
                sum(r["mc"] for r in group) / max(1, sum(r["turns"] for r in group)), 3
            ),
        }
    return out


# ----------------------------------------------------------------------------------------------
# Build


def build_training_set(
    specs: Sequence[TaskSpecLike],
    out: Path,
    options: TrainingOptions,
    *,
    exclude: Sequence[Path] = (),
    image_mode: ImageMode | None = None,
    overwrite: bool = False,
    seed_override: int | None = None,
    index_loader: IndexLoader | None = None,
    workers: int | None = None,
    inputs: Sequence[Path] = (),
) -> dict[str, Any]:
    """Sample every spec, turn queries into conversations and write the training set.

    ``inputs``: paths besides the sources and ``exclude`` folders (spec files) that ``out`` must
    not be, hold or lie inside (:func:`mimicgen.outdir.check_out`).

    ``workers``: processes making conversations (default: one per usable core; builds under
    :data:`~mimicgen.build.training_jobs.MIN_PARALLEL` queries always run in-process). The
    output does not depend on it."""
    from mimicgen.gc_pause import gc_paused
    from mimicgen.specs import spec_hash
    from mimicgen.tasks.sampling import make_sampler
    from mimicgen.templates import load_template_set

    if not specs:
        raise InputError("no task specs given; pass spec YAML files or run 'mimicgen ls'")
    if index_loader is None:
        from mimicgen.index import load_index

        index_loader = load_index
    image_mode = image_mode or ImageMode()
    given = [*inputs, *exclude, *source_inputs(specs, [])]
    check_out(out, given)  # before anything is read
    out = Path(out)
    specs = [_training_templates(s) for s in specs]
    excluded, excl_entries = excluded_source_ids(exclude)
    indexes, spec_index, entries, spec_entry = _load_indexes(specs, index_loader)
    # Default image roots are known once loaded; excluded eval sets name their own sources.
    excl_sources = [p for d in exclude for p in benchmark_inputs(d, read_manifest(d))]
    check_out(out, [*given, *excl_sources, *source_inputs(specs, indexes)])
    indexes = [exclude_images(ix, excluded.get(ix.kind, ())) for ix in indexes]
    header = _header(specs, [spec_hash(s) for s in specs], entries, seed_override)  # type: ignore[arg-type]
    seed = int(header["seed"])

    works: list[SpecWork] = []
    offset = 0
    for pos, spec in enumerate(specs):
        index = indexes[spec_index[pos]]
        _check_options(spec, index, options)
        templates = load_template_set(getattr(spec, "templates", "paper"))
        works.append(
            SpecWork(
                pos=pos,
                spec=spec,
                index=index,
                prefix=entries[spec_entry[pos]]["prefix"],
                turner=Turner(
                    options.option_ratio, options.n_options, templates, sorted(index.class_names)
                ),
                extra_turns=options.extra_turns,
                placeholder_style=options.placeholder_style,
                mantis="mantis" in options.formats,
                keep_images=image_mode.kind != "none" or bool(excluded),
                offset=offset,
                # Built here, before any worker is forked, so workers share its arrays.
                sampler=make_sampler(spec, index),  # type: ignore[arg-type]
            )
        )
        offset += spec.num_queries
    placers = [_OptionPlacer(seed + w.pos) for w in works]

    llava: list[str] = []
    mantis: list[str] = []
    prov_rows: list[str] = []
    stat_rows: list[dict[str, Any]] = []
    sources: list[tuple[AnnotationIndex, str, str]] = []
    used: set[tuple[str, Any]] = set()
    n_workers = default_workers() if workers is None else workers
    chunks = Conversations(works, n_workers)
    with gc_paused():  # conversations are acyclic; see gc_paused
        for work, convs in track(chunks, "conversation chunks", total=len(chunks)):
            placer, kind = placers[work.pos], work.index.kind
            for task, n_images, enc, meta, _ in convs:
                rec, man, prov = fill(enc, placer.place(enc))
                llava.append(rec)
                if man is not None:
                    mantis.append(man)
                prov_rows.append(prov)
                stat_rows.append(
                    {
                        "task": task,
                        "n_images": n_images,
                        "turns": len(enc.words),
                        "mc": len(enc.mc),
                        "words": enc.words,
                    }
                )
                if meta is not None:
                    sources.extend((work.index, rel, fn) for _, rel, fn in meta)
                    used.update((kind, sid) for sid, _, _ in meta)

    overlap = sum(1 for kind, sid in used if sid in excluded.get(kind, set()))
    manifest = {
        "schema_version": 1,
        "generator_version": __version__,
        "kind": TRAINING_KIND,
        **{k: header[k] for k in ("seed", "seeds", "spec", "spec_hash", "spec_hashes", "sources")},
        "training": options.model_dump(mode="json"),
        "images": str(image_mode),
        "excluded": excl_entries,
        "overlap": overlap,
        "num_queries": len(llava),
        "stats": training_stats(stat_rows),
    }
    with atomic_output_dir(out, overwrite=overwrite) as stage:
        seen: set[str] = set()
        for index, rel, fname in track(sources, "images"):
            if rel in seen:
                continue
            seen.add(rel)
            if image_mode.kind != "none":
                assert index.image_root is not None
                materialise_image(index.image_root / fname, stage / rel, image_mode)
        _write_json(stage / MANIFEST_FILE, manifest)
        # Records are JSON text already (training_records): written as json.dumps would.
        if "llava" in options.formats:
            _write_text(stage / "llava.json", ["[", ", ".join(llava), "]\n"])
        if "llava_jsonl" in options.formats:
            _write_text(stage / "llava.jsonl", [r + "\n" for r in llava])
        if "mantis" in options.formats:
            _write_text(stage / "mantis.json", ["[", ", ".join(mantis), "]\n"])
        _write_text(stage / "provenance.jsonl", [r + "\n" for r in prov_rows])
        main = "llava.json" if "llava" in options.formats else "llava.jsonl"
        # Paths relative to the folder, so a copied folder still works. LLaVA-NeXT and Mantis
        # open them relative to their working directory (docs/training.md: launch from the
        # folder, or pass the JSON file itself); mimicgen train resolves them against the YAML.
        mixture = {
            "datasets": [{"json_path": main, "sampling_strategy": options.sampling_strategy}]
        }
        (stage / "mixture.yaml").write_text(yaml.safe_dump(mixture, sort_keys=False), "utf-8")
        if "mantis" in options.formats:
            (stage / MANTIS_DATA_CONFIG).write_text(
                yaml.safe_dump(_mantis_data_config(), sort_keys=False), "utf-8"
            )
    return manifest


def _mantis_data_config() -> dict[str, Any]:
    """Mantis' ``--data_config_file`` (``load_data_from_config``): one local JSON chat set."""
    entry = {"name": "mimicgen", "type": "json", "path": "mantis.json", "format": "chat"}
    return {"data": [{**entry, "split": "train"}]}


def _training_templates(spec: TaskSpecLike) -> TaskSpecLike:
    """The spec with the template set its conversations use: a set may name another for
    training (``paper`` -> ``grammatical``); the manifest then records the set used."""
    from mimicgen.templates.loader import training_set_name

    name = getattr(spec, "templates", None)
    if name is None or (use := training_set_name(name)) == name:
        return spec
    return spec.model_copy(update={"templates": use})  # type: ignore[attr-defined]


def _check_options(spec: Any, index: AnnotationIndex, options: TrainingOptions) -> None:
    """Refuse, before anything is sampled or written, a build whose multiple-choice turns
    could not all get ``n_options`` distinct options: class and list options are drawn from
    the source's classes (a listing pool holds ``n_options + 1`` of them)."""
    if options.option_ratio <= 0:
        return
    need, have = list_pool_size(options.n_options), len(set(index.class_names))
    if have < need:
        raise SpecError(
            f"spec '{spec.name}': n_options {options.n_options} needs at least {need} classes "
            f"in the source for distinct wrong options, but it has {have}; lower n_options "
            "or set option_ratio to 0 (--option-ratio 0)"
        )


def _write_json(path: Path, obj: Any) -> None:
    # No indent: only compact dumps run in json's C encoder (a 200K-record file is ~10x faster).
    path.write_text(json.dumps(obj, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_text(path: Path, parts: Iterable[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(parts)
