"""Chinese ambient air-quality standards as small, vectorised, pure functions.

* GB 3095-2012 concentration limits (Grade I/II, every averaging time) and the
  2026 revision as a second selectable *standard version*;
* HJ 663-2013 data validity and statistics: daily means, O3 8-hour means and
  daily maximum 8-hour means (MDA8), annual validity, percentiles, rounding;
* HJ 633-2012 individual and overall Air Quality Index (IAQI, AQI), categories
  and primary pollutant.

Every function works on NumPy arrays whose *last* axis is time (hours or days),
so a whole network (stations × hours) is processed in one call.  Missing values
are NaN.

Hour labels
-----------
Arrays of hourly values use **hour-beginning labels**: element ``24*d + h`` of
a year is the hour ``h:00``–``h+1:00`` of day ``d`` (Beijing time, UTC+8).
``standards.md`` §1.1 notes that the national real-time platform labels hours by
their *end* (``08:00`` = 07:00–08:00); :func:`netsim.readings.load_readings`
converts such data with ``hour_label="end"`` (a one-hour shift), so every rule
here sees hour-beginning data.  With these labels the 8-hour windows "ending
08:00 … 24:00" of HJ 663 are the 17 windows lying inside the day: the window
ending 08:00 covers hours 00–07 and the one ending 24:00 covers hours 16–23.

References
----------
``standards.md`` (``../shared/reference``): §1 GB 3095-2012 Table 1, §1.1 validity
(Table 4), §1.2 GB 3095-2026, §2 HJ 663-2013, §2.3 percentile, §2.4 rounding
(GB/T 8170), §2.5 days meeting the standard, §3 HJ 633-2012.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal

import numpy as np

from netsim import standards_kernels as kernels
from netsim.errors import NetsimError
from netsim.pollutants import POLLUTANT_NAMES, POLLUTANTS

# --------------------------------------------------------------------------- limits

STANDARD_VERSIONS: tuple[str, ...] = ("gb3095-2012", "gb3095-2026", "gb3095-2026-phase1")
"""Selectable limit sets.

