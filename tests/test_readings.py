"""netsim.readings: long-format files, hour labels, and the invalid-row policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netsim.errors import ReadingsError
from netsim.network import Network
from netsim.readings import (
    PLAUSIBLE_MAX,
    HourlyReadings,
    ReadingsWarning,
    hours_in_year,
    load_readings,
    write_readings,
)

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"


@pytest.fixture(scope="module")
def net() -> Network:
    return Network.from_file(DATA / "stations_small.csv")


def _write(tmp_path, rows: list[str], name: str = "r.csv") -> Path:
    p = tmp_path / name
    p.write_text("station_id,time,pollutant,value\n" + "\n".join(rows) + "\n")
    return p


def test_hours_in_year():
    assert hours_in_year(2020) == 8784 and hours_in_year(2021) == 8760


def test_hour_beginning_labels_by_default(tmp_path, net):
    p = _write(
        tmp_path,
        [
            "dongsi,2020-01-01 00:00,PM2.5,80",
            "dongsi,2020-01-01 23:00,PM2.5,70",
            "tiantan,2020-12-31 23:00,CO,1.4",
            "tiantan,2021-01-01 00:00,CO,9.9",  # next year: ignored
            "wanliu,2019-12-31 23:00,NO2,5",  # previous year: ignored
        ],
    )
    r = load_readings(p, net, 2020)
    assert r.values["PM2.5"].shape == (7, 8784)
    assert r.values["PM2.5"][0, 0] == 80 and r.values["PM2.5"][0, 23] == 70
    assert r.values["CO"][1, -1] == 1.4
    assert np.isnan(r.values["NO2"]).all()
    assert set(r.values) == {"PM2.5", "CO", "NO2"}
    assert r.station_ids.tolist() == net.ids.tolist()


def test_hour_ending_labels_shift_one_hour(tmp_path, net):
    p = _write(
        tmp_path,
        [
            "dongsi,2020-01-01 00:00,PM2.5,1",  # 2019-12-31 23:00-24:00: previous year
            "dongsi,2020-01-01 01:00,PM2.5,2",  # hour 0 of 2020
            "dongsi,2021-01-01 00:00,PM2.5,3",  # last hour of 2020
        ],
    )
    r = load_readings(p, net, 2020, hour_label="end")
    v = r.values["PM2.5"][0]
    assert v[0] == 2 and v[-1] == 3 and np.count_nonzero(~np.isnan(v)) == 2


def test_utc_offsets_converted_to_beijing_time(tmp_path, net):
    p = _write(
        tmp_path,
        ["dongsi,2020-01-01T00:00:00Z,O3,50", "dongsi,2020-01-01T03:00:00+08:00,O3,60"],
    )
    v = load_readings(p, net, 2020).values["O3"][0]
    assert v[8] == 50 and v[3] == 60  # 00:00 UTC = 08:00 Beijing


def test_pollutant_spellings_and_missing_values(tmp_path, net):
    p = _write(
        tmp_path,
        [
            "dongsi,2020-01-01 00:00,pm25,10",
            "dongsi,2020-01-01 01:00,pm2.5,",
            "dongsi,2020-01-01 02:00,PM2.5,NaN",
            "dongsi,2020-01-01 03:00,co,0.7",
            "dongsi,2020/01/01 04:00,PM10,33",
        ],
    )
    r = load_readings(p, net, 2020)
    v = r.values["PM2.5"][0]
    assert v[0] == 10 and np.isnan(v[1]) and np.isnan(v[2])
    assert r.values["CO"][0, 3] == 0.7 and r.values["PM10"][0, 4] == 33


def test_roundtrip_csv_and_parquet(tmp_path, net):
    rng = np.random.default_rng(3)
    vals = {p: rng.uniform(0, 200, (len(net), 8760)) for p in ("PM2.5", "O3")}
    vals["PM2.5"][2, 100:150] = np.nan
    r = HourlyReadings(net.ids, 2021, vals)
    for name in ("r.parquet", "r.csv"):
        back = load_readings(write_readings(r, tmp_path / name), net, 2021)
        for p in vals:
            np.testing.assert_allclose(back.values[p], vals[p], rtol=1e-9, equal_nan=True)


def test_readings_follow_network_order(tmp_path, net):
    p = _write(tmp_path, ["dingling,2020-01-01 00:00,SO2,3", "dongsi,2020-01-01 00:00,SO2,4"])
    r = load_readings(p, net, 2020)
    assert r.values["SO2"][0, 0] == 4 and r.values["SO2"][-1, 0] == 3
    sub = r.select(["dingling"])
    assert sub.values["SO2"].shape == (1, 8784) and sub.values["SO2"][0, 0] == 3


def test_shape_is_checked():
    with pytest.raises(ReadingsError, match=r"expected \(2, 8784\)"):
        HourlyReadings(np.array(["a", "b"]), 2020, {"PM2.5": np.zeros((2, 8760))})


# ------------------------------------------------------------------ invalid rows

BAD_CASES = [
    (
        "readings_unknown_station.csv",
        "line 4, field 'station_id': station not in the network",
    ),
    ("readings_unknown_pollutant.csv", "line 3, field 'pollutant': unknown pollutant (NOx"),
    ("readings_negative_value.csv", "line 3, field 'value': negative concentration"),
    ("readings_duplicate_row.csv", "lines 3, 4, duplicated (station_id, time, pollutant)"),
    ("readings_bad_time.csv", "line 3, field 'time': not a date-time"),
    ("readings_time_not_on_hour.csv", "line 3, field 'time': not on a whole hour"),
    ("readings_non_numeric_value.csv", "line 3, field 'value': not a number"),
    ("readings_missing_column.csv", "missing column(s) pollutant"),
    ("readings_infinite_value.csv", "line 3, field 'value': infinite (inf)"),
    ("readings_implausible_value.csv", "line 4, field 'value': above the plausibility bound"),
]


@pytest.mark.parametrize(("name", "expected"), BAD_CASES)
def test_bad_readings_file_one_line_message(name, expected, net):
    with pytest.raises(ReadingsError) as info:
        load_readings(BAD / name, net, 2020)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(BAD / name))
    assert expected in msg


def test_drop_policy_counts_and_warns(tmp_path, net):
    p = _write(
        tmp_path,
        [
            "dongsi,2020-01-01 00:00,PM2.5,80",
            "nowhere,2020-01-01 00:00,PM2.5,80",
            "dongsi,2020-01-01 01:00,PM2.5,-1",
            "dongsi,2020-01-01 02:00,PM2.5,50",
            "dongsi,2020-01-01 02:00,PM2.5,55",
            "dongsi,2020-01-01 03:00,PM2.5,60",
        ],
    )
    with pytest.warns(ReadingsWarning) as rec:
        r = load_readings(p, net, 2020, on_invalid="drop")
    assert len(rec) == 1
    text = str(rec[0].message)
    assert "dropped 4 invalid row(s)" in text and "\n" not in text
    assert "unknown station: 1 (line 3)" in text and "duplicate row: 2 (lines 5, 6)" in text
    assert r.dropped == {"unknown station": 1, "negative value": 1, "duplicate row": 2}
    v = r.values["PM2.5"][0]
    # both copies of the duplicate are dropped: that hour is missing
    assert v[0] == 80 and np.isnan(v[1]) and np.isnan(v[2]) and v[3] == 60


def test_raise_message_counts_all_problems(tmp_path, net):
    rows = [f"nowhere,2020-01-01 {h:02d}:00,PM2.5,1" for h in range(7)]
    p = _write(tmp_path, rows)
    with pytest.raises(ReadingsError, match=r"lines 2, 3, 4, 5, 6 and 2 more.*7 invalid row"):
        load_readings(p, net, 2020)


def test_bad_options(tmp_path, net):
    p = _write(tmp_path, ["dongsi,2020-01-01 00:00,PM2.5,80"])
    with pytest.raises(ReadingsError, match="hour_label"):
        load_readings(p, net, 2020, hour_label="middle")
    with pytest.raises(ReadingsError, match="on_invalid"):
        load_readings(p, net, 2020, on_invalid="ignore")
    with pytest.raises(ReadingsError, match="unsupported"):
        load_readings(p.rename(tmp_path / "r.txt"), net, 2020)


# ------------------------------------------------------------- non-finite and absurd values


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("inf", "infinite value"),
        ("-inf", "infinite value"),
        ("Infinity", "infinite value"),
        ("1e300", "implausible value"),
        ("50001", "implausible value"),
    ],
)
def test_infinite_and_implausible_values_are_invalid(tmp_path, net, text, reason):
    rows = ["dongsi,2020-01-01 00:00,PM10,80", f"dongsi,2020-01-01 01:00,PM10,{text}"]
    p = _write(tmp_path, rows)
    with pytest.raises(ReadingsError, match=rf"line 3, field 'value'.*\({reason}: 1\)"):
        load_readings(p, net, 2020)
    with pytest.warns(ReadingsWarning, match=reason):
        r = load_readings(p, net, 2020, on_invalid="drop")
    assert r.dropped == {reason: 1}
    v = r.values["PM10"][0]
    assert v[0] == 80 and np.isnan(v[1]) and np.isfinite(v[~np.isnan(v)]).all()


def test_plausibility_bounds_per_pollutant(tmp_path, net):
    # the bounds themselves are accepted; CO given in µg/m³ by mistake (1400) is not
    assert PLAUSIBLE_MAX["PM10"] == 50_000 and PLAUSIBLE_MAX["CO"] == 1_000
    ok = _write(
        tmp_path,
        ["dongsi,2020-01-01 00:00,PM10,50000", "dongsi,2020-01-01 00:00,CO,1000"],
    )
    r = load_readings(ok, net, 2020)
    assert r.values["PM10"][0, 0] == 50_000 and r.values["CO"][0, 0] == 1_000
    bad = _write(tmp_path, ["dongsi,2020-01-01 00:00,CO,1400"], name="co.csv")
    with pytest.raises(ReadingsError, match=r"line 2, field 'value'.*CO 1000 mg/m³"):
        load_readings(bad, net, 2020)


def test_infinite_value_in_parquet_is_invalid(tmp_path, net):
    df = pd.DataFrame(
        {
            "station_id": ["dongsi", "dongsi"],
            "time": pd.to_datetime(["2020-01-01 00:00", "2020-01-01 01:00"]),
            "pollutant": ["O3", "O3"],
            "value": [40.0, np.inf],
        }
    )
    df.to_parquet(tmp_path / "r.parquet", index=False)
    with pytest.raises(ReadingsError, match=r"row 2, field 'value': infinite"):
        load_readings(tmp_path / "r.parquet", net, 2020)


def test_hourly_readings_reject_infinite_arrays(net):
    a = np.full((len(net), 8784), 10.0)
    a[1, 5] = np.inf
    with pytest.raises(ReadingsError, match=r"PM2\.5 has infinite values"):
        HourlyReadings(net.ids, 2020, {"PM2.5": a})


# --------------------------------------------------- chunked reading of many-year files


def _multi_year(net: Network, years: range, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Long rows (shuffled) of a few stations and pollutants over ``years``, and the
    expected dense arrays per year built directly from the same numbers."""
    rng = np.random.default_rng(seed)
    stations = net.ids[:3]
    frames, expected = [], {}
    for year in years:
        n_h = hours_in_year(year)
        times = pd.date_range(f"{year}-01-01", periods=n_h, freq="h")
        hours = rng.choice(n_h, 40, replace=False)  # sparse: 40 hours per station & pollutant
        arrays = {}
        for p in ("PM2.5", "CO"):
            arr = np.full((len(net), n_h), np.nan)
            for i, sid in enumerate(stations):
                vals = np.round(rng.uniform(0, 300 if p == "PM2.5" else 5, len(hours)), 1)
                vals[::7] = np.nan  # some empty values: missing hours
                arr[i, hours] = vals
                frames.append(
                    pd.DataFrame({"station_id": sid, "time": times[hours], "pollutant": p,
                                  "value": vals})
                )
            arrays[p] = arr
        expected[year] = arrays
    df = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed)
    return df.reset_index(drop=True), expected


