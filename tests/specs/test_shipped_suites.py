"""Contract: every shipped spec loads and samples on a small COCO-shaped random index, so a
change to a task, its spec model or a template set cannot leave a shipped suite unbuildable."""

from __future__ import annotations

import pytest

from mimicgen.registry import get_task, task_names
from mimicgen.specs import load_spec, shipped_specs_dir, spec_files, with_overrides
from mimicgen.tasks import sample
from mimicgen.templates import load_template_set
from tests.tasks.random_index import random_index

SHIPPED = spec_files(shipped_specs_dir())


@pytest.fixture(scope="module")
def index():  # type: ignore[no-untyped-def]
    return random_index(0, n_images=800, n_classes=10, n_parents=3)[0]


def test_every_registered_task_has_a_shipped_suite() -> None:
    tasks = {load_spec(f).task for f in SHIPPED}
    assert tasks == set(task_names())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(shipped_specs_dir())))
def test_shipped_spec_dry_samples(path, index) -> None:  # type: ignore[no-untyped-def]
    spec = with_overrides(load_spec(path), {"num_queries": 3})
    task = get_task(spec.task)
    templates = load_template_set(spec.templates)
    queries = sample(spec, index)
    assert len(queries) == 3
    for q in queries:
        assert q.task == spec.task and task.answer_key in q.answer
        assert q.template["task"] in templates.group(spec.task).task
        assert {im.role for im in q.images} <= set(task.roles)
        assert q.controls["n_images"] == len(q.images)
