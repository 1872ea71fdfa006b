"""Benchmark: a national-scale synthetic network — 1,800 stations, 4,000 km × 3,000 km at 5 km.

Issue 8: China's national network has about 1,800 urban stations in more than
330 cities.  A synthetic stand-in: 335 "cities" placed with a west–east density
gradient over a 4,000 km × 3,000 km domain, 3–9 stations each (1,800 in
total, within 15 km of the city centre), and a smooth PM2.5 field (high in the
north-east plain, low in the west) plus city increments and noise.  The grid
is 800 × 600 cells of 5 km (480,000 targets); kriging is ordinary kriging with
the 16 nearest stations (:func:`netsim.krige` ``n_neighbours=16``).

Cases (each in a child process; peak memory = the child's ``ru_maxrss``):

``annual``
    One annual-mean map with kriging variance, written to a GeoTIFF window by window.
``daily``
    366 daily maps with 2 % missing station-days, reduced per cell to the annual
    mean, days above the 24-h limit, p95 and AQI day counts
    (:func:`netsim.timeseries.annual_statistics`, ``step="day"``), streamed over
    cell chunks.  Every day has its own availability pattern, and the local
    kernel works pattern by pattern, so this is the costly case.
``daily_complete``
    The same without missing data (one availability pattern): the cost of the
    kriging itself versus the per-pattern overhead of ``daily``.

Writes ``benchmarks/results/national.json``.

Usage::

    python benchmarks/bench_national.py [--cases annual daily]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _machine import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WIDTH_M, HEIGHT_M, RES_M = 4_000_000.0, 3_000_000.0, 5_000.0
N_STATIONS, N_CITIES, K = 1_800, 335, 16


def national_grid():
    """An 800 × 600 grid of 5 km cells, every cell inside (a custom :class:`netsim.grid.Grid`)."""
    import numpy as np

    from netsim.grid import Grid

    ny, nx = int(HEIGHT_M / RES_M), int(WIDTH_M / RES_M)
    return Grid(
        resolution_m=RES_M,
        west_m=0.0,
        north_m=HEIGHT_M,
        shape=(ny, nx),
        district=np.zeros((ny, nx), dtype=np.int16),
    )


def national_network(seed: int = 1800):
    """(1800, 2) station xy (m), (1800,) annual PM2.5, and a field function f(xy)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    # cities: denser in the east (x large), as China's population is
    u = rng.random(N_CITIES)
    cx = WIDTH_M * (1.0 - u**2.2)  # skewed towards the east
    cy = rng.uniform(0.1, 0.9, N_CITIES) * HEIGHT_M
    per_city = rng.multinomial(N_STATIONS - 3 * N_CITIES, np.ones(N_CITIES) / N_CITIES) + 3
    xy = np.concatenate(
        [
            np.column_stack([cx[i] + rng.normal(0, 7_000, k), cy[i] + rng.normal(0, 7_000, k)])
            for i, k in enumerate(per_city)
        ]
    )
    xy = np.clip(xy, 1.0, [WIDTH_M - 1.0, HEIGHT_M - 1.0])

    def field(p: np.ndarray) -> np.ndarray:
        x, y = p[:, 0] / WIDTH_M, p[:, 1] / HEIGHT_M
        return 20 + 35 * np.exp(-((x - 0.72) ** 2 / 0.03 + (y - 0.62) ** 2 / 0.02)) + 12 * x

    annual = field(xy) + rng.normal(0, 4.0, len(xy))
    return xy, annual, field


def run_case(case: str, out: str) -> None:
    import resource

    import numpy as np

    from netsim.kriging import krige
    from netsim.variogram import fit_variogram

    grid = national_grid()
    xy, annual, field = national_network()
    targets = grid.targets()
    fit = fit_variogram(xy, annual, "spherical", max_distance=1_500_000.0)
    variogram = fit.variogram
    record: dict = {
        "case": case,
        "n_stations": len(xy),
        "n_cells": int(targets.shape[0]),
        "resolution_m": RES_M,
        "n_neighbours": K,
        "variogram": variogram.to_dict(),
    }
    if case == "annual":
        t0 = time.perf_counter()
        result = krige(xy, annual, targets, variogram, n_neighbours=K)
        record["krige_s"] = round(time.perf_counter() - t0, 3)
        with tempfile.TemporaryDirectory() as tmp:
            from netsim.rasters import write_raster

            t1 = time.perf_counter()
            write_raster(
                Path(tmp) / "national.tif",
                grid,
                {"estimate": result.estimate, "std": np.sqrt(result.variance)},
                {"pollutant": "PM2.5", "statistic": "annual_mean"},
            )
            record["geotiff_s"] = round(time.perf_counter() - t1, 3)
        truth = field(targets)
        record["rmse_vs_smooth_field"] = float(np.sqrt(np.mean((result.estimate - truth) ** 2)))
        record["targets_per_s"] = round(targets.shape[0] / record["krige_s"])
    else:
        from netsim.timeseries import annual_statistics

        rng = np.random.default_rng(7)
        days = 366
        season = 1 + 0.45 * np.cos(2 * np.pi * (np.arange(days) - 15) / 366)
        daily = annual[None, :] * season[:, None] * rng.lognormal(0, 0.35, (days, len(xy)))
        if case == "daily":
            daily[rng.random(daily.shape) < 0.02] = np.nan
        record["n_days"] = days
        record["availability_patterns"] = int(np.unique(np.isfinite(daily), axis=0).shape[0])
        t0 = time.perf_counter()
        maps = annual_statistics(
            xy,
            daily,
            targets,
            variogram,
            pollutant="PM2.5",
            step="day",
            year=2020,
            n_neighbours=K,
            chunk_size=16_384,
        )
        record["maps_s"] = round(time.perf_counter() - t0, 3)
        record["daily_maps_per_s"] = round(days / record["maps_s"], 2)
        record["result"] = {
            "annual_mean_range": [
                float(np.nanmin(maps["pm25_annual_mean"])),
                float(np.nanmax(maps["pm25_annual_mean"])),
            ],
            "days_above_limit_mean": float(np.nanmean(maps["pm25_days_above_limit"])),
        }
    record["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    Path(out).write_text(json.dumps(record))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["annual", "daily", "daily_complete"])
    parser.add_argument("--child", nargs=2, metavar=("CASE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_case(*args.child)
        return
    records = []
    load = {"start": list(os.getloadavg())}
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            out = f"{tmp}/{case}.json"
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", case, out], check=True, cwd=ROOT)
            rec = json.loads(Path(out).read_text())
            rec["child_wall_s"] = round(time.perf_counter() - t0, 2)
            records.append(rec)
    load["end"] = list(os.getloadavg())
    result = {
        "benchmark": "national",
        "description": "synthetic national network: 1,800 stations over 4,000 km x 3,000 km, "
        "5 km grid (480,000 cells), ordinary kriging with 16 nearest neighbours",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine("numpy", "numba"),
        "load_average": load,
        "cases": records,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "national.json").write_text(json.dumps(result, indent=2))
    print(f"{'case':<8} {'cells':>8} {'compute s':>10} {'peak MB':>8}")
    for r in records:
        t = r.get("krige_s", r.get("maps_s"))
        print(f"{r['case']:<8} {r['n_cells']:>8} {t:>10.1f} {r['peak_rss_mb']:>8.0f}")
    print(f"wrote {RESULTS / 'national.json'}")


if __name__ == "__main__":
    main()
