"""Benchmark: `netsim run scenarios/baseline_2020.yaml` (20 realisations, 1 km grid).

Issue 6 target: under 60 s on a 2-core machine.  Runs the scenario in a child
process (so the peak resident memory is the run's own), after a warm-up run of
one realisation that fills numba's on-disk cache, and writes
``benchmarks/results/run.json``.

Usage::

    python benchmarks/bench_run.py [--realisations 20] [--scenario scenarios/baseline_2020.yaml]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _machine import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

CHILD = """
import sys, time
from netsim.run import run_scenario
from netsim.scenario import load_scenario
sc = load_scenario(sys.argv[1])
t0 = time.perf_counter()
run_scenario(sc, sys.argv[2], realisations=int(sys.argv[3]))
print(time.perf_counter() - t0)
"""


def _child(scenario: str, out: str, realisations: int) -> tuple[float, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, scenario, out, str(realisations)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    inner = float(proc.stdout.strip().splitlines()[-1])
    return wall, inner, max(peak_kb, before) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/baseline_2020.yaml")
    parser.add_argument("--realisations", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _child(args.scenario, f"{tmp}/warm", 1)
        wall, inner, peak_mb = _child(args.scenario, f"{tmp}/run", args.realisations)
    result = {
        "benchmark": "netsim run",
        "scenario": args.scenario,
        "realisations": args.realisations,
        "wall_s_including_start_up": round(wall, 2),
        "run_scenario_s": round(inner, 2),
        "seconds_per_realisation": round(inner / args.realisations, 3),
        "peak_rss_mb": round(peak_mb, 1),
        "target": "under 60 s for 20 realisations on the 1 km grid (issue 6)",
        "machine": machine("numpy", "numba"),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "run.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.scenario}: {args.realisations} realisations in {inner:.1f} s "
          f"({wall:.1f} s with start-up), peak {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
