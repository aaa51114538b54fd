"""Content hashes of input files, memoised by file identity.

Hashing a multi-GB OpenImages CSV takes seconds, and both the cache key and the provenance record
need it. The digest is therefore remembered per ``(path, size, mtime_ns, inode)``: in-process
always, and on disk in the cache folder when one is given, so a cached index loads without
re-reading the annotation file. Any write to the file changes its mtime/size and forces a re-hash;
``mimicgen index --refresh`` ignores the memo entirely.

A reader that decodes a whole file from one buffer anyway (COCO JSON) can ask for the bytes to be
kept (``keep=True``): the file is then read once, hashed from memory, and handed to the reader by
:func:`take_bytes`, so a cold build does not read it twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mimicgen.io import atomic_write_text, canonical_json
from mimicgen.progress import track

__all__ = [
    "drop_kept_bytes",
    "file_sha256",
    "known_sha256",
    "remember_sha256",
    "save_digests",
    "take_bytes",
]

_MEMO: dict[str, str] = {}
#: Bytes of files hashed with ``keep=True``, by identity, until a reader takes them.
_KEPT: dict[str, bytes] = {}
#: Larger files are never kept (streamed CSVs must not be held in memory).
_KEEP_LIMIT = 2 << 30
_MEMO_FILE = "digests.json"
_CHUNK = 8 << 20


def _sha256(path: Path) -> str:
    """Chunked SHA-256 with a progress bar (multi-GB CSVs take seconds)."""
    n_chunks = max(1, -(-path.stat().st_size // _CHUNK))
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for _ in track(range(n_chunks), f"hashing {path.name}", total=n_chunks):
            digest.update(f.read(_CHUNK))
        while block := f.read(_CHUNK):  # the file grew while hashing: finish it anyway
            digest.update(block)
    return digest.hexdigest()


def _identity(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"


def _load(memo_dir: Path | None) -> dict[str, str]:
    path = memo_dir / _MEMO_FILE if memo_dir is not None else None
    if path is None or not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged memo is only a lost optimisation
    return stored if isinstance(stored, dict) else {}


def file_sha256(
    path: str | os.PathLike[str],
    memo_dir: Path | None = None,
    fresh: bool = False,
    keep: bool = False,
) -> str:
    """SHA-256 of ``path``'s content; reuses a memoised digest while the file is unchanged.

    Reads (never writes) the on-disk memo in ``memo_dir``; call :func:`save_digests` once the
    work that needed the digest has succeeded, so bad input leaves nothing behind. ``keep``
    keeps the bytes read for hashing (files up to 2 GiB) for one :func:`take_bytes`.
    """
    path = Path(path)
    key = _identity(path)
    if not fresh:
        digest = _MEMO.get(key) or _load(memo_dir).get(key)
        if digest is not None:
            _MEMO[key] = digest
            return digest
    if keep and path.stat().st_size <= _KEEP_LIMIT:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()  # one call on the buffer: no Python loop
        _KEPT[key] = data
    else:
        digest = _sha256(path)
    _MEMO[key] = digest
    return digest


def take_bytes(path: Path) -> bytes | None:
    """The content kept by ``file_sha256(path, keep=True)`` if the file is unchanged since, once."""
    return _KEPT.pop(_identity(path), None)


def drop_kept_bytes() -> None:
    """Release every kept buffer (e.g. the cached index was found, so nothing will decode)."""
    _KEPT.clear()


def known_sha256(path: Path) -> str | None:
    """The in-process digest of ``path`` if it was hashed unchanged before, else None."""
    return _MEMO.get(_identity(path))


def remember_sha256(path: Path, digest: str) -> None:
    """Record a digest computed elsewhere (e.g. from bytes already in memory)."""
    _MEMO[_identity(path)] = digest


def save_digests(paths: list[Path], memo_dir: Path) -> None:
    """Persist the in-process digests of ``paths`` into ``memo_dir`` (atomic rewrite)."""
    stored = _load(memo_dir)
    for path in paths:
        key = _identity(path)
        if key not in _MEMO:
            continue
        # Drop stale entries for the same file so the memo does not grow without bound.
        prefix = key.split("|", 1)[0] + "|"
        stored = {k: v for k, v in stored.items() if not k.startswith(prefix)}
        stored[key] = _MEMO[key]
    atomic_write_text(memo_dir / _MEMO_FILE, canonical_json(stored))
