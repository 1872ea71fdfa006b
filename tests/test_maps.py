"""Tests for netsim.maps.static_map (PNG written atomically, inputs validated)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from netsim.errors import GeographyError
from netsim.grid import Grid
from netsim.maps import STATION_STYLES, default_title, static_map

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def grid() -> Grid:
    return Grid.for_beijing(5000)


def _stations(grid: Grid) -> pd.DataFrame:
    t = grid.targets()
    types = ["urban", "traffic", "border", "background", "sensor"]
    return pd.DataFrame({"x": t[:5, 0], "y": t[:5, 1], "type": types})


def test_title_matches_statement_figures():
    assert default_title("PM2.5") == "Spatial Distribution of PM2.5 Annual Average Concentration"


def test_station_markers_are_distinct_per_type():
    markers = [s["marker"] for s in STATION_STYLES.values()]
    colours = [s["color"] for s in STATION_STYLES.values()]
    assert len(set(markers)) == len(markers) == 5
    assert len(set(colours)) == 5


def test_static_map_writes_a_png(tmp_path, grid):
    t = grid.targets()
    path = tmp_path / "maps" / "pm25_annual_mean.png"
    out = static_map(
        grid, 30 + t[:, 0] / 1e5, _stations(grid), pollutant="PM2.5", limit=35, path=path
    )
    assert out == path and path.exists()
    img = imread(path)
    assert img.shape[0] > 500 and img.shape[1] > 500
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_static_map_with_std_panel_and_network(tmp_path, grid):
    from netsim.network import Network

    net = Network.from_file(REPO / "stations" / "beijing_35.csv")
    t = grid.targets()
    path = tmp_path / "no2.png"
    static_map(
        grid, grid.to_array(25 + t[:, 1] / 1e6), net, pollutant="NO2", limit=40,
        path=path, std=np.full(grid.n_cells, 2.0), title="NO2 test",
    )  # fmt: skip
    single = tmp_path / "single.png"
    static_map(grid, 25 + t[:, 1] / 1e6, None, pollutant="NO2", limit=None, path=single)
    assert imread(path).shape[1] > imread(single).shape[1]  # two panels are wider


def test_bad_inputs_are_errors(tmp_path, grid):
    with pytest.raises(GeographyError, match="shape"):
        static_map(grid, np.zeros(3), None, pollutant="PM2.5", limit=35, path=tmp_path / "a.png")
    with pytest.raises(GeographyError, match="columns"):
        static_map(
            grid, np.zeros(grid.n_cells), pd.DataFrame({"x": [1.0]}), pollutant="PM2.5",
            limit=35, path=tmp_path / "b.png",
        )  # fmt: skip
    assert not list(tmp_path.iterdir())


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for t in fig.legends[0].get_texts()]


def test_legend_counts_stations_by_type_without_has_value(grid):
    from netsim.maps import map_figure
    from netsim.network import Network

    net = Network.from_file(REPO / "stations" / "beijing_35.csv")
    fig = map_figure(grid, np.zeros(grid.n_cells), net, pollutant="PM2.5", limit=35)
    texts = _legend_texts(fig)
    # beijing_35: 23 urban, 5 traffic, 6 border, 1 background (stations/README.md)
    assert texts[:4] == [
        "Urban assessment (23)", "Traffic (5)", "Border (regional) (6)", "Background (1)",
    ]  # fmt: skip
    assert not any("without" in t for t in texts)


def test_stations_without_value_are_hollow_and_counted(grid):
    from netsim.maps import map_figure

    stations = _stations(grid)  # urban, traffic, border, background, sensor
    has_value = np.array([True, False, True, False, False])
    fig = map_figure(
        grid, np.zeros(grid.n_cells), stations, pollutant="PM2.5", limit=35, has_value=has_value
    )
    texts = _legend_texts(fig)
    assert "2 stations with values, 3 without (hollow)" in texts
    # type counts are of stations with values; types with none get no entry
    assert "Urban assessment (1)" in texts and "Border (regional) (1)" in texts
    assert not any(t.startswith(("Traffic", "Background", "Low-cost")) for t in texts)
    # on the axes: 2 filled markers, 3 with no face colour
    from matplotlib.collections import PathCollection

    scatters = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    faces = [c.get_facecolor() for c in scatters]
    filled = sum(1 for f in faces if len(f) and f[0][3] > 0)
    hollow = sum(1 for f in faces if not len(f) or f[0][3] == 0)
    assert (filled, hollow) == (2, 3)


def test_has_value_must_match_the_stations(tmp_path, grid):
    with pytest.raises(GeographyError, match="has_value must be 5 booleans"):
        static_map(
            grid, np.zeros(grid.n_cells), _stations(grid), pollutant="PM2.5", limit=35,
            path=tmp_path / "a.png", has_value=np.ones(4, bool),
        )  # fmt: skip
    assert not list(tmp_path.iterdir())
