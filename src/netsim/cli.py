"""The ``netsim`` command line: parse, call one library function, print.

Every failure ends in one line on stderr, never a traceback.  Exit status:

* 2: a :class:`netsim.errors.NetsimError` (bad input; an output netsim must
  not or cannot write) or a usage mistake (unknown option or command, missing
  option), with click's own message;
* 1: another OS error, or an unexpected internal error (``NETSIM_TRACEBACK=1``
  shows its traceback);
* 130: Ctrl-C (``interrupted``); 143: SIGTERM (``terminated``).

Outputs (``--out``) follow :mod:`netsim.atomic`: a missing or empty folder
is written, a previous netsim output is replaced only with ``--overwrite``,
anything else is refused.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.text import Text

from netsim import __version__
from netsim.errors import NetsimError

app = typer.Typer(
    name="netsim",
    help="Simulate changes to Beijing's air-quality monitoring network: kriged maps, "
    "GB 3095 / HJ 663 / HJ 633 statistics and scenario runs against a synthetic truth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

OverwriteOption = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace a previous netsim output at --out. Never replaces a folder or file "
        "netsim did not write.",
    ),
]


def _progress(*columns: Any, transient: bool) -> Progress:
    """A rich progress display on stderr, drawn only on a terminal (logs get no bar lines)."""
    return Progress(*columns, console=err_console, transient=transient,
                    disable=not err_console.is_terminal)


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"netsim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True,
                     help="Show the version."),
    ] = False,
) -> None:
    """netsim: monitoring-network simulator."""


# --- command: krige ---
@app.command("krige")
def krige_command(
    stations: Annotated[str, typer.Option("--stations", help="Network file (CSV/GeoJSON/GPKG).")],
    values: Annotated[
        str,
        typer.Option(
            "--values",
            help="CSV 'station_id,value', or netsim stats' annual_by_station.csv with --statistic.",
        ),
    ],
    pollutant: Annotated[str, typer.Option("--pollutant", help="PM2.5, PM10, NO2, SO2, O3, CO.")],
    out: Annotated[str, typer.Option("--out", help="GeoTIFF to write (e.g. pm25.tif).")],
    resolution: Annotated[
        float, typer.Option("--resolution", help="Grid resolution in metres (100-50000).")
    ] = 1000.0,
    variogram: Annotated[
        str, typer.Option("--variogram", help="'auto' (fit) or a variogram JSON/YAML file.")
    ] = "auto",
    model: Annotated[
        str, typer.Option("--model", help="Model fitted by --variogram auto.")
    ] = "spherical",
    statistic: Annotated[
        str, typer.Option("--statistic", help="Statistic of the values (tags; stats files).")
    ] = "annual_mean",
    year: Annotated[int | None, typer.Option("--year", help="Year recorded in the tags.")] = None,
    neighbours: Annotated[
        int | None, typer.Option("--neighbours", help="Local kriging with k nearest stations.")
    ] = None,
    no_map: Annotated[bool, typer.Option("--no-map", help="Do not write the PNG.")] = False,
    overwrite: OverwriteOption = False,
    include_traffic: Annotated[
        bool,
        typer.Option(
            "--include-traffic",
            help="Krige traffic stations too (left out by default, as netsim run leaves them "
            "out of its maps).",
        ),
    ] = False,
) -> None:
    """Krige station values to a GeoTIFF, <stem>_districts.csv and a PNG (netsim.mapping).

    Traffic stations are left out unless --include-traffic; an auto variogram is fitted
    as netsim run fits it (range at most 2 x the network extent). Doubts about the fit
    (fewer than 10 stations, a range at its bound, a leave-one-out MSDR outside
    [0.5, 2]) are printed as 'warning:' lines on stderr. Values must be finite and >= 0.
    """
    from netsim.mapping import krige_to_raster, read_station_values
    from netsim.network import Network
    from netsim.pollutants import pollutant as lookup

    try:
        name = lookup(pollutant).name
    except KeyError as exc:
        raise NetsimError(f"--pollutant: {exc.args[0]}") from exc
    network = Network.from_file(stations)
    series = read_station_values(values, network.ids, pollutant=name, statistic=statistic)
    result = krige_to_raster(
        network,
        series,
        pollutant=name,
        out=out,
        resolution_m=resolution,
        variogram=variogram,
        model=model,
        statistic=statistic,
        year=year,
        n_neighbours=neighbours,
        write_map=not no_map,
        values_source=str(values),
        overwrite=overwrite,
        include_traffic=include_traffic,
    )
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    vg = result.variogram
    source = "fitted" if result.fit is not None else "from file"
    console.print(
        f"variogram ({source}): {vg.model}, partial sill {vg.psill:.4g}, "
        f"range {vg.range / 1000:.1f} km, nugget {vg.nugget:.4g}",
        highlight=False,
        soft_wrap=True,
    )
    cv = result.cross_validation
    console.print(
        f"cross-validation (leave one out, {cv.residuals.size} stations): ME {cv.me:.3g}, "
        f"RMSE {cv.rmse:.3g}, MSDR {cv.msdr:.3g}",
        highlight=False,
        soft_wrap=True,
    )
    if result.left_out:
        console.print(
            f"left out (no value): {', '.join(result.left_out)}", highlight=False, soft_wrap=True
        )
    if result.excluded:
        console.print(
            f"left out (traffic; --include-traffic keeps them): {', '.join(result.excluded)}",
            highlight=False,
            soft_wrap=True,
        )
    city = result.area_statistics.set_index("area").loc["city"]
    line = f"city mean {city['mean']:.1f}"
    if result.territory is not None:
        n, share = result.territory
        line += f"; {n} districts meet {result.limit:g} ({share:.0%} of the territory)"
    console.print(line, highlight=False, soft_wrap=True)
    written = [str(result.raster_path), str(result.districts_path)]
    if result.map_path is not None:
        written.append(str(result.map_path))
    console.print("wrote " + ", ".join(written), highlight=False, soft_wrap=True)


# --- end command: krige ---
# --- command: stats ---
HourLabelOption = Annotated[
    str | None,
    typer.Option("--hour-label", help="Times label the hour's 'start' or 'end' (default: the "
                 "layout's own: long and UCI start, national end)."),
]
UnitsOption = Annotated[
    list[str] | None,
    typer.Option("--units", help="Units of values the files do not state, per pollutant: "
                 "CO=ug/m3 (repeat or comma-separate; ug/m3 or mg/m3)."),
]
OnInvalidOption = Annotated[
    str, typer.Option("--on-invalid", help="Invalid readings rows: 'raise' (default) or 'drop'.")
]
FormatOption = Annotated[
    str,
    typer.Option("--format", help="Readings layout: auto (from the header), long, uci, national."),
]
EncodingOption = Annotated[
    str, typer.Option("--encoding", help="CSV text: auto (UTF-8 or GB18030), utf-8, gb18030.")
]
NoBoundaryCheckOption = Annotated[
    bool, typer.Option("--no-boundary-check", help="Accept stations outside Beijing.")
]


def _share(share: float) -> str:
    """A missing share as a percentage; never 0.0 % or 100.0 % unless exactly so."""
    near_edge = 0 < share < 0.001 or 0.999 < share < 1
    return f"{share:.3%}" if near_edge else f"{share:.1%}"


def _print_readings(data: Any, network: Any) -> None:
    """How the readings were read: files, conversions, names matched, stations absent."""
    for note in data.notes:
        console.print(f"read: {note}", highlight=False, soft_wrap=True)
    cover = data.coverage()
    names = ", ".join(f"{k} -> {v}" for k, v in list(data.matched.items())[:12])
    more = f", … ({len(data.matched)} names)" if len(data.matched) > 12 else ""
    console.print(f"stations: {len(cover.stations)} of {len(network)} in the readings"
                  + (f" (names matched: {names}{more})" if names else ""),
                  highlight=False, soft_wrap=True)
    missing = ", ".join(f"{p} {_share(share)}" for p, share in cover.missing.items())
    console.print(f"{data.year}: {cover.hours} hours; missing over those stations: {missing}",
                  highlight=False, soft_wrap=True)


@app.command("stats")
def stats_command(
    stations: Annotated[str, typer.Option("--stations", help="Network file (CSV/GeoJSON/GPKG).")],
    readings: Annotated[
        list[str],
        typer.Option("--readings", help="Hourly readings: a file or folder in any layout "
                     "(long, UCI per-site, national wide; .csv, .csv.gz/.xz/.bz2, .zip, "
                     ".parquet); repeat for several."),
    ],
    year: Annotated[int, typer.Option("--year", help="Calendar year (Beijing time).")],
    out: Annotated[str, typer.Option("--out", help="Output directory (written atomically).")],
    standard: Annotated[
        str, typer.Option("--standard", help="gb3095-2012 | gb3095-2026 | gb3095-2026-phase1")
    ] = "gb3095-2012",
    hour_label: HourLabelOption = None,
    city_rule: Annotated[
        str,
        typer.Option(
            "--city-rule", help="'urban' (default), 'central12' or comma-separated station ids."
        ),
    ] = "urban",
    monthly_rule: Annotated[
        str,
        typer.Option("--monthly-rule", help="HJ 663 annual validity: 'keep' (default; >= 27 "
                     "valid days every month, 25 in February) or 'relax' (only >= 324 days)."),
    ] = "keep",
    units: UnitsOption = None,
    on_invalid: OnInvalidOption = "raise",
    layout: FormatOption = "auto",
    encoding: EncodingOption = "auto",
    no_boundary_check: NoBoundaryCheckOption = False,
    overwrite: OverwriteOption = False,
) -> None:
    """Annual GB 3095 / HJ 663 statistics and HJ 633 AQI days of a network (netsim.stats)."""
    import warnings

    from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

    from netsim.atomic import check_output_directory

    check_output_directory(out, overwrite=overwrite)
    from netsim.network import Network
    from netsim.readings import ReadingsWarning, load_readings
    from netsim.standards import AnnualRule
    from netsim.stats import compute_statistics, value_text, write_statistics

    if monthly_rule not in ("keep", "relax"):
        raise NetsimError(f"--monthly-rule {monthly_rule!r}: expected 'keep' or 'relax'")
    rule = AnnualRule() if monthly_rule == "keep" else AnnualRule(min_days_per_month=None)
    network = Network.from_file(stations, check_boundary=not no_boundary_check)
    sources = readings[0] if len(readings) == 1 else readings
    with _progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"reading {', '.join(readings)}", total=None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ReadingsWarning)
            data = load_readings(sources, network, year, hour_label=hour_label,
                                 on_invalid=on_invalid, units=units, layout=layout,
                                 encoding=encoding)
        bar.update(task, total=1, completed=1)
        task = bar.add_task("computing statistics", total=len(data.values) + 1)
        result = compute_statistics(
            data,
            network,
            standard=standard,
            city_rule=city_rule,
            annual_rule=rule,
            progress=lambda _label: bar.advance(task),
        )
        bar.add_task(f"writing {out}", total=None)
        path = write_statistics(result, out, overwrite=overwrite)
    for w in caught:
        err_console.print(Text.assemble(("warning:", "yellow"), f" {w.message}"),
                          highlight=False, soft_wrap=True)
    _print_readings(data, network)
    valid = result.area_value("city", "AQI", "valid_days")
    days = (f"{result.area_value('city', 'AQI', 'days_meeting_standard'):.0f}/{valid:.0f} days "
            "meeting the standard" if valid > 0 else "days meeting the standard "
            + value_text(result, "city", "AQI", "days_meeting_standard"))
    console.print(
        f"wrote {path}/ (annual_by_station.csv, annual_by_area.csv, daily_aqi.csv, summary.md); "
        f"city PM2.5 {value_text(result, 'city', 'PM2.5', 'annual_mean')}, {days} "
        f"({len(result.city_ids)} city stations)",
        highlight=False, soft_wrap=True,
    )


@app.command("readings")
def readings_command(
    sources: Annotated[
        list[str],
        typer.Argument(help="Readings files or folders in any layout (long, UCI per-site, "
                       "national wide; .csv, .csv.gz/.xz/.bz2, .zip, .parquet)."),
    ],
    stations: Annotated[str, typer.Option("--stations", help="Network file (CSV/GeoJSON/GPKG).")],
    out: Annotated[str, typer.Option("--out", help="Long-format .parquet to write (atomically).")],
    year: Annotated[
        list[int] | None,
        typer.Option("--year", help="Year(s) to keep (repeat; default every year in the files)."),
    ] = None,
    hour_label: HourLabelOption = None,
    units: UnitsOption = None,
    on_invalid: OnInvalidOption = "raise",
    layout: FormatOption = "auto",
    encoding: EncodingOption = "auto",
    no_boundary_check: NoBoundaryCheckOption = False,
) -> None:
    """Normalise readings files into netsim's long Parquet (netsim.readings.convert_readings).

    Station names become network ids, values netsim's units (µg/m³, CO mg/m³), times
    hour-beginning Beijing time; prints the stations matched, hours and missing shares.
    """
    import warnings

    from netsim.network import Network
    from netsim.readings import ReadingsWarning, convert_readings

    network = Network.from_file(stations, check_boundary=not no_boundary_check)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReadingsWarning)
        done = convert_readings(sources[0] if len(sources) == 1 else sources, network, out,
                                years=year, hour_label=hour_label, on_invalid=on_invalid,
                                units=units, layout=layout, encoding=encoding)
    for w in caught:
        err_console.print(f"[yellow]warning:[/] {w.message}", highlight=False, soft_wrap=True)
    for note in done[0].notes:
        console.print(f"read: {note}", highlight=False, soft_wrap=True)
    names = ", ".join(f"{k} -> {v}" for k, v in done[0].matched.items())
    if names:
        console.print(f"names matched: {names}", highlight=False, soft_wrap=True)
    for item in done:
        cover = item.coverage
        missing = ", ".join(f"{p} {_share(share)}" for p, share in cover.missing.items())
        console.print(f"{item.year}: {len(cover.stations)} of {len(network)} stations, "
                      f"{cover.hours} hours; missing: {missing}", highlight=False, soft_wrap=True)
    console.print(f"wrote {out} ({sum(d.rows for d in done)} rows)", highlight=False)


# --- end command: stats ---
# --- command: schema / run ---
# schema, validate (scenario helper)
@app.command("schema")
def schema_command(
    out: Annotated[
        str | None,
        typer.Option("--out", help="Write the JSON Schema to this file instead of stdout."),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Print (or write) the JSON Schema of the scenario YAML."""
    import json

    from netsim.scenario import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    from netsim.atomic import output_file

    with output_file(out, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}")


