"""Is a change real, and does it matter?  Verdicts on a scenario against its baseline.

A difference between the scenario and the baseline is taken realisation by
realisation (:func:`netsim.ensemble.differences`).  :func:`classify` sorts it into

``unchanged``
    identical in every realisation (up to round-off, :data:`NUMERICAL_ZERO`);
``no_clear_change``
    its 90 % interval straddles zero: noise, not the network;
``negligible``
    consistent (the interval excludes zero) but too small to matter: it moves
    neither the published figure (GB/T 8170 rounded) nor exceeds the statistic's
    threshold (:data:`PRACTICAL_THRESHOLDS`);
``real``
    consistent *and* it moves the published figure or exceeds the threshold;
``not_comparable``
    missing in a network (the reason says why).

A run on real readings has one measured year: a change is ``real`` when it
exceeds round-off.  Verdict sentences are rendered in English or Chinese
(:mod:`netsim.i18n`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from netsim.ensemble import (
    KEY,
    NETWORK_NAMES,
    NUMERICAL_ZERO,
    RowIndex,
    lookup,
    missing_text,
    published_text,
    units,
)
from netsim.i18n import area_name, statistic_name, translate_reason
from netsim.standards import STATISTICS

__all__ = [
    "COVERAGE_BAND",
    "FEW_REALISATIONS",
    "PRACTICAL_THRESHOLDS",
    "Verdict",
    "classify",
    "clear",
    "coverage_notes",
    "verdicts",
]

PRACTICAL_THRESHOLDS: dict[str, tuple[float, float]] = {
    # statistic: (absolute threshold in its units, relative to the baseline value)
    "annual_mean": (1.0, 0.0),
    "p95_daily": (1.0, 0.0),
    "p98_daily": (1.0, 0.0),
    "p90_mda8": (1.0, 0.0),
    "days_meeting_standard": (1.0, 0.0),
    "heavy_pollution_days": (1.0, 0.0),
    "rmse": (0.0, 0.05),
    "bias": (0.0, 0.05),
    "loo_rmse": (0.0, 0.05),
    "held_out_rmse": (0.0, 0.05),
    "coverage90": (0.03, 0.0),
    "share_above_limit_map": (0.01, 0.0),
    "districts_above_limit_map": (1.0, 0.0),
}
"""When a consistent change matters even if the published figure does not move.

