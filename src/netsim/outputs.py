"""Write a run directory: the statement's tables, maps and fields of every network.

Layout (README "The run directory")::

    DIR/report.md, report.html (self-contained)  DIR/changes.png (scenario only)
    DIR/<network>/annual_by_area.csv, annual_by_station.csv   netsim stats format
    DIR/<network>/*_intervals.csv, map_and_truth.csv, network.csv, station_metrics.csv
    DIR/<network>/stations.gpkg, .geojson, districts.gpkg, .geojson   (netsim.gis)
    DIR/<network>/rasters/<pollutant>_annual_mean.tif, maps/<pollutant>_annual_mean.png
    DIR/scenario/held_out.csv (runs on real readings), rasters/<pollutant>_difference.tif,
    DIR/scenario/maps/<pollutant>_difference.png

DIR/summary.json, DIR/map.html (netsim.webmap)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from netsim.ensemble import NETWORK_NAMES, missing_text, published_text
from netsim.gis import write_gis
from netsim.grid import Grid
from netsim.i18n import picture_text, text
from netsim.network import Network
from netsim.pollutants import POLLUTANTS
from netsim.report import Figure, figure_caption, render_markdown, report_blocks
from netsim.report_html import write_html
from netsim.scenario import Scenario
from netsim.standards import limits
from netsim.summary import FieldMeans, mean_station_tables

if TYPE_CHECKING:
    from netsim.pictures import Pictures

__all__ = ["map_legends", "map_title", "write_maps", "write_reports", "write_run",
           "write_summary"]


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
    web_map: bool = False,
    pictures: Pictures | None = None,
    station_tables: Mapping[str, pd.DataFrame] | None = None,
    summary_file: bool = True,
) -> None:
    """Write every file of the run directory, ``summary.json`` included (``map.html``
    with ``web_map``; ``summary_file=False``: but ``summary.json``, which the caller
    writes once it has added to ``summary``).

    ``outcomes`` are the realisations' tables (their fields already folded into ``means``).
    The PNGs are drawn by worker processes (:class:`netsim.pictures.Pictures`) while the
    tables, GeoTIFFs and web map are written; the reports, which embed the PNGs, last.
    ``pictures``: a queue the caller opened and queued the maps to already
    (:func:`write_maps`, which needs no summary), so they are drawn while it summarised.
    ``station_tables``: :func:`netsim.summary.mean_station_tables` of every network, when
    the caller has them already.
    """
    from netsim.pictures import Pictures

    if station_tables is None:
        station_tables = {net: mean_station_tables(outcomes, net) for net in networks}
    if pictures is None:
        with Pictures() as own:
            if scenario.outputs.maps:
                write_maps(out, scenario, grid, networks, means, own)
            _write_files(out, scenario, grid, networks, outcomes, means, summary, own,
                         change_table, web_map, station_tables, summary_file)
    else:
        _write_files(out, scenario, grid, networks, outcomes, means, summary, pictures,
                     change_table, web_map, station_tables, summary_file)
        pictures.finish()
    write_reports(out, summary)


def _write_files(out: Path, scenario: Scenario, grid: Grid, networks: Mapping[str, Network],
                 outcomes: Sequence[Mapping[str, Any]], means: FieldMeans, summary: dict,
                 pictures: Pictures, change_table: pd.DataFrame | None, web_map: bool,
                 station_tables: Mapping[str, pd.DataFrame], summary_file: bool) -> None:
    """Everything but the maps and reports: the changes chart (queued ahead of the maps
    no worker has started), the networks' tables, rasters and GIS layers, the
    differences, ``summary.json`` (with ``summary_file``) and the web map."""
    stats = pd.DataFrame(summary["statistics"]).astype(
        {"mean": float, "p05": float, "p95": float})
    if "scenario" in networks:
        pictures.add_first("netsim.charts:changes_chart", summary, out / "changes.png",
                           lang=scenario.lang)
    for net, network in networks.items():
        _write_network_dir(out / net, net, scenario, grid, network, outcomes, means, stats,
                           station_tables[net], change_table, networks["baseline"])
    for net in networks:
        _write_time_resolved(out / net, net, scenario, grid, means)
        write_gis(out / net, net, summary)
    if "scenario" in networks and (scenario.outputs.rasters or scenario.outputs.web_map):
        _write_differences(out, scenario, grid, means)
    if summary_file:
        write_summary(out, summary)
    if web_map:
        from netsim.webmap import web_map_html

        (out / "map.html").write_text(web_map_html(out, summary=summary), encoding="utf-8")


def write_summary(out: Path, summary: Mapping[str, Any]) -> None:
    """``summary.json`` of the run directory ``out``."""
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _write_differences(out: Path, scenario: Scenario, grid: Grid, means: FieldMeans) -> None:
    """``scenario/rasters/<slug>_difference.tif``: scenario − baseline of the mean estimates."""
    from netsim.rasters import write_raster

    for p in scenario.pollutants:
        base, scen = (means.mean(n, p, "estimate") for n in NETWORK_NAMES)
        if scen is None or base is None:
            continue  # a network without a map of p: map_and_truth.csv says why
        write_raster(out / "scenario" / "rasters" / f"{POLLUTANTS[p].slug}_difference.tif", grid,
                     {"difference": grid.to_array(scen - base, dtype=np.float32)},
                     {"pollutant": p, "statistic": "annual_mean_difference",
                      "units": POLLUTANTS[p].units, "year": scenario.year,
                      "scenario": scenario.name})


def write_reports(out: Path, summary: Mapping[str, Any]) -> None:
    """``report.md`` and ``report.html`` of the run directory ``out`` (written last: they
    embed or link every PNG found there, ``changes.png`` first, the others by path).

    ``out`` is the scratch directory of :func:`netsim.atomic.output_directory`, so the
    reports appear with the rest of the run or not at all.
    """
    lang = summary.get("lang", "en")
    pngs = sorted((p.relative_to(out).as_posix() for p in out.rglob("*.png")
                   if not any(part.startswith(".") for part in p.relative_to(out).parts)),
                  key=lambda rel: (rel != "changes.png", rel))
    blocks = report_blocks(summary, [Figure(rel, figure_caption(rel, lang)) for rel in pngs])
    (out / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
    write_html(blocks, out, out / "report.html", lang)


def _write_network_dir(
    out: Path, net: str, scenario: Scenario, grid: Grid, network: Network,
    outcomes: Sequence[Mapping[str, Any]], means: FieldMeans, stats: pd.DataFrame,
    station_table: pd.DataFrame, change_table: pd.DataFrame | None, base: Network,
) -> None:
    """One network's directory: the statement's tables, map and truth, stations, fields
    (``station_table``: its :func:`netsim.summary.mean_station_tables`)."""
    out.mkdir(parents=True, exist_ok=True)
    _write_station_tables(out, station_table)
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
    """The ``reason`` column of the run's tables: :func:`missing_text` of every row (``""``
    at once where every realisation has the value, as for most rows)."""
    columns = (reduced[c].tolist() for c in ("n", "n_realisations", "reason"))
    return ["" if n >= total else
            missing_text({"n": n, "n_realisations": total, "reason": reason})
            for n, total, reason in zip(*columns, strict=True)]


def _write_station_tables(out: Path, reduced: pd.DataFrame) -> None:
    """``annual_by_station.csv`` (the ``netsim stats`` format, mean over realisations,
    empty value + reason where missing) and its 5th/95th-percentile intervals."""
    reason = _reason_column(reduced)
    pd.DataFrame({
        "station_id": reduced["station_id"], "pollutant": reduced["pollutant"],
        "statistic": reduced["statistic"],
        "value": [published_text(v, p) for v, p in zip(reduced["mean"], reduced["pollutant"],
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
        "value": [published_text(v, p) for v, p in zip(stations["mean"], stations["pollutant"],
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
    """The pollutant's mean fields as a GeoTIFF (nothing when never mapped)."""
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


