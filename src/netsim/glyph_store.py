"""The text caches of :mod:`netsim.glyphs` kept on disk between runs.

A process that draws lays out and renders every string of its pictures with FreeType
the first time it draws it: ~0.3 s of a run's ~1.5 s of drawing (EPYC, ``fyp14_expansion``;
``changes.png`` alone 0.45 → 0.23 s), spent again by every run, although most strings
(titles, labels, tick values of the usual scales) and glyph positions recur.  So each
process that drew writes its caches to :func:`cache_file` when it ends, and the next
process that draws starts from them (:func:`netsim.glyphs.load_stored`,
:func:`netsim.glyphs.save_stored`).

* Only what a font's identity names is kept (:func:`netsim.glyphs.font_identity`: its
  files with their sizes and modification times, and the rcParams that build it): a
  changed font file is a new identity, and its old entries are never looked up again.
* The file is named after the matplotlib and FreeType versions that laid the text out
  and rendered it; another version writes its own file.
* A glyph or layout read from the file is the one FreeType gave (the file holds its
  output as it was), so a picture is the same, pixel for pixel, whether its text came
  from the file, the process's memory or FreeType.
* The file holds at most a few thousand layouts and ~12,000 glyphs (~2-3 MB): those the
  last process used first, then those it read and did not use.
* A missing, unreadable or malformed file is ignored (and replaced at the end); a cache
  directory that cannot be written is left alone.  A process whose text was all read
  from the file writes nothing.

``NETSIM_CACHE_DIR`` sets the directory (default ``$XDG_CACHE_HOME/netsim``, else
``~/.cache/netsim``); set it to an empty string to keep nothing on disk.  The file is
netsim's own; deleting it only makes the next run's text slower.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CACHE_ENV", "Caches", "StoredGlyphs", "cache_file", "read", "save"]

CACHE_ENV = "NETSIM_CACHE_DIR"
"""Environment variable: the directory of netsim's caches ("" = none on disk)."""
FORMAT = 1
_GLYPH_KEY_COLUMNS = 12  # font, size, dpi, glyph index, 4 matrix entries, tx, ty, flags, mode
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, IndexError, EOFError,
               zipfile.BadZipFile)

_file_at_load: tuple[int, int] | None = None  # (size, mtime) of the file this process read

Caches = tuple[MutableMapping, MutableMapping, MutableMapping]
"""A process's layouts, glyph bitmaps and text metrics (keyed as :mod:`netsim.glyphs` keys
them)."""


def cache_file() -> Path | None:
    """The file of the text caches (None: ``NETSIM_CACHE_DIR`` is set to "")."""
    import matplotlib
    from matplotlib import ft2font

    setting = os.environ.get(CACHE_ENV)
    if setting is not None and not setting.strip():
        return None
    if setting is not None:
        folder = Path(setting).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        folder = Path(base) / "netsim"
    return folder / (f"netsim-glyphs-v{FORMAT}-mpl{matplotlib.__version__}"
                     f"-ft{ft2font.__freetype_version__}.npz")


def read() -> tuple[dict, StoredGlyphs | dict, dict]:
    """The stored layouts, glyphs (:class:`StoredGlyphs`) and metrics (empty when there is
    no readable file)."""
    global _file_at_load
    path = cache_file()
    _file_at_load = _stamp(path)
    return _read(path)


def save(*sources: Caches, limits: tuple[int, int, int] = (4096, 12288, 4096)) -> bool:
    """Write the entries of identified fonts in ``sources`` to :func:`cache_file`
    (atomically), at most ``limits`` layouts, glyphs and metrics, the first source's first,
    then those another process stored since this one read the file (:func:`read`).
    Returns whether it wrote (not without a cache directory, or when it cannot be written).

    A process passes what it used, then what it read and did not use: the text no run has
    drawn for longest leaves the file first.  The run's process ends after its helpers,
    and so adds its own pictures' text to theirs; helpers ending together may each miss
    the other's new entries."""
    global _file_at_load
    path = cache_file()
    if path is None:
        return False
    if _stamp(path) not in (None, _file_at_load):  # written by another process since
        sources = (*sources, _read(path))
    layout_limit, glyph_limit, metric_limit = limits
    layouts: dict = {}
    glyphs: dict = {}
    metrics: dict = {}
    blocks: list[tuple[StoredGlyphs, np.ndarray]] = []  # stored rows kept as arrays
    for source_layouts, source_glyphs, source_metrics in sources:
        _add(layouts, source_layouts, layout_limit - len(layouts), _storable_layout)
        _add(metrics, source_metrics, metric_limit - len(metrics), _identified)
        room = glyph_limit - len(glyphs) - sum(len(rows) for _, rows in blocks)
        if isinstance(source_glyphs, StoredGlyphs):
            rows = source_glyphs.rows(exclude=glyphs, blocks=blocks)
            blocks.append((source_glyphs, rows[:max(room, 0)]))
        else:
            _add(glyphs, source_glyphs, room, _identified)
    arrays = _to_arrays(layouts, glyphs, metrics, blocks=blocks)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(scratch, "wb") as file:
            np.savez(file, **arrays)
        os.replace(scratch, path)
    except OSError:  # a cache directory that cannot be written: no cache on disk
        with contextlib.suppress(OSError):
            scratch.unlink(missing_ok=True)
        return False
    _file_at_load = _stamp(path)
    return True


