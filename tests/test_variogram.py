"""Variogram models against PyKrige/GSTools formulas, I/O, empirical variogram and WLS fitting."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pykrige import variogram_models as pkm
from scipy import optimize

from netsim.errors import VariogramError
from netsim.variogram import MODELS, Variogram, empirical_variogram, fit_variogram

H = np.linspace(1.0, 60_000.0, 257)


@pytest.mark.parametrize("model", ["spherical", "exponential", "gaussian", "linear", "power"])
def test_gamma_equals_pykrige_model(model):
    v = Variogram(model, psill=42.0, range=18_000.0, nugget=3.5, exponent=1.3)
    params = list(v.to_pykrige()["variogram_parameters"].values())
    ref = getattr(pkm, f"{model}_variogram_model")(params, H)
    np.testing.assert_allclose(v.gamma(H), ref, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("model", ["spherical", "exponential", "gaussian", "matern"])
@pytest.mark.parametrize("nu", [0.5, 1.3, 2.5])
def test_gamma_equals_gstools_with_documented_conversion(model, nu):
    v = Variogram(model, psill=7.0, range=25_000.0, nugget=0.4, smoothness=nu)
    np.testing.assert_allclose(v.gamma(H), v.to_gstools().variogram(H), rtol=1e-12, atol=1e-12)


def test_matern_half_is_exponential():
    a = Variogram("matern", 5.0, 20_000.0, 1.0, smoothness=0.5)
    b = Variogram("exponential", 5.0, 20_000.0, 1.0)
    np.testing.assert_allclose(a.gamma(H), b.gamma(H), rtol=1e-12)


def test_gamma_zero_at_origin_and_sill():
    v = Variogram("spherical", 10.0, 1000.0, 2.0)
    assert v.gamma(0.0) == 0.0
    assert v.gamma(1e-11) == 0.0
    assert v.gamma(5000.0) == pytest.approx(12.0)
    assert v.sill == 12.0
    assert v.covariance(0.0) == pytest.approx(12.0)
    assert v.covariance(5000.0) == pytest.approx(0.0)


def test_unbounded_models_have_no_covariance():
    with pytest.raises(VariogramError, match="unbounded"):
        Variogram("linear", 1.0, 1000.0).covariance(10.0)


def test_anisotropy_matches_pykrige_adjustment():
    from pykrige.core import _adjust_for_anisotropy

    rng = np.random.default_rng(1)
    xy = rng.random((20, 2)) * 1e4
    c = np.array([3000.0, 4000.0])
    v = Variogram("spherical", 1.0, 1000.0, anisotropy_scaling=2.5, anisotropy_angle=35.0)
    ref = _adjust_for_anisotropy(xy.copy(), list(c), [2.5], [35.0])
    np.testing.assert_allclose(v.adjust(xy, c), ref, rtol=1e-13)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "cubic", "psill": 1, "range": 1}, "model"),
        ({"model": "spherical", "psill": 0, "range": 1}, "psill"),
        ({"model": "spherical", "psill": 1, "range": -5}, "range"),
        ({"model": "spherical", "psill": 1, "range": 1, "nugget": -1}, "nugget"),
        ({"model": "spherical", "psill": float("nan"), "range": 1}, "psill"),
        ({"model": "power", "psill": 1, "range": 1, "exponent": 2.5}, "exponent"),
        ({"model": "matern", "psill": 1, "range": 1, "smoothness": 0}, "smoothness"),
    ],
)
def test_bad_parameters_raise(kwargs, match):
    with pytest.raises(VariogramError, match=match):
        Variogram(**kwargs)


def test_dict_and_file_round_trip(tmp_path):
    v = Variogram("matern", 3.0, 12_000.0, 0.5, 1.5, 20.0, smoothness=1.5)
    assert Variogram.from_dict(v.to_dict()) == v
    p = tmp_path / "v.json"
    p.write_text(json.dumps(v.to_dict()))
    assert Variogram.from_file(p) == v
    y = tmp_path / "v.yaml"
    y.write_text("model: spherical\nsill: 10\nnugget: 2\nrange: 5000\n")
    assert Variogram.from_file(y) == Variogram("spherical", 8.0, 5000.0, 2.0)
    with pytest.raises(VariogramError, match="unknown field"):
        Variogram.from_dict({"model": "spherical", "psill": 1, "range": 1, "sil": 3})


def test_empirical_variogram_hand_example():
    # three collinear stations 0, 1000, 2000 m with values 0, 1, 3:
    # lag 1000: pairs (0,1) and (1,3): (1 + 4) / (2 * 2) = 1.25; lag 2000: 9 / 2 = 4.5
    xy = np.array([[0.0, 0.0], [1000.0, 0.0], [2000.0, 0.0]])
    emp = empirical_variogram(xy, np.array([0.0, 1.0, 3.0]), n_lags=2, max_distance=2000.0)
    np.testing.assert_allclose(emp.lag, [1000.0, 2000.0])
    np.testing.assert_allclose(emp.gamma, [1.25, 4.5])
    np.testing.assert_array_equal(emp.count, [2, 1])


def test_empirical_variogram_pools_time_steps_and_skips_nan():
    xy = np.array([[0.0, 0.0], [1000.0, 0.0], [2000.0, 0.0]])
    vals = np.array([[0.0, 1.0, 3.0], [0.0, np.nan, 3.0]])
    emp = empirical_variogram(xy, vals, n_lags=2, max_distance=2000.0)
    np.testing.assert_allclose(emp.gamma, [1.25, 4.5])
    np.testing.assert_array_equal(emp.count, [2, 2])


def test_empirical_matches_gstools_estimator():
    import gstools as gs

    rng = np.random.default_rng(4)
    xy = rng.random((60, 2)) * 1e4
    z = rng.normal(size=60)
    edges = np.linspace(0, 5000.0, 6)
    emp = empirical_variogram(xy, z, n_lags=5, max_distance=5000.0)
    _, g_ref, cnt = gs.vario_estimate((xy[:, 0], xy[:, 1]), z, edges, return_counts=True)
    np.testing.assert_allclose(emp.gamma, g_ref[cnt > 0], rtol=1e-12)
    np.testing.assert_array_equal(emp.count, cnt[cnt > 0])


def _synthetic(model="spherical", n=400, seed=0):
    import gstools as gs

    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 1e5
    truth = Variogram(model, 20.0, 30_000.0, 2.0)
    srf = gs.SRF(truth.to_gstools(), seed=seed)
    z = np.asarray(srf((xy[:, 0], xy[:, 1])))
    return xy, z, truth


def test_fit_recovers_exact_model_from_its_own_curve(monkeypatch):
    # When the empirical semivariogram *is* the model, WLS must return the model.
    xy, z, truth = _synthetic()
    import netsim.variogram as vm

    emp = vm.empirical_variogram(xy, z, n_lags=15, max_distance=60_000.0)
    exact = vm.EmpiricalVariogram(emp.lag, truth.gamma(emp.lag), emp.count, emp.bin_edges)
    monkeypatch.setattr(vm, "empirical_variogram", lambda *a, **k: exact)
    fit = vm.fit_variogram(xy, z, "spherical", n_lags=15, max_distance=60_000.0)
    assert fit.success
    assert fit.variogram.psill == pytest.approx(20.0, rel=1e-6)
    assert fit.variogram.range == pytest.approx(30_000.0, rel=1e-6)
    assert fit.variogram.nugget == pytest.approx(2.0, rel=1e-5)
    assert fit.weighted_sse < 1e-12


def test_fit_simulated_field_is_plausible_and_honours_fixed_and_bounds():
    xy, z, _ = _synthetic()
    fit = fit_variogram(xy, z, "spherical", n_lags=15, max_distance=60_000.0)
    assert fit.success and fit.r_squared > 0.8
    assert 10_000 < fit.variogram.range < 80_000
    fixed = fit_variogram(xy, z, "exponential", fixed={"nugget": 0.0}, bounds={"range": (5e3, 2e4)})
    assert fixed.variogram.nugget == 0.0
    assert 5e3 <= fixed.variogram.range <= 2e4
    assert fixed.free == ("psill", "range")
    with pytest.raises(VariogramError, match="unknown parameter"):
        fit_variogram(xy, z, fixed={"sill": 1.0})


def test_fit_cressie_objective_is_minimised():
    xy, z, _ = _synthetic(seed=3)
    fit = fit_variogram(xy, z, "gaussian", n_lags=12)
    emp = fit.empirical

    def crit(v):
        g = v.gamma(emp.lag)
        return float(np.sum(emp.count * (emp.gamma / g - 1.0) ** 2))

    best = crit(fit.variogram)
    assert best == pytest.approx(fit.weighted_sse, rel=1e-9)
    v = fit.variogram
    for d in (0.97, 1.03):
        for field in ("psill", "range", "nugget"):
            kw = v.to_dict()
            kw[field] = kw[field] * d if kw[field] > 0 else 1e-3
            assert crit(Variogram(**kw)) >= best - 1e-9


def test_models_tuple():
    assert MODELS == ("spherical", "exponential", "gaussian", "linear", "power", "matern")
    assert math.isclose(
        Variogram("linear", 4.0, 2.0).to_pykrige()["variogram_parameters"]["slope"], 2.0
    )


# --------------------------------------------------------------- the network recipe


def test_range_bounds_hand_values():
    from netsim.variogram import range_bounds

    # a 146 km network (Beijing's 35 stations): 5 km to 2 x 146 km, as netsim run always had
    assert range_bounds(145_749.7) == pytest.approx((5_000.0, 291_499.4))
    # a 3.4 km network (3 stations close together): 0.1 x and 2 x the extent
    assert range_bounds(3_418.0) == pytest.approx((341.8, 6_836.0))
    # the switch is at 50 km, where both rules give 5 km
    assert range_bounds(50_000.0) == pytest.approx((5_000.0, 100_000.0))


def test_three_close_stations_fit_within_bounds_and_warn():
    # issue 11.8: 3 map stations within ~3.4 km gave "bounds['range']: expected low < high"
    from netsim.variogram import fit_network_variogram

    xy = np.array([[450_000.0, 4_420_000.0], [452_400.0, 4_420_300.0], [451_000.0, 4_422_600.0]])
    out = fit_network_variogram(xy, np.array([41.0, 44.5, 39.0]))
    lo, hi = out.range_bounds_m
    assert out.extent_m == pytest.approx(np.hypot(2_400.0, 2_600.0))
    assert lo < hi and lo <= out.variogram.range <= hi
    assert any("only 3 stations" in w for w in out.warnings)


def _old_run_recipe(xy, values, model):
    """netsim run's fit before the recipe moved to netsim.variogram (run.py at 2cd0c39)."""
    extent = float(np.hypot(*np.ptp(xy, axis=0)))
    return fit_variogram(
        xy, values, model, n_lags=8, max_distance=0.6 * extent,
        bounds={"range": (5_000.0, 2.0 * extent)},
    )  # fmt: skip


