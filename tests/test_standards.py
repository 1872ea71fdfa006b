"""Hand-worked cases for every GB 3095 / HJ 663 / HJ 633 rule in netsim.standards.

Every expected number below is worked out by hand from ``standards.md`` (cited per test)
or checked against an independent implementation (NumPy's percentile).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netsim.errors import NetsimError
from netsim.standards import (
    AnnualRule,
    annual_validity,
    aqi_category,
    daily_aqi,
    daily_means,
    days_in_year,
    eight_hour_means,
    hj663_percentile,
    iaqi,
    limits,
    mda8,
    month_of_day,
    o3_iaqi,
    primary_pollutants,
    round_gbt8170,
)

# ----------------------------------------------------------------------------- limits


def test_gb3095_2012_table1_limits():
    # standards.md §1 Table 1
    g2 = limits("gb3095-2012", 2)
    g1 = limits("gb3095-2012", 1)
    assert g2.limit("PM2.5", "annual") == 35 and g1.limit("PM2.5", "annual") == 15
    assert g2.limit("PM2.5", "24h") == 75 and g1.limit("PM2.5", "24h") == 35
    assert g2.limit("PM10", "annual") == 70 and g2.limit("PM10", "24h") == 150
    assert g2.limit("SO2", "annual") == 60 and g1.limit("SO2", "1h") == 150
    assert g2.limit("NO2", "annual") == 40 and g2.limit("NO2", "1h") == 200
    assert g2.limit("CO", "24h") == 4 and g2.limit("CO", "1h") == 10
    assert g2.limit("O3", "8h") == 160 and g1.limit("O3", "8h") == 100
    assert g2.limit("O3", "1h") == 200
    assert g2.limit("CO", "annual") is None and g2.limit("O3", "annual") is None
    assert g2.statistic_limit("CO", "p95_daily") == 4
    assert g2.statistic_limit("O3", "p90_mda8") == 160
    assert not g2.unverified


def test_gb3095_2026_pm25_and_unverified_others():
    # standards.md §1.2: PM2.5 annual 10/25, 24-h 25/50; Phase 1 Grade II 30/60
    new2, new1 = limits("gb3095-2026", 2), limits("gb3095-2026", 1)
    assert (new2.limit("PM2.5", "annual"), new2.limit("PM2.5", "24h")) == (25, 50)
    assert (new1.limit("PM2.5", "annual"), new1.limit("PM2.5", "24h")) == (10, 25)
    ph1 = limits("gb3095-2026-phase1", 2)
    assert (ph1.limit("PM2.5", "annual"), ph1.limit("PM2.5", "24h")) == (30, 60)
    # numbers not known here: 2012 values kept and flagged
    assert new2.limit("PM10", "annual") == 70 and ("PM10", "annual") in new2.unverified
    assert ("PM2.5", "annual") not in new2.unverified


def test_unknown_standard_is_a_one_line_error():
    with pytest.raises(NetsimError, match="gb3095-2012, gb3095-2026"):
        limits("gb3095-1996")
    with pytest.raises(NetsimError, match="grade"):
        limits("gb3095-2012", 3)


# ----------------------------------------------------------------------- daily means


def _day(values):
    a = np.full(24, np.nan)
    a[: len(values)] = values
    return a


def test_daily_mean_needs_20_hours():
    # standards.md §1.1: >= 20 valid hours
    nineteen = _day(np.arange(19.0))
    twenty = _day(np.arange(20.0))
    assert np.isnan(daily_means(nineteen)[0])
    assert daily_means(twenty)[0] == pytest.approx(9.5)  # mean of 0..19
    full = np.arange(24.0)
    assert daily_means(full)[0] == pytest.approx(11.5)


def test_daily_means_are_vectorised_over_stations_and_days():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, size=(3, 48))
    x[1, 24:29] = np.nan  # 19 hours on day 2 of station 1
    d = daily_means(x)
    assert d.shape == (3, 2)
    assert d[0, 1] == pytest.approx(x[0, 24:].mean())
    assert np.isnan(d[1, 1]) and not np.isnan(d[1, 0])


def test_hours_not_multiple_of_24_rejected():
    with pytest.raises(NetsimError, match="multiple of 24"):
        daily_means(np.zeros(25))


# ---------------------------------------------------------------------------- O3 MDA8


def test_first_window_ends_0800_and_last_ends_2400():
    # hour-beginning labels: window "ending 08:00" = hours 00-07; "ending 24:00" = 16-23
    day = np.zeros(24)
    day[0:8] = 200.0
    m8 = eight_hour_means(day)
    assert m8.shape == (1, 17)
    assert m8[0, 0] == 200.0 and m8[0, 1] == pytest.approx(175.0)
    late = np.zeros(24)
    late[16:24] = 120.0
    assert mda8(late).values[0] == 120.0
    assert eight_hour_means(late)[0, 16] == 120.0


def test_windows_do_not_cross_midnight():
    two_days = np.zeros(48)
    two_days[20:28] = 300.0  # 20:00 day 1 .. 03:00 day 2
    v = mda8(two_days).values
    # day 1: best window 16-23 holds 4 high hours -> 150; day 2: window 00-07 holds 4 -> 150
    assert v[0] == pytest.approx(150.0) and v[1] == pytest.approx(150.0)


def test_eight_hour_mean_needs_6_of_8_hours():
    day = np.full(24, 100.0)
    day[0:2] = np.nan  # window 00-07 has 6 valid hours -> valid
    assert eight_hour_means(day)[0, 0] == 100.0
    day[2] = np.nan  # 5 valid hours -> invalid
    assert np.isnan(eight_hour_means(day)[0, 0])


def test_mda8_needs_14_valid_windows():
    # hours 19-23 missing -> windows starting 0..13 valid (14); hours 18-23 -> 13 windows
    d14 = np.full(24, 100.0)
    d14[19:] = np.nan
    r = mda8(d14)
    assert r.n_windows[0] == 14 and r.values[0] == 100.0
    d13 = np.full(24, 100.0)
    d13[18:] = np.nan
    r = mda8(d13)
    assert r.n_windows[0] == 13 and np.isnan(r.values[0])


def test_mda8_exceedance_rule_with_fewer_windows():
    # 13 valid windows but the maximum exceeds 160 -> valid (standards.md §1.1)
    d = np.full(24, 170.0)
    d[18:] = np.nan
    assert mda8(d).values[0] == 170.0
    at_limit = np.full(24, 160.0)
    at_limit[18:] = np.nan
    assert np.isnan(mda8(at_limit).values[0])  # 160 does not exceed 160
    # the grade's limit is a parameter (Grade I: 100)
    assert mda8(np.where(np.isnan(d), np.nan, 120.0), exceedance_limit=100.0).values[0] == 120.0


# ---------------------------------------------------------------------------- annual


def _year_with_removed(year: int, removed_per_month: dict[int, int]) -> np.ndarray:
    months = month_of_day(year)
    d = np.ones(days_in_year(year))
    for m, k in removed_per_month.items():
        idx = np.flatnonzero(months == m)[:k]
        d[idx] = np.nan
    return d


def test_months_of_2020_and_2021():
    assert len(month_of_day(2020)) == 366 and (month_of_day(2020) == 2).sum() == 29
    assert len(month_of_day(2021)) == 365 and (month_of_day(2021) == 2).sum() == 28


def test_annual_324_vs_323_days():
    # 2021: remove 41 days keeping every month >= 27 (Feb >= 25): 324 valid days
    base = {1: 4, 2: 3, 3: 4, 4: 3, 5: 4, 6: 3, 7: 4, 8: 4, 9: 3, 10: 4, 11: 3, 12: 2}
    v = annual_validity(_year_with_removed(2021, base), 2021)
    assert int(v.valid_days) == 324 and bool(v.valid)
    v = annual_validity(_year_with_removed(2021, {**base, 12: 3}), 2021)
    assert int(v.valid_days) == 323 and not bool(v.valid)
    assert "323 valid days < 324" in v.reason()


def test_monthly_rule_27_days_and_25_in_february():
    jan26 = _year_with_removed(2021, {1: 5})  # 360 days, January 26
    v = annual_validity(jan26, 2021)
    assert int(v.valid_days) == 360 and not bool(v.valid)
    assert v.reason().startswith("Jan has 26 valid days < 27")
    assert bool(annual_validity(jan26, 2021, AnnualRule(min_days_per_month=None)).valid)
    assert bool(annual_validity(_year_with_removed(2021, {2: 3}), 2021).valid)  # Feb 25
    feb24 = annual_validity(_year_with_removed(2021, {2: 4}), 2021)
    assert not bool(feb24.valid) and "Feb has 24" in feb24.reason()


def test_annual_validity_vectorised_and_checks_length():
    d = np.vstack([_year_with_removed(2020, {}), _year_with_removed(2020, {3: 10})])
    v = annual_validity(d, 2020)
    assert v.valid.tolist() == [True, False] and v.valid_days.tolist() == [366, 356]
    with pytest.raises(NetsimError, match="366"):
        annual_validity(np.ones(365), 2020)


# ------------------------------------------------------------------------ percentile


def test_percentile_worked_example():
    # standards.md §2.3: {2,3,4,4,5,8}, p=90 -> k = 5.5 -> 5 + (8-5)*0.5 = 6.5
    assert hj663_percentile(np.array([3, 4, 8, 2, 5, 4.0]), 90) == pytest.approx(6.5)


def test_percentile_integer_position_and_edges():
    x = np.array([1.0, 2, 3, 4, 5])
    assert hj663_percentile(x, 50) == 3.0  # k = 3 exactly
    assert hj663_percentile(x, 0) == 1.0 and hj663_percentile(x, 100) == 5.0
    assert hj663_percentile(np.array([7.0]), 95) == 7.0
    assert np.isnan(hj663_percentile(np.array([np.nan, np.nan]), 95))
    with pytest.raises(NetsimError):
        hj663_percentile(x, 101)


def test_percentile_ignores_nan_per_row():
    x = np.array([[2, 3, 4, 4, 5, 8, np.nan], [1, np.nan, 2, 3, 4, 5, 6]])
    np.testing.assert_allclose(hj663_percentile(x, 90), [6.5, 5.5])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=400),
    st.sampled_from([90.0, 95.0, 98.0, 50.0, 33.3]),
)
def test_percentile_matches_numpy_linear(values, p):
    x = np.array(values)
    assert hj663_percentile(x, p) == pytest.approx(np.percentile(x, p), rel=1e-12, abs=1e-9)


# -------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (0.5, 0, 0.0),
        (1.5, 0, 2.0),
        (2.5, 0, 2.0),
        (38.5, 0, 38.0),
        (39.5, 0, 40.0),
        (38.51, 0, 39.0),  # not an exact 5: ordinary rounding
        (1.25, 1, 1.2),
        (1.35, 1, 1.4),
        (1.251, 1, 1.3),
        (2.675, 2, 2.68),  # binary double is below 2.675; decimal text is exact
        (0.15, 1, 0.2),  # ditto: float 0.15 = 0.1499999...
        (-2.5, 0, -2.0),
    ],
)
def test_gbt8170_half_even(value, decimals, expected):
    assert round_gbt8170(value, decimals) == expected


def test_gbt8170_array_keeps_nan():
    out = round_gbt8170(np.array([[0.5, np.nan], [3.5, 4.45]]), 0)
    np.testing.assert_array_equal(out, [[0.0, np.nan], [4.0, 4.0]])


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        # GB/T 8170 (standards.md §2.4): "5 后无数看奇偶" — 5 followed by nothing: the
        # kept digit goes to even; "5 后有数进 1" — 5 followed by digits: round up
        (0.55, 1, 0.6),  # kept 5 is odd -> 6
        (0.45, 1, 0.4),  # kept 4 is even -> stays
        (0.4500001, 1, 0.5),  # 5 followed by a non-zero digit
        (0.5499, 1, 0.5),  # 4 dropped: down
        (0.5499999999999999, 1, 0.6),  # float mean of CO 0.5/0.6 (exactly 0.55)
        (38.49999999999999, 0, 38.0),  # float artefact of 38.5: the tie, 8 is even
        (39.50000000000001, 0, 40.0),
    ],
)
def test_gbt8170_float_error_does_not_decide_a_tie(value, decimals, expected):
    assert round_gbt8170(value, decimals) == expected
    assert round_gbt8170(np.array([value]), decimals)[0] == expected


def test_gbt8170_of_the_hourly_co_mean():
    # hourly CO alternating 0.5 / 0.6 mg/m³: the exact daily mean is 0.55, which GB/T 8170
    # reports as 0.6 (5 followed by nothing, preceding 5 odd); floating point gives
    # 0.5499999999999999, whose printed text alone would round to 0.5
    mean = float(np.mean(np.tile([0.5, 0.6], 12)))
    daily = daily_means(np.tile([0.5, 0.6], 12 * 365))
    assert mean != 0.55 and abs(mean - 0.55) < 1e-15  # the float artefact is real
    assert round_gbt8170(mean, 1) == 0.6
    np.testing.assert_array_equal(round_gbt8170(daily, 1), np.full(365, 0.6))


def test_gbt8170_non_finite_and_huge_values_do_not_crash():
    assert round_gbt8170(1e300) == 1e300 and round_gbt8170(-1e300, 1) == -1e300
    assert round_gbt8170(float("inf")) == float("inf") and np.isnan(round_gbt8170(float("nan")))
    a = np.array([1e300, 1.7e308, -np.inf, np.nan, 2.0**52 + 1, 2.5])
    out = round_gbt8170(a, 1)
    np.testing.assert_array_equal(out, [1e300, 1.7e308, -np.inf, np.nan, 2.0**52 + 1, 2.5])


def _near_tie(k: int, decimals: int, ulps: int) -> float:
    """(k + 0.5)·10^-decimals as a float, moved ``ulps`` (-1, 0, 1) units in the last place."""
    x = (k + 0.5) / 10**decimals
    return float(np.nextafter(x, np.inf * ulps)) if ulps else x


def _ties(max_decimals: int = 3):
    """Values at or within float error of a decimal tie."""
    return st.builds(
        _near_tie,
        st.integers(-(10**7), 10**7),
        st.integers(0, max_decimals),
        st.sampled_from([-1, 0, 1]),
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(allow_nan=True, allow_infinity=True), _ties()),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 3),
)
def test_gbt8170_array_path_equals_scalar_path(values, decimals):
    a = np.array(values, dtype=float)
    vec = round_gbt8170(a, decimals)
    one = np.array([round_gbt8170(float(v), decimals) for v in a])
    np.testing.assert_array_equal(vec, one)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 999), min_size=1, max_size=200), st.integers(0, 1))
def test_gbt8170_of_float_means_equals_exact_decimal_rounding(tenths, decimals):
    # data given to 1 decimal (CO mg/m³): the exact mean is sum/(10 n); Fraction's round()
    # is exact round-half-to-even, an independent implementation of GB/T 8170
    exact = round(Fraction(sum(tenths), 10 * len(tenths)), decimals)
    mean = float(np.mean(np.array(tenths) / 10.0))
    assert round_gbt8170(mean, decimals) == float(exact)
    assert round_gbt8170(np.array([mean]), decimals)[0] == float(exact)


# ------------------------------------------------------------------------------- AQI


@pytest.mark.parametrize(
    ("pollutant", "averaging", "conc", "expected"),
    [
        ("PM2.5", "24h", 0, 0),
        ("PM2.5", "24h", 35, 50),  # breakpoint edge
        ("PM2.5", "24h", 35.1, 51),  # 50 + 50*0.1/40 = 50.125 -> ceil 51
        ("PM2.5", "24h", 55, 75),  # exact interpolation stays 75
        ("PM2.5", "24h", 75, 100),
        ("PM2.5", "24h", 76, 102),  # 100 + 50*1/40 = 101.25 -> 102
        ("PM2.5", "24h", 160, 210),  # 200 + 100*10/100
        ("PM2.5", "24h", 500, 500),
        ("PM2.5", "24h", 650, 500),  # above the table: capped at 500
        ("PM10", "24h", 200, 125),  # 100 + 50*50/100
        ("NO2", "24h", 100, 110),  # 100 + 50*20/100
        ("SO2", "24h", 160, 102),  # 100 + 50*10/325 = 101.54 -> 102
        ("CO", "24h", 4.0, 100),
        ("CO", "24h", 4.1, 101),  # 100 + 50*0.1/10 = 100.5 -> 101
        ("CO", "24h", 1.3, 33),  # 50*1.3/2 = 32.5 -> 33
        ("O3", "8h", 160, 100),
        ("O3", "8h", 161, 101),  # 100 + 50/55 = 100.9 -> 101
        ("O3", "8h", 174, 113),  # 100 + 50*14/55 = 112.7 -> 113
        ("O3", "1h", 200, 100),
    ],
)
def test_iaqi_breakpoints_and_ceil(pollutant, averaging, conc, expected):
    assert iaqi(np.array([conc]), pollutant, averaging)[0] == expected


def test_iaqi_undefined_and_missing():
    out = iaqi(np.array([800, 801, np.nan, -1]), "O3", "8h")
    assert out[0] == 300 and np.isnan(out[1:]).all()  # > 800: use the O3 1-h IAQI instead
    with pytest.raises(NetsimError, match="breakpoints"):
        iaqi(np.array([1.0]), "PM2.5", "1h")


def test_categories_at_edges():
    cats = aqi_category(np.array([0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, np.nan]))
    assert cats.tolist() == [
        "Excellent",
        "Excellent",
        "Good",
        "Good",
        "Lightly polluted",
        "Lightly polluted",
        "Moderately polluted",
        "Moderately polluted",
        "Heavily polluted",
        "Heavily polluted",
        "Severely polluted",
        "",
    ]
    assert aqi_category(np.array([250]), chinese=True)[0] == "重度污染"


def _daily(**kw):
    base = {"PM2.5": 20.0, "PM10": 30.0, "NO2": 20.0, "SO2": 5.0, "CO": 0.5, "O3": 80.0}
    base.update({k.replace("PM25", "PM2.5"): v for k, v in kw.items()})
    return {k: np.array([v]) for k, v in base.items()}


def test_aqi_is_max_iaqi_with_primary_pollutant():
    r = daily_aqi(_daily(PM25=160.0))
    assert r.aqi[0] == 210 and r.primary_pollutant[0] == "PM2.5"
    assert r.category[0] == "Heavily polluted"


def test_primary_pollutant_ties_list_all():
    # PM2.5 75 -> 100 and PM10 150 -> 100: both primary
    r = daily_aqi(_daily(PM25=75.0, PM10=150.0))
    assert r.aqi[0] == 100 and r.primary_pollutant[0] == "PM2.5;PM10"


def test_no_primary_pollutant_when_aqi_at_most_50():
    r = daily_aqi(_daily(PM25=35.0, PM10=50.0))  # both IAQI 50, AQI 50
    assert r.aqi[0] == 50 and r.primary_pollutant[0] == ""
    ia = {"PM2.5": np.array([51.0]), "O3": np.array([51.0])}
    assert primary_pollutants(ia, np.array([51.0]))[0] == "PM2.5;O3"


def test_daily_concentrations_rounded_before_iaqi():
    # 75.4 is reported as 75 -> IAQI 100 (meets); unrounded it would give 101
    assert daily_aqi(_daily(PM25=75.4)).aqi[0] == 100
    assert daily_aqi(_daily(PM25=75.4), round_concentrations=False).aqi[0] == 101
    # half-even: 74.5 -> 74 -> 50 + 50*39/40 = 98.75 -> 99; 75.5 -> 76 -> 101.25 -> 102
    assert daily_aqi(_daily(PM25=74.5)).aqi[0] == 99
    assert daily_aqi(_daily(PM25=75.5)).aqi[0] == 102


def test_aqi_missing_pollutant_policy():
    d = _daily(PM25=100.0)
    d["SO2"] = np.array([np.nan])
    assert np.isnan(daily_aqi(d).aqi[0])
    assert daily_aqi(d, require_all=False).aqi[0] == 132  # 100 + 50*25/40 = 131.25
    with pytest.raises(NetsimError, match="missing CO"):
        daily_aqi({k: v for k, v in _daily().items() if k != "CO"})


def test_o3_one_hour_option():
    d = _daily(O3=150.0)  # 8-h IAQI 50 + 50*50/60 = 91.7 -> 92
    assert daily_aqi(d).aqi[0] == 92
    r = daily_aqi(d, o3_1h=np.array([260.0]))  # 1-h: 100 + 50*60/100 = 130
    assert r.aqi[0] == 130 and r.primary_pollutant[0] == "O3"


# ------------------------------------------------------------ O3 above 800 µg/m³ (8-h)
# HJ 633-2012 Table 1 note 2 (standards.md §3.1): O3 8-h values above 800 µg/m³ are not
# used for the IAQI; the O3 1-h IAQI is used instead.  O3 1-h breakpoints: 800 -> 300,
# 1000 -> 400, 1200 -> 500.


def test_o3_iaqi_above_800_uses_the_one_hour_iaqi():
    # 900: 300 + 100*(900-800)/200 = 350; 1100: 400 + 100*100/200 = 450
    out = o3_iaqi(np.array([850.0, 801.0, 800.0]), np.array([900.0, 1100.0, 950.0]))
    # MDA8 800 is still on the 8-h table (top breakpoint): 300; its 1-h value is not used
    np.testing.assert_array_equal(out, [350.0, 450.0, 300.0])


def test_o3_iaqi_above_800_without_one_hour_value_is_not_computed():
    out = o3_iaqi(np.array([850.0, 850.0, 150.0]), np.array([np.nan, 900.0, np.nan]))
    assert np.isnan(out[0]) and out[1] == 350 and out[2] == 92  # 50 + 50*50/60 = 91.7
    assert np.isnan(o3_iaqi(np.array([850.0]))[0])  # no 1-h series at all


def test_o3_iaqi_one_hour_as_indicator_takes_the_larger():
    # MDA8 150 -> 92; 1-h 260 -> 100 + 50*60/100 = 130
    assert o3_iaqi(np.array([150.0]), np.array([260.0]), as_indicator=True)[0] == 130
    assert o3_iaqi(np.array([150.0]), np.array([260.0]), as_indicator=False)[0] == 92


def test_daily_aqi_mda8_above_800():
    d = _daily(O3=850.0)
    r = daily_aqi(d, o3_1h=np.array([900.0]))
    assert r.aqi[0] == 350 and r.primary_pollutant[0] == "O3" and not r.o3_not_computed[0]
    assert daily_aqi(d, o3_1h=np.array([900.0]), o3_1h_as_indicator=False).aqi[0] == 350
    for kwargs in ({}, {"o3_1h": np.array([np.nan])}, {"require_all": False}):
        r = daily_aqi(d, **kwargs)
        # not 500: the O3 IAQI (> 300, unknown) is not computed, and neither is the AQI
        assert np.isnan(r.iaqi["O3"][0]) and np.isnan(r.aqi[0]) and r.o3_not_computed[0]
        assert r.category[0] == ""
    assert not daily_aqi(_daily(O3=800.0)).o3_not_computed[0]
    assert daily_aqi(_daily(O3=800.0)).aqi[0] == 300
