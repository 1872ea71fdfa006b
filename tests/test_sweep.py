"""netsim.sweep: many scenarios into one guarded directory."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from netsim.atomic import MARKER_NAME
from netsim.cli import main
from netsim.errors import NetsimError, OutputError
from netsim.sweep import sweep_scenarios

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ROOT / "tests" / "data" / "stations_small.csv"


def _tiny(tmp: Path, stem: str) -> Path:
    path = tmp / f"{stem}.yaml"
    path.write_text(
        f"name: {stem}\nbase_network: {STATIONS}\nrealisations: 1\npollutants: [PM2.5]\n"
        "grid: {resolution_m: 5000}\noutputs: {maps: false, web_map: false, rasters: false}\n"
    )
    return path


def test_sweep_rejects_empty_and_duplicate_stems(tmp_path):
    with pytest.raises(NetsimError, match="no scenario files"):
        sweep_scenarios([], tmp_path / "out")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "same.yaml").write_text("name: x\n")
    with pytest.raises(NetsimError, match="rename one"):
        sweep_scenarios(
            [tmp_path / "a" / "same.yaml", tmp_path / "b" / "same.yaml"], tmp_path / "o"
        )
    assert not (tmp_path / "o").exists()


def test_sweep_bad_scenario_fails_before_any_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nrealisations: many\n")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_sweep_refuses_a_foreign_folder_before_running(tmp_path, monkeypatch, capsys):
    import netsim.run

    monkeypatch.setattr(netsim.run, "run_scenario", lambda *a, **k: pytest.fail("ran"))
    out = tmp_path / "results"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code = main(["sweep", str(_tiny(tmp_path, "a")), "--out", str(out), "--overwrite"])
    assert code == 2
    assert "netsim did not write it (notes.txt)" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_interrupted_sweep_leaves_nothing(tmp_path, monkeypatch):
    import netsim.run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(netsim.run, "run_scenario", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep_scenarios([_tiny(tmp_path, "a")], tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml"]


@pytest.mark.slow
def test_sweep_is_one_output_replaced_only_with_overwrite(tmp_path):
    files = [_tiny(tmp_path, "a"), _tiny(tmp_path, "b")]
    out = tmp_path / "sweep"
    rows = sweep_scenarios(files, out, realisations=1, seed=3)
    assert [r["out_dir"] for r in rows] == [str(out / "a"), str(out / "b")]
    index = json.loads((out / "sweep.json").read_text())
    assert [r["file_stem"] for r in index["runs"]] == ["a", "b"]
    assert sorted(p.name for p in out.iterdir()) == [MARKER_NAME, "a", "b", "comparison",
                                                  "sweep.json"]
    assert (out / "a" / MARKER_NAME).is_file()  # each run directory is a netsim output too
    with pytest.raises(OutputError, match="pass --overwrite"):
        sweep_scenarios(files[:1], out)
    sweep_scenarios(files[:1], out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [MARKER_NAME, "a", "comparison", "sweep.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml", "sweep"]


def test_distributed_does_not_import_run_or_sweep():
    """Layering: the executor layer must not need the layers that use it."""
    import netsim.distributed

    tree = ast.parse(Path(netsim.distributed.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not imported & {"netsim.run", "netsim.sweep", "netsim.scenario"}


def test_sweep_with_real_readings_keeps_their_one_year(tmp_path):
    """--realisations and --seed override the synthetic scenarios only: a scenario on real
    readings measures its one year (it refuses realisations when run alone)."""
    real = tmp_path / "real.yaml"
    real.write_text(
        f"name: real\nbase_network: {ROOT / 'stations' / 'beijing_uci_12.csv'}\n"
        f"readings: {{path: {ROOT / 'scenarios' / 'readings' / 'uci_beijing_2015'}}}\n"
        "year: 2015\npollutants: [PM2.5]\ngrid: {resolution_m: 5000}\n"
        "outputs: {maps: false, web_map: false, rasters: false}\n")
    rows = sweep_scenarios([_tiny(tmp_path, "synthetic"), real], tmp_path / "sweep",
                           realisations=2, seed=4)
    assert [r["realisations"] for r in rows] == [2, 1]
    summary = json.loads((tmp_path / "sweep" / "real" / "summary.json").read_text())
    assert summary["data"]["kind"] == "real readings"
