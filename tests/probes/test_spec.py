"""Probe string / YAML parsing."""

from __future__ import annotations

import pytest

from mimicgen.errors import SpecError
from mimicgen.probes.spec import (
    MaskProbe,
    PoolProbe,
    StitchProbe,
    load_probe_yaml,
    parse_config,
    parse_probe,
    resolve_layers,
)


def test_parse_each_probe_kind():
    assert parse_probe("pool:4") == PoolProbe(factor=4)
    assert parse_probe("stitch:2x3:resize") == StitchProbe(rows=2, cols=3, resize=True)
    assert parse_probe("stitch:auto") == StitchProbe()
    m = parse_probe("mask:blockdiag@12-23")
    assert m == MaskProbe(mask="blockdiag", layers=tuple(range(12, 24)))
    assert parse_probe("mask:invisible-strict@all").layers is None
    assert parse_probe("mask:bidirectional@0,2,5-6").layers == (0, 2, 5, 6)
    assert parse_probe("attn").maps and not parse_probe("attn:nomaps").maps


def test_pool_layout_and_pixel_mode():
    from mimicgen.probes.spec import PixelProbe

    assert parse_probe("pool:4") == PoolProbe(factor=4, layout="grid") == parse_probe("pool:4:grid")
    assert parse_probe("pool:4:row") == PoolProbe(factor=4, layout="row")
    assert parse_probe("pixel:4") == PixelProbe(factor=4, mode="side")
    assert parse_probe("pixel:4:area").side_factor == 2.0
    assert parse_probe("pixel:3").side_factor == 3.0
    c = parse_config("pool:4:row+pixel:2:area")
    assert c.spec_string == "pool:4:row+pixel:2:area" and parse_config(c.spec_string) == c
    assert c.name == "pool-4-row_pixel-2-area"
    assert parse_config("pool:4:grid").spec_string == "pool:4"  # grid is the default
    for bad in ("pool:4:col", "pixel:4:side", "pixel:4:row"):
        with pytest.raises(SpecError):
            parse_probe(bad)


def test_config_composes_and_round_trips():
    c = parse_config("pool:4+mask:blockdiag@12-23+attn")
    assert [p.kind for p in c.probes] == ["pool", "mask", "attn"]
    assert c.spec_string == "pool:4+mask:blockdiag@12-23+attn"
    assert parse_config(c.spec_string) == c
    assert c.name == "pool-4_mask-blockdiag-L12-23_attn"


@pytest.mark.parametrize(
    "bad",
    [
        "pool:0",
        "pool:x",
        "mask:diag@3",
        "mask:blockdiag@5-2",
        "mask:blockdiag",
        "stitch:2",
        "zoom:2",
        "pool:2+pool:3",
        "none+pool:2",
        "stitch:2x2+mask:blockdiag@1",
        "",
    ],
)
def test_bad_probe_strings_raise_spec_error(bad):
    with pytest.raises(SpecError):
        parse_config(bad)


def test_resolve_layers_checks_model_depth():
    m = parse_probe("mask:blockdiag@1-2")
    assert resolve_layers(m, 4) == {1, 2}
    assert resolve_layers(parse_probe("mask:invisible@all"), 3) == {0, 1, 2}
    with pytest.raises(SpecError, match="out of range"):
        resolve_layers(m, 2)


def test_probe_yaml(tmp_path):
    p = tmp_path / "probes.yaml"
    p.write_text(
        "configs:\n"
        "  - none\n"
        "  - pool:2+attn\n"
        "  - name: late-mask\n"
        "    probes: ['mask:blockdiag@1-3', {kind: pixel, factor: 2}]\n"
    )
    configs = load_probe_yaml(p)
    assert [c.name for c in configs] == ["none", "pool-2_attn", "late-mask"]
    assert configs[2].get("pixel").factor == 2
    p.write_text("configs:\n  - none\n  - none\n")
    with pytest.raises(SpecError, match="repeat"):
        load_probe_yaml(p)
    p.write_text("probes: [none]\n")
    with pytest.raises(SpecError):
        load_probe_yaml(p)
