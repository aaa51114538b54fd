"""Write an eval set (SPEC §4): ``benchmark.jsonl`` + ``manifest.json`` + ``images/``.

How a build runs (see ``docs/outputs.md`` for the file formats):

1. Every spec's query numbers are laid end to end (spec order, then query number): the *global
   query list*. ``--shard i/n`` takes the contiguous block ``[T*i//n, T*(i+1)//n)`` of it, so the
   shard files concatenated in order are byte for byte the unsharded ``benchmark.jsonl``.
2. The block is sampled in chunks. Each finished chunk is written atomically to a *resume
   folder* next to the output (``.<out>.resume-<key>``, keyed by everything that determines the
   bytes); a finished chunk file is the progress marker. Rerunning the same command after an
   interrupt skips finished chunks. The samplers derive each query from (seed, query number), so
   chunking does not change any query.
3. The last step assembles ``benchmark.jsonl`` and ``manifest.json`` in a staging folder that
   replaces ``--out`` in one rename (:func:`mimicgen.io.atomic_output_dir`).

Nothing in the output depends on time, paths of temp folders or chunk sizes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from mimicgen import __version__
from mimicgen.bench.reader import (
    BENCHMARK_FILE,
    MANIFEST_FILE,
    SCHEMA_VERSION,
    benchmark_inputs,
    read_manifest,
    read_records,
)
from mimicgen.build.images import ImageMode, image_relpath, materialise_image
from mimicgen.build.stats import benchmark_stats
from mimicgen.errors import InputError, MimicgenError
from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import AnnotationIndex
from mimicgen.io import (
    atomic_output_dir,
    atomic_write_text,
    canonical_json,
    sha256_bytes,
    sha256_file,
)
from mimicgen.outdir import check_out, resolve_out
from mimicgen.progress import track
from mimicgen.sources.registry import CACHE_PLACEHOLDER
from mimicgen.sources.spec import SourceSpec
from mimicgen.tasks.query import Query

__all__ = [
    "BuildOptions",
    "BuildResult",
    "build_eval_set",
    "dump_record",
    "merge_shards",
    "query_record",
    "shard_range",
    "source_inputs",
]

#: Manifest keys copied verbatim from a shard manifest when merging (everything but the stats).
HEADER_KEYS = (
    "schema_version",
    "generator_version",
    "seed",
    "seeds",
    "spec",
    "spec_hash",
    "spec_hashes",
    "sources",
)


class TaskSpecLike(Protocol):
    """What the writer needs from a task spec (``mimicgen.specs.TaskSpec``)."""

    name: str
    task: str
    source: SourceSpec
    presence: PresenceRules
    seed: int
    num_queries: int

    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...


IndexLoader = Callable[[SourceSpec, PresenceRules], AnnotationIndex]
Sampler = Callable[[Any, AnnotationIndex, range], list[Query]]


@dataclass(frozen=True)
class BuildOptions:
    """Everything about *how* to write, as opposed to *what* (the specs)."""

    out: Path
    image_mode: ImageMode = field(default_factory=ImageMode)
    overwrite: bool = False
    shard: tuple[int, int] | None = None
    """``(i, n)``: build only block ``i`` of ``n`` of the global query list."""
    seed_override: int | None = None
    """The ``--seed`` value, recorded as the manifest ``seed`` (specs already carry it)."""
    chunk_size: int = 500
    """Queries per resume chunk; changes nothing in the output."""
    inputs: tuple[Path, ...] = ()
    """Input paths besides the sources (spec files): ``out`` must not be, hold or lie inside
    any of them (:func:`mimicgen.outdir.check_out`)."""


@dataclass(frozen=True)
class BuildResult:
    out: Path
    num_queries: int
    manifest: dict[str, Any]
    resumed_chunks: int = 0


@dataclass(frozen=True)
class _Chunk:
    spec_pos: int
    numbers: range


def shard_range(total: int, index: int, count: int) -> tuple[int, int]:
    """Contiguous block ``index`` of ``count`` over ``total`` items (sizes differ by at most 1)."""
    if count < 1 or not 0 <= index < count:
        raise InputError(f"--shard {index}/{count}: need 0 <= i < n, e.g. --shard 0/4")
    return total * index // count, total * (index + 1) // count


def _plan_chunks(counts: Sequence[int], start: int, stop: int, size: int) -> list[_Chunk]:
    """Split global positions [start, stop) into per-spec runs of at most ``size`` queries."""
    chunks: list[_Chunk] = []
    offset = 0
    for pos, n in enumerate(counts):
        lo, hi = max(start, offset), min(stop, offset + n)
        for a in range(lo, hi, size):
            chunks.append(_Chunk(pos, range(a - offset, min(hi, a + size) - offset)))
        offset += n
    return chunks


def query_record(
    query: Query, spec_name: str, prefix: str, shas: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The public ``benchmark.jsonl`` record of a query, keys in contract order."""
    images = []
    for img in sorted(query.images, key=lambda i: i.position):
        path = image_relpath(prefix, img.file_name)
        entry: dict[str, Any] = {
            "path": path,
            "source_id": img.source_id,
            "position": img.position,
            "role": img.role,
            "class_counts": dict(img.class_counts),
        }
        if shas is not None:
            entry["sha256"] = shas[path]
        images.append(entry)
    return {
        "id": query.id,
        "task": query.task,
        "question": query.question,
        "answer": query.answer,
        "answer_text": query.answer_text,
        "images": images,
        "controls": query.controls,
        "template": query.template,
        "spec": spec_name,
    }


