"""The shipped 2020 calibration reproduces the published 2020 figures (issue 6 tolerances)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netsim import standards
from netsim.calibration import (
    SCRIPT_VERSION,
    achieved_table,
    evaluate,
    initial_parameters,
    load_targets,
    station_targets,
)
from netsim.network import Network
from netsim.run import run_scenario
from netsim.scenario import load_scenario
from netsim.stats import compute_statistics
from netsim.truth import TruthParameters, TruthSettings, TruthWorld, load_calibration

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "stations" / "beijing_35.csv"
REFERENCE = Path(__file__).parent / "data" / "reference"  # published figures, see README


@pytest.fixture(scope="module")
def network() -> Network:
    return Network.from_file(BASELINE)


@pytest.fixture(scope="module")
def calibration() -> dict:
    return load_calibration("beijing_2020")


def test_targets_file_holds_the_published_figures():
    t = load_targets()
    assert t["city_annual_mean"] == {"PM2.5": 38, "NO2": 29, "PM10": 56, "SO2": 4}
    assert (t["co_p95_daily"], t["o3_p90_mda8"]) == (1.3, 174)
    assert (t["days_meeting_standard"], t["heavy_pollution_days"], t["days"]) == (276, 10, 366)
    # statement: 276 of 366 days = 75.4 %, 10 days = 2.7 %
    assert round(100 * 276 / 366, 1) == 75.4 and round(100 * 10 / 366, 1) == 2.7
    assert t["groups"]["border_south"]["PM2.5"] == 50 and t["groups"]["traffic"]["NO2"] == 43
    assert len(t["districts"]) == 17
    pm = [d["PM2.5"] for d in t["districts"].values()]
    # statement: district PM2.5 29–40, unweighted mean 35.1; 8 districts meet Grade II (≤ 35)
    assert (min(pm), max(pm)) == (29, 40)
    assert np.mean(pm) == pytest.approx(35.1, abs=0.05)
    assert sum(v <= 35 for v in pm[:16]) == 8


def test_targets_file_matches_the_reference_csv():
    ref = pd.read_csv(REFERENCE / "beijing_2020_districts.csv")
    assert len(ref) == 17
    t = load_targets()["districts"]
    for _, row in ref.iterrows():
        d = t[row["district"]]
        assert (d["PM2.5"], d["NO2"], d["PM10"], d["SO2"]) == (
            row["pm25"],
            row["no2"],
            row["pm10"],
            row["so2"],
        )


def test_station_weighted_district_means_give_the_statement_consistency_note(network):
    """Districts at their values, weighted by urban stations: 35.8 / 28.2 / 57.3 (statement)."""
    st = station_targets(network, load_targets())
    urban = network.stations.loc[network.stations["type"] == "urban", "station_id"]
    for p, expected in (("PM2.5", 35.8), ("NO2", 28.2), ("PM10", 57.3)):
        assert np.mean([st[s][p] for s in urban]) == pytest.approx(expected, abs=0.05)


def test_shipped_calibration_is_complete(calibration):
    assert calibration["script_version"] == SCRIPT_VERSION
    assert calibration["script"] == "python -m netsim.calibration"
    assert calibration["all_within_tolerance"] is True
    par = TruthParameters.model_validate(calibration["parameters"])
    assert len(par.anchors) == len(par.values["PM2.5"]) >= 30
    assert {r["quantity"] for r in calibration["achieved"]} >= {
        "city PM2.5 annual mean",
        "days meeting the standard",
        "traffic NO2 annual mean",
    }
    assert calibration["targets"] == load_targets()
    # the alternative city rule is evaluated and reported
    assert calibration["central12_rule"]["city_annual_mean"]["PM2.5"] == pytest.approx(38, abs=1)


def test_initial_parameters_anchor_every_station_but_traffic(network):
    par = initial_parameters(network, load_targets())
    ids = {a.id for a in par.anchors}
    st = network.stations
    assert ids >= set(st.loc[st["type"] != "traffic", "station_id"])
    assert not ids & set(st.loc[st["type"] == "traffic", "station_id"])


@pytest.mark.slow
def test_baseline_network_reproduces_the_2020_statement(network, calibration):
    """Re-run the calibration's realisations: every figure within its tolerance."""
    ev = evaluate(
        None,
        network,
        seed=calibration["seed"],
        realisations=calibration["realisations"],
        settings=TruthSettings(seed=calibration["seed"], calibration="beijing_2020"),
    )
    rows = achieved_table(ev, load_targets())
    bad = [r for r in rows if not r["ok"]]
    assert not bad, bad
    stored = {r["quantity"]: r["achieved"] for r in calibration["achieved"]}
    for r in rows:
        assert r["achieved"] == pytest.approx(stored[r["quantity"]], abs=1e-6), r["quantity"]
    # the city rule "urban" leaves the documented PM2.5 gap (35.8 vs 38)
    assert ev.value("city", "PM2.5") == pytest.approx(35.8, abs=0.3)


