"""Training records as JSON text, encoded where the conversation is made (possibly a worker).

A record is a list of *pieces*: JSON text, with an int where a multiple-choice turn's text goes
(its correct option is placed later, in order, by the writer). :func:`fill` joins the pieces
once the turn texts are known. The text is exactly what ``json.dumps(record,
ensure_ascii=False)`` gives for the record dicts (default separators ``", "`` and ``": "``),
so ``llava.json`` is ``"[" + ", ".join(records) + "]"``.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any, NamedTuple

from mimicgen.build.options import LETTERS
from mimicgen.build.training_turns import Pending, Turn

__all__ = ["Encoded", "MCTurn", "encode", "fill", "question_words"]

Piece = str | int
"""JSON text, or the index of a fill computed when the turn's options are placed."""

_HUMAN, _GPT, _PROV = 0, 1, 2
"""Fills of multiple-choice turn j are ``3 * j + kind``."""


class MCTurn(NamedTuple):
    """A multiple-choice turn left open in the pieces."""

    pending: Pending
    prefix: str
    """Text before the question (the ``<image>`` block on the first turn, else empty)."""


class Encoded(NamedTuple):
    """One conversation as JSON pieces plus what the statistics need."""

    llava: list[Piece]
    mantis: list[Piece] | None
    provenance: list[Piece]
    mc: list[MCTurn]
    """Open multiple-choice turns, in turn order."""
    words: list[int]
    """Words per human turn (:func:`question_words`)."""


def question_words(human: str) -> int:
    """Words of a human turn, placeholders and option lines excluded."""
    body = [
        ln
        for ln in human.splitlines()
        if "<image>" not in ln and not (len(ln) > 2 and ln[1] == "." and ln[0] in LETTERS)
    ]
    return len(" ".join(body).split())


_dumps = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(obj, ensure_ascii=False)`` without building an encoder per call."""


def encode(
    qid: str,
    spec: str,
    task: str,
    paths: list[str],
    images: list[dict[str, Any]],
    turns: list[Turn],
    prefix: str,
    mantis: bool,
) -> Encoded:
    """Pieces of the llava, (mantis) and provenance records of one conversation."""
    e = encode_basestring
    conv: list[Piece] = []
    man: list[Piece] = []
    prov: list[Piece] = []
    mc: list[MCTurn] = []
    words: list[int] = []
    for t, (human, gpt, p, pend) in enumerate(turns):
        lead = prefix if t == 0 else ""
        sep = ", " if t else ""
        if pend is None:
            assert human is not None and gpt is not None
            h, g = e(lead + human), e(gpt)
            conv.append(f'{sep}{{"from": "human", "value": {h}}}, {{"from": "gpt", "value": {g}}}')
            man.append(
                f'{sep}{{"role": "user", "content": {h}}}, {{"role": "assistant", "content": {g}}}'
            )
            prov.append(sep + _dumps(p))
            words.append(question_words(lead + human))
            continue
        k = 3 * len(mc)
        mc.append(MCTurn(pend, lead))
        conv += [
            f'{sep}{{"from": "human", "value": ',
            k,
            '}, {"from": "gpt", "value": ',
            k + 1,
            "}",
        ]
        man += [
            f'{sep}{{"role": "user", "content": ',
            k,
            '}, {"role": "assistant", "content": ',
            k + 1,
            "}",
        ]
        # The provenance dict gains "options" and "letter" last: its text stays open at "}".
        prov += [sep + _dumps(p)[:-1], k + 2]
        # Word counts do not depend on the option order (option lines are all excluded).
        words.append(question_words(lead + _mc_text(pend, [*pend.wrong, pend.answer])))
    head = f'{{"id": {e(qid)}, '
    paths_json = _dumps(paths)
    prov_head = (
        f'{head}"spec": {e(spec)}, "task": {e(task)}, "images": {_dumps(images)}, "turns": ['
    )
    return Encoded(
        llava=_merge([f'{head}"image": {paths_json}, "conversations": [', *conv, "]}"]),
        mantis=(
            _merge([f'{head}"images": {paths_json}, "conversation": [', *man, "]}"])
            if mantis
            else None
        ),
        provenance=_merge([prov_head, *prov, "]}"]),
        mc=mc,
        words=words,
    )


def _mc_text(pend: Pending, options: list[str]) -> str:
    lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
    return f"{pend.text}\n{lines}\n{pend.connector}"


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Adjacent strings joined (a record without open turns becomes one string)."""
    out: list[Piece] = []
    for p in pieces:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        else:
            out.append(p)
    return out


def fill(enc: Encoded, placed: list[tuple[list[str], str]]) -> tuple[str, str | None, str]:
    """The llava, mantis and provenance JSON of a conversation, given each open turn's
    (options in order, correct letter)."""
    fills: list[str] = []
    for turn, (options, letter) in zip(enc.mc, placed, strict=True):
        human = turn.prefix + _mc_text(turn.pending, options)
        fills += [
            encode_basestring(human),
            encode_basestring(letter),
            f', "options": {_dumps(options)}, "letter": {encode_basestring(letter)}}}',
        ]
    return (
        _join(enc.llava, fills),
        _join(enc.mantis, fills) if enc.mantis is not None else None,
        _join(enc.provenance, fills),
    )


def _join(pieces: list[Piece], fills: list[str]) -> str:
    if len(pieces) == 1:
        return pieces[0]  # type: ignore[return-value]
    return "".join(p if isinstance(p, str) else fills[p] for p in pieces)
