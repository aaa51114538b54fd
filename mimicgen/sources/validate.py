"""Vectorised input checks shared by the readers.

Each check runs one polars expression over a whole table and, only if something is wrong, turns
the *first* offending row into a one-line :class:`~mimicgen.errors.InputError` that names the file
and the record, so users can find and fix it. Nothing is written before these checks pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from mimicgen.errors import InputError

__all__ = ["escapes_root_expr", "raise_first", "require_unique"]

# A file name escapes the image root if it is absolute (POSIX, UNC or Windows drive) or has a
# ".." path component; either would let an annotation file read or copy arbitrary files.
_ABSOLUTE = r"^([/\\]|[A-Za-z]:)"
_PARENT = r"(^|[/\\])\.\.([/\\]|$)"


def escapes_root_expr(column: str) -> pl.Expr:
    """True where the relative file name in ``column`` would resolve outside the image root."""
    col = pl.col(column)
    return col.str.contains(_ABSOLUTE) | col.str.contains(_PARENT) | (col.str.len_chars() == 0)


def raise_first(
    frame: pl.DataFrame,
    bad: pl.Expr,
    path: str | Path,
    describe: Callable[[Mapping[str, Any]], str],
) -> None:
    """Raise an InputError for the first row of ``frame`` where ``bad`` holds; no-op otherwise."""
    hit = frame.filter(bad.fill_null(True)).head(1)
    if hit.height:
        raise InputError(f"{path}: {describe(hit.row(0, named=True))}")


def require_unique(frame: pl.DataFrame, column: str, path: str | Path, what: str) -> None:
    """Raise if ``column`` holds a duplicate value, naming the first duplicate."""
    if frame.get_column(column).n_unique() == frame.height:
        return  # one hash pass; the filter below only runs to name the duplicate
    dup = frame.filter(pl.col(column).is_duplicated()).head(1)
    if dup.height:
        value = dup.item(0, column)
        raise InputError(f"{path}: duplicate {what} {value!r}; every {what} must be unique")
