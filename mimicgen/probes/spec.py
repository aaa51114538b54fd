"""Probe specifications: parse ``--probe`` strings and probe YAML into frozen Pydantic models.

Grammar (one ``--probe`` value = one *configuration*; items joined by ``+`` compose)::

    none | pool:F[:grid|:row] | pixel:F[:area] | stitch:RxC[:resize] | stitch:auto[:resize]
    | mask:KIND@LAYERS | attn          KIND  = blockdiag|invisible|invisible-strict|bidirectional
                                       LAYERS = all | 12-23 | 3 | 0,2,5-7

``pool:F`` keeps 1/F of each image's tokens; ``pixel:F`` keeps 1/F**2 of its pixels (F per
side), ``pixel:F:area`` 1/F (sqrt(F) per side): the control that matches ``pool:F``.

e.g. ``pool:4+mask:blockdiag@12-23+attn``. A probe YAML holds ``configs: [...]``, each entry a
string of that grammar or a mapping ``{name: str, probes: [str | {kind: ..., ...}]}``.
This module is pure Python (no torch): specs validate before any model is loaded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, overload

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mimicgen.errors import SpecError, first_problem

__all__ = [
    "AttnProbe",
    "MaskKind",
    "MaskProbe",
    "NoneProbe",
    "PixelMode",
    "PixelProbe",
    "PoolLayout",
    "PoolProbe",
    "Probe",
    "ProbeConfig",
    "StitchProbe",
    "load_probe_yaml",
    "parse_config",
    "parse_probe",
    "resolve_layers",
]

MaskKind = Literal["blockdiag", "invisible", "invisible-strict", "bidirectional"]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


class NoneProbe(BaseModel):
    """No intervention: the baseline run."""

    model_config = _FROZEN
    kind: Literal["none"] = "none"
    """Discriminator."""

    def token(self) -> str:
        return "none"


PoolLayout = Literal["grid", "row"]
PixelMode = Literal["side", "area"]


class PoolProbe(BaseModel):
    """1-D average pooling of each image's vision tokens by ``factor`` (sequence length / F)."""

    model_config = _FROZEN
    kind: Literal["pool"] = "pool"
    """Discriminator."""
    factor: int = Field(ge=1)
    """Pooling window and stride, in tokens."""
    layout: PoolLayout = "grid"
    """Rotary positions of pooled tokens (Qwen's M-RoPE; 1-D families count on either way):
    ``grid`` puts each at its window's first cell, so the image keeps its rows x cols extent;
    ``row`` lays an image's pooled tokens out as one row of consecutive positions."""

    def token(self) -> str:
        return f"pool:{self.factor}" + (":row" if self.layout == "row" else "")


class PixelProbe(BaseModel):
    """Pixel control: down- then up-sample each image (token count unchanged)."""

    model_config = _FROZEN
    kind: Literal["pixel"] = "pixel"
    """Discriminator."""
    factor: int = Field(ge=1)
    """``side``: down-sampling factor per side (1/F**2 of the pixels kept); ``area``: the kept
    share of pixels is 1/F (each side by sqrt(F)), matching the share of tokens ``pool:F``
    keeps."""
    mode: PixelMode = "side"
    """How ``factor`` is read (``side`` or ``area``)."""

    def token(self) -> str:
        return f"pixel:{self.factor}" + (":area" if self.mode == "area" else "")

    @property
    def side_factor(self) -> float:
        """Down-sampling factor per side."""
        return float(self.factor) if self.mode == "side" else self.factor**0.5


class StitchProbe(BaseModel):
    """One composite grid image per query instead of N images."""

    model_config = _FROZEN
    kind: Literal["stitch"] = "stitch"
    """Discriminator."""
    rows: int | None = Field(default=None, ge=1)
    """Grid rows; ``None`` (with ``cols`` None) picks the smallest near-square grid per query."""
    cols: int | None = Field(default=None, ge=1)
    """Grid columns; ``None`` together with ``rows``."""
    resize: bool = False
    """Resize the composite to one input image's size, so the vision token count matches a single
    image instead of growing with the grid."""

    @model_validator(mode="after")
    def _both_or_neither(self) -> StitchProbe:
        if (self.rows is None) != (self.cols is None):
            raise ValueError("stitch needs both rows and cols, or neither (auto)")
        return self

    def token(self) -> str:
        grid = "auto" if self.rows is None else f"{self.rows}x{self.cols}"
        return f"stitch:{grid}" + (":resize" if self.resize else "")


