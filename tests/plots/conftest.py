"""Fixtures: one synthetic benchmark + score report + probe folders per test session."""

from __future__ import annotations

import pytest

from mimicgen.plots.synthetic import SyntheticInputs, write_synthetic_inputs


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> SyntheticInputs:
    """Synthetic bench (58 queries, PNG images), report.json + samples for two models, 8 probe dirs."""
    pytest.importorskip("matplotlib", reason="the 'plots' extra (matplotlib) is not installed")
    return write_synthetic_inputs(tmp_path_factory.mktemp("synthetic"), seed=0)
