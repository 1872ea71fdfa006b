"""Exceptions raised for bad input.

Every error a user can cause is a :class:`NetsimError`: its message is one line
that names the file, row or field, what was expected, and how to fix it.  The
command-line interface prints that line and exits with status 2; it never shows
a traceback for a :class:`NetsimError`.
"""

from __future__ import annotations


class NetsimError(ValueError):
    """Base class of every user-facing netsim error (a ``ValueError``)."""


class VariogramError(NetsimError):
    """Invalid variogram model or parameters, or a failed fit."""


class KrigingError(NetsimError):
    """Invalid kriging input (shapes, coordinates) or a singular kriging system."""


class NetworkError(NetsimError):
    """Invalid station network file or station record."""


class ReadingsError(NetsimError):
    """Invalid hourly readings file or record."""


class GeographyError(NetsimError):
    """Missing or mismatched CRS, or geometry outside Beijing."""


class RasterError(NetsimError):
    """Unreadable raster or a raster not written by netsim."""


class ScenarioError(NetsimError):
    """Invalid scenario YAML: syntax, unknown keys, wrong types, unknown stations."""


class ClusterError(NetsimError):
    """A dask scheduler that cannot be reached, or a cluster that failed during a run."""


class OutputError(NetsimError):
    """An output netsim must not or cannot write.

    A folder or file netsim did not write, a previous output without
    ``--overwrite``, a target another netsim process holds, the working
    directory, or a full, read-only or forbidden destination.
    """


class CalibrationError(NetsimError):
    """A calibration targets file or calibration run the user can fix."""


class FontWarning(UserWarning):
    """No CJK font is installed: Chinese labels would be drawn as empty boxes."""
