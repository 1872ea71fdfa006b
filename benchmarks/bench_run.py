"""Benchmark: `netsim run` of every shipped scenario (20 realisations, 1 km grid), and a sweep.

Issue 14 targets (2-core machine): baseline_2020 (with its daily maps) ≤ 8 s,
fyp14_expansion ≤ 10 s, every shipped scenario ≤ 20 s, dense_sensors ≤ 25 s and
≤ 800 MB, ``netsim sweep`` of all of them ≤ 2 min.

Each scenario runs in a child process (so its peak resident memory is its own, plus
its helper workers' peaks: ``NETSIM_WORKERS``, :mod:`netsim.workers`), after a warm-up
run of one realisation that fills numba's on-disk cache (and the pictures' text cache,
:mod:`netsim.glyph_store`, recorded as ``text_cache_at_start``), and with netsim's bytecode
written as the README's install leaves it (``python -m compileall``).  The child reports
the wall time of :func:`netsim.run.run_scenario`, its peak RSS and the run's stage
breakdown (``summary.json`` "timing": truth, sampling, statistics, kriging, metrics,
outputs; :mod:`netsim.timing`).  The summed PSS of its process tree is sampled
(``_memory.py``) in a second, identical run: reading the tree's ``smaps_rollup`` takes
~35 ms of CPU a sample on the 2-core EPYC, ~15 % of a core at one sample every 0.2 s,
which would slow the timed run.  Results go to ``benchmarks/results/run.json`` with
the machine and its load average — on a shared 2-core machine a busy neighbour
doubles the timings, so compare runs made back to back.

Usage::

    python benchmarks/bench_run.py [--realisations 20] [--scenario scenarios/X.yaml ...]
                                   [--sweep] [--no-warm-up]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _machine import machine
from _memory import TreeMemory

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

TARGETS_S = {"baseline_2020": 8.0, "fyp14_expansion": 10.0, "dense_sensors": 25.0}
"""Issue 14 wall-time targets (seconds, 20 realisations); every other scenario: 20 s."""
OTHER_TARGET_S = 20.0
DENSE_RSS_TARGET_MB = 800.0
SWEEP_TARGET_S = 120.0

RUN_CHILD = """
import gc, json, resource, sys, time
from netsim import workers
workers.warm()  # as `netsim run` does before its imports
from netsim.run import run_scenario
from netsim.scenario import load_scenario
gc.freeze()  # as the `netsim` script does after its imports and before it exits
sc = load_scenario(sys.argv[1])
# a run on real readings measures one year: no Monte Carlo realisations to set
n = None if sc.readings is not None else int(sys.argv[3])
t0 = time.perf_counter()
result = run_scenario(sc, sys.argv[2], realisations=n)
wall = time.perf_counter() - t0
from netsim.workers import helper_workers, workers_peak_rss_mb
print(json.dumps({"run_scenario_s": wall, "timing": result.summary.get("timing"),
                  "realisations": sc.realisations if n is None else n,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "helper_workers": helper_workers(),
                  "workers_peak_rss_mb": workers_peak_rss_mb()}))
