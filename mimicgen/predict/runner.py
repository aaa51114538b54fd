"""The predict loop: skip what is done, hand the rest to a backend, append rows as they finish."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mimicgen.predict.common import Emit, GenerationSettings, OutputDir, Query, load_queries
from mimicgen.progress import counter

__all__ = ["Backend", "PredictSummary", "run_predict"]


class Backend(Protocol):
    """What ``run_predict`` needs from a backend."""

    name: str
    """``hf`` | ``openai`` | ``vllm``."""
    model: str
    """The model as the user named it."""

    def options(self) -> dict[str, Any]:
        """Backend options that change replies (recorded in the manifest, compared on resume)."""
        ...

    def info(self) -> dict[str, Any]:
        """How the run was executed (recorded, not compared: batch size, URL, devices...)."""
        ...

    def check(self, settings: GenerationSettings) -> None:
        """Raise an InputError for settings the backend cannot honour."""
        ...

    def run(self, queries: list[Query], settings: GenerationSettings, emit: Emit) -> None:
        """Answer ``queries``, handing each finished row to ``emit`` (any order)."""
        ...


@dataclass(frozen=True)
class PredictSummary:
    skipped: int
    """Queries already in predictions.jsonl (resume)."""
    predicted: int
    errors: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.predicted / self.seconds if self.seconds > 0 else 0.0


def run_predict(
    backend: Backend,
    benchmark: str | Path,
    out: str | Path,
    settings: GenerationSettings,
    limit: int | None = None,
    force_mix: bool = False,
) -> PredictSummary:
    """Predict every not yet predicted query of ``benchmark`` into ``out``."""
    backend.check(settings)
    queries = load_queries(benchmark, settings.prompt_form, limit)
    folder = OutputDir(out)
    manifest = OutputDir.manifest(
        backend.name, backend.model, settings, backend.options(), benchmark
    )
    manifest["backend_info"] = backend.info()
    done = folder.open(manifest, force_mix)
    todo = [q for q in queries if q.id not in done]
    preds, errors = folder.writers()
    counts = {"ok": 0, "error": 0}
    start = time.perf_counter()
    try:
        with counter(f"predict {backend.name}", len(todo)) as advance:

            def emit(row: dict[str, Any]) -> None:
                if "error" in row:
                    errors.write(row)
                    counts["error"] += 1
                else:
                    preds.write(row)
                    counts["ok"] += 1
                advance(1)

            if todo:
                backend.run(todo, settings, emit)
    finally:
        preds.close()
        errors.close()
        if folder.errors_path.exists() and folder.errors_path.stat().st_size == 0:
            folder.errors_path.unlink()
    seconds = time.perf_counter() - start
    return PredictSummary(len(queries) - len(todo), counts["ok"], counts["error"], seconds)
