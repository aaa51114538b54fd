"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint (standard library HTTP).

Each query is one request: an optional system message and one user message whose content list
holds the images as base64 ``data:`` URLs and the text, in the prompt form's order. Requests run
on a bounded pool (``concurrency`` in flight, driven by asyncio); each has a timeout and is
retried with exponential backoff (or the server's ``Retry-After``) on 429, 5xx, timeouts and
dropped connections. A request that still fails becomes an ``errors.jsonl`` row, not a crash,
and is retried by the next run. The API key is read from an environment variable and sent only
in the ``Authorization`` header: it is never written to the manifest, the rows or any message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mimicgen.errors import InputError
from mimicgen.predict.common import Emit, GenerationSettings, Query, image_mime

__all__ = ["OpenAIBackend", "data_url", "request_body"]

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
"""HTTP statuses worth retrying (rate limits, overload, transient server errors)."""


def data_url(path: Path) -> str:
    """The file's bytes as a base64 ``data:`` URL (the image is sent as stored, not re-encoded)."""
    return f"data:{image_mime(path)};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def request_body(model: str, query: Query, settings: GenerationSettings) -> dict[str, Any]:
    """The chat-completions request of one query."""
    body: dict[str, Any] = {
        "model": model,
        "messages": query.messages(data_url, settings.system_prompt),
        "max_tokens": settings.budget(query.task),
        "temperature": settings.temperature,
    }
    if settings.temperature > 0:
        body |= {"top_p": settings.top_p, "seed": settings.seed}
    return body


class _HTTPFailure(Exception):
    def __init__(self, status: int | None, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class OpenAIBackend:
    """Requests to ``base_url`` (e.g. ``https://api.openai.com/v1``, ``http://127.0.0.1:8000/v1``)."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 120.0,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = urllib.parse.urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InputError(
                f"--base-url {base_url!r} is not an http(s) URL; e.g. http://127.0.0.1:8000/v1"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self._key = os.environ.get(api_key_env) or None
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep

    def options(self) -> dict[str, Any]:
        return {}  # the model name is compared; the URL may change between resumed runs

    def info(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,  # the variable's name, never its value
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "retries": self.retries,
        }

    def check(self, settings: GenerationSettings) -> None:
        """Every generation setting maps onto the request."""

    # ---- HTTP --------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(
            f"{self.base_url}{path}", data=data, headers=self._headers(), method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            raise _HTTPFailure(
                exc.code, f"HTTP {exc.code}: {_server_message(exc)}", _seconds(retry_after)
            ) from None
        except TimeoutError:
            raise _HTTPFailure(None, f"no reply within {self.timeout:g} s") from None
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _HTTPFailure(None, f"connection failed ({reason})") from None
        except json.JSONDecodeError:
            raise _HTTPFailure(0, "the reply is not JSON") from None

    def _with_retries(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[Any, int]:
        """``(reply, attempts)``; raises the last :class:`_HTTPFailure` when retries run out."""
        for attempt in range(self.retries + 1):
            try:
                return self._call(method, path, body), attempt + 1
            except _HTTPFailure as exc:
                transient = exc.status is None or exc.status in _RETRY_STATUS
                if not transient or attempt == self.retries:
                    exc.attempts = attempt + 1  # type: ignore[attr-defined]
                    raise
                wait = min(self.max_backoff, self.backoff * 2**attempt)
                if exc.retry_after is not None:
                    wait = min(self.max_backoff, max(wait, exc.retry_after))
                self.sleep(wait)
        raise AssertionError("unreachable")

    def preflight(self) -> None:
        """One ``GET /models``: a one-line error for an unreachable URL, a refused key, or a model
        the server does not list (servers without ``/models`` are let through)."""
        try:
            reply, _ = self._with_retries("GET", "/models", None)
        except _HTTPFailure as exc:
            if exc.status in (401, 403):
                where = (
                    f"${self.api_key_env}" if self._key else f"no key (${self.api_key_env} unset)"
                )
                raise InputError(
                    f"{self.base_url} refused the request with {where} ({exc}); "
                    f"set {self.api_key_env} to a valid API key"
                ) from None
            if exc.status in (404, 405):
                return
            raise InputError(
                f"cannot use {self.base_url}/models: {exc}; check --base-url (it usually ends in /v1)"
            ) from None
        ids = [m.get("id") for m in reply.get("data", [])] if isinstance(reply, dict) else []
        if ids and self.model not in ids:
            shown = ", ".join(map(str, ids[:10])) + (", ..." if len(ids) > 10 else "")
            raise InputError(
                f"model {self.model!r} is not served at {self.base_url}; it lists: {shown}"
            )

    # ---- queries -----------------------------------------------------------------------
    def _one(self, query: Query, settings: GenerationSettings) -> dict[str, Any]:
        body = request_body(self.model, query, settings)
        try:
            reply, attempts = self._with_retries("POST", "/chat/completions", body)
            text = reply["choices"][0]["message"]["content"]
        except _HTTPFailure as exc:
            return {"id": query.id, "error": str(exc), "attempts": getattr(exc, "attempts", 1)}
        except (KeyError, IndexError, TypeError):
            return {
                "id": query.id,
                "error": "reply has no choices[0].message.content",
                "attempts": 1,
            }
        row: dict[str, Any] = {
            "id": query.id,
            "prediction": "" if text is None else str(text).strip(),
            "n_images": len(query.image_paths),
        }
        usage = reply.get("usage") or {}
        if isinstance(usage.get("prompt_tokens"), int):
            row["n_prompt_tokens"] = usage["prompt_tokens"]
        if isinstance(usage.get("completion_tokens"), int):
            row["n_output_tokens"] = usage["completion_tokens"]
        if attempts > 1:
            row["attempts"] = attempts
        return row

    def run(self, queries: list[Query], settings: GenerationSettings, emit: Emit) -> None:
        asyncio.run(self._run(queries, settings, emit))

    async def _run(self, queries: list[Query], settings: GenerationSettings, emit: Emit) -> None:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(self.concurrency)
        # Own pool: the default executor is sized by CPU count, not by --concurrency.
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:

            async def one(query: Query) -> dict[str, Any]:
                async with gate:
                    return await loop.run_in_executor(pool, self._one, query, settings)

            # Rows are written here, on the loop's thread, in the order requests finish.
            for done in asyncio.as_completed([one(q) for q in queries]):
                emit(await done)


def _server_message(exc: urllib.error.HTTPError) -> str:
    """The server's error message (OpenAI's ``{"error": {"message"}}``), one line, short."""
    try:
        raw = exc.read().decode("utf-8", "replace")
    except OSError:
        raw = ""
    try:
        payload = json.loads(raw)
        err = payload.get("error", payload) if isinstance(payload, dict) else payload
        msg = err.get("message", raw) if isinstance(err, dict) else str(err)
    except json.JSONDecodeError:
        msg = raw or str(exc.reason)
    return " ".join(str(msg).split())[:300]


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
