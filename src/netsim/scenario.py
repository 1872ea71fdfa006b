"""Scenario YAML: the pydantic schema, loading with located errors, and network building.

A scenario names a base network, an ordered list of changes
(:mod:`netsim.changes`), the truth settings and seed, the number of Monte
Carlo realisations, pollutants, year, grid, kriging settings, the standard
version and the outputs.  ``netsim schema`` prints the JSON Schema of
:class:`Scenario`; the README's "Scenario YAML" section documents every field.

Errors
------
Every problem is a :class:`netsim.errors.ScenarioError` with a one-line message
``FILE:LINE: PATH: problem; hint``, where PATH is the YAML path of the field
(``changes[2].lon``): YAML syntax errors (with line and column), duplicate keys,
unknown keys (with a "did you mean" suggestion), wrong types or values, unknown
station ids and new stations outside Beijing (found when the changes are applied
to the base network in :meth:`Scenario.build_network`).

Paths
-----
``base_network`` is resolved against the YAML file's directory first, then the
current working directory (absolute paths are used as given).

Randomness
----------
All random choices derive from ``truth.seed`` (:attr:`Scenario.seed`): change
``i`` of the list is applied with ``numpy.random.default_rng([seed, 1, i])``;
the outage masks of realisation ``r`` use ``default_rng([seed, 2, r, i])``, so
baseline and scenario runs with the same seed see the same random draws.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from netsim.changes import (
    CHANGE_KINDS,
    CHANGE_MODELS,
    Change,
    InstrumentName,
    Outage,
    StationId,
    StationType,
    _Model,
    _Point,
)
from netsim.errors import ScenarioError
from netsim.pollutants import POLLUTANT_NAMES, pollutant
from netsim.truth import TruthSettings
from netsim.yamlfile import line_of, yaml_mapping

if TYPE_CHECKING:  # pragma: no cover
    from netsim.network import Network
    from netsim.readings import HourlyReadings

__all__ = [
    "CHANGE_TABLE_COLUMNS",
    "DEFAULT_BASE_NETWORK",
    "CandidateSite",
    "FixedVariogram",
    "GridSettings",
    "KrigingSettings",
    "OptimiseSettings",
    "OutputSettings",
    "ReadingsSection",
    "Scenario",
    "TruthSection",
    "change_table",
    "load_scenario",
    "scenario_json_schema",
]

DEFAULT_BASE_NETWORK = "stations/beijing_35.csv"
"""Base network used when a scenario does not name one."""

CHANGE_TABLE_COLUMNS: tuple[str, ...] = (
    "station_id", "name", "name_zh", "type", "district", "direction",
    "lon", "lat", "x", "y", "instrument", "change",
)
"""Columns of :func:`change_table` (= ``DIR/<net>/network.csv`` of a run)."""

_NETWORK_STREAM = 1
_OUTAGE_STREAM = 2


def _normalise_pollutant(value: Any) -> Any:
    """``pm25`` → ``PM2.5``; unknown names pass through to the Literal check (with a hint)."""
    if isinstance(value, str):
        try:
            return pollutant(value).name
        except KeyError:
            return value
    return value


PollutantName = Annotated[
    Literal["PM2.5", "PM10", "NO2", "SO2", "O3", "CO"], BeforeValidator(_normalise_pollutant)
]

VariogramModel = Literal["spherical", "exponential", "gaussian", "matern"]


# ----------------------------------------------------------------------------
# Sections
# ----------------------------------------------------------------------------


class GridSettings(_Model):
    """Kriging/truth grid over Beijing (``netsim.grid.Grid.for_beijing``)."""

    resolution_m: float = Field(1000.0, ge=100, le=20000, allow_inf_nan=False,
                                description="cell size, metres")


class FixedVariogram(_Model):
    """A fixed variogram (``netsim.variogram.Variogram`` parameters).

    Units: ``psill`` and ``nugget`` in (concentration unit)², ``range`` in metres.
    """

    model: VariogramModel = Field(description="variogram model")
    psill: float = Field(gt=0, allow_inf_nan=False, description="partial sill")
    range: float = Field(gt=0, allow_inf_nan=False, description="range, metres")
    nugget: float = Field(0.0, ge=0, allow_inf_nan=False, description="nugget")


class KrigingSettings(_Model):
    """How the annual maps are kriged (``netsim.kriging.krige``)."""

    variogram: Literal["auto"] | FixedVariogram = Field(
        "auto", description="'auto' (fitted to each network's data) or fixed parameters")
    variograms: dict[PollutantName, FixedVariogram] = Field(
        default_factory=dict, description="per-pollutant fixed variograms (override variogram)")
    model: VariogramModel = Field("spherical", description="model fitted when variogram is auto")
    n_neighbours: int | None = Field(
        None, ge=3, le=1000, description="nearest stations used per target (null = all)")
    drift: Literal["none", "linear"] = Field(
        "none", description="'linear' = universal kriging with a linear drift in x, y")

    def variogram_for(self, pollutant_name: str) -> FixedVariogram | None:
        """The fixed variogram of a pollutant, or None when it is fitted ('auto')."""
        fixed = self.variograms.get(pollutant(pollutant_name).name)  # type: ignore[call-overload]
        if fixed is not None:
            return fixed
        return None if self.variogram == "auto" else self.variogram  # type: ignore[return-value]


class OutputSettings(_Model):
    """Optional outputs of ``netsim run``."""

    rasters: bool = Field(True, description="annual-mean GeoTIFFs (estimate, std, truth, error)")
    maps: bool = Field(True, description="static PNG maps")
    web_map: bool = Field(True, description="folium map.html")
    time_resolved: Literal["none", "day", "hour"] = Field(
        "none", description="also krige every day (or hour) of the year and map per-cell annual "
                            "statistics: days above the 24-h limit, percentiles, AQI day counts")
    time_resolved_realisations: int = Field(
        1, ge=1, le=1000, description="realisations (the first N) that get time-resolved maps")
    colour_classes: Literal["continuous", "statement"] | dict[PollutantName, list[float]] = Field(
        "continuous", description="colours of the PNG maps: 'continuous', 'statement' (discrete "
                                  "classes of netsim.maps.STATEMENT_CLASS_WIDTHS: PM2.5 5, PM10 "
                                  "10, NO2 5, SO2 1, O3 10 µg/m³, CO 0.1 mg/m³) or class edges "
                                  "per pollutant, e.g. {PM2.5: [25, 30, 35, 40, 45]}")

    @field_validator("colour_classes")
    @classmethod
    def _edges_increase(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for p, edges in value.items():
                if len(edges) < 2 or any(b <= a for a, b in pairwise(edges)):
                    raise ValueError(f"{p}: class edges must be at least 2 increasing numbers, "
                                     f"got {edges}")
        return value


def _readings_as_mapping(value: Any) -> Any:
    """``readings: FILE`` (or a list of files) is short for ``readings: {path: FILE}``."""
    return {"path": value} if isinstance(value, str | os.PathLike | list) else value


class ReadingsSection(_Model):
    """Real hourly readings measured by the network, in place of the synthetic truth.

    A run on readings computes the statement's figures straight from them (no
    Monte Carlo: one set of figures, no intervals); only changes that need no
    model of the air between stations apply: ``remove``, ``retype``, ``outage``.
    The files are read by :func:`netsim.readings.load_readings` (any layout of
    :mod:`netsim.readers`: long, UCI per-site, national wide; compressed; UTF-8 or
    GB18030), exactly as ``netsim stats`` reads them.
    """

    path: str | list[str] = Field(
        min_length=1, description="readings file or folder, or a list of them (any layout "
                                  "netsim reads); relative paths: YAML directory, then CWD")
    hour_label: Literal["start", "end"] | None = Field(
        None, description="times label the hour's 'start' or 'end'; null (default): the "
                          "layout's own (long and UCI: start, national: end)")
    on_invalid: Literal["raise", "drop"] = Field(
        "raise", description="invalid rows: reject the file ('raise') or drop and count them")
    units: dict[PollutantName, str] = Field(
        default_factory=dict, description="units of values the files do not state, per "
                                          "pollutant, e.g. {CO: ug/m3} (ug/m3 or mg/m3)")
    format: Literal["auto", "long", "uci", "national"] = Field(
        "auto", description="readings layout; auto detects it from each file's header")
    encoding: Literal["auto", "utf-8", "gb18030"] = Field(
        "auto", description="CSV text encoding; auto: UTF-8 (BOM or not), else GB18030")

    @field_validator("path")
    @classmethod
    def _paths_not_empty(cls, value: str | list[str]) -> str | list[str]:
        items = [value] if isinstance(value, str) else value
        if not items or any(not str(v).strip() for v in items):
            raise ValueError("give at least one readings file or folder, none empty")
        return value

    @field_validator("units")
    @classmethod
    def _known_units(cls, value: dict[str, str]) -> dict[str, str]:
        from netsim.units import parse_unit, unit_problem

        for p, unit in value.items():
            if parse_unit(unit) is None:
                raise ValueError(f"{p}: {unit_problem(unit)}")
        return value

    @property
    def paths(self) -> list[str]:
        """``path`` as a list."""
        return [self.path] if isinstance(self.path, str) else list(self.path)


class TruthSection(TruthSettings):
    """The ``truth:`` section: :class:`netsim.truth.TruthSettings` (its ``year`` follows
    ``year``) plus ``condition_on``, real readings the truth is conditioned on
    (:mod:`netsim.conditional`)."""

    condition_on: Annotated[ReadingsSection | None, BeforeValidator(_readings_as_mapping)] = (
        Field(None, description="real hourly readings of year (FILE, FOLDER or {path, "
                                "hour_label, on_invalid, units, format, encoding}) the truth is "
                                "conditioned on: each realisation equals them at the stations "
                                "that measured and is simulated between them "
                                "(netsim.conditional); calibration, anomaly_strength and roads "
                                "are then unused"))


REAL_READINGS_CHANGES: tuple[str, ...] = ("remove", "retype", "outage")
"""Change kinds a run on real readings can simulate: they only drop, regroup or mask
stations that exist; ``add``, ``relocate`` and ``sensors`` need values where no
station measured, i.e. the synthetic truth."""


class CandidateSite(_Point):
    """A candidate position for a new station (lon/lat or x/y)."""

    id: StationId | None = Field(None, description="id of the site if chosen")


class OptimiseSettings(_Model):
    """Greedy placement of new stations (``optimise_new_sites.yaml``)."""

    k: int = Field(gt=0, le=100, description="number of new stations to place")
    candidates: Literal["all_cells"] | list[CandidateSite] = Field(
        "all_cells", description="'all_cells' (grid cell centres) or a list of positions")
    candidate_spacing_m: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="with all_cells: use a coarser candidate lattice (metres; null = grid)")
    objective: Literal["kriging_variance", "truth_rmse"] = Field(
        "kriging_variance", description="what each added site should reduce most")
    pollutant: PollutantName = Field("PM2.5", description="pollutant of the objective")
    type: StationType = Field("urban", description="class of the new stations")
    instrument: InstrumentName = Field("reference", description="instrument of new stations")

    @model_validator(mode="after")
    def _candidates_enough(self) -> OptimiseSettings:
        if isinstance(self.candidates, list) and len(self.candidates) < self.k:
            raise ValueError(f"{len(self.candidates)} candidates for k = {self.k} new sites; "
                             "give at least k candidates or use candidates: all_cells")
        return self


# ----------------------------------------------------------------------------
# The scenario
# ----------------------------------------------------------------------------


class Scenario(_Model):
    """A network-design experiment, as written in a scenario YAML file.

    Load with :meth:`from_yaml` (or :func:`load_scenario`).  Field defaults
    live here and are listed by ``netsim schema``.
    """

    name: str = Field(min_length=1, description="short name (default: the file name)")
    description: str = Field("", description="what the scenario tests, in plain words")
    base_network: str = Field(
        DEFAULT_BASE_NETWORK,
        description="base network file; relative paths: YAML directory, then CWD")
    changes: list[Change] = Field(default_factory=list, description="ordered network changes")
    truth: TruthSection = Field(
        default_factory=TruthSection,
        description="truth world settings (netsim.truth.TruthSettings, plus condition_on); "
                    "truth.seed seeds the run")
    realisations: int = Field(20, ge=1, le=1000, description="Monte Carlo realisations")
    pollutants: list[PollutantName] = Field(
        default_factory=lambda: list(POLLUTANT_NAMES), min_length=1,
        description="pollutants to simulate")
    year: int = Field(2020, ge=2013, le=2100, description="calendar year simulated")
    grid: GridSettings = Field(default_factory=GridSettings, description="grid")
    kriging: KrigingSettings = Field(default_factory=KrigingSettings, description="kriging")
    standard: Literal["gb3095-2012", "gb3095-2026"] = Field(
        "gb3095-2012", description="limits and AQI version")
    city_rule: Literal["urban", "central12"] | list[StationId] = Field(
        "urban", description="stations making the city value: 'urban' (every urban station, "
                             "HJ 663), 'central12' or a list of station ids (netsim.stats)")
    outputs: OutputSettings = Field(default_factory=OutputSettings, description="outputs")
    optimise: OptimiseSettings | None = Field(
        None, description="greedy new-site placement (optional)")
    readings: Annotated[ReadingsSection | None, BeforeValidator(_readings_as_mapping)] = Field(
        None, description="real hourly readings of year (FILE, FOLDER or {path, hour_label, "
                          "on_invalid, units, format, encoding}) in place of the synthetic "
                          "truth")
    monthly_rule: bool = Field(
        True, description="HJ 663 monthly validity rule (>= 27 valid days a month, 25 in "
                          "February); false keeps only the >= 324 days a year rule")
    lang: Literal["en", "zh"] = Field(
        "en", description="language of report.md, report.html, the PNG maps and map.html: "
                          "'en' or 'zh' (Chinese)")

    _source: Path | None = PrivateAttr(None)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        if self.truth.year != self.year:
            if "year" in self.truth.model_fields_set:
                raise ValueError(f"truth.year: {self.truth.year} differs from year {self.year}; "
                                 "give the year once, at the top level")
            self.truth = self.truth.model_copy(update={"year": self.year})
        if len(set(self.pollutants)) != len(self.pollutants):
            dup = next(p for p in self.pollutants if self.pollutants.count(p) > 1)
            raise ValueError(f"pollutants: {dup!r} is listed twice")
        if self.optimise is not None and self.optimise.pollutant not in self.pollutants:
            raise ValueError(f"optimise.pollutant: {self.optimise.pollutant!r} is not among "
                             f"pollutants {self.pollutants}")
        if self.readings is not None:
            self._check_real_readings()
        if self.truth.condition_on is not None:
            self._check_conditioned_truth()
        for i, ch in enumerate(self.changes):
            if isinstance(ch, Outage) and ch.start is not None and ch.end is not None:
                if ch.end.year < self.year or ch.start.year > self.year:
                    raise ValueError(
                        f"changes[{i}]: outage {ch.start}..{ch.end} does not overlap the "
                        f"simulated year {self.year}")
        return self

    def _check_real_readings(self) -> None:
        """What a run on real readings cannot do (no model of the air between stations)."""
        for i, ch in enumerate(self.changes):
            if ch.kind not in REAL_READINGS_CHANGES:
                raise ValueError(
                    f"changes[{i}]: kind {ch.kind} needs the synthetic truth: with readings: only "
                    f"{', '.join(REAL_READINGS_CHANGES)} can be simulated (nothing was measured "
                    "where no station stood); drop readings: to run it on the synthetic truth")
        if self.optimise is not None:
            raise ValueError("optimise needs the synthetic truth (new sites have no readings); "
                             "drop readings: to optimise on the synthetic truth")
        if "realisations" in self.model_fields_set and self.realisations != 1:
            raise ValueError(f"realisations: {self.realisations}, but real readings are one "
                             "measured year (no Monte Carlo); drop realisations")
        self.realisations = 1

    def _check_conditioned_truth(self) -> None:
        """What a truth conditioned on real readings cannot be combined with."""
        if self.readings is not None:
            raise ValueError("truth.condition_on: give either readings: (measure the real year "
                             "as it is) or truth.condition_on: (simulate around it), not both")
        if self.optimise is not None:
            raise ValueError("truth.condition_on: optimise needs the synthetic truth; drop "
                             "truth.condition_on to optimise new sites")

    def model_post_init(self, context: Any) -> None:
        self._locate_changes()

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> Scenario:
        """Load and validate a scenario YAML file.

        Raises
        ------
        ScenarioError
            Syntax error (line, column), duplicate key, empty file, unknown key,
            wrong type or value; the message names the file, line and YAML path.
        FileNotFoundError
            The file does not exist.
        """
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(2, "No such file", str(p))
        if p.is_dir():
            raise ScenarioError(f"{p}: is a directory; give a scenario .yaml file")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError(f"{p}: not UTF-8 text (byte {exc.start}); save the scenario as "
                                "UTF-8 YAML") from None
        data, lines = _parse_yaml(text, str(p))
        data.setdefault("name", p.stem)
        return cls.from_dict(data, source=p, lines=lines)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str | os.PathLike[str] | None = None,
        lines: Mapping[str, int] | None = None,
    ) -> Scenario:
        """Validate a scenario given as a mapping (e.g. parsed YAML).

        ``source`` (the YAML path, if any) anchors relative paths and error messages.
        """
        label = str(source) if source is not None else "<scenario>"
        try:
            scenario = cls.model_validate(dict(data))
        except ValidationError as exc:
            raise _to_scenario_error(exc, data, label, dict(lines or {})) from None
        scenario._source = Path(source) if source is not None else None
        scenario._lines = dict(lines or {})
        scenario._locate_changes()
        scenario._locate_calibration()
        return scenario

    def _locate_calibration(self) -> None:
        """``truth.calibration`` given as a file: resolved like ``base_network``."""
        from netsim.truth import CALIBRATIONS

        if self.truth.calibration not in CALIBRATIONS:
            path = self._resolve(self.truth.calibration, "truth.calibration")
            self.truth = self.truth.model_copy(update={"calibration": str(path)})

    def _locate_changes(self) -> None:
        prefix = str(self._source) if self._source is not None else ""
        for i, ch in enumerate(self.changes):
            ch._locate(prefix, f"changes[{i}]", self._lines)

    def with_overrides(
        self, *, realisations: int | None = None, seed: int | None = None,
        pollutants: list[str] | None = None, lang: str | None = None,
        colour_classes: str | None = None,
    ) -> Scenario:
        """A validated copy with command-line overrides (``--realisations``, ``--seed``,
        ``--lang``, ``--colour-classes``)."""
        data = self.model_dump()
        if colour_classes is not None:
            data["outputs"]["colour_classes"] = colour_classes
        if lang is not None:
            from netsim.i18n import check_lang

            data["lang"] = check_lang(lang)
        if realisations is not None:
            data["realisations"] = realisations
        if seed is not None:
            data["truth"]["seed"] = seed
        if pollutants is not None:
            data["pollutants"] = list(pollutants)
        label = f"{self._source or '<scenario>'} (command-line override)"
        try:
            new = type(self).model_validate(data)
        except ValidationError as exc:
            raise _to_scenario_error(exc, data, label, {}) from None
        new._source, new._lines = self._source, dict(self._lines)
        new._locate_changes()
        return new

    # --------------------------------------------------------------- accessors
    @property
    def source(self) -> Path | None:
        """The YAML file the scenario came from (None if built in memory)."""
        return self._source

    @property
    def seed(self) -> int:
        """The run's seed (``truth.seed``)."""
        return self.truth.seed

    @property
    def has_changes(self) -> bool:
        """Whether the scenario changes the network (else only the baseline is run)."""
        return len(self.changes) > 0

    @property
    def outages(self) -> list[Outage]:
        """The outage changes, in order."""
        return [c for c in self.changes if isinstance(c, Outage)]

    def base_network_path(self) -> Path:
        """``base_network`` resolved: the YAML's directory first, then the CWD.

        Raises
        ------
        ScenarioError
            The file is in neither place.
        """
        return self._resolve(self.base_network, "base_network")

    def _resolve(self, value: str, field: str, *, folders: bool = False) -> Path:
        """A path of the YAML: the YAML's directory first, then the CWD (ScenarioError).

        ``folders``: a folder is accepted too (readings).
        """
        p = Path(value).expanduser()
        if p.is_absolute():
            tried = [p]
        else:
            tried = ([self._source.parent / p] if self._source is not None else []) + [
                Path.cwd() / p]
        for cand in tried:
            if cand.is_file() or (folders and cand.is_dir()):
                return Path(os.path.normpath(cand))
        line = line_of(field, self._lines)
        where = (f"{self._source}:{line if line is not None else '?'}: " if self._source
                 else "")
        raise ScenarioError(
            f"{where}{field}: file {value!r} not found (looked in "
            f"{' and '.join(str(t.parent) for t in tried)}); give a path relative to the "
            "scenario file or an absolute path"
        )

    def readings_path(self) -> Path | None:
        """The first of :meth:`readings_paths` (None without readings)."""
        return None if self.readings is None else self.readings_paths()[0]

    def readings_paths(self) -> list[Path]:
        """``readings.path`` (files or folders) resolved like ``base_network``."""
        if self.readings is None:
            return []
        return [self._resolve(p, "readings.path", folders=True) for p in self.readings.paths]

    def condition_paths(self) -> list[Path]:
        """``truth.condition_on.path`` (files or folders) resolved like ``base_network``."""
        section = self.truth.condition_on
        if section is None:
            return []
        return [self._resolve(p, "truth.condition_on.path", folders=True)
                for p in section.paths]

    @property
    def annual_rule(self):
        """The HJ 663 annual validity rule of the run (:class:`netsim.standards.AnnualRule`)."""
        from netsim.standards import AnnualRule

        return AnnualRule() if self.monthly_rule else AnnualRule(min_days_per_month=None)

    def load_base_network(self) -> Network:
        """Load :meth:`base_network_path` with :meth:`netsim.network.Network.from_file`."""
        from netsim.network import Network

        return Network.from_file(self.base_network_path())

    # --------------------------------------------------------------- building
    def build_network(self, base: Network | None = None) -> tuple[Network, pd.DataFrame]:
        """Apply the changes in order to ``base`` (default: the base network file).

        Returns
        -------
        network
            The changed network.
        table
            :func:`change_table` of base versus changed network: every station of
            either, with ``change`` in unchanged/added/removed/moved/retyped.

        Raises
        ------
        ScenarioError
            An unknown station id, a new station outside Beijing, a selector that
            matches nothing, an id clash; located at the change's YAML path.
        """
        if base is None:
            base = self.load_base_network()
        network = base
        for i, change in enumerate(self.changes):
            rng = np.random.default_rng([self.seed, _NETWORK_STREAM, i])
            network = change.apply(network, rng)
        return network, change_table(base, network)

    def mask_readings(
        self, readings: HourlyReadings, network: Network, realisation: int = 0
    ) -> HourlyReadings:
        """Apply every outage to the readings of ``network`` for one realisation.

        The identity when the scenario has no outage.  Draws use
        ``default_rng([seed, 2, realisation, i])`` for change ``i``.
        """
        for i, change in enumerate(self.changes):
            if isinstance(change, Outage):
                rng = np.random.default_rng([self.seed, _OUTAGE_STREAM, int(realisation), i])
                readings = change.mask_readings(readings, network, rng)
        return readings


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load and validate a scenario YAML file (:meth:`Scenario.from_yaml`)."""
    return Scenario.from_yaml(path)


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the scenario YAML (``netsim schema``)."""
    schema = Scenario.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "netsim scenario",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def change_table(base: Network, changed: Network) -> pd.DataFrame:
    """Stations of ``base`` and ``changed`` with what happened to each.

    ``change`` is ``added`` (only in ``changed``), ``removed`` (only in ``base``;
    the row keeps the base attributes), ``moved`` (position differs by more than
    1 m), ``retyped`` (same position, different type) or ``unchanged``.  Rows:
    the changed network's stations in order, then the removed ones.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHANGE_TABLE_COLUMNS` (the layout of ``network.csv``).
    """
    cols = list(CHANGE_TABLE_COLUMNS[:-1])
    new = pd.DataFrame(changed.stations[cols]).reset_index(drop=True)
    old = pd.DataFrame(base.stations[cols]).set_index("station_id")
    change = []
    for row in new.itertuples(index=False):
        if row.station_id not in old.index:
            change.append("added")
            continue
        o = old.loc[row.station_id]
        if np.hypot(float(o["x"]) - row.x, float(o["y"]) - row.y) > 1.0:
            change.append("moved")
        elif o["type"] != row.type:
            change.append("retyped")
        else:
            change.append("unchanged")
    new["change"] = change
    gone = old.loc[~old.index.isin(new["station_id"])].reset_index()[cols]
    gone["change"] = "removed"
    table = pd.concat([new, gone], ignore_index=True) if len(gone) else new
    return table[list(CHANGE_TABLE_COLUMNS)]


