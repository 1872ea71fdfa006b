"""Interactive, offline Leaflet map of a ``netsim run`` directory (folium).

:func:`build_web_map` reads a run directory (layout in the README, "Run
directory layout") and writes one self-contained HTML page:

* the kriged annual-mean surface of each pollutant as an image overlay,
  warped from UTM 50N (EPSG:32650) to Web Mercator (EPSG:3857) so that its rows
  line up with Leaflet's map, transparent outside Beijing; for the selected
  pollutant also the kriging standard deviation, the truth and the error
  (simulated runs), the baseline surface and the scenario-minus-baseline
  difference (scenario runs), each with a legend; the concentration legends
  mark the Grade II annual limit of the run's standard (GB 3095-2012 Table 1,
  ``standards.md`` §1.1);
* district polygons with a tooltip giving the district mean from the stations
  (``annual_by_area.csv``), from the map (area mean of the raster cells) and
  whether the limit is met;
* the stations, one layer per type, with colour-blind-safe colours (Okabe and
  Ito 2008) *and* distinct shapes, popups with their annual statistics
  (``annual_by_station.csv``), removal bias and area served
  (``station_metrics.csv``); in scenario maps added, moved, retyped and removed
  stations are marked;
* more than 100 low-cost sensors as one light layer of small canvas circles
  with its own toggle (reference stations stay on top), popups built on click;
* with time-resolved maps, the days with AQI ≤ 100 (HJ 633) as a layer whose
  legend says which realisations it comes from and, when the run's data show
  it, which pollutant's days above its limit cost the districts with the fewest
  good days (e.g. O3 in the northern mountains);
* a title (scenario, statistic, year) that follows the surface switched on last,
  a scale bar, and zoom and pan limits on Beijing;
* a click readout: the value in the clicked cell of every visible surface of the
  selected pollutant and of the days layer (the
  estimate with its 90 % kriging interval, estimate ± 1.645σ of the kriging std;
  other layers say they have no per-cell interval) and the district's figure
  from the stations with its 90 % interval over realisations
  (``annual_by_area_intervals.csv``).

Every label, legend, popup and the title follow the run's language
(``summary.json`` ``lang``: ``en`` or ``zh``, phrases in :mod:`netsim.i18n`);
Chinese pages are ``<html lang="zh-CN">`` with a CJK font stack.

The page works without a network: Leaflet 1.9.4 (vendored in
``netsim/static/leaflet-1.9.4``, BSD-2-Clause) is inlined and none of folium's
CDN links (jQuery, Bootstrap, Font Awesome, awesome-markers) is written.  With
``tiles="none"`` the page makes no request at all; ``tiles="osm"`` adds the
OpenStreetMap tile layer (needs the internet).

DOM contract (used by the browser tests and by anyone styling the page): each
station marker element has the classes ``netsim-station netsim-<type>``
(``urban``, ``traffic``, ``border``, ``background``, ``sensor``) plus
``netsim-added`` / ``netsim-moved`` / ``netsim-retyped`` when a scenario changed
it.  Stations a scenario *removed* are no longer stations of the network: they
are drawn as grey ghosts with ``netsim-removed netsim-<type>`` but without
``netsim-station``, so ``.netsim-station`` counts exactly the stations of the
network shown (sensors of the light layer are canvas circles, not elements).
Surface overlays are ``<img>`` elements with the classes
``netsim-overlay netsim-overlay-<slug>-<band>``; the title is ``#netsim-title``
and the click readout a popup ``.netsim-readout``.

References
----------
Okabe, M. and Ito, K. (2008) Color Universal Design (CUD): how to make figures
and presentations that are friendly to colorblind people.
GB 3095-2012 Ambient air quality standards, Table 1 (``standards.md`` §1.1).
"""

from __future__ import annotations

import base64
import contextlib
import html
import itertools
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import folium
import numpy as np
import pandas as pd
from branca.element import Element, MacroElement
from folium.map import Layer
from folium.template import Template

from netsim.atomic import output_file
from netsim.crs import GEOGRAPHIC_CRS, PROJECTED_CRS
from netsim.errors import GeographyError, NetsimError, RasterError, ScenarioError
from netsim.i18n import DISTRICT_NAMES_ZH, statistic_name, text
from netsim.pollutants import POLLUTANTS, Pollutant

__all__ = ["STATION_STYLES", "build_web_map", "prepare_web_map", "web_map_html"]

LEAFLET_VERSION = "1.9.4"
"""Version of the Leaflet build bundled in ``netsim/static`` and inlined into maps."""

TileChoice = Literal["none", "osm"]

# Okabe-Ito palette (Okabe & Ito 2008); every type also has its own shape, so
# the symbols stay distinct in grey scale and for any colour-vision deficiency.
STATION_STYLES: dict[str, tuple[str, str, str]] = {
    "urban": ("circle", "#0072B2", "Urban assessment"),
    "traffic": ("square", "#D55E00", "Traffic"),
    "border": ("triangle", "#CC79A7", "Regional border"),
    "background": ("diamond", "#009E73", "Background"),
    "sensor": ("cross", "#E69F00", "Low-cost sensor"),
}
"""Station type -> (shape, Okabe-Ito colour, legend label)."""

_UNKNOWN_STYLE = ("circle", "#000000", "Other")

_LIGHT_SENSOR_THRESHOLD = 100
"""More low-cost sensors than this are drawn as one light layer of canvas circles
(reference stations stay SVG symbols on top); fewer keep their own symbols."""


def _tr(key: str, lang: str, **fields: object) -> str:
    """The web map's phrase ``map_<key>`` in ``lang`` (:func:`netsim.i18n.text`)."""
    return text(f"map_{key}", lang, **fields)


def _type_label(stype: str, lang: str) -> str:
    return _tr(f"type_{stype}" if stype in STATION_STYLES else "type_other", lang)


def _join(pollutant: str, what: str, lang: str) -> str:
    """``"PM2.5 annual mean"`` / ``"PM2.5年均浓度"``."""
    return f"{pollutant}{what}" if lang == "zh" else f"{pollutant} {what}"


def _district_label(district: str, lang: str) -> str:
    return DISTRICT_NAMES_ZH.get(district, district) if lang == "zh" else district

_STATISTIC_LABELS = {
    "annual_mean": "annual mean",
    "p95_daily": "95th percentile of daily means",
    "p98_daily": "98th percentile of daily means",
    "p90_mda8": "90th percentile of daily max 8-h means",
}
"""Readable names of the HJ 663 annual statistics (``netsim.standards.STATISTICS``)."""

_STATISTIC_PREFERENCE = ("annual_mean", "mean")  # netsim.standards.STATISTICS names first

# Colour maps (matplotlib names): concentration and truth share one scale
# centred on the limit; error and difference are diverging around zero.
_CMAPS = {
    "estimate": "RdYlBu_r",
    "truth": "RdYlBu_r",
    "baseline": "RdYlBu_r",
    "std": "viridis",
    "error": "PuOr_r",
    "difference": "PuOr_r",
}
_OVERLAY_OPACITY = 0.75
_MIN_ZOOM = 7
_MAX_ZOOM = 15
_DISPLAY_SIMPLIFY_M = 20.0


# --------------------------------------------------------------------------- assets
@cache
def _static_text(name: str) -> str:
    return (resources.files("netsim") / "static" / f"leaflet-{LEAFLET_VERSION}" / name).read_text(
        encoding="utf-8"
    )


@cache
def _static_bytes(name: str) -> bytes:
    return (resources.files("netsim") / "static" / f"leaflet-{LEAFLET_VERSION}" / name).read_bytes()


def leaflet_js() -> str:
    """Return the bundled Leaflet JavaScript, byte for byte as shipped by the npm package."""
    return _static_text("leaflet.js")


def leaflet_css() -> str:
    """Return the bundled Leaflet CSS, comments removed, ``url(images/...)`` as data URIs."""

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode(_static_bytes(match.group(1))).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"/\*.*?\*/", "", _static_text("leaflet.css"), flags=re.DOTALL)
    return re.sub(r"url\((images/[A-Za-z0-9_.-]+\.png)\)", inline, css)


def _raw_text_safe(text: str, what: str) -> str:
    """Return ``text`` unchanged after checking it cannot end its <script>/<style> element early."""
    lowered = text.lower()
    if "</script" in lowered or "</style" in lowered or "<!--" in lowered:
        raise NetsimError(f"{what}: contains '</script', '</style' or '<!--'; cannot inline it")
    return text


def _json_for_script(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False).replace("</", "<\\/")


