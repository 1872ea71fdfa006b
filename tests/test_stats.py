"""netsim.stats: aggregation rules, output files, the statement's arithmetic, the CLI.

Inputs are synthetic hourly series whose statistics are known by construction
(constant values, single-day episodes), so every expected number is worked out by hand.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netsim.atomic import MARKER_NAME
from netsim.cli import main
from netsim.errors import NetsimError, NetworkError
from netsim.network import Network
from netsim.readings import HourlyReadings, write_readings
from netsim.standards import daily_means, hj663_percentile
from netsim.stats import (
    DISTRICTS,
    StatisticsBuilder,
    compute_statistics,
    percent_difference,
    percent_of,
    summary_markdown,
    write_statistics,
)

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]

BASE = {"PM2.5": 40.0, "PM10": 60.0, "NO2": 30.0, "SO2": 5.0, "CO": 0.55, "O3": 100.0}


@pytest.fixture(scope="module")
def net() -> Network:
    return Network.from_file(DATA / "stations_small.csv")


def constant_readings(net: Network, year: int, per_station: dict[str, dict[str, float]]):
    """Readings constant in time: BASE values, overridden per pollutant and station."""
    hours = 8784 if year % 4 == 0 else 8760
    values = {}
    for p, v in BASE.items():
        col = np.array([per_station.get(p, {}).get(s, v) for s in net.ids], dtype=float)
        values[p] = np.repeat(col[:, None], hours, axis=1)
    return HourlyReadings(net.ids, year, values)


# ------------------------------------------------------------------ the statement's arithmetic


def test_statement_arithmetic():
    # beijing_2020_statement.md: 50/38 = +31.6 %, 32/38 = -15.8 %, 40/38 = +5.3 %,
    # 43/29 = +48.3 %, 38 vs limit 35 = 8.6 % above, 276/366 = 75.4 %, 10/366 = 2.7 %
    assert percent_difference(50, 38) == 31.6
    assert percent_difference(32, 38) == -15.8
    assert percent_difference(40, 38) == 5.3
    assert percent_difference(43, 29) == 48.3
    assert percent_difference(38, 35) == 8.6
    assert percent_of(276, 366) == 75.4
    assert percent_of(10, 366) == 2.7


# ------------------------------------------------------------------ aggregation


def test_city_districts_and_groups_from_constant_series(net):
    pm = {"dongsi": 30, "tiantan": 40, "wanliu": 50, "qianmen": 60, "yufa": 70,
          "badaling": 20, "dingling": 25}  # fmt: skip
    s = compute_statistics(constant_readings(net, 2021, {"PM2.5": pm}), net)
    assert s.city_ids == ("dongsi", "tiantan", "wanliu")  # urban stations only
    assert s.area_value("city", "PM2.5", "annual_mean") == 40
    assert s.area_value("city", "PM2.5", "p95_daily") == 40
    assert s.area_value("Dongcheng", "PM2.5", "annual_mean") == 35  # qianmen (traffic) excluded
    assert s.area_value("Haidian", "PM2.5", "annual_mean") == 50
    assert np.isnan(s.area_value("Daxing", "PM2.5", "annual_mean"))  # no urban station
    assert s.area_value("border_south", "PM2.5", "annual_mean") == 70
    assert s.area_value("border_north", "PM2.5", "annual_mean") == 20
    assert s.area_value("traffic", "PM2.5", "annual_mean") == 60
    assert s.area_value("background", "PM2.5", "annual_mean") == 25
    assert s.area_members["border_south"] == ("yufa",)
    reasons = s.invalid.query("id == 'Daxing' and pollutant == 'PM2.5'")["reason"]
    assert (reasons == "not computed: no station of this area in the network").all()
    # statistic names per pollutant (issue 4)
    got = s.by_area.query("area == 'city'").groupby("pollutant")["statistic"].apply(set)
    assert got["PM2.5"] == {"annual_mean", "p95_daily"} and got["SO2"] == {
        "annual_mean",
        "p98_daily",
    }
    assert got["CO"] == {"p95_daily"} and got["O3"] == {"p90_mda8"}
    assert got["AQI"] == {"days_meeting_standard", "heavy_pollution_days", "valid_days"}
    assert set(s.by_area["area"]) >= {"city", *DISTRICTS, "border_south", "border_north"}


def test_rounded_and_raw_values(net):
    s = compute_statistics(constant_readings(net, 2021, {}), net)
    # CO 0.55 mg/m³: raw kept, reported 0.6 (GB/T 8170 half-even: 5 after odd 5 -> up)
    assert s.station_value("dongsi", "CO", "p95_daily", raw=True) == pytest.approx(0.55)
    assert s.station_value("dongsi", "CO", "p95_daily") == 0.6
    assert s.area_value("city", "CO", "p95_daily") == 0.6
    assert list(s.by_station.columns) == [
        "station_id",
        "pollutant",
        "statistic",
        "value",
        "valid_days",
        "reason",
    ]
    assert list(s.by_area.columns) == ["area", "pollutant", "statistic", "value", "reason"]
    assert (s.by_station["valid_days"] == 365).all()


def _noisy_readings(net: Network, year: int, seed: int) -> HourlyReadings:
    """Lognormal hours around BASE with 15 % of them missing (some days invalid)."""
    rng = np.random.default_rng(seed)
    hours = 8784 if year % 4 == 0 else 8760
    values = {}
    for p, v in BASE.items():
        a = v * rng.lognormal(0.0, 0.6, (len(net.ids), hours))
        a[rng.random(a.shape) < 0.15] = np.nan
        values[p] = a
    return HourlyReadings(net.ids, year, values)


def test_statistics_pollutant_by_pollutant_in_any_order_are_compute_statistics(net):
    """StatisticsBuilder fed one pollutant at a time, in reverse order, gives the very
    tables compute_statistics gives from all the readings at once."""
    readings = _noisy_readings(net, 2020, seed=3)
    whole = compute_statistics(readings, net, city_rule="central12")
    builder = StatisticsBuilder(net, 2020, city_rule="central12", source=readings.source)
    for p in reversed(list(readings.values)):
        daily = builder.add(p, readings.values[p])
        assert daily.tobytes() == whole.station_daily[p].tobytes()
    parts = builder.finish()
    for table in ("by_station_raw", "by_area_raw", "by_area", "daily_aqi", "invalid"):
        pd.testing.assert_frame_equal(getattr(parts, table), getattr(whole, table))
    assert list(parts.area_daily) == list(whole.area_daily)
    assert parts.options == whole.options
    with pytest.raises(NetsimError, match="at most once"):
        builder.add("PM2.5", readings.values["PM2.5"])


def test_aqi_days_not_computed_without_all_six_pollutants(net):
    """HJ 633: the AQI needs all six pollutants; with PM2.5 alone the day counts are not
    computed (NaN with the reason), not 0, while the PM2.5 figures stand."""
    full = constant_readings(net, 2020, {})
    r = HourlyReadings(net.ids, 2020, {"PM2.5": full.values["PM2.5"]})
    s = compute_statistics(r, net)
    assert s.area_value("city", "PM2.5", "annual_mean") == 40
    assert s.area_value("city", "AQI", "valid_days") == 0
    for stat in ("days_meeting_standard", "heavy_pollution_days"):
        assert np.isnan(s.area_value("city", "AQI", stat))
        row = s.by_area.query("area == 'city' and pollutant == 'AQI' and statistic == @stat")
        assert row["reason"].iloc[0] == (
            "not computed: the daily AQI needs all six pollutants (HJ 633-2012); "
            "no readings of PM10, NO2, SO2, O3, CO")
    text = summary_markdown(s)
    assert "Days meeting the standard and heavy-pollution days: not computed (the daily AQI" in text
    assert "0 of 0" not in text


def test_co_tie_is_decided_by_the_exact_mean_not_the_float(net, tmp_path):
    # hourly CO alternating 0.5 / 0.6 mg/m³ at every station: every daily mean, and so the
    # 95th percentile, is exactly 0.55 (hand: 12·0.5 + 12·0.6 = 13.2; 13.2 / 24 = 0.55).
    # GB/T 8170 (standards.md §2.4): the dropped 5 is followed by nothing and the kept 5 is
    # odd, so 0.55 -> 0.6.  Floating point computes 0.5499999999999999 (-> 0.5 by its text).
    r = constant_readings(net, 2021, {})
    r.values["CO"] = np.tile([0.5, 0.6], (len(net), 8760 // 2))
    s = compute_statistics(r, net)
    raw = s.station_value("dongsi", "CO", "p95_daily", raw=True)
    assert abs(raw - 0.55) < 1e-12
    assert s.station_value("dongsi", "CO", "p95_daily") == 0.6
    assert s.area_value("city", "CO", "p95_daily") == 0.6
    assert s.area_value("traffic", "CO", "p95_daily") == 0.6
    out = write_statistics(s, tmp_path / "o")
    by_area = pd.read_csv(out / "annual_by_area.csv", dtype={"value": str})
    city = by_area.query("area == 'city' and pollutant == 'CO'")["value"].iloc[0]
    assert city == "0.6"
    assert "95th percentile of 24-hour mean CO concentrations was 0.6 mg/m³" in (
        out / "summary.md"
    ).read_text(encoding="utf-8")


def test_o3_above_800_uses_the_one_hour_iaqi_in_the_daily_aqi(net, tmp_path):
    # HJ 633-2012 Table 1 note 2 (standards.md §3.1): O3 8-h above 800 µg/m³ -> O3 1-h IAQI.
    r = constant_readings(net, 2020, {})
    # day 1: O3 850 every hour: MDA8 850, 1-h max 850 -> 300 + 100*(850-800)/200 = 325
    r.values["O3"][:, 0:24] = 850.0
    # day 2: only hours 00-07 at 900: windows starting 00, 01, 02 have >= 6 of 8 hours, MDA8
    # 900 is valid (it exceeds 160), but 8 hours < 20: no valid 1-h maximum -> not computed
    r.values["O3"][:, 24:48] = np.nan
    r.values["O3"][:, 24:32] = 900.0
    s = compute_statistics(r, net)
    d = s.daily_aqi
    assert d.iloc[0].tolist() == ["2020-01-01", 325.0, "Severely polluted", "O3"]
    assert np.isnan(d.iloc[1]["aqi"]) and d.iloc[1]["category"] == ""
    assert s.area_daily["O3"][0, 1] == 900  # the MDA8 itself is valid
    assert s.area_value("city", "AQI", "valid_days") == 365  # day 2 not counted
    assert s.area_value("city", "AQI", "heavy_pollution_days") == 1
    row = s.invalid.query("kind == 'aqi'")
    assert len(row) == 1 and row["pollutant"].iloc[0] == "O3"
    assert "1 day(s) (2020-01-02) with MDA8 > 800 µg/m³" in row["reason"].iloc[0]
    text = write_statistics(s, tmp_path / "o").joinpath("summary.md").read_text(encoding="utf-8")
    assert "HJ 633-2012 Table 1 note 2" in text


def test_aqi_days_from_city_daily_values(net):
    r = constant_readings(net, 2020, {})
    r.values["PM2.5"][:, 0:24] = 160.0  # day 1: IAQI 200 + 100*10/100 = 210 -> heavy
    r.values["PM2.5"][:, 24:48] = 100.0  # day 2: 100 + 50*25/40 = 131.25 -> 132
    s = compute_statistics(r, net)
    assert s.area_value("city", "AQI", "valid_days") == 366
    assert s.area_value("city", "AQI", "days_meeting_standard") == 364
    assert s.area_value("city", "AQI", "heavy_pollution_days") == 1
    d = s.daily_aqi
    assert d.iloc[0].tolist() == ["2020-01-01", 210.0, "Heavily polluted", "PM2.5"]
    assert d.iloc[1].tolist() == ["2020-01-02", 132.0, "Lightly polluted", "PM2.5"]
    # other days: PM2.5 40 -> 56.25 -> 57 is the maximum IAQI (PM10 60 -> 55, NO2 30 -> 38)
    assert d.iloc[2].tolist() == ["2020-01-03", 57.0, "Good", "PM2.5"]
    assert len(d) == 366


def test_station_with_323_valid_days_is_left_empty(net, tmp_path):
    r = constant_readings(net, 2021, {})
    # remove 42 days of dongsi spread so that every month keeps >= 27 days: 365 - 42 = 323
    months = pd.date_range("2021-01-01", periods=365).month.to_numpy()
    per_month = (4, 3, 4, 3, 4, 3, 4, 4, 3, 4, 3, 3)
    drop = np.concatenate(
        [np.flatnonzero(months == m)[:k] for m, k in enumerate(per_month, start=1)]
    )
    assert len(drop) == 42
    for d in drop:
        r.values["PM2.5"][0, 24 * d : 24 * d + 24] = np.nan
    s = compute_statistics(r, net)
    assert np.isnan(s.station_value("dongsi", "PM2.5", "annual_mean"))
    row = s.by_station.query("station_id == 'dongsi' and statistic == 'annual_mean' "
                             "and pollutant == 'PM2.5'")  # fmt: skip
    assert int(row["valid_days"].iloc[0]) == 323
    reason = s.invalid.query("id == 'dongsi' and pollutant == 'PM2.5'")["reason"].iloc[0]
    assert reason.startswith("not valid: 323 valid days < 324")
    assert s.area_value("city", "PM2.5", "annual_mean") == 40  # other stations fill the city days
    out = write_statistics(s, tmp_path / "out")
    csv = pd.read_csv(out / "annual_by_station.csv", keep_default_na=False)
    cell = csv.query(
        "station_id == 'dongsi' and pollutant == 'PM2.5' and statistic == 'annual_mean'"
    )
    assert cell["value"].iloc[0] == ""
    assert "323 valid days < 324" in (out / "summary.md").read_text()


def test_city_percentile_is_taken_on_the_city_daily_series(net):
    rng = np.random.default_rng(7)
    r = constant_readings(net, 2021, {})
    r.values["PM2.5"] = rng.gamma(2.0, 20.0, size=r.values["PM2.5"].shape)
    s = compute_statistics(r, net)
    city_daily = daily_means(r.values["PM2.5"][:3]).mean(axis=0)  # 3 urban stations
    np.testing.assert_allclose(s.area_daily["PM2.5"][0], city_daily)
    expected = hj663_percentile(city_daily, 95)
    assert s.area_value("city", "PM2.5", "p95_daily", raw=True) == pytest.approx(expected)
    assert s.area_value("city", "PM2.5", "annual_mean", raw=True) == pytest.approx(
        city_daily.mean()
    )
    # with complete data, averaging hours first gives the same daily means
    h = compute_statistics(r, net, area_daily="area_hourly")
    assert h.area_value("city", "PM2.5", "p95_daily", raw=True) == pytest.approx(expected)


def test_city_rules():
    beijing = Network.from_file(ROOT / "stations" / "beijing_35.csv")
    r = constant_readings(beijing, 2021, {})
    assert len(compute_statistics(r, beijing).city_ids) == 23
    central = compute_statistics(r, beijing, city_rule="central12").city_ids
    assert len(central) == 12 and "yungang" in central and "shunyi" not in central
    explicit = compute_statistics(r, beijing, city_rule="dongsi, tiantan").city_ids
    assert explicit == ("dongsi", "tiantan")
    assert compute_statistics(r, beijing, city_rule=["wanliu"]).city_ids == ("wanliu",)
    with pytest.raises(NetworkError, match="unknown station id"):
        compute_statistics(r, beijing, city_rule="dongsi,nowhere")
    with pytest.raises(NetsimError, match="area_daily"):
        compute_statistics(r, beijing, area_daily="hourly")


def test_compute_statistics_is_fast_for_35_stations():
    beijing = Network.from_file(ROOT / "stations" / "beijing_35.csv")
    rng = np.random.default_rng(0)
    vals = {p: rng.gamma(2.0, v / 2, size=(35, 8784)) for p, v in BASE.items()}
    r = HourlyReadings(beijing.ids, 2020, vals)
    compute_statistics(r, beijing)
    t0 = time.perf_counter()
    compute_statistics(r, beijing)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0  # measured ~0.03 s; target 0.3 s (loose bound for slow CI runners)


# ------------------------------------------------------------------ summary.md


def test_summary_reproduces_the_statement_sentences(net, tmp_path):
    pm = {"dongsi": 38, "tiantan": 38, "wanliu": 38, "qianmen": 40, "yufa": 50,
          "badaling": 32, "dingling": 32}  # fmt: skip
    no2 = dict.fromkeys(net.ids, 29.0) | {"qianmen": 43.0}
    s = compute_statistics(constant_readings(net, 2020, {"PM2.5": pm, "NO2": no2}), net)
    text = write_statistics(s, tmp_path / "o").joinpath("summary.md").read_text()
    assert "PM2.5 was 38 µg/m³, 8.6% above the limit (35 µg/m³)" in text
    assert "PM2.5 50 µg/m³, +31.6% vs the city mean (38)" in text
    assert "PM2.5 32 µg/m³, -15.8% vs the city mean (38)" in text
    assert (
        "PM2.5 40 µg/m³, +5.3% vs the city mean (38); NO2 43 µg/m³, +48.3% vs the city (29)" in text
    )
    assert "Days meeting the standard (AQI ≤ 100): 366 of 366 valid days (100.0%)" in text


# ------------------------------------------------------------------ CLI


def test_cli_stats_on_a_small_readings_file(net, tmp_path, capsys):
    rng = np.random.default_rng(11)
    r = constant_readings(net, 2021, {})
    for p, v in BASE.items():
        r.values[p] = rng.gamma(4.0, v / 4, size=r.values[p].shape)
    r.values["PM2.5"][:, 5000:5003] = np.nan
    readings = write_readings(r, tmp_path / "r.parquet")
    out = tmp_path / "stats"
    rc = main(["stats", "--stations", str(DATA / "stations_small.csv"), "--readings",
               str(readings), "--year", "2021", "--out", str(out)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    files = sorted(p.name for p in out.iterdir())
    assert files == [MARKER_NAME, "annual_by_area.csv", "annual_by_station.csv", "daily_aqi.csv",
                     "summary.md"]
    by_area = pd.read_csv(out / "annual_by_area.csv", dtype={"value": str})
    assert list(by_area.columns) == ["area", "pollutant", "statistic", "value", "reason"]
    expected = compute_statistics(r, net)
    city = by_area.query("area == 'city' and pollutant == 'PM2.5' and statistic == 'annual_mean'")
    assert float(city["value"].iloc[0]) == expected.area_value("city", "PM2.5", "annual_mean")
    co = by_area.query("area == 'city' and pollutant == 'CO'")["value"].iloc[0]
    assert len(co.split(".")[1]) == 1  # CO to one decimal
    assert "." not in city["value"].iloc[0]  # µg/m³ as integers
    daily = pd.read_csv(out / "daily_aqi.csv")
    assert list(daily.columns) == ["date", "aqi", "category", "primary_pollutant"]
    assert len(daily) == 365
    assert "wrote" in capsys.readouterr().out


def test_cli_stats_never_prints_nan(net, tmp_path, capsys):
    r = constant_readings(net, 2021, {})
    r.values["PM2.5"][:, : 24 * 50] = np.nan  # 315 valid days < 324: annual mean invalid
    readings = write_readings(r, tmp_path / "r.csv")
    rc = main(["stats", "--stations", str(DATA / "stations_small.csv"), "--readings",
               str(readings), "--year", "2021", "--out", str(tmp_path / "stats")])  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    # an invalid figure says "not valid" and why (issue 12), never nan
    assert rc == 0 and "city PM2.5 not valid (315 valid days < 324 required (HJ 663))" in out
    assert "nan" not in out.lower() and "inf" not in out.lower()


def test_cli_stats_bad_readings_is_one_line_error(tmp_path, capsys):
    out = tmp_path / "stats"
    rc = main(["stats", "--stations", str(DATA / "stations_small.csv"), "--readings",
               str(DATA / "bad" / "readings_negative_value.csv"), "--year", "2020",
               "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "negative concentration" in err
    assert not out.exists()  # nothing written


# ---------------------------------------------------------- the statement's consistency note

# beijing_2020_districts.csv (Beijing Ecology and Environment Statement 2020): PM2.5, NO2, PM10
DISTRICTS_2020 = {
    "Dongcheng": (40, 30, 55), "Xicheng": (40, 32, 58), "Chaoyang": (39, 33, 60),
    "Haidian": (36, 31, 56), "Fengtai": (36, 29, 61), "Shijingshan": (37, 31, 62),
    "Mentougou": (32, 24, 55), "Fangshan": (35, 28, 64), "Tongzhou": (37, 34, 68),
    "Shunyi": (35, 25, 56), "Daxing": (37, 33, 64), "Changping": (33, 23, 53),
    "Pinggu": (34, 20, 52), "Huairou": (29, 17, 46), "Miyun": (29, 19, 48),
    "Yanqing": (31, 20, 50), "Beijing Economic-Technological Development Area": (37, 33, 64),
}  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("urban", (35.8, 28.2, 57.3)), ("central12", (37.9, 31.0, 58.2))],
)
def test_city_rules_reproduce_the_statement_consistency_note(rule, expected):
    # beijing_2020_statement.md: every urban station at its district's published value gives
    # 35.8 / 28.2 / 57.3 (all 23 urban stations) and 37.9 / 31.0 / 58.2 (12 central stations)
    assert tuple(DISTRICTS_2020) == DISTRICTS
    beijing = Network.from_file(ROOT / "stations" / "beijing_35.csv")
    table = np.array([DISTRICTS_2020.get(d, (np.nan,) * 3) for d in beijing.stations["district"]])
    values = {p: np.repeat(table[:, k, None], 8784, axis=1) for k, p in
              enumerate(("PM2.5", "NO2", "PM10"))}  # fmt: skip
    s = compute_statistics(HourlyReadings(beijing.ids, 2020, values), beijing, city_rule=rule)
    got = tuple(
        round(s.area_value("city", p, "annual_mean", raw=True), 1) for p in ("PM2.5", "NO2", "PM10")
    )
    assert got == expected
    for d, (pm, no2, pm10) in DISTRICTS_2020.items():  # districts come back unchanged
        assert s.area_value(d, "PM2.5", "annual_mean") == pm
        assert s.area_value(d, "NO2", "annual_mean") == no2
        assert s.area_value(d, "PM10", "annual_mean") == pm10


def test_missing_pollutant_leaves_aqi_days_empty(net, tmp_path):
    r = constant_readings(net, 2021, {})
    del r.values["SO2"]
    s = compute_statistics(r, net)
    assert s.area_value("city", "AQI", "valid_days") == 0
    assert "SO2" not in set(s.by_station["pollutant"])
    text = write_statistics(s, tmp_path / "o").joinpath("summary.md").read_text()
    assert ("Days meeting the standard and heavy-pollution days: not computed (the daily AQI "
            "needs all six pollutants (HJ 633-2012); no readings of SO2)") in text


# ------------------------------------------------------------ real readings: UCI 2015 (issue 12)

UCI_2015 = ROOT / "scenarios" / "readings" / "uci_beijing_2015"
UCI_SITES = ("aotizhongxin", "pingchang", "dingling", "dongsi", "guanyuan", "gucheng",
             "huairou", "nongzhanguan", "shunyi", "tiantan", "wanliu", "wanshouxigong")
PUBLISHED_2015 = {"PM2.5": 80.6, "PM10": 101.5, "NO2": 50.0, "SO2": 13.5}
"""Beijing's published 2015 annual means, µg/m³ (35 stations; UCI data set README)."""
PUBLISHED_DAYS_2015 = 186

