# ruff: noqa: E501  (one-line error messages and reference tables)
"""Validating kriging API: ordinary, simple and universal kriging in chunks of targets.

Formulation (PyKrige's, so unbounded variograms work): for ordinary/universal
kriging the system is ``[[Gamma, F], [F.T, 0]] [lambda; mu] = [gamma0; f0]``
with ``Gamma`` the station-station semivariances (``gamma(0) = 0``), ``F`` the
drift columns (``1``, then ``x``, ``y`` for ``linear_drift``, then external
drifts) and ``f0`` their values at the target.  The estimate is
``lambda . z`` and the kriging variance ``lambda . gamma0 + mu . f0``
(concentration²).  Simple kriging uses covariances ``C = sill - gamma``:
``estimate = mean + lambda . (z - mean)``, ``variance = sill - lambda . c0``.

Global neighbourhood: the inverse ``A⁻¹`` of the augmented matrix and
``alpha = A⁻¹ [z - mean; 0]`` are computed once per availability pattern; one
parallel numba kernel then handles blocks of 64 targets in L1: it builds the
covariance vectors (transposed, targets contiguous, SIMD over targets; for the
spherical model stations beyond the range of the whole block are the constant
sill), the variance as the symmetric quadratic form ``gᵀA⁻¹g`` (half the flops
of ``G A⁻¹``) and, for up to 8 value vectors, the estimates ``alphaᵀg``.  With
more value vectors (or for the exponential family, whose ``exp`` runs in
NumPy's SIMD loop) ``G`` is formed per chunk and ``estimate = alphaᵀ Gᵀ`` is one
BLAS-3 product for all T at once.  Memory is O(chunk x (n + T) + n²); never an
(m x n) matrix.

Local neighbourhood (``n_neighbours = k``): targets are sorted along a Hilbert
curve in square tiles (about 0.3 x the typical k-th neighbour distance), so
consecutive targets are close; per tile the candidate
stations (a provable superset of every target's k nearest) are gathered from a
station grid, each target's exact k nearest are picked from them (or the
previous target's set is kept when it is provably still the k nearest), and
every distinct neighbour set is factorised once per tile (Cholesky of the
covariance matrix for bounded models, Gauss-Jordan on the semivariance system
otherwise or when a Cholesky pivot is small) and reused by all targets sharing it
(and by the thread's next tiles: a ring of the last 128 sets); for up
to 8 value vectors the set also stores ``C⁻¹z`` so an estimate is two k-dots.
A target's result depends only on its neighbour set, never on the order,
tiling or thread count; results are written at the targets' own indices.

Measurement error (``noise_variance``, σ²_i per station, concentration²):
the station-station block of the system gets σ²_i on its diagonal
(covariance form ``C_ii + σ²_i``; semivariance form ``γ_ii = -σ²_i``), the
station-target vectors are unchanged, so the estimate is of the noise-free
field (no longer exact at a noisy station) and the variance is that of the
noise-free value (Cressie 1993, §3.2, kriging the noiseless process;
GSTools ``exact=False, cond_err``).
Global paths use the pattern's stations' σ²; the local kernel adds the
members' σ² when it factorises each neighbour set.

``variance=False`` skips the kriging variance (the quadratic form, most of the
global kernel's work) and returns ``KrigingResult.variance = None``; estimates
are bit-for-bit those computed with variances.

Too ill-conditioned (one criterion for both neighbourhoods): a kriging
system ``A`` -- the augmented semivariance matrix above (station block
``Γ - diag(σ²)``, drift columns as used), or ``C + diag(σ²)`` for simple
kriging -- is refused when the reciprocal condition number in the 1-norm of
its symmetrically scaled form, ``rcond = 1 / (‖EAE‖₁ ‖(EAE)⁻¹‖₁)``, is below
:data:`RCOND_MIN` = 1e-8.  ``E`` divides each station's row and column by
``sqrt(g + σ²_i)`` (``g``: the largest absolute entry of the noise-free
station block -- the largest station-station semivariance, or the sill for
simple kriging) and multiplies drift rows by ``sqrt(g)``, so the criterion
depends neither on the concentration units nor on a huge error variance (a
station that barely counts is not an ill-conditioned system).  ``rcond`` is
computed from an inverse (:func:`_kernels.system_rcond`): the global path's
``A⁻¹`` once per availability pattern; the local kernel's Gauss-Jordan inverse
of a neighbour set, or -- after a Cholesky of ``C`` -- first an O(k) lower bound
(:func:`_kernels._rcond_lower_bound`, from ``‖C⁻¹‖₂ <= 1 / (nugget + min σ²)``
for the positive definite bounded models), and the exact O(k²) value
(:func:`_kernels._covariance_route_rcond`, a block-inverse identity, from
``C⁻¹``) only when the bound does not settle it, so the decision is the exact one.
Both paths raise the same :class:`KrigingError` (:func:`ill_conditioned_error`)
naming the stations (global) or the failing neighbour sets and their
targets' region (local).
Why 1e-8 (≈ √ε): the forward error of a solve is bounded by ``ε/rcond``, so
above it at least half of double precision's 16 digits survive.  Measured,
the estimates of netsim and PyKrige (which solves the same system another
way) differ by about ``1e-14 / rcond`` µg/m³ on 40-60 µg/m³ data: ~1e-6 at
the threshold, 1e-3 at rcond 3e-11, 0.04 at 2e-12, 89 at 1e-15 (Gaussian
models without nugget, 35-40 stations).  Spherical and exponential models
stay above 1e-4 at any range; Gaussian and Matérn 2.5 without nugget fall
below 1e-8 once the range is a few times the station spacing.  The paths
decide alike unless ``rcond`` is within its own rounding error (relative
~ε/rcond ≈ 1e-8) of the threshold.

Missing values: ``values`` of shape (T, n) may hold NaN; steps are grouped by
their availability pattern and each pattern is solved once.

References
----------
Cressie, N. (1993). Statistics for Spatial Data, §3.2 (ordinary kriging), §3.4 (universal).
PyKrige ``ok.py``/``uk.py`` (v1.7), whose conventions are reproduced exactly.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import scipy.linalg

from netsim.errors import KrigingError
from netsim.kriging import _kernels
from netsim.variogram import Variogram

__all__ = [
    "METHODS",
    "RCOND_MIN",
    "KrigingResult",
    "ill_conditioned_error",
    "krige",
    "krige_chunks",
]

METHODS = ("ordinary", "simple", "universal")

# numba's OpenMP workers must not spin between parallel kernels: on a small
# machine they would steal the cores BLAS needs (set before the first launch).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _numpy_openblas():
    """ctypes handles (get, set) of NumPy's bundled OpenBLAS thread count, or None."""
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(libdir, "libscipy_openblas*.so")):
        try:
            lib = ctypes.CDLL(path)
            return lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
        except (OSError, AttributeError):
            continue
    return None


