"""netsim.timeseries: per-cell annual statistics from kriged hourly/daily maps.

Reference values are computed independently of the module: one 1-D kriging
call per hour (stations with a missing hour dropped), day means by reshaping,
percentiles by ``numpy.percentile`` (linear = HJ 663 Annex A), MDA8 by explicit
windows, IAQI from the HJ 633-2012 table written out here.
"""

from __future__ import annotations

import numpy as np
import pytest

from netsim import timeseries
from netsim.errors import NetsimError
from netsim.kriging import krige
from netsim.timeseries import AQI_CATEGORY_BANDS, AnnualMaps, annual_statistics
from netsim.variogram import Variogram

VG = Variogram("spherical", psill=120.0, range=40_000.0, nugget=0.0)
XY = np.array(
    [
        [0.0, 0.0],
        [30_000.0, 5_000.0],
        [12_000.0, 28_000.0],
        [40_000.0, 35_000.0],
        [22_000.0, 14_000.0],
        [5_000.0, 40_000.0],
    ]
)
TARGETS = np.array(
    [
        [0.0, 0.0],
        [22_000.0, 14_000.0],
        [10_000.0, 10_000.0],
        [35_000.0, 20_000.0],
        [20_000.0, 38_000.0],
        [2_000.0, 25_000.0],
        [45_000.0, 0.0],
    ]
)


def hourly_values(n_days: int, seed: int = 3, missing: float = 0.05, level: float = 45.0):
    rng = np.random.default_rng(seed)
    t = np.arange(24 * n_days)
    diurnal = 10 * np.sin(2 * np.pi * (t % 24) / 24)
    episodes = 40 * np.clip(np.sin(2 * np.pi * t / (24 * 9)), 0, None)
    v = level + diurnal[:, None] + episodes[:, None] + 15 * rng.random((t.size, len(XY)))
    v += np.linspace(-8, 8, len(XY))[None, :]
    v[rng.random(v.shape) < missing] = np.nan
    return v


