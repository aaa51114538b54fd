"""Class-name normalisation and matching against a benchmark's class vocabulary.

A :class:`ClassVocabulary` knows every *surface form* of every class: the name itself, its plural
(via inflect: "person" -> "people", "knife" -> "knives"), its singular when the name is plural
("skis" -> "ski"), hyphen/space/joined spellings ("hot dog", "hot-dog", "hotdog"), and synonyms
from :data:`~mimicgen.scoring.synonyms.SYNONYM_GROUPS`. Text is matched after
:func:`normalize_text` (lower case, markdown and punctuation removed, leading articles dropped),
with whole-word boundaries, so "cat" never matches inside "category".
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from functools import lru_cache

from mimicgen.scoring.synonyms import SYNONYM_GROUPS

__all__ = ["ClassVocabulary", "normalize_text", "strip_article"]

# Punctuation, markdown marks (* _ ` #) and quotes become spaces ("&" is kept: "Kitchen & dining
# room table"); a translate table is far cheaper than chained regex substitutions.
_PUNCT = str.maketrans({c: " " for c in (set(string.punctuation) - {"&"}) | set("‐–—“”‘’…•")})
_NON_WORD = re.compile(r"[^\w&\s]+")
_ARTICLE = re.compile(r"^(?:the|a|an|some|one)\s+")


@lru_cache(maxsize=4096)
def normalize_text(text: str) -> str:
    """Lower-case; punctuation, markdown marks and hyphens become spaces; collapse spaces.

    Cached: the scorer runs every pipeline on one reply before moving to the next.
    """
    text = text.lower().translate(_PUNCT)
    if not text.isascii():
        text = _NON_WORD.sub(" ", text)  # other symbols (emoji, rare punctuation)
    return " ".join(text.split())


def strip_article(phrase: str) -> str:
    """Drop one leading article ("the dog" -> "dog") from an already normalised phrase."""
    return _ARTICLE.sub("", phrase, count=1)


@lru_cache(maxsize=4096)
def _inflections(name: str) -> tuple[str, ...]:
    """Plural and singular spellings of a normalised name (inflect, plus the regular +s)."""
    # Imported here: importing inflect costs seconds of CPU, and a vocabulary built from a
    # precomputed form table (the lmms-eval task folder's scorer) needs neither it nor mimicgen.
    from mimicgen.templates.render import inflect_engine

    out = {name}
    engine = inflect_engine()
    plural = engine.plural_noun(name)
    if plural:
        out.add(plural)
    out.add(name + ("es" if name.endswith(("s", "x", "ch", "sh")) else "s"))
    singular = engine.singular_noun(name)
    # inflect guesses wrongly on some singulars ("bus" -> "bu"); accept only real-looking words.
    if singular and len(singular) >= 3:
        out.add(singular)
    return tuple(sorted(out))


def _spellings(name: str) -> set[str]:
    """Spacing variants of a multi-word name: "hot dog" -> {"hot dog", "hotdog"}."""
    out = {name}
    if " " in name:
        out.add(name.replace(" ", ""))
    if "&" in name:
        out.add(" ".join(name.replace("&", " and ").split()))
    return out


def _surface_forms(name: str) -> list[str]:
    """Every spelling of a normalised name or synonym: spacing variants, each inflected."""
    return [form for base in _spellings(name) for form in _inflections(base)]


_WORD = re.compile(r"[\w&]+")


def _alternation(forms: list[str]) -> re.Pattern[str] | None:
    """Whole-word regex matching any of ``forms`` (pass them longest first)."""
    if not forms:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, forms)) + r")(?!\w)")


class ClassVocabulary:
    """All class names of one benchmark, with every surface form that maps to each of them.

    Canonical names win over derived forms; a derived form claimed by two classes is dropped
    (ambiguous), so matching never credits the wrong class.
    """

    def __init__(self, names: Iterable[str], forms: Mapping[str, str] | None = None) -> None:
        """``forms``: a surface-form table from another vocabulary's :attr:`forms` over the same
        names, used as is (no inflection); None derives it."""
        self.names: tuple[str, ...] = tuple(sorted({str(n) for n in names}))
        # normalised canonical name -> display name (first in sorted order wins on collisions)
        self.canonical: dict[str, str] = {}
        for name in self.names:
            self.canonical.setdefault(normalize_text(name), name)
        self.forms: dict[str, str] = dict(forms) if forms is not None else self._derive_forms()
        # Longest forms first so "wine glass" wins over "glass" at the same position.
        ordered = sorted(self.forms, key=lambda s: (-len(s), s))
        self._canonical_cache: dict[str, str] = {}
        self._multiword_starts = frozenset(f.split()[0] for f in self.forms if " " in f)
        self._max_words = max((len(f.split()) for f in self.forms), default=1)
        # Forms that contain a listing separator ("bow and arrow") are kept whole when splitting.
        self.separator_forms_re = _alternation([f for f in ordered if " and " in f or " or " in f])

    def _derive_forms(self) -> dict[str, str]:
        """Surface form -> class: inflections, spellings and synonyms of every class."""
        derived: dict[str, set[str]] = {}
        for norm, name in self.canonical.items():
            for form in _surface_forms(norm):
                derived.setdefault(form, set()).add(name)
        for group in SYNONYM_GROUPS:
            members = [self.canonical[g] for g in group if g in self.canonical]
            if len(set(members)) != 1:
                continue  # concept absent, or two vocabulary classes share it: ambiguous
            for alias in group:
                for form in _surface_forms(alias):
                    derived.setdefault(form, set()).add(members[0])
        forms: dict[str, str] = {}
        for form, owners in derived.items():
            if form in self.canonical:
                forms[form] = self.canonical[form]
            elif len(owners) == 1:
                forms[form] = next(iter(owners))
        for norm, name in self.canonical.items():
            forms[norm] = name
        return forms

    def __len__(self) -> int:
        return len(self.names)

    def canonical_name(self, name: str) -> str:
        """The vocabulary's display name for a class name (itself when unknown)."""
        found = self._canonical_cache.get(name)
        if found is None:
            found = self._canonical_cache[name] = self.forms.get(normalize_text(name), name)
        return found

    def lookup(self, phrase: str) -> str | None:
        """The class a whole phrase names ("The Dogs." -> "dog"), or None."""
        norm = normalize_text(phrase)
        return self.forms.get(norm) or self.forms.get(strip_article(norm))

    def mention_spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, class) of every class mention in text, left to right, longest first.

        Word n-grams are looked up in the form table (a multi-word form is tried only when its
        first word starts one), which is much faster than a regex alternation of all forms.
        """
        tokens = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
        forms, starts, longest = self.forms, self._multiword_starts, self._max_words
        out: list[tuple[int, int, str]] = []
        i, n = 0, len(tokens)
        while i < n:
            word = tokens[i][2]
            if word in starts:
                for size in range(min(longest, n - i), 1, -1):
                    cls = forms.get(" ".join(t[2] for t in tokens[i : i + size]))
                    if cls is not None:
                        out.append((tokens[i][0], tokens[i + size - 1][1], cls))
                        i += size
                        break
                else:
                    size = 0
                if size:
                    continue
            cls = forms.get(word)
            if cls is not None:
                out.append((tokens[i][0], tokens[i][1], cls))
            i += 1
        return out

    def mentions(self, normalized: str) -> list[str]:
        """Distinct classes named anywhere in *normalised* text, in order of first mention."""
        seen: dict[str, None] = {}
        for _, _, cls in self.mention_spans(normalized):
            seen.setdefault(cls, None)
        return list(seen)
