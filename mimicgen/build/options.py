"""Multiple-choice options with plausible distractors and seed-balanced letter positions.

Distractor choices (all deterministic given the generator):

* counts: the nearest other non-negative integers (n-1, n+1, n-2, n+2, ...), so a model cannot
  win by ruling out absurd values;
* classes: first classes that are *in the images* but are not the answer, then other classes of
  the source; the answer never appears twice;
* class lists (listing): every option, the answer included, is one random edit (drop, swap,
  add) of a hidden centre list, so length, nesting and shared classes do not single out the
  answer (:func:`list_distractors`); the classes come from the category's members, made up
  from the vocabulary when the category is small (:func:`list_pool`).

The correct letter is not drawn independently per query (that gives streaks): the position for
query ``q`` is taken from a seeded permutation of the ``n`` letters for the block ``q // n``, so
each letter is correct exactly equally often in every block of ``n`` queries.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

__all__ = [
    "LETTERS",
    "answer_position",
    "class_distractors",
    "count_distractors",
    "list_distractors",
    "list_pool",
    "list_pool_size",
    "place_options",
    "yes_no_distractors",
]

LETTERS = string.ascii_uppercase


def answer_position(seed: int, q: int, n: int) -> int:
    """Letter index of the correct option for query ``q``: balanced within blocks of ``n``."""
    return _block_positions(seed, q // n, n)[q % n]


@lru_cache(maxsize=64)
def _block_positions(seed: int, block: int, n: int) -> tuple[int, ...]:
    """The seeded letter permutation of one block (memoised: consecutive queries share it)."""
    block_rng = np.random.default_rng(np.random.SeedSequence([seed, block, 0x0C7]))
    return tuple(block_rng.permutation(n).tolist())


def count_distractors(answer: int, n: int) -> list[str]:
    """``n`` nearest other counts (never negative), nearest first."""
    out: list[str] = []
    step = 1
    while len(out) < n:
        for cand in (answer - step, answer + step):
            if cand >= 0 and len(out) < n:
                out.append(str(cand))
        step += 1
    return out


def yes_no_distractors(answer: str) -> list[str]:
    """The one wrong option of a yes/no question."""
    return ["no" if answer == "yes" else "yes"]


def class_distractors(
    answer: str,
    in_images: Sequence[str],
    vocabulary: Sequence[str],
    n: int,
    rng: np.random.Generator,
    positions: Mapping[str, int] | None = None,
) -> list[str]:
    """Up to ``n`` wrong classes: shuffled classes seen in the images, then the rest.

    ``positions`` (optional, ``{name: index}`` of a duplicate-free ``vocabulary``) only makes
    the call faster: the few needed "rest" classes are found by index instead of building the
    whole list of the vocabulary minus the skipped classes. The result is the same."""
    seen = [c for c in dict.fromkeys(in_images) if c != answer]
    skip = {answer, *seen}
    first = [seen[i] for i in rng.permutation(len(seen))]
    if positions is None:
        rest = [c for c in vocabulary if c not in skip]
        second = [rest[i] for i in rng.permutation(len(rest))] if rest else []
        return (first + second)[:n]
    skipped = sorted(positions[c] for c in skip if c in positions)
    n_rest = len(vocabulary) - len(skipped)
    if not n_rest:
        return first[:n]
    picks = rng.permutation(n_rest)[: max(0, n - len(first))].tolist()
    return first[:n] + [vocabulary[_nth_kept(r, skipped)] for r in picks]


def _nth_kept(r: int, skipped: list[int]) -> int:
    """Index of the ``r``-th (0-based) vocabulary entry not in ``skipped`` (sorted indices)."""
    for p in skipped:
        if p > r:
            break
        r += 1
    return r


LIST_POOL_MIN_EXTRA = 1
"""A list pool holds at least ``n_options + LIST_POOL_MIN_EXTRA`` classes: with fewer, some
answers have too few distinct lists near them (a 2-member category has 3 non-empty lists)."""

LIST_SIZE_PRIOR = 0.5
"""The centre list's size c is drawn with prior weight ``LIST_SIZE_PRIOR ** c``: answers are
mostly short (one to three classes), and a flat prior would make the wrong lists longer than
the answer on average (the shortest option would then be right above chance)."""

_LIST_TRIES = 64
"""Whole draws of the wrong lists before the fallback fills the rest."""


def list_pool_size(n_options: int) -> int:
    """Classes a listing question's options are drawn from, at least (see :func:`list_pool`)."""
    return n_options + LIST_POOL_MIN_EXTRA


def list_pool(
    members: Sequence[str], vocabulary: Sequence[str], n_options: int, rng: np.random.Generator
) -> tuple[str, ...]:
    """The classes a listing question's options are built from: the category's members, and
    when there are fewer than :func:`list_pool_size` of them, classes of the vocabulary drawn
    at random to make up the number (no rng draw when the members are enough)."""
    pool = tuple(dict.fromkeys(members))
    need = list_pool_size(n_options) - len(pool)
    if need <= 0:
        return pool
    inside = set(pool)
    rest = [c for c in vocabulary if c not in inside]
    picks = rng.permutation(len(rest))[:need].tolist()
    return pool + tuple(rest[i] for i in sorted(picks))