def dump_record(record: Mapping[str, Any]) -> str:
    """One JSONL line: fixed key order (insertion order), UTF-8 text, newline-terminated."""
    return json.dumps(record, sort_keys=False, ensure_ascii=False) + "\n"


def _dump_manifest(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _spec_hash(spec: TaskSpecLike) -> str:
    from mimicgen.specs import spec_hash

    return str(spec_hash(spec))  # type: ignore[arg-type]


def _source_entry(index: AnnotationIndex) -> dict[str, Any]:
    """Manifest ``sources`` entry: the main annotation file first, every input file listed."""
    main = index.files[0] if index.files else None
    portable = _portable_paths(index)
    return {
        "kind": index.kind,
        "annotations": portable(main.path) if main else None,
        "sha256": main.sha256 if main else None,
        "image_root": portable(str(index.image_root)) if index.image_root is not None else None,
        "files": [{"path": portable(f.path), "sha256": f.sha256} for f in index.files],
    }


def _portable_paths(index: AnnotationIndex) -> Callable[[str], str]:
    """Path rewriting for the manifest: the built-in synthetic source lives in the render cache,
    whose location differs between machines and ``--cache-dir`` choices; its paths are written
    with :data:`CACHE_PLACEHOLDER` in place of the cache folder, so the same spec gives the same
    manifest everywhere (its content is pinned by the SHA-256 next to it)."""
    if index.kind != "synthetic" or not index.files:
        return str
    # <cache>/synthetic/n{N}-s{S}-v{V}/annotations.json
    root = str(Path(index.files[0].path).parent.parent.parent)

    def portable(path: str) -> str:
        inside = path == root or path.startswith(root.rstrip("/") + "/")
        return CACHE_PLACEHOLDER + path[len(root) :] if inside else path

    return portable


def _source_key(entry: Mapping[str, Any]) -> str:
    return canonical_json([entry["kind"], entry["files"], entry["image_root"]])


def _assign_prefixes(entries: list[dict[str, Any]]) -> None:
    """Image sub-folder per source: its kind, plus a hash suffix if two sources share a kind."""
    kinds = [e["kind"] for e in entries]
    for e in entries:
        suffix = (
            f"-{sha256_bytes(_source_key(e).encode())[:8]}" if kinds.count(e["kind"]) > 1 else ""
        )
        e["prefix"] = f"{e['kind']}{suffix}"


def _suite_seed(specs: Sequence[TaskSpecLike], override: int | None) -> int:
    return override if override is not None else int(specs[0].seed)


def _load_indexes(
    specs: Sequence[TaskSpecLike], loader: IndexLoader
) -> tuple[list[AnnotationIndex], list[int], list[dict[str, Any]], list[int]]:
    """Load each distinct (source, rules) once; dedupe manifest source entries by file hashes.

    Returns (indexes, spec -> index position, source entries, spec -> source entry position).
    """
    indexes: list[AnnotationIndex] = []
    by_key: dict[str, int] = {}
    spec_index: list[int] = []
    entries: list[dict[str, Any]] = []
    entry_pos: dict[str, int] = {}
    spec_entry: list[int] = []
    for spec in track(specs, "loading sources"):
        key = canonical_json(
            [spec.source.model_dump(mode="json"), spec.presence.model_dump(mode="json")]
        )
        if key not in by_key:
            by_key[key] = len(indexes)
            indexes.append(loader(spec.source, spec.presence))
        idx = by_key[key]
        spec_index.append(idx)
        entry = _source_entry(indexes[idx])
        skey = _source_key(entry)
        if skey not in entry_pos:
            entry_pos[skey] = len(entries)
            entries.append(entry)
        spec_entry.append(entry_pos[skey])
    _assign_prefixes(entries)
    return indexes, spec_index, entries, spec_entry


def _header(
    specs: Sequence[TaskSpecLike],
    hashes: list[str],
    entries: list[dict[str, Any]],
    seed_override: int | None,
) -> dict[str, Any]:
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"spec names must be unique in one build; repeated: {', '.join(dup)}")
    return {
        "schema_version": SCHEMA_VERSION,
        "generator_version": __version__,
        "seed": _suite_seed(specs, seed_override),
        "seeds": {s.name: int(s.seed) for s in specs},
        "spec": {s.name: s.model_dump(mode="json") for s in specs},
        "spec_hash": sha256_bytes(canonical_json(dict(zip(names, hashes))).encode()),
        "spec_hashes": dict(zip(names, hashes)),
        "sources": entries,
    }


