"""A truth conditioned on real readings: conditional simulation of a measured year.

A scenario with ``truth: {condition_on: READINGS}`` replaces the synthetic truth of
:mod:`netsim.truth` by realisations that *are* the real year at the stations that
measured it and are geostatistically simulated between them, so ``add``,
``relocate`` and ``sensors`` changes work on a real year ("had there been a station
here in 2015, what would its statistics have been?").

Model
-----
For pollutant ``p``, hour ``t`` and point ``x`` (EPSG:32650 metres) realisation ``r``
of the truth is (µg/m³, CO mg/m³)::

    c_p(t, x) = L_p(x) · V[Σ_i w_i(x) n_{p,i}(t)]

* ``n_{p,i}(t)``: station ``i``'s hourly series of the real readings divided by its
  annual mean (mean exactly 1), its missing hours filled first (:func:`_complete`):
  from the other stations' normalised values at that hour, weighted by the
  mixing weights of station ``i`` from them, then, for hours no station measured,
  linearly in time.  The normalised series carry the year's seasonality, episodes,
  diurnal cycle and the O3/PM anticorrelation.
* ``w_i(x)``: the *mixing weights*, ordinary-kriging weights of ``x`` from the
  stations under one exponential variogram fitted to the standardised log annual
  means of all pollutants pooled (:func:`netsim.variogram.fit_network_variogram`),
  negative weights set to 0 and the rest renormalised to sum 1.  The same weights
  serve every pollutant, so the cross-pollutant coherence of the real stations
  holds everywhere; at a station the weights are a Kronecker delta.  In each
  realisation every weight is multiplied by ``exp(σ g_i(x))`` (σ = :data:`WEIGHT_LOG_SD`,
  ``g_i`` a unit Gaussian field per station with the mixing variogram's range) and
  renormalised: which neighbours a place resembles is itself uncertain.
* ``V``: variance restoration (:func:`_restored`).  A mix of imperfectly correlated
  series is smoother than each of them, which would understate the peaks (p95, MDA8,
  days over a limit) between stations; ``V[m] = 1 + κ (m − 1)`` with κ² the weighted
  mean of the stations' variances over the mix's variance (κ = 1 at a station), floored
  at 0 and renormalised to mean 1.  So the annual mean of ``c_p`` at ``x`` is
  ``L_p(x)`` exactly.
* ``L_p(x) = exp(Z_p(x))``: the annual-mean level, a conditional Gaussian simulation
  of the log annual means (Journel & Huijbregts 1978, conditioning by kriging):
  ``Z = Z_u + Σ_i λ_i (y_i − Z_u(x_i))`` with ``y_i`` the log annual means of the
  stations, ``Z_u`` an unconditional Gaussian field with the exponential variogram
  fitted to the ``y_i`` (its partial sill a randomisation-method field,
  :class:`netsim.truth_fields.SpectralField`, its nugget a second field of
  :data:`NUGGET_SCALE_M` correlation length) and ``λ`` the ordinary-kriging weights
  of that variogram.  At a station ``Z = y_i``, so ``L_p = `` its annual mean.

The grid fields of a run (annual means on the grid) are ``L_p`` at the cell centres.

Stations of a network
---------------------
A network station with the id, position (within :data:`SAME_PLACE_M`) and instrument
class of a station of the readings reads the real readings, unchanged (their own
instrument error and missing hours are part of them).  Any other station — added,
relocated, a sensor, a network station without readings — reads ``c_p`` at its
position with its instrument's error and missing hours (:mod:`netsim.instruments`,
switched off by ``truth.measurement_error``/``truth.missing_data``).

Kerbside: the level field is the background.  A simulated ``traffic`` station reads
``(L_p(x) + k_p) · V[…]`` (O3: ``L_p(x) · f``) with the kerbside increment ``k_p`` and
O3 factor ``f`` of the truth's calibration (``truth.calibration``; the 2020
calibration's: NO2 +7.5 µg/m³, CO +0.11 mg/m³, PM and SO2 none, O3 × 0.85), as a
traffic station of the synthetic truth does.  A real traffic station keeps its
readings but conditions the field with its background level (its annual mean minus
``k_p``, O3 divided by ``f``); one whose background would fall below
:data:`KERB_MIN_SHARE` of its level does not condition that pollutant.

A station conditions pollutant ``p`` when it has readings for at least
:data:`MIN_COVERAGE` of the year's hours; at least :data:`MIN_CONDITIONING_STATIONS`
must, per pollutant, and every one must lie inside Beijing.

Random numbers
--------------
The fields are drawn from ``SeedSequence([seed, r, TAG, pollutant key, k])`` and a
station's instrument draws from ``(seed, r, TAG, station key, location, pollutant)``
(CRC-32 keys as in :mod:`netsim.truth`), so realisation ``r`` depends only on the
seed, ``r`` and the readings — not on the executor, worker or thread count.

References
----------
Journel, A. G. and Huijbregts, C. J. (1978) *Mining Geostatistics*, §V.C
(conditional simulation by kriging of the residuals).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from netsim.conditional_kernels import point_field_serial
from netsim.errors import ScenarioError
from netsim.instruments import StationErrors
from netsim.readings import HourlyReadings
from netsim.truth import KerbParameters, _key, _location_key, _mask_columns, _rng
from netsim.truth_fields import ORIGIN_XY, SpectralField
from netsim.variogram import Variogram, fit_network_variogram

__all__ = [
    "MIN_CONDITIONING_STATIONS", "ConditionalRealisation", "ConditionalWorld",
    "ConditioningData", "background_level", "conditioning_data", "kerbside_level",
    "mixing_weights", "ordinary_kriging_weights",
]

MIN_CONDITIONING_STATIONS = 10
"""Fewest stations with readings of a pollutant the truth can be conditioned on
(:data:`netsim.variogram.MIN_STATIONS_FOR_FIT`: fewer give no usable variogram)."""

MIN_COVERAGE = 0.5
"""Share of the year's hours a station must have measured to condition a pollutant."""

