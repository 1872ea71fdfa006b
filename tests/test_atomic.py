"""Safe outputs (netsim.atomic): whole or absent, locked, never over what netsim did not write."""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from netsim import atomic
from netsim.atomic import (
    FILES_MANIFEST_NAME,
    LOCK_SUFFIX,
    MARKER_NAME,
    atomic_file,
    check_output_directory,
    output_directory,
    output_file,
    output_files,
    read_output_marker,
)
from netsim.errors import OutputError


def _netsim_output(path: Path, files: dict[str, str], *, overwrite: bool = False) -> None:
    with output_directory(path, overwrite=overwrite) as tmp:
        for rel, text in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under ``root``: bytes, mode and mtime (ns)."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[p.relative_to(root).as_posix()] = (
            p.read_bytes() if p.is_file() else b"", st.st_mode, st.st_mtime_ns)
    return out


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def _scratch(parent: Path, target: str, pid: int, kind: str) -> Path:
    return parent / f".{target}.netsim-{pid}-{atomic._NAME_HOST}-0123abcd.{kind}"


def _entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


# ----------------------------------------------------------------------------- atomic_file


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


# ----------------------------------------------------------------------------- directories


def test_new_directory_gets_a_marker_listing_its_files(tmp_path):
    target = tmp_path / "run"
    with output_directory(target, command="netsim run x.yaml") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".part")
        (tmp / "a.csv").write_text("abc")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("hello")
        assert not target.exists()
    marker = read_output_marker(target)
    assert marker is not None and marker.complete
    assert marker.command == "netsim run x.yaml" and marker.pid == os.getpid()
    assert marker.files == {"a.csv": 3, "sub/b.txt": 5} and marker.dirs == ["sub"]
    assert _entries(tmp_path) == ["run"]  # no lock file, no scratch left


def test_foreign_folder_is_refused_and_its_files_kept(tmp_path):
    """A folder netsim did not write is never replaced, even with overwrite."""
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("my notes\n")
    (target / "data").mkdir()
    (target / "data" / "x.csv").write_bytes(b"1,2\n")
    before = _snapshot(target)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match=r"netsim did not write it \(data, notes.txt\)"):
            _netsim_output(target, {"a.csv": "new"}, overwrite=overwrite)
    assert _snapshot(target) == before
    assert _entries(tmp_path) == ["mine"]