HJ633_LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
HJ633_24H = {  # HJ 633-2012 Table 1 (standards.md §3.1); O3 is the 8-h column
    "SO2": (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "NO2": (0, 40, 80, 180, 280, 565, 750, 940),
    "PM10": (0, 50, 150, 250, 350, 420, 500, 600),
    "CO": (0, 2, 4, 14, 24, 36, 48, 60),
    "O3": (0, 100, 160, 215, 265, 800),
    "PM2.5": (0, 35, 75, 115, 150, 250, 350, 500),
}


def _gbt8170(x: float, decimals: int):
    """GB/T 8170 rounding (half to even on an exact 5) as an exact Fraction."""
    from decimal import ROUND_HALF_EVEN, Decimal
    from fractions import Fraction

    d = Decimal(f"{x:.{decimals + 6}f}").quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_EVEN)
    return Fraction(d)


def _iaqi_by_hand(c, p: str) -> int:
    """IAQI of a rounded daily concentration (exact arithmetic), rounded up (HJ 633 §5)."""
    import math

    bp = HJ633_24H[p]
    if c > bp[-1]:
        return 500
    i = next(k for k in range(1, len(bp)) if c <= bp[k])
    lo, hi = HJ633_LEVELS[i - 1], HJ633_LEVELS[i]
    return math.ceil(lo + (hi - lo) * (c - bp[i - 1]) / (bp[i] - bp[i - 1]))


