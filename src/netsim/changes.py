"""Network changes of a scenario: add, remove, relocate, retype, outage, sensors.

Every change is a pydantic model with one protocol (``STYLE.md`` §2):

``apply(network, rng) -> Network``
    The network after the change (a new :class:`netsim.network.Network`; the
    input is not modified).
``mask_readings(readings, network, rng) -> HourlyReadings``
    Hourly readings after the change; the identity for every change except
    :class:`Outage`, which blanks (sets to NaN) the hours its stations lose.

A change discovered to be inconsistent with the network it is applied to (an
unknown station id, a new station outside Beijing, a selector that matches no
station) raises :class:`netsim.errors.ScenarioError` whose message starts with
the YAML file, line and path of the offending field (``changes[2].ids[0]``).

Random choices (which stations an outage hits, where sensors go, which hours
are lost) come from the ``rng`` passed in; :class:`netsim.scenario.Scenario`
derives it from the scenario seed so runs are reproducible.

References
----------
HJ 664-2013 §5.1 and Annex B (adding, relocating and removing urban assessment
stations), ``standards.md`` §4.3–4.4; EPA NetAssess "add new site" tool,
``standards.md`` §5.2.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)

from netsim.errors import NetsimError, ScenarioError
from netsim.i18n import canonical_district
from netsim.yamlfile import line_of

if TYPE_CHECKING:  # pragma: no cover
    from netsim.network import Network
    from netsim.readings import HourlyReadings

__all__ = [
    "CHANGE_KINDS",
    "DISTRICT_NAMES",
    "AddStation",
    "Change",
    "Outage",
    "RelocateStation",
    "RemoveStations",
    "RetypeStations",
    "Sensors",
]

# ----------------------------------------------------------------------------
# Vocabulary
# ----------------------------------------------------------------------------

StationType = Literal["urban", "traffic", "border", "background", "sensor"]
"""Station classes; equal to :data:`netsim.network.STATION_TYPES` (checked by a test)."""

Direction = Literal["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
"""Side of Beijing a border station faces; equal to :data:`netsim.network.DIRECTIONS`."""

District = Literal[
    "Dongcheng",
    "Xicheng",
    "Chaoyang",
    "Fengtai",
    "Shijingshan",
    "Haidian",
    "Mentougou",
    "Fangshan",
    "Tongzhou",
    "Shunyi",
    "Changping",
    "Daxing",
    "Huairou",
    "Pinggu",
    "Miyun",
    "Yanqing",
    "Beijing Economic-Technological Development Area",
]
"""The 16 districts plus the Development Area, as named in ``beijing_2020_districts.csv``."""

DISTRICT_NAMES: tuple[str, ...] = District.__args__  # type: ignore[attr-defined]

DistrictName = Annotated[District, BeforeValidator(canonical_district)]
"""A district written in English or Chinese (``Tongzhou``, ``通州区``, ``通州``)."""

StationId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                      pattern=r"^[A-Za-z0-9_.\-]+$"),
]
"""Station id: letters, digits, ``_``, ``-`` and ``.``."""

Finite = Annotated[float, Field(allow_inf_nan=False)]

CHANGE_KINDS: tuple[str, ...] = ("add", "remove", "relocate", "retype", "outage", "sensors")


class _Model(BaseModel):
    """Base of every scenario model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


def _as_list(value: Any) -> Any:
    """Accept a single value where a list is expected (``type: traffic``)."""
    if value is None or isinstance(value, list | tuple):
        return value
    return [value]


def _check_instrument(value: str) -> str:
    """An instrument class of ``netsim.instruments.INSTRUMENTS`` (with a hint when unknown)."""
    from netsim.instruments import INSTRUMENTS

    if value not in INSTRUMENTS:
        raise ValueError(f"unknown instrument class {value!r}; expected one of "
                         f"{', '.join(INSTRUMENTS)}{_close(value, INSTRUMENTS)}")
    return value


InstrumentName = Annotated[str, AfterValidator(_check_instrument)]


def _close(word: str, options: Any) -> str:
    """``"; did you mean 'x'?"`` for the closest option, or ``""``."""
    match = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


# ----------------------------------------------------------------------------
# Points given as lon/lat (WGS84) or x/y (EPSG:32650)
# ----------------------------------------------------------------------------


