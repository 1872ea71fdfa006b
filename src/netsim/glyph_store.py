"""The text caches of :mod:`netsim.glyphs` kept on disk between runs.

A process that draws lays out and renders every string of its pictures with FreeType
the first time it draws it: ~0.3 s of a run's ~1.5 s of drawing (EPYC, ``fyp14_expansion``;
``changes.png`` alone 0.45 → 0.23 s), spent again by every run, although most strings
(titles, labels, tick values of the usual scales) and glyph positions recur.  So the
caches of each process that drew are written to :func:`cache_file` when it ends, and the
next process that draws starts from them.

* Only what a font's identity names is kept (:func:`netsim.glyphs.font_identity`: its
  files with their sizes and modification times, and the rcParams that build it): a
  changed font file is a new identity, and its old entries are never looked up again.
* The file is named after the matplotlib and FreeType versions that laid the text out
  and rendered it; another version writes its own file.
* A glyph or layout read from the file is the one FreeType gives (the same bytes: the
  file holds FreeType's output as it was), so a picture is the same, pixel for pixel,
  whether its text came from the file, the process's memory or FreeType.
* A missing, unreadable or malformed file is ignored (and replaced at the end); a cache
  directory that cannot be written is left alone.  Nothing is written for a process
  whose caches did not grow.

``NETSIM_CACHE_DIR`` sets the directory (default ``$XDG_CACHE_HOME/netsim``, else
``~/.cache/netsim``); set it to an empty string to keep nothing on disk.  The file is
netsim's own, ~1-3 MB; deleting it only makes the next run's text slower.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from collections.abc import MutableMapping
from pathlib import Path

import numpy as np

__all__ = ["CACHE_ENV", "cache_file", "load", "save", "save_at_exit"]

CACHE_ENV = "NETSIM_CACHE_DIR"
"""Environment variable: the directory of netsim's caches ("" = none on disk)."""
FORMAT = 1
_GLYPH_KEY_COLUMNS = 12  # font, size, dpi, glyph index, 4 matrix entries, tx, ty, flags, mode
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, IndexError, EOFError,
               zipfile.BadZipFile)

_count_at_load = -1
_file_at_load: tuple[int, int] | None = None  # (size, mtime) of the file this process read


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


def load(layouts: MutableMapping, glyphs: MutableMapping, metrics: MutableMapping) -> int:
    """Add the stored entries to the caches (those already there are kept); returns how
    many were added (0 when there is no readable file)."""
    global _count_at_load, _file_at_load
    _file_at_load = _stamp(cache_file())
    added = _merge_stored(layouts, glyphs, metrics)
    _count_at_load = len(layouts) + len(glyphs) + len(metrics)
    return added


def _stamp(path: Path | None) -> tuple[int, int] | None:
    """Size and modification time of ``path`` (None: missing or unreadable)."""
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        return None
    return None if stat is None else (stat.st_size, stat.st_mtime_ns)


def _merge_stored(layouts: MutableMapping, glyphs: MutableMapping,
                  metrics: MutableMapping) -> int:
    """Add the entries of :func:`cache_file` missing from the caches; returns how many."""
    path = cache_file()
    stored: tuple[dict, dict, dict] = ({}, {}, {})
    if path is not None:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                stored = _from_arrays({name: arrays[name] for name in arrays.files})
        except FileNotFoundError:
            pass
        except _UNREADABLE:
            pass  # replaced when this process saves
    added = 0
    for cache, entries in zip((layouts, glyphs, metrics), stored, strict=True):
        for key, value in entries.items():
            if key not in cache:
                cache[key] = value
                added += 1
    return added


