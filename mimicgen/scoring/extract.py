"""Answer-extraction pipelines: ``strict``, ``lenient`` and ``mimic`` (rules in docs/scoring.md).

Each pipeline is a set of small pure functions ``(prediction, query) -> Extraction``, one per
task, registered with :func:`register`. ``query`` is a :class:`QueryContext` (the question's
target classes, gold answer and the benchmark's class vocabulary). Nothing here guesses: when a
reply cannot be read, the status says so and the sample is scored wrong (no random fallback).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from mimicgen.scoring.kinds import TASKS, kind_of
from mimicgen.scoring.normalize import ClassVocabulary, normalize_text

__all__ = [
    "NUMBER_WORDS",
    "PARSED_STATUSES",
    "PIPELINES",
    "TASKS",
    "Extraction",
    "QueryContext",
    "extract",
    "get_extractor",
    "register",
]

PIPELINES: tuple[str, ...] = ("strict", "lenient", "mimic")

# Statuses that mean "an answer was read" (it may still be wrong); all others are parse failures.
PARSED_STATUSES = frozenset({"ok", "multiple_classes"})


class Extraction(NamedTuple):
    """What a pipeline read from a reply.

    ``value``: counting -> ``{class: int}``; common/odd-one -> class name (``multiple_classes``:
    the list of names); listing -> sorted tuple of items; yes/no (existence) -> ``"yes"`` or
    ``"no"``. ``status``: ``ok``, ``multiple_classes`` (read, but names several candidate
    classes: scored wrong), or a parse failure: ``empty``, ``no_number``, ``ambiguous``,
    ``incomplete``, ``no_class``, ``no_answer``.
    """

    value: Any
    status: str

    @property
    def parsed(self) -> bool:
        return self.status in PARSED_STATUSES


@dataclass(frozen=True, slots=True)
class QueryContext:
    """The parts of a benchmark record that extraction needs (cheap: no pydantic per sample)."""

    task: str
    """A registered task name."""
    targets: tuple[str, ...]
    """Counting: the asked classes in question order; listing: gold classes; else (gold,)."""
    gold: Any
    """The gold answer: ``{class: int}`` | tuple of classes | class name."""
    keys: tuple[str, ...]
    """``targets`` as the vocabulary's canonical names (what strict/lenient compare)."""
    vocab: ClassVocabulary
    """The benchmark's class vocabulary."""


Extractor = Callable[[str, QueryContext], Extraction]
_REGISTRY: dict[tuple[str, str], Extractor] = {}
_RESOLVED: dict[tuple[str, str], Extractor] = {}


def register(pipeline: str, *names: str) -> Callable[[Extractor], Extractor]:
    """Decorator: register ``fn`` as the extractor of ``pipeline`` for answer kinds (``count``,
    ``set``, ``class``, ``yesno``: every task of that kind) or task names (that task only,
    taking precedence over its kind's)."""

    def deco(fn: Extractor) -> Extractor:
        for name in names:
            if (pipeline, name) in _REGISTRY:
                raise ValueError(f"extractor for {pipeline}/{name} registered twice")
            _REGISTRY[(pipeline, name)] = fn
        _RESOLVED.clear()
        return fn

    return deco


def get_extractor(pipeline: str, task: str) -> Extractor:
    """The extractor of ``pipeline`` for ``task`` (its own, else its answer kind's); KeyError
    names the known pipelines."""
    hit = _RESOLVED.get((pipeline, task))
    if hit is not None:
        return hit
    fn = _REGISTRY.get((pipeline, task))
    if fn is None:
        try:
            fn = _REGISTRY.get((pipeline, kind_of(task)))
        except KeyError:
            fn = None
    if fn is None:
        raise KeyError(
            f"no extractor for pipeline {pipeline!r}, task {task!r}; "
            f"pipelines: {', '.join(PIPELINES)}"
        )
    _RESOLVED[(pipeline, task)] = fn
    return fn