def test_empty_folder_is_accepted(tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    _netsim_output(target, {"a.csv": "x"})
    assert _entries(target) == [MARKER_NAME, "a.csv"]


def test_previous_output_is_replaced_only_with_overwrite(tmp_path):
    target = tmp_path / "run"
    _netsim_output(target, {"old.csv": "old"})
    before = _snapshot(target)
    with pytest.raises(OutputError, match=r"previous netsim output.*pass --overwrite"):
        _netsim_output(target, {"new.csv": "new"})
    assert _snapshot(target) == before
    _netsim_output(target, {"new.csv": "new"}, overwrite=True)
    assert _entries(target) == [MARKER_NAME, "new.csv"]
    assert _entries(tmp_path) == ["run"]


def test_interrupted_overwrite_keeps_the_previous_output(tmp_path):
    target = tmp_path / "run"
    _netsim_output(target, {"old.csv": "old"})
    before = _snapshot(target)
    with pytest.raises(KeyboardInterrupt), output_directory(target, overwrite=True) as tmp:
        (tmp / "new.csv").write_text("new")
        raise KeyboardInterrupt
    assert _snapshot(target) == before
    assert _entries(tmp_path) == ["run"]


def test_previous_output_with_a_user_file_is_not_replaced(tmp_path):
    target = tmp_path / "run"
    _netsim_output(target, {"report.md": "netsim"})
    (target / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"files netsim did not write \(notes.txt\)"):
        _netsim_output(target, {"x": "y"}, overwrite=True)
    assert (target / "notes.txt").read_text() == "mine"


def test_edited_output_file_counts_as_the_users(tmp_path):
    target = tmp_path / "run"
    _netsim_output(target, {"report.md": "netsim wrote this"})
    (target / "report.md").write_text("netsim wrote this, and I added a line\n")
    with pytest.raises(OutputError, match=r"did not write \(report.md\)"):
        _netsim_output(target, {"x": "y"}, overwrite=True)


def test_user_file_added_during_the_write_stops_the_swap(tmp_path):
    target = tmp_path / "run"
    _netsim_output(target, {"a.csv": "old"})
    with pytest.raises(OutputError, match=r"notes\.txt"), \
            output_directory(target, overwrite=True) as tmp:
        (tmp / "a.csv").write_text("new")
        (target / "notes.txt").write_text("added meanwhile")
    assert (target / "notes.txt").read_text() == "added meanwhile"
    assert (target / "a.csv").read_text() == "old"
    assert _entries(tmp_path) == ["run"]


def test_existing_file_is_refused_as_a_directory(tmp_path):
    target = tmp_path / "out"
    target.write_text("a file")
    with pytest.raises(OutputError, match="exists and is a file, not a folder"):
        _netsim_output(target, {"a": "b"}, overwrite=True)
    assert target.read_text() == "a file"
    assert _entries(tmp_path) == ["out"]


@pytest.mark.parametrize("relative", [".", "..", "sub/.."])
def test_working_directory_and_its_parents_are_refused(tmp_path, monkeypatch, relative):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    with pytest.raises(OutputError, match="is the working directory or one of its parents"):
        _netsim_output(Path(relative), {"a": "b"}, overwrite=True)
    assert _entries(tmp_path) == ["work"]
    assert _entries(work) == ["notes.txt", "sub"]


def test_symbolic_link_is_refused(tmp_path):
    real = tmp_path / "real"
    _netsim_output(real, {"a": "b"})
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(OutputError, match="symbolic link"):
        _netsim_output(tmp_path / "link", {"a": "c"}, overwrite=True)
    assert (real / "a").read_text() == "b"


def test_missing_parents_are_created_and_removed_again_on_failure(tmp_path):
    with pytest.raises(RuntimeError), output_directory(tmp_path / "a" / "b" / "run"):
        raise RuntimeError
    assert _entries(tmp_path) == []
    _netsim_output(tmp_path / "a" / "b" / "run", {"x": "y"})
    assert (tmp_path / "a" / "b" / "run" / "x").read_text() == "y"


def test_check_output_directory_leaves_everything_as_it_was(tmp_path):
    check_output_directory(tmp_path / "new" / "run")
    assert _entries(tmp_path) == []
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "f").write_text("x")
    with pytest.raises(OutputError, match="netsim did not write it"):
        check_output_directory(tmp_path / "foreign")


