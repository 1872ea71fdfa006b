"""netsim.assessment: NetAssess metrics (standards.md §5.2) and the HJ 664 test (§4.3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from netsim.assessment import (
    area_served,
    correlation_matrix,
    delaunay_neighbours,
    hj664_representativeness,
    removal_bias,
    station_metrics,
    thiessen_polygons,
    weighted_percentile,
)
from netsim.errors import NetsimError

SQUARE = shapely.box(0.0, 0.0, 2000.0, 2000.0)


def test_area_served_four_symmetric_stations_get_a_quarter_each() -> None:
    # Hand calculation: the bisectors of 4 stations at the quarter points split a
    # 2 km x 2 km square into four 1 km² squares.
    xy = np.array([[500, 500], [1500, 500], [500, 1500], [1500, 1500]], float)
    area = area_served(xy, SQUARE, ids=["a", "b", "c", "d"])
    np.testing.assert_allclose(area.to_numpy(), 1.0, rtol=1e-12)
    assert list(area.index) == ["a", "b", "c", "d"]


def test_area_served_two_stations_split_at_the_bisector() -> None:
    # Stations at x = 200 and x = 1000: bisector at x = 600 -> 0.6 km * 2 km and 1.4 * 2.
    xy = np.array([[200, 1000], [1000, 1000]], float)
    np.testing.assert_allclose(area_served(xy, SQUARE).to_numpy(), [1.2, 2.8], rtol=1e-12)


def test_area_served_one_station_gets_everything_and_order_is_kept() -> None:
    assert area_served(np.array([[10.0, 10.0]]), SQUARE).iloc[0] == pytest.approx(4.0)
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 2000, (25, 2))
    polys = thiessen_polygons(xy, SQUARE)
    for p, (x, y) in zip(polys, xy, strict=True):  # each cell contains its own station
        assert p.contains(shapely.Point(x, y))
    assert area_served(xy, SQUARE).sum() == pytest.approx(4.0, rel=1e-9)


def test_area_served_beijing_network_covers_the_municipality() -> None:
    from netsim.geography import beijing_boundary
    from netsim.network import Network

    net = Network.from_file("stations/beijing_35.csv")
    area = area_served(net)
    assert area.sum() == pytest.approx(beijing_boundary().area / 1e6, rel=1e-6)
    # Mountain stations serve far more territory than the central ones.
    assert area["miyunshuiku"] > 10 * area["dongsi"]


def test_area_served_rejects_duplicate_points() -> None:
    with pytest.raises(NetsimError, match="share coordinates"):
        area_served(np.array([[1.0, 1.0], [1.0, 1.0]]), SQUARE)


def _hexagon(r: float = 1000.0) -> np.ndarray:
    ang = np.deg2rad(np.arange(0, 360, 60))
    return np.vstack([[0.0, 0.0], np.column_stack([r * np.cos(ang), r * np.sin(ang)])])


def test_delaunay_neighbours_of_hexagon_centre_are_all_six() -> None:
    nb = delaunay_neighbours(_hexagon())
    assert list(nb[0]) == [1, 2, 3, 4, 5, 6]
    # each outer vertex: the centre and its two ring neighbours
    assert list(nb[1]) == [0, 2, 6]


def test_delaunay_neighbours_collinear_and_pair() -> None:
    xy = np.array([[0, 0], [3000, 0], [1000, 0], [2000, 0]], float)
    nb = delaunay_neighbours(xy)
    assert [list(n) for n in nb] == [[2], [3], [0, 3], [1, 2]]
    assert [list(n) for n in delaunay_neighbours(xy[:2])] == [[1], [0]]


def test_removal_bias_is_zero_on_a_linear_field_at_a_symmetric_interior_station() -> None:
    # A linear field is reproduced exactly by the 1/d² mean of neighbours placed
    # symmetrically around the station (the weights are equal and the offsets cancel).
    xy = _hexagon()
    days = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])  # gradients per day (per km)
    values = 50.0 + days @ (xy.T / 1000.0)
    rb = removal_bias(xy, values)
    assert rb.loc[0, "mean_bias"] == pytest.approx(0.0, abs=1e-12)
    assert rb.loc[0, "sd_bias"] == pytest.approx(0.0, abs=1e-12)
    assert rb.loc[0, "n_neighbours"] == 6
    assert rb.loc[0, "n_days"] == 3


def test_removal_bias_hand_calculation() -> None:
    # Station 0 at the origin, neighbours at 1 km (value 10) and 2 km (value 20),
    # collinear: weights 1 and 1/4 -> estimate (10 + 20/4)/(1.25) = 12; measured 8.
    xy = np.array([[-1000.0, 0.0], [0.0, 0.0], [2000.0, 0.0]])
    values = np.array([[10.0, 8.0, 20.0], [10.0, 16.0, 20.0]])
    rb = removal_bias(xy, values, ids=["w", "s", "e"])
    assert rb.loc["s", "mean_bias"] == pytest.approx(((12 - 8) + (12 - 16)) / 2)
    assert rb.loc["s", "min_bias"] == pytest.approx(-4.0)
    assert rb.loc["s", "max_bias"] == pytest.approx(4.0)
    assert rb.loc["s", "sd_bias"] == pytest.approx(np.std([4.0, -4.0], ddof=1))
    assert rb.loc["s", "mean_relative_bias_pct"] == pytest.approx((50.0 - 25.0) / 2)
    # end stations have one neighbour (station s): estimate = s's value
    assert rb.loc["w", "mean_bias"] == pytest.approx(((8 - 10) + (16 - 10)) / 2)


def test_removal_bias_skips_missing_days_and_uses_available_neighbours() -> None:
    xy = np.array([[-1000.0, 0.0], [0.0, 0.0], [2000.0, 0.0]])
    values = np.array([[np.nan, 8.0, 20.0], [10.0, np.nan, 20.0]])
    rb = removal_bias(xy, values)
    # day 0: only the east neighbour -> estimate 20, bias 12; day 1: station missing
    assert rb.loc[1, "n_days"] == 1
    assert rb.loc[1, "mean_bias"] == pytest.approx(12.0)


def test_removal_bias_shape_error() -> None:
    with pytest.raises(NetsimError, match="expected"):
        removal_bias(_hexagon(), np.zeros((3, 4)))


def test_correlation_matrix_pairs() -> None:
    xy = np.array([[0.0, 0.0], [3000.0, 4000.0], [0.0, 1000.0]])
    v = np.array([[1.0, 2.0, 5.0], [2.0, 4.0, 3.0], [3.0, 6.0, 1.0]])
    cm = correlation_matrix(xy, v, ids=["a", "b", "c"])
    row = cm[(cm.station_a == "a") & (cm.station_b == "b")].iloc[0]
    assert row.r == pytest.approx(1.0)
    assert row.distance_km == pytest.approx(5.0)
    # |a-b| / ((a+b)/2) = 1/1.5 every day
    assert row.mean_relative_difference == pytest.approx(2.0 / 3.0)
    assert cm[(cm.station_a == "a") & (cm.station_b == "c")].iloc[0].r == pytest.approx(-1.0)
    assert len(cm) == 3


def test_weighted_percentile_matches_hj663_example_and_equal_weights() -> None:
    x = np.array([3, 4, 8, 2, 5, 4], float)
    assert weighted_percentile(x, 90) == pytest.approx(6.5)  # standards.md §2.3
    for q in (0, 30, 50, 80, 90, 100):
        assert weighted_percentile(x, q, np.full(6, 2.5)) == pytest.approx(np.percentile(x, q))
    # integer weights = repeated values
    rep = np.repeat([1.0, 2.0, 3.0], [1, 1, 2])
    assert weighted_percentile([1.0, 2.0, 3.0], 50, [1, 1, 2]) == pytest.approx(
        np.percentile(rep, 50), abs=0.5)


def test_hj664_mean_criterion_edges_at_exactly_ten_percent() -> None:
    field = np.full(100, 100.0)
    assert hj664_representativeness([110.0], field).mean_passed
    assert hj664_representativeness([90.0], field).mean_passed
    assert not hj664_representativeness([110.01], field).mean_passed
    assert not hj664_representativeness([89.99], field).mean_passed
    r = hj664_representativeness([110.0], field)
    assert r.mean_relative_error == pytest.approx(0.10)


def test_hj664_percentile_criterion_edges_at_exactly_fifteen_percent() -> None:
    field = np.full(50, 100.0)
    at_edge = hj664_representativeness(np.full(5, 115.0), field, mean_tolerance=0.2)
    assert at_edge.mean_passed and at_edge.percentiles["passed"].all() and at_edge.passed
    over = hj664_representativeness(np.full(5, 115.02), field, mean_tolerance=0.2)
    assert over.mean_passed and not over.percentiles["passed"].any() and not over.passed
    assert list(over.percentiles.index) == [30, 50, 80, 90]


def test_hj664_hand_worked_case_and_weights() -> None:
    # Field 1..100 (mean 50.5, p30 = 30.7, p50 = 50.5, p80 = 80.2, p90 = 90.1 by type 7);
    # stations 30, 50, 60, 80, 90: mean 62 -> 22.8 % off: fails the mean; their p30:
    # k = 1 + 4 x 0.3 = 2.2 -> 50 + 0.2 x (60 - 50) = 52, 69 % above 30.7: fails.
    field = np.arange(1.0, 101.0)
    res = hj664_representativeness([30.0, 50.0, 60.0, 80.0, 90.0], field)
    assert res.field_mean == pytest.approx(50.5)
    assert res.percentiles.loc[30, "field"] == pytest.approx(30.7)
    assert res.percentiles.loc[30, "network"] == pytest.approx(52.0)
    assert not res.percentiles.loc[30, "passed"]
    assert not res.mean_passed and not res.passed
    # weights: all weight on the value 62 -> field mean 62, mean passes
    w = np.zeros(100)
    w[61] = 1.0
    assert hj664_representativeness([30.0, 50.0, 60.0, 80.0, 90.0], field, w).mean_passed
    d = res.to_dict()
    assert d["passed"] is False and set(d["percentiles"]) == {"p30", "p50", "p80", "p90"}


def test_hj664_percentiles_are_numpy_s_type_7_percentiles_of_the_valid_values() -> None:
    rng = np.random.default_rng(6)
    field = rng.gamma(2.0, 20.0, (3, 500))
    field[rng.random(field.shape) < 0.2] = np.nan
    stations = rng.gamma(2.0, 20.0, 12)
    table = hj664_representativeness(stations, field).percentiles
    for q in (30, 50, 80, 90):
        assert table.loc[q, "field"] == np.percentile(field[np.isfinite(field)], q)
        assert table.loc[q, "network"] == np.percentile(stations, q)


def test_hj664_configurable_tolerances_and_nan_ignored() -> None:
    field = np.array([100.0, np.nan, 100.0])
    res = hj664_representativeness([np.nan, 120.0], field, mean_tolerance=0.25,
                                   percentile_tolerance=0.25)
    assert res.passed
    with pytest.raises(NetsimError):
        hj664_representativeness([np.nan], field)


def test_station_metrics_rows_are_each_pollutant_s_removal_bias_and_area_served() -> None:
    """``station_metrics.csv``'s rows: per pollutant, the stations in network order with
    their removal bias (:func:`removal_bias`) and area served (:func:`area_served`)."""
    from netsim.network import Network

    network = Network.from_file(Path(__file__).parents[1] / "stations" / "beijing_35.csv")
    rng = np.random.default_rng(4)
    daily = {p: rng.gamma(2.0, 20.0, (366, len(network))) for p in ("PM2.5", "NO2")}
    daily["NO2"][rng.random(daily["NO2"].shape) < 0.1] = np.nan
    frame = station_metrics(network, daily)
    assert list(frame.columns) == ["station_id", "pollutant", "removal_bias",
                                   "relative_removal_bias_pct", "area_served_km2"]
    served = area_served(network).to_numpy()
    for i, p in enumerate(daily):
        rows = frame.iloc[i * len(network):(i + 1) * len(network)]
        bias = removal_bias(network, daily[p])
        assert (rows["pollutant"] == p).all()
        assert list(rows["station_id"]) == list(network.ids)
        np.testing.assert_array_equal(rows["removal_bias"], bias["mean_bias"])
        np.testing.assert_array_equal(rows["relative_removal_bias_pct"],
                                      bias["mean_relative_bias_pct"])
        np.testing.assert_allclose(rows["area_served_km2"], served, rtol=1e-12)
    assert station_metrics(network, {}).empty
