"""Kriging benchmark: netsim vs PyKrige (vectorized, loop, C) and GSTools (gstools-core).

Run ``python benchmarks/bench_kriging.py`` (``--quick`` for a smoke run; ``--sizes`` for
the size scan :data:`SIZES` into ``benchmarks/results/kriging_sizes.json``).  Every
case runs in its own subprocess so its peak resident memory (``ru_maxrss``) is
its own.  Results go to ``benchmarks/results/kriging.json`` and a table is printed.

Workloads (stations uniform in a 100 km square, targets a regular grid over it,
spherical variogram psill 100, range 30 km, nugget 10 (µg/m³)²):

* W1: 35 stations -> 1,000,000 targets, ordinary kriging, estimate + variance
* W2: 300 stations -> 1,000,000 targets, same
* W3: 2,000 stations -> 1,000,000 targets, 16 nearest neighbours
* W4: 35 stations, 365 daily value vectors -> 1,000,000 targets (netsim streams
  the 365 x 1e6 outputs with ``krige_chunks`` in float32; the consumer keeps a
  per-target annual mean, so the outputs are never all held in memory)

Peers too slow for the full workload are timed on a subset of targets (and of
steps for W4) and extrapolated linearly; the JSON says so per case
(``measured_targets``, ``measured_steps``, ``extrapolated``).  Accuracy is the
maximum absolute difference from PyKrige (vectorized backend, or loop for the
moving window) on 2,000 check targets spread over the grid.  GSTools has no
moving neighbourhood: for W3 it runs global kriging (different estimates).
netsim's numba compile/cache-load time is measured separately by a warm-up call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _machine import machine

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "kriging.json"
VARIO = {"model": "spherical", "psill": 100.0, "range": 30_000.0, "nugget": 10.0}
WORKLOADS = {
    "W1": {"n": 35, "k": None, "T": 1, "desc": "35 stations -> 1e6 targets, ordinary, global"},
    "W2": {"n": 300, "k": None, "T": 1, "desc": "300 stations -> 1e6 targets, ordinary, global"},
    "W3": {"n": 2000, "k": 16, "T": 1, "desc": "2000 stations -> 1e6 targets, 16 nearest"},
    "W4": {"n": 35, "k": None, "T": 365, "desc": "35 stations x 365 daily vectors -> 1e6 targets"},
}
# (library, backend) -> targets measured per workload (None = all), steps measured for W4
PEERS = {
    ("pykrige", "C"): {"W1": 200_000, "W2": 20_000, "W3": 50_000, "W4": (50_000, 2)},
    ("pykrige", "vectorized"): {"W1": 100_000, "W2": 20_000, "W4": (50_000, 2)},
    ("pykrige", "loop"): {"W1": 10_000, "W2": 5_000, "W3": 5_000, "W4": (5_000, 1)},
    ("gstools", "gstools-core"): {"W1": 200_000, "W2": 20_000, "W3": 10_000, "W4": (50_000, 2)},
}


def make_data(name: str, side: int):
    w = WORKLOADS[name]
    rng = np.random.default_rng(2024)
    xy = rng.random((w["n"], 2)) * 100_000.0
    g = (np.arange(side) + 0.5) * (100_000.0 / side)
    gx, gy = np.meshgrid(g, g)
    targets = np.column_stack([gx.ravel(), gy.ravel()])
    base = 50.0 + 20.0 * np.sin(xy[:, 0] / 20_000.0) * np.cos(xy[:, 1] / 25_000.0)
    values = base[None, :] + rng.normal(0.0, 5.0, (w["T"], w["n"]))
    check = targets[np.linspace(0, targets.shape[0] - 1, 2000).astype(int)]
    return xy, values, targets, check


def _reference(xy, z, check, k):
    from pykrige.ok import OrdinaryKriging

    ok = OrdinaryKriging(
        xy[:, 0],
        xy[:, 1],
        z,
        variogram_model="spherical",
        variogram_parameters={k_: VARIO[k_] for k_ in ("psill", "range", "nugget")},
    )
    if k is None:
        return ok.execute("points", check[:, 0], check[:, 1], backend="vectorized")
    return ok.execute("points", check[:, 0], check[:, 1], backend="loop", n_closest_points=k)


def _diff(a, b):
    return float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))))


def run_netsim(name: str, side: int) -> dict:
    from netsim import Variogram, krige, krige_chunks

    w = WORKLOADS[name]
    xy, values, targets, check = make_data(name, side)
    v = Variogram(**VARIO)
    t0 = time.perf_counter()
    krige(xy, values[:, :], targets[:500], v, n_neighbours=w["k"])  # compile / cache load
    compile_s = time.perf_counter() - t0
    m = targets.shape[0]
    t0 = time.perf_counter()
    if w["T"] == 1:
        r = krige(xy, values[0], targets, v, n_neighbours=w["k"])
        wall = time.perf_counter() - t0
        est_check = krige(xy, values[0], check, v, n_neighbours=w["k"])
        e_ref, s_ref = _reference(xy, values[0], check, w["k"])
        de, dv = _diff(est_check.estimate, e_ref), _diff(est_check.variance, s_ref)
        del r
    else:
        annual = np.zeros(m)
        for sl, res in krige_chunks(xy, values, targets, v, dtype=np.float32):
            annual[sl] = res.estimate.mean(axis=0)
        wall = time.perf_counter() - t0
        rc = krige(xy, values[[0, 200]], check, v)
        de = dv = 0.0
        for j, t in enumerate((0, 200)):
            e_ref, s_ref = _reference(xy, values[t], check, None)
            de = max(de, _diff(rc.estimate[j], e_ref))
            dv = max(dv, _diff(rc.variance[0], s_ref))
    return {
        "library": "netsim",
        "backend": "numba+BLAS",
        "wall_s": wall,
        "compile_s": compile_s,
        "measured_targets": m,
        "measured_steps": w["T"],
        "extrapolated": False,
        "max_abs_diff_estimate": de,
        "max_abs_diff_variance": dv,
    }


def run_peer(name: str, side: int, lib: str, backend: str) -> dict:
    w = WORKLOADS[name]
    xy, values, targets, check = make_data(name, side)
    m_full = targets.shape[0]
    spec = PEERS[(lib, backend)][name]
    m_sub, steps = spec if isinstance(spec, tuple) else (spec, 1)
    m_sub = min(m_sub, m_full)
    sub = targets[np.linspace(0, m_full - 1, m_sub).astype(int)]
    k = w["k"]
    if lib == "pykrige":
        from pykrige.ok import OrdinaryKriging

        params = {k_: VARIO[k_] for k_ in ("psill", "range", "nugget")}
        t0 = time.perf_counter()
        for t in range(steps):
            ok = OrdinaryKriging(
                xy[:, 0],
                xy[:, 1],
                values[t],
                variogram_model="spherical",
                variogram_parameters=params,
            )
            ok.execute("points", sub[:, 0], sub[:, 1], backend=backend, n_closest_points=k)
        wall = time.perf_counter() - t0
        ok = OrdinaryKriging(
            xy[:, 0], xy[:, 1], values[0], variogram_model="spherical", variogram_parameters=params
        )
        e, s = ok.execute("points", check[:, 0], check[:, 1], backend=backend, n_closest_points=k)
    else:
        import gstools as gs

        from netsim import Variogram

        model = Variogram(**VARIO).to_gstools()
        gs.config.USE_GSTOOLS_CORE = True
        t0 = time.perf_counter()
        for t in range(steps):
            krig = gs.krige.Ordinary(model, (xy[:, 0], xy[:, 1]), values[t], exact=True)
            krig((sub[:, 0], sub[:, 1]), return_var=True, chunk_size=20_000)
        wall = time.perf_counter() - t0
        krig = gs.krige.Ordinary(model, (xy[:, 0], xy[:, 1]), values[0], exact=True)
        e, s = krig((check[:, 0], check[:, 1]), return_var=True)
    e_ref, s_ref = _reference(xy, values[0], check, k)
    factor = (m_full / m_sub) * (w["T"] / steps)
    return {
        "library": lib,
        "backend": backend,
        "wall_s": wall * factor,
        "measured_wall_s": wall,
        "measured_targets": int(m_sub),
        "measured_steps": steps,
        "extrapolated": factor > 1,
        "max_abs_diff_estimate": _diff(e, e_ref),
        "max_abs_diff_variance": _diff(s, s_ref),
        **(
            {"note": "global kriging (GSTools has no moving neighbourhood)"}
            if lib == "gstools" and k
            else {}
        ),
    }


SIZES = {
    # name: (stations, k, targets, layout)
    "S1k": (35, None, 1_000, "scattered"),
    "S10k": (35, None, 10_000, "scattered"),
    "L10k": (2_000, 16, 10_000, "scattered"),
    "L50k": (2_000, 16, 50_000, "scattered"),
    "L224": (2_000, 16, 224 * 224, "grid"),
}
"""Size scan (``--sizes``): small global problems and local kriging from 10,000 targets,
scattered (uniform random) or grid-ordered, netsim vs PyKrige C, min of repeats."""


def _size_data(name: str):
    n, k, m, layout = SIZES[name]
    rng = np.random.default_rng(2024)
    xy = rng.random((n, 2)) * 100_000.0
    z = 50.0 + 20.0 * np.sin(xy[:, 0] / 20_000.0) * np.cos(xy[:, 1] / 25_000.0)
    z = z + rng.normal(0.0, 5.0, n)
    if layout == "grid":
        side = round(float(np.sqrt(m)))
        g = (np.arange(side) + 0.5) * (100_000.0 / side)
        gx, gy = np.meshgrid(g, g)
        targets = np.column_stack([gx.ravel(), gy.ravel()])
    else:
        targets = rng.random((m, 2)) * 100_000.0
    return xy, z, targets, k


def _best_of(fn, budget_s: float = 3.0, most: int = 50) -> tuple[float, int]:
    times = []
    start = time.perf_counter()
    while len(times) < most and (not times or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), len(times)


def run_sizes() -> dict:
    """Each size in this process: netsim (after a warm-up call) and PyKrige C."""
    from pykrige.ok import OrdinaryKriging

    from netsim import Variogram, krige

    v = Variogram(**VARIO)
    params = {k_: VARIO[k_] for k_ in ("psill", "range", "nugget")}
    out = {}
    for name, (n, k, m, layout) in SIZES.items():
        xy, z, targets, k = _size_data(name)
        krige(xy, z, targets[:100], v, n_neighbours=k)
        ours, reps = _best_of(lambda: krige(xy, z, targets, v, n_neighbours=k))  # noqa: B023

        def peer():
            ok = OrdinaryKriging(xy[:, 0], xy[:, 1], z, variogram_model="spherical",  # noqa: B023
                                 variogram_parameters=params)
            return ok.execute("points", targets[:, 0], targets[:, 1], backend="C",  # noqa: B023
                              n_closest_points=k)  # noqa: B023

        theirs, peer_reps = _best_of(peer, budget_s=2.0, most=20)
        e_ref, s_ref = peer()
        r = krige(xy, z, targets, v, n_neighbours=k)
        out[name] = {
            "stations": n, "n_neighbours": k, "targets": m, "layout": layout,
            "netsim_s": ours, "netsim_repeats": reps,
            "pykrige_c_s": theirs, "pykrige_repeats": peer_reps,
            "speedup_vs_pykrige_c": theirs / ours,
            "load_average_after": list(os.getloadavg()),
            "max_abs_diff_estimate": _diff(r.estimate, e_ref),
            "max_abs_diff_variance": _diff(r.variance, s_ref),
        }
        print(f"{name:5s} {n:5d} st k={k} {m:7d} {layout:9s} netsim {ours * 1e3:9.2f} ms  "
              f"PyKrige C {theirs * 1e3:9.2f} ms  x{theirs / ours:6.1f}  "
              f"dE {out[name]['max_abs_diff_estimate']:.1e}", flush=True)
    return out


def worker(spec: dict) -> None:
    if spec["library"] == "netsim":
        out = run_netsim(spec["workload"], spec["side"])
    else:
        out = run_peer(spec["workload"], spec["side"], spec["library"], spec["backend"])
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT " + json.dumps(out))


def versions() -> dict:
    import gstools
    import numba
    import pykrige
    import scipy

    import netsim

    try:
        from importlib.metadata import version

        import gstools_core  # noqa: F401

        core = version("gstools-core")
    except Exception:  # pragma: no cover - optional
        core = None
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "pykrige": pykrige.__version__,
        "gstools": gstools.__version__,
        "gstools_core": core,
        "netsim": netsim.__version__,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200x200 targets, fewer peers (smoke run)")
    ap.add_argument("--workloads", default="W1,W2,W3,W4")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", action="store_true",
                    help="size scan (small global problems, local kriging from 10,000 targets, "
                         "scattered vs grid) into results/kriging_sizes.json")
    args = ap.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.sizes:
        report = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions(),
            "variogram": VARIO,
            "sizes": run_sizes(),
        }
        default = RESULTS.with_name("kriging_sizes.json")
        out = Path(args.out if args.out != str(RESULTS) else default)
        from netsim.atomic import atomic_file

        with atomic_file(out) as tmp:
            Path(tmp).write_text(json.dumps(report, indent=2))
        print(f"wrote {out}")
        return
    side = 200 if args.quick else 1000
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "variogram": VARIO,
        "quick": args.quick,
        "n_targets": side * side,
        "workloads": {},
    }
    rows = []
    for name in args.workloads.split(","):
        w = WORKLOADS[name]
        cases = [("netsim", "numba+BLAS")]
        if not args.no_peers:
            cases += [c for c in PEERS if name in PEERS[c] and not (args.quick and c[1] == "loop")]
        results = []
        for lib, backend in cases:
            spec = {"workload": name, "side": side, "library": lib, "backend": backend}
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps(spec)],
                capture_output=True,
                text=True,
            )
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not line:
                res = {"library": lib, "backend": backend, "error": proc.stderr.strip()[-500:]}
            else:
                res = json.loads(line[-1][7:])
                res["targets_per_s"] = side * side * w["T"] / res["wall_s"]
            results.append(res)
            rows.append((name, res))
            print(_fmt(name, res), flush=True)
        ok = [r for r in results if "wall_s" in r]
        ns = next((r for r in ok if r["library"] == "netsim"), None)
        pk = [r for r in ok if r["library"] == "pykrige"]
        gs_ = [r for r in ok if r["library"] == "gstools"]
        ratios = {}
        if ns and pk:
            best = min(pk, key=lambda r: r["wall_s"])
            ratios["vs_fastest_pykrige"] = best["wall_s"] / ns["wall_s"]
            ratios["fastest_pykrige_backend"] = best["backend"]
        if ns and gs_:
            ratios["vs_gstools"] = gs_[0]["wall_s"] / ns["wall_s"]
        report["workloads"][name] = {**w, "cases": results, "speedup": ratios}
        if ratios:
            print(
                f"  {name} speed-up: "
                + ", ".join(
                    f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in ratios.items()
                ),
                flush=True,
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from netsim.atomic import atomic_file

    with atomic_file(out) as tmp:
        Path(tmp).write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


def _fmt(name: str, r: dict) -> str:
    if "error" in r:
        return f"{name:3s} {r['library']:8s} {r['backend']:12s} ERROR {r['error'][-200:]}"
    ext = "*" if r.get("extrapolated") else " "
    comp = f" compile {r['compile_s']:.2f}s" if "compile_s" in r else ""
    return (
        f"{name:3s} {r['library']:8s} {r['backend']:12s} {r['wall_s']:9.2f}s{ext} "
        f"{r['targets_per_s']:12.0f} tg/s {r['peak_rss_mb']:7.0f} MB "
        f"dE {r['max_abs_diff_estimate']:.1e} dV {r['max_abs_diff_variance']:.1e}{comp}"
    )


if __name__ == "__main__":
    main()
