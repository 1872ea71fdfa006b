"""Tests for netsim.rasters: GeoTIFF round trip, layout, window writing, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from netsim import __version__
from netsim.errors import RasterError
from netsim.grid import Grid
from netsim.rasters import read_raster, write_raster


@pytest.fixture(scope="module")
def grid() -> Grid:
    return Grid.for_beijing(2000)


def _fields(grid: Grid) -> dict[str, np.ndarray]:
    t = grid.targets()
    est = grid.to_array(30 + t[:, 0] / 1e4)
    std = grid.to_array(np.hypot(t[:, 0] - 450_000, t[:, 1] - 4_420_000) / 1e4)
    return {"estimate": est, "std": std}


TAGS = {
    "pollutant": "PM2.5",
    "statistic": "annual_mean",
    "units": "µg/m³",
    "year": 2020,
    "network": "stations/beijing_35.csv",
    "variogram": {"model": "spherical", "psill": 40.0, "range": 25000.0, "nugget": 4.0},
    "realisation": "3",
}


def test_round_trip_values_tags_band_names_crs_transform(tmp_path, grid):
    fields = _fields(grid)
    path = tmp_path / "pm25.tif"
    write_raster(path, grid, fields, TAGS)
    r = read_raster(path)
    assert list(r.bands) == ["estimate", "std"]
    for name, arr in fields.items():
        got = r.bands[name]
        assert got.dtype == np.float32 and got.shape == grid.shape
        np.testing.assert_array_equal(np.isnan(got), ~grid.mask)
        np.testing.assert_allclose(got[grid.mask], arr[grid.mask], rtol=1e-6)
    assert r.crs == "EPSG:32650"
    assert r.transform == grid.transform
    assert r.grid_shape == grid.shape
    assert r.grid() is grid
    assert r.tags["pollutant"] == "PM2.5"
    assert r.tags["units"] == "µg/m³"
    assert r.tags["year"] == "2020"
    assert r.tags["realisation"] == "3"
    assert r.tags["netsim_version"] == __version__
    assert r.variogram == TAGS["variogram"]
    assert set(r.tags) == {*TAGS, "netsim_version"}


def test_file_layout_tiled_deflate_nan_nodata_overviews(tmp_path):
    grid = Grid.for_beijing(1000)
    path = tmp_path / "a.tif"
    write_raster(path, grid, {"estimate": grid.targets()[:, 1]}, TAGS)
    with rasterio.open(path) as src:
        assert src.profile["tiled"] and src.block_shapes == [(256, 256)]
        assert src.compression.name.lower() == "deflate"
        assert np.isnan(src.nodata)
        assert src.dtypes == ("float32",)
        assert src.descriptions == ("estimate",)
        assert max(src.shape) <= 256 and src.overviews(1) == []  # fits one block


@pytest.mark.parametrize(("resolution_m", "factors"), [(1000, []), (500, [2]), (250, [2, 4]),
                                                       (100, [2, 4, 8])])
def test_overviews_until_one_block_like_gdaladdo(tmp_path, resolution_m, factors):
    """gdaladdo's default levels: halve until the coarsest overview is at most 256 pixels
    (Beijing is ~160 km x 180 km: 1 km fits one 256-pixel block; 100 m needs 1/8)."""
    grid = Grid.for_beijing(resolution_m)
    path = tmp_path / "a.tif"
    write_raster(path, grid, {"estimate": grid.targets()[:, 1]}, TAGS)
    with rasterio.open(path) as src:
        assert src.overviews(1) == factors
        coarsest = max(src.shape) / (factors[-1] if factors else 1)
        assert coarsest <= 256 < 2 * coarsest
        if factors:
            ov = src.read(1, out_shape=(src.height // factors[-1], src.width // factors[-1]))
            assert np.isfinite(ov).any()


def test_cells_outside_beijing_are_nodata_whatever_the_input(tmp_path, grid):
    path = tmp_path / "c.tif"
    write_raster(path, grid, {"estimate": np.ones(grid.shape)})
    arr = read_raster(path).bands["estimate"]
    assert np.isnan(arr[~grid.mask]).all() and (arr[grid.mask] == 1).all()


def test_window_callable_writes_same_file_as_full_array(tmp_path, grid):
    full = _fields(grid)["estimate"]
    calls = []

    def windows(win):
        calls.append(win)
        return full[win.toslices()]

    write_raster(tmp_path / "w.tif", grid, {"estimate": windows})
    r = read_raster(tmp_path / "w.tif")
    np.testing.assert_allclose(r.bands["estimate"], full.astype(np.float32), equal_nan=True)
    assert calls  # produced block by block


def test_window_writing_at_100m_without_full_array(tmp_path):
    grid = Grid.for_beijing(100)

    def ramp(win):
        rows, cols = np.mgrid[
            win.row_off : win.row_off + win.height, win.col_off : win.col_off + win.width
        ]
        return (rows + cols).astype(np.float32)

    write_raster(tmp_path / "fine.tif", grid, {"estimate": ramp}, {"pollutant": "NO2"})
    with rasterio.open(tmp_path / "fine.tif") as src:
        assert src.shape == grid.shape
        r0, c0 = np.argwhere(grid.mask)[0]
        assert src.read(1, window=((r0, r0 + 1), (c0, c0 + 1)))[0, 0] == r0 + c0


def test_read_subset_of_bands(tmp_path, grid):
    write_raster(tmp_path / "s.tif", grid, _fields(grid))
    assert list(read_raster(tmp_path / "s.tif", bands=["std"]).bands) == ["std"]
    with pytest.raises(RasterError, match="no band named"):
        read_raster(tmp_path / "s.tif", bands=["truth"])


def test_wrong_band_shape_is_an_error(tmp_path, grid):
    with pytest.raises(RasterError, match="expected"):
        write_raster(tmp_path / "x.tif", grid, {"estimate": np.zeros((3, 4))})
    assert not (tmp_path / "x.tif").exists()
    assert list(tmp_path.iterdir()) == []  # no partial file left


def test_no_bands_and_bad_tags_are_errors(tmp_path, grid):
    with pytest.raises(RasterError, match="no bands"):
        write_raster(tmp_path / "x.tif", grid, {})
    with pytest.raises(RasterError, match="tag 'bad'"):
        write_raster(tmp_path / "x.tif", grid, {"e": np.zeros(grid.shape)}, {"bad": object()})


def test_reading_missing_or_foreign_files_is_an_error(tmp_path, grid):
    with pytest.raises(RasterError, match="not found"):
        read_raster(tmp_path / "missing.tif")
    (tmp_path / "junk.tif").write_text("not a tiff")
    with pytest.raises(RasterError, match="not a readable"):
        read_raster(tmp_path / "junk.tif")
    foreign = tmp_path / "foreign.tif"
    with rasterio.open(
        foreign, "w", driver="GTiff", width=2, height=2, count=1, dtype="float32",
        crs="EPSG:32650", transform=grid.transform,
    ) as dst:  # fmt: skip
        dst.write(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(RasterError, match="netsim_version"):
        read_raster(foreign)


def test_band_names_json_tag_is_internal(tmp_path, grid):
    write_raster(tmp_path / "b.tif", grid, _fields(grid))
    with rasterio.open(tmp_path / "b.tif") as src:
        assert json.loads(src.tags()["netsim_bands"]) == ["estimate", "std"]
    assert "netsim_bands" not in read_raster(tmp_path / "b.tif").tags
