"""The numba daily statistics (netsim.standards_kernels) equal the NumPy expressions they
replaced, bit for bit, on random data with gaps, whatever the thread count."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from netsim.standards import (
    annual_validity,
    daily_max_1h,
    daily_means,
    eight_hour_means,
    has_values,
    hj663_percentile,
    mda8,
    month_of_day,
)

# ----------------------------------------------------------------------------
# The NumPy implementations before the kernels (netsim 0.x, standards.py)
# ----------------------------------------------------------------------------


def _by_day(hourly):
    a = np.asarray(hourly, dtype=float)
    return a.reshape(*a.shape[:-1], a.shape[-1] // 24, 24)


def reference_daily_means(hourly, min_hours=20):
    h = _by_day(hourly)
    ok = ~np.isnan(h)
    n = ok.sum(axis=-1)
    total = np.where(ok, h, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    return np.where(n >= min_hours, mean, np.nan)


def reference_daily_max(hourly, min_hours=20):
    h = _by_day(hourly)
    ok = ~np.isnan(h)
    mx = np.where(ok, h, -np.inf).max(axis=-1)
    return np.where(ok.sum(axis=-1) >= min_hours, mx, np.nan)


def reference_eight_hour_means(hourly, min_hours=6):
    h = _by_day(hourly)
    ok = ~np.isnan(h)
    filled = np.where(ok, h, 0.0)
    zero = np.zeros((*h.shape[:-1], 1))
    csum = np.concatenate([zero, np.cumsum(filled, axis=-1)], axis=-1)
    ccnt = np.concatenate([zero.astype(np.int16), np.cumsum(ok, axis=-1, dtype=np.int16)], axis=-1)
    total = csum[..., 8:] - csum[..., :-8]
    count = ccnt[..., 8:] - ccnt[..., :-8]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count >= min_hours, mean, np.nan)


def reference_mda8(hourly, min_hours=6, min_windows=14, exceedance_limit=160.0):
    m8 = reference_eight_hour_means(hourly, min_hours)
    ok = ~np.isnan(m8)
    n = ok.sum(axis=-1)
    mx = np.where(ok, m8, -np.inf).max(axis=-1)
    valid = (n >= min_windows) | ((n >= 1) & (mx > exceedance_limit))
    return np.where(valid, mx, np.nan), n


def reference_percentile(values, p):
    """hj663_percentile: sort, then interpolate at the rounded position."""
    x = np.sort(np.asarray(values, dtype=float), axis=-1)  # NaN sort last
    n = (~np.isnan(x)).sum(axis=-1)
    pos = np.round((np.maximum(n, 1) - 1) * (p / 100.0), 9)
    s = np.floor(pos).astype(np.int64)
    frac = pos - s
    hi = np.minimum(s + 1, np.maximum(n - 1, 0))
    xs = np.take_along_axis(x, s[..., None], axis=-1)[..., 0]
    xh = np.take_along_axis(x, hi[..., None], axis=-1)[..., 0]
    out = np.where(frac > 0, xs + (xh - xs) * frac, xs)
    return np.where(n > 0, out, np.nan)


def reference_month_days(daily, year):
    ok = ~np.isnan(daily)
    months = month_of_day(year)
    starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    return np.add.reduceat(ok.astype(np.int32), starts, axis=-1), ok.sum(axis=-1)


def _hourly(seed: int, shape=(37, 366 * 24), missing=0.12, scale=60.0) -> np.ndarray:
    """Skewed concentrations with scattered gaps and whole missing days."""
    rng = np.random.default_rng(seed)
    h = rng.gamma(2.0, scale / 2.0, size=shape)
    h[rng.random(shape) < missing] = np.nan
    days = h.reshape(*shape[:-1], -1, 24)
    days[rng.random(days.shape[:-1]) < 0.03] = np.nan
    return h


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_daily_means_equal_the_numpy_pairwise_sum(seed):
    h = _hourly(seed)
    np.testing.assert_array_equal(daily_means(h), reference_daily_means(h))
    np.testing.assert_array_equal(daily_means(h, min_hours=0), reference_daily_means(h, 0))


def test_daily_means_of_one_series_and_of_a_3d_stack():
    h = _hourly(5, shape=(2, 3, 48))
    np.testing.assert_array_equal(daily_means(h), reference_daily_means(h))
    np.testing.assert_array_equal(daily_means(h[0, 0]), reference_daily_means(h[0, 0]))


def test_daily_mean_of_hand_values():
    day = np.arange(24, dtype=float)  # mean 11.5
    day[:4] = np.nan  # 20 valid hours 4..23: mean 13.5
    assert daily_means(day)[0] == 13.5
    day[4] = np.nan  # 19 valid hours: not valid
    assert np.isnan(daily_means(day)[0])


@pytest.mark.parametrize("seed", [0, 3])
def test_daily_max_equals_numpy(seed):
    h = _hourly(seed)
    np.testing.assert_array_equal(daily_max_1h(h), reference_daily_max(h))


@pytest.mark.parametrize("seed", [0, 4])
def test_eight_hour_means_equal_the_running_sum_expression(seed):
    h = _hourly(seed, missing=0.25)
    np.testing.assert_array_equal(eight_hour_means(h), reference_eight_hour_means(h))


@pytest.mark.parametrize("seed", [0, 6, 7])
def test_mda8_equals_numpy_including_the_exceedance_rule(seed):
    h = _hourly(seed, missing=0.3, scale=150.0)  # many days below 14 windows, some > 160
    values, n = mda8(h).values, mda8(h).n_windows
    ref_values, ref_n = reference_mda8(h)
    np.testing.assert_array_equal(values, ref_values)
    np.testing.assert_array_equal(n, ref_n)
    few = (ref_n < 14) & (ref_n >= 1)
    assert np.isfinite(ref_values[few]).any() and np.isnan(ref_values[few]).any()


@pytest.mark.parametrize("seed", [0, 3])
def test_mda8_carries_the_daily_max_1h(seed):
    h = _hourly(seed, missing=0.2)
    assert mda8(h).max_1h.tobytes() == reference_daily_max(h).tobytes()
    assert mda8(h).max_1h.tobytes() == daily_max_1h(h).tobytes()


def test_mda8_of_a_hand_worked_day():
    day = np.full(24, 50.0)
    day[10:18] = 130.0  # the window of hours 10..17 averages 130
    result = mda8(day)
    assert result.values[0] == 130.0 and result.n_windows[0] == 17


def test_statistics_do_not_depend_on_the_thread_count():
    h = _hourly(9, shape=(64, 366 * 24))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = (daily_means(h), mda8(h).values, mda8(h).max_1h, eight_hour_means(h))
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = (daily_means(h), mda8(h).values, mda8(h).max_1h, eight_hour_means(h))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, many, strict=True):
        assert a.tobytes() == b.tobytes()


def test_has_values_equals_any_finite():
    h = _hourly(2, shape=(6, 48))
    h[1] = np.nan
    h[4, :-1] = np.nan  # only the last hour
    np.testing.assert_array_equal(has_values(h), np.isfinite(h).any(axis=-1))
    assert has_values(h.reshape(2, 3, 48)).shape == (2, 3)
    assert has_values(np.full(5, np.nan)).shape == () and not has_values(np.full(5, np.nan))


# ----------------------------------------------------------------------------
# Daily AQI of the time-resolved maps (netsim.timeseries): kernels vs the NumPy path
# ----------------------------------------------------------------------------


def _reference_daily_iaqi(pollutant, daily):
    """netsim.timeseries._daily_iaqi before the kernels."""
    from netsim import standards

    conc = standards.reported(np.maximum(daily, 0.0), pollutant)
    if pollutant == "O3":
        i8 = standards.iaqi(conc, "O3", "8h")
        top = standards.IAQI_BREAKPOINTS[("O3", "8h")][-1]
        return np.where(conc > top, 500.0, i8)
    return standards.iaqi(conc, pollutant, "24h")


def _awkward_daily(rng, pollutant, shape):
    """Daily values with gaps, negatives, exact breakpoints, decimal ties and values
    above the tables."""
    from netsim import standards

    averaging = "8h" if pollutant == "O3" else "24h"
    top = standards.IAQI_BREAKPOINTS[(pollutant, averaging)][-1]
    values = rng.uniform(-0.1 * top, 1.2 * top, shape)
    flat = values.reshape(-1)
    k = flat.size // 10
    picks = rng.choice(flat.size, 5 * k, replace=False)
    bps = standards.IAQI_BREAKPOINTS[(pollutant, averaging)]
    flat[picks[:k]] = rng.choice(bps, k)
    step = 0.1 if pollutant == "CO" else 1.0
    flat[picks[k:2 * k]] = (np.floor(flat[picks[k:2 * k]] / step) + 0.5) * step  # ties
    flat[picks[2 * k:3 * k]] = np.nan
    flat[picks[3 * k:4 * k]] = 0.5499999999999999 if pollutant == "CO" else 38.49999999
    return values


@pytest.mark.parametrize("threads", [1, 2])
def test_daily_aqi_counts_equal_the_numpy_path(threads):
    from netsim import standards
    from netsim.timeseries import AQI_CATEGORY_BANDS, _aqi_day_bands, _fold_daily_iaqi

    rng = np.random.default_rng(633)
    shape = (57, 366)
    pollutants = ["PM2.5", "PM10", "NO2", "SO2", "O3", "CO"]
    daily = {p: _awkward_daily(rng, p, shape) for p in pollutants}
    iaqis = {p: _reference_daily_iaqi(p, daily[p]) for p in pollutants}
    stack = np.stack(list(iaqis.values()))
    aqi_ref = np.where(np.isnan(stack).any(axis=0), np.nan, stack.max(axis=0))
    has = ~np.isnan(aqi_ref)
    bounds = np.array([c[0] for c in standards.CATEGORIES], dtype=float)
    category = np.searchsorted(bounds, np.where(has, aqi_ref, 0.0), side="left")
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        aqi = np.full(shape, -np.inf)
        for p in pollutants:
            _fold_daily_iaqi(p, daily[p], aqi)
            single = np.full(shape, -np.inf)
            _fold_daily_iaqi(p, daily[p], single)
            assert single.tobytes() == iaqis[p].tobytes()
        bands = _aqi_day_bands(aqi)
    finally:
        numba.set_num_threads(before)
    assert aqi.tobytes() == aqi_ref.tobytes()
    for k, name in enumerate(AQI_CATEGORY_BANDS):
        np.testing.assert_array_equal(bands[name], ((category == k) & has).sum(axis=1))
    np.testing.assert_array_equal(bands["aqi_days_meeting_standard"],
                                  (has & (aqi_ref <= 100)).sum(axis=1))
    np.testing.assert_array_equal(bands["aqi_valid_days"], has.sum(axis=1))


# ----------------------------------------------------------------------------
# Annual validity and percentiles (HJ 663)
# ----------------------------------------------------------------------------


def _daily_series(rng, shape, decimals):
    """Daily values with gaps (rows from all-missing to complete), ties, negatives and
    rows in ascending order (the worst case of a selection)."""
    x = rng.gamma(2.0, 30.0, size=shape).round(decimals)
    x[rng.random(shape) < rng.uniform(0.0, 1.0, size=(shape[0], 1))] = np.nan
    x[::4] = np.sort(x[::4], axis=-1)
    x[1::5] = -x[1::5]
    x[2] = np.nan
    return x


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("p", [0.0, 37.3, 50.0, 90.0, 95.0, 98.0, 100.0])
def test_percentile_equals_the_sorting_expression(threads, p):
    rng = np.random.default_rng(int(p * 10) + threads)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        for shape, decimals in (((60, 366), 0), ((200, 17), 1), ((40, 1), 2)):
            x = _daily_series(rng, shape, decimals)
            assert hj663_percentile(x, p).tobytes() == reference_percentile(x, p).tobytes()
    finally:
        numba.set_num_threads(before)
    x = _daily_series(rng, (6, 366), 0).reshape(2, 3, 366)
    assert hj663_percentile(x, p).tobytes() == reference_percentile(x, p).tobytes()
    assert hj663_percentile(x[0, 0], p).shape == ()


@pytest.mark.parametrize("year", [2024, 2025])
def test_valid_days_per_month_equal_numpy(year):
    n_days = 366 if year == 2024 else 365
    x = _daily_series(np.random.default_rng(year), (50, n_days), 0)
    month_days, total = reference_month_days(x, year)
    v = annual_validity(x, year)
    np.testing.assert_array_equal(v.month_days, month_days)
    np.testing.assert_array_equal(v.valid_days, total)
    one = annual_validity(x[3], year)
    assert one.valid_days == total[3] and one.month_days.tolist() == month_days[3].tolist()