class _Point(_Model):
    """A position as WGS84 ``lon``/``lat`` (degrees) or EPSG:32650 ``x``/``y`` (metres)."""

    lon: Finite | None = Field(None, ge=-180, le=180, description="WGS84 longitude, degrees")
    lat: Finite | None = Field(None, ge=-90, le=90, description="WGS84 latitude, degrees")
    x: Finite | None = Field(None, description="EPSG:32650 (UTM 50N) easting, metres")
    y: Finite | None = Field(None, description="EPSG:32650 (UTM 50N) northing, metres")

    @model_validator(mode="after")
    def _one_pair(self) -> _Point:
        has_ll = self.lon is not None or self.lat is not None
        has_xy = self.x is not None or self.y is not None
        if has_ll and has_xy:
            raise ValueError(
                "give either lon/lat (WGS84 degrees) or x/y (EPSG:32650 metres), not both"
            )
        if has_ll and (self.lon is None or self.lat is None):
            raise ValueError("give both lon and lat (WGS84 degrees)")
        if has_xy and (self.x is None or self.y is None):
            raise ValueError("give both x and y (EPSG:32650 metres)")
        if not (has_ll or has_xy):
            raise ValueError("position missing: give lon and lat (WGS84 degrees) or x and y "
                             "(EPSG:32650 metres)")
        return self

    @property
    def coordinate_fields(self) -> str:
        """``"lon"`` or ``"x"``: the field named in position errors."""
        return "lon" if self.lon is not None else "x"

    def lonlat_xy(self) -> tuple[float, float, float, float]:
        """``(lon, lat, x, y)`` of the position, converting as needed."""
        from netsim.crs import lonlat_to_xy, xy_to_lonlat

        if self.lon is not None:
            x, y = lonlat_to_xy(np.array([self.lon]), np.array([self.lat]))
            return float(self.lon), float(self.lat), float(x[0]), float(y[0])
        lon, lat = xy_to_lonlat(np.array([self.x]), np.array([self.y]))
        return float(lon[0]), float(lat[0]), float(self.x), float(self.y)


# ----------------------------------------------------------------------------
# Helpers shared by the changes
# ----------------------------------------------------------------------------


class _ChangeBase(_Model):
    """Common machinery: error location and the identity readings mask."""

    _lines: dict[str, int] = PrivateAttr(default_factory=dict)
    _prefix: str = PrivateAttr("")
    _path: str = PrivateAttr("change")

    def _locate(self, prefix: str, path: str, lines: dict[str, int]) -> None:
        """Remember where this change is written (file name, YAML path, line numbers)."""
        self._prefix, self._path, self._lines = prefix, path, lines

    def _error(self, field: str | None, message: str) -> ScenarioError:
        """A :class:`ScenarioError` located at ``changes[i].field``."""
        path = self._path + (f".{field}" if field else "")
        line = line_of(path, self._lines)
        where = self._prefix
        if where and line is not None:
            where = f"{where}:{line}"
        return ScenarioError(f"{where + ': ' if where else ''}{path}: {message}")

    def apply(self, network: Network, rng: np.random.Generator) -> Network:  # pragma: no cover
        raise NotImplementedError

    def mask_readings(
        self, readings: HourlyReadings, network: Network, rng: np.random.Generator
    ) -> HourlyReadings:
        """Readings after this change: unchanged (only :class:`Outage` blanks hours)."""
        return readings

    # -- network helpers -------------------------------------------------------
    def _frame(self, network: Network) -> pd.DataFrame:
        df = pd.DataFrame(network.stations.drop(columns="geometry", errors="ignore")).copy()
        return df.reset_index(drop=True)

    def _rebuild(self, df: pd.DataFrame, network: Network) -> Network:
        from netsim.network import Network

        if len(df) == 0:
            raise self._error(None, "this change leaves no station in the network; keep at "
                                    "least one (kriging needs three or more)")
        try:
            return Network.from_frame(df.reset_index(drop=True), source=network.source,
                                      check_boundary=False)
        except NetsimError as exc:
            raise self._error(None, f"the changed network is invalid: {exc}") from None

    def _check_ids(self, network: Network, ids: list[str], field: str) -> np.ndarray:
        known = list(network.ids)
        pos = pd.Index(known).get_indexer(ids)
        for j, (sid, p) in enumerate(zip(ids, pos, strict=True)):
            if p < 0:
                raise self._error(
                    f"{field}[{j}]" if field.endswith("s") else field,
                    f"unknown station {sid!r} (not in the network at this point, "
                    f"{network.source}){_close(sid, known)}",
                )
        return pos

    def _check_inside(self, point: _Point, x: float, y: float, what: str) -> None:
        from netsim.geography import inside_beijing

        if not bool(np.asarray(inside_beijing(np.array([x]), np.array([y])))[0]):
            lon, lat, _, _ = point.lonlat_xy()
            raise self._error(
                point.coordinate_fields,
                f"{what} at ({lon:.4f}, {lat:.4f}) lies outside Beijing; give a position inside "
                "the municipality (lon/lat are WGS84 degrees, x/y EPSG:32650 metres)",
            )


