"""Training conversations made in chunks of query numbers, in forked worker processes when the
build is large and the machine has a spare core.

Every query q of a spec is sampled from its own generator (``SeedSequence([seed, q])``) and its
conversation from another (``[spec seed, spec position, conversation number, 7]``), so a chunk
gives the same conversations in any process and order; chunks are returned in order and only
the option placement (:class:`~mimicgen.build.training._OptionPlacer`) runs sequentially after.
Workers are forked after every sampler is built, so they share the index and its arrays.
Workers make each query's first draw; the parent redraws, in query order, the few whose image
set an earlier query of the spec holds (:mod:`mimicgen.tasks.distinct`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimicgen.build.images import image_relpath
from mimicgen.build.training_records import Encoded, encode
from mimicgen.build.training_turns import Turner, conversation, placeholder_prefix
from mimicgen.cpus import usable_cpus
from mimicgen.index.table import AnnotationIndex
from mimicgen.tasks.derive import ImageFacts
from mimicgen.tasks.distinct import DistinctSets, image_set
from mimicgen.tasks.multiturn import default_min_members
from mimicgen.tasks.query import Query
from mimicgen.tasks.shared import TaskSampler

__all__ = [
    "CHUNK",
    "MAX_DEFAULT_WORKERS",
    "MIN_PARALLEL",
    "Conversation",
    "Conversations",
    "SpecWork",
    "default_workers",
]

CHUNK = 2500
"""Queries per job: large enough that a job's transfer is cheap next to its work."""
MIN_PARALLEL = 4 * CHUNK
"""Builds with fewer queries run in-process (forking costs more than it saves)."""

#: One conversation before option placement: (task, number of images, its records as JSON
#: pieces, (source_id, image path, file name) per image when the writer asked for them, and
#: the query's image set, :func:`mimicgen.tasks.distinct.image_set`).
Conversation = tuple[str, int, Encoded, list[tuple[Any, str, str]] | None, tuple[Any, ...]]


@dataclass
class SpecWork:
    """Everything needed to make one spec's conversations."""

    pos: int
    """Position of the spec in the build (part of the conversation generator's key)."""
    spec: Any
    index: AnnotationIndex
    prefix: str
    """Image path prefix of the spec's source."""
    turner: Turner
    extra_turns: int
    placeholder_style: str
    mantis: bool
    """Encode Mantis records too."""
    keep_images: bool
    """Return each image's source id, path and file name (to copy images or check overlap)."""
    offset: int
    """Conversations of the earlier specs: conversation numbers continue across specs."""
    sampler: TaskSampler
    """The spec's sampler, built before any fork."""


MAX_DEFAULT_WORKERS = 4
"""Default cap: each worker holds its own caches and results (~0.2-0.3 GB at OpenImages
scale), so many-core machines do not get one worker per core unless asked."""


def default_workers() -> int:
    """Worker processes: one per usable core, at most :data:`MAX_DEFAULT_WORKERS`."""
    return min(usable_cpus(), MAX_DEFAULT_WORKERS)


def converse(
    work: SpecWork, pairs: Sequence[tuple[Query, list[ImageFacts]]], start: int
) -> list[Conversation]:
    """Conversations of sampled queries ``start, start + 1, ...`` of one spec."""
    spec, index, turner, prefix = work.spec, work.index, work.turner, work.prefix
    hierarchy, blocks = index.hierarchy, index.rules.group_blocks_counting
    min_members = default_min_members(spec)
    out: list[Conversation] = []
    for n, (query, facts) in enumerate(pairs, start=work.offset + start):
        rng = np.random.default_rng(np.random.SeedSequence([spec.seed, work.pos, n, 7]))
        turns = conversation(
            query, facts, hierarchy, blocks, work.extra_turns, turner, rng, min_members
        )
        imgs = sorted(query.images, key=lambda i: i.position)
        paths = [image_relpath(prefix, i.file_name) for i in imgs]
        enc = encode(
            query.id,
            spec.name,
            query.task,
            paths,
            [
                {"path": p, "source_id": i.source_id, "role": i.role}
                for p, i in zip(paths, imgs, strict=True)
            ],
            turns,
            placeholder_prefix(len(paths), work.placeholder_style),
            work.mantis,
        )
        meta = (
            [(i.source_id, p, i.file_name) for p, i in zip(paths, imgs, strict=True)]
            if work.keep_images
            else None
        )
        out.append((query.task, len(paths), enc, meta, image_set(imgs)))
    return out


def _chunk(work: SpecWork, numbers: range) -> list[Conversation]:
    from mimicgen.tasks.sampling import sample_with_facts

    # First draws only: repeated image sets are redrawn in query order by the parent
    # (:meth:`Conversations.__iter__`), so chunks stay independent of each other.
    pairs = sample_with_facts(work.spec, work.index, numbers, sampler=work.sampler, distinct=False)
    return converse(work, pairs, numbers.start)


def _distinct(
    work: SpecWork, sets: DistinctSets, start: int, convs: list[Conversation]
) -> list[Conversation]:
    """The chunk's conversations with each repeat of an earlier image set redrawn (in the
    parent, in query order: :mod:`mimicgen.tasks.distinct`)."""
    from mimicgen.tasks.sampling import redraw_query

    def redraw(q: int) -> Callable[[int], Conversation]:
        return lambda r: converse(work, [redraw_query(work.sampler, work.spec, q, r)], q)[0]

    return [sets.accept(q, conv, lambda c: c[4], redraw(q)) for q, conv in enumerate(convs, start)]


_WORKS: list[SpecWork] = []
"""The build's specs, set before forking (workers read them from the inherited memory)."""


def _job(job: tuple[int, range]) -> list[Conversation]:
    os.environ["MIMICGEN_PROGRESS"] = "0"  # the parent shows progress by chunk
    return _chunk(_WORKS[job[0]], job[1])


class Conversations:
    """Each spec's conversations, chunk by chunk, in spec and query order (``len``: chunks)."""

    def __init__(self, works: Sequence[SpecWork], workers: int) -> None:
        self.works, self.workers = list(works), workers
        self.jobs = [
            (w, range(a, min(a + CHUNK, work.spec.num_queries)))
            for w, work in enumerate(self.works)
            for a in range(0, work.spec.num_queries, CHUNK)
        ]

    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self) -> Iterator[tuple[SpecWork, list[Conversation]]]:
        works, jobs = self.works, self.jobs
        sets = [DistinctSets(w.spec.task, w.spec.name, w.spec.num_queries) for w in works]
        total = sum(work.spec.num_queries for work in works)
        if self.workers <= 1 or total < MIN_PARALLEL or "fork" not in mp.get_all_start_methods():
            for w, numbers in jobs:
                convs = _chunk(works[w], numbers)
                yield works[w], _distinct(works[w], sets[w], numbers.start, convs)
            return
        global _WORKS
        _WORKS = works
        try:
            with mp.get_context("fork").Pool(min(self.workers, len(jobs))) as pool:
                for (w, numbers), convs in zip(jobs, pool.imap(_job, jobs), strict=True):
                    yield works[w], _distinct(works[w], sets[w], numbers.start, convs)
        finally:
            _WORKS = []
