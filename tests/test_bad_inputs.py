"""Every malformed file of ``tests/data/bad/`` fails cleanly through the CLI.

Each file gives exit status 2, a single ``error: ...`` line on stderr naming the
file, no traceback, and leaves nothing in the output location.  Scenario files go
through ``netsim validate`` (and ``netsim run`` once it exists), network files
through ``netsim validate --network`` and ``netsim stats --stations``, readings
files through ``netsim stats --readings``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netsim.cli import app, main

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"
BASELINE = ROOT / "scenarios" / "baseline_2020.yaml"
SMALL_NETWORK = ROOT / "tests" / "data" / "stations_small.csv"
GOOD_READINGS = ROOT / "tests" / "data" / "readings_small.csv"  # valid for SMALL_NETWORK

SCENARIOS = sorted(BAD.glob("scenario_*"))
NETWORKS = sorted(BAD.glob("network_*"))
READINGS = sorted(BAD.glob("readings_*"))


def _commands() -> set[str]:
    return {c.name or c.callback.__name__ for c in app.registered_commands}


def _check_failure(capsys: pytest.CaptureFixture[str], argv: list[str], out_root: Path) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()  # blank lines count: stderr must be exactly one line
    assert code == 2, f"exit {code} for {argv}; stderr: {captured.err!r}"
    assert "Traceback" not in captured.err
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("error: ")
    assert "/bad/" in lines[0], f"the message should name the bad file: {lines[0]!r}"
    assert list(out_root.iterdir()) == [], "output left behind"
    return lines[0]


def test_corpus_is_large_enough() -> None:
    assert len(SCENARIOS) + len(NETWORKS) + len(READINGS) >= 30
    assert len(SCENARIOS) >= 20


def test_good_files_pass(tmp_path: Path, capsys) -> None:
    """The control: the good network and readings the bad files are paired with are accepted."""
    out = tmp_path / "out"
    code = main(["stats", "--stations", str(SMALL_NETWORK), "--readings", str(GOOD_READINGS),
                 "--year", "2020", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    assert (out / "annual_by_area.csv").is_file()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_bad_scenario_validate(path: Path, tmp_path: Path, capsys) -> None:
    _check_failure(capsys, ["validate", str(path)], tmp_path)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_bad_scenario_run(path: Path, tmp_path: Path, capsys) -> None:
    if "run" not in _commands():
        pytest.skip("netsim run not registered yet")
    out = tmp_path / "out"
    _check_failure(capsys, ["run", str(path), "--out", str(out), "--realisations", "1"], tmp_path)


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.name)
def test_bad_network_validate(path: Path, tmp_path: Path, capsys) -> None:
    _check_failure(capsys, ["validate", str(BASELINE), "--network", str(path)], tmp_path)


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.name)
def test_bad_network_stats(path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    _check_failure(
        capsys,
        ["stats", "--stations", str(path), "--readings", str(GOOD_READINGS), "--year", "2020",
         "--out", str(out)],
        tmp_path,
    )


@pytest.mark.parametrize("path", READINGS, ids=lambda p: p.name)
def test_bad_readings_stats(path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    _check_failure(
        capsys,
        ["stats", "--stations", str(SMALL_NETWORK), "--readings", str(path), "--year", "2020",
         "--out", str(out)],
        tmp_path,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("scenario_unknown_key.yaml", "scenario_unknown_key.yaml:3: realisation: unknown key; "
                                      "did you mean 'realisations'?"),
        ("scenario_unknown_nested_key.yaml", ":4: kriging.varigram: unknown key; did you mean "
                                             "'variogram'?"),
        ("scenario_syntax_error.yaml", "scenario_syntax_error.yaml:5:4: YAML syntax error"),
        ("scenario_duplicate_key.yaml", ":4:1: YAML syntax error: duplicate key 'realisations'"),
        ("scenario_add_lon_text.yaml", ":6: changes[0].lon: Input should be a valid number"),
        ("scenario_remove_unknown_id.yaml", ":5: changes[0].ids[1]: unknown station 'tiantann'"),
        ("scenario_remove_unknown_id.yaml", "did you mean 'tiantan'?"),
        ("scenario_add_outside_beijing.yaml", ":6: changes[0].lon: new station 'bund'"),
        ("scenario_unknown_kind.yaml", "changes[0]: unknown change kind 'ad'"),
        ("scenario_outage_month_13.yaml", "changes[0].months[1]"),
        ("scenario_sensors_bad_placement.yaml", "did you mean 'population'?"),
        ("scenario_base_network_invalid.yaml", "network_duplicate_id.csv line 4"),
    ],
)
def test_bad_scenario_messages(name: str, expected: str, tmp_path: Path, capsys) -> None:
    line = _check_failure(capsys, ["validate", str(BAD / name)], tmp_path)
    assert expected in line
