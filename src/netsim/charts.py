"""The scenario-minus-baseline chart of a run (``changes.png``).

A fixed layout measured in inches (no tight or constrained layout solve): the title
above, one panel per unit stacked in as many columns as keep the figure at most
:data:`MAX_HEIGHT_PX` tall, and the caption, wrapped to the figure's width, below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from netsim.ensemble import interval_contains_mean
from netsim.i18n import headline_label, picture_text
from netsim.verdicts import clear

__all__ = ["MAX_HEIGHT_PX", "changes_chart", "changes_figure"]

DPI = 130
MAX_HEIGHT_PX = 1800
"""Tallest ``changes.png`` (pixels at :data:`DPI`): more statistics go into more columns."""
_ROW_IN = 0.24  # one statistic
_PANEL_PAD_IN = 0.3  # above the first and below the last row of a panel
_PANEL_GAP_IN = 0.62  # between panels: x tick labels and the next panel's title
_TITLE_IN = 0.6
_PLOT_IN = 3.2  # width of a panel's plot
_RIGHT_IN = 0.3
_MAX_LABEL_IN = 4.6
_FONT = 8


def _draw_interval(ax, y: float, entry: Mapping[str, float], colour: str) -> None:
    """The 90 % interval as a capped line and the mean as a dot, wherever the mean lies
    (a mean outside the interval is drawn hollow instead of as a negative error bar)."""
    _draw_intervals(ax, [y], [entry], [colour])


def _draw_intervals(ax, ys: Sequence[float], entries: Sequence[Mapping[str, float]],
                    colours: Sequence[str]) -> None:
    """:func:`_draw_interval` of every row at once: the lines as one collection, the caps
    and the dots as one marker line per colour and fill (a few artists per panel
    instead of three per row; rows do not overlap, so the order within one is kept:
    line, caps, dot)."""
    from matplotlib.collections import LineCollection

    lo = np.array([e["p05"] for e in entries], dtype=float)
    hi = np.array([e["p95"] for e in entries], dtype=float)
    mean = np.array([e["mean"] for e in entries], dtype=float)
    y = np.asarray(ys, dtype=float)
    inside = np.array([interval_contains_mean(e) for e in entries], dtype=bool)
    segments = np.stack([np.column_stack([lo, y]), np.column_stack([hi, y])], axis=1)
    ax.add_collection(LineCollection(segments, colors=list(colours), linewidths=1.2,
                                     capstyle="butt"))
    colour_of = np.asarray(colours, dtype=object)
    for colour in dict.fromkeys(colours):
        rows = colour_of == colour
        ax.plot(np.concatenate([lo[rows], hi[rows]]), np.concatenate([y[rows], y[rows]]),
                linestyle="none", marker="|", markersize=7, color=colour)
        for filled in (True, False):
            dots = rows & (inside == filled)
            if dots.any():
                ax.plot(mean[dots], y[dots], linestyle="none", marker="o", markersize=5,
                        color=colour, markerfacecolor=colour if filled else "white")


def _panels(summary: dict, lang: str) -> dict[str, list[dict]]:
    """Headline differences grouped by unit (statistics missing in a network left out)."""
    rows = [h for h in summary["headline"]
            if h.get("difference") and h["difference"]["mean"] is not None]
    panels: dict[str, list[dict]] = {}
    for r in rows:
        unit = r["units"]
        key = (picture_text(f"unit_{unit}", lang) if unit in ("share", "days", "districts")
               else f"{r['pollutant']} [{unit}]")
        panels.setdefault(key, []).append(r)
    return panels


def _panel_height(n_rows: int) -> float:
    return n_rows * _ROW_IN + _PANEL_PAD_IN


def _columns(heights: Sequence[float], max_in: float) -> list[list[int]]:
    """Panels (by index, in order) in the fewest columns none taller than ``max_in``,
    balanced: the tallest column as short as that number of columns allows."""
    fewest = len(_fill_columns(heights, max_in))
    best = max_in
    for h in sorted({sum(heights[i:j]) + _PANEL_GAP_IN * (j - i - 1)
                     for i in range(len(heights)) for j in range(i + 1, len(heights) + 1)}):
        if h < best and len(_fill_columns(heights, h)) <= fewest:
            best = h
            break
    return _fill_columns(heights, best)


def _fill_columns(heights: Sequence[float], max_in: float) -> list[list[int]]:
    """Panels (by index, in order) filled into columns of at most ``max_in`` (a panel
    taller than that gets a column of its own)."""
    columns: list[list[int]] = [[]]
    used = 0.0
    for i, h in enumerate(heights):
        need = h + (_PANEL_GAP_IN if columns[-1] else 0.0)
        if columns[-1] and used + need > max_in:
            columns.append([])
            used, need = 0.0, h
        columns[-1].append(i)
        used += need
    return columns


def _text_width_in(renderer, text: str, fontsize: float) -> float:
    """Rendered width of ``text`` in inches (current font)."""
    from matplotlib.font_manager import FontProperties

    width, _, _ = renderer.get_text_width_height_descent(
        text, FontProperties(size=fontsize), ismath=False)
    return width / renderer.dpi


_WRAP_MARGIN_IN = 0.1
"""A line whose token-by-token width is this far below the limit is not measured whole
(kerning between tokens moves a width by far less)."""


def _wrap(renderer, text: str, fontsize: float, width_in: float) -> str:
    """``text`` broken into lines no wider than ``width_in`` (at spaces, or between any
    two CJK characters).

    Each token is measured once; a line is measured whole only when the sum of its
    tokens comes within :data:`_WRAP_MARGIN_IN` of the limit (linear, not quadratic, in
    the length of the text)."""
    tokens = re.findall(r"[\u3000-\u9fff\uff00-\uffef]|[^\s\u3000-\u9fff\uff00-\uffef]+\s*|\s+",
                        text)
    lines, line, line_in = [], "", 0.0
    for token in tokens:
        token_in = _text_width_in(renderer, token, fontsize)
        too_wide = bool(line) and line_in + token_in > width_in - _WRAP_MARGIN_IN and (
            _text_width_in(renderer, (line + token).rstrip(), fontsize) > width_in)
        if too_wide:
            lines.append(line.rstrip())
            line = token.lstrip()
            line_in = _text_width_in(renderer, line, fontsize)
        else:
            line += token
            line_in += token_in
    lines.append(line.rstrip())
    return "\n".join(lines)


def changes_figure(summary: dict, lang: str = "en"):
    """The figure of :func:`changes_chart` (Agg canvas; build inside
    :func:`netsim.maps.picture_fonts` for Chinese)."""
    from matplotlib.figure import Figure

    from netsim.maps import PictureCanvas
    from netsim.tick_layout import OncePerDrawAxes

    panels = _panels(summary, lang)
    items = list(panels.items())
    fig = Figure(dpi=DPI)
    renderer = PictureCanvas(fig).get_renderer()
    labels = [headline_label(r, lang) for _, rows in items for r in rows]
    label_in = min(max((_text_width_in(renderer, t, _FONT) for t in labels), default=1.0) + 0.2,
                   _MAX_LABEL_IN)
    column_in = label_in + _PLOT_IN + _RIGHT_IN
    real = summary.get("data", {}).get("kind") == "real readings"
    caption = picture_text("chart_caption_real" if real else "chart_caption", lang)
    title = picture_text("chart_title", lang, scenario=summary["scenario"], year=summary["year"])
    max_in = MAX_HEIGHT_PX / DPI
    heights = [_panel_height(len(rows)) for _, rows in items] or [_panel_height(1)]
    caption_in = 0.5  # first guess, refined once the width is known
    columns = _columns(heights, max_in - _TITLE_IN - caption_in - 0.3)
    width_in = column_in * len(columns)
    caption = _wrap(renderer, caption, _FONT, width_in - 0.4)
    title = _wrap(renderer, title, 11, width_in - 0.4)
    caption_in = 0.25 + 0.17 * (caption.count("\n") + 1)
    title_in = _TITLE_IN + 0.2 * title.count("\n")
    body_in = max(sum(heights[i] for i in col) + _PANEL_GAP_IN * (len(col) - 1)
                  for col in columns)
    height_in = title_in + body_in + caption_in + 0.35
    fig.set_size_inches(width_in, height_in)
    for c, col in enumerate(columns if items else []):
        top = height_in - title_in
        for i in col:
            left = (c * column_in + label_in) / width_in
            rect = [left, (top - heights[i]) / height_in, _PLOT_IN / width_in,
                    heights[i] / height_in]
            _draw_panel(fig.add_axes(rect, axes_class=OncePerDrawAxes), items[i][1], lang)
            # the panel's title as a figure text: an axes title is re-placed at every draw
            fig.text(left, (top + 0.05) / height_in, items[i][0], fontsize=9, va="bottom")
            top -= heights[i] + _PANEL_GAP_IN
    fig.text(0.5, 1 - 0.15 / height_in, title, ha="center", va="top", fontsize=11,
             gid="title")
    fig.text(0.5, 0.12 / height_in, caption, ha="center", va="bottom", fontsize=_FONT,
             gid="caption")
    return fig


def _draw_panel(ax, items: list[dict], lang: str) -> None:
    from matplotlib.ticker import MaxNLocator

    y = np.arange(len(items))[::-1]
    differences = [r["difference"] for r in items]
    _draw_intervals(ax, y, differences,
                    ["#0072B2" if clear(d) else "#999999" for d in differences])
    ax.axvline(0.0, color="black", lw=0.8)
    _row_labels(ax, y, [headline_label(r, lang) for r in items])
    ax.set_ylim(-0.7, len(items) - 0.3)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    _x_ticks(ax)


def _row_labels(ax, ys: np.ndarray, labels: Sequence[str]) -> None:
    """Label the rows as ``ax.set_yticks(ys, labels, fontsize=8)`` draws them, without its
    Tick objects (four artists each, built and laid out again at every draw: about a
    third of the chart; :func:`_tick_marks_and_labels`)."""
    import matplotlib as mpl

    rc = mpl.rcParams
    if rc["ytick.direction"] != "out" or not rc["ytick.left"] or not rc["ytick.labelleft"]:
        ax.set_yticks(ys, labels, fontsize=_FONT)  # a tick layout this does not mimic
        return
    ax.set_yticks([])
    _tick_marks_and_labels(ax, "y", ys, labels)


def _x_ticks(ax) -> None:
    """Mark and label the x axis as its ticks draw them (``tick_params(labelsize=8)``),
    without Tick objects (:func:`_tick_marks_and_labels`): the locator's ticks in the
    view (the limits autoscaled now, as the draw would: the panel is complete), labelled
    by the axis' formatter.  Matplotlib's own ticks where the labels need an offset or
    another tick layout (``rcParams`` ``xtick.*``, ticks out, data autolimits)."""
    import matplotlib as mpl

    rc = mpl.rcParams
    if (rc["xtick.direction"] != "out" or not rc["xtick.bottom"] or not rc["xtick.labelbottom"]
            or rc["xtick.top"] or rc["xtick.minor.visible"] or rc["axes.grid"]
            or rc["axes.autolimit_mode"] != "data"):
        ax.tick_params(axis="x", labelsize=_FONT)
        return
    low, high = sorted(ax.get_xlim())
    locs = np.asarray(ax.xaxis.get_major_locator()(), dtype=float)
    formatter = ax.xaxis.get_major_formatter()
    labels = formatter.format_ticks(locs)
    if formatter.get_offset():
        ax.tick_params(axis="x", labelsize=_FONT)
        return
    close = 1e-10 * (high - low)  # matplotlib's _interval_contains_close
    shown = (locs >= low - close) & (locs <= high + close)
    ax.set_xticks([])
    _tick_marks_and_labels(ax, "x", locs[shown], list(np.asarray(labels, dtype=object)[shown]))


def _tick_marks_and_labels(ax, axis: str, positions: Sequence[float],
                           labels: Sequence[str]) -> None:
    """Major ticks of the bottom x or left y ``axis`` at ``positions`` (data units) as
    matplotlib draws them with ``rcParams`` ``xtick.*``/``ytick.*`` (ticks out, labels
    of size 8), without Tick objects: one marker line of its tick marks, and each label a
    text on the transform a tick label has, at the axis' z-order."""
    import matplotlib as mpl
    from matplotlib.lines import TICKDOWN, TICKLEFT, Line2D

    rc = mpl.rcParams
    colour, size = rc[f"{axis}tick.color"], rc[f"{axis}tick.major.size"]
    zorder = (ax.xaxis if axis == "x" else ax.yaxis).get_zorder()
    along = np.asarray(positions, dtype=float)
    across = np.zeros(len(along))
    if axis == "x":
        xy, marker = (along, across), TICKDOWN
        mark_transform = ax.get_xaxis_transform("tick1")
        text_transform, va, ha = ax.get_xaxis_text1_transform(rc["xtick.major.pad"] + size)
    else:
        xy, marker = (across, along), TICKLEFT
        mark_transform = ax.get_yaxis_transform("tick1")
        text_transform, va, ha = ax.get_yaxis_text1_transform(rc["ytick.major.pad"] + size)
    ax.add_artist(Line2D(*xy, color=colour, linestyle="none", marker=marker,
                         markeredgecolor=colour, markersize=size,
                         markeredgewidth=rc[f"{axis}tick.major.width"],
                         transform=mark_transform, clip_on=False, zorder=zorder))
    label_colour = rc[f"{axis}tick.labelcolor"]
    label_colour = colour if label_colour == "inherit" else label_colour
    for x, y, label in zip(*xy, labels, strict=True):
        ax.text(x, y, label, fontsize=_FONT, color=label_colour, va=va, ha=ha,
                transform=text_transform, clip_on=False, zorder=zorder)


def changes_chart(summary: dict, path: Path, lang: str = "en") -> None:
    """Scenario-minus-baseline of the headline statistics, one panel per unit.

    Blue: the 90 % interval excludes zero (a clear change); grey: it does not.
    Statistics missing in either network are left out (the report says why).  Labels in
    ``lang`` (``"en"`` or ``"zh"``); written atomically.
    """
    from netsim.maps import picture_fonts, write_png

    with picture_fonts(lang):
        write_png(changes_figure(summary, lang), path)