def save(layouts: MutableMapping, glyphs: MutableMapping, metrics: MutableMapping) -> bool:
    """Write the caches' entries of identified fonts, with those another process stored
    since, to :func:`cache_file` (atomically), unless they did not grow since
    :func:`load`; returns whether it wrote.

    The run's process ends after its helpers, and so adds its own pictures' text to
    theirs; helpers ending together may each miss the other's new entries."""
    global _count_at_load, _file_at_load
    path = cache_file()
    if path is None or len(layouts) + len(glyphs) + len(metrics) == _count_at_load:
        return False
    if _stamp(path) not in (None, _file_at_load):  # written by another process since
        _merge_stored(layouts, glyphs, metrics)
    arrays = _to_arrays(layouts, glyphs, metrics)
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
    _count_at_load, _file_at_load = len(layouts) + len(glyphs) + len(metrics), _stamp(path)
    return True


def save_at_exit(layouts: MutableMapping, glyphs: MutableMapping,
                 metrics: MutableMapping) -> None:
    """:func:`save` the caches when this process ends (a netsim helper worker included:
    multiprocessing runs its finalizers where ``atexit`` would not)."""
    from multiprocessing import util

    util.Finalize(None, save, args=(layouts, glyphs, metrics), exitpriority=0)


# ----------------------------------------------------------------------------
# Caches <-> arrays (no pickles: numbers, JSON text and bitmaps)
# ----------------------------------------------------------------------------


def _to_arrays(layouts: MutableMapping, glyphs: MutableMapping,
               metrics: MutableMapping) -> dict[str, np.ndarray]:
    """The entries whose font is an identity (a string): glyph keys, boxes and pixels as
    arrays, the layouts and metrics as JSON with the fonts' identities."""
    fonts: dict[str, int] = {}

    def font(identity: str) -> int:
        return fonts.setdefault(identity, len(fonts))

    metric_rows = [[font(k[0]), *k[1:], *v] for k, v in list(metrics.items())
                   if isinstance(k[0], str)]
    layout_rows = [[font(k[0]), *k[1:5], list(k[5]) if k[5] is not None else None, k[6],
                    [item[1:] for item in v]]
                   for k, v in list(layouts.items()) if _storable_layout(k, v)]
    entries = [(k, v) for k, v in list(glyphs.items()) if isinstance(k[0], str)]
    keys = np.array([[font(k[0]), k[1], k[2], k[3], *k[4], k[5], k[6], k[7], k[8]]
                     for k, _ in entries], dtype=np.float64).reshape(-1, _GLYPH_KEY_COLUMNS)
    boxes = np.array([[v[0].shape[0], v[0].shape[1], v[1], v[2]] for _, v in entries],
                     dtype=np.int64).reshape(-1, 4)
    pixels = (np.concatenate([v[0].ravel() for _, v in entries]) if entries
              else np.zeros(0, np.uint8))
    meta = {"format": FORMAT, "fonts": list(fonts), "metrics": metric_rows,
            "layouts": layout_rows}
    return {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            "glyph_keys": keys, "glyph_boxes": boxes, "glyph_pixels": pixels}


def _storable_layout(key: tuple, layout: tuple) -> bool:
    """A layout of an identified font, all its glyphs from that font (no fallback face),
    with plain features and language."""
    features, language = key[5], key[6]
    return (isinstance(key[0], str) and all(item[0] is None for item in layout)
            and (features is None or all(isinstance(f, str) for f in features))
            and (language is None or isinstance(language, str)))


def _from_arrays(arrays: dict[str, np.ndarray]) -> tuple[dict, dict, dict]:
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
    starts = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    pixels = np.require(pixels, np.uint8, ["C", "W"])  # bitmaps are views of it (Agg's
    glyphs = {}                                        # text calls take writeable arrays)
    for i, (key, (rows, cols, left, top)) in enumerate(zip(keys.astype(np.int64).tolist(),
                                                            boxes.tolist(), strict=True)):
        glyphs[(fonts[key[0]], float(keys[i, 1]), float(keys[i, 2]), key[3], tuple(key[4:8]),
                *key[8:12])] = (pixels[starts[i]:starts[i + 1]].reshape(rows, cols), left, top)
    return layouts, glyphs, metrics