SAME_PLACE_M = 1.0
"""A network station within this distance (metres) of a real one is at its place."""

NUGGET_SCALE_M = 200.0
"""Correlation length (m) of the field carrying the variogram's nugget."""

FIELD_MODES = 512
"""Modes of each randomisation-method field."""

WEIGHT_LOG_SD = 1.0
"""Log standard deviation of the random factor on each mixing weight."""

KERB_MIN_SHARE = 0.5
"""A real traffic station conditions a pollutant with its background level (annual mean
minus the kerbside increment) only when that is at least this share of its level."""

_TAG_LEVEL = 21
_TAG_NUGGET = 22
_TAG_INSTRUMENT = 23
_TAG_OUTAGE = 24
_TAG_WEIGHTS = 25


# ----------------------------------------------------------------------------
# Kriging weights (pure)
# ----------------------------------------------------------------------------


def ordinary_kriging_weights(station_xy: np.ndarray, target_xy: np.ndarray,
                             variogram: Variogram) -> np.ndarray:
    """Ordinary-kriging weights (n_targets, n_stations) of targets from stations.

    Solves the OK system in covariance form (weights sum to 1).  A target within
    :data:`SAME_PLACE_M` of a station gets that station's Kronecker delta.
    """
    station_xy = np.asarray(station_xy, float).reshape(-1, 2)
    target_xy = np.asarray(target_xy, float).reshape(-1, 2)
    n = len(station_xy)
    lhs = np.ones((n + 1, n + 1))
    lhs[:n, :n] = variogram.covariance(_distances(station_xy, station_xy))
    lhs[n, n] = 0.0
    rhs = np.ones((n + 1, len(target_xy)))
    dist = _distances(station_xy, target_xy)
    rhs[:n] = variogram.covariance(dist)
    weights = _rows_times(rhs.T, np.linalg.inv(lhs)[:n].T)
    nearest = dist.argmin(axis=0) if n else np.zeros(0, int)
    at_station = dist.min(axis=0) <= SAME_PLACE_M if n else np.zeros(0, bool)
    weights[at_station] = 0.0
    weights[np.flatnonzero(at_station), nearest[at_station]] = 1.0
    return weights