def _uci_city_by_hand(monthly_rule: bool = True) -> dict[str, float]:
    """HJ 663 / HJ 633 with pandas from the raw UCI files, the 12 sites as the city.

    Station daily mean: >= 20 valid hours; O3: 8-h means with >= 6 hours, MDA8 over the
    17 windows inside the day (>= 14 valid, or fewer but above 160); city daily = mean
    of the valid station daily values; annual: >= 324 valid days (and >= 27 each month,
    25 in February, unless relaxed); AQI from the six city daily values rounded as
    published (integers, CO 1 decimal)."""
    df = pd.concat([pd.read_csv(f) for f in sorted(UCI_2015.glob("*.csv.gz"))])
    df = df[df["year"] == 2015].copy()
    df["CO"] = df["CO"] / 1000.0  # the data set gives CO in µg/m³
    df["time"] = pd.to_datetime(df[["year", "month", "day", "hour"]])
    hours = pd.date_range("2015-01-01", periods=8760, freq="h")
    city: dict[str, pd.Series] = {}
    for p in ("PM2.5", "PM10", "NO2", "SO2", "CO", "O3"):
        wide = df.pivot(index="time", columns="station", values=p).reindex(hours)
        if p == "O3":
            m8 = wide.rolling(8, min_periods=6).mean()  # window ending at each hour
            inside = m8[m8.index.hour >= 7]  # windows lying inside the day
            day = inside.index.normalize()
            n, top = inside.notna().groupby(day).sum(), inside.groupby(day).max()
            daily = top.where((n >= 14) | ((n >= 1) & (top > 160)))
        else:
            day = wide.index.normalize()
            daily = wide.groupby(day).mean().where(wide.notna().groupby(day).sum() >= 20)
        city[p] = daily.mean(axis=1, skipna=True)
    out = {}
    for p, series in city.items():
        valid = series.dropna()
        per_month = valid.groupby(valid.index.month).size().reindex(range(1, 13), fill_value=0)
        need = np.where(per_month.index == 2, 25, 27)
        ok = len(valid) >= 324 and (not monthly_rule or (per_month.to_numpy() >= need).all())
        out[p] = valid.mean() if ok else np.nan
        if p == "CO":
            out["CO p95"] = np.percentile(valid, 95) if ok else np.nan
        if p == "O3":
            out["O3 p90"] = np.percentile(valid, 90) if ok else np.nan
    table = pd.DataFrame(city).dropna()
    aqi = [max(_iaqi_by_hand(_gbt8170(row[p], 1 if p == "CO" else 0), p) for p in HJ633_24H)
           for _, row in table.iterrows()]
    out["valid days"] = float(len(aqi))
    out["days meeting"] = float(sum(a <= 100 for a in aqi))
    out["heavy days"] = float(sum(a > 200 for a in aqi))
    return out


