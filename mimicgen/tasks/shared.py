"""Sampling utilities shared by the task samplers: the sampler base class, random streams,
class pools, range draws and distractor sampling."""

from __future__ import annotations

import difflib
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mimicgen.errors import SamplingError, SpecError
from mimicgen.specs.models import BaseTaskSpec, IntRange, bounds
from mimicgen.tasks.derive import ImageFacts
from mimicgen.tasks.prepared import PreparedIndex

__all__ = [
    "DistractorSampler",
    "Draft",
    "TaskSampler",
    "draw_int",
    "draw_n_images",
    "query_rng",
    "random_composition",
    "resolve_pool",
]


def query_rng(seed: int, q: int) -> np.random.Generator:
    """The generator of query ``q``: a pure function of (seed, q). Sampling draws come first,
    then presentation (image order, template), so templates never change which images a
    query uses."""
    return np.random.default_rng(np.random.SeedSequence([seed, q]))


def draw_int(rng: np.random.Generator, value: IntRange, cap: int | None = None) -> int | None:
    """Uniform draw from a fixed value or inclusive range, upper bound capped at ``cap``;
    None when the capped range is empty."""
    lo, hi = bounds(value)
    if cap is not None:
        hi = min(hi, cap)
    if lo > hi:
        return None
    return lo if lo == hi else int(rng.integers(lo, hi + 1))


def draw_n_images(rng: np.random.Generator, spec: BaseTaskSpec) -> int:
    """Images of one query: uniform over ``n_images``, or the two-piece draw around
    ``n_images_median`` (one coin, then a uniform draw in the chosen half)."""
    median = spec.n_images_median
    if median is None:
        n = draw_int(rng, spec.n_images)
        assert n is not None  # no cap: the validated range is never empty
        return n
    lo, hi = bounds(spec.n_images)
    low_half = bool(rng.random() < 0.5)
    return int(rng.integers(lo, median + 1) if low_half else rng.integers(median, hi + 1))


def random_composition(rng: np.random.Generator, total: int, parts: int) -> list[int]:
    """Uniform random composition of ``total`` into ``parts`` positive integers."""
    if parts == 1:
        return [total]
    cuts = np.sort(rng.choice(total - 1, parts - 1, replace=False) + 1)
    edges = np.concatenate(([0], cuts, [total]))
    return np.diff(edges).astype(int).tolist()


def resolve_pool(spec: BaseTaskSpec, prep: PreparedIndex) -> np.ndarray:
    """Class indices of the spec's class pool (sorted); unknown names are a ``SpecError``."""
    if spec.class_pool is None:
        return np.arange(len(prep.class_names), dtype=np.int64)
    unknown = [c for c in spec.class_pool if c not in prep.name_to_idx]
    if unknown:
        hints = []
        for name in unknown[:3]:
            close = difflib.get_close_matches(name, prep.class_names, n=1)
            hints.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise SpecError(
            f"spec '{spec.name}': class_pool names {len(unknown)} class(es) not in the source: "
            f"{', '.join(hints)}; use the source's display names"
        )
    return np.array(sorted(prep.name_to_idx[c] for c in spec.class_pool), dtype=np.int64)


@dataclass
class Draft:
    """One candidate query before presentation (order, template) and the re-check."""

    images: list[int]
    """Image indices grouped by role (evidence first)."""
    roles: list[str]
    """Role per image: ``query`` | ``distractor`` | ``context`` (see ``QueryImage.role``)."""
    answer: dict[str, Any]
    answer_text: str
    controls: dict[str, Any]
    slot: str
    """Text for the template's ``<class_id>`` placeholder."""
    k: int = 1
    """Number of classes named (selects the multi-class connector for counting)."""
    relevant: list[str] | None = None
    """Classes listed in each image's ``class_counts``; None: every class present."""
    zeros: bool = False
    """List ``relevant`` classes with count 0 where absent (counting targets)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Task-specific data the re-check needs (targets, members, minority)."""


class TaskSampler:
    """Base class: one instance per (spec, index); ``draw`` proposes one candidate query."""

    task: ClassVar[str] = ""

    def __init__(self, spec: BaseTaskSpec, prep: PreparedIndex) -> None:
        self.spec = spec
        self.prep = prep
        self.pool = resolve_pool(spec, prep)
        self.group_blocks = spec.presence.group_blocks_counting

    def draw(self, q: int, rng: np.random.Generator, attempt: int) -> Draft | str:
        """A candidate for query ``q``, or a short rejection reason."""
        raise NotImplementedError

    def verify(self, draft: Draft, facts: Sequence[ImageFacts]) -> None:
        """Re-derive the answer from the images' facts; raise ``AnswerError`` on mismatch."""
        raise NotImplementedError

    def candidate_summary(self) -> str:
        """Candidate counts for error messages."""
        return f"pool has {self.pool.size} classes"

    def fail(self, message: str) -> SamplingError:
        return SamplingError(f"{self.task} spec '{self.spec.name}': {message}")

    def exhausted(self, q: int, reasons: Counter[str]) -> SamplingError:
        top = "; ".join(f"{n}x {r}" for r, n in reasons.most_common(3))
        return self.fail(
            f"query {q} found no valid sample in {self.spec.max_attempts} attempts ({top}); "
            f"{self.candidate_summary()}; widen the class pool or n_images/spread ranges, or "
            "raise max_attempts"
        )


class DistractorSampler:
    """Images absent for a set of classes: fast rejection from the absence universe, with an
    exact (cached) candidate list as the fallback when most images hold a target class."""

    def __init__(self, prep: PreparedIndex, cache_size: int = 256) -> None:
        self.prep = prep
        self._exact: OrderedDict[tuple[int, ...], np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def exact(self, classes: Sequence[int]) -> np.ndarray:
        """Every image absent for all ``classes`` (sorted)."""
        key = tuple(sorted(int(c) for c in classes))
        hit = self._exact.get(key)
        if hit is not None:
            self._exact.move_to_end(key)
            return hit
        universe = self.prep.absence_universe(list(key))
        base = self.prep.image_ids if universe is None else universe
        out = base[self.prep.absent_mask(base, list(key))]
        self._exact[key] = out
        if len(self._exact) > self._cache_size:
            self._exact.popitem(last=False)
        return out

    def sample(self, rng: np.random.Generator, classes: Sequence[int], n: int) -> np.ndarray | str:
        """``n`` distinct images absent for every class in ``classes``, or a reason."""
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        universe = self.prep.absence_universe(list(classes))
        base = self.prep.image_ids if universe is None else universe
        if base.size >= n:
            # Draw with replacement and keep first occurrences: far cheaper than choice(...,
            # replace=False) on a large universe, and still uniform over distinct images.
            cand = base[rng.integers(0, base.size, 4 * n + 8)]
            _, first = np.unique(cand, return_index=True)
            cand = cand[np.sort(first)]
            ok = cand[self.prep.absent_mask(cand, classes)]
            if ok.size >= n:
                return ok[:n]
        exact = self.exact(classes)
        if exact.size < n:
            return f"only {exact.size} distractor images lack the classes, {n} needed"
        return exact[rng.choice(exact.size, n, replace=False)]
