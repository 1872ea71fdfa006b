"""Area statistics of gridded fields: districts, the development area, groups, city.

Every cell of a :class:`netsim.grid.Grid` has the same area in EPSG:32650, so
an area-weighted statistic over a reporting area is the plain statistic over
the cells whose centres lie in it (``Grid.area_mask``); ``area_km2`` is the
cell-count area (within about 0.2 % of the polygon area at 1 km for the city).
Cells where the field is NaN are left out of the statistics (and of
``area_km2``).

"Meeting" a limit means the value is at or below it (GB 3095-2012: the
concentration limit must not be exceeded, standards.md); "above" means
strictly greater.

:func:`block_kriged_area_means` gives the model-based alternative: the block
kriging estimate of each area's mean (from the station values, not from a
raster) with its standard error, using the area's cell centres as the block
discretisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from netsim import geography
from netsim.errors import GeographyError
from netsim.grid import Grid
from netsim.variogram import Variogram

__all__ = [
    "AREA_COLUMNS",
    "BLOCK_COLUMNS",
    "MAX_BLOCK_POINTS",
    "AreaValues",
    "area_statistics",
    "area_values",
    "block_kriged_area_means",
    "territory_meeting",
]

AREA_COLUMNS = ["area", "kind", "area_km2", "mean", "min", "max", "share_above_limit"]
"""Columns of :func:`area_statistics`."""

BLOCK_COLUMNS = ["area", "kind", "block_mean", "block_se"]
"""Columns of :func:`block_kriged_area_means`."""

MAX_BLOCK_POINTS = 2000
"""Default cap on the discretisation points of one block (see :func:`block_kriged_area_means`)."""


def _kinds() -> dict[str, str]:
    kinds = {name: "district" for name in geography.DISTRICTS.values()}
    kinds[geography.DEVELOPMENT_AREA] = "development_area"
    kinds.update({g: "group" for g in geography.AREA_GROUPS})
    kinds[geography.CITY] = "city"
    return kinds


def _as_grid_field(grid: Grid, field: np.ndarray) -> np.ndarray:
    arr = np.asarray(field, dtype=float)
    if arr.ndim == 1 and arr.shape[0] == grid.n_cells:
        return grid.to_array(arr)
    if arr.shape != tuple(grid.shape):
        raise GeographyError(
            f"field has shape {arr.shape}, expected {grid.shape} (ny, nx) or ({grid.n_cells},) "
            f"values at Grid.targets() for the {grid.resolution_m:g} m grid"
        )
    return arr


@dataclass(frozen=True)
class AreaValues:
    """:func:`area_statistics` as arrays, one entry per area (:data:`AREA_COLUMNS`)."""

    area: list[str]
    kind: list[str]
    area_km2: np.ndarray
    mean: np.ndarray
    min: np.ndarray
    max: np.ndarray
    share_above_limit: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """The :func:`area_statistics` frame."""
        return pd.DataFrame({name: getattr(self, name) for name in AREA_COLUMNS})


def area_values(
    grid: Grid,
    field: np.ndarray,
    *,
    limit: float | None = None,
    areas: list[str] | None = None,
) -> AreaValues:
    """:func:`area_statistics` as arrays (no frame): parameters and values the same."""
    values = _as_cell_values(grid, field)
    kinds = _kinds()
    names = grid.area_names() if areas is None else list(areas)
    all_valid = bool(np.isfinite(values).all())
    statistics = np.empty((len(names), 5))
    for row, name in zip(statistics, names, strict=True):
        cells = values[grid.area_cells(name)]
        if not all_valid:
            cells = cells[np.isfinite(cells)]
        row[:] = (cells.size * grid.cell_area_km2, *_cell_statistics(cells, limit))
    return AreaValues(names, [kinds[name] for name in names], *statistics.T)


def area_statistics(
    grid: Grid,
    field: np.ndarray,
    *,
    limit: float | None = None,
    areas: list[str] | None = None,
) -> pd.DataFrame:
    """Area-weighted mean, min, max and share above a limit per reporting area.

    Parameters
    ----------
    grid
        The grid of ``field``.
    field
        (ny, nx) array or (n_cells,) vector in :meth:`Grid.targets` order;
        units of the pollutant (µg/m³, CO mg/m³).  NaN cells are ignored.
    limit
        Concentration limit in the same units (e.g. 35 µg/m³ for the PM2.5
        annual Grade II limit, GB 3095-2012 Table 1); without it
        ``share_above_limit`` is NaN.
    areas
        Names to report (default: every name of :meth:`Grid.area_names`: 16
        districts, the development area, the groups and ``"city"``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`AREA_COLUMNS`: ``area``, ``kind`` (district,
        development_area, group, city), ``area_km2`` (cells with a value × cell
        area), ``mean``, ``min``, ``max``, ``share_above_limit`` (fraction 0-1
        of that area where the field exceeds ``limit``).  An area with no
        valid cell has NaN statistics.  :func:`area_values` gives the same
        values as arrays.
    """
    return area_values(grid, field, limit=limit, areas=areas).to_frame()


def _as_cell_values(grid: Grid, field: np.ndarray) -> np.ndarray:
    """``field`` as float64 values at :meth:`Grid.targets` (a (ny, nx) array's inside
    cells; every reporting area lies inside)."""
    arr = np.asarray(field, dtype=float)
    if arr.ndim == 1 and arr.shape[0] == grid.n_cells:
        return arr
    return grid.from_array(_as_grid_field(grid, arr))


def _cell_statistics(cells: np.ndarray, limit: float | None
                     ) -> tuple[float, float, float, float]:
    """Mean, min, max and share above ``limit`` of an area's valid cells (NaN if none):
    ``np.mean``'s values (a pairwise sum over the count), without its wrappers."""
    n = cells.size
    if not n:
        return np.nan, np.nan, np.nan, np.nan
    share = np.count_nonzero(cells > limit) / n if limit is not None else np.nan
    return float(np.add.reduce(cells)) / n, float(cells.min()), float(cells.max()), share


def territory_meeting(
    grid: Grid, field: np.ndarray, limit: float, *, decimals: int | None = None
) -> tuple[int, float]:
    """Number of districts whose mean meets ``limit`` and the share of territory they cover.

    The statement's form: "8 districts meet Grade II (PM2.5 ≤ 35 µg/m³),
    covering about 80 % of the city's territory" (Beijing 2020 statement,
    district annual means).  A district meets the limit when its area-weighted
    mean is ≤ ``limit``; the share is the summed area of those districts over
    the area of the municipality (cell counts, NaN cells excluded).

    Parameters
    ----------
    grid
        The grid of ``field``.
    field
        (ny, nx) array or (n_cells,) vector, pollutant units.
    limit
        Limit in the same units.
    decimals
        Round district means to this many decimals before comparing (as
        reported figures are; NumPy's round-half-to-even, the GB/T 8170
        "round half to even" rule); default: compare unrounded.

    Returns
    -------
    (n_districts_meeting, share_of_territory)
        An int in 0-16 and a fraction in [0, 1].
    """
    stats = area_statistics(grid, field, areas=list(geography.DISTRICTS.values()))
    means = stats["mean"].to_numpy()
    if decimals is not None:
        means = np.round(means, decimals)
    meets = np.isfinite(means) & (means <= limit)
    total = stats["area_km2"].sum()
    share = float(stats.loc[meets, "area_km2"].sum() / total) if total > 0 else float("nan")
    return int(meets.sum()), share


def _block_points(grid: Grid, name: str, max_points: int) -> np.ndarray:
    """Cell centres of area ``name`` (row-major), thinned to a regular sub-lattice if too many.

    The thinning keeps the cells whose (row, column) indices are both
    multiples of the smallest stride ``s`` that leaves at most ``max_points``
    cells, i.e. the area's cells on a regular ``s × resolution`` lattice.
    """
    rows, cols = np.nonzero(grid.area_mask(name))
    if rows.size > max_points:
        s = max(2, int(np.ceil(np.sqrt(rows.size / max_points))))
        while True:
            keep = (rows % s == 0) & (cols % s == 0)
            if np.count_nonzero(keep) <= max_points:
                break
            s += 1
        if keep.any():
            rows, cols = rows[keep], cols[keep]
        else:  # a long thin area missing the lattice: a regular stride along the cell list
            step = int(np.ceil(rows.size / max_points))
            rows, cols = rows[::step], cols[::step]
    return np.column_stack([grid.x_centres[cols], grid.y_centres[rows]])


def block_kriged_area_means(
    grid: Grid,
    xy: np.ndarray,
    values: np.ndarray,
    variogram: Variogram,
    *,
    areas: list[str] | None = None,
    max_points: int = MAX_BLOCK_POINTS,
    method: str = "ordinary",
    mean: float | None = None,
) -> pd.DataFrame:
    """Block-kriging estimate of each reporting area's mean with its standard error.

    Each area is a block discretised by the centres of its grid cells
    (:meth:`Grid.area_mask`); the block estimate is the kriged spatial mean
    over those points (equal to the average of the point kriging estimates,
    kriging being linear) and its variance is the block kriging variance
    (:func:`netsim.kriging.block_krige`, global neighbourhood).  The standard
    error is the square root of that variance: the uncertainty of the area
    mean itself, smaller than the average point kriging standard deviation
    because point errors partly cancel over the area.

    Parameters
    ----------
    grid
        Grid whose cell centres discretise the areas (e.g.
        ``Grid.for_beijing(1000)``).
    xy
        (n, 2) station coordinates, metres (EPSG:32650).
    values
        (n,) station values, pollutant units (µg/m³, CO mg/m³); NaN stations
        are left out (at least 3 must remain).
    variogram
        Point-support variogram of ``values``.
    areas
        Names to report (default: every name of :meth:`Grid.area_names`: 16
        districts, the development area, the groups and ``"city"``).
    max_points
        Cap on the discretisation points per area.  An area with more cells
        (the city has ~16,400 at 1 km, ~1.6 million at 100 m) is thinned to
        the cells on a regular sub-lattice: both row and column indices
        multiples of the smallest stride ``s`` leaving ≤ ``max_points`` cells
        (a regular ``s × resolution`` grid over the area).  The block-to-block
        average costs O(points²), hence the cap; at ≥ 2000 points the
        discretisation error of the block variance is negligible next to the
        variance itself.
    method, mean
        ``"ordinary"`` (default) or ``"simple"`` with the known ``mean``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BLOCK_COLUMNS`: ``area``, ``kind`` (district,
        development_area, group, city), ``block_mean`` (pollutant units),
        ``block_se`` (standard error, same units).  An area without any cell
        centre at this resolution (Dongcheng at 5 km) has NaN.

    Raises
    ------
    GeographyError
        Unknown area name.
    KrigingError
        As :func:`netsim.kriging.block_krige` (bad shapes, too few stations).

    References
    ----------
    Journel, A. G. & Huijbregts, C. J. (1978). Mining Geostatistics, §V.A.2.
    Isaaks, E. H. & Srivastava, R. M. (1989). Applied Geostatistics, ch. 13.
    """
    from netsim.kriging import block_krige

    if int(max_points) < 1:
        raise GeographyError(f"max_points={max_points!r}: expected a positive number of points")
    kinds = _kinds()
    names = grid.area_names() if areas is None else list(areas)
    blocks = [_block_points(grid, name, int(max_points)) for name in names]
    filled = [i for i, b in enumerate(blocks) if b.shape[0] > 0]
    block_mean = np.full(len(names), np.nan)
    block_se = np.full(len(names), np.nan)
    if filled:
        res = block_krige(
            xy, values, [blocks[i] for i in filled], variogram, method=method, mean=mean
        )
        block_mean[filled] = res.mean
        block_se[filled] = np.sqrt(res.variance)
    return pd.DataFrame(
        {
            "area": names,
            "kind": [kinds[n] for n in names],
            "block_mean": block_mean,
            "block_se": block_se,
        },
        columns=BLOCK_COLUMNS,
    )
