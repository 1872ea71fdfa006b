"""Station values → kriged GeoTIFF, district statistics and PNG (``netsim krige``).

:func:`krige_to_raster` is the library form of ``netsim krige``: it takes one
value per station (an annual statistic, say), fits or loads a variogram,
cross-validates it (leave-one-out), kriges onto the Beijing grid and writes

* ``<out>`` — GeoTIFF with bands ``estimate`` and ``std`` (:mod:`netsim.rasters`);
* ``<stem>_districts.csv`` — :func:`netsim.areas.area_statistics` of the
  estimate (districts, development area, groups, city), the mean kriging
  standard deviation per area (``std_mean``), and the block-kriging estimate
  of each area's mean with its standard error (``block_mean``, ``block_se``,
  :func:`netsim.areas.block_kriged_area_means`);
* ``<stem>.png`` — :func:`netsim.maps.static_map` with the std panel.

:func:`read_station_values` reads the values file: either ``station_id,value``
or ``annual_by_station.csv`` from ``netsim stats`` (``station_id, pollutant,
statistic, value, valid_days``) filtered by pollutant and statistic.

The map is made as ``netsim run`` makes its maps: traffic stations are left out
(:data:`netsim.network.MAP_STATION_TYPES`; ``include_traffic=True`` keeps them)
and an ``auto`` variogram is fitted by :func:`netsim.variogram.fit_network_variogram`
(range bounded by the network's extent).  Doubts about the fit -- few stations,
a range at its bound, a leave-one-out MSDR far from 1 -- come back as
:attr:`KrigeOutput.warnings`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netsim.areas import area_statistics, block_kriged_area_means, territory_meeting
from netsim.atomic import output_files
from netsim.errors import NetworkError, ReadingsError, VariogramError
from netsim.grid import Grid
from netsim.kriging import cross_validate, krige
from netsim.network import MAP_STATION_TYPES
from netsim.rasters import write_raster
from netsim.variogram import (
    Variogram,
    VariogramFit,
    fit_network_variogram,
    msdr_warning,
    network_extent,
)

__all__ = [
    "CrossValidationSummary",
    "KrigeOutput",
    "krige_to_raster",
    "leave_one_out",
    "read_station_values",
]


@dataclass(frozen=True)
class CrossValidationSummary:
    """Leave-one-out cross-validation of a kriging setup.

    Attributes
    ----------
    station_ids : ndarray of str
    residuals : ndarray
        Estimate minus observed value at each left-out station (concentration units).
    standardised : ndarray
        ``residuals / kriging std``.
    me, rmse : float
        Mean error and root-mean-square error (concentration units).
    msdr : float
        Mean squared deviation ratio ``mean(standardised**2)``; ≈ 1 when the
        kriging variance is right (Cressie 1993, §3.2.2).
    """

    station_ids: np.ndarray
    residuals: np.ndarray
    standardised: np.ndarray
    me: float
    rmse: float
    msdr: float

    def to_dict(self) -> dict[str, float]:
        """``{"n", "me", "rmse", "msdr"}`` for tags and printing."""
        return {"n": int(self.residuals.size), "me": self.me, "rmse": self.rmse, "msdr": self.msdr}


@dataclass(frozen=True)
class KrigeOutput:
    """What :func:`krige_to_raster` wrote and computed.

    ``station_ids`` are the stations kriged; ``left_out`` the map stations
    without a value; ``excluded`` the stations left out by type (traffic,
    unless ``include_traffic``); ``warnings`` the doubts about the variogram
    (one sentence each).
    """

    raster_path: Path
    districts_path: Path
    map_path: Path | None
    variogram: Variogram
    fit: VariogramFit | None
    cross_validation: CrossValidationSummary
    station_ids: np.ndarray
    left_out: tuple[str, ...]
    area_statistics: pd.DataFrame
    territory: tuple[int, float] | None
    limit: float | None
    excluded: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def read_station_values(
    path: str | os.PathLike[str],
    network_ids: np.ndarray,
    *,
    pollutant: str | None = None,
    statistic: str | None = None,
) -> pd.Series:
    """Read one value per station.

    Parameters
    ----------
    path
        CSV with ``station_id, value`` or a ``netsim stats``
        ``annual_by_station.csv`` (``station_id, pollutant, statistic, value,
        valid_days``); for the latter ``statistic`` (e.g. ``annual_mean``) is
        required and rows are filtered by ``pollutant`` too.
    network_ids
        Station ids of the network.

    Returns
    -------
    pandas.Series
        Values (float, NaN = no value) indexed by station id, in network order;
        stations missing from the file are NaN.

    Raises
    ------
    ReadingsError
        Missing columns, non-numeric, infinite or negative values (concentrations
        are >= 0), duplicate station ids, or a stats file without ``statistic``.
    NetworkError
        Values for station ids that are not in the network.
    """
    p = Path(path)
    try:
        df = pd.read_csv(p, dtype={"station_id": str})
    except FileNotFoundError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ReadingsError(f"{p}: not a readable CSV ({exc}); expected station_id,value") from exc
    for col in ("station_id", "value"):
        if col not in df.columns:
            raise ReadingsError(
                f"{p}: no column {col!r}; expected 'station_id,value' or netsim stats' "
                "annual_by_station.csv"
            )
    if "statistic" in df.columns:
        if statistic is None:
            raise ReadingsError(
                f"{p}: the file has a 'statistic' column (netsim stats output); pass --statistic "
                f"(one of {', '.join(sorted(df['statistic'].astype(str).unique()))})"
            )
        df = df[df["statistic"].astype(str) == statistic]
        if "pollutant" in df.columns and pollutant is not None:
            df = df[df["pollutant"].astype(str) == pollutant]
        if df.empty:
            raise ReadingsError(
                f"{p}: no rows with pollutant {pollutant!r}, statistic {statistic!r}"
            )
    ids = df["station_id"].astype(str).str.strip()
    dup = ids[ids.duplicated()].unique().tolist()
    if dup:
        raise ReadingsError(f"{p}: station_id {dup[:5]} appear more than once; keep one value each")
    values = pd.to_numeric(df["value"], errors="coerce")
    bad = df["value"].notna() & values.isna()
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0])
        raise ReadingsError(
            f"{p}: value {df['value'].iloc[line]!r} of station {ids.iloc[line]!r} is not a number"
        )
    _check_concentrations(str(p), df.index.to_numpy(), ids.to_numpy(), values.to_numpy(float))
    known = set(map(str, network_ids))
    unknown = [s for s in ids if s not in known]
    if unknown:
        raise NetworkError(
            f"{p}: station_id {unknown[:5]} not in the network; check the ids or --stations"
        )
    series = pd.Series(values.to_numpy(dtype=float), index=ids.to_numpy())
    return series.reindex([str(s) for s in network_ids])


def _check_concentrations(where: str, rows: np.ndarray | None, ids, values: np.ndarray) -> None:
    """Refuse infinite and negative concentrations (NaN = no value is fine).

    ``rows``: the values' 0-based data rows in the file ``where`` (named as CSV
    lines, the header being line 1), or None for values given in memory.
    """
    bad = np.isinf(values) | (values < 0)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    at = where if rows is None else f"{where} line {int(rows[i]) + 2}"
    what = "is infinite" if np.isinf(values[i]) else "is negative"
    raise ReadingsError(
        f"{at}: value {values[i]:g} of station {str(ids[i])!r} {what}; concentrations are finite "
        "and >= 0 (leave the value empty for a station without one)"
    )


def leave_one_out(
    xy: np.ndarray,
    values: np.ndarray,
    variogram: Variogram,
    *,
    station_ids: np.ndarray | None = None,
    n_neighbours: int | None = None,
) -> CrossValidationSummary:
    """Leave-one-out ordinary-kriging cross-validation.

    Each station is predicted from all the others with the same variogram, by
    :func:`netsim.kriging.cross_validate` (closed form of Dubrule 1983 for the
    global neighbourhood, one kriging per station with ``n_neighbours``).
    Residuals here are *estimate minus observed* (the opposite sign of
    :attr:`netsim.kriging.CrossValidation.residuals`), so ``me`` > 0 means
    the kriging over-predicts.

    Parameters
    ----------
    xy
        (n, 2) station coordinates, metres (EPSG:32650); n ≥ 4.
    values
        (n,) observed values.
    variogram
        The model to check.
    station_ids
        Labels of the stations (default ``0..n-1``).
    n_neighbours
        Local kriging with this many nearest stations (None = global).

    Returns
    -------
    CrossValidationSummary

    Raises
    ------
    KrigingError
        Fewer than 4 stations, bad shapes (as :func:`netsim.kriging.cross_validate`).
    """
    values = np.asarray(values, dtype=float)
    cv = cross_validate(xy, values, variogram, n_neighbours=n_neighbours)
    resid = -np.asarray(cv.residuals, dtype=float)
    std = -np.asarray(cv.standardised, dtype=float)
    n = values.shape[-1]
    return CrossValidationSummary(
        station_ids=np.asarray(station_ids if station_ids is not None else np.arange(n)).astype(
            str
        ),
        residuals=resid,
        standardised=std,
        me=-cv.me,
        rmse=cv.rmse,
        msdr=cv.msdr,
    )


def _resolve_variogram(
    spec: str | os.PathLike[str] | Variogram, xy: np.ndarray, values: np.ndarray, model: str
) -> tuple[Variogram, VariogramFit | None, tuple[str, ...]]:
    """The variogram, its fit (None unless ``auto``) and the fit's warnings."""
    if isinstance(spec, Variogram):
        return spec, None, ()
    if str(spec) == "auto":
        fitted = fit_network_variogram(xy, values, model)
        if not fitted.fit.success:
            raise VariogramError(
                f"variogram fit ({model}) did not converge: {fitted.fit.message}; pass "
                "--variogram FILE (JSON/YAML) instead of auto"
            )
        return fitted.variogram, fitted.fit, fitted.warnings
    return Variogram.from_file(spec), None, ()


