"""One "too ill-conditioned" criterion for the global and the local kriging paths.

The criterion (``netsim.kriging.api`` docstring): the reciprocal 1-norm condition
number of the symmetrically scaled system ``EAE`` must be >= ``RCOND_MIN``.  The
reference values here come from NumPy (``np.linalg.cond(EAE, 1)`` on a system
built in the test from ``Variogram.gamma``) and from PyKrige.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from pykrige.ok import OrdinaryKriging

from netsim import Variogram, krige
from netsim.errors import KrigingError
from netsim.kriging import _kernels
from netsim.kriging.api import RCOND_MIN

MESSAGE = re.compile(
    r"^singular or ill-conditioned kriging system: reciprocal condition number (\S+) "
    r"< 1e-08 \(1-norm\) (.+); (the variogram is too smooth .+)$"
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    xy = rng.random((40, 2)) * 50_000.0
    z = rng.normal(60.0, 15.0, 40)
    targets = rng.random((250, 2)) * 60_000.0 - 5_000.0
    return xy, z, targets


def _system(xy, v, noise=None, simple=False, drift=False):
    """The kriging system built from Variogram.gamma (semivariance form, or covariances)."""
    n = xy.shape[0]
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    noise = np.zeros(n) if noise is None else noise
    if simple:
        return v.covariance(d) + np.diag(noise)
    cols = [np.ones(n)]
    if drift:
        span = max(np.ptp(xy, axis=0).max(), 1.0)
        cols += [(xy[:, 0] - xy[:, 0].mean()) / span, (xy[:, 1] - xy[:, 1].mean()) / span]
    f = np.column_stack(cols)
    p = f.shape[1]
    a = np.zeros((n + p, n + p))
    a[:n, :n] = v.gamma(d) - np.diag(noise)
    a[:n, n:] = f
    a[n:, :n] = f.T
    return a


def _numpy_rcond(a, n, noise, simple):
    """1 / cond_1(EAE) with the documented scaling E, by NumPy."""
    noise_free = a[:n, :n] - (np.diag(noise) if simple else -np.diag(noise))
    g = np.abs(noise_free).max()
    e = np.r_[1.0 / np.sqrt(g + noise), np.full(a.shape[0] - n, np.sqrt(g))]
    return 1.0 / np.linalg.cond(a * e[:, None] * e[None, :], 1)


@pytest.mark.parametrize("simple", [False, True])
@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("model", ["spherical", "gaussian", "exponential"])
def test_rcond_of_both_routes_equals_numpy(model, noisy, simple):
    rng = np.random.default_rng(7)
    k = 12
    xy = rng.random((k, 2)) * 30_000.0
    noise = rng.random(k) * 40.0 if noisy else np.zeros(k)
    v = Variogram(model, 50.0, 45_000.0, 0.5)
    a = _system(xy, v, noise, simple)
    ref = _numpy_rcond(a, k, noise, simple)
    # global path: system_rcond from the explicit inverse
    assert _kernels.system_rcond(a, np.linalg.inv(a), k, noise, simple) == pytest.approx(ref, 1e-9)
    # local Cholesky route: from C⁻¹ by the block-inverse identity, and its O(k) lower bound
    c = _system(xy, v, noise, simple=True)
    cinv = np.linalg.inv(c)
    r = cinv.sum(axis=1)
    gmax = (v.sill - c[~np.eye(k, dtype=bool)]).max()
    exact = _kernels._covariance_route_rcond(
        c, cinv, r, r.sum(), k, simple, v.sill, gmax, noise, np.empty((2, k + 1))
    )
    assert exact == pytest.approx(ref, 1e-9)
    g = v.sill if simple else gmax
    isc = np.sqrt(g + noise)
    bound = _kernels._rcond_lower_bound(np.trace(cinv), isc, r, r.sum(), k, simple, v.sill, g)
    assert 0 < bound <= exact * (1 + 1e-12)


def test_rcond_with_linear_drift_equals_numpy(data):
    xy, _, _ = data
    v = Variogram("exponential", 50.0, 30_000.0, 2.0)
    a = _system(xy, v, drift=True)
    n = xy.shape[0]
    ref = _numpy_rcond(a, n, np.zeros(n), False)
    assert _kernels.system_rcond(a, np.linalg.inv(a), n, np.zeros(n), False) == pytest.approx(
        ref, 1e-9
    )


def test_rcond_does_not_depend_on_units():
    rng = np.random.default_rng(3)
    xy = rng.random((10, 2)) * 20_000.0
    noise = rng.random(10)
    values = []
    for unit in (1.0, 1e-3, 1e3):  # e.g. µg/m³ vs mg/m³: semivariances scale by unit²
        v = Variogram("gaussian", 50.0 * unit**2, 15_000.0, 0.1 * unit**2)
        a = _system(xy, v, noise * unit**2)
        values.append(_kernels.system_rcond(a, np.linalg.inv(a), 10, noise * unit**2, False))
    np.testing.assert_allclose(values, values[0], rtol=1e-9)


def test_gaussian_200km_without_nugget_raises_the_same_error_in_both_paths(data):
    xy, z, tg = data
    v = Variogram("gaussian", 200.0, 200_000.0, 0.0)
    messages = []
    for k in (None, 10):
        with pytest.raises(KrigingError) as err:
            krige(xy, z, tg, v, n_neighbours=k)
        messages.append(str(err.value))
    glob, local = (MESSAGE.match(m) for m in messages)
    assert glob and local, messages
    assert "\n" not in messages[0] + messages[1]
    assert glob.group(3) == local.group(3)  # the same explanation and fix
    assert float(glob.group(1)) < RCOND_MIN and float(local.group(1)) < RCOND_MIN
    assert glob.group(2) == "for the 40 stations"
    assert re.fullmatch(
        r"in \d+ neighbour set\(s\) of 10 stations, used by \d+ target\(s\) in "
        r"easting -?\d+ to -?\d+ m, northing -?\d+ to -?\d+ m",
        local.group(2),
    )


@pytest.mark.parametrize(
    "model, nugget", [("spherical", 15.0), ("exponential", 0.0), ("gaussian", 5.0)]
)
def test_well_conditioned_case_equals_pykrige_to_1e10_in_both_paths(data, model, nugget):
    xy, z, tg = data
    v = Variogram(model, 200.0, 20_000.0, nugget)
    ok = OrdinaryKriging(xy[:, 0], xy[:, 1], z, **v.to_pykrige())
    e, s = ok.execute("points", tg[:, 0], tg[:, 1])
    el, sl = ok.execute("points", tg[:, 0], tg[:, 1], backend="loop", n_closest_points=10)
    for k, ref_e, ref_s in ((None, e, s), (10, el, sl)):
        r = krige(xy, z, tg, v, n_neighbours=k)
        np.testing.assert_allclose(r.estimate, ref_e, rtol=1e-10, atol=0)
        np.testing.assert_allclose(r.variance, ref_s, rtol=0, atol=1e-10 * v.sill)


def _cluster():
    """8 stations within 12 km, 5 far away (> 400 km): one target's 8 nearest are the cluster."""
    rng = np.random.default_rng(5)
    near = rng.random((8, 2)) * 12_000.0
    far = 400_000.0 + rng.random((5, 2)) * 50_000.0
    return near, np.vstack([near, far]), np.array([[6_000.0, 6_000.0]])