def _write_time_resolved(out: Path, net: str, scenario: Scenario, grid: Grid,
                         means: FieldMeans) -> None:
    """Mean over the time-resolved realisations of the per-cell annual statistics."""
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




# ----------------------------------------------------------------------------
# PNG maps: baseline and scenario on one colour scale, and their difference
# ----------------------------------------------------------------------------


def _classes(scenario: Scenario, pollutant: str) -> str | list[float]:
    """``outputs.colour_classes`` of one pollutant (``continuous`` where none are given)."""
    setting = scenario.outputs.colour_classes
    if isinstance(setting, str):
        return setting
    return setting.get(pollutant, "continuous")


def map_title(pollutant: str, year: int, lang: str = "en") -> str:
    """"Spatial Distribution of PM2.5 Annual Average Concentration, 2020 (µg/m³)" in ``lang``."""
    stat = picture_text("annual_average_concentration", lang)
    return picture_text("map_title", lang, p=pollutant, stat=stat, year=year,
                        units=POLLUTANTS[pollutant].units)


def write_maps(out: Path, scenario: Scenario, grid: Grid, networks: Mapping[str, Network],
               means: FieldMeans, pictures: Pictures | None = None) -> list[Path]:
    """Every PNG map of a run; returns their paths.

    With ``pictures`` the maps are queued there (drawn when it finishes), else drawn
    before returning.

    Per pollutant: ``<network>/maps/<slug>_annual_mean.png`` of each network on one
    colour scale (and one scale for the kriging std panels) covering both networks'
    fields, and with a scenario ``scenario/maps/<slug>_difference.png`` (scenario −
    baseline, diverging, centred at zero); ``<network>/maps/aqi_days_meeting_standard.png``
    from the time-resolved maps.  Titles name the statistic, year, units, scenario and
    network, in ``scenario.lang``.
    """
    from netsim.colour_scales import shared_scale
    from netsim.pictures import Pictures

    if pictures is None:
        with Pictures() as own:
            return write_maps(out, scenario, grid, networks, means, own)
    lang, queued, differences = scenario.lang, {net: [] for net in networks}, []
    for p in scenario.pollutants:
        fields = {net: (means.mean(net, p, "estimate"), means.mean(net, p, "std"))
                  for net in networks}
        fields = {net: f for net, f in fields.items() if f[0] is not None}
        if not fields:
            continue  # never mapped: map_and_truth.csv says why
        limit = (limits(scenario.standard, 2).statistic_limit(p, "annual_mean")
                 if p not in ("CO", "O3") else None)
        scale = shared_scale([f[0] for f in fields.values()], limit, pollutant=p,
                             classes=_classes(scenario, p))
        std_scale = shared_scale([f[1] for f in fields.values()], None, cmap="viridis")
        slug, title = POLLUTANTS[p].slug, map_title(p, scenario.year, lang)
        for net, (estimate, std) in fields.items():
            queued[net].append(((grid, estimate, networks[net]), {
                "pollutant": p, "limit": limit, "std": std, "scale": scale,
                "std_scale": std_scale, "title": title, "subtitle": _subtitle(scenario, net),
                "path": out / net / "maps" / f"{slug}_annual_mean.png", "lang": lang}))
        if len(fields) == 2:
            differences.append((p, fields["scenario"][0] - fields["baseline"][0]))
    # a network's maps one after another: a drawing process keeps their stations and legend
    written = [_queue_map(pictures, *args, **kw) for maps in queued.values() for args, kw in maps]
    written += [_difference_map(pictures, out, scenario, grid, networks["scenario"], p, diff)
                for p, diff in differences]
    written += _aqi_days_maps(pictures, out, scenario, grid, networks, means)
    return written


