"""``mimicgen build``: training-only options are grouped in the help and refused for eval sets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mimicgen.cli import app, main

DEMO = str(Path(__file__).resolve().parents[2] / "task_specs" / "demo")
TRAINING_PANEL = "Training sets (--format, or specs with split: train)"
runner = CliRunner()


def _panels(help_text: str) -> dict[str, str]:
    """Help panel title -> the text of its box."""
    panels: dict[str, str] = {}
    title = None
    for line in help_text.splitlines():
        if line.startswith("╭─ "):
            title = line.removeprefix("╭─ ").rstrip("─╮").strip()
            panels[title] = ""
        elif line.startswith("╰") or title is None:
            title = None
        else:
            panels[title] += line + "\n"
    return panels


def test_help_groups_the_options_by_the_set_they_apply_to():
    res = runner.invoke(app, ["build", "--help"], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    panels = _panels(res.stdout)
    assert "--shard" in panels["Eval sets"]
    training = panels[TRAINING_PANEL]
    for flag in ("--format", "--exclude", "--placeholders", "--option-ratio", "--extra-turns"):
        assert flag in training and flag not in panels["Options"], flag
    # The training defaults are stated, as the options themselves default to unset.
    for default in ("(default: lines)", "(default: 0.5)", "(default: 2)"):
        assert default in training


@pytest.mark.parametrize(
    "option", [["--placeholders", "start"], ["--option-ratio", "1"], ["--extra-turns", "0"]]
)
def test_eval_build_refuses_training_options(option, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    argv = ["mimicgen", "build", DEMO, "--smoke", "--no-images", "--out", str(out), *option]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        f"mimicgen: error: {option[0]} applies to training sets only; add --format llava "
        "(or use a spec with split: train)\n"
    )
    assert list(tmp_path.iterdir()) == []


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_training_build_defaults_are_the_stated_ones(tmp_path):
    base = ["build", DEMO, "--format", "llava", "--smoke", "--no-images", "--out"]
    implicit = runner.invoke(app, [*base, str(tmp_path / "a")])
    assert implicit.exit_code == 0, implicit.output
    explicit = [
        *[str(tmp_path / "b"), "--placeholders", "lines"],
        *["--option-ratio", "0.5", "--extra-turns", "2"],
    ]
    res = runner.invoke(app, [*base, *explicit])
    assert res.exit_code == 0, res.output
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    # The options take effect: another placeholder layout writes other conversations.
    res = runner.invoke(app, [*base, str(tmp_path / "c"), "--placeholders", "start"])
    assert res.exit_code == 0, res.output
    assert _tree(tmp_path / "c")["llava.json"] != _tree(tmp_path / "a")["llava.json"]
