"""Concentration units of readings files: parse, convert to netsim's units, catch mix-ups.

netsim computes in the units of GB 3095-2012 Table 1: µg/m³, CO mg/m³
(:mod:`netsim.pollutants`, ``standards.md`` §1).  Readings may declare other units —
per pollutant on the command line (``--units CO=ug/m3``), in a scenario
(``readings: {units: {CO: ug/m3}}``), row by row in a long file's ``unit`` column, or
by the defaults of a layout (the UCI files give CO in µg/m³) — and are converted when
read.  Only mass concentrations are converted (µg/m³ ↔ mg/m³, a factor 1000); mixing
ratios (ppb, ppm) are refused: their conversion depends on the temperature and
pressure of the reference state, which GB 3095 changed in 2018 for gases
(``standards.md`` §1, [UNVERIFIED] there), and netsim does not guess it.

A wrong declaration gives numbers 1000 times off, so every file's values are checked
against the magnitudes measured hourly concentrations have (:data:`TYPICAL_RANGE`):
when more than half of a pollutant's hourly values in a file lie outside them
(i.e. the median does), loading stops with a one-line error naming the likely unit
and the option that fixes it (:func:`magnitude_error`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from netsim.errors import ReadingsError
from netsim.pollutants import POLLUTANT_NAMES, POLLUTANTS, pollutant

UG = "µg/m³"
MG = "mg/m³"
UNITS: tuple[str, ...] = (UG, MG)
"""Units netsim converts, as written in messages (index = unit code)."""

UNIT_FLAGS: dict[str, str] = {UG: "ug/m3", MG: "mg/m3"}
"""How each unit is written on the command line and in YAML."""

_GRAMS = np.array([1e-6, 1e-3])  # grams per unit of UNITS, per m³
NETSIM_UNIT_CODE = np.array([UNITS.index(POLLUTANTS[p].units) for p in POLLUTANT_NAMES])
"""Unit code of netsim's own unit of each pollutant (order of POLLUTANT_NAMES)."""

FACTORS = _GRAMS[None, :] / _GRAMS[NETSIM_UNIT_CODE][:, None]
"""``FACTORS[p, u]``: multiply a value of pollutant ``p`` given in unit ``u`` by this to
get netsim's unit (µg/m³ → mg/m³ for CO is 0.001)."""

TYPICAL_RANGE: dict[str, tuple[float, float]] = {
    "PM2.5": (1.0, 2000.0),
    "PM10": (1.0, 2000.0),
    "NO2": (1.0, 2000.0),
    "SO2": (0.2, 2000.0),
    "O3": (1.0, 2000.0),
    "CO": (0.02, 50.0),
}
"""Bounds (netsim's units) the *median* hourly value of a file must lie within.

Not a standard's figures: medians of real hourly data are far inside them.  Upper
bounds: hourly values this large are rare even in dust storms (Beijing, 15 March 2021:
PM10 above 8 000 µg/m³ at some stations for hours, not for half a year) and the top
HJ 633-2012 breakpoints are 500–3 840 µg/m³ and 150 mg/m³ for CO 1-h (``standards.md``
§3.1); CO in µg/m³ read as mg/m³ (typically 300–3 000) has a median far above
50 mg/m³.  Lower bounds: data in mg/m³ read as µg/m³ have medians below 1 (PM2.5
0.08, NO2 0.04); CO in mg/m³ read as µg/m³ becomes 0.0002–0.003.  Values of 0 (some
networks write 0 below the detection limit) are not counted as small.
"""

MIN_VALUES_CHECKED = 24
"""The magnitude check needs at least a day of hourly values of a pollutant in a file."""

_SPELLINGS = {
    "ug/m3": UG, "ugm-3": UG, "ug/m**3": UG, "microgram/m3": UG, "micrograms/m3": UG,
    "mg/m3": MG, "mgm-3": MG, "mg/m**3": MG, "milligram/m3": MG, "milligrams/m3": MG,
}
_MIXING_RATIOS = ("ppb", "ppbv", "ppm", "ppmv", "ppt")


def parse_unit(text: str) -> str | None:
    """The unit of ``text`` (:data:`UG` or :data:`MG`), None if netsim does not know it.

    Spellings: ``ug/m3``, ``µg/m³``, ``μg/m3``, ``ug m-3``, ``mg/m^3`` … (case, spaces
    and ``^`` ignored).
    """
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    s = s.replace("μ", "u").replace("µ", "u").replace("^", "")
    s = re.sub(r"\s+", "", s)
    return _SPELLINGS.get(s)


def unit_problem(text: str) -> str:
    """Why ``text`` is not a unit netsim converts (for messages)."""
    s = str(text).strip().lower()
    expected = "expected ug/m3 (µg/m³) or mg/m3 (mg/m³)"
    if s in _MIXING_RATIOS:
        return (f"unit {text!r} is a mixing ratio; {expected} — netsim does not convert mixing "
                "ratios (the factor depends on the reference temperature and pressure)")
    return f"unknown unit {text!r}; {expected}"


