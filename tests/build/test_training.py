"""Training sets: every emitted file checked with plain JSON parsing against the raw synthetic
annotations (no project code in the checker), plus balance, disjointness and tamper detection."""

from __future__ import annotations

import json
import multiprocessing as mp
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from mimicgen.build.eval_set import BuildOptions, build_eval_set
from mimicgen.build.options import answer_position, count_distractors, list_distractors
from mimicgen.build.training import build_training_set
from mimicgen.specs import load_suite
from mimicgen.specs.training import TrainingOptions
from mimicgen.validate.training import validate_training_dir

SPECS = {
    "count.yaml": "task: counting\nnum_queries: 30\nn_images: [3, 5]\nk: [1, 2]\n",
    "common.yaml": "task: common\nnum_queries: 15\nn_images: [2, 4]\n",
    "odd.yaml": "task: odd_one\nnum_queries: 15\nn_images: [3, 5]\n",
    "listing.yaml": "task: listing\nnum_queries: 15\nn_images: [2, 4]\n",
}
SOURCE = "source: {kind: synthetic, n_images: 160, seed: 5}\nseed: 21\n"
OPTION_LINE = re.compile(r"^([A-H])\. (.*)$")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    mp = pytest.MonkeyPatch()
    mp.setenv("MIMICGEN_CACHE_DIR", str(root / "cache"))
    (root / "specs").mkdir()
    for name, text in SPECS.items():
        (root / "specs" / name).write_text(text + SOURCE)
    specs = load_suite(sorted((root / "specs").glob("*.yaml")))
    # An eval set on the same source, to be excluded from training.
    eval_specs = [
        s.model_copy(update={"name": f"eval_{s.name}", "num_queries": 5, "seed": 99}) for s in specs
    ]
    build_eval_set(eval_specs, BuildOptions(out=root / "eval"))
    opts = TrainingOptions(
        formats=("llava", "llava_jsonl", "mantis"),
        option_ratio=0.5,
        extra_turns=2,
        placeholder_style="interleaved",
    )
    build_training_set(specs, root / "train", opts, exclude=[root / "eval"])
    yield root, specs, opts
    mp.undo()


