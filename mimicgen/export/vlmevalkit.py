"""Export a benchmark as a VLMEvalKit dataset TSV.

Columns follow VLMEvalKit's TSV convention: ``index`` (0..n-1, benchmark order), ``image``
(base64 of the file bytes; for several images a JSON list string of base64 strings, which
VLMEvalKit's ``toliststr`` reads), ``image_path`` (content-hashed cache names, the same shape;
see :mod:`mimicgen.export.vlmevalkit_compat`), ``question``, ``answer`` (the canonical answer string),
``category`` (the task), ``split``; plus mimicgen's ``id`` so ``mimicgen score`` can map
VLMEvalKit's result file back to queries. ``mimicgen_export.json`` records the manifest hash.
"""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

from mimicgen.export.harness_common import (
    check_images,
    image_file,
    image_paths,
    provenance,
    write_provenance,
)
from mimicgen.export.reader import benchmark_inputs
from mimicgen.export.vlmevalkit_compat import (
    DEFAULT_DATASET_NAME,
    cache_image_name,
    check_dataset_name,
)
from mimicgen.io import atomic_output_dir
from mimicgen.outdir import check_out
from mimicgen.progress import track
from mimicgen.scoring.ingest import load_benchmark

__all__ = ["COLUMNS", "export_vlmevalkit"]

COLUMNS = ("index", "id", "image", "image_path", "question", "answer", "category", "split")


def export_vlmevalkit(
    bench_dir: str | Path,
    out: str | Path,
    dataset_name: str = DEFAULT_DATASET_NAME,
    overwrite: bool = False,
) -> Path:
    """Write ``OUT/<dataset_name>.tsv`` and ``OUT/mimicgen_export.json``; returns the TSV path."""
    check_dataset_name(dataset_name)
    bench = load_benchmark(bench_dir)
    out = check_out(out, benchmark_inputs(bench.path, bench.manifest))  # before any write
    check_images(bench)  # fail before writing anything
    out = Path(out)
    with atomic_output_dir(out, overwrite=overwrite) as stage:
        with open(stage / f"{dataset_name}.tsv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerow(COLUMNS)
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
                    )
                )
        write_provenance(
            stage, provenance(bench, "vlmevalkit", tsv=f"{dataset_name}.tsv", columns=list(COLUMNS))
        )
    return out / f"{dataset_name}.tsv"
