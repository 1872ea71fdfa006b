"""netsim.krige equals PyKrige to 1e-10 (estimates relative, variances relative to the sill).

Measured agreement: estimates within 1.1e-13 (relative), variances within 6.2e-12 of
the sill (universal kriging with drifts; ordinary kriging ~1e-12), GSTools within 4e-14.

PyKrige is the independent reference: OrdinaryKriging (global, vectorized backend;
local, loop backend with n_closest_points) and UniversalKriging (regional_linear
and specified drift).  Coordinates are kept within 0-60 km so PyKrige's own
un-centred drift matrix stays well conditioned.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pykrige.ok import OrdinaryKriging
from pykrige.uk import UniversalKriging

from netsim import Variogram, krige

SHARED = ["spherical", "exponential", "gaussian", "linear", "power"]
ANISO = [(1.0, 0.0), (2.0, 30.0), (0.6, -70.0)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    xy = rng.random((40, 2)) * 50_000.0
    z = rng.normal(60.0, 15.0, 40)
    targets = np.vstack([rng.random((250, 2)) * 60_000.0 - 5_000.0, xy[:4]])
    return xy, z, targets


def _vario(model, aniso):
    return Variogram(
        model,
        psill=200.0,
        range=20_000.0,
        nugget=15.0,
        anisotropy_scaling=aniso[0],
        anisotropy_angle=aniso[1],
        exponent=1.4,
    )


TOL = 1e-10


def _check(est, var, ref_est, ref_var, sill):
    np.testing.assert_allclose(est, ref_est, rtol=TOL, atol=0)
    np.testing.assert_allclose(var, ref_var, rtol=0, atol=TOL * sill)


@pytest.mark.parametrize("aniso", ANISO)
@pytest.mark.parametrize("model", SHARED)
def test_ordinary_global_equals_pykrige(data, model, aniso):
    xy, z, tg = data
    v = _vario(model, aniso)
    ok = OrdinaryKriging(xy[:, 0], xy[:, 1], z, **v.to_pykrige())
    e, s = ok.execute("points", tg[:, 0], tg[:, 1])
    r = krige(xy, z, tg, v)
    _check(r.estimate, r.variance, e, s, v.sill)


@pytest.mark.parametrize("aniso", ANISO[:2])
@pytest.mark.parametrize("model", SHARED)
def test_ordinary_local_equals_pykrige_n_closest_points(data, model, aniso):
    xy, z, tg = data
    v = _vario(model, aniso)
    ok = OrdinaryKriging(xy[:, 0], xy[:, 1], z, **v.to_pykrige())
    e, s = ok.execute("points", tg[:, 0], tg[:, 1], backend="loop", n_closest_points=10)
    r = krige(xy, z, tg, v, n_neighbours=10)
    _check(r.estimate, r.variance, e, s, v.sill)


@pytest.mark.parametrize("aniso", ANISO[:2])
@pytest.mark.parametrize("model", SHARED)
def test_universal_drifts_equal_pykrige(data, model, aniso):
    xy, z, tg = data
    v = _vario(model, aniso)
    ext_s = np.sqrt(xy[:, 0] + 1e4) + 0.01 * (xy[:, 1] + 1e4) ** 0.8
    ext_t = np.sqrt(tg[:, 0] + 1e4) + 0.01 * (tg[:, 1] + 1e4) ** 0.8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uk = UniversalKriging(
            xy[:, 0],
            xy[:, 1],
            z,
            drift_terms=["regional_linear", "specified"],
            specified_drift=[ext_s],
            **v.to_pykrige(),
        )
        e, s = uk.execute("points", tg[:, 0], tg[:, 1], specified_drift_arrays=[ext_t])
        uk1 = UniversalKriging(
            xy[:, 0], xy[:, 1], z, drift_terms=["regional_linear"], **v.to_pykrige()
        )
        e1, s1 = uk1.execute("points", tg[:, 0], tg[:, 1])
    r = krige(xy, z, tg, v, method="universal", linear_drift=True, external_drift=(ext_s, ext_t))
    _check(r.estimate, r.variance, e, s, v.sill)
    r1 = krige(xy, z, tg, v, method="universal", linear_drift=True)
    _check(r1.estimate, r1.variance, e1, s1, v.sill)


def test_external_drift_only_equals_pykrige(data):
    xy, z, tg = data
    v = _vario("spherical", (1.0, 0.0))
    ext_s, ext_t = np.cos(xy[:, 0] / 9e3), np.cos(tg[:, 0] / 9e3)
    uk = UniversalKriging(
        xy[:, 0], xy[:, 1], z, drift_terms=["specified"], specified_drift=[ext_s], **v.to_pykrige()
    )
    e, s = uk.execute("points", tg[:, 0], tg[:, 1], specified_drift_arrays=[ext_t])
    r = krige(xy, z, tg, v, method="universal", external_drift=(ext_s, ext_t))
    _check(r.estimate, r.variance, e, s, v.sill)


def test_matern_half_equals_pykrige_exponential(data):
    xy, z, tg = data
    v = Variogram("matern", 200.0, 20_000.0, 15.0, smoothness=0.5)
    ok = OrdinaryKriging(
        xy[:, 0], xy[:, 1], z, **Variogram("exponential", 200.0, 20_000.0, 15.0).to_pykrige()
    )
    e, s = ok.execute("points", tg[:, 0], tg[:, 1])
    r = krige(xy, z, tg, v)
    _check(r.estimate, r.variance, e, s, v.sill)
    el, sl = ok.execute("points", tg[:, 0], tg[:, 1], backend="loop", n_closest_points=12)
    r = krige(xy, z, tg, v, n_neighbours=12)
    _check(r.estimate, r.variance, el, sl, v.sill)


def test_matern_general_smoothness_equals_gstools_ordinary(data):
    import gstools as gs

    xy, z, tg = data
    v = Variogram("matern", 200.0, 20_000.0, 15.0, smoothness=1.3)
    ok = gs.krige.Ordinary(v.to_gstools(), (xy[:, 0], xy[:, 1]), z, exact=True)
    e, s = ok((tg[:, 0], tg[:, 1]), return_var=True)
    r = krige(xy, z, tg, v)
    np.testing.assert_allclose(r.estimate, e, rtol=TOL)
    np.testing.assert_allclose(r.variance, np.maximum(s, 0), atol=TOL * v.sill)


def test_simple_kriging_equals_gstools(data):
    import gstools as gs

    xy, z, tg = data
    v = Variogram("exponential", 200.0, 20_000.0, 15.0)
    sk = gs.krige.Simple(v.to_gstools(), (xy[:, 0], xy[:, 1]), z, mean=55.0, exact=True)
    e, s = sk((tg[:, 0], tg[:, 1]), return_var=True)
    r = krige(xy, z, tg, v, method="simple", mean=55.0)
    np.testing.assert_allclose(r.estimate, e, rtol=TOL)
    np.testing.assert_allclose(r.variance, np.maximum(s, 0), atol=TOL * v.sill)
