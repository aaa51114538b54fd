"""From a :class:`SourceSpec` (or a CLI ``SOURCE`` argument) to the files to read and a reader.

``parse_source_arg`` understands ``synthetic``, ``synthetic:N``, ``coco:PATH.json``,
``openimages:BOXES.csv`` and ``fiftyone:NAME``. ``resolve_inputs`` fills in default side files
(OpenImages class list and hierarchy next to the box CSV, COCO image root next to the JSON,
the rendered synthetic dataset) and checks that every named file exists, so later steps can
hash and read them. ``load_source`` dispatches to the reader of the spec's kind.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import polars as pl

from mimicgen.errors import InputError, SpecError
from mimicgen.sources.base import Hierarchy, SourceData
from mimicgen.sources.hierarchy import is_yaml_path, read_hierarchy_yaml
from mimicgen.sources.spec import SourceSpec

__all__ = [
    "CACHE_PLACEHOLDER",
    "OPENIMAGES_CLASSES",
    "OPENIMAGES_HIERARCHY",
    "ResolvedInputs",
    "apply_user_hierarchy",
    "cache_root",
    "expand_cache_path",
    "load_source",
    "parse_source_arg",
    "read_resolved",
    "resolve_inputs",
]

OPENIMAGES_CLASSES = "oidv7-class-descriptions-boxable.csv"
OPENIMAGES_HIERARCHY = "bbox_labels_600_hierarchy.json"
_KINDS = ("synthetic", "coco", "openimages", "fiftyone")


def cache_root(cache_dir: Path | None = None) -> Path:
    """Cache folder: the argument, else ``$MIMICGEN_CACHE_DIR``, else ``~/.cache/mimicgen``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("MIMICGEN_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "mimicgen"


#: Stands for the cache folder in manifest paths of the built-in synthetic source, which is
#: rendered into the cache: the manifest then reads the same on every machine.
CACHE_PLACEHOLDER = "<cache>"


def expand_cache_path(path: str, cache_dir: Path | None = None) -> str:
    """A manifest path starting with :data:`CACHE_PLACEHOLDER` -> the same path under this
    machine's cache folder (:func:`cache_root`); any other path unchanged."""
    if path == CACHE_PLACEHOLDER or path.startswith(CACHE_PLACEHOLDER + "/"):
        return str(cache_root(cache_dir)) + path[len(CACHE_PLACEHOLDER) :]
    return path


def parse_source_arg(text: str) -> SourceSpec:
    """``KIND[:VALUE]`` -> SourceSpec (side files come from the CLI options, see source_options)."""
    kind, sep, value = text.partition(":")
    kind = kind.strip().lower()
    if kind not in _KINDS:
        raise SpecError(
            f"unknown source {text!r}; use synthetic, synthetic:N, coco:PATH.json, "
            "openimages:BOXES.csv or fiftyone:NAME"
        )
    if kind == "synthetic":
        if not sep:
            return SourceSpec(kind="synthetic")
        if not value.isdigit() or int(value) < 1:
            raise SpecError(f"source {text!r}: synthetic:N needs a positive image count N")
        return SourceSpec(kind="synthetic", n_images=int(value))
    if not value:
        example = "NAME" if kind == "fiftyone" else "PATH"
        raise SpecError(f"source {text!r} needs a value: {kind}:{example}")
    if kind == "fiftyone":
        return SourceSpec(kind="fiftyone", dataset=value)
    return SourceSpec(kind=kind, annotations=Path(value))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ResolvedInputs:
    """Every file a spec reads, with defaults filled in; ``hashed`` lists them for the cache key."""

    spec: SourceSpec
    annotations: Path | None
    image_root: Path | None
    classes_csv: Path | None = None
    hierarchy_json: Path | None = None
    labels_csv: Path | None = None
    user_hierarchy: Path | None = None

    @property
    def hashed(self) -> dict[str, Path]:
        """Role -> path of the files whose content determines the index."""
        roles = {
            "annotations": self.annotations,
            "classes_csv": self.classes_csv,
            "hierarchy_json": self.hierarchy_json,
            "labels_csv": self.labels_csv,
            "user_hierarchy": self.user_hierarchy,
        }
        return {k: v for k, v in roles.items() if v is not None}


def _existing(path: Path, what: str) -> Path:
    if not path.is_file():
        raise InputError(f"{path}: {what} not found; check the path")
    return path


def resolve_inputs(spec: SourceSpec, cache_dir: Path | None = None) -> ResolvedInputs:
    """Fill in default paths and check the files exist (renders the synthetic set if needed)."""
    user_h = spec.hierarchy if spec.hierarchy is not None and is_yaml_path(spec.hierarchy) else None
    if user_h is not None:
        _existing(user_h, "hierarchy YAML")
    if spec.kind == "fiftyone":
        return ResolvedInputs(spec, None, spec.image_root, user_hierarchy=user_h)
    if spec.kind == "synthetic":
        from mimicgen.sources.synthetic import ensure_rendered, image_root  # lazy: needs PIL

        ann = ensure_rendered(spec.n_images, spec.seed, cache_root(cache_dir))
        root = spec.image_root or image_root(ann)
        return ResolvedInputs(spec, Path(ann), root, user_hierarchy=user_h)
    if spec.annotations is None:
        raise SpecError(f"a {spec.kind} source needs an annotations file")
    ann = _existing(Path(spec.annotations), f"{spec.kind} annotations file")
    if spec.kind == "coco":
        from mimicgen.sources.coco import default_image_root

        coco_root = spec.image_root or default_image_root(ann)
        if spec.hierarchy is not None and user_h is None:
            raise SpecError(f"{spec.hierarchy}: a COCO source takes a YAML hierarchy (.yaml/.yml)")
        return ResolvedInputs(spec, ann, coco_root, user_hierarchy=user_h)
    classes = _existing(spec.classes_csv or ann.parent / OPENIMAGES_CLASSES, "OpenImages class CSV")
    if spec.hierarchy is not None and user_h is None:
        hier: Path | None = _existing(spec.hierarchy, "OpenImages hierarchy JSON")
    else:
        default = ann.parent / OPENIMAGES_HIERARCHY
        hier = default if user_h is None and default.is_file() else None
    labels = _existing(spec.labels_csv, "labels CSV") if spec.labels_csv else None
    return ResolvedInputs(spec, ann, spec.image_root, classes, hier, labels, user_h)


class _WithHierarchy(Protocol):
    """A frozen dataclass with a class table and a hierarchy (SourceData, AnnotationIndex)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def classes(self) -> pl.DataFrame: ...

    @property
    def hierarchy(self) -> Hierarchy: ...


_Data = TypeVar("_Data", bound=_WithHierarchy)


def apply_user_hierarchy(data: _Data, inputs: ResolvedInputs) -> _Data:
    """Replace the hierarchy of a source (or of an index built from one) by the user's YAML
    one, if the spec names one."""
    if inputs.user_hierarchy is None:
        return data
    names = data.classes.get_column("name").to_list()
    hierarchy: Hierarchy = read_hierarchy_yaml(inputs.user_hierarchy, names)
    return dataclasses.replace(data, hierarchy=hierarchy)


def load_source(spec: SourceSpec, *, cache_dir: Path | None = None) -> SourceData:
    """Read the source a spec names into :class:`SourceData` (raises InputError on bad input)."""
    inputs = resolve_inputs(spec, cache_dir)
    return apply_user_hierarchy(read_resolved(inputs), inputs)


def read_resolved(inputs: ResolvedInputs, memo_dir: Path | None = None) -> SourceData:
    """Dispatch to the reader of the spec's kind (without the user hierarchy).

    ``memo_dir`` (the cache folder) remembers content hashes computed for provenance.
    """
    spec = inputs.spec
    if spec.kind in ("coco", "synthetic"):
        from mimicgen.sources.coco import read_coco

        assert inputs.annotations is not None
        return read_coco(inputs.annotations, inputs.image_root, kind=spec.kind, memo_dir=memo_dir)
    if spec.kind == "openimages":
        from mimicgen.sources.openimages import read_openimages

        assert inputs.annotations is not None and inputs.classes_csv is not None
        return read_openimages(
            inputs.annotations,
            inputs.classes_csv,
            inputs.hierarchy_json,
            inputs.labels_csv,
            inputs.image_root,
        )
    try:
        from mimicgen.sources.fiftyone import read_fiftyone  # lazy: needs the fiftyone extra
    except ModuleNotFoundError as exc:
        if exc.name != "mimicgen.sources.fiftyone":
            raise
        raise SpecError("fiftyone sources are not available in this build of mimicgen") from exc
    assert spec.dataset is not None
    return read_fiftyone(spec.dataset, image_root=spec.image_root)
