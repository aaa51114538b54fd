"""Per-record checks: re-derive each answer from :class:`SourceFacts`, never from the samplers.

Each ``check_*`` function takes one ``benchmark.jsonl`` record and returns violation messages
(empty when the record is valid). The rules are SPEC §2, written as directly as possible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mimicgen.validate.facts import ImageFacts, SourceFacts

__all__ = ["TASK_ROLES", "check_record"]

#: Roles each task may use.
TASK_ROLES: dict[str, set[str]] = {
    "counting": {"query", "distractor"},
    "listing": {"query", "distractor"},
    "common": {"context", "query"},
    "odd_one": {"context", "query"},
}
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
    values = (
        [str(v) for v in ans["counts"].values()]
        if "counts" in ans
        else (ans["classes"] if "classes" in ans else [ans["class"]])
    )
    missing = [v for v in values if v.lower() not in text]
    return [f"answer_text {rec['answer_text']!r} does not state {missing}"] if missing else []


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
        truth = sum(img.recognisable.get(cls, 0) for img in imgs)
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
    for key, value in expect.items():
        if key in rec["controls"] and rec["controls"][key] != value:
            out.append(f"controls.{key}={rec['controls'][key]} but the images give {value}")
    return out


def _listing(rec: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]) -> list[str]:
    out: list[str] = []
    node = rec["controls"].get("category")
    members = facts.members(node) if node else set()
    if not members:
        return [f"listing category {node!r} has no member classes in the source hierarchy"]
    recognised = {c for c in members if any(facts.recognisable(i, c) for i in imgs)}
    ambiguous = {c for c in members if any(facts.present(i, c) for i in imgs)} - recognised
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


def _common(rec: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]) -> list[str]:
    out: list[str] = []
    cls = rec["answer"]["class"]
    missing = [p for p, img in enumerate(imgs) if not facts.recognisable(img, cls)]
    if missing:
        out.append(f"common class {cls!r} not recognisable at position(s) {missing}")
    present = [{c for c in set(i.boxes) | i.labels_present if facts.present(i, c)} for i in imgs]
    others = sorted(set.intersection(*present) - {cls}) if present else []
    if others:
        out.append(f"not unique: {others} also present in every image")
    return out


def _odd_one(rec: Mapping[str, Any], facts: SourceFacts, imgs: list[ImageFacts]) -> list[str]:
    out: list[str] = []
    cls, n = rec["answer"]["class"], len(imgs)
    holders = [p for p, img in enumerate(imgs) if facts.present(img, cls)]
    if not holders or 2 * len(holders) >= n:
        out.append(f"odd class {cls!r} present in {len(holders)} of {n} images, not a minority")
    unclear = [p for p in holders if not facts.recognisable(imgs[p], cls)]
    if unclear:
        out.append(f"odd class {cls!r} not recognisable at position(s) {unclear}")
    if "minority" in rec["controls"] and len(holders) != rec["controls"]["minority"]:
        out.append(
            f"odd class in {len(holders)} images, controls.minority is "
            f"{rec['controls']['minority']}"
        )
    seen = set().union(*(set(i.boxes) | i.labels_present for i in imgs)) - {cls}
    for other in sorted(seen):
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


_TASKS = {"counting": _counting, "listing": _listing, "common": _common, "odd_one": _odd_one}


def check_record(rec: Mapping[str, Any], facts: SourceFacts) -> list[str]:
    """All violations of one record, each a short message."""
    if rec.get("task") not in _TASKS:
        return [f"unknown task {rec.get('task')!r}"]
    out = _structure(rec, facts) + _answer_text(rec)
    imgs = [facts.images.get(str(i["source_id"])) for i in rec["images"]]
    if any(i is None for i in imgs):
        return out  # already reported; answers cannot be re-derived
    return out + _TASKS[rec["task"]](rec, facts, [i for i in imgs if i is not None])
