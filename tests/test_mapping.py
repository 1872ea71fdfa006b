"""Tests for netsim.mapping (krige_to_raster, read_station_values) and `netsim krige`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netsim.areas import AREA_COLUMNS
from netsim.cli import main
from netsim.errors import NetworkError, ReadingsError
from netsim.mapping import krige_to_raster, leave_one_out, read_station_values
from netsim.network import Network
from netsim.rasters import read_raster
from netsim.variogram import Variogram

REPO = Path(__file__).resolve().parents[1]
STATIONS = REPO / "stations" / "beijing_35.csv"
VARIOGRAM = Variogram("exponential", psill=20.0, range=30_000.0, nugget=1.0)


@pytest.fixture(scope="module")
def network() -> Network:
    return Network.from_file(STATIONS)


def test_constant_values_give_that_constant_everywhere(tmp_path, network):
    """Ordinary kriging weights sum to one: a constant field is reproduced exactly."""
    values = pd.Series(37.0, index=network.ids)
    out = krige_to_raster(
        network, values, pollutant="PM2.5", out=tmp_path / "pm25.tif", resolution_m=5000,
        variogram=VARIOGRAM, year=2020, write_map=False,
    )  # fmt: skip
    r = read_raster(out.raster_path)
    est = r.bands["estimate"]
    grid = r.grid()
    np.testing.assert_allclose(est[grid.mask], 37.0, rtol=1e-5)
    assert (r.bands["std"][grid.mask] >= 0).all()
    assert r.tags["pollutant"] == "PM2.5" and r.tags["year"] == "2020"
    assert r.tags["statistic"] == "annual_mean"
    assert r.variogram["model"] == "exponential"
    csv = pd.read_csv(out.districts_path)
    assert out.districts_path.name == "pm25_districts.csv"
    assert len(csv) == 22  # Dongcheng has no 5 km cell centre: NaN
    assert np.allclose(csv["mean"].dropna(), 37.0) and csv["mean"].notna().sum() == 21
    # 37 > 35 (GB 3095-2012 Grade II annual PM2.5): no district meets the limit
    assert out.limit == 35 and out.territory == (0, 0.0)
    assert out.cross_validation.rmse == pytest.approx(0.0, abs=1e-6)
    # block kriging of a constant: the constant, with a standard error ≥ 0
    ok = csv["block_mean"].notna()
    assert ok.sum() == 21 and np.allclose(csv.loc[ok, "block_mean"], 37.0)
    assert (csv.loc[ok, "block_se"] >= 0).all()


def test_stations_without_value_are_left_out(tmp_path, network):
    xy = network.xy
    values = pd.Series(30 + (xy[:, 0] - 450_000) / 1e4, index=network.ids)
    values.iloc[:3] = np.nan
    out = krige_to_raster(
        network, values, pollutant="NO2", out=tmp_path / "no2.tif", resolution_m=5000,
        variogram=VARIOGRAM, write_map=True, include_traffic=True,
    )  # fmt: skip
    assert out.left_out == tuple(network.ids[:3])
    assert len(out.station_ids) == 32 and out.excluded == ()
    assert out.map_path is not None and out.map_path.exists()
    assert out.limit == 40  # NO2 annual Grade II
    tags = read_raster(out.raster_path).tags
    assert json.loads(tags["stations_left_out"]) == list(network.ids[:3])


def test_leave_one_out_matches_hand_check(network):
    xy = network.xy[:6]
    v = np.array([30.0, 32.0, 35.0, 31.0, 40.0, 38.0])
    cv = leave_one_out(xy, v, VARIOGRAM)
    from netsim.kriging import krige

    r = krige(xy[1:], v[1:], xy[:1], VARIOGRAM)
    assert cv.residuals[0] == pytest.approx(r.estimate[0] - v[0])
    assert cv.rmse == pytest.approx(np.sqrt(np.mean(cv.residuals**2)))


@pytest.mark.parametrize("k", [None, 8])
def test_leave_one_out_equals_refitting_without_each_station(network, k):
    """Residual i = (kriging from the other n-1 stations) - observed, for every i:
    the closed form (global) and the local neighbourhood agree with brute force."""
    from netsim.kriging import krige

    xy = network.xy
    rng = np.random.default_rng(5)
    v = 38 + (4_430_000 - xy[:, 1]) / 5e3 + rng.normal(0, 2, len(xy))
    cv = leave_one_out(xy, v, VARIOGRAM, station_ids=network.ids, n_neighbours=k)
    n = len(v)
    est, var = np.empty(n), np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        r = krige(xy[keep], v[keep], xy[i : i + 1], VARIOGRAM, n_neighbours=k)
        est[i], var[i] = r.estimate[0], r.variance[0]
    resid = est - v
    np.testing.assert_allclose(cv.residuals, resid, atol=1e-9)
    np.testing.assert_allclose(cv.standardised, resid / np.sqrt(var), atol=1e-9)
    assert cv.me == pytest.approx(resid.mean(), abs=1e-10)
    assert cv.rmse == pytest.approx(np.sqrt(np.mean(resid**2)), rel=1e-10)
    assert cv.msdr == pytest.approx(np.mean(resid**2 / var), rel=1e-9)
    assert list(cv.station_ids) == list(network.ids)


def test_read_station_values_plain_and_stats_files(tmp_path, network):
    ids = network.ids
    plain = tmp_path / "v.csv"
    pd.DataFrame({"station_id": ids[:5], "value": [1, 2, 3, 4, 5]}).to_csv(plain, index=False)
    s = read_station_values(plain, ids)
    assert list(s.index) == list(ids)
    assert s.iloc[:5].tolist() == [1, 2, 3, 4, 5] and s.iloc[5:].isna().all()

    stats = tmp_path / "annual_by_station.csv"
    pd.DataFrame(
        {
            "station_id": [ids[0], ids[0], ids[1]],
            "pollutant": ["PM2.5", "NO2", "PM2.5"],
            "statistic": ["annual_mean"] * 3,
            "value": [40, 30, 41],
            "valid_days": [360] * 3,
        }
    ).to_csv(stats, index=False)
    s = read_station_values(stats, ids, pollutant="PM2.5", statistic="annual_mean")
    assert s[ids[0]] == 40 and s[ids[1]] == 41
    with pytest.raises(ReadingsError, match="--statistic"):
        read_station_values(stats, ids, pollutant="PM2.5")


def test_read_station_values_errors(tmp_path, network):
    ids = network.ids
    p = tmp_path / "v.csv"
    pd.DataFrame({"station_id": ["nowhere"], "value": [1.0]}).to_csv(p, index=False)
    with pytest.raises(NetworkError, match="nowhere"):
        read_station_values(p, ids)
    pd.DataFrame({"station_id": [ids[0], ids[0]], "value": [1, 2]}).to_csv(p, index=False)
    with pytest.raises(ReadingsError, match="more than once"):
        read_station_values(p, ids)
    pd.DataFrame({"station_id": [ids[0]], "value": ["high"]}).to_csv(p, index=False)
    with pytest.raises(ReadingsError, match="not a number"):
        read_station_values(p, ids)
    pd.DataFrame({"id": [ids[0]], "value": [1]}).to_csv(p, index=False)
    with pytest.raises(ReadingsError, match="station_id"):
        read_station_values(p, ids)


def test_cli_krige_writes_three_files_and_prints_summary(tmp_path, network, capsys):
    xy = network.xy
    v = 38 + (4_430_000 - xy[:, 1]) / 5e3
    values = tmp_path / "values.csv"
    pd.DataFrame({"station_id": network.ids, "value": v}).to_csv(values, index=False)
    vfile = tmp_path / "variogram.json"
    vfile.write_text(json.dumps(VARIOGRAM.to_dict()))
    out = tmp_path / "pm25.tif"
    code = main(
        [
            "krige", "--stations", str(STATIONS), "--values", str(values),
            "--pollutant", "PM2.5", "--resolution", "5000", "--out", str(out),
            "--variogram", str(vfile),
        ]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    assert out.exists() and (tmp_path / "pm25_districts.csv").exists()
    assert (tmp_path / "pm25.png").exists()
    csv = pd.read_csv(tmp_path / "pm25_districts.csv")
    assert list(csv.columns) == [*AREA_COLUMNS, "std_mean", "block_mean", "block_se"]
    assert len(csv) == 22
    city = csv.set_index("area").loc["city"]
    # the block mean is the mean of the point estimates (written to 4 significant digits)
    assert city["block_mean"] == pytest.approx(city["mean"], rel=2e-3)
    assert 0 < city["block_se"] < city["std_mean"]
    assert "cross-validation" in text and "variogram (from file): exponential" in text


def test_cli_krige_auto_variogram(tmp_path, network, capsys):
    xy = network.xy
    rng = np.random.default_rng(3)
    v = 38 + (4_430_000 - xy[:, 1]) / 1e4 + rng.normal(0, 1.5, len(xy))
    values = tmp_path / "values.csv"
    pd.DataFrame({"station_id": network.ids, "value": v}).to_csv(values, index=False)
    code = main(
        [
            "krige", "--stations", str(STATIONS), "--values", str(values), "--pollutant",
            "pm25", "--resolution", "5000", "--out", str(tmp_path / "a.tif"), "--no-map",
        ]
    )  # fmt: skip
    assert code == 0
    assert "variogram (fitted): spherical" in capsys.readouterr().out
    assert not (tmp_path / "a.png").exists()


def test_cli_krige_unknown_station_is_a_one_line_error(tmp_path, capsys):
    values = tmp_path / "values.csv"
    pd.DataFrame({"station_id": ["atlantis"], "value": [1.0]}).to_csv(values, index=False)
    code = main(
        [
            "krige", "--stations", str(STATIONS), "--values", str(values), "--pollutant",
            "PM2.5", "--out", str(tmp_path / "x.tif"),
        ]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "atlantis" in err and "Traceback" not in err
    assert not (tmp_path / "x.tif").exists()


# ------------------------------------------------------- maps as netsim run makes them


@pytest.fixture(scope="module")
def readme_year(tmp_path_factory, network) -> Path:
    """The README example: a synthetic year (seed 1) through netsim stats' writer."""
    from netsim.stats import compute_statistics, write_statistics
    from netsim.truth import TruthSettings, TruthWorld

    readings = TruthWorld(None, TruthSettings(seed=1)).realise(0).sample_hourly(network)
    out = tmp_path_factory.mktemp("stats_2020")
    write_statistics(compute_statistics(readings, network), out)
    return out / "annual_by_station.csv"


