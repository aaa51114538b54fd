"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import mimicgen.validate
from mimicgen.build.eval_set import BuildOptions, build_eval_set
from mimicgen.sources.spec import SourceSpec
from tests.build.fakes import FakeSpec, fake_hash, fake_sample, make_loaders


@pytest.fixture()
def fake_build(tmp_path: Path, monkeypatch):
    index_loader, source_loader = make_loaders(tmp_path / "src")
    monkeypatch.setattr(
        mimicgen.validate, "default_source_loader", lambda cache_dir=None: source_loader
    )
    specs = [FakeSpec(name="cats", source=SourceSpec(kind="coco"), seed=4, num_queries=8)]

    def build(out: Path, shard=None):
        build_eval_set(
            specs,
            BuildOptions(out=out, shard=shard),
            index_loader=index_loader,
            sampler=fake_sample,
            spec_hasher=fake_hash,
        )
        return out

    return build, tmp_path