def brute_force_maps(values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(T, m): one 1-D kriging per step with only that step's stations."""
    out = np.full((values.shape[0], targets.shape[0]), np.nan)
    for t, row in enumerate(values):
        ok = np.isfinite(row)
        if ok.sum() >= 3:
            out[t] = krige(XY[ok], row[ok], targets, VG).estimate
    return out


def day_means(hourly: np.ndarray) -> np.ndarray:
    """(m, D) from (T, m): mean of >= 20 valid hours, else NaN (GB 3095 Table 4)."""
    d = hourly.T.reshape(hourly.shape[1], -1, 24)
    n = np.isfinite(d).sum(axis=2)
    with np.errstate(invalid="ignore"):
        return np.where(n >= 20, np.nanmean(np.where(n[..., None] > 0, d, 0.0), axis=2), np.nan)


PM25_BP = [
    (0, 35, 0, 50),
    (35, 75, 50, 100),
    (75, 115, 100, 150),
    (115, 150, 150, 200),
    (150, 250, 200, 300),
    (250, 350, 300, 400),
    (350, 500, 400, 500),
]


def pm25_iaqi(c: float) -> float:
    """HJ 633-2012 Table 1, PM2.5 24-h, on the integer-reported concentration, rounded up."""
    c = float(np.round(c))  # no exact .5 ties occur with these random data
    for lo, hi, ilo, ihi in PM25_BP:
        if lo <= c <= hi:
            return float(np.ceil(round(ilo + (ihi - ilo) * (c - lo) / (hi - lo), 9)))
    return 500.0


# ---------------------------------------------------------------------------


def test_hourly_statistics_equal_brute_force_per_hour_kriging():
    values = hourly_values(12)
    maps = annual_statistics(XY, values, TARGETS, VG, pollutant="PM2.5", apply_annual_rule=False)
    ref_daily = day_means(brute_force_maps(values, TARGETS))  # (m, D)
    np.testing.assert_allclose(maps["pm25_annual_mean"], np.nanmean(ref_daily, axis=1), rtol=1e-10)
    np.testing.assert_array_equal(maps["pm25_valid_days"], np.isfinite(ref_daily).sum(axis=1))
    np.testing.assert_array_equal(maps["pm25_days_above_limit"], (ref_daily > 75).sum(axis=1))
    np.testing.assert_allclose(
        maps["pm25_p95_daily"],
        [np.percentile(r[np.isfinite(r)], 95) for r in ref_daily],
        rtol=1e-10,
    )
    ref_aqi = np.vectorize(pm25_iaqi)(ref_daily)
    for k, name in enumerate(AQI_CATEGORY_BANDS):
        lo, hi = [0, 50, 100, 150, 200, 300, 10**9][k : k + 2]
        want = ((ref_aqi > lo) & (ref_aqi <= hi)) if k else (ref_aqi <= 50)
        np.testing.assert_array_equal(maps[name], want.sum(axis=1), err_msg=name)
    np.testing.assert_array_equal(maps["aqi_days_meeting_standard"], (ref_aqi <= 100).sum(axis=1))


def test_cell_on_a_station_reproduces_the_station_statistics():
    """Zero nugget: kriging is exact at a station, so its cell gets the station's own values."""
    values = hourly_values(10, missing=0.0)
    maps = annual_statistics(
        XY, values, TARGETS[:2], VG, pollutant="PM2.5", apply_annual_rule=False
    )
    station = values[:, [0, 4]].T.reshape(2, -1, 24).mean(axis=2)  # stations 0 and 4
    np.testing.assert_allclose(maps["pm25_annual_mean"], station.mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(
        maps["pm25_p95_daily"], np.percentile(station, 95, axis=1), rtol=1e-9
    )


def test_o3_p90_of_mda8_at_a_station_cell():
    values = hourly_values(15, missing=0.0, level=120.0)
    maps = annual_statistics(XY, values, TARGETS[:1], VG, pollutant="O3", apply_annual_rule=False)
    h = values[:, 0].reshape(-1, 24)
    mda8 = np.array([max(day[j : j + 8].mean() for j in range(17)) for day in h])
    np.testing.assert_allclose(maps["o3_p90_mda8"][0], np.percentile(mda8, 90), rtol=1e-9)
    assert maps["o3_days_above_limit"][0] == (mda8 > 160).sum()


def test_aqi_day_counts_partition_valid_days_and_good_days_are_excellent_plus_good():
    maps = annual_statistics(
        XY, hourly_values(20), TARGETS, VG, pollutant="PM2.5", apply_annual_rule=False
    )
    total = sum(maps[name] for name in AQI_CATEGORY_BANDS)
    np.testing.assert_array_equal(total, maps["aqi_valid_days"])
    np.testing.assert_array_equal(
        maps["aqi_days_meeting_standard"], maps["aqi_days_excellent"] + maps["aqi_days_good"]
    )


def test_combined_aqi_is_the_worst_pollutant():
    pm = hourly_values(10, seed=1)
    no2 = hourly_values(10, seed=2, level=60.0)
    both = annual_statistics(XY, {"PM2.5": pm, "NO2": no2}, TARGETS, VG, apply_annual_rule=False)
    only_pm = annual_statistics(XY, pm, TARGETS, VG, pollutant="PM2.5", apply_annual_rule=False)
    only_no2 = annual_statistics(XY, no2, TARGETS, VG, pollutant="NO2", apply_annual_rule=False)
    assert both.pollutants == ("PM2.5", "NO2")
    assert np.all(
        both["aqi_days_meeting_standard"]
        <= np.minimum(only_pm["aqi_days_meeting_standard"], only_no2["aqi_days_meeting_standard"])
    )
    np.testing.assert_array_equal(both["pm25_annual_mean"], only_pm["pm25_annual_mean"])
    np.testing.assert_array_equal(both["no2_p98_daily"], only_no2["no2_p98_daily"])


def test_daily_step_uses_values_as_daily_statistics():
    rng = np.random.default_rng(5)
    daily = 30 + 60 * rng.random((366, len(XY)))
    maps = annual_statistics(XY, daily, TARGETS[:1], VG, pollutant="PM2.5", step="day")
    np.testing.assert_allclose(maps["pm25_annual_mean"][0], daily[:, 0].mean(), rtol=1e-10)
    assert maps["pm25_days_above_limit"][0] == (daily[:, 0] > 75).sum()
    assert maps.year == 2020 and maps.n_steps == 366


def test_chunk_size_does_not_change_results():
    values = hourly_values(8)
    a = annual_statistics(
        XY, values, TARGETS, VG, pollutant="PM2.5", chunk_size=2, apply_annual_rule=False
    )
    b = annual_statistics(
        XY, values, TARGETS, VG, pollutant="PM2.5", chunk_size=1000, apply_annual_rule=False
    )
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_cell_blocks_do_not_change_results(monkeypatch):
    """Cells reduced a block at a time, blocks across three kriging chunks and days left
    unmapped, give the values of one pass over each chunk's cells."""
    rng = np.random.default_rng(11)
    targets = rng.uniform(0.0, 45_000.0, (1_300, 2))
    daily = 30 + 60 * rng.random((366, len(XY)))
    daily[rng.random(daily.shape) < 0.02] = np.nan
    daily[40, :4] = np.nan  # two stations left: PM2.5 unmapped on day 41
    values = {"PM2.5": daily, "O3": 2.0 * daily[:, ::-1]}
    monkeypatch.setattr(timeseries, "_KRIGE_CHUNK_OUTPUTS", 366 * 512)  # 512-cell chunks

    def statistics(block: int) -> AnnualMaps:
        monkeypatch.setattr(timeseries, "_CELL_BLOCK", block)
        return annual_statistics(XY, values, targets, VG, step="day")

    whole, blocked = statistics(10**6), statistics(97)
    assert list(blocked) == list(whole)
    for name in whole:
        np.testing.assert_array_equal(blocked[name], whole[name], err_msg=name)
    assert blocked["pm25_valid_days"].max() < 366


def test_annual_rule_blanks_cells_without_enough_valid_days():
    values = hourly_values(366, missing=0.0)
    values[24 * 31 : 24 * 40] = np.nan  # 9 days of February lost everywhere: Feb has 20 < 25
    maps = annual_statistics(XY, values, TARGETS[:2], VG, pollutant="PM2.5", year=2020)
    assert np.all(np.isnan(maps["pm25_annual_mean"]))
    assert np.all(maps["pm25_valid_days"] == 357)
    full = annual_statistics(
        XY, hourly_values(366, missing=0.0), TARGETS[:2], VG, pollutant="PM2.5", year=2020
    )
    assert np.all(np.isfinite(full["pm25_annual_mean"]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"values": np.ones((25, 6)), "pollutant": "PM2.5"}, "whole number of days"),
        ({"values": np.ones((48, 6))}, "name its pollutant"),
        ({"values": np.ones((48, 5)), "pollutant": "PM2.5"}, "expected \\(time steps, 6"),
        ({"values": np.ones((48, 6)), "pollutant": "PM1"}, "unknown pollutant"),
        ({"values": np.ones((48, 6)), "pollutant": "PM2.5", "step": "week"}, "step="),
        (
            {"values": np.ones((48, 6)), "pollutant": "PM2.5", "apply_annual_rule": True},
            "whole calendar year",
        ),
    ],
)
def test_bad_input_is_a_one_line_error(kwargs, match):
    kwargs = {"apply_annual_rule": False, **kwargs}
    values = kwargs.pop("values")
    with pytest.raises(NetsimError, match=match) as info:
        annual_statistics(XY, values, TARGETS, VG, **kwargs)
    assert "\n" not in str(info.value)