``gb3095-2012``: GB 3095-2012 Table 1 (``standards.md`` §1) — the rules for 2013–2025 data.
``gb3095-2026``: GB 3095-2026 final (Phase 2, from 2031) values for PM2.5 (annual
Grade I 10 / Grade II 25, 24-h 25 / 50 µg/m³, §1.2); the revised PM10, SO2 and NO2
numbers are **not known here**, so those keep their 2012 values and are listed
in :attr:`StandardLimits.unverified`.
``gb3095-2026-phase1``: as ``gb3095-2026`` but with the Phase-1 transitional
Grade II PM2.5 limits 30 (annual) / 60 (24-h) µg/m³ in force 2026-03-01 → 2030-12-31
(§1.2); Grade I as ``gb3095-2026``.
"""

AVERAGING_TIMES: tuple[str, ...] = ("annual", "24h", "8h", "1h")
"""Averaging times: annual mean, 24-h mean, O3 daily maximum 8-h mean, 1-h mean."""

# GB 3095-2012 Table 1 (standards.md §1): (pollutant, averaging) -> (Grade I, Grade II)
_GB3095_2012: dict[tuple[str, str], tuple[float, float]] = {
    ("SO2", "annual"): (20.0, 60.0),
    ("SO2", "24h"): (50.0, 150.0),
    ("SO2", "1h"): (150.0, 500.0),
    ("NO2", "annual"): (40.0, 40.0),
    ("NO2", "24h"): (80.0, 80.0),
    ("NO2", "1h"): (200.0, 200.0),
    ("CO", "24h"): (4.0, 4.0),
    ("CO", "1h"): (10.0, 10.0),
    ("O3", "8h"): (100.0, 160.0),
    ("O3", "1h"): (160.0, 200.0),
    ("PM10", "annual"): (40.0, 70.0),
    ("PM10", "24h"): (50.0, 150.0),
    ("PM2.5", "annual"): (15.0, 35.0),
    ("PM2.5", "24h"): (35.0, 75.0),
}

# GB 3095-2026 PM2.5 (standards.md §1.2): final values and Phase-1 Grade II values
_GB3095_2026_PM25 = {("PM2.5", "annual"): (10.0, 25.0), ("PM2.5", "24h"): (25.0, 50.0)}
_GB3095_2026_PHASE1_PM25 = {("PM2.5", "annual"): (10.0, 30.0), ("PM2.5", "24h"): (25.0, 60.0)}
_UNVERIFIED_2026 = frozenset(
    k for k in _GB3095_2012 if k[0] in ("PM10", "SO2", "NO2") and k[1] in ("annual", "24h")
)

STATISTICS: dict[str, tuple[str, ...]] = {
    "PM2.5": ("annual_mean", "p95_daily"),
    "PM10": ("annual_mean", "p95_daily"),
    "NO2": ("annual_mean", "p98_daily"),
    "SO2": ("annual_mean", "p98_daily"),
    "CO": ("p95_daily",),
    "O3": ("p90_mda8",),
}
"""Annual assessment statistics per pollutant (HJ 663-2013, ``standards.md`` §2.2)."""

STATISTIC_AVERAGING: dict[str, str] = {
    "annual_mean": "annual",
    "p95_daily": "24h",
    "p98_daily": "24h",
    "p90_mda8": "8h",
}
"""The GB 3095 averaging time whose limit each annual statistic is compared with (§2.2)."""

STATISTIC_PERCENT: dict[str, float] = {"p95_daily": 95.0, "p98_daily": 98.0, "p90_mda8": 90.0}


@dataclass(frozen=True)
class StandardLimits:
    """Concentration limits of one standard version and grade.

    Attributes
    ----------
    version
        One of :data:`STANDARD_VERSIONS`.
    grade
        1 (Class 1 zones) or 2 (Class 2 zones; urban assessment of Beijing).
    values
        ``(pollutant, averaging) -> limit`` in µg/m³ (CO mg/m³).
    unverified
        Keys whose value is a placeholder (2012 value kept because the revised
        figure is not known, ``standards.md`` §1.2).
    """

    version: str
    grade: int
    values: Mapping[tuple[str, str], float]
    unverified: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def limit(self, pollutant: str, averaging: str) -> float | None:
        """Limit for ``pollutant`` and ``averaging``; None where none is set (e.g. CO annual)."""
        return self.values.get((pollutant, averaging))

    def statistic_limit(self, pollutant: str, statistic: str) -> float | None:
        """Limit an annual statistic (``annual_mean``, ``p95_daily`` …) is compared with (§2.2)."""
        return self.limit(pollutant, STATISTIC_AVERAGING[statistic])


def limits(standard: str = "gb3095-2012", grade: int = 2) -> StandardLimits:
    """Concentration limits of a standard version.

    Parameters
    ----------
    standard
        ``"gb3095-2012"``, ``"gb3095-2026"`` or ``"gb3095-2026-phase1"`` (see
        :data:`STANDARD_VERSIONS`).
    grade
        1 or 2.  Urban assessment uses Grade II (``standards.md`` §1).

    Raises
    ------
    NetsimError
        Unknown version or grade.

    References
    ----------
    GB 3095-2012 Table 1 (``standards.md`` §1); GB 3095-2026 (§1.2).
    """
    key = standard.strip().lower()
    if key not in STANDARD_VERSIONS:
        raise NetsimError(
            f"unknown standard version {standard!r}; expected one of {', '.join(STANDARD_VERSIONS)}"
        )
    if grade not in (1, 2):
        raise NetsimError(f"unknown grade {grade!r}; expected 1 or 2 (GB 3095 Grade I / II)")
    table = dict(_GB3095_2012)
    unverified: frozenset[tuple[str, str]] = frozenset()
    if key == "gb3095-2026":
        table.update(_GB3095_2026_PM25)
        unverified = _UNVERIFIED_2026
    elif key == "gb3095-2026-phase1":
        table.update(_GB3095_2026_PHASE1_PM25)
        unverified = _UNVERIFIED_2026
    return StandardLimits(
        version=key,
        grade=grade,
        values={k: v[grade - 1] for k, v in table.items()},
        unverified=unverified,
    )


# ------------------------------------------------------------------ hourly -> daily

HOURS_PER_DAY = 24
MIN_HOURS_DAILY = 20
"""A 24-h mean needs at least 20 valid hourly values (GB 3095-2012 Table 4, §1.1)."""
MIN_HOURS_8H = 6
"""An O3 8-h mean needs at least 6 valid hourly values of its 8 (§1.1)."""
MIN_WINDOWS_MDA8 = 14
"""An MDA8 needs at least 14 valid 8-h means among the 17 windows of the day (§1.1)."""
N_WINDOWS_MDA8 = 17
"""8-h windows ending 08:00 … 24:00 (hour-beginning labels: starting 00 … 16)."""


def _by_day(hourly: np.ndarray) -> np.ndarray:
    """Reshape (..., 24*D) hourly values to (..., D, 24)."""
    a = np.asarray(hourly, dtype=float)
    if a.shape[-1] % HOURS_PER_DAY:
        raise NetsimError(
            f"hourly array has {a.shape[-1]} hours on its last axis; expected a whole number of "
            "days (a multiple of 24), hour 0 = 00:00-01:00 of the first day"
        )
    return a.reshape(*a.shape[:-1], a.shape[-1] // HOURS_PER_DAY, HOURS_PER_DAY)


def _day_rows(hourly: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Hourly values as a C-contiguous (m, D, 24) float64 array, and the leading shape."""
    h = _by_day(hourly)
    lead = h.shape[:-2]
    rows = np.ascontiguousarray(h.reshape(-1, *h.shape[-2:]), dtype=np.float64)
    return rows, lead


