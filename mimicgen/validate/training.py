"""``mimicgen validate`` for training sets (``manifest.json`` with ``"kind": "training"``).

Checks every conversation file against ``provenance.jsonl`` and re-derives every turn's answer
from the raw boxes with :mod:`mimicgen.validate.facts` and the eval checker's own rules
(:func:`mimicgen.validate.checks.derive_turn`; not the samplers, not ``mimicgen.tasks.derive``),
so eval and training validation apply one rule set. Also: placeholder counts, role alternation, image files, option letters
pointing at the answer text, disjointness from the excluded eval sets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mimicgen.bench.reader import BENCHMARK_FILE, read_manifest, read_records
from mimicgen.errors import InputError
from mimicgen.validate.checks import derive_turn
from mimicgen.validate.run import (
    SourceLoader,
    ValidationReport,
    default_source_loader,
    facts_by_spec,
)

__all__ = ["derive_turn", "validate_training_dir"]


def _roles_and_placeholders(turns: list[tuple[str, str]], n_images: int) -> list[str]:
    """Roles come as (role, text) pairs; human first, alternating; placeholders in turn 1 only."""
    out: list[str] = []
    for i, (role, _) in enumerate(turns):
        want = "human" if i % 2 == 0 else "gpt"
        if role != want:
            out.append(f"message {i} has role {role!r}, expected {want!r}")
    if len(turns) % 2:
        out.append("conversation ends on a human turn")
    counts = [text.count("<image>") for _, text in turns]
    if counts and counts[0] != n_images:
        out.append(f"first turn has {counts[0]} <image> placeholders for {n_images} images")
    if any(counts[1:]):
        out.append("<image> placeholders outside the first turn")
    return out


def _check_turn(turn: Mapping[str, Any], gpt: str, derived: str | None) -> list[str]:
    out: list[str] = []
    answer = turn["answer"]
    if "options" in turn:
        letter = turn["letter"]
        opts = turn["options"]
        idx = ord(letter) - ord("A")
        if not 0 <= idx < len(opts) or opts[idx] != answer:
            out.append(f"option {letter} does not hold the answer {answer!r}")
        if opts.count(answer) != 1:
            out.append(f"answer {answer!r} appears {opts.count(answer)} times among the options")
        if gpt != letter:
            out.append(f"reply {gpt!r} is not the correct letter {letter}")
    elif gpt != answer:
        out.append(f"reply {gpt!r} differs from the answer {answer!r}")
    if derived is None:
        out.append(f"{turn['task']} turn: the annotations do not determine a unique answer")
    elif derived != answer:
        out.append(f"{turn['task']} answer {answer!r} but the annotations give {derived!r}")
    return out


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg})") from None


def validate_training_dir(
    folder: Path, source_loader: SourceLoader | None = None
) -> ValidationReport:
    """Run every check on the training set in ``folder``."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("kind") != "training":
        raise InputError(f"{folder} is not a training set (manifest kind is not 'training')")
    prov = list(read_records(folder / "provenance.jsonl"))
    by_id = {p["id"]: p for p in prov}
    out: list[str] = []
    convs: dict[str, list[tuple[str, list[tuple[str, str]], list[str]]]] = {}
    if (folder / "llava.jsonl").is_file():
        convs["llava.jsonl"] = [
            (r["id"], [(m["from"], m["value"]) for m in r["conversations"]], r["image"])
            for r in read_records(folder / "llava.jsonl")
        ]
    if (folder / "llava.json").is_file():
        convs["llava.json"] = [
            (r["id"], [(m["from"], m["value"]) for m in r["conversations"]], r["image"])
            for r in _load_json(folder / "llava.json")
        ]
    if (folder / "mantis.json").is_file():
        roles = {"user": "human", "assistant": "gpt"}
        convs["mantis.json"] = [
            (
                r["id"],
                [(roles.get(m["role"], m["role"]), m["content"]) for m in r["conversation"]],
                r["images"],
            )
            for r in _load_json(folder / "mantis.json")
        ]
    if not convs:
        raise InputError(f"{folder} holds no llava.json, llava.jsonl or mantis.json")
    check_files = manifest.get("images", "copy") != "none"
    for fname, rows in convs.items():
        if len(rows) != len(prov):
            out.append(f"{fname}: {len(rows)} conversations but {len(prov)} provenance rows")
        for cid, turns, paths in rows:
            p = by_id.get(cid)
            if p is None:
                out.append(f"{fname} {cid}: not in provenance.jsonl")
                continue
            out += [f"{fname} {cid}: {v}" for v in _roles_and_placeholders(turns, len(paths))]
            if paths != [i["path"] for i in p["images"]]:
                out.append(f"{fname} {cid}: image list differs from provenance")
            if check_files:
                out += [
                    f"{fname} {cid}: missing image {x}" for x in paths if not (folder / x).is_file()
                ]
            gpts = [t for role, t in turns if role == "gpt"]
            if len(gpts) != len(p["turns"]):
                out.append(f"{fname} {cid}: {len(gpts)} replies for {len(p['turns'])} turns")
    out += _check_answers(
        manifest, prov, source_loader or default_source_loader(), convs[next(iter(convs))]
    )
    out += _check_disjoint(manifest, prov)
    return ValidationReport(len(prov), out)


def _check_answers(
    manifest: dict[str, Any],
    prov: list[dict[str, Any]],
    loader: SourceLoader,
    rows: list[tuple[str, list[tuple[str, str]], list[str]]],
) -> list[str]:
    out: list[str] = []
    replies = {cid: [t for role, t in turns if role == "gpt"] for cid, turns, _ in rows}
    for name, group, facts in facts_by_spec(manifest, prov, loader):
        if facts is None:
            out.append(f"provenance names spec {name!r} that the manifest does not hold")
            continue
        for p in group:
            imgs = [facts.images[str(i["source_id"])] for i in p["images"]]
            for turn, gpt in zip(p["turns"], replies.get(p["id"], []), strict=False):
                out += [
                    f"{p['id']}: {v}"
                    for v in _check_turn(turn, gpt, derive_turn(turn, facts, imgs))
                ]
    return out


def _check_disjoint(manifest: dict[str, Any], prov: list[dict[str, Any]]) -> list[str]:
    used = {str(i["source_id"]) for p in prov for i in p["images"]}
    out: list[str] = []
    for entry in manifest.get("excluded", []):
        bench = Path(entry["path"]) / BENCHMARK_FILE
        if not bench.is_file():
            continue  # the eval set moved; the manifest still records the overlap found
        theirs = {str(i["source_id"]) for r in read_records(bench) for i in r["images"]}
        if used & theirs:
            out.append(f"{len(used & theirs)} training images also appear in {entry['path']}")
    if manifest.get("overlap", 0) != 0:
        out.append(f"manifest records an overlap of {manifest['overlap']} with excluded sets")
    return out
