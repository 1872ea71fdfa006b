"""Numba kernels of the conditioned truth (no validation here; see :mod:`netsim.conditional`)."""

from __future__ import annotations

from numba import njit

from netsim.truth_kernels import point_field

__all__ = ["point_field_serial"]

point_field_serial = njit(cache=True)(point_field.py_func)
""":func:`netsim.truth_kernels.point_field` compiled without its thread pool (``prange`` runs as
``range``: same arithmetic, same order, same values), whose start-up dominates for the few
points (stations) the conditioned truth evaluates at a time."""
