"""Where a command may write: the ``--out`` rules shared by every command that writes.

* ``--out`` must not be, hold, or lie inside any of the command's inputs (annotation files, image
  roots, spec files, benchmark folders, prediction files, score reports, probe folders): with
  ``--overwrite`` the old output is deleted, and the input with it. Paths are compared after
  resolving symlinks, so a link to an input is caught too.
* ``--out`` may be a symlink to a folder: the output replaces the folder the link points to and
  the link stays (staging and resume folders sit beside the target, on its file system). A link
  to a file or to nothing is refused. Commands whose output is one file (``score``, ``report``)
  take a symlink to a file the same way: the file it points to is written.
* A folder ``--out`` that is a file, or lies under a file, is refused (not a ``NotADirectoryError``).

All are checked before anything is read or written, and fail with one line
(:class:`~mimicgen.errors.InputError`). ``flag`` names the argument as the user typed it:
``--out`` for an option, ``OUT`` for a positional argument.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from mimicgen.errors import InputError

__all__ = ["check_out", "check_out_files", "resolve_out", "resolve_out_file"]

PathLike = str | os.PathLike[str]


def _file_above(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` when it is a file (no folder can be made)."""
    for parent in path.parents:
        if os.path.exists(parent):
            return None if os.path.isdir(parent) else parent
    return None


def _check_parents(out: PathLike, path: Path, flag: str) -> None:
    blocker = _file_above(path)
    if blocker is not None:
        raise InputError(
            f"{flag} {out} lies under the file {blocker}, where no folder can be made; "
            "choose another path"
        )


def resolve_out(out: PathLike, flag: str = "--out") -> Path:
    """The absolute folder to write for ``out``: the target when ``out`` is a symlink."""
    path = Path(os.path.abspath(out))
    if not path.is_symlink():
        if path.exists() and not path.is_dir():
            raise InputError(f"{flag} {out} is a file; choose a folder path")
        _check_parents(out, path, flag)
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


def resolve_out_file(out: PathLike, flag: str = "--out") -> Path:
    """The absolute file to write for ``out`` (a report): the target when ``out`` is a symlink,
    so the link stays and the file it points to is replaced."""
    path = Path(os.path.abspath(out))
    if path.is_symlink():
        path = path.resolve()
        if path.is_dir():
            raise InputError(f"{flag} {out} is a symlink to the folder {path}; give a file path")
        if not path.parent.is_dir():
            raise InputError(
                f"{flag} {out} is a symlink to {path}, whose folder does not exist; "
                "create it or remove the link"
            )
        return path
    if path.is_dir():
        raise InputError(f"{flag} {out} is a folder; give a file path, e.g. {out}/report.json")
    _check_parents(out, path, flag)
    return path


def _relation(out: Path, inp: Path) -> str | None:
    if out == inp:
        return "is"
    if out in inp.parents:
        return "holds"
    if inp in out.parents:
        return "lies inside"
    return None


def check_out(
    out: PathLike, inputs: Iterable[PathLike | None], flag: str = "--out", *, file: bool = False
) -> Path:
    """:func:`resolve_out` (:func:`resolve_out_file` when ``file``), refusing an ``out`` that
    is, holds or lies inside an input.

    ``inputs`` may hold None (an optional input not given) and paths that do not exist (a
    source label such as ``pycocotools.COCO``); both are skipped.
    """
    target = resolve_out_file(out, flag) if file else resolve_out(out, flag)
    clash = _clash(target, inputs)
    if clash is not None:
        raise InputError(
            f"{flag} {out} {clash[0]} the input {clash[1]}; writing there would delete or "
            f"change it, so choose an {flag} outside every input"
        )
    return target


def _clash(target: Path, inputs: Iterable[PathLike | None]) -> tuple[str, PathLike] | None:
    """(relation, input) of the first input ``target`` is, holds or lies inside."""
    real_out = Path(os.path.realpath(target))
    for inp in inputs:
        if inp is None or not os.path.lexists(inp):  # nothing there to lose
            continue
        relation = _relation(real_out, Path(os.path.realpath(inp)))
        if relation is not None:
            return relation, inp
    return None


def check_out_files(
    out: PathLike,
    beside: Callable[[Path], Iterable[Path]],
    inputs: Iterable[PathLike | None],
    overwrite: bool,
    flag: str = "--out",
) -> Path:
    """For a command that writes the file ``out`` plus the files ``beside(out)`` (a report's
    Markdown twin, its per-sample rows): :func:`check_out` for each of them, and refuse to
    replace any that exists unless ``overwrite``. Returns the file to write for ``out``."""
    inputs = list(inputs)
    target = check_out(out, inputs, flag, file=True)
    written = [target, *beside(target)]
    if len(set(written)) < len(written):  # e.g. --out report.md: its Markdown twin is itself
        raise InputError(
            f"{flag} {out} would be written twice (a file written beside it has the same name); "
            "give a .json name such as report.json"
        )
    for path in written[1:]:
        clash = _clash(path, inputs)
        if clash is not None:
            raise InputError(
                f"{flag} {out} writes {path} too, which {clash[0]} the input {clash[1]}; "
                f"choose an {flag} outside every input"
            )
    if not overwrite:
        for path in written:
            if os.path.lexists(path):
                raise InputError(
                    f"{flag} {out}: {path} already exists; pass --overwrite to replace it"
                )
    return target
