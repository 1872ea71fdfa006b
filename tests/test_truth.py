"""Tests of the synthetic truth world (netsim.truth, truth_fields, truth_roads)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zlib
from pathlib import Path

import gstools as gs
import numpy as np
import pandas as pd
import pytest

from netsim.crs import lonlat_to_xy
from netsim.errors import NetworkError, ScenarioError
from netsim.network import Network
from netsim.pollutants import POLLUTANT_NAMES
from netsim.truth import (
    INSTRUMENTS,
    TruthSettings,
    TruthWorld,
    _key,
    diurnal_profiles,
    load_calibration,
)
from netsim.truth_fields import SpectralField, correlation
from netsim.truth_roads import road_distance_m, road_weight

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "stations" / "beijing_35.csv"


@pytest.fixture(scope="module")
def world() -> TruthWorld:
    return TruthWorld(None, TruthSettings(seed=11))


@pytest.fixture(scope="module")
def baseline() -> Network:
    return Network.from_file(BASELINE)


def _xy(lonlat: list[tuple[float, float]]) -> np.ndarray:
    lon, lat = np.asarray(lonlat, dtype=float).T
    return np.column_stack(lonlat_to_xy(lon, lat))


POINTS = _xy([(116.40, 39.90), (116.30, 39.55), (116.0, 40.45), (116.66, 40.13), (115.7, 39.9)])


# ----------------------------------------------------------------- determinism


def test_same_seed_and_realisation_are_identical(world):
    a = world.realise(3).at_points(POINTS, "PM2.5")
    b = TruthWorld(None, TruthSettings(seed=11)).realise(3).at_points(POINTS, "PM2.5")
    np.testing.assert_array_equal(a, b)


def test_different_realisation_or_seed_differs(world):
    a = world.realise(3).at_points(POINTS, "NO2")
    assert not np.allclose(a, world.realise(4).at_points(POINTS, "NO2"))
    other = TruthWorld(None, TruthSettings(seed=12)).realise(3).at_points(POINTS, "NO2")
    assert not np.allclose(a, other)


def test_string_keys_are_crc32_not_python_hash():
    assert _key("dongsi") == zlib.crc32(b"dongsi")


def test_truth_does_not_depend_on_python_hash_seed():
    code = (
        "import hashlib, numpy as np;"
        "from netsim.network import Network;"
        "from netsim.truth import TruthWorld, TruthSettings;"
        f"net = Network.from_file({str(BASELINE)!r}).select(type='traffic');"
        "truth = TruthWorld(None, TruthSettings(seed=5)).realise(2);"
        "rd = truth.sample_hourly(net, pollutants=['NO2']);"
        "print(hashlib.sha256(np.nan_to_num(rd.values['NO2'], nan=-1).tobytes()).hexdigest())"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    here = {}
    exec(code.replace("print(", "here['d'] = ("), {"here": here})
    assert out.stdout.strip() == here["d"]


# ----------------------------------------------------------------- common random numbers


def test_unchanged_stations_read_identically_in_another_network(world, baseline):
    truth = world.realise(1)
    base = truth.sample_hourly(baseline, pollutants=["PM2.5", "O3"])
    st = baseline.stations
    keep = st[st["station_id"] != "dongsi"]
    added = pd.DataFrame(
        {
            "station_id": ["new_south"],
            "type": ["urban"],
            "district": ["Daxing"],
            "lon": [116.35],
            "lat": [39.65],
        }
    )
    frame = pd.concat(
        [keep[["station_id", "type", "district", "direction", "lon", "lat"]], added],
        ignore_index=True,
    )
    scen_net = Network.from_frame(frame)
    scen = truth.sample_hourly(scen_net, pollutants=["PM2.5", "O3"])
    for p in ("PM2.5", "O3"):
        for sid in keep["station_id"].iloc[:10]:
            i = list(base.station_ids).index(sid)
            j = list(scen.station_ids).index(sid)
            np.testing.assert_array_equal(base.values[p][i], scen.values[p][j])


def test_moved_station_reads_differently(world, baseline):
    truth = world.realise(1)
    one = baseline.select(ids=["dongsi"])
    moved_frame = one.stations[["station_id", "type", "district", "lon", "lat"]].copy()
    moved_frame["lon"] += 0.05
    moved = Network.from_frame(moved_frame)
    a = truth.sample_hourly(one, pollutants=["NO2"]).values["NO2"][0]
    b = truth.sample_hourly(moved, pollutants=["NO2"]).values["NO2"][0]
    assert not np.allclose(np.nan_to_num(a), np.nan_to_num(b))


# ----------------------------------------------------------------- anomalies


def test_anomaly_has_mean_one_over_realisations(world):
    """Realisation-mean of the multiplicative anomaly A = c / (B·T) is 1."""
    ratios = []
    for r in range(40):
        truth = world.realise(r)
        c = truth.at_points(POINTS, "PM2.5")
        b = world.base_at(POINTS, "PM2.5")
        t = truth.temporal_factor("PM2.5")
        ratios.append((c / (b[None, :] * t[:, None])).mean(axis=0))
    ratios = np.array(ratios)  # (realisations, points)
    mean = ratios.mean(axis=0)
    se = ratios.std(axis=0, ddof=1) / np.sqrt(len(ratios))
    assert np.all(np.abs(mean - 1.0) < 4 * se + 0.005)
    # annual anomaly varies between realisations (it is not switched off)
    assert np.all(ratios.std(axis=0) > 0.01)


def test_temporal_factor_has_mean_one_and_heating_season(world):
    truth = world.realise(0)
    for p in POLLUTANT_NAMES:
        assert truth.temporal_factor(p).mean() == pytest.approx(1.0, rel=1e-12)
    pm, o3 = [], []
    for r in range(10):
        t = world.realise(r)
        pm.append(t.temporal_factor("PM2.5"))
        o3.append(t.temporal_factor("O3"))
    pm, o3 = np.mean(pm, axis=0), np.mean(o3, axis=0)
    winter = np.r_[0:59, 320:366]
    summer = np.r_[152:244]
    assert pm[winter].mean() > 1.2 * pm[summer].mean()
    assert o3[summer].mean() > 2.0 * o3[winter].mean()


def test_anomaly_strength_zero_gives_pattern_times_season():
    w = TruthWorld(None, TruthSettings(seed=1, anomaly_strength=0.0))
    truth = w.realise(0)
    c = truth.at_points(POINTS, "SO2")
    expected = w.base_at(POINTS, "SO2")[None, :] * truth.temporal_factor("SO2")[:, None]
    np.testing.assert_allclose(c, expected, rtol=1e-12)


# ----------------------------------------------------------------- random fields


@pytest.mark.parametrize("model", ["exponential", "gaussian"])
def test_random_field_covariance_matches_model(model):
    """Empirical correlation of many seeded fields matches C(h) of the model (GSTools form)."""
    len_scale = 20_000.0
    rng = np.random.default_rng(0)
    lags = np.array([0.0, 5_000.0, 10_000.0, 20_000.0, 40_000.0])
    base = rng.uniform(0, 150_000, size=(300, 2)) + np.array([380_000.0, 4_380_000.0])
    theta = rng.uniform(0, 2 * np.pi, size=300)
    prods = np.zeros(len(lags))
    var = 0.0
    n_fields = 40
    for f in range(n_fields):
        field = SpectralField.draw(np.random.default_rng(100 + f), len_scale, model=model)
        v0 = field.at_points(base)
        var += np.mean(v0**2) / n_fields
        for i, h in enumerate(lags):
            other = base + h * np.column_stack([np.cos(theta), np.sin(theta)])
            prods[i] += np.mean(v0 * field.at_points(other)) / n_fields
    emp = prods / var
    gs_model = (
        gs.Exponential(dim=2, len_scale=len_scale)
        if model == "exponential"
        else gs.Gaussian(dim=2, len_scale=len_scale * np.sqrt(np.pi) / 2)  # GSTools rescales
    )
    np.testing.assert_allclose(correlation(model, lags, len_scale), gs_model.correlation(lags))
    assert var == pytest.approx(1.0, abs=0.1)
    np.testing.assert_allclose(emp, correlation(model, lags, len_scale), atol=0.08)


def test_correlation_length_recovered_from_empirical_variogram():
    """Fit GSTools' exponential variogram to one large field: length within 35 %."""
    len_scale = 15_000.0
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 200_000, size=(2000, 2)) + np.array([350_000.0, 4_350_000.0])
    fits = []
    for f in range(4):
        field = SpectralField.draw(np.random.default_rng(50 + f), len_scale, n_modes=1024)
        vals = field.at_points(pts)
        bins = np.linspace(0, 45_000, 16)
        centres, gamma = gs.vario_estimate(pts.T, vals, bins)
        model = gs.Exponential(dim=2)
        model.fit_variogram(centres, gamma, nugget=False)
        fits.append(model.len_scale)
    assert np.median(fits) == pytest.approx(len_scale, rel=0.35)


