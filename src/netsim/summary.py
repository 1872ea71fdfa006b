"""Reduce a scenario run's realisations and write its run directory.

Means and central 90 % intervals (5th–95th percentiles over realisations) of
every statistic per network, and of the scenario-minus-baseline difference
computed realisation by realisation (common random numbers make that
difference the network's alone).  Plain-language verdicts compare the
difference with its interval: a change whose interval straddles zero is
reported as "no clear change".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netsim.grid import Grid
from netsim.network import Network
from netsim.pollutants import POLLUTANTS
from netsim.scenario import Scenario
from netsim.standards import STATISTICS, limits, reported

__all__ = ["HEADLINE", "FieldMeans", "summarise", "write_run"]

KEY = ["source", "area", "pollutant", "statistic"]
NETWORK_NAMES = ("baseline", "scenario")
LOW_Q, HIGH_Q = 5.0, 95.0

NUMERICAL_ZERO = 1e-5
"""Differences smaller than this (in the statistic's units, times 1 + |difference|) are
round-off, not change: re-ordered floating-point sums in the truth sampling and the
variogram fit move identical networks' figures by up to ~1e-6."""


def _units(pollutant: str) -> str:
    return POLLUTANTS[pollutant].units if pollutant in POLLUTANTS else "days"


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
                     ("error", "city", p, "coverage90")]
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


def _reduce(values: pd.DataFrame, by: list[str]) -> pd.DataFrame:
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
    if "reason" in values:
        gaps = values[values["value"].isna()]
        if len(gaps):
            reasons = gaps.assign(reason=gaps["reason"].replace("", "not computed")) \
                .groupby(by, sort=False)["reason"].agg(lambda r: r.value_counts().index[0])
            out.loc[reasons.index, "reason"] = reasons
    return out.reset_index()


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
    what = {
        "stations": f"{pollutant} {statistic} (stations, statement method)",
        "map": f"{pollutant} city mean of the kriged map",
        "truth": f"{pollutant} true city mean",
    }.get(source, f"{pollutant} {statistic.replace('_', ' ')}")
    if pollutant == "AQI":
        what = statistic.replace("_", " ")
    return what


def _fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


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


def _station_shift(
    by_station: Mapping[str, pd.DataFrame], city_ids: Mapping[str, set[str]], pollutant: str,
    statistic: str,
) -> str:
    """Why the city figure moved: the values of stations entering or leaving the city set."""
    entering = city_ids["scenario"] - city_ids["baseline"]
    leaving = city_ids["baseline"] - city_ids["scenario"]
    if not entering and not leaving:
        return ""

    def mean_of(net: str, ids: set[str]) -> float:
        f = by_station[net]
        f = f[(f["pollutant"] == pollutant) & (f["statistic"] == statistic)
              & f["station_id"].isin(ids)]
        return float(f["value"].mean()) if len(f) else float("nan")

    base_city = mean_of("baseline", city_ids["baseline"])
    parts = []
    if entering:
        v = mean_of("scenario", entering)
        if np.isfinite(v):
            side = "cleaner" if v < base_city else "more polluted"
            parts.append(f"the {len(entering)} station(s) joining the city set read {v:.1f} on "
                         f"average, {side} than the baseline city figure {base_city:.1f}")
    if leaving:
        v = mean_of("baseline", leaving)
        if np.isfinite(v):
            side = "more polluted" if v > base_city else "cleaner"
            parts.append(f"the {len(leaving)} station(s) leaving it read {v:.1f}, {side} than "
                         f"{base_city:.1f}")
    return "; ".join(parts)


def _clear(row: Mapping[str, float]) -> bool:
    """The 90 % interval excludes zero by more than round-off (:data:`NUMERICAL_ZERO`)."""
    tiny = NUMERICAL_ZERO * (1.0 + abs(row["mean"]))
    return row["p05"] > tiny or row["p95"] < -tiny


def _identical(row: Mapping[str, float]) -> bool:
    return max(abs(row["p05"]), abs(row["p95"])) <= NUMERICAL_ZERO


def _lookup(table: pd.DataFrame, key: tuple) -> pd.Series | None:
    """The row of an indexed table, or None."""
    return table.loc[key] if key in table.index else None


def _network_gaps(s: pd.DataFrame, key: tuple[str, str, str, str]) -> str:
    """``"baseline: …; scenario: …"`` for the networks where a statistic is missing."""
    parts = []
    for net in NETWORK_NAMES:
        row = _lookup(s, (net, *key))
        text = missing_text(row) if row is not None else "not computed"
        if text:
            parts.append(f"{net}: {text}")
    return "; ".join(parts)


