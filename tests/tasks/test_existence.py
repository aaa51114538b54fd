"""The existence task end to end: built on real COCO and re-checked from the raw annotation JSON
(plain ``json``, not the index or the samplers), validated, exported, scored by the three
pipelines and plotted; training turns validated."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.errors import SpecError
from mimicgen.registry import get_task, task_names
from mimicgen.scoring.check import check
from mimicgen.specs import spec_from_dict
from mimicgen.tasks.derive import AnswerError, ClassFact
from mimicgen.tasks.existence import existence_answer

runner = CliRunner()

SPEC = "task: existence\nnum_queries: 12\nn_images: [2, 4]\nspread: [1, 2]\nseed: 5\n"


def _records(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "benchmark.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def coco_build(coco_tiny, tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("exist")
    (tmp / "specs").mkdir()
    (tmp / "specs" / "exist.yaml").write_text(SPEC)
    ann = coco_tiny / "annotations" / "instances_val2017.json"
    out = tmp / "out"
    env = {"MIMICGEN_CACHE_DIR": str(tmp / "cache")}
    res = runner.invoke(
        app,
        ["build", str(tmp / "specs"), "--source", f"coco:{ann}", "--out", str(out)],
        env=env,
    )
    assert res.exit_code == 0, res.output
    return out, ann, env


def test_answers_recount_from_the_raw_coco_json(coco_build):  # type: ignore[no-untyped-def]
    out, ann, _ = coco_build
    raw = json.loads(ann.read_text())
    names = {c["id"]: c["name"] for c in raw["categories"]}
    size = {im["id"]: im["width"] * im["height"] for im in raw["images"]}
    boxes: dict[tuple[int, str], list[tuple[float, int]]] = {}
    for a in raw["annotations"]:
        frac = a["bbox"][2] * a["bbox"][3] / size[a["image_id"]]
        boxes.setdefault((a["image_id"], names[a["category_id"]]), []).append((frac, a["iscrowd"]))
    recs = _records(out)
    assert len(recs) == 12
    assert Counter(r["answer_text"] for r in recs) == {"yes": 6, "no": 6}  # block-balanced
    for r in recs:
        cls = r["answer"]["class"]
        held = [boxes.get((im["source_id"], cls), []) for im in r["images"]]
        recognisable = [any(f >= 0.05 and not crowd for f, crowd in b) for b in held]
        assert r["answer"]["exists"] == any(recognisable)
        assert r["answer_text"] == ("yes" if any(recognisable) else "no")
        for im, b, rec in zip(r["images"], held, recognisable, strict=True):
            assert im["class_counts"] == {cls: len(b)}
            # query images hold a recognisable instance; distractors no annotation at all
            assert rec if im["role"] == "query" else not b, (r["id"], im)
        n_query = sum(im["role"] == "query" for im in r["images"])
        assert r["controls"] == {
            "n_images": len(r["images"]),
            "spread": n_query,
            "distractors": len(r["images"]) - n_query,
        }
        assert (n_query == 0) == (not r["answer"]["exists"])
        assert r["question"].startswith(("Is there a", "Does any", "Can a", "Do these"))


def test_validate_passes_and_catches_a_flipped_answer(coco_build):  # type: ignore[no-untyped-def]
    out, _, env = coco_build
    res = runner.invoke(app, ["validate", str(out)], env=env)
    assert res.exit_code == 0 and res.stdout.strip() == "12 queries valid", res.output
    lines = (out / "benchmark.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["answer"]["exists"] = not rec["answer"]["exists"]
    rec["answer_text"] = "yes" if rec["answer"]["exists"] else "no"
    bad = out.parent / "bad"
    bad.mkdir()
    for f in out.iterdir():
        (bad / f.name).symlink_to(f)
    (bad / "benchmark.jsonl").unlink()
    (bad / "benchmark.jsonl").write_text("\n".join([json.dumps(rec), *lines[1:]]) + "\n")
    res = runner.invoke(app, ["validate", str(bad)], env=env)
    assert res.exit_code == 2
    assert "annotations give exists=" in res.output


def test_scored_by_every_pipeline_with_negations(coco_build, tmp_path):  # type: ignore[no-untyped-def]
    out, _, env = coco_build
    recs = _records(out)
    yes = next(r for r in recs if r["answer"]["exists"])
    no = next(r for r in recs if not r["answer"]["exists"])
    cls = no["answer"]["class"]
    # reply -> what (strict, lenient, mimic) read; None: a parse failure
    cases = {
        "No, there isn't.": ("no", "no", "no"),
        "yes": ("yes", "yes", "yes"),
        "**Yes.** Image 2 shows one.": ("yes", "yes", "yes"),
        f"There is no {cls} in these images.": (None, "no", "no"),
        f"I can't see any {cls}.": (None, "no", "i can't see any " + cls.lower() + "."),
        f"I can see a {cls} in the second image.": (None, "yes", None),
        "The answer is no": ("no", "no", "no"),
        f"There is a {cls}, but there is no dog.": (None, None, "no"),
        "": (None, None, None),
    }
    for reply, want in cases.items():
        for pipeline, expect in zip(("strict", "lenient", "mimic"), want, strict=True):
            res = check("existence", reply, no, pipeline)
            if expect is None and pipeline != "mimic":
                assert not res.parsed and not res.correct, (reply, pipeline, res)
            elif expect is not None:
                assert res.extracted == expect, (reply, pipeline, res)
                assert res.correct == (expect == "no"), (reply, pipeline)
    assert check("existence", "Yes, there is.", yes, "strict").correct
    assert not check("existence", "No.", yes, "lenient").correct

    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"id": r["id"], "prediction": f"{r['answer_text']}."}) + "\n" for r in recs
        )
    )
    report = tmp_path / "scores" / "report.json"
    res = runner.invoke(app, ["score", str(out), str(preds), "--out", str(report)], env=env)
    assert res.exit_code == 0, res.output
    data = json.loads(report.read_text())
    assert data["baselines"]["existence"]["chance"] == 0.5
    assert data["baselines"]["existence"]["majority"] == 0.5
    for pipeline in ("strict", "lenient", "mimic"):
        block = data["models"][0]["pipelines"][pipeline]["tasks"]["existence"]
        assert block["overall"]["accuracy"] == 1.0
        assert set(block["by"]["spread"]) == {"0", "1", "2"}

    figs = tmp_path / "figs"
    res = runner.invoke(
        app, ["plot", str(report), "--bench", str(out), "--out", str(figs)], env=env
    )
    assert res.exit_code == 0, res.output
    assert "<!-- existence · preds -->" in (figs / "query_images.svg").read_text()


_NO_MIMICGEN = """
import importlib.util, json, sys
sys.modules["mimicgen"] = None  # any import of mimicgen now raises ImportError
folder, replies = sys.argv[1], json.loads(sys.argv[2])
spec = importlib.util.spec_from_file_location("utils", folder + "/utils.py")
utils = importlib.util.module_from_spec(spec)
spec.loader.exec_module(utils)
docs = [json.loads(line) for line in open(folder + "/data/test.jsonl", encoding="utf-8")]
print(json.dumps([utils.process_results(d, [r]) for d, r in zip(docs, replies)]))
"""


def test_exports_carry_the_yes_no_answer(coco_build, tmp_path):  # type: ignore[no-untyped-def]
    out, _, env = coco_build
    res = runner.invoke(app, ["export", "vlmevalkit", str(out), str(tmp_path / "v")], env=env)
    assert res.exit_code == 0, res.output
    (tsv,) = (tmp_path / "v").glob("*.tsv")
    rows = tsv.read_text().splitlines()
    header = rows[0].split("\t")
    answers = Counter(line.split("\t")[header.index("answer")] for line in rows[1:])
    assert answers == {"yes": 6, "no": 6}
    # lmms-eval: the folder's own scorer copy (no mimicgen importable) reads yes/no as we do
    res = runner.invoke(app, ["export", "lmms-eval", str(out), str(tmp_path / "lm")], env=env)
    assert res.exit_code == 0, res.output
    recs = _records(out)
    replies = ["No, there isn't.", "yes", "There is no such thing here."] * 4
    proc = subprocess.run(
        [sys.executable, "-c", _NO_MIMICGEN, str(tmp_path / "lm"), json.dumps(replies)],
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    for rec, reply, scores in zip(recs, replies, got, strict=True):
        for p in ("strict", "lenient", "mimic"):
            assert scores[f"{p}_accuracy"] == float(check("existence", reply, rec, p).correct)
    assert any(s["lenient_accuracy"] == 1.0 for s in got)


def test_training_turns_validate(coco_build):  # type: ignore[no-untyped-def]
    out, ann, env = coco_build
    train = out.parent / "train"
    res = runner.invoke(
        app,
        ["build", str(out.parent / "specs"), "--source", f"coco:{ann}", "--format", "llava"]
        + ["--images", "none", "--out", str(train)],
        env=env,
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["validate", str(train)], env=env)
    assert res.exit_code == 0 and res.stdout.strip() == "12 queries valid", res.output
    prov = [json.loads(x) for x in (train / "provenance.jsonl").read_text().splitlines()]
    first = [p["turns"][0] for p in prov]
    assert {t["task"] for t in first} == {"existence"}
    assert all(t["answer"] in ("yes", "no") and len(t["classes"]) == 1 for t in first)
    assert any("options" in t for t in first)  # some asked as multiple choice: yes / no


def test_answer_rule_refuses_an_ambiguous_presence():
    dog_small = {"dog": ClassFact(1, 0, 1, 0)}
    dog = {"dog": ClassFact(2, 1, 1, 0)}
    assert existence_answer([{}, dog_small, dog], "dog") is True
    assert existence_answer([{}, {"cat": ClassFact(1, 1)}], "dog") is False
    with pytest.raises(AnswerError, match="only as small or group"):
        existence_answer([{}, dog_small], "dog")


def test_registered_like_every_task():
    task = get_task("existence")
    assert task_names()[-1] == "existence" and task.kind == "yesno"
    assert task.turn_rank is None  # never a further turn: older training builds stay as they were
    spec = spec_from_dict({"task": "existence", "n_images": 3, "spread": [1, 3]})
    assert spec.task == "existence"
    with pytest.raises(SpecError, match="spread minimum 4 exceeds n_images minimum 3"):
        spec_from_dict({"task": "existence", "n_images": 3, "spread": 4})
