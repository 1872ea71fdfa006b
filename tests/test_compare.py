"""netsim.compare / `netsim compare`: many run directories in one table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from netsim.atomic import MARKER_NAME
from netsim.cli import main
from netsim.compare import compare_runs
from netsim.errors import NetsimError, OutputError
from netsim.run import run_scenario
from netsim.scenario import Scenario
from netsim.sweep import sweep_scenarios

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ROOT / "stations" / "beijing_35.csv"
SMALL = ROOT / "tests" / "data" / "stations_small.csv"


def _scenario(**overrides) -> Scenario:
    data = {
        "name": "cmp", "base_network": str(STATIONS), "realisations": 2,
        "pollutants": ["PM2.5", "NO2"], "grid": {"resolution_m": 5000},
        "outputs": {"maps": False, "web_map": False},
    }
    data.update(overrides)
    return Scenario.from_dict(data)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("compare")
    retire = _scenario(name="retire", changes=[{"kind": "remove", "type": "traffic"}])
    add = _scenario(name="add", changes=[
        {"kind": "add", "id": "new1", "type": "urban", "lon": 116.30, "lat": 39.80}])
    dirs = [root / "retire", root / "add", root / "base"]
    run_scenario(retire, dirs[0])
    run_scenario(add, dirs[1])
    run_scenario(_scenario(name="base"), dirs[2])
    return dirs


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory) -> Path:
    return compare_runs(runs, tmp_path_factory.mktemp("out") / "cmp")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"published": str, "flag": str, "class": str, "reason": str},
                       keep_default_na=False, na_values={"mean": [""], "p05": [""], "p95": [""]})


def _same(a, b) -> bool:
    a = math.nan if a in ("", None) else float(a)
    b = math.nan if b in ("", None) else float(b)
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)


pytestmark = pytest.mark.slow


def test_csv_values_are_those_of_each_summary(runs, compared):
    table = _read(compared / "comparison.csv").set_index(
        ["run", "network", "area", "pollutant", "statistic"])
    assert sorted(table.index.get_level_values("run").unique()) == ["add", "base", "retire"]
    checked = 0
    for run in runs:
        summary = json.loads((run / "summary.json").read_text())
        classes = {tuple(v["key"]): v["class"] for v in summary.get("verdict_classes", [])}
        for entry in summary["published"]:
            for net in ("baseline", "scenario"):
                if net not in entry:
                    assert (run.name, net, entry["area"], entry["pollutant"],
                            entry["statistic"]) not in table.index
                    continue
                row = table.loc[(run.name, net, entry["area"], entry["pollutant"],
                                 entry["statistic"])]
                assert row["published"] == entry[net]["published"]
                for k in ("mean", "p05", "p95"):
                    assert _same(row[k], entry[net][k]), (run.name, net, entry["area"], k)
                if entry[net]["mean"] is None:  # not computed: empty with the reason, never 0
                    assert row["reason"] == entry[net]["missing"] != ""
                if net == "scenario":
                    for k in ("mean", "p05", "p95"):
                        assert _same(row[f"difference_{k}"], entry["difference"][k])
                    assert row["flag"] == entry["flag"]
                    key = ("stations", entry["area"], entry["pollutant"], entry["statistic"])
                    assert row["class"] == classes[key]
                else:
                    assert math.isnan(float(row["difference_mean"] or "nan"))
                checked += 1
    # 3 runs: 2 with both networks + 1 baseline-only, every published entry
    assert checked == len(table)
    assert set(table.loc["retire"]["realisations"]) == {2}


def test_markdown_has_a_row_per_run_in_every_table(compared):
    text = (compared / "comparison.md").read_text()
    tables = sum(line.startswith("|---|") for line in text.splitlines())
    assert tables >= 4  # city and areas of PM2.5 and NO2 annual means at least
    for run in ("retire", "add", "base"):
        assert sum(line.startswith(f"| {run} |") for line in text.splitlines()) == tables
    assert "37 → —" in text or "→ —" in text  # traffic stations retired: no longer published


def test_png_is_written_and_the_output_is_guarded(runs, compared):
    assert (compared / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (compared / MARKER_NAME).is_file()
    with pytest.raises(OutputError, match="overwrite"):
        compare_runs(runs, compared)
    compare_runs(runs[:1], compared, overwrite=True)
    assert set(_read(compared / "comparison.csv")["run"]) == {"retire"}


def test_a_folder_that_is_not_a_run_is_refused_in_one_line(runs, tmp_path, capsys):
    stray = tmp_path / "not_a_run"
    stray.mkdir()
    with pytest.raises(NetsimError, match="not_a_run is not a run directory"):
        compare_runs([runs[0], stray], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    code = main(["compare", str(runs[0]), str(stray), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "not_a_run" in err and err.startswith("error:")
    assert not (tmp_path / "out").exists()


def test_output_may_not_replace_a_run(runs):
    with pytest.raises(NetsimError, match="would replace the run directory"):
        compare_runs(runs, runs[0], overwrite=True)
    with pytest.raises(NetsimError, match="would replace the run directory"):
        compare_runs(runs, runs[0].parent, overwrite=True)
    assert (runs[0] / "summary.json").is_file()


def test_cli_compare_writes_the_three_files(runs, tmp_path):
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "c")]) == 0
    assert {p.name for p in (tmp_path / "c").iterdir()} >= {
        "comparison.csv", "comparison.md", "comparison.png"}


def test_sweep_writes_the_comparison_of_its_runs(tmp_path):
    files = []
    for stem in ("a", "b"):
        path = tmp_path / f"{stem}.yaml"
        path.write_text(
            f"name: {stem}\nbase_network: {SMALL}\nrealisations: 1\npollutants: [PM2.5]\n"
            "grid: {resolution_m: 5000}\noutputs: {maps: false, web_map: false, rasters: false}\n"
        )
        files.append(path)
    out = tmp_path / "sweep"
    sweep_scenarios(files, out, seed=5)
    table = _read(out / "comparison" / "comparison.csv")
    assert list(dict.fromkeys(table["run"])) == ["a", "b"]
    for stem in ("a", "b"):
        summary = json.loads((out / stem / "summary.json").read_text())
        city = next(e for e in summary["published"] if e["area"] == "city"
                    and e["pollutant"] == "PM2.5" and e["statistic"] == "annual_mean")
        row = table[(table["run"] == stem) & (table["area"] == "city")
                    & (table["pollutant"] == "PM2.5") & (table["statistic"] == "annual_mean")]
        assert len(row) == 1
        assert _same(row["mean"].iloc[0], city["baseline"]["mean"])
    assert (out / "comparison" / "comparison.png").is_file()
