"""Text drawn from cached glyph layouts and glyph bitmaps: the same pixels, drawn faster.

Matplotlib 3.11's Agg renderer lays out each string with FreeType (and HarfBuzz) and
then renders and blends it glyph by glyph in Python: about 0.3 ms to lay out a label and
~50 µs a glyph, a third of a map and most of ``changes.png``.  A run draws the same
strings again and again (tick labels of a shared colour scale, panel titles, the first
line of a title), so :class:`GlyphCachingRenderer` keeps

* each string's layout, per font, size and dpi,
* each string's width, height and descent (``changes.png`` measures its labels to lay
  the chart out, then matplotlib measures them again to draw them: ~0.7 ms a string), and
* each glyph's bitmap, per font, size, dpi, rotation and sub-pixel position (1/64 px):
  FreeType renders an outline moved by whole pixels as the same bitmap moved by those
  pixels, so a glyph drawn again at the same sub-pixel offset needs only its blend.

Everything else is matplotlib's own code path: the glyphs are blended in the same order
with the same Agg call, so a picture's pixels do not change
(``tests/test_glyphs.py`` draws maps and charts both ways).  With a matplotlib whose
Agg renderer draws text differently (before 3.11) the renderer is matplotlib's own.

A font is known in the caches by its identity (:func:`font_identity`: its files, their
sizes and times), so what one process laid out and rendered serves the next:
:mod:`netsim.glyph_store` keeps the caches on disk between runs.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag
from matplotlib.ft2font import FT2Font, RenderMode

__all__ = ["GlyphCachingRenderer", "caching_supported", "font_identity", "load_stored",
           "save_stored"]

MAX_LAYOUTS = 4096
"""Strings whose layouts are kept (per process; the cache is emptied when full)."""
MAX_GLYPHS = 16384
"""Glyph bitmaps kept (~200 bytes each; emptied when full)."""
STORED_GLYPHS = 12288
"""Glyph bitmaps kept on disk (the layouts and metrics: :data:`MAX_LAYOUTS` each), those
the last process used first."""


def caching_supported() -> bool:
    """True when matplotlib's Agg text path is the per-glyph one this module reproduces."""
    return (hasattr(RendererAgg, "_draw_text_glyphs_and_boxes")
            and hasattr(FT2Font, "_layout") and hasattr(FT2Font, "_render_glyph")
            and hasattr(FT2Font, "_set_transform"))


_SUPPORTED = caching_supported()
Layout = tuple[tuple[FT2Font | None, int, float, float], ...]
"""A string's glyphs as (face, glyph index, x, y): face None for the font laid out with,
else the fallback font the glyph came from."""
_layouts: dict[tuple, Layout] = {}
_glyphs: dict[tuple, tuple[np.ndarray, int, int]] = {}
_metrics: dict[tuple, tuple[float, float, float]] = {}
_identities: dict[FT2Font, str] = {}
"""A font object's :func:`font_identity` (the fonts this process drew with)."""
_stored: tuple[Any, Any, Any] = ({}, {}, {})
"""Layouts, glyphs (:class:`netsim.glyph_store.StoredGlyphs`) and metrics read from disk
and not yet used by this process (moved to the caches above at their first use)."""
_loaded = False
_fresh = 0
"""Entries this process had FreeType compute (none: nothing new to store)."""


