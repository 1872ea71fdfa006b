"""``netsim run``: an observing-system simulation experiment (OSSE) of a scenario.

The baseline network and the scenario's changed network measure the *same*
synthetic truth realisations (common random numbers: :mod:`netsim.truth` keys
every random draw by seed, realisation, station id and location), so the
difference between the two networks' figures is the network's doing, not the
noise's.  For each realisation and network, the hourly readings at the stations
(:meth:`netsim.truth.TruthRealisation.sample_hourly`, with the scenario's outages
applied, :meth:`netsim.scenario.Scenario.mask_readings`) go through
:func:`netsim.measure.measure_network`: the statement's statistics, the kriged
maps, and their errors against the truth.  A scenario with ``readings:`` measures
the real year instead (:mod:`netsim.realdata`); one with ``truth: {condition_on:
READINGS}`` measures realisations of a truth conditioned on real readings
(:mod:`netsim.conditional`) the same way as the synthetic ones.

Realisations are independent tasks run by :func:`netsim.distributed.get_executor`
(in-process by default, shared with the process's helper workers,
:mod:`netsim.workers`; or on a dask cluster) and reduced in order by
:mod:`netsim.summary` to means and 90 % intervals.  Everything is written into a
temporary directory renamed to ``DIR`` at the end (:func:`netsim.atomic.output_directory`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netsim import __version__, timing
from netsim.atomic import output_directory
from netsim.blas import single_threaded_blas
from netsim.conditional import ConditionalWorld, ConditioningData
from netsim.distributed import get_executor
from netsim.grid import Grid
from netsim.measure import MAP_STATION_TYPES, NetworkMeasurement, NetworkOutcome, check_mappable
from netsim.memory import (
    collector_paused,
    drop_rebuildable_caches,
    rebuildable,
    release_free_heap,
)
from netsim.network import Network
from netsim.scenario import Scenario
from netsim.truth import TruthSettings, TruthWorld

__all__ = [
    "MAP_STATION_TYPES", "NetworkOutcome", "RunResult", "prepare_networks", "run_realisation",
    "run_scenario",
]

NETWORKS = ("baseline", "scenario")


# ----------------------------------------------------------------------------
# One realisation
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInputs:
    """What every realisation task needs (picklable, shipped once to each worker)."""

    scenario: Scenario
    networks: dict[str, Network]
    resolution_m: float
    conditioning: ConditioningData | None = None


def _measurements(inputs: RunInputs, truth: dict[str, np.ndarray], r: int, grid: Grid
                  ) -> dict[str, NetworkMeasurement]:
    """Each network's measurement of one truth realisation, before any readings."""
    return {name: NetworkMeasurement(inputs.scenario, network, grid, truth=truth.__getitem__, r=r)
            for name, network in inputs.networks.items()}


def _add_readings(inputs: RunInputs, measurements: dict[str, NetworkMeasurement],
                  readings: dict[str, Any], r: int) -> None:
    """One pollutant's readings of every network, the scenario's outages applied."""
    for name, measurement in measurements.items():
        own = readings.pop(name)
        if name == "scenario":
            with timing.stage("sampling"):
                own = inputs.scenario.mask_readings(own, inputs.networks[name], r)
        measurement.add(own)


@rebuildable
@lru_cache(maxsize=2)
def _world(resolution_m: float, settings_json: str) -> TruthWorld:
    """The truth world of a grid and settings, built once per process (its patterns are cached)."""
    settings = TruthSettings.model_validate_json(settings_json)
    return TruthWorld(Grid.for_beijing(resolution_m), settings)


def _truth_world(inputs: RunInputs) -> TruthWorld | ConditionalWorld:
    """The synthetic truth world, or the one conditioned on real readings."""
    if inputs.conditioning is not None:
        return ConditionalWorld(Grid.for_beijing(inputs.resolution_m), inputs.scenario.truth,
                                inputs.conditioning)
    return _world(inputs.resolution_m,
                  inputs.scenario.truth.model_dump_json(exclude={"condition_on"}))


