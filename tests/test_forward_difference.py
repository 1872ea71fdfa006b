"""netsim.forward_difference against SciPy's own '2-point' differences."""

import numpy as np
import pytest
from scipy import optimize
from scipy.optimize._numdiff import approx_derivative  # what least_squares' '2-point' calls

from netsim.forward_difference import forward_difference_jacobian


def _residuals(theta: np.ndarray) -> np.ndarray:
    h = np.linspace(1_000.0, 40_000.0, 8)
    x = np.minimum(h / theta[1], 1.0)
    g = theta[0] * (1.5 * x - 0.5 * x**3) + theta[2]
    return np.sqrt(np.arange(1.0, 9.0)) * (np.linspace(3.0, 9.0, 8) - g) / g


BOUNDS = (np.array([1e-6, 500.0, 0.0]), np.array([40.0, 60_000.0, 9.0]))


@pytest.mark.parametrize("x", [
    [5.0, 20_000.0, 1.0],          # inside
    [40.0, 60_000.0, 0.0],         # on bounds: the steps turn back
    [40.0 - 1e-9, 30_000.0, 9.0],  # a step that would leave the box
    [0.5, 700.0, 1e-12],           # |x| < 1: steps of √ε
])
def test_jacobian_equals_scipy_two_point_bit_for_bit(x):
    x = np.array(x)
    ours = forward_difference_jacobian(_residuals, x, *BOUNDS)
    scipy_jac = approx_derivative(_residuals, x, method="2-point", bounds=BOUNDS)
    assert ours.shape == scipy_jac.shape == (8, 3)
    assert np.array_equal(ours, scipy_jac)
    assert ours.flags.f_contiguous == scipy_jac.flags.f_contiguous


@pytest.mark.parametrize("x", [1.0 + 4e-11, 1.0 + 6e-11])  # the upper, then the lower bound
def test_box_narrower_than_the_step_uses_the_farther_bound(x):
    lower, upper = np.array([1.0]), np.array([1.0 + 1e-10])
    f = lambda t: 1e20 * (t - 1.0) ** 2  # noqa: E731  (its slope changes within the box)
    ours = forward_difference_jacobian(f, np.array([x]), lower, upper)
    scipy_jac = approx_derivative(f, np.array([x]), method="2-point", bounds=(lower, upper))
    assert np.array_equal(ours, np.atleast_2d(scipy_jac))  # SciPy ravels a single residual


def test_unbounded_and_negative_variables():
    f = lambda t: np.array([t[0] ** 3, np.sin(t[1]) * t[0]])  # noqa: E731
    x = np.array([-3.0, 0.0])
    inf = np.full(2, np.inf)
    assert np.array_equal(forward_difference_jacobian(f, x, -inf, inf),
                          approx_derivative(f, x, method="2-point"))


def test_least_squares_takes_the_same_iterates():
    x0 = np.array([4.0, 10_000.0, 0.5])
    ours = optimize.least_squares(
        _residuals, x0, bounds=BOUNDS, method="trf",
        jac=lambda t: forward_difference_jacobian(_residuals, t, *BOUNDS))
    scipy_fit = optimize.least_squares(_residuals, x0, bounds=BOUNDS, method="trf")
    assert np.array_equal(ours.x, scipy_fit.x)
    assert ours.nfev == scipy_fit.nfev and ours.njev == scipy_fit.njev
