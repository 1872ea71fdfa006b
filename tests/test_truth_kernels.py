"""The truth's numba kernels (netsim.truth_kernels) against the NumPy implementations they
replaced and against hand values; results independent of the thread count."""

from __future__ import annotations

import math
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pytest

from netsim.network import Network
from netsim.truth import TruthSettings, TruthWorld, _key, _location_key, _rng, diurnal_profiles
from netsim.truth_fields import ORIGIN_XY, SpectralField
from netsim.truth_kernels import ar1_filter, daily_field, exp_array

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "stations" / "beijing_35.csv"


def _single_and_all_threads(f):
    """``f()`` with numba on one thread and on all of them."""
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = f()
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        return one, f()
    finally:
        numba.set_num_threads(before)


# ----------------------------------------------------------------------------
# Random fields
# ----------------------------------------------------------------------------


def numpy_at_points(field: SpectralField, xy: np.ndarray) -> np.ndarray:
    """The NumPy/BLAS evaluation the point kernel replaced."""
    xy = np.asarray(xy, dtype=float) - np.asarray(ORIGIN_XY)
    phase = xy @ field.k.T
    return (np.cos(phase) @ field.z1 + np.sin(phase) @ field.z2) / np.sqrt(field.n_modes)


@pytest.mark.parametrize("model", ["exponential", "gaussian"])
def test_point_kernel_equals_the_numpy_evaluation(model):
    field = SpectralField.draw(np.random.default_rng(4), 25_000.0, model=model)
    pts = np.random.default_rng(5).uniform([380e3, 4380e3], [520e3, 4520e3], size=(300, 2))
    np.testing.assert_allclose(field.at_points(pts), numpy_at_points(field, pts), rtol=0,
                               atol=1e-11)


def test_lattice_kernel_equals_point_kernel_to_1e10():
    field = SpectralField.draw(np.random.default_rng(3), 30_000.0)
    xs = 400_000.0 + 1000.0 * np.arange(53)
    ys = 4_450_000.0 - 1000.0 * np.arange(37)
    lattice = field.on_lattice(xs, ys)
    gx, gy = np.meshgrid(xs, ys)
    points = field.at_points(np.column_stack([gx.ravel(), gy.ravel()])).reshape(lattice.shape)
    assert lattice.dtype == np.float64
    np.testing.assert_allclose(lattice, points, rtol=0, atol=1e-10)


def test_lattice_columns_restrict_each_row():
    field = SpectralField.draw(np.random.default_rng(8), 20_000.0)
    xs, ys = 400_000.0 + 1000.0 * np.arange(20), 4_450_000.0 - 1000.0 * np.arange(11)
    first = np.arange(11) % 5
    end = first + 7
    end[3] = first[3]  # an empty row
    part = field.on_lattice(xs, ys, columns=(first, end))
    full = field.on_lattice(xs, ys)
    inside = np.zeros(part.shape, dtype=bool)
    for iy in range(11):
        inside[iy, first[iy]:end[iy]] = True
    np.testing.assert_array_equal(part[inside], full[inside])
    assert np.isnan(part[~inside]).all()


def test_grid_basis_does_not_depend_on_the_thread_count():
    from netsim.grid import Grid

    world = TruthWorld(Grid.for_beijing(5000.0), TruthSettings(seed=3))
    one, many = _single_and_all_threads(lambda: world.realise(2)._grid_basis)
    assert one.tobytes() == many.tobytes()


# ----------------------------------------------------------------------------
# exp
# ----------------------------------------------------------------------------


def test_vectorised_exp_is_within_one_ulp_of_libm():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-708, 709, 200_000), rng.uniform(-3, 3, 200_000),
                        [0.0, -0.0, 1.0, -1.0, 1e-300, 700.0, -700.0]])
    out, work = np.empty_like(x), np.empty_like(x)
    exp_array(x, out, work)
    ref = np.array([math.exp(v) for v in x])
    assert np.max(np.abs(out - ref) / ref) <= np.finfo(float).eps
    assert out[-7] == out[-6] == out[-3] == 1.0  # exp(0), exp(-0), exp(1e-300)


