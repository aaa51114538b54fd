"""CLI command ``predict`` (registered on mimicgen.cli.app).

Backends are imported inside the command: ``hf`` needs the ``probes`` extra (torch,
transformers), ``vllm`` the ``vllm`` extra; ``openai`` needs nothing beyond the standard library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mimicgen.cli.app import app
from mimicgen.cli.budgets import parse_budgets
from mimicgen.cli.model_out import check_model_out
from mimicgen.errors import InputError, MissingExtraError, first_problem

__all__ = ["predict_cmd"]

BACKENDS = ("hf", "openai", "vllm")


def _settings(**values: Any) -> Any:
    from pydantic import ValidationError

    from mimicgen.predict.common import GenerationSettings

    try:
        return GenerationSettings(**values)
    except ValidationError as exc:
        key, msg, got = first_problem(exc)
        flag = "--" + key.replace("_", "-")
        raise InputError(f"{flag} {got!r}: {msg}") from None


def _need(extra: str, *packages: str) -> None:
    for package in packages:
        try:
            __import__(package)
        except ImportError:
            raise MissingExtraError(extra, package) from None


@app.command("predict")
def predict_cmd(
    benchmark: Annotated[Path, typer.Argument(help="Benchmark folder (benchmark.jsonl + images).")],
    model: Annotated[
        str,
        typer.Option(
            "--model", help="hf/vllm: hub id, local folder or random:NAME; openai: model name."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (predictions.jsonl, ...).")],
    backend: Annotated[str, typer.Option("--backend", help="hf, openai or vllm.")] = "hf",
    max_new_tokens: Annotated[
        list[str], typer.Option("--max-new-tokens", help="TASK=N (or N for all tasks); repeatable.")
    ] = [],  # noqa: B006
    temperature: Annotated[
        float, typer.Option("--temperature", help="0 = greedy (default).")
    ] = 0.0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus mass (sampling only).")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed (sampling only).")] = 0,
    prompt_form: Annotated[
        str, typer.Option("--prompt-form", help="images-first, paper or interleaved.")
    ] = "images-first",
    system_prompt: Annotated[
        str | None, typer.Option("--system-prompt", help="System message (openai, vllm).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1,
            help="Only the first N queries, plus the rest of any twin family begun.",
        ),
    ] = None,
    force_mix: Annotated[
        bool,
        typer.Option("--force-mix", help="Append to an --out made with other settings anyway."),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="hf: prompts per batch.")
    ] = 8,
    dtype: Annotated[
        str, typer.Option("--dtype", help="hf/vllm: auto, float32, float16 or bfloat16.")
    ] = "auto",
    device: Annotated[str | None, typer.Option("--device", help="hf: e.g. cpu, cuda:0.")] = None,
    device_map: Annotated[
        str | None, typer.Option("--device-map", help="hf: transformers device_map, e.g. auto.")
    ] = None,
    attn: Annotated[
        str, typer.Option("--attn", help="hf: sdpa, flash_attention_2 or eager.")
    ] = "sdpa",
    min_pixels: Annotated[
        int | None, typer.Option("--min-pixels", min=1, help="Qwen (hf/vllm): min image pixels.")
    ] = None,
    max_pixels: Annotated[
        int | None, typer.Option("--max-pixels", min=1, help="Qwen (hf/vllm): max image pixels.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="openai: e.g. http://127.0.0.1:8000/v1.")
    ] = None,
    api_key_env: Annotated[
        str, typer.Option("--api-key-env", help="openai: environment variable holding the key.")
    ] = "OPENAI_API_KEY",
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="openai: requests in flight.")
    ] = 8,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="openai: seconds per request.")
    ] = 120.0,
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="openai: retries on 429/5xx/timeouts.")
    ] = 5,
    tensor_parallel_size: Annotated[
        int, typer.Option("--tensor-parallel-size", min=1, help="vllm: GPUs per model copy.")
    ] = 1,
    data_parallel_size: Annotated[
        int, typer.Option("--data-parallel-size", min=1, help="vllm: model copies.")
    ] = 1,
    max_model_len: Annotated[
        int | None, typer.Option("--max-model-len", min=1, help="vllm: context length.")
    ] = None,
    gpu_memory_utilization: Annotated[
        float, typer.Option("--gpu-memory-utilization", help="vllm: share of GPU memory.")
    ] = 0.9,
    enforce_eager: Annotated[
        bool, typer.Option("--enforce-eager", help="vllm: no CUDA graphs (faster start).")
    ] = False,
) -> None:
    """Run a model on a benchmark (hf, an OpenAI-compatible endpoint, or vLLM): predictions.jsonl."""
    from mimicgen.predict.prompts import PROMPT_FORMS

    if backend not in BACKENDS:
        raise InputError(f"--backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if prompt_form not in PROMPT_FORMS:
        raise InputError(f"--prompt-form {prompt_form!r}: choose one of {', '.join(PROMPT_FORMS)}")
    settings = _settings(
        max_new_tokens=parse_budgets(max_new_tokens),
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        prompt_form=prompt_form,
        system_prompt=system_prompt,
    )
    from mimicgen.predict.common import load_queries
    from mimicgen.predict.runner import run_predict

    queries = load_queries(benchmark, prompt_form, limit)  # validate before loading a model
    out = check_model_out(out, benchmark, model)
    engine: Any
    if backend == "hf":
        _need("probes", "torch", "transformers")
        from mimicgen.predict.hf import HFBackend

        HFBackend.check(settings)
        engine = HFBackend(
            model, dtype, device, device_map, attn, batch_size, min_pixels, max_pixels
        )
    elif backend == "openai":
        from mimicgen.predict.openai_api import OpenAIBackend

        if base_url is None:
            raise InputError("--backend openai needs --base-url, e.g. https://api.openai.com/v1")
        engine = OpenAIBackend(base_url, model, api_key_env, concurrency, timeout, retries)
        engine.preflight()
    else:
        from mimicgen.predict.vllm_engine import VLLMBackend

        engine = VLLMBackend(
            model,
            queries,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            data_parallel_size=data_parallel_size,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            enforce_eager=enforce_eager,
        )
    summary = run_predict(engine, benchmark, out, settings, limit, force_mix)
    errors = f", {summary.errors} errors (see {out / 'errors.jsonl'})" if summary.errors else ""
    typer.echo(
        f"{summary.predicted} predicted, {summary.skipped} already done{errors} in "
        f"{summary.seconds:.1f} s ({summary.rate:.2f} queries/s) -> {out / 'predictions.jsonl'}"
    )