def _cli_krige(tmp_path, values, *extra) -> list[str]:
    return [
        "krige", "--stations", str(STATIONS), "--values", str(values), "--pollutant", "PM2.5",
        "--resolution", "5000", "--out", str(tmp_path / "pm25.tif"), *extra,
    ]  # fmt: skip


def test_traffic_stations_are_left_out_unless_included(tmp_path, network):
    values = pd.Series(30 + (network.xy[:, 0] - 450_000) / 1e4, index=network.ids)
    traffic = tuple(network.ids[network.types == "traffic"])
    assert len(traffic) == 5  # stations/README.md: 5 traffic stations
    kw = {"pollutant": "PM2.5", "resolution_m": 5000, "variogram": VARIOGRAM, "write_map": False}
    default = krige_to_raster(network, values, out=tmp_path / "a.tif", **kw)
    assert len(default.station_ids) == 30 and default.excluded == traffic
    assert not set(traffic) & set(default.station_ids)
    tags = read_raster(default.raster_path).tags
    assert json.loads(tags["stations_excluded_by_type"]) == list(traffic)
    kept = krige_to_raster(network, values, out=tmp_path / "b.tif", include_traffic=True, **kw)
    assert len(kept.station_ids) == 35 and kept.excluded == ()


def test_cli_include_traffic_counts(tmp_path, network, capsys):
    values = tmp_path / "values.csv"
    v = 38 + (4_430_000 - network.xy[:, 1]) / 5e3
    pd.DataFrame({"station_id": network.ids, "value": v}).to_csv(values, index=False)
    vfile = tmp_path / "variogram.json"
    vfile.write_text(json.dumps(VARIOGRAM.to_dict()))
    counts = []
    for extra in ([], ["--include-traffic", "--overwrite"]):  # the 2nd replaces the 1st output
        args = _cli_krige(tmp_path, values, "--variogram", str(vfile), "--no-map", *extra)
        assert main(args) == 0
        out = capsys.readouterr().out
        counts.append(int(out.split("leave one out, ")[1].split(" stations")[0]))
        assert ("left out (traffic" in out) == (not extra)
    assert counts == [30, 35]


