"""Scenario runs on real readings: the statement's figures and maps from a measured year.

A scenario with ``readings:`` replaces the synthetic truth by the hourly readings
the network actually took (:func:`netsim.readings.load_readings`).  Only changes
that need no model of the air between stations apply — ``remove``, ``retype`` and
``outage`` (which masks real hours) — so the baseline and scenario figures come
straight from measurements, the statement's way, with no Monte Carlo and hence no
intervals (:data:`netsim.scenario.REAL_READINGS_CHANGES`).

Each network's annual maps are kriged from its own stations
(:func:`netsim.measure.measure_network`, truth unknown).  How far a map is from
the truth is measured where the truth is known:

* by leave-one-out cross-validation at each network's map stations;
* at the stations the scenario removes: their real annual means are held-out
  truth, compared with the scenario map's kriged estimate there
  (:func:`held_out_errors`).

:func:`load_conditioning_data` reads the readings of ``truth.condition_on`` the same
way for a truth conditioned on them (:mod:`netsim.conditional`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from netsim.blas import single_threaded_blas
from netsim.conditional import ConditioningData, conditioning_data
from netsim.grid import Grid
from netsim.measure import (
    MAP_STATION_TYPES,
    NetworkOutcome,
    _station_annual_means,
    krige_map,
    map_inputs,
    measure_network,
)
from netsim.network import Network
from netsim.readings import HourlyReadings, load_readings
from netsim.scenario import Scenario
from netsim.truth import KerbParameters, TruthParameters, load_calibration

__all__ = ["HELD_OUT_COLUMNS", "held_out_errors", "load_conditioning_data",
           "measure_real_readings"]

HELD_OUT_COLUMNS = ("station_id", "pollutant", "observed", "estimate", "kriging_std", "error")
"""Columns of ``scenario/held_out.csv``: a removed station's real annual mean of 24-h
means (µg/m³; CO mg/m³), the scenario map's estimate and kriging std there, and
``error = estimate - observed``."""

HELD_OUT_STATISTICS = ("held_out_me", "held_out_rmse", "held_out_n")
"""Map errors at the removed stations (``source = error``, ``area = city``)."""


def load_run_readings(scenario: Scenario, network: Network) -> HourlyReadings:
    """The scenario's real readings of ``network``'s stations for ``scenario.year``.

    Every option of the YAML's ``readings:`` (files or folders, hour label, invalid
    rows, units, format, encoding) is passed to :func:`netsim.readings.load_readings`,
    so a run reads the files exactly as ``netsim stats`` with the same options does.
    """
    return _load_section(scenario, network, scenario.readings, scenario.readings_paths())


def _load_section(scenario: Scenario, network: Network, section, paths) -> HourlyReadings:
    """Readings of ``network`` for ``scenario.year`` as a ``ReadingsSection`` describes them."""
    assert section is not None
    return load_readings(paths[0] if len(paths) == 1 else paths, network, scenario.year,
                         hour_label=section.hour_label, on_invalid=section.on_invalid,
                         units=section.units, layout=section.format,
                         encoding=section.encoding)


@single_threaded_blas()
def load_conditioning_data(scenario: Scenario, network: Network) -> ConditioningData:
    """The real readings of ``truth.condition_on`` prepared for a conditioned truth
    (:func:`netsim.conditional.conditioning_data`), read like ``readings:``.

    Raises
    ------
    ScenarioError
        Missing file, too few stations, a station outside Beijing (names the field).
    ReadingsError
        The readings are invalid or hold nothing of ``scenario.year``.
    """
    paths = scenario.condition_paths()
    readings = _load_section(scenario, network, scenario.truth.condition_on, paths)
    where = f"{scenario.source}: " if scenario.source is not None else ""
    return conditioning_data(readings, network, list(scenario.pollutants),
                             source=", ".join(str(p) for p in paths),
                             field=f"{where}truth.condition_on",
                             kerb=_calibration_kerb(scenario))


def _calibration_kerb(scenario: Scenario) -> KerbParameters:
    """The kerbside increment of the scenario's ``truth.calibration``."""
    parameters = load_calibration(scenario.truth.calibration)["parameters"]
    return TruthParameters.model_validate(parameters).kerb