class _RawHtml(Element):
    """Markup written as is: branca's ``Element(text)`` would compile ``text`` as a Jinja
    template (0.2-0.5 s for the 150 kB of Leaflet; ~0.5 ms even for ``""``)."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.markup = markup

    def render(self, **kwargs: Any) -> str:
        return self.markup


def _render_macro_raw(element: MacroElement, kwargs: dict[str, Any]) -> None:
    """``MacroElement.render`` without re-reading the rendered macros as Jinja templates.

    branca wraps each rendered ``header``/``html``/``script`` macro in ``Element(text)``,
    which compiles ``text`` as a template: slow for the embedded images and data (about
    0.5 s per map) and wrong for data holding ``{{``.  Here the text is added as is.
    """
    figure = element.get_root()
    module = element._template.module.__dict__
    for part, target in (("header", figure.header), ("html", figure.html),
                         ("script", figure.script)):
        macro = module.get(part)
        if macro is not None:
            target.add_child(_RawHtml(macro(element, kwargs)), name=element.get_name())
    for child in element._children.values():
        child.render(**kwargs)


class _RawMacroElement(MacroElement):
    """A ``MacroElement`` rendered by :func:`_render_macro_raw`; as a second base it also
    changes folium classes (``Layer.render`` ends in ``super().render``)."""

    def render(self, **kwargs: Any) -> None:
        _render_macro_raw(self, kwargs)


class _RawLayer(Layer, _RawMacroElement):
    """A folium ``Layer`` whose rendered script is added as is."""


class _RawGeoJson(folium.GeoJson, _RawMacroElement):
    """``folium.GeoJson`` whose rendered script (the district polygons) is added as is."""


class _OfflineMap(folium.Map):
    """``folium.Map`` that links no CDN asset: Leaflet is inlined by :func:`build_web_map`."""

    default_js: list[tuple[str, str]] = []  # noqa: RUF012 (folium class attribute)
    default_css: list[tuple[str, str]] = []  # noqa: RUF012


# --------------------------------------------------------------------------- run directory
@dataclass
class _NetworkOutputs:
    """What one network's sub-directory of a run directory holds."""

    name: str
    path: Path
    stations: pd.DataFrame
    by_station: pd.DataFrame
    by_area: pd.DataFrame
    metrics: pd.DataFrame
    rasters: dict[str, Path] = field(default_factory=dict)
    derive_changes: bool = False
    """True when ``network.csv`` had no ``change`` column."""


def _read_csv(path: Path, required: tuple[str, ...], *, optional: bool = False) -> pd.DataFrame:
    if not path.exists():
        if optional:
            return pd.DataFrame(columns=list(required))
        raise ScenarioError(f"{path}: file missing from the run directory; re-run `netsim run`")
    frame = pd.read_csv(path, dtype={"station_id": str, "area": str, "pollutant": str})
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ScenarioError(
            f"{path}: missing column(s) {', '.join(missing)}; expected at least "
            f"{', '.join(required)} (written by `netsim run`)"
        )
    return frame


def _load_network_outputs(run_dir: Path, name: str) -> _NetworkOutputs:
    path = run_dir / name
    stations = _read_csv(path / "network.csv", ("station_id", "type", "lon", "lat"))
    stations["station_id"] = stations["station_id"].astype(str)
    derive_changes = "change" not in stations.columns
    if derive_changes:
        stations["change"] = "unchanged"
    stations["change"] = stations["change"].fillna("unchanged").astype(str)
    for col in ("name", "name_zh", "district", "instrument"):
        if col not in stations.columns:
            stations[col] = ""
        stations[col] = stations[col].fillna("").astype(str)
    by_station = _read_csv(
        path / "annual_by_station.csv",
        ("station_id", "pollutant", "statistic", "value"),
        optional=True,
    )
    by_area = _read_csv(
        path / "annual_by_area.csv", ("area", "pollutant", "statistic", "value"), optional=True
    )
    metrics = _read_csv(
        path / "station_metrics.csv",
        ("station_id", "pollutant", "removal_bias", "relative_removal_bias_pct", "area_served_km2"),
        optional=True,
    )
    rasters = {p.name.removesuffix(".tif"): p for p in sorted((path / "rasters").glob("*.tif"))}
    return _NetworkOutputs(
        name, path, stations, by_station, by_area, metrics, rasters, derive_changes
    )


@dataclass
class _Run:
    """A run directory: summary plus one or two networks' outputs."""

    path: Path
    summary: dict[str, Any]
    baseline: _NetworkOutputs
    scenario: _NetworkOutputs | None

    @property
    def shown(self) -> _NetworkOutputs:
        """The network whose stations and surfaces the map shows (the scenario if any)."""
        return self.scenario if self.scenario is not None else self.baseline


def _load_run(run_dir: Path, summary: Mapping[str, Any] | None = None) -> _Run:
    if not run_dir.is_dir():
        raise ScenarioError(f"{run_dir}: not a directory; give the --out directory of `netsim run`")
    summary_path = run_dir / "summary.json"
    if summary is None:
        summary = _read_summary(summary_path)
    if not isinstance(summary, dict):
        raise ScenarioError(
            f"{summary_path}: expected a JSON object with scenario, year, pollutants"
        )
    if not (run_dir / "baseline").is_dir():
        raise ScenarioError(f"{run_dir}: no baseline/ sub-directory; re-run `netsim run`")
    baseline = _load_network_outputs(run_dir, "baseline")
    scenario = (
        _load_network_outputs(run_dir, "scenario") if (run_dir / "scenario").is_dir() else None
    )
    return _Run(run_dir, summary, baseline, scenario)


def _read_summary(path: Path) -> Any:
    """``summary.json`` of a run directory, parsed."""
    if not path.exists():
        raise ScenarioError(f"{path}: missing; give the --out directory of `netsim run`")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from exc


def _read_bands(path: Path) -> tuple[dict[str, np.ndarray], Any, Any]:
    """Read a netsim GeoTIFF (:func:`netsim.rasters.read_raster`): bands, transform, CRS."""
    from netsim.rasters import read_raster

    raster = read_raster(path)
    bands = {k: np.asarray(v, dtype="float64") for k, v in raster.bands.items()}
    return bands, raster.transform, raster.crs


# --------------------------------------------------------------------------- limits and statistics
def grade_ii_annual_limit(pollutant: str, standard: str | None) -> float | None:
    """Grade II annual-mean limit of ``pollutant`` under ``standard``, or None.

    Parameters
    ----------
    pollutant
        Pollutant name as in :data:`netsim.pollutants.POLLUTANTS`.
    standard
        Standard version (:data:`netsim.standards.STANDARD_VERSIONS`, e.g.
        ``"gb3095-2012"``); None means GB 3095-2012.

    Returns
    -------
    float or None
        µg/m³: 35 for PM2.5, 70 for PM10, 40 for NO2, 60 for SO2 under
        GB 3095-2012 (Table 1, ``standards.md`` §1.1); None for CO and O3,
        which have no annual limit.

    Raises
    ------
    NetsimError
        Unknown standard version (from :func:`netsim.standards.limits`).
    """
    from netsim.standards import limits

    return limits(standard or "gb3095-2012", grade=2).limit(pollutant, "annual")


def _pick_statistic(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows of the annual-mean statistic (first name found in the preference list)."""
    if frame.empty:
        return frame
    names = frame["statistic"].astype(str)
    for wanted in _STATISTIC_PREFERENCE:
        hit = frame[names.str.lower() == wanted]
        if not hit.empty:
            return hit
    hit = frame[names.str.lower().str.contains("mean")]
    return hit if not hit.empty else frame.iloc[0:0]


def _district_labels(shape: tuple[int, int], transform: Any, districts_gdf: Any) -> np.ndarray:
    """District number (1 + row of ``districts_gdf``, 0 outside) of every cell whose centre
    falls in a district, on the grid of ``shape`` and ``transform``."""
    from rasterio import features

    shapes = [(geom, i + 1) for i, geom in enumerate(districts_gdf.geometry)]
    return features.rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32")


def _district_means(values: np.ndarray, labels: np.ndarray, names: Any) -> dict[str, float]:
    """Mean of the finite ``values`` in each district's cells (``labels``, see
    :func:`_district_labels`), by name; NaN for a district without any."""
    out: dict[str, float] = {}
    for i, name in enumerate(names):
        vals = values[(labels == i + 1) & np.isfinite(values)]
        out[str(name)] = float(vals.mean()) if vals.size else math.nan
    return out


def _beijing_grid_labels(shape: tuple[int, int], transform: Any) -> np.ndarray | None:
    """:func:`_district_labels` of :func:`netsim.geography.districts` on a Beijing grid
    (:meth:`netsim.grid.Grid.for_beijing`, which rasterises the same districts in the
    same order, numbered from 0), or None for another grid."""
    from netsim.grid import Grid

    res = transform.a
    if transform.b or transform.d or transform.e != -res:
        return None
    try:
        grid = Grid.for_beijing(res)
    except GeographyError:
        return None
    if grid.shape != tuple(shape) or grid.transform != transform:
        return None
    return grid.district.astype(np.int32) + 1


class _DistrictCells:
    """The districts of a frame rasterised once per grid (shapely's coordinate access
    makes each rasterisation cost about 50 ms), then reused for every band on that grid.

    ``beijing_grids``: the frame is :func:`netsim.geography.districts`, so on a Beijing
    grid the grid's own district raster serves (:func:`_beijing_grid_labels`)."""

    _MAX_GRIDS = 8

    def __init__(self, districts_gdf: Any, *, beijing_grids: bool = False) -> None:
        self.districts = districts_gdf
        self.beijing_grids = beijing_grids
        self._labels: dict[tuple[tuple[int, int], Any], np.ndarray] = {}

    def labels(self, shape: tuple[int, int], transform: Any) -> np.ndarray:
        """:func:`_district_labels` of the grid (read-only; cached)."""
        key = (tuple(shape), transform)
        if key not in self._labels:
            if len(self._labels) >= self._MAX_GRIDS:
                self._labels.pop(next(iter(self._labels)))
            labels = _beijing_grid_labels(*key) if self.beijing_grids else None
            if labels is None:
                labels = _district_labels(key[0], transform, self.districts)
            labels.setflags(write=False)
            self._labels[key] = labels
        return self._labels[key]

    def means(self, values: np.ndarray, transform: Any) -> dict[str, float]:
        """Area mean of the raster cells whose centres fall in each district (µg/m³)."""
        return _district_means(values, self.labels(values.shape, transform),
                               self.districts["district"])


# --------------------------------------------------------------------------- surfaces
@dataclass(frozen=True)
class _Scale:
    """A colour scale: matplotlib colormap, range and the limit to mark."""

    cmap: str
    vmin: float
    vmax: float
    units: str
    limit: float | None = None
    limit_label: str = ""
    centre: float | None = None  # TwoSlopeNorm centre (limit or zero)

    def norm(self) -> Any:
        from matplotlib.colors import Normalize, TwoSlopeNorm

        if self.centre is not None and self.vmin < self.centre < self.vmax:
            return TwoSlopeNorm(vcenter=self.centre, vmin=self.vmin, vmax=self.vmax)
        return Normalize(vmin=self.vmin, vmax=self.vmax)

    def rgba(self, values: np.ndarray) -> np.ndarray:
        """Colour ``values`` (NaN -> fully transparent) as uint8 RGBA."""
        from matplotlib import colormaps

        cmap = colormaps[self.cmap]
        finite = np.isfinite(values)
        scaled = self.norm()(np.where(finite, values, self.vmin))
        out = cmap(np.ma.getdata(scaled), bytes=True)
        out[..., 3] = np.where(finite, 255, 0)
        return out

    def gradient_css(self, n: int = 11) -> str:
        """CSS linear-gradient (bottom = vmin) reproducing the colour scale."""
        from matplotlib import colormaps

        cmap = colormaps[self.cmap]
        norm = self.norm()
        stops = []
        for k in range(n):
            v = self.vmin + (self.vmax - self.vmin) * k / (n - 1)
            r, g, b, _ = cmap(float(norm(v)))
            stops.append(
                f"rgb({round(r * 255)},{round(g * 255)},{round(b * 255)}) {100 * k / (n - 1):.0f}%"
            )
        return "linear-gradient(to top, " + ", ".join(stops) + ")"


def _warp_to_web_mercator(
    band: np.ndarray, transform: Any, crs: Any, *, upsample: int = 2
) -> tuple[np.ndarray, list[list[float]]]:
    """Warp a projected raster to EPSG:3857; return the array and its lat/lon bounds.

    Leaflet's ImageOverlay stretches an image linearly in Web-Mercator pixel
    space between its south-west and north-east corners, so the image rows must
    be Web-Mercator rows; the corners are then given in degrees.  Nearest
    neighbour keeps the clip edge at Beijing's boundary crisp; ``upsample``
    refines the output grid so the cell edges do not show the warp.
    """
    dest, dst_transform = _warp_grid(band, transform, crs, upsample=upsample)
    return dest, _lonlat_bounds(dst_transform, *dest.shape)


def _lonlat_bounds(dst_transform: Any, height: int, width: int) -> list[list[float]]:
    """``[[south, west], [north, east]]`` in degrees of a Web-Mercator grid."""
    from pyproj import Transformer

    x0, y0 = dst_transform @ (0, 0)
    x1, y1 = dst_transform @ (width, height)
    to_deg = Transformer.from_crs("EPSG:3857", GEOGRAPHIC_CRS, always_xy=True)
    lon0, lat0 = to_deg.transform(x0, y0)
    lon1, lat1 = to_deg.transform(x1, y1)
    return [[min(lat0, lat1), min(lon0, lon1)], [max(lat0, lat1), max(lon0, lon1)]]


def _warp_grid(band: np.ndarray, transform: Any, crs: Any, *, upsample: int) -> tuple[
        np.ndarray, Any]:
    """Nearest-neighbour warp of ``band`` to EPSG:3857; the array and its affine transform.

    A nearest-neighbour warp copies source cells, so it is computed once per grid
    (:func:`_warp_plan`) and applied to every band by indexing: the same values as
    warping each band with GDAL, without its per-band cost (17 bands of a run: 0.3 s).
    """
    ny, nx = band.shape
    source, dst_transform = _warp_plan(ny, nx, tuple(transform), str(crs or PROJECTED_CRS),
                                       upsample)
    values = np.ascontiguousarray(band, dtype="float64").ravel()
    return np.where(source >= 0, values[np.maximum(source, 0)], np.nan), dst_transform


@lru_cache(maxsize=8)
def _warp_plan(ny: int, nx: int, transform: tuple[float, ...], crs: str, upsample: int
               ) -> tuple[np.ndarray, Any]:
    """The source cell (flat index; -1 = none) of every pixel of the EPSG:3857 grid a
    nearest-neighbour warp of an (ny, nx) raster gives, and that grid's affine transform
    (the last few grids kept: a sweep's runs share theirs)."""
    from affine import Affine
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    src_transform = Affine(*transform[:6])
    left, top = src_transform @ (0, 0)
    right, bottom = src_transform @ (nx, ny)
    dst_transform, width, height = calculate_default_transform(
        crs, "EPSG:3857", nx, ny, left, bottom, right, top
    )
    dst_transform = dst_transform @ dst_transform.scale(1 / upsample)
    width, height = width * upsample, height * upsample
    dest = np.full((height, width), np.nan, dtype="float64")
    reproject(
        source=np.arange(ny * nx, dtype="float64").reshape(ny, nx),
        destination=dest,
        src_transform=src_transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=dst_transform,
        dst_crs="EPSG:3857",
        dst_nodata=np.nan,
        resampling=Resampling.nearest,
    )
    source = np.where(np.isfinite(dest), dest, -1.0).astype(np.int64)
    source.setflags(write=False)
    return source, dst_transform


WEB_PNG_COMPRESSION = 6
"""Deflate level of the web map's inlined PNG layers (zlib-ng's)."""


def _png_data_url(rgba: np.ndarray) -> str:
    """A ``data:`` URL of a uint8 RGBA image (rows top down) as PNG (:func:`netsim.png.
    encode_png`, deflate level 6: the 11 layers of a two-network run in 0.025 s and 276 KB
    of base64, against Pillow's 0.108 s and 346 KB, EPYC)."""
    from netsim.png import encode_png

    png = encode_png(np.require(rgba, dtype=np.uint8, requirements="C"), dpi=100,
                     text={"Software": "netsim"}, compress_level=WEB_PNG_COMPRESSION)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _nice_range(values: list[np.ndarray], *, symmetric: bool = False, include: float | None = None):
    finite = np.concatenate([v[np.isfinite(v)].ravel() for v in values]) if values else np.array([])
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, [0.5, 99.5])
    if symmetric:
        m = max(abs(lo), abs(hi), 1e-9)
        return -float(m), float(m)
    if include is not None:
        lo, hi = min(lo, include * 0.9), max(hi, include * 1.1)
    if hi <= lo:
        hi = lo + 1.0
    return float(lo), float(hi)


class _Surface(_RawLayer):
    """An image overlay of one raster band, with a legend id and a DOM class."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.imageOverlay(
                {{ this.url|tojson }},
                {{ this.bounds|tojson }},
                {{ this.options_json }}
            );
            {{ this.get_name() }}.netsimLegend = {{ this.legend_id|tojson }};
            {{ this.get_name() }}.netsimTitle = {{ this.title_json }};
            {{ this.get_name() }}.netsimReadout = {{ this.readout|tojson }};
        {% endmacro %}
        """
    )

    def __init__(
        self,
        url: str,
        bounds: list[list[float]],
        *,
        name: str,
        css_class: str,
        legend_id: str,
        show: bool,
        title_html: str = "",
        readout: str = "",
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "NetsimSurface"
        self.title_html = title_html
        self.readout = readout
        self.url = url
        self.bounds = bounds
        self.legend_id = legend_id
        self.options = {
            "opacity": _OVERLAY_OPACITY,
            "className": f"netsim-overlay {css_class}",
            "interactive": False,
            "alt": name,
        }
        # readable UTF-8 in the page (tojson would write \uXXXX escapes)
        self.options_json = _json_for_script(self.options)
        self.title_json = _json_for_script(title_html)


# --------------------------------------------------------------------------- stations
def _svg_symbol(shape: str, colour: str, size: int = 16, *, stroke: str = "#ffffff") -> str:
    """Inline SVG of a station symbol (shape filled with ``colour``, light outline)."""
    s = size
    h = s / 2
    common = f'fill="{colour}" stroke="{stroke}" stroke-width="1.5"'
    if shape == "square":
        body = f'<rect x="2" y="2" width="{s - 4}" height="{s - 4}" {common}/>'
    elif shape == "triangle":
        body = f'<polygon points="{h},1.5 {s - 1.5},{s - 2} 1.5,{s - 2}" {common}/>'
    elif shape == "diamond":
        body = f'<polygon points="{h},1 {s - 1},{h} {h},{s - 1} 1,{h}" {common}/>'
    elif shape == "cross":
        t = s * 0.2
        pts = (
            f"{h - t},1 {h + t},1 {h + t},{h - t} {s - 1},{h - t} {s - 1},{h + t} {h + t},{h + t} "
            f"{h + t},{s - 1} {h - t},{s - 1} {h - t},{h + t} 1,{h + t} 1,{h - t} {h - t},{h - t}"
        )
        body = f'<polygon points="{pts}" {common}/>'
    else:
        body = f'<circle cx="{h}" cy="{h}" r="{h - 1.5}" {common}/>'
    return f'<svg width="{s}" height="{s}" viewBox="0 0 {s} {s}" aria-hidden="true">{body}</svg>'


def _fmt(value: Any, decimals: int = 1) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if not math.isfinite(v):
        return "–"
    return f"{v:.{decimals}f}"


def _station_popup(
    row: pd.Series,
    stats: list[dict[str, Any]],
    metrics: list[dict[str, Any]],
    *,
    pollutant: Pollutant,
    moved_from: tuple[float, float] | None,
    stats_note: str,
    lang: str = "en",
) -> str:
    """HTML of a station popup (all text escaped); ``stats`` and ``metrics`` are the
    station's rows of ``annual_by_station.csv`` and ``station_metrics.csv``."""
    e = html.escape
    title = e(str(row.get("name") or row["station_id"]))
    if row.get("name_zh"):
        title += f" <span class='netsim-zh'>{e(str(row['name_zh']))}</span>"
    label = _type_label(str(row["type"]), lang)
    lines = [
        f"<div class='netsim-popup'><b>{title}</b>",
        f"<div class='netsim-meta'>{e(str(row['station_id']))} · {e(label)}"
        + (f" · {e(_district_label(str(row['district']), lang))}" if row.get("district") else "")
        + (f" · {e(str(row['instrument']))}" if row.get("instrument") else "")
        + "</div>",
    ]
    change = str(row.get("change", "unchanged"))
    if change != "unchanged":
        known = ("added", "removed", "moved", "retyped")
        note = _tr(f"change_{change}", lang) if change in known else change
        if moved_from is not None:
            note += _tr("moved_from", lang, lat=moved_from[1], lon=moved_from[0])
        lines.append(f"<div class='netsim-change'>{e(note)}</div>")
    if stats:
        lines.append(
            f"<table class='netsim-stats'><caption>{e(_tr('annual_statistics', lang))}"
            f"{e(stats_note)}</caption>"
        )
        heads = (_tr("pollutant", lang), text("statistic", lang), _tr("value", lang),
                 _tr("valid_days", lang))
        lines.append("<tr>" + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>")
        for r in stats:
            p = POLLUTANTS.get(str(r["pollutant"]))
            dec = p.reported_decimals if p else 1
            units = p.units if p else ""
            days = r.get("valid_days", "")
            days_text = "" if pd.isna(days) else f"{int(days)}" if str(days) != "" else ""
            lines.append(
                f"<tr><td>{e(str(r['pollutant']))}</td>"
                f"<td>{e(_statistic_label(str(r['statistic']), lang))}</td>"
                f"<td>{_fmt(r['value'], dec)} {e(units)}</td><td>{days_text}</td></tr>"
            )
        lines.append("</table>")
    else:
        lines.append(f"<div>{e(_tr('no_statistics', lang))}</div>")
    mine = next((r for r in metrics if str(r["pollutant"]) == pollutant.name), None)
    if mine is not None:
        bias = _tr("removal_bias", lang, p=pollutant.name, bias=_fmt(mine["removal_bias"], 2),
                   units=pollutant.units, pct=_fmt(mine["relative_removal_bias_pct"], 1))
        served = _tr("area_served", lang, area=_fmt(mine["area_served_km2"], 0))
        lines.append(f"<div class='netsim-metrics'>{e(bias)}<br>{e(served)}</div>")
    lines.append("</div>")
    return "".join(lines)


class _StationLayer(_RawLayer):
    """A feature group of station markers built in one JS loop from embedded data."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.featureGroup();
            (function (group, data) {
                data.lines.forEach(function (l) {
                    L.polyline(l, {color: "#333", weight: 1.5, dashArray: "4 4",
                                   interactive: false}).addTo(group);
                });
                data.stations.forEach(function (s) {
                    var icon = L.divIcon({html: s.svg, className: s.cls, iconSize: [s.size, s.size],
                                          iconAnchor: [s.size / 2, s.size / 2],
                                          popupAnchor: [0, -s.size / 2]});
                    var m = L.marker([s.lat, s.lon], {icon: icon, title: s.title, alt: s.title,
                                                      keyboard: true, riseOnHover: true});
                    m.bindPopup(s.popup, {maxWidth: 360});
                    m.addTo(group);
                });
            })({{ this.get_name() }}, {{ this.data_json }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        stations: list[dict[str, Any]],
        lines: list[list[list[float]]],
        *,
        name: str,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "NetsimStations"
        self.data_json = _json_for_script({"stations": stations, "lines": lines})


class _LightSensorLayer(_RawLayer):
    """Many low-cost sensors as small circles on one canvas (no DOM element per sensor);
    popups are built on click from the compact rows of :func:`_light_sensor_records`."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.featureGroup();
            (function (group, data) {
                var renderer = L.canvas({padding: 0.3});
                var esc = function (t) {
                    return String(t).replace(/[&<>"']/g, function (c) {
                        return "&#" + c.charCodeAt(0) + ";";
                    });
                };
                data.rows.forEach(function (r) {
                    var c = L.circleMarker([r[0], r[1]], {renderer: renderer, radius: 3,
                        color: "#7a5200", weight: 0.6, fillColor: data.colour, fillOpacity: 0.75});
                    c.bindPopup(function () {
                        return "<div class='netsim-popup'><b>" + esc(r[2]) + "</b>" +
                            "<div class='netsim-meta'>" + esc(data.label) + " · " + esc(r[3]) +
                            " · " + esc(r[4]) + "</div><div>" + esc(data.value_label) + ": " +
                            esc(r[5]) + " " + esc(data.units) + "</div></div>";
                    }, {maxWidth: 320});
                    c.addTo(group);
                });
                group.netsimLightSensors = data.rows.length;
            })({{ this.get_name() }}, {{ this.data_json }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: list[list[Any]], *, name: str, label: str, value_label: str,
                 units: str) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "NetsimLightSensors"
        self.data_json = _json_for_script({
            "rows": rows, "colour": STATION_STYLES["sensor"][1], "label": label,
            "value_label": value_label, "units": units})


def _statistic_label(statistic: str, lang: str) -> str:
    if lang == "zh":
        return statistic_name(statistic, lang)
    return _STATISTIC_LABELS.get(statistic, statistic)


def _rows_by_station(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``frame`` as records by ``station_id`` (in their order), built in one
    pass: per-station frames and their ``itertuples`` cost about 4 ms a popup."""
    by_station: dict[str, list[dict[str, Any]]] = {}
    for sid, record in zip(frame["station_id"].astype(str), frame.to_dict(orient="records"),
                           strict=True):
        by_station.setdefault(sid, []).append(record)
    return by_station


def _stations_with_changes(run: _Run) -> pd.DataFrame:
    """Stations of the shown network with a ``change`` per station.

    A scenario's ``network.csv`` should carry ``change`` and keep removed
    stations (README run-directory layout).  Where it does not, the change is
    derived from the baseline: ids only in the scenario are ``added``, ids only
    in the baseline ``removed`` (drawn at their baseline site), a site more
    than 1 m away ``moved``, another type ``retyped``.
    """
    shown = run.shown.stations.copy()
    if run.scenario is None:
        return shown
    base = run.baseline.stations.set_index("station_id")
    if run.scenario.derive_changes:
        changes = []
        for r in shown.itertuples(index=False):
            if r.station_id not in base.index:
                changes.append("added")
                continue
            b = base.loc[r.station_id]
            dx = abs(float(r.lon) - float(b["lon"])) * 85_000.0  # m per degree at 40° N
            dy = abs(float(r.lat) - float(b["lat"])) * 111_000.0
            if math.hypot(dx, dy) > 1.0:
                changes.append("moved")
            elif str(r.type) != str(b["type"]):
                changes.append("retyped")
            else:
                changes.append("unchanged")
        shown["change"] = changes
    gone = base.index.difference(pd.Index(shown["station_id"]), sort=False)
    if len(gone):
        ghosts = base.loc[gone].reset_index()
        ghosts["change"] = "removed"
        shown = pd.concat(
            [shown, ghosts[[c for c in shown.columns if c in ghosts]]], ignore_index=True
        )
        shown = shown.fillna({c: "" for c in ("name", "name_zh", "district", "instrument")})
    return shown


def _light_sensor_records(sensors: pd.DataFrame, by_station: pd.DataFrame,
                          pollutant: Pollutant, lang: str) -> list[list[Any]]:
    """Compact ``[lat, lon, id, district, instrument, annual mean]`` rows of the sensors drawn
    as the light layer (their popups are built in the browser on click)."""
    rows = _pick_statistic(by_station[by_station["pollutant"].astype(str) == pollutant.name]
                           if not by_station.empty else by_station)
    value = dict(zip(rows["station_id"].astype(str), rows["value"], strict=True))
    dec = pollutant.reported_decimals
    return [[round(float(lat), 5), round(float(lon), 5), sid,
             _district_label(district, lang), instrument, _fmt(value.get(sid, math.nan), dec)]
            for lat, lon, sid, district, instrument in zip(
                sensors["lat"], sensors["lon"], sensors["station_id"].astype(str),
                sensors["district"].astype(str), sensors["instrument"].astype(str), strict=True)]


@dataclass
class _StationEntries:
    """Marker records by type (current stations), removed ghosts, moved-station lines and
    the light layer's sensors (empty unless there are more than
    :data:`_LIGHT_SENSOR_THRESHOLD`)."""

    by_type: dict[str, list[dict[str, Any]]]
    removed: list[dict[str, Any]]
    lines: list[list[list[float]]]
    light: list[list[Any]]


def _station_entries(run: _Run, pollutant: Pollutant, lang: str = "en") -> _StationEntries:
    """The markers of :class:`_StationEntries` (popups in ``lang``)."""
    stations = _stations_with_changes(run)
    sensors = (stations["type"].astype(str) == "sensor") & (stations["change"] != "removed")
    light: list[list[Any]] = []
    if sensors.sum() > _LIGHT_SENSOR_THRESHOLD:
        light = _light_sensor_records(stations[sensors], run.shown.by_station, pollutant, lang)
        stations = stations[~sensors]
    net = run.shown
    baseline_xy = {
        str(r.station_id): (float(r.lon), float(r.lat)) for r in run.baseline.stations.itertuples()
    }
    by_type: dict[str, list[dict[str, Any]]] = {}
    removed: list[dict[str, Any]] = []
    lines: list[list[list[float]]] = []
    shown_ids = set(stations["station_id"].astype(str))  # light sensors need no tables

    def rows_of(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
        if frame.empty:
            return {}
        return _rows_by_station(frame[frame["station_id"].astype(str).isin(shown_ids)])

    stats_of, metrics_of = rows_of(net.by_station), rows_of(net.metrics)
    base_stats_of, base_metrics_of = rows_of(run.baseline.by_station), rows_of(run.baseline.metrics)
    for _, row in stations.iterrows():
        sid = str(row["station_id"])
        stype = str(row["type"])
        change = str(row["change"])
        shape, colour, _ = STATION_STYLES.get(stype, _UNKNOWN_STYLE)
        stats_note = ""
        stats, metrics = stats_of.get(sid, []), metrics_of.get(sid, [])
        if change == "removed" and net is not run.baseline:
            stats, metrics = base_stats_of.get(sid, []), base_metrics_of.get(sid, [])
            stats_note = _tr("baseline_network", lang)
        moved_from = None
        if change == "moved" and sid in baseline_xy:
            moved_from = baseline_xy[sid]
            lines.append([[moved_from[1], moved_from[0]], [float(row["lat"]), float(row["lon"])]])
        size = 12 if stype == "sensor" else 16
        classes = [f"netsim-{_css_token(stype)}", "netsim-marker"]
        if change == "removed":
            classes.insert(0, "netsim-removed")
            svg = _svg_symbol(shape, "#9e9e9e", size, stroke="#333333")
        else:
            classes.insert(0, "netsim-station")
            if change in ("added", "moved", "retyped"):
                classes.append(f"netsim-{change}")
            svg = _svg_symbol(shape, colour, size)
        record = {
            "lat": float(row["lat"]),
            "lon": float(row["lon"]),
            "cls": " ".join(classes),
            "svg": svg,
            "size": size,
            "title": f"{row.get('name') or sid} ({stype}"
            + ("" if change == "unchanged" else f", {change}")
            + ")",
            "popup": _station_popup(
                row,
                stats,
                metrics,
                pollutant=pollutant,
                moved_from=moved_from,
                stats_note=stats_note,
                lang=lang,
            ),
        }
        if change == "removed":
            removed.append(record)
        else:
            by_type.setdefault(stype, []).append(record)
    return _StationEntries(by_type, removed, lines, light)


def _css_token(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", text.lower())


# --------------------------------------------------------------------------- page furniture
class _PageFurniture(_RawMacroElement):
    """Title, legends, the title that follows the active layer and the click readout.

    The title shows the most recently switched-on surface that is still visible (each
    surface carries ``netsimTitle``), else the page's own title.  A click on the map shows,
    for every visible surface with a readout (``netsimReadout``), the cell's value (with the
    90 % kriging interval ±1.645σ where the surface has a kriging std) and the figure of the
    district the cell lies in.
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}
            <div id="netsim-title" class="netsim-title">{{ this.title_html }}</div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            (function (map) {
                var legend = L.control({position: "bottomleft"});
                legend.onAdd = function () {
                    var div = L.DomUtil.create("div", "netsim-legend leaflet-bar");
                    div.innerHTML = {{ this.legend_json }};
                    L.DomEvent.disableClickPropagation(div);
                    L.DomEvent.disableScrollPropagation(div);
                    return div;
                };
                legend.addTo(map);
                L.control.scale({imperial: false, maxWidth: 160, position: "bottomright"})
                    .addTo(map);
                var counts = {};
                function sync() {
                    document.querySelectorAll(".netsim-scale").forEach(function (el) {
                        el.style.display = counts[el.dataset.legend] > 0 ? "" : "none";
                    });
                }
                var titleEl = document.getElementById("netsim-title");
                var pageTitle = titleEl.innerHTML;
                var pageSubtitle = titleEl.querySelector("small").innerHTML;
                var active = [];
                function syncTitle() {
                    var top = active.length ? active[active.length - 1] : null;
                    titleEl.innerHTML = top
                        ? top.netsimTitle.replace("{subtitle}", pageSubtitle) : pageTitle;
                }
                function added(layer) {
                    if (layer.netsimLegend) {
                        counts[layer.netsimLegend] = (counts[layer.netsimLegend] || 0) + 1;
                    }
                    if (layer.netsimTitle && active.indexOf(layer) < 0) { active.push(layer); }
                }
                map.eachLayer(added);
                active = [];
                map.on("layeradd", function (e) { added(e.layer); sync(); syncTitle(); });
                map.on("layerremove", function (e) {
                    if (e.layer.netsimLegend) {
                        var k = e.layer.netsimLegend;
                        counts[k] = Math.max(0, (counts[k] || 0) - 1);
                    }
                    var i = active.indexOf(e.layer);
                    if (i >= 0) { active.splice(i, 1); }
                    sync();
                    syncTitle();
                });
                sync();
                map.attributionControl.setPrefix({{ this.prefix_json }});

                var R = {{ this.readout_json }};
                if (!R.bands) { return; }
                var decoded = {};
                function bytes(b64) {
                    var bin = atob(b64), out = new Uint8Array(bin.length);
                    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
                    return out;
                }
                function value(key, i) {
                    var b = R.bands[key];
                    if (!b) { return null; }
                    if (!decoded[key]) { decoded[key] = new Int16Array(bytes(b.data).buffer); }
                    var v = decoded[key][i];
                    return v === -32768 ? null : v / b.scale;
                }
                var districts = null;
                function esc(t) {
                    return String(t).replace(/[&<>"']/g, function (c) {
                        return "&#" + c.charCodeAt(0) + ";";
                    });
                }
                map.on("click", function (e) {
                    var p = L.CRS.EPSG3857.project(e.latlng);
                    var col = Math.floor((p.x - R.x0) / R.dx);
                    var row = Math.floor((R.y0 - p.y) / R.dy);
                    if (col < 0 || row < 0 || col >= R.w || row >= R.h) { return; }
                    var i = row * R.w + col, rows = [];
                    map.eachLayer(function (layer) {
                        var key = layer.netsimReadout, b = key && R.bands[key];
                        if (!b) { return; }
                        var v = value(key, i);
                        if (v === null) { return; }
                        var line = esc(b.label) + R.sep + "<b class='netsim-value'>" +
                            v.toFixed(b.decimals) + "</b> " + esc(b.units);
                        var s = b.std ? value(b.std, i) : null;
                        if (s !== null) {
                            line += "<br><span class='netsim-interval'>" + esc(R.interval
                                .replace("{lo}", (v - 1.645 * s).toFixed(b.decimals + 1))
                                .replace("{hi}", (v + 1.645 * s).toFixed(b.decimals + 1))
                                .replace("{std}", s.toFixed(b.decimals + 1))) + "</span>";
                        } else if (b.note) {
                            line += "<br><span class='netsim-interval'>" + esc(b.note) +
                                "</span>";
                        }
                        rows.push("<div class='netsim-readout-row'>" + line + "</div>");
                    });
                    if (!districts && R.districts) { districts = bytes(R.districts); }
                    var d = districts ? districts[i] : 0;
                    if (!rows.length && !d) { return; }
                    var content = "<div class='netsim-popup netsim-readout'>";
                    if (rows.length) {
                        content += "<b>" + esc(R.cell_title) + "</b>" + rows.join("");
                    }
                    if (d) { content += R.district_html[d - 1]; }
                    L.popup({maxWidth: 360}).setLatLng(e.latlng).setContent(content + "</div>")
                        .openOn(map);
                });
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, title_html: str, legend_html: str, prefix: str,
                 readout: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._name = "NetsimFurniture"
        self.title_html = title_html
        self.legend_json = _json_for_script(legend_html)
        self.prefix_json = _json_for_script(prefix)
        self.readout_json = _json_for_script(readout or {})


_PAGE_CSS = """
.leaflet-container { background: #eef0f2; font: 13px/1.4 FONTS; }
.netsim-title, .netsim-legend { font-family: FONTS; }
.netsim-note { margin: 4px 0 0; max-width: 260px; font-size: 11px; color: #333; }
.netsim-interval { color: #444; font-size: 11px; }
.netsim-district-figure { margin-top: 6px; border-top: 1px solid #ddd; padding-top: 4px; }
.netsim-title { position: absolute; z-index: 1000; top: 10px; left: 56px;
  background: rgba(255,255,255,0.92); padding: 6px 14px; border-radius: 4px; font-size: 15px;
  font-weight: 600; box-shadow: 0 1px 4px rgba(0,0,0,0.3); pointer-events: none; text-align: center;
  max-width: calc(100% - 440px); }
.netsim-title small { display: block; font-weight: 400; font-size: 12px; color: #444; }
.netsim-legend { background: rgba(255,255,255,0.95); padding: 6px 8px; max-height: 70vh;
  overflow-y: auto; font-size: 12px; }
.netsim-legend h4 { margin: 2px 0 4px; font-size: 12px; }
.netsim-scale { margin-bottom: 6px; }
.netsim-bar { position: relative; display: inline-block; width: 14px; height: 120px;
  border: 1px solid #666; vertical-align: top; }
.netsim-ticks { position: relative; display: inline-block; height: 120px; width: 230px;
  margin-left: 4px; }
.netsim-ticks span { position: absolute; left: 0; transform: translateY(50%); white-space: nowrap; }
.netsim-limit-line { position: absolute; left: -3px; width: 20px; border-top: 2px solid #000; }
.netsim-ticks span.netsim-limit-label { font-weight: 700; }
.netsim-symbols div { display: flex; align-items: center; gap: 6px; margin: 2px 0; }
.netsim-symbols svg { flex: none; }
.netsim-marker { background: transparent; border: none; }
.netsim-marker svg { display: block; overflow: visible; }
.netsim-removed, .netsim-key-removed { opacity: 0.55; }
.netsim-added svg, .netsim-key-added svg { outline: 2px solid #000; outline-offset: 1px; }
.netsim-moved svg, .netsim-key-moved svg { outline: 2px dashed #000; outline-offset: 1px; }
.netsim-retyped svg, .netsim-key-retyped svg { outline: 2px dotted #000; outline-offset: 1px; }
.leaflet-container .leaflet-control-layers { font-size: 13px; line-height: 1.35; }
.leaflet-container .leaflet-popup-content, .leaflet-container .leaflet-tooltip { font-size: 12px; }
.netsim-popup td:nth-child(3) { white-space: nowrap; }
.leaflet-control-layers label { margin: 1px 0; }
.netsim-popup table { border-collapse: collapse; margin-top: 4px; }
.netsim-popup td, .netsim-popup th { padding: 1px 6px; border-bottom: 1px solid #ddd;
  text-align: left; }
.netsim-popup caption { text-align: left; font-weight: 600; }
.netsim-meta { color: #555; }
.netsim-change { color: #a00; font-weight: 600; }
.netsim-zh { font-weight: 400; }
.netsim-district-tip table td { padding: 0 4px; }
"""


def _scale_legend_html(legend_id: str, title: str, scale: _Scale, *, note_html: str = "") -> str:
    e = html.escape
    ticks = np.linspace(scale.vmin, scale.vmax, 5)
    decimals = 0 if (scale.vmax - scale.vmin) >= 10 else 1 if (scale.vmax - scale.vmin) >= 1 else 2
    norm = scale.norm()
    parts = [
        f"<div class='netsim-scale' data-legend='{e(legend_id)}'>",
        f"<h4>{e(title)} ({e(scale.units)})</h4>",
        f"<div class='netsim-bar' style='background:{scale.gradient_css()}'>",
    ]
    limit_html = ""
    if scale.limit is not None and scale.vmin <= scale.limit <= scale.vmax:
        pos = 100 * float(norm(scale.limit))
        parts.append(f"<div class='netsim-limit-line' style='bottom:{pos:.1f}%'></div>")
        limit_html = (
            f"<span class='netsim-limit-label' style='bottom:{pos:.1f}%'>"
            f"◀ {e(scale.limit_label)}</span>"
        )
    parts.append("</div><div class='netsim-ticks'>")
    for t in ticks:
        pos = 100 * float(norm(t))
        if limit_html and abs(pos - 100 * float(norm(scale.limit))) < 9:
            continue
        parts.append(f"<span style='bottom:{pos:.1f}%'>{t:.{decimals}f}</span>")
    parts.append(limit_html + "</div>" + note_html + "</div>")
    return "".join(parts)


def _symbols_legend_html(types_present: list[str], changes_present: set[str],
                         lang: str = "en") -> str:
    rows = [f"<div class='netsim-symbols'><h4>{html.escape(_tr('symbols', lang))}</h4>"]
    for stype in (*STATION_STYLES, *sorted(set(types_present) - set(STATION_STYLES))):
        if stype not in types_present:
            continue
        shape, colour, _ = STATION_STYLES.get(stype, _UNKNOWN_STYLE)
        label = html.escape(_type_label(stype, lang))
        rows.append(f"<div>{_svg_symbol(shape, colour, 14)}<span>{label}</span></div>")
    for change in ("added", "moved", "retyped"):
        if change in changes_present:
            rows.append(
                f"<div><span class='netsim-key-{change}'>"
                f"{_svg_symbol('circle', '#ffffff', 14, stroke='#333')}</span>"
                f"<span>{html.escape(_tr(f'key_{change}', lang))}</span></div>"
            )
    if "removed" in changes_present:
        rows.append(
            "<div><span class='netsim-key-removed'>"
            f"{_svg_symbol('circle', '#9e9e9e', 14, stroke='#333')}"
            f"</span><span>{html.escape(_tr('key_removed', lang))}</span></div>"
        )
    rows.append("</div>")
    return "".join(rows)


# --------------------------------------------------------------------------- builder
def _summary_pollutants(run: _Run) -> list[str]:
    listed = run.summary.get("pollutants") or []
    names = [str(p) for p in listed if str(p) in POLLUTANTS]
    if not names:
        names = [p.name for p in POLLUTANTS.values()]
    return [p for p in names if f"{POLLUTANTS[p].slug}_annual_mean" in run.shown.rasters]


def _choose_pollutant(run: _Run, requested: str | None) -> Pollutant:
    available = _summary_pollutants(run)
    if not available:
        raise RasterError(
            f"{run.shown.path / 'rasters'}: no <slug>_annual_mean.tif raster; "
            "re-run `netsim run` with map outputs enabled"
        )
    if requested is None:
        return POLLUTANTS["PM2.5"] if "PM2.5" in available else POLLUTANTS[available[0]]
    try:
        from netsim.pollutants import pollutant as lookup

        chosen = lookup(requested)
    except KeyError as exc:
        raise NetsimError(f"--pollutant {requested!r}: {exc.args[0]}") from None
    if chosen.name not in available:
        raise RasterError(
            f"{run.path}: no annual-mean raster for {chosen.name}; "
            f"available: {', '.join(available)}"
        )
    return chosen


@cache
def _district_geometries_geojson() -> tuple[dict[str, Any], ...]:
    """GeoJSON geometries (degrees, 6 decimals: 0.1 m) of the display districts, in the
    order of :func:`_districts_lonlat`; computed once per process."""
    import shapely

    _, display = _districts_lonlat()
    rounded = shapely.set_precision(display.geometry.values, 1e-6)
    return tuple(json.loads(shapely.to_geojson(g)) for g in rounded)


def _districts_geojson(frame: pd.DataFrame, fields: list[str]) -> dict[str, Any]:
    """A FeatureCollection of the districts with ``fields`` of ``frame`` as properties."""
    records = frame[fields].to_dict(orient="records")
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": geometry}
        for props, geometry in zip(records, _district_geometries_geojson(), strict=True)]}


@cache
def _districts_lonlat() -> Any:
    """The districts in UTM (area means) and simplified in degrees (display); cached, so
    callers must not modify them."""
    from netsim import geography

    frame = geography.districts()
    # 20 m simplification (under 6 screen pixels at the maximum zoom) for display
    # shrinks the GeoJSON by about 70 %; area means use the full polygons.
    display = frame.assign(
        geometry=frame.geometry.simplify(_DISPLAY_SIMPLIFY_M, preserve_topology=True)
    )
    return frame, display.to_crs(GEOGRAPHIC_CRS)


def prepare_web_map() -> None:
    """Build what every web map of this process draws, whatever the run: the districts
    simplified in degrees, their GeoJSON and their raster cells (~0.12 s on the 2-core
    EPYC; importing this module, with folium, takes ~0.3 s more).
    :func:`netsim.run.run_scenario` calls it in a thread once its process waits for its
    helpers' last realisations; the page is the same without it."""
    _district_geometries_geojson()
    _district_cells()


@cache
def _district_cells() -> tuple[_DistrictCells, _DistrictCells]:
    """The districts of :func:`_districts_lonlat` as raster cells, rasterised once per grid
    and process: UTM (area means of the rasters) and Web Mercator (click readout)."""
    districts_utm, districts_ll = _districts_lonlat()
    return (_DistrictCells(districts_utm, beijing_grids=True),
            _DistrictCells(districts_ll.to_crs("EPSG:3857")))


DAYS_MEETING_LABEL = text("map_days_layer", "en")
"""English name of the days-meeting-the-standard layer (``map_days_layer`` in other languages)."""


@dataclass
class _Readouts:
    """Per-cell values shown when the map is clicked, on one Web-Mercator grid.

    Values are int16 (``round(value * scale)``, -32768 = no value) in base64, the grid's
    district index uint8 (0 = outside every district); the browser decodes them on the
    first click.
    """

    transform: Any = None
    shape: tuple[int, int] = (0, 0)
    bands: dict[str, dict[str, Any]] = field(default_factory=dict)
    districts_b64: str = ""
    district_html: list[str] = field(default_factory=list)

    def add(self, key: str, values: np.ndarray, source_transform: Any, crs: Any, *,
            label: str, units: str, decimals: int, std: str = "", note: str = "") -> None:
        warped, dst_transform = _warp_grid(values, source_transform, crs, upsample=1)
        if self.transform is None:
            self.transform, self.shape = dst_transform, warped.shape
        elif warped.shape != self.shape or dst_transform != self.transform:
            return  # another grid: no click readout for this layer
        scale = 10.0 ** (decimals + 1)
        finite = np.isfinite(warped)
        ints = np.where(finite, np.clip(np.round(np.where(finite, warped, 0) * scale),
                                        -32767, 32767), -32768).astype("<i2")
        self.bands[key] = {"label": label, "units": units, "decimals": decimals,
                           "scale": scale, "std": std, "note": note,
                           "data": base64.b64encode(ints.tobytes()).decode("ascii")}

    def set_districts(self, cells: _DistrictCells, html_by_district: list[str]) -> None:
        """The district of every cell (``cells`` in EPSG:3857) and each district's HTML."""
        if self.transform is None:
            return
        labels = cells.labels(self.shape, self.transform).astype("uint8")
        self.districts_b64 = base64.b64encode(labels.tobytes()).decode("ascii")
        self.district_html = html_by_district

    def payload(self, lang: str) -> dict[str, Any]:
        if self.transform is None:
            return {}
        t = self.transform
        return {"x0": t.c, "y0": t.f, "dx": t.a, "dy": -t.e, "w": self.shape[1],
                "h": self.shape[0], "bands": self.bands, "districts": self.districts_b64,
                "district_html": self.district_html, "cell_title": _tr("cell", lang),
                "sep": "：" if lang == "zh" else ": ",
                "interval": _tr("interval_kriging", lang, lo="{lo}", hi="{hi}", std="{std}")}


def _days_note(tags: dict[str, str], lang: str) -> str:
    """Where the day counts come from: one realisation or the mean of several."""
    try:
        n = int(tags.get("realisations", "1"))
    except ValueError:
        n = 1
    return _tr("days_one", lang) if n <= 1 else _tr("days_many", lang, last=n - 1)


def _days_driver_note(bands: dict[str, np.ndarray], transform: Any, cells: _DistrictCells,
                      lang: str) -> str:
    """Why some districts have fewer days with AQI ≤ 100, if the run's data show it.

    Compares the three districts with the fewest such days with the three with the most:
    the pollutant whose days above its daily limit differ most between them is named, when
    the gap is at least 5 days of AQI ≤ 100 and 3 days above the limit; else ``""``.
    """
    good = cells.means(bands["aqi_days_meeting_standard"], transform)
    ranked = sorted((v, d) for d, v in good.items() if math.isfinite(v))
    if len(ranked) < 6:
        return ""
    low, high = [d for _, d in ranked[:3]], [d for _, d in ranked[-3:]]
    gap_good = np.mean([good[d] for d in high]) - np.mean([good[d] for d in low])
    best: tuple[float, str, float, float] | None = None
    for name, band in bands.items():
        if not name.endswith("_days_above_limit"):
            continue
        above = cells.means(band, transform)
        lo_above = float(np.nanmean([above[d] for d in low]))
        hi_above = float(np.nanmean([above[d] for d in high]))
        slug = name.removesuffix("_days_above_limit")
        pollutant = next((p.name for p in POLLUTANTS.values() if p.slug == slug), slug)
        if best is None or lo_above - hi_above > best[0]:
            best = (lo_above - hi_above, pollutant, lo_above, hi_above)
    if best is None or gap_good < 5 or best[0] < 3:
        return ""
    sep = "、" if lang == "zh" else ", "
    return _tr("days_why", lang, low=sep.join(_district_label(d, lang) for d in low),
               low_days=np.mean([good[d] for d in low]),
               high=sep.join(_district_label(d, lang) for d in high),
               high_days=np.mean([good[d] for d in high]), p=best[1], low_above=best[2],
               high_above=best[3], mechanism=_tr("o3_mechanism", lang) if best[1] == "O3" else "")


def _days_meeting_surface(net: _NetworkOutputs, legends: list[str], readouts: _Readouts,
                          cells: _DistrictCells, title: Any, lang: str) -> list[_Surface]:
    """The per-cell count of days meeting the standard, when the run made time-resolved maps.

    ``netsim run`` with ``outputs.time_resolved`` writes ``rasters/time_resolved_<step>.tif``
    (:mod:`netsim.timeseries`); its ``aqi_days_meeting_standard`` band (days with AQI ≤ 100,
    HJ 633) becomes a layer, coloured so that more good days is blue.  Its legend says which
    realisations it comes from and, when the data show it, which pollutant costs some
    districts their days.
    """
    from netsim.rasters import read_raster

    path = next((p for name, p in net.rasters.items() if name.startswith("time_resolved_")), None)
    if path is None:
        return []
    raster = read_raster(path)
    bands = {k: np.asarray(v, dtype="float64") for k, v in raster.bands.items()}
    days = bands.get("aqi_days_meeting_standard")
    if days is None:
        return []
    lo, hi = _nice_range([days])
    scale = _Scale("RdYlBu", lo, hi, _tr("units_days", lang))
    origin = _days_note(raster.tags, lang)
    why = _days_driver_note(bands, raster.transform, cells, lang)
    note = f"<p class='netsim-note'>{html.escape(origin)}</p>" + (
        f"<p class='netsim-note'>{html.escape(why)}</p>" if why else "")
    legends.append(_scale_legend_html("aqi-days-meeting", _tr("days_legend", lang), scale,
                                      note_html=note))
    readouts.add("aqi-days", days, raster.transform, raster.crs,
                 label=_tr("days_legend", lang), units=_tr("units_days", lang), decimals=0,
                 note=origin)
    warped, bounds = _warp_to_web_mercator(days, raster.transform, raster.crs)
    name = _tr("days_layer", lang)
    return [_Surface(_png_data_url(scale.rgba(warped)), bounds, name=name,
                     css_class="netsim-overlay-aqi-days-meeting", legend_id="aqi-days-meeting",
                     show=False, title_html=title(_tr("days_title", lang), origin),
                     readout="aqi-days")]


@contextlib.contextmanager
def _sequential_element_ids() -> Iterator[None]:
    """Give folium/branca elements sequential ids instead of ``os.urandom`` ones.

    branca names every element (and the JavaScript variable behind it) with 16
    random bytes, so two renders of the same run differ; inside this context
    the ids count up from zero, and the same run gives the same page bytes.
    """
    counter = itertools.count()
    original = Element.__dict__["_generate_id"]
    Element._generate_id = classmethod(lambda _cls: f"{next(counter):032x}")
    try:
        yield
    finally:
        Element._generate_id = original


def build_web_map(
    run_dir: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    pollutant: str | None = None,
    tiles: TileChoice = "none",
    overwrite: bool = False,
) -> Path:
    """Write the interactive map of a ``netsim run`` directory as one HTML file.

    The page is a function of the run directory and the options: element ids
    are sequential, so the same run gives the same bytes.

    Parameters
    ----------
    run_dir
        Directory written by ``netsim run`` (see :func:`web_map_html`).
    out_path
        HTML file to write, atomically and guarded
        (:func:`netsim.atomic.output_file`; parent directories are created).
    pollutant, tiles
        See :func:`web_map_html`.
    overwrite
        Replace a file netsim wrote earlier at ``out_path`` (never one it did
        not write).

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    OutputError
        ``out_path`` cannot or must not be written (see :mod:`netsim.atomic`).
    ScenarioError, RasterError, NetsimError
        See :func:`web_map_html`.
    """
    with output_file(out_path, overwrite=overwrite) as tmp:
        tmp.write_text(web_map_html(run_dir, pollutant=pollutant, tiles=tiles), encoding="utf-8")
    return Path(out_path)


def web_map_html(
    run_dir: str | os.PathLike[str],
    *,
    pollutant: str | None = None,
    tiles: TileChoice = "none",
    summary: Mapping[str, Any] | None = None,
) -> str:
    """The interactive map of a ``netsim run`` directory: one self-contained HTML page.

    Parameters
    ----------
    run_dir
        Directory written by ``netsim run`` (``summary.json``, ``baseline/``
        and, for scenario runs, ``scenario/``; see the README's run-directory
        layout).
    pollutant
        Pollutant shown first and given the full set of layers (kriging std,
        truth, error, baseline and difference).  Default: PM2.5 if mapped,
        else the first pollutant of the run.  The other pollutants get their
        annual-mean surface as a hidden layer.
    tiles
        ``"none"`` (default): no base map, the page makes no network request;
        ``"osm"``: OpenStreetMap tiles under the surfaces (needs the internet).
    summary
        The run's ``summary.json`` content, when the caller holds it (``netsim run``
        writing the run): it is not read back from ``run_dir``.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    ScenarioError
        ``run_dir`` is not a run directory (no ``summary.json``/``baseline``)
        or one of its CSV files lacks required columns.
    RasterError
        No annual-mean raster for the requested pollutant, or a raster that
        cannot be read.
    NetsimError
        Unknown pollutant or tile choice.

    Notes
    -----
    In scenario runs the map shows the scenario network and its surfaces;
    the baseline surface and the difference are extra layers.  Stations the
    scenario removed are drawn as grey ghosts without the ``netsim-station``
    class (see the module docstring).  The limit marked in the legends is the
    Grade II annual-mean limit of the run's standard
    (:func:`grade_ii_annual_limit`); CO and O3 have none.
    """
    if tiles not in ("none", "osm"):
        raise NetsimError(f"--tiles {tiles!r}: expected 'none' or 'osm'")
    with _sequential_element_ids():
        return _render_web_map(Path(run_dir), pollutant, tiles, summary)


def _render_web_map(run_dir: Path, pollutant: str | None, tiles: TileChoice,
                    summary: Mapping[str, Any] | None = None) -> str:
    """The HTML page of :func:`web_map_html` (element ids from the caller's context)."""
    run = _load_run(run_dir, summary)
    chosen = _choose_pollutant(run, pollutant)
    page = _Page.of(run, chosen)
    _, districts_ll = _districts_lonlat()
    cells_utm, cells_web = _district_cells()
    legends: list[str] = []
    readouts = _Readouts()
    surfaces, main = _surfaces(run, page, legends, readouts)
    surfaces += _days_meeting_surface(run.shown, legends, readouts, cells_utm, page.title,
                                      page.lang)
    fmap = _base_map(districts_ll, page, tiles)
    for surface in surfaces:
        surface.add_to(fmap)
    district_html = _district_layer(run, page, main, cells_utm, districts_ll).add_to(fmap)
    readouts.set_districts(cells_web, district_html.popups)
    entries = _station_entries(run, chosen, page.lang)
    _station_layers(entries, page).add_to_map(fmap)
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    changes = {"removed"} if entries.removed else set()
    for records in entries.by_type.values():  # classes: station, type, marker, then the change
        changes |= {c.removeprefix("netsim-") for r in records for c in r["cls"].split()[3:]}
    types = [*entries.by_type, *({r["cls"].split()[1].removeprefix("netsim-")
                                  for r in entries.removed})]
    if entries.light:
        types.append("sensor")
    legend_html = "".join(legends) + _symbols_legend_html(types, changes, page.lang)
    n_now = sum(len(v) for v in entries.by_type.values()) + len(entries.light)
    title_html = page.title(_join(chosen.name, _tr("estimate", page.lang), page.lang),
                            page.subtitle(run, n_now, len(entries.removed)))
    _PageFurniture(title_html, legend_html, f"Leaflet {LEAFLET_VERSION} · netsim",
                   readouts.payload(page.lang)).add_to(fmap)
    minx, miny, maxx, maxy = districts_ll.total_bounds
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    out = fmap.get_root().render()
    return out.replace("<html>", f'<html lang="{page.html_lang}">', 1)


@dataclass
class _Page:
    """What every part of the page shares: language, names, standard and the title."""

    lang: str
    scenario: str
    year: Any
    standard: str
    pollutant: Pollutant
    is_scenario: bool

    @classmethod
    def of(cls, run: _Run, chosen: Pollutant) -> _Page:
        lang = str(run.summary.get("lang") or "en")
        return cls("zh" if lang == "zh" else "en",
                   str(run.summary.get("scenario") or run.path.name), run.summary.get("year", ""),
                   str(run.summary.get("standard") or "gb3095-2012"), chosen,
                   run.scenario is not None)

    @property
    def html_lang(self) -> str:
        return "zh-CN" if self.lang == "zh" else "en"

    def subtitle(self, run: _Run, n_now: int, n_removed: int) -> str:
        """``Kriged from the … · Grade II annual limit …`` (the surfaces' titles reuse it)."""
        label = _standard_label(self.standard)
        limit = grade_ii_annual_limit(self.pollutant.name, self.standard)
        limit_text = (
            _tr("limit_text", self.lang, v=f"{limit:g}", units=self.pollutant.units,
                standard=label) if limit is not None
            else _tr("no_limit_text", self.lang, p=self.pollutant.name, standard=label))
        net_text = (_tr("net_scenario", self.lang, n=n_now, removed=n_removed)
                    if self.is_scenario else _tr("net_baseline", self.lang, n=n_now))
        data = run.summary.get("data") or {}
        if data.get("kind") == "real readings":
            net_text += _tr("net_real", self.lang, file=Path(str(data.get("path", ""))).name)
        return _tr("subtitle", self.lang, network=net_text, limit=limit_text)

    def title(self, what: str, subtitle: str | None = None) -> str:
        """Title HTML for the layer ``what`` (``subtitle``: the network's, set later by
        :meth:`subtitle`, when None — filled in the browser from the page's title)."""
        head = html.escape(_tr("title", self.lang, scenario=self.scenario, what=what,
                               year=self.year))
        small = "{subtitle}" if subtitle is None else html.escape(subtitle)
        return f"{head}<small>{small}</small>"


def _surfaces(run: _Run, page: _Page, legends: list[str], readouts: _Readouts
              ) -> tuple[list[_Surface], tuple[np.ndarray, Any] | None]:
    """Every pollutant's annual-mean layer and the chosen one's std, truth, error, baseline
    and difference layers; also the chosen estimate and its transform (district means)."""
    surfaces: list[_Surface] = []
    main = None
    for name in _summary_pollutants(run):
        pol = POLLUTANTS[name]
        is_main = pol.name == page.pollutant.name
        layers, transform, crs = _pollutant_layers(run, pol, is_main)
        if is_main:
            main = (layers["estimate"], transform)
        surfaces += _pollutant_surfaces(pol, layers, transform, crs, page, legends,
                                        readouts if is_main else None, is_main)
    return surfaces, main


def _pollutant_layers(run: _Run, pol: Pollutant, is_main: bool
                      ) -> tuple[dict[str, np.ndarray], Any, Any]:
    net = run.shown
    bands, transform, crs = _read_bands(net.rasters[f"{pol.slug}_annual_mean"])
    if "estimate" not in bands:
        raise RasterError(
            f"{net.rasters[pol.slug + '_annual_mean']}: no band named 'estimate'; "
            "re-run `netsim run`"
        )
    layers: dict[str, np.ndarray] = {"estimate": bands["estimate"]}
    if not is_main:
        return layers, transform, crs
    layers.update({b: bands[b] for b in ("std", "truth", "error") if b in bands})
    if run.scenario is not None:
        base_path = run.baseline.rasters.get(f"{pol.slug}_annual_mean")
        if base_path is not None:
            base_bands, _, _ = _read_bands(base_path)
            if "estimate" in base_bands:
                layers["baseline"] = base_bands["estimate"]
        diff_path = net.rasters.get(f"{pol.slug}_difference")
        if diff_path is not None:
            diff_bands, _, _ = _read_bands(diff_path)
            layers["difference"] = diff_bands.get("difference", next(iter(diff_bands.values())))
    return layers, transform, crs


def _pollutant_surfaces(pol: Pollutant, layers: dict[str, np.ndarray], transform: Any,
                        crs: Any, page: _Page, legends: list[str], readouts: _Readouts | None,
                        is_main: bool) -> list[_Surface]:
    lang = page.lang
    limit = grade_ii_annual_limit(pol.name, page.standard)
    conc = [layers[b] for b in ("estimate", "truth", "baseline") if b in layers]
    lo, hi = _nice_range(conc, include=limit)
    limit_label = (_tr("grade_ii", lang, v=f"{limit:g}", standard=_standard_label(page.standard))
                   if limit is not None else "")
    conc_scale = _Scale(_CMAPS["estimate"], lo, hi, pol.units, limit, limit_label, centre=limit)
    out = []
    for band, values in layers.items():
        if band in ("estimate", "truth", "baseline"):
            scale, legend_id = conc_scale, f"{pol.slug}-concentration"
            legend_title = _join(pol.name, _tr("estimate", lang), lang)
        elif band == "std":
            lo_s, hi_s = _nice_range([values])
            scale = _Scale(_CMAPS["std"], max(0.0, lo_s), hi_s, pol.units)
            legend_id, legend_title = f"{pol.slug}-std", _join(pol.name, _tr("std", lang), lang)
        else:
            lo_d, hi_d = _nice_range([values], symmetric=True)
            scale = _Scale(_CMAPS[band], lo_d, hi_d, pol.units, centre=0.0)
            legend_id, legend_title = f"{pol.slug}-{band}", _join(pol.name, _tr(band, lang), lang)
        if not any(legend_id in lg for lg in legends):
            legends.append(_scale_legend_html(legend_id, legend_title, scale))
        label = _join(pol.name, _tr(band, lang), lang)
        if band == "estimate" and page.is_scenario:
            label += _tr("scenario_suffix", lang)
        key = ""
        if readouts is not None:
            key = f"{pol.slug}-{band}"
            interval_note = "" if band in ("std", "truth") or (
                band == "estimate" and "std" in layers) else _tr("no_cell_interval", lang)
            readouts.add(key, values, transform, crs, label=label, units=pol.units,
                         decimals=pol.reported_decimals,
                         std=f"{pol.slug}-std" if band == "estimate" and "std" in layers else "",
                         note=interval_note)
        warped, bounds = _warp_to_web_mercator(values, transform, crs)
        out.append(_Surface(
            _png_data_url(scale.rgba(warped)), bounds, name=label,
            css_class=f"netsim-overlay-{pol.slug}-{band}", legend_id=legend_id,
            show=is_main and band == "estimate", title_html=page.title(label), readout=key))
    return out


def _base_map(districts_ll: Any, page: _Page, tiles: TileChoice) -> folium.Map:
    """The Leaflet map with its zoom and pan limits, inlined Leaflet and the page style."""
    minx, miny, maxx, maxy = districts_ll.total_bounds
    pad_x, pad_y = 0.35 * (maxx - minx), 0.35 * (maxy - miny)
    fmap = _OfflineMap(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        tiles=None,
        zoom_start=8,
        min_zoom=_MIN_ZOOM,
        max_zoom=_MAX_ZOOM,
        max_bounds=True,
        min_lat=miny - pad_y,
        max_lat=maxy + pad_y,
        min_lon=minx - pad_x,
        max_lon=maxx + pad_x,
        control_scale=False,
        # passed straight to L.map (folium's min_zoom/max_zoom go to a tile layer)
        **{"minZoom": _MIN_ZOOM, "maxZoom": _MAX_ZOOM, "maxBoundsViscosity": 1.0},
        prefer_canvas=False,
        zoom_control=True,
    )
    root = fmap.get_root()
    root.header.add_child(Element('<meta charset="utf-8" />'), name="meta_http")
    head = _tr("title", page.lang, scenario=page.scenario,
               what=_join(page.pollutant.name, _tr("estimate", page.lang), page.lang),
               year=page.year)
    root.header.add_child(_RawHtml(f"<title>{html.escape(head)}</title>"), name="netsim_title")
    root.header.add_child(
        _RawHtml(f"<style>{_raw_text_safe(leaflet_css(), 'leaflet.css')}</style>"),
        name="leaflet_css_inline",
    )
    root.header.add_child(
        _RawHtml(f"<script>{_raw_text_safe(leaflet_js(), 'leaflet.js')}</script>"),
        name="leaflet_js_inline",
    )
    css = _PAGE_CSS.replace("FONTS", _FONTS_ZH if page.lang == "zh" else _FONTS_EN)
    root.header.add_child(_RawHtml(f"<style>{css}</style>"), name="netsim_css")
    if tiles == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", overlay=False, control=True).add_to(
            fmap
        )
    return fmap


