"""One network's figures from its hourly readings: the statement's statistics, maps, errors.

:func:`measure_network` is the common core of every run: ``netsim run`` feeds it the
readings a network takes of a synthetic truth realisation (:mod:`netsim.run`), a run
on real readings feeds it the measured year (:mod:`netsim.realdata`).  For each
network it computes

1. the statement's statistics from the stations (:func:`netsim.stats.compute_statistics`:
   HJ 663 validity, city/district/group means, AQI day counts);
2. an annual-mean map per pollutant kriged from the map stations
   (:data:`MAP_STATION_TYPES`) on the grid, with the kriging standard deviation and
   a leave-one-out cross-validation of the map at those stations;
3. when the truth is known: its area means and the map's error against it (bias,
   RMSE, coverage of the 90 % kriging interval), territory above the Grade II
   limit and the HJ 664 §5.1 representativeness test (urban stations of the
   built-up area, :data:`BUILT_UP_AREA`, against the truth there);
4. NetAssess station metrics (removal bias, area served).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from netsim.areas import AreaValues, area_values
from netsim.assessment import hj664_representativeness, station_metrics
from netsim.errors import ScenarioError, VariogramError
from netsim.geography import AREA_GROUPS, beijing_boundary
from netsim.grid import Grid
from netsim.instruments import StationErrors, annual_mean_error_variance
from netsim.kriging import cross_validate, krige
from netsim.network import MAP_STATION_TYPES, Network
from netsim.pollutants import POLLUTANT_NAMES, POLLUTANTS
from netsim.scenario import Scenario
from netsim.standards import AnnualRule, annual_validity, daily_means, limits, mda8
from netsim.stats import StatisticsBuilder
from netsim.timing import stage
from netsim.variogram import Variogram, fit_network_variogram

__all__ = ["MAP_STATION_TYPES", "NetworkMeasurement", "NetworkOutcome", "check_mappable",
           "measure_network"]

BUILT_UP_AREA = "central_urban"
"""Stand-in for Beijing's built-up area in the HJ 664 §5.1 test: the six central districts
(1,373 km², close to the ≈1,400 km² built-up area of ``standards.md`` §4.2).  The test
compares the urban stations inside it with the truth over its cells."""

Z90 = 1.6448536269514722
"""Half-width of the central 90 % interval of a standard normal (kriging coverage)."""


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
    held_out: pd.DataFrame | None = field(default=None, repr=False)
    """Runs on real readings: the scenario map's errors at the removed stations
    (:func:`netsim.realdata.held_out_errors`)."""


def check_mappable(network: Network, scenario: Scenario, which: str) -> None:
    """Refuse a network whose maps cannot be kriged: fewer than 3 map stations.

    Raises
    ------
    ScenarioError
        Naming the scenario file, the network and the fix.
    """
    n = int(np.isin(network.types, MAP_STATION_TYPES).sum())
    if n >= 3:
        return
    where = f"{scenario.source}: " if scenario.source is not None else ""
    raise ScenarioError(
        f"{where}the {which} network has {n} map station(s) ({', '.join(MAP_STATION_TYPES)}); "
        "its annual maps need at least 3: keep more stations, or add some (kind: add or "
        "sensors)")


def _station_annual_means(readings, pollutants, year: int, rule: AnnualRule | None = None
                          ) -> dict[str, np.ndarray]:
    """Annual mean of valid 24-h means per station (NaN where HJ 663 makes it invalid).

    Every pollutant, O3 and CO included, is mapped as the annual mean of its
    24-h means, the quantity the truth's daily fields hold, so map and truth
    are compared like with like (the statement's O3 and CO figures are
    percentiles, reported from the stations).
    """
    return {p: _annual_mean(daily_means(readings.values[p]), year, rule) for p in pollutants}


def _annual_mean(means: np.ndarray, year: int, rule: AnnualRule | None) -> np.ndarray:
    """Annual mean (n,) of the stations' 24-h means (n, days), NaN where HJ 663 makes it
    invalid."""
    validity = annual_validity(means, year, rule)
    ok = np.isfinite(means)
    with np.errstate(invalid="ignore", divide="ignore"):  # stations without a valid day
        mean = np.where(ok, means, 0.0).sum(axis=-1) / ok.sum(axis=-1)
    return np.where(validity.valid, mean, np.nan)


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

    The error model that simulated the readings (:mod:`netsim.instruments`), so
    the map accounts for exactly the error the stations carry:
    :func:`netsim.instruments.annual_mean_error_variance` over the valid hours.
    """
    valid_hours = np.isfinite(hourly).sum(axis=-1)
    return annual_mean_error_variance(StationErrors.of(network), annual, valid_hours)


