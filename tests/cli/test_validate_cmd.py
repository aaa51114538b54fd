"""CLI ``validate``: exit codes and messages (fake source, no samplers)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.errors import InputError

runner = CliRunner()


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


def test_validate_on_a_non_benchmark_folder_is_a_user_error(tmp_path):
    res = runner.invoke(app, ["validate", str(tmp_path)])
    assert isinstance(res.exception, InputError) and "manifest.json not found" in str(res.exception)
