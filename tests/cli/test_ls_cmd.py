"""CLI ``ls``: every shipped spec listed, by the names ``build`` resolves."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.cli.build_cmd import resolve_spec_paths
from mimicgen.errors import InputError

runner = CliRunner()


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
