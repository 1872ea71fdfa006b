"""`netsim run`: the OSSE orchestration, its run directory and its invariants."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netsim import workers
from netsim.cli import main
from netsim.run import RunInputs, run_realisation, run_scenario
from netsim.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ROOT / "stations" / "beijing_35.csv"

pytestmark = pytest.mark.slow


def _scenario(**overrides) -> Scenario:
    data = {
        "name": "test_run",
        "base_network": str(STATIONS),
        "realisations": 2,
        "pollutants": ["PM2.5", "NO2"],
        "grid": {"resolution_m": 5000},
        "outputs": {"rasters": True, "maps": False, "web_map": False},
    }
    data.update(overrides)
    return Scenario.from_dict(data)


@pytest.fixture(scope="module")
def retire_traffic_run(tmp_path_factory) -> Path:
    sc = _scenario(name="retire", changes=[{"kind": "remove", "type": "traffic"}])
    out = tmp_path_factory.mktemp("runs") / "retire"
    run_scenario(sc, out)
    return out


def test_baseline_alone_writes_only_baseline(tmp_path):
    out = tmp_path / "base"
    result = run_scenario(_scenario(), out)
    assert (out / "baseline" / "annual_by_area.csv").is_file()
    assert not (out / "scenario").exists()
    assert not (out / "changes.png").exists()
    assert result.summary["realisations"] == 2
    assert "differences" not in result.summary
    from netsim.run import _world

    assert _world.cache_info().currsize == 0  # the truth world goes before the outputs


def test_run_directory_has_the_stats_format(retire_traffic_run):
    for net in ("baseline", "scenario"):
        d = retire_traffic_run / net
        by_station = pd.read_csv(d / "annual_by_station.csv")
        assert list(by_station.columns) == [
            "station_id", "pollutant", "statistic", "value", "valid_days", "reason"]
        by_area = pd.read_csv(d / "annual_by_area.csv")
        assert list(by_area.columns) == ["area", "pollutant", "statistic", "value", "reason"]
        assert {"city", "Dongcheng", "border_south"} <= set(by_area["area"])
        assert (d / "annual_by_station_intervals.csv").is_file()
        assert (d / "rasters" / "pm25_annual_mean.tif").is_file()
    assert (retire_traffic_run / "changes.png").stat().st_size > 0
    assert "![scenario minus baseline](changes.png)" in (
        retire_traffic_run / "report.md").read_text()
    network = pd.read_csv(retire_traffic_run / "scenario" / "network.csv")
    assert (network["change"] == "removed").sum() == 5


def test_traffic_removal_leaves_city_figure_unchanged(retire_traffic_run):
    """Common random numbers: urban stations read identically in both networks (up to
    floating-point summation order), and traffic stations are not in the city set
    (HJ 663), so the difference is zero in every realisation."""
    summary = json.loads((retire_traffic_run / "summary.json").read_text())
    diff = pd.DataFrame(summary["differences"]).set_index(
        ["source", "area", "pollutant", "statistic"])
    for p in ("PM2.5", "NO2"):
        row = diff.loc[("stations", "city", p, "annual_mean")]
        assert max(abs(row["p05"]), abs(row["p95"])) <= 1e-9
        truth = diff.loc[("truth", "city", p, "annual_mean")]
        assert truth["mean"] == 0.0
    assert sum("unchanged in every realisation" in v for v in summary["verdicts"]) >= 2


def test_lost_figures_are_not_computed_with_a_reason(retire_traffic_run):
    """Without traffic stations the roadside figures are not computed (empty value and a
    reason in the CSV, null and the reason in the JSON, a verdict naming them), never 0."""
    by_area = pd.read_csv(retire_traffic_run / "scenario" / "annual_by_area.csv",
                          keep_default_na=False)
    traffic = by_area[by_area["area"] == "traffic"]
    assert len(traffic) == 4  # PM2.5 and NO2: annual mean and percentile
    assert (traffic["value"] == "").all()
    assert traffic["reason"].str.startswith("not computed").all()
    assert traffic["reason"].str.contains("no station of this area").all()
    base = pd.read_csv(retire_traffic_run / "baseline" / "annual_by_area.csv",
                       keep_default_na=False)
    assert (base.loc[base["area"] == "traffic", "reason"] == "").all()
    summary = json.loads((retire_traffic_run / "summary.json").read_text())
    rows = [r for r in summary["statistics"] if r["network"] == "scenario"
            and r["area"] == "traffic" and r["source"] == "stations"]
    assert rows and all(r["mean"] is None and r["n"] == 0 for r in rows)
    assert all(r["reason"].startswith("not computed") for r in rows)
    lost = [v for v in summary["verdicts"] if v.startswith("Figures the scenario loses")]
    assert len(lost) == 1 and "(not computed;" in lost[0]
    assert "Traffic stations in every realisation" in lost[0]


def test_station_values_are_identical_across_networks(retire_traffic_run):
    base = pd.read_csv(retire_traffic_run / "baseline" / "annual_by_station.csv")
    scen = pd.read_csv(retire_traffic_run / "scenario" / "annual_by_station.csv")
    merged = base.merge(scen, on=["station_id", "pollutant", "statistic"])
    assert len(merged) == len(scen)
    np.testing.assert_array_equal(merged["value_x"], merged["value_y"])


def test_realisation_is_deterministic():
    sc = _scenario(pollutants=["PM2.5"])
    inputs = RunInputs(sc, {"baseline": sc.load_base_network()}, sc.grid.resolution_m)
    a = run_realisation(1, inputs)["baseline"]
    b = run_realisation(1, inputs)["baseline"]
    c = run_realisation(2, inputs)["baseline"]
    pd.testing.assert_frame_equal(a.scalars, b.scalars)
    assert not np.array_equal(a.fields["PM2.5"]["truth"], c.fields["PM2.5"]["truth"])


def test_kriging_std_is_consistent_with_truth_error():
    """The map's 90 % interval covers the truth in about 90 % of cells (a calibration check
    of the kriging variance against an independent truth, not a tautology).

    One realisation's coverage varies a lot (neighbouring cells share their errors: 0.83 to
    0.99 over 8 realisations of PM2.5 on the 5 km grid, sd ≈ 0.05), so the test averages 4
    realisations and allows 0.90 ± 0.07 (about 3 sd of that mean).
    """
    sc = _scenario(pollutants=["PM2.5"])
    inputs = RunInputs(sc, {"baseline": sc.load_base_network()}, sc.grid.resolution_m)
    coverage = [
        run_realisation(r, inputs)["baseline"].scalars.set_index(
            ["source", "area", "pollutant", "statistic"]).loc[
            ("error", "city", "PM2.5", "coverage90"), "value"]
        for r in range(4)
    ]
    assert 0.83 <= np.mean(coverage) <= 0.97


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    import netsim.outputs

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(netsim.outputs, "write_run", boom)
    out = tmp_path / "never"
    with pytest.raises(KeyboardInterrupt):
        run_scenario(_scenario(realisations=1), out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_cli_overrides_realisations_and_seed(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        f"name: cli\nbase_network: {STATIONS}\nrealisations: 5\npollutants: [PM2.5]\n"
        "grid: {resolution_m: 5000}\noutputs: {maps: false, web_map: false}\n"
    )
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--realisations", "1",
                 "--seed", "7"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["realisations"] == 1 and summary["seed"] == 7


def test_cli_bad_scenario_is_one_line(tmp_path, capsys):
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("name: bad\nrealisatons: 3\n")
    assert main(["run", str(scenario), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "realisatons" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_time_resolved_maps_are_written_and_bounded(tmp_path):
    """Daily kriged maps give per-cell day counts: 0 ≤ meeting ≤ valid ≤ 366 days."""
    from netsim.rasters import read_raster

    sc = _scenario(realisations=1, pollutants=["PM2.5", "O3"],
                   outputs={"maps": False, "web_map": False, "time_resolved": "day"})
    out = tmp_path / "tr"
    run_scenario(sc, out)
    raster = read_raster(out / "baseline" / "rasters" / "time_resolved_day.tif")
    meeting = raster.bands["aqi_days_meeting_standard"]
    valid = raster.bands["aqi_valid_days"]
    inside = np.isfinite(meeting)
    assert inside.sum() > 100
    assert np.all(meeting[inside] >= 0) and np.all(meeting[inside] <= valid[inside])
    assert np.all(valid[inside] <= 366)
    table = pd.read_csv(out / "baseline" / "map_and_truth.csv")
    row = table[(table["source"] == "map_time_resolved") & (table["area"] == "city")
                & (table["statistic"] == "days_meeting_standard")]
    assert len(row) == 1 and 0 < row["mean"].iloc[0] <= 366


def test_adding_mountain_stations_lowers_the_city_figure_with_a_reason(tmp_path):
    """Urban stations added in the clean north enter the city mean: the figure drops,
    the truth does not move, and the verdict says why."""
    sc = _scenario(name="north", realisations=2, pollutants=["PM2.5"], changes=[
        {"kind": "add", "id": "north_1", "type": "urban", "lon": 116.62, "lat": 40.75},
        {"kind": "add", "id": "north_2", "type": "urban", "lon": 116.95, "lat": 40.55},
    ])
    result = run_scenario(sc, tmp_path / "north")
    diff = pd.DataFrame(result.summary["differences"]).set_index(
        ["source", "area", "pollutant", "statistic"])
    change = diff.loc[("stations", "city", "PM2.5", "annual_mean")]
    assert change["p95"] < 0
    assert diff.loc[("truth", "city", "PM2.5", "annual_mean"), "mean"] == 0.0
    verdict = result.summary["verdicts"][0]
    assert "drops by" in verdict and "cleaner" in verdict and "2 station(s)" in verdict


def test_field_means_equal_the_mean_over_realisations_and_release_fields():
    from types import SimpleNamespace

    from netsim.summary import FieldMeans

    rng = np.random.default_rng(0)
    draws = [rng.normal(size=50).astype(np.float32) for _ in range(4)]
    means = FieldMeans()
    outcomes = []
    for r, d in enumerate(draws):
        o = SimpleNamespace(fields={"PM2.5": {"estimate": d}},
                            time_resolved={"band": d} if r < 2 else None)
        means.add({"baseline": o})
        outcomes.append(o)
    np.testing.assert_allclose(means.mean("baseline", "PM2.5", "estimate"),
                               np.mean(np.array(draws, dtype=np.float64), axis=0), rtol=1e-12)
    np.testing.assert_allclose(means.mean("baseline", "time_resolved", "band"),
                               np.mean(np.array(draws[:2], dtype=np.float64), axis=0), rtol=1e-12)
    assert means.count("baseline", "time_resolved") == 2
    assert means.mean("scenario", "PM2.5", "estimate") is None
    assert all(o.fields == {} and o.time_resolved is None for o in outcomes)


def test_web_map_gets_the_days_meeting_layer_with_time_resolved_maps(tmp_path):
    from netsim.webmap import DAYS_MEETING_LABEL

    sc = _scenario(realisations=1, pollutants=["PM2.5"],
                   outputs={"maps": False, "web_map": True, "time_resolved": "day"})
    run_scenario(sc, tmp_path / "tr")
    page = (tmp_path / "tr" / "map.html").read_text(encoding="utf-8")
    assert "netsim-overlay-aqi-days-meeting" in page and DAYS_MEETING_LABEL in page
    plain = _scenario(realisations=1, pollutants=["PM2.5"],
                      outputs={"maps": False, "web_map": True})
    run_scenario(plain, tmp_path / "plain")
    assert "netsim-overlay-aqi-days-meeting" not in (tmp_path / "plain" / "map.html").read_text(
        encoding="utf-8")


def test_summary_times_every_stage_apart_from_the_results(retire_traffic_run):
    """summary.json "timing": wall seconds per stage (netsim.timing), each ≥ 0 and together
    within the run's total; the realisations carry their own stage times."""
    from netsim.timing import STAGES

    timing = json.loads((retire_traffic_run / "summary.json").read_text())["timing"]
    stages = timing["stages_s"]
    assert list(stages) == list(STAGES)
    assert all(v >= 0 for v in stages.values())
    assert stages["truth"] > 0 and stages["kriging"] > 0 and stages["outputs"] > 0
    processes = 1 + workers.helper_workers()  # the worker's realisations overlap the run's
    assert sum(stages.values()) <= processes * timing["total_s"] + 0.01
    sc = _scenario(pollutants=["PM2.5"])
    outcome = run_realisation(0, RunInputs(sc, {"baseline": sc.load_base_network()}, 5000.0))
    assert set(outcome) == {"baseline"} and set(outcome.timing) == set(STAGES)
    assert outcome.timing["outputs"] == 0.0 and outcome.timing["sampling"] > 0


