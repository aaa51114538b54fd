"""Training sets: queries -> multi-turn LLaVA-OneVision / Mantis conversations (SPEC §4).

One conversation per sampled query. Turn 1 asks the query's own question; up to
``extra_turns`` further questions over the same images follow (:mod:`mimicgen.tasks.multiturn`).
Each turn is open-ended or multiple choice (share set by ``option_ratio``); answers come from
the annotations only. The first human turn carries exactly one ``<image>`` per image.

Files written (``docs/training.md``): ``llava.json`` / ``llava.jsonl`` / ``mantis.json``,
``provenance.jsonl`` (what each turn asks, its answer, options and source image ids: what
``mimicgen validate`` re-derives), ``mixture.yaml`` (LLaVA-NeXT data mixture), ``manifest.json``
(spec, sources, exclusions, Table 9 statistics) and ``images/``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from mimicgen import __version__
from mimicgen.errors import InputError
from mimicgen.export.benchmark import (
    BENCHMARK_FILE,
    MANIFEST_FILE,
    IndexLoader,
    TaskSpecLike,
    _header,
    _load_indexes,
    read_manifest,
    read_records,
)
from mimicgen.export.images import ImageMode, image_relpath, materialise_image
from mimicgen.export.options import (
    LETTERS,
    answer_position,
    class_distractors,
    count_distractors,
    list_distractors,
    place_options,
)
from mimicgen.index.table import AnnotationIndex
from mimicgen.io import atomic_output_dir, sha256_file
from mimicgen.progress import track
from mimicgen.specs.training import TrainingOptions
from mimicgen.tasks.multiturn import Ask, extra_asks
from mimicgen.tasks.query import Query

__all__ = [
    "TRAINING_KIND",
    "build_training_set",
    "exclude_images",
    "excluded_source_ids",
    "placeholder_prefix",
    "training_stats",
]

TRAINING_KIND = "training"
_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@lru_cache(maxsize=1)
def _option_connectors() -> dict[str, str]:
    data = yaml.safe_load((_TEMPLATES / "training.yaml").read_text(encoding="utf-8"))
    return dict(data["options_connector"])


@lru_cache(maxsize=1)
def _option_connector_ids() -> tuple[str, ...]:
    """Sorted connector ids (the order the generator indexes into)."""
    return tuple(sorted(_option_connectors()))


def placeholder_prefix(n: int, style: str) -> str:
    """The ``<image>`` block that opens the first human turn (exactly ``n`` placeholders)."""
    if style == "start":
        return "<image>" * n + "\n"
    if style == "lines":
        return "<image>\n" * n
    return "".join(f"Image {i + 1}: <image>\n" for i in range(n))


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
# Wording


def _strip_connector(query: Query, templates: Any) -> str:
    group = getattr(templates, query.task)
    cid = query.template["connector"]
    conn = (group.connector_multi or {}).get(cid) or group.connector.get(cid, "")
    return query.question.removesuffix(" " + conn) if conn else query.question


def _word(ask: Ask, templates: Any, rng: np.random.Generator) -> tuple[str, str]:
    """(question without connector, open-ended connector) for an extra turn."""
    from mimicgen.templates import class_phrase
    from mimicgen.templates.render import pick_template

    if ask.task == "counting":
        slot = class_phrase(list(ask.classes), templates)
    else:
        slot = str(ask.category) if ask.task == "listing" else ""
    text, conn, _ = pick_template(templates, ask.task, rng, slot)
    return text, conn


def _answer_text(ask: Ask) -> str:
    return ", ".join(ask.answer) if isinstance(ask.answer, tuple) else str(ask.answer)


def _first_ask(query: Query) -> Ask | None:
    """The query's own question as an :class:`Ask` (None for k > 1 counting: open-ended only)."""
    ans = query.answer
    if "counts" in ans:
        if len(ans["counts"]) != 1:
            return None
        ((cls, n),) = ans["counts"].items()
        return Ask("counting", int(n), classes=(cls,))
    if "classes" in ans:
        return Ask("listing", tuple(ans["classes"]), category=query.controls.get("category"))
    return Ask(query.task, ans["class"])


# ----------------------------------------------------------------------------------------------
# Conversations


