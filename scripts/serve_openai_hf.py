"""A small OpenAI-compatible chat-completions server for a local checkpoint (tests, demos, bench).

``transformers serve`` cannot load the VLM checkpoints here: it builds an ``AutoProcessor``, whose
Qwen2-VL / LLaVA-OneVision video processors need torchvision. This server answers through
mimicgen's ``hf`` backend instead (adapters + batched greedy decoding): requests that arrive
together are decoded as one batch (up to ``--max-batch``), so concurrent clients gain as they do
against a real batching server. Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions``
(text and base64 ``data:`` image parts; greedy only). With ``--api-key-env NAME`` requests must
carry that variable's value as a Bearer token.

    python scripts/serve_openai_hf.py --model tiny_qwen --port 8011
    # prints "listening on http://127.0.0.1:8011/v1" once ready
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image


class _Job:
    def __init__(self, images: list[Image.Image], user: list[str | int], budget: int) -> None:
        self.images, self.user, self.budget = images, user, budget
        self.done = threading.Event()
        self.result: dict[str, Any] | Exception | None = None


def _parse(body: dict[str, Any]) -> tuple[list[Image.Image], list[str | int], int]:
    """Images and user-turn segments of a chat request (one user message)."""
    if float(body.get("temperature", 0) or 0) > 0:
        raise ValueError("this server decodes greedily; send temperature 0")
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    if len(users) != 1 or any(m.get("role") == "system" for m in body["messages"]):
        raise ValueError("send exactly one user message and no system message")
    content = users[0]["content"]
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    images: list[Image.Image] = []
    user: list[str | int] = []
    for part in content:
        if part.get("type") == "text":
            user.append(str(part["text"]))
        elif part.get("type") == "image_url":
            url = part["image_url"]["url"]
            head, _, data = url.partition(",")
            if not (head.startswith("data:image/") and head.endswith(";base64")):
                raise ValueError("images must be base64 data: URLs")
            images.append(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
            user.append(len(images) - 1)
        else:
            raise ValueError(f"unsupported content part {part.get('type')!r}")
    return images, user, int(body.get("max_tokens") or 32)


def _worker(adapter: Any, jobs: queue.Queue[_Job], max_batch: int) -> None:
    from mimicgen.predict.hf import generate_batch

    while True:
        batch = [jobs.get()]
        while len(batch) < max_batch:
            try:
                batch.append(jobs.get(timeout=0.01))  # gather what arrives together
            except queue.Empty:
                break
        try:
            prepared = [adapter.prepare(j.images, "", user=j.user) for j in batch]
            outs = generate_batch(adapter, prepared, [j.budget for j in batch])
            for j, p, ids in zip(batch, prepared, outs, strict=True):
                j.result = {
                    "text": adapter.decode_text(ids),
                    "prompt": len(p.tokens),
                    "out": len(ids),
                }
        except Exception as exc:  # noqa: BLE001  (reported to each waiting request as a 500)
            for j in batch:
                j.result = exc
        for j in batch:
            j.done.set()


def make_handler(
    model_name: str,
    jobs: queue.Queue[_Job],
    key: str | None,
    exit_after: int | None = None,
    reply_delay: float = 0.0,
) -> type:
    served = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if key is None or self.headers.get("Authorization") == f"Bearer {key}":
                return True
            self._send(401, {"error": {"message": "invalid API key"}})
            return False

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            if not self._authorised():
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if body.get("model") != model_name:
                self._send(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
                return
            try:
                job = _Job(*_parse(body))
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, {"error": {"message": str(exc)}})
                return
            jobs.put(job)
            job.done.wait()
            if reply_delay:
                time.sleep(reply_delay)  # a slow server, so clients can be stopped mid-run
            if isinstance(job.result, Exception) or job.result is None:
                self._send(500, {"error": {"message": f"generation failed: {job.result}"}})
                return
            r = job.result
            self._send(
                200,
                {
                    "object": "chat.completion",
                    "model": model_name,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": r["text"]},
                            "finish_reason": "length" if r["out"] >= job.budget else "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": r["prompt"],
                        "completion_tokens": r["out"],
                        "total_tokens": r["prompt"] + r["out"],
                    },
                },
            )
            with lock:
                served[0] += 1
                if exit_after is not None and served[0] >= exit_after:
                    self.wfile.flush()
                    os._exit(1)  # no cleanup: as abrupt as a killed process

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="local checkpoint folder")
    ap.add_argument("--name", help="model name clients send (default: the folder name)")
    ap.add_argument("--port", type=int, default=8011, help="0 picks a free port")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--max-batch", type=int, default=8)
    ap.add_argument("--api-key-env", help="require this environment variable's value as key")
    ap.add_argument(
        "--exit-after", type=int, help="die (like a killed server) after this many replies"
    )
    ap.add_argument("--reply-delay", type=float, default=0.0, help="seconds before each reply")
    args = ap.parse_args()
    import torch

    from mimicgen.probes.adapters import load_adapter

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    adapter = load_adapter(args.model, args.dtype, attn="sdpa")
    jobs: queue.Queue[_Job] = queue.Queue()
    threading.Thread(target=_worker, args=(adapter, jobs, args.max_batch), daemon=True).start()
    name = args.name or Path(args.model).name
    key = os.environ[args.api_key_env] if args.api_key_env else None
    server = ThreadingHTTPServer(
        ("127.0.0.1", args.port), make_handler(name, jobs, key, args.exit_after, args.reply_delay)
    )
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
