"""Reading ``mimicgen probe`` output folders (layout in ``docs/plots.md``).

Two spellings are accepted: the one ``mimicgen probe`` writes (``run.json``, ``attn_summary.json``,
``maps/<id>.npz`` with ``image{i}`` arrays of shape (layers, rows, cols)) and the plain one first
agreed for plots (``config.json``, ``attn_stats.json``, ``attn_maps/<id>.npz`` with 2-D
``image_{i}`` arrays and ``positions``)::

    PROBE_DIR/run.json | config.json      {"probes" | "probe": str, "model": str,
                                           "benchmark": str (optional), ...}
    PROBE_DIR/predictions.jsonl           {"id", "prediction"} per line
    PROBE_DIR/report.json                 optional score report of the predictions
    PROBE_DIR/samples.jsonl               optional per-query {"id", "task", "vision_tokens",
                                          "text_tokens", ...} (sequence-length figure)
    PROBE_DIR/attn_summary.json | attn_stats.json
                                          optional {"layers": [{"layer", "intra", "inter", "text"}]}
    PROBE_DIR/maps/ | attn_maps/<id>.npz  optional answer-to-image attention per image

Every file but the config is optional: a figure that needs a missing one is skipped, not failed.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from mimicgen.errors import InputError, SpecError
from mimicgen.probes.benchmark import safe_id  # the runner names map files with it
from mimicgen.probes.spec import PixelProbe, PoolProbe, StitchProbe, parse_config

__all__ = [
    "CONFIG_FILES",
    "MAP_DIRS",
    "STATS_FILES",
    "AttnMaps",
    "LayerShare",
    "ProbeConfig",
    "ProbeRun",
    "ProbeSetting",
    "load_attn_maps",
    "load_probe_dir",
    "parse_probe",
    "safe_id",
]

CONFIG_FILES = ("run.json", "config.json")
"""Probe configuration file names, in lookup order."""
STATS_FILES = ("attn_summary.json", "attn_stats.json")
"""Per-layer attention share file names, in lookup order."""
MAP_DIRS = ("maps", "attn_maps")
"""Attention map folder names, in lookup order."""
_MAP_KEY = re.compile(r"^image_?(\d+)$")


class ProbeSetting(BaseModel):
    """A parsed probe string such as ``pool:4`` or ``stitch:2x3``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    """The probe string as written in config.json."""
    kind: Literal["none", "pool", "pixel", "stitch", "mask", "attn", "other"]
    """Intervention family; ``other`` for strings this reader does not know (still labelled)."""
    factor: int | None = None
    """Pooling / pixel factor F (``pool``, ``pixel``); 1 for ``none``."""
    grid: tuple[int, int] | None = None
    """(rows, cols) of the composite image (``stitch``)."""
    mask: str | None = None
    """Mask kind and layers, e.g. ``blockdiag@12-23`` (``mask``)."""
    variant: str | None = None
    """``area`` for ``pixel:F:area`` (1/F of the pixels, the control matched to ``pool:F``),
    ``row`` for ``pool:F:row``; None for the default forms."""


def parse_probe(text: str) -> ProbeSetting:
    """Read a probe string with ``mimicgen probe``'s own grammar (``probes.spec.parse_config``).

    ``attn`` only records statistics, so ``pool:4+attn`` is a pooling run and ``attn`` alone is a
    baseline. Several interventions together, or strings that grammar rejects, become kind
    ``other`` so they can still be labelled and plotted where kind does not matter.
    """
    t = text.strip() or "none"
    try:
        config = parse_config(t)
    except SpecError:
        return ProbeSetting(text=t, kind="other")
    items = [p for p in config.probes if p.kind not in ("none", "attn")]
    if not items:
        return ProbeSetting(text=t, kind="attn" if config.get("attn") else "none", factor=1)
    if len(items) > 1:
        return ProbeSetting(text=t, kind="other")
    item = items[0]
    if isinstance(item, PoolProbe):
        row = "row" if item.layout == "row" else None
        return ProbeSetting(text=t, kind="pool", factor=item.factor, variant=row)
    if isinstance(item, PixelProbe):
        area = "area" if item.mode == "area" else None
        return ProbeSetting(text=t, kind="pixel", factor=item.factor, variant=area)
    if isinstance(item, StitchProbe):
        grid = (item.rows, item.cols) if item.rows is not None and item.cols is not None else None
        return ProbeSetting(text=t, kind="stitch", grid=grid)
    return ProbeSetting(text=t, kind="mask", mask=item.token().split(":", 1)[1])


class ProbeConfig(BaseModel):
    """``PROBE_DIR/config.json``. Extra keys are ignored: the probe runner may record more."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    probe: str = Field("none", validation_alias=AliasChoices("probe", "probes"))
    """Probe string, see :func:`parse_probe` (``probes`` in ``run.json``)."""
    model: str = Field(min_length=1)
    """Model name or path, used as the legend label."""
    benchmark: str | None = None
    """Benchmark folder the probe ran on (to find images and score predictions)."""


class LayerShare(BaseModel):
    """Share of vision-token attention in one decoder layer."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    layer: int
    """0-based decoder layer index."""
    intra: float
    """Share to tokens of the same image (NaN when the layer has no vision-token rows)."""
    inter: float
    """Share to tokens of other images."""
    text: float = float("nan")
    """Share to text tokens (NaN when not recorded)."""

    @field_validator("intra", "inter", "text", mode="before")
    @classmethod
    def _none_is_nan(cls, v: float | None) -> float:
        # The probe runner writes null for layers without statistics; NaN leaves a gap in plots.
        return float("nan") if v is None else v


