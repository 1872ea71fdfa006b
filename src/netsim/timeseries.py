"""Time-resolved maps: krige every hour (or day) and derive per-cell annual statistics.

An annual-mean map says where the annual limit is exceeded; planners also ask
"on how many days does this neighbourhood meet the standard?".  This module
kriges the station series at every time step onto the grid and computes, for
every cell, the statistics the station assessment computes for a station
(``standards.md`` §1.1, §2.2–2.5):

``{slug}_annual_mean``
    Mean of the valid 24-h means (µg/m³; CO mg/m³).
``{slug}_valid_days``
    Number of valid daily values (24-h means; MDA8 for O3).
``{slug}_days_above_limit``
    Days whose 24-h mean (O3: MDA8) exceeds the 24-h (O3: 8-h) limit of the
    chosen standard and grade.
``{slug}_{statistic}``
    The HJ 663 annual percentile statistic: ``p95_daily`` (PM2.5, PM10, CO),
    ``p98_daily`` (SO2, NO2), ``p90_mda8`` (O3); exact per cell
    (:func:`netsim.standards.hj663_percentile`, = ``numpy.percentile`` linear).
``aqi_days_<category>``
    Days per HJ 633 AQI category (``excellent``, ``good``, ``lightly_polluted``,
    ``moderately_polluted``, ``heavily_polluted``, ``severely_polluted``), with
    the AQI taken over the pollutants given (all six: the published AQI; one:
    that pollutant's IAQI — the ``aqi_pollutants`` tag says which).
``aqi_days_meeting_standard``, ``aqi_valid_days``
    Days with AQI ≤ 100 (``standards.md`` §2.5) and days with a valid AQI.

Memory stays bounded: cells are processed in chunks of ``chunk_size`` (by default
:data:`DEFAULT_CHUNK_VALUES` values per array: 2,048 cells of hourly steps, 49,152 of
daily ones); for each
chunk every time step is kriged with the batched core (:func:`netsim.krige`
with (T, n) values: one kriging system per station-availability pattern), the
chunk's (T, chunk) maps are reduced to per-cell statistics and dropped.  Peak
memory is O(T × chunk_size), whatever the grid size.  Chunks are independent
tasks run through a :mod:`netsim.distributed` executor (in-process by default,
or on a dask cluster) and give identical results either way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from netsim import standards, standards_kernels
from netsim.blas import single_threaded_blas
from netsim.distributed import ProgressCallback, chunk_slices
from netsim.errors import KrigingError, NetsimError
from netsim.pollutants import POLLUTANT_NAMES, POLLUTANTS

__all__ = [
    "AQI_CATEGORY_BANDS",
    "STEPS",
    "AnnualMaps",
    "annual_statistics",
    "annual_statistics_from_readings",
]

STEPS = ("hour", "day")
"""Time steps of the input series: hourly values (hour 0 = 1 Jan 00:00–01:00,
hour-beginning labels) or daily values (24-h means; MDA8 for O3)."""

AQI_CATEGORY_BANDS: tuple[str, ...] = (
    "aqi_days_excellent",
    "aqi_days_good",
    "aqi_days_lightly_polluted",
    "aqi_days_moderately_polluted",
    "aqi_days_heavily_polluted",
    "aqi_days_severely_polluted",
)
"""Band names of the six HJ 633-2012 AQI categories (``netsim.standards.CATEGORIES`` order)."""

DEFAULT_CHUNK_SIZE = 2048
"""Cells per chunk of hourly steps: 8,784 hourly maps × 2,048 cells × 8 B = 144 MB per array."""

DEFAULT_CHUNK_VALUES = 8784 * DEFAULT_CHUNK_SIZE
"""Time steps × cells per chunk by default (144 MB per float64 array): 2,048 cells of
hourly steps, 49,152 of daily ones (fewer, larger chunks: each chunk solves every
availability pattern's kriging system again)."""


@dataclass(frozen=True)
class AnnualMaps(Mapping[str, np.ndarray]):
    """Per-cell annual statistics derived from kriged hourly or daily maps.

    A read-only mapping ``band name -> (m,) float64`` in ``targets`` order
    (band names in the module docstring).

    Attributes
    ----------
    bands
        Band name → (m,) values at ``targets``.
    targets
        (m, 2) cell centres, EPSG:32650 metres.
    pollutants
        Pollutants kriged, in :data:`netsim.pollutants.POLLUTANT_NAMES` order.
    year
        Calendar year of the series.
    step
        ``"hour"`` or ``"day"``.
    n_steps
        Number of time steps kriged (hours or days).
    standard, grade
        Limits used for ``days_above_limit`` (``netsim.standards.limits``).
    tags
        Metadata written with the rasters (variograms, neighbourhood, ...).
    """

    bands: dict[str, np.ndarray]
    targets: np.ndarray
    pollutants: tuple[str, ...]
    year: int
    step: str
    n_steps: int
    standard: str
    grade: int
    tags: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.bands[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.bands)

    def __len__(self) -> int:
        return len(self.bands)

    def to_grid(self, grid: Any) -> dict[str, np.ndarray]:
        """Bands as (ny, nx) arrays on ``grid`` (NaN outside); targets = ``grid.targets()``."""
        self._check_grid(grid)
        return {name: grid.to_array(v) for name, v in self.bands.items()}

    def write(
        self,
        path: str | os.PathLike[str],
        grid: Any,
        *,
        bands: list[str] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the bands to one GeoTIFF on ``grid``, window by window (``rasters.write_raster``).

        Parameters
        ----------
        path
            Output ``.tif`` (written atomically).
        grid
            The :class:`netsim.grid.Grid` whose ``targets()`` the maps were computed at.
        bands
            Subset of band names (default: all).
        tags
            Extra dataset tags (merged over :attr:`tags`).
        """
        from netsim.rasters import write_raster

        self._check_grid(grid)
        names = list(self.bands) if bands is None else list(bands)
        unknown = [b for b in names if b not in self.bands]
        if unknown:
            raise NetsimError(
                f"{path}: unknown band(s) {', '.join(unknown)}; available: {', '.join(self.bands)}"
            )
        meta: dict[str, Any] = {
            "pollutant": ",".join(self.pollutants),
            "statistic": "time_resolved_annual",
            "units": ",".join(POLLUTANTS[p].units for p in self.pollutants),
            "year": self.year,
            "step": self.step,
            "n_steps": self.n_steps,
            "standard": self.standard,
            "grade": self.grade,
            **self.tags,
            **(tags or {}),
        }
        write_raster(path, grid, {b: self.bands[b] for b in names}, meta)

    def _check_grid(self, grid: Any) -> None:
        if grid.n_cells != self.targets.shape[0]:
            raise NetsimError(
                f"maps have {self.targets.shape[0]} cells but the {grid.resolution_m:g} m grid "
                f"has {grid.n_cells}; compute them at grid.targets()"
            )


@dataclass(frozen=True)
class _Job:
    """Everything a chunk task needs (scattered once to each dask worker)."""

    xy: np.ndarray
    values: dict[str, np.ndarray]  # pollutant -> (T, n)
    targets: np.ndarray
    variograms: dict[str, Any]
    year: int
    step: str
    standard: str
    grade: int
    krige_kwargs: dict[str, Any]
    min_stations: int
    apply_annual_rule: bool


def annual_statistics(
    xy: np.ndarray,
    values: np.ndarray | Mapping[str, np.ndarray],
    targets: np.ndarray,
    variogram: Any,
    *,
    pollutant: str | None = None,
    step: str = "hour",
    year: int | None = None,
    standard: str = "gb3095-2012",
    grade: int = 2,
    method: str = "ordinary",
    n_neighbours: int | None = None,
    min_stations: int = 3,
    apply_annual_rule: bool = True,
    chunk_size: int | None = None,
    executor: Any = None,
    progress: ProgressCallback | None = None,
) -> AnnualMaps:
    """Krige every time step onto ``targets`` and reduce to per-cell annual statistics.

    Parameters
    ----------
    xy
        (n, 2) station coordinates, EPSG:32650 metres.
    values
        (T, n) station series of one pollutant (then give ``pollutant``), or
        ``{pollutant: (T, n)}`` for several (the AQI bands then combine them).
        Hourly: T = 24 × days of ``year`` (hour 0 = 1 Jan 00:00–01:00);
        daily: T = days of ``year`` (24-h means; MDA8 for O3).  NaN = missing.
        µg/m³ (CO mg/m³).
    targets
        (m, 2) cell centres, metres (normally ``Grid.targets()``).
    variogram
        A :class:`netsim.variogram.Variogram` (all pollutants), or
        ``{pollutant: Variogram}``.
    pollutant
        Pollutant name when ``values`` is an array ("PM2.5", ... "CO").
    step
        ``"hour"`` or ``"day"``.
    year
        Calendar year (months for the HJ 663 annual rule).  Default: 2020 if the
        series has 366 days, else 2019.
    standard, grade
        Limit set for ``days_above_limit`` and the O3 MDA8 exceedance rule.
    method, n_neighbours
        Passed to :func:`netsim.krige` (ordinary/simple/universal; local
        neighbourhood of ``n_neighbours`` stations, or all).
    min_stations
        Time steps with fewer valid stations are left unmapped (NaN), as an hour
        missing at every station would be.
    apply_annual_rule
        Set the annual mean and percentile to NaN in cells failing the HJ 663
        annual validity rule (324 days, 27 per month; ``standards.md`` §1.1).
    chunk_size
        Cells per task; memory is O(T × chunk_size).  Default:
        :data:`DEFAULT_CHUNK_VALUES` // T (results do not depend on it).
    executor
        A :func:`netsim.distributed.get_executor` executor (default in-process).
    progress
        ``callback(done, total)`` over chunks.

    Returns
    -------
    AnnualMaps
        Bands listed in the module docstring, at ``targets``.

    Raises
    ------
    NetsimError, KrigingError
        Unknown pollutant or step, shapes that do not match, a length that is
        not a whole year, a missing variogram.

    Notes
    -----
    Negative kriged concentrations (possible where the field is near zero) are
    kept in the annual mean (unbiased) but count as 0 for the AQI.
    """
    job = _make_job(
        xy,
        values,
        targets,
        variogram,
        pollutant=pollutant,
        step=step,
        year=year,
        standard=standard,
        grade=grade,
        method=method,
        n_neighbours=n_neighbours,
        min_stations=min_stations,
        apply_annual_rule=apply_annual_rule,
    )
    m = job.targets.shape[0]
    n_steps = next(iter(job.values.values())).shape[0]
    if chunk_size is None:
        chunk_size = max(1, DEFAULT_CHUNK_VALUES // max(n_steps, 1))
    slices = chunk_slices(m, int(chunk_size))
    if executor is None:
        from netsim.distributed import LocalExecutor

        executor = LocalExecutor()
    parts = executor.map(_chunk_statistics, slices, job, progress=progress)
    names = list(parts[0]) if parts else _band_names(job)
    bands = {
        name: (np.concatenate([p[name] for p in parts]) if parts else np.empty(0)) for name in names
    }
    pollutants = tuple(job.values)
    tags = {
        "variogram": {p: _to_dict(v) for p, v in job.variograms.items()},
        "kriging_method": method,
        "n_neighbours": n_neighbours if n_neighbours is not None else "all",
        "aqi_pollutants": ",".join(pollutants),
    }
    return AnnualMaps(
        bands=bands,
        targets=job.targets,
        pollutants=pollutants,
        year=job.year,
        step=job.step,
        n_steps=n_steps,
        standard=standard,
        grade=grade,
        tags=tags,
    )


def annual_statistics_from_readings(
    readings: Any,
    network: Any,
    grid: Any,
    variograms: Mapping[str, Any],
    *,
    pollutants: list[str] | None = None,
    **kwargs: Any,
) -> AnnualMaps:
    """:func:`annual_statistics` for :class:`netsim.readings.HourlyReadings` of a network on a grid.

    Parameters
    ----------
    readings
        Hourly readings (``values[p]`` is (n_stations, hours)); its station ids
        are matched to ``network`` stations for coordinates.
    network
        :class:`netsim.network.Network` holding every station of ``readings``.
    grid
        :class:`netsim.grid.Grid`; the maps are computed at ``grid.targets()``.
    variograms
        ``{pollutant: Variogram}``.
    pollutants
        Pollutants to map (default: those in both ``readings`` and ``variograms``).
    **kwargs
        Passed to :func:`annual_statistics` (``standard``, ``n_neighbours``,
        ``chunk_size``, ``executor``, ``progress``, ...).
    """
    ids = np.asarray(network.ids).astype(str)
    position = {s: i for i, s in enumerate(ids)}
    missing = [s for s in readings.station_ids if s not in position]
    if missing:
        raise NetsimError(
            f"{readings.source}: station(s) {', '.join(missing[:5])} not in the network "
            f"{network.source}; pass the network the readings were taken with"
        )
    xy = np.asarray(network.xy, dtype=float)[[position[s] for s in readings.station_ids]]
    chosen = pollutants or [p for p in POLLUTANT_NAMES if p in readings.values and p in variograms]
    if not chosen:
        raise NetsimError(
            f"{readings.source}: no pollutant has both readings and a variogram; readings have "
            f"{', '.join(readings.values) or 'none'}, variograms {', '.join(variograms) or 'none'}"
        )
    values = {p: np.ascontiguousarray(readings.values[p].T) for p in chosen}
    return annual_statistics(
        xy, values, grid.targets(), dict(variograms), step="hour", year=readings.year, **kwargs
    )


# --------------------------------------------------------------------------- internals


def _to_dict(v: Any) -> Any:
    return v.to_dict() if hasattr(v, "to_dict") else repr(v)


def _make_job(
    xy: np.ndarray,
    values: np.ndarray | Mapping[str, np.ndarray],
    targets: np.ndarray,
    variogram: Any,
    *,
    pollutant: str | None,
    step: str,
    year: int | None,
    standard: str,
    grade: int,
    method: str,
    n_neighbours: int | None,
    min_stations: int,
    apply_annual_rule: bool,
) -> _Job:
    if step not in STEPS:
        raise NetsimError(f"step={step!r}: expected one of {', '.join(STEPS)}")
    xy = np.asarray(xy, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise KrigingError(f"xy has shape {xy.shape}; expected (n_stations, 2) metres")
    if targets.ndim != 2 or targets.shape[1] != 2:
        raise KrigingError(f"targets has shape {targets.shape}; expected (n_targets, 2) metres")
    if isinstance(values, Mapping):
        series = dict(values)
    else:
        if pollutant is None:
            raise NetsimError("values is one array: name its pollutant with pollutant='PM2.5' etc.")
        series = {pollutant: values}
    unknown = [p for p in series if p not in POLLUTANTS]
    if unknown:
        raise NetsimError(
            f"unknown pollutant(s) {', '.join(unknown)}; expected {', '.join(POLLUTANT_NAMES)}"
        )
    series = {p: np.asarray(series[p], dtype=float) for p in POLLUTANT_NAMES if p in series}
    lengths = set()
    for p, v in series.items():
        if v.ndim != 2 or v.shape[1] != xy.shape[0]:
            raise KrigingError(
                f"{p} values have shape {v.shape}; expected (time steps, {xy.shape[0]} stations)"
            )
        lengths.add(v.shape[0])
    if len(lengths) != 1:
        raise NetsimError(f"pollutant series have different lengths {sorted(lengths)}")
    n_steps = lengths.pop()
    n_days = n_steps // 24 if step == "hour" else n_steps
    if step == "hour" and n_steps % 24:
        raise NetsimError(
            f"{n_steps} hourly steps is not a whole number of days; expected 24 × days of the year"
        )
    if year is None:
        year = 2020 if n_days == 366 else 2019
    if apply_annual_rule and n_days != standards.days_in_year(year):
        raise NetsimError(
            f"series covers {n_days} days ({n_steps} {step}s); {year} has "
            f"{standards.days_in_year(year)} days — pass a whole calendar year, or "
            "apply_annual_rule=False for statistics over another period"
        )
    if isinstance(variogram, Mapping):
        missing = [p for p in series if p not in variogram]
        if missing:
            raise NetsimError(
                f"no variogram for {', '.join(missing)}; pass {{pollutant: Variogram}}"
            )
        variograms = {p: variogram[p] for p in series}
    else:
        variograms = dict.fromkeys(series, variogram)
    standards.limits(standard, grade)  # validates the names
    return _Job(
        xy=xy,
        values=series,
        targets=targets,
        variograms=variograms,
        year=int(year),
        step=step,
        standard=standard,
        grade=int(grade),
        krige_kwargs={"method": method, "n_neighbours": n_neighbours},
        min_stations=int(min_stations),
        apply_annual_rule=bool(apply_annual_rule),
    )


def _band_names(job: _Job) -> list[str]:
    return [*_pollutant_band_names(job), *AQI_CATEGORY_BANDS, "aqi_days_meeting_standard",
            "aqi_valid_days"]


def _pollutant_band_names(job: _Job) -> list[str]:
    names = []
    for p in job.values:
        slug = POLLUTANTS[p].slug
        stat = standards.STATISTICS[p][-1]
        names += [
            f"{slug}_annual_mean",
            f"{slug}_valid_days",
            f"{slug}_days_above_limit",
            f"{slug}_{stat}",
        ]
    return names


_KRIGE_CHUNK_VALUES = 1 << 23
_KRIGE_CHUNK_OUTPUTS = 1 << 22
"""Kriging chunks of :func:`_kriged_steps`: at most 2**23 station-target semivariances
(64 MB) and 2**22 step-target products (32 MB of temporaries), at least 512 cells: few
chunks (each goes through every availability pattern), bounded scratch memory."""

_CELL_BLOCK = 1024
"""Cells whose series are reduced together (:func:`_chunk_statistics`): a block of 366
daily values is 3 MB, which stays in cache through the passes of the statistics."""


def _kriged_steps(job: _Job, pollutant: str, targets: np.ndarray
                  ) -> Iterator[tuple[slice, np.ndarray]]:
    """(T, c) kriged maps of one pollutant at ``targets[sl]``, one kriging chunk at a time:
    yields ``(sl, maps)``; NaN at steps with too few stations."""
    from netsim.kriging import krige_chunks

    values = job.values[pollutant]
    n_steps, m = values.shape[0], targets.shape[0]
    ok = np.isfinite(values).sum(axis=1) >= job.min_stations
    if not ok.any():
        yield slice(0, m), np.full((n_steps, m), np.nan)
        return
    every_step = bool(ok.all())
    chunks = krige_chunks(
        job.xy,
        values if every_step else values[ok],
        targets,
        job.variograms[pollutant],
        variance=False,
        chunk_size=max(512, min(_KRIGE_CHUNK_VALUES // (job.xy.shape[0] + 8),
                                _KRIGE_CHUNK_OUTPUTS // n_steps)),
        **job.krige_kwargs,
    )
    for sl, result in chunks:
        if every_step:  # the usual case: no (T, c) copy
            yield sl, result.estimate
            continue
        maps = np.full((n_steps, sl.stop - sl.start), np.nan)
        maps[ok] = result.estimate
        yield sl, maps


def _cell_blocks(sl: slice) -> Iterator[slice]:
    """``sl`` in blocks of :data:`_CELL_BLOCK` cells."""
    for start in range(sl.start, sl.stop, _CELL_BLOCK):
        yield slice(start, min(sl.stop, start + _CELL_BLOCK))


@single_threaded_blas()
def _chunk_statistics(chunk: slice, job: _Job) -> dict[str, np.ndarray]:
    """Per-cell statistics of the cells ``targets[chunk]`` (one task): each pollutant's
    maps kriged chunk by chunk, their cells reduced a block at a time (every statistic is
    a function of one cell's series, so the blocks change no value)."""
    targets = job.targets[chunk]
    lim = standards.limits(job.standard, job.grade)
    bands = {name: np.empty(targets.shape[0]) for name in _pollutant_band_names(job)}
    aqi = None  # (m, D) AQI: the maximum IAQI over the pollutants so far
    for p in job.values:
        for sl, maps in _kriged_steps(job, p, targets):
            for block in _cell_blocks(sl):
                columns = slice(block.start - sl.start, block.stop - sl.start)
                series = np.ascontiguousarray(maps[:, columns].T)  # (cells, T)
                daily_mean, daily_stat = _daily_values(job, lim, p, series)  # (cells, D)
                del series
                _pollutant_bands(job, lim, p, daily_mean, daily_stat, bands, block)
                if aqi is None:
                    aqi = np.full((targets.shape[0], daily_stat.shape[1]), -np.inf)
                _fold_daily_iaqi(p, daily_stat, aqi[block])
    bands |= _aqi_day_bands(aqi)
    return bands


def _daily_values(job: _Job, lim: standards.StandardLimits, pollutant: str,
                  series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cells, D) daily means and daily statistic (MDA8 for O3, else the daily means) of
    (cells, T) series."""
    if job.step != "hour":
        return series, series
    daily_mean = standards.daily_means(series)
    if pollutant != "O3":
        return daily_mean, daily_mean
    return daily_mean, standards.mda8(series,
                                      exceedance_limit=lim.limit("O3", "8h") or 160.0).values


def _pollutant_bands(job: _Job, lim: standards.StandardLimits, pollutant: str,
                     daily_mean: np.ndarray, daily_stat: np.ndarray,
                     bands: dict[str, np.ndarray], block: slice) -> None:
    """Write one pollutant's four bands (module docstring) of the cells ``block``; ``lim``
    the job's limits (:func:`netsim.standards.limits`)."""
    slug = POLLUTANTS[pollutant].slug
    stat = standards.STATISTICS[pollutant][-1]
    limit = lim.statistic_limit(pollutant, stat)
    annual_mean = _mean_of_valid(daily_mean)
    percentile = standards.hj663_percentile(daily_stat, standards.STATISTIC_PERCENT[stat])
    if job.apply_annual_rule:
        ok_mean = standards.annual_validity(daily_mean, job.year).valid
        ok_stat = (ok_mean if daily_stat is daily_mean
                   else standards.annual_validity(daily_stat, job.year).valid)
        annual_mean = np.where(ok_mean, annual_mean, np.nan)
        percentile = np.where(ok_stat, percentile, np.nan)
    bands[f"{slug}_annual_mean"][block] = annual_mean
    bands[f"{slug}_valid_days"][block] = (~np.isnan(daily_stat)).sum(axis=1)
    bands[f"{slug}_days_above_limit"][block] = (
        (daily_stat > limit).sum(axis=1) if limit is not None else 0.0)
    bands[f"{slug}_{stat}"][block] = percentile


def _mean_of_valid(daily: np.ndarray) -> np.ndarray:
    """Mean over the last axis of the non-NaN values (NaN where there are none)."""
    ok = ~np.isnan(daily)
    n = ok.sum(axis=-1)
    total = np.where(ok, daily, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def _fold_daily_iaqi(pollutant: str, daily: np.ndarray, aqi: np.ndarray) -> None:
    """Fold one pollutant's daily IAQI (HJ 633-2012) into ``aqi`` (m, D): the maximum over
    the pollutants, missing if any pollutant is missing (HJ 633 §3.2).  The IAQI of the
    concentration at its reported precision (:func:`netsim.standards.reported`), negatives
    as 0; O3 above the 8-h table counts as 500 (HJ 633 note 2 without 1-h data)."""
    decimals = POLLUTANTS[pollutant].reported_decimals
    daily = np.ascontiguousarray(daily, dtype=float)
    conc = np.empty_like(daily)
    needs_decimal = np.empty(daily.shape, dtype=np.bool_)
    scale = 10.0**decimals
    if standards_kernels.reported_nonnegative(daily, scale, standards._EXACT_INTEGERS, conc,
                                              needs_decimal):
        ties = np.maximum(daily[needs_decimal], 0.0)
        conc[needs_decimal] = [standards._round_one(v, decimals) for v in ties.tolist()]
    averaging = "8h" if pollutant == "O3" else "24h"
    breakpoints = standards.IAQI_BREAKPOINTS[(pollutant, averaging)]
    levels = standards.IAQI_LEVELS[: breakpoints.size]
    over = 500.0 if pollutant == "O3" or breakpoints.size == standards.IAQI_LEVELS.size else np.nan
    standards_kernels.iaqi_max(conc, breakpoints, levels, over, aqi)


def _aqi_day_bands(aqi: np.ndarray) -> dict[str, np.ndarray]:
    """Days per HJ 633 category, days meeting the standard and valid days, per row of
    ``aqi`` (m, D; NaN = no AQI)."""
    m = aqi.shape[0]
    bounds = np.array([c[0] for c in standards.CATEGORIES], dtype=float)
    categories = np.empty((m, bounds.size))
    meeting, valid = np.empty(m), np.empty(m)
    standards_kernels.aqi_day_counts(aqi, bounds, float(standards.AQI_MEETS_STANDARD),
                                     categories, meeting, valid)
    bands = {name: np.ascontiguousarray(categories[:, k])
             for k, name in enumerate(AQI_CATEGORY_BANDS)}
    return bands | {"aqi_days_meeting_standard": meeting, "aqi_valid_days": valid}
