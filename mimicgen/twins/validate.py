"""``mimicgen validate`` for twin families: twins share their base's evidence and differ only in
the declared control (docs/tasks.md "Twins").

Twins with source images only (order, added distractors, spread) are also re-derived from the
source annotations like any record (:mod:`mimicgen.validate.checks`); twins with generated
images (blank, noise, stitched) have no source facts of their own, so they are checked entry by
entry against their base, which is re-derived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["family_violations", "has_generated_images"]

#: Keys a twin shares with its base whatever its control.
_SHARED = ("task", "question", "template", "spec")
_ENTRY = ("source_id", "role", "class_counts")


def has_generated_images(rec: Mapping[str, Any]) -> bool:
    """Does the record show generated images (so the source-fact checks do not apply)?"""
    return any("content" in img for img in rec.get("images", ()))


def _entries(rec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return sorted(rec["images"], key=lambda i: i["position"])


def _key(img: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(img.get(k) for k in _ENTRY) + (img.get("path"),)


def _zero_answer(base: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The answer without any content: counting 0 per class, existence *no* (None: none)."""
    if base["task"] == "counting":
        counts = {c: 0 for c in base["answer"]["counts"]}
        text = "0" if len(counts) == 1 else ", ".join(f"{c}: 0" for c in counts)
        return {"counts": counts}, text
    if base["task"] == "existence":
        return {"exists": False, "class": base["answer"]["class"]}, "no"
    return None


