"""Counting questions agree in number: every template of the ``grammatical`` set rendered with
every COCO class (raw JSON), every synthetic class and every OpenImages class; the paper set
stays verbatim (SPEC section 3) for paper-compatible eval builds; training data uses the
grammatical set."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml

from mimicgen.build.eval_set import BuildOptions, build_eval_set
from mimicgen.build.training import build_training_set
from mimicgen.sources.synthetic_shapes import CLASSES
from mimicgen.specs import load_suite, shipped_templates_dir
from mimicgen.specs.training import TrainingOptions
from mimicgen.templates import class_phrase, inflect_engine, load_template_set

SHIPPED = shipped_templates_dir()
EXCEPTIONS = yaml.safe_load((SHIPPED / "plurals.yaml").read_text())
# The paper's counting templates, copied from SPEC section 3.
PAPER_COUNTING = [
    "How many <class_id> are there in the images?",
    "Count the occurrences of <class_id> in these images.",
    "What is the total number of <class_id> present in these images?",
    "Provide the count of <class_id> visible in these images.",
    "How many times does <class_id> appear in these images?",
    "How many instances of <class_id> can be identified in these images?",
]
SINGULAR_VERB = re.compile(r"\b(?:does|is|was|has)\s+<class_id>|<class_id>\s+(?:is|was|has|does)\b")


def _class_names(coco_tiny: Path) -> list[str]:
    data = json.loads((coco_tiny / "annotations" / "instances_val2017.json").read_text())
    names = [c["name"] for c in data["categories"]] + [c.name for c in CLASSES]
    oi = coco_tiny.parent / "openimages" / "oidv7-class-descriptions-boxable.csv"
    if oi.exists():  # the real OpenImages class list, when ../shared/data holds it
        with oi.open(encoding="utf-8") as f:
            names += [row["DisplayName"] for row in csv.DictReader(f)]
    return names


def _is_plural(phrase: str) -> bool:
    """inflect reads the phrase as a plural, or it is a listed mass noun kept as it is."""
    return bool(inflect_engine().singular_noun(phrase)) or phrase in EXCEPTIONS.values()


def test_paper_counting_templates_are_verbatim() -> None:
    raw = yaml.safe_load((SHIPPED / "paper.yaml").read_text())
    assert list(raw["counting"]["task"].values()) == PAPER_COUNTING
    assert raw["counting"]["task"]["count-5"] == PAPER_COUNTING[4]


def test_grammatical_set_differs_from_the_paper_only_where_it_must() -> None:
    paper, gram = load_template_set("paper"), load_template_set("grammatical")
    for task in ("counting", "common", "odd_one", "listing"):
        p, g = paper.group(task), gram.group(task)
        assert p.connector == g.connector and p.connector_multi == g.connector_multi
        changed = {k: v for k, v in g.task.items() if p.task.get(k) != v}
        assert set(changed) <= {"count-5g", "odd-1g"}
    assert (
        gram.group("counting").task["count-5g"]
        == "How many times do <class_id> appear in these images?"
    )
    assert paper.training == "grammatical" and gram.training is None


def test_no_template_puts_a_singular_verb_next_to_the_plural_slot() -> None:
    gram = load_template_set("grammatical")
    assert not [t for t in gram.group("counting").task.values() if SINGULAR_VERB.search(t)]
    # The check catches the paper's count-5 (so it can fail).
    paper = load_template_set("paper")
    assert [k for k, t in paper.group("counting").task.items() if SINGULAR_VERB.search(t)] == [
        "count-5"
    ]


@pytest.mark.parametrize("set_name", ["grammatical", "paper"])
def test_every_class_renders_as_a_plural(coco_tiny: Path, set_name: str) -> None:
    """Every class name becomes a plural (or a listed mass noun) in every counting template:
    "people", "crosses", "broccoli" (not "broccolis")."""
    t = load_template_set(set_name)
    names = _class_names(coco_tiny)
    assert len(names) > 98  # 80 COCO + 18 synthetic (+ OpenImages where present)
    bad = []
    for name in names:
        slot = class_phrase([name], t)
        if not _is_plural(slot):
            bad.append((name, slot))
        for tid, text in t.group("counting").task.items():
            q = text.replace("<class_id>", slot)
            if set_name == "grammatical" and re.search(rf"\b(?:does|is) {re.escape(slot)}\b", q):
                bad.append((tid, q))
    assert bad == []
    assert class_phrase(["broccoli"], t) == "broccoli"
    assert class_phrase(["person"], t) == "people"
    assert class_phrase(["cross"], t) == "crosses"
    assert class_phrase(["mouse", "broccoli"], t) == "mice and broccoli"


def test_shared_plural_exceptions_reach_every_set(tmp_path: Path) -> None:
    """A user set gets the shared list too, and its own entries win."""
    raw = yaml.safe_load((SHIPPED / "grammatical.yaml").read_text())
    raw["plurals"] = {"broccoli": "broccoli florets"}
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    mine = load_template_set(str(path))
    assert class_phrase(["broccoli"], mine) == "broccoli florets"
    assert class_phrase(["sushi"], mine) == "sushi"


def test_training_data_uses_the_grammatical_set(tmp_path: Path, monkeypatch) -> None:
    """The same paper-template counting spec: the eval set asks "How many times does ...",
    the training set never does and records the set it used."""
    monkeypatch.setenv("MIMICGEN_CACHE_DIR", str(tmp_path / "cache"))
    spec_file = tmp_path / "count.yaml"
    spec_file.write_text(
        "task: counting\nnum_queries: 120\nn_images: [2, 4]\ntemplates: paper\n"
        "source: {kind: synthetic, n_images: 120, seed: 5}\nseed: 4\n"
    )
    specs = load_suite([spec_file])
    build_eval_set(specs, BuildOptions(out=tmp_path / "eval"))
    lines = (tmp_path / "eval" / "benchmark.jsonl").read_text().splitlines()
    evals = [json.loads(x) for x in lines]
    assert any(r["question"].startswith("How many times does ") for r in evals)
    assert {r["template"]["task"] for r in evals} >= {"count-5"}
    opts = TrainingOptions(option_ratio=0.0, extra_turns=2)
    manifest = build_training_set(specs, tmp_path / "train", opts)
    assert manifest["spec"]["count"]["templates"] == "grammatical"
    llava = json.loads((tmp_path / "train" / "llava.json").read_text())
    humans = [m["value"] for r in llava for m in r["conversations"] if m["from"] == "human"]
    assert len(humans) > 200
    assert not [h for h in humans if "times does" in h]
    assert any("How many times do " in h for h in humans)
