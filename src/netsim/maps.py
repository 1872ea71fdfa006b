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
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.transforms import Affine2D, Bbox, IdentityTransform

from netsim import geography
from netsim.atomic import atomic_file
from netsim.colour_scales import (
    STATEMENT_CLASS_WIDTHS,
    ColourScale,
    class_edges,
    difference_scale,
    shared_scale,
)
from netsim.errors import FontWarning, GeographyError
from netsim.glyphs import GlyphCachingRenderer, load_stored
from netsim.grid import Grid
from netsim.i18n import DISTRICT_NAMES_ZH, picture_text
from netsim.png import encode_png
from netsim.tick_layout import OncePerDrawAxes

__all__ = [
    "STATEMENT_CLASS_WIDTHS",
    "STATION_STYLES",
    "ColourScale",
    "MapStyle",
    "class_edges",
    "default_title",
    "difference_scale",
    "district_label",
    "map_figure",
    "picture_fonts",
    "prepare_pictures",
    "shared_scale",
    "static_map",
]

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


# ----------------------------------------------------------------------------
# How a map is drawn (colour scales: netsim.colour_scales)
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MapStyle:
    """How :func:`static_map` and :func:`map_figure` draw a field: everything but the
    grid, the fields, the stations and the output path.

    Attributes
    ----------
    pollutant
        Pollutant name, e.g. ``"PM2.5"`` (title and units).
    limit
        Limit marked on the colour bar (e.g. 35 µg/m³, GB 3095-2012 Grade II
        annual PM2.5); None for no mark.
    title
        Figure title; default :func:`default_title` ("Spatial Distribution of
        PM2.5 Annual Average Concentration").
    units
        Colour-bar units; default from :data:`netsim.pollutants.POLLUTANTS`.
    limit_label
        Text beside the limit line (default "Grade II limit" in ``lang``).
    cmap
        Matplotlib colour map of the field when no ``scale`` is given (default
        ``RdYlBu_r``: red = high; use ``RdYlBu`` where high is good, e.g. days
        meeting the standard).
    scale, std_scale
        Colour scales of the field and of the kriging std (:func:`shared_scale`,
        :func:`difference_scale`), e.g. one scale for the baseline and scenario
        maps; None: the field's 0.5-99.5th percentile range (and the limit).
    colour_label
        Colour-bar label (default ``"<pollutant> (<units>)"``).
    subtitle
        Second title line (e.g. scenario and network).
    district_names
        Draw the district names.
    lang
        ``"en"`` or ``"zh"``: language of the map's own labels (axes, legend, scale
        bar, district names) and its font (a CJK family for Chinese).
    dpi
        Resolution of the PNG.
    """

    pollutant: str
    limit: float | None = None
    title: str | None = None
    units: str | None = None
    limit_label: str | None = None
    cmap: str = "RdYlBu_r"
    scale: ColourScale | None = None
    std_scale: ColourScale | None = None
    colour_label: str | None = None
    subtitle: str | None = None
    district_names: bool = True
    lang: str = "en"
    dpi: int = 150


def _style(style: MapStyle | None, fields: dict[str, Any]) -> MapStyle:
    """``style`` with ``fields`` replaced (a new style of ``fields`` without one)."""
    if style is None:
        return MapStyle(**fields)
    return replace(style, **fields) if fields else style


# ----------------------------------------------------------------------------
# Fonts: a CJK family for Chinese labels
# ----------------------------------------------------------------------------

CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
)
"""Font families tried, in order, for Chinese labels (Debian: ``fonts-noto-cjk``)."""

_CJK_FILE_HINTS = (
    "NotoSansCJK", "NotoSansSC", "SourceHanSans", "wqy-zenhei", "DroidSansFallback",
)


@lru_cache(maxsize=1)
def cjk_family() -> str | None:
    """The first installed family of :data:`CJK_FAMILIES`, or None.

    Fonts installed after matplotlib built its font cache are registered from the
    system font folders.
    """
    from matplotlib import font_manager

    def known() -> set[str]:
        return {f.name for f in font_manager.fontManager.ttflist}

    found = next((f for f in CJK_FAMILIES if f in known()), None)
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(h in Path(path).name for h in _CJK_FILE_HINTS):
                font_manager.fontManager.addfont(path)
        found = next((f for f in CJK_FAMILIES if f in known()), None)
    return found


_warned_no_cjk = False


TEXT_HINTING = "no_hinting"
"""FreeType hinting of the pictures' text (matplotlib's ``text.hinting``): none.  Hinting
snaps glyph outlines to the pixel grid, which sharpens small text on screens of ~96 dpi but
is hard to see at the pictures' 150 dpi, and it costs: without it a two-panel map is drawn
and written in 161 instead of 172 ms and ``changes.png`` in 0.63 instead of 0.77 s (EPYC)."""


def _font_rc(lang: str) -> dict[str, Any]:
    """rcParams of the pictures in ``lang``: a CJK family first for Chinese; no hinting
    (:data:`TEXT_HINTING`)."""
    global _warned_no_cjk
    rc: dict[str, Any] = {"font.family": ["DejaVu Sans"], "text.hinting": TEXT_HINTING}
    if lang != "zh":
        return rc
    family = cjk_family()
    if family is None:
        if not _warned_no_cjk:
            _warned_no_cjk = True
            warnings.warn("no CJK font found: Chinese map and chart labels will show as boxes; "
                          "install one with: apt-get install fonts-noto-cjk", FontWarning,
                          stacklevel=3)
        return rc
    rc["font.family"] = [family, "DejaVu Sans"]
    return rc


