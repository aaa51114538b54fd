"""Export a benchmark as a VLMEvalKit dataset TSV.

Columns follow VLMEvalKit's TSV convention: ``index`` (0..n-1, benchmark order), ``image``
(base64 of the file bytes; for several images a JSON list string of base64 strings, which
VLMEvalKit's ``toliststr`` reads), ``question``, ``answer`` (the canonical answer string),
``category`` (the task), ``split``; plus mimicgen's ``id`` so ``mimicgen score`` can map
VLMEvalKit's result file back to queries. ``mimicgen_export.json`` records the manifest hash.
"""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

from mimicgen.errors import InputError
from mimicgen.export.harness_common import (
    check_images,
    image_file,
    image_paths,
    provenance,
    write_provenance,
)
from mimicgen.export.reader import benchmark_inputs
from mimicgen.io import atomic_output_dir
from mimicgen.outdir import check_out
from mimicgen.progress import track
from mimicgen.scoring.ingest import load_benchmark

__all__ = ["COLUMNS", "export_vlmevalkit"]

COLUMNS = ("index", "id", "image", "question", "answer", "category", "split")


def export_vlmevalkit(
    bench_dir: str | Path, out: str | Path, dataset_name: str = "MIMICGEN", overwrite: bool = False
) -> Path:
    """Write ``OUT/<dataset_name>.tsv`` and ``OUT/mimicgen_export.json``; returns the TSV path."""
    if not dataset_name.replace("_", "").replace("-", "").isalnum():
        raise InputError(f"dataset name {dataset_name!r} must be letters, digits, '_' or '-'")
    bench = load_benchmark(bench_dir)
    out = check_out(out, benchmark_inputs(bench.path, bench.manifest))  # before any write
    check_images(bench)  # fail before writing anything
    out = Path(out)
    with atomic_output_dir(out, overwrite=overwrite) as stage:
        # Twin builds (variants:) add each record's family and variant (families are contiguous).
        twins = any("family" in r for r in bench.records)
        columns = (*COLUMNS, "family", "variant") if twins else COLUMNS
        with open(stage / f"{dataset_name}.tsv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerow(columns)
            for index, record in enumerate(track(bench.records, "export vlmevalkit")):
                encoded = [
                    base64.b64encode(image_file(bench, rel, record["id"]).read_bytes()).decode()
                    for rel in image_paths(record)
                ]
                image = encoded[0] if len(encoded) == 1 else json.dumps(encoded)
                writer.writerow(
                    (
                        index,
                        record["id"],
                        image,
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
