"""``report.md``: a run's answer at a glance, built around the figures the statement publishes.

The report reads, in the run's language (``lang``, :mod:`netsim.i18n`):

1. warnings first (too few realisations for stable intervals; real readings);
2. the networks and the scenario's changes in plain words;
3. the verdicts (:mod:`netsim.verdicts`) and the changes chart;
4. the published figures — the city's six statistics and day counts, then every
   district's and station group's annual means — as the statement would print them
   (GB/T 8170), baseline → scenario → change, flagged where the published value
   changes (⚑) or stops being valid (✗, with the stations that lost validity and why);
5. how far each map is from the truth (or, on real readings, from the stations);
6. the headline statistics with their intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from netsim.ensemble import interval_text, units
from netsim.i18n import area_name, statistic_name, text, translate_reason

__all__ = ["report_markdown"]

_FLAGS = {"moves": "⚑", "lost": "✗", "gained": "✓", "": ""}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table (pipes in cells escaped)."""
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [row(header), "|" + "---|" * len(header), *(row(r) for r in rows)]


def _is_real(summary: Mapping[str, Any]) -> bool:
    return (summary.get("data") or {}).get("kind") == "real readings"


def _missing(entry: Mapping[str, Any], lang: str) -> str:
    """A missing figure's text: ``not valid (…)`` translated when the run is in Chinese."""
    gap = entry.get("missing") or "not computed"
    if lang != "zh":
        return gap
    head, _, rest = gap.partition(" (")
    kind = "not valid" if head.startswith("not valid") else "not computed"
    return translate_reason(f"{kind}: {rest[:-1]}" if rest else kind, lang)


def _published_cell(entry: Mapping[str, Any], lang: str, real: bool) -> str:
    """``"36 [35.2, 36.9]"`` (published value, interval of the unrounded figure)."""
    if entry.get("mean") is None:
        return _missing(entry, lang)
    if real:
        return entry["published"]
    cell = f"{entry['published']} [{entry['p05']:.1f}, {entry['p95']:.1f}]"
    return cell + (f" ({_missing(entry, lang)})" if entry.get("missing") else "")


def _change_cell(entry: Mapping[str, Any], real: bool) -> str:
    diff = entry.get("difference")
    if not diff or diff.get("mean") is None:
        return "–"
    return interval_text(diff, digits=1, signed=True, point=real)


def _figure_name(pollutant: str, statistic: str, lang: str) -> str:
    """``"PM2.5 annual mean"`` / ``"PM2.5年均浓度"``; day counts without the ``AQI``."""
    name = statistic_name(statistic, lang)
    if pollutant == "AQI":
        return name
    return f"{pollutant}{name}" if lang == "zh" else f"{pollutant} {name}"


def _units(pollutant: str, lang: str) -> str:
    u = units(pollutant)
    return text("days", lang) if u == "days" else u


def _published_rows(entries: Sequence[Mapping[str, Any]], nets: Sequence[str], lang: str,
                    real: bool, *, first: str) -> list[list[str]]:
    rows = []
    for e in entries:
        label = (_figure_name(e["pollutant"], e["statistic"], lang) if first == "statistic"
                 else area_name(e["area"], lang))
        cells = [label] + ([_units(e["pollutant"], lang)] if first == "statistic" else [])
        cells += [_published_cell(e[n], lang, real) for n in nets]
        if "scenario" in nets:
            cells += [_change_cell(e, real), _FLAGS[e.get("flag", "")]]
        rows.append(cells)
    return rows


def _published_section(summary: Mapping[str, Any], lang: str) -> list[str]:
    """The city table and one table per pollutant of the districts and station groups."""
    entries = summary.get("published") or []
    if not entries:
        return []
    nets = list(summary["networks"])
    real = _is_real(summary)
    head = [text(n, lang) for n in nets] + (
        [text("change", lang), ""] if "scenario" in nets else [])
    note = (text("real_note", lang) if real
            else text("interval_note", lang, n=summary["realisations"]))
    lines = ["", f"## {text('section_published', lang)}", "", note, "",
             f"### {text('section_city', lang)}", ""]
    city = [e for e in entries if e["area"] == "city"]
    lines += _table([text("statistic", lang), text("units", lang), *head],
                    _published_rows(city, nets, lang, real, first="statistic"))
    for p in dict.fromkeys(e["pollutant"] for e in entries if e["area"] != "city"):
        rows = [e for e in entries if e["area"] != "city" and e["pollutant"] == p]
        lines += ["", f"### {text('section_areas', lang, pollutant=p)} ({units(p)})", ""]
        lines += _table([text("area", lang), *head],
                        _published_rows(rows, nets, lang, real, first="area"))
    return lines


def _lost_section(summary: Mapping[str, Any], lang: str) -> list[str]:
    """Figures that stop being valid, with the stations that lost validity and why."""
    lost = [e for e in summary.get("published") or [] if e.get("flag") == "lost"]
    if not lost:
        return []
    lines = ["", f"## {text('section_lost', lang)}", ""]
    for e in lost:
        what = (f"{area_name(e['area'], lang)}: {e['pollutant']} "
                f"{statistic_name(e['statistic'], lang)}")
        why = _missing(e["scenario"], lang)
        stations = e.get("stations_not_valid") or []
        lines.append(f"- {what}: {why}" + (f" — {'; '.join(stations)}" if stations else ""))
    return lines


