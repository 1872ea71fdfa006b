"""Monitoring networks: load, validate, project and select air-quality stations.

A network file lists one station per row (CSV with WGS84 ``lon``/``lat``) or per
feature (GeoJSON, GeoPackage with point geometries and a CRS).  Loading
validates every record and projects the stations once, at the edge, to
EPSG:32650 (UTM zone 50N, metres; :mod:`netsim.crs`).

Row numbers in error messages
-----------------------------
For CSV files, messages give the *line* of the file as a spreadsheet shows it
(the header is line 1, so the first station is line 2) and the 1-based data
row, e.g. ``stations.csv line 5 (data row 4), field 'type': ...``.  For GeoJSON
and GeoPackage files they give the 1-based feature number.

References
----------
HJ 664-2013 station classes (``standards.md`` §4.1); Beijing's 2012 35-station
layout (``standards.md`` §6.1, ``stations/README.md``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from netsim.crs import GEOGRAPHIC_CRS, PROJECTED_CRS, lonlat_to_xy
from netsim.errors import GeographyError, NetworkError
from netsim.i18n import canonical_district

STATION_TYPES: tuple[str, ...] = ("urban", "traffic", "border", "background", "sensor")
"""Station classes.

``urban``: urban (city) assessment station, HJ 664 城市点 — the only class in the
city and district values (HJ 663 §2.1 in ``standards.md``); ``traffic``: roadside
station; ``border``: regional background/transport station near the municipal
border (区域背景传输点); ``background``: urban clean-control station (Dingling);
``sensor``: low-cost sensor added by a scenario.
"""

MAP_STATION_TYPES: tuple[str, ...] = ("urban", "border", "background", "sensor")
"""Station types whose values are kriged into maps (``netsim run``, ``netsim krige``,
the ``optimise`` section).