class AttnMaps(BaseModel):
    """Answer-to-image attention of one query: one 2-D map per image, with the image positions."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    query_id: str
    """Benchmark record id."""
    maps: tuple[np.ndarray, ...]
    """Non-negative 2-D arrays (token grid of each image), in ``image_0, image_1, ...`` order."""
    positions: tuple[int, ...]
    """``positions[i]`` is the record image position that ``maps[i]`` belongs to."""


class ProbeRun:
    """One probe output folder; optional files are read lazily and cached."""

    def __init__(self, root: Path, config: ProbeConfig) -> None:
        self.root = root
        self.config = config
        self.setting = parse_probe(config.probe)

    @property
    def label(self) -> str:
        """Legend label: ``model [probe]``."""
        return f"{self.config.model} [{self.setting.text}]"

    @property
    def predictions_path(self) -> Path | None:
        p = self.root / "predictions.jsonl"
        return p if p.is_file() else None

    @cached_property
    def report(self) -> dict[str, Any] | None:
        """The folder's own score report, or None when absent."""
        from mimicgen.plots.report_io import load_report

        p = self.root / "report.json"
        return load_report(p) if p.is_file() else None

    @cached_property
    def sample_rows(self) -> list[dict[str, Any]]:
        """``samples.jsonl`` rows (per-query token counts); empty when absent. Rows without
        ``vision_tokens``/``text_tokens`` are refused: they are not the probe runner's."""
        p = self.root / "samples.jsonl"
        if not p.is_file():
            return []
        # A run still writing may have a torn last line: read whole lines only (never repair
        # here, a plot does not write into its inputs).
        data = p.read_text(encoding="utf-8")
        lines = data.splitlines()[: data.count("\n")]
        try:
            rows = [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError:
            raise InputError(f"{p}: a line is not JSON; re-run the probe") from None
        if any("vision_tokens" not in r or "text_tokens" not in r for r in rows):
            raise InputError(
                f"{p}: rows need vision_tokens and text_tokens (as mimicgen probe writes them); "
                "re-run the probe or remove the file"
            )
        return rows

    @cached_property
    def attn_stats(self) -> list[LayerShare] | None:
        """Per-layer attention shares sorted by layer, or None when not recorded."""
        p = next((self.root / n for n in STATS_FILES if (self.root / n).is_file()), None)
        if p is None:
            return None
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            layers = [LayerShare.model_validate(x) for x in data["layers"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
            raise InputError(
                f'{p}: expected {{"layers": [{{"layer", "intra", "inter", '
                f'"text"}}]}} ({type(exc).__name__}); re-run the probe'
            ) from None
        return sorted(layers, key=lambda x: x.layer)

    @cached_property
    def _map_dir(self) -> Path | None:
        return next((self.root / n for n in MAP_DIRS if (self.root / n).is_dir()), None)

    def attn_map_ids(self) -> list[str]:
        """File stems (query ids, made file-safe by :func:`safe_id`) with a map, sorted."""
        return sorted(p.stem for p in self._map_dir.glob("*.npz")) if self._map_dir else []

    def attn_maps(self, stem: str) -> AttnMaps:
        if self._map_dir is None:
            raise InputError(
                f"{self.root}: no maps/ or attn_maps/ folder; run the probe with attn maps"
            )
        return load_attn_maps(self._map_dir / f"{stem}.npz", stem)


def _as_2d(array: np.ndarray) -> np.ndarray:
    """A 2-D map; the probe runner's (layers, rows, cols) maps are averaged over layers."""
    a = np.asarray(array, dtype=float)
    return a.mean(axis=0) if a.ndim == 3 else a


def load_attn_maps(path: Path, query_id: str) -> AttnMaps:
    """Read one map file: ``image{i}``/``image_{i}`` arrays and optional ``positions``
    (default: the i-th image in prompt order). No pickled objects are loaded."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            found = {int(m.group(1)): k for k in npz.files if (m := _MAP_KEY.match(k))}
            maps = tuple(_as_2d(npz[found[i]]) for i in sorted(found))
            positions = (
                tuple(int(x) for x in np.asarray(npz["positions"]).ravel())
                if "positions" in npz.files
                else tuple(range(len(maps)))
            )
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable attention map ({exc}); re-run the probe") from None
    if any(m.ndim != 2 for m in maps) or len(positions) != len(maps):
        raise InputError(
            f"{path}: expected 2-D image_i arrays and one position per map; re-run the probe"
        )
    return AttnMaps(query_id=query_id, maps=maps, positions=positions)


def load_probe_dir(root: Path) -> ProbeRun:
    """Open a probe output folder; only its ``run.json`` (or ``config.json``) is required."""
    root = Path(root)
    cfg_path = next((root / n for n in CONFIG_FILES if (root / n).is_file()), None)
    if cfg_path is None:
        raise InputError(
            f"{root}: no run.json or config.json; pass a folder written by `mimicgen probe`"
        )
    try:
        config = ProbeConfig.model_validate(json.loads(cfg_path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(
            f'{cfg_path}: expected {{"probes": str, "model": str}} ({first})'
        ) from None
    return ProbeRun(root, config)
