"""Tests for netsim.charts (changes.png): a layout that fits, in English and Chinese."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from netsim.charts import DPI, MAX_HEIGHT_PX, changes_chart, changes_figure
from netsim.maps import picture_fonts

POLLUTANTS = ("PM2.5", "PM10", "NO2", "SO2", "CO", "O3")


def _summary(n_pollutants: int, repeat: int = 1, scale: float = 1.0,
             shift: float = 0.0) -> dict:
    """A summary.json-like dict with the headline rows of a run (``repeat`` copies of each
    to make long charts), every difference with a 90 % interval (``scale`` times a
    standard normal mean ± 0.5, plus ``shift``)."""
    from netsim.summary import _headline_keys, _label

    rng = np.random.default_rng(3)
    headline = []
    for _ in range(repeat):
        for source, area, p, statistic in _headline_keys(list(POLLUTANTS[:n_pollutants])):
            units = ("share" if "share" in statistic or statistic in ("coverage90", "hj664_pass")
                     else "districts" if statistic.startswith("districts")
                     else "days" if p == "AQI" else "mg/m³" if p == "CO" else "µg/m³")
            mean = float(rng.normal())
            low, high = shift + scale * (mean - 0.5), shift + scale * (mean + 0.5)
            headline.append({
                "label": _label((source, area, p, statistic)), "source": source, "area": area,
                "pollutant": p, "statistic": statistic, "units": units,
                "difference": {"mean": shift + scale * mean, "p05": low, "p95": high,
                               "n": 20},
            })
    return {"scenario": "a_scenario_with_a_rather_long_name", "year": 2020,
            "headline": headline}


def _check_layout(fig) -> None:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    texts = {t.get_gid(): t for t in fig.texts if t.get_gid() in ("title", "caption")}
    assert set(texts) == {"title", "caption"}
    axes_boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]  # with tick labels
    for name, text in texts.items():
        box = text.get_window_extent(renderer)
        assert page.x0 <= box.x0 and box.x1 <= page.x1, f"{name} cut left/right"
        assert page.y0 <= box.y0 and box.y1 <= page.y1, f"{name} cut top/bottom"
        for ax_box in axes_boxes:
            assert not box.overlaps(ax_box), f"{name} overlaps a panel"
    for ax_box in axes_boxes:  # tick labels inside the figure too
        assert page.x0 <= ax_box.x0 and ax_box.x1 <= page.x1
        assert page.y0 <= ax_box.y0 and ax_box.y1 <= page.y1
    for i, a in enumerate(axes_boxes):  # panels do not overlap one another
        for b in axes_boxes[i + 1:]:
            assert not a.overlaps(b)


@pytest.mark.parametrize("n_pollutants, repeat", [(1, 1), (6, 1), (6, 3)])
def test_changes_chart_fits_title_panels_and_caption(n_pollutants, repeat):
    fig = changes_figure(_summary(n_pollutants, repeat))
    _check_layout(fig)
    assert fig.get_size_inches()[1] * DPI <= MAX_HEIGHT_PX + 0.5


def test_changes_png_is_at_most_1800_px_tall(tmp_path):
    changes_chart(_summary(6, 3), tmp_path / "changes.png")
    width, height = Image.open(tmp_path / "changes.png").size
    assert height <= MAX_HEIGHT_PX and width > height / 3


def test_changes_chart_in_chinese_fits_and_is_labelled_in_chinese():
    import os

    from netsim.maps import cjk_family

    if cjk_family() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no CJK font on CI; .ci/run must `apt-get install fonts-noto-cjk`")
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    with picture_fonts("zh"):
        fig = changes_figure(_summary(6), lang="zh")
        _check_layout(fig)
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]  # the rows' labels
    assert "PM2.5年均浓度（站点，公报方法）" in labels
    assert "相对基准的变化" in next(t.get_text() for t in fig.texts if t.get_gid() == "title")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("n_pollutants, repeat", [(1, 1), (6, 3)])
def test_row_labels_draw_the_pixels_of_y_tick_labels(monkeypatch, lang, n_pollutants, repeat):
    """The rows are labelled without Tick objects (charts._row_labels) in the pixels
    matplotlib's y ticks and tick labels draw (``ax.set_yticks(ys, labels)``)."""
    from matplotlib.backends.backend_agg import RendererAgg

    from netsim import charts
    from netsim.maps import cjk_family

    if lang == "zh" and cjk_family() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")

    def pixels() -> np.ndarray:
        with picture_fonts(lang):
            fig = changes_figure(_summary(n_pollutants, repeat), lang)
            width, height = (round(v) for v in fig.bbox.size)
            renderer = RendererAgg(width, height, fig.dpi)
            fig.draw(renderer)
        return np.asarray(renderer.buffer_rgba()).copy()

    labelled = pixels()
    monkeypatch.setattr(charts, "_row_labels", lambda ax, ys, labels: ax.set_yticks(
        ys, labels, fontsize=charts._FONT))
    assert np.array_equal(labelled, pixels())


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("scale, shift", [(1.0, 0.0), (40.0, 0.0), (1e-3, 0.0), (3.0, 20.0),
                                          (0.1, 1000.0), (1e6, 0.0)])
def test_x_ticks_draw_the_pixels_of_matplotlibs_ticks(monkeypatch, lang, scale, shift):
    """The x axes are marked and labelled without Tick objects (charts._x_ticks) in the
    pixels matplotlib's ticks draw, over ranges from thousandths to millions (labels in
    scientific notation: matplotlib's own ticks then) and without zero in view."""
    from matplotlib.backends.backend_agg import RendererAgg

    from netsim import charts
    from netsim.maps import cjk_family

    if lang == "zh" and cjk_family() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")

    def pixels() -> np.ndarray:
        with picture_fonts(lang):
            fig = changes_figure(_summary(6, 1, scale, shift), lang)
            width, height = (round(v) for v in fig.bbox.size)
            renderer = RendererAgg(width, height, fig.dpi)
            fig.draw(renderer)
        return np.asarray(renderer.buffer_rgba()).copy()

    marked = pixels()
    monkeypatch.setattr(charts, "_x_ticks",
                        lambda ax: ax.tick_params(axis="x", labelsize=charts._FONT))
    assert np.array_equal(marked, pixels())
