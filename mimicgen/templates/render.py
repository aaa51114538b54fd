"""Render questions: pick a task template and a connector with the query's generator, fill
``<class_id>`` with correct plurals (inflect) or the category name."""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from mimicgen.templates.loader import PLACEHOLDER, TaskTemplates, TemplateSet

__all__ = [
    "article_phrase",
    "class_phrase",
    "fill_slot",
    "inflect_engine",
    "pick_template",
    "plural",
    "render_question",
]


@lru_cache(maxsize=1)
def inflect_engine() -> Any:
    """The inflect engine, imported on first use without typeguard instrumentation.

    inflect >= 7.2 decorates its methods with ``typeguard.typechecked``, which re-parses and
    recompiles the module per method at import: 1-10 s of CPU (jaraco/inflect#212). Those
    checks only validate argument types at run time (we always pass ``str``), so the import
    sees a pass-through ``typechecked``; the real typeguard module is restored right after.
    """
    if "inflect" not in sys.modules:
        saved = sys.modules.get("typeguard")
        stub = types.ModuleType("typeguard")
        stub.typechecked = lambda func=None, **_: func if func is not None else (lambda f: f)  # type: ignore[attr-defined]
        sys.modules["typeguard"] = stub
        try:
            import inflect
        finally:
            if saved is not None:
                sys.modules["typeguard"] = saved
            else:
                del sys.modules["typeguard"]
    import inflect

    return inflect.engine()


@lru_cache(maxsize=4096)
def _inflect_plural(word: str) -> str:
    """Plural of a lower-case noun phrase; a word that already is a plural is kept
    ("skis", "scissors", "glasses"), guarding against inflect's "-us" -> "-u" singulars."""
    single = inflect_engine().singular_noun(word)
    if single and not single.endswith("u") and inflect_engine().plural_noun(single) == word:
        return word
    return str(inflect_engine().plural_noun(word))


def plural(name: str, overrides: dict[str, str] | None = None) -> str:
    """English plural of a class name, keeping a leading capital ("Person" -> "People").

    inflect treats capitalised words as proper nouns ("Candys"), so it sees the lower-case form.
    """
    low = name.lower()
    out = (overrides or {}).get(low) or _inflect_plural(low)
    if name[:1].isupper():
        out = out[:1].upper() + out[1:]
    return out


_PHRASES: dict[int, tuple[TemplateSet, dict[tuple[str, ...], str]]] = {}
_PHRASES_MAX = 1 << 17


def class_phrase(names: Sequence[str], templates: TemplateSet) -> str:
    """Plural names joined as English ("dogs", "dogs and cats", "dogs, cats and knives").

    Memoised per template set object (one dict lookup per query instead of re-hashing the
    set's plural overrides for every call)."""
    hit = _PHRASES.get(id(templates))
    if hit is None or hit[0] is not templates:
        hit = _PHRASES[id(templates)] = (templates, {})
    key = tuple(names)
    out = hit[1].get(key)
    if out is None:
        if len(hit[1]) >= _PHRASES_MAX:
            hit[1].clear()
        overrides = tuple(sorted(templates.plurals.items()))
        out = hit[1][key] = _phrase(key, templates.lowercase_class_names, overrides)
    return out


@lru_cache(maxsize=65536)
def _phrase(names: tuple[str, ...], lowercase: bool, overrides: tuple[tuple[str, str], ...]) -> str:
    table = dict(overrides)
    words = [plural(n.lower() if lowercase else n, table) for n in names]
    return str(inflect_engine().join(words, final_sep=""))


@lru_cache(maxsize=4096)
def _article(name: str) -> str:
    return str(inflect_engine().a(name))


def article_phrase(name: str, templates: TemplateSet) -> str:
    """One class name with its indefinite article ("a dog", "an apple")."""
    return _article(name.lower() if templates.lowercase_class_names else name)


def fill_slot(
    kind: str,
    templates: TemplateSet,
    classes: Sequence[str] = (),
    category: str | None = None,
) -> str:
    """The text for ``<class_id>`` by a task's slot kind (``TaskDef.slot``): ``classes`` the
    plural names joined, ``article`` one name with "a"/"an", ``category`` the node, ``none``
    nothing."""
    if kind == "classes":
        return class_phrase(classes, templates)
    if kind == "article":
        return article_phrase(classes[0], templates)
    if kind == "category":
        return str(category)
    return ""


_IDS: dict[
    tuple[int, bool], tuple[TaskTemplates, tuple[str, ...], tuple[str, ...], dict[str, str]]
] = {}


def _sorted_ids(
    group: TaskTemplates, multi: bool
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, str]]:
    """(sorted template ids, sorted connector ids, connectors) of a task group, memoised per
    group object: sorting them is most of a draw's cost otherwise."""
    key = (id(group), multi)
    hit = _IDS.get(key)
    if hit is None or hit[0] is not group:
        connectors = group.connector_multi if multi and group.connector_multi else group.connector
        hit = _IDS[key] = (group, tuple(sorted(group.task)), tuple(sorted(connectors)), connectors)
    return hit[1], hit[2], hit[3]


def pick_template(
    templates: TemplateSet,
    task: str,
    rng: np.random.Generator,
    slot: str,
    multi: bool = False,
) -> tuple[str, str, dict[str, str]]:
    """Draw a task template and a connector (in that order) and fill ``<class_id>`` with
    ``slot``: ``(question text, connector text, {"task": id, "connector": id})``."""
    group = templates.group(task)
    tids, cids, connectors = _sorted_ids(group, multi)
    tid = tids[int(rng.integers(len(tids)))]
    cid = cids[int(rng.integers(len(cids)))]
    text = group.task[tid].replace(PLACEHOLDER, slot)
    return text, connectors[cid], {"task": tid, "connector": cid}


def render_question(
    templates: TemplateSet,
    task: str,
    rng: np.random.Generator,
    slot: str,
    multi: bool = False,
) -> tuple[str, dict[str, str]]:
    """``(question, {"task": id, "connector": id})`` for one query."""
    text, connector, ids = pick_template(templates, task, rng, slot, multi)
    return f"{text} {connector}", ids
