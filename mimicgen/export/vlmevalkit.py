"""Export a benchmark as a VLMEvalKit dataset TSV.

Columns follow VLMEvalKit's TSV convention: ``index`` (0..n-1, benchmark order), ``image``
(base64 of the file bytes; for several images a JSON list string of base64 strings, which
VLMEvalKit's ``toliststr`` reads), ``image_path`` (content-hashed cache names, the same shape;
see :mod:`mimicgen.export.vlmevalkit_compat`), ``question``, ``answer`` (the canonical answer string),
``category`` (the task), ``split``; plus mimicgen's ``id`` so ``mimicgen score`` can map
VLMEvalKit's result file back to queries. ``mimicgen_export.json`` records the manifest hash.

Every row embeds its images, so the TSV is about 4/3 of the image bytes times the uses of each
image: its size (:func:`estimate_tsv_bytes`) is reported before writing, with a warning above
:data:`WARN_BYTES`, and a disk without room for it is refused. Rows are streamed to the file one
at a time (memory holds one row's images).
"""

from __future__ import annotations

import base64
import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from mimicgen.bench.reader import benchmark_inputs
from mimicgen.errors import InputError
from mimicgen.export.harness_common import (
    check_images,
    image_file,
    image_paths,
    provenance,
    write_provenance,
)
from mimicgen.export.vlmevalkit_compat import (
    CACHE_NAME_CHARS,
    DEFAULT_DATASET_NAME,
    cache_image_name,
    check_dataset_name,
)
from mimicgen.io import atomic_output_dir
from mimicgen.outdir import check_out
from mimicgen.progress import track
from mimicgen.scoring.ingest import Benchmark, load_benchmark

__all__ = ["COLUMNS", "WARN_BYTES", "estimate_tsv_bytes", "export_vlmevalkit", "human_bytes"]

COLUMNS = ("index", "id", "image", "image_path", "question", "answer", "category", "split")
WARN_BYTES = 4 * 10**9
"""TSV size above which the export warns: VLMEvalKit reads the whole TSV into memory (pandas)
and decodes every image into ``$LMUData/images/`` before it runs."""


def human_bytes(n: int) -> str:
    """``88.2 MB`` (decimal units, as ``ls -h --si`` and disk vendors count)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def estimate_tsv_bytes(bench: Benchmark) -> int:
    """Size of the TSV :func:`export_vlmevalkit` writes: exact for the image column (base64 of
    each file, several images as a CSV-quoted JSON list), the text columns' unquoted UTF-8 length
    (off only by the quoting of text with quotes or tabs). Reads file sizes, not images."""
    sizes: dict[str, int] = {}
    total = len("\t".join(COLUMNS)) + 1
    for index, record in enumerate(bench.records):
        b64 = []
        for rel in image_paths(record):
            if rel not in sizes:
                sizes[rel] = image_file(bench, rel, record["id"]).stat().st_size
            b64.append(4 * -(-sizes[rel] // 3))
        image = _cell_bytes(b64)
        image_path = _cell_bytes([CACHE_NAME_CHARS] * len(b64))
        text = (str(index), str(record["id"]), record["question"], str(record["answer_text"]))
        # "test" (split), then one tab per column gap and the newline.
        total += image + image_path + sum(len(t.encode()) for t in text) + len(record["task"])
        total += 4 + len(COLUMNS)
    return total


def _cell_bytes(lengths: list[int]) -> int:
    """One string: bare. Several: '["a", "b"]' quoted by csv ('"[""a"", ""b""]"')."""
    if len(lengths) == 1:
        return lengths[0]
    return 4 + sum(n + 4 for n in lengths) + 2 * (len(lengths) - 1)


def export_vlmevalkit(
    bench_dir: str | Path,
    out: str | Path,
    dataset_name: str = DEFAULT_DATASET_NAME,
    overwrite: bool = False,
    notify: Callable[[str, bool], None] | None = None,
) -> Path:
    """Write ``OUT/<dataset_name>.tsv`` and ``OUT/mimicgen_export.json``; returns the TSV path.

    ``notify(message, is_warning)`` hears the TSV's estimated size before anything is written."""
    check_dataset_name(dataset_name)
    bench = load_benchmark(bench_dir)
    out = check_out(out, benchmark_inputs(bench.path, bench.manifest), "OUT")  # before any write
    check_images(bench)  # fail before writing anything
    _check_size(bench, out, notify or (lambda message, warn: None))
    out = Path(out)
    with atomic_output_dir(out, overwrite=overwrite, flag="OUT") as stage:
        # Twin builds (variants:) add each record's family and variant (families are contiguous).
        twins = any("family" in r for r in bench.records)
        columns = (*COLUMNS, "family", "variant") if twins else COLUMNS
        with open(stage / f"{dataset_name}.tsv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerow(columns)
            for index, record in enumerate(track(bench.records, "export vlmevalkit")):
                raw = [
                    image_file(bench, rel, record["id"]).read_bytes() for rel in image_paths(record)
                ]
                encoded = [base64.b64encode(data).decode() for data in raw]
                names = [cache_image_name(data) for data in raw]
                image = encoded[0] if len(encoded) == 1 else json.dumps(encoded)
                image_path = names[0] if len(names) == 1 else json.dumps(names)
                writer.writerow(
                    (
                        index,
                        record["id"],
                        image,
                        image_path,
                        record["question"],
                        record["answer_text"],
                        record["task"],
                        "test",
                        *((record.get("family", ""), record.get("variant", "")) if twins else ()),
                    )
                )
        write_provenance(
            stage, provenance(bench, "vlmevalkit", tsv=f"{dataset_name}.tsv", columns=list(columns))
        )
    return out / f"{dataset_name}.tsv"


def _check_size(bench: Benchmark, out: Path, notify: Callable[[str, bool], None]) -> None:
    """Say how large the TSV will be; warn when large; refuse when the disk cannot hold it."""
    size = estimate_tsv_bytes(bench)
    notify(f"VLMEvalKit TSV: about {human_bytes(size)} for {len(bench.records)} queries", False)
    if size > WARN_BYTES:
        notify(
            f"the TSV will be about {human_bytes(size)}: VLMEvalKit loads it whole into memory "
            "and decodes every image into $LMUData/images/; check RAM and disk, or export a "
            "smaller benchmark",
            True,
        )
    existing = next(p for p in (out, *out.parents) if p.exists())  # staging sits beside out
    free = shutil.disk_usage(existing).free
    if free < size:
        raise InputError(
            f"the TSV needs about {human_bytes(size)} but {existing} has {human_bytes(free)} "
            "free; free space or choose an OUT on a larger disk"
        )