class MaskProbe(BaseModel):
    """Additive attention mask of one ``mask`` kind in the chosen decoder layers."""

    model_config = _FROZEN
    kind: Literal["mask"] = "mask"
    """Discriminator."""
    mask: MaskKind
    """Which mask (see docs/probes.md)."""
    layers: tuple[int, ...] | None = None
    """Decoder layer indices (0-based, sorted, unique); ``None`` means every layer."""

    @model_validator(mode="after")
    def _layers_sorted(self) -> MaskProbe:
        if self.layers is not None:
            if not self.layers or any(i < 0 for i in self.layers):
                raise ValueError("mask layers must be non-negative and not empty")
            if list(self.layers) != sorted(set(self.layers)):
                raise ValueError("mask layers must be sorted and unique")
        return self

    def token(self) -> str:
        return f"mask:{self.mask}@{_format_layers(self.layers)}"


class AttnProbe(BaseModel):
    """Record attention statistics (shares, per-image mass/entropy, answer-to-image maps)."""

    model_config = _FROZEN
    kind: Literal["attn"] = "attn"
    """Discriminator."""
    maps: bool = True
    """Also save answer-to-image attention maps as ``.npz`` arrays per sample."""

    def token(self) -> str:
        return "attn" if self.maps else "attn:nomaps"


Probe = Annotated[
    NoneProbe | PoolProbe | PixelProbe | StitchProbe | MaskProbe | AttnProbe,
    Field(discriminator="kind"),
]


class ProbeConfig(BaseModel):
    """One configuration: a composition of probes run together; one predictions file each."""

    model_config = _FROZEN
    probes: tuple[Probe, ...]
    """The composed probes, at most one of each kind (``none`` alone)."""
    label: str | None = None
    """Optional output folder name; defaults to :attr:`name` derived from the probes."""

    @model_validator(mode="after")
    def _compatible(self) -> ProbeConfig:
        kinds = [p.kind for p in self.probes]
        if not kinds:
            raise ValueError("a probe configuration needs at least one probe (use 'none')")
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"each probe kind may appear once per configuration, got {kinds}")
        if "none" in kinds and len(kinds) > 1:
            raise ValueError("'none' cannot be combined with other probes")
        if "stitch" in kinds and "mask" in kinds:
            raise ValueError("stitch leaves a single image, so an inter-image mask has no effect")
        if self.label is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.label):
            raise ValueError(f"config name {self.label!r} must be letters, digits, '.', '_', '-'")
        return self

    # One overload per kind so callers get the concrete probe type back.
    @overload
    def get(self, kind: Literal["none"]) -> NoneProbe | None: ...
    @overload
    def get(self, kind: Literal["pool"]) -> PoolProbe | None: ...
    @overload
    def get(self, kind: Literal["pixel"]) -> PixelProbe | None: ...
    @overload
    def get(self, kind: Literal["stitch"]) -> StitchProbe | None: ...
    @overload
    def get(self, kind: Literal["mask"]) -> MaskProbe | None: ...
    @overload
    def get(self, kind: Literal["attn"]) -> AttnProbe | None: ...
    def get(self, kind: str) -> BaseModel | None:
        """The probe of ``kind`` in this configuration, or None."""
        return next((p for p in self.probes if p.kind == kind), None)

    @property
    def spec_string(self) -> str:
        """Canonical ``+``-joined probe string (round-trips through :func:`parse_config`)."""
        return "+".join(p.token() for p in self.probes)

    @property
    def name(self) -> str:
        """File-system-safe folder name, e.g. ``pool-4_mask-blockdiag-L12-23``."""
        if self.label:
            return self.label
        safe = self.spec_string.replace(":", "-").replace("@", "-L").replace(",", ".")
        return safe.replace("+", "_")


def _format_layers(layers: tuple[int, ...] | None) -> str:
    """Inverse of :func:`_parse_layers`: consecutive runs become ``lo-hi``."""
    if layers is None:
        return "all"
    runs: list[list[int]] = []
    for i in layers:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in runs)


def _parse_layers(text: str) -> tuple[int, ...] | None:
    if text == "all":
        return None
    out: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not m:
            raise SpecError(f"bad layer list {text!r}; use e.g. 12-23, 3, 0,2,5-7 or all")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise SpecError(f"bad layer range {part!r}: end before start")
        out.update(range(lo, hi + 1))
    return tuple(sorted(out))