def test_lattice_evaluation_equals_point_evaluation():
    field = SpectralField.draw(np.random.default_rng(3), 30_000.0)
    xs = 400_000.0 + 1000.0 * np.arange(40)
    ys = 4_450_000.0 - 1000.0 * np.arange(30)
    lat = field.on_lattice(xs, ys)
    gx, gy = np.meshgrid(xs, ys)
    pts = field.at_points(np.column_stack([gx.ravel(), gy.ravel()])).reshape(lat.shape)
    np.testing.assert_allclose(lat, pts, atol=2e-3)


# ----------------------------------------------------------------- grid


@pytest.fixture(scope="module")
def coarse_world():
    from netsim.grid import Grid

    return TruthWorld(Grid.for_beijing(5000.0), TruthSettings(seed=4))


def test_daily_field_shape_dtype_and_point_consistency(coarse_world):
    truth = coarse_world.realise(2)
    grid = coarse_world.grid
    daily = truth.daily("NO2")
    assert daily.shape == (366, grid.n_cells)
    assert daily.dtype == np.float32
    assert not daily.flags.writeable
    am = truth.annual_mean("NO2")
    assert am.shape == (grid.n_cells,)
    np.testing.assert_allclose(am, daily.mean(axis=0), rtol=1e-5)
    idx = np.arange(0, grid.n_cells, 37)
    pts = truth.at_points(grid.targets()[idx], "NO2")
    np.testing.assert_allclose(daily[:, idx], pts, rtol=2e-3)
    assert np.all(daily > 0)


