"""Content hashes of input files, memoised by file identity.

Two hashes per file, each computed only when needed:

* the **content key** keys the index cache: XXH3-128 over the XXH3-128 digests of the file's
  consecutive 64 MiB blocks, which are hashed side by side (one thread per CPU; xxhash releases
  the GIL). It is all a cold index build needs, and costs 0.03 s for a 284 MB COCO file where
  SHA-256 costs 0.3 s (0.2-0.4 s for a 2.2 GB OpenImages CSV instead of 1.8 s);
* the **SHA-256** is what manifests record for provenance (``SourceFile.sha256``); sources hand
  out :func:`source_file` records that compute it on first access, so ``mimicgen index`` never
  pays for it and ``mimicgen build`` pays once.

Both are remembered per ``(path, size, mtime_ns, inode)``: in-process always, and on disk in the
cache folder, so a cached index loads without re-reading the annotation file. Any write to the
file changes its mtime/size and forces a re-hash; ``mimicgen index --refresh`` ignores the memo.

A reader that decodes a whole file from one buffer anyway (COCO JSON) can ask for the bytes to be
kept (``keep=True``): the file is then read once into a mutable buffer (the COCO reader decodes
pieces of it in place), hashed from memory, and handed to the reader by :func:`take_bytes`, so a
cold build does not read it twice.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import xxhash

from mimicgen.cpus import usable_cpus
from mimicgen.errors import InputError
from mimicgen.io import atomic_write_text, canonical_json, sha256_bytes
from mimicgen.progress import track
from mimicgen.sources.base import SourceFile

__all__ = [
    "content_key",
    "drop_kept_bytes",
    "file_sha256",
    "read_buffer",
    "save_digests",
    "source_file",
    "take_bytes",
]

#: Digest names, as stored in the memo file.
_KEY = "xxh3_128_blocks"
_SHA = "sha256"
_NAMES = (_KEY, _SHA)
#: Threads hashing blocks of one file side by side.
_WORKERS = min(4, usable_cpus())

#: identity -> {digest name: hex digest}
_MEMO: dict[str, dict[str, str]] = {}
#: Identities re-hashed with ``fresh=True``: their on-disk memo is ignored for this process.
_FRESH: set[str] = set()
#: Bytes of files hashed with ``keep=True``, by identity, until a reader takes them.
_KEPT: dict[str, bytearray] = {}
#: Larger files are never kept (streamed CSVs must not be held in memory).
_KEEP_LIMIT = 2 << 30
_MEMO_FILE = "digests.json"
#: Block size of the content key, and of the memory-mapped windows (a multiple of
#: mmap.ALLOCATIONGRANULARITY).
_CHUNK = 64 << 20


def _combine(block_digests: Sequence[bytes]) -> str:
    """The content key from the digests of consecutive blocks (an empty file has none)."""
    return str(xxhash.xxh3_128(b"".join(block_digests)).hexdigest())


def _key_of_bytes(data: bytes | bytearray) -> str:
    """Content key of a buffer in memory (same value as :func:`_hash_file` of that content)."""
    view = memoryview(data)
    with ThreadPoolExecutor(_WORKERS) as pool:
        digests = pool.map(
            lambda start: xxhash.xxh3_128(view[start : start + _CHUNK]).digest(),
            range(0, len(view), _CHUNK),
        )
        return _combine(list(digests))


def _hash_file(path: Path, name: str) -> str:
    """Hash a file through read-only memory-mapped windows (no copies), with a progress bar.

    Each 64 MiB window is unmapped after use, so the file's pages never all count towards the
    process's resident memory (a 2.2 GB CSV mapped at once would add 2.2 GB to its peak RSS).
    The content key hashes the windows side by side; SHA-256 is one sequential stream.
    """
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        starts = range(0, size, _CHUNK)

        def window(start: int) -> mmap.mmap:
            length = min(_CHUNK, size - start)
            return mmap.mmap(f.fileno(), length, offset=start, access=mmap.ACCESS_READ)

        if name == _KEY:

            def block_digest(start: int) -> bytes:
                with window(start) as block:
                    return bytes(xxhash.xxh3_128(block).digest())

            with ThreadPoolExecutor(_WORKERS) as pool:
                digests = pool.map(block_digest, starts)
                return _combine(list(track(digests, f"hashing {path.name}", total=len(starts))))
        sha = hashlib.sha256()
        for start in track(starts, f"hashing {path.name}", total=len(starts)):
            with window(start) as block:
                if hasattr(block, "madvise"):  # read-ahead hint (not on every platform)
                    block.madvise(mmap.MADV_SEQUENTIAL)
                sha.update(block)
        return sha.hexdigest()


def _identity(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"


def _load(memo_dir: Path | None) -> dict[str, dict[str, str]]:
    """The on-disk memo; entries of the older format (identity -> SHA-256) are read too."""
    path = memo_dir / _MEMO_FILE if memo_dir is not None else None
    if path is None or not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged memo is only a lost optimisation
    if not isinstance(stored, dict):
        return {}
    out: dict[str, dict[str, str]] = {}
    for key, value in stored.items():
        if isinstance(value, str):
            out[key] = {_SHA: value}
        elif isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if k in _NAMES and isinstance(v, str)}
    return out


def _digest(path: Path, name: str, memo_dir: Path | None, fresh: bool, keep: bool) -> str:
    key = _identity(path)
    entry = _MEMO.setdefault(key, {})
    if fresh:
        entry.clear()
        _FRESH.add(key)
    elif name not in entry and key not in _FRESH:
        entry.update({k: v for k, v in _load(memo_dir).get(key, {}).items() if k not in entry})
    if name in entry:
        return entry[name]
    if keep and path.stat().st_size <= _KEEP_LIMIT:
        data = read_buffer(path)
        entry[name] = _key_of_bytes(data) if name == _KEY else sha256_bytes(data)
        _KEPT[key] = data
    else:
        entry[name] = _hash_file(path, name)
    return entry[name]


def content_key(
    path: str | os.PathLike[str],
    memo_dir: Path | None = None,
    fresh: bool = False,
    keep: bool = False,
) -> str:
    """Content key of ``path`` (the index cache key, see above); memoised while the file is
    unchanged.

    Reads (never writes) the on-disk memo in ``memo_dir``; call :func:`save_digests` once the
    work that needed the digest has succeeded, so bad input leaves nothing behind. ``keep``
    keeps the bytes read for hashing (files up to 2 GiB) for one :func:`take_bytes`.
    """
    return _digest(Path(path), _KEY, memo_dir, fresh, keep)


def file_sha256(
    path: str | os.PathLike[str], memo_dir: Path | None = None, fresh: bool = False
) -> str:
    """SHA-256 of ``path``'s content (provenance); memoised like :func:`content_key`."""
    return _digest(Path(path), _SHA, memo_dir, fresh, keep=False)