_PATTERNS = {
    "none": re.compile(r"none"),
    "attn": re.compile(r"attn(?::(?P<nomaps>nomaps))?"),
    "pool": re.compile(r"pool:(?P<f>\d+)(?::(?P<layout>grid|row))?"),
    "pixel": re.compile(r"pixel:(?P<f>\d+)(?::(?P<mode>area))?"),
    "stitch": re.compile(r"stitch:(?:(?P<r>\d+)x(?P<c>\d+)|auto)(?P<resize>:resize)?"),
    "mask": re.compile(r"mask:(?P<kind>[a-z-]+)@(?P<layers>[\d,\- ]+|all)"),
}


def parse_probe(text: str) -> Probe:
    """Parse one probe item such as ``pool:4`` or ``mask:blockdiag@12-23``."""
    text = text.strip()
    head = text.split(":", 1)[0]
    pattern = _PATTERNS.get(head)
    m = pattern.fullmatch(text) if pattern else None
    if m is None:
        raise SpecError(
            f"unknown probe {text!r}; use none, pool:F[:row], pixel:F[:area], stitch:RxC[:resize], "
            "stitch:auto, mask:blockdiag|invisible|invisible-strict|bidirectional@LAYERS or attn"
        )
    try:
        if head == "none":
            return NoneProbe()
        if head == "attn":
            return AttnProbe(maps=m.group("nomaps") is None)
        if head == "pool":
            return PoolProbe(factor=int(m.group("f")), layout=m.group("layout") or "grid")
        if head == "pixel":
            return PixelProbe(factor=int(m.group("f")), mode="area" if m.group("mode") else "side")
        if head == "stitch":
            r, c = m.group("r"), m.group("c")
            return StitchProbe(
                rows=int(r) if r else None,
                cols=int(c) if c else None,
                resize=m.group("resize") is not None,
            )
        return MaskProbe(mask=m.group("kind"), layers=_parse_layers(m.group("layers")))
    except ValidationError as exc:
        raise SpecError(f"bad probe {text!r}: {_first_error(exc)}") from None


def parse_config(text: str, label: str | None = None) -> ProbeConfig:
    """Parse a ``+``-joined configuration such as ``pool:4+mask:blockdiag@12-23+attn``."""
    probes = tuple(parse_probe(part) for part in text.split("+"))
    try:
        return ProbeConfig(probes=probes, label=label)
    except ValidationError as exc:
        raise SpecError(f"bad probe configuration {text!r}: {_first_error(exc)}") from None


def load_probe_yaml(path: str | Path) -> list[ProbeConfig]:
    """Read ``configs:`` from a probe YAML (strings, or ``{name, probes}`` mappings)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(
            f"{path}: cannot read probe YAML ({exc.__class__.__name__}); "
            "check the path and YAML syntax"
        ) from None
    if (
        not isinstance(data, dict)
        or set(data) != {"configs"}
        or not isinstance(data["configs"], list)
    ):
        raise SpecError(f"{path}: a probe YAML must be a mapping with one key 'configs: [...]'")
    configs: list[ProbeConfig] = []
    for i, entry in enumerate(data["configs"]):
        if isinstance(entry, str):
            configs.append(parse_config(entry))
            continue
        if (
            not isinstance(entry, dict)
            or not set(entry) <= {"name", "probes"}
            or "probes" not in entry
        ):
            raise SpecError(f"{path}: configs[{i}] must be a string or a mapping {{name, probes}}")
        items = entry["probes"]
        if isinstance(items, str):
            items = items.split("+")
        try:
            probes = tuple(parse_probe(p) if isinstance(p, str) else p for p in items)
            configs.append(
                ProbeConfig.model_validate({"probes": probes, "label": entry.get("name")})
            )
        except ValidationError as exc:
            raise SpecError(f"{path}: configs[{i}]: {_first_error(exc)}") from None
    return check_unique(configs)


def check_unique(configs: list[ProbeConfig]) -> list[ProbeConfig]:
    """Refuse two configurations writing to the same output folder."""
    names = [c.name for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(
            f"probe configurations repeat ({', '.join(dupes)}); give each a distinct name"
        )
    return configs


def resolve_layers(probe: MaskProbe, num_layers: int) -> frozenset[int]:
    """The concrete layer set of ``probe`` for a model with ``num_layers`` decoder layers."""
    if probe.layers is None:
        return frozenset(range(num_layers))
    bad = [i for i in probe.layers if i >= num_layers]
    if bad:
        raise SpecError(
            f"mask layers {bad} out of range: the model has {num_layers} decoder "
            f"layers (0-{num_layers - 1})"
        )
    return frozenset(probe.layers)


def _first_error(exc: ValidationError) -> str:
    loc, msg, _ = first_problem(exc)
    return f"{loc}: {msg}" if loc else msg
