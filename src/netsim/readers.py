"""Readers: readings files in the layouts real data comes in, as long-format chunks.

A *reader* (:func:`open_reader`) pairs a **table** — a CSV (plain or compressed, UTF-8
or GB18030) or a Parquet file, read a chunk of rows at a time — with a **layout** that
turns each chunk of raw rows into a :class:`LongChunk` of ``station_id, time,
pollutant, value`` rows (wide files are melted chunk by chunk).  Validation and the
dense arrays are the same for every layout (:mod:`netsim.readings`).

Layouts (detected from the header; ``layout=`` forces one)
-----------------------------------------------------------
``long``
    netsim's own: ``station_id, time, pollutant, value`` and an optional ``unit``
    column (:mod:`netsim.units`).  Times label the hour's start unless told otherwise.
``uci``
    The UCI "Beijing Multi-Site Air-Quality" files, one per site:
    ``No, year, month, day, hour, PM2.5, PM10, SO2, NO2, CO, O3, …, station``
    (other columns — weather — are ignored; ``NA`` is missing).  ``hour`` is 0–23
    Beijing time; hour-beginning labels reproduce the published day counts (the
    dataset's README, ``/work/shared/data/uci_beijing/README.md`` and
    ``scenarios/readings/uci_beijing_2015/README.md``).  **All pollutants are in µg/m³,
    CO included** (the dataset's attribute list: "CO: CO concentration (ug/m^3)"), so
    CO is converted to mg/m³ by default (:data:`UciLayout.units`); ``--units`` overrides.
``national``
    The wide hourly layout Chinese monitoring data is widely mirrored in (the daily
    ``beijing_all_YYYYMMDD.csv`` / ``beijing_extra_YYYYMMDD.csv`` and
    ``china_sites_YYYYMMDD.csv`` files): ``date, hour, type, <one column per
    station>``, ``date`` like ``20200101``, ``hour`` 0–23, ``type`` one of ``AQI,
    PM2.5, PM2.5_24h, PM10, PM10_24h, SO2, SO2_24h, NO2, NO2_24h, O3, O3_24h, O3_8h,
    O3_8h_24h, CO, CO_24h``.  Only the hourly rows (``PM2.5 … CO``) are read; ``AQI``
    and the rolling ``_24h``/``_8h`` rows are derived values and are skipped.
    Defaults, from the source of these files (China National Environmental Monitoring
    Centre real-time releases): the **hour labels the end** of the hour — CNEMC's
    release notes: "the 16:00 hourly mean is the mean of 15:00–16:00" (quoted in the
    README of github.com/HeQinWill/CNEMC, an hourly archive of those releases whose
    files are named by the hours 00–23, as the ``hour`` column here), so hour 0 of a
    date is 23:00–24:00 of the day before; units are µg/m³ and **CO mg/m³** (CNEMC's
    published units, README of github.com/geoinsights/ChinaAQIData; CO values of that
    archive are 0.3–3).  ``hour_label="start"`` and ``--units`` override both.

Files
-----
``.csv``, ``.parquet``; ``.csv.gz``, ``.csv.xz``, ``.csv.bz2`` and ``.zip`` archives
(every ``.csv``/``.parquet`` member is a source); a folder stands for the readings
files in it.  A file's first bytes must match its suffix (a gzip file named ``.csv``
is refused with a message, not decoded into garbage).  CSV text is UTF-8 (with or
without BOM) or GB18030 (a superset of GBK/GB2312, what Excel writes in China),
detected from the first 256 KiB: a UTF-8 BOM, then valid UTF-8, then GB18030;
``encoding=`` forces one.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from netsim.errors import ReadingsError
from netsim.pollutants import POLLUTANT_NAMES
from netsim.units import UG

COLUMNS = ("station_id", "time", "pollutant", "value")
"""Columns of a long-format table (and of every :class:`LongChunk`)."""

UNIT_COLUMN = "unit"
LAYOUTS = ("auto", "long", "uci", "national")
ENCODINGS = ("auto", "utf-8", "gb18030")

CHUNK_ROWS = 500_000
"""Long rows per chunk: a CSV chunk of this size takes roughly 100 MB while parsed."""

SAMPLE_BYTES = 256 * 1024
"""Bytes read to detect a CSV file's encoding and header."""