def map_legends(scenario: Scenario, networks: Mapping[str, Network]) -> list[tuple[int, Any]]:
    """The (panels, stations) of the station legends :func:`write_maps` draws: each
    network's maps in two panels, the differences in one with the scenario's stations,
    the AQI days in one without stations (stations as frames of x, y and type)."""
    stations = {net: network.stations[["x", "y", "type"]] for net, network in networks.items()}
    legends: list[tuple[int, Any]] = [(2, frame) for frame in stations.values()]
    if "scenario" in stations:
        legends.append((1, stations["scenario"]))
    if scenario.outputs.time_resolved:
        legends.append((1, None))
    return legends


def _queue_map(pictures: Pictures, *args: Any, path: Path, **kwargs: Any) -> Path:
    """Queue :func:`netsim.maps.static_map` of ``path``; returns ``path``."""
    pictures.add("netsim.maps:static_map", *args, path=path, **kwargs)
    return path


def _subtitle(scenario: Scenario, net: str) -> str:
    return picture_text("map_subtitle", scenario.lang, scenario=scenario.name,
                        network=text(net, scenario.lang))


def _difference_map(pictures: Pictures, out: Path, scenario: Scenario, grid: Grid,
                    network: Network, p: str, diff: np.ndarray) -> Path:
    """``scenario/maps/<slug>_difference.png``: scenario − baseline of the mean estimates."""
    from netsim.colour_scales import difference_scale

    lang, units = scenario.lang, POLLUTANTS[p].units
    stat = picture_text("annual_average_concentration", lang)
    return _queue_map(
        pictures, grid, diff, network, pollutant=p, limit=None, scale=difference_scale(diff),
        colour_label=picture_text("difference_label", lang, p=p, units=units),
        title=picture_text("difference_title", lang, p=p, stat=stat, year=scenario.year,
                           units=units),
        subtitle=picture_text("difference_subtitle", lang, scenario=scenario.name),
        path=out / "scenario" / "maps" / f"{POLLUTANTS[p].slug}_difference.png", lang=lang)


def _aqi_days_maps(pictures: Pictures, out: Path, scenario: Scenario, grid: Grid,
                   networks: Mapping[str, Network], means: FieldMeans) -> list[Path]:
    """Days meeting the standard of the time-resolved maps, one scale for both networks."""
    from netsim.colour_scales import shared_scale

    lang, key = scenario.lang, "aqi_days_meeting_standard"
    days = {net: means.mean(net, "time_resolved", key) for net in networks
            if key in means.bands(net, "time_resolved")}
    if not days:
        return []
    scale = shared_scale(list(days.values()), None, pollutant="AQI", cmap="RdYlBu",
                         classes="statement" if scenario.outputs.colour_classes == "statement"
                         else "continuous")
    written = []
    for net, field in days.items():
        n = means.count(net, "time_resolved")
        subtitle = (f"{_subtitle(scenario, net)} · "
                    f"{picture_text('single_realisation', lang, n=n)}")
        written.append(_queue_map(
            pictures, grid, field, None, pollutant="AQI", limit=None, units=text("days", lang),
            scale=scale, colour_label=picture_text("aqi_days_label", lang),
            title=picture_text("aqi_days_title", lang, year=scenario.year), subtitle=subtitle,
            path=out / net / "maps" / f"{key}.png", lang=lang))
    return written