def _map_verdict(d: pd.DataFrame, s: pd.DataFrame, p: str, units: str) -> str:
    rmse_key = ("error", "city", p, "rmse")
    rrow = _lookup(d, rmse_key)
    if rrow is None:
        gaps = _network_gaps(s, rmse_key)
        return f". Map error against the truth: {gaps}" if gaps else ""
    rb = s.loc[("baseline", *rmse_key)]["mean"]
    rs = s.loc[("scenario", *rmse_key)]["mean"]
    if _identical(rrow):
        return f". The map is unchanged (RMSE {rb:.2f} {units} against the truth)"
    if _clear(rrow):
        better = "closer to" if rrow["mean"] < 0 else "further from"
        return (f". The scenario's map is {better} the truth: RMSE {rb:.2f} → {rs:.2f} {units} "
                f"({rrow['mean']:+.3f}, 90% interval {rrow['p05']:+.3f} to {rrow['p95']:+.3f})")
    return f". Map error against the truth: no clear change (RMSE {rb:.2f} → {rs:.2f})"


def _city_verdict(d: pd.DataFrame, s: pd.DataFrame, p: str, why: str) -> str:
    """Verdict on the city figure of ``p`` (from stations) and on its map."""
    stat = STATISTICS[p][0]
    units = _units(p)
    key = ("stations", "city", p, stat)
    what = f"The city {p} figure ({stat}, from stations)"
    row = _lookup(d, key)
    if row is None:
        return f"{what} cannot be compared: {_network_gaps(s, key)}."
    interval = f"90% interval {row['p05']:+.2f} to {row['p95']:+.2f}"
    if _identical(row):
        text = f"{what} is unchanged in every realisation"
    elif _clear(row):
        verb = "rises" if row["mean"] > 0 else "drops"
        text = f"{what} {verb} by {abs(row['mean']):.2f} {units} ({interval})"
        text += f" because {why}" if why else ""
    else:
        text = f"{what} shows no clear change ({row['mean']:+.2f} {units}, {interval})"
    gaps = _network_gaps(s, key)
    if gaps:
        text += f" where both networks have it ({gaps})"
    truth = _lookup(d, ("truth", "city", p, "annual_mean"))
    if truth is not None:
        text += ("; the true city mean is unchanged (same truth realisations)"
                 if _identical(truth) else f"; the true city mean moves by {truth['mean']:+.2f}")
    return text + _map_verdict(d, s, p, units) + "."


def _day_count_verdict(d: pd.DataFrame, s: pd.DataFrame, stat: str) -> str:
    key = ("stations", "city", "AQI", stat)
    name = stat.replace("_", " ").capitalize()
    row = _lookup(d, key)
    if row is None:
        return f"{name}: {_network_gaps(s, key)}."
    interval = f"90% interval {row['p05']:+.1f} to {row['p95']:+.1f}"
    gaps = _network_gaps(s, key)
    tail = f"; {gaps}" if gaps else ""
    if _identical(row):
        return f"{name}: unchanged in every realisation{tail}."
    if _clear(row):
        return f"{name}: {row['mean']:+.1f} days ({interval}){tail}."
    return f"{name}: no clear change ({row['mean']:+.1f} days, {interval}){tail}."


def _lost_figures(s: pd.DataFrame) -> list[str]:
    """Areas whose figures the baseline has in every realisation but the scenario lacks.

    One sentence per kind of loss, areas grouped by how often they lose their figures:
    ``"Figures the scenario loses (not valid: 275 valid days < 324 required (HJ 663)):
    Yanqing in 7 of 20 realisations; Daxing (PM2.5, NO2) in 5 of 20; ..."``.
    """
    lost: dict[str, dict[str, list]] = {}  # area -> kind, count, pollutants, complete
    total_stats: dict[str, int] = {}
    for key, row in s.loc["scenario"].iterrows():
        if key[0] != "stations" or key[2] == "AQI":
            continue
        total_stats[key[1]] = total_stats.get(key[1], 0) + 1
        base = _lookup(s, ("baseline", *key))
        if not missing_text(row) or base is None or missing_text(base):
            continue
        entry = lost.setdefault(key[1], {"why": row["reason"], "n": 0, "pollutants": []})
        entry["n"] = max(entry["n"], int(row["n_realisations"] - row["n"]))
        entry["total"] = int(row["n_realisations"])
        entry["pollutants"].append(key[2])
    by_reason: dict[str, list[tuple[int, str]]] = {}
    for area, e in lost.items():
        pollutants = list(dict.fromkeys(e["pollutants"]))
        complete = len(e["pollutants"]) == total_stats[area]
        label = area if complete else f"{area} ({', '.join(pollutants)})"
        when = "in every realisation" if e["n"] == e["total"] else f"in {e['n']} of {e['total']}"
        kind = str(e["why"]).split(":")[0] or "not computed"
        by_reason.setdefault(kind, []).append((e["n"], f"{label} {when}"))
    return [f"Figures the scenario loses ({kind}; reasons per figure in annual_by_area.csv): "
            + "; ".join(text for _, text in sorted(items, key=lambda t: -t[0])) + "."
            for kind, items in by_reason.items()]


