"""The synthetic "true" Beijing: a seeded, calibrated year of the six pollutants.

netsim's scenario runs are observing-system simulation experiments: a network
measures a known truth, and its statistics and maps are compared with the
truth.  This module builds that truth.

Model
-----
For pollutant ``p``, day ``d`` and point ``x`` (EPSG:32650 metres) the daily
mean concentration (µg/m³, CO mg/m³) of realisation ``r`` is::

    c_p(d, x) = B_p(x) · L_p(x) · T_p(d) · A_p(d, x)

* ``B_p(x) = S_p(x) + R_p(x)``: the annual pattern.  ``S_p`` is a smooth
  surface through calibration *anchors* (the stations of the 2020 network plus a
  few mountain pseudo-anchors in the north and west), interpolated by a
  thin-plate spline with a linear trend in log space (so the large-scale
  south/south-east-high, north/north-west-low gradient is a trend and every
  anchor is honoured).  ``R_p`` is the roadside increment near the approximate
  major roads of :mod:`netsim.truth_roads` (``amplitude · exp(−d/decay)``;
  for O3 a multiplicative titration deficit).  Traffic stations add a
  station-level kerbside increment in :meth:`TruthRealisation.sample_hourly`.
* ``L_p(x) = exp(s_l z(x) − s_l²/2)``: a small-scale effect with mean 1, one unit
  normal ``z`` per location keyed by (seed, realisation, pollutant, location in
  whole metres), uncorrelated between locations (``AnomalyParameters.s_local``,
  fitted so that the 12 UCI sites' leave-one-out map error matches the real one,
  :mod:`netsim.realism`).
* ``T_p(d)``: the city-wide daily factor, normalised to mean 1 over the year:
  a seasonal cycle (heating-season particles, SO2, CO; summer O3), a regional
  stagnation index shared by the primary pollutants (AR(1) plus multi-day
  episodes that build up and end abruptly, more frequent in the heating season),
  pollutant-specific AR(1) noise and rare spring dust days (PM10).
* ``A_p(d, x)``: a multiplicative, spatially correlated anomaly with mean 1,
  ``exp(s₀ φ₀(x) − s₀²/2) · exp(s Σ_k a_k(d) φ_k(x) − s² v(x)/2)``, where
  ``φ₀ … φ_K`` are seeded unit-variance Gaussian random fields (randomisation
  method, :mod:`netsim.truth_fields`; evaluable at grid cells and stations
  alike), ``a_k(d)`` AR(1) daily coefficients with variance ``1/K`` (partly
  shared between pollutants) and ``v(x) = Σ_k φ_k(x)²/K`` their conditional
  variance — so ``E[A] = 1`` exactly and the mean over realisations reproduces
  the calibrated pattern.  ``φ₀`` is a persistent (annual) anomaly.

Hourly values exist only at stations (:meth:`TruthRealisation.sample_hourly`):
daily value × diurnal profile (O3 afternoon peak stronger in summer; NO2 and
CO rush hours; particles night-time maximum) × hourly AR(1) fluctuation
(keyed by location, so co-located instruments see the same truth), then
instrument error and missing hours (:mod:`netsim.instruments`, the one error model
shared with the kriging of ``netsim run``).

Random numbers
--------------
Everything is drawn from :class:`numpy.random.SeedSequence` entropy lists built
from ``(seed, r, tag, …)`` with string keys hashed by ``zlib.crc32`` (never
Python's salted ``hash``).  The truth of realisation ``r`` depends only on
``(seed, r)``; a station's hourly fluctuation only on ``(seed, r, location)``
and its measurement error and missing hours only on
``(seed, r, station_id, location)`` — so unchanged stations read identically in
baseline and scenario runs (common random numbers).

Memory
------
A run needs only the annual means of the truth on the grid (n_cells float64 per
pollutant), computed in one pass over the days without keeping the daily fields;
:meth:`TruthRealisation.daily` keeps them, (n_days, n_cells) float32 (≈ 24 MB per
pollutant on the 1 km grid), only when asked.  Hourly values are only made at stations.

Computation
-----------
The random fields, the daily fields and the stations' hourly readings are numba
kernels (:mod:`netsim.truth_kernels`) in float64, parallel over independent outputs
with every sum taken in a fixed order, so the numbers do not depend on BLAS or on
the thread count.  The stations' random streams are numpy's ``SeedSequence`` and
``PCG64`` streams rebuilt draw for draw inside the kernels (:mod:`netsim.truth_rng`).

References
----------
Beijing Ecology and Environment Statement 2020 (``beijing_2020_statement.md``)
for the calibration targets; ``standards.md`` §1–3 for the statistics the
calibration reproduces; GB 3095-2012 day definition (Beijing time).
"""

from __future__ import annotations

import calendar
import json
import math
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.interpolate import RBFInterpolator

from netsim.crs import lonlat_to_xy
from netsim.errors import ScenarioError
from netsim.instruments import INSTRUMENTS, InstrumentClass, StationErrors
from netsim.pollutants import POLLUTANT_NAMES, pollutant
from netsim.truth_fields import SpectralField
from netsim.truth_kernels import (
    ar1_filter,
    daily_field,
    hourly_readings,
    location_normals,
    outage_hours,
)
from netsim.truth_rng import entropy_words
from netsim.truth_roads import road_weight

__all__ = [
    "CALIBRATIONS",
    "INSTRUMENTS",
    "InstrumentClass",
    "TruthParameters",
    "TruthRealisation",
    "TruthSettings",
    "TruthWorld",
    "diurnal_profiles",
    "load_calibration",
]

ANCHORED: tuple[str, ...] = ("PM2.5", "NO2", "PM10", "SO2")
"""Pollutants whose anchor values are fitted individually (district values exist)."""

CITY_NORMALISERS: dict[str, float] = {"PM2.5": 38.0, "NO2": 29.0}
"""Published 2020 city means used to make the CO/O3 anchor rules dimensionless."""