_BLAS = _numpy_openblas()


@contextlib.contextmanager
def _single_threaded_blas():
    """Run BLAS on one thread while the numba kernels use all cores.

    Alternating multi-threaded BLAS calls with parallel numba kernels makes
    the two thread pools fight over the cores (measured 3-8x slower on 2 cores);
    the per-chunk products here are small, so one BLAS thread is faster.
    """
    if _BLAS is None:
        yield
        return
    get, setn = _BLAS
    before = get()
    setn(1)
    try:
        yield
    finally:
        setn(before)


SERIAL_WORK = 1 << 16
"""Below this many target-station entries a parallel kernel runs on the calling thread
only: waking numba's worker threads costs more than the work (tens of microseconds on a
quiet machine, up to a scheduler time slice on a busy one).  Each output is computed by
the same compiled code whatever the thread count, so the results do not change."""


@contextlib.contextmanager
def _threads_for(work: int):
    """numba threads for a kernel of ``work`` entries: one below :data:`SERIAL_WORK`."""
    if work >= SERIAL_WORK:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


RCOND_MIN = 1e-8
"""Smallest accepted reciprocal condition number of a kriging system (see the module docstring)."""
# global kernel: models whose covariance vector is computed inside it (spherical,
# linear, power; the exponential family goes through NumPy's SIMD exp first),
# targets per block (the transposed block, (n+p) x 64 doubles, stays in L1) and
# the most value vectors whose estimates it forms itself (more: one BLAS-3 product)
_FUSED_CODES = (0, 3, 4)
_GLOBAL_BLOCK = 64
_FUSED_MAX_T = 8
# local kernel: tile side relative to the typical k-th neighbour distance
_TILE_FACTOR = 0.45
# sub-cells per tile side (at most): targets inside a tile follow the curve at this finer level
_TILE_SUB = 4
# the cache of factorised neighbour sets each thread keeps across its consecutive tiles
# (direct-mapped by the members' hash): at most this many entries (a power of two) and
# this many bytes of matrices
_SET_CACHE = 256
_SET_CACHE_BYTES = 16 * 2**20
_HALF_INTEGER = (0.5, 1.5, 2.5)


@dataclass(frozen=True)
class KrigingResult:
    """Kriging estimates and variances at the targets (targets order).

    Attributes
    ----------
    estimate : ndarray
        (m,) for 1-D values, (T, m) for (T, n) values; concentration units.
    variance : ndarray or None
        Kriging variance (concentration²): (m,) for 1-D values; for (T, n)
        values (1, m) when all steps share one availability pattern (broadcasts
        against ``estimate``), else (T, m).  None when kriged with
        ``variance=False``.
    method : str
        ``"ordinary"``, ``"simple"`` or ``"universal"``.
    n_neighbours : int or None
        Neighbourhood size (None = global).
    """

    estimate: np.ndarray
    variance: np.ndarray | None
    method: str = "ordinary"
    n_neighbours: int | None = None

    @property
    def std(self) -> np.ndarray | None:
        """Kriging standard deviation (concentration units); None without variances."""
        return None if self.variance is None else np.sqrt(self.variance)


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------


def _as_xy(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[1] != 2:
        raise KrigingError(
            f"{name}: expected shape (n, 2) easting/northing in metres, got {a.shape}"
        )
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.isfinite(a).all(axis=1))[0])
        raise KrigingError(f"{name}: row {bad} has NaN/inf coordinates; drop or fix it")
    return a


