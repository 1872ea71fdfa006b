"""Tests for netsim.grid.Grid: alignment, mask and district raster vs polygons."""

from __future__ import annotations

import numpy as np
import pytest

from netsim import geography
from netsim.errors import GeographyError
from netsim.grid import Grid


@pytest.fixture(scope="module")
def g2() -> Grid:
    return Grid.for_beijing(2000)


def test_grid_is_cached_per_resolution():
    assert Grid.for_beijing(5000) is Grid.for_beijing(5000.0)
    assert Grid.for_beijing(5000) is not Grid.for_beijing(2000)


@pytest.mark.parametrize("res", [5000.0, 2000.0, 1000.0])
def test_grid_is_aligned_to_round_utm_coordinates_and_covers_beijing(res):
    g = Grid.for_beijing(res)
    t = g.transform
    assert t.a == res and t.e == -res and t.b == 0 and t.d == 0
    assert t.c % res == 0 and t.f % res == 0
    w, s, e, n = geography.beijing_boundary().bounds
    gw, gs, ge, gn = g.bounds
    assert gw <= w < gw + res and ge - res < e <= ge
    assert gs <= s < gs + res and gn - res < n <= gn
    assert g.crs == "EPSG:32650"
    assert g.cell_area_km2 == pytest.approx(res**2 / 1e6)


@pytest.mark.parametrize("res, rel", [(5000.0, 0.02), (2000.0, 0.005), (1000.0, 0.002)])
def test_mask_area_matches_polygon_area_with_shrinking_tolerance(res, rel):
    g = Grid.for_beijing(res)
    assert g.area_km2 == pytest.approx(geography.beijing_boundary().area / 1e6, rel=rel)


def test_district_raster_areas_match_polygons_at_1km():
    g = Grid.for_beijing(1000)
    d = geography.districts()
    for i, geom in enumerate(d.geometry):
        cells = int((g.district == i).sum())
        poly_km2 = geom.area / 1e6
        # boundary cells: error ~ perimeter × cell / 4 in expectation; allow ~3 sqrt(perimeter)
        tol = max(0.03 * poly_km2, 3 * np.sqrt(geom.length / 1000))
        assert abs(cells - poly_km2) < tol, d["district"][i]


def test_district_ids_agree_with_polygons_at_cell_centres(g2):
    t = g2.targets()
    ids = g2.from_array(g2.district)
    names = np.asarray(list(geography.DISTRICTS.values()), dtype=object)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(t), 400, replace=False)
    np.testing.assert_array_equal(geography.district_at(t[pick, 0], t[pick, 1]), names[ids[pick]])
    assert (g2.district[~g2.mask] == -1).all()
    assert g2.district.dtype == np.int16


def test_mask_agrees_with_inside_beijing(g2):
    xx, yy = np.meshgrid(g2.x_centres, g2.y_centres)
    inside = geography.inside_beijing(xx, yy)
    # a centre exactly on the boundary may differ; none expected at this resolution
    assert (inside != g2.mask).sum() <= 2


def test_targets_are_row_major_inside_centres_and_to_array_inverts(g2):
    t = g2.targets()
    assert t.shape == (g2.n_cells, 2) and t.dtype == np.float64
    rows, cols = g2.cell_index(t[:, 0], t[:, 1])
    assert g2.mask[rows, cols].all()
    assert np.all(np.diff(rows * g2.nx + cols) > 0)
    arr = g2.to_array(t[:, 0])
    assert arr.shape == g2.shape
    assert np.isnan(arr[~g2.mask]).all()
    np.testing.assert_array_equal(arr[rows, cols], t[:, 0])
    stack = g2.to_array(np.vstack([t[:, 0], t[:, 1]]))
    assert stack.shape == (2, *g2.shape)
    np.testing.assert_array_equal(g2.from_array(stack), np.vstack([t[:, 0], t[:, 1]]))


def test_to_array_rejects_wrong_length(g2):
    with pytest.raises(GeographyError, match="expected"):
        g2.to_array(np.zeros(g2.n_cells + 1))


@pytest.mark.parametrize("bad", [50, 0, -1000, float("nan"), "abc", 1e6])
def test_invalid_resolution_is_an_error(bad):
    with pytest.raises(GeographyError, match="resolution_m"):
        Grid.for_beijing(bad)


def test_area_masks(g2):
    city = g2.area_mask("city")
    np.testing.assert_array_equal(city, g2.mask)
    core = g2.area_mask("core")
    np.testing.assert_array_equal(core, g2.area_mask("Dongcheng") | g2.area_mask("Xicheng"))
    eda = g2.area_mask(geography.DEVELOPMENT_AREA)
    assert eda.sum() * g2.cell_area_km2 == pytest.approx(60, abs=2 * 4 * 2 * 4)
    assert not (eda & ~g2.mask).any()
    total = sum(g2.area_mask(n).sum() for n in geography.DISTRICTS.values())
    assert total == g2.n_cells
    assert g2.area_mask("core") is g2.area_mask("core")
    with pytest.raises(GeographyError, match="unknown"):
        g2.area_mask("Chongwen")
    assert len(g2.area_names()) == 22


def test_development_area_mask_at_1km_is_60_cells():
    g = Grid.for_beijing(1000)
    assert g.area_mask(geography.DEVELOPMENT_AREA).sum() == pytest.approx(60, abs=3)


def test_100m_grid_has_1_6_million_cells_and_matches_polygon_area():
    g = Grid.for_beijing(100)
    assert 1_600_000 < g.n_cells < 1_700_000
    assert g.area_km2 == pytest.approx(geography.beijing_boundary().area / 1e6, rel=2e-4)


@pytest.mark.parametrize("area", ["Haidian", geography.DEVELOPMENT_AREA, "plains", "city"])
def test_area_cells_are_the_area_masks_cells_in_targets_order(g2, area):
    cells = g2.area_cells(area)
    assert cells.size == int(g2.area_mask(area).sum())
    assert (np.diff(cells) > 0).all()
    rows, cols = g2.cell_index(*g2.targets()[cells].T)
    assert g2.area_mask(area)[rows, cols].all()
    assert g2.area_cells(area) is cells  # cached


def test_a_grid_pickles_as_its_definition():
    """A Beijing grid unpickles as the process's shared instance; another grid as an equal
    one; neither carries its caches (area masks, cells)."""
    import pickle

    beijing = Grid.for_beijing(5000)
    beijing.area_cells("Haidian")  # a cache to leave behind
    data = pickle.dumps(beijing)
    assert pickle.loads(data) is beijing
    assert len(data) < 200
    custom = Grid(resolution_m=1000.0, west_m=0.0, north_m=3000.0, shape=(3, 2),
                  district=np.array([[0, -1], [1, 1], [-1, 0]], np.int16))
    copy = pickle.loads(pickle.dumps(custom))
    assert copy is not custom and not copy._for_beijing
    assert (copy.resolution_m, copy.west_m, copy.north_m, copy.shape) == (1000.0, 0.0, 3000.0,
                                                                          (3, 2))
    assert np.array_equal(copy.district, custom.district) and copy.crs == custom.crs