_FONTS_EN = "system-ui, sans-serif"
_FONTS_ZH = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", sans-serif'


class _DistrictLayer:
    """The district polygons with their tooltip, and the click-popup HTML of each district."""

    def __init__(self, geojson: _RawGeoJson, popups: list[str]) -> None:
        self.geojson = geojson
        self.popups = popups

    def add_to(self, fmap: folium.Map) -> _DistrictLayer:
        self.geojson.add_to(fmap)
        return self


def _area_intervals(net: _NetworkOutputs, pollutant: str) -> dict[str, dict[str, Any]]:
    """``annual_by_area_intervals.csv`` rows of ``pollutant``'s annual mean by area."""
    path = net.path / "annual_by_area_intervals.csv"
    if not path.exists():
        return {}
    frame = _pick_statistic(_read_csv(path, ("area", "pollutant", "statistic", "p05", "p95")))
    frame = frame[frame["pollutant"].astype(str) == pollutant]
    return {str(r["area"]): r for r in frame.to_dict(orient="records")}


def _district_popup(district: str, page: _Page, value: float, reason: str,
                    interval: dict[str, Any] | None, map_mean: float) -> str:
    """HTML of a district's figure: published value, 90 % interval, value from the map."""
    e, lang, pol = html.escape, page.lang, page.pollutant
    dec = pol.reported_decimals
    lines = [f"<div class='netsim-district-figure'><b>{e(_district_label(district, lang))}</b>"]
    shown = _fmt(value, dec) if math.isfinite(value) else (reason or "–")
    lines.append(f"<div>{e(_tr('district_figure', lang, p=pol.name, value=shown, units=pol.units))}"
                 "</div>")
    if interval is not None and math.isfinite(value) and pd.notna(interval.get("p05")):
        n = interval.get("n")
        lines.append("<div class='netsim-interval'>" + e(_tr(
            "district_interval", lang, lo=f"{float(interval['p05']):.1f}",
            hi=f"{float(interval['p95']):.1f}",
            n=int(n) if n is not None and pd.notna(n) else "?")) + "</div>")
    lines.append(f"<div>{e(_tr('district_map', lang, value=_fmt(map_mean, 1), units=pol.units))}"
                 "</div></div>")
    return "".join(lines)


