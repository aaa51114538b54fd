"""Where a command may write: the ``--out`` rules shared by every command that writes.

* ``--out`` must not be, hold, or lie inside any of the command's inputs (annotation files, image
  roots, spec files, benchmark folders, prediction files, score reports, probe folders): with
  ``--overwrite`` the old output is deleted, and the input with it. Paths are compared after
  resolving symlinks, so a link to an input is caught too.
* ``--out`` may be a symlink to a folder: the output replaces the folder the link points to and
  the link stays (staging and resume folders sit beside the target, on its file system). A link
  to a file or to nothing is refused.

Both are checked before anything is read or written, and fail with one line
(:class:`~mimicgen.errors.InputError`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from mimicgen.errors import InputError

__all__ = ["check_out", "resolve_out"]

PathLike = str | os.PathLike[str]


def resolve_out(out: PathLike, flag: str = "--out") -> Path:
    """The absolute folder to write for ``out``: the target when ``out`` is a symlink."""
    path = Path(os.path.abspath(out))
    if not path.is_symlink():
        return path
    target = path.resolve()
    if not target.exists():
        raise InputError(
            f"{flag} {out} is a symlink to {target}, which does not exist; "
            "create that folder or remove the link"
        )
    if not target.is_dir():
        raise InputError(f"{flag} {out} is a symlink to the file {target}; choose a folder")
    return target


def _relation(out: Path, inp: Path) -> str | None:
    if out == inp:
        return "is"
    if out in inp.parents:
        return "holds"
    if inp in out.parents:
        return "lies inside"
    return None


def check_out(out: PathLike, inputs: Iterable[PathLike | None], flag: str = "--out") -> Path:
    """:func:`resolve_out`, refusing an ``out`` that is, holds or lies inside an input.

    ``inputs`` may hold None (an optional input not given) and paths that do not exist (a
    source label such as ``pycocotools.COCO``); both are skipped.
    """
    target = resolve_out(out, flag)
    real_out = Path(os.path.realpath(target))
    for inp in inputs:
        if inp is None or not os.path.lexists(inp):  # nothing there to lose
            continue
        relation = _relation(real_out, Path(os.path.realpath(inp)))
        if relation is not None:
            raise InputError(
                f"{flag} {out} {relation} the input {inp}; writing there would delete or "
                f"change it, so choose an {flag} outside every input"
            )
    return target