@dataclasses.dataclass
class _Turner:
    """Turns asks into (human, gpt, provenance) triples; holds the option-position counter."""

    options: TrainingOptions
    seed: int
    templates: Any
    vocabulary: list[str]
    n_mc: int = 0
    positions: dict[str, int] | None = None
    """Vocabulary name -> index (for fast class distractors); None if names repeat."""

    def __post_init__(self) -> None:
        positions = {c: i for i, c in enumerate(self.vocabulary)}
        self.positions = positions if len(positions) == len(self.vocabulary) else None

    def turn(
        self,
        ask: Ask | None,
        text: str,
        open_conn: str,
        answer_text: str,
        in_images: list[str],
        rng: np.random.Generator,
    ) -> tuple[str, str, dict[str, Any]]:
        prov: dict[str, Any] = {"task": ask.task if ask else "counting", "answer": answer_text}
        if ask is not None:
            if ask.classes:
                prov["classes"] = list(ask.classes)
            if ask.category is not None:
                prov["category"] = ask.category
        mc = ask is not None and rng.random() < self.options.option_ratio
        if not mc:
            return f"{text} {open_conn}", answer_text, prov
        assert ask is not None
        k = self.options.n_options - 1
        if ask.task == "counting":
            wrong = count_distractors(int(ask.answer), k)  # type: ignore[arg-type]
        elif ask.task == "listing":
            wrong = list_distractors(ask.answer, ask.members or ask.answer, k, rng)  # type: ignore[arg-type]
        else:
            wrong = class_distractors(
                str(ask.answer), in_images, self.vocabulary, k, rng, self.positions
            )
        pos = answer_position(self.seed, self.n_mc, len(wrong) + 1)
        self.n_mc += 1
        opts, letter = place_options(answer_text, wrong, pos)
        conns, cids = _option_connectors(), _option_connector_ids()
        cid = cids[int(rng.integers(len(cids)))]
        lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(opts))
        prov.update(options=opts, letter=letter)
        return f"{text}\n{lines}\n{conns[cid]}", letter, prov


