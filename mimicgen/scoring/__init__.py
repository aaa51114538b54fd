"""Scoring: read predictions, extract answers (strict / lenient / mimic), metrics with CIs, reports.

Rules are stated in docs/scoring.md. Entry points: :func:`score_file` (one prediction file ->
one model entry), :func:`score_files` (the full report) and the pure :func:`check`.
"""

from mimicgen.scoring.check import SampleResult, check
from mimicgen.scoring.extract import PIPELINES, TASKS, Extraction, QueryContext, extract, register
from mimicgen.scoring.ingest import Benchmark, Predictions, load_benchmark, load_predictions
from mimicgen.scoring.normalize import ClassVocabulary, normalize_text
from mimicgen.scoring.report import render_markdown, write_report
from mimicgen.scoring.samples import SampleRow, SampleRows
from mimicgen.scoring.score import score_file, score_files, score_predictions

__all__ = [
    "PIPELINES",
    "TASKS",
    "Benchmark",
    "ClassVocabulary",
    "Extraction",
    "Predictions",
    "QueryContext",
    "SampleResult",
    "SampleRow",
    "SampleRows",
    "check",
    "extract",
    "load_benchmark",
    "load_predictions",
    "normalize_text",
    "register",
    "render_markdown",
    "score_file",
    "score_files",
    "score_predictions",
    "write_report",
]
