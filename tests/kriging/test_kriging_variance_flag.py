"""``variance=False`` and the local kernel's neighbour-set reuse.

Estimates without variances must be bit-for-bit those with variances (same
arithmetic, the variance work is only skipped).  The local kernel keeps the
previous target's neighbour set when it is provably still the k nearest; on a
lattice of stations (many exactly equidistant candidates) its results must
equal a brute-force ordinary kriging that picks, for every target, the k
nearest by (squared distance, station index) and solves the semivariance
system ``[[Γ, 1], [1ᵀ, 0]] [λ; μ] = [γ0; 1]`` with NumPy (Cressie 1993, §3.2).
"""

from __future__ import annotations

import numpy as np
import pytest

from netsim import Variogram, krige, krige_chunks


def _net(seed=3, n=60):
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 50_000.0
    values = 40.0 + 10.0 * np.sin(xy[:, 0] / 9_000.0) + rng.normal(0.0, 3.0, n)
    targets = rng.random((2_500, 2)) * 60_000.0 - 5_000.0
    return xy, values, targets, rng


SPH = Variogram("spherical", 80.0, 20_000.0, nugget=8.0)
CASES = {
    "global fused": dict(vg=SPH, T=1, kw={}),
    "global exponential (gamma matrix)": dict(
        vg=Variogram("exponential", 80.0, 20_000.0, nugget=2.0), T=1, kw={}
    ),
    "global 12 steps (BLAS-3 estimates)": dict(vg=SPH, T=12, kw={}),
    "global NaN patterns": dict(vg=SPH, T=3, kw={}, nan=True),
    "universal linear drift": dict(vg=SPH, T=1, kw={"method": "universal", "linear_drift": True}),
    "global simple": dict(vg=SPH, T=2, kw={"method": "simple", "mean": 40.0}),
    "local": dict(vg=SPH, T=1, kw={"n_neighbours": 10}),
    "local NaN patterns": dict(vg=SPH, T=3, kw={"n_neighbours": 10}, nan=True),
    "local 12 steps": dict(vg=SPH, T=12, kw={"n_neighbours": 10}),
    "local simple": dict(vg=SPH, T=1, kw={"n_neighbours": 10, "method": "simple", "mean": 40.0}),
    "local linear (Gauss-Jordan)": dict(
        vg=Variogram("linear", 2.0, 1_000.0, nugget=1.0), T=2, kw={"n_neighbours": 10}
    ),
    "local no nugget (Gauss-Jordan)": dict(
        vg=Variogram("spherical", 80.0, 20_000.0), T=1, kw={"n_neighbours": 10}
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_variance_false_gives_identical_estimates(case):
    c = CASES[case]
    xy, values, targets, rng = _net()
    vals = values if c["T"] == 1 else values[None, :] + rng.normal(0.0, 2.0, (c["T"], values.size))
    if c.get("nan"):
        vals = np.array(vals, ndmin=2)
        vals[1, ::7] = np.nan
        vals[2, 1::5] = np.nan
    full = krige(xy, vals, targets, c["vg"], **c["kw"])
    est_only = krige(xy, vals, targets, c["vg"], variance=False, **c["kw"])
    assert est_only.variance is None and est_only.std is None
    assert np.all(np.isfinite(full.estimate))
    np.testing.assert_array_equal(est_only.estimate, full.estimate)
    # chunked (777 targets: not a multiple of any kernel block), same chunks both ways
    pairs = zip(
        krige_chunks(xy, vals, targets, c["vg"], chunk_size=777, **c["kw"]),
        krige_chunks(xy, vals, targets, c["vg"], variance=False, chunk_size=777, **c["kw"]),
        strict=True,
    )
    for (sl, res), (sl2, res2) in pairs:
        assert sl == sl2 and res2.variance is None and res.variance is not None
        np.testing.assert_array_equal(res2.estimate, res.estimate)


def test_variance_false_float32_and_empty_targets():
    xy, values, targets, _ = _net()
    r = krige(xy, values, targets, SPH, n_neighbours=8, variance=False, dtype=np.float32)
    assert r.estimate.dtype == np.float32 and r.variance is None
    r0 = krige(xy, values, np.empty((0, 2)), SPH, variance=False)
    assert r0.estimate.shape == (0,) and r0.variance is None


def _brute_force_local(xy, z, targets, vg, k):
    est = np.empty(targets.shape[0])
    var = np.empty(targets.shape[0])
    idx = np.arange(xy.shape[0])
    for i, p in enumerate(targets):
        d2 = ((xy - p) ** 2).sum(axis=1)
        nb = np.lexsort((idx, d2))[:k]  # nearest first, ties to the lower index
        s = xy[nb]
        h = np.sqrt(((s[:, None, :] - s[None, :, :]) ** 2).sum(axis=2))
        a = np.ones((k + 1, k + 1))
        a[:k, :k] = vg.gamma(h)
        np.fill_diagonal(a[:k, :k], 0.0)
        a[k, k] = 0.0
        h0 = np.sqrt(d2[nb])
        b = np.ones(k + 1)
        b[:k] = np.where(h0 == 0.0, 0.0, vg.gamma(h0))
        sol = np.linalg.solve(a, b)
        est[i] = sol[:k] @ z[nb]
        var[i] = sol @ b
    return est, var


@pytest.mark.parametrize(
    "vg",
    [Variogram("spherical", 80.0, 6_000.0, nugget=8.0), Variogram("linear", 2.0, 1_000.0)],
    ids=["spherical-cholesky", "linear-gauss-jordan"],
)
def test_local_set_reuse_on_a_lattice_with_ties_equals_brute_force(vg):
    rng = np.random.default_rng(7)
    g = np.arange(12) * 1_000.0
    lattice = np.column_stack([a.ravel() for a in np.meshgrid(g, g)])
    keep = np.sort(rng.choice(lattice.shape[0], 100, replace=False))
    xy = lattice[keep][rng.permutation(100)]  # station index order unrelated to position
    z = rng.normal(50.0, 10.0, 100)
    t = np.arange(-2, 47) * 250.0  # raster order; many targets equidistant from stations
    targets = np.column_stack([a.ravel() for a in np.meshgrid(t, t)])
    est, var = _brute_force_local(xy, z, targets, vg, 8)
    r = krige(xy, z, targets, vg, n_neighbours=8)
    np.testing.assert_allclose(r.estimate, est, rtol=0, atol=1e-9 * vg.sill)
    np.testing.assert_allclose(r.variance, var, rtol=0, atol=1e-9 * vg.sill)


@pytest.mark.parametrize("k", [2, 3, 5, 17])
@pytest.mark.parametrize("steps", [1, 12], ids=["weights-stored", "weights-per-target"])
@pytest.mark.parametrize(
    "vg",
    [Variogram("spherical", 80.0, 9_000.0, nugget=8.0), Variogram("exponential", 60.0, 12_000.0)],
    ids=["nugget-bound", "no-nugget-exact-rcond"],
)
def test_local_kriging_of_several_steps_equals_brute_force(k, steps, vg):
    """Every route of the local kernel (stored weights for up to 8 value vectors, weights
    per target beyond; the rcond bound from the nugget or the exact value) against one
    augmented solve per target of its k nearest stations."""
    rng = np.random.default_rng(k * 100 + steps)
    xy = rng.uniform(0.0, 30_000.0, (60, 2))
    z = rng.normal(50.0, 10.0, (steps, 60))
    targets = rng.uniform(-2_000.0, 32_000.0, (400, 2))
    r = krige(xy, z, targets, vg, n_neighbours=k)
    assert r.variance.shape == (1, 400)  # one availability pattern: one variance row
    for t in range(steps):
        est, var = _brute_force_local(xy, z[t], targets, vg, k)
        np.testing.assert_allclose(r.estimate[t], est, rtol=0, atol=1e-9 * vg.sill)
        np.testing.assert_allclose(r.variance[0], var, rtol=0, atol=1e-9 * vg.sill)