def test_write_and_read_back_on_a_grid(tmp_path):
    from netsim.grid import Grid
    from netsim.rasters import read_raster

    grid = Grid(
        resolution_m=10_000.0,
        west_m=0.0,
        north_m=40_000.0,
        shape=(4, 5),
        district=np.zeros((4, 5), dtype=np.int16),
    )
    maps = annual_statistics(
        XY, hourly_values(6), grid.targets(), VG, pollutant="PM2.5", apply_annual_rule=False
    )
    assert isinstance(maps, AnnualMaps) and maps.targets.shape == (20, 2)
    path = tmp_path / "pm25_days.tif"
    maps.write(path, grid, bands=["pm25_annual_mean", "aqi_days_meeting_standard"])
    r = read_raster(path)
    assert list(r.bands) == ["pm25_annual_mean", "aqi_days_meeting_standard"]
    np.testing.assert_allclose(
        r.bands["pm25_annual_mean"], grid.to_array(maps["pm25_annual_mean"]), rtol=1e-6
    )
    assert r.tags["step"] == "hour"
    with pytest.raises(NetsimError, match="unknown band"):
        maps.write(tmp_path / "x.tif", grid, bands=["nope"])


def test_from_readings_matches_direct_call():
    from types import SimpleNamespace

    from netsim.grid import Grid
    from netsim.timeseries import annual_statistics_from_readings

    values = hourly_values(366, missing=0.02)
    ids = np.array([f"s{i}" for i in range(len(XY))])
    readings = SimpleNamespace(
        station_ids=ids[::-1], year=2020, source="<test>", values={"PM2.5": values[:, ::-1].T}
    )
    network = SimpleNamespace(ids=ids, xy=XY, source="<test>")
    grid = Grid(
        resolution_m=15_000.0,
        west_m=0.0,
        north_m=45_000.0,
        shape=(3, 3),
        district=np.zeros((3, 3), dtype=np.int16),
    )
    a = annual_statistics_from_readings(readings, network, grid, {"PM2.5": VG})
    b = annual_statistics(XY, values, grid.targets(), VG, pollutant="PM2.5", year=2020)
    for name in b:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, err_msg=name)
