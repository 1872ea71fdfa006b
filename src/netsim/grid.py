"""The city-wide raster grid: cells aligned to round UTM coordinates over Beijing.

A :class:`Grid` covers the bounding box of :func:`netsim.geography.beijing_boundary`
in EPSG:32650 with square cells whose edges are multiples of the resolution
(1 km cells have edges at whole kilometres).  A cell is *inside* Beijing when
its centre is (the rasterisation rule of :func:`rasterio.features.rasterize`
with ``all_touched=False``); ``district`` holds the id of the district
containing the centre.  Kriging targets are the inside cell centres in
row-major order; :meth:`Grid.to_array` puts results back on the 2-D grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import rasterio.features
from affine import Affine

from netsim.crs import PROJECTED_CRS
from netsim.errors import GeographyError

__all__ = ["MIN_RESOLUTION_M", "Grid"]

MIN_RESOLUTION_M = 100.0
"""Finest supported resolution, metres (about 1.6 million cells inside Beijing)."""

MAX_RESOLUTION_M = 50_000.0
"""Coarsest supported resolution, metres."""


@dataclass(frozen=True, eq=False)
class Grid:
    """A north-up raster grid in EPSG:32650 with a Beijing mask and district ids.

    Build it with :meth:`Grid.for_beijing`; the constructor is for tests and
    custom extents.

    Attributes
    ----------
    resolution_m : float
        Cell size in metres (square cells).
    west_m, north_m : float
        Easting of the western edge and northing of the northern edge, metres
        (multiples of ``resolution_m`` for :meth:`for_beijing`).
    shape : tuple[int, int]
        ``(ny, nx)``: rows (north → south), columns (west → east).
    district : ndarray of int16, shape (ny, nx)
        Row index into :func:`netsim.geography.districts` of the district
        containing each cell centre; -1 outside Beijing.
    crs : str
        ``"EPSG:32650"``.
    """

    resolution_m: float
    west_m: float
    north_m: float
    shape: tuple[int, int]
    district: np.ndarray = field(repr=False)
    crs: str = PROJECTED_CRS
    _area_masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _area_cells: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    _for_beijing: bool = field(default=False, repr=False, compare=False)

    def __reduce__(self) -> tuple:
        """Pickled as its definition, without its caches (area masks and cells: ~1.3 MB of
        a 1 km grid, sent with every map a helper process draws); a grid of
        :meth:`for_beijing` arrives as the receiving process's own shared instance."""
        if self._for_beijing:
            return Grid.for_beijing, (self.resolution_m,)
        return Grid, (self.resolution_m, self.west_m, self.north_m, self.shape, self.district,
                      self.crs)

    def __post_init__(self) -> None:
        if self.district.shape != tuple(self.shape):
            raise GeographyError(
                f"Grid: district array has shape {self.district.shape}, expected {self.shape}"
            )
        self.district.setflags(write=False)

    # ------------------------------------------------------------------ build
    @classmethod
    def for_beijing(cls, resolution_m: float = 1000.0) -> Grid:
        """The Beijing grid at ``resolution_m`` metres (cached per resolution).

        Parameters
        ----------
        resolution_m
            Cell size in metres, from :data:`MIN_RESOLUTION_M` (100 m) to 50 km.

        Returns
        -------
        Grid
            Shared, read-only instance: the same object for the same resolution.

        Raises
        ------
        GeographyError
            If the resolution is not a finite number in [100, 50000] m.
        """
        try:
            res = float(resolution_m)
        except (TypeError, ValueError) as exc:
            raise GeographyError(
                f"resolution_m={resolution_m!r}: expected a number of metres (e.g. 1000)"
            ) from exc
        if not (math.isfinite(res) and MIN_RESOLUTION_M <= res <= MAX_RESOLUTION_M):
            raise GeographyError(
                f"resolution_m={resolution_m!r}: expected {MIN_RESOLUTION_M:g}-"
                f"{MAX_RESOLUTION_M:g} m; use e.g. 1000 (1 km) or 100"
            )
        return _beijing_grid(res)

    # ------------------------------------------------------------- geometry
    @property
    def ny(self) -> int:
        """Number of rows."""
        return self.shape[0]

    @property
    def nx(self) -> int:
        """Number of columns."""
        return self.shape[1]

    @cached_property
    def transform(self) -> Affine:
        """North-up affine transform (pixel (col, row) → EPSG:32650 metres of the corner)."""
        return Affine(self.resolution_m, 0.0, self.west_m, 0.0, -self.resolution_m, self.north_m)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in metres."""
        return (
            self.west_m,
            self.north_m - self.ny * self.resolution_m,
            self.west_m + self.nx * self.resolution_m,
            self.north_m,
        )

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(west, east, south, north)`` in metres, for matplotlib ``imshow``."""
        w, s, e, n = self.bounds
        return (w, e, s, n)

    @property
    def cell_area_km2(self) -> float:
        """Area of one cell, km² (UTM metres; the scale factor is ignored)."""
        return self.resolution_m**2 / 1e6

    @cached_property
    def x_centres(self) -> np.ndarray:
        """Eastings of the column centres, metres, shape (nx,)."""
        return self.west_m + (np.arange(self.nx) + 0.5) * self.resolution_m

    @cached_property
    def y_centres(self) -> np.ndarray:
        """Northings of the row centres (north → south), metres, shape (ny,)."""
        return self.north_m - (np.arange(self.ny) + 0.5) * self.resolution_m

    # ----------------------------------------------------------------- mask
    @cached_property
    def mask(self) -> np.ndarray:
        """Bool (ny, nx): cell centre inside Beijing (read-only)."""
        m = self.district >= 0
        m.setflags(write=False)
        return m

    @cached_property
    def _flat_index(self) -> np.ndarray:
        return np.flatnonzero(self.mask.ravel())

    @property
    def n_cells(self) -> int:
        """Number of cells inside Beijing."""
        return int(self._flat_index.size)

    @property
    def area_km2(self) -> float:
        """Area of the inside cells, km²."""
        return self.n_cells * self.cell_area_km2

    def targets(self) -> np.ndarray:
        """Centres of the inside cells, (n_cells, 2) float64 metres, row-major order."""
        rows, cols = np.divmod(self._flat_index, self.nx)
        return np.column_stack([self.x_centres[cols], self.y_centres[rows]])

    def to_array(self, values: np.ndarray, *, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """Scatter values at :meth:`targets` back onto the grid.

        Parameters
        ----------
        values
            Shape (n_cells,) or (T, n_cells), in the order of :meth:`targets`.
        dtype
            Floating output dtype (float64 by default; float32 halves memory).

        Returns
        -------
        ndarray
            (ny, nx) or (T, ny, nx); NaN outside Beijing.

        Raises
        ------
        GeographyError
            If the last axis is not ``n_cells`` long.
        """
        values = np.asarray(values)
        if values.ndim not in (1, 2) or values.shape[-1] != self.n_cells:
            raise GeographyError(
                f"to_array: values have shape {values.shape}, expected ({self.n_cells},) or "
                f"(T, {self.n_cells}) for the {self.resolution_m:g} m grid"
            )
        lead = values.shape[:-1]
        out = np.full((*lead, self.ny * self.nx), np.nan, dtype=dtype)
        out[..., self._flat_index] = values
        return out.reshape(*lead, self.ny, self.nx)

    def from_array(self, array: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_array`: the inside cells of (…, ny, nx) as (…, n_cells)."""
        array = np.asarray(array)
        if array.shape[-2:] != tuple(self.shape):
            raise GeographyError(
                f"from_array: array has shape {array.shape}, expected (..., {self.ny}, {self.nx})"
            )
        return array.reshape(*array.shape[:-2], -1)[..., self._flat_index]

    def cell_index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cells containing EPSG:32650 points; -1 outside the grid."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        col = np.floor((x - self.west_m) / self.resolution_m).astype(np.int64)
        row = np.floor((self.north_m - y) / self.resolution_m).astype(np.int64)
        bad = (col < 0) | (col >= self.nx) | (row < 0) | (row >= self.ny)
        return np.where(bad, -1, row), np.where(bad, -1, col)

    # ---------------------------------------------------------------- areas
    def area_mask(self, area_name: str) -> np.ndarray:
        """Bool (ny, nx) of the cells whose centre lies in a reporting area.

        Parameters
        ----------
        area_name
            A district name, :data:`netsim.geography.DEVELOPMENT_AREA`, a group
            of :data:`netsim.geography.AREA_GROUPS` (``"central_urban"``,
            ``"core"``, ``"plains"``, ``"ecological"``) or ``"city"``.

        Returns
        -------
        ndarray of bool (read-only, cached per grid)

        Raises
        ------
        GeographyError
            For an unknown name (the message lists the known ones).
        """
        cached = self._area_masks.get(area_name)
        if cached is not None:
            return cached
        from netsim import geography

        names = list(geography.DISTRICTS.values())
        if area_name in names:
            m = self.district == names.index(area_name)
        elif area_name in geography.AREA_GROUPS:
            ids = [names.index(n) for n in geography.AREA_GROUPS[area_name]]
            m = np.isin(self.district, ids)
        elif area_name == geography.CITY:
            m = self.mask.copy()
        elif area_name == geography.DEVELOPMENT_AREA:
            poly = geography.development_area_polygon()
            m = (
                rasterio.features.rasterize(
                    [(poly, 1)],
                    out_shape=self.shape,
                    transform=self.transform,
                    fill=0,
                    dtype="uint8",
                ).astype(bool)
                & self.mask
            )
        else:
            known = [*names, geography.DEVELOPMENT_AREA, *geography.AREA_GROUPS, geography.CITY]
            raise GeographyError(
                f"area {area_name!r} is unknown; expected one of: {', '.join(known)}"
            )
        m.setflags(write=False)
        self._area_masks[area_name] = m
        return m

    def area_cells(self, area_name: str) -> np.ndarray:
        """Positions in :meth:`targets` order (int64, ascending) of the cells of a
        reporting area (:meth:`area_mask`; read-only, cached per grid)."""
        cells = self._area_cells.get(area_name)
        if cells is None:
            cells = np.flatnonzero(self.area_mask(area_name)[self.mask])
            cells.setflags(write=False)
            self._area_cells[area_name] = cells
        return cells

    def area_names(self) -> list[str]:
        """All names accepted by :meth:`area_mask`, in :func:`netsim.geography.areas` order."""
        from netsim import geography

        return [
            *geography.DISTRICTS.values(),
            geography.DEVELOPMENT_AREA,
            *geography.AREA_GROUPS,
            geography.CITY,
        ]

    def windows(self, block: int = 256):
        """Iterate ``rasterio.windows.Window`` blocks of ``block`` × ``block`` cells (row-major)."""
        from rasterio.windows import Window

        for r0 in range(0, self.ny, block):
            for c0 in range(0, self.nx, block):
                yield Window(c0, r0, min(block, self.nx - c0), min(block, self.ny - r0))


@lru_cache(maxsize=8)
def _beijing_grid(resolution_m: float) -> Grid:
    from netsim import geography

    frame = geography.districts()
    west, south, east, north = geography.beijing_boundary().bounds
    res = resolution_m
    x0 = math.floor(west / res) * res
    y1 = math.ceil(north / res) * res
    nx = math.ceil((east - x0) / res)
    ny = math.ceil((y1 - south) / res)
    transform = Affine(res, 0.0, x0, 0.0, -res, y1)
    district = rasterio.features.rasterize(
        [(geom, i) for i, geom in enumerate(frame.geometry)],
        out_shape=(ny, nx),
        transform=transform,
        fill=-1,
        dtype="int16",
    )
    return Grid(resolution_m=res, west_m=x0, north_m=y1, shape=(ny, nx), district=district,
                _for_beijing=True)
