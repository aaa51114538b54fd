"""Put a benchmark's images into its output folder: copy, hard link, symlink or resize.

Every image lands at a stable relative path ``images/<prefix>/<file_name>`` (see
:func:`image_relpath`), once per build however many queries use it. Each write goes through a
temporary name and :func:`os.replace`, so an interrupted build never leaves a half-written image
that a resumed build would mistake for a finished one. Resizing is deterministic (fixed filter,
fixed encoder settings, no metadata), so the same inputs give byte-identical files.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mimicgen.errors import InputError

__all__ = [
    "ImageMode",
    "image_relpath",
    "materialise_image",
    "parse_image_mode",
]

IMAGES_DIR = "images"


class ImageMode(BaseModel):
    """How source images reach the output folder (``--images``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["copy", "hardlink", "symlink", "resize", "none"] = "copy"
    """``copy`` bytes; ``hardlink`` (copy across filesystems); ``symlink`` to the absolute source
    path; ``resize`` to at most ``max_px`` on the longer side; ``none`` writes no image files
    (paths are still recorded; used for timing and for annotation-only builds)."""

    max_px: int | None = Field(None, ge=8)
    """Longest side after resizing (``resize`` only); smaller images are copied unchanged."""

    def __str__(self) -> str:
        return f"resize:{self.max_px}" if self.kind == "resize" else self.kind


def parse_image_mode(text: str) -> ImageMode:
    """Parse ``copy`` | ``hardlink`` | ``symlink`` | ``resize:MAXPX`` | ``none``."""
    name, _, arg = text.strip().partition(":")
    if name == "resize":
        if not arg.isdigit() or int(arg) < 8:
            raise InputError(
                f"--images {text!r}: write resize:MAXPX with MAXPX >= 8, e.g. resize:512"
            )
        return ImageMode(kind="resize", max_px=int(arg))
    if name in ("copy", "hardlink", "symlink", "none") and not arg:
        return ImageMode(kind=name, max_px=None)  # type: ignore[arg-type]
    raise InputError(
        f"--images {text!r} is not a known mode; use copy, hardlink, symlink, resize:MAXPX or none"
    )


def image_relpath(prefix: str, file_name: str) -> str:
    """Stable output path of a source image, relative to the output folder (POSIX separators).

    Rejects names that would escape the images folder (absolute paths, ``..``). It runs once
    per image of every query: the usual plain file name (no separator, drive or dot segment)
    passes every check and is a plain join; other names go through :func:`_checked_relpath`.
    """
    if "/" in file_name or "\\" in file_name or ":" in file_name or file_name in ("", ".", ".."):
        return _checked_relpath(prefix, file_name)
    return f"{IMAGES_DIR}/{prefix}/{file_name}"


@functools.lru_cache(maxsize=1 << 18)
def _checked_relpath(prefix: str, file_name: str) -> str:
    """:func:`image_relpath` of any name: split, checked and joined (cached)."""
    parts = [p for p in file_name.replace("\\", "/").split("/") if p not in ("", ".")]
    if file_name.startswith(("/", "\\")) or ".." in parts or not parts or ":" in parts[0]:
        raise InputError(
            f"image file name {file_name!r} is not a relative path inside the image root"
        )
    return "/".join((IMAGES_DIR, prefix, *parts))


def _write_via_temp(dest: Path, make: Callable[[Path], None]) -> None:
    """Create ``dest`` through a temp name in the same folder so it appears all at once."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()
        make(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _resize(src: Path, tmp: Path, max_px: int) -> None:
    """Deterministic downscale: LANCZOS, fixed quality, no EXIF/ICC, same format as the source."""
    from PIL import Image

    with Image.open(src) as img:
        fmt = img.format or "PNG"
        if max(img.size) <= max_px:
            shutil.copyfile(src, tmp)
            return
        scale = max_px / max(img.size)
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        rgb = img.convert("RGB") if fmt == "JPEG" and img.mode not in ("RGB", "L") else img
        small = rgb.resize(size, Image.Resampling.LANCZOS)
        if fmt == "JPEG":
            small.save(tmp, format="JPEG", quality=90, optimize=False, progressive=False)
        else:
            small.save(tmp, format="PNG", optimize=False)


def materialise_image(src: Path, dest: Path, mode: ImageMode) -> None:
    """Put ``src`` at ``dest`` per ``mode``; a no-op if ``dest`` already exists (resume)."""
    if mode.kind == "none" or dest.exists() or dest.is_symlink():
        return
    if not src.is_file():
        raise InputError(
            f"image {src} does not exist; fix the source's image_root or build with --no-images"
        )
    if mode.kind == "copy":

        def copy(tmp: Path) -> None:
            shutil.copyfile(src, tmp)

        _write_via_temp(dest, copy)
    elif mode.kind == "hardlink":

        def link_or_copy(tmp: Path) -> None:
            try:
                os.link(src, tmp)
            except OSError:  # other filesystem, or links not allowed: fall back to a copy
                shutil.copyfile(src, tmp)

        _write_via_temp(dest, link_or_copy)
    elif mode.kind == "symlink":
        _write_via_temp(dest, lambda tmp: os.symlink(src.resolve(), tmp))
    else:
        assert mode.max_px is not None
        max_px = mode.max_px
        _write_via_temp(dest, lambda tmp: _resize(src, tmp, max_px))
