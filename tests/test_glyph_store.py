"""netsim.glyph_store: the text caches kept on disk give the pixels FreeType gives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from matplotlib.backends.backend_agg import RendererAgg

from netsim import glyph_store, glyphs
from netsim.glyphs import GlyphCachingRenderer, font_identity
from tests.test_glyphs import _pixels, _text_figure

pytestmark = pytest.mark.skipif(not glyphs.caching_supported(),
                                reason="matplotlib's Agg text path predates 3.11's")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A cache directory of this test, caches empty, nothing read from disk yet."""
    monkeypatch.setenv(glyph_store.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(glyphs, "_loaded", True)  # this test loads and saves by hand
    monkeypatch.setattr(glyphs, "_fresh", 0)
    monkeypatch.setattr(glyph_store, "_file_at_load", None)
    glyphs.clear_caches()
    yield tmp_path / "cache"
    glyphs.clear_caches()


def _load(layouts: dict, glyphs: dict, metrics: dict) -> int:
    """Add :func:`glyph_store.read`'s entries missing from the caches; how many (a process
    reading the file: :func:`netsim.glyphs.load_stored`, entries taken one at a time)."""
    added = 0
    for cache, entries in zip((layouts, glyphs, metrics), glyph_store.read(), strict=True):
        for key, value in entries.items():
            if key not in cache:
                cache[key] = value
                added += 1
    return added


def _caches() -> tuple[dict, dict, dict]:
    return glyphs._layouts, glyphs._glyphs, glyphs._metrics


def _no_freetype(monkeypatch) -> list:
    """Make every glyph rendering and layout by FreeType fail the test (recorded)."""
    calls: list = []

    def refuse(*args):
        calls.append(args)
        raise AssertionError("a glyph was rendered, not read from the cache")

    monkeypatch.setattr(glyphs, "_render", refuse)
    return calls


def test_stored_text_draws_freetypes_pixels_without_freetype(store, monkeypatch):
    """Figures drawn cold, saved, forgotten and loaded again: the same entries, and a
    second drawing has RendererAgg's pixels without rendering a single glyph."""
    figures = [_text_figure(seed, dpi) for seed, dpi in ((0, 100.0), (1, 150.0))]
    expected = [_pixels(fig, RendererAgg) for fig in figures]
    for fig, pixels in zip(figures, expected, strict=True):
        assert np.array_equal(_pixels(fig, GlyphCachingRenderer), pixels)
    before = [dict(cache) for cache in _caches()]
    assert glyph_store.save(_caches())
    glyphs.clear_caches()
    assert _load(*_caches()) > 0
    for kept, loaded in zip(before, _caches(), strict=True):
        stored = {k: v for k, v in kept.items() if isinstance(k[0], str)}
        assert stored.keys() <= loaded.keys()
        for key, value in stored.items():
            if isinstance(value[0], np.ndarray):  # a glyph: bitmap, left, top
                assert np.array_equal(loaded[key][0], value[0]) and loaded[key][1:] == value[1:]
            else:
                assert loaded[key] == value
    _no_freetype(monkeypatch)
    for fig, pixels in zip(figures, expected, strict=True):
        assert np.array_equal(_pixels(fig, GlyphCachingRenderer), pixels)


def test_a_map_is_the_same_png_from_stored_text(store, tmp_path, monkeypatch):
    from netsim import maps
    from netsim.grid import Grid

    grid = Grid.for_beijing(5000)
    field = 30 + grid.targets()[:, 0] / 1e5
    kwargs = {"pollutant": "NO2", "limit": 40, "title": "Spatial Distribution, 2020"}
    cold = maps.static_map(grid, field, None, path=tmp_path / "cold.png", **kwargs)
    glyph_store.save(_caches())
    glyphs.clear_caches()
    _load(*_caches())
    _no_freetype(monkeypatch)
    warm = maps.static_map(grid, field, None, path=tmp_path / "warm.png", **kwargs)
    assert warm.read_bytes() == cold.read_bytes()


def test_text_read_from_disk_moves_to_the_caches_and_nothing_new_writes_nothing(store):
    """A process that drew only stored text: each entry it used left the entries it read
    for its caches, FreeType computed nothing, and the file is not written again."""
    _pixels(_text_figure(3), GlyphCachingRenderer)
    assert glyphs._fresh > 0 and glyphs.save_stored()
    glyphs.clear_caches()
    glyphs._fresh = 0
    _load(*glyphs._stored)
    read = len(glyphs._stored[1])
    written = glyph_store.cache_file().stat().st_mtime_ns
    _pixels(_text_figure(3), GlyphCachingRenderer)  # every string and glyph stored
    assert glyphs._fresh == 0 and len(glyphs._glyphs) == read and not glyphs._stored[1]
    assert not glyphs.save_stored()
    assert glyph_store.cache_file().stat().st_mtime_ns == written


def test_the_file_keeps_the_text_used_last_first(store):
    """Within the limits, the entries a process used come first, then those it read and
    did not use; the rest is dropped."""
    bitmap = (np.zeros((2, 3), np.uint8), 0, 0)
    used = {("font", 8.0, 100, i, (65536, 0, 0, 65536), 0, 0, 2, 0): bitmap for i in (1, 2)}
    unused = {("font", 8.0, 100, i, (65536, 0, 0, 65536), 0, 0, 2, 0): bitmap
              for i in (3, 4, 5)}
    assert glyph_store.save(({}, used, {}), ({}, unused, {}), limits=(10, 3, 10))
    loaded: dict = {}
    _load({}, loaded, {})
    assert [key[3] for key in loaded] == [1, 2, 3]


def test_a_save_keeps_what_another_process_stored(store, monkeypatch):
    """Process B loaded before the file existed, process A saved since: B's save holds
    both processes' text (one process here, B's state restored by hand)."""
    _pixels(_text_figure(5, 100.0), GlyphCachingRenderer)
    glyph_store.save(_caches())  # A
    first = {k for k in glyphs._glyphs if isinstance(k[0], str)}
    glyphs.clear_caches()
    monkeypatch.setattr(glyph_store, "_file_at_load", None)  # B found no file
    _pixels(_text_figure(6, 130.0), GlyphCachingRenderer)
    other = {k for k in glyphs._glyphs if isinstance(k[0], str)}
    assert glyph_store.save(_caches())  # B
    glyphs.clear_caches()
    _load(*_caches())
    assert first - other and other - first
    assert first | other <= glyphs._glyphs.keys()


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04 truncated"])
def test_an_unreadable_file_is_ignored_and_replaced(store, content):
    path = glyph_store.cache_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert _load(*_caches()) == 0
    _pixels(_text_figure(7), GlyphCachingRenderer)
    assert glyph_store.save(_caches())
    glyphs.clear_caches()
    assert _load(*_caches()) > 0


def test_a_file_of_mismatched_arrays_is_ignored(store):
    _pixels(_text_figure(8), GlyphCachingRenderer)
    glyph_store.save(_caches())
    path = glyph_store.cache_file()
    with np.load(path) as arrays:
        broken = {name: arrays[name] for name in arrays.files}
    broken["glyph_pixels"] = broken["glyph_pixels"][:-1]
    np.savez(path, **broken)
    glyphs.clear_caches()
    assert _load(*_caches()) == 0


def test_an_empty_setting_keeps_nothing_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(glyph_store.CACHE_ENV, "")
    monkeypatch.chdir(tmp_path)
    assert glyph_store.cache_file() is None
    assert not glyph_store.save(({}, {("font", 1.0): (np.zeros((1, 1), np.uint8), 0, 0)}, {}))
    assert list(tmp_path.iterdir()) == []


def test_the_default_directory_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv(glyph_store.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert glyph_store.cache_file().parent == tmp_path / "netsim"


def test_a_directory_that_cannot_be_written_is_left_alone(store):
    store.parent.mkdir(exist_ok=True)
    store.write_text("a file where the cache directory would be")
    _pixels(_text_figure(9), GlyphCachingRenderer)
    assert not glyph_store.save(_caches())
    assert store.read_text() == "a file where the cache directory would be"
    assert sorted(p.name for p in store.parent.iterdir()) == ["cache"]


def test_a_changed_font_file_is_another_identity(tmp_path):
    font = tmp_path / "DejaVuSans.ttf"
    from matplotlib import font_manager

    shutil.copy(font_manager.findfont("DejaVu Sans"), font)
    before = font_identity([str(font)])
    os.utime(font, ns=(1_000_000_000, 1_000_000_000))
    assert font_identity([str(font)]) != before
    assert str(font) in before


def test_layouts_through_a_fallback_font_are_not_stored(store):
    """A glyph from a fallback face (an object of this process) is kept in memory only."""
    identity = "font#0:1:1|text.kerning_factor=None"
    layouts = {(identity, 8.0, 100.0, "ab", 2, None, None): ((None, 1, 0.0, 0.0),),
               (identity, 8.0, 100.0, "a\u4e2d", 2, None, None): ((None, 1, 0.0, 0.0),
                                                                   (object(), 7, 5.0, 0.0))}
    glyph_store.save((layouts, {}, {}))
    loaded: dict = {}
    _load(loaded, {}, {})
    assert list(loaded) == [(identity, 8.0, 100.0, "ab", 2, None, None)]


@pytest.mark.slow
def test_a_helper_worker_stores_its_text_when_it_ends(tmp_path):
    """A map drawn by a helper worker (the run's process draws nothing): the helper writes
    the file as the run ends; a new process draws the same PNG from it with no glyph
    rendered."""
    script = textwrap.dedent("""
        import sys
        from pathlib import Path
        import numpy as np
        from netsim.grid import Grid
        from netsim.pictures import Pictures

        out = Path(sys.argv[1])
        grid = Grid.for_beijing(5000)
        field = 30 + grid.targets()[:, 0] / 1e5
        kwargs = dict(pollutant="SO2", limit=60, title="Stored, 2020")
        if sys.argv[2] == "helper":
            with Pictures() as pictures:
                pictures.add("netsim.maps:static_map", grid, field, None,
                             path=out / "helper.png", **kwargs)
            from netsim import glyphs
            assert not glyphs._glyphs, "the run's process drew"
        else:
            from netsim import glyphs, maps

            def refuse(*args):
                raise AssertionError("a glyph was rendered, not read from the cache")

            glyphs._render = refuse
            maps.static_map(grid, field, None, path=out / "again.png", **kwargs)
    """)
    cache = tmp_path / "cache"
    env = {**os.environ, glyph_store.CACHE_ENV: str(cache)}
    for mode, workers in (("helper", "1"), ("again", "0")):
        subprocess.run([sys.executable, "-c", script, str(tmp_path), mode], check=True,
                       env={**env, "NETSIM_WORKERS": workers}, timeout=120)
        if mode == "helper":
            assert len(list(cache.glob("netsim-glyphs-*.npz"))) == 1
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "helper.png").read_bytes()


def test_pictures_are_prepared_with_the_stored_text(store, monkeypatch):
    """A helper reads the file while it prepares a run's pictures (before its first map),
    once."""
    from netsim import maps

    calls = []
    monkeypatch.setattr(glyphs, "_loaded", False)
    monkeypatch.setattr(glyphs, "_stored", ({}, {}, {}))
    stored = ({}, {}, {})
    monkeypatch.setattr(glyph_store, "read", lambda: calls.append(1) or stored)
    maps.prepare_pictures(5000.0, "en")
    maps.prepare_pictures(5000.0, "en")
    assert len(calls) == 1 and glyphs._stored is stored


def test_stored_glyphs_are_taken_once_by_their_exact_key(store):
    _pixels(_text_figure(10), GlyphCachingRenderer)
    kept = {k: v for k, v in glyphs._glyphs.items() if isinstance(k[0], str)}
    glyph_store.save(_caches())
    _, stored, _ = glyph_store.read()
    assert isinstance(stored, glyph_store.StoredGlyphs) and len(stored) == len(kept)
    key = next(iter(kept))
    lookalike = (key[0], key[1], key[2], key[3] + 1, *key[4:])  # another glyph index
    stored._rows[hash(lookalike)] = stored._rows[hash(key)]  # as if their hashes met
    assert stored.pop(lookalike) is None
    for key, (bitmap, left, top) in kept.items():
        got = stored.pop(key)
        assert np.array_equal(got[0], bitmap) and got[1:] == (left, top)
        assert got[0].flags.writeable
    assert stored.pop(key, "gone") == "gone" and len(stored) == 1  # the planted alias


def test_a_process_stores_what_it_used_then_the_rest_of_what_it_read(store):
    """Glyphs read as a StoredGlyphs: the ones taken are written first, the others after
    them from the arrays, each once."""
    _pixels(_text_figure(11), GlyphCachingRenderer)
    glyph_store.save(_caches())
    order = [k for k in glyphs._glyphs if isinstance(k[0], str)]
    glyphs.clear_caches()
    layouts, stored, metrics = glyph_store.read()
    used = {key: stored.pop(key) for key in order[-5:]}
    assert glyph_store.save(({}, used, {}), (layouts, stored, metrics))
    _, again, _ = glyph_store.read()
    assert [again._key(i) for i in range(len(again))] == order[-5:] + order[:-5]