def test_large_scale_pattern_south_high_north_west_low(coarse_world):
    w = coarse_world
    south = _xy([(116.3, 39.55), (116.75, 39.72)])
    northwest = _xy([(115.7, 40.55), (116.3, 40.85)])
    for p in ("PM2.5", "PM10"):
        assert w.pattern_at(south, p).min() > 1.3 * w.pattern_at(northwest, p).max()


def test_daily_requires_a_grid(world):
    with pytest.raises(ValueError, match="no grid"):
        world.realise(0).daily("PM2.5")


# ----------------------------------------------------------------- roads


def test_roadside_increment_decays_with_distance(world):
    # points due north of Chang'an Avenue (39.907 N at 116.2 E to 39.906 N at 116.6 E)
    lat0 = 39.90675
    dists = np.array([0.0, 50.0, 150.0, 400.0, 1500.0])
    lon = np.full(len(dists), 116.30)
    x, y = lonlat_to_xy(lon, np.full(len(dists), lat0))
    xy = np.column_stack([x, y + dists])
    d = road_distance_m(xy)
    assert d[0] < 30.0 and np.all(np.diff(d) > 0)
    decay = world.parameters.roads.decay_m
    w = road_weight(xy, decay)
    np.testing.assert_allclose(w, np.exp(-d / decay))
    inc_no2 = world.base_at(xy, "NO2") - world.pattern_at(xy, "NO2")
    inc_pm = world.base_at(xy, "PM2.5") - world.pattern_at(xy, "PM2.5")
    assert np.all(np.diff(inc_no2) < 0) and inc_no2[-1] < 0.01 * inc_no2[0]
    assert inc_no2[0] > 3 * inc_pm[0] > 0
    o3 = world.base_at(xy, "O3") / world.pattern_at(xy, "O3")
    assert o3[0] < o3[-1] <= 1.0