def _district_layer(run: _Run, page: _Page, main: tuple[np.ndarray, Any] | None,
                    cells: _DistrictCells, districts_ll: Any) -> _DistrictLayer:
    lang, chosen = page.lang, page.pollutant
    limit = grade_ii_annual_limit(chosen.name, page.standard)
    from_map = cells.means(*main) if main is not None else {}
    net = run.shown
    area_rows = _pick_statistic(
        net.by_area[net.by_area["pollutant"].astype(str) == chosen.name]
        if not net.by_area.empty else net.by_area)
    from_stations = {str(r.area): float(r.value) for r in area_rows.itertuples(index=False)}
    reasons = ({str(r.area): str(r.reason) for r in area_rows.itertuples(index=False)
                if isinstance(r.reason, str)} if "reason" in area_rows else {})
    intervals = _area_intervals(net, chosen.name)
    names = [str(d) for d in districts_ll["district"]]
    frame = districts_ll.copy()
    dec = chosen.reported_decimals
    frame["district"] = [_district_label(d, lang) for d in names]
    frame["stations_mean"] = [_fmt(from_stations.get(d, math.nan), dec) for d in names]
    frame["map_mean"] = [_fmt(from_map.get(d, math.nan), 1) for d in names]

    def verdict(value: float) -> str:
        if limit is None or not math.isfinite(value):
            return _tr("no_annual_limit", lang) if limit is None else "–"
        return _tr("met", lang) if value <= limit else _tr("exceeded", lang)

    frame["limit_stations"] = [verdict(from_stations.get(d, math.nan)) for d in names]
    frame["limit_map"] = [verdict(from_map.get(d, math.nan)) for d in names]
    units = chosen.units
    fields = ["district", "stations_mean", "map_mean", "limit_stations", "limit_map"]
    geojson = _RawGeoJson(
        _districts_geojson(frame, fields),
        name=_tr("districts", lang),
        style_function=lambda _f: {"color": "#333333", "weight": 1.2, "fill": True,
                                   "fillOpacity": 0.0, "dashArray": "3 3"},
        highlight_function=lambda _f: {"weight": 3, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=fields,
            aliases=[
                _tr("district", lang),
                _tr("from_stations", lang, p=chosen.name, units=units),
                _tr("from_map", lang, p=chosen.name, units=units),
                _tr("limit_stations" if limit is not None else "limit", lang),
                _tr("limit_map" if limit is not None else "limit_map_none", lang),
            ],
            class_name="netsim-district-tip",
            sticky=True,
        ),
        smooth_factor=1.0,
    )
    popups = [_district_popup(d, page, from_stations.get(d, math.nan), reasons.get(d, ""),
                              intervals.get(d), from_map.get(d, math.nan)) for d in names]
    return _DistrictLayer(geojson, popups)


