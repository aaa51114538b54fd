"""Prompt forms: where a query's images go relative to its question (pure Python).

A prompt is one user turn given as *segments*: text strings and image indices (0-based, in
presentation order). Every backend renders the same segments: ``hf`` through the checkpoint's chat
template, ``openai``/``vllm`` as an OpenAI content list. So a form means the same on every backend.

``images-first`` (default)  every image, then the question; where the question marks images with
                            ``<image>`` (as many as there are images) they go there instead.
``paper``                   lmms-eval's LLaVA-OneVision multi-image form, which the MIMIC paper's
                            evaluation ran: the images separated by spaces, a newline, the question.
``interleaved``             ``Image 1: <image>\\nImage 2: <image>\\n...`` then the question.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

__all__ = ["IMAGE_MARKER", "PROMPT_FORMS", "PromptForm", "segments"]

PromptForm = Literal["images-first", "paper", "interleaved"]
PROMPT_FORMS: tuple[str, ...] = get_args(PromptForm)

IMAGE_MARKER = "<image>"
"""In a question, marks where an image goes (if the count matches, images are interleaved)."""


def _marked(question: str, n_images: int) -> list[str | int] | None:
    parts = re.split(re.escape(IMAGE_MARKER), question)
    if len(parts) != n_images + 1 or not n_images:
        return None
    out: list[str | int] = [parts[0]]
    for i, text in enumerate(parts[1:]):
        out += [i, text]
    return [s for s in out if s != ""]


def segments(question: str, n_images: int, form: str = "images-first") -> list[str | int]:
    """The user turn of ``question`` over ``n_images`` images in prompt ``form``."""
    if form == "images-first":
        marked = _marked(question, n_images)
        if marked is not None:
            return marked
        return [*range(n_images), question.replace(IMAGE_MARKER, "").strip()]
    text = question.replace(IMAGE_MARKER, "").strip()
    if form == "paper":
        out: list[str | int] = []
        for i in range(n_images):
            out += [i, " "] if i < n_images - 1 else [i]
        return [*out, f"\n{text}"] if n_images else [text]
    if form == "interleaved":
        out = []
        for i in range(n_images):
            out += [f"Image {i + 1}: ", i, "\n"]
        return _join([*out, text])
    raise ValueError(f"unknown prompt form {form!r}; choose one of {', '.join(PROMPT_FORMS)}")


def _join(parts: list[str | int]) -> list[str | int]:
    """Merge adjacent text segments."""
    out: list[str | int] = []
    for p in parts:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] = out[-1] + p
        else:
            out.append(p)
    return out
