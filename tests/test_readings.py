"""netsim.readings: long-format files, hour labels, and the invalid-row policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from netsim.errors import ReadingsError
from netsim.network import Network
from netsim.readings import (
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
