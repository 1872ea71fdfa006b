"""Tests for netsim.areas: zonal statistics against analytic answers and the statement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netsim import geography
from netsim.areas import (
    AREA_COLUMNS,
    BLOCK_COLUMNS,
    _block_points,
    area_statistics,
    area_values,
    block_kriged_area_means,
    territory_meeting,
)
from netsim.grid import Grid
from netsim.kriging import krige
from netsim.network import Network
from netsim.variogram import Variogram

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).parent / "data" / "reference"  # published figures

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


def test_statement_territory_claim_from_a_kriged_map():
    """The statement's maps are interpolated from stations: kriging the published district
    PM2.5 values at the 23 urban stations of the 35-station layout (ordinary kriging,
    Cressie-fitted spherical variogram) and taking the map's district means gives the same
    8 districts and 79.8 % of the territory."""
    from netsim.variogram import fit_variogram

    grid = Grid.for_beijing(1000)
    published = pd.read_csv(REFERENCE / "beijing_2020_districts.csv").set_index("district")
    net = Network.from_file(ROOT / "stations" / "beijing_35.csv")
    urban = net.types == "urban"
    xy = net.xy[urban]
    values = published.loc[net.stations.loc[urban, "district"], "pm25"].to_numpy(float)
    extent = float(np.hypot(*np.ptp(xy, axis=0)))
    fit = fit_variogram(xy, values, "spherical", n_lags=8, max_distance=0.6 * extent,
                        bounds={"range": (5_000.0, 2 * extent)})
    kriged = krige(xy, values, grid.targets(), fit.variogram).estimate
    n, share = territory_meeting(grid, kriged, 35)
    assert n == 8
    assert share == pytest.approx(0.798, abs=0.005)


def test_calibrated_truth_reproduces_the_territory_claim():
    """The truth's expected annual PM2.5 (its calibrated pattern, the mean over realisations)
    meets the statement's claim too: 8 districts, about 80 % of the territory."""
    from netsim.truth import TruthSettings, TruthWorld

    grid = Grid.for_beijing(1000)
    expected = TruthWorld(grid, TruthSettings()).grid_base("PM2.5")
    n, share = territory_meeting(grid, expected, 35)
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


def test_area_values_are_numpy_s_statistics_of_each_area_s_cells(grid):
    """The arrays of ``area_values`` equal ``np.mean``/``min``/``max`` of each area's valid
    cells, bit for bit, and ``area_statistics`` is their frame."""
    rng = np.random.default_rng(8)
    field = np.where(grid.mask, rng.gamma(2.0, 20.0, grid.shape), np.nan)
    field[rng.random(grid.shape) < 0.2] = np.nan
    field[grid.area_mask("Xicheng")] = np.nan
    values = area_values(grid, field, limit=35.0)
    for i, name in enumerate(values.area):
        cells = field[grid.area_mask(name)]
        cells = cells[np.isfinite(cells)]
        assert values.area_km2[i] == cells.size * grid.cell_area_km2
        if name == "Xicheng":
            assert np.isnan([values.mean[i], values.min[i], values.share_above_limit[i]]).all()
            continue
        assert values.mean[i] == np.mean(cells), name
        assert (values.min[i], values.max[i]) == (cells.min(), cells.max())
        assert values.share_above_limit[i] == np.mean(cells > 35.0)
    pd.testing.assert_frame_equal(area_statistics(grid, field, limit=35.0), values.to_frame())


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


# ---------------------------------------------------------------- block kriging
STATIONS_CSV = Path(__file__).resolve().parents[1] / "stations" / "beijing_35.csv"
VARIOGRAM = Variogram("exponential", psill=20.0, range=30_000.0, nugget=1.0)


@pytest.fixture(scope="module")
def stations_xy() -> np.ndarray:
    return Network.from_file(STATIONS_CSV).xy


def _trend(xy: np.ndarray) -> np.ndarray:
    """A north-south gradient plus an east-west wiggle, µg/m³."""
    return 38 + (4_430_000 - xy[:, 1]) / 5e3 + 3 * np.sin(xy[:, 0] / 17e3)


def _cell_centres(grid: Grid, name: str) -> np.ndarray:
    rows, cols = np.nonzero(grid.area_mask(name))
    return np.column_stack([grid.x_centres[cols], grid.y_centres[rows]])


def test_block_means_of_a_constant_field_are_that_constant(stations_xy):
    """Ordinary kriging weights sum to one: every block mean is the constant."""
    grid = Grid.for_beijing(5000)
    df = block_kriged_area_means(grid, stations_xy, np.full(len(stations_xy), 37.0), VARIOGRAM)
    assert list(df.columns) == BLOCK_COLUMNS
    assert df["area"].tolist() == grid.area_names()
    assert df.set_index("area").loc["city", "kind"] == "city"
    ok = df["block_mean"].notna()
    assert ok.sum() == 21  # Dongcheng has no 5 km cell centre
    assert df.loc[~ok, "area"].tolist() == ["Dongcheng"] and df.loc[~ok, "block_se"].isna().all()
    np.testing.assert_allclose(df.loc[ok, "block_mean"], 37.0, rtol=1e-10)
    assert (df.loc[ok, "block_se"] >= 0).all()