Concentration figures: one published unit (1 µg/m³; CO 0.1 mg/m³ — the absolute
value is scaled by the pollutant's precision), a change that moves the published
figure whatever the rounding; day counts: 1 day; map errors (RMSE, bias): 5 % of
the baseline value; interval coverage: 3 points; territory above the limit:
1 % of the territory; districts above the limit: one district."""

COVERAGE_BAND = (0.85, 0.95)
"""A map whose 90 % kriging intervals cover less of the truth than 0.85 is called
over-confident, more than 0.95 under-confident (ideal 0.90)."""

FEW_REALISATIONS = 20
"""Below this many realisations the 5th–95th percentile intervals are rough."""

_PHRASES: dict[str, dict[str, str]] = {
    "city_what": {"en": "The city {p} figure ({stat}, from {source})",
                  "zh": "全市{p}{stat}（由{source}计算）"},
    "stations": {"en": "stations", "zh": "监测站点"},
    "real_readings": {"en": "the real readings", "zh": "实测数据"},
    "unchanged": {"en": "{what} is unchanged in every realisation (published {pub})",
                  "zh": "{what}在每次模拟中均不变（公报值{pub}）"},
    "unchanged_real": {"en": "{what} is unchanged (published {pub})",
                       "zh": "{what}不变（公报值{pub}）"},
    "real": {"en": "{what} {verb} by {abs:.2f} {units} (90% interval {lo:+.2f} to {hi:+.2f}); "
                   "published {pub_b} → {pub_s}",
             "zh": "{what}{verb}{abs:.2f} {units}（90%区间 {lo:+.2f} 至 {hi:+.2f}）；"
                   "公报值 {pub_b} → {pub_s}"},
    "real_real": {"en": "{what} {verb} from {base:.2f} to {scen:.2f} {units} ({diff:+.2f}); "
                        "published {pub_b} → {pub_s}",
                  "zh": "{what}由{base:.2f}{verb}至{scen:.2f} {units}（{diff:+.2f}）；"
                        "公报值 {pub_b} → {pub_s}"},
    "negligible": {"en": "{what} changes by {diff:+.2f} {units} (90% interval {lo:+.2f} to "
                         "{hi:+.2f}): consistent, but too small to matter (published {pub_b} "
                         "→ {pub_s}, threshold {thr:g} {units})",
                   "zh": "{what}变化{diff:+.2f} {units}（90%区间 {lo:+.2f} 至 {hi:+.2f}）："
                         "方向一致但幅度太小（公报值 {pub_b} → {pub_s}，阈值 {thr:g} {units}）"},
    "no_clear_change": {"en": "{what} shows no clear change ({diff:+.2f} {units}, 90% interval "
                              "{lo:+.2f} to {hi:+.2f}; published {pub_b} → {pub_s})",
                        "zh": "{what}无明确变化（{diff:+.2f} {units}，90%区间 {lo:+.2f} 至 "
                              "{hi:+.2f}；公报值 {pub_b} → {pub_s}）"},
    "not_comparable": {"en": "{what} cannot be compared: {gaps}",
                       "zh": "{what}无法比较：{gaps}"},
    "rises": {"en": "rises", "zh": "上升"},
    "drops": {"en": "drops", "zh": "下降"},
    "because": {"en": " because {why}", "zh": "，原因：{why}"},
    "partly": {"en": " where both networks have it ({gaps})",
               "zh": "（仅统计两网络均有效的模拟：{gaps}）"},
    "truth_same": {"en": "; the true city mean is unchanged (same truth realisations)",
                   "zh": "；真实全市均值不变（相同的真值模拟）"},
    "truth_moves": {"en": "; the true city mean moves by {d:+.2f}",
                    "zh": "；真实全市均值变化{d:+.2f}"},
    "map_same": {"en": ". The map is unchanged (RMSE {rb:.2f} {units} against the truth)",
                 "zh": "。插值图不变（相对真值的RMSE {rb:.2f} {units}）"},
    "map_real": {"en": ". The scenario's map is {better} the truth: RMSE {rb:.2f} → {rs:.2f} "
                       "{units} ({d:+.3f}, 90% interval {lo:+.3f} to {hi:+.3f})",
                 "zh": "。情景插值图{better}真值：RMSE {rb:.2f} → {rs:.2f} {units}（{d:+.3f}，"
                       "90%区间 {lo:+.3f} 至 {hi:+.3f}）"},
    "closer": {"en": "closer to", "zh": "更接近"},
    "further": {"en": "further from", "zh": "更偏离"},
    "map_small": {"en": ". Map error against the truth: consistent but negligible (RMSE "
                        "{rb:.2f} → {rs:.2f} {units}, under 5 %)",
                  "zh": "。插值误差：变化方向一致但可忽略（RMSE {rb:.2f} → {rs:.2f} {units}，"
                        "小于5%）"},
    "map_unclear": {"en": ". Map error against the truth: no clear change (RMSE {rb:.2f} → "
                          "{rs:.2f})",
                    "zh": "。插值误差无明确变化（RMSE {rb:.2f} → {rs:.2f}）"},
    "map_gaps": {"en": ". Map error against the truth: {gaps}", "zh": "。插值误差：{gaps}"},
    "held_out": {"en": ". At the removed stations the scenario's map misses their real annual "
                       "means by {rmse:.2f} {units} (RMSE)",
                 "zh": "。在被撤销站点处，情景插值图与其实测年均值的偏差为"
                       "{rmse:.2f} {units}（RMSE）"},
    "days_real": {"en": "{name}: {d:+.1f} days (90% interval {lo:+.1f} to {hi:+.1f}); "
                        "published {pub_b} → {pub_s}",
                  "zh": "{name}：{d:+.1f}天（90%区间 {lo:+.1f} 至 {hi:+.1f}）；"
                        "公报值 {pub_b} → {pub_s}"},
    "days_measured": {"en": "{name}: {d:+.0f} days; published {pub_b} → {pub_s}",
                      "zh": "{name}：{d:+.0f}天；公报值 {pub_b} → {pub_s}"},
    "days_same": {"en": "{name}: unchanged in every realisation (published {pub_b})",
                  "zh": "{name}：每次模拟均不变（公报值{pub_b}）"},
    "days_same_real": {"en": "{name}: unchanged (published {pub_b})",
                       "zh": "{name}：不变（公报值{pub_b}）"},
    "days_small": {"en": "{name}: {d:+.1f} days, consistent but too small to matter "
                         "(published {pub_b} → {pub_s})",
                   "zh": "{name}：{d:+.1f}天，方向一致但幅度太小（公报值 {pub_b} → {pub_s}）"},
    "days_unclear": {"en": "{name}: no clear change ({d:+.1f} days, 90% interval {lo:+.1f} to "
                           "{hi:+.1f})",
                     "zh": "{name}：无明确变化（{d:+.1f}天，90%区间 {lo:+.1f} 至 {hi:+.1f}）"},
    "days_gaps": {"en": "{name}: {gaps}", "zh": "{name}：{gaps}"},
    "lost": {"en": "Figures the scenario loses ({kind}; reasons per figure in "
                   "annual_by_area.csv): {items}",
             "zh": "情景中失效的统计数据（{kind}；各项原因见 annual_by_area.csv）：{items}"},
    "every": {"en": "in every realisation", "zh": "每次模拟"},
    "some": {"en": "in {n} of {total}", "zh": "{total}次模拟中{n}次"},
    "over_confident": {"en": "{net}: the {p} map is over-confident: its 90% intervals cover "
                             "only {cov:.0f}% of cells (ideal 90%)",
                       "zh": "{net}：{p}插值图过于自信：其90%区间仅覆盖{cov:.0f}%的网格"
                             "（理想为90%）"},
    "under_confident": {"en": "{net}: the {p} map is under-confident: its 90% intervals cover "
                              "{cov:.0f}% of cells (ideal 90%), wider than they need be",
                        "zh": "{net}：{p}插值图过于保守：其90%区间覆盖{cov:.0f}%的网格"
                              "（理想为90%）"},
}


def _stop(lang: str) -> str:
    """The full stop of a sentence in ``lang``."""
    return "。" if lang == "zh" else "."


def _sep(lang: str) -> str:
    """The separator of a list of clauses in ``lang``."""
    return "；" if lang == "zh" else "; "


def _say(key: str, lang: str, **fields: Any) -> str:
    entry = _PHRASES[key]
    return entry.get(lang, entry["en"]).format(**fields)


@dataclass(frozen=True)
class Verdict:
    """One statistic's change: its class and the numbers a sentence or a table needs."""

    key: tuple[str, str, str, str]
    kind: str
    mean: float | None = None
    p05: float | None = None
    p95: float | None = None
    published_baseline: str = ""
    published_scenario: str = ""
    threshold: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"key": list(self.key), "class": self.kind, "mean": self.mean, "p05": self.p05,
                "p95": self.p95, "published_baseline": self.published_baseline,
                "published_scenario": self.published_scenario, "threshold": self.threshold}


