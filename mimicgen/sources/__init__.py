"""Annotation sources: COCO, OpenImages, the built-in synthetic scenes, FiftyOne.

Every reader returns a :class:`~mimicgen.sources.base.SourceData`; :func:`load_source` picks the
reader for a :class:`~mimicgen.sources.spec.SourceSpec`, :func:`parse_source_arg` turns a CLI
``SOURCE`` argument into one. Readers are imported lazily by the registry.
"""

from mimicgen.sources.base import Hierarchy, SourceData, SourceFile
from mimicgen.sources.registry import cache_root, load_source, parse_source_arg
from mimicgen.sources.spec import SourceSpec

__all__ = [
    "Hierarchy",
    "SourceData",
    "SourceFile",
    "SourceSpec",
    "cache_root",
    "load_source",
    "parse_source_arg",
]
