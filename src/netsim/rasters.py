"""GeoTIFF output and input for gridded netsim fields.

Format written by :func:`write_raster`
--------------------------------------
* GeoTIFF, EPSG:32650, the :class:`netsim.grid.Grid` transform (north-up,
  edges on round UTM coordinates);
* one float32 band per field, named by the band description
  (``"estimate"``, ``"std"``, ``"truth"``, ``"error"``, ``"difference"``, ...);
* nodata = **NaN**, and every cell outside Beijing is NaN (the grid mask is
  applied on writing, whatever the input holds there);
* tiled 256 × 256, DEFLATE with the floating-point predictor, internal
  overviews (factors 2, 4, 8, … until the raster fits one 256-pixel block, the
  default of GDAL's ``gdaladdo``; none for a raster that already fits, e.g. the
  1 km Beijing grid; "average" resampling);
* dataset tags: ``pollutant``, ``statistic``, ``units``, ``year``, ``network``,
  ``variogram`` (JSON), whatever else the caller passes, plus ``netsim_version``
  and ``netsim_bands`` (JSON list of band names) added here.  Non-string tag
  values are stored as JSON.

The file is written window by window (one 256 × 256 block at a time), so a
band given as a callable producing windows is never held whole in memory; it
is written to a temporary file beside the target and renamed on success
(:func:`netsim.atomic.atomic_file`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.windows import Window

from netsim.atomic import atomic_file
from netsim.errors import RasterError
from netsim.grid import Grid

__all__ = ["NODATA", "STANDARD_TAGS", "Raster", "read_raster", "write_raster"]

NODATA = float("nan")
"""Nodata value of netsim rasters: NaN (float32)."""

STANDARD_TAGS = ("pollutant", "statistic", "units", "year", "network", "variogram")
"""Tags every netsim field raster should carry (others may be added freely)."""

BLOCK = 256
"""Tile size, pixels."""

DEFLATE_LEVEL = 1
"""Deflate level of the tiles (GDAL's ``ZLEVEL``, default 6): the 18 GeoTIFFs of a
two-network run of six pollutants at 1 km in 187 ms and 3.196 MB against 259 ms and
3.207 MB at 6 (the floating-point predictor leaves little for a higher level; EPYC)."""

BandSource = np.ndarray | Callable[[Window], np.ndarray]
"""A band: (ny, nx) array, (n_cells,) vector in ``Grid.targets()`` order, or a
callable returning the (height, width) block for a ``rasterio.windows.Window``."""

_INTERNAL_TAGS = ("netsim_bands", "AREA_OR_POINT")


def _tag_text(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise RasterError(
            f"tag {key!r}: value of type {type(value).__name__} is not JSON-serialisable; "
            "pass a string, number, list or dict"
        ) from exc


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)


def _band_reader(name: str, source: BandSource, grid: Grid) -> Callable[[Window], np.ndarray]:
    """Turn a band source into ``window -> float32 (h, w) block``."""
    if callable(source) and not isinstance(source, np.ndarray):

        def from_callable(win: Window) -> np.ndarray:
            block = np.asarray(source(win), dtype=np.float32)
            want = (int(win.height), int(win.width))
            if block.shape != want:
                raise RasterError(
                    f"band {name!r}: window callable returned shape {block.shape} for "
                    f"{win}, expected {want}"
                )
            return block

        return from_callable
    arr = np.asarray(source)
    if arr.ndim == 1 and arr.shape[0] == grid.n_cells:
        arr = grid.to_array(arr, dtype=np.float32)
    if arr.shape != tuple(grid.shape):
        raise RasterError(
            f"band {name!r}: array has shape {arr.shape}, expected {grid.shape} (ny, nx) or "
            f"({grid.n_cells},) values at Grid.targets() for the {grid.resolution_m:g} m grid"
        )
    return lambda win: np.asarray(arr[win.toslices()], dtype=np.float32)


def _overview_factors(shape: tuple[int, int]) -> list[int]:
    """Overview factors 2, 4, … until the coarsest level fits one :data:`BLOCK` (what
    ``gdaladdo`` builds by default, ``-minsize 256``); none when the raster fits."""
    factors: list[int] = []
    while max(shape) > BLOCK * (factors[-1] if factors else 1):
        factors.append(2 * factors[-1] if factors else 2)
    return factors


def write_raster(
    path: str | os.PathLike[str],
    grid: Grid,
    bands: Mapping[str, BandSource],
    tags: Mapping[str, Any] | None = None,
    *,
    overviews: bool = True,
) -> None:
    """Write fields on ``grid`` to a tiled, compressed GeoTIFF.

    Parameters
    ----------
    path
        Output file (parent directories are created; written atomically).
    grid
        The grid the bands live on (transform, CRS, Beijing mask).
    bands
        Band name → data, in band order.  Each value is a (ny, nx) array, a
        (n_cells,) vector in :meth:`Grid.targets` order, or a callable taking a
        ``rasterio.windows.Window`` and returning that (height, width) block
        (for grids too large to hold whole).  Values are stored as float32;
        cells outside Beijing become NaN.
    tags
        Dataset metadata; see :data:`STANDARD_TAGS` (``variogram`` may be a
        dict or an object with ``to_dict()``; it is stored as JSON).
    overviews
        Build internal overviews (average resampling).

    Raises
    ------
    RasterError
        No bands, a band of the wrong shape, a non-serialisable tag.
    """
    if not bands:
        raise RasterError(f"{path}: no bands to write; pass e.g. {{'estimate': array}}")
    names = [str(n) for n in bands]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise RasterError(f"{path}: band names must be unique and non-empty, got {names}")
    readers = [_band_reader(n, src, grid) for n, src in bands.items()]

    from netsim import __version__

    meta = {str(k): _tag_text(str(k), v) for k, v in (tags or {}).items()}
    meta["netsim_version"] = __version__
    meta["netsim_bands"] = json.dumps(names)

    ny, nx = grid.shape
    profile = {
        "driver": "GTiff",
        "width": nx,
        "height": ny,
        "count": len(names),
        "dtype": "float32",
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "deflate",
        "zlevel": DEFLATE_LEVEL,
        "predictor": 3,
        "interleave": "band",
        "BIGTIFF": "IF_SAFER",
    }
    mask = grid.mask
    with atomic_file(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            for i, name in enumerate(names, start=1):
                dst.set_band_description(i, name)
                dst.update_tags(i, name=name)
            dst.update_tags(**meta)
            for win in grid.windows(BLOCK):
                inside = mask[win.toslices()]
                for i, read in enumerate(readers, start=1):
                    block = read(win)
                    dst.write(np.where(inside, block, np.float32(np.nan)), i, window=win)
            if overviews:
                factors = _overview_factors(grid.shape)
                if factors:
                    dst.build_overviews(factors, Resampling.average)
                    dst.update_tags(ns="rio_overview", resampling="average")


@dataclass(frozen=True)
class Raster:
    """A netsim GeoTIFF read back.

    Attributes
    ----------
    bands : dict[str, ndarray]
        Band name → float32 (ny, nx) array, NaN outside Beijing.
    tags : dict[str, str]
        Dataset tags as written (``netsim_version`` included; JSON strings not decoded).
    transform : affine.Affine
    crs : str
        E.g. ``"EPSG:32650"``.
    grid_shape : tuple[int, int]
        ``(ny, nx)``.
    """

    bands: dict[str, np.ndarray]
    tags: dict[str, str]
    transform: Affine
    crs: str
    grid_shape: tuple[int, int]
    path: str = field(default="")

    @property
    def resolution_m(self) -> float:
        """Cell size, metres."""
        return float(self.transform.a)

    @property
    def variogram(self) -> dict | None:
        """The ``variogram`` tag decoded from JSON (None if absent or not JSON)."""
        text = self.tags.get("variogram")
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def grid(self) -> Grid:
        """The :class:`Grid` this raster matches (``Grid.for_beijing`` at its resolution).

        Raises
        ------
        RasterError
            If the raster's transform or shape differs from the Beijing grid.
        """
        g = Grid.for_beijing(self.resolution_m)
        if g.shape != self.grid_shape or not g.transform.almost_equals(self.transform):
            raise RasterError(
                f"{self.path or 'raster'}: transform/shape {self.transform}, {self.grid_shape} "
                f"do not match the netsim Beijing grid at {self.resolution_m:g} m"
            )
        return g


def read_raster(path: str | os.PathLike[str], *, bands: list[str] | None = None) -> Raster:
    """Read a GeoTIFF written by :func:`write_raster`.

    Parameters
    ----------
    path
        The GeoTIFF.
    bands
        Names of the bands to read (default: all).

    Returns
    -------
    Raster

    Raises
    ------
    RasterError
        The file is missing or unreadable, was not written by netsim (no
        ``netsim_version`` tag), or lacks a requested band.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise RasterError(
            f"{p}: file not found; check the path (netsim writes <run>/<net>/rasters/)"
        )
    try:
        src = rasterio.open(p)
    except rasterio.errors.RasterioIOError as exc:
        raise RasterError(
            f"{p}: not a readable GeoTIFF ({exc}); regenerate it with netsim"
        ) from exc
    with src:
        tags = dict(src.tags())
        if "netsim_version" not in tags:
            raise RasterError(
                f"{p}: no 'netsim_version' tag, so not a netsim raster; write it with "
                "netsim.rasters.write_raster"
            )
        names = [d or f"band{i}" for i, d in enumerate(src.descriptions, start=1)]
        wanted = names if bands is None else list(bands)
        missing = [b for b in wanted if b not in names]
        if missing:
            raise RasterError(f"{p}: no band named {missing}; the file has bands {names}")
        out: dict[str, np.ndarray] = {}
        for name in wanted:
            idx = names.index(name) + 1
            arr = src.read(idx)
            nod = src.nodatavals[idx - 1]
            if nod is not None and not math.isnan(nod):
                arr = np.where(arr == nod, np.float32(np.nan), arr)
            out[name] = arr
        crs = src.crs.to_string() if src.crs is not None else ""
        for key in _INTERNAL_TAGS:
            tags.pop(key, None)
        return Raster(
            bands=out,
            tags=tags,
            transform=src.transform,
            crs=crs,
            grid_shape=(src.height, src.width),
            path=p,
        )
