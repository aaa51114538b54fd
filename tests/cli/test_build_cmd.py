"""CLI ``build``/``merge``: merge of shard builds, option parsing (fake source, no samplers)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.cli.build_cmd import apply_overrides
from mimicgen.cli.shard import parse_shard
from mimicgen.errors import InputError, SpecError
from mimicgen.sources.spec import SourceSpec

runner = CliRunner()


def test_merge_command_joins_shards(fake_build):
    build, tmp = fake_build
    full = build(tmp / "full")
    parts = [build(tmp / f"s{i}", shard=(i, 3)) for i in range(3)]
    res = runner.invoke(app, ["merge", str(tmp / "merged"), *map(str, parts)])
    assert res.exit_code == 0, res.output
    assert "wrote 8 queries" in res.stdout
    for name in ("benchmark.jsonl", "manifest.json"):
        assert (tmp / "merged" / name).read_bytes() == (full / name).read_bytes()


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2", "1/0"])
def test_bad_shard_argument(text):
    with pytest.raises(InputError, match="--shard"):
        parse_shard(text)


def test_overrides_revalidate_and_cap():
    from mimicgen.tasks.counting import CountingSpec

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
