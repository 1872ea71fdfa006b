"""Map-error realism: is the truth's variability between stations like the real city's?

The OSSE's map errors are only as realistic as the truth's differences between
stations.  The check compares one figure computed the same way on real and on
synthetic readings: leave-one-out ordinary kriging of the annual means of the 12
UCI Beijing sites (:data:`UCI_SITES`), spherical variogram by
:func:`netsim.variogram.fit_network_variogram` (the recipe of ``netsim run``),
cross-validation by :func:`netsim.mapping.leave_one_out`, RMSE relative to the
sites' mean (%).

* Real: the shipped 2015 readings (``scenarios/readings/uci_beijing_2015``).
* Simulated: the truth (every instrument error and missing hour included) sampled
  at the same 12 positions, the figure averaged over realisations.

Annual means are the means of the valid 24-h means (≥ 20 hours, ``standards.md``
§1.1), without the annual validity rule (a site short of days still counts).
The figures are computed once by ``python -m netsim.calibration`` and stored in
the calibration file (``map_error_realism``); ``report.md`` quotes them
(:func:`realism_lines`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from netsim.mapping import leave_one_out
from netsim.network import Network
from netsim.standards import daily_means
from netsim.variogram import fit_network_variogram

__all__ = [
    "REALISM_POLLUTANTS",
    "UCI_SITES",
    "Realism",
    "annual_means",
    "real_loo",
    "realism_lines",
    "relative_loo",
    "simulated_loo",
]

UCI_SITES: tuple[str, ...] = (
    "dongsi", "tiantan", "guanyuan", "wanshouxigong", "aotizhongxin", "nongzhanguan",
    "wanliu", "gucheng", "shunyi", "pingchang", "huairou", "dingling",
)
"""The 12 UCI sites as stations of ``stations/beijing_35.csv`` (Changping is pingchang)."""

REALISM_POLLUTANTS: tuple[str, ...] = ("PM2.5", "PM10", "NO2", "SO2")
"""Pollutants whose realism the check covers (the issue's four)."""


def annual_means(hourly: np.ndarray) -> np.ndarray:
    """Mean of the valid 24-h means (n,) of hourly values (n, n_hours); NaN = no valid day."""
    daily = daily_means(hourly)
    valid = np.isfinite(daily)
    count = valid.sum(axis=-1)
    total = np.where(valid, daily, 0.0).sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def relative_loo(xy: np.ndarray, values: np.ndarray) -> float:
    """Leave-one-out kriging RMSE of ``values`` (n,) at ``xy`` (n, 2, EPSG:32650 m) relative
    to their mean, % (spherical variogram fitted to the values, global ordinary kriging).
    Sites without a value are left out."""
    ok = np.isfinite(values)
    xy, values = np.asarray(xy, float)[ok], np.asarray(values, float)[ok]
    variogram = fit_network_variogram(xy, values, "spherical").variogram
    return float(100.0 * leave_one_out(xy, values, variogram).rmse / values.mean())


def real_loo(readings_path: str | Path, network: Network, year: int = 2015,
             pollutants: tuple[str, ...] = REALISM_POLLUTANTS) -> dict[str, float]:
    """Relative LOO error (%) per pollutant of the real readings of the 12 UCI sites."""
    from netsim.readings import load_readings

    sites = network.select(ids=list(UCI_SITES))
    readings = load_readings(readings_path, sites, year, on_invalid="drop")
    return {p: relative_loo(sites.xy, annual_means(readings.values[p])) for p in pollutants}


def simulated_loo(world: Any, network: Network, realisations: range,
                  pollutants: tuple[str, ...] = REALISM_POLLUTANTS) -> dict[str, float]:
    """Relative LOO error (%) per pollutant of the truth ``world``
    (:class:`netsim.truth.TruthWorld`) measured at the 12 UCI sites, mean over
    ``realisations``."""
    sites = network.select(ids=list(UCI_SITES))
    figures: dict[str, list[float]] = {p: [] for p in pollutants}
    for r in realisations:
        readings = world.realise(r).sample_hourly(sites, pollutants=pollutants)
        for p in pollutants:
            figures[p].append(relative_loo(sites.xy, annual_means(readings.values[p])))
    return {p: float(np.mean(v)) for p, v in figures.items()}


@dataclass(frozen=True)
class Realism:
    """Simulated and real relative LOO errors (%) per pollutant, and how they were made."""

    simulated: dict[str, float]
    real: dict[str, float]
    seed: int
    realisations: int
    real_source: str

    def to_record(self) -> dict[str, Any]:
        """The calibration file's ``map_error_realism`` entry."""
        return {
            "statistic": "leave-one-out kriging RMSE of the annual means at the 12 UCI sites, "
            "% of their mean (spherical variogram, netsim.realism)",
            "simulated_pct": {p: round(v, 2) for p, v in self.simulated.items()},
            "real_pct": {p: round(v, 2) for p, v in self.real.items()},
            "seed": self.seed,
            "realisations": self.realisations,
            "real_source": self.real_source,
        }


def realism_lines(calibration: dict[str, Any], lang: str = "en") -> list[str]:
    """``map error realism`` lines (one per pollutant) from a calibration file's record,
    in ``lang`` (``"en"`` or ``"zh"``); one line saying so when the calibration has none."""
    from netsim.i18n import text

    record = calibration.get("map_error_realism")
    if not record:
        return [text("realism_missing", lang)]
    sim, real = record["simulated_pct"], record["real_pct"]
    return [text("realism_line", lang, sim=sim[p], real=real[p], p=p) for p in sim if p in real]
