"""Parquet cache: hit without re-parsing, invalidation on content and rule changes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import mimicgen.index.cache as cache_mod
import mimicgen.sources.coco as coco_mod
from mimicgen.index import PresenceRules, load_index
from mimicgen.index.cache import cache_entry, load_or_build
from mimicgen.sources import SourceSpec


def _no_parse(*args: object, **kwargs: object) -> None:
    raise AssertionError("the annotation file was parsed although the cache should hit")


@pytest.fixture
def coco_copy(coco_tiny: Path, tmp_path: Path) -> Path:
    path = tmp_path / "data" / "instances_val2017.json"
    path.parent.mkdir()
    shutil.copy(coco_tiny / "annotations" / "instances_val2017.json", path)
    return path


def test_second_load_hits_the_cache(
    coco_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = SourceSpec(kind="coco", annotations=coco_copy)
    first, entry, built = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert built and entry is not None and (entry / "table.parquet").is_file()
    monkeypatch.setattr(coco_mod, "read_coco", _no_parse)
    monkeypatch.setattr(cache_mod, "build_index", _no_parse)
    second, entry2, built2 = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert (entry2, built2) == (entry, False)
    assert second.table.equals(first.table)
    assert second.images.equals(first.images)
    assert second.classes.equals(first.classes)
    assert second.hierarchy == first.hierarchy
    assert second.files == first.files


def test_content_change_rebuilds(coco_copy: Path, tmp_path: Path) -> None:
    spec = SourceSpec(kind="coco", annotations=coco_copy)
    before = load_index(spec, cache_dir=tmp_path / "cache")
    before_sha = before.files[0].sha256  # computed on first access: while the file is unchanged
    raw = json.loads(coco_copy.read_text())
    dropped = raw["annotations"].pop(0)
    coco_copy.write_text(json.dumps(raw))
    after, _entry, built = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert built
    assert int(after.table["n_instances"].sum()) == int(before.table["n_instances"].sum()) - 1
    assert after.files[0].sha256 != before_sha

    def count(index: object) -> int:  # instances of the dropped box's (image, category) pair
        img = index.images.filter(index.images["source_id"] == dropped["image_id"])["image_idx"]
        cls = index.classes.filter(index.classes["source_class_id"] == dropped["category_id"])
        rows = index.table.filter(
            (index.table["image_idx"] == img[0]) & (index.table["class_idx"] == cls["class_idx"][0])
        )
        return int(rows["n_instances"].sum())

    assert count(after) == count(before) - 1
    assert len(list((tmp_path / "cache" / "index").iterdir())) == 2


def test_rules_are_part_of_the_key(coco_copy: Path, tmp_path: Path) -> None:
    spec = SourceSpec(kind="coco", annotations=coco_copy)
    a = cache_entry(spec, PresenceRules(), cache_dir=tmp_path)
    b = cache_entry(spec, PresenceRules(min_box_area_frac=0.1), cache_dir=tmp_path)
    assert a != b


def test_rename_keeps_the_cache(coco_copy: Path, tmp_path: Path) -> None:
    spec = SourceSpec(kind="coco", annotations=coco_copy)
    _, entry, _ = load_or_build(spec, cache_dir=tmp_path / "cache")
    moved = coco_copy.with_name("renamed.json")
    coco_copy.rename(moved)
    _, entry2, built = load_or_build(
        SourceSpec(kind="coco", annotations=moved), cache_dir=tmp_path / "cache"
    )
    assert (entry2, built) == (entry, False)


def test_refresh_and_damaged_entry_rebuild(coco_copy: Path, tmp_path: Path) -> None:
    spec = SourceSpec(kind="coco", annotations=coco_copy)
    index, entry, _ = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert entry is not None
    assert load_or_build(spec, cache_dir=tmp_path / "cache", refresh=True)[2] is True
    (entry / "table.parquet").write_bytes(b"not parquet")
    again, entry2, built = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert built and entry2 == entry
    assert again.table.equals(index.table)
    assert load_or_build(spec, cache_dir=tmp_path / "cache")[2] is False


def test_cache_dir_from_environment(
    coco_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIMICGEN_CACHE_DIR", str(tmp_path / "env-cache"))
    _, entry, _ = load_or_build(SourceSpec(kind="coco", annotations=coco_copy))
    assert entry is not None and entry.parent.parent == tmp_path / "env-cache"


def test_openimages_labels_survive_the_cache(openimages_meta: Path, tmp_path: Path) -> None:
    import csv

    from tests.index.oi_data import CLASSES, real_labels, write_boxes_csv

    labels = real_labels(openimages_meta)[:5]
    boxes = write_boxes_csv(tmp_path / "boxes.csv", labels, n_rows=50, n_images=10, seed=1)
    with boxes.open(newline="") as f:
        first_image = next(csv.DictReader(f))["ImageID"]
    label_csv = tmp_path / "labels.csv"
    label_csv.write_text(
        "ImageID,Source,LabelName,Confidence\n"
        f"{first_image},verification,{labels[0]},0\n{first_image},verification,{labels[1]},1\n"
    )
    spec = SourceSpec(
        kind="openimages",
        annotations=boxes,
        classes_csv=openimages_meta / CLASSES,
        labels_csv=label_csv,
    )
    built, _, was_built = load_or_build(spec, cache_dir=tmp_path / "cache")
    loaded, _, was_built2 = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert (was_built, was_built2) == (True, False)
    assert built.labels is not None and loaded.labels is not None
    assert loaded.labels.equals(built.labels)
    assert sorted(loaded.labels["confidence"].to_list()) == [0.0, 1.0]
    assert loaded.kind == "openimages" and loaded.images.equals(built.images)


def test_cold_build_reads_the_annotation_file_once(
    coco_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    import xxhash

    import mimicgen.sources.coco as coco_mod
    import mimicgen.sources.digest as digest_mod

    reads: list[Path] = []
    real_read_bytes = Path.read_bytes
    real_read_buffer = digest_mod.read_buffer
    real_hash_file = digest_mod._hash_file

    def counting_read_bytes(self: Path) -> bytes:
        if self.name == coco_copy.name:
            reads.append(self)
        return real_read_bytes(self)

    def counting_read_buffer(path: Path) -> bytearray:
        if path.name == coco_copy.name:
            reads.append(path)
        return real_read_buffer(path)

    monkeypatch.setattr(Path, "read_bytes", counting_read_bytes)
    for module in (digest_mod, coco_mod):  # each holds its own name for the reader
        monkeypatch.setattr(module, "read_buffer", counting_read_buffer)
    monkeypatch.setattr(digest_mod, "_hash_file", _no_parse)  # no second read of the file
    spec = SourceSpec(kind="coco", annotations=coco_copy)
    index, _, built = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert built and len(reads) == 1
    assert not digest_mod._KEPT  # the buffer is not held after the build
    memo = json.loads((tmp_path / "cache" / "digests.json").read_text())
    content = coco_copy.read_bytes()
    # Content key: XXH3-128 over the XXH3-128 digests of 64 MiB blocks (one block here).
    key = xxhash.xxh3_128(xxhash.xxh3_128(content).digest()).hexdigest()
    assert list(memo.values()) == [{"xxh3_128_blocks": key}]
    # The provenance SHA-256 was not needed by the build; it is computed on first access.
    monkeypatch.setattr(digest_mod, "_hash_file", real_hash_file)
    assert index.files[0].sha256 == hashlib.sha256(content).hexdigest()
    memo = json.loads((tmp_path / "cache" / "digests.json").read_text())
    assert next(iter(memo.values()))["sha256"] == hashlib.sha256(content).hexdigest()
    monkeypatch.setattr(digest_mod, "_hash_file", _no_parse)
    load_or_build(spec, cache_dir=tmp_path / "cache2")  # digest memoised: cache miss, no re-hash
    assert not digest_mod._KEPT


def test_lazy_sha256_refuses_a_changed_file(coco_copy: Path, tmp_path: Path) -> None:
    from mimicgen.errors import InputError

    spec = SourceSpec(kind="coco", annotations=coco_copy)
    index = load_index(spec, cache_dir=tmp_path / "cache")
    coco_copy.write_text(coco_copy.read_text() + " ")  # other content than the one indexed
    with pytest.raises(InputError, match="changed or disappeared"):
        _ = index.files[0].sha256


def test_cached_load_reports_the_sha256_of_the_content(coco_copy: Path, tmp_path: Path) -> None:
    import hashlib

    spec = SourceSpec(kind="coco", annotations=coco_copy)
    load_index(spec, cache_dir=tmp_path / "cache")
    hit, _, built = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert not built
    assert [f.sha256 for f in hit.files] == [hashlib.sha256(coco_copy.read_bytes()).hexdigest()]


def test_cold_and_warm_builds_list_the_same_input_files(coco_copy: Path, tmp_path: Path) -> None:
    """A user hierarchy YAML is an input: both builds record it, with the same content hash."""
    yaml_path = tmp_path / "groups.yaml"
    yaml_path.write_text("pets: [cat, dog]\n")
    spec = SourceSpec(kind="coco", annotations=coco_copy, hierarchy=yaml_path)
    cold, _entry, built = load_or_build(spec, cache_dir=tmp_path / "cache")
    warm, _entry, built_again = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert (built, built_again) == (True, False)
    assert [Path(f.path) for f in cold.files] == [coco_copy, yaml_path]
    assert [(f.path, f.sha256) for f in cold.files] == [(f.path, f.sha256) for f in warm.files]
    assert cold.files[1].sha256 == hashlib.sha256(yaml_path.read_bytes()).hexdigest()
    assert cold.hierarchy.leaves("pets") == ["cat", "dog"]


def test_openimages_index_takes_the_user_hierarchy(openimages_meta: Path, tmp_path: Path) -> None:
    """The streamed OpenImages build replaces the JSON tree by a user YAML, cold and warm."""
    import csv

    import yaml

    from tests.index.oi_data import CLASSES, real_labels, write_boxes_csv

    boxes = write_boxes_csv(tmp_path / "boxes.csv", real_labels(openimages_meta)[:5], 20, 4, 2)
    with (openimages_meta / CLASSES).open(newline="") as f:
        names = [r["DisplayName"] for r in csv.DictReader(f)]
    yaml_path = tmp_path / "groups.yaml"
    yaml_path.write_text(f"first: [{names[0]}, {names[1]}]\nall: [first, {names[2]}]\n")
    want = {k: tuple(v) for k, v in yaml.safe_load(yaml_path.read_text()).items()}
    spec = SourceSpec(
        kind="openimages",
        annotations=boxes,
        classes_csv=openimages_meta / CLASSES,
        hierarchy=yaml_path,
    )
    cold, _, built = load_or_build(spec, cache_dir=tmp_path / "cache")
    warm, _, built_again = load_or_build(spec, cache_dir=tmp_path / "cache")
    assert (built, built_again) == (True, False)
    assert cold.hierarchy.children == want
    assert warm.hierarchy.children == want
    assert [Path(f.path) for f in cold.files] == [boxes, openimages_meta / CLASSES, yaml_path]