_MAGIC = {
    "gzip": b"\x1f\x8b",
    "xz": b"\xfd7zXZ\x00",
    "bz2": b"BZh",
    "zip": b"PK\x03\x04",
    "parquet": b"PAR1",
}
_COMPRESSED = {".gz": "gzip", ".xz": "xz", ".bz2": "bz2"}
_OPEN = {"gzip": gzip.open, "xz": lzma.open, "bz2": bz2.open}
READINGS_SUFFIXES = (".csv", ".parquet", ".pq", ".csv.gz", ".csv.xz", ".csv.bz2", ".zip")
"""File names a folder of readings is searched for (case ignored)."""


@dataclass(frozen=True)
class LongChunk:
    """Consecutive rows of a table in long format, as stored in the file.

    Attributes
    ----------
    frame
        Columns ``station_id, time, pollutant, value`` and, if the file has one,
        ``unit`` (text as stored; times may already be datetimes).
    labels
        (len(frame),) int64: each row's place in the file for error messages — the
        file line (CSV, header = line 1) or the 1-based row (Parquet).
    value_columns
        (len(frame),) the file column each value came from (wide layouts: the
        pollutant or station column), None for long files (column ``value``).
    """

    frame: pd.DataFrame
    labels: np.ndarray
    value_columns: np.ndarray | None = None


@dataclass(frozen=True)
class Source:
    """One table: a file, or a member of a zip archive."""

    path: Path
    member: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)


# ------------------------------------------------------------------------------ sources


def _kind(name: str) -> str | None:
    """``csv``, ``parquet``, ``gzip``/``xz``/``bz2`` (compressed CSV), ``zip`` or None."""
    low = name.lower()
    if low.endswith((".parquet", ".pq")):
        return "parquet"
    if low.endswith(".csv"):
        return "csv"
    if low.endswith(".zip"):
        return "zip"
    for suffix, kind in _COMPRESSED.items():
        if low.endswith(".csv" + suffix):
            return kind
    return None


def _unsupported(path: Path) -> ReadingsError:
    suffix = "".join(path.suffixes[-2:]) if path.suffix.lower() in (".gz", ".xz", ".bz2") \
        else path.suffix
    return ReadingsError(
        f"{path}: unsupported readings file type {suffix.lower()!r}; use .csv or .parquet, "
        "a compressed .csv.gz, .csv.xz, .csv.bz2 or .zip, or a folder of them"
    )


def expand_sources(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
                   ) -> list[Source]:
    """The tables of ``paths``: files, every readings file of a folder (sorted), every
    ``.csv``/``.parquet`` member of a zip archive.

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    ReadingsError
        An unsupported file type, or a folder or archive without readings files.
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise ReadingsError("no readings file given; pass one or more files or a folder")
    out: list[Source] = []
    for item in items:
        p = Path(item)
        if not p.exists():
            raise FileNotFoundError(2, "No such file", str(p))
        if p.is_dir():
            files = sorted(f for f in p.iterdir()
                           if f.is_file() and _kind(f.name) and not f.name.startswith("."))
            if not files:
                raise ReadingsError(
                    f"{p}: folder without readings files (looked for "
                    f"{', '.join(READINGS_SUFFIXES)})")
            for f in files:
                out += _file_sources(f)
        else:
            out += _file_sources(p)
    return out


def _file_sources(path: Path) -> list[Source]:
    kind = _kind(path.name)
    if kind is None:
        raise _unsupported(path)
    _check_magic(path, kind)
    if kind != "zip":
        return [Source(path)]
    try:
        with zipfile.ZipFile(path) as z:
            members = [m.filename for m in z.infolist()
                       if not m.is_dir() and _kind(m.filename) in ("csv", "parquet")
                       and not Path(m.filename).name.startswith(("._", "."))]
    except zipfile.BadZipFile as exc:
        raise ReadingsError(f"{path}: not a readable zip archive ({exc})") from None
    if not members:
        raise ReadingsError(f"{path}: zip archive without .csv or .parquet members")
    return [Source(path, m) for m in sorted(members)]


def _check_magic(path: Path, kind: str) -> None:
    """Refuse a file whose first bytes contradict its suffix."""
    with open(path, "rb") as f:
        head = f.read(8)
    if kind == "csv":
        for name, magic in _MAGIC.items():
            if head.startswith(magic):
                raise ReadingsError(
                    f"{path}: named .csv but the file is {name} data; "
                    + ("name it .parquet" if name == "parquet"
                       else f"name it {path.name}{'.gz' if name == 'gzip' else '.' + name}"))
        return
    if head and not head.startswith(_MAGIC[kind]):
        raise ReadingsError(f"{path}: cannot read (named {path.suffix} but not {kind} data); "
                            "check the file (an interrupted download?) or its name")


@contextlib.contextmanager
def _binary(source: Source) -> Iterator[IO[bytes]]:
    """The source's bytes, decompressed."""
    with contextlib.ExitStack() as stack:
        if source.member is not None:
            archive = stack.enter_context(zipfile.ZipFile(source.path))
            yield stack.enter_context(archive.open(source.member))
            return
        kind = _kind(source.path.name)
        if kind in _OPEN:
            yield stack.enter_context(_OPEN[kind](source.path, "rb"))
        else:
            yield stack.enter_context(open(source.path, "rb"))