def extract(pipeline: str, prediction: str, query: QueryContext) -> Extraction:
    """Run one pipeline on one reply."""
    return get_extractor(pipeline, query.task)(prediction, query)


# --------------------------------------------------------------------------- numbers
NUMBER_WORDS: dict[str, int] = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
NUMBER_WORDS["none"] = 0
_WORDS_ALT = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
# A number: digits not glued to letters/digits (so "1st", "3rd", "v2" and "2.5" are not counts),
# a number word, or "no" directly before a word ("no dogs"; not "No, ...").
_NUM = rf"(?:(?<![\w.])\d+(?![\w.]\d|\.?\w)|\b(?:{_WORDS_ALT})\b|\bno\b(?=\s+[a-z]))"
_STRONG_CUE = re.compile(
    rf"(?:\b(?:answer|total|sum|altogether|overall|final count|count)\b(?:\s+(?:is|are|would be|"
    rf"will be|equals|of|=))?\s*[:=]?\s*(?:approximately\s+|exactly\s+|about\s+)?(?P<a>{_NUM})"
    rf"|\b(?:number|count|total) of [a-z ]{{1,40}}?\s(?:is|are|=|:)\s*(?P<b>{_NUM})"
    rf"|(?P<c>{_NUM})\s+(?:[a-z]+\s+){{0,2}}?(?:in total|altogether|in all|total)\b)"
)
_WEAK_CUE = re.compile(
    rf"\b(?:there (?:are|is|were|was)|i (?:can )?(?:see|count|counted|found))\s+"
    rf"(?:a total of\s+|exactly\s+|only\s+)?(?P<n>{_NUM})"
)
_BOLD_NUM = re.compile(rf"\*\*\s*(?P<n>{_NUM})\s*[.]?\s*\*\*")
_FIRST_INT = re.compile(r"\d+")
# MIMIC's number words are the cardinals zero..twenty ("none"/"no" are not among them).
_MIMIC_ALT = "|".join(sorted((w for w in NUMBER_WORDS if w != "none"), key=len, reverse=True))
_MIMIC_WORD = re.compile(rf"\b(?:{_MIMIC_ALT})\b")
_MIMIC_TOKEN = re.compile(rf"\d+|\b(?:{_MIMIC_ALT})\b")


def _num_value(token: str) -> int:
    token = token.lower()
    if token == "no":
        return 0
    v = NUMBER_WORDS.get(token)
    return int(token) if v is None else v


# Tokens: words/numbers ("1st", "v2" and "3.5" stay one token, so they are not counts) and
# single punctuation marks (so "No, ..." is not the count "no").
_TOKEN = re.compile(r"\w+(?:\.\d+)?|[^\w\s]")
_IMAGE_WORDS = frozenset(
    [
        "image",
        "images",
        "img",
        "imgs",
        "picture",
        "pictures",
        "photo",
        "photos",
        "frame",
        "frames",
        "photograph",
        "photographs",
        "#",
    ]
)


def _numbers(text: str) -> list[int]:
    """All counts in reading order, skipping image references like "image 2" / "image #2".

    A token scan with dictionary look-ups: much faster than one big regex alternation.
    """
    tokens = _TOKEN.findall(text)
    out: list[int] = []
    prev = prev2 = ""
    last = len(tokens) - 1
    for i, tok in enumerate(tokens):
        if tok.isdigit() and tok.isascii():
            value: int | None = int(tok)
        elif tok in NUMBER_WORDS:
            value = NUMBER_WORDS[tok]
        elif tok == "no" and i < last and tokens[i + 1].isalpha():
            value = 0  # "no dogs"
        else:
            value = None
        if (
            value is not None
            and prev not in _IMAGE_WORDS
            and not (prev in ("no", "number") and prev2 in _IMAGE_WORDS)
        ):
            out.append(value)
        prev2, prev = prev, tok
    return out


_STRONG_WORDS = ("answer", "total", "sum", "altogether", "overall", "count", "number")
_WEAK_WORDS = ("there ", "i ")


