# ruff: noqa: E501  (one-line error messages and reference tables)
"""Variogram models, the empirical semivariogram and weighted least-squares fitting.

Parameters follow PyKrige's conventions exactly so that results compare one to
one with ``pykrige.ok.OrdinaryKriging`` / ``pykrige.uk.UniversalKriging``.
Distances ``h`` are in metres (projected CRS, EPSG:32650); semivariances are in
concentration units squared (µg²/m⁶, or mg²/m⁶ for CO).

Models (``h > 0``; ``gamma(0) = 0`` by definition, the nugget is a jump at the origin)
-------------------------------------------------------------------------------------
With ``p = psill`` (partial sill), ``r = range`` (metres) and ``c0 = nugget``:

==============  ===============================================================
``spherical``   ``p * (1.5 h/r - 0.5 (h/r)**3) + c0`` for ``h <= r``, ``p + c0`` beyond
``exponential`` ``p * (1 - exp(-h / (r/3))) + c0``  (practical range ``r``)
``gaussian``    ``p * (1 - exp(-h**2 / (4 r / 7)**2)) + c0``  (practical range ``r``)
``linear``      ``p * h / r + c0``  (unbounded; PyKrige ``slope = p / r``)
``power``       ``p * (h / r)**exponent + c0``, ``0 < exponent < 2`` (unbounded;
                PyKrige ``scale = p / r**exponent``, ``exponent = exponent``)
``matern``      ``p * (1 - 2**(1-v)/Gamma(v) * (h/a)**v * K_v(h/a)) + c0`` with
                ``a = r / 3`` and ``v = smoothness``; ``v = 0.5`` is exactly the
                ``exponential`` model with the same ``r`` (not in PyKrige)
==============  ===============================================================

``sill = psill + nugget``; ``covariance(h) = sill - gamma(h)`` (``sill`` at ``h = 0``)
exists only for the bounded models (all but ``linear`` and ``power``).

Geometric anisotropy is applied exactly as PyKrige does: coordinates are shifted
to a centre, rotated by ``-anisotropy_angle`` degrees (counter-clockwise angles
of the major axis from the x/easting axis) and the rotated ``y`` is multiplied by
``anisotropy_scaling``; the model is then evaluated on isotropic distances in
the adjusted space (so ``range`` is the range along the major axis and
``range / anisotropy_scaling`` the range along the minor axis).

Converting from other libraries
-------------------------------
======================  ==========================================  ===============================
model                   GSTools ``Model(var, len_scale, nugget)``    R gstat ``vgm(psill, m, range, nugget)``
======================  ==========================================  ===============================
spherical               psill=var, range=len_scale                  psill=psill, range=range ("Sph")
exponential             psill=var, range=3 * len_scale              psill=psill, range=3 * range ("Exp")
gaussian                psill=var, range=7/(2 sqrt(pi)) * len_scale psill=psill, range=7/4 * range ("Gau")
matern (nu)             psill=var, range=3 * len_scale / sqrt(nu),  psill=psill, range=3 * range,
                        smoothness=nu                               smoothness=kappa ("Mat")
linear (unbounded)      --                                          ``vgm(s, "Lin", 0)``: psill/range = s
power                   --                                          ``vgm(s, "Pow", a)``: psill/range**a = s,
                                                                    exponent = a
======================  ==========================================  ===============================

The nugget is the same number in all three libraries.  GSTools' Gaussian
correlation is ``exp(-pi/4 (h/len_scale)**2)`` and its Matérn uses
``sqrt(nu) h / len_scale`` as argument, hence the factors above.

References
----------
Cressie, N. (1985). Fitting variogram models by weighted least squares.
Mathematical Geology 17(5), 563-586.
Matheron, G. (1962). Traité de géostatistique appliquée.
PyKrige ``variogram_models.py`` and ``core._adjust_for_anisotropy`` (v1.7).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, special

from netsim.errors import VariogramError
from netsim.forward_difference import forward_difference_jacobian

__all__ = [
    "MODELS",
    "EmpiricalVariogram",
    "NetworkVariogramFit",
    "Variogram",
    "VariogramFit",
    "empirical_variogram",
    "fit_network_variogram",
    "fit_variogram",
    "msdr_warning",
    "network_extent",
]

MODELS: tuple[str, ...] = ("spherical", "exponential", "gaussian", "linear", "power", "matern")
"""Supported variogram model names."""

BOUNDED_MODELS: frozenset[str] = frozenset({"spherical", "exponential", "gaussian", "matern"})

#: Model codes used by the numba kernels in :mod:`netsim.kriging._kernels`.
MODEL_CODES: dict[str, int] = {name: i for i, name in enumerate(MODELS)}

#: Distances at or below this (metres) count as zero (PyKrige's ``eps``).
ZERO_DISTANCE_M = 1e-10


def _finite(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise VariogramError(
            f"variogram field {name!r}: expected a number, got {value!r}"
        ) from None
    if not math.isfinite(value):
        raise VariogramError(f"variogram field {name!r}: expected a finite number, got {value!r}")
    return value


def _unit_semivariance(model: str, h: np.ndarray, range_m: float, smoothness: float,
                       exponent: float) -> np.ndarray:
    """Structured part of the semivariance of ``model`` over the partial sill, ``h > 0``
    metres (the table in this module's docstring)."""
    r = range_m
    if model == "spherical":
        x = np.minimum(h / r, 1.0)
        return 1.5 * x - 0.5 * x**3
    if model == "exponential":
        return 1.0 - np.exp(-h / (r / 3.0))
    if model == "gaussian":
        return 1.0 - np.exp(-(h**2) / (r * 4.0 / 7.0) ** 2)
    if model == "linear":
        return h / r
    if model == "power":
        return (h / r) ** exponent
    # matern
    nu = smoothness
    x = h / (r / 3.0)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        corr = 2.0 ** (1.0 - nu) / special.gamma(nu) * x**nu * special.kv(nu, x)
    corr = np.where(x > 700.0, 0.0, corr)
    corr = np.where(np.isfinite(corr), corr, 1.0)
    return 1.0 - corr


def _semivariance(model: str, h: np.ndarray, psill: float, range_m: float, nugget: float,
                  smoothness: float, exponent: float) -> np.ndarray:
    """Semivariance (concentration²) of a valid model at lags ``h`` (metres): 0 at
    ``|h| <= ZERO_DISTANCE_M``, else ``psill · unit + nugget``; no validation
    (:meth:`Variogram.gamma` validates)."""
    distance = np.abs(h)
    return _semivariance_at(model, distance, distance <= ZERO_DISTANCE_M, psill, range_m,
                            nugget, smoothness, exponent)


def _semivariance_at(model: str, distance: np.ndarray, at_zero: np.ndarray, psill: float,
                     range_m: float, nugget: float, smoothness: float, exponent: float
                     ) -> np.ndarray:
    """:func:`_semivariance` at ``distance`` = ``|h|``, ``at_zero`` = ``distance <=
    ZERO_DISTANCE_M`` (both taken once by the residuals of :func:`fit_variogram`, which
    evaluate the same lags ~60 times)."""
    out = psill * _unit_semivariance(model, distance, range_m, smoothness, exponent) + nugget
    return np.where(at_zero, 0.0, out)


@dataclass(frozen=True)
class Variogram:
    """A semivariogram model in PyKrige's parameter conventions.

    Parameters
    ----------
    model : str
        One of :data:`MODELS`.
    psill : float
        Partial sill (concentration²), > 0.  For ``linear``/``power``: the
        semivariance above the nugget at ``h = range``.
    range : float
        Range in metres, > 0 (see the module docstring for each model's meaning).
    nugget : float
        Nugget (concentration²), >= 0.
    anisotropy_scaling : float
        Stretch applied to the rotated y coordinate (PyKrige), > 0.
    anisotropy_angle : float
        Counter-clockwise rotation of the major axis from easting, degrees.
    smoothness : float
        Matérn smoothness ``nu`` > 0 (only used by ``matern``).
    exponent : float
        Power-model exponent in (0, 2) (only used by ``power``).

    Raises
    ------
    VariogramError
        Unknown model or non-finite / non-positive parameters.
    """

    model: str
    psill: float
    range: float
    nugget: float = 0.0
    anisotropy_scaling: float = 1.0
    anisotropy_angle: float = 0.0
    smoothness: float = 0.5
    exponent: float = 1.0

    def __post_init__(self) -> None:
        model = str(self.model).lower()
        if model not in MODELS:
            raise VariogramError(
                f"variogram field 'model': expected one of {', '.join(MODELS)}, got {self.model!r}"
            )
        object.__setattr__(self, "model", model)
        for name in (
            "psill",
            "range",
            "nugget",
            "anisotropy_scaling",
            "anisotropy_angle",
            "smoothness",
            "exponent",
        ):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if self.psill <= 0:
            raise VariogramError(
                f"variogram field 'psill': expected > 0, got {self.psill}; use a positive partial sill"
            )
        if self.range <= 0:
            raise VariogramError(f"variogram field 'range': expected > 0 metres, got {self.range}")
        if self.nugget < 0:
            raise VariogramError(f"variogram field 'nugget': expected >= 0, got {self.nugget}")
        if self.anisotropy_scaling <= 0:
            raise VariogramError(
                f"variogram field 'anisotropy_scaling': expected > 0, got {self.anisotropy_scaling}"
            )
        if self.smoothness <= 0:
            raise VariogramError(
                f"variogram field 'smoothness': expected > 0, got {self.smoothness}"
            )
        if not 0 < self.exponent < 2:
            raise VariogramError(
                f"variogram field 'exponent': expected 0 < exponent < 2, got {self.exponent}"
            )

    # ------------------------------------------------------------------ basics
    @property
    def sill(self) -> float:
        """Total sill ``psill + nugget`` (concentration²); for unbounded models the value at ``h = range``."""
        return self.psill + self.nugget

    @property
    def bounded(self) -> bool:
        """Whether the model has a sill (and hence a covariance function)."""
        return self.model in BOUNDED_MODELS

    @property
    def isotropic(self) -> bool:
        """True when no anisotropy is applied."""
        return self.anisotropy_scaling == 1.0

    @property
    def shape(self) -> float:
        """The model's shape parameter as passed to the kernels (exponent or smoothness)."""
        return self.exponent if self.model == "power" else self.smoothness

    @property
    def code(self) -> int:
        """Integer model code used by the numba kernels."""
        return MODEL_CODES[self.model]

    def gamma(self, h: np.ndarray | float) -> np.ndarray:
        """Semivariance at lag distance ``h`` (metres) -> concentration².

        ``gamma(0) = 0``; any ``h <= 1e-10`` m counts as zero, as in PyKrige.
        """
        return _semivariance(self.model, np.asarray(h, dtype=float), self.psill, self.range,
                             self.nugget, self.smoothness, self.exponent)

    def covariance(self, h: np.ndarray | float) -> np.ndarray:
        """Covariance ``sill - gamma(h)`` (concentration²); ``sill`` at ``h = 0``.

        Raises
        ------
        VariogramError
            For the unbounded ``linear`` and ``power`` models.
        """
        if not self.bounded:
            raise VariogramError(
                f"variogram model {self.model!r} is unbounded and has no covariance; "
                "use a bounded model (spherical, exponential, gaussian, matern)"
            )
        return self.sill - self.gamma(h)

    # ------------------------------------------------------------ anisotropy
    def adjust(self, xy: np.ndarray, centre: np.ndarray | tuple[float, float]) -> np.ndarray:
        """Anisotropy-adjusted coordinates, exactly as PyKrige's ``_adjust_for_anisotropy``.

        Parameters
        ----------
        xy : ndarray, shape (m, 2)
            Easting/northing in metres.
        centre : (2,)
            Rotation centre in metres (PyKrige uses the midpoint of the stations'
            bounding box).

        Returns
        -------
        ndarray, shape (m, 2)
            Adjusted coordinates (metres in the isotropic space).
        """
        xy = np.asarray(xy, dtype=float)
        if self.isotropic and self.anisotropy_angle == 0.0:
            return xy.copy()
        c = np.asarray(centre, dtype=float)
        a = self.anisotropy_angle * np.pi / 180.0
        ca, sa = np.cos(-a), np.sin(-a)
        dx = xy[:, 0] - c[0]
        dy = xy[:, 1] - c[1]
        out = np.empty_like(xy)
        out[:, 0] = ca * dx - sa * dy + c[0]
        out[:, 1] = self.anisotropy_scaling * (sa * dx + ca * dy) + c[1]
        return out

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary of all fields (JSON/YAML friendly)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Variogram:
        """Build from a mapping with the field names of this class.

        Also accepts ``sill`` instead of ``psill`` (``psill = sill - nugget``).
        """
        d = dict(d)
        known = {f for f in cls.__dataclass_fields__}
        if "sill" in d and "psill" not in d:
            d["psill"] = float(d.pop("sill")) - float(d.get("nugget", 0.0))
        unknown = sorted(set(d) - known)
        if unknown:
            raise VariogramError(
                f"variogram: unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}"
            )
        for need in ("model", "psill", "range"):
            if need not in d:
                raise VariogramError(f"variogram: missing field {need!r}")
        return cls(**d)

    @classmethod
    def from_file(cls, path: str | Path) -> Variogram:
        """Read a variogram from a JSON or YAML file holding :meth:`to_dict` fields."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise VariogramError(f"{path}: cannot read variogram file ({exc.strerror})") from None
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise VariogramError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON "
                                     f"({exc.msg})") from None
        else:
            from netsim.yamlfile import yaml_mapping

            data, _ = yaml_mapping(text, str(path), VariogramError,
                                   what="variogram fields (model:, psill:, range:, nugget:)")
        if not isinstance(data, Mapping):
            raise VariogramError(f"{path}: expected a mapping of variogram fields")
        try:
            return cls.from_dict(data)
        except VariogramError as exc:
            raise VariogramError(f"{path}: {exc}") from None

    # ------------------------------------------------------- peer libraries
    def to_pykrige(self) -> dict[str, Any]:
        """Keyword arguments for PyKrige (``variogram_model``, ``variogram_parameters``, anisotropy)."""
        if self.model == "matern":
            raise VariogramError("the matern model has no PyKrige equivalent")
        if self.model == "linear":
            params: dict[str, float] = {"slope": self.psill / self.range, "nugget": self.nugget}
        elif self.model == "power":
            params = {
                "scale": self.psill / self.range**self.exponent,
                "exponent": self.exponent,
                "nugget": self.nugget,
            }
        else:
            params = {"psill": self.psill, "range": self.range, "nugget": self.nugget}
        return {
            "variogram_model": self.model,
            "variogram_parameters": params,
            "anisotropy_scaling": self.anisotropy_scaling,
            "anisotropy_angle": self.anisotropy_angle,
        }

    def to_gstools(self):
        """The equivalent isotropic GSTools covariance model (conversions in the module docstring)."""
        import gstools as gs

        if not self.isotropic or self.anisotropy_angle != 0.0:
            raise VariogramError("to_gstools supports isotropic variograms only")
        kw = {"dim": 2, "var": self.psill, "nugget": self.nugget}
        if self.model == "spherical":
            return gs.Spherical(len_scale=self.range, **kw)
        if self.model == "exponential":
            return gs.Exponential(len_scale=self.range / 3.0, **kw)
        if self.model == "gaussian":
            return gs.Gaussian(len_scale=self.range * 2.0 * math.sqrt(math.pi) / 7.0, **kw)
        if self.model == "matern":
            return gs.Matern(
                len_scale=self.range / 3.0 * math.sqrt(self.smoothness), nu=self.smoothness, **kw
            )
        raise VariogramError(f"variogram model {self.model!r} has no GSTools equivalent")


# ---------------------------------------------------------------------------
# Empirical semivariogram and fitting
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EmpiricalVariogram:
    """Binned Matheron semivariogram.

    Attributes
    ----------
    lag : ndarray (k,)
        Mean pair distance in each non-empty bin (metres).
    gamma : ndarray (k,)
        Semivariance ``sum((z_i - z_j)**2) / (2 N)`` (concentration²).
    count : ndarray (k,)
        Number of pairs ``N`` (summed over time steps for (T, n) input).
    bin_edges : ndarray (n_lags + 1,)
        Bin edges (metres); empty bins are dropped from ``lag``/``gamma``/``count``.
    """

    lag: np.ndarray
    gamma: np.ndarray
    count: np.ndarray
    bin_edges: np.ndarray


def _check_xy_values(xy: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(xy, dtype=float)
    values = np.asarray(values, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise VariogramError(f"xy: expected shape (n, 2) in metres, got {xy.shape}")
    if not np.all(np.isfinite(xy)):
        raise VariogramError("xy: station coordinates contain NaN/inf; drop or fix those stations")
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != xy.shape[0]:
        raise VariogramError(
            f"values: expected shape (n,) or (T, n) with n={xy.shape[0]} stations, got {np.shape(values)}"
        )
    if xy.shape[0] < 3:
        raise VariogramError(f"xy: need at least 3 stations for a variogram, got {xy.shape[0]}")
    return xy, values


def empirical_variogram(
    xy: np.ndarray,
    values: np.ndarray,
    n_lags: int = 12,
    max_distance: float | None = None,
) -> EmpiricalVariogram:
    """Matheron's classical semivariogram estimator in equal-width distance bins.

    Parameters
    ----------
    xy : ndarray (n, 2)
        Station coordinates (metres).
    values : ndarray (n,) or (T, n)
        Concentrations; with (T, n) the pairs of all time steps are pooled
        (NaN = missing, those pairs are skipped).
    n_lags : int
        Number of bins between 0 and ``max_distance``.
    max_distance : float, optional
        Largest lag (metres); default half the largest station separation.

    Returns
    -------
    EmpiricalVariogram
    """
    xy, values = _check_xy_values(xy, values)
    if int(n_lags) < 1:
        raise VariogramError(f"n_lags: expected >= 1, got {n_lags}")
    n = xy.shape[0]
    iu, ju = np.triu_indices(n, k=1)
    d = np.hypot(xy[iu, 0] - xy[ju, 0], xy[iu, 1] - xy[ju, 1])
    if max_distance is None:
        max_distance = 0.5 * float(d.max())
    if not max_distance > 0:
        raise VariogramError(f"max_distance: expected > 0 metres, got {max_distance}")
    edges = np.linspace(0.0, float(max_distance), int(n_lags) + 1)
    b = np.digitize(d, edges[1:-1], right=True)  # bins (lo, hi]
    keep = d <= max_distance
    b, d_k, iu, ju = b[keep], d[keep], iu[keep], ju[keep]
    sums = np.zeros(len(edges) - 1)
    counts = np.zeros(len(edges) - 1)
    dsum = np.zeros(len(edges) - 1)
    step = max(1, 4_000_000 // max(1, len(b)))
    for t0 in range(0, values.shape[0], step):
        v = values[t0 : t0 + step]
        diff2 = (v[:, iu] - v[:, ju]) ** 2  # (t, pairs)
        ok = np.isfinite(diff2)
        np.add.at(sums, b, np.where(ok, diff2, 0.0).sum(axis=0))
        cnt = ok.sum(axis=0).astype(float)
        np.add.at(counts, b, cnt)
        np.add.at(dsum, b, cnt * d_k)
    nonempty = counts > 0
    if nonempty.sum() == 0:
        raise VariogramError("empirical variogram: no station pairs with data within max_distance")
    return EmpiricalVariogram(
        lag=dsum[nonempty] / counts[nonempty],
        gamma=sums[nonempty] / (2.0 * counts[nonempty]),
        count=counts[nonempty],
        bin_edges=edges,
    )


@dataclass(frozen=True)
class VariogramFit:
    """Result of :func:`fit_variogram`.

    Attributes
    ----------
    variogram : Variogram
        The fitted model.
    empirical : EmpiricalVariogram
        The binned semivariogram it was fitted to.
    free : tuple of str
        Names of the parameters that were estimated.
    weighted_sse : float
        Cressie criterion ``sum N_h (gamma_hat/gamma_model - 1)**2``.
    rmse : float
        Unweighted RMS difference between empirical and model semivariance (concentration²).
    r_squared : float
        ``1 - SSE / SST`` of the bin semivariances (unweighted).
    success : bool
        Optimiser convergence flag; ``message`` and ``nfev`` give details.
    """

    variogram: Variogram
    empirical: EmpiricalVariogram
    free: tuple[str, ...]
    weighted_sse: float
    rmse: float
    r_squared: float
    success: bool
    message: str
    nfev: int
    diagnostics: dict[str, Any] = field(default_factory=dict)


def fit_variogram(
    xy: np.ndarray,
    values: np.ndarray,
    model: str = "spherical",
    *,
    n_lags: int = 12,
    max_distance: float | None = None,
    fixed: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    smoothness: float = 0.5,
    exponent: float = 1.0,
    anisotropy_scaling: float = 1.0,
    anisotropy_angle: float = 0.0,
) -> VariogramFit:
    """Fit a variogram model by weighted least squares with Cressie's weights.

    Minimises ``sum_k N_k * (gamma_hat_k - gamma(h_k))**2 / gamma(h_k)**2`` over
    the free parameters among ``psill``, ``range``, ``nugget`` (and ``exponent``
    for ``power``), using :func:`scipy.optimize.least_squares` (trust region
    reflective, honours bounds).

    Parameters
    ----------
    xy, values, n_lags, max_distance
        See :func:`empirical_variogram`.  Anisotropy is not fitted: the
        empirical variogram is isotropic (distances in ``xy`` metres).
    model : str
        One of :data:`MODELS`.
    fixed : dict, optional
        Parameters held at the given value, e.g. ``{"nugget": 0.0}``.
    bounds : dict, optional
        ``{name: (low, high)}`` for free parameters.  Defaults: ``psill`` in
        ``(1e-12 * var, 10 * max gamma)``, ``range`` in ``(1e-3 * max lag,
        10 * max lag)`` metres, ``nugget`` in ``(0, max gamma)``, ``exponent``
        in ``(0.01, 1.99)``.
    smoothness, exponent, anisotropy_scaling, anisotropy_angle
        Passed to the fitted :class:`Variogram` (``exponent`` is the start
        value when it is free).

    Returns
    -------
    VariogramFit

    Raises
    ------
    VariogramError
        Unknown parameter names, bounds that exclude the start, or a fit that
        leaves no free parameter.

    References
    ----------
    Cressie (1985), Mathematical Geology 17(5), 563-586.
    """
    model = str(model).lower()
    if model not in MODELS:
        raise VariogramError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")
    emp = empirical_variogram(xy, values, n_lags=n_lags, max_distance=max_distance)
    fixed = dict(fixed or {})
    free = _free_parameters(model, fixed, dict(bounds or {}))
    x0, lo, hi = _start_and_bounds(emp, free, dict(bounds or {}), exponent)
    weights = np.sqrt(emp.count)
    parameters = _parameter_reader(fixed, free, exponent)
    distance = np.abs(emp.lag)
    at_zero = distance <= ZERO_DISTANCE_M

    def build(theta: np.ndarray) -> Variogram:
        psill, range_m, nugget, shape = parameters(theta)
        return Variogram(model, psill=psill, range=range_m, nugget=nugget,
                         smoothness=smoothness, exponent=shape,
                         anisotropy_scaling=anisotropy_scaling, anisotropy_angle=anisotropy_angle)

    def residuals(theta: np.ndarray) -> np.ndarray:
        psill, range_m, nugget, shape = parameters(theta)
        g = _semivariance_at(model, distance, at_zero, psill, range_m, nugget, smoothness, shape)
        return weights * (emp.gamma - g) / np.maximum(g, 1e-300)

    try:
        build(np.array(x0))  # the fixed parameters and the start are a valid model
    except VariogramError as exc:
        raise VariogramError(f"fit_variogram: fixed parameters are invalid ({exc})") from None
    lower, upper = np.array(lo), np.array(hi)
    res = optimize.least_squares(
        residuals, np.array(x0), bounds=(lower, upper), method="trf",
        jac=lambda theta: forward_difference_jacobian(residuals, theta, lower, upper))
    return _fit_result(build(res.x), emp, free, res, lo, hi)


def _parameter_reader(fixed: Mapping[str, float], free: list[str], exponent: float
                      ) -> Callable[[np.ndarray], tuple[float, float, float, float]]:
    """``theta -> (psill, range, nugget, exponent)``: a fit's free parameters from its
    vector ``theta`` (in ``free``'s order), the others from ``fixed`` (``exponent``
    defaults to the given one)."""
    names = ("psill", "range", "nugget", "exponent")
    where = tuple(free.index(name) if name in free else -1 for name in names)
    held = tuple(fixed.get(name, exponent if name == "exponent" else np.nan) for name in names)

    def read(theta: np.ndarray) -> tuple[float, float, float, float]:
        return tuple(theta[i] if i >= 0 else value  # type: ignore[return-value]
                     for i, value in zip(where, held, strict=True))

    return read


def _free_parameters(model: str, fixed: dict[str, float],
                     bounds: dict[str, tuple[float, float]]) -> list[str]:
    """The parameters :func:`fit_variogram` estimates (all of the model's but ``fixed``)."""
    names = ["psill", "range", "nugget"] + (["exponent"] if model == "power" else [])
    for key in list(fixed) + list(bounds):
        if key not in names:
            raise VariogramError(
                f"fit_variogram: unknown parameter {key!r}; expected one of {', '.join(names)}"
            )
    free = [p for p in names if p not in fixed]
    if not free:
        raise VariogramError("fit_variogram: every parameter is fixed; nothing to fit")
    return free


def _start_and_bounds(emp: EmpiricalVariogram, free: list[str],
                      bounds: dict[str, tuple[float, float]], exponent: float
                      ) -> tuple[list[float], list[float], list[float]]:
    """Start values (inside the box) and box ``(lo, hi)`` of the free parameters."""
    gmax = float(emp.gamma.max())
    lmax = float(emp.lag.max())
    start = {
        "psill": max(gmax - float(emp.gamma.min()), 0.5 * gmax, 1e-12),
        "range": 0.5 * lmax,
        "nugget": 0.5 * float(emp.gamma.min()),
        "exponent": exponent,
    }
    default_bounds = {
        "psill": (1e-12 * max(gmax, 1e-300), 10.0 * gmax),
        "range": (1e-3 * lmax, 10.0 * lmax),
        "nugget": (0.0, gmax),
        "exponent": (0.01, 1.99),
    }
    lo, hi, x0 = [], [], []
    for p in free:
        b_lo, b_hi = bounds.get(p, default_bounds[p])
        if not b_lo < b_hi:
            raise VariogramError(f"bounds[{p!r}]: expected low < high, got ({b_lo}, {b_hi})")
        lo.append(b_lo)
        hi.append(b_hi)
        x0.append(min(max(start[p], b_lo + 1e-9 * (b_hi - b_lo)), b_hi - 1e-9 * (b_hi - b_lo)))
    return x0, lo, hi


def _fit_result(vario: Variogram, emp: EmpiricalVariogram, free: list[str], res: Any,
                lo: list[float], hi: list[float]) -> VariogramFit:
    """The :class:`VariogramFit` of a finished least-squares run ``res``."""
    g = vario.gamma(emp.lag)
    sse = float(np.sum((emp.gamma - g) ** 2))
    sst = float(np.sum((emp.gamma - emp.gamma.mean()) ** 2))
    return VariogramFit(
        variogram=vario,
        empirical=emp,
        free=tuple(free),
        weighted_sse=float(np.sum(res.fun**2)),
        rmse=math.sqrt(sse / len(g)),
        r_squared=1.0 - sse / sst if sst > 0 else float("nan"),
        success=bool(res.success),
        message=str(res.message),
        nfev=int(res.nfev),
        diagnostics={
            "n_bins": len(emp.lag),
            "n_pairs": int(emp.count.sum()),
            "at_bound": _at_bound(res.x, lo, hi, free),
        },
    )


# ---------------------------------------------------------------------------
# The network recipe: one fit for `netsim run` and `netsim krige`
# ---------------------------------------------------------------------------

NETWORK_N_LAGS = 8
"""Lag bins of the network recipe (:func:`fit_network_variogram`)."""

NETWORK_MAX_LAG_FRACTION = 0.6
"""Largest lag of the network recipe, as a fraction of the network extent (or the
median station separation, if larger)."""

RANGE_MIN_M = 5_000.0
"""Smallest fitted range (metres) for a network wider than 50 km."""

RANGE_MIN_EXTENT_FRACTION = 0.1
"""Below 50 km of extent the smallest range is this fraction of the extent."""

RANGE_MAX_EXTENT_RATIO = 2.0
"""Largest fitted range, as a multiple of the network extent."""

MIN_STATIONS_FOR_FIT = 10
"""Fewer stations than this give a poorly determined variogram (a warning)."""

MSDR_PLAUSIBLE: tuple[float, float] = (0.5, 2.0)
"""Leave-one-out mean squared deviation ratios outside this band get a warning."""


def network_extent(xy: np.ndarray) -> float:
    """Diagonal of the stations' bounding box, metres (the network's extent)."""
    xy = np.asarray(xy, dtype=float)
    return float(np.hypot(*np.ptp(xy, axis=0)))


def range_bounds(extent_m: float) -> tuple[float, float]:
    """Bounds of the fitted range (metres) for a network of extent ``extent_m``.

    ``(min(5 km, 0.1 x extent), 2 x extent)``: the upper bound keeps the range
    within what the stations can show (a semivariogram still rising at the
    largest lag does not say how far it goes on); the lower bound is 5 km --
    what ``netsim run`` always used -- unless the network is smaller than
    50 km, where a 5 km floor would exceed the ceiling for 2.5 km (3 stations
    close together) and would forbid ranges shorter than the network itself.
    """
    return min(RANGE_MIN_M, RANGE_MIN_EXTENT_FRACTION * extent_m), RANGE_MAX_EXTENT_RATIO * extent_m


@dataclass(frozen=True)
class NetworkVariogramFit:
    """Result of :func:`fit_network_variogram`.

    Attributes
    ----------
    fit : VariogramFit
        The Cressie-WLS fit (``fit.variogram`` is the model).
    extent_m : float
        Network extent (diagonal of the stations' bounding box), metres.
    range_bounds_m : (float, float)
        Bounds the range was fitted within, metres (:func:`range_bounds`).
    warnings : tuple of str
        Why the fit may be implausible (one sentence each; empty when none).
    """

    fit: VariogramFit
    extent_m: float
    range_bounds_m: tuple[float, float]
    warnings: tuple[str, ...]

    @property
    def variogram(self) -> Variogram:
        """The fitted model."""
        return self.fit.variogram


def fit_network_variogram(
    xy: np.ndarray, values: np.ndarray, model: str = "spherical"
) -> NetworkVariogramFit:
    """Fit a variogram to a monitoring network's values: the recipe of ``netsim run`` and ``netsim krige``.

    :func:`fit_variogram` (Cressie-weighted least squares) with
    :data:`NETWORK_N_LAGS` = 8 lag bins up to :data:`NETWORK_MAX_LAG_FRACTION`
    = 0.6 x the network extent -- or the median station separation when that
    is larger, so at least half the station pairs count (3 or 4 stations;
    never for Beijing's network, whose median separation is ~0.3 x its
    extent) -- and the range bounded by :func:`range_bounds`
    (5 km, or 0.1 x the extent below 50 km, to 2 x the extent).  Warnings
    (:attr:`NetworkVariogramFit.warnings`) when fewer than
    :data:`MIN_STATIONS_FOR_FIT` = 10 stations carry values, or when the range
    ends at one of its bounds -- at the upper one the semivariogram has not
    levelled off within the network, so the range is set by the bound, not
    by the data.

    Parameters
    ----------
    xy : ndarray (n, 2)
        Station coordinates, metres (EPSG:32650).
    values : ndarray (n,) or (T, n)
        Concentrations (µg/m³; CO mg/m³); with (T, n) the pairs of all steps
        are pooled (NaN = missing).
    model : str
        One of :data:`MODELS`.

    Returns
    -------
    NetworkVariogramFit
        Check ``fit.success`` (convergence) before using the model.

    Raises
    ------
    VariogramError
        Fewer than 3 stations, all stations at one point, or bad shapes.
    """
    xy, vals = _check_xy_values(xy, values)
    extent = network_extent(xy)
    if not extent > 0:
        raise VariogramError("xy: all stations are at one point; a variogram needs distances")
    bounds = range_bounds(extent)
    iu, ju = np.triu_indices(xy.shape[0], k=1)
    median_pair = float(np.median(np.hypot(*(xy[iu] - xy[ju]).T)))
    max_lag = max(NETWORK_MAX_LAG_FRACTION * extent, median_pair)
    fit = fit_variogram(
        xy, vals, model, n_lags=NETWORK_N_LAGS, max_distance=max_lag, bounds={"range": bounds}
    )
    n_with_values = int(np.isfinite(vals).any(axis=0).sum())
    return NetworkVariogramFit(
        fit=fit,
        extent_m=extent,
        range_bounds_m=bounds,
        warnings=tuple(_fit_warnings(fit.variogram, n_with_values, extent, bounds)),
    )


def _fit_warnings(
    v: Variogram, n_stations: int, extent_m: float, bounds: tuple[float, float]
) -> list[str]:
    out = []
    if n_stations < MIN_STATIONS_FOR_FIT:
        out.append(
            f"only {n_stations} stations carry values: a variogram fitted to "
            f"{n_stations * (n_stations - 1) // 2} station pairs is poorly determined "
            f"(at least {MIN_STATIONS_FOR_FIT} recommended); consider a variogram file"
        )
    lo, hi = bounds
    tol = 1e-6 * (hi - lo)
    if v.range >= hi - tol:
        out.append(
            f"fitted range {v.range / 1000:.1f} km is at its upper bound, "
            f"{RANGE_MAX_EXTENT_RATIO:g} x the network extent ({extent_m / 1000:.1f} km): the "
            "semivariogram does not level off within the network, so the data do not "
            "determine the range; consider a variogram file or another model"
        )
    elif v.range <= lo + tol:
        out.append(
            f"fitted range {v.range / 1000:.2f} km is at its lower bound ({lo / 1000:.2f} km): "
            "the values look uncorrelated at the station spacing"
        )
    return out


def msdr_warning(msdr: float, n_stations: int) -> str | None:
    """A warning when the leave-one-out MSDR is outside :data:`MSDR_PLAUSIBLE` = (0.5, 2).

    The mean squared deviation ratio (squared residual / kriging variance,
    averaged) is ≈ 1 when the kriging variance is right (Cressie 1993,
    §3.2.2); outside (0.5, 2) the kriging standard deviations are off by
    more than a factor √2 on average.  None when inside (or not finite).
    """
    lo, hi = MSDR_PLAUSIBLE
    if not np.isfinite(msdr) or lo <= msdr <= hi:
        return None
    side = "overstate" if msdr < lo else "understate"
    factor = max(np.sqrt(msdr), 1.0 / np.sqrt(msdr))
    return (
        f"leave-one-out MSDR {msdr:.2f} over {n_stations} stations is outside "
        f"[{lo:g}, {hi:g}]: the kriging standard deviations {side} the errors "
        f"about {factor:.2g}-fold; check the variogram"
    )


def _at_bound(x: np.ndarray, lo: list[float], hi: list[float], free: list[str]) -> list[str]:
    out = []
    for v, a, b, name in zip(x, lo, hi, free, strict=True):
        tol = 1e-6 * (b - a)
        if v - a <= tol or b - v <= tol:
            out.append(name)
    return out


def _replace(v: Variogram, **kw: Any) -> Variogram:
    return replace(v, **kw)