def test_vectorised_exp_outside_the_range_falls_back_to_libm():
    x = np.array([709.5, 800.0, -745.0, -800.0, np.inf, -np.inf, np.nan])
    out, work = np.empty_like(x), np.empty_like(x)
    exp_array(x, out, work)
    with np.errstate(over="ignore"):
        expected = np.exp(x)
    np.testing.assert_array_equal(out, expected)


def test_vectorised_exp_mixes_both_paths_element_by_element():
    """Values inside and outside [-708, 709] in one array: each element takes its own path."""
    inside = np.array([1.0, -0.5, 3.25, -700.0])
    outside = np.array([800.0, np.nan, 709.5, -745.0])
    x = np.empty(8)
    x[0::2], x[1::2] = inside, outside
    out, work = np.empty_like(x), np.empty_like(x)
    exp_array(x, out, work)
    alone, alone_work = np.empty_like(inside), np.empty_like(inside)
    exp_array(inside, alone, alone_work)
    np.testing.assert_array_equal(out[0::2], alone)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out[1::2], np.exp(outside))


# ----------------------------------------------------------------------------
# Daily fields
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("n_basis", [1, 2, 5, 6, 7])
def test_daily_field_sums_the_basis_terms_in_order(n_basis):
    """Bit for bit: the exponent s · (((0 + a_0 φ_0) + a_1 φ_1) + …), summed in k order, its
    exp by :func:`exp_array`, then (· T(d)) · scale, each step a correctly rounded IEEE
    operation, so NumPy's elementwise arithmetic in the same order gives the same bits."""
    rng = np.random.default_rng(n_basis)
    n, n_days, s_daily = 1500, 40, 0.7
    scale = rng.uniform(5, 80, n)
    coef = rng.standard_normal((n_days, n_basis))
    phi = rng.standard_normal((n_basis, n))
    temporal = rng.uniform(0.3, 2.5, n_days)
    exponent = np.zeros((n_days, n))
    for k in range(n_basis):
        exponent = exponent + coef[:, k:k + 1] * phi[k]
    exponent = exponent * s_daily
    expected = np.empty_like(exponent)
    exp_array(exponent.ravel(), expected.ravel(), np.empty(exponent.size))
    expected = expected * temporal[:, None] * scale
    daily = np.empty((n_days, n))
    daily_field(scale, coef, phi, temporal, s_daily, daily, np.empty(n))
    np.testing.assert_array_equal(daily, expected)


def test_daily_field_equals_the_numpy_expression_and_its_annual_mean():
    rng = np.random.default_rng(1)
    n, n_days, k = 2500, 366, 6
    scale = rng.uniform(5, 80, n)
    coef = rng.standard_normal((n_days, k)) / np.sqrt(k)
    phi = rng.standard_normal((k, n))
    temporal = rng.uniform(0.3, 2.5, n_days)
    daily64 = np.empty((n_days, n))
    daily32 = np.empty((n_days, n), dtype=np.float32)
    annual, annual_only = np.empty(n), np.empty(n)
    daily_field(scale, coef, phi, temporal, 0.3, daily64, annual)
    daily_field(scale, coef, phi, temporal, 0.3, daily32, np.empty(n))
    daily_field(scale, coef, phi, temporal, 0.3, np.empty((0, 0)), annual_only)
    expected = np.exp(0.3 * (coef @ phi)) * temporal[:, None] * scale[None, :]
    np.testing.assert_allclose(daily64, expected, rtol=1e-13)
    np.testing.assert_array_equal(daily32, daily64.astype(np.float32))
    np.testing.assert_allclose(annual, expected.mean(axis=0), rtol=1e-13)
    np.testing.assert_array_equal(annual_only, annual)


def test_annual_mean_is_shared_and_consistent_with_daily():
    from netsim.grid import Grid

    world = TruthWorld(Grid.for_beijing(5000.0), TruthSettings(seed=2))
    truth = world.realise(1)
    first = truth.annual_mean("PM2.5")
    assert truth.annual_mean("PM2.5") is first  # computed once, shared by the networks
    assert not first.flags.writeable
    daily = truth.daily("PM2.5")
    np.testing.assert_allclose(first, daily.astype(float).mean(axis=0), rtol=1e-7)
    pts = world.grid.targets()[::7]
    np.testing.assert_allclose(truth.at_points(pts, "PM2.5"), daily[:, ::7], rtol=1e-7)


# ----------------------------------------------------------------------------
# Hourly readings: the draws of the NumPy implementation, value for value
# ----------------------------------------------------------------------------


