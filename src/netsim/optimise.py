"""Greedy placement of new stations (``optimise:`` in a scenario YAML).

Starting from the scenario's network, add one station at a time at the
candidate that most reduces the objective over the grid:

``kriging_variance``
    mean ordinary-kriging variance of the annual map (depends on geometry only);
``truth_rmse``
    RMSE of the kriged annual map against the truth's expected annual pattern
    (:meth:`netsim.truth.TruthWorld.base_at`), the stations reading that pattern.

Every candidate is scored exactly, without re-solving the kriging system, by
the bordered-matrix (Schur complement) update of the ordinary-kriging system in
variogram form.  With ``M`` the (n+1)×(n+1) OK matrix, ``g_t = [γ(s, t); 1]``,
``u = [γ(s, c); 1]`` for a candidate ``c`` and ``σ²(·)`` the current kriging
variance, adding ``c`` gives::

    k(t, c)      = (uᵀ M⁻¹ g_t − γ(t, c)) / σ²(c)
    σ²_new(t)    = σ²(t) − σ²(c) · k(t, c)²
    ẑ_new(t)     = ẑ(t) + k(t, c) · (z(c) − ẑ(c))

(``k(c, c) = 1``: the new map honours the new station).  Candidates are scored
in chunks, so memory is O(chunk × targets).

References
----------
Cressie, N. (1993) *Statistics for Spatial Data*, §3.2 (ordinary kriging in
variogram form); the block-matrix inverse is standard linear algebra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from netsim.blas import single_threaded_blas
from netsim.crs import xy_to_lonlat
from netsim.errors import ScenarioError
from netsim.geography import district_at
from netsim.grid import Grid
from netsim.network import MAP_STATION_TYPES, Network
from netsim.variogram import Variogram, fit_variogram

__all__ = ["Optimisation", "greedy_sites", "optimise_new_sites"]

_MAX_EVALUATION_TARGETS = 20_000
"""Objective targets are thinned to at most this many cells (regular stride)."""


@dataclass
class Optimisation:
    """Result of :func:`optimise_new_sites`.

    Attributes
    ----------
    objective, pollutant
        What was minimised, for which pollutant.
    initial
        Objective of the starting network (variance in concentration², RMSE in
        concentration units).
    sites
        One record per added station: ``step, station_id, x, y, lon, lat,
        district, objective, gain``.
    network, change_table
        The network with the new stations and its change table against the base.
    variogram
        The variogram used.
    """

    objective: str
    pollutant: str
    initial: float
    sites: list[dict[str, Any]]
    network: Network = field(repr=False)
    change_table: pd.DataFrame = field(repr=False)
    variogram: Variogram | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no network)."""
        return {"objective": self.objective, "pollutant": self.pollutant,
                "initial": self.initial, "sites": self.sites,
                "variogram": self.variogram.to_dict() if self.variogram else None}


def _ok_matrix_inverse(vg: Variogram, xy: np.ndarray) -> np.ndarray:
    n = len(xy)
    m = np.zeros((n + 1, n + 1))
    m[:n, :n] = vg.gamma(cdist(xy, xy))
    np.fill_diagonal(m[:n, :n], 0.0)
    m[:n, n] = m[n, :n] = 1.0
    return np.linalg.inv(m)


