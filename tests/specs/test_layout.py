"""Each task's spec model lives in its task module; ``mimicgen.specs`` holds only the shared
controls, imports no task module, and loads spec files through the registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mimicgen.specs
from mimicgen.registry import get_task
from mimicgen.specs import load_spec
from mimicgen.specs.models import BaseTaskSpec

# Written out rather than read from the registry, so a model moved back would fail here.
HOMES = {
    "counting": ("mimicgen.tasks.counting", "CountingSpec"),
    "listing": ("mimicgen.tasks.listing", "ListingSpec"),
    "common": ("mimicgen.tasks.common_task", "CommonSpec"),
    "odd_one": ("mimicgen.tasks.odd_one", "OddOneSpec"),
    "existence": ("mimicgen.tasks.existence", "ExistenceSpec"),
}


@pytest.mark.parametrize("task", sorted(HOMES))
def test_spec_model_lives_in_its_task_module(task: str, tmp_path: Path) -> None:
    module, name = HOMES[task]
    model = get_task(task).spec
    assert (model.__module__, model.__name__) == (module, name)
    assert issubclass(model, BaseTaskSpec)
    assert name in sys.modules[module].__all__
    assert not hasattr(mimicgen.specs, name)
    path = tmp_path / f"{task}.yaml"
    path.write_text(f"task: {task}\n")
    assert type(load_spec(path)) is model


def test_specs_package_imports_no_task_module() -> None:
    code = (
        "import sys, mimicgen.specs; "
        "print(sorted(m for m in sys.modules if m.startswith(('mimicgen.tasks', 'mimicgen.registry'))))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )
    assert out.stdout.strip() == "[]"
