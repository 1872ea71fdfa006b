"""Small kriging problems run their parallel kernels on one thread
(netsim.kriging.api.SERIAL_WORK): krige() gives the same bits on either side of the
switch-over."""

from __future__ import annotations

import numpy as np
import pytest

from netsim.kriging import api, krige
from netsim.variogram import Variogram

MODELS = [("spherical", 0.5), ("exponential", 0.5), ("linear", 0.5), ("matern", 1.5)]


def _points(seed, n):
    return np.random.default_rng(seed).random((n, 2)) * 80_000.0


@pytest.mark.parametrize(("model", "smoothness"), MODELS)
@pytest.mark.parametrize("n_targets", [10, 1_000, 5_000])
@pytest.mark.parametrize("steps", [1, 3, 12])
def test_krige_is_bit_identical_on_both_sides_of_the_serial_switch(model, smoothness,
                                                                    n_targets, steps,
                                                                    monkeypatch):
    v = Variogram(model, 90.0, 25_000.0, 7.0, smoothness=smoothness)
    rng = np.random.default_rng(7)
    xy, targets = _points(3, 37), _points(4, n_targets)
    values = 40.0 + rng.normal(0.0, 6.0, (steps, 37))
    values[1:, 5] = np.nan  # two availability patterns when steps > 1
    noise = rng.uniform(0.0, 4.0, 37)
    results = []
    for work in (0, 1 << 60):  # always parallel, always serial
        monkeypatch.setattr(api, "SERIAL_WORK", work)
        r = krige(xy, values, targets, v, noise_variance=noise)
        u = krige(xy, values, targets, v, method="universal", linear_drift=True)
        results.append([r.estimate, r.variance, u.estimate, u.variance])
    for a, b in zip(*results, strict=True):
        assert a.tobytes() == b.tobytes()
