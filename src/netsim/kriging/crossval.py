"""Leave-one-out cross-validation of a kriging model.

For the global neighbourhood without missing values the closed form of
Dubrule (1983) is used: with ``A`` the full augmented kriging matrix and
``b = A⁻¹ [z; 0]`` (``z - mean`` for simple kriging),

    ``residual_i = z_i - zhat_(-i) = b_i / (A⁻¹)_ii``
    ``variance_(-i) = -1 / (A⁻¹)_ii``   (variogram form, ordinary/universal)
    ``variance_(-i) = 1 / (A⁻¹)_ii``    (covariance form, simple)

Everything else (local neighbourhoods, NaN patterns) is brute force: one
:func:`netsim.krige` call per left-out station.

References
----------
Dubrule, O. (1983). Cross validation of kriging in a unique neighborhood.
Mathematical Geology 15(6), 687-699.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from netsim.errors import KrigingError
from netsim.kriging.api import _Problem, krige
from netsim.variogram import Variogram

__all__ = ["CrossValidation", "cross_validate"]


@dataclass(frozen=True)
class CrossValidation:
    """Leave-one-out results per station (stations order).

    Attributes
    ----------
    estimate : ndarray (n,) or (T, n)
        Prediction at each station from all the others (concentration units).
    variance : ndarray
        Its kriging variance (concentration²), broadcastable to ``estimate``.
    residuals : ndarray
        ``observed - estimate``; NaN where the station had no value.
    standardised : ndarray
        ``residuals / sqrt(variance)``.
    me, rmse, msdr : float
        Mean error, root mean squared error (concentration units) and mean
        squared deviation ratio (mean of ``standardised**2``; ~1 for a
        well-calibrated variogram), over all finite residuals.
    method : str
        ``"closed-form"`` (Dubrule 1983) or ``"brute-force"``.
    """

    estimate: np.ndarray
    variance: np.ndarray
    residuals: np.ndarray
    standardised: np.ndarray
    me: float
    rmse: float
    msdr: float
    method: str


def cross_validate(
    xy: np.ndarray,
    values: np.ndarray,
    variogram: Variogram,
    *,
    method: str = "ordinary",
    n_neighbours: int | None = None,
    mean: float | None = None,
    linear_drift: bool = False,
    external_drift: np.ndarray | None = None,
    brute_force: bool = False,
) -> CrossValidation:
    """Leave-one-out cross-validation.

    Parameters
    ----------
    xy, values, variogram, method, n_neighbours, mean, linear_drift
        As :func:`netsim.krige` (``values`` (n,) or (T, n)).
    external_drift : ndarray (n,) or (n, k), optional
        External drift at the stations (for ``method="universal"``).
    brute_force : bool
        Force one kriging per left-out station even where the closed form applies.

    Returns
    -------
    CrossValidation

    Raises
    ------
    KrigingError
        As :func:`netsim.krige` (e.g. fewer than 4 stations: each fold needs 3).
    """
    ext = None if external_drift is None else (external_drift, np.zeros(1))
    prob = _Problem(
        xy,
        values,
        variogram,
        method=method,
        n_neighbours=n_neighbours,
        mean=mean,
        linear_drift=linear_drift,
        external_drift=ext,
    )
    if prob.n < 4:
        raise KrigingError(f"cross_validate: needs at least 4 stations (3 per fold), got {prob.n}")
    n = prob.values.shape[1]
    closed = (
        not brute_force
        and (prob.k is None or prob.k >= n)
        and len(prob.patterns) == 1
        and prob.patterns[0].stations.size == n
    )
    if closed:
        est, var, resid = _closed_form(prob)
        label = "closed-form"
    else:
        est, var = _one_fold_at_a_time(prob, np.asarray(xy, dtype=float), variogram,
                                       n_neighbours=n_neighbours, mean=mean,
                                       linear_drift=linear_drift)
        resid = prob.values - est
        label = "brute-force"
    var = np.maximum(var, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        std = resid / np.sqrt(var)
    ok = np.isfinite(resid)
    okz = np.isfinite(std)
    me = float(resid[ok].mean()) if ok.any() else float("nan")
    rmse = float(np.sqrt((resid[ok] ** 2).mean())) if ok.any() else float("nan")
    msdr = float((std[okz] ** 2).mean()) if okz.any() else float("nan")
    if prob.one_d:
        est, resid, std = est[0], resid[0], std[0]
        var = var[0]
    return CrossValidation(
        estimate=est,
        variance=var,
        residuals=resid,
        standardised=std,
        me=me,
        rmse=rmse,
        msdr=msdr,
        method=label,
    )


def _closed_form(prob: _Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leave-one-out estimates, variances and residuals (T, n) from the inverse of the
    full system (Dubrule 1983): ``residual_i = alpha_i / (A⁻¹)_ii``."""
    n = prob.values.shape[1]
    pat = prob.patterns[0]
    prob.prepare_global(pat)
    diag = np.diag(pat.ainv)[:n]
    resid = (pat.alpha[:n] / diag[:, None]).T  # (T, n)
    var = (1.0 / diag if prob.method == "simple" else -1.0 / diag)[None, :]
    return prob.values - resid, var, resid


def _one_fold_at_a_time(prob: _Problem, xy: np.ndarray, variogram: Variogram, *,
                        n_neighbours: int | None, mean: float | None, linear_drift: bool
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out estimates and variances (T, n), one kriging per left-out station
    (NaN where it has no value or the others have fewer than 3)."""
    vals = prob.values
    T, n = vals.shape
    ext_s = prob.ext_s
    est = np.full((T, n), np.nan)
    var = np.full((T, n), np.nan)
    for i in range(n):
        keep = np.arange(n) != i
        sub = vals[:, keep]
        has = np.isfinite(vals[:, i])
        if not has.any():
            continue
        rows = np.flatnonzero(has & (np.isfinite(sub).sum(axis=1) >= 3))
        if rows.size == 0:
            continue
        drift = None if ext_s is None else (ext_s[keep], ext_s[i : i + 1])
        r = krige(
            xy[keep],
            sub[rows],
            xy[i : i + 1],
            variogram,
            method=prob.method,
            n_neighbours=n_neighbours,
            mean=mean,
            linear_drift=linear_drift,
            external_drift=drift,
        )
        est[rows, i] = r.estimate[:, 0]
        var[rows, i] = np.broadcast_to(r.variance, r.estimate.shape)[:, 0]
    return est, var