def test_traffic_stations_get_kerbside_increment(world):
    xy = POINTS[:1]
    plain = world.base_at(xy, "NO2")
    kerb = world.base_at(xy, "NO2", traffic=np.array([True]))
    assert kerb[0] - plain[0] == pytest.approx(world.parameters.kerb.no2)


# ----------------------------------------------------------------- hourly and instruments


def test_hourly_readings_shape_and_validity(world, baseline):
    from netsim.stats import compute_statistics

    rd = world.realise(0).sample_hourly(baseline)
    assert set(rd.values) == set(POLLUTANT_NAMES)
    for arr in rd.values.values():
        assert arr.shape == (35, 8784)
        missing = np.isnan(arr).mean()
        assert 0.002 < missing < 0.04
        assert np.nanmin(arr) >= 0
    stats = compute_statistics(rd, baseline)
    assert stats.by_station_raw["value"].notna().all()


def test_daily_mean_of_hourly_truth_matches_daily_truth(world, baseline):
    net = baseline.select(type="urban")
    truth = world.realise(5)
    rd = truth.sample_hourly(net, pollutants=["CO"], measurement_error=False, missing=False)
    hourly_daily = rd.values["CO"].reshape(len(net), 366, 24).mean(axis=2)
    daily = truth.at_points(net.xy, "CO").T
    ratio = hourly_daily / daily
    assert ratio.mean() == pytest.approx(1.0, abs=0.01)
    assert 0.02 < ratio.std() < 0.2


def test_diurnal_profiles_mean_one_and_o3_afternoon_peak(world):
    hp = world.parameters.hourly
    for p in POLLUTANT_NAMES:
        prof = diurnal_profiles(p, 366, hp)
        np.testing.assert_allclose(prof.mean(axis=1), 1.0)
    o3 = diurnal_profiles("O3", 366, hp)
    assert 13 <= int(np.argmax(o3[180])) <= 16
    assert o3[180].max() > o3[15].max()
    no2 = diurnal_profiles("NO2", 366, hp)[0]
    assert no2[8] > no2[5] and no2[8] > no2[13]


def _sensor_network(n: int, seed: int = 0, **extra) -> Network:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "station_id": [f"s{i:03d}" for i in range(n)],
            "type": "sensor",
            "lon": rng.uniform(116.25, 116.55, n),
            "lat": rng.uniform(39.80, 40.00, n),
            "instrument": "lowcost",
        }
    )
    net = Network.from_frame(frame)
    if extra:
        net = Network(stations=net.stations.assign(**extra), source=net.source)
    return net


def test_lowcost_error_statistics():
    """Per-sensor bias ~ N(bias_pct, unit_bias_sd_pct²); hourly noise sd = noise_pct %."""
    w = TruthWorld(None, TruthSettings(seed=21))
    net = _sensor_network(120)
    truth = w.realise(0)
    exact = truth.sample_hourly(net, pollutants=["PM2.5"], measurement_error=False, missing=False)
    meas = truth.sample_hourly(net, pollutants=["PM2.5"], missing=False)
    ratio = meas.values["PM2.5"] / exact.values["PM2.5"]
    c = INSTRUMENTS["lowcost"]
    unit = ratio.mean(axis=1)  # 1 + b/100 per sensor
    bias_pct = 100 * (unit - 1)
    n = len(bias_pct)
    assert abs(bias_pct.mean() - c.bias_pct) < 4 * c.unit_bias_sd_pct / np.sqrt(n)
    assert bias_pct.std(ddof=1) == pytest.approx(c.unit_bias_sd_pct, rel=0.25)
    noise_pct = 100 * (ratio / unit[:, None]).std(axis=1)
    assert np.median(noise_pct) == pytest.approx(c.noise_pct, rel=0.05)