def _threshold(statistic: str, pollutant: str, base_value: float) -> float:
    absolute, relative = PRACTICAL_THRESHOLDS.get(statistic, (0.0, 0.05))
    if statistic in STATISTIC_FIGURES and pollutant == "CO":
        absolute /= 10.0  # CO is published to 0.1 mg/m³
    return max(absolute, relative * abs(base_value))


STATISTIC_FIGURES = ("annual_mean", "p95_daily", "p98_daily", "p90_mda8")


def _identical(row: Mapping[str, float]) -> bool:
    return max(abs(row["p05"]), abs(row["p95"])) <= NUMERICAL_ZERO


def clear(row: Mapping[str, float]) -> bool:
    """The 90 % interval excludes zero by more than round-off (:data:`NUMERICAL_ZERO`)."""
    tiny = NUMERICAL_ZERO * (1.0 + abs(row["mean"]))
    return row["p05"] > tiny or row["p95"] < -tiny


def classify(key: tuple[str, str, str, str], d: pd.DataFrame, s: pd.DataFrame,
             *, real: bool = False) -> Verdict:
    """The :class:`Verdict` of statistic ``key`` (see the module docstring).

    ``d``: reduced differences indexed by :data:`KEY`; ``s``: reduced statistics indexed
    by ``network`` + :data:`KEY` (either as a :class:`netsim.ensemble.RowIndex`).
    """
    pollutant, statistic = key[2], key[3]
    base, scen = (lookup(s, (net, *key)) for net in NETWORK_NAMES)
    pub = {net: published_text(row["mean"], pollutant) if row is not None else ""
           for net, row in zip(NETWORK_NAMES, (base, scen), strict=True)}
    row = lookup(d, key)
    if row is None or not np.isfinite(row["mean"]) or base is None:
        return Verdict(key, "not_comparable", published_baseline=pub["baseline"],
                       published_scenario=pub["scenario"])
    thr = _threshold(statistic, pollutant, float(base["mean"]))
    numbers = {"mean": float(row["mean"]), "p05": float(row["p05"]), "p95": float(row["p95"]),
               "published_baseline": pub["baseline"], "published_scenario": pub["scenario"],
               "threshold": thr}
    moved = key[0] == "stations" and pub["baseline"] != pub["scenario"]
    if real:
        kind = "unchanged" if abs(row["mean"]) <= NUMERICAL_ZERO else "real"
    elif _identical(row):
        kind = "unchanged"
    elif not clear(row):
        kind = "no_clear_change"
    elif moved or abs(row["mean"]) >= thr:
        kind = "real"
    else:
        kind = "negligible"
    return Verdict(key, kind, **numbers)


