"""The conditioned truth's serial point kernel against the truth's threaded one."""

import numpy as np

from netsim.conditional_kernels import point_field_serial
from netsim.truth_kernels import point_field


def test_serial_point_field_equals_the_threaded_kernel_bit_for_bit():
    rng = np.random.default_rng(15)
    x, y = rng.uniform(0.0, 150_000.0, (2, 40))
    kx, ky, z1, z2 = rng.normal(size=(4, 256)) * np.array([[1e-4], [1e-4], [1.0], [1.0]])
    serial, threaded = np.empty(40), np.empty(40)
    point_field_serial(x, y, kx, ky, z1, z2, serial)
    point_field(x, y, kx, ky, z1, z2, threaded)
    assert np.array_equal(serial, threaded)
    # and the formula: sum of z1 cos(k.x) + z2 sin(k.x) over the modes, / sqrt(N)
    phase = np.outer(x, kx) + np.outer(y, ky)
    expected = (z1 * np.cos(phase) + z2 * np.sin(phase)).sum(axis=1) / np.sqrt(256)
    np.testing.assert_allclose(serial, expected, rtol=1e-12, atol=1e-12)