def _add(kept: dict, entries: MutableMapping, room: int,
         storable: Callable[[tuple, Any], bool]) -> None:
    """Add to ``kept`` at most ``room`` of the ``storable`` entries it does not have."""
    for key, value in list(entries.items()):
        if room <= 0:
            return
        if storable(key, value) and key not in kept:
            kept[key] = value
            room -= 1


def _read(path: Path | None) -> tuple[dict, StoredGlyphs | dict, dict]:
    """The entries of the file at ``path`` (none when it is missing or unreadable: it is
    replaced when this process saves)."""
    if path is not None:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return _from_arrays({name: arrays[name] for name in arrays.files})
        except _UNREADABLE:  # FileNotFoundError included
            pass
    return {}, {}, {}


def _stamp(path: Path | None) -> tuple[int, int] | None:
    """Size and modification time of ``path`` (None: missing or unreadable)."""
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        return None
    return None if stat is None else (stat.st_size, stat.st_mtime_ns)


# ----------------------------------------------------------------------------
# Caches <-> arrays (no pickles: numbers, JSON text and bitmaps)
# ----------------------------------------------------------------------------


def _to_arrays(layouts: MutableMapping, glyphs: MutableMapping, metrics: MutableMapping,
               blocks: Sequence[tuple[StoredGlyphs, np.ndarray]] = ()
               ) -> dict[str, np.ndarray]:
    """The entries (storable: :func:`save` chose them) and the rows of ``blocks`` (stored
    glyphs, after ``glyphs``): glyph keys, boxes and pixels as arrays, the layouts and
    metrics as JSON with the fonts' identities."""
    fonts: dict[str, int] = {}

    def font(identity: str) -> int:
        return fonts.setdefault(identity, len(fonts))

    metric_rows = [[font(k[0]), *k[1:], *v] for k, v in metrics.items()]
    layout_rows = [[font(k[0]), *k[1:5], list(k[5]) if k[5] is not None else None, k[6],
                    [item[1:] for item in v]] for k, v in layouts.items()]
    keys = [np.array([[font(k[0]), k[1], k[2], k[3], *k[4], k[5], k[6], k[7], k[8]]
                      for k in glyphs], dtype=np.float64).reshape(-1, _GLYPH_KEY_COLUMNS)]
    boxes = [np.array([[v[0].shape[0], v[0].shape[1], v[1], v[2]] for v in glyphs.values()],
                      dtype=np.int64).reshape(-1, 4)]
    pixels = [v[0].ravel() for v in glyphs.values()]
    for stored, rows in blocks:
        block_keys, block_boxes, block_pixels = stored.arrays(rows)
        block_keys[:, 0] = [font(identity) for identity in stored.identities(rows)]
        keys.append(block_keys)
        boxes.append(block_boxes)
        pixels.append(block_pixels)
    meta = {"format": FORMAT, "fonts": list(fonts), "metrics": metric_rows,
            "layouts": layout_rows}
    return {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            "glyph_keys": np.concatenate(keys), "glyph_boxes": np.concatenate(boxes),
            "glyph_pixels": np.concatenate([np.zeros(0, np.uint8), *pixels])}


def _storable_layout(key: tuple, layout: tuple) -> bool:
    """A layout of an identified font, all its glyphs from that font (no fallback face),
    with plain features and language."""
    features, language = key[5], key[6]
    return (isinstance(key[0], str) and all(item[0] is None for item in layout)
            and (features is None or all(isinstance(f, str) for f in features))
            and (language is None or isinstance(language, str)))


def _identified(key: tuple, value: object) -> bool:
    """An entry of a font known by its identity (a string), not by an object of this
    process (a fallback face)."""
    return isinstance(key[0], str)