def _g(vg: Variogram, xy: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``[γ(s, p); 1]`` for every point: (n+1, len(points))."""
    g = np.ones((len(xy) + 1, len(points)))
    g[:-1] = vg.gamma(cdist(xy, points))
    return g


def greedy_sites(
    xy: np.ndarray,
    candidates: np.ndarray,
    targets: np.ndarray,
    variogram: Variogram,
    k: int,
    *,
    objective: str = "kriging_variance",
    values: np.ndarray | None = None,
    candidate_values: np.ndarray | None = None,
    target_values: np.ndarray | None = None,
    chunk: int = 256,
) -> tuple[list[int], list[float], float]:
    """Choose ``k`` candidates greedily (exact rank-one OK updates).

    Parameters
    ----------
    xy : (n, 2)
        Current stations, metres.
    candidates : (C, 2)
        Candidate positions, metres.
    targets : (m, 2)
        Where the objective is evaluated, metres.
    variogram
        Variogram of the kriged field.
    k
        Number of sites.
    objective
        ``"kriging_variance"`` or ``"truth_rmse"`` (then ``values`` (n,),
        ``candidate_values`` (C,) and ``target_values`` (m,) are required).

    Returns
    -------
    chosen
        Candidate indices in the order chosen.
    objective_after
        Objective after each addition.
    initial
        Objective before any addition.
    """
    if objective not in ("kriging_variance", "truth_rmse"):
        raise ScenarioError(f"optimise.objective {objective!r}: expected kriging_variance or "
                            "truth_rmse")
    rmse = objective == "truth_rmse"
    if rmse and (values is None or candidate_values is None or target_values is None):
        raise ScenarioError("truth_rmse needs station, candidate and target values")
    xy = np.asarray(xy, dtype=float).copy()
    z = None if values is None else np.asarray(values, dtype=float).copy()
    available = np.ones(len(candidates), dtype=bool)
    chosen: list[int] = []
    after: list[float] = []
    initial = float("nan")
    for _ in range(k):
        minv = _ok_matrix_inverse(variogram, xy)
        g_t = _g(variogram, xy, targets)
        w_t = minv @ g_t                                  # (n+1, m)
        var_t = np.einsum("im,im->m", g_t, w_t)
        if rmse:
            est_t = z @ w_t[:-1]
            err_t = est_t - target_values
            current = float(np.sqrt(np.mean(err_t**2)))
        else:
            current = float(np.mean(var_t))
        if not chosen:
            initial = current
        best, best_score = -1, np.inf
        for start in range(0, len(candidates), chunk):
            idx = np.arange(start, min(start + chunk, len(candidates)))
            idx = idx[available[idx]]
            if idx.size == 0:
                continue
            u = _g(variogram, xy, candidates[idx])        # (n+1, c)
            w_c = minv @ u
            var_c = np.einsum("ic,ic->c", u, w_c)
            var_c = np.maximum(var_c, 1e-12)
            coef = (w_c.T @ g_t - variogram.gamma(cdist(candidates[idx], targets))) \
                / var_c[:, None]                           # (c, m)
            if rmse:
                resid_c = candidate_values[idx] - z @ w_c[:-1]
                new_err = err_t[None, :] + coef * resid_c[:, None]
                score = np.sqrt(np.mean(new_err**2, axis=1))
            else:
                score = np.mean(var_t[None, :] - var_c[:, None] * coef**2, axis=1)
            j = int(np.argmin(score))
            if score[j] < best_score:
                best, best_score = int(idx[j]), float(score[j])
        if best < 0:
            break
        chosen.append(best)
        after.append(best_score)
        available[best] = False
        xy = np.vstack([xy, candidates[best]])
        if rmse:
            z = np.append(z, candidate_values[best])
    return chosen, after, initial


def _candidate_positions(scenario, grid: Grid) -> np.ndarray:
    opt = scenario.optimise
    if opt.candidates == "all_cells":
        cells = grid.targets()
        spacing = opt.candidate_spacing_m
        if spacing is None or spacing <= grid.resolution_m:
            return cells
        lattice = np.round(cells / spacing) * spacing
        keep = np.all(np.abs(cells - lattice) <= grid.resolution_m / 2, axis=1)
        return cells[keep]
    return np.array([c.lonlat_xy()[2:] for c in opt.candidates], dtype=float)


@single_threaded_blas()
def optimise_new_sites(scenario, base: Network) -> Optimisation:
    """Run the scenario's ``optimise`` section on top of its changes.

    The variogram is the scenario's fixed one for the pollutant, or a fit to
    the truth's expected annual pattern at the map stations; the objective is
    evaluated on the scenario grid's cells (thinned to at most
    :data:`_MAX_EVALUATION_TARGETS`).

    Returns
    -------
    Optimisation
    """
    from netsim.changes import AddStation
    from netsim.scenario import change_table
    from netsim.truth import TruthWorld

    opt = scenario.optimise
    network, _ = scenario.build_network(base)
    grid = Grid.for_beijing(scenario.grid.resolution_m)
    world = TruthWorld(grid, scenario.truth)
    p = opt.pollutant
    use = np.isin(network.types, MAP_STATION_TYPES)
    xy = network.xy[use]
    values = world.base_at(xy, p)
    fixed = scenario.kriging.variogram_for(p)
    if fixed is not None:
        vg = Variogram(fixed.model, fixed.psill, fixed.range, fixed.nugget)
    else:
        fit = fit_variogram(xy, values, scenario.kriging.model, n_lags=8)
        if not fit.success:
            raise ScenarioError(f"optimise: the {p} variogram fit failed ({fit.message}); "
                                f"give kriging.variograms.{p}")
        vg = fit.variogram
    targets = grid.targets()
    stride = max(1, int(np.ceil(len(targets) / _MAX_EVALUATION_TARGETS)))
    targets = targets[::stride]
    candidates = _candidate_positions(scenario, grid)
    existing = network.xy
    far = cdist(candidates, existing).min(axis=1) > grid.resolution_m / 2
    candidates = candidates[far]
    if len(candidates) < opt.k:
        raise ScenarioError(f"optimise: only {len(candidates)} candidates away from existing "
                            f"stations for k = {opt.k}")
    chosen, after, initial = greedy_sites(
        xy, candidates, targets, vg, opt.k, objective=opt.objective, values=values,
        candidate_values=world.base_at(candidates, p) if opt.objective == "truth_rmse" else None,
        target_values=world.base_at(targets, p) if opt.objective == "truth_rmse" else None,
    )
    sites = []
    previous = initial
    changed = network
    rng = np.random.default_rng(scenario.seed)
    for step, (j, score) in enumerate(zip(chosen, after, strict=True), start=1):
        x, y = candidates[j]
        lon, lat = (float(v[0]) for v in xy_to_lonlat(np.array([x]), np.array([y])))
        station_id = f"opt_{step:02d}"
        changed = AddStation(kind="add", id=station_id, x=float(x), y=float(y),
                             type=opt.type, instrument=opt.instrument).apply(changed, rng)
        sites.append({"step": step, "station_id": station_id, "x": float(x), "y": float(y),
                      "lon": lon, "lat": lat,
                      "district": str(district_at(np.array([x]), np.array([y]))[0]),
                      "objective": score, "gain": previous - score})
        previous = score
    return Optimisation(objective=opt.objective, pollutant=p, initial=initial, sites=sites,
                        network=changed, change_table=change_table(base, changed),
                        variogram=vg)