def source_file(path: str | os.PathLike[str], memo_dir: Path | None = None) -> SourceFile:
    """Provenance record of ``path``; its SHA-256 is computed on first access if not known yet.

    The file must not change in between: a lazy hash of different content would describe a file
    other than the one that was read, so that is an error. A digest computed lazily is added to
    the on-disk memo in ``memo_dir`` (the work that read the file has succeeded by then).
    """
    path = Path(path)
    identity = _identity(path)
    known = _MEMO.get(identity, {}).get(_SHA)
    if known is None and identity not in _FRESH:
        known = _load(memo_dir).get(identity, {}).get(_SHA)
    if known is not None:
        _MEMO.setdefault(identity, {})[_SHA] = known
        return SourceFile(path=str(path), sha256=known)

    def resolve() -> str:
        try:
            unchanged = _identity(path) == identity
        except OSError:
            unchanged = False
        if not unchanged:
            raise InputError(
                f"{path}: the file changed or disappeared while mimicgen was using it; "
                "run the command again"
            )
        digest = file_sha256(path, memo_dir)
        if memo_dir is not None and memo_dir.is_dir():
            save_digests([path], memo_dir)
        return digest

    return SourceFile(path=str(path), resolve=resolve)


def read_buffer(path: Path) -> bytearray:
    """A file's content in a mutable buffer (the COCO reader decodes pieces of it in place)."""
    with path.open("rb", buffering=0) as f:
        data = bytearray(os.fstat(f.fileno()).st_size)
        with memoryview(data) as view:
            got = 0
            while got < len(data) and (step := f.readinto(view[got:])):
                got += step
    del data[got:]  # only if the file shrank meanwhile
    return data


def take_bytes(path: Path) -> bytearray | None:
    """The content kept by ``content_key(path, keep=True)`` if the file is unchanged since, once."""
    if not _KEPT:
        return None
    try:
        return _KEPT.pop(_identity(path), None)
    except OSError:
        return None  # the caller's own read reports the problem


def drop_kept_bytes() -> None:
    """Release every kept buffer (e.g. the cached index was found, so nothing will decode)."""
    _KEPT.clear()


def save_digests(paths: list[Path], memo_dir: Path) -> None:
    """Persist the in-process digests of ``paths`` into ``memo_dir`` (atomic rewrite)."""
    stored = _load(memo_dir)
    for path in paths:
        key = _identity(path)
        if not _MEMO.get(key):
            continue
        # Drop stale entries for the same file so the memo does not grow without bound.
        prefix = key.split("|", 1)[0] + "|"
        merged = {**stored.get(key, {}), **_MEMO[key]}
        stored = {k: v for k, v in stored.items() if not k.startswith(prefix)}
        stored[key] = merged
    atomic_write_text(memo_dir / _MEMO_FILE, canonical_json(stored))
