"""Block kriging and leave-one-out cross-validation."""

from __future__ import annotations

import numpy as np
import pytest

from netsim import Variogram, block_krige, cross_validate, krige
from netsim.errors import KrigingError


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(21)
    xy = rng.random((30, 2)) * 50_000.0
    z = rng.normal(45.0, 9.0, 30)
    return xy, z, rng


@pytest.mark.parametrize("method", ["ordinary", "simple"])
def test_block_mean_is_mean_of_point_estimates(net, method):
    xy, z, rng = net
    v = Variogram("exponential", 60.0, 18_000.0, 4.0)
    blocks = [rng.random((40, 2)) * 8_000.0 + [i * 9_000.0, 20_000.0] for i in range(5)]
    kw = {"mean": 45.0} if method == "simple" else {}
    r = block_krige(xy, z, blocks, v, method=method, **kw)
    pts = [krige(xy, z, b, v, method=method, **kw).estimate.mean() for b in blocks]
    np.testing.assert_allclose(r.mean, pts, rtol=1e-12)
    np.testing.assert_array_equal(r.n_points, 40)
    # labels form gives the same answer
    lab = np.repeat(np.arange(5), 40)
    r2 = block_krige(xy, z, np.concatenate(blocks), v, labels=lab, method=method, **kw)
    np.testing.assert_allclose(r2.mean, r.mean, rtol=1e-13)
    np.testing.assert_allclose(r2.variance, r.variance, rtol=1e-12)


def test_single_point_block_variance_is_point_variance(net):
    xy, z, _ = net
    v = Variogram("spherical", 60.0, 18_000.0, 4.0)
    p = np.array([[12_345.0, 23_456.0]])
    r = block_krige(xy, z, [p], v)
    np.testing.assert_allclose(r.variance, krige(xy, z, p, v).variance, rtol=1e-12)


def test_block_variance_brute_force_formula(net):
    # independent: the block variance is Var(mean of point errors) = mean_kl Cov(e_k, e_l),
    # written with the point-kriging weights of each discretisation point.
    xy, z, rng = net
    v = Variogram("gaussian", 60.0, 18_000.0, 0.0)
    b = rng.random((15, 2)) * 6_000.0 + 10_000.0
    n = xy.shape[0]
    lam = krige(xy, np.eye(n), b, v).estimate.mean(axis=1)  # block weights = mean point weights
    c = v.covariance
    d_ss = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    d_sb = np.hypot(*(xy[:, None, :] - b[None, :, :]).transpose(2, 0, 1))
    d_bb = np.hypot(*(b[:, None, :] - b[None, :, :]).transpose(2, 0, 1))
    ref = c(d_bb).mean() - 2 * lam @ c(d_sb).mean(axis=1) + lam @ c(d_ss) @ lam
    np.testing.assert_allclose(block_krige(xy, z, [b], v).variance, ref, rtol=1e-9)


def test_block_smaller_variance_than_points(net):
    xy, z, rng = net
    v = Variogram("spherical", 60.0, 18_000.0, 4.0)
    b = rng.random((200, 2)) * 10_000.0 + 20_000.0
    assert block_krige(xy, z, [b], v).variance[0] < krige(xy, z, b, v).variance.mean()


def test_block_errors(net):
    xy, z, _ = net
    v = Variogram("spherical", 60.0, 18_000.0)
    with pytest.raises(KrigingError, match="no discretisation points"):
        block_krige(xy, z, np.zeros((3, 2)), v, labels=np.array([0, 0, 2]))
    with pytest.raises(KrigingError, match="method"):
        block_krige(xy, z, [np.zeros((1, 2))], v, method="universal")


@pytest.mark.parametrize(
    "model", ["spherical", "exponential", "gaussian", "linear", "power", "matern"]
)
def test_closed_form_loo_equals_brute_force_ordinary(net, model):
    xy, z, _ = net
    v = Variogram(model, 60.0, 18_000.0, 3.0, 1.5, 40.0, smoothness=1.2, exponent=1.5)
    a = cross_validate(xy, z, v)
    b = cross_validate(xy, z, v, brute_force=True)
    assert (a.method, b.method) == ("closed-form", "brute-force")
    np.testing.assert_allclose(a.residuals, b.residuals, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(a.variance, b.variance, rtol=1e-8)
    assert a.rmse == pytest.approx(b.rmse, rel=1e-9)
    assert a.msdr == pytest.approx(b.msdr, rel=1e-8)


@pytest.mark.parametrize("method", ["simple", "universal"])
def test_closed_form_loo_equals_brute_force_other_methods(net, method):
    xy, z, _ = net
    v = Variogram("spherical", 60.0, 18_000.0, 3.0)
    kw = (
        {"mean": 45.0}
        if method == "simple"
        else {"linear_drift": True, "external_drift": xy[:, 0] ** 0.5}
    )
    a = cross_validate(xy, z, v, method=method, **kw)
    b = cross_validate(xy, z, v, method=method, brute_force=True, **kw)
    np.testing.assert_allclose(a.residuals, b.residuals, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(a.variance, b.variance, rtol=1e-8)


def test_cross_validation_statistics_and_batches(net):
    xy, z, rng = net
    v = Variogram("exponential", 60.0, 18_000.0, 3.0)
    Z = np.vstack([z, z + rng.normal(0, 1, 30)])
    a = cross_validate(xy, Z, v)
    one = cross_validate(xy, z, v)
    np.testing.assert_allclose(a.residuals[0], one.residuals, rtol=1e-12)
    assert one.me == pytest.approx(one.residuals.mean())
    assert one.rmse == pytest.approx(np.sqrt((one.residuals**2).mean()))
    assert one.msdr == pytest.approx((one.standardised**2).mean())
    # NaN pattern -> brute force, and local neighbourhoods too
    Z[1, 4] = np.nan
    b = cross_validate(xy, Z, v)
    assert b.method == "brute-force" and np.isnan(b.residuals[1, 4])
    np.testing.assert_allclose(b.residuals[0], one.residuals, rtol=1e-8, atol=1e-9)
    loc = cross_validate(xy, z, v, n_neighbours=8)
    assert loc.method == "brute-force" and np.all(np.isfinite(loc.residuals))
