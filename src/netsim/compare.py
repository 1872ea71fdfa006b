"""``netsim compare``: the published figures of many run directories side by side.

One row of ``comparison.csv`` per run, network and published figure of the
statement (``summary.json`` → ``published``: the city's statistic per
pollutant and every district / group annual mean), tidy::

    run, scenario, data, realisations, network, area, pollutant, statistic, units,
    published, mean, p05, p95, difference_mean, difference_p05, difference_p95, flag, class,
    reason

``difference_*`` (scenario − baseline, mean and 90 % interval over
realisations) and ``class`` (the verdict class, :mod:`netsim.verdicts`) are on
the ``scenario`` rows only.  A figure that was not computed is empty, never 0,
with the run's explanation in ``reason``.  ``comparison.md`` holds one readable wide table
per statistic and ``comparison.png`` the city PM2.5 difference per run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netsim.atomic import output_directory
from netsim.errors import NetsimError

__all__ = ["COLUMNS", "compare_runs", "comparison_chart", "comparison_markdown",
           "comparison_table", "load_summary", "write_comparison"]

COLUMNS = ["run", "scenario", "data", "realisations", "network", "area", "pollutant",
           "statistic", "units", "published", "mean", "p05", "p95", "difference_mean",
           "difference_p05", "difference_p95", "flag", "class", "reason"]
NETWORKS = ("baseline", "scenario")
FILES = ("comparison.csv", "comparison.md", "comparison.png")


def load_summary(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``summary.json`` of a run directory.

    Raises
    ------
    NetsimError
        ``run_dir`` is not a run directory (no readable ``summary.json``).
    """
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        raise NetsimError(f"compare: {run_dir} is not a run directory (no summary.json); "
                          "give directories written by `netsim run` or `netsim sweep`")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NetsimError(f"compare: cannot read {path}: {exc}; rerun `netsim run`") from None
    if not isinstance(summary, dict) or "published" not in summary:
        raise NetsimError(f"compare: {path} has no 'published' figures; it was written by an "
                          "older netsim, rerun `netsim run`")
    return summary


