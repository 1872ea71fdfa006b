"""Greedy new-site placement: the rank-one OK update equals re-solving the system."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from netsim.kriging import krige
from netsim.optimise import greedy_sites, optimise_new_sites
from netsim.scenario import Scenario
from netsim.variogram import Variogram

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def layout():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50_000, (12, 2))
    candidates = rng.uniform(0, 50_000, (40, 2))
    targets = rng.uniform(0, 50_000, (300, 2))
    vg = Variogram("spherical", 4.0, 20_000.0, 0.5)
    return xy, candidates, targets, vg


def _brute_variance(xy, targets, vg):
    return float(np.mean(krige(xy, np.zeros(len(xy)), targets, vg).variance))


def test_every_greedy_pick_matches_brute_force_variance(layout):
    """Each of 5 greedy steps picks the candidate a brute-force re-kriging would pick, with
    the same mean kriging variance (the rank-one update is exact, step after step)."""
    xy, candidates, targets, vg = layout
    chosen, after, initial = greedy_sites(xy, candidates, targets, vg, 5)
    assert initial == pytest.approx(_brute_variance(xy, targets, vg), rel=1e-9)
    stations = xy
    for step, pick in enumerate(chosen):
        brute = np.array([
            np.inf if j in chosen[:step] else
            _brute_variance(np.vstack([stations, candidates[j]]), targets, vg)
            for j in range(len(candidates))])
        assert pick == int(np.argmin(brute)), f"step {step + 1}"
        assert after[step] == pytest.approx(brute.min(), rel=1e-9), f"step {step + 1}"
        stations = np.vstack([stations, candidates[pick]])


def test_rmse_objective_matches_brute_force(layout):
    xy, candidates, targets, vg = layout

    def field(p):
        return 30 + 1e-4 * p[:, 0] + 5 * np.sin(p[:, 1] / 8000)

    chosen, after, _ = greedy_sites(
        xy, candidates, targets, vg, 2, objective="truth_rmse", values=field(xy),
        candidate_values=field(candidates), target_values=field(targets))
    stations = np.vstack([xy, candidates[chosen]])
    est = krige(stations, field(stations), targets, vg).estimate
    assert after[-1] == pytest.approx(np.sqrt(np.mean((est - field(targets)) ** 2)), rel=1e-8)


def test_objective_never_increases(layout):
    xy, candidates, targets, vg = layout
    _, after, initial = greedy_sites(xy, candidates, targets, vg, 5)
    assert np.all(np.diff([initial, *after]) <= 1e-12)
    assert len(set(_)) == 5


@pytest.mark.slow
def test_optimise_scenario_adds_k_urban_sites():
    sc = Scenario.from_dict({
        "name": "opt", "base_network": str(ROOT / "stations" / "beijing_35.csv"),
        "pollutants": ["PM2.5"], "grid": {"resolution_m": 5000},
        "optimise": {"k": 3, "candidates": "all_cells", "objective": "kriging_variance"},
    })
    result = optimise_new_sites(sc, sc.load_base_network())
    assert len(result.sites) == 3
    assert len(result.network) == 38
    assert all(s["gain"] > 0 for s in result.sites)
    assert all(s["district"] for s in result.sites)
    assert set(result.change_table.query("change == 'added'")["station_id"]) == {
        "opt_01", "opt_02", "opt_03"}