def _permute(rec: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    out = []
    got, want = _entries(rec), _entries(base)
    if sorted(map(repr, map(_key, got))) != sorted(map(repr, map(_key, want))):
        out.append("an order twin holds other images (or other roles/counts) than its base")
    elif [_key(i) for i in got] == [_key(i) for i in want]:
        out.append("an order twin has its base's order")
    order = rec["twin"].get("order")
    if order is not None and (
        sorted(order) != list(range(len(want)))
        or [i["source_id"] for i in got] != [want[j]["source_id"] for j in order]
    ):
        out.append(f"twin.order {order} does not give the images' order")
    if rec["controls"] != base["controls"] or rec["answer"] != base["answer"]:
        out.append("an order twin changes controls or answer")
    return out


def _distractors(rec: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    out = []
    got, want = _entries(rec), _entries(base)
    added = rec["twin"].get("added")
    if not isinstance(added, int) or added < 1 or len(got) != len(want) + added:
        return [f"twin.added {added!r} but {len(got) - len(want)} images were added"]
    if [_key(i) for i in got[: len(want)]] != [_key(i) for i in want]:
        out.append("the base's images are not kept in place before the added distractors")
    if any(i["role"] != "distractor" for i in got[len(want) :]):
        out.append("an added image is not a distractor")
    used = {str(i["source_id"]) for i in want}
    if any(str(i["source_id"]) in used for i in got[len(want) :]):
        out.append("an added distractor repeats a base image")
    want_ctl = dict(base["controls"], n_images=len(got))
    if "distractors" in want_ctl:
        want_ctl["distractors"] = base["controls"]["distractors"] + added
    if rec["controls"] != want_ctl:
        out.append(f"controls {rec['controls']} differ from the base's by more than {added} added")
    if rec["answer"] != base["answer"]:
        out.append("a distractor twin changes the answer")
    return out


def _spread(rec: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    out = []
    s = rec["twin"].get("spread")
    n_query = sum(i["role"] == "query" for i in rec["images"])
    if n_query != s or rec["controls"].get("spread") != s:
        out.append(f"twin.spread {s!r} but {n_query} query images")
    if len(rec["images"]) != len(base["images"]):
        out.append("a spread twin changes n_images")
    rest = {k: v for k, v in rec["controls"].items() if k not in ("spread", "distractors")}
    if rest != {k: v for k, v in base["controls"].items() if k not in ("spread", "distractors")}:
        out.append("a spread twin changes controls other than spread")
    if rec["answer"] != base["answer"]:
        out.append("a spread twin changes the total")
    return out


def _content_free(rec: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    out = []
    kind, scope = rec["twin"]["control"], rec["twin"].get("scope")
    got, want = _entries(rec), _entries(base)
    if scope not in ("all", "distractors") or len(got) != len(want):
        return [f"twin.scope {scope!r} or the number of images does not match the base"]
    zero = _zero_answer(base)
    zeros = {c: 0 for c in want[0]["class_counts"]} if zero is not None else None
    for new, old in zip(got, want, strict=True):
        replace = scope == "all" or old["role"] == "distractor"
        if not replace:
            if new != old:
                out.append(f"image {new['position']} is changed but the twin replaces {scope}")
            continue
        if new.get("content") != kind or not new["path"].startswith("images/twins/"):
            out.append(f"image {new['position']} is not a generated {kind} image")
        if (new["source_id"], new["role"], new["position"]) != (
            old["source_id"], old["role"], old["position"],
        ):  # fmt: skip
            out.append(f"image {new['position']} does not stand in for the base's image")
        want_counts = {c: 0 for c in old["class_counts"]} if zeros is not None else {}
        if new["class_counts"] != want_counts:
            out.append(f"image {new['position']} class_counts {new['class_counts']} are not empty")
    declared = rec["twin"].get("answer")
    if scope == "all" and zero is not None:
        ok = declared == "content_free" and (rec["answer"], rec["answer_text"]) == zero
    else:
        expect = "guess" if scope == "all" else "unchanged"
        ok = declared == expect and (rec["answer"], rec["answer_text"]) == (
            base["answer"], base["answer_text"],
        )  # fmt: skip
    if not ok:
        out.append(f"answer {rec['answer']} ({declared}) does not follow the {kind}-{scope} rule")
    if rec["controls"] != base["controls"]:
        out.append("a content-free twin changes controls")
    return out


def _stitch(rec: Mapping[str, Any], base: Mapping[str, Any]) -> list[str]:
    if len(rec["images"]) != 1 or rec["images"][0].get("content") != "stitch":
        return ["a stitched twin has one generated image"]
    img = rec["images"][0]
    cells = img.get("cells") or []
    want = [
        {k: i[k] for k in ("source_id", "position", "role", "class_counts")} for i in _entries(base)
    ]
    out = []
    if cells != want:
        out.append("the stitched grid's cells are not the base's images in order")
    total: dict[str, int] = {}
    for cell in want:
        for c, v in cell["class_counts"].items():
            total[c] = total.get(c, 0) + v
    if img["class_counts"] != total:
        out.append("the stitched image's class_counts are not the cells' sums")
    rows, cols = rec["twin"].get("grid", (0, 0))
    if rows * cols < len(want):
        out.append(f"grid {rows}x{cols} cannot hold {len(want)} images")
    if rec["answer"] != base["answer"] or rec["controls"] != base["controls"]:
        out.append("a stitched twin changes the answer or controls")
    return out


_CHECKS = {
    "permute": _permute,
    "distractors": _distractors,
    "spread": _spread,
    "blank": _content_free,
    "noise": _content_free,
    "stitch": _stitch,
}


def family_violations(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every family has one base (whose id is the family) and every twin differs from it only
    as its control declares; ``<id>: message`` lines."""
    members = [r for r in records if "family" in r]
    if not members:
        return []
    bases: dict[str, Mapping[str, Any]] = {}
    out: list[str] = []
    for r in members:
        if r.get("variant") == "base":
            fam = str(r["family"])
            if fam in bases:
                out.append(f"{r['id']}: family {fam} has two base records")
            if str(r["id"]) != fam or (r.get("twin") or {}).get("control") != "base":
                out.append(f"{r['id']}: a base record's id and twin.control must be its family")
            bases[fam] = r
    for r in members:
        if r.get("variant") == "base":
            continue
        rid, fam = str(r["id"]), str(r["family"])
        base = bases.get(fam)
        if base is None:
            out.append(f"{rid}: family {fam} has no base record")
            continue
        twin = r.get("twin") or {}
        control = twin.get("control")
        problems = []
        if rid != f"{fam}~{r['variant']}" or str(r["variant"]).split("-")[0] != control:
            problems.append(f"id, variant {r['variant']!r} and twin.control {control!r} disagree")
        changed = [k for k in _SHARED if r.get(k) != base.get(k)]
        if changed:
            problems.append(f"{', '.join(changed)} differ from the base's")
        check = _CHECKS.get(str(control))
        if check is None:
            problems.append(f"unknown twin control {control!r}")
        else:
            problems += check(r, base)
        out += [f"{rid}: {p}" for p in problems]
    return out
