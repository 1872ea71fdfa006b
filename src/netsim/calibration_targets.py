"""Calibration targets of any year: what a statement publishes, completed from 2020.

``netsim calibrate --targets TARGETS.yaml`` reads a :class:`TargetsFile`: whatever
figures a year's statement gives — city annual means, any district or
station-group annual means, the CO p95 of daily means, the O3 p90 of MDA8, the
days meeting the standard and the heavy-pollution days.  :func:`expand_targets`
completes them into the full target set of the 2020 calibration
(``netsim/data/beijing_2020_targets.json``) so that what is not given keeps the
2020 spatial pattern:

* **Annual means (PM2.5, NO2, PM10, SO2).**  For each pollutant a factor ``f``
  scales every 2020 district and group value that is not given:

  - a city value given: ``f = city / m₂₀₂₀`` where ``m₂₀₂₀`` is netsim's city value
    of the 2020 district values (the mean over the network's urban stations of
    their district's value: 35.8 / 28.2 / 57.3 / 4.0 for PM2.5 / NO2 / PM10 / SO2,
    the statement's consistency note), so that netsim's city rule gives the
    published city figure;
  - else district values given: ``f`` = the mean of their ratios to 2020;
  - else ``f = 1`` (the 2020 values).

  Given district and group values replace the scaled ones.  A city value not
  given becomes netsim's city value of the completed district values (derived,
  listed in ``city_derived``).
* **CO p95, O3 p90 MDA8, days meeting the standard, heavy-pollution days.**  A
  figure not given is not a target: the parameter it would tune (CO and O3
  levels, stagnation amplitude, O3 day-to-day noise) keeps its value in the
  starting calibration (2020), and the figure follows from the model.

Tolerances are the 2020 calibration's (issue 6) unless the file gives others.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from netsim.errors import CalibrationError
from netsim.network import Network
from netsim.yamlfile import yaml_mapping

__all__ = ["TargetsFile", "expand_targets", "load_targets_file"]

ANNUAL_POLLUTANTS: tuple[str, ...] = ("PM2.5", "NO2", "PM10", "SO2")
"""Pollutants with annual-mean targets (the anchored ones of :mod:`netsim.truth`)."""

GROUPS: tuple[str, ...] = ("border_south", "border_north", "traffic", "background")
"""Station groups a statement may give figures for (netsim's area names)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tolerances(_Strict):
    """Allowed |achieved − target| per kind of figure (µg/m³; CO mg/m³; days)."""

    district: float = Field(1.0, gt=0)
    city: float = Field(3.0, gt=0)
    co_p95_daily: float = Field(0.1, gt=0)
    o3_p90_mda8: float = Field(5.0, gt=0)
    days_meeting_standard: float = Field(5.0, gt=0)
    heavy_pollution_days: float = Field(3.0, gt=0)
    group: float = Field(1.0, gt=0)


AnnualMeans = dict[str, float]


def _check_means(value: dict[str, float]) -> dict[str, float]:
    for p, v in value.items():
        if p not in ANNUAL_POLLUTANTS:
            raise ValueError(f"unknown pollutant {p!r}; expected {', '.join(ANNUAL_POLLUTANTS)}")
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{p}: {v} must be a positive number (µg/m³)")
    return value


class TargetsFile(_Strict):
    """A year's published figures (every field optional but ``year``).

    Annual means in µg/m³, CO p95 in mg/m³, day counts in days.
    """

    name: str = Field("custom", min_length=1, description="calibration name")
    year: int = Field(ge=1900, le=2100, description="year of the figures")
    source: str = Field("", description="where the figures come from")
    city_annual_mean: AnnualMeans = Field(default_factory=dict)
    districts: dict[str, AnnualMeans] = Field(default_factory=dict)
    groups: dict[str, AnnualMeans] = Field(default_factory=dict)
    co_p95_daily: float | None = Field(None, gt=0)
    o3_p90_mda8: float | None = Field(None, gt=0)
    days_meeting_standard: float | None = Field(None, ge=0, le=366)
    heavy_pollution_days: float | None = Field(None, ge=0, le=366)
    tolerances: Tolerances = Field(default_factory=Tolerances)

    @field_validator("city_annual_mean")
    @classmethod
    def _city(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_means(value)

    @field_validator("districts", "groups")
    @classmethod
    def _areas(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for means in value.values():
            _check_means(means)
        return value

    @field_validator("groups")
    @classmethod
    def _group_names(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        unknown = sorted(set(value) - set(GROUPS))
        if unknown:
            raise ValueError(f"unknown group {unknown[0]!r}; expected {', '.join(GROUPS)}")
        return value


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


def load_targets_file(path: str | os.PathLike[str]) -> TargetsFile:
    """Read and validate a targets YAML.

    Raises
    ------
    CalibrationError
        Unreadable file, malformed YAML or an invalid field (one line naming it).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalibrationError(f"{p}: cannot read the targets file ({exc.strerror or exc})"
                               ) from None
    data, _ = yaml_mapping(text, str(p), CalibrationError,
                           what="targets (year:, city_annual_mean: …)")
    try:
        return TargetsFile.model_validate(data)
    except ValidationError as exc:
        raise CalibrationError(f"{p}: {_first_error(exc)}") from None


def _urban_mean(network: Network, districts: dict[str, dict[str, float]], p: str) -> float:
    """netsim's city value (mean over urban stations) of district values of ``p``."""
    st = network.stations
    urban = st.loc[st["type"] == "urban", "district"]
    return float(np.mean([districts[d][p] for d in urban]))


def _factor(given: TargetsFile, base: dict[str, Any], network: Network, p: str) -> float:
    """Scale of the 2020 values of ``p`` not given (module docstring)."""
    if p in given.city_annual_mean:
        return given.city_annual_mean[p] / _urban_mean(network, base["districts"], p)
    ratios = [v[p] / base["districts"][d][p] for d, v in given.districts.items() if p in v]
    return float(np.mean(ratios)) if ratios else 1.0


def expand_targets(given: TargetsFile, base: dict[str, Any], network: Network) -> dict[str, Any]:
    """The full target set (the 2020 format) from ``given`` and the 2020 targets ``base``.

    Raises
    ------
    CalibrationError
        A district not in the 2020 statement.
    """
    unknown = sorted(set(given.districts) - set(base["districts"]))
    if unknown:
        raise CalibrationError(f"districts: unknown district {unknown[0]!r}; expected one of "
                               f"{', '.join(base['districts'])}")
    factor = {p: _factor(given, base, network, p) for p in ANNUAL_POLLUTANTS}
    districts = {d: {p: given.districts.get(d, {}).get(p, v * factor[p]) for p, v in dv.items()}
                 for d, dv in base["districts"].items()}
    groups = {g: {p: given.groups.get(g, {}).get(p, v * factor[p]) for p, v in gv.items()}
              for g, gv in base["groups"].items()}
    for g, gv in given.groups.items():
        groups[g] = groups.get(g, {}) | gv
    city = {p: given.city_annual_mean.get(p, round(_urban_mean(network, districts, p), 3))
            for p in ANNUAL_POLLUTANTS}
    scalars = ("co_p95_daily", "o3_p90_mda8", "days_meeting_standard", "heavy_pollution_days")
    return {
        "source": given.source,
        "year": given.year,
        "units": base["units"],
        "city_annual_mean": city,
        **{k: getattr(given, k) for k in scalars},
        "days": 366 if given.year % 4 == 0 and (given.year % 100 or given.year % 400 == 0)
        else 365,
        "districts": districts,
        "groups": groups,
        "tolerances": given.tolerances.model_dump(),
        "given": given.model_dump(exclude_defaults=True, exclude={"tolerances"}),
        "scale_factors": {p: round(f, 6) for p, f in factor.items()},
        "city_derived": sorted(set(ANNUAL_POLLUTANTS) - set(given.city_annual_mean)),
    }
