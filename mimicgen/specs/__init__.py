"""Task specs: frozen Pydantic models per task and YAML loading with ``include:``."""

from mimicgen.specs.loader import (
    deep_merge,
    load_spec,
    load_suite,
    shipped_specs_dir,
    shipped_templates_dir,
    spec_files,
    spec_from_dict,
    spec_hash,
    with_overrides,
)
from mimicgen.specs.models import (
    TASK_SPEC_TYPES,
    BaseTaskSpec,
    CommonSpec,
    CountingSpec,
    IntRange,
    ListingSpec,
    OddOneSpec,
    TaskSpec,
    bounds,
)

__all__ = [
    "TASK_SPEC_TYPES",
    "BaseTaskSpec",
    "CommonSpec",
    "CountingSpec",
    "IntRange",
    "ListingSpec",
    "OddOneSpec",
    "TaskSpec",
    "bounds",
    "deep_merge",
    "load_spec",
    "load_suite",
    "shipped_specs_dir",
    "shipped_templates_dir",
    "spec_files",
    "spec_from_dict",
    "spec_hash",
    "with_overrides",
]