def _manifest(
    header: Mapping[str, Any],
    records: list[dict[str, Any]],
    image_mode: str,
    shard: Mapping[str, int] | None,
) -> dict[str, Any]:
    stats = benchmark_stats(records)
    manifest = dict(header)
    manifest.update(
        stats=stats["by_task"],
        stats_by_spec=stats["by_spec"],
        stats_overall=stats["overall"],
    )
    if "twins" in stats:  # only in builds with ``variants:``: other manifests keep their bytes
        manifest["twins"] = stats["twins"]
    manifest.update(num_queries=len(records), images={"mode": image_mode})
    if shard is not None:
        manifest["shard"] = dict(shard)
    return manifest


def source_inputs(specs: Sequence[TaskSpecLike], indexes: Sequence[AnnotationIndex]) -> list[Any]:
    """Every path the sources read: the spec's source paths as written and, once loaded, each
    index's files and image root (defaults such as COCO's ``<root>/val2017`` included)."""
    paths: list[Any] = []
    for spec in specs:
        src = spec.source
        paths += [src.annotations, src.image_root, src.classes_csv, src.hierarchy, src.labels_csv]
    for index in indexes:
        paths += [f.path for f in index.files] + [index.image_root]
    return paths


def _check_out(out: Path, overwrite: bool, flag: str = "--out") -> None:
    # ``out`` comes from resolve_out, which refuses a file (or a path under one).
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError(
            f"{flag} {out} already exists and is not empty; pass --overwrite to replace it"
        )


