"""Content key and SHA-256 of input files, recomputed independently with xxhash/hashlib."""

from __future__ import annotations

import hashlib
import mmap
from pathlib import Path

import pytest
import xxhash

import mimicgen.sources.digest as digest_mod


def _expected_key(content: bytes, block: int) -> str:
    blocks = [content[i : i + block] for i in range(0, len(content), block)]
    return xxhash.xxh3_128(b"".join(xxhash.xxh3_128(b).digest() for b in blocks)).hexdigest()


@pytest.mark.parametrize("size_in_blocks", [0, 1, 3.5])
def test_block_key_of_file_and_of_bytes(
    size_in_blocks: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = mmap.ALLOCATIONGRANULARITY  # small blocks: several per file, hashed side by side
    monkeypatch.setattr(digest_mod, "_CHUNK", block)
    content = bytes(range(256)) * int(size_in_blocks * block / 256)
    path = tmp_path / "data.bin"
    path.write_bytes(content)
    expected = _expected_key(content, block)
    assert digest_mod._hash_file(path, "xxh3_128_blocks") == expected
    assert digest_mod._key_of_bytes(content) == expected
    assert digest_mod._hash_file(path, "sha256") == hashlib.sha256(content).hexdigest()


def test_kept_bytes_give_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'{"images": []}' * 1000)
    kept = digest_mod.content_key(path, keep=True)
    assert digest_mod.take_bytes(path) == path.read_bytes()
    assert digest_mod.content_key(path, fresh=True) == kept