def test_block_mean_is_the_mean_of_point_estimates_and_its_variance_is_smaller(stations_xy):
    """Kriging is linear: block estimate = average of the point estimates over the
    discretisation points; averaging cancels point errors: block variance ≤ mean point variance."""
    grid = Grid.for_beijing(5000)  # at most 658 cells per area: no thinning
    z = _trend(stations_xy)
    df = block_kriged_area_means(grid, stations_xy, z, VARIOGRAM).set_index("area")
    for name in grid.area_names():
        pts = _cell_centres(grid, name)
        if pts.shape[0] == 0:
            continue
        r = krige(stations_xy, z, pts, VARIOGRAM)
        assert df.loc[name, "block_mean"] == pytest.approx(r.estimate.mean(), abs=1e-8), name
        assert df.loc[name, "block_se"] ** 2 <= r.variance.mean() + 1e-12, name
    # the city mean is far better known than any point: SE well under the mean point std
    city = krige(stations_xy, z, grid.targets(), VARIOGRAM)
    assert df.loc["city", "block_se"] < 0.5 * np.sqrt(city.variance).mean()


def test_block_variance_matches_a_hand_built_ordinary_kriging_system(stations_xy):
    """sigma_B² = sum λ_i gamma_bar(x_i, B) + mu - gamma_bar(B, B) (Journel & Huijbregts
    1978 §V.A.2), solved here with numpy.linalg on the augmented system."""
    grid = Grid.for_beijing(5000)
    z = _trend(stations_xy)
    name = "Haidian"
    pts = _cell_centres(grid, name)
    n = len(stations_xy)

    def gamma(a, b):
        return VARIOGRAM.gamma(
            np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
        )

    A = np.ones((n + 1, n + 1))
    A[:n, :n] = gamma(stations_xy, stations_xy)
    np.fill_diagonal(A[:n, :n], 0.0)
    A[n, n] = 0.0
    rhs = np.append(gamma(stations_xy, pts).mean(axis=1), 1.0)
    sol = np.linalg.solve(A, rhs)
    lam, mu = sol[:n], sol[n]
    gpp = gamma(pts, pts)
    np.fill_diagonal(gpp, 0.0)
    var = lam @ rhs[:n] + mu - gpp.mean()
    row = block_kriged_area_means(grid, stations_xy, z, VARIOGRAM, areas=[name]).iloc[0]
    assert row["block_mean"] == pytest.approx(lam @ z, rel=1e-10)
    assert row["block_se"] == pytest.approx(np.sqrt(var), rel=1e-8)


def test_one_point_blocks_are_point_kriging(stations_xy):
    """With one discretisation point per area the block estimate and variance are the
    point kriging estimate and variance at that cell centre."""
    grid = Grid.for_beijing(5000)
    z = _trend(stations_xy)
    names = ["Haidian", "Miyun", "city"]
    df = block_kriged_area_means(grid, stations_xy, z, VARIOGRAM, areas=names, max_points=1)
    cells = {tuple(p) for name in names for p in _cell_centres(grid, name)}
    for name, row in zip(names, df.itertuples(), strict=True):
        pt = _block_points(grid, name, 1)
        assert pt.shape == (1, 2) and tuple(pt[0]) in cells
        r = krige(stations_xy, z, pt, VARIOGRAM)
        assert row.block_mean == pytest.approx(r.estimate[0], abs=1e-8)
        assert row.block_se == pytest.approx(np.sqrt(r.variance[0]), rel=1e-8)


def test_large_areas_are_thinned_to_a_regular_sub_lattice(stations_xy):
    grid = Grid.for_beijing(1000)
    full = _cell_centres(grid, "city")
    pts = _block_points(grid, "city", 2000)
    assert 1000 < pts.shape[0] <= 2000 < full.shape[0]
    # a subset of the cell centres, on a lattice of spacing s × resolution
    assert {tuple(p) for p in pts} <= {tuple(p) for p in full}
    steps = np.diff(np.unique(pts[:, 0]))
    s = steps.min()
    assert s > grid.resolution_m and np.allclose(steps % s, 0)
    # small areas keep every cell
    np.testing.assert_array_equal(
        _block_points(grid, "Xicheng", 2000), _cell_centres(grid, "Xicheng")
    )
    # the block estimate is still the mean of point estimates at the thinned points
    z = _trend(stations_xy)
    row = block_kriged_area_means(grid, stations_xy, z, VARIOGRAM, areas=["city"]).iloc[0]
    assert row["block_mean"] == pytest.approx(
        krige(stations_xy, z, pts, VARIOGRAM).estimate.mean(), abs=1e-8
    )
    # and close to the full-discretisation answer (thinning error ≪ SE)
    r_full = krige(stations_xy, z, full, VARIOGRAM)
    assert abs(row["block_mean"] - r_full.estimate.mean()) < 0.05 * row["block_se"]


def test_block_means_unknown_area_is_an_error(stations_xy):
    from netsim.errors import GeographyError

    grid = Grid.for_beijing(5000)
    with pytest.raises(GeographyError):
        block_kriged_area_means(
            grid, stations_xy, _trend(stations_xy), VARIOGRAM, areas=["Atlantis"]
        )