def _network_gaps(s: RowIndex, key: tuple[str, str, str, str], lang: str) -> str:
    """``"baseline: …; scenario: …"`` for the networks where a statistic is missing."""
    parts = []
    for net in NETWORK_NAMES:
        row = lookup(s, (net, *key))
        gap = missing_text(row) if row is not None else "not computed"
        if gap:
            label = {"baseline": {"en": "baseline", "zh": "基准"},
                     "scenario": {"en": "scenario", "zh": "情景"}}[net].get(lang, net)
            parts.append(f"{label}: {_missing_in(gap, lang)}")
    return "; ".join(parts)


def _missing_in(gap: str, lang: str) -> str:
    """A :func:`missing_text` in ``lang`` (Chinese: the reason in the brackets translated)."""
    if lang != "zh":
        return gap
    head, _, rest = gap.partition(" (")
    kind = "not valid" if head.startswith("not valid") else "not computed"
    why = rest[:-1] if rest.endswith(")") else rest
    return translate_reason(f"{kind}: {why}" if why else kind, lang)


def _city_verdict(d, s, p: str, why: str, lang: str, real: bool) -> str:
    stat = STATISTICS[p][0]
    key = ("stations", "city", p, stat)
    source = _say("real_readings" if real else "stations", lang)
    what = _say("city_what", lang, p=p, stat=statistic_name(stat, lang), source=source)
    v = classify(key, d, s, real=real)
    u = units(p)
    if v.kind == "not_comparable":
        gaps = _network_gaps(s, key, lang)
        return _say("not_comparable", lang, what=what, gaps=gaps) + _stop(lang)
    nums = {"what": what, "units": u, "diff": v.mean, "abs": abs(v.mean), "lo": v.p05,
            "hi": v.p95, "pub": v.published_baseline, "pub_b": v.published_baseline,
            "pub_s": v.published_scenario, "thr": v.threshold,
            "verb": _say("rises" if v.mean > 0 else "drops", lang)}
    if real:
        base, scen = (lookup(s, (net, *key))["mean"] for net in NETWORK_NAMES)
        text = _say("unchanged_real" if v.kind == "unchanged" else "real_real", lang,
                    base=base, scen=scen, **nums)
    else:
        text = _say(v.kind, lang, **nums)
    if v.kind == "real" and why:
        text += _say("because", lang, why=why)
    gaps = _network_gaps(s, key, lang)
    if gaps:
        text += _say("partly", lang, gaps=gaps)
    if not real:
        truth = lookup(d, ("truth", "city", p, "annual_mean"))
        if truth is not None:
            text += (_say("truth_same", lang) if _identical(truth)
                     else _say("truth_moves", lang, d=truth["mean"]))
    tail = _held_out_clause(s, p, lang) if real else _map_clause(d, s, p, lang)
    return text + tail + _stop(lang)


def _map_clause(d, s, p: str, lang: str) -> str:
    key = ("error", "city", p, "rmse")
    v = classify(key, d, s)
    u = units(p)
    if v.kind == "not_comparable":
        gaps = _network_gaps(s, key, lang)
        return _say("map_gaps", lang, gaps=gaps) if gaps else ""
    rb, rs = (lookup(s, (net, *key))["mean"] for net in NETWORK_NAMES)
    if v.kind == "unchanged":
        return _say("map_same", lang, rb=rb, units=u)
    if v.kind == "real":
        return _say("map_real", lang, better=_say("closer" if v.mean < 0 else "further", lang),
                    rb=rb, rs=rs, units=u, d=v.mean, lo=v.p05, hi=v.p95)
    if v.kind == "negligible":
        return _say("map_small", lang, rb=rb, rs=rs, units=u)
    return _say("map_unclear", lang, rb=rb, rs=rs)


def _held_out_clause(s, p: str, lang: str) -> str:
    held = lookup(s, ("scenario", "error", "city", p, "held_out_rmse"))
    if held is None or not np.isfinite(held["mean"]):
        return ""
    return _say("held_out", lang, rmse=held["mean"], units=units(p))