def _numpy_hourly(truth, network: Network, p: str) -> np.ndarray:
    """The previous sampler: numpy Generators per station and a Python AR(1) loop
    (no traffic stations: the daily truth then equals ``at_points``)."""
    from netsim.instruments import StationErrors

    world, seed, r = truth.world, truth.seed, truth.r
    errors = StationErrors.of(network)
    ids, xy = network.ids, network.xy
    hp = world.parameters.hourly
    nd, nh = world.n_days, world.n_hours
    daily = truth.at_points(xy, p).T
    prof = diurnal_profiles(p, nd, hp)
    sigma, rho = hp.sigma[p], hp.rho
    out = np.empty((len(ids), nh))
    for i, c in enumerate(errors.classes):
        loc = _location_key(*xy[i])
        orng = _rng(seed, r, 5, _key(ids[i]), *loc)
        outage = np.zeros(nh, dtype=bool)
        k = orng.poisson(c.outages_per_year * nd / 365.0)
        starts = orng.integers(0, nh, size=k)
        for start, length in zip(starts, orng.integers(c.outage_hours[0],
                                                       c.outage_hours[1] + 1, size=k),
                                 strict=True):
            outage[start:start + length] = True
        z = _rng(seed, r, 3, _key(p), *loc).standard_normal(nh + 1, dtype=np.float32)
        irng = _rng(seed, r, 4, _key(ids[i]), *loc, _key(p))
        gain = 1.0 + (errors.bias_pct[i] + errors.unit_bias_sd_pct[i] * irng.standard_normal()
                      ) / 100.0
        eps = irng.standard_normal(nh, dtype=np.float32)
        drop = (irng.random(nh, dtype=np.float32) < c.missing_pct / 100.0) | outage
        a = float(z[0])
        for t in range(nh):
            a = rho * a + math.sqrt(1 - rho * rho) * float(z[t + 1])
            v = daily[i, t // 24] * prof[t // 24, t % 24] * math.exp(sigma * a - 0.5 * sigma ** 2)
            v *= gain * (1.0 + errors.noise_pct[i] / 100.0 * float(eps[t]))
            out[i, t] = np.nan if drop[t] else max(v, 0.0)
    return out


def _mixed_network() -> Network:
    base = Network.from_file(BASELINE).select(type="urban").stations.iloc[:3]
    sensors = pd.DataFrame({"station_id": ["s1", "s2"], "type": "sensor", "district": "",
                            "lon": [116.31, 116.52], "lat": [39.95, 39.81],
                            "instrument": "lowcost"})
    frame = pd.concat([base[["station_id", "type", "district", "lon", "lat"]].assign(
        instrument="reference"), sensors], ignore_index=True)
    return Network.from_frame(frame)


@pytest.mark.parametrize("p", ["PM2.5", "O3"])
def test_hourly_readings_equal_the_numpy_sampler(p):
    network = _mixed_network()
    truth = TruthWorld(None, TruthSettings(seed=17)).realise(4)
    ours = truth.sample_hourly(network, pollutants=[p]).values[p]
    ref = _numpy_hourly(truth, network, p)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))  # same missing hours
    assert np.isnan(ref).any()
    np.testing.assert_allclose(ours, ref, rtol=1e-14)


def test_hourly_readings_do_not_depend_on_the_thread_count():
    network = Network.from_file(BASELINE)
    truth = TruthWorld(None, TruthSettings(seed=5)).realise(2)
    one, many = _single_and_all_threads(
        lambda: truth.sample_hourly(network, pollutants=["NO2", "CO"]).values)
    for p in ("NO2", "CO"):
        assert one[p].tobytes() == many[p].tobytes()