def _moves(c: int, u: int) -> tuple[int, ...]:
    """Size changes one edit can make from a list of ``c`` of ``u`` classes, the result
    non-empty: drop one (-1), swap one (0), add one (+1)."""
    return tuple(d for d, ok in ((-1, c >= 2), (0, 1 <= c < u), (1, c < u)) if ok)


def _other(held: Sequence[str], pool: Sequence[str], rng: np.random.Generator) -> str:
    """A pool class not in ``held`` (``held`` is a strict subset of ``pool``)."""
    if 2 * len(held) < len(pool):  # mostly free: draw and redraw (no list of the pool)
        while (c := pool[int(rng.integers(len(pool)))]) in held:
            pass
        return c
    free = [c for c in pool if c not in held]
    return free[int(rng.integers(len(free)))]


def _edit(
    base: tuple[str, ...], d: int, pool: Sequence[str], rng: np.random.Generator
) -> tuple[str, ...]:
    """``base`` (sorted) with one class dropped (-1), swapped (0) or added (+1)."""
    out = list(base)
    if d >= 0:
        out.append(_other(base, pool, rng))
    if d <= 0:
        out.pop(int(rng.integers(len(base))))
    return tuple(sorted(out))


def list_distractors(
    answer: Sequence[str],
    pool: Sequence[str],
    n: int,
    rng: np.random.Generator,
) -> list[str]:
    """``n`` distinct wrong class lists from ``pool`` (duplicate-free, holding the answer),
    built so that their form does not single out the answer.

    Every option, the answer included, is one random edit (drop, swap or add one class) of a
    hidden *centre* list: the centre is drawn as the list the answer is an edit of, the wrong
    options as fresh edits of the centre. The answer then relates to the centre, and so to the
    other options, exactly as each wrong option does (lengths, subsets and supersets, shared
    classes), as far as the pool allows. Edit kinds are uniform among those possible; the
    centre's size takes the posterior under a uniform prior over sizes. The wrong lists are
    redrawn as a whole until all differ (up to ``_LIST_TRIES`` times, then a fill with further
    edits and, last, lists of the pool in order), and returned in random order."""
    gold = tuple(sorted(answer))
    u, a = len(pool), len(gold)
    if n <= 0:
        return []
    # Centre size c = a - d for the edit d that made the answer: posterior weight
    # LIST_SIZE_PRIOR ** c / (kinds of edit possible at c).
    ds = [d for d in (-1, 0, 1) if 0 <= a - d <= u and d in _moves(a - d, u)]
    w = [LIST_SIZE_PRIOR ** (a - d) / len(_moves(a - d, u)) for d in ds]
    cum = list(itertools.accumulate(w))
    for _ in range(_LIST_TRIES):
        r = rng.random() * cum[-1]  # one uniform draw: rng.choice(p=...) costs 10x more
        d = ds[next(i for i, c in enumerate(cum) if r < c)]
        centre = _edit(gold, -d, pool, rng)  # the answer is edit d of the centre
        moves = _moves(len(centre), u)
        got = {_edit(centre, moves[int(rng.integers(len(moves)))], pool, rng) for _ in range(n)}
        if len(got) == n and gold not in got:
            return _shuffled(sorted(got), rng)
    return _shuffled(_fill(gold, pool, n, rng), rng)


def _shuffled(lists: list[tuple[str, ...]], rng: np.random.Generator) -> list[str]:
    """The lists as text in random order (a fixed order would set the answer apart from the
    others once it is placed among them)."""
    return [", ".join(lists[i]) for i in rng.permutation(len(lists)).tolist()]


def _fill(
    gold: tuple[str, ...], pool: Sequence[str], n: int, rng: np.random.Generator
) -> list[tuple[str, ...]]:
    """Fallback: distinct one- and two-edit neighbours of the answer, then pool lists in order."""
    got: dict[tuple[str, ...], None] = {}
    for _ in range(16 * n):
        if len(got) >= n:
            break
        cand = gold
        for _ in range(1 + int(rng.integers(2))):
            moves = _moves(len(cand), len(pool))
            cand = _edit(cand, moves[int(rng.integers(len(moves)))], pool, rng)
        if cand != gold:
            got.setdefault(cand)
    size = 1
    while len(got) < n and size <= len(pool):
        for combo in itertools.combinations(sorted(pool), size):
            if len(got) >= n:
                break
            if combo != gold:
                got.setdefault(combo)
        size += 1
    return list(got)


def place_options(correct: str, distractors: Sequence[str], position: int) -> tuple[list[str], str]:
    """Options list with ``correct`` at ``position`` (clamped to the list), and its letter."""
    opts = list(distractors)
    position = min(position, len(opts))
    opts.insert(position, correct)
    return opts, LETTERS[position]
