"""The ``vllm`` backend: vLLM's offline ``LLM`` engine (optional extra ``vllm``).

The engine gets every query as OpenAI-style chat messages (images as ``file://`` URLs under the
benchmark folder, which is vLLM's ``allowed_local_media_path``), so the checkpoint's own chat
template and multi-image processing apply. ``limit_mm_per_prompt`` is set from the benchmark's
largest query; ``--tensor-parallel-size`` / ``--data-parallel-size`` go to the engine as they are
(tensor parallel splits one model over GPUs; data parallel runs copies; vLLM's Ray backend spans
machines). Queries are handed over in chunks so rows are appended, and resumable, as chunks finish.

:func:`engine_args` and :func:`sampling_args` are pure (tested without vLLM); vLLM is imported
only by :class:`VLLMBackend`, with a one-line install hint when it is missing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from mimicgen.errors import InputError, MissingExtraError
from mimicgen.predict.common import Emit, GenerationSettings, Query
from mimicgen.probes.real_sizes import is_random, write_random_checkpoint

__all__ = ["CHUNK", "VLLMBackend", "engine_args", "sampling_args"]

CHUNK = 256
"""Queries per ``LLM.chat`` call (vLLM batches within a call; rows are written after each)."""

_DTYPES = {
    "auto": "auto",
    "float16": "float16",
    "fp16": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float32": "float32",
    "fp32": "float32",
}


def engine_args(
    model: str,
    queries: list[Query],
    dtype: str = "auto",
    tensor_parallel_size: int = 1,
    data_parallel_size: int = 1,
    max_model_len: int | None = None,
    gpu_memory_utilization: float = 0.9,
    seed: int = 0,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    enforce_eager: bool = False,
) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM`` for a run over ``queries`` (``enforce_eager`` skips
    CUDA graph capture: a faster start for short runs)."""
    if dtype not in _DTYPES:
        raise InputError(f"--dtype {dtype!r}: use auto, float16, bfloat16 or float32")
    if not 0 < gpu_memory_utilization <= 1:
        raise InputError(
            f"--gpu-memory-utilization {gpu_memory_utilization}: give a share in (0, 1]"
        )
    most = max((len(q.image_paths) for q in queries), default=1)
    args: dict[str, Any] = {
        "model": model,
        "dtype": _DTYPES[dtype],
        "limit_mm_per_prompt": {"image": max(most, 1)},
        "tensor_parallel_size": tensor_parallel_size,
        "gpu_memory_utilization": gpu_memory_utilization,
        "seed": seed,
    }
    if data_parallel_size > 1:
        args["data_parallel_size"] = data_parallel_size
    if max_model_len is not None:
        args["max_model_len"] = max_model_len
    if enforce_eager:
        args["enforce_eager"] = True
    pixels = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v}
    if pixels:
        args["mm_processor_kwargs"] = pixels
    paths = [str(p) for q in queries for p in q.image_paths]
    if paths:
        args["allowed_local_media_path"] = os.path.commonpath(paths)
    return args


def sampling_args(settings: GenerationSettings, task: str) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` of one query (greedy unless sampling)."""
    args: dict[str, Any] = {
        "max_tokens": settings.budget(task),
        "temperature": settings.temperature,
    }
    if settings.temperature > 0:
        args |= {"top_p": settings.top_p, "seed": settings.seed}
    return args


def _file_url(path: Path) -> str:
    return Path(path).resolve().as_uri()


class VLLMBackend:
    """Build the engine once (model load) and answer queries in chunks of :data:`CHUNK`."""

    name = "vllm"

    def __init__(self, model: str, queries: list[Query], **options: Any) -> None:
        try:
            import vllm
        except ImportError:
            raise MissingExtraError("vllm", "vllm") from None
        self.model = model
        self.args = engine_args(model, queries, **options)
        if is_random(model):
            # vLLM makes its own random weights for a config-only folder (load_format="dummy").
            self._folder = tempfile.TemporaryDirectory(prefix="mimicgen-random-")
            self.args["model"] = str(write_random_checkpoint(model, self._folder.name))
            self.args["load_format"] = "dummy"
        self._vllm = vllm
        self.llm = vllm.LLM(**self.args)

    def options(self) -> dict[str, Any]:
        keep = ("dtype", "max_model_len", "mm_processor_kwargs")
        return {k: self.args[k] for k in keep if k in self.args}

    def info(self) -> dict[str, Any]:
        keep = (
            "tensor_parallel_size",
            "data_parallel_size",
            "gpu_memory_utilization",
            "limit_mm_per_prompt",
            "enforce_eager",
            "load_format",
        )
        return {k: self.args[k] for k in keep if k in self.args}

    def check(self, settings: GenerationSettings) -> None:
        """Every generation setting maps onto ``SamplingParams``."""

    def _image_token_id(self) -> int | None:
        try:
            cfg = self.llm.llm_engine.model_config.hf_config
        except AttributeError:
            return None
        value = getattr(cfg, "image_token_id", getattr(cfg, "image_token_index", None))
        return int(value) if value is not None else None

    def run(self, queries: list[Query], settings: GenerationSettings, emit: Emit) -> None:
        image_token = self._image_token_id()
        for start in range(0, len(queries), CHUNK):
            chunk = queries[start : start + CHUNK]
            messages = [q.messages(_file_url, settings.system_prompt) for q in chunk]
            params = [self._vllm.SamplingParams(**sampling_args(settings, q.task)) for q in chunk]
            outputs = self.llm.chat(messages, sampling_params=params, use_tqdm=False)
            for q, out in zip(chunk, outputs, strict=True):
                prompt = list(out.prompt_token_ids or [])
                gen = out.outputs[0]
                row: dict[str, Any] = {
                    "id": q.id,
                    "prediction": gen.text.strip(),
                    "n_images": len(q.image_paths),
                    "n_prompt_tokens": len(prompt),
                    "n_output_tokens": len(gen.token_ids),
                }
                if image_token is not None:
                    row["n_vision_tokens"] = sum(1 for t in prompt if t == image_token)
                emit(row)
