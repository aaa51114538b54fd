"""Load task specs from YAML, with ``include:`` so a variant costs a few lines.

A spec file is a YAML mapping. Its optional ``include`` key names one file or a list of files
(paths relative to the including file); they are loaded first, in order, deep-merged, and the
including file's own keys are deep-merged on top (mappings merge key by key, anything else is
replaced). Includes may nest; a cycle is an error. Relative ``source`` paths are resolved
against the file that sets them when such a file exists there. ``name`` defaults to the file
stem of the top-level file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from mimicgen.errors import SpecError
from mimicgen.io import canonical_json
from mimicgen.specs.models import BaseTaskSpec, TaskSpec

__all__ = [
    "deep_merge",
    "load_spec",
    "load_suite",
    "shipped_specs_dir",
    "shipped_templates_dir",
    "spec_files",
    "spec_from_dict",
    "spec_hash",
    "spec_input_files",
    "task_spec_types",
    "with_overrides",
]


def task_spec_types() -> dict[str, type[BaseTaskSpec]]:
    """Task name -> its spec model, for every registered task (report order)."""
    from mimicgen.registry import task_defs

    return {t.name: t.spec for t in task_defs()}


@lru_cache(maxsize=1)
def _adapter() -> TypeAdapter[Any]:
    """The discriminated union over ``task`` of every registered task's spec model."""
    models = tuple(task_spec_types().values())
    union = models[0] if len(models) == 1 else Union[models]  # noqa: UP007
    return TypeAdapter(Annotated[union, Field(discriminator="task")])  # type: ignore[arg-type]


_SOURCE_PATH_KEYS = ("annotations", "image_root", "classes_csv", "hierarchy", "labels_csv")


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def shipped_specs_dir() -> Path:
    """``task_specs/`` next to the package (repo root of a checkout or editable install)."""
    return _repo_root() / "task_specs"


def shipped_templates_dir() -> Path:
    """``templates/`` next to the package (repo root of a checkout or editable install)."""
    return _repo_root() / "templates"


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into ``base``: nested mappings merge, other values are replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve_source_paths(data: dict[str, Any], folder: Path) -> None:
    """Make relative source paths relative to the file that sets them, where they exist."""
    source = data.get("source")
    if not isinstance(source, dict):
        return
    for key in _SOURCE_PATH_KEYS:
        value = source.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            candidate = folder / value
            if candidate.exists():
                source[key] = str(candidate)


def _read_yaml(
    path: Path, chain: tuple[Path, ...], read: list[Path] | None = None
) -> dict[str, Any]:
    """Read one file and its includes (depth-first), returning the merged mapping; each file
    read is appended to ``read`` when given."""
    if read is not None:
        read.append(path)
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise SpecError(f"include cycle: {cycle}; remove one of these includes")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        where = f" (included from {chain[-1]})" if chain else ""
        raise SpecError(f"spec file not found: {path}{where}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise SpecError(
            f"{path}:{line} is not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a spec file must be a YAML mapping, got {type(data).__name__}")
    _resolve_source_paths(data, path.parent)
    includes = data.pop("include", None)
    if includes is None:
        return data
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list) or not all(isinstance(i, str) for i in includes):
        raise SpecError(f"{path}: 'include' must be a file name or a list of file names")
    merged: dict[str, Any] = {}
    for inc in includes:
        merged = deep_merge(merged, _read_yaml((path.parent / inc).resolve(), (*chain, path), read))
    return deep_merge(merged, data)


def _format_error(origin: str, exc: ValidationError) -> str:
    """One line naming the file, the offending key path and what is wrong."""
    parts = []
    for err in exc.errors()[:3]:
        loc = [str(p) for p in err["loc"]]
        # Drop the union tag pydantic inserts (e.g. 'counting') so the path matches the YAML.
        if loc and loc[0] in task_spec_types():
            loc = loc[1:]
        key = ".".join(loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key '{key}'")
        elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            parts.append(f"key 'task' must be one of {', '.join(task_spec_types())}")
        else:
            parts.append(f"key '{key}': {err['msg']}")
    more = f" (+{len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return f"{origin}: invalid spec: {'; '.join(parts)}{more}; fix the YAML (see docs/tasks.md)"


def spec_from_dict(data: Mapping[str, Any], origin: str = "<spec>") -> TaskSpec:
    """Validate a mapping into the matching task spec; errors become one-line ``SpecError``."""
    try:
        return _adapter().validate_python(dict(data))  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise SpecError(_format_error(origin, exc)) from None


def load_spec(path: str | os.PathLike[str]) -> TaskSpec:
    """Load one spec file (resolving includes); ``name`` defaults to the file stem."""
    path = Path(path).resolve()
    data = _read_yaml(path, ())
    data.setdefault("name", path.stem)
    return spec_from_dict(data, str(path))


def spec_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Spec files under ``folder`` (recursive, sorted), skipping include-only folders: any
    folder named ``base`` or starting with ``_`` holds fragments, not complete specs."""
    root = Path(folder)
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts[:-1]
        if p.suffix not in (".yaml", ".yml") or not p.is_file():
            continue
        if any(part == "base" or part.startswith("_") for part in rel):
            continue
        out.append(p)
    return out


def _suite_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = spec_files(p)
            if not found:
                raise SpecError(f"{p}: no *.yaml spec files in this directory")
            files.extend(found)
        else:
            files.append(p)
    return files


def spec_input_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Every file the specs at ``paths`` read (as :func:`load_suite` finds them): the spec files
    and, recursively, the files they include. An output folder must stay clear of all of them."""
    read: list[Path] = []
    for f in _suite_files(paths):
        _read_yaml(f.resolve(), (), read)
    return list(dict.fromkeys(read))


def load_suite(paths: Iterable[str | os.PathLike[str]]) -> list[TaskSpec]:
    """Load several specs; a directory contributes its :func:`spec_files`. Spec names must be
    unique (they prefix query ids)."""
    files = _suite_files(paths)
    specs = [load_spec(f) for f in files]
    seen: dict[str, Path] = {}
    for spec, f in zip(specs, files, strict=True):
        if spec.name in seen:
            raise SpecError(
                f"two specs are named '{spec.name}' ({seen[spec.name]} and {f}); "
                "give one a different 'name:' so query ids stay unique"
            )
        seen[spec.name] = f
    return specs


def with_overrides(spec: TaskSpec, overrides: Mapping[str, Any]) -> TaskSpec:
    """A copy of ``spec`` with dotted-key overrides applied and re-validated, e.g.
    ``{"source.annotations": "instances_val2017.json", "num_queries": 10}``."""
    data = spec.model_dump(mode="json", exclude_unset=False)
    for dotted, value in overrides.items():
        node = data
        *parents, last = dotted.split(".")
        for key in parents:
            child = node.get(key)
            if not isinstance(child, dict):
                raise SpecError(f"override '{dotted}': '{key}' is not a section of the spec")
            node = child
        node[last] = value
    return spec_from_dict(data, f"{spec.name} (with overrides)")


def spec_hash(spec: TaskSpec) -> str:
    """SHA-256 of the spec's canonical JSON (``model_dump(mode="json")``, sorted keys)."""
    payload = canonical_json(spec.model_dump(mode="json"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
