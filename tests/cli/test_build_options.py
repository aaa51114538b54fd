"""``mimicgen build``: training-only and eval-only options sit in their own help panels, and a
training-only option given to an eval-set build is a one-line error, not silently ignored."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.errors import InputError

runner = CliRunner()
_SPECS = "task_specs/demo"
_TRAIN_OPTIONS = {
    "--exclude": "demo_out",
    "--placeholders": "start",
    "--option-ratio": "1.0",
    "--extra-turns": "0",
}


def _panels(text: str) -> dict[str, str]:
    """Help panel title -> its body, from typer's rich help (boxes open with '╭─ TITLE ─')."""
    out = {}
    for box in text.split("╭─ ")[1:]:
        title, _, body = box.partition("\n")
        out[title.strip("─ ╮")] = body.split("╰")[0]
    return out


def test_help_groups_training_and_eval_options_in_their_panels():
    res = runner.invoke(app, ["build", "--help"], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    panels = _panels(res.output)
    train = panels["Training sets (--format or split: train)"]
    for flag in ("--format", *_TRAIN_OPTIONS):
        assert flag in train, flag
    assert "--shard" in panels["Eval sets (no --format, split: eval)"]
    assert "--shard" not in panels["Options"] and "--placeholders" not in panels["Options"]
    # The defaults TrainingOptions applies are still documented (docs/training.md names them).
    for default in ("Default: lines.", "Default: 0.5.", "Default: 2."):
        assert default in train, default


@pytest.mark.parametrize("flag", list(_TRAIN_OPTIONS))
def test_a_training_option_on_an_eval_build_is_one_line_error(flag, tmp_path: Path):
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["build", _SPECS, "--smoke", "--out", str(out), flag, _TRAIN_OPTIONS[flag]]
    )
    assert isinstance(res.exception, InputError), res.output
    message = str(res.exception)
    assert "\n" not in message
    assert message.startswith(f"{flag} applies to training sets only"), message
    assert "--format llava" in message and "split: train" in message
    assert not out.exists()


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _train(out: Path, *extra: str) -> Path:
    args = ["build", _SPECS, "--smoke", "--format", "llava", "--images", "none", "--out", str(out)]
    res = runner.invoke(app, [*args, *extra])
    assert res.exit_code == 0, res.output
    return out


def test_training_build_takes_the_options_and_keeps_the_defaults(tmp_path: Path):
    # Same folder name for both builds, so paths written into the files agree.
    plain = _digest(_train(tmp_path / "a" / "train"))
    explicit = _train(
        tmp_path / "b" / "train",
        "--placeholders",
        "lines",
        "--option-ratio",
        "0.5",
        "--extra-turns",
        "2",
    )
    assert _digest(explicit) == plain  # unset options are TrainingOptions' documented defaults
    custom = _train(
        tmp_path / "c" / "train",
        "--placeholders",
        "start",
        "--option-ratio",
        "1",
        "--extra-turns",
        "0",
    )
    training = json.loads((custom / "manifest.json").read_text())["training"]
    assert training["placeholder_style"] == "start" and training["extra_turns"] == 0
    conversations = json.loads((custom / "llava.json").read_text())
    assert conversations and all(len(c["conversations"]) == 2 for c in conversations)
