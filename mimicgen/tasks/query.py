"""The in-memory form of one benchmark query, produced by the task samplers.

It mirrors a ``benchmark.jsonl`` line (SPEC §4) except that images point at the *source*
(``image_idx``/``file_name``) rather than the output folder; the eval-set and training writers
turn it into the public record. Keep field names in step with the public contract.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Query", "QueryImage", "Role", "TaskName"]

#: A registered task name (``mimicgen.registry``).
TaskName = str
Role = Literal["query", "distractor", "context"]


class QueryImage(BaseModel):
    """One image of a query, in presentation order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_idx: int
    """Dense index into the source's image table."""
    source_id: int | str
    """The image id in the source annotations (COCO int id, OpenImages ImageID)."""
    file_name: str
    """Path relative to the source's image root."""
    position: int
    """0-based position in the prompt."""
    role: Role
    """``query``: holds answer evidence; ``distractor``: holds none of the target classes;
    ``context``: neither (common / odd-one images)."""
    class_counts: dict[str, int]
    """Instances per class relevant to the question (target classes, or all present classes
    for common/odd-one/listing members), from the annotations."""


class Query(BaseModel):
    """One sampled question with its annotation-derived answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """Stable id: ``<spec name>-<zero-padded number>``."""
    task: TaskName
    question: str
    answer: dict[str, Any]
    """Keyed by the task's answer key: ``{"counts": {class: int}}`` | ``{"classes": [class,
    ...]}`` | ``{"class": class}`` | ``{"exists": bool, "class": class}``."""
    answer_text: str
    """Canonical string form of the answer (e.g. ``"3"``, ``"dog: 2, cat: 1"``, ``"bus, car"``)."""
    images: list[QueryImage]
    controls: dict[str, Any]
    """``n_images`` plus the task's controls (spread, distractors, k, category, balanced, ...)."""
    template: dict[str, str]
    """``{"task": template id, "connector": connector id}``."""