Traffic stations are left out: their kerbside increment describes the air
within metres of a road, not the 1 km cell around it (HJ 664 §3: roadside
stations are not representative of the urban background).
"""

DIRECTIONS: tuple[str, ...] = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
"""Allowed values of ``direction`` (the side of Beijing a border station faces)."""

INSTRUMENT_DEFAULT = "reference"

COLUMNS: tuple[str, ...] = (
    "station_id",
    "name",
    "name_zh",
    "type",
    "district",
    "direction",
    "lon",
    "lat",
    "x",
    "y",
    "instrument",
)
"""Columns of :attr:`Network.stations` (plus ``geometry``), in order."""

FILE_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in ("x", "y"))
"""Columns written by :meth:`Network.to_file` for CSV output (:data:`COLUMNS` without x, y)."""

OPTIONAL_COLUMNS: tuple[str, ...] = ("noise_pct", "bias_pct")
"""Optional per-station instrument overrides (%, NaN = the instrument class default,
:data:`netsim.instruments.INSTRUMENTS`), kept when present."""

ALIASES_COLUMN = "aliases"
"""Optional text column: other names of the station in readings files, ``;``-separated
(e.g. ``Changping;昌平``); matched with the id, ``name`` and ``name_zh`` by
:class:`netsim.station_names.StationMatcher`.  Kept (and written) when present."""

_REQUIRED = ("station_id", "type")
_DUPLICATE_DISTANCE_M = 1.0
"""Two stations closer than this (metres) are duplicates."""


def _text(series: pd.Series) -> pd.Series:
    """Strings with surrounding blanks removed; missing values become ``""``."""
    return series.astype("string").fillna("").str.strip().astype(object)


class _Locator:
    """Formats a record position for error messages (CSV line / feature number)."""

    def __init__(self, source: str, kind: str) -> None:
        self.source = source
        self.kind = kind  # "csv", "feature" or "row"

    def __call__(self, i: int) -> str:
        if self.kind == "csv":
            return f"{self.source} line {i + 2} (data row {i + 1})"
        if self.kind == "feature":
            return f"{self.source} feature {i + 1}"
        return f"{self.source} row {i + 1}"


@dataclass(frozen=True, eq=False)
class Network:
    """A validated station network.

    Attributes
    ----------
    stations
        GeoDataFrame in EPSG:32650 with a RangeIndex and the columns
        :data:`COLUMNS` plus ``geometry`` (points, metres).  ``lon``/``lat`` are
        WGS84 degrees, ``x``/``y`` UTM 50N metres.
    source
        Path or label the network came from (used in messages).

    Notes
    -----
    Treat instances as immutable: methods return new networks.
    """

    stations: gpd.GeoDataFrame
    source: str = "<memory>"

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, check_boundary: bool = True) -> Network:
        """Load and validate a network file.

        Parameters
        ----------
        path
            ``.csv`` with columns ``station_id, type, lon, lat`` (WGS84 degrees)
            and optionally ``name, name_zh, district, direction, instrument``,
            ``noise_pct, bias_pct`` and ``aliases`` (:data:`ALIASES_COLUMN`);
            or ``.geojson``/``.json``/``.gpkg`` with point geometries in any CRS
            (transformed to WGS84/UTM 50N) and the same attribute columns.
        check_boundary
            Reject stations outside Beijing (``netsim.geography.beijing_boundary()``).

        Raises
        ------
        NetworkError
            Unreadable file, missing column, unknown type, duplicate id or
            coordinates, missing or out-of-range coordinates, station outside
            Beijing, an alias naming another station; the message names the file,
            line/feature and field.
        GeographyError
            A GeoJSON/GeoPackage file without a CRS.
        FileNotFoundError
            The file does not exist.
        """
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(2, "No such file", str(p))
        suffix = p.suffix.lower()
        if suffix == ".csv":
            try:
                df = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
            except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
                raise NetworkError(
                    f"{p}: cannot read as CSV ({str(exc).splitlines()[0]}); expected a UTF-8 CSV "
                    "with a header line station_id,name,name_zh,type,district,direction,lon,lat"
                ) from None
            return cls._build(df, str(p), _Locator(str(p), "csv"), check_boundary)
        if suffix in (".geojson", ".json", ".gpkg"):
            try:
                gdf = gpd.read_file(p)
            except Exception as exc:  # fiona/pyogrio raise many types
                raise NetworkError(
                    f"{p}: cannot read as {suffix[1:]} ({str(exc).splitlines()[0]}); "
                    "expected point features with station_id and type attributes"
                ) from None
            return cls._from_geodataframe(gdf, str(p), _Locator(str(p), "feature"), check_boundary)
        raise NetworkError(
            f"{p}: unsupported network file type {suffix!r}; use .csv (lon/lat WGS84), "
            ".geojson or .gpkg"
        )

    @classmethod
    def from_frame(
        cls, df: pd.DataFrame, source: str = "<memory>", check_boundary: bool = True
    ) -> Network:
        """Validate a DataFrame (``lon``/``lat`` columns) or GeoDataFrame (point geometry).

        Parameters are as for :meth:`from_file`; a GeoDataFrame must carry a CRS
        (else :class:`GeographyError`).  Error positions are 1-based rows.
        """
        loc = _Locator(source, "row")
        if isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns:
            return cls._from_geodataframe(df, source, loc, check_boundary)
        return cls._build(df, source, loc, check_boundary)

    @classmethod
    def _from_geodataframe(
        cls, gdf: gpd.GeoDataFrame, source: str, loc: _Locator, check_boundary: bool
    ) -> Network:
        if gdf.crs is None:
            raise GeographyError(
                f"{source}: the layer has no CRS; set one (e.g. EPSG:4326 for lon/lat "
                "degrees) before loading, netsim does not guess coordinate systems"
            )
        geom = gdf.geometry
        for i, g in enumerate(geom):
            if g is None or g.is_empty:
                raise NetworkError(
                    f"{loc(i)}, field 'geometry': missing point; give every station a point"
                )
            if g.geom_type != "Point":
                raise NetworkError(
                    f"{loc(i)}, field 'geometry': {g.geom_type} found, expected a Point"
                )
        wgs = geom.to_crs(GEOGRAPHIC_CRS)
        df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        df["lon"] = wgs.x.to_numpy()
        df["lat"] = wgs.y.to_numpy()
        return cls._build(df, source, loc, check_boundary)

    @classmethod
    def _build(cls, df: pd.DataFrame, source: str, loc: _Locator, check_boundary: bool) -> Network:
        df = pd.DataFrame(df).reset_index(drop=True)
        df.columns = [str(c).strip() for c in df.columns]
        missing = [c for c in (*_REQUIRED, "lon", "lat") if c not in df.columns]
        if missing:
            raise NetworkError(
                f"{source}: missing column(s) {', '.join(missing)}; expected at least "
                "station_id,type,lon,lat (plus name,name_zh,district,direction)"
            )
        if len(df) == 0:
            raise NetworkError(f"{source}: no stations; add at least one station row")
        out = _text_columns(df, loc)
        _check_types_and_directions(out, df, loc)
        _check_unique_ids(out, loc, source)
        out["lon"] = _degrees(df, "lon", -180.0, 180.0, loc)
        out["lat"] = _degrees(df, "lat", -90.0, 90.0, loc)
        x, y = lonlat_to_xy(out["lon"].to_numpy(), out["lat"].to_numpy())
        out["x"] = x
        out["y"] = y
        _check_duplicate_coordinates(out, loc, source)
        if check_boundary:
            _check_inside_beijing(out, loc)
        extra = _optional_columns(out, df, loc)
        out = out[[*COLUMNS, *extra]]
        gdf = gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(x, y), crs=PROJECTED_CRS)
        return cls(stations=gdf, source=source)

    # ---------------------------------------------------------------- accessors
    def __len__(self) -> int:
        return len(self.stations)

    def __repr__(self) -> str:
        counts = self.stations["type"].value_counts()
        parts = ", ".join(f"{counts.get(t, 0)} {t}" for t in STATION_TYPES if counts.get(t, 0))
        return f"Network({len(self)} stations: {parts}; source={self.source!r})"

    @property
    def ids(self) -> np.ndarray:
        """Station ids, in file order (array of str)."""
        return self.stations["station_id"].to_numpy(dtype=object).astype(str)

    @property
    def xy(self) -> np.ndarray:
        """Station coordinates, (n, 2) float64 easting/northing in metres (EPSG:32650)."""
        st = self.stations
        return np.column_stack([st["x"].to_numpy(dtype=float), st["y"].to_numpy(dtype=float)])

    @property
    def types(self) -> np.ndarray:
        """Station types (array of str)."""
        return self.stations["type"].to_numpy(dtype=object).astype(str)

    def index_of(self, ids: Iterable[str]) -> np.ndarray:
        """Positions of ``ids`` in the network (int array); NetworkError for unknown ids."""
        ids = [str(i) for i in ids]
        pos = pd.Index(self.ids).get_indexer(ids)
        if (pos < 0).any():
            unknown = [i for i, q in zip(ids, pos, strict=True) if q < 0]
            raise NetworkError(
                f"{self.source}: unknown station id(s) {', '.join(map(repr, unknown[:5]))}"
                f"{' ...' if len(unknown) > 5 else ''}; known ids are in the station_id column"
            )
        return pos

    def select(
        self,
        type: str | Sequence[str] | None = None,
        district: str | Sequence[str] | None = None,
        direction: str | Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> Network:
        """Stations matching every given criterion (each a value or a list of values).

        Raises
        ------
        NetworkError
            An unknown type or an unknown station id.
        """
        mask = np.ones(len(self), dtype=bool)
        st = self.stations
        if type is not None:
            wanted = [type] if isinstance(type, str) else list(type)
            bad = [t for t in wanted if t not in STATION_TYPES]
            if bad:
                raise NetworkError(
                    f"unknown station type(s) {', '.join(map(repr, bad))}; expected one of "
                    f"{', '.join(STATION_TYPES)}"
                )
            mask &= st["type"].isin(wanted).to_numpy()
        if district is not None:
            wanted = [district] if isinstance(district, str) else list(district)
            mask &= st["district"].isin(wanted).to_numpy()
        if direction is not None:
            wanted = [direction] if isinstance(direction, str) else list(direction)
            mask &= st["direction"].isin([w.upper() for w in wanted]).to_numpy()
        if ids is not None:
            pos = self.index_of(ids)
            keep = np.zeros(len(self), dtype=bool)
            keep[pos] = True
            mask &= keep
        sub = self.stations.loc[mask].reset_index(drop=True)
        return Network(stations=sub, source=self.source)

    def to_file(self, path: str | os.PathLike[str]) -> Path:
        """Write the network (CSV with lon/lat, or GeoJSON/GeoPackage in EPSG:4326), atomically.

        Returns the path written.
        """
        from netsim.atomic import atomic_file

        p = Path(path)
        suffix = p.suffix.lower()
        with atomic_file(p) as tmp:
            if suffix == ".csv":
                optional = (*OPTIONAL_COLUMNS, ALIASES_COLUMN)
                columns = [*FILE_COLUMNS, *(c for c in optional if c in self.stations)]
                df = pd.DataFrame(self.stations[columns])
                df.to_csv(tmp, index=False, float_format="%.6f")
            elif suffix in (".geojson", ".json", ".gpkg"):
                gdf = self.stations.drop(columns=["x", "y"]).to_crs(GEOGRAPHIC_CRS)
                driver = "GPKG" if suffix == ".gpkg" else "GeoJSON"
                # OGR wants the real extension; write beside the temp file, then move onto it
                staged = tmp.with_name(tmp.name + suffix)
                try:
                    extra = {"layer": "stations"} if driver == "GPKG" else {}
                    gdf.to_file(staged, driver=driver, **extra)
                    os.replace(staged, tmp)
                finally:
                    staged.unlink(missing_ok=True)
            else:
                raise NetworkError(
                    f"{p}: unsupported network file type {suffix!r}; use .csv, .geojson or .gpkg"
                )
        return p



def _text_columns(df: pd.DataFrame, loc: _Locator) -> pd.DataFrame:
    """The station file's text columns, trimmed and normalised (types lower case,
    directions upper case, districts by their canonical name, 通州区 / 通州 included)."""
    out = pd.DataFrame(index=df.index)
    out["station_id"] = _text(df["station_id"])
    for i, sid in enumerate(out["station_id"]):
        if sid == "":
            raise NetworkError(f"{loc(i)}, field 'station_id': empty; give every station an id")
    out["name"] = _text(df["name"]) if "name" in df else out["station_id"]
    out.loc[out["name"] == "", "name"] = out["station_id"]
    out["name_zh"] = _text(df["name_zh"]) if "name_zh" in df else ""
    out["type"] = _text(df["type"]).str.lower()
    out["district"] = _text(df["district"]).map(canonical_district) if "district" in df else ""
    out["direction"] = _text(df["direction"]).str.upper() if "direction" in df else ""
    out["instrument"] = _text(df["instrument"]) if "instrument" in df else INSTRUMENT_DEFAULT
    out.loc[out["instrument"] == "", "instrument"] = INSTRUMENT_DEFAULT
    return out


def _check_types_and_directions(out: pd.DataFrame, df: pd.DataFrame, loc: _Locator) -> None:
    """Every station type known, every direction a compass direction or empty."""
    for i, t in enumerate(out["type"]):
        if t not in STATION_TYPES:
            raise NetworkError(
                f"{loc(i)}, field 'type': unknown station type {df['type'].iloc[i]!r}; "
                f"expected one of {', '.join(STATION_TYPES)}"
            )
    for i, d in enumerate(out["direction"]):
        if d and d not in DIRECTIONS:
            raise NetworkError(
                f"{loc(i)}, field 'direction': {d!r} is not a compass direction; "
                f"expected one of {', '.join(DIRECTIONS)} or empty"
            )


def _check_unique_ids(out: pd.DataFrame, loc: _Locator, source: str) -> None:
    """No station id used twice (the error names both rows)."""
    dup = out["station_id"].duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        sid = out["station_id"].iloc[i]
        first = int(np.flatnonzero((out["station_id"] == sid).to_numpy())[0])
        raise NetworkError(
            f"{loc(i)}, field 'station_id': duplicate id {sid!r} (first used at "
            f"{loc(first).removeprefix(source + ' ')}); station ids must be unique"
        )


def _degrees(df: pd.DataFrame, field: str, lo: float, hi: float, loc: _Locator) -> np.ndarray:
    """Column ``field`` as WGS84 degrees in [lo, hi] (a missing or bad value names its row)."""
    raw = df[field]
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    for i in np.flatnonzero(~np.isfinite(num)):
        text = str(raw.iloc[i]).strip()
        what = (
            "missing"
            if text.lower() in ("", "nan", "none", "<na>", "null")
            else f"{text!r} is not a number"
        )
        raise NetworkError(
            f"{loc(int(i))}, field '{field}': {what}; expected WGS84 degrees "
            f"in [{lo:g}, {hi:g}]"
        )
    for i in np.flatnonzero((num < lo) | (num > hi)):
        raise NetworkError(
            f"{loc(int(i))}, field '{field}': {num[i]:g} is out of range; expected WGS84 "
            f"degrees in [{lo:g}, {hi:g}] (lon and lat swapped? projected file?)"
        )
    return num


def _optional_columns(out: pd.DataFrame, df: pd.DataFrame, loc: _Locator) -> list[str]:
    """Copy the optional numeric columns (instrument noise and bias, %) and the aliases
    into ``out``; their names."""
    extra = []
    for field in OPTIONAL_COLUMNS:
        if field not in df:
            continue
        raw = df[field]
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        blank = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
        for i in np.flatnonzero(~np.isfinite(num) & ~blank):
            raise NetworkError(
                f"{loc(int(i))}, field '{field}': {str(raw.iloc[i]).strip()!r} is not a "
                "number; give a percentage or leave it empty for the instrument default"
            )
        out[field] = num
        extra.append(field)
    if ALIASES_COLUMN in df:
        out[ALIASES_COLUMN] = _text(df[ALIASES_COLUMN])
        _check_aliases(out, loc)
        extra.append(ALIASES_COLUMN)
    return extra

def _check_duplicate_coordinates(out: pd.DataFrame, loc: _Locator, source: str) -> None:
    """Raise for two stations closer than :data:`_DUPLICATE_DISTANCE_M`."""
    from scipy.spatial import cKDTree

    xy = out[["x", "y"]].to_numpy(dtype=float)
    pairs = cKDTree(xy).query_pairs(_DUPLICATE_DISTANCE_M, output_type="ndarray")
    if len(pairs):
        pairs = np.sort(pairs, axis=1)
        i, j = sorted(map(tuple, pairs.tolist()), key=lambda t: (t[1], t[0]))[0]
        raise NetworkError(
            f"{loc(j)}, fields 'lon','lat': same position as station "
            f"{out['station_id'].iloc[i]!r} ({loc(i).removeprefix(source + ' ')}); "
            "two stations cannot share coordinates — fix the coordinates or remove the duplicate"
        )


def _check_aliases(out: pd.DataFrame, loc: _Locator) -> None:
    """Raise for an alias that names another station (its id, name, Chinese name or alias)."""
    from netsim.station_names import alias_conflicts

    conflict = alias_conflicts(out)
    if conflict is not None:
        i, j, alias = conflict
        raise NetworkError(
            f"{loc(i)}, field '{ALIASES_COLUMN}': {alias!r} also names station "
            f"{out['station_id'].iloc[j]!r} ({loc(j).removeprefix(loc.source + ' ')}); a name "
            "in readings files must match one station — remove or change the alias"
        )


def _check_inside_beijing(out: pd.DataFrame, loc: _Locator) -> None:
    """Raise for a station outside ``netsim.geography.beijing_boundary()``."""
    try:
        from netsim.geography import inside_beijing
    except ImportError:  # pragma: no cover - geography is part of the package
        return
    inside = np.asarray(inside_beijing(out["x"].to_numpy(), out["y"].to_numpy()), dtype=bool)
    for i in np.flatnonzero(~inside):
        raise NetworkError(
            f"{loc(int(i))}, fields 'lon','lat': station {out['station_id'].iloc[i]!r} at "
            f"({out['lon'].iloc[i]:.4f}, {out['lat'].iloc[i]:.4f}) lies outside Beijing; "
            "check the coordinates (WGS84 lon, lat) or load with check_boundary=False"
        )
