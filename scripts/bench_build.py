"""Benchmark ``mimicgen build`` on the paper's Table 1 suite at COCO-train scale (SPEC §8).

1. Writes (once, reused afterwards) a COCO-train-scale ``instances`` file in the real format
   with the generator of ``scripts/bench_index.py`` (118K images, 860K boxes by default).
2. Builds the annotation index into a fresh cache, then times a *cached* index load.
3. Times the whole eval-set build of ``task_specs/coco_eval`` (13,800 queries) from that cached
   index with ``--no-images``: sampling, JSONL records, stats and manifest, atomic output.
4. Prints the manifest statistics beside the paper's Table 1 values.
5. With ``--twins``: builds the same suite with twin families (``variants:`` order twins on every
   spec, ``{n: 4}`` seeded permutations for the 2-35-image unbalanced counting, and 2 and 4
   added distractors on counting and listing) and prints its time per emitted query beside the
   plain suite's.

Target: step 3 under 10 s on a 2-core machine; twins no slower per emitted query.

    .venv/bin/python scripts/bench_build.py --workdir /tmp/mimicgen-bench [--twins]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MIMICGEN_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index import make_coco

from mimicgen.build.eval_set import BuildOptions, build_eval_set
from mimicgen.build.images import ImageMode
from mimicgen.index import load_index
from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import AnnotationIndex
from mimicgen.sources.spec import SourceSpec
from mimicgen.specs import load_suite, shipped_specs_dir, with_overrides
from mimicgen.tasks import sample

#: The paper's Table 1 (COCO eval): queries and images per query, per spec of task_specs/coco_eval.
PAPER = {
    "counting_balanced": {"queries": 5000, "images": "7"},
    "counting_unbalanced": {"queries": 5800, "images": "2-35 (median 15)"},
    "common": {"queries": 1000, "images": "3-8"},
    "odd_one": {"queries": 1000, "images": "4-6"},
    "listing": {"queries": 1000, "images": "2-8"},
    "overall": {"queries": 13800, "images": "median 7", "words": "~15"},
}


def _row(name: str, s: dict, paper: dict) -> str:
    ipq = s["images_per_query"]
    ours = f"{ipq['min']}-{ipq['max']} (median {ipq['median']})"
    return (
        f"{name:<21}{s['queries']:>8}{paper.get('queries', ''):>8}   {ours:<20}"
        f"{paper.get('images', ''):<18}{s['distinct_images']:>9}{s['objects_per_query']:>9}"
        f"{s['words_per_question']['mean']:>8}  {paper.get('words', '')}"
    )


def with_twins(spec: Any) -> Any:
    """``spec`` with the twin controls of step 5."""
    variants: dict[str, Any] = {"permute": {"n": 4} if spec.name == "counting_unbalanced" else True}
    if spec.task in ("counting", "listing"):
        variants["distractors"] = [0, 2, 4]
    return with_overrides(spec, {"variants": variants})


def timed_index(
    source: SourceSpec, presence: PresenceRules, cache: Path
) -> tuple[AnnotationIndex, float, float]:
    """The index of ``source``, the seconds of a first load into ``cache`` (a build when the
    cache is empty) and the seconds of a second, cached load."""
    t0 = time.perf_counter()
    load_index(source, presence, cache_dir=cache)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = load_index(source, presence, cache_dir=cache)
    return index, t_first, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mimicgen-bench")
    ap.add_argument("--images", type=int, default=118_000)
    ap.add_argument("--boxes", type=int, default=860_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--twins", action="store_true", help="also build the suite with twins")
    args = ap.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    ann = args.workdir / f"instances_train_{args.images}_{args.boxes}_{args.seed}.json"
    if not ann.exists():
        t0 = time.perf_counter()
        make_coco(ann, args.images, args.boxes, seed=args.seed)
        print(
            f"generated {ann} ({ann.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s"
        )
    source = SourceSpec(kind="coco", annotations=ann)
    specs = [
        with_overrides(s, {"source": source.model_dump(mode="json", exclude_none=True)})
        for s in load_suite([shipped_specs_dir() / "coco_eval"])
    ]
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        index, t_cold, t_cached = timed_index(source, specs[0].presence, Path(tmp) / "cache")
        print(
            f"index: built in {t_cold:.2f} s, cached load {t_cached:.2f} s "
            f"({index.images.height} images, {index.table.height} (image, class) rows)"
        )

        in_sampler = [0.0]

        def timed_sample(spec, idx, numbers):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            queries = sample(spec, idx, numbers)
            in_sampler[0] += time.perf_counter() - t
            return queries

        t0, c0 = time.perf_counter(), time.process_time()
        result = build_eval_set(
            specs,
            BuildOptions(out=Path(tmp) / "out", image_mode=ImageMode(kind="none")),
            index_loader=lambda spec, rules: index,
            sampler=timed_sample,
        )
        t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
        size = (Path(tmp) / "out" / "benchmark.jsonl").stat().st_size / 1e6
        if args.twins:
            t0, c0 = time.perf_counter(), time.process_time()
            twins = build_eval_set(
                [with_twins(s) for s in specs],
                BuildOptions(out=Path(tmp) / "twins", image_mode=ImageMode(kind="none")),
                index_loader=lambda spec, rules: index,
            )
            t_twins, c_twins = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"build of the Table 1 suite from the cached index (--no-images): {t_build:.2f} s for "
        f"{result.num_queries} queries ({size:.1f} MB benchmark.jsonl), CPU {c_build:.2f} s; "
        "target < 10 s\n"
        f"  of which in mimicgen.tasks.sample: {in_sampler[0]:.2f} s; records, files, stats and "
        f"manifest: {t_build - in_sampler[0]:.2f} s"
    )
    if args.twins:
        per = 1e6 * t_build / result.num_queries
        per_twin = 1e6 * t_twins / twins.num_queries
        print(
            f"build with twins: {t_twins:.2f} s (CPU {c_twins:.2f} s) for {twins.num_queries} records "
            f"({twins.num_queries / result.num_queries:.1f}x the plain suite's); "
            f"{per_twin:.0f} us per emitted query vs {per:.0f} us plain"
        )
    m = result.manifest
    print()
    print(
        f"{'spec':<21}{'queries':>8}{'paper':>8}   {'images/query (ours)':<20}{'paper':<18}"
        f"{'distinct':>9}{'objs/q':>9}{'words/q':>8}  paper"
    )
    for name, s in m["stats_by_spec"].items():
        print(_row(name, s, PAPER.get(name, {})))
    print(_row("overall", m["stats_overall"], PAPER["overall"]))


if __name__ == "__main__":
    main()