def daily_means(hourly: np.ndarray, *, min_hours: int = MIN_HOURS_DAILY) -> np.ndarray:
    """24-h (calendar-day) means from hourly values.

    Parameters
    ----------
    hourly
        (..., 24*D) hourly concentrations, hour-beginning labels, NaN = missing.
    min_hours
        Minimum valid hours for a valid daily mean (20, ``standards.md`` §1.1).

    Returns
    -------
    ndarray
        (..., D) daily means; NaN where fewer than ``min_hours`` hours are valid.

    References
    ----------
    GB 3095-2012 Table 4 / HJ 663-2013 §6 (``standards.md`` §1.1).
    """
    rows, lead = _day_rows(hourly)
    out = np.empty(rows.shape[:2])
    kernels.daily_means(rows, int(min_hours), out)
    return out.reshape(*lead, rows.shape[1])


def has_values(hourly: np.ndarray) -> np.ndarray:
    """Bool (...): each series (last axis) has at least one value that is not NaN.

    ``np.isfinite(hourly).any(axis=-1)`` for readings (which hold no infinities,
    :class:`netsim.readings.HourlyReadings`) without a pass over every value.
    """
    a = np.asarray(hourly, dtype=float)
    rows = np.ascontiguousarray(a.reshape(-1, a.shape[-1]))
    out = np.empty(rows.shape[0], dtype=bool)
    kernels.has_values(rows, out)
    return out.reshape(a.shape[:-1])


def daily_max_1h(hourly: np.ndarray, *, min_hours: int = MIN_HOURS_DAILY) -> np.ndarray:
    """Daily maximum 1-h value (..., D); NaN where fewer than ``min_hours`` hours are valid.

    Used only for the optional O3 1-h IAQI in :func:`daily_aqi`.  The validity
    threshold (20 h, as for daily means) is netsim's choice: the reference gives none.
    """
    rows, lead = _day_rows(hourly)
    out = np.empty(rows.shape[:2])
    kernels.daily_max(rows, int(min_hours), out)
    return out.reshape(*lead, rows.shape[1])


def eight_hour_means(hourly: np.ndarray, *, min_hours: int = MIN_HOURS_8H) -> np.ndarray:
    """O3 8-hour moving means of the 17 windows lying inside each day.

    Parameters
    ----------
    hourly
        (..., 24*D) hourly O3 (µg/m³), hour-beginning labels, NaN = missing.
    min_hours
        Minimum valid hours in a window (6 of 8, ``standards.md`` §1.1).

    Returns
    -------
    ndarray
        (..., D, 17): element ``j`` is the mean of hours ``j … j+7`` of the day,
        i.e. the window *ending* at ``(j+8):00`` (08:00 … 24:00); NaN if invalid.
    """
    # window sums as differences of running sums over the day (one pass instead of
    # eight); exact for integer-valued hourly data, ~1e-13 relative otherwise
    rows, lead = _day_rows(hourly)
    out = np.empty((*rows.shape[:2], N_WINDOWS_MDA8))
    kernels.eight_hour_means(rows, int(min_hours), out)
    return out.reshape(*lead, rows.shape[1], N_WINDOWS_MDA8)


@dataclass(frozen=True)
class MDA8:
    """Daily maximum 8-hour O3 means and their validity.

    Attributes
    ----------
    values
        (..., D) MDA8 in µg/m³; NaN where the day is invalid.
    n_windows
        (..., D) number of valid 8-h windows (0–17).
    max_1h
        (..., D) daily maximum 1-h O3 in µg/m³, NaN where fewer than 20 hours are valid:
        :func:`daily_max_1h`, computed in the same pass over the hours.
    """

    values: np.ndarray
    n_windows: np.ndarray
    max_1h: np.ndarray


def mda8(
    hourly: np.ndarray,
    *,
    min_hours: int = MIN_HOURS_8H,
    min_windows: int = MIN_WINDOWS_MDA8,
    exceedance_limit: float = 160.0,
) -> MDA8:
    """Daily maximum 8-hour mean O3 (MDA8) with the HJ 663 validity rule.

    The MDA8 is the largest valid 8-h mean among the windows ending 08:00 … 24:00
    of the day.  It is valid when at least ``min_windows`` (14) windows are
    valid, **or**, with fewer, when the maximum nevertheless exceeds
    ``exceedance_limit`` (an exceedance is certain whatever the missing windows held).

    Parameters
    ----------
    hourly
        (..., 24*D) hourly O3 (µg/m³), hour-beginning labels, NaN = missing.
    min_hours, min_windows
        Validity thresholds (6 of 8 hours; 14 of 17 windows).
    exceedance_limit
        O3 8-h limit for the exceedance rule: Grade II 160 µg/m³ (GB 3095-2012);
        callers pass the limit of the grade being assessed.

    References
    ----------
    GB 3095-2012 Table 4, HJ 663-2013 (``standards.md`` §1.1, §7 item 1).
    """
    rows, lead = _day_rows(hourly)
    values, max_1h = np.empty(rows.shape[:2]), np.empty(rows.shape[:2])
    n_windows = np.empty(rows.shape[:2], dtype=np.int64)
    kernels.mda8(rows, int(min_hours), int(min_windows), float(exceedance_limit),
                 MIN_HOURS_DAILY, values, n_windows, max_1h)
    shape = (*lead, rows.shape[1])
    return MDA8(values=values.reshape(shape), n_windows=n_windows.reshape(shape),
                max_1h=max_1h.reshape(shape))