def _check_stations(xy: np.ndarray) -> None:
    n = xy.shape[0]
    if n < 3:
        raise KrigingError(f"xy: kriging needs at least 3 stations, got {n}")
    ordered = xy[np.lexsort((xy[:, 1], xy[:, 0]))]
    if not (ordered[1:] == ordered[:-1]).all(axis=1).any():
        return
    _, first, counts = np.unique(xy, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = xy[first[counts > 1][0]]
        rows = np.flatnonzero((xy == dup).all(axis=1))
        raise KrigingError(
            f"xy: stations at rows {rows.tolist()} share coordinates ({dup[0]:.3f}, {dup[1]:.3f}); "
            "average or drop duplicates"
        )


def _check_variogram(v: Variogram) -> Variogram:
    if not isinstance(v, Variogram):
        raise KrigingError(f"variogram: expected a netsim.Variogram, got {type(v).__name__}")
    return v


def _noise_vector(nv, n: int) -> np.ndarray | None:
    """Validated per-station measurement-error variances, or None when absent or all zero."""
    if nv is None:
        return None
    nv = np.asarray(nv, dtype=float)
    if nv.shape != (n,):
        raise KrigingError(
            f"noise_variance: expected shape ({n},) (one error variance per station), got {nv.shape}"
        )
    if not np.all(np.isfinite(nv)):
        bad = int(np.flatnonzero(~np.isfinite(nv))[0])
        raise KrigingError(
            f"noise_variance: row {bad} is NaN/inf; give a finite variance (0 = exact)"
        )
    if np.any(nv < 0):
        bad = int(np.flatnonzero(nv < 0)[0])
        raise KrigingError(
            f"noise_variance: row {bad} is negative ({nv[bad]:g}); variances are concentration² >= 0"
        )
    # all zero: exactly today's system (no diagonal terms at all)
    return nv if np.any(nv > 0) else None


def _drift_matrix(d: np.ndarray | None, rows: int, name: str) -> np.ndarray | None:
    if d is None:
        return None
    d = np.asarray(d, dtype=float)
    if d.ndim == 1:
        d = d[:, None]
    if d.ndim != 2 or d.shape[0] != rows:
        raise KrigingError(f"{name}: expected shape ({rows},) or ({rows}, k), got {np.shape(d)}")
    if not np.all(np.isfinite(d)):
        raise KrigingError(f"{name}: contains NaN/inf; external drift must be known everywhere")
    return d


# ---------------------------------------------------------------------------
# the prepared problem
# ---------------------------------------------------------------------------


@dataclass
class _Pattern:
    steps: np.ndarray  # indices into T
    stations: np.ndarray  # indices into n
    ainv: np.ndarray | None = None
    alpha: np.ndarray | None = None  # (n_p + p, T_p)
    upper: np.ndarray | None = None  # triu(A⁻¹) with doubled off-diagonal terms
    grid: tuple | None = None
    z: np.ndarray | None = None  # (T_p, n_p) for the local kernel
    noise: np.ndarray | None = None  # (n_p,) error variances for the local kernel


class _Problem:
    """Validated, anisotropy-adjusted kriging problem shared by krige/krige_chunks/block/crossval."""

    def __init__(
        self,
        xy,
        values,
        variogram,
        *,
        method="ordinary",
        n_neighbours=None,
        mean=None,
        linear_drift=False,
        external_drift=None,
        n_targets=None,
        variance=True,
        noise_variance=None,
    ):
        self.variogram = v = _check_variogram(variogram)
        # False: the kernels skip the kriging variance (var buffers are scratch)
        self.do_var = bool(variance)
        xy = _as_xy(xy, "xy")
        _check_stations(xy)
        values = np.asarray(values, dtype=float)
        self.one_d = values.ndim == 1
        if values.ndim == 1:
            values = values[None, :]
        if values.ndim != 2 or values.shape[1] != xy.shape[0]:
            raise KrigingError(
                f"values: expected shape ({xy.shape[0]},) or (T, {xy.shape[0]}) to match xy, got {np.shape(values)}"
            )
        if np.isinf(values).any():
            raise KrigingError("values: contain inf; use NaN for missing readings")
        method = str(method).lower()
        if method not in METHODS:
            raise KrigingError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
        if method == "simple":
            if mean is None or not np.isfinite(mean):
                raise KrigingError("mean: simple kriging needs a finite known mean (mean=...)")
            if not v.bounded:
                raise KrigingError(
                    f"simple kriging needs a bounded variogram (covariance); {v.model!r} is unbounded"
                )
        if method == "universal" and not linear_drift and external_drift is None:
            raise KrigingError(
                "universal kriging needs linear_drift=True and/or external_drift=(at_stations, at_targets)"
            )
        if method != "universal" and (linear_drift or external_drift is not None):
            raise KrigingError("linear_drift/external_drift are only used with method='universal'")
        if n_neighbours is not None:
            n_neighbours = int(n_neighbours)
            if n_neighbours < 2:
                raise KrigingError(
                    f"n_neighbours: expected >= 2 (or None for all stations), got {n_neighbours}"
                )
            if method == "universal":
                raise KrigingError(
                    "universal kriging supports the global neighbourhood only (n_neighbours=None)"
                )
        self.method = method
        self.mean = float(mean) if method == "simple" else 0.0
        self.k = n_neighbours
        self.values = values
        self.n = xy.shape[0]
        # per-station measurement-error variances (None: exact interpolation)
        self.noise = _noise_vector(noise_variance, self.n)
        # PyKrige's anisotropy centre: midpoint of the stations' bounding box
        self.centre = 0.5 * (xy.min(axis=0) + xy.max(axis=0))
        self.sxy = v.adjust(xy, self.centre)
        self.linear_drift = bool(linear_drift)
        self.ext_s = None
        self.ext_t = None
        if external_drift is not None:
            if not isinstance(external_drift, (tuple, list)) or len(external_drift) != 2:
                raise KrigingError("external_drift: expected a pair (at_stations, at_targets)")
            self.ext_s = _drift_matrix(external_drift[0], self.n, "external_drift[0] (at stations)")
            if n_targets is not None:
                self.ext_t = _drift_matrix(
                    external_drift[1], n_targets, "external_drift[1] (at targets)"
                )
            else:
                self.ext_t = np.asarray(external_drift[1], dtype=float)
        # drift scaling for conditioning (solution is invariant to it)
        ext = self.sxy.max(axis=0) - self.sxy.min(axis=0)
        self.scale = float(max(ext.max(), 1.0))
        self.model_args = (v.code, v.psill, v.range, v.nugget, v.shape)
        self.numba_model = v.model != "matern" or v.smoothness in _HALF_INTEGER
        self.patterns = self._group()

    # -------------------------------------------------------------- pieces
    @property
    def n_drift(self) -> int:
        if self.method == "simple":
            return 0
        p = 1
        if self.linear_drift:
            p += 2
        if self.ext_s is not None:
            p += self.ext_s.shape[1]
        return p

    def _group(self) -> list[_Pattern]:
        avail = np.isfinite(self.values)
        if avail.shape[0] == 1 or avail.all():  # one pattern (np.unique's answer, faster)
            uniq, inverse = avail[:1], np.zeros(avail.shape[0], dtype=np.intp)
        else:
            uniq, inverse = np.unique(avail, axis=0, return_inverse=True)
            inverse = np.asarray(inverse).reshape(-1)
        pats = []
        for u in range(uniq.shape[0]):
            st = np.flatnonzero(uniq[u])
            steps = np.flatnonzero(inverse == u)
            if st.size < 3:
                if self.one_d:
                    raise KrigingError(
                        f"values: only {st.size} stations have data; kriging needs at least 3"
                    )
                pats.append(_Pattern(steps=steps, stations=st))  # left NaN
                continue
            pats.append(_Pattern(steps=steps, stations=st))
        return pats

    def drift_at(self, axy: np.ndarray, ext: np.ndarray | None) -> np.ndarray:
        """Drift columns (rows of F) at adjusted coordinates."""
        cols = [np.ones(axy.shape[0])]
        if self.linear_drift:
            cols.append((axy[:, 0] - self.centre[0]) / self.scale)
            cols.append((axy[:, 1] - self.centre[1]) / self.scale)
        if ext is not None:
            cols.extend(ext.T)
        return np.column_stack(cols)

    def fill_gamma(self, axy_t: np.ndarray, sxy: np.ndarray, out: np.ndarray) -> None:
        """out[:, :n] = gamma (or covariance for simple kriging) between points and stations."""
        v = self.variogram
        cov = self.method == "simple"
        n = sxy.shape[0]
        tx, ty = np.ascontiguousarray(axy_t[:, 0]), np.ascontiguousarray(axy_t[:, 1])
        sx, sy = np.ascontiguousarray(sxy[:, 0]), np.ascontiguousarray(sxy[:, 1])
        with _threads_for(axy_t.shape[0] * n):
            if self.numba_model:
                _kernels.gamma_block(tx, ty, sx, sy, *self.model_args, cov, v.sill, out)
                if v.model in ("exponential", "gaussian"):
                    np.exp(out[:, :n], out=out[:, :n])
                    _kernels.finish_exp(out, n, v.psill, v.nugget, cov, v.sill)
                return
            _kernels.gamma_block(tx, ty, sx, sy, -1, 0.0, 1.0, 0.0, 0.0, False, 0.0, out)
        g = v.gamma(out[:, :n])
        out[:, :n] = v.sill - g if cov else g

    def station_matrix(self, st: np.ndarray) -> np.ndarray:
        s = self.sxy[st]
        n_p = s.shape[0]
        p = self.n_drift
        a = np.zeros((n_p + p, n_p + p))
        buf = np.empty((n_p, n_p))
        self.fill_gamma(s, s, buf)
        a[:n_p, :n_p] = buf
        if self.method == "simple":
            np.fill_diagonal(a, self.variogram.sill)
            if self.noise is not None:
                a[np.diag_indices(n_p)] += self.noise[st]
        else:
            np.fill_diagonal(a[:n_p, :n_p], 0.0)
            if self.noise is not None:
                a[np.diag_indices(n_p)] -= self.noise[st]
            f = self.drift_at(s, None if self.ext_s is None else self.ext_s[st])
            a[:n_p, n_p:] = f
            a[n_p:, :n_p] = f.T
        return a

    def invert(self, st: np.ndarray) -> np.ndarray:
        """Inverse of the global system of stations ``st``, refused below :data:`RCOND_MIN`."""
        a = self.station_matrix(st)
        try:
            with warnings.catch_warnings():  # conditioning is judged below, by RCOND_MIN
                warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
                ainv = scipy.linalg.inv(a, check_finite=False)
            nv = np.zeros(st.size) if self.noise is None else self.noise[st]
            rcond = _kernels.system_rcond(a, ainv, st.size, nv, self.method == "simple")
        except (ValueError, np.linalg.LinAlgError):
            rcond = 0.0
        if not rcond >= RCOND_MIN:
            raise ill_conditioned_error(rcond, f"for the {st.size} stations", self.method)
        return ainv

    def prepare_global(self, pat: _Pattern) -> None:
        if pat.ainv is not None or pat.stations.size < 3:
            return
        pat.ainv = self.invert(pat.stations)
        z = self.values[np.ix_(pat.steps, pat.stations)] - self.mean  # (T_p, n_p)
        zt = np.zeros((pat.ainv.shape[0], z.shape[0]))
        zt[: pat.stations.size] = z.T
        pat.alpha = pat.ainv @ zt
        sym = 0.5 * (pat.ainv + pat.ainv.T)
        pat.upper = np.triu(2.0 * sym, 1) + np.diag(np.diag(sym))

    def prepare_local(self, pat: _Pattern) -> None:
        if pat.grid is not None or pat.stations.size < 3:
            return
        s = self.sxy[pat.stations]
        n_p = s.shape[0]
        k = min(self.k, n_p)
        lo = s.min(axis=0)
        span = np.maximum(s.max(axis=0) - lo, 1.0)
        per_cell = max(1.0, k / 6.0)
        cs = float(np.sqrt(span[0] * span[1] * per_cell / n_p))
        cs = max(cs, float(span.max()) / 4096.0)
        nx = int(span[0] // cs) + 1
        ny = int(span[1] // cs) + 1
        ix = np.minimum(((s[:, 0] - lo[0]) // cs).astype(np.int64), nx - 1)
        iy = np.minimum(((s[:, 1] - lo[1]) // cs).astype(np.int64), ny - 1)
        cell = iy * nx + ix
        order = np.argsort(cell, kind="stable").astype(np.int64)
        start = np.searchsorted(cell[order], np.arange(nx * ny + 1)).astype(np.int64)
        pat.grid = (start, order, float(lo[0]), float(lo[1]), cs, nx, ny, k)
        pat.z = np.ascontiguousarray(self.values[np.ix_(pat.steps, pat.stations)])
        pat.noise = (
            np.zeros(n_p) if self.noise is None else np.ascontiguousarray(self.noise[pat.stations])
        )

    # ------------------------------------------------------------- compute
    def solve_chunk(
        self,
        axy_t: np.ndarray,
        ext_t: np.ndarray | None,
        est: np.ndarray,
        var: np.ndarray,
        xy_t: np.ndarray | None = None,
    ) -> None:
        """Fill est (T, c) and var (V, c) for one chunk of adjusted targets
        (``xy_t``: the same targets unadjusted, metres, for error messages)."""
        c = axy_t.shape[0]
        full_g = None
        one_var = var.shape[0] == 1
        for pat in self.patterns:
            n_p = pat.stations.size
            vrow = 0 if one_var else pat.steps
            if n_p < 3:
                est[pat.steps] = np.nan
                var[vrow] = np.nan
                continue
            if self.k is not None and self.k < n_p:
                self.prepare_local(pat)
                start, order, x0, y0, cs, nx, ny, k = pat.grid
                s = self.sxy[pat.stations]
                e = np.empty((pat.steps.size, c))
                vv = np.empty(c)
                status = np.zeros(c, dtype=np.int8)
                rcond_out = np.empty(c)  # written only where status is set
                v = self.variogram
                if not self.numba_model:
                    raise KrigingError(
                        "matern with n_neighbours supports smoothness 0.5, 1.5 or 2.5 only; "
                        "use the global neighbourhood or one of those values"
                    )
                tx = np.ascontiguousarray(axy_t[:, 0])
                ty = np.ascontiguousarray(axy_t[:, 1])
                perm, tile_start = _tile_targets(tx, ty, _TILE_FACTOR * cs * np.sqrt(6.0 / np.pi))
                _kernels.local_krige_tiled(
                    tx,
                    ty,
                    np.ascontiguousarray(s[:, 0]),
                    np.ascontiguousarray(s[:, 1]),
                    pat.z,
                    pat.noise,
                    start,
                    order,
                    x0,
                    y0,
                    cs,
                    nx,
                    ny,
                    k,
                    perm,
                    tile_start,
                    *self.model_args,
                    self.method == "simple",
                    v.bounded,
                    v.sill,
                    self.mean,
                    self.do_var,
                    numba.get_num_threads(),
                    RCOND_MIN,
                    e,
                    vv,
                    status,
                    rcond_out,
                    _set_cache_entries(k, self.method == "simple"),
                )
                if status.any():
                    bad = np.flatnonzero(status)
                    where = _failed_sets(s, axy_t[bad], k, xy_t[bad] if xy_t is not None else None)
                    raise ill_conditioned_error(float(rcond_out[bad].min()), where, self.method)
                est[pat.steps] = e
                var[vrow] = vv
                continue
            self.prepare_global(pat)
            full_g = self._solve_global(pat, axy_t, ext_t, full_g, est, var, vrow)

    def _fused(self, pat: _Pattern) -> bool:
        """Covariance vectors computed inside the global kernel (no (chunk x n) matrix)."""
        return (
            self.variogram.code in _FUSED_CODES
            and pat.steps.size <= _FUSED_MAX_T
            and (len(self.patterns) == 1 or pat.stations.size == self.n)
        )

    def _solve_global(self, pat, axy_t, ext_t, full_g, est, var, vrow) -> np.ndarray | None:
        """Global kriging of one availability pattern on one chunk; returns the
        (chunk x n) all-station gamma matrix if it was built (reused by later patterns)."""
        c = axy_t.shape[0]
        n_p = pat.stations.size
        p = self.n_drift
        steps = pat.steps.size
        do_est = steps <= _FUSED_MAX_T
        s = self.sxy[pat.stations]
        tx = np.ascontiguousarray(axy_t[:, 0])
        ty = np.ascontiguousarray(axy_t[:, 1])
        if self._fused(pat):
            g = np.empty((0, n_p + p))
            if p == 0:
                drift = np.empty((0, 1))
            elif p == 1:
                drift = np.ones((1, 1))
            else:
                drift = np.ascontiguousarray(self.drift_at(axy_t, ext_t).T)
        else:
            g = np.empty((c, n_p + p))
            if len(self.patterns) == 1 or n_p == self.n:
                self.fill_gamma(axy_t, s, g)
            else:
                if full_g is None:
                    full_g = np.empty((c, self.n))
                    self.fill_gamma(axy_t, self.sxy, full_g)
                g[:, :n_p] = full_g[:, pat.stations]
            if p:
                g[:, n_p:] = self.drift_at(axy_t, ext_t)
            drift = np.empty((0, 1))
        if do_est:
            e = est if steps == est.shape[0] else np.empty((steps, c))
        else:
            e = np.empty((0, c))
        vv = var[0] if var.shape[0] == 1 else np.empty(c)
        if do_est or self.do_var:
            self._global_kernel(pat, tx, ty, s, drift, g, e, vv, do_est)
        if var.shape[0] != 1:
            var[vrow] = vv
        if not do_est:
            # all steps in one pattern: the BLAS-3 product goes straight into est
            e = np.matmul(pat.alpha.T, g.T, out=est if steps == est.shape[0] else None)
            if self.mean:
                e += self.mean
        if e is not est:
            est[pat.steps] = e
        return full_g

    def _global_kernel(self, pat, tx, ty, s, drift, g, e, vv, do_est) -> None:
        """Run :func:`_kernels.global_krige` (variance into ``vv`` if ``do_var``)."""
        with _threads_for(tx.shape[0] * pat.upper.shape[0]):
            self._run_global_kernel(pat, tx, ty, s, drift, g, e, vv, do_est)

    def _run_global_kernel(self, pat, tx, ty, s, drift, g, e, vv, do_est) -> None:
        v = self.variogram
        _kernels.global_krige(
            tx,
            ty,
            np.ascontiguousarray(s[:, 0]),
            np.ascontiguousarray(s[:, 1]),
            drift,
            g,
            g.shape[0] > 0,
            pat.upper,
            pat.alpha,
            *self.model_args,
            self.method == "simple",
            v.sill,
            self.mean,
            do_est,
            self.do_var,
            _GLOBAL_BLOCK,
            e,
            vv,
        )


def ill_conditioned_error(rcond: float, where: str, method: str) -> KrigingError:
    """The one error of both paths for a system below :data:`RCOND_MIN`.

    ``where`` names the system: ``"for the 40 stations"`` (global) or the
    failing neighbour sets and their targets' region (local).
    """
    drift = ", or make the drift columns independent" if method == "universal" else ""
    return KrigingError(
        f"singular or ill-conditioned kriging system: reciprocal condition number {rcond:.1e} "
        f"< {RCOND_MIN:g} (1-norm) {where}; the variogram is too smooth for the station "
        "spacing (e.g. gaussian or matern with a long range and no nugget) or stations nearly "
        f"coincide: add a nugget, shorten the range, use a spherical or exponential model{drift}"
    )


def _failed_sets(sxy: np.ndarray, axy_bad: np.ndarray, k: int, xy_bad: np.ndarray | None) -> str:
    """``where`` of :func:`ill_conditioned_error` for the local targets whose set failed:
    how many distinct neighbour sets, how many targets and their bounding box (metres)."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(sxy).query(axy_bad, k=k)
    n_sets = np.unique(np.sort(np.atleast_2d(idx), axis=1), axis=0).shape[0]
    pts = axy_bad if xy_bad is None else xy_bad
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (
        f"in {n_sets} neighbour set(s) of {k} stations, used by {len(pts)} target(s) in "
        f"easting {lo[0]:.0f} to {hi[0]:.0f} m, northing {lo[1]:.0f} to {hi[1]:.0f} m"
    )


def _set_cache_entries(k: int, simple: bool) -> int:
    """Entries of a thread's cache of factorised neighbour sets: :data:`_SET_CACHE`, fewer
    (a power of two, at least 16) where their (k + 1)² matrices would pass
    :data:`_SET_CACHE_BYTES` (k = 32: 256 entries, 2.2 MB; k = 128: 64, 8.5 MB)."""
    ns = k if simple else k + 1
    entries = _SET_CACHE
    while entries > 16 and entries * ns * ns * 8 > _SET_CACHE_BYTES:
        entries //= 2
    return entries


def _tile_targets(tx: np.ndarray, ty: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    """Targets ordered along a Hilbert curve in square tiles of about ``side`` metres
    (at most ~m/4 + 1 tiles): ``(perm, start)``, see :func:`_kernels.curve_tile_sort`.

    The order only decides which targets share a tile's candidate stations and
    cached factorisations; each target's result does not depend on it, and the
    kernel writes every result at the target's own index (no unsorting needed).
    """
    m = tx.size
    if m == 0:
        return np.empty(0, dtype=np.int64), np.zeros(2, dtype=np.int64)
    x0, y0 = float(tx.min()), float(ty.min())
    wx, wy = float(tx.max()) - x0, float(ty.max()) - y0
    side = max(side, np.sqrt(wx * wy / (m / 4.0 + 1.0)), max(wx, wy) / 65536.0, 1e-3)
    ntx = int(wx // side) + 1
    nty = int(wy // side) + 1
    sub = _TILE_SUB  # sub-cells per tile side, no more than targets per tile (memory O(m))
    while sub > 1 and sub * sub * ntx * nty > m:
        sub //= 2
    return _kernels.curve_tile_sort(tx, ty, x0, y0, side, ntx, nty, sub)


def _default_chunk(prob: _Problem) -> int:
    T = prob.values.shape[0]
    if prob.k is not None:
        return int(np.clip(2**24 // max(T, 1), 4096, 1 << 20))
    if prob.variogram.code in _FUSED_CODES and T <= _FUSED_MAX_T:
        return 1 << 17  # no (chunk x n) matrix: only the outputs scale with the chunk
    return int(np.clip(2**21 // (prob.n + T + 8), 512, 8192))


def krige_chunks(
    xy: np.ndarray,
    values: np.ndarray,
    targets: np.ndarray,
    variogram: Variogram,
    *,
    method: str = "ordinary",
    n_neighbours: int | None = None,
    mean: float | None = None,
    linear_drift: bool = False,
    external_drift: tuple[np.ndarray, np.ndarray] | None = None,
    chunk_size: int | None = None,
    dtype: type = np.float64,
    variance: bool = True,
    noise_variance: np.ndarray | None = None,
) -> Iterator[tuple[slice, KrigingResult]]:
    """Kriging results one chunk of targets at a time: yields ``(slice, KrigingResult)``.

    Same parameters as :func:`krige`.  Use it when all outputs do not fit in
    memory (e.g. 365 daily vectors x 1e6 targets = 2.9 GB in float64): the
    peak memory is O(threads x chunk_size x (n + T) + n²) whatever the number of
    targets (global kriging of more than 8 vectors solves one chunk per numba thread
    at a time, same bits as one after another).  The chunks cover ``targets`` in
    order; ``estimate`` is (T, len(slice)) or (len(slice),) and ``variance`` as in
    :func:`krige` (None with ``variance=False``).  ``noise_variance`` (n,) (concentration², >= 0):
    per-station measurement-error variances added to the diagonal of the
    station-station block (estimate of the noise-free field), see :func:`krige`.
    """
    prob = _Problem(
        xy,
        values,
        variogram,
        method=method,
        n_neighbours=n_neighbours,
        mean=mean,
        linear_drift=linear_drift,
        external_drift=external_drift,
        n_targets=None,
        variance=variance,
        noise_variance=noise_variance,
    )
    targets = _as_xy(targets, "targets")
    m = targets.shape[0]
    if prob.ext_t is not None:
        prob.ext_t = _drift_matrix(prob.ext_t, m, "external_drift[1] (at targets)")
        if prob.ext_t.shape[1] != prob.ext_s.shape[1]:
            raise KrigingError(
                f"external_drift: {prob.ext_s.shape[1]} drift column(s) at stations but {prob.ext_t.shape[1]} at targets"
            )
    chunk = int(chunk_size) if chunk_size else _default_chunk(prob)
    if chunk < 1:
        raise KrigingError(f"chunk_size: expected >= 1, got {chunk_size}")
    return _iter_chunks(prob, targets, chunk, dtype)


def _iter_chunks(
    prob: _Problem, targets: np.ndarray, chunk: int, dtype: type
) -> Iterator[tuple[slice, KrigingResult]]:
    """The chunks in order; where :func:`_chunks_in_parallel`, solved a window of one chunk
    per thread at a time (BLAS on one thread while a window runs, restored between)."""
    m = targets.shape[0]
    slices = [slice(a, min(m, a + chunk)) for a in range(0, m, chunk)]
    threads = min(numba.get_num_threads(), len(slices)) if _chunks_in_parallel(prob) else 1
    if threads < 2:
        for sl in slices:
            with _single_threaded_blas():
                yield _solve(prob, targets, sl, dtype)
        return
    with _single_threaded_blas():  # every factorisation before the threads share them
        for pat in prob.patterns:
            prob.prepare_global(pat)
    with ThreadPoolExecutor(threads, thread_name_prefix="netsim-krige") as pool:
        for w in range(0, len(slices), threads):
            with _single_threaded_blas():
                window = list(pool.map(lambda sl: _solve(prob, targets, sl, dtype),
                                       slices[w:w + threads]))
            yield from window


def _solve(prob: _Problem, targets: np.ndarray, sl: slice, dtype: type
           ) -> tuple[slice, KrigingResult]:
    """Kriging of the targets ``targets[sl]`` (one chunk)."""
    T = prob.values.shape[0]
    # without variances one (1, chunk) scratch row stands in for them
    n_var = T if len(prob.patterns) > 1 and prob.do_var else 1
    c = sl.stop - sl.start
    axy = prob.variogram.adjust(targets[sl], prob.centre)
    est = np.empty((T, c))
    var = np.empty((n_var, c))
    prob.solve_chunk(axy, None if prob.ext_t is None else prob.ext_t[sl], est, var, targets[sl])
    if prob.one_d:
        est, var = est[0], var[0]
    return sl, KrigingResult(
        est.astype(dtype, copy=False),
        var.astype(dtype, copy=False) if prob.do_var else None,
        prob.method,
        prob.k,
    )


def _chunks_in_parallel(prob: _Problem) -> bool:
    """Chunks solved on several threads: global kriging of more value vectors than the
    global kernel forms itself, whose estimates are one single-threaded BLAS-3 product
    per chunk.  Each chunk's arithmetic, and so every result, is the same on any thread;
    at most one chunk per thread is held at a time."""
    return prob.k is None and prob.values.shape[0] > _FUSED_MAX_T


def krige(
    xy: np.ndarray,
    values: np.ndarray,
    targets: np.ndarray,
    variogram: Variogram,
    *,
    method: str = "ordinary",
    n_neighbours: int | None = None,
    mean: float | None = None,
    linear_drift: bool = False,
    external_drift: tuple[np.ndarray, np.ndarray] | None = None,
    chunk_size: int | None = None,
    dtype: type = np.float64,
    variance: bool = True,
    noise_variance: np.ndarray | None = None,
) -> KrigingResult:
    """Krige station values onto target points.

    Parameters
    ----------
    xy : ndarray (n, 2)
        Station easting/northing in metres (EPSG:32650); unique, finite, n >= 3.
    values : ndarray (n,) or (T, n)
        Concentrations (µg/m³; CO mg/m³).  NaN = missing: with (n,) those
        stations are dropped; with (T, n) steps are grouped by availability
        pattern (one solve per pattern) and steps with < 3 stations give NaN.
    targets : ndarray (m, 2)
        Target easting/northing in metres.
    variogram : Variogram
        Model in PyKrige conventions (anisotropy applied as PyKrige does).
    method : {"ordinary", "simple", "universal"}
        Simple kriging needs ``mean`` and a bounded model; universal needs
        ``linear_drift`` and/or ``external_drift``.
    n_neighbours : int, optional
        Use the k nearest stations (in anisotropy-adjusted space) per target;
        None = all stations (global).  Ordinary and simple kriging only.
    mean : float, optional
        Known mean for simple kriging (concentration units).
    linear_drift : bool
        Universal kriging with drift terms x and y (PyKrige ``regional_linear``).
    external_drift : (ndarray, ndarray), optional
        Drift values ``(at_stations (n,) or (n, k), at_targets (m,) or (m, k))``
        (PyKrige ``specified_drift``).
    chunk_size : int, optional
        Targets per chunk (default adapts to n and T).
    dtype : numpy dtype
        Output dtype (``np.float32`` halves the output memory).
    variance : bool
        Compute the kriging variance (default).  False skips it -- the
        quadratic form ``gᵀA⁻¹g`` is most of the work of the global kernel and
        about half of the local one -- and returns ``variance=None``; the
        estimates are bit-for-bit the same as with ``variance=True``.
    noise_variance : ndarray (n,), optional
        Known measurement-error variance of each station's value
        (concentration², e.g. (µg/m³)²; finite, >= 0), the same for every
        step of (T, n) values.  It is added to the diagonal of the
        station-station block only -- covariance form ``C_ii + σ²_i``, in the
        semivariance form used for ordinary/universal kriging ``γ_ii = 0``
        becomes ``-σ²_i`` -- while the station-target vectors are unchanged:
        the estimate is of the noise-free field, no longer exact at a noisy
        station (a noisier station gets less weight), and ``variance`` is the
        kriging variance of the noise-free value.  Stations dropped for NaN
        drop their σ² too.  None or all zeros: exact kriging, bit-for-bit the
        results without it.  Equivalent to GSTools ``Krige(exact=False,
        cond_err=nugget + σ²)`` away from the stations (GSTools leaves the
        nugget out of its covariance at zero lag).

    Returns
    -------
    KrigingResult
        ``estimate`` (m,) or (T, m); ``variance`` (m,), (1, m) or (T, m), or
        None with ``variance=False``.

    Raises
    ------
    KrigingError
        Fewer than 3 stations, duplicate or non-finite coordinates, shape
        mismatch, missing mean/drift, ``noise_variance`` not (n,), non-finite
        or negative, or a singular or too ill-conditioned kriging system
        (reciprocal condition number below :data:`RCOND_MIN`, see the module
        docstring), in the global system or in any neighbour set.

    References
    ----------
    Cressie, N. (1993). Statistics for Spatial Data, §3.2 (ordinary kriging
    of the noiseless process under measurement error).
    """
    targets_arr = _as_xy(targets, "targets")
    est = var = None
    for sl, res in krige_chunks(
        xy,
        values,
        targets_arr,
        variogram,
        method=method,
        n_neighbours=n_neighbours,
        mean=mean,
        linear_drift=linear_drift,
        external_drift=external_drift,
        chunk_size=chunk_size,
        dtype=dtype,
        variance=variance,
        noise_variance=noise_variance,
    ):
        m = targets_arr.shape[0]
        if sl.start == 0 and sl.stop == m:  # one chunk: its arrays are the result
            est, var = res.estimate, res.variance
            break
        if est is None:
            est = np.empty((*res.estimate.shape[:-1], m), dtype=dtype)
            if variance:
                var = np.empty((*res.variance.shape[:-1], m), dtype=dtype)
        est[..., sl] = res.estimate
        if variance:
            var[..., sl] = res.variance
    if est is None:  # no targets
        prob_T = np.asarray(values).shape[:-1]
        est = np.empty((*prob_T, 0), dtype=dtype)
        if variance:
            var = np.empty((0,) if not prob_T else (1, 0), dtype=dtype)
    return KrigingResult(est, var, str(method).lower(), n_neighbours)
