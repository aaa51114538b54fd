"""Options of a training-set build (LLaVA-OneVision / Mantis conversations)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TrainingOptions"]


class TrainingOptions(BaseModel):
    """How queries become training conversations (``mimicgen build --format llava|mantis``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    formats: tuple[Literal["llava", "llava_jsonl", "mantis"], ...] = ("llava", "llava_jsonl")
    """Files to write: ``llava.json`` (one JSON list), ``llava.jsonl`` (a record per line),
    ``mantis.json`` (Mantis-Instruct layout)."""

    placeholder_style: Literal["start", "lines", "interleaved"] = "lines"
    """Where the ``<image>`` placeholders go in the first human turn: ``start`` (all together
    before the text), ``lines`` (one per line before the text) or ``interleaved``
    (``Image 1: <image>`` per line). Always exactly one placeholder per image."""

    option_ratio: float = Field(0.5, ge=0.0, le=1.0)
    """Share of turns asked as multiple choice (lettered options); the rest are open-ended."""

    n_options: int = Field(4, ge=2, le=8)
    """Options per multiple-choice turn, always exactly this many (a source with fewer than
    ``n_options + 1`` classes is refused up front)."""

    extra_turns: int = Field(2, ge=0, le=8)
    """Further questions over the same image set, each answer derived from the annotations."""

    sampling_strategy: str = "all"
    """Written into the LLaVA-NeXT data-mixture YAML (``all``, ``first:N``, ``random:N%``...)."""