# --------------------------------------------------------------------------- annual


@dataclass(frozen=True)
class AnnualRule:
    """Annual validity rule for annual means and annual percentiles.

    Attributes
    ----------
    min_days
        Minimum valid daily values in the year (324).
    min_days_per_month
        Minimum valid daily values in each month (27), or None to skip the
        monthly rule.  The monthly rule is **[secondary]** in ``standards.md``
        §1.1, hence configurable.
    min_days_february
        Minimum for February (25).

    References
    ----------
    GB 3095-2012 Table 4 / HJ 663-2013 (``standards.md`` §1.1).
    """

    min_days: int = 324
    min_days_per_month: int | None = 27
    min_days_february: int = 25

    def month_minimum(self, month: int) -> int | None:
        """Minimum valid days for ``month`` (1–12), None when the monthly rule is off."""
        if self.min_days_per_month is None:
            return None
        return self.min_days_february if month == 2 else self.min_days_per_month


def days_in_year(year: int) -> int:
    """366 for leap years, else 365."""
    return 366 if calendar.isleap(year) else 365


def month_of_day(year: int) -> np.ndarray:
    """Month (1–12) of each day of ``year``, shape (days_in_year,)."""
    return np.repeat(
        np.arange(1, 13), [calendar.monthrange(year, m)[1] for m in range(1, 13)]
    ).astype(np.int8)


def _month_starts(year: int) -> np.ndarray:
    """Index of the first day of each month of ``year`` and the year's length, (13,)."""
    lengths = [calendar.monthrange(year, m)[1] for m in range(1, 13)]
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


_MONTH_ABBR = tuple(calendar.month_abbr)
"""Month abbreviations ('' first), looked up once (``calendar.month_abbr`` formats a date
on every access)."""


@dataclass(frozen=True)
class AnnualValidity:
    """Result of :func:`annual_validity` (arrays over the leading axes)."""

    valid: np.ndarray
    """Bool: the annual statistic may be computed."""
    valid_days: np.ndarray
    """Int: valid daily values in the year."""
    month_days: np.ndarray
    """Int (..., 12): valid daily values per month."""
    rule: AnnualRule

    def reason(self, index: tuple[int, ...] | int = ()) -> str:
        """Why the statistic at ``index`` is invalid ("" when valid)."""
        if bool(np.asarray(self.valid)[index]):
            return ""
        n = int(np.asarray(self.valid_days)[index])
        if n < self.rule.min_days:
            return f"{n} valid days < {self.rule.min_days} required (HJ 663)"
        md = np.asarray(self.month_days)[index]
        for m in range(12):
            need = self.rule.month_minimum(m + 1)
            if need is not None and md[m] < need:
                return (
                    f"{_MONTH_ABBR[m + 1]} has {int(md[m])} valid days < {need} "
                    "required (HJ 663 monthly rule)"
                )
        return "invalid"  # pragma: no cover - unreachable


def annual_validity(daily: np.ndarray, year: int, rule: AnnualRule | None = None) -> AnnualValidity:
    """Apply the annual data-validity rule to daily values.

    Parameters
    ----------
    daily
        (..., D) daily values of ``year`` (D = 365 or 366), NaN = invalid day.
    year
        Calendar year (months from the Gregorian calendar).
    rule
        Thresholds; default :class:`AnnualRule` (324 days, 27 per month, 25 in Feb).

    References
    ----------
    GB 3095-2012 Table 4 / HJ 663-2013 (``standards.md`` §1.1).
    """
    rule = rule or AnnualRule()
    d = np.asarray(daily, dtype=float)
    if d.shape[-1] != days_in_year(year):
        raise NetsimError(
            f"daily array has {d.shape[-1]} days on its last axis; {year} has {days_in_year(year)}"
        )
    rows = np.ascontiguousarray(d.reshape(math.prod(d.shape[:-1]), d.shape[-1]))
    month_days = np.empty((rows.shape[0], 12), dtype=np.int64)
    n = np.empty(rows.shape[0], dtype=np.int64)
    kernels.valid_days(rows, _month_starts(year), month_days, n)
    month_days, n = month_days.reshape(*d.shape[:-1], 12), n.reshape(d.shape[:-1])[()]
    valid = n >= rule.min_days
    if rule.min_days_per_month is not None:
        need = np.array([rule.month_minimum(m) for m in range(1, 13)])
        valid = valid & (month_days >= need).all(axis=-1)
    return AnnualValidity(valid=valid, valid_days=n, month_days=month_days, rule=rule)


