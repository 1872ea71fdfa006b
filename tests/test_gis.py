"""GIS exports of a run directory (netsim.gis): read back with geopandas."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from netsim.geography import DEVELOPMENT_AREA, districts
from netsim.run import run_scenario
from netsim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ROOT / "stations" / "beijing_35.csv"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    scenario = Scenario.from_dict({
        "name": "gis", "base_network": str(STATIONS), "realisations": 2,
        "pollutants": ["PM2.5", "NO2"], "grid": {"resolution_m": 5000},
        "changes": [{"kind": "remove", "type": "traffic"}],
        "outputs": {"maps": False, "web_map": False},
    })
    out = tmp_path_factory.mktemp("gis") / "run"
    run_scenario(scenario, out)
    return out


@pytest.mark.parametrize("net", ["baseline", "scenario"])
def test_stations_read_back_with_their_figures(run_dir, net):
    folder = run_dir / net
    gpkg = gpd.read_file(folder / "stations.gpkg")
    geojson = gpd.read_file(folder / "stations.geojson")
    assert gpkg.crs.to_epsg() == 32650
    assert geojson.crs.to_epsg() == 4326
    network = pd.read_csv(folder / "network.csv")
    assert len(gpkg) == len(geojson) == len(network) == 35  # scenario: 30 + 5 removed
    # the points are the stations' longitude/latitude of network.csv
    np.testing.assert_allclose(geojson.geometry.x, network["lon"], atol=1e-9)
    np.testing.assert_allclose(geojson.geometry.y, network["lat"], atol=1e-9)
    by_station = pd.read_csv(folder / "annual_by_station.csv")
    annual = by_station[by_station["statistic"] == "annual_mean"].set_index(
        ["station_id", "pollutant"])
    for p, slug in (("PM2.5", "pm25"), ("NO2", "no2")):
        for sid, value in zip(gpkg["id"], gpkg[f"{slug}_annual_mean"], strict=True):
            if (sid, p) in annual.index:
                expected = annual.loc[(sid, p), "value"]
                assert value == pytest.approx(expected) or (np.isnan(value)
                                                             and np.isnan(expected))
            else:
                assert np.isnan(value)
    assert list(gpkg["type"]) == list(network["type"])
    if net == "scenario":
        removed = gpkg[gpkg["change"] == "removed"]
        assert len(removed) == 5 and removed["pm25_annual_mean"].isna().all()


def test_districts_read_back_with_their_figures(run_dir):
    folder = run_dir / "baseline"
    gpkg = gpd.read_file(folder / "districts.gpkg")
    geojson = gpd.read_file(folder / "districts.geojson")
    assert gpkg.crs.to_epsg() == 32650
    assert geojson.crs.to_epsg() == 4326
    expected_areas = [*districts()["district"], DEVELOPMENT_AREA]
    assert list(gpkg["area"]) == expected_areas  # 16 districts + the Development Area
    assert len(geojson) == 17
    assert gpkg.geometry.is_valid.all()
    # the polygons are netsim.geography's: the districts tile the city, the
    # Development Area is the documented 10 km x 6 km rectangle
    np.testing.assert_allclose(gpkg.geometry.area[:16], districts().geometry.area, rtol=1e-9)
    assert gpkg.geometry.area.iloc[16] == pytest.approx(60e6, rel=1e-6)
    by_area = pd.read_csv(folder / "annual_by_area.csv").set_index(
        ["area", "pollutant", "statistic"])
    truth = pd.read_csv(folder / "map_and_truth.csv")
    mapped = truth[(truth["source"] == "map") & (truth["statistic"] == "annual_mean")].set_index(
        ["area", "pollutant"])
    summary = json.loads((run_dir / "summary.json").read_text())
    flags = {(e["area"], e["pollutant"]): e["flag"] for e in summary["published"]
             if e["statistic"] == "annual_mean"}
    for area, row in gpkg.set_index("area").iterrows():
        for p, slug in (("PM2.5", "pm25"), ("NO2", "no2")):
            assert row[f"{slug}_annual_mean"] == pytest.approx(
                by_area.loc[(area, p, "annual_mean"), "value"], nan_ok=True)
            assert row[f"{slug}_map_mean"] == pytest.approx(
                mapped.loc[(area, p), "mean"], nan_ok=True)
            assert (row[f"{slug}_flag"] or "") == (flags[(area, p)] or "")


def test_same_inputs_same_bytes(run_dir, tmp_path):
    """GeoPackages carry a timestamp: netsim fixes it so a rerun gives the same bytes."""
    import shutil
    import time

    from netsim.gis import write_gis

    summary = json.loads((run_dir / "summary.json").read_text())
    copies = []
    for i in range(2):
        folder = tmp_path / str(i)
        folder.mkdir()
        for name in ("network.csv", "annual_by_station.csv", "annual_by_area.csv",
                     "map_and_truth.csv"):
            shutil.copy(run_dir / "baseline" / name, folder / name)
        write_gis(folder, "baseline", summary)
        copies.append(folder)
        time.sleep(1.1)  # a different second: the GeoPackage timestamps would differ
    for name in ("stations.gpkg", "stations.geojson", "districts.gpkg", "districts.geojson"):
        assert (copies[0] / name).read_bytes() == (copies[1] / name).read_bytes(), name
        assert (copies[0] / name).read_bytes() == (run_dir / "baseline" / name).read_bytes()


@pytest.mark.parametrize("name", ["stations", "districts"])
def test_geojson_reads_back_as_gdal_would_write_it(run_dir, tmp_path, name):
    """netsim's GeoJSON writer (GEOS geometries) against GDAL's GeoJSON driver on the same
    layer: the same columns, types, values (missing ones as null) and coordinates."""
    from netsim.gis import write_geojson

    layer = gpd.read_file(run_dir / "scenario" / f"{name}.gpkg")
    write_geojson(layer, tmp_path / "netsim.geojson", name)
    layer.to_crs(4326).to_file(tmp_path / "gdal.geojson", driver="GeoJSON", engine="pyogrio")
    ours, gdal = (gpd.read_file(tmp_path / f) for f in ("netsim.geojson", "gdal.geojson"))
    assert ours.crs.to_epsg() == 4326
    assert list(ours.columns) == list(gdal.columns)
    assert dict(ours.dtypes) == dict(gdal.dtypes)
    pd.testing.assert_frame_equal(ours.drop(columns="geometry"), gdal.drop(columns="geometry"))
    assert ours.geometry.geom_equals_exact(gdal.geometry, 1e-12).all()
    document = json.loads((tmp_path / "netsim.geojson").read_text(encoding="utf-8"),
                          parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert document["name"] == name and len(document["features"]) == len(layer)
    if name == "stations":  # removed stations: no figure, written as null
        assert any(f["properties"]["pm25_annual_mean"] is None for f in document["features"])


def test_annual_columns_by_hand():
    """Wide columns from a hand-made long table: keys in order of first appearance, a
    station without one pollutant (NaN value and reason), a reason kept as text, the
    other statistics ignored; a pollutant without rows gets the reason column's dtype
    (float NaN where no row has a reason, as pandas aligns an empty column)."""
    from netsim.gis import _annual_columns

    long = pd.DataFrame({
        "station_id": ["b", "b", "a", "a", "b"],
        "pollutant": ["PM2.5", "NO2", "PM2.5", "PM2.5", "PM10"],
        "statistic": ["annual_mean", "annual_mean", "annual_mean", "p98", "p95"],
        "value": ["35", "", "41.5", "90", "80"],
        "reason": [np.nan, "not valid: 200 valid days < 324", np.nan, np.nan, np.nan],
    })
    wide = _annual_columns(long, "station_id", ["PM2.5", "NO2", "SO2"])
    assert list(wide.index) == ["b", "a"] and wide.index.name == "station_id"
    assert list(wide.columns) == ["pm25_annual_mean", "pm25_annual_mean_reason",
                                  "no2_annual_mean", "no2_annual_mean_reason",
                                  "so2_annual_mean", "so2_annual_mean_reason"]
    assert wide["pm25_annual_mean"].tolist() == [35.0, 41.5]
    assert wide["pm25_annual_mean_reason"].tolist() == ["", ""]
    assert np.isnan(wide.loc["b", "no2_annual_mean"])
    assert wide.loc["b", "no2_annual_mean_reason"] == "not valid: 200 valid days < 324"
    assert np.isnan(wide.loc["a", "no2_annual_mean"])
    assert pd.isna(wide.loc["a", "no2_annual_mean_reason"])
    assert wide["so2_annual_mean"].isna().all() and wide["so2_annual_mean_reason"].isna().all()
    assert wide["so2_annual_mean_reason"].dtype == wide["no2_annual_mean_reason"].dtype
    no_reasons = _annual_columns(long.assign(reason=np.nan), "station_id", ["SO2"])
    assert no_reasons["so2_annual_mean_reason"].dtype == np.float64