class GlyphCachingRenderer(RendererAgg):
    """An Agg renderer whose plain (not math) text comes from :data:`_layouts` and
    :data:`_glyphs`; the pixels of :class:`~matplotlib.backends.backend_agg.RendererAgg`.

    The first one of a process reads what earlier runs kept on disk, unless the process
    has already (:func:`load_stored`)."""

    def __init__(self, width, height, dpi) -> None:
        super().__init__(width, height, dpi)
        if not _loaded:
            load_stored()

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if ismath or not _SUPPORTED:
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)
        size = prop.get_size_in_points()
        font = self._prepare_font(prop)
        self._draw_glyphs(gc, x, y, angle, size, font, self._layout(font, size, s, mtext))
        return None

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath or not _SUPPORTED:
            return super().get_text_width_height_descent(s, prop, ismath)
        font = self._prepare_font(prop)
        key = (_identities[font], prop.get_size_in_points(), self.dpi, s,
               get_hinting_flag().value)
        metrics = _metrics.get(key)
        if metrics is None:
            metrics = _stored[2].pop(key, None)
            if metrics is None:
                metrics = super().get_text_width_height_descent(s, prop, ismath)
                _count_fresh()
            if len(_metrics) >= MAX_LAYOUTS:
                _metrics.clear()
            _metrics[key] = metrics
        return metrics

    def _prepare_font(self, font_prop) -> FT2Font:
        """``RendererAgg._prepare_font``, the font's identity noted the first time."""
        font = super()._prepare_font(font_prop)
        if font not in _identities:
            _identities[font] = font_identity(
                font_manager.fontManager._find_fonts_by_props(font_prop))
        return font

    def _layout(self, font: FT2Font, size: float, s: str, mtext) -> Layout:
        """``font._layout`` of ``s`` as (face, glyph index, x, y) per glyph, cached."""
        flags = get_hinting_flag()
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        key = (_identities[font], size, self.dpi, s, flags.value,
               tuple(features) if features is not None else None, language)
        layout = _layouts.get(key)
        if layout is None:
            layout = _stored[0].pop(key, None)
            if layout is None:
                items = font._layout(s, flags=flags, features=features, language=language)
                layout = tuple((None if item.ft_object is font else item.ft_object,
                                item.glyph_index, item.x, item.y) for item in items)
                _count_fresh()
            if len(_layouts) >= MAX_LAYOUTS:
                _layouts.clear()
            _layouts[key] = layout
        return layout

    def _draw_glyphs(self, gc, x: float, y: float, angle: float, size: float,
                     font: FT2Font, layout: Layout) -> None:
        """Blend each glyph as ``RendererAgg._draw_text_glyphs_and_boxes`` does (same
        transform, same rounding, same order; its slant 0 and extend 1 leave the rotation
        as it is); y is downwards."""
        cos = math.cos(math.radians(angle))
        sin = math.sin(math.radians(angle))
        matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
        matrix_key = tuple(matrix.ravel().tolist())
        flags = get_hinting_flag()
        antialiased = gc.get_antialiased()
        mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
        codes = flags.value, mode.value
        identity = _identities[font]
        height, dpi, draw = self.height, self.dpi, self._renderer.draw_text_image
        for face, glyph_index, dx, dy in layout:  # dy is upwards
            tx = round(0x40 * (x + dx * cos - dy * sin))
            ty = round(0x40 * (height - y + dx * sin + dy * cos))  # FreeType's y is upwards
            key = (identity if face is None else face, size, dpi, glyph_index, matrix_key,
                   tx & 63, ty & 63, *codes)
            glyph = _glyphs.get(key)
            if glyph is None:
                glyph = _stored[1].pop(key, None)
                if glyph is None:
                    glyph = _render(font if face is None else face, size, dpi, glyph_index,
                                    matrix, tx, ty, flags, mode, antialiased)
                    _count_fresh()
                if len(_glyphs) >= MAX_GLYPHS:
                    _glyphs.clear()
                _glyphs[key] = glyph
            buffer, left, top = glyph
            # draw_text_image's y is downwards & the bitmap's bottom side
            draw(buffer, left + (tx >> 6), int(height) - (top + (ty >> 6)) + buffer.shape[0],
                 0, gc)


def font_identity(paths: Iterable[str]) -> str:
    """What makes the font :func:`matplotlib.font_manager.get_font` opens for ``paths``
    (its files in fallback order) lay out and render glyphs as it does: each file with its
    face index, size and modification time, and the rcParams ``get_font`` reads."""
    files = []
    for path in paths:
        face = getattr(path, "face_index", 0)
        try:
            stat = os.stat(path)
            files.append(f"{os.path.realpath(path)}#{face}:{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            files.append(f"{path}#{face}:unreadable")
    settings = (dict.get(mpl.rcParams, key) for key in _FONT_RC)
    return "|".join(files + [f"{key}={value}" for key, value in zip(_FONT_RC, settings,
                                                                      strict=True)])


_FONT_RC = ("text.kerning_factor", "font.enable_last_resort")
"""The rcParams :func:`matplotlib.font_manager.get_font` builds a font with."""


_loading = threading.Lock()


def load_stored() -> None:
    """Fill the caches, once per process, with what :mod:`netsim.glyph_store` kept on disk,
    and keep them there when the process ends (done by the process's first renderer, or
    ahead of its pictures: :func:`netsim.maps.prepare_pictures`)."""
    global _loaded, _stored
    from multiprocessing import util

    from netsim import glyph_store

    with _loading:
        if _loaded:
            return
        _loaded = True
        _stored = glyph_store.read()
        # multiprocessing's finalizers run in a helper worker too, where atexit's do not
        util.Finalize(None, save_stored, exitpriority=0)


def save_stored() -> bool:
    """Store this process's text (:func:`netsim.glyph_store.save`): the layouts, glyphs
    and metrics it used first, then those it read and did not use; nothing when FreeType
    computed nothing new here.  Returns whether the file was written."""
    from netsim import glyph_store

    if not _fresh:
        return False
    return glyph_store.save((_layouts, _glyphs, _metrics), _stored,
                            limits=(MAX_LAYOUTS, STORED_GLYPHS, MAX_LAYOUTS))


def _count_fresh() -> None:
    global _fresh
    _fresh += 1


def _render(font: FT2Font, size: float, dpi: float, glyph_index: int, matrix: np.ndarray,
            tx: int, ty: int, flags, mode, antialiased: bool) -> tuple[np.ndarray, int, int]:
    """The glyph's bitmap at the sub-pixel offset of (tx, ty) (1/64 px), with its left and
    top relative to the whole pixels of (tx, ty)."""
    font.set_size(size, dpi)
    font._set_transform(matrix, [tx, ty])
    bitmap = font._render_glyph(glyph_index, flags, mode)
    buffer = np.array(bitmap.buffer, dtype=np.uint8, copy=True)
    if not antialiased:
        buffer *= 0xff
    return buffer, bitmap.left - (tx >> 6), bitmap.top - (ty >> 6)


def clear_caches() -> None:
    """Forget every cached layout and glyph (tests; a font or hinting change needs none:
    they are part of the keys), and what was read from disk (not read again)."""
    for cache in (_layouts, _glyphs, _metrics, *_stored):
        cache.clear()