@pytest.mark.parametrize("model", ["spherical", "exponential"])
@pytest.mark.parametrize("steps", [1, 20])
def test_run_fit_unchanged_on_the_35_station_network(model, steps):
    """Same parameters as before for the map stations of beijing_35 (annual and (T, n) values)."""
    from pathlib import Path
    from types import SimpleNamespace

    from netsim.measure import _fit_variogram
    from netsim.network import MAP_STATION_TYPES, Network

    net = Network.from_file(Path(__file__).resolve().parents[1] / "stations" / "beijing_35.csv")
    use = np.isin(net.types, MAP_STATION_TYPES)
    xy = net.xy[use]
    rng = np.random.default_rng(11)
    trend = 38.0 + (4_430_000.0 - xy[:, 1]) / 4e3
    values = trend + rng.normal(0.0, 3.0, (steps, len(xy)))
    values = values[0] if steps == 1 else values
    scenario = SimpleNamespace(name="t", kriging=SimpleNamespace(model=model))
    new = _fit_variogram(scenario, xy, values, "fit", "fix")
    old = _old_run_recipe(xy, values, model).variogram
    assert new == old  # every parameter identical (dataclass equality)


def test_network_fit_warns_when_the_range_runs_to_its_bound():
    from netsim.variogram import fit_network_variogram

    # a pure linear trend: the semivariogram rises over every lag, never levels off
    rng = np.random.default_rng(2)
    xy = rng.random((30, 2)) * 60_000.0
    z = 40.0 + xy[:, 0] / 1_000.0
    out = fit_network_variogram(xy, z)
    assert out.variogram.range == pytest.approx(out.range_bounds_m[1], rel=1e-6)
    assert len(out.warnings) == 1 and "upper bound" in out.warnings[0]
    # unbounded (fit_variogram's defaults: up to 10 x the largest lag) it runs further
    assert fit_variogram(xy, z, n_lags=8).variogram.range > out.range_bounds_m[1]


