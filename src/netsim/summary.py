"""Summarise a scenario run: statistics over realisations, published figures, verdicts.

:func:`summarise` turns the realisations' tables into the content of
``summary.json``: every statistic per network as a mean and a 90 % interval
(:mod:`netsim.ensemble`), the figures the statement publishes (GB/T 8170 rounded)
for the city, every district and station group, with flags where the published
value changes or stops being valid (and which stations lost validity, why), the
scenario-minus-baseline differences and their verdicts (:mod:`netsim.verdicts`),
warnings on the intervals and on over- or under-confident maps, and the changes
in plain words.  :class:`FieldMeans` keeps running means of the per-cell fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from netsim.ensemble import (
    KEY,
    RowIndex,
    differences,
    lookup,
    missing_text,
    published_text,
    reduce,
    units,
)
from netsim.i18n import area_name, text, translate_reason
from netsim.network import Network
from netsim.scenario import Scenario
from netsim.standards import STATISTICS
from netsim.verdicts import FEW_REALISATIONS, clear, coverage_notes, verdicts

__all__ = ["HEADLINE", "FieldMeans", "summarise"]

STATEMENT_FIGURES: tuple[tuple[str, str], ...] = tuple(
    (p, STATISTICS[p][0]) for p in ("PM2.5", "PM10", "NO2", "SO2", "CO", "O3"))
"""The statement's city figure of each pollutant (annual means; CO p95; O3 p90 MDA8)."""

AREA_FIGURE_POLLUTANTS = ("PM2.5", "NO2", "PM10", "SO2")
"""Pollutants whose annual means the statement publishes per district and station group."""


def _headline_keys(pollutants: Sequence[str], *, real: bool = False
                   ) -> list[tuple[str, str, str, str]]:
    """Keys of the headline statistics; a run on real readings has no truth, so its map
    is checked by leave-one-out and at the removed stations instead."""
    keys = []
    for p in pollutants:
        keys.append(("stations", "city", p, STATISTICS[p][0]))
        keys.append(("map", "city", p, "annual_mean"))
        if real:
            keys += [("error", "city", p, "loo_rmse"), ("error", "city", p, "held_out_rmse")]
        else:
            keys += [("truth", "city", p, "annual_mean"), ("error", "city", p, "rmse"),
                     ("error", "city", p, "coverage90"), ("error", "city", p, "loo_rmse")]
        if p not in ("CO", "O3"):
            keys.append(("error", "city", p, "share_above_limit_map"))
            keys.append(("error", "city", p, "districts_above_limit_map"))
        if not real:
            keys.append(("error", "city", p, "hj664_pass"))
    keys.append(("stations", "city", "AQI", "days_meeting_standard"))
    keys.append(("stations", "city", "AQI", "heavy_pollution_days"))
    return keys


HEADLINE = _headline_keys
"""Keys ``(source, area, pollutant, statistic)`` of the headline statistics."""

_ERROR_LABELS = {
    "loo_rmse": "leave-one-out RMSE of the map at its stations",
    "held_out_rmse": "RMSE of the scenario map at the removed stations (their real readings)",
    "rmse": "RMSE of the map against the truth",
    "bias": "mean bias of the map against the truth",
    "coverage90": "share of cells inside the 90% kriging interval",
    "share_above_limit_map": "share of territory above the Grade II limit (map)",
    "districts_above_limit_map": "districts above the Grade II limit (map)",
    "hj664_pass": "HJ 664 representativeness test passed (share of realisations)",
}


def _label(key: tuple[str, str, str, str]) -> str:
    source, _area, pollutant, statistic = key
    if statistic in _ERROR_LABELS:
        return f"{pollutant} {_ERROR_LABELS[statistic]}"
    if pollutant == "AQI":
        return statistic.replace("_", " ")
    return {
        "stations": f"{pollutant} {statistic} (stations, statement method)",
        "map": f"{pollutant} city mean of the kriged map",
        "truth": f"{pollutant} true city mean",
    }.get(source, f"{pollutant} {statistic.replace('_', ' ')}")


# ----------------------------------------------------------------------------
# Realisations
# ----------------------------------------------------------------------------