def _real_city_verdict(d: pd.DataFrame, s: pd.DataFrame, p: str, why: str) -> str:
    """Verdict on a city figure from real readings: measured, so no interval to weigh."""
    stat = STATISTICS[p][0]
    key = ("stations", "city", p, stat)
    what = f"The city {p} figure ({stat}, from the real readings)"
    row = _lookup(d, key)
    base, scen = (_lookup(s, (net, *key)) for net in NETWORK_NAMES)
    if row is None or base is None or scen is None:
        return f"{what} cannot be compared: {_network_gaps(s, key)}."
    units = _units(p)
    published = (f"; published (GB/T 8170) {_fmt_value(base['mean'], p)} → "
                 f"{_fmt_value(scen['mean'], p)} {units}")
    if abs(row["mean"]) <= NUMERICAL_ZERO:
        text = f"{what} is unchanged ({base['mean']:.2f} {units})"
    else:
        verb = "rises" if row["mean"] > 0 else "drops"
        text = (f"{what} {verb} from {base['mean']:.2f} to {scen['mean']:.2f} {units} "
                f"({row['mean']:+.2f})")
        text += f" because {why}" if why else ""
    text += published
    held = _lookup(s, ("scenario", "error", "city", p, "held_out_rmse"))
    if held is not None and np.isfinite(held["mean"]):
        text += (f". At the removed stations the scenario's map misses their real annual "
                 f"means by {held['mean']:.2f} {units} (RMSE)")
    return text + "."


def _verdicts(diff: pd.DataFrame, stats: pd.DataFrame, pollutants: Sequence[str],
              by_station: Mapping[str, pd.DataFrame], city_ids: Mapping[str, set[str]],
              *, real: bool = False) -> list[str]:
    """Plain-language verdicts: city figures, day counts, then the figures the scenario loses."""
    d = diff.set_index(KEY)
    s = stats.set_index(["network", *KEY])
    city = _real_city_verdict if real else _city_verdict
    out = [city(d, s, p, _station_shift(by_station, city_ids, p, STATISTICS[p][0]))
           for p in pollutants]
    out += [_day_count_verdict(d, s, stat)
            for stat in ("days_meeting_standard", "heavy_pollution_days")]
    return out + _lost_figures(s)


def _findings(stats: pd.DataFrame, networks: Sequence[str], pollutants: Sequence[str]
              ) -> list[str]:
    """How far each network's published-style figures and map are from the truth."""
    s = stats.set_index(["network", *KEY])
    out = []
    for net in networks:
        for p in pollutants:
            if STATISTICS[p][0] != "annual_mean":
                continue
            try:
                st = s.loc[(net, "stations", "city", p, "annual_mean")]
                tr = s.loc[(net, "truth", "city", p, "annual_mean")]
                rmse = s.loc[(net, "error", "city", p, "rmse")]
                cov = s.loc[(net, "error", "city", p, "coverage90")]
            except KeyError:
                continue
            missing = [f"{what} {missing_text(row)}" for what, row in
                       (("the city figure is", st), ("the map is", rmse)) if missing_text(row)]
            if missing:
                out.append(f"{net}: {p}: " + "; ".join(missing) + ".")
            if not (np.isfinite(st["mean"]) and np.isfinite(rmse["mean"])):
                continue
            gap = st["mean"] - tr["mean"]
            side = "above" if gap > 0 else "below"
            why = (" (the city stations sit in the towns, not evenly over the territory)"
                   if gap > 0 else "")
            out.append(
                f"{net}: the city {p} figure from stations, {st['mean']:.1f} "
                f"[{st['p05']:.1f}, {st['p95']:.1f}] {_units(p)}, is {abs(gap):.1f} {side} the "
                f"true territory-wide mean {tr['mean']:.1f}{why}; the kriged map's RMSE against "
                f"the truth is "
                f"{rmse['mean']:.2f} {_units(p)} and its 90% intervals cover "
                f"{100 * cov['mean']:.0f}% of cells.")
    return out


