"""Statistics over realisations: mean, 90 % interval, validity counts and their wording.

A run measures every statistic once per truth realisation; this module reduces
the long table of those values (columns ``source, area, pollutant, statistic,
value, reason`` plus ``network`` and ``realisation``) to a mean and a central
90 % interval (5th–95th percentiles), counts the realisations that have a value
and keeps the most frequent reason of the others.  Scenario-minus-baseline
differences are taken realisation by realisation first (common random numbers
make them the network's alone).  The same reduction with one "realisation"
describes a run on real readings (no interval).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from netsim.pollutants import POLLUTANTS
from netsim.standards import reported

__all__ = [
    "HIGH_Q",
    "KEY",
    "LOW_Q",
    "NETWORK_NAMES",
    "NUMERICAL_ZERO",
    "differences",
    "interval_contains_mean",
    "interval_text",
    "lookup",
    "missing_text",
    "published_text",
    "published_value",
    "reduce",
    "units",
]

KEY = ["source", "area", "pollutant", "statistic"]
"""What a statistic is: its source (stations, map, truth, error), area, pollutant, name."""

NETWORK_NAMES = ("baseline", "scenario")
LOW_Q, HIGH_Q = 5.0, 95.0

NUMERICAL_ZERO = 1e-5
"""Differences smaller than this (in the statistic's units, times 1 + |difference|) are
round-off, not change: re-ordered floating-point sums in the truth sampling and the
variogram fit move identical networks' figures by up to ~1e-6."""


def units(pollutant: str) -> str:
    """Units of a pollutant's figures (µg/m³; CO mg/m³); ``days`` for the AQI counts."""
    return POLLUTANTS[pollutant].units if pollutant in POLLUTANTS else "days"


def reduce(values: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean and 5th/95th percentiles over the realisations where a value exists.

    Columns added: ``mean, p05, p95`` (NaN when no realisation has a value), ``n``
    (realisations with a value), ``n_realisations`` and ``reason``: ``""`` when
    every realisation has a value, else the most frequent reason of the others
    (``"not valid: …"``/``"not computed: …"``, see :func:`missing_text`).
    """
    g = values.groupby(by, sort=False)["value"]
    out = g.mean().to_frame("mean")
    out["p05"] = g.quantile(LOW_Q / 100)
    out["p95"] = g.quantile(HIGH_Q / 100)
    out["n"] = g.count()
    out["n_realisations"] = g.size()
    out["reason"] = ""
    gaps = values[values["value"].isna()] if "reason" in values else values.iloc[:0]
    if len(gaps):  # most runs have none: their groupby alone took ~20 ms a table
        reasons = _most_frequent_reasons(gaps, by)
        out.loc[reasons.index, "reason"] = reasons
    return out.reset_index()


def _most_frequent_reasons(gaps: pd.DataFrame, by: list[str]) -> pd.Series:
    """Per group of ``gaps`` (rows without a value), its most frequent reason (``""`` read
    as ``"not computed"``); ties go to the reason that appears first."""
    reasons = gaps["reason"].replace("", "not computed")
    counted = gaps[by].assign(reason=reasons, first=np.arange(len(gaps))) \
        .groupby([*by, "reason"], sort=False).agg(count=("first", "size"),
                                                   first=("first", "min")).reset_index()
    best = counted.sort_values(["count", "first"], ascending=[False, True], kind="stable") \
        .drop_duplicates(by)
    return best.set_index(by)["reason"]


def differences(table: pd.DataFrame) -> pd.DataFrame:
    """Scenario minus baseline per realisation, reduced like the statistics.

    A realisation where either network lacks the value gives no difference; its
    reason names the network (``"not valid: scenario: …"``).  The column
    ``published_change`` is the share of realisations (of those with both values)
    whose published (GB/T 8170 rounded) figure differs between the networks.
    """
    wide = table.set_index(["realisation", *KEY, "network"])[["value", "reason"]].unstack(
        "network")
    value = wide["value"]
    out = pd.DataFrame({"value": value["scenario"] - value["baseline"]}, index=wide.index)
    gap_in_scenario = value["scenario"].isna().to_numpy()
    net = np.where(gap_in_scenario, "scenario", "baseline")
    own = pd.Series(np.where(gap_in_scenario, wide["reason"]["scenario"].fillna(""),
                             wide["reason"]["baseline"].fillna("")), index=wide.index)
    parts = own.replace("", "not computed").str.partition(": ")
    kind, why = parts[0].to_numpy(dtype=object), parts[2].to_numpy(dtype=object)
    text = kind + ": " + net + np.where(why != "", ": " + why, "")
    out["reason"] = np.where(out["value"].isna(), text, "")
    out = out.reset_index()
    reduced = reduce(out, KEY)
    moved = _published_moves(value.reset_index())
    return reduced.merge(moved, on=KEY, how="left")


def _published_moves(wide: pd.DataFrame) -> pd.DataFrame:
    """Share of realisations whose rounded (published) figure differs between networks."""
    both = wide.dropna(subset=["baseline", "scenario"])
    pollutants = both["pollutant"].to_numpy()
    base = _rounded(both["baseline"].to_numpy(float), pollutants)
    scen = _rounded(both["scenario"].to_numpy(float), pollutants)
    moved = both[KEY].assign(published_change=(base != scen).astype(float))
    return moved.groupby(KEY, sort=False)["published_change"].mean().reset_index()


def _rounded(values: np.ndarray, pollutants: np.ndarray) -> np.ndarray:
    """Published precision of each value (GB/T 8170; integers for counts and others)."""
    out = np.round(values, 3)
    for p in set(pollutants) & set(POLLUTANTS):
        sel = pollutants == p
        out[sel] = reported(values[sel], p)
    return out


def missing_text(row: Mapping[str, Any]) -> str:
    """How a reduced statistic that is missing in some realisations reads.

    ``"not valid in 8 of 20 realisations (275 valid days < 324 required (HJ 663))"``,
    ``"not computed (no station of this area in the network)"`` when missing in every
    realisation, ``""`` when present in all.
    """
    n, total = int(row.get("n", 0)), int(row.get("n_realisations", 0))
    reason = str(row.get("reason") or "")
    if n >= total:
        return ""
    kind, _, why = (reason or "not computed").partition(": ")
    where = "" if n == 0 else f" in {total - n} of {total} realisations"
    return f"{kind}{where}" + (f" ({why})" if why else "")


def lookup(table: pd.DataFrame | RowIndex, key: tuple) -> pd.Series | dict | None:
    """The row of an indexed table (or of its :class:`RowIndex`), or None (a hashed index
    lookup, then the row by position: ``.loc`` with a full MultiIndex key costs ~0.3 ms a
    call, ``iloc`` ~0.15 ms, a :class:`RowIndex` a dictionary access)."""
    if isinstance(table, RowIndex):
        return table.get(key)
    try:
        position = table.index.get_loc(key)
    except KeyError:
        return None
    return table.iloc[position] if isinstance(position, (int, np.integer)) else table.loc[key]


class RowIndex:
    """The rows of a table with a unique index, as dicts by index key, for many lookups
    (:func:`lookup`): the verdicts of a run look up ~1,700 rows.

    Attributes
    ----------
    table
        The indexed table.
    """

    def __init__(self, table: pd.DataFrame) -> None:
        if not table.index.is_unique:
            raise ValueError("RowIndex needs a table with a unique index")
        self.table = table
        columns = [str(c) for c in table.columns]
        values = zip(*(table[c].tolist() for c in table.columns), strict=True)
        self._rows = {key: dict(zip(columns, row, strict=True))
                      for key, row in zip(table.index, values, strict=True)}

    def get(self, key: tuple) -> dict | None:
        """The row of ``key`` (column → value), or None."""
        return self._rows.get(key)


def interval_contains_mean(entry: Mapping[str, float | None]) -> bool:
    """True when ``p05 <= mean <= p95`` (skewed realisations can put the mean outside)."""
    return entry["p05"] <= entry["mean"] <= entry["p95"]


def interval_text(entry: Mapping[str, Any] | None, *, digits: int = 2,
                  signed: bool = False, point: bool = False) -> str:
    """``"38.12 [36.90, 39.40]"``; ``"not valid (…)"`` when missing; a value missing in
    some realisations gets its reason appended; ``†`` marks a mean outside the interval.
    ``point``: the value alone (real readings: one measured year, no interval)."""
    if not entry:
        return ""
    if entry.get("mean") is None:
        return entry.get("missing") or "not computed"
    f = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
    if point:
        return f.format(entry["mean"])
    text = f"{f.format(entry['mean'])} [{f.format(entry['p05'])}, {f.format(entry['p95'])}]"
    if entry.get("missing"):
        text += f" ({entry['missing']})"
    return text if interval_contains_mean(entry) else text + " †"


def published_value(value: float | None, pollutant: str) -> float | None:
    """The figure as the statement publishes it: GB/T 8170 to the pollutant's precision
    (integers; CO one decimal); day counts to whole days.  None stays None."""
    if value is None or not np.isfinite(value):
        return None
    if pollutant in POLLUTANTS:
        return float(reported(value, pollutant))
    return float(np.round(value))


def published_text(value: float | None, pollutant: str) -> str:
    """:func:`published_value` as text (``"36"``, ``"1.3"``), ``""`` when missing."""
    v = published_value(value, pollutant)
    if v is None:
        return ""
    dec = POLLUTANTS[pollutant].reported_decimals if pollutant in POLLUTANTS else 0
    return f"{v:.{dec}f}"