def _run_labels(run_dirs: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Directory names, or the paths as given where two names coincide."""
    names = [Path(d).name or str(d) for d in run_dirs]
    return [n if names.count(n) == 1 else str(d) for n, d in zip(names, run_dirs, strict=True)]


def _classes(summary: Mapping[str, Any]) -> dict[tuple[str, str, str], str]:
    """``(area, pollutant, statistic) -> class`` of the station figures."""
    return {tuple(v["key"][1:]): v["class"] for v in summary.get("verdict_classes") or []
            if v["key"][0] == "stations"}


def _number(value: Any) -> float:
    return float("nan") if value is None or value == "" else float(value)


def _rows(label: str, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The tidy rows of one run (see the module docstring)."""
    classes = _classes(summary)
    run = {"run": label, "scenario": summary.get("scenario", ""),
           "data": (summary.get("data") or {}).get("kind", ""),
           "realisations": summary.get("realisations")}
    rows = []
    for entry in summary["published"]:
        key = (entry["area"], entry["pollutant"], entry["statistic"])
        for net in NETWORKS:
            if net not in entry:
                continue
            figure = entry[net]
            diff = entry.get("difference") if net == "scenario" else None
            rows.append({
                **run, "network": net, "area": key[0], "pollutant": key[1],
                "statistic": key[2], "units": entry.get("units", ""),
                "published": figure.get("published", ""),
                "mean": _number(figure.get("mean")), "p05": _number(figure.get("p05")),
                "p95": _number(figure.get("p95")),
                "difference_mean": _number((diff or {}).get("mean")),
                "difference_p05": _number((diff or {}).get("p05")),
                "difference_p95": _number((diff or {}).get("p95")),
                "flag": entry.get("flag", "") if net == "scenario" or "scenario" not in entry
                else "",
                "class": classes.get(key, "") if net == "scenario" else "",
                "reason": figure.get("missing") or (diff or {}).get("missing") or "",
            })
    return rows


def comparison_table(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> pd.DataFrame:
    """The tidy comparison table of ``(label, summary)`` pairs (columns :data:`COLUMNS`)."""
    rows = [row for label, summary in runs for row in _rows(label, summary)]
    return pd.DataFrame(rows, columns=COLUMNS)


def _interval(mean: float, p05: float, p95: float, reason: str = "") -> str:
    if np.isnan(mean):
        return reason or "not computed"
    return f"{mean:.2f} [{p05:.2f}, {p95:.2f}]"


def _evaluated(table: pd.DataFrame) -> pd.DataFrame:
    """Per run the scenario rows, or the baseline rows of a baseline-only run."""
    has_scenario = table.groupby("run", sort=False)["network"].transform(
        lambda n: (n == "scenario").any())
    return table[(table["network"] == "scenario") | ~has_scenario]


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _city_section(table: pd.DataFrame, pollutant: str, statistic: str) -> list[str]:
    city = table[(table["area"] == "city") & (table["pollutant"] == pollutant)
                 & (table["statistic"] == statistic)]
    base = city[city["network"] == "baseline"].set_index("run")
    rows = []
    for _, r in _evaluated(city).iterrows():
        baseline = base.loc[r["run"], "published"] if r["run"] in base.index else ""
        scenario = r["published"] if r["network"] == "scenario" else "—"
        diff = ("—" if r["network"] == "baseline" else
                _interval(r["difference_mean"], r["difference_p05"], r["difference_p95"]))
        rows.append([r["run"], r["scenario"], r["data"], r["realisations"], baseline, scenario,
                     _interval(r["mean"], r["p05"], r["p95"], r["reason"]), diff, r["class"] or "—",
                     r["flag"] or ""])
    units = city["units"].iloc[0] if len(city) else ""
    return [f"## City {pollutant} {statistic} ({units})", "", *_markdown_table(
        ["run", "scenario", "data", "realisations", "published (baseline)",
         "published (scenario)", "mean [5 %, 95 %]", "scenario − baseline", "class", "flag"],
        rows)]


def _areas_section(table: pd.DataFrame, pollutant: str, statistic: str) -> list[str]:
    mine = table[(table["area"] != "city") & (table["pollutant"] == pollutant)
                 & (table["statistic"] == statistic)]
    if mine.empty:
        return []
    areas = list(dict.fromkeys(mine["area"]))
    base = mine[mine["network"] == "baseline"].set_index(["run", "area"])["published"]
    rows = []
    for run, group in _evaluated(mine).groupby("run", sort=False):
        shown = group.set_index("area")["published"]
        cells = []
        for area in areas:
            now, before = shown.get(area, ""), base.get((run, area), "")
            now = "" if pd.isna(now) else str(now)
            before = "" if pd.isna(before) else str(before)
            cells.append(now if group["network"].iloc[0] == "baseline" or now == before
                         else f"{before or '—'} → {now or '—'}")
        rows.append([run, *(c or "—" for c in cells)])
    return [f"## {pollutant} {statistic} by area, as published (baseline → scenario where "
            "they differ)", "", *_markdown_table(["run", *areas], rows)]


def comparison_markdown(table: pd.DataFrame) -> str:
    """``comparison.md``: per statistic a city table and an area table, one row per run."""
    lines = ["# Comparison of runs", "",
             f"{table['run'].nunique()} runs; figures as published by the statement's method "
             "(stations), mean and 90 % interval over realisations; '—': not in this run, "
             "'not computed': no valid value (see the run's report.md).", ""]
    keys = list(dict.fromkeys(zip(table["pollutant"], table["statistic"], strict=True)))
    for pollutant, statistic in keys:
        lines += _city_section(table, pollutant, statistic)
        lines += _areas_section(table, pollutant, statistic)
    return "\n".join(lines)


def comparison_chart(table: pd.DataFrame, path: Path, *, pollutant: str = "PM2.5") -> None:
    """City annual mean of ``pollutant``, scenario − baseline with its 90 % interval per run
    (µg/m³); runs without a scenario are listed as such."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from netsim.charts import _draw_interval
    from netsim.verdicts import clear

    city = _evaluated(table[(table["area"] == "city") & (table["pollutant"] == pollutant)
                            & (table["statistic"] == "annual_mean")])
    fig = Figure(figsize=(8, 0.4 * max(len(city), 1) + 1.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    labels = []
    for y, (_, r) in zip(range(len(city) - 1, -1, -1), city.iterrows(), strict=True):
        d = {"mean": r["difference_mean"], "p05": r["difference_p05"], "p95": r["difference_p95"]}
        if r["network"] == "scenario" and not np.isnan(d["mean"]):
            _draw_interval(ax, y, d, "#0072B2" if clear(d) else "#999999")
            labels.append((y, r["run"]))
        else:
            labels.append((y, f"{r['run']} (baseline only)"))
    ax.axvline(0.0, color="black", lw=0.8)
    if labels:
        ax.set_yticks([y for y, _ in labels], [t for _, t in labels], fontsize=8)
    ax.set_ylim(-0.7, max(len(city), 1) - 0.3)
    units = city["units"].iloc[0] if len(city) else ""
    ax.set_xlabel(f"city {pollutant} annual mean, scenario − baseline [{units}]: mean and 90% "
                  "interval over realisations (blue: interval excludes 0)", fontsize=8)
    fig.suptitle(f"City {pollutant}: change against the baseline, per run")
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def write_comparison(run_dirs: Sequence[str | os.PathLike[str]], directory: Path,
                     *, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Write :data:`FILES` into an existing ``directory``; returns the table.

    Every run directory is read before anything is written.
    """
    summaries = [load_summary(d) for d in run_dirs]
    table = comparison_table(list(zip(labels or _run_labels(run_dirs), summaries, strict=True)))
    table.to_csv(directory / "comparison.csv", index=False)
    (directory / "comparison.md").write_text(comparison_markdown(table), encoding="utf-8")
    comparison_chart(table, directory / "comparison.png")
    return table


def compare_runs(run_dirs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                 *, overwrite: bool = False) -> Path:
    """Compare run directories into ``out_dir`` (comparison.csv, .md, .png).

    Parameters
    ----------
    run_dirs
        Directories written by ``netsim run`` (each with ``summary.json``).
    out_dir
        Output folder: new or empty, or a previous netsim output replaced with
        ``overwrite`` (:func:`netsim.atomic.output_directory`).

    Returns
    -------
    Path
        The output folder.

    Raises
    ------
    NetsimError
        No run directories, one that is not a run directory, or ``out_dir``
        that is (or holds) one of them.
    OutputError
        ``out_dir`` cannot or must not be written.
    """
    if not run_dirs:
        raise NetsimError("compare: no run directories given; e.g. netsim compare runs/* "
                          "--out comparison")
    for d in run_dirs:  # fail before touching the output
        load_summary(d)
    out = Path(out_dir).expanduser().absolute()
    for d in run_dirs:
        run = Path(d).expanduser().resolve()
        if out.resolve() == run or out.resolve() in run.parents:
            raise NetsimError(f"compare: --out {out_dir} would replace the run directory {d}; "
                              "choose another output folder")
    with output_directory(out, overwrite=overwrite) as work:
        write_comparison(run_dirs, work)
    return out
