"""Hourly station readings: load readings files into dense (station × hour) arrays.

File format
-----------
netsim's own layout is long format, one row per station, hour and pollutant, as CSV or
Parquet::

    station_id,time,pollutant,value
    dongsi,2020-01-01 00:00,PM2.5,83
    dongsi,2020-01-01 00:00,CO,1.4

The layouts real data comes in — the UCI per-site wide files, the national wide
hourly files, compressed, GB18030-encoded, one file per site or per day — are read by
:mod:`netsim.readers`, which turns each into long chunks; everything below applies to
all of them.

* ``time`` is Beijing local time (UTC+8).  By default it **labels the start of the
  hour**: ``2020-01-01 00:00`` is 00:00–01:00, and ``00:00`` … ``23:00`` belong to
  that day.  Data labelled by the *end* of the hour (the national real-time
  platform's convention, ``standards.md`` §1.1, and the default of the national
  layout) is read with ``hour_label="end"``: every time is moved back one hour
  (``2020-01-01 01:00`` → hour 0; ``2021-01-01 00:00`` → the last hour of 2020).
  ``hour_label=None`` (default) uses each layout's default (:mod:`netsim.readers`).
  Times with a UTC offset or ``Z`` are converted to Beijing time first; ``2015-1-1 0``
  (hour without minutes) and ``24:00`` (the next day's 00:00) are accepted.  Times
  must fall on whole hours.
* ``station_id``: a station's id, English or Chinese name, pinyin or an alias
  from the network file (:class:`netsim.station_names.StationMatcher`); a name that
  fits two stations is an error naming both.
* ``pollutant``: ``PM2.5, PM10, NO2, SO2, O3`` (µg/m³) and ``CO`` (mg/m³); case is
  ignored and ``PM25`` is accepted (:func:`netsim.pollutants.pollutant`).  Other
  units are declared per pollutant (``units={"CO": "ug/m3"}``, ``--units``) or row by
  row in an optional ``unit`` column, and converted (:mod:`netsim.units`); a file
  whose values are implausible in the declared unit stops with the likely unit.
* ``value``: a finite number ≥ 0 and at most the pollutant's plausibility bound
  (:data:`PLAUSIBLE_MAX`); empty or ``NaN`` is a missing hour (same as an absent row).
* Rows outside the requested year (after the hour-label shift) are ignored without
  further checks, so one file may hold several years and a problem in one year's
  rows does not block loading another year.  Rows whose time cannot be read are the
  exception: their year is unknown, so they are invalid whatever year is loaded.
* The result has an array for every pollutant named anywhere in the file, all
  missing where the requested year has no row of it (so every year of a many-year
  file gives the same pollutants).

Invalid rows
------------
Unknown station (not in the network), unknown pollutant, unknown unit, unreadable
or non-whole-hour time, non-numeric, negative, infinite or implausibly large value,
and duplicated (station, time, pollutant) rows are *invalid* (in a wide file, a
"row" is one value of a line).  Values implausible in their declared unit as a
whole (:mod:`netsim.units`) and a station name that fits two stations stop loading
whatever ``on_invalid`` says: dropping rows cannot fix them.  With
``on_invalid="raise"`` (the default) the file is rejected with a
:class:`~netsim.errors.ReadingsError` naming the file, the first offending rows
(CSV: the file line, header = line 1; Parquet: the 1-based row) and the field.
With ``on_invalid="drop"`` invalid rows are dropped, counted by reason in
:attr:`HourlyReadings.dropped`, and one :class:`ReadingsWarning` line summarises
them; for duplicates **every copy** is dropped (netsim cannot tell which is right),
leaving that hour missing.

Memory
------
Files are read :data:`CHUNK_ROWS` rows at a time (CSV with ``pandas.read_csv`` in
chunks, every column categorical; Parquet as ``pyarrow`` record batches, text
columns dictionary-encoded).  Long files repeat each station, pollutant, time and
value many times, so each chunk parses only its distinct values; the rows of the
requested year are then validated and written straight into the dense
(station × hour) arrays.  Peak memory is one chunk plus the result, not the file:
``benchmarks/bench_readings.py`` loads one year of a 10-year, 35-station,
6-pollutant file (18.4 M rows) and records time and peak memory in
``benchmarks/results/readings.json``.

Several files (a folder, a zip archive, one file per site) are read one after the
other into the same arrays; a (station, hour, pollutant) given twice — in one file or
in two — is a duplicate.

Structure
---------
A *reader* (:func:`netsim.readers.open_reader`: a CSV or Parquet table and a layout)
yields :class:`~netsim.readers.LongChunk` s of raw long-format rows with their file
lines; :func:`check_chunk` parses, converts and validates a chunk's rows of the year;
:class:`ReadingsAccumulator` places them (finding duplicates across chunks and
files) and tallies problems and magnitudes; the report step checks the units, then
raises or warns.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from netsim.errors import ReadingsError
from netsim.network import Network
from netsim.pollutants import POLLUTANT_NAMES, POLLUTANTS
from netsim.readers import (
    CHUNK_ROWS,
    COLUMNS,
    LongChunk,
    Reader,
    Source,
    expand_sources,
    open_long_table,
    open_reader,
)
from netsim.station_names import StationMatcher
from netsim.units import (
    FACTORS,
    ORIGINS,
    UNITS,
    DeclaredUnit,
    MagnitudeTally,
    declared_units,
    magnitude_error,
    parse_unit,
    parse_units_option,
    unit_problem,
)

__all__ = [
    "CHUNK_ROWS",
    "COLUMNS",
    "PLAUSIBLE_MAX",
    "ConvertedYear",
    "Coverage",
    "HourlyReadings",
    "LongChunk",
    "ReadOptions",
    "ReadingsWarning",
    "check_chunk",
    "convert_readings",
    "hours_in_year",
    "load_readings",
    "open_long_table",
    "readings_years",
    "write_readings",
]

HOUR_LABELS = ("start", "end")
ON_INVALID = ("raise", "drop")
_MAX_LISTED = 5
_SOURCE_SHIFT = 40
"""Row labels of several files: ``file index << 40 | line`` (lines below 10^12)."""

PLAUSIBLE_MAX: dict[str, float] = {
    "PM2.5": 50_000.0,
    "PM10": 50_000.0,
    "NO2": 50_000.0,
    "SO2": 50_000.0,
    "O3": 50_000.0,
    "CO": 1_000.0,
}
"""Largest accepted hourly concentration, µg/m³ (CO mg/m³): netsim's bound, not a standard's.

