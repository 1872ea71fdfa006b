"""Beijing's major roads (approximate) and the roadside increment of the truth world.

The ring roads (2nd–6th) and a few radial expressways are written here as
polylines in WGS84 longitude/latitude with about 0.005° (≈ 500 m) accuracy.
They are **approximate**: hand-placed from the well-known geometry of Beijing's
road network (the 2nd Ring follows the old city wall, the South 3rd Ring West
Road and East 4th Ring North Road traffic stations lie on their rings), not
traced from a survey.  They exist so that the synthetic truth has realistic
roadside gradients (strong for NO2, weak for PM2.5); at the 1 km grid scale a
few hundred metres of offset does not matter.

The increment at distance ``d`` (metres) from the nearest road is
``amplitude × exp(-d / decay_m)``: roadside NO2 typically falls to the urban
background within 100–500 m of a major road (e.g. Karner, Eisinger & Niemeier
2010, *Environ. Sci. Technol.* 44, 5334, a synthesis of near-road gradient
studies), particles much less steeply above background.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString

from netsim.crs import lonlat_to_xy

# (name, kind, [(lon, lat), ...]) — closed rings repeat their first point.
ROADS: tuple[tuple[str, str, tuple[tuple[float, float], ...]], ...] = (
    (
        "2nd Ring Road",
        "ring",
        (
            (116.357, 39.947),
            (116.434, 39.948),
            (116.436, 39.868),
            (116.357, 39.866),
            (116.357, 39.947),
        ),
    ),
    (
        "3rd Ring Road",
        "ring",
        (
            (116.310, 39.945),
            (116.320, 39.966),
            (116.456, 39.962),
            (116.461, 39.909),
            (116.455, 39.858),
            (116.368, 39.856),
            (116.313, 39.865),
            (116.310, 39.887),
            (116.310, 39.945),
        ),
    ),
    (
        "4th Ring Road",
        "ring",
        (
            (116.276, 39.960),
            (116.295, 39.984),
            (116.480, 39.986),
            (116.484, 39.939),
            (116.485, 39.860),
            (116.470, 39.837),
            (116.300, 39.835),
            (116.277, 39.850),
            (116.276, 39.960),
        ),
    ),
    (
        "5th Ring Road",
        "ring",
        (
            (116.213, 39.960),
            (116.250, 40.020),
            (116.450, 40.025),
            (116.520, 40.005),
            (116.545, 39.930),
            (116.530, 39.820),
            (116.450, 39.790),
            (116.300, 39.790),
            (116.220, 39.840),
            (116.213, 39.960),
        ),
    ),
    (
        "6th Ring Road",
        "ring",
        (
            (116.100, 39.930),
            (116.130, 40.070),
            (116.250, 40.170),
            (116.450, 40.180),
            (116.600, 40.120),
            (116.720, 39.980),
            (116.710, 39.800),
            (116.600, 39.710),
            (116.400, 39.690),
            (116.220, 39.720),
            (116.120, 39.800),
            (116.100, 39.930),
        ),
    ),
    (
        "G6 Badaling Expressway",
        "radial",
        (
            (116.370, 39.967),
            (116.330, 40.050),
            (116.300, 40.100),
            (116.220, 40.200),
            (116.100, 40.300),
            (115.990, 40.360),
        ),
    ),
    (
        "G45 Jingcheng Expressway",
        "radial",
        (
            (116.460, 39.970),
            (116.520, 40.060),
            (116.630, 40.200),
            (116.750, 40.330),
            (116.850, 40.400),
        ),
    ),
    ("Airport Expressway", "radial", ((116.440, 39.960), (116.550, 40.030), (116.590, 40.070))),
    (
        "Jingtong Expressway",
        "radial",
        ((116.461, 39.910), (116.570, 39.910), (116.660, 39.900), (116.750, 39.880)),
    ),
    (
        "G2 Jinghu Expressway",
        "radial",
        ((116.450, 39.870), (116.550, 39.820), (116.700, 39.750), (116.850, 39.660)),
    ),
    (
        "G45 Jingkai Expressway",
        "radial",
        (
            (116.380, 39.856),
            (116.370, 39.780),
            (116.350, 39.700),
            (116.310, 39.580),
            (116.300, 39.480),
        ),
    ),
    (
        "G4 Jinggangao Expressway",
        "radial",
        (
            (116.310, 39.860),
            (116.250, 39.800),
            (116.150, 39.740),
            (116.050, 39.620),
            (115.980, 39.550),
        ),
    ),
    (
        "G5 Jingshi / Fushi Road",
        "radial",
        ((116.310, 39.900), (116.220, 39.905), (116.100, 39.930)),
    ),
    ("Chang'an Avenue", "arterial", ((116.200, 39.907), (116.600, 39.906))),
)
"""Approximate major roads of Beijing: (name, kind, WGS84 lon/lat vertices)."""


@lru_cache(maxsize=1)
def road_geometry() -> MultiLineString:
    """All roads of :data:`ROADS` as one MultiLineString in EPSG:32650 (metres)."""
    lines = []
    for _name, _kind, coords in ROADS:
        lon, lat = np.asarray(coords, dtype=float).T
        x, y = lonlat_to_xy(lon, lat)
        lines.append(LineString(np.column_stack([x, y])))
    return MultiLineString(lines)


def road_distance_m(xy: np.ndarray) -> np.ndarray:
    """Distance (metres) from each point to the nearest road of :data:`ROADS`.

    Parameters
    ----------
    xy
        (n, 2) easting/northing in EPSG:32650 metres.

    Returns
    -------
    ndarray
        (n,) float64 distances in metres.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return np.zeros(0)
    points = shapely.points(xy)
    return np.asarray(shapely.distance(points, road_geometry()), dtype=float)


def road_weight(xy: np.ndarray, decay_m: float) -> np.ndarray:
    """Dimensionless roadside weight ``exp(-d / decay_m)`` in [0, 1] at each point.

    Parameters
    ----------
    xy
        (n, 2) EPSG:32650 metres.
    decay_m
        e-folding distance of the roadside increment, metres.
    """
    if decay_m <= 0:
        raise ValueError(f"road decay_m must be positive, got {decay_m}")
    return np.exp(-road_distance_m(xy) / float(decay_m))