@pytest.fixture(scope="module")
def uci_2015_stats(tmp_path_factory):
    """``netsim stats`` on the raw UCI 2015 files (as downloaded, no conversion)."""
    out = tmp_path_factory.mktemp("uci") / "stats_2015"
    rc = main(["stats", "--stations", str(ROOT / "stations" / "beijing_35.csv"), "--readings",
               str(UCI_2015), "--year", "2015", "--city-rule", ",".join(UCI_SITES),
               "--out", str(out)])  # fmt: skip
    assert rc == 0
    return out


def _area(out: Path, pollutant: str, statistic: str) -> float:
    df = pd.read_csv(out / "annual_by_area.csv", keep_default_na=False)
    row = df.query("area == 'city' and pollutant == @pollutant and statistic == @statistic")
    return float(row["value"].iloc[0])


@pytest.mark.slow
def test_uci_2015_city_figures_match_the_published_ones(uci_2015_stats):
    for p, published in PUBLISHED_2015.items():
        got = _area(uci_2015_stats, p, "annual_mean")
        assert abs(got - published) <= 0.05 * published, (p, got, published)
    days = _area(uci_2015_stats, "AQI", "days_meeting_standard")
    assert abs(days - PUBLISHED_DAYS_2015) <= 3


@pytest.mark.slow
def test_uci_2015_city_figures_equal_a_hand_computation(uci_2015_stats):
    hand = _uci_city_by_hand()
    for p in PUBLISHED_2015:
        assert _area(uci_2015_stats, p, "annual_mean") == float(_gbt8170(hand[p], 0)), p
    assert _area(uci_2015_stats, "CO", "p95_daily") == float(_gbt8170(hand["CO p95"], 1))
    assert _area(uci_2015_stats, "O3", "p90_mda8") == float(_gbt8170(hand["O3 p90"], 0))
    assert _area(uci_2015_stats, "AQI", "valid_days") == hand["valid days"]
    assert _area(uci_2015_stats, "AQI", "days_meeting_standard") == hand["days meeting"]
    assert _area(uci_2015_stats, "AQI", "heavy_pollution_days") == hand["heavy days"]