CALIBRATIONS: dict[str, str] = {
    "beijing_2020": "calibration_2020.json",
    "calibration_2020": "calibration_2020.json",
}
"""Calibrations shipped in ``netsim/data`` (name -> file)."""


# ----------------------------------------------------------------------------
# Parameters (the calibration) and settings
# ----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Anchor(_Strict):
    """A point where the annual pattern is pinned (a station or a mountain pseudo-anchor)."""

    id: str
    lon: float
    lat: float
    group: str = Field(
        description="urban, border_south, border_north, border_east, background, mountain"
    )


class RoadParameters(_Strict):
    """Roadside increment ``amplitude · exp(−d/decay_m)`` (units of the pollutant)."""

    decay_m: float = 150.0
    amplitude: dict[str, float] = Field(
        default_factory=lambda: {"PM2.5": 2.0, "PM10": 5.0, "NO2": 15.0, "SO2": 0.0, "CO": 0.1}
    )
    o3_titration: float = Field(0.3, description="O3 deficit at the road, fraction of background")


class KerbParameters(_Strict):
    """Kerbside increment of ``traffic`` stations (added to the pattern at the station)."""

    pm25: float = 1.0
    no2: float = 10.0
    pm10_per_pm25: float = 2.0
    co_per_no2: float = 0.015
    so2: float = 0.0
    o3_factor: float = Field(0.85, description="multiplier of O3 at traffic stations")

    def increment(self, p: str) -> float:
        return {
            "PM2.5": self.pm25,
            "NO2": self.no2,
            "PM10": self.pm10_per_pm25 * self.pm25,
            "CO": self.co_per_no2 * self.no2,
            "SO2": self.so2,
            "O3": 0.0,
        }[p]

    def at_kerb(self, level: np.ndarray, traffic: np.ndarray, p: str) -> np.ndarray:
        """``level`` (n,) where ``traffic`` (bool (n,)) as a traffic station reads it: plus
        the increment of ``p`` (O3: times :attr:`o3_factor`)."""
        if p == "O3":
            return np.where(traffic, level * self.o3_factor, level)
        return np.where(traffic, level + self.increment(p), level)

    def background(self, level: np.ndarray, traffic: np.ndarray, p: str) -> np.ndarray:
        """The inverse of :meth:`at_kerb`: traffic stations' levels without their kerbside
        increment (O3: divided by :attr:`o3_factor`)."""
        if p == "O3":
            return np.where(traffic, level / self.o3_factor, level)
        return np.where(traffic, level - self.increment(p), level)


def _per_pollutant(values: dict[str, float]) -> Any:
    return Field(default_factory=lambda: dict(values))


class TemporalParameters(_Strict):
    """City-wide daily factor ``T_p(d)`` (log units unless stated)."""

    sigma_e: float = Field(0.95, description="sd of the AR(1) regional stagnation index")
    rho_e: float = Field(0.7, description="lag-1 correlation of the stagnation index")
    episode_rate_winter: float = Field(0.07, description="episode starts per day, mid-January")
    episode_rate_summer: float = Field(0.015, description="episode starts per day, mid-July")
    episode_amplitude: float = Field(0.5, description="mean peak of an episode (exponential)")
    episode_days: tuple[int, int] = (2, 6)
    seasonal_amplitude: dict[str, float] = _per_pollutant(
        {"PM2.5": 0.3, "PM10": 0.2, "NO2": 0.25, "SO2": 0.45, "CO": 0.35, "O3": 0.7}
    )
    winter_peak_day: float = Field(15.0, description="day of year of the heating-season maximum")
    o3_peak_day: float = Field(170.0, description="day of year of the O3 maximum")
    loading: dict[str, float] = _per_pollutant(
        {"PM2.5": 1.0, "PM10": 0.85, "NO2": 0.5, "SO2": 0.6, "CO": 0.85, "O3": 0.0}
    )
    o3_loading_summer: float = 0.1
    o3_loading_winter: float = -0.15
    sigma: dict[str, float] = _per_pollutant(
        {"PM2.5": 0.12, "PM10": 0.18, "NO2": 0.18, "SO2": 0.22, "CO": 0.12, "O3": 0.15}
    )
    rho: float = Field(0.5, description="lag-1 correlation of the pollutant-specific noise")
    dust_rate: float = Field(0.02, description="dust days per day in March–May")
    dust_pm10: float = Field(1.0, description="log enhancement of PM10 on a dust day")
    dust_pm25: float = Field(0.3, description="log enhancement of PM2.5 on a dust day")


class AnomalyParameters(_Strict):
    """Spatially correlated multiplicative anomalies ``A_p(d, x)``."""

    model: str = "exponential"
    n_basis: int = Field(6, ge=1, le=64)
    n_modes: int = Field(512, ge=16)
    len_daily_m: float = 40_000.0
    len_persistent_m: float = 25_000.0
    rho_coef: float = Field(0.6, description="lag-1 correlation of the daily coefficients")
    shared: float = Field(0.7, description="share of coefficient variance common to pollutants")
    s_daily: dict[str, float] = _per_pollutant(
        {"PM2.5": 0.25, "PM10": 0.28, "NO2": 0.3, "SO2": 0.35, "CO": 0.25, "O3": 0.15}
    )
    s_persistent: dict[str, float] = _per_pollutant(
        {"PM2.5": 0.04, "PM10": 0.04, "NO2": 0.05, "SO2": 0.05, "CO": 0.04, "O3": 0.03}
    )
    s_local: dict[str, float] = Field(
        default_factory=dict,
        description="log sd of the small-scale effect L_p(x), spatially uncorrelated "
        "(missing pollutant = 0, no effect)",
    )


class HourlyParameters(_Strict):
    """Hourly fluctuation at stations (log sd, AR(1) in hours) and O3 diurnal amplitude."""

    sigma: dict[str, float] = _per_pollutant(
        {"PM2.5": 0.15, "PM10": 0.2, "NO2": 0.2, "SO2": 0.25, "CO": 0.12, "O3": 0.12}
    )
    rho: float = 0.85
    o3_diurnal_winter: float = 0.45
    o3_diurnal_summer: float = 0.8


