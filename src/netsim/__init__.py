"""netsim: a geospatial monitoring-network simulator for Beijing's air-quality network.

One public entry point per concept; see the README for the tour.
"""

from netsim.errors import NetsimError

__version__ = "0.1.0"

# --- kriging core (variogram.py, kriging/) ---
from netsim.kriging import (
    BlockKrigingResult,
    CrossValidation,
    KrigingResult,
    block_krige,
    cross_validate,
    krige,
    krige_chunks,
)
from netsim.variogram import (
    EmpiricalVariogram,
    Variogram,
    VariogramFit,
    empirical_variogram,
    fit_variogram,
)

# --- end kriging core ---
# --- network, readings and standards (network.py, readings.py, standards.py, stats.py) ---
from netsim.network import Network
from netsim.readings import HourlyReadings, load_readings
from netsim.stats import AnnualStatistics, compute_statistics

# --- geography, grid and rasters (geography.py, grid.py, rasters.py, areas.py) ---
from netsim.areas import area_statistics
from netsim.geography import beijing_boundary, districts
from netsim.grid import Grid
from netsim.rasters import read_raster, write_raster
# --- truth world and scenarios (truth.py, scenario.py, run.py) ---
from netsim.scenario import Scenario, load_scenario  # scenario helper
from netsim.truth import TruthSettings, TruthWorld  # truth helper
# --- maps (maps.py, webmap.py) ---
from netsim.maps import static_map
from netsim.webmap import build_web_map

__all__ = [
    "BlockKrigingResult",
    "CrossValidation",
    "block_krige",
    "cross_validate",
    "EmpiricalVariogram",
    "KrigingResult",
    "Variogram",
    "VariogramFit",
    "empirical_variogram",
    "fit_variogram",
    "krige",
    "krige_chunks",
    "AnnualStatistics",
    "Grid",
    "HourlyReadings",
    "NetsimError",
    "Scenario",
    "TruthSettings",
    "TruthWorld",
    "load_scenario",
    "Network",
    "__version__",
    "area_statistics",
    "beijing_boundary",
    "build_web_map",
    "compute_statistics",
    "districts",
    "load_readings",
    "read_raster",
    "static_map",
    "write_raster",
]