def test_other_realisations_are_close_to_the_targets(network):
    """Independent realisations (another seed) agree within tolerance + sampling error."""
    ev = evaluate(None, network, seed=777, realisations=4)
    targets = load_targets()
    assert ev.value("city", "PM2.5") == pytest.approx(35.8, abs=1.5)
    assert ev.value("border_south", "PM2.5") == pytest.approx(50, abs=3)
    assert ev.value("traffic", "NO2") == pytest.approx(43, abs=3)
    assert ev.value("city", "CO:p95_daily") == pytest.approx(targets["co_p95_daily"], abs=0.2)
    assert ev.value("city", "O3:p90_mda8") == pytest.approx(targets["o3_p90_mda8"], abs=12)
    assert ev.days_meeting_standard == pytest.approx(276, abs=15)


def test_stations_only_world_needs_no_grid():
    w = TruthWorld(None, TruthSettings())
    assert w.grid is None
    xy = np.array([[450_000.0, 4_420_000.0]])
    assert w.realise(0).at_points(xy, "PM2.5").shape == (366, 1)


# ----------------------------------------------------------------------------
# Out of sample (issue 15 item 4): other realisations than the fitted ones
# ----------------------------------------------------------------------------

OUT_OF_SAMPLE_SEED = 777
OUT_OF_SAMPLE_REALISATIONS = 32


def _figure_sd(ev, quantity: str) -> float:
    """Standard deviation between realisations of an achieved-table figure."""
    if quantity in ("days meeting the standard", "heavy-pollution days"):
        return ev.spread["days_meeting_standard" if quantity.startswith("days")
                         else "heavy_pollution_days"]
    if quantity == "city CO p95 of daily means":
        return ev.sd("city", "CO:p95_daily")
    if quantity == "city O3 p90 of MDA8":
        return ev.sd("city", "O3:p90_mda8")
    area, pollutant = quantity.removesuffix(" annual mean").rsplit(" ", 1)
    return ev.sd(area, pollutant)


def test_out_of_sample_realisations_reproduce_the_2020_statement(network, calibration):
    """Seed 777 (not the calibration's 2020): every published figure within its tolerance
    plus the Monte Carlo error of a 32-realisation mean (3 standard errors)."""
    assert calibration["seed"] != OUT_OF_SAMPLE_SEED
    n = OUT_OF_SAMPLE_REALISATIONS
    ev = evaluate(None, network, seed=OUT_OF_SAMPLE_SEED, realisations=n)
    rows = achieved_table(ev, load_targets())
    assert len(rows) == 81
    bad = []
    for r in rows:
        sd = _figure_sd(ev, r["quantity"])
        assert np.isfinite(sd), r["quantity"]
        if abs(r["achieved"] - r["target"]) > r["tolerance"] + 3 * sd / np.sqrt(n):
            bad.append((r["quantity"], r["target"], r["achieved"], round(sd, 2)))
    assert not bad, bad


def test_baseline_2023_gives_the_2023_city_pm25():
    """`netsim run scenarios/baseline_2023.yaml`: city PM2.5 of its 20 realisations (seed
    2023, not the calibration's 2020) within ±1.5 of the published 32 µg/m³.  The city figure
    comes from the stations' readings alone (test below: same numbers as the run)."""
    sc = load_scenario(ROOT / "scenarios" / "baseline_2023.yaml")
    assert (sc.realisations, sc.truth.seed, sc.year) == (20, 2023, 2023)
    cal = load_calibration(sc.truth.calibration)
    assert cal["seed"] != sc.truth.seed and cal["targets"]["city_annual_mean"]["PM2.5"] == 32
    ev = evaluate(None, Network.from_file(sc.base_network_path()),
                  realisations=sc.realisations, settings=sc.truth)
    assert ev.value("city", "PM2.5") == pytest.approx(32, abs=1.5)


