"""Prompt template sets: YAML data files (``templates/*.yaml``) validated into frozen models."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mimicgen.errors import SpecError, first_problem
from mimicgen.registry import get_task, task_names
from mimicgen.specs.loader import shipped_templates_dir

__all__ = [
    "TaskTemplates",
    "TemplateSet",
    "load_template_set",
    "option_connectors",
    "resolve_template_path",
    "shared_plurals",
    "training_set_name",
]

PLACEHOLDER = "<class_id>"
TRAINING_WORDING = "training.yaml"
"""The shipped file of wording used only by training conversations: not a template set."""
PLURALS_FILE = "plurals.yaml"
"""The shipped plural exceptions every set uses (data, not a template set)."""
_NOT_SETS = (TRAINING_WORDING, PLURALS_FILE)


class TaskTemplates(BaseModel):
    """Templates of one task, each keyed by a stable id recorded in the queries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: dict[str, str] = Field(min_length=1)
    """Question templates (id -> text); counting and listing ones contain ``<class_id>``."""
    connector: dict[str, str] = Field(min_length=1)
    """Connector sentences appended to the question (id -> text)."""
    connector_multi: dict[str, str] | None = None
    """Counting with k > 1 classes: connectors asking for one count per class."""


_META_KEYS = ("name", "lowercase_class_names", "plurals", "training", "tasks")


class TemplateSet(BaseModel):
    """A template set (one file): templates per task plus plural overrides.

    In the file, each task's templates sit under a top-level key named after the task
    (``counting:``, ``odd_one:``, ...); a set need not name every task, only those its specs
    use (sampling a task the set lacks stops with an error naming the set and the task).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Set name (the file stem for shipped sets)."""
    lowercase_class_names: bool = True
    """Lower-case class names inside questions (answers always keep display names)."""
    plurals: dict[str, str] = {}
    """Plural forms the inflection library gets wrong (lower-case singular -> plural): the
    shared list of ``templates/plurals.yaml``, overridden by the set file's own entries."""
    training: str | None = None
    """Template set training conversations use instead of this one (the paper set names
    ``grammatical``: its verbatim templates are for paper-compatible eval builds); ``None``:
    this set."""
    tasks: dict[str, TaskTemplates] = Field(min_length=1)
    """Task name -> its templates (the file's top-level task keys)."""

    @model_validator(mode="before")
    @classmethod
    def _gather_tasks(cls, data: Any) -> Any:
        """Top-level keys that are not settings are task names."""
        if not isinstance(data, dict) or "tasks" in data:
            return data
        known = task_names()
        out = {k: v for k, v in data.items() if k in _META_KEYS}
        unknown = [k for k in data if k not in _META_KEYS and k not in known]
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(map(repr, unknown))}: a top-level key is a setting "
                f"({', '.join(_META_KEYS[:4])}) or a task ({', '.join(known)})"
            )
        out["tasks"] = {k: v for k, v in data.items() if k in known}
        return out

    @model_validator(mode="after")
    def _placeholders(self) -> TemplateSet:
        for task, group in self.tasks.items():
            needs = get_task(task).slot != "none"
            for tid, text in group.task.items():
                if needs and PLACEHOLDER not in text:
                    raise ValueError(f"{task} template '{tid}' lacks the {PLACEHOLDER} placeholder")
                if not needs and PLACEHOLDER in text:
                    raise ValueError(f"{task} template '{tid}' has a {PLACEHOLDER} placeholder")
        return self

    def group(self, task: str) -> TaskTemplates:
        """The templates of ``task``; a one-line ``SpecError`` when the set has none."""
        group = self.tasks.get(task)
        if group is None:
            raise SpecError(
                f"template set '{self.name}' has no templates for task '{task}'; add a "
                f"'{task}:' entry with 'task' and 'connector' templates (see docs/tasks.md)"
            )
        return group


def resolve_template_path(name_or_path: str) -> Path:
    """A shipped set name (``paper``) or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        return p
    return shipped_templates_dir() / f"{name_or_path}.yaml"


@lru_cache(maxsize=16)
def _load(path: Path) -> TemplateSet:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        shipped = sorted(
            p.stem for p in shipped_templates_dir().glob("*.yaml") if p.name not in _NOT_SETS
        )
        raise SpecError(
            f"template set not found: {path}; use a shipped set ({', '.join(shipped)}) or a "
            "path to a YAML file"
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
        if isinstance(data.get("plurals", {}), dict):
            data["plurals"] = {**shared_plurals(), **data.get("plurals", {})}
    try:
        return TemplateSet.model_validate(data)
    except ValidationError as exc:
        key, msg, _ = first_problem(exc)
        raise SpecError(
            f"{path}: invalid template set at '{key or '(top level)'}': {msg}"
        ) from None


def load_template_set(name_or_path: str) -> TemplateSet:
    """Load (and cache) a template set by shipped name or path."""
    return _load(resolve_template_path(name_or_path).resolve())


def training_set_name(name_or_path: str) -> str:
    """The template set training conversations use for a spec's ``templates`` value: the
    set's ``training`` entry, else the set itself."""
    return load_template_set(name_or_path).training or name_or_path


@lru_cache(maxsize=1)
def shared_plurals() -> dict[str, str]:
    """The plural exceptions of ``templates/plurals.yaml`` (lower-case singular -> plural)."""
    path = shipped_templates_dir() / PLURALS_FILE
    return {str(k): str(v) for k, v in yaml.safe_load(path.read_text(encoding="utf-8")).items()}


@lru_cache(maxsize=1)
def option_connectors() -> tuple[tuple[str, ...], dict[str, str]]:
    """(sorted connector ids, id -> text) of the multiple-choice connectors of training
    conversations (``templates/training.yaml``)."""
    path = shipped_templates_dir() / TRAINING_WORDING
    conns = dict(yaml.safe_load(path.read_text(encoding="utf-8"))["options_connector"])
    return tuple(sorted(conns)), conns