def _cued_number(low: str) -> int | None:
    """The number an explicit cue points at: strong cue (last one), bold, or one weak value.

    Each regex runs only when its cue words occur (plain substring tests are much cheaper).
    """
    if any(w in low for w in _STRONG_WORDS):
        last = None
        for m in _STRONG_CUE.finditer(low):
            last = m.group("a") or m.group("b") or m.group("c")
        if last is not None:
            return _num_value(last)
    if "**" in low:
        bold = {_num_value(m.group("n")) for m in _BOLD_NUM.finditer(low)}
        if len(bold) == 1:
            return bold.pop()
    if any(w in low for w in _WEAK_WORDS):
        weak = {_num_value(m.group("n")) for m in _WEAK_CUE.finditer(low)}
        if len(weak) == 1:
            return weak.pop()
    return None


@lru_cache(maxsize=1024)
def _count_reading(prediction: str) -> tuple[str, int | None, int | None]:
    """(kind, value, last number) of a k = 1 reply; shared by strict and lenient (cached).

    kind: ``empty``, ``ok`` (a cue or a single distinct number), ``no_number`` or ``several``.
    """
    bare = prediction.strip().rstrip(".").strip()
    if bare.isascii() and bare.isdigit():  # the common case: a bare number
        return "ok", int(bare), None
    low = prediction.lower()
    if not bare:
        return "empty", None, None
    cued = _cued_number(low)
    if cued is not None:
        return "ok", cued, None
    nums = _numbers(low)
    if not nums:
        return "no_number", None, None
    if len(set(nums)) == 1:
        return "ok", nums[0], None
    return "several", None, nums[-1]


def _single_count(prediction: str, lenient: bool) -> tuple[int | None, str]:
    kind, value, last = _count_reading(prediction)
    if kind == "several":
        return (last, "ok") if lenient else (None, "ambiguous")
    return value, kind


# "<N> [up to two adjectives] <class>" ends right before a class mention; "<class>: <N>" follows
# one. Inside these, "no" needs no look-ahead: the class name follows it by construction.
_NUM_BEFORE = re.compile(
    rf"(?:(?<![\w.])(?P<d>\d+)|\b(?P<w>{_WORDS_ALT}|no))\s+(?:(?!and\b|or\b)[a-z]+\s+){{0,2}}?$"
)
_NUM_AFTER = re.compile(rf"\s*(?:[:=\-–]|\s(?:is|are|count is))\s*(?P<n>{_NUM})")


# The last (prediction, query) read by ``_class_statements`` and what it found: the strict and
# lenient pipelines read the same reply one after the other, so the second read is free.
_LAST_STATEMENTS: list[Any] = [None, None, None]


def _class_statements(
    prediction: str, query: QueryContext
) -> tuple[str, dict[str, list[tuple[int, int]]]]:
    """The normalised reply and, per asked class key, its (position, count) statements.

    A pure function of its arguments; the result is shared read-only with the caller.
    """
    last = _LAST_STATEMENTS
    if last[0] is prediction and last[1] is query:
        return last[2]
    # Keep ':' and '=' so "dog: 2" still reads as a class/count pair.
    low = _normalize_keep_colon(prediction.lower().replace(" - ", ": ").replace("\n", " ; "))
    found: dict[str, list[tuple[int, int]]] = {k: [] for k in query.keys}
    for start, end, cls in query.vocab.mention_spans(low):
        statements = found.get(cls)
        if statements is None:
            continue
        m = _NUM_BEFORE.search(low, 0, start)
        if m:
            statements.append((start, _num_value(m.group("d") or m.group("w"))))
        m = _NUM_AFTER.match(low, end)
        if m:
            statements.append((end, _num_value(m.group("n"))))
    last[:] = prediction, query, (low, found)
    return low, found