SCALAR_COLUMNS = ["source", "area", "pollutant", "statistic", "value", "reason"]
"""Columns of :attr:`NetworkOutcome.scalars`; ``reason`` is ``""`` where ``value`` exists."""


@dataclass(frozen=True)
class _MapSetting:
    """What every pollutant's map of one network and realisation shares."""

    scenario: Scenario
    grid: Grid
    targets: np.ndarray
    map_stations: np.ndarray
    built_up_stations: np.ndarray
    built_up_cells: np.ndarray

    @classmethod
    def of(cls, scenario: Scenario, network: Network, grid: Grid) -> _MapSetting:
        built_up = np.isin(network.stations["district"].to_numpy(), AREA_GROUPS[BUILT_UP_AREA])
        return cls(
            scenario=scenario,
            grid=grid,
            targets=grid.targets(),
            map_stations=np.isin(network.types, MAP_STATION_TYPES),
            built_up_stations=(network.types == "urban") & built_up,
            built_up_cells=grid.area_mask(BUILT_UP_AREA)[grid.mask],
        )

    def limit(self, pollutant: str) -> float | None:
        """Grade II annual-mean limit (None for CO and O3, which have none)."""
        if pollutant in ("CO", "O3"):
            return None
        return limits(self.scenario.standard, 2).statistic_limit(pollutant, "annual_mean")


def _station_scalars(stats) -> pd.DataFrame:
    """The statement's figures from the stations (``source = stations``), with reasons."""
    frame = stats.by_area_raw[["area", "pollutant", "statistic", "value", "reason"]].copy()
    frame.insert(0, "source", "stations")
    return frame[SCALAR_COLUMNS]


def _scalar_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows ``(source, area, pollutant, statistic, value)`` of computed values."""
    return _rows_frame([(*row, "") for row in rows])


def _rows_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of :data:`SCALAR_COLUMNS` as a frame (``value`` float64)."""
    frame = pd.DataFrame(rows, columns=SCALAR_COLUMNS)
    frame["value"] = frame["value"].astype(float)
    return frame


def _territory(map_areas: AreaValues, limit: float | None, source: str) -> dict[str, float]:
    """Share of territory and districts above the Grade II annual limit of a field's areas."""
    if limit is None:
        return {}
    city = map_areas.area.index("city")
    districts = map_areas.mean[np.asarray(map_areas.kind) == "district"]
    return {f"share_above_limit_{source}": float(map_areas.share_above_limit[city]),
            f"districts_above_limit_{source}": float((districts > limit).sum())}


def _truth_errors(setting: _MapSetting, p: str, estimate: np.ndarray, std: np.ndarray,
                  truth: np.ndarray, station_values: np.ndarray) -> dict[str, float]:
    """The map against the truth: bias, RMSE, 90 % coverage and the HJ 664 test."""
    err = estimate - truth
    out = {
        "bias": float(np.mean(err)),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "coverage90": float(np.mean(np.abs(err) <= Z90 * std)),
    }
    urban = station_values[setting.built_up_stations & np.isfinite(station_values)]
    if urban.size:
        rep = hj664_representativeness(urban, truth[setting.built_up_cells])
        out |= {"hj664_mean_relative_error": float(rep.mean_relative_error),
                "hj664_pass": float(rep.passed)}
    return out


LOO_STATISTICS = ("loo_me", "loo_rmse", "loo_relative_rmse", "loo_msdr")
"""Leave-one-out cross-validation of a map at its stations (``source = error``):
mean error, RMSE, RMSE relative to the stations' mean (a share) and the mean
squared deviation ratio (ideal 1)."""


def _loo(xy: np.ndarray, values: np.ndarray, vg: Variogram, p: str) -> list[tuple]:
    """Leave-one-out rows of a map (NaN with the reason below 4 stations)."""
    if len(values) < 4:
        why = f"not computed: leave-one-out needs 4 map stations, {p} has {len(values)}"
        return [("error", "city", p, s, np.nan, why) for s in LOO_STATISTICS]
    cv = cross_validate(xy, values, vg)
    scores = (cv.me, cv.rmse, cv.rmse / float(np.mean(values)), cv.msdr)
    return [("error", "city", p, s, float(v), "")
            for s, v in zip(LOO_STATISTICS, scores, strict=True)]


