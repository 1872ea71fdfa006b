"""netsim.measure: one network's figures, measured one pollutant at a time."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from netsim.errors import ScenarioError
from netsim.grid import Grid
from netsim.measure import NetworkMeasurement, measure_network
from netsim.readings import HourlyReadings
from netsim.run import RunInputs, prepare_networks, run_realisation
from netsim.scenario import Scenario
from netsim.truth import TruthSettings, TruthWorld

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ROOT / "stations" / "beijing_35.csv"

pytestmark = pytest.mark.slow


def _scenario(**overrides) -> Scenario:
    data = {
        "name": "test_measure",
        "base_network": str(STATIONS),
        "realisations": 1,
        "pollutants": ["PM2.5", "O3", "NO2"],
        "grid": {"resolution_m": 5000},
        "outputs": {"maps": False, "web_map": False, "time_resolved": "day"},
    }
    data.update(overrides)
    return Scenario.from_dict(data)


def _same_outcome(a, b) -> None:
    pd.testing.assert_frame_equal(a.scalars, b.scalars)
    pd.testing.assert_frame_equal(a.by_station, b.by_station)
    pd.testing.assert_frame_equal(a.station_metrics, b.station_metrics)
    assert list(a.fields) == list(b.fields) and a.variograms == b.variograms
    for p, bands in a.fields.items():
        for band, values in bands.items():
            assert values.tobytes() == b.fields[p][band].tobytes()
    assert list(a.time_resolved) == list(b.time_resolved)
    for band, values in a.time_resolved.items():
        assert values.tobytes() == b.time_resolved[band].tobytes()


def test_pollutant_by_pollutant_in_any_order_is_measure_network():
    """Readings added one pollutant at a time, in reverse order and with the stations
    reversed (PM10 only in the statistics: not one of the scenario's pollutants), give
    the outcome of all of them at once: tables, fields, variograms and time-resolved maps
    to the bit."""
    scenario = _scenario()
    network = prepare_networks(scenario)[0]["baseline"]
    grid = Grid.for_beijing(5000)
    realisation = TruthWorld(grid, TruthSettings(seed=4)).realise(0)
    readings = realisation.sample_hourly(network, pollutants=["PM2.5", "PM10", "NO2", "O3"])
    whole = measure_network(scenario, network, readings, grid, truth=realisation.annual_mean)
    measurement = NetworkMeasurement(scenario, network, grid, truth=realisation.annual_mean)
    backwards = readings.select(network.ids[::-1])  # any station order
    for p in reversed(list(readings.values)):
        measurement.add(HourlyReadings(backwards.station_ids, readings.year,
                                       {p: backwards.values[p]}, source=readings.source))
    _same_outcome(measurement.finish(), whole)
    assert "PM10" in set(whole.by_station["pollutant"]) and "PM10" not in whole.fields


def test_a_measurement_without_readings_is_refused():
    scenario = _scenario()
    network = prepare_networks(scenario)[0]["baseline"]
    with pytest.raises(ScenarioError, match="no readings were added"):
        NetworkMeasurement(scenario, network, Grid.for_beijing(5000)).finish()


def test_a_realisation_holds_one_pollutants_hours_at_a_time():
    """535 stations read 38 MB of hours per pollutant (8784 h × 8 bytes): a realisation
    of six pollutants peaks near one pollutant's share, below two (a sampler that kept
    the previous pollutant while it sampled the next peaked at 2.5 of them)."""
    scenario = _scenario(
        pollutants=["PM2.5", "PM10", "NO2", "SO2", "CO", "O3"],
        outputs={"maps": False, "web_map": False},
        changes=[{"kind": "sensors", "count": 300, "placement": "random"}],
        kriging={"n_neighbours": 16})
    networks = prepare_networks(scenario)[0]
    inputs = RunInputs(scenario=scenario, networks=networks, resolution_m=5000)
    run_realisation(1, inputs)  # the world and its caches, once per process
    one_pollutant = len(networks["scenario"].ids) * 8784 * 8
    tracemalloc.start()
    try:
        run_realisation(0, inputs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * one_pollutant, f"peak {peak / 2**20:.0f} MB"
