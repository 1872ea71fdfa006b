"""Network-assessment metrics: area served, removal bias, HJ 664 representativeness.

Site-level redundancy metrics follow EPA's NetAssess tools for the 5-year
network assessment (40 CFR 58.10(d); ``standards.md`` §5.2): *area served*
(Voronoi/Thiessen polygons clipped to the area of interest), *removal bias*
(inverse-distance-squared estimate from the Delaunay neighbours minus the
measured value) and the *correlation matrix*.  The network-level test is
HJ 664-2013 §5.1 (``standards.md`` §4.3): the network mean within 10 % of the
field mean and its 30th/50th/80th/90th percentiles each within 15 %.

All functions are pure: coordinates in EPSG:32650 metres, values in the
pollutant's unit (µg/m³; CO mg/m³).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import Delaunay, QhullError

from netsim.assessment_kernels import REMOVAL_BIAS_COLUMNS
from netsim.assessment_kernels import removal_bias as kernel_removal_bias
from netsim.errors import NetsimError

if TYPE_CHECKING:  # pragma: no cover
    from shapely.geometry.base import BaseGeometry

    from netsim.network import Network

__all__ = [
    "HJ664_PERCENTILES",
    "Representativeness",
    "area_served",
    "correlation_matrix",
    "delaunay_neighbours",
    "hj664_representativeness",
    "removal_bias",
    "station_metrics",
    "thiessen_polygons",
    "weighted_percentile",
]

HJ664_PERCENTILES: tuple[int, ...] = (30, 50, 80, 90)
"""Percentiles of the HJ 664 §5.1 distribution criterion (``standards.md`` §4.3 item 6)."""


def _coords_ids(stations: Network | np.ndarray, ids: Any = None) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(stations, "xy") and hasattr(stations, "ids"):
        xy, labels = np.asarray(stations.xy, float), np.asarray(stations.ids, dtype=object)
    else:
        xy = np.asarray(stations, dtype=float)
        labels = np.arange(len(xy)) if ids is None else np.asarray(ids, dtype=object)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise NetsimError(f"station coordinates have shape {xy.shape}; expected (n, 2) "
                          "easting/northing in metres")
    if not np.isfinite(xy).all():
        raise NetsimError("station coordinates contain NaN or infinity; drop those stations")
    if len(labels) != len(xy):
        raise NetsimError(f"{len(labels)} ids for {len(xy)} stations; pass one id per station")
    return xy, labels


# ----------------------------------------------------------------------------
# Area served (Voronoi / Thiessen)
# ----------------------------------------------------------------------------


def thiessen_polygons(xy: np.ndarray, boundary: BaseGeometry) -> list[BaseGeometry]:
    """Voronoi (Thiessen) polygons of stations clipped to ``boundary``, in station order.

    Parameters
    ----------
    xy
        (n, 2) station coordinates, EPSG:32650 metres; no two equal.
    boundary
        Area of interest (shapely (Multi)Polygon) in the same CRS.

    Returns
    -------
    list of shapely geometries
        Polygon ``i`` holds the part of ``boundary`` closer to station ``i`` than
        to any other station (possibly empty for a station outside it).

    Notes
    -----
    Computed with :func:`shapely.voronoi_polygons` (GEOS), ``ordered=True``; only the
    cells not wholly inside ``boundary`` are clipped (a cell inside is its own clip).

    References
    ----------
    NetAssess "area served" (``standards.md`` §5.2).
    """
    xy = np.asarray(xy, dtype=float)
    n = len(xy)
    if n == 0:
        raise NetsimError("no stations: area served needs at least one station")
    if len(np.unique(xy, axis=0)) != n:
        raise NetsimError("two stations share coordinates; Voronoi cells need distinct points")
    if n == 1:
        return [boundary]
    # Extend the diagram well beyond both the boundary and the stations.
    xmin, ymin, xmax, ymax = boundary.bounds
    xmin, ymin = min(xmin, xy[:, 0].min()), min(ymin, xy[:, 1].min())
    xmax, ymax = max(xmax, xy[:, 0].max()), max(ymax, xy[:, 1].max())
    pad = max(xmax - xmin, ymax - ymin)
    frame = shapely.box(xmin - pad, ymin - pad, xmax + pad, ymax + pad)
    cells = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=frame, ordered=True)
    parts = shapely.get_parts(cells)
    if len(parts) != n:  # pragma: no cover - GEOS guarantees one cell per input point
        raise NetsimError(f"Voronoi diagram has {len(parts)} cells for {n} stations")
    # Only the cells crossing the boundary need the (slow) overlay: the others are inside.
    crossing = ~shapely.contains_properly(boundary, parts)
    parts[crossing] = shapely.intersection(parts[crossing], boundary)
    return list(parts)


def area_served(
    stations: Network | np.ndarray, boundary: BaseGeometry | None = None, *, ids: Any = None
) -> pd.Series:
    """Area served by each station: its Thiessen polygon within the boundary, km².

    Parameters
    ----------
    stations
        A :class:`netsim.network.Network`, or (n, 2) coordinates in EPSG:32650 metres.
    boundary
        Area of interest; default :func:`netsim.geography.beijing_boundary`.
    ids
        Labels when ``stations`` is an array (default 0..n-1).

    Returns
    -------
    pandas.Series
        ``area_served_km2`` indexed by station id; sums to the boundary's area
        when every station lies inside it.

    References
    ----------
    NetAssess "area served" tool (Voronoi polygons clipped to the area of
    interest), ``standards.md`` §5.2.
    """
    xy, labels = _coords_ids(stations, ids)
    if boundary is None:
        from netsim.geography import beijing_boundary

        boundary = beijing_boundary()
    polys = thiessen_polygons(xy, boundary)
    areas = shapely.area(np.array(polys, dtype=object)) / 1e6
    return pd.Series(np.asarray(areas, float), index=pd.Index(labels, name="station_id"),
                     name="area_served_km2")


# ----------------------------------------------------------------------------
# Removal bias (Delaunay neighbours, inverse distance squared)
# ----------------------------------------------------------------------------


def delaunay_neighbours(xy: np.ndarray) -> list[np.ndarray]:
    """Delaunay (Voronoi-adjacent) neighbours of each station.

    Uses :class:`scipy.spatial.Delaunay`; for two stations each is the other's
    neighbour, and for collinear stations the neighbours are the adjacent
    stations along the line (the 1-D Delaunay graph).

    Returns
    -------
    list of int arrays
        ``out[i]``: indices of the neighbours of station ``i``, ascending.
    """
    xy = np.asarray(xy, dtype=float)
    n = len(xy)
    if n < 2:
        raise NetsimError("removal bias needs at least two stations")
    if n >= 3:
        try:
            indptr, indices = Delaunay(xy).vertex_neighbor_vertices
            return [np.sort(indices[indptr[i]:indptr[i + 1]]) for i in range(n)]
        except QhullError:
            pass  # collinear: fall through to the 1-D graph
    centred = xy - xy.mean(axis=0)
    direction = np.linalg.svd(centred, full_matrices=False)[2][0]
    order = np.argsort(centred @ direction, kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    return [np.sort(order[[r for r in (rank[i] - 1, rank[i] + 1) if 0 <= r < n]])
            for i in range(n)]


def removal_bias(
    xy: np.ndarray | Network, daily_values: np.ndarray, *, ids: Any = None
) -> pd.DataFrame:
    """NetAssess removal bias of each station.

    For each station and day, the value is estimated from the station's
    Delaunay neighbours with valid data that day by the inverse-distance-squared
    weighted mean (weights 1/d²); daily bias = estimate − measured, relative bias
    = 100 × (estimate − measured) / measured.  Days where the station's value is
    missing or no neighbour has data are skipped; relative bias skips days with
    a measured value of 0.

    Parameters
    ----------
    xy
        (n, 2) station coordinates in EPSG:32650 metres, or a Network.
    daily_values
        (n_days, n) daily values (NaN = missing), e.g. daily means in µg/m³.
    ids
        Station labels for an array ``xy`` (default 0..n-1).

    Returns
    -------
    pandas.DataFrame
        Index ``station_id``; columns ``n_neighbours``, ``n_days``, ``mean_bias``,
        ``min_bias``, ``max_bias``, ``sd_bias`` (sample SD, ddof = 1, as R's
        ``sd``), ``mean_relative_bias_pct``, ``min_relative_bias_pct``,
        ``max_relative_bias_pct`` (value units; NaN when no day qualifies).

    Notes
    -----
    A numba kernel (:mod:`netsim.assessment_kernels`), one station per thread, sums
    in day and neighbour order.

    References
    ----------
    NetAssess "removal bias" tool, ``standards.md`` §5.2.
    """
    coords, labels = _coords_ids(xy, ids)
    values = np.asarray(daily_values, dtype=float)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != len(coords):
        raise NetsimError(f"daily values have shape {values.shape}; expected (n_days, "
                          f"{len(coords)}) for {len(coords)} stations")
    graph = _neighbour_graph(coords)
    table = _removal_bias_table(graph, values)
    table.insert(0, "n_neighbours", np.diff(graph.indptr))
    table.index = pd.Index(labels, name="station_id")
    return table


@dataclass(frozen=True)
class _NeighbourGraph:
    """Delaunay neighbours in CSR form with their inverse-squared-distance weights."""

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray


_GRAPHS: dict[bytes, _NeighbourGraph] = {}
"""Neighbour graphs by station coordinates (a network's graph does not change between
realisations); a few networks per process."""


def _neighbour_graph(coords: np.ndarray) -> _NeighbourGraph:
    """The (cached) Delaunay neighbour graph of ``coords`` with weights 1/d²."""
    key = np.ascontiguousarray(coords, dtype=float).tobytes()
    if key not in _GRAPHS:
        neigh = delaunay_neighbours(coords)
        weights = [1.0 / ((coords[nb] - coords[i]) ** 2).sum(axis=1)
                   for i, nb in enumerate(neigh)]
        if len(_GRAPHS) >= _MAX_CACHED:
            _GRAPHS.pop(next(iter(_GRAPHS)))
        _GRAPHS[key] = _NeighbourGraph(
            indptr=np.concatenate([[0], np.cumsum([len(nb) for nb in neigh])]).astype(np.int64),
            indices=np.concatenate(neigh).astype(np.int64),
            weights=np.concatenate(weights).astype(float))
    return _GRAPHS[key]


_MAX_CACHED = 8
"""Networks whose neighbour graph and area served are kept per process."""


def _removal_bias_figures(graph: _NeighbourGraph, values: np.ndarray) -> np.ndarray:
    """The kernel's per-station figures, (n_stations, :data:`REMOVAL_BIAS_COLUMNS`)."""
    out = np.empty((values.shape[1], len(REMOVAL_BIAS_COLUMNS)))
    kernel_removal_bias(np.ascontiguousarray(values.T), graph.indptr, graph.indices,
                        graph.weights, out)
    return out


