"""``netsim sweep``: run many scenarios, one task each, into one guarded directory.

The sweep directory is one output (:func:`netsim.atomic.output_directory`):
written in a scratch folder beside ``--out`` and moved into place when every
scenario has run, so an interrupted sweep leaves nothing half-written and a
previous sweep is replaced only with ``overwrite``.  This module sits above
:mod:`netsim.run` and :mod:`netsim.distributed` (which must not import ``run``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netsim.atomic import atomic_file, output_directory
from netsim.compare import write_comparison
from netsim.distributed import ProgressCallback, get_executor
from netsim.errors import NetsimError

__all__ = ["sweep_scenarios"]


def _sweep_task(
    item: tuple[str, Any], work_dir: str, out_dir: str, realisations: int | None,
    seed: int | None,
) -> dict[str, Any]:
    """Run one scenario of a sweep into ``work_dir/<stem>`` in the calling process (one task)."""
    from netsim.run import run_scenario

    stem, scenario = item
    if scenario.readings is not None:  # one measured year: no realisations, no truth seed
        realisations = seed = None
    # realisations run in this task's process: no nested cluster from inside a worker
    result = run_scenario(
        scenario, Path(work_dir) / stem, realisations=realisations, seed=seed, scheduler="sync"
    )
    summary = result.summary
    return {
        "file_stem": stem,
        "scenario": getattr(scenario, "name", stem),
        "out_dir": str(Path(out_dir) / stem),
        "realisations": summary.get("realisations"),
        "warnings": list(summary.get("warnings", [])),
        "verdicts": list(summary.get("verdicts", [])),
    }


def _scenario_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Resolved scenario files; refuses none and two files with the same stem."""
    files = [Path(p).expanduser().resolve() for p in paths]
    if not files:
        raise NetsimError(
            "sweep: no scenario files given; e.g. netsim sweep scenarios/*.yaml --out DIR"
        )
    stems: dict[str, Path] = {}
    for f in files:
        if f.stem in stems:
            raise NetsimError(
                f"sweep: {stems[f.stem]} and {f} would both write {f.stem}/; rename one of them"
            )
        stems[f.stem] = f
    return files


def sweep_scenarios(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    realisations: int | None = None,
    seed: int | None = None,
    scheduler: str | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> list[dict[str, Any]]:
    """Run several scenarios, one task each, into ``out_dir/<file stem>/``.

    Every scenario file is validated first (a bad file fails the sweep before
    any work starts); each task then calls :func:`netsim.run.run_scenario` with
    its realisations in the task's own process.  With a cluster, the workers
    write the run directories themselves, so ``out_dir`` must be on a
    filesystem they share with the caller (always true for ``local:N`` and
    workers on this machine).  The whole sweep directory, with a ``sweep.json``
    index and ``comparison/`` (:func:`netsim.compare.write_comparison` of the
    runs, labelled by file stem), is written atomically and guarded
    (:func:`netsim.atomic.output_directory`).

    Parameters
    ----------
    paths
        Scenario YAML files (``scenarios/*.yaml``).
    out_dir
        Directory receiving one run directory per scenario, named by file
        stem: missing or empty, or a previous netsim output.
    realisations, seed
        Override every scenario's ``realisations`` / ``truth.seed`` (a scenario on real
        ``readings`` measures its one year and keeps neither).
    scheduler
        See :func:`netsim.distributed.get_executor` (None: in-process or
        ``$DASK_SCHEDULER_ADDRESS``).
    progress
        ``callback(done, total)`` over scenarios.
    overwrite
        Replace a previous netsim output at ``out_dir``.

    Returns
    -------
    list of dict
        Per scenario: ``file_stem``, ``scenario`` (name), ``out_dir``,
        ``realisations``, ``verdicts``; also written to ``out_dir/sweep.json``.
        ``out_dir/comparison/`` holds ``comparison.csv``, ``.md`` and ``.png``.

    Raises
    ------
    NetsimError
        No files, two files with the same stem, or any invalid scenario
        (:class:`netsim.errors.ScenarioError`).
    OutputError
        ``out_dir`` cannot or must not be written (see :mod:`netsim.atomic`).
    """
    from netsim.scenario import load_scenario

    items = [(f.stem, load_scenario(f)) for f in _scenario_files(paths)]
    out = Path(out_dir).expanduser().absolute()
    with output_directory(out, overwrite=overwrite) as work:
        with get_executor(scheduler, progress=progress) as executor:
            rows = executor.map(_sweep_task, items, str(work), str(out), realisations, seed)
            where = {"kind": executor.kind, "address": executor.address}
        index = {"executor": where, "realisations": realisations, "seed": seed, "runs": rows}
        with atomic_file(work / "sweep.json") as tmp:
            tmp.write_text(json.dumps(index, indent=2, default=str))
        (work / "comparison").mkdir()
        write_comparison([work / row["file_stem"] for row in rows], work / "comparison",
                         labels=[row["file_stem"] for row in rows])
    return rows
