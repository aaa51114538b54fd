"""Small filesystem helpers shared by every writer: hashing and atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mimicgen.errors import InputError
from mimicgen.outdir import resolve_out

__all__ = [
    "JsonlAppender",
    "atomic_output_dir",
    "atomic_write_bytes",
    "atomic_write_chunks",
    "atomic_write_text",
    "canonical_json",
    "read_jsonl_repaired",
    "remove_tree",
    "sha256_bytes",
    "sha256_file",
]


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content, read in chunks (annotation files can be GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes | bytearray) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces) used for hashing specs and records."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write via a temp file in the same directory, then rename: readers never see half a file."""
    atomic_write_chunks(path, (data,))


def atomic_write_chunks(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> None:
    """As :func:`atomic_write_bytes`, for data produced in pieces (never all in memory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


#: Staging folders are named ``.<out name>.<pid>.<random>.partial``: the process id tells a
#: later run which leftovers (from a run killed outright) it may delete.
_PARTIAL = ".partial"


def _remove_stale_staging(out: Path) -> None:
    """Delete staging folders for ``out`` whose process is gone (killed before it could clean
    up): a rerun then starts from a clean parent folder."""
    # mkdtemp's random part is 8 characters of [a-z0-9_].
    ours = re.compile(rf"\.{re.escape(out.name)}\.(\d+)\.(?:old)?[a-z0-9_]{{8}}\{_PARTIAL}")
    try:
        found = [(p, ours.fullmatch(p.name)) for p in out.parent.iterdir()]
    except OSError:
        return
    for path, match in found:
        if match is None or int(match[1]) == os.getpid():
            continue
        try:
            os.kill(int(match[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass  # alive, run by another user


def remove_tree(path: Path) -> None:
    """``rmtree`` that a second Ctrl-C/SIGTERM cannot cut short: a large staging folder takes a
    while to delete, and an interrupted delete is the leftover this exists to prevent. Signals
    that arrive meanwhile are delivered afterwards."""
    signals = {signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)}
    blocking = hasattr(signal, "pthread_sigmask")
    old = signal.pthread_sigmask(signal.SIG_BLOCK, signals) if blocking else None
    try:
        shutil.rmtree(path, ignore_errors=True)
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def atomic_output_dir(
    out: str | os.PathLike[str], overwrite: bool = False, flag: str = "--out"
) -> Iterator[Path]:
    """Yield a staging directory that replaces ``out`` only if the block succeeds.

    Refuses to touch an existing non-empty ``out`` unless ``overwrite`` is set, and removes the
    staging directory on any failure (interrupts included; SIGTERM too, which the CLI
    raises as :class:`mimicgen.cli.signals.Terminated`), so an error never leaves a half-written
    output behind. A symlink ``out`` is followed: the output replaces the folder it
    points to (:func:`mimicgen.outdir.resolve_out`). ``flag`` names ``out`` in messages as the
    user typed it (``--out`` or ``OUT``).
    """
    shown, out = out, resolve_out(out, flag)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(
            f"{flag} {shown} already exists and is not empty; pass --overwrite to replace it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out)
    prefix = f".{out.name}.{os.getpid()}."
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=_PARTIAL, dir=out.parent))
    try:
        # mkdtemp makes the folder 0700; give the output the permissions a plain mkdir would.
        staging.chmod(0o777 & ~_umask())
        yield staging
        if out.exists():
            # Move the old output aside first: the swap is then two renames, and the old
            # output is deleted only once the new one is in place.
            old = Path(tempfile.mkdtemp(prefix=f"{prefix}old", suffix=_PARTIAL, dir=out.parent))
            os.replace(out, old)
            try:
                os.replace(staging, out)
            except BaseException:
                os.replace(old, out)
                raise
            remove_tree(old)
        else:
            os.replace(staging, out)
    except BaseException:
        remove_tree(staging)
        raise


def read_jsonl_repaired(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of an append-only JSONL log, dropping (and truncating away) a torn last line."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with path.open("r+b") as f:
            f.truncate(end)
    return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


class JsonlAppender:
    """Append whole JSON lines and flush each (so a crash tears at most the last line)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.f = Path(path).open("a", encoding="utf-8")  # noqa: SIM115  (kept open across appends)

    def write(self, row: dict[str, Any]) -> None:
        self.f.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.f.flush()

    def close(self) -> None:
        self.f.close()
