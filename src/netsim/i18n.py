"""English and Chinese names and phrases of netsim's reports, maps and inputs.

Beijing's planners read the statement in Chinese; ``--lang zh`` (``lang: zh`` in a
scenario) renders reports, PNG maps and the web map with the names below.  Inputs
accept either language: :func:`canonical_district` turns ``通州区``, ``通州`` or
``tongzhou`` into the canonical ``Tongzhou`` used everywhere inside netsim.

Names follow the Beijing Ecology and Environment Statement (北京市生态环境状况公报):
districts with their 区 suffix, the Economic-Technological Development Area as
北京经济技术开发区, the statement's pollutant statistics (年均浓度, 24小时平均第95
百分位浓度, 日最大8小时滑动平均第90百分位浓度) and station groups.

:func:`text` looks phrases up by key; :func:`translate_reason` renders the
``"not valid: …"`` / ``"not computed: …"`` reasons of :mod:`netsim.stats` and
:mod:`netsim.measure` (English stays as written; unknown patterns fall back to
English).
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "AREA_NAMES_ZH",
    "DISTRICT_NAMES_ZH",
    "LANGUAGES",
    "Lang",
    "area_name",
    "canonical_district",
    "check_lang",
    "statistic_name",
    "text",
    "translate_reason",
]

Lang = Literal["en", "zh"]
LANGUAGES: tuple[str, ...] = ("en", "zh")

DISTRICT_NAMES_ZH: dict[str, str] = {
    "Dongcheng": "东城区",
    "Xicheng": "西城区",
    "Chaoyang": "朝阳区",
    "Fengtai": "丰台区",
    "Shijingshan": "石景山区",
    "Haidian": "海淀区",
    "Mentougou": "门头沟区",
    "Fangshan": "房山区",
    "Tongzhou": "通州区",
    "Shunyi": "顺义区",
    "Changping": "昌平区",
    "Daxing": "大兴区",
    "Huairou": "怀柔区",
    "Pinggu": "平谷区",
    "Miyun": "密云区",
    "Yanqing": "延庆区",
    "Beijing Economic-Technological Development Area": "北京经济技术开发区",
}
"""District (and Development Area) names as the statement writes them in Chinese."""

AREA_NAMES_ZH: dict[str, str] = {
    "city": "全市",
    "border_south": "西南、南部和东南区域传输站",
    "border_north": "东北和西北区域传输站",
    "traffic": "交通环境监测站",
    "background": "城市清洁对照站",
    "central_urban": "城六区",
    "core": "首都功能核心区",
    "plains": "平原新城",
    "ecological": "生态涵养区",
    **DISTRICT_NAMES_ZH,
}
"""Every area of :mod:`netsim.stats` and :data:`netsim.geography.AREA_GROUPS` in Chinese."""

AREA_NAMES_EN: dict[str, str] = {
    "city": "City",
    "border_south": "South border stations (SW, S, SE)",
    "border_north": "North border stations (NE, NW)",
    "traffic": "Traffic stations",
    "background": "Background station",
    "central_urban": "Six central districts",
    "core": "Core area",
    "plains": "Plain districts",
    "ecological": "Ecological conservation districts",
}

_STATISTICS: dict[str, dict[str, str]] = {
    "annual_mean": {"en": "annual mean", "zh": "年均浓度"},
    "p95_daily": {"en": "95th percentile of 24-h means", "zh": "24小时平均第95百分位浓度"},
    "p98_daily": {"en": "98th percentile of 24-h means", "zh": "24小时平均第98百分位浓度"},
    "p90_mda8": {"en": "90th percentile of daily maximum 8-h means",
                 "zh": "日最大8小时滑动平均第90百分位浓度"},
    "days_meeting_standard": {"en": "days meeting the standard", "zh": "空气质量达标天数"},
    "heavy_pollution_days": {"en": "heavy-pollution days", "zh": "重污染天数"},
    "valid_days": {"en": "valid days", "zh": "有效天数"},
}

_TEXT: dict[str, dict[str, str]] = {
    # --- report structure
    "run_title": {"en": "netsim run: {name}", "zh": "netsim 运行结果：{name}"},
    "baseline": {"en": "baseline", "zh": "基准"},
    "scenario": {"en": "scenario", "zh": "情景"},
    "change": {"en": "change", "zh": "变化"},
    "area": {"en": "area", "zh": "区域"},
    "units": {"en": "units", "zh": "单位"},
    "statistic": {"en": "statistic", "zh": "指标"},
    "published": {"en": "published", "zh": "公报值"},
    "days": {"en": "days", "zh": "天"},
    "not_valid": {"en": "not valid", "zh": "无效"},
    "not_computed": {"en": "not computed", "zh": "未计算"},
    "moves": {"en": "published figure changes", "zh": "公报数值改变"},
    "lost": {"en": "stops being valid", "zh": "失效"},
    "gained": {"en": "becomes valid", "zh": "恢复有效"},
    "section_published": {"en": "The published figures", "zh": "公报数据"},
    "section_city": {"en": "City", "zh": "全市"},
    "section_areas": {"en": "Districts and station groups: {pollutant} annual mean",
                      "zh": "各区及特殊站点：{pollutant}年均浓度"},
    "section_changes": {"en": "What the scenario changes", "zh": "情景变化"},
    "section_verdict": {"en": "Verdict", "zh": "结论"},
    "section_truth": {"en": "Against the truth", "zh": "与真值比较"},
    "section_map_error": {"en": "Map error at the stations", "zh": "站点处的插值误差"},
    "section_headline": {"en": "Headline statistics", "zh": "主要统计量"},
    "section_warnings": {"en": "Read this first", "zh": "请先阅读"},
    "section_networks": {"en": "Networks", "zh": "监测网络"},
    "section_lost": {"en": "Figures that stop being valid", "zh": "失效的统计数据"},
    "section_optimisation": {"en": "New-site optimisation", "zh": "新站点优化"},
    "stations": {"en": "stations", "zh": "站点数"},
    "by_type": {"en": "by type", "zh": "按类型"},
    "interval_note": {
        "en": "Cells: published value (GB/T 8170) and, in brackets, the 90% interval over "
              "{n} realisations of the unrounded figure; ⚑ marks a published value that "
              "changes, ✗ a figure that stops being valid.",
        "zh": "表中为按GB/T 8170修约的公报值，括号内为{n}次模拟未修约值的90%区间；⚑表示公报数值"
              "改变，✗表示统计数据失效。"},
    "real_note": {
        "en": "Cells: published value (GB/T 8170) from the real readings; ⚑ marks a "
              "published value that changes, ✗ a figure that stops being valid.",
        "zh": "表中为由实测数据计算并按GB/T 8170修约的公报值；⚑表示公报数值改变，✗表示统计"
              "数据失效。"},
    "few_realisations": {
        "en": "Only {n} realisations: the 90% intervals are rough (about 20 are needed for a "
            "stable 5th-95th percentile range); rerun with --realisations 20 or more before "
            "relying on them.",
        "zh": "仅{n}次模拟：90%区间较粗略（稳定的第5–95百分位区间约需20次模拟）；请用 "
              "--realisations 20 或更多重新运行后再引用。"},
    "real_readings": {
        "en": "Real readings: every figure is computed from the measured hourly readings in "
              "{path} ({year}), the statement's way; nothing is simulated, so there are no "
              "intervals.",
        "zh": "实测数据：所有数据均按公报方法由实测小时数据 {path}（{year}年）计算，未作模拟，"
              "故无区间。"},
    "conditioned_truth": {
        "en": "Truth conditioned on the real readings in {path} ({year}): every realisation "
              "equals them at the stations that measured and is simulated between them "
              "(netsim.conditional).",
        "zh": "真值以实测数据 {path}（{year}年）为条件：每次模拟在有实测的站点等于实测值，"
              "站点之间为条件模拟（netsim.conditional）。"},
    "file_list": {"en": "Files", "zh": "文件"},
    "settings": {"en": "Year {year}, standard {standard}, city rule {city_rule}, grid {res:.0f} m, "
                       "{n} truth realisations (seed {seed}). Intervals: 5th-95th percentile over "
                       "realisations (90%).",
                 "zh": "年份{year}，标准{standard}，城市规则{city_rule}，网格{res:.0f}米，{n}次真值"
                       "模拟（种子{seed}）。区间：各次模拟的第5–95百分位（90%）。"},
    "settings_real": {"en": "Year {year}, standard {standard}, city rule {city_rule}, grid "
                            "{res:.0f} m.",
                      "zh": "年份{year}，标准{standard}，城市规则{city_rule}，网格{res:.0f}米。"},
    # --- findings (summary.py)
    "finding_truth": {
        "en": "{net}: the city {p} figure from stations, {st:.1f} [{lo:.1f}, {hi:.1f}] {units}, is "
              "{gap:.1f} {side} the true territory-wide mean {truth:.1f}{why}; the kriged map's "
              "RMSE against the truth is {rmse:.2f} {units} and its 90% intervals cover {cov:.0f}% "
              "of cells.",
        "zh": "{net}：由站点计算的全市{p}为{st:.1f} [{lo:.1f}, {hi:.1f}] {units}，比全域真实均值"
              "{truth:.1f}{side}{gap:.1f}{why}；插值图相对真值的RMSE为{rmse:.2f} {units}，其90%区间"
              "覆盖{cov:.0f}%的网格。"},
    "above": {"en": "above", "zh": "高"},
    "below": {"en": "below", "zh": "低"},
    "towns": {"en": " (the city stations sit in the towns, not evenly over the territory)",
              "zh": "（城市评价站点位于城镇，并非均匀分布于全域）"},
    "finding_missing": {"en": "{net}: {p}: {what}.", "zh": "{net}：{p}：{what}。"},
    "city_figure_is": {"en": "the city figure is {gap}", "zh": "全市数据{gap}"},
    "map_is": {"en": "the map is {gap}", "zh": "插值图{gap}"},
    "finding_loo": {
        "en": "{net}: leaving each map station out in turn, the {p} map misses its real annual "
              "mean by {rmse:.2f} {units} (RMSE, {rel:.1f}% of the stations' mean).",
        "zh": "{net}：逐一剔除插值站点后，{p}插值图与其实测年均值的偏差为{rmse:.2f} {units}"
              "（RMSE，为站点均值的{rel:.1f}%）。"},
    "finding_loo_missing": {"en": "{net}: {p} map not checked: {gap}.",
                            "zh": "{net}：{p}插值图未检验：{gap}。"},
    # --- changes in plain words (summary.py)
    "change_sensors": {
        "en": "adds {count} low-cost sensors (type sensor, placement {placement}, instrument "
              "{instrument}{extra})",
        "zh": "增加{count}个低成本传感器（类型sensor，布设方式{placement}，"
              "仪器{instrument}{extra}）"},
    "hourly_error": {"en": ", hourly error {v:g} %", "zh": "，小时误差{v:g}%"},
    "bias": {"en": ", bias {v:+g} %", "zh": "，偏差{v:+g}%"},
    "change_outage": {"en": "outage: {who} lose {loss} in {when}",
                      "zh": "停运：{who}在{when}{loss}"},
    "random_share": {"en": "a random {v:g} % of the stations", "zh": "随机{v:g}%的站点"},
    "all_stations": {"en": "all stations", "zh": "全部站点"},
    "redrawn": {"en": ", redrawn in every realisation", "zh": "（每次模拟重新抽取）"},
    "months": {"en": "months {v}", "zh": "{v}月"},
    "period": {"en": "{a} to {b}", "zh": "{a}至{b}"},
    "whole_year": {"en": "the whole year", "zh": "全年"},
    "every_hour": {"en": "every hour", "zh": "丢失全部小时数据"},
    "hour_probability": {"en": "each hour with probability {v:g}",
                         "zh": "每小时以{v:g}的概率丢失数据"},
    "change_stations": {"en": "{verb} {n} station(s): {list}", "zh": "{verb}{n}个站点：{list}"},
    "added": {"en": "adds", "zh": "新增"},
    "removed": {"en": "removes", "zh": "撤销"},
    "moved": {"en": "moves", "zh": "迁移"},
    "retyped": {"en": "retypes", "zh": "变更类型"},
    "and_others": {"en": " and others", "zh": "等"},
}
"""Report phrases by key and language (``{name}`` fields filled by :func:`text`)."""

_REASONS_ZH: tuple[tuple[str, str], ...] = (
    (r"^(\d+) valid days < (\d+) required \(HJ 663\)$", r"有效天数\1天，少于规定的\2天（HJ 663）"),
    (r"^(\w{3}) has (\d+) valid days < (\d+) required \(HJ 663 monthly rule\)$",
     r"\1月有效天数\2天，少于规定的\3天（HJ 663月度规则）"),
    (r"^no station of this area in the network$", "网络中该区域无站点"),
    (r"^none of its stations is in the readings$", "该区域站点均无监测数据"),
    (r"^not in the readings$", "监测数据中无此站点"),
    (r"^the daily AQI needs all six pollutants \(HJ 633-2012\); no readings of (.+)$",
     r"日AQI需要全部六项污染物（HJ 633-2012）；缺少\1数据"),
    (r"^only (\d+) map station\(s\) have a valid (\S+) annual mean \(kriging needs 3\)$",
     r"仅\1个插值站点有有效的\2年均值（克里金插值至少需要3个）"),
    (r"^no day has valid city daily values of all six pollutants$",
     "没有一天六项污染物日均值均有效"),
)
_MONTHS_ZH = {m: str(i) for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def check_lang(lang: str) -> Lang:
    """``"en"`` or ``"zh"`` (case-insensitive; ``zh-CN``/``cn`` accepted), else NetsimError."""
    from netsim.errors import NetsimError

    key = str(lang).strip().lower().replace("_", "-")
    if key in ("zh", "zh-cn", "zh-hans", "cn", "chinese", "中文"):
        return "zh"
    if key in ("en", "en-gb", "en-us", "english"):
        return "en"
    raise NetsimError(f"--lang {lang!r}: expected 'en' (English) or 'zh' (Chinese)")


def text(key: str, lang: str = "en", **fields: object) -> str:
    """The phrase ``key`` in ``lang`` with ``fields`` filled in (English if no translation)."""
    entry = _TEXT[key]
    return entry.get(lang, entry["en"]).format(**fields)


def statistic_name(statistic: str, lang: str = "en") -> str:
    """``annual_mean`` → "annual mean" / "年均浓度"."""
    entry = _STATISTICS.get(statistic)
    return statistic.replace("_", " ") if entry is None else entry.get(lang, entry["en"])


def area_name(area: str, lang: str = "en") -> str:
    """An area of the statistics tables in ``lang`` (districts keep their English names in
    English; groups get a readable label)."""
    if lang == "zh":
        return AREA_NAMES_ZH.get(area, area)
    return AREA_NAMES_EN.get(area, area)


def _district_key(name: str) -> str:
    return re.sub(r"[\s\-_]+", "", name).lower()


_DISTRICT_LOOKUP: dict[str, str] = {}
for _en, _zh in DISTRICT_NAMES_ZH.items():
    _DISTRICT_LOOKUP[_district_key(_en)] = _en
    _DISTRICT_LOOKUP[_zh] = _en
    _DISTRICT_LOOKUP[_zh.removesuffix("区")] = _en
    _DISTRICT_LOOKUP[_district_key(_en) + "district"] = _en
_DISTRICT_LOOKUP.update({"亦庄": "Beijing Economic-Technological Development Area",
                         "经开区": "Beijing Economic-Technological Development Area",
                         "yizhuang": "Beijing Economic-Technological Development Area",
                         "bda": "Beijing Economic-Technological Development Area",
                         "developmentarea": "Beijing Economic-Technological Development Area"})


def canonical_district(name: object) -> object:
    """The canonical (English) district name of ``通州区``, ``通州``, ``Tongzhou``,
    ``tongzhou district``; anything else is returned unchanged (for the caller's check)."""
    if not isinstance(name, str):
        return name
    key = name.strip()
    return _DISTRICT_LOOKUP.get(key, _DISTRICT_LOOKUP.get(_district_key(key), key))


def translate_reason(reason: str, lang: str = "en") -> str:
    """A ``"not valid: …"``/``"not computed: …"`` reason in ``lang``."""
    if lang != "zh" or not reason:
        return reason
    kind, _, why = reason.partition(": ")
    head = {"not valid": text("not_valid", "zh"), "not computed": text("not_computed", "zh")}
    out = head.get(kind, kind)
    for pattern, template in _REASONS_ZH:
        match = re.match(pattern, why)
        if match:
            zh = match.expand(template)
            for en_month, number in _MONTHS_ZH.items():
                zh = zh.replace(f"{en_month}月", f"{number}月")
            return f"{out}：{zh}"
    return f"{out}：{why}" if why else out