def hj663_percentile(values: np.ndarray, p: float) -> np.ndarray:
    """The p-th percentile of the valid values along the last axis (HJ 663 Annex A).

    Sort the n valid values ascending, X(1) ≤ … ≤ X(n); position
    k = 1 + (n − 1)·p/100, s = ⌊k⌋; m_p = X(s) + (X(s+1) − X(s))·(k − s).
    Identical to ``numpy.percentile(..., method="linear")``.

    Parameters
    ----------
    values
        (..., D) values, NaN ignored.
    p
        Percent, 0–100.

    Returns
    -------
    ndarray
        (...) percentiles; NaN where no value is valid.

    Examples
    --------
    >>> float(hj663_percentile(np.array([2, 3, 4, 4, 5, 8.0]), 90))
    6.5

    References
    ----------
    HJ 663-2013 Annex A (``standards.md`` §2.3).
    """
    if not 0.0 <= p <= 100.0:
        raise NetsimError(f"percentile {p!r} out of range; expected 0-100 (percent)")
    a = np.asarray(values, dtype=float)
    rows = np.ascontiguousarray(a.reshape(math.prod(a.shape[:-1]), a.shape[-1]))
    out = np.empty(rows.shape[0])
    # 0-based position (k - 1) = (n-1)·p/100 rounded to 1e-9 (removes its float artefacts)
    kernels.percentiles(rows, p / 100.0, out)
    return out.reshape(a.shape[:-1])


# ------------------------------------------------------------------------- rounding


TIE_SNAP_DECIMALS = 6
"""Extra decimal places to which a value is snapped before GB/T 8170 rounding.

Statistics of data given to a few decimals have exact decimal values (the mean of
hourly CO 0.5, 0.6, 0.5, 0.6 … mg/m³ is exactly 0.55), but floating point misses
them by a few units in the last place (0.5499999999999999).  Rounding to
``decimals + 6`` places first restores the exact value, so the GB/T 8170 tie rule
— not the binary representation — decides.  The float error of a mean of 8784
hourly values is below 1e-12 relative, i.e. below 5e-8 µg/m³ for concentrations
within the readings plausibility bounds (≤ 50 000 µg/m³,
:data:`netsim.readings.PLAUSIBLE_MAX`), ten times less than the snap's half-step
(5e-7 for integers, 5e-8 for CO at 1 decimal).  The price: a value that truly
lies within half a snap step of a tie (closer than 5e-7 to ``x.5``) is treated as
the tie; data given to a few decimals cannot produce such a value in practice.
"""

_EXACT_INTEGERS = 2.0**52
"""Every double of at least this magnitude is an integer: rounding it is a no-op."""

_DECIMAL_CONTEXT = Context(prec=400, rounding=ROUND_HALF_EVEN)
"""Enough digits for any finite double (at most 309 before the point) and its snap places."""


def _round_one(v: float, decimals: int) -> float:
    """GB/T 8170 rounding of one float (see :func:`round_gbt8170`)."""
    if not math.isfinite(v) or (decimals >= 0 and abs(v) >= _EXACT_INTEGERS):
        return float(v)
    text = Decimal(repr(float(v)))  # shortest decimal text that round-trips
    snapped = text.quantize(
        Decimal(1).scaleb(-(decimals + TIE_SNAP_DECIMALS)), context=_DECIMAL_CONTEXT
    )
    return float(snapped.quantize(Decimal(1).scaleb(-decimals), context=_DECIMAL_CONTEXT))


def round_gbt8170(values: float | np.ndarray, decimals: int = 0) -> float | np.ndarray:
    """Round per GB/T 8170 ("四舍六入五成双": round half to even on an exact trailing 5).

    GB/T 8170 ("4 舍 6 入 5 看右, 5 后有数进 1, 5 后无数看奇偶"): a dropped 4 or less
    rounds down, 6 or more rounds up; a dropped 5 followed by non-zero digits rounds
    up, and a 5 followed by nothing rounds to the even neighbour (0.55 → 0.6,
    0.45 → 0.4).  The value is first snapped to ``decimals`` + :data:`TIE_SNAP_DECIMALS`
    decimal places, so that floating-point error does not decide a tie: the mean of
    hourly CO 0.5/0.6 mg/m³, computed as 0.5499999999999999, is the exact 0.55 and
    reports as 0.6.  Likewise 2.675 rounds to 2.68 although the binary double is
    slightly below 2.675.

    NaN stays NaN and ±inf stays ±inf (non-finite values have no digits to round;
    :func:`netsim.readings.load_readings` rejects infinite readings, so none reach
    the statistics).  Doubles of magnitude ≥ 2**52 are integers and are returned
    unchanged (no overflow or :class:`decimal.InvalidOperation` for 1e300).  The
    array path equals the scalar path element by element.

    Parameters
    ----------
    values
        Scalar or array.
    decimals
        Decimal places (0 for µg/m³ integers, 1 for CO mg/m³, ``standards.md`` §2.4).

    Examples
    --------
    >>> round_gbt8170(38.5), round_gbt8170(39.5), round_gbt8170(1.25, 1), round_gbt8170(1.35, 1)
    (38.0, 40.0, 1.2, 1.4)
    >>> round_gbt8170(0.5499999999999999, 1), round_gbt8170(0.5499, 1)
    (0.6, 0.5)

    References
    ----------
    GB/T 8170, cited by HJ 663-2013 (``standards.md`` §2.4).
    """
    if np.ndim(values) == 0:
        return _round_one(float(values), decimals)
    a = np.asarray(values, dtype=float)
    # Away from a decimal tie GB/T 8170 is rounding to nearest, which numpy does exactly;
    # values within 1e-6 (in units of the last kept digit) of a tie — a superset of the
    # snap tolerance, 5e-7 — and values too large to scale exactly take the decimal path.
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = a * 10.0**decimals
        near_tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
        unscalable = np.isfinite(a) & (np.abs(scaled) >= _EXACT_INTEGERS)
        out = np.round(a, decimals)
    exact = near_tie | unscalable
    if exact.any():
        out[exact] = [_round_one(v, decimals) for v in a[exact].tolist()]
    return out


