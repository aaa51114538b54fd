"""User-facing errors.

Every problem caused by the user's input (bad files, impossible specs, unknown ids) is raised as a
:class:`MimicgenError`. The CLI prints its message as a single line and exits with status 2, so the
message must say what is wrong *and* how to fix it, e.g.::

    raise InputError(f"{path}: annotation 17 has non-positive width -3.0; fix or drop that box")
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "InputError",
    "MimicgenError",
    "MissingExtraError",
    "SamplingError",
    "SpecError",
    "first_problem",
]


class MimicgenError(Exception):
    """Base class: an error the user can fix; printed as one line, exit status 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Keep it one line: the CLI contract is a single readable line, no traceback.
        super().__init__(" ".join(str(message).split()))


class InputError(MimicgenError):
    """Malformed or inconsistent input files (annotations, predictions, images)."""


class SpecError(MimicgenError):
    """A task/source spec that is invalid (unknown key, bad value, impossible combination)."""


class SamplingError(MimicgenError):
    """The annotation pool cannot satisfy a spec; message names the constraint and the counts."""


class MissingExtraError(MimicgenError):
    """An optional dependency group is not installed."""

    def __init__(self, extra: str, package: str) -> None:
        super().__init__(
            f"this command needs the optional '{extra}' extra ({package} is not installed); "
            f"install it with: pip install 'mimicgen[{extra}]'"
        )


def first_problem(exc: Any) -> tuple[str, str, Any]:
    """``(dotted key path, message, offending input)`` of a pydantic ``ValidationError``'s first
    error: the pieces every one-line option/spec error is phrased from."""
    err = exc.errors()[0]
    return ".".join(str(p) for p in err.get("loc", ())), str(err["msg"]), err.get("input")
