"""One training conversation: a sampled query and its images' facts -> wordings and answers.

A conversation depends only on its query, the facts and its own generator, so conversations can
be made in any order or process. The one sequential choice, where the correct option goes in a
multiple-choice turn (balanced over a spec's turns, :func:`~mimicgen.build.options.answer_position`),
is left open here: such a turn carries a :class:`Pending` and the writer settles it in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from mimicgen.build.options import (
    class_distractors,
    count_distractors,
    list_distractors,
    list_pool,
    yes_no_distractors,
)
from mimicgen.registry import get_task
from mimicgen.tasks.multiturn import Ask, extra_asks
from mimicgen.tasks.query import Query
from mimicgen.templates.loader import option_connectors
from mimicgen.templates.render import fill_slot, pick_template

__all__ = ["Pending", "Turn", "Turner", "conversation", "placeholder_prefix"]


def placeholder_prefix(n: int, style: str) -> str:
    """The ``<image>`` block that opens the first human turn (exactly ``n`` placeholders)."""
    if style == "start":
        return "<image>" * n + "\n"
    if style == "lines":
        return "<image>\n" * n
    return "".join(f"Image {i + 1}: <image>\n" for i in range(n))


class Pending(NamedTuple):
    """A multiple-choice turn before its correct option is placed."""

    text: str
    """The question without connector."""
    answer: str
    """The correct option."""
    wrong: list[str]
    """Distractor options, in order."""
    connector: str
    """The options connector sentence."""


#: One turn: (human text, gpt text, provenance, Pending). For a multiple-choice turn the texts
#: are None until the writer settles the Pending; ``provenance`` then gains options and letter.
Turn = tuple[str | None, str | None, dict[str, Any], Pending | None]


def _strip_connector(query: Query, templates: Any) -> str:
    group = templates.group(query.task)
    cid = query.template["connector"]
    conn = (group.connector_multi or {}).get(cid) or group.connector.get(cid, "")
    return query.question.removesuffix(" " + conn) if conn else query.question


def _word(ask: Ask, templates: Any, rng: np.random.Generator) -> tuple[str, str]:
    """(question without connector, open-ended connector) for an extra turn."""
    text, conn, _ = pick_template(
        templates,
        ask.task,
        rng,
        fill_slot(get_task(ask.task).slot, templates, ask.classes, ask.category),
    )
    return text, conn


def _answer_text(ask: Ask) -> str:
    return ", ".join(ask.answer) if isinstance(ask.answer, tuple) else str(ask.answer)


def _first_ask(query: Query, hierarchy: Any) -> Ask | None:
    """The query's own question as an :class:`Ask` (its task's ``first_ask``; by default the
    answer under the task's answer key). None: asked open-ended only (k > 1 counting)."""
    task = get_task(query.task)
    if task.first_ask is not None:
        return task.first_ask(query, hierarchy)  # type: ignore[no-any-return]
    return Ask(query.task, query.answer[task.answer_key])


@dataclass
class Turner:
    """Turns asks into :data:`Turn` values for one spec (its options, templates, vocabulary)."""

    option_ratio: float
    n_options: int
    templates: Any
    vocabulary: list[str]
    positions: dict[str, int] | None = None
    """Vocabulary name -> index (for fast class distractors); None if names repeat."""

    def __post_init__(self) -> None:
        positions = {c: i for i, c in enumerate(self.vocabulary)}
        self.positions = positions if len(positions) == len(self.vocabulary) else None

    def turn(
        self,
        ask: Ask | None,
        text: str,
        open_conn: str,
        answer_text: str,
        in_images: list[str],
        rng: np.random.Generator,
        task: str = "",
    ) -> Turn:
        """``task``: the query's task, recorded when ``ask`` is None (an open-ended turn)."""
        prov: dict[str, Any] = {"task": ask.task if ask else task, "answer": answer_text}
        if ask is not None:
            if ask.classes:
                prov["classes"] = list(ask.classes)
            if ask.category is not None:
                prov["category"] = ask.category
        if ask is None or not rng.random() < self.option_ratio:
            return f"{text} {open_conn}", answer_text, prov, None
        k = self.n_options - 1
        kind = get_task(ask.task).kind
        if kind == "count":
            wrong = count_distractors(int(ask.answer), k)  # type: ignore[arg-type]
        elif kind == "yesno":
            wrong = yes_no_distractors(str(ask.answer))
        elif kind == "set":
            # The category's members (made up to n_options + 1 classes from the vocabulary):
            # never the answer alone, which left only its own subsets as wrong options.
            pool = list_pool(ask.members or ask.answer, self.vocabulary, self.n_options, rng)  # type: ignore[arg-type]
            wrong = list_distractors(ask.answer, pool, k, rng)  # type: ignore[arg-type]
        else:
            wrong = class_distractors(
                str(ask.answer), in_images, self.vocabulary, k, rng, self.positions
            )
        cids, conns = option_connectors()
        cid = cids[int(rng.integers(len(cids)))]
        return None, None, prov, Pending(text, answer_text, wrong, conns[cid])


def conversation(
    query: Query,
    facts: list[Any],
    hierarchy: Any,
    group_blocks_counting: bool,
    extra_turns: int,
    turner: Turner,
    rng: np.random.Generator,
    min_members: int = 2,
) -> list[Turn]:
    """The query's own question, then up to ``extra_turns`` further ones over its images
    (without the ``<image>`` block, which the writer puts before the first human text)."""
    in_images = sorted({c for f in facts for c in f})
    first = _first_ask(query, hierarchy)
    text = _strip_connector(query, turner.templates)
    conn = query.question[len(text) :].strip()
    h, g, p, pend = turner.turn(first, text, conn, query.answer_text, in_images, rng, query.task)
    if first is None:  # k > 1 counting: name the classes so the turn can be re-derived
        p["classes"] = list(query.answer["counts"])
    turns = [(h, g, p, pend)]
    task = get_task(query.task)
    asked = task.asked(query) if task.asked is not None else {(query.task, "")}
    extras = extra_asks(
        facts, hierarchy, asked, rng, extra_turns, group_blocks_counting, min_members
    )
    for ask in extras:
        t, c = _word(ask, turner.templates, rng)
        turns.append(turner.turn(ask, t, c, _answer_text(ask), in_images, rng))
    return turns
