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
from collections.abc import Iterable
from functools import lru_cache

import inflect

from mimicgen.scoring.synonyms import SYNONYM_GROUPS

__all__ = ["ClassVocabulary", "normalize_text", "strip_article"]

_INFLECT = inflect.engine()
# Markdown emphasis/code/heading marks and quotes carry no meaning for the answer.
_MARKUP = re.compile(r"[*`#\"“”‘’]|(?<!\w)_|_(?!\w)")
_HYPHEN = re.compile(r"(?<=\w)[-‐–](?=\w)")
_NON_WORD = re.compile(r"[^\w&\s]+")
_SPACES = re.compile(r"\s+")
_ARTICLE = re.compile(r"^(?:the|a|an|some|one)\s+")


def normalize_text(text: str) -> str:
    """Lower-case; drop markdown marks and punctuation; hyphens become spaces; collapse spaces."""
    text = _MARKUP.sub(" ", text.lower())
    text = _HYPHEN.sub(" ", text)
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def strip_article(phrase: str) -> str:
    """Drop one leading article ("the dog" -> "dog") from an already normalised phrase."""
    return _ARTICLE.sub("", phrase, count=1)


@lru_cache(maxsize=4096)
def _inflections(name: str) -> tuple[str, ...]:
    """Plural and singular spellings of a normalised name (inflect, plus the regular +s)."""
    out = {name}
    plural = _INFLECT.plural_noun(name)
    if plural:
        out.add(plural)
    out.add(name + ("es" if name.endswith(("s", "x", "ch", "sh")) else "s"))
    singular = _INFLECT.singular_noun(name)
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
        out.add(_SPACES.sub(" ", name.replace("&", " and ")))
    return out


class ClassVocabulary:
    """All class names of one benchmark, with every surface form that maps to each of them.

    Canonical names win over derived forms; a derived form claimed by two classes is dropped
    (ambiguous), so matching never credits the wrong class.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names: tuple[str, ...] = tuple(sorted({str(n) for n in names}))
        # normalised canonical name -> display name (first in sorted order wins on collisions)
        self.canonical: dict[str, str] = {}
        for name in self.names:
            self.canonical.setdefault(normalize_text(name), name)
        derived: dict[str, set[str]] = {}
        for norm, name in self.canonical.items():
            for base in _spellings(norm):
                for form in _inflections(base):
                    derived.setdefault(form, set()).add(name)
        for group in SYNONYM_GROUPS:
            members = [self.canonical[g] for g in group if g in self.canonical]
            if len(set(members)) != 1:
                continue  # concept absent, or two vocabulary classes share it: ambiguous
            for alias in group:
                for base in _spellings(alias):
                    for form in _inflections(base):
                        derived.setdefault(form, set()).add(members[0])
        self.forms: dict[str, str] = {}
        for form, owners in derived.items():
            if form in self.canonical:
                self.forms[form] = self.canonical[form]
            elif len(owners) == 1:
                self.forms[form] = next(iter(owners))
        for norm, name in self.canonical.items():
            self.forms[norm] = name
        by_class: dict[str, list[str]] = {}
        for form, name in self.forms.items():
            by_class.setdefault(name, []).append(form)
        self._class_forms = {k: tuple(sorted(v, key=lambda s: (-len(s), s))) for k, v in by_class.items()}
        # Longest forms first so "wine glass" wins over "glass" at the same position.
        ordered = sorted(self.forms, key=lambda s: (-len(s), s))
        self._mention_re = (
            re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, ordered)) + r")(?!\w)")
            if ordered
            else None
        )

    def __len__(self) -> int:
        return len(self.names)

    def canonical_name(self, name: str) -> str:
        """The vocabulary's display name for a class name (itself when unknown)."""
        return self.forms.get(normalize_text(name), name)

    def forms_of(self, name: str) -> tuple[str, ...]:
        """Every normalised surface form of a class, longest first."""
        return self._class_forms.get(self.canonical_name(name), (normalize_text(name),))

    def lookup(self, phrase: str) -> str | None:
        """The class a whole phrase names ("The Dogs." -> "dog"), or None."""
        norm = normalize_text(phrase)
        return self.forms.get(norm) or self.forms.get(strip_article(norm))

    def mentions(self, normalized: str) -> list[str]:
        """Distinct classes named anywhere in *normalised* text, in order of first mention."""
        if self._mention_re is None:
            return []
        seen: dict[str, None] = {}
        for m in self._mention_re.finditer(normalized):
            seen.setdefault(self.forms[m.group(0)], None)
        return list(seen)

    def multiword_separator_forms(self) -> tuple[str, ...]:
        """Forms containing a listing separator word ("bow and arrow"), longest first."""
        return tuple(
            f for f in sorted(self.forms, key=lambda s: (-len(s), s)) if " and " in f or " or " in f
        )
