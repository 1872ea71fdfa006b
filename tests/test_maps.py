"""Tests for netsim.maps.static_map (PNG written atomically, inputs validated)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from netsim import maps
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


# --- colour scales -----------------------------------------------------------------------


def test_shared_scale_covers_every_field_and_the_limit():
    from netsim.maps import shared_scale

    a, b = np.array([23.4, np.nan, 41.2]), np.array([19.9, 47.6])
    scale = shared_scale([a, b], 35.0)
    assert scale.vmin <= 19.9 and scale.vmax >= 47.6 and scale.edges is None
    # a limit outside the data is brought into the range (it is marked on the colour bar)
    assert shared_scale([np.array([3.0, 5.0])], 60.0).vmax >= 60.0


def test_difference_scale_is_symmetric_about_zero():
    from netsim.maps import difference_scale

    scale = difference_scale(np.array([-2.5, 0.3, 7.9, np.nan]))
    assert scale.vmin == -scale.vmax and scale.vmax >= 7.9 and scale.cmap == "RdBu_r"


def test_statement_classes_have_the_grade_ii_limit_as_an_edge():
    from netsim.maps import class_edges, shared_scale

    scale = shared_scale([np.array([22.3, 51.0])], 35.0, pollutant="PM2.5", classes="statement")
    # 5 µg/m³ classes counted from 0: 20, 25, ..., 55 (GB 3095-2012 Grade II PM2.5: 35)
    assert scale.edges == (20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0)
    assert 70.0 in class_edges("PM10", 46.0, 88.0)  # PM10 Grade II annual limit
    # given edges are kept and widened where the data fall outside them
    assert class_edges("NO2", 12.0, 50.0, [20, 30, 40]) == (12.0, 20.0, 30.0, 40.0, 50.0)


def _map_pixels(fig) -> np.ndarray:
    """RGB pixels inside the map axes of a drawn figure."""
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    box = fig.axes[0].get_window_extent()
    height = rgba.shape[0]
    rows = slice(int(height - box.y1) + 2, int(height - box.y0) - 2)
    cols = slice(int(box.x0) + 2, int(box.x1) - 2)
    return rgba[rows, cols, :3].reshape(-1, 3)


def _frequent_colours(pixels: np.ndarray, share: float = 0.002) -> set[tuple[int, ...]]:
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    frequent = colours[counts >= share * len(pixels)]
    return {tuple(int(v) for v in c) for c in frequent if not (c[0] == c[1] == c[2])}


def test_discrete_classes_draw_only_the_class_palette(grid):
    from netsim.maps import map_figure, shared_scale

    t = grid.targets()
    field = 20 + 30 * (t[:, 0] - t[:, 0].min()) / np.ptp(t[:, 0])  # 20-50 west to east
    classes = shared_scale([field], 35.0, pollutant="PM2.5", classes="statement")
    palette = {tuple(int(v) for v in c[:3]) for c in classes.palette()}
    fig = map_figure(grid, field, None, pollutant="PM2.5", limit=35, scale=classes,
                     district_names=False)
    frequent = _frequent_colours(_map_pixels(fig))
    assert len(frequent) >= 5 and frequent <= palette  # grey/white (outlines, paper) aside
    continuous = shared_scale([field], 35.0)
    fig = map_figure(grid, field, None, pollutant="PM2.5", limit=35, scale=continuous,
                     district_names=False)
    assert not _frequent_colours(_map_pixels(fig)) <= palette  # the check can fail


def test_colour_bar_shows_the_scale_given(grid):
    from netsim.maps import ColourScale, map_figure

    fig = map_figure(grid, np.full(grid.n_cells, 30.0), None, pollutant="NO2", limit=40,
                     scale=ColourScale(12.0, 58.0))
    assert fig.axes[1].get_ylim() == (12.0, 58.0)


# --- district names ------------------------------------------------------------------------


def _district_texts(fig, lang: str):
    """The district-name texts the overlay of ``fig``'s layout was rendered from."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from netsim import maps

    probe = Figure(figsize=fig.get_size_inches(), dpi=fig.dpi)
    FigureCanvasAgg(probe)
    ax, _ = maps._panel_axes(probe, 0, 1)
    maps._frame(ax)
    maps._draw_district_names(ax, lang)
    probe.canvas.draw()
    return [t for t in ax.texts if str(t.get_gid()).startswith("district:")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_district_names_sit_inside_their_districts_without_overlapping(grid, lang):
    from shapely.geometry import Point

    from netsim import geography
    from netsim.i18n import DISTRICT_NAMES_ZH
    from netsim.maps import map_figure, picture_fonts

    if lang == "zh":
        _require_cjk_font()
    with picture_fonts(lang):
        fig = map_figure(grid, np.zeros(grid.n_cells), None, pollutant="PM2.5", limit=35,
                         lang=lang)
        texts = _district_texts(fig, lang)
        renderer = texts[0].figure.canvas.get_renderer()
        boxes = {t.get_gid(): t.get_window_extent(renderer) for t in texts}
    polygons = geography.districts().set_index("district").geometry
    assert len(texts) == 16
    for t in texts:
        name = t.get_gid().removeprefix("district:")
        assert polygons[name].contains(Point(t.get_position()))  # anchored inside
        shown = t.get_text()
        assert shown == name if lang == "en" else DISTRICT_NAMES_ZH[name].startswith(shown)
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            overlap = boxes[a].intersection(boxes[a], boxes[b])
            assert overlap is None or overlap.width * overlap.height < 1.0, (a, b)


# --- Chinese labels ------------------------------------------------------------------------


def _require_cjk_font() -> None:
    import os

    from netsim.maps import cjk_family

    if cjk_family() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no CJK font on CI; .ci/run must `apt-get install fonts-noto-cjk`")
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk); zh maps not checked")


