"""The ``netsim`` console script: every fault ends in one line and the right exit status.

Most tests run the real console script in a subprocess (as a user would), with
this checkout's ``netsim`` first on ``PYTHONPATH``.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netsim
from netsim import atomic
from netsim.atomic import LOCK_SUFFIX, MARKER_NAME
from netsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
STATIONS = ROOT / "tests" / "data" / "stations_small.csv"
READINGS = ROOT / "tests" / "data" / "readings_small.csv"
NETSIM = shutil.which("netsim", path=str(Path(sys.executable).parent)) or shutil.which("netsim")

pytestmark = pytest.mark.skipif(NETSIM is None, reason="the netsim console script is not installed")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NETSIM_TRACEBACK"}
    src = str(Path(netsim.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _netsim(*args: str, cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, NETSIM, *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=900)


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([NETSIM, *args], cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _one_line_error(proc: subprocess.CompletedProcess, code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("error: ")
    return lines[0]


def _scenario(tmp: Path, name: str = "tiny", realisations: int = 1) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nbase_network: {STATIONS}\nrealisations: {realisations}\n"
        "pollutants: [PM2.5]\ngrid: {resolution_m: 5000}\noutputs: {maps: false, web_map: false}\n"
    )
    return path


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else b"",
                                             p.lstat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def _wait_for_scratch(proc: subprocess.Popen, folder: Path, timeout_s: float = 600) -> None:
    """Wait until ``proc`` has entered its guarded output (its ``.part`` folder exists)."""
    deadline = time.monotonic() + timeout_s
    while not any(p.name.endswith(".part") and p.is_dir() for p in folder.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.2)


# ----------------------------------------------------------------------------- usage


@pytest.mark.parametrize(("args", "message"), [
    (["run", "X.yaml", "--out", "D", "--zzz", "1"],
     "error: No such option: --zzz; see 'netsim run --help'"),
    (["frobnicate", "a", "b"], "error: No such command 'frobnicate'; see 'netsim --help'"),
    (["krige", "--values", "v.csv"],
     "error: Missing option '--stations'; see 'netsim krige --help'"),
    (["run"], "error: Missing argument 'scenario'; see 'netsim run --help'"),
])
def test_usage_mistakes_are_one_line_with_exit_2(tmp_path, args, message):
    proc = _netsim(*args, cwd=tmp_path)
    assert _one_line_error(proc) == message
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_version_and_help_exit_0(tmp_path):
    assert _netsim("--version", cwd=tmp_path).stdout.strip() == f"netsim {netsim.__version__}"
    helped = _netsim("run", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--overwrite" in helped.stdout


# ----------------------------------------------------------------------------- output safety


@pytest.mark.parametrize("command", ["run", "stats", "sweep"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_out_refuses_a_foreign_folder_and_keeps_its_files(tmp_path, command, overwrite):
    out = tmp_path / "results"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("a user's notes\n")
    (out / "sub" / "data.csv").write_bytes(b"1,2,3\n")
    before = _snapshot(out)
    scenario = str(_scenario(tmp_path))
    args = {
        "run": ["run", scenario],
        "stats": ["stats", "--stations", str(STATIONS), "--readings", str(READINGS),
                  "--year", "2020"],
        "sweep": ["sweep", scenario],
    }[command]
    proc = _netsim(*args, "--out", str(out), *(["--overwrite"] if overwrite else []),
                   cwd=tmp_path)
    line = _one_line_error(proc)
    assert "netsim did not write it (notes.txt, sub)" in line
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "tiny.yaml"]


def test_out_refuses_the_working_directory(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    scenario = _scenario(tmp_path)
    for out in (".", ".."):
        line = _one_line_error(_netsim("run", str(scenario), "--out", out, "--overwrite",
                                       cwd=work))
        assert "is the working directory or one of its parents" in line
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml", "work"]


def test_out_refuses_an_existing_file(tmp_path):
    target = tmp_path / "results"
    target.write_text("not a folder")
    for extra in ([], ["--overwrite"]):
        line = _one_line_error(_netsim("run", str(_scenario(tmp_path)), "--out", str(target),
                                       *extra, cwd=tmp_path))
        assert "exists and is a file, not a folder" in line
    assert target.read_text() == "not a folder"


def test_file_outputs_refuse_files_netsim_did_not_write(tmp_path, capsys):
    schema = tmp_path / "schema.json"
    schema.write_text("mine")
    assert main(["schema", "--out", str(schema), "--overwrite"]) == 2
    assert "exists and netsim did not write it" in capsys.readouterr().err
    assert schema.read_text() == "mine"
    ours = tmp_path / "ours.json"
    assert main(["schema", "--out", str(ours)]) == 0
    assert main(["schema", "--out", str(ours)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["schema", "--out", str(ours), "--overwrite"]) == 0


@pytest.mark.slow
def test_previous_run_is_replaced_only_with_overwrite(tmp_path):
    scenario = _scenario(tmp_path)
    out = tmp_path / "run"
    first = _netsim("run", str(scenario), "--out", str(out), "--seed", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (out / MARKER_NAME).is_file() and (out / "summary.json").is_file()
    before = _snapshot(out)
    line = _one_line_error(_netsim("run", str(scenario), "--out", str(out), cwd=tmp_path))
    assert "holds a previous netsim output" in line and "--overwrite" in line
    assert _snapshot(out) == before
    again = _netsim("run", str(scenario), "--out", str(out), "--seed", "2", "--overwrite",
                    cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert '"seed": 2' in (out / "summary.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "tiny.yaml"]


# ----------------------------------------------------------------------------- signals, locks


def test_ctrl_c_exits_130_and_leaves_nothing(tmp_path):
    run = _start("run", str(_scenario(tmp_path, "slow", 500)), "--out", "out", cwd=tmp_path)
    try:
        _wait_for_scratch(run, tmp_path)
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=300)
    finally:
        run.kill()
    assert run.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "interrupted; no partial output was left behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.yaml"]


def test_second_run_into_the_same_out_names_the_holder(tmp_path):
    scenario = _scenario(tmp_path, "slow", 500)
    first = _start("run", str(scenario), "--out", "out", cwd=tmp_path)
    try:
        _wait_for_scratch(first, tmp_path)
        line = _one_line_error(_netsim("run", str(scenario), "--out", "out", "--overwrite",
                                       cwd=tmp_path))
        assert "another netsim process is writing it" in line
        assert f"(pid {first.pid} on " in line and "`netsim run " in line
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 143, err
    assert err.splitlines()[-1] == "terminated; no partial output was left behind"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.yaml"]


@pytest.mark.slow
def test_leftovers_of_a_killed_run_are_cleaned_by_the_next(tmp_path):
    killed = _start("run", str(_scenario(tmp_path, "slow", 500)), "--out", "out", cwd=tmp_path)
    try:
        _wait_for_scratch(killed, tmp_path)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=60)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert f".out{LOCK_SUFFIX}" in left and any(n.endswith(".part") for n in left)
    proc = _netsim("run", str(_scenario(tmp_path)), "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "slow.yaml", "tiny.yaml"]


def _without_dac_override() -> tuple[str, ...] | None:
    """A command prefix under which directory permissions apply (root ignores them)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search")
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