@dataclass(frozen=True)
class _MapStations:
    """Which stations of the network are kriged (``use``) and why the others are not."""

    in_map: np.ndarray  # bool per network station: of a type that is kriged
    use: np.ndarray  # ... and with a value
    values: np.ndarray  # (n_network,) float, NaN = no value
    left_out: tuple[str, ...]  # map stations without a value
    excluded: tuple[str, ...]  # stations of the types left out (traffic)


def _map_stations(
    network: Any, values: pd.Series, include_traffic: bool, source: str
) -> _MapStations:
    ids = np.asarray(network.ids).astype(str)
    vals = values.reindex(ids).to_numpy(dtype=float)
    _check_concentrations(source or "values", None, ids, vals)
    types = np.asarray(network.types).astype(str)
    in_map = np.ones(len(ids), bool) if include_traffic else np.isin(types, MAP_STATION_TYPES)
    have = np.isfinite(vals)
    use = have & in_map
    if use.sum() < 4:
        hint = "" if include_traffic or in_map.all() else (
            f" ({int((have & ~in_map).sum())} traffic stations with values are left out as "
            "netsim run leaves them out; --include-traffic keeps them)"
        )  # fmt: skip
        raise ReadingsError(
            f"{source or 'values'}: only {int(use.sum())} map stations have a value; "
            f"kriging needs at least 4{hint}"
        )
    return _MapStations(in_map, use, vals, tuple(ids[in_map & ~have]), tuple(ids[~in_map]))