class RealisationOutcomes(dict):
    """Network name → :class:`NetworkOutcome` of one realisation, with ``timing``: the
    seconds of its stages (:mod:`netsim.timing`), measured where it ran."""

    timing: dict[str, float]


@single_threaded_blas()
def run_realisation(r: int, inputs: RunInputs) -> RealisationOutcomes:
    """Measure truth realisation ``r`` with every network of ``inputs``.

    A pure function of its arguments (all randomness is keyed by the scenario
    seed and ``r``; BLAS on one thread, :mod:`netsim.blas`), so a dask worker
    returns bit for bit what the local run does, whatever the thread counts.
    The truth's annual fields are computed once and shared by every network, and a
    station common to several networks is sampled once.  The hours are sampled and
    measured one pollutant at a time, so a realisation holds one pollutant's hours.
    """
    grid = Grid.for_beijing(inputs.resolution_m)
    world = _truth_world(inputs)
    pollutants = list(inputs.scenario.pollutants)
    with timing.collecting() as times:
        realisation = world.realise(r)
        with timing.stage("truth"):
            truth = {p: realisation.annual_mean(p) for p in pollutants}
        measurements = _measurements(inputs, truth, r, grid)
        sampled = realisation.sample_networks_by_pollutant(inputs.networks,
                                                           pollutants=pollutants)
        while True:  # one pollutant's hours at a time
            with timing.stage("sampling"):
                readings = next(sampled, None)
            if readings is None:
                break
            _add_readings(inputs, measurements, readings[1], r)
            del readings
        outcome = RealisationOutcomes((name, measurement.finish())
                                      for name, measurement in measurements.items())
    outcome.timing = dict(times.seconds)
    release_free_heap()  # the hours' pages, for whatever runs next in this process
    return outcome


# ----------------------------------------------------------------------------
# The whole run
# ----------------------------------------------------------------------------


@dataclass
class RunResult:
    """What :func:`run_scenario` wrote and measured.

    Attributes
    ----------
    out_dir
        The run directory.
    summary
        The content of ``summary.json``.
    """

    out_dir: Path
    summary: dict


def prepare_networks(scenario: Scenario) -> tuple[dict[str, Network], pd.DataFrame | None, Any]:
    """Load the base network and build the scenario's network (validating every change).

    Returns
    -------
    networks
        ``{"baseline": base}`` plus ``"scenario"`` when the scenario changes
        the network (its changes, or its ``optimise`` section's new sites).
    change_table
        :func:`netsim.scenario.change_table` of base versus scenario (None without changes).
    optimisation
        :class:`netsim.optimise.Optimisation` when the scenario optimises new sites.

    Raises
    ------
    NetsimError
        Bad base network, unknown station ids, stations outside Beijing (located in the YAML).
    """
    from netsim.optimise import optimise_new_sites

    base = scenario.load_base_network()
    scenario.readings_path()  # a missing readings file fails before any work
    scenario.condition_paths()
    check_mappable(base, scenario, "baseline")
    networks = {"baseline": base}
    if scenario.optimise is not None:
        optimisation = optimise_new_sites(scenario, base)
        networks["scenario"] = optimisation.network
        return networks, optimisation.change_table, optimisation
    if scenario.has_changes:
        changed, table = scenario.build_network(base)
        check_mappable(changed, scenario, "scenario")
        networks["scenario"] = changed
        return networks, table, None
    return networks, None, None


