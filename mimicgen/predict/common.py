"""What every backend shares: queries, generation settings, and the output folder.

Output folder (``--out``)::

    predict.json        manifest: mimicgen version, backend, model, generation settings, the
                        backend options that change replies, the benchmark's manifest hash;
                        ``backend_info`` (how it ran: URL, batch size, devices) and, per
                        resumed run, a ``runs`` entry (recorded, not compared)
    predictions.jsonl   {"id", "prediction", "n_images", "n_vision_tokens", "n_prompt_tokens",
                        "n_output_tokens"} per query (counts where the backend knows them),
                        appended as queries finish: what ``mimicgen score`` reads
    errors.jsonl        {"id", "error", "attempts"} per failed request (retried on a rerun)

A rerun with the same settings skips ids already in ``predictions.jsonl`` (a torn last line from a
crash is dropped); different settings are refused unless ``force_mix`` (then the manifest lists
every run's settings under ``mixed_runs``).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mimicgen import __version__
from mimicgen.bench.reader import BENCHMARK_FILE, MANIFEST_FILE
from mimicgen.errors import InputError
from mimicgen.io import JsonlAppender, atomic_write_text, read_jsonl_repaired, sha256_file
from mimicgen.predict.prompts import PromptForm, segments
from mimicgen.probes.benchmark import limit_families, load_benchmark
from mimicgen.registry import task_defs

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "Emit",
    "GenerationSettings",
    "OutputDir",
    "Query",
    "benchmark_hash",
    "load_queries",
]

DEFAULT_MAX_NEW_TOKENS = {t.name: t.max_new_tokens for t in task_defs()}
"""Generation budget per task (the registry's ``max_new_tokens``: listing answers are longer);
other tasks get 32."""
_FALLBACK_MAX_NEW = 32


class GenerationSettings(BaseModel):
    """Everything that decides a reply besides the model and the backend options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_new_tokens: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_MAX_NEW_TOKENS))
    """Per-task budget of generated tokens; tasks not listed get 32."""
    temperature: float = Field(0.0, ge=0.0)
    """0 = greedy decoding (the default)."""
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    """Nucleus sampling mass (only with ``temperature > 0``)."""
    seed: int = 0
    """Sampling seed passed to the backend (only with ``temperature > 0``)."""
    prompt_form: PromptForm = "images-first"
    """Where the images go relative to the question (see ``mimicgen.predict.prompts``)."""
    system_prompt: str | None = None
    """A system message; ``None`` leaves the chat template's (or server's) default."""

    def budget(self, task: str) -> int:
        return self.max_new_tokens.get(task, _FALLBACK_MAX_NEW)


@dataclass(frozen=True)
class Query:
    """One benchmark query as the backends see it."""

    id: str
    task: str
    question: str
    image_paths: tuple[Path, ...]
    """Absolute image paths in presentation order."""
    user: tuple[str | int, ...]
    """The user turn: text segments and image indices (see ``mimicgen.predict.prompts``)."""

    def content(self, image_url: Callable[[Path], str]) -> list[dict[str, Any]]:
        """The user turn as an OpenAI content list (images as ``image_url(path)``)."""
        return [
            {"type": "text", "text": s}
            if isinstance(s, str)
            else {"type": "image_url", "image_url": {"url": image_url(self.image_paths[s])}}
            for s in self.user
        ]

    def messages(
        self, image_url: Callable[[Path], str], system: str | None
    ) -> list[dict[str, Any]]:
        """OpenAI chat messages: an optional system message, then one user message."""
        head = [{"role": "system", "content": system}] if system is not None else []
        return [*head, {"role": "user", "content": self.content(image_url)}]


Emit = Callable[[dict[str, Any]], None]
"""Backends hand each finished row to this (a prediction row, or one with an ``error``)."""


def image_mime(path: Path) -> str:
    """The MIME type of an image file from its suffix (``image/png`` when unknown)."""
    mime = mimetypes.guess_type(path.name)[0]
    return mime if mime and mime.startswith("image/") else "image/png"


def load_queries(benchmark: str | Path, form: str, limit: int | None = None) -> list[Query]:
    """The benchmark's queries (first ``limit``, extended to whole twin families) with their
    user turns in prompt ``form``."""
    items = limit_families(load_benchmark(benchmark), limit)
    return [
        Query(
            it.id,
            it.task,
            it.question,
            it.image_paths,
            tuple(segments(it.question, len(it.image_paths), form)),
        )
        for it in items
    ]


def benchmark_hash(benchmark: str | Path) -> str:
    """SHA-256 of the benchmark's ``manifest.json`` (it holds the spec hash and statistics), or
    of ``benchmark.jsonl`` for a folder without a manifest."""
    folder = Path(benchmark)
    manifest = folder / MANIFEST_FILE
    return sha256_file(manifest if manifest.is_file() else folder / BENCHMARK_FILE)


_MIX_KEYS = ("backend", "model", "generation", "backend_options", "benchmark_sha256")
"""Manifest keys that must match for a rerun to append to an existing predictions file."""


class OutputDir:
    """The ``--out`` folder of one predict run: manifest, resume, appended rows."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.manifest_path = self.folder / "predict.json"
        self.predictions_path = self.folder / "predictions.jsonl"
        self.errors_path = self.folder / "errors.jsonl"

    @staticmethod
    def manifest(
        backend: str,
        model: str,
        generation: GenerationSettings,
        backend_options: dict[str, Any],
        benchmark: str | Path,
    ) -> dict[str, Any]:
        return {
            "mimicgen_version": __version__,
            "backend": backend,
            "model": model,
            "generation": generation.model_dump(mode="json"),
            "backend_options": backend_options,
            "benchmark": str(Path(benchmark).resolve()),
            "benchmark_sha256": benchmark_hash(benchmark),
        }

    def open(self, manifest: dict[str, Any], force_mix: bool = False) -> set[str]:
        """Create or resume the folder for ``manifest``; returns the ids already predicted."""
        if self.folder.exists() and not self.folder.is_dir():
            raise InputError(f"--out {self.folder} is a file; give a folder")
        if self.predictions_path.exists() and not self.manifest_path.exists():
            raise InputError(
                f"{self.predictions_path} exists without predict.json (not a 'mimicgen predict' "
                "folder); choose another --out"
            )
        if self.manifest_path.exists():
            old = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            diff = [k for k in _MIX_KEYS if old.get(k) != manifest.get(k)]
            if diff and not force_mix:
                raise InputError(
                    f"{self.folder} holds predictions made with other settings "
                    f"({', '.join(diff)}); use another --out, or --force-mix to append anyway"
                )
            old.setdefault("runs", []).append(manifest.get("backend_info", {}))
            if diff:
                runs = old.setdefault("mixed_runs", [])
                entry = {k: manifest.get(k) for k in _MIX_KEYS}
                if entry not in runs:
                    runs.append(entry)
            atomic_write_text(self.manifest_path, json.dumps(old, indent=2) + "\n")
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2) + "\n")
        read_jsonl_repaired(self.errors_path)  # drop a torn line before appending
        return {str(r["id"]) for r in read_jsonl_repaired(self.predictions_path)}

    def writers(self) -> tuple[JsonlAppender, JsonlAppender]:
        """Appenders for ``predictions.jsonl`` and ``errors.jsonl``."""
        return JsonlAppender(self.predictions_path), JsonlAppender(self.errors_path)
