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
LOW_Q, HIGH_Q = 5.0, 95.0

NUMERICAL_ZERO = 1e-5
"""Differences smaller than this (in the statistic's units, times 1 + |difference|) are
round-off, not change: re-ordered floating-point sums in the truth sampling and the
variogram fit move identical networks' figures by up to ~1e-6."""


def _units(pollutant: str) -> str:
    return POLLUTANTS[pollutant].units if pollutant in POLLUTANTS else "days"


def _headline_keys(pollutants: Sequence[str]) -> list[tuple[str, str, str, str]]:
    keys = []
    for p in pollutants:
        keys.append(("stations", "city", p, STATISTICS[p][0]))
        keys.append(("map", "city", p, "annual_mean"))
        keys.append(("truth", "city", p, "annual_mean"))
        keys.append(("error", "city", p, "rmse"))
        keys.append(("error", "city", p, "coverage90"))
        if p not in ("CO", "O3"):
            keys.append(("error", "city", p, "share_above_limit_map"))
            keys.append(("error", "city", p, "districts_above_limit_map"))
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
    return pd.concat(frames, ignore_index=True)


def _reduce(values: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = values.groupby(by, sort=False)["value"]
    out = g.mean().to_frame("mean")
    out["p05"] = g.quantile(LOW_Q / 100)
    out["p95"] = g.quantile(HIGH_Q / 100)
    out["n"] = g.count()
    return out.reset_index()


_ERROR_LABELS = {
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


def _fmt(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


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


def _verdicts(diff: pd.DataFrame, stats: pd.DataFrame, pollutants: Sequence[str],
              by_station: Mapping[str, pd.DataFrame], city_ids: Mapping[str, set[str]]
              ) -> list[str]:
    d = diff.set_index(KEY)
    s = stats.set_index(["network", *KEY])
    out = []

    def clear(row) -> bool:
        """The 90 % interval excludes zero by more than round-off (:data:`NUMERICAL_ZERO`)."""
        tiny = NUMERICAL_ZERO * (1.0 + abs(row["mean"]))
        return row["p05"] > tiny or row["p95"] < -tiny

    def identical(row) -> bool:
        return max(abs(row["p05"]), abs(row["p95"])) <= NUMERICAL_ZERO

    for p in pollutants:
        stat = STATISTICS[p][0]
        units = _units(p)
        key = ("stations", "city", p, stat)
        if key not in d.index:
            continue
        row = d.loc[key]
        truth = d.loc[("truth", "city", p, "annual_mean")]
        interval = f"90% interval {row['p05']:+.2f} to {row['p95']:+.2f}"
        if identical(row):
            text = (f"The city {p} figure ({stat}, from stations) is unchanged in every "
                    "realisation")
        elif clear(row):
            verb = "rises" if row["mean"] > 0 else "drops"
            text = (f"The city {p} figure ({stat}, from stations) {verb} by "
                    f"{abs(row['mean']):.2f} {units} ({interval})")
            why = _station_shift(by_station, city_ids, p, stat)
            text += f" because {why}" if why else ""
        else:
            text = (f"The city {p} figure ({stat}, from stations) shows no clear change "
                    f"({row['mean']:+.2f} {units}, {interval})")
        text += ("; the true city mean is unchanged (same truth realisations)"
                 if identical(truth) else f"; the true city mean moves by {truth['mean']:+.2f}")
        rmse_key = ("error", "city", p, "rmse")
        if rmse_key in d.index:
            rb = s.loc[("baseline", *rmse_key)]["mean"]
            rs = s.loc[("scenario", *rmse_key)]["mean"]
            rrow = d.loc[rmse_key]
            if identical(rrow):
                text += f". The map is unchanged (RMSE {rb:.2f} {units} against the truth)"
            elif clear(rrow):
                better = "closer to" if rrow["mean"] < 0 else "further from"
                text += (f". The scenario's map is {better} the truth: RMSE {rb:.2f} → "
                         f"{rs:.2f} {units} ({rrow['mean']:+.3f}, 90% interval "
                         f"{rrow['p05']:+.3f} to {rrow['p95']:+.3f})")
            else:
                text += f". Map error against the truth: no clear change (RMSE {rb:.2f} → {rs:.2f})"
        out.append(text + ".")
    for stat in ("days_meeting_standard", "heavy_pollution_days"):
        key = ("stations", "city", "AQI", stat)
        if key in d.index:
            row = d.loc[key]
            name = stat.replace("_", " ")
            if identical(row):
                out.append(f"{name.capitalize()}: unchanged in every realisation.")
            elif clear(row):
                out.append(f"{name.capitalize()}: {row['mean']:+.1f} days "
                           f"(90% interval {row['p05']:+.1f} to {row['p95']:+.1f}).")
            else:
                out.append(f"{name.capitalize()}: no clear change ({row['mean']:+.1f} days, "
                           f"90% interval {row['p05']:+.1f} to {row['p95']:+.1f}).")
    return out


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
        "interval": "5th-95th percentile over realisations (90%)",
        "networks": {
            name: {"source": str(net.source), "n_stations": len(net),
                   "by_type": {t: int(c) for t, c in
                               pd.Series(net.types).value_counts().sort_index().items()}}
            for name, net in networks.items()
        },
        "statistics": stats.to_dict(orient="records"),
    }
    headline = []
    for key in _headline_keys(scenario.pollutants):
        units = ("share" if "share" in key[3] or key[3] in ("coverage90", "hj664_pass")
                 else "districts" if key[3].startswith("districts") else _units(key[2]))
        entry = {"label": _label(key), **dict(zip(KEY, key, strict=True)), "units": units}
        for net in networks:
            m = stats[(stats["network"] == net) & (stats["source"] == key[0])
                      & (stats["area"] == key[1]) & (stats["pollutant"] == key[2])
                      & (stats["statistic"] == key[3])]
            if len(m):
                entry[net] = {k: float(m.iloc[0][k]) for k in ("mean", "p05", "p95")}
        headline.append(entry)
    summary["headline"] = headline
    summary["findings"] = _findings(stats, list(networks), scenario.pollutants)
    if "scenario" in networks:
        wide = table.pivot_table(index=["realisation", *KEY], columns="network",
                                 values="value", aggfunc="first").reset_index()
        wide["value"] = wide["scenario"] - wide["baseline"]
        diff = _reduce(wide.dropna(subset=["value"]), KEY)
        summary["differences"] = diff.to_dict(orient="records")
        for entry in headline:
            k = tuple(entry[c] for c in KEY)
            m = diff.set_index(KEY)
            if k in m.index:
                entry["difference"] = {c: float(m.loc[k][c]) for c in ("mean", "p05", "p95")}
        by_station = {net: _mean_station_tables(outcomes, net)[0].rename(
            columns={"mean": "value"}) for net in networks}
        city_ids = {net: _city_ids(networks[net], scenario) for net in networks}
        summary["verdicts"] = _verdicts(diff, stats, scenario.pollutants, by_station, city_ids)
        if change_table is not None:
            summary["changes"] = {
                kind: sorted(change_table.loc[change_table["change"] == kind, "station_id"])
                for kind in ("added", "removed", "moved", "retyped")
            }
    if optimisation is not None:
        summary["optimisation"] = optimisation.to_dict()
    return summary


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
    from netsim.maps import static_map
    from netsim.rasters import write_raster

    out.mkdir(parents=True, exist_ok=True)
    # annual_by_station (netsim stats format) + intervals
    reduced, _ = _mean_station_tables(outcomes, net)
    bs = pd.DataFrame({
        "station_id": reduced["station_id"], "pollutant": reduced["pollutant"],
        "statistic": reduced["statistic"],
        "value": [_fmt_value(v, p) for v, p in zip(reduced["mean"], reduced["pollutant"],
                                                     strict=True)],
        "valid_days": reduced["valid_days"].round().astype("Int64"),
    })
    bs.to_csv(out / "annual_by_station.csv", index=False)
    reduced[["station_id", "pollutant", "statistic", "p05", "p95"]].round(3).to_csv(
        out / "annual_by_station_intervals.csv", index=False)
    # annual_by_area (netsim stats format) + intervals
    mine = stats[(stats["network"] == net) & (stats["source"] == "stations")]
    ba = pd.DataFrame({
        "area": mine["area"], "pollutant": mine["pollutant"], "statistic": mine["statistic"],
        "value": [_fmt_value(v, p) for v, p in zip(mine["mean"], mine["pollutant"], strict=True)],
    })
    ba.to_csv(out / "annual_by_area.csv", index=False)
    mine[["area", "pollutant", "statistic", "p05", "p95"]].round(3).to_csv(
        out / "annual_by_area_intervals.csv", index=False)
    maps_and_truth = stats[(stats["network"] == net) & (stats["source"] != "stations")]
    maps_and_truth.drop(columns=["network"]).round(4).to_csv(out / "map_and_truth.csv",
                                                             index=False)
    # network.csv with the change of each station
    frame = pd.DataFrame(network.stations.drop(columns="geometry"))
    if net == "scenario" and change_table is not None:
        change = change_table.set_index("station_id")["change"]
        frame["change"] = frame["station_id"].map(change).fillna("unchanged")
        removed_ids = change.index[change == "removed"]
        removed = pd.DataFrame(base.stations.drop(columns="geometry"))
        removed = removed[removed["station_id"].isin(removed_ids)].assign(change="removed")
        frame = pd.concat([frame, removed], ignore_index=True)
    else:
        frame["change"] = "unchanged"
    frame.to_csv(out / "network.csv", index=False)
    # station metrics (mean over realisations)
    sm = pd.concat([o[net].station_metrics for o in outcomes], ignore_index=True)
    sm.groupby(["station_id", "pollutant"], sort=False).mean(numeric_only=True).round(3)\
        .reset_index().to_csv(out / "station_metrics.csv", index=False)
    # rasters and maps: means over realisations
    std_limits = limits(scenario.standard, 2)
    for p in scenario.pollutants:
        slug = POLLUTANTS[p].slug
        mean = {k: means.mean(net, p, k) for k in ("estimate", "std", "truth")}
        mean["error"] = mean["estimate"] - mean["truth"]
        if scenario.outputs.rasters or scenario.outputs.web_map:
            variogram = outcomes[0][net].variograms.get(p, {})
            write_raster(
                out / "rasters" / f"{slug}_annual_mean.tif", grid,
                {k: grid.to_array(v, dtype=np.float32) for k, v in mean.items()},
                {"pollutant": p, "statistic": "annual_mean", "units": POLLUTANTS[p].units,
                 "year": scenario.year, "network": str(network.source), "scenario": scenario.name,
                 "realisations": len(outcomes), "variogram": json.dumps(variogram),
                 "bands": "mean over realisations of kriged estimate, kriging std, truth, "
                          "estimate - truth"},
            )
        if scenario.outputs.maps:
            limit = std_limits.statistic_limit(p, "annual_mean") \
                if p not in ("CO", "O3") else None
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


def _changes_chart(summary: dict, path: Path) -> None:
    """Scenario-minus-baseline of the headline statistics, one panel per unit.

    Blue: the 90 % interval excludes zero (a clear change); grey: it does not.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [h for h in summary["headline"] if "difference" in h]
    panels: dict[str, list[dict]] = {}
    for r in rows:
        unit = r["units"]
        key = (f"{r['pollutant']} [{unit}]" if unit not in ("share", "days", "districts")
               else unit)
        panels.setdefault(key, []).append(r)
    heights = [len(v) + 1 for v in panels.values()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 0.33 * sum(heights) + 1.2),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, items) in zip(axes[:, 0], panels.items(), strict=True):
        y = np.arange(len(items))[::-1]
        for yi, r in zip(y, items, strict=True):
            d = r["difference"]
            tiny = NUMERICAL_ZERO * (1.0 + abs(d["mean"]))
            clear = d["p05"] > tiny or d["p95"] < -tiny
            ax.errorbar([d["mean"]], [yi], xerr=[[d["mean"] - d["p05"]], [d["p95"] - d["mean"]]],
                        fmt="o", color="#0072B2" if clear else "#999999", capsize=3)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(y, [r["label"] for r in items], fontsize=8)
        ax.set_ylim(-0.7, len(items) - 0.3)
        ax.set_title(title, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
    axes[-1, 0].set_xlabel("scenario − baseline: mean and 90% interval over realisations "
                           "(blue: interval excludes 0)", fontsize=8)
    fig.suptitle(f"{summary['scenario']}: change against the baseline ({summary['year']})")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _report(summary: dict, has_chart: bool) -> str:
    nets = list(summary["networks"])
    lines = [f"# netsim run: {summary['scenario']}", ""]
    if summary.get("description"):
        lines += [summary["description"].strip(), ""]
    lines += [
        f"Year {summary['year']}, standard {summary['standard']}, city rule "
        f"{summary['city_rule']!s}, {summary['realisations']} truth realisations "
        f"(seed {summary['seed']}), grid {summary['grid_resolution_m']:.0f} m. "
        f"Intervals: {summary['interval']}.", "",
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
        lines += ["", "## Against the truth", ""] + [f"- {f}" for f in summary["findings"]]
    if summary.get("verdicts"):
        lines += ["", "## Verdict", ""] + [f"- {v}" for v in summary["verdicts"]]
    if has_chart:
        lines += ["", "![scenario minus baseline](changes.png)"]
    header = "| statistic | units | " + " | ".join(nets) + (
        " | scenario − baseline |" if "scenario" in nets else " |")
    lines += ["", "## Headline statistics", "", header,
              "|---|---|" + "---|" * (len(nets) + ("scenario" in nets))]
    for h in summary["headline"]:
        cells = []
        for n in nets:
            v = h.get(n)
            cells.append(f"{_fmt(v['mean'])} [{_fmt(v['p05'])}, {_fmt(v['p95'])}]" if v else "")
        if "scenario" in nets:
            d = h.get("difference")
            cells.append(f"{d['mean']:+.2f} [{d['p05']:+.2f}, {d['p95']:+.2f}]" if d else "")
        lines.append(f"| {h['label']} | {h['units']} | " + " | ".join(cells) + " |")
    lines += ["", "Sources: *stations* = the statement's method (HJ 663 from station readings); "
              "*map* = area mean of the kriged annual map; *truth* = the synthetic truth; "
              "RMSE/coverage90 compare the map with the truth cell by cell "
              "(coverage90 = share of cells inside the 90% kriging interval, ideal 0.90).", ""]
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

    stats = pd.DataFrame(summary["statistics"])
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
                diff = (means.mean("scenario", p, "estimate")
                        - means.mean("baseline", p, "estimate"))
                write_raster(out / "scenario" / "rasters" / f"{slug}_difference.tif", grid,
                             {"difference": grid.to_array(diff, dtype=np.float32)},
                             {"pollutant": p, "statistic": "annual_mean_difference",
                              "units": POLLUTANTS[p].units, "year": scenario.year,
                              "scenario": scenario.name})
    (out / "report.md").write_text(_report(summary, has_chart), encoding="utf-8")
