"""Reading ``mimicgen probe`` output folders (layout in ``docs/plots.md``).

```
PROBE_DIR/config.json        {"probe": "none"|"pool:F"|"pixel:F"|"stitch:RxC"|"mask:KIND@LAYERS",
                              "model": str, "benchmark": str (optional), ...}
PROBE_DIR/predictions.jsonl  {"id", "prediction"} per line
PROBE_DIR/report.json        optional score report of the predictions
PROBE_DIR/attn_stats.json    optional {"layers": [{"layer", "intra", "inter", "text"}, ...]}
PROBE_DIR/attn_maps/<id>.npz optional image_0..image_{n-1} (2-D maps) + positions (int 1-D)
```
Every file but config.json is optional: a figure that needs a missing one is skipped, not failed.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mimicgen.errors import InputError

__all__ = [
    "AttnMaps",
    "LayerShare",
    "ProbeConfig",
    "ProbeRun",
    "ProbeSetting",
    "load_attn_maps",
    "load_probe_dir",
    "parse_probe",
]

_POOL = re.compile(r"^(pool|pixel):(\d+)$")
_STITCH = re.compile(r"^stitch:(?:(\d+)x(\d+)|auto)(?::[a-z_-]+)?$")
_MASK = re.compile(r"^mask:([a-z_-]+)(?:@(.+))?$")


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


def parse_probe(text: str) -> ProbeSetting:
    """Parse a probe string (``+`` composes items, as in ``mimicgen probe``).

    ``attn`` only records statistics, so ``pool:4+attn`` is a pooling run and ``attn`` alone is a
    baseline. Several interventions together, or forms this reader does not know, become kind
    ``other`` so they can still be labelled and plotted where kind does not matter.
    """
    t = text.strip() or "none"
    items = [x.strip() for x in t.split("+") if x.strip() not in ("", "attn", "none")]
    if not items:
        return ProbeSetting(text=t, kind="attn" if "attn" in t else "none", factor=1)
    if len(items) > 1:
        return ProbeSetting(text=t, kind="other")
    item = items[0]
    if m := _POOL.match(item):
        return ProbeSetting(text=t, kind=m.group(1), factor=int(m.group(2)))  # type: ignore[arg-type]
    if m := _STITCH.match(item):
        grid = (int(m.group(1)), int(m.group(2))) if m.group(1) else None
        return ProbeSetting(text=t, kind="stitch", grid=grid)
    if _MASK.match(item):
        return ProbeSetting(text=t, kind="mask", mask=item.split(":", 1)[1])
    return ProbeSetting(text=t, kind="other")


class ProbeConfig(BaseModel):
    """``PROBE_DIR/config.json``. Extra keys are ignored: the probe runner may record more."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    probe: str = "none"
    """Probe string, see :func:`parse_probe`."""
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
    """Share to tokens of the same image."""
    inter: float
    """Share to tokens of other images."""
    text: float = float("nan")
    """Share to text tokens (NaN when not recorded)."""


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
    def attn_stats(self) -> list[LayerShare] | None:
        """Per-layer attention shares sorted by layer, or None when not recorded."""
        p = self.root / "attn_stats.json"
        if not p.is_file():
            return None
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            layers = [LayerShare.model_validate(x) for x in data["layers"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
            raise InputError(f"{p}: expected {{\"layers\": [{{\"layer\", \"intra\", \"inter\", "
                             f"\"text\"}}]}} ({type(exc).__name__}); re-run the probe") from None
        return sorted(layers, key=lambda x: x.layer)

    def attn_map_ids(self) -> list[str]:
        """Query ids with an attention map file, sorted."""
        d = self.root / "attn_maps"
        return sorted(p.stem for p in d.glob("*.npz")) if d.is_dir() else []

    def attn_maps(self, query_id: str) -> AttnMaps:
        return load_attn_maps(self.root / "attn_maps" / f"{query_id}.npz", query_id)


def load_attn_maps(path: Path, query_id: str) -> AttnMaps:
    """Read one ``attn_maps/<id>.npz`` (no pickled objects are loaded)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = sorted((k for k in npz.files if k.startswith("image_")), key=lambda k: int(k[6:]))
            maps = tuple(np.asarray(npz[k], dtype=float) for k in names)
            positions = (tuple(int(x) for x in np.asarray(npz["positions"]).ravel())
                         if "positions" in npz.files else tuple(range(len(maps))))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable attention map ({exc}); re-run the probe") from None
    if any(m.ndim != 2 for m in maps) or len(positions) != len(maps):
        raise InputError(f"{path}: expected 2-D image_i arrays and one position per map; re-run the probe")
    return AttnMaps(query_id=query_id, maps=maps, positions=positions)


def load_probe_dir(root: Path) -> ProbeRun:
    """Open a probe output folder; only ``config.json`` is required."""
    root = Path(root)
    cfg_path = root / "config.json"
    if not cfg_path.is_file():
        raise InputError(f"{root}: no config.json; pass a folder written by `mimicgen probe`")
    try:
        config = ProbeConfig.model_validate(json.loads(cfg_path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{cfg_path}: expected {{\"probe\": str, \"model\": str}} ({first})") from None
    return ProbeRun(root, config)
