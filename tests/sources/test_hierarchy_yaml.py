"""User YAML hierarchies: parsing, validation against the class list, descendant leaves."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimicgen.errors import InputError
from mimicgen.sources.hierarchy import read_hierarchy_yaml

CLASSES = ["cat", "dog", "horse", "sparrow", "bird", "car"]


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "h.yaml"
    path.write_text(text)
    return path


def test_nested_nodes_resolve_to_leaf_classes(tmp_path: Path) -> None:
    path = _yaml(
        tmp_path,
        "animal: [mammal, bird]\nmammal: [cat, dog, horse, dog]\nbird: [bird, sparrow]\n",
    )
    h = read_hierarchy_yaml(path, CLASSES)
    assert h.children["mammal"] == ("cat", "dog", "horse")  # repeat dropped, order kept
    assert h.leaves("animal") == ["bird", "cat", "dog", "horse", "sparrow"]
    assert h.leaves("bird") == ["bird", "sparrow"]
    assert h.nodes() == ["animal", "bird", "mammal"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("animal: [cat, unicorn]\n", "node 'animal' has child 'unicorn'"),
        ("a: [b]\nb: [a]\n", "cycle in hierarchy"),
        ("animal: cat\n", "entry 'animal' must map a name to a non-empty list"),
        ("- cat\n", "non-empty mapping"),
        ("animal: [cat\n", "line 2: invalid YAML"),
        ("animal: [cat, 3]\n", "non-string child 3"),
    ],
)
def test_bad_hierarchy_gives_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    path = _yaml(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_hierarchy_yaml(path, CLASSES)
    assert message in str(err.value)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
