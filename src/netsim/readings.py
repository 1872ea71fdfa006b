"""Hourly station readings: load long-format files into dense (station × hour) arrays.

File format
-----------
Long format, one row per station, hour and pollutant, as CSV or Parquet::

    station_id,time,pollutant,value
    dongsi,2020-01-01 00:00,PM2.5,83
    dongsi,2020-01-01 00:00,CO,1.4

* ``time`` is Beijing local time (UTC+8).  By default it **labels the start of the
  hour**: ``2020-01-01 00:00`` is 00:00–01:00, and ``00:00`` … ``23:00`` belong to
  that day.  Data labelled by the *end* of the hour (the national real-time
  platform's convention, ``standards.md`` §1.1) is read with ``hour_label="end"``:
  every time is moved back one hour (``2020-01-01 01:00`` → hour 0;
  ``2021-01-01 00:00`` → the last hour of 2020).  Times with a UTC offset or
  ``Z`` are converted to Beijing time first.  Times must fall on whole hours.
* ``pollutant``: ``PM2.5, PM10, NO2, SO2, O3`` (µg/m³) and ``CO`` (mg/m³); case is
  ignored and ``PM25`` is accepted (:func:`netsim.pollutants.pollutant`).
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
Unknown station (not in the network), unknown pollutant, unreadable or
non-whole-hour time, non-numeric, negative, infinite or implausibly large value,
and duplicated (station, time, pollutant) rows are *invalid*.  With
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

Structure
---------
A *reader* (:func:`open_long_table`: :class:`CsvLongReader`,
:class:`ParquetLongReader`) yields :class:`LongChunk` s of raw long-format rows
with their file lines; :func:`check_chunk` parses and validates a chunk's rows of
the year; :class:`ReadingsAccumulator` places them (finding duplicates across
chunks) and tallies problems; the report step raises or warns.  Other layouts
(wide files, other encodings) only need a reader that yields long-format chunks.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from netsim.errors import ReadingsError
from netsim.network import Network
from netsim.pollutants import POLLUTANT_NAMES, POLLUTANTS

HOUR_LABELS = ("start", "end")
ON_INVALID = ("raise", "drop")
COLUMNS = ("station_id", "time", "pollutant", "value")
_MAX_LISTED = 5

CHUNK_ROWS = 500_000
"""Rows read at a time: a CSV chunk of this size takes roughly 100 MB while parsed."""

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
    """

    station_ids: np.ndarray
    year: int
    values: dict[str, np.ndarray]
    source: str = "<memory>"
    dropped: dict[str, int] = field(default_factory=dict)

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
        )

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


# ----------------------------------------------------------------------------- reading
# A reader yields long-format chunks (``station_id, time, pollutant, value`` as stored)
# with each row's place in the file; parsing, validation and accumulation below do
# not depend on the file format, so new formats only need a reader.


@dataclass(frozen=True)
class LongChunk:
    """Consecutive rows of a long-format table, as stored in the file.

    Attributes
    ----------
    frame
        Columns ``station_id, time, pollutant, value`` (CSV: text; Parquet: the file's
        types).
    labels
        (len(frame),) int64: each row's place in the file for error messages — the
        file line (CSV, header = line 1) or the 1-based row (Parquet).
    """

    frame: pd.DataFrame
    labels: np.ndarray


def _canonical_columns(names: list[str], path: Path) -> dict[str, str]:
    """Map the file's column names to :data:`COLUMNS` (case and spaces ignored)."""
    found: dict[str, str] = {}
    for name in names:
        key = str(name).strip().lower()
        if key in COLUMNS:
            if key in found.values():
                raise ReadingsError(f"{path}: column {key!r} appears twice; keep one")
            found[name] = key
    missing = [c for c in COLUMNS if c not in found.values()]
    if missing:
        raise ReadingsError(
            f"{path}: missing column(s) {', '.join(missing)}; expected long format with columns "
            "station_id,time,pollutant,value"
        )
    return found


def _unreadable(path: Path, exc: BaseException) -> ReadingsError:
    return ReadingsError(
        f"{path}: cannot read ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
        "expected a long-format table with columns station_id,time,pollutant,value"
    )


_CSV_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError)
_PARQUET_ERRORS = (pa.ArrowException, OSError)


