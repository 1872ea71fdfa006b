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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from netsim import geography
from netsim.errors import GeographyError
from netsim.grid import Grid

__all__ = ["AREA_COLUMNS", "area_statistics", "territory_meeting"]

AREA_COLUMNS = ["area", "kind", "area_km2", "mean", "min", "max", "share_above_limit"]
"""Columns of :func:`area_statistics`."""


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
        valid cell has NaN statistics.
    """
    arr = _as_grid_field(grid, field)
    kinds = _kinds()
    names = grid.area_names() if areas is None else list(areas)
    valid = np.isfinite(arr)
    rows = []
    for name in names:
        cells = arr[grid.area_mask(name) & valid]
        n = cells.size
        if n:
            mean, lo, hi = float(cells.mean()), float(cells.min()), float(cells.max())
            share = float(np.mean(cells > limit)) if limit is not None else np.nan
        else:
            mean = lo = hi = share = np.nan
        rows.append((name, kinds[name], n * grid.cell_area_km2, mean, lo, hi, share))
    return pd.DataFrame(rows, columns=AREA_COLUMNS)


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