def _conversation(
    query: Query,
    facts: list[Any],
    index: AnnotationIndex,
    turner: _Turner,
    rng: np.random.Generator,
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    in_images = sorted({c for f in facts for c in f})
    first = _first_ask(query)
    text = _strip_connector(query, turner.templates)
    conn = query.question[len(text) :].strip()
    h, g, p = turner.turn(first, text, conn, query.answer_text, in_images, rng)
    if first is None:  # k > 1 counting: name the classes so the turn can be re-derived
        p["classes"] = list(query.answer["counts"])
    turns = [(placeholder_prefix(len(query.images), turner.options.placeholder_style) + h, g)]
    prov = [p]
    if query.task == "counting":
        asked = {("counting", c) for c in query.answer["counts"]}
    elif query.task == "listing":
        asked = {("listing", str(query.controls.get("category")))}
    else:
        asked = {(query.task, "")}
    for ask in extra_asks(
        facts,
        index.hierarchy,
        asked,
        rng,
        turner.options.extra_turns,
        index.rules.group_blocks_counting,
    ):
        t, c = _word(ask, turner.templates, rng)
        h, g, p = turner.turn(ask, t, c, _answer_text(ask), in_images, rng)
        turns.append((h, g))
        prov.append(p)
    return turns, prov


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


def _question_words(human: str) -> int:
    body = [
        ln
        for ln in human.splitlines()
        if "<image>" not in ln and not (len(ln) > 2 and ln[1] == "." and ln[0] in LETTERS)
    ]
    return len(" ".join(body).split())


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
    sampler: Callable[..., list[Query]] | None = None,
) -> dict[str, Any]:
    """Sample every spec, turn queries into conversations and write the training set."""
    from mimicgen.specs import spec_hash
    from mimicgen.tasks.sampling import gc_paused
    from mimicgen.templates import load_template_set

    if not specs:
        raise InputError("no task specs given; pass spec YAML files or run 'mimicgen ls'")
    if index_loader is None:
        from mimicgen.index import load_index

        index_loader = load_index
    with_facts = _with_facts(sampler)
    image_mode = image_mode or ImageMode()
    out = Path(out)
    excluded, excl_entries = excluded_source_ids(exclude)
    indexes, spec_index, entries, spec_entry = _load_indexes(specs, index_loader)
    indexes = [exclude_images(ix, excluded.get(ix.kind, ())) for ix in indexes]
    header = _header(specs, [spec_hash(s) for s in specs], entries, seed_override)  # type: ignore[arg-type]
    seed = int(header["seed"])

    llava: list[dict[str, Any]] = []
    mantis: list[dict[str, Any]] = []
    prov_rows: list[dict[str, Any]] = []
    stat_rows: list[dict[str, Any]] = []
    sources: list[tuple[AnnotationIndex, str, str]] = []
    used: set[tuple[str, Any]] = set()
    with gc_paused():  # conversations are acyclic; see gc_paused
        for pos, spec in enumerate(specs):
            index = indexes[spec_index[pos]]
            prefix = entries[spec_entry[pos]]["prefix"]
            templates = load_template_set(getattr(spec, "templates", "paper"))
            turner = _Turner(options, seed + pos, templates, sorted(index.class_names))
            for query, facts in track(with_facts(spec, index), f"conversations {spec.name}"):
                imgs = sorted(query.images, key=lambda i: i.position)
                rng = np.random.default_rng(np.random.SeedSequence([spec.seed, pos, len(llava), 7]))
                turns, prov = _conversation(query, facts, index, turner, rng)
                paths = [image_relpath(prefix, i.file_name) for i in imgs]
                for rel, i in zip(paths, imgs, strict=True):
                    sources.append((index, rel, i.file_name))
                    used.add((index.kind, i.source_id))
                llava.append(
                    {
                        "id": query.id,
                        "image": paths,
                        "conversations": [
                            m
                            for h, g in turns
                            for m in ({"from": "human", "value": h}, {"from": "gpt", "value": g})
                        ],
                    }
                )
                mantis.append(
                    {
                        "id": query.id,
                        "images": paths,
                        "conversation": [
                            m
                            for h, g in turns
                            for m in (
                                {"role": "user", "content": h},
                                {"role": "assistant", "content": g},
                            )
                        ],
                    }
                )
                prov_rows.append(
                    {
                        "id": query.id,
                        "spec": spec.name,
                        "task": query.task,
                        "images": [
                            {"path": p, "source_id": i.source_id, "role": i.role}
                            for p, i in zip(paths, imgs, strict=True)
                        ],
                        "turns": prov,
                    }
                )
                stat_rows.append(
                    {
                        "task": query.task,
                        "n_images": len(imgs),
                        "turns": len(turns),
                        "mc": sum(1 for p in prov if "letter" in p),
                        "words": [_question_words(h) for h, _ in turns],
                    }
                )

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
        _write_json(stage / "manifest.json", manifest)
        if "llava" in options.formats:
            _write_json(stage / "llava.json", llava)
        if "llava_jsonl" in options.formats:
            _write_jsonl(stage / "llava.jsonl", llava)
        if "mantis" in options.formats:
            _write_json(stage / "mantis.json", mantis)
        _write_jsonl(stage / "provenance.jsonl", prov_rows)
        main = "llava.json" if "llava" in options.formats else "llava.jsonl"
        mixture = {
            "datasets": [
                {
                    "json_path": str(out.resolve() / main),
                    "sampling_strategy": options.sampling_strategy,
                }
            ]
        }
        (stage / "mixture.yaml").write_text(yaml.safe_dump(mixture, sort_keys=False), "utf-8")
    return manifest


def _with_facts(
    sampler: Callable[..., list[Query]] | None,
) -> Callable[[Any, AnnotationIndex], list[tuple[Query, list[Any]]]]:
    """Queries paired with their images' facts in presented order: straight from the sampler's
    re-check by default, re-derived from the index for a caller-supplied sampler."""
    from mimicgen.tasks import image_facts, prepare, sample_with_facts

    if sampler is None:
        return sample_with_facts

    def run(spec: Any, index: AnnotationIndex) -> list[tuple[Query, list[Any]]]:
        prep = prepare(index)
        return [
            (
                q,
                image_facts(
                    prep, [i.image_idx for i in sorted(q.images, key=lambda i: i.position)]
                ),
            )
            for q in sampler(spec, index)
        ]

    return run


def _write_json(path: Path, obj: Any) -> None:
    # No indent: only compact dumps run in json's C encoder (a 200K-record file is ~10x faster).
    path.write_text(json.dumps(obj, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
