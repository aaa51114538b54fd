"""SIGTERM as an exception, so that clean-up code runs as it does for Ctrl-C.

Python's default SIGTERM ends the process at once: no ``finally``, no ``except`` - a staging
folder (``mimicgen.io.atomic_output_dir``) would be left behind. With the handler installed,
SIGTERM raises :class:`Terminated` in the main thread. Clean-up code catches ``BaseException``
and so runs for it; it is not a ``KeyboardInterrupt`` because Click turns those into a silent
exit 130, and SIGTERM should exit 143 (128 + 15) as the signal would.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

__all__ = ["Terminated", "install_sigterm_handler"]


class Terminated(BaseException):
    """The process got SIGTERM (``kill PID``, a job scheduler's time limit)."""

    exit_code = 128 + signal.SIGTERM


def install_sigterm_handler() -> None:
    """Raise :class:`Terminated` on SIGTERM in this process (forked workers keep the default)."""
    main_pid = os.getpid()

    def handler(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != main_pid:
            # A forked worker (a pool's terminate() sends SIGTERM): end as SIGTERM means.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated

    signal.signal(signal.SIGTERM, handler)