def _removal_bias_table(graph: _NeighbourGraph, values: np.ndarray) -> pd.DataFrame:
    """The kernel's per-station figures as a DataFrame (``n_days`` as int)."""
    table = pd.DataFrame(_removal_bias_figures(graph, values), columns=list(REMOVAL_BIAS_COLUMNS))
    table["n_days"] = table["n_days"].astype(int)
    return table


def correlation_matrix(
    xy: np.ndarray | Network, daily_values: np.ndarray, *, ids: Any = None
) -> pd.DataFrame:
    """NetAssess correlation matrix: every station pair's r, n, relative difference, distance.

    Returns
    -------
    pandas.DataFrame
        One row per pair (``station_a``, ``station_b``) with ``r`` (Pearson, over
        days where both have data), ``n`` (such days), ``mean_relative_difference``
        (mean of \\|a − b\\| / ((a + b)/2)) and ``distance_km``.

    References
    ----------
    NetAssess "correlation matrix" tool, ``standards.md`` §5.2.
    """
    coords, labels = _coords_ids(xy, ids)
    values = np.asarray(daily_values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(coords):
        raise NetsimError(f"daily values have shape {values.shape}; expected (n_days, "
                          f"{len(coords)})")
    rows = []
    n = len(coords)
    for a in range(n):
        for b in range(a + 1, n):
            ok = np.isfinite(values[:, a]) & np.isfinite(values[:, b])
            va, vb = values[ok, a], values[ok, b]
            r = np.corrcoef(va, vb)[0, 1] if ok.sum() > 1 and va.std() > 0 and vb.std() > 0 \
                else np.nan
            mean_ab = (va + vb) / 2.0
            nz = mean_ab != 0
            rel = np.abs(va - vb)[nz] / mean_ab[nz]
            rows.append({
                "station_a": labels[a], "station_b": labels[b], "r": r, "n": int(ok.sum()),
                "mean_relative_difference": rel.mean() if rel.size else np.nan,
                "distance_km": float(np.hypot(*(coords[a] - coords[b]))) / 1000.0,
            })
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------
# HJ 664 §5.1 representativeness
# ----------------------------------------------------------------------------


def weighted_percentile(values: np.ndarray, q: float, weights: np.ndarray | None = None) -> float:
    """Percentile ``q`` (0–100) with optional non-negative weights.

    Unweighted: HJ 663 Annex A / NumPy "linear" (Hyndman–Fan type 7,
    ``standards.md`` §2.3).  Weighted: the same interpolation on the positions
    p_i = (S_i − w_i) / (S_n − w_n), S_i the cumulative weight of the sorted
    values, which reduces to type 7 for equal weights.  NaN values are ignored.
    """
    if weights is None:
        return float(_finite_percentiles(values, (q,))[0])
    v = np.asarray(values, dtype=float).ravel()
    w = np.broadcast_to(np.asarray(weights, dtype=float), np.shape(values)).ravel()
    ok = np.isfinite(v) & np.isfinite(w)
    v, w = v[ok], w[ok]
    if (w < 0).any():
        raise NetsimError("weights must be non-negative")
    keep = w > 0
    v, w = v[keep], w[keep]
    if v.size == 0:
        return float("nan")
    if v.size == 1:
        return float(v[0])
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    s = np.cumsum(w)
    denom = s[-1] - w[-1]
    if denom <= 0:
        return float(v[-1])
    p = (s - w) / denom
    return float(np.interp(q / 100.0, p, v))


def _finite_percentiles(values: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """The unweighted :func:`weighted_percentile` of ``values`` at each of ``qs``, by one
    ``np.percentile`` call (the same values as one call per q); NaN without a finite value."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.full(len(qs), np.nan)
    return np.percentile(v, list(qs))


@dataclass(frozen=True)
class Representativeness:
    """Result of the HJ 664 §5.1 representativeness test for one pollutant.

    Attributes
    ----------
    network_mean, field_mean
        Mean of the station values and (weighted) mean of the field.
    mean_relative_error
        \\|network_mean − field_mean\\| / field_mean.
    mean_passed
        ``mean_relative_error ≤ mean_tolerance``.
    percentiles
        DataFrame indexed by percentile (30, 50, 80, 90) with ``network``,
        ``field``, ``relative_error``, ``passed``.
    passed
        Mean and every percentile within tolerance.
    """

    network_mean: float
    field_mean: float
    mean_relative_error: float
    mean_passed: bool
    percentiles: pd.DataFrame
    passed: bool
    mean_tolerance: float = 0.10
    percentile_tolerance: float = 0.15
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-number form for ``summary.json``."""
        return {
            "network_mean": self.network_mean,
            "field_mean": self.field_mean,
            "mean_relative_error": self.mean_relative_error,
            "mean_passed": self.mean_passed,
            "percentiles": {
                f"p{int(q)}": {k: (bool(v) if k == "passed" else float(v))
                               for k, v in row.items()}
                for q, row in self.percentiles.iterrows()
            },
            "passed": self.passed,
            "mean_tolerance": self.mean_tolerance,
            "percentile_tolerance": self.percentile_tolerance,
        }


_EPS = 1e-9
"""Relative slack so that a relative error of exactly 10 % / 15 % passes despite rounding."""


def _relative_error(a: float, b: float) -> float:
    if b == 0:
        return 0.0 if a == 0 else float("inf")
    return abs(a - b) / abs(b)


def hj664_representativeness(
    station_values: np.ndarray,
    field_values: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    mean_tolerance: float = 0.10,
    percentile_tolerance: float = 0.15,
    percentiles: tuple[float, ...] = HJ664_PERCENTILES,
) -> Representativeness:
    """HJ 664-2013 §5.1 test: does the network represent the field?

    Parameters
    ----------
    station_values
        Values at the stations, any shape (e.g. (n_days, n_stations) daily
        means, or (n_stations,) annual means); pooled, NaN ignored.
    field_values
        The field over the built-up area / city from a dense grid or a model
        (e.g. (n_days, n_cells) or (n_cells,)); pooled, NaN ignored.
    weights
        Optional weights of the field values (e.g. cell areas), broadcastable
        to ``field_values``.
    mean_tolerance, percentile_tolerance
        Relative tolerances, default 10 % and 15 % (configurable because how
        the standard applies them to a whole network is unverified).
    percentiles
        Percentiles compared, default 30, 50, 80, 90.

    Returns
    -------
    Representativeness
        A relative error exactly equal to a tolerance passes (≤).

    Notes
    -----
    Simulator reading (``standards.md`` §4.3): relative error =
    \\|mean_stations − mean_field\\| / mean_field ≤ 0.10, percentiles likewise with
    0.15, percentiles by the HJ 663 Annex A formula (type 7).

    References
    ----------
    HJ 664-2013 §5.1 items 5–6, ``standards.md`` §4.3 and §7 item 7.
    """
    s = np.asarray(station_values, dtype=float).ravel()
    f = np.asarray(field_values, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise NetsimError("HJ 664 test: no valid station values")
    if weights is None:
        fv = f.ravel()[np.isfinite(f.ravel())]
        if fv.size == 0:
            raise NetsimError("HJ 664 test: no valid field values")
        field_mean = float(fv.mean())
    else:
        w = np.broadcast_to(np.asarray(weights, dtype=float), f.shape).ravel()
        ok = np.isfinite(f.ravel()) & np.isfinite(w)
        if not ok.any() or w[ok].sum() <= 0:
            raise NetsimError("HJ 664 test: no valid field values with positive weight")
        field_mean = float(np.average(f.ravel()[ok], weights=w[ok]))
    network_mean = float(s.mean())
    mean_err = _relative_error(network_mean, field_mean)
    mean_ok = mean_err <= mean_tolerance + _EPS
    network = _finite_percentiles(s, percentiles)
    field_percentiles = (_finite_percentiles(f, percentiles) if weights is None else
                         np.array([weighted_percentile(f, q, weights) for q in percentiles]))
    errors = np.array([_relative_error(a, b) for a, b in zip(network, field_percentiles,
                                                               strict=True)])
    passed = errors <= percentile_tolerance + _EPS
    table = pd.DataFrame({"network": network, "field": field_percentiles,
                          "relative_error": errors, "passed": passed},
                         index=pd.Index(list(percentiles), name="percentile"))
    return Representativeness(
        network_mean=network_mean, field_mean=field_mean, mean_relative_error=mean_err,
        mean_passed=bool(mean_ok), percentiles=table,
        passed=bool(mean_ok and passed.all()),
        mean_tolerance=mean_tolerance, percentile_tolerance=percentile_tolerance,
    )


# ----------------------------------------------------------------------------
# The run's station_metrics.csv
# ----------------------------------------------------------------------------


def station_metrics(
    network: Network, daily: dict[str, np.ndarray], boundary: BaseGeometry | None = None
) -> pd.DataFrame:
    """Per-station NetAssess metrics in the layout of ``DIR/<net>/station_metrics.csv``.

    Parameters
    ----------
    network
        The network.
    daily
        Pollutant name → (n_days, n_stations) daily values in network order.
    boundary
        Area of interest for area served (default Beijing).

    Returns
    -------
    pandas.DataFrame
        Columns ``station_id, pollutant, removal_bias, relative_removal_bias_pct,
        area_served_km2`` (mean bias and mean relative bias; area does not depend
        on the pollutant).

    Notes
    -----
    The areas served and the Delaunay graph depend only on the stations, so they are
    computed once per network and process and reused for every realisation.
    """
    xy, ids = np.asarray(network.xy, dtype=float), network.ids
    area = _cached_area_served(xy, ids, boundary)
    graph = _neighbour_graph(xy)
    names = list(daily)
    if not names:
        return pd.DataFrame(columns=["station_id", "pollutant", "removal_bias",
                                     "relative_removal_bias_pct", "area_served_km2"])
    figures = np.concatenate([_removal_bias_figures(graph, np.asarray(daily[name], dtype=float))
                              for name in names])
    return pd.DataFrame({
        "station_id": np.tile(ids, len(names)),
        "pollutant": np.repeat(names, len(ids)),
        "removal_bias": figures[:, REMOVAL_BIAS_COLUMNS.index("mean_bias")],
        "relative_removal_bias_pct": figures[:, REMOVAL_BIAS_COLUMNS.index(
            "mean_relative_bias_pct")],
        "area_served_km2": np.tile(area, len(names)),
    })


_AREAS: dict[bytes, tuple[Any, np.ndarray]] = {}
"""Areas served by station coordinates, with the boundary they were clipped to: the
Voronoi clipping is the slow part of :func:`station_metrics` and depends only on the
network, not on the realisation."""


def _cached_area_served(xy: np.ndarray, ids: np.ndarray, boundary: BaseGeometry | None
                        ) -> np.ndarray:
    """:func:`area_served` (km², station order) of ``xy``, computed once per boundary."""
    if boundary is None:
        from netsim.geography import beijing_boundary

        boundary = beijing_boundary()
    key = np.ascontiguousarray(xy).tobytes()
    cached = _AREAS.get(key)
    if cached is None or cached[0] is not boundary:
        if len(_AREAS) >= _MAX_CACHED:
            _AREAS.pop(next(iter(_AREAS)))
        cached = (boundary, area_served(xy, boundary, ids=ids).to_numpy())
        _AREAS[key] = cached
    return cached[1]