def test_reference_error_is_small_and_overrides_apply():
    w = TruthWorld(None, TruthSettings(seed=21))
    net = _sensor_network(
        3, instrument="reference", noise_pct=[np.nan, 0.0, 50.0], bias_pct=[np.nan, 0.0, -20.0]
    )
    truth = w.realise(1)
    exact = truth.sample_hourly(net, pollutants=["NO2"], measurement_error=False, missing=False)
    meas = truth.sample_hourly(net, pollutants=["NO2"], missing=False)
    ratio = meas.values["NO2"] / exact.values["NO2"]
    ref = INSTRUMENTS["reference"]
    assert ratio[0].std() == pytest.approx(ref.noise_pct / 100, rel=0.1)
    # no hourly noise, no class bias: a constant gain, 1 + the unit's bias (sd 2 %)
    assert np.ptp(ratio[1]) < 1e-12
    assert abs(ratio[1][0] - 1.0) < 4 * ref.unit_bias_sd_pct / 100
    # -20 % bias and 50 % noise, plus the unit's bias
    assert ratio[2].mean() == pytest.approx(0.8, abs=4 * ref.unit_bias_sd_pct / 100)
    assert ratio[2].std() == pytest.approx(ratio[2].mean() * 0.5, rel=0.1)


def test_bias_override_keeps_the_unit_spread_the_maps_assume():
    """One error model (netsim.instruments): sensors with their own bias_pct still spread
    by the class's unit-to-unit sd (8 % for lowcost), the spread the kriging assumes."""
    from netsim.instruments import StationErrors, annual_mean_error_variance

    w = TruthWorld(None, TruthSettings(seed=22))
    net = _sensor_network(120, noise_pct=25.0, bias_pct=10.0)
    truth = w.realise(0)
    exact = truth.sample_hourly(net, pollutants=["PM2.5"], measurement_error=False, missing=False)
    meas = truth.sample_hourly(net, pollutants=["PM2.5"], missing=False)
    true_annual = exact.values["PM2.5"].mean(axis=1)
    measured_annual = meas.values["PM2.5"].mean(axis=1)
    ratio = measured_annual / true_annual
    c = INSTRUMENTS["lowcost"]
    n = len(ratio)
    assert abs(ratio.mean() - 1.10) < 4 * c.unit_bias_sd_pct / 100 / np.sqrt(n)
    assert ratio.std(ddof=1) == pytest.approx(c.unit_bias_sd_pct / 100, rel=0.25)
    # the error variance the maps use matches the simulated spread of the annual means
    errors = StationErrors.of(net)
    model = annual_mean_error_variance(errors, measured_annual, np.full(n, 8784))
    simulated = (measured_annual - 1.10 * true_annual) ** 2
    assert simulated.mean() == pytest.approx(model.mean(), rel=0.3)


def test_unknown_instrument_is_a_network_error(world):
    net = _sensor_network(2)
    bad = Network(stations=net.stations.assign(instrument=["lowcost", "laser"]), source="x.csv")
    with pytest.raises(NetworkError, match="laser"):
        world.realise(0).sample_hourly(bad, pollutants=["PM2.5"])


# ----------------------------------------------------------------- settings


def test_settings_reject_unknown_keys_and_bad_values():
    with pytest.raises(ValueError):
        TruthSettings(seed=-1)
    with pytest.raises(ValueError):
        TruthSettings(sede=3)
    with pytest.raises(ValueError, match="non-negative"):
        TruthWorld(None, TruthSettings()).realise(-1)


def test_unknown_calibration_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="unknown calibration"):
        load_calibration("beijing_1999")
    bad = tmp_path / "cal.json"
    bad.write_text("{}")
    with pytest.raises(ScenarioError, match="not a netsim calibration"):
        load_calibration(str(bad))


def test_shipped_calibration_by_both_names():
    a = load_calibration("beijing_2020")
    b = load_calibration("calibration_2020")
    assert a == b
    digest = hashlib.sha256(repr(a["parameters"]).encode()).hexdigest()
    assert len(digest) == 64