def _long_table(outcomes: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frames = []
    for r, per_network in enumerate(outcomes):
        for net, outcome in per_network.items():
            f = outcome.scalars.copy()
            f["network"], f["realisation"] = net, r
            frames.append(f)
    table = pd.concat(frames, ignore_index=True)
    if "reason" not in table:
        table["reason"] = ""
    table["reason"] = table["reason"].fillna("").astype(str)
    return table


def mean_station_tables(outcomes: Sequence[Mapping[str, Any]], net: str) -> pd.DataFrame:
    """Every station statistic of ``net`` reduced over realisations, with ``valid_days``."""
    frames = [o[net].by_station.assign(realisation=r) for r, o in enumerate(outcomes)]
    bs = pd.concat(frames, ignore_index=True)
    keys = ["station_id", "pollutant", "statistic"]
    valid = bs.groupby(keys, sort=False)["valid_days"].mean().reset_index()
    return reduce(bs, keys).merge(valid, on=keys, how="left")


# ----------------------------------------------------------------------------
# The summary
# ----------------------------------------------------------------------------


def summarise(
    scenario: Scenario,
    networks: Mapping[str, Network],
    outcomes: Sequence[Mapping[str, Any]],
    *,
    change_table: pd.DataFrame | None = None,
    optimisation: Any = None,
    station_tables: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Means, 90 % intervals, published figures, differences and verdicts of a run
    (the ``summary.json`` content; texts in ``scenario.lang``).

    ``station_tables``: :func:`mean_station_tables` of every network, when the caller
    has them already (it writes them too)."""
    lang = scenario.lang
    table = _long_table(outcomes)
    stats = reduce(table, ["network", *KEY])
    real = scenario.readings is not None
    by_station = (dict(station_tables) if station_tables is not None
                  else {net: mean_station_tables(outcomes, net) for net in networks})
    summary: dict[str, Any] = {
        **_settings(scenario, len(outcomes)),
        "networks": {name: _network_info(net) for name, net in networks.items()},
        "statistics": stats.to_dict(orient="records"),
        "warnings": _warnings(scenario, len(outcomes), lang),
    }
    rows = RowIndex(stats.set_index(["network", *KEY]))  # ~2,000 lookups below
    summary["headline"] = _headline(rows, scenario.pollutants, networks, real=real)
    summary["findings"] = (_real_findings if real else _findings)(
        rows, list(networks), scenario.pollutants, lang)
    summary["findings"] += coverage_notes(stats, list(networks), scenario.pollutants, lang)
    diff = differences(table) if "scenario" in networks else None
    diff_rows = RowIndex(diff.set_index(KEY)) if diff is not None else None
    summary["published"] = _published(rows, diff_rows, by_station, networks, scenario)
    if diff is not None:
        summary["differences"] = diff.to_dict(orient="records")
        for entry in summary["headline"]:
            row = lookup(diff_rows, tuple(entry[c] for c in KEY))
            if row is not None:
                entry["difference"] = _entry(row)
        city_ids = {net: _city_ids(networks[net], scenario) for net in networks}
        why = {p: _station_shift(by_station, city_ids, p, STATISTICS[p][0], lang)
               for p in scenario.pollutants}
        summary["verdicts"], summary["verdict_classes"] = verdicts(
            diff, stats, scenario.pollutants, why, real=real, lang=lang)
    if change_table is not None:
        summary["changes"] = {
            kind: sorted(change_table.loc[change_table["change"] == kind, "station_id"])
            for kind in ("added", "removed", "moved", "retyped")}
        summary["changes_described"] = describe_changes(scenario, change_table)
    if optimisation is not None:
        summary["optimisation"] = optimisation.to_dict()
    return _json_ready(summary)


def _settings(scenario: Scenario, n: int) -> dict[str, Any]:
    real = scenario.readings is not None
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "year": scenario.year,
        "pollutants": list(scenario.pollutants),
        "standard": scenario.standard,
        "city_rule": scenario.city_rule,
        "monthly_rule": scenario.monthly_rule,
        "lang": scenario.lang,
        "realisations": n,
        "seed": scenario.seed,
        "grid_resolution_m": scenario.grid.resolution_m,
        "data": _data_source(scenario),
        "interval": ("none: real readings are one measured year (no Monte Carlo)" if real
                     else "5th-95th percentile over realisations (90%)"),
    }


def _network_info(net: Network) -> dict[str, Any]:
    return {"source": str(net.source), "n_stations": len(net),
            "by_type": {t: int(c) for t, c in
                        pd.Series(net.types).value_counts().sort_index().items()}}


def _warnings(scenario: Scenario, n: int, lang: str) -> list[str]:
    """Warnings shown first in the report and by the CLI (too few realisations)."""
    if scenario.readings is None and n < FEW_REALISATIONS:
        return [text("few_realisations", lang, n=n)]
    return []


def _entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """``mean, p05, p95`` (None where missing), ``n`` and the ``missing`` text of a row."""
    out: dict[str, Any] = {k: float(row[k]) for k in ("mean", "p05", "p95")}
    out["n"] = int(row["n"])
    out["missing"] = missing_text(row)
    return out


def _data_source(scenario: Scenario) -> dict[str, Any]:
    """What the run measured: the synthetic truth (seed, calibration), a truth conditioned
    on real readings (:mod:`netsim.conditional`; the synthetic calibration and its map-error
    realism do not apply) or real readings."""
    if scenario.truth.condition_on is not None:
        return {"kind": "conditioned truth", "seed": scenario.seed,
                "path": ", ".join(str(p) for p in scenario.condition_paths()),
                "year": scenario.year}
    realism = _map_error_realism(scenario)
    if scenario.readings is None:
        return {"kind": "synthetic truth", "seed": scenario.seed,
                "calibration": scenario.truth.calibration, "map_error_realism": realism}
    return {"kind": "real readings",
            "path": ", ".join(str(p) for p in scenario.readings_paths()),
            "year": scenario.year,
            "hour_label": scenario.readings.hour_label or "the layout's default",
            "map_error_realism": realism}


def _map_error_realism(scenario: Scenario) -> list[str]:
    """The truth calibration's stored map-error realism lines (:mod:`netsim.realism`)."""
    from netsim.realism import realism_lines
    from netsim.truth import load_calibration

    return realism_lines(load_calibration(scenario.truth.calibration), scenario.lang)


def _not_produced(net: str, key: tuple[str, str, str, str]) -> str:
    if key[3].startswith("held_out") and net == "baseline":
        return "not applicable (the baseline removes no station)"
    return "not computed (not produced by this run)"


def _headline(rows: RowIndex, pollutants: Sequence[str], networks: Mapping[str, Any],
              *, real: bool = False) -> list[dict[str, Any]]:
    """The headline statistics of every network (a missing one says why); ``rows``: the
    run's statistics by ``network`` and :data:`KEY`."""
    headline = []
    for key in _headline_keys(pollutants, real=real):
        kind = ("share" if "share" in key[3] or key[3] in ("coverage90", "hj664_pass")
                else "districts" if key[3].startswith("districts") else units(key[2]))
        entry = {"label": _label(key), **dict(zip(KEY, key, strict=True)), "units": kind}
        for net in networks:
            row = lookup(rows, (net, *key))
            entry[net] = (_entry(row) if row is not None else
                          {"mean": None, "p05": None, "p95": None, "n": 0,
                           "missing": _not_produced(net, key)})
        headline.append(entry)
    return headline


# ----------------------------------------------------------------------------
# The published figures
# ----------------------------------------------------------------------------


def _published_keys(pollutants: Sequence[str], areas: Sequence[str]
                    ) -> list[tuple[str, str, str, str]]:
    """City figures (every pollutant's statement statistic, day counts), then the annual
    means of every district and station group."""
    keys = [("stations", "city", p, s) for p, s in STATEMENT_FIGURES if p in pollutants]
    keys += [("stations", "city", "AQI", s)
             for s in ("days_meeting_standard", "heavy_pollution_days")]
    keys += [("stations", a, p, "annual_mean")
             for p in AREA_FIGURE_POLLUTANTS if p in pollutants for a in areas if a != "city"]
    return keys


def _published(s: RowIndex, d: RowIndex | None,
               by_station: Mapping[str, pd.DataFrame], networks: Mapping[str, Network],
               scenario: Scenario) -> list[dict[str, Any]]:
    """Each published figure per network: the GB/T 8170 value, its interval and validity;
    with a scenario, the difference and a flag (``moves``, ``lost``, ``gained``) naming
    the stations that lost validity and why.  ``s``, ``d``: the run's statistics by
    ``network`` and :data:`KEY`, its differences by :data:`KEY`."""
    from netsim.stats import area_membership

    members = {net: dict(zip(*area_membership(nw, scenario.city_rule), strict=True))
               for net, nw in networks.items()}
    areas = list(members["baseline"])
    out = []
    for key in _published_keys(scenario.pollutants, areas):
        entry: dict[str, Any] = {"area": key[1], "pollutant": key[2], "statistic": key[3],
                                 "units": units(key[2])}
        for net in networks:
            row = lookup(s, (net, *key))
            entry[net] = _published_entry(row, key[2])
        if d is not None:
            row = lookup(d, key)
            entry["difference"] = None if row is None else {
                **_entry(row), "published_change": _maybe(row.get("published_change"))}
            entry["flag"] = _flag(entry, real=scenario.readings is not None)
            if entry["flag"] in ("lost", "gained"):
                net = "scenario" if entry["flag"] == "lost" else "baseline"
                entry["stations_not_valid"] = _stations_not_valid(
                    by_station[net], networks[net], members[net].get(key[1]), key, scenario.lang)
        out.append(entry)
    return out


def _maybe(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _published_entry(row: Mapping[str, Any] | None, pollutant: str) -> dict[str, Any]:
    if row is None:
        return {"published": "", "mean": None, "p05": None, "p95": None, "n": 0,
                "missing": "not computed (not produced by this run)"}
    return {"published": published_text(row["mean"], pollutant), **_entry(row)}


def _flag(entry: Mapping[str, Any], *, real: bool = False) -> str:
    """``lost`` (valid in every baseline realisation, missing in some scenario ones),
    ``gained`` (the reverse), ``moves`` (the published value differs and the change is
    clear: its 90 % interval excludes zero — a mean that rounds differently by chance is
    not flagged; on real readings any difference), else ``""``."""
    base, scen = entry["baseline"], entry["scenario"]
    if not base["missing"] and scen["missing"]:
        return "lost"
    if base["missing"] and not scen["missing"]:
        return "gained"
    diff = entry.get("difference")
    differs = bool(base["published"]) and base["published"] != scen["published"]
    if differs and diff and diff.get("mean") is not None and (real or clear(diff)):
        return "moves"
    return ""


def _stations_not_valid(reduced: pd.DataFrame, network: Network, mask: np.ndarray | None,
                        key: tuple[str, str, str, str], lang: str) -> list[str]:
    """``"yufa (not valid in 20 of 20 realisations: 275 valid days < 324 …)"`` for the
    area's member stations whose own figure is missing."""
    if mask is None or not mask.any():
        return []
    ids = set(network.ids[mask])
    rows = reduced[(reduced["station_id"].isin(ids)) & (reduced["pollutant"] == key[2])
                   & (reduced["statistic"] == key[3])]
    out = []
    for row in rows.to_dict(orient="records"):
        gap = missing_text(row)
        if gap:
            why = translate_reason(str(row["reason"]), lang) if lang == "zh" else gap
            out.append(f"{row['station_id']} ({why})")
    return out


# ----------------------------------------------------------------------------
# Findings and plain words
# ----------------------------------------------------------------------------


def _station_shift(by_station: Mapping[str, pd.DataFrame], city_ids: Mapping[str, set[str]],
                   pollutant: str, statistic: str, lang: str = "en") -> str:
    """Why the city figure moved: the values of stations entering or leaving the city set."""
    entering = city_ids["scenario"] - city_ids["baseline"]
    leaving = city_ids["baseline"] - city_ids["scenario"]
    if not entering and not leaving:
        return ""

    def mean_of(net: str, ids: set[str]) -> float:
        f = by_station[net]
        f = f[(f["pollutant"] == pollutant) & (f["statistic"] == statistic)
              & f["station_id"].isin(ids)]
        return float(f["mean"].mean()) if len(f) else float("nan")

    base_city = mean_of("baseline", city_ids["baseline"])
    parts = []
    if entering:
        v = mean_of("scenario", entering)
        if np.isfinite(v):
            side = text("side_cleaner" if v < base_city else "side_dirtier", lang)
            parts.append(text("shift_entering", lang, n=len(entering), v=v, side=side,
                              city=base_city))
    if leaving:
        v = mean_of("baseline", leaving)
        if np.isfinite(v):
            side = text("side_dirtier" if v > base_city else "side_cleaner", lang)
            parts.append(text("shift_leaving", lang, n=len(leaving), v=v, side=side,
                              city=base_city))
    return ("；" if lang == "zh" else "; ").join(parts)


def _findings(s: RowIndex, networks: Sequence[str], pollutants: Sequence[str],
              lang: str = "en") -> list[str]:
    """How far each network's published-style figures and map are from the truth (``s``:
    the run's statistics by ``network`` and :data:`KEY`)."""
    out = []
    for net in networks:
        for p in pollutants:
            if STATISTICS[p][0] != "annual_mean":
                continue
            rows = [lookup(s, (net, src, "city", p, stat)) for src, stat in
                    (("stations", "annual_mean"), ("truth", "annual_mean"),
                     ("error", "rmse"), ("error", "coverage90"))]
            if any(r is None for r in rows):
                continue
            st, tr, rmse, cov = rows
            missing = [text(key, lang, gap=_gap(row, lang)) for key, row in
                       (("city_figure_is", st), ("map_is", rmse)) if missing_text(row)]
            if missing:
                out.append(text("finding_missing", lang, net=text(net, lang), p=p,
                                what="; ".join(missing)))
            if not (np.isfinite(st["mean"]) and np.isfinite(rmse["mean"])):
                continue
            gap = st["mean"] - tr["mean"]
            out.append(text("finding_truth", lang, net=text(net, lang), p=p, st=st["mean"],
                            lo=st["p05"], hi=st["p95"], units=units(p), gap=abs(gap),
                            side=text("above" if gap > 0 else "below", lang),
                            truth=tr["mean"], why=text("towns", lang) if gap > 0 else "",
                            rmse=rmse["mean"], cov=100 * cov["mean"]))
    return out


def _gap(row: Mapping[str, Any], lang: str) -> str:
    """:func:`missing_text` in ``lang``."""
    gap = missing_text(row)
    if lang != "zh" or not gap:
        return gap
    return translate_reason(str(row.get("reason") or "not computed"), lang)


def _real_findings(s: RowIndex, networks: Sequence[str], pollutants: Sequence[str],
                   lang: str = "en") -> list[str]:
    """What the real readings say about each network's map: its leave-one-out error
    (``s``: the run's statistics by ``network`` and :data:`KEY`)."""
    out = []
    for net in networks:
        for p in pollutants:
            loo = lookup(s, (net, "error", "city", p, "loo_rmse"))
            rel = lookup(s, (net, "error", "city", p, "loo_relative_rmse"))
            if loo is None or rel is None:
                continue
            if not np.isfinite(loo["mean"]):
                out.append(text("finding_loo_missing", lang, net=text(net, lang), p=p,
                                gap=_gap(loo, lang)))
                continue
            out.append(text("finding_loo", lang, net=text(net, lang), p=p, rmse=loo["mean"],
                            units=units(p), rel=100 * rel["mean"]))
    return out


SENSOR_LIST_LIMIT = 12
"""Change lists longer than this are summarised (count, types, districts), not listed."""


def describe_changes(scenario: Scenario, change_table: pd.DataFrame) -> list[str]:
    """The scenario's changes in plain words (``scenario.lang``), outage periods included;
    large sensor networks summarised by count, placement and instrument."""
    from netsim.changes import Outage, Sensors

    lang = scenario.lang
    out = []
    for change in scenario.changes:
        if isinstance(change, Sensors):
            extra = (text("hourly_error", lang, v=change.noise_pct) if change.noise_pct else "")
            extra += text("bias", lang, v=change.bias_pct) if change.bias_pct else ""
            out.append(text("change_sensors", lang, count=change.count,
                            placement=change.placement, instrument=change.instrument,
                            extra=extra))
        elif isinstance(change, Outage):
            out.append(_describe_outage(change, lang))
    for kind in ("added", "removed", "moved", "retyped"):
        rows = change_table[(change_table["change"] == kind)
                            & (change_table["type"] != "sensor")]
        if len(rows):
            out.append(text("change_stations", lang, verb=text(kind, lang), n=len(rows),
                            list=_list_stations(rows, lang)))
    return out


def _describe_outage(change: Any, lang: str) -> str:
    if change.stations is not None:
        who = ", ".join(change.stations)
    else:
        who = (text("random_share", lang, v=100 * change.fraction) if change.fraction
               else text("all_stations", lang))
        who += f" ({change._describe()})" if change._has_selector() else ""
        who += text("redrawn", lang) if change.fraction else ""
    if change.months is not None:
        when = text("months", lang, v=", ".join(str(m) for m in change.months))
    elif change.start is not None:
        when = text("period", lang, a=change.start, b=change.end)
    else:
        when = text("whole_year", lang)
    loss = (text("every_hour", lang) if change.data_loss >= 1
            else text("hour_probability", lang, v=change.data_loss))
    return text("change_outage", lang, who=who, loss=loss, when=when)


def _list_stations(rows: pd.DataFrame, lang: str) -> str:
    if len(rows) <= SENSOR_LIST_LIMIT:
        return ", ".join(f"{r.station_id} ({r.type}, {area_name(r.district, lang)})"
                         for r in rows.itertuples(index=False))
    types = rows["type"].value_counts()
    districts = rows["district"].value_counts()
    return ("; ".join(f"{n} {t}" for t, n in types.items()) + " — "
            + ", ".join(f"{area_name(d, lang)} {n}" for d, n in districts.head(6).items())
            + (text("and_others", lang) if len(districts) > 6 else ""))


def _json_ready(value: Any) -> Any:
    """NaN and inf become None (JSON ``null``), numpy scalars Python ones."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _city_ids(network: Network, scenario: Scenario) -> set[str]:
    from netsim.stats import city_station_mask

    return set(network.ids[city_station_mask(network, scenario.city_rule)])


# ----------------------------------------------------------------------------
# Fields
# ----------------------------------------------------------------------------


class FieldMeans:
    """Running means over realisations of the per-cell fields of a run.

    :meth:`add` folds one realisation's fields into float64 sums and drops them
    from the outcome, so a run holds one copy of each field whatever the number
    of realisations (a 100 m grid has 1.6 million cells per field).  Sums are
    taken in realisation order: the cluster and the local run agree exactly.
    """

    def __init__(self) -> None:
        self._sums: dict[tuple[str, str, str], np.ndarray] = {}
        self._counts: dict[tuple[str, str, str], int] = {}

    def _fold(self, key: tuple[str, str, str], values: np.ndarray) -> None:
        if key in self._sums:
            self._sums[key] += values
            self._counts[key] += 1
        else:
            self._sums[key] = np.asarray(values, dtype=np.float64).copy()
            self._counts[key] = 1

    def add(self, outcome: Mapping[str, Any]) -> None:
        """Fold one realisation (``{network: NetworkOutcome}``) in; its fields are released."""
        for net, o in outcome.items():
            for p, bands in o.fields.items():
                for band, values in bands.items():
                    self._fold((net, p, band), values)
            if o.time_resolved is not None:
                for band, values in o.time_resolved.items():
                    self._fold((net, "time_resolved", band), values)
            o.fields, o.time_resolved = {}, None

    def mean(self, net: str, group: str, band: str) -> np.ndarray | None:
        """Mean of a field over the realisations that had it (None if none had it)."""
        key = (net, group, band)
        return self._sums[key] / self._counts[key] if key in self._sums else None

    def bands(self, net: str, group: str) -> list[str]:
        """Band names present for ``net`` and ``group`` (a pollutant or ``time_resolved``)."""
        return [b for (n, g, b) in self._sums if n == net and g == group]

    def count(self, net: str, group: str) -> int:
        """Realisations folded in for ``net`` and ``group``."""
        return max((c for (n, g, _), c in self._counts.items() if n == net and g == group),
                   default=0)

