"""Numba kernels of the kriging core (``@njit`` code only; no validation here).

The public, validating API lives in :mod:`netsim.kriging.api`.  Model codes
are :data:`netsim.variogram.MODEL_CODES`: 0 spherical, 1 exponential,
2 gaussian, 3 linear, 4 power, 5 matern (closed forms for smoothness 0.5, 1.5
and 2.5 only; other smoothness values are evaluated with SciPy by the API).
Distances are metres, semivariances concentration².

Fast-math flags are at most ``reassoc``, ``contract`` and ``nsz``: with ``afn`` or
``arcp`` (``fastmath=True``) LLVM may replace a square root or a division by an
approximation in a kernel numba compiles but not in the same kernel loaded from
its cache, so the first run on a machine and later runs differed by ~1e-12
(``tests/kriging/test_kriging_chunks.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

ZERO_DISTANCE_M = 1e-10


@njit(cache=True, inline="always")
def _gamma(code, psill, rng, nugget, shape, h):
    """Semivariance of one lag ``h`` (0 at ``h <= 1e-10``)."""
    if h <= ZERO_DISTANCE_M:
        return 0.0
    if code == 0:
        if h >= rng:
            return psill + nugget
        r = h / rng
        return psill * (1.5 * r - 0.5 * r * r * r) + nugget
    if code == 1:
        return psill * (1.0 - math.exp(-h / (rng / 3.0))) + nugget
    if code == 2:
        a = rng * 4.0 / 7.0
        return psill * (1.0 - math.exp(-(h * h) / (a * a))) + nugget
    if code == 3:
        return psill * h / rng + nugget
    if code == 4:
        return psill * (h / rng) ** shape + nugget
    # matern, half-integer closed forms
    x = h / (rng / 3.0)
    if shape == 0.5:
        c = math.exp(-x)
    elif shape == 1.5:
        c = (1.0 + x) * math.exp(-x)
    else:
        c = (1.0 + x + x * x / 3.0) * math.exp(-x)
    return psill * (1.0 - c) + nugget


@njit(parallel=True, cache=True)
def gamma_block(tx, ty, sx, sy, code, psill, rng, nugget, shape, cov, sill, out):
    """Fill ``out[i, :n]`` with gamma (or ``sill - gamma`` if ``cov``) between targets and stations.

    ``code = -1`` writes plain distances (metres) for models evaluated outside
    numba.  For the exponential (1) and gaussian (2) models this writes the
    exponent ``-h/(r/3)`` or ``-h²/(4r/7)²`` (``+inf`` at zero distance) so the
    caller can apply NumPy's SIMD ``exp`` and then :func:`finish_exp`.
    """
    m = tx.shape[0]
    n = sx.shape[0]
    eps2 = ZERO_DISTANCE_M * ZERO_DISTANCE_M
    for i in prange(m):
        xi = tx[i]
        yi = ty[i]
        if code == -1:
            for j in range(n):
                dx = xi - sx[j]
                dy = yi - sy[j]
                out[i, j] = math.sqrt(dx * dx + dy * dy)
        elif code == 0:
            inv = 1.0 / rng
            for j in range(n):
                dx = xi - sx[j]
                dy = yi - sy[j]
                h2 = dx * dx + dy * dy
                r = min(math.sqrt(h2) * inv, 1.0)
                g = psill * (1.5 * r - 0.5 * r * r * r) + nugget
                if cov:
                    g = sill - g
                out[i, j] = (sill if cov else 0.0) if h2 <= eps2 else g
        elif code == 1:
            inv = 3.0 / rng
            for j in range(n):
                dx = xi - sx[j]
                dy = yi - sy[j]
                h2 = dx * dx + dy * dy
                out[i, j] = np.inf if h2 <= eps2 else -math.sqrt(h2) * inv
        elif code == 2:
            a = rng * 4.0 / 7.0
            inv = 1.0 / (a * a)
            for j in range(n):
                dx = xi - sx[j]
                dy = yi - sy[j]
                h2 = dx * dx + dy * dy
                out[i, j] = np.inf if h2 <= eps2 else -h2 * inv
        else:
            for j in range(n):
                dx = xi - sx[j]
                dy = yi - sy[j]
                g = _gamma(code, psill, rng, nugget, shape, math.sqrt(dx * dx + dy * dy))
                out[i, j] = sill - g if cov else g


@njit(parallel=True, cache=True)
def finish_exp(out, n, psill, nugget, cov, sill):
    """Turn ``exp(exponent)`` from :func:`gamma_block` into gamma (covariance if ``cov``)."""
    m = out.shape[0]
    for i in prange(m):
        for j in range(n):
            e = out[i, j]
            if cov:
                out[i, j] = sill if e > 1.0 else psill * e
            else:
                out[i, j] = 0.0 if e > 1.0 else psill * (1.0 - e) + nugget


@njit(parallel=True, cache=True)
def rowdot(w, g, offset, sign, out):
    """``out[i] = max(offset + sign * sum_j w[i, j] * g[i, j], 0)`` (kriging variance)."""
    m, n = w.shape
    for i in prange(m):
        s = 0.0
        for j in range(n):
            s += w[i, j] * g[i, j]
        v = offset + sign * s
        out[i] = v if v > 0.0 else 0.0


@njit(parallel=True, cache=True)
def mean_gamma_pairs(x, y, code, psill, rng, nugget, shape):
    """Mean of gamma over all ordered point pairs (``gamma(0) = 0`` on the diagonal)."""
    k = x.shape[0]
    acc = np.zeros(k)
    for i in prange(k):
        s = 0.0
        for j in range(k):
            dx = x[i] - x[j]
            dy = y[i] - y[j]
            s += _gamma(code, psill, rng, nugget, shape, math.sqrt(dx * dx + dy * dy))
        acc[i] = s
    return acc.sum() / (k * k)


# ---------------------------------------------------------------------------
# Local neighbourhood: grid-bucket k-nearest search and small systems
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _scan_cell(c, px, py, sx, sy, cell_start, cell_items, k, nd, ni, found):
    """Offer the stations of grid cell ``c`` to the sorted k-best list; returns the new count."""
    for p in range(cell_start[c], cell_start[c + 1]):
        s = cell_items[p]
        dx = px - sx[s]
        dy = py - sy[s]
        d2 = dx * dx + dy * dy
        if found < k:
            q = found
            found += 1
        elif d2 < nd[k - 1]:
            q = k - 1
        else:
            continue
        while q > 0 and nd[q - 1] > d2:
            nd[q] = nd[q - 1]
            ni[q] = ni[q - 1]
            q -= 1
        nd[q] = d2
        ni[q] = s
    return found


@njit(cache=True, inline="always")
def _knn(px, py, sx, sy, cell_start, cell_items, x0, y0, cs, nx, ny, k, nd, ni):
    """Exact k nearest stations of (px, py) via a uniform grid.

    Fills nd (squared distances) and ni (indices) sorted by distance.

    Rings of cells at Chebyshev distance r = 0, 1, ... around the target's cell
    are scanned until the k-th distance is within ``r * cs``, the smallest
    possible distance to any cell not yet scanned.
    """
    cx = np.int64(math.floor((px - x0) / cs))
    cy = np.int64(math.floor((py - y0) / cs))
    ox = 0
    if cx < 0:
        ox = -cx
    elif cx > nx - 1:
        ox = cx - (nx - 1)
    oy = 0
    if cy < 0:
        oy = -cy
    elif cy > ny - 1:
        oy = cy - (ny - 1)
    r = max(ox, oy)
    rmax = max(max(cx, nx - 1 - cx), max(cy, ny - 1 - cy))
    found = 0
    while r <= rmax:
        ylo = max(cy - r, 0)
        yhi = min(cy + r, ny - 1)
        xlo = max(cx - r, 0)
        xhi = min(cx + r, nx - 1)
        for iy in range(ylo, yhi + 1):
            if iy == cy - r or iy == cy + r:
                for ix in range(xlo, xhi + 1):
                    found = _scan_cell(
                        iy * nx + ix, px, py, sx, sy, cell_start, cell_items, k, nd, ni, found
                    )
            else:
                if cx - r >= 0 and cx - r <= nx - 1:
                    found = _scan_cell(
                        iy * nx + cx - r, px, py, sx, sy, cell_start, cell_items, k, nd, ni, found
                    )
                if r > 0 and cx + r <= nx - 1 and cx + r >= 0:
                    found = _scan_cell(
                        iy * nx + cx + r, px, py, sx, sy, cell_start, cell_items, k, nd, ni, found
                    )
        if found >= k:
            lim = r * cs
            if nd[k - 1] <= lim * lim:
                break
        r += 1
    return found


@njit(cache=True)
def knn_query(tx, ty, sx, sy, cell_start, cell_items, x0, y0, cs, nx, ny, k, out_idx):
    """k nearest station indices (ascending distance) of each target; serial helper for tests."""
    nd = np.empty(k)
    ni = np.empty(k, dtype=np.int64)
    for i in range(tx.shape[0]):
        _knn(tx[i], ty[i], sx, sy, cell_start, cell_items, x0, y0, cs, nx, ny, k, nd, ni)
        out_idx[i, :] = ni


@njit(cache=True)
def _invert(a, n, work):
    """Invert the leading n x n block of ``a`` in place (Gauss-Jordan, partial pivoting).

    Returns the smallest absolute pivot relative to the largest entry (0 when singular).
    """
    amax = 0.0
    for i in range(n):
        for j in range(n):
            v = abs(a[i, j])
            if v > amax:
                amax = v
            work[i, j] = a[i, j]
            work[i, n + j] = 1.0 if i == j else 0.0
    if amax == 0.0:
        return 0.0
    minpiv = np.inf
    for col in range(n):
        piv = col
        best = abs(work[col, col])
        for r in range(col + 1, n):
            v = abs(work[r, col])
            if v > best:
                best = v
                piv = r
        if best / amax < minpiv:
            minpiv = best / amax
        if best == 0.0:
            return 0.0
        if piv != col:
            for j in range(2 * n):
                t = work[col, j]
                work[col, j] = work[piv, j]
                work[piv, j] = t
        inv_p = 1.0 / work[col, col]
        for j in range(2 * n):
            work[col, j] *= inv_p
        for r in range(n):
            if r != col:
                f = work[r, col]
                if f != 0.0:
                    for j in range(2 * n):
                        work[r, j] -= f * work[col, j]
    for i in range(n):
        for j in range(n):
            a[i, j] = work[i, n + j]
    return minpiv


@njit(cache=True)
def _equilibration(a, ns, n_st, nv, simple, e):
    """Fill ``e`` (ns,) with the symmetric scaling of a kriging system (see :func:`system_rcond`).

    ``g`` = largest ``|entry|`` of the noise-free station block (the system's
    diagonal with ``nv``, the stations' error variances, taken off again):
    ``e_i = 1 / sqrt(g + nv_i)`` for the stations, ``sqrt(g)`` for drift rows.
    """
    g = 0.0
    for i in range(n_st):
        for j in range(n_st):
            v = a[i, j]
            if i == j:
                v = v - nv[i] if simple else v + nv[i]
            g = max(g, abs(v))
    if g == 0.0:
        g = 1.0
    for i in range(n_st):
        e[i] = 1.0 / math.sqrt(g + nv[i])
    for i in range(n_st, ns):
        e[i] = math.sqrt(g)


@njit(cache=True, fastmath={"reassoc", "contract", "nsz"})
def _scaled_norm1(a, ns, e, inverse):
    """1-norm (largest column sum of ``|.|``) of ``E A E`` -- or of ``E⁻¹ A⁻¹ E⁻¹``
    when ``a`` holds ``A⁻¹`` (``inverse=True``) -- with ``E = diag(e)``, leading ``ns`` block."""
    best = 0.0
    for j in range(ns):
        col = 0.0
        for i in range(ns):
            if inverse:
                col += abs(a[i, j]) / (e[i] * e[j])
            else:
                col += abs(a[i, j]) * e[i] * e[j]
        best = max(best, col)
    return best


@njit(cache=True)
def _reciprocal(na, ni):
    prod = na * ni
    return 1.0 / prod if prod > 0.0 and np.isfinite(prod) else 0.0


@njit(cache=True)
def system_rcond(a, ainv, n_st, nv, simple):
    """Reciprocal 1-norm condition number ``1 / (‖EAE‖₁ ‖(EAE)⁻¹‖₁)`` of a kriging system.

    ``a`` (N, N) is the system (semivariances ``Γ - diag(nv)`` with drift rows,
    or covariances ``C + diag(nv)`` for simple kriging), ``ainv`` its computed
    inverse, ``n_st`` the number of stations, ``nv`` (n_st,) their error
    variances.  ``E`` (:func:`_equilibration`) divides the station block by its
    largest noise-free entry ``g`` and each station's row and column by
    ``sqrt(1 + nv_i / g)`` (drift rows: times ``sqrt(g)``), so neither the
    concentration units nor a station's huge error variance (a station that
    barely counts) look like ill-conditioning.  0 when ``ainv`` is not finite.
    The single criterion of both kriging paths (see :mod:`netsim.kriging.api`).
    """
    ns = a.shape[0]
    for i in range(ns):
        for j in range(ns):
            if not np.isfinite(ainv[i, j]):
                return 0.0
    e = np.empty(ns)
    _equilibration(a, ns, n_st, nv, simple, e)
    return _reciprocal(_scaled_norm1(a, ns, e, False), _scaled_norm1(ainv, ns, e, True))


@njit(cache=True, fastmath={"reassoc", "contract", "nsz"})
def _covariance_route_rcond(c, cinv, rvec, rsum, k, simple, sill, gmax, nvm, e):
    """:func:`system_rcond` of a neighbour set factorised in covariance form.

    ``c`` holds ``C`` (covariances, error variances ``nvm`` on the diagonal),
    ``cinv`` = ``C⁻¹`` (both symmetric), ``rvec`` = ``C⁻¹1``, ``rsum`` =
    ``1ᵀC⁻¹1``, ``gmax`` the largest semivariance between members (ordinary
    kriging's ``g``); ``e`` is scratch (2, k + 1).  Simple kriging's system is
    ``C`` itself.  Ordinary kriging's is ``A = [[Γ, 1], [1ᵀ, 0]]`` with
    ``Γ = sill 11ᵀ - C``, whose inverse follows from ``C⁻¹`` in O(k²) (block
    inverse of ``[[-C, 1], [1ᵀ, 0]]`` times the row operation adding ``sill``
    times the last row): ``A⁻¹ = [[rrᵀ/s - C⁻¹, r/s], [rᵀ/s, 1/s - sill]]``
    with ``r = C⁻¹1``, ``s = 1ᵀC⁻¹1``.
    """
    if simple:
        _equilibration(c, k, k, nvm, True, e[0])
        return _reciprocal(_scaled_norm1(c, k, e[0], False), _scaled_norm1(cinv, k, e[0], True))
    if rsum == 0.0:
        return 0.0
    g = gmax if gmax > 0.0 else 1.0
    sc = e[0]  # station scales 1/sqrt(g + nv_i)
    isc = e[1]  # their reciprocals (the inverse's entries are divided by the scales)
    for i in range(k):
        isc[i] = math.sqrt(g + nvm[i])
        sc[i] = 1.0 / isc[i]
    ek = math.sqrt(g)
    inv_s = 1.0 / rsum
    na = 0.0
    ni = 0.0
    last_a = 0.0
    last_i = 0.0
    for j in range(k):
        rj = rvec[j] * inv_s
        ca = 0.0
        ci = 0.0
        cj = c[j]  # row j = column j (symmetric), contiguous
        ij = cinv[j]
        for i in range(k):
            ca += abs(sill - cj[i]) * sc[i]
            ci += abs(rvec[i] * rj - ij[i]) * isc[i]
        ca = (ca + ek) * sc[j]
        ci = (ci + abs(rj) / ek) * isc[j]
        na = max(na, ca)
        ni = max(ni, ci)
        last_a += sc[j]
        last_i += abs(rj) * isc[j]
    last_a *= ek
    last_i = last_i / ek + abs(inv_s - sill) / g
    return _reciprocal(max(na, last_a), max(ni, last_i))


@njit(cache=True)
def _smallest_eigenvalue_bound(nugget, nv_min, coincident, k, sill):
    """A lower bound (concentration²) of the smallest eigenvalue of a bounded model's
    covariance matrix ``C + diag(nv)`` of k stations, or 0 when there is none.

    The bounded models (spherical in 2-D and 3-D, exponential, Gaussian, Matérn) are
    positive definite functions, so ``C = psill R + nugget I`` with ``R`` positive
    semidefinite: every eigenvalue is at least ``nugget + min(nv)``.  Stations closer
    than :data:`ZERO_DISTANCE_M` (``coincident``: an off-diagonal covariance reaches the
    sill) share the nugget and void the argument; ``k * sill * 1e-12`` is taken off for
    the rounding of the computed entries (at most a few ulp of ``sill`` each).
    """
    if coincident:
        return 0.0
    lam = nugget + nv_min - k * sill * 1e-12
    return lam if lam > 0.0 else 0.0


@njit(cache=True)
def _rcond_lower_bound(inv_norm2, isc, rvec, rsum, k, simple, sill, g):
    """A lower bound of :func:`_covariance_route_rcond` in O(k) (the local kernel's fast path).

    Every entry of the scaled system ``EAE`` is at most 1 in absolute value,
    so ``‖EAE‖₁ <= k + 1`` (k for simple kriging).  ``‖(EAE)⁻¹‖₁`` is bounded
    by the triangle inequality on ``rrᵀ/s - C⁻¹`` and, for the symmetric
    positive definite ``C⁻¹`` (``inv_norm2`` >= ``‖C⁻¹‖₂``, e.g. its trace or
    ``1 / λ_min``, :func:`_smallest_eigenvalue_bound`),
    ``Σ_i |C⁻¹_ij| isc_i <= max(isc) sqrt(k) ‖C⁻¹‖₂``,
    with ``isc_i = sqrt(g + nv_i)``.  When this bound reaches the threshold
    the exact value does too; it is looser by at most ~k^1.5 (with the trace), so only
    sets within a few orders of magnitude of the threshold need the exact value.
    """
    if rsum == 0.0 or not inv_norm2 > 0.0:
        return 0.0
    big_i = 0.0
    for i in range(k):
        big_i = max(big_i, isc[i])
    col = big_i * math.sqrt(float(k)) * inv_norm2  # bounds Σ_i |C⁻¹_ij| isc_i for every j
    if simple:
        return _reciprocal(float(k), big_i * col)
    ek = math.sqrt(g)
    inv_s = abs(1.0 / rsum)
    big_r = 0.0
    for i in range(k):
        big_r += abs(rvec[i]) * isc[i]
    ub = big_r * inv_s / ek + abs(1.0 / rsum - sill) / g
    for j in range(k):
        ub = max(ub, isc[j] * (abs(rvec[j]) * inv_s * (big_r + 1.0 / ek) + col))
    return _reciprocal(float(k + 1), ub)


# ---------------------------------------------------------------------------
# Global neighbourhood: fused covariance vector + quadratic form per block
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _gamma_row(code, psill, rng, nugget, shape, simple, sill, sxj, syj, tx, ty, i0, nb, row):
    """``row[t]`` = gamma (``sill - gamma`` if ``simple``) between station j and target ``i0 + t``.

    SIMD-friendly for the spherical (0) and linear (3) models; other models
    go through :func:`_gamma` one lag at a time.
    """
    eps2 = ZERO_DISTANCE_M * ZERO_DISTANCE_M
    zero = sill if simple else 0.0
    if code == 0:
        inv = 1.0 / rng
        for t in range(nb):
            dx = tx[i0 + t] - sxj
            dy = ty[i0 + t] - syj
            h2 = dx * dx + dy * dy
            r = min(math.sqrt(h2) * inv, 1.0)
            g = psill * (1.5 * r - 0.5 * r * r * r) + nugget
            if simple:
                g = sill - g
            row[t] = zero if h2 <= eps2 else g
    elif code == 3:
        inv = psill / rng
        for t in range(nb):
            dx = tx[i0 + t] - sxj
            dy = ty[i0 + t] - syj
            h2 = dx * dx + dy * dy
            g = math.sqrt(h2) * inv + nugget
            if simple:
                g = sill - g
            row[t] = zero if h2 <= eps2 else g
    else:
        for t in range(nb):
            dx = tx[i0 + t] - sxj
            dy = ty[i0 + t] - syj
            g = _gamma(code, psill, rng, nugget, shape, math.sqrt(dx * dx + dy * dy))
            row[t] = sill - g if simple else g


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract", "nsz"})
def global_krige(
    tx,
    ty,
    sx,
    sy,
    drift,
    g,
    g_given,
    upper,
    alpha,
    code,
    psill,
    rng,
    nugget,
    shape,
    simple,
    sill,
    mean,
    do_est,
    do_var,
    block,
    est,
    var,
):
    """Global-neighbourhood kriging of a chunk of targets, ``block`` targets at a time.

    Per block the augmented covariance vectors are held transposed
    (``gT[j, t]``, targets contiguous, in L1) -- computed here from the
    coordinates (``drift[q, i]`` = drift column q at target i; a single column
    is broadcast to all targets), or copied from
    ``g[i, j]`` when ``g_given`` -- and the kriging variance is the quadratic
    form ``gᵀ A⁻¹ g = Σ_i g_i Σ_{j>=i} U_ij g_j`` with ``upper`` = U (the upper
    triangle of the symmetric ``A⁻¹`` with doubled off-diagonal terms), so no
    (chunk x n) weight matrix is formed.  Ordinary/universal: ``var = gᵀA⁻¹g``;
    simple: ``var = sill - cᵀC⁻¹c``; clipped at 0 (skipped unless ``do_var``).
    With ``do_est`` also ``est[s, i] = mean + Σ_j alpha[j, s] g_j``
    (``alpha = A⁻¹ [z - mean; 0]``).
    """
    c = tx.shape[0] if not g_given else g.shape[0]
    N = upper.shape[0]
    n = sx.shape[0]
    p = N - n
    T = alpha.shape[1]
    nblocks = (c + block - 1) // block
    for bi in prange(nblocks):
        i0 = bi * block
        nb = min(block, c - i0)
        gT = np.empty((N, block))
        h = np.empty(block)
        acc = np.zeros(block)
        if g_given:
            for t in range(nb):
                for j in range(N):
                    gT[j, t] = g[i0 + t, j]
        else:
            # spherical: a station farther than the range from the block's
            # bounding box has the constant sill for every target (no sqrt)
            bx0 = tx[i0]
            bx1 = bx0
            by0 = ty[i0]
            by1 = by0
            for t in range(1, nb):
                bx0 = min(bx0, tx[i0 + t])
                bx1 = max(bx1, tx[i0 + t])
                by0 = min(by0, ty[i0 + t])
                by1 = max(by1, ty[i0 + t])
            far = psill * (1.5 * 1.0 - 0.5 * 1.0 * 1.0 * 1.0) + nugget
            if simple:
                far = sill - far
            for j in range(n):
                if code == 0:
                    ddx = max(bx0 - sx[j], 0.0, sx[j] - bx1)
                    ddy = max(by0 - sy[j], 0.0, sy[j] - by1)
                    if ddx * ddx + ddy * ddy > rng * rng * (1.0 + 1e-9) + 1.0:
                        row = gT[j]
                        for t in range(nb):
                            row[t] = far
                        continue
                _gamma_row(
                    code,
                    psill,
                    rng,
                    nugget,
                    shape,
                    simple,
                    sill,
                    sx[j],
                    sy[j],
                    tx,
                    ty,
                    i0,
                    nb,
                    gT[j],
                )
            for q in range(p):
                if drift.shape[1] == 1:
                    d0 = drift[q, 0]
                    for t in range(nb):
                        gT[n + q, t] = d0
                else:
                    for t in range(nb):
                        gT[n + q, t] = drift[q, i0 + t]
        if do_var:
            for i in range(N):
                gi = gT[i]
                uii = upper[i, i]
                for t in range(nb):
                    h[t] = uii * gi[t]
                j = i + 1
                while j + 3 < N:
                    a0 = upper[i, j]
                    a1 = upper[i, j + 1]
                    a2 = upper[i, j + 2]
                    a3 = upper[i, j + 3]
                    g0 = gT[j]
                    g1 = gT[j + 1]
                    g2 = gT[j + 2]
                    g3 = gT[j + 3]
                    for t in range(nb):
                        h[t] += a0 * g0[t] + a1 * g1[t] + a2 * g2[t] + a3 * g3[t]
                    j += 4
                while j < N:
                    a0 = upper[i, j]
                    g0 = gT[j]
                    for t in range(nb):
                        h[t] += a0 * g0[t]
                    j += 1
                for t in range(nb):
                    acc[t] += gi[t] * h[t]
            for t in range(nb):
                v = sill - acc[t] if simple else acc[t]
                var[i0 + t] = v if v > 0.0 else 0.0
        if do_est:
            for s in range(T):
                for t in range(nb):
                    h[t] = mean
                for j in range(N):
                    a0 = alpha[j, s]
                    g0 = gT[j]
                    for t in range(nb):
                        h[t] += a0 * g0[t]
                for t in range(nb):
                    est[s, i0 + t] = h[t]


# ---------------------------------------------------------------------------
# Local neighbourhood, tiled: candidates per tile, one factorisation per set
# ---------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _hilbert_index(n, x, y):
    """Position of cell ``(x, y)`` along the Hilbert curve filling an ``n x n`` grid
    (``n`` a power of two; Hamilton's iterative ``xy2d``)."""
    d = np.int64(0)
    s = n >> 1
    while s > 0:
        rx = np.int64(1) if (x & s) > 0 else np.int64(0)
        ry = np.int64(1) if (y & s) > 0 else np.int64(0)
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x = n - 1 - x
                y = n - 1 - y
            x, y = y, x
        s >>= 1
    return d


@njit(cache=True)
def curve_tile_sort(tx, ty, x0, y0, side, ntx, nty, sub):
    """Targets ordered along a Hilbert curve, grouped by square tile of ``side`` metres.

    Tiles follow the Hilbert curve over the ``ntx x nty`` tile grid (consecutive
    tiles are neighbours); inside a tile the targets follow the same curve one
    level finer, by ``sub x sub`` sub-cells (``sub`` a power of two), so
    consecutive targets are close and tend to share a neighbour set.  A counting
    sort, O(m + tiles), deterministic: targets of one sub-cell keep their input order.
    Returns ``(perm, start)``: the targets of the ``b``-th tile along the curve
    are ``perm[start[b]:start[b + 1]]``.
    """
    m = tx.shape[0]
    nt = ntx * nty
    n = np.int64(1)
    while n < max(ntx, nty):
        n <<= 1
    code = np.empty(nt, dtype=np.int64)
    for b in range(nt):
        code[b] = _hilbert_index(n, b % ntx, b // ntx)
    rank = np.empty(nt, dtype=np.int64)
    order = np.argsort(code)  # distinct codes: a unique order
    for r in range(nt):
        rank[order[r]] = r
    nsub = sub * sub
    fside = side / sub
    bucket = np.empty(m, dtype=np.int64)
    count = np.zeros(nt * nsub + 1, dtype=np.int64)
    for i in range(m):
        fx = min(max(np.int64((tx[i] - x0) / fside), 0), ntx * sub - 1)
        fy = min(max(np.int64((ty[i] - y0) / fside), 0), nty * sub - 1)
        within = _hilbert_index(n * sub, fx, fy) & (nsub - 1)
        bb = rank[(fy // sub) * ntx + fx // sub] * nsub + within
        bucket[i] = bb
        count[bb + 1] += 1
    for b in range(nt * nsub):
        count[b + 1] += count[b]
    start = count[::nsub].copy()
    fill = count[:-1].copy()
    perm = np.empty(m, dtype=np.int64)
    for i in range(m):
        bb = bucket[i]
        perm[fill[bb]] = i
        fill[bb] += 1
    return perm, start


@njit(cache=True, inline="always")
def _cov_or_gamma(code, psill, rng, nugget, shape, cov, sill, dx, dy):
    g = _gamma(code, psill, rng, nugget, shape, math.sqrt(dx * dx + dy * dy))
    return sill - g if cov else g


@njit(cache=True)
def _cholesky_factor(a, k, lt):
    """Cholesky factor ``L`` of the symmetric positive definite ``a[:k, :k]`` into ``lt``
    (``a``'s upper triangle is read).

    ``lt`` holds ``Lᵀ`` by rows (``lt[q, q + 1:k] = L[q + 1:k, q]``, contiguous) with
    the reciprocal pivots ``1 / L_qq`` on its diagonal, the layout of
    :func:`_forward_solve` and :func:`_backward_solve`.  Returns the smallest pivot
    ``L_ii²`` relative to the largest diagonal entry (<= 0 when ``a`` is not
    numerically positive definite; ``lt`` is then incomplete).  Column j is
    ``a[j:, j] - Σ_q L[j:, q] L[j, q]`` summed in q order, four entries at a time in
    registers (the same bits as entry by entry; ~30 % faster at k = 16 than updating
    the column in memory once per q).
    """
    dmax = 0.0
    for i in range(k):
        dmax = max(dmax, a[i, i])
    if dmax <= 0.0:
        return 0.0
    minpiv = np.inf
    for j in range(k):
        row = lt[j]  # column j of L, rows j..k-1
        t = j
        while t + 4 <= k:
            a0 = a[j, t]
            a1 = a[j, t + 1]
            a2 = a[j, t + 2]
            a3 = a[j, t + 3]
            for q in range(j):
                l_q = lt[q]
                l_jq = l_q[j]
                a0 -= l_q[t] * l_jq
                a1 -= l_q[t + 1] * l_jq
                a2 -= l_q[t + 2] * l_jq
                a3 -= l_q[t + 3] * l_jq
            row[t] = a0
            row[t + 1] = a1
            row[t + 2] = a2
            row[t + 3] = a3
            t += 4
        while t < k:
            a0 = a[j, t]
            for q in range(j):
                a0 -= lt[q, t] * lt[q, j]
            row[t] = a0
            t += 1
        pivot = row[j]
        minpiv = min(minpiv, pivot / dmax)
        if pivot <= 0.0:
            return 0.0
        inv_d = 1.0 / math.sqrt(pivot)
        row[j] = inv_d
        for t in range(j + 1, k):
            row[t] *= inv_d
    return minpiv


@njit(cache=True, inline="always")
def _forward_solve(lt, k, b):
    """``b <- L⁻¹ b`` for the factor in ``lt`` (:func:`_cholesky_factor`).

    Entry t is ``(b_t - Σ_{q<t} L[t, q] x_q) / L_tt`` summed in q order, four entries at
    a time in registers: first the terms of the earlier blocks, then the triangle
    within the block.
    """
    # the register block of _cholesky_factor written out again: a shared inline helper
    # taking the arrays costs an incref/decref pair per call (one per block and column)
    t0 = 0
    while t0 + 4 <= k:
        a0 = b[t0]
        a1 = b[t0 + 1]
        a2 = b[t0 + 2]
        a3 = b[t0 + 3]
        for q in range(t0):
            l_q = lt[q]
            x = b[q]
            a0 -= l_q[t0] * x
            a1 -= l_q[t0 + 1] * x
            a2 -= l_q[t0 + 2] * x
            a3 -= l_q[t0 + 3] * x
        l_0 = lt[t0]
        l_1 = lt[t0 + 1]
        l_2 = lt[t0 + 2]
        a0 = a0 * l_0[t0]
        a1 -= l_0[t0 + 1] * a0
        a2 -= l_0[t0 + 2] * a0
        a3 -= l_0[t0 + 3] * a0
        a1 = a1 * l_1[t0 + 1]
        a2 -= l_1[t0 + 2] * a1
        a3 -= l_1[t0 + 3] * a1
        a2 = a2 * l_2[t0 + 2]
        a3 -= l_2[t0 + 3] * a2
        a3 = a3 * lt[t0 + 3, t0 + 3]
        b[t0] = a0
        b[t0 + 1] = a1
        b[t0 + 2] = a2
        b[t0 + 3] = a3
        t0 += 4
    for t in range(t0, k):
        a0 = b[t]
        for q in range(t):
            a0 -= lt[q, t] * b[q]
        b[t] = a0 * lt[t, t]


@njit(cache=True, inline="always")
def _backward_solve(lt, k, b):
    """``b <- L⁻ᵀ b`` for the factor in ``lt`` (:func:`_cholesky_factor`), by rows."""
    for q in range(k - 1, -1, -1):
        l_q = lt[q]
        acc = b[q]
        for t in range(q + 1, k):
            acc -= l_q[t] * b[t]
        b[q] = acc * l_q[q]


@njit(cache=True, inline="always")
def _solve_pair(lt, k, b, c):
    """``b <- C⁻¹ b`` and ``c <- C⁻¹ c`` for ``C = L Lᵀ`` (:func:`_cholesky_factor`): the
    operations of :func:`_forward_solve` then :func:`_backward_solve` on each (same
    bits), interleaved so that the two dependency chains overlap."""
    for q in range(k):
        d = lt[q, q]
        x = b[q] * d
        y = c[q] * d
        b[q] = x
        c[q] = y
        l_q = lt[q]
        for t in range(q + 1, k):
            b[t] -= l_q[t] * x
            c[t] -= l_q[t] * y
    for q in range(k - 1, -1, -1):
        l_q = lt[q]
        acc_b = b[q]
        acc_c = c[q]
        for t in range(q + 1, k):
            acc_b -= l_q[t] * b[t]
            acc_c -= l_q[t] * c[t]
        b[q] = acc_b * l_q[q]
        c[q] = acc_c * l_q[q]


@njit(cache=True)
def _cholesky_inverse(lt, k, out):
    """``out[:k, :k] = (L Lᵀ)⁻¹`` from the factor in ``lt`` (:func:`_cholesky_factor`),
    column by column (two triangular solves each); symmetric up to rounding."""
    for j in range(k):
        col = out[j, :k]
        for i in range(k):
            col[i] = 0.0
        col[j] = 1.0
        _forward_solve(lt, k, col)
        _backward_solve(lt, k, col)


# value vectors up to which each cached neighbour set also stores its
# per-vector weights ``w = M [z; 0]`` (estimate = ``w . c`` per target)
_TW_MAX = 8
# factorised neighbour sets cached per tile (found by their bit mask over the tile's candidates)
_TILE_CACHE = 64


@njit(cache=True, inline="always")
def _member_cov(code, psill, rng, nugget, shape, covform, sill, px, py, mx, my, k, out):
    """``out[q]`` = covariance (``covform``) or semivariance between (px, py) and member q.

    The spherical model is written branch-free so the k lags run in SIMD lanes.
    """
    if code == 0:
        eps2 = ZERO_DISTANCE_M * ZERO_DISTANCE_M
        inv = 1.0 / rng
        zero = sill if covform else 0.0
        for q in range(k):
            dx = px - mx[q]
            dy = py - my[q]
            h2 = dx * dx + dy * dy
            r = min(math.sqrt(h2) * inv, 1.0)
            g = psill * (1.5 * r - 0.5 * r * r * r) + nugget
            if covform:
                g = sill - g
            out[q] = zero if h2 <= eps2 else g
    else:
        for q in range(k):
            out[q] = _cov_or_gamma(
                code, psill, rng, nugget, shape, covform, sill, px - mx[q], py - my[q]
            )


@njit(cache=True)
def _covariance_system(code, psill, rng, nugget, shape, sill, mx, my, nvm, k, a):
    """``a[:k, :k] = C + diag(nvm)`` of the members at (mx, my) (rows of the upper triangle
    by the branch-free :func:`_member_cov`, SIMD over the members, then mirrored); returns
    the smallest and largest off-diagonal covariance."""
    for r in range(k):
        _member_cov(
            code, psill, rng, nugget, shape, True, sill,
            mx[r], my[r], mx[r + 1:], my[r + 1:], k - r - 1, a[r, r + 1:],
        )
    cmin = sill
    cmax = -np.inf
    for r in range(k):
        a[r, r] = sill + nvm[r]
        for c in range(r + 1, k):
            g = a[r, c]
            a[c, r] = g
            cmin = min(cmin, g)
            cmax = max(cmax, g)
    return cmin, cmax


@njit(cache=True)
def _cholesky_route_rcond(a, lt, work, r1, tot, k, simple, sill, nugget, cmin, cmax, nvm, e,
                          rcond_min):
    """:func:`system_rcond` of a set factorised in covariance form (``a`` = C, ``lt`` its
    factor, ``r1`` = C⁻¹1, ``tot`` = 1ᵀC⁻¹1, ``cmin``/``cmax`` its extreme off-diagonal
    covariances): the O(k) lower bound from the nugget when it reaches ``rcond_min``,
    else the exact value from ``C⁻¹`` (formed in ``work``), so the decision is exact.

    The criterion's station scales: ``g`` = sill (simple) or the largest member
    semivariance (ordinary); ``isc_i = sqrt(g + nv_i)``.
    """
    gmax = sill - cmin
    g = sill if simple else gmax
    g = g if g > 0.0 else 1.0
    sg = math.sqrt(g)
    isc = e[1]
    nvmin = np.inf
    for r in range(k):
        nvmin = min(nvmin, nvm[r])
        isc[r] = sg if nvm[r] == 0.0 else math.sqrt(g + nvm[r])
    rc = 0.0
    lam_min = _smallest_eigenvalue_bound(nugget, nvmin, cmax >= sill, k, sill)
    if lam_min > 0.0:
        rc = _rcond_lower_bound(1.0 / lam_min, isc, r1, tot, k, simple, sill, g)
    if not rc >= rcond_min:  # the bound does not settle it: the exact value decides
        _cholesky_inverse(lt, k, work)
        rc = _covariance_route_rcond(a, work, r1, tot, k, simple, sill, gmax, nvm, e)
    return rc


@njit(cache=True)
def _gauss_jordan_route(code, psill, rng, nugget, shape, simple, sill, mx, my, nvm, k, ns, a,
                        work, e):
    """The inverse, in ``a``, of a set's system in semivariance form (covariances for
    simple kriging) with the drift row, by Gauss-Jordan (:func:`_invert`); returns its
    :func:`system_rcond` (0 when singular)."""
    for r in range(k):
        a[r, r] = sill + nvm[r] if simple else 0.0 - nvm[r]
        for c in range(r + 1, k):
            g = _cov_or_gamma(
                code, psill, rng, nugget, shape, simple, sill, mx[r] - mx[c], my[r] - my[c]
            )
            a[r, c] = g
            a[c, r] = g
    if not simple:
        for r in range(k):
            a[r, k] = 1.0
            a[k, r] = 1.0
        a[k, k] = 0.0
    _equilibration(a, ns, k, nvm, simple, e[0])
    norm_a = _scaled_norm1(a, ns, e[0], False)
    rc = 0.0
    if _invert(a, ns, work) > 0.0:
        rc = _reciprocal(norm_a, _scaled_norm1(a, ns, e[0], True))
    return rc


@njit(cache=True)
def _factorise_set(
    entry,
    k,
    ns,
    code,
    psill,
    rng,
    nugget,
    shape,
    simple,
    bounded,
    sill,
    mean,
    mx,
    my,
    z,
    nv,
    tw,
    mem,
    mats,
    rvec,
    rsum,
    wz,
    rz,
    rcond_min,
    rconds,
    a,
    work,
    nvm,
    e,
):
    """Factorise the kriging system of the neighbour set ``mem`` (k,) (station indices,
    ascending) into entry ``entry`` of the set cache (:func:`_set_cache`); returns its kind.

    Kind 0: ``mats[entry]`` = the Cholesky factor of ``C`` (:func:`_cholesky_factor`;
    bounded model, well conditioned), ``rvec = C⁻¹1``, ``rsum = 1ᵀC⁻¹1``, both by
    triangular solves.  Kind 1: ``mats[entry]`` = transpose of
    the Gauss-Jordan inverse of the (augmented) system.  Kind 2: too
    ill-conditioned -- ``rconds[entry]``, the set's :func:`system_rcond`
    (computed for every set, whichever the route), is below ``rcond_min``.
    For the first ``tw`` value vectors the weights ``wz[entry, t] = M (z_t - mean)``
    (``C⁻¹ (z_t - mean)`` for kind 0; zero-padded) and, for kind 0,
    ``rz[entry, t] = rvec . z_t`` are stored.  A kind-0 set's rcond is first bounded
    from below (:func:`_rcond_lower_bound` with :func:`_smallest_eigenvalue_bound`);
    ``C⁻¹`` is formed for the exact value only when that does not settle it.
    Steps: :func:`_covariance_system`, :func:`_cholesky_factor` and
    :func:`_cholesky_route_rcond`, or else :func:`_gauss_jordan_route`; then the weights.
    ``mx``, ``my`` (k,) are the members' coordinates (metres), ``members[entry]`` their
    station indices.  ``nv[s]`` (concentration²) is station s's measurement-error variance, added
    to the diagonal (``C_ss + nv[s]``; semivariance form ``-nv[s]``); zeros give
    the exact system.
    """
    for r in range(k):
        nvm[r] = nv[mem[r]]
    kind = 1
    if bounded:
        cmin, cmax = _covariance_system(code, psill, rng, nugget, shape, sill, mx, my, nvm, k, a)
        lt = mats[entry]
        if _cholesky_factor(a, k, lt) > 1e-3:
            kind = 0
            # C⁻¹1 and the first value vector's weights C⁻¹(z_0 - mean) together
            r1 = rvec[entry]
            w0 = wz[entry, 0]
            for r in range(k):
                r1[r] = 1.0
                w0[r] = z[0, mem[r]] - mean if tw > 0 else 0.0
            _solve_pair(lt, k, r1, w0)
            tot = 0.0
            for r in range(k):
                tot += r1[r]
            rsum[entry] = tot
            rc = _cholesky_route_rcond(a, lt, work, r1, tot, k, simple, sill, nugget, cmin, cmax,
                                       nvm, e, rcond_min)
            rconds[entry] = rc
            if not rc >= rcond_min:
                return 2
    if kind == 1:
        rc = _gauss_jordan_route(code, psill, rng, nugget, shape, simple, sill, mx, my, nvm, k,
                                 ns, a, work, e)
        rconds[entry] = rc
        if not rc >= rcond_min:
            return 2
        for r in range(ns):
            for c in range(ns):
                mats[entry, r, c] = a[c, r]
    if kind == 0:
        for t in range(tw):
            w = wz[entry, t]
            if t > 0:
                for r in range(k):
                    w[r] = z[t, mem[r]] - mean
                _forward_solve(mats[entry], k, w)
                _backward_solve(mats[entry], k, w)
            if not simple:
                acc = 0.0
                for r in range(k):
                    acc += rvec[entry, r] * z[t, mem[r]]
                rz[entry, t] = acc
        return kind
    for t in range(tw):
        for j in range(ns):
            acc = 0.0
            for r in range(k):
                acc += mats[entry, j, r] * (z[t, mem[r]] - mean)
            wz[entry, t, j] = acc
    return kind


@njit(cache=True)
def _members_hash(members, slot, k):
    """FNV-1a hash of a neighbour set's station indices (ascending)."""
    h = np.uint64(1469598103934665603)
    for q in range(k):
        h = (h ^ np.uint64(members[slot, q])) * np.uint64(1099511628211)
    return h


@njit(cache=True)
def _set_cache(cap, k, ns, tw):
    """Empty cache of factorised neighbour sets shared by the consecutive tiles of one
    thread's group, direct-mapped by the low bits of the members' hash (``cap``: a power
    of two): ``((generations, hashes, members), (kinds, mats, rvec, rsum, wz, rz, rconds))``.
    An entry's generation is 0 while empty and grows each time another set is
    factorised into it, so a tile's reference to an entry can tell it still holds its set.
    """
    return (
        (
            np.zeros(cap, dtype=np.int64),
            np.zeros(cap, dtype=np.uint64),
            np.empty((cap, k), dtype=np.int64),
        ),
        (
            # kinds: 0 Cholesky/covariance, 1 Gauss-Jordan, 2 singular
            np.empty(cap, dtype=np.int64),
            np.empty((cap, ns, ns)),  # mats
            np.empty((cap, k)),  # rvec
            np.empty(cap),  # rsum
            np.zeros((cap, max(tw, 1), ns)),  # wz
            np.empty((cap, max(tw, 1))),  # rz
            np.empty(cap),  # rconds
        ),
    )


@njit(cache=True, inline="always")
def _find_or_claim(gen, ghash, gmembers, members, slot, k):
    """Entry of the set cache (:func:`_set_cache`) for the tile's set ``members[slot]``:
    ``(entry, True)`` when the entry already holds that set, else ``(entry, False)``
    with the entry keyed by the set and its generation bumped, for the caller to
    factorise the set into."""
    h = _members_hash(members, slot, k)
    e = np.int64(h & np.uint64(ghash.shape[0] - 1))
    if gen[e] > 0 and ghash[e] == h:
        same = True
        for q in range(k):
            if gmembers[e, q] != members[slot, q]:
                same = False
                break
        if same:
            return e, True
    ghash[e] = h
    for q in range(k):
        gmembers[e, q] = members[slot, q]
    gen[e] += 1
    return e, False


@njit(cache=True)
def _tile_scratch(k, ns):
    """A tile's cache of neighbour sets (``_TILE_CACHE`` entries, keyed by bit masks over
    its candidates; each refers to its factorisation in the set cache,
    :func:`_set_cache`) and work arrays, allocated once per group of tiles (see
    :func:`_krige_tile`): ``(keys, work)``."""
    cap = _TILE_CACHE
    return (
        (
            np.zeros(cap, dtype=np.uint64),  # mask hashes
            np.empty((cap, k), dtype=np.int64),  # member station indices (ascending)
            np.empty((cap, k), dtype=np.int64),  # member candidate positions
            np.empty((cap, k)),  # member x
            np.empty((cap, k)),  # member y
            np.zeros(cap, dtype=np.int64),  # set cache entry
            np.full(cap, -1, dtype=np.int64),  # that entry's generation (-1: none)
        ),
        (
            np.empty((ns, ns)),  # system matrix
            np.empty((ns, 2 * ns)),  # factorisation work
            np.empty(k),  # members' noise variances
            np.empty((2, ns)),  # equilibration scales
            np.empty(ns),  # target-member covariances c
            np.empty(ns),  # M c
            np.empty(ns),  # weights λ
        ),
    )


@njit(cache=True)
def _tile_box(a0, a1, tx, ty, perm):
    """Bounding box ``(x min, x max, y min, y max)`` of the targets ``perm[a0:a1]``."""
    bx0 = np.inf
    bx1 = -np.inf
    by0 = np.inf
    by1 = -np.inf
    for p in range(a0, a1):
        i = perm[p]
        bx0 = min(bx0, tx[i])
        bx1 = max(bx1, tx[i])
        by0 = min(by0, ty[i])
        by1 = max(by1, ty[i])
    return bx0, bx1, by0, by1


@njit(cache=True)
def _stations_near_box(
    bx0, bx1, by0, by1, rad, sx, sy, cell_start, cell_items, x0, y0, cs, nx, ny, k
):
    """Indices (ascending) of the stations within ``rad`` of the box, from its grid cells."""
    rad2 = rad * rad
    gx0 = max(np.int64(math.floor((bx0 - rad - x0) / cs)), 0)
    gx1 = min(np.int64(math.floor((bx1 + rad - x0) / cs)), nx - 1)
    gy0 = max(np.int64(math.floor((by0 - rad - y0) / cs)), 0)
    gy1 = min(np.int64(math.floor((by1 + rad - y0) / cs)), ny - 1)
    cnt = 0
    for gy in range(gy0, gy1 + 1):
        for gx in range(gx0, gx1 + 1):
            c = gy * nx + gx
            cnt += cell_start[c + 1] - cell_start[c]
    cand = np.empty(max(cnt, k), dtype=np.int64)
    nc = 0
    for gy in range(gy0, gy1 + 1):
        for gx in range(gx0, gx1 + 1):
            c = gy * nx + gx
            for q in range(cell_start[c], cell_start[c + 1]):
                s = cell_items[q]
                ddx = max(bx0 - sx[s], 0.0, sx[s] - bx1)
                ddy = max(by0 - sy[s], 0.0, sy[s] - by1)
                if ddx * ddx + ddy * ddy <= rad2:
                    cand[nc] = s
                    nc += 1
    return np.sort(cand[:nc])


@njit(cache=True)
def _tile_candidates(
    bx0, bx1, by0, by1, sx, sy, cell_start, cell_items, x0, y0, cs, nx, ny, k, nd, ni
):
    """Candidate stations of a tile's box -- those within ``d_k(centre) + half-diagonal``,
    a superset of every target's k nearest -- and their coordinates: ``(cand, csx, csy)``.

    ``nd``, ``ni`` (k,) are work arrays for the centre's k-nearest search.
    """
    cx = 0.5 * (bx0 + bx1)
    cy = 0.5 * (by0 + by1)
    half = 0.5 * math.sqrt((bx1 - bx0) ** 2 + (by1 - by0) ** 2)
    _knn(cx, cy, sx, sy, cell_start, cell_items, x0, y0, cs, nx, ny, k, nd, ni)
    rad = (math.sqrt(nd[k - 1]) + half) * (1.0 + 1e-9) + 1e-6
    cand = _stations_near_box(
        bx0, bx1, by0, by1, rad, sx, sy, cell_start, cell_items, x0, y0, cs, nx, ny, k
    )
    nc = cand.shape[0]
    csx = np.empty(nc)
    csy = np.empty(nc)
    for q in range(nc):
        csx[q] = sx[cand[q]]
        csy[q] = sy[cand[q]]
    return cand, csx, csy


@njit(cache=True, inline="always")
def _candidate_d2(px, py, csx, csy, d2):
    """``d2[q]`` = squared distance between (px, py) and candidate q."""
    for q in range(d2.shape[0]):
        ddx = px - csx[q]
        ddy = py - csy[q]
        d2[q] = ddx * ddx + ddy * ddy


@njit(cache=True, inline="always")
def _set_reach(d2, inset):
    """``(largest d2 of the set flagged in inset, smallest d2 of the other candidates)``:
    the set is still exactly the k nearest (ties to the lower index) when the first is
    strictly below the second."""
    maxin = -1.0
    minout = np.inf
    for q in range(d2.shape[0]):
        dq = d2[q]
        if inset[q] != 0:
            maxin = max(maxin, dq)
        else:
            minout = min(minout, dq)
    return maxin, minout


@njit(cache=True, inline="always")
def _nearest_set_mask(d2, k, reach, dsel, sel, mask, inset):
    """Bit mask (into ``mask``, flags in ``inset``) of the k candidates of smallest ``d2``,
    ties to the lower position (= lower station index); returns the mask's FNV-1a hash.

    ``reach`` is at least the k-th smallest ``d2`` (e.g. the largest over any k
    candidates), so only candidates within it can be members: a candidate is one when
    fewer than k of those are nearer (or as near with a lower position) -- counted
    branch-free over a contiguous copy ``dsel`` of their ``d2`` (positions in ``sel``).
    """
    m = 0
    for q in range(d2.shape[0]):
        if d2[q] <= reach:
            dsel[m] = d2[q]
            sel[m] = q
            m += 1
    nw = mask.shape[0]
    for w in range(nw):
        mask[w] = 0
    for a in range(m):
        da = dsel[a]
        rank = 0
        for b in range(m):
            db = dsel[b]
            rank += (db < da) | ((db == da) & (b < a))
        if rank < k:
            q = sel[a]
            mask[q >> 6] |= np.uint64(1) << np.uint64(q & 63)
            inset[q] = 1
    h = np.uint64(1469598103934665603)
    for w in range(nw):
        h = (h ^ mask[w]) * np.uint64(1099511628211)
    return h


@njit(cache=True, inline="always")
def _find_mask(hashes, masks, n_cached, mask, h):
    """Entry of the tile cache whose neighbour set has bit mask ``mask`` (hash ``h``), or -1."""
    for e in range(n_cached):
        if hashes[e] == h:
            same = True
            for w in range(mask.shape[0]):
                if masks[e, w] != mask[w]:
                    same = False
                    break
            if same:
                return e
    return -1


@njit(cache=True, inline="always")
def _store_members(slot, h, mask, cand, csx, csy, hashes, masks, mpos, members, mx, my):
    """Key tile-cache entry ``slot`` by ``mask`` (hash ``h``) and record its members'
    candidate positions, station indices and coordinates (ascending)."""
    hashes[slot] = h
    q = 0
    for w in range(mask.shape[0]):
        masks[slot, w] = mask[w]
        word = mask[w]
        bit = 0
        while word != 0:
            if word & np.uint64(1):
                pos = w * 64 + bit
                mpos[slot, q] = pos
                members[slot, q] = cand[pos]
                mx[slot, q] = csx[pos]
                my[slot, q] = csy[pos]
                q += 1
            word >>= np.uint64(1)
            bit += 1


@njit(cache=True, inline="always")
def _flag_target(i, rc, T, do_var, est, var, status, rcond_out):
    """Target i's neighbour set is too ill-conditioned (``rc`` below the limit): NaN
    estimates (``T`` steps) and variance, ``status[i] = 1``, ``rcond_out[i] = rc``."""
    status[i] = 1
    rcond_out[i] = rc
    if do_var:
        var[i] = np.nan
    for t in range(T):
        est[t, i] = np.nan


@njit(cache=True, inline="always")
def _variance(kind, simple, sill, sa, sb, nu):
    """Kriging variance (clipped at 0) from ``sa = cᵀ M c``, ``sb = 1ᵀC⁻¹c`` and ``ν``."""
    if kind == 0:
        sv = sill - sa + (sb - 1.0) * nu if not simple else sill - sa
    else:
        sv = sill - sa if simple else sa
    return sv if sv > 0.0 else 0.0


@njit(cache=True, inline="always")
def _lambda_estimates(
    i, entry, slot, k, nu, ordinary0, simple, mean, z, members, rvec, y, lam, est
):
    """``est[:, i] = λ . z`` from ``y = M c`` for sets that store no weights (over ``_TW_MAX``
    value vectors): ``λ = y - ν C⁻¹1`` (ordinary, covariance route) or ``y``; ``rvec[entry]``
    is the set cache's ``C⁻¹1``, ``members[slot]`` the tile's member indices."""
    for q in range(k):
        lam[q] = y[q] - nu * rvec[entry, q] if ordinary0 else y[q]
    for t in range(z.shape[0]):
        acc = 0.0
        for q in range(k):
            if simple:
                acc += lam[q] * (z[t, members[slot, q]] - mean)
            else:
                acc += lam[q] * z[t, members[slot, q]]
        est[t, i] = acc + mean if simple else acc


@njit(cache=True)
def _krige_tile(
    a0,
    a1,
    tx,
    ty,
    sx,
    sy,
    z,
    nv,
    cell_start,
    cell_items,
    x0,
    y0,
    cs,
    nx,
    ny,
    k,
    perm,
    code,
    psill,
    rng,
    nugget,
    shape,
    simple,
    bounded,
    sill,
    mean,
    do_var,
    rcond_min,
    est,
    var,
    status,
    rcond_out,
    gcache,
    scratch,
):
    """Kriging of the targets ``perm[a0:a1]`` of one tile (see :func:`local_krige_tiled`);
    ``gcache`` (:func:`_set_cache`) holds the factorised sets, also those of earlier tiles,
    ``scratch`` (:func:`_tile_scratch`) holds the tile's own cache and work arrays.

    Steps: the tile's candidate stations (:func:`_tile_candidates`); per target, its k
    nearest among them (:func:`_nearest_set_mask`, unless the previous target's set still
    is, :func:`_set_reach`),
    that set's factorisation from the set cache or :func:`_factorise_set`,
    and the estimates and variance.
    """
    ns = k if simple else k + 1
    tw = z.shape[0] if z.shape[0] <= _TW_MAX else 0
    nd = np.empty(k)
    ni = np.empty(k, dtype=np.int64)
    bx0, bx1, by0, by1 = _tile_box(a0, a1, tx, ty, perm)
    cand, csx, csy = _tile_candidates(
        bx0, bx1, by0, by1, sx, sy, cell_start, cell_items, x0, y0, cs, nx, ny, k, nd, ni
    )
    nc = cand.shape[0]
    # the tile's cache of neighbour sets, keyed by bit masks over the candidates
    hashes, members, mpos, mx, my, tentry, tgen = scratch[0]
    a, work, nvm, escale, cc, y, lam = scratch[1]
    gen, ghash, gmembers = gcache[0]
    kinds, mats, rvec, rsum, wz, rz, rconds = gcache[1]
    cap = hashes.shape[0]
    nw = (nc + 63) // 64
    masks = np.zeros((cap, nw), dtype=np.uint64)
    n_cached = 0
    nxt = 0
    d2 = np.empty(nc)
    dsel = np.empty(nc)
    sel = np.empty(nc, dtype=np.int64)
    inset = np.zeros(nc, dtype=np.uint8)
    mask = np.empty(nw, dtype=np.uint64)
    prev = -1
    e = 0
    for p in range(a0, a1):
        i = perm[p]
        px = tx[i]
        py = ty[i]
        _candidate_d2(px, py, csx, csy, d2)
        slot = -1
        reach = np.inf
        if prev >= 0:
            reach, beyond = _set_reach(d2, inset)
            if reach < beyond:
                slot = prev
        if slot < 0:
            if prev >= 0:
                for q in range(k):
                    inset[mpos[prev, q]] = 0
            h = _nearest_set_mask(d2, k, reach, dsel, sel, mask, inset)
            slot = _find_mask(hashes, masks, n_cached, mask, h)
            if slot < 0:
                slot = nxt
                nxt = (nxt + 1) % cap
                n_cached = min(n_cached + 1, cap)
                _store_members(slot, h, mask, cand, csx, csy, hashes, masks, mpos, members, mx, my)
                tgen[slot] = -1
            prev = slot
            e = tentry[slot]
            if gen[e] != tgen[slot]:  # a new set, or its entry since taken by another
                # the set cache may hold the set from an earlier tile (no wrapper helper
                # here: numba increfs every array a helper is passed, a wrapper cost ~3 %)
                e, found = _find_or_claim(gen, ghash, gmembers, members, slot, k)
                if not found:
                    kinds[e] = _factorise_set(
                        e,
                        k,
                        ns,
                        code,
                        psill,
                        rng,
                        nugget,
                        shape,
                        simple,
                        bounded,
                        sill,
                        mean if simple else 0.0,
                        mx[slot],
                        my[slot],
                        z,
                        nv,
                        tw,
                        members[slot],
                        mats,
                        rvec,
                        rsum,
                        wz,
                        rz,
                        rcond_min,
                        rconds,
                        a,
                        work,
                        nvm,
                        escale,
                    )
                tentry[slot] = e
                tgen[slot] = gen[e]
        kind = kinds[e]
        if kind == 2:
            _flag_target(i, rconds[e], z.shape[0], do_var, est, var, status, rcond_out)
            continue
        # estimates from the set's stored weights, variance (and λ) from y = M c; kept in
        # the loop as a helper's array arguments cost an incref/decref pair per target (~5 %)
        ordinary0 = kind == 0 and not simple
        nm = k if kind == 0 else ns
        _member_cov(
            code,
            psill,
            rng,
            nugget,
            shape,
            kind == 0 or simple,
            sill,
            px,
            py,
            mx[slot],
            my[slot],
            k,
            cc,
        )
        if kind == 1 and not simple:
            cc[k] = 1.0
        sb = 0.0
        nu = 0.0
        if ordinary0:
            for q in range(k):
                sb += rvec[e, q] * cc[q]
            nu = (sb - 1.0) / rsum[e]
        for t in range(tw):
            wv = wz[e, t]
            acc = 0.0
            for q in range(nm):
                acc += wv[q] * cc[q]
            if ordinary0:
                acc -= nu * rz[e, t]
            est[t, i] = acc + mean if simple else acc
        if do_var or tw == 0:
            mat = mats[e]
            sa = 0.0
            if kind == 0:
                # v = L⁻¹c (sa = cᵀC⁻¹c = v . v), then y = L⁻ᵀv = C⁻¹c if λ is needed
                for r in range(k):
                    y[r] = cc[r]
                _forward_solve(mat, k, y)
                for r in range(k):
                    sa += y[r] * y[r]
                if tw == 0:
                    _backward_solve(mat, k, y)
            else:
                # y = M c, accumulated column by column (M[c] contiguous: SIMD over rows)
                for r in range(nm):
                    y[r] = 0.0
                for c in range(nm):
                    cv = cc[c]
                    mc = mat[c]
                    for r in range(nm):
                        y[r] += mc[r] * cv
                for r in range(nm):
                    sa += y[r] * cc[r]
            if do_var:
                var[i] = _variance(kind, simple, sill, sa, sb, nu)
            if tw == 0:
                _lambda_estimates(
                    i, e, slot, k, nu, ordinary0, simple, mean, z, members, rvec, y, lam, est
                )


@njit(parallel=True, cache=True)
def local_krige_tiled(
    tx,
    ty,
    sx,
    sy,
    z,
    nv,
    cell_start,
    cell_items,
    x0,
    y0,
    cs,
    nx,
    ny,
    k,
    perm,
    tile_start,
    code,
    psill,
    rng,
    nugget,
    shape,
    simple,
    bounded,
    sill,
    mean,
    do_var,
    n_threads,
    rcond_min,
    est,
    var,
    status,
    rcond_out,
    set_cache,
):
    """Moving-neighbourhood ordinary (or simple) kriging, one tile of targets at a time.

    For each tile (targets ``perm[tile_start[b]:tile_start[b + 1]]``) the
    candidate stations are those within ``d_k(c) + R`` of the tile's bounding
    box (``d_k(c)``: k-th neighbour distance of the box centre, ``R``: its
    half-diagonal) -- a superset of every target's k nearest stations, since
    ``d_k(p) <= d_k(c) + |p - c|``.  Each target's exact k nearest (ties to
    the lower station index) are selected from the candidates -- or, when all
    members of the previous target's set are strictly nearer than every other
    candidate, that set is kept without a selection -- and identified by a bit
    mask over them (the tile's cache, :func:`_tile_scratch`); the system of each
    distinct neighbour set is factorised into a cache of ``set_cache`` entries
    that a group's consecutive (Hilbert-ordered, :func:`curve_tile_sort`) tiles
    share, direct-mapped by the members' hash (:func:`_set_cache`), so a set
    straddling tiles is mostly factorised once.  A set's
    factorisation depends only on its members, so every target's result is
    the same bits whatever the tiling, order or thread count.  Bounded models
    use the covariance form ``C λ + ν 1 = c`` (equivalent to the semivariance form since
    ``C = sill - Γ``) with the Cholesky factor ``C = L Lᵀ``:
    ``q = C⁻¹c``, ``ν = (1ᵀq - 1) / 1ᵀC⁻¹1``, ``λ = q - ν C⁻¹1``,
    ``variance = sill - |L⁻¹c|² + (1ᵀq - 1)² / 1ᵀC⁻¹1`` (simple kriging: ``λ = q``,
    ``variance = sill - |L⁻¹c|²``).  Unbounded models, and sets whose ``C`` is
    ill-conditioned (a Cholesky pivot below 1e-3 of the sill, i.e. little or no
    nugget), use the inverse of the augmented semivariance matrix by
    Gauss-Jordan (:func:`_invert`).  For up to 8 value vectors each set also
    stores ``w = C⁻¹z`` and ``C⁻¹1 . z``, so an estimate costs two k-dots
    (``λ . z = w . c - ν (C⁻¹1 . z)``); the variance (skipped unless ``do_var``)
    needs one triangular solve ``L⁻¹c``.
    Tiles are split into ``16 * n_threads`` contiguous groups of about equal
    target counts (numba's static schedule then gives each thread an equal share).
    ``nv`` (n,) holds the stations' measurement-error variances (concentration²),
    added to the diagonal of each set's station block (``C + diag(nv)``;
    semivariance form ``Γ - diag(nv)``); the target vectors ``c`` are unchanged,
    so estimate and variance are those of the noise-free field.
    Every set's :func:`system_rcond` is decided: after a Cholesky by the lower bound
    :func:`_rcond_lower_bound` (from the nugget, :func:`_smallest_eigenvalue_bound`)
    or else exactly (:func:`_covariance_route_rcond` from ``C⁻¹``); below ``rcond_min`` its
    targets get NaN, ``status[i] = 1`` and ``rcond_out[i]`` = that value
    (``rcond_out`` is written only there).
    Writes ``est[t, i]``, ``var[i]`` (if ``do_var``).
    """
    n_tiles = tile_start.shape[0] - 1
    if n_tiles <= 0:
        return
    m = tile_start[n_tiles] - tile_start[0]
    n_groups = max(1, min(n_tiles, 16 * n_threads))
    gstart = np.empty(n_groups + 1, dtype=np.int64)
    gstart[0] = 0
    for g in range(1, n_groups):
        thr = tile_start[0] + (m * g) // n_groups
        gstart[g] = max(np.searchsorted(tile_start, thr), gstart[g - 1])
    gstart[n_groups] = n_tiles
    ns = k if simple else k + 1
    tw = z.shape[0] if z.shape[0] <= _TW_MAX else 0
    for g in prange(n_groups):
        gcache = _set_cache(set_cache, k, ns, tw)
        scratch = _tile_scratch(k, ns)
        for b in range(gstart[g], gstart[g + 1]):
            a0 = tile_start[b]
            a1 = tile_start[b + 1]
            if a1 == a0:
                continue
            _krige_tile(
                a0,
                a1,
                tx,
                ty,
                sx,
                sy,
                z,
                nv,
                cell_start,
                cell_items,
                x0,
                y0,
                cs,
                nx,
                ny,
                k,
                perm,
                code,
                psill,
                rng,
                nugget,
                shape,
                simple,
                bounded,
                sill,
                mean,
                do_var,
                rcond_min,
                est,
                var,
                status,
                rcond_out,
                gcache,
                scratch,
            )
