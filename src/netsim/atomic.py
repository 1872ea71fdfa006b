"""Safe outputs: complete or absent, locked while written, never over what netsim did not write.

Three context managers, from low to high level:

:func:`atomic_file`
    Write one file beside its destination and rename it into place.  No
    ownership check: for paths the caller already owns (inside a guarded
    output, or a library call with an explicit path).
:func:`output_directory`
    A guarded output directory (``netsim run``, ``stats``, ``sweep --out DIR``).
:func:`output_files`, :func:`output_file`
    Guarded single files (``netsim krige``, ``map``, ``schema --out FILE``).

Rules of the guarded outputs
----------------------------
Ownership
    A directory is a netsim output when it holds :data:`MARKER_NAME`, written
    last, which lists every file netsim put there with its size in bytes.  A
    loose file is netsim's when :data:`FILES_MANIFEST_NAME` in its folder (or
    the marker of an enclosing output directory) lists it with its current
    size; a file whose size changed since is treated as the user's.
Targets
    A missing path or an empty folder is written.  A previous netsim output
    is replaced only with ``overwrite=True`` and only if everything in it is
    netsim's.  Anything else, the working directory or one of its parents, a
    file where a folder is expected (or the reverse) and symbolic links are
    refused with a one-line :class:`~netsim.errors.OutputError`.
Lock
    ``.NAME.netsim-lock`` beside the target is ``flock``-ed for the whole
    write and holds the writer's pid, host, command and start time, so a second
    writer's error names the holder.  The kernel releases the lock when the
    process dies, however it dies.
Scratch and recovery
    The new output is built in ``.NAME.netsim-PID-HOST-XXXXXXXX.part`` and a
    replaced directory is parked in ``...old`` between the two renames of the
    swap.  Holding the lock, a writer removes the scratch of dead processes of
    this host, and if the target is missing while a dead process's ``.old``
    exists (killed between the renames), restores it first.
Preflight
    The lock, the scratch directory and a probe file are created on entry,
    before the caller computes anything, so a read-only, full or busy
    destination fails in seconds.  ``ENOSPC``, ``EDQUOT``, ``EROFS``,
    ``EACCES``/``EPERM`` and ``ENAMETOOLONG`` on the output become one-line
    :class:`~netsim.errors.OutputError` messages.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from netsim.errors import OutputError

__all__ = [
    "FILES_MANIFEST_NAME",
    "LOCK_SUFFIX",
    "MARKER_NAME",
    "OutputMarker",
    "Writer",
    "atomic_file",
    "check_output_directory",
    "output_directory",
    "output_file",
    "output_files",
    "read_output_marker",
]

#: Written last inside every output directory netsim creates (JSON, :class:`OutputMarker`).
MARKER_NAME = ".netsim-output.json"
#: In a folder receiving single files: ``{"files": {name: {"size", "written", "command"}}}``.
FILES_MANIFEST_NAME = ".netsim-files.json"
#: Lock file ``.NAME.netsim-lock`` beside the target ``NAME``.
LOCK_SUFFIX = ".netsim-lock"

_SCRATCH_RE = re.compile(
    r"^\.(?P<name>.+)\.netsim-(?P<pid>\d+)-(?P<host>[A-Za-z0-9-]*)-(?P<rand>[0-9a-z_]{8})"
    r"\.(?P<kind>part|old)$"
)
_LOCK_RE = re.compile(r"^\..+\.netsim-lock$")
_NAME_HOST = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname().split(".")[0])[:32]
_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_FORBIDDEN = (errno.EACCES, errno.EPERM)


# ----------------------------------------------------------------------------- who writes


def _command_line() -> str:
    argv = sys.argv or ["python"]
    words = [Path(argv[0]).name, *argv[1:]]
    return shlex.join(words)[:300]


@dataclass(frozen=True)
class Writer:
    """The process writing an output, as recorded in locks and markers."""

    pid: int
    host: str
    command: str
    started: str

    @classmethod
    def current(cls, command: str | None = None) -> Writer:
        """This process; ``command`` defaults to the command line (``netsim run ...``)."""
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=command or _command_line(),
            started=time.strftime("%Y-%m-%d %H:%M:%S %z"),
        )

    def describe(self) -> str:
        """``pid 123 on host, `netsim run ...`, started 2025-01-01 12:00:00 +0800``."""
        return f"pid {self.pid} on {self.host}, `{self.command}`, started {self.started}"


@dataclass(frozen=True)
class OutputMarker:
    """Contents of :data:`MARKER_NAME`: who wrote an output directory and what is in it.

    ``files`` maps each file's POSIX path relative to the directory to its size
    in bytes; ``dirs`` lists the sub-directories.  ``complete`` is False in the
    probe written when the scratch directory is created.
    """

    netsim_version: str
    command: str
    created: str
    pid: int
    host: str
    complete: bool
    files: dict[str, int] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)


def read_output_marker(directory: str | os.PathLike[str]) -> OutputMarker | None:
    """The marker of a netsim output directory, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(directory) / MARKER_NAME).read_text(encoding="utf-8"))
        known = {f.name for f in fields(OutputMarker)}
        marker = OutputMarker(**{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return marker if isinstance(marker.files, dict) else None


def _write_marker(directory: Path, writer: Writer, *, complete: bool) -> None:
    from netsim import __version__

    files: dict[str, int] = {}
    dirs: list[str] = []
    if complete:
        for root, dirnames, filenames in os.walk(directory):
            rel_root = Path(root).relative_to(directory)
            dirs += [(rel_root / d).as_posix() for d in dirnames]
            for name in filenames:
                if not (rel_root == Path(".") and name == MARKER_NAME):
                    files[(rel_root / name).as_posix()] = os.lstat(Path(root) / name).st_size
    marker = OutputMarker(
        netsim_version=__version__, command=writer.command, created=writer.started,
        pid=writer.pid, host=writer.host, complete=complete, files=files, dirs=sorted(dirs),
    )
    (directory / MARKER_NAME).write_text(json.dumps(asdict(marker), indent=1), encoding="utf-8")


def _read_manifest(folder: Path) -> dict[str, int]:
    """Loose files netsim wrote in ``folder``: name -> size in bytes."""
    try:
        data = json.loads((folder / FILES_MANIFEST_NAME).read_text(encoding="utf-8"))
        return {str(k): int(v["size"]) for k, v in data["files"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


# ----------------------------------------------------------------------------- ownership


def _is_netsim_scratch(name: str) -> bool:
    return bool(_SCRATCH_RE.match(name) or _LOCK_RE.match(name))


def _foreign_entries(directory: Path, marker: OutputMarker | None) -> list[str]:
    """Paths under ``directory`` (relative, POSIX) that netsim did not write."""
    listed = marker.files if marker else {}
    listed_dirs = set(marker.dirs) if marker else set()
    foreign: list[str] = []
    for root, dirnames, filenames in os.walk(directory):
        here = Path(root)
        rel_root = here.relative_to(directory)
        loose = _read_manifest(here)
        for d in list(dirnames):
            rel = (rel_root / d).as_posix()
            if _is_netsim_scratch(d) and not (here / d).is_symlink():
                dirnames.remove(d)
            elif rel not in listed_dirs or (here / d).is_symlink():
                foreign.append(rel)
                dirnames.remove(d)
        for name in filenames:
            rel = (rel_root / name).as_posix()
            if name in (MARKER_NAME, FILES_MANIFEST_NAME) or _is_netsim_scratch(name):
                continue
            st = os.lstat(here / name)
            if os.path.islink(here / name) or st.st_size not in (listed.get(rel), loose.get(name)):
                foreign.append(rel)
    return sorted(foreign)


def _file_written_by_netsim(path: Path) -> bool:
    """Whether ``path`` is listed, with its current size, by a manifest or an output marker."""
    size = path.lstat().st_size
    if _read_manifest(path.parent).get(path.name) == size:
        return True
    for ancestor in path.parents:
        marker = read_output_marker(ancestor)
        if marker is not None:
            return marker.files.get(path.relative_to(ancestor).as_posix()) == size
    return False


def _some(paths: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(paths[:n])
    return shown + (f" and {len(paths) - n} more" if len(paths) > n else "")


# ----------------------------------------------------------------------------- errors


def _output_error(exc: OSError, target: Path, scratch_root: Path) -> OutputError | None:
    """A one-line error for an OS error met while writing ``target``; None if not a write error."""
    where = exc.filename or target
    if exc.errno in _SPACE:
        return OutputError(
            f"{target}: no space left on the device (writing {where}); free some space or "
            "choose --out on another disk; nothing was written"
        )
    if exc.errno == errno.EROFS:
        return OutputError(f"{target}: the file system is read-only; choose a writable --out")
    if exc.filename is None:
        on_output = True
    else:
        failed = Path(os.path.abspath(exc.filename))
        on_output = failed.is_relative_to(scratch_root) or target.is_relative_to(failed)
    if exc.errno in _FORBIDDEN and on_output:
        return OutputError(
            f"{target}: permission denied (writing {where}); choose a folder you can write to"
        )
    if exc.errno == errno.ENAMETOOLONG:
        return OutputError(f"{target}: file name too long; choose a shorter --out")
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and on_output:
        return OutputError(f"{target}: {exc.strerror} ({where}); choose another --out")
    return None


@contextlib.contextmanager
def _one_line_os_errors(target: Path) -> Iterator[None]:
    """Turn disk-full, read-only and permission errors on the output into :class:`OutputError`."""
    try:
        yield
    except OSError as exc:
        error = _output_error(exc, target, target.parent)
        if error is None:
            raise
        raise error from exc


# ----------------------------------------------------------------------------- lock


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, dead but not yet reaped by
    its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:  # no /proc (not Linux), or it just ended
        return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    here = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (here.st_dev, here.st_ino)


def _holder(fd: int) -> str:
    """Who holds the lock file ``fd``; waits up to 0.5 s for a new holder to record itself."""
    for _ in range(25):
        try:
            return Writer(**json.loads(os.pread(fd, 65536, 0))).describe()
        except (OSError, ValueError, TypeError):
            time.sleep(0.02)
    return "holder unknown"


@contextlib.contextmanager
def _locked(target: Path, writer: Writer, *, blocking: bool = False) -> Iterator[None]:
    """Hold ``.NAME.netsim-lock`` beside ``target``; the lock file is removed on release.

    A waiter that locked a file its previous holder already removed sees a
    different inode at the path and tries again, so removing is safe.
    """
    lock_path = target.parent / f".{target.name}{LOCK_SUFFIX}"
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise OutputError(
                f"{target}: another netsim process is writing it ({holder}); wait for it to "
                "finish or choose another --out"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, lock_path):
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(writer)).encode(), 0)
        yield
    finally:
        if _same_file(fd, lock_path):
            os.unlink(lock_path)
        os.close(fd)


# ----------------------------------------------------------------------------- scratch


def _scratch_name(target_name: str, kind: str) -> str:
    return f".{target_name}.netsim-{os.getpid()}-{_NAME_HOST}-{secrets.token_hex(4)}.{kind}"


def _dead_scratch(parent: Path, target_name: str) -> list[tuple[Path, str]]:
    """Scratch entries for ``target_name`` left by dead processes of this host."""
    prefix = f".{target_name}.netsim-"
    found = []
    for entry in os.scandir(parent):
        m = _SCRATCH_RE.match(entry.name) if entry.name.startswith(prefix) else None
        if m is None or m["name"] != target_name or m["host"] != _NAME_HOST:
            continue
        pid = int(m["pid"])
        st = entry.stat(follow_symlinks=False)
        if pid != os.getpid() and not _alive_since(pid, max(st.st_mtime, st.st_ctime)):
            found.append((Path(entry.path), m["kind"]))
    return found


def _process_start(pid: int) -> float | None:
    """Start time of process ``pid`` (seconds since the epoch; Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _alive_since(pid: int, mtime: float) -> bool:
    """Whether the process that wrote an entry last changed at ``mtime`` may still be running.

    False when no process ``pid`` exists, or when the one that does started
    after the entry was last written (the pid was reused).
    """
    if not process_alive(pid):
        return False
    started = _process_start(pid)
    return started is None or started <= mtime + 2.0


def _remove_scratch(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove_netsim_output(directory: Path) -> bool:
    """Delete a parked netsim output if everything in it is netsim's; return whether it went."""
    marker = read_output_marker(directory)
    if marker is None or _foreign_entries(directory, marker):
        return False
    shutil.rmtree(directory)
    return True


def _recover(target: Path) -> None:
    """Holding the lock: restore an output lost between the swap's renames; drop dead scratch."""
    stale = _dead_scratch(target.parent, target.name)
    parked = [p for p, kind in stale if kind == "old" and p.is_dir()]
    if parked and not os.path.lexists(target):
        newest = max(parked, key=lambda p: (read_output_marker(p) or _EMPTY).created)
        os.rename(newest, target)
        parked.remove(newest)
    for path, kind in stale:
        if kind == "part":
            _remove_scratch(path)
    for path in parked:
        _remove_netsim_output(path)


_EMPTY = OutputMarker("", "", "", 0, "", False)


@contextlib.contextmanager
def _parents_made(target: Path, *, keep: bool = True) -> Iterator[None]:
    """Create ``target``'s missing parents; remove those still empty if the block fails.

    With ``keep=False`` they are removed (when empty) on success too.
    """
    missing = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    succeeded = False
    try:
        yield
        succeeded = True
    finally:
        if not (succeeded and keep):
            for p in missing:  # deepest first
                with contextlib.suppress(OSError):
                    p.rmdir()


def _umask() -> int:
    """The process umask (read without changing it for longer than a call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------- files


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    Low level: replaces whatever is at ``path``.  Commands writing where the
    user points use :func:`output_file` instead.

    Parameters
    ----------
    path
        Final destination of the file.  Its parent directory is created.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.name}.netsim-{os.getpid()}-{_NAME_HOST}-", suffix=".part",
        dir=final.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _file_targets(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    finals = [Path(os.path.abspath(Path(p).expanduser())) for p in paths]
    if not finals:
        raise OutputError("no output file given")
    for i, f in enumerate(finals):
        if f in finals[:i]:
            raise OutputError(f"{f}: would be written twice; choose another --out")
    return finals


def _check_file_target(final: Path, overwrite: bool) -> None:
    if final.is_symlink():
        raise OutputError(f"{final}: is a symbolic link; give the real path or a new file name")
    if not final.exists():
        return
    if final.is_dir():
        raise OutputError(f"{final}: is a folder; give a file path for this output instead")
    if not _file_written_by_netsim(final):
        raise OutputError(
            f"{final}: exists and netsim did not write it (or it changed since); choose "
            "another --out (netsim never replaces files it did not write)"
        )
    if not overwrite:
        raise OutputError(
            f"{final}: exists (a previous netsim output); pass --overwrite to replace it, "
            "or choose another --out"
        )


def _record_files(written: list[Path], writer: Writer) -> None:
    """Add ``written`` (name, size) to :data:`FILES_MANIFEST_NAME` of their folders."""
    for folder in sorted({f.parent for f in written}):
        manifest_path = folder / FILES_MANIFEST_NAME
        with _locked(manifest_path, writer, blocking=True):
            try:
                data = json.loads(manifest_path.read_text(encoding="utf-8"))
                entries = dict(data["files"])
            except (OSError, ValueError, TypeError, KeyError):
                entries = {}
            for f in written:
                if f.parent == folder:
                    entries[f.name] = {"size": f.stat().st_size, "written": writer.started,
                                       "command": writer.command}
            entries = {k: v for k, v in entries.items() if (folder / k).is_file()}
            with atomic_file(manifest_path) as tmp:
                tmp.write_text(json.dumps({"files": entries}, indent=1, sort_keys=True),
                               encoding="utf-8")


@contextlib.contextmanager
def output_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    overwrite: bool = False,
    command: str | None = None,
) -> Iterator[list[Path]]:
    """Guard single output files; yield temporary paths to write, moved into place on success.

    On entry (before the caller computes anything) every target is locked,
    checked and a scratch folder is created beside it.  On success each
    temporary path that was written replaces its target and is recorded in
    :data:`FILES_MANIFEST_NAME`; unwritten temporary paths are skipped.

    Parameters
    ----------
    paths
        Final file paths (parent folders are created).
    overwrite
        Replace a file netsim wrote earlier.  A file netsim did not write is
        never replaced.
    command
        Recorded in locks and the manifest (default: this command line).

    Raises
    ------
    OutputError
        A target that is a folder, a symbolic link, a file netsim did not write
        (or, without ``overwrite``, one it did), busy with another netsim
        process, or not writable (read-only, full, forbidden).
    """
    finals = _file_targets(paths)
    writer = Writer.current(command)
    with contextlib.ExitStack() as stack:
        stack.enter_context(_one_line_os_errors(finals[0]))
        for final in finals:
            stack.enter_context(_parents_made(final))
        for final in sorted(finals):
            stack.enter_context(_locked(final, writer))
        scratch: dict[Path, Path] = {}
        for final in finals:
            _recover(final)
            _check_file_target(final, overwrite)
            if final.parent not in scratch:
                scratch[final.parent] = final.parent / _scratch_name(final.name, "part")
                os.mkdir(scratch[final.parent])
                stack.callback(_remove_scratch, scratch[final.parent])
        temps = [scratch[f.parent] / f.name for f in finals]
        yield temps
        written = []
        for final, tmp in zip(finals, temps, strict=True):
            if tmp.exists():
                _check_file_target(final, overwrite)
                os.chmod(tmp, 0o666 & ~_umask())
                os.replace(tmp, final)
                written.append(final)
        _record_files(written, writer)


@contextlib.contextmanager
def output_file(
    path: str | os.PathLike[str], *, overwrite: bool = False, command: str | None = None
) -> Iterator[Path]:
    """:func:`output_files` for one file: yield its temporary path."""
    with output_files([path], overwrite=overwrite, command=command) as (tmp,):
        yield tmp


# ----------------------------------------------------------------------------- directories


def _directory_target(path: str | os.PathLike[str]) -> Path:
    """The absolute target; refuses the working directory and its parents."""
    final = Path(os.path.abspath(Path(path).expanduser()))
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        cwd = None
    real = final.resolve()
    if final.parent == final or (cwd is not None and (real == cwd or real in cwd.parents)):
        raise OutputError(
            f"--out {os.fspath(path)}: is the working directory or one of its parents; netsim "
            "replaces its output folder as a whole, so give a new folder, e.g. --out runs/NAME"
        )
    return final


def _check_directory_target(final: Path, overwrite: bool) -> str:
    """``"missing"``, ``"empty"`` or ``"netsim"`` (replaceable); raise for anything else."""
    if final.is_symlink():
        raise OutputError(f"{final}: is a symbolic link; give the real path or a new folder")
    if not final.exists():
        return "missing"
    if not final.is_dir():
        raise OutputError(
            f"{final}: exists and is a file, not a folder; choose another --out (netsim never "
            "deletes what it did not write)"
        )
    if not any(os.scandir(final)):
        return "empty"
    marker = read_output_marker(final)
    foreign = _foreign_entries(final, marker)
    if marker is None:
        raise OutputError(
            f"{final}: folder is not empty and netsim did not write it ({_some(foreign)}); "
            "choose a new or empty folder (netsim never deletes what it did not write)"
        )
    if foreign:
        raise OutputError(
            f"{final}: a previous netsim output that now also holds files netsim did not write "
            f"({_some(foreign)}); move them out or choose another --out"
        )
    if not overwrite:
        raise OutputError(
            f"{final}: holds a previous netsim output (`{marker.command}`, {marker.created}); "
            "pass --overwrite to replace it, or choose another --out"
        )
    return "netsim"


def _swap_in(tmp: Path, final: Path, overwrite: bool) -> None:
    """Move the complete ``tmp`` to ``final``, parking a replaced output in ``.old`` meanwhile."""
    if _check_directory_target(final, overwrite) != "netsim":
        os.rename(tmp, final)  # target missing, or an empty folder replaced
        return
    parked = final.parent / _scratch_name(final.name, "old")
    os.rename(final, parked)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(parked, final)
        raise
    _remove_netsim_output(parked)


@contextlib.contextmanager
def output_directory(
    path: str | os.PathLike[str], *, overwrite: bool = False, command: str | None = None
) -> Iterator[Path]:
    """Guard an output directory; yield a scratch directory moved to ``path`` on success.

    Enter it before computing: the target is locked, leftovers of dead
    processes are recovered or removed, the target is checked (see the module
    docstring) and the scratch directory is created with a probe file.  On
    success :data:`MARKER_NAME` listing every file is written and the scratch
    directory replaces the target; on any failure (exception, Ctrl-C) the
    scratch directory is removed and an existing target is left as it was.

    Parameters
    ----------
    path
        Final directory (parent folders are created).
    overwrite
        Replace a previous netsim output.  A folder holding anything netsim did
        not write is never replaced.
    command
        Recorded in the lock and the marker (default: this command line).

    Raises
    ------
    OutputError
        The working directory or a parent of it, a file or symbolic link, a
        non-empty folder netsim did not write, a previous output without
        ``overwrite``, a target another netsim process is writing, or a
        destination that is read-only, full or forbidden.
    """
    final = _directory_target(path)
    writer = Writer.current(command)
    with _one_line_os_errors(final), _parents_made(final), _locked(final, writer):
        _recover(final)
        _check_directory_target(final, overwrite)
        tmp = final.parent / _scratch_name(final.name, "part")
        os.mkdir(tmp)
        try:
            _write_marker(tmp, writer, complete=False)
            yield tmp
            _write_marker(tmp, writer, complete=True)
            os.chmod(tmp, 0o777 & ~_umask())
            _swap_in(tmp, final, overwrite)
        finally:
            _remove_scratch(tmp)


def check_output_directory(
    path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Fail now, with the error :func:`output_directory` would raise, if ``path`` can't be written.

    Takes and releases the lock and creates and removes a probe directory;
    leaves the target as it was (recovering a killed swap).  Returns the
    absolute target.
    """
    final = _directory_target(path)
    writer = Writer.current()
    with (
        _one_line_os_errors(final),
        _parents_made(final, keep=False),
        _locked(final, writer),
    ):
        _recover(final)
        _check_directory_target(final, overwrite)
        probe = final.parent / _scratch_name(final.name, "part")
        os.mkdir(probe)
        try:
            _write_marker(probe, writer, complete=False)
        finally:
            _remove_scratch(probe)
    return final
