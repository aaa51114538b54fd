"""The ``vllm`` backend without vLLM: the pure argument builders, a stand-in engine, the hint."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.errors import InputError, MissingExtraError
from mimicgen.predict.common import GenerationSettings, load_queries
from mimicgen.predict.runner import run_predict
from mimicgen.predict.vllm_engine import engine_args, sampling_args


def test_engine_args_from_the_largest_query(bench):
    queries = load_queries(bench, "images-first")
    records = [json.loads(x) for x in (bench / "benchmark.jsonl").read_text().splitlines()]
    most = max(len(r["images"]) for r in records)  # re-counted from the raw records
    args = engine_args(
        "Qwen/Qwen2-VL-2B-Instruct",
        queries,
        dtype="bf16",
        tensor_parallel_size=4,
        data_parallel_size=2,
        max_model_len=32768,
        max_pixels=602112,
    )
    assert args == {
        "model": "Qwen/Qwen2-VL-2B-Instruct",
        "dtype": "bfloat16",
        "limit_mm_per_prompt": {"image": most},
        "tensor_parallel_size": 4,
        "data_parallel_size": 2,
        "max_model_len": 32768,
        "gpu_memory_utilization": 0.9,
        "seed": 0,
        "mm_processor_kwargs": {"max_pixels": 602112},
        "allowed_local_media_path": str((bench / "images").resolve()),
    }
    assert most == 4
    assert "data_parallel_size" not in engine_args("m", queries)
    assert "enforce_eager" not in args
    assert engine_args("m", queries, enforce_eager=True)["enforce_eager"] is True
    with pytest.raises(InputError, match="--dtype"):
        engine_args("m", queries, dtype="int4")


def test_sampling_args_greedy_by_default():
    assert sampling_args(GenerationSettings(), "listing") == {"max_tokens": 64, "temperature": 0.0}
    hot = GenerationSettings(temperature=0.7, top_p=0.9, seed=3, max_new_tokens={"counting": 5})
    assert sampling_args(hot, "counting") == {
        "max_tokens": 5,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 3,
    }
    assert sampling_args(hot, "listing")["max_tokens"] == 32  # a task not listed


def test_missing_extra_is_one_line(tmp_path, bench, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # as if not installed
    res = CliRunner().invoke(
        app,
        ["predict", str(bench), "--backend", "vllm", "--model", "m", "--out", str(tmp_path / "o")],
    )
    assert isinstance(res.exception, MissingExtraError)
    assert "pip install 'mimicgen[vllm]'" in str(res.exception)
    assert not (tmp_path / "o").exists()


def test_rows_from_a_stand_in_engine(tmp_path, bench, monkeypatch):
    """vLLM's API shape (LLM(**args).chat(messages, sampling_params=[...])) with a recorder."""
    calls = {}

    class LLM:
        def __init__(self, **kwargs):
            calls["init"] = kwargs
            hf = types.SimpleNamespace(image_token_id=7)
            self.llm_engine = types.SimpleNamespace(
                model_config=types.SimpleNamespace(hf_config=hf)
            )

        def chat(self, messages, sampling_params, use_tqdm):
            calls.setdefault("chat", []).append((messages, sampling_params))
            outs = []
            for m in messages:
                n = sum(p["type"] == "image_url" for p in m[-1]["content"])
                gen = types.SimpleNamespace(text=f" {n} ", token_ids=[1, 2])
                outs.append(
                    types.SimpleNamespace(prompt_token_ids=[7] * (3 * n) + [1], outputs=[gen])
                )
            return outs

    fake = types.SimpleNamespace(LLM=LLM, SamplingParams=lambda **kw: kw)
    monkeypatch.setitem(sys.modules, "vllm", fake)
    from mimicgen.predict.vllm_engine import VLLMBackend

    queries = load_queries(bench, "paper")
    backend = VLLMBackend("m", queries, tensor_parallel_size=2)
    summary = run_predict(backend, bench, tmp_path / "o", GenerationSettings(prompt_form="paper"))
    assert summary.predicted == 10 and calls["init"]["tensor_parallel_size"] == 2
    rows = [json.loads(x) for x in (tmp_path / "o/predictions.jsonl").read_text().splitlines()]
    for r in rows:
        assert r["prediction"] == str(r["n_images"])
        assert (
            r["n_vision_tokens"] == 3 * r["n_images"]
            and r["n_prompt_tokens"] == 3 * r["n_images"] + 1
        )
    messages, params = calls["chat"][0]
    first = messages[0][-1]["content"]
    assert first[0]["image_url"]["url"] == Path(queries[0].image_paths[0]).resolve().as_uri()
    assert first[-1]["type"] == "text" and first[-1]["text"].startswith("\n")  # paper form
    assert params[0] == {"max_tokens": 16, "temperature": 0.0}
