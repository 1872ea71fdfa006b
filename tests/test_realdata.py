"""Scenario runs on real readings: figures straight from the readings, held-out map errors.

The "real" readings here are one year written by the synthetic truth for 12 of the 35
stations (the sites of the UCI data set), so the tests know every number; the shipped
real example is checked in ``tests/test_readers.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hand_kriging import noisy_ordinary_kriging, reference_analyser_noise

from netsim.errors import ScenarioError
from netsim.network import Network
from netsim.rasters import read_raster
from netsim.readings import HourlyReadings, write_readings
from netsim.run import run_scenario
from netsim.scenario import Scenario
from netsim.truth import TruthSettings, TruthWorld
from netsim.variogram import Variogram

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ROOT / "stations" / "beijing_35.csv"
MEASURED = ("aotizhongxin", "pingchang", "dingling", "dongsi", "guanyuan", "gucheng", "huairou",
            "nongzhanguan", "shunyi", "tiantan", "wanliu", "wanshouxigong")
REMOVED = ("tiantan", "wanshouxigong")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def readings_file(tmp_path_factory) -> Path:
    net = Network.from_file(STATIONS)
    sampled = TruthWorld(None, TruthSettings(seed=5)).realise(0).sample_hourly(
        net, pollutants=["PM2.5", "NO2"])
    keep = np.isin(net.ids, MEASURED)
    values = {p: np.where(keep[:, None], a, np.nan) for p, a in sampled.values.items()}
    path = tmp_path_factory.mktemp("real") / "readings_2020.parquet"
    return write_readings(HourlyReadings(net.ids, 2020, values), path)


def _scenario(readings: Path, **extra) -> Scenario:
    data = {
        "name": "real_retire_two",
        "base_network": str(STATIONS),
        "readings": str(readings),
        "year": 2020,
        "pollutants": ["PM2.5", "NO2"],
        "grid": {"resolution_m": 5000},
        "outputs": {"maps": False, "web_map": True},
        "changes": [{"kind": "remove", "ids": list(REMOVED)}],
    }
    data.update(extra)
    return Scenario.from_dict(data)


@pytest.fixture(scope="module")
def real_run(readings_file, tmp_path_factory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("runs") / "real"
    start = time.perf_counter()
    run_scenario(_scenario(readings_file), out)
    return out, time.perf_counter() - start


def _annual_means_by_hand(path: Path) -> pd.DataFrame:
    """HJ 663 by hand with pandas: a day needs 20 valid hours, a year 324 valid days and
    27 per month (25 in February); the annual mean is the mean of the valid daily means."""
    df = pd.read_parquet(path)
    df["day"] = pd.to_datetime(df["time"]).dt.floor("D")
    daily = df.groupby(["station_id", "pollutant", "day"])["value"].agg(["mean", "count"])
    daily = daily[daily["count"] >= 20].reset_index()
    daily["month"] = daily["day"].dt.month
    out = {}
    for (sid, p), g in daily.groupby(["station_id", "pollutant"]):
        per_month = g.groupby("month").size().reindex(range(1, 13), fill_value=0)
        need = np.where(per_month.index == 2, 25, 27)
        if len(g) >= 324 and (per_month.to_numpy() >= need).all():
            out[(sid, p)] = (g["mean"].mean(), int(g["count"].sum()))
    return pd.DataFrame.from_dict(out, orient="index", columns=["annual", "hours"])


def test_real_run_writes_real_figures_without_intervals(real_run):
    out, seconds = real_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["kind"] == "real readings"
    assert summary["realisations"] == 1
    assert summary["interval"].startswith("none")
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "- Real readings: every figure is computed from the measured" in report
    assert "no intervals" in report
    assert "[" not in report.split("## Headline statistics")[1].split("Sources")[0]
    published = report.split("## The published figures")[1].split("## Headline")[0]
    assert "[" not in published.replace("[scenario", "")
    assert "real readings" in (out / "map.html").read_text(encoding="utf-8")
    assert summary["verdicts"][0].startswith("The city PM2.5 figure (annual mean, from the real")
    assert not any("realisation" in verdict for verdict in summary["verdicts"])  # one real year
    assert not list((out / "baseline" / "rasters").glob("*truth*"))
    bands = read_raster(out / "baseline" / "rasters" / "pm25_annual_mean.tif").bands
    assert set(bands) == {"estimate", "std"}
    assert seconds < 60


def test_real_run_city_figure_is_the_readings_figure(real_run, readings_file):
    """The baseline city PM2.5 is the mean of the city's daily values (the statement's way,
    netsim stats): with constant membership it equals the hand-computed value."""
    out, _ = real_run
    by_area = pd.read_csv(out / "baseline" / "annual_by_area.csv", keep_default_na=False)
    city = by_area.query("area == 'city' and pollutant == 'PM2.5' and statistic == "
                         "'annual_mean'")
    df = pd.read_parquet(readings_file)
    net = Network.from_file(STATIONS)
    urban = set(net.ids[net.types == "urban"]) & set(MEASURED)
    df = df[(df["pollutant"] == "PM2.5") & df["station_id"].isin(urban)]
    df["day"] = pd.to_datetime(df["time"]).dt.floor("D")
    daily = df.groupby(["station_id", "day"])["value"].agg(["mean", "count"])
    daily = daily[daily["count"] >= 20]["mean"].groupby("day").mean()
    assert float(city["value"].iloc[0]) == pytest.approx(round(daily.mean()), abs=0.5)
    gone = by_area.query("area == 'border_south'")
    assert (gone["value"] == "").all()
    assert gone["reason"].str.contains("none of its stations is in the readings").all()


def test_held_out_errors_equal_a_hand_computation(real_run, readings_file):
    """At the removed stations, the scenario map's estimate is ordinary kriging of the
    remaining map stations' annual means with their measurement-error variances on the
    diagonal — solved here with numpy from hand-computed annual means."""
    out, _ = real_run
    held = pd.read_csv(out / "scenario" / "held_out.csv")
    assert set(held["station_id"]) == set(REMOVED)
    annual = _annual_means_by_hand(readings_file)
    net = Network.from_file(STATIONS)
    kept = sorted(set(MEASURED) - set(REMOVED))  # all map types; sorted like the map
    for p, slug in (("PM2.5", "pm25"), ("NO2", "no2")):
        tags = read_raster(out / "scenario" / "rasters" / f"{slug}_annual_mean.tif").tags
        vg = Variogram.from_dict(json.loads(tags["variogram"]))
        z = np.array([annual.loc[[(s, p)], "annual"].iloc[0] for s in kept])
        hours = np.array([annual.loc[[(s, p)], "hours"].iloc[0] for s in kept])
        estimates = noisy_ordinary_kriging(
            net.xy[net.index_of(kept)], z, reference_analyser_noise(z, hours),
            net.xy[net.index_of(list(REMOVED))], vg)
        for sid, estimate in zip(REMOVED, estimates, strict=True):
            row = held[(held["station_id"] == sid) & (held["pollutant"] == p)].iloc[0]
            assert row["estimate"] == pytest.approx(estimate, abs=2e-4)
            assert row["observed"] == pytest.approx(annual.loc[[(sid, p)], "annual"].iloc[0],
                                                    abs=2e-4)
            assert row["error"] == pytest.approx(row["estimate"] - row["observed"], abs=2e-4)
    summary = json.loads((out / "summary.json").read_text())
    rmse = next(r for r in summary["statistics"] if r["network"] == "scenario"
                and r["statistic"] == "held_out_rmse" and r["pollutant"] == "PM2.5")
    errors = held.loc[held["pollutant"] == "PM2.5", "error"].to_numpy()
    assert rmse["mean"] == pytest.approx(np.sqrt(np.mean(errors**2)), abs=1e-3)


@pytest.mark.parametrize("change", [
    {"kind": "add", "id": "new", "type": "urban", "lon": 116.4, "lat": 40.0},
    {"kind": "relocate", "id": "dongsi", "lon": 116.42, "lat": 39.95},
    {"kind": "sensors", "count": 10},
])
def test_changes_that_need_the_truth_are_refused(readings_file, change):
    with pytest.raises(ScenarioError, match="needs the synthetic truth") as info:
        _scenario(readings_file, changes=[change])
    assert "\n" not in str(info.value)
    assert f"changes[0]: kind {change['kind']} needs" in str(info.value)


def test_real_readings_have_one_realisation(readings_file):
    with pytest.raises(ScenarioError, match="no Monte Carlo"):
        _scenario(readings_file, realisations=5)
    assert _scenario(readings_file).realisations == 1
    with pytest.raises(ScenarioError, match="no Monte Carlo"):
        _scenario(readings_file).with_overrides(realisations=3)


def test_outage_by_selector_masks_real_hours(readings_file, tmp_path):
    """Losing every urban station of Haidian (wanliu) for the year: its figures are not
    valid in the scenario, the baseline keeps them."""
    sc = _scenario(readings_file, changes=[
        {"kind": "outage", "type": "urban", "district": "Haidian", "months": [1, 2, 3]}],
        outputs={"maps": False, "web_map": False})
    run_scenario(sc, tmp_path / "outage")
    scen = pd.read_csv(tmp_path / "outage" / "scenario" / "annual_by_station.csv",
                       keep_default_na=False)
    base = pd.read_csv(tmp_path / "outage" / "baseline" / "annual_by_station.csv",
                       keep_default_na=False)
    lost = scen.query("station_id == 'wanliu'")
    assert (lost["value"] == "").all() and lost["reason"].str.startswith("not valid").all()
    assert (base.query("station_id == 'wanliu'")["value"] != "").all()
    kept = scen.query("station_id == 'dongsi'")["value"].tolist()
    assert kept == base.query("station_id == 'dongsi'")["value"].tolist()
