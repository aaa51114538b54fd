"""The ``variants:`` spec field: shorthands, refusals with one-line reasons, unchanged hashes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from mimicgen.specs import spec_hash
from mimicgen.specs.variants import VariantsSpec
from mimicgen.tasks.common_task import CommonSpec
from mimicgen.tasks.counting import CountingSpec
from mimicgen.tasks.listing import ListingSpec
from mimicgen.tasks.odd_one import OddOneSpec


def test_shorthands_and_family_order() -> None:
    v = VariantsSpec.model_validate(
        {
            "stitch": True,
            "noise": "all",
            "blank": ["all", "distractors"],
            "permute": True,
            "distractors": [0, 2],
        }
    )
    assert v.permute is not None and v.permute.n is None
    assert v.blank == ("all", "distractors") and v.noise == ("all",)
    assert v.controls() == ["permute", "distractors", "blank", "noise", "stitch"]
    assert VariantsSpec(permute={"n": 3}).permute.n == 3  # type: ignore[union-attr,arg-type]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (lambda: CommonSpec(variants={"distractors": [2]}), "distractors needs a task with"),
        (lambda: OddOneSpec(variants={"blank": "distractors"}), "use 'all'"),
        (lambda: ListingSpec(variants={"spread": [1, 2]}), "spread applies to counting only"),
        (lambda: CountingSpec(k=2, n_images=5, variants={"spread": [1]}), "needs k: 1"),
        (lambda: CountingSpec(split="train", variants={"permute": True}), "split: eval"),
        (lambda: CountingSpec(variants={}), "variants sets no control"),
        (lambda: CountingSpec(variants={"distractors": [0]}), "variants sets no control"),
        (lambda: CountingSpec(variants={"distractors": [2, 2]}), "lists a number twice"),
        (lambda: CountingSpec(variants={"spread": [0]}), "each >= 1"),
        (lambda: CountingSpec(variants={"blank": "some"}), "'all' or 'distractors'"),
        (lambda: CountingSpec(variants={"permute": {"n": 0}}), "greater than or equal to 1"),
        (lambda: CountingSpec(variants={"shuffle": True}), "Extra inputs are not permitted"),
    ],
)
def test_refusals(spec, message) -> None:
    with pytest.raises(ValidationError, match=message):
        spec()


def test_specs_without_variants_keep_their_hashes() -> None:
    """Hashes computed with the code before ``variants`` existed."""
    plain = CountingSpec(name="h", num_queries=7, n_images=5)
    assert "variants" not in plain.model_dump(mode="json")
    assert spec_hash(plain) == "b4dcffd55c9e038f62f6e03064c2ac61c06c7686d6e03bee576db4df5979cc3b"
    assert spec_hash(ListingSpec(name="l")) == (
        "9d23fd43e0c1ca07ed7b0e2b8ead8653fadb3bce786b1738b90eecd88d522fa4"
    )
    twin = CountingSpec(name="h", num_queries=7, n_images=5, variants={"stitch": True})
    assert twin.model_dump(mode="json")["variants"]["stitch"] is True
    assert spec_hash(twin) != spec_hash(plain)


def test_cli_reports_a_bad_variants_key_in_one_line(tmp_path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("task: counting\nnum_queries: 2\nvariants: {permute: true, shuffle: 2}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mimicgen", "build", str(spec), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown key 'variants.shuffle'" in lines[0]
    assert not (tmp_path / "out").exists()


def test_training_formats_refuse_twin_specs(tmp_path) -> None:
    spec = tmp_path / "tw.yaml"
    spec.write_text("task: common\nnum_queries: 2\nvariants: {permute: true}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mimicgen", "build", str(spec), "--format", "llava",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "spec(s) tw set variants" in lines[0]
    assert not (tmp_path / "out").exists()