def _from_arrays(arrays: dict[str, np.ndarray]) -> tuple[dict, StoredGlyphs, dict]:
    """The (layouts, glyphs, metrics) of :func:`_to_arrays`' arrays, keyed as
    :mod:`netsim.glyphs` keys them."""
    meta = json.loads(arrays["meta"].tobytes().decode())
    if meta.get("format") != FORMAT:
        raise ValueError(f"glyph cache format {meta.get('format')}, expected {FORMAT}")
    fonts = [str(identity) for identity in meta["fonts"]]
    # JSON gives back the ints and floats it was given (floats to the bit)
    metrics = {(fonts[row[0]], *row[1:5]): tuple(row[5:8]) for row in meta["metrics"]}
    layouts = {(fonts[row[0]], *row[1:5], tuple(row[5]) if row[5] is not None else None,
                row[6]): tuple([(None, *item) for item in row[7]]) for row in meta["layouts"]}
    keys, boxes, pixels = arrays["glyph_keys"], arrays["glyph_boxes"], arrays["glyph_pixels"]
    if keys.shape != (len(boxes), _GLYPH_KEY_COLUMNS) or boxes.shape[1:] != (4,):
        raise ValueError("glyph cache arrays of mismatched shapes")
    sizes = boxes[:, 0] * boxes[:, 1]
    if sizes.sum() != pixels.size or (boxes[:, :2] < 0).any():
        raise ValueError("glyph cache pixels do not match their boxes")
    if len(keys) and not 0 <= keys[:, 0].min() <= keys[:, 0].max() < len(fonts):
        raise ValueError("glyph cache keys name fonts it does not list")
    return layouts, StoredGlyphs(fonts, keys, boxes, pixels), metrics


class StoredGlyphs:
    """Glyph bitmaps read from the file, kept as its arrays: no Python object per glyph
    (~3 MB for 10,000 glyphs, where a dict of them took ~7 MB) until one is taken.

    A mapping of what :mod:`netsim.glyphs` needs: :meth:`pop` takes a glyph by its key
    (found by the key's hash, checked against the stored row), :meth:`items`,
    ``len``, :meth:`clear`."""

    def __init__(self, fonts: list[str], keys: np.ndarray, boxes: np.ndarray,
                 pixels: np.ndarray) -> None:
        self._fonts, self._keys, self._boxes = fonts, keys, boxes
        self._pixels = np.require(pixels, np.uint8, ["C", "W"])  # bitmaps are views of it
        self._starts = np.concatenate([[0], np.cumsum(boxes[:, 0] * boxes[:, 1])])
        self._rows = {hash(self._key(i)): i for i in range(len(keys))}  # (Agg's text calls
                                                                         # take writeable arrays)

    def _key(self, i: int) -> tuple:
        """Row ``i``'s key, as :mod:`netsim.glyphs` builds it."""
        size, dpi = self._keys[i, 1:3].tolist()
        key = self._keys[i].astype(np.int64).tolist()
        return (self._fonts[key[0]], size, dpi, key[3], tuple(key[4:8]), *key[8:12])

    def _value(self, i: int) -> tuple[np.ndarray, int, int]:
        rows, cols, left, top = self._boxes[i].tolist()
        return self._pixels[self._starts[i]:self._starts[i + 1]].reshape(rows, cols), left, top

    def pop(self, key: tuple, default: Any = None) -> Any:
        """The glyph of ``key``, no longer held here (``default`` if it is not)."""
        code = hash(key)
        i = self._rows.get(code)
        if i is None or self._key(i) != key:  # (another key of the same hash)
            return default
        del self._rows[code]
        return self._value(i)

    def items(self) -> Iterator[tuple[tuple, tuple[np.ndarray, int, int]]]:
        for i in list(self._rows.values()):
            yield self._key(i), self._value(i)

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        self._rows.clear()

    def rows(self, exclude: Mapping, blocks: Sequence[tuple[StoredGlyphs, np.ndarray]]
             ) -> np.ndarray:
        """The rows still held, in file order, but those whose key is in ``exclude`` or in
        the ``blocks`` of other stores."""
        taken = {hash(key) for key in exclude}
        for stored, rows in blocks:
            taken.update(hash(stored._key(i)) for i in rows.tolist())
        return np.array(sorted(i for code, i in self._rows.items() if code not in taken),
                        dtype=np.intp)

    def arrays(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keys (fonts as they index :meth:`identities`), boxes and pixels of ``rows``."""
        pieces = [self._pixels[self._starts[i]:self._starts[i + 1]] for i in rows.tolist()]
        return (self._keys[rows].copy(), self._boxes[rows].copy(),
                np.concatenate([np.zeros(0, np.uint8), *pieces]))

    def identities(self, rows: np.ndarray) -> list[str]:
        return [self._fonts[int(f)] for f in self._keys[rows, 0]]
