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
* ``value``: a number ≥ 0; empty or ``NaN`` is a missing hour (same as an absent row).
* Rows outside the requested year (after the hour-label shift) are ignored, so one
  file may hold several years.

Invalid rows
------------
Unknown station (not in the network), unknown pollutant, unreadable or
non-whole-hour time, non-numeric or negative value, and duplicated
(station, time, pollutant) rows are *invalid*.  With ``on_invalid="raise"`` (the
default) the file is rejected with a :class:`~netsim.errors.ReadingsError` naming
the file, the first offending rows (CSV: the file line, header = line 1;
Parquet: the 1-based row) and the field.  With ``on_invalid="drop"`` invalid rows
are dropped, counted by reason in :attr:`HourlyReadings.dropped`, and one
:class:`ReadingsWarning` line summarises them; for duplicates **every copy** is
dropped (netsim cannot tell which is right), leaving that hour missing.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from netsim.errors import ReadingsError
from netsim.network import Network
from netsim.pollutants import POLLUTANT_NAMES, POLLUTANTS

HOUR_LABELS = ("start", "end")
ON_INVALID = ("raise", "drop")
COLUMNS = ("station_id", "time", "pollutant", "value")
_MAX_LISTED = 5


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


def _read_table(p: Path) -> tuple[pd.DataFrame, str]:
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
            return df, "csv"
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p), "parquet"
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ReadingsError(
            f"{p}: cannot read ({str(exc).splitlines()[0]}); expected a long-format "
            "table with columns station_id,time,pollutant,value"
        ) from None
    raise ReadingsError(f"{p}: unsupported readings file type {suffix!r}; use .csv or .parquet")


def _row_label(kind: str, rows: np.ndarray) -> str:
    rows = np.asarray(rows)
    shown = rows[:_MAX_LISTED]
    more = f" and {len(rows) - len(shown)} more" if len(rows) > len(shown) else ""
    word, offset = ("line", 2) if kind == "csv" else ("row", 1)
    plural = "s" if len(rows) > 1 else ""
    return f"{word}{plural} " + ", ".join(str(int(r) + offset) for r in shown) + more