class TruthParameters(_Strict):
    """All parameters of the truth world (what a calibration file stores).

    ``values`` holds the anchor values of :data:`ANCHORED` pollutants, in the
    order of ``anchors``; CO and O3 follow from them (``co_level``, ``o3_level``):
    ``CO_a = co_level · (w PM2.5_a/38 + (1−w) NO2_a/29)`` and
    ``O3_a = o3_level · (NO2_a/29)^o3_no2_exponent`` (titration: less O3 where
    more NO2).
    """

    anchors: tuple[Anchor, ...]
    values: dict[str, tuple[float, ...]]
    co_level: float = 0.75
    co_pm25_weight: float = 0.6
    o3_level: float = 60.0
    o3_no2_exponent: float = -0.3
    pattern_clip: tuple[float, float] = (0.6, 1.1)
    roads: RoadParameters = Field(default_factory=RoadParameters)
    kerb: KerbParameters = Field(default_factory=KerbParameters)
    temporal: TemporalParameters = Field(default_factory=TemporalParameters)
    anomaly: AnomalyParameters = Field(default_factory=AnomalyParameters)
    hourly: HourlyParameters = Field(default_factory=HourlyParameters)

    def anchor_values(self, p: str) -> np.ndarray:
        """Anchor values (n_anchors,) of pollutant ``p`` (CO/O3 derived)."""
        if p in ANCHORED:
            return np.asarray(self.values[p], dtype=float)
        pm, no2 = self.anchor_values("PM2.5"), self.anchor_values("NO2")
        if p == "CO":
            w = self.co_pm25_weight
            return self.co_level * (
                w * pm / CITY_NORMALISERS["PM2.5"] + (1 - w) * no2 / CITY_NORMALISERS["NO2"]
            )
        if p == "O3":
            return self.o3_level * (no2 / CITY_NORMALISERS["NO2"]) ** self.o3_no2_exponent
        raise KeyError(p)


def _resolve_calibration(name: str) -> Path | Any:
    if name in CALIBRATIONS:
        return resources.files("netsim") / "data" / CALIBRATIONS[name]
    path = Path(name)
    if path.suffix.lower() == ".json" or path.exists():
        return path
    raise ScenarioError(
        f"truth.calibration: unknown calibration {name!r}; use one of "
        f"{', '.join(CALIBRATIONS)} or a path to a calibration .json file"
    )


