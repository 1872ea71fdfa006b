"""netsim.glyphs: text drawn from cached layouts and glyph bitmaps has matplotlib's pixels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure

from netsim import glyphs
from netsim.glyphs import GlyphCachingRenderer

pytestmark = pytest.mark.skipif(not glyphs.caching_supported(),
                                reason="matplotlib's Agg text path predates 3.11's")

WORDS = ["PM2.5 annual mean (µg/m³)", "Kriging std", "0.25", "−12.5", "Grade II limit 35",
         "WAVY fjord ÅÄÖ", "two\nlines", "g", "Tick 1,234", "NO₂"]


def _text_figure(seed: int, dpi: float = 100.0) -> Figure:
    """Forty texts at random (sub-pixel) positions in three sizes (glyphs of one size and
    font meet at other offsets and rotations), aligned and coloured in several ways,
    antialiased or not; one math text (matplotlib's own path)."""
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(4.0, 3.0), dpi=dpi)
    for i in range(40):
        fig.text(rng.uniform(0.05, 0.9), rng.uniform(0.05, 0.9), WORDS[i % len(WORDS)],
                 fontsize=float(rng.choice([7.0, 9.0, 12.0])),
                 rotation=float(rng.choice([0.0, 90.0, 33.0, -12.5])),
                 ha=str(rng.choice(["left", "center", "right"])),
                 va=str(rng.choice(["baseline", "center", "top"])),
                 color=str(rng.choice(["black", "#336699", "red"])),
                 alpha=float(rng.choice([1.0, 0.6])), antialiased=bool(rng.random() > 0.2))
    fig.text(0.5, 0.5, r"$\sigma^2 = 1.5$", fontsize=10)
    return fig


def _pixels(fig: Figure, renderer_class: type[RendererAgg]) -> np.ndarray:
    width, height = (round(v) for v in fig.bbox.size)
    renderer = renderer_class(width, height, fig.dpi)
    fig.draw(renderer)
    return np.asarray(renderer.buffer_rgba()).copy()


@pytest.mark.parametrize("seed, dpi", [(0, 100.0), (1, 150.0), (2, 130.0)])
def test_cached_text_has_matplotlibs_pixels(seed, dpi):
    """Cold cache, warm cache and a cache emptied while drawing: the pixels of RendererAgg."""
    glyphs.clear_caches()
    fig = _text_figure(seed, dpi)
    expected = _pixels(fig, RendererAgg)
    assert np.array_equal(_pixels(fig, GlyphCachingRenderer), expected)  # cold
    assert np.array_equal(_pixels(fig, GlyphCachingRenderer), expected)  # every glyph cached


def test_cache_emptied_when_full_draws_the_same(monkeypatch):
    glyphs.clear_caches()
    monkeypatch.setattr(glyphs, "MAX_GLYPHS", 17)
    monkeypatch.setattr(glyphs, "MAX_LAYOUTS", 3)
    fig = _text_figure(4)
    expected = _pixels(fig, RendererAgg)
    assert np.array_equal(_pixels(fig, GlyphCachingRenderer), expected)
    assert len(glyphs._glyphs) <= 17 and len(glyphs._layouts) <= 3


def test_text_moved_by_whole_pixels_reuses_its_glyphs(monkeypatch):
    """A text drawn again one whole pixel to the right renders no glyph again (same
    sub-pixel offsets) and has the pixels RendererAgg draws there."""
    glyphs.clear_caches()
    fig = Figure(figsize=(3.0, 1.0), dpi=100.0)
    text = fig.text(0.1037, 0.4521, "Kriging std (µg/m³)", fontsize=9)
    _pixels(fig, GlyphCachingRenderer)
    rendered = []
    render = glyphs._render
    monkeypatch.setattr(glyphs, "_render", lambda *a: rendered.append(a[3]) or render(*a))
    text.set_x(0.1037 + 1 / 300)  # one pixel of the 300-pixel-wide figure
    assert np.array_equal(_pixels(fig, GlyphCachingRenderer), _pixels(fig, RendererAgg))
    assert rendered == []
    text.set_x(0.1037 + 0.5 / 300)  # half a pixel: new sub-pixel offsets, new bitmaps
    assert np.array_equal(_pixels(fig, GlyphCachingRenderer), _pixels(fig, RendererAgg))
    assert rendered


@pytest.mark.parametrize("change", [{"fontsize": 12}, {"rotation": 90}, {"rotation": 180},
                                    {"antialiased": False}, {"family": "DejaVu Serif"}])
def test_same_place_other_look_gets_its_own_glyphs(change):
    """The same string at the same place (same sub-pixel offsets) in another size,
    rotation, rendering mode or font: other glyph bitmaps, RendererAgg's pixels."""
    glyphs.clear_caches()
    for look in ({}, change):
        fig = Figure(figsize=(3.0, 1.5), dpi=100.0)
        fig.text(0.4123, 0.4567, "Spatial 35", **{"fontsize": 9, **look})
        assert np.array_equal(_pixels(fig, GlyphCachingRenderer), _pixels(fig, RendererAgg))


def test_changes_chart_has_matplotlibs_pixels():
    from netsim.charts import changes_figure
    from tests.test_charts import _summary

    glyphs.clear_caches()
    fig = changes_figure(_summary(6))
    assert np.array_equal(_pixels(fig, GlyphCachingRenderer), _pixels(fig, RendererAgg))


def test_text_metrics_are_matplotlibs():
    """Width, height and descent of plain text, measured cold and from the cache, for
    every word in two fonts, three sizes and two dpi: RendererAgg's, to the bit."""
    from matplotlib.font_manager import FontProperties

    glyphs.clear_caches()
    props = [FontProperties(family=family, size=size)
             for family in ("DejaVu Sans", "DejaVu Serif") for size in (7.0, 9.0, 12.0)]
    for _ in range(2):  # cold, then every measure cached
        for dpi in (100.0, 150.0):
            ours, theirs = GlyphCachingRenderer(50, 50, dpi), RendererAgg(50, 50, dpi)
            for prop in props:
                for word in (w for w in WORDS if "\n" not in w):  # Text measures lines
                    assert (ours.get_text_width_height_descent(word, prop, False)
                            == theirs.get_text_width_height_descent(word, prop, False))
    math = r"$\sigma^2$"
    assert (GlyphCachingRenderer(50, 50, 100.0).get_text_width_height_descent(
        math, props[0], True)
        == RendererAgg(50, 50, 100.0).get_text_width_height_descent(math, props[0], True))