class CsvLongReader:
    """Long-format CSV in chunks of ``chunk_rows`` rows, every column as categorical text.

    Labels are file lines (header = line 1), assuming one line per row.
    """

    label_word = "line"

    def __init__(self, path: Path, chunk_rows: int) -> None:
        self.path, self.chunk_rows = path, chunk_rows
        try:
            header = pd.read_csv(path, dtype=str, nrows=0, skipinitialspace=True)
        except _CSV_ERRORS as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise _unreadable(path, exc) from None
        self.columns = _canonical_columns(list(header.columns), path)

    def chunks(self) -> Iterator[LongChunk]:
        """Yield the file's rows, ``chunk_rows`` at a time."""
        done = 0
        try:
            with pd.read_csv(
                self.path,
                dtype="category",  # every column repeats: codes + distinct values
                keep_default_na=False,
                skipinitialspace=True,
                usecols=list(self.columns),
                chunksize=self.chunk_rows,
            ) as reader:
                for frame in reader:
                    labels = np.arange(done, done + len(frame), dtype=np.int64) + 2
                    done += len(frame)
                    yield LongChunk(frame.rename(columns=self.columns)[list(COLUMNS)], labels)
        except _CSV_ERRORS as exc:
            raise _unreadable(self.path, exc) from None


class ParquetLongReader:
    """Long-format Parquet, streamed in record batches of ``chunk_rows`` rows.

    Only the four columns are read, one batch at a time (``pyarrow.parquet``); labels
    are 1-based rows.
    """

    label_word = "row"

    def __init__(self, path: Path, chunk_rows: int) -> None:
        self.path, self.chunk_rows = path, chunk_rows
        try:
            schema = pq.read_schema(path)
        except _PARQUET_ERRORS as exc:
            raise _unreadable(path, exc) from None
        self.columns = _canonical_columns(schema.names, path)
        self.text_columns = [  # read dictionary-encoded, i.e. as pandas categoricals
            name
            for name in self.columns
            if pa.types.is_string(schema.field(name).type)
            or pa.types.is_large_string(schema.field(name).type)
        ]

    def chunks(self) -> Iterator[LongChunk]:
        """Yield the file's rows, ``chunk_rows`` at a time."""
        done = 0
        try:
            with pq.ParquetFile(self.path, read_dictionary=self.text_columns) as f:
                for batch in f.iter_batches(
                    batch_size=self.chunk_rows, columns=list(self.columns)
                ):
                    frame = batch.to_pandas().rename(columns=self.columns)[list(COLUMNS)]
                    labels = np.arange(done, done + len(frame), dtype=np.int64) + 1
                    done += len(frame)
                    yield LongChunk(frame, labels)
        except _PARQUET_ERRORS as exc:
            raise _unreadable(self.path, exc) from None


LongReader = CsvLongReader | ParquetLongReader


def open_long_table(path: Path, chunk_rows: int = CHUNK_ROWS) -> LongReader:
    """A chunked reader for a long-format ``.csv`` or ``.parquet`` file (header checked).

    Raises
    ------
    ReadingsError
        Unsupported type, unreadable file or missing columns.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return CsvLongReader(path, chunk_rows)
    if suffix in (".parquet", ".pq"):
        return ParquetLongReader(path, chunk_rows)
    raise ReadingsError(
        f"{path}: unsupported readings file type {suffix!r}; use .csv or .parquet"
    )


# -------------------------------------------------------------- parsing and validating

REASONS = (
    "unknown station",
    "unknown pollutant",
    "unreadable time",
    "time not on the hour",
    "non-numeric value",
    "negative value",
    "infinite value",
    "implausible value",
    "duplicate row",
)
"""Reasons a row is invalid, in the order messages list them."""

_POLLUTANT_CODES: dict[str, int] = {
    **{name.upper(): i for i, name in enumerate(POLLUTANT_NAMES)},
    **{POLLUTANTS[name].slug.upper(): i for i, name in enumerate(POLLUTANT_NAMES)},
}
_BOUNDS = np.array([PLAUSIBLE_MAX[name] for name in POLLUTANT_NAMES])
_BLANK = ["", "nan", "na", "null", "none"]


@dataclass
class CheckedRows:
    """The rows of one chunk that belong to the year (or whose year is unknown), parsed.

    Attributes
    ----------
    labels
        File lines / rows (see :class:`LongChunk`).
    station, pollutant
        Index into the network / :data:`POLLUTANT_NAMES`; -1 where unknown.
    hour
        Hour of the year (valid where the row is valid).
    value
        Concentration, NaN = missing hour.
    problems
        ``reason -> bool mask`` for the reasons of :data:`REASONS` except duplicates.
    unknown_stations, unknown_pollutants
        Offending names, for the messages.
    named_pollutants
        Pollutants named by any row of the chunk (whatever its year).
    years
        Calendar years of the chunk's readable times (any year).
    n_rows
        Rows in the chunk.
    """

    labels: np.ndarray
    station: np.ndarray
    pollutant: np.ndarray
    hour: np.ndarray
    value: np.ndarray
    problems: dict[str, np.ndarray]
    unknown_stations: set[str]
    unknown_pollutants: set[str]
    named_pollutants: set[str]
    years: set[int]
    n_rows: int

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


def _to_datetime(s: pd.Series, *, utc: bool) -> pd.Series:
    """ISO 8601 first (fast); other spellings (e.g. 2020/1/1 13:00) parsed one by one."""
    t = pd.to_datetime(s, errors="coerce", format="ISO8601", utc=utc)
    retry = t.isna() & s.notna() & (s != "")
    if retry.any():
        t[retry] = pd.to_datetime(s[retry], errors="coerce", format="mixed", utc=utc)
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


def check_chunk(
    chunk: LongChunk, station_index: pd.Index, year: int, hour_label: str
) -> CheckedRows:
    """Parse and validate the rows of ``chunk`` that belong to ``year``.

    Rows of other years are left out unchecked; rows with an unreadable time are kept
    (their year is unknown) and flagged.  Duplicates are found across chunks by
    :class:`ReadingsAccumulator`.
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
    station = _spread(station_index.get_indexer(st_names), st_codes, -1)
    value, not_number = _values(sub["value"])
    off_hour = ~bad_time & (t.astype("datetime64[h]") != t)
    problems = {
        "unknown station": station < 0,
        "unknown pollutant": pollutant < 0,
        "unreadable time": bad_time,
        "time not on the hour": off_hour,
        "non-numeric value": not_number,
        **_value_problems(value, pollutant),
    }
    unknown_station_names = _spread(st_names, st_codes, "")[station < 0]
    unknown_pollutant_names = _spread(_stripped(pol_distinct), pol_codes[rows], "")[pollutant < 0]
    return CheckedRows(
        labels=chunk.labels[rows],
        station=station,
        pollutant=pollutant,
        hour=np.where(bad_time | off_hour, -1, hour).astype(np.int64),
        value=value,
        problems={r: m for r, m in problems.items() if m.any()},
        unknown_stations=set(unknown_station_names.tolist()),
        unknown_pollutants=set(unknown_pollutant_names.tolist()),
        named_pollutants=named,
        years=years,
        n_rows=len(frame),
    )


