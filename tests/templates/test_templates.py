"""Template data and rendering: paper sets, ids, plurals."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from mimicgen.errors import SpecError
from mimicgen.specs import shipped_templates_dir
from mimicgen.templates import class_phrase, load_template_set, plural, render_question
from mimicgen.templates.render import fill_slot

PAPER = shipped_templates_dir() / "paper.yaml"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("person", "people"),
        ("sheep", "sheep"),
        ("knife", "knives"),
        ("skis", "skis"),
        ("wine glass", "wine glasses"),
        ("bus", "buses"),
        ("mouse", "mice"),
        ("scissors", "scissors"),
        ("hair drier", "hair driers"),
        ("Person", "People"),
        ("Candy", "Candies"),
        ("cattle", "cattle"),
        ("teddy bear", "teddy bears"),
    ],
)
def test_plurals(name: str, expected: str) -> None:
    assert plural(name, load_template_set("paper").plurals) == expected


def test_class_phrase_joins_plurals() -> None:
    t = load_template_set("paper")
    assert class_phrase(["knife"], t) == "knives"
    assert class_phrase(["dog", "wine glass"], t) == "dogs and wine glasses"
    assert class_phrase(["Dog", "cat", "person"], t) == "dogs, cats and people"


def test_paper_sets_are_the_papers() -> None:
    raw = yaml.safe_load(PAPER.read_text())
    assert len(raw["common"]["task"]) == 5
    assert len(raw["odd_one"]["task"]) == 7
    assert len(raw["listing"]["task"]) == 6
    assert len(raw["counting"]["task"]) == 6
    assert len(raw["counting"]["connector"]) == 3
    assert "How many <class_id> are there in the images?" in raw["counting"]["task"].values()


def test_render_records_ids_and_fills_slot() -> None:
    t = load_template_set("paper")
    raw = yaml.safe_load(PAPER.read_text())
    seen = set()
    for seed in range(60):
        q, ids = render_question(t, "counting", np.random.default_rng(seed), "knives")
        text = raw["counting"]["task"][ids["task"]].replace("<class_id>", "knives")
        assert q == f"{text} {raw['counting']['connector'][ids['connector']]}"
        seen.add(ids["task"])
    assert len(seen) == 6  # every template gets used
    q, ids = render_question(t, "listing", np.random.default_rng(0), "vehicle")
    assert "category vehicle" in q and ids["connector"] == "list-conn-1"
    _, ids = render_question(t, "counting", np.random.default_rng(0), "x", multi=True)
    assert ids["connector"] in raw["counting"]["connector_multi"]


def test_bad_template_file(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    raw = yaml.safe_load(PAPER.read_text())
    raw["counting"]["task"] = {"c": "How many are there?"}
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match="lacks the <class_id> placeholder"):
        load_template_set(str(bad))
    with pytest.raises(SpecError, match="template set not found") as err:
        load_template_set("nope")
    # training.yaml (multiple-choice wording) and plurals.yaml sit beside the sets but are not sets
    assert "use a shipped set (grammatical, paper) or" in str(err.value)


def test_a_set_names_only_the_tasks_it_serves(tmp_path) -> None:
    """Templates are a mapping keyed by task: a user file with one task is a valid set; using
    it for another task, or naming a task that does not exist, is a one-line error."""
    one = tmp_path / "one.yaml"
    one.write_text(
        "existence:\n  task: {e1: 'Any <class_id> here?'}\n  connector: {c1: 'Say yes or no.'}\n"
    )
    t = load_template_set(str(one))
    assert list(t.tasks) == ["existence"]
    q, ids = render_question(t, "existence", np.random.default_rng(0), "an apple")
    assert q == "Any an apple here? Say yes or no." and ids == {"task": "e1", "connector": "c1"}
    with pytest.raises(SpecError, match="has no templates for task 'counting'; add a 'counting:'"):
        render_question(t, "counting", np.random.default_rng(0), "dogs")
    typo = tmp_path / "typo.yaml"
    typo.write_text(one.read_text().replace("existence:", "existance:"))
    with pytest.raises(SpecError, match="unknown key.*'existance'.*or a task \\(counting, listing"):
        load_template_set(str(typo))
    slotless = tmp_path / "slotless.yaml"
    slotless.write_text("common:\n  task: {c: 'Which <class_id>?'}\n  connector: {c: 'Name it.'}\n")
    with pytest.raises(SpecError, match="common template 'c' has a <class_id> placeholder"):
        load_template_set(str(slotless))


def test_existence_slot_takes_the_article() -> None:
    t = load_template_set("paper")
    assert fill_slot("article", t, ["Apple"]) == "an apple"
    assert fill_slot("article", t, ["dog"]) == "a dog"
    q, _ = render_question(t, "existence", np.random.default_rng(1), "an umbrella")
    assert "an umbrella" in q and q.endswith(("Answer with yes or no.", "yes or no directly."))
