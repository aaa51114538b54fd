"""Each command lives in its group's module; ``mimicgen --help`` keeps its order; every
``export`` subcommand is in export_cmd."""

from __future__ import annotations

from mimicgen.cli import app  # importing mimicgen.cli registers the commands
from mimicgen.cli.app import export_app

_EXPECTED = {
    "build": "build_cmd",
    "merge": "build_cmd",
    "validate": "validate_cmd",
    "ls": "ls_cmd",
    "view": "view_cmd",
    "finetune": "finetune_cmd",
    "index": "index_cmd",
    "plot": "plot_cmd",
    "report": "plot_cmd",
    "predict": "predict_cmd",
    "probe": "probe_cmd",
    "probe-merge": "probe_cmd",
    "probe-tiny-model": "probe_cmd",
    "flops": "flops_cmd",
    "score": "score_cmd",
    "synth": "synth_cmd",
}


def _name(info) -> str:
    return info.name or info.callback.__name__.replace("_", "-")


def test_every_command_in_its_group_module_in_help_order():
    got = [(_name(c), c.callback.__module__) for c in app.registered_commands]
    assert got == [(name, f"mimicgen.cli.{module}") for name, module in _EXPECTED.items()]
    exports = {_name(c): c.callback.__module__ for c in export_app.registered_commands}
    assert exports == {
        name: "mimicgen.cli.export_cmd" for name in ("fiftyone", "lmms-eval", "vlmevalkit", "hf")
    }