@contextmanager
def picture_fonts(lang: str = "en") -> Iterator[None]:
    """Matplotlib fonts of netsim's pictures in ``lang`` (a CJK family for ``"zh"``;
    warns once, naming the fix, when none is installed)."""
    import matplotlib

    with matplotlib.rc_context(_font_rc(lang)):
        yield


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


_NO_CMAP = ListedColormap(["black"])
"""Colour map of the marker collections (colours are given; this only spares matplotlib
copying its default colour map for every collection)."""


def _scatter(ax, x: np.ndarray, y: np.ndarray, marker: str, size: float, *, face: str,
             edge: str, linewidth: float, zorder: float) -> PathCollection:
    """``ax.scatter`` of markers of one style, as the collection scatter builds."""
    style = MarkerStyle(marker)
    path = style.get_path().transformed(style.get_transform())
    markers = PathCollection((path,), sizes=[size], facecolors=face, edgecolors=edge,
                             linewidths=linewidth, offsets=np.column_stack([x, y]),
                             offset_transform=ax.transData, cmap=_NO_CMAP, zorder=zorder)
    markers.set_transform(IdentityTransform())
    return ax.add_collection(markers, autolim=False)

_STYLE_KEYS = {"urban": "urban_station", "traffic": "traffic_station",
               "border": "border_station", "background": "background_station",
               "sensor": "sensor_station"}


def _draw_stations(ax, stations, has_value: np.ndarray | None = None,
                   lang: str = "en") -> tuple[list[Line2D], list[Artist]]:
    """Scatter the stations by type; legend handles (counts per type) and the collections.

    With ``has_value`` (bool per station) the stations without a value are
    drawn hollow in their type's colour, the type counts are of stations with
    values, and one more handle says "6 stations with values, 24 without".
    """
    handles: list[Line2D] = []
    markers: list[Artist] = []
    if stations is None or len(stations) == 0:
        return handles, markers
    types = stations["type"].astype(str).to_numpy()
    x, y = stations["x"].to_numpy(), stations["y"].to_numpy()
    filled = np.ones(len(types), bool) if has_value is None else has_value
    order = [*STATION_STYLES, *sorted(set(types) - set(STATION_STYLES))]
    for t in order:
        st = STATION_STYLES.get(t, _OTHER_STYLE)
        for solid in (True, False):
            sel = (types == t) & (filled == solid)
            if sel.any():
                markers.append(_scatter(
                    ax, x[sel], y[sel], st["marker"], st["size"],
                    face=st["color"] if solid else "none",
                    edge="black" if solid else st["color"],
                    linewidth=0.7 if solid else 1.1, zorder=5 if solid else 4))
        n_type = int(((types == t) & filled).sum())
        if not (types == t).any() or (has_value is not None and n_type == 0):
            continue
        label = picture_text(_STYLE_KEYS[t], lang) if t in STATION_STYLES else t
        handles.append(
            Line2D([], [], linestyle="none", marker=st["marker"], markersize=np.sqrt(st["size"]),
                   markerfacecolor=st["color"], markeredgecolor="black",
                   label=f"{label} ({n_type})")
        )  # fmt: skip
    if has_value is not None:
        n_with = int(filled.sum())
        handles.append(
            Line2D([], [], linestyle="none", marker="o", markersize=np.sqrt(30),
                   markerfacecolor="none", markeredgecolor="#555555",
                   label=picture_text("with_without", lang, n=n_with, m=len(filled) - n_with))
        )  # fmt: skip
    return handles, markers


CENTRAL_DISTRICTS = ("Dongcheng", "Xicheng", "Chaoyang", "Fengtai", "Shijingshan", "Haidian")
"""The six central districts: their labels are drawn smaller (the two core districts are
about 40-50 km², a few millimetres on the map)."""

_LABEL_ALIGN = {"Xicheng": "right", "Dongcheng": "left"}
"""The two core districts' labels sit either side of their common border."""


@lru_cache(maxsize=1)
def _district_anchors() -> tuple[tuple[str, float, float], ...]:
    """(district, x, y) of a representative point inside each district polygon (EPSG:32650)."""
    frame = geography.districts()
    return tuple((str(name), float(pt.x), float(pt.y))
                 for name, pt in zip(frame["district"], frame.geometry.representative_point(),
                                     strict=True))


def district_label(district: str, lang: str = "en") -> str:
    """A district's map label: English name, or the Chinese name (central districts without
    the 区 suffix, which keeps their labels inside the small districts)."""
    if lang != "zh":
        return district
    name = DISTRICT_NAMES_ZH.get(district, district)
    return name.removesuffix("区") if district in CENTRAL_DISTRICTS else name


