"""Fixtures: one synthetic benchmark + score report + probe folders per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import mimicgen.cli  # noqa: F401  (registers the commands)
from mimicgen.cli.app import app
from mimicgen.plots.synthetic import SyntheticInputs, write_synthetic_inputs


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> SyntheticInputs:
    """Synthetic bench (58 queries, PNG images), report.json + samples for two models, 8 probe dirs."""
    pytest.importorskip("matplotlib", reason="the 'plots' extra (matplotlib) is not installed")
    return write_synthetic_inputs(tmp_path_factory.mktemp("synthetic"), seed=0)


@pytest.fixture(scope="session")
def html_report(synthetic: SyntheticInputs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mimicgen report` over the synthetic report and every probe folder, 20 sample cards."""
    out = tmp_path_factory.mktemp("html") / "report.html"
    args = [
        "report",
        str(synthetic.bench),
        "--scores",
        str(synthetic.report),
        "--out",
        str(out),
        "--max-samples",
        "20",
    ]
    for p in synthetic.probes:
        args += ["--probe", str(p)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return out