def _to_csv(df: pd.DataFrame, path: Path) -> Path:
    out = df.assign(time=df["time"].dt.strftime("%Y-%m-%d %H:%M"))
    out.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("chunk_rows", [50, 10**6])
def test_chunked_reading_equals_the_data(tmp_path, net, chunk_rows):
    df, expected = _multi_year(net, range(2019, 2022))
    files = [
        _to_csv(df, tmp_path / "r.csv"),
        tmp_path / "r.parquet",
        tmp_path / "text_times.parquet",
    ]
    df.to_parquet(files[1], index=False)
    df.assign(time=df["time"].dt.strftime("%Y-%m-%dT%H:%M")).to_parquet(files[2], index=False)
    for path in files:
        for year in (2019, 2020, 2021):
            r = load_readings(path, net, year, chunk_rows=chunk_rows)
            assert set(r.values) == {"PM2.5", "CO"}
            for p, arr in expected[year].items():
                np.testing.assert_array_equal(r.values[p], arr, err_msg=f"{path.name} {year} {p}")


def test_utc_timestamps_in_parquet(tmp_path, net):
    df = pd.DataFrame(
        {
            "station_id": ["dongsi", "dongsi"],
            "time": pd.to_datetime(["2019-12-31 16:00", "2020-12-31 15:00"]).tz_localize("UTC"),
            "pollutant": ["NO2", "NO2"],
            "value": [11.0, 12.0],
        }
    )
    df.to_parquet(tmp_path / "r.parquet", index=False)
    v = load_readings(tmp_path / "r.parquet", net, 2020, chunk_rows=1).values["NO2"][0]
    assert v[0] == 11 and v[-1] == 12  # 16:00 UTC = 00:00 Beijing next day