def _range_at(rcond: float, near: np.ndarray) -> float:
    """Gaussian range (no nugget) at which NumPy's rcond of the cluster's system is ``rcond``."""
    lo, hi = 2_000.0, 500_000.0

    def rc(r):
        a = _system(near, Variogram("gaussian", 30.0, r, 0.0))
        return _numpy_rcond(a, 8, np.zeros(8), False)

    for _ in range(80):  # rcond falls as the range grows
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if rc(mid) > rcond else (lo, mid)
    return np.sqrt(lo * hi)


@pytest.mark.parametrize("factor, refused", [(1.3, False), (0.77, True)])
def test_borderline_system_is_decided_alike_in_both_paths(factor, refused):
    near, everything, target = _cluster()
    v = Variogram("gaussian", 30.0, _range_at(factor * RCOND_MIN, near), 0.0)
    z_near = np.linspace(20.0, 40.0, 8)
    z_all = np.r_[z_near, np.full(5, 90.0)]
    outcomes = []
    for xy, z, k in ((near, z_near, None), (everything, z_all, 8)):  # global; local (8 of 13)
        try:
            outcomes.append(krige(xy, z, target, v, n_neighbours=k))
        except KrigingError as exc:
            outcomes.append(str(exc))
    if refused:
        g, loc = (MESSAGE.match(m) for m in outcomes)
        assert g and loc
        # the same quantity, computed by each path from its own inverse
        assert float(g.group(1)) == pytest.approx(float(loc.group(1)), rel=0.1)
        assert float(g.group(1)) == pytest.approx(factor * RCOND_MIN, rel=0.1)
    else:
        g, loc = outcomes
        np.testing.assert_allclose(g.estimate, loc.estimate, rtol=1e-6)


def test_huge_error_variance_is_not_ill_conditioning():
    rng = np.random.default_rng(9)
    xy = rng.random((12, 2)) * 20_000.0
    nv = np.zeros(12)
    nv[3] = 1e14  # the station barely counts; the system itself is fine
    v = Variogram("spherical", 40.0, 15_000.0, 1.0)
    for k in (None, 6):
        r = krige(xy, rng.normal(50, 5, 12), xy[:4] + 100.0, v, n_neighbours=k, noise_variance=nv)
        assert np.all(np.isfinite(r.estimate))


def test_global_inverse_warning_is_not_shown(data):
    xy, z, tg = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(KrigingError, match="ill-conditioned"):
            krige(xy, z, tg, Variogram("gaussian", 200.0, 200_000.0, 0.0))
