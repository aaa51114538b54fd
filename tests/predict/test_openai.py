"""The ``openai`` backend against local servers on 127.0.0.1.

* a scripted fake (in this process): checks the data URLs and the key, answers 429/500/503/400
  on cue, measures requests in flight;
* the real HTTP path end to end: ``scripts/serve_openai_hf.py`` (an OpenAI-compatible server on
  a tiny checkpoint; ``transformers serve`` cannot load these VLMs without torchvision) dies
  mid-run, the run records errors, a rerun resumes; replies equal ``--backend hf``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.errors import InputError
from mimicgen.predict.common import GenerationSettings
from mimicgen.predict.openai_api import OpenAIBackend
from mimicgen.predict.runner import run_predict

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-test-not-a-real-key-1234"


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class Fake:
    """A scripted chat-completions server. ``script[id]`` is a list of statuses to return on
    successive requests for that query (then 200)."""

    def __init__(self, bench: Path, script: dict[str, list[int]], delay: float = 0.03):
        records = [json.loads(x) for x in (bench / "benchmark.jsonl").read_text().splitlines()]
        # A query is recognised by its images' bytes: what the client must send, unchanged.
        self.by_images = {
            tuple((bench / im["path"]).read_bytes() for im in r["images"]): r for r in records
        }
        self.script = {k: list(v) for k, v in script.items()}
        self.delay, self.lock = delay, threading.Lock()
        self.in_flight = self.max_in_flight = self.requests = 0
        self.problems: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, payload, headers=()):
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The request leaves flight before its reply is sent: the client may start its
                # next request the moment the bytes arrive, before this handler returns.
                self._leave_flight()
                self.wfile.write(data)

            def _leave_flight(self):
                if getattr(self, "counted", False):
                    self.counted = False
                    with fake.lock:
                        fake.in_flight -= 1

            def do_GET(self):
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    return self._send(401, {"error": {"message": "bad key"}})
                self._send(200, {"data": [{"id": "fake-vlm"}]})

            def do_POST(self):
                with fake.lock:
                    fake.requests += 1
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                self.counted = True
                try:
                    self._answer(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                finally:
                    self._leave_flight()

            def _answer(self, body):
                time.sleep(fake.delay)
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    fake.problems.append("missing key")
                (user,) = body["messages"]
                blobs = []
                for part in user["content"]:
                    if part["type"] == "image_url":
                        head, data = part["image_url"]["url"].split(",", 1)
                        if head != "data:image/png;base64":
                            fake.problems.append(f"bad data URL head {head}")
                        blobs.append(base64.b64decode(data))
                rec = fake.by_images.get(tuple(blobs))
                if rec is None:
                    fake.problems.append("images do not match any query")
                    return self._send(400, {"error": {"message": "unknown images"}})
                text = [p["text"] for p in user["content"] if p["type"] == "text"]
                if text != [rec["question"]]:
                    fake.problems.append(f"text {text}")
                with fake.lock:
                    todo = fake.script.get(rec["id"], [])
                    status = todo.pop(0) if todo else 200
                if status == 429:
                    return self._send(
                        429, {"error": {"message": "slow down"}}, [("Retry-After", "0")]
                    )
                if status != 200:
                    return self._send(status, {"error": {"message": f"scripted {status}"}})
                self._send(
                    200,
                    {
                        "choices": [{"message": {"content": f" {len(blobs)} dog "}}],
                        "usage": {"prompt_tokens": 100 + len(blobs), "completion_tokens": 2},
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("MIMICGEN_TEST_KEY", KEY)
    return "MIMICGEN_TEST_KEY"


def test_retries_errors_concurrency_and_resume(tmp_path, bench, key_env):
    fake = Fake(bench, {"q-1": [429, 500], "q-2": [400], "q-3": [503] * 10})
    waits: list[float] = []
    try:
        backend = OpenAIBackend(
            fake.url, "fake-vlm", key_env, concurrency=3, retries=2, sleep=waits.append
        )
        backend.preflight()
        out = tmp_path / "out"
        summary = run_predict(backend, bench, out, GenerationSettings())
        assert (summary.predicted, summary.errors) == (8, 2)
        assert fake.problems == []
        assert 1 < fake.max_in_flight <= 3
        rows = {r["id"]: r for r in _rows(out / "predictions.jsonl")}
        records = [json.loads(x) for x in (bench / "benchmark.jsonl").read_text().splitlines()]
        n_images = {r["id"]: len(r["images"]) for r in records}
        assert set(rows) == set(n_images) - {"q-2", "q-3"}
        for qid, row in rows.items():
            assert row["prediction"] == f"{n_images[qid]} dog"
            assert (
                row["n_images"] == n_images[qid] and row["n_prompt_tokens"] == 100 + n_images[qid]
            )
        assert rows["q-1"]["attempts"] == 3
        errors = {r["id"]: r for r in _rows(out / "errors.jsonl")}
        assert errors["q-2"]["attempts"] == 1 and "HTTP 400" in errors["q-2"]["error"]
        assert errors["q-3"]["attempts"] == 3 and "scripted 503" in errors["q-3"]["error"]
        # Backoff 1, 2 s for q-1 (429 with Retry-After 0, then 500) and the same for q-3.
        assert sorted(waits) == [1.0, 1.0, 2.0, 2.0]
        # Rerun: only the failed ids are asked again (q-3 still fails, q-2 now succeeds).
        before = fake.requests
        summary = run_predict(backend, bench, out, GenerationSettings())
        assert (summary.skipped, summary.predicted, summary.errors) == (8, 1, 1)
        assert fake.requests - before == 1 + 3
    finally:
        fake.close()
    # The key is never written anywhere.
    for f in out.iterdir():
        assert KEY not in f.read_text(), f


def test_cli_one_line_errors_for_url_key_and_model(tmp_path, bench, key_env, monkeypatch):
    fake = Fake(bench, {})
    try:
        base = [str(bench), "--backend", "openai", "--out", str(tmp_path / "o")]
        cases = [
            (["--model", "fake-vlm", "--base-url", "ftp://x"], {}, "not an http(s) URL"),
            (["--model", "fake-vlm", "--base-url", "http://127.0.0.1:9/v1"], {}, "cannot use"),
            (
                ["--model", "fake-vlm", "--base-url", fake.url, "--api-key-env", "NO_SUCH_VAR"],
                {},
                "refused",
            ),
            (
                ["--model", "gpt-9", "--base-url", fake.url, "--api-key-env", key_env],
                {},
                "lists: fake-vlm",
            ),
            (["--model", "fake-vlm"], {}, "--base-url"),
        ]
        for args, _, words in cases:
            res = CliRunner().invoke(app, ["predict", *base, *args, "--retries", "0"])
            assert isinstance(res.exception, InputError), (args, res.output)
            msg = str(res.exception)
            assert words in msg and "\n" not in msg and KEY not in msg, (args, msg)
        assert not (tmp_path / "o").exists()
    finally:
        fake.close()


def _predict_hf(bench: Path, model: Path, out: Path, budget: list[str]) -> None:
    """The same checkpoint through ``--backend hf`` (greedy), the replies to compare with."""
    args = ["predict", str(bench), "--model", str(model), "--out", str(out), "--dtype", "float32"]
    res = CliRunner().invoke(app, [*args, *budget])
    assert res.exit_code == 0, res.output


def _openai_args(bench: Path, url: str, out: Path, concurrency: str) -> list[str]:
    """``mimicgen predict`` against the local server's ``tiny`` model."""
    return [
        "predict",
        str(bench),
        "--backend",
        "openai",
        "--model",
        "tiny",
        "--base-url",
        url,
        "--out",
        str(out),
        "--concurrency",
        concurrency,
    ]


