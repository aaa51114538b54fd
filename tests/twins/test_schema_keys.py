"""Twin builds add only the declared optional keys of the schema contract
(``tests/bench/test_schema_contract.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from mimicgen.bench.reader import SCHEMA_VERSION
from tests.bench.test_schema_contract import CONTRACT


def test_twin_records_and_manifest_keys(twin_build: Path) -> None:
    keys = CONTRACT[SCHEMA_VERSION]
    manifest = json.loads((twin_build / "manifest.json").read_text())
    assert set(manifest) == keys["manifest"] | {"twins"}
    assert {"twins"} <= keys["manifest_optional"]
    for line in (twin_build / "benchmark.jsonl").read_text().splitlines():
        assert set(json.loads(line)) == keys["record"] | keys["twin_record"]