def test_msdr_warning_thresholds():
    from netsim.variogram import msdr_warning

    assert msdr_warning(1.0, 30) is None and msdr_warning(0.5, 30) is None
    assert msdr_warning(2.0, 30) is None and msdr_warning(float("nan"), 30) is None
    low, high = msdr_warning(0.25, 30), msdr_warning(4.0, 30)
    assert "overstate" in low and "2-fold" in low  # std twice the errors: sqrt(1 / 0.25)
    assert "understate" in high and "2-fold" in high


@pytest.mark.parametrize("model", MODELS)
def test_fit_takes_scipys_two_point_iterates(model):
    """fit_variogram's cheaper Jacobian gives SciPy's jac='2-point' fit bit for bit."""
    import netsim.variogram as vm

    rng = np.random.default_rng(MODELS.index(model))
    xy = rng.uniform(0.0, 150_000.0, (40, 2))
    z = 40.0 + np.sin(xy[:, 0] / 30_000.0) * 15.0 + rng.normal(0.0, 3.0, 40)
    fit = fit_variogram(xy, z, model, n_lags=8, bounds={"range": (5_000.0, 300_000.0)})
    emp = fit.empirical
    free = list(fit.free)
    x0, lo, hi = vm._start_and_bounds(emp, free, {"range": (5_000.0, 300_000.0)}, 1.0)

    def residuals(theta):
        params = dict(zip(free, theta, strict=True))
        g = Variogram(model, params["psill"], params["range"], params["nugget"],
                      exponent=params.get("exponent", 1.0)).gamma(emp.lag)
        return np.sqrt(emp.count) * (emp.gamma - g) / np.maximum(g, 1e-300)

    reference = optimize.least_squares(residuals, np.array(x0), bounds=(lo, hi), method="trf")
    assert [getattr(fit.variogram, p) for p in free] == list(reference.x)
    assert fit.nfev == reference.nfev