def _networks_section(summary: Mapping[str, Any], lang: str) -> list[str]:
    rows = [[text(n, lang), str(info["n_stations"]),
             ", ".join(f"{t} {c}" for t, c in info["by_type"].items())]
            for n, info in summary["networks"].items()]
    lines = ["", f"## {text('section_networks', lang)}", ""]
    lines += _table([text("section_networks", lang), text("stations", lang),
                     text("by_type", lang)], rows)
    if summary.get("changes_described"):
        lines += ["", f"## {text('section_changes', lang)}", ""]
        lines += [f"- {c}" for c in summary["changes_described"]]
    return lines


def _headline_section(summary: Mapping[str, Any], lang: str) -> list[str]:
    nets = list(summary["networks"])
    real = _is_real(summary)
    header = [text("statistic", lang), text("units", lang), *(text(n, lang) for n in nets)]
    if "scenario" in nets:
        header.append(f"{text('scenario', lang)} − {text('baseline', lang)}")
    rows, skewed = [], False
    for h in summary["headline"]:
        cells = [h["label"], h["units"]]
        cells += [interval_text(h.get(n), point=real) for n in nets]
        if "scenario" in nets:
            cells.append(interval_text(h.get("difference"), signed=True, point=real))
        skewed |= any(c.endswith("†") for c in cells)
        rows.append(cells)
    lines = ["", f"## {text('section_headline', lang)}", "", *_table(header, rows), "",
             "Sources: *stations* = the statement's method (HJ 663 from station readings); "
             "*map* = area mean of the kriged annual map; *truth* = the synthetic truth; "
             "RMSE/coverage90 compare the map with the truth cell by cell "
             "(coverage90 = share of cells inside the 90% kriging interval, ideal 0.90); "
             "leave-one-out = each map station predicted from the others."]
    if skewed:
        lines += ["", "† The mean lies outside its 90% interval: the realisations are skewed "
                  "(a few far from the rest), so read the interval, not the mean."]
    return lines


def _optimisation_section(summary: Mapping[str, Any], lang: str) -> list[str]:
    opt = summary.get("optimisation")
    if not opt:
        return []
    rows = [[str(s["step"]), s["station_id"], f"{s['lon']:.3f}", f"{s['lat']:.3f}",
             area_name(s["district"], lang), f"{s['objective']:.3f}", f"{s['gain']:.3f}"]
            for s in opt["sites"]]
    return ["", f"## {text('section_optimisation', lang)}", "",
            f"Objective: {opt['objective']} ({opt['pollutant']}), {len(opt['sites'])} sites "
            "chosen greedily.", "",
            *_table(["step", "id", "lon", "lat", "district", "objective after", "gain"], rows)]


def _intro(summary: Mapping[str, Any], lang: str) -> list[str]:
    lines = [f"# {text('run_title', lang, name=summary['scenario'])}", ""]
    if summary.get("description"):
        lines += [summary["description"].strip(), ""]
    warnings = list(summary.get("warnings") or [])
    if _is_real(summary):
        data = summary["data"]
        warnings.insert(0, text("real_readings", lang, path=f"`{data['path']}`",
                                year=summary["year"]))
    if (summary.get("data") or {}).get("kind") == "conditioned truth":
        data = summary["data"]
        lines += [text("conditioned_truth", lang, path=f"`{data['path']}`", year=data["year"]),
                  ""]
    if warnings:
        lines += [f"**{text('section_warnings', lang)}**", ""]
        lines += [f"- {w}" for w in warnings] + [""]
    return [*lines, text("settings_real" if _is_real(summary) else "settings", lang,
                         year=summary["year"], standard=summary["standard"],
                         city_rule=summary["city_rule"], res=summary["grid_resolution_m"],
                         n=summary["realisations"], seed=summary["seed"])]


def _realism_lines(summary: Mapping[str, Any]) -> list[str]:
    """"map error realism: simulated LOO x % vs real y %" per pollutant (netsim.realism)."""
    realism = summary.get("data", {}).get("map_error_realism") or []
    return ["", *[f"- {line}" for line in realism]] if realism else []


def report_markdown(summary: Mapping[str, Any], has_chart: bool) -> str:
    """The run's ``report.md`` in ``summary["lang"]`` (see the module docstring)."""
    lang = summary.get("lang", "en")
    real = _is_real(summary)
    lines = _intro(summary, lang) + _networks_section(summary, lang)
    if summary.get("verdicts"):
        lines += ["", f"## {text('section_verdict', lang)}", ""]
        lines += [f"- {v}" for v in summary["verdicts"]]
    if has_chart:
        lines += ["", "![scenario minus baseline](changes.png)"]
    lines += _published_section(summary, lang) + _lost_section(summary, lang)
    if summary.get("findings"):
        title = text("section_map_error" if real else "section_truth", lang)
        lines += ["", f"## {title}", ""] + [f"- {f}" for f in summary["findings"]]
    lines += _headline_section(summary, lang) + _optimisation_section(summary, lang)
    lines += _realism_lines(summary)
    lines += ["", f"{text('file_list', lang)}: `<network>/annual_by_area.csv`, "
              "`annual_by_station.csv` (netsim stats format, mean over realisations), "
              "`*_intervals.csv`, `map_and_truth.csv`, `station_metrics.csv`, `network.csv`, "
              "`rasters/*.tif`, `maps/*.png`; `summary.json`; `map.html`.", ""]
    return "\n".join(lines)