gc.freeze()
"""

SWEEP_CHILD = """
import gc, json, resource, sys, time
from netsim import workers
workers.warm()  # as `netsim sweep` does before its imports
from netsim.sweep import sweep_scenarios
gc.freeze()  # as the `netsim` script does after its imports and before it exits
t0 = time.perf_counter()
rows = sweep_scenarios(sys.argv[3:], sys.argv[1], realisations=int(sys.argv[2]))
print(json.dumps({"sweep_s": time.perf_counter() - t0, "scenarios": len(rows),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
gc.freeze()
"""


def _child(code: str, *args: str) -> tuple[float, dict]:
    """Run ``code`` in a fresh interpreter; (wall seconds with start-up, its JSON report)."""
    t0 = time.perf_counter()
    proc = _start(code, args, subprocess.PIPE)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    _check(proc, stderr, args)
    return wall, json.loads(stdout.strip().splitlines()[-1])


def _tree_memory(code: str, *args: str) -> dict:
    """Run ``code`` again in a fresh interpreter, sampling its process tree's summed PSS
    and RSS: their peaks (MB) and the processes at the PSS peak."""
    proc = _start(code, args, subprocess.DEVNULL)
    with TreeMemory(proc.pid) as memory:
        _, stderr = proc.communicate()
    _check(proc, stderr, args)
    return {"peak_pss_mb": round(memory.peak_pss_mb, 1),
            "peak_rss_mb": round(memory.peak_rss_mb, 1),
            "processes": memory.processes_at_peak}


def _start(code: str, args: tuple[str, ...], stdout: int) -> subprocess.Popen:
    """``python -c code *args`` from the repository, netsim from ``src``."""
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=stdout,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": _pythonpath()})


def _check(proc: subprocess.Popen, stderr: str, args: tuple[str, ...]) -> None:
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]}: child failed:\n{stderr[-3000:]}")


def _pythonpath() -> str:
    return os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))


def bench_scenario(path: Path, realisations: int, warm_up: bool, tmp: Path) -> dict:
    """One scenario: warm-up (1 realisation), the timed run, then the sampled run."""
    if warm_up:
        _child(RUN_CHILD, str(path), str(tmp / f"{path.stem}_warm"), "1")
    load = list(os.getloadavg())
    wall, report = _child(RUN_CHILD, str(path), str(tmp / path.stem), str(realisations))
    tree = _tree_memory(RUN_CHILD, str(path), str(tmp / f"{path.stem}_memory"),
                        str(realisations))
    timing = report.get("timing") or {}
    target = TARGETS_S.get(path.stem, OTHER_TARGET_S)
    return {
        "scenario": path.stem,
        "realisations": report.get("realisations", realisations),
        "run_scenario_s": round(report["run_scenario_s"], 2),
        "wall_s_including_start_up": round(wall, 2),
        "peak_rss_mb": round(report["peak_rss_mb"], 1),
        "helper_workers": report["helper_workers"],
        "workers_peak_rss_mb": [round(v, 1) for v in report["workers_peak_rss_mb"]],
        "peak_rss_with_workers_mb": round(report["peak_rss_mb"]
                                          + sum(report["workers_peak_rss_mb"]), 1),
        "peak_pss_tree_mb": tree["peak_pss_mb"],
        "peak_rss_tree_mb": tree["peak_rss_mb"],
        "stages_s": timing.get("stages_s"),
        "realisations_s": timing.get("realisations_s"),
        "target_s": target,
        "meets_target": report["run_scenario_s"] <= target,
        "load_average_before": load,
    }


def bench_sweep(paths: list[Path], realisations: int, tmp: Path) -> dict:
    load = list(os.getloadavg())
    wall, report = _child(SWEEP_CHILD, str(tmp / "sweep"), str(realisations),
                          *map(str, paths))
    tree = _tree_memory(SWEEP_CHILD, str(tmp / "sweep_memory"), str(realisations),
                        *map(str, paths))
    return {"scenarios": report["scenarios"], "realisations": realisations,
            "sweep_s": round(report["sweep_s"], 2), "wall_s_including_start_up": round(wall, 2),
            "peak_rss_mb": round(report["peak_rss_mb"], 1),
            "peak_pss_tree_mb": tree["peak_pss_mb"], "target_s": SWEEP_TARGET_S,
            "meets_target": report["sweep_s"] <= SWEEP_TARGET_S, "load_average_before": load}


def _print_scenario(row: dict) -> None:
    stages = ", ".join(f"{k} {v:.1f}" for k, v in (row["stages_s"] or {}).items())
    print(f"{row['scenario']:28s} {row['run_scenario_s']:6.1f} s  {row['peak_rss_mb']:6.0f} MB"
          f" (+ workers {row['peak_rss_with_workers_mb'] - row['peak_rss_mb']:.0f} MB;"
          f" tree PSS {row['peak_pss_tree_mb']:.0f} MB)"
          f"  (target {row['target_s']:.0f} s: {'met' if row['meets_target'] else 'missed'})"
          f"  stages: {stages}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", type=Path,
                        help="scenario YAML (repeatable; default: every scenarios/*.yaml)")
    parser.add_argument("--realisations", type=int, default=20)
    parser.add_argument("--sweep", action="store_true", help="also time a sweep of them all")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    args = parser.parse_args()
    paths = [p.resolve() for p in (args.scenario or sorted((ROOT / "scenarios").glob("*.yaml")))]
    compileall.compile_dir(ROOT / "src" / "netsim", quiet=1)  # as the README's install does
    started = datetime.now(UTC).isoformat(timespec="seconds")
    text_cache = _text_cache()
    rows, sweep = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            rows.append(bench_scenario(path, args.realisations, args.warm_up, Path(tmp)))
            _print_scenario(rows[-1])
        if args.sweep:
            sweep = bench_sweep(paths, args.realisations, Path(tmp))
            print(f"sweep of {sweep['scenarios']} scenarios: {sweep['sweep_s']:.1f} s, "
                  f"peak {sweep['peak_rss_mb']:.0f} MB", flush=True)
    dense = next((r for r in rows if r["scenario"] == "dense_sensors"), None)
    result = {
        "benchmark": "netsim run, every shipped scenario (issue 14)",
        "scenarios": rows,
        "sweep": sweep,
        "dense_sensors_rss_target_mb": DENSE_RSS_TARGET_MB,
        "dense_sensors_meets_rss_target": None if dense is None
        else dense["peak_pss_tree_mb"] <= DENSE_RSS_TARGET_MB,
        "rss_note": "peak_rss_mb: peak RSS (VmHWM) of the run's process; "
                    "peak_rss_with_workers_mb: its helper workers' peaks added (NETSIM_WORKERS; "
                    "they compute realisations and draw the PNGs), which counts every shared "
                    "library page once per process; peak_pss_tree_mb / peak_rss_tree_mb: the "
                    "summed PSS / RSS of the run's whole process tree (forkserver included), "
                    "sampled every 0.2 s in a second, identical run (sampling costs CPU, so the "
                    "timed run is not sampled): PSS counts a shared page once, so it is the memory "
                    "the run occupies, and the one compared with the 800 MB target",
        "stages": "summary.json timing: seconds summed over realisations (truth: grid fields; "
                  "sampling: hourly readings; statistics: HJ 663 statistics and annual means; "
                  "kriging: variograms, maps, checks, daily maps; metrics: NetAssess; outputs: "
                  "summary, CSVs, rasters, PNG and web maps)",
        "machine": machine("numpy", "numba"),
        "text_cache_at_start": text_cache,
        "load_average_at_end": list(os.getloadavg()),
        "date": started,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "run.json").write_text(json.dumps(result, indent=2) + "\n")


def _text_cache() -> dict:
    """The text caches of earlier runs the benchmark starts from (``netsim.glyph_store``;
    each scenario's warm-up run adds its own text, as it fills numba's cache)."""
    from netsim.glyph_store import cache_file

    path = cache_file()
    if path is None:
        return {"path": None, "note": "NETSIM_CACHE_DIR is empty: no text kept on disk"}
    return {"path": str(path), "bytes": path.stat().st_size if path.exists() else 0,
            "note": "the pictures' text read from this file (netsim.glyph_store); the "
                    "warm-up runs add theirs"}


if __name__ == "__main__":
    main()
