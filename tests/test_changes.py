"""netsim.changes: each change kind applied to the Beijing network, outage masks, sensors."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest

from netsim.changes import DISTRICT_NAMES, Direction, Outage, Sensors, StationType
from netsim.errors import ScenarioError
from netsim.network import Network
from netsim.scenario import Scenario


@pytest.fixture(scope="module")
def base() -> Network:
    return Network.from_file("stations/beijing_35.csv")


def build(base: Network, *changes: dict, seed: int = 2020):
    sc = Scenario.from_dict({"name": "t", "changes": list(changes), "truth": {"seed": seed}})
    return sc.build_network(base)


def test_vocabularies_match_the_network_and_geography() -> None:
    from netsim.geography import DEVELOPMENT_AREA, districts
    from netsim.network import DIRECTIONS, STATION_TYPES

    assert set(get_args(StationType)) == set(STATION_TYPES)
    assert set(get_args(Direction)) == set(DIRECTIONS)
    assert set(DISTRICT_NAMES) == {*districts()["district"], DEVELOPMENT_AREA}


def test_add_by_lonlat_and_by_xy_agree_and_derive_district(base: Network) -> None:
    from netsim.crs import lonlat_to_xy

    x, y = lonlat_to_xy(np.array([116.45]), np.array([39.95]))
    a, ta = build(base, {"kind": "add", "id": "n1", "lon": 116.45, "lat": 39.95})
    b, _ = build(base, {"kind": "add", "id": "n1", "x": float(x[0]), "y": float(y[0])})
    ra = a.stations.set_index("station_id").loc["n1"]
    rb = b.stations.set_index("station_id").loc["n1"]
    assert ra["x"] == pytest.approx(rb["x"]) and ra["lat"] == pytest.approx(rb["lat"])
    assert ra["district"] == "Chaoyang" and ra["type"] == "urban"
    assert ra["instrument"] == "reference" and ra["name"] == "n1"
    assert ta.set_index("station_id").loc["n1", "change"] == "added"
    assert len(a) == 36


def test_add_in_the_development_area_gets_its_name(base: Network) -> None:
    net, _ = build(base, {"kind": "add", "id": "bda2", "lon": 116.53, "lat": 39.79})
    row = net.stations.set_index("station_id").loc["bda2"]
    assert row["district"] == "Beijing Economic-Technological Development Area"


def test_remove_by_ids_and_selectors(base: Network) -> None:
    net, table = build(base, {"kind": "remove", "ids": ["dongsi", "yufa"]})
    assert len(net) == 33 and "dongsi" not in set(net.ids)
    assert set(table.loc[table.change == "removed", "station_id"]) == {"dongsi", "yufa"}
    net, _ = build(base, {"kind": "remove", "type": "traffic"})
    assert len(net) == 30 and "traffic" not in set(net.types)
    net, _ = build(base, {"kind": "remove", "type": "border", "direction": ["S", "SW", "SE"]})
    assert len(net) == 32
    net, _ = build(base, {"kind": "remove", "district": "Dongcheng"})
    assert len(net) == 35 - 4  # dongsi, tiantan, qianmen, yongdingmennei


def test_removed_rows_keep_base_attributes(base: Network) -> None:
    _, table = build(base, {"kind": "remove", "ids": "yufa"})
    row = table.set_index("station_id").loc["yufa"]
    assert row["type"] == "border" and row["direction"] == "S"
    assert row["lon"] == pytest.approx(116.3)
    assert list(table.columns)[-1] == "change"


def test_relocate_moves_and_rederives_district(base: Network) -> None:
    net, table = build(base, {"kind": "relocate", "id": "wanliu", "lon": 116.40, "lat": 39.90})
    row = net.stations.set_index("station_id").loc["wanliu"]
    assert row["lon"] == pytest.approx(116.40) and row["district"] == "Dongcheng"
    assert table.set_index("station_id").loc["wanliu", "change"] == "moved"


def test_retype_sets_type_and_clears_direction(base: Network) -> None:
    net, table = build(base, {"kind": "retype", "ids": ["yufa", "dongsi"], "type": "urban"},
                       {"kind": "retype", "ids": "tiantan", "type": "border", "direction": "N"})
    st = net.stations.set_index("station_id")
    assert st.loc["yufa", "type"] == "urban" and st.loc["yufa", "direction"] == ""
    assert st.loc["tiantan", "direction"] == "N"
    changes = table.set_index("station_id")["change"]
    assert changes["yufa"] == "retyped" and changes["dongsi"] == "unchanged"  # already urban


def test_changes_apply_in_order(base: Network) -> None:
    _, table = build(base, {"kind": "remove", "ids": ["yufa"]},
                     {"kind": "add", "id": "yufa", "lon": 116.29, "lat": 39.51, "type": "border",
                        "direction": "S"})
    assert table.set_index("station_id").loc["yufa", "change"] == "moved"
    with pytest.raises(ScenarioError, match=r"changes\[1\]\.id: unknown station 'yufa'"):
        build(base, {"kind": "remove", "ids": ["yufa"]}, {"kind": "relocate", "id": "yufa",
                                                          "lon": 116.3, "lat": 39.55})


def test_remove_everything_is_an_error(base: Network) -> None:
    with pytest.raises(ScenarioError, match="no station"):
        build(base, *[{"kind": "remove", "type": t}
                      for t in ("urban", "traffic", "border", "background")])


# ---------------------------------------------------------------------------- outage


def _readings(network: Network, year: int = 2020):
    from netsim.readings import HourlyReadings, hours_in_year

    n, h = len(network), hours_in_year(year)
    values = {p: np.full((n, h), 10.0) for p in ("PM2.5", "NO2")}
    return HourlyReadings(station_ids=network.ids, year=year, values=values)


def test_outage_months_full_loss_blanks_exactly_the_winter_hours(base: Network) -> None:
    sc = Scenario.from_dict({"name": "t", "changes": [
        {"kind": "outage", "stations": ["dongsi"], "months": [12, 1, 2], "data_loss": 1.0}]})
    net, table = sc.build_network(base)
    assert (table["change"] == "unchanged").all()
    out = sc.mask_readings(_readings(net), net, realisation=0)
    row = list(net.ids).index("dongsi")
    lost = np.isnan(out.values["PM2.5"][row])
    # 2020: Jan 31 + Feb 29 + Dec 31 days = 91 days = 2184 hours
    assert lost.sum() == 91 * 24
    assert lost[: 60 * 24].all() and not lost[60 * 24 : 335 * 24].any() and lost[335 * 24 :].all()
    assert np.isnan(out.values["NO2"][row]).sum() == 91 * 24  # every pollutant of the station
    others = np.delete(out.values["PM2.5"], row, axis=0)
    assert not np.isnan(others).any()


def test_outage_start_end_is_inclusive(base: Network) -> None:
    ch = Outage(kind="outage", stations=["dongsi"], start="2020-01-02", end="2020-01-03")
    mask = ch.hour_mask(2020, 8784)
    assert mask.sum() == 48 and mask[24] and mask[71] and not mask[23] and not mask[72]


def test_outage_partial_loss_rate_and_reproducibility(base: Network) -> None:
    sc = Scenario.from_dict({"name": "t", "changes": [
        {"kind": "outage", "fraction": 1.0, "months": [1], "data_loss": 0.2}]})
    r = _readings(base)
    a = sc.mask_readings(r, base, realisation=3)
    b = sc.mask_readings(r, base, realisation=3)
    c = sc.mask_readings(r, base, realisation=4)
    lost = np.isnan(a.values["PM2.5"][:, : 31 * 24])
    # 35 x 744 Bernoulli(0.2) hours: mean 0.2, sd sqrt(0.16 / 26040) = 0.0025
    assert lost.mean() == pytest.approx(0.2, abs=0.01)
    assert not np.isnan(a.values["PM2.5"][:, 31 * 24 :]).any()
    np.testing.assert_array_equal(np.isnan(a.values["PM2.5"]), np.isnan(b.values["PM2.5"]))
    assert (np.isnan(a.values["PM2.5"]) != np.isnan(c.values["PM2.5"])).any()
    assert not np.isnan(r.values["PM2.5"]).any()  # input untouched


def test_outage_random_fraction_of_a_type(base: Network) -> None:
    ch = Outage(kind="outage", fraction=0.1, type=["urban"])
    hit = ch.affected(base, np.random.default_rng(0))
    assert len(hit) == 2  # round(0.1 x 23)
    assert set(base.stations.set_index("station_id").loc[list(hit), "type"]) == {"urban"}


def test_outage_unknown_station_is_located(base: Network) -> None:
    with pytest.raises(ScenarioError, match=r"changes\[0\]\.stations\[0\]: unknown station"):
        build(base, {"kind": "outage", "stations": ["nowhere"]})


# ---------------------------------------------------------------------------- sensors


@pytest.mark.parametrize("placement", ["random", "grid", "population"])
def test_sensors_inside_beijing_unique_and_typed(base: Network, placement: str) -> None:
    from netsim.geography import inside_beijing

    ch = Sensors(kind="sensors", count=120, placement=placement, noise_pct=25, bias_pct=10)
    xy = ch.positions(base, np.random.default_rng(1))
    assert xy.shape == (120, 2)
    assert inside_beijing(xy[:, 0], xy[:, 1]).all()
    assert len(np.unique(xy, axis=0)) == 120
    net = ch.apply(base, np.random.default_rng(1))
    new = net.stations[net.stations["type"] == "sensor"]
    assert len(new) == 120 and new["station_id"].iloc[0] == "sensor0001"
    assert (new["instrument"] == "lowcost").all() and (new["district"] != "").all()


def test_sensor_grid_is_even_and_population_is_central(base: Network) -> None:
    from scipy.spatial import cKDTree

    from netsim.crs import lonlat_to_xy
    from netsim.geography import beijing_boundary

    n = 400
    spacing = np.sqrt(beijing_boundary().area / n)
    grid = Sensors(kind="sensors", count=n, placement="grid").positions(
        base, np.random.default_rng(2))
    d, _ = cKDTree(grid).query(grid, k=2)
    # a square lattice: nearest neighbours one spacing apart (shrunk by at most ~20 %)
    assert d[:, 1].min() > 0.75 * spacing and d[:, 1].max() < 1.0001 * spacing

    cx, cy = lonlat_to_xy(np.array([116.397]), np.array([39.909]))  # Tiananmen
    def central_share(xy):
        return (np.hypot(xy[:, 0] - cx[0], xy[:, 1] - cy[0]) < 20_000).mean()
    pop = Sensors(kind="sensors", count=n, placement="population").positions(
        base, np.random.default_rng(2))
    rnd = Sensors(kind="sensors", count=n, placement="random").positions(
        base, np.random.default_rng(2))
    # 20 km around Tiananmen is ~7.7 % of Beijing; the proxy concentrates sensors there
    assert central_share(rnd) < 0.15 < 0.3 < central_share(pop)


def test_sensor_layout_depends_on_seed_and_offset_only(base: Network) -> None:
    def layout(seed: int, offset: int) -> np.ndarray:
        net, _ = build(base, {"kind": "sensors", "count": 20, "seed_offset": offset}, seed=seed)
        return net.xy[-20:]

    np.testing.assert_array_equal(layout(1, 0), layout(1, 0))
    assert not np.allclose(layout(1, 0), layout(1, 1))
    assert not np.allclose(layout(1, 0), layout(2, 0))


def test_sensor_id_clash(base: Network) -> None:
    with pytest.raises(ScenarioError, match="id_prefix"):
        build(base, {"kind": "sensors", "count": 5}, {"kind": "sensors", "count": 5})


def test_changes_does_not_import_scenario_or_run():
    """Layering: the network changes must not need the scenario file or the run (also
    not lazily, inside a function)."""
    import ast
    from pathlib import Path

    import netsim.changes

    tree = ast.parse(Path(netsim.changes.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not imported & {"netsim.scenario", "netsim.run", "netsim.sweep", "netsim.outputs"}