def test_outputs_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "f.txt") as tmp:
            tmp.write_text("x")
        with output_directory(tmp_path / "d"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


# ----------------------------------------------------------------------------- leftovers


def test_stale_scratch_of_a_dead_process_is_removed(tmp_path):
    dead = _dead_pid()
    part = _scratch(tmp_path, "run", dead, "part")
    part.mkdir()
    (part / "half.csv").write_text("half")
    temp_file = tmp_path / f".run.netsim-{dead}-{atomic._NAME_HOST}-abc_1234.part"
    temp_file.write_text("half")
    live = _scratch(tmp_path, "run", os.getppid(), "part")  # a live process: kept
    live.mkdir()
    other = _scratch(tmp_path, "other", dead, "part")  # another target: kept
    other.mkdir()
    _netsim_output(tmp_path / "run", {"a": "b"})
    assert _entries(tmp_path) == sorted([live.name, other.name, "run"])


def test_a_reused_pid_is_not_taken_for_the_writer():
    """A live pid that started after the scratch was last written is not its writer."""
    if atomic._process_start(os.getpid()) is None:
        pytest.skip("no /proc start times")
    now = time.time()
    assert atomic._alive_since(os.getpid(), now)
    assert not atomic._alive_since(os.getpid(), now - 30 * 24 * 3600)
    assert not atomic._alive_since(_dead_pid(), now)


def test_killed_writer_leftovers_are_cleaned_by_the_next_write(tmp_path):
    """SIGKILL in the middle of a write: scratch and lock stay; the next writer removes them."""
    target = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from netsim.atomic import output_directory
        with output_directory({str(target)!r}) as tmp:
            (tmp / "half.csv").write_text("half")
            print("ready", flush=True)
            time.sleep(600)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    left = _entries(tmp_path)
    assert any(n.endswith(".part") for n in left) and f".run{LOCK_SUFFIX}" in left
    _netsim_output(target, {"a.csv": "complete"})
    assert _entries(tmp_path) == ["run"]
    assert _entries(target) == [MARKER_NAME, "a.csv"]


def test_kill_between_the_two_renames_is_recovered(tmp_path):
    """Killed after parking the old output and before moving the new one in: restored."""
    target = tmp_path / "run"
    _netsim_output(target, {"old.csv": "old output", "sub/x.csv": "x"})
    before = _snapshot(target)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        real_rename = os.rename
        def rename(src, dst):
            real_rename(src, dst)
            if str(dst).endswith(".old"):
                os.kill(os.getpid(), signal.SIGKILL)
        os.rename = rename
        from netsim.atomic import output_directory
        with output_directory({str(target)!r}, overwrite=True) as tmp:
            (tmp / "new.csv").write_text("new output")
        """)], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not target.exists()
    assert any(n.endswith(".old") for n in _entries(tmp_path))
    with pytest.raises(OutputError, match="previous netsim output"):
        _netsim_output(target, {"new.csv": "new"})  # restores, then asks for --overwrite
    assert _snapshot(target) == before
    assert _entries(tmp_path) == ["run"]
    _netsim_output(target, {"new.csv": "new"}, overwrite=True)
    assert _entries(target) == [MARKER_NAME, "new.csv"]


def test_killed_after_the_swap_the_parked_output_is_removed(tmp_path):
    """Killed after both renames: the parked previous output goes, unless it holds user files."""
    target = tmp_path / "run"
    _netsim_output(target, {"new.csv": "new"})
    dead = _dead_pid()
    parked = _scratch(tmp_path, "run", dead, "old")
    _netsim_output(tmp_path / "previous", {"old.csv": "old"})
    os.rename(tmp_path / "previous", parked)
    keep = tmp_path / f".run.netsim-{dead}-{atomic._NAME_HOST}-9999abcd.old"
    _netsim_output(tmp_path / "previous", {"old.csv": "old"})
    (tmp_path / "previous" / "notes.txt").write_text("mine")
    os.rename(tmp_path / "previous", keep)
    _netsim_output(target, {"newer.csv": "newer"}, overwrite=True)
    assert _entries(tmp_path) == sorted([keep.name, "run"])
    assert (keep / "notes.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- the lock


_HOLD = """
import sys, time
from netsim.atomic import output_directory
with output_directory(sys.argv[1], command="netsim run holder.yaml") as tmp:
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_second_writer_is_told_who_holds_the_output(tmp_path):
    target = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(target), "600"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(OutputError) as info:
            _netsim_output(target, {"a": "b"}, overwrite=True)
        message = str(info.value)
        assert "another netsim process is writing it" in message
        assert f"pid {holder.pid} on " in message and "`netsim run holder.yaml`" in message
        assert "\n" not in message
    finally:
        holder.terminate()
        holder.wait(timeout=60)


_RACE = """
import sys, time
from netsim.atomic import output_directory
from netsim.errors import OutputError
target, rounds = sys.argv[1], int(sys.argv[2])
done = busy = 0
for i in range(rounds):
    try:
        with output_directory(target, overwrite=True) as tmp:
            for k in range(4):
                (tmp / f"f{k}.txt").write_text(f"{sys.argv[3]}-{i}")
            time.sleep(0.005)
        done += 1
    except OutputError as exc:
        assert "another netsim process is writing it (pid" in str(exc), exc
        busy += 1
print(done, busy)
"""


def test_concurrent_writers_never_mix_outputs_or_leave_debris(tmp_path):
    """Several processes writing one target: each write is whole or refused, nothing stray."""
    target = tmp_path / "run"
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(target), "25", f"w{n}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0 and err == "", err
    done = sum(int(out.split()[0]) for out, _ in results)
    busy = sum(int(out.split()[1]) for out, _ in results)
    assert done >= 1 and done + busy == 100
    assert _entries(tmp_path) == ["run"]
    texts = {(target / f"f{k}.txt").read_text() for k in range(4)}
    assert len(texts) == 1  # all four files from the same write
    size = len(texts.pop())
    assert read_output_marker(target).files == {f"f{k}.txt": size for k in range(4)}


# ----------------------------------------------------------------------------- OS errors


def test_disk_full_inside_the_write_is_one_line_and_keeps_the_old_output(tmp_path):
    target = tmp_path / "run"
    _netsim_output(target, {"old.csv": "old"})
    before = _snapshot(target)
    with pytest.raises(OutputError) as info, output_directory(target, overwrite=True) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "big.tif"))
    message = str(info.value)
    assert "no space left on the device" in message and "big.tif" in message
    assert "\n" not in message
    assert isinstance(info.value.__cause__, OSError)
    assert _snapshot(target) == before
    assert _entries(tmp_path) == ["run"]


