"""An independent checker for sampled queries, written against raw box lists.

It shares no code with mimicgen's index, presence rules or ``derive`` functions: it takes
``raw[source_id][class_name] = [(area_frac, is_group), ...]`` (built by the tests straight from
the annotation JSON or from the random boxes they generated) and re-checks every invariant of
docs/tasks.md for one query, returning a list of violations (empty = valid).
"""

from __future__ import annotations

from typing import Any

Raw = dict[Any, dict[str, list[tuple[float, bool]]]]


def _rec(box: tuple[float, bool], thr: float) -> bool:
    area, group = box
    # Exact float64 comparison of the raw area (the rule; no float32 rounding).
    return (not group) and area >= thr


def check_query(
    q: Any, raw: Raw, thr: float, members_of: dict[str, list[str]] | None = None
) -> list[str]:
    """Violations of the query's invariants (``q`` is a Query or its dict form)."""
    d = q if isinstance(q, dict) else q.model_dump()
    bad: list[str] = []
    imgs = d["images"]
    n = len(imgs)
    if sorted(i["position"] for i in imgs) != list(range(n)):
        bad.append("positions are not 0..n-1")
    if d["controls"].get("n_images") != n:
        bad.append("controls.n_images != number of images")
    if len({i["source_id"] for i in imgs}) != n:
        bad.append("an image repeats")
    boxes = [raw.get(i["source_id"], {}) for i in imgs]
    for i, b in zip(imgs, boxes, strict=True):
        for c, v in i["class_counts"].items():
            if v != len(b.get(c, [])):
                bad.append(f"class_counts[{c}]={v} but raw has {len(b.get(c, []))}")
    task = d["task"]
    if task == "counting":
        counts = d["answer"]["counts"]
        totals = {c: 0 for c in counts}
        for i, b in zip(imgs, boxes, strict=True):
            held = [c for c in counts if b.get(c)]
            if i["role"] == "distractor" and held:
                bad.append(f"distractor holds targets {held}")
            if i["role"] == "query" and not held:
                bad.append("query image holds no target")
            for c in held:
                if not all(_rec(x, thr) for x in b[c]):
                    bad.append(f"image holds small or group '{c}' instances")
                totals[c] += len(b[c])
        if totals != counts:
            bad.append(f"raw totals {totals} != answer {counts}")
        n_query = sum(i["role"] == "query" for i in imgs)
        if d["controls"]["spread"] != n_query or d["controls"]["distractors"] != n - n_query:
            bad.append("spread/distractors controls disagree with roles")
        if d["answer_text"] != (
            str(next(iter(counts.values())))
            if len(counts) == 1
            else ", ".join(f"{c}: {v}" for c, v in counts.items())
        ):
            bad.append("answer_text does not match counts")
    elif task == "common":
        ans = d["answer"]["class"]
        in_all = set(boxes[0])
        for b in boxes[1:]:
            in_all &= set(b)
        if in_all != {ans}:
            bad.append(f"classes present in all images {sorted(in_all)} != {{{ans!r}}}")
        if not all(any(_rec(x, thr) for x in b.get(ans, [])) for b in boxes):
            bad.append("answer not recognisable in every image")
    elif task == "odd_one":
        ans = d["answer"]["class"]
        m = d["controls"]["minority"]
        pres = {c: sum(1 for b in boxes if b.get(c)) for b0 in boxes for c in b0}
        recn = {c: sum(1 for b in boxes if any(_rec(x, thr) for x in b.get(c, []))) for c in pres}
        if pres.get(ans) != m or recn.get(ans) != m or 2 * m >= n:
            bad.append(f"answer present in {pres.get(ans)}, recognisable in {recn.get(ans)}")
        for c, p in pres.items():
            if c != ans and not (2 * p > n and (recn[c] == 0 or 2 * recn[c] > n)):
                bad.append(f"class {c!r} present in {p}/{n}, recognisable in {recn[c]}")
    elif task == "listing":
        assert members_of is not None
        members = set(members_of[d["controls"]["category"]])
        present = {c for b in boxes for c in b if c in members}
        seen = {c for b in boxes for c in b if c in members and any(_rec(x, thr) for x in b[c])}
        if present != seen:
            bad.append(f"members {sorted(present - seen)} present only ambiguously")
        if sorted(seen) != d["answer"]["classes"]:
            bad.append(f"recognisable members {sorted(seen)} != answer {d['answer']['classes']}")
        for i, b in zip(imgs, boxes, strict=True):
            held = [c for c in b if c in members]
            if i["role"] == "distractor" and held:
                bad.append(f"distractor holds members {held}")
            if i["role"] == "query" and not any(c in seen for c in held):
                bad.append("query image holds no recognisable member")
        if d["answer_text"] != ", ".join(d["answer"]["classes"]):
            bad.append("answer_text does not match classes")
    else:
        bad.append(f"unknown task {task}")
    return bad


def raw_from_coco_json(data: dict[str, Any]) -> tuple[Raw, dict[str, list[str]]]:
    """``raw`` boxes and supercategory members from a parsed COCO instances JSON."""
    names = {c["id"]: c["name"] for c in data["categories"]}
    members: dict[str, list[str]] = {}
    for c in data["categories"]:
        members.setdefault(c["supercategory"], []).append(c["name"])
    size = {im["id"]: im["width"] * im["height"] for im in data["images"]}
    raw: Raw = {im["id"]: {} for im in data["images"]}
    for a in data["annotations"]:
        _, _, w, h = a["bbox"]
        area = w * h / size[a["image_id"]]
        raw[a["image_id"]].setdefault(names[a["category_id"]], []).append(
            (area, bool(a["iscrowd"]))
        )
    return raw, members