@pytest.mark.slow
def test_uci_2015_stations_absent_from_the_readings_are_listed_once(uci_2015_stats):
    text = (uci_2015_stats / "summary.md").read_text(encoding="utf-8")
    assert text.count("Not in the readings (23 station(s) of the network): beibuxinqu,") == 1
    assert text.count("beibuxinqu") == 1
    assert ("traffic (roadside) stations (qianmen, yongdingmennei, xizhimenbei, nansanhuan, "
            "dongsihuan): PM2.5 not computed (none of its stations is in the readings)") in text
    assert "nan" not in text.lower().replace("nansanhuan", "")


@pytest.mark.slow
def test_monthly_rule_can_be_relaxed_on_the_command_line(uci_2015_stats, tmp_path, capsys):
    """Nongzhanguan's 2015 PM2.5 has 347 valid days but only 26 in September."""
    kept = pd.read_csv(uci_2015_stats / "annual_by_station.csv", keep_default_na=False)
    row = kept.query("station_id == 'nongzhanguan' and pollutant == 'PM2.5' and "
                     "statistic == 'annual_mean'").iloc[0]
    assert row["value"] == "" and row["reason"].startswith("not valid: Sep has 26 valid days")
    out = tmp_path / "relaxed"
    rc = main(["stats", "--stations", str(ROOT / "stations" / "beijing_35.csv"), "--readings",
               str(UCI_2015), "--year", "2015", "--monthly-rule", "relax", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    relaxed = pd.read_csv(out / "annual_by_station.csv", keep_default_na=False)
    row = relaxed.query("station_id == 'nongzhanguan' and pollutant == 'PM2.5' and "
                        "statistic == 'annual_mean'").iloc[0]
    raw = pd.read_csv(UCI_2015 / "PRSA_Data_Nongzhanguan_20150101-20151231.csv.gz")
    daily = raw.groupby(["month", "day"])["PM2.5"].agg(["mean", "count"])
    daily = daily[daily["count"] >= 20]["mean"]
    assert len(daily) == 347 and row["valid_days"] == 347
    assert float(row["value"]) == float(_gbt8170(daily.mean(), 0))
    rc = main(["stats", "--stations", str(SMALL_NET), "--readings", str(UCI_2015), "--year",
               "2015", "--monthly-rule", "sometimes", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "--monthly-rule 'sometimes': expected 'keep' or 'relax'" in err


SMALL_NET = DATA / "stations_small.csv"
