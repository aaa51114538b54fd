"""Per-record checks: re-derive each answer from :class:`SourceFacts`, never from the samplers.

Each task's :class:`TaskChecker` takes one ``benchmark.jsonl`` record and returns violation
messages (empty when the record is valid), and re-derives a training turn's answer with the
same rules, so eval and training validation cannot drift apart. The rules are SPEC §2, written
as directly as possible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from mimicgen.validate.facts import ImageFacts, SourceFacts

__all__ = ["CHECKERS", "TASK_ROLES", "TaskChecker", "check_record", "derive_turn"]

_PLACEHOLDER = re.compile(r"<[a-z_]+>|\{[a-z_]*\}")


def _structure(rec: Mapping[str, Any], facts: SourceFacts) -> list[str]:
    """Positions, roles, counts of images, ids in the source, placeholders, class_counts."""
    out: list[str] = []
    images = rec["images"]
    positions = [img["position"] for img in images]
    if positions != list(range(len(images))):
        out.append(f"image positions are {positions}, expected 0..{len(images) - 1} in order")
    if rec["controls"].get("n_images") != len(images):
        out.append(f"controls.n_images={rec['controls'].get('n_images')} but {len(images)} images")
    bad_roles = {img["role"] for img in images} - TASK_ROLES.get(rec["task"], set())
    if bad_roles:
        out.append(f"role(s) {sorted(bad_roles)} not allowed for task {rec['task']}")
    if _PLACEHOLDER.search(rec["question"]):
        out.append(f"unfilled placeholder in question {rec['question']!r}")
    if "<image>" in rec["question"]:
        out.append("eval questions carry no <image> tokens (harness exports add them)")
    for img in images:
        fact = facts.images.get(str(img["source_id"]))
        if fact is None:
            out.append(f"image {img['source_id']!r} is not in the source annotations")
            continue
        if not img["path"].endswith(fact.file_name):
            out.append(
                f"image {img['source_id']!r} path {img['path']} is not its file {fact.file_name}"
            )
        for cls, n in img["class_counts"].items():
            if n != fact.boxes.get(cls, 0):
                out.append(
                    f"image {img['source_id']!r} class_counts[{cls!r}]={n}, annotations have "
                    f"{fact.boxes.get(cls, 0)} boxes"
                )
    return out


def _answer_text(rec: Mapping[str, Any]) -> list[str]:
    """The canonical string must mention every answer value."""
    ans = rec["answer"]
    text = rec["answer_text"].lower()
    if "exists" in ans:  # yes / no: the text is exactly the answer word
        want = "yes" if ans["exists"] else "no"
        return [] if text == want else [f"answer_text {rec['answer_text']!r} is not {want!r}"]
    values = (
        [str(v) for v in ans["counts"].values()]
        if "counts" in ans
        else (ans["classes"] if "classes" in ans else [ans["class"]])
    )
    missing = [v for v in values if v.lower() not in text]
    return [f"answer_text {rec['answer_text']!r} does not state {missing}"] if missing else []


def _seen(imgs: list[ImageFacts]) -> set[str]:
    """Every class annotated (box or present label) in any of the images."""
    return set().union(*(set(i.boxes) | i.labels_present for i in imgs)) if imgs else set()


def _count_problems(facts: SourceFacts, imgs: list[ImageFacts], cls: str) -> list[str]:
    """Why the images' total of ``cls`` would be ambiguous (empty: it is exact): an image
    holds it without a recognisable instance (only small or group boxes, or a label), or with
    an instance that cannot be counted."""
    return [
        f"image at position {p} holds {cls!r} it cannot count"
        for p, img in enumerate(imgs)
        if facts.present(img, cls)
        and not (facts.countable(img, cls) and facts.recognisable(img, cls))
    ]


def _total(imgs: list[ImageFacts], cls: str) -> int:
    return sum(img.recognisable.get(cls, 0) for img in imgs)


def _counting(rec: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]) -> list[str]:
    out: list[str] = []
    targets = list(rec["answer"]["counts"])
    roles = [img["role"] for img in rec["images"]]
    for pos, (img, role) in enumerate(zip(imgs, roles)):
        if role == "distractor":
            held = [c for c in targets if not facts.absent(img, c)]
            if held:
                out.append(f"distractor at position {pos} holds target class(es) {held}")
        else:
            unclear = [c for c in targets if not facts.countable(img, c)]
            if unclear:
                out.append(f"query image at position {pos} has small/group boxes of {unclear}")
            if not any(facts.recognisable(img, c) for c in targets):
                out.append(f"query image at position {pos} holds no target instance")
    for cls in targets:
        truth = _total(imgs, cls)
        if rec["answer"]["counts"][cls] != truth:
            out.append(
                f"count of {cls!r} is {rec['answer']['counts'][cls]}, annotations give {truth}"
            )
    expect = {
        "spread": roles.count("query"),
        "distractors": roles.count("distractor"),
        "k": len(targets),
        "total": sum(rec["answer"]["counts"].values()),
    }
    per_class = rec["controls"].get("total_per_class")
    if per_class is not None and set(rec["answer"]["counts"].values()) != {per_class}:
        out.append(
            f"controls.total_per_class={per_class} but the per-class counts are "
            f"{rec['answer']['counts']}"
        )
    return out + _control_mismatches(rec, expect)


def _derive_counting(
    turn: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]
) -> str | None:
    classes = list(turn.get("classes") or [])
    if not classes or any(_count_problems(facts, imgs, c) for c in classes):
        return None
    if len(classes) == 1:
        return str(_total(imgs, classes[0]))
    return ", ".join(f"{c}: {_total(imgs, c)}" for c in classes)


def _listed(
    facts: SourceFacts, imgs: list[ImageFacts], members: set[str]
) -> tuple[set[str], set[str]]:
    """(members recognisable in some image, members present only as small/group boxes)."""
    recognised = {c for c in members if any(facts.recognisable(i, c) for i in imgs)}
    ambiguous = {c for c in members if any(facts.present(i, c) for i in imgs)} - recognised
    return recognised, ambiguous


def _listing(rec: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]) -> list[str]:
    out: list[str] = []
    node = rec["controls"].get("category")
    members = facts.members(node) if node else set()
    if not members:
        return [f"listing category {node!r} has no member classes in the source hierarchy"]
    recognised, ambiguous = _listed(facts, imgs, members)
    answer = set(rec["answer"]["classes"])
    if answer != recognised:
        out.append(f"listed {sorted(answer)}, annotations give {sorted(recognised)}")
    if ambiguous:
        out.append(f"member class(es) {sorted(ambiguous)} present only as small/group boxes")
    for pos, (img, role) in enumerate(zip(imgs, (i["role"] for i in rec["images"]))):
        held = [c for c in members if not facts.absent(img, c)]
        if role == "distractor" and held:
            out.append(f"distractor at position {pos} holds member class(es) {sorted(held)}")
        if role == "query" and not held:
            out.append(f"query image at position {pos} holds no member class")
    return out


def _derive_listing(
    turn: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]
) -> str | None:
    recognised, ambiguous = _listed(facts, imgs, facts.members(str(turn.get("category"))))
    return ", ".join(sorted(recognised)) if recognised and not ambiguous else None


def _common_problems(facts: SourceFacts, imgs: list[ImageFacts], cls: str) -> list[str]:
    """Why ``cls`` is not the one common class of the images (empty: it is)."""
    out: list[str] = []
    missing = [p for p, img in enumerate(imgs) if not facts.recognisable(img, cls)]
    if missing:
        out.append(f"common class {cls!r} not recognisable at position(s) {missing}")
    present = [{c for c in set(i.boxes) | i.labels_present if facts.present(i, c)} for i in imgs]
    others = sorted(set.intersection(*present) - {cls}) if present else []
    if others:
        out.append(f"not unique: {others} also present in every image")
    return out


def _common(rec: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]) -> list[str]:
    return _common_problems(facts, imgs, rec["answer"]["class"])


def _derive_common(
    turn: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]
) -> str | None:
    found = [c for c in sorted(_seen(imgs)) if not _common_problems(facts, imgs, c)]
    return found[0] if len(found) == 1 else None


def _odd_problems(facts: SourceFacts, imgs: list[ImageFacts], cls: str) -> list[str]:
    """Why ``cls`` is not the one odd class of the images (empty: it is)."""
    out: list[str] = []
    n = len(imgs)
    holders = [p for p, img in enumerate(imgs) if facts.present(img, cls)]
    if not holders or 2 * len(holders) >= n:
        out.append(f"odd class {cls!r} present in {len(holders)} of {n} images, not a minority")
    unclear = [p for p in holders if not facts.recognisable(imgs[p], cls)]
    if unclear:
        out.append(f"odd class {cls!r} not recognisable at position(s) {unclear}")
    for other in sorted(_seen(imgs) - {cls}):
        k = sum(facts.present(i, other) for i in imgs)
        k_rec = sum(facts.recognisable(i, other) for i in imgs)
        # Unique under both readings: present in a strict majority, and recognisable in a
        # strict majority or nowhere (else counting only recognisable instances finds a
        # second odd class).
        if 2 * k <= n or (k_rec and 2 * k_rec <= n):
            out.append(
                f"not unique: {other!r} present in {k} and recognisable in {k_rec} of {n} images"
            )
    return out


def _odd_one(rec: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]) -> list[str]:
    out = _odd_problems(facts, imgs, rec["answer"]["class"])
    holders = sum(facts.present(img, rec["answer"]["class"]) for img in imgs)
    if "minority" in rec["controls"] and holders != rec["controls"]["minority"]:
        n_unique = sum(v.startswith("not unique") for v in out)  # keep those last
        out.insert(
            len(out) - n_unique,
            f"odd class in {holders} images, controls.minority is {rec['controls']['minority']}",
        )
    return out


def _derive_odd_one(
    turn: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]
) -> str | None:
    minority = int(turn.get("minority", 1))  # training turns ask for a single odd image
    found = [
        c
        for c in sorted(_seen(imgs))
        if sum(facts.present(i, c) for i in imgs) == minority and not _odd_problems(facts, imgs, c)
    ]
    return found[0] if len(found) == 1 else None


def _exists(facts: SourceFacts, imgs: list[ImageFacts], cls: str) -> bool | None:
    """Yes when ``cls`` is recognisable somewhere, no when absent everywhere, else None."""
    if any(facts.recognisable(i, cls) for i in imgs):
        return True
    if all(facts.absent(i, cls) for i in imgs):
        return False
    return None


def _existence(rec: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]) -> list[str]:
    out: list[str] = []
    cls, claimed = rec["answer"]["class"], rec["answer"]["exists"]
    truth = _exists(facts, imgs, cls)
    if truth is None:
        out.append(f"{cls!r} is neither recognisable anywhere nor absent everywhere")
    elif truth != claimed:
        out.append(f"answer exists={claimed} but the annotations give exists={truth}")
    roles = [img["role"] for img in rec["images"]]
    for pos, (img, role) in enumerate(zip(imgs, roles)):
        if role == "distractor" and not facts.absent(img, cls):
            out.append(f"distractor at position {pos} holds {cls!r}")
        if role == "query" and not facts.recognisable(img, cls):
            out.append(f"query image at position {pos} holds no recognisable {cls!r}")
    expect = {"spread": roles.count("query"), "distractors": roles.count("distractor")}
    return out + _control_mismatches(rec, expect)


def _derive_existence(
    turn: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]
) -> str | None:
    classes = list(turn.get("classes") or [])
    truth = _exists(facts, imgs, classes[0]) if len(classes) == 1 else None
    return None if truth is None else ("yes" if truth else "no")


class TaskChecker(NamedTuple):
    """The validator's own rules for one task (SPEC §2), shared by eval and training checks."""

    roles: frozenset[str]
    """Image roles the task may use."""
    check: Callable[[Mapping[str, Any], SourceFacts, list[ImageFacts]], list[str]]
    """Violations of one ``benchmark.jsonl`` record."""
    derive: Callable[[Mapping[str, Any], SourceFacts, list[ImageFacts]], str | None]
    """A training turn's answer text from its images (None: no unique answer)."""


