"""netsim: a geospatial monitoring-network simulator for Beijing's air-quality network.

One public entry point per concept; see the README for the tour.
"""

from netsim.errors import NetsimError

__version__ = "0.1.0"

# --- kriging core (variogram.py, kriging/) ---
# --- network, readings and standards (network.py, readings.py, standards.py, stats.py) ---
from netsim.network import Network

# --- geography, grid and rasters (geography.py, grid.py, rasters.py, areas.py) ---
from netsim.areas import area_statistics
from netsim.geography import beijing_boundary, districts
from netsim.grid import Grid
from netsim.rasters import read_raster, write_raster
# --- truth world and scenarios (truth.py, scenario.py, run.py) ---
# --- maps (maps.py, webmap.py) ---

__all__ = [
    "Grid",
    "NetsimError",
    "Network",
    "__version__",
    "area_statistics",
    "beijing_boundary",
    "districts",
    "read_raster",
    "write_raster",
]
