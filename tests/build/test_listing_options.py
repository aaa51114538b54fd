"""Multiple-choice listing turns do not give the answer away by their form.

A large seeded training build on real COCO (coco_tiny), every turn multiple choice; the checks
read ``provenance.jsonl`` with plain ``json`` and score simple option-form strategies (pick the
longest list, the one inside most others, the most central one, ...). Each must win at chance,
1 / n_options, within four standard errors. On the code before this fix the gold list was the
unique longest and the centre of every turn (longest 0.85, most central 0.97 on such a build),
and a fifth of the turns had fewer than four options.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mimicgen.build.options import list_distractors, list_pool
from mimicgen.build.training import build_training_set
from mimicgen.errors import SpecError
from mimicgen.specs import load_suite
from mimicgen.specs.training import TrainingOptions
from mimicgen.tasks.counting import CountingSpec

from .fakes import make_loaders

N_OPTIONS = 4
SPECS = {
    "listing.yaml": "task: listing\nnum_queries: 1500\nn_images: [2, 6]\n",
    "common.yaml": "task: common\nnum_queries: 300\nn_images: [2, 5]\n",
    "count.yaml": "task: counting\nnum_queries: 300\nn_images: [2, 5]\n",
}


@pytest.fixture(scope="module")
def rows(coco_tiny: Path, tmp_path_factory) -> list[dict]:
    root = tmp_path_factory.mktemp("listopts")
    mp = pytest.MonkeyPatch()
    mp.setenv("MIMICGEN_CACHE_DIR", str(root / "cache"))
    ann = coco_tiny / "annotations" / "instances_val2017.json"
    (root / "specs").mkdir()
    for name, text in SPECS.items():
        src = f"source: {{kind: coco, annotations: '{ann}'}}\nseed: 3\n"
        (root / "specs" / name).write_text(text + src)
    specs = load_suite(sorted((root / "specs").glob("*.yaml")))
    opts = TrainingOptions(option_ratio=1.0, extra_turns=2, n_options=N_OPTIONS)
    build_training_set(specs, root / "train", opts)
    mp.undo()
    return [json.loads(x) for x in (root / "train" / "provenance.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def turns(rows) -> list[dict]:
    return [t for r in rows for t in r["turns"] if "options" in t]


def test_listing_turns_skip_one_member_categories(rows, coco_tiny: Path) -> None:
    """No listing turn, first or extra, asks for the sub-categories of a category with fewer
    than min_members (2) classes: supercategory sizes re-counted from the raw JSON, where
    'person' has one (before the fix the extra turns asked for it)."""
    data = json.loads((coco_tiny / "annotations" / "instances_val2017.json").read_text())
    sizes = Counter(c["supercategory"] for c in data["categories"])
    assert sizes["person"] == 1
    asked = Counter(t["category"] for r in rows for t in r["turns"] if t["task"] == "listing")
    assert sum(asked.values()) > 1500 and len(asked) > 5
    assert all(sizes[c] >= 2 for c in asked), {c: sizes[c] for c in asked}


def test_every_turn_has_n_options_distinct_options(turns) -> None:
    assert len(turns) > 5000
    for t in turns:
        assert len(t["options"]) == len(set(t["options"])) == N_OPTIONS, t
        assert t["options"][ord(t["letter"]) - ord("A")] == t["answer"]


def test_letters_uniform(turns) -> None:
    counts = Counter(t["letter"] for t in turns)
    assert set(counts) == set("ABCD")
    expected = len(turns) / N_OPTIONS
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 16.27  # chi-square, 3 degrees of freedom, p = 0.001


def _sets(opts: list[str]) -> list[frozenset[str]]:
    return [frozenset(o.split(", ")) for o in opts]


def _longest(s: list[frozenset[str]]) -> list[float]:
    return [len(x) for x in s]


def _shortest(s: list[frozenset[str]]) -> list[float]:
    return [-len(x) for x in s]


def _inside_most(s: list[frozenset[str]]) -> list[float]:
    return [sum(x < y for y in s) for x in s]


def _holds_most(s: list[frozenset[str]]) -> list[float]:
    return [sum(x > y for y in s) for x in s]


def _unrelated(s: list[frozenset[str]]) -> list[float]:
    return [-sum(x < y or x > y for y in s) for x in s]


def _central(s: list[frozenset[str]]) -> list[float]:
    return [-sum(len(x ^ y) for y in s) for x in s]


def _common_classes(s: list[frozenset[str]]) -> list[float]:
    freq = Counter(c for x in s for c in x)
    return [sum(freq[c] for c in x) / len(x) for x in s]


STRATEGIES: dict[str, Callable[[list[frozenset[str]]], list[float]]] = {
    "longest": _longest,
    "shortest": _shortest,
    "inside the most others": _inside_most,
    "holding the most others": _holds_most,
    "related to no other": _unrelated,
    "most central": _central,
    "most shared classes": _common_classes,
}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_option_form_does_not_predict_the_answer(turns, name: str) -> None:
    """A strategy picks the best-scored option (ties split evenly); its expected accuracy
    over the listing turns must be chance."""
    listing = [t for t in turns if t["task"] == "listing"]
    assert len(listing) > 1500
    score = STRATEGIES[name]
    won = 0.0
    for t in listing:
        vals = score(_sets(t["options"]))
        best = max(vals)
        tops = [i for i, v in enumerate(vals) if v == best]
        won += (ord(t["letter"]) - ord("A") in tops) / len(tops)
    rate, p = won / len(listing), 1 / N_OPTIONS
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / len(listing)), (name, rate)


def test_answers_are_not_only_single_classes(turns) -> None:
    """The build asks real multi-class lists (else the checks above would be vacuous)."""
    sizes = Counter(len(t["answer"].split(", ")) for t in turns if t["task"] == "listing")
    assert sizes[1] and sizes[2] and sizes[3]


def test_small_category_pool_is_made_up_from_the_vocabulary() -> None:
    """A two-member category has only three non-empty lists: the pool gains vocabulary
    classes up to n_options + 1, so every turn still gets n_options distinct options."""
    vocab = ["boat", "bus", "circle", "cross", "fish", "leaf", "star"]
    for seed in range(200):
        rng = np.random.default_rng(seed)
        pool = list_pool(["bus", "boat"], vocab, N_OPTIONS, rng)
        assert pool[:2] == ("bus", "boat") and len(set(pool)) == N_OPTIONS + 1
        assert set(pool) <= set(vocab)
        answer = ["boat", "bus"] if seed % 2 else ["bus"]
        wrong = list_distractors(answer, pool, N_OPTIONS - 1, rng)
        assert len(set(wrong)) == N_OPTIONS - 1 and ", ".join(sorted(answer)) not in wrong
        assert all(set(w.split(", ")) <= set(pool) for w in wrong)
    # Enough members: the pool is the category alone, and no draw is made.
    rng = np.random.default_rng(0)
    members = ["a", "b", "c", "d", "e"]
    assert list_pool(members, vocab, N_OPTIONS, rng) == tuple(members)
    assert rng.integers(1 << 30) == np.random.default_rng(0).integers(1 << 30)


def test_source_with_too_few_classes_is_refused(tmp_path: Path) -> None:
    """The fake source has 3 classes: 4 options (5 classes needed) cannot all differ."""
    index_loader, _ = make_loaders(tmp_path / "src")
    spec = CountingSpec(name="few", num_queries=2, n_images=2, totals=(1,))
    out = tmp_path / "out"
    opts = TrainingOptions(option_ratio=0.5, n_options=N_OPTIONS)
    with pytest.raises(SpecError, match=r"n_options 4 needs at least 5 classes .* has 3") as e:
        build_training_set([spec], out, opts, index_loader=index_loader)
    assert "\n" not in str(e.value) and not out.exists()