@pytest.mark.parametrize(("code", "phrase"), [
    (errno.EROFS, "the file system is read-only"),
    (errno.ENOSPC, "no space left on the device"),
    (errno.EACCES, "permission denied"),
])
def test_unwritable_destination_fails_on_entry(tmp_path, monkeypatch, code, phrase):
    """The lock file cannot be created: the error comes before the body runs."""
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if str(path).endswith(LOCK_SUFFIX):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "open", refuse)
    ran = []
    with pytest.raises(OutputError, match=phrase), output_directory(tmp_path / "run"):
        ran.append(True)
    assert ran == []
    assert _entries(tmp_path) == []


def test_permission_error_reading_an_input_is_not_blamed_on_the_output(tmp_path):
    elsewhere = tmp_path.parent / "some_input.csv"
    with pytest.raises(PermissionError), output_directory(tmp_path / "run"):
        raise PermissionError(errno.EACCES, "Permission denied", str(elsewhere))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_fails_on_entry(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="permission denied"), \
                output_directory(ro / "run"):
            pytest.fail("the body must not run")
    finally:
        ro.chmod(0o755)
    assert _entries(ro) == []


# ----------------------------------------------------------------------------- single files


def _write(path: Path, text: str, *, overwrite: bool = False) -> None:
    with output_file(path, overwrite=overwrite) as tmp:
        tmp.write_text(text)


def test_new_file_is_recorded_in_the_folder_manifest(tmp_path):
    _write(tmp_path / "map.html", "<html>")
    assert (tmp_path / "map.html").read_text() == "<html>"
    manifest = json.loads((tmp_path / FILES_MANIFEST_NAME).read_text())
    assert manifest["files"]["map.html"]["size"] == 6
    assert _entries(tmp_path) == [FILES_MANIFEST_NAME, "map.html"]


def test_foreign_file_is_refused_and_kept(tmp_path):
    target = tmp_path / "pm25.tif"
    target.write_bytes(b"someone else's raster")
    before = _snapshot(tmp_path)
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="exists and netsim did not write it"):
            _write(target, "new", overwrite=overwrite)
    assert _snapshot(tmp_path) == before


def test_netsim_file_is_replaced_only_with_overwrite(tmp_path):
    target = tmp_path / "map.html"
    _write(target, "first")
    with pytest.raises(OutputError, match="pass --overwrite"):
        _write(target, "second")
    assert target.read_text() == "first"
    _write(target, "second", overwrite=True)
    assert target.read_text() == "second"
    target.write_text("edited by hand")
    with pytest.raises(OutputError, match="did not write it \\(or it changed since\\)"):
        _write(target, "third", overwrite=True)


def test_file_inside_a_netsim_output_directory_can_be_replaced(tmp_path):
    run = tmp_path / "run"
    _netsim_output(run, {"map.html": "from the run"})
    _write(run / "map.html", "redrawn", overwrite=True)
    _netsim_output(run, {"map.html": "rerun"}, overwrite=True)  # still all netsim's
    assert (run / "map.html").read_text() == "rerun"


def test_folder_where_a_file_is_expected_is_refused(tmp_path):
    (tmp_path / "map.html").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        _write(tmp_path / "map.html", "x", overwrite=True)


def test_several_files_move_in_together_or_not_at_all(tmp_path):
    paths = [tmp_path / "pm25.tif", tmp_path / "pm25_districts.csv", tmp_path / "pm25.png"]
    with pytest.raises(RuntimeError), output_files(paths) as temps:
        for t in temps:
            t.write_text("x")
        raise RuntimeError
    assert _entries(tmp_path) == []
    with output_files(paths) as temps:
        for t in temps:
            t.write_text("x")
    assert _entries(tmp_path) == sorted([FILES_MANIFEST_NAME, *(p.name for p in paths)])
    with pytest.raises(OutputError, match="written twice"):
        output_files([paths[0], paths[0]]).__enter__()