def _draw_district_names(ax, lang: str) -> None:
    """District names at representative points, with a white halo so they read on any
    colour."""
    halo = [patheffects.withStroke(linewidth=1.6, foreground="white")]
    for name, x, y in _district_anchors():
        central = name in CENTRAL_DISTRICTS
        ha = _LABEL_ALIGN.get(name, "center")
        ax.text(x, y, district_label(name, lang), fontsize=4.8 if central else 6.5,
                ha=ha, va="center", color="#222222", zorder=6, path_effects=halo,
                gid=f"district:{name}")


def _frame(ax) -> tuple[float, float, float, float]:
    """Map limits (Beijing's bounds + 3 km, equal aspect); returns the bounds (metres)."""
    w, s, e, n = geography.beijing_boundary().bounds
    pad = 3000.0
    ax.set_xlim(w - pad, e + pad)
    ax.set_ylim(s - pad, n + pad)
    ax.set_aspect("equal")
    return w, s, e, n


def _decorate(ax, grid: Grid, lang: str = "en") -> None:
    """Ticks in km, axis labels, scale bar, north arrow and attribution."""
    w, s, e, n = _frame(ax)
    pad = 3000.0
    ticks_x = np.arange(np.ceil((w - pad) / 50_000) * 50_000, e + pad, 50_000)
    ticks_y = np.arange(np.ceil((s - pad) / 50_000) * 50_000, n + pad, 50_000)
    ax.set_xticks(ticks_x, [f"{v / 1000:.0f}" for v in ticks_x], fontsize=7)
    ax.set_yticks(ticks_y, [f"{v / 1000:.0f}" for v in ticks_y], fontsize=7)
    ax.set_xlabel(picture_text("easting", lang), fontsize=8)
    ax.set_ylabel(picture_text("northing", lang), fontsize=8)
    # 20 km scale bar, bottom right
    x0 = e - 30_000
    y0 = s + 6_000
    ax.plot([x0, x0 + 20_000], [y0, y0], color="black", linewidth=2.5, solid_capstyle="butt")
    ax.text(x0 + 10_000, y0 + 1_500, picture_text("scale_bar", lang), ha="center",
            va="bottom", fontsize=7)
    # north arrow, top left
    ax.annotate(
        picture_text("north", lang),
        xy=(w + 6_000, n - 4_000),
        xytext=(w + 6_000, n - 16_000),
        ha="center",
        fontsize=9,
        arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.2},
    )
    ax.text(0.99, 0.005, picture_text("attribution", lang, res=grid.resolution_m),
            transform=ax.transAxes, ha="right", va="bottom", fontsize=5.5, color="#555555")


class _FieldImage(AxesImage):
    """An :class:`~matplotlib.image.AxesImage` of a grid field, nearest-neighbour upsampled,
    that colours the cells and not the pixels.

    Matplotlib resamples the field to the ~600,000 pixels of a panel and then normalises
    and colours every pixel.  Here its own resampling runs once per placement on an image
    of cell numbers (:func:`_pixel_cells`); each draw colours the ~30,000 cells with the
    same norm and colour map and picks every pixel's colour by its cell: the same pixels
    (``tests/test_maps.py``).  Anything else (another interpolation, alpha, a
    non-affine transform, less than 3 pixels per cell) is drawn by ``AxesImage``.
    """

    def _make_image(self, A, in_bbox, out_bbox, clip_bbox, magnification=1.0,
                    unsampled=False, round_to_pixel_border=True):
        placement = None
        if (not unsampled and round_to_pixel_border and A.ndim == 2 and A.dtype.kind == "f"
                and self.get_interpolation() == "nearest" and self.get_alpha() is None):
            placement = _placement(self, A.shape, in_bbox, out_bbox, clip_bbox, magnification)
        if placement is None:
            return super()._make_image(A, in_bbox, out_bbox, clip_bbox, magnification,
                                       unsampled, round_to_pixel_border)
        box, t, out_shape = placement
        cells, partial, partial_coverage = _pixel_cells(self, A.shape, out_shape, t)
        scaled = np.ma.masked_array(
            np.ma.getdata(A).astype(np.dtype("f8" if A.dtype.itemsize > 4 else "f4")),
            np.ma.getmaskarray(A))
        colours = self.to_rgba(self.norm(scaled), bytes=True, norm=False)
        # each pixel's RGBA as one 4-byte word (a gather of words, not of 4-byte rows)
        words = np.ascontiguousarray(colours).view(np.uint32).reshape(-1)
        output = words.take(cells).view(np.uint8).reshape(*cells.shape, 4)
        # alpha x coverage (x the scalar alpha, 1 here) as matplotlib computes it, only
        # where the coverage is not 1
        alpha_channel = output[:, :, 3].reshape(-1)
        alpha_channel[partial] = (alpha_channel[partial].astype(np.float32) * partial_coverage
                                  * self._get_scalar_alpha())
        return output, box.x0 / magnification, box.y0 / magnification, t


