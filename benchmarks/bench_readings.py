"""Benchmark: `load_readings` of one year from a 10-year, 35-station long file (issue 11, part 8).

Generates (once, cached) a long-format file of hourly readings for the 35 stations of
``stations/beijing_35.csv``, 6 pollutants and 10 years (18.4 M rows; CSV ≈ 650 MB and
Parquet), then loads one year from each in a child process (so the peak resident
memory is the load's own) and writes ``benchmarks/results/readings.json``.  With
``--before REF`` the same loads are timed with ``src/netsim/readings.py`` as of the git
revision REF (the whole-file reader this replaces) and the two results are compared
value for value.

Usage::

    python benchmarks/bench_readings.py [--first-year 2014] [--years 10] [--year 2020]
        [--cache /tmp/netsim-bench-readings] [--before 2cd0c39]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from _machine import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STATIONS = ROOT / "stations" / "beijing_35.csv"
POLLUTANTS = ("PM2.5", "PM10", "NO2", "SO2", "O3", "CO")

CHILD = """
import hashlib, importlib.util, json, resource, sys, time
import numpy as np
from netsim.network import Network
path, stations, year, module = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if module == "netsim.readings":
    from netsim.readings import load_readings
else:
    spec = importlib.util.spec_from_file_location("readings_before", module)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["readings_before"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    load_readings = mod.load_readings
net = Network.from_file(stations)
rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
r = load_readings(path, net, year)
seconds = time.perf_counter() - t0
digest = hashlib.sha256()
for p in sorted(r.values):
    digest.update(p.encode())
    digest.update(np.ascontiguousarray(r.values[p]).tobytes())
print(json.dumps({
    "seconds": seconds,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rss_before_load_mb": rss_start,
    "values_sha256": digest.hexdigest(),
    "valid_hours": int(sum(np.count_nonzero(~np.isnan(a)) for a in r.values.values())),
}))
"""


def _year_table(ids: list[str], year: int, rng: np.random.Generator, as_text: bool) -> pa.Table:
    """Rows of one year ordered by time, station, pollutant; integers, CO with 1 decimal."""
    start = np.datetime64(f"{year}-01-01T00:00")
    hours = int((np.datetime64(f"{year + 1}-01-01T00:00") - start) / np.timedelta64(1, "h"))
    times = start + np.arange(hours).astype("timedelta64[h]")
    n_s, n_p = len(ids), len(POLLUTANTS)
    per_hour = n_s * n_p
    time_index = np.repeat(np.arange(hours), per_hour)
    if as_text:
        labels = pa.array(np.datetime_as_string(times, unit="m")).cast(pa.string())
        time_col = pc.replace_substring(labels.take(pa.array(time_index)), "T", " ")
    else:
        time_col = pa.array(times[time_index].astype("datetime64[us]"))
    station = np.tile(np.repeat(np.arange(n_s), n_p), hours)
    pollutant = np.tile(np.arange(n_p), hours * n_s)
    scale = np.array([50, 80, 40, 8, 60, 0.9])[pollutant]
    value = rng.lognormal(0.0, 0.6, len(station)) * scale
    value = np.where(pollutant == n_p - 1, np.round(value, 1), np.round(value))
    value[rng.random(len(value)) < 0.02] = np.nan  # 2 % missing hours
    return pa.table(
        {
            "station_id": pa.array(np.asarray(ids, dtype=object)[station], pa.string()),
            "time": time_col,
            "pollutant": pa.array(np.asarray(POLLUTANTS, dtype=object)[pollutant], pa.string()),
            "value": pa.array(value, from_pandas=True),
        }
    )


def generate(cache: Path, first_year: int, n_years: int) -> dict[str, Path]:
    """Write (once) the CSV and Parquet files; returns their paths by format."""
    import pandas as pd

    ids = pd.read_csv(STATIONS)["station_id"].tolist()
    stem = f"readings_{len(ids)}st_{first_year}_{first_year + n_years - 1}"
    paths = {"csv": cache / f"{stem}.csv", "parquet": cache / f"{stem}.parquet"}
    if all(p.exists() for p in paths.values()):
        return paths
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    schema = _year_table(ids, first_year, np.random.default_rng(0), False).schema
    csv_tmp, pq_tmp = (p.with_suffix(p.suffix + ".part") for p in paths.values())
    options = pacsv.WriteOptions(quoting_style="none")
    text_schema = _year_table(ids, first_year, np.random.default_rng(0), True).schema
    with (
        pacsv.CSVWriter(csv_tmp, text_schema, write_options=options) as csv_out,
        pq.ParquetWriter(pq_tmp, schema) as pq_out,
    ):
        for k, year in enumerate(range(first_year, first_year + n_years)):
            csv_out.write_table(_year_table(ids, year, np.random.default_rng(k), True))
            pq_out.write_table(_year_table(ids, year, np.random.default_rng(k), False))
    csv_tmp.rename(paths["csv"])
    pq_tmp.rename(paths["parquet"])
    print(f"generated {paths['csv'].name} and .parquet in {time.perf_counter() - t0:.0f} s")
    return paths


def _child(path: Path, year: int, module: str) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(STATIONS), str(year), module],
        capture_output=True, text=True, cwd=ROOT,
    )
    if proc.returncode:
        raise SystemExit(f"child failed for {path.name} ({module}):\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s_including_start_up"] = time.perf_counter() - t0
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def _before_module(ref: str, cache: Path) -> str:
    """``src/netsim/readings.py`` of git revision ``ref``, written to the cache directory."""
    text = subprocess.run(
        ["git", "show", f"{ref}:src/netsim/readings.py"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    path = cache / f"readings_{ref}.py"
    path.write_text(text)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-year", type=int, default=2014)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--year", type=int, default=2020, help="year to load")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/netsim-bench-readings"))
    parser.add_argument("--before", help="git revision whose readings.py to compare with")
    args = parser.parse_args()
    paths = generate(args.cache, args.first_year, args.years)
    rows = pq.ParquetFile(paths["parquet"]).metadata.num_rows  # the CSV holds the same rows
    runs = {}
    for fmt, path in paths.items():
        entry = {
            "file": path.name,
            "rows": rows,
            "size_mb": round(path.stat().st_size / 2**20, 1),
            "after": _child(path, args.year, "netsim.readings"),
        }
        if args.before:
            entry["before"] = _child(path, args.year, _before_module(args.before, args.cache))
            entry["same_values"] = (
                entry["before"]["values_sha256"] == entry["after"]["values_sha256"]
            )
        runs[fmt] = entry
        a = entry["after"]
        print(
            f"{fmt}: {rows / 1e6:.1f} M rows, {entry['size_mb']:.0f} MB -> {args.year} in "
            f"{a['seconds']:.1f} s, peak {a['peak_rss_mb']:.0f} MB"
            + (
                f" (before: {entry['before']['seconds']:.1f} s, "
                f"{entry['before']['peak_rss_mb']:.0f} MB; same values: {entry['same_values']})"
                if args.before
                else ""
            )
        )
    result = {
        "benchmark": "netsim.readings.load_readings, one year of a multi-year long file",
        "stations": 35,
        "pollutants": len(POLLUTANTS),
        "years_in_file": f"{args.first_year}-{args.first_year + args.years - 1}",
        "year_loaded": args.year,
        "runs": runs,
        "before_ref": args.before,
        "target": "peak RSS well under 1 GB for the 18.4 M-row file (issue 11, part 8; "
        "the whole-file reader peaked at 5.2 GB)",
        "machine": machine("numpy", "pandas", "pyarrow"),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "readings.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