def _derive_district(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """District at EPSG:32650 points: the Development Area polygon first, else the district."""
    import shapely

    from netsim.geography import DEVELOPMENT_AREA, development_area_polygon, district_at

    out = np.asarray(district_at(np.asarray(x, float), np.asarray(y, float)), dtype=object)
    in_bda = shapely.intersects_xy(development_area_polygon(), np.asarray(x, float),
                                   np.asarray(y, float))
    out[np.asarray(in_bda, dtype=bool)] = DEVELOPMENT_AREA
    return out


def _row(df: pd.DataFrame, **values: Any) -> pd.DataFrame:
    """A one-row frame with the columns of ``df`` (missing ones empty/NaN)."""
    row = {c: values.get(c, np.nan if c in ("noise_pct", "bias_pct") else "") for c in df.columns}
    for k, v in values.items():
        row.setdefault(k, v)
    return pd.DataFrame([row])


def _concat(df: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    for col in ("noise_pct", "bias_pct"):
        if col in new.columns and col not in df.columns:
            df = df.assign(**{col: np.nan})
    return pd.concat([df, new[[c for c in new.columns]]], ignore_index=True)[
        list(dict.fromkeys([*df.columns, *new.columns]))
    ]


# ----------------------------------------------------------------------------
# The changes
# ----------------------------------------------------------------------------


class AddStation(_Point, _ChangeBase):
    """Add one station (HJ 664 Annex B "adding a station"; NetAssess "add new site").

    The district is derived from the position (the Development Area polygon,
    else :func:`netsim.geography.district_at`) unless given.
    """

    kind: Literal["add"] = Field(description="change kind")
    id: StationId = Field(description="new, unique station id")
    type: StationType = Field("urban", description="station class")
    name: str | None = Field(None, description="English name (default: the id)")
    name_zh: str = Field("", description="Chinese name")
    district: DistrictName | None = Field(None, description="district (derived if absent)")
    direction: Direction | None = Field(None, description="side of Beijing (border stations)")
    instrument: InstrumentName = Field(
        "reference", description="instrument class (netsim.instruments.INSTRUMENTS)")
    noise_pct: Finite | None = Field(None, ge=0, description="measurement noise, % (default: "
                                                             "instrument class)")
    bias_pct: Finite | None = Field(None, description="measurement bias, % (default: class)")

    def apply(self, network: Network, rng: np.random.Generator) -> Network:
        """The network with this station appended."""
        df = self._frame(network)
        if self.id in set(df["station_id"]):
            raise self._error("id", f"station id {self.id!r} already exists in the network; "
                                    "choose a new id (or use kind: relocate to move it)")
        lon, lat, x, y = self.lonlat_xy()
        self._check_inside(self, x, y, f"new station {self.id!r}")
        district = self.district or str(_derive_district(np.array([x]), np.array([y]))[0])
        values: dict[str, Any] = dict(
            station_id=self.id, name=self.name or self.id, name_zh=self.name_zh,
            type=self.type, district=district, direction=self.direction or "",
            lon=lon, lat=lat, x=x, y=y, instrument=self.instrument,
        )
        if self.noise_pct is not None or "noise_pct" in df.columns:
            values["noise_pct"] = np.nan if self.noise_pct is None else self.noise_pct
        if self.bias_pct is not None or "bias_pct" in df.columns:
            values["bias_pct"] = np.nan if self.bias_pct is None else self.bias_pct
        return self._rebuild(_concat(df, _row(df, **values)), network)


class _Selector(_Model):
    """Selection by ``type``/``district``/``direction`` (each a value or a list; AND-ed)."""

    type: list[StationType] | None = Field(None, description="station class(es)")
    district: list[DistrictName] | None = Field(
        None, description="district(s), in English or Chinese (Tongzhou, 通州区)")
    direction: list[Direction] | None = Field(None, description="border direction(s)")

    @field_validator("type", "district", "direction", mode="before")
    @classmethod
    def _single(cls, v: Any) -> Any:
        return _as_list(v)

    def _has_selector(self) -> bool:
        return any(v is not None for v in (self.type, self.district, self.direction))

    def _selected(self, df: pd.DataFrame) -> np.ndarray:
        mask = np.ones(len(df), dtype=bool)
        if self.type is not None:
            mask &= df["type"].isin(self.type).to_numpy()
        if self.district is not None:
            mask &= df["district"].isin(self.district).to_numpy()
        if self.direction is not None:
            mask &= df["direction"].astype(str).str.upper().isin(self.direction).to_numpy()
        return mask

    def _describe(self) -> str:
        parts = [f"{k}={'/'.join(v)}" for k, v in (("type", self.type),
                 ("district", self.district), ("direction", self.direction)) if v]
        return ", ".join(parts)


class RemoveStations(_Selector, _ChangeBase):
    """Remove stations by ``ids`` or by a selector (``type``/``district``/``direction``).

    HJ 664 Annex B "removing a station" (``standards.md`` §4.4).
    """

    kind: Literal["remove"] = Field(description="change kind")
    ids: list[StationId] | None = Field(None, description="station ids to remove")

    @field_validator("ids", mode="before")
    @classmethod
    def _single_ids(cls, v: Any) -> Any:
        return _as_list(v)

    @model_validator(mode="after")
    def _ids_or_selector(self) -> RemoveStations:
        if self.ids is not None and self._has_selector():
            raise ValueError("give either ids or a selector (type/district/direction), not both")
        if self.ids is None and not self._has_selector():
            raise ValueError("nothing to remove: give ids, or a selector type/district/direction")
        if self.ids is not None and len(self.ids) == 0:
            raise ValueError("ids is empty: list at least one station id")
        return self

    def apply(self, network: Network, rng: np.random.Generator) -> Network:
        """The network without the selected stations."""
        df = self._frame(network)
        if self.ids is not None:
            pos = self._check_ids(network, list(self.ids), "ids")
            drop = np.zeros(len(df), dtype=bool)
            drop[pos] = True
        else:
            drop = self._selected(df)
            if not drop.any():
                raise self._error(None, f"the selector ({self._describe()}) matches no station "
                                        "in the network at this point; check the values")
        return self._rebuild(df.loc[~drop], network)


class RelocateStation(_Point, _ChangeBase):
    """Move one station to a new position (HJ 664 Annex B "changing a station")."""

    kind: Literal["relocate"] = Field(description="change kind")
    id: StationId = Field(description="station to move")
    district: DistrictName | None = Field(None, description="new district (derived if absent)")
    name: str | None = Field(None, description="new English name (default: unchanged)")
    name_zh: str | None = Field(None, description="new Chinese name (default: unchanged)")

    def apply(self, network: Network, rng: np.random.Generator) -> Network:
        """The network with the station at its new position."""
        df = self._frame(network)
        i = int(self._check_ids(network, [self.id], "id")[0])
        lon, lat, x, y = self.lonlat_xy()
        self._check_inside(self, x, y, f"new position of {self.id!r}")
        df.loc[i, ["lon", "lat", "x", "y"]] = [lon, lat, x, y]
        df.loc[i, "district"] = self.district or str(
            _derive_district(np.array([x]), np.array([y]))[0])
        if self.name is not None:
            df.loc[i, "name"] = self.name
        if self.name_zh is not None:
            df.loc[i, "name_zh"] = self.name_zh
        return self._rebuild(df, network)


class RetypeStations(_ChangeBase):
    """Change the class of stations (e.g. an urban station becomes a traffic station)."""

    kind: Literal["retype"] = Field(description="change kind")
    ids: list[StationId] = Field(min_length=1, description="station id(s) to retype")
    type: StationType = Field(description="new station class")
    direction: Direction | None = Field(
        None, description="border direction (only with type: border; cleared otherwise)")

    @field_validator("ids", mode="before")
    @classmethod
    def _single_ids(cls, v: Any) -> Any:
        return _as_list(v)

    @model_validator(mode="after")
    def _direction_only_for_border(self) -> RetypeStations:
        if self.direction is not None and self.type != "border":
            raise ValueError("direction applies only to type: border")
        return self

    def apply(self, network: Network, rng: np.random.Generator) -> Network:
        """The network with the stations' ``type`` (and ``direction``) changed."""
        df = self._frame(network)
        pos = self._check_ids(network, list(self.ids), "ids")
        df.loc[pos, "type"] = self.type
        if self.type == "border":
            if self.direction is not None:
                df.loc[pos, "direction"] = self.direction
        else:
            df.loc[pos, "direction"] = ""
        return self._rebuild(df, network)


class Outage(_Selector, _ChangeBase):
    """Lose hourly data at some stations during a period.

    Which stations: ``stations`` (ids); or a selector (``type``/``district``/
    ``direction``, AND-ed) — every station it matches; or a random ``fraction``
    of the stations (of the selected ones when a selector is given).  When:
    ``start``/``end`` (inclusive dates) or ``months`` (1–12, any year-wrap such
    as ``[12, 1, 2]``); neither means the whole year.  How much: each hour of the
    period at each affected station is lost independently with probability
    ``data_loss`` (1.0 = a complete outage); a lost hour blanks every pollutant of
    the station (analyser shelter down).  Stations, hours and the random fraction
    are redrawn for every realisation from the scenario seed.

    The network is unchanged; only the readings are masked (simulated or real).
    HJ 663 validity rules (≥ 20 hours a day, ≥ 324 days a year, ``standards.md``
    §1.1, §7) then decide which statistics survive.
    """

    kind: Literal["outage"] = Field(description="change kind")
    stations: list[StationId] | None = Field(None, description="affected station ids")
    fraction: Finite | None = Field(
        None, gt=0, le=1,
        description="random fraction of the stations (of the selected ones with a selector)")
    start: date | None = Field(None, description="first day of the period (inclusive)")
    end: date | None = Field(None, description="last day of the period (inclusive)")
    months: list[Annotated[int, Field(ge=1, le=12)]] | None = Field(
        None, description="calendar months of the period (1-12)")
    data_loss: Finite = Field(1.0, gt=0, le=1,
                              description="probability that an hour in the period is lost")

    @field_validator("stations", "months", mode="before")
    @classmethod
    def _single_list(cls, v: Any) -> Any:
        return _as_list(v)

    @model_validator(mode="after")
    def _consistent(self) -> Outage:
        if self.stations is not None and (self.fraction is not None or self._has_selector()):
            raise ValueError("give either stations (ids) or a selector (type/district/"
                             "direction) and/or a fraction, not both")
        if self.stations is None and self.fraction is None and not self._has_selector():
            raise ValueError("which stations? give stations (ids), a selector (type/district/"
                             "direction) or a fraction (0-1]")
        if self.stations is not None and len(self.stations) == 0:
            raise ValueError("stations is empty: list at least one station id")
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end dates (inclusive), or months")
        if self.start is not None and self.months is not None:
            raise ValueError("give either start/end or months, not both")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.months is not None and len(self.months) == 0:
            raise ValueError("months is empty: list months 1-12 or omit it for the whole year")
        return self

    def apply(self, network: Network, rng: np.random.Generator) -> Network:
        """The network, unchanged (an outage loses readings, not stations); checks ids."""
        if self.stations is not None:
            self._check_ids(network, list(self.stations), "stations")
        elif self._has_selector() and not self._selected(self._frame(network)).any():
            raise self._error(None, f"the selector ({self._describe()}) matches no station "
                                    "in the network at this point; check the values")
        return network

    def hour_mask(self, year: int, n_hours: int) -> np.ndarray:
        """Hours of ``year`` inside the outage period, bool (n_hours,).

        Hour index 0 is 1 January 00:00–01:00 Beijing time (hour-beginning
        labels, as :class:`netsim.readings.HourlyReadings`).
        """
        times = pd.date_range(f"{year}-01-01", periods=n_hours, freq="h")
        if self.months is not None:
            return np.asarray(times.month.isin(self.months))
        if self.start is not None and self.end is not None:
            day = times.normalize()
            return np.asarray((day >= pd.Timestamp(self.start)) & (day <= pd.Timestamp(self.end)))
        return np.ones(n_hours, dtype=bool)

    def affected(self, network: Network, rng: np.random.Generator) -> np.ndarray:
        """Ids of the stations hit by the outage (random ones drawn from ``rng``)."""
        if self.stations is not None:
            return np.asarray(self.stations, dtype=object)
        pool = network.ids
        if self._has_selector():
            pool = pool[self._selected(self._frame(network))]
        if self.fraction is None:
            return np.asarray(pool, dtype=object)
        k = max(1, round(self.fraction * len(pool)))
        return np.asarray(rng.choice(pool, size=min(k, len(pool)), replace=False), dtype=object)

    def mask_readings(
        self, readings: HourlyReadings, network: Network, rng: np.random.Generator
    ) -> HourlyReadings:
        """Readings with the lost hours set to NaN (every pollutant of an affected station).

        Parameters
        ----------
        readings
            Hourly readings (``values[pollutant]`` of shape (n_stations, n_hours)).
        network
            The network the readings come from (for a random ``fraction``).
        rng
            Source of the random choices.

        Returns
        -------
        HourlyReadings
            A new object; ``readings`` is not modified.
        """
        ids = self.affected(network, rng)
        row_of = {sid: i for i, sid in enumerate(np.asarray(readings.station_ids).astype(str))}
        rows = np.array([row_of[s] for s in ids if s in row_of], dtype=int)
        values = dict(readings.values)
        if len(rows) == 0 or not values:
            return readings
        n_hours = next(iter(values.values())).shape[1]
        period = self.hour_mask(int(readings.year), n_hours)
        lost = np.zeros((len(rows), n_hours), dtype=bool)
        lost[:, period] = rng.random((len(rows), int(period.sum()))) < self.data_loss
        out = {}
        for pollutant, arr in values.items():
            arr = np.array(arr, dtype=float, copy=True)
            sub = arr[rows]
            sub[lost] = np.nan
            arr[rows] = sub
            out[pollutant] = arr
        return dataclasses.replace(readings, values=out)


class Sensors(_ChangeBase):
    """Add a dense network of low-cost sensors (type ``sensor``).

    Placement rules (all inside the Beijing boundary):

    ``random``
        Uniform over the municipality's area.
    ``grid``
        A square lattice with a random offset, its spacing chosen so that at
        least ``count`` nodes fall inside Beijing; surplus nodes are dropped at
        random (so coverage is even, spacing ≈ √(16,400 km² / count)).
    ``population``
        Weighted by a *built-up-area proxy* (no population raster ships with
        netsim): a sum of Gaussian kernels (σ = ``population_sigma_m``) centred
        on the network's ``urban`` stations, which HJ 664 §5.1 places evenly
        over the built-up area (``standards.md`` §4.3), plus a floor of 2 % of
        the peak so rural areas still get some sensors.  Positions are drawn
        from 20 × ``count`` uniform candidates with probability ∝ weight.

    Ids are ``{id_prefix}{n:04d}`` (``sensor0001``...).  ``noise_pct`` and
    ``bias_pct`` override the instrument class's hourly error and systematic bias
    (``netsim.instruments.INSTRUMENTS``); the class's unit-to-unit bias spread,
    missing hours and outages still apply (:mod:`netsim.instruments`).
    ``seed_offset`` changes the layout without changing the truth seed: the
    placement generator is seeded from the scenario's generator and the offset.
    """

    kind: Literal["sensors"] = Field(description="change kind")
    count: int = Field(gt=0, le=5000, description="number of sensors")
    placement: Literal["random", "grid", "population"] = Field(
        "random", description="placement rule")
    instrument: InstrumentName = Field("lowcost", description="instrument class")
    noise_pct: Finite | None = Field(None, ge=0, description="random error, % (default: class)")
    bias_pct: Finite | None = Field(None, description="systematic bias, % (default: class)")
    seed_offset: int = Field(0, ge=0, description="vary the layout without changing the seed")
    id_prefix: StationId = Field("sensor", description="prefix of the generated ids")
    population_sigma_m: Finite = Field(
        5000.0, gt=0, description="kernel width of the population proxy, metres")

    def positions(self, network: Network, rng: np.random.Generator) -> np.ndarray:
        """Sensor positions, (count, 2) EPSG:32650 metres, drawn from ``rng``."""
        import shapely

        from netsim.geography import beijing_boundary

        boundary = beijing_boundary()
        gen = np.random.default_rng([int(rng.integers(2**63 - 1)), self.seed_offset])
        xmin, ymin, xmax, ymax = boundary.bounds

        def uniform(n: int) -> np.ndarray:
            pts = np.empty((0, 2))
            while len(pts) < n:
                cand = gen.uniform([xmin, ymin], [xmax, ymax], size=(2 * n + 64, 2))
                inside = shapely.intersects_xy(boundary, cand[:, 0], cand[:, 1])
                pts = np.vstack([pts, cand[inside]])
            return pts[:n]

        if self.placement == "random":
            return uniform(self.count)
        if self.placement == "grid":
            spacing = math.sqrt(boundary.area / self.count)
            off = gen.uniform(0, 1, size=2)
            for _ in range(60):
                xs = np.arange(xmin + off[0] * spacing, xmax, spacing)
                ys = np.arange(ymin + off[1] * spacing, ymax, spacing)
                gx, gy = np.meshgrid(xs, ys)
                inside = shapely.intersects_xy(boundary, gx.ravel(), gy.ravel())
                nodes = np.column_stack([gx.ravel()[inside], gy.ravel()[inside]])
                if len(nodes) >= self.count:
                    keep = np.sort(gen.choice(len(nodes), size=self.count, replace=False))
                    return nodes[keep]
                spacing *= 0.97
            raise self._error("count", "could not fit the lattice; lower count")  # pragma: no cover
        # population proxy
        cand = uniform(20 * self.count)
        urban = network.xy[network.types == "urban"]
        if len(urban) == 0:
            raise self._error("placement", "placement 'population' needs urban stations in the "
                                           "network (its built-up-area proxy); use 'random'")
        d2 = ((cand[:, None, :] - urban[None, :, :]) ** 2).sum(axis=2)
        w = np.exp(-d2 / (2.0 * self.population_sigma_m**2)).sum(axis=1)
        w = w + 0.02 * w.max()
        idx = gen.choice(len(cand), size=self.count, replace=False, p=w / w.sum())
        return cand[np.sort(idx)]

    def apply(self, network: Network, rng: np.random.Generator) -> Network:
        """The network with ``count`` sensors appended."""
        from netsim.crs import xy_to_lonlat

        df = self._frame(network)
        ids = [f"{self.id_prefix}{n:04d}" for n in range(1, self.count + 1)]
        clash = sorted(set(ids) & set(df["station_id"]))
        if clash:
            raise self._error("id_prefix", f"generated id {clash[0]!r} already exists in the "
                                           "network; choose another id_prefix")
        xy = self.positions(network, rng)
        lon, lat = xy_to_lonlat(xy[:, 0], xy[:, 1])
        new = pd.DataFrame({
            "station_id": ids, "name": ids, "name_zh": "", "type": "sensor",
            "district": _derive_district(xy[:, 0], xy[:, 1]), "direction": "",
            "lon": lon, "lat": lat, "x": xy[:, 0], "y": xy[:, 1],
            "instrument": self.instrument,
            "noise_pct": np.nan if self.noise_pct is None else self.noise_pct,
            "bias_pct": np.nan if self.bias_pct is None else self.bias_pct,
        })
        return self._rebuild(_concat(df, new), network)


Change = Annotated[
    AddStation | RemoveStations | RelocateStation | RetypeStations | Outage | Sensors,
    Field(discriminator="kind"),
]
"""One change of a scenario, selected by its ``kind``."""

CHANGE_MODELS: dict[str, type[_ChangeBase]] = {
    "add": AddStation,
    "remove": RemoveStations,
    "relocate": RelocateStation,
    "retype": RetypeStations,
    "outage": Outage,
    "sensors": Sensors,
}