#: Per task: the independent checker. Deliberately not derived from the task registry or
#: ``mimicgen.tasks.derive``: a bug in the samplers' rules must not hide the same bug here.
CHECKERS: dict[str, TaskChecker] = {
    "counting": TaskChecker(frozenset({"query", "distractor"}), _counting, _derive_counting),
    "listing": TaskChecker(frozenset({"query", "distractor"}), _listing, _derive_listing),
    "common": TaskChecker(frozenset({"context", "query"}), _common, _derive_common),
    "odd_one": TaskChecker(frozenset({"context", "query"}), _odd_one, _derive_odd_one),
    "existence": TaskChecker(frozenset({"query", "distractor"}), _existence, _derive_existence),
}

#: Roles each task may use.
TASK_ROLES: dict[str, set[str]] = {task: set(c.roles) for task, c in CHECKERS.items()}


def derive_turn(turn: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]) -> str | None:
    """Recompute a training turn's answer text from the raw facts (None: the images do not
    determine one, or the task is unknown)."""
    checker = CHECKERS.get(turn["task"])
    return None if checker is None else checker.derive(turn, facts, imgs)


def check_record(rec: Mapping[str, Any], facts: SourceFacts) -> list[str]:
    """All violations of one record, each a short message."""
    if rec.get("task") not in CHECKERS:
        return [f"unknown task {rec.get('task')!r}"]
    out = _structure(rec, facts) + _answer_text(rec)
    imgs = [facts.images.get(str(i["source_id"])) for i in rec["images"]]
    if any(i is None for i in imgs):
        return out  # already reported; answers cannot be re-derived
    return out + CHECKERS[rec["task"]].check(rec, facts, [i for i in imgs if i is not None])


def _control_mismatches(rec: Mapping[str, Any], expect: Mapping[str, Any]) -> list[str]:
    """A line for each recorded control that differs from what the images give."""
    controls = rec["controls"]
    return [
        f"controls.{key}={controls[key]} but the images give {value}"
        for key, value in expect.items()
        if key in controls and controls[key] != value
    ]