def reported(values: float | np.ndarray, pollutant: str) -> float | np.ndarray:
    """Round concentrations to the reported precision (integers; CO 1 decimal), GB/T 8170."""
    return round_gbt8170(values, POLLUTANTS[pollutant].reported_decimals)


# ---------------------------------------------------------------------- AQI (HJ 633)

IAQI_LEVELS = np.array([0, 50, 100, 150, 200, 300, 400, 500], dtype=float)
"""IAQI values at the breakpoints (HJ 633-2012 Table 1)."""

IAQI_BREAKPOINTS: dict[tuple[str, str], np.ndarray] = {
    ("SO2", "24h"): np.array([0, 50, 150, 475, 800, 1600, 2100, 2620], dtype=float),
    ("SO2", "1h"): np.array([0, 150, 500, 650, 800], dtype=float),
    ("NO2", "24h"): np.array([0, 40, 80, 180, 280, 565, 750, 940], dtype=float),
    ("NO2", "1h"): np.array([0, 100, 200, 700, 1200, 2340, 3090, 3840], dtype=float),
    ("PM10", "24h"): np.array([0, 50, 150, 250, 350, 420, 500, 600], dtype=float),
    ("CO", "24h"): np.array([0, 2, 4, 14, 24, 36, 48, 60], dtype=float),
    ("CO", "1h"): np.array([0, 5, 10, 35, 60, 90, 120, 150], dtype=float),
    ("O3", "1h"): np.array([0, 160, 200, 300, 400, 800, 1000, 1200], dtype=float),
    ("O3", "8h"): np.array([0, 100, 160, 215, 265, 800], dtype=float),
    ("PM2.5", "24h"): np.array([0, 35, 75, 115, 150, 250, 350, 500], dtype=float),
}
"""Concentration breakpoints (µg/m³, CO mg/m³) of HJ 633-2012 Table 1 (``standards.md`` §3.1).

The tables for SO2 1-h (stops at 800) and O3 8-h (stops at 800) are shorter: above
their last breakpoint the IAQI is undefined (the standard uses SO2 24-h / O3 1-h
instead); :func:`iaqi` returns NaN there.  The HJ 633-2026 particle breakpoints
are not fully known here, so every standard version uses these tables.
"""

CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (50, "Excellent", "优"),
    (100, "Good", "良"),
    (150, "Lightly polluted", "轻度污染"),
    (200, "Moderately polluted", "中度污染"),
    (300, "Heavily polluted", "重度污染"),
    (10**9, "Severely polluted", "严重污染"),
)
"""(upper AQI bound, English, Chinese) of the six AQI categories (HJ 633-2012, §3.2)."""

AQI_MEETS_STANDARD = 100
"""A day meets the standard when AQI ≤ 100 (``standards.md`` §2.5)."""
AQI_HEAVY = 200
"""A heavy-pollution day has AQI > 200 (``standards.md`` §2.5, §3.2)."""


