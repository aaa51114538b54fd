"""Multiple-choice options with plausible distractors and seed-balanced letter positions.

Distractor choices (all deterministic given the generator):

* counts: the nearest other non-negative integers (n-1, n+1, n-2, n+2, ...), so a model cannot
  win by ruling out absurd values;
* classes: first classes that are *in the images* but are not the answer, then other classes of
  the source; the answer never appears twice;
* class lists (listing): the answer set with one member dropped, one present non-member added,
  or one member swapped.

The correct letter is not drawn independently per query (that gives streaks): the position for
query ``q`` is taken from a seeded permutation of the ``n`` letters for the block ``q // n``, so
each letter is correct exactly equally often in every block of ``n`` queries.
"""

from __future__ import annotations

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
    "place_options",
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


def list_distractors(
    answer: Sequence[str],
    members: Sequence[str],
    n: int,
    rng: np.random.Generator,
    positions: Mapping[str, int] | None = None,
) -> list[str]:
    """Up to ``n`` wrong class lists near the answer set: drop one member, add one other member
    of the category, or swap one for another. Edits are drawn at random rather than
    enumerated, because an OpenImages category can have hundreds of members.

    ``positions`` (optional, ``{name: index}`` of a duplicate-free ``members``) only makes the
    call faster: the drawn non-answer member is found by index instead of listing them all
    (:func:`class_distractors` does the same). The result is the same."""
    ans = sorted(answer)
    ans_set = set(ans)
    others: list[str] = []
    skipped: list[int] = []
    if positions is None:
        others = [m for m in members if m not in ans_set]
        n_others = len(others)
    else:
        skipped = sorted(positions[c] for c in ans_set if c in positions)
        n_others = len(members) - len(skipped)
    kinds = (["drop"] if len(ans) > 1 else []) + (["add", "swap"] if n_others else [])
    picked: dict[str, None] = {}
    for _ in range(8 * n):
        if len(picked) >= n or not kinds:
            break
        kind = kinds[int(rng.integers(len(kinds)))]
        cand = list(ans)
        if kind in ("drop", "swap"):
            cand.pop(int(rng.integers(len(cand))))
        if kind in ("add", "swap"):
            r = int(rng.integers(n_others))
            cand.append(others[r] if positions is None else members[_nth_kept(r, skipped)])
        text = ", ".join(sorted(cand))
        if cand and sorted(cand) != ans:
            picked.setdefault(text)
    return list(picked)


def place_options(correct: str, distractors: Sequence[str], position: int) -> tuple[list[str], str]:
    """Options list with ``correct`` at ``position`` (clamped to the list), and its letter."""
    opts = list(distractors)
    position = min(position, len(opts))
    opts.insert(position, correct)
    return opts, LETTERS[position]