def test_read_only_output_fails_in_one_line_before_computing(tmp_path):
    prefix = _without_dac_override()
    if prefix is None:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        started = time.monotonic()
        proc = _netsim("run", str(_scenario(tmp_path, "slow", 500)), "--out", str(locked / "run"),
                       cwd=tmp_path, prefix=prefix)
        elapsed = time.monotonic() - started
    finally:
        locked.chmod(0o755)
    line = _one_line_error(proc)
    assert "permission denied" in line and str(locked / "run") in line
    assert list(locked.iterdir()) == []
    assert elapsed < 120  # 500 realisations would take far longer


# ----------------------------------------------------------------------------- in-process faults


def _refuse_lock(monkeypatch, code: int) -> None:
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if str(path).endswith(LOCK_SUFFIX):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "open", refuse)


@pytest.mark.parametrize(("code", "phrase"), [
    (errno.EROFS, "the file system is read-only"),
    (errno.ENOSPC, "no space left on the device"),
])
def test_unwritable_output_fails_before_any_realisation(tmp_path, monkeypatch, capsys, code,
                                                        phrase):
    import netsim.run

    monkeypatch.setattr(netsim.run, "run_realisation", lambda *a, **k: pytest.fail("computed"))
    monkeypatch.setattr(netsim.run, "prepare_networks", lambda *a, **k: pytest.fail("computed"))
    _refuse_lock(monkeypatch, code)
    rc = main(["run", str(_scenario(tmp_path)), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and phrase in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]


def test_disk_full_while_writing_is_one_line(tmp_path, monkeypatch, capsys):
    import netsim.stats

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(netsim.stats.pd.DataFrame, "to_csv", full)
    rc = main(["stats", "--stations", str(STATIONS), "--readings", str(READINGS), "--year", "2020",
               "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "no space left on the device" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_in_process_exits_130(tmp_path, monkeypatch, capsys):
    import netsim.scenario

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(netsim.scenario, "load_scenario", interrupted)
    assert main(["validate", "x.yaml"]) == 130
    assert capsys.readouterr().err == "interrupted; no partial output was left behind\n"


def test_internal_error_is_one_line_with_exit_1(monkeypatch, capsys):
    import netsim.scenario

    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(netsim.scenario, "load_scenario", bug)
    assert main(["validate", "x.yaml"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: internal error: ZeroDivisionError: division by zero second")
    assert len(err.splitlines()) == 1
    monkeypatch.setenv("NETSIM_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        main(["validate", "x.yaml"])


def test_messages_are_not_read_as_markup(monkeypatch, capsys):
    import netsim.scenario
    from netsim.errors import ScenarioError

    def bad(*args, **kwargs):
        raise ScenarioError("x.yaml: changes[0].ids[tiantann]: unknown station [bold]")

    monkeypatch.setattr(netsim.scenario, "load_scenario", bad)
    assert main(["validate", "x.yaml"]) == 2
    assert capsys.readouterr().err == (
        "error: x.yaml: changes[0].ids[tiantann]: unknown station [bold]\n")


def test_krige_outputs_are_guarded_as_a_set(tmp_path, capsys):
    """The raster, districts CSV and PNG: a foreign one blocks all three; ours need --overwrite."""
    values = tmp_path / "values.csv"
    ids = [line.split(",")[0] for line in STATIONS.read_text().splitlines()[1:]]
    values.write_text("station_id,value\n" + "".join(f"{s},{30 + 3 * i}\n"
                                                     for i, s in enumerate(ids)))
    out = tmp_path / "maps"
    out.mkdir()
    (out / "pm25.png").write_bytes(b"a user's picture")
    args = ["krige", "--stations", str(STATIONS), "--values", str(values), "--pollutant", "PM2.5",
            "--resolution", "5000", "--out", str(out / "pm25.tif")]
    assert main([*args, "--overwrite"]) == 2
    assert "pm25.png: exists and netsim did not write it" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["pm25.png"]
    (out / "pm25.png").unlink()
    assert main(args) == 0, capsys.readouterr().err
    written = _snapshot(out)
    assert {"pm25.tif", "pm25_districts.csv", "pm25.png"} <= set(written)
    assert main(args) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert _snapshot(out) == written
    assert main([*args, "--overwrite"]) == 0


def test_readme_and_ci_install_the_tested_versions():
    """The README's install commands and .ci/run use constraints.txt, which pins typer, and
    compile netsim's bytecode."""
    from importlib.metadata import version

    readme = (ROOT / "README.md").read_text().splitlines()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    test_command = [line for line in readme if line.startswith("apt-get update")]
    assert len(test_command) == 1 and test_command[0] in ci
    installs = [line for line in readme if "pip install" in line]
    assert len(installs) == 2 and all("-c constraints.txt" in line for line in installs)
    # netsim's bytecode written once, before the first netsim process (an editable install
    # leaves it to Python, which may not write it: PYTHONDONTWRITEBYTECODE)
    assert all(re.search(r"pip install [^&]*-e [^&]*&& python -m compileall -q src/netsim && ",
                         line) for line in installs)
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert "netsim" not in pins
    assert pins["typer"] == version("typer")


@pytest.mark.parametrize("flavour", ["vendored", "plain"])
def test_click_errors_of_either_click_are_caught(monkeypatch, capsys, flavour):
    """typer 0.29 raises ``typer._click`` exceptions; older typer raises click's own."""
    import netsim.cli

    if flavour == "vendored":
        exceptions = pytest.importorskip("typer._click.exceptions")
    else:
        exceptions = pytest.importorskip("click.exceptions")

    def usage(*args, **kwargs):
        raise exceptions.UsageError("No such option: --lang")

    monkeypatch.setattr(netsim.cli, "app", usage)
    assert main(["run"]) == 2
    assert capsys.readouterr().err == "error: No such option: --lang\n"


def test_click_abort_from_ctrl_c_exits_130(monkeypatch, capsys):
    """click < 8.2 turns Ctrl-C into Abort (raised while handling the KeyboardInterrupt)."""
    import netsim.cli

    click = pytest.importorskip("click")

    def aborted(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise click.Abort() from None

    monkeypatch.setattr(netsim.cli, "app", aborted)
    assert main(["run"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_an_interrupt_inside_a_finaliser_is_delivered_again(capfd):
    """Ctrl-C landing in a finaliser (numba's llvmlite objects are freed at any moment)
    reaches the CLI as KeyboardInterrupt instead of "Exception ignored in" on stderr."""
    from netsim import cli

    class FinaliserInterrupted:
        def __del__(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with cli._stops_survive_finalisers():
            FinaliserInterrupted()
            time.sleep(5)  # the interrupt comes again within 50 ms
    assert "Exception ignored" not in capfd.readouterr().err


def test_the_command_collects_again_after_its_imports(monkeypatch):
    """`netsim run` and `netsim sweep` import with the cyclic collector off, then freeze
    the imports and turn it on; Python code calling main() keeps its own setting."""
    import gc

    from netsim import cli

    assert gc.isenabled()
    cli._importing()
    assert gc.isenabled()  # not in the console script: left alone
    monkeypatch.setattr(cli, "_in_console", True)
    frozen = gc.get_freeze_count()
    try:
        cli._importing()
        assert not gc.isenabled()
        cli._imports_done()
        assert gc.isenabled() and gc.get_freeze_count() > frozen
    finally:
        gc.enable()
        gc.unfreeze()
