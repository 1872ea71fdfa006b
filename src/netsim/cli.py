"""The ``netsim`` command line: parse, call one library function, print.

Every :class:`netsim.errors.NetsimError` is printed as a single line on
stderr (``error: ...``) with exit status 2; no traceback is shown.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

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
@app.command("stats")
def stats_command(
    stations: Annotated[str, typer.Option("--stations", help="Network file (CSV/GeoJSON/GPKG).")],
    readings: Annotated[
        str, typer.Option("--readings", help="Hourly readings, long format (CSV or Parquet).")
    ],
    year: Annotated[int, typer.Option("--year", help="Calendar year (Beijing time).")],
    out: Annotated[str, typer.Option("--out", help="Output directory (written atomically).")],
    standard: Annotated[
        str, typer.Option("--standard", help="gb3095-2012 | gb3095-2026 | gb3095-2026-phase1")
    ] = "gb3095-2012",
    hour_label: Annotated[
        str, typer.Option("--hour-label", help="Times label the hour 'start' (default) or 'end'.")
    ] = "start",
    city_rule: Annotated[
        str,
        typer.Option(
            "--city-rule", help="'urban' (default), 'central12' or comma-separated station ids."
        ),
    ] = "urban",
    on_invalid: Annotated[
        str,
        typer.Option("--on-invalid", help="Invalid readings rows: 'raise' (default) or 'drop'."),
    ] = "raise",
    no_boundary_check: Annotated[
        bool, typer.Option("--no-boundary-check", help="Accept stations outside Beijing.")
    ] = False,
) -> None:
    """Annual GB 3095 / HJ 663 statistics and HJ 633 AQI days of a network (netsim.stats)."""
    import warnings

    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from netsim.network import Network
    from netsim.readings import ReadingsWarning, load_readings
    from netsim.stats import compute_statistics, write_statistics

    network = Network.from_file(stations, check_boundary=not no_boundary_check)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"reading {readings}", total=None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ReadingsWarning)
            data = load_readings(
                readings, network, year, hour_label=hour_label, on_invalid=on_invalid
            )
        bar.update(task, total=1, completed=1)
        task = bar.add_task("computing statistics", total=len(data.values) + 1)
        result = compute_statistics(
            data,
            network,
            standard=standard,
            city_rule=city_rule,
            progress=lambda _label: bar.advance(task),
        )
        bar.add_task(f"writing {out}", total=None)
        path = write_statistics(result, out)
    for w in caught:
        err_console.print(f"[yellow]warning:[/] {w.message}", highlight=False, soft_wrap=True)
    city = result.area_value("city", "PM2.5", "annual_mean")
    meet = result.area_value("city", "AQI", "days_meeting_standard")
    valid = result.area_value("city", "AQI", "valid_days")
    console.print(
        f"wrote {path}/ (annual_by_station.csv, annual_by_area.csv, daily_aqi.csv, summary.md); "
        f"city PM2.5 {city:.0f} µg/m³, {meet:.0f}/{valid:.0f} days meeting the standard",
        highlight=False,
    )


# --- end command: stats ---
# --- command: schema / run ---
# schema, validate (scenario helper)
@app.command("schema")
def schema_command(
    out: Annotated[
        str | None,
        typer.Option("--out", help="Write the JSON Schema to this file instead of stdout."),
    ] = None,
) -> None:
    """Print (or write) the JSON Schema of the scenario YAML."""
    import json

    from netsim.scenario import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    from netsim.atomic import atomic_file

    with atomic_file(out) as tmp:
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
    from netsim.network import Network
    from netsim.scenario import load_scenario

    sc = load_scenario(scenario)
    base = Network.from_file(network) if network is not None else sc.load_base_network()
    changed, table = sc.build_network(base)
    counts = table["change"].value_counts()
    summary = ", ".join(f"{int(counts[c])} {c}" for c in
                        ("unchanged", "added", "removed", "moved", "retyped") if c in counts)
    console.print(f"{scenario}: valid; {len(base)} -> {len(changed)} stations ({summary}); "
                  f"{len(sc.outages)} outage(s), {sc.realisations} realisations",
                  highlight=False, soft_wrap=True)
# end schema, validate


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
) -> None:
    """Run a scenario and its baseline on the synthetic truth (an OSSE) and write DIR.

    DIR gets summary.json, report.md, changes.png (with changes), map.html and
    baseline/ (and scenario/) with annual_by_area.csv, annual_by_station.csv
    in the `netsim stats` format, intervals, rasters and maps.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from netsim.run import prepare_networks, run_scenario
    from netsim.scenario import load_scenario

    sc = load_scenario(scenario).with_overrides(realisations=realisations, seed=seed)
    prepared = prepare_networks(sc)
    target = out or f"runs/{sc.name}"
    n = sc.realisations
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                  transient=False) as bar:
        task = bar.add_task(f"{sc.name}: realisations", total=n)
        result = run_scenario(
            sc, target, scheduler=scheduler, prepared=prepared,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for verdict in result.summary.get("verdicts", []):
        console.print(f"- {verdict}", highlight=False, soft_wrap=True)
    console.print(f"wrote {result.out_dir} (report.md, summary.json, map.html)", highlight=False)


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
) -> None:
    """Write the interactive offline map (Leaflet) of a run directory."""
    from netsim.webmap import build_web_map

    path = build_web_map(run_dir, out, pollutant=pollutant, tiles=tiles)  # type: ignore[arg-type]
    console.print(f"wrote {path}")


# --- end command: map ---
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
) -> None:
    """Run many scenarios (one dask task each) into OUT/<file stem>/, plus OUT/sweep.json."""
    from netsim.distributed import rich_progress, sweep_scenarios

    with rich_progress("sweep: scenarios", console=err_console) as progress:
        rows = sweep_scenarios(
            scenarios, out, realisations=realisations, seed=seed, scheduler=scheduler,
            progress=progress,
        )
    for row in rows:
        console.print(f"{row['scenario']}: {row['out_dir']}", highlight=False, soft_wrap=True)
    console.print(f"wrote {len(rows)} run directories and {out}/sweep.json", highlight=False)


# --- end command: sweep ---


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; turn :class:`NetsimError` into a one-line message and exit status 2."""
    try:
        app(args=argv, standalone_mode=False)
    except NetsimError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except FileNotFoundError as exc:
        err_console.print(f"[bold red]error:[/] {exc.filename or exc}: file not found",
                          soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted; no partial output was left behind", soft_wrap=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