def _decode_error(source: Source, exc: BaseException) -> ReadingsError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ReadingsError(f"{source}: cannot decompress ({text}); the file is damaged or "
                         "truncated")


_DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile)


def detect_encoding(sample: bytes, option: str, where: str) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` or ``gb18030`` for a CSV sample (or the forced one).

    Raises
    ------
    ReadingsError
        UTF-16 text, or bytes that are neither UTF-8 nor GB18030.
    """
    if option not in ENCODINGS:
        raise ReadingsError(f"encoding {option!r}: expected one of {', '.join(ENCODINGS)}")
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if option != "auto":
        return option
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReadingsError(f"{where}: UTF-16 text; save it as UTF-8 (or GB18030) CSV")
    cut = sample[: sample.rfind(b"\n") + 1] or sample
    for encoding in ("utf-8", "gb18030"):
        try:
            cut.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ReadingsError(f"{where}: text is neither UTF-8 nor GB18030 (GBK); save it as UTF-8 CSV")


# ------------------------------------------------------------------------------- tables


def _unreadable(where: object, exc: BaseException, hint: str = "") -> ReadingsError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ReadingsError(f"{where}: cannot read ({text}){hint}")


_CSV_ERRORS = (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
               EOFError, lzma.LZMAError, zipfile.BadZipFile)


class CsvTable:
    """A CSV table (any compression, UTF-8 or GB18030) read in chunks of text columns.

    Every column is read as categorical text (each repeats few distinct values), so
    each chunk parses only its distinct values.  Labels are file lines (header = 1),
    assuming one line per row.
    """

    label_word = "line"

    def __init__(self, source: Source, encoding: str = "auto") -> None:
        self.source = source
        try:
            with _binary(source) as f:
                sample = f.read(SAMPLE_BYTES)
        except _DECOMPRESS_ERRORS as exc:
            raise _decode_error(source, exc) from None
        self.encoding = detect_encoding(sample, encoding, str(source))
        try:
            header = pd.read_csv(io.BytesIO(sample), encoding=self.encoding, dtype=str,
                                 nrows=0, skipinitialspace=True)
        except UnicodeDecodeError as exc:
            raise _unreadable(source, exc, f"; the text is not {self.encoding}: pass "
                              "--encoding auto (or the file's encoding)") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise _unreadable(source, exc, "; expected a CSV file with a header line") from None
        self.columns = [str(c) for c in header.columns]

    def frames(self, usecols: list[str], rows: int) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        """Yield ``(frame, labels)``, ``rows`` rows at a time."""
        done = 0
        hint = ("" if self.encoding == "gb18030" else
                f"; the first {SAMPLE_BYTES // 1024} KiB were {self.encoding}: pass "
                "encoding='gb18030' (--encoding gb18030) if the file is GBK/GB18030")
        try:
            with _binary(self.source) as f, pd.read_csv(
                f,
                encoding=self.encoding,
                dtype="category",
                keep_default_na=False,
                skipinitialspace=True,
                usecols=usecols,
                chunksize=rows,
            ) as reader:
                for frame in reader:
                    labels = np.arange(done, done + len(frame), dtype=np.int64) + 2
                    done += len(frame)
                    yield frame, labels
        except UnicodeDecodeError as exc:
            raise _unreadable(self.source, exc, hint) from None
        except _CSV_ERRORS as exc:
            raise _unreadable(self.source, exc) from None


_PARQUET_ERRORS = (pa.ArrowException, OSError)


class ParquetTable:
    """A Parquet table streamed in record batches; text columns dictionary-encoded.

    Labels are 1-based rows.  A Parquet member of a zip archive is read into memory.
    """

    label_word = "row"

    def __init__(self, source: Source) -> None:
        self.source = source
        try:
            self._file = self._open()
            schema = pq.read_schema(self._file)
        except _PARQUET_ERRORS as exc:
            raise _unreadable(source, exc, "; expected a Parquet table") from None
        self.columns = list(schema.names)
        self._text = {n for n in self.columns
                      if pa.types.is_string(schema.field(n).type)
                      or pa.types.is_large_string(schema.field(n).type)}

    def _open(self):
        if self.source.member is None:
            return self.source.path
        with _binary(self.source) as f:
            return io.BytesIO(f.read())

    def frames(self, usecols: list[str], rows: int) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        """Yield ``(frame, labels)``, ``rows`` rows at a time."""
        done = 0
        try:
            with pq.ParquetFile(self._file,
                                read_dictionary=[c for c in usecols if c in self._text]) as f:
                for batch in f.iter_batches(batch_size=rows, columns=usecols):
                    frame = batch.to_pandas()
                    labels = np.arange(done, done + len(frame), dtype=np.int64) + 1
                    done += len(frame)
                    yield frame, labels
        except _PARQUET_ERRORS as exc:
            raise _unreadable(self.source, exc) from None


Table = CsvTable | ParquetTable


# ------------------------------------------------------------------------------ layouts


def _key(name: str) -> str:
    return str(name).strip().lower()


def pollutant_of_column(name: str) -> str | None:
    """The pollutant a column or ``type`` value names (``PM2.5``, ``pm25``, ``PM2_5`` …)."""
    key = str(name).strip().upper().replace("_", "").replace(".", "").replace(" ", "")
    for p in POLLUTANT_NAMES:
        if key == p.replace(".", ""):
            return p
    return None


class Layout(Protocol):
    """Turns raw table rows into long rows."""

    name: str
    hour_label: str
    units: dict[str, str]
    fields: dict[str, str]
    usecols: list[str]

    def rows_per_chunk(self, chunk_rows: int) -> int: ...

    def convert(self, frame: pd.DataFrame, labels: np.ndarray) -> LongChunk: ...


@dataclass
class LongLayout:
    """netsim's long format (optional ``unit`` column)."""

    columns: list[str]
    name: str = "long"
    hour_label: str = "start"
    units: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=lambda: {
        "station_id": "field 'station_id'", "time": "field 'time'",
        "pollutant": "field 'pollutant'", "unit": "field 'unit'"})

    def __post_init__(self) -> None:
        found: dict[str, str] = {}
        for name in self.columns:
            key = _key(name)
            if key in (*COLUMNS, UNIT_COLUMN):
                if key in found.values():
                    raise ReadingsError(f"column {key!r} appears twice; keep one")
                found[name] = key
        missing = [c for c in COLUMNS if c not in found.values()]
        if missing:
            raise ReadingsError(
                f"missing column(s) {', '.join(missing)}; expected long format with columns "
                "station_id,time,pollutant,value (and optionally unit)")
        self.rename = found
        self.usecols = list(found)

    def rows_per_chunk(self, chunk_rows: int) -> int:
        """Raw rows per chunk (one long row each)."""
        return chunk_rows

    def convert(self, frame: pd.DataFrame, labels: np.ndarray) -> LongChunk:
        """Rename the columns to the canonical names."""
        out = frame.rename(columns=self.rename)
        keep = [*COLUMNS, *([UNIT_COLUMN] if UNIT_COLUMN in out else [])]
        return LongChunk(out[keep], labels)


def _integers(column: pd.Series) -> np.ndarray:
    """Whole numbers of a text or numeric column (NaN where not a whole number)."""
    codes, distinct = pd.factorize(column)
    num = pd.to_numeric(pd.Series(np.asarray(distinct, dtype=object)).astype("string")
                        .str.strip(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    num = np.where(num == np.round(num), num, np.nan)
    return np.append(num, np.nan)[codes]


def _hours_to_time(day: np.ndarray, hour: np.ndarray) -> np.ndarray:
    """``day`` (datetime64[ns], NaT) plus whole hours 0–24 (24 = next day's 00:00)."""
    ok = ~np.isnat(day) & np.isfinite(hour) & (hour >= 0) & (hour <= 24)
    out = np.full(day.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    out[ok] = day[ok] + hour[ok].astype(np.int64) * np.timedelta64(1, "h")
    return out


def _melt(frame: pd.DataFrame, labels: np.ndarray, time: np.ndarray,
          pieces: list[tuple[str, object, object]]) -> LongChunk:
    """Long rows from wide ones.

    ``pieces``: ``(value column, station, pollutant)``, station and pollutant each a
    constant or a per-row array; one long row per raw row and piece.
    """
    n = len(frame)

    def per_row(x: object) -> np.ndarray:
        return np.asarray(x, dtype=object) if np.ndim(x) else np.full(n, x, dtype=object)

    def stacked(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.empty(0, dtype=object)

    long = pd.DataFrame({
        "station_id": stacked([per_row(s) for _, s, _ in pieces]),
        "time": np.tile(time, len(pieces)),
        "pollutant": stacked([per_row(p) for _, _, p in pieces]),
        "value": stacked([np.asarray(frame[c].astype(object)) for c, _, _ in pieces]),
    })
    columns = stacked([np.full(n, c, dtype=object) for c, _, _ in pieces])
    return LongChunk(long, np.tile(labels, len(pieces)), columns)


@dataclass
class UciLayout:
    """The UCI Beijing Multi-Site per-site wide layout (module docstring)."""

    columns: list[str]
    name: str = "uci"
    hour_label: str = "start"
    units: dict[str, str] = field(default_factory=lambda: dict.fromkeys(POLLUTANT_NAMES, UG))
    fields: dict[str, str] = field(default_factory=lambda: {
        "station_id": "field 'station'", "time": "fields 'year', 'month', 'day', 'hour'",
        "pollutant": "header", "unit": "header"})

    REQUIRED = ("year", "month", "day", "hour", "station")

    def __post_init__(self) -> None:
        by_key = {_key(c): c for c in self.columns}
        missing = [c for c in self.REQUIRED if c not in by_key]
        self.pollutant_columns = [(c, p) for c in self.columns
                                  if (p := pollutant_of_column(c)) is not None]
        if missing or not self.pollutant_columns:
            raise ReadingsError(
                f"not the UCI per-site layout: missing column(s) "
                f"{', '.join(missing) or 'of pollutants'}; expected No,year,month,day,hour,"
                "PM2.5,PM10,SO2,NO2,CO,O3,…,station")
        self.time_columns = [by_key[k] for k in ("year", "month", "day", "hour")]
        self.station_column = by_key["station"]
        self.usecols = [*self.time_columns, self.station_column,
                        *(c for c, _ in self.pollutant_columns)]

    def rows_per_chunk(self, chunk_rows: int) -> int:
        """Raw rows per chunk (each gives one long row per pollutant column)."""
        return max(1, chunk_rows // len(self.pollutant_columns))

    def convert(self, frame: pd.DataFrame, labels: np.ndarray) -> LongChunk:
        """Melt the pollutant columns; time from year, month, day, hour."""
        y, m, d, h = (_integers(frame[c]) for c in self.time_columns)
        ok = np.isfinite(y) & np.isfinite(m) & np.isfinite(d)
        text = np.where(ok, np.nan_to_num(y) * 10000 + np.nan_to_num(m) * 100
                        + np.nan_to_num(d), 0).astype(np.int64).astype(str)
        day = pd.to_datetime(pd.Series(text), format="%Y%m%d", errors="coerce").to_numpy(
            dtype="datetime64[ns]")
        time = _hours_to_time(np.where(ok, day, np.datetime64("NaT")), np.where(h <= 23, h, np.nan))
        station = np.asarray(frame[self.station_column].astype(object))
        return _melt(frame, labels, time, [(c, station, p) for c, p in self.pollutant_columns])


NATIONAL_TYPES = ("AQI", "PM2.5", "PM2.5_24h", "PM10", "PM10_24h", "SO2", "SO2_24h", "NO2",
                  "NO2_24h", "O3", "O3_24h", "O3_8h", "O3_8h_24h", "CO", "CO_24h")
"""``type`` values of the national layout; only the six hourly ones are read."""
_NATIONAL_SKIPPED = {t.upper() for t in NATIONAL_TYPES if pollutant_of_column(t) is None}


@dataclass
class NationalLayout:
    """The wide national hourly layout ``date, hour, type, <stations>`` (module docstring)."""

    columns: list[str]
    name: str = "national"
    hour_label: str = "end"
    units: dict[str, str] = field(default_factory=dict)  # CNEMC's = netsim's (CO mg/m³)
    fields: dict[str, str] = field(default_factory=lambda: {
        "station_id": "header (station columns)", "time": "fields 'date', 'hour'",
        "pollutant": "field 'type'", "unit": "header"})

    def __post_init__(self) -> None:
        by_key = {_key(c): c for c in self.columns}
        missing = [c for c in ("date", "hour", "type") if c not in by_key]
        self.date, self.hour, self.type = (by_key.get(k, "") for k in ("date", "hour", "type"))
        self.station_columns = [c for c in self.columns
                                if c not in (self.date, self.hour, self.type)
                                and c.strip() and not c.startswith("Unnamed:")]
        if missing or not self.station_columns:
            raise ReadingsError(
                f"not the national wide layout: missing column(s) "
                f"{', '.join(missing) or 'of stations'}; expected date,hour,type,<station>,…")
        self.usecols = [self.date, self.hour, self.type, *self.station_columns]

    def rows_per_chunk(self, chunk_rows: int) -> int:
        """Raw rows per chunk (each gives one long row per station column)."""
        return max(1, chunk_rows // len(self.station_columns))

    def convert(self, frame: pd.DataFrame, labels: np.ndarray) -> LongChunk:
        """Keep the hourly types and melt the station columns; time from date and hour."""
        kind = frame[self.type].astype("string").str.strip().fillna("")
        keep = ~kind.str.upper().isin(_NATIONAL_SKIPPED).to_numpy()
        frame, labels, kind = frame[keep], labels[keep], kind[keep]
        day = pd.to_datetime(frame[self.date].astype("string").str.strip(), format="%Y%m%d",
                             errors="coerce").to_numpy(dtype="datetime64[ns]")
        time = _hours_to_time(day, _integers(frame[self.hour]))
        pollutant = np.asarray(kind.astype(object))
        return _melt(frame, labels, time, [(c, c, pollutant) for c in self.station_columns])


_LAYOUTS = {"long": LongLayout, "uci": UciLayout, "national": NationalLayout}


def detect_layout(columns: list[str]) -> str:
    """The layout a header belongs to (``long``, ``uci`` or ``national``).

    Raises
    ------
    ReadingsError
        The header fits none (the message lists what each layout needs).
    """
    keys = {_key(c) for c in columns}
    if keys & {"station_id", "pollutant", "value"}:  # long (LongLayout names what is missing)
        return "long"
    if set(UciLayout.REQUIRED) <= keys and any(pollutant_of_column(c) for c in columns):
        return "uci"
    if {"date", "hour", "type"} <= keys:
        return "national"
    shown = ",".join(str(c) for c in columns[:8]) + (",…" if len(columns) > 8 else "")
    raise ReadingsError(
        f"header {shown!r} is not a readings layout netsim knows: expected long "
        "(station_id,time,pollutant,value[,unit]), UCI per-site (year,month,day,hour,PM2.5,…,"
        "station) or national wide (date,hour,type,<station columns>)")


# ------------------------------------------------------------------------------ readers


@dataclass
class Reader:
    """A table read through a layout: yields :class:`LongChunk` s."""

    source: Source
    table: Table
    layout: Layout
    chunk_rows: int

    @property
    def label_word(self) -> str:
        """``line`` (CSV) or ``row`` (Parquet)."""
        return self.table.label_word

    def chunks(self) -> Iterator[LongChunk]:
        """Yield the table's rows as long chunks of about ``chunk_rows`` rows."""
        for frame, labels in self.table.frames(self.layout.usecols,
                                               self.layout.rows_per_chunk(self.chunk_rows)):
            yield self.layout.convert(frame, labels)


def open_reader(source: Source | str | os.PathLike[str], *, layout: str = "auto",
                encoding: str = "auto", chunk_rows: int = CHUNK_ROWS) -> Reader:
    """A chunked reader of one table, its layout detected from the header (or forced).

    Raises
    ------
    ReadingsError
        Unsupported or damaged file, unknown encoding, a header that fits no layout
        (or not the forced one); the message starts with the file.
    """
    if layout not in LAYOUTS:
        raise ReadingsError(f"format {layout!r}: expected one of {', '.join(LAYOUTS)}")
    src = source if isinstance(source, Source) else Source(Path(source))
    if src.member is None and _kind(src.path.name) is None:
        raise _unsupported(src.path)
    kind = _kind(src.member or src.path.name)
    table: Table = ParquetTable(src) if kind == "parquet" else CsvTable(src, encoding)
    try:
        name = detect_layout(table.columns) if layout == "auto" else layout
        return Reader(src, table, _LAYOUTS[name](table.columns), int(chunk_rows))
    except ReadingsError as exc:
        raise ReadingsError(f"{src}: {exc}") from None


def open_long_table(path: Path, chunk_rows: int = CHUNK_ROWS) -> Reader:
    """A chunked reader of one readings file of any layout (:func:`open_reader`)."""
    return open_reader(path, chunk_rows=chunk_rows)