def test_readme_example_range_is_bounded_by_the_extent(tmp_path, network, readme_year, capsys):
    from netsim.network import MAP_STATION_TYPES
    from netsim.variogram import fit_variogram, network_extent

    code = main(_cli_krige(tmp_path, readme_year, "--statistic", "annual_mean", "--no-map"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    vg = read_raster(tmp_path / "pm25.tif").variogram
    series = read_station_values(readme_year, network.ids, pollutant="PM2.5",
                                 statistic="annual_mean")  # fmt: skip
    use = np.isin(network.types, MAP_STATION_TYPES) & series.notna().to_numpy()
    xy, v = network.xy[use], series.to_numpy()[use]
    extent = network_extent(xy)
    # the fit of netsim krige before: range unbounded by the extent (606 km in issue 12)
    runaway = fit_variogram(xy, v, "spherical", n_lags=8).variogram.range
    assert runaway > 2 * extent
    assert 5_000.0 <= vg["range"] <= 2 * extent * (1 + 1e-9)
    if vg["range"] >= 2 * extent * (1 - 1e-6):
        assert "warning: fitted range" in captured.err and "upper bound" in captured.err


def test_six_stations_give_warnings_on_stderr(tmp_path, network, capsys):
    values = tmp_path / "six.csv"
    ids = [i for i, t in zip(network.ids, network.types, strict=True) if t == "urban"][:6]
    pd.DataFrame({"station_id": ids, "value": [31.0, 35.5, 33.0, 40.2, 37.1, 30.4]}).to_csv(
        values, index=False
    )
    assert main(_cli_krige(tmp_path, values, "--no-map")) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("warning: ") for ln in lines)
    assert any("only 6 stations carry values" in ln for ln in lines)


@pytest.mark.parametrize("bad, what", [("-3.5", "is negative"), ("inf", "is infinite")])
def test_negative_or_infinite_value_is_refused(tmp_path, network, capsys, bad, what):
    values = tmp_path / "values.csv"
    ids = network.ids[:6]
    rows = ["station_id,value"] + [f"{i},{30 + n}" for n, i in enumerate(ids)]
    rows[3] = f"{ids[2]},{bad}"  # file line 4
    values.write_text("\n".join(rows) + "\n")
    with pytest.raises(ReadingsError, match=rf"values.csv line 4: .*'{ids[2]}' {what}"):
        read_station_values(values, network.ids)
    code = main(_cli_krige(tmp_path, values))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "line 4" in err and ids[2] in err
    assert not (tmp_path / "pm25.tif").exists()
    # the library refuses them too (values given in memory)
    series = pd.Series(30.0, index=network.ids)
    series.iloc[7] = float(bad)
    with pytest.raises(ReadingsError, match=rf"'{network.ids[7]}' {what}"):
        krige_to_raster(network, series, pollutant="PM2.5", out=tmp_path / "x.tif",
                        variogram=VARIOGRAM, write_map=False)  # fmt: skip


def test_png_draws_stations_with_values_filled_and_counts_them(tmp_path, network, monkeypatch):
    import netsim.maps as maps
    from netsim.maps import map_figure

    seen = {}

    def spy(grid, field, stations, **kw):
        kw.pop("path")
        fig = map_figure(grid, field, stations, **kw)
        seen["legend"] = [t.get_text() for t in fig.legends[0].get_texts()]
        seen["types"] = stations["type"].tolist()

    monkeypatch.setattr(maps, "static_map", spy)  # mapping imports it when it draws
    values = pd.Series(np.nan, index=network.ids)
    with_values = ["dongsi", "tiantan", "guanyuan", "dingling", "badaling", "qianmen"]
    values[with_values] = [36.0, 37.0, 34.5, 25.0, 22.0, 45.0]
    krige_to_raster(network, values, pollutant="PM2.5", out=tmp_path / "p.tif",
                    resolution_m=5000, variogram=VARIOGRAM)  # fmt: skip
    # qianmen is a traffic station: left out, not drawn; 30 map stations, 5 with values
    assert len(seen["types"]) == 30 and "traffic" not in seen["types"]
    assert "5 stations with values, 25 without (hollow)" in seen["legend"]
    assert "Urban assessment (3)" in seen["legend"] and "Background (1)" in seen["legend"]
    krige_to_raster(network, values, pollutant="PM2.5", out=tmp_path / "q.tif",
                    resolution_m=5000, variogram=VARIOGRAM, include_traffic=True)  # fmt: skip
    assert len(seen["types"]) == 35
    assert "6 stations with values, 29 without (hollow)" in seen["legend"]
    assert "Traffic (1)" in seen["legend"]
