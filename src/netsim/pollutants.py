"""The six basic pollutants of GB 3095-2012 and their reporting units.

Concentrations are µg/m³ except CO, which is mg/m³ (GB 3095-2012 Table 1;
``../shared/reference/standards.md`` §1).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pollutant:
    """A pollutant: its name as written in files, its units and a file-name slug."""

    name: str
    units: str
    slug: str
    reported_decimals: int
    """Decimals of reported annual figures (HJ 663-2013 practice, standards.md §2.4)."""


POLLUTANTS: dict[str, Pollutant] = {
    p.name: p
    for p in (
        Pollutant("PM2.5", "µg/m³", "pm25", 0),
        Pollutant("PM10", "µg/m³", "pm10", 0),
        Pollutant("NO2", "µg/m³", "no2", 0),
        Pollutant("SO2", "µg/m³", "so2", 0),
        Pollutant("O3", "µg/m³", "o3", 0),
        Pollutant("CO", "mg/m³", "co", 1),
    )
}
"""Pollutants by name, in the order netsim reports them."""

POLLUTANT_NAMES: tuple[str, ...] = tuple(POLLUTANTS)


def pollutant(name: str) -> Pollutant:
    """Look up a pollutant by name (case-insensitive, ``PM25`` accepted for ``PM2.5``).

    Raises
    ------
    KeyError
        With a message listing the known pollutants.
    """
    key = name.strip().upper().replace("PM25", "PM2.5")
    for known in POLLUTANTS.values():
        if known.name.upper() == key or known.slug.upper() == key:
            return known
    raise KeyError(f"unknown pollutant {name!r}; expected one of {', '.join(POLLUTANTS)}")