def test_error_line_in_a_later_chunk(tmp_path, net):
    rows = [f"dongsi,2020-01-01 {h:02d}:00,SO2,{h}" for h in range(20)]
    rows[16] = "dongsi,2020-01-01 16:00,SO2,-3"  # file line 18 (header = line 1)
    p = _write(tmp_path, rows)
    for chunk_rows in (1, 3, 5, 100):
        with pytest.raises(ReadingsError, match=r"r\.csv line 18, field 'value': negative"):
            load_readings(p, net, 2020, chunk_rows=chunk_rows)


def test_duplicates_across_chunk_boundaries(tmp_path, net):
    rows = [f"tiantan,2020-03-01 {h:02d}:00,PM10,{h + 10}" for h in range(10)]
    rows.append("tiantan,2020-03-01 02:00,PM10,99")  # line 12 repeats line 4
    rows.append("tiantan,2020-03-01 02:00,PM10,98")  # and again: line 13
    rows.append("tiantan,2020-03-01 07:00,PM10,")  # line 14 repeats line 9 (empty value)
    p = _write(tmp_path, rows)
    for chunk_rows in (1, 2, 4, 100):
        with pytest.raises(ReadingsError, match=r"lines 4, 9, 12, 13, 14, duplicated .*"
                                                r"5 invalid row\(s\) in all \(duplicate row: 5\)"):
            load_readings(p, net, 2020, chunk_rows=chunk_rows)
        with pytest.warns(ReadingsWarning):
            r = load_readings(p, net, 2020, on_invalid="drop", chunk_rows=chunk_rows)
        assert r.dropped == {"duplicate row": 5}
        v = r.values["PM10"][1, 24 * 60 : 24 * 60 + 10]  # 1 March 2020 = day 60
        expected = np.arange(10, 20, dtype=float)
        expected[[2, 7]] = np.nan  # every copy dropped
        np.testing.assert_array_equal(v, expected)