def iaqi(concentration: np.ndarray | float, pollutant: str, averaging: str = "24h") -> np.ndarray:
    """Individual AQI by linear interpolation in HJ 633-2012 Table 1, rounded up.

    IAQI = (IAQI_Hi − IAQI_Lo)/(BP_Hi − BP_Lo)·(C − BP_Lo) + IAQI_Lo with
    BP_Lo ≤ C ≤ BP_Hi, then rounded **up** to an integer (全部进位取整).  The
    interpolated value is first rounded to 9 decimals so that float artefacts do
    not push an exact integer up by one.  Concentrations above the top of a full
    table give 500; above the end of the shortened SO2 1-h / O3 8-h tables, NaN.

    Parameters
    ----------
    concentration
        Array of concentrations (µg/m³; CO mg/m³), NaN = missing.  Negative
        values give NaN.
    pollutant, averaging
        A key of :data:`IAQI_BREAKPOINTS`, e.g. ``("PM2.5", "24h")``, ``("O3", "8h")``.

    Returns
    -------
    ndarray
        Float IAQI values (integers), NaN where missing/undefined.

    References
    ----------
    HJ 633-2012 Table 1 and §5 (``standards.md`` §3.1).
    """
    try:
        bp = IAQI_BREAKPOINTS[(pollutant, averaging)]
    except KeyError:
        raise NetsimError(
            f"no IAQI breakpoints for {pollutant} {averaging}; known: "
            + ", ".join(f"{p} {a}" for p, a in IAQI_BREAKPOINTS)
        ) from None
    c = np.asarray(concentration, dtype=float)
    lv = IAQI_LEVELS[: len(bp)]
    i = np.clip(np.searchsorted(bp, c, side="left"), 1, len(bp) - 1)
    lo_c, hi_c = bp[i - 1], bp[i]
    lo_i, hi_i = lv[i - 1], lv[i]
    with np.errstate(invalid="ignore"):
        val = lo_i + (hi_i - lo_i) * (c - lo_c) / (hi_c - lo_c)
        out = np.ceil(np.round(val, 9))
        top = bp[-1]
        over = c > top
        out = np.where(over, 500.0 if len(bp) == len(IAQI_LEVELS) else np.nan, out)
        out = np.where((c < 0) | np.isnan(c), np.nan, out)
    return out


def aqi_category(aqi: np.ndarray, *, chinese: bool = False) -> np.ndarray:
    """Category name for each AQI (object array; "" where AQI is NaN). HJ 633-2012 §3.2."""
    a = np.asarray(aqi, dtype=float)
    bounds = np.array([c[0] for c in CATEGORIES], dtype=float)
    names = np.array([c[2 if chinese else 1] for c in CATEGORIES] + [""], dtype=object)
    idx = np.where(np.isnan(a), len(CATEGORIES), np.searchsorted(bounds, a, side="left"))
    return names[idx]


@dataclass(frozen=True)
class DailyAQI:
    """Daily AQI of one or more series (arrays over the leading axes and days).

    Attributes
    ----------
    aqi
        AQI (float holding integers), NaN on days without a valid AQI.
    iaqi
        IAQI per pollutant (``"O3"`` is the O3 IAQI used, see :func:`o3_iaqi`).
    category
        English category name ("" when missing).
    primary_pollutant
        Primary pollutant(s) joined by ``";"`` when AQI > 50 (ties: all), else "".
    o3_not_computed
        Bool: the MDA8 exceeds 800 µg/m³ and no 1-h O3 value is available, so the O3
        IAQI — and the day's AQI — is not computed (HJ 633-2012 Table 1 note 2).
    """

    aqi: np.ndarray
    iaqi: dict[str, np.ndarray]
    category: np.ndarray
    primary_pollutant: np.ndarray
    o3_not_computed: np.ndarray


def primary_pollutants(iaqis: Mapping[str, np.ndarray], aqi: np.ndarray) -> np.ndarray:
    """Primary pollutant(s): every pollutant whose IAQI equals the AQI, when AQI > 50.

    Ties give all tied pollutants, joined by ``";"`` in :data:`POLLUTANT_NAMES` order.
    Returns an object array of str ("" when AQI ≤ 50 or missing).

    References
    ----------
    HJ 633-2012 (``standards.md`` §3.2).
    """
    a = np.asarray(aqi, dtype=float)
    names = [p for p in POLLUTANT_NAMES if p in iaqis]
    hits = np.stack([np.asarray(iaqis[p], dtype=float) == a for p in names], axis=-1)
    hits &= (a > 50)[..., None]
    # one label per distinct set of tied pollutants (bit k: names[k]), not per day
    sets = (hits * (1 << np.arange(len(names)))).sum(axis=-1).ravel()
    distinct, which = np.unique(sets, return_inverse=True)
    labels = [";".join(n for k, n in enumerate(names) if bits >> k & 1)
              for bits in distinct.tolist()]
    return np.array(labels, dtype=object)[which.ravel()].reshape(a.shape)


O3_8H_IAQI_MAX = 800.0
"""µg/m³: O3 8-h means above this get no 8-h IAQI (HJ 633-2012 Table 1 note 2, §3.1)."""