def _per_class_counts(prediction: str, query: QueryContext, lenient: bool) -> Extraction:
    if not prediction.strip():
        return Extraction(None, "empty")
    low, found = _class_statements(prediction, query)
    counts: dict[str, int] = {}
    status = "ok"
    for target, key in zip(query.targets, query.keys, strict=True):
        statements = found[key]
        values = {v for _, v in statements}
        if len(values) == 1:
            counts[target] = values.pop()
        elif values and lenient:
            counts[target] = max(statements)[1]  # the last statement about this class
        elif values:
            status = "ambiguous"
        elif status == "ok":
            status = "incomplete"
    if len(counts) == len(query.targets):
        return Extraction(counts, "ok")
    if lenient and not counts:
        nums = _numbers(low)
        if len(nums) == len(query.targets):
            # Bare "2, 3": assigned in the order the question names the classes.
            return Extraction(dict(zip(query.targets, nums, strict=True)), "ok")
    return Extraction(None, status)


_KEEP_COLON_NON_WORD = re.compile(r"[^\w&\s:=,;]+")
_MARKS = re.compile(r"[*`#\"]")


def _normalize_keep_colon(text: str) -> str:
    """Like :func:`normalize_text` but keeps ':' and '=' (class/count separators)."""
    text = _MARKS.sub(" ", text)
    text = re.sub(r"(?<=\w)[-‐](?=[a-z])", " ", text)
    text = _KEEP_COLON_NON_WORD.sub(" ", text)
    return " ".join(text.split())


def _counting(prediction: str, query: QueryContext, lenient: bool) -> Extraction:
    if len(query.targets) > 1:
        return _per_class_counts(prediction, query, lenient)
    value, status = _single_count(prediction, lenient)
    return Extraction(None if value is None else {query.targets[0]: value}, status)


@register("strict", "count")
def strict_counting(prediction: str, query: QueryContext) -> Extraction:
    """Cue ("answer: 7", "total of 7", **7**, "there are 7") > the only number; else failure."""
    return _counting(prediction, query, lenient=False)


@register("lenient", "count")
def lenient_counting(prediction: str, query: QueryContext) -> Extraction:
    """As strict, but several different numbers without a cue -> the last one."""
    return _counting(prediction, query, lenient=True)


@register("mimic", "count")
def mimic_counting(prediction: str, query: QueryContext) -> Extraction:
    """MIMIC's rule: int(reply), else the first number word, else the first integer."""
    text = prediction.strip()
    if not text:
        return Extraction(None, "empty")
    if len(query.targets) > 1:
        # Not defined by the released scorer: integers in reading order, matched by position.
        nums = [_num_value(x) for x in _MIMIC_TOKEN.findall(text.lower())]
        if len(nums) < len(query.targets):
            return Extraction(None, "no_number")
        return Extraction(dict(zip(query.targets, nums, strict=False)), "ok")
    try:
        return Extraction({query.targets[0]: int(text)}, "ok")
    except ValueError:
        pass
    m = _MIMIC_WORD.search(text.lower())
    if m:
        return Extraction({query.targets[0]: NUMBER_WORDS[m.group(0)]}, "ok")
    m = _FIRST_INT.search(text)
    if m:
        return Extraction({query.targets[0]: int(m.group(0))}, "ok")
    return Extraction(None, "no_number")


# --------------------------------------------------------------------------- one class
_CLASS_CUE = re.compile(
    r"\b(?:answer|class|category|object|odd one out|outlier|common (?:class|category|object))"
    r"\s*(?:is|would be|:|=)\s+(?P<tail>[^.\n;,]*)"
)
_BOLD_SPAN = re.compile(r"\*\*(?P<tail>[^*]+)\*\*")


@lru_cache(maxsize=1024)
def _mentions(vocab: ClassVocabulary, prediction: str) -> tuple[str, ...] | None:
    """Classes named in a reply (None: empty reply); cached, shared by strict and lenient."""
    norm = normalize_text(prediction)
    return tuple(vocab.mentions(norm)) if norm else None