def test_networks_sampled_together_read_as_when_sampled_alone():
    """A station shared by two networks is sampled once, so it reads identically in both;
    every station (shared, moved, retyped, added) reads as in its network's own sampling —
    to 1e-13: the pattern's thin-plate spline (scipy, BLAS) rounds differently with the
    batch of points it is evaluated on."""
    base = Network.from_file(BASELINE)
    cols = ["station_id", "type", "district", "lon", "lat"]
    frame = base.stations[cols].copy()
    frame.loc[0, "lon"] += 0.05  # moved: another location key
    frame.loc[1, "type"] = "traffic" if frame.loc[1, "type"] != "traffic" else "urban"
    added = pd.DataFrame({"station_id": ["new1", "a0"], "type": ["urban", "urban"],
                          "district": ["", ""], "lon": [116.7, frame.loc[0, "lon"]],
                          "lat": [40.2, frame.loc[0, "lat"]]})
    changed = Network.from_frame(pd.concat([frame.iloc[3:], added], ignore_index=True))
    truth = TruthWorld(None, TruthSettings(seed=8)).realise(3)
    together = truth.sample_networks({"baseline": base, "scenario": changed},
                                     pollutants=["PM10", "O3"])
    shared = [sid for sid in changed.ids if sid in set(base.ids[3:])]
    for p in ("PM10", "O3"):
        a = together["baseline"].select(shared).values[p]
        b = together["scenario"].select(shared).values[p]
        assert a.tobytes() == b.tobytes()
    for name, net in (("baseline", base), ("scenario", changed)):
        alone = truth.sample_hourly(net, pollutants=["PM10", "O3"])
        assert list(together[name].station_ids) == list(alone.station_ids)
        for p in ("PM10", "O3"):
            np.testing.assert_array_equal(np.isnan(together[name].values[p]),
                                          np.isnan(alone.values[p]))
            np.testing.assert_allclose(together[name].values[p], alone.values[p], rtol=1e-13)


# ----------------------------------------------------------------------------
# AR(1) series
# ----------------------------------------------------------------------------


def _ar1_by_lfilter(rng: np.random.Generator, shape: tuple[int, ...], rho: float,
                    dtype=np.float64) -> np.ndarray:
    """netsim.truth._ar1 as it was, on scipy.signal.lfilter."""
    from scipy.signal import lfilter

    z = rng.standard_normal((*shape[:-1], shape[-1] + 1)).astype(dtype, copy=False)
    zi = (rho * z[..., :1]).astype(dtype)
    out, _ = lfilter([math.sqrt(1.0 - rho * rho)], [1.0, -rho], z[..., 1:], axis=-1, zi=zi)
    return out.astype(dtype, copy=False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(366,), (24, 366), (3, 5, 17), (4, 1)])
@pytest.mark.parametrize("rho", [0.0, 0.35, 0.8, 0.97, -0.5])
def test_ar1_series_are_the_bits_of_scipys_lfilter(shape, rho, dtype):
    from netsim.truth import _ar1

    ours = _ar1(_rng(2020, 7, 1000), shape, rho, dtype)
    scipys = _ar1_by_lfilter(_rng(2020, 7, 1000), shape, rho, dtype)
    assert ours.dtype == scipys.dtype and ours.shape == scipys.shape == shape
    np.testing.assert_array_equal(ours.view(np.uint8), scipys.view(np.uint8))


def test_ar1_series_follow_the_recursion_by_hand():
    x = np.array([[1.0, -2.0, 0.5]])
    out = np.empty_like(x)
    ar1_filter(x, 0.5, 2.0, np.array([4.0]), out)
    # y0 = 4 + 2·1 = 6; y1 = 0.5·6 + 2·(−2) = −1; y2 = 0.5·(−1) + 2·0.5 = 0.5
    np.testing.assert_array_equal(out, [[6.0, -1.0, 0.5]])


def test_sampling_one_pollutant_at_a_time_gives_the_same_bits():
    """Every draw is keyed by its pollutant: sampling the pollutants one at a time reads
    exactly what sampling them together does, in every network."""
    base = Network.from_file(BASELINE)
    changed = Network.from_frame(base.stations[["station_id", "type", "district", "lon",
                                                "lat"]].iloc[5:])
    truth = TruthWorld(None, TruthSettings(seed=8)).realise(2)
    networks = {"baseline": base, "scenario": changed}
    together = truth.sample_networks(networks, pollutants=["O3", "PM2.5", "CO"])
    seen = []
    for p, readings in truth.sample_networks_by_pollutant(networks,
                                                          pollutants=["O3", "PM2.5", "CO"]):
        seen.append(p)
        for name in networks:
            assert list(readings[name].values) == [p]
            assert list(readings[name].station_ids) == list(together[name].station_ids)
            assert readings[name].values[p].tobytes() == together[name].values[p].tobytes()
    assert seen == ["O3", "PM2.5", "CO"]
