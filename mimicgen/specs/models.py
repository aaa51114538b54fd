"""Task specs: one frozen Pydantic model per task, sharing the common controls (SPEC §2).

``BaseTaskSpec`` holds the common controls; the built-in tasks' models follow. A task module
may also define its own model next to its sampler (``mimicgen.tasks.existence``): the registry
(:mod:`mimicgen.registry`) is what lists them.

A spec fully determines a task's queries given an annotation index: the same spec (same
``spec_hash``) and the same index always give the same queries. Integer controls that may vary
per query accept either a fixed value (``7``) or an inclusive range (``[2, 35]``) from which each
query draws uniformly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from mimicgen.index.rules import PresenceRules
from mimicgen.sources.spec import SourceSpec
from mimicgen.specs.variants import VariantsSpec

__all__ = [
    "AnyTaskSpec",
    "BaseTaskSpec",
    "CommonSpec",
    "CountingSpec",
    "IntRange",
    "ListingSpec",
    "OddOneSpec",
    "TaskSpec",
    "bounds",
    "check_fits",
    "check_range",
]

#: A fixed positive integer or an inclusive ``[min, max]`` range drawn uniformly per query.
IntRange = int | tuple[int, int]


def bounds(value: IntRange) -> tuple[int, int]:
    """``(min, max)`` of a fixed value or a range."""
    if isinstance(value, int):
        return value, value
    return value[0], value[1]


def _check_range(name: str, value: IntRange | None, low: int = 1) -> None:
    if value is None:
        return
    lo, hi = bounds(value)
    if lo < low:
        raise ValueError(f"{name} must be >= {low}, got {lo}")
    if hi < lo:
        raise ValueError(f"{name} range [{lo}, {hi}] is empty (min > max)")


def _check_fits(name: str, value: IntRange | None, n_images: IntRange) -> None:
    """A per-query count whose minimum must fit in the fewest images a query may have."""
    if value is not None and bounds(value)[0] > bounds(n_images)[0]:
        raise ValueError(
            f"{name} minimum {bounds(value)[0]} exceeds n_images minimum {bounds(n_images)[0]}"
        )


def _check_within(
    name: str, value: IntRange | None, low: int, n_images: IntRange, rule: str
) -> None:
    """A per-query count must lie in ``low..max(n_images)``: values outside it would be narrowed
    silently per query, so the spec is refused with the allowed range."""
    if value is None:
        return
    lo, hi = bounds(value)
    top = bounds(n_images)[1]
    if lo < low or hi > top:
        shown = str(lo) if lo == hi else f"[{lo}, {hi}]"
        raise ValueError(
            f"{name} {shown} lies outside the allowed range {low}..{top} ({rule}); "
            f"use values in {low}..{top}"
        )


class BaseTaskSpec(BaseModel):
    """Controls shared by every task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    if TYPE_CHECKING:
        # Every concrete spec declares ``task: Literal["<name>"]`` (its registry name); declared
        # here for type checkers only, so field order (and every manifest) stays as it was.
        task: str

    name: str = Field("spec", pattern=r"^[A-Za-z0-9_.\-]+$")
    """Spec name, used as the query id prefix (``<name>-000042``); default: the YAML file stem."""

    split: Literal["eval", "train"] = "eval"
    """What the queries are for: an evaluation set or training data."""

    source: SourceSpec = SourceSpec()
    """Where the annotations come from (default: the built-in synthetic scenes)."""

    presence: PresenceRules = PresenceRules()
    """Presence rules (recognisable size, group boxes, OpenImages strict absence)."""

    seed: int = 0
    """Root seed: query q draws from ``SeedSequence([seed, q, stream])``."""

    num_queries: int = Field(100, ge=1)
    """Number of queries to sample; sampling fails rather than return fewer."""

    n_images: IntRange = 4
    """Images per query: a fixed number or an inclusive ``[min, max]`` range (uniform draw)."""

    n_images_median: int | None = None
    """With an ``n_images`` range: draw from ``[min, median]`` or ``[median, max]`` (each
    uniformly) with equal probability, so the median is this value and the whole range is still
    used (the paper's unbalanced counting has 2-35 images with median 15). ``None``: uniform."""

    class_pool: tuple[str, ...] | None = None
    """Class names the answer/target classes are drawn from (uniformly); ``None``: every class."""

    templates: str = "paper"
    """Prompt template set: a name in ``templates/`` (``paper``) or a path to a YAML file."""

    max_attempts: int = Field(300, ge=1)
    """Rejection-sampling budget per query before sampling fails with the candidate counts."""

    variants: VariantsSpec | None = None
    """Paired twins of every query (order, distractors, spread, content-free, stitched; see
    docs/tasks.md "Twins"); ``None``: plain queries. Left out of the dumped spec when unset,
    so specs without twins keep their hashes."""

    @model_serializer(mode="wrap")
    def _drop_unset_variants(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("variants", 0) is None:
            del data["variants"]
        return data

    @model_validator(mode="after")
    def _variants_fit_task(self) -> BaseTaskSpec:
        if self.variants is not None:
            if self.split != "eval":
                raise ValueError(
                    "variants makes paired eval twins; remove it or set split: eval (training "
                    "builds have no twins)"
                )
            k = getattr(self, "k", None)
            self.variants.check_task(getattr(self, "task", ""), bounds(k) if k else None)
        return self

    @field_validator("n_images")
    @classmethod
    def _n_images_valid(cls, v: IntRange) -> IntRange:
        _check_range("n_images", v)
        return v

    @model_validator(mode="after")
    def _median_in_range(self) -> BaseTaskSpec:
        if self.n_images_median is not None:
            lo, hi = bounds(self.n_images)
            if not lo <= self.n_images_median <= hi:
                raise ValueError(
                    f"n_images_median {self.n_images_median} lies outside n_images [{lo}, {hi}]"
                )
        return self

    @field_validator("class_pool")
    @classmethod
    def _pool_valid(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None:
            if not v:
                raise ValueError("class_pool is empty; omit it to use every class")
            if len(set(v)) != len(v):
                raise ValueError("class_pool lists a class twice")
        return v


class CountingSpec(BaseTaskSpec):
    """Counting: how many instances of k target classes are in the images."""

    task: Literal["counting"] = "counting"

    k: IntRange = 1
    """Number of target classes named in one question."""

    spread: IntRange | None = None
    """Query images holding the target instances (the rest are distractors); ``None``: any
    feasible value from ``k`` (balanced: up to the total) to ``n_images``."""

    balanced: bool = True
    """Balanced: each class's total is fixed per query (from ``totals``) and split over the
    query images; unbalanced: whatever the sampled query images hold."""

    totals: tuple[int, ...] = (2, 3, 4)
    """Balanced only: per-class totals; query q uses a seeded, block-balanced pick from this list,
    so every value is used equally often."""

    max_total: int | None = Field(None, ge=1)
    """Unbalanced only: reject samples whose per-class total exceeds this."""

    @model_validator(mode="after")
    def _consistent(self) -> CountingSpec:
        _check_range("k", self.k)
        _check_range("spread", self.spread)
        _check_fits("spread", self.spread, self.n_images)
        _check_fits("k", self.k, self.n_images)
        _check_within("k", self.k, 1, self.n_images, "1..n_images")
        _check_within("spread", self.spread, bounds(self.k)[0], self.n_images, "k..n_images")
        if self.balanced:
            if not self.totals or min(self.totals) < 1:
                raise ValueError("balanced counting needs totals, each >= 1")
            if self.max_total is not None:
                raise ValueError("max_total applies to unbalanced counting only")
        return self


class ListingSpec(BaseTaskSpec):
    """Listing: which member classes of a category node appear in the images."""

    task: Literal["listing"] = "listing"

    category: str | tuple[str, ...] | None = None
    """Category node(s) (COCO supercategory, OpenImages hierarchy node); ``None``: any node that
    can satisfy the query, drawn uniformly."""

    n_answer: IntRange | None = None
    """Number of member classes in the answer; ``None``: 1 up to ``min(spread, members)``."""

    min_members: int = Field(2, ge=1)
    """Smallest category a listing question may ask about: with ``category: null`` smaller
    nodes are skipped, a named smaller node is refused, and training conversations' extra
    listing turns skip them too. A one-member node (COCO ``person``) would ask for the
    sub-categories of a class that is its own only member."""

    spread: IntRange | None = None
    """Images holding member classes (the rest are distractors with no member class at all);
    ``None``: any value from 1 to ``n_images``."""

    @model_validator(mode="after")
    def _consistent(self) -> ListingSpec:
        _check_range("n_answer", self.n_answer)
        _check_range("spread", self.spread)
        _check_fits("spread", self.spread, self.n_images)
        _check_within("spread", self.spread, 1, self.n_images, "1..n_images")
        if isinstance(self.category, tuple) and not self.category:
            raise ValueError("category list is empty; omit it to use every node")
        return self


class CommonSpec(BaseTaskSpec):
    """Common: the one class recognisable in every image (no other class present in all)."""

    task: Literal["common"] = "common"

    n_images: IntRange = (3, 8)
    """Images per query (at least 2)."""

    balance_answers: bool = True
    """Cycle answer classes over the pool in seeded blocks so each class is the answer equally
    often (falls back to a random class for a query whose class cannot be satisfied)."""

    @model_validator(mode="after")
    def _consistent(self) -> CommonSpec:
        if bounds(self.n_images)[0] < 2:
            raise ValueError("common needs n_images >= 2")
        return self


class OddOneSpec(BaseTaskSpec):
    """Odd-one: the class present in a minority of images while every other class is in a
    strict majority."""

    task: Literal["odd_one"] = "odd_one"

    n_images: IntRange = (4, 6)
    """Images per query (more than twice ``minority``)."""

    minority: int = Field(1, ge=1)
    """Number of images holding the odd class (must be a strict minority)."""

    balance_answers: bool = True
    """As for common: block-balanced answer classes over the pool."""

    @model_validator(mode="after")
    def _consistent(self) -> OddOneSpec:
        if 2 * self.minority >= bounds(self.n_images)[0]:
            raise ValueError(
                f"minority {self.minority} is not a strict minority of n_images "
                f"minimum {bounds(self.n_images)[0]}; need n_images > 2 * minority"
            )
        return self


#: Any concrete task spec, for type annotations. The set of task specs is the task registry's
#: (``mimicgen.registry``): ``mimicgen.specs.loader`` validates spec files against the
#: discriminated union of every registered task's ``spec`` model.
AnyTaskSpec = BaseTaskSpec
TaskSpec = BaseTaskSpec

#: The range checks of the built-in specs, for task modules' own spec models.
check_range = _check_range
check_fits = _check_fits
