"""report.md: the published figures, lost figures with their stations, verdict classes, Chinese."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netsim.ensemble import KEY, differences, reduce
from netsim.run import run_scenario
from netsim.scenario import Scenario
from netsim.verdicts import classify

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ROOT / "stations" / "beijing_35.csv"

SOUTH = ["yufa", "yongledian", "liulihe"]


def _scenario(**extra) -> Scenario:
    data = {
        "name": "south_outage",
        "base_network": str(STATIONS),
        "realisations": 2,
        "pollutants": ["PM2.5", "NO2"],
        "grid": {"resolution_m": 5000},
        "outputs": {"maps": False, "web_map": False},
        # Jan-Mar lost: 366 - 91 = 275 valid days < 324 (HJ 663)
        "changes": [{"kind": "outage", "stations": SOUTH, "months": [1, 2, 3]}],
    }
    data.update(extra)
    return Scenario.from_dict(data)


@pytest.fixture(scope="module")
def outage_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "south"
    run_scenario(_scenario(), out)
    return out


def test_a_row_index_classifies_as_the_tables_do():
    """verdicts() looks rows up in RowIndex dicts: the same values and verdicts as the
    indexed tables, missing keys None."""
    from netsim.ensemble import RowIndex, lookup

    d, s = _stats([35.4, 35.3, 35.2, 35.4, 35.3], [35.9, 36.0, 35.8, 36.1, 35.9])
    key = ("stations", "city", "PM2.5", "annual_mean")
    fast_d, fast_s = RowIndex(d), RowIndex(s)
    assert classify(key, fast_d, fast_s) == classify(key, d, s)
    for net in ("baseline", "scenario"):
        row, fast = lookup(s, (net, *key)), lookup(fast_s, (net, *key))
        assert set(fast) == set(row.index)
        assert all(fast[c] == row[c] or (pd.isna(fast[c]) and pd.isna(row[c])) for c in fast)
    assert lookup(fast_s, ("baseline", "stations", "nowhere", "PM2.5", "annual_mean")) is None
    with pytest.raises(ValueError, match="unique index"):
        RowIndex(pd.concat([d, d]))


@pytest.mark.slow
def test_report_names_the_stations_that_lost_validity_and_why(outage_run):
    report = (outage_run / "report.md").read_text(encoding="utf-8")
    lost = report.split("## Figures that stop being valid")[1].split("\n## ")[0]
    line = next(li for li in lost.splitlines() if li.startswith("- South border stations"))
    assert "not valid (275 valid days < 324 required (HJ 663))" in line  # the group
    for sid in SOUTH:  # each station: at most 275 days (random missing hours may cost one)
        assert re.search(rf"{sid} \(not valid \(27[45] valid days < 324 required", line), sid
    assert "outage: yufa, yongledian, liulihe lose every hour in months 1, 2, 3" in report
    table = report.split("### Districts and station groups: PM2.5")[1].split("###")[0]
    row = next(li for li in table.splitlines() if li.startswith("| South border stations"))
    assert row.rstrip().endswith("✗ |")
    summary = json.loads((outage_run / "summary.json").read_text())
    entry = next(e for e in summary["published"] if e["area"] == "border_south"
                 and e["pollutant"] == "PM2.5")
    assert entry["flag"] == "lost" and entry["scenario"]["mean"] is None
    assert len(entry["stations_not_valid"]) == 3


@pytest.mark.slow
def test_report_in_chinese(tmp_path):
    out = tmp_path / "zh"
    run_scenario(_scenario(lang="zh"), out)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# netsim 运行结果：south_outage")
    for phrase in ("## 公报数据", "### 全市", "PM2.5年均浓度", "西南、南部和东南区域传输站",
                   "通州区", "无效：有效天数27", "天，少于规定的324天（HJ 663）", "## 结论"):
        assert phrase in report, phrase
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert '"Noto Sans CJK SC", "Noto Sans SC"' in page
    assert "<h2>公报数据</h2>" in page and "<td>西南、南部和东南区域传输站</td>" in page
    assert "nan" not in report.lower()


def _stats(base: list[float], scen: list[float], statistic: str = "annual_mean"):
    rows = []
    for net, values in (("baseline", base), ("scenario", scen)):
        for r, v in enumerate(values):
            rows.append(("stations", "city", "PM2.5", statistic, v, "", net, r))
    table = pd.DataFrame(rows, columns=[*KEY, "value", "reason", "network", "realisation"])
    d = differences(table).set_index(KEY)
    s = reduce(table, ["network", *KEY]).set_index(["network", *KEY])
    return d, s


def test_a_consistent_change_below_the_published_precision_is_negligible():
    """Every realisation moves +0.2 µg/m³ (one of them +0.4, a skewed set): the interval
    excludes zero, but the published value (35) stays and 0.2 < 1 µg/m³: not real."""
    base = [34.8, 35.1, 35.0, 34.9, 35.2]
    scen = [b + d for b, d in zip(base, [0.2, 0.2, 0.2, 0.2, 0.4], strict=True)]
    d, s = _stats(base, scen)
    v = classify(("stations", "city", "PM2.5", "annual_mean"), d, s)
    assert v.published_baseline == v.published_scenario == "35"
    assert v.kind == "negligible"


def test_a_change_that_moves_the_published_figure_is_real():
    base = [35.4, 35.3, 35.2, 35.4, 35.3]
    scen = [b + 0.6 for b in base]  # 35 -> 36 published; 0.6 < 1 but the figure moves
    d, s = _stats(base, scen)
    v = classify(("stations", "city", "PM2.5", "annual_mean"), d, s)
    assert (v.published_baseline, v.published_scenario) == ("35", "36")
    assert v.kind == "real"


def test_an_interval_straddling_zero_is_no_clear_change():
    base = list(np.linspace(30, 40, 10))
    scen = [b + e for b, e in zip(base, np.linspace(-2, 2.5, 10), strict=True)]
    d, s = _stats(base, scen)
    assert classify(("stations", "city", "PM2.5", "annual_mean"), d, s).kind == \
        "no_clear_change"


@pytest.mark.slow
def test_report_html_is_written_a_block_at_a_time_as_rendered(outage_run, tmp_path):
    """write_html's file is render_html's page, byte for byte (the run's report.html is
    written so), in English and Chinese."""
    from netsim.report import Figure, figure_caption, report_blocks
    from netsim.report_html import render_html, write_html

    summary = json.loads((outage_run / "summary.json").read_text())
    pngs = sorted(p.relative_to(outage_run).as_posix() for p in outage_run.rglob("*.png"))
    for lang in ("en", "zh"):
        blocks = report_blocks(summary, [Figure(rel, figure_caption(rel, lang))
                                         for rel in pngs])
        write_html(blocks, outage_run, tmp_path / f"{lang}.html", lang)
        assert (tmp_path / f"{lang}.html").read_bytes() == render_html(
            blocks, outage_run, lang).encode("utf-8")
    assert pngs and (tmp_path / "en.html").read_bytes() != (
        tmp_path / "zh.html").read_bytes()


def test_report_html_is_self_contained_and_matches_report_md(outage_run):
    import base64
    import html

    page = (outage_run / "report.html").read_text(encoding="utf-8")
    md = (outage_run / "report.md").read_text(encoding="utf-8")
    # offline: nothing but data URIs; no link, script or remote address
    assert re.findall(r'src="([^"]{0,22})', page) == ["data:image/png;base64,"]
    for absent in ("href=", "<script", "<link", "url(", "http://", "https://"):
        assert absent not in page, absent
    embedded = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(embedded) == (outage_run / "changes.png").read_bytes()
    # the same content: every heading and every table row of report.md
    for level, title in re.findall(r"^(#{1,3}) (.+)$", md, flags=re.M):
        assert f"<h{len(level)}>{html.escape(title)}</h{len(level)}>" in page, title
    md_rows = [line for line in md.splitlines() if line.startswith("| ")]
    html_rows = re.findall(r"<tr>(.*?)</tr>", page)
    assert len(html_rows) == len(md_rows)
    for md_row, html_row in zip(md_rows, html_rows, strict=True):
        inner = md_row.removeprefix("| ").removesuffix(" |")
        cells = [c.replace("\\|", "|") for c in re.split(r"(?<!\\) \| ", inner)]
        assert [html.unescape(c) for c in re.findall(r"<t[dh]>(.*?)</t[dh]>", html_row)] == [
            c.strip() for c in cells]
    south = next(r for r in html_rows if "South border stations" in r)
    assert south.endswith("<td>✗</td>")
