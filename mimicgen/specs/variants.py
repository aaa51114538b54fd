"""``variants:``: paired controlled twins of every query (docs/tasks.md, "Twins").

Each base query becomes a *family*: the base plus twins that share its evidence images and differ
in one declared control (image order, added distractors, spread, content-free images, a stitched
grid). The twins are generated after the base query is sampled, from their own random streams,
so the base queries of a spec with ``variants`` are the queries of the same spec without it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["CONTENT_SCOPES", "Permute", "VariantsSpec", "tasks_with_distractors"]

#: Which images a content-free twin replaces.
CONTENT_SCOPES = ("all", "distractors")
Scope = Literal["all", "distractors"]


def tasks_with_distractors() -> tuple[str, ...]:
    """Registered tasks whose queries have distractor images (role ``distractor`` in their
    :class:`~mimicgen.registry.TaskDef`): an added or replaced distractor holds none of the
    asked classes, so it leaves the answer as it is (counting, listing, existence). In the
    other tasks (common, odd-one) every image is evidence: any added image would change the
    answer."""
    from mimicgen.registry import task_defs  # lazily: the registry imports the task modules

    return tuple(t.name for t in task_defs() if "distractor" in t.roles)


class Permute(BaseModel):
    """Order twins: the same images in other orders."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int | None = Field(None, ge=1)
    """``None``: the evidence images (role ``query``, kept in their relative order) slide as one
    block through every start position while the other images keep theirs; where every image
    is evidence (common), the order is rotated through every offset. A number: that many
    distinct seeded permutations of all images instead (for large ``n_images``)."""


def _as_tuple(value: Any) -> Any:
    """A single value where a list is expected (``blank: all``) as a one-item list."""
    return (value,) if isinstance(value, (str, int)) and not isinstance(value, bool) else value


class VariantsSpec(BaseModel):
    """Which twins each base query gets; at least one control must be set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    permute: Permute | None = None
    """Order twins (``permute: true`` or ``permute: {n: 6}``); see :class:`Permute`."""

    distractors: tuple[int, ...] = ()
    """Numbers of distractor images to add (``[0, 2, 4, 8]``; 0 is the base itself): the base
    images keep their positions and the added distractors follow them, each with no
    annotation of any target class (counting: the targets; listing: every member of the
    node; existence: the asked class). The lists are nested: the twin with 4 added holds the
    2 of the twin with 2. Tasks with distractor images only (:func:`tasks_with_distractors`)."""

    spread: tuple[int, ...] = ()
    """Counting with ``k: 1`` only: the base's target total redistributed over each of these
    numbers of query images (the rest distractors, ``n_images`` unchanged). A spread above
    the base's total or ``n_images`` cannot hold it and is left out of that family."""

    blank: tuple[Scope, ...] = ()
    """Content-free twins with uniform grey images of the same size: ``all`` images, or only
    the ``distractors`` (tasks with distractor images)."""

    noise: tuple[Scope, ...] = ()
    """As ``blank`` with seeded uniform RGB noise images."""

    stitch: bool = False
    """Add the stitched-grid twin: the base images pasted row-major into one near-square grid
    image (``mimicgen.probes.stitch``), so models without probes can be tested on it."""

    @field_validator("permute", mode="before")
    @classmethod
    def _permute_shorthand(cls, v: Any) -> Any:
        if v is True:
            return {}
        if v is False:
            return None
        return v

    @field_validator("distractors", "spread", "blank", "noise", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return _as_tuple(v)

    @field_validator("distractors")
    @classmethod
    def _distractors_valid(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 0 for d in v):
            raise ValueError("distractors lists numbers of added images, each >= 0")
        if len(set(v)) != len(v):
            raise ValueError("distractors lists a number twice")
        return v

    @field_validator("spread")
    @classmethod
    def _spread_valid(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(s < 1 for s in v):
            raise ValueError("spread lists numbers of query images, each >= 1")
        if len(set(v)) != len(v):
            raise ValueError("spread lists a number twice")
        return v

    @field_validator("blank", "noise")
    @classmethod
    def _scopes_unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("a scope is listed twice")
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> VariantsSpec:
        if not self.controls():
            raise ValueError(
                "variants sets no control; give permute, distractors, spread, blank, noise or "
                "stitch, or remove variants"
            )
        return self

    def controls(self) -> list[str]:
        """The controls that make twins, in family order."""
        out = []
        if self.permute is not None:
            out.append("permute")
        if any(d > 0 for d in self.distractors):
            out.append("distractors")
        if self.spread:
            out.append("spread")
        if self.blank:
            out.append("blank")
        if self.noise:
            out.append("noise")
        if self.stitch:
            out.append("stitch")
        return out

    def check_task(self, task: str, k_bounds: tuple[int, int] | None = None) -> None:
        """Raise ``ValueError`` for a control the task cannot vary (called by the task spec)."""
        with_distractors = tasks_with_distractors()
        if any(d > 0 for d in self.distractors) and task not in with_distractors:
            raise ValueError(
                f"variants.distractors needs a task with distractor images "
                f"({', '.join(with_distractors)}), not {task}: every {task} image is evidence, "
                "so an added image would change its answer"
            )
        for name in ("blank", "noise"):
            if "distractors" in getattr(self, name) and task not in with_distractors:
                raise ValueError(
                    f"variants.{name}: distractors needs a task with distractor images "
                    f"({', '.join(with_distractors)}; {task} queries have none); use 'all'"
                )
        if self.spread:
            if task != "counting":
                raise ValueError(f"variants.spread applies to counting only, not {task}")
            if k_bounds != (1, 1):
                raise ValueError("variants.spread needs k: 1 (one target total to redistribute)")
