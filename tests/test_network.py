"""netsim.network: the Beijing 35-station file, validation messages, CRS handling, selection."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from netsim.crs import lonlat_to_xy
from netsim.errors import GeographyError, NetworkError
from netsim.network import ALIASES_COLUMN, COLUMNS, Network

ROOT = Path(__file__).resolve().parents[1]
BEIJING_35 = ROOT / "stations" / "beijing_35.csv"
BAD = Path(__file__).parent / "data" / "bad"
SMALL = Path(__file__).parent / "data" / "stations_small.csv"


@pytest.fixture(scope="module")
def beijing() -> Network:
    return Network.from_file(BEIJING_35)


def test_beijing_35_classes_and_counts(beijing):
    # standards.md §6.1: 23 urban + 1 clean-control + 5 traffic + 6 regional = 35
    assert len(beijing) == 35
    counts = beijing.stations["type"].value_counts().to_dict()
    assert counts == {"urban": 23, "border": 6, "traffic": 5, "background": 1}
    border = beijing.select(type="border")
    assert dict(zip(border.ids, border.stations["direction"], strict=True)) == {
        "badaling": "NW",
        "miyunshuiku": "NE",
        "donggaocun": "E",
        "yongledian": "SE",
        "yufa": "S",
        "liulihe": "SW",
    }
    assert set(beijing.select(type="traffic").ids) == {
        "qianmen",
        "yongdingmennei",
        "xizhimenbei",
        "nansanhuan",
        "dongsihuan",
    }
    assert beijing.select(type="background").ids.tolist() == ["dingling"]


def test_beijing_35_district_names_match_the_statement(beijing):
    from netsim.stats import DISTRICTS

    urban = beijing.select(type="urban")
    assert set(urban.stations["district"]) == set(DISTRICTS)  # every area has an urban station
    central = urban.select(district=list(DISTRICTS[:6]))
    assert len(central) == 12


def test_projection_to_utm50n(beijing):
    st = beijing.stations
    assert st.crs.to_epsg() == 32650
    assert list(st.columns) == [*COLUMNS, ALIASES_COLUMN, "geometry"]  # the file has aliases
    x, y = lonlat_to_xy(st["lon"], st["lat"])
    np.testing.assert_allclose(beijing.xy, np.c_[x, y])
    # Dongsi (116.417 E, 39.929 N) lies ~35 km east of the 117 E central meridian's
    # false easting offset: x < 500 km, northing ~4.42e6 m
    d = beijing.select(ids=["dongsi"]).xy[0]
    assert 440_000 < d[0] < 460_000 and 4_410_000 < d[1] < 4_430_000
    assert (st["instrument"] == "reference").all()
    assert isinstance(st.index, pd.RangeIndex)


def test_select_by_type_direction_district_and_ids(beijing):
    south = beijing.select(type="border", direction=["SW", "S", "SE"])
    assert south.ids.tolist() == ["yongledian", "yufa", "liulihe"]
    assert beijing.select(type="border", direction=["ne", "nw"]).ids.tolist() == [
        "badaling",
        "miyunshuiku",
    ]
    assert beijing.select(district="Haidian", type="urban").ids.tolist() == [
        "wanliu",
        "beibuxinqu",
        "zhiwuyuan",
    ]
    assert beijing.select(ids=["tiantan", "dongsi"]).ids.tolist() == ["dongsi", "tiantan"]
    with pytest.raises(NetworkError, match="unknown station id"):
        beijing.select(ids=["nowhere"])
    with pytest.raises(NetworkError, match="unknown station type"):
        beijing.select(type="roadside")


def test_roundtrip_csv_geojson_gpkg(beijing, tmp_path):
    for name in ("n.csv", "n.geojson", "n.gpkg"):
        path = beijing.to_file(tmp_path / name)
        back = Network.from_file(path)
        assert back.ids.tolist() == beijing.ids.tolist()
        np.testing.assert_allclose(back.xy, beijing.xy, atol=0.01)
        assert back.stations["district"].tolist() == beijing.stations["district"].tolist()


def test_other_crs_is_transformed(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"station_id": ["dongsi"], "type": ["urban"]},
        geometry=[Point(116.417, 39.929)],
        crs="EPSG:4326",
    ).to_crs("EPSG:3857")
    path = tmp_path / "web_mercator.gpkg"
    gdf.to_file(path, driver="GPKG")
    net = Network.from_file(path)
    assert net.stations["lon"].iloc[0] == pytest.approx(116.417)
    assert net.stations["lat"].iloc[0] == pytest.approx(39.929)


def test_missing_crs_is_a_geography_error(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"station_id": ["dongsi"], "type": ["urban"]}, geometry=[Point(116.417, 39.929)]
    )
    with pytest.raises(GeographyError, match="no CRS"):
        Network.from_frame(gdf, source="frame")
    path = tmp_path / "no_crs.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        gdf.to_file(path, driver="GPKG")
    with pytest.raises(GeographyError, match=r"no_crs\.gpkg: the layer has no CRS"):
        Network.from_file(path)


def test_minimal_columns_get_defaults():
    net = Network.from_frame(
        pd.DataFrame({"station_id": ["a"], "type": ["Sensor"], "lon": [116.4], "lat": [39.9]})
    )
    row = net.stations.iloc[0]
    assert (row["name"], row["type"], row["instrument"], row["direction"]) == (
        "a",
        "sensor",
        "reference",
        "",
    )


# ------------------------------------------------------------------ bad input files

BAD_CASES = [
    (
        "network_unknown_type.csv",
        "line 3 (data row 2), field 'type': unknown station type 'roadside'",
    ),
    ("network_duplicate_id.csv", "line 4 (data row 3), field 'station_id': duplicate id 'dongsi'"),
    ("network_duplicate_coordinates.csv", "line 3 (data row 2), fields 'lon','lat': same position"),
    ("network_missing_lon.csv", "line 3 (data row 2), field 'lon': missing"),
    ("network_lat_out_of_range.csv", "line 3 (data row 2), field 'lat': 116.407 is out of range"),
    ("network_outside_beijing.csv", "line 3 (data row 2), fields 'lon','lat': station 'tianjin'"),
    ("network_bad_direction.csv", "line 3 (data row 2), field 'direction': 'SSW'"),
    ("network_missing_column.csv", "missing column(s) lat"),
]


@pytest.mark.parametrize(("name", "expected"), BAD_CASES)
def test_bad_network_file_one_line_message(name, expected):
    with pytest.raises(NetworkError) as info:
        Network.from_file(BAD / name)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(BAD / name))
    assert expected in msg


def test_outside_beijing_accepted_without_boundary_check():
    net = Network.from_file(BAD / "network_outside_beijing.csv", check_boundary=False)
    assert net.ids.tolist() == ["dongsi", "tianjin"]


def test_unsupported_extension_and_missing_file(tmp_path):
    p = tmp_path / "stations.xlsx"
    p.write_text("x")
    with pytest.raises(NetworkError, match="unsupported network file type"):
        Network.from_file(p)
    with pytest.raises(FileNotFoundError):
        Network.from_file(tmp_path / "absent.csv")


def test_small_fixture_loads():
    net = Network.from_file(SMALL)
    assert len(net) == 7 and "Network(7 stations" in repr(net)


def test_optional_instrument_overrides_are_kept_and_written(tmp_path):
    from netsim.network import Network

    frame = pd.DataFrame({
        "station_id": ["a", "b"], "type": ["sensor", "urban"], "lon": [116.40, 116.30],
        "lat": [39.90, 39.95], "instrument": ["lowcost", ""], "noise_pct": [25.0, None],
        "bias_pct": ["10", ""],
    })
    net = Network.from_frame(frame)
    np.testing.assert_array_equal(net.stations["noise_pct"], [25.0, np.nan])
    np.testing.assert_array_equal(net.stations["bias_pct"], [10.0, np.nan])
    back = Network.from_file(net.to_file(tmp_path / "n.csv"))
    np.testing.assert_array_equal(back.stations["noise_pct"], [25.0, np.nan])


def test_optional_override_must_be_numeric():
    from netsim.network import Network

    frame = pd.DataFrame({"station_id": ["a"], "type": ["sensor"], "lon": [116.4],
                          "lat": [39.9], "noise_pct": ["lots"]})
    with pytest.raises(NetworkError, match="noise_pct"):
        Network.from_frame(frame)