def test_other_years_use_their_own_calendar(baseline):
    w = TruthWorld(None, TruthSettings(seed=2, year=2021))
    truth = w.realise(0)
    assert truth.at_points(POINTS, "CO").shape == (365, len(POINTS))
    rd = truth.sample_hourly(baseline.select(type="traffic"), pollutants=["CO"])
    assert rd.values["CO"].shape == (5, 8760) and rd.year == 2021


# ----------------------------------------------------------------------------
# Small-scale effect L_p(x) (issue 15 item 3)
# ----------------------------------------------------------------------------


def _world_with_local(s_local: dict[str, float], seed: int = 5) -> TruthWorld:
    from netsim.truth import TruthParameters

    par = TruthParameters.model_validate(load_calibration()["parameters"])
    par = par.model_copy(update={"anomaly": par.anomaly.model_copy(update={"s_local": s_local})})
    return TruthWorld(None, TruthSettings(seed=seed), parameters=par)


def test_local_effect_is_numpys_keyed_normal_per_location():
    """z at a location = numpy's PCG64(SeedSequence([seed, r, 6, crc32(p), x, y])) first normal."""
    w = _world_with_local({"NO2": 0.2})
    xy = np.array([[450_000.4, 4_420_000.0], [460_123.0, 4_410_000.6]])
    got = w.realise(3).local_effect(xy, "NO2")
    for (x, y), g in zip(xy, got, strict=True):
        ss = np.random.SeedSequence([5, 3, 6, zlib.crc32(b"NO2"), int(np.rint(x)), int(np.rint(y))])
        z = np.random.Generator(np.random.PCG64(ss)).standard_normal()
        assert g == pytest.approx(np.exp(0.2 * z - 0.02), rel=1e-15)


def test_local_effect_has_mean_one_and_the_given_log_sd():
    w = _world_with_local({"SO2": 0.3})
    rng = np.random.default_rng(0)
    xy = np.column_stack([rng.uniform(4.0e5, 5.0e5, 20_000), rng.uniform(4.4e6, 4.5e6, 20_000)])
    effect = w.realise(0).local_effect(xy, "SO2")
    # lognormal: mean 1 (se 0.31/sqrt(2e4) = 0.002), sd of the log 0.3 (se 0.0015)
    assert effect.mean() == pytest.approx(1.0, abs=0.01)
    assert np.log(effect).std() == pytest.approx(0.3, abs=0.01)
    # independent between pollutants and realisations
    other = w.realise(1).local_effect(xy, "SO2")
    assert abs(np.corrcoef(np.log(effect), np.log(other))[0, 1]) < 0.03


def test_no_local_effect_leaves_the_truth_unchanged():
    """A pollutant without s_local gets exactly 1: the truth is the one without the effect."""
    xy = np.array([[450_000.0, 4_420_000.0], [470_000.0, 4_400_000.0]])
    plain = _world_with_local({}).realise(2).at_points(xy, "PM2.5")
    other = _world_with_local({"NO2": 0.3}).realise(2).at_points(xy, "PM2.5")
    np.testing.assert_array_equal(plain, other)
    with_local = _world_with_local({"PM2.5": 0.3}).realise(2)
    np.testing.assert_allclose(with_local.at_points(xy, "PM2.5"),
                               plain * with_local.local_effect(xy, "PM2.5")[None, :], rtol=1e-12)


def test_location_keys_of_many_points_equal_the_key_of_each():
    """The vectorised location keys (the local effect's draws are keyed by them) are the
    per-point keys, also for negative and half-metre coordinates (round half to even)."""
    from netsim.truth import _location_key, _location_keys

    rng = np.random.default_rng(5)
    xy = np.vstack([rng.uniform(-5e6, 5e6, (500, 2)), [[0.5, 1.5], [-0.5, -2.5],
                                                       [448123.4999, 4420000.5]]])
    expected = np.array([_location_key(x, y) for x, y in xy], dtype=np.int64)
    np.testing.assert_array_equal(_location_keys(xy), expected)
