"""Command-line entry point: ``mimicgen``.

Each command lives in its own module and registers on :data:`mimicgen.cli.app.app`. Heavy optional
dependencies (torch, fiftyone, matplotlib) are imported inside the command functions only.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import NoReturn

# Registration order is the order of `mimicgen --help`: build and its companions first.
# isort: off
from mimicgen.cli import (  # noqa: F401  (imported for their registrations)
    build_cmd,
    validate_cmd,
    ls_cmd,
    view_cmd,
    finetune_cmd,
    index_cmd,
    plot_cmd,
    predict_cmd,
    probe_cmd,
    flops_cmd,
    score_cmd,
    synth_cmd,
    export_cmd,
)

# isort: on
from mimicgen.cli.app import app
from mimicgen.cli.signals import Terminated, install_sigterm_handler
from mimicgen.errors import MimicgenError

__all__ = ["app", "main"]


def _closed_output() -> NoReturn:
    """The reader of stdout went away (``mimicgen index ... | head``): stop quietly with status 0,
    as other command-line tools do. stdout is pointed at /dev/null first, so the interpreter's
    final flush does not report the broken pipe a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except (OSError, ValueError):
        pass
    sys.exit(0)


def _raise_broken_pipe(console: object) -> None:
    raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def main() -> None:
    """Run the CLI; user errors become one line on stderr and exit status 2, never a traceback;
    Ctrl-C exits 130 and SIGTERM 143, each after the clean-up an error gets."""
    from rich.console import Console

    # rich answers a closed stdout with its own SystemExit(1), in our tables and in typer's help
    # alike; its documented hook is overridden so the pipe error reaches the handling below.
    Console.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign,assignment]
    install_sigterm_handler()  # SIGTERM then cleans up (staging folders) as Ctrl-C does
    try:
        app()
    except SystemExit as exc:
        # Click (typer vendors its own copy) turns a write to a closed pipe (EPIPE) into exit
        # status 1 after wrapping the streams in PacifyFlushWrapper; that wrapper is how the
        # case is told from a real failure.
        if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            _closed_output()
        # Click turns Ctrl-C into a silent Exit(130) raised from the KeyboardInterrupt.
        if exc.code == 130 and isinstance(
            getattr(exc.__context__, "__cause__", None), KeyboardInterrupt
        ):
            print("mimicgen: interrupted", file=sys.stderr)
        raise
    except BrokenPipeError:  # written outside Click's command invocation
        _closed_output()
    except MimicgenError as exc:
        print(f"mimicgen: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Terminated:
        print("mimicgen: terminated", file=sys.stderr)
        sys.exit(Terminated.exit_code)
    except KeyboardInterrupt:
        print("mimicgen: interrupted", file=sys.stderr)
        sys.exit(130)