def _one_class(prediction: str, query: QueryContext, lenient: bool) -> Extraction:
    named = _mentions(query.vocab, prediction)
    if named is None:
        return Extraction(None, "empty")
    if len(named) == 1:
        return Extraction(named[0], "ok")
    if lenient and len(named) > 1:
        # An explicit final-answer cue naming exactly one class decides ("... answer: dog").
        for pattern in (_CLASS_CUE, _BOLD_SPAN):
            spans = [m.group("tail") for m in pattern.finditer(prediction.lower())]
            if spans:
                cued = query.vocab.mentions(normalize_text(spans[-1]))
                if len(cued) == 1:
                    return Extraction(cued[0], "ok")
    if not named:
        return Extraction(None, "no_class")
    return Extraction(sorted(named), "multiple_classes")


@register("strict", "class")
def strict_one_class(prediction: str, query: QueryContext) -> Extraction:
    """Exactly one vocabulary class named (whole words, normalised); several -> wrong."""
    return _one_class(prediction, query, lenient=False)


@register("lenient", "class")
def lenient_one_class(prediction: str, query: QueryContext) -> Extraction:
    """As strict, but a cue ("answer: X", **X**) naming one class decides among several."""
    return _one_class(prediction, query, lenient=True)


@register("mimic", "class")
def mimic_one_class(prediction: str, query: QueryContext) -> Extraction:
    """MIMIC's rule: correct when the gold name is a substring of the lower-cased reply."""
    low = prediction.strip().lower()
    if not low:
        return Extraction(None, "empty")
    gold = query.targets[0]
    return Extraction(gold if gold.lower() in low else low, "ok")


# --------------------------------------------------------------------------- listing
_LIST_SPLIT = re.compile(r"\s*(?:[,;/\n|]|\band\b|&(?!\w))\s*")
_PREAMBLE = re.compile(r"^[^\n:]{0,120}:\s*(?=\S)")
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+", re.MULTILINE)
_PLACEHOLDER = "\x00{}\x00"


@lru_cache(maxsize=1024)
def _list_items(prediction: str, vocab: ClassVocabulary) -> tuple[str, ...]:
    """Split a reply into normalised items; class names containing "and" stay whole."""
    text = _BULLET.sub("", prediction.strip())
    text = _PREAMBLE.sub("", text, count=1)
    text = text.replace("**", "")
    low = text.lower()
    protected: list[str] = []
    pattern = vocab.separator_forms_re
    if pattern is not None:

        def keep(m: re.Match[str]) -> str:
            protected.append(m.group(0))
            return _PLACEHOLDER.format(len(protected) - 1)

        low = pattern.sub(keep, low)
    items = []
    for raw in _LIST_SPLIT.split(low):
        if "\x00" in raw:
            raw = re.sub("\x00(\\d+)\x00", lambda m: protected[int(m.group(1))], raw)
        item = normalize_text(raw)
        if item:
            items.append(item)
    return tuple(items)


def _listing(prediction: str, query: QueryContext, lenient: bool) -> Extraction:
    if not prediction.strip():
        return Extraction(None, "empty")
    vocab = query.vocab
    found: dict[str, None] = {}
    for item in _list_items(prediction, vocab):
        cls = vocab.lookup(item)
        if cls is not None:
            found.setdefault(cls, None)
        elif lenient:
            for named in vocab.mentions(item):  # "I also see a dog" -> dog; noise is dropped
                found.setdefault(named, None)
        else:
            found.setdefault(item, None)  # strict: an unknown item is a false positive
    if not found:
        return Extraction(None, "no_class")
    return Extraction(tuple(sorted(found)), "ok")


@register("strict", "set")
def strict_listing(prediction: str, query: QueryContext) -> Extraction:
    """Split on , ; / newlines "and"; each item must be a class name (else a false positive)."""
    return _listing(prediction, query, lenient=False)


@register("lenient", "set")
def lenient_listing(prediction: str, query: QueryContext) -> Extraction:
    """As strict, but items are searched for class names and unknown words are dropped."""
    return _listing(prediction, query, lenient=True)


@register("mimic", "set")
def mimic_listing(prediction: str, query: QueryContext) -> Extraction:
    """MIMIC's rule: split on ", ", strip, lower-case, exact match."""
    text = prediction.strip().lower()
    if not text:
        return Extraction(None, "empty")
    items = {p.strip() for p in text.split(", ") if p.strip()}
    return Extraction(tuple(sorted(items)), "ok")


