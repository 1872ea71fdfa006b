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
6. the headline statistics with their intervals;
7. the run directory's maps and charts (its PNGs).

The report is a list of blocks (:class:`Heading`, :class:`Paragraph`, :class:`Bullets`,
:class:`Table`, :class:`Figure`) built once by :func:`report_blocks`; ``report.md``
(:func:`render_markdown`) and ``report.html`` (:func:`netsim.report_html.render_html`) render
the same blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from netsim.ensemble import interval_text, units
from netsim.i18n import area_name, statistic_name, text, translate_reason

__all__ = [
    "Block",
    "Bullets",
    "Figure",
    "Heading",
    "Paragraph",
    "Span",
    "Table",
    "figure_caption",
    "render_markdown",
    "report_blocks",
    "report_markdown",
]

_FLAGS = {"moves": "⚑", "lost": "✗", "gained": "✓", "": ""}


# --------------------------------------------------------------------------- content model
@dataclass(frozen=True)
class Span:
    """A run of inline text with a style: plain, ``code`` (a file or path), ``em``, ``strong``."""

    text: str
    style: Literal["", "code", "em", "strong"] = ""


Inline = str | tuple[str | Span, ...]
"""Inline text: a plain string or a sequence of plain strings and styled spans."""


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: Inline


@dataclass(frozen=True)
class Bullets:
    items: tuple[Inline, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    """A PNG of the run directory: ``path`` relative to it (POSIX), and its caption."""

    path: str
    caption: str


Block = Heading | Paragraph | Bullets | Table | Figure
"""One block of the report; :func:`render_markdown` and :func:`netsim.report_html.render_html`
render the same list of blocks."""


def _spans(inline: Inline) -> tuple[str | Span, ...]:
    return (inline,) if isinstance(inline, str) else inline


def _md_inline(inline: Inline) -> str:
    marks = {"": "", "code": "`", "em": "*", "strong": "**"}
    return "".join(p if isinstance(p, str) else f"{marks[p.style]}{p.text}{marks[p.style]}"
                   for p in _spans(inline))


def _md_table(table: Table) -> list[str]:
    """A Markdown table (pipes in cells escaped)."""
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [row(table.header), "|" + "---|" * len(table.header), *(row(r) for r in table.rows)]


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [f"{'#' * block.level} {block.text}"]
    if isinstance(block, Paragraph):
        return [_md_inline(block.text)]
    if isinstance(block, Bullets):
        return [f"- {_md_inline(item)}" for item in block.items]
    if isinstance(block, Table):
        return _md_table(block)
    return [f"![{block.caption}]({block.path})"]


def render_markdown(blocks: Sequence[Block]) -> str:
    """``report.md``: the blocks separated by blank lines."""
    lines: list[str] = []
    for block in blocks:
        lines += [*_md_block(block), ""]
    return "\n".join(lines)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    return Table(tuple(header), tuple(tuple(str(c) for c in r) for r in rows))


def _with_code(key: str, lang: str, code_field: str, code: str, **fields: object) -> Inline:
    """Phrase ``key`` with the field ``code_field`` rendered as code (a path)."""
    marker = "\x00"
    head, _, tail = text(key, lang, **{code_field: marker}, **fields).partition(marker)
    return (head, Span(code, "code"), tail)


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


def _published_section(summary: Mapping[str, Any], lang: str) -> list[Block]:
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
    city = [e for e in entries if e["area"] == "city"]
    blocks: list[Block] = [
        Heading(2, text("section_published", lang)), Paragraph(note),
        Heading(3, text("section_city", lang)),
        _table([text("statistic", lang), text("units", lang), *head],
               _published_rows(city, nets, lang, real, first="statistic"))]
    for p in dict.fromkeys(e["pollutant"] for e in entries if e["area"] != "city"):
        rows = [e for e in entries if e["area"] != "city" and e["pollutant"] == p]
        blocks += [Heading(3, f"{text('section_areas', lang, pollutant=p)} ({units(p)})"),
                   _table([text("area", lang), *head],
                          _published_rows(rows, nets, lang, real, first="area"))]
    return blocks


def _lost_section(summary: Mapping[str, Any], lang: str) -> list[Block]:
    """Figures that stop being valid, with the stations that lost validity and why."""
    lost = [e for e in summary.get("published") or [] if e.get("flag") == "lost"]
    if not lost:
        return []
    items = []
    for e in lost:
        what = (f"{area_name(e['area'], lang)}: {e['pollutant']} "
                f"{statistic_name(e['statistic'], lang)}")
        why = _missing(e["scenario"], lang)
        stations = e.get("stations_not_valid") or []
        items.append(f"{what}: {why}" + (f" — {'; '.join(stations)}" if stations else ""))
    return [Heading(2, text("section_lost", lang)), Bullets(tuple(items))]


def _networks_section(summary: Mapping[str, Any], lang: str) -> list[Block]:
    rows = [[text(n, lang), str(info["n_stations"]),
             ", ".join(f"{t} {c}" for t, c in info["by_type"].items())]
            for n, info in summary["networks"].items()]
    blocks: list[Block] = [
        Heading(2, text("section_networks", lang)),
        _table([text("section_networks", lang), text("stations", lang), text("by_type", lang)],
               rows)]
    if summary.get("changes_described"):
        blocks += [Heading(2, text("section_changes", lang)),
                   Bullets(tuple(summary["changes_described"]))]
    return blocks


_SOURCES_NOTE: Inline = (
    "Sources: ", Span("stations", "em"), " = the statement's method (HJ 663 from station "
    "readings); ", Span("map", "em"), " = area mean of the kriged annual map; ",
    Span("truth", "em"), " = the synthetic truth; RMSE/coverage90 compare the map with the truth "
    "cell by cell (coverage90 = share of cells inside the 90% kriging interval, ideal 0.90); "
    "leave-one-out = each map station predicted from the others.")


def _headline_section(summary: Mapping[str, Any], lang: str) -> list[Block]:
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
    blocks: list[Block] = [Heading(2, text("section_headline", lang)), _table(header, rows),
                           Paragraph(_SOURCES_NOTE)]
    if skewed:
        blocks.append(Paragraph(
            "† The mean lies outside its 90% interval: the realisations are skewed "
            "(a few far from the rest), so read the interval, not the mean."))
    return blocks


def _optimisation_section(summary: Mapping[str, Any], lang: str) -> list[Block]:
    opt = summary.get("optimisation")
    if not opt:
        return []
    rows = [[str(s["step"]), s["station_id"], f"{s['lon']:.3f}", f"{s['lat']:.3f}",
             area_name(s["district"], lang), f"{s['objective']:.3f}", f"{s['gain']:.3f}"]
            for s in opt["sites"]]
    return [Heading(2, text("section_optimisation", lang)),
            Paragraph(f"Objective: {opt['objective']} ({opt['pollutant']}), "
                      f"{len(opt['sites'])} sites chosen greedily."),
            _table(["step", "id", "lon", "lat", "district", "objective after", "gain"], rows)]


def _intro(summary: Mapping[str, Any], lang: str) -> list[Block]:
    blocks: list[Block] = [Heading(1, text("run_title", lang, name=summary["scenario"]))]
    if summary.get("description"):
        blocks.append(Paragraph(summary["description"].strip()))
    warnings: list[Inline] = list(summary.get("warnings") or [])
    if _is_real(summary):
        data = summary["data"]
        warnings.insert(0, _with_code("real_readings", lang, "path", str(data["path"]),
                                      year=summary["year"]))
    if (summary.get("data") or {}).get("kind") == "conditioned truth":
        data = summary["data"]
        blocks.append(Paragraph(_with_code("conditioned_truth", lang, "path", str(data["path"]),
                                           year=data["year"])))
    if warnings:
        blocks += [Paragraph((Span(text("section_warnings", lang), "strong"),)),
                   Bullets(tuple(warnings))]
    settings = text("settings_real" if _is_real(summary) else "settings", lang,
                    year=summary["year"], standard=summary["standard"],
                    city_rule=summary["city_rule"], res=summary["grid_resolution_m"],
                    n=summary["realisations"], seed=summary["seed"])
    return [*blocks, Paragraph(settings)]


def figure_caption(path: str, lang: str = "en") -> str:
    """A readable caption of a run directory's PNG from its path (``baseline/maps/
    pm25_annual_mean.png`` → "baseline: PM2.5 annual mean"); unknown names keep their stem."""
    from netsim.pollutants import POLLUTANTS

    parts = PurePosixPath(path)
    if parts.name == "changes.png":
        return text("caption_changes", lang)
    slugs = {p.slug: p.name for p in POLLUTANTS.values()} | {"aqi": "AQI"}
    words = parts.stem.split("_")
    names = [slugs[w] for w in words if w in slugs]
    rest = "_".join(w for w in words if w not in slugs)
    what = statistic_name(rest, lang) if rest else ""
    label = " ".join(n for n in (*names, what) if n) if lang != "zh" else "".join(
        (*names, what))
    top = parts.parts[0] if len(parts.parts) > 1 else ""
    owner = text(top, lang) if top in ("baseline", "scenario") else top
    return f"{owner}{'：' if lang == 'zh' else ': '}{label}" if owner else label


def _realism_section(summary: Mapping[str, Any]) -> list[Block]:
    """"map error realism: simulated LOO x % vs real y %" per pollutant (netsim.realism)."""
    realism = (summary.get("data") or {}).get("map_error_realism") or []
    return [Bullets(tuple(realism))] if realism else []


def _figures_section(figures: Sequence[Figure], lang: str) -> list[Block]:
    others = [f for f in figures if f.path != "changes.png"]
    if not others:
        return []
    return [Heading(2, text("section_figures", lang)), *others]


def _files_note(lang: str) -> Paragraph:
    files = ("<network>/annual_by_area.csv", "annual_by_station.csv")
    more = ("*_intervals.csv", "map_and_truth.csv", "station_metrics.csv", "network.csv",
            "rasters/*.tif", "maps/*.png")
    parts: list[str | Span] = [f"{text('file_list', lang)}: "]
    for i, name in enumerate(files):
        parts += [Span(name, "code"), ", " if i == 0 else " "]
    parts.append("(netsim stats format, mean over realisations), ")
    for name in more:
        parts += [Span(name, "code"), ", "]
    parts[-1] = "; "
    parts += [Span("summary.json", "code"), "; ", Span("map.html", "code"), "."]
    return Paragraph(tuple(parts))


def report_blocks(summary: Mapping[str, Any], figures: Sequence[Figure] = ()) -> list[Block]:
    """The run's report as blocks, in ``summary["lang"]`` (see the module docstring).

    ``figures`` are the run directory's PNGs: ``changes.png`` goes under the verdicts,
    the others into a section of maps and charts before the list of files.
    """
    lang = summary.get("lang", "en")
    real = _is_real(summary)
    blocks = _intro(summary, lang) + _networks_section(summary, lang)
    if summary.get("verdicts"):
        blocks += [Heading(2, text("section_verdict", lang)),
                   Bullets(tuple(summary["verdicts"]))]
    blocks += [f for f in figures if f.path == "changes.png"]
    blocks += _published_section(summary, lang) + _lost_section(summary, lang)
    if summary.get("findings"):
        title = text("section_map_error" if real else "section_truth", lang)
        blocks += [Heading(2, title), Bullets(tuple(summary["findings"]))]
    blocks += _headline_section(summary, lang) + _optimisation_section(summary, lang)
    blocks += _realism_section(summary)
    return [*blocks, *_figures_section(figures, lang), _files_note(lang)]


def report_markdown(summary: Mapping[str, Any], figures: Sequence[Figure] = ()) -> str:
    """The run's ``report.md`` in ``summary["lang"]`` (see the module docstring)."""
    return render_markdown(report_blocks(summary, figures))
