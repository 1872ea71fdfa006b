# ruff: noqa: E501  (one-line error messages and reference tables)
"""Block kriging: kriged means over areas (districts, grid blocks) with their variance.

Each block ``B`` is discretised into points ``p_1..p_K`` (e.g. the 1 km grid
cells inside a district).  Ordinary block kriging replaces the point
right-hand side by point-to-block averages
``gamma_bar(x_i, B) = mean_k gamma(x_i - p_k)`` and the block variance is

    ``sigma_B² = sum_i lambda_i gamma_bar(x_i, B) + mu - gamma_bar(B, B)``

with ``gamma_bar(B, B) = mean_{k,l} gamma(p_k - p_l)`` over all K² ordered
pairs (``gamma(0) = 0`` on the diagonal).  Simple block kriging uses the
covariance analogues: ``sigma_B² = C_bar(B, B) - sum_i lambda_i C_bar(x_i, B)``.
The block estimate equals the mean of the point estimates (kriging is linear).

References
----------
Journel, A. G. & Huijbregts, C. J. (1978). Mining Geostatistics, §V.A.2.
Isaaks, E. H. & Srivastava, R. M. (1989). Applied Geostatistics, ch. 13.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from netsim.errors import KrigingError
from netsim.kriging import _kernels
from netsim.kriging.api import _as_xy, _Problem
from netsim.variogram import Variogram

__all__ = ["BlockKrigingResult", "block_krige"]


@dataclass(frozen=True)
class BlockKrigingResult:
    """Block means and block kriging variances, one per block (blocks order).

    Attributes
    ----------
    mean : ndarray
        (B,) for 1-D values, (T, B) for (T, n) values (concentration units).
    variance : ndarray
        Block kriging variance (concentration²), (B,) or (1, B) / (T, B).
    n_points : ndarray (B,)
        Number of discretisation points of each block.
    """

    mean: np.ndarray
    variance: np.ndarray
    n_points: np.ndarray

    @property
    def std(self) -> np.ndarray:
        """Block kriging standard deviation (concentration units)."""
        return np.sqrt(self.variance)


def _blocks_to_points(blocks, labels) -> tuple[np.ndarray, np.ndarray, int]:
    if labels is not None:
        pts = _as_xy(blocks, "blocks (targets)")
        lab = np.asarray(labels)
        if lab.shape != (pts.shape[0],) or not np.issubdtype(lab.dtype, np.integer):
            raise KrigingError(
                f"labels: expected integer array of shape ({pts.shape[0]},), got {lab.dtype} {lab.shape}"
            )
        if lab.size and lab.min() < 0:
            raise KrigingError("labels: expected block numbers >= 0")
        n_blocks = int(lab.max()) + 1 if lab.size else 0
        return pts, lab.astype(np.int64), n_blocks
    if not isinstance(blocks, Sequence) and not isinstance(blocks, np.ndarray):
        raise KrigingError("blocks: expected a sequence of (k_i, 2) point arrays")
    arrs = [_as_xy(b, f"blocks[{i}]") for i, b in enumerate(blocks)]
    pts = np.concatenate(arrs) if arrs else np.empty((0, 2))
    lab = np.repeat(np.arange(len(arrs), dtype=np.int64), [a.shape[0] for a in arrs])
    return pts, lab, len(arrs)


def block_krige(
    xy: np.ndarray,
    values: np.ndarray,
    blocks: Sequence[np.ndarray] | np.ndarray,
    variogram: Variogram,
    *,
    labels: np.ndarray | None = None,
    method: str = "ordinary",
    mean: float | None = None,
    chunk_size: int = 4096,
) -> BlockKrigingResult:
    """Ordinary (or simple) block kriging of area means with the global neighbourhood.

    Parameters
    ----------
    xy : ndarray (n, 2)
        Station coordinates (metres).
    values : ndarray (n,) or (T, n)
        Concentrations; NaN handling as in :func:`netsim.krige`.
    blocks : sequence of ndarray (k_i, 2), or ndarray (m, 2) with ``labels``
        Discretisation points of each block (metres).  With ``labels`` (m,)
        integers, point j belongs to block ``labels[j]``.
    variogram : Variogram
        Point-support variogram (PyKrige conventions).
    method : {"ordinary", "simple"}
    mean : float, optional
        Known mean for simple kriging.
    chunk_size : int
        Discretisation points processed at a time.

    Returns
    -------
    BlockKrigingResult

    Raises
    ------
    KrigingError
        As :func:`netsim.krige`, plus empty blocks.
    """
    if method not in ("ordinary", "simple"):
        raise KrigingError(f"block_krige: method must be 'ordinary' or 'simple', got {method!r}")
    prob = _Problem(xy, values, variogram, method=method, mean=mean)
    pts, lab, n_blocks = _blocks_to_points(blocks, labels)
    counts = np.bincount(lab, minlength=n_blocks)
    if n_blocks == 0 or np.any(counts == 0):
        empty = np.flatnonzero(counts == 0)
        raise KrigingError(
            f"blocks: block(s) {empty[:5].tolist()} have no discretisation points; "
            "give every block at least one point"
        )
    v = prob.variogram
    apts = v.adjust(pts, prob.centre)
    order = np.argsort(lab, kind="stable")
    apts, lab = apts[order], lab[order]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    # point-to-block averages for all stations: (n_blocks, n)
    gbar = np.zeros((n_blocks, prob.n))
    for a in range(0, apts.shape[0], chunk_size):
        b = min(apts.shape[0], a + chunk_size)
        buf = np.empty((b - a, prob.n))
        prob.fill_gamma(apts[a:b], prob.sxy, buf)
        np.add.at(gbar, lab[a:b], buf)
    gbar /= counts[:, None]
    # block-to-block averages
    bb = np.empty(n_blocks)
    for i in range(n_blocks):
        p = apts[bounds[i] : bounds[i + 1]]
        if prob.numba_model:
            g = _kernels.mean_gamma_pairs(
                np.ascontiguousarray(p[:, 0]), np.ascontiguousarray(p[:, 1]), *prob.model_args
            )
        else:
            d = np.hypot(p[:, None, 0] - p[None, :, 0], p[:, None, 1] - p[None, :, 1])
            g = float(v.gamma(d).mean())
        bb[i] = v.sill - g if method == "simple" else g
    T = prob.values.shape[0]
    n_var = T if len(prob.patterns) > 1 else 1
    est = np.full((T, n_blocks), np.nan)
    var = np.full((n_var, n_blocks), np.nan)
    for pat in prob.patterns:
        n_p = pat.stations.size
        if n_p < 3:
            continue
        prob.prepare_global(pat)
        g = np.empty((n_blocks, n_p + prob.n_drift))
        g[:, :n_p] = gbar[:, pat.stations]
        if prob.n_drift:
            g[:, n_p:] = 1.0
        w = g @ pat.ainv
        quad = np.einsum("ij,ij->i", w, g)
        vv = bb - quad if method == "simple" else quad - bb
        vrow = 0 if n_var == 1 else pat.steps
        var[vrow] = np.maximum(vv, 0.0)
        est[pat.steps] = pat.alpha.T @ g.T + prob.mean
    if prob.one_d:
        est, var = est[0], var[0]
    return BlockKrigingResult(mean=est, variance=var, n_points=counts)
