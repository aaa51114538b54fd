"""Figure style and saving: one place for sizes, colours and deterministic PNG/SVG output.

matplotlib is imported inside functions only (it is the optional ``plots`` extra); callers go
through :func:`pyplot` so that a missing install becomes :class:`MissingExtraError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mimicgen.errors import MissingExtraError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "ROLE_COLOURS",
    "FigureStyle",
    "color_for",
    "new_figure",
    "pyplot",
    "save_figure",
]

# Colour-blind safe (Okabe-Ito); models / probe settings take colours in the order given.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
ROLE_COLOURS: dict[str, str] = {"query": "#009E73", "distractor": "#D55E00", "context": "#0072B2"}


class FigureStyle(BaseModel):
    """Size and file formats of every figure written by ``mimicgen plot``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    width: float = Field(default=6.4, gt=0, le=40)
    """Figure width in inches (per figure; small multiples share it)."""
    height: float = Field(default=4.0, gt=0, le=40)
    """Figure height in inches."""
    dpi: int = Field(default=100, ge=20, le=600)
    """PNG resolution: the PNG is exactly ``width*dpi`` x ``height*dpi`` pixels."""
    formats: tuple[Literal["png", "svg"], ...] = ("png", "svg")
    """File formats written for each figure, in this order."""


def pyplot() -> Any:
    """Import ``matplotlib.pyplot`` with the non-interactive Agg backend, or raise MissingExtraError."""
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("plots", "matplotlib") from None
    matplotlib.use("Agg", force=True)
    # A fixed SVG id salt makes SVG output byte-identical across runs.
    matplotlib.rcParams.update(
        {
            "svg.hashsalt": "mimicgen",
            "font.size": 9,
            "axes.titlesize": 9,
            "axes.labelsize": 9,
            "legend.fontsize": 8,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    )
    import matplotlib.pyplot as plt

    return plt


def new_figure(style: FigureStyle, nrows: int = 1, ncols: int = 1, **kw: Any) -> tuple[Figure, Any]:
    """A figure of exactly the configured size with a grid of axes (always a 2-D array)."""
    plt = pyplot()
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(style.width, style.height),
        dpi=style.dpi,
        squeeze=False,
        layout="constrained",
        **kw,
    )
    return fig, axes


def save_figure(fig: Figure, out_dir: Path, name: str, style: FigureStyle) -> list[Path]:
    """Write ``name.<fmt>`` for each configured format, close the figure, return the paths.

    No ``bbox_inches="tight"``: the PNG keeps the configured pixel size. Metadata that changes
    between runs (dates, software versions) is dropped so outputs are byte-identical.
    """
    plt = pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for fmt in style.formats:
        path = out_dir / f"{name}.{fmt}"
        meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
        fig.savefig(path, format=fmt, dpi=style.dpi, metadata=meta)
        paths.append(path)
    plt.close(fig)
    return paths


def color_for(index: int) -> str:
    """The palette colour for the index-th series (cycles)."""
    return PALETTE[index % len(PALETTE)]