def test_chinese_labels_render_with_a_cjk_font_and_no_missing_glyphs(grid):
    import warnings

    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from netsim.maps import CJK_FAMILIES, map_figure, picture_fonts

    _require_cjk_font()
    with picture_fonts("zh"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = map_figure(grid, np.zeros(grid.n_cells), _stations(grid), pollutant="PM2.5",
                         limit=35, title="2020年PM2.5年均浓度空间分布（µg/m³）",
                         subtitle="测试：情景网络", lang="zh")
        fig.canvas.draw()
        title = fig._suptitle
        font_path = font_manager.findfont(title.get_fontproperties(), fallback_to_default=False)
    assert not [w for w in caught if "missing from font" in str(w.message)]
    font = FT2Font(font_path)
    assert "CJK" in font.family_name or font.family_name in CJK_FAMILIES
    han = [c for c in title.get_text() if "\u4e00" <= c <= "\u9fff"]
    assert han and all(font.get_char_index(ord(c)) for c in han)  # glyphs, not tofu
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "城市评价点 (1)" in texts and any("开发区" in t for t in texts)


def test_missing_cjk_font_warns_once_naming_the_fix(monkeypatch):
    import warnings

    from netsim import maps

    monkeypatch.setattr(maps, "cjk_family", lambda: None)
    monkeypatch.setattr(maps, "_warned_no_cjk", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            with maps.picture_fonts("zh"):
                pass
    messages = [str(w.message) for w in caught if issubclass(w.category, maps.FontWarning)]
    assert len(messages) == 1 and "apt-get install fonts-noto-cjk" in messages[0]
    assert "\n" not in messages[0]


def test_same_map_same_bytes_with_or_without_the_cached_overlay(tmp_path, grid):
    from netsim import maps

    t = grid.targets()
    kw = {"pollutant": "PM2.5", "limit": 35, "std": np.full(grid.n_cells, 2.0)}
    maps._overlay_layers.cache_clear()
    maps._reused_map_figure.cache_clear()
    first = maps.static_map(grid, 30 + t[:, 0] / 1e5, _stations(grid), path=tmp_path / "a.png",
                            **kw)
    assert maps._overlay_layers.cache_info().currsize > 0  # rendered once ...
    maps._reused_map_figure.cache_clear()  # (a new figure: its overlays from the cache)
    again = maps.static_map(grid, 30 + t[:, 0] / 1e5, _stations(grid), path=tmp_path / "b.png",
                            **kw)
    assert maps._overlay_layers.cache_info().hits > 0  # ... and reused
    assert first.read_bytes() == again.read_bytes()


def test_a_style_and_its_keywords_draw_the_same_map(tmp_path):
    """static_map(style=MapStyle(...)) and the same fields as keywords give the same bytes;
    keywords replace the style's fields."""
    grid = Grid.for_beijing(5000)
    t = grid.targets()
    field = 30 + t[:, 0] / 1e5
    style = maps.MapStyle(pollutant="NO2", limit=40, title="T", lang="en")
    a = maps.static_map(grid, field, None, style=style, path=tmp_path / "a.png")
    b = maps.static_map(grid, field, None, pollutant="NO2", limit=40, title="T",
                        path=tmp_path / "b.png")
    c = maps.static_map(grid, field, None, style=style, title="other", path=tmp_path / "c.png")
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    with pytest.raises(TypeError, match="colour_lable"):
        maps.static_map(grid, field, None, style=style, colour_lable="x", path=tmp_path / "d.png")


def test_png_holds_the_canvas_pixels(tmp_path):
    """write_png writes exactly what Agg drew (RGB; the figure background is opaque)."""
    from PIL import Image

    grid = Grid.for_beijing(5000)
    t = grid.targets()
    fig = maps.map_figure(grid, 30 + t[:, 0] / 1e5, None, pollutant="NO2", limit=40)
    path = maps.write_png(fig, tmp_path / "a.png")
    drawn = np.asarray(fig.canvas.buffer_rgba())
    assert (drawn[..., 3] == 255).all()
    with Image.open(path) as image:
        assert image.mode == "RGB" and image.info["dpi"] == pytest.approx((150, 150), abs=0.02)
        assert np.array_equal(np.asarray(image), drawn[..., :3])


@pytest.mark.parametrize("resolution, dtype, holes, classes", [
    (5000, np.float64, False, False),
    (5000, np.float32, True, True),
    (1000, np.float32, True, False),
])
def test_field_image_draws_the_pixels_matplotlib_draws(monkeypatch, resolution, dtype, holes,
                                                       classes):
    """_FieldImage (cells coloured, then picked per pixel) equals AxesImage's own route
    (pixels resampled, then coloured) pixel for pixel, NaN cells and both panels included."""
    from netsim.colour_scales import ColourScale

    grid = Grid.for_beijing(resolution)
    t = grid.targets()
    field = (30 + t[:, 0] / 1e4 % 17).astype(dtype)
    if holes:
        field[::7] = np.nan
    scale = ColourScale(28.0, 50.0, "viridis", edges=(28, 31, 35, 40, 50) if classes else None)
    kw = {"pollutant": "PM2.5", "limit": 35, "std": field[::-1] / 10, "scale": scale}

    def pixels():
        fig = maps.map_figure(grid, field, _stations(grid), **kw)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba()).copy()

    maps._pixel_cells_cached.cache_clear()
    fast = pixels()
    assert maps._pixel_cells_cached.cache_info().misses == 2  # both panels took the cell route
    monkeypatch.setattr(maps, "_placement", lambda *a: None)  # matplotlib's route
    assert np.array_equal(fast, pixels())


@pytest.mark.parametrize("lang, with_std, hollow", [
    ("en", True, False), ("zh", False, True), ("zh", True, True)])
def test_station_legend_copy_is_the_drawn_legend(monkeypatch, lang, with_std, hollow):
    """_StationLegend's cached pixels equal matplotlib drawing the legend in place, for one
    and two panels, Chinese labels and hollow stations; the legend object is a real one."""
    from matplotlib.legend import Legend

    from netsim.network import Network

    grid = Grid.for_beijing(5000)
    net = Network.from_file(REPO / "stations" / "beijing_35.csv")
    has_value = np.arange(len(net.ids)) % 4 > 0 if hollow else None
    field = 30 + grid.targets()[:, 0] / 1e5
    kw = {"pollutant": "PM2.5", "limit": 35, "has_value": has_value, "lang": lang,
          "std": field / 10 if with_std else None}

    def pixels():
        with maps.picture_fonts(lang):
            fig = maps.map_figure(grid, field, net, **kw)
            fig.canvas.draw()
        assert isinstance(fig.legends[0], maps._StationLegend)
        return np.asarray(fig.canvas.buffer_rgba()).copy(), _legend_texts(fig)

    maps._legend_pixels.cache_clear()
    copied, texts = pixels()
    assert maps._legend_pixels.cache_info().misses == 1
    assert np.array_equal(pixels()[0], copied)  # the cached block, reused
    assert maps._legend_pixels.cache_info().hits == 1
    monkeypatch.setattr(maps._StationLegend, "draw", Legend.draw)  # matplotlib draws it
    drawn, drawn_texts = pixels()
    assert texts == drawn_texts and len(texts) >= 5
    assert np.array_equal(copied, drawn)


def test_a_reused_map_figure_draws_what_a_new_one_draws(tmp_path):
    """static_map shows each map on the process's figure of its layout: a sequence of maps
    (continuous and classed scales, limit or none, hollow stations, no stations, other
    stations, one and two panels, Chinese, no district names) gives the PNG bytes of a new
    figure per map, and the figures were reused."""
    from netsim.colour_scales import ColourScale
    from netsim.network import Network

    grid = Grid.for_beijing(5000)
    t = grid.targets()
    net = Network.from_file(REPO / "stations" / "beijing_35.csv")
    hollow = np.arange(len(net.ids)) % 4 > 0
    f, g = 30 + t[:, 0] / 1e4 % 17, 60 - t[:, 1] / 1e4 % 13
    classes = ColourScale(28, 70, "RdYlBu_r", edges=(28, 35, 40, 50, 70))
    maps_ = [
        (f, net, {"std": f / 10, "pollutant": "PM2.5", "limit": 35.0, "title": "A"}),
        (g, net, {"std": g / 7, "pollutant": "NO2", "limit": 40.0, "scale": classes,
                  "subtitle": "classed"}),
        (f, net, {"std": f / 10, "pollutant": "PM10", "has_value": hollow}),
        (f, _stations(grid), {"std": f / 9, "pollutant": "SO2", "limit": 60.0}),
        (g, None, {"std": g / 7, "pollutant": "NO2", "limit": 40.0}),
        (f - 40, net, {"pollutant": "PM2.5", "scale": ColourScale(-5, 5, "RdBu_r"),
                       "colour_label": "difference"}),
        (g, None, {"pollutant": "AQI", "units": "days", "scale": classes}),
        (g, net, {"std": g / 7, "pollutant": "CO", "lang": "zh"}),
        (f, net, {"std": f / 10, "pollutant": "PM2.5", "limit": 35.0, "title": "A"}),
        (f, net, {"pollutant": "SO2", "limit": 60.0, "district_names": False}),
    ]
    maps._reused_map_figure.cache_clear()
    for i, (field, stations, kw) in enumerate(maps_):
        reused = maps.static_map(grid, field, stations, path=tmp_path / f"{i}.png", **kw)
        with maps.picture_fonts(kw.get("lang", "en")):
            new = maps.write_png(maps.map_figure(grid, field, stations, **kw),
                                 tmp_path / f"{i}_new.png")
        assert reused.read_bytes() == new.read_bytes(), f"map {i}: {kw}"
    assert maps._reused_map_figure.cache_info().hits >= 6


def test_prepared_layouts_are_the_layers_the_maps_use(tmp_path):
    """prepare_pictures builds the layers, figures and station legends of a run's maps
    (what a helper does while the realisations run): the maps that follow build none, and
    are the bytes of maps drawn without it."""
    from netsim.network import Network

    grid = Grid.for_beijing(5000)
    field = 30 + grid.targets()[:, 0] / 1e5
    net = Network.from_file(REPO / "stations" / "beijing_35.csv")
    kept = net.stations.iloc[:20]
    maps_ = [(net, {"std": field / 10}), (kept, {"std": field / 9}), (kept, {}), (None, {})]

    def draw(prefix: str) -> list[bytes]:
        return [maps.static_map(grid, field + i, stations, path=tmp_path / f"{prefix}{i}.png",
                                pollutant="NO2", **kw).read_bytes()
                for i, (stations, kw) in enumerate(maps_)]

    for cache in (maps._overlay_layers, maps._reused_map_figure, maps._legend_pixels):
        cache.cache_clear()
    unprepared = draw("u")
    for cache in (maps._overlay_layers, maps._reused_map_figure, maps._legend_pixels):
        cache.cache_clear()
    maps.prepare_pictures(5000, "en", legends=[(2, net), (2, kept[["x", "y", "type"]]),
                                               (1, kept), (1, None)])
    assert maps._overlay_layers.cache_info().currsize == 4  # two layouts x (outlines, names)
    assert maps._reused_map_figure.cache_info().currsize == 2
    assert maps._legend_pixels.cache_info().currsize == 4
    assert draw("p") == unprepared
    assert maps._overlay_layers.cache_info().misses == 4
    assert maps._reused_map_figure.cache_info().misses == 2
    assert maps._legend_pixels.cache_info().misses == 4


def test_maps_drawn_from_threads_are_the_maps_drawn_in_turn(tmp_path):
    """Threads of one process share the reused figures and renderer: each map drawn from
    four threads at once has the bytes of the same map drawn alone."""
    from concurrent.futures import ThreadPoolExecutor

    grid = Grid.for_beijing(5000)
    t = grid.targets()
    fields = [30 + t[:, 0] / 1e5 * k for k in (1, 2, 3, 4)]

    def draw(k: int, folder: str):
        return maps.static_map(grid, fields[k], _stations(grid) if k % 2 else None,
                               path=tmp_path / folder / f"{k}.png", std=fields[k] / 10,
                               pollutant="PM2.5", limit=35.0, title=f"map {k}")

    alone = [draw(k, "alone").read_bytes() for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        threaded = [p.read_bytes() for p in pool.map(draw, range(4), ["threads"] * 4)]
    assert threaded == alone


def test_picture_canvas_draws_what_a_canvas_of_its_own_draws():
    """Maps drawn on PictureCanvas share one renderer per size (no 10 MB of pixels per
    figure left to the cyclic collector) and hold the pixels a figure's own
    FigureCanvasAgg draws, after another map was drawn on the shared renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    grid = Grid.for_beijing(5000)
    t = grid.targets()
    kw = {"pollutant": "NO2", "limit": 40, "std": np.full(grid.n_cells, 2.0)}
    other = maps.map_figure(grid, 60 - t[:, 1] / 1e5, _stations(grid), **kw)
    other.canvas.draw()
    fig = maps.map_figure(grid, 30 + t[:, 0] / 1e5, _stations(grid), **kw)
    assert isinstance(fig.canvas, maps.PictureCanvas)
    fig.canvas.draw()
    assert fig.canvas.renderer is other.canvas.renderer
    shared = np.asarray(fig.canvas.buffer_rgba()).copy()
    own = maps.map_figure(grid, 30 + t[:, 0] / 1e5, _stations(grid), **kw)
    FigureCanvasAgg(own).draw()
    assert own.canvas.renderer is not fig.canvas.renderer
    assert np.array_equal(np.asarray(own.canvas.buffer_rgba()), shared)


def test_overlay_blocks_are_cropped_to_their_drawn_pixels():
    """A cropped block placed back at its offsets is the layer: nothing drawn is lost."""
    rng = np.random.default_rng(1)
    layer = np.zeros((40, 50, 4), np.uint8)
    layer[7:19, 11:30] = rng.integers(1, 255, (12, 19, 4), dtype=np.uint8)
    block, x0, y0 = maps._cropped(layer, 100, 5)
    assert block.shape == (12, 19, 4) and (x0, y0) == (111, 12)
    rebuilt = np.zeros_like(layer)
    rebuilt[y0 - 5:y0 - 5 + block.shape[0], x0 - 100:x0 - 100 + block.shape[1]] = block
    assert np.array_equal(rebuilt, layer)
    empty, _, _ = maps._cropped(np.zeros((4, 4, 4), np.uint8), 0, 0)
    assert empty.shape == (1, 1, 4) and not empty.any()