Far above anything measured, so only corrupt values and unit mix-ups are rejected:
hourly PM10 in Beijing's dust storm of 15 March 2021 exceeded 8 000 µg/m³ at some
stations (Reuters report of 15 March 2021) — the bound is six times that; the top
breakpoints of HJ 633-2012 (IAQI 500) are 3 840 µg/m³ for NO2 1-h, 2 620 for SO2 24-h
and 1 200 for O3 1-h (``standards.md`` §3.1), a thirteenth of the bound or less.
CO's bound, 1 000 mg/m³, is nearly seven times its top breakpoint (150 mg/m³, 1-h);
CO given in µg/m³ by mistake (typically 300–3 000) mostly exceeds it.  Values this
size also keep the float error of means far below the GB/T 8170 tie tolerance
(:data:`netsim.standards.TIE_SNAP_DECIMALS`).
"""


@dataclass(frozen=True)
class Coverage:
    """What a year of readings holds: the stations measured, hours, missing shares.

    Attributes
    ----------
    stations
        Ids of the stations with at least one reading of any pollutant.
    hours
        Hours in the year.
    missing
        ``pollutant -> share`` (0–1) of missing hours over the measured stations.
    """

    stations: tuple[str, ...]
    hours: int
    missing: dict[str, float]


class ReadingsWarning(UserWarning):
    """Rows were dropped from a readings file (``on_invalid="drop"``)."""


def hours_in_year(year: int) -> int:
    """8784 for leap years, else 8760."""
    return int((pd.Timestamp(year + 1, 1, 1) - pd.Timestamp(year, 1, 1)) / pd.Timedelta(hours=1))


@dataclass(eq=False)
class HourlyReadings:
    """Dense hourly readings of a network for one calendar year.

    Attributes
    ----------
    station_ids
        (n,) station ids, in the network's order.
    year
        Calendar year.
    values
        ``pollutant -> ndarray (n, hours_in_year)`` float64, NaN = missing.  Hour
        index 0 is 1 January 00:00–01:00 Beijing time (hour-beginning labels).
        Pollutants absent from the file are absent from the dict.
    source
        File or label the readings came from.
    dropped
        Rows dropped per reason with ``on_invalid="drop"`` (empty otherwise).
    notes
        How the files were read: layouts, hour labels, unit conversions (one line each).
    matched
        Station names of the files that are not the station id -> the station id.
    """

    station_ids: np.ndarray
    year: int
    values: dict[str, np.ndarray]
    source: str = "<memory>"
    dropped: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    matched: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.station_ids = np.asarray(self.station_ids, dtype=object).astype(str)
        n, h = len(self.station_ids), hours_in_year(self.year)
        for p, a in list(self.values.items()):
            if p not in POLLUTANTS:
                raise ReadingsError(
                    f"{self.source}: unknown pollutant {p!r}; expected one of "
                    f"{', '.join(POLLUTANT_NAMES)}"
                )
            arr = np.asarray(a, dtype=float)
            if arr.shape != (n, h):
                raise ReadingsError(
                    f"{self.source}: {p} array has shape {arr.shape}; expected ({n}, {h}) = "
                    f"(stations, hours of {self.year})"
                )
            if np.isinf(arr).any():
                raise ReadingsError(
                    f"{self.source}: {p} has infinite values; use NaN for missing hours"
                )
            self.values[p] = arr

    @property
    def n_hours(self) -> int:
        """Hours in the year (8760 or 8784)."""
        return hours_in_year(self.year)

    @property
    def times(self) -> pd.DatetimeIndex:
        """Hour-beginning labels (naive Beijing local time) of the hour axis."""
        return pd.date_range(f"{self.year}-01-01", periods=self.n_hours, freq="h")

    def select(self, ids: np.ndarray | list[str]) -> HourlyReadings:
        """Readings of the stations ``ids`` (in that order); ReadingsError for unknown ids."""
        pos = pd.Index(self.station_ids).get_indexer([str(i) for i in ids])
        if (pos < 0).any():
            unknown = [str(i) for i, q in zip(ids, pos, strict=True) if q < 0]
            raise ReadingsError(
                f"{self.source}: no readings for station(s) {', '.join(unknown[:_MAX_LISTED])}"
            )
        return HourlyReadings(
            station_ids=self.station_ids[pos],
            year=self.year,
            values={p: a[pos] for p, a in self.values.items()},
            source=self.source,
            notes=self.notes,
        )

    def coverage(self) -> Coverage:
        """Stations with any reading, and the missing share of each pollutant over them."""
        measured = np.zeros(len(self.station_ids), dtype=bool)
        for a in self.values.values():
            measured |= ~np.isnan(a).all(axis=1)
        missing = {}
        for p in POLLUTANT_NAMES:
            if p in self.values:
                a = self.values[p][measured]
                missing[p] = float(np.isnan(a).mean()) if a.size else 1.0
        return Coverage(tuple(str(s) for s in self.station_ids[measured]), self.n_hours, missing)

    def to_long_frame(self, *, dropna: bool = True) -> pd.DataFrame:
        """Long frame ``station_id, time, pollutant, value`` (hour-beginning labels).

        Rows with NaN values are left out when ``dropna`` (missing = absent).
        """
        times = self.times
        n, h = len(self.station_ids), self.n_hours
        parts = []
        for p in POLLUTANT_NAMES:
            if p not in self.values:
                continue
            v = self.values[p].ravel()
            df = pd.DataFrame(
                {
                    "station_id": np.repeat(self.station_ids, h),
                    "time": np.tile(times.to_numpy(), n),
                    "pollutant": p,
                    "value": v,
                }
            )
            if dropna:
                df = df[~np.isnan(v)]
            parts.append(df)
        if not parts:
            return pd.DataFrame({c: [] for c in COLUMNS})
        return pd.concat(parts, ignore_index=True)


def write_readings(readings: HourlyReadings, path: str | os.PathLike[str]) -> Path:
    """Write readings in long format (CSV or Parquet by extension), atomically.

    Times are written as ``YYYY-MM-DD HH:MM`` hour-beginning labels; missing hours
    are left out.  Returns the path written.
    """
    from netsim.atomic import atomic_file

    p = Path(path)
    df = readings.to_long_frame()
    with atomic_file(p) as tmp:
        if p.suffix.lower() == ".parquet":
            df.to_parquet(tmp, index=False)
        elif p.suffix.lower() == ".csv":
            out = df.assign(time=df["time"].dt.strftime("%Y-%m-%d %H:%M"))
            out.to_csv(tmp, index=False, float_format="%.10g")
        else:
            raise ReadingsError(f"{p}: unsupported readings file type; use .csv or .parquet")
    return p


# -------------------------------------------------------------- parsing and validating

REASONS = (
    "unknown station",
    "unknown pollutant",
    "unknown unit",
    "unreadable time",
    "time not on the hour",
    "non-numeric value",
    "negative value",
    "infinite value",
    "implausible value",
    "duplicate row",
)
"""Reasons a row is invalid, in the order messages list them."""

_VALUE_REASONS = ("non-numeric value", "negative value", "infinite value", "implausible value")

_POLLUTANT_CODES: dict[str, int] = {
    **{name.upper(): i for i, name in enumerate(POLLUTANT_NAMES)},
    **{POLLUTANTS[name].slug.upper(): i for i, name in enumerate(POLLUTANT_NAMES)},
}
_BOUNDS = np.array([PLAUSIBLE_MAX[name] for name in POLLUTANT_NAMES])
_BLANK = ["", "nan", "na", "null", "none"]
_NETSIM_UNITS = declared_units({}, {})


@dataclass
class CheckedRows:
    """The rows of one chunk that belong to the year (or whose year is unknown), parsed.

    Attributes
    ----------
    labels
        File lines / rows (see :class:`~netsim.readers.LongChunk`).
    station, pollutant
        Index into the network / :data:`POLLUTANT_NAMES`; -1 where unknown.
    hour
        Hour of the year (valid where the row is valid).
    value
        Concentration in netsim's units (µg/m³, CO mg/m³), NaN = missing hour.
    problems
        ``reason -> bool mask`` for the reasons of :data:`REASONS` except duplicates.
    names
        ``reason -> offending names`` for the messages: unknown station, pollutant and
        unit texts, and the file columns of invalid values.
    named_pollutants
        Pollutants named by any row of the chunk (whatever its year).
    years
        Calendar years of the chunk's readable times (any year).
    n_rows
        Rows in the chunk.
    magnitudes
        ``(pollutant, unit code, origin code) -> MagnitudeTally`` of the chunk's
        numeric values (:func:`netsim.units.magnitude_error`).
    """

    labels: np.ndarray
    station: np.ndarray
    pollutant: np.ndarray
    hour: np.ndarray
    value: np.ndarray
    problems: dict[str, np.ndarray]
    names: dict[str, set[str]]
    named_pollutants: set[str]
    years: set[int]
    n_rows: int
    magnitudes: dict[tuple[str, int, int], MagnitudeTally] = field(default_factory=dict)

    @property
    def invalid(self) -> np.ndarray:
        """Rows with at least one problem."""
        out = np.zeros(len(self.labels), dtype=bool)
        for mask in self.problems.values():
            out |= mask
        return out


def _parse_times(raw: pd.Series) -> pd.Series:
    """Parse times to naive Beijing local time; NaT where unparseable."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        t = raw
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        return t.astype("datetime64[ns]")
    s = raw.astype("string").str.strip()
    has_tz = s.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False)
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if (~has_tz).any():
        out[~has_tz] = _to_datetime(s[~has_tz], utc=False)
    if has_tz.any():
        aware = _to_datetime(s[has_tz], utc=True)
        out[has_tz] = aware.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    return out


