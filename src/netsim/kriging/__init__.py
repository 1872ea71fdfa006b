"""Kriging: one :func:`krige` entry point for ordinary, simple and universal kriging.

Global or local (k nearest stations) neighbourhoods, batched value vectors,
block kriging (:func:`block_krige`) and leave-one-out cross-validation
(:func:`cross_validate`).  Heavy loops live in :mod:`netsim.kriging._kernels`.
"""

from netsim.kriging.api import METHODS, KrigingResult, krige, krige_chunks

__all__ = ["METHODS", "KrigingResult", "krige", "krige_chunks"]