def _rows_times(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` with each row of the result summed in a fixed order, whatever the other
    rows (no BLAS blocking): a station reads the same in every network it belongs to."""
    return np.einsum("nk,km->nm", a, b)


def mixing_weights(station_xy: np.ndarray, target_xy: np.ndarray,
                   variogram: Variogram) -> np.ndarray:
    """Non-negative weights (n_targets, n_stations) summing to 1: the OK weights with
    the negative ones set to 0, renormalised."""
    w = np.clip(ordinary_kriging_weights(station_xy, target_xy, variogram), 0.0, None)
    return w / w.sum(axis=1, keepdims=True)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances, metres."""
    return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])


# ----------------------------------------------------------------------------
# The conditioning data
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditioningData:
    """The real readings a truth is conditioned on, prepared once (picklable).

    Attributes
    ----------
    source
        What the readings are (for reports).
    station_ids, xy, instruments
        The stations with readings (n,), their positions (n, 2) EPSG:32650 metres
        and instrument class names.
    year
        The readings' year.
    readings
        Pollutant → real hourly readings (n, n_hours), NaN = missing.
    normalised
        Pollutant → complete hourly series divided by their annual mean (n, n_hours).
    level
        Pollutant → annual mean of the complete series (n,), NaN where the station
        does not condition the pollutant (coverage below :data:`MIN_COVERAGE`).
    level_variogram
        Pollutant → exponential variogram of the log annual means.
    mixing_variogram
        Exponential variogram of the standardised log annual means, pollutants pooled.
    traffic, kerb
        Which stations are ``traffic`` stations (n,) and the kerbside increment (None:
        no kerbside effect); ``level`` and the variograms are then of the background.
    """

    source: str
    station_ids: np.ndarray
    xy: np.ndarray
    instruments: np.ndarray
    year: int
    readings: dict[str, np.ndarray]
    normalised: dict[str, np.ndarray]
    level: dict[str, np.ndarray]
    level_variogram: dict[str, Variogram]
    mixing_variogram: Variogram
    traffic: np.ndarray | None = None
    kerb: KerbParameters | None = None

    @property
    def n_hours(self) -> int:
        return next(iter(self.readings.values())).shape[1]

    def conditioning(self, pollutant: str) -> np.ndarray:
        """Boolean mask (n,) of the stations conditioning ``pollutant``."""
        return np.isfinite(self.level[pollutant])


def conditioning_data(readings: HourlyReadings, network: Any, pollutants: list[str],
                      source: str, field: str = "truth.condition_on",
                      kerb: KerbParameters | None = None) -> ConditioningData:
    """Prepare real readings of ``network``'s stations for conditioning (``kerb``: the
    kerbside increment of traffic stations, module docstring; None for none).

    Raises
    ------
    ScenarioError
        Fewer than :data:`MIN_CONDITIONING_STATIONS` stations measured a pollutant, or a
        station with readings lies outside Beijing (the message names ``field``).
    """
    from netsim.geography import inside_beijing

    values = {p: np.asarray(readings.values[p], float) for p in pollutants}
    measured = np.stack([np.isfinite(v).any(axis=1) for v in values.values()]).any(axis=0)
    st = network.stations.iloc[np.flatnonzero(measured)]
    xy = np.column_stack([np.asarray(st["x"], float), np.asarray(st["y"], float)])
    ids = np.asarray(st["station_id"], dtype=object).astype(str)
    outside = ~inside_beijing(xy[:, 0], xy[:, 1])
    if outside.any():
        raise ScenarioError(
            f"{field}: station {str(ids[outside][0])!r} with readings lies outside Beijing "
            f"(x={xy[outside][0, 0]:.0f}, y={xy[outside][0, 1]:.0f} m); fix its position in "
            "base_network or drop its readings")
    values = {p: v[measured] for p, v in values.items()}
    traffic = (np.asarray(st["type"], dtype=object).astype(str) == "traffic"
               if "type" in st else np.zeros(len(ids), bool))
    level = {p: background_level(_levels(v), traffic, kerb, p) for p, v in values.items()}
    for p, lv in level.items():
        if np.isfinite(lv).sum() < MIN_CONDITIONING_STATIONS:
            raise ScenarioError(
                f"{field}: only {int(np.isfinite(lv).sum())} stations measured {p} on at least "
                f"{MIN_COVERAGE:.0%} of the hours of {readings.year}; conditioning needs "
                f"{MIN_CONDITIONING_STATIONS} — give readings of more stations or drop {p} "
                "from pollutants")
    level_vg = {p: _log_variogram(xy, lv) for p, lv in level.items()}
    mixing_vg = _pooled_variogram(xy, level)
    normalised = {p: _complete(v, xy, mixing_vg) for p, v in values.items()}
    complete_level = {p: background_level(_complete_level(values[p], normalised[p], level[p]),
                                          traffic, kerb, p) for p in pollutants}
    return ConditioningData(
        source=source, station_ids=ids, xy=xy,
        instruments=np.asarray(st["instrument"], dtype=object).astype(str)
        if "instrument" in st else np.full(len(ids), "reference"),
        year=readings.year, readings=values, normalised=normalised, level=complete_level,
        level_variogram=level_vg, mixing_variogram=mixing_vg, traffic=traffic, kerb=kerb)


def background_level(level: np.ndarray, traffic: np.ndarray, kerb: KerbParameters | None,
                     pollutant: str) -> np.ndarray:
    """Annual means (n,) with the kerbside increment taken off the traffic stations'
    (:meth:`KerbParameters.background`); NaN where that leaves less than
    :data:`KERB_MIN_SHARE`."""
    if kerb is None or not np.any(traffic):
        return level
    background = kerb.background(level, traffic, pollutant)
    with np.errstate(invalid="ignore"):
        return np.where(background >= KERB_MIN_SHARE * level, background, np.nan)


def kerbside_level(level: np.ndarray, traffic: np.ndarray, kerb: KerbParameters | None,
                   pollutant: str) -> np.ndarray:
    """Background levels (n,) as traffic stations there read them
    (:meth:`KerbParameters.at_kerb`; unchanged without ``kerb``)."""
    if kerb is None or not np.any(traffic):
        return level
    return kerb.at_kerb(level, traffic, pollutant)


def _levels(values: np.ndarray) -> np.ndarray:
    """Mean of the measured hours (n,), NaN below :data:`MIN_COVERAGE` or not positive."""
    cover = np.isfinite(values).mean(axis=1)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(cover[:, None] > 0, values, 0.0), axis=1)
    return np.where((cover >= MIN_COVERAGE) & (mean > 0), mean, np.nan)


def _log_variogram(xy: np.ndarray, level: np.ndarray) -> Variogram:
    """Exponential variogram of the log levels (fitted where finite)."""
    ok = np.isfinite(level)
    return fit_network_variogram(xy[ok], np.log(level[ok]), model="exponential").variogram


def _pooled_variogram(xy: np.ndarray, level: dict[str, np.ndarray]) -> Variogram:
    """Exponential variogram of the standardised log levels, every pollutant's pairs pooled."""
    rows = []
    for lv in level.values():
        z = np.log(lv)
        rows.append((z - np.nanmean(z)) / np.nanstd(z))
    return fit_network_variogram(xy, np.stack(rows), model="exponential").variogram


def _complete(values: np.ndarray, xy: np.ndarray, mixing: Variogram) -> np.ndarray:
    """Normalised series (n, n_hours), mean 1, missing hours filled (module docstring)."""
    n = len(values)
    with np.errstate(invalid="ignore"):
        scale = np.nanmean(values, axis=1)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    norm = values / scale[:, None]
    filled = norm.copy()
    for i in range(n):
        others = np.delete(np.arange(n), i)
        w = mixing_weights(xy[others], xy[i:i + 1], mixing)[0]
        gap = ~np.isfinite(norm[i])
        if not gap.any():
            continue
        part = norm[others][:, gap]
        avail = np.isfinite(part)
        total = (w[:, None] * avail).sum(axis=0)
        mix = (w[:, None] * np.where(avail, part, 0.0)).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            filled[i, gap] = np.where(total > 0, mix / total, np.nan)
    for i in range(n):
        filled[i] = _interpolate_in_time(filled[i])
    return filled / filled.mean(axis=1, keepdims=True)


def _interpolate_in_time(series: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN hours (constant beyond the ends; ones if all NaN)."""
    ok = np.isfinite(series)
    if ok.all():
        return series
    if not ok.any():
        return np.ones_like(series)
    hours = np.arange(len(series))
    return np.interp(hours, hours[ok], series[ok])


def _complete_level(values: np.ndarray, normalised: np.ndarray, level: np.ndarray
                    ) -> np.ndarray:
    """Annual mean of the complete series (real hours kept, gaps filled): the level
    ``M`` with ``M · normalised`` equal to the readings where they exist."""
    with np.errstate(invalid="ignore"):
        ratio = np.nanmean(values / normalised, axis=1)
    return np.where(np.isfinite(level), ratio, np.nan)


# ----------------------------------------------------------------------------
# The world and its realisations
# ----------------------------------------------------------------------------


class ConditionalWorld:
    """The truth conditioned on :class:`ConditioningData` (see the module docstring).

    Parameters
    ----------
    grid
        :class:`netsim.grid.Grid` of the annual fields (None: points only).
    settings
        :class:`netsim.truth.TruthSettings` (``seed``, ``measurement_error``,
        ``missing_data`` are used).
    data
        The prepared real readings.
    """

    def __init__(self, grid: Any, settings: Any, data: ConditioningData) -> None:
        self.grid = grid
        self.settings = settings
        self.data = data
        self.year = data.year
        self.n_hours = data.n_hours

    @cached_property
    def _grid_targets(self) -> np.ndarray:
        if self.grid is None:
            raise ValueError("this conditional world has no grid; build it with a Grid")
        return np.asarray(self.grid.targets(), float)

    def realise(self, r: int) -> ConditionalRealisation:
        """Realisation ``r`` (non-negative int); depends only on the seed, ``r`` and the data."""
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
            raise ValueError(f"realisation index must be a non-negative integer, got {r!r}")
        return ConditionalRealisation(self, int(r))


class ConditionalRealisation:
    """One realisation of a :class:`ConditionalWorld`: the interface of
    :class:`netsim.truth.TruthRealisation` that :mod:`netsim.run` uses
    (:meth:`annual_mean`, :meth:`sample_networks`, :meth:`sample_hourly`)."""

    def __init__(self, world: ConditionalWorld, r: int) -> None:
        self.world = world
        self.r = r
        self.seed = world.settings.seed
        self._annual: dict[str, np.ndarray] = {}
        self._level_fields: dict[str, tuple[SpectralField, SpectralField]] = {}

    # ------------------------------------------------------------ the level field
    def _fields(self, p: str) -> tuple[SpectralField, SpectralField]:
        """The structured and nugget fields of ``p`` (drawn once per realisation)."""
        if p not in self._level_fields:
            self._level_fields[p] = self._draw_fields(p)
        return self._level_fields[p]

    def _draw_fields(self, p: str) -> tuple[SpectralField, SpectralField]:
        vg = self.world.data.level_variogram[p]
        key = _key(p)
        return (
            SpectralField.draw(_rng(self.seed, self.r, _TAG_LEVEL, key), vg.range / 3.0,
                               model="exponential", n_modes=FIELD_MODES),
            SpectralField.draw(_rng(self.seed, self.r, _TAG_NUGGET, key), NUGGET_SCALE_M,
                               model="exponential", n_modes=FIELD_MODES),
        )

    def _unconditional(self, p: str, xy: np.ndarray | None) -> np.ndarray:
        """``Z_u`` at points ``xy`` (n, 2), or at the grid cells when ``xy`` is None."""
        vg = self.world.data.level_variogram[p]
        structured, nugget = self._fields(p)
        at = _on_grid(self.world.grid) if xy is None else (lambda f: _at_points(f, xy))
        return np.sqrt(vg.psill) * at(structured) + np.sqrt(vg.nugget) * at(nugget)

    def level_at(self, xy: np.ndarray, pollutant: str) -> np.ndarray:
        """Simulated annual mean (n,) at points ``xy`` (n, 2), µg/m³ (CO mg/m³):
        equal to the conditioning stations' annual means at their positions."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        return self._conditioned(pollutant, xy, self._unconditional(pollutant, xy))

    def _conditioned(self, p: str, xy: np.ndarray, z_u: np.ndarray) -> np.ndarray:
        """exp(Z_u + λ·(y − Z_u(stations))) at ``xy`` given ``Z_u`` there."""
        data = self.world.data
        use = data.conditioning(p)
        weights = ordinary_kriging_weights(data.xy[use], xy, data.level_variogram[p])
        residual = np.log(data.level[p][use]) - self._unconditional(p, data.xy[use])
        return np.exp(z_u + _rows_times(weights, residual[:, None])[:, 0])

    def annual_mean(self, pollutant: str) -> np.ndarray:
        """Annual mean truth on the grid (n_cells,) float64, ``grid.targets()`` order
        (cached, read-only); :meth:`level_at` the cell centres (the fields summed on the
        lattice, equal to the point sums to ~1e-12)."""
        if pollutant not in self._annual:
            annual = self._conditioned(pollutant, self.world._grid_targets,
                                       self._unconditional(pollutant, None))
            annual.setflags(write=False)
            self._annual[pollutant] = annual
        return self._annual[pollutant]

    @cached_property
    def _weight_fields(self) -> list[SpectralField]:
        """One field per station perturbing its mixing weight (same for every pollutant)."""
        data = self.world.data
        return [SpectralField.draw(_rng(self.seed, self.r, _TAG_WEIGHTS, _key(str(sid))),
                                   data.mixing_variogram.range / 3.0, model="exponential",
                                   n_modes=FIELD_MODES)
                for sid in data.station_ids]

    def weights_at(self, xy: np.ndarray) -> np.ndarray:
        """This realisation's mixing weights (n, n_stations): the kriging mixing weights
        times ``exp(σ g_i(x))``, renormalised (σ = :data:`WEIGHT_LOG_SD`)."""
        data = self.world.data
        xy = np.asarray(xy, float).reshape(-1, 2)
        weights = mixing_weights(data.xy, xy, data.mixing_variogram)
        factor = np.exp(WEIGHT_LOG_SD * np.stack([_at_points(f, xy) for f in
                                                  self._weight_fields], axis=1))
        weights = weights * factor
        return weights / weights.sum(axis=1, keepdims=True)

    def hourly_truth_at(self, xy: np.ndarray, pollutant: str,
                        traffic: np.ndarray | None = None) -> np.ndarray:
        """Hourly truth (n, n_hours) at points: level × mix of the normalised series; with
        ``traffic`` (bool (n,)) the kerbside level at traffic stations."""
        data = self.world.data
        series = data.normalised[pollutant]
        weights = self.weights_at(xy)
        mix = _rows_times(weights, series)
        level = self.level_at(xy, pollutant)
        if traffic is not None:
            level = kerbside_level(level, np.asarray(traffic, bool), data.kerb, pollutant)
        return level[:, None] * _restored(mix, weights, series.var(axis=1))

    # ------------------------------------------------------------ networks
    def sample_hourly(self, network: Any, *, pollutants: list[str] | None = None,
                      measurement_error: bool | None = None, missing: bool | None = None
                      ) -> HourlyReadings:
        """Hourly readings of ``network`` measuring this realisation (module docstring)."""
        return self.sample_networks({"network": network}, pollutants=pollutants,
                                    measurement_error=measurement_error,
                                    missing=missing)["network"]

    def sample_networks(self, networks: dict[str, Any], *, pollutants: list[str] | None = None,
                        measurement_error: bool | None = None, missing: bool | None = None
                        ) -> dict[str, HourlyReadings]:
        """Hourly readings of several networks (name → readings); a station reads the same
        in every network it belongs to (same id, position and instrument)."""
        names, samplers = self._samplers(networks, pollutants, measurement_error, missing)
        return {name: self._readings(net, {p: samplers[name](p) for p in names})
                for name, net in networks.items()}

    def sample_networks_by_pollutant(
        self, networks: dict[str, Any], *, pollutants: list[str] | None = None,
        measurement_error: bool | None = None, missing: bool | None = None,
    ) -> Iterator[tuple[str, dict[str, HourlyReadings]]]:
        """:meth:`sample_networks` one pollutant at a time (the same values: every draw is
        keyed by its pollutant, outages by station): ``(pollutant, {name: readings})``."""
        names, samplers = self._samplers(networks, pollutants, measurement_error, missing)
        for p in names:
            yield p, {name: self._readings(net, {p: samplers[name](p)})
                      for name, net in networks.items()}

    def _readings(self, network: Any, values: dict[str, np.ndarray]) -> HourlyReadings:
        return HourlyReadings(station_ids=np.asarray(network.ids).astype(str),
                              year=self.world.year, values=values,
                              source=f"truth conditioned on {self.world.data.source} "
                                     f"seed={self.seed} r={self.r}")

    def _samplers(self, networks: dict[str, Any], pollutants: list[str] | None,
                  measurement_error: bool | None, missing: bool | None
                  ) -> tuple[list[str], dict[str, Callable[[str], np.ndarray]]]:
        """The pollutants to sample and, per network, ``pollutant -> (n, n_hours)`` values."""
        settings = self.world.settings
        err = settings.measurement_error if measurement_error is None else measurement_error
        miss = settings.missing_data if missing is None else missing
        names = list(self.world.data.readings) if pollutants is None else list(pollutants)
        return names, {name: self._network_sampler(net, bool(err), bool(miss))
                       for name, net in networks.items()}

    def _network_sampler(self, network: Any, err: bool, miss: bool
                         ) -> Callable[[str], np.ndarray]:
        """A network's hourly values of one pollutant; which stations are real, their
        draw keys and outages worked out once for every pollutant."""
        st = network.stations
        xy = np.column_stack([np.asarray(st["x"], float), np.asarray(st["y"], float)])
        real = _real_rows(self.world.data, network, xy)
        has = real >= 0
        sim = np.flatnonzero(~has)
        traffic = np.asarray(network.types) == "traffic"
        errors = StationErrors.of(network)
        keys = [(_key(str(s)), *_location_key(*xy[i])) for i, s in
                zip(sim, np.asarray(network.ids)[sim], strict=True)]
        lost = (_outages(self.seed, self.r, keys, [errors.classes[i] for i in sim],
                         self.world.n_hours) if miss else None)

        def values_of(p: str) -> np.ndarray:
            values = np.full((len(xy), self.world.n_hours), np.nan)
            values[has] = self.world.data.readings[p][real[has]]
            if sim.size:
                truth = self.hourly_truth_at(xy[sim], p, traffic[sim])
                values[sim] = _measured(truth, self.seed, self.r, p, keys, errors, sim, err, miss,
                                        lost)
            return values

        return values_of


def _restored(mix: np.ndarray, weights: np.ndarray, station_var: np.ndarray) -> np.ndarray:
    """Mixed normalised series (n, n_hours) with their variance restored to the weighted mean
    of the stations' variances (a mix of imperfectly correlated series is smoother than
    each): ``1 + κ (mix − 1)``, κ² = Σ w_i var_i / var(mix), floored at 0 and renormalised
    to mean 1 (κ = 1 at a station)."""
    kappa = np.sqrt(_rows_times(weights, station_var[:, None])[:, 0]
                    / np.maximum(mix.var(axis=1), 1e-300))
    out = np.maximum(1.0 + np.maximum(kappa, 1.0)[:, None] * (mix - 1.0), 0.0)
    return out / out.mean(axis=1, keepdims=True)


def _at_points(field: SpectralField, xy: np.ndarray) -> np.ndarray:
    """``field.at_points(xy)`` computed on one thread (same numbers)."""
    rel = np.asarray(xy, float).reshape(-1, 2) - np.asarray(ORIGIN_XY)
    out = np.empty(len(rel))
    k = np.asarray(field.k, float)
    point_field_serial(np.ascontiguousarray(rel[:, 0]), np.ascontiguousarray(rel[:, 1]),
                       np.ascontiguousarray(k[:, 0]), np.ascontiguousarray(k[:, 1]),
                       np.ascontiguousarray(field.z1, float),
                       np.ascontiguousarray(field.z2, float), out)
    return out


def _on_grid(grid: Any):
    """A function: a field's values at ``grid``'s cells (targets order), on the lattice."""
    mask = np.asarray(grid.mask)
    columns = _mask_columns(mask)
    xs, ys = np.asarray(grid.x_centres), np.asarray(grid.y_centres)
    return lambda field: field.on_lattice(xs, ys, columns=columns)[mask]


def _real_rows(data: ConditioningData, network: Any, xy: np.ndarray) -> np.ndarray:
    """Row of each network station in ``data`` when it is that real station (same id,
    place and instrument class), else -1."""
    st = network.stations
    ids = np.asarray(st["station_id"], dtype=object).astype(str)
    instr = (np.asarray(st["instrument"], dtype=object).astype(str) if "instrument" in st
             else np.full(len(ids), "reference"))
    index = {sid: i for i, sid in enumerate(data.station_ids)}
    rows = np.full(len(ids), -1, dtype=np.int64)
    for k, sid in enumerate(ids):
        i = index.get(sid)
        if i is not None and np.hypot(*(xy[k] - data.xy[i])) <= SAME_PLACE_M \
                and instr[k] == data.instruments[i]:
            rows[k] = i
    return rows


def _outages(seed: int, r: int, keys: list[tuple[int, int, int]], classes: list[Any],
             n_hours: int) -> np.ndarray:
    """Hours (n, n_hours) lost to multi-hour outages (all pollutants of a station)."""
    lost = np.zeros((len(keys), n_hours), dtype=bool)
    for row, (key, cls) in enumerate(zip(keys, classes, strict=True)):
        rng = _rng(seed, r, _TAG_OUTAGE, *key)
        for _ in range(rng.poisson(cls.outages_per_year * n_hours / 8760.0)):
            start = int(rng.integers(0, n_hours))
            length = int(rng.integers(cls.outage_hours[0], cls.outage_hours[1] + 1))
            lost[row, start:start + length] = True
    return lost


def _measured(truth: np.ndarray, seed: int, r: int, p: str, keys: list[tuple[int, int, int]],
              errors: StationErrors, rows: np.ndarray, err: bool, miss: bool,
              lost: np.ndarray | None) -> np.ndarray:
    """The truth as the stations' instruments read it: ``truth · gain · (1 + e ε)`` with
    ``gain = 1 + (b + u z)/100``; random missing hours and outages (NaN)."""
    out = truth.copy()
    for j, (key, i) in enumerate(zip(keys, rows, strict=True)):
        rng = _rng(seed, r, _TAG_INSTRUMENT, *key, _key(p))
        cls = errors.classes[i]
        gain = 1.0 + (errors.bias_pct[i] + errors.unit_bias_sd_pct[i] * rng.standard_normal()
                      ) / 100.0
        eps = rng.standard_normal(out.shape[1])
        drop = rng.random(out.shape[1]) < cls.missing_pct / 100.0
        if err:
            out[j] = np.maximum(out[j] * gain * (1.0 + errors.noise_pct[i] / 100.0 * eps), 0.0)
        if miss:
            out[j, drop | lost[j]] = np.nan
    return out