def _default_limit(pollutant: str, statistic: str) -> float | None:
    try:
        from netsim.standards import limits

        return limits("gb3095-2012", 2).statistic_limit(pollutant, statistic)
    except (ImportError, KeyError):
        return None


def _district_table(grid, estimate, std, xy, v, vg, limit, say) -> pd.DataFrame:
    """Area statistics of the estimate, mean std and block-kriged area means per area."""
    stats = area_statistics(grid, estimate, limit=limit)
    std_stats = area_statistics(grid, std)
    stats["std_mean"] = std_stats["mean"].to_numpy()
    say("block kriging")
    blocks = block_kriged_area_means(grid, xy, v, vg, areas=stats["area"].tolist())
    stats["block_mean"] = blocks["block_mean"].to_numpy()
    stats["block_se"] = blocks["block_se"].to_numpy()
    return stats


def krige_to_raster(
    network: Any,
    values: pd.Series,
    *,
    pollutant: str,
    out: str | os.PathLike[str],
    resolution_m: float = 1000.0,
    variogram: str | os.PathLike[str] | Variogram = "auto",
    model: str = "spherical",
    statistic: str = "annual_mean",
    year: int | None = None,
    limit: float | None = None,
    n_neighbours: int | None = None,
    write_map: bool = True,
    values_source: str = "",
    progress: Callable[[str], None] | None = None,
    overwrite: bool = False,
    include_traffic: bool = False,
) -> KrigeOutput:
    """Krige one value per station onto the Beijing grid and write raster, CSV and PNG.

    The outputs are guarded before anything is computed
    (:func:`netsim.atomic.output_files`) and moved into place together at the end.

    Parameters
    ----------
    network
        :class:`netsim.network.Network` (uses ``.ids``, ``.xy``, ``.types``,
        ``.stations``, ``.source``).
    values
        Values indexed by station id (:func:`read_station_values`), finite and
        >= 0; NaN stations are left out (at least 4 map stations must remain).
    pollutant
        Name as in :data:`netsim.pollutants.POLLUTANTS` (tags, units, map).
    out
        GeoTIFF path; ``<stem>_districts.csv`` and ``<stem>.png`` go beside it.
    resolution_m
        Grid resolution, metres (100 m – 50 km).
    variogram
        ``"auto"`` (fit ``model`` by :func:`netsim.variogram.fit_network_variogram`,
        the recipe of ``netsim run``: range within ``min(5 km, 0.1 x extent)``
        to 2 x the network extent), a JSON/YAML file, or a :class:`Variogram`.
    statistic, year
        Recorded in the tags.
    limit
        Limit for ``share_above_limit`` and territory meeting; default: the
        GB 3095-2012 Grade II limit of ``statistic`` when there is one.
    n_neighbours
        Local kriging with this many nearest stations (None = global); the
        grid and the cross-validation only: the block means of the districts
        CSV always use the global neighbourhood.
    write_map
        Also write the PNG, with the map stations: those with a value filled,
        the others hollow (legend: "6 stations with values, 24 without").
    overwrite
        Replace files netsim wrote earlier at these paths (never files it did
        not write).
    include_traffic
        Krige traffic stations too (default: left out, as ``netsim run`` leaves
        them out of its maps: :data:`netsim.network.MAP_STATION_TYPES`).

    Returns
    -------
    KrigeOutput
        With ``warnings``: a fit on fewer than 10 stations, a fitted range at
        its bound, a leave-one-out MSDR outside [0.5, 2]
        (:func:`netsim.variogram.fit_network_variogram`, :func:`netsim.variogram.msdr_warning`).

    Raises
    ------
    ReadingsError
        Infinite or negative values, or fewer than 4 map stations with a value.
    OutputError
        An output cannot or must not be written (see :mod:`netsim.atomic`),
        e.g. ``out`` ends in ``.png`` (the map would overwrite the raster).
    """
    raster_path = Path(out)
    districts_path = raster_path.with_name(f"{raster_path.stem}_districts.csv")
    map_path = raster_path.with_suffix(".png") if write_map else None
    targets = [raster_path, districts_path, *([map_path] if map_path is not None else [])]
    with output_files(targets, overwrite=overwrite) as (tmp_raster, tmp_districts, *tmp_maps):
        return _krige_and_write(
            network, values, pollutant=pollutant, resolution_m=resolution_m,
            variogram=variogram, model=model, statistic=statistic, year=year, limit=limit,
            n_neighbours=n_neighbours, values_source=values_source,
            say=progress or (lambda _msg: None), include_traffic=include_traffic,
            paths=(raster_path, districts_path, map_path),
            tmp=(tmp_raster, tmp_districts, tmp_maps[0] if tmp_maps else None),
        )