@dataclass
class _PollutantMap:
    """One pollutant's kriged map of one network and realisation."""

    fields: dict[str, np.ndarray]
    variogram: dict
    rows: list[tuple]
    """Rows of :data:`SCALAR_COLUMNS`."""


MAP_ERROR_STATISTICS = ("bias", "rmse", "coverage90", "mean_std")


def _unmappable(p: str, n_stations: int) -> _PollutantMap:
    """No map: fewer than 3 map stations carry a valid annual mean (kriging needs 3)."""
    reason = (f"not computed: only {n_stations} map station(s) have a valid {p} annual mean "
              "(kriging needs 3)")
    rows = [("map", "city", p, "annual_mean", np.nan, reason)]
    rows += [("error", "city", p, s, np.nan, reason)
             for s in (*MAP_ERROR_STATISTICS, *LOO_STATISTICS)]
    return _PollutantMap(fields={}, variogram={}, rows=rows)


@dataclass(frozen=True)
class MapInputs:
    """What a pollutant's map is kriged from: the map stations with a valid annual mean
    (ordered by id, so the same stations give the same system), their values, their
    measurement-error variances and the variogram."""

    stations: np.ndarray
    xy: np.ndarray
    values: np.ndarray
    noise_variance: np.ndarray | None
    variogram: Variogram


def map_inputs(scenario: Scenario, network: Network, readings, annual: np.ndarray,
               map_stations: np.ndarray, p: str) -> MapInputs | None:
    """The kriging inputs of pollutant ``p``'s map (None below 3 stations)."""
    use = np.flatnonzero(map_stations & np.isfinite(annual))
    if use.size < 3:
        return None
    use = use[np.argsort(network.ids[use], kind="stable")]
    xy, v = network.xy[use], annual[use]
    noise = _annual_noise_variance(network, readings.values[p], annual)[use]
    return MapInputs(stations=use, xy=xy, values=v,
                     noise_variance=noise if np.any(noise > 0) else None,
                     variogram=_variogram_for(scenario, p, xy, v))


def krige_map(scenario: Scenario, inputs: MapInputs, targets: np.ndarray):
    """Krige a map's inputs at ``targets`` with the scenario's kriging settings."""
    drift = scenario.kriging.drift == "linear"
    return krige(inputs.xy, inputs.values, targets, inputs.variogram,
                 n_neighbours=scenario.kriging.n_neighbours, linear_drift=drift,
                 method="universal" if drift else "ordinary",
                 noise_variance=inputs.noise_variance)


def _map_pollutant(setting: _MapSetting, network: Network, readings, annual: np.ndarray,
                   truth: np.ndarray | None, p: str) -> _PollutantMap:
    """Krige the map stations' annual means of ``p``; check the map by leave-one-out and,
    when the truth is known, against it."""
    inputs = map_inputs(setting.scenario, network, readings, annual, setting.map_stations, p)
    if inputs is None:
        return _unmappable(p, int((setting.map_stations & np.isfinite(annual)).sum()))
    result = krige_map(setting.scenario, inputs, setting.targets)
    estimate = result.estimate
    std = np.sqrt(np.maximum(result.variance, 0.0))
    limit = setting.limit(p)
    map_areas = area_values(setting.grid, estimate, limit=limit)
    rows = [("map", a, p, "annual_mean", float(m))
            for a, m in zip(map_areas.area, map_areas.mean, strict=True)]
    errors = {"mean_std": float(np.mean(std)), **_territory(map_areas, limit, "map")}
    fields = {"estimate": estimate.astype(np.float32), "std": std.astype(np.float32)}
    if truth is not None:
        truth_areas = area_values(setting.grid, truth, limit=limit)
        rows += [("truth", a, p, "annual_mean", float(m))
                 for a, m in zip(truth_areas.area, truth_areas.mean, strict=True)]
        errors |= _truth_errors(setting, p, estimate, std, truth, annual)
        errors |= _territory(truth_areas, limit, "truth")
        fields["truth"] = truth.astype(np.float32)
    rows += [("error", "city", p, k, v) for k, v in errors.items()]
    rows = [(*row, "") for row in rows] + _loo(inputs.xy, inputs.values, inputs.variogram, p)
    return _PollutantMap(fields=fields, variogram=inputs.variogram.to_dict(), rows=rows)


