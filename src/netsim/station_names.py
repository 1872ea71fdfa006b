"""Station names in readings files: ids, English and Chinese names, aliases and pinyin.

Real readings name their stations in many ways: the UCI files write ``Aotizhongxin`` and
``Changping``, the national wide files ``奥体中心`` and ``昌平``, the Beijing monitoring
centre ``朝阳奥体中心`` and ``昌平镇``.  :class:`StationMatcher` maps each name to one
station of a network by comparing it, after :func:`normalise_name`, with every station's

* ``station_id``, ``name`` (English), ``name_zh`` (Chinese), and
* ``aliases``: an optional network-file column of ``;``-separated other names
  (``stations/README.md`` lists where the aliases of ``beijing_35.csv`` come from).

Pinyin is matched through the same keys: :func:`normalise_name` drops case, spaces,
hyphens, apostrophes and tone marks, so ``Aotizhongxin``, ``aoti zhongxin`` and
``Àotǐ Zhōngxīn`` are one key — the network's pinyin ids (``aotizhongxin``) and pinyin
aliases (``Changping``) match every such spelling.  netsim does not transliterate
Chinese names itself (no ``pypinyin``): a transliterator guesses the reading of
polyphonic characters and the datasets' spellings are not the syllable-by-syllable
pinyin of the full Chinese name anyway (UCI's ``Changping`` is 昌平镇, pinyin
*changpingzhen*), so an explicit alias is the reliable way and is reviewable in the file.

A name that matches two stations is an error naming both (never a guess); a name that
matches none is reported with the closest keys ("did you mean").
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from netsim.errors import ReadingsError

if TYPE_CHECKING:  # pragma: no cover
    from netsim.network import Network

ALIAS_SEPARATOR = ";"
"""Separator of the names in the network file's ``aliases`` column."""

NAME_FIELDS: tuple[str, ...] = ("station_id", "name", "name_zh", "aliases")
"""Network columns a readings name is compared with, in the order messages cite them."""

_PUNCTUATION = re.compile(r"[\s_\-'’‘`·・.]+")


def normalise_name(text: object) -> str:
    """The matching key of a station name.

    Unicode NFKC (full-width letters and brackets become ASCII), case folded, tone
    marks and other accents removed, spaces, ``_``, ``-``, apostrophes, ``·`` and
    ``.`` dropped: ``"Àotǐ Zhōngxīn"``, ``"aoti-zhongxin"`` → ``"aotizhongxin"``;
    ``"定陵（对照点）"`` → ``"定陵(对照点)"``.
    """
    s = unicodedata.normalize("NFKC", str(text)).casefold()
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return _PUNCTUATION.sub("", unicodedata.normalize("NFC", s))


def split_aliases(text: object) -> list[str]:
    """The names of one ``aliases`` cell (``;``-separated, blanks dropped)."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    return [a.strip() for a in str(text).split(ALIAS_SEPARATOR) if a.strip()]


@dataclass(frozen=True)
class NameKey:
    """One way of naming a station: its position, the network column and the text."""

    station: int
    field: str
    text: str


class StationMatcher:
    """Resolve names found in readings files to the stations of a network.

    Parameters
    ----------
    ids, names, names_zh, aliases
        Per-station columns of the network (``aliases``: ``;``-separated text or empty).
    source
        The network's file, for messages.
    """

    def __init__(self, ids: Sequence[str], names: Sequence[str], names_zh: Sequence[str],
                 aliases: Sequence[object], source: str = "<network>") -> None:
        self.ids = np.asarray(ids, dtype=object).astype(str)
        self.source = source
        self._keys: dict[str, list[NameKey]] = {}
        columns = {"station_id": ids, "name": names, "name_zh": names_zh}
        for field, values in columns.items():
            for i, text in enumerate(values):
                self._add(i, field, text)
        for i, cell in enumerate(aliases):
            for text in split_aliases(cell):
                self._add(i, "aliases", text)
        self.used: dict[str, str] = {}
        """Names resolved so far that are not the station id itself: name -> station id."""

    @classmethod
    def from_network(cls, network: Network) -> StationMatcher:
        """The matcher of ``network``'s stations (its ``aliases`` column if present)."""
        st = network.stations
        aliases = st["aliases"] if "aliases" in st else [""] * len(st)
        return cls(st["station_id"], st["name"], st["name_zh"], list(aliases),
                   source=network.source)

    def _add(self, station: int, field: str, text: object) -> None:
        if text is None or (isinstance(text, float) and np.isnan(text)) or not str(text).strip():
            return
        key = normalise_name(text)
        entries = self._keys.setdefault(key, [])
        if all(e.station != station for e in entries):
            entries.append(NameKey(station, field, str(text).strip()))

    def describe(self, entry: NameKey) -> str:
        """``"pingchang (name 'Changping')"``: a station and how the name matched it."""
        sid = str(self.ids[entry.station])
        if entry.field == "station_id":
            return sid
        field = "alias" if entry.field == "aliases" else entry.field
        return f"{sid} ({field} {entry.text!r})"

    def resolve(self, names: Iterable[str], where: str = "") -> np.ndarray:
        """Positions of ``names`` in the network (-1 for a name no station has).

        Raises
        ------
        ReadingsError
            A name matches two or more stations (the message names them and where
            each match comes from); ``where`` prefixes the message (file and field).
        """
        out = []
        for name in names:
            entries = self._keys.get(normalise_name(name), [])
            if len(entries) > 1:
                both = " and ".join(self.describe(e) for e in entries)
                raise ReadingsError(
                    f"{where}station name {name!r} matches {len(entries)} stations of "
                    f"{self.source}: {both}; use the station id in the readings or make the "
                    "names distinct in the network file"
                )
            if entries:
                sid = str(self.ids[entries[0].station])
                if str(name) != sid:
                    self.used[str(name)] = sid
                out.append(entries[0].station)
            else:
                out.append(-1)
        return np.asarray(out, dtype=np.int64)

    def suggest(self, name: str, n: int = 2) -> list[str]:
        """Up to ``n`` stations whose names are closest to ``name`` ("did you mean")."""
        close = difflib.get_close_matches(normalise_name(name), list(self._keys), n=6, cutoff=0.6)
        found: dict[int, str] = {}
        for key in close:
            for entry in self._keys[key]:
                if entry.station not in found and len(found) < n:
                    found[entry.station] = self.describe(entry)
        return list(found.values())

    def unknown_text(self, names: Iterable[str], limit: int = 5) -> str:
        """``"Changpin (did you mean pingchang (name 'Changping')?), Xyz"``."""
        parts = []
        for name in sorted(names)[:limit]:
            hint = self.suggest(name)
            parts.append(f"{name} (did you mean {' or '.join(hint)}?)" if hint else name)
        return ", ".join(parts)


def alias_conflicts(frame: pd.DataFrame) -> tuple[int, int, str] | None:
    """The first alias that names another station of ``frame`` (row, other row, alias).

    An alias must not equal (after :func:`normalise_name`) another station's id, name,
    Chinese name or alias; None when every alias is unambiguous.
    """
    owner: dict[str, int] = {}
    for field in ("station_id", "name", "name_zh"):
        if field in frame:
            for i, text in enumerate(frame[field]):
                if str(text).strip():
                    owner.setdefault(normalise_name(text), i)
    for i, cell in enumerate(frame["aliases"]):
        for alias in split_aliases(cell):
            key = normalise_name(alias)
            j = owner.setdefault(key, i)
            if j != i:
                return i, j, alias
    return None
