"""A year's published figures completed from the 2020 statement (netsim.calibration_targets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from netsim.calibration import load_targets, scaled_start
from netsim.calibration_targets import TargetsFile, expand_targets, load_targets_file
from netsim.cli import app, main
from netsim.errors import CalibrationError
from netsim.network import Network
from netsim.truth import TruthParameters, load_calibration

ROOT = Path(__file__).resolve().parents[1]
TARGETS_2023 = ROOT / "scenarios" / "calibrations" / "beijing_2023_targets.yaml"


@pytest.fixture(scope="module")
def network() -> Network:
    return Network.from_file(ROOT / "stations" / "beijing_35.csv")


def test_city_pm25_scales_the_2020_pattern_to_netsims_city_value(network):
    """2023: city PM2.5 32 only.  The 2020 district values give netsim's city value 35.8
    (statement's consistency note), so every PM2.5 district/group is x 32/35.8."""
    t = expand_targets(load_targets_file(TARGETS_2023),
                       load_targets(), network)
    f = 32 / 35.8
    assert t["scale_factors"]["PM2.5"] == pytest.approx(f, abs=2e-3)  # 35.8 is rounded
    assert t["districts"]["Dongcheng"]["PM2.5"] == pytest.approx(40 * f, abs=0.1)
    assert t["districts"]["Huairou"]["PM2.5"] == pytest.approx(29 * f, abs=0.1)
    assert t["groups"]["border_south"]["PM2.5"] == pytest.approx(50 * f, abs=0.1)
    # not given: NO2, PM10 and SO2 keep 2020; CO, O3 and day counts are not targets
    assert t["districts"]["Dongcheng"]["NO2"] == 30 and t["groups"]["traffic"]["NO2"] == 43
    assert t["city_annual_mean"]["PM2.5"] == 32
    assert t["city_annual_mean"]["NO2"] == pytest.approx(28.2, abs=0.05)  # derived: 2020 rule
    assert t["co_p95_daily"] is None and t["days_meeting_standard"] is None
    assert t["days"] == 365 and t["tolerances"]["city"] == 1.0


def test_given_districts_override_and_set_the_scale_of_the_others(network):
    given = TargetsFile(year=2021, districts={"Dongcheng": {"NO2": 24.0},
                                              "Xicheng": {"NO2": 28.0}})
    t = expand_targets(given, load_targets(), network)
    # 2020: Dongcheng 30, Xicheng 32 -> mean ratio (0.8 + 0.875)/2
    assert t["scale_factors"]["NO2"] == pytest.approx(0.8375)
    assert t["districts"]["Dongcheng"]["NO2"] == 24.0
    assert t["districts"]["Chaoyang"]["NO2"] == pytest.approx(33 * 0.8375)
    assert t["districts"]["Chaoyang"]["PM2.5"] == 39  # another pollutant: unchanged


def test_scaled_start_scales_anchor_values():
    par = TruthParameters.model_validate(load_calibration()["parameters"])
    new = scaled_start(par, {"PM2.5": 0.5})
    assert new.values["PM2.5"][0] == pytest.approx(0.5 * par.values["PM2.5"][0])
    assert new.values["NO2"] == par.values["NO2"]
    assert new.kerb.pm25 == pytest.approx(0.5 * par.kerb.pm25)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year: 2023\ncity_annual_mean: {PM25: 32}\n", "city_annual_mean: unknown pollutant"),
        ("year: 2023\ncity_annual_mean: {PM2.5: -3}\n", "must be a positive number"),
        ("year: 2023\ngroups: {kerbside: {NO2: 40}}\n", "groups: unknown group 'kerbside'"),
        ("city_annual_mean: {PM2.5: 32}\n", "year: Field required"),
        ("year: 2023\nheavy_days: 3\n", "heavy_days: Extra inputs are not permitted"),
        ("year: 2023\ncity_annual_mean: [PM2.5\n", "YAML syntax error"),
        ("- 32\n", "expected a YAML mapping of targets"),
        ("", "the file is empty"),
        ("year: 2023\ncity_annual_mean:\n  PM2.5: 32\n  PM2.5: 23\n",
         ":4:3: YAML syntax error: duplicate key 'PM2.5'"),
    ],
)
def test_bad_targets_give_one_line_errors(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalibrationError, match=message) as info:
        load_targets_file(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_unknown_district_is_refused(network):
    with pytest.raises(CalibrationError, match="unknown district 'Dongchen'"):
        expand_targets(TargetsFile(year=2023, districts={"Dongchen": {"NO2": 1.0}}),
                       load_targets(), network)


def test_cli_calibrate_bad_targets_exits_2(tmp_path, capsys):
    bad = tmp_path / "t.yaml"
    bad.write_text("year: 2023\ncity_annual_mean: {PM2.5: 0}\n", encoding="utf-8")
    assert main(["calibrate", "--targets", str(bad), "--out", str(tmp_path / "c.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "must be a positive number" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c.json").exists()


def test_cli_calibrate_help_documents_the_command():
    result = CliRunner().invoke(app, ["calibrate", "--help"])
    assert result.exit_code == 0 and "--targets" in result.output and "--overwrite" in result.output


@pytest.mark.slow
def test_cli_calibrate_writes_a_calibration_a_scenario_can_use(tmp_path):
    targets = tmp_path / "t.yaml"
    targets.write_text("name: t2021\nyear: 2021\ncity_annual_mean: {PM2.5: 33, NO2: 26}\n",
                       encoding="utf-8")
    out = tmp_path / "cal.json"
    args = ["calibrate", "--targets", str(targets), "--out", str(out), "--realisations", "4",
            "--iterations", "1"]
    assert main(args) == 0
    cal = load_calibration(str(out))
    assert cal["name"] == "t2021" and cal["year"] == 2021 and cal["script"] == "netsim calibrate"
    assert cal["targets"]["given"]["city_annual_mean"] == {"PM2.5": 33.0, "NO2": 26.0}
    assert "map_error_realism" in cal
    assert main(args) == 2  # an existing output needs --overwrite (refused before computing)
    # a scenario next to it selects it by a relative path
    (tmp_path / "s.yaml").write_text(
        f"name: s\nbase_network: {ROOT / 'stations' / 'beijing_35.csv'}\nyear: 2021\n"
        "truth: {calibration: cal.json}\n", encoding="utf-8")
    from netsim.scenario import load_scenario

    sc = load_scenario(tmp_path / "s.yaml")
    assert Path(sc.truth.calibration) == out
