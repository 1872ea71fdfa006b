"""Benchmark: 200 realisations of ``baseline_2020.yaml`` in-process vs a 2-worker dask cluster.

Issue 8: realisations are dask tasks; the same run on a cluster must give
identical results.  Runs :func:`netsim.run.run_scenario` twice on the same
seed, each in a child process:

* ``in-process``: ``scheduler=None`` (one process; the numba kernels use both cores);
* ``local:2``: a :class:`distributed.LocalCluster` of 2 single-threaded worker
  processes (:func:`netsim.distributed.get_executor`).

and compares the run directories: every CSV byte for byte, every GeoTIFF band
exactly, ``summary.json`` except its ``executor`` entry.  Wall time is measured
in the parent around each child; peak memory is the largest ``ru_maxrss`` of
the child and of its worker processes (reported by the child).  Writes
``benchmarks/results/cluster.json``.

Usage::

    python benchmarks/bench_cluster.py [--realisations 200] [--resolution-m 1000]
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
SCENARIO = ROOT / "scenarios" / "baseline_2020.yaml"

CHILD = r"""
import json, resource, sys, time
from netsim.run import run_scenario
from netsim.scenario import load_scenario
scenario_path, out, n, seed, scheduler, resolution = sys.argv[1:7]
sc = load_scenario(scenario_path)
sc = sc.model_copy(update={"grid": sc.grid.model_copy(update={"resolution_m": float(resolution)})})
t0 = time.perf_counter()
result = run_scenario(sc, out, realisations=int(n), seed=int(seed),
                      scheduler=None if scheduler == "none" else scheduler, web_map=False)
inner = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"inner_s": inner, "peak_rss_mb": peak, "children_peak_rss_mb": children,
                  "executor": result.summary.get("executor")}))
"""


def run_child(out: Path, n: int, seed: int, scheduler: str, resolution_m: float) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(SCENARIO),
            str(out),
            str(n),
            str(seed),
            scheduler,
            str(resolution_m),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child run ({scheduler}) failed with status {proc.returncode}")
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    record["wall_s"] = round(wall, 2)
    return record


def compare(a: Path, b: Path) -> dict:
    """Exact comparison of two run directories; returns counts and the first mismatches."""
    import numpy as np

    from netsim.rasters import read_raster

    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    mismatches: list[str] = []
    if files_a != files_b:
        mismatches.append(f"file lists differ: {set(files_a) ^ set(files_b)}")
    counts = {"csv": 0, "tif_bands": 0, "summary_json": 0}
    for rel in sorted(set(files_a) & set(files_b)):
        if rel.suffix == ".csv":
            counts["csv"] += 1
            if (a / rel).read_bytes() != (b / rel).read_bytes():
                mismatches.append(str(rel))
        elif rel.suffix == ".tif":
            ra, rb = read_raster(a / rel), read_raster(b / rel)
            for band in ra.bands:
                counts["tif_bands"] += 1
                if not np.array_equal(ra.bands[band], rb.bands[band], equal_nan=True):
                    mismatches.append(f"{rel}:{band}")
        elif rel.name == "summary.json":
            counts["summary_json"] += 1
            ja, jb = (json.loads((d / rel).read_text()) for d in (a, b))
            ja.pop("executor", None)
            jb.pop("executor", None)
            if ja != jb:
                mismatches.append(str(rel))
    return {"compared": counts, "identical": not mismatches, "mismatches": mismatches[:20]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realisations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--resolution-m", type=float, default=1000.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cases = [("in-process", "none"), (f"local:{args.workers}", f"local:{args.workers}")]
    records = {}
    load = {"start": list(os.getloadavg())}
    with tempfile.TemporaryDirectory() as tmp:
        run_child(Path(tmp) / "warm", 1, args.seed, "none", args.resolution_m)  # numba cache
        for name, scheduler in cases:
            out = Path(tmp) / name.replace(":", "_")
            records[name] = run_child(
                out, args.realisations, args.seed, scheduler, args.resolution_m
            )
            print(f"{name}: {records[name]['wall_s']:.1f} s", flush=True)
        check = compare(Path(tmp) / "in-process", Path(tmp) / f"local_{args.workers}")
    load["end"] = list(os.getloadavg())
    local, cluster = records["in-process"], records[f"local:{args.workers}"]
    result = {
        "benchmark": "cluster",
        "description": f"{args.realisations} realisations of scenarios/baseline_2020.yaml "
        f"({args.resolution_m:g} m grid, seed {args.seed}) in-process vs a "
        f"{args.workers}-worker dask LocalCluster (1 thread per worker)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine("numpy", "numba", "dask", "distributed"),
        "load_average": load,
        "realisations": args.realisations,
        "cases": records,
        "speedup_cluster_vs_local": round(local["wall_s"] / cluster["wall_s"], 3),
        "comparison": check,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(result, indent=2))
    print(f"{'executor':<12} {'wall s':>8} {'s/realisation':>14} {'peak MB':>8}")
    for name, r in records.items():
        peak = max(r["peak_rss_mb"], r["children_peak_rss_mb"])
        print(
            f"{name:<12} {r['wall_s']:>8.1f} {r['wall_s'] / args.realisations:>14.2f} {peak:>8.0f}"
        )
    print(f"identical results: {check['identical']} ({check['compared']})")
    print(f"wrote {RESULTS / 'cluster.json'}")


if __name__ == "__main__":
    main()
