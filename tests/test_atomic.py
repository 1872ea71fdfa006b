"""Atomic outputs: complete or absent, never half-written."""

from __future__ import annotations

import os
import stat

import pytest

from netsim.atomic import atomic_directory, atomic_file


def test_file_appears_only_when_complete(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with atomic_file(target) as tmp:
        tmp.write_text("partial")
        assert not target.exists()
    assert target.read_text() == "partial"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failed_file_leaves_nothing_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_directory_replaced_only_when_complete(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.csv").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_directory(target) as tmp:
        (tmp / "new.csv").write_text("new")
        raise KeyboardInterrupt
    assert [p.name for p in target.iterdir()] == ["old.csv"]
    with atomic_directory(target) as tmp:
        (tmp / "new.csv").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_directory_refuses_to_overwrite_when_asked(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(FileExistsError), atomic_directory(tmp_path / "run", overwrite=False):
        pass


def test_outputs_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "f.txt") as tmp:
            tmp.write_text("x")
        with atomic_directory(tmp_path / "d"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
