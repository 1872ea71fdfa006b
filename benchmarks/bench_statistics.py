"""Benchmark: the standards' statistics of 535 stations × a year (issue 14 target ≤ 50 ms).

The readings are one realisation of ``scenarios/dense_sensors.yaml`` (35 stations and 500
low-cost sensors, 8,784 hours, six pollutants, missing hours).  Timed, best of
``--repeats``:

* ``standards``: what the statement's figures are made of (:mod:`netsim.standards`) —
  24-h means of five pollutants, O3 MDA8, the annual validity rule and annual
  percentiles of every station, the O3 daily 1-h maxima (computed by :func:`mda8` in
  the same pass, as :func:`netsim.stats.compute_statistics` uses them) and the city's
  daily AQI;
* ``compute_statistics``: the same plus city/district/group values and the tables
  (:func:`netsim.stats.compute_statistics`).

With numba on one thread and on all of them.  Writes ``benchmarks/results/statistics.json``.

Usage::

    python benchmarks/bench_statistics.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import numba
import numpy as np
from _machine import machine

from netsim.run import prepare_networks
from netsim.scenario import load_scenario
from netsim.standards import (
    STATISTIC_PERCENT,
    STATISTICS,
    annual_validity,
    daily_aqi,
    daily_means,
    hj663_percentile,
    mda8,
)
from netsim.stats import compute_statistics
from netsim.truth import TruthWorld

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_MS = 50.0


def standards_statistics(readings) -> None:
    """Daily values, validity and percentiles of every station; the city's daily AQI."""
    daily = {}
    for p, hourly in readings.values.items():
        daily[p] = mda8(hourly).values if p == "O3" else daily_means(hourly)  # + O3 1-h maxima
        annual_validity(daily[p], readings.year)
        for stat in STATISTICS[p]:
            if stat != "annual_mean":
                hj663_percentile(daily[p], STATISTIC_PERCENT[stat])
    daily_aqi({p: np.nanmean(v, axis=0) for p, v in daily.items()})


def best_ms(work, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return 1000.0 * best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    scenario = load_scenario(ROOT / "scenarios" / "dense_sensors.yaml")
    network = prepare_networks(scenario)[0]["scenario"]
    readings = TruthWorld(None, scenario.truth).realise(0).sample_hourly(network)
    load = list(os.getloadavg())
    rows = {}
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(threads)
        standards_statistics(readings)  # compile / load the kernels
        compute_statistics(readings, network)
        rows[f"{threads}_threads"] = {
            "standards_ms": round(best_ms(lambda: standards_statistics(readings),
                                          args.repeats), 1),
            "compute_statistics_ms": round(best_ms(lambda: compute_statistics(readings, network),
                                                   args.repeats), 1),
        }
        print(f"{threads} thread(s): {rows[f'{threads}_threads']}", flush=True)
    result = {
        "benchmark": "HJ 663 / HJ 633 statistics of 535 stations x 8784 hours x 6 pollutants",
        "stations": len(network), "hours": readings.n_hours, "repeats": args.repeats,
        "timings": rows, "target_ms": TARGET_MS,
        "machine": machine("numpy", "numba"), "load_average_before": load,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "statistics.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