class _ChunkWriter:
    """Samples one chunk, puts its images in the resume folder, writes the chunk file last."""

    def __init__(self, work: Path, mode: ImageMode) -> None:
        self.work = work
        self.mode = mode
        self.shas: dict[str, str] = {}

    def write(
        self,
        number: int,
        queries: list[Query],
        spec_name: str,
        index: AnnotationIndex,
        prefix: str,
        twins: list[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """``twins``: the queries' families (``mimicgen.twins``), written in their place."""
        sources: dict[str, Any] = {}
        if twins is not None:
            queries = [t.query for t in twins]
        if self.mode.kind != "none":
            for q in queries:
                for img in q.images:
                    rel = image_relpath(prefix, img.file_name)
                    if rel not in sources:
                        sources[rel] = str(Path(index.image_root or ".") / img.file_name)
            if twins is not None:
                from mimicgen.twins.records import twin_sources

                sources.update(twin_sources(twins, index.image_root))
            self._materialise(sources)
        shas = self.shas if self.mode.kind != "none" else None
        if twins is not None:
            from mimicgen.twins.records import twin_record

            records = [twin_record(t, spec_name, prefix, shas) for t in twins]
        else:
            records = [query_record(q, spec_name, prefix, shas) for q in queries]
        # The image list goes first: a chunk counts as done only once its .jsonl exists.
        atomic_write_text(self._path(number, ".images.json"), json.dumps(sources, indent=0))
        atomic_write_text(self._path(number, ".jsonl"), "".join(map(dump_record, records)))
        return records

    def restore(self, number: int) -> None:
        """For a chunk finished earlier: make sure its images are still in place."""
        side = self._path(number, ".images.json")
        if side.exists():
            self._materialise(json.loads(side.read_text(encoding="utf-8")))

    def done(self, number: int) -> bool:
        return self._path(number, ".jsonl").exists()

    def _materialise(self, sources: Mapping[str, Any]) -> None:
        for rel, src in sources.items():
            dest = self.work / rel
            if isinstance(src, dict):  # a generated twin image's recipe
                from mimicgen.twins.render import render_recipe

                render_recipe(src, dest, self.mode)
            else:
                materialise_image(Path(src), dest, self.mode)
            if rel not in self.shas:
                self.shas[rel] = sha256_file(dest)

    def _path(self, number: int, suffix: str) -> Path:
        return self.work / "chunks" / f"{number:06d}{suffix}"


def build_eval_set(
    specs: Sequence[TaskSpecLike],
    options: BuildOptions,
    *,
    index_loader: IndexLoader | None = None,
    sampler: Sampler | None = None,
    spec_hasher: Callable[[TaskSpecLike], str] = _spec_hash,
) -> BuildResult:
    """Sample every spec and write the eval set to ``options.out`` (see the module docstring).

    ``index_loader`` and ``sampler`` default to :func:`mimicgen.index.load_index` and
    :func:`mimicgen.tasks.sample`; tests pass small stand-ins.
    """
    if not specs:
        raise InputError("no task specs given; pass spec YAML files or run 'mimicgen ls'")
    # Absolute ("." or "x/.." name a real folder), and a symlink's target: the resume folder
    # then sits beside the folder that is written.
    out = resolve_out(options.out)
    check_out(options.out, [*options.inputs, *source_inputs(specs, [])])
    _check_out(out, options.overwrite)
    if index_loader is None:
        from mimicgen.index import load_index

        def index_loader(source: SourceSpec, rules: PresenceRules) -> AnnotationIndex:
            return load_index(source, rules)

    from mimicgen.gc_pause import gc_paused

    if sampler is None:
        from mimicgen.tasks import sample

        sampler = cast(Sampler, sample)

    indexes, spec_index, entries, spec_entry = _load_indexes(specs, index_loader)
    check_out(options.out, source_inputs(specs, indexes))  # default image roots are known now
    if options.image_mode.kind != "none":
        for idx in indexes:
            if idx.image_root is None:
                raise InputError(
                    f"the {idx.kind} source has no image root; set image_root or build with --no-images"
                )
    header = _header(specs, [spec_hasher(s) for s in specs], entries, options.seed_override)

    counts = [int(s.num_queries) for s in specs]
    total = sum(counts)
    shard_info = None
    start, stop = 0, total
    if options.shard is not None:
        i, n = options.shard
        start, stop = shard_range(total, i, n)
        shard_info = {"index": i, "count": n, "start": start, "stop": stop, "total": total}
    chunks = _plan_chunks(counts, start, stop, max(1, options.chunk_size))

    key = sha256_bytes(
        canonical_json(
            {
                "header": header,
                "images": str(options.image_mode),
                "shard": shard_info,
                "chunk_size": options.chunk_size,
            }
        ).encode()
    )[:16]
    work = out.parent / f".{out.name}.resume-{key}"
    (work / "chunks").mkdir(parents=True, exist_ok=True)
    writer = _ChunkWriter(work, options.image_mode)
    resumed = 0
    fresh: dict[int, list[dict[str, Any]]] = {}
    # Records pile up until the manifest is written (nested dicts, no reference cycles): with
    # the cyclic collector on, each generation-2 pass would rescan all of them.
    with gc_paused():
        try:
            for number, chunk in enumerate(track(chunks, "sampling", total=len(chunks))):
                if writer.done(number):
                    writer.restore(number)
                    resumed += 1
                    continue
                spec = specs[chunk.spec_pos]
                index = indexes[spec_index[chunk.spec_pos]]
                queries = sampler(spec, index, chunk.numbers)
                if len(queries) != len(chunk.numbers):
                    raise MimicgenError(
                        f"spec {spec.name}: sampler returned {len(queries)} queries for "
                        f"{len(chunk.numbers)} query numbers; this is a bug, please report it"
                    )
                fresh[number] = writer.write(
                    number,
                    queries,
                    spec.name,
                    index,
                    entries[spec_entry[chunk.spec_pos]]["prefix"],
                    _families(spec, index, queries, chunk.numbers),
                )
            result = _assemble(out, options, work, len(chunks), fresh, header, shard_info)
        except MimicgenError:
            shutil.rmtree(work, ignore_errors=True)  # a user error would recur: keep nothing
            raise
    shutil.rmtree(work, ignore_errors=True)
    return BuildResult(Path(options.out), result.num_queries, result.manifest, resumed)


def _families(
    spec: TaskSpecLike, index: AnnotationIndex, queries: list[Query], numbers: range
) -> list[Any] | None:
    """The queries' twin families when the spec asks for ``variants`` (else None). A family is
    made from its base query's number alone, so shards, chunks and resumes keep it whole."""
    if getattr(spec, "variants", None) is None:
        return None
    from mimicgen.tasks.prepared import prepare
    from mimicgen.twins.generate import expand_family

    return expand_family(spec, prepare(index, spec.presence), queries, numbers)  # type: ignore[arg-type]


def _assemble(
    out: Path,
    options: BuildOptions,
    work: Path,
    n_chunks: int,
    fresh: Mapping[int, list[dict[str, Any]]],
    header: Mapping[str, Any],
    shard_info: Mapping[str, int] | None,
) -> BuildResult:
    """Concatenate chunk files, write the manifest, and swap the folder into place.

    ``fresh`` holds the records of chunks written by this run; only resumed chunks are parsed.
    """
    records: list[dict[str, Any]] = []
    with atomic_output_dir(out, overwrite=options.overwrite) as final:
        with open(final / BENCHMARK_FILE, "wb") as dst:
            for number in range(n_chunks):
                chunk = work / "chunks" / f"{number:06d}.jsonl"
                dst.write(chunk.read_bytes())
                records.extend(fresh[number] if number in fresh else read_records(chunk))
        if (work / "images").exists():
            os.replace(work / "images", final / "images")
        manifest = _manifest(header, records, str(options.image_mode), shard_info)
        atomic_write_text(final / MANIFEST_FILE, _dump_manifest(manifest))
    return BuildResult(out, len(records), manifest)


def _copy_tree_links(src_root: Path, dst_root: Path) -> None:
    """Union ``src_root`` into ``dst_root``: keep symlinks as symlinks, hard-link or copy files."""
    for dirpath, _dirs, files in os.walk(src_root):
        for name in sorted(files):
            src = Path(dirpath) / name
            dst = dst_root / src.relative_to(src_root)
            if dst.exists() or dst.is_symlink():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
                continue
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)


def merge_shards(out: Path, shard_dirs: Sequence[Path], overwrite: bool = False) -> BuildResult:
    """Join shard outputs into the eval set an unsharded build writes, byte for byte."""
    # OUT is merge's positional argument: messages name it so.
    given, out = Path(out), check_out(out, shard_dirs, "OUT")
    _check_out(out, overwrite, "OUT")
    if not shard_dirs:
        raise InputError("give the shard folders to merge, e.g. mimicgen merge OUT shard0 shard1")
    loaded = []
    for d in shard_dirs:
        m = read_manifest(Path(d))
        if "shard" not in m:
            raise InputError(
                f"{d} is not a shard (its manifest has no 'shard'); build with --shard i/n"
            )
        loaded.append((int(m["shard"]["index"]), Path(d), m))
    loaded.sort(key=lambda t: t[0])
    first = loaded[0][2]
    n = int(first["shard"]["count"])
    indices = [i for i, _, _ in loaded]
    if indices != list(range(n)):
        raise InputError(f"need each of shards 0..{n - 1} exactly once; got {indices}")
    for _, d, m in loaded:
        if m["spec_hash"] != first["spec_hash"] or m["images"] != first["images"]:
            raise InputError(f"{d} comes from a different build (spec hash or image mode differs)")
    check_out(given, [p for _, d, m in loaded for p in benchmark_inputs(d, m)], "OUT")
    header = {k: first[k] for k in HEADER_KEYS}
    records: list[dict[str, Any]] = []
    with atomic_output_dir(out, overwrite=overwrite, flag="OUT") as final:
        with open(final / BENCHMARK_FILE, "wb") as dst:
            for _, d, _ in loaded:
                dst.write((d / BENCHMARK_FILE).read_bytes())
                records.extend(read_records(d / BENCHMARK_FILE))
        for _, d, _ in loaded:
            if (d / "images").is_dir():
                _copy_tree_links(d / "images", final / "images")
        # Shards split base queries; twins (``variants:``) come with their base.
        n_base = sum(1 for r in records if r.get("variant", "base") == "base")
        if n_base != int(first["shard"]["total"]):
            raise InputError(
                f"shards hold {n_base} queries but the build has {first['shard']['total']}"
            )
        manifest = _manifest(header, records, first["images"]["mode"], None)
        atomic_write_text(final / MANIFEST_FILE, _dump_manifest(manifest))
    return BuildResult(given, len(records), manifest)
