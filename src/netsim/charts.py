"""The scenario-minus-baseline chart of a run (``changes.png``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from netsim.ensemble import interval_contains_mean
from netsim.verdicts import clear

__all__ = ["changes_chart"]


def _draw_interval(ax, y: float, entry: Mapping[str, float], colour: str) -> None:
    """The 90 % interval as a capped line and the mean as a dot, wherever the mean lies
    (a mean outside the interval is drawn hollow instead of as a negative error bar)."""
    lo, hi, mean = entry["p05"], entry["p95"], entry["mean"]
    ax.plot([lo, hi], [y, y], color=colour, lw=1.2, solid_capstyle="butt")
    ax.plot([lo, hi], [y, y], linestyle="none", marker="|", markersize=7, color=colour)
    inside = interval_contains_mean(entry)
    ax.plot([mean], [y], marker="o", markersize=5, color=colour,
            markerfacecolor=colour if inside else "white")


def changes_chart(summary: dict, path: Path) -> None:
    """Scenario-minus-baseline of the headline statistics, one panel per unit.

    Blue: the 90 % interval excludes zero (a clear change); grey: it does not.
    Statistics missing in either network are left out (the report says why).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [h for h in summary["headline"]
            if h.get("difference") and h["difference"]["mean"] is not None]
    panels: dict[str, list[dict]] = {}
    for r in rows:
        unit = r["units"]
        key = (f"{r['pollutant']} [{unit}]" if unit not in ("share", "days", "districts")
               else unit)
        panels.setdefault(key, []).append(r)
    heights = [len(v) + 1 for v in panels.values()] or [1]
    fig = Figure(figsize=(8, 0.33 * sum(heights) + 1.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(heights), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, items) in zip(axes[:, 0], panels.items(), strict=False):
        y = np.arange(len(items))[::-1]
        for yi, r in zip(y, items, strict=True):
            d = r["difference"]
            _draw_interval(ax, yi, d, "#0072B2" if clear(d) else "#999999")
        ax.axvline(0.0, color="black", lw=0.8)
        ax.set_yticks(y, [r["label"] for r in items], fontsize=8)
        ax.set_ylim(-0.7, len(items) - 0.3)
        ax.set_title(title, fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=8)
    real = summary.get("data", {}).get("kind") == "real readings"
    axes[-1, 0].set_xlabel(
        "scenario − baseline from the real readings (one measured year, no interval)" if real
        else "scenario − baseline: mean and 90% interval over realisations "
             "(blue: interval excludes 0; hollow: mean outside the interval)", fontsize=8)
    fig.suptitle(f"{summary['scenario']}: change against the baseline ({summary['year']})")
    fig.tight_layout()
    fig.savefig(path, dpi=130)