def _parse_times(raw: pd.Series) -> pd.Series:
    """Parse times to naive Beijing local time; NaT where unparseable."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        t = raw
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        return t
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


def load_readings(
    path: str | os.PathLike[str],
    network: Network,
    year: int,
    *,
    hour_label: str = "start",
    on_invalid: str = "raise",
) -> HourlyReadings:
    """Load long-format hourly readings for the stations of ``network`` and one year.

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
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(2, "No such file", str(p))
    df, kind = _read_table(p)
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ReadingsError(
            f"{p}: missing column(s) {', '.join(missing)}; expected long format with columns "
            "station_id,time,pollutant,value"
        )
    df = df.reset_index(drop=True)
    n_rows = len(df)
    problems: list[tuple[str, str, np.ndarray]] = []  # (reason, message, row positions)

    # station
    sid = df["station_id"].astype("string").str.strip()
    st_pos = pd.Index(network.ids).get_indexer(sid.fillna(""))
    bad_station = st_pos < 0

    # pollutant
    pol_raw = df["pollutant"].astype("string").str.strip().fillna("")
    key = pol_raw.str.upper().str.replace("PM25", "PM2.5", regex=False)
    canon = {name.upper(): name for name in POLLUTANT_NAMES}
    canon.update({pp.slug.upper(): name for name, pp in POLLUTANTS.items()})
    pol = key.map(canon)
    bad_pollutant = pol.isna().to_numpy()

    # time
    t = _parse_times(df["time"])
    bad_time = t.isna().to_numpy()
    off_hour = ~bad_time & (t.dt.floor("h") != t).fillna(False).to_numpy()
    if hour_label == "end":
        t = t - pd.Timedelta(hours=1)
    start = pd.Timestamp(year, 1, 1)
    hour = ((t - start) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
    in_year = ~bad_time & (hour >= 0) & (hour < hours_in_year(year))

    # value
    val_raw = df["value"]
    val = pd.to_numeric(val_raw, errors="coerce").to_numpy(dtype=float)
    if val_raw.dtype == object or pd.api.types.is_string_dtype(val_raw):
        txt = val_raw.astype("string").str.strip().str.lower().fillna("")
        blank = txt.isin(["", "nan", "na", "null", "none"]).to_numpy()
        bad_number = np.isnan(val) & ~blank
    else:
        bad_number = np.zeros(n_rows, dtype=bool)
    negative = val < 0

    if bad_station.any():
        problems.append(
            (
                "unknown station",
                "field 'station_id': station not in the network "
                f"({', '.join(sorted(set(sid[bad_station].fillna('').tolist()))[:_MAX_LISTED])})",
                np.flatnonzero(bad_station),
            )
        )
    if bad_pollutant.any():
        problems.append(
            (
                "unknown pollutant",
                "field 'pollutant': unknown pollutant "
                f"({', '.join(sorted(set(pol_raw[bad_pollutant].tolist()))[:_MAX_LISTED])}; "
                f"expected {', '.join(POLLUTANT_NAMES)})",
                np.flatnonzero(bad_pollutant),
            )
        )
    if bad_time.any():
        problems.append(
            (
                "unreadable time",
                "field 'time': not a date-time (expected e.g. 2020-01-01 13:00)",
                np.flatnonzero(bad_time),
            )
        )
    if off_hour.any():
        problems.append(
            (
                "time not on the hour",
                "field 'time': not on a whole hour (hourly data expected)",
                np.flatnonzero(off_hour),
            )
        )
    if bad_number.any():
        problems.append(
            (
                "non-numeric value",
                "field 'value': not a number (leave empty for a missing hour)",
                np.flatnonzero(bad_number),
            )
        )
    if negative.any():
        problems.append(
            (
                "negative value",
                "field 'value': negative concentration (must be >= 0)",
                np.flatnonzero(negative),
            )
        )

    invalid = bad_station | bad_pollutant | bad_time | off_hour | bad_number | negative
    # duplicates among otherwise valid rows of the year
    cand = ~invalid & in_year
    dup = np.zeros(n_rows, dtype=bool)
    if cand.any():
        keys = pd.DataFrame(
            {"s": st_pos[cand], "h": hour[cand].astype(np.int64), "p": pol[cand].to_numpy()}
        )
        dup[np.flatnonzero(cand)[keys.duplicated(keep=False).to_numpy()]] = True
    if dup.any():
        problems.append(
            ("duplicate row", "duplicated (station_id, time, pollutant)", np.flatnonzero(dup))
        )
    invalid |= dup

    dropped: dict[str, int] = {}
    if problems:
        if on_invalid == "raise":
            total = int(invalid.sum())
            first = min(problems, key=lambda pr: pr[2][0])
            others = "; ".join(f"{r}: {len(rows)}" for r, _, rows in problems)
            raise ReadingsError(
                f"{p} {_row_label(kind, first[2])}, {first[1]}; {total} invalid row(s) in all "
                f"({others}); fix the file or load with on_invalid='drop' (--on-invalid drop)"
            )
        dropped = {r: len(rows) for r, _, rows in problems}
        summary = "; ".join(
            f"{r}: {len(rows)} ({_row_label(kind, rows)})" for r, _, rows in problems
        )
        warnings.warn(
            f"{p}: dropped {int(invalid.sum())} invalid row(s) — {summary}",
            ReadingsWarning,
            stacklevel=2,
        )

    keep = ~invalid & in_year & ~np.isnan(val)
    if not keep.any():
        years = sorted({int(y) for y in t[~bad_time].dt.year.dropna()}) if n_rows else []
        found = (f"its {n_rows} row(s) cover {', '.join(map(str, years))}" if years
                 else "it has no data rows" if n_rows == 0 else "it has no valid value")
        raise ReadingsError(
            f"{p}: no readings for {year} ({found}); pass the year the file holds (--year)"
        )
    n_st, n_h = len(network), hours_in_year(year)
    values: dict[str, np.ndarray] = {}
    pol_kept = pol.to_numpy()[keep]
    s_kept, h_kept, v_kept = st_pos[keep], hour[keep].astype(np.int64), val[keep]
    present = set(pol.dropna().unique())
    for name in POLLUTANT_NAMES:
        if name not in present:
            continue
        arr = np.full((n_st, n_h), np.nan)
        m = pol_kept == name
        arr[s_kept[m], h_kept[m]] = v_kept[m]
        values[name] = arr
    return HourlyReadings(
        station_ids=network.ids, year=year, values=values, source=str(p), dropped=dropped
    )
