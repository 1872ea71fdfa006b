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
from netsim.maps import static_map
from netsim.rasters import write_raster
from netsim.variogram import Variogram, VariogramFit, fit_variogram

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
    """What :func:`krige_to_raster` wrote and computed."""

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
        Missing columns, non-numeric values, duplicate station ids, or a stats
        file without ``statistic``.
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
    known = set(map(str, network_ids))
    unknown = [s for s in ids if s not in known]
    if unknown:
        raise NetworkError(
            f"{p}: station_id {unknown[:5]} not in the network; check the ids or --stations"
        )
    series = pd.Series(values.to_numpy(dtype=float), index=ids.to_numpy())
    return series.reindex([str(s) for s in network_ids])


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
) -> tuple[Variogram, VariogramFit | None]:
    if isinstance(spec, Variogram):
        return spec, None
    if str(spec) == "auto":
        fit = fit_variogram(xy, values, model, n_lags=8)
        if not fit.success:
            raise VariogramError(
                f"variogram fit ({model}) did not converge: {fit.message}; pass "
                "--variogram FILE (JSON/YAML) instead of auto"
            )
        return fit.variogram, fit
    return Variogram.from_file(spec), None


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
) -> KrigeOutput:
    """Krige one value per station onto the Beijing grid and write raster, CSV and PNG.

    The outputs are guarded before anything is computed
    (:func:`netsim.atomic.output_files`) and moved into place together at the end.

    Parameters
    ----------
    network
        :class:`netsim.network.Network` (uses ``.ids``, ``.xy``, ``.stations``, ``.source``).
    values
        Values indexed by station id (:func:`read_station_values`); NaN
        stations are left out (at least 4 must remain).
    pollutant
        Name as in :data:`netsim.pollutants.POLLUTANTS` (tags, units, map).
    out
        GeoTIFF path; ``<stem>_districts.csv`` and ``<stem>.png`` go beside it.
    resolution_m
        Grid resolution, metres (100 m – 50 km).
    variogram
        ``"auto"`` (fit ``model`` by Cressie-weighted least squares on the
        station values), a JSON/YAML file, or a :class:`Variogram`.
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
        Also write the PNG.
    overwrite
        Replace files netsim wrote earlier at these paths (never files it did
        not write).

    Returns
    -------
    KrigeOutput

    Raises
    ------
    OutputError
        An output cannot or must not be written (see :mod:`netsim.atomic`),
        e.g. ``out`` ends in ``.png`` (the map would overwrite the raster).
    """
    from netsim.pollutants import POLLUTANTS

    raster_path = Path(out)
    districts_path = raster_path.with_name(f"{raster_path.stem}_districts.csv")
    map_path = raster_path.with_suffix(".png") if write_map else None
    targets = [raster_path, districts_path, *([map_path] if map_path is not None else [])]
    with output_files(targets, overwrite=overwrite) as (tmp_raster, tmp_districts, *tmp_maps):
        tmp_map = tmp_maps[0] if tmp_maps else None
        say = progress or (lambda _msg: None)
        ids = np.asarray(network.ids).astype(str)
        vals = values.reindex(ids).to_numpy(dtype=float)
        have = np.isfinite(vals)
        left_out = tuple(ids[~have])
        if have.sum() < 4:
            raise ReadingsError(
                f"{values_source or 'values'}: only {int(have.sum())} stations have a value; "
                "kriging needs at least 4"
            )
        xy = np.asarray(network.xy, dtype=float)[have]
        v = vals[have]
        used_ids = ids[have]

        if limit is None:
            try:
                from netsim.standards import limits

                limit = limits("gb3095-2012", 2).statistic_limit(pollutant, statistic)
            except (ImportError, KeyError):
                limit = None

        say("variogram")
        vg, fit = _resolve_variogram(variogram, xy, v, model)
        say("cross-validation")
        cv = leave_one_out(xy, v, vg, station_ids=used_ids, n_neighbours=n_neighbours)

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
            "stations_left_out": list(left_out),
            "method": "ordinary" + ("" if n_neighbours is None else f", {n_neighbours} neighbours"),
        }
        say("writing")
        write_raster(tmp_raster, grid, {"estimate": estimate, "std": std}, tags)

        stats = area_statistics(grid, estimate, limit=limit)
        std_stats = area_statistics(grid, std)
        stats["std_mean"] = std_stats["mean"].to_numpy()
        say("block kriging")
        blocks = block_kriged_area_means(grid, xy, v, vg, areas=stats["area"].tolist())
        stats["block_mean"] = blocks["block_mean"].to_numpy()
        stats["block_se"] = blocks["block_se"].to_numpy()
        territory = territory_meeting(grid, estimate, limit) if limit is not None else None
        stats.to_csv(tmp_districts, index=False, float_format="%.4g")
        if map_path is not None:
            static_map(
                grid, estimate, network, pollutant=pollutant, limit=limit, path=tmp_map, std=std,
                units=units,
            )  # fmt: skip
        return KrigeOutput(
            raster_path=raster_path,
            districts_path=districts_path,
            map_path=map_path,
            variogram=vg,
            fit=fit,
            cross_validation=cv,
            station_ids=used_ids,
            left_out=left_out,
            area_statistics=stats,
            territory=territory,
            limit=limit,
        )
