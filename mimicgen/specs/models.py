"""The controls every task spec shares (SPEC §2) and the range checks task specs use.

``BaseTaskSpec`` holds the common controls. Each task's own model (``CountingSpec``, ...)
lives in its task module under :mod:`mimicgen.tasks`, next to its sampler; the registry lists
them: ``mimicgen.registry.get_task(name).spec``. Task modules import this module, never the
reverse, so it stays free of samplers.

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
    "IntRange",
    "TaskSpec",
    "bounds",
    "check_fits",
    "check_range",
    "check_within",
]

#: A fixed positive integer or an inclusive ``[min, max]`` range drawn uniformly per query.
IntRange = int | tuple[int, int]


def bounds(value: IntRange) -> tuple[int, int]:
    """``(min, max)`` of a fixed value or a range."""
    if isinstance(value, int):
        return value, value
    return value[0], value[1]


def check_range(name: str, value: IntRange | None, low: int = 1) -> None:
    """A fixed value or range must start at ``low`` or above and not be empty."""
    if value is None:
        return
    lo, hi = bounds(value)
    if lo < low:
        raise ValueError(f"{name} must be >= {low}, got {lo}")
    if hi < lo:
        raise ValueError(f"{name} range [{lo}, {hi}] is empty (min > max)")


def check_fits(name: str, value: IntRange | None, n_images: IntRange) -> None:
    """A per-query count whose minimum must fit in the fewest images a query may have."""
    if value is not None and bounds(value)[0] > bounds(n_images)[0]:
        raise ValueError(
            f"{name} minimum {bounds(value)[0]} exceeds n_images minimum {bounds(n_images)[0]}"
        )


def check_within(
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
        check_range("n_images", v)
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


#: Any concrete task spec, for type annotations. The set of task specs is the task registry's
#: (``mimicgen.registry``): ``mimicgen.specs.loader`` validates spec files against the
#: discriminated union of every registered task's ``spec`` model.
AnyTaskSpec = BaseTaskSpec
TaskSpec = BaseTaskSpec