_DATE_HOUR = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T]+(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?$")


def _date_and_hour(text: str) -> pd.Timestamp:
    """``2015-1-1 0`` (hour without minutes) and ``2015-01-01 24:00`` (next day 00:00)."""
    m = _DATE_HOUR.match(str(text))
    if m is None:
        return pd.NaT
    y, mo, d, h = (int(g) for g in m.groups()[:4])
    minute, second = int(m.group(5) or 0), int(m.group(6) or 0)
    if h > 24 or (h == 24 and (minute or second)):
        return pd.NaT
    try:
        return pd.Timestamp(y, mo, d) + pd.Timedelta(hours=h, minutes=minute, seconds=second)
    except ValueError:
        return pd.NaT


def _to_datetime(s: pd.Series, *, utc: bool) -> pd.Series:
    """ISO 8601 first (fast); other spellings (e.g. 2020/1/1 13:00, 2015-1-1 0) one by one."""
    t = pd.to_datetime(s, errors="coerce", format="ISO8601", utc=utc)
    retry = t.isna() & s.notna() & (s != "")
    if retry.any():
        t[retry] = pd.to_datetime(s[retry], errors="coerce", format="mixed", utc=utc)
        again = t.isna() & retry
        if again.any() and not utc:
            t[again] = [_date_and_hour(x) for x in s[again]]
    return t


def _distinct(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes (-1 = no value) and distinct values of a column (a categorical's categories).

    Long files repeat each station, pollutant, time and value text many times, so
    parsing the distinct values and spreading the results over the rows
    (:func:`_spread`) is far cheaper than parsing every row.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), pd.Series(column.cat.categories)
    codes, uniques = pd.factorize(column)
    return codes, pd.Series(uniques)


def _spread(parsed: np.ndarray, codes: np.ndarray, missing: object) -> np.ndarray:
    """Per-row results from per-distinct-value results; ``missing`` where the code is -1."""
    parsed = np.asarray(parsed)
    return np.append(parsed, np.array([missing], dtype=parsed.dtype))[codes]


def _stripped(distinct: pd.Series) -> np.ndarray:
    return distinct.astype("string").str.strip().fillna("").to_numpy(dtype=object)


def _pollutant_code(distinct: pd.Series) -> np.ndarray:
    """Index into :data:`POLLUTANT_NAMES` (-1 unknown) of pollutant names."""
    key = pd.Series(_stripped(distinct)).str.upper().str.replace("PM25", "PM2.5", regex=False)
    return key.map(_POLLUTANT_CODES).fillna(-1).to_numpy(dtype=np.int64)


def _times(column: pd.Series, hour_label: str) -> tuple[np.ndarray, set[int]]:
    """Hour-beginning Beijing times of a chunk's rows (datetime64[ns], NaT: unreadable).

    Also returns the calendar years (after the hour-label shift) of the readable times.
    """
    shift = np.timedelta64(1 if hour_label == "end" else 0, "h")
    if pd.api.types.is_datetime64_any_dtype(column):
        t = _parse_times(column).to_numpy().astype("datetime64[ns]") - shift
        distinct_t = t
    else:
        codes, distinct = _distinct(column)
        distinct_t = _parse_times(distinct).to_numpy().astype("datetime64[ns]") - shift
        t = _spread(distinct_t, codes, np.datetime64("NaT", "ns"))
    readable = distinct_t[~np.isnat(distinct_t)]
    years = np.unique(readable.astype("datetime64[Y]").astype(np.int64)) + 1970
    return t, {int(y) for y in years}


def _values(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Concentrations (NaN = missing hour) and the rows whose text is not a number."""
    is_text = (
        column.dtype == object
        or pd.api.types.is_string_dtype(column)
        or isinstance(column.dtype, pd.CategoricalDtype)
    )
    if not is_text:
        value = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return value, np.zeros(len(value), dtype=bool)
    codes, distinct = _distinct(column)
    text = _stripped(distinct)
    number = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(float)
    blank = pd.Series(text, dtype=object).str.lower().isin(_BLANK).to_numpy()
    value = _spread(number, codes, np.nan)
    return value, np.isnan(value) & ~_spread(blank, codes, True)


def _value_problems(value: np.ndarray, pollutant: np.ndarray) -> dict[str, np.ndarray]:
    """Negative, infinite and implausibly large concentrations (:data:`PLAUSIBLE_MAX`)."""
    infinite = np.isinf(value)
    bound = np.where(pollutant >= 0, _BOUNDS[np.maximum(pollutant, 0)], _BOUNDS.max())
    with np.errstate(invalid="ignore"):
        return {
            "negative value": (value < 0) & ~infinite,
            "infinite value": infinite,
            "implausible value": (value > bound) & ~infinite,
        }


@dataclass(frozen=True)
class _RowUnits:
    """Each row's declared unit and who declared it (codes of UNITS / ORIGINS)."""

    unit: np.ndarray
    origin: np.ndarray
    unknown: np.ndarray
    unknown_names: set[str]


def _row_units(frame: pd.DataFrame, pollutant: np.ndarray,
               declared: Mapping[str, DeclaredUnit]) -> _RowUnits:
    """Units per row: the ``unit`` column where given, else the pollutant's declared unit."""
    by_pollutant = [declared[p] for p in POLLUTANT_NAMES]
    known = np.maximum(pollutant, 0)
    unit = np.array([d.code for d in by_pollutant])[known]
    origin = np.array([ORIGINS.index(d.origin) for d in by_pollutant])[known]
    if "unit" not in frame:
        none = np.zeros(len(frame), dtype=bool)
        return _RowUnits(unit, origin, none, set())
    codes, distinct = _distinct(frame["unit"])
    text = _stripped(distinct)
    parsed = np.array([UNITS.index(u) if (u := parse_unit(t)) else -1 for t in text],
                      dtype=np.int64)
    given = _spread(text != "", codes, False).astype(bool)
    row_unit = _spread(parsed, codes, -1)
    unknown = given & (row_unit < 0)
    return _RowUnits(
        unit=np.where(given, row_unit, unit),
        origin=np.where(given, ORIGINS.index("column"), origin),
        unknown=unknown,
        unknown_names=set(_spread(text, codes, "")[unknown].tolist()),
    )


def _magnitudes(raw: np.ndarray, value: np.ndarray, pollutant: np.ndarray, units: _RowUnits
                ) -> dict[tuple[str, int, int], MagnitudeTally]:
    """Tallies of the numeric values per (pollutant, declared unit, origin)."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(value) & (value >= 0) & (pollutant >= 0) & (units.unit >= 0)
    out: dict[tuple[str, int, int], MagnitudeTally] = {}
    key = (pollutant * len(UNITS) + units.unit) * len(ORIGINS) + units.origin
    for k in np.unique(key[ok]):
        m = ok & (key == k)
        p, rest = divmod(int(k), len(UNITS) * len(ORIGINS))
        u, o = divmod(rest, len(ORIGINS))
        tally = MagnitudeTally()
        tally.add(value[m], raw[m], POLLUTANT_NAMES[p])
        out[(POLLUTANT_NAMES[p], u, o)] = tally
    return out


def check_chunk(
    chunk: LongChunk,
    stations: StationMatcher,
    year: int,
    hour_label: str,
    units: Mapping[str, DeclaredUnit] | None = None,
) -> CheckedRows:
    """Parse, convert and validate the rows of ``chunk`` that belong to ``year``.

    Rows of other years are left out unchecked; rows with an unreadable time are kept
    (their year is unknown) and flagged.  Station names are resolved by ``stations``;
    values are converted from their declared unit (``units`` per pollutant, or the
    chunk's ``unit`` column) to netsim's.  Duplicates are found across chunks by
    :class:`ReadingsAccumulator`.

    Raises
    ------
    ReadingsError
        A station name that matches two stations (whatever ``on_invalid``).
    """
    frame = chunk.frame
    t, years = _times(frame["time"], hour_label)
    bad_time = np.isnat(t)
    hour = (t - np.datetime64(f"{year}-01-01T00", "ns")) / np.timedelta64(1, "h")
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero(bad_time | ((hour >= 0) & (hour < hours_in_year(year))))
    pol_codes, pol_distinct = _distinct(frame["pollutant"])
    pol_of_distinct = _pollutant_code(pol_distinct)
    named = {POLLUTANT_NAMES[c] for c in pol_of_distinct if c >= 0}

    sub = frame.iloc[rows]
    t, hour, bad_time = t[rows], hour[rows], bad_time[rows]
    pollutant = _spread(pol_of_distinct, pol_codes[rows], -1)
    st_codes, st_distinct = _distinct(sub["station_id"])
    st_names = _stripped(st_distinct)
    station = _spread(stations.resolve(st_names), st_codes, -1)
    raw, not_number = _values(sub["value"])
    row_units = _row_units(sub, pollutant, units or _NETSIM_UNITS)
    factor = np.where((pollutant >= 0) & (row_units.unit >= 0),
                      FACTORS[np.maximum(pollutant, 0), np.maximum(row_units.unit, 0)], 1.0)
    value = raw * factor
    off_hour = ~bad_time & (t.astype("datetime64[h]") != t)
    problems = {
        "unknown station": station < 0,
        "unknown pollutant": pollutant < 0,
        "unknown unit": row_units.unknown,
        "unreadable time": bad_time,
        "time not on the hour": off_hour,
        "non-numeric value": not_number,
        **_value_problems(value, pollutant),
    }
    columns = (np.full(len(rows), "value", dtype=object) if chunk.value_columns is None
               else chunk.value_columns[rows])
    names = {
        "unknown station": set(_spread(st_names, st_codes, "")[station < 0].tolist()),
        "unknown pollutant": set(
            _spread(_stripped(pol_distinct), pol_codes[rows], "")[pollutant < 0].tolist()),
        "unknown unit": row_units.unknown_names,
        **{r: set(columns[problems[r]].tolist()) for r in _VALUE_REASONS if problems[r].any()},
    }
    return CheckedRows(
        labels=chunk.labels[rows],
        station=station,
        pollutant=pollutant,
        hour=np.where(bad_time | off_hour, -1, hour).astype(np.int64),
        value=value,
        problems={r: m for r, m in problems.items() if m.any()},
        names=names,
        named_pollutants=named,
        years=years,
        n_rows=len(frame),
        magnitudes=_magnitudes(raw, value, pollutant, row_units),
    )


# ------------------------------------------------------------------------ accumulating


@dataclass
class ProblemTally:
    """Count, first labels and example names of the rows with one problem.

    ``count`` counts long rows (values); ``lines`` the distinct file lines they came
    from (a line of a wide file holds several values).
    """

    count: int = 0
    lines: int = 0
    first: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    names: set[str] = field(default_factory=set)

    def add(self, labels: np.ndarray, names: set[str] | None = None) -> None:
        """Count ``labels``; keep the smallest few labels and names for the message."""
        distinct = np.unique(labels)
        self.count += len(labels)
        self.lines += len(distinct)
        self.first = np.unique(np.concatenate([self.first, distinct]))[:_MAX_LISTED]
        if names:
            self.names = set(sorted(self.names | names)[:_MAX_LISTED])


class ReadingsAccumulator:
    """Dense (station × hour) arrays filled chunk by chunk, with duplicates found across chunks.

    Each pollutant has a value array and an int64 array of the label of the row that
    filled each cell (-1 empty, -2 duplicated), so a second row for a cell is found
    whichever chunk (or file) the first came from; every copy is then dropped (the
    cell becomes missing) and reported.  Memory: 16 bytes per cell of the pollutants
    present, independent of the files' length.
    """

    def __init__(self, n_stations: int, n_hours: int) -> None:
        self.shape = (n_stations, n_hours)
        self.values: dict[str, np.ndarray] = {}
        self._filled_by: dict[str, np.ndarray] = {}
        self.problems = {r: ProblemTally() for r in REASONS}
        self.n_invalid = 0
        self.n_rows = 0
        self.years: set[int] = set()
        self.named_pollutants: set[str] = set()
        self.magnitudes: dict[tuple[int, str, int, int], MagnitudeTally] = {}

    def add(self, rows: CheckedRows, source: int = 0) -> None:
        """Tally the chunk's problems and magnitudes and place its valid rows."""
        self.n_rows += rows.n_rows
        self.years |= rows.years
        self.named_pollutants |= rows.named_pollutants
        for key, tally in rows.magnitudes.items():
            total = self.magnitudes.setdefault((source, *key), MagnitudeTally())
            total.n += tally.n
            total.n_high += tally.n_high
            total.n_low += tally.n_low
            total.largest = max(total.largest, tally.largest)
        for reason, mask in rows.problems.items():
            self.problems[reason].add(rows.labels[mask], rows.names.get(reason))
        invalid = rows.invalid
        self.n_invalid += int(invalid.sum())
        valid = ~invalid
        for code in np.unique(rows.pollutant[valid]):
            m = valid & (rows.pollutant == code)
            self._place(POLLUTANT_NAMES[code], rows.station[m], rows.hour[m], rows.value[m],
                        rows.labels[m])

    def _place(self, name: str, station: np.ndarray, hour: np.ndarray, value: np.ndarray,
               labels: np.ndarray) -> None:
        if name not in self.values:
            self.values[name] = np.full(self.shape, np.nan)
            self._filled_by[name] = np.full(self.shape, -1, dtype=np.int64)
        values, filled_by = self.values[name], self._filled_by[name]
        before = filled_by[station, hour]
        cell = station.astype(np.int64) * self.shape[1] + hour
        dup = (before != -1) | pd.Series(cell).duplicated(keep=False).to_numpy()
        earlier = np.unique(before[before >= 0])  # first copies placed by earlier chunks
        ok = ~dup
        values[station[ok], hour[ok]] = value[ok]
        filled_by[station[ok], hour[ok]] = labels[ok]
        values[station[dup], hour[dup]] = np.nan
        filled_by[station[dup], hour[dup]] = -2
        if dup.any():
            self.problems["duplicate row"].add(np.concatenate([earlier, labels[dup]]))
            self.n_invalid += len(earlier) + int(dup.sum())

    def result(self) -> dict[str, np.ndarray]:
        """Arrays of every pollutant named in the files (all-missing where the year has none)."""
        out = {}
        for name in POLLUTANT_NAMES:
            if name in self.values:
                out[name] = self.values[name]
            elif name in self.named_pollutants:
                out[name] = np.full(self.shape, np.nan)
        return out

    def has_data(self) -> bool:
        """Whether any cell holds a value."""
        return any((~np.isnan(a)).any() for a in self.values.values())


# --------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class _SourceInfo:
    """What messages need of one file: its name, label word and field descriptions."""

    name: str
    word: str
    fields: dict[str, str]
    layout: str
    hour_label: str
    encoding: str


_TIME_EXPECTED = {
    "long": "a date-time (expected e.g. 2020-01-01 13:00)",
    "uci": "a date and an hour 0-23",
    "national": "a date YYYYMMDD and an hour 0-24",
}


def _problem_message(reason: str, names: set[str], info: _SourceInfo,
                     stations: StationMatcher) -> str:
    shown = ", ".join(sorted(names)[:_MAX_LISTED])
    fields = info.fields
    if reason in _VALUE_REASONS:
        columns = sorted(names)[:_MAX_LISTED]
        where = f"field{'s' if len(columns) > 1 else ''} " + ", ".join(map(repr, columns))
        what = {
            "non-numeric value": "not a number (leave empty for a missing hour)",
            "negative value": "negative concentration (must be >= 0)",
            "infinite value": "infinite (inf); give a concentration, or leave empty for a "
            "missing hour",
            "implausible value": "above the plausibility bound (" + _bounds_text()
            + "), far above any measured hourly value; check the units and the data",
        }[reason]
        return f"{where}: {what}"
    return {
        "unknown station": f"{fields['station_id']}: station not in the network "
        f"({stations.unknown_text(names)})",
        "unknown pollutant": f"{fields['pollutant']}: unknown pollutant ({shown}; expected "
        f"{', '.join(POLLUTANT_NAMES)})",
        "unknown unit": f"{fields['unit']}: "
        + "; ".join(unit_problem(n) for n in sorted(names)[:2]),
        "unreadable time": f"{fields['time']}: not {_TIME_EXPECTED[info.layout]}",
        "time not on the hour": f"{fields['time']}: not on a whole hour (hourly data expected)",
        "duplicate row": "duplicated (station_id, time, pollutant)",
    }[reason]


def _bounds_text() -> str:
    by_bound: dict[str, list[str]] = {}
    for name, bound in PLAUSIBLE_MAX.items():
        by_bound.setdefault(f"{bound:g} {POLLUTANTS[name].units}", []).append(name)
    return "; ".join(f"{', '.join(names)} {b}" for b, names in by_bound.items())


def _where(tally: ProblemTally, infos: list[_SourceInfo], *, with_name: bool) -> str:
    """``"a.csv lines 3, 4 and 2 more"`` (file names only when ``with_name``)."""
    groups: dict[int, list[int]] = {}
    for label in tally.first:
        groups.setdefault(int(label) >> _SOURCE_SHIFT, []).append(
            int(label) & ((1 << _SOURCE_SHIFT) - 1))
    parts = []
    for src, lines in groups.items():
        word = infos[src].word + ("s" if len(lines) > 1 else "")
        name = f"{infos[src].name} " if with_name else ""
        parts.append(f"{name}{word} {', '.join(map(str, lines))}")
    more = tally.lines - len(tally.first)
    return "; ".join(parts) + (f" and {more} more" if more > 0 else "")


def _report_invalid(acc: ReadingsAccumulator, infos: list[_SourceInfo], label: str,
                    stations: StationMatcher, on_invalid: str) -> dict[str, int]:
    """Raise (``on_invalid="raise"``) or warn once and return the counts dropped per reason."""
    found = {r: t for r, t in acc.problems.items() if t.count}
    if not found:
        return {}
    several = len(infos) > 1
    rows = "row(s)" if all(i.layout == "long" for i in infos) else "value(s)"
    if on_invalid == "raise":
        reason, first = min(found.items(), key=lambda item: item[1].first[0])
        info = infos[int(first.first[0]) >> _SOURCE_SHIFT]
        others = "; ".join(f"{r}: {t.count}" for r, t in found.items())
        raise ReadingsError(
            f"{_where(first, infos, with_name=True)}, "
            f"{_problem_message(reason, first.names, info, stations)}; "
            f"{acc.n_invalid} invalid {rows} in all ({others}); fix the file or load with "
            "on_invalid='drop' (--on-invalid drop)"
        )
    summary = "; ".join(f"{r}: {t.count} ({_where(t, infos, with_name=several)})"
                        for r, t in found.items())
    warnings.warn(
        f"{label}: dropped {acc.n_invalid} invalid {rows} — {summary}",
        ReadingsWarning,
        stacklevel=3,
    )
    return {r: t.count for r, t in found.items()}


def _check_magnitudes(acc: ReadingsAccumulator, infos: list[_SourceInfo]) -> None:
    """Raise for the first file and pollutant whose values are implausible in their unit."""
    for (src, p, unit, origin), tally in sorted(acc.magnitudes.items()):
        message = magnitude_error(infos[src].name, p, DeclaredUnit(UNITS[unit], ORIGINS[origin]),
                                  tally)
        if message is not None:
            raise ReadingsError(message)


def _no_data_error(acc: ReadingsAccumulator, label: str, year: int) -> ReadingsError:
    years = sorted(acc.years)
    found = (
        f"its {acc.n_rows} row(s) cover {', '.join(map(str, years))}"
        if years
        else "it has no data rows"
        if acc.n_rows == 0
        else "it has no valid value"
    )
    return ReadingsError(
        f"{label}: no readings for {year} ({found}); pass the year the file holds (--year)"
    )


_LAYOUT_TEXT = {"long": "long", "uci": "UCI per-site wide", "national": "national wide"}
_ORIGIN_NOTE = {"layout": "the layout's documented unit", "option": "--units",
                "column": "the unit column"}


def _notes(infos: list[_SourceInfo], acc: ReadingsAccumulator) -> tuple[str, ...]:
    """One line per kind of file read, and one per unit conversion."""
    kinds: dict[tuple[str, str, str], int] = {}
    for info in infos:
        key = (info.layout, info.hour_label, info.encoding)
        kinds[key] = kinds.get(key, 0) + 1
    notes = []
    for (layout, label, encoding), n in kinds.items():
        text = "" if encoding in ("utf-8", "utf-8-sig", "") else f", {encoding.upper()} text"
        notes.append(f"{n} file{'s' if n > 1 else ''} in the {_LAYOUT_TEXT[layout]} layout"
                     f"{text}, times labelling the {label} of the hour")
    conversions: dict[tuple[str, int, int], int] = {}
    for (_, p, unit, origin), tally in acc.magnitudes.items():
        if UNITS[unit] != POLLUTANTS[p].units and tally.n:
            conversions[(p, unit, origin)] = conversions.get((p, unit, origin), 0) + tally.n
    for (p, unit, origin), n in sorted(conversions.items()):
        factor = FACTORS[POLLUTANT_NAMES.index(p), unit]
        how = f"÷{1 / factor:g}" if factor < 1 else f"×{factor:g}"
        notes.append(f"{p} read in {UNITS[unit]} ({_ORIGIN_NOTE[ORIGINS[origin]]}) and "
                     f"converted to {POLLUTANTS[p].units} ({how}), {n} values")
    return tuple(notes)


@dataclass(frozen=True)
class ReadOptions:
    """How readings files are read (every option of :func:`load_readings` but the year).

    Attributes
    ----------
    hour_label
        ``"start"``, ``"end"`` or None (each layout's default, :mod:`netsim.readers`).
    on_invalid
        ``"raise"`` or ``"drop"``.
    units
        Declared units per pollutant (``{"CO": "ug/m3"}`` or ``["CO=ug/m3"]``).
    layout
        ``"auto"`` (from the header) or ``"long"``, ``"uci"``, ``"national"``.
    encoding
        ``"auto"``, ``"utf-8"`` or ``"gb18030"`` (CSV text).
    chunk_rows
        Long rows read at a time (:data:`CHUNK_ROWS`); results do not depend on it.
    """

    hour_label: str | None = None
    on_invalid: str = "raise"
    units: Mapping[str, str] | Sequence[str] | str | None = None
    layout: str = "auto"
    encoding: str = "auto"
    chunk_rows: int = CHUNK_ROWS

    def checked(self) -> ReadOptions:
        """Validated options (units parsed; ReadingsError naming the bad option)."""
        if self.hour_label not in (None, *HOUR_LABELS):
            raise ReadingsError(f"hour_label {self.hour_label!r}: expected 'start' or 'end'")
        if self.on_invalid not in ON_INVALID:
            raise ReadingsError(f"on_invalid {self.on_invalid!r}: expected 'raise' or 'drop'")
        if int(self.chunk_rows) < 1:
            raise ReadingsError(f"chunk_rows {self.chunk_rows!r}: expected a positive number "
                                "of rows")
        units = parse_units_option(self.units, "units")
        return ReadOptions(self.hour_label, self.on_invalid, units, self.layout, self.encoding,
                           int(self.chunk_rows))


def _label(paths: object) -> str:
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)  # type: ignore
    return ", ".join(str(p) for p in items)


def _info(reader: Reader, options: ReadOptions) -> _SourceInfo:
    return _SourceInfo(
        name=str(reader.source), word=reader.label_word, fields=reader.layout.fields,
        layout=reader.layout.name, hour_label=options.hour_label or reader.layout.hour_label,
        encoding=getattr(reader.table, "encoding", ""))


def _read(sources: list[Source], stations: StationMatcher, n_stations: int, year: int,
          options: ReadOptions) -> tuple[ReadingsAccumulator, list[_SourceInfo]]:
    """Every source's rows of ``year`` checked and placed in one accumulator."""
    acc = ReadingsAccumulator(n_stations, hours_in_year(year))
    infos: list[_SourceInfo] = []
    for i, src in enumerate(sources):
        reader = open_reader(src, layout=options.layout, encoding=options.encoding,
                             chunk_rows=options.chunk_rows)
        info = _info(reader, options)
        infos.append(info)
        declared = declared_units(reader.layout.units, options.units)  # type: ignore[arg-type]
        offset = np.int64(i) << _SOURCE_SHIFT
        for chunk in reader.chunks():
            try:
                rows = check_chunk(chunk, stations, year, info.hour_label, declared)
            except ReadingsError as exc:
                raise ReadingsError(f"{src} {info.fields['station_id']}: {exc}") from None
            rows.labels = rows.labels + offset
            acc.add(rows, source=i)
    return acc, infos


def load_readings(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    network: Network,
    year: int,
    *,
    hour_label: str | None = None,
    on_invalid: str = "raise",
    units: Mapping[str, str] | Sequence[str] | str | None = None,
    layout: str = "auto",
    encoding: str = "auto",
    chunk_rows: int = CHUNK_ROWS,
) -> HourlyReadings:
    """Load hourly readings for the stations of ``network`` and one year.

    Each file is read in chunks (:func:`netsim.readers.open_reader`), each chunk's rows
    of ``year`` are converted and validated (:func:`check_chunk`) and placed in the
    dense arrays (:class:`ReadingsAccumulator`), so memory is bounded by one chunk plus
    the result whatever the files' length (module docstring, "Memory").

    Parameters
    ----------
    path
        One or several readings files or folders (``.csv``, ``.parquet``, compressed
        ``.csv.gz``/``.csv.xz``/``.csv.bz2``, ``.zip``) in any layout of
        :mod:`netsim.readers`.
    network
        Stations the readings belong to; the result follows its order.  Stations
        without rows get all-missing hours.
    year
        Calendar year to extract (Beijing time).
    hour_label
        ``"start"``: times label the start of the hour; ``"end"``: the end; None
        (default): each layout's default (long and UCI: start, national: end).
    on_invalid
        ``"raise"`` (default) rejects files with any invalid row; ``"drop"`` drops
        invalid rows, counts them in ``.dropped`` and warns once.
    units
        Units per pollutant where the files do not state them (``{"CO": "ug/m3"}``,
        ``"CO=ug/m3"``); values are converted to µg/m³ (CO mg/m³).
    layout
        ``"auto"`` (default, from each header) or ``"long"``, ``"uci"``, ``"national"``.
    encoding
        CSV text encoding: ``"auto"`` (default), ``"utf-8"`` or ``"gb18030"``.
    chunk_rows
        Rows read at a time (:data:`CHUNK_ROWS`); results do not depend on it.

    Returns
    -------
    HourlyReadings
        With ``notes`` (layouts, hour labels, conversions) and ``matched`` (names that
        are not ids).

    Raises
    ------
    ReadingsError
        Unsupported file, missing columns, values implausible in their declared unit
        (the likely unit and the option to fix it), an ambiguous station name, invalid
        rows (with ``on_invalid="raise"``); the message names the file, the first rows
        (CSV file lines) and the field.
    FileNotFoundError
        A file does not exist.
    """
    options = ReadOptions(hour_label, on_invalid, units, layout, encoding, chunk_rows).checked()
    sources = expand_sources(path)
    stations = StationMatcher.from_network(network)
    acc, infos = _read(sources, stations, len(network), year, options)
    label = _label(path)
    _check_magnitudes(acc, infos)
    dropped = _report_invalid(acc, infos, label, stations, options.on_invalid)
    if not acc.has_data():
        raise _no_data_error(acc, label, year)
    return HourlyReadings(
        station_ids=network.ids, year=year, values=acc.result(), source=label, dropped=dropped,
        notes=_notes(infos, acc), matched=dict(stations.used),
    )


# ---------------------------------------------------------------------------- converting


def readings_years(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                   hour_label: str | None = None, layout: str = "auto",
                   encoding: str = "auto") -> list[int]:
    """Calendar years (Beijing time, after the hour-label shift) the files hold rows of."""
    years: set[int] = set()
    for src in expand_sources(path):
        reader = open_reader(src, layout=layout, encoding=encoding)
        label = hour_label or reader.layout.hour_label
        for chunk in reader.chunks():
            years |= _times(chunk.frame["time"], label)[1]
    return sorted(years)


_PARQUET_SCHEMA = pa.schema([("station_id", pa.string()), ("time", pa.timestamp("us")),
                             ("pollutant", pa.string()), ("value", pa.float64())])


@dataclass(frozen=True)
class ConvertedYear:
    """One year written by :func:`convert_readings`: what it holds and how it was read."""

    year: int
    coverage: Coverage
    rows: int
    notes: tuple[str, ...]
    matched: dict[str, str]


def convert_readings(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    network: Network,
    out: str | os.PathLike[str],
    *,
    years: Sequence[int] | None = None,
    **options: object,
) -> list[ConvertedYear]:
    """Normalise readings files of any layout into netsim's long Parquet, atomically.

    The output has columns ``station_id`` (network ids), ``time`` (hour-beginning
    Beijing time), ``pollutant``, ``value`` (µg/m³, CO mg/m³), missing hours left out,
    one row group per year; :func:`load_readings` of it gives the same arrays.  Years
    are loaded and written one at a time (memory: one year's arrays).

    Parameters
    ----------
    path, network, options
        As for :func:`load_readings` (``hour_label``, ``on_invalid``, ``units``,
        ``layout``, ``encoding``, ``chunk_rows``).
    out
        ``.parquet`` file to write.
    years
        Years to convert (default: every year the files hold, :func:`readings_years`).

    Returns
    -------
    list of ConvertedYear
        Per year written: stations measured, hours, missing shares, notes.
    """
    from netsim.atomic import atomic_file

    target = Path(out)
    if target.suffix.lower() != ".parquet":
        raise ReadingsError(f"{target}: the normalised readings are written as .parquet; "
                            "give an output name ending in .parquet")
    if years is None:
        years = readings_years(path, hour_label=options.get("hour_label"),  # type: ignore[arg-type]
                               layout=str(options.get("layout", "auto")),
                               encoding=str(options.get("encoding", "auto")))
        if not years:
            raise ReadingsError(f"{_label(path)}: no readable time in the files")
    done = []
    with atomic_file(target) as tmp, pq.ParquetWriter(tmp, _PARQUET_SCHEMA) as writer:
        for year in years:
            readings = load_readings(path, network, int(year), **options)  # type: ignore[arg-type]
            frame = readings.to_long_frame()
            writer.write_table(pa.Table.from_pandas(frame, schema=_PARQUET_SCHEMA,
                                                    preserve_index=False))
            done.append(ConvertedYear(int(year), readings.coverage(), len(frame),
                                      readings.notes, readings.matched))
    return done