@app.command("validate")
def validate_command(
    scenario: Annotated[str, typer.Argument(help="Scenario YAML file.")],
    network: Annotated[
        str | None,
        typer.Option("--network", help="Use this base network file instead of the YAML's."),
    ] = None,
) -> None:
    """Check a scenario: schema, base network, and every change applied in order."""
    from netsim.measure import check_mappable
    from netsim.network import Network
    from netsim.scenario import load_scenario

    sc = load_scenario(scenario)
    base = Network.from_file(network) if network is not None else sc.load_base_network()
    check_mappable(base, sc, "baseline")
    sc.readings_path()  # with readings: the file must exist
    changed, table = sc.build_network(base)
    check_mappable(changed, sc, "scenario")
    counts = table["change"].value_counts()
    summary = ", ".join(f"{int(counts[c])} {c}" for c in
                        ("unchanged", "added", "removed", "moved", "retyped") if c in counts)
    console.print(f"{scenario}: valid; {len(base)} -> {len(changed)} stations ({summary}); "
                  f"{len(sc.outages)} outage(s), {sc.realisations} realisations",
                  highlight=False, soft_wrap=True)
# end schema, validate


def _start_helper_workers() -> None:
    """Start the helper workers' imports (:mod:`netsim.workers`) while this process does
    its own: they are ready to take realisations when the first one starts."""
    from netsim import workers

    workers.warm()


