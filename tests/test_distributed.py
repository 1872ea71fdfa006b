"""netsim.distributed: in-process executor, scheduler resolution, and a real dask cluster.

The ``cluster`` tests start ``dask scheduler`` and two ``dask worker`` processes
on 127.0.0.1 (each in its own process group, killed in a ``finally``), run the
same work through them and through the in-process executor, and require
identical results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pytest

from netsim.distributed import (
    SCHEDULER_ENV,
    DistributedExecutor,
    LocalExecutor,
    chunk_slices,
    get_executor,
    resolve_scheduler,
)
from netsim.errors import NetsimError

# Workers cannot import this test module: ship its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _workload(seed: int, weights: np.ndarray, scale: float) -> np.ndarray:
    """A pure task: a seeded random field reduced with shared weights."""
    rng = np.random.default_rng(seed)
    field = rng.normal(size=(64, weights.size))
    return scale * np.sort(field @ weights)


def _fails(item: int) -> int:
    if item == 3:
        raise NetsimError("task 3: bad input; fix it")
    return item


# ---------------------------------------------------------------------------
# in-process


def test_local_executor_returns_results_in_item_order():
    with get_executor(None) as ex:
        assert isinstance(ex, LocalExecutor)
        assert ex.n_workers == 1
        assert ex.map(pow, [1, 2, 3, 4], 2) == [1, 4, 9, 16]


def test_local_executor_reports_progress_up_to_total():
    calls: list[tuple[int, int]] = []
    with get_executor("sync") as ex:
        ex.map(abs, [-1, -2, -3], progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_scheduler_comes_from_environment_when_not_given(monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://10.0.0.1:8786")
    assert resolve_scheduler(None) == "tcp://10.0.0.1:8786"
    assert resolve_scheduler("sync") is None
    monkeypatch.delenv(SCHEDULER_ENV)
    assert resolve_scheduler(None) is None


@pytest.mark.parametrize("bad", ["foo", "127.0.0.1:8786", "local:0", "local:x", "http//x"])
def test_malformed_scheduler_is_one_line_error(bad):
    with pytest.raises(NetsimError, match=r"expected tcp://HOST:PORT|no workers") as info:
        resolve_scheduler(bad)
    assert "\n" not in str(info.value)


def test_unreachable_scheduler_names_address_and_hint():
    from conftest import free_port

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    start = time.perf_counter()
    with pytest.raises(NetsimError) as info:
        get_executor(address, timeout_s=1.0)
    message = str(info.value)
    assert "\n" not in message
    assert address in message
    assert "dask scheduler" in message and "in-process" in message
    assert time.perf_counter() - start < 15


def test_chunk_slices_cover_range_once():
    slices = chunk_slices(10, 4)
    assert [(s.start, s.stop) for s in slices] == [(0, 4), (4, 8), (8, 10)]
    assert chunk_slices(0, 4) == []


# ---------------------------------------------------------------------------
# real cluster


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A real ``dask scheduler`` and two single-threaded ``dask worker`` processes."""
    from conftest import DaskProcesses  # imported here: subprocesses import this module too

    procs = DaskProcesses(tmp_path_factory.mktemp("dask"))
    try:
        procs.start_scheduler()
        for i in range(2):
            procs.start_worker(f"w{i}")
        procs.wait_for_workers(2, timeout_s=40)
        yield procs.address
    finally:
        procs.close()


@pytest.mark.cluster
def test_cluster_map_equals_in_process_exactly(dask_cluster):
    weights = np.linspace(-1.0, 1.0, 50)
    seeds = list(range(12))
    with get_executor(None) as local:
        expected = local.map(_workload, seeds, weights, 2.5)
    progress: list[int] = []
    with get_executor(dask_cluster) as ex:
        assert isinstance(ex, DistributedExecutor)
        assert ex.kind == "distributed" and ex.address == dask_cluster
        assert ex.n_workers == 2
        got = ex.map(_workload, seeds, weights, 2.5, progress=lambda d, t: progress.append(d))
        # both workers took part
        assert len(ex.client.run(lambda: 1)) == 2
    assert progress == list(range(13))
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.cluster
def test_cluster_via_environment_variable(dask_cluster, monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster)
    with get_executor() as ex:
        assert ex.kind == "distributed"
        assert ex.map(pow, [2, 3], 3) == [8, 27]


@pytest.mark.cluster
def test_cluster_task_error_keeps_its_type(dask_cluster):
    with get_executor(dask_cluster) as ex, pytest.raises(NetsimError, match="task 3"):
        ex.map(_fails, range(5))


@pytest.mark.cluster
def test_cluster_kriging_chunks_equal_in_process(dask_cluster):
    """Per-cell annual statistics computed in cell chunks on the cluster equal the local ones."""
    timeseries = pytest.importorskip("netsim.timeseries")
    args = _small_timeseries_case()
    local = timeseries.annual_statistics(*args[:4], **args[4], executor=None)
    with get_executor(dask_cluster) as ex:
        remote = timeseries.annual_statistics(*args[:4], **args[4], executor=ex)
    assert local.keys() == remote.keys()
    for name in local:
        np.testing.assert_array_equal(local[name], remote[name], err_msg=name)


