"""netsim.summary: reducing realisations, missing statistics and skewed intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from netsim.charts import changes_chart
from netsim.ensemble import (
    differences,
    interval_contains_mean,
    interval_text,
    missing_text,
    reduce,
)

KEY = ["source", "area", "pollutant", "statistic"]


def _table(values: dict[str, list[float]], reasons: dict[str, list[str]] | None = None):
    rows = []
    for net, vals in values.items():
        for r, v in enumerate(vals):
            why = (reasons or {}).get(net, [""] * len(vals))[r]
            rows.append(("stations", "border_south", "PM2.5", "annual_mean", v, why, net, r))
    return pd.DataFrame(rows, columns=[*KEY, "value", "reason", "network", "realisation"])


def test_skewed_realisations_put_the_mean_outside_the_interval():
    """19 realisations at 0 and one at 1000: mean 50, 95th percentile 0.05 × 1000 = 50 (up to
    round-off) — a mean on or beyond the edge of its interval is a real case, not a bug."""
    values = [0.0] * 19 + [1000.0]
    reduced = reduce(_table({"baseline": values}), ["network", *KEY]).iloc[0]
    assert reduced["mean"] == pytest.approx(50.0)
    assert reduced["p95"] == pytest.approx(50.0)
    skewed = {"mean": 10.0, "p05": 0.0, "p95": 9.0}
    assert not interval_contains_mean(skewed)
    assert interval_text(skewed) == "10.00 [0.00, 9.00] †"
    assert interval_text({"mean": 1.0, "p05": 0.0, "p95": 2.0, "missing": ""}) == \
        "1.00 [0.00, 2.00]"


def test_changes_chart_draws_a_mean_outside_its_interval(tmp_path):
    """The chart used matplotlib's errorbar, which rejects a negative half-width."""
    summary = {"scenario": "skewed", "year": 2020, "headline": [
        {"label": "a", "pollutant": "PM2.5", "units": "µg/m³",
         "difference": {"mean": -0.5, "p05": -0.4, "p95": 0.3}},
        {"label": "b", "pollutant": "PM2.5", "units": "µg/m³",
         "difference": {"mean": 2.0, "p05": 0.5, "p95": 1.5}},
        {"label": "c", "pollutant": "AQI", "units": "days",
         "difference": {"mean": None, "p05": None, "p95": None, "missing": "not computed"}},
    ]}
    changes_chart(summary, tmp_path / "changes.png")
    assert (tmp_path / "changes.png").stat().st_size > 1000


def test_missing_in_some_realisations_reads_with_counts_and_reason():
    values = [30.0, np.nan, 31.0, np.nan]
    why = ["", "not valid: 275 valid days < 324 required (HJ 663)", "",
           "not valid: 300 valid days < 324 required (HJ 663)"]
    row = reduce(_table({"scenario": values}, {"scenario": why}), ["network", *KEY]).iloc[0]
    assert row["n"] == 2 and row["n_realisations"] == 4
    assert row["mean"] == pytest.approx(30.5)
    assert missing_text(row) == (
        "not valid in 2 of 4 realisations (275 valid days < 324 required (HJ 663))")
    nothing = reduce(_table({"scenario": [np.nan, np.nan]},
                             {"scenario": ["not computed: no station of this area in the "
                                           "network"] * 2}), ["network", *KEY]).iloc[0]
    assert np.isnan(nothing["mean"]) and nothing["n"] == 0
    assert missing_text(nothing) == "not computed (no station of this area in the network)"


def test_differences_skip_realisations_missing_in_either_network_and_say_which():
    table = _table({"baseline": [50.0, 52.0, 51.0], "scenario": [49.0, np.nan, 50.5]},
                   {"scenario": ["", "not valid: Jan has 20 valid days < 27 required", ""]})
    diff = differences(table).iloc[0]
    assert diff["n"] == 2 and diff["mean"] == pytest.approx((-1.0 - 0.5) / 2)
    assert missing_text(diff) == (
        "not valid in 1 of 3 realisations (scenario: Jan has 20 valid days < 27 required)")


def test_station_shift_explains_the_city_set_in_the_run_language():
    from netsim.summary import _station_shift

    def table(values: dict[str, float]) -> pd.DataFrame:
        return pd.DataFrame({"station_id": list(values), "pollutant": "PM2.5",
                             "statistic": "annual_mean", "mean": list(values.values())})

    by_station = {"baseline": table({"a": 28.0, "b": 32.0}),
                  "scenario": table({"a": 28.0, "b": 32.0, "c": 20.0})}
    city_ids = {"baseline": {"a", "b"}, "scenario": {"a", "b", "c"}}
    en = _station_shift(by_station, city_ids, "PM2.5", "annual_mean")
    zh = _station_shift(by_station, city_ids, "PM2.5", "annual_mean", "zh")
    # the baseline city figure is (28 + 32) / 2 = 30; the joining station reads 20
    assert en == ("the 1 station(s) joining the city set read 20.0 on average, cleaner than the "
                  "baseline city figure 30.0")
    assert zh == "新纳入城市评价的1个站点均值为20.0，低于基准全市值30.0"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reasons_are_the_most_frequent_per_statistic_first_on_ties(seed):
    """reduce's reason is pandas' value_counts().index[0] of the group's missing rows (the
    most frequent; the first seen on ties), for every statistic of a random long table."""
    rng = np.random.default_rng(seed)
    n = 4000
    table = pd.DataFrame({
        "source": "stations", "area": rng.choice(["a", "b", "c", "d", "e"], n),
        "pollutant": rng.choice(["PM2.5", "NO2", "O3"], n), "statistic": "annual_mean",
        "value": np.where(rng.random(n) < 0.6, np.nan, rng.random(n)),
        "reason": rng.choice(["", "not valid: x", "not valid: y", "not computed: z"], n),
        "network": rng.choice(["baseline", "scenario"], n),
    })
    table.loc[table["value"].notna(), "reason"] = ""
    by = ["network", *KEY]
    got = reduce(table, by).set_index(by)["reason"]
    gaps = table[table["value"].isna()].assign(
        reason=lambda t: t["reason"].replace("", "not computed"))
    expected = gaps.groupby(by, sort=False)["reason"].agg(lambda r: r.value_counts().index[0])
    assert len(expected) == 30
    assert got.loc[expected.index].tolist() == expected.tolist()
    complete = reduce(table.dropna(subset=["value"]), by)
    assert (complete["reason"] == "").all()


def test_lookup_is_the_indexed_row_or_none():
    from netsim.ensemble import lookup

    table = pd.DataFrame({"network": ["baseline", "baseline", "scenario"],
                          "area": ["city", "Dongcheng", "city"], "mean": [1.0, 2.0, 3.0]}
                         ).set_index(["network", "area"])
    for key in table.index:
        row = lookup(table, key)
        pd.testing.assert_series_equal(row, table.loc[key])
        assert row.name == key
    assert lookup(table, ("scenario", "Dongcheng")) is None
    assert lookup(table, ("nowhere", "city")) is None
