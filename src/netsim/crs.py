"""Coordinate reference systems used by netsim.

All computation happens in UTM zone 50N (EPSG:32650), in metres; station
files are in WGS84 longitude/latitude (EPSG:4326).  Projection happens once,
at the edge, through pyproj.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import Transformer

PROJECTED_CRS = "EPSG:32650"
"""UTM zone 50N (WGS84), metres: the CRS of every netsim computation."""

GEOGRAPHIC_CRS = "EPSG:4326"
"""WGS84 longitude/latitude in degrees: the CRS of station files."""


@lru_cache(maxsize=4)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def lonlat_to_xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 longitude/latitude (degrees) to EPSG:32650 easting/northing (metres)."""
    x, y = _transformer(GEOGRAPHIC_CRS, PROJECTED_CRS).transform(
        np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    )
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def xy_to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert EPSG:32650 easting/northing (metres) to WGS84 longitude/latitude (degrees)."""
    lon, lat = _transformer(PROJECTED_CRS, GEOGRAPHIC_CRS).transform(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    )
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