def test_png_maps_share_a_scale_and_draw_the_difference(tmp_path, monkeypatch):
    """Baseline and scenario PNGs of a pollutant on one colour scale covering both rasters;
    the difference PNG draws scenario − baseline (the GeoTIFFs) on a symmetric scale."""
    import rasterio

    from netsim import maps

    drawn = {}
    real_show = maps._MapFigure.show

    def spy(self, content):
        fig = real_show(self, content)
        drawn[fig._suptitle.get_text()] = (content.field, fig.axes[1].get_ylim(),
                                           content.style.scale)
        return fig

    monkeypatch.setattr(maps._MapFigure, "show", spy)
    monkeypatch.setenv("NETSIM_PICTURE_WORKERS", "0")  # the spy sees in-process drawing only
    sc = _scenario(name="pngs", outputs={"maps": True, "web_map": False},
                   changes=[{"kind": "add", "id": "far_north", "type": "urban",
                             "lon": 116.57, "lat": 40.92},
                            {"kind": "add", "id": "far_west", "type": "urban",
                             "lon": 115.68, "lat": 39.97}])
    out = tmp_path / "run"
    run_scenario(sc, out)

    def band(path, i=1):
        with rasterio.open(path) as src:
            return src.read(i).astype(float)

    for p, slug, units in (("PM2.5", "pm25", "µg/m³"), ("NO2", "no2", "µg/m³")):
        titles = {net: next(t for t in drawn if t.endswith(f"pngs: {net} network")
                            and f" {p} " in t) for net in ("baseline", "scenario")}
        for net, title in titles.items():
            assert (out / net / "maps" / f"{slug}_annual_mean.png").stat().st_size > 0
            assert "Annual Average Concentration, 2020" in title and units in title
        limits = {net: drawn[t][1] for net, t in titles.items()}
        assert limits["baseline"] == limits["scenario"]  # one colour bar range
        rasters = {net: band(out / net / "rasters" / f"{slug}_annual_mean.tif")
                   for net in ("baseline", "scenario")}
        lo, hi = limits["baseline"]
        both = np.concatenate([r[np.isfinite(r)] for r in rasters.values()])
        assert lo <= both.min() and both.max() <= hi

        diff_title = next(t for t in drawn if t.startswith(f"Change in {p} "))
        field, (dlo, dhi), scale = drawn[diff_title]
        expected = rasters["scenario"] - rasters["baseline"]
        tif = band(out / "scenario" / "rasters" / f"{slug}_difference.tif")
        inside = np.isfinite(expected)
        assert np.allclose(field[inside], expected[inside], atol=1e-4)
        assert np.allclose(tif[inside], expected[inside], atol=1e-4)
        assert dlo == -dhi and dhi >= np.abs(expected[inside]).max() > 0
        assert scale.cmap == "RdBu_r" and "pngs" in diff_title
        assert (out / "scenario" / "maps" / f"{slug}_difference.png").stat().st_size > 0


def test_web_map_preparation_thread_fills_the_caches_and_keeps_errors_to_the_map(
        monkeypatch, capsys):
    """The run prepares its web map in a thread while it waits for its helpers; an error
    there is left to the web map, which builds the layers again and reports it."""
    from netsim import webmap
    from netsim.run import _WebMapPreparation

    _WebMapPreparation().join()  # never started: nothing to wait for
    webmap._district_cells.cache_clear()
    preparation = _WebMapPreparation()
    preparation.start()
    preparation.join()
    assert webmap._district_cells.cache_info().currsize == 1

    def fails() -> None:
        raise OSError("districts unreadable")

    monkeypatch.setattr(webmap, "prepare_web_map", fails)
    preparation = _WebMapPreparation()
    preparation.start()
    preparation.join()
    assert capsys.readouterr().err == ""
