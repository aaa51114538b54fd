"""Twin families (``variants:``) checked against the raw annotation JSON, parsed here with
plain ``json``: each twin's answer, permuted images, added distractors, spread totals."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from mimicgen.build.eval_set import BuildOptions, build_eval_set, merge_shards
from mimicgen.build.images import ImageMode
from mimicgen.sources.spec import SourceSpec
from mimicgen.tasks.counting import CountingSpec
from mimicgen.tasks.listing import ListingSpec
from tests.tasks.rawcheck import check_query, raw_from_coco_json
from tests.twins.conftest import read_jsonl, twin_specs

THR = 0.05


@pytest.fixture(scope="module")
def records(twin_build: Path) -> list[dict[str, Any]]:
    return read_jsonl(twin_build / "benchmark.jsonl")


@pytest.fixture(scope="module")
def raw(synth_ann: Path):
    return raw_from_coco_json(json.loads(synth_ann.read_text()))


def families(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        out[r["family"]].append(r)
    return out


def targets(rec: dict[str, Any], members: dict[str, list[str]]) -> set[str]:
    """Classes no distractor may hold: counting targets, or every member of the node."""
    if rec["task"] == "counting":
        return set(rec["answer"]["counts"])
    return set(members[rec["controls"]["category"]])


def ids(rec: dict[str, Any]) -> list[Any]:
    return [i["source_id"] for i in sorted(rec["images"], key=lambda i: i["position"])]


def test_every_record_is_in_one_whole_family_led_by_its_base(records) -> None:
    fams = families(records)
    assert len(fams) == 4 * 12
    seen: list[str] = []
    for r in records:  # families are contiguous, base first
        if not seen or seen[-1] != r["family"]:
            assert r["family"] not in seen and r["variant"] == "base" and r["id"] == r["family"]
            seen.append(r["family"])
    for fam, members in fams.items():
        assert [m["variant"] for m in members].count("base") == 1
        assert all(m["id"] == f"{fam}~{m['variant']}" for m in members[1:])
        assert all(m["twin"]["control"] == m["variant"].split("-")[0] for m in members)


def test_base_queries_are_the_plain_specs_queries(synth_source, records, tmp_path) -> None:
    """Twins are drawn after the base and from their own streams: without ``variants`` the
    same specs give exactly the base records (minus the added keys)."""
    plain = [s.model_copy(update={"variants": None}) for s in twin_specs(synth_source)]
    build_eval_set(plain, BuildOptions(out=tmp_path / "plain", image_mode=ImageMode(kind="none")))
    want = read_jsonl(tmp_path / "plain" / "benchmark.jsonl")
    bases = []
    for r in records:
        if r["variant"] == "base":
            r = {k: v for k, v in r.items() if k not in ("family", "variant", "twin")}
            r["images"] = [{k: v for k, v in i.items() if k != "sha256"} for i in r["images"]]
            bases.append(r)
    assert bases == want


def test_sampled_twins_answers_match_the_raw_json(records, raw) -> None:
    boxes, members = raw
    checked = 0
    for r in records:
        if r["twin"]["control"] in ("base", "permute", "distractors", "spread"):
            assert check_query(r, boxes, THR, members) == [], r["id"]
            checked += 1
    assert checked > 250


def test_permuted_twins_hold_the_same_images_in_another_order(records) -> None:
    n_twins = 0
    for fam in families(records).values():
        base = fam[0]
        seen_orders = {tuple(ids(base))}
        starts = set()
        for r in fam:
            if r["twin"]["control"] != "permute":
                continue
            n_twins += 1
            assert sorted(map(str, ids(r))) == sorted(map(str, ids(base)))
            assert tuple(ids(r)) not in seen_orders  # another order, and no order twice
            seen_orders.add(tuple(ids(r)))
            by_id = {i["source_id"]: i for i in base["images"]}
            for img in r["images"]:  # every image keeps its role and counts
                old = by_id[img["source_id"]]
                assert (img["role"], img["class_counts"]) == (old["role"], old["class_counts"])
            assert r["answer"] == base["answer"] and r["question"] == base["question"]
            if "evidence_start" in r["twin"]:
                ev = sorted(i["position"] for i in r["images"] if i["role"] == "query")
                assert (
                    ev
                    == list(range(ev[0], ev[0] + len(ev)))
                    == list(
                        range(r["twin"]["evidence_start"], r["twin"]["evidence_start"] + len(ev))
                    )
                )
                starts.add(ev[0])
        if base["spec"] == "tc":  # block slides through every start (the base's own included)
            n, s = len(base["images"]), base["controls"]["spread"]
            ev = sorted(i["position"] for i in base["images"] if i["role"] == "query")
            if ev == list(range(ev[0], ev[0] + s)):
                starts.add(ev[0])
            assert starts == set(range(n - s + 1))
        if base["spec"] == "tm":  # common: every rotation
            assert len(seen_orders) == len(base["images"])
        if base["spec"] == "tu":
            assert len(seen_orders) == 4  # base + 3 seeded permutations
    assert n_twins > 100


def test_added_distractors_hold_no_target_class(records, raw) -> None:
    boxes, members = raw
    n_added = 0
    for fam in families(records).values():
        base = fam[0]
        prev: list[Any] = ids(base)
        for r in fam:
            if r["twin"]["control"] != "distractors":
                continue
            d = r["twin"]["added"]
            got = ids(r)
            assert len(got) == len(ids(base)) + d and r["controls"]["n_images"] == len(got)
            assert got[: len(prev)] == prev  # the base in place, then nested added lists
            prev = got
            for sid in got[len(ids(base)) :]:
                held = set(boxes[sid]) & targets(base, members)
                assert not held, (r["id"], sid, held)
                n_added += 1
            assert r["answer"] == base["answer"]
    assert n_added >= 12 * (2 + 4) + 12 * 3 + 12 * 2


def test_spread_twins_have_the_same_total(records, raw) -> None:
    boxes, _ = raw
    n = 0
    for fam in families(records).values():
        base = fam[0]
        for r in fam:
            if r["twin"]["control"] != "spread":
                continue
            n += 1
            ((cls, total),) = base["answer"]["counts"].items()
            per_image = [len(boxes[sid].get(cls, [])) for sid in ids(r)]
            assert sum(per_image) == total == r["answer"]["counts"][cls]
            assert sum(v > 0 for v in per_image) == r["twin"]["spread"] == r["controls"]["spread"]
            assert len(per_image) == len(base["images"])
        asked = {"tc": (1, 2, 3), "tu": (1, 2)}.get(base["spec"], ())
        skipped = base["twin"].get("skipped", {})
        made = {r["variant"] for r in fam if r["twin"]["control"] == "spread"}
        want = {f"spread-{s}" for s in asked if s != base["controls"]["spread"]}
        assert made | set(skipped) == want and not made & set(skipped)
        total = sum(base["answer"]["counts"].values()) if asked else 0
        for s in asked:  # only a spread above the total (or n_images) cannot be made
            if s > min(total, len(base["images"])) and s != base["controls"]["spread"]:
                assert f"spread-{s}" in skipped
    assert n > 15


def test_content_free_twins(records, twin_build: Path) -> None:
    from PIL import Image

    n = 0
    for fam in families(records).values():
        base = fam[0]
        for r in fam:
            control = r["twin"]["control"]
            if control not in ("blank", "noise"):
                continue
            n += 1
            scope = r["twin"]["scope"]
            for old, new in zip(base["images"], r["images"], strict=True):
                replaced = scope == "all" or old["role"] == "distractor"
                assert new["source_id"] == old["source_id"] and new["role"] == old["role"]
                if not replaced:
                    assert new == old
                    continue
                assert new["content"] == control and new["path"] != old["path"]
                with (
                    Image.open(twin_build / new["path"]) as im,
                    Image.open(twin_build / old["path"]) as src,
                ):
                    assert im.size == src.size
                    colours = im.convert("RGB").getcolors(1 << 16)
                    if control == "blank":
                        assert colours == [(im.size[0] * im.size[1], (128, 128, 128))]
                    else:
                        assert colours is None or len(colours) > 100
            if scope == "all" and base["task"] == "counting":
                assert r["answer"] == {"counts": {c: 0 for c in base["answer"]["counts"]}}
                assert r["twin"]["answer"] == "content_free" and r["answer_text"] == "0"
            elif scope == "all":
                assert r["answer"] == base["answer"] and r["twin"]["answer"] == "guess"
            else:
                assert r["answer"] == base["answer"] and r["twin"]["answer"] == "unchanged"
    assert n == 12 * 3 + 12 + 12


def test_stitched_twin_is_one_grid_image_of_the_base_images(records, twin_build: Path) -> None:
    from PIL import Image

    n = 0
    for fam in families(records).values():
        base = fam[0]
        for r in fam:
            if r["twin"]["control"] != "stitch":
                continue
            n += 1
            (img,) = r["images"]
            assert [c["source_id"] for c in img["cells"]] == ids(base)
            rows, cols = r["twin"]["grid"]
            assert rows * cols >= len(base["images"]) > (rows - 1) * cols
            with Image.open(twin_build / img["path"]) as im:
                assert im.size[0] >= cols * 64 - 64 and im.size[1] >= rows * 64 - 64
            assert r["answer"] == base["answer"]
    assert n == 24


def test_shards_keep_families_whole_and_merge_byte_identical(
    synth_source, twin_build: Path, tmp_path
) -> None:
    shards = []
    for i in range(3):
        out = tmp_path / f"s{i}"
        build_eval_set(twin_specs(synth_source), BuildOptions(out=out, shard=(i, 3)))
        shards.append(out)
        recs = read_jsonl(out / "benchmark.jsonl")
        bases = {r["id"] for r in recs if r["variant"] == "base"}
        assert len(bases) == 16 and {r["family"] for r in recs} == bases
    merged = merge_shards(tmp_path / "merged", shards)
    assert merged.num_queries == len(read_jsonl(twin_build / "benchmark.jsonl"))
    for name in ("benchmark.jsonl", "manifest.json"):
        assert (tmp_path / "merged" / name).read_bytes() == (twin_build / name).read_bytes()


def test_rebuild_is_byte_identical_including_generated_images(
    synth_source, twin_build: Path, tmp_path
) -> None:
    build_eval_set(twin_specs(synth_source), BuildOptions(out=tmp_path / "again", chunk_size=5))
    for path in sorted((twin_build / "images" / "twins").rglob("*.png"))[:200]:
        rel = path.relative_to(twin_build)
        assert (tmp_path / "again" / rel).read_bytes() == path.read_bytes()
    for name in ("benchmark.jsonl", "manifest.json"):
        assert (tmp_path / "again" / name).read_bytes() == (twin_build / name).read_bytes()


def test_coco_tiny_twins_match_the_raw_json(coco_tiny: Path, tmp_path) -> None:
    ann = coco_tiny / "annotations" / "instances_val2017.json"
    source = SourceSpec(kind="coco", annotations=ann, image_root=coco_tiny / "val2017")
    specs = [
        CountingSpec(
            name="cc",
            num_queries=30,
            n_images=5,
            totals=(2, 3),
            spread=(1, 2),
            source=source,
            variants={"permute": True, "distractors": [2, 4], "spread": [1, 2, 3]},
        ),
        ListingSpec(
            name="cl",
            num_queries=30,
            n_images=(2, 4),
            source=source,
            variants={"permute": {"n": 2}, "distractors": [3]},
        ),
    ]
    build_eval_set(specs, BuildOptions(out=tmp_path / "b", image_mode=ImageMode(kind="none")))
    recs = read_jsonl(tmp_path / "b" / "benchmark.jsonl")
    boxes, members = raw_from_coco_json(json.loads(ann.read_text()))
    fams = families(recs)
    assert len(fams) == 60
    kinds: dict[str, int] = defaultdict(int)
    for fam in fams.values():
        base = fam[0]
        for r in fam:
            assert check_query(r, boxes, THR, members) == [], r["id"]
            kinds[r["twin"]["control"]] += 1
            if r["twin"]["control"] == "distractors":
                for sid in ids(r)[len(base["images"]) :]:
                    assert not set(boxes[sid]) & targets(base, members)
            if r["twin"]["control"] == "spread":
                ((cls, total),) = base["answer"]["counts"].items()
                assert sum(len(boxes[s].get(cls, [])) for s in ids(r)) == total
            if r["twin"]["control"] == "permute":
                assert sorted(ids(r)) == sorted(ids(base)) and ids(r) != ids(base)
    assert kinds["distractors"] == 90 and kinds["spread"] > 10 and kinds["permute"] > 60


def test_coco_stitched_twin_is_a_jpeg_grid_of_the_photos(coco_tiny: Path, tmp_path) -> None:
    from PIL import Image

    ann = coco_tiny / "annotations" / "instances_val2017.json"
    source = SourceSpec(kind="coco", annotations=ann, image_root=coco_tiny / "val2017")
    spec = CountingSpec(
        name="cs", num_queries=2, n_images=3, totals=(2,), source=source,
        variants={"stitch": True, "blank": "all"},
    )  # fmt: skip
    build_eval_set([spec], BuildOptions(out=tmp_path / "b"))
    recs = read_jsonl(tmp_path / "b" / "benchmark.jsonl")
    for base in (r for r in recs if r["variant"] == "base"):
        (img,) = next(r for r in recs if r["id"] == f"{base['id']}~stitch")["images"]
        assert img["path"].endswith("/stitch.jpg")
        sizes = []
        for cell in base["images"]:
            with Image.open(tmp_path / "b" / cell["path"]) as im:
                sizes.append(im.size)
        with Image.open(tmp_path / "b" / img["path"]) as grid:
            assert grid.format == "JPEG"
            # 3 images: a 2x2 grid of cells the size of the largest photo
            assert grid.size == (2 * max(w for w, _ in sizes), 2 * max(h for _, h in sizes))
        blank = next(r for r in recs if r["id"] == f"{base['id']}~blank-all")
        assert all(i["path"].endswith(".png") for i in blank["images"])


def test_too_few_distractor_images_stop_with_the_family_named(synth_source, tmp_path) -> None:
    from mimicgen.errors import SamplingError

    spec = CountingSpec(
        name="big", num_queries=2, n_images=4, source=synth_source,
        variants={"distractors": [500]},
    )  # fmt: skip
    with pytest.raises(
        SamplingError, match=r"twins of big-000000: cannot add 500 distractors: only \d+ "
    ):
        build_eval_set([spec], BuildOptions(out=tmp_path / "b", image_mode=ImageMode(kind="none")))
    assert not (tmp_path / "b").exists()
    assert not list(tmp_path.glob(".b.resume-*"))  # nothing half-written left behind


def test_one_control_never_changes_another_controls_twins(synth_source, tmp_path) -> None:
    def build(name: str, variants: dict[str, Any]) -> dict[str, dict[str, Any]]:
        spec = CountingSpec(
            name="x", num_queries=6, n_images=5, spread=(1, 3), source=synth_source,
            variants=variants,
        )  # fmt: skip
        build_eval_set([spec], BuildOptions(out=tmp_path / name, image_mode=ImageMode(kind="none")))
        return {r["id"]: r for r in read_jsonl(tmp_path / name / "benchmark.jsonl")}

    alone = build("alone", {"distractors": [3], "spread": [1, 2]})
    mixed = build(
        "mixed", {"permute": {"n": 2}, "distractors": [3], "spread": [1, 2], "noise": "all"}
    )
    assert alone and all(mixed[rid] == rec for rid, rec in alone.items())
    assert len(mixed) > len(alone)
