"""``mimicgen validate DIR``: check a built eval set against its source annotations.

Checks, in order: manifest shape and counts; source annotation files unchanged (SHA-256);
image files present with the recorded hashes; stats equal to a recount; every record
re-derived by :mod:`mimicgen.validate.checks` from the raw boxes, reloaded with the source
readers; and twin families (:mod:`mimicgen.twins.validate`). Violations are collected, not raised, so one run lists all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimicgen.bench.reader import SCHEMA_VERSION, read_manifest, read_records, records_file
from mimicgen.build.stats import benchmark_stats
from mimicgen.index.rules import PresenceRules
from mimicgen.io import canonical_json, sha256_file
from mimicgen.progress import track
from mimicgen.sources.base import SourceData
from mimicgen.sources.spec import SourceSpec
from mimicgen.twins.validate import family_violations, has_generated_images
from mimicgen.validate.checks import check_record
from mimicgen.validate.facts import SourceFacts, collect_facts

__all__ = ["ValidationReport", "default_source_loader", "facts_by_spec", "validate_benchmark"]

SourceLoader = Callable[[SourceSpec], SourceData]


@dataclass
class ValidationReport:
    """Outcome of :func:`validate_benchmark`; ``ok`` when there is no violation."""

    num_queries: int
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def default_source_loader(cache_dir: Path | None = None) -> SourceLoader:
    """Reload a source with the readers of :mod:`mimicgen.sources` (not the index cache)."""
    from mimicgen.sources import load_source

    return lambda spec: load_source(spec, cache_dir=cache_dir)


def _check_sources(manifest: dict[str, Any]) -> list[str]:
    out = []
    for entry in manifest.get("sources", []):
        if entry["kind"] == "fiftyone":
            continue  # a database dataset, not a file: its boxes are re-read in _check_answers
        for f in entry.get("files", []):
            path = Path(f["path"])
            if not path.is_file() and entry["kind"] == "synthetic":
                continue  # re-rendered on load; its hash is checked in _check_answers
            if not path.is_file():
                out.append(f"source file {path} is missing")
            elif sha256_file(path) != f["sha256"]:
                out.append(f"source file {path} changed since the build (SHA-256 differs)")
    return out


def _check_images(folder: Path, records: list[dict[str, Any]], mode: str) -> list[str]:
    if mode == "none":
        return []
    out = []
    seen: dict[str, str | None] = {}
    for rec in records:
        for img in rec["images"]:
            path = img["path"]
            if path not in seen:
                file = folder / path
                seen[path] = sha256_file(file) if file.is_file() else None
                if seen[path] is None:
                    out.append(f"{rec['id']}: image file {path} is missing")
            if seen[path] is not None and "sha256" in img and img["sha256"] != seen[path]:
                out.append(f"{rec['id']}: image file {path} does not match its recorded SHA-256")
    return out


def _check_manifest(manifest: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    out = []
    if manifest.get("schema_version") != SCHEMA_VERSION:
        out.append(f"manifest schema_version {manifest.get('schema_version')} != {SCHEMA_VERSION}")
    if manifest.get("num_queries") != len(records):
        out.append(f"manifest num_queries {manifest.get('num_queries')} != {len(records)} lines")
    ids = [r["id"] for r in records]
    if len(set(ids)) != len(ids):
        out.append(f"{len(ids) - len(set(ids))} duplicate query ids")
    stats = benchmark_stats(records)
    for key, part in (
        ("stats", "by_task"),
        ("stats_by_spec", "by_spec"),
        ("stats_overall", "overall"),
    ):
        if manifest.get(key) != stats[part]:
            out.append(f"manifest {key} differ from a recount of benchmark.jsonl")
    if manifest.get("twins") != stats.get("twins"):
        out.append("manifest twins differ from a recount of benchmark.jsonl")
    unknown = sorted({str(r.get("spec")) for r in records} - set(manifest.get("spec", {})))
    if unknown:
        out.append(f"records name spec(s) {unknown} that the manifest does not hold")
    return out


def _check_rendered(manifest: dict[str, Any], data: SourceData) -> list[str]:
    """A synthetic source is re-rendered from its spec: it must hash as it did at build time."""
    if data.kind != "synthetic" or not data.files:
        return []
    built = {f["sha256"] for e in manifest.get("sources", []) for f in e.get("files", [])}
    if data.files[0].sha256 in built:
        return []
    return ["re-rendered synthetic annotations differ from the build's (renderer version changed?)"]


def facts_by_spec(
    manifest: dict[str, Any],
    rows: list[dict[str, Any]],
    loader: SourceLoader,
    on_load: Callable[[SourceData], None] | None = None,
) -> Iterator[tuple[str, list[dict[str, Any]], SourceFacts | None]]:
    """``rows`` (eval records or training provenance rows) grouped by their ``spec``, in first-seen
    order, each group with the facts of its images; ``None`` facts when the manifest does not
    hold the spec. Each source is loaded once (``on_load`` sees it then), however many specs
    use it."""
    loaded: dict[str, SourceData] = {}
    by_spec: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_spec.setdefault(row.get("spec", ""), []).append(row)
    for name, group in by_spec.items():
        spec = manifest.get("spec", {}).get(name)
        if spec is None:
            yield name, group, None
            continue
        source = SourceSpec.model_validate(spec["source"])
        rules = PresenceRules.model_validate(spec.get("presence", {}))
        key = canonical_json(source.model_dump(mode="json"))
        if key not in loaded:
            loaded[key] = loader(source)
            if on_load is not None:
                on_load(loaded[key])
        ids = {str(img["source_id"]) for r in group for img in r["images"]}
        yield name, group, collect_facts(loaded[key], rules, ids)


def _check_answers(
    manifest: dict[str, Any], records: list[dict[str, Any]], loader: SourceLoader
) -> list[str]:
    out: list[str] = []

    def rendered(data: SourceData) -> None:
        out.extend(_check_rendered(manifest, data))

    for name, recs, facts in facts_by_spec(manifest, records, loader, rendered):
        if facts is None:
            continue  # reported by _check_manifest
        for rec in track(recs, f"checking {name}"):
            if has_generated_images(rec):
                continue  # blank/noise/stitched twins: checked against their base below
            out.extend(f"{rec['id']}: {v}" for v in check_record(rec, facts))
    return out


def validate_benchmark(folder: Path, source_loader: SourceLoader | None = None) -> ValidationReport:
    """Run every check on the eval set in ``folder``; see the module docstring."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    records = list(read_records(records_file(folder)))
    violations = _check_manifest(manifest, records)
    violations += _check_sources(manifest)
    violations += _check_images(folder, records, manifest.get("images", {}).get("mode", "copy"))
    violations += _check_answers(manifest, records, source_loader or default_source_loader())
    violations += family_violations(records)  # twins (variants:) only
    return ValidationReport(len(records), violations)