def _start_server(model: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "scripts/serve_openai_hf.py"),
            "--model",
            str(model),
            "--name",
            "tiny",
            "--port",
            "0",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    line = proc.stdout.readline()  # "listening on URL" once the model is loaded
    assert line.startswith("listening on "), line
    return proc, line.split()[-1]


def test_real_server_killed_mid_run_resumes_and_equals_hf(tmp_path, bench, templated_checkpoints):
    pytest.importorskip("torch")
    model = templated_checkpoints["qwen2_vl"]
    budget = ["--max-new-tokens", "8"]
    proc, url = _start_server(model, "--exit-after", "4")
    out = tmp_path / "openai"
    args = [*_openai_args(bench, url, out, "2"), "--retries", "1", *budget]
    try:
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        assert proc.wait(timeout=30) == 1  # the server died after 4 replies
        partial = _rows(out / "predictions.jsonl")
        assert 4 <= len(partial) < 10 and len(_rows(out / "errors.jsonl")) == 10 - len(partial)
        assert "errors" in res.output
    finally:
        proc.kill()
    proc, url = _start_server(model)
    try:
        args[args.index("--base-url") + 1] = url
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        assert f"{10 - len(partial)} predicted, {len(partial)} already done" in res.output
    finally:
        proc.kill()
        proc.wait()
    _predict_hf(bench, model, tmp_path / "hf", budget)
    via_api = {r["id"]: r for r in _rows(out / "predictions.jsonl")}
    via_hf = {r["id"]: r for r in _rows(tmp_path / "hf/predictions.jsonl")}
    assert via_api.keys() == via_hf.keys()
    for qid, row in via_hf.items():
        assert via_api[qid]["prediction"] == row["prediction"]
        assert via_api[qid]["n_prompt_tokens"] == row["n_prompt_tokens"]
    report = tmp_path / "report.json"
    res = CliRunner().invoke(
        app, ["score", str(bench), str(out / "predictions.jsonl"), "--out", str(report)]
    )
    assert res.exit_code == 0, res.output
    assert '"n_predicted": 10' in report.read_text()