@dataclass
class _StationLayers:
    layers: list[Layer]

    def add_to_map(self, fmap: folium.Map) -> None:
        for layer in self.layers:
            layer.add_to(fmap)


def _station_layers(entries: _StationEntries, page: _Page) -> _StationLayers:
    """One layer per station type, the light sensor layer (below: canvas in the overlay
    pane, reference stations' markers above it) and the scenario's removed and moved."""
    lang = page.lang
    layers: list[Layer] = []
    if entries.light:
        layers.append(_LightSensorLayer(
            entries.light, name=_tr("light_sensors_layer", lang, n=len(entries.light)),
            label=_type_label("sensor", lang),
            value_label=_join(page.pollutant.name, _tr("estimate", lang), lang),
            units=page.pollutant.units))
    by_type = entries.by_type
    for stype in (*STATION_STYLES, *sorted(set(by_type) - set(STATION_STYLES))):
        if stype in by_type:
            name = _tr("stations_layer", lang, label=_type_label(stype, lang),
                       n=len(by_type[stype]))
            layers.append(_StationLayer(by_type[stype], [], name=name))
    if entries.removed or entries.lines:
        layers.append(_StationLayer(
            entries.removed, entries.lines,
            name=_tr("changes_layer", lang, removed=len(entries.removed),
                     moved=len(entries.lines))))
    return _StationLayers(layers)


def _standard_label(standard: str) -> str:
    """``gb3095-2026-phase1`` -> ``GB 3095-2026 phase 1``."""
    m = re.match(r"(?i)\s*gb\s*-?\s*(\d{4})\s*-\s*(\d{4})(?:-phase(\d))?", standard)
    if not m:
        return standard
    return f"GB {m.group(1)}-{m.group(2)}" + (f" phase {m.group(3)}" if m.group(3) else "")