def _parse_yaml(text: str, label: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse scenario YAML (:func:`netsim.yamlfile.yaml_mapping`); returns the mapping and
    YAML path → 1-based line."""
    return yaml_mapping(text, label, ScenarioError,
                        what="scenario fields, e.g. 'name: my_scenario' plus optional changes "
                        "(see netsim schema)")


# ----------------------------------------------------------------------------
# pydantic errors -> one-line ScenarioError
# ----------------------------------------------------------------------------

_TAG_RE = re.compile(r"^(literal\[|function-|list\[|dict\[|json-|tagged-union|chain\[|nullable)")
_MODEL_NAMES = {"FixedVariogram", "CandidateSite", "Scenario"} | {
    m.__name__ for m in CHANGE_MODELS.values()}


_SHAPE_ERRORS = {"model_type", "dict_type", "list_type", "model_attributes_type"}


def _clean_loc(loc: tuple[Any, ...]) -> list[Any]:
    """The YAML path parts of a pydantic ``loc`` (union member tags removed)."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if isinstance(part, str):
            if _TAG_RE.match(part) or part in _MODEL_NAMES:
                continue
            if (part in CHANGE_KINDS and i >= 2 and isinstance(loc[i - 1], int)
                    and loc[i - 2] == "changes"):
                continue
        out.append(part)
    return out


def _path_str(parts: list[Any]) -> str:
    s = ""
    for part in parts:
        s += f"[{part}]" if isinstance(part, int) else (f".{part}" if s else str(part))
    return s


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    stack = [annotation]
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
        else:
            stack.extend(get_args(a))
    return found


def _model_at(parts: list[Any], data: Any) -> type[BaseModel] | None:
    """The model whose field ``parts[-1]`` is (for 'did you mean' hints)."""
    model: type[BaseModel] | None = Scenario
    node = data
    for part in parts[:-1]:
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
        if isinstance(part, int):
            if model is None and isinstance(node, Mapping) and node.get("kind") in CHANGE_MODELS:
                model = CHANGE_MODELS[node["kind"]]
            continue
        if model is None or part not in model.model_fields:
            return None
        candidates = _models_in(model.model_fields[part].annotation)
        model = candidates[0] if len(candidates) == 1 else None
    return model


def _hint(err: Mapping[str, Any], parts: list[Any], data: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden" and parts:
        model = _model_at(parts, data)
        if model is not None:
            fields = list(model.model_fields)
            match = difflib.get_close_matches(str(parts[-1]), fields, n=1, cutoff=0.6)
            if match:
                return f"did you mean {match[0]!r}?"
            return f"allowed keys here: {', '.join(fields)}"
        return "remove it"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        match = difflib.get_close_matches(str(err.get("input")), options, n=1, cutoff=0.5)
        return f"did you mean {match[0]!r}?" if match else ""
    if kind == "union_tag_invalid":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        match = difflib.get_close_matches(str(ctx.get("tag")), options, n=1, cutoff=0.5)
        return f"did you mean {match[0]!r}?" if match else ""
    if kind == "missing":
        return "add this field"
    return ""


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "union_tag_invalid":
        return (f"unknown change kind {ctx.get('tag')!r}; expected one of "
                f"{', '.join(CHANGE_KINDS)}")
    if kind == "union_tag_not_found":
        return f"missing 'kind'; every change needs kind: one of {', '.join(CHANGE_KINDS)}"
    if kind == "missing":
        return "required field missing"
    inp = err.get("input")
    if kind not in ("value_error", "assertion_error") and not isinstance(inp, dict | list):
        shown = repr(inp)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        msg = f"{msg} (got {shown})"
    return msg


def _to_scenario_error(
    exc: ValidationError, data: Any, label: str, lines: Mapping[str, int]
) -> ScenarioError:
    """Turn a pydantic ValidationError into a one-line, located ScenarioError."""
    errors = exc.errors(include_url=False)
    # Union members (``'auto' | {model, ...}``) each report; keep the member that fits the input.
    relevant = [
        e for e in errors
        if not (e["type"] == "literal_error" and isinstance(e.get("input"), dict | list))
        and not (e["type"] in _SHAPE_ERRORS and isinstance(e.get("input"), str))
    ] or errors
    located = []
    for e in relevant:
        path = _path_str(_clean_loc(tuple(e["loc"])))
        message = _message(e)
        m = re.match(r"^([a-z_]+(?:\.[a-z_]+|\[\d+\])*): (.*)$", message)
        if not path and m:  # a scenario-level check about one change
            path, message = m.group(1), m.group(2)
        line = line_of(path, lines)
        located.append((line if line is not None else 10**9, e, path, message, line))
    # Unknown keys first (a misspelt key also makes its field "missing"), then file order.
    _, err, path, message, line = min(
        located, key=lambda t: (t[1]["type"] != "extra_forbidden", t[0]))
    parts = _clean_loc(tuple(err["loc"]))
    where = f"{label}:{line}" if line is not None else label
    hint = _hint(err, parts, data)
    n_more = len(relevant) - 1
    more = f" (and {n_more} more problem{'s' if n_more > 1 else ''})" if n_more else ""
    text = f"{where}: {path or '(top level)'}: {message}"
    if hint:
        text += f"; {hint}"
    return ScenarioError(" ".join((text + more).split()))