def _small_timeseries_case():
    from netsim.variogram import Variogram

    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 50_000, size=(12, 2))
    n_hours = 24 * 10
    values = 40 + 20 * rng.random((n_hours, 12))
    values[rng.random(values.shape) < 0.05] = np.nan
    gx, gy = np.meshgrid(np.linspace(0, 50_000, 15), np.linspace(0, 50_000, 12))
    targets = np.column_stack([gx.ravel(), gy.ravel()])
    vg = Variogram("spherical", psill=100.0, range=30_000.0, nugget=5.0)
    options = {"pollutant": "PM2.5", "chunk_size": 37, "apply_annual_rule": False}
    return xy, values, targets, vg, options


THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS")


@pytest.mark.cluster
@pytest.mark.slow
def test_scenario_bit_identical_in_process_one_thread_and_on_cluster(dask_cluster, tmp_path):
    """A tiny scenario (2 realisations, 5 km grid) gives the same bytes in-process, in a
    process with every thread count at 1 (or at 2, when this one already runs on 1) and on
    a 2-worker cluster (whose nannies set one BLAS thread)."""
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "baseline_2020.yaml"
    _run_tiny(scenario, tmp_path / "local", None)
    threads = "2" if os.environ.get("OPENBLAS_NUM_THREADS") == "1" else "1"
    _run_tiny_in_subprocess(scenario, tmp_path / "threads", threads)
    _run_tiny(scenario, tmp_path / "cluster", dask_cluster)
    _assert_same_outputs(tmp_path / "local", tmp_path / "threads")
    _assert_same_outputs(tmp_path / "local", tmp_path / "cluster")


def _tiny_scenario(path: Path):
    """The scenario on the 5 km grid without PNG maps (the web map and rasters stay)."""
    from netsim.scenario import Scenario

    sc = Scenario.from_yaml(path)
    return sc.model_copy(update={
        "grid": sc.grid.model_copy(update={"resolution_m": 5000.0}),
        "outputs": sc.outputs.model_copy(update={"maps": False}),
    })


def _run_tiny(scenario: Path, out: Path, scheduler: str | None) -> None:
    from netsim.run import run_scenario

    run_scenario(_tiny_scenario(scenario), out, realisations=2, seed=11, scheduler=scheduler)


def _run_tiny_in_subprocess(scenario: Path, out: Path, threads: str) -> None:
    code = (
        "import sys; from pathlib import Path; import tests.test_distributed as t; "
        "t._run_tiny(Path(sys.argv[1]), Path(sys.argv[2]), None)"
    )
    env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, threads)}
    env.pop(SCHEDULER_ENV, None)
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code, str(scenario), str(out)], env=env,
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def _assert_same_outputs(a: Path, b: Path) -> None:
    """CSVs and the web map byte for byte, GeoTIFF bands bit for bit, summary.json equal
    except for where it ran."""
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    compared = 0
    for rel in files_a:
        if rel.suffix in (".csv", ".html", ".md"):
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
            compared += 1
        elif rel.suffix == ".tif":
            from netsim.rasters import read_raster

            ra, rb = read_raster(a / rel), read_raster(b / rel)
            assert ra.bands.keys() == rb.bands.keys()
            for band in ra.bands:
                assert ra.bands[band].tobytes() == rb.bands[band].tobytes(), f"{rel} {band}"
            compared += 1
        elif rel.name == "summary.json":
            ja, jb = json.loads((a / rel).read_text()), json.loads((b / rel).read_text())
            for key in ("executor", "elapsed_s", "created", "timing", "machine"):
                ja.pop(key, None)
                jb.pop(key, None)
            assert ja == jb
            compared += 1
    assert compared > 0


# ---------------------------------------------------------------------------
# sweeps


def _small_scenario(tmp: Path, stem: str, source: str) -> Path:
    """A copy of a shipped scenario on the 5 km grid without the web map."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    src = root / "scenarios" / source
    if not src.exists():
        pytest.skip(f"scenarios/{source} not available yet")
    data = yaml.safe_load(src.read_text())
    data["base_network"] = str((src.parent / data["base_network"]).resolve())
    data["grid"] = {**(data.get("grid") or {}), "resolution_m": 5000}
    data["outputs"] = {**(data.get("outputs") or {}), "web_map": False, "maps": False}
    data.pop("name", None)
    path = tmp / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.cluster
@pytest.mark.slow
def test_cluster_sweep_equals_in_process(dask_cluster, tmp_path):
    """`netsim sweep` of a scenario with changes: cluster tasks write what the local run writes."""
    pytest.importorskip("netsim.run")
    from netsim.sweep import sweep_scenarios

    path = _small_scenario(tmp_path, "retire", "retire_traffic.yaml")
    local = sweep_scenarios([path], tmp_path / "local", realisations=1, seed=5)
    remote = sweep_scenarios(
        [path], tmp_path / "cluster", realisations=1, seed=5, scheduler=dask_cluster
    )
    assert [r["scenario"] for r in local] == [r["scenario"] for r in remote] == ["retire"]
    _assert_same_outputs(tmp_path / "local" / "retire", tmp_path / "cluster" / "retire")
    index = json.loads((tmp_path / "cluster" / "sweep.json").read_text())
    assert index["executor"]["kind"] == "distributed"


def test_local_imap_yields_in_order_lazily():
    from netsim.distributed import get_executor

    calls = []

    def square(x):
        calls.append(x)
        return x * x

    seen = []
    with get_executor("sync") as ex:
        it = ex.imap(square, range(4), progress=lambda done, total: seen.append((done, total)))
        assert next(it) == 0 and calls == [0]
        assert list(it) == [1, 4, 9]
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