def o3_iaqi(
    mda8_values: np.ndarray,
    o3_1h: np.ndarray | None = None,
    *,
    as_indicator: bool = False,
) -> np.ndarray:
    """Daily O3 IAQI from the MDA8 and, where needed or asked for, the 1-h maximum.

    HJ 633-2012 Table 1 note 2 (``standards.md`` §3.1): O3 8-h concentrations above
    800 µg/m³ are not used for the IAQI — the O3 1-h IAQI is used instead.  So:

    * MDA8 ≤ 800 µg/m³: the 8-h IAQI (or, with ``as_indicator``, the larger of the
      8-h and 1-h IAQIs: HJ 633 lists the O3 1-h maximum among the daily indicators,
      §3.2 **[UNVERIFIED]**, which most implementations leave out);
    * MDA8 > 800 µg/m³: the 1-h IAQI of ``o3_1h``.  Without a 1-h value (``o3_1h``
      None or NaN that day) the IAQI is **NaN, not computed** — the reference gives
      no other rule, and the 500 some implementations report would be invented.

    Parameters
    ----------
    mda8_values
        (..., D) daily maximum 8-h O3 (µg/m³), NaN = invalid day.
    o3_1h
        (..., D) daily maximum 1-h O3 (µg/m³), NaN = missing; or None.
    as_indicator
        Also use the 1-h IAQI on days with MDA8 ≤ 800 (the larger of the two).

    Returns
    -------
    ndarray
        IAQI (float holding integers), NaN where missing or not computed.

    Examples
    --------
    MDA8 850 µg/m³ with a 1-h maximum of 900 µg/m³: 300 + 100·(900 − 800)/(1000 − 800)
    = 350 (O3 1-h breakpoints 800 → 300, 1000 → 400).

    >>> o3_iaqi(np.array([850.0, 850.0, 150.0]), np.array([900.0, np.nan, 260.0])).tolist()
    [350.0, nan, 92.0]

    References
    ----------
    HJ 633-2012 Table 1 and its note 2 (``standards.md`` §3.1, §3.2).
    """
    c8 = np.asarray(mda8_values, dtype=float)
    i8 = iaqi(c8, "O3", "8h")  # NaN above 800: undefined there
    if o3_1h is None:
        return i8
    i1 = iaqi(np.broadcast_to(np.asarray(o3_1h, dtype=float), c8.shape), "O3", "1h")
    above = c8 > O3_8H_IAQI_MAX
    if as_indicator:
        return np.where(above, i1, np.fmax(i8, i1))
    return np.where(above, i1, i8)


def daily_aqi(
    daily: Mapping[str, np.ndarray],
    *,
    o3_1h: np.ndarray | None = None,
    o3_1h_as_indicator: bool = True,
    round_concentrations: bool = True,
    require_all: bool = True,
) -> DailyAQI:
    """Daily AQI from daily concentrations of the six pollutants.

    Parameters
    ----------
    daily
        ``{"PM2.5", "PM10", "NO2", "SO2", "CO": 24-h means, "O3": MDA8}``; arrays of equal
        shape (..., D), NaN = invalid day.
    o3_1h
        Optional daily maximum 1-h O3 (µg/m³).  Used on days whose MDA8 exceeds
        800 µg/m³ (HJ 633 note 2: the 1-h IAQI replaces the 8-h one) and, with
        ``o3_1h_as_indicator``, on every day (:func:`o3_iaqi`).  Days with an MDA8
        above 800 and no 1-h value have no O3 IAQI and no AQI — even with
        ``require_all=False``, since their AQI is certainly above 300 but unknown —
        and are flagged in :attr:`DailyAQI.o3_not_computed`.
    o3_1h_as_indicator
        Use the 1-h O3 IAQI as a daily indicator on every day (the larger of the 8-h
        and 1-h IAQIs; ``standards.md`` §3.2, **[UNVERIFIED]**).  Default True, so that
        passing ``o3_1h`` includes it; pass False to use it only above 800 µg/m³.
    round_concentrations
        Round daily concentrations to their reported precision (integers, CO 1 dp;
        GB/T 8170) before the IAQI, as published daily values are (default).
    require_all
        A day has an AQI only when all six pollutants are valid (default); with False
        the AQI is the maximum over the valid pollutants (days with none stay missing).

    References
    ----------
    HJ 633-2012 §3.1–3.2; days meeting the standard §2.5 (``standards.md``).
    """
    missing = [p for p in POLLUTANT_NAMES if p not in daily]
    if missing:
        raise NetsimError(f"daily_aqi needs all six pollutants; missing {', '.join(missing)}")
    conc = {p: np.asarray(daily[p], dtype=float) for p in POLLUTANT_NAMES}
    one_hour = None if o3_1h is None else np.asarray(o3_1h, dtype=float)
    if round_concentrations:
        conc = {p: reported(v, p) for p, v in conc.items()}
        one_hour = None if one_hour is None else reported(one_hour, "O3")
    ia: dict[str, np.ndarray] = {
        p: o3_iaqi(conc[p], one_hour, as_indicator=o3_1h_as_indicator)
        if p == "O3"
        else iaqi(conc[p], p, "24h")
        for p in POLLUTANT_NAMES
    }
    o3_not_computed = (conc["O3"] > O3_8H_IAQI_MAX) & np.isnan(ia["O3"])
    stack = np.stack([ia[p] for p in POLLUTANT_NAMES], axis=0)
    if require_all:
        a = np.where(np.isnan(stack).any(axis=0), np.nan, np.max(stack, axis=0))
    else:
        with np.errstate(invalid="ignore"):
            a = np.fmax.reduce(stack, axis=0)
    a = np.where(o3_not_computed, np.nan, a)
    return DailyAQI(
        aqi=a,
        iaqi=ia,
        category=aqi_category(a),
        primary_pollutant=primary_pollutants(ia, a),
        o3_not_computed=o3_not_computed,
    )