# ------------------------------------------------------------------------ accumulating


@dataclass
class ProblemTally:
    """Count, first labels and example names of the rows with one problem."""

    count: int = 0
    first: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    names: set[str] = field(default_factory=set)

    def add(self, labels: np.ndarray, names: set[str] | None = None) -> None:
        """Count ``labels``; keep the smallest few labels and names for the message."""
        self.count += len(labels)
        self.first = np.sort(np.concatenate([self.first, labels]))[:_MAX_LISTED]
        if names:
            self.names = set(sorted(self.names | names)[:_MAX_LISTED])


class ReadingsAccumulator:
    """Dense (station × hour) arrays filled chunk by chunk, with duplicates found across chunks.

    Each pollutant has a value array and an int64 array of the label of the row that
    filled each cell (-1 empty, -2 duplicated), so a second row for a cell is found
    whichever chunk the first came from; every copy is then dropped (the cell
    becomes missing) and reported.  Memory: 16 bytes per cell of the pollutants
    present, independent of the file's length.
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

    def add(self, rows: CheckedRows) -> None:
        """Tally the chunk's problems and place its valid rows."""
        self.n_rows += rows.n_rows
        self.years |= rows.years
        self.named_pollutants |= rows.named_pollutants
        names = {"unknown station": rows.unknown_stations,
                 "unknown pollutant": rows.unknown_pollutants}
        for reason, mask in rows.problems.items():
            self.problems[reason].add(rows.labels[mask], names.get(reason))
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
        """Arrays of every pollutant named in the file (all-missing where the year has none)."""
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


def _problem_message(reason: str, names: set[str]) -> str:
    shown = ", ".join(sorted(names)[:_MAX_LISTED])
    return {
        "unknown station": f"field 'station_id': station not in the network ({shown})",
        "unknown pollutant": f"field 'pollutant': unknown pollutant ({shown}; expected "
        f"{', '.join(POLLUTANT_NAMES)})",
        "unreadable time": "field 'time': not a date-time (expected e.g. 2020-01-01 13:00)",
        "time not on the hour": "field 'time': not on a whole hour (hourly data expected)",
        "non-numeric value": "field 'value': not a number (leave empty for a missing hour)",
        "negative value": "field 'value': negative concentration (must be >= 0)",
        "infinite value": "field 'value': infinite (inf); give a concentration, or leave "
        "empty for a missing hour",
        "implausible value": "field 'value': above the plausibility bound ("
        + _bounds_text()
        + "), far above any measured hourly value; check the units and the data",
        "duplicate row": "duplicated (station_id, time, pollutant)",
    }[reason]


