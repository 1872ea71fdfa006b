"""``netsim run``: an observing-system simulation experiment (OSSE) of a scenario.

The baseline network and the scenario's changed network measure the *same*
synthetic truth realisations (common random numbers: :mod:`netsim.truth` keys
every random draw by seed, realisation, station id and location), so the
difference between the two networks' figures is the network's doing, not the
noise's.  For each realisation and network:

1. hourly readings at the stations (:meth:`netsim.truth.TruthRealisation.sample_hourly`),
   with the scenario's outages applied (:meth:`netsim.scenario.Scenario.mask_readings`);
2. the statement's statistics from the stations (:func:`netsim.stats.compute_statistics`:
   HJ 663 validity, city/district/group means, AQI day counts);
3. an annual-mean map per pollutant kriged from the map stations
   (:data:`MAP_STATION_TYPES`) on the grid, with the kriging standard deviation;
4. the truth's area means and the network's error against the truth (bias,
   RMSE, coverage of the 90 % kriging interval), territory above the Grade II
   limit, the HJ 664 §5.1 representativeness test (urban stations of the
   built-up area, :data:`BUILT_UP_AREA`, against the truth there), and NetAssess
   station metrics (removal bias, area served).

Realisations are independent tasks run by :func:`netsim.distributed.get_executor`
(in-process by default, or on a dask cluster) and reduced by
:mod:`netsim.summary` to means and 90 % intervals.  Everything is written into a
temporary directory renamed to ``DIR`` at the end (:func:`netsim.atomic.atomic_directory`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netsim import __version__
from netsim.areas import area_statistics
from netsim.assessment import hj664_representativeness, station_metrics
from netsim.atomic import atomic_directory
from netsim.distributed import get_executor
from netsim.errors import VariogramError
from netsim.geography import AREA_GROUPS, beijing_boundary
from netsim.grid import Grid
from netsim.kriging import krige
from netsim.network import MAP_STATION_TYPES, Network
from netsim.pollutants import POLLUTANTS
from netsim.scenario import Scenario
from netsim.standards import annual_validity, daily_means, limits, mda8
from netsim.stats import compute_statistics
from netsim.truth import INSTRUMENTS, TruthSettings, TruthWorld
from netsim.variogram import Variogram, fit_network_variogram

__all__ = [
    "MAP_STATION_TYPES", "NetworkOutcome", "RunResult", "prepare_networks", "run_realisation",
    "run_scenario",
]

# MAP_STATION_TYPES (imported above, re-exported): the map stations.  Each one's
# annual mean enters the kriging with its known measurement-error variance
# (_annual_noise_variance: the instrument class's unit-to-unit bias spread plus the
# hourly random error averaged over the valid hours), so low-cost sensors are
# down-weighted rather than treated as exact; their class bias (+10 % for "lowcost")
# is not corrected -- a planner does not know it.

BUILT_UP_AREA = "central_urban"
"""Stand-in for Beijing's built-up area in the HJ 664 §5.1 test: the six central districts
(1,373 km², close to the ≈1,400 km² built-up area of ``standards.md`` §4.2).  The test
compares the urban stations inside it with the truth over its cells."""

Z90 = 1.6448536269514722
"""Half-width of the central 90 % interval of a standard normal (kriging coverage)."""

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


@dataclass
class NetworkOutcome:
    """One network measuring one truth realisation.

    Attributes
    ----------
    scalars
        Long table ``source, area, pollutant, statistic, value`` (unrounded):
        ``source`` is ``stations`` (the statement's method), ``map`` (area means
        of the kriged map), ``truth`` (area means of the truth) or ``error``
        (map minus truth, coverage, territory above the limit, HJ 664 test).
    by_station
        ``station_id, pollutant, statistic, value, valid_days`` (unrounded).
    station_metrics
        ``station_id, pollutant, removal_bias, relative_removal_bias_pct, area_served_km2``.
    fields
        Pollutant name → dict of (n_cells,) float32 vectors ``estimate``, ``std``,
        ``truth`` in :meth:`netsim.grid.Grid.targets` order.
    variograms
        Pollutant name → fitted (or fixed) variogram as a dict.
    """

    scalars: pd.DataFrame
    by_station: pd.DataFrame
    station_metrics: pd.DataFrame
    fields: dict[str, dict[str, np.ndarray]] = field(repr=False)
    variograms: dict[str, dict] = field(default_factory=dict)
    time_resolved: dict[str, np.ndarray] | None = field(default=None, repr=False)
    """Per-cell annual statistics from time-resolved maps (:mod:`netsim.timeseries`)
    band name → (n_cells,), for the first ``outputs.time_resolved_realisations``."""


def _station_annual_means(readings, pollutants, year) -> dict[str, np.ndarray]:
    """Annual mean of valid 24-h means per station (NaN where HJ 663 makes it invalid).

    Every pollutant, O3 and CO included, is mapped as the annual mean of its
    24-h means, the quantity the truth's daily fields hold, so map and truth
    are compared like with like (the statement's O3 and CO figures are
    percentiles, reported from the stations).
    """
    out = {}
    for p in pollutants:
        daily = daily_means(readings.values[p])
        validity = annual_validity(daily, year)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(np.isfinite(daily), daily, np.nan), axis=-1)
        out[p] = np.where(validity.valid, mean, np.nan)
    return out


def _variogram_for(scenario: Scenario, pollutant: str, xy: np.ndarray, values: np.ndarray
                   ) -> Variogram:
    """The scenario's fixed variogram, or a Cressie-WLS fit to the station values.

    Raises
    ------
    VariogramError
        When the fit does not converge (the message suggests a fixed variogram).
    """
    fixed = scenario.kriging.variogram_for(pollutant)
    if fixed is not None:
        return Variogram(fixed.model, fixed.psill, fixed.range, fixed.nugget)
    return _fit_variogram(scenario, xy, values, f"the {pollutant} variogram fit",
                          f"set kriging.variograms.{pollutant} to fixed parameters")


def _fit_variogram(scenario: Scenario, xy: np.ndarray, values: np.ndarray, what: str,
                   fix: str) -> Variogram:
    """Fit of the scenario's model by :func:`netsim.variogram.fit_network_variogram`
    (the recipe ``netsim krige`` uses too); ``values`` (n,) or (T, n)."""
    fit = fit_network_variogram(xy, values, scenario.kriging.model).fit
    if not fit.success:
        raise VariogramError(
            f"scenario {scenario.name}: {what} did not converge ({fit.message}); {fix}")
    return fit.variogram


def _annual_noise_variance(network: Network, hourly: np.ndarray, annual: np.ndarray
                           ) -> np.ndarray:
    """Measurement-error variance of each station's annual mean (concentration²).

    ``(a · u/100)² + (a · e/100)² / N`` with ``a`` the measured annual mean,
    ``u`` the instrument class's unit-to-unit bias spread (``unit_bias_sd_pct``),
    ``e`` the hourly random error (the station's ``noise_pct`` when finite, else
    the class's) and ``N`` the station's valid hours (:class:`netsim.truth.InstrumentClass`).
    NaN where the annual mean is NaN.
    """
    classes = [INSTRUMENTS[name] for name in network.stations["instrument"].astype(str)]
    noise = np.array([c.noise_pct for c in classes])
    if "noise_pct" in network.stations:
        own = network.stations["noise_pct"].to_numpy(dtype=float)
        noise = np.where(np.isfinite(own), own, noise)
    unit = np.array([c.unit_bias_sd_pct for c in classes])
    hours = np.maximum(np.isfinite(hourly).sum(axis=-1), 1)
    return (annual * unit / 100.0) ** 2 + (annual * noise / 100.0) ** 2 / hours


def _rows(source: str, area: str, pollutant: str, values: dict[str, float]) -> list[tuple]:
    return [(source, area, pollutant, k, float(v)) for k, v in values.items()]


def _measure(
    inputs: RunInputs, world_realisation, network: Network, net_name: str, r: int, grid: Grid
) -> NetworkOutcome:
    scenario = inputs.scenario
    pollutants = list(scenario.pollutants)
    readings = world_realisation.sample_hourly(network, pollutants=pollutants)
    if net_name == "scenario":
        readings = scenario.mask_readings(readings, network, r)

    stats = compute_statistics(
        readings, network, standard=scenario.standard, city_rule=scenario.city_rule
    )
    rows: list[tuple] = [
        ("stations", a, p, s, float(v))
        for a, p, s, v in stats.by_area_raw[["area", "pollutant", "statistic", "value"]]
        .itertuples(index=False)
    ]
    by_station = stats.by_station_raw.copy()

    annual = _station_annual_means(readings, pollutants, scenario.year)
    std_limits = limits(scenario.standard, 2)
    map_mask = np.isin(network.types, MAP_STATION_TYPES)
    targets = grid.targets()
    fields: dict[str, dict[str, np.ndarray]] = {}
    variograms: dict[str, dict] = {}
    daily_for_metrics: dict[str, np.ndarray] = {}
    built_up_stations = (network.types == "urban") & np.isin(
        network.stations["district"].to_numpy(), AREA_GROUPS[BUILT_UP_AREA])
    built_up_cells = grid.area_mask(BUILT_UP_AREA)[grid.mask]
    for p in pollutants:
        values = annual[p]
        use = np.flatnonzero(map_mask & np.isfinite(values))
        use = use[np.argsort(network.ids[use], kind="stable")]  # same stations, same system
        xy, v = network.xy[use], values[use]
        vg = _variogram_for(scenario, p, xy, v)
        variograms[p] = vg.to_dict()
        noise_var = _annual_noise_variance(network, readings.values[p], values)[use]
        result = krige(xy, v, targets, vg, n_neighbours=scenario.kriging.n_neighbours,
                       linear_drift=scenario.kriging.drift == "linear",
                       method="universal" if scenario.kriging.drift == "linear" else "ordinary",
                       noise_variance=noise_var if np.any(noise_var > 0) else None)
        estimate = result.estimate
        std = np.sqrt(np.maximum(result.variance, 0.0))
        truth = np.asarray(world_realisation.annual_mean(p), dtype=float)
        fields[p] = {
            "estimate": estimate.astype(np.float32),
            "std": std.astype(np.float32),
            "truth": truth.astype(np.float32),
        }
        limit = std_limits.statistic_limit(p, "annual_mean") if p not in ("CO", "O3") else None
        map_areas = area_statistics(grid, estimate, limit=limit)
        truth_areas = area_statistics(grid, truth, limit=limit)
        for area, mean in zip(map_areas["area"], map_areas["mean"], strict=True):
            rows.append(("map", area, p, "annual_mean", float(mean)))
        for area, mean in zip(truth_areas["area"], truth_areas["mean"], strict=True):
            rows.append(("truth", area, p, "annual_mean", float(mean)))
        err = estimate - truth
        error_stats = {
            "bias": float(np.mean(err)),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "coverage90": float(np.mean(np.abs(err) <= Z90 * std)),
            "mean_std": float(np.mean(std)),
        }
        if limit is not None:
            city_map = map_areas.set_index("area").loc["city"]
            city_truth = truth_areas.set_index("area").loc["city"]
            district_rows = map_areas["kind"] == "district"
            error_stats |= {
                "share_above_limit_map": float(city_map["share_above_limit"]),
                "share_above_limit_truth": float(city_truth["share_above_limit"]),
                "districts_above_limit_map": float(
                    (map_areas.loc[district_rows, "mean"] > limit).sum()),
                "districts_above_limit_truth": float(
                    (truth_areas.loc[truth_areas["kind"] == "district", "mean"] > limit).sum()),
            }
        urban_values = values[built_up_stations & np.isfinite(values)]
        if urban_values.size:
            rep = hj664_representativeness(urban_values, truth[built_up_cells])
            error_stats |= {
                "hj664_mean_relative_error": float(rep.mean_relative_error),
                "hj664_pass": float(rep.passed),
            }
        rows += _rows("error", "city", p, error_stats)
        hourly = readings.values[p]
        daily_for_metrics[p] = (mda8(hourly).values if p == "O3" else daily_means(hourly)).T

    time_resolved = None
    if scenario.outputs.time_resolved != "none" and r < scenario.outputs.time_resolved_realisations:
        time_resolved = _time_resolved_maps(scenario, network, readings, map_mask, grid)
        for name, band in time_resolved.items():
            if name.endswith(("days_above_limit", "aqi_days_meeting_standard")):
                pollutant, statistic = _band_key(name)
                means = area_statistics(grid, band)
                rows += [("map_time_resolved", a, pollutant, statistic, float(v))
                         for a, v in zip(means["area"], means["mean"], strict=True)]
    scalars = pd.DataFrame(rows, columns=["source", "area", "pollutant", "statistic", "value"])
    return NetworkOutcome(
        scalars=scalars,
        by_station=by_station,
        station_metrics=station_metrics(network, daily_for_metrics, beijing_boundary()),
        fields=fields,
        variograms=variograms,
        time_resolved=time_resolved,
    )


def _band_key(band: str) -> tuple[str, str]:
    """``pm25_days_above_limit`` → ("PM2.5", "days_above_limit"); ``aqi_…`` → ("AQI", "…")."""
    slug, _, statistic = band.partition("_")
    if slug == "aqi":
        return "AQI", statistic
    return next(p.name for p in POLLUTANTS.values() if p.slug == slug), statistic


def _time_resolved_maps(scenario: Scenario, network: Network, readings, map_mask: np.ndarray,
                        grid: Grid) -> dict[str, np.ndarray]:
    """Krige every day (or hour) of the map stations' readings; per-cell annual statistics.

    The variogram of each pollutant is fitted to the pooled daily (hourly)
    values, not to the annual means (their sill differs).
    """
    from netsim.timeseries import annual_statistics

    ids = network.ids[map_mask]
    ids = ids[np.argsort(ids, kind="stable")]
    sub = readings.select(ids)
    xy = network.xy[network.index_of(ids)]
    step = scenario.outputs.time_resolved
    values, variograms = {}, {}
    for p in scenario.pollutants:
        hourly = sub.values[p]
        if step == "day":  # daily steps: 24-h means, MDA8 for O3 (netsim.timeseries.STEPS)
            hourly = mda8(hourly).values if p == "O3" else daily_means(hourly)
        series = hourly.T  # (T, n)
        values[p] = np.ascontiguousarray(series)
        variograms[p] = _fit_variogram(scenario, xy, series,
                                       f"the {p} {step}-step variogram fit",
                                       "set outputs.time_resolved: none")
    maps = annual_statistics(xy, values, grid.targets(), variograms, step=step,
                             year=scenario.year, standard=scenario.standard,
                             n_neighbours=scenario.kriging.n_neighbours)
    return {name: np.asarray(band, dtype=np.float32) for name, band in maps.items()}


@lru_cache(maxsize=2)
def _world(resolution_m: float, settings_json: str) -> TruthWorld:
    """The truth world of a grid and settings, built once per process (its patterns are cached)."""
    settings = TruthSettings.model_validate_json(settings_json)
    return TruthWorld(Grid.for_beijing(resolution_m), settings)


def run_realisation(r: int, inputs: RunInputs) -> dict[str, NetworkOutcome]:
    """Measure truth realisation ``r`` with every network of ``inputs``.

    A pure function of its arguments (all randomness is keyed by the scenario
    seed and ``r``), so a dask worker returns exactly what the local run does.
    """
    grid = Grid.for_beijing(inputs.resolution_m)
    world = _world(inputs.resolution_m, inputs.scenario.truth.model_dump_json())
    realisation = world.realise(r)
    return {
        name: _measure(inputs, realisation, network, name, r, grid)
        for name, network in inputs.networks.items()
    }


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
    networks = {"baseline": base}
    if scenario.optimise is not None:
        optimisation = optimise_new_sites(scenario, base)
        networks["scenario"] = optimisation.network
        return networks, optimisation.change_table, optimisation
    if scenario.has_changes:
        changed, table = scenario.build_network(base)
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
) -> RunResult:
    """Run a scenario against its baseline on the synthetic truth and write ``out_dir``.

    Parameters
    ----------
    scenario
        A validated :class:`netsim.scenario.Scenario`.
    out_dir
        Run directory (written atomically: a temporary sibling renamed at the end).
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

    Returns
    -------
    RunResult
    """
    from netsim.summary import FieldMeans, summarise, write_run

    scenario = scenario.with_overrides(realisations=realisations, seed=seed)
    networks, table, optimisation = prepared or prepare_networks(scenario)
    inputs = RunInputs(scenario=scenario, networks=networks,
                       resolution_m=scenario.grid.resolution_m)
    means = FieldMeans()
    outcomes = []
    with get_executor(scheduler, progress=progress) as executor:
        for outcome in executor.imap(run_realisation, range(scenario.realisations), inputs):
            means.add(outcome)  # keeps one running sum per field, not one field per realisation
            outcomes.append(outcome)
        executor_info = {"kind": executor.kind, "address": executor.address,
                         "n_workers": executor.n_workers}
    summary = summarise(scenario, networks, outcomes, change_table=table,
                        optimisation=optimisation)
    summary["netsim_version"] = __version__
    summary["executor"] = executor_info
    grid = Grid.for_beijing(scenario.grid.resolution_m)
    with atomic_directory(out_dir) as tmp:
        write_run(tmp, scenario, grid, networks, outcomes, means, summary, change_table=table)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default))
        if scenario.outputs.web_map if web_map is None else web_map:
            from netsim.webmap import build_web_map

            build_web_map(tmp, tmp / "map.html")
    return RunResult(out_dir=Path(out_dir), summary=summary)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
