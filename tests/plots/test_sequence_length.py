"""The ``sequence_length`` figure: x is the mean recorded prompt length of each probe run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mimicgen.cli.app import app


def _mean_prompt(folder, task=None):
    """Mean text + vision tokens per query, straight from the folder's samples.jsonl."""
    rows = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    rows = [r for r in rows if task is None or r["task"] == task]
    return sum(r["vision_tokens"] + r["text_tokens"] for r in rows) / len(rows)


def _draw(synthetic, tmp_path, monkeypatch):
    """Draw the figure; return ``{panel title: {line label: x values}}`` of what was plotted."""
    import mimicgen.plots.seq_length as mod
    from mimicgen.plots.inputs import gather_inputs
    from mimicgen.plots.style import FigureStyle

    drawn = {}
    real_save = mod.save_figure

    def keep(fig, out_dir, name, style):
        for ax in fig.axes:
            if ax.get_title():
                drawn[ax.get_title()] = {
                    c.get_label(): [float(x) for x in c.lines[0].get_xdata()] for c in ax.containers
                }
        return real_save(fig, out_dir, name, style)

    monkeypatch.setattr(mod, "save_figure", keep)
    data = gather_inputs([synthetic.report, *synthetic.probes])
    res = mod.sequence_length(data, tmp_path, FigureStyle(formats=("png",)))
    return res, drawn


def test_x_values_are_the_mean_recorded_token_counts(synthetic, tmp_path, monkeypatch):
    res, drawn = _draw(synthetic, tmp_path, monkeypatch)
    assert res.skipped is None and res.paths
    folders = {d.name: d for d in synthetic.probes}  # none, pool_2, ..., stitch_2x3
    base = _mean_prompt(folders["none"])
    want = {
        "model-a pool": sorted([base, *(_mean_prompt(folders[f"pool_{f}"]) for f in (2, 4, 8))]),
        "model-a pixel": sorted([base, *(_mean_prompt(folders[f"pixel_{f}"]) for f in (2, 4, 8))]),
        "model-a stitch": sorted([base, _mean_prompt(folders["stitch_2x3"])]),
    }
    assert drawn["overall"] == want
    # Task panels use that task's queries only.
    tasks = [t for t in drawn if t != "overall"]
    assert tasks
    for task in tasks:
        got = drawn[task]["model-a pool"]
        names = ("none", "pool_2", "pool_4", "pool_8")
        np.testing.assert_allclose(got, sorted(_mean_prompt(folders[n], task) for n in names))
        assert got != drawn["overall"]["model-a pool"]  # really the task's own queries


def test_real_probe_output_is_read(tmp_path):
    """A folder as ``mimicgen probe`` writes it: tokens from samples.jsonl match tokens.json."""
    pytest.importorskip("matplotlib")
    from mimicgen.plots.probe_io import load_probe_dir
    from mimicgen.plots.seq_length import config_family, mean_tokens

    d = tmp_path / "pool-2_mask-blockdiag-L1-2"
    d.mkdir()
    (d / "run.json").write_text(json.dumps({"model": "m", "probes": "pool:2+mask:blockdiag@1-2"}))
    rows = [
        {"id": "a", "task": "counting", "vision_tokens": 8, "text_tokens": 20},
        {"id": "b", "task": "listing", "vision_tokens": 3, "text_tokens": 25},
    ]
    (d / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"id": "c"')
    run = load_probe_dir(d)
    assert config_family(run) == "pool+mask"
    assert mean_tokens(run) == {"prompt_tokens": 28.0, "vision_tokens": 5.5}
    assert mean_tokens(run, "listing") == {"prompt_tokens": 28.0, "vision_tokens": 3.0}
    assert (d / "samples.jsonl").read_text().endswith('{"id": "c"')  # read, never repaired


def test_skipped_without_token_counts(synthetic, tmp_path):
    res = CliRunner().invoke(
        app,
        ["plot", str(synthetic.report), "--out", str(tmp_path / "f"), "--only", "sequence_length"],
    )
    assert res.exit_code == 0, res.output
    assert "skipped: sequence_length: no probe folders were given" in res.output