def _real_findings(stats: pd.DataFrame, networks: Sequence[str], pollutants: Sequence[str]
                   ) -> list[str]:
    """What the real readings say about each network's map: its leave-one-out error."""
    s = stats.set_index(["network", *KEY])
    out = []
    for net in networks:
        for p in pollutants:
            loo = _lookup(s, (net, "error", "city", p, "loo_rmse"))
            rel = _lookup(s, (net, "error", "city", p, "loo_relative_rmse"))
            if loo is None or rel is None:
                continue
            if not np.isfinite(loo["mean"]):
                out.append(f"{net}: {p} map not checked: {missing_text(loo)}.")
                continue
            out.append(f"{net}: leaving each map station out in turn, the {p} map misses its "
                       f"real annual mean by {loo['mean']:.2f} {_units(p)} (RMSE, "
                       f"{100 * rel['mean']:.1f}% of the stations' mean).")
    return out


def _mean_station_tables(outcomes, net: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = [o[net].by_station.assign(realisation=r) for r, o in enumerate(outcomes)]
    bs = pd.concat(frames, ignore_index=True)
    keys = ["station_id", "pollutant", "statistic"]
    reduced = _reduce(bs, keys)
    valid = bs.groupby(keys, sort=False)["valid_days"].mean().reset_index()
    return reduced.merge(valid, on=keys, how="left"), bs


def summarise(
    scenario: Scenario,
    networks: Mapping[str, Network],
    outcomes: Sequence[Mapping[str, Any]],
    *,
    change_table: pd.DataFrame | None = None,
    optimisation: Any = None,
) -> dict[str, Any]:
    """Means, 90 % intervals, differences and verdicts of a run (the ``summary.json`` content)."""
    table = _long_table(outcomes)
    stats = _reduce(table, ["network", *KEY])
    real = scenario.readings is not None
    summary: dict[str, Any] = {
        "scenario": scenario.name,
        "description": scenario.description,
        "year": scenario.year,
        "pollutants": list(scenario.pollutants),
        "standard": scenario.standard,
        "city_rule": scenario.city_rule,
        "realisations": len(outcomes),
        "seed": scenario.seed,
        "grid_resolution_m": scenario.grid.resolution_m,
        "data": _data_source(scenario),
        "interval": ("none: real readings are one measured year (no Monte Carlo)" if real
                     else "5th-95th percentile over realisations (90%)"),
        "networks": {
            name: {"source": str(net.source), "n_stations": len(net),
                   "by_type": {t: int(c) for t, c in
                               pd.Series(net.types).value_counts().sort_index().items()}}
            for name, net in networks.items()
        },
        "statistics": stats.to_dict(orient="records"),
    }
    summary["headline"] = _headline(stats, scenario.pollutants, networks, real=real)
    summary["findings"] = (_real_findings if real else _findings)(
        stats, list(networks), scenario.pollutants)
    if "scenario" in networks:
        diff = _differences(table)
        summary["differences"] = diff.to_dict(orient="records")
        indexed = diff.set_index(KEY)
        for entry in summary["headline"]:
            row = _lookup(indexed, tuple(entry[c] for c in KEY))
            if row is not None:
                entry["difference"] = _entry(row)
        by_station = {net: _mean_station_tables(outcomes, net)[0].rename(
            columns={"mean": "value"}) for net in networks}
        city_ids = {net: _city_ids(networks[net], scenario) for net in networks}
        summary["verdicts"] = _verdicts(diff, stats, scenario.pollutants, by_station, city_ids,
                                        real=real)
        if change_table is not None:
            summary["changes"] = {
                kind: sorted(change_table.loc[change_table["change"] == kind, "station_id"])
                for kind in ("added", "removed", "moved", "retyped")
            }
    if optimisation is not None:
        summary["optimisation"] = optimisation.to_dict()
    return _json_ready(summary)


def _entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """``mean, p05, p95`` (None where missing), ``n`` and the ``missing`` text of a row."""
    out: dict[str, Any] = {k: float(row[k]) for k in ("mean", "p05", "p95")}
    out["n"] = int(row["n"])
    out["missing"] = missing_text(row)
    return out


def _data_source(scenario: Scenario) -> dict[str, Any]:
    """What the run measured: the synthetic truth (seed, calibration) or real readings."""
    if scenario.readings is None:
        return {"kind": "synthetic truth", "seed": scenario.seed,
                "calibration": scenario.truth.calibration}
    return {"kind": "real readings",
            "path": ", ".join(str(p) for p in scenario.readings_paths()),
            "year": scenario.year,
            "hour_label": scenario.readings.hour_label or "the layout's default"}


def _not_produced(net: str, key: tuple[str, str, str, str]) -> str:
    if key[3].startswith("held_out") and net == "baseline":
        return "not applicable (the baseline removes no station)"
    return "not computed (not produced by this run)"


def _headline(stats: pd.DataFrame, pollutants: Sequence[str], networks: Mapping[str, Any],
              *, real: bool = False) -> list[dict[str, Any]]:
    """The headline statistics of every network (a missing one says why)."""
    indexed = stats.set_index(["network", *KEY])
    headline = []
    for key in _headline_keys(pollutants, real=real):
        units = ("share" if "share" in key[3] or key[3] in ("coverage90", "hj664_pass")
                 else "districts" if key[3].startswith("districts") else _units(key[2]))
        entry = {"label": _label(key), **dict(zip(KEY, key, strict=True)), "units": units}
        for net in networks:
            row = _lookup(indexed, (net, *key))
            entry[net] = (_entry(row) if row is not None else
                          {"mean": None, "p05": None, "p95": None, "n": 0,
                           "missing": _not_produced(net, key)})
        headline.append(entry)
    return headline


def _differences(table: pd.DataFrame) -> pd.DataFrame:
    """Scenario minus baseline per realisation, reduced like the statistics.

    A realisation where either network lacks the value gives no difference; its
    reason names the network (``"not valid: scenario: …"``).
    """
    wide = table.set_index(["realisation", *KEY, "network"])[["value", "reason"]].unstack(
        "network")
    value = wide["value"]
    out = pd.DataFrame({"value": value["scenario"] - value["baseline"]}, index=wide.index)
    gap_in_scenario = value["scenario"].isna().to_numpy()
    net = np.where(gap_in_scenario, "scenario", "baseline")
    own = pd.Series(np.where(gap_in_scenario, wide["reason"]["scenario"].fillna(""),
                             wide["reason"]["baseline"].fillna("")), index=wide.index)
    kind, _, why = own.replace("", "not computed").str.partition(": ").T.to_numpy()
    text = kind + ": " + net + np.where(why != "", ": " + why, "")
    out["reason"] = np.where(out["value"].isna(), text, "")
    return _reduce(out.reset_index(), KEY)


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
# Writing
# ----------------------------------------------------------------------------


def _fmt_value(value: float, pollutant: str) -> str:
    if value is None or not np.isfinite(value):
        return ""
    rounded = reported(value, pollutant) if pollutant in POLLUTANTS else round(value)
    dec = POLLUTANTS[pollutant].reported_decimals if pollutant in POLLUTANTS else 0
    return f"{float(rounded):.{dec}f}"


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


def _write_network_dir(
    out: Path, net: str, scenario: Scenario, grid: Grid, network: Network,
    outcomes: Sequence[Mapping[str, Any]], means: FieldMeans, stats: pd.DataFrame,
    change_table: pd.DataFrame | None, base: Network,
) -> None:
    """One network's directory: the statement's tables, map and truth, stations, fields."""
    out.mkdir(parents=True, exist_ok=True)
    _write_station_tables(out, _mean_station_tables(outcomes, net)[0])
    _write_area_tables(out, stats[stats["network"] == net])
    _network_frame(net, network, change_table, base).to_csv(out / "network.csv", index=False)
    sm = pd.concat([o[net].station_metrics for o in outcomes], ignore_index=True)
    sm.groupby(["station_id", "pollutant"], sort=False).mean(numeric_only=True).round(3)\
        .reset_index().to_csv(out / "station_metrics.csv", index=False)
    held_out = getattr(outcomes[0][net], "held_out", None)
    if held_out is not None:
        held_out.round(4).to_csv(out / "held_out.csv", index=False)
    for p in scenario.pollutants:
        _write_fields(out, net, p, scenario, grid, network, outcomes, means)


def _reason_column(reduced: pd.DataFrame) -> list[str]:
    """The ``reason`` column of the run's tables: :func:`missing_text` of every row."""
    return [missing_text(row) for row in reduced.to_dict(orient="records")]


def _write_station_tables(out: Path, reduced: pd.DataFrame) -> None:
    """``annual_by_station.csv`` (the ``netsim stats`` format, mean over realisations,
    empty value + reason where missing) and its 5th/95th-percentile intervals."""
    reason = _reason_column(reduced)
    pd.DataFrame({
        "station_id": reduced["station_id"], "pollutant": reduced["pollutant"],
        "statistic": reduced["statistic"],
        "value": [_fmt_value(v, p) for v, p in zip(reduced["mean"], reduced["pollutant"],
                                                     strict=True)],
        "valid_days": reduced["valid_days"].round().astype("Int64"),
        "reason": reason,
    }).to_csv(out / "annual_by_station.csv", index=False)
    reduced[["station_id", "pollutant", "statistic", "p05", "p95", "n"]].round(3).assign(
        reason=reason).to_csv(out / "annual_by_station_intervals.csv", index=False)


def _write_area_tables(out: Path, mine: pd.DataFrame) -> None:
    """``annual_by_area.csv`` (+ intervals) from the stations, ``map_and_truth.csv`` the rest."""
    stations = mine[mine["source"] == "stations"]
    reason = _reason_column(stations)
    pd.DataFrame({
        "area": stations["area"], "pollutant": stations["pollutant"],
        "statistic": stations["statistic"],
        "value": [_fmt_value(v, p) for v, p in zip(stations["mean"], stations["pollutant"],
                                                     strict=True)],
        "reason": reason,
    }).to_csv(out / "annual_by_area.csv", index=False)
    stations[["area", "pollutant", "statistic", "p05", "p95", "n"]].round(3).assign(
        reason=reason).to_csv(out / "annual_by_area_intervals.csv", index=False)
    rest = mine[mine["source"] != "stations"]
    rest[["source", "area", "pollutant", "statistic", "mean", "p05", "p95", "n"]].round(4).assign(
        reason=_reason_column(rest)).to_csv(out / "map_and_truth.csv", index=False)


def _network_frame(net: str, network: Network, change_table: pd.DataFrame | None,
                   base: Network) -> pd.DataFrame:
    """``network.csv``: the stations with their change (removed ones appended)."""
    frame = pd.DataFrame(network.stations.drop(columns="geometry"))
    if net != "scenario" or change_table is None:
        return frame.assign(change="unchanged")
    change = change_table.set_index("station_id")["change"]
    frame["change"] = frame["station_id"].map(change).fillna("unchanged")
    removed = pd.DataFrame(base.stations.drop(columns="geometry"))
    removed = removed[removed["station_id"].isin(change.index[change == "removed"])]
    return pd.concat([frame, removed.assign(change="removed")], ignore_index=True)


def _write_fields(out: Path, net: str, p: str, scenario: Scenario, grid: Grid,
                  network: Network, outcomes: Sequence[Mapping[str, Any]],
                  means: FieldMeans) -> None:
    """The pollutant's mean fields as a GeoTIFF and a PNG (nothing when never mapped)."""
    from netsim.maps import static_map
    from netsim.rasters import write_raster

    mean = {k: means.mean(net, p, k) for k in ("estimate", "std", "truth")}
    if mean["estimate"] is None:
        return  # no realisation had 3 map stations: map_and_truth.csv says why
    if mean["truth"] is None:  # real readings: the truth is known at the stations only
        del mean["truth"]
        what = "kriged estimate and kriging std from real readings"
    else:
        mean["error"] = mean["estimate"] - mean["truth"]
        what = ("mean over realisations of kriged estimate, kriging std, truth, "
                "estimate - truth")
    slug = POLLUTANTS[p].slug
    if scenario.outputs.rasters or scenario.outputs.web_map:
        variogram = next((o[net].variograms[p] for o in outcomes if p in o[net].variograms), {})
        write_raster(
            out / "rasters" / f"{slug}_annual_mean.tif", grid,
            {k: grid.to_array(v, dtype=np.float32) for k, v in mean.items()},
            {"pollutant": p, "statistic": "annual_mean", "units": POLLUTANTS[p].units,
             "year": scenario.year, "network": str(network.source), "scenario": scenario.name,
             "realisations": means.count(net, p), "variogram": json.dumps(variogram),
             "bands": what},
        )
    if scenario.outputs.maps:
        limit = (limits(scenario.standard, 2).statistic_limit(p, "annual_mean")
                 if p not in ("CO", "O3") else None)
        static_map(grid, mean["estimate"], network, pollutant=p, limit=limit,
                   path=out / "maps" / f"{slug}_annual_mean.png", std=mean["std"])


def _write_time_resolved(out: Path, net: str, scenario: Scenario, grid: Grid,
                         means: FieldMeans) -> None:
    """Mean over the time-resolved realisations of the per-cell annual statistics."""
    from netsim.maps import static_map
    from netsim.rasters import write_raster

    names = means.bands(net, "time_resolved")
    if not names:
        return
    bands = {name: means.mean(net, "time_resolved", name) for name in names}
    step = scenario.outputs.time_resolved
    write_raster(out / "rasters" / f"time_resolved_{step}.tif", grid,
                 {k: grid.to_array(v, dtype=np.float32) for k, v in bands.items()},
                 {"statistic": "time_resolved_annual", "step": step, "year": scenario.year,
                  "standard": scenario.standard,
                  "realisations": means.count(net, "time_resolved"),
                  "scenario": scenario.name,
                  "bands": "per-cell annual statistics of kriged daily/hourly maps "
                           "(netsim.timeseries), mean over realisations"})
    if scenario.outputs.maps and "aqi_days_meeting_standard" in bands:
        static_map(grid, bands["aqi_days_meeting_standard"], None, pollutant="AQI",
                   limit=None, units="days", cmap="RdYlBu",
                   title=f"Days Meeting the Standard (AQI ≤ 100), {scenario.year}",
                   path=out / "maps" / "aqi_days_meeting_standard.png")


def interval_contains_mean(entry: Mapping[str, float | None]) -> bool:
    """True when ``p05 <= mean <= p95`` (skewed realisations can put the mean outside)."""
    return entry["p05"] <= entry["mean"] <= entry["p95"]


def _draw_interval(ax, y: float, entry: Mapping[str, float], colour: str) -> None:
    """The 90 % interval as a capped line and the mean as a dot, wherever the mean lies
    (a mean outside the interval is drawn hollow instead of as a negative error bar)."""
    lo, hi, mean = entry["p05"], entry["p95"], entry["mean"]
    ax.plot([lo, hi], [y, y], color=colour, lw=1.2, solid_capstyle="butt")
    ax.plot([lo, hi], [y, y], linestyle="none", marker="|", markersize=7, color=colour)
    inside = interval_contains_mean(entry)
    ax.plot([mean], [y], marker="o", markersize=5, color=colour,
            markerfacecolor=colour if inside else "white")


def _changes_chart(summary: dict, path: Path) -> None:
    """Scenario-minus-baseline of the headline statistics, one panel per unit.

    Blue: the 90 % interval excludes zero (a clear change); grey: it does not.
    Statistics missing in either network are left out (the report says why).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [h for h in summary["headline"]
            if h.get("difference") and h["difference"]["mean"] is not None]
    panels: dict[str, list[dict]] = {}
    for r in rows:
        unit = r["units"]
        key = (f"{r['pollutant']} [{unit}]" if unit not in ("share", "days", "districts")
               else unit)
        panels.setdefault(key, []).append(r)
    heights = [len(v) + 1 for v in panels.values()] or [1]
    fig = Figure(figsize=(8, 0.33 * sum(heights) + 1.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(heights), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, items) in zip(axes[:, 0], panels.items(), strict=False):
        y = np.arange(len(items))[::-1]
        for yi, r in zip(y, items, strict=True):
            d = r["difference"]
            _draw_interval(ax, yi, d, "#0072B2" if _clear(d) else "#999999")
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(y, [r["label"] for r in items], fontsize=8)
        ax.set_ylim(-0.7, len(items) - 0.3)
        ax.set_title(title, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
    real = summary.get("data", {}).get("kind") == "real readings"
    axes[-1, 0].set_xlabel(
        "scenario − baseline from the real readings (one measured year, no interval)" if real
        else "scenario − baseline: mean and 90% interval over realisations "
             "(blue: interval excludes 0; hollow: mean outside the interval)", fontsize=8)
    fig.suptitle(f"{summary['scenario']}: change against the baseline ({summary['year']})")
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def _report(summary: dict, has_chart: bool) -> str:
    nets = list(summary["networks"])
    lines = [f"# netsim run: {summary['scenario']}", ""]
    if summary.get("description"):
        lines += [summary["description"].strip(), ""]
    real = summary.get("data", {}).get("kind") == "real readings"
    if real:
        data = summary["data"]
        lines += [
            f"**Real readings.** Every figure below is computed from the measured hourly "
            f"readings in `{data['path']}` ({summary['year']}), the statement's way: nothing "
            "is simulated, so there are no intervals. The maps are kriged from each network's "
            "stations; their error is known only at the stations (leave-one-out) and at the "
            "stations the scenario removes.", "",
            f"Standard {summary['standard']}, city rule {summary['city_rule']!s}, "
            f"grid {summary['grid_resolution_m']:.0f} m.", ""]
    else:
        lines += [
            f"Year {summary['year']}, standard {summary['standard']}, city rule "
            f"{summary['city_rule']!s}, {summary['realisations']} truth realisations "
            f"(seed {summary['seed']}), grid {summary['grid_resolution_m']:.0f} m. "
            f"Intervals: {summary['interval']}.", ""]
    lines += [
        "## Networks", "",
        "| network | stations | by type |", "|---|---|---|",
    ]
    for n, info in summary["networks"].items():
        types = ", ".join(f"{t} {c}" for t, c in info["by_type"].items())
        lines.append(f"| {n} | {info['n_stations']} | {types} |")
    if "changes" in summary:
        lines += ["", "Changes: " + "; ".join(
            f"{k} {', '.join(v)}" for k, v in summary["changes"].items() if v) or "none"]
    if summary.get("findings"):
        lines += ["", "## Map error at the stations" if real else "## Against the truth", ""]
        lines += [f"- {f}" for f in summary["findings"]]
    if summary.get("verdicts"):
        lines += ["", "## Verdict", ""] + [f"- {v}" for v in summary["verdicts"]]
    if has_chart:
        lines += ["", "![scenario minus baseline](changes.png)"]
    header = "| statistic | units | " + " | ".join(nets) + (
        " | scenario − baseline |" if "scenario" in nets else " |")
    lines += ["", "## Headline statistics", "", header,
              "|---|---|" + "---|" * (len(nets) + ("scenario" in nets))]
    skewed = False
    for h in summary["headline"]:
        cells = [interval_text(h.get(n), point=real) for n in nets]
        if "scenario" in nets:
            cells.append(interval_text(h.get("difference"), signed=True, point=real))
        skewed |= any(c.endswith("†") for c in cells)
        lines.append(f"| {h['label']} | {h['units']} | " + " | ".join(cells) + " |")
    lines += ["", "Sources: *stations* = the statement's method (HJ 663 from station readings); "
              "*map* = area mean of the kriged annual map; *truth* = the synthetic truth; "
              "RMSE/coverage90 compare the map with the truth cell by cell "
              "(coverage90 = share of cells inside the 90% kriging interval, ideal 0.90)."]
    if skewed:
        lines += ["", "† The mean lies outside its 90% interval: the realisations are skewed "
                  "(a few far from the rest), so read the interval, not the mean."]
    lines.append("")
    if summary.get("optimisation"):
        opt = summary["optimisation"]
        lines += ["## New-site optimisation", "", f"Objective: {opt['objective']} "
                  f"({opt['pollutant']}), {len(opt['sites'])} sites chosen greedily.", "",
                  "| step | id | lon | lat | district | objective after | gain |",
                  "|---|---|---|---|---|---|---|"]
        for s in opt["sites"]:
            lines.append(f"| {s['step']} | {s['station_id']} | {s['lon']:.3f} | {s['lat']:.3f} "
                         f"| {s['district']} | {s['objective']:.3f} | {s['gain']:.3f} |")
        lines.append("")
    lines += ["Files: `<network>/annual_by_area.csv`, `annual_by_station.csv` (netsim stats "
              "format, mean over realisations), `*_intervals.csv`, `map_and_truth.csv`, "
              "`station_metrics.csv`, `network.csv`, `rasters/*.tif`, `maps/*.png`; "
              "`summary.json`; `map.html`.", ""]
    return "\n".join(lines)


def write_run(
    out: Path,
    scenario: Scenario,
    grid: Grid,
    networks: Mapping[str, Network],
    outcomes: Sequence[Mapping[str, Any]],
    means: FieldMeans,
    summary: dict,
    *,
    change_table: pd.DataFrame | None = None,
) -> None:
    """Write every file of the run directory except ``summary.json`` and ``map.html``.

    ``outcomes`` are the realisations' tables (their fields already folded into ``means``).
    """
    from netsim.rasters import write_raster

    stats = pd.DataFrame(summary["statistics"]).astype(
        {"mean": float, "p05": float, "p95": float})
    for net, network in networks.items():
        _write_network_dir(out / net, net, scenario, grid, network, outcomes, means, stats,
                           change_table, networks["baseline"])
    for net in networks:
        _write_time_resolved(out / net, net, scenario, grid, means)
    has_chart = "scenario" in networks
    if has_chart:
        _changes_chart(summary, out / "changes.png")
        if scenario.outputs.rasters or scenario.outputs.web_map:
            for p in scenario.pollutants:
                slug = POLLUTANTS[p].slug
                scen, base = (means.mean(n, p, "estimate") for n in NETWORK_NAMES)
                if scen is None or base is None:
                    continue  # a network without a map of p: map_and_truth.csv says why
                diff = scen - base
                write_raster(out / "scenario" / "rasters" / f"{slug}_difference.tif", grid,
                             {"difference": grid.to_array(diff, dtype=np.float32)},
                             {"pollutant": p, "statistic": "annual_mean_difference",
                              "units": POLLUTANTS[p].units, "year": scenario.year,
                              "scenario": scenario.name})
    (out / "report.md").write_text(_report(summary, has_chart), encoding="utf-8")
