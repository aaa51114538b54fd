"""User-supplied class hierarchies (YAML) that replace a source's own.

Format: a mapping from node name to the list of its children; children are class names of the
source or other nodes of the same file::

    animal: [mammal, bird]
    mammal: [cat, dog, horse]
    bird: [bird]          # a node may hold the class of the same name

Checks: valid YAML mapping of lists of strings, every child is a known class or a node, no cycles
(apart from a node holding the class of its own name).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from mimicgen.errors import InputError
from mimicgen.sources.base import Hierarchy

__all__ = ["is_yaml_path", "read_hierarchy_yaml"]


def is_yaml_path(path: Path) -> bool:
    """True for ``.yaml``/``.yml`` files (user hierarchies), False for OpenImages JSON."""
    return path.suffix.lower() in (".yaml", ".yml")


def read_hierarchy_yaml(path: str | Path, class_names: Iterable[str]) -> Hierarchy:
    """Parse and validate a user hierarchy against the source's class names."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read hierarchy ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InputError(f"{path}: {where}invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: a hierarchy must be a non-empty mapping node -> [children]")
    known = set(class_names)
    children: dict[str, tuple[str, ...]] = {}
    for node, kids in data.items():
        if not isinstance(node, str) or not isinstance(kids, list) or not kids:
            raise InputError(
                f"{path}: entry {node!r} must map a name to a non-empty list of children"
            )
        bad = [k for k in kids if not isinstance(k, str)]
        if bad:
            raise InputError(f"{path}: node {node!r} has a non-string child {bad[0]!r}")
        for kid in kids:
            if kid not in known and kid not in data:
                raise InputError(
                    f"{path}: node {node!r} has child {kid!r}, which is neither a class of the "
                    "source nor a node of this file; check the spelling"
                )
        children[node] = tuple(dict.fromkeys(kids))  # drop repeats, keep order
    _reject_cycles(children, path)
    return Hierarchy(children=children)


def _reject_cycles(children: dict[str, tuple[str, ...]], path: Path) -> None:
    """Iterative three-colour DFS; a node listing its own name (a same-named class) is allowed."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in children:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        state[start] = 1
        while stack:
            node, i = stack.pop()
            kids = [k for k in children.get(node, ()) if k != node]
            if i < len(kids):
                stack.append((node, i + 1))
                kid = kids[i]
                if state.get(kid) == 1:
                    raise InputError(f"{path}: cycle in hierarchy through {node!r} -> {kid!r}")
                if not state.get(kid):
                    state[kid] = 1
                    stack.append((kid, 0))
            else:
                state[node] = 2