def test_rows_of_other_years_are_not_checked(tmp_path, net):
    rows = [
        "dongsi,2020-06-01 00:00,PM2.5,30",
        "nowhere,2019-06-01 00:00,PM2.5,30",  # unknown station, other year
        "dongsi,2021-06-01 00:00,PM2.5,-5",  # negative, other year
        "dongsi,2018-06-01 00:00,PM2.5,inf",
        "dongsi,2019-06-01 00:00,PM2.5,1",
        "dongsi,2019-06-01 00:00,PM2.5,2",  # duplicate, other year
    ]
    p = _write(tmp_path, rows)
    r = load_readings(p, net, 2020, chunk_rows=2)
    assert np.count_nonzero(~np.isnan(r.values["PM2.5"])) == 1
    with pytest.raises(ReadingsError, match=r"line 3, field 'station_id'.*3 invalid row"):
        load_readings(p, net, 2019, chunk_rows=2)


def test_unreadable_time_is_invalid_whatever_the_year(tmp_path, net):
    p = _write(tmp_path, ["dongsi,2020-06-01 00:00,PM2.5,30", "dongsi,someday,PM2.5,30"])
    with pytest.raises(ReadingsError, match="line 3, field 'time': not a date-time"):
        load_readings(p, net, 2020, chunk_rows=1)


def test_no_data_for_the_year_lists_years_of_every_chunk(tmp_path, net):
    rows = [f"dongsi,{y}-05-01 00:00,O3,50" for y in (2016, 2017, 2018, 2022)]
    p = _write(tmp_path, rows)
    for chunk_rows in (1, 3, 100):
        with pytest.raises(ReadingsError, match=r"no readings for 2020 \(its 4 row\(s\) cover "
                                                r"2016, 2017, 2018, 2022\)"):
            load_readings(p, net, 2020, chunk_rows=chunk_rows)


def test_unreadable_parquet_is_a_one_line_error(tmp_path, net):
    p = tmp_path / "r.parquet"
    p.write_bytes(b"not a parquet file at all")
    with pytest.raises(ReadingsError, match=r"r\.parquet: cannot read"):
        load_readings(p, net, 2020)


def test_chunk_rows_must_be_positive(tmp_path, net):
    p = _write(tmp_path, ["dongsi,2020-01-01 00:00,PM2.5,80"])
    with pytest.raises(ReadingsError, match="chunk_rows"):
        load_readings(p, net, 2020, chunk_rows=0)
