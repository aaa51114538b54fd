"""FLOPs model: reproduces the MIMIC paper's Table 7 within 1 %."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.probes.flops import attended_pairs, attention_cost

# Table 7 of the paper: (hidden size, dense FLOPs, masked FLOPs, saving).
TABLE7 = [(896, 58e9, 11.2e9, 0.81), (1536, 107e9, 26.7e9, 0.75)]


@pytest.mark.parametrize(("d", "dense", "masked", "saving"), TABLE7)
def test_table7_reproduced_within_one_percent(d, dense, masked, saving):
    cost = attention_cost(10.4, 17.4, 730, d)
    assert cost.dense == pytest.approx(dense, rel=0.01)
    assert cost.masked == pytest.approx(masked, rel=0.01)
    assert cost.saving == pytest.approx(saving, abs=0.01)


def test_pairs_counted_by_hand():
    # 2 images of 3 tokens + 1 text token: dense 7*7; masked 2*9 + 1*7.
    assert attended_pairs(2, 1, 3, masked=False) == 49
    assert attended_pairs(2, 1, 3, masked=True) == 25


def test_layers_and_partial_masking_mix_costs():
    one = attention_cost(4, 10, 100, 64)
    mixed = attention_cost(4, 10, 100, 64, layers=24, masked_layers=12)
    assert mixed.dense == pytest.approx(24 * one.dense)
    assert mixed.masked == pytest.approx(12 * one.dense + 12 * one.masked)
    with pytest.raises(ValueError):
        attention_cost(4, 10, 100, 64, layers=2, masked_layers=3)


def test_flops_cli_json_matches_table7():
    res = CliRunner().invoke(app, ["flops", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["hidden"] for r in rows] == [896, 1536]
    for row, (_, dense, masked, _) in zip(rows, TABLE7, strict=True):
        assert row["dense"] == pytest.approx(dense, rel=0.01)
        assert row["masked"] == pytest.approx(masked, rel=0.01)


def test_flops_cli_bad_input_is_a_user_error():
    from mimicgen.errors import InputError

    res = CliRunner().invoke(app, ["flops", "--layers", "2", "--masked-layers", "5"])
    assert isinstance(res.exception, InputError)
