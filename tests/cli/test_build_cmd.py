"""CLI: validate exit codes and messages, merge, option parsing (fake source, no samplers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mimicgen.validate
from mimicgen.build.eval_set import BuildOptions, build_eval_set
from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.cli.build_cmd import apply_overrides, resolve_spec_paths
from mimicgen.cli.shard import parse_shard
from mimicgen.errors import InputError, SpecError
from mimicgen.sources.spec import SourceSpec
from tests.build.fakes import FakeSpec, fake_hash, fake_sample, make_loaders

runner = CliRunner()


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


def test_validate_ok_then_exit_2_with_one_line_per_violation(fake_build):
    build, tmp = fake_build
    out = build(tmp / "out")
    ok = runner.invoke(app, ["validate", str(out)])
    assert ok.exit_code == 0 and ok.stdout.strip() == "8 queries valid"

    path = out / "benchmark.jsonl"
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    for r in recs:
        r["answer"]["counts"]["cat"] += 10
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    bad = runner.invoke(app, ["validate", str(out)])
    assert bad.exit_code == 2
    lines = bad.stderr.strip().splitlines()
    assert sum("count of 'cat'" in line for line in lines) == 8
    assert lines[-1].startswith("mimicgen: error:") and "violation(s) in 8 queries" in lines[-1]


def test_merge_command_joins_shards(fake_build):
    build, tmp = fake_build
    full = build(tmp / "full")
    parts = [build(tmp / f"s{i}", shard=(i, 3)) for i in range(3)]
    res = runner.invoke(app, ["merge", str(tmp / "merged"), *map(str, parts)])
    assert res.exit_code == 0, res.output
    assert "wrote 8 queries" in res.stdout
    for name in ("benchmark.jsonl", "manifest.json"):
        assert (tmp / "merged" / name).read_bytes() == (full / name).read_bytes()


def test_validate_on_a_non_benchmark_folder_is_a_user_error(tmp_path):
    res = runner.invoke(app, ["validate", str(tmp_path)])
    assert isinstance(res.exception, InputError) and "manifest.json not found" in str(res.exception)


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2", "1/0"])
def test_bad_shard_argument(text):
    with pytest.raises(InputError, match="--shard"):
        parse_shard(text)


def test_overrides_revalidate_and_cap():
    from mimicgen.specs import CountingSpec

    specs = [
        CountingSpec(name="a", num_queries=40, seed=1),
        CountingSpec(name="b", num_queries=3, seed=2),
    ]
    src = SourceSpec(kind="synthetic", n_images=50)
    out = apply_overrides(specs, source=src, seed=9, smoke=True)
    assert [s.num_queries for s in out] == [5, 3]
    assert {s.seed for s in out} == {9} and out[0].source == src
    assert specs[0].num_queries == 40  # originals untouched
    with pytest.raises(SpecError):  # re-validated: a bad override is a one-line spec error
        apply_overrides(specs, seed="x")  # type: ignore[arg-type]


def test_ls_lists_every_shipped_spec_and_build_resolves_names():
    from mimicgen.specs import shipped_specs_dir, spec_files

    res = runner.invoke(app, ["ls"])
    assert res.exit_code == 0, res.output
    root = shipped_specs_dir()
    files = spec_files(root)
    assert files, "task_specs/ ships specs"
    for f in files:
        assert str(f.relative_to(root).with_suffix("")) in res.stdout
    assert resolve_spec_paths(["demo"]) == [root / "demo"]
    assert resolve_spec_paths(["demo/common"]) == [root / "demo" / "common.yaml"]
    with pytest.raises(InputError, match="mimicgen ls"):
        resolve_spec_paths(["no/such/spec"])
