"""Command-line entry point: ``mimicgen``.

Each command lives in its own module and registers on :data:`mimicgen.cli.app.app`. Heavy optional
dependencies (torch, fiftyone, matplotlib) are imported inside the command functions only.
"""

from __future__ import annotations

import sys

from mimicgen.cli import (  # noqa: F401  (imported for their registrations)
    build_cmd,
    fiftyone_cmd,
    index_cmd,
    plot_cmd,
    predict_cmd,
    probe_cmd,
    score_cmd,
    synth_cmd,
)
from mimicgen.cli.app import app
from mimicgen.errors import MimicgenError

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI; user errors become one line on stderr and exit status 2, never a traceback."""
    try:
        app()
    except MimicgenError as exc:
        print(f"mimicgen: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("mimicgen: interrupted", file=sys.stderr)
        sys.exit(130)