def measure_network(
    scenario: Scenario, network: Network, readings, grid: Grid, *,
    truth: Callable[[str], np.ndarray] | None = None, r: int = 0,
) -> NetworkOutcome:
    """One network's figures from its readings: statistics, maps and their errors.

    Parameters
    ----------
    scenario
        The run's settings (pollutants, standard, city rule, validity rule, kriging).
    network
        The stations; ``readings`` must cover them.
    readings
        Hourly readings (simulated, or real with :mod:`netsim.realdata`).
    grid
        The map grid.
    truth
        ``truth(pollutant) -> (n_cells,)`` annual means of the truth on the grid, or
        None for real readings (the maps are then checked by leave-one-out only).
    r
        Realisation index (time-resolved maps are made for the first ones).

    Returns
    -------
    NetworkOutcome
    """
    measurement = NetworkMeasurement(scenario, network, grid, truth=truth, r=r)
    measurement.add(readings)
    return measurement.finish()


class NetworkMeasurement:
    """:func:`measure_network` one pollutant at a time.

    :meth:`add` takes readings of some pollutants (a run gives one at a time,
    :meth:`netsim.truth.TruthRealisation.sample_networks_by_pollutant`) and reduces
    them at once to what the outcome needs: the statistics' daily values, the
    annual-mean map and, for time-resolved maps, the map stations' daily series.
    The caller can then drop the hours: 535 stations hold 38 MB of them per pollutant.
    :meth:`finish` adds what needs every pollutant (the AQI, the time-resolved maps,
    the station metrics).  The outcome does not depend on the order of the pollutants.
    Parameters as :func:`measure_network`.
    """

    def __init__(self, scenario: Scenario, network: Network, grid: Grid, *,
                 truth: Callable[[str], np.ndarray] | None = None, r: int = 0) -> None:
        self._scenario, self._network, self._grid = scenario, network, grid
        self._truth = truth
        self._setting = _MapSetting.of(scenario, network, grid)
        self._statistics: StatisticsBuilder | None = None
        self._maps: dict[str, _PollutantMap] = {}
        self._daily: dict[str, np.ndarray] = {}
        self._steps: dict[str, tuple[np.ndarray, Variogram]] | None = (
            {} if scenario.outputs.time_resolved != "none"
            and r < scenario.outputs.time_resolved_realisations else None)

    def add(self, readings) -> None:
        """Fold in hourly readings (:class:`netsim.readings.HourlyReadings`) of pollutants
        not yet added; they must cover the network's stations."""
        if list(readings.station_ids) != list(self._network.ids):
            readings = readings.select(self._network.ids)
        if self._statistics is None:
            sc = self._scenario
            self._statistics = StatisticsBuilder(
                self._network, readings.year, standard=sc.standard, city_rule=sc.city_rule,
                annual_rule=sc.annual_rule, source=readings.source)
        for p in POLLUTANT_NAMES:
            if p in readings.values:
                self._add_pollutant(readings, p)

    def _add_pollutant(self, readings, p: str) -> None:
        hourly = readings.values[p]
        with stage("statistics"):
            daily = self._statistics.add(p, hourly)
            if p not in self._scenario.pollutants:
                return
            means = daily_means(hourly) if p == "O3" else daily  # O3's daily is its MDA8
            annual = _annual_mean(means, self._scenario.year, self._scenario.annual_rule)
        with stage("kriging"):
            truth = None if self._truth is None else np.asarray(self._truth(p), dtype=float)
            self._maps[p] = _map_pollutant(self._setting, self._network, readings, annual,
                                           truth, p)
            if self._steps is not None:
                self._steps[p] = _time_steps(self._scenario, self._network, readings,
                                             self._setting.map_stations, p)
        with stage("metrics"):
            if p == "O3" and self._statistics.o3_limit != 160.0:  # mda8's default limit
                daily = mda8(hourly).values
            self._daily[p] = daily.T

    def finish(self) -> NetworkOutcome:
        """The :class:`NetworkOutcome` of the readings added."""
        if self._statistics is None:
            raise ScenarioError("NetworkMeasurement.finish: no readings were added")
        pollutants = list(self._scenario.pollutants)
        with stage("statistics"):
            stats = self._statistics.finish()
        with stage("kriging"):
            maps = [self._maps[p] for p in pollutants]
            frames = [_station_scalars(stats),
                      _rows_frame([row for mapped in maps for row in mapped.rows])]
            time_resolved = None
            if self._steps is not None:
                time_resolved = _time_resolved_maps(
                    self._scenario, self._network, self._setting.map_stations, self._grid,
                    {p: self._steps[p] for p in pollutants})
                frames.append(_time_resolved_scalars(self._grid, time_resolved))
        with stage("metrics"):
            metrics = station_metrics(self._network, {p: self._daily[p] for p in pollutants},
                                      beijing_boundary())
        return NetworkOutcome(
            scalars=pd.concat(frames, ignore_index=True),
            by_station=stats.by_station_raw.copy(),
            station_metrics=metrics,
            fields={p: m.fields for p, m in zip(pollutants, maps, strict=True) if m.fields},
            variograms={p: m.variogram for p, m in zip(pollutants, maps, strict=True)
                        if m.fields},
            time_resolved=time_resolved,
        )