def _krige_and_write(network: Any, values: pd.Series, *, pollutant: str, resolution_m: float,
                     variogram, model: str, statistic: str, year: int | None,
                     limit: float | None, n_neighbours: int | None, values_source: str,
                     say: Callable[[str], None], include_traffic: bool,
                     paths: tuple[Path, Path, Path | None], tmp: tuple[Path, Path, Path | None]
                     ) -> KrigeOutput:
    """The steps of :func:`krige_to_raster`: choose the map stations, fit, cross-validate,
    krige, and write the raster, the districts CSV and the PNG to their temporary paths."""
    from netsim.pollutants import POLLUTANTS

    ids = np.asarray(network.ids).astype(str)
    chosen = _map_stations(network, values, include_traffic, values_source)
    xy = np.asarray(network.xy, dtype=float)[chosen.use]
    v = chosen.values[chosen.use]
    used_ids = ids[chosen.use]
    if limit is None:
        limit = _default_limit(pollutant, statistic)

    say("variogram")
    vg, fit, warnings = _resolve_variogram(variogram, xy, v, model)
    say("cross-validation")
    cv = leave_one_out(xy, v, vg, station_ids=used_ids, n_neighbours=n_neighbours)
    msdr = msdr_warning(cv.msdr, len(v))
    warnings = (*warnings, *([msdr] if msdr else []))

    say("kriging")
    grid = Grid.for_beijing(resolution_m)
    result = krige(xy, v, grid.targets(), vg, n_neighbours=n_neighbours)
    estimate = grid.to_array(result.estimate, dtype=np.float32)
    std = grid.to_array(np.sqrt(np.maximum(result.variance, 0.0)), dtype=np.float32)

    units = POLLUTANTS[pollutant].units if pollutant in POLLUTANTS else ""
    tags = {
        "pollutant": pollutant,
        "statistic": statistic,
        "units": units,
        "year": "" if year is None else str(year),
        "network": str(getattr(network, "source", "")),
        "values": values_source,
        "variogram": vg.to_dict(),
        "cross_validation": cv.to_dict(),
        "stations_used": len(v),
        "stations_left_out": list(chosen.left_out),
        "stations_excluded_by_type": list(chosen.excluded),
        "network_extent_m": round(network_extent(xy), 1),
        "warnings": list(warnings),
        "method": "ordinary" + ("" if n_neighbours is None else f", {n_neighbours} neighbours"),
    }
    say("writing")
    write_raster(tmp[0], grid, {"estimate": estimate, "std": std}, tags)
    stats = _district_table(grid, estimate, std, xy, v, vg, limit, say)
    territory = territory_meeting(grid, estimate, limit) if limit is not None else None
    stats.to_csv(tmp[1], index=False, float_format="%.4g")
    if tmp[2] is not None:
        # the map stations only (traffic too with include_traffic); hollow: without a value
        from netsim.maps import static_map  # matplotlib only when a PNG is drawn

        static_map(
            grid, estimate, network.stations[chosen.in_map], pollutant=pollutant, limit=limit,
            path=tmp[2], std=std, units=units, has_value=chosen.use[chosen.in_map],
        )  # fmt: skip
    return KrigeOutput(
        raster_path=paths[0],
        districts_path=paths[1],
        map_path=paths[2],
        variogram=vg,
        fit=fit,
        cross_validation=cv,
        station_ids=used_ids,
        left_out=chosen.left_out,
        area_statistics=stats,
        territory=territory,
        limit=limit,
        excluded=chosen.excluded,
        warnings=warnings,
    )