def run_scenario(
    scenario: Scenario,
    out_dir: str | os.PathLike[str],
    *,
    realisations: int | None = None,
    seed: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    web_map: bool | None = None,
    prepared: tuple[dict[str, Network], pd.DataFrame | None, Any] | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Run a scenario against its baseline on the synthetic truth and write ``out_dir``.

    The output is guarded before anything is computed
    (:func:`netsim.atomic.output_directory`): a locked, foreign, read-only or
    full destination fails in seconds.

    Parameters
    ----------
    scenario
        A validated :class:`netsim.scenario.Scenario`.
    out_dir
        Run directory (written atomically: a temporary sibling renamed at the
        end).  It must be missing or empty, or a previous netsim output.
    realisations, seed
        Override the scenario's ``realisations`` and ``truth.seed``.
    scheduler
        Where realisations run (:func:`netsim.distributed.get_executor`):
        None = in-process (or ``$DASK_SCHEDULER_ADDRESS``), ``tcp://HOST:PORT``,
        ``local:N``.
    progress
        ``callback(done, total)`` after each realisation.
    web_map
        Write ``map.html`` (default: the scenario's ``outputs.web_map``).
    prepared
        The result of :func:`prepare_networks` when the caller already built it.
    overwrite
        Replace a previous netsim output at ``out_dir`` (never a folder holding
        files netsim did not write).

    Returns
    -------
    RunResult

    Raises
    ------
    OutputError
        ``out_dir`` cannot or must not be written (see :mod:`netsim.atomic`).
    """
    from netsim import workers
    from netsim.outputs import write_maps, write_run, write_summary
    from netsim.pictures import Pictures
    from netsim.summary import FieldMeans, mean_station_tables, summarise

    started = time.perf_counter()
    scenario = scenario.with_overrides(realisations=realisations, seed=seed)
    web_map = scenario.outputs.web_map if web_map is None else web_map
    with output_directory(out_dir, overwrite=overwrite) as tmp:
        networks, table, optimisation = prepared or prepare_networks(scenario)
        if scenario.readings is None or scenario.outputs.maps or "scenario" in networks:
            workers.warm(_picture_preparation(scenario, networks))  # helpers start meanwhile
        means = FieldMeans()
        times = timing.StageTimes()
        web_map_preparation = _WebMapPreparation()
        if scenario.readings is not None:
            with timing.collecting() as real_times:
                outcomes, executor_info = _real_outcomes(scenario, networks, means, progress)
            times.add(real_times.seconds)
        else:
            outcomes, executor_info = _simulated_outcomes(
                scenario, networks, means, scheduler, progress, times,
                idle=web_map_preparation.start if web_map else None)
        realisations_done = time.perf_counter()
        drop_rebuildable_caches()  # the truth world: no use to the outputs
        grid = Grid.for_beijing(scenario.grid.resolution_m)
        with collector_paused(), Pictures() as pictures:
            if scenario.outputs.maps:  # drawn by the workers while the run summarises
                write_maps(tmp, scenario, grid, networks, means, pictures)
            station_tables = {net: mean_station_tables(outcomes, net) for net in networks}
            summary = summarise(scenario, networks, outcomes, change_table=table,
                                optimisation=optimisation, station_tables=station_tables)
            release_free_heap()  # the realisations' tables, concatenated and reduced
            summary["netsim_version"] = __version__
            summary["executor"] = executor_info
            web_map_preparation.join()
            write_run(tmp, scenario, grid, networks, outcomes, means, summary,
                      change_table=table, pictures=pictures, station_tables=station_tables,
                      summary_file=False,  # written below, with the run's timing
                      web_map=web_map)
        times.add({"outputs": time.perf_counter() - realisations_done})
        summary["timing"] = _timing_record(times, started, realisations_done)
        write_summary(tmp, summary)
    return RunResult(out_dir=Path(out_dir), summary=summary)


class _WebMapPreparation:
    """:func:`netsim.webmap.prepare_web_map` (folium's import and the district layers,
    ~0.5 s on the 2-core EPYC) in a thread of the run's process, started when that process
    first waits for its helpers' realisations (:meth:`start`, the executor's ``idle``).

    The wait (0–0.45 s in traced runs of ``fyp14_expansion``) seldom holds all of it: the
    thread goes on beside the summary, while the helpers draw the maps queued meanwhile.
    Left to the web map, it lengthened the outputs, which the run's process writes alone.
    Started as the realisations begin, folium would add ~10 MB to the run's peak.
    ``map.html`` is the same either way: the layers are cached pure functions of the
    districts."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._prepare, name="netsim-web-map",
                                        daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the thread, if started (before the web map is written)."""
        if self._thread is not None:
            self._thread.join()

    @staticmethod
    def _prepare() -> None:
        from netsim.webmap import prepare_web_map

        with contextlib.suppress(Exception):  # the web map builds them again, and reports
            prepare_web_map()


def _picture_preparation(scenario: Scenario, networks: dict[str, Network]
                         ) -> tuple[str, tuple, dict] | None:
    """What the helper workers prepare for the run's maps while the realisations run:
    the layers and figures of its layouts and the station legends of its maps
    (:func:`netsim.maps.prepare_pictures`, :func:`netsim.outputs.map_legends`)."""
    from netsim.outputs import map_legends

    if not scenario.outputs.maps:
        return None
    return ("netsim.maps:prepare_pictures", (scenario.grid.resolution_m, scenario.lang),
            {"legends": map_legends(scenario, networks)})


def _timing_record(times: timing.StageTimes, started: float, realisations_done: float
                   ) -> dict[str, Any]:
    """``summary.json`` "timing": wall-clock seconds of the run and of its stages."""
    return {
        "total_s": round(time.perf_counter() - started, 3),
        "realisations_s": round(realisations_done - started, 3),
        "stages_s": times.rounded(),
        "note": "stages summed over realisations where they ran (several workers overlap); "
                "outputs = summary, files and maps",
    }


def _simulated_outcomes(scenario: Scenario, networks: dict[str, Network], means,
                        scheduler: str | None, progress: Callable[[int, int], None] | None,
                        times: timing.StageTimes, idle: Callable[[], None] | None = None,
                        ) -> tuple[list[dict[str, NetworkOutcome]], dict[str, Any]]:
    """Every realisation measured by every network, on the executor; fields folded into
    ``means`` one realisation at a time (memory independent of the realisations); the
    realisations' stage times added to ``times``; ``idle()`` once if this process waits
    for realisations computed elsewhere."""
    conditioning = None
    if scenario.truth.condition_on is not None:
        from netsim.realdata import load_conditioning_data

        with timing.collecting() as load_times, timing.stage("truth"):
            conditioning = load_conditioning_data(scenario, networks["baseline"])
        times.add(load_times.seconds)
    inputs = RunInputs(scenario=scenario, networks=networks,
                       resolution_m=scenario.grid.resolution_m, conditioning=conditioning)
    outcomes = []
    with get_executor(scheduler, progress=progress, helpers=True) as executor:
        for outcome in executor.imap(run_realisation, range(scenario.realisations), inputs,
                                     idle=idle):
            means.add(outcome)
            times.add(getattr(outcome, "timing", {}))
            outcomes.append(outcome)
        info = {"kind": executor.kind, "address": executor.address,
                "n_workers": executor.n_workers,
                "helper_workers": getattr(executor, "helper_workers", 0)}
    return outcomes, info


def _real_outcomes(scenario: Scenario, networks: dict[str, Network], means,
                   progress: Callable[[int, int], None] | None
                   ) -> tuple[list[dict[str, NetworkOutcome]], dict[str, Any]]:
    """The networks measured by the real readings: one set of figures, in-process."""
    from netsim.realdata import measure_real_readings

    if progress is not None:
        progress(0, 1)
    outcome = measure_real_readings(scenario, networks,
                                    Grid.for_beijing(scenario.grid.resolution_m))
    means.add(outcome)
    if progress is not None:
        progress(1, 1)
    return [outcome], {"kind": "in-process", "address": None, "n_workers": 1}