def _time_resolved_scalars(grid: Grid, bands: dict[str, np.ndarray]) -> pd.DataFrame:
    """Area means of the day counts of the time-resolved maps (``source = map_time_resolved``)."""
    rows = []
    for name, band in bands.items():
        if name.endswith(("days_above_limit", "aqi_days_meeting_standard")):
            pollutant, statistic = _band_key(name)
            means = area_values(grid, band)
            rows += [("map_time_resolved", a, pollutant, statistic, float(v))
                     for a, v in zip(means.area, means.mean, strict=True)]
    return _scalar_frame(rows)


def _band_key(band: str) -> tuple[str, str]:
    """``pm25_days_above_limit`` → ("PM2.5", "days_above_limit"); ``aqi_…`` → ("AQI", "…")."""
    slug, _, statistic = band.partition("_")
    if slug == "aqi":
        return "AQI", statistic
    return next(p.name for p in POLLUTANTS.values() if p.slug == slug), statistic


def _map_station_ids(network: Network, map_mask: np.ndarray) -> np.ndarray:
    """The map stations' ids, sorted (the same stations give the same systems)."""
    ids = network.ids[map_mask]
    return ids[np.argsort(ids, kind="stable")]


def _time_steps(scenario: Scenario, network: Network, readings, map_mask: np.ndarray, p: str
                ) -> tuple[np.ndarray, Variogram]:
    """The map stations' series (T, n) of pollutant ``p`` for its time-resolved maps, and
    its variogram, fitted to the pooled daily (hourly) values, not to the annual means
    (their sill differs)."""
    ids = _map_station_ids(network, map_mask)
    hourly = readings.select(ids).values[p]
    step = scenario.outputs.time_resolved
    if step == "day":  # daily steps: 24-h means, MDA8 for O3 (netsim.timeseries.STEPS)
        hourly = mda8(hourly).values if p == "O3" else daily_means(hourly)
    series = np.ascontiguousarray(hourly.T)  # (T, n)
    xy = network.xy[network.index_of(ids)]
    return series, _fit_variogram(scenario, xy, series, f"the {p} {step}-step variogram fit",
                                  "set outputs.time_resolved: none")


def _time_resolved_maps(scenario: Scenario, network: Network, map_mask: np.ndarray, grid: Grid,
                        steps: dict[str, tuple[np.ndarray, Variogram]]) -> dict[str, np.ndarray]:
    """Krige every day (or hour) of the map stations' series (:func:`_time_steps`);
    per-cell annual statistics."""
    from netsim.timeseries import annual_statistics

    ids = _map_station_ids(network, map_mask)
    xy = network.xy[network.index_of(ids)]
    maps = annual_statistics(xy, {p: series for p, (series, _) in steps.items()},
                             grid.targets(), {p: vg for p, (_, vg) in steps.items()},
                             step=scenario.outputs.time_resolved, year=scenario.year,
                             standard=scenario.standard,
                             n_neighbours=scenario.kriging.n_neighbours)
    return {name: np.asarray(band, dtype=np.float32) for name, band in maps.items()}