@pytest.mark.slow
def test_baseline_2023_run_city_figure_is_the_stations_one(tmp_path):
    sc = load_scenario(ROOT / "scenarios" / "baseline_2023.yaml")
    sc = sc.model_copy(update={
        "grid": sc.grid.model_copy(update={"resolution_m": 5000.0}),
        "outputs": sc.outputs.model_copy(update={"maps": False, "web_map": False,
                                                 "time_resolved": "none"})})
    run_scenario(sc, tmp_path / "run", realisations=3, web_map=False)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    city = next(e["baseline"]["mean"] for e in summary["published"]
                if (e["area"], e["pollutant"], e["statistic"]) == ("city", "PM2.5",
                                                                     "annual_mean"))
    ev = evaluate(None, Network.from_file(sc.base_network_path()), realisations=3,
                  settings=sc.truth)
    assert city == pytest.approx(ev.value("city", "PM2.5"), rel=1e-12)
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert report.count("map error realism: simulated LOO") == 4


# ----------------------------------------------------------------------------
# A broken standard is caught by a hand-worked value, not absorbed by calibration
# ----------------------------------------------------------------------------


def _day_with_a_five_hour_window() -> np.ndarray:
    """Hours 00–02 missing, 03–07 at 300, 08–23 at 100 µg/m³ (hour-beginning labels).

    By hand (HJ 663: an 8-h mean needs 6 of 8 hours; MDA8 needs 14 of 17 windows):
    window 00–07 has 5 valid hours -> invalid; window 01–08 has 6 -> (5·300 + 100)/6
    = 266.67; later windows are lower (02–09: 1700/7 = 242.86).  Windows 01–08 … 16–23 are
    valid (16 ≥ 14), so MDA8 = 1600/6 = 266.67 µg/m³.
    """
    day = np.full(24, 100.0)
    day[0:3] = np.nan
    day[3:8] = 300.0
    return day


def test_mda8_hand_worked_day():
    result = standards.mda8(_day_with_a_five_hour_window())
    assert result.values[0] == pytest.approx(1600 / 6, rel=1e-12)
    assert result.n_windows[0] == 16


def test_broken_mda8_is_caught_by_the_hand_worked_value_not_by_calibration(monkeypatch, network):
    """Accept 5 of 8 hours (a deliberate bug): the hand-worked MDA8 check fails, although
    the city O3 p90 the calibration compares moves by less than its tolerance (5 µg/m³) —
    a calibration check alone (or a refit of ``o3_level``) would absorb the bug."""
    world = TruthWorld(None, TruthSettings(seed=OUT_OF_SAMPLE_SEED))
    readings = world.realise(0).sample_hourly(network)
    correct_station = standards.mda8(readings.values["O3"]).values
    correct_city = compute_statistics(readings, network).area_value("city", "O3", "p90_mda8",
                                                                   raw=True)
    monkeypatch.setitem(standards.mda8.__kwdefaults__, "min_hours", 5)
    monkeypatch.setitem(standards.eight_hour_means.__kwdefaults__, "min_hours", 5)
    # the bug is caught: 300 (the 5-hour window) instead of the hand-worked 266.67
    assert standards.mda8(_day_with_a_five_hour_window()).values[0] != pytest.approx(1600 / 6)
    # it reaches the statistics (station MDA8s change) ...
    broken_station = standards.mda8(readings.values["O3"]).values
    assert not np.array_equal(np.isnan(broken_station), np.isnan(correct_station)) or \
        not np.allclose(broken_station, correct_station, equal_nan=True)
    # ... but hides inside the calibration tolerance of the city O3 p90
    broken_city = compute_statistics(readings, network).area_value("city", "O3", "p90_mda8",
                                                                  raw=True)
    assert abs(broken_city - correct_city) < load_targets()["tolerances"]["o3_p90_mda8"]
