"""Tests for netsim.areas: zonal statistics against analytic answers and the statement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from netsim import geography
from netsim.areas import AREA_COLUMNS, area_statistics, territory_meeting
from netsim.grid import Grid

# beijing_2020_districts.csv (Beijing 2020 statement), PM2.5 annual means, µg/m³
PM25_2020 = {
    "Dongcheng": 40, "Xicheng": 40, "Chaoyang": 39, "Haidian": 36, "Fengtai": 36,
    "Shijingshan": 37, "Mentougou": 32, "Fangshan": 35, "Tongzhou": 37, "Shunyi": 35,
    "Daxing": 37, "Changping": 33, "Pinggu": 34, "Huairou": 29, "Miyun": 29, "Yanqing": 31,
}  # fmt: skip


@pytest.fixture(scope="module")
def grid() -> Grid:
    return Grid.for_beijing(2000)


def _district_field(grid: Grid, values: dict[str, float]) -> np.ndarray:
    names = list(geography.DISTRICTS.values())
    lut = np.array([values[n] for n in names], dtype=float)
    return np.where(grid.mask, lut[np.clip(grid.district, 0, None)], np.nan)


def test_columns_and_rows(grid):
    df = area_statistics(grid, np.ones(grid.n_cells))
    assert list(df.columns) == AREA_COLUMNS
    assert len(df) == 22
    assert df["share_above_limit"].isna().all()
    assert (df["mean"] == 1).all()
    city = df.set_index("area").loc["city"]
    assert city["kind"] == "city"
    assert city["area_km2"] == pytest.approx(grid.area_km2)


@pytest.mark.parametrize("res", [5000.0, 2000.0, 1000.0])
def test_mean_of_easting_is_the_polygon_centroid_easting(res):
    """field = x  ⇒  area-weighted mean = centroid x (up to boundary cells)."""
    grid = Grid.for_beijing(res)
    t = grid.targets()
    df = area_statistics(grid, t[:, 0]).set_index("area")
    a = geography.areas().set_index("area")
    for name in [*geography.DISTRICTS.values(), "central_urban", "ecological", "city"]:
        geom = a.loc[name, "geometry"]
        if geom.area < 10 * res**2:  # too few cells at this resolution (Dongcheng at 5 km)
            continue
        # error of a cell-centre zonal mean: a fraction of a cell for small areas,
        # much less for large ones; 1.5 cells plus 1 % of the area's width
        width = geom.bounds[2] - geom.bounds[0]
        tol = 1.5 * res + 0.01 * width
        assert df.loc[name, "mean"] == pytest.approx(geom.centroid.x, abs=tol), name
        assert df.loc[name, "min"] >= geom.bounds[0] - res / 2
        assert df.loc[name, "max"] <= geom.bounds[2] + res / 2
    # the city is large: centroid within a quarter cell at 1 km
    if res == 1000.0:
        assert df.loc["city", "mean"] == pytest.approx(
            a.loc["city", "geometry"].centroid.x, abs=250
        )


def test_share_above_limit_on_a_northing_field(grid):
    """field = y, limit = y0  ⇒  share above = area north of y0 / area."""
    t = grid.targets()
    y0 = float(np.median(t[:, 1]))
    df = area_statistics(grid, t[:, 1], limit=y0).set_index("area")
    expected = float(np.mean(t[:, 1] > y0))
    assert df.loc["city", "share_above_limit"] == pytest.approx(expected)
    assert 0.45 < df.loc["city", "share_above_limit"] <= 0.5
    # the core area (around 39.9 °N) lies wholly south of the city's median northing
    assert df.loc["core", "share_above_limit"] == 0.0


def test_constant_district_field_gives_each_district_its_value(grid):
    field = _district_field(grid, PM25_2020)
    df = area_statistics(grid, field, limit=35).set_index("area")
    for name, v in PM25_2020.items():
        assert df.loc[name, "mean"] == v
        assert df.loc[name, "share_above_limit"] == (1.0 if v > 35 else 0.0)
    # groups: area-weighted means of their districts
    d = df.loc[list(geography.AREA_GROUPS["central_urban"])]
    expected = np.average(d["mean"], weights=d["area_km2"])
    assert df.loc["central_urban", "mean"] == pytest.approx(expected)
    assert df.loc["core", "mean"] == 40


def test_statement_8_districts_about_80_percent_of_territory():
    """Statement: 8 districts meet Grade II (≤ 35), covering about 80 % of the territory.
    By hand with the published district areas: (1447.85 + 1989.54 + 1019.89 + 1343.54 +
    950.13 + 2122.62 + 2229.45 + 1993.75) / 16410.54 = 13096.77 / 16410.54 = 0.798."""
    grid = Grid.for_beijing(1000)
    n, share = territory_meeting(grid, _district_field(grid, PM25_2020), 35)
    assert n == 8
    assert share == pytest.approx(0.798, abs=0.005)


def test_territory_meeting_rounding_and_extremes(grid):
    field = _district_field(grid, {n: 35.4 for n in geography.DISTRICTS.values()})
    assert territory_meeting(grid, field, 35) == (0, 0.0)
    assert territory_meeting(grid, field, 35, decimals=0) == (16, 1.0)


def test_nan_cells_are_ignored(grid):
    field = np.full(grid.shape, np.nan)
    field[grid.area_mask("Dongcheng")] = 50.0
    df = area_statistics(grid, field, limit=40).set_index("area")
    assert df.loc["Dongcheng", "mean"] == 50
    assert df.loc["core", "mean"] == 50  # Xicheng has no value
    assert np.isnan(df.loc["Xicheng", "mean"]) and df.loc["Xicheng", "area_km2"] == 0
    assert isinstance(df, pd.DataFrame)


def test_development_area_statistics(grid):
    t = grid.targets()
    df = area_statistics(grid, t[:, 0]).set_index("area")
    row = df.loc[geography.DEVELOPMENT_AREA]
    assert row["kind"] == "development_area"
    poly = geography.development_area_polygon()
    assert row["mean"] == pytest.approx(poly.centroid.x, abs=grid.resolution_m)


def test_wrong_shape_is_an_error(grid):
    from netsim.errors import GeographyError

    with pytest.raises(GeographyError, match="expected"):
        area_statistics(grid, np.zeros(5))