def _placement(image: AxesImage, shape: tuple[int, int], in_bbox, out_bbox, clip_bbox,
               magnification: float):
    """Where ``AxesImage._make_image`` (matplotlib 3.11) puts a resampled (ny, nx) image:
    the output box rounded to whole pixels, the affine transform from cells to its pixels
    and its (rows, columns); None where that code would take another route."""
    clipped = Bbox.intersection(out_bbox, clip_bbox)
    if clipped is None:
        return None
    e = clipped.extents * magnification
    box = Bbox.from_extents([np.floor(e[0] + 0.5), np.ceil(e[1] - 0.5 - 1e-8),
                             np.floor(e[2] + 0.5 + 1e-8), np.ceil(e[3] - 0.5)])
    if box.width == 0 or box.height == 0:
        return None
    flip = (Affine2D().translate(0, -shape[0]).scale(1, -1) if image.origin == "upper"
            else IdentityTransform())
    t0 = flip + (Affine2D().scale(in_bbox.width / shape[1], in_bbox.height / shape[0])
                 .translate(in_bbox.x0, in_bbox.y0) + image.get_transform())
    t = t0 + Affine2D().scale(magnification).translate(-box.x0, -box.y0)
    corners = t.transform(np.array([[0, 0], [shape[1], shape[0]]]))
    pixels_per_cell = np.abs(np.diff(corners, axis=0))[0] / np.array([shape[1], shape[0]])
    if not t.is_affine or (pixels_per_cell < 3).any():  # matplotlib colours, then resamples
        return None
    return box, t, (int(box.height), int(box.width))