@single_threaded_blas()
def measure_real_readings(scenario: Scenario, networks: dict[str, Network], grid: Grid
                          ) -> dict[str, NetworkOutcome]:
    """Every network measured by the real readings (the one "realisation" of the run).

    The readings are loaded once for the base network; the scenario network takes its
    stations' rows (retyped stations keep their readings) with the outages applied
    (:meth:`netsim.scenario.Scenario.mask_readings`, draws seeded by ``truth.seed``).

    Raises
    ------
    ReadingsError
        The readings file is invalid or holds nothing of ``scenario.year``.
    """
    base = networks["baseline"]
    readings = load_run_readings(scenario, base)
    outcomes = {}
    for name, network in networks.items():
        own = readings if name == "baseline" else scenario.mask_readings(
            readings.select(network.ids), network, 0)
        outcomes[name] = measure_network(scenario, network, own, grid, truth=None)
    if "scenario" in networks:
        table = held_out_errors(scenario, base, networks["scenario"], readings)
        outcomes["scenario"].held_out = table
        outcomes["scenario"].scalars = pd.concat(
            [outcomes["scenario"].scalars, _held_out_scalars(table, scenario.pollutants)],
            ignore_index=True)
    return outcomes


def held_out_errors(scenario: Scenario, base: Network, changed: Network,
                    readings: HourlyReadings) -> pd.DataFrame:
    """The scenario map's error at the stations it removed (their readings are the truth).

    For each pollutant, the scenario network's map inputs (its map stations' real
    annual means, variogram and error variances — exactly what its map is kriged
    from) are kriged at the removed stations that have a valid annual mean in the
    base readings.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`HELD_OUT_COLUMNS`, one row per removed station and pollutant
        (empty when the scenario removes no measured station).
    """
    removed = np.setdiff1d(base.ids, changed.ids)
    rows = []
    if removed.size == 0:
        return pd.DataFrame(rows, columns=list(HELD_OUT_COLUMNS))
    held = base.index_of(list(removed))
    base_annual = _station_annual_means(readings, scenario.pollutants, scenario.year,
                                        scenario.annual_rule)
    own = scenario.mask_readings(readings.select(changed.ids), changed, 0)
    annual = _station_annual_means(own, scenario.pollutants, scenario.year, scenario.annual_rule)
    map_stations = np.isin(changed.types, MAP_STATION_TYPES)
    for p in scenario.pollutants:
        observed = base_annual[p][held]
        ok = np.isfinite(observed)
        inputs = map_inputs(scenario, changed, own, annual[p], map_stations, p)
        if inputs is None or not ok.any():
            continue
        result = krige_map(scenario, inputs, base.xy[held[ok]])
        std = np.sqrt(np.maximum(result.variance, 0.0))
        for sid, obs, est, sd in zip(removed[ok], observed[ok], result.estimate, std,
                                     strict=True):
            rows.append((str(sid), p, float(obs), float(est), float(sd), float(est - obs)))
    return pd.DataFrame(rows, columns=list(HELD_OUT_COLUMNS))


def _held_out_scalars(table: pd.DataFrame, pollutants: list[str]) -> pd.DataFrame:
    """Mean error, RMSE and count of the held-out errors per pollutant (a reason where
    no removed station has a valid annual mean)."""
    rows = []
    for p in pollutants:
        err = table.loc[table["pollutant"] == p, "error"].to_numpy(dtype=float)
        if err.size == 0:
            why = f"not computed: no removed station has a valid {p} annual mean"
            rows += [("error", "city", p, s, np.nan, why) for s in HELD_OUT_STATISTICS]
            continue
        values = (float(err.mean()), float(np.sqrt(np.mean(err**2))), float(err.size))
        rows += [("error", "city", p, s, v, "")
                 for s, v in zip(HELD_OUT_STATISTICS, values, strict=True)]
    return pd.DataFrame(rows, columns=["source", "area", "pollutant", "statistic", "value",
                                       "reason"])