_in_console = False
"""True in the ``netsim`` command (:func:`script`), False when Python code calls :func:`main`."""


def _importing() -> None:
    """In the ``netsim`` command, turn the cyclic collector off for the heavy imports that
    follow, until :func:`_imports_done`: their objects live as long as the process, and the
    collections they set off cost ~0.2 s of CPU (2-core EPYC).  The ~3,000 objects of
    garbage the imports leave (~2 MB) are frozen with them."""
    if _in_console:
        gc.disable()


def _imports_done() -> None:
    """In the ``netsim`` command, take the ~140,000 objects of its imports (they live as long
    as the process) out of the cyclic collector's full passes: about 0.4 s of a 20-realisation
    ``baseline_2020`` run on the 2-core EPYC; then turn the collector on again
    (:func:`_importing`).  Left alone when Python code calls :func:`main`, whose process
    goes on."""
    if _in_console:
        gc.freeze()
        gc.enable()


@app.command("run")
def run_command(
    scenario: Annotated[str, typer.Argument(help="Scenario YAML file (see `netsim schema`).")],
    out: Annotated[
        str | None,
        typer.Option("--out", help="Run directory to write (default runs/<scenario name>)."),
    ] = None,
    realisations: Annotated[
        int | None,
        typer.Option("--realisations", min=1, help="Override the number of truth realisations."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override truth.seed.")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler: tcp://HOST:PORT, local:N "
                     "(default in-process, or $DASK_SCHEDULER_ADDRESS)."),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="Language of the report: en or zh (default: the YAML's "
                     "lang, else en)."),
    ] = None,
    colour_classes: Annotated[
        str | None,
        typer.Option("--colour-classes", help="Colours of the PNG maps: continuous or "
                     "statement (discrete classes; default: the YAML's outputs.colour_classes, "
                     "else continuous)."),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Run a scenario and its baseline on the synthetic truth (an OSSE) and write DIR.

    With truth: {condition_on: READINGS} the truth is conditioned on real readings
    (equal to them at the stations that measured, simulated between them); with
    readings: the real year itself is measured.

    DIR gets summary.json, report.md, report.html, changes.png (with changes), map.html and
    baseline/ (and scenario/) with annual_by_area.csv, annual_by_station.csv
    in the `netsim stats` format, intervals, rasters and maps.  DIR must be new
    or empty, or a previous netsim run replaced with --overwrite.
    """
    _importing()
    from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn

    from netsim.atomic import check_output_directory

    if out is not None:  # before the heavy imports: a bad --out fails in a second
        check_output_directory(out, overwrite=overwrite)
    _start_helper_workers()
    from netsim.scenario import load_scenario

    sc = load_scenario(scenario).with_overrides(realisations=realisations, seed=seed, lang=lang,
                                                 colour_classes=colour_classes)
    target = out or f"runs/{sc.name}"
    if out is None:
        check_output_directory(target, overwrite=overwrite)
    from netsim.run import prepare_networks, run_scenario

    _imports_done()
    prepared = prepare_networks(sc)
    n = sc.realisations
    with _progress("[progress.description]{task.description}", BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn(), transient=False) as bar:
        task = bar.add_task(f"{sc.name}: realisations", total=n)
        result = run_scenario(
            sc, target, scheduler=scheduler, prepared=prepared, overwrite=overwrite,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for warning in result.summary.get("warnings", []):
        err_console.print(f"warning: {warning}", highlight=False, soft_wrap=True, markup=False)
    for verdict in result.summary.get("verdicts", []):
        console.print(f"- {verdict}", highlight=False, soft_wrap=True)
    console.print(f"wrote {result.out_dir} (report.md, report.html, summary.json, map.html)",
                  highlight=False)


# --- command: map ---
@app.command("map")
def map_command(
    run_dir: Annotated[str, typer.Argument(help="Run directory written by `netsim run`.")],
    out: Annotated[str, typer.Option("--out", help="HTML file to write.")] = "map.html",
    pollutant: Annotated[
        str | None, typer.Option("--pollutant", help="Pollutant shown first (default PM2.5).")
    ] = None,
    tiles: Annotated[
        str, typer.Option("--tiles", help="Base map: 'none' (offline, default) or 'osm'.")
    ] = "none",
    overwrite: OverwriteOption = False,
) -> None:
    """Write the interactive offline map (Leaflet) of a run directory."""
    from netsim.webmap import build_web_map

    path = build_web_map(
        run_dir, out, pollutant=pollutant, tiles=tiles, overwrite=overwrite  # type: ignore[arg-type]
    )
    console.print(f"wrote {path}")


# --- end command: map ---
# --- command: compare ---
@app.command("compare")
def compare_command(
    run_dirs: Annotated[
        list[str], typer.Argument(help="Run directories written by `netsim run` / `netsim sweep`.")
    ],
    out: Annotated[str, typer.Option("--out", help="Directory receiving the comparison.")],
    overwrite: OverwriteOption = False,
) -> None:
    """Compare the published figures of many runs: OUT/comparison.csv, .md and .png.

    One tidy table (run, network, area, pollutant, statistic, published value,
    mean and 90 % interval, scenario - baseline and its verdict class) of the
    city statistics and every district/group figure; a Markdown table per
    statistic; a chart of the city PM2.5 difference per run.
    """
    from netsim.compare import compare_runs

    path = compare_runs(run_dirs, out, overwrite=overwrite)
    console.print(f"compared {len(run_dirs)} runs: wrote {path}/comparison.csv, "
                  "comparison.md, comparison.png", highlight=False, soft_wrap=True)


# --- end command: compare ---
# --- command: calibrate ---
@app.command("calibrate")
def calibrate_command(
    targets: Annotated[
        str, typer.Option("--targets", help="YAML of a year's published figures (see README).")
    ],
    out: Annotated[str, typer.Option("--out", help="Calibration JSON to write.")],
    network: Annotated[
        str | None,
        typer.Option("--network", help="Network measuring the truth (default: the 35 stations)."),
    ] = None,
    realisations: Annotated[
        int, typer.Option("--realisations", min=4, help="Realisations averaged per step.")
    ] = 48,
    iterations: Annotated[
        int, typer.Option("--iterations", min=1, help="Maximum fixed-point iterations.")
    ] = 6,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the realisations.")] = 2020,
    overwrite: OverwriteOption = False,
) -> None:
    """Calibrate the synthetic truth to a year's published figures (targets not given keep
    the 2020 pattern, scaled); `truth: {calibration: OUT}` in a scenario selects it."""
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from netsim.atomic import output_file
    from netsim.calibration import calibrate_to_targets

    with output_file(out, overwrite=overwrite) as tmp, _progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("calibrate: realisations", total=realisations * (iterations + 1))
        record = calibrate_to_targets(
            targets, network_path=network, seed=seed, realisations=realisations,
            iterations=iterations, progress=lambda: bar.advance(task),
            log=lambda line: err_console.print(line, highlight=False, markup=False))
        tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    bad = [r for r in record["achieved"] if not r["ok"]]
    console.print(f"wrote {out}; {len(record['achieved']) - len(bad)}/"
                  f"{len(record['achieved'])} figures within tolerance", highlight=False)
    for r in bad:
        err_console.print(f"warning: outside tolerance: {r['quantity']}: target {r['target']}, "
                          f"achieved {r['achieved']}", highlight=False, markup=False)


# --- end command: calibrate ---
# --- command: sweep ---
@app.command("sweep")
def sweep_command(
    scenarios: Annotated[
        list[str], typer.Argument(help="Scenario YAML files, e.g. scenarios/*.yaml.")
    ],
    out: Annotated[
        str, typer.Option("--out", help="Directory receiving one run directory per scenario.")
    ],
    realisations: Annotated[
        int | None,
        typer.Option("--realisations", min=1, help="Override every scenario's realisations."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override truth.seed.")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler: tcp://HOST:PORT, local:N "
            "(default in-process, or $DASK_SCHEDULER_ADDRESS).",
        ),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Run many scenarios (one dask task each) into OUT/<file stem>/, plus OUT/sweep.json
    and OUT/comparison/ (`netsim compare` of the runs).

    OUT is written as a whole when every scenario has run; it must be new or
    empty, or a previous netsim output replaced with --overwrite.
    """
    _importing()
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from netsim.atomic import check_output_directory

    check_output_directory(out, overwrite=overwrite)
    _start_helper_workers()
    from netsim.sweep import sweep_scenarios

    _imports_done()
    with _progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn(), transient=False) as bar:
        task = bar.add_task("sweep: scenarios", total=len(scenarios))
        rows = sweep_scenarios(
            scenarios, out, realisations=realisations, seed=seed, scheduler=scheduler,
            overwrite=overwrite,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for row in rows:
        console.print(f"{row['scenario']}: {row['out_dir']}", highlight=False, soft_wrap=True)
        for warning in row.get("warnings", []):
            err_console.print(f"warning: {row['scenario']}: {warning}", highlight=False,
                              soft_wrap=True, markup=False)
    console.print(f"wrote {len(rows)} run directories, {out}/sweep.json and {out}/comparison/",
                  highlight=False)


# --- end command: sweep ---


class _Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so outputs are cleaned up as on Ctrl-C."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` while the CLI runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _stops_survive_finalisers() -> Iterator[None]:
    """A Ctrl-C or SIGTERM that lands while a finaliser runs (e.g. llvmlite freeing numba's
    compiled code) is not lost as "Exception ignored in ..." on stderr: the signal is
    raised again 50 ms later, once the finaliser is done."""
    default = sys.unraisablehook
    again = {KeyboardInterrupt: signal.SIGINT, _Terminated: signal.SIGTERM}

    def hook(info: Any) -> None:
        signum = next((s for kind, s in again.items() if issubclass(info.exc_type, kind)), None)
        if signum is None:
            default(info)
            return
        threading.Timer(0.05, signal.raise_signal, (signum,)).start()

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = default


def _click_exception_types() -> tuple[tuple[type[BaseException], ...], ...]:
    """``(errors, aborts, exits)`` of the installed typer: ``typer._click`` and/or click.

    Recent typer (0.29) vendors click as ``typer._click``, with its own
    exception classes; older typer raises click's.  Both are caught.
    """
    errors: list[type[BaseException]] = []
    aborts: list[type[BaseException]] = [typer.Abort]
    exits: list[type[BaseException]] = [typer.Exit]
    with contextlib.suppress(ImportError):
        from typer._click import exceptions as vendored

        errors.append(vendored.ClickException)
    with contextlib.suppress(ImportError):
        import click

        errors.append(click.ClickException)
        aborts.append(click.Abort)
        exits.append(click.exceptions.Exit)
    return tuple(errors), tuple(aborts), tuple(exits)


_CLICK_ERRORS, _ABORTS, _EXITS = _click_exception_types()


def _error(message: str) -> None:
    """Print ``error: MESSAGE`` on one line of stderr (no rich markup in the message)."""
    line = " ".join(str(message).splitlines())
    err_console.print(Text.assemble(("error:", "bold red"), " ", line), soft_wrap=True,
                      highlight=False)


def _usage_error(exc: Any) -> int:
    """Click's own short message on one line, plus where to find help; returns its exit code."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # bare `netsim`: the help text
        exc.show()
        return int(exc.exit_code)
    ctx = getattr(exc, "ctx", None)
    hint = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
    _error(exc.format_message().strip().rstrip(".") + hint)
    return int(exc.exit_code)


def _stopped(what: str, code: int) -> int:
    err_console.print(f"{what}; no partial output was left behind", highlight=False)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status.  Every failure is one line on stderr (module doc)."""
    try:
        with _sigterm_raises(), _stops_survive_finalisers():
            code = app(args=argv, prog_name="netsim", standalone_mode=False)
    except NetsimError as exc:
        _error(str(exc))
        return 2
    except _CLICK_ERRORS as exc:
        return _usage_error(exc)
    except KeyboardInterrupt:
        return _stopped("interrupted", 130)
    except _Terminated:
        return _stopped("terminated", 143)
    except _ABORTS as exc:  # click < 8.2 turns Ctrl-C into Abort
        if isinstance(exc.__context__, KeyboardInterrupt):
            return _stopped("interrupted", 130)
        _error("aborted")
        return 1
    except _EXITS as exc:
        return int(getattr(exc, "exit_code", 1))
    except FileNotFoundError as exc:
        _error(f"{exc.filename or exc}: file not found")
        return 2
    except OSError as exc:
        _error(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
        return 1
    except MemoryError:
        _error("out of memory; use fewer realisations or a coarser grid resolution")
        return 1
    except Exception as exc:
        if os.environ.get("NETSIM_TRACEBACK"):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (please report it; "
               "NETSIM_TRACEBACK=1 shows the traceback)")
        return 1
    if code == 130:  # typer turns Ctrl-C into Exit(130) and returns its code
        return _stopped("interrupted", 130)
    return code if isinstance(code, int) else 0


def script() -> None:
    """The ``netsim`` console script: :func:`main`, then exit.

    The finished command's objects are frozen first (:func:`gc.freeze`): Python's
    finalisation would otherwise sweep its ~250,000 objects with several full cyclic
    collections: exit took 2.1–2.2 s after a ``netsim run`` on the 2-core EPYC, 0.4–1.1 s
    frozen.
    """
    global _in_console
    _in_console = True
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    script()
