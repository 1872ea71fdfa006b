"""Numba kernels of the kriging core (``@njit`` code only; no validation here).

The public, validating API lives in :mod:`netsim.kriging.api`.  Model codes
are :data:`netsim.variogram.MODEL_CODES`: 0 spherical, 1 exponential,
2 gaussian, 3 linear, 4 power, 5 matern (closed forms for smoothness 0.5, 1.5
and 2.5 only; other smoothness values are evaluated with SciPy by the API).
Distances are metres, semivariances concentration².
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


@njit(parallel=True, cache=True, fastmath=True)
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


@njit(parallel=True, cache=True, fastmath=True)
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


@njit(parallel=True, cache=True)
def local_krige(
    tx,
    ty,
    sx,
    sy,
    z,
    cell_start,
    cell_items,
    x0,
    y0,
    cs,
    nx,
    ny,
    k,
    code,
    psill,
    rng,
    nugget,
    shape,
    simple,
    sill,
    mean,
    block,
    est,
    var,
    status,
):
    """Moving-neighbourhood ordinary (or simple) kriging of every target.

    For each target the k nearest stations are found, the (k+1)² ordinary
    (or k² simple) system is inverted -- reused while consecutive targets share
    the same neighbour set -- and ``est[t, i]`` (all T rows of ``z``) and
    ``var[i]`` are written.  ``status[i] = 1`` marks a singular system.
    """
    m = tx.shape[0]
    T = z.shape[0]
    ns = k if simple else k + 1
    nblocks = (m + block - 1) // block
    for bi in prange(nblocks):
        nd = np.empty(k)
        ni = np.empty(k, dtype=np.int64)
        key = np.empty(k, dtype=np.int64)
        prev = np.full(k, -1, dtype=np.int64)
        a = np.empty((ns, ns))
        work = np.empty((ns, 2 * ns))
        b = np.empty(ns)
        lam = np.empty(ns)
        ok = False
        for i in range(bi * block, min(m, (bi + 1) * block)):
            px = tx[i]
            py = ty[i]
            _knn(px, py, sx, sy, cell_start, cell_items, x0, y0, cs, nx, ny, k, nd, ni)
            # canonical key: neighbour ids in ascending order
            for q in range(k):
                v = ni[q]
                p = q
                while p > 0 and key[p - 1] > v:
                    key[p] = key[p - 1]
                    p -= 1
                key[p] = v
            same = True
            for q in range(k):
                if key[q] != prev[q]:
                    same = False
                    break
            if not same:
                for q in range(k):
                    prev[q] = key[q]
                for r in range(k):
                    sr = key[r]
                    a[r, r] = sill if simple else 0.0
                    for c in range(r + 1, k):
                        sc = key[c]
                        dx = sx[sr] - sx[sc]
                        dy = sy[sr] - sy[sc]
                        g = _gamma(code, psill, rng, nugget, shape, math.sqrt(dx * dx + dy * dy))
                        if simple:
                            g = sill - g
                        a[r, c] = g
                        a[c, r] = g
                if not simple:
                    for r in range(k):
                        a[r, k] = 1.0
                        a[k, r] = 1.0
                    a[k, k] = 0.0
                ok = _invert(a, ns, work) > 1e-14
            if not ok:
                status[i] = 1
                var[i] = np.nan
                for t in range(T):
                    est[t, i] = np.nan
                continue
            for q in range(k):
                s = key[q]
                dx = px - sx[s]
                dy = py - sy[s]
                g = _gamma(code, psill, rng, nugget, shape, math.sqrt(dx * dx + dy * dy))
                b[q] = sill - g if simple else g
            if not simple:
                b[k] = 1.0
            sv = 0.0
            for r in range(ns):
                acc = 0.0
                for c in range(ns):
                    acc += a[r, c] * b[c]
                lam[r] = acc
                sv += acc * b[r]
            if simple:
                sv = sill - sv
            var[i] = sv if sv > 0.0 else 0.0
            for t in range(T):
                acc = 0.0
                for q in range(k):
                    if simple:
                        acc += lam[q] * (z[t, key[q]] - mean)
                    else:
                        acc += lam[q] * z[t, key[q]]
                est[t, i] = acc + mean if simple else acc