def raw_boxes(root: Path) -> tuple[dict[str, dict[str, list[dict]]], dict[int, dict]]:
    """Per source image id: class name -> its raw annotations (plain json, no project code)."""
    ann = next((root / "cache").rglob("annotations.json"))
    data = json.loads(ann.read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    images = {im["id"]: im for im in data["images"]}
    per: dict[str, dict[str, list[dict]]] = {}
    for a in data["annotations"]:
        per.setdefault(str(a["image_id"]), {}).setdefault(names[a["category_id"]], []).append(a)
    return per, images


def test_files_and_placeholders(env):
    root, _, _ = env
    out = root / "train"
    llava = json.loads((out / "llava.json").read_text())
    lines = [json.loads(x) for x in (out / "llava.jsonl").read_text().splitlines()]
    mantis = json.loads((out / "mantis.json").read_text())
    assert llava == lines and len(llava) == 75
    for rec, man in zip(llava, mantis, strict=True):
        conv = rec["conversations"]
        assert [m["from"] for m in conv] == ["human", "gpt"] * (len(conv) // 2)
        assert conv[0]["value"].count("<image>") == len(rec["image"])
        assert all("<image>" not in m["value"] for m in conv[1:])
        # interleaved style: "Image i: <image>" labels in order
        labels = re.findall(r"Image (\d+): <image>", conv[0]["value"])
        assert labels == [str(i + 1) for i in range(len(rec["image"]))]
        assert all((out / p).is_file() for p in rec["image"])
        assert man["images"] == rec["image"]
        assert [m["content"] for m in man["conversation"]] == [m["value"] for m in conv]
        assert len(conv) >= 2


def test_answers_rederived_from_raw_annotations(env):
    """Counting turns re-counted from the raw JSON; option letters point at the right text."""
    root, _, _ = env
    per, images = raw_boxes(root)
    prov = [json.loads(x) for x in (root / "train" / "provenance.jsonl").read_text().splitlines()]
    llava = {r["id"]: r for r in json.loads((root / "train" / "llava.json").read_text())}
    checked = mc = 0
    for p in prov:
        conv = llava[p["id"]]["conversations"]
        for turn, (human, gpt) in zip(p["turns"], zip(conv[::2], conv[1::2]), strict=True):
            if "letter" in turn:
                mc += 1
                opts = dict(
                    m.groups() for ln in human["value"].splitlines() if (m := OPTION_LINE.match(ln))
                )
                assert opts[gpt["value"]] == turn["answer"]
                assert list(opts.values()).count(turn["answer"]) == 1
            else:
                assert gpt["value"] == turn["answer"]
            if turn["task"] == "counting" and len(turn["classes"]) == 1:
                (cls,) = turn["classes"]
                total = 0
                for img in p["images"]:
                    boxes = per.get(str(img["source_id"]), {}).get(cls, [])
                    im = images[img["source_id"]]
                    area = im["width"] * im["height"]
                    for b in boxes:
                        assert b["iscrowd"] == 0
                        assert b["bbox"][2] * b["bbox"][3] >= 0.05 * area
                    total += len(boxes)
                assert str(total) == turn["answer"]
                checked += 1
    assert checked >= 30 and mc >= 30


def test_multi_turn_and_option_mix(env):
    root, _, _ = env
    manifest = json.loads((root / "train" / "manifest.json").read_text())
    stats = manifest["stats"]["overall"]
    assert stats["queries"] == 75
    assert 2.0 <= stats["turns_per_conversation"] <= 3.0
    assert 0.3 <= stats["option_share"] <= 0.7
    prov = [json.loads(x) for x in (root / "train" / "provenance.jsonl").read_text().splitlines()]
    assert Counter(len(p["turns"]) for p in prov)[3] > 30  # most get two extra turns


def test_stats_recounted_from_the_written_files(env):
    """Table 9 statistics equal a recount over llava.json and provenance.jsonl."""
    root, _, _ = env
    out = root / "train"
    manifest = json.loads((out / "manifest.json").read_text())
    prov = [json.loads(x) for x in (out / "provenance.jsonl").read_text().splitlines()]
    llava = {r["id"]: r for r in json.loads((out / "llava.json").read_text())}
    by_task: dict[str, list[dict]] = {}
    for p in prov:
        by_task.setdefault(p["task"], []).append(p)
    for task, group in [*sorted(by_task.items()), ("overall", prov)]:
        n_img = sorted(len(p["images"]) for p in group)
        turns = [len(p["turns"]) for p in group]
        n_mc = sum("letter" in t for p in group for t in p["turns"])
        words = [
            len(
                " ".join(
                    ln
                    for ln in m["value"].splitlines()
                    if "<image>" not in ln and not OPTION_LINE.match(ln)
                ).split()
            )
            for p in group
            for m in llava[p["id"]]["conversations"]
            if m["from"] == "human"
        ]
        mid = len(n_img) // 2
        median = n_img[mid] if len(n_img) % 2 else (n_img[mid - 1] + n_img[mid]) / 2
        assert manifest["stats"][task] == {
            "queries": len(group),
            "images_min": n_img[0],
            "images_median": median,
            "images_max": n_img[-1],
            "words_per_question": round(sum(words) / len(words), 2),
            "turns_per_conversation": round(sum(turns) / len(turns), 2),
            "option_share": round(n_mc / sum(turns), 3),
        }
    assert list(manifest["stats"]) == [*sorted(by_task), "overall"]


def test_disjoint_from_excluded_eval_set(env):
    root, _, _ = env
    eval_ids = {
        img["source_id"]
        for line in (root / "eval" / "benchmark.jsonl").read_text().splitlines()
        for img in json.loads(line)["images"]
    }
    train_ids = {
        img["source_id"]
        for line in (root / "train" / "provenance.jsonl").read_text().splitlines()
        for img in json.loads(line)["images"]
    }
    assert eval_ids and train_ids and not eval_ids & train_ids
    manifest = json.loads((root / "train" / "manifest.json").read_text())
    assert manifest["overlap"] == 0 and manifest["excluded"][0]["n_image_uses"] > 0


def test_validator_passes_then_catches_tampering(env, tmp_path):
    root, _, _ = env
    assert validate_training_dir(root / "train").violations == []
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(root / "train", bad)
    rows = [json.loads(x) for x in (bad / "llava.jsonl").read_text().splitlines()]
    rows[0]["conversations"][1]["value"] = "999"
    rows[1]["conversations"][0]["value"] = rows[1]["conversations"][0]["value"].replace(
        "<image>", "", 1
    )
    (bad / "llava.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    prov = [json.loads(x) for x in (bad / "provenance.jsonl").read_text().splitlines()]
    counting = next(
        p
        for p in prov
        if p["turns"][0]["task"] == "counting"
        and "letter" not in p["turns"][0]
        and len(p["turns"][0]["classes"]) == 1
    )
    counting["turns"][0]["answer"] = str(int(counting["turns"][0]["answer"]) + 1)
    (bad / "provenance.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prov))
    violations = validate_training_dir(bad).violations
    joined = "\n".join(violations)
    assert "999" in joined
    assert "placeholders" in joined
    assert "the annotations give" in joined


def test_deterministic(env, tmp_path):
    root, specs, opts = env
    build_training_set(specs, tmp_path / "again", opts, exclude=[root / "eval"])
    for name in ("llava.json", "mantis.json", "provenance.jsonl"):
        assert (tmp_path / "again" / name).read_bytes() == (root / "train" / name).read_bytes()


def test_letter_positions_balanced():
    counts = Counter(answer_position(7, q, 4) for q in range(400))
    assert counts == {0: 100, 1: 100, 2: 100, 3: 100}
    assert answer_position(7, 5, 4) == answer_position(7, 5, 4)


def test_distractors_are_plausible():
    assert count_distractors(0, 3) == ["1", "2", "3"]
    assert count_distractors(3, 4) == ["2", "4", "1", "5"]
    import numpy as np

    opts = list_distractors(["bus", "car"], ["bus", "car", "truck"], 5, np.random.default_rng(0))
    assert "bus, car" not in opts and len(set(opts)) == len(opts) == 5
    # Lists of pool classes only (the pool's 7 non-empty lists less the answer: 6).
    assert set(opts) <= {"bus", "car", "truck", "bus, car, truck", "bus, truck", "car, truck"}


def test_worker_processes_give_identical_files(env, tmp_path, monkeypatch):
    """Chunked, forked generation writes exactly the bytes of the in-process build."""
    from mimicgen.build import training_jobs

    root, specs, opts = env
    monkeypatch.setattr(training_jobs, "CHUNK", 7)  # chunks split specs mid-way
    monkeypatch.setattr(training_jobs, "MIN_PARALLEL", 0)
    contexts: list[str] = []
    real_get_context = training_jobs.mp.get_context

    def spy(method: str):  # records that the 2-worker build really forked
        contexts.append(method)
        return real_get_context(method)

    # Patch the module's own handle, not the global multiprocessing module: other code (e.g.
    # FiftyOne's launcher in later tests) keeps references to ``multiprocessing.get_context``.
    fake_mp = SimpleNamespace(get_context=spy, get_all_start_methods=mp.get_all_start_methods)
    monkeypatch.setattr(training_jobs, "mp", fake_mp)
    builds = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        build_training_set(specs, out, opts, exclude=[root / "eval"], workers=workers)
        builds[workers] = out
    assert contexts == ["fork"]
    names = sorted(p.name for p in builds[1].iterdir() if p.is_file())
    assert "llava.json" in names and "provenance.jsonl" in names
    for name in names:
        one, two = (builds[1] / name).read_bytes(), (builds[2] / name).read_bytes()
        assert one == two, name  # mixture.yaml too: its paths are relative to the folder
    # ... and the in-process build equals the module-scoped one (same specs and options).
    assert (builds[1] / "llava.json").read_bytes() == (root / "train" / "llava.json").read_bytes()


def test_no_image_set_repeats_within_a_spec(env):
    """Training conversations follow the eval rule: within a spec no two queries use the same
    set of images (the odd-one spec's first draws do repeat on this small source)."""
    root, specs, _ = env
    prov = [json.loads(x) for x in (root / "train" / "provenance.jsonl").read_text().splitlines()]
    by_spec: dict[str, list[tuple]] = {}
    for p in prov:
        by_spec.setdefault(p["spec"], []).append(tuple(sorted(i["source_id"] for i in p["images"])))
    assert sorted(by_spec) == sorted(s.name for s in specs)
    for name, sets in by_spec.items():
        assert len(set(sets)) == len(sets), name


def test_copied_folder_loads_in_llava_next_and_mantis(env, tmp_path, monkeypatch):
    """A training folder moved elsewhere: each consumer's own path handling, reproduced line for
    line (LLaVA-NeXT's LazySupervisedDataset opens ``json_path`` as given and joins image paths
    to --image_folder; Mantis' load_data_from_config/ChatDataset checks ``Path(path).exists()``,
    else falls back to the Hub, and joins image paths to the JSON file's folder), run from the
    folder as docs/training.md says."""
    import shutil

    import yaml

    root, specs, opts = env
    built = tmp_path / "built"
    build_training_set(specs, built, opts, exclude=[root / "eval"])
    folder = tmp_path / "cluster" / "copy"
    shutil.move(built, folder)  # the build folder is gone: absolute paths would now break
    n = len(json.loads((folder / "llava.json").read_text()))

    monkeypatch.chdir(folder)
    for dataset in yaml.safe_load(Path("mixture.yaml").read_text())["datasets"]:
        with open(dataset.get("json_path")) as json_file:
            records = json.load(json_file)
        assert len(records) == n and dataset["sampling_strategy"] == opts.sampling_strategy
        image_folder = Path(".")
        assert all((image_folder / p).is_file() for r in records for p in r["image"])

    config = yaml.load(Path("mantis_data.yaml").read_text(), Loader=yaml.FullLoader)
    (entry,) = config["data"]
    assert (entry["type"], entry["format"], entry["split"]) == ("json", "chat", "train")
    data_path = Path(entry["path"])
    assert data_path.exists()
    mantis = json.loads(data_path.read_text())
    assert len(mantis) == n
    assert all((data_path.parent / p).is_file() for r in mantis for p in r["images"])
    assert {m["role"] for r in mantis for m in r["conversation"]} == {"user", "assistant"}
