"""netsim.tick_layout: axes that lay their ticks out once per draw draw the same pixels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.axis import Axis, XAxis, YAxis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from netsim.tick_layout import OncePerDrawAxes


def _figure(axes_class, kind: str, top: float = 1.37) -> Figure:
    fig = Figure(figsize=(4.0, 3.0), dpi=110.0)
    FigureCanvasAgg(fig)
    if kind == "colour bar":  # as a map's: label on the right of the tick labels
        cax = fig.add_axes([0.5, 0.15, 0.05, 0.7], axes_class=axes_class)
        bar = fig.colorbar(ScalarMappable(Normalize(0.0, top), "viridis"), cax=cax)
        bar.set_label("Kriging standard deviation (µg/m³)", fontsize=9)
        cax.tick_params(labelsize=8)
        fig.colour_bar = bar  # for the test that changes its scale
    else:  # a chart panel: labelled x and y axes, ticks both sides
        ax = fig.add_axes([0.3, 0.2, 0.6, 0.6], axes_class=axes_class)
        ax.plot([0.0, 3.3, 7.1], [1.0, -2.0, 0.5])
        ax.set_xlabel("difference (µg/m³)")
        ax.set_ylabel("statistic")
        ax.yaxis.set_ticks_position("both")
    return fig


def _pixels(fig: Figure) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


@pytest.mark.parametrize("kind", ["colour bar", "panel"])
def test_once_per_draw_axes_draw_matplotlibs_pixels(kind):
    once = _figure(OncePerDrawAxes, kind)
    assert isinstance(once.axes[0].yaxis, YAxis) and isinstance(once.axes[0].xaxis, XAxis)
    assert np.array_equal(_pixels(once), _pixels(_figure(None, kind)))
    assert np.array_equal(_pixels(once), _pixels(_figure(None, kind)))  # drawn again


def test_a_colour_bar_redrawn_on_another_scale_has_its_new_ticks():
    once = _figure(OncePerDrawAxes, "colour bar")
    _pixels(once)
    once.colour_bar.mappable.set_norm(Normalize(0.0, 250.0))
    assert np.array_equal(_pixels(once), _pixels(_figure(None, "colour bar", top=250.0)))


def test_ticks_are_laid_out_once_per_draw(monkeypatch):
    """matplotlib updates a colour bar's ticks several times per draw (to place the label
    clear of the tick labels); these axes once, and as often as asked outside a draw."""
    calls: list[Axis] = []
    update = Axis._update_ticks
    monkeypatch.setattr(Axis, "_update_ticks", lambda self: calls.append(self) or update(self))

    def updates_per_draw(axes_class) -> int:
        fig = _figure(axes_class, "colour bar")
        fig.canvas.draw()
        calls.clear()
        fig.canvas.draw()
        return calls.count(fig.axes[0].yaxis)

    assert updates_per_draw(None) >= 2
    assert updates_per_draw(OncePerDrawAxes) == 1
    yaxis = _figure(OncePerDrawAxes, "colour bar").axes[0].yaxis
    calls.clear()
    yaxis._update_ticks()
    yaxis._update_ticks()
    assert calls.count(yaxis) == 2
