"""The benchmark folder format (SPEC §4): file names, ``SCHEMA_VERSION`` and reading.

:mod:`mimicgen.bench.reader` opens and decodes ``benchmark.jsonl`` and ``manifest.json``;
:mod:`mimicgen.bench.jsonl` is its fast JSONL decoding (also used for prediction files).
"""

__all__: list[str] = []
