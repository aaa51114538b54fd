"""Missing data is a `skipped: reason` line and exit 0; bad input is one line and exit 2."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mimicgen.cli  # noqa: F401  (registers the commands)
from mimicgen.cli.app import app
from mimicgen.errors import InputError, MissingExtraError
from mimicgen.plots.probe_io import load_probe_dir, parse_probe
from mimicgen.plots.report_io import load_samples
from mimicgen.plots.style import pyplot

runner = CliRunner()


def _single_model_report(synthetic, tmp_path: Path, drop_k: bool = True) -> Path:
    """model-a only, no samples file beside it, and (optionally) no k breakdown."""
    report = json.loads(synthetic.report.read_text())
    report["models"] = report["models"][:1]
    if drop_k:
        for pipe in report["models"][0]["pipelines"].values():
            pipe["tasks"]["counting"]["by"].pop("k")
    path = tmp_path / "single.json"
    path.write_text(json.dumps(report))
    return path


def _lines(stdout: str, prefix: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        if line.startswith(prefix):
            name, _, reason = line[len(prefix) :].partition(": ")
            out[name] = reason
    return out


def test_single_model_without_samples_or_probes(synthetic, tmp_path):
    report = _single_model_report(synthetic, tmp_path)
    res = runner.invoke(app, ["plot", str(report), "--out", str(tmp_path / "f")])
    assert res.exit_code == 0, res.output
    skipped = _lines(res.stdout, "skipped: ")
    assert skipped["accuracy_vs_k"] == "k never varies among the counting queries"
    assert "per-sample results" in skipped["count_spread_heatmap"]
    assert skipped["pooling"] == "no probe folders with pool:F or pixel:F were given"
    assert skipped["stitch"] == "no probe folders with stitch:RxC were given"
    assert skipped["attention_by_layer"] == (
        "no probe folder has attention statistics (attn_summary.json; run mimicgen probe with +attn)"
    )
    assert skipped["attention_overlay"] == (
        "no probe folder has answer-to-image maps (maps/*.npz; run mimicgen probe with +attn)"
    )
    # Query-images falls back to the one-way breakdown and says so.
    assert (tmp_path / "f" / "query_images.png").is_file()
    assert "not per total image count" in _lines(res.stdout, "note: ")["query_images"]
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [
        "query_images.png",
        "query_images.svg",
    ]


def test_pool_without_pixel_control_is_drawn_with_a_note(synthetic, tmp_path):
    pool = [p for p in synthetic.probes if p.name.startswith(("pool", "none"))]
    res = runner.invoke(
        app, ["plot", *map(str, pool), "--out", str(tmp_path / "f"), "--only", "pooling"]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "f" / "pooling.png").is_file()
    assert _lines(res.stdout, "note: ")["pooling"] == "pixel-space control missing for model-a"


def test_probe_folder_with_only_a_config(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"probe": "pool:2", "model": "m"}))
    res = runner.invoke(app, ["plot", str(d), "--out", str(tmp_path / "f")])
    assert res.exit_code == 0, res.output
    skipped = _lines(res.stdout, "skipped: ")
    assert len(skipped) == 8
    assert "no per-query token counts" in skipped["sequence_length"]
    assert skipped["query_images"] == "no score report given"
    assert "no report.json or predictions.jsonl" in skipped["pooling"]
    assert not (tmp_path / "f").exists() or not any((tmp_path / "f").iterdir())


def test_stitch_without_baseline_is_drawn_with_a_note(synthetic, tmp_path):
    stitch = [p for p in synthetic.probes if p.name.startswith("stitch")]
    res = runner.invoke(
        app, ["plot", *map(str, stitch), "--out", str(tmp_path / "f"), "--only", "stitch"]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "f" / "stitch.png").is_file()  # stitched bars alone, with the reason
    assert "no multi-image baseline for model-a" in _lines(res.stdout, "note: ")["stitch"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plot", "nope.json"], "no such file or folder"),
        (["plot", "{report}", "--only", "pie"], "unknown figure kind"),
        (["plot", "{report}", "--dpi", "5"], "bad figure option dpi"),
        (["plot", "{report}", "--formats", "gif"], "bad figure option formats"),
        (["plot", "{bench}"], "no run.json or config.json"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(synthetic, tmp_path, args, message):
    args = [a.format(report=synthetic.report, bench=synthetic.bench) for a in args]
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "f")])
    assert isinstance(res.exception, InputError), res.output
    assert message in str(res.exception) and "\n" not in str(res.exception)
    assert not (tmp_path / "f").exists()


def test_existing_output_needs_overwrite(synthetic, tmp_path):
    out = tmp_path / "f"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    res = runner.invoke(
        app, ["plot", str(synthetic.report), "--out", str(out), "--only", "accuracy_vs_k"]
    )
    assert isinstance(res.exception, InputError) and "--overwrite" in str(res.exception)
    assert (out / "keep.txt").read_text() == "x"


def test_malformed_report_and_probe_files(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text('{"models": 3}')
    res = runner.invoke(app, ["plot", str(bad), "--out", str(tmp_path / "f")])
    assert isinstance(res.exception, InputError) and "not a mimicgen score report" in str(
        res.exception
    )
    d = tmp_path / "run"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"probe": "none"}))
    with pytest.raises(InputError, match="model"):
        load_probe_dir(d)
    (d / "config.json").write_text(json.dumps({"probe": "none", "model": "m"}))
    (d / "attn_stats.json").write_text(json.dumps({"layers": [{"layer": 0}]}))
    with pytest.raises(InputError, match="attn_stats.json"):
        _ = load_probe_dir(d).attn_stats


def test_attention_maps_round_trip(tmp_path):
    d = tmp_path / "run"
    (d / "attn_maps").mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"probe": "attn", "model": "m", "extra": 1}))
    a, b = np.arange(6.0).reshape(2, 3), np.ones((4, 4))
    np.savez(d / "attn_maps" / "q1.npz", image_0=a, image_1=b, positions=np.array([3, 1]))
    run = load_probe_dir(d)
    maps = run.attn_maps("q1")
    assert run.attn_map_ids() == ["q1"] and maps.positions == (3, 1)
    assert np.array_equal(maps.maps[0], a) and np.array_equal(maps.maps[1], b)
    assert run.setting.kind == "attn" and run.label == "m [attn]"


@pytest.mark.parametrize(
    ("text", "kind", "factor", "grid"),
    [
        ("none", "none", 1, None),
        ("pool:4", "pool", 4, None),
        ("pool:4+attn", "pool", 4, None),
        ("attn:nomaps", "attn", 1, None),
        ("pixel:8", "pixel", 8, None),
        ("stitch:2x3", "stitch", None, (2, 3)),
        ("stitch:auto:resize", "stitch", None, None),
        ("mask:blockdiag@12-23", "mask", None, None),
        ("pool:4+mask:blockdiag@12-23", "other", None, None),
        ("warp:9", "other", None, None),
    ],
)
def test_parse_probe(text, kind, factor, grid):
    s = parse_probe(text)
    assert (s.kind, s.factor, s.grid, s.text) == (kind, factor, grid, text)


def test_missing_matplotlib_is_a_missing_extra_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(MissingExtraError, match=r"mimicgen\[plots\]"):
        pyplot()


def test_overlay_without_benchmark_images_draws_maps_and_notes(synthetic, tmp_path):
    # The runner layout records no benchmark path: without a report or --bench, no images.
    run = next(p for p in synthetic.probes if p.name == "none")
    res = runner.invoke(
        app, ["plot", str(run), "--out", str(tmp_path / "f"), "--only", "attention_overlay"]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "f" / "attention_overlay.png").is_file()
    assert "drawn without their image" in _lines(res.stdout, "note: ")["attention_overlay"]
    res = runner.invoke(
        app,
        [
            "plot",
            str(run),
            "--out",
            str(tmp_path / "g"),
            "--only",
            "attention_overlay",
            "--bench",
            str(synthetic.bench),
        ],
    )
    assert res.exit_code == 0 and "note:" not in res.stdout, res.output


def test_probe_runner_layout(synthetic):
    """run.json / attn_summary.json / maps/ with (layers, rows, cols) image{i} arrays."""
    run = load_probe_dir(next(p for p in synthetic.probes if p.name == "none"))
    assert (run.config.model, run.setting.kind) == ("model-a", "attn")
    summary = json.loads((run.root / "attn_summary.json").read_text())
    assert [x.intra for x in run.attn_stats] == [row["intra"] for row in summary["layers"]]
    stem = run.attn_map_ids()[0]
    with np.load(run.root / "maps" / f"{stem}.npz") as npz:
        raw = [npz[f"image{i}"] for i in range(len(npz.files))]
    maps = run.attn_maps(stem)
    assert maps.positions == tuple(range(len(raw)))
    for got, arr in zip(maps.maps, raw, strict=True):
        assert got.shape == arr.shape[1:]
        assert np.allclose(got, arr.astype(float).mean(axis=0))


def test_null_layer_shares_become_gaps(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "run.json").write_text(json.dumps({"probes": "pool:2+attn", "model": "m"}))
    (d / "attn_summary.json").write_text(
        json.dumps(
            {
                "layers": [
                    {"layer": 1, "intra": None, "inter": None, "text": None},
                    {"layer": 0, "intra": 0.5, "inter": 0.3, "text": 0.2},
                ]
            }
        )
    )
    run = load_probe_dir(d)
    assert run.setting.kind == "pool" and run.setting.factor == 2
    assert [x.layer for x in run.attn_stats] == [0, 1]
    assert run.attn_stats[0].intra == 0.5 and np.isnan(run.attn_stats[1].intra)


def test_samples_with_mixed_extracted_types_load(tmp_path):
    """The scorer's `extracted` is an int, a list or an object depending on the task."""
    rows = [
        {
            "model": "m",
            "pipeline": "strict",
            "id": "a",
            "task": "counting",
            "prediction": "3",
            "extracted": 3,
            "parsed": True,
            "correct": True,
            "f1": None,
        },
        {
            "model": "m",
            "pipeline": "strict",
            "id": "b",
            "task": "listing",
            "prediction": "x, y",
            "extracted": ["x", "y"],
            "parsed": True,
            "correct": False,
            "f1": 0.5,
        },
        {
            "model": "m",
            "pipeline": "strict",
            "id": "c",
            "task": "counting",
            "prediction": None,
            "extracted": {"dog": 2},
            "parsed": False,
            "correct": False,
            "f1": None,
        },
    ]
    path = tmp_path / "r.samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    df = load_samples(path)
    assert df["id"].to_list() == ["a", "b", "c"] and df["correct"].to_list() == [True, False, False]
    assert df["prediction"].to_list() == ["3", "x, y", None]
    path.write_text(json.dumps({"model": "m", "id": "a", "correct": True}) + "\n")
    with pytest.raises(InputError, match="lack 'pipeline'"):
        load_samples(path)


def test_partial_probe_runs_are_flagged(synthetic, tmp_path):
    runs = []
    for p in synthetic.probes:
        if p.name in ("pool_2", "pixel_2"):
            shutil.copytree(p, tmp_path / p.name)
            report = json.loads((p / "report.json").read_text())
            report["models"][0]["coverage"]["n_missing"] = 7
            (tmp_path / p.name / "report.json").write_text(json.dumps(report))
            runs.append(tmp_path / p.name)
    res = runner.invoke(
        app,
        [
            "plot",
            *map(str, runs),
            "--out",
            str(tmp_path / "f"),
            "--only",
            "pooling",
            "--formats",
            "png",
        ],
    )
    assert res.exit_code == 0, res.output
    note = _lines(res.stdout, "note: ")["pooling"]
    assert note.count("7 of 58 queries have no prediction") == 2


def test_parse_probe_variants():
    assert (parse_probe("pixel:4:area").kind, parse_probe("pixel:4:area").variant) == (
        "pixel",
        "area",
    )
    assert parse_probe("pool:2:row").variant == "row"
    assert parse_probe("pool:2").variant is None and parse_probe("pixel:2").variant is None
