"""What VLMEvalKit infers from a custom TSV, and how the export steers it.

VLMEvalKit (``vlmeval/dataset/__init__.py``) builds a dataset it does not know from
``$LMUData/<NAME>.tsv``: without ``A``/``B`` columns it becomes a ``CustomVQADataset``, but the
prompt builders ask ``DATASET_TYPE(NAME)``, which answers ``VQA`` only when the name contains
``openended`` (any case) and otherwise warns and falls back to multiple choice (MCQ prompts for
some models). Hence the name rule below.

Decoded images are cached as ``$LMUData/images/<NAME>/<image_path>`` and any readable file
already there is reused (``ImageBaseDataset.dump_image``): with index-based names a re-export
under the same NAME would silently show the old images. Naming each image by its content hash
makes a changed image a new file, so the cache can never serve a stale one.
"""

from __future__ import annotations

import hashlib
import re

from mimicgen.errors import InputError

__all__ = ["CACHE_NAME_CHARS", "DEFAULT_DATASET_NAME", "cache_image_name", "check_dataset_name"]

DEFAULT_DATASET_NAME = "MIMICGEN_OpenEnded"
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def check_dataset_name(name: str) -> None:
    """InputError unless VLMEvalKit will treat ``name`` as an open-ended (VQA) dataset."""
    if not _NAME.match(name):
        raise InputError(f"dataset name {name!r} must be letters, digits, '_' or '-'")
    if "openended" not in name.lower():
        raise InputError(
            f"dataset name {name!r}: VLMEvalKit treats a custom dataset as multiple choice "
            f"unless its name contains 'OpenEnded'; use e.g. {name}_OpenEnded"
        )


CACHE_NAME_CHARS = 24 + len(".png")
"""Length of every :func:`cache_image_name`."""


def cache_image_name(data: bytes) -> str:
    """Content-addressed file name for VLMEvalKit's image cache (PNG: it re-encodes the decoded
    image by this suffix, and PNG keeps the pixels exactly)."""
    return hashlib.sha256(data).hexdigest()[: CACHE_NAME_CHARS - 4] + ".png"
