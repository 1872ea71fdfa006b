"""netsim: a geospatial monitoring-network simulator for Beijing's air-quality network.

One public entry point per concept; see the README for the tour.  Names are
imported lazily (PEP 562), so ``import netsim`` and the ``netsim`` command start
quickly; ``from netsim import krige`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from netsim.errors import NetsimError

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # --- kriging core (variogram.py, kriging/) ---
    "BlockKrigingResult": "netsim.kriging",
    "CrossValidation": "netsim.kriging",
    "KrigingResult": "netsim.kriging",
    "block_krige": "netsim.kriging",
    "cross_validate": "netsim.kriging",
    "krige": "netsim.kriging",
    "krige_chunks": "netsim.kriging",
    "EmpiricalVariogram": "netsim.variogram",
    "Variogram": "netsim.variogram",
    "VariogramFit": "netsim.variogram",
    "empirical_variogram": "netsim.variogram",
    "fit_variogram": "netsim.variogram",
    # --- network, readings and standards ---
    "Network": "netsim.network",
    "HourlyReadings": "netsim.readings",
    "load_readings": "netsim.readings",
    "AnnualStatistics": "netsim.stats",
    "compute_statistics": "netsim.stats",
    # --- geography, grid and rasters ---
    "area_statistics": "netsim.areas",
    "block_kriged_area_means": "netsim.areas",
    "beijing_boundary": "netsim.geography",
    "districts": "netsim.geography",
    "Grid": "netsim.grid",
    "read_raster": "netsim.rasters",
    "write_raster": "netsim.rasters",
    # --- truth world, scenarios and runs ---
    "Scenario": "netsim.scenario",
    "load_scenario": "netsim.scenario",
    "TruthSettings": "netsim.truth",
    "TruthWorld": "netsim.truth",
    "run_scenario": "netsim.run",
    # --- maps ---
    "static_map": "netsim.maps",
    "MapStyle": "netsim.maps",
    "build_web_map": "netsim.webmap",
    # --- scale-out ---
    "get_executor": "netsim.distributed",
    "sweep_scenarios": "netsim.sweep",
    "AnnualMaps": "netsim.timeseries",
    "annual_statistics": "netsim.timeseries",
}

__all__ = [
    "AnnualMaps",
    "AnnualStatistics",
    "BlockKrigingResult",
    "CrossValidation",
    "EmpiricalVariogram",
    "Grid",
    "HourlyReadings",
    "KrigingResult",
    "MapStyle",
    "NetsimError",
    "Network",
    "Scenario",
    "TruthSettings",
    "TruthWorld",
    "Variogram",
    "VariogramFit",
    "__version__",
    "annual_statistics",
    "area_statistics",
    "beijing_boundary",
    "block_krige",
    "block_kriged_area_means",
    "build_web_map",
    "compute_statistics",
    "cross_validate",
    "districts",
    "empirical_variogram",
    "fit_variogram",
    "get_executor",
    "krige",
    "krige_chunks",
    "load_readings",
    "load_scenario",
    "read_raster",
    "run_scenario",
    "static_map",
    "sweep_scenarios",
    "write_raster",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'netsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static analysers see the real names
    from netsim.areas import area_statistics, block_kriged_area_means
    from netsim.distributed import get_executor
    from netsim.geography import beijing_boundary, districts
    from netsim.grid import Grid
    from netsim.kriging import (
        BlockKrigingResult,
        CrossValidation,
        KrigingResult,
        block_krige,
        cross_validate,
        krige,
        krige_chunks,
    )
    from netsim.maps import MapStyle, static_map
    from netsim.network import Network
    from netsim.rasters import read_raster, write_raster
    from netsim.readings import HourlyReadings, load_readings
    from netsim.run import run_scenario
    from netsim.scenario import Scenario, load_scenario
    from netsim.stats import AnnualStatistics, compute_statistics
    from netsim.sweep import sweep_scenarios
    from netsim.timeseries import AnnualMaps, annual_statistics
    from netsim.truth import TruthSettings, TruthWorld
    from netsim.variogram import (
        EmpiricalVariogram,
        Variogram,
        VariogramFit,
        empirical_variogram,
        fit_variogram,
    )
    from netsim.webmap import build_web_map
