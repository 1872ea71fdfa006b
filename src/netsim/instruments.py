"""Measurement error of station instruments: one model for the simulation and the maps.

A station's reading of the true hourly concentration ``c`` is::

    measured = c · (1 + (bias_pct + b_unit)/100) · (1 + noise_pct/100 · ε),   clipped at 0

* ``ε ~ N(0, 1)``, independent every hour (random error);
* ``b_unit ~ N(0, unit_bias_sd_pct²)``, drawn once per instrument (station,
  realisation and pollutant): the unit-to-unit spread of a fleet around its
  class bias;
* ``bias_pct``: the systematic bias of the instrument class (+10 % for low-cost
  optical sensors), not corrected by netsim — a planner would not know it.

Each station takes ``noise_pct`` and ``bias_pct`` from its own columns when they
are given (a scenario's ``add``/``sensors`` change or the network file) and from its
instrument class (:data:`INSTRUMENTS`) otherwise; ``unit_bias_sd_pct``, missing
hours and outages always come from the class.  The same :class:`StationErrors`
drives both :meth:`netsim.truth.TruthRealisation.sample_hourly` (the simulated
error) and the kriging of ``netsim run`` (:func:`annual_mean_error_variance`, the
error the maps account for), so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from netsim.errors import NetworkError

__all__ = ["INSTRUMENTS", "InstrumentClass", "StationErrors", "annual_mean_error_variance"]


@dataclass(frozen=True)
class InstrumentClass:
    """Measurement-error model of a class of instruments (see the module docstring).

    Attributes
    ----------
    noise_pct
        Standard deviation of the hourly random error, % of the true value.
    bias_pct
        Systematic bias of the class, % of the true value.
    unit_bias_sd_pct
        Standard deviation of the instrument-to-instrument bias around
        ``bias_pct``, %.
    missing_pct
        Share of hours lost at random, %.
    outages_per_year
        Expected number of multi-hour outages (all pollutants of the station).
    outage_hours
        (min, max) length of an outage, hours (uniform).
    """

    noise_pct: float
    bias_pct: float
    unit_bias_sd_pct: float = 0.0
    missing_pct: float = 0.0
    outages_per_year: float = 0.0
    outage_hours: tuple[int, int] = (2, 24)


INSTRUMENTS: dict[str, InstrumentClass] = {
    # Automatic reference analysers (beta attenuation / TEOM, chemiluminescence,
    # UV photometry): a few % hourly error, QA/QC keeps bias within ~2 %;
    # national platform data capture is typically > 95 %; outages are kept short so
    # the HJ 663 annual validity rules (>= 27 valid days a month) rarely bite.
    "reference": InstrumentClass(
        noise_pct=3.0,
        bias_pct=0.0,
        unit_bias_sd_pct=2.0,
        missing_pct=1.0,
        outages_per_year=1.0,
        outage_hours=(2, 8),
    ),
    # Low-cost optical PM / electrochemical gas sensors after field calibration:
    # typically 15–30 % hourly error and a positive humidity-driven bias.
    "lowcost": InstrumentClass(
        noise_pct=20.0,
        bias_pct=10.0,
        unit_bias_sd_pct=8.0,
        missing_pct=3.0,
        outages_per_year=6.0,
        outage_hours=(2, 48),
    ),
}
"""Instrument classes by name (``Network.stations["instrument"]``)."""


@dataclass(frozen=True)
class StationErrors:
    """The error parameters of every station of a network (arrays over stations, %).

    Build with :meth:`of`; ``classes`` are the stations' :class:`InstrumentClass`.
    """

    classes: tuple[InstrumentClass, ...]
    noise_pct: np.ndarray
    bias_pct: np.ndarray
    unit_bias_sd_pct: np.ndarray

    @classmethod
    def of(cls, network: Any) -> StationErrors:
        """Error parameters of ``network``'s stations (own columns first, then the class).

        Raises
        ------
        NetworkError
            A station's instrument class is unknown (names the station and the classes).
        """
        st = network.stations
        n = len(st)
        ids = (np.asarray(st["station_id"], dtype=object).astype(str)
               if "station_id" in st else np.arange(n).astype(str))
        names = (np.asarray(st["instrument"], dtype=object).astype(str)
                 if "instrument" in st else np.full(n, "reference"))
        classes = []
        for sid, name in zip(ids, names, strict=True):
            if name not in INSTRUMENTS:
                raise NetworkError(
                    f"{getattr(network, 'source', '<network>')} station {sid!r}, field "
                    f"'instrument': unknown instrument class {name!r}; expected one of "
                    f"{', '.join(INSTRUMENTS)}"
                )
            classes.append(INSTRUMENTS[name])
        own_noise = _optional_column(st, "noise_pct", n)
        own_bias = _optional_column(st, "bias_pct", n)
        return cls(
            classes=tuple(classes),
            noise_pct=np.where(np.isnan(own_noise), [c.noise_pct for c in classes], own_noise),
            bias_pct=np.where(np.isnan(own_bias), [c.bias_pct for c in classes], own_bias),
            unit_bias_sd_pct=np.array([c.unit_bias_sd_pct for c in classes], dtype=float),
        )


def annual_mean_error_variance(errors: StationErrors, annual_mean: np.ndarray,
                               valid_hours: np.ndarray) -> np.ndarray:
    """Measurement-error variance of each station's annual mean (concentration²).

    ``(a/(1 + b/100) · u/100)² + (a · e/100)² / N`` with ``a`` the measured annual
    mean, ``b`` the systematic bias, ``u`` the unit-to-unit bias spread, ``e`` the
    hourly random error and ``N`` the valid hours (at least 1): the unit's bias
    scales the truth (``a/(1 + b/100)``) and is shared by all its hours, the random
    error averages out over them.  The systematic bias itself is not an error
    *variance* (it is the same for every unit of the class) and is not corrected.
    NaN where ``annual_mean`` is NaN.
    """
    a = np.asarray(annual_mean, dtype=float)
    hours = np.maximum(np.asarray(valid_hours), 1)
    truth_scale = a / (1.0 + errors.bias_pct / 100.0)
    return ((truth_scale * errors.unit_bias_sd_pct / 100.0) ** 2
            + (a * errors.noise_pct / 100.0) ** 2 / hours)


def _optional_column(frame: Any, name: str, n: int) -> np.ndarray:
    if name not in frame:
        return np.full(n, np.nan)
    return np.asarray(frame[name], dtype=float)
