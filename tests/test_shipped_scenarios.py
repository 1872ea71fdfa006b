"""Every shipped scenario runs end to end (reduced: 5 km grid, 3 realisations).

The benchmark (``benchmarks/bench_run.py``) runs them at full size; here each one goes
through the same code path as ``netsim run`` — truth, stations, statistics, kriging,
rasters, PNG maps, the changes chart, ``report.md`` and ``map.html`` — so a crash in any
shipped scenario fails CI.  Scenarios on real readings measure one year: exactly one
"realisation" (no Monte Carlo), which the test checks instead of 3.  PNG maps are drawn
for every scenario, also those that switch them off to run faster.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from netsim.run import run_scenario
from netsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))

pytestmark = pytest.mark.slow


def _reduced(path: Path):
    sc = load_scenario(path)
    update = {"grid": sc.grid.model_copy(update={"resolution_m": 5000.0}),
              "outputs": sc.outputs.model_copy(update={"maps": True})}
    if sc.optimise is not None:
        update["optimise"] = sc.optimise.model_copy(update={"candidate_spacing_m": 10_000.0})
    return sc.model_copy(update=update)


def test_every_scenario_file_is_covered():
    assert {p.stem for p in SHIPPED} >= {
        "baseline_2020", "dense_sensors", "fyp14_expansion", "optimise_new_sites",
        "retire_traffic", "southern_border_relocation", "winter_outage",
        "real_2015_retire_two", "real_2015_add_station"}


def _finite_numbers(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite_numbers(v) for v in value)
    return True


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_runs_end_to_end(path, tmp_path):
    sc = _reduced(path)
    out = tmp_path / sc.name
    real = sc.readings is not None
    result = run_scenario(sc, out, realisations=None if real else 3)
    assert (out / "report.md").read_text(encoding="utf-8").startswith(f"# netsim run: {sc.name}")
    assert (out / "map.html").stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["realisations"] == (1 if real else 3)
    kind = ("real readings" if real else "conditioned truth" if sc.truth.condition_on
            else "synthetic truth")
    assert summary["data"]["kind"] == kind
    assert _finite_numbers(result.summary["headline"])
    for p in sc.pollutants:
        slug = p.lower().replace(".", "")
        assert (out / "baseline" / "rasters" / f"{slug}_annual_mean.tif").is_file()
        assert (out / "baseline" / "maps" / f"{slug}_annual_mean.png").is_file()
    if "scenario" in summary["networks"]:
        assert (out / "changes.png").stat().st_size > 0
        assert summary["verdicts"]