def _bounds_text() -> str:
    by_bound: dict[str, list[str]] = {}
    for name, bound in PLAUSIBLE_MAX.items():
        by_bound.setdefault(f"{bound:g} {POLLUTANTS[name].units}", []).append(name)
    return "; ".join(f"{', '.join(names)} {b}" for b, names in by_bound.items())


def _row_label(word: str, tally: ProblemTally) -> str:
    more = tally.count - len(tally.first)
    plural = "s" if tally.count > 1 else ""
    return (
        f"{word}{plural} "
        + ", ".join(str(int(r)) for r in tally.first)
        + (f" and {more} more" if more else "")
    )


def _report_invalid(
    acc: ReadingsAccumulator, path: Path, word: str, on_invalid: str
) -> dict[str, int]:
    """Raise (``on_invalid="raise"``) or warn once and return the counts dropped per reason."""
    found = {r: t for r, t in acc.problems.items() if t.count}
    if not found:
        return {}
    if on_invalid == "raise":
        reason, first = min(found.items(), key=lambda item: item[1].first[0])
        others = "; ".join(f"{r}: {t.count}" for r, t in found.items())
        raise ReadingsError(
            f"{path} {_row_label(word, first)}, {_problem_message(reason, first.names)}; "
            f"{acc.n_invalid} invalid row(s) in all ({others}); fix the file or load with "
            "on_invalid='drop' (--on-invalid drop)"
        )
    summary = "; ".join(f"{r}: {t.count} ({_row_label(word, t)})" for r, t in found.items())
    warnings.warn(
        f"{path}: dropped {acc.n_invalid} invalid row(s) — {summary}",
        ReadingsWarning,
        stacklevel=3,
    )
    return {r: t.count for r, t in found.items()}


def _no_data_error(acc: ReadingsAccumulator, path: Path, year: int) -> ReadingsError:
    years = sorted(acc.years)
    found = (
        f"its {acc.n_rows} row(s) cover {', '.join(map(str, years))}"
        if years
        else "it has no data rows"
        if acc.n_rows == 0
        else "it has no valid value"
    )
    return ReadingsError(
        f"{path}: no readings for {year} ({found}); pass the year the file holds (--year)"
    )


def load_readings(
    path: str | os.PathLike[str],
    network: Network,
    year: int,
    *,
    hour_label: str = "start",
    on_invalid: str = "raise",
    chunk_rows: int = CHUNK_ROWS,
) -> HourlyReadings:
    """Load long-format hourly readings for the stations of ``network`` and one year.

    The file is read in chunks (:func:`open_long_table`), each chunk's rows of
    ``year`` are validated (:func:`check_chunk`) and placed in the dense arrays
    (:class:`ReadingsAccumulator`), so memory is bounded by one chunk plus the result
    whatever the file's length (module docstring, "Memory").

    Parameters
    ----------
    path
        ``.csv`` or ``.parquet`` file with columns ``station_id, time, pollutant, value``
        (see the module docstring for the format).
    network
        Stations the readings belong to; the result follows its order.  Stations
        without rows get all-missing hours.
    year
        Calendar year to extract (Beijing time).
    hour_label
        ``"start"`` (default): ``time`` labels the start of the hour; ``"end"``: the end.
    on_invalid
        ``"raise"`` (default) rejects a file with any invalid row; ``"drop"`` drops
        invalid rows, counts them in ``.dropped`` and warns once.
    chunk_rows
        Rows read at a time (:data:`CHUNK_ROWS`); results do not depend on it.

    Returns
    -------
    HourlyReadings

    Raises
    ------
    ReadingsError
        Missing columns or invalid rows (with ``on_invalid="raise"``); the message
        names the file, the first rows (CSV file lines) and the field.
    FileNotFoundError
        The file does not exist.
    """
    if hour_label not in HOUR_LABELS:
        raise ReadingsError(f"hour_label {hour_label!r}: expected 'start' or 'end'")
    if on_invalid not in ON_INVALID:
        raise ReadingsError(f"on_invalid {on_invalid!r}: expected 'raise' or 'drop'")
    if int(chunk_rows) < 1:
        raise ReadingsError(f"chunk_rows {chunk_rows!r}: expected a positive number of rows")
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(2, "No such file", str(p))
    reader = open_long_table(p, int(chunk_rows))
    station_index = pd.Index(network.ids)
    acc = ReadingsAccumulator(len(network), hours_in_year(year))
    for chunk in reader.chunks():
        acc.add(check_chunk(chunk, station_index, year, hour_label))
    dropped = _report_invalid(acc, p, reader.label_word, on_invalid)
    if not acc.has_data():
        raise _no_data_error(acc, p, year)
    return HourlyReadings(
        station_ids=network.ids, year=year, values=acc.result(), source=str(p), dropped=dropped
    )
