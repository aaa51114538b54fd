"""The benchmark folder reader: one-line errors naming the file, and the fast decode agreeing with
plain ``json`` line by line."""

from __future__ import annotations

import hashlib
import json

import pytest

from mimicgen.bench.jsonl import read_json_lines
from mimicgen.bench.reader import (
    is_benchmark,
    numbered_records,
    read_benchmark_bytes,
    read_manifest,
    records_file,
)
from mimicgen.errors import InputError


def test_missing_files_are_named(tmp_path):
    assert not is_benchmark(tmp_path)
    with pytest.raises(InputError, match=r"benchmark\.jsonl not found; is .* 'mimicgen build'"):
        records_file(tmp_path)
    (tmp_path / "benchmark.jsonl").write_text('{"id": 1}\n')
    assert is_benchmark(tmp_path)
    with pytest.raises(InputError, match=r"manifest\.json not found"):
        read_benchmark_bytes(tmp_path)
    assert read_manifest(tmp_path, missing_ok=True) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not valid JSON"), ("[1]", "expected a JSON object")],
)
def test_bad_manifest(tmp_path, text, message):
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(InputError, match=message):
        read_manifest(tmp_path)


def test_bytes_and_manifest_hash(tmp_path):
    lines = [json.dumps({"id": i, "x": [i, "é"]}) for i in range(3)]
    (tmp_path / "benchmark.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "manifest.json").write_text('{"schema_version": 1}')
    got = read_benchmark_bytes(tmp_path)
    assert got.data == (tmp_path / "benchmark.jsonl").read_bytes()
    assert got.manifest == {"schema_version": 1}
    assert got.manifest_sha256 == hashlib.sha256(b'{"schema_version": 1}').hexdigest()


def test_bad_line_is_named_by_both_readers(tmp_path):
    path = tmp_path / "benchmark.jsonl"
    path.write_text('{"id": 1}\n{"id": 2}\n{"id": \n')
    with pytest.raises(InputError, match=r"benchmark\.jsonl:3: malformed JSON line"):
        list(numbered_records(path))
    with pytest.raises(InputError, match=r"benchmark\.jsonl:3: malformed JSON line"):
        list(read_json_lines(path))


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 1}\n{"id": [2, 3]}\n',  # plain: decoded in one call
        '{"id": 1}\n\n  {"id": 2}\n{"id": 3}',  # blank and indented lines: numbered fallback
    ],
)
def test_fast_decode_matches_json_per_line(tmp_path, text):
    path = tmp_path / "b.jsonl"
    path.write_text(text)
    want = [(n, json.loads(line)) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    assert list(read_json_lines(path)) == want
    assert list(numbered_records(path, skip_blank=True)) == want
