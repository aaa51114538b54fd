"""Without the 'fiftyone' extra, the FiftyOne commands and source say how to install it.

Runs without FiftyOne or its database: ``fiftyone`` is made unimportable for the test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mimicgen.cli import main
from mimicgen.errors import MissingExtraError
from mimicgen.sources import load_source
from mimicgen.sources.spec import SourceSpec

INSTALL_HINT = "pip install 'mimicgen[fiftyone]'"


@pytest.fixture
def no_fiftyone(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes `import fiftyone` raise ModuleNotFoundError(name="fiftyone").
    for name in [m for m in sys.modules if m == "fiftyone" or m.startswith("fiftyone.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fiftyone", None)


def _bench(tmp_path: Path) -> Path:
    record = (
        '{"id": "q0", "task": "common", "question": "Which class?", "answer": {"class": "cat"},'
        ' "answer_text": "cat", "images": [{"path": "images/a.jpg", "source_id": 1,'
        ' "position": 0, "role": "query", "class_counts": {"cat": 1}}], "controls": {}}\n'
    )
    (tmp_path / "benchmark.jsonl").write_text(record)
    (tmp_path / "manifest.json").write_text('{"schema_version": 1, "sources": []}')
    return tmp_path


@pytest.mark.parametrize("command", [["export", "fiftyone"], ["view"]])
def test_commands_say_how_to_install(
    no_fiftyone: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.setattr(sys, "argv", ["mimicgen", *command, str(_bench(tmp_path))])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0  # one line, no traceback
    assert "'fiftyone' extra" in err and INSTALL_HINT in err


def test_source_says_how_to_install(no_fiftyone: None) -> None:
    with pytest.raises(MissingExtraError, match=r"pip install 'mimicgen\[fiftyone\]'"):
        load_source(SourceSpec(kind="fiftyone", dataset="anything"))