def _pixel_cells(image: AxesImage, shape: tuple[int, int], out_shape: tuple[int, int],
                 t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cell (flat index) under every output pixel, as matplotlib's nearest-neighbour
    resampling picks it; and the (flat) pixels whose coverage is not 1 (0 outside the image)
    with that coverage.  Cached per image shape, output shape and transform (~7 MB for a
    1 km panel; the last 6 kept)."""
    return _pixel_cells_cached(shape, out_shape, tuple(t.get_matrix().ravel()),
                               image.get_interpolation())


@lru_cache(maxsize=6)
def _pixel_cells_cached(shape: tuple[int, int], out_shape: tuple[int, int],
                        matrix: tuple[float, ...], interpolation: str
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from matplotlib.image import _resample

    t = Affine2D(np.array(matrix).reshape(3, 3))
    probe = AxesImage(None, interpolation=interpolation)  # _resample reads its settings
    numbers = np.arange(shape[0] * shape[1], dtype=np.float64).reshape(shape)
    cells = np.rint(_resample(probe, numbers, out_shape, t)).astype(np.intp)
    coverage = _resample(probe, np.ones(shape, np.float32), out_shape, t, resample=True)
    coverage[np.isnan(coverage)] = 1
    partial = np.flatnonzero(coverage != 1)
    partial_coverage = coverage.reshape(-1)[partial]
    for array in (cells, partial, partial_coverage):
        array.setflags(write=False)
    return cells, partial, partial_coverage


class _Overlay(Artist):
    """A pre-rendered RGBA layer drawn at fixed figure pixels (no resampling, no re-layout)."""

    def __init__(self, rgba: np.ndarray, x0: int, y0: int, zorder: float) -> None:
        super().__init__()
        self._rgba, self._x0, self._y0 = rgba, x0, y0
        self.set_zorder(zorder)

    def draw(self, renderer) -> None:
        if self.get_visible():
            _draw_pixels(renderer, self._rgba, self._x0, self._y0)


def _draw_pixels(renderer, rgba: np.ndarray, x0: int, y0: int) -> None:
    """Copy an RGBA block (bottom row first) to figure pixels (x0, y0): no resampling."""
    gc = renderer.new_gc()
    renderer.draw_image(gc, x0, y0, rgba)
    gc.restore()


@lru_cache(maxsize=16)
def _overlay_layers(ncols: int, lang: str, resolution_m: float, dpi: int,
                    names: bool) -> tuple[tuple[np.ndarray, int, int], ...]:
    """What every map of a layout shares, rendered once per process on a transparent
    figure: with ``names`` the district names, else the axes frames, ticks and labels,
    district and municipal outlines, scale bar, north arrow and attribution; one
    (rgba, x and y offsets in pixels) per panel, cropped to its drawn pixels (the colour
    bar's third of a panel is blank here: a third less to keep)."""
    fig = Figure(figsize=(PANEL_WIDTH_IN * ncols, FIGURE_HEIGHT_IN), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    fig.patch.set_alpha(0.0)
    grid = type("Resolution", (), {"resolution_m": resolution_m})()
    for column in range(ncols):
        ax, cax = _panel_axes(fig, column, ncols)
        cax.set_visible(False)
        ax.patch.set_visible(False)
        if names:
            _frame(ax)
            ax.set_axis_off()
            _draw_district_names(ax, lang)
        else:
            _draw_outlines(ax)
            _decorate(ax, grid, lang)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())[::-1]  # draw_image wants the bottom row first
    width = rgba.shape[1] // ncols
    return tuple(_cropped(rgba[:, c * width:(c + 1) * width], c * width, 0)
                 for c in range(ncols))


def _cropped(rgba: np.ndarray, x0: int, y0: int) -> tuple[np.ndarray, int, int]:
    """The smallest block of ``rgba`` (placed at x0, y0) holding every pixel with alpha."""
    drawn = rgba[..., 3] > 0
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    if rows.size == 0:
        return np.zeros((1, 1, 4), np.uint8), x0, y0
    block = rgba[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return np.ascontiguousarray(block), x0 + int(cols[0]), y0 + int(rows[0])


def _overlays(ncols: int, lang: str, resolution_m: float, dpi: int,
              district_names: bool) -> list[list[_Overlay]]:
    """Per panel: the outlines and frame (between field and stations) and, with
    ``district_names``, the names (above the stations)."""
    key = (ncols, lang, float(resolution_m), dpi)
    under = [_Overlay(*block, 3) for block in _overlay_layers(*key, False)]
    if not district_names:
        return [[u] for u in under]
    names = [_Overlay(*block, 6) for block in _overlay_layers(*key, True)]
    return [[u, n] for u, n in zip(under, names, strict=True)]


PNG_COMPRESSION = 2
"""Deflate level of the PNGs (zlib-ng, :mod:`netsim.png`): a two-panel map encodes in 8 ms
for 327 KB, against 19 ms and 350 KB with CPython's zlib at level 1 (EPYC)."""
PNG_METADATA = {"Software": "netsim (matplotlib)"}
"""Fixed PNG text chunks, so the same fields give the same bytes."""
PANEL_WIDTH_IN = 7.2
FIGURE_HEIGHT_IN = 7.4
_MAP_BOX_IN = (0.75, 1.25, 5.3, 5.2)  # left, bottom, width, height of a map in its panel
_COLOURBAR_BOX_IN = (6.2, 1.85, 0.18, 4.0)


def _panel_axes(fig: Figure, column: int, ncols: int):
    """Map and colour-bar axes of panel ``column`` at fixed positions (inches); the colour
    bar lays its ticks out once per draw (:class:`netsim.tick_layout.OncePerDrawAxes`).

    A fixed layout instead of matplotlib's constrained layout, whose solver cost about
    a second per figure; the boxes leave room for tick labels, the colour-bar label, the
    title above and the legend below.
    """
    width = PANEL_WIDTH_IN * ncols
    x0 = PANEL_WIDTH_IN * column

    def rect(box: tuple[float, float, float, float]) -> list[float]:
        left, bottom, w, h = box
        return [(x0 + left) / width, bottom / FIGURE_HEIGHT_IN, w / width, h / FIGURE_HEIGHT_IN]

    return (fig.add_axes(rect(_MAP_BOX_IN)),
            fig.add_axes(rect(_COLOURBAR_BOX_IN), axes_class=OncePerDrawAxes))


def static_map(
    grid: Grid,
    field: np.ndarray,
    network: Any = None,
    *,
    path: str | os.PathLike[str],
    std: np.ndarray | None = None,
    has_value: np.ndarray | None = None,
    style: MapStyle | None = None,
    **style_fields: Any,
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
    path
        Output PNG (written atomically).
    std
        Kriging standard deviation on the same grid: adds a second panel.
    has_value
        Bool per station of ``network`` (its row order): True for the stations
        whose values made the field.  The others are drawn hollow and the
        legend counts both ("6 stations with values, 24 without"); the type
        counts are then of stations with values.  None: every station filled.
    style, **style_fields
        How to draw (:class:`MapStyle`): a style, and/or its fields as keywords
        (``pollutant="PM2.5", limit=35``), which replace the style's.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    out = Path(path)
    style = _style(style, style_fields)
    content = _MapContent.of(grid, field, network, std, has_value, style)
    with _one_picture_at_a_time, picture_fonts(style.lang):
        write_png(_reused_map_figure(content.layout_key(), _rc_key()).show(content), out)
    return out


_one_picture_at_a_time = threading.RLock()
"""Held while a picture is shown on a reused figure and drawn with the shared renderer
(:func:`_reused_map_figure`, :class:`PictureCanvas`): threads of one process draw in turn."""


class PictureCanvas(FigureCanvasAgg):
    """An Agg canvas drawing with the process's renderer of its pixel size and dpi.

    A drawn figure is a reference cycle, and its artists keep the renderer they drew
    with: with a renderer of its own, each picture's ~10 MB of pixels (a two-panel map)
    waited for the cyclic collector, and several pictures' worth piled up in a process.
    A draw clears the renderer first, so the picture is the same as on a canvas of its
    own; a process draws one picture at a time.
    """

    def get_renderer(self) -> RendererAgg:
        width, height = self.get_width_height(physical=True)
        return _shared_renderer(width, height, self.figure.dpi)


@lru_cache(maxsize=2)
def _shared_renderer(width: int, height: int, dpi: float) -> RendererAgg:
    """One renderer per size and dpi (the last two: a map's one- and two-panel layouts),
    drawing text from cached glyphs (:mod:`netsim.glyphs`)."""
    return GlyphCachingRenderer(width, height, dpi)


def write_png(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Draw ``fig`` on its Agg canvas and write it atomically as an RGB PNG at the figure's
    dpi (no alpha channel: a quarter less to compress; fixed metadata: same figure, same
    bytes; :func:`netsim.png.encode_png`)."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else PictureCanvas(fig)
    with _one_picture_at_a_time:
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        png = encode_png(rgba[..., :3], dpi=fig.dpi, text=PNG_METADATA,
                         compress_level=PNG_COMPRESSION)
    out = Path(path)
    with atomic_file(out) as tmp:
        tmp.write_bytes(png)
    return out


def _panel_title(fig: Figure, column: int, ncols: int, text: str) -> None:
    """A panel's title centred above its map (a figure text at a fixed position: an axes
    title would be placed by measuring the axes' ticks at every draw)."""
    left, bottom, width, height = _MAP_BOX_IN
    x = (PANEL_WIDTH_IN * column + left + width / 2) / (PANEL_WIDTH_IN * ncols)
    fig.text(x, (bottom + height + 0.1) / FIGURE_HEIGHT_IN, text, ha="center", va="bottom",
             fontsize=9)


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
    std: np.ndarray | None = None,
    has_value: np.ndarray | None = None,
    style: MapStyle | None = None,
    **style_fields: Any,
) -> Figure:
    """The figure :func:`static_map` writes (same parameters, without ``path``).

    A matplotlib :class:`~matplotlib.figure.Figure` on an Agg canvas (no
    pyplot state); its station legend is ``fig.legends[0]``, its map
    ``fig.axes[0]`` and colour bar ``fig.axes[1]``.  Build it inside
    :func:`picture_fonts` for Chinese labels.
    """
    content = _MapContent.of(grid, field, network, std, has_value,
                             _style(style, style_fields))
    return _MapFigure(*content.layout_key()).show(content)


@dataclass(frozen=True)
class _MapContent:
    """What one map shows: the validated fields, stations and style."""

    grid: Grid
    field: np.ndarray
    std: np.ndarray | None
    stations: Any
    has_value: np.ndarray | None
    style: MapStyle

    @classmethod
    def of(cls, grid: Grid, field: np.ndarray, network: Any, std: np.ndarray | None,
           has_value: np.ndarray | None, style: MapStyle) -> _MapContent:
        stations = _stations_frame(network)
        return cls(grid, _as_field(grid, field, "field"),
                   None if std is None else _as_field(grid, std, "std"), stations,
                   _has_value_mask(has_value, stations), style)

    @property
    def ncols(self) -> int:
        return 1 if self.std is None else 2

    def layout_key(self) -> tuple[int, int, str, float, bool]:
        """What the figure's fixed parts depend on (:class:`_MapFigure`)."""
        st = self.style
        return self.ncols, st.dpi, st.lang, float(self.grid.resolution_m), st.district_names


class _MapFigure:
    """A map's figure: its fixed parts (axes, outlines, frames, panel titles) built once,
    its content (fields, colour bars, stations, legend, title) shown by :meth:`show`.

    :func:`static_map` keeps one per layout and process (:func:`_reused_map_figure`) and
    shows each map on it: building the axes and colour bars cost about a third of a map.
    :meth:`show` replaces everything a map shows, so a reused figure draws the pixels a
    new one draws (``tests/test_maps.py``).
    """

    def __init__(self, ncols: int, dpi: int, lang: str, resolution_m: float,
                 district_names: bool) -> None:
        fig = Figure(figsize=(PANEL_WIDTH_IN * ncols, FIGURE_HEIGHT_IN), dpi=dpi)
        PictureCanvas(fig)
        self.figure = fig
        self._lang = lang
        overlays = _overlays(ncols, lang, resolution_m, dpi, district_names)
        self._panels = [_MapPanel(*_panel_axes(fig, i, ncols), overlays[i])
                        for i in range(ncols)]
        if ncols == 2:
            _panel_title(fig, 0, ncols, picture_text("annual_average", lang))
            _panel_title(fig, 1, ncols, picture_text("kriging_std", lang))
        self._limit_mark: list[Artist] = []
        self._stations: tuple[Any, list[Artist]] = (None, [])

    def show(self, content: _MapContent) -> Figure:
        """The figure showing ``content`` (of this figure's layout)."""
        assert content.layout_key()[:3] == (len(self._panels), self.figure.dpi, self._lang)
        st, fig = content.style, self.figure
        units = _units(st.pollutant) if st.units is None else st.units
        scale = st.scale if st.scale is not None else ColourScale(
            *_colour_range(content.field, st.limit), st.cmap)
        label = st.colour_label or (f"{st.pollutant} ({units})" if units else st.pollutant)
        for artist in self._limit_mark:
            artist.remove()
        first = self._panels[0]
        first.show(content.grid, content.field, scale, label)
        self._limit_mark = _limit_mark(first.cax, scale, st.limit,
                                       st.limit_label or picture_text("grade_ii_limit", st.lang))
        if content.std is not None:
            std_label = picture_text("kriging_std", st.lang) + (f" ({units})" if units else "")
            self._panels[1].show(content.grid, content.std,
                                 _std_scale(content.std, st.std_scale), std_label)
        self._show_stations(content.stations, content.has_value, st.lang)
        heading = st.title if st.title is not None else default_title(st.pollutant)
        if st.subtitle:
            heading = f"{heading}\n{st.subtitle}"
        fig.suptitle(heading, fontsize=11, y=1.0 - 0.1 / FIGURE_HEIGHT_IN, va="top",
                     linespacing=1.4)
        return fig

    def prepare_legend(self, stations) -> None:
        """Show ``stations`` (all with values) and render their legend's pixels."""
        self._show_stations(stations, None, self._lang)
        self._stations[1][-1].pixels()

    def _show_stations(self, stations, has_value: np.ndarray | None, lang: str) -> None:
        """The stations on every panel and their legend, kept while the next map's stations
        are the same (the maps of a network)."""
        key = _stations_key(stations, has_value, lang)
        shown_key, shown = self._stations
        if shown and key == shown_key:
            return
        for artist in shown:
            artist.remove()
        handles, shown = _draw_stations(self._panels[0].ax, stations, has_value, lang)
        for panel in self._panels[1:]:
            shown += _draw_stations(panel.ax, stations, has_value, lang)[1]
        shown.append(_station_legend(self.figure, handles, lang))
        self._stations = key, shown


def _stations_key(stations, has_value: np.ndarray | None, lang: str) -> tuple:
    """What the stations' markers and legend depend on (hashable)."""
    if stations is None:
        return None, lang
    columns = tuple(np.ascontiguousarray(stations[c].to_numpy(float)).tobytes()
                    for c in ("x", "y"))
    types = tuple(stations["type"].astype(str))
    mask = None if has_value is None else has_value.tobytes()
    return columns, types, mask, lang


def prepare_pictures(resolution_m: float, lang: str = "en", *, district_names: bool = True,
                     dpi: int = 150, legends: Sequence[tuple[int, Any]] = ()) -> None:
    """Build in this process, before its first map, what the maps of a run share: the
    outline and district-name layers and the figure of the one- and two-panel layouts
    (~0.5 s, ~12 MB; fonts loaded on the way), and the station legends of ``legends``,
    (panels, stations) pairs (stations: a Network, a frame with x, y and type, or None;
    ~40 ms each).  A helper does this while a run's realisations run
    (:func:`netsim.workers.warm`); the maps are the same with or without it.

    The figures each legend was drawn on (a reference cycle holding a canvas of ~10 MB)
    are collected before returning, not left to the realisations that follow.  The text
    earlier runs drew is read from disk here too (:func:`netsim.glyphs.load_stored`, ~50 ms),
    not at the first map."""
    import gc

    load_stored()
    with _one_picture_at_a_time, picture_fonts(lang):
        figures = {ncols: _reused_map_figure((ncols, dpi, lang, float(resolution_m),
                                              district_names), _rc_key())
                   for ncols in (1, 2)}
        for ncols, stations in legends:
            figures[ncols].prepare_legend(_stations_frame(stations))
    gc.collect()


@lru_cache(maxsize=4)
def _reused_map_figure(layout: tuple[int, int, str, float, bool], rc: tuple) -> _MapFigure:
    """The process's :class:`_MapFigure` of a layout (one- and two-panel, English and
    Chinese), built under the rcParams ``rc`` (:func:`_rc_key`)."""
    return _MapFigure(*layout)


def _rc_key() -> tuple:
    """The current rcParams (hashable): a reused figure's fixed parts were built under them.

    Read as stored (``dict.items``): ``rcParams["backend"]`` read the usual way resolves the
    backend, which imports pyplot (~40 ms, and nothing a picture needs)."""
    import matplotlib

    return tuple((k, _hashable(v)) for k, v in sorted(dict.items(matplotlib.rcParams)))


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


_LEGEND_LAYOUT = {"loc": "lower center", "fontsize": 7, "frameon": False,
                  "bbox_to_anchor": (0.5, 0.005)}
"""Where and how the station legend sits: centred below the panels, no frame."""


def _station_legend(fig: Figure, handles: list[Line2D], lang: str) -> Legend:
    """The legend below the panels: station types and the development area's outline (a
    :class:`_StationLegend`, ``fig.legends[0]``)."""
    eda_handle = Line2D([], [], color="#333333", linestyle="--", linewidth=0.8,
                        label=picture_text("development_area", lang))  # fmt: skip
    handles = [*handles, eda_handle]
    legend = _StationLegend(fig, handles, [h.get_label() for h in handles],
                            ncols=min(3, len(handles)), **_LEGEND_LAYOUT)
    legend._remove_method = fig.legends.remove  # as Figure.legend does
    fig.legends.append(legend)
    return legend


_HANDLE_PROPERTIES = ("label", "linestyle", "linewidth", "color", "marker", "markersize",
                      "markerfacecolor", "markeredgecolor", "markeredgewidth")
_LEGEND_RC_PREFIXES = ("legend.", "font.", "text.", "figure.facecolor", "lines.", "patch.")


class _StationLegend(Legend):
    """The station legend, drawn as a copy of the same legend drawn once per process.

    The maps of a network share their legend (its station counts and the development
    area), and drawing its text costs about a sixth of a map.  Below the panels nothing else
    is drawn, so the legend's pixels are those of the figure background with the legend on
    it: :func:`_legend_pixels` draws the same legend (same handles, figure size, dpi and
    rcParams) on an empty figure once and keeps that block of pixels, which each draw
    copies to the same place.  The same pixels as drawing the legend
    (``tests/test_maps.py``); the legend object stays a real one (texts, handles, extent).
    """

    def __init__(self, parent: Figure, handles: list[Line2D], labels: list[str],
                 **kwargs: Any) -> None:
        super().__init__(parent, handles, labels, **kwargs)
        self._entries = tuple(tuple(_property(h, name) for name in _HANDLE_PROPERTIES)
                              for h in handles)

    def draw(self, renderer) -> None:
        if not self.get_visible():
            return
        _draw_pixels(renderer, *self.pixels())
        self.stale = False

    def pixels(self) -> tuple[np.ndarray, int, int]:
        """The legend's block of pixels and its lower-left corner (:func:`_legend_pixels`)."""
        figure = self.get_figure(root=True)
        return _legend_pixels((tuple(figure.get_size_inches()), figure.dpi, self._ncols,
                               self._entries, _rc_snapshot()))


def _property(handle: Artist, name: str) -> Any:
    """A handle's property ``name`` (hashable)."""
    value = getattr(handle, f"get_{name}")()
    return tuple(value) if isinstance(value, list | np.ndarray) else value


def _rc_snapshot() -> tuple:
    """The rcParams a legend's pixels depend on (hashable): those of :func:`_rc_key`."""
    return tuple(item for item in _rc_key() if item[0].startswith(_LEGEND_RC_PREFIXES))


@lru_cache(maxsize=32)
def _legend_pixels(key: tuple) -> tuple[np.ndarray, int, int]:
    """The station legend of ``key`` drawn on an empty figure: the RGBA block (bottom row
    first) of its extent plus 2 pixels, and its lower-left corner in figure pixels."""
    size, dpi, ncols, entries, _ = key
    fig = Figure(figsize=size, dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    handles = [Line2D([], [], **dict(zip(_HANDLE_PROPERTIES, entry, strict=True)))
               for entry in entries]
    legend = fig.legend(handles=handles, ncols=ncols, **_LEGEND_LAYOUT)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    height, width = pixels.shape[:2]
    box = legend.get_window_extent(canvas.get_renderer())
    x0, y0 = max(int(np.floor(box.x0)) - 2, 0), max(int(np.floor(box.y0)) - 2, 0)
    x1, y1 = min(int(np.ceil(box.x1)) + 2, width), min(int(np.ceil(box.y1)) + 2, height)
    block = np.ascontiguousarray(pixels[height - y1:height - y0, x0:x1][::-1])
    return block, x0, y0  # (Agg's draw_image takes writeable arrays only)


def _std_scale(std_arr: np.ndarray, scale: ColourScale | None) -> ColourScale:
    """``scale``, else 0 to the 99.5th percentile of the kriging std (viridis)."""
    if scale is not None:
        return scale
    finite = std_arr[np.isfinite(std_arr)]
    vmax = float(np.percentile(finite, 99.5)) if finite.size else 1.0
    return ColourScale(0.0, vmax if vmax > 0 else 1.0, "viridis")


@dataclass
class _MapPanel:
    """One panel of a :class:`_MapFigure`: map and colour-bar axes, the static overlays,
    and the field image and colour bar once a field is shown (the stations are the
    figure's)."""

    ax: Any
    cax: Any
    overlays: Sequence[Artist]
    image: _FieldImage | None = None
    colourbar: Any = None

    def __post_init__(self) -> None:
        _frame(self.ax)
        self.ax.set_axis_off()  # frame, ticks and labels are in the overlay
        for layer in self.overlays:
            self.ax.add_artist(layer)

    def show(self, grid: Grid, arr: np.ndarray, scale: ColourScale, label: str) -> None:
        """Show ``arr`` on ``scale``, its colour bar labelled ``label``."""
        norm, cmap = scale.norm_and_cmap()
        data = np.ma.masked_invalid(arr)
        if self.image is None:
            self._add_image(grid, data, norm, cmap)
        else:
            self.image.set_data(data)
            self.image.set_extent(grid.extent)
            with self.image.callbacks.blocked(signal="changed"):
                self.image.set_cmap(cmap)
            self.image.set_norm(norm)  # updates the colour bar (once: not for the cmap)
        if scale.edges is not None:
            self.colourbar.set_ticks(list(scale.edges))
        self.colourbar.set_label(label, fontsize=9)

    def _add_image(self, grid: Grid, data: np.ma.MaskedArray, norm, cmap) -> None:
        image = _FieldImage(self.ax, cmap=cmap, norm=norm, interpolation="nearest",
                            origin="upper", extent=grid.extent)
        image.set_data(data)
        image.set_clip_path(self.ax.patch)
        image.set_extent(image.get_extent())  # as Axes.imshow
        self.ax.add_image(image)
        self.image = image
        self.colourbar = self.ax.get_figure(root=True).colorbar(image, cax=self.cax,
                                                                spacing="proportional")
        self.cax.tick_params(labelsize=8)  # kept by the ticks of every later scale


def _limit_mark(cax, scale: ColourScale, limit: float | None, label: str) -> list[Artist]:
    """The limit as a black line on the colour bar, labelled on its left; the two artists."""
    if limit is None or not scale.vmin <= limit <= scale.vmax:
        return []
    line = cax.axhline(limit, color="black", linewidth=2.0)
    return [line, cax.text(-0.15, limit, f"{label} {limit:g}", transform=cax.get_yaxis_transform(),
             va="center", ha="right", fontsize=7, clip_on=False,
             bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.0})]