def _day_count_verdict(d, s, stat: str, lang: str, real: bool) -> str:
    key = ("stations", "city", "AQI", stat)
    name = statistic_name(stat, lang)
    name = name[0].upper() + name[1:]
    v = classify(key, d, s, real=real)
    if v.kind == "not_comparable":
        return _say("days_gaps", lang, name=name, gaps=_network_gaps(s, key, lang)) + _stop(lang)
    fields = {"name": name, "d": v.mean, "lo": v.p05, "hi": v.p95,
              "pub_b": v.published_baseline, "pub_s": v.published_scenario}
    phrase = {"unchanged": "days_same_real" if real else "days_same",
              "real": "days_measured" if real else "days_real", "negligible": "days_small",
              "no_clear_change": "days_unclear"}[v.kind]
    text = _say(phrase, lang, **fields)
    gaps = _network_gaps(s, key, lang)
    return text + (f"; {gaps}" if gaps else "") + _stop(lang)


def _lost_figures(s: RowIndex, lang: str) -> list[str]:
    """Areas whose figures the baseline has in every realisation but the scenario lacks,
    one sentence per kind of loss, areas grouped by how often they lose their figures."""
    lost: dict[str, dict[str, Any]] = {}
    total_stats: dict[str, int] = {}
    for key, row in s.table.loc["scenario"].iterrows():
        if key[0] != "stations" or key[2] == "AQI":
            continue
        total_stats[key[1]] = total_stats.get(key[1], 0) + 1
        base = lookup(s, ("baseline", *key))
        if not missing_text(row) or base is None or missing_text(base):
            continue
        entry = lost.setdefault(key[1], {"why": row["reason"], "n": 0, "pollutants": []})
        entry["n"] = max(entry["n"], int(row["n_realisations"] - row["n"]))
        entry["total"] = int(row["n_realisations"])
        entry["pollutants"].append(key[2])
    by_kind: dict[str, list[tuple[int, str]]] = {}
    for area, e in lost.items():
        pollutants = list(dict.fromkeys(e["pollutants"]))
        complete = len(e["pollutants"]) == total_stats[area]
        label = area_name(area, lang) + ("" if complete else f" ({', '.join(pollutants)})")
        when = (_say("every", lang) if e["n"] == e["total"]
                else _say("some", lang, n=e["n"], total=e["total"]))
        kind = str(e["why"]).split(":")[0] or "not computed"
        by_kind.setdefault(kind, []).append((e["n"], f"{label} {when}"))
    return [_say("lost", lang, kind=translate_reason(kind, lang),
                 items=_sep(lang).join(t for _, t in sorted(items, key=lambda t: -t[0])))
            + _stop(lang)
            for kind, items in by_kind.items()]


def verdicts(diff: pd.DataFrame, stats: pd.DataFrame, pollutants: Sequence[str],
             why: Mapping[str, str], *, real: bool = False, lang: str = "en"
             ) -> tuple[list[str], list[dict[str, Any]]]:
    """Plain-language verdicts and their classes: city figures, day counts, lost figures.

    Parameters
    ----------
    diff, stats
        Reduced differences and statistics (:mod:`netsim.ensemble`), not indexed.
    why
        Pollutant → why the city figure moved (stations entering/leaving the city set).
    real
        A run on real readings (one measured year).
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    sentences, classes
        The sentences, and every classified statistic as a dict (for summary.json).
    """
    d = RowIndex(diff.set_index(KEY))
    s = RowIndex(stats.set_index(["network", *KEY]))
    out = [_city_verdict(d, s, p, why.get(p, ""), lang, real) for p in pollutants]
    out += [_day_count_verdict(d, s, stat, lang, real)
            for stat in ("days_meeting_standard", "heavy_pollution_days")]
    out += _lost_figures(s, lang)
    keys = [tuple(k) for k in d.table.index if k[0] in ("stations", "error")]
    classes = [classify(k, d, s, real=real).to_dict() for k in keys]
    return out, classes


def coverage_notes(stats: pd.DataFrame, networks: Sequence[str], pollutants: Sequence[str],
                   lang: str = "en") -> list[str]:
    """Maps whose 90 % intervals cover the truth far from 90 % of cells (:data:`COVERAGE_BAND`)."""
    s = stats.set_index(["network", *KEY])
    out = []
    for net in networks:
        for p in pollutants:
            row = lookup(s, (net, "error", "city", p, "coverage90"))
            if row is None or not np.isfinite(row["mean"]):
                continue
            cov = float(row["mean"])
            if cov < COVERAGE_BAND[0]:
                out.append(_say("over_confident", lang, net=net, p=p, cov=100 * cov) + ".")
            elif cov > COVERAGE_BAND[1]:
                out.append(_say("under_confident", lang, net=net, p=p, cov=100 * cov) + ".")
    return out
