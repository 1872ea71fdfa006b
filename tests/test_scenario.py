"""netsim.scenario: schema, defaults, located errors, shipped scenarios, JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netsim.errors import ScenarioError
from netsim.scenario import (
    DEFAULT_BASE_NETWORK,
    Scenario,
    load_scenario,
    scenario_json_schema,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_all_required_scenarios_ship() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"baseline_2020", "fyp14_expansion", "retire_traffic", "southern_border_relocation",
            "winter_outage", "dense_sensors", "optimise_new_sites"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_validate_and_build(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.name == path.stem
    network, table = sc.build_network()
    assert set(table["change"]) <= {"unchanged", "added", "removed", "moved", "retyped"}
    assert len(table) >= len(network)


def test_shipped_scenarios_do_what_they_say() -> None:
    by = {p.stem: load_scenario(p) for p in SHIPPED}
    assert not by["baseline_2020"].has_changes and by["baseline_2020"].realisations == 20
    counts = {k: s.build_network()[1]["change"].value_counts().to_dict() for k, s in by.items()}
    assert counts["fyp14_expansion"] == {"unchanged": 35, "added": 11}
    assert counts["retire_traffic"] == {"unchanged": 30, "removed": 5}
    assert counts["southern_border_relocation"] == {"unchanged": 33, "moved": 2}
    assert counts["dense_sensors"] == {"unchanged": 35, "added": 500}
    assert len(by["winter_outage"].outages) == 2
    opt = by["optimise_new_sites"].optimise
    assert opt is not None and opt.k == 5 and opt.objective == "kriging_variance"


def test_defaults() -> None:
    sc = Scenario.from_dict({"name": "x"})
    assert sc.base_network == DEFAULT_BASE_NETWORK == "stations/beijing_35.csv"
    assert sc.changes == [] and sc.realisations == 20 and sc.year == 2020
    assert sc.pollutants == ["PM2.5", "PM10", "NO2", "SO2", "O3", "CO"]
    assert sc.grid.resolution_m == 1000.0
    assert sc.kriging.variogram == "auto" and sc.kriging.drift == "none"
    assert sc.kriging.n_neighbours is None and sc.kriging.variogram_for("NO2") is None
    assert sc.standard == "gb3095-2012" and sc.city_rule == "urban"
    assert sc.outputs.rasters and sc.outputs.maps and sc.outputs.web_map
    assert sc.optimise is None
    assert sc.seed == sc.truth.seed == 2020


def test_truth_section_is_truth_settings_and_follows_year() -> None:
    from netsim.truth import TruthSettings

    sc = Scenario.from_dict({"name": "x", "year": 2019, "truth": {"seed": 7}})
    assert isinstance(sc.truth, TruthSettings)
    assert sc.truth.year == 2019 and sc.seed == 7


def test_pollutant_names_are_normalised() -> None:
    sc = Scenario.from_dict({"name": "x", "pollutants": ["pm25", "no2", "PM10"]})
    assert sc.pollutants == ["PM2.5", "NO2", "PM10"]
    with pytest.raises(ScenarioError, match="listed twice"):
        Scenario.from_dict({"name": "x", "pollutants": ["pm25", "PM2.5"]})


def test_fixed_and_per_pollutant_variograms() -> None:
    sc = Scenario.from_dict({"name": "x", "kriging": {
        "variogram": {"model": "exponential", "psill": 50, "range": 20000},
        "variograms": {"co": {"model": "spherical", "psill": 0.1, "range": 30000, "nugget": 0.01}},
    }})
    assert sc.kriging.variogram_for("PM2.5").model == "exponential"
    assert sc.kriging.variogram_for("CO").psill == pytest.approx(0.1)


def test_variogram_models_are_known_to_netsim_variogram() -> None:
    from typing import get_args

    from netsim.scenario import VariogramModel
    from netsim.variogram import MODELS

    assert set(get_args(VariogramModel)) <= set(MODELS)


def test_file_name_is_the_default_name(tmp_path: Path) -> None:
    p = tmp_path / "my_case.yaml"
    p.write_text(f"base_network: {ROOT / 'stations' / 'beijing_35.csv'}\n")
    assert load_scenario(p).name == "my_case"


def test_base_network_resolved_against_yaml_dir_then_cwd(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "net.csv").write_text("x")
    (tmp_path / "other.csv").write_text("x")
    p = tmp_path / "cases" / "s.yaml"
    p.write_text("name: s\nbase_network: net.csv\n")
    monkeypatch.chdir(tmp_path)
    assert load_scenario(p).base_network_path() == tmp_path / "cases" / "net.csv"
    p.write_text("name: s\nbase_network: other.csv\n")
    assert load_scenario(p).base_network_path().resolve() == (tmp_path / "other.csv").resolve()
    p.write_text("name: s\nbase_network: missing.csv\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:2: base_network: file 'missing.csv'"):
        load_scenario(p).base_network_path()


def test_error_carries_yaml_path_line_and_hint(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(
        "name: s\n"
        "changes:\n"
        "  - {kind: remove, ids: [dongsi]}\n"
        "  - {kind: retype, ids: [tiantan], type: traffic}\n"
        "  - kind: add\n"
        "    id: n1\n"
        "    lon: far\n"
        "    lat: 39.9\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}:7: changes[2].lon: Input should be a valid number")
    assert "\n" not in msg


def test_misspelt_key_reported_before_missing_field() -> None:
    with pytest.raises(ScenarioError, match=r"kriging\.variogram\.rnage: unknown key; "
                                            r"did you mean 'range'\?"):
        Scenario.from_dict({"name": "x", "kriging": {
            "variogram": {"model": "spherical", "psill": 1, "rnage": 1}}})


def test_with_overrides_revalidates() -> None:
    sc = load_scenario(ROOT / "scenarios" / "fyp14_expansion.yaml")
    quick = sc.with_overrides(realisations=2, seed=11)
    assert quick.realisations == 2 and quick.seed == 11 and sc.realisations == 20
    assert quick.source == sc.source and len(quick.changes) == len(sc.changes)
    with pytest.raises(ScenarioError, match="realisations"):
        sc.with_overrides(realisations=0)


def test_json_schema_forbids_unknown_keys_and_names_the_change_kinds() -> None:
    schema = scenario_json_schema()
    assert schema["additionalProperties"] is False
    defs = schema["$defs"]
    for name in ("AddStation", "RemoveStations", "RelocateStation", "RetypeStations", "Outage",
                 "Sensors", "KrigingSettings", "GridSettings", "OptimiseSettings"):
        assert defs[name]["additionalProperties"] is False, name
    changes = schema["properties"]["changes"]["items"]
    assert set(changes["discriminator"]["mapping"]) == {
        "add", "remove", "relocate", "retype", "outage", "sensors"}
    assert schema["properties"]["realisations"]["default"] == 20


def test_cli_schema_stdout_and_file(tmp_path: Path, capsys) -> None:
    from netsim.cli import main

    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "netsim scenario"
    out = tmp_path / "schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == printed


def test_cli_validate_summarises_changes(capsys) -> None:
    from netsim.cli import main

    assert main(["validate", str(ROOT / "scenarios" / "retire_traffic.yaml")]) == 0
    out = capsys.readouterr().out
    assert "35 -> 30 stations" in out and "5 removed" in out


def test_districts_in_chinese_are_accepted():
    """YAML may name districts as the statement does in Chinese (通州区) or without the
    suffix (通州); they are stored by their canonical name."""
    from netsim.scenario import Scenario

    sc = Scenario.from_dict({
        "name": "zh", "base_network": str(ROOT / "stations" / "beijing_35.csv"),
        "changes": [{"kind": "remove", "district": ["通州区", "大兴"]},
                    {"kind": "add", "id": "n1", "lon": 116.65, "lat": 39.9,
                     "district": "亦庄"}]})
    assert sc.changes[0].district == ["Tongzhou", "Daxing"]
    assert sc.changes[1].district == "Beijing Economic-Technological Development Area"
    _, table = sc.build_network()
    assert set(table.loc[table["change"] == "removed", "district"]) == {"Tongzhou", "Daxing"}


def test_network_file_districts_in_chinese(tmp_path):
    from netsim.network import Network

    f = tmp_path / "net.csv"
    f.write_text("station_id,type,district,lon,lat\na,urban,通州区,116.66,39.89\n"
                 "b,urban,海淀,116.29,39.99\n", encoding="utf-8")
    assert list(Network.from_file(f).stations["district"]) == ["Tongzhou", "Haidian"]