def load_calibration(name: str = "beijing_2020") -> dict[str, Any]:
    """Read a calibration file (shipped name or path) as a dict.

    The file holds ``parameters`` (:class:`TruthParameters`), ``targets``,
    ``achieved``, ``script_version`` and provenance (written by
    ``python -m netsim.calibration``).

    Raises
    ------
    ScenarioError
        Unknown name, unreadable file or invalid parameters.
    """
    src = _resolve_calibration(name)
    try:
        text = src.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise ScenarioError(
            f"truth.calibration: cannot read {src} ({exc.strerror or exc}); give an existing "
            "calibration .json or run `python -m netsim.calibration`"
        ) from None
    try:
        data = json.loads(text)
        TruthParameters.model_validate(data["parameters"])
    except (json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ScenarioError(
            f"truth.calibration: {src} is not a netsim calibration file ({first}); "
            "regenerate it with `python -m netsim.calibration`"
        ) from None
    return data


class TruthSettings(BaseModel):
    """Settings of a truth world (what a scenario's ``truth:`` section gives).

    Attributes
    ----------
    seed
        Seed of every random draw (non-negative integer).
    year
        Calendar year simulated (day and hour axes; 2020 has 366 days).
    calibration
        Shipped calibration name (:data:`CALIBRATIONS`) or path to a calibration JSON.
    anomaly_strength
        Multiplier of the random anomaly amplitudes (1 = calibrated, 0 = none).
    roads
        Include roadside increments near major roads (kerbside increments of
        traffic stations are always applied).
    measurement_error
        Apply instrument error to station readings.
    missing_data
        Drop hours at random / in outages according to the instrument class.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(2020, ge=0)
    year: int = Field(2020, ge=1900, le=2100)
    calibration: str = Field("beijing_2020", min_length=1)
    anomaly_strength: float = Field(1.0, ge=0, allow_inf_nan=False)
    roads: bool = True
    measurement_error: bool = True
    missing_data: bool = True


# ----------------------------------------------------------------------------
# Random numbers
# ----------------------------------------------------------------------------

_TAG_TEMPORAL = 1
_TAG_BASIS = 2
_TAG_HOURLY = 3
_TAG_INSTRUMENT = 4
_TAG_OUTAGE = 5
_TAG_LOCAL = 6


def _key(value: str) -> int:
    """Stable 32-bit key of a string (``zlib.crc32`` of its UTF-8 bytes)."""
    return zlib.crc32(value.encode("utf-8"))


def _rng(*entropy: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(e) for e in entropy])))


def _location_key(x: float, y: float) -> tuple[int, int]:
    """Location quantised to whole metres (non-negative in UTM 50N over Beijing)."""
    return int(np.rint(x)) & 0xFFFFFFFF, int(np.rint(y)) & 0xFFFFFFFF


def _location_keys(xy: np.ndarray) -> np.ndarray:
    """:func:`_location_key` of every point of ``xy`` (n, 2), as (n, 2) int64."""
    return np.rint(np.asarray(xy, dtype=float)).astype(np.int64) & 0xFFFFFFFF


def _ar1(
    rng: np.random.Generator, shape: tuple[int, ...], rho: float, dtype=np.float64
) -> np.ndarray:
    """Stationary unit-variance AR(1) series along the last axis."""
    z = rng.standard_normal((*shape[:-1], shape[-1] + 1)).astype(dtype, copy=False)
    start = (rho * z[..., :1]).astype(dtype).astype(np.float64).reshape(-1)
    steps = np.ascontiguousarray(z[..., 1:], dtype=np.float64).reshape(-1, shape[-1])
    out = np.empty_like(steps)
    ar1_filter(steps, float(rho), math.sqrt(1.0 - rho * rho), start, out)
    return out.reshape(shape).astype(dtype, copy=False)


# ----------------------------------------------------------------------------
# Temporal structure
# ----------------------------------------------------------------------------


def _days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def _winter_weight(n_days: int, peak_day: float) -> np.ndarray:
    t = np.arange(n_days) + 0.5
    return 0.5 * (1.0 + np.cos(2.0 * np.pi * (t - peak_day) / n_days))


def _temporal_factors(
    par: TemporalParameters, seed: int, r: int, n_days: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Daily factors ``T_p(d)`` (mean 1 over the year) and the stagnation index ``E(d)``."""
    rng = _rng(seed, r, _TAG_TEMPORAL)
    w = _winter_weight(n_days, par.winter_peak_day)
    e = par.sigma_e * _ar1(rng, (n_days,), par.rho_e)
    # Episodes: build up linearly over L days, end abruptly (cold front).
    rate = par.episode_rate_winter * w + par.episode_rate_summer * (1.0 - w)
    starts = np.flatnonzero(rng.random(n_days) < rate)
    lengths = rng.integers(par.episode_days[0], par.episode_days[1] + 1, size=len(starts))
    peaks = rng.exponential(par.episode_amplitude, size=len(starts))
    for s, length, a in zip(starts, lengths, peaks, strict=True):
        stop = min(n_days, s + length)
        e[s:stop] += a * (np.arange(1, stop - s + 1) / length)
    # Spring dust (March–May, day-of-year 60–151).
    doy = np.arange(n_days)
    dust = (rng.random(n_days) < par.dust_rate) & (doy >= 59) & (doy < 151)
    o3_season = np.cos(2.0 * np.pi * (doy + 0.5 - par.o3_peak_day) / n_days)
    factors: dict[str, np.ndarray] = {}
    for p in POLLUTANT_NAMES:
        prng = _rng(seed, r, _TAG_TEMPORAL, _key(p))
        noise = par.sigma[p] * _ar1(prng, (n_days,), par.rho)
        if p == "O3":
            loading = par.o3_loading_summer * (1.0 - w) + par.o3_loading_winter * w
            log_t = par.seasonal_amplitude[p] * o3_season + loading * e + noise
        else:
            log_t = par.seasonal_amplitude[p] * (2.0 * w - 1.0) + par.loading[p] * e + noise
        if p == "PM10":
            log_t = log_t + par.dust_pm10 * dust
        elif p == "PM2.5":
            log_t = log_t + par.dust_pm25 * dust
        t = np.exp(log_t - log_t.max())
        factors[p] = t / t.mean()
    return factors, e


def diurnal_profiles(p: str, n_days: int, par: HourlyParameters) -> np.ndarray:
    """Diurnal profile (n_days, 24) of pollutant ``p``, mean 1 over each day.

    Hour ``h`` is h:00–h+1:00 Beijing time.  Particles peak at night (≈ 23 h)
    with an afternoon minimum; NO2 and CO are high at night, lowest mid-afternoon
    (deep mixed layer, photolysis) with morning (≈ 08 h) and evening (≈ 20 h)
    rush-hour peaks; SO2 peaks near noon (mixing-down of
    elevated plumes); O3 peaks mid-afternoon (≈ 15 h) with a summer amplitude
    larger than the winter one.
    """
    h = np.arange(24) + 0.5
    cos = lambda peak: np.cos(2.0 * np.pi * (h - peak) / 24.0)  # noqa: E731
    rush = np.exp(-(((h - 8.0) / 1.5) ** 2))
    evening = np.exp(-(((h - 20.0) / 2.0) ** 2))
    if p == "O3":
        w = _winter_weight(n_days, 15.0)
        amp = par.o3_diurnal_winter * w + par.o3_diurnal_summer * (1.0 - w)
        prof = np.exp(amp[:, None] * cos(15.0)[None, :])
        return prof / prof.mean(axis=1, keepdims=True)
    shapes = {
        "PM2.5": 1.0 + 0.15 * cos(23.0),
        "PM10": 1.0 + 0.18 * cos(22.0),
        "NO2": 1.0 + 0.2 * cos(2.0) + 0.25 * rush + 0.15 * evening,
        "CO": 1.0 + 0.2 * cos(2.0) + 0.15 * rush + 0.1 * evening,
        "SO2": 1.0 + 0.15 * cos(11.0),
    }
    prof = shapes[p] / shapes[p].mean()
    return np.broadcast_to(prof, (n_days, 24))


# ----------------------------------------------------------------------------
# World and realisations
# ----------------------------------------------------------------------------


def _canonical(p: str) -> str:
    return pollutant(p).name


def _check_xy(xy: np.ndarray) -> np.ndarray:
    arr = np.asarray(xy, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"xy must have shape (n, 2) (EPSG:32650 metres), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("xy contains NaN or infinite coordinates")
    return arr


class TruthWorld:
    """A calibrated synthetic Beijing from which seeded realisations are drawn.

    Parameters
    ----------
    grid
        :class:`netsim.grid.Grid` for gridded daily fields, or ``None`` for a
        stations-only world (``at_points`` and ``sample_hourly`` still work).
    settings
        :class:`TruthSettings` (default: seed 2020, the 2020 calibration).

    Examples
    --------
    >>> world = TruthWorld(Grid.for_beijing(1000), TruthSettings(seed=1))   # doctest: +SKIP
    >>> truth = world.realise(0)
    >>> truth.annual_mean("PM2.5").shape == (world.grid.n_cells,)
    """

    def __init__(
        self,
        grid: Any | None = None,
        settings: TruthSettings | None = None,
        *,
        parameters: TruthParameters | None = None,
    ) -> None:
        self.grid = grid
        self.settings = settings or TruthSettings()
        if parameters is None:
            self.calibration = load_calibration(self.settings.calibration)
            parameters = TruthParameters.model_validate(self.calibration["parameters"])
        else:
            self.calibration = {"parameters": parameters.model_dump(mode="json")}
        self.parameters: TruthParameters = parameters
        self.year = self.settings.year
        self.n_days = _days_in_year(self.year)
        self.n_hours = 24 * self.n_days
        lon = np.array([a.lon for a in parameters.anchors])
        lat = np.array([a.lat for a in parameters.anchors])
        self.anchor_xy = np.column_stack(lonlat_to_xy(lon, lat))
        self._patterns: dict[str, tuple[RBFInterpolator, float, float]] = {}
        self._grid_base: dict[str, np.ndarray] = {}
        self._road_weights: dict[bytes, np.ndarray] = {}

    # ------------------------------------------------------------ pattern
    def _pattern(self, p: str) -> tuple[RBFInterpolator, float, float]:
        if p not in self._patterns:
            v = self.parameters.anchor_values(p)
            if np.any(~np.isfinite(v)) or np.any(v <= 0):
                raise ScenarioError(f"truth.calibration: anchor values of {p} must be positive")
            rbf = RBFInterpolator(
                self.anchor_xy / 1000.0, np.log(v), kernel="thin_plate_spline", degree=1
            )
            lo, hi = self.parameters.pattern_clip
            self._patterns[p] = (rbf, lo * float(v.min()), hi * float(v.max()))
        return self._patterns[p]

    def pattern_at(self, xy: np.ndarray, pollutant: str) -> np.ndarray:
        """Annual background pattern ``S_p`` (n,) at points (no roads), units of the pollutant."""
        p = _canonical(pollutant)
        xy = _check_xy(xy)
        rbf, lo, hi = self._pattern(p)
        return np.clip(np.exp(rbf(xy / 1000.0)), lo, hi)

    def base_at(
        self, xy: np.ndarray, pollutant: str, *, traffic: np.ndarray | None = None
    ) -> np.ndarray:
        """Annual pattern with roadside increments ``B_p = S_p + R_p`` (n,) at points.

        ``traffic`` (bool (n,)) adds the kerbside increment of traffic stations.
        """
        p = _canonical(pollutant)
        xy = _check_xy(xy)
        base = self.pattern_at(xy, p)
        par = self.parameters
        if self.settings.roads:
            w = self._road_weight(xy)
            if p == "O3":
                base = base * (1.0 - par.roads.o3_titration * w)
            else:
                base = base + par.roads.amplitude.get(p, 0.0) * w
        if traffic is not None and np.any(traffic):
            base = par.kerb.at_kerb(base, np.asarray(traffic, dtype=bool), p)
        return base

    def _road_weight(self, xy: np.ndarray) -> np.ndarray:
        """Road weights exp(−d/decay) at ``xy``, kept for the last few sets of points (every
        pollutant and realisation asks again for the grid's and the stations')."""
        key = np.ascontiguousarray(xy).tobytes()
        if key not in self._road_weights:
            if len(self._road_weights) >= 8:
                self._road_weights.pop(next(iter(self._road_weights)))
            weights = road_weight(xy, self.parameters.roads.decay_m)
            weights.setflags(write=False)
            self._road_weights[key] = weights
        return self._road_weights[key]

    def grid_base(self, pollutant: str) -> np.ndarray:
        """``B_p`` at the grid cells (n_cells,), cached."""
        p = _canonical(pollutant)
        if p not in self._grid_base:
            self._grid_base[p] = self.base_at(self._require_grid().targets(), p)
        return self._grid_base[p]

    def _require_grid(self) -> Any:
        if self.grid is None:
            raise ValueError(
                "this TruthWorld has no grid; build it with TruthWorld(grid, settings)"
            )
        return self.grid

    # ------------------------------------------------------------ realisations
    def realise(self, r: int) -> TruthRealisation:
        """Realisation ``r`` (non-negative int); depends only on ``(settings.seed, r)``."""
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
            raise ValueError(f"realisation index must be a non-negative integer, got {r!r}")
        return TruthRealisation(self, int(r))


class TruthRealisation:
    """One realisation of the truth world (see :class:`TruthWorld`).

    Its grid fields are computed once and cached (:meth:`annual_mean`, :meth:`daily`),
    so every network measuring the realisation shares them.
    """

    def __init__(self, world: TruthWorld, r: int) -> None:
        self.world = world
        self.r = r
        self.seed = world.settings.seed
        an = world.parameters.anomaly
        self._basis = [
            SpectralField.draw(
                _rng(self.seed, r, _TAG_BASIS, k),
                an.len_persistent_m if k == 0 else an.len_daily_m,
                model=an.model,
                n_modes=an.n_modes,
            )
            for k in range(an.n_basis + 1)
        ]
        self._daily: dict[str, np.ndarray] = {}
        self._annual: dict[str, np.ndarray] = {}

    @property
    def n_days(self) -> int:
        return self.world.n_days

    # ------------------------------------------------------------ ingredients
    @cached_property
    def _temporal(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return _temporal_factors(self.world.parameters.temporal, self.seed, self.r, self.n_days)

    def temporal_factor(self, pollutant: str) -> np.ndarray:
        """City-wide daily factor ``T_p(d)`` (n_days,), mean 1."""
        return self._temporal[0][_canonical(pollutant)]

    @cached_property
    def _coefficients(self) -> dict[str, np.ndarray]:
        """Daily coefficients ``a_k(d)`` (n_days, K) per pollutant (float32 values)."""
        an = self.world.parameters.anomaly
        k, n = an.n_basis, self.n_days
        shared = _ar1(_rng(self.seed, self.r, _TAG_BASIS, 1000), (k, n), an.rho_coef)
        out = {}
        for p in POLLUTANT_NAMES:
            own = _ar1(_rng(self.seed, self.r, _TAG_BASIS, 1001, _key(p)), (k, n), an.rho_coef)
            c = 0.0 if p == "O3" else an.shared
            a = (math.sqrt(c) * shared + math.sqrt(1.0 - c) * own) / math.sqrt(k)
            out[p] = np.ascontiguousarray(a.T, dtype=np.float32).astype(np.float64)
        return out

    def basis_at(self, xy: np.ndarray) -> np.ndarray:
        """Basis fields (K+1, n) at points; row 0 is the persistent field."""
        xy = _check_xy(xy)
        return np.stack([f.at_points(xy) for f in self._basis])

    @cached_property
    def _grid_basis(self) -> np.ndarray:
        """Basis fields (K+1, n_cells) float64 at the grid cells (only masked cells computed)."""
        grid = self.world._require_grid()
        mask = np.asarray(grid.mask)
        xs, ys = np.asarray(grid.x_centres), np.asarray(grid.y_centres)
        columns = _mask_columns(mask)
        out = np.empty((len(self._basis), int(mask.sum())))
        for i, f in enumerate(self._basis):
            out[i] = f.on_lattice(xs, ys, columns=columns)[mask]
        return out

    def local_effect(self, xy: np.ndarray, pollutant: str) -> np.ndarray:
        """Small-scale effect ``L_p(x) = exp(s_l z − s_l²/2)`` (n,) at points, mean 1.

        ``z`` is one unit normal per location keyed by (seed, realisation, pollutant,
        location in whole metres): independent between locations (no spatial
        correlation), so a station and the grid cell whose centre it sits on agree.
        """
        p = _canonical(pollutant)
        s_l = self.world.settings.anomaly_strength * self.world.parameters.anomaly.s_local.get(
            p, 0.0)
        xy = _check_xy(xy)
        if s_l == 0.0 or len(xy) == 0:
            return np.ones(len(xy))
        locations = _location_keys(xy)
        z = np.empty(len(xy))
        location_normals(_stream_words((self.seed, self.r, _TAG_LOCAL, _key(p)), locations), z)
        return np.exp(s_l * z - 0.5 * s_l * s_l)

    def _field_inputs(self, p: str, base: np.ndarray, basis: np.ndarray, local: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        """Arguments of the daily-field kernels: ``B · L · T · A`` = exp(s Σ a_k φ_k) · T ·
        scale, scale = B · L · exp(s₀ φ₀ − s₀²/2 − s² v/2) (n,), v = Σ_k φ_k²/K."""
        an = self.world.parameters.anomaly
        strength = self.world.settings.anomaly_strength
        s_d = strength * an.s_daily[p]
        s_0 = strength * an.s_persistent[p]
        phi0, phi = basis[0], np.ascontiguousarray(basis[1:], dtype=np.float64)
        v = (phi**2).sum(axis=0) / phi.shape[0]
        scale = base * local * np.exp(s_0 * phi0 - 0.5 * s_0 * s_0 - 0.5 * s_d * s_d * v)
        temporal = np.asarray(self.temporal_factor(p), dtype=np.float64)
        return np.ascontiguousarray(scale), self._coefficients[p], phi, temporal, float(s_d)

    def _station_daily(self, p: str, xy: np.ndarray, base: np.ndarray, basis: np.ndarray
                       ) -> np.ndarray:
        """Daily truth (n, n_days) float64 at points ``xy`` with ``base`` (n,) and ``basis``
        (K+1, n)."""
        daily = np.empty((self.n_days, len(base)))
        daily_field(*self._field_inputs(p, base, basis, self.local_effect(xy, p)), daily,
                    np.empty(len(base)))
        return np.ascontiguousarray(daily.T)

    def _grid_fields(self, p: str, keep_daily: bool) -> None:
        """Annual mean (and, with ``keep_daily``, the daily fields) of ``p`` on the grid."""
        n_cells = self._grid_basis.shape[1]
        daily = np.empty((self.n_days, n_cells) if keep_daily else (0, 0), dtype=np.float32)
        annual = np.empty(n_cells)
        local = self.local_effect(self.world._require_grid().targets(), p)
        daily_field(*self._field_inputs(p, self.world.grid_base(p), self._grid_basis, local),
                    daily, annual)
        annual.setflags(write=False)
        self._annual[p] = annual
        if keep_daily:
            daily.setflags(write=False)
            self._daily[p] = daily

    # ------------------------------------------------------------ public API
    def daily(self, pollutant: str) -> np.ndarray:
        """Daily mean truth on the grid, (n_days, grid.n_cells) float32, ``grid.targets()`` order.

        Units µg/m³ (CO mg/m³).  Cached per pollutant; read-only.
        """
        p = _canonical(pollutant)
        if p not in self._daily:
            self._grid_fields(p, keep_daily=True)
        return self._daily[p]

    def annual_mean(self, pollutant: str) -> np.ndarray:
        """Annual mean truth (n_cells,) float64: the mean over the year of :meth:`daily`
        (summed in float64 before the daily values are rounded to float32).

        Cached per pollutant (read-only) without keeping the daily fields, so the
        networks measuring this realisation share one computation.
        """
        p = _canonical(pollutant)
        if p not in self._annual:
            self._grid_fields(p, keep_daily=False)
        return self._annual[p]

    def release(self, pollutant: str | None = None) -> None:
        """Drop cached grid fields (all, or one pollutant) to free memory."""
        if pollutant is None:
            self._daily.clear()
            self._annual.clear()
        else:
            self._daily.pop(_canonical(pollutant), None)
            self._annual.pop(_canonical(pollutant), None)

    def at_points(self, xy: np.ndarray, pollutant: str) -> np.ndarray:
        """Daily mean truth (n_days, n_points) float64 at arbitrary points (EPSG:32650 m).

        Identical to :meth:`daily` at the grid-cell centres (to float32 rounding).
        """
        p = _canonical(pollutant)
        xy = _check_xy(xy)
        return self._station_daily(p, xy, self.world.base_at(xy, p), self.basis_at(xy)).T

    def sample_hourly(
        self,
        network: Any,
        *,
        pollutants: tuple[str, ...] | list[str] | None = None,
        measurement_error: bool | None = None,
        missing: bool | None = None,
    ) -> Any:
        """Hourly readings of ``network`` measuring this realisation.

        Parameters
        ----------
        network
            :class:`netsim.network.Network`; uses ``station_id, type, x, y,
            instrument`` and the optional per-station ``noise_pct``/``bias_pct``
            (NaN = class default; :class:`netsim.instruments.StationErrors`).
            ``traffic`` stations get the kerbside increment.
        pollutants
            Subset of pollutants (default all six).
        measurement_error, missing
            Override :class:`TruthSettings` (``False`` gives the error-free truth
            at the stations, hourly).

        Returns
        -------
        netsim.readings.HourlyReadings
            ``values[p]`` (n_stations, n_hours) float64, NaN = missing hour.

        Raises
        ------
        NetworkError
            A station's instrument class is unknown.
        """
        return self.sample_networks({"network": network}, pollutants=pollutants,
                                    measurement_error=measurement_error,
                                    missing=missing)["network"]

    def sample_networks(
        self,
        networks: Mapping[str, Any],
        *,
        pollutants: tuple[str, ...] | list[str] | None = None,
        measurement_error: bool | None = None,
        missing: bool | None = None,
    ) -> dict[str, Any]:
        """Hourly readings of several networks measuring this realisation (name → readings).

        Same values as :meth:`sample_hourly` of each network, but a station present in
        several networks with the same id, position, type and instrument errors is
        sampled once (its readings are the same in every network by construction:
        common random numbers).  The largest network's readings are views of the
        sampled array, the others' copies of their rows.
        """
        ids, sampled = self._network_values(networks, pollutants, measurement_error, missing)
        values = {name: {} for name in networks}
        for p, by_network in sampled:
            for name, v in by_network.items():
                values[name][p] = v
        return {name: self._readings(ids[name], values[name]) for name in networks}

    def sample_networks_by_pollutant(
        self,
        networks: Mapping[str, Any],
        *,
        pollutants: tuple[str, ...] | list[str] | None = None,
        measurement_error: bool | None = None,
        missing: bool | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """:meth:`sample_networks` one pollutant at a time: yields ``(pollutant, {name:
        readings of that pollutant})``, so a caller holds one pollutant's hours at a time
        (535 stations: 38 MB instead of 225 MB).  The same values: every draw is keyed
        by its pollutant (:meth:`_hourly_at`)."""
        ids, sampled = self._network_values(networks, pollutants, measurement_error, missing)

        def as_readings(item: tuple[str, dict[str, np.ndarray]]) -> tuple[str, dict[str, Any]]:
            p, by_network = item
            return p, {name: self._readings(ids[name], {p: v}) for name, v in by_network.items()}

        return map(as_readings, sampled)  # keeps no reference to a pollutant already yielded

    def _readings(self, station_ids: np.ndarray, values: dict[str, np.ndarray]) -> Any:
        from netsim.readings import HourlyReadings

        return HourlyReadings(station_ids=station_ids, year=self.world.year, values=values,
                              source=f"truth seed={self.seed} r={self.r}")

    def _network_values(
        self, networks: Mapping[str, Any], pollutants: tuple[str, ...] | list[str] | None,
        measurement_error: bool | None, missing: bool | None,
    ) -> tuple[dict[str, np.ndarray], Iterator[tuple[str, dict[str, np.ndarray]]]]:
        """Each network's station ids, and its hourly values (n, n_hours) pollutant by
        pollutant: the union of the stations, their outages and basis set up once."""
        settings = self.world.settings
        err = settings.measurement_error if measurement_error is None else measurement_error
        miss = settings.missing_data if missing is None else missing
        names = POLLUTANT_NAMES if pollutants is None else tuple(_canonical(p) for p in pollutants)
        parts = {name: (_Sites.of(net), StationErrors.of(net)) for name, net in networks.items()}
        sites, errors, rows = _union_of(parts)
        outage = (self._outage_hours(sites, errors) if miss
                  else np.zeros((0, 0), dtype=bool))
        basis = self.basis_at(sites.xy) if len(sites.ids) else np.zeros((len(self._basis), 0))
        draws = _Draws(err=bool(err), miss=bool(miss), outage=outage)

        def by_network(p: str) -> dict[str, np.ndarray]:
            values = self._hourly_at(p, sites, errors, basis, draws)
            return {name: _take_rows(values, rows[name]) for name in networks}

        ids = {name: sites_of.ids for name, (sites_of, _) in parts.items()}
        return ids, ((p, by_network(p)) for p in names)

    def _outage_hours(self, sites: _Sites, errors: StationErrors) -> np.ndarray:
        """Hours (n, n_hours) lost to multi-hour outages, keyed by station and location."""
        nd = self.n_days
        out = np.zeros((len(sites.ids), self.world.n_hours), dtype=bool)
        outage_hours(
            _stream_words((self.seed, self.r, _TAG_OUTAGE), sites.keys_and_locations),
            np.array([c.outages_per_year * nd / 365.0 for c in errors.classes], dtype=float),
            np.array([c.outage_hours[0] for c in errors.classes], dtype=np.int64),
            np.array([c.outage_hours[1] for c in errors.classes], dtype=np.int64),
            out,
        )
        return out

    def _hourly_at(self, p: str, sites: _Sites, errors: StationErrors, basis: np.ndarray,
                   draws: _Draws) -> np.ndarray:
        """Measured hourly values (n, n_hours) of pollutant ``p`` at the stations.

        Random streams (numpy's SeedSequence/PCG64, rebuilt in :mod:`netsim.truth_rng`):
        the truth's hourly fluctuation keyed by (seed, realisation, pollutant,
        location), so co-located instruments see the same truth; the instrument's
        draws keyed by (seed, realisation, station id, location, pollutant): the
        unit's bias first, then the hourly errors, then the missing-hour uniforms.
        """
        hp = self.world.parameters.hourly
        daily = self._station_daily(p, sites.xy,
                                    self.world.base_at(sites.xy, p, traffic=sites.traffic), basis)
        key = _key(p)
        n = len(sites.ids)
        hourly = np.empty((n, self.world.n_hours))
        hourly_readings(
            daily,
            np.ascontiguousarray(diurnal_profiles(p, self.n_days, hp)),
            float(hp.sigma[p]),
            float(hp.rho),
            _stream_words((self.seed, self.r, _TAG_HOURLY, key), sites.locations),
            _stream_words((self.seed, self.r, _TAG_INSTRUMENT),
                          np.column_stack([sites.keys_and_locations, np.full(n, key)])),
            draws.err,
            draws.miss,
            np.asarray(errors.bias_pct, dtype=float),
            np.asarray(errors.unit_bias_sd_pct, dtype=float),
            np.asarray(errors.noise_pct, dtype=float) / 100.0,
            np.array([c.missing_pct / 100.0 for c in errors.classes], dtype=np.float32),
            draws.outage,
            hourly,
        )
        return hourly


@dataclass(frozen=True)
class _Draws:
    """Which instrument draws a sampling applies, and the stations' outage hours."""

    err: bool
    miss: bool
    outage: np.ndarray


def _stream_words(prefix: tuple[int, ...], per_station: np.ndarray) -> np.ndarray:
    """Entropy words (n, m) uint32 of ``_rng(*prefix, *per_station[i])`` for every station.

    Each per-station value is below 2³² (CRC-32 keys, locations masked to 32 bits), so it
    is one word; the prefix (seed, realisation, tag …) may take several.
    """
    per_station = np.asarray(per_station, dtype=np.int64).reshape(len(per_station), -1)
    if np.any((per_station < 0) | (per_station > 0xFFFFFFFF)):
        raise ValueError("per-station entropy values must be 32-bit unsigned integers")
    head = entropy_words(*prefix)
    words = np.empty((len(per_station), len(head) + per_station.shape[1]), dtype=np.uint32)
    words[:, : len(head)] = head
    words[:, len(head):] = per_station
    return words


def _mask_columns(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and end (exclusive) masked column of each row (0, 0 for an empty row)."""
    mask = np.asarray(mask, dtype=bool)
    any_cell = mask.any(axis=1)
    first = np.where(any_cell, mask.argmax(axis=1), 0)
    end = np.where(any_cell, mask.shape[1] - mask[:, ::-1].argmax(axis=1), 0)
    return first.astype(np.int64), end.astype(np.int64)


def _take_rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values[rows]``, a view when ``rows`` are the first len(rows) rows in order."""
    if np.array_equal(rows, np.arange(len(rows))):
        return values[: len(rows)]
    return values[rows]


def _union_of(parts: Mapping[str, tuple[_Sites, StationErrors]]
              ) -> tuple[_Sites, StationErrors, dict[str, np.ndarray]]:
    """The distinct stations of several networks (largest network first, in its order) and
    each network's rows in them.  Two stations are the same when their id, position (whole
    metres), traffic type and error parameters are."""
    order = sorted(parts, key=lambda name: -len(parts[name][0].ids))
    index: dict[tuple, int] = {}
    picks: list[tuple[str, int]] = []
    rows = {}
    for name in order:
        sites, errors = parts[name]
        net_rows = np.empty(len(sites.ids), dtype=np.int64)
        for i, signature in enumerate(_signatures(sites, errors)):
            if signature not in index:
                index[signature] = len(picks)
                picks.append((name, i))
            net_rows[i] = index[signature]
        rows[name] = net_rows
    return (*_gather(parts, picks), rows)


def _signatures(sites: _Sites, errors: StationErrors) -> list[tuple]:
    """What makes a station's readings: id, location key, traffic, errors and class."""
    return [(sites.ids[i], sites.locs[i], bool(sites.traffic[i]), errors.classes[i],
             float(errors.noise_pct[i]), float(errors.bias_pct[i]))
            for i in range(len(sites.ids))]


def _gather(parts: Mapping[str, tuple[_Sites, StationErrors]], picks: list[tuple[str, int]]
            ) -> tuple[_Sites, StationErrors]:
    """Sites and errors of the picked (network, row) stations, in order."""
    def pick(get):
        return [get(parts[name])[i] for name, i in picks]

    sites = _Sites(
        ids=np.array(pick(lambda p: p[0].ids), dtype=object).astype(str),
        xy=np.array(pick(lambda p: p[0].xy), dtype=float).reshape(-1, 2),
        traffic=np.array(pick(lambda p: p[0].traffic), dtype=bool),
        locs=tuple(pick(lambda p: p[0].locs)),
        keys=tuple(pick(lambda p: p[0].keys)),
    )
    errors = StationErrors(
        classes=tuple(pick(lambda p: p[1].classes)),
        noise_pct=np.array(pick(lambda p: p[1].noise_pct), dtype=float),
        bias_pct=np.array(pick(lambda p: p[1].bias_pct), dtype=float),
        unit_bias_sd_pct=np.array(pick(lambda p: p[1].unit_bias_sd_pct), dtype=float),
    )
    return sites, errors


@dataclass(frozen=True)
class _Sites:
    """Station ids, positions and the keys of their random draws."""

    ids: np.ndarray
    xy: np.ndarray
    traffic: np.ndarray
    locs: tuple[tuple[int, int], ...]
    keys: tuple[int, ...]

    @classmethod
    def of(cls, network: Any) -> _Sites:
        st = network.stations
        ids = np.asarray(st["station_id"], dtype=object).astype(str)
        xy = np.column_stack([np.asarray(st["x"], float), np.asarray(st["y"], float)])
        return cls(
            ids=ids,
            xy=xy,
            traffic=np.asarray(st["type"], dtype=object).astype(str) == "traffic",
            locs=tuple(_location_key(x, y) for x, y in xy),
            keys=tuple(_key(s) for s in ids),
        )

    @property
    def locations(self) -> np.ndarray:
        """(n, 2) int64 location keys (whole metres, 32 bits)."""
        return np.array(self.locs, dtype=np.int64).reshape(-1, 2)

    @property
    def keys_and_locations(self) -> np.ndarray:
        """(n, 3) int64: station-id key, location keys."""
        return np.column_stack([np.array(self.keys, dtype=np.int64), self.locations])