def parse_units_option(value: Mapping[str, str] | Iterable[str] | str | None,
                       where: str = "--units") -> dict[str, str]:
    """Per-pollutant units from ``CO=ug/m3`` items (comma-separated or repeated) or a mapping.

    Returns ``{pollutant name: unit}`` (:data:`UNITS`).

    Raises
    ------
    ReadingsError
        An item without ``=``, an unknown pollutant or unit; the message names ``where``.
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        items = [(str(k), str(v)) for k, v in value.items()]
    else:
        texts = [value] if isinstance(value, str) else list(value)
        items = []
        for text in texts:
            for part in str(text).split(","):
                if not part.strip():
                    continue
                name, sep, unit = part.partition("=")
                if not sep:
                    raise ReadingsError(f"{where} {part.strip()!r}: expected POLLUTANT=UNIT, "
                                        "e.g. CO=ug/m3")
                items.append((name, unit))
    out: dict[str, str] = {}
    for name, unit in items:
        try:
            p = pollutant(name).name
        except KeyError as exc:
            raise ReadingsError(f"{where}: {exc.args[0]}") from None
        parsed = parse_unit(unit)
        if parsed is None:
            raise ReadingsError(f"{where} {p}={unit.strip()}: {unit_problem(unit.strip())}")
        out[p] = parsed
    return out


@dataclass(frozen=True)
class DeclaredUnit:
    """The unit values of a pollutant are read in, and who said so.

    Attributes
    ----------
    unit
        :data:`UG` or :data:`MG`.
    origin
        ``"netsim"`` (netsim's unit, nothing declared), ``"layout"`` (the file layout's
        documented unit), ``"option"`` (``--units`` / YAML ``units``) or ``"column"``
        (the file's ``unit`` column).
    """

    unit: str
    origin: str

    @property
    def code(self) -> int:
        """Index in :data:`UNITS`."""
        return UNITS.index(self.unit)


ORIGINS = ("netsim", "layout", "option", "column")


def declared_units(layout_units: Mapping[str, str], option_units: Mapping[str, str]
                   ) -> dict[str, DeclaredUnit]:
    """The unit of each pollutant of a file without a ``unit`` column.

    ``--units`` (``option_units``) overrides the layout's default, which overrides
    netsim's own unit.
    """
    out = {}
    for p in POLLUTANT_NAMES:
        if p in option_units:
            out[p] = DeclaredUnit(option_units[p], "option")
        elif p in layout_units:
            out[p] = DeclaredUnit(layout_units[p], "layout")
        else:
            out[p] = DeclaredUnit(POLLUTANTS[p].units, "netsim")
    return out


@dataclass
class MagnitudeTally:
    """Counts of a pollutant's hourly values (in netsim's units) against :data:`TYPICAL_RANGE`.

    ``largest`` is in the declared unit (as written in the file).
    """

    n: int = 0
    n_high: int = 0
    n_low: int = 0
    largest: float = 0.0

    def add(self, converted: np.ndarray, raw: np.ndarray, p: str) -> None:
        """Count the finite, non-negative values of one chunk."""
        low, high = TYPICAL_RANGE[p]
        self.n += converted.size
        self.n_high += int((converted > high).sum())
        self.n_low += int(((converted > 0) & (converted < low)).sum())
        if raw.size:
            self.largest = max(self.largest, float(raw.max()))


def magnitude_error(where: str, p: str, declared: DeclaredUnit, tally: MagnitudeTally
                    ) -> str | None:
    """The one-line message for values whose median is implausible in the declared unit.

    None when fewer than :data:`MIN_VALUES_CHECKED` values were seen or the median lies
    inside :data:`TYPICAL_RANGE`.
    """
    if tally.n < MIN_VALUES_CHECKED:
        return None
    low, high = TYPICAL_RANGE[p]
    netsim_unit = POLLUTANTS[p].units
    if 2 * tally.n_high > tally.n:
        likely = UG if declared.unit == MG else None
        what = f"more than half of the {tally.n} hourly values are above {high:g} {netsim_unit}"
    elif 2 * tally.n_low > tally.n:
        likely = MG if declared.unit == UG else None
        what = f"more than half of the {tally.n} hourly values are below {low:g} {netsim_unit}"
    else:
        return None
    read_as = f"read as {declared.unit} ({_ORIGIN_TEXT[declared.origin]})"
    if likely is None:
        return (f"{where}: {p} values up to {tally.largest:g} are implausible {read_as}: {what}; "
                "check the units and the data")
    flag = f"{p}={UNIT_FLAGS[likely]}"
    fix = ("correct the file's unit column" if declared.origin == "column"
           else f"pass --units {flag} (scenario YAML: readings: {{units: {{{p}: "
                f"{UNIT_FLAGS[likely]}}}}})")
    return f"{where}: {p} values up to {tally.largest:g} look like {likely}, not {read_as}: " \
           f"{what}; {fix}"


_ORIGIN_TEXT = {
    "netsim": "netsim's unit; nothing declared another",
    "layout": "the layout's documented unit",
    "option": "as --units / units: declared",
    "column": "as the unit column says",
}