# --------------------------------------------------------------------------- yes / no
_YES = frozenset({"yes", "yeah", "yep", "true"})
_NO = frozenset({"no", "nope", "false"})
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_YESNO_CUE = re.compile(r"\banswer\s*(?:is|would be|:|=)?\s*[:=]?\s*\**\s*(yes|no)\b")
# Negations first: they are cut out of the reply before the affirmations are looked for, so
# "doesn't contain" is not read as "contain".
_NEGATION = re.compile(
    r"\bthere (?:is|are|was|were)\s+(?:no|not|none)\b"
    r"|\bthere(?:'s| is| are)? ?(?:isn't|aren't|wasn't|weren't|is not|are not|s no)\b"
    r"|\b(?:isn't|aren't|is not|are not|not)\s+(?:present|visible|shown|there|any|seen|found)\b"
    r"|\b(?:can't|cannot|can not|couldn't|could not|don't|do not|didn't|did not)\s+"
    r"(?:see|find|spot|identify|detect|observe|be seen)\b"
    r"|\b(?:does not|doesn't|do not|don't|did not|didn't)\s+"
    r"(?:contain|show|include|appear|have|exist)\b"
    r"|\bnone of (?:the|these) (?:images|pictures|photos)\b|\bnowhere\b|\babsent\b"
    r"|\bno\s+(?!doubt\b)[a-z]+"
)
_AFFIRMATION = re.compile(
    r"\bthere(?:'s| is| are| was| were)\s+(?:a|an|one|some|several|many|two|three|\d+|at least)\b"
    r"|\bi (?:can )?(?:see|spot|found|find|notice)\b"
    r"|\b(?:is|are|was|were) (?:present|visible|shown|seen)\b"
    r"|\b(?:contains?|shows?|includes?|appears?)\b"
)


def _yes_no_word(word: str) -> str | None:
    return "yes" if word in _YES else ("no" if word in _NO else None)


def _yes_no(prediction: str, lenient: bool) -> Extraction:
    low = _MARKS.sub(" ", prediction.lower()).strip()
    if not low:
        return Extraction(None, "empty")
    words = _WORD.findall(low)
    first = _yes_no_word(words[0]) if words else None
    if first is not None:
        return Extraction(first, "ok")  # "No, there isn't." -> no
    cues = _YESNO_CUE.findall(low)
    if cues:
        return Extraction(cues[-1], "ok")
    if lenient:
        neg = bool(_NEGATION.search(low))
        pos = bool(_AFFIRMATION.search(_NEGATION.sub(" ", low)))
        if neg != pos:
            return Extraction("no" if neg else "yes", "ok")
        if neg:
            return Extraction(None, "ambiguous")
    return Extraction(None, "no_answer")


@register("strict", "yesno")
def strict_yes_no(prediction: str, query: QueryContext) -> Extraction:
    """The reply opens with yes / no (or "true" / "false", "yeah", "nope"), or states "answer:
    yes|no"; anything else is a parse failure."""
    return _yes_no(prediction, lenient=False)


@register("lenient", "yesno")
def lenient_yes_no(prediction: str, query: QueryContext) -> Extraction:
    """As strict, then a sentence that denies ("there is no dog", "I can't see any", "none of
    the images") or affirms ("there is a dog", "image 2 shows one"); both -> ambiguous."""
    return _yes_no(prediction, lenient=True)


@register("mimic", "yesno")
def mimic_yes_no(prediction: str, query: QueryContext) -> Extraction:
    """Not in the released scorer (it has no yes/no task); in its substring spirit: the first
    whole word "yes" or "no" of the lower-cased reply, else the reply itself (wrong)."""
    low = prediction.strip().lower()
    if not low:
        return Extraction(None, "empty")
    m = re.search(r"\b(yes|no)\b", low)
    return Extraction(m.group(1) if m else low, "ok")
