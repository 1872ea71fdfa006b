"""Colour scales of netsim's maps: one scale shared by the maps compared, optional
discrete classes (matplotlib is imported only to draw)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from netsim.errors import GeographyError

if TYPE_CHECKING:
    from matplotlib.colors import Colormap, Normalize

__all__ = [
    "STATEMENT_CLASS_WIDTHS",
    "ColourScale",
    "class_edges",
    "difference_scale",
    "shared_scale",
]

# ----------------------------------------------------------------------------

STATEMENT_CLASS_WIDTHS: dict[str, float] = {
    "PM2.5": 5.0, "PM10": 10.0, "NO2": 5.0, "SO2": 1.0, "CO": 0.1, "O3": 10.0, "AQI": 20.0,
}
"""Width of the discrete colour classes of ``colour_classes: statement`` (µg/m³; CO mg/m³;
AQI days).  The statement's "Spatial Distribution of ... Annual Average Concentration"
maps are drawn in colour classes, but the statement gives no class edges; netsim's choice
is classes of equal width counted from 0, so every Grade II annual limit (PM2.5 35, PM10
70, NO2 40, SO2 60 µg/m³) is a class edge and a class never straddles the limit."""


@dataclass(frozen=True)
class ColourScale:
    """Colour limits of a map in the field's units, optional class edges and colour map.

    ``edges`` (increasing, ``vmin`` and ``vmax`` included) turn the continuous colour
    map into ``len(edges) - 1`` discrete classes.
    """

    vmin: float
    vmax: float
    cmap: str = "RdYlBu_r"
    edges: tuple[float, ...] | None = None

    def norm_and_cmap(self) -> tuple[Normalize, Colormap]:
        """Matplotlib norm and colour map (a ``BoundaryNorm`` and listed palette with edges)."""
        from matplotlib import colormaps
        from matplotlib.colors import Normalize, from_levels_and_colors

        base = colormaps[self.cmap]
        if self.edges is None:
            return Normalize(self.vmin, self.vmax), base
        n = len(self.edges) - 1
        palette = base(np.linspace(0.0, 1.0, n)) if n > 1 else base([0.5])
        cmap, norm = from_levels_and_colors(list(self.edges), palette)
        return norm, cmap

    def palette(self) -> np.ndarray:
        """(n, 4) RGBA colours (uint8, as drawn) of the classes; empty when continuous."""
        if self.edges is None:
            return np.empty((0, 4), np.uint8)
        norm, cmap = self.norm_and_cmap()
        mids = (np.asarray(self.edges[:-1]) + np.asarray(self.edges[1:])) / 2
        return cmap(norm(mids), bytes=True)


def _outward(lo: float, hi: float) -> tuple[float, float]:
    """``lo``/``hi`` rounded outwards to a step of a tenth of the range's decade."""
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        return lo - 0.5, hi + 0.5
    step = 10.0 ** np.floor(np.log10(span)) / 10.0
    return float(np.floor(lo / step) * step), float(np.ceil(hi / step) * step)


def class_edges(pollutant: str, vmin: float, vmax: float,
                classes: str | Sequence[float] = "statement") -> tuple[float, ...]:
    """Class edges covering ``[vmin, vmax]``.

    ``classes="statement"``: multiples of :data:`STATEMENT_CLASS_WIDTHS` of the
    pollutant (units of the field); a sequence: those edges, widened by one class at
    either end where the data fall outside them.
    """
    if isinstance(classes, str):
        width = STATEMENT_CLASS_WIDTHS.get(pollutant, 0.0) or (vmax - vmin) / 8 or 1.0
        lo = np.floor(round(vmin / width, 9)) * width
        hi = np.ceil(round(vmax / width, 9)) * width
        n = max(round((hi - lo) / width), 1)
        return tuple(float(round(lo + i * width, 9)) for i in range(n + 1))
    edges = sorted(float(e) for e in classes)
    if len(edges) < 2:
        raise GeographyError(f"colour classes of {pollutant}: give at least 2 class edges, "
                             f"got {edges}")
    if vmin < edges[0]:
        edges.insert(0, vmin)
    if vmax > edges[-1]:
        edges.append(vmax)
    return tuple(edges)


def shared_scale(fields: Sequence[np.ndarray | None], limit: float | None = None, *,
                 pollutant: str = "", classes: str | Sequence[float] = "continuous",
                 cmap: str = "RdYlBu_r") -> ColourScale:
    """One colour scale for maps that are to be compared (baseline and scenario).

    Covers the minimum and maximum of every field (NaN ignored) and ``limit`` (e.g. 35
    µg/m³), rounded outwards; ``classes`` is ``"continuous"``, ``"statement"``
    (:data:`STATEMENT_CLASS_WIDTHS`) or a sequence of class edges.
    """
    finite = [np.asarray(f, float)[np.isfinite(f)] for f in fields if f is not None]
    values = np.concatenate(finite) if finite else np.empty(0)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if limit is not None and np.isfinite(limit):
        lo, hi = min(lo, limit), max(hi, limit)
    lo, hi = _outward(lo, hi)
    if classes == "continuous":
        return ColourScale(lo, hi, cmap)
    edges = class_edges(pollutant, lo, hi, classes)
    return ColourScale(edges[0], edges[-1], cmap, edges)


def difference_scale(diff: np.ndarray) -> ColourScale:
    """Diverging ``RdBu_r`` scale centred at zero with symmetric limits ±max|diff|."""
    finite = np.abs(np.asarray(diff, float)[np.isfinite(diff)])
    top = float(finite.max()) if finite.size else 0.0
    top = _outward(-top, top)[1] if top > 0 else 1.0
    return ColourScale(-top, top, "RdBu_r")
