"""Read the probe-relevant part of a benchmark folder (``benchmark.jsonl`` + images, SPEC §4)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mimicgen.bench.reader import numbered_records, records_file
from mimicgen.errors import InputError

__all__ = ["BenchmarkItem", "limit_families", "load_benchmark", "safe_id"]


@dataclass(frozen=True)
class BenchmarkItem:
    """One query as the probe runner needs it."""

    index: int
    """0-based line number in ``benchmark.jsonl`` (the merge order)."""
    id: str
    task: str
    question: str
    image_paths: tuple[Path, ...]
    """Absolute image paths in presentation order."""
    family: str = ""
    """The twin family (``family`` key, docs/tasks.md "Twins"); a record outside families is
    its own family (its id)."""


def load_benchmark(folder: str | Path) -> list[BenchmarkItem]:
    """Parse ``folder/benchmark.jsonl``; every referenced image must exist."""
    folder = Path(folder)
    path = records_file(folder)
    items: list[BenchmarkItem] = []
    seen: set[str] = set()
    for n, rec in numbered_records(path, skip_blank=True):
        try:
            qid, task, question = str(rec["id"]), str(rec["task"]), str(rec["question"])
            family = str(rec.get("family", qid))
            images = sorted(rec["images"], key=lambda im: im.get("position", 0))
            paths = tuple(folder / str(im["path"]) for im in images)
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"{path}:{n}: not a benchmark record ({exc.__class__.__name__}: "
                f"{exc}); needs id, task, question, images[].path"
            ) from None
        if qid in seen:
            raise InputError(f"{path}:{n}: duplicate id {qid!r}; ids must be unique")
        seen.add(qid)
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise InputError(
                f"{path}:{n}: image {missing[0]} not found; images are relative "
                "to the benchmark folder"
            )
        items.append(BenchmarkItem(len(items), qid, task, question, paths, family))
    return items


def limit_families(items: list[BenchmarkItem], limit: int | None) -> list[BenchmarkItem]:
    """The first ``limit`` queries plus the later members of every twin family they begin, in
    benchmark order: a family cut in two would leave paired scores with unanswered members.
    Without twins (every record its own family) exactly the first ``limit``; a larger limit
    always selects a superset (so a resume may raise it)."""
    if limit is None:
        return items
    begun = {it.family for it in items[:limit]}
    return items[:limit] + [it for it in items[limit:] if it.family in begun]


def safe_id(query_id: str) -> str:
    """A query id as a file name (``maps/<safe_id>.npz``): other characters become ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(query_id))
