"""The annotation index: per-(image, class) facts, presence rules and the Parquet cache.

:func:`load_index` is the entry point: it builds the index of a source spec once and loads it
from the cache afterwards.
"""

from mimicgen.index.cache import INDEX_FORMAT_VERSION, load_index
from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import INDEX_SCHEMA, AnnotationIndex, build_index

__all__ = [
    "INDEX_FORMAT_VERSION",
    "INDEX_SCHEMA",
    "AnnotationIndex",
    "PresenceRules",
    "build_index",
    "load_index",
]
