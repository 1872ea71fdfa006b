"""Kriging: one :func:`krige` entry point for ordinary, simple and universal kriging.

Global or local (k nearest stations) neighbourhoods, batched value vectors
(:func:`krige_chunks` for outputs larger than memory), block kriging
(:func:`block_krige`) and leave-one-out cross-validation (:func:`cross_validate`).
Heavy loops live in :mod:`netsim.kriging._kernels`.
"""

from netsim.kriging.api import METHODS, KrigingResult, krige, krige_chunks
from netsim.kriging.block import BlockKrigingResult, block_krige
from netsim.kriging.crossval import CrossValidation, cross_validate

__all__ = [
    "METHODS",
    "BlockKrigingResult",
    "CrossValidation",
    "KrigingResult",
    "block_krige",
    "cross_validate",
    "krige",
    "krige_chunks",
]