def _whole_rows(path):
    """Rows of the complete lines only (the writer may be mid-line)."""
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.split("\n")[:-1]]


@pytest.mark.slow
def test_predict_process_killed_mid_run_resumes_to_the_hf_replies(
    tmp_path, bench, templated_checkpoints
):
    """SIGKILL the ``mimicgen predict --backend openai`` process itself after a few rows (a
    slow server keeps the run going), rerun: every query once, replies equal ``--backend hf``."""
    pytest.importorskip("torch")
    import signal

    model = templated_checkpoints["qwen2_vl"]
    budget = ["--max-new-tokens", "8"]
    proc, url = _start_server(model, "--reply-delay", "0.3")
    out = tmp_path / "openai"
    args = [*_openai_args(bench, url, out, "1"), *budget]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        client = subprocess.Popen(
            [sys.executable, "-m", "mimicgen", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while len(_whole_rows(out / "predictions.jsonl")) < 3 and time.monotonic() < deadline:
            assert client.poll() is None, "the client ended before it was killed"
            time.sleep(0.05)
        client.send_signal(signal.SIGKILL)
        assert client.wait(timeout=30) == -signal.SIGKILL
        partial = _whole_rows(out / "predictions.jsonl")  # a kill mid-line leaves a torn tail
        assert 3 <= len(partial) < 10
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        assert f"{10 - len(partial)} predicted, {len(partial)} already done" in res.output
    finally:
        proc.kill()
        proc.wait()
    _predict_hf(bench, model, tmp_path / "hf", budget)
    via_api = _rows(out / "predictions.jsonl")
    assert sorted(r["id"] for r in via_api) == sorted(f"q-{i}" for i in range(10))  # each once
    via_hf = {r["id"]: r["prediction"] for r in _rows(tmp_path / "hf/predictions.jsonl")}
    assert {r["id"]: r["prediction"] for r in via_api} == via_hf
